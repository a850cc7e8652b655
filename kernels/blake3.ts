/**
 * BLAKE3: hash, keyed hash and derive_key, with extendable output.
 *
 * Implementations of one interface:
 *   - blake3-jit (pure JS for small inputs, runtime-generated WASM SIMD for large ones; the
 *     fastest at our sizes, perf-anchors §4). Loaded by a dynamic import, so it is used when it
 *     is installed and everything still works without it.
 *   - hash-wasm (a reused `createBLAKE3()` hasher). hash-wasm fixes the output length and key
 *     when a hasher is created, and creation is async, so this kernel holds hashers made in
 *     advance for the output lengths and keys it was loaded with (`outLens`, `keys`); any other
 *     length or key, and derive_key (which hash-wasm lacks), fall back to @noble/hashes.
 *   - @noble/hashes (pure JS; the test oracle, and the synchronous default).
 *
 * Because blake3-jit and hash-wasm load asynchronously, call `await initBlake3()` once at
 * start-up: it prepares the fastest available kernel, and afterwards `bestBlake3()` returns it
 * synchronously. Before `initBlake3()` has finished, `bestBlake3()` returns the noble kernel —
 * correct, only slower.
 *
 * `derive_key` is used for cached pair keys only, so its speed matters little; blake3-jit still
 * implements it natively.
 */
import { createBLAKE3 } from 'hash-wasm';
import type { IHasher } from 'hash-wasm';
import { blake3 as nobleBlake3Fn } from '@noble/hashes/blake3.js';
import type { Blake3Kernel } from './types.js';

export const BLAKE3_KEY_BYTES = 32;
export const BLAKE3_OUT_BYTES = 32;
/** Largest output we produce; the XOF allows more, but nothing here needs it. */
export const BLAKE3_MAX_OUT_BYTES = 1 << 16;

function checkOutLen(outLen: number): void {
  if (!Number.isInteger(outLen) || outLen < 1 || outLen > BLAKE3_MAX_OUT_BYTES) {
    throw new RangeError(`BLAKE3 output length must be an integer in 1..${BLAKE3_MAX_OUT_BYTES}`);
  }
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== BLAKE3_KEY_BYTES) {
    throw new RangeError(`BLAKE3 key must be ${BLAKE3_KEY_BYTES} bytes`);
  }
}

const utf8 = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// @noble/hashes.

export const nobleBlake3: Blake3Kernel = {
  name: '@noble/hashes',
  hash(data, outLen = BLAKE3_OUT_BYTES) {
    checkOutLen(outLen);
    return nobleBlake3Fn(data, { dkLen: outLen });
  },
  keyedHash(key, data, outLen = BLAKE3_OUT_BYTES) {
    checkKey(key);
    checkOutLen(outLen);
    return nobleBlake3Fn(data, { key, dkLen: outLen });
  },
  deriveKey(context, material, outLen = BLAKE3_OUT_BYTES) {
    checkOutLen(outLen);
    return nobleBlake3Fn(material, { context: utf8.encode(context), dkLen: outLen });
  },
};

// ---------------------------------------------------------------------------------------------
// blake3-jit (optional).

/** The part of blake3-jit's API used here (typed locally so the build does not need the package). */
interface JitHasher {
  reset(): JitHasher;
  update(input: Uint8Array): JitHasher;
  finalize(outputLength?: number): Uint8Array;
  finalizeXof(): { read(length: number): Uint8Array };
}
interface Blake3JitModule {
  hash(input: Uint8Array, outputLength?: number): Uint8Array;
  createHasher(): JitHasher;
  createKeyed(key: Uint8Array): JitHasher;
  createDeriveKey(context: string): JitHasher;
  warmupSimd(): boolean;
}

function isJitModule(m: unknown): m is Blake3JitModule {
  const o = m as Partial<Blake3JitModule> | null;
  return (
    o !== null &&
    typeof o === 'object' &&
    typeof o.hash === 'function' &&
    typeof o.createHasher === 'function' &&
    typeof o.createKeyed === 'function' &&
    typeof o.createDeriveKey === 'function'
  );
}

let jitPromise: Promise<Blake3Kernel | null> | undefined;

