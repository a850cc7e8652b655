/**
 * The Ed25519 and BLAKE3 kernels identity code runs on. Until kernels/crypto.ts (loadCrypto) exists,
 * a small @noble adapter stands in behind the same interfaces; `loadIdentityCrypto()` is the one
 * place that switches. Identity functions take `{ ed25519, blake3 }` as a parameter and never
 * import a crypto library themselves.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { blake3 } from '@noble/hashes/blake3.js';
import type { Blake3Kernel, Ed25519Kernel, Ed25519Signer } from '../kernels/types.js';

export interface IdentityCrypto {
  readonly ed25519: Ed25519Kernel;
  readonly blake3: Blake3Kernel;
}

const utf8 = new TextEncoder();

class NobleEd25519 implements Ed25519Kernel {
  readonly name = 'noble-ed25519';

  signerFromSeed(seed: Uint8Array): Ed25519Signer {
    if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes');
    const secret = seed.slice();
    const publicKey = ed25519.getPublicKey(secret);
    return { publicKey, sign: (message) => ed25519.sign(message, secret) };
  }

  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    try {
      // RFC 8032 strict (not ZIP-215): the same set of signatures libsodium accepts.
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  }

  publicKeyToX25519(publicKey: Uint8Array): Uint8Array | null {
    try {
      return ed25519.utils.toMontgomery(publicKey);
    } catch {
      return null;
    }
  }

  seedToX25519(seed: Uint8Array): Uint8Array {
    return ed25519.utils.toMontgomerySecret(seed);
  }
}

class NobleBlake3 implements Blake3Kernel {
  readonly name = 'noble-blake3';
  hash(data: Uint8Array, outLen = 32): Uint8Array {
    return blake3(data, { dkLen: outLen });
  }
  keyedHash(key: Uint8Array, data: Uint8Array, outLen = 32): Uint8Array {
    return blake3(data, { key, dkLen: outLen });
  }
  deriveKey(context: string, material: Uint8Array, outLen = 32): Uint8Array {
    return blake3(material, { context: utf8.encode(context), dkLen: outLen });
  }
}

/** The @noble stand-in, usable synchronously anywhere (including worker threads). */
export function nobleIdentityCrypto(): IdentityCrypto {
  return { ed25519: new NobleEd25519(), blake3: new NobleBlake3() };
}

/** Where the shared crypto kernels will live (resolved relative to this file, in dist/wire/). */
const KERNELS_CRYPTO_MODULE = '../kernels/crypto.js';

/**
 * The project's crypto kernels when kernels/crypto.ts is built, else the @noble stand-in. A module
 * that exists but fails to load is an error, not a silent fallback.
 */
export async function loadIdentityCrypto(): Promise<IdentityCrypto> {
  let mod: { loadCrypto?: () => Promise<IdentityCrypto> };
  try {
    mod = (await import(KERNELS_CRYPTO_MODULE)) as typeof mod;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('kernels/crypto.js')) return nobleIdentityCrypto();
    throw err;
  }
  if (typeof mod.loadCrypto !== 'function') return nobleIdentityCrypto();
  const c = await mod.loadCrypto();
  return { ed25519: c.ed25519, blake3: c.blake3 };
}
