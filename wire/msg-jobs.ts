/**
 * Compute-job messages (PROTOCOL §10). Every body starts with the version byte; integers are
 * big-endian; times are unix milliseconds (u64).
 *
 *   JOB_OFFER    version ‖ provider pk 32 ‖ issued u64 ‖ expires u64 ‖ cpu nano u64 ‖ memory u64 ‖
 *                max timeout ms u32 ‖ max output u32 ‖ price per CPU-s u64 ‖ price per GiB-s u64 ‖
 *                image count u32 (0..32) ‖ images 32·n ‖ signature 64
 *   JOB_SUBMIT   version ‖ provider pk 32 ‖ image kind u8 ‖ image 32 ‖ cpu nano u64 ‖ memory u64 ‖
 *                timeout ms u32 ‖ network u8 ‖ max output u32 ‖ argv count u32 (0..64) ‖ argv ‖
 *                env count u32 (0..64) ‖ env ‖ client pk 32 ‖ nonce 16 ‖ signature 64
 *                (each string: length u16 ≤ 1 024 ‖ UTF-8 bytes; the frame bounds the total)
 *   JOB_ACCEPT   version ‖ job id 32 ‖ time u64
 *   JOB_REFUSE   version ‖ job id 32 ‖ reason u8 ‖ detail (length u16 ≤ 256 ‖ UTF-8)
 *   JOB_STATUS   version ‖ job id 32 ‖ state u8 ‖ kill reason u8 ‖ exit code i32 ‖ time u64
 *   JOB_QUERY    version ‖ job id 32 ‖ what u8 ‖ stream u8 ‖ from chunk u32
 *   JOB_RECEIPT  version ‖ job id 32 ‖ spec hash 32 ‖ image id 32 ‖ provider pk 32 ‖ start u64 ‖
 *                end u64 ‖ state u8 ‖ kill reason u8 ‖ exit code i32 ‖ stdout hash 32 ‖ stdout
 *                size u64 ‖ stderr hash 32 ‖ stderr size u64 ‖ CPU ms u64 ‖ peak memory u64 ‖
 *                signature 64
 *   JOB_OUTPUT   version ‖ job id 32 ‖ stream u8 ‖ index u32 ‖ total u32 ‖ next hash 32 ‖
 *                data (length u16 ≤ 1 024 ‖ bytes)
 *
 * Signed messages (offer, submit, receipt) end with an Ed25519 signature over
 * `"ec/job-<offer|spec|receipt>/v1" ‖ network_id u64 ‖ body without the signature`.
 * `job id = BLAKE3(body of JOB_SUBMIT without the signature)` = BLAKE3(version ‖ spec ‖ client
 * pk ‖ nonce), as §10 asks. Output travels as a backwards hash chain, so each chunk is checked
 * as it arrives: `h_i = BLAKE3("ec/job-output/v1" ‖ data_i ‖ h_{i+1})`, `h_total = 0³²`, and the
 * receipt's stream hash is `h_0` (the hash of an empty stream is `BLAKE3("ec/job-output/v1" ‖ 0³²)`,
 * carried as one empty chunk).
 */
import type { Blake3Kernel, Ed25519Kernel, Ed25519Signer } from '../kernels/types.js';
import {
  COUNT_BYTES,
  DecodeStop,
  LENGTH_BYTES,
  MAX_BODY_BYTES,
  WireEncodeError,
  Writer,
  countProblem,
  fieldError,
  isBytes,
  isI32,
  isU32,
  isU64,
  stringProblem,
  utf8Length,
} from './msg-common.js';
import type { LayoutSpec, Reader } from './msg-common.js';

export const KIND_JOB_OFFER = 48;
export const KIND_JOB_SUBMIT = 49;
export const KIND_JOB_ACCEPT = 50;
export const KIND_JOB_REFUSE = 51;
export const KIND_JOB_STATUS = 52;
export const KIND_JOB_RECEIPT = 53;
export const KIND_JOB_OUTPUT = 54;
export const KIND_JOB_QUERY = 55;

/** Allowed image digests in one offer. */
export const MAX_OFFER_IMAGES = 32;
/** argv items of a job spec. */
export const MAX_JOB_ARGS = 64;
/** env items ("NAME=value") of a job spec. */
export const MAX_JOB_ENV = 64;
/** UTF-8 bytes of one argv or env item (the whole spec must still fit one frame). */
export const MAX_JOB_STRING_BYTES = 1024;
/** UTF-8 bytes of a refusal's free-text detail. */
export const MAX_REFUSE_DETAIL_BYTES = 256;
/** Data bytes of one output chunk. */
export const MAX_OUTPUT_CHUNK_BYTES = 1024;

