/**
 * Layouts of the consensus messages (PROTOCOL §5.2, §5.4). The typed values are those of
 * consensus/messages.ts, unchanged: the consensus core consumes decoded messages directly.
 *
 *   INITIAL_VOTE  version ‖ pos u8 ‖ neg u8 ‖ origin 32 ‖ covered 32 ‖ signed block
 *                 (signed block last; covered: the cover filter, wire/cover.ts)
 *   VOTE          version ‖ block id 32 ‖ pos u8 ‖ neg u8 ‖ flags u8 (bit 0 reply)
 *   QUERY_BLOCK   version ‖ block id 32 ‖ ticket 16
 *   BLOCK         version ‖ ticket 16 ‖ signed block                     (signed block last)
 *   BATCH         version ‖ count u32 (1..27) ‖ count × (item kind u8 ‖ VOTE | QUERY_BLOCK
 *                 fields without their version byte)
 *
 * A vote is two masks: bit i of `pos` is `+` on entry i, bit i of `neg` is `−`, neither is `0`;
 * bits 6–7 mark the block-level states (committed, rejected). The codec encodes and decodes
 * exactly the pairs `validMasks` (consensus/messages.ts) accepts, the one definition of a
 * well-formed vote; any other pair is `field` (REJECT).
 *
 * The signed block is wire/block.ts's canonical encoding; it is self-delimiting but is decoded
 * with an exact length, so it always ends the body.
 */
import type {
  BatchItem,
  BlockMessage,
  InitialVoteMessage,
  QueryBlockMessage,
  RequestBatchMessage,
  VoteMessage,
} from '../consensus/messages.js';
import { validMasks } from './vote.js';
import { COVER_BYTES } from './cover.js';
import { BLOCK_OFFSETS, BLOCK_SIZES, checkBlockStructure, decodeSignedBlock, encodeSignedBlock, encodedSignedBlockSize } from './block.js';
import {
  COUNT_BYTES,
  DecodeStop,
  FIELD_SIZES,
  MAX_BODY_BYTES,
  countProblem,
  fieldError,
  isBytes,
  isU8,
} from './msg-common.js';
import type { LayoutSpec, Reader, WireEncodeError, Writer } from './msg-common.js';

export const KIND_INITIAL_VOTE = 16;
export const KIND_VOTE = 17;
export const KIND_QUERY_BLOCK = 18;
export const KIND_BLOCK = 19;
export const KIND_BATCH = 20;

export const VOTE_FLAG_REPLY = 0x01;

export const CONSENSUS_SIZES = {
  /** version ‖ pos ‖ neg ‖ origin ‖ covered, then the signed block */
  initialVoteHeader: 1 + 1 + 1 + 32 + COVER_BYTES,
  /** version ‖ block id ‖ pos ‖ neg ‖ flags */
  vote: 1 + 32 + 1 + 1 + 1,
  /** version ‖ block id ‖ ticket */
  queryBlock: 1 + 32 + 16,
  /** version ‖ ticket, then the signed block */
  blockHeader: 1 + 16,
  /** version ‖ count */
  batchHeader: 1 + COUNT_BYTES,
  /** item kind ‖ block id ‖ pos ‖ neg ‖ flags */
  batchVoteItem: 1 + 32 + 1 + 1 + 1,
  /** item kind ‖ block id ‖ ticket */
  batchQueryBlockItem: 1 + 32 + 16,
} as const;

/**
 * Items per BATCH: the most QUERY_BLOCK items (49 bytes, larger than a 36-byte vote item) that
 * fit one body, floor((1 369 − 5) / 49) = 27, so any mix of 27 items fits. The consensus param
 * `maxBatchItems` (24) must not exceed it.
 */
export const MAX_BATCH_ITEMS = Math.floor((MAX_BODY_BYTES - CONSENSUS_SIZES.batchHeader) / CONSENSUS_SIZES.batchQueryBlockItem);

export const CONSENSUS_OFFSETS = {
  initialVote: { version: 0, pos: 1, neg: 2, origin: 3, covered: 35, signedBlock: 67 },
  vote: { version: 0, blockId: 1, pos: 33, neg: 34, flags: 35 },
  queryBlock: { version: 0, blockId: 1, ticket: 33 },
  block: { version: 0, ticket: 1, signedBlock: 17 },
  batch: { version: 0, count: 1, items: 5 },
} as const;

function signedBlockProblem(m: { readonly block: unknown; readonly signatures: unknown }): WireEncodeError | null {
  const block = m.block as InitialVoteMessage['block'] | undefined;
  if (block === null || typeof block !== 'object' || !Array.isArray(block.entries) || !Array.isArray(m.signatures)) {
    return fieldError('block', 'must be a block with signatures');
  }
  const code = checkBlockStructure(block, m.signatures as InitialVoteMessage['signatures']);
  return code === null ? null : fieldError('block', `is malformed (${code})`);
}

