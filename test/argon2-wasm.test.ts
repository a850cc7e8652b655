import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { argon2id as hashWasmArgon2id } from 'hash-wasm';
import { argon2id as nobleArgon2id } from '@noble/hashes/argon2.js';
import { loadWasmArgon2id, hPrime } from '../kernels/argon2/wasm.js';
import { Argon2idError } from '../kernels/argon2/params.js';
import type { Argon2idRequest } from '../kernels/types.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// RFC 9106 §5.3
const RFC: Argon2idRequest = {
  password: new Uint8Array(32).fill(0x01),
  salt: new Uint8Array(16).fill(0x02),
  secret: new Uint8Array(8).fill(0x03),
  ad: new Uint8Array(12).fill(0x04),
  params: { mKiB: 32, t: 3, p: 4, outLen: 32 },
};
const RFC_TAG = '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659';

async function oracle(req: Argon2idRequest): Promise<string> {
  return hashWasmArgon2id({
    password: req.password,
    salt: req.salt,
    ...(req.secret ? { secret: req.secret } : {}),
    iterations: req.params.t,
    parallelism: req.params.p,
    memorySize: req.params.mKiB,
    hashLength: req.params.outLen,
    outputType: 'hex',
  });
}

test('wasm-simd Argon2id matches the RFC 9106 §5.3 vector', async () => {
  const k = await loadWasmArgon2id();
  assert.equal(hex(k.hashSync(RFC)), RFC_TAG);
});

test('wasm-simd Argon2id: every input of the RFC vector changes the tag when corrupted', async () => {
  const k = await loadWasmArgon2id();
  const flip = (b: Uint8Array, i: number): Uint8Array => {
    const c = b.slice();
    c[i % c.length]! ^= 0x01;
    return c;
  };
  const variants: Argon2idRequest[] = [
    { ...RFC, password: flip(RFC.password, 7) },
    { ...RFC, salt: flip(RFC.salt, 3) },
    { ...RFC, secret: flip(RFC.secret!, 0) },
    { ...RFC, ad: flip(RFC.ad!, 11) },
    { ...RFC, params: { ...RFC.params, t: 4 } },
    { ...RFC, params: { ...RFC.params, mKiB: 33 } },
    { ...RFC, params: { ...RFC.params, p: 2 } },
    { ...RFC, params: { ...RFC.params, outLen: 33 } },
  ];
  for (const v of variants) assert.notEqual(hex(k.hashSync(v)).slice(0, 64), RFC_TAG);
});

test('wasm-simd Argon2id agrees with hash-wasm on random passwords, salts and parameters', async () => {
  const k = await loadWasmArgon2id();
  await fc.assert(
    fc.asyncProperty(
      // hash-wasm refuses empty passwords; the noble test below covers them
      fc.uint8Array({ minLength: 1, maxLength: 80 }),
      fc.uint8Array({ minLength: 8, maxLength: 40 }),
      fc.option(fc.uint8Array({ minLength: 1, maxLength: 40 }), { nil: undefined }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: 4, max: 200 }),
      async (password, salt, secret, p, t, extraKiB, outLen) => {
        const req: Argon2idRequest = {
          password,
          salt,
          ...(secret ? { secret } : {}),
          params: { mKiB: 8 * p + extraKiB, t, p, outLen },
        };
        assert.equal(hex(k.hashSync(req)), await oracle(req));
      },
    ),
    { numRuns: 60, seed: 0x5eed },
  );
});

test('wasm-simd Argon2id agrees with @noble/hashes on empty passwords and associated data', async () => {
  // hash-wasm takes neither, so noble (slow, pure JS) is the oracle here, on small memory
  const k = await loadWasmArgon2id();
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 40 }),
      fc.uint8Array({ minLength: 8, maxLength: 24 }),
      fc.uint8Array({ minLength: 0, maxLength: 24 }),
      fc.uint8Array({ minLength: 0, maxLength: 24 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 2 }),
      (password, salt, secret, ad, p, t) => {
        const params = { mKiB: 8 * p + 8, t, p, outLen: 32 };
        const req: Argon2idRequest = { password, salt, secret, ad, params };
        const want = nobleArgon2id(password, salt, { t, m: params.mKiB, p, dkLen: 32, key: secret, personalization: ad });
        assert.equal(hex(k.hashSync(req)), hex(want));
      },
    ),
    { numRuns: 25, seed: 0xad },
  );
});

test('wasm-simd Argon2id: one instance hashes a large then a small request correctly (memory reuse)', async () => {
  const k = await loadWasmArgon2id();
  const big: Argon2idRequest = { password: new Uint8Array([1]), salt: new Uint8Array(16), params: { mKiB: 4096, t: 1, p: 1, outLen: 32 } };
  const small: Argon2idRequest = { ...big, params: { mKiB: 64, t: 2, p: 1, outLen: 32 } };
  assert.equal(hex(k.hashSync(big)), await oracle(big));
  assert.equal(hex(k.hashSync(small)), await oracle(small));
  assert.equal(hex(k.hashSync(big)), await oracle(big));
});

test('H\' produces the requested length and differs per length', () => {
  const x = new Uint8Array([1, 2, 3]);
  for (const n of [4, 32, 64, 65, 96, 1024]) assert.equal(hPrime(x, n).length, n);
  assert.notEqual(hex(hPrime(x, 64)), hex(hPrime(x, 65).subarray(0, 64)));
});

test('wasm-simd Argon2id rejects bad parameters with a typed error and hashes nothing', async () => {
  const k = await loadWasmArgon2id();
  const base: Argon2idRequest = { password: new Uint8Array(4), salt: new Uint8Array(16), params: { mKiB: 64, t: 1, p: 1, outLen: 32 } };
  const bad: Argon2idRequest[] = [
    { ...base, salt: new Uint8Array(7) },
    { ...base, params: { ...base.params, mKiB: 7 } },
    { ...base, params: { ...base.params, p: 2, mKiB: 15 } },
    { ...base, params: { ...base.params, t: 0 } },
    { ...base, params: { ...base.params, p: 0 } },
    { ...base, params: { ...base.params, outLen: 3 } },
    { ...base, params: { ...base.params, mKiB: 1.5 } },
    { ...base, params: { ...base.params, mKiB: 8 * 1024 * 1024 } },
  ];
  for (const req of bad) {
    assert.equal(k.supports(req), false);
    assert.throws(() => k.hashSync(req), (e: unknown) => e instanceof Argon2idError && e.code === 'BAD_PARAMS');
  }
});
