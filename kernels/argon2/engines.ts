/**
 * Adapters that put every Argon2id implementation we can measure behind the interfaces in
 * ../types.ts, plus the one place that decides which kernel is "ours".
 *
 * - hash-wasm: always installed; async-only API (it instantiates its WASM per call). The oracle in
 *   differential tests and the stand-in for our kernel until kernels/argon2/wasm.ts is built.
 * - sodium-native (optional): crypto_pwhash (sync) / crypto_pwhash_async (libuv threadpool).
 *   libsodium fixes p = 1 and a 16-byte salt and has no secret or associated data.
 * - argon2 npm (optional): phc-winner-argon2 on the libuv threadpool, async only; full RFC 9106.
 *
 * Optional packages are loaded with createRequire inside try/catch so a missing or broken native
 * build is reported as a reason string, never as a crash.
 */
import { createRequire } from 'node:module';
import { argon2id as hashWasmArgon2id } from 'hash-wasm';
import type {
  Argon2idEngine,
  Argon2idEngineName,
  Argon2idRequest,
  Argon2idSyncKernel,
} from '../types.js';
import { Argon2idError, argon2idRequestProblem } from './params.js';

/** The outcome of loading an optional engine: the engine, or a one-line reason it is unavailable. */
export type Loaded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** A kernel of either shape. Worker threads run both; `computeArgon2id` awaits only the async one. */
export type Argon2idAnyKernel = Argon2idSyncKernel | Argon2idEngine;

export function isSyncKernel(kernel: Argon2idAnyKernel): kernel is Argon2idSyncKernel {
  return typeof (kernel as Partial<Argon2idSyncKernel>).hashSync === 'function';
}

/** Runs the request on `kernel`; synchronous kernels return the tag directly (no microtask per hash). */
export function computeArgon2id(kernel: Argon2idAnyKernel, req: Argon2idRequest): Uint8Array | Promise<Uint8Array> {
  return isSyncKernel(kernel) ? kernel.hashSync(req) : kernel.hash(req);
}

const isEmpty = (b: Uint8Array | undefined): boolean => b === undefined || b.length === 0;

function checkRequest(req: Argon2idRequest): void {
  const problem = argon2idRequestProblem(req);
  if (problem !== null) throw new Argon2idError('BAD_PARAMS', problem);
}

// ---------------------------------------------------------------------------------------------
// hash-wasm

/**
 * hash-wasm's argon2id: every RFC 9106 input except associated data (it always hashes X = "") and
 * an empty password (its validation refuses one).
 */
class HashWasmEngine implements Argon2idEngine {
  readonly name = 'hash-wasm' as const;
  #closed = false;

  supports(req: Argon2idRequest): boolean {
    return argon2idRequestProblem(req) === null && isEmpty(req.ad) && req.password.length > 0;
  }