const utf8 = new TextEncoder();
export const DOMAIN_JOB_OFFER = utf8.encode('ec/job-offer/v1');
export const DOMAIN_JOB_SPEC = utf8.encode('ec/job-spec/v1');
export const DOMAIN_JOB_RECEIPT = utf8.encode('ec/job-receipt/v1');
export const DOMAIN_JOB_OUTPUT = utf8.encode('ec/job-output/v1');

// ---------------------------------------------------------------------------------------------
// Enumerations.

export type JobState = 'submitted' | 'accepted' | 'refused' | 'running' | 'exited' | 'killed' | 'failed';
export const JOB_STATE_CODES: Readonly<Record<JobState, number>> = {
  submitted: 1,
  accepted: 2,
  refused: 3,
  running: 4,
  exited: 5,
  killed: 6,
  failed: 7,
};
/** States a receipt may record: the job has finished. */
export const FINAL_JOB_STATES: readonly JobState[] = ['exited', 'killed', 'failed'];

export type KillReason = 'none' | 'timeout' | 'oom' | 'owner';
export const KILL_REASON_CODES: Readonly<Record<KillReason, number>> = { none: 0, timeout: 1, oom: 2, owner: 3 };

export type RefuseReason = 'capacity' | 'image-not-allowed' | 'limits' | 'price' | 'bad-signature' | 'duplicate' | 'expired' | 'other';
export const REFUSE_REASON_CODES: Readonly<Record<RefuseReason, number>> = {
  capacity: 1,
  'image-not-allowed': 2,
  limits: 3,
  price: 4,
  'bad-signature': 5,
  duplicate: 6,
  expired: 7,
  other: 8,
};

export type ImageRef = 'digest' | 'id';
export const IMAGE_REF_CODES: Readonly<Record<ImageRef, number>> = { digest: 0, id: 1 };

export type JobNetwork = 'none' | 'bridge';
export const JOB_NETWORK_CODES: Readonly<Record<JobNetwork, number>> = { none: 0, bridge: 1 };

export type OutputStream = 'stdout' | 'stderr';
export const OUTPUT_STREAM_CODES: Readonly<Record<OutputStream, number>> = { stdout: 1, stderr: 2 };

export type JobQueryWhat = 'status' | 'receipt' | 'output' | 'cancel';
export const JOB_QUERY_CODES: Readonly<Record<JobQueryWhat, number>> = { status: 1, receipt: 2, output: 3, cancel: 4 };

function inverse<T extends string>(codes: Readonly<Record<T, number>>): ReadonlyMap<number, T> {
  return new Map(Object.entries(codes).map(([k, v]) => [v as number, k as T]));
}

function readEnum<T extends string>(r: Reader, inv: ReadonlyMap<number, T>, field: string): T {
  const v = inv.get(r.u8(field));
  if (v === undefined) throw new DecodeStop('field', field);
  return v;
}

function isEnum<T extends string>(codes: Readonly<Record<T, number>>, v: unknown): v is T {
  return typeof v === 'string' && Object.hasOwn(codes, v);
}

const STATE_BY_CODE = inverse(JOB_STATE_CODES);
const KILL_BY_CODE = inverse(KILL_REASON_CODES);
const REFUSE_BY_CODE = inverse(REFUSE_REASON_CODES);
const IMAGE_BY_CODE = inverse(IMAGE_REF_CODES);
const NETWORK_BY_CODE = inverse(JOB_NETWORK_CODES);
const STREAM_BY_CODE = inverse(OUTPUT_STREAM_CODES);
const QUERY_BY_CODE = inverse(JOB_QUERY_CODES);

// ---------------------------------------------------------------------------------------------
// Types.

/** A provider's signed, expiring offer. */
export interface JobOfferMessage {
  readonly type: 'job-offer';
  readonly provider: Uint8Array;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** Free capacity: nano-CPUs and bytes of memory. */
  readonly cpuNano: number;
  readonly memoryBytes: number;
  readonly maxTimeoutMs: number;
  readonly maxOutputBytes: number;
  /** Unit prices in the network's smallest credit unit. */
  readonly pricePerCpuSecond: number;
  readonly pricePerGiBSecond: number;
  /** Allowed image digests (sha256, 32 bytes each). */
  readonly images: readonly Uint8Array[];
  readonly signature: Uint8Array;
}

/** A client's signed job spec, submitted to one provider. */
export interface JobSubmitMessage {
  readonly type: 'job-submit';
  readonly provider: Uint8Array;
  readonly imageRef: ImageRef;
  /** sha256 digest or image id (32 bytes); never pulled by default. */
  readonly image: Uint8Array;
  readonly cpuNano: number;
  readonly memoryBytes: number;
  readonly timeoutMs: number;
  readonly network: JobNetwork;
  readonly maxOutputBytes: number;
  readonly argv: readonly string[];
  /** "NAME=value" items. */
  readonly env: readonly string[];
  readonly client: Uint8Array;
  readonly nonce: Uint8Array;
  readonly signature: Uint8Array;
}

