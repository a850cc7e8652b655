/**
 * Compute jobs and receipts in the store (PROTOCOL §6 `jobs`, §10): what a provider ran and what a
 * client submitted, each as one record per job, with the provider's captured output beside it and
 * the client's trust in each provider.
 *
 *   key                         value (msgpack)
 *   'p' ‖ job id 32             ProviderJob: the signed spec, state, times, container, receipt
 *   'o' ‖ job id 32 ‖ stream    captured stdout (1) / stderr (2), raw bytes, ≤ the spec's cap
 *   'c' ‖ job id 32             ClientJob: the signed spec, provider, state, receipt, verified output
 *   't' ‖ provider pk 32        Trust: score and when it was last updated
 *
 * Wire messages are kept as their encoded bodies (wire/messages.ts `encodeBody`), so a stored
 * spec or receipt is byte for byte what was signed. msgpack carries the rest: these records are
 * read a few times per job, never on a per-frame path.
 *
 * Every write is one durable transaction (LMDB), so a provider that records a state before acting
 * on it (accepted before the container starts, the receipt before it is sent) finds that state
 * after a crash.
 */
import { pack, unpack } from 'msgpackr';
import { decodeBody } from '../wire/messages.js';
import { KIND_JOB_RECEIPT, KIND_JOB_SUBMIT, type JobReceiptMessage, type JobState, type JobSubmitMessage, type KillReason, type OutputStream, type RefuseReason } from '../wire/msg-jobs.js';

export interface JobKv {
  get(key: Uint8Array): Uint8Array | undefined;
  /** Puts and deletes (null) in one durable transaction. */
  write(entries: readonly { readonly key: Uint8Array; readonly value: Uint8Array | null }[]): void;
  range(prefix: Uint8Array): { key: Uint8Array; value: Uint8Array }[];
}

/** The in-memory `JobKv` (a daemon with `--store memory`, tests). */
export class MemoryJobKv implements JobKv {
  private readonly map = new Map<string, Uint8Array>();
  get(key: Uint8Array): Uint8Array | undefined {
    const v = this.map.get(hex(key));
    return v === undefined ? undefined : Uint8Array.from(v);
  }
  write(entries: readonly { readonly key: Uint8Array; readonly value: Uint8Array | null }[]): void {
    for (const e of entries) {
      if (e.value === null) this.map.delete(hex(e.key));
      else this.map.set(hex(e.key), Uint8Array.from(e.value));
    }
  }
  range(prefix: Uint8Array): { key: Uint8Array; value: Uint8Array }[] {
    const p = hex(prefix);
    return [...this.map.entries()]
      .filter(([k]) => k.startsWith(p))
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([k, v]) => ({ key: Uint8Array.from(Buffer.from(k, 'hex')), value: Uint8Array.from(v) }));
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** The signed spec a record keeps (a JOB_SUBMIT body), or null when it does not decode. */
export function specOf(body: Uint8Array): JobSubmitMessage | null {
  const d = decodeBody(KIND_JOB_SUBMIT, body);
  return d.ok && d.message.type === 'job-submit' ? d.message : null;
}

/** The signed receipt a record keeps (a JOB_RECEIPT body), or null when it does not decode. */
export function receiptOf(body: Uint8Array): JobReceiptMessage | null {
  const d = decodeBody(KIND_JOB_RECEIPT, body);
  return d.ok && d.message.type === 'job-receipt' ? d.message : null;
}

export interface ProviderJob {
  readonly id: Uint8Array;
  /** JOB_SUBMIT body, as signed by the client. */
  readonly submit: Uint8Array;
  readonly client: Uint8Array;
  readonly state: JobState;
  readonly killReason: KillReason;
  readonly exitCode: number;
  readonly acceptedAt: number;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly containerId: string | null;
  readonly stdoutTruncated: boolean;
  readonly stderrTruncated: boolean;
  /** JOB_RECEIPT body, once the job ended. */
  readonly receipt: Uint8Array | null;
  /** Why the provider failed the job (state `failed`), for its operator. */
  readonly failure: string | null;
  /** The client asked to cancel it (kept so a restarted provider reports the kill as the owner's). */
  readonly cancelRequested: boolean;
}

export interface ClientJob {
  readonly id: Uint8Array;
  readonly submit: Uint8Array;
  readonly provider: Uint8Array;
  readonly state: JobState;
  readonly killReason: KillReason;
  readonly exitCode: number;
  readonly submittedAt: number;
  readonly updatedAt: number;
  readonly refused: { readonly reason: RefuseReason; readonly detail: string } | null;
  readonly receipt: Uint8Array | null;
  /** Output fetched and checked against the receipt's hashes (null until complete). */
  readonly stdout: Uint8Array | null;
  readonly stderr: Uint8Array | null;
  /** The job this one re-executes (a spot check); whether this one should be re-executed, and by which job. */
  readonly spotOf: Uint8Array | null;
  readonly spotWanted: boolean;
  readonly spotCheck: Uint8Array | null;
  /** A spot check's verdict: output hashes and exit code equal to the original's. */
  readonly spotMatch: boolean | null;
  /** The outcome already went into the provider's trust. */
  readonly scored: boolean;
  /** The block that anchors the receipt (created its receipt token), once asked for. */
  readonly anchor: Uint8Array | null;
}

export interface TrustRecord {
  readonly score: number;
  /** Unix ms of the last update; the score decays from there. */
  readonly updatedAt: number;
  readonly completed: number;
  readonly failed: number;
  readonly disputed: number;
}

const P = 0x70; // 'p'
const O = 0x6f; // 'o'
const C = 0x63; // 'c'
const T = 0x74; // 't'
const STREAM: Readonly<Record<OutputStream, number>> = { stdout: 1, stderr: 2 };

function key(prefix: number, id: Uint8Array, suffix?: number): Uint8Array {
  const k = new Uint8Array(1 + id.length + (suffix === undefined ? 0 : 1));
  k[0] = prefix;
  k.set(id, 1);
  if (suffix !== undefined) k[k.length - 1] = suffix;
  return k;
}

/** msgpack returns Buffers for binary fields; records keep plain Uint8Arrays. */
function bytesOf(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? Uint8Array.from(v) : new Uint8Array(0);
}

function nullableBytes(v: unknown): Uint8Array | null {
  return v instanceof Uint8Array ? Uint8Array.from(v) : null;
}

function decodeProvider(v: Uint8Array): ProviderJob {
  const o = unpack(v) as Record<string, unknown>;
  return {
    ...(o as unknown as ProviderJob),
    id: bytesOf(o['id']),
    submit: bytesOf(o['submit']),
    client: bytesOf(o['client']),
    receipt: nullableBytes(o['receipt']),
    cancelRequested: o['cancelRequested'] === true,
  };
}

function decodeClient(v: Uint8Array): ClientJob {
  const o = unpack(v) as Record<string, unknown>;
  return {
    ...(o as unknown as ClientJob),
    id: bytesOf(o['id']),
    submit: bytesOf(o['submit']),
    provider: bytesOf(o['provider']),
    receipt: nullableBytes(o['receipt']),
    stdout: nullableBytes(o['stdout']),
    stderr: nullableBytes(o['stderr']),
    spotOf: nullableBytes(o['spotOf']),
    spotCheck: nullableBytes(o['spotCheck']),
    anchor: nullableBytes(o['anchor']),
  };
}

/** Typed access to the `jobs` db. */
export class JobBook {
  constructor(private readonly kv: JobKv) {}

