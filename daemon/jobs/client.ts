/**
 * The client side of compute jobs (PROTOCOL §10): a daemon submits jobs for its operator (the
 * control API, `ecd job`) to provider daemons over the encrypted frames, follows them to the end,
 * verifies the signed receipt and fetches the output chunk by chunk, each chunk checked against
 * the receipt's hash chain.
 *
 *  - **Offers** from peers are kept (signature checked, the sender must be the provider, the
 *    newest per provider, dropped when expired).
 *  - **Submit** picks the provider by trust per price (daemon/jobs/trust.ts) among fresh offers
 *    that fit the job, unless one is named; signs the spec with this daemon's key; resends until
 *    the provider accepts or refuses (UDP may lose either).
 *  - **Follow**: every tick, unfinished jobs are polled for status, finished ones for the receipt
 *    and then their output from the first missing chunk.
 *  - **Score**: a verified outcome updates the provider's trust once (kept in the store).
 *  - **Spot checks** (BitCompute): a job submitted with `spotCheck` is run again on another
 *    provider once it completed; different exit codes or output hashes mark both providers
 *    disputed and keep both receipts.
 */
import type { Blake3Kernel, Ed25519Kernel, Ed25519Signer } from '../../kernels/types.js';
import { toHex } from '../../consensus/hex.js';
import { bytesEqual } from '../../wire/block.js';
import { encodeBody } from '../../wire/messages.js';
import {
  FINAL_JOB_STATES,
  jobId as computeJobId,
  signJobMessage,
  verifyJobMessage,
  verifyOutputChunk,
  type JobMessage,
  type JobOfferMessage,
  type JobOutputMessage,
  type JobReceiptMessage,
  type JobState,
  type JobSubmitMessage,
  type KillReason,
  type OutputStream,
  type RefuseReason,
} from '../../wire/msg-jobs.js';
import { receiptOf, specOf, type ClientJob, type JobBook } from '../../store/jobs.js';
import { applyOutcome, currentScore, maxPrice, NO_TRUST, rank, type Outcome } from './trust.js';
import type { Logger } from '../log.js';

export const CLIENT_LIMITS = {
  /** Offers kept (one per provider). */
  maxOffers: 1_024,
  /** How long a submit waits for accept/refuse, and how often it resends meanwhile. */
  submitWaitMs: 6_000,
  submitResendMs: 1_000,
  /** Follow-up period for unfinished jobs and missing receipts/output. */
  pollMs: 1_000,
  /** Chunks held out of order per stream. */
  pendingChunks: 64,
  /** Jobs followed at once; older unfinished ones are left until asked about. */
  maxFollowed: 4_096,
} as const;


export interface ClientModules {
  readonly book: JobBook;
  readonly blake3: Blake3Kernel;
  readonly ed25519: Ed25519Kernel;
  readonly signer: Ed25519Signer;
  readonly networkId: bigint;
  readonly send: (to: Uint8Array, m: JobMessage) => boolean;
  readonly clock: () => number;
  readonly random: (n: number) => Uint8Array;
  readonly log: Logger;
}

export interface JobRequest {
  /** Image id (32 bytes). */
  readonly image: Uint8Array;
  readonly argv: readonly string[];
  readonly env: readonly string[];
  readonly cpuNano: number;
  readonly memoryBytes: number;
  readonly timeoutMs: number;
  readonly maxOutputBytes: number;
  /** A provider's key; picked by trust and price when absent. */
  readonly provider?: Uint8Array;
  /** Re-run it on a second provider once it completed and compare. */
  readonly spotCheck?: boolean;
}

export type SubmitOutcome =
  | { readonly ok: true; readonly id: string; readonly provider: string; readonly state: JobState }
  | { readonly ok: false; readonly code: 'no-provider' | 'refused' | 'no-answer' | 'unroutable'; readonly reason: string; readonly id?: string; readonly refuse?: RefuseReason };

export class JobClientError extends Error {
  override readonly name = 'JobClientError';
  constructor(
    readonly code: 'not-found' | 'not-final',
    message: string,
  ) {
    super(message);
  }
}

interface Fetch {
  expected: Uint8Array;
  next: number;
  readonly parts: Uint8Array[];
  /** Bytes held, and the most the receipt names. */
  bytes: number;
  readonly limit: number;
  readonly pending: Map<number, JobOutputMessage>;
  done: boolean;
}

