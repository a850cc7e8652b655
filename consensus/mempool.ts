/**
 * The mempool (PROTOCOL §5.4): one entry per block id the peer has heard of, discriminated by
 * state so the type says when a body exists, and the indexes over them: by id, by creation (for
 * expiry), by (token, last) (conflicts and locks), and by missing parent.
 */
import type { SignedBlock } from '../wire/block.js';
import { equal32, IdMap } from './keys.js';
import type { VoteRecord } from './votes.js';
import type { Tally } from './tally.js';

/** A block's content with its entries' tokens and lasts pulled out once. */
export interface Body {
  readonly signed: SignedBlock;
  readonly tokens: readonly Uint8Array[];
  readonly lasts: readonly Uint8Array[];
}

export function bodyOf(signed: SignedBlock): Body {
  return { signed, tokens: signed.block.entries.map((x) => x.token), lasts: signed.block.entries.map((x) => x.last) };
}

/** Votes only; the body is being fetched. */
export interface Placeholder {
  readonly state: 'placeholder';
}

/** Body known; a parent it needs for validation is being fetched. */
export interface AwaitingParents {
  readonly state: 'awaiting-parents';
  readonly body: Body;
  /** Who gave us the body (first choice for parent fetches). */
  readonly source: number | undefined;
  readonly missing: readonly Uint8Array[];
}

/** Valid; voting. */
export interface Pending {
  readonly state: 'pending';
  readonly body: Body;
  readonly source: number | undefined;
  /** Whether our vote and first wave went out (at the first tick after it became valid). */
  waved: boolean;
  /** Our own vote, packed as pos | neg << 8; −1 until worked out. */
  mine: number;
  /** `mine` must be worked out again: a commit or sync touched a token, a lock fell, or a vote came in while catching up. */
  mineStale: boolean;
  /** The ring version and catch-up deadline `mine` was worked out under. */
  mineRing: number;
  mineUntil: number;
  tally: Tally | undefined;
  tallyRing: number;
  /** Ticks until the next poll round, and rounds polled (rounds back off). */
  pollIn: number;
  polls: number;
}

export interface Committed {
  readonly state: 'committed';
  readonly body: Body;
}

/** A contender of a block committed here. */
export interface Blocked {
  readonly state: 'blocked';
  /** The committed contender, forwarded to whoever asks. */
  readonly winner: Uint8Array;
}

/** Failed validation. */
export interface Invalid {
  readonly state: 'invalid';
}

export type Phase = Placeholder | AwaitingParents | Pending | Committed | Blocked | Invalid;
export type EntryState = Phase['state'];

export interface Entry {
  readonly id: Uint8Array;
  /** Tick of creation; the entry is dropped `mempoolLifetimeTicks` later. */
  readonly created: number;
  phase: Phase;
  /** The entry peer's address, as the first wave carried it (§5.3 learning). */
  origin: number | undefined;
  /** Latest vote per sender (the tally reads only Connected senders). */
  readonly votes: Map<number, VoteRecord>;
  /** Peers waiting for our decision (they asked with reply). */
  readonly askers: Set<number>;
  /** Peers we told our vote, and the packed vote they hold (for re-votes). */
  readonly told: Map<number, number>;
  /** Senders whose copy of this block had bad signatures: their copies and votes are ignored. */
  badCopies: Set<number> | undefined;
  /** The cover filters of the INITIAL_VOTEs received, merged: peers that were given the body. */
  covered: Uint8Array | undefined;
  lastFetch: number;
  fetches: number;
  /** The mempool dropped it (expired, or forgotten before it became valid). */
  left: boolean;
}

export function newEntry(id: Uint8Array, created: number): Entry {
  return { id, created, phase: { state: 'placeholder' }, origin: undefined, votes: new Map(), askers: new Set(), told: new Map(), badCopies: undefined, covered: undefined, lastFetch: -Infinity, fetches: 0, left: false };
}

/** The live index of one (token, last): the valid blocks that spend it, and our lock on one. */
export interface Spend {
  readonly token: Uint8Array;
  readonly last: Uint8Array;
  readonly blocks: Entry[];
  /** The block we gave `+` on this entry; it holds while that block is in the mempool. */
  lock: Entry | undefined;
  /** While we catch up before a first lock here (§5.2): the tick until which we abstain, or −1. */
  catchUpUntil: number;
}

/** A lock that fell with its block: guards against a late contender until we caught up (§5.2). */
export interface FormerLock {
  readonly token: Uint8Array;
  readonly last: Uint8Array;
  readonly block: Uint8Array;
}

export class Mempool {
  private readonly byId = new IdMap<Entry>();
  /** Entries in creation order; `head` is the oldest not yet expired. */
  private order: Entry[] = [];
  private head = 0;
  /** token → its live (token, last) indexes. */
  private readonly spends = new IdMap<Spend[]>();
  /** token → former locks; `formerOrder` bounds their number (oldest out first). */
  private readonly former = new IdMap<FormerLock[]>();
  private formerOrder: FormerLock[] = [];
  private formerHead = 0;
  /** parent id → entries waiting for it. */
  private readonly waiting = new IdMap<Entry[]>();

