/**
 * Small BLAKE3 and Ed25519 kernels over @noble, for tests of code that takes injected crypto.
 * Independent of kernels/* (which hold the production kernels), so these tests do not move when
 * those change; the fast kernels implement the same interfaces.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { nobleBlake3 } from '../../kernels/blake3.js';
import type { Blake3Kernel, Ed25519Kernel, Ed25519Signer } from '../../kernels/types.js';

/** The @noble BLAKE3 reference kernel (kernels/blake3.ts). */
export const testBlake3: Blake3Kernel = nobleBlake3;

export const testEd25519: Ed25519Kernel = {
  name: 'test-noble-ed25519',
  signerFromSeed(seed: Uint8Array): Ed25519Signer {
    const secret = Uint8Array.from(seed);
    return { publicKey: ed25519.getPublicKey(secret), sign: (m) => ed25519.sign(m, secret) };
  },
  verify(signature, message, publicKey) {
    try {
      return signature.length === 64 && publicKey.length === 32 && ed25519.verify(signature, message, publicKey);
    } catch {
      return false;
    }
  },
  publicKeyToX25519(publicKey) {
    try {
      return ed25519.utils.toMontgomery(publicKey);
    } catch {
      return null;
    }
  },
  seedToX25519: (seed) => ed25519.utils.toMontgomerySecret(seed),
};

export const testCrypto = { blake3: testBlake3, ed25519: testEd25519 } as const;
