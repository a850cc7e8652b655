/**
 * Authoritative vectors (RFC 8439, draft-irtf-cfrg-xchacha-03, Wycheproof, RFC 8032, BLAKE3's
 * official vectors) run against every implementation of every crypto kernel, plus a corrupted
 * copy of every valid vector, which must be rejected (or, for X25519 and BLAKE3, must change the
 * output). sodium-native is optional: its runs are skipped, not failed, when it is not installed.
 *
 * The vector files live in test/vectors/ and are read from the source tree at run time.
 */
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import {
  hchacha20,
  nobleIetfAead,
  nobleXAead,
  nodeIetfAead,
  nodeXAead,
  sodiumIetfAead,
  sodiumXAead,
} from '../kernels/aead.js';
import type { IetfAead } from '../kernels/aead.js';
import {
  isCanonicalPoint,
  isSmallOrderPoint,
  nobleEd25519,
  nodeEd25519,
  signatureShapeOk,
  sodiumEd25519,
} from '../kernels/ed25519.js';
import { nobleX25519, nodeX25519, sodiumX25519 } from '../kernels/x25519.js';
import { loadBlake3Jit, loadHashWasmBlake3, nobleBlake3 } from '../kernels/blake3.js';
import type { Blake3Kernel, Ed25519Kernel, X25519Kernel, XAead } from '../kernels/types.js';

// ---------------------------------------------------------------------------------------------
// Helpers.

