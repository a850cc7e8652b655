/**
 * Every message of the wire protocol: the `WireMessage` union, the kind table, exact sizes, and
 * encode/decode of message bodies. Layouts live in wire/msg-*.ts; docs/wire.md → "Messages"
 * documents each one with a test vector printed by tools/wire-vectors.ts.
 *
 * A message travels as a frame plaintext `kind u8 ‖ body` (or packed, wire/frame.ts) where
 *
 *   body = version u8 (= 1) ‖ the kind's fields
 *
 * Decoding never throws: it returns `{ ok: true, message }` or a typed failure with its
 * consequence (IGNORE for an unknown kind or version, REJECT for malformed bytes). Counts and
 * lengths are checked against their caps and the remaining bytes before anything is allocated.
 * Encoding computes the exact size first; a message that breaks a cap or would not fit the
 * 1 370-byte plaintext is refused with a `WireEncodeError`.
 */
import { ANSWER, FRAUD_PROOF } from './msg-answer.js';
import type { AnswerMessage, FraudProofMessage } from './msg-answer.js';
import { BATCH, BLOCK, INITIAL_VOTE, QUERY_BLOCK, VOTE } from './msg-consensus.js';
import type { ConsensusWireMessage } from './msg-consensus.js';
import {
  DecodeStop,
  MAX_BODY_BYTES,
  MAX_MESSAGE_BYTES,
  Reader,
  WIRE_MESSAGE_VERSION,
  WireEncodeError,
  Writer,
  decodeFailure,
} from './msg-common.js';
import type { LayoutSpec, WireDecodeFailure } from './msg-common.js';
import { JOB_ACCEPT, JOB_OFFER, JOB_OUTPUT, JOB_QUERY, JOB_RECEIPT, JOB_REFUSE, JOB_STATUS, JOB_SUBMIT } from './msg-jobs.js';
import type { JobMessage } from './msg-jobs.js';
import { IDENTITY, PING, PONG, QUERY_TOKEN, REFERRAL } from './msg-peer.js';
import { SYNC_ASK, SYNC_REPLY } from './msg-sync.js';
import type { SyncAskMessage, SyncReplyMessage } from './msg-sync.js';
import type { IdentityMessage, PingMessage, PongMessage, QueryTokenMessage, ReferralMessage } from './msg-peer.js';

export * from './msg-common.js';
export * from './msg-consensus.js';
export * from './msg-peer.js';
export * from './msg-answer.js';
export * from './msg-jobs.js';
export * from './msg-sync.js';

/** Every message the wire carries. The consensus members are consensus/messages.ts's types. */
export type WireMessage =
  | PingMessage
  | PongMessage
  | IdentityMessage
  | ConsensusWireMessage
  | QueryTokenMessage
  | AnswerMessage
  | ReferralMessage
  | SyncAskMessage
  | SyncReplyMessage
  | FraudProofMessage
  | JobMessage;

export type WireMessageType = WireMessage['type'];

type SpecOf<T extends WireMessageType> = LayoutSpec<Extract<WireMessage, { type: T }>>;

/** The layout of every message type. */
export const LAYOUTS: { readonly [T in WireMessageType]: SpecOf<T> } = {
  ping: PING,
  pong: PONG,
  identity: IDENTITY,
  'initial-vote': INITIAL_VOTE,
  vote: VOTE,
  'query-block': QUERY_BLOCK,
  block: BLOCK,
  batch: BATCH,
  'query-token': QUERY_TOKEN,
  answer: ANSWER,
  referral: REFERRAL,
  'sync-ask': SYNC_ASK,
  'sync-reply': SYNC_REPLY,
  'fraud-proof': FRAUD_PROOF,
  'job-offer': JOB_OFFER,
  'job-submit': JOB_SUBMIT,
  'job-accept': JOB_ACCEPT,
  'job-refuse': JOB_REFUSE,
  'job-status': JOB_STATUS,
  'job-query': JOB_QUERY,
  'job-receipt': JOB_RECEIPT,
  'job-output': JOB_OUTPUT,
};

export const MESSAGE_TYPES = Object.keys(LAYOUTS) as WireMessageType[];

type AnySpec = LayoutSpec<WireMessage>;

const BY_KIND: readonly (AnySpec | undefined)[] = (() => {
  const t: (AnySpec | undefined)[] = new Array<AnySpec | undefined>(256).fill(undefined);
  for (const type of MESSAGE_TYPES) {
    const spec = LAYOUTS[type] as unknown as AnySpec;
    if (t[spec.kind] !== undefined) throw new Error(`duplicate message kind ${spec.kind}`);
    t[spec.kind] = spec;
  }
  return t;
})();

function specOf(m: WireMessage): AnySpec | undefined {
  if (m === null || typeof m !== 'object' || typeof m.type !== 'string' || !Object.hasOwn(LAYOUTS, m.type)) return undefined;
  return LAYOUTS[m.type] as unknown as AnySpec;
}

