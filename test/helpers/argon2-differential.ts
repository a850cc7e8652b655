/**
 * Differential test for any Argon2id kernel or engine: random small requests (m 8..256 KiB, t 1..3,
 * p 1..4, random password/salt/secret/ad/tag lengths) compared against a reference — hash-wasm, or
 * @noble/hashes when the request has associated data or an empty password (hash-wasm refuses both). Requests the
 * kernel does not support are narrowed once to what every engine supports (p = 1, 16-byte salt,
 * no secret/ad), so restricted engines like libsodium are still exercised.
 *
 * Usage (e.g. in the WASM kernel's own tests):
 *   await argon2Differential(await loadWasmArgon2id(), { cases: 50 });
 * A failure names the seed; pass { seed } (or ARGON2_DIFF_SEED=…) to replay it exactly.
 */
import assert from 'node:assert/strict';
import { argon2id as nobleArgon2id } from '@noble/hashes/argon2.js';
import { argon2id as hashWasmArgon2id } from 'hash-wasm';
import type { Argon2idEngine, Argon2idRequest, Argon2idSyncKernel } from '../../kernels/types.js';

export interface Argon2DifferentialOptions {
  /** Random requests to try. Default 40. */
  readonly cases?: number;
  /** PRNG seed. Default $ARGON2_DIFF_SEED, else random (printed in any failure). */
  readonly seed?: number;
  /** Largest memory to draw, in KiB. Default 256. */
  readonly maxMKiB?: number;
}

export interface Argon2DifferentialReport {
  readonly seed: number;
  /** Requests compared (including narrowed ones). */
  readonly compared: number;
  /** Requests neither the original nor the narrowed form of which the kernel supports. */
  readonly skipped: number;
}

/** mulberry32: small, fast, and good enough to pick test inputs. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomInt(rnd: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rnd() * (hi - lo + 1));
}

function randomBytesFrom(rnd: () => number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

/** A random request within RFC 9106 (m ≥ 8p). */
export function randomArgon2Request(rnd: () => number, maxMKiB = 256): Argon2idRequest {
  const p = randomInt(rnd, 1, 4);
  const mKiB = randomInt(rnd, Math.max(8, 8 * p), Math.max(8 * p, maxMKiB));
  const t = randomInt(rnd, 1, 3);
  const outLen = rnd() < 0.2 ? randomInt(rnd, 65, 160) : randomInt(rnd, 4, 64); // > 64 exercises H′'s chaining
  const req: Argon2idRequest = {
    password: randomBytesFrom(rnd, randomInt(rnd, 0, 64)),
    salt: randomBytesFrom(rnd, randomInt(rnd, 8, 32)),
    params: { mKiB, t, p, outLen },
    ...(rnd() < 0.5 ? { secret: randomBytesFrom(rnd, randomInt(rnd, 1, 16)) } : {}),
    ...(rnd() < 0.3 ? { ad: randomBytesFrom(rnd, randomInt(rnd, 1, 16)) } : {}),
  };
  return req;
}

/** The same request narrowed to what libsodium also computes. */
export function narrowArgon2Request(rnd: () => number, req: Argon2idRequest): Argon2idRequest {
  return {
    password: req.password,
    salt: randomBytesFrom(rnd, 16),
    params: { mKiB: Math.max(8, req.params.mKiB), t: req.params.t, p: 1, outLen: Math.max(16, req.params.outLen) },
  };
}

/** The reference tag: hash-wasm, or @noble/hashes for associated data or an empty password. */
export async function referenceArgon2id(req: Argon2idRequest): Promise<Uint8Array> {
  const { mKiB, t, p, outLen } = req.params;
  if ((req.ad !== undefined && req.ad.length > 0) || req.password.length === 0) {
    return nobleArgon2id(req.password, req.salt, {
      m: mKiB,
      t,
      p,
      dkLen: outLen,
      ...(req.secret === undefined ? {} : { key: req.secret }),
      ...(req.ad === undefined ? {} : { personalization: req.ad }),
    });
  }
  return hashWasmArgon2id({
    password: req.password,
    salt: req.salt,
    ...(req.secret === undefined || req.secret.length === 0 ? {} : { secret: req.secret }),
    iterations: t,
    parallelism: p,
    memorySize: mKiB,
    hashLength: outLen,
    outputType: 'binary',
  });
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function describe(req: Argon2idRequest): string {
  const { mKiB, t, p, outLen } = req.params;
  return (
    `m=${mKiB} t=${t} p=${p} out=${outLen} pw=${req.password.length}B salt=${req.salt.length}B` +
    ` secret=${req.secret?.length ?? '-'} ad=${req.ad?.length ?? '-'}`
  );
}

export async function argon2Differential(
  kernel: Argon2idSyncKernel | Argon2idEngine,
  options: Argon2DifferentialOptions = {},
): Promise<Argon2DifferentialReport> {
  const envSeed = process.env['ARGON2_DIFF_SEED'];
  const seed = options.seed ?? (envSeed !== undefined ? Number(envSeed) : Math.floor(Math.random() * 2 ** 32));
  const cases = options.cases ?? 40;
  const rnd = seededRandom(seed);
  let compared = 0;
  let skipped = 0;
  for (let i = 0; i < cases; i++) {
    let req = randomArgon2Request(rnd, options.maxMKiB ?? 256);
    if (!kernel.supports(req)) req = narrowArgon2Request(rnd, req);
    if (!kernel.supports(req)) {
      skipped++;
      continue;
    }
    const want = await referenceArgon2id(req);
    const got = 'hashSync' in kernel ? kernel.hashSync(req) : await kernel.hash(req);
    assert.equal(
      hex(got),
      hex(want),
      `${kernel.name} differs from the reference on case ${i} (${describe(req)}); replay with seed ${seed}`,
    );
    compared++;
  }
  assert.ok(compared >= Math.ceil(cases / 2), `${kernel.name} supported only ${compared} of ${cases} cases (seed ${seed})`);
  return { seed, compared, skipped };
}
