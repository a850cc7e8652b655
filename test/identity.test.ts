import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { hashWasmEngine } from '../kernels/argon2/engines.js';
import type { Argon2idEngine, Argon2idRequest } from '../kernels/types.js';
import { loadIdentityCrypto, nobleIdentityCrypto } from '../wire/identity-crypto.js';
import { identityFileText, parseIdentityFile, parseKeyFile, keyFileText } from '../wire/identity-file.js';
import {
  IDENTITY_FAILURE_CONSEQUENCE,
  IDENTITY_OFFSETS,
  IDENTITY_SIZES,
  IDENTITY_VERSION,
  addressFromWork,
  decodeIdentity,
  difficultyForEstimate,
  encodeIdentity,
  identitySalt,
  identitySigningMessage,
  identityWorkRequest,
  initialDifficultyState,
  minimumAcceptedDifficulty,
  signIdentity,
  trailingZeroBits,
  updateDifficulty,
  verifyIdentity,
  type IdentityFailureCode,
  type IdentityRecord,
  type UnsignedIdentity,
} from '../wire/identity.js';
import { PROFILES, deriveProfile, profileByNetworkId } from '../wire/profiles.js';

const crypto = nobleIdentityCrypto();
const devnet = PROFILES.devnet;
const argon2 = hashWasmEngine();
const modules = { ...crypto, argon2 };
const utf8 = new TextEncoder();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const T0 = 1_790_000_000; // a fixed "now" for the record times

const seed = new Uint8Array(32).map((_, i) => i + 1);
const publicKey = crypto.ed25519.signerFromSeed(seed).publicKey;

async function workOf(u: UnsignedIdentity): Promise<Uint8Array> {
  const salt = identitySalt(crypto.blake3, u.nonce, u.time, u.networkId);
  return argon2.hash(identityWorkRequest(devnet, u.publicKey, salt));
}

/** Deterministic devnet mining: counter nonces until `want(zeros)` holds. */
async function mineDevnet(difficulty: number, time: number, want: (zeros: number) => boolean = (z) => z >= difficulty): Promise<IdentityRecord> {
  for (let i = 0; ; i++) {
    const nonce = new Uint8Array(16);
    new DataView(nonce.buffer).setUint32(12, i);
    const u: UnsignedIdentity = { version: IDENTITY_VERSION, networkId: devnet.networkId, publicKey, nonce, time, difficulty };
    if (want(trailingZeroBits(await workOf(u)))) return signIdentity(crypto.ed25519, seed, u);
  }
}

const valid = await mineDevnet(6, T0);

function flip(bytes: Uint8Array, i: number, mask = 0x01): Uint8Array {
  const b = bytes.slice();
  b[i] = b[i]! ^ mask;
  return b;
}

/** Counts Argon2 calls, to show cheap failures never reach it. */
function countingEngine(inner: Argon2idEngine): Argon2idEngine & { calls: number } {
  const e = {
    name: inner.name,
    calls: 0,
    supports: (r: Argon2idRequest) => inner.supports(r),
    hash: (r: Argon2idRequest) => {
      e.calls++;
      return inner.hash(r);
    },
    close: () => inner.close(),
  };
  return e;
}