export interface JobAcceptMessage {
  readonly type: 'job-accept';
  readonly jobId: Uint8Array;
  readonly time: number;
}

export interface JobRefuseMessage {
  readonly type: 'job-refuse';
  readonly jobId: Uint8Array;
  readonly reason: RefuseReason;
  readonly detail: string;
}

export interface JobStatusMessage {
  readonly type: 'job-status';
  readonly jobId: Uint8Array;
  readonly state: JobState;
  /** 'none' unless state is 'killed', and then not 'none'. */
  readonly killReason: KillReason;
  readonly exitCode: number;
  readonly time: number;
}

/** A client asks a provider for a job's status, receipt, or output from a chunk on. */
export interface JobQueryMessage {
  readonly type: 'job-query';
  readonly jobId: Uint8Array;
  readonly what: JobQueryWhat;
  readonly stream: OutputStream;
  readonly fromChunk: number;
}

export interface JobReceiptMessage {
  readonly type: 'job-receipt';
  readonly jobId: Uint8Array;
  readonly specHash: Uint8Array;
  readonly imageId: Uint8Array;
  readonly provider: Uint8Array;
  readonly start: number;
  readonly end: number;
  /** 'exited', 'killed' or 'failed'. */
  readonly state: JobState;
  readonly killReason: KillReason;
  readonly exitCode: number;
  /** h_0 of the output hash chain, and the stream's length in bytes. */
  readonly stdoutHash: Uint8Array;
  readonly stdoutBytes: number;
  readonly stderrHash: Uint8Array;
  readonly stderrBytes: number;
  readonly cpuMillis: number;
  readonly peakMemoryBytes: number;
  readonly signature: Uint8Array;
}

export interface JobOutputMessage {
  readonly type: 'job-output';
  readonly jobId: Uint8Array;
  readonly stream: OutputStream;
  readonly index: number;
  readonly total: number;
  /** h_{index+1}; all-zero for the last chunk. */
  readonly next: Uint8Array;
  readonly data: Uint8Array;
}

export type JobMessage =
  | JobOfferMessage
  | JobSubmitMessage
  | JobAcceptMessage
  | JobRefuseMessage
  | JobStatusMessage
  | JobQueryMessage
  | JobReceiptMessage
  | JobOutputMessage;

// ---------------------------------------------------------------------------------------------
// Sizes.

export const JOB_SIZES = {
  offerFixed: 1 + 32 + 8 + 8 + 8 + 8 + 4 + 4 + 8 + 8 + COUNT_BYTES + 64,
  submitFixed: 1 + 32 + 1 + 32 + 8 + 8 + 4 + 1 + 4 + COUNT_BYTES + COUNT_BYTES + 32 + 16 + 64,
  accept: 1 + 32 + 8,
  refuseFixed: 1 + 32 + 1 + LENGTH_BYTES,
  status: 1 + 32 + 1 + 1 + 4 + 8,
  query: 1 + 32 + 1 + 1 + 4,
  receipt: 1 + 32 + 32 + 32 + 32 + 8 + 8 + 1 + 1 + 4 + 32 + 8 + 32 + 8 + 8 + 8 + 64,
  outputFixed: 1 + 32 + 1 + 4 + 4 + 32 + LENGTH_BYTES,
} as const;

export const JOB_OFFSETS = {
  offer: { version: 0, provider: 1, issuedAt: 33, expiresAt: 41, cpuNano: 49, memoryBytes: 57, maxTimeoutMs: 65, maxOutputBytes: 69, pricePerCpuSecond: 73, pricePerGiBSecond: 81, imageCount: 89, images: 93 },
  submit: { version: 0, provider: 1, imageRef: 33, image: 34, cpuNano: 66, memoryBytes: 74, timeoutMs: 82, network: 86, maxOutputBytes: 87, argvCount: 91, argv: 95 },
  accept: { version: 0, jobId: 1, time: 33 },
  refuse: { version: 0, jobId: 1, reason: 33, detailLength: 34, detail: 36 },
  status: { version: 0, jobId: 1, state: 33, killReason: 34, exitCode: 35, time: 39 },
  query: { version: 0, jobId: 1, what: 33, stream: 34, fromChunk: 35 },
  receipt: { version: 0, jobId: 1, specHash: 33, imageId: 65, provider: 97, start: 129, end: 137, state: 145, killReason: 146, exitCode: 147, stdoutHash: 151, stdoutBytes: 183, stderrHash: 191, stderrBytes: 223, cpuMillis: 231, peakMemoryBytes: 239, signature: 247 },
  output: { version: 0, jobId: 1, stream: 33, index: 34, total: 38, next: 42, dataLength: 74, data: 76 },
} as const;

