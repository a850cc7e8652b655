/**
 * Differential tests: on random inputs every crypto implementation must agree byte for byte
 * with the @noble reference (and with each other on rejections). fast-check drives the inputs
 * with a fixed seed, and prints the seed and the shrunk counterexample on failure, so a failure
 * replays exactly. Set ECD_FC_SEED to explore other seeds.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { aeadImplementations, ietfAeadImplementations, nobleIetfAead, nobleXAead } from '../kernels/aead.js';
import { ed25519Implementations, nobleEd25519 } from '../kernels/ed25519.js';
import { nobleX25519, x25519Implementations } from '../kernels/x25519.js';
import { blake3Implementations, nobleBlake3 } from '../kernels/blake3.js';
import { loadCrypto } from '../kernels/crypto.js';

const SEED = Number(process.env['ECD_FC_SEED'] ?? 0x0ecd5eed);
const params = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns });

const toHex = (b: Uint8Array | null): string | null =>
  b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });

function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const c = Uint8Array.from(b);
  const i = (bit >>> 3) % c.length;
  c[i] = c[i]! ^ (1 << (bit & 7));
  return c;
}

describe('XChaCha20-Poly1305 differential', () => {
  const impls = aeadImplementations();

  test(`implementations under test: ${impls.map((a) => a.name).join(', ')}`, () => {
    assert.ok(impls.some((a) => a.name === 'node:crypto'));
  });

  test('seal agrees with noble; everyone opens everyone; a flipped bit is rejected by all', () => {
    fc.assert(
      fc.property(
        bytes(32),
        bytes(24),
        fc.uint8Array({ maxLength: 1400 }),
        fc.uint8Array({ maxLength: 96 }),
        fc.nat(),
        (key, nonce, pt, ad, bit) => {
          const ref = nobleXAead.seal(key, nonce, pt, ad);
          for (const a of impls) {
            const sealed = a.seal(key, nonce, pt, ad);
            assert.equal(toHex(sealed), toHex(ref), `${a.name} seal`);
            for (const b of impls) assert.equal(toHex(b.open(key, nonce, sealed, ad)), toHex(pt), `${b.name} opens ${a.name}`);
            assert.equal(a.open(key, nonce, flipBit(ref, bit % (ref.length * 8)), ad), null, `${a.name} tampered`);
          }
        },
      ),
      params(150),
    );
  });

  test('random sealed inputs of any length: all implementations return null, none throws', () => {
    fc.assert(
      fc.property(bytes(32), bytes(24), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 16 }), (key, nonce, junk, ad) => {
        for (const a of impls) assert.equal(a.open(key, nonce, junk, ad), null, a.name);
      }),
      params(200),
    );
  });
});

describe('IETF ChaCha20-Poly1305 differential', () => {
  test('all implementations agree with noble', () => {
    const impls = ietfAeadImplementations();
    fc.assert(
      fc.property(bytes(32), bytes(12), fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 64 }), (key, nonce, pt, ad) => {
        const ref = nobleIetfAead.seal(key, nonce, pt, ad);
        for (const a of impls) {
          assert.equal(toHex(a.seal(key, nonce, pt, ad)), toHex(ref), a.name);
          assert.equal(toHex(a.open(key, nonce, ref, ad)), toHex(pt), a.name);
        }
      }),
      params(100),
    );
  });
});

describe('Ed25519 differential', () => {
  const impls = ed25519Implementations();

  test('keys and signatures identical to noble; every implementation verifies every other', () => {
    fc.assert(
      fc.property(bytes(32), fc.uint8Array({ maxLength: 300 }), fc.nat(), (seed, msg, bit) => {
        const refSigner = nobleEd25519.signerFromSeed(seed);
        const refSig = refSigner.sign(msg);
        const tampered = flipBit(refSig, bit % 512);
        for (const ed of impls) {
          const s = ed.signerFromSeed(seed);
          assert.equal(toHex(s.publicKey), toHex(refSigner.publicKey), `${ed.name} public key`);
          assert.equal(toHex(s.sign(msg)), toHex(refSig), `${ed.name} signature`);
          assert.equal(ed.verify(refSig, msg, refSigner.publicKey), true, `${ed.name} verify`);
          assert.equal(ed.verify(tampered, msg, refSigner.publicKey), false, `${ed.name} tampered signature`);
        }
      }),
      params(40),
    );
  });

  test('random signatures and public keys: all implementations give the same answer (false)', () => {
    fc.assert(
      fc.property(bytes(64), bytes(32), fc.uint8Array({ maxLength: 64 }), (sig, pk, msg) => {
        const answers = impls.map((ed) => ed.verify(sig, msg, pk));
        assert.deepEqual(answers, impls.map(() => false));
      }),
      params(40),
    );
  });

  test('publicKeyToX25519 and seedToX25519 agree; converted keys agree on X25519', () => {
    fc.assert(
      fc.property(bytes(32), bytes(32), (seedA, seedB) => {
        const pkA = nobleEd25519.signerFromSeed(seedA).publicKey;
        const pkB = nobleEd25519.signerFromSeed(seedB).publicKey;
        const refX = toHex(nobleEd25519.publicKeyToX25519(pkA));
        const refS = toHex(nobleEd25519.seedToX25519(seedA));
        for (const ed of impls) {
          assert.equal(toHex(ed.publicKeyToX25519(pkA)), refX, `${ed.name} publicKeyToX25519`);
          assert.equal(toHex(ed.seedToX25519(seedA)), refS, `${ed.name} seedToX25519`);
        }
        // Both sides of a pair derive the same X25519 secret from the Ed25519 keys.
        const ab = nobleX25519.sharedSecret(nobleEd25519.seedToX25519(seedA), nobleEd25519.publicKeyToX25519(pkB)!);
        const ba = nobleX25519.sharedSecret(nobleEd25519.seedToX25519(seedB), nobleEd25519.publicKeyToX25519(pkA)!);
        assert.equal(toHex(ab), toHex(ba));
      }),
      params(25),
    );
  });

  test('publicKeyToX25519 on random 32-byte strings: same result (mostly null) everywhere', () => {
    fc.assert(
      fc.property(bytes(32), (pk) => {
        const answers = impls.map((ed) => toHex(ed.publicKeyToX25519(pk)));
        for (const a of answers) assert.equal(a, answers[0]);
      }),
      params(40),
    );
  });
});

describe('X25519 differential', () => {
  const impls = x25519Implementations();

  test('public keys and shared secrets identical to noble and symmetric', () => {
    fc.assert(
      fc.property(bytes(32), bytes(32), (a, b) => {
        const pubA = nobleX25519.publicKey(a);
        const pubB = nobleX25519.publicKey(b);
        const ref = toHex(nobleX25519.sharedSecret(a, pubB));
        assert.equal(toHex(nobleX25519.sharedSecret(b, pubA)), ref);
        for (const x of impls) {
          assert.equal(toHex(x.publicKey(a)), toHex(pubA), `${x.name} public key`);
          assert.equal(toHex(x.sharedSecret(a, pubB)), ref, `${x.name} shared`);
          assert.equal(toHex(x.sharedSecret(b, pubA)), ref, `${x.name} shared, other side`);
        }
      }),
      params(40),
    );
  });

  test('arbitrary 32-byte public keys (including twist points): all agree', () => {
    fc.assert(
      fc.property(bytes(32), bytes(32), (secret, pub) => {
        const ref = toHex(nobleX25519.sharedSecret(secret, pub));
        for (const x of impls) assert.equal(toHex(x.sharedSecret(secret, pub)), ref, x.name);
      }),
      params(60),
    );
  });
});

const b3Key = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
const b3Impls = await blake3Implementations({ outLens: [32, 64], keys: [b3Key] });

describe('BLAKE3 differential', () => {
  const key = b3Key;
  const impls = b3Impls;

  test(`implementations under test: ${impls.map((b) => b.name).join(', ')}`, () => {
    assert.ok(impls.length >= 2);
  });

  test('hash / keyed / derive agree with noble for random data and lengths', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 5000 }),
        fc.integer({ min: 1, max: 300 }),
        fc.oneof(fc.constant(key), bytes(32)),
        fc.string({ maxLength: 40 }),
        (data, outLen, k, context) => {
          const h = toHex(nobleBlake3.hash(data, outLen));
          const h32 = toHex(nobleBlake3.hash(data));
          const kh = toHex(nobleBlake3.keyedHash(k, data, outLen));
          const dk = toHex(nobleBlake3.deriveKey(context, data, outLen));
          for (const b of impls) {
            assert.equal(toHex(b.hash(data, outLen)), h, `${b.name} hash(${outLen})`);
            assert.equal(toHex(b.hash(data)), h32, `${b.name} hash()`);
            assert.equal(toHex(b.keyedHash(k, data, outLen)), kh, `${b.name} keyedHash(${outLen})`);
            assert.equal(toHex(b.deriveKey(context, data, outLen)), dk, `${b.name} deriveKey(${outLen})`);
          }
        },
      ),
      params(150),
    );
  });

  test('a key at any byte offset of a larger buffer gives the same keyed hash', () => {
    const data = Uint8Array.from({ length: 200 }, (_, i) => i & 0xff);
    const want = toHex(nobleBlake3.keyedHash(key, data));
    for (let off = 0; off < 8; off++) {
      const buf = new Uint8Array(40);
      buf.set(key, off);
      const k = buf.subarray(off, off + 32);
      for (const b of impls) assert.equal(toHex(b.keyedHash(k, data)), want, `${b.name} keyedHash with the key at offset ${off}`);
    }
  });

  test('small inputs around the 64-byte block and 1024-byte chunk edges', () => {
    for (const n of [0, 1, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025, 2047, 2048, 2049]) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 13 + 5) & 0xff);
      for (const outLen of [1, 32, 64, 65, 131]) {
        const ref = toHex(nobleBlake3.hash(data, outLen));
        for (const b of impls) assert.equal(toHex(b.hash(data, outLen)), ref, `${b.name} n=${n} out=${outLen}`);
      }
    }
  });
});

describe('loadCrypto', () => {
  test('default, portable and reference sets all interoperate', async () => {
    const sets = [await loadCrypto(), await loadCrypto({ native: false }), await loadCrypto({ reference: true })];
    assert.notEqual(sets[1]!.aead.name, 'sodium-native');
    assert.equal(sets[2]!.aead.name, '@noble/ciphers');
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const nonce = Uint8Array.from({ length: 24 }, (_, i) => 100 + i);
    const seed = new Uint8Array(32).fill(42);
    const msg = new TextEncoder().encode('frame');
    for (const a of sets) {
      for (const b of sets) {
        const sealed = a.aead.seal(key, nonce, msg, nonce);
        assert.equal(toHex(b.aead.open(key, nonce, sealed, nonce)), toHex(msg));
        const signer = a.ed25519.signerFromSeed(seed);
        assert.equal(b.ed25519.verify(signer.sign(msg), msg, signer.publicKey), true);
        assert.equal(toHex(a.blake3.deriveKey('ec frame key v1', msg)), toHex(b.blake3.deriveKey('ec frame key v1', msg)));
        assert.equal(toHex(a.x25519.publicKey(key)), toHex(b.x25519.publicKey(key)));
      }
    }
  });
});
