/**
 * The compute-job half of the control API (docs/api.md "Jobs"): request parsing with one-line
 * reasons, and the views the routes answer with. The routes themselves are in daemon/api.ts.
 */
import { toHex } from '../../consensus/hex.js';
import { checkMessage } from '../../wire/messages.js';
import { MAX_JOB_ARGS, MAX_JOB_ENV, MAX_JOB_STRING_BYTES, type JobOfferMessage } from '../../wire/msg-jobs.js';
import { encodeReceiptFile } from '../../wire/receipt-file.js';
import { receiptOf, specOf, type ClientJob } from '../../store/jobs.js';
import type { Blake3Kernel } from '../../kernels/types.js';
import { BLOCK_VERSION, ZERO_ID, blockId, type SignedBlock } from '../../wire/block.js';
import type { SubmitResult } from '../api.js';
import { JOB_LIMITS } from '../container-host.js';
import { unsignedSpec, type JobClient, type JobRequest, type SubmitOutcome } from './client.js';
import type { JobProvider } from './provider.js';

export const JOB_REQUEST_DEFAULTS = {
  cpu: 1,
  memoryBytes: 64 * 1024 * 1024,
  timeoutMs: 60_000,
  maxOutputBytes: 1 << 20,
} as const;

const FINAL = new Set(['exited', 'killed', 'failed', 'refused']);
const ENV_ITEM = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** A request the API refuses, with the reason for the client. */
export class JobRequestError extends Error {
  override readonly name = 'JobRequestError';
}

function int(o: Record<string, unknown>, k: string, min: number, max: number, dflt: number): number {
  const v = o[k];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new JobRequestError(`"${k}" must be an integer in ${min}..${max}`);
  return v;
}

function strings(o: Record<string, unknown>, k: string, max: number, need: boolean): string[] {
  const v = o[k];
  if (v === undefined && !need) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new JobRequestError(`"${k}" must be an array of strings`);
  if ((need && v.length === 0) || v.length > max) throw new JobRequestError(`"${k}" must hold ${need ? 1 : 0}..${max} strings`);
  for (const x of v as string[]) if (Buffer.byteLength(x) > MAX_JOB_STRING_BYTES) throw new JobRequestError(`each "${k}" item is at most ${MAX_JOB_STRING_BYTES} bytes`);
  return v as string[];
}

