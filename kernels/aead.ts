/**
 * XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03): an HChaCha20 subkey from the key and the
 * first 16 nonce bytes, then IETF ChaCha20-Poly1305 (RFC 8439) with nonce
 * 4 zero bytes ‖ nonce[16..24]. The 16-byte tag is appended to the ciphertext.
 *
 * Three implementations of one interface, so tests and benchmarks can run them side by side:
 *   - sodium-native (libsodium; an optional dependency, loaded only if it is installed),
 *   - node:crypto (HChaCha20 in JS below, the IETF AEAD in OpenSSL),
 *   - @noble/ciphers (pure JS; the test oracle).
 * `bestAead()` picks sodium-native when it loads, else node:crypto.
 *
 * `open()` returns null on any failure — wrong key/nonce length, a sealed input shorter than a
 * tag, or a bad tag — and never throws. `seal()` throws a RangeError for a wrong key or nonce
 * length, which is a programming error.
 */
import { createRequire } from 'node:module';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import type { XAead } from './types.js';

export const AEAD_KEY_BYTES = 32;
export const XAEAD_NONCE_BYTES = 24;
export const IETF_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;

// ---------------------------------------------------------------------------------------------
// sodium-native loader, shared with ed25519.ts and x25519.ts.

/** The part of sodium-native's API the kernels use (sodium-native ships no type declarations). */
export interface SodiumNative {
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array,
  ): number;
  /** Throws when authentication fails. */
  crypto_aead_xchacha20poly1305_ietf_decrypt(
    m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array,
  ): number;
  crypto_aead_chacha20poly1305_ietf_encrypt(
    c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array,
  ): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(
    m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array,
  ): number;
  crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void;
  crypto_sign_detached(sig: Uint8Array, m: Uint8Array, sk: Uint8Array): void;
  crypto_sign_verify_detached(sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean;
  /** Throws for a key libsodium rejects (small order, not on the curve, not in the main subgroup). */
  crypto_sign_ed25519_pk_to_curve25519(x25519pk: Uint8Array, ed25519pk: Uint8Array): void;
  crypto_sign_ed25519_sk_to_curve25519(x25519sk: Uint8Array, ed25519sk: Uint8Array): void;
  /** Throws when the result would be all-zero (low-order point). */
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
}

let sodiumCache: SodiumNative | null | undefined;

/**
 * sodium-native if it is installed and its addon loads on this platform, else null. Loaded once;
 * an optional dependency, so every caller must cope with null. Setting ECD_NO_SODIUM=1 in the
 * environment hides it, to run the portable paths (and their tests) on a machine that has it.
 */
export function loadSodiumNative(): SodiumNative | null {
  if (sodiumCache !== undefined) return sodiumCache;
  if (process.env['ECD_NO_SODIUM'] === '1') {
    sodiumCache = null;
    return sodiumCache;
  }
  try {
    const require = createRequire(import.meta.url);
    const mod = require('sodium-native') as Partial<SodiumNative>;
    sodiumCache =
      typeof mod.crypto_aead_xchacha20poly1305_ietf_encrypt === 'function' &&
      typeof mod.crypto_sign_verify_detached === 'function' &&
      typeof mod.crypto_scalarmult === 'function'
        ? (mod as SodiumNative)
        : null;
  } catch {
    sodiumCache = null;
  }
  return sodiumCache;
}

// ---------------------------------------------------------------------------------------------
// HChaCha20 (draft-irtf-cfrg-xchacha-03 §2.2).

function le32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

function putLe32(out: Uint8Array, i: number, v: number): void {
  out[i] = v;
  out[i + 1] = v >>> 8;
  out[i + 2] = v >>> 16;
  out[i + 3] = v >>> 24;
}

/**
 * HChaCha20(key, nonce[nonceOffset .. nonceOffset+16]) written into `out` (32 bytes). The 20
 * rounds are written out with local variables: about 10× faster than a typed-array state.
 */
