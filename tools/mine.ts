/**
 * Identity mining (PROTOCOL §2): worker threads try random nonces for a fixed key and time, each
 * computing the Argon2id work in its own thread and reporting attempt counts every 250 ms; the
 * parent aggregates attempts, rate, expected attempts (2^d) and ETA, and stops every worker on the
 * first find or on stop(). The record's time is fixed when mining starts because it is in the
 * salt: a resumed run keeps the same key and time, so its earlier attempts and any find stay valid.
 */
import { Worker } from 'node:worker_threads';
import type { Argon2idEngineName } from '../kernels/types.js';
import type { Ed25519Kernel } from '../kernels/types.js';
import { fromHex, toHex, type ParseResult } from '../wire/identity-file.js';
import { IDENTITY_VERSION, MAX_DIFFICULTY, signIdentity, type IdentityRecord } from '../wire/identity.js';
import type { IdentityArgon2Params, NetworkProfile } from '../wire/profiles.js';
import type { MineControlMessage, MineWorkerData, MineWorkerMessage } from './mine-worker.js';

export interface MiningJob {
  readonly profile: NetworkProfile;
  readonly difficulty: number;
  readonly publicKey: Uint8Array;
  /** Unix seconds, fixed at the start of the first run. */
  readonly time: number;
  /** Attempts and mining seconds spent by earlier runs of this job (resume). */
  readonly attemptsBefore: number;
  readonly secondsBefore: number;
}

export interface MinerOptions {
  readonly kernel: Argon2idEngineName;
  readonly workers: number;
  /** How often each worker reports its attempts. Default 250 ms. */
  readonly reportMs?: number;
  /** How long stop() waits for a worker to finish its current hash before terminating it. Default 5 s. */
  readonly stopGraceMs?: number;
}

export interface MiningProgress {
  /** Real kernel name the workers run (known once they are ready). */
  readonly kernel: Argon2idEngineName | null;
  readonly workers: number;
  /** Including earlier runs. */
  readonly attempts: number;
  readonly seconds: number;
  /** This run only. */
  readonly sessionAttempts: number;
  readonly sessionSeconds: number;
  /** Attempts per second in this run (0 until the first report). */
  readonly rate: number;
  /** 2^d: the mean number of attempts per find. */
  readonly expectedAttempts: number;
  /** Expected seconds until a find from now (attempts are memoryless), or null before a rate is known. */
  readonly etaSeconds: number | null;
}

export type MiningResult =
  | {
      readonly kind: 'found';
      readonly nonce: Uint8Array;
      readonly work: Uint8Array;
      readonly attempts: number;
      readonly seconds: number;
      readonly kernel: Argon2idEngineName;
    }
  | { readonly kind: 'stopped'; readonly attempts: number; readonly seconds: number };

const WORKER_URL = new URL('./mine-worker.js', import.meta.url);

export class MinerError extends Error {
  override readonly name = 'MinerError';
}

/** One mining run. start() once; it resolves on a find or after stop(). */
export class Miner {
  readonly #job: MiningJob;
  readonly #opts: Required<MinerOptions>;
  readonly #workers = new Set<Worker>();
  #kernel: Argon2idEngineName | null = null;
  #sessionAttempts = 0;
  #startedAt: number | null = null;
  #endedAt: number | null = null;
  #found: { nonce: Uint8Array; work: Uint8Array } | null = null;
  #failure: Error | null = null;
  #stopping: Promise<void> | null = null;
  #done: Promise<MiningResult> | null = null;

  constructor(job: MiningJob, options: MinerOptions) {
    if (!Number.isInteger(job.difficulty) || job.difficulty < 0 || job.difficulty > MAX_DIFFICULTY) {
      throw new MinerError(`difficulty must be an integer in 0..${MAX_DIFFICULTY}`);
    }
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new MinerError('workers must be a positive integer');
    this.#job = job;
    this.#opts = { reportMs: 250, stopGraceMs: 5000, ...options };
  }

