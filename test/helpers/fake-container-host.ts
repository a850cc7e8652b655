/**
 * The recorded-fixture `ContainerHost` (STYLE §2; daemon/container-host.ts has the real one): an
 * in-memory engine whose containers follow scripts, and clients of it that answer the way
 * `EngineContainerHost` answers Docker or Podman.
 *
 *   const engine = new FakeEngine({ images: { 'busybox:1': IMAGE } });
 *   engine.define('hello', { stdout: 'hi\n', durationMs: 50 });
 *   const host = engine.connect(daemonId);           // a ContainerHost
 *
 * The engine is the daemon-independent part (like dockerd or Podman's service): its containers and
 * their exit timers live on when a client is closed, so a provider that stops (or "crashes") and a
 * new provider over a new client of the same engine find the same containers. A client holds what
 * the real client holds in memory: the kill reasons it sent. Time is the engine's `clock` and the
 * global timers, so under `mock.timers` every duration is virtual and otherwise it is real ms.
 *
 * Semantics copied from the real host:
 *  - `run` checks the spec (`checkJobSpec`), refuses an image it does not have (`not-found`) and a
 *    second container for the same job (`conflict`: the name `ecd-<job>` is taken); a program
 *    nobody defined fails to start (`engine-error`) and leaves no container.
 *  - Output is all written when the container starts; `logs` returns the head of each stream up to
 *    the cap, with `truncated` when there was more.
 *  - `wait(id, ms)` resolves when the container exits; after `ms` it SIGKILLs it and reports
 *    `killed: timeout`. `kill` reports `killed: owner` (false when it was not running). An exit
 *    137 this client did not send is `oom`, evidence `engine` when the engine flagged OOMKilled,
 *    else `sigkill`, exactly as the real host decides it.
 *  - `remove` force-removes (a wait in flight then rejects `not-found`); false when it was gone.
 *  - `listJobs` lists this daemon's containers in any state; another daemon's stay invisible.
 *  - `close` rejects the client's calls in flight with `closed`, and every later call.
 *
 * Failure injection: `failNext(op, code)` fails the next calls of one kind (optionally after the
 * engine acted, as when the answer is lost), `reachable = false` makes every call fail
 * `unreachable` while the containers keep running, and `plant` / `removeBehindBack` change the
 * engine under a provider's feet.
 */
import {
  checkJobSpec,
  ContainerHostError,
  JOB_LIMITS,
  type CappedOutput,
  type ContainerHost,
  type ContainerHostErrorCode,
  type ContainerState,
  type HostInfo,
  type JobContainer,
  type JobLogs,
  type JobRunSpec,
  type JobUsage,
  type LogStreams,
  type RunningJob,
  type WaitResult,
} from '../../daemon/container-host.js';

/** What a scripted container does. Every field is optional. */
export interface ContainerScript {
  /** Exit status when it ends by itself (default 0). */
  readonly exitCode?: number;
  readonly stdout?: Uint8Array | string;
  readonly stderr?: Uint8Array | string;
  /** It exits this long after the start (default 0); Infinity: it runs until killed. */
  readonly durationMs?: number;
  /** The memory cgroup kills it this long after the start: exit 137. */
  readonly oomAfterMs?: number;
  /** The engine reports OOMKilled for that kill (default true; Podman on cgroup v1 does not). */
  readonly oomReported?: boolean;
  /** What `stats` reports (default zeros). */
  readonly usage?: Partial<Omit<JobUsage, 'samples'>>;
  /** The create takes this long; a client closed meanwhile creates nothing. */
  readonly runDelayMs?: number;
}

export type HostOp = 'info' | 'imageId' | 'run' | 'wait' | 'stats' | 'logs' | 'kill' | 'remove' | 'listJobs';

export interface FailureOptions {
  /** How many calls fail (default 1). */
  readonly times?: number;
  /** The engine does the work first and only the answer is lost (run, kill, remove). */
  readonly afterEffect?: boolean;
  /** Only calls whose container id (or job id, for run) this accepts. */
  readonly match?: (target: string) => boolean;
}

