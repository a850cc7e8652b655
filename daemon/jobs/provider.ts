/**
 * The provider side of compute jobs (PROTOCOL §10): a daemon with a container host
 * (daemon/container-host.ts) offers capacity, admits signed job specs, runs each in a container
 * with the host's strict defaults, and answers with a signed receipt and its output.
 *
 * Lifecycle, each state written durably before the provider acts on it:
 *
 *   JOB_SUBMIT ─ checks ─▶ refused(reason)                       (nothing kept)
 *              └────────▶ accepted ─ run ─▶ running ─ wait ─▶ exited | killed(timeout|oom|owner)
 *                                   └─ engine error ─────────▶ failed
 *
 * At the end the output (capped at the spec's max) and the receipt are written in one
 * transaction, then the client is told and the container removed. A restart reconciles the
 * store with the host (`start`): a job whose container still runs is adopted (waited for with the
 * time it has left), one whose container exited is finished, one whose container is gone failed,
 * and containers of unknown or finished jobs are removed. So after a crash every job reaches a
 * terminal state, no container is left behind and no receipt is lost.
 *
 * Offers are re-signed and sent to every Connected peer every `offerEveryMs`, valid for
 * `offerTtlMs`: free capacity (the operator's budget minus running jobs), allowed image ids,
 * prices and limits.
 */
import type { Blake3Kernel, Ed25519Kernel, Ed25519Signer } from '../../kernels/types.js';
import { toHex } from '../../consensus/hex.js';
import { bytesEqual } from '../../wire/block.js';
import { encodeBody } from '../../wire/messages.js';
import {
  FINAL_JOB_STATES,
  MAX_OFFER_IMAGES,
  jobId as computeJobId,
  outputChain,
  signJobMessage,
  verifyJobMessage,
  type JobMessage,
  type JobOfferMessage,
  type JobOutputMessage,
  type JobQueryMessage,
  type JobReceiptMessage,
  type JobSubmitMessage,
  type KillReason,
  type OutputStream,
  type RefuseReason,
} from '../../wire/msg-jobs.js';
import { receiptOf, specOf, type JobBook, type ProviderJob } from '../../store/jobs.js';
import { JOB_LIMITS, type ContainerHost, type JobContainer, type JobLogs, type WaitResult } from '../container-host.js';
import type { Logger } from '../log.js';
import { TokenBucket } from '../../wire/ratelimit.js';

export const PROVIDER_LIMITS = {
  /** Chunks sent for one output query (the client asks again from where it got to). */
  chunksPerQuery: 32,
  /** Output chains kept computed (jobs × streams). */
  chainCache: 64,
  /** JOB_SUBMITs handled per second from all clients (each costs a signature check). */
  submitsPerS: 200,
} as const;

export interface ProviderModules {
  readonly host: ContainerHost;
  readonly book: JobBook;
  readonly blake3: Blake3Kernel;
  readonly ed25519: Ed25519Kernel;
  readonly signer: Ed25519Signer;
  readonly networkId: bigint;
  /** Sends to a peer by frame key; false when it cannot be routed. */
  readonly send: (to: Uint8Array, m: JobMessage) => boolean;
  /** Frame keys of the Connected peers (offers go to them). */
  readonly connectedKeys: () => Uint8Array[];
  readonly clock: () => number;
  readonly log: Logger;
}

export interface ProviderOptions {
  /** Image ids (`sha256:` + 64 hex) jobs may run; resolved on the host at start. */
  readonly images: readonly string[];
  /** The budget jobs share: nano-CPUs and memory bytes (default: all CPUs, half the memory). */
  readonly cpuNano?: number;
  readonly memoryBytes?: number;
  readonly maxTimeoutMs?: number;
  readonly maxOutputBytes?: number;
  readonly pricePerCpuSecond?: number;
  readonly pricePerGiBSecond?: number;
  readonly offerEveryMs?: number;
  readonly offerTtlMs?: number;
}

const DEFAULTS = {
  maxTimeoutMs: 3_600_000,
  maxOutputBytes: 1 << 20,
  pricePerCpuSecond: 1,
  pricePerGiBSecond: 1,
  offerEveryMs: 5_000,
  offerTtlMs: 20_000,
} as const;

