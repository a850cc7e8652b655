/**
 * One peer catching up (PROTOCOL §6) by range-based reconciliation (sync.ts) with its ring
 * neighbours: a restarted peer, or a joiner once its neighbourhood has formed. Pure: messages out
 * as data, the store read through `StoreReader & RingWalker`, the result as a storage batch the
 * caller applies.
 *
 * Accepting a mapping: two partners report the same block for the token (EcNode's two-peer
 * agreement; a session has up to two partners on each side, `syncPartners`, and needs two), its
 * body is well formed, not from the future, hashes to its id and names the token, it is newer
 * than the mapping held, no committed block spent any of its (token, last) otherwise, it is not
 * stored here yet, and the consensus core is not deciding it (`busy`). The batch stores the
 * block, maps the token (source `sync`) and records the spends of its entries, in one commit
 * record. Replies must answer a range that was asked. A block this peer stores already (the core
 * committed it while the peer did not host the token, so the mapping stayed behind) is not
 * fetched: the token is mapped to it, under an empty commit record.
 *
 *   → partner  SYNC_ASK {ticket, range ask}      ← SYNC_REPLY {ticket, reply}   (one per ask)
 *   → partner  QUERY_BLOCK {id, ticket}          ← BLOCK {ticket, signed block}
 *
 * The partner's side of a block fetch is the consensus core's (it serves stored blocks); the
 * session owns the BLOCK replies that carry its ticket.
 */
import type { Blake3Kernel } from '../kernels/types.js';
import type { SignedBlock } from '../wire/block.js';
import { blockId, makeCommitRecord } from '../wire/block.js';
import type { SyncAskMessage, SyncReplyMessage } from '../wire/msg-sync.js';
import type { BlockMessage, QueryBlockMessage } from './messages.js';
import type { CommitBatch, StoreReader, TokenWrite, SpendWrite, StoredBlock } from '../store/types.js';
import type { RingWalker } from './storage-proof.js';
import { compare32, equal16, equal32, IdMap } from './keys.js';
import { answer, ask, learn, type RangeAsk, type RangeBounds, type SyncItem } from './sync.js';
import { checkStandalone } from './validate.js';
import { popcount } from './election.js';

export const SYNC_SESSION = {
  /** A session ends after this many ticks whatever is outstanding. */
  maxTicks: 100,
  /** SYNC_ASKs awaiting a reply per partner; the rest wait their turn (partners serve a few per tick). */
  maxInFlight: 32,
  /** A partner silent this many ticks while we await it is given up for the session. */
  stallTicks: 30,
  /** Once nothing is left to ask, a block fetch that found no reply is given up after this many ticks. */
  fetchWaitTicks: 10,
  /** Items read per store walk call. */
  walkBatch: 4096,
  /** (token, block) reports kept per session. */
  maxReports: 65_536,
} as const;

export type SyncMessage = SyncAskMessage | SyncReplyMessage | QueryBlockMessage | BlockMessage;

export interface SyncSend {
  readonly to: Uint8Array;
  readonly message: SyncMessage;
}

export interface SyncModules {
  readonly blake3: Blake3Kernel;
  readonly networkId: bigint;
  readonly store: StoreReader & RingWalker;
  /** The consensus core holds this block in its mempool: it decides it, sync leaves it alone. */
  readonly busy: (id: Uint8Array) => boolean;
  /** Blocks may be at most this far ahead of `now` (PROTOCOL §4). */
  readonly maxFutureMs: number;
}

/** The store's items (token, mapped block) in (lo, hi]. */
export function storeItems(store: RingWalker, r: RangeBounds): SyncItem[] {
  const out: SyncItem[] = [];
  let from = r.lo;
  for (;;) {
    const batch = store.tokensFrom(from, 'up', SYNC_SESSION.walkBatch);
    for (const e of batch) {
      // Past hi, or wrapped round the top of the ring (tokens stop increasing): the range is done.
      if (compare32(e.token, r.hi) > 0 || compare32(e.token, from) <= 0) return out;
      out.push({ token: e.token, block: e.mapping.block });
      from = e.token;
    }
    if (batch.length < SYNC_SESSION.walkBatch) return out;
  }
}

/**
 * The arc of the ring a peer hosts: tokens whose window (w below, w + 1 at or above, over the
 * peer and its Connected set) holds it, as one or two ranges that do not wrap; the whole ring when
 * the set is small.
 */