// ---------------------------------------------------------------------------------------------
// Layouts.

function killProblem(state: unknown, kill: unknown): WireEncodeError | null {
  if (!isEnum(JOB_STATE_CODES, state)) return fieldError('state', 'must be a job state');
  if (!isEnum(KILL_REASON_CODES, kill)) return fieldError('killReason', 'must be a kill reason');
  if ((state === 'killed') !== (kill !== 'none')) return fieldError('killReason', "must be set exactly when state is 'killed'");
  return null;
}

function readStateAndKill(r: Reader): { state: JobState; killReason: KillReason } {
  const state = readEnum(r, STATE_BY_CODE, 'state');
  const killReason = readEnum(r, KILL_BY_CODE, 'killReason');
  if ((state === 'killed') !== (killReason !== 'none')) throw new DecodeStop('field', 'killReason');
  return { state, killReason };
}

export const JOB_OFFER: LayoutSpec<JobOfferMessage> = {
  kind: KIND_JOB_OFFER,
  name: 'JOB_OFFER',
  packable: false,
  maxBody: JOB_SIZES.offerFixed + 32 * MAX_OFFER_IMAGES,
  check(m) {
    if (!isBytes(m.provider, 32)) return fieldError('provider', 'must be 32 bytes');
    for (const k of ['issuedAt', 'expiresAt', 'cpuNano', 'memoryBytes', 'pricePerCpuSecond', 'pricePerGiBSecond'] as const) {
      if (!isU64(m[k])) return fieldError(k, 'must be a u64 below 2^53');
    }
    if (!isU32(m.maxTimeoutMs) || !isU32(m.maxOutputBytes)) return fieldError('limits', 'must be u32');
    const c = countProblem(m.images, 0, MAX_OFFER_IMAGES, 'images');
    if (c !== null) return c;
    for (const i of m.images) if (!isBytes(i, 32)) return fieldError('images', 'must hold 32-byte digests');
    return isBytes(m.signature, 64) ? null : fieldError('signature', 'must be 64 bytes');
  },
  size: (m) => JOB_SIZES.offerFixed - 1 + 32 * m.images.length,
  write(w, m) {
    w.bytes(m.provider);
    w.u64(m.issuedAt);
    w.u64(m.expiresAt);
    w.u64(m.cpuNano);
    w.u64(m.memoryBytes);
    w.u32(m.maxTimeoutMs);
    w.u32(m.maxOutputBytes);
    w.u64(m.pricePerCpuSecond);
    w.u64(m.pricePerGiBSecond);
    w.u32(m.images.length);
    for (const i of m.images) w.bytes(i);
    w.bytes(m.signature);
  },
  read(r) {
    const provider = r.bytes(32, 'provider');
    const issuedAt = r.u64('issuedAt');
    const expiresAt = r.u64('expiresAt');
    const cpuNano = r.u64('cpuNano');
    const memoryBytes = r.u64('memoryBytes');
    const maxTimeoutMs = r.u32('maxTimeoutMs');
    const maxOutputBytes = r.u32('maxOutputBytes');
    const pricePerCpuSecond = r.u64('pricePerCpuSecond');
    const pricePerGiBSecond = r.u64('pricePerGiBSecond');
    const n = r.count(0, MAX_OFFER_IMAGES, 32, 'images');
    const images: Uint8Array[] = [];
    for (let i = 0; i < n; i++) images.push(r.bytes(32, 'images'));
    const signature = r.bytes(64, 'signature');
    return {
      type: 'job-offer',
      provider,
      issuedAt,
      expiresAt,
      cpuNano,
      memoryBytes,
      maxTimeoutMs,
      maxOutputBytes,
      pricePerCpuSecond,
      pricePerGiBSecond,
      images,
      signature,
    };
  },
};

function stringsProblem(items: readonly string[], max: number, field: string): WireEncodeError | null {
  const c = countProblem(items, 0, max, field);
  if (c !== null) return c;
  for (const s of items) {
    const p = stringProblem(s, MAX_JOB_STRING_BYTES, field);
    if (p !== null) return p;
  }
  return null;
}

function stringsSize(items: readonly string[]): number {
  return items.reduce((s, x) => s + LENGTH_BYTES + utf8Length(x), COUNT_BYTES);
}

function readStrings(r: Reader, max: number, field: string): string[] {
  const n = r.count(0, max, LENGTH_BYTES, field);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(r.string(MAX_JOB_STRING_BYTES, field));
  return out;
}

