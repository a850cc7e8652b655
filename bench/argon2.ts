/**
 * Argon2id benchmark at the mainnet identity size (64 MiB, t = 10, p = 1, 32-byte tag): first every
 * available engine must produce the same tag for one input (that hash doubles as warm-up), then
 * each is timed single-threaded in this process, and ours also through the worker pool on all
 * cores. Ratios compare ours against the alternatives measured in the same run (STYLE §16).
 */
import { availableParallelism } from 'node:os';
import {
  asEngine,
  hashWasmEngine,
  loadArgon2Npm,
  loadOursKernel,
  loadSodiumNative,
} from '../kernels/argon2/engines.js';
import { Argon2idPool } from '../kernels/argon2/pool.js';
import type { Argon2idEngine, Argon2idParams, Argon2idRequest } from '../kernels/types.js';

export interface BenchArgon2Options {
  /** Timed hashes per engine (and per worker for the pool run). Default 3. */
  readonly hashes?: number;
  /** Pool size for the all-cores run. Default os.availableParallelism(). */
  readonly workers?: number;
  /** Default the mainnet identity parameters. */
  readonly params?: Argon2idParams;
  /** Progress lines (the CLI sends them to stderr). */
  readonly log?: (line: string) => void;
}

export interface BenchArgon2Result {
  readonly params: Argon2idParams;
  readonly hashes: number;
  /** What ran as "ours": 'wasm-simd', or 'hash-wasm' until our kernel is built. */
  readonly ours_engine: string;
  readonly ours_note: string | null;
  /** The tag every engine agreed on for password "pw", salt "saltsaltsaltsalt". */
  readonly check_tag: string;
  readonly ours_ms: number;
  readonly hash_wasm_ms: number;
  readonly argon2_npm_ms: number | null;
  readonly libsodium_ms: number | null;
  readonly workers: number;
  /** Hashes per second with every pool worker busy. */
  readonly ours_workers_rate: number;
  /** Hashes per second through a one-worker pool, measured in the same run. */
  readonly ours_one_worker_rate: number;
  /** ours_workers_rate / ours_one_worker_rate. */
  readonly workers_speedup: number;
  /** ours_ms / other_ms: above 1 means ours is slower. null when that engine is not installed. */
  readonly ratios: {
    readonly ours_over_libsodium: number | null;
    readonly ours_over_argon2_npm: number | null;
    readonly ours_over_hash_wasm: number;
    /** Against the fastest alternative measured in this run. */
    readonly ours_over_best_alternative: number;
  };
  readonly unavailable: Readonly<Record<string, string>>;
}

export const MAINNET_BENCH_PARAMS: Argon2idParams = { mKiB: 65_536, t: 10, p: 1, outLen: 32 };

const utf8 = new TextEncoder();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

async function timeEngine(engine: Argon2idEngine, req: Argon2idRequest, hashes: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < hashes; i++) await engine.hash(req);
  return (performance.now() - t0) / hashes;
}

export async function benchArgon2(options: BenchArgon2Options = {}): Promise<BenchArgon2Result> {
  const hashes = options.hashes ?? 3;
  const workers = options.workers ?? availableParallelism();
  const params = options.params ?? MAINNET_BENCH_PARAMS;
  const log = options.log ?? ((): void => undefined);
  const req: Argon2idRequest = { password: utf8.encode('pw'), salt: utf8.encode('saltsaltsaltsalt'), params };

  const ours = await loadOursKernel();
  const oursEngine = asEngine(ours.kernel);
  const hashWasm = hashWasmEngine();
  const unavailable: Record<string, string> = {};
  const sodium = loadSodiumNative();
  if (!sodium.ok) unavailable['libsodium'] = sodium.reason;
  const npm = loadArgon2Npm();
  if (!npm.ok) unavailable['argon2_npm'] = npm.reason;

  const engines: { key: 'ours' | 'hash_wasm' | 'argon2_npm' | 'libsodium'; engine: Argon2idEngine }[] = [
    { key: 'ours', engine: oursEngine },
    { key: 'hash_wasm', engine: hashWasm },
  ];
  if (npm.ok) engines.push({ key: 'argon2_npm', engine: npm.value });
  // The synchronous crypto_pwhash, so this row is one core like the others.
  if (sodium.ok) engines.push({ key: 'libsodium', engine: asEngine(sodium.value.sync) });

  try {
    // 1. Agreement (and warm-up).
    let tag: string | null = null;
    for (const { key, engine } of engines) {
      if (!engine.supports(req)) throw new Error(`${key} (${engine.name}) cannot compute the benchmark request`);
      const out = hex(await engine.hash(req));
      log(`check ${key}: ${out.slice(0, 16)}…`);
      if (tag === null) tag = out;
      else if (out !== tag) throw new Error(`engines disagree: ${key} gave ${out}, ours gave ${tag}`);
    }

    // 2. Single-thread timing.
    const ms: Partial<Record<(typeof engines)[number]['key'], number>> = {};
    for (const { key, engine } of engines) {
      ms[key] = await timeEngine(engine, req, hashes);
      log(`${key}: ${round(ms[key]!, 1)} ms/hash`);
    }

    // 3. Ours through the pool, with one worker and then with every worker, so the scaling
    //    (the miner's speed-up from more cores) is a same-run ratio.
    const poolRate = async (n: number): Promise<number> => {
      const pool = await Argon2idPool.start({ kernel: 'wasm-simd', workers: n, maxQueue: n * hashes });
      try {
        await Promise.all(Array.from({ length: n }, () => pool.hash(req))); // one warm-up hash per worker
        const t0 = performance.now();
        await Promise.all(Array.from({ length: n * hashes }, () => pool.hash(req)));
        const r = (n * hashes) / ((performance.now() - t0) / 1000);
        log(`ours ×${n} worker${n === 1 ? '' : 's'} (${pool.name}): ${round(r)} hashes/s`);
        return r;
      } finally {
        await pool.close();
      }
    };
    const rate1 = await poolRate(1);
    const rate = workers === 1 ? rate1 : await poolRate(workers);

    const oursMs = ms.ours!;
    const ratio = (other: number | undefined): number | null => (other === undefined ? null : round(oursMs / other, 3));
    const alternatives = [ms.hash_wasm, ms.argon2_npm, ms.libsodium].filter((x): x is number => x !== undefined);
    return {
      params,
      hashes,
      ours_engine: ours.kernel.name,
      ours_note: ours.fallbackReason,
      check_tag: tag ?? '',
      ours_ms: round(oursMs, 1),
      hash_wasm_ms: round(ms.hash_wasm!, 1),
      argon2_npm_ms: ms.argon2_npm === undefined ? null : round(ms.argon2_npm, 1),
      libsodium_ms: ms.libsodium === undefined ? null : round(ms.libsodium, 1),
      workers,
      ours_workers_rate: round(rate),
      ours_one_worker_rate: round(rate1),
      workers_speedup: round(rate / rate1, 3),
      ratios: {
        ours_over_libsodium: ratio(ms.libsodium),
        ours_over_argon2_npm: ratio(ms.argon2_npm),
        ours_over_hash_wasm: ratio(ms.hash_wasm)!,
        ours_over_best_alternative: round(oursMs / Math.min(...alternatives), 3),
      },
      unavailable,
    };
  } finally {
    await Promise.all(engines.map((e) => e.engine.close()));
  }
}