export interface FakeEngineOptions {
  /** ms since the epoch (default Date.now; under mock.timers with Date mocked, virtual). */
  readonly clock?: () => number;
  /** Image references the engine has, to their ids (`sha256:` + 64 hex); each id also resolves to itself. */
  readonly images?: Readonly<Record<string, string>>;
  readonly ncpu?: number;
  readonly memTotal?: number;
}

interface Container {
  readonly id: string;
  readonly jobId: string;
  readonly daemonId: string;
  readonly spec: JobRunSpec | null;
  readonly script: ContainerScript;
  state: 'created' | 'running' | 'exited';
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  oomKilled: boolean;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  timer: NodeJS.Timeout | null;
  /** Called when it stops running (exit, kill, removal). */
  readonly onStop: Set<() => void>;
}

interface Failure {
  readonly op: HostOp;
  readonly code: ContainerHostErrorCode;
  left: number;
  readonly afterEffect: boolean;
  readonly match: ((target: string) => boolean) | null;
}

export interface CallRecord {
  readonly op: HostOp;
  readonly daemonId: string;
  /** Container id, job id (run) or image reference (imageId); '' for the others. */
  readonly target: string;
}

const bytesOf = (x: Uint8Array | string | undefined): Buffer => (x === undefined ? Buffer.alloc(0) : typeof x === 'string' ? Buffer.from(x, 'utf8') : Buffer.from(x));

/** The engine: containers, images, programs, failures. Outlives its clients. */
export class FakeEngine {
  readonly clock: () => number;
  /** false: every call of every client fails `unreachable`; containers keep running. */
  reachable = true;
  readonly calls: CallRecord[] = [];
  private readonly images = new Map<string, string>();
  private readonly programs = new Map<string, ContainerScript | ((spec: JobRunSpec) => ContainerScript)>();
  private readonly byId = new Map<string, Container>();
  private readonly failures: Failure[] = [];
  private readonly createdPerJob = new Map<string, number>();
  private nextId = 1;
  private readonly ncpu: number;
  private readonly memTotal: number;

  constructor(opts: FakeEngineOptions = {}) {
    this.clock = opts.clock ?? ((): number => Date.now());
    this.ncpu = opts.ncpu ?? 8;
    this.memTotal = opts.memTotal ?? 16 * 2 ** 30;
    for (const [ref, id] of Object.entries(opts.images ?? {})) {
      if (!/^sha256:[0-9a-f]{64}$/.test(id)) throw new RangeError(`image id ${id} is not sha256:<64 hex>`);
      this.images.set(ref, id);
      this.images.set(id, id);
    }
  }

  /** A client for one daemon (its `ecd.daemon` label). */
  connect(daemonId: string): FakeContainerHost {
    return new FakeContainerHost(this, daemonId);
  }

  /** `argv[0]` runs this script (or the script the function makes of the spec). */
  define(program: string, script: ContainerScript | ((spec: JobRunSpec) => ContainerScript)): void {
    this.programs.set(program, script);
  }

  /** The next `times` calls of `op` (matching `match`) fail with `code`. */
  failNext(op: HostOp, code: ContainerHostErrorCode, opts: FailureOptions = {}): void {
    this.failures.push({ op, code, left: opts.times ?? 1, afterEffect: opts.afterEffect === true, match: opts.match ?? null });
  }

  /** Failures armed and not used yet. */
  pendingFailures(): number {
    return this.failures.reduce((n, f) => n + f.left, 0);
  }

  /** A container nobody asked this engine for (left by an older daemon, a crash mid-create, …). */
  plant(c: { jobId: string; daemonId: string; state?: 'created' | 'running' | 'exited'; script?: ContainerScript }): string {
    const script = c.script ?? { durationMs: Infinity };
    const k = this.create(c.jobId, c.daemonId, null, script);
    if (c.state === 'created') return k.id;
    this.start(k);
    if (c.state === 'exited') this.exit(k, script.exitCode ?? 0, false);
    return k.id;
  }

  /** An operator's `docker rm -f`: the container is gone, whoever waits for it. */
  removeBehindBack(containerId: string): boolean {
    return this.destroy(containerId);
  }