const ENV_ITEM = /^[A-Za-z_][A-Za-z0-9_]*=/;

interface Budget {
  cpuNano: number;
  memoryBytes: number;
}

export class JobProvider {
  private images = new Map<string, Uint8Array>(); // hex of the 32-byte id → bytes
  private budget: Budget = { cpuNano: 0, memoryBytes: 0 };
  /** Unfinished jobs and what they reserve: job id hex → budget. */
  private readonly active = new Map<string, Budget>();
  /** Jobs cancelled before their container existed (killed as soon as it does). */
  private readonly cancelled = new Set<string>();
  /** Jobs with a container being waited for: job id hex → container id. */
  private readonly live = new Map<string, string>();
  private readonly chains = new Map<string, readonly JobOutputMessage[]>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly submits = new TokenBucket({ ratePerS: PROVIDER_LIMITS.submitsPerS, burst: PROVIDER_LIMITS.submitsPerS });
  /** Counters for metrics. */
  readonly counters = { accepted: 0, refused: 0, finished: 0, adopted: 0, orphansRemoved: 0 };
  readonly opts: Required<Omit<ProviderOptions, 'cpuNano' | 'memoryBytes'>>;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly budgetOption: { cpuNano: number | undefined; memoryBytes: number | undefined };

  constructor(
    private readonly mods: ProviderModules,
    options: ProviderOptions,
  ) {
    this.opts = { ...DEFAULTS, ...options };
    this.budgetOption = { cpuNano: options.cpuNano, memoryBytes: options.memoryBytes };
  }

  /** Reads the host, resolves the images, reconciles jobs with containers, starts offering. */
  async start(): Promise<void> {
    const info = await this.mods.host.info();
    this.budget = {
      cpuNano: this.budgetOption.cpuNano ?? info.ncpu * 1e9,
      memoryBytes: this.budgetOption.memoryBytes ?? Math.floor(info.memTotal / 2),
    };
    for (const ref of this.opts.images.slice(0, MAX_OFFER_IMAGES)) {
      const id = await this.mods.host.imageId(ref);
      if (id === null) {
        this.mods.log.warn({ image: ref }, 'job image not on the container host; not offered');
        continue;
      }
      const bytes = imageIdBytes(id);
      if (bytes !== null) this.images.set(toHex(bytes), bytes);
    }
    await this.reconcile();
    this.mods.log.info({ engine: info.engine, version: info.engineVersion, cpus: this.budget.cpuNano / 1e9, memory: this.budget.memoryBytes, images: this.images.size }, 'job provider ready');
    this.publish();
    this.timer = setInterval(() => this.publish(), this.opts.offerEveryMs);
  }

  /** Stops offering and waiting; running containers stay for the next start to adopt. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.mods.host.close();
    await Promise.allSettled([...this.inFlight]);
  }

  get runningCount(): number {
    return this.live.size;
  }

  // -------------------------------------------------------------------------------------------
  // Offers.

  /** The current signed offer. */
  offer(): JobOfferMessage {
    const now = this.mods.clock();
    const used = this.reserved();
    return signJobMessage(this.mods.signer, this.mods.networkId, {
      type: 'job-offer',
      provider: this.mods.signer.publicKey,
      issuedAt: now,
      expiresAt: now + this.opts.offerTtlMs,
      cpuNano: Math.max(0, this.budget.cpuNano - used.cpuNano),
      memoryBytes: Math.max(0, this.budget.memoryBytes - used.memoryBytes),
      maxTimeoutMs: this.opts.maxTimeoutMs,
      maxOutputBytes: this.opts.maxOutputBytes,
      pricePerCpuSecond: this.opts.pricePerCpuSecond,
      pricePerGiBSecond: this.opts.pricePerGiBSecond,
      images: [...this.images.values()],
      signature: new Uint8Array(64),
    });
  }

  private publish(): void {
    if (this.stopped) return;
    const o = this.offer();
    for (const k of this.mods.connectedKeys()) this.mods.send(k, o);
  }

