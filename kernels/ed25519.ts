/**
 * Ed25519 (RFC 8032) signing and verification, plus the birational map to X25519 keys.
 *
 * Three implementations of one interface:
 *   - sodium-native (libsodium; optional dependency),
 *   - node:crypto (OpenSSL; raw keys wrapped in fixed DER prefixes, verify KeyObjects cached per
 *     public key in a small bounded LRU),
 *   - @noble/curves (pure JS; the test oracle).
 * `bestEd25519()` picks sodium-native when it loads, else node:crypto.
 *
 * One acceptance rule for all three. libsodium is the strictest of the three libraries: it
 * rejects a non-canonical S (S ≥ L), a non-canonical or small-order public key A, and a
 * small-order or non-canonical R; OpenSSL and noble accept some of those (OpenSSL verifies an
 * all-identity signature for any message under the identity key). Peers running different
 * implementations must agree on which signatures are valid, so every implementation runs the
 * same cheap pre-check (`signatureShapeOk`) before the library call. After it, sodium-native and
 * node:crypto agree on every input (both verify cofactorless and compare R byte for byte). noble
 * verifies cofactored, so it can still differ from them on signatures built with mixed-order
 * points; it is only the oracle and never the production choice.
 *
 * `verify()` never throws: malformed input of any kind is simply `false`.
 */