export function hchacha20(
  key: Uint8Array,
  nonce: Uint8Array,
  out: Uint8Array = new Uint8Array(32),
  nonceOffset = 0,
): Uint8Array {
  if (key.length !== 32) throw new RangeError('hchacha20: key must be 32 bytes');
  if (nonce.length < nonceOffset + 16) throw new RangeError('hchacha20: nonce must have 16 bytes');
  if (out.length < 32) throw new RangeError('hchacha20: out must be 32 bytes');
  let x0 = 0x61707865, x1 = 0x3320646e, x2 = 0x79622d32, x3 = 0x6b206574;
  let x4 = le32(key, 0), x5 = le32(key, 4), x6 = le32(key, 8), x7 = le32(key, 12);
  let x8 = le32(key, 16), x9 = le32(key, 20), x10 = le32(key, 24), x11 = le32(key, 28);
  let x12 = le32(nonce, nonceOffset), x13 = le32(nonce, nonceOffset + 4);
  let x14 = le32(nonce, nonceOffset + 8), x15 = le32(nonce, nonceOffset + 12);
  for (let i = 0; i < 10; i++) {
    // Column round.
    x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 16) | (x12 >>> 16);
    x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 12) | (x4 >>> 20);
    x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 8) | (x12 >>> 24);
    x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 7) | (x4 >>> 25);
    x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 16) | (x13 >>> 16);
    x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 12) | (x5 >>> 20);
    x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 8) | (x13 >>> 24);
    x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 7) | (x5 >>> 25);
    x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 16) | (x14 >>> 16);
    x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 12) | (x6 >>> 20);
    x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 8) | (x14 >>> 24);
    x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 7) | (x6 >>> 25);
    x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 16) | (x15 >>> 16);
    x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 12) | (x7 >>> 20);
    x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 8) | (x15 >>> 24);
    x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 7) | (x7 >>> 25);
    // Diagonal round.
    x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 16) | (x15 >>> 16);
    x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 12) | (x5 >>> 20);
    x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 8) | (x15 >>> 24);
    x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 7) | (x5 >>> 25);
    x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 16) | (x12 >>> 16);
    x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 12) | (x6 >>> 20);
    x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 8) | (x12 >>> 24);
    x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 7) | (x6 >>> 25);
    x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 16) | (x13 >>> 16);
    x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 12) | (x7 >>> 20);
    x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 8) | (x13 >>> 24);
    x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 7) | (x7 >>> 25);
    x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 16) | (x14 >>> 16);
    x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 12) | (x4 >>> 20);
    x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 8) | (x14 >>> 24);
    x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 7) | (x4 >>> 25);
  }
  putLe32(out, 0, x0);
  putLe32(out, 4, x1);
  putLe32(out, 8, x2);
  putLe32(out, 12, x3);
  putLe32(out, 16, x12);
  putLe32(out, 20, x13);
  putLe32(out, 24, x14);
  putLe32(out, 28, x15);
  return out;
}

// ---------------------------------------------------------------------------------------------
// IETF ChaCha20-Poly1305 (RFC 8439 §2.8), 12-byte nonce. Exposed so the RFC 8439 and Wycheproof
// chacha20_poly1305 vectors can test the inner construction of each XChaCha path directly.

