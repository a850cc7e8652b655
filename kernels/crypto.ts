/**
 * One place to get the crypto kernels the daemon uses.
 *
 *   const crypto = await loadCrypto();                  // fastest available
 *   const portable = await loadCrypto({ native: false }); // no native addon (sodium-native)
 *   const reference = await loadCrypto({ reference: true }); // pure-JS noble everywhere (slow)
 *
 * Without options: sodium-native for the AEAD, Ed25519 and X25519 when its addon loads, else
 * node:crypto; BLAKE3 from blake3-jit if installed, else hash-wasm. Async only because the WASM
 * BLAKE3 kernels load asynchronously.
 */
import type { Blake3Kernel, Ed25519Kernel, X25519Kernel, XAead } from './types.js';
import { bestAead, nobleXAead } from './aead.js';
import { bestEd25519, nobleEd25519 } from './ed25519.js';
import { bestX25519, nobleX25519 } from './x25519.js';
import { initBlake3, nobleBlake3 } from './blake3.js';

export interface CryptoKernels {
  readonly aead: XAead;
  readonly ed25519: Ed25519Kernel;
  readonly x25519: X25519Kernel;
  readonly blake3: Blake3Kernel;
}

export interface LoadCryptoOptions {
  /** Allow the native sodium-native addon (default true). false: node:crypto and WASM/JS only. */
  readonly native?: boolean;
  /** Use the pure-JS @noble implementations for everything (for debugging; default false). */
  readonly reference?: boolean;
}

export async function loadCrypto(opts: LoadCryptoOptions = {}): Promise<CryptoKernels> {
  if (opts.reference === true) {
    return { aead: nobleXAead, ed25519: nobleEd25519, x25519: nobleX25519, blake3: nobleBlake3 };
  }
  const native = opts.native !== false;
  return {
    aead: bestAead({ native }),
    ed25519: bestEd25519({ native }),
    x25519: bestX25519({ native }),
    blake3: await initBlake3(),
  };
}

/** The implementation names, e.g. for a startup log line or `ecd bench`. */
export function describeCrypto(k: CryptoKernels): Record<keyof CryptoKernels, string> {
  return { aead: k.aead.name, ed25519: k.ed25519.name, x25519: k.x25519.name, blake3: k.blake3.name };
}