export const JOB_SUBMIT: LayoutSpec<JobSubmitMessage> = {
  kind: KIND_JOB_SUBMIT,
  name: 'JOB_SUBMIT',
  packable: false,
  // Bounded by the frame, not by the per-item caps: the encoder refuses a spec that does not fit.
  maxBody: MAX_BODY_BYTES,
  check(m) {
    if (!isBytes(m.provider, 32)) return fieldError('provider', 'must be 32 bytes');
    if (!isEnum(IMAGE_REF_CODES, m.imageRef)) return fieldError('imageRef', "must be 'digest' or 'id'");
    if (!isBytes(m.image, 32)) return fieldError('image', 'must be 32 bytes');
    if (!isU64(m.cpuNano) || !isU64(m.memoryBytes)) return fieldError('resources', 'must be u64 below 2^53');
    if (!isU32(m.timeoutMs) || !isU32(m.maxOutputBytes)) return fieldError('limits', 'must be u32');
    if (!isEnum(JOB_NETWORK_CODES, m.network)) return fieldError('network', "must be 'none' or 'bridge'");
    const p = stringsProblem(m.argv, MAX_JOB_ARGS, 'argv') ?? stringsProblem(m.env, MAX_JOB_ENV, 'env');
    if (p !== null) return p;
    if (!isBytes(m.client, 32)) return fieldError('client', 'must be 32 bytes');
    if (!isBytes(m.nonce, 16)) return fieldError('nonce', 'must be 16 bytes');
    return isBytes(m.signature, 64) ? null : fieldError('signature', 'must be 64 bytes');
  },
  size: (m) => JOB_SIZES.submitFixed - 1 - 2 * COUNT_BYTES + stringsSize(m.argv) + stringsSize(m.env),
  write(w, m) {
    w.bytes(m.provider);
    w.u8(IMAGE_REF_CODES[m.imageRef]);
    w.bytes(m.image);
    w.u64(m.cpuNano);
    w.u64(m.memoryBytes);
    w.u32(m.timeoutMs);
    w.u8(JOB_NETWORK_CODES[m.network]);
    w.u32(m.maxOutputBytes);
    w.u32(m.argv.length);
    for (const s of m.argv) w.string(s);
    w.u32(m.env.length);
    for (const s of m.env) w.string(s);
    w.bytes(m.client);
    w.bytes(m.nonce);
    w.bytes(m.signature);
  },
  read(r) {
    const provider = r.bytes(32, 'provider');
    const imageRef = readEnum(r, IMAGE_BY_CODE, 'imageRef');
    const image = r.bytes(32, 'image');
    const cpuNano = r.u64('cpuNano');
    const memoryBytes = r.u64('memoryBytes');
    const timeoutMs = r.u32('timeoutMs');
    const network = readEnum(r, NETWORK_BY_CODE, 'network');
    const maxOutputBytes = r.u32('maxOutputBytes');
    const argv = readStrings(r, MAX_JOB_ARGS, 'argv');
    const env = readStrings(r, MAX_JOB_ENV, 'env');
    const client = r.bytes(32, 'client');
    const nonce = r.bytes(16, 'nonce');
    const signature = r.bytes(64, 'signature');
    return { type: 'job-submit', provider, imageRef, image, cpuNano, memoryBytes, timeoutMs, network, maxOutputBytes, argv, env, client, nonce, signature };
  },
};

export const JOB_ACCEPT: LayoutSpec<JobAcceptMessage> = {
  kind: KIND_JOB_ACCEPT,
  name: 'JOB_ACCEPT',
  packable: true,
  maxBody: JOB_SIZES.accept,
  check: (m) => (!isBytes(m.jobId, 32) ? fieldError('jobId', 'must be 32 bytes') : !isU64(m.time) ? fieldError('time', 'must be a u64 below 2^53') : null),
  size: () => JOB_SIZES.accept - 1,
  write(w, m) {
    w.bytes(m.jobId);
    w.u64(m.time);
  },
  read(r) {
    const jobId = r.bytes(32, 'jobId');
    const time = r.u64('time');
    return { type: 'job-accept', jobId, time };
  },
};

export const JOB_REFUSE: LayoutSpec<JobRefuseMessage> = {
  kind: KIND_JOB_REFUSE,
  name: 'JOB_REFUSE',
  packable: true,
  maxBody: JOB_SIZES.refuseFixed + MAX_REFUSE_DETAIL_BYTES,
  check(m) {
    if (!isBytes(m.jobId, 32)) return fieldError('jobId', 'must be 32 bytes');
    if (!isEnum(REFUSE_REASON_CODES, m.reason)) return fieldError('reason', 'must be a refusal reason');
    return stringProblem(m.detail, MAX_REFUSE_DETAIL_BYTES, 'detail');
  },
  size: (m) => JOB_SIZES.refuseFixed - 1 + utf8Length(m.detail),
  write(w, m) {
    w.bytes(m.jobId);
    w.u8(REFUSE_REASON_CODES[m.reason]);
    w.string(m.detail);
  },
  read(r) {
    const jobId = r.bytes(32, 'jobId');
    const reason = readEnum(r, REFUSE_BY_CODE, 'reason');
    const detail = r.string(MAX_REFUSE_DETAIL_BYTES, 'detail');
    return { type: 'job-refuse', jobId, reason, detail };
  },
};