export interface IetfAead {
  readonly name: string;
  seal(key: Uint8Array, nonce12: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array;
  open(key: Uint8Array, nonce12: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | null;
}

/** A Buffer from node:crypto as a plain Uint8Array view (no copy), so every implementation returns the same type. */
function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function nodeIetfSeal(key: Uint8Array, nonce12: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce12, { authTagLength: AEAD_TAG_BYTES });
  cipher.setAAD(ad, { plaintextLength: plaintext.length });
  const out = new Uint8Array(plaintext.length + AEAD_TAG_BYTES);
  out.set(cipher.update(plaintext), 0);
  cipher.final();
  out.set(cipher.getAuthTag(), plaintext.length);
  return out;
}

function nodeIetfOpen(key: Uint8Array, nonce12: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | null {
  const n = sealed.length - AEAD_TAG_BYTES;
  try {
    const decipher = createDecipheriv('chacha20-poly1305', key, nonce12, { authTagLength: AEAD_TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(n));
    decipher.setAAD(ad, { plaintextLength: n });
    const plaintext = decipher.update(sealed.subarray(0, n));
    decipher.final(); // throws on a bad tag
    return plain(plaintext);
  } catch {
    return null;
  }
}

function ietfShapeOk(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): boolean {
  return key.length === AEAD_KEY_BYTES && nonce.length === IETF_NONCE_BYTES && sealed.length >= AEAD_TAG_BYTES;
}

function checkIntoLength(out: Uint8Array, want: number): void {
  if (out.length !== want) throw new RangeError(`AEAD output must be exactly ${want} bytes`);
}

/** openInto for implementations that allocate: copy on success, report failure. */
function copyOpened(out: Uint8Array, opened: Uint8Array | null): boolean {
  if (opened === null || opened.length !== out.length) return false;
  out.set(opened);
  return true;
}

function checkSealArgs(key: Uint8Array, nonce: Uint8Array, nonceBytes: number): void {
  if (key.length !== AEAD_KEY_BYTES) throw new RangeError(`AEAD key must be ${AEAD_KEY_BYTES} bytes`);
  if (nonce.length !== nonceBytes) throw new RangeError(`AEAD nonce must be ${nonceBytes} bytes`);
}

export const nodeIetfAead: IetfAead = {
  name: 'node:crypto',
  seal(key, nonce12, plaintext, ad) {
    checkSealArgs(key, nonce12, IETF_NONCE_BYTES);
    return nodeIetfSeal(key, nonce12, plaintext, ad);
  },
  open(key, nonce12, sealed, ad) {
    if (!ietfShapeOk(key, nonce12, sealed)) return null;
    return nodeIetfOpen(key, nonce12, sealed, ad);
  },
};

export const nobleIetfAead: IetfAead = {
  name: '@noble/ciphers',
  seal(key, nonce12, plaintext, ad) {
    checkSealArgs(key, nonce12, IETF_NONCE_BYTES);
    return chacha20poly1305(key, nonce12, ad).encrypt(plaintext);
  },
  open(key, nonce12, sealed, ad) {
    if (!ietfShapeOk(key, nonce12, sealed)) return null;
    try {
      return chacha20poly1305(key, nonce12, ad).decrypt(sealed);
    } catch {
      return null;
    }
  },
};

/** libsodium's IETF ChaCha20-Poly1305, or null without sodium-native. */
export function sodiumIetfAead(): IetfAead | null {
  const s = loadSodiumNative();
  if (!s) return null;
  return {
    name: 'sodium-native',
    seal(key, nonce12, plaintext, ad) {
      checkSealArgs(key, nonce12, IETF_NONCE_BYTES);
      const out = new Uint8Array(plaintext.length + AEAD_TAG_BYTES);
      s.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, ad, null, nonce12, key);
      return out;
    },
    open(key, nonce12, sealed, ad) {
      if (!ietfShapeOk(key, nonce12, sealed)) return null;
      const out = new Uint8Array(sealed.length - AEAD_TAG_BYTES);
      try {
        s.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, sealed, ad, nonce12, key);
      } catch {
        return null;
      }
      return out;
    },
  };
}

/** Every IETF ChaCha20-Poly1305 implementation available here (tests iterate over these). */
export function ietfAeadImplementations(): IetfAead[] {
  const s = sodiumIetfAead();
  return s ? [s, nodeIetfAead, nobleIetfAead] : [nodeIetfAead, nobleIetfAead];
}

// ---------------------------------------------------------------------------------------------
// XChaCha20-Poly1305.

function xShapeOk(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): boolean {
  return key.length === AEAD_KEY_BYTES && nonce.length === XAEAD_NONCE_BYTES && sealed.length >= AEAD_TAG_BYTES;
}

// Scratch buffers for the node:crypto path: createCipheriv copies key and IV into the OpenSSL
// context, and everything here is synchronous, so one pair per thread is safe.
const subkeyScratch = new Uint8Array(32);
const ietfNonceScratch = new Uint8Array(IETF_NONCE_BYTES); // bytes 0..4 stay zero

function nodeDerive(key: Uint8Array, nonce24: Uint8Array): void {
  hchacha20(key, nonce24, subkeyScratch, 0);
  ietfNonceScratch.set(nonce24.subarray(16, 24), 4);
}

/** XChaCha20-Poly1305 with HChaCha20 in JS and the IETF AEAD in OpenSSL (node:crypto). */
export const nodeXAead: XAead = {
  name: 'node:crypto',
  seal(key, nonce24, plaintext, ad) {
    checkSealArgs(key, nonce24, XAEAD_NONCE_BYTES);
    nodeDerive(key, nonce24);
    return nodeIetfSeal(subkeyScratch, ietfNonceScratch, plaintext, ad);
  },
  open(key, nonce24, sealed, ad) {
    if (!xShapeOk(key, nonce24, sealed)) return null;
    nodeDerive(key, nonce24);
    return nodeIetfOpen(subkeyScratch, ietfNonceScratch, sealed, ad);
  },
  sealInto(out, key, nonce24, plaintext, ad) {
    checkIntoLength(out, plaintext.length + AEAD_TAG_BYTES);
    out.set(this.seal(key, nonce24, plaintext, ad));
  },
  openInto(out, key, nonce24, sealed, ad) {
    return copyOpened(out, this.open(key, nonce24, sealed, ad));
  },
};

/** @noble/ciphers xchacha20poly1305: pure JS, slow, the reference the others are tested against. */
export const nobleXAead: XAead = {
  name: '@noble/ciphers',
  seal(key, nonce24, plaintext, ad) {
    checkSealArgs(key, nonce24, XAEAD_NONCE_BYTES);
    return xchacha20poly1305(key, nonce24, ad).encrypt(plaintext);
  },
  open(key, nonce24, sealed, ad) {
    if (!xShapeOk(key, nonce24, sealed)) return null;
    try {
      return xchacha20poly1305(key, nonce24, ad).decrypt(sealed);
    } catch {
      return null;
    }
  },
  sealInto(out, key, nonce24, plaintext, ad) {
    checkIntoLength(out, plaintext.length + AEAD_TAG_BYTES);
    out.set(this.seal(key, nonce24, plaintext, ad));
  },
  openInto(out, key, nonce24, sealed, ad) {
    return copyOpened(out, this.open(key, nonce24, sealed, ad));
  },
};

let sodiumXAeadCache: XAead | null | undefined;

/**
 * sodium-native's native XChaCha20-Poly1305 entry points, called without the JS wrappers of its
 * index.js. The wrappers re-check in JS what `xShapeOk`/`checkIntoLength` already checked, and
 * the decrypt wrapper *throws* on a bad tag: building an Error with a stack trace for every forged
 * frame costs several µs, the price of a whole honest frame. The binding returns a negative
 * status instead. Its C code asserts the same sizes, so every call below is made only after our
 * own checks.
 */
interface SodiumXAeadBinding {
  /** Returns the ciphertext length, negative on failure. */
  crypto_aead_xchacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | undefined, npub: Uint8Array, k: Uint8Array): number;
  /** Returns the plaintext length, negative when authentication fails; does not throw. */
  crypto_aead_xchacha20poly1305_ietf_decrypt(m: Uint8Array, c: Uint8Array, ad: Uint8Array | undefined, npub: Uint8Array, k: Uint8Array): number;
}