  providerJob(id: Uint8Array): ProviderJob | undefined {
    const v = this.kv.get(key(P, id));
    return v === undefined ? undefined : decodeProvider(v);
  }

  providerJobs(): ProviderJob[] {
    return this.kv.range(Uint8Array.of(P)).map((e) => decodeProvider(e.value));
  }

  /** Writes a provider record, and its captured output when given, in one transaction. */
  putProviderJob(job: ProviderJob, output?: { readonly stdout: Uint8Array; readonly stderr: Uint8Array }): void {
    const entries: { key: Uint8Array; value: Uint8Array | null }[] = [{ key: key(P, job.id), value: pack(job) }];
    if (output !== undefined) {
      entries.push({ key: key(O, job.id, STREAM.stdout), value: output.stdout });
      entries.push({ key: key(O, job.id, STREAM.stderr), value: output.stderr });
    }
    this.kv.write(entries);
  }

  output(id: Uint8Array, stream: OutputStream): Uint8Array | undefined {
    return this.kv.get(key(O, id, STREAM[stream]));
  }

  clientJob(id: Uint8Array): ClientJob | undefined {
    const v = this.kv.get(key(C, id));
    return v === undefined ? undefined : decodeClient(v);
  }

  clientJobs(): ClientJob[] {
    return this.kv.range(Uint8Array.of(C)).map((e) => decodeClient(e.value));
  }

  putClientJob(job: ClientJob): void {
    this.kv.write([{ key: key(C, job.id), value: pack(job) }]);
  }

  trust(provider: Uint8Array): TrustRecord | undefined {
    const v = this.kv.get(key(T, provider));
    return v === undefined ? undefined : (unpack(v) as TrustRecord);
  }

  trusts(): { provider: Uint8Array; trust: TrustRecord }[] {
    return this.kv.range(Uint8Array.of(T)).map((e) => ({ provider: e.key.slice(1), trust: unpack(e.value) as TrustRecord }));
  }

  putTrust(provider: Uint8Array, t: TrustRecord): void {
    this.kv.write([{ key: key(T, provider), value: pack(t) }]);
  }
}
