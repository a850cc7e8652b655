/**
 * Consensus messages (PROTOCOL §5.2, §5.4) as plain typed data. Byte codecs belong to the wire
 * layer (wire/msg-consensus.ts); `messageSizeBound` gives the size each message has there (kind
 * byte + fields), so batching keeps every frame under the 1 370-byte message cap (§3).
 *
 * A vote is a pair of masks, three-valued per entry (votes.ts): `+` in `pos`, `−` in `neg`,
 * `0` in neither; bits 6 and 7 mark the block-level states committed (pos 0xC0 | host claim) and
 * rejected (neg 0xC0).
 */
import type { Block, BlockSignature } from '../wire/block.js';
import { BLOCK_SIZES, encodedSignedBlockSize } from '../wire/block.js';
import { validMasks } from '../wire/vote.js';
import { COVER_BYTES } from '../wire/cover.js';

export { validMasks } from '../wire/vote.js';

export const TICKET_BYTES = 16;
/** Largest message in one 1 452-byte datagram (§3). */
export const MAX_MESSAGE_BYTES = 1370;

/**
 * A block with the sender's vote; implies reply = true. `origin`: the entry peer's address (§5.3
 * learning). `covered`: a filter of the peers the sender gives this block in the same wave
 * (cover.ts), so that the receiver sends them its vote without the body.
 */
export interface InitialVoteMessage {
  readonly type: 'initial-vote';
  readonly block: Block;
  readonly signatures: readonly BlockSignature[];
  readonly pos: number;
  readonly neg: number;
  readonly origin: Uint8Array;
  readonly covered: Uint8Array;
}

export interface VoteMessage {
  readonly type: 'vote';
  readonly blockId: Uint8Array;
  readonly pos: number;
  readonly neg: number;
  /** Asks the receiver to answer once it has decided. */
  readonly reply: boolean;
}

export interface QueryBlockMessage {
  readonly type: 'query-block';
  readonly blockId: Uint8Array;
  readonly ticket: Uint8Array;
}

/** Answer to QUERY_BLOCK, echoing its ticket. */
export interface BlockMessage {
  readonly type: 'block';
  readonly block: Block;
  readonly signatures: readonly BlockSignature[];
  readonly ticket: Uint8Array;
}

export type BatchItem = VoteMessage | QueryBlockMessage;

/** Several small requests/answers to one receiver in one frame (§5.4 step 6). */
export interface RequestBatchMessage {
  readonly type: 'batch';
  readonly items: readonly BatchItem[];
}

export type Message = InitialVoteMessage | VoteMessage | QueryBlockMessage | BlockMessage | RequestBatchMessage;

export interface Outgoing {
  /** Receiver address (32 bytes). */
  readonly to: Uint8Array;
  readonly message: Message;
}

export const MESSAGE_SIZES = {
  vote: 1 + 32 + 1 + 1 + 1,
  queryBlock: 1 + 32 + TICKET_BYTES,
  batchHeader: 1 + 1,
  initialVoteHeader: 1 + 1 + 1 + 32 + COVER_BYTES,
} as const;

export function messageSizeBound(m: Message): number {
  switch (m.type) {
    case 'vote':
      return MESSAGE_SIZES.vote;
    case 'query-block':
      return MESSAGE_SIZES.queryBlock;
    case 'initial-vote':
      return MESSAGE_SIZES.initialVoteHeader + encodedSignedBlockSize(m);
    case 'block':
      return 1 + encodedSignedBlockSize(m) + TICKET_BYTES;
    case 'batch':
      return MESSAGE_SIZES.batchHeader + m.items.reduce((s, i) => s + messageSizeBound(i), 0);
  }
}

/** Largest INITIAL_VOTE / BLOCK: fits one frame. */
export const MAX_BLOCK_MESSAGE_BYTES = Math.max(MESSAGE_SIZES.initialVoteHeader, 1 + TICKET_BYTES) + BLOCK_SIZES.maxSigned;

function isId(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length === 32;
}

function wellFormedItem(m: Message): boolean {
  switch (m.type) {
    case 'vote':
      return isId(m.blockId) && validMasks(m.pos, m.neg) && typeof m.reply === 'boolean';
    case 'query-block':
      return isId(m.blockId) && m.ticket instanceof Uint8Array && m.ticket.length === TICKET_BYTES;
    case 'initial-vote':
      return validMasks(m.pos, m.neg) && isId(m.origin) && m.covered instanceof Uint8Array && m.covered.length === COVER_BYTES && Array.isArray(m.signatures) && Array.isArray(m.block?.entries);
    case 'block':
      return m.ticket instanceof Uint8Array && m.ticket.length === TICKET_BYTES && Array.isArray(m.signatures) && Array.isArray(m.block?.entries);
    case 'batch':
      return false;
  }
}

/** Field lengths and caps of a received message (block structure is checked by validation). */
export function wellFormed(m: Message, maxBatchItems: number): boolean {
  if (m === null || typeof m !== 'object') return false;
  if (m.type === 'batch') {
    return Array.isArray(m.items) && m.items.length >= 1 && m.items.length <= maxBatchItems && m.items.every((i) => (i.type === 'vote' || i.type === 'query-block') && wellFormedItem(i));
  }
  if (m.type !== 'vote' && m.type !== 'query-block' && m.type !== 'initial-vote' && m.type !== 'block') return false;
  return wellFormedItem(m);
}