  /** Every container, any daemon (a copy). */
  containers(): { containerId: string; jobId: string; daemonId: string; state: ContainerState; exitCode: number; startedAt: number; finishedAt: number }[] {
    return [...this.byId.values()].map((c) => ({
      containerId: c.id,
      jobId: c.jobId,
      daemonId: c.daemonId,
      state: c.state,
      exitCode: c.exitCode,
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
    }));
  }

  /** How many containers were ever created for a job id. */
  createdFor(jobId: string): number {
    return this.createdPerJob.get(jobId) ?? 0;
  }

  /** Clears the exit timers (end of a test). */
  dispose(): void {
    for (const c of this.byId.values()) {
      if (c.timer !== null) clearTimeout(c.timer);
      c.timer = null;
    }
  }

  // ——— for clients ———

  /** @internal Records a call and applies reachability and armed failures before it acts. */
  enter(op: HostOp, daemonId: string, target: string): Failure | null {
    this.calls.push({ op, daemonId, target });
    if (!this.reachable) throw new ContainerHostError('unreachable', `${op}: engine unreachable`);
    const i = this.failures.findIndex((f) => f.op === op && f.left > 0 && (f.match === null || f.match(target)));
    if (i < 0) return null;
    const f = this.failures[i] as Failure;
    f.left--;
    if (f.left === 0) this.failures.splice(i, 1);
    if (!f.afterEffect || !ACTING_OPS.has(op)) throw injected(f);
    return f;
  }

  /** @internal */
  info(): HostInfo {
    return { ncpu: this.ncpu, memTotal: this.memTotal, engine: 'other', engineVersion: 'fake-1', apiVersion: '1.41', cgroupVersion: 2 };
  }

  /** @internal */
  imageId(ref: string): string | null {
    return this.images.get(ref) ?? null;
  }

  /** @internal Checks that a run may start; returns its script. */
  admit(spec: JobRunSpec, daemonId: string): ContainerScript {
    if (!this.images.has(spec.imageId)) throw new ContainerHostError('not-found', `no such image: ${spec.imageId}`, 404);
    for (const c of this.byId.values()) {
      if (c.jobId === spec.jobId && c.daemonId === daemonId) throw new ContainerHostError('conflict', `the container name "ecd-${spec.jobId}" is already in use`, 409);
    }
    const p = this.programs.get(spec.argv[0] as string);
    if (p === undefined) throw new ContainerHostError('engine-error', `${spec.argv[0]}: executable file not found in $PATH`, 500);
    return typeof p === 'function' ? p(spec) : p;
  }

  /** @internal Creates and starts. */
  launch(spec: JobRunSpec, daemonId: string, script: ContainerScript): Container {
    const c = this.create(spec.jobId, daemonId, spec, script);
    this.start(c);
    return c;
  }

  /** @internal */
  get(containerId: string): Container | undefined {
    return this.byId.get(containerId);
  }

  /** @internal SIGKILL from outside: exit 137 (OOMKilled stays false). False when not running. */
  sigkill(c: Container): boolean {
    if (c.state !== 'running') return false;
    this.exit(c, 137, false);
    return true;
  }

  /** @internal */
  destroy(containerId: string): boolean {
    const c = this.byId.get(containerId);
    if (c === undefined) return false;
    if (c.timer !== null) clearTimeout(c.timer);
    c.timer = null;
    this.byId.delete(containerId);
    for (const f of [...c.onStop]) f();
    return true;
  }

  /** @internal This daemon's containers. */
  list(daemonId: string): JobContainer[] {
    return [...this.byId.values()].filter((c) => c.daemonId === daemonId).map((c) => ({ containerId: c.id, jobId: c.jobId, state: c.state }));
  }

  private create(jobId: string, daemonId: string, spec: JobRunSpec | null, script: ContainerScript): Container {
    const id = (this.nextId++).toString(16).padStart(64, 'c');
    const c: Container = {
      id,
      jobId,
      daemonId,
      spec,
      script,
      state: 'created',
      startedAt: 0,
      finishedAt: 0,
      exitCode: 0,
      oomKilled: false,
      stdout: bytesOf(script.stdout),
      stderr: bytesOf(script.stderr),
      timer: null,
      onStop: new Set(),
    };
    this.byId.set(id, c);
    this.createdPerJob.set(jobId, (this.createdPerJob.get(jobId) ?? 0) + 1);
    return c;
  }