/** Field names of a signed block's bytes, for traced reads (docs/wire.md vectors). */
function signedBlockParts(v: Uint8Array): [string, number][] {
  const parts: [string, number][] = [
    ['version', 1],
    ['time', 8],
    ['entry count', 1],
  ];
  const n = v[BLOCK_OFFSETS.count] ?? 0;
  for (let i = 0; i < n; i++) parts.push([`entries[${i}].token`, 32], [`entries[${i}].last`, 32], [`entries[${i}].nextKeyHash`, 32]);
  const s = v[BLOCK_SIZES.header + BLOCK_SIZES.entry * n] ?? 0;
  parts.push(['signature count', 1]);
  for (let j = 0; j < s; j++) parts.push([`signatures[${j}].index`, 1], [`signatures[${j}].publicKey`, 32], [`signatures[${j}].signature`, 64]);
  return parts;
}

function readSignedBlock(r: Reader): { block: InitialVoteMessage['block']; signatures: InitialVoteMessage['signatures'] } {
  const view = r.restView('block', signedBlockParts);
  if (view.length < BLOCK_SIZES.minSigned) throw new DecodeStop('short', 'block');
  const d = decodeSignedBlock(view);
  if (!d.ok) throw new DecodeStop(d.code === 'short' ? 'short' : 'block', 'block');
  return { block: d.signed.block, signatures: d.signed.signatures };
}

/** The pair is reported on `neg`, the byte whose reading shows it malformed. */
function masksProblem(m: { readonly pos: unknown; readonly neg: unknown }): WireEncodeError | null {
  if (!isU8(m.pos)) return fieldError('pos', 'must be a u8');
  if (!isU8(m.neg)) return fieldError('neg', 'must be a u8');
  if (!validMasks(m.pos, m.neg)) {
    return fieldError('neg', 'must be disjoint from pos, with bits 6–7 set only in a committed or rejected vote');
  }
  return null;
}

function writeMasks(w: Writer, m: { readonly pos: number; readonly neg: number }): void {
  w.u8(m.pos);
  w.u8(m.neg);
}

function readMasks(r: Reader): { pos: number; neg: number } {
  const pos = r.u8('pos');
  const neg = r.u8('neg');
  if (!validMasks(pos, neg)) throw new DecodeStop('field', 'neg');
  return { pos, neg };
}

export const INITIAL_VOTE: LayoutSpec<InitialVoteMessage> = {
  kind: KIND_INITIAL_VOTE,
  name: 'INITIAL_VOTE',
  packable: true,
  maxBody: CONSENSUS_SIZES.initialVoteHeader + BLOCK_SIZES.maxSigned,
  check(m) {
    const p = masksProblem(m);
    if (p !== null) return p;
    if (!isBytes(m.origin, FIELD_SIZES.address)) return fieldError('origin', 'must be 32 bytes');
    if (!isBytes(m.covered, COVER_BYTES)) return fieldError('covered', `must be ${COVER_BYTES} bytes`);
    return signedBlockProblem(m);
  },
  size: (m) => CONSENSUS_SIZES.initialVoteHeader - 1 + encodedSignedBlockSize(m),
  write(w, m) {
    writeMasks(w, m);
    w.bytes(m.origin);
    w.bytes(m.covered);
    w.bytes(encodeSignedBlock(m));
  },
  read(r) {
    const { pos, neg } = readMasks(r);
    const origin = r.bytes(32, 'origin');
    const covered = r.bytes(COVER_BYTES, 'covered');
    const { block, signatures } = readSignedBlock(r);
    return { type: 'initial-vote', block, signatures, pos, neg, origin, covered };
  },
};

function voteProblem(m: VoteMessage): WireEncodeError | null {
  if (!isBytes(m.blockId, FIELD_SIZES.id)) return fieldError('blockId', 'must be 32 bytes');
  const p = masksProblem(m);
  if (p !== null) return p;
  if (typeof m.reply !== 'boolean') return fieldError('reply', 'must be a boolean');
  return null;
}

function writeVote(w: Writer, m: VoteMessage): void {
  w.bytes(m.blockId);
  writeMasks(w, m);
  w.u8(m.reply ? VOTE_FLAG_REPLY : 0);
}

function readVote(r: Reader): VoteMessage {
  const blockId = r.bytes(32, 'blockId');
  const { pos, neg } = readMasks(r);
  const flags = r.flags(VOTE_FLAG_REPLY, 'flags');
  return { type: 'vote', blockId, pos, neg, reply: (flags & VOTE_FLAG_REPLY) !== 0 };
}