export function hostedArc(self: Uint8Array, connected: readonly Uint8Array[], w: number): RangeBounds[] {
  const ring = [self, ...connected].sort(compare32);
  const n = ring.length;
  const top = new Uint8Array(32).fill(0xff);
  const bottom = new Uint8Array(32);
  if (n <= 2 * w + 2) return [{ lo: bottom, hi: top }];
  const i = ring.findIndex((a) => equal32(a, self));
  const lo = ring[(((i - w - 1) % n) + n) % n] as Uint8Array;
  const hi = ring[(i + w) % n] as Uint8Array;
  if (compare32(lo, hi) < 0) return [{ lo, hi }];
  return [
    { lo, hi: top },
    { lo: bottom, hi },
  ];
}

/**
 * The partners of a session: up to `perSide` peers on each side of `self` on the ring (nearest
 * first). With two on each side every token of self's arc is hosted by at least two of them: the
 * low edge by the two below, the high edge by the two above.
 */
export function syncPartners(self: Uint8Array, peers: readonly Uint8Array[], perSide = 2): Uint8Array[] {
  const ring = peers.filter((a) => !equal32(a, self)).sort(compare32);
  const n = ring.length;
  if (n <= 2 * perSide) return ring;
  let up = ring.findIndex((a) => compare32(a, self) > 0);
  if (up < 0) up = 0;
  const out: Uint8Array[] = [];
  for (let k = 0; k < perSide; k++) out.push(ring[(up + k) % n] as Uint8Array, ring[(((up - 1 - k) % n) + n) % n] as Uint8Array);
  return out;
}

/** The partner's side: its reply to an ask, or (simulator; the daemon's core does it) a stored block. */
export function serveSync(mods: Pick<SyncModules, 'blake3' | 'store'>, m: SyncMessage): SyncMessage | null {
  if (m.type === 'sync-ask') return { type: 'sync-reply', ticket: m.ticket, reply: answer(mods.blake3, (r) => storeItems(mods.store, r), m.ask) };
  if (m.type === 'query-block') {
    const b = mods.store.block(m.blockId);
    return b === undefined ? null : { type: 'block', ticket: m.ticket, block: b.block, signatures: b.signatures };
  }
  return null;
}

interface Report {
  readonly token: Uint8Array;
  readonly block: Uint8Array;
  /** Partner indices that reported it. */
  by: number;
  fetched: boolean;
}

export interface SyncResult {
  readonly messages: SyncSend[];
  /** Mappings accepted by this input, to apply before the next input. */
  readonly batch: CommitBatch | null;
  /** The session has nothing outstanding. */
  readonly done: boolean;
  readonly learned: number;
}

export class SyncSession {
  /** Per partner, the ranges asked and not yet answered (lo ‖ hi as a string key). */
  private readonly asked: Set<string>[];
  /** Per partner, the asks not sent yet. */
  private readonly queued: RangeAsk[][];
  /** Per partner, the blocks fetched and not yet received. */
  private readonly fetching: IdMap<true>[];
  private readonly reports = new IdMap<Report[]>();
  private reportCount = 0;
  private ticks = 0;
  private lastFetch = 0;
  /** Per partner, the tick it last replied (or the session started). */
  private readonly heard: number[];
  /** A partner was given up with work outstanding. */
  private gaveUp = false;
  /** A reported block was left to the consensus core. */
  private leftToCore = false;
  learned = 0;

  constructor(
    private readonly mods: SyncModules,
    private readonly partners: readonly Uint8Array[],
    private readonly arc: readonly RangeBounds[],
    /** 16 bytes: every ask and block fetch of the session carries it. */
    readonly ticket: Uint8Array,
  ) {
    this.asked = partners.map(() => new Set());
    this.queued = partners.map(() => []);
    this.heard = partners.map(() => 0);
    this.fetching = partners.map(() => new IdMap());
  }

  /** The first asks, to each partner; nothing without two partners (agreement needs two). */
  start(): SyncSend[] {
    if (this.partners.length < 2) return [];
    const asks = ask(this.mods.blake3, (r) => storeItems(this.mods.store, r), this.arc);
    return this.partners.flatMap((to, k) => this.asks(k, to, asks));
  }