function vectors<T>(name: string): T {
  // Compiled to dist/test/*.js the files are at ../../test/vectors/; run from source, ./vectors/.
  const here = new URL(`./vectors/${name}`, import.meta.url);
  const file = existsSync(here) ? here : new URL(`../../test/vectors/${name}`, import.meta.url);
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** A copy with one bit flipped (bit 0 of byte `i`, or bit 7 of the last byte when i < 0). */
function flip(b: Uint8Array, i = 0, bit = 0): Uint8Array {
  const c = Uint8Array.from(b);
  const at = i < 0 ? c.length + i : i;
  c[at] = c[at]! ^ (1 << bit);
  return c;
}

/** A different but equally long input: a flipped bit, or one extra byte when empty. */
function alter(b: Uint8Array): Uint8Array {
  return b.length === 0 ? Uint8Array.of(0) : flip(b, b.length >> 1, 3);
}

/** One entry per implementation name; `get()` is null when the implementation is unavailable. */
interface Impl<K> {
  readonly label: string;
  readonly get: () => K | null;
}

function forEachImpl<K>(impls: readonly Impl<K>[], body: (k: K, t: TestContext) => void | Promise<void>): void {
  for (const impl of impls) {
    test(impl.label, async (t) => {
      const k = impl.get();
      if (k === null) {
        t.skip(`${impl.label} is not installed`);
        return;
      }
      await body(k, t);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// AEAD.

interface AeadTest {
  tcId: number;
  comment: string;
  flags: string[];
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface XChaChaFile {
  hchacha20: { key: string; nonce: string; subkey: string };
  draftA31: { plaintextAscii: string; key: string; nonce: string; aad: string; ciphertext: string; tag: string };
  tests: AeadTest[];
}
interface ChaChaFile {
  rfc8439_2_8_2: { plaintextAscii: string; key: string; nonce: string; aad: string; ciphertext: string; tag: string };
  tests: AeadTest[];
}

const xchachaFile = vectors<XChaChaFile>('xchacha20poly1305.json');
const chachaFile = vectors<ChaChaFile>('chacha20poly1305.json');

type AnyAead = XAead | IetfAead;

/** A valid vector: seal reproduces it, open inverts it, and every single-field corruption is rejected. */
function checkValidAead(
  a: AnyAead,
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  pt: Uint8Array,
  sealed: Uint8Array,
  id: string,
): void {
  assert.equal(toHex(a.seal(key, nonce, pt, ad)), toHex(sealed), `${id}: seal`);
  const opened = a.open(key, nonce, sealed, ad);
  assert.ok(opened !== null, `${id}: open`);
  assert.equal(toHex(opened), toHex(pt), `${id}: plaintext`);
  const ctLen = sealed.length - 16;
  const corrupt: [string, () => Uint8Array | null][] = [
    ['tag first bit', () => a.open(key, nonce, flip(sealed, ctLen), ad)],
    ['tag last bit', () => a.open(key, nonce, flip(sealed, -1, 7), ad)],
    ['ad', () => a.open(key, nonce, sealed, alter(ad))],
    ['nonce first byte', () => a.open(key, flip(nonce, 0), sealed, ad)],
    ['nonce last byte', () => a.open(key, flip(nonce, -1, 7), sealed, ad)],
    ['key', () => a.open(flip(key, 5, 2), nonce, sealed, ad)],
    ['truncated', () => a.open(key, nonce, sealed.subarray(0, sealed.length - 1), ad)],
    ['extended', () => a.open(key, nonce, concat(sealed, Uint8Array.of(0)), ad)],
  ];
  if (ctLen > 0) {
    corrupt.push(['ciphertext first bit', () => a.open(key, nonce, flip(sealed, 0), ad)]);
    corrupt.push(['ciphertext last bit', () => a.open(key, nonce, flip(sealed, ctLen - 1, 7), ad)]);
  }
  for (const [what, run] of corrupt) assert.equal(run(), null, `${id}: corrupted ${what} must be rejected`);
}

/** Garbage of every short length, wrong key and nonce sizes: null, never an exception. */
function checkOpenNeverThrows(a: AnyAead, nonceLen: number): void {
  const key = new Uint8Array(32).fill(1);
  const nonce = new Uint8Array(nonceLen).fill(2);
  for (let n = 0; n <= 40; n++) {
    const junk = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff);
    assert.equal(a.open(key, nonce, junk, new Uint8Array(0)), null, `junk of ${n} bytes`);
  }
  const sealed = a.seal(key, nonce, ascii('hello'), ascii('ad'));
  assert.equal(a.open(key.subarray(0, 31), nonce, sealed, ascii('ad')), null, '31-byte key');
  assert.equal(a.open(concat(key, Uint8Array.of(0)), nonce, sealed, ascii('ad')), null, '33-byte key');
  assert.equal(a.open(key, nonce.subarray(1), sealed, ascii('ad')), null, 'short nonce');
  assert.equal(a.open(key, concat(nonce, Uint8Array.of(0)), sealed, ascii('ad')), null, 'long nonce');
  assert.throws(() => a.seal(key.subarray(1), nonce, ascii('x'), ascii('')), RangeError);
  assert.throws(() => a.seal(key, nonce.subarray(1), ascii('x'), ascii('')), RangeError);
}

/** The zero-copy frame path agrees with seal/open and rejects the same corruptions. */
function checkInto(a: XAead, key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, pt: Uint8Array, sealed: Uint8Array, valid: boolean, id: string): void {
  const opened = new Uint8Array(Math.max(0, sealed.length - 16));
  if (!valid) {
    assert.equal(a.openInto(opened, key, nonce, sealed, ad), false, `${id}: openInto must reject`);
    assert.ok(opened.every((b) => b === 0), `${id}: no plaintext left behind`);
    return;
  }
  const out = new Uint8Array(pt.length + 16);
  a.sealInto(out, key, nonce, pt, ad);
  assert.equal(toHex(out), toHex(sealed), `${id}: sealInto`);
  assert.equal(a.openInto(opened, key, nonce, sealed, ad), true, `${id}: openInto`);
  assert.equal(toHex(opened), toHex(pt), `${id}: openInto plaintext`);
  const bad = flip(sealed, sealed.length - 1, 3);
  const again = new Uint8Array(opened.length);
  assert.equal(a.openInto(again, key, nonce, bad, ad), false, `${id}: openInto with a corrupted tag`);
  assert.ok(again.every((b) => b === 0), `${id}: no plaintext after a failed openInto`);
  assert.equal(a.openInto(new Uint8Array(opened.length + 1), key, nonce, sealed, ad), false, `${id}: wrong output length`);
  assert.throws(() => a.sealInto(new Uint8Array(pt.length + 15), key, nonce, pt, ad), RangeError, `${id}: short sealInto output`);
}

const xaeads: Impl<XAead>[] = [
  { label: 'sodium-native', get: sodiumXAead },
  { label: 'node:crypto', get: () => nodeXAead },
  { label: '@noble/ciphers', get: () => nobleXAead },
];
const ietfAeads: Impl<IetfAead>[] = [
  { label: 'sodium-native', get: sodiumIetfAead },
  { label: 'node:crypto', get: () => nodeIetfAead },
  { label: '@noble/ciphers', get: () => nobleIetfAead },
];

describe('HChaCha20 (draft-irtf-cfrg-xchacha-03 §2.2.1)', () => {
  test('subkey', () => {
    const v = xchachaFile.hchacha20;
    assert.equal(toHex(hchacha20(hex(v.key), hex(v.nonce))), v.subkey);
  });
  test('a changed key or nonce bit changes the subkey', () => {
    const v = xchachaFile.hchacha20;
    assert.notEqual(toHex(hchacha20(flip(hex(v.key), 31, 7), hex(v.nonce))), v.subkey);
    assert.notEqual(toHex(hchacha20(hex(v.key), flip(hex(v.nonce), 15, 7))), v.subkey);
  });
  test('rejects wrong sizes', () => {
    assert.throws(() => hchacha20(new Uint8Array(31), new Uint8Array(16)), RangeError);
    assert.throws(() => hchacha20(new Uint8Array(32), new Uint8Array(15)), RangeError);
  });
});

describe('IETF ChaCha20-Poly1305: RFC 8439 §2.8.2 and Wycheproof chacha20_poly1305', () => {
  forEachImpl(ietfAeads, (a) => {
    const r = chachaFile.rfc8439_2_8_2;
    checkValidAead(a, hex(r.key), hex(r.nonce), hex(r.aad), ascii(r.plaintextAscii), hex(r.ciphertext + r.tag), 'RFC 8439');
    let valid = 0;
    let invalid = 0;
    for (const v of chachaFile.tests) {
      const id = `tcId ${v.tcId}`;
      const [key, iv, ad, sealed] = [hex(v.key), hex(v.iv), hex(v.aad), hex(v.ct + v.tag)];
      if (v.result === 'valid') {
        checkValidAead(a, key, iv, ad, hex(v.msg), sealed, id);
        valid++;
      } else {
        assert.equal(a.open(key, iv, sealed, ad), null, `${id}: ${v.comment}`);
        invalid++;
      }
    }
    assert.ok(valid >= 10 && invalid >= 20, 'the vector file was read');
    checkOpenNeverThrows(a, 12);
  });
});

describe('XChaCha20-Poly1305: draft §A.3.1 and Wycheproof xchacha20_poly1305', () => {
  forEachImpl(xaeads, (a) => {
    const d = xchachaFile.draftA31;
    checkValidAead(a, hex(d.key), hex(d.nonce), hex(d.aad), ascii(d.plaintextAscii), hex(d.ciphertext + d.tag), 'draft A.3.1');
    checkInto(a, hex(d.key), hex(d.nonce), hex(d.aad), ascii(d.plaintextAscii), hex(d.ciphertext + d.tag), true, 'draft A.3.1');
    let valid = 0;
    let invalid = 0;
    for (const v of xchachaFile.tests) {
      const id = `tcId ${v.tcId}`;
      const [key, iv, ad, sealed] = [hex(v.key), hex(v.iv), hex(v.aad), hex(v.ct + v.tag)];
      if (v.result === 'valid') {
        checkValidAead(a, key, iv, ad, hex(v.msg), sealed, id);
        checkInto(a, key, iv, ad, hex(v.msg), sealed, true, id);
        valid++;
      } else {
        assert.equal(a.open(key, iv, sealed, ad), null, `${id}: ${v.comment}`);
        checkInto(a, key, iv, ad, hex(v.msg), sealed, false, id);
        if (v.flags.includes('InvalidNonceSize')) {
          assert.throws(() => a.seal(key, iv, hex(v.msg), ad), RangeError, `${id}: seal with a bad nonce size`);
        }
        invalid++;
      }
    }
    assert.ok(valid >= 15 && invalid >= 40, 'the vector file was read');
    checkOpenNeverThrows(a, 24);
  });
});

// ---------------------------------------------------------------------------------------------
// Ed25519.

interface EdVector {
  name: string;
  seed: string;
  publicKey: string;
  message: string;
  signature: string;
  result?: 'valid' | 'invalid';
}
const edFile = vectors<{ rfc8032: EdVector[]; wycheproof: EdVector[] }>('ed25519.json');

const edImpls: Impl<Ed25519Kernel>[] = [
  { label: 'sodium-native', get: sodiumEd25519 },
  { label: 'node:crypto', get: () => nodeEd25519 },
  { label: '@noble/curves', get: () => nobleEd25519 },
];

/** Group order L, little-endian, for building non-canonical S values. */
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
function addToS(sig: Uint8Array, n: bigint): Uint8Array {
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
  s += n;
  const out = Uint8Array.from(sig);
  for (let i = 32; i < 64; i++) {
    out[i] = Number(s & 0xffn);
    s >>= 8n;
  }
  return out;
}

describe('Ed25519: RFC 8032 §7.1 and Wycheproof', () => {
  forEachImpl(edImpls, (ed) => {
    for (const v of edFile.rfc8032) {
      const [seed, pk, msg, sig] = [hex(v.seed), hex(v.publicKey), hex(v.message), hex(v.signature)];
      const signer = ed.signerFromSeed(seed);
      assert.equal(toHex(signer.publicKey), v.publicKey, `${v.name}: public key`);
      assert.equal(toHex(signer.sign(msg)), v.signature, `${v.name}: signature`);
      assert.equal(ed.verify(sig, msg, pk), true, `${v.name}: verify`);
      const bad: [string, boolean][] = [
        ['signature R bit', ed.verify(flip(sig, 0), msg, pk)],
        ['signature R last bit', ed.verify(flip(sig, 31, 6), msg, pk)],
        ['signature S bit', ed.verify(flip(sig, 32), msg, pk)],
        ['signature S high bit', ed.verify(flip(sig, 63, 4), msg, pk)],
        ['message', ed.verify(sig, alter(msg), pk)],
        ['public key', ed.verify(sig, msg, flip(pk, 0))],
        ['public key sign bit', ed.verify(sig, msg, flip(pk, 31, 7))],
        ['S + L (non-canonical S)', ed.verify(addToS(sig, L), msg, pk)],
        ['63-byte signature', ed.verify(sig.subarray(0, 63), msg, pk)],
        ['65-byte signature', ed.verify(concat(sig, Uint8Array.of(0)), msg, pk)],
        ['31-byte public key', ed.verify(sig, msg, pk.subarray(0, 31))],
        ['33-byte public key', ed.verify(sig, msg, concat(pk, Uint8Array.of(0)))],
        ['empty signature', ed.verify(new Uint8Array(0), msg, pk)],
      ];
      for (const [what, ok] of bad) assert.equal(ok, false, `${v.name}: corrupted ${what} must be rejected`);
    }
    for (const v of edFile.wycheproof) {
      const expected = (v.result ?? 'valid') === 'valid';
      const [seed, msg, sig, pk] = [hex(v.seed), hex(v.message), hex(v.signature), hex(v.publicKey)];
      assert.equal(ed.verify(sig, msg, pk), expected, v.name);
      const signer = ed.signerFromSeed(seed);
      assert.equal(toHex(signer.publicKey), v.publicKey, `${v.name}: public key`);
      if (expected) {
        assert.equal(toHex(signer.sign(msg)), v.signature, `${v.name}: signature`);
        assert.equal(ed.verify(flip(sig, 40), msg, pk), false, `${v.name}: corrupted S`);
        assert.equal(ed.verify(sig, alter(msg), pk), false, `${v.name}: corrupted message`);
      }
    }
  });
});

describe('Ed25519 malformed keys and signatures are rejected by every implementation', () => {
  forEachImpl(edImpls, (ed) => {
    const msg = ascii('any message');
    const identity = hex('0100000000000000000000000000000000000000000000000000000000000000');
    // R = identity, S = 0 under the identity key satisfies the verification equation for every
    // message; OpenSSL accepts it without our pre-check.
    const trivial = concat(identity, new Uint8Array(32));
    assert.equal(ed.verify(trivial, msg, identity), false, 'identity key, identity signature');
    const signer = ed.signerFromSeed(new Uint8Array(32).fill(9));
    const good = signer.sign(msg);
    assert.equal(ed.verify(good, msg, signer.publicKey), true);
    for (const t of ED25519_TORSION_SUBGROUP) {
      assert.equal(ed.verify(good, msg, hex(t)), false, `small-order public key ${t}`);
      const smallR = Uint8Array.from(good);
      smallR.set(hex(t), 0);
      assert.equal(ed.verify(smallR, msg, signer.publicKey), false, `small-order R ${t}`);
      assert.equal(ed.publicKeyToX25519(hex(t)), null, `publicKeyToX25519(small order ${t})`);
    }
    // A mixed-order key (a valid key plus a point of order 8): on the curve and not of small
    // order, but outside the prime-order subgroup, which libsodium's conversion refuses.
    const mixed = ed25519.Point.fromBytes(signer.publicKey).add(ed25519.Point.fromBytes(hex(ED25519_TORSION_SUBGROUP[3]!))).toBytes();
    assert.equal(ed.publicKeyToX25519(mixed), null, 'publicKeyToX25519(mixed order)');
    assert.equal(ed.verify(good, msg, mixed), false, 'a signature does not carry over to a mixed-order key');
    // y = p + 2 (≡ 2): a non-canonical encoding.
    const nonCanonical = hex('efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
    assert.equal(ed.verify(good, msg, nonCanonical), false, 'non-canonical public key');
    assert.equal(ed.publicKeyToX25519(nonCanonical), null, 'publicKeyToX25519(non-canonical)');
    assert.equal(ed.publicKeyToX25519(new Uint8Array(31)), null, 'publicKeyToX25519(31 bytes)');
    // Not a Uint8Array at all, as a decoder bug might pass: still false, not an exception.
    assert.equal(ed.verify(undefined as unknown as Uint8Array, msg, signer.publicKey), false);
    assert.throws(() => ed.signerFromSeed(new Uint8Array(31)), RangeError);
  });

  test('the shared pre-check recognises all eight small-order points and only canonical encodings', () => {
    for (const t of ED25519_TORSION_SUBGROUP) assert.equal(isSmallOrderPoint(hex(t)), true, t);
    for (const v of edFile.rfc8032) {
      assert.equal(isSmallOrderPoint(hex(v.publicKey)), false);
      assert.equal(isCanonicalPoint(hex(v.publicKey)), true);
      assert.equal(signatureShapeOk(hex(v.signature), hex(v.publicKey)), true);
    }
    assert.equal(isCanonicalPoint(hex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')), true, 'p − 1');
    assert.equal(isCanonicalPoint(hex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')), false, 'p');
    assert.equal(isCanonicalPoint(hex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff')), false, 'p, sign bit');
  });
});

describe('Ed25519 → X25519 conversion agrees across implementations on the RFC 8032 keys', () => {
  forEachImpl(edImpls, (ed) => {
    for (const v of edFile.rfc8032) {
      const x = ed.publicKeyToX25519(hex(v.publicKey));
      assert.ok(x !== null, v.name);
      assert.equal(toHex(x), toHex(nobleEd25519.publicKeyToX25519(hex(v.publicKey))!), v.name);
      // The converted secret and the converted public key are one X25519 key pair.
      const xs = ed.seedToX25519(hex(v.seed));
      assert.equal(toHex(nobleX25519.publicKey(xs)), toHex(x), `${v.name}: key pair`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// X25519.

interface XdhTest {
  tcId: number;
  comment: string;
  flags: string[];
  public: string;
  private: string;
  shared: string;
  result: string;
}
const xFile = vectors<{ tests: XdhTest[] }>('x25519.json');

const xImpls: Impl<X25519Kernel>[] = [
  { label: 'sodium-native', get: sodiumX25519 },
  { label: 'node:crypto', get: () => nodeX25519 },
  { label: '@noble/curves', get: () => nobleX25519 },
];

describe('X25519: Wycheproof x25519 (low-order / zero-shared cases give null)', () => {
  forEachImpl(xImpls, (x) => {
    let zero = 0;
    let nonzero = 0;
    for (const v of xFile.tests) {
      const id = `tcId ${v.tcId} (${v.comment})`;
      const [priv, pub] = [hex(v.private), hex(v.public)];
      const got = x.sharedSecret(priv, pub);
      if (v.flags.includes('ZeroSharedSecret')) {
        assert.equal(v.shared, '0'.repeat(64));
        assert.equal(got, null, `${id}: all-zero shared secret must be refused`);
        zero++;
      } else {
        assert.ok(got !== null, id);
        assert.equal(toHex(got), v.shared, id);
        // Corrupted inputs must not give the vector's shared secret.
        const p2 = x.sharedSecret(flip(priv, 10), pub);
        const q2 = x.sharedSecret(priv, flip(pub, 0, 1));
        assert.notEqual(p2 && toHex(p2), v.shared, `${id}: corrupted private key`);
        assert.notEqual(q2 && toHex(q2), v.shared, `${id}: corrupted public key`);
        nonzero++;
      }
    }
    assert.ok(zero >= 20 && nonzero >= 20, 'the vector file was read');
    assert.equal(x.sharedSecret(new Uint8Array(31), new Uint8Array(32).fill(9)), null, '31-byte secret');
    assert.equal(x.sharedSecret(new Uint8Array(32).fill(1), new Uint8Array(33)), null, '33-byte public key');
    assert.throws(() => x.publicKey(new Uint8Array(16)), RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// BLAKE3.

interface Blake3Case {
  input_len: number;
  hash: string;
  keyed_hash: string;
  derive_key: string;
}
const b3File = vectors<{ key: string; context_string: string; cases: Blake3Case[] }>('blake3.json');
const b3Key = ascii(b3File.key);

// hash-wasm fixes length and key per hasher: prepare the ones the vectors use, so the vectors
// exercise hash-wasm rather than its noble fallback.
const jitKernel = await loadBlake3Jit();
const hashWasmKernel = await loadHashWasmBlake3({ outLens: [32, 131], keys: [b3Key] });
const b3Impls: Impl<Blake3Kernel>[] = [
  { label: 'blake3-jit', get: () => jitKernel },
  { label: 'hash-wasm', get: () => hashWasmKernel },
  { label: '@noble/hashes', get: () => nobleBlake3 },
];

describe('BLAKE3 official vectors (hash, keyed_hash, derive_key; extended output)', () => {
  forEachImpl(b3Impls, (b) => {
    for (const c of b3File.cases) {
      const input = new Uint8Array(c.input_len).map((_, i) => i % 251);
      const id = `input_len ${c.input_len}`;
      const outLen = c.hash.length / 2;
      assert.equal(toHex(b.hash(input, outLen)), c.hash, `${id}: hash`);
      assert.equal(toHex(b.hash(input)), c.hash.slice(0, 64), `${id}: hash, default length`);
      assert.equal(toHex(b.keyedHash(b3Key, input, outLen)), c.keyed_hash, `${id}: keyed_hash`);
      assert.equal(toHex(b.keyedHash(b3Key, input)), c.keyed_hash.slice(0, 64), `${id}: keyed_hash, 32`);
      assert.equal(toHex(b.deriveKey(b3File.context_string, input, outLen)), c.derive_key, `${id}: derive_key`);
      assert.equal(toHex(b.deriveKey(b3File.context_string, input)), c.derive_key.slice(0, 64), `${id}: derive_key, 32`);
      // Corruptions change the output.
      const altered = alter(input);
      assert.notEqual(toHex(b.hash(altered)), c.hash.slice(0, 64), `${id}: altered input`);
      assert.notEqual(toHex(b.keyedHash(flip(b3Key, 0), input)), c.keyed_hash.slice(0, 64), `${id}: altered key`);
      assert.notEqual(toHex(b.deriveKey(`${b3File.context_string}!`, input)), c.derive_key.slice(0, 64), `${id}: altered context`);
    }
    // Results are fresh arrays, not views of a reused internal buffer.
    const a = b.hash(ascii('a'));
    const snapshot = toHex(a);
    b.hash(ascii('b'));
    assert.equal(toHex(a), snapshot, 'an earlier result is not overwritten');
    assert.throws(() => b.keyedHash(new Uint8Array(31), ascii('x')), RangeError);
    assert.throws(() => b.hash(ascii('x'), 0), RangeError);
  });
});
