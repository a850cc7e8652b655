/**
 * One peer catching up (PROTOCOL §6) by range-based reconciliation (sync.ts) with its two ring
 * neighbours: a restarted peer, or a joiner once its neighbourhood has formed. Pure: messages out
 * as data, the store read through `StoreReader & RingWalker`, the result as a storage batch the
 * caller applies.
 *
 * Accepting a mapping: both neighbours report the same block for the token (EcNode's two-peer
 * agreement: a session needs two partners), its body is well formed, not from the future, hashes
 * to its id and names the token, it is newer than the mapping held, no committed block spent any
 * of its (token, last) otherwise, it is not stored here yet, and the consensus core is not
 * deciding it (`busy`). The batch stores the block, maps the token (source `sync`) and records
 * the spends of its entries, in one commit record. Replies must answer a range that was asked.
 * A block this peer already stores is not synced (its mapping waits for the next commit).
 *
 *   → partner  sync-ask {ticket, asks}        ← sync-reply {ticket, replies}
 *   → partner  sync-fetch {ticket, ids}       ← sync-blocks {ticket, blocks}
 */
import type { Blake3Kernel } from '../kernels/types.js';
import type { SignedBlock } from '../wire/block.js';
import { blockId, makeCommitRecord } from '../wire/block.js';
import type { CommitBatch, StoreReader, TokenWrite, SpendWrite, StoredBlock } from '../store/types.js';
import type { RingWalker } from './storage-proof.js';
import { compare32, equal32, IdMap } from './keys.js';
import { answer, ask, learn, SYNC, type RangeAsk, type RangeBounds, type RangeReply, type SyncItem } from './sync.js';
import { checkStandalone } from './validate.js';
import { popcount } from './election.js';

export const SYNC_SESSION = {
  /** A session ends after this many ticks whatever is outstanding. */
  maxTicks: 100,
  /** Block ids per fetch. */
  fetchBatch: 16,
  /** Items read per store walk call. */
  walkBatch: 4096,
  /** (token, block) reports kept per session. */
  maxReports: 65_536,
} as const;

export type SyncMessage =
  | { readonly type: 'sync-ask'; readonly ticket: number; readonly asks: readonly RangeAsk[] }
  | { readonly type: 'sync-reply'; readonly ticket: number; readonly replies: readonly RangeReply[] }
  | { readonly type: 'sync-fetch'; readonly ticket: number; readonly ids: readonly Uint8Array[] }
  | { readonly type: 'sync-blocks'; readonly ticket: number; readonly blocks: readonly SignedBlock[] };

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