  private start(c: Container): void {
    c.state = 'running';
    c.startedAt = this.clock();
    const exitAt = c.script.durationMs ?? 0;
    const oomAt = c.script.oomAfterMs ?? Infinity;
    const at = Math.min(exitAt, oomAt);
    if (at === Infinity) return;
    const oom = oomAt <= exitAt;
    c.timer = setTimeout(() => {
      c.timer = null;
      if (oom) this.exit(c, 137, c.script.oomReported !== false);
      else this.exit(c, c.script.exitCode ?? 0, false);
    }, at);
  }

  private exit(c: Container, exitCode: number, oomKilled: boolean): void {
    if (c.state !== 'running') return;
    if (c.timer !== null) clearTimeout(c.timer);
    c.timer = null;
    c.state = 'exited';
    c.exitCode = exitCode;
    c.oomKilled = oomKilled;
    c.finishedAt = this.clock();
    for (const f of [...c.onStop]) f();
  }
}

/** Calls that change the engine, so their answer can be lost after the change. */
const ACTING_OPS: ReadonlySet<HostOp> = new Set(['run', 'kill', 'remove']);

function injected(f: Failure): ContainerHostError {
  return new ContainerHostError(f.code, `${f.op}: injected ${f.code}`);
}

function capped(b: Buffer, max: number): CappedOutput {
  return { bytes: Buffer.from(b.subarray(0, max)), truncated: b.length > max };
}

const HEX64 = /^[0-9a-f]{64}$/;

function checkId(id: string): void {
  if (!HEX64.test(id)) throw new ContainerHostError('bad-spec', 'container id must be 64 lowercase hex characters');
}

/** One daemon's client of a FakeEngine. */
export class FakeContainerHost implements ContainerHost {
  private closed = false;
  /** Why this client SIGKILLed a container, as EngineContainerHost remembers it. */
  private readonly killSent = new Map<string, 'timeout' | 'owner'>();
  private readonly inflight = new Set<(e: ContainerHostError) => void>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly engine: FakeEngine,
    readonly daemonId: string,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  async info(): Promise<HostInfo> {
    await this.begin('info', '');
    return this.engine.info();
  }

  async imageId(ref: string): Promise<string | null> {
    await this.begin('imageId', ref);
    return this.engine.imageId(ref);
  }

  async run(spec: JobRunSpec): Promise<RunningJob> {
    checkJobSpec(spec);
    const lost = await this.begin('run', spec.jobId);
    const script = this.engine.admit(spec, this.daemonId);
    if (script.runDelayMs !== undefined && script.runDelayMs > 0) await this.delay(script.runDelayMs);
    this.check();
    const c = this.engine.launch(spec, this.daemonId, script);
    if (lost !== null) throw injected(lost);
    return { containerId: c.id, jobId: spec.jobId };
  }