describe('identity record encoding', () => {
  test('offsets and sizes tile the 130-byte record', () => {
    const O = IDENTITY_OFFSETS;
    const S = IDENTITY_SIZES;
    assert.equal(O.networkId, O.version + S.version);
    assert.equal(O.publicKey, O.networkId + S.networkId);
    assert.equal(O.nonce, O.publicKey + S.publicKey);
    assert.equal(O.time, O.nonce + S.nonce);
    assert.equal(O.difficulty, O.time + S.time);
    assert.equal(O.signature, O.difficulty + S.difficulty);
    assert.equal(S.signedBody, O.signature);
    assert.equal(S.record, O.signature + S.signature);
  });

  test('known layout: fields land at their offsets, big-endian', () => {
    const bytes = encodeIdentity(valid);
    const view = new DataView(bytes.buffer);
    assert.equal(bytes[0], 1);
    assert.equal(view.getBigUint64(1), 3n);
    assert.equal(hex(bytes.subarray(9, 41)), hex(publicKey));
    assert.equal(hex(bytes.subarray(41, 57)), hex(valid.nonce));
    assert.equal(view.getBigUint64(57), BigInt(T0));
    assert.equal(bytes[65], 6);
    assert.equal(hex(bytes.subarray(66)), hex(valid.signature));
  });

  test('round trip: decode(encode(r)) = r for arbitrary fields', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        (networkId, pk, nonce, time, difficulty, signature) => {
          const r: IdentityRecord = { version: 1, networkId, publicKey: pk, nonce, time, difficulty, signature };
          const bytes = encodeIdentity(r);
          assert.equal(bytes.length, 130);
          const d = decodeIdentity(bytes);
          assert.ok(d.ok);
          assert.deepEqual(d.record, r);
          assert.deepEqual(encodeIdentity(d.record), bytes);
        },
      ),
    );
  });

  test('the decoder never throws and accepts only 130-byte version-1 records', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const d = decodeIdentity(bytes);
        if (d.ok) assert.ok(bytes.length === 130 && bytes[0] === 1);
        else assert.equal(typeof d.reason, 'string');
      }),
    );
    assert.equal(decodeIdentity(new Uint8Array(129)).ok, false);
    assert.equal(decodeIdentity(new Uint8Array(131)).ok, false);
    const v2 = encodeIdentity(valid);
    v2[0] = 2;
    assert.equal(decodeIdentity(v2).ok, false);
    const huge = encodeIdentity(valid);
    huge.fill(0xff, 57, 65);
    assert.equal(decodeIdentity(huge).ok, false);
  });

  test('the encoder refuses fields that do not fit', () => {
    assert.throws(() => encodeIdentity({ ...valid, nonce: new Uint8Array(15) }), RangeError);
    assert.throws(() => encodeIdentity({ ...valid, difficulty: 256 }), RangeError);
    assert.throws(() => encodeIdentity({ ...valid, networkId: 1n << 64n }), RangeError);
    assert.throws(() => encodeIdentity({ ...valid, time: -1 }), RangeError);
  });

  test('the signed message is the domain tag and the 66-byte body', () => {
    const m = identitySigningMessage(valid);
    assert.equal(new TextDecoder().decode(m.subarray(0, 14)), 'ec/identity/v1');
    assert.deepEqual(m.subarray(14), encodeIdentity(valid).subarray(0, 66));
  });
});

describe('identity derivations', () => {
  test('salt = BLAKE3("ec/id-salt/v1" ‖ nonce ‖ time_be64 ‖ network_id_be64)[0..16]', () => {
    const nonce = new Uint8Array(16).fill(7);
    const input = new Uint8Array([...utf8.encode('ec/id-salt/v1'), ...nonce, 0, 0, 0, 0, 0x6a, 0xb1, 0x3c, 0x80, 0, 0, 0, 0, 0, 0, 0, 3]);
    const want = nobleBlake3(input).subarray(0, 16);
    assert.equal(hex(identitySalt(crypto.blake3, nonce, 0x6ab13c80, 3n)), hex(want));
    // Time and network id both change the salt.
    assert.notEqual(hex(identitySalt(crypto.blake3, nonce, 0x6ab13c81, 3n)), hex(want));
    assert.notEqual(hex(identitySalt(crypto.blake3, nonce, 0x6ab13c80, 1n)), hex(want));
  });

  test('address = BLAKE3("ec/addr/v1" ‖ work)', () => {
    const work = new Uint8Array(32).fill(9);
    assert.equal(hex(addressFromWork(crypto.blake3, work)), hex(nobleBlake3(new Uint8Array([...utf8.encode('ec/addr/v1'), ...work]))));
  });

  test('trailing zero bits read the work big-endian', () => {
    const w = new Uint8Array(32);
    assert.equal(trailingZeroBits(w), 256);
    w[31] = 1;
    assert.equal(trailingZeroBits(w), 0);
    w[31] = 0x80;
    assert.equal(trailingZeroBits(w), 7);
    w[31] = 0;
    w[30] = 0x10;
    assert.equal(trailingZeroBits(w), 12);
    w[0] = 0xff; // high bits do not matter
    assert.equal(trailingZeroBits(w), 12);
  });

  test('the work request is Argon2id(pk, s16, profile m/t/p, 32 bytes)', () => {
    const salt = new Uint8Array(16);
    const r = identityWorkRequest(PROFILES.mainnet, publicKey, salt);
    assert.deepEqual(r.params, { mKiB: 65536, t: 10, p: 1, outLen: 32 });
    assert.equal(r.password, publicKey);
    assert.equal(r.secret, undefined);
    assert.equal(r.ad, undefined);
  });
});

