/**
 * The container host for compute jobs (PROTOCOL §10): one interface, `ContainerHost`, and its real
 * implementation, `EngineContainerHost`, a client of the Docker Engine API as served by Docker or
 * by Podman's compatible service, over a unix socket (`unix:///run/x.sock`) or TCP
 * (`tcp://127.0.0.1:2375`, plain HTTP: keep it on loopback).
 *
 * Own client over `node:http`, not dockerode. dockerode 5 works against Podman here for every
 * call this module makes, but it brings 56 packages (gRPC and protobufjs for BuildKit, tar-fs,
 * ssh2 with node-gyp builds of cpu-features and sshcrypto) for a dozen REST calls, and the parts
 * that matter here would be ours anyway: docker-modem buffers a non-follow log response whole (a
 * job that prints 1 GB means 1 GB in our heap) and has one idle timeout per client, which would
 * also cut the long-poll `wait`; its errors are untyped. So: one request function with a deadline
 * on every call, a streaming demultiplexer that stops reading at the cap, and typed errors.
 *
 * Strict defaults for every job: no network (`NetworkMode none`, only `lo` inside), read-only
 * root, a 64 MiB tmpfs `/tmp`, `PidsLimit` 64, `MemorySwap = Memory`, `NanoCpus`, ulimits nofile
 * 1024 and nproc 4096, all capabilities dropped, `no-new-privileges`, `OomScoreAdj` 1000 (under
 * host-wide memory pressure the kernel kills job processes before the daemon), no automatic
 * removal (exit code and logs are read first). The pids cgroup is the real bound on processes: the
 * kernel does not enforce RLIMIT_NPROC for uid 0 of the host's user namespace, which is what a
 * root job in a rootful engine is. Podman also mounts tmpfs on `/run` and `/var/tmp` when the root
 * is read-only; tmpfs pages are charged to the job's memory cgroup, so `Memory` bounds them too.
 *
 * Kill reasons. `timeout` and `owner` are kills this host sent (SIGKILL), remembered per
 * container. `oom`: the engine's `State.OOMKilled` where it reports it (Docker; Podman on cgroup
 * v2), otherwise an exit status of 137 (SIGKILL) that this host did not send. Podman 4.3 on
 * cgroup v1 leaves OOMKilled false after a memory-cgroup OOM kill and emits no event for it
 * (conmon notices, but drops its marker file in its working directory, where Podman does not
 * look). Nothing inside the container can SIGKILL its PID 1 (signals from inside a pid namespace
 * to its init are dropped), so such an exit came from the kernel or from root on the host; a job
 * can still end with 137 by itself (`exit 137`, or passing on a child's status) and is then
 * reported as oom, a misreport of its own making. Not used: the cgroup's failcnt (gone when the
 * container exits, out of reach over TCP, a different path per engine) and "sampled peak near
 * the limit" (samples miss fast growth: a string-doubling hog under 32 MiB peaked at 20 MiB in
 * the samples). `oomEvidence` says which rule applied.
 *
 * Exit detection: `wait` inspects the container every `exitPollMs` instead of long-polling
 * `/containers/{id}/wait`. Podman 4.3 answers that call only when the container reaches its
 * `exited` state, which the `podman container cleanup` process that conmon starts at the exit sets
 * after unmounting (commonly most of a second later), and until then re-checks with a 1 ns interval,
 * most of a CPU per waiting job. An inspect makes Podman read conmon's exit file, so it reports
 * `stopped` with the exit code as soon as that file exists (read here as exited); Docker reports
 * `exited` at once. A poll costs the engine a few ms of CPU.
 *
 * Usage (`stats`) is sampled while `wait` runs and once more when a timeout fires: the engine
 * reports nothing for a container that has exited, so CPU time is a lower bound, short by at most
 * one sample interval; peak memory is the engine's max_usage where given (Docker, cgroup v1) or
 * the highest sampled usage (cgroup v1 usage includes page cache, as the limit does).
 *
 * Output: `logs` reads the head of each stream up to the cap and drops the connection there, so
 * memory stays at the cap whatever the job printed. The engine itself keeps all of it in its log
 * file until `remove` (conmon's size cap would keep the tail, not the head), so a job's disk use
 * is bounded by its write rate times its timeout.
 */
import { Agent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Logger } from './log.js';

// ——— limits ———

export const JOB_LIMITS = {
  pidsLimit: 64,
  nofile: 1024,
  nproc: 4096,
  tmpfsBytes: 64 * 1024 * 1024,
  oomScoreAdj: 1000,
  /** Engines refuse less (Docker's and Podman's minimum). */
  minMemoryBytes: 6 * 1024 * 1024,
  /** CpuQuota ≥ 1 ms per 100 ms period. */
  minNanoCpus: 10_000_000,
  maxTimeoutMs: 24 * 3600 * 1000,
  maxOutputBytes: 256 * 1024 * 1024,
  maxArgs: 1024,
  maxEnv: 1024,
  /** argv and env together, in bytes. */
  maxCommandBytes: 128 * 1024,
} as const;