export const JOB_STATUS: LayoutSpec<JobStatusMessage> = {
  kind: KIND_JOB_STATUS,
  name: 'JOB_STATUS',
  packable: true,
  maxBody: JOB_SIZES.status,
  check(m) {
    if (!isBytes(m.jobId, 32)) return fieldError('jobId', 'must be 32 bytes');
    const k = killProblem(m.state, m.killReason);
    if (k !== null) return k;
    if (!isI32(m.exitCode)) return fieldError('exitCode', 'must be an i32');
    return isU64(m.time) ? null : fieldError('time', 'must be a u64 below 2^53');
  },
  size: () => JOB_SIZES.status - 1,
  write(w, m) {
    w.bytes(m.jobId);
    w.u8(JOB_STATE_CODES[m.state]);
    w.u8(KILL_REASON_CODES[m.killReason]);
    w.i32(m.exitCode);
    w.u64(m.time);
  },
  read(r) {
    const jobId = r.bytes(32, 'jobId');
    const { state, killReason } = readStateAndKill(r);
    const exitCode = r.i32('exitCode');
    const time = r.u64('time');
    return { type: 'job-status', jobId, state, killReason, exitCode, time };
  },
};

export const JOB_QUERY: LayoutSpec<JobQueryMessage> = {
  kind: KIND_JOB_QUERY,
  name: 'JOB_QUERY',
  packable: true,
  maxBody: JOB_SIZES.query,
  check(m) {
    if (!isBytes(m.jobId, 32)) return fieldError('jobId', 'must be 32 bytes');
    if (!isEnum(JOB_QUERY_CODES, m.what)) return fieldError('what', "must be 'status', 'receipt', 'output' or 'cancel'");
    if (!isEnum(OUTPUT_STREAM_CODES, m.stream)) return fieldError('stream', "must be 'stdout' or 'stderr'");
    return isU32(m.fromChunk) ? null : fieldError('fromChunk', 'must be a u32');
  },
  size: () => JOB_SIZES.query - 1,
  write(w, m) {
    w.bytes(m.jobId);
    w.u8(JOB_QUERY_CODES[m.what]);
    w.u8(OUTPUT_STREAM_CODES[m.stream]);
    w.u32(m.fromChunk);
  },
  read(r) {
    const jobId = r.bytes(32, 'jobId');
    const what = readEnum(r, QUERY_BY_CODE, 'what');
    const stream = readEnum(r, STREAM_BY_CODE, 'stream');
    const fromChunk = r.u32('fromChunk');
    return { type: 'job-query', jobId, what, stream, fromChunk };
  },
};

export const JOB_RECEIPT: LayoutSpec<JobReceiptMessage> = {
  kind: KIND_JOB_RECEIPT,
  name: 'JOB_RECEIPT',
  packable: false,
  maxBody: JOB_SIZES.receipt,
  check(m) {
    for (const k of ['jobId', 'specHash', 'imageId', 'provider', 'stdoutHash', 'stderrHash'] as const) {
      if (!isBytes(m[k], 32)) return fieldError(k, 'must be 32 bytes');
    }
    for (const k of ['start', 'end', 'stdoutBytes', 'stderrBytes', 'cpuMillis', 'peakMemoryBytes'] as const) {
      if (!isU64(m[k])) return fieldError(k, 'must be a u64 below 2^53');
    }
    const k = killProblem(m.state, m.killReason);
    if (k !== null) return k;
    if (!FINAL_JOB_STATES.includes(m.state)) return fieldError('state', "must be 'exited', 'killed' or 'failed'");
    if (!isI32(m.exitCode)) return fieldError('exitCode', 'must be an i32');
    return isBytes(m.signature, 64) ? null : fieldError('signature', 'must be 64 bytes');
  },
  size: () => JOB_SIZES.receipt - 1,
  write(w, m) {
    w.bytes(m.jobId);
    w.bytes(m.specHash);
    w.bytes(m.imageId);
    w.bytes(m.provider);
    w.u64(m.start);
    w.u64(m.end);
    w.u8(JOB_STATE_CODES[m.state]);
    w.u8(KILL_REASON_CODES[m.killReason]);
    w.i32(m.exitCode);
    w.bytes(m.stdoutHash);
    w.u64(m.stdoutBytes);
    w.bytes(m.stderrHash);
    w.u64(m.stderrBytes);
    w.u64(m.cpuMillis);
    w.u64(m.peakMemoryBytes);
    w.bytes(m.signature);
  },
  read(r) {
    const jobId = r.bytes(32, 'jobId');
    const specHash = r.bytes(32, 'specHash');
    const imageId = r.bytes(32, 'imageId');
    const provider = r.bytes(32, 'provider');
    const start = r.u64('start');
    const end = r.u64('end');
    const { state, killReason } = readStateAndKill(r);
    if (!FINAL_JOB_STATES.includes(state)) throw new DecodeStop('field', 'state');
    const exitCode = r.i32('exitCode');
    const stdoutHash = r.bytes(32, 'stdoutHash');
    const stdoutBytes = r.u64('stdoutBytes');
    const stderrHash = r.bytes(32, 'stderrHash');
    const stderrBytes = r.u64('stderrBytes');
    const cpuMillis = r.u64('cpuMillis');
    const peakMemoryBytes = r.u64('peakMemoryBytes');
    const signature = r.bytes(64, 'signature');
    return {
      type: 'job-receipt',
      jobId,
      specHash,
      imageId,
      provider,
      start,
      end,
      state,
      killReason,
      exitCode,
      stdoutHash,
      stdoutBytes,
      stderrHash,
      stderrBytes,
      cpuMillis,
      peakMemoryBytes,
      signature,
    };
  },
};