  /** Starts the workers; resolves when all are ready, with the promise of the run's result. */
  async start(): Promise<{ readonly result: Promise<MiningResult> }> {
    if (this.#done !== null) throw new MinerError('a Miner runs once');
    if (this.#stopping !== null) {
      // stop() came first (e.g. Ctrl-C during start-up): nothing to run.
      this.#done = Promise.resolve({ kind: 'stopped', attempts: this.#totalAttempts(), seconds: this.#totalSeconds() });
      return { result: this.#done };
    }
    let readyCount = 0;
    let resolveReady!: () => void;
    let rejectReady!: (err: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    let resolveDone!: (r: MiningResult) => void;
    let rejectDone!: (err: Error) => void;
    this.#done = new Promise<MiningResult>((res, rej) => {
      resolveDone = res;
      rejectDone = rej;
    });
    // If start() fails before returning this promise, nobody will await it; keep that quiet.
    this.#done.catch(() => undefined);

    const data: MineWorkerData = {
      kernel: this.#opts.kernel,
      publicKey: this.#job.publicKey,
      time: this.#job.time,
      networkId: this.#job.profile.networkId,
      argon2: this.#job.profile.argon2,
      difficulty: this.#job.difficulty,
      reportMs: this.#opts.reportMs,
    };
    const onExit = (w: Worker): void => {
      this.#workers.delete(w);
      if (this.#workers.size > 0) return;
      this.#endedAt ??= performance.now();
      if (this.#failure !== null) {
        rejectReady(this.#failure);
        rejectDone(this.#failure);
        return;
      }
      // Found or stopped, possibly before every worker said ready: the result says which.
      resolveReady();
      if (this.#found !== null) {
        resolveDone({ kind: 'found', ...this.#found, attempts: this.#totalAttempts(), seconds: this.#totalSeconds(), kernel: this.#kernel ?? this.#opts.kernel });
      } else {
        resolveDone({ kind: 'stopped', attempts: this.#totalAttempts(), seconds: this.#totalSeconds() });
      }
    };

    for (let i = 0; i < this.#opts.workers; i++) {
      const w = new Worker(WORKER_URL, { workerData: data });
      this.#workers.add(w);
      w.on('message', (m: MineWorkerMessage) => {
        switch (m.type) {
          case 'ready':
            this.#kernel = m.kernel;
            // The clock starts with the first worker: attempts count from then.
            this.#startedAt ??= performance.now();
            if (++readyCount === this.#opts.workers) resolveReady();
            return;
          case 'init-error':
            this.#failure ??= new MinerError(m.message);
            void this.stop();
            return;
          case 'progress':
          case 'stopped':
            this.#sessionAttempts += m.attempts;
            return;
          case 'found':
            this.#sessionAttempts += m.attempts;
            if (this.#found === null) {
              this.#found = { nonce: m.nonce, work: m.work };
              this.#endedAt = performance.now();
              this.#startedAt ??= this.#endedAt;
              void this.stop();
            }
            return;
          case 'error':
            this.#sessionAttempts += m.attempts;
            this.#failure ??= new MinerError(`mining worker failed: ${m.message}`);
            void this.stop();
            return;
        }
      });
      w.on('error', (err) => {
        this.#failure ??= new MinerError(`mining worker crashed: ${err.message}`);
        void this.stop();
      });
      w.on('exit', () => onExit(w));
    }
    await ready;
    return { result: this.#done };
  }

  /** Asks every worker to finish its current hash and report; terminates any that take too long. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const all = [...this.#workers];
      const stopMsg: MineControlMessage = { type: 'stop' };
      await Promise.all(
        all.map(
          (w) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => void w.terminate().then(() => resolve()), this.#opts.stopGraceMs);
              w.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              try {
                w.postMessage(stopMsg);
              } catch {
                // already exiting
              }
            }),
        ),
      );
    })();
    return this.#stopping;
  }

  progress(): MiningProgress {
    const sessionSeconds = this.#sessionSeconds();
    const rate = sessionSeconds > 0 ? this.#sessionAttempts / sessionSeconds : 0;
    const expectedAttempts = 2 ** this.#job.difficulty;
    return {
      kernel: this.#kernel,
      workers: this.#opts.workers,
      attempts: this.#totalAttempts(),
      seconds: this.#totalSeconds(),
      sessionAttempts: this.#sessionAttempts,
      sessionSeconds,
      rate,
      expectedAttempts,
      etaSeconds: rate > 0 && this.#sessionAttempts > 0 ? expectedAttempts / rate : null,
    };
  }

  #sessionSeconds(): number {
    if (this.#startedAt === null) return 0;
    return ((this.#endedAt ?? performance.now()) - this.#startedAt) / 1000;
  }
  #totalAttempts(): number {
    return this.#job.attemptsBefore + this.#sessionAttempts;
  }
  #totalSeconds(): number {
    return this.#job.secondsBefore + this.#sessionSeconds();
  }
}

/** Signs the found record. */
export function identityFromFind(ed25519: Ed25519Kernel, seed: Uint8Array, job: MiningJob, nonce: Uint8Array): IdentityRecord {
  return signIdentity(ed25519, seed, {
    version: IDENTITY_VERSION,
    networkId: job.profile.networkId,
    publicKey: job.publicKey,
    nonce,
    time: job.time,
    difficulty: job.difficulty,
  });
}

// ---------------------------------------------------------------------------------------------
// resumable state

export const MINING_STATE_TYPE = 'ecd-mining-state';

/** Everything needed to continue a run: the key, the fixed time, the params, and the work so far. */
export interface MiningState {
  readonly profile: string;
  readonly networkId: bigint;
  readonly argon2: IdentityArgon2Params;
  readonly difficulty: number;
  readonly time: number;
  readonly publicKey: Uint8Array;
  readonly secretSeed: Uint8Array;
  readonly attempts: number;
  readonly seconds: number;
}

/** Where a run writing `out` keeps its resumable state. */
export function miningStatePath(out: string): string {
  return `${out}.mining.json`;
}

export function miningStateText(s: MiningState): string {
  const obj = {
    type: MINING_STATE_TYPE,
    version: 1,
    profile: s.profile,
    network_id: s.networkId.toString(10),
    argon2: { m_kib: s.argon2.mKiB, t: s.argon2.t, p: s.argon2.p },
    difficulty: s.difficulty,
    time: s.time,
    public_key: toHex(s.publicKey),
    secret_seed: toHex(s.secretSeed),
    attempts: s.attempts,
    seconds: Math.round(s.seconds * 1000) / 1000,
  };
  return `${JSON.stringify(obj, null, 2)}\n`;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function parseMiningState(text: string): ParseResult<MiningState> {
  let o: Record<string, unknown>;
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'not a JSON object' };
    o = v as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  if (o['type'] !== MINING_STATE_TYPE || o['version'] !== 1) return { ok: false, reason: `not an ${MINING_STATE_TYPE} v1 file` };
  const a = o['argon2'] as Record<string, unknown> | undefined;
  const networkId = typeof o['network_id'] === 'string' && /^[0-9]{1,20}$/.test(o['network_id']) ? BigInt(o['network_id']) : null;
  const publicKey = fromHex(o['public_key'], 32);
  const secretSeed = fromHex(o['secret_seed'], 32);
  const seconds = o['seconds'];
  if (
    typeof o['profile'] !== 'string' ||
    networkId === null ||
    typeof a !== 'object' ||
    a === null ||
    !isCount(a['m_kib']) ||
    !isCount(a['t']) ||
    !isCount(a['p']) ||
    !isCount(o['difficulty']) ||
    o['difficulty'] > MAX_DIFFICULTY ||
    !isCount(o['time']) ||
    publicKey === null ||
    secretSeed === null ||
    !isCount(o['attempts']) ||
    typeof seconds !== 'number' ||
    !(seconds >= 0)
  ) {
    return { ok: false, reason: 'missing or invalid fields' };
  }
  return {
    ok: true,
    value: {
      profile: o['profile'],
      networkId,
      argon2: { mKiB: a['m_kib'], t: a['t'], p: a['p'] },
      difficulty: o['difficulty'],
      time: o['time'],
      publicKey,
      secretSeed,
      attempts: o['attempts'],
      seconds,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// human formatting for progress lines

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '∞';
  if (seconds < 90) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 90 * 60) return `${(seconds / 60).toFixed(1)} min`;
  if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
  if (seconds < 2 * 365 * 86400) return `${(seconds / 86400).toFixed(1)} days`;
  return `${(seconds / (365 * 86400)).toFixed(1)} years`;
}

export function formatRate(rate: number): string {
  return rate >= 100 ? `${formatCount(rate)} H/s` : `${rate.toFixed(2)} H/s`;
}

/** One progress line: attempts, rate, expected attempts, ETA. */
export function formatProgress(p: MiningProgress, difficulty: number): string {
  const eta = p.etaSeconds === null ? 'ETA …' : `ETA ~${formatDuration(p.etaSeconds)}`;
  return (
    `mining d=${difficulty} [${p.kernel ?? '…'} ×${p.workers}]: ${formatCount(p.attempts)} attempts, ` +
    `${formatRate(p.rate)}, expected ${formatCount(p.expectedAttempts)} (2^${difficulty}), ` +
    `${eta}, elapsed ${formatDuration(p.seconds)}`
  );
}

/** Expected attempts from which `ecd mine --engine auto` times the engines before choosing (below, mining ends sooner). */
export const CALIBRATE_FROM_ATTEMPTS = 4_096;

/**
 * Attempts per second of `kernel` mining `job` with `workers` threads, measured over about `ms`
 * (at the top difficulty, so nothing is found). Engines scale differently with threads: on small
 * memory costs libsodium spends most of a second worker's time in the kernel, so one thread's
 * speed does not predict the miner's.
 */
export async function miningRate(job: MiningJob, kernel: Argon2idEngineName, workers: number, ms: number): Promise<number> {
  const miner = new Miner({ ...job, difficulty: MAX_DIFFICULTY, attemptsBefore: 0, secondsBefore: 0 }, { kernel, workers, reportMs: 100 });
  const { result } = await miner.start();
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const rate = miner.progress().rate;
  await miner.stop();
  await result;
  return rate;
}