  /** Queues the asks; sends what fits under maxInFlight, one SYNC_ASK per range, each awaited. */
  private asks(k: number, to: Uint8Array, asks: readonly RangeAsk[]): SyncSend[] {
    const asked = this.asked[k] as Set<string>;
    const queue = this.queued[k] as RangeAsk[];
    queue.push(...asks);
    const out: SyncSend[] = [];
    while (asked.size < SYNC_SESSION.maxInFlight && queue.length > 0) {
      // Newest first: the walk goes deep before wide, which keeps the queue short.
      const a = queue.pop() as RangeAsk;
      asked.add(rangeKey(a));
      out.push({ to, message: { type: 'sync-ask', ticket: this.ticket, ask: a } });
    }
    return out;
  }

  /** A reported block was left to the consensus core (it holds it in its mempool). */
  get deferred(): boolean {
    return this.leftToCore;
  }

  get partnerCount(): number {
    return this.partners.length;
  }

  /** Every ask answered and every fetched block received and settled, from every partner. */
  get complete(): boolean {
    return !this.gaveUp && !this.leftToCore && this.partners.every((_, k) => !this.awaits(k));
  }

  private awaits(k: number): boolean {
    return (this.asked[k] as Set<string>).size > 0 || (this.queued[k] as RangeAsk[]).length > 0 || (this.fetching[k] as IdMap<true>).size > 0;
  }

  get done(): boolean {
    if (this.partners.every((_, k) => !this.awaits(k)) || this.ticks >= SYNC_SESSION.maxTicks) return true;
    if (this.asked.some((s) => s.size > 0) || this.queued.some((q) => q.length > 0)) return false;
    return this.ticks - this.lastFetch >= SYNC_SESSION.fetchWaitTicks;
  }

  /**
   * Tokens on which a partner reported a block newer than our mapping (or unknown here) that no
   * second partner confirmed: one of them is behind, or the block is still being decided. Asking
   * more hosts settles them. A report of a block older than ours is a partner behind us, and one
   * of a block the consensus core holds is the core's to decide.
   */
  get unsettled(): number {
    let n = 0;
    for (const list of this.reports.values()) if (!list.some((r) => r.fetched) && list.some((r) => this.newer(r) && !this.mods.busy(r.block))) n++;
    return n;
  }

  private newer(r: Report): boolean {
    const b = this.mods.store.block(r.block);
    const cur = this.mods.store.token(r.token);
    return b === undefined || cur === undefined || b.block.time > cur.time;
  }

  /** Ages the session; a partner that stopped answering (down, or overloaded) is given up. */
  tick(): void {
    this.ticks++;
    for (let k = 0; k < this.partners.length; k++) {
      if (this.ticks - (this.heard[k] as number) < SYNC_SESSION.stallTicks || !this.awaits(k)) continue;
      this.gaveUp = true;
      (this.asked[k] as Set<string>).clear();
      (this.queued[k] as RangeAsk[]).length = 0;
      (this.fetching[k] as IdMap<true>).clear();
    }
  }

  receive(from: Uint8Array, m: SyncMessage, now: number): SyncResult {
    const k = this.partners.findIndex((p) => equal32(p, from));
    const out: SyncSend[] = [];
    let batch: CommitBatch | null = null;
    const before = this.learned;
    if (k < 0 || !equal16(m.ticket, this.ticket)) return { messages: out, batch, done: this.done, learned: 0 };
    this.heard[k] = this.ticks;
    if (m.type === 'sync-reply') {
      // Only ranges we asked about, each answered once.
      if (!(this.asked[k] as Set<string>).delete(rangeKey(m.reply.range))) return { messages: out, batch, done: this.done, learned: 0 };
      const mine = (t: Uint8Array): Uint8Array | undefined => this.mods.store.token(t)?.block;
      const l = learn(this.mods.blake3, (r) => storeItems(this.mods.store, r), m.reply, mine);
      out.push(...this.asks(k, from, l.next));
      const fetching = this.fetching[k] as IdMap<true>;
      const held: SyncItem[] = [];
      for (const it of l.differ) {
        if (!this.report(k, it)) continue;
        // A block stored here already (committed while we did not host its token): map it.
        if (this.mods.store.hasBlock(it.block)) {
          held.push(it);
          continue;
        }
        fetching.set(it.block, true);
        this.lastFetch = this.ticks;
        out.push({ to: from, message: { type: 'query-block', blockId: it.block, ticket: this.ticket } });
      }
      batch = this.mapHeld(held, now);
    } else if (m.type === 'block') {
      const signed = { block: m.block, signatures: m.signatures };
      const id = blockId(this.mods.blake3, this.mods.networkId, m.block);
      if ((this.fetching[k] as IdMap<true>).delete(id)) batch = this.accept(id, signed, now);
    }
    return { messages: out, batch, done: this.done, learned: this.learned - before };
  }

