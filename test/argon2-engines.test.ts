import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { after, describe, test } from 'node:test';
import { argon2id as nobleArgon2id } from '@noble/hashes/argon2.js';
import { benchArgon2 } from '../bench/argon2.js';
import {
  asEngine,
  callingThreadEngineByName,
  hashWasmEngine,
  loadArgon2Npm,
  loadKernelByName,
  loadOptional,
  loadOursKernel,
  loadSodiumNative,
  resolveEngineChoice,
} from '../kernels/argon2/engines.js';
import { Argon2idError } from '../kernels/argon2/params.js';
import { Argon2idPool } from '../kernels/argon2/pool.js';
import type { Argon2idEngine, Argon2idRequest, Argon2idSyncKernel } from '../kernels/types.js';
import { argon2Differential, referenceArgon2id } from './helpers/argon2-differential.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

/** RFC 9106 §5.3 (Argon2id, version 0x13). */
const RFC9106: Argon2idRequest = {
  password: fill(32, 0x01),
  salt: fill(16, 0x02),
  secret: fill(8, 0x03),
  ad: fill(12, 0x04),
  params: { mKiB: 32, t: 3, p: 4, outLen: 32 },
};
const RFC9106_TAG = '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659';

/** What libsodium and hash-wasm can also compute: p = 1, 16-byte salt, no secret or ad. */
const PLAIN: Argon2idRequest = {
  password: new TextEncoder().encode('pw'),
  salt: new TextEncoder().encode('saltsaltsaltsalt'),
  params: { mKiB: 256, t: 2, p: 1, outLen: 32 },
};

const sodium = loadSodiumNative();
const npm = loadArgon2Npm();
const ours = await loadOursKernel();

interface Named {
  readonly label: string;
  readonly kernel: Argon2idSyncKernel | Argon2idEngine;
}