  async hash(req: Argon2idRequest): Promise<Uint8Array> {
    if (this.#closed) throw new Argon2idError('CLOSED', 'the hash-wasm engine is closed');
    checkRequest(req);
    if (!this.supports(req)) throw new Argon2idError('UNSUPPORTED', 'hash-wasm cannot hash associated data or an empty password');
    const { mKiB, t, p, outLen } = req.params;
    const out = await hashWasmArgon2id({
      password: req.password,
      salt: req.salt,
      ...(isEmpty(req.secret) ? {} : { secret: req.secret as Uint8Array }),
      iterations: t,
      parallelism: p,
      memorySize: mKiB,
      hashLength: outLen,
      outputType: 'binary',
    });
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

export function hashWasmEngine(): Argon2idEngine {
  return new HashWasmEngine();
}

// ---------------------------------------------------------------------------------------------
// optional native packages

const requireOptional = createRequire(import.meta.url);

/** Loads an optional CommonJS package; "<pkg> is not installed" or "<pkg> failed to load: …" otherwise. */
export function loadOptional<T>(pkg: string): Loaded<T> {
  try {
    return { ok: true, value: requireOptional(pkg) as T };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(`'${pkg}'`)) {
      return { ok: false, reason: `${pkg} is not installed` };
    }
    const first = String(e.message ?? e).split('\n')[0];
    return { ok: false, reason: `${pkg} failed to load: ${first}` };
  }
}

/** The slice of sodium-native this module uses. */
interface SodiumPwhash {
  crypto_pwhash(out: Uint8Array, passwd: Uint8Array, salt: Uint8Array, opslimit: number, memlimit: number, alg: number): void;
  crypto_pwhash_async(out: Uint8Array, passwd: Uint8Array, salt: Uint8Array, opslimit: number, memlimit: number, alg: number): Promise<void>;
  readonly crypto_pwhash_ALG_ARGON2ID13: number;
  readonly crypto_pwhash_SALTBYTES: number;
  readonly crypto_pwhash_BYTES_MIN: number;
  readonly crypto_pwhash_BYTES_MAX: number;
  readonly crypto_pwhash_OPSLIMIT_MIN: number;
  readonly crypto_pwhash_OPSLIMIT_MAX: number;
  readonly crypto_pwhash_MEMLIMIT_MIN: number;
  readonly crypto_pwhash_MEMLIMIT_MAX: number;
  readonly crypto_pwhash_PASSWD_MAX?: number;
}

function sodiumSupports(s: SodiumPwhash, req: Argon2idRequest): boolean {
  if (argon2idRequestProblem(req) !== null) return false;
  const { mKiB, t, p, outLen } = req.params;
  const memlimit = mKiB * 1024;
  return (
    p === 1 &&
    req.salt.length === s.crypto_pwhash_SALTBYTES &&
    isEmpty(req.secret) &&
    isEmpty(req.ad) &&
    outLen >= s.crypto_pwhash_BYTES_MIN &&
    outLen <= s.crypto_pwhash_BYTES_MAX &&
    t >= s.crypto_pwhash_OPSLIMIT_MIN &&
    t <= s.crypto_pwhash_OPSLIMIT_MAX &&
    memlimit >= s.crypto_pwhash_MEMLIMIT_MIN &&
    memlimit <= s.crypto_pwhash_MEMLIMIT_MAX &&
    (s.crypto_pwhash_PASSWD_MAX === undefined || req.password.length <= s.crypto_pwhash_PASSWD_MAX)
  );
}

function sodiumUnsupported(): Argon2idError {
  return new Argon2idError(
    'UNSUPPORTED',
    'libsodium computes only p = 1, a 16-byte salt, no secret and no associated data',
  );
}

class SodiumSyncKernel implements Argon2idSyncKernel {
  readonly name = 'native-sodium' as const;
  constructor(readonly sodium: SodiumPwhash) {}

  supports(req: Argon2idRequest): boolean {
    return sodiumSupports(this.sodium, req);
  }

  hashSync(req: Argon2idRequest): Uint8Array {
    checkRequest(req);
    if (!this.supports(req)) throw sodiumUnsupported();
    const out = new Uint8Array(req.params.outLen);
    const s = this.sodium;
    s.crypto_pwhash(out, req.password, req.salt, req.params.t, req.params.mKiB * 1024, s.crypto_pwhash_ALG_ARGON2ID13);
    return out;
  }
}

/** crypto_pwhash_async: runs on the libuv threadpool (UV_THREADPOOL_SIZE threads, 4 by default). */
class SodiumAsyncEngine implements Argon2idEngine {
  readonly name = 'native-sodium' as const;
  #closed = false;
  constructor(readonly sodium: SodiumPwhash) {}

  supports(req: Argon2idRequest): boolean {
    return sodiumSupports(this.sodium, req);
  }

  async hash(req: Argon2idRequest): Promise<Uint8Array> {
    if (this.#closed) throw new Argon2idError('CLOSED', 'the sodium-native engine is closed');
    checkRequest(req);
    if (!this.supports(req)) throw sodiumUnsupported();
    const out = new Uint8Array(req.params.outLen);
    const s = this.sodium;
    await s.crypto_pwhash_async(out, req.password, req.salt, req.params.t, req.params.mKiB * 1024, s.crypto_pwhash_ALG_ARGON2ID13);
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

export interface SodiumEngines {
  /** crypto_pwhash on the calling thread (blocks it). */
  readonly sync: Argon2idSyncKernel;
  /** crypto_pwhash_async on the libuv threadpool. */
  readonly engine: Argon2idEngine;
}

export function loadSodiumNative(): Loaded<SodiumEngines> {
  const mod = loadOptional<SodiumPwhash>('sodium-native');
  if (!mod.ok) return mod;
  const s = mod.value;
  if (typeof s.crypto_pwhash !== 'function' || typeof s.crypto_pwhash_async !== 'function') {
    return { ok: false, reason: 'sodium-native has no crypto_pwhash' };
  }
  return { ok: true, value: { sync: new SodiumSyncKernel(s), engine: new SodiumAsyncEngine(s) } };
}

/** The slice of the argon2 npm package this module uses. */
interface Argon2Npm {
  readonly argon2id: number;
  hash(
    password: Buffer,
    options: {
      raw: true;
      type: number;
      version: number;
      hashLength: number;
      timeCost: number;
      memoryCost: number;
      parallelism: number;
      salt: Buffer;
      secret?: Buffer;
      associatedData?: Buffer;
    },
  ): Promise<Buffer>;
}

const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

class Argon2NpmEngine implements Argon2idEngine {
  readonly name = 'argon2-npm' as const;
  #closed = false;
  constructor(readonly lib: Argon2Npm) {}

  supports(req: Argon2idRequest): boolean {
    return argon2idRequestProblem(req) === null;
  }

  async hash(req: Argon2idRequest): Promise<Uint8Array> {
    if (this.#closed) throw new Argon2idError('CLOSED', 'the argon2 npm engine is closed');
    checkRequest(req);
    const { mKiB, t, p, outLen } = req.params;
    const out = await this.lib.hash(asBuffer(req.password), {
      raw: true,
      type: this.lib.argon2id,
      version: 0x13,
      hashLength: outLen,
      timeCost: t,
      memoryCost: mKiB,
      parallelism: p,
      salt: asBuffer(req.salt),
      ...(isEmpty(req.secret) ? {} : { secret: asBuffer(req.secret as Uint8Array) }),
      ...(isEmpty(req.ad) ? {} : { associatedData: asBuffer(req.ad as Uint8Array) }),
    });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

export function loadArgon2Npm(): Loaded<Argon2idEngine> {
  const mod = loadOptional<Argon2Npm>('argon2');
  if (!mod.ok) return mod;
  if (typeof mod.value.hash !== 'function') return { ok: false, reason: 'argon2 has no hash()' };
  return { ok: true, value: new Argon2NpmEngine(mod.value) };
}

// ---------------------------------------------------------------------------------------------
// sync kernel → engine (calling thread)

class CallingThreadEngine implements Argon2idEngine {
  #closed = false;
  constructor(readonly kernel: Argon2idSyncKernel) {}
  get name(): Argon2idEngineName {
    return this.kernel.name;
  }
  supports(req: Argon2idRequest): boolean {
    return this.kernel.supports(req);
  }
  async hash(req: Argon2idRequest): Promise<Uint8Array> {
    if (this.#closed) throw new Argon2idError('CLOSED', `the ${this.kernel.name} engine is closed`);
    return this.kernel.hashSync(req);
  }
  async close(): Promise<void> {
    this.#closed = true;
  }
}

/** Runs a synchronous kernel on the calling thread behind the async interface (blocks while hashing). */
export function callingThreadEngine(kernel: Argon2idSyncKernel): Argon2idEngine {
  return new CallingThreadEngine(kernel);
}

/** Wraps either kernel shape as an engine on the calling thread. */
export function asEngine(kernel: Argon2idAnyKernel): Argon2idEngine {
  return isSyncKernel(kernel) ? callingThreadEngine(kernel) : kernel;
}

// ---------------------------------------------------------------------------------------------
// ours: THE single place that decides what backs the name 'wasm-simd'

/** Module specifier of our WASM SIMD kernel, resolved next to this file (dist/kernels/argon2/). */
const OURS_MODULE = './wasm.js';

export interface OursKernel {
  /** The real name of what runs: 'wasm-simd', or 'hash-wasm' while ours is missing. */
  readonly kernel: Argon2idAnyKernel;
  /** Null when the WASM SIMD kernel loaded; otherwise why we fell back to hash-wasm. */
  readonly fallbackReason: string | null;
}

/**
 * Loads our WASM SIMD kernel (kernels/argon2/wasm.ts + dist/kernels/argon2/argon2id.wasm). Until it
 * is built, falls back to hash-wasm and says why; callers report `kernel.name`, so output never
 * claims 'wasm-simd' for hash-wasm's numbers. Works in worker threads (one instance per thread).
 */
export async function loadOursKernel(): Promise<OursKernel> {
  try {
    const mod = (await import(OURS_MODULE)) as { loadWasmArgon2id?: () => Promise<Argon2idSyncKernel> };
    if (typeof mod.loadWasmArgon2id !== 'function') throw new Error(`${OURS_MODULE} has no loadWasmArgon2id()`);
    const kernel = await mod.loadWasmArgon2id();
    return { kernel, fallbackReason: null };
  } catch (err) {
    const msg = String((err as Error)?.message ?? err).split('\n')[0] ?? 'unknown error';
    return { kernel: hashWasmEngine(), fallbackReason: `wasm-simd kernel unavailable (${msg}); using hash-wasm` };
  }
}

/**
 * A kernel by name for a worker thread (or the calling thread). Prefers the synchronous form where
 * one exists. Throws Argon2idError('ENGINE_MISSING') when an optional package is not installed.
 */
export async function loadKernelByName(name: Argon2idEngineName): Promise<Argon2idAnyKernel> {
  switch (name) {
    case 'wasm-simd':
      return (await loadOursKernel()).kernel;
    case 'hash-wasm':
      return hashWasmEngine();
    case 'native-sodium': {
      const s = loadSodiumNative();
      if (!s.ok) throw new Argon2idError('ENGINE_MISSING', s.reason);
      return s.value.sync;
    }
    case 'argon2-npm': {
      const a = loadArgon2Npm();
      if (!a.ok) throw new Argon2idError('ENGINE_MISSING', a.reason);
      return a.value;
    }
  }
}

/** What the CLI's --engine flag accepts. */
export const ENGINE_CHOICES = ['auto', 'wasm', 'native', 'hash-wasm'] as const;
export type EngineChoice = (typeof ENGINE_CHOICES)[number];

export interface ResolvedEngine {
  readonly name: Argon2idEngineName;
  /** A one-line note for stderr when the choice fell back to something else, else null. */
  readonly note: string | null;
}

/**
 * Maps --engine to a kernel name for `sample` (a representative request):
 * - auto: native-sodium when it loads and supports the request, else ours ('wasm-simd');
 * - native: native-sodium, else the argon2 npm package; an error when neither loads or supports it;
 * - wasm: ours; hash-wasm: hash-wasm.
 * 'wasm-simd' resolves to 'hash-wasm' (with a note) until our kernel is built.
 */
export async function resolveEngineChoice(choice: EngineChoice, sample: Argon2idRequest): Promise<ResolvedEngine> {
  const ours = async (prefix: string | null): Promise<ResolvedEngine> => {
    const o = await loadOursKernel();
    const notes = [prefix, o.fallbackReason].filter((n): n is string => n !== null);
    return { name: o.kernel.name, note: notes.length > 0 ? notes.join('; ') : null };
  };
  switch (choice) {
    case 'hash-wasm':
      return { name: 'hash-wasm', note: null };
    case 'wasm':
      return ours(null);
    case 'auto': {
      const s = loadSodiumNative();
      if (s.ok && s.value.sync.supports(sample)) return { name: 'native-sodium', note: null };
      return ours(null);
    }
    case 'native': {
      const s = loadSodiumNative();
      if (s.ok && s.value.sync.supports(sample)) return { name: 'native-sodium', note: null };
      const a = loadArgon2Npm();
      if (a.ok && a.value.supports(sample)) {
        return { name: 'argon2-npm', note: s.ok ? 'libsodium cannot compute this request; using the argon2 npm package' : `${s.reason}; using the argon2 npm package` };
      }
      const why = [s.ok ? 'libsodium does not support this request' : s.reason, a.ok ? 'argon2 does not support this request' : a.reason];
      throw new Argon2idError('ENGINE_MISSING', `no native Argon2id engine: ${why.join('; ')}`);
    }
  }
}

/** An engine on the calling thread for `name` (verification, show, benchmarks). */
export async function callingThreadEngineByName(name: Argon2idEngineName): Promise<Argon2idEngine> {
  if (name === 'native-sodium') {
    const s = loadSodiumNative();
    if (!s.ok) throw new Argon2idError('ENGINE_MISSING', s.reason);
    return s.value.engine;
  }
  return asEngine(await loadKernelByName(name));
}
