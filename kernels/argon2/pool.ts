/**
 * A worker-thread pool behind the Argon2idEngine interface: one worker per core by default, each
 * running one kernel loaded by name ('wasm-simd', 'hash-wasm', or a native one) one job at a time.
 * The queue of waiting jobs is bounded; a full queue rejects at once with
 * Argon2idError('QUEUE_FULL') so a flood of identities to verify cannot grow memory without bound.
 * close() rejects everything waiting or running with 'CLOSED' and terminates every worker, so a
 * closed pool holds no handles.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Argon2idEngine, Argon2idEngineName, Argon2idRequest } from '../types.js';
import { loadKernelByName, type Argon2idAnyKernel } from './engines.js';
import { Argon2idError, argon2idRequestProblem, type Argon2idErrorCode } from './params.js';
import type { PoolJobMessage, PoolWorkerData, PoolWorkerReply } from './worker.js';

export interface Argon2idPoolOptions {
  /** Kernel each worker loads. Default 'wasm-simd' (hash-wasm until ours is built). */
  readonly kernel?: Argon2idEngineName;
  /** Worker threads. Default os.availableParallelism(). */
  readonly workers?: number;
  /** Jobs allowed to wait for a free worker (running jobs not counted). Default 1024. */
  readonly maxQueue?: number;
}

/** Limits: see LIMITS.md. A queued job holds its request (≈ 100 B for identity verification). */
export const POOL_LIMITS = { maxWorkers: 256, defaultMaxQueue: 1024, maxQueue: 1 << 20 } as const;

interface Job {
  readonly id: number;
  readonly req: Argon2idRequest;
  readonly resolve: (out: Uint8Array) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  ready: boolean;
  job: Job | null;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);
/** Consecutive worker start failures after which the pool stops replacing crashed workers. */
const MAX_RESPAWN_FAILURES = 3;

export class Argon2idPool implements Argon2idEngine {
  readonly #kernelName: Argon2idEngineName;
  readonly #probe: Argon2idAnyKernel;
  readonly #maxQueue: number;
  readonly #slots = new Set<Slot>();
  readonly #queue: Job[] = [];
  #name: Argon2idEngineName;
  #nextId = 1;
  #closed = false;
  #closing: Promise<void> | null = null;
  #respawnFailures = 0;

  /** Use Argon2idPool.start(); the constructor takes a main-thread copy of the kernel for supports(). */
  private constructor(probe: Argon2idAnyKernel, kernelName: Argon2idEngineName, maxQueue: number) {
    this.#probe = probe;
    this.#kernelName = kernelName;
    this.#name = probe.name;
    this.#maxQueue = maxQueue;
  }