function hex32(v: unknown, what: string): Uint8Array {
  const s = typeof v === 'string' ? (v.startsWith('sha256:') ? v.slice(7) : v).toLowerCase() : '';
  if (!/^[0-9a-f]{64}$/.test(s)) throw new JobRequestError(`"${what}" must be 64 hex digits${what === 'image' ? ' (an image id, optionally sha256:…)' : ''}`);
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

/** Parses the body of POST /v1/jobs. Throws JobRequestError with the reason. */
export function parseJobRequest(v: unknown): JobRequest {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new JobRequestError('the body must be a JSON object {image, argv, …}');
  const o = v as Record<string, unknown>;
  const known = new Set(['image', 'argv', 'env', 'cpu', 'memory', 'timeoutMs', 'maxOutput', 'provider', 'spotCheck']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new JobRequestError(`unknown field "${k}"`);
  const argv = strings(o, 'argv', MAX_JOB_ARGS, true);
  const env = strings(o, 'env', MAX_JOB_ENV, false);
  if (env.some((e) => !ENV_ITEM.test(e))) throw new JobRequestError('"env" items must be NAME=value');
  const cpu = o['cpu'] ?? JOB_REQUEST_DEFAULTS.cpu;
  if (typeof cpu !== 'number' || !Number.isFinite(cpu) || cpu * 1e9 < JOB_LIMITS.minNanoCpus || cpu > 1024) throw new JobRequestError(`"cpu" must be a number of CPUs in ${JOB_LIMITS.minNanoCpus / 1e9}..1024`);
  const spot = o['spotCheck'];
  if (spot !== undefined && typeof spot !== 'boolean') throw new JobRequestError('"spotCheck" must be true or false');
  return {
    image: hex32(o['image'], 'image'),
    argv,
    env,
    cpuNano: Math.round(cpu * 1e9),
    memoryBytes: int(o, 'memory', JOB_LIMITS.minMemoryBytes, 2 ** 50, JOB_REQUEST_DEFAULTS.memoryBytes),
    timeoutMs: int(o, 'timeoutMs', 1, JOB_LIMITS.maxTimeoutMs, JOB_REQUEST_DEFAULTS.timeoutMs),
    maxOutputBytes: int(o, 'maxOutput', 0, JOB_LIMITS.maxOutputBytes, JOB_REQUEST_DEFAULTS.maxOutputBytes),
    ...(o['provider'] === undefined ? {} : { provider: hex32(o['provider'], 'provider') }),
    ...(spot === true ? { spotCheck: true } : {}),
  };
}

/** Throws JobRequestError when the spec cannot travel in one frame. */
export function checkSpecFits(r: JobRequest): void {
  const problem = checkMessage(unsignedSpec(r, new Uint8Array(32), new Uint8Array(32), new Uint8Array(16)));
  if (problem !== null) throw new JobRequestError(`the job spec does not fit one frame: ${problem.message} (argv and env together: about 1 KB)`);
}

export function offerView(o: JobOfferMessage, score: number): Record<string, unknown> {
  return {
    provider: toHex(o.provider),
    issuedAt: o.issuedAt,
    expiresAt: o.expiresAt,
    cpu: o.cpuNano / 1e9,
    memory: o.memoryBytes,
    maxTimeoutMs: o.maxTimeoutMs,
    maxOutput: o.maxOutputBytes,
    pricePerCpuSecond: o.pricePerCpuSecond,
    pricePerGiBSecond: o.pricePerGiBSecond,
    images: o.images.map((i) => `sha256:${toHex(i)}`),
    score,
  };
}

export function jobView(j: ClientJob): Record<string, unknown> {
  const spec = specOf(j.submit);
  const r = j.receipt === null ? null : receiptOf(j.receipt);
  return {
    id: toHex(j.id),
    provider: toHex(j.provider),
    state: j.state,
    final: FINAL.has(j.state) && (j.state === 'refused' || j.receipt !== null),
    killReason: j.killReason,
    exitCode: j.exitCode,
    submittedAt: j.submittedAt,
    updatedAt: j.updatedAt,
    ...(j.refused === null ? {} : { refused: j.refused }),
    spec: spec === null ? null : { image: `sha256:${toHex(spec.image)}`, argv: spec.argv, env: spec.env, cpu: spec.cpuNano / 1e9, memory: spec.memoryBytes, timeoutMs: spec.timeoutMs, maxOutput: spec.maxOutputBytes },
    receipt:
      r === null
        ? null
        : { start: r.start, end: r.end, cpuMillis: r.cpuMillis, peakMemory: r.peakMemoryBytes, stdoutBytes: r.stdoutBytes, stderrBytes: r.stderrBytes, stdoutHash: toHex(r.stdoutHash), stderrHash: toHex(r.stderrHash) },
    output: j.stdout !== null && j.stderr !== null ? 'verified' : j.scored ? 'unverifiable' : r === null ? 'none' : 'fetching',
    ...(j.spotOf === null ? {} : { spotOf: toHex(j.spotOf) }),
    ...(j.spotCheck === null ? {} : { spotCheck: toHex(j.spotCheck) }),
    ...(j.spotMatch === null ? {} : { spotMatch: j.spotMatch }),
    ...(j.anchor === null ? {} : { anchor: toHex(j.anchor) }),
  };
}

const DOMAIN_RECEIPT_TOKEN = new TextEncoder().encode('ec/receipt/v1');

/** The token whose creation anchors a receipt: BLAKE3("ec/receipt/v1" ‖ BLAKE3(receipt body)) (PROTOCOL §10). */
export function receiptToken(blake3: Blake3Kernel, receiptBody: Uint8Array): Uint8Array {
  const h = blake3.hash(receiptBody);
  const buf = new Uint8Array(DOMAIN_RECEIPT_TOKEN.length + 32);
  buf.set(DOMAIN_RECEIPT_TOKEN, 0);
  buf.set(h, DOMAIN_RECEIPT_TOKEN.length);
  return blake3.hash(buf);
}

/** How the job API commits an anchor block: the node's own submit path. */
export interface Anchorer {
  readonly blake3: Blake3Kernel;
  readonly networkId: bigint;
  submit(signed: SignedBlock): SubmitResult;
  status(id: Uint8Array): string;
  clock(): number;
}

/** What the control API needs of the job side of a node. */
export class JobsApi {
  constructor(
    private readonly client: JobClient,
    private readonly provider: JobProvider | null,
    private readonly anchorer: Anchorer,
  ) {}

  private get networkId(): bigint {
    return this.anchorer.networkId;
  }

  /**
   * Commits a block creating the receipt's token, final (no key may update it): the network then
   * attests, through the normal vote, that the receipt existed at the block's time. Idempotent:
   * a job anchors once, and asking again answers with that block's status.
   */
  anchor(id: string): { ok: true; token: string; block: string; status: string } | { ok: false; status: number; reason: string } | undefined {
    const j = this.client.job(id);
    if (j === undefined) return undefined;
    if (j.receipt === null) return { ok: false, status: 409, reason: `job ${id} has no receipt yet` };
    const token = receiptToken(this.anchorer.blake3, j.receipt);
    if (j.anchor !== null) return { ok: true, token: toHex(token), block: toHex(j.anchor), status: this.anchorer.status(j.anchor) };
    const signed: SignedBlock = { block: { version: BLOCK_VERSION, time: this.anchorer.clock(), entries: [{ token, last: ZERO_ID, nextKeyHash: ZERO_ID }] }, signatures: [] };
    const r = this.anchorer.submit(signed);
    if (!r.ok) return { ok: false, status: r.error === 'unavailable' ? 503 : 409, reason: r.reason };
    const block = blockId(this.anchorer.blake3, this.anchorer.networkId, signed.block);
    this.client.setAnchor(j.id, block);
    return { ok: true, token: toHex(token), block: toHex(block), status: r.status };
  }

  offers(): Record<string, unknown> {
    return {
      offers: this.client.offerList().map((x) => offerView(x.offer, x.score)),
      ...(this.provider === null ? {} : { own: offerView(this.provider.offer(), 0), running: this.provider.runningCount }),
    };
  }

  async submit(body: unknown): Promise<SubmitOutcome> {
    const r = parseJobRequest(body);
    checkSpecFits(r);
    return this.client.submit(r);
  }

  list(): Record<string, unknown> {
    return { jobs: this.client.jobs().map(jobView) };
  }

  get(id: string): Record<string, unknown> | undefined {
    const j = this.client.job(id);
    return j === undefined ? undefined : jobView(j);
  }

  isFinal(id: string): boolean {
    const j = this.client.job(id);
    return j === undefined || j.state === 'refused' || (FINAL.has(j.state) && j.stdout !== null) || (j.scored && FINAL.has(j.state));
  }

  output(id: string): Record<string, unknown> | undefined {
    const j = this.client.job(id);
    if (j === undefined) return undefined;
    return { id, verified: j.stdout !== null, stdout: j.stdout === null ? null : Buffer.from(j.stdout).toString('base64'), stderr: j.stderr === null ? null : Buffer.from(j.stderr).toString('base64') };
  }

  cancel(id: string): Record<string, unknown> | undefined {
    const j = this.client.job(id);
    if (j === undefined) return undefined;
    return jobView(this.client.cancel(id));
  }

  receipt(id: string): Record<string, unknown> | undefined {
    const j = this.client.job(id);
    if (j === undefined) return undefined;
    const r = j.receipt === null ? null : receiptOf(j.receipt);
    return { id, receipt: r === null ? null : toHex(encodeReceiptFile(this.networkId, r)) };
  }

  providers(): Record<string, unknown> {
    return { providers: this.client.trustList() };
  }

  onChange(l: () => void): () => void {
    return this.client.onChange(l);
  }
}