  private reserved(): Budget {
    const b: Budget = { cpuNano: 0, memoryBytes: 0 };
    for (const r of this.active.values()) {
      b.cpuNano += r.cpuNano;
      b.memoryBytes += r.memoryBytes;
    }
    return b;
  }

  // -------------------------------------------------------------------------------------------
  // Intake.

  /** A JOB_SUBMIT from the frame key `from`. */
  onSubmit(from: Uint8Array, m: JobSubmitMessage): void {
    if (this.stopped) return;
    const id = computeJobId(this.mods.blake3, m);
    const known = this.mods.book.providerJob(id);
    if (known !== undefined) {
      // A resubmission (our answer was lost): say again where it stands.
      if (bytesEqual(known.client, from)) this.tell(known);
      return;
    }
    if (!this.submits.take(this.mods.clock())) return this.refuse(from, id, 'capacity', 'too many submissions; try again');
    const problem = this.admission(from, m);
    if (problem !== null) return this.refuse(from, id, problem.reason, problem.detail);
    const now = this.mods.clock();
    const job: ProviderJob = {
      id,
      submit: encodeBody(m),
      client: Uint8Array.from(from),
      state: 'accepted',
      killReason: 'none',
      exitCode: 0,
      acceptedAt: now,
      startedAt: 0,
      endedAt: 0,
      containerId: null,
      stdoutTruncated: false,
      stderrTruncated: false,
      receipt: null,
      failure: null,
      cancelRequested: false,
    };
    this.mods.book.putProviderJob(job);
    this.active.set(toHex(id), { cpuNano: m.cpuNano, memoryBytes: m.memoryBytes });
    this.counters.accepted++;
    this.mods.send(from, { type: 'job-accept', jobId: id, time: now });
    this.track(this.runJob(job, m));
  }

  /** Why a spec cannot run here, or null. Cheap checks first; the signature last. */
  private admission(from: Uint8Array, m: JobSubmitMessage): { reason: RefuseReason; detail: string } | null {
    if (!bytesEqual(m.provider, this.mods.signer.publicKey)) return { reason: 'other', detail: 'the spec names another provider' };
    if (!bytesEqual(m.client, from)) return { reason: 'bad-signature', detail: 'the spec is signed for another client than its sender' };
    if (!this.images.has(toHex(m.image))) return { reason: 'image-not-allowed', detail: `image ${toHex(m.image).slice(0, 16)}… is not offered here` };
    if (m.network !== 'none') return { reason: 'limits', detail: 'jobs run without a network here' };
    if (m.argv.length === 0) return { reason: 'other', detail: 'argv is empty' };
    if (m.env.some((e) => !ENV_ITEM.test(e))) return { reason: 'other', detail: 'env items must be NAME=value' };
    if (m.cpuNano < JOB_LIMITS.minNanoCpus) return { reason: 'limits', detail: `cpu must be at least ${JOB_LIMITS.minNanoCpus / 1e9}` };
    if (m.memoryBytes < JOB_LIMITS.minMemoryBytes) return { reason: 'limits', detail: `memory must be at least ${JOB_LIMITS.minMemoryBytes} bytes` };
    if (m.timeoutMs < 1 || m.timeoutMs > this.opts.maxTimeoutMs) return { reason: 'limits', detail: `timeout must be 1..${this.opts.maxTimeoutMs} ms` };
    if (m.maxOutputBytes > this.opts.maxOutputBytes) return { reason: 'limits', detail: `max output must be at most ${this.opts.maxOutputBytes} bytes` };
    const used = this.reserved();
    if (used.cpuNano + m.cpuNano > this.budget.cpuNano || used.memoryBytes + m.memoryBytes > this.budget.memoryBytes) {
      return { reason: 'capacity', detail: 'not enough free CPU or memory now' };
    }
    if (!verifyJobMessage(this.mods.ed25519, this.mods.networkId, m)) return { reason: 'bad-signature', detail: 'the spec signature does not verify' };
    return null;
  }