export const VOTE: LayoutSpec<VoteMessage> = {
  kind: KIND_VOTE,
  name: 'VOTE',
  packable: true,
  maxBody: CONSENSUS_SIZES.vote,
  check: voteProblem,
  size: () => CONSENSUS_SIZES.vote - 1,
  write: writeVote,
  read: readVote,
};

function queryBlockProblem(m: QueryBlockMessage): WireEncodeError | null {
  if (!isBytes(m.blockId, FIELD_SIZES.id)) return fieldError('blockId', 'must be 32 bytes');
  if (!isBytes(m.ticket, FIELD_SIZES.ticket)) return fieldError('ticket', 'must be 16 bytes');
  return null;
}

function writeQueryBlock(w: Writer, m: QueryBlockMessage): void {
  w.bytes(m.blockId);
  w.bytes(m.ticket);
}

function readQueryBlock(r: Reader): QueryBlockMessage {
  const blockId = r.bytes(32, 'blockId');
  const ticket = r.bytes(16, 'ticket');
  return { type: 'query-block', blockId, ticket };
}

export const QUERY_BLOCK: LayoutSpec<QueryBlockMessage> = {
  kind: KIND_QUERY_BLOCK,
  name: 'QUERY_BLOCK',
  packable: true,
  maxBody: CONSENSUS_SIZES.queryBlock,
  check: queryBlockProblem,
  size: () => CONSENSUS_SIZES.queryBlock - 1,
  write: writeQueryBlock,
  read: readQueryBlock,
};

export const BLOCK: LayoutSpec<BlockMessage> = {
  kind: KIND_BLOCK,
  name: 'BLOCK',
  packable: true,
  maxBody: CONSENSUS_SIZES.blockHeader + BLOCK_SIZES.maxSigned,
  check(m) {
    if (!isBytes(m.ticket, FIELD_SIZES.ticket)) return fieldError('ticket', 'must be 16 bytes');
    return signedBlockProblem(m);
  },
  size: (m) => FIELD_SIZES.ticket + encodedSignedBlockSize(m),
  write(w, m) {
    w.bytes(m.ticket);
    w.bytes(encodeSignedBlock(m));
  },
  read(r) {
    const ticket = r.bytes(16, 'ticket');
    const { block, signatures } = readSignedBlock(r);
    return { type: 'block', block, signatures, ticket };
  },
};

function batchItemSize(i: BatchItem): number {
  return i.type === 'vote' ? CONSENSUS_SIZES.batchVoteItem : CONSENSUS_SIZES.batchQueryBlockItem;
}

export const BATCH: LayoutSpec<RequestBatchMessage> = {
  kind: KIND_BATCH,
  name: 'BATCH',
  packable: true,
  maxBody: CONSENSUS_SIZES.batchHeader + MAX_BATCH_ITEMS * CONSENSUS_SIZES.batchQueryBlockItem,
  check(m) {
    const p = countProblem(m.items, 1, MAX_BATCH_ITEMS, 'items');
    if (p !== null) return p;
    for (const i of m.items) {
      if (i === null || typeof i !== 'object') return fieldError('items', 'must hold votes and block queries');
      if (i.type === 'vote') {
        const q = voteProblem(i);
        if (q !== null) return q;
      } else if (i.type === 'query-block') {
        const q = queryBlockProblem(i);
        if (q !== null) return q;
      } else {
        return fieldError('items', 'must hold only votes and block queries');
      }
    }
    return null;
  },
  size: (m) => COUNT_BYTES + m.items.reduce((s, i) => s + batchItemSize(i), 0),
  write(w, m) {
    w.u32(m.items.length);
    for (const i of m.items) {
      if (i.type === 'vote') {
        w.u8(KIND_VOTE);
        writeVote(w, i);
      } else {
        w.u8(KIND_QUERY_BLOCK);
        writeQueryBlock(w, i);
      }
    }
  },
  read(r) {
    const n = r.count(1, MAX_BATCH_ITEMS, CONSENSUS_SIZES.batchVoteItem, 'items');
    const items: BatchItem[] = [];
    for (let i = 0; i < n; i++) {
      const kind = r.enumU8([KIND_VOTE, KIND_QUERY_BLOCK] as const, 'items.kind');
      items.push(kind === KIND_VOTE ? readVote(r) : readQueryBlock(r));
    }
    return { type: 'batch', items };
  },
};

export type ConsensusWireMessage = InitialVoteMessage | VoteMessage | QueryBlockMessage | BlockMessage | RequestBatchMessage;