export const HOST_LIMITS = {
  /** Any request but the long-poll wait and logs. */
  requestTimeoutMs: 15_000,
  /** After SIGKILL, the exit must be seen within this. */
  killGraceMs: 15_000,
  logsTimeoutMs: 60_000,
  /** A JSON response larger than this is refused. */
  maxResponseBytes: 16 * 1024 * 1024,
  sampleIntervalMs: 250,
  /** `wait` inspects a running container this often (see the module comment). */
  exitPollMs: 50,
} as const;

/** Highest API version whose fields this module uses as written; the engine may speak less. */
const API_MAX: readonly [number, number] = [1, 47];
const API_MIN: readonly [number, number] = [1, 41];

// ——— interface ———

export type ContainerHostErrorCode =
  | 'bad-endpoint' // the endpoint string is not unix:///path or tcp://host:port
  | 'bad-spec' // the job spec or an id is malformed; nothing was sent
  | 'unreachable' // no connection to the engine
  | 'timeout' // the engine did not answer within the call's deadline
  | 'not-found' // no such container or image
  | 'conflict' // name in use, container not running, …
  | 'refused' // the engine rejected the request as invalid (4xx)
  | 'engine-error' // the engine failed (5xx)
  | 'bad-response' // unparseable, unexpected or oversized answer
  | 'closed'; // this host was closed