const pools: Argon2idPool[] = [];
after(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

async function allEngines(): Promise<Named[]> {
  const list: Named[] = [
    { label: `ours (${ours.kernel.name})`, kernel: ours.kernel },
    { label: 'hash-wasm', kernel: hashWasmEngine() },
  ];
  if (sodium.ok) {
    list.push({ label: 'sodium-native sync', kernel: sodium.value.sync });
    list.push({ label: 'sodium-native async', kernel: sodium.value.engine });
  }
  if (npm.ok) list.push({ label: 'argon2 npm', kernel: npm.value });
  const pool = await Argon2idPool.start({ kernel: 'wasm-simd', workers: 2 });
  pools.push(pool);
  list.push({ label: `pool (${pool.name})`, kernel: pool });
  return list;
}

const hashWith = (k: Argon2idSyncKernel | Argon2idEngine, req: Argon2idRequest): Promise<Uint8Array> | Uint8Array =>
  'hashSync' in k ? k.hashSync(req) : k.hash(req);

describe('Argon2id engines', () => {
  test('the @noble reference reproduces RFC 9106 §5.3', () => {
    const { password, salt, secret, ad, params } = RFC9106;
    const tag = nobleArgon2id(password, salt, { m: params.mKiB, t: params.t, p: params.p, dkLen: 32, key: secret!, personalization: ad! });
    assert.equal(hex(tag), RFC9106_TAG);
  });

  test('RFC 9106 §5.3 vector on every engine that supports it; the others say they do not', async () => {
    const supported: string[] = [];
    for (const { label, kernel } of await allEngines()) {
      if (!kernel.supports(RFC9106)) {
        // hash-wasm has no associated data; libsodium has p = 1, no secret, no ad.
        assert.ok(/hash-wasm|sodium/.test(label), `${label} should support the RFC vector`);
        continue;
      }
      assert.equal(hex(await hashWith(kernel, RFC9106)), RFC9106_TAG, label);
      supported.push(label);
    }
    if (npm.ok) assert.ok(supported.includes('argon2 npm'));
    if (ours.kernel.name === 'wasm-simd') assert.ok(supported.some((l) => l.startsWith('ours')));
  });

  test('every engine agrees on a plain request that all of them support', async () => {
    const want = hex(await referenceArgon2id(PLAIN));
    for (const { label, kernel } of await allEngines()) {
      assert.ok(kernel.supports(PLAIN), label);
      assert.equal(hex(await hashWith(kernel, PLAIN)), want, label);
    }
  });

  test('hash-wasm agrees with @noble on random requests without ad', async () => {
    const noble: Argon2idSyncKernel = {
      name: 'hash-wasm',
      supports: (r) => r.ad === undefined,
      hashSync: (r) =>
        nobleArgon2id(r.password, r.salt, { m: r.params.mKiB, t: r.params.t, p: r.params.p, dkLen: r.params.outLen, ...(r.secret ? { key: r.secret } : {}) }),
    };
    await argon2Differential(noble, { cases: 12, maxMKiB: 64 });
  });

  test('differential vs reference: ours', async () => {
    const r = await argon2Differential(ours.kernel, { cases: 30 });
    assert.ok(r.compared >= 15);
  });

  test('differential vs reference: sodium-native (sync and async)', { skip: sodium.ok ? false : 'sodium-native not installed' }, async () => {
    if (!sodium.ok) return;
    const a = await argon2Differential(sodium.value.sync, { cases: 20 });
    const b = await argon2Differential(sodium.value.engine, { cases: 20 });
    assert.ok(a.compared === 20 && b.compared === 20, 'narrowed requests are always supported');
  });

  test('differential vs reference: argon2 npm', { skip: npm.ok ? false : 'argon2 not installed' }, async () => {
    if (!npm.ok) return;
    await argon2Differential(npm.value, { cases: 30 });
  });

  test('differential vs reference: worker pool (ours, and libsodium in workers)', async () => {
    const pool = await Argon2idPool.start({ kernel: 'wasm-simd', workers: 2 });
    try {
      await argon2Differential(pool, { cases: 20 });
    } finally {
      await pool.close();
    }
    if (!sodium.ok) return;
    const native = await Argon2idPool.start({ kernel: 'native-sodium', workers: 2 });
    try {
      assert.equal(native.name, 'native-sodium');
      await argon2Differential(native, { cases: 10 });
    } finally {
      await native.close();
    }
  });

  test('libsodium supports() matches its limits', () => {
    if (!sodium.ok) return;
    const k = sodium.value.sync;
    assert.equal(k.supports(PLAIN), true);
    assert.equal(k.supports({ ...PLAIN, params: { ...PLAIN.params, p: 2 } }), false);
    assert.equal(k.supports({ ...PLAIN, salt: fill(17, 1) }), false);
    assert.equal(k.supports({ ...PLAIN, secret: fill(8, 3) }), false);
    assert.equal(k.supports({ ...PLAIN, ad: fill(8, 4) }), false);
    assert.equal(k.supports({ ...PLAIN, params: { ...PLAIN.params, outLen: 8 } }), false);
    assert.throws(() => k.hashSync({ ...PLAIN, params: { ...PLAIN.params, p: 2 } }), (e: unknown) => e instanceof Argon2idError && e.code === 'UNSUPPORTED');
  });

  test('bad parameters are rejected with BAD_PARAMS, not hashed', async () => {
    const bad: Argon2idRequest = { ...PLAIN, params: { ...PLAIN.params, mKiB: 4 } };
    await assert.rejects(hashWasmEngine().hash(bad), (e: unknown) => e instanceof Argon2idError && e.code === 'BAD_PARAMS');
    if (npm.ok) await assert.rejects(npm.value.hash(bad), (e: unknown) => e instanceof Argon2idError && e.code === 'BAD_PARAMS');
  });

  test('a missing optional package is reported as not installed', () => {
    const r = loadOptional('ecd-no-such-package-for-tests');
    assert.deepEqual(r, { ok: false, reason: 'ecd-no-such-package-for-tests is not installed' });
  });

  test('closed engines reject further calls', async () => {
    const e = hashWasmEngine();
    await e.close();
    await assert.rejects(e.hash(PLAIN), (err: unknown) => err instanceof Argon2idError && err.code === 'CLOSED');
    const c = asEngine(await loadKernelByName('hash-wasm'));
    await c.close();
    await assert.rejects(c.hash(PLAIN), (err: unknown) => err instanceof Argon2idError && err.code === 'CLOSED');
  });

  test('engine choice: hash-wasm is hash-wasm; auto prefers libsodium; wasm is ours', async () => {
    assert.deepEqual(await resolveEngineChoice('hash-wasm', PLAIN), { name: 'hash-wasm', note: null });
    const auto = await resolveEngineChoice('auto', PLAIN);
    assert.equal(auto.name, sodium.ok ? 'native-sodium' : ours.kernel.name);
    // libsodium cannot do p = 4, so auto falls to ours.
    assert.equal((await resolveEngineChoice('auto', RFC9106)).name, ours.kernel.name);
    assert.equal((await resolveEngineChoice('wasm', PLAIN)).name, ours.kernel.name);
    if (sodium.ok) assert.equal((await resolveEngineChoice('native', PLAIN)).name, 'native-sodium');
    if (npm.ok) assert.equal((await resolveEngineChoice('native', RFC9106)).name, 'argon2-npm');
    const e = await callingThreadEngineByName('hash-wasm');
    assert.equal(hex(await e.hash(PLAIN)), hex(await referenceArgon2id(PLAIN)));
  });
});

describe('Argon2id worker pool', () => {
  test('defaults to one worker per core', async () => {
    const pool = await Argon2idPool.start({ kernel: 'hash-wasm' });
    try {
      assert.equal(pool.workers, availableParallelism());
      assert.equal(pool.name, 'hash-wasm');
    } finally {
      await pool.close();
    }
  });

  test('runs many jobs concurrently with correct results', async () => {
    const pool = await Argon2idPool.start({ kernel: 'wasm-simd', workers: 2, maxQueue: 64 });
    try {
      const reqs = Array.from({ length: 16 }, (_, i): Argon2idRequest => ({ ...PLAIN, password: fill(8, i), params: { ...PLAIN.params, mKiB: 64, t: 1 } }));
      const got = await Promise.all(reqs.map((r) => pool.hash(r)));
      const want = await Promise.all(reqs.map((r) => referenceArgon2id(r)));
      assert.deepEqual(got.map(hex), want.map(hex));
    } finally {
      await pool.close();
    }
  });

  test('a full queue rejects at once with QUEUE_FULL', async () => {
    const pool = await Argon2idPool.start({ kernel: 'hash-wasm', workers: 1, maxQueue: 2 });
    try {
      const slow: Argon2idRequest = { ...PLAIN, params: { mKiB: 4096, t: 2, p: 1, outLen: 32 } };
      const accepted = [pool.hash(slow), pool.hash(slow), pool.hash(slow)]; // 1 running + 2 queued
      assert.equal(pool.running, 1);
      assert.equal(pool.queued, 2);
      await assert.rejects(pool.hash(slow), (e: unknown) => e instanceof Argon2idError && e.code === 'QUEUE_FULL');
      const outs = await Promise.all(accepted);
      assert.equal(new Set(outs.map(hex)).size, 1);
      // Space again once the queue drains.
      assert.equal(hex(await pool.hash(slow)), hex(outs[0]!));
    } finally {
      await pool.close();
    }
  });

  test('close() rejects running and queued jobs with CLOSED, then every call', async () => {
    const pool = await Argon2idPool.start({ kernel: 'hash-wasm', workers: 1, maxQueue: 4 });
    const slow: Argon2idRequest = { ...PLAIN, params: { mKiB: 8192, t: 3, p: 1, outLen: 32 } };
    const jobs = [pool.hash(slow), pool.hash(slow), pool.hash(slow)].map((j) => j.then(() => null, (e: unknown) => e));
    await pool.close();
    for (const e of await Promise.all(jobs)) assert.ok(e instanceof Argon2idError && e.code === 'CLOSED', String(e));
    await assert.rejects(pool.hash(PLAIN), (e: unknown) => e instanceof Argon2idError && e.code === 'CLOSED');
    assert.equal(pool.workers, 0);
    await pool.close(); // idempotent
  });

  test('unsupported and malformed requests are rejected before queueing', async () => {
    const pool = await Argon2idPool.start({ kernel: 'hash-wasm', workers: 1 });
    try {
      await assert.rejects(pool.hash(RFC9106), (e: unknown) => e instanceof Argon2idError && e.code === 'UNSUPPORTED');
      await assert.rejects(pool.hash({ ...PLAIN, salt: fill(4, 0) }), (e: unknown) => e instanceof Argon2idError && e.code === 'BAD_PARAMS');
      assert.equal(pool.queued, 0);
    } finally {
      await pool.close();
    }
  });

  test('a kernel that cannot load fails start() and leaves no worker behind', async () => {
    if (sodium.ok) return; // only meaningful where sodium-native is missing
    await assert.rejects(Argon2idPool.start({ kernel: 'native-sodium', workers: 1 }), (e: unknown) => e instanceof Argon2idError && e.code === 'ENGINE_MISSING');
  });

  test('a closed pool leaves no active handles', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
    const pool = await Argon2idPool.start({ kernel: 'hash-wasm', workers: 2 });
    await pool.hash(PLAIN);
    assert.ok(process.getActiveResourcesInfo().length > before, 'workers show up as handles while open');
    await pool.close();
    // Let terminate() callbacks settle.
    await new Promise((r) => setImmediate(r));
    const now = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
    assert.ok(now <= before, `handles before ${before}, after close ${now}: ${process.getActiveResourcesInfo().join(',')}`);
  });
});

describe('benchArgon2', () => {
  test('checks agreement, then reports every field (small params)', async () => {
    const r = await benchArgon2({ hashes: 1, workers: 1, params: { mKiB: 256, t: 1, p: 1, outLen: 32 } });
    for (const k of ['ours_ms', 'hash_wasm_ms', 'ours_workers_rate', 'ours_one_worker_rate', 'workers_speedup'] as const) assert.ok(r[k] > 0, k);
    assert.equal(r.workers, 1);
    assert.equal(r.libsodium_ms === null, !sodium.ok);
    assert.equal(r.argon2_npm_ms === null, !npm.ok);
    assert.ok(r.ratios.ours_over_best_alternative > 0);
    assert.equal(r.check_tag.length, 64);
  });
});