interface Followed {
  lastAsk: number;
  readonly out: Partial<Record<OutputStream, Fetch>>;
}

interface Waiter {
  readonly id: string;
  resolve: (m: JobMessage | null) => void;
}

export class JobClient {
  private readonly offers = new Map<string, JobOfferMessage>();
  private readonly followed = new Map<string, Followed>();
  private readonly waiters = new Set<Waiter>();
  private readonly listeners = new Set<() => void>();
  /** Polls while jobs are followed, and only then (an idle daemon wakes for nothing). */
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  readonly counters = { submitted: 0, verified: 0, unverifiable: 0, spotChecks: 0, disputes: 0 };

  constructor(private readonly mods: ClientModules) {}

  start(): void {
    this.started = true;
    for (const j of this.mods.book.clientJobs()) if (!this.settled(j)) this.follow(j.id);
  }

  stop(): void {
    this.started = false;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const w of [...this.waiters]) w.resolve(null);
  }

  onChange(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private changed(): void {
    for (const l of [...this.listeners]) l();
  }

  // -------------------------------------------------------------------------------------------
  // Offers.

  onOffer(from: Uint8Array, m: JobOfferMessage): void {
    if (!bytesEqual(from, m.provider) || m.expiresAt <= this.mods.clock()) return;
    const k = toHex(m.provider);
    const have = this.offers.get(k);
    if (have !== undefined && have.issuedAt >= m.issuedAt) return;
    if (have === undefined && this.offers.size >= CLIENT_LIMITS.maxOffers) return;
    if (!verifyJobMessage(this.mods.ed25519, this.mods.networkId, m)) return;
    this.offers.set(k, m);
  }

  /** Unexpired offers with this daemon's trust in each provider. */
  offerList(): { offer: JobOfferMessage; score: number }[] {
    const now = this.mods.clock();
    const out: { offer: JobOfferMessage; score: number }[] = [];
    for (const [k, o] of this.offers) {
      if (o.expiresAt <= now) {
        this.offers.delete(k);
        continue;
      }
      out.push({ offer: o, score: currentScore(this.mods.book.trust(o.provider) ?? NO_TRUST, now) });
    }
    return out;
  }

  /** The best offer for a job: it fits, and trust per price ranks highest. */
  pick(r: JobRequest, exclude: readonly Uint8Array[] = []): JobOfferMessage | null {
    let best: { o: JobOfferMessage; rank: number } | null = null;
    for (const { offer: o, score } of this.offerList()) {
      if (exclude.some((e) => bytesEqual(e, o.provider))) continue;
      if (!fits(o, r)) continue;
      const rk = rank(score, maxPrice(o, r));
      if (rk === null) continue;
      if (best === null || rk > best.rank || (rk === best.rank && toHex(o.provider) < toHex(best.o.provider))) best = { o, rank: rk };
    }
    return best?.o ?? null;
  }

  // -------------------------------------------------------------------------------------------
  // Submit.

  async submit(r: JobRequest, spotOf: Uint8Array | null = null): Promise<SubmitOutcome> {
    let provider = r.provider;
    if (provider === undefined) {
      const o = this.pick(r, spotOf === null ? [] : [this.mods.book.clientJob(spotOf)?.provider ?? new Uint8Array(32)]);
      if (o === null) return { ok: false, code: 'no-provider', reason: 'no fresh offer fits this job (image, CPU, memory, timeout, output) — see ecd job offers' };
      provider = o.provider;
    }
    const spec = signJobMessage(this.mods.signer, this.mods.networkId, unsignedSpec(r, provider, this.mods.signer.publicKey, this.mods.random(16)));
    const id = computeJobId(this.mods.blake3, spec);
    const idHex = toHex(id);
    const now = this.mods.clock();
    const job: ClientJob = {
      id,
      submit: encodeBody(spec),
      provider: Uint8Array.from(provider),
      state: 'submitted',
      killReason: 'none',
      exitCode: 0,
      submittedAt: now,
      updatedAt: now,
      refused: null,
      receipt: null,
      stdout: null,
      stderr: null,
      spotOf,
      spotWanted: r.spotCheck === true,
      spotCheck: null,
      spotMatch: null,
      scored: false,
      anchor: null,
    };
    this.mods.book.putClientJob(job);
    this.counters.submitted++;
    const answer = this.waitFor(idHex, CLIENT_LIMITS.submitWaitMs);
    for (;;) {
      if (!this.mods.send(provider, spec)) {
        this.dropWaiter(idHex);
        return { ok: false, code: 'unroutable', reason: `provider ${toHex(provider).slice(0, 16)}… is not a peer this daemon can reach`, id: idHex };
      }
      // Resend until the provider answers; the waiter's own timeout ends the loop with null.
      const got = await Promise.race([answer, sleep(CLIENT_LIMITS.submitResendMs).then(() => undefined)]);
      if (got === undefined) continue;
      if (got === null) return { ok: false, code: 'no-answer', reason: `provider ${toHex(provider).slice(0, 16)}… did not answer within ${CLIENT_LIMITS.submitWaitMs} ms`, id: idHex };
      if (got.type === 'job-refuse') return { ok: false, code: 'refused', reason: `refused: ${got.reason}: ${got.detail}`, id: idHex, refuse: got.reason };
      const cur = this.mods.book.clientJob(id);
      return { ok: true, id: idHex, provider: toHex(provider), state: cur?.state ?? 'accepted' };
    }
  }

  private waitFor(id: string, ms: number): Promise<JobMessage | null> {
    return new Promise((resolve) => {
      const w: Waiter = {
        id,
        resolve: (m) => {
          clearTimeout(t);
          this.waiters.delete(w);
          resolve(m);
        },
      };
      const t = setTimeout(() => w.resolve(null), ms);
      this.waiters.add(w);
    });
  }

  private dropWaiter(id: string): void {
    for (const w of [...this.waiters]) if (w.id === id) w.resolve(null);
  }

  private wake(id: string, m: JobMessage): void {
    for (const w of [...this.waiters]) if (w.id === id) w.resolve(m);
  }

  /** Asks the provider to kill the job (killed: owner). */
  cancel(idHex: string): ClientJob {
    const job = this.jobOrThrow(idHex);
    if (!FINAL_JOB_STATES.includes(job.state)) this.mods.send(job.provider, { type: 'job-query', jobId: job.id, what: 'cancel', stream: 'stdout', fromChunk: 0 });
    return job;
  }

  job(idHex: string): ClientJob | undefined {
    if (!/^[0-9a-f]{64}$/.test(idHex)) return undefined;
    return this.mods.book.clientJob(Uint8Array.from(Buffer.from(idHex, 'hex')));
  }

  jobOrThrow(idHex: string): ClientJob {
    const j = this.job(idHex);
    if (j === undefined) throw new JobClientError('not-found', `no job ${idHex} submitted by this daemon`);
    return j;
  }

  /** Records the block that anchors a job's receipt. */
  setAnchor(id: Uint8Array, block: Uint8Array): void {
    const j = this.mods.book.clientJob(id);
    if (j !== undefined) this.put({ ...j, anchor: Uint8Array.from(block) });
  }

  jobs(): ClientJob[] {
    return this.mods.book.clientJobs();
  }

  // -------------------------------------------------------------------------------------------
  // Messages from providers (the frame key `from` must be the job's provider).

  private ours(from: Uint8Array, id: Uint8Array): ClientJob | undefined {
    const job = this.mods.book.clientJob(id);
    return job !== undefined && bytesEqual(job.provider, from) ? job : undefined;
  }

  onAccept(from: Uint8Array, m: { jobId: Uint8Array; time: number }): void {
    const job = this.ours(from, m.jobId);
    if (job === undefined) return;
    if (job.state === 'submitted') this.put({ ...job, state: 'accepted', updatedAt: this.mods.clock() });
    this.follow(job.id);
    this.wake(toHex(job.id), { type: 'job-accept', jobId: m.jobId, time: m.time });
  }

  onRefuse(from: Uint8Array, m: { jobId: Uint8Array; reason: RefuseReason; detail: string }): void {
    const job = this.ours(from, m.jobId);
    if (job === undefined) return;
    if (job.state === 'submitted') this.put({ ...job, state: 'refused', refused: { reason: m.reason, detail: m.detail }, updatedAt: this.mods.clock() });
    this.wake(toHex(job.id), { type: 'job-refuse', jobId: m.jobId, reason: m.reason, detail: m.detail });
  }

  onStatus(from: Uint8Array, m: { jobId: Uint8Array; state: JobState; killReason: KillReason; exitCode: number }): void {
    const job = this.ours(from, m.jobId);
    if (job === undefined || FINAL_JOB_STATES.includes(job.state) || job.state === 'refused') return;
    if (job.state === m.state) return;
    this.put({ ...job, state: m.state, killReason: m.killReason, exitCode: m.exitCode, updatedAt: this.mods.clock() });
    this.follow(job.id);
    this.wake(toHex(job.id), { type: 'job-accept', jobId: m.jobId, time: 0 });
  }

  onReceipt(from: Uint8Array, m: JobReceiptMessage): void {
    const job = this.ours(from, m.jobId);
    if (job === undefined || job.receipt !== null) return;
    const problem = this.receiptProblem(job, m);
    if (problem !== null) {
      this.mods.log.warn({ job: toHex(job.id).slice(0, 16), problem }, 'receipt refused');
      this.score({ ...job, state: m.state }, { kind: 'unverifiable' });
      return;
    }
    this.put({ ...job, receipt: encodeBody(m), state: m.state, killReason: m.killReason, exitCode: m.exitCode, updatedAt: this.mods.clock() });
    this.follow(job.id);
    this.askOutput(job.id);
  }

  /** Why a receipt does not belong to the job we submitted, or null. */
  receiptProblem(job: ClientJob, m: JobReceiptMessage): string | null {
    if (!verifyJobMessage(this.mods.ed25519, this.mods.networkId, m)) return 'the signature does not verify';
    if (!bytesEqual(m.provider, job.provider)) return 'signed by another provider';
    if (!bytesEqual(m.specHash, this.mods.blake3.hash(job.submit))) return 'for another spec';
    const spec = specOf(job.submit);
    if (spec === null || !bytesEqual(m.imageId, spec.image)) return 'for another image';
    if (!FINAL_JOB_STATES.includes(m.state)) return `state ${m.state} is not final`;
    if (m.stdoutBytes > spec.maxOutputBytes || m.stderrBytes > spec.maxOutputBytes) return 'it claims more output than the spec allows';
    return null;
  }

  onOutput(from: Uint8Array, m: JobOutputMessage): void {
    const job = this.ours(from, m.jobId);
    const f = job === undefined ? undefined : this.followed.get(toHex(job.id));
    if (job === undefined || f === undefined || job.receipt === null) return;
    const fetch = this.fetchOf(job, f, m.stream);
    if (fetch === null || fetch.done) return;
    if (m.index !== fetch.next) {
      if (m.index > fetch.next && fetch.pending.size < CLIENT_LIMITS.pendingChunks) fetch.pending.set(m.index, m);
      return;
    }
    let chunk: JobOutputMessage | undefined = m;
    while (chunk !== undefined && !fetch.done) {
      // The receipt bounds the stream (and the spec bounds the receipt): never hold more.
      if (fetch.bytes + chunk.data.length > fetch.limit) {
        this.mods.log.warn({ job: toHex(job.id).slice(0, 16), stream: m.stream }, 'more output than the receipt names');
        this.score(job, { kind: 'unverifiable' });
        this.followed.delete(toHex(job.id));
        return;
      }
      const next = verifyOutputChunk(this.mods.blake3, fetch.expected, chunk);
      if (next === null) {
        this.mods.log.warn({ job: toHex(job.id).slice(0, 16), stream: m.stream, chunk: chunk.index }, 'output chunk does not match the receipt');
        this.score(job, { kind: 'unverifiable' });
        this.followed.delete(toHex(job.id));
        return;
      }
      fetch.parts.push(chunk.data);
      fetch.bytes += chunk.data.length;
      fetch.expected = next;
      fetch.next++;
      if (chunk.index === chunk.total - 1) fetch.done = true;
      chunk = fetch.pending.get(fetch.next);
      fetch.pending.delete(fetch.next);
    }
    if (fetch.done) this.maybeComplete(job, f);
    else if (fetch.pending.size === 0 && fetch.next % 32 === 0) this.askOutput(job.id);
  }

  private fetchOf(job: ClientJob, f: Followed, stream: OutputStream): Fetch | null {
    const have = f.out[stream];
    if (have !== undefined) return have;
    const r = receiptOf(job.receipt as Uint8Array);
    if (r === null) return null;
    const fetch: Fetch = {
      expected: stream === 'stdout' ? r.stdoutHash : r.stderrHash,
      next: 0,
      parts: [],
      pending: new Map(),
      done: false,
      bytes: 0,
      limit: stream === 'stdout' ? r.stdoutBytes : r.stderrBytes,
    };
    f.out[stream] = fetch;
    return fetch;
  }

  private maybeComplete(job: ClientJob, f: Followed): void {
    if (f.out.stdout?.done !== true || f.out.stderr?.done !== true) return;
    const stdout = concat(f.out.stdout.parts);
    const stderr = concat(f.out.stderr.parts);
    this.followed.delete(toHex(job.id));
    const cur = this.mods.book.clientJob(job.id) ?? job;
    const r = receiptOf(job.receipt as Uint8Array);
    if (r === null || r.stdoutBytes !== stdout.length || r.stderrBytes !== stderr.length) {
      this.mods.log.warn({ job: toHex(job.id).slice(0, 16) }, 'output size does not match the receipt');
      this.score(cur, { kind: 'unverifiable' });
      return;
    }
    const done: ClientJob = { ...cur, stdout, stderr, updatedAt: this.mods.clock() };
    this.put(done);
    this.counters.verified++;
    this.score(done, outcomeOf(done));
    void this.spotCheckIfAsked(done);
    this.checkSpot(done);
  }

  // -------------------------------------------------------------------------------------------
  // Trust and spot checks.

  private score(job: ClientJob, o: Outcome): void {
    const cur = this.mods.book.clientJob(job.id) ?? job;
    if (cur.scored) return;
    if (o.kind === 'unverifiable') this.counters.unverifiable++;
    const now = this.mods.clock();
    this.mods.book.putTrust(job.provider, applyOutcome(this.mods.book.trust(job.provider) ?? NO_TRUST, o, now));
    this.put({ ...cur, scored: true });
  }

  /** A completed job submitted with spotCheck: run the same spec on another provider. */
  private async spotCheckIfAsked(job: ClientJob): Promise<void> {
    if (!job.spotWanted || job.spotCheck !== null || job.state !== 'exited') return;
    const spec = specOf(job.submit);
    if (spec === null) return;
    const r = await this.submit(
      { image: spec.image, argv: spec.argv, env: spec.env, cpuNano: spec.cpuNano, memoryBytes: spec.memoryBytes, timeoutMs: spec.timeoutMs, maxOutputBytes: spec.maxOutputBytes },
      job.id,
    );
    const cur = this.mods.book.clientJob(job.id) ?? job;
    if (!r.ok) {
      this.mods.log.info({ job: toHex(job.id).slice(0, 16), reason: r.reason }, 'spot check not run');
      this.put({ ...cur, spotWanted: false });
      return;
    }
    this.counters.spotChecks++;
    this.put({ ...cur, spotCheck: Uint8Array.from(Buffer.from(r.id, 'hex')) });
  }

  /** When `job` is a spot check with both receipts verified, compares it with the original. */
  private checkSpot(job: ClientJob): void {
    if (job.spotOf === null) return;
    const orig = this.mods.book.clientJob(job.spotOf);
    if (orig === undefined || orig.receipt === null || job.receipt === null) return;
    const a = receiptOf(orig.receipt);
    const b = receiptOf(job.receipt);
    if (a === null || b === null) return;
    const match = a.state === b.state && a.exitCode === b.exitCode && bytesEqual(a.stdoutHash, b.stdoutHash) && bytesEqual(a.stderrHash, b.stderrHash);
    this.put({ ...orig, spotMatch: match });
    this.put({ ...(this.mods.book.clientJob(job.id) ?? job), spotMatch: match });
    if (match) return;
    this.counters.disputes++;
    const now = this.mods.clock();
    for (const p of [orig.provider, job.provider]) this.mods.book.putTrust(p, applyOutcome(this.mods.book.trust(p) ?? NO_TRUST, { kind: 'disputed' }, now));
    this.mods.log.warn({ job: toHex(orig.id).slice(0, 16), spot: toHex(job.id).slice(0, 16) }, 'spot check disagrees: both providers disputed');
  }

  trustList(): { provider: string; score: number; completed: number; failed: number; disputed: number }[] {
    const now = this.mods.clock();
    return this.mods.book.trusts().map(({ provider, trust }) => ({ provider: toHex(provider), score: currentScore(trust, now), completed: trust.completed, failed: trust.failed, disputed: trust.disputed }));
  }

  // -------------------------------------------------------------------------------------------
  // Following.

  private follow(id: Uint8Array): void {
    const k = toHex(id);
    if (this.followed.has(k) || this.followed.size >= CLIENT_LIMITS.maxFollowed) return;
    this.followed.set(k, { lastAsk: this.mods.clock(), out: {} });
    if (this.started && this.timer === null) this.timer = setInterval(() => this.poll(), CLIENT_LIMITS.pollMs / 4);
  }

  private settled(j: ClientJob): boolean {
    return j.state === 'refused' || (FINAL_JOB_STATES.includes(j.state) && j.receipt !== null && j.stdout !== null) || (j.scored && FINAL_JOB_STATES.includes(j.state));
  }

  private poll(): void {
    const now = this.mods.clock();
    for (const [k, f] of this.followed) {
      if (now - f.lastAsk < CLIENT_LIMITS.pollMs) continue;
      f.lastAsk = now;
      const job = this.mods.book.clientJob(Uint8Array.from(Buffer.from(k, 'hex')));
      if (job === undefined || this.settled(job)) {
        this.followed.delete(k);
        continue;
      }
      if (!FINAL_JOB_STATES.includes(job.state)) this.mods.send(job.provider, { type: 'job-query', jobId: job.id, what: 'status', stream: 'stdout', fromChunk: 0 });
      else if (job.receipt === null) this.mods.send(job.provider, { type: 'job-query', jobId: job.id, what: 'receipt', stream: 'stdout', fromChunk: 0 });
      else this.askOutput(job.id);
    }
    if (this.followed.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private askOutput(id: Uint8Array): void {
    const job = this.mods.book.clientJob(id);
    const f = this.followed.get(toHex(id));
    if (job === undefined || f === undefined) return;
    for (const stream of ['stdout', 'stderr'] as const) {
      const fetch = this.fetchOf(job, f, stream);
      if (fetch === null || fetch.done) continue;
      this.mods.send(job.provider, { type: 'job-query', jobId: id, what: 'output', stream, fromChunk: fetch.next });
    }
  }

  private put(job: ClientJob): void {
    this.mods.book.putClientJob(job);
    this.changed();
  }
}

/** The JOB_SUBMIT a request becomes, before its signature (all zero). */
export function unsignedSpec(r: JobRequest, provider: Uint8Array, client: Uint8Array, nonce: Uint8Array): JobSubmitMessage {
  return {
    type: 'job-submit',
    provider,
    imageRef: 'id',
    image: r.image,
    cpuNano: r.cpuNano,
    memoryBytes: r.memoryBytes,
    timeoutMs: r.timeoutMs,
    network: 'none',
    maxOutputBytes: r.maxOutputBytes,
    argv: r.argv,
    env: r.env,
    client,
    nonce,
    signature: new Uint8Array(64),
  };
}

function fits(o: JobOfferMessage, r: JobRequest): boolean {
  return (
    o.images.some((i) => bytesEqual(i, r.image)) &&
    o.cpuNano >= r.cpuNano &&
    o.memoryBytes >= r.memoryBytes &&
    o.maxTimeoutMs >= r.timeoutMs &&
    o.maxOutputBytes >= r.maxOutputBytes
  );
}

function outcomeOf(j: ClientJob): Outcome {
  if (j.state === 'failed') return { kind: 'failed' };
  if (j.state !== 'exited') return { kind: 'neutral' };
  const r = receiptOf(j.receipt as Uint8Array);
  const spec = specOf(j.submit);
  if (r === null || spec === null) return { kind: 'unverifiable' };
  // Usage and times are the provider's claims: credit at most what the spec allowed.
  const seconds = Math.min(Math.max(0, r.end - r.start), spec.timeoutMs) / 1000;
  const cpuSeconds = Math.min(r.cpuMillis / 1000, (spec.cpuNano / 1e9) * seconds);
  return { kind: 'completed', cpuSeconds, gibSeconds: (spec.memoryBytes / 2 ** 30) * seconds };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
