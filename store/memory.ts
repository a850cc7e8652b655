/**
 * In-memory store: the simulator's store and the reference the LMDB store is tested against.
 * A batch is checked completely before the first write, so it applies all or nothing.
 */
import { Buffer } from 'node:buffer';
import type { CommitBatch, CommitHead, CommitRecord, Store, StoredBlock, TokenMapping } from './types.js';
import { StoreError } from './types.js';
import type { RingDirection, TokenEntry } from './ring-walk.js';
import { checkWalkArgs } from './ring-walk.js';

function key(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function copy(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(bytes);
}

/** First index whose key is ≥ `k`. */
function lowerBound(sorted: readonly string[], k: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const EMPTY_HEAD: CommitHead = Object.freeze({ seq: 0, id: new Uint8Array(32) });

export class MemoryStore implements Store {
  private readonly tokens = new Map<string, TokenMapping>();
  private readonly blocks = new Map<string, StoredBlock>();
  private readonly spends = new Map<string, Uint8Array>();
  private readonly commits: CommitRecord[] = [];
  /** Token keys (lowercase hex, so string order = big-endian byte order = ring order), sorted. */
  private readonly ring: string[] = [];
  private closed = false;

  head(): CommitHead {
    this.check();
    const last = this.commits[this.commits.length - 1];
    return last === undefined ? EMPTY_HEAD : { seq: last.seq, id: last.id };
  }

  token(token: Uint8Array): TokenMapping | undefined {
    this.check();
    return this.tokens.get(key(token));
  }

  block(id: Uint8Array): StoredBlock | undefined {
    this.check();
    return this.blocks.get(key(id));
  }

  hasBlock(id: Uint8Array): boolean {
    this.check();
    return this.blocks.has(key(id));
  }

  spend(token: Uint8Array, last: Uint8Array): Uint8Array | undefined {
    this.check();
    return this.spends.get(key(token) + key(last));
  }

  commit(seq: number): CommitRecord | undefined {
    this.check();
    return Number.isInteger(seq) && seq >= 1 ? this.commits[seq - 1] : undefined;
  }

  /** Stored mappings after `token` in ring order (store/ring-walk.ts), at most `limit`. */
  tokensFrom(token: Uint8Array, direction: RingDirection, limit: number): TokenEntry[] {
    this.check();
    checkWalkArgs(token, direction, limit);
    const n = this.ring.length;
    const out: TokenEntry[] = [];
    const start = key(token);
    const at = lowerBound(this.ring, start);
    const present = at < n && this.ring[at] === start;
    // First index after `token` in the walk direction, then one full turn at most.
    let i = direction === 'up' ? (present ? at + 1 : at) : at - 1;
    for (let step = 0; step < n && out.length < limit; step++) {
      const idx = ((i % n) + n) % n;
      const k = this.ring[idx] as string;
      if (k === start) break;
      out.push({ token: Uint8Array.from(Buffer.from(k, 'hex')), mapping: this.tokens.get(k) as TokenMapping });
      i += direction === 'up' ? 1 : -1;
    }
    return out;
  }

  /** Number of token mappings held (for tests and metrics). */
  get tokenCount(): number {
    return this.tokens.size;
  }

  apply(batch: CommitBatch): void {
    this.check();
    if (batch.commits.length === 0) throw new StoreError('empty-batch', 'a batch carries at least one commit record');
    // Validate everything first: nothing is written unless the whole batch is consistent.
    let head = this.head();
    const seqOf = new Map<string, number>();
    for (const c of batch.commits) {
      if (c.seq !== head.seq + 1) throw new StoreError('seq-gap', `commit seq ${c.seq} does not follow head ${head.seq}`);
      if (key(c.prevId) !== key(head.id)) throw new StoreError('prev-mismatch', `commit ${c.seq} does not link to the head id`);
      for (const id of c.blockIds) seqOf.set(key(id), c.seq);
      head = { seq: c.seq, id: c.id };
    }
    for (const b of batch.blocks) {
      const k = key(b.id);
      if (seqOf.get(k) !== b.seq) throw new StoreError('block-not-in-commit', `block ${k} is not listed in commit ${b.seq}`);
      if (this.blocks.has(k)) throw new StoreError('block-exists', `block ${k} is already stored`);
    }
    for (const c of batch.commits) {
      this.commits.push({ seq: c.seq, prevId: copy(c.prevId), time: c.time, blockIds: c.blockIds.map(copy), id: copy(c.id) });
    }
    for (const b of batch.blocks) this.blocks.set(key(b.id), b);
    for (const t of batch.tokens) {
      const k = key(t.token);
      if (!this.tokens.has(k)) this.ring.splice(lowerBound(this.ring, k), 0, k);
      this.tokens.set(k, t.mapping);
    }
    for (const s of batch.spends) this.spends.set(key(s.token) + key(s.last), copy(s.block));
  }

  close(): void {
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw new StoreError('closed', 'the store is closed');
  }
}