  private refuse(to: Uint8Array, id: Uint8Array, reason: RefuseReason, detail: string): void {
    this.counters.refused++;
    this.mods.send(to, { type: 'job-refuse', jobId: id, reason, detail });
  }

  // -------------------------------------------------------------------------------------------
  // Running.

  /** Keeps a job's background work in sight; its failure (a store write) is logged, never unhandled. */
  private track(p: Promise<void>): void {
    const q = p.catch((err: unknown) => this.mods.log.error({ err: (err as Error).message }, 'job work failed; the next start reconciles it'));
    this.inFlight.add(q);
    void q.finally(() => this.inFlight.delete(q));
  }

  private async runJob(job: ProviderJob, m: JobSubmitMessage): Promise<void> {
    let containerId: string;
    let startedAt: number;
    try {
      const env: Record<string, string> = {};
      for (const e of m.env) {
        const i = e.indexOf('=');
        env[e.slice(0, i)] = e.slice(i + 1);
      }
      const r = await this.mods.host.run({
        jobId: toHex(job.id),
        imageId: `sha256:${toHex(m.image)}`,
        argv: m.argv,
        env,
        nanoCpus: m.cpuNano,
        memoryBytes: m.memoryBytes,
        timeoutMs: m.timeoutMs,
        maxOutputBytes: m.maxOutputBytes,
        network: false,
      });
      containerId = r.containerId;
      startedAt = this.mods.clock();
    } catch (err) {
      if (this.stopped) return;
      // A create that timed out may still have made the container: remove what carries the job.
      const left = await this.mods.host.listJobs().catch(() => []);
      for (const c of left) if (c.jobId === toHex(job.id)) await this.mods.host.remove(c.containerId).catch(() => undefined);
      await this.fail(job, `the container did not start: ${(err as Error).message}`);
      return;
    }
    const running: ProviderJob = { ...job, state: 'running', containerId, startedAt };
    // A cancel that came while the container was being made takes effect now.
    if (this.cancelled.delete(toHex(job.id))) void this.mods.host.kill(containerId).catch(() => undefined);
    this.mods.book.putProviderJob(running);
    this.tell(running);
    await this.waitAndFinish(running, m.timeoutMs);
  }

  private async waitAndFinish(job: ProviderJob, timeoutLeftMs: number): Promise<void> {
    const key = toHex(job.id);
    const cid = job.containerId as string;
    this.live.set(key, cid);
    let w: WaitResult;
    try {
      w = await this.mods.host.wait(cid, Math.max(1, timeoutLeftMs));
    } catch (err) {
      this.live.delete(key);
      if (this.stopped) return; // the next start adopts it
      await this.fail(job, `waiting for the container failed: ${(err as Error).message}`);
      return;
    }
    this.live.delete(key);
    await this.finish(job, w);
  }

  /** Reads usage and output, writes them and the receipt, removes the container, tells the client. */
  private async finish(job: ProviderJob, w: WaitResult): Promise<void> {
    const m = specOf(job.submit) as JobSubmitMessage;
    const cid = job.containerId as string;
    let usage = { cpuNanos: 0, peakMemoryBytes: 0 };
    let logs: JobLogs = { stdout: { bytes: Buffer.alloc(0), truncated: false }, stderr: { bytes: Buffer.alloc(0), truncated: false } };
    try {
      usage = await this.mods.host.stats(cid);
    } catch (err) {
      if (this.stopped) return;
      this.mods.log.warn({ job: toHex(job.id).slice(0, 16), err: (err as Error).message }, 'job usage unreadable');
    }
    try {
      logs = await this.mods.host.logs(cid, 'both', m.maxOutputBytes);
    } catch (err) {
      if (this.stopped) return;
      // Signing empty output as the job's would be a false receipt: the provider failed it.
      await this.fail(job, `the job's output could not be read: ${(err as Error).message}`);
      return;
    }
    const killReason = killReasonOf(job, m, w);
    const ended: ProviderJob = {
      ...job,
      state: w.state,
      killReason,
      exitCode: w.exitCode,
      startedAt: w.startedAt > 0 ? w.startedAt : job.startedAt,
      endedAt: w.finishedAt > 0 ? w.finishedAt : this.mods.clock(),
      stdoutTruncated: logs.stdout.truncated,
      stderrTruncated: logs.stderr.truncated,
    };
    const stdout = new Uint8Array(logs.stdout.bytes);
    const stderr = new Uint8Array(logs.stderr.bytes);
    const receipt = this.receiptFor(ended, m, stdout, stderr, Math.round(usage.cpuNanos / 1e6), usage.peakMemoryBytes);
    const done: ProviderJob = { ...ended, receipt: encodeBody(receipt) };
    this.mods.book.putProviderJob(done, { stdout, stderr });
    this.active.delete(toHex(job.id));
    this.counters.finished++;
    // The receipt is durable: tell the client first, then remove (the engine's cleanup is slow).
    this.tell(done);
    await this.mods.host.remove(cid).catch((err: unknown) => this.mods.log.warn({ container: cid.slice(0, 12), err: (err as Error).message }, 'container not removed'));
  }

