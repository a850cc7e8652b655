/**
 * X25519 (RFC 7748) key agreement.
 *
 * Three implementations of one interface:
 *   - sodium-native `crypto_scalarmult` (optional dependency),
 *   - node:crypto `diffieHellman` on KeyObjects built from raw keys (small LRUs of KeyObjects),
 *   - @noble/curves `x25519` (pure JS; the test oracle).
 * `bestX25519()` picks sodium-native when it loads, else node:crypto.
 *
 * `sharedSecret()` returns null when the result is all-zero — a low-order or small-order peer
 * key, RFC 7748 §6.1 — in every implementation (libsodium and OpenSSL refuse that result
 * themselves; the check is repeated here so the rule does not depend on the library), and also
 * for wrong input lengths. It never throws.
 */
import { createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import type { X25519Kernel } from './types.js';
import { loadSodiumNative } from './aead.js';
import { BoundedLru } from './ed25519.js';

export const X25519_KEY_BYTES = 32;

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** DER prefixes that turn a raw 32-byte key into PKCS#8 / SPKI (RFC 8410). */
const X25519_PKCS8_PREFIX = hexToBytes('302e020100300506032b656e04220420');
const X25519_SPKI_PREFIX = hexToBytes('302a300506032b656e032100');

function withPrefix(prefix: Uint8Array, raw: Uint8Array): Buffer {
  const der = Buffer.allocUnsafe(prefix.length + raw.length);
  der.set(prefix, 0);
  der.set(raw, prefix.length);
  return der;
}

function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

function keyOk(k: Uint8Array): boolean {
  return k instanceof Uint8Array && k.length === X25519_KEY_BYTES;
}

function checkSecret(secret: Uint8Array): void {
  if (!keyOk(secret)) throw new RangeError(`X25519 secret must be ${X25519_KEY_BYTES} bytes`);
}

function idOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
}

export interface NodeX25519Options {
  /** Own secret keys kept as KeyObjects (default 4: a daemon normally has one). */
  readonly secretKeyCacheSize?: number;
  /** Peer public keys kept as KeyObjects (default 256; pair keys are cached above this layer). */
  readonly publicKeyCacheSize?: number;
}

/**
 * X25519 on node:crypto. Importing a raw key costs about as much as the scalar multiplication
 * itself (perf-anchors §3), hence the KeyObject caches.
 */
export function createNodeX25519(opts: NodeX25519Options = {}): X25519Kernel {
  const secrets = new BoundedLru<KeyObject>(Math.max(1, opts.secretKeyCacheSize ?? 4));
  const publics = new BoundedLru<KeyObject>(Math.max(1, opts.publicKeyCacheSize ?? 256));

  function privateKeyObject(secret: Uint8Array): KeyObject {
    const id = idOf(secret);
    let key = secrets.get(id);
    if (key === undefined) {
      const der = withPrefix(X25519_PKCS8_PREFIX, secret);
      key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      der.fill(0);
      secrets.set(id, key);
    }
    return key;
  }

  function publicKeyObject(pub: Uint8Array): KeyObject {
    const id = idOf(pub);
    let key = publics.get(id);
    if (key === undefined) {
      key = createPublicKey({ key: withPrefix(X25519_SPKI_PREFIX, pub), format: 'der', type: 'spki' });
      publics.set(id, key);
    }
    return key;
  }

  return {
    name: 'node:crypto',
    publicKey(secret) {
      checkSecret(secret);
      const spki = createPublicKey(privateKeyObject(secret)).export({ format: 'der', type: 'spki' });
      return Uint8Array.from(spki.subarray(spki.length - X25519_KEY_BYTES));
    },
    sharedSecret(secret, theirPublic) {
      if (!keyOk(secret) || !keyOk(theirPublic)) return null;
      let out: Buffer;
      try {
        // OpenSSL fails the derivation itself when the result is all-zero.
        out = diffieHellman({ privateKey: privateKeyObject(secret), publicKey: publicKeyObject(theirPublic) });
      } catch {
        return null;
      }
      if (out.length !== X25519_KEY_BYTES || isAllZero(out)) return null;
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    },
  };
}

/** A shared node:crypto instance with the default caches. */
export const nodeX25519: X25519Kernel = createNodeX25519();

export const nobleX25519: X25519Kernel = {
  name: '@noble/curves',
  publicKey(secret) {
    checkSecret(secret);
    return x25519.getPublicKey(secret);
  },
  sharedSecret(secret, theirPublic) {
    if (!keyOk(secret) || !keyOk(theirPublic)) return null;
    let out: Uint8Array;
    try {
      out = x25519.getSharedSecret(secret, theirPublic); // throws on an all-zero result
    } catch {
      return null;
    }
    return isAllZero(out) ? null : out;
  },
};

let sodiumXCache: X25519Kernel | null | undefined;

/** libsodium's crypto_scalarmult, or null without sodium-native. */
export function sodiumX25519(): X25519Kernel | null {
  if (sodiumXCache !== undefined) return sodiumXCache;
  const s = loadSodiumNative();
  sodiumXCache = s
    ? {
        name: 'sodium-native',
        publicKey(secret) {
          checkSecret(secret);
          const out = new Uint8Array(X25519_KEY_BYTES);
          s.crypto_scalarmult_base(out, secret);
          return out;
        },
        sharedSecret(secret, theirPublic) {
          if (!keyOk(secret) || !keyOk(theirPublic)) return null;
          const out = new Uint8Array(X25519_KEY_BYTES);
          try {
            s.crypto_scalarmult(out, secret, theirPublic); // throws on an all-zero result
          } catch {
            return null;
          }
          return isAllZero(out) ? null : out;
        },
      }
    : null;
  return sodiumXCache;
}

/** Every X25519 implementation available here, fastest first. */
export function x25519Implementations(): X25519Kernel[] {
  const s = sodiumX25519();
  return s ? [s, nodeX25519, nobleX25519] : [nodeX25519, nobleX25519];
}

/** sodium-native when it loads, else node:crypto (0.87× sodium, perf-anchors §3). */
export function bestX25519(opts: { native?: boolean } = {}): X25519Kernel {
  if (opts.native !== false) {
    const s = sodiumX25519();
    if (s) return s;
  }
  return nodeX25519;
}