  /** `markDue`: the commit rule must look at this pending block again (a lock it met fell). */
  constructor(
    private readonly maxFormer: number,
    private readonly markDue: (e: Entry) => void,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  get(id: Uint8Array): Entry | undefined {
    return this.byId.get(id);
  }

  add(e: Entry): void {
    this.byId.set(e.id, e);
    this.order.push(e);
  }

  /** Removes and returns the entries created at or before `tick` (oldest first). */
  expire(tick: number): Entry[] {
    const out: Entry[] = [];
    while (this.head < this.order.length && (this.order[this.head] as Entry).created <= tick) {
      const e = this.order[this.head++] as Entry;
      if (this.byId.get(e.id) !== e) continue;
      this.byId.delete(e.id);
      e.left = true;
      this.unwait(e);
      this.unindex(e);
      out.push(e);
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  /** Drops an entry that never became valid (no spend index holds it). */
  forget(e: Entry): void {
    if (this.byId.get(e.id) === e) this.byId.delete(e.id);
    e.left = true;
    this.unwait(e);
  }

  // (token, last) index ----------------------------------------------------------------------

  /** The live (token, last) indexes of a token. */
  spendsOf(token: Uint8Array): readonly Spend[] {
    return this.spends.get(token) ?? [];
  }

  spend(token: Uint8Array, last: Uint8Array): Spend | undefined {
    const list = this.spends.get(token);
    if (list === undefined) return undefined;
    for (const s of list) if (equal32(s.last, last)) return s;
    return undefined;
  }

  /** Indexes a valid block under each of its entries; returns the indexes. */
  index(e: Entry, body: Body): Spend[] {
    const out: Spend[] = [];
    for (let i = 0; i < body.tokens.length; i++) {
      const token = body.tokens[i] as Uint8Array;
      const last = body.lasts[i] as Uint8Array;
      let s = this.spend(token, last);
      if (s === undefined) {
        s = { token, last, blocks: [], lock: undefined, catchUpUntil: -1 };
        const list = this.spends.get(token);
        if (list === undefined) this.spends.set(token, [s]);
        else list.push(s);
      }
      s.blocks.push(e);
      out.push(s);
    }
    return out;
  }

  private unindex(e: Entry): void {
    const p = e.phase;
    if (p.state === 'pending' || p.state === 'committed') this.release(e, p.body, p.state === 'committed');
  }

  /**
   * Takes a block out of its (token, last) indexes: when it expires, or when it is blocked (it can
   * never commit then). A lock it held falls; unless it committed, the lock is remembered (§5.2:
   * late contenders). Either way the other contenders' votes are worked out again, since a lock
   * or a higher contender that made them `−` may be gone.
   */
  release(e: Entry, body: Body, committed: boolean): void {
    for (let i = 0; i < body.tokens.length; i++) {
      const token = body.tokens[i] as Uint8Array;
      const s = this.spend(token, body.lasts[i] as Uint8Array);
      if (s === undefined) continue;
      const k = s.blocks.indexOf(e);
      if (k >= 0) s.blocks.splice(k, 1);
      if (s.lock === e) {
        s.lock = undefined;
        if (!committed) this.remember(s.token, s.last, e.id);
      }
      this.revote(s);
      if (s.blocks.length === 0) {
        const list = this.spends.get(token) as Spend[];
        list.splice(list.indexOf(s), 1);
        if (list.length === 0) this.spends.delete(token);
      }
    }
  }

  /** The own votes of the pending blocks spending `s` are worked out again at their next look. */
  revote(s: Spend): void {
    for (const b of s.blocks) {
      if (b.phase.state !== 'pending') continue;
      b.phase.mineStale = true;
      this.markDue(b);
    }
  }

  // Former locks --------------------------------------------------------------------------------

  formerLock(token: Uint8Array, last: Uint8Array): FormerLock | undefined {
    const list = this.former.get(token);
    if (list === undefined) return undefined;
    for (const f of list) if (equal32(f.last, last)) return f;
    return undefined;
  }

  private remember(token: Uint8Array, last: Uint8Array, block: Uint8Array): void {
    const old = this.formerLock(token, last);
    if (old !== undefined) this.dropFormer(old);
    const f: FormerLock = { token, last, block };
    const list = this.former.get(token);
    if (list === undefined) this.former.set(token, [f]);
    else list.push(f);
    this.formerOrder.push(f);
    while (this.formerOrder.length - this.formerHead > this.maxFormer) this.dropFormer(this.formerOrder[this.formerHead++] as FormerLock);
    if (this.formerHead > 1024 && this.formerHead * 2 > this.formerOrder.length) {
      this.formerOrder = this.formerOrder.slice(this.formerHead);
      this.formerHead = 0;
    }
  }

  /** Forgets a former lock (caught up, or evicted by the bound). */
  dropFormer(f: FormerLock): void {
    const list = this.former.get(f.token);
    if (list === undefined) return;
    const k = list.indexOf(f);
    if (k < 0) return;
    list.splice(k, 1);
    if (list.length === 0) this.former.delete(f.token);
  }

  // Missing parents -------------------------------------------------------------------------

  wait(e: Entry, parents: readonly Uint8Array[]): void {
    for (const p of parents) {
      const list = this.waiting.get(p);
      if (list === undefined) this.waiting.set(p, [e]);
      else if (!list.includes(e)) list.push(e);
    }
  }

  unwait(e: Entry): void {
    if (e.phase.state !== 'awaiting-parents') return;
    for (const p of e.phase.missing) {
      const list = this.waiting.get(p);
      if (list === undefined) continue;
      const k = list.indexOf(e);
      if (k >= 0) list.splice(k, 1);
      if (list.length === 0) this.waiting.delete(p);
    }
  }

  isAwaited(parent: Uint8Array): boolean {
    return this.waiting.has(parent);
  }

  /** Entries waiting for `parent`, removed from the index. */
  takeWaiting(parent: Uint8Array): Entry[] {
    const list = this.waiting.get(parent);
    if (list === undefined) return [];
    this.waiting.delete(parent);
    return list;
  }
}