/** The partner's side: replies to an ask or a fetch from its own store. */
export function serveSync(mods: Pick<SyncModules, 'blake3' | 'store'>, m: SyncMessage): SyncMessage | null {
  if (m.type === 'sync-ask') return { type: 'sync-reply', ticket: m.ticket, replies: answer(mods.blake3, (r) => storeItems(mods.store, r), m.asks) };
  if (m.type === 'sync-fetch') {
    const blocks: SignedBlock[] = [];
    for (const id of m.ids.slice(0, SYNC_SESSION.fetchBatch)) {
      const b = mods.store.block(id);
      if (b !== undefined) blocks.push({ block: b.block, signatures: b.signatures });
    }
    return { type: 'sync-blocks', ticket: m.ticket, blocks };
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
  private readonly ticket: number;
  /** Partner index → rounds outstanding (asks or fetches awaiting a reply). */
  private readonly outstanding: number[];
  private readonly reports = new IdMap<Report[]>();
  private reportCount = 0;
  /** Per partner, the ranges asked and not yet answered (lo ‖ hi as a string key). */
  private readonly asked: Set<string>[];
  private ticks = 0;
  learned = 0;

  constructor(
    private readonly mods: SyncModules,
    private readonly partners: readonly Uint8Array[],
    private readonly arc: readonly RangeBounds[],
    ticket: number,
  ) {
    this.ticket = ticket;
    this.outstanding = partners.map(() => 0);
    this.asked = partners.map(() => new Set());
  }

  /** The first asks, to each partner; nothing without two partners (agreement needs two). */
  start(): SyncSend[] {
    if (this.partners.length < 2) return [];
    const asks = ask(this.mods.blake3, (r) => storeItems(this.mods.store, r), this.arc);
    return this.partners.flatMap((to, k) => this.asks(k, to, asks));
  }

  /** Asks in messages of at most SYNC.maxRanges ranges, each awaited. */
  private asks(k: number, to: Uint8Array, asks: readonly RangeAsk[]): SyncSend[] {
    const out: SyncSend[] = [];
    for (let i = 0; i < asks.length; i += SYNC.maxRanges) {
      const part = asks.slice(i, i + SYNC.maxRanges);
      for (const a of part) (this.asked[k] as Set<string>).add(rangeKey(a));
      this.outstanding[k] = (this.outstanding[k] as number) + 1;
      out.push({ to, message: { type: 'sync-ask', ticket: this.ticket, asks: part } });
    }
    return out;
  }

  get done(): boolean {
    return this.ticks >= SYNC_SESSION.maxTicks || this.outstanding.every((n) => n === 0);
  }

  tick(): void {
    this.ticks++;
  }

  receive(from: Uint8Array, m: SyncMessage, now: number): SyncResult {
    const k = this.partners.findIndex((p) => equal32(p, from));
    const out: SyncSend[] = [];
    let batch: CommitBatch | null = null;
    if (k < 0 || m.ticket !== this.ticket || (this.outstanding[k] as number) <= 0) return { messages: out, batch, done: this.done, learned: 0 };
    this.outstanding[k] = (this.outstanding[k] as number) - 1;
    const before = this.learned;
    if (m.type === 'sync-reply') {
      const next: RangeAsk[] = [];
      const wanted: Uint8Array[] = [];
      const mine = (t: Uint8Array): Uint8Array | undefined => this.mods.store.token(t)?.block;
      for (const reply of m.replies) {
        // Only ranges we asked about, each answered once.
        if (!(this.asked[k] as Set<string>).delete(rangeKey(reply.range))) continue;
        const l = learn(this.mods.blake3, (r) => storeItems(this.mods.store, r), reply, mine);
        next.push(...l.next);
        for (const it of l.differ) if (this.report(k, it)) wanted.push(it.block);
      }
      out.push(...this.asks(k, from, next));
      for (let i = 0; i < wanted.length; i += SYNC_SESSION.fetchBatch) {
        this.outstanding[k] = (this.outstanding[k] as number) + 1;
        out.push({ to: from, message: { type: 'sync-fetch', ticket: this.ticket, ids: wanted.slice(i, i + SYNC_SESSION.fetchBatch) } });
      }
    } else if (m.type === 'sync-blocks') {
      batch = this.accept(m.blocks, now);
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

  private accept(blocks: readonly SignedBlock[], now: number): CommitBatch | null {
    const store = this.mods.store;
    const head = store.head();
    const seq = head.seq + 1;
    const stored: StoredBlock[] = [];
    const tokens: TokenWrite[] = [];
    const spends: SpendWrite[] = [];
    const ids: Uint8Array[] = [];
    for (const signed of blocks) {
      if (checkStandalone(signed, now, this.mods.maxFutureMs) !== null) continue;
      const id = blockId(this.mods.blake3, this.mods.networkId, signed.block);
      if (this.mods.busy(id) || store.hasBlock(id) || ids.some((x) => equal32(x, id))) continue;
      // A committed contender of any entry here: this block is not ours to adopt.
      if (signed.block.entries.some((e) => { const s = store.spend(e.token, e.last); return s !== undefined && !equal32(s, id); })) continue;
      const mapped: TokenWrite[] = [];
      for (const e of signed.block.entries) {
        const r = this.reports.get(e.token)?.find((x) => equal32(x.block, id) && x.fetched);
        const cur = store.token(e.token);
        if (r === undefined || (cur !== undefined && cur.time >= signed.block.time)) continue;
        mapped.push({ token: e.token, mapping: { block: id, parent: e.last, time: signed.block.time, seq, source: 'sync' } });
      }
      if (mapped.length === 0) continue;
      tokens.push(...mapped);
      ids.push(id);
      stored.push({ id, block: signed.block, signatures: signed.signatures, seq });
      for (const e of signed.block.entries) spends.push({ token: e.token, last: e.last, block: id });
    }
    if (tokens.length === 0) return null;
    this.learned += tokens.length;
    const commit = makeCommitRecord(this.mods.blake3, { seq, prevId: head.id, time: now, blockIds: ids });
    return { commits: [commit], blocks: stored, tokens, spends };
  }
}

function rangeKey(r: RangeBounds): string {
  let s = '';
  for (const b of r.lo) s += String.fromCharCode(b);
  for (const b of r.hi) s += String.fromCharCode(b);
  return s;
}