describe('identity verification', () => {
  const opts = { profile: devnet, now: T0 };

  test('a mined identity verifies, from bytes and from a record, with the right address', async () => {
    const work = await workOf(valid);
    const want = hex(addressFromWork(crypto.blake3, work));
    for (const input of [valid, encodeIdentity(valid)]) {
      const r = await verifyIdentity(modules, input, opts);
      assert.ok(r.ok, r.ok ? '' : r.reason);
      assert.equal(hex(r.address), want);
    }
  });

  test('the project crypto kernels (loadIdentityCrypto) agree with the @noble reference', async () => {
    const kernels = await loadIdentityCrypto();
    const a = await verifyIdentity({ ...kernels, argon2 }, valid, opts);
    const b = await verifyIdentity(modules, valid, opts);
    assert.ok(a.ok && b.ok);
    assert.equal(hex(a.address), hex(b.address));
    const resigned = signIdentity(kernels.ed25519, seed, valid);
    assert.equal(hex(resigned.signature), hex(valid.signature), 'Ed25519 signatures are deterministic');
    const bad = await verifyIdentity({ ...kernels, argon2 }, { ...valid, nonce: flip(valid.nonce, 0) }, opts);
    assert.ok(!bad.ok && bad.code === 'BAD_SIGNATURE');
  });

  test('MALFORMED', async () => {
    for (const bad of [new Uint8Array(0), encodeIdentity(valid).subarray(1), flip(encodeIdentity(valid), 0, 0x03)]) {
      const r = await verifyIdentity(modules, bad, opts);
      assert.ok(!r.ok && r.code === 'MALFORMED' && r.reason.startsWith('malformed'), JSON.stringify(r));
    }
    const r = await verifyIdentity(modules, { ...valid, publicKey: new Uint8Array(31) }, opts);
    assert.ok(!r.ok && r.code === 'MALFORMED');
  });

  test('TOO_OLD and FROM_FUTURE at the exact limits', async () => {
    const year = devnet.identityMaxAgeS;
    const day = devnet.identityMaxFutureS;
    assert.equal(year, 365 * 86400);
    assert.equal(day, 86400);
    assert.ok((await verifyIdentity(modules, valid, { profile: devnet, now: T0 + year })).ok);
    const old = await verifyIdentity(modules, valid, { profile: devnet, now: T0 + year + 1 });
    assert.ok(!old.ok && old.code === 'TOO_OLD' && old.reason.startsWith('too old'), JSON.stringify(old));
    assert.ok((await verifyIdentity(modules, valid, { profile: devnet, now: T0 - day })).ok);
    const fut = await verifyIdentity(modules, valid, { profile: devnet, now: T0 - day - 1 });
    assert.ok(!fut.ok && fut.code === 'FROM_FUTURE' && fut.reason.startsWith('from the future'), JSON.stringify(fut));
  });

  test('WRONG_NETWORK under another profile', async () => {
    for (const profile of [PROFILES.mainnet, PROFILES.testnet, deriveProfile(devnet, { name: 'devnet-7', networkId: 7n })]) {
      const r = await verifyIdentity(modules, valid, { profile, now: T0 });
      assert.ok(!r.ok && r.code === 'WRONG_NETWORK' && r.reason.startsWith('wrong network'), JSON.stringify(r));
    }
  });

  test('INSUFFICIENT_DIFFICULTY when the claim is below the required difficulty', async () => {
    const r = await verifyIdentity(modules, valid, { ...opts, minDifficulty: 7 });
    assert.ok(!r.ok && r.code === 'INSUFFICIENT_DIFFICULTY' && r.reason.startsWith('insufficient difficulty'));
    const low = signIdentity(crypto.ed25519, seed, { ...valid, difficulty: 1 }); // below devnet d0 = 2
    const r2 = await verifyIdentity(modules, low, opts);
    assert.ok(!r2.ok && r2.code === 'INSUFFICIENT_DIFFICULTY');
  });

  test('BAD_SIGNATURE when the signature or a signed field changes', async () => {
    const other = crypto.ed25519.signerFromSeed(new Uint8Array(32).fill(9));
    const forged = { ...valid, signature: other.sign(identitySigningMessage(valid)) };
    const r = await verifyIdentity(modules, forged, opts);
    assert.ok(!r.ok && r.code === 'BAD_SIGNATURE' && r.reason.startsWith('bad signature'));
    const claimHigher = await verifyIdentity(modules, { ...valid, difficulty: 7 }, opts);
    assert.ok(!claimHigher.ok && claimHigher.code === 'BAD_SIGNATURE');
  });

  test('INSUFFICIENT_WORK when a correctly signed record has too few trailing zeros', async () => {
    const weak = await mineDevnet(6, T0, (z) => z < 6);
    const r = await verifyIdentity(modules, weak, opts);
    assert.ok(!r.ok && r.code === 'INSUFFICIENT_WORK' && r.reason.startsWith('insufficient work'), JSON.stringify(r));
  });

  test('ENGINE_ERROR (not the peer’s fault) when Argon2 fails', async () => {
    const closed = hashWasmEngine();
    await closed.close();
    const r = await verifyIdentity({ ...crypto, argon2: closed }, valid, opts);
    assert.ok(!r.ok && r.code === 'ENGINE_ERROR');
    assert.equal(IDENTITY_FAILURE_CONSEQUENCE.ENGINE_ERROR, 'IGNORE');
    assert.equal(IDENTITY_FAILURE_CONSEQUENCE.BAD_SIGNATURE, 'REJECT');
  });

  test('flipping any bit of any byte of nonce, key, time or signature is rejected with the right code', async () => {
    const bytes = encodeIdentity(valid);
    const O = IDENTITY_OFFSETS;
    const ranges: [number, number][] = [
      [O.publicKey, O.publicKey + 32],
      [O.nonce, O.nonce + 16],
      [O.time, O.time + 8],
      [O.signature, O.signature + 64],
    ];
    const counter = countingEngine(argon2);
    const seen = new Set<IdentityFailureCode>();
    for (const [from, to] of ranges) {
      for (let i = from; i < to; i++) {
        for (const mask of [0x01, 0x40, 0x80]) {
          const mutated = flip(bytes, i, mask);
          const time = Number(new DataView(mutated.buffer).getBigUint64(O.time));
          const expected: IdentityFailureCode =
            time > Number.MAX_SAFE_INTEGER ? 'MALFORMED' : T0 - time > devnet.identityMaxAgeS ? 'TOO_OLD' : time - T0 > devnet.identityMaxFutureS ? 'FROM_FUTURE' : 'BAD_SIGNATURE';
          const r = await verifyIdentity({ ...crypto, argon2: counter }, mutated, opts);
          assert.ok(!r.ok, `byte ${i} mask ${mask} accepted`);
          assert.equal(r.code, expected, `byte ${i} mask ${mask}: ${r.reason}`);
          seen.add(r.code);
        }
      }
    }
    assert.deepEqual([...seen].sort(), ['BAD_SIGNATURE', 'FROM_FUTURE', 'MALFORMED', 'TOO_OLD']);
    assert.equal(counter.calls, 0, 'no mutated record reaches Argon2');
  });

  test('checks run cheap-first: time before network before difficulty before signature before work', async () => {
    const counter = countingEngine(argon2);
    const m = { ...crypto, argon2: counter };
    const everythingWrong = { ...valid, signature: new Uint8Array(64), difficulty: 0 };
    const late = { profile: PROFILES.mainnet, now: T0 + 400 * 86400 };
    assert.equal(((await verifyIdentity(m, everythingWrong, late)) as { code: string }).code, 'TOO_OLD');
    assert.equal(((await verifyIdentity(m, everythingWrong, { profile: PROFILES.mainnet, now: T0 })) as { code: string }).code, 'WRONG_NETWORK');
    assert.equal(((await verifyIdentity(m, everythingWrong, opts)) as { code: string }).code, 'INSUFFICIENT_DIFFICULTY');
    assert.equal(((await verifyIdentity(m, { ...everythingWrong, difficulty: 6 }, opts)) as { code: string }).code, 'BAD_SIGNATURE');
    assert.equal(counter.calls, 0);
    assert.ok((await verifyIdentity(m, valid, opts)).ok);
    assert.equal(counter.calls, 1);
  });
});