/** The spec of a kind byte, or undefined when the kind is unknown. */
export function layoutOfKind(kind: number): LayoutSpec<WireMessage> | undefined {
  return Number.isInteger(kind) && kind >= 0 && kind <= 255 ? BY_KIND[kind] : undefined;
}

/** The kind byte of a message type. */
export function kindOfType(type: WireMessageType): number {
  return LAYOUTS[type].kind;
}

/** True for the kinds that may share a frame (frame kind 0) with others. */
export function isPackableKind(kind: number): boolean {
  return layoutOfKind(kind)?.packable === true;
}

/**
 * Null when `m` can be encoded: known type, every field well-formed, every count within its cap,
 * and the body within 1 369 bytes. Never throws.
 */
export function checkMessage(m: WireMessage): WireEncodeError | null {
  const spec = specOf(m);
  if (spec === undefined) return new WireEncodeError('kind', 'type', 'unknown message type');
  let problem: WireEncodeError | null;
  try {
    problem = spec.check(m);
  } catch (err) {
    return new WireEncodeError('field', 'message', `malformed message: ${String((err as Error)?.message ?? err)}`);
  }
  if (problem !== null) return problem;
  const body = 1 + spec.size(m);
  if (body > MAX_BODY_BYTES) return new WireEncodeError('too_large', 'message', `${spec.name} body is ${body} bytes, the limit is ${MAX_BODY_BYTES}`);
  return null;
}

/** Exact body size (version byte included) of a valid message, or −1 when it cannot be encoded. Never throws. */
export function bodySize(m: WireMessage): number {
  if (checkMessage(m) !== null) return -1;
  return 1 + (specOf(m) as AnySpec).size(m);
}

/** Exact encoded size, kind byte included (≤ 1 370), or −1 when `m` cannot be encoded. Never throws. */
export function encodedSize(m: WireMessage): number {
  const b = bodySize(m);
  return b < 0 ? -1 : 1 + b;
}

/** Writes the body into `out` (exactly its body size). Throws WireEncodeError for an invalid message. */
export function encodeBodyInto(m: WireMessage, out: Uint8Array): void {
  const problem = checkMessage(m);
  if (problem !== null) throw problem;
  const spec = specOf(m) as AnySpec;
  const size = 1 + spec.size(m);
  if (out.length !== size) throw new WireEncodeError('field', 'out', `body buffer must be ${size} bytes, is ${out.length}`);
  const w = new Writer(out);
  w.u8(WIRE_MESSAGE_VERSION);
  spec.write(w, m);
  if (w.offset !== size) throw new Error(`${spec.name}: wrote ${w.offset} bytes, sized ${size} (codec bug)`);
}

/** The body of a message (version ‖ fields). Throws WireEncodeError for an invalid message. */
export function encodeBody(m: WireMessage): Uint8Array {
  const problem = checkMessage(m);
  if (problem !== null) throw problem;
  const out = new Uint8Array(1 + (specOf(m) as AnySpec).size(m));
  encodeBodyInto(m, out);
  return out;
}

/** kind ‖ body: one unpacked frame plaintext. Throws WireEncodeError for an invalid message. */
export function encodeMessage(m: WireMessage): Uint8Array {
  const problem = checkMessage(m);
  if (problem !== null) throw problem;
  const spec = specOf(m) as AnySpec;
  const out = new Uint8Array(2 + spec.size(m));
  out[0] = spec.kind;
  encodeBodyInto(m, out.subarray(1));
  return out;
}

export type WireDecodeResult = { readonly ok: true; readonly message: WireMessage } | WireDecodeFailure;

/**
 * Decodes the body of a message of `kind`. Never throws. The result copies every byte it keeps,
 * so `body` may be a view of a reused buffer.
 */
export function decodeBody(kind: number, body: Uint8Array): WireDecodeResult {
  try {
    const spec = layoutOfKind(kind);
    if (spec === undefined) return decodeFailure('kind', 'kind');
    if (!(body instanceof Uint8Array)) return decodeFailure('internal', 'body');
    // No message of any kind is longer than the frame allows: a longer body is never parsed.
    if (body.length > spec.maxBody) return decodeFailure('length', 'body');
    if (body.length < 1) return decodeFailure('short', 'version');
    if (body[0] !== WIRE_MESSAGE_VERSION) return decodeFailure('version', 'version');
    const r = new Reader(body.subarray(1));
    const message = spec.read(r);
    r.end();
    return { ok: true, message };
  } catch (err) {
    if (err instanceof DecodeStop) return decodeFailure(err.code, err.field);
    return decodeFailure('internal', 'decoder');
  }
}

/** Decodes one unpacked plaintext `kind ‖ body`. Never throws. */
export function decodeMessage(bytes: Uint8Array): WireDecodeResult {
  if (!(bytes instanceof Uint8Array) || bytes.length < 1) return decodeFailure('short', 'kind');
  if (bytes.length > MAX_MESSAGE_BYTES) return decodeFailure('length', 'message');
  return decodeBody(bytes[0]!, bytes.subarray(1));
}