import { createHash, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import type { Ed25519Kernel, Ed25519Signer } from './types.js';
import { loadSodiumNative } from './aead.js';

export const ED25519_SEED_BYTES = 32;
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

// ---------------------------------------------------------------------------------------------
// The shared pre-check.

function leBytes(n: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** Group order L, little-endian. */
const L_LE = leBytes((1n << 252n) + 27742317777372353535851937790883648493n, 32);
/** Field prime p = 2^255 − 19, little-endian. */
const P_LE = leBytes((1n << 255n) - 19n, 32);

/** a[off..off+32] (with bit 255 cleared when `maskTop`) < bound, both little-endian. */
function lessThan(a: Uint8Array, off: number, bound: Uint8Array, maskTop: boolean): boolean {
  for (let i = 31; i >= 0; i--) {
    const x = i === 31 && maskTop ? a[off + i]! & 0x7f : a[off + i]!;
    const y = bound[i]!;
    if (x !== y) return x < y;
  }
  return false;
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/**
 * The y-coordinates of the eight points of order dividing 8 (y = 1, −1, 0 and the two order-8
 * values), as libsodium's `ge25519_has_small_order` lists them; the sign bit is ignored. The
 * non-canonical encodings p and p+1 of 0 and 1 are caught by the canonical check instead.
 */
const SMALL_ORDER_Y: readonly Uint8Array[] = [
  '0000000000000000000000000000000000000000000000000000000000000000', // y = 0 (order 4)
  '0100000000000000000000000000000000000000000000000000000000000000', // y = 1 (identity)
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p − 1 (order 2)
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
].map(hexToBytes);

/** True when the 32-byte point encoding at `off` has y < p (bit 255 is the sign of x). */
export function isCanonicalPoint(b: Uint8Array, off = 0): boolean {
  return lessThan(b, off, P_LE, true);
}

/** True when the 32-byte encoding at `off` is one of the eight small-order points (any sign bit). */
export function isSmallOrderPoint(b: Uint8Array, off = 0): boolean {
  for (const y of SMALL_ORDER_Y) {
    let diff = (b[off + 31]! & 0x7f) ^ y[31]!;
    for (let i = 0; i < 31 && diff === 0; i++) diff |= b[off + i]! ^ y[i]!;
    if (diff === 0) return true;
  }
  return false;
}

/**
 * The checks every implementation makes before verifying: exact lengths, S < L, A and R
 * canonical and not of small order.
 */
export function signatureShapeOk(signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || !(publicKey instanceof Uint8Array)) return false;
  if (signature.length !== ED25519_SIGNATURE_BYTES || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  if (!lessThan(signature, 32, L_LE, false)) return false;
  if (!isCanonicalPoint(publicKey) || isSmallOrderPoint(publicKey)) return false;
  if (!isCanonicalPoint(signature, 0) || isSmallOrderPoint(signature, 0)) return false;
  return true;
}

function checkSeed(seed: Uint8Array): void {
  if (seed.length !== ED25519_SEED_BYTES) throw new RangeError(`Ed25519 seed must be ${ED25519_SEED_BYTES} bytes`);
}

/** SHA-512(seed)[0..32], clamped: the X25519 scalar of an Ed25519 key (RFC 8032 §5.1.5). */
function clampedSeedScalar(seed: Uint8Array): Uint8Array {
  checkSeed(seed);
  const h = createHash('sha512').update(seed).digest();
  const out = new Uint8Array(32);
  out.set(h.subarray(0, 32));
  h.fill(0);
  out[0]! &= 248;
  out[31]! &= 127;
  out[31]! |= 64;
  return out;
}

/**
 * The libsodium rule for converting an Ed25519 public key to X25519: a canonical encoding of a
 * point on the curve, not of small order and in the prime-order subgroup. node:crypto has no
 * birational map, so the node and noble implementations both use noble's point arithmetic here
 * (about 1.3 ms, the subgroup check being a full scalar multiplication; it runs only when a pair
 * key is missing from its cache).
 */
function nobleEdToX25519(publicKey: Uint8Array): Uint8Array | null {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return null;
  if (!isCanonicalPoint(publicKey) || isSmallOrderPoint(publicKey)) return null;
  try {
    const point = ed25519.Point.fromBytes(publicKey, false);
    if (point.isSmallOrder() || !point.isTorsionFree()) return null;
    return ed25519.utils.toMontgomery(publicKey);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// A small bounded cache, approximately LRU. Also used by x25519.ts for its KeyObject caches.

/**
 * Two generations of at most max/2 entries each, the scheme of `GenerationalCache` in
 * wire/replay.ts (kernels may not import wire, STYLE §4): a lookup checks the current
 * generation, then the previous one (a hit there moves the entry forward); when the current one
 * fills it becomes the previous one and the old previous one is dropped whole. At most `max`
 * entries; one unused for max/2 to max insertions is evicted.
 *
 * Why not the obvious Map LRU (delete + set on every hit): V8's ordered hash table keeps a hole
 * per deleted entry until it rehashes, so re-touching one key makes every lookup slower until
 * then. Measured here: a same-key hit cost 4.5 µs on a full 256-entry map and 8 µs on a
 * 1 024-entry one (the node:crypto verify-key cache), against well under 1 µs here. Only the
 * node:crypto fallback paths use this cache, never the per-frame path.
 */
export class BoundedLru<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();
  private readonly half: number;

  constructor(max: number) {
    this.half = Math.max(1, Math.floor(max / 2));
  }

  get(k: string): V | undefined {
    const v = this.current.get(k);
    if (v !== undefined) return v;
    const p = this.previous.get(k);
    if (p === undefined) return undefined;
    this.previous.delete(k);
    this.append(k, p);
    return p;
  }

  set(k: string, v: V): void {
    if (this.current.has(k)) {
      this.current.set(k, v);
      return;
    }
    this.previous.delete(k);
    this.append(k, v);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  private append(k: string, v: V): void {
    this.current.set(k, v);
    if (this.current.size >= this.half) {
      this.previous = this.current;
      this.current = new Map();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// node:crypto.

/** DER prefixes that turn a raw 32-byte key into PKCS#8 / SPKI (RFC 8410). */
const ED25519_PKCS8_PREFIX = hexToBytes('302e020100300506032b657004220420');
const ED25519_SPKI_PREFIX = hexToBytes('302a300506032b6570032100');

function withPrefix(prefix: Uint8Array, raw: Uint8Array): Buffer {
  const der = Buffer.allocUnsafe(prefix.length + raw.length);
  der.set(prefix, 0);
  der.set(raw, prefix.length);
  return der;
}

export interface NodeEd25519Options {
  /** How many public-key KeyObjects to keep for verification (default 1024). */
  readonly verifyKeyCacheSize?: number;
}

/** Ed25519 on node:crypto (OpenSSL). Each instance owns its own verify-key LRU. */
export function createNodeEd25519(opts: NodeEd25519Options = {}): Ed25519Kernel {
  const cache = new BoundedLru<KeyObject>(Math.max(1, opts.verifyKeyCacheSize ?? 1024));

  function verifyKey(publicKey: Uint8Array): KeyObject {
    const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('latin1');
    let key = cache.get(id);
    if (key === undefined) {
      key = createPublicKey({ key: withPrefix(ED25519_SPKI_PREFIX, publicKey), format: 'der', type: 'spki' });
      cache.set(id, key);
    }
    return key;
  }

  return {
    name: 'node:crypto',
    signerFromSeed(seed: Uint8Array): Ed25519Signer {
      checkSeed(seed);
      const der = withPrefix(ED25519_PKCS8_PREFIX, seed);
      const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      der.fill(0);
      const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
      const publicKey = Uint8Array.from(spki.subarray(spki.length - ED25519_PUBLIC_KEY_BYTES));
      return {
        publicKey,
        sign(message: Uint8Array): Uint8Array {
          const sig = nodeSign(null, message, privateKey);
          return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
        },
      };
    },
    verify(signature, message, publicKey) {
      if (!signatureShapeOk(signature, publicKey) || !(message instanceof Uint8Array)) return false;
      try {
        return nodeVerify(null, message, verifyKey(publicKey), signature);
      } catch {
        return false;
      }
    },
    publicKeyToX25519: nobleEdToX25519,
    seedToX25519: clampedSeedScalar,
  };
}

/** A shared node:crypto instance (verify-key cache of 1024). */
export const nodeEd25519: Ed25519Kernel = createNodeEd25519();

// ---------------------------------------------------------------------------------------------
// @noble/curves.

export const nobleEd25519: Ed25519Kernel = {
  name: '@noble/curves',
  signerFromSeed(seed) {
    checkSeed(seed);
    const secret = Uint8Array.from(seed);
    const publicKey = ed25519.getPublicKey(secret);
    return {
      publicKey,
      sign: (message) => ed25519.sign(message, secret),
    };
  },
  verify(signature, message, publicKey) {
    if (!signatureShapeOk(signature, publicKey) || !(message instanceof Uint8Array)) return false;
    try {
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
  publicKeyToX25519: nobleEdToX25519,
  seedToX25519(seed) {
    checkSeed(seed);
    return ed25519.utils.toMontgomerySecret(seed);
  },
};

// ---------------------------------------------------------------------------------------------
// sodium-native.

let sodiumEdCache: Ed25519Kernel | null | undefined;

/** libsodium's Ed25519, or null without sodium-native. */
export function sodiumEd25519(): Ed25519Kernel | null {
  if (sodiumEdCache !== undefined) return sodiumEdCache;
  const s = loadSodiumNative();
  sodiumEdCache = s
    ? {
        name: 'sodium-native',
        signerFromSeed(seed) {
          checkSeed(seed);
          const publicKey = new Uint8Array(32);
          const secretKey = new Uint8Array(64); // seed ‖ public key, libsodium's signing form
          s.crypto_sign_seed_keypair(publicKey, secretKey, seed);
          return {
            publicKey,
            sign(message) {
              const sig = new Uint8Array(ED25519_SIGNATURE_BYTES);
              s.crypto_sign_detached(sig, message, secretKey);
              return sig;
            },
          };
        },
        verify(signature, message, publicKey) {
          if (!signatureShapeOk(signature, publicKey) || !(message instanceof Uint8Array)) return false;
          try {
            return s.crypto_sign_verify_detached(signature, message, publicKey);
          } catch {
            return false;
          }
        },
        publicKeyToX25519(publicKey) {
          if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return null;
          // libsodium reduces a non-canonical y instead of rejecting it; the other paths reject.
          if (!isCanonicalPoint(publicKey)) return null;
          const out = new Uint8Array(32);
          try {
            s.crypto_sign_ed25519_pk_to_curve25519(out, publicKey);
          } catch {
            return null;
          }
          return out;
        },
        seedToX25519(seed) {
          checkSeed(seed);
          const pk = new Uint8Array(32);
          const sk = new Uint8Array(64);
          s.crypto_sign_seed_keypair(pk, sk, seed);
          const out = new Uint8Array(32);
          s.crypto_sign_ed25519_sk_to_curve25519(out, sk);
          sk.fill(0);
          return out;
        },
      }
    : null;
  return sodiumEdCache;
}

/** Every Ed25519 implementation available here, fastest first. */
export function ed25519Implementations(): Ed25519Kernel[] {
  const s = sodiumEd25519();
  return s ? [s, nodeEd25519, nobleEd25519] : [nodeEd25519, nobleEd25519];
}

/**
 * sodium-native (about 2× node:crypto for sign and verify, perf-anchors §3) when it loads, else
 * node:crypto. `{ native: false }` skips the addon.
 */
export function bestEd25519(opts: { native?: boolean } = {}): Ed25519Kernel {
  if (opts.native !== false) {
    const s = sodiumEd25519();
    if (s) return s;
  }
  return nodeEd25519;
}
