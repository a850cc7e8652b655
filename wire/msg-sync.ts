/**
 * Layouts of the sync messages (PROTOCOL §6; consensus/sync.ts): one range per message, so every
 * ask gets exactly one reply and each fits a frame whatever the range holds. Blocks are then
 * fetched with QUERY_BLOCK under the session's ticket.
 *
 *   SYNC_ASK    version ‖ ticket 16 ‖ lo 32 ‖ hi 32 ‖ count u32 ‖ fingerprint 8 ‖
 *               have count u32 (0..16) ‖ have × 8
 *   SYNC_REPLY  version ‖ ticket 16 ‖ lo 32 ‖ hi 32 ‖ form u8 ‖ form's fields
 *                 form 0 same   (nothing)
 *                 form 1 items  count u32 (0..16) ‖ count × (token 32 ‖ block 32)
 *                 form 2 parts  16 × (count u32 ‖ fingerprint 8)
 *
 * A range is (lo, hi] with lo < hi (a wrapping arc travels as two ranges); any other pair is
 * `field` (REJECT).
 */
import { SYNC, type RangeAsk, type RangeReply, type Summary, type SyncItem } from '../consensus/sync.js';
import { COUNT_BYTES, DecodeStop, FIELD_SIZES, countProblem, fieldError, isBytes } from './msg-common.js';
import type { LayoutSpec, Reader, WireEncodeError, Writer } from './msg-common.js';

export const KIND_SYNC_ASK = 35;
export const KIND_SYNC_REPLY = 36;

/** One range of P's arc with P's summary of it (consensus/sync.ts `ask`, `learn`). */
export interface SyncAskMessage {
  readonly type: 'sync-ask';
  /** The session's ticket: replies and block fetches carry it. */
  readonly ticket: Uint8Array;
  readonly ask: RangeAsk;
}

/** Q's reply to one SYNC_ASK (consensus/sync.ts `answer`). */
export interface SyncReplyMessage {
  readonly type: 'sync-reply';
  readonly ticket: Uint8Array;
  readonly reply: RangeReply;
}

export const SYNC_FORM = { same: 0, items: 1, parts: 2 } as const;

const FP = SYNC.fingerprintBytes;

export const SYNC_SIZES = {
  /** version ‖ ticket ‖ lo ‖ hi ‖ count ‖ fingerprint ‖ have count */
  askHeader: 1 + 16 + 32 + 32 + 4 + FP + COUNT_BYTES,
  /** version ‖ ticket ‖ lo ‖ hi ‖ form */
  replyHeader: 1 + 16 + 32 + 32 + 1,
  item: 64,
  part: 4 + FP,
} as const;

export const SYNC_OFFSETS = {
  ask: { version: 0, ticket: 1, lo: 17, hi: 49, count: 81, fingerprint: 85, haveCount: 93, have: 97 },
  reply: { version: 0, ticket: 1, lo: 17, hi: 49, form: 81, fields: 82 },
} as const;

/** Whether lo < hi as 32-byte big-endian numbers. */
function below(lo: Uint8Array, hi: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (lo[i] !== hi[i]) return (lo[i] as number) < (hi[i] as number);
  return false;
}

function rangeProblem(lo: Uint8Array, hi: Uint8Array, field: string): WireEncodeError | null {
  if (!isBytes(lo, FIELD_SIZES.token) || !isBytes(hi, FIELD_SIZES.token)) return fieldError(field, 'bounds must be 32 bytes');
  return below(lo, hi) ? null : fieldError(field, 'lo must be below hi');
}

function summaryProblem(s: Summary | undefined, field: string): WireEncodeError | null {
  if (s === null || typeof s !== 'object') return fieldError(field, 'must be a summary');
  if (!Number.isInteger(s.count) || s.count < 0 || s.count > 0xffff_ffff) return fieldError(`${field}.count`, 'must be a u32');
  return isBytes(s.fingerprint, FP) ? null : fieldError(`${field}.fingerprint`, `must be ${FP} bytes`);
}

function readRange(r: Reader): { lo: Uint8Array; hi: Uint8Array } {
  const lo = r.bytes(32, 'lo');
  const hi = r.bytes(32, 'hi');
  if (!below(lo, hi)) throw new DecodeStop('field', 'hi');
  return { lo, hi };
}