/** The blake3-jit kernel, or null when the package is not installed. Loaded once. */
export function loadBlake3Jit(): Promise<Blake3Kernel | null> {
  jitPromise ??= (async () => {
    let mod: unknown;
    try {
      const specifier = 'blake3-jit'; // a variable, so tsc does not try to resolve the optional package
      mod = await import(specifier);
    } catch {
      return null;
    }
    if (!isJitModule(mod)) return null;
    const jit = mod;
    try {
      jit.warmupSimd(); // compiles the WASM SIMD path now rather than on the first large input
    } catch {
      // no SIMD: blake3-jit falls back to pure JS by itself
    }
    // blake3-jit 1.1.0 has two bugs above 64 output bytes, both caught by the official vectors:
    // the one-shot hash() throws, and Hasher.finalize(n > 64) returns a wrong value for inputs
    // longer than one chunk (it finalizes the tree twice). finalizeXof().read(n) is correct, so
    // long outputs go through it.
    const finish = (h: JitHasher, outLen: number): Uint8Array =>
      outLen <= 64 ? h.finalize(outLen) : h.finalizeXof().read(outLen);
    // derive_key hashers per context string; the protocol uses a handful of constant contexts.
    const deriveHashers = new Map<string, JitHasher>();
    const kernel: Blake3Kernel = {
      name: 'blake3-jit',
      hash(data, outLen = BLAKE3_OUT_BYTES) {
        checkOutLen(outLen);
        return outLen <= 64 ? jit.hash(data, outLen) : finish(jit.createHasher().update(data), outLen);
      },
      keyedHash(key, data, outLen = BLAKE3_OUT_BYTES) {
        checkKey(key);
        checkOutLen(outLen);
        // blake3-jit reads the key as 32-bit words: a key at an unaligned offset must be copied.
        return finish(jit.createKeyed(key.byteOffset % 4 === 0 ? key : Uint8Array.from(key)).update(data), outLen);
      },
      deriveKey(context, material, outLen = BLAKE3_OUT_BYTES) {
        checkOutLen(outLen);
        let h = deriveHashers.get(context);
        if (h === undefined) {
          h = jit.createDeriveKey(context);
          if (deriveHashers.size >= 64) deriveHashers.clear();
          deriveHashers.set(context, h);
        } else {
          h.reset();
        }
        return finish(h.update(material), outLen);
      },
    };
    return kernel;
  })();
  return jitPromise;
}

// ---------------------------------------------------------------------------------------------
// hash-wasm.

export interface HashWasmBlake3Options {
  /** Output lengths (bytes) to prepare plain hashers for; 32 is always included. */
  readonly outLens?: readonly number[];
  /** Keys to prepare keyed hashers for (each with every length in `outLens`). */
  readonly keys?: readonly Uint8Array[];
}

function keyId(key: Uint8Array, outLen: number): string {
  return `${outLen}:${Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex')}`;
}

/**
 * A hash-wasm kernel with hashers prepared for the given lengths and keys. Anything it was not
 * prepared for, and every derive_key, is computed by @noble/hashes (same result, slower).
 */
export async function loadHashWasmBlake3(opts: HashWasmBlake3Options = {}): Promise<Blake3Kernel> {
  const lens = [...new Set([BLAKE3_OUT_BYTES, ...(opts.outLens ?? [])])];
  for (const n of lens) checkOutLen(n);
  const plain = new Map<number, IHasher>();
  const keyed = new Map<string, IHasher>();
  for (const n of lens) {
    plain.set(n, await createBLAKE3(n * 8));
    for (const key of opts.keys ?? []) {
      checkKey(key);
      keyed.set(keyId(key, n), await createBLAKE3(n * 8, key));
    }
  }
  const run = (h: IHasher, data: Uint8Array): Uint8Array => {
    h.init();
    h.update(data);
    return h.digest('binary');
  };
  return {
    name: 'hash-wasm',
    hash(data, outLen = BLAKE3_OUT_BYTES) {
      checkOutLen(outLen);
      const h = plain.get(outLen);
      return h ? run(h, data) : nobleBlake3.hash(data, outLen);
    },
    keyedHash(key, data, outLen = BLAKE3_OUT_BYTES) {
      checkKey(key);
      checkOutLen(outLen);
      const h = keyed.size > 0 ? keyed.get(keyId(key, outLen)) : undefined;
      return h ? run(h, data) : nobleBlake3.keyedHash(key, data, outLen);
    },
    deriveKey: (context, material, outLen) => nobleBlake3.deriveKey(context, material, outLen),
  };
}

// ---------------------------------------------------------------------------------------------
// Selection.

let best: Blake3Kernel = nobleBlake3;
let initPromise: Promise<Blake3Kernel> | undefined;

/**
 * Prepares the fastest available kernel once — blake3-jit if installed, else hash-wasm — and
 * makes `bestBlake3()` return it. Safe to call many times; every call returns the same promise.
 */
export function initBlake3(): Promise<Blake3Kernel> {
  initPromise ??= (async () => {
    const jit = await loadBlake3Jit();
    let chosen: Blake3Kernel;
    if (jit) {
      chosen = jit;
    } else {
      try {
        chosen = await loadHashWasmBlake3();
      } catch {
        chosen = nobleBlake3; // no WebAssembly here
      }
    }
    best = chosen;
    return chosen;
  })();
  return initPromise;
}

/** The kernel `initBlake3()` prepared, or @noble/hashes until it has finished. */
export function bestBlake3(): Blake3Kernel {
  return best;
}

/**
 * Every BLAKE3 implementation available here, fastest first (tests and benchmarks iterate over
 * these). The hash-wasm kernel gets hashers for `opts`.
 */
export async function blake3Implementations(opts: HashWasmBlake3Options = {}): Promise<Blake3Kernel[]> {
  const out: Blake3Kernel[] = [];
  const jit = await loadBlake3Jit();
  if (jit) out.push(jit);
  out.push(await loadHashWasmBlake3(opts));
  out.push(nobleBlake3);
  return out;
}