  /** Starts the workers and resolves once every one has loaded its kernel. */
  static async start(options: Argon2idPoolOptions = {}): Promise<Argon2idPool> {
    const kernel = options.kernel ?? 'wasm-simd';
    const workers = options.workers ?? availableParallelism();
    const maxQueue = options.maxQueue ?? POOL_LIMITS.defaultMaxQueue;
    if (!Number.isInteger(workers) || workers < 1 || workers > POOL_LIMITS.maxWorkers) {
      throw new Argon2idError('BAD_PARAMS', `workers must be an integer in 1..${POOL_LIMITS.maxWorkers}`);
    }
    if (!Number.isInteger(maxQueue) || maxQueue < 0 || maxQueue > POOL_LIMITS.maxQueue) {
      throw new Argon2idError('BAD_PARAMS', `maxQueue must be an integer in 0..${POOL_LIMITS.maxQueue}`);
    }
    const probe = await loadKernelByName(kernel);
    const pool = new Argon2idPool(probe, kernel, maxQueue);
    try {
      await Promise.all(Array.from({ length: workers }, () => pool.#spawn()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  /** The real name of the kernel the workers run (hash-wasm when 'wasm-simd' fell back). */
  get name(): Argon2idEngineName {
    return this.#name;
  }
  get workers(): number {
    return this.#slots.size;
  }
  get queued(): number {
    return this.#queue.length;
  }
  get running(): number {
    let n = 0;
    for (const s of this.#slots) if (s.job !== null) n++;
    return n;
  }

  supports(req: Argon2idRequest): boolean {
    return this.#probe.supports(req);
  }

  hash(req: Argon2idRequest): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Argon2idError('CLOSED', 'the Argon2id pool is closed'));
    const problem = argon2idRequestProblem(req);
    if (problem !== null) return Promise.reject(new Argon2idError('BAD_PARAMS', problem));
    if (!this.#probe.supports(req)) {
      return Promise.reject(new Argon2idError('UNSUPPORTED', `${this.#name} cannot compute this request`));
    }
    const idle = this.#idleSlot();
    if (idle === null && this.#queue.length >= this.#maxQueue) {
      return Promise.reject(new Argon2idError('QUEUE_FULL', `Argon2id queue full (${this.#maxQueue} waiting)`));
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      const job: Job = { id: this.#nextId++, req, resolve, reject };
      if (idle !== null) this.#run(idle, job);
      else this.#queue.push(job);
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    const closed = (): Argon2idError => new Argon2idError('CLOSED', 'the Argon2id pool was closed');
    for (const job of this.#queue.splice(0)) job.reject(closed());
    const exits: Promise<unknown>[] = [];
    for (const slot of this.#slots) {
      if (slot.job !== null) slot.job.reject(closed());
      slot.job = null;
      exits.push(slot.worker.terminate());
    }
    this.#slots.clear();
    await Promise.allSettled(exits);
  }

  #idleSlot(): Slot | null {
    for (const s of this.#slots) if (s.ready && s.job === null) return s;
    return null;
  }

  #run(slot: Slot, job: Job): void {
    slot.job = job;
    const msg: PoolJobMessage = { id: job.id, req: job.req };
    slot.worker.postMessage(msg);
  }

  #pump(slot: Slot): void {
    const next = this.#queue.shift();
    if (next !== undefined) this.#run(slot, next);
  }

  /** Starts one worker; resolves when it is ready, rejects if its kernel fails to load. */
  #spawn(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const data: PoolWorkerData = { kernel: this.#kernelName };
      const worker = new Worker(WORKER_URL, { workerData: data });
      const slot: Slot = { worker, ready: false, job: null };
      this.#slots.add(slot);
      let settled = false;
      const fail = (err: Error): void => {
        if (!settled) {
          settled = true;
          reject(err);
        }
      };

      worker.on('message', (msg: PoolWorkerReply) => {
        switch (msg.type) {
          case 'ready':
            slot.ready = true;
            this.#name = msg.name;
            this.#respawnFailures = 0;
            settled = true;
            resolve();
            this.#pump(slot);
            return;
          case 'init-error':
            this.#slots.delete(slot);
            void worker.terminate();
            fail(new Argon2idError('ENGINE_MISSING', msg.message));
            return;
          case 'done': {
            const job = slot.job;
            slot.job = null;
            if (job !== null && job.id === msg.id) job.resolve(msg.out);
            this.#pump(slot);
            return;
          }
          case 'failed': {
            const job = slot.job;
            slot.job = null;
            if (job !== null && job.id === msg.id) job.reject(workerError(msg.code, msg.message));
            this.#pump(slot);
            return;
          }
        }
      });
      worker.on('error', (err) => {
        fail(err);
        this.#lose(slot, err);
      });
      worker.on('exit', (code) => {
        fail(new Argon2idError('ENGINE_MISSING', `Argon2id worker exited with code ${code} before it was ready`));
        this.#lose(slot, new Error(`Argon2id worker exited with code ${code}`));
      });
    });
  }

  /** A worker died: fail its job, replace it (bounded), and fail the queue if nothing is left. */
  #lose(slot: Slot, err: Error): void {
    if (!this.#slots.delete(slot) || this.#closed) return;
    const job = slot.job;
    slot.job = null;
    job?.reject(new Argon2idError('ENGINE_MISSING', `Argon2id worker failed: ${err.message}`));
    if (this.#respawnFailures < MAX_RESPAWN_FAILURES) {
      this.#spawn().catch(() => {
        this.#respawnFailures++;
        this.#failQueueIfEmpty();
      });
    }
    this.#failQueueIfEmpty();
  }

  #failQueueIfEmpty(): void {
    if (this.#slots.size > 0 || this.#closed) return;
    for (const job of this.#queue.splice(0)) {
      job.reject(new Argon2idError('ENGINE_MISSING', 'no Argon2id worker is left in the pool'));
    }
  }
}

const KNOWN_CODES: ReadonlySet<string> = new Set<Argon2idErrorCode>([
  'BAD_PARAMS',
  'UNSUPPORTED',
  'QUEUE_FULL',
  'CLOSED',
  'ENGINE_MISSING',
]);

function workerError(code: string | null, message: string): Error {
  if (code !== null && KNOWN_CODES.has(code)) return new Argon2idError(code as Argon2idErrorCode, message);
  return new Error(message);
}