describe('difficulty schedule', () => {
  const mainnet = PROFILES.mainnet;

  test('d = d0 + floor(log10(N_est / N0)), never below d0', () => {
    const cases: [number, number][] = [
      [0, 17], [-5, 17], [Number.NaN, 17], [Number.POSITIVE_INFINITY, 17], [1, 17], [999, 17], [1000, 17],
      [9999, 17], [10_000, 18], [99_999, 18], [100_000, 19], [1e6, 20], [1e6 - 1, 19], [1e9, 23],
    ];
    for (const [n, d] of cases) assert.equal(difficultyForEstimate(mainnet, n), d, `N_est = ${n}`);
    assert.equal(difficultyForEstimate(mainnet, 1e300), 255);
    assert.equal(difficultyForEstimate(devnet, 10_000), 3);
  });

  test('grace: d − 1 is accepted for 30 days after a rise, never below d0', () => {
    const day = 86400;
    let s = initialDifficultyState(mainnet);
    assert.equal(minimumAcceptedDifficulty(s, mainnet, 0), 17);
    s = updateDifficulty(s, mainnet, 5000, 100);
    assert.equal(s.required, 17);
    assert.equal(s.raisedAt, null);
    s = updateDifficulty(s, mainnet, 20_000, 1000); // 17 → 18
    assert.deepEqual(s, { required: 18, raisedAt: 1000 });
    assert.equal(minimumAcceptedDifficulty(s, mainnet, 1000), 17);
    assert.equal(minimumAcceptedDifficulty(s, mainnet, 1000 + 30 * day - 1), 17);
    assert.equal(minimumAcceptedDifficulty(s, mainnet, 1000 + 30 * day), 18);
    // The same estimate again does not restart the grace period.
    assert.equal(updateDifficulty(s, mainnet, 20_000, 5000), s);
    // A second rise restarts it one step higher.
    s = updateDifficulty(s, mainnet, 200_000, 2000);
    assert.deepEqual(s, { required: 19, raisedAt: 2000 });
    assert.equal(minimumAcceptedDifficulty(s, mainnet, 2001), 18);
    // A fall takes effect at once and ends the grace period.
    s = updateDifficulty(s, mainnet, 2000, 3000);
    assert.deepEqual(s, { required: 17, raisedAt: null });
    assert.equal(minimumAcceptedDifficulty(s, mainnet, 3001), 17);
  });
});