export class ContainerHostError extends Error {
  override readonly name = 'ContainerHostError';
  constructor(
    readonly code: ContainerHostErrorCode,
    message: string,
    /** HTTP status from the engine, when there was one. */
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

export interface HostInfo {
  readonly ncpu: number;
  readonly memTotal: number;
  readonly engine: 'podman' | 'docker' | 'other';
  readonly engineVersion: string;
  /** The API version this client speaks with the engine. */
  readonly apiVersion: string;
  readonly cgroupVersion: 1 | 2 | null;
}

export interface JobRunSpec {
  /** 64 lowercase hex characters. */
  readonly jobId: string;
  /** `sha256:` + 64 hex: an image id, never a name (nothing is pulled). */
  readonly imageId: string;
  /** argv[0] is the program; replaces the image's entrypoint and command. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly nanoCpus: number;
  readonly memoryBytes: number;
  /** Checked here; enforced by `wait(id, timeoutMs)`. */
  readonly timeoutMs: number;
  /** Checked here; applied by `logs(id, streams, maxBytes)`. */
  readonly maxOutputBytes: number;
  readonly network: false;
}

export interface RunningJob {
  /** Full container id (64 hex); every other call takes this. */
  readonly containerId: string;
  readonly jobId: string;
}

export type KillReason = 'timeout' | 'oom' | 'owner';

interface WaitCommon {
  readonly exitCode: number;
  /** ms since the epoch */
  readonly startedAt: number;
  readonly finishedAt: number;
}
export type WaitResult =
  | (WaitCommon & { readonly state: 'exited'; readonly killReason: null })
  | (WaitCommon & { readonly state: 'killed'; readonly killReason: 'timeout' | 'owner' })
  | (WaitCommon & {
      readonly state: 'killed';
      readonly killReason: 'oom';
      /** `engine`: State.OOMKilled; `sigkill`: exit 137 that this host did not send. */
      readonly oomEvidence: 'engine' | 'sigkill';
    });

export interface JobUsage {
  /** CPU time in ns (a lower bound: see the module comment). */
  readonly cpuNanos: number;
  readonly peakMemoryBytes: number;
  readonly peakPids: number;
  /** Samples taken; 0 means nothing was measured. */
  readonly samples: number;
}

export type LogStreams = 'stdout' | 'stderr' | 'both';

export interface CappedOutput {
  readonly bytes: Buffer;
  /** The stream had more than the cap. */
  readonly truncated: boolean;
}

export interface JobLogs {
  readonly stdout: CappedOutput;
  readonly stderr: CappedOutput;
}

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead' | 'unknown';

export interface JobContainer {
  readonly containerId: string;
  /** The `ecd.job` label as found (reconciliation removes containers whose job it does not know). */
  readonly jobId: string;
  readonly state: ContainerState;
}

export interface ContainerHost {
  info(): Promise<HostInfo>;
  /** Full image id for a reference, or null when the engine does not have it. Never pulls. */
  imageId(ref: string): Promise<string | null>;
  /** Creates the job's container with the strict defaults and starts it. */
  run(spec: JobRunSpec): Promise<RunningJob>;
  /** Resolves when the container exits; SIGKILLs it after `timeoutMs` (from the call). */
  wait(containerId: string, timeoutMs: number): Promise<WaitResult>;
  stats(containerId: string): Promise<JobUsage>;
  logs(containerId: string, streams: LogStreams, maxBytes: number): Promise<JobLogs>;
  /** SIGKILL (reported as `owner`); false when it was not running. */
  kill(containerId: string): Promise<boolean>;
  /** Removes the container and its anonymous volumes; false when it did not exist. */
  remove(containerId: string): Promise<boolean>;
  /** This daemon's job containers (labels `ecd.job` and `ecd.daemon`), any state. */
  listJobs(): Promise<JobContainer[]>;
  /** Aborts calls in flight (they reject with `closed`) and stops sampling. */
  close(): void;
}

export const LABEL_JOB = 'ecd.job';
export const LABEL_DAEMON = 'ecd.daemon';

// ——— endpoint ———

export type Endpoint = { readonly kind: 'unix'; readonly path: string } | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

export function parseEndpoint(s: string): Endpoint {
  if (s.startsWith('unix://')) {
    const path = s.slice('unix://'.length);
    if (path.startsWith('/') && path.length > 1 && !path.includes('\0')) return { kind: 'unix', path };
  } else if (s.startsWith('tcp://')) {
    const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(s);
    const port = Number(m?.[2]);
    if (m !== null && port >= 1 && port <= 65535) return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port };
  }
  throw new ContainerHostError('bad-endpoint', `container host endpoint must be unix:///path or tcp://host:port, got ${JSON.stringify(s)}`);
}

// ——— pure helpers (exported for tests) ———

const HEX64 = /^[0-9a-f]{64}$/;
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
const IMAGE_REF = /^[A-Za-z0-9][A-Za-z0-9._\/:@+-]{0,254}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

/** Throws `bad-spec` with the first problem found. */
export function checkJobSpec(spec: JobRunSpec): void {
  const bad = (why: string): never => {
    throw new ContainerHostError('bad-spec', `job spec: ${why}`);
  };
  if (!HEX64.test(spec.jobId)) bad('jobId must be 64 lowercase hex characters');
  if (!IMAGE_ID.test(spec.imageId)) bad('imageId must be sha256:<64 hex>');
  if (spec.network !== false) bad('network must be false');
  if (spec.argv.length < 1 || spec.argv.length > JOB_LIMITS.maxArgs) bad(`argv must have 1…${JOB_LIMITS.maxArgs} entries`);
  if (spec.argv[0] === '') bad('argv[0] must not be empty');
  const env = Object.entries(spec.env);
  if (env.length > JOB_LIMITS.maxEnv) bad(`at most ${JOB_LIMITS.maxEnv} environment variables`);
  let bytes = 0;
  for (const a of spec.argv) {
    if (typeof a !== 'string' || a.includes('\0')) bad('argv entries must be strings without NUL');
    bytes += Buffer.byteLength(a) + 1;
  }
  for (const [k, v] of env) {
    if (!ENV_NAME.test(k)) bad(`environment name ${JSON.stringify(k)} is not [A-Za-z_][A-Za-z0-9_]*`);
    if (typeof v !== 'string' || v.includes('\0')) bad(`environment value of ${k} must be a string without NUL`);
    bytes += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
  }
  if (bytes > JOB_LIMITS.maxCommandBytes) bad(`argv and env exceed ${JOB_LIMITS.maxCommandBytes} bytes`);
  const int = (x: number, lo: number, hi: number): boolean => Number.isSafeInteger(x) && x >= lo && x <= hi;
  if (!int(spec.nanoCpus, JOB_LIMITS.minNanoCpus, 1e12)) bad(`nanoCpus must be an integer ≥ ${JOB_LIMITS.minNanoCpus}`);
  if (!int(spec.memoryBytes, JOB_LIMITS.minMemoryBytes, Number.MAX_SAFE_INTEGER)) bad(`memoryBytes must be an integer ≥ ${JOB_LIMITS.minMemoryBytes}`);
  if (!int(spec.timeoutMs, 1, JOB_LIMITS.maxTimeoutMs)) bad(`timeoutMs must be an integer in 1…${JOB_LIMITS.maxTimeoutMs}`);
  if (!int(spec.maxOutputBytes, 0, JOB_LIMITS.maxOutputBytes)) bad(`maxOutputBytes must be an integer in 0…${JOB_LIMITS.maxOutputBytes}`);
}

/** The create body: the spec under the strict defaults. */
export function createBody(spec: JobRunSpec, daemonId: string): Record<string, unknown> {
  return {
    Image: spec.imageId,
    Entrypoint: [spec.argv[0]],
    Cmd: spec.argv.slice(1),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: { [LABEL_JOB]: spec.jobId, [LABEL_DAEMON]: daemonId },
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${JOB_LIMITS.tmpfsBytes},mode=1777` },
      PidsLimit: JOB_LIMITS.pidsLimit,
      Memory: spec.memoryBytes,
      MemorySwap: spec.memoryBytes,
      NanoCpus: spec.nanoCpus,
      Ulimits: [
        { Name: 'nofile', Soft: JOB_LIMITS.nofile, Hard: JOB_LIMITS.nofile },
        { Name: 'nproc', Soft: JOB_LIMITS.nproc, Hard: JOB_LIMITS.nproc },
      ],
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      OomScoreAdj: JOB_LIMITS.oomScoreAdj,
      Privileged: false,
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
    },
  };
}

/** One stats answer, Docker's or Podman's compat shape; null when it measured nothing. */
export interface StatsSample {
  readonly cpuNanos: number;
  readonly memoryBytes: number;
  /** Docker on cgroup v1 only (`memory_stats.max_usage`). */
  readonly maxMemoryBytes: number | null;
  readonly pids: number | null;
}

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : null);
const obj = (x: unknown): Record<string, unknown> => (typeof x === 'object' && x !== null ? (x as Record<string, unknown>) : {});

export function parseStatsSample(body: unknown): StatsSample | null {
  const o = obj(body);
  // Docker answers a stopped container with zeros and a zero `read` time; Podman with no body.
  if (typeof o['read'] === 'string' && o['read'].startsWith('0001-01-01')) return null;
  const cpu = num(obj(obj(o['cpu_stats'])['cpu_usage'])['total_usage']);
  const mem = obj(o['memory_stats']);
  const usage = num(mem['usage']);
  if (cpu === null && usage === null) return null;
  return { cpuNanos: cpu ?? 0, memoryBytes: usage ?? 0, maxMemoryBytes: num(mem['max_usage']), pids: num(obj(o['pids_stats'])['current']) };
}

/**
 * Reads Docker's multiplexed log stream (Tty false): frames of an 8-byte header
 * `[stream, 0, 0, 0, length as u32 BE]` and `length` bytes. Keeps at most `cap` bytes per stream;
 * `full()` tells the reader it can stop.
 */
export class LogDemux {
  private readonly header = Buffer.alloc(8);
  private headerFill = 0;
  private frameLeft = 0;
  private frameStream = 0;
  private readonly kept: [Buffer[], Buffer[]] = [[], []];
  private readonly keptBytes = [0, 0];
  private readonly over = [false, false];

  constructor(
    private readonly cap: number,
    /** Streams to keep: 1 stdout, 2 stderr. */
    private readonly wanted: readonly (1 | 2)[],
  ) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.frameLeft === 0) {
        const n = Math.min(8 - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + n);
        this.headerFill += n;
        at += n;
        if (this.headerFill < 8) return;
        this.headerFill = 0;
        this.frameStream = this.header[0]!;
        this.frameLeft = this.header.readUInt32BE(4);
        continue;
      }
      const n = Math.min(this.frameLeft, chunk.length - at);
      this.keep(this.frameStream, chunk.subarray(at, at + n));
      this.frameLeft -= n;
      at += n;
    }
  }

  private keep(stream: number, bytes: Buffer): void {
    if (stream !== 1 && stream !== 2) return; // stdin echo, Docker's systemerr frames
    const i = stream - 1;
    const room = this.cap - this.keptBytes[i]!;
    if (bytes.length > room) this.over[i] = true;
    const take = Math.min(room, bytes.length);
    if (take > 0) {
      // A copy, so the socket's chunk is not held alive by a small slice.
      this.kept[i]!.push(Buffer.from(bytes.subarray(0, take)));
      this.keptBytes[i]! += take;
    }
  }

  /** Every wanted stream has passed its cap: nothing more will be kept. */
  full(): boolean {
    return this.wanted.every((s) => this.over[s - 1]);
  }

  output(stream: 1 | 2): CappedOutput {
    return { bytes: Buffer.concat(this.kept[stream - 1]!), truncated: this.over[stream - 1]! };
  }
}

/** `1.41` → [1, 41]; null if not a version. */
function apiVersion(s: unknown): [number, number] | null {
  const m = typeof s === 'string' ? /^(\d+)\.(\d+)$/.exec(s) : null;
  return m === null ? null : [Number(m[1]), Number(m[2])];
}
const apiLess = (a: readonly [number, number], b: readonly [number, number]): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

function parseTime(s: unknown): number {
  const t = typeof s === 'string' ? Date.parse(s) : NaN;
  return Number.isFinite(t) && t > 0 ? t : 0;
}

const STATES: readonly ContainerState[] = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];
function containerState(s: unknown): ContainerState {
  if (s === 'stopped') return 'exited'; // Podman: exited, exit code recorded, cleanup not yet done
  return STATES.find((x) => x === s) ?? 'unknown';
}

/** For `wait`: still going, ended (exit code known), or a state a started job never reaches. */
function exitPhase(status: unknown): 'going' | 'ended' | 'other' {
  if (status === 'running' || status === 'paused' || status === 'restarting' || status === 'stopping') return 'going';
  const s = containerState(status);
  return s === 'exited' || s === 'dead' ? 'ended' : 'other';
}

// ——— the Engine API client ———

export interface EngineContainerHostModules {
  readonly log: Logger;
}

export interface EngineContainerHostOptions {
  /** `unix:///path` or `tcp://host:port`. */
  readonly endpoint: string;
  /** Stored as the `ecd.daemon` label; `listJobs` returns only containers carrying it. */
  readonly daemonId: string;
  readonly sampleIntervalMs?: number;
  /** Deadline of every call but `wait` and `logs`. */
  readonly requestTimeoutMs?: number;
}

interface HttpAnswer {
  readonly status: number;
  readonly body: Buffer;
}

interface RequestOptions {
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly timeoutMs?: number;
}

interface UsageTrack {
  cpuNanos: number;
  peakMemoryBytes: number;
  peakPids: number;
  samples: number;
}

/** Podman answers some conflicts with 500 and says so in `cause`. */
const PODMAN_CONFLICT_CAUSES = new Set(['that name is already in use', 'container state improper', 'container already exists']);

function errorFromAnswer(what: string, a: HttpAnswer): ContainerHostError {
  let message = '';
  let cause = '';
  try {
    const o = obj(JSON.parse(a.body.toString('utf8')));
    message = typeof o['message'] === 'string' ? o['message'] : '';
    cause = typeof o['cause'] === 'string' ? o['cause'] : '';
  } catch {
    message = a.body.subarray(0, 200).toString('utf8');
  }
  const code: ContainerHostErrorCode =
    a.status === 404
      ? 'not-found'
      : a.status === 409 || PODMAN_CONFLICT_CAUSES.has(cause)
        ? 'conflict'
        : a.status >= 400 && a.status < 500
          ? 'refused'
          : 'engine-error';
  return new ContainerHostError(code, `${what}: HTTP ${a.status}${message === '' ? '' : `: ${message}`}`, a.status);
}

function connectError(what: string, e: unknown): ContainerHostError {
  if (e instanceof ContainerHostError) return e;
  const errno = (e as NodeJS.ErrnoException | null)?.code ?? '';
  const message = e instanceof Error ? e.message : String(e);
  return new ContainerHostError('unreachable', `${what}: ${errno === '' ? message : `${errno} ${message}`}`);
}

const EMPTY = Buffer.alloc(0);
const NO_ANSWER: HttpAnswer = { status: 0, body: EMPTY };

/** A path for messages: container ids shortened to 12 characters. */
const shortPath = (path: string): string => path.replace(/[0-9a-f]{64}/g, (id) => id.slice(0, 12));

function checkId(id: string): void {
  if (!HEX64.test(id)) throw new ContainerHostError('bad-spec', `container id must be 64 lowercase hex characters, got ${JSON.stringify(id.slice(0, 80))}`);
}

export class EngineContainerHost implements ContainerHost {
  private readonly endpoint: Endpoint;
  private readonly agent = new Agent({ keepAlive: false, maxSockets: 64 });
  /** Requests and pauses in flight → how to fail each one. */
  private readonly inflight = new Map<ClientRequest | object, (e: ContainerHostError) => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly killSent = new Map<string, 'timeout' | 'owner'>();
  private readonly usage = new Map<string, UsageTrack>();
  private prefix: Promise<string> | null = null;
  private closed = false;
  private readonly sampleIntervalMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly mods: EngineContainerHostModules,
    private readonly opts: EngineContainerHostOptions,
  ) {
    this.endpoint = parseEndpoint(opts.endpoint);
    if (opts.daemonId === '' || opts.daemonId.length > 128 || /[\0-\x1f]/.test(opts.daemonId)) {
      throw new ContainerHostError('bad-spec', 'daemonId must be 1…128 printable characters');
    }
    this.sampleIntervalMs = opts.sampleIntervalMs ?? HOST_LIMITS.sampleIntervalMs;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? HOST_LIMITS.requestTimeoutMs;
  }

  async info(): Promise<HostInfo> {
    const [info, version, prefix] = await Promise.all([this.json('GET', '/info'), this.json('GET', '/version'), this.apiPrefix()]);
    const i = obj(info);
    const v = obj(version);
    const components = Array.isArray(v['Components']) ? v['Components'].map(obj) : [];
    const names = components.map((c) => String(c['Name'] ?? ''));
    const engine = names.some((n) => /podman/i.test(n)) ? 'podman' : names.includes('Engine') ? 'docker' : 'other';
    const ncpu = num(i['NCPU']);
    const memTotal = num(i['MemTotal']);
    if (ncpu === null || memTotal === null) throw new ContainerHostError('bad-response', '/info lacks NCPU or MemTotal');
    const cg = i['CgroupVersion'];
    return {
      ncpu,
      memTotal,
      engine,
      engineVersion: typeof v['Version'] === 'string' ? v['Version'] : '',
      apiVersion: prefix.slice(2),
      cgroupVersion: cg === '1' ? 1 : cg === '2' ? 2 : null,
    };
  }

  async imageId(ref: string): Promise<string | null> {
    if (!IMAGE_REF.test(ref) || ref.includes('..')) throw new ContainerHostError('bad-spec', `not an image reference: ${JSON.stringify(ref.slice(0, 80))}`);
    try {
      const id = obj(await this.json('GET', `/images/${ref}/json`))['Id'];
      if (typeof id !== 'string') throw new ContainerHostError('bad-response', 'image inspect lacks Id');
      const full = id.startsWith('sha256:') ? id : `sha256:${id}`;
      if (!IMAGE_ID.test(full)) throw new ContainerHostError('bad-response', `image id ${JSON.stringify(id)} is not sha256:<64 hex>`);
      return full;
    } catch (e) {
      if (e instanceof ContainerHostError && e.code === 'not-found') return null;
      throw e;
    }
  }

  async run(spec: JobRunSpec): Promise<RunningJob> {
    checkJobSpec(spec);
    const created = obj(
      await this.json('POST', '/containers/create', { query: { name: `ecd-${spec.jobId}` }, body: createBody(spec, this.opts.daemonId) }),
    );
    const containerId = created['Id'];
    if (typeof containerId !== 'string' || !HEX64.test(containerId)) throw new ContainerHostError('bad-response', 'create answered without a container id');
    const warnings = created['Warnings'];
    if (Array.isArray(warnings) && warnings.length > 0) this.mods.log.warn({ containerId, warnings }, 'engine warnings on create');
    try {
      await this.call('POST', `/containers/${containerId}/start`, [204, 304]);
    } catch (e) {
      await this.remove(containerId).catch((re: unknown) => this.mods.log.warn({ containerId, err: String(re) }, 'could not remove a container that failed to start'));
      throw e;
    }
    this.usage.set(containerId, { cpuNanos: 0, peakMemoryBytes: 0, peakPids: 0, samples: 0 });
    return { containerId, jobId: spec.jobId };
  }

  async wait(containerId: string, timeoutMs: number): Promise<WaitResult> {
    checkId(containerId);
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > JOB_LIMITS.maxTimeoutMs) {
      throw new ContainerHostError('bad-spec', `timeoutMs must be an integer in 1…${JOB_LIMITS.maxTimeoutMs}`);
    }
    const t0 = performance.now();
    const stopSampling = this.sampleWhileRunning(containerId);
    let killAt = timeoutMs; // ms after t0; then the deadline for seeing the exit
    let killed = false;
    try {
      for (;;) {
        const state = await this.inspectState(containerId);
        const phase = exitPhase(state['Status']);
        if (phase === 'ended') return this.result(containerId, state);
        if (phase === 'other') {
          throw new ContainerHostError('conflict', `container ${containerId.slice(0, 12)} is ${String(state['Status'])}, not running or exited`);
        }
        const elapsed = performance.now() - t0;
        if (elapsed >= killAt && killed) {
          throw new ContainerHostError('timeout', `container ${containerId.slice(0, 12)} still runs ${HOST_LIMITS.killGraceMs} ms after SIGKILL`);
        }
        if (elapsed >= killAt) {
          await this.sample(containerId).catch(() => {});
          this.mods.log.info({ containerId, timeoutMs }, 'job timed out: SIGKILL');
          await this.killFor(containerId, 'timeout');
          killed = true;
          killAt = performance.now() - t0 + HOST_LIMITS.killGraceMs;
          continue;
        }
        await this.pause(Math.min(HOST_LIMITS.exitPollMs, Math.ceil(killAt - elapsed)));
      }
    } finally {
      stopSampling();
    }
  }