  private async fail(job: ProviderJob, why: string): Promise<void> {
    const m = specOf(job.submit) as JobSubmitMessage;
    const now = this.mods.clock();
    const failed: ProviderJob = { ...job, state: 'failed', killReason: 'none', exitCode: -1, endedAt: now, startedAt: job.startedAt || now, failure: why };
    const empty = new Uint8Array(0);
    const receipt = this.receiptFor(failed, m, empty, empty, 0, 0);
    const done: ProviderJob = { ...failed, receipt: encodeBody(receipt) };
    this.mods.book.putProviderJob(done, { stdout: empty, stderr: empty });
    this.active.delete(toHex(job.id));
    this.counters.finished++;
    this.mods.log.warn({ job: toHex(job.id).slice(0, 16), why }, 'job failed');
    if (job.containerId !== null) await this.mods.host.remove(job.containerId).catch(() => undefined);
    this.tell(done);
  }

  private receiptFor(job: ProviderJob, m: JobSubmitMessage, stdout: Uint8Array, stderr: Uint8Array, cpuMillis: number, peakMemoryBytes: number): JobReceiptMessage {
    const b = this.mods.blake3;
    return signJobMessage(this.mods.signer, this.mods.networkId, {
      type: 'job-receipt',
      jobId: job.id,
      specHash: b.hash(job.submit),
      imageId: m.image,
      provider: this.mods.signer.publicKey,
      start: job.startedAt,
      end: job.endedAt,
      state: job.state,
      killReason: job.killReason,
      exitCode: job.exitCode,
      stdoutHash: outputChain(b, job.id, 'stdout', stdout).root,
      stdoutBytes: stdout.length,
      stderrHash: outputChain(b, job.id, 'stderr', stderr).root,
      stderrBytes: stderr.length,
      cpuMillis,
      peakMemoryBytes,
      signature: new Uint8Array(64),
    });
  }

  /** Pushes a job's state to its client: accepted/running/ended status, and the receipt at the end. */
  private tell(job: ProviderJob): void {
    const to = job.client;
    this.mods.send(to, { type: 'job-status', jobId: job.id, state: job.state, killReason: job.killReason, exitCode: job.exitCode, time: job.endedAt || job.startedAt || job.acceptedAt });
    const r = job.receipt === null ? null : receiptOf(job.receipt);
    if (r !== null) this.mods.send(to, r);
  }

  // -------------------------------------------------------------------------------------------
  // Queries from the client.

  onQuery(from: Uint8Array, q: JobQueryMessage): void {
    const job = this.mods.book.providerJob(q.jobId);
    if (job === undefined || !bytesEqual(job.client, from)) return; // only a job's client may ask
    if (q.what === 'status') return this.tell(job);
    if (q.what === 'cancel') {
      if (FINAL_JOB_STATES.includes(job.state)) return;
      // Written first, so a provider that crashes after the kill still reports it as the owner's.
      if (!job.cancelRequested) this.mods.book.putProviderJob({ ...job, cancelRequested: true });
      const cid = this.live.get(toHex(job.id));
      if (cid !== undefined) void this.mods.host.kill(cid).catch(() => undefined);
      else if (job.state === 'accepted') this.cancelled.add(toHex(job.id));
      return;
    }
    if (q.what === 'receipt') {
      const r = job.receipt === null ? null : receiptOf(job.receipt);
      if (r !== null) this.mods.send(from, r);
      return;
    }
    const chunks = this.chunks(job, q.stream);
    for (let i = q.fromChunk; i < Math.min(chunks.length, q.fromChunk + PROVIDER_LIMITS.chunksPerQuery); i++) this.mods.send(from, chunks[i] as JobOutputMessage);
  }