describe('profiles', () => {
  test('§12 values', () => {
    assert.deepEqual(PROFILES.mainnet.argon2, { mKiB: 65536, t: 10, p: 1 });
    assert.deepEqual(PROFILES.testnet.argon2, { mKiB: 1024, t: 1, p: 1 });
    assert.deepEqual(PROFILES.devnet.argon2, { mKiB: 64, t: 1, p: 1 });
    assert.deepEqual([PROFILES.mainnet.d0, PROFILES.testnet.d0, PROFILES.devnet.d0], [17, 8, 2]);
    assert.deepEqual([PROFILES.mainnet.networkId, PROFILES.testnet.networkId, PROFILES.devnet.networkId], [1n, 2n, 3n]);
    for (const p of Object.values(PROFILES)) {
      assert.equal(p.n0, 1000);
      assert.equal(p.difficultyGraceS, 30 * 86400);
      assert.equal(p.tickMs, 50);
      assert.equal(p.maxDatagram, 1452);
      assert.equal(p.clockWindowMs, 30_000);
      assert.equal(profileByNetworkId(p.networkId), p);
    }
  });
});

describe('identity file (JSON)', () => {
  test('round trip with and without the secret', () => {
    const address = new Uint8Array(32).fill(5);
    const withSecret = parseIdentityFile(identityFileText(valid, { profile: 'devnet', address, secretSeed: seed }));
    assert.ok(withSecret.ok);
    assert.deepEqual(withSecret.value.record, valid);
    assert.deepEqual(withSecret.value.secretSeed, seed);
    assert.equal(withSecret.value.profile, 'devnet');
    const pub = parseIdentityFile(identityFileText(valid, { profile: 'devnet' }));
    assert.ok(pub.ok);
    assert.equal(pub.value.secretSeed, null);
    assert.ok(!identityFileText(valid, { profile: 'devnet' }).includes('secret'));
  });

  test('big network ids survive as decimal strings', () => {
    const r = { ...valid, networkId: (1n << 64n) - 1n };
    const p = parseIdentityFile(identityFileText(r, { profile: 'x' }));
    assert.ok(p.ok);
    assert.equal(p.value.record.networkId, (1n << 64n) - 1n);
  });

  test('malformed files are reasons, never exceptions', () => {
    const good = JSON.parse(identityFileText(valid, { profile: 'devnet' })) as Record<string, unknown>;
    const bad: unknown[] = [
      'not json',
      '[]',
      JSON.stringify({ ...good, type: 'other' }),
      JSON.stringify({ ...good, nonce: 'zz' }),
      JSON.stringify({ ...good, public_key: hex(publicKey).slice(2) }),
      JSON.stringify({ ...good, time: -1 }),
      JSON.stringify({ ...good, time: '1' }),
      JSON.stringify({ ...good, difficulty: 300 }),
      JSON.stringify({ ...good, network_id: -1 }),
      JSON.stringify({ ...good, signature: undefined }),
      'x'.repeat(70_000),
    ];
    for (const text of bad) {
      const r = parseIdentityFile(text as string);
      assert.ok(!r.ok, String(text).slice(0, 60));
    }
    fc.assert(fc.property(fc.string(), (s) => void parseIdentityFile(s)));
  });

  test('key files', () => {
    const k = parseKeyFile(keyFileText({ publicKey, secretSeed: seed }));
    assert.ok(k.ok);
    assert.deepEqual(k.value.secretSeed, seed);
    assert.ok(!parseKeyFile(JSON.stringify({ type: 'ecd-ed25519-key', public_key: hex(publicKey) })).ok);
  });
});
