/**
 * One peer catching up (PROTOCOL §6) by range-based reconciliation (sync.ts) with its two ring
 * neighbours: a restarted peer, or a joiner once its neighbourhood has formed. Pure: messages out
 * as data, the store read through `StoreReader & RingWalker`, the result as a storage batch the
 * caller applies.
 *
 * Accepting a mapping: both neighbours report the same block for the token (EcNode's two-peer
 * agreement; one when the peer has a single neighbour), its body hashes to its id and names the
 * token, it is newer than the mapping held, no committed block spent the same (token, last), and
 * the consensus core is not deciding it (`busy`). The batch stores the block, maps the token
 * (source `sync`), records the spends of every entry, in one commit record.
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
import { answer, ask, learn, type RangeAsk, type RangeBounds, type RangeReply, type SyncItem } from './sync.js';

export const SYNC_SESSION = {
  /** A session ends after this many ticks whatever is outstanding. */
  maxTicks: 100,
  /** Block ids per fetch. */
  fetchBatch: 16,
  /** Items read per store walk call. */
  walkBatch: 4096,
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
}

/** The store's items (token, mapped block) in (lo, hi]. */
export function storeItems(store: RingWalker, r: RangeBounds): SyncItem[] {
  const out: SyncItem[] = [];
  let from = r.lo;
  for (;;) {
    const batch = store.tokensFrom(from, 'up', SYNC_SESSION.walkBatch);
    for (const e of batch) {
      // Past hi, or wrapped round to below lo: the range is done.
      if (compare32(e.token, r.hi) > 0 || compare32(e.token, r.lo) <= 0) return out;
      out.push({ token: e.token, block: e.mapping.block });
    }
    if (batch.length < SYNC_SESSION.walkBatch) return out;
    from = (batch[batch.length - 1] as { token: Uint8Array }).token;
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
  }

  /** The first asks, one per partner. */
  start(): SyncSend[] {
    const asks = ask(this.mods.blake3, (r) => storeItems(this.mods.store, r), this.arc);
    return this.partners.map((to, k) => {
      this.outstanding[k] = 1;
      return { to, message: { type: 'sync-ask', ticket: this.ticket, asks } };
    });
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
        const l = learn(this.mods.blake3, (r) => storeItems(this.mods.store, r), reply, mine);
        next.push(...l.next);
        for (const it of l.differ) if (this.report(k, it)) wanted.push(it.block);
      }
      if (next.length > 0) {
        this.outstanding[k] = (this.outstanding[k] as number) + 1;
        out.push({ to: from, message: { type: 'sync-ask', ticket: this.ticket, asks: next } });
      }
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
    if (list === undefined) this.reports.set(it.token, (list = []));
    let r = list.find((x) => equal32(x.block, it.block));
    if (r === undefined) list.push((r = { token: it.token, block: it.block, by: 0, fetched: false }));
    r.by |= 1 << k;
    const agreeing = popcount(r.by) >= Math.min(2, this.partners.length);
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
      const id = blockId(this.mods.blake3, this.mods.networkId, signed.block);
      if (this.mods.busy(id)) continue;
      let mapped = false;
      for (const e of signed.block.entries) {
        const r = this.reports.get(e.token)?.find((x) => equal32(x.block, id) && x.fetched);
        if (r === undefined) continue;
        const cur = store.token(e.token);
        const spent = store.spend(e.token, e.last);
        if ((cur !== undefined && cur.time >= signed.block.time) || (spent !== undefined && !equal32(spent, id))) continue;
        tokens.push({ token: e.token, mapping: { block: id, parent: e.last, time: signed.block.time, seq, source: 'sync' } });
        mapped = true;
      }
      if (!mapped) continue;
      ids.push(id);
      if (!store.hasBlock(id)) {
        stored.push({ id, block: signed.block, signatures: signed.signatures, seq });
        for (const e of signed.block.entries) spends.push({ token: e.token, last: e.last, block: id });
      }
    }
    if (tokens.length === 0) return null;
    this.learned += tokens.length;
    const commit = makeCommitRecord(this.mods.blake3, { seq, prevId: head.id, time: now, blockIds: ids });
    return { commits: [commit], blocks: stored, tokens, spends };
  }
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x; v !== 0; v &= v - 1) n++;
  return n;
}