/**
 * The binding, if it loads and agrees with the public wrappers on a self-test (same ciphertext;
 * opens it; a flipped bit gives a negative status, not a throw). Otherwise null, and the
 * wrappers are used: a sodium-native release that changes its binding costs speed, not safety.
 * ECD_NO_SODIUM_BINDING=1 in the environment forces the wrappers (a test compares both paths).
 */
function loadSodiumXAeadBinding(s: SodiumNative): SodiumXAeadBinding | null {
  if (process.env['ECD_NO_SODIUM_BINDING'] === '1') return null;
  try {
    const require = createRequire(import.meta.url);
    const b = require('sodium-native/binding.js') as Partial<SodiumXAeadBinding>;
    if (typeof b.crypto_aead_xchacha20poly1305_ietf_encrypt !== 'function' || typeof b.crypto_aead_xchacha20poly1305_ietf_decrypt !== 'function') {
      return null;
    }
    const binding = b as SodiumXAeadBinding;
    const key = Uint8Array.from({ length: AEAD_KEY_BYTES }, (_, i) => i + 1);
    const nonce = Uint8Array.from({ length: XAEAD_NONCE_BYTES }, (_, i) => 0x40 + i);
    const ad = Uint8Array.from({ length: 66 }, (_, i) => 0x80 ^ i);
    const m = Uint8Array.from({ length: 100 }, (_, i) => (i * 7) & 0xff);
    const c1 = new Uint8Array(m.length + AEAD_TAG_BYTES);
    const c2 = new Uint8Array(m.length + AEAD_TAG_BYTES);
    s.crypto_aead_xchacha20poly1305_ietf_encrypt(c1, m, ad, null, nonce, key);
    if (binding.crypto_aead_xchacha20poly1305_ietf_encrypt(c2, m, ad, nonce, key) !== c2.length) return null;
    if (Buffer.compare(c1, c2) !== 0) return null;
    const out = new Uint8Array(m.length);
    if (binding.crypto_aead_xchacha20poly1305_ietf_decrypt(out, c1, ad, nonce, key) !== m.length) return null;
    if (Buffer.compare(out, m) !== 0) return null;
    c1[c1.length - 1]! ^= 1;
    if (!(binding.crypto_aead_xchacha20poly1305_ietf_decrypt(out, c1, ad, nonce, key) < 0)) return null;
    return binding;
  } catch {
    return null;
  }
}