export const JOB_OUTPUT: LayoutSpec<JobOutputMessage> = {
  kind: KIND_JOB_OUTPUT,
  name: 'JOB_OUTPUT',
  packable: false,
  maxBody: JOB_SIZES.outputFixed + MAX_OUTPUT_CHUNK_BYTES,
  check(m) {
    if (!isBytes(m.jobId, 32)) return fieldError('jobId', 'must be 32 bytes');
    if (!isEnum(OUTPUT_STREAM_CODES, m.stream)) return fieldError('stream', "must be 'stdout' or 'stderr'");
    if (!isU32(m.index) || !isU32(m.total) || m.total < 1 || m.index >= m.total) return fieldError('index', 'must satisfy index < total, both u32');
    if (!isBytes(m.next, 32)) return fieldError('next', 'must be 32 bytes');
    if (!(m.data instanceof Uint8Array)) return fieldError('data', 'must be bytes');
    if (m.data.length > MAX_OUTPUT_CHUNK_BYTES) return new WireEncodeError('length', 'data', `data exceeds ${MAX_OUTPUT_CHUNK_BYTES} bytes`);
    return null;
  },
  size: (m) => JOB_SIZES.outputFixed - 1 + m.data.length,
  write(w, m) {
    w.bytes(m.jobId);
    w.u8(OUTPUT_STREAM_CODES[m.stream]);
    w.u32(m.index);
    w.u32(m.total);
    w.bytes(m.next);
    w.u16(m.data.length);
    w.bytes(m.data);
  },
  read(r) {
    const jobId = r.bytes(32, 'jobId');
    const stream = readEnum(r, STREAM_BY_CODE, 'stream');
    const index = r.u32('index');
    const total = r.u32('total');
    if (total < 1 || index >= total) throw new DecodeStop('field', 'index');
    const next = r.bytes(32, 'next');
    const n = r.length(MAX_OUTPUT_CHUNK_BYTES, 'data');
    const data = r.bytes(n, 'data');
    return { type: 'job-output', jobId, stream, index, total, next, data };
  },
};

// ---------------------------------------------------------------------------------------------
// Signatures, job id, output chain.

export type SignedJobMessage = JobOfferMessage | JobSubmitMessage | JobReceiptMessage;

const SIGNED_SPECS = {
  'job-offer': { spec: JOB_OFFER, domain: DOMAIN_JOB_OFFER },
  'job-submit': { spec: JOB_SUBMIT, domain: DOMAIN_JOB_SPEC },
  'job-receipt': { spec: JOB_RECEIPT, domain: DOMAIN_JOB_RECEIPT },
} as const;

/** version ‖ fields without the trailing signature. Throws WireEncodeError on a malformed message. */
function unsignedBody(m: SignedJobMessage): Uint8Array {
  const { spec } = SIGNED_SPECS[m.type];
  const withSig = { ...m, signature: m.signature ?? new Uint8Array(64) } as never;
  const problem = (spec as LayoutSpec<SignedJobMessage>).check(withSig);
  if (problem !== null) throw problem;
  const size = 1 + (spec as LayoutSpec<SignedJobMessage>).size(withSig);
  if (size > MAX_BODY_BYTES) throw new WireEncodeError('too_large', 'message', `${spec.name} does not fit one frame`);
  const out = new Uint8Array(size);
  const w = new Writer(out);
  w.u8(1);
  (spec as LayoutSpec<SignedJobMessage>).write(w, withSig);
  return out.subarray(0, size - 64);
}

