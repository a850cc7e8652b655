/**
 * The store the consensus core reads and the daemon writes (PROTOCOL §6). Two implementations
 * share one test suite (test/helpers/store-suite.ts): in-memory (store/memory.ts) and LMDB.
 *
 * Reads are synchronous: the core evaluates many blocks per tick and must see its own commits at
 * once. Writes are one synchronous, atomic `apply(batch)` per tick: it writes everything or
 * nothing, and returns only when the batch is durable, because the core answers `committed` to
 * voters right after and an acknowledged commit must survive a crash (LMDB: one `transactionSync`).
 *
 * Keys are raw 32-byte ids (big-endian, so an LMDB cursor walks tokens in ring order).
 *
 * Beyond §6's table the store keeps a `spends` index, (token ‖ last) → id of the committed block
 * that consumed it, for every entry of every committed block. A peer stores mappings only for the
 * tokens it hosts, yet commits blocks on all tokens; `spends` is what lets it refuse a conflicting
 * block on a token it does not host, so "never two contenders" holds at every peer.
 */
import type { Block, BlockSignature, CommitRecord } from '../wire/block.js';
import type { RingDirection, TokenEntry } from './ring-walk.js';

export type { CommitRecord } from '../wire/block.js';

export interface CommitHead {
  /** 0 for the empty chain. */
  readonly seq: number;
  /** All-zero for the empty chain. */
  readonly id: Uint8Array;
}

/** Where a mapping came from: decided by this peer's vote count, or accepted from sync (§6). */
export type MappingSource = 'vote' | 'sync';

/** token → the last committed block that touched it. */
export interface TokenMapping {
  readonly block: Uint8Array;
  /** The block's `last` for this token (all-zero for a creation). */
  readonly parent: Uint8Array;
  /** The block's time (unix ms). */
  readonly time: number;
  /** Commit seq that wrote this mapping. */
  readonly seq: number;
  readonly source: MappingSource;
}

export interface StoredBlock {
  readonly id: Uint8Array;
  readonly block: Block;
  readonly signatures: readonly BlockSignature[];
  /** Commit seq that stored it. */
  readonly seq: number;
}

export interface TokenWrite {
  readonly token: Uint8Array;
  readonly mapping: TokenMapping;
}

export interface SpendWrite {
  readonly token: Uint8Array;
  readonly last: Uint8Array;
  readonly block: Uint8Array;
}

/**
 * Everything one tick commits. `commits` extends the head in order (seq + 1, prev id = head id,
 * …); every block of `blocks` is listed in exactly one of them, with the matching seq.
 */
export interface CommitBatch {
  readonly commits: readonly CommitRecord[];
  readonly blocks: readonly StoredBlock[];
  readonly tokens: readonly TokenWrite[];
  readonly spends: readonly SpendWrite[];
}

export type StoreErrorCode = 'empty-batch' | 'seq-gap' | 'prev-mismatch' | 'block-not-in-commit' | 'block-exists' | 'closed';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
  }
}

export interface StoreReader {
  head(): CommitHead;
  token(token: Uint8Array): TokenMapping | undefined;
  block(id: Uint8Array): StoredBlock | undefined;
  hasBlock(id: Uint8Array): boolean;
  /** Id of the committed block that consumed (token, last), if any. */
  spend(token: Uint8Array, last: Uint8Array): Uint8Array | undefined;
  commit(seq: number): CommitRecord | undefined;
}

export interface Store extends StoreReader {
  /**
   * Applies one batch atomically and durably. Throws StoreError, having written nothing, when the
   * batch does not extend the head or is inconsistent (a bug in the caller, never bad input).
   */
  apply(batch: CommitBatch): void;
  /** Stored mappings strictly after `token` in ring order (store/ring-walk.ts): proofs and sync walk them. */
  tokensFrom(token: Uint8Array, direction: RingDirection, limit: number): TokenEntry[];
  close(): void;
}
