/**
 * Crypto for simulations: BLAKE3 and Ed25519 over @noble (the reference implementations), with
 * Ed25519 verification memoised across all simulated peers — thousands of peers verify the same
 * few signatures, and the result of a verification is a pure function of its inputs.
 */
import { Buffer } from 'node:buffer';
import { ed25519 } from '@noble/curves/ed25519.js';
import { nobleBlake3 } from '../../kernels/blake3.js';
import type { Blake3Kernel, Ed25519Kernel } from '../../kernels/types.js';

/** The @noble BLAKE3 reference kernel (kernels/blake3.ts). */
export const simBlake3: Blake3Kernel = nobleBlake3;

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function memoisedEd25519(limit = 1 << 16): Ed25519Kernel {
  const cache = new Map<string, boolean>();
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
