/**
 * Crypto for simulations. By default a cheap deterministic stand-in: BLAKE3 from the fastest
 * kernel loaded here, and an Ed25519 stand-in whose public key is a hash of the seed and whose
 * signature is a keyed hash of the message (it binds message and key, which is all the core
 * checks; it is not unforgeable, and simulated peers do not forge). `--real-crypto` uses the
 * @noble reference implementations, with Ed25519 verification memoised across peers.
 */
import { Buffer } from 'node:buffer';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bestBlake3, nobleBlake3 } from '../../kernels/blake3.js';
import type { Blake3Kernel, Ed25519Kernel } from '../../kernels/types.js';
import type { ConsensusCrypto } from '../../consensus/peer.js';

function standInEd25519(blake3: Blake3Kernel): Ed25519Kernel {
  const sign = (publicKey: Uint8Array, m: Uint8Array): Uint8Array => blake3.keyedHash(publicKey, m, 64);
  return {
    name: 'sim-stand-in-ed25519',
    signerFromSeed(seed) {
      const publicKey = blake3.deriveKey('ecd sim stand-in public key', seed);
      return { publicKey, sign: (m) => sign(publicKey, m) };
    },
    verify(signature, message, publicKey) {
      if (signature.length !== 64 || publicKey.length !== 32) return false;
      const want = sign(publicKey, message);
      for (let i = 0; i < 64; i++) if (want[i] !== signature[i]) return false;
      return true;
    },
    publicKeyToX25519: () => null,
    seedToX25519: (seed) => blake3.deriveKey('ecd sim stand-in x25519', seed),
  };
}

function memoisedNobleEd25519(limit = 1 << 16): Ed25519Kernel {
  const cache = new Map<string, boolean>();
  const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  return {
    name: 'sim-noble-ed25519-memo',
    signerFromSeed(seed) {
      const secret = Uint8Array.from(seed);
      return { publicKey: ed25519.getPublicKey(secret), sign: (m) => ed25519.sign(m, secret) };
    },
    verify(signature, message, publicKey) {
      const k = hex(signature) + hex(publicKey) + hex(message);
      const hit = cache.get(k);
      if (hit !== undefined) return hit;
      let ok = false;
      try {
        ok = signature.length === 64 && publicKey.length === 32 && ed25519.verify(signature, message, publicKey);
      } catch {
        ok = false;
      }
      if (cache.size >= limit) cache.clear();
      cache.set(k, ok);
      return ok;
    },
    publicKeyToX25519: () => null,
    seedToX25519: (seed) => ed25519.utils.toMontgomerySecret(seed),
  };
}

export function fastSimCrypto(): ConsensusCrypto {
  const blake3 = bestBlake3();
  return { blake3, ed25519: standInEd25519(blake3) };
}

export function nobleSimCrypto(): ConsensusCrypto {
  return { blake3: nobleBlake3, ed25519: memoisedNobleEd25519() };
}