  async stats(containerId: string): Promise<JobUsage> {
    checkId(containerId);
    await this.sample(containerId);
    const u = this.usage.get(containerId);
    return u === undefined ? { cpuNanos: 0, peakMemoryBytes: 0, peakPids: 0, samples: 0 } : { ...u };
  }

  async logs(containerId: string, streams: LogStreams, maxBytes: number): Promise<JobLogs> {
    checkId(containerId);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0 || maxBytes > JOB_LIMITS.maxOutputBytes) {
      throw new ContainerHostError('bad-spec', `maxBytes must be an integer in 0…${JOB_LIMITS.maxOutputBytes}`);
    }
    const empty: CappedOutput = { bytes: Buffer.alloc(0), truncated: false };
    // One request per stream, so each stops at its own cap instead of reading past it for the other.
    const [stdout, stderr] = await Promise.all([
      streams === 'stderr' ? empty : this.readLog(containerId, 1, maxBytes),
      streams === 'stdout' ? empty : this.readLog(containerId, 2, maxBytes),
    ]);
    return { stdout, stderr };
  }

  async kill(containerId: string): Promise<boolean> {
    checkId(containerId);
    return this.killFor(containerId, 'owner');
  }

  async remove(containerId: string): Promise<boolean> {
    checkId(containerId);
    try {
      await this.call('DELETE', `/containers/${containerId}`, [200, 204], { query: { force: 'true', v: 'true' } });
      return true;
    } catch (e) {
      if (e instanceof ContainerHostError && e.code === 'not-found') return false;
      throw e;
    } finally {
      this.killSent.delete(containerId);
      this.usage.delete(containerId);
    }
  }

  async listJobs(): Promise<JobContainer[]> {
    const filters = JSON.stringify({ label: [LABEL_JOB, `${LABEL_DAEMON}=${this.opts.daemonId}`] });
    const list = await this.json('GET', '/containers/json', { query: { all: 'true', filters } });
    if (!Array.isArray(list)) throw new ContainerHostError('bad-response', 'container list is not an array');
    const jobs: JobContainer[] = [];
    for (const c of list.map(obj)) {
      const id = c['Id'];
      const labels = obj(c['Labels']);
      // The filter is the engine's; check it, since this list decides what gets removed.
      if (typeof id !== 'string' || !HEX64.test(id) || labels[LABEL_DAEMON] !== this.opts.daemonId) continue;
      const jobId = labels[LABEL_JOB];
      jobs.push({ containerId: id, jobId: typeof jobId === 'string' ? jobId : '', state: containerState(c['State']) });
    }
    return jobs;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const fail of [...this.inflight.values()]) fail(new ContainerHostError('closed', 'container host closed'));
    this.inflight.clear();
    this.agent.destroy();
  }

  // ——— job internals ———

  /**
   * SIGKILL, remembering why before it is sent (the exit may be seen before the answer). The first
   * reason stays; a kill that found the container not running leaves none behind.
   */
  private async killFor(containerId: string, reason: 'timeout' | 'owner'): Promise<boolean> {
    const first = !this.killSent.has(containerId);
    if (first) this.killSent.set(containerId, reason);
    try {
      await this.call('POST', `/containers/${containerId}/kill`, [204], { query: { signal: 'KILL' } });
      return true;
    } catch (e) {
      if (!(e instanceof ContainerHostError && e.code === 'conflict')) throw e; // may have been delivered
      if (first) this.killSent.delete(containerId);
      return false; // not running
    }
  }

  /** The inspect answer's `State`. */
  private async inspectState(containerId: string): Promise<Record<string, unknown>> {
    return obj(obj(await this.json('GET', `/containers/${containerId}/json`))['State']);
  }

  /** The result of an ended container from its inspected `State`. */
  private result(containerId: string, state: Record<string, unknown>): WaitResult {
    const exitCode = typeof state['ExitCode'] === 'number' ? state['ExitCode'] : -1;
    const startedAt = parseTime(state['StartedAt']);
    const finishedAt = parseTime(state['FinishedAt']);
    // Podman can stamp a process that exits at once as finished a few ms before it started.
    const common = { exitCode, startedAt, finishedAt: finishedAt > 0 ? Math.max(finishedAt, startedAt) : 0 };
    const sent = this.killSent.get(containerId);
    const sigkill = exitCode === 137;
    if (sigkill && sent !== undefined) return { ...common, state: 'killed', killReason: sent };
    if (sigkill && state['OOMKilled'] === true) return { ...common, state: 'killed', killReason: 'oom', oomEvidence: 'engine' };
    if (sigkill) return { ...common, state: 'killed', killReason: 'oom', oomEvidence: 'sigkill' };
    return { ...common, state: 'exited', killReason: null };
  }

  /** Resolves after `ms`; rejects with `closed` when the host is closed first. */
  private pause(ms: number): Promise<void> {
    if (this.closed) return Promise.reject(new ContainerHostError('closed', 'container host closed'));
    return new Promise<void>((resolve, reject) => {
      const key = {};
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.inflight.delete(key);
        resolve();
      }, ms);
      this.timers.add(timer);
      this.inflight.set(key, (e) => {
        clearTimeout(timer);
        this.timers.delete(timer);
        reject(e);
      });
    });
  }

  /** Samples every interval until the returned function is called. */
  private sampleWhileRunning(containerId: string): () => void {
    let stopped = false;
    let timer: NodeJS.Timeout | null = null;
    const tick = (): void => {
      this.sample(containerId)
        .catch(() => {})
        .finally(() => {
          if (stopped || this.closed) return;
          timer = setTimeout(() => {
            if (timer !== null) this.timers.delete(timer);
            tick();
          }, this.sampleIntervalMs);
          this.timers.add(timer);
        });
    };
    tick();
    return () => {
      stopped = true;
      if (timer !== null) {
        clearTimeout(timer);
        this.timers.delete(timer);
      }
    };
  }

  private async sample(containerId: string): Promise<void> {
    const a = await this.send('GET', `/containers/${containerId}/stats`, { query: { stream: 'false', 'one-shot': 'true' } });
    if (a.status !== 200) throw errorFromAnswer('stats', a);
    if (a.body.length === 0) return; // Podman: not running
    let s: StatsSample | null;
    try {
      s = parseStatsSample(JSON.parse(a.body.toString('utf8')));
    } catch {
      throw new ContainerHostError('bad-response', 'stats: not JSON');
    }
    if (s === null) return;
    const u = this.usage.get(containerId) ?? { cpuNanos: 0, peakMemoryBytes: 0, peakPids: 0, samples: 0 };
    u.cpuNanos = Math.max(u.cpuNanos, s.cpuNanos);
    u.peakMemoryBytes = Math.max(u.peakMemoryBytes, s.memoryBytes, s.maxMemoryBytes ?? 0);
    u.peakPids = Math.max(u.peakPids, s.pids ?? 0);
    u.samples += 1;
    this.usage.set(containerId, u);
  }

  private async readLog(containerId: string, stream: 1 | 2, cap: number): Promise<CappedOutput> {
    const demux = new LogDemux(cap, [stream]);
    const query = { stdout: stream === 1 ? 'true' : 'false', stderr: stream === 2 ? 'true' : 'false', follow: 'false', timestamps: 'false' };
    await this.stream(`/containers/${containerId}/logs`, query, HOST_LIMITS.logsTimeoutMs, (chunk) => {
      demux.push(chunk);
      return !demux.full();
    });
    return demux.output(stream);
  }

  // ——— HTTP ———

  /** `/v1.NN`: the engine's API version, capped at API_MAX; asked once. */
  private apiPrefix(): Promise<string> {
    if (this.prefix === null) {
      const p = this.exchange('GET', '/version', {}).then((a) => {
        if (a.status !== 200) throw errorFromAnswer('version', a);
        let v: [number, number] | null = null;
        try {
          v = apiVersion(obj(JSON.parse(a.body.toString('utf8')))['ApiVersion']);
        } catch {
          v = null;
        }
        if (v === null) throw new ContainerHostError('bad-response', '/version lacks ApiVersion');
        if (apiLess(v, API_MIN)) throw new ContainerHostError('refused', `engine API ${v.join('.')} is older than ${API_MIN.join('.')}`);
        const use = apiLess(API_MAX, v) ? API_MAX : v;
        return `/v${use[0]}.${use[1]}`;
      });
      p.catch(() => {
        this.prefix = null; // ask again next time
      });
      this.prefix = p;
    }
    return this.prefix;
  }

  private async json(method: string, path: string, ro: RequestOptions = {}): Promise<unknown> {
    const a = await this.call(method, path, [200, 201], ro);
    try {
      return JSON.parse(a.body.toString('utf8'));
    } catch {
      throw new ContainerHostError('bad-response', `${method} ${shortPath(path)}: not JSON`, a.status);
    }
  }

  private async call(method: string, path: string, ok: readonly number[], ro: RequestOptions = {}): Promise<HttpAnswer> {
    const a = await this.send(method, path, ro);
    if (!ok.includes(a.status)) throw errorFromAnswer(`${method} ${shortPath(path)}`, a);
    return a;
  }

  private async send(method: string, path: string, ro: RequestOptions, onChunk?: (chunk: Buffer) => boolean): Promise<HttpAnswer> {
    return this.exchange(method, `${await this.apiPrefix()}${path}`, ro, onChunk);
  }

  /** A 200 answer's body goes to `onChunk`, which returns false to stop reading. */
  private async stream(path: string, query: Readonly<Record<string, string>>, timeoutMs: number, onChunk: (chunk: Buffer) => boolean): Promise<void> {
    const a = await this.send('GET', path, { query, timeoutMs }, onChunk);
    if (a.status !== 200) throw errorFromAnswer(`GET ${shortPath(path)}`, a);
  }

  /**
   * One HTTP exchange with a deadline. Without `onChunk` (or for a status other than 200) the body
   * is collected, up to maxResponseBytes. Settles exactly once; never leaves a rejection unhandled.
   */
  private exchange(method: string, path: string, ro: RequestOptions, onChunk?: (chunk: Buffer) => boolean): Promise<HttpAnswer> {
    if (this.closed) return Promise.reject(new ContainerHostError('closed', 'container host closed'));
    const what = `${method} ${shortPath(path)}`;
    const timeoutMs = ro.timeoutMs ?? this.requestTimeoutMs;
    return new Promise<HttpAnswer>((resolve, reject) => {
      const qs = ro.query === undefined ? '' : `?${new URLSearchParams(ro.query).toString()}`;
      const payload = ro.body === undefined ? null : Buffer.from(JSON.stringify(ro.body));
      const headers: Record<string, string | number> = {};
      if (payload !== null) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      const target = this.endpoint.kind === 'unix' ? { socketPath: this.endpoint.path } : { host: this.endpoint.host, port: this.endpoint.port };
      const req = httpRequest({ ...target, agent: this.agent, method, path: path + qs, headers });
      let settled = false;
      const finish = (e: ContainerHostError | null, a: HttpAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.timers.delete(timer);
        this.inflight.delete(req);
        if (e === null) resolve(a);
        else reject(e);
      };
      const fail = (e: ContainerHostError): void => {
        finish(e, NO_ANSWER);
        req.destroy();
      };
      const timer = setTimeout(() => fail(new ContainerHostError('timeout', `${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
      this.timers.add(timer);
      this.inflight.set(req, fail);
      req.on('error', (e) => finish(connectError(what, e), NO_ANSWER));
      req.on('close', () => finish(new ContainerHostError('unreachable', `${what}: connection closed before the answer ended`), NO_ANSWER));
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const streaming = onChunk !== undefined && status === 200;
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          if (settled) return;
          if (streaming) {
            if (!onChunk(c)) {
              finish(null, { status, body: EMPTY });
              req.destroy();
            }
            return;
          }
          n += c.length;
          if (n > HOST_LIMITS.maxResponseBytes) fail(new ContainerHostError('bad-response', `${what}: answer over ${HOST_LIMITS.maxResponseBytes} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => finish(null, { status, body: Buffer.concat(chunks) }));
        res.on('error', (e) => finish(connectError(what, e), NO_ANSWER));
      });
      req.end(payload ?? undefined);
    });
  }
}