/** libsodium's crypto_aead_xchacha20poly1305_ietf_*, or null without sodium-native. */
export function sodiumXAead(): XAead | null {
  if (sodiumXAeadCache !== undefined) return sodiumXAeadCache;
  const s = loadSodiumNative();
  const b = s ? loadSodiumXAeadBinding(s) : null;
  sodiumXAeadCache = s
    ? {
        name: 'sodium-native',
        seal(key, nonce24, plaintext, ad) {
          checkSealArgs(key, nonce24, XAEAD_NONCE_BYTES);
          // allocUnsafe slices Node's pool: no zero-fill, no off-heap allocation per frame
          const out = Buffer.allocUnsafe(plaintext.length + AEAD_TAG_BYTES);
          s.crypto_aead_xchacha20poly1305_ietf_encrypt(out, plaintext, ad, null, nonce24, key);
          return out;
        },
        open(key, nonce24, sealed, ad) {
          if (!xShapeOk(key, nonce24, sealed)) return null;
          const out = Buffer.allocUnsafe(sealed.length - AEAD_TAG_BYTES);
          if (b !== null) return b.crypto_aead_xchacha20poly1305_ietf_decrypt(out, sealed, ad, nonce24, key) === out.length ? out : null;
          try {
            // sodium-native throws (rather than returning -1) when the tag does not verify.
            s.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, sealed, ad, nonce24, key);
          } catch {
            return null;
          }
          return out;
        },
        sealInto(out, key, nonce24, plaintext, ad) {
          checkSealArgs(key, nonce24, XAEAD_NONCE_BYTES);
          checkIntoLength(out, plaintext.length + AEAD_TAG_BYTES);
          if (b !== null) {
            if (b.crypto_aead_xchacha20poly1305_ietf_encrypt(out, plaintext, ad, nonce24, key) !== out.length) {
              throw new Error('xchacha20poly1305 encryption failed');
            }
            return;
          }
          s.crypto_aead_xchacha20poly1305_ietf_encrypt(out, plaintext, ad, null, nonce24, key);
        },
        // The receive path: one native call into the caller's buffer, no allocation, no throw.
        openInto(out, key, nonce24, sealed, ad) {
          if (!xShapeOk(key, nonce24, sealed) || out.length !== sealed.length - AEAD_TAG_BYTES) return false;
          if (b !== null) {
            if (b.crypto_aead_xchacha20poly1305_ietf_decrypt(out, sealed, ad, nonce24, key) === out.length) return true;
            out.fill(0);
            return false;
          }
          try {
            s.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, sealed, ad, nonce24, key);
            return true;
          } catch {
            out.fill(0);
            return false;
          }
        },
      }
    : null;
  return sodiumXAeadCache;
}

/** Every XChaCha20-Poly1305 implementation available here, fastest first. */
export function aeadImplementations(): XAead[] {
  const s = sodiumXAead();
  return s ? [s, nodeXAead, nobleXAead] : [nodeXAead, nobleXAead];
}

/**
 * The fastest available implementation: sodium-native (about 3× node:crypto on 1200-byte frames,
 * see research/perf-anchors.md §2) when it loads, else node:crypto. Pass `{ native: false }` to
 * skip the addon.
 */
export function bestAead(opts: { native?: boolean } = {}): XAead {
  if (opts.native !== false) {
    const s = sodiumXAead();
    if (s) return s;
  }
  return nodeXAead;
}