  /** Records partner k's report; true when it completes agreement and the body is still wanted. */
  private report(k: number, it: SyncItem): boolean {
    let list = this.reports.get(it.token);
    let r = list?.find((x) => equal32(x.block, it.block));
    if (r === undefined) {
      if (this.reportCount >= SYNC_SESSION.maxReports) return false;
      this.reportCount++;
      if (list === undefined) this.reports.set(it.token, (list = []));
      list.push((r = { token: it.token, block: it.block, by: 0, fetched: false }));
    }
    r.by |= 1 << k;
    const agreeing = popcount(r.by) >= 2;
    if (!agreeing || r.fetched) return false;
    r.fetched = true;
    return true;
  }

  /** The batch that adopts one fetched block, or null when the rules refuse it. */
  /**
   * Maps tokens to agreed blocks stored here already: a block the core committed while we did not
   * host its token is stored with its spends but leaves the mapping behind. The batch's commit
   * record lists no block, but each mapping takes its seq: an answer must never claim a mapping
   * set at a seq that earlier answers, with heads past it, contradicted (PROTOCOL §9, F2).
   */
  private mapHeld(items: readonly SyncItem[], now: number): CommitBatch | null {
    const store = this.mods.store;
    const tokens: TokenWrite[] = [];
    const head = store.head();
    for (const it of items) {
      const b = store.block(it.block);
      const e = b?.block.entries.find((x) => equal32(x.token, it.token));
      const cur = store.token(it.token);
      if (b === undefined || e === undefined || (cur !== undefined && cur.time >= b.block.time)) continue;
      const spent = store.spend(e.token, e.last);
      if (spent !== undefined && !equal32(spent, it.block)) continue;
      tokens.push({ token: it.token, mapping: { block: it.block, parent: e.last, time: b.block.time, seq: head.seq + 1, source: 'sync' } });
    }
    if (tokens.length === 0) return null;
    this.learned += tokens.length;
    return { commits: [makeCommitRecord(this.mods.blake3, { seq: head.seq + 1, prevId: head.id, time: now, blockIds: [] })], blocks: [], tokens, spends: [] };
  }

  private accept(id: Uint8Array, signed: SignedBlock, now: number): CommitBatch | null {
    const store = this.mods.store;
    if (checkStandalone(signed, now, this.mods.maxFutureMs) !== null) return null;
    if (store.hasBlock(id)) return null;
    // The core decides it now; the next session looks again if the core did not commit it.
    if (this.mods.busy(id)) {
      this.leftToCore = true;
      return null;
    }
    // A committed contender of any entry here: this block is not ours to adopt.
    if (signed.block.entries.some((e) => { const s = store.spend(e.token, e.last); return s !== undefined && !equal32(s, id); })) return null;
    const head = store.head();
    const seq = head.seq + 1;
    const tokens: TokenWrite[] = [];
    for (const e of signed.block.entries) {
      const r = this.reports.get(e.token)?.find((x) => equal32(x.block, id) && x.fetched);
      const cur = store.token(e.token);
      if (r === undefined || (cur !== undefined && cur.time >= signed.block.time)) continue;
      tokens.push({ token: e.token, mapping: { block: id, parent: e.last, time: signed.block.time, seq, source: 'sync' } });
    }
    if (tokens.length === 0) return null;
    this.learned += tokens.length;
    const spends: SpendWrite[] = signed.block.entries.map((e) => ({ token: e.token, last: e.last, block: id }));
    const stored: StoredBlock = { id, block: signed.block, signatures: signed.signatures, seq };
    const commit = makeCommitRecord(this.mods.blake3, { seq, prevId: head.id, time: now, blockIds: [id] });
    return { commits: [commit], blocks: [stored], tokens, spends };
  }
}

function rangeKey(r: RangeBounds): string {
  let s = '';
  for (const b of r.lo) s += String.fromCharCode(b);
  for (const b of r.hi) s += String.fromCharCode(b);
  return s;
}