  private chunks(job: ProviderJob, stream: OutputStream): readonly JobOutputMessage[] {
    if (job.receipt === null) return [];
    const k = `${toHex(job.id)}/${stream}`;
    let c = this.chains.get(k);
    if (c === undefined) {
      c = outputChain(this.mods.blake3, job.id, stream, this.mods.book.output(job.id, stream) ?? new Uint8Array(0)).chunks;
      if (this.chains.size >= PROVIDER_LIMITS.chainCache) this.chains.delete(this.chains.keys().next().value as string);
      this.chains.set(k, c);
    }
    return c;
  }

  // -------------------------------------------------------------------------------------------
  // Restart.

  /** Brings every unfinished job to where its container is, and removes containers nobody owns. */
  private async reconcile(): Promise<void> {
    const containers = await this.mods.host.listJobs();
    // One container per job label is matched to its job; any further one is an orphan.
    const byJob = new Map<string, JobContainer>();
    const extra: JobContainer[] = [];
    for (const c of containers) {
      if (byJob.has(c.jobId)) extra.push(c);
      else byJob.set(c.jobId, c);
    }
    const now = this.mods.clock();
    for (const job of this.mods.book.providerJobs()) {
      const key = toHex(job.id);
      const c = byJob.get(key);
      byJob.delete(key);
      if (FINAL_JOB_STATES.includes(job.state)) {
        if (c !== undefined) await this.mods.host.remove(c.containerId).catch(() => undefined);
        continue;
      }
      const m = specOf(job.submit);
      if (m === null) continue;
      if (c === undefined) {
        await this.fail(job, job.state === 'accepted' ? 'the provider restarted before the job started' : 'the container was lost while the provider was down');
        continue;
      }
      const adopted: ProviderJob = { ...job, state: 'running', containerId: c.containerId, startedAt: job.startedAt || job.acceptedAt };
      this.mods.book.putProviderJob(adopted);
      this.active.set(key, { cpuNano: m.cpuNano, memoryBytes: m.memoryBytes });
      this.counters.adopted++;
      const left = m.timeoutMs - (now - adopted.startedAt);
      this.track(this.waitAndFinish(adopted, left));
    }
    for (const c of [...byJob.values(), ...extra]) {
      await this.mods.host.remove(c.containerId).catch(() => undefined);
      this.counters.orphansRemoved++;
    }
  }
}

/**
 * The kill reason to report. A SIGKILL this process did not send is read as the kernel's OOM
 * kill, but after a restart it may have been the previous process's: a cancel it recorded, or the
 * timeout it enforced (the run lasted the whole timeout).
 */
export function killReasonOf(job: ProviderJob, m: JobSubmitMessage, w: WaitResult): KillReason {
  if (w.state !== 'killed') return 'none';
  if (w.killReason !== 'oom' || w.oomEvidence !== 'sigkill') return w.killReason;
  if (job.cancelRequested) return 'owner';
  const ran = w.finishedAt - (w.startedAt > 0 ? w.startedAt : job.startedAt);
  return job.startedAt > 0 && ran >= m.timeoutMs ? 'timeout' : 'oom';
}

/** The 32 bytes of `sha256:<64 hex>` (or bare hex), or null. */
export function imageIdBytes(id: string): Uint8Array | null {
  const h = id.startsWith('sha256:') ? id.slice(7) : id;
  return /^[0-9a-f]{64}$/.test(h) ? Uint8Array.from(Buffer.from(h, 'hex')) : null;
}
