/**
 * Consensus messages (PROTOCOL §5.2, §5.4) as plain typed data. Byte codecs belong to the wire
 * layer; `messageSizeBound` gives the size each message will have there (type byte + fields), so
 * batching keeps every frame under the 1 370-byte message cap (§3) and the codec can prove it.
 */
import type { Block, BlockSignature } from '../wire/block.js';
import { BLOCK_SIZES, encodedSignedBlockSize } from '../wire/block.js';

export const TICKET_BYTES = 16;
/** Largest message in one 1 452-byte datagram (§3). */
export const MAX_MESSAGE_BYTES = 1370;

/** A block with the sender's vote; implies reply = true. */
export interface InitialVoteMessage {
  readonly type: 'initial-vote';
  readonly block: Block;
  readonly signatures: readonly BlockSignature[];
  readonly mask: number;
}

export interface VoteMessage {
  readonly type: 'vote';
  readonly blockId: Uint8Array;
  /** Bit i: the sender's opinion on entry i; 0xFF committed, 0x00 rejected / lost a conflict. */
  readonly mask: number;
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
  vote: 1 + 32 + 1 + 1,
  queryBlock: 1 + 32 + TICKET_BYTES,
  batchHeader: 1 + 1,
} as const;

export function messageSizeBound(m: Message): number {
  switch (m.type) {
    case 'vote':
      return MESSAGE_SIZES.vote;
    case 'query-block':
      return MESSAGE_SIZES.queryBlock;
    case 'initial-vote':
      return 1 + encodedSignedBlockSize(m) + 1;
    case 'block':
      return 1 + encodedSignedBlockSize(m) + TICKET_BYTES;
    case 'batch':
      return MESSAGE_SIZES.batchHeader + m.items.reduce((s, i) => s + messageSizeBound(i), 0);
  }
}

/** Largest INITIAL_VOTE / BLOCK: fits one frame. */
export const MAX_BLOCK_MESSAGE_BYTES = 1 + BLOCK_SIZES.maxSigned + TICKET_BYTES;

function isId(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length === 32;
}

function isMask(x: unknown): boolean {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xff;
}

function wellFormedItem(m: Message): boolean {
  switch (m.type) {
    case 'vote':
      return isId(m.blockId) && isMask(m.mask) && typeof m.reply === 'boolean';
    case 'query-block':
      return isId(m.blockId) && m.ticket instanceof Uint8Array && m.ticket.length === TICKET_BYTES;
    case 'initial-vote':
      return isMask(m.mask) && Array.isArray(m.signatures) && Array.isArray(m.block?.entries);
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

/**
 * One flush's messages, batched: small messages (VOTE, QUERY_BLOCK) to the same receiver are
 * merged into REQUEST_BATCHes of at most `maxBatchItems`, placed where that receiver's first small
 * message was; block-carrying messages go alone. A single-item batch is sent unwrapped.
 */
export function batchOutgoing(out: readonly Outgoing[], maxBatchItems: number, keyOf: (to: Uint8Array) => string): Outgoing[] {
  const groups = new Map<string, { to: Uint8Array; items: BatchItem[] }>();
  const order: (Outgoing | { group: string })[] = [];
  for (const o of out) {
    const m = o.message;
    if (m.type === 'vote' || m.type === 'query-block') {
      const k = keyOf(o.to);
      let g = groups.get(k);
      if (g === undefined) {
        g = { to: o.to, items: [] };
        groups.set(k, g);
        order.push({ group: k });
      }
      g.items.push(m);
    } else {
      order.push(o);
    }
  }
  const result: Outgoing[] = [];
  for (const o of order) {
    if (!('group' in o)) {
      result.push(o);
      continue;
    }
    const g = groups.get(o.group) as { to: Uint8Array; items: BatchItem[] };
    for (let i = 0; i < g.items.length; i += maxBatchItems) {
      const chunk = g.items.slice(i, i + maxBatchItems);
      result.push({ to: g.to, message: chunk.length === 1 ? (chunk[0] as BatchItem) : { type: 'batch', items: chunk } });
    }
  }
  return result;
}