  async wait(containerId: string, timeoutMs: number): Promise<WaitResult> {
    checkId(containerId);
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > JOB_LIMITS.maxTimeoutMs) {
      throw new ContainerHostError('bad-spec', `timeoutMs must be an integer in 1…${JOB_LIMITS.maxTimeoutMs}`);
    }
    await this.begin('wait', containerId);
    const c = this.engine.get(containerId);
    if (c === undefined) throw new ContainerHostError('not-found', `no such container ${containerId.slice(0, 12)}`, 404);
    if (c.state === 'running') {
      await new Promise<void>((resolve, reject) => {
        const stop = (): void => {
          clearTimeout(deadline);
          this.timers.delete(deadline);
          c.onStop.delete(stop);
          this.inflight.delete(abort);
          resolve();
        };
        const abort = (e: ContainerHostError): void => {
          clearTimeout(deadline);
          this.timers.delete(deadline);
          c.onStop.delete(stop);
          reject(e);
        };
        const deadline = setTimeout(() => {
          this.timers.delete(deadline);
          if (!this.killSent.has(c.id)) this.killSent.set(c.id, 'timeout');
          this.engine.sigkill(c); // calls stop
        }, timeoutMs);
        this.timers.add(deadline);
        c.onStop.add(stop);
        this.inflight.add(abort);
      });
    }
    return this.result(containerId);
  }

  async stats(containerId: string): Promise<JobUsage> {
    checkId(containerId);
    await this.begin('stats', containerId);
    const c = this.found(containerId);
    const u = c.script.usage ?? {};
    return { cpuNanos: u.cpuNanos ?? 0, peakMemoryBytes: u.peakMemoryBytes ?? 0, peakPids: u.peakPids ?? 0, samples: 1 };
  }

  async logs(containerId: string, streams: LogStreams, maxBytes: number): Promise<JobLogs> {
    checkId(containerId);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0 || maxBytes > JOB_LIMITS.maxOutputBytes) {
      throw new ContainerHostError('bad-spec', `maxBytes must be an integer in 0…${JOB_LIMITS.maxOutputBytes}`);
    }
    await this.begin('logs', containerId);
    const c = this.found(containerId);
    const empty: CappedOutput = { bytes: Buffer.alloc(0), truncated: false };
    return {
      stdout: streams === 'stderr' ? empty : capped(c.stdout, maxBytes),
      stderr: streams === 'stdout' ? empty : capped(c.stderr, maxBytes),
    };
  }

  async kill(containerId: string): Promise<boolean> {
    checkId(containerId);
    const lost = await this.begin('kill', containerId);
    const c = this.found(containerId);
    const first = !this.killSent.has(containerId);
    if (first) this.killSent.set(containerId, 'owner');
    const killed = this.engine.sigkill(c);
    if (!killed && first) this.killSent.delete(containerId);
    if (lost !== null) throw injected(lost);
    return killed;
  }

  async remove(containerId: string): Promise<boolean> {
    checkId(containerId);
    try {
      const lost = await this.begin('remove', containerId);
      const removed = this.engine.destroy(containerId);
      if (lost !== null) throw injected(lost);
      return removed;
    } finally {
      this.killSent.delete(containerId);
    }
  }

  async listJobs(): Promise<JobContainer[]> {
    await this.begin('listJobs', '');
    return this.engine.list(this.daemonId);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const fail of [...this.inflight]) fail(new ContainerHostError('closed', 'container host closed'));
    this.inflight.clear();
  }

  // ——— internals ———

  /** One engine call: asynchronous like a request, `closed` after close, then the engine's checks. */
  private async begin(op: HostOp, target: string): Promise<ReturnType<FakeEngine['enter']>> {
    this.check();
    await Promise.resolve();
    this.check();
    return this.engine.enter(op, this.daemonId, target);
  }

  private check(): void {
    if (this.closed) throw new ContainerHostError('closed', 'container host closed');
  }

  private found(containerId: string): NonNullable<ReturnType<FakeEngine['get']>> {
    const c = this.engine.get(containerId);
    if (c === undefined) throw new ContainerHostError('not-found', `no such container ${containerId.slice(0, 12)}`, 404);
    return c;
  }

  /** Waits `ms` (virtual under mock timers); rejects `closed` when the client closes first. */
  private delay(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const abort = (e: ContainerHostError): void => {
        clearTimeout(t);
        this.timers.delete(t);
        reject(e);
      };
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.inflight.delete(abort);
        resolve();
      }, ms);
      this.timers.add(t);
      this.inflight.add(abort);
    });
  }

  /** The real host's `result`: the state after an exit, with the kill reason as it decides it. */
  private result(containerId: string): WaitResult {
    const c = this.engine.get(containerId);
    if (c === undefined) throw new ContainerHostError('not-found', `no such container ${containerId.slice(0, 12)}`, 404);
    if (c.state !== 'exited') throw new ContainerHostError('conflict', `container ${containerId.slice(0, 12)} is ${c.state}, not exited`);
    const common = { exitCode: c.exitCode, startedAt: c.startedAt, finishedAt: c.finishedAt };
    const sent = this.killSent.get(containerId);
    const sigkill = c.exitCode === 137;
    if (sigkill && sent !== undefined) return { ...common, state: 'killed', killReason: sent };
    if (sigkill && c.oomKilled) return { ...common, state: 'killed', killReason: 'oom', oomEvidence: 'engine' };
    if (sigkill) return { ...common, state: 'killed', killReason: 'oom', oomEvidence: 'sigkill' };
    return { ...common, state: 'exited', killReason: null };
  }
}