/** `"ec/job-<offer|spec|receipt>/v1" ‖ network_id u64 ‖ body without the signature`. */
export function jobSigningMessage(networkId: bigint, m: SignedJobMessage): Uint8Array {
  if (typeof networkId !== 'bigint' || networkId < 0n || networkId >= 1n << 64n) throw fieldError('networkId', 'must be a u64');
  const { domain } = SIGNED_SPECS[m.type];
  const body = unsignedBody(m);
  const out = new Uint8Array(domain.length + 8 + body.length);
  out.set(domain, 0);
  new DataView(out.buffer).setBigUint64(domain.length, networkId, false);
  out.set(body, domain.length + 8);
  return out;
}

/** The signer's key: the offer's and receipt's provider, the spec's client. */
export function jobSignerKey(m: SignedJobMessage): Uint8Array {
  return m.type === 'job-submit' ? m.client : m.provider;
}

/** Signs an offer, spec or receipt (its `signature` field is ignored and replaced). */
export function signJobMessage<M extends SignedJobMessage>(signer: Ed25519Signer, networkId: bigint, m: M): M {
  const key = jobSignerKey(m);
  if (!(key instanceof Uint8Array) || key.length !== 32 || !signer.publicKey.every((b, i) => b === key[i])) {
    throw new RangeError('the signer does not hold the message’s signing key');
  }
  return { ...m, signature: signer.sign(jobSigningMessage(networkId, m)) };
}

/** True when the message's signature verifies for its signer key. Never throws. */
export function verifyJobMessage(ed25519: Ed25519Kernel, networkId: bigint, m: SignedJobMessage): boolean {
  try {
    if (!isBytes(m.signature, 64)) return false;
    return ed25519.verify(m.signature, jobSigningMessage(networkId, m), jobSignerKey(m));
  } catch {
    return false;
  }
}

/** job id = BLAKE3(JOB_SUBMIT body without its signature) = BLAKE3(version ‖ spec ‖ client pk ‖ nonce). */
export function jobId(blake3: Blake3Kernel, m: JobSubmitMessage): Uint8Array {
  return blake3.hash(unsignedBody(m));
}

const ZERO32 = new Uint8Array(32);

/** h = BLAKE3("ec/job-output/v1" ‖ data ‖ next). */
export function outputChunkHash(blake3: Blake3Kernel, data: Uint8Array, next: Uint8Array): Uint8Array {
  const buf = new Uint8Array(DOMAIN_JOB_OUTPUT.length + data.length + 32);
  buf.set(DOMAIN_JOB_OUTPUT, 0);
  buf.set(data, DOMAIN_JOB_OUTPUT.length);
  buf.set(next, DOMAIN_JOB_OUTPUT.length + data.length);
  return blake3.hash(buf);
}

/**
 * Splits a stream into JOB_OUTPUT chunks of at most `chunkBytes` and links them backwards: returns
 * the chain root h_0 (the receipt's stream hash) and the chunks in order. An empty stream is one
 * empty chunk.
 */
export function outputChain(
  blake3: Blake3Kernel,
  jobIdBytes: Uint8Array,
  stream: OutputStream,
  output: Uint8Array,
  chunkBytes: number = MAX_OUTPUT_CHUNK_BYTES,
): { readonly root: Uint8Array; readonly chunks: readonly JobOutputMessage[] } {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_OUTPUT_CHUNK_BYTES) throw new RangeError(`chunk size must be 1..${MAX_OUTPUT_CHUNK_BYTES}`);
  const total = Math.max(1, Math.ceil(output.length / chunkBytes));
  const chunks = new Array<JobOutputMessage>(total);
  let next: Uint8Array = ZERO32;
  for (let i = total - 1; i >= 0; i--) {
    const data = output.slice(i * chunkBytes, Math.min(output.length, (i + 1) * chunkBytes));
    chunks[i] = { type: 'job-output', jobId: jobIdBytes, stream, index: i, total, next, data };
    next = outputChunkHash(blake3, data, next);
  }
  return { root: next, chunks };
}

/**
 * Checks one chunk against the hash expected for it (h_0 from the receipt for chunk 0, then each
 * chunk's `next`); returns the hash expected for the following chunk, or null when it does not match.
 */
export function verifyOutputChunk(blake3: Blake3Kernel, expected: Uint8Array, chunk: JobOutputMessage): Uint8Array | null {
  const h = outputChunkHash(blake3, chunk.data, chunk.next);
  if (h.length !== expected.length || !h.every((b, i) => b === expected[i])) return null;
  const last = chunk.index === chunk.total - 1;
  if (last !== chunk.next.every((b) => b === 0)) return null;
  return chunk.next;
}