export const SYNC_ASK: LayoutSpec<SyncAskMessage> = {
  kind: KIND_SYNC_ASK,
  name: 'SYNC_ASK',
  packable: true,
  maxBody: SYNC_SIZES.askHeader + SYNC.leafItems * FP,
  check(m) {
    if (!isBytes(m.ticket, FIELD_SIZES.ticket)) return fieldError('ticket', 'must be 16 bytes');
    const a = m.ask;
    if (a === null || typeof a !== 'object') return fieldError('ask', 'must be a range ask');
    const p = rangeProblem(a.lo, a.hi, 'ask') ?? summaryProblem(a, 'ask') ?? countProblem(a.have, 0, SYNC.leafItems, 'ask.have');
    if (p !== null) return p;
    return a.have.every((h) => isBytes(h, FP)) ? null : fieldError('ask.have', `must hold ${FP}-byte hashes`);
  },
  size: (m) => SYNC_SIZES.askHeader - 1 + FP * m.ask.have.length,
  write(w, m) {
    w.bytes(m.ticket);
    w.bytes(m.ask.lo);
    w.bytes(m.ask.hi);
    w.u32(m.ask.count);
    w.bytes(m.ask.fingerprint);
    w.u32(m.ask.have.length);
    for (const h of m.ask.have) w.bytes(h);
  },
  read(r) {
    const ticket = r.bytes(16, 'ticket');
    const { lo, hi } = readRange(r);
    const count = r.u32('count');
    const fingerprint = r.bytes(FP, 'fingerprint');
    const n = r.count(0, SYNC.leafItems, FP, 'have');
    const have: Uint8Array[] = [];
    for (let i = 0; i < n; i++) have.push(r.bytes(FP, 'have'));
    return { type: 'sync-ask', ticket, ask: { lo, hi, count, fingerprint, have } };
  },
};

function replyProblem(x: RangeReply): WireEncodeError | null {
  if (x === null || typeof x !== 'object' || x.range === null || typeof x.range !== 'object') return fieldError('reply', 'must be a range reply');
  const p = rangeProblem(x.range.lo, x.range.hi, 'reply.range');
  if (p !== null) return p;
  if (x.kind === 'same') return null;
  if (x.kind === 'items') {
    const c = countProblem(x.items, 0, SYNC.leafItems, 'reply.items');
    if (c !== null) return c;
    return x.items.every((it) => it !== null && typeof it === 'object' && isBytes(it.token, 32) && isBytes(it.block, 32)) ? null : fieldError('reply.items', 'must hold (token, block) pairs of 32 bytes');
  }
  if (x.kind === 'parts') {
    if (!Array.isArray(x.parts) || x.parts.length !== SYNC.branch) return fieldError('reply.parts', `must hold ${SYNC.branch} summaries`);
    for (const s of x.parts) {
      const q = summaryProblem(s, 'reply.parts');
      if (q !== null) return q;
    }
    return null;
  }
  return fieldError('reply.kind', "must be 'same', 'items' or 'parts'");
}

function writeReply(w: Writer, x: RangeReply): void {
  w.u8(SYNC_FORM[x.kind]);
  if (x.kind === 'items') {
    w.u32(x.items.length);
    for (const it of x.items) {
      w.bytes(it.token);
      w.bytes(it.block);
    }
  } else if (x.kind === 'parts') {
    for (const s of x.parts) {
      w.u32(s.count);
      w.bytes(s.fingerprint);
    }
  }
}

export const SYNC_REPLY: LayoutSpec<SyncReplyMessage> = {
  kind: KIND_SYNC_REPLY,
  name: 'SYNC_REPLY',
  packable: true,
  maxBody: SYNC_SIZES.replyHeader + COUNT_BYTES + SYNC.leafItems * SYNC_SIZES.item,
  check(m) {
    if (!isBytes(m.ticket, FIELD_SIZES.ticket)) return fieldError('ticket', 'must be 16 bytes');
    return replyProblem(m.reply);
  },
  size(m) {
    const x = m.reply;
    const fields = x.kind === 'same' ? 0 : x.kind === 'items' ? COUNT_BYTES + SYNC_SIZES.item * x.items.length : SYNC.branch * SYNC_SIZES.part;
    return SYNC_SIZES.replyHeader - 1 + fields;
  },
  write(w, m) {
    w.bytes(m.ticket);
    w.bytes(m.reply.range.lo);
    w.bytes(m.reply.range.hi);
    writeReply(w, m.reply);
  },
  read(r) {
    const ticket = r.bytes(16, 'ticket');
    const range = readRange(r);
    const form = r.enumU8([SYNC_FORM.same, SYNC_FORM.items, SYNC_FORM.parts], 'form');
    if (form === SYNC_FORM.same) return { type: 'sync-reply', ticket, reply: { kind: 'same', range } };
    if (form === SYNC_FORM.items) {
      const n = r.count(0, SYNC.leafItems, SYNC_SIZES.item, 'items');
      const items: SyncItem[] = [];
      for (let i = 0; i < n; i++) items.push({ token: r.bytes(32, 'items.token'), block: r.bytes(32, 'items.block') });
      return { type: 'sync-reply', ticket, reply: { kind: 'items', range, items } };
    }
    const parts: Summary[] = [];
    for (let i = 0; i < SYNC.branch; i++) parts.push({ count: r.u32('parts.count'), fingerprint: r.bytes(FP, 'parts.fingerprint') });
    return { type: 'sync-reply', ticket, reply: { kind: 'parts', range, parts } };
  },
};
