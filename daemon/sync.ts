/**
 * Sync on real frames (PROTOCOL §6; consensus/sync-session.ts holds the logic, the simulator runs
 * the same session). Once the neighbourhood has formed (or more than 2w + 2 peers are Connected),
 * whenever its sync partners or hosted arc change, and every `everyMs` anyway, the daemon
 * reconciles its hosted arc with its Connected neighbours, two on each side (w on each side for
 * its first session and after one that left tokens unsettled): SYNC_ASK / SYNC_REPLY, then
 * QUERY_BLOCK under the session's ticket for the mappings two of them report. A restarted daemon and a
 * joiner form first (elections), then sync; a host that missed commits catches up at the next
 * round. Accepted mappings are written to the store and the consensus core works its votes on
 * those tokens out again.
 *
 * Serving: a SYNC_ASK from a verified peer is answered from the store, at most `servePerTick`
 * per sender per tick (an ask walks its range); the consensus core serves the QUERY_BLOCKs.
 */
import type { Blake3Kernel } from '../kernels/types.js';
import type { Store } from '../store/types.js';
import { equal16, prefix48 } from '../consensus/keys.js';
import { answer } from '../consensus/sync.js';
import { hostedArc, storeItems, syncPartners, SyncSession, type SyncMessage } from '../consensus/sync-session.js';
import type { BlockMessage } from '../consensus/messages.js';
import type { SyncAskMessage, SyncReplyMessage } from '../wire/msg-sync.js';

export const SYNC_DRIVER = {
  /** A formed daemon syncs again this long after a session that completed. */
  everyMs: 30_000,
  /** …and this long after one that did not (a partner silent, or fewer than two partners), or that left tokens unsettled. */
  retryMs: 2_000,
  /**
   * …and this long after one that left blocks to the consensus core (they were in its mempool):
   * a mempool lifetime (200 ticks of 50 ms), by which the core committed or dropped them. Under
   * sustained load every session meets such blocks; retrying at `retryMs` would keep sync running.
   */
  deferredMs: 10_000,
  /** Sessions in a row retried soon for unsettled tokens; then the daemon waits `everyMs`. */
  unsettledRetries: 3,
  /** SYNC_ASKs served per sender per tick; more are dropped (the asker keeps ≤ 32 in flight). */
  servePerTick: 64,
  /** Senders served per tick. */
  maxServedSenders: 64,
} as const;

export interface SyncDriverModules {
  readonly blake3: Blake3Kernel;
  readonly networkId: bigint;
  readonly store: Store;
  readonly address: Uint8Array;
  readonly window: number;
  readonly maxFutureMs: number;
  /** The consensus core decides this block (it is in the mempool): sync leaves it alone. */
  readonly busy: (id: Uint8Array) => boolean;
  /** Sync wrote these mappings. */
  readonly synced: (tokens: readonly Uint8Array[]) => void;
  readonly connected: () => readonly Uint8Array[];
  readonly formed: () => boolean;
  /** Queue a message to the peer with this address. */
  readonly send: (to: Uint8Array, message: SyncMessage) => void;
  readonly random: (n: number) => Uint8Array;
  readonly clock: () => number;
}

export interface SyncView {
  running: boolean;
  sessions: number;
  /** Sessions that ended with every ask answered and every fetched block received. */
  completed: number;
  /** Mappings learned by sync since start. */
  learned: number;
  /**
   * The last session: how long it took (the sync lag of a daemon that was behind), its partners,
   * what it learned, the tokens it left unsettled, when it ended.
   */
  last: { ms: number; partners: number; learned: number; unsettled: number; endedAgoMs: number } | null;
  served: number;
  /** Asks over the per-sender budget. */
  refused: number;
}

export class SyncDriver {
  private session: SyncSession | null = null;
  private startedAt = 0;
  private nextAt = 0;
  /** The partners and arc the last session was started for (prefixes, as a string). */
  private lastShape = '';
  private readonly servedBy = new Map<string, number>();
  private readonly stats = { sessions: 0, completed: 0, learned: 0, served: 0, refused: 0 };
  private last: { ms: number; partners: number; learned: number; unsettled: number; at: number } | null = null;
  /** Sessions in a row that left tokens unsettled, up to now. */
  private unsettledRuns = 0;

  constructor(private readonly mods: SyncDriverModules) {}

  /**
   * The next session asks every Connected peer within w on each side, not two: the first session
   * (a restarted daemon or a joiner must not rest on two partners that may be behind themselves),
   * and those after a session that left tokens unsettled.
   */
  private get wide(): boolean {
    return this.stats.sessions === 0 || (this.unsettledRuns > 0 && this.unsettledRuns <= SYNC_DRIVER.unsettledRetries);
  }

  /** A session is in flight. */
  get running(): boolean {
    return this.session !== null;
  }

  /** Each daemon tick: ages the session, ends it when done, starts one when due. */
  tick(): void {
    this.servedBy.clear();
    const now = this.mods.clock();
    if (this.session !== null) {
      this.session.tick();
      if (this.session.done) this.end(now);
      return;
    }
    const connected = this.mods.connected();
    // Formed, or Connected to more than a window's worth (the arc is then an arc, not the whole
    // ring): a restarted daemon syncs while its last core peers are still being elected.
    if (!this.mods.formed() && connected.length <= 2 * this.mods.window + 2) return;
    const near = syncPartners(this.mods.address, connected);
    const arc = hostedArc(this.mods.address, connected, this.mods.window);
    const shape = [...near, ...arc.flatMap((r) => [r.lo, r.hi])].map(prefix48).join(',');
    if (shape === this.lastShape && now < this.nextAt) return;
    this.lastShape = shape;
    this.nextAt = now + SYNC_DRIVER.retryMs;
    if (near.length < 2) return;
    const partners = this.wide ? syncPartners(this.mods.address, connected, this.mods.window) : near;
    const m = this.mods;
    this.session = new SyncSession({ blake3: m.blake3, networkId: m.networkId, store: m.store, busy: m.busy, maxFutureMs: m.maxFutureMs }, partners, arc, m.random(16));
    this.startedAt = now;
    this.stats.sessions++;
    for (const o of this.session.start()) m.send(o.to, o.message);
  }

  /** True when a BLOCK with this ticket answers our session's fetch. */
  owns(ticket: Uint8Array): boolean {
    return this.session !== null && equal16(ticket, this.session.ticket);
  }

  /** A SYNC_ASK from a verified peer: the reply, or null over the sender's budget. */
  serve(from: Uint8Array, m: SyncAskMessage): SyncReplyMessage | null {
    const key = String.fromCharCode(...from.subarray(0, 8));
    const n = this.servedBy.get(key) ?? 0;
    if (n >= SYNC_DRIVER.servePerTick || (n === 0 && this.servedBy.size >= SYNC_DRIVER.maxServedSenders)) {
      this.stats.refused++;
      return null;
    }
    this.servedBy.set(key, n + 1);
    this.stats.served++;
    return { type: 'sync-reply', ticket: m.ticket, reply: answer(this.mods.blake3, (r) => storeItems(this.mods.store, r), m.ask) };
  }

  /** A SYNC_REPLY, or a BLOCK the caller found we own, from the peer with this address. */
  receive(from: Uint8Array, m: SyncReplyMessage | BlockMessage): void {
    const s = this.session;
    if (s === null) return;
    const now = this.mods.clock();
    const r = s.receive(from, m, now);
    if (r.batch !== null) {
      this.mods.store.apply(r.batch);
      this.mods.synced(r.batch.tokens.map((t) => t.token));
    }
    for (const o of r.messages) this.mods.send(o.to, o.message);
    if (r.done) this.end(now);
  }

  view(): SyncView {
    const now = this.mods.clock();
    const l = this.last;
    const last = l === null ? null : { ms: l.ms, partners: l.partners, learned: l.learned, unsettled: l.unsettled, endedAgoMs: now - l.at };
    return { running: this.session !== null, ...this.stats, last };
  }

  private end(now: number): void {
    const s = this.session as SyncSession;
    if (s.complete) this.stats.completed++;
    this.stats.learned += s.learned;
    const unsettled = s.unsettled;
    this.last = { ms: now - this.startedAt, partners: s.partnerCount, learned: s.learned, unsettled, at: now };
    this.session = null;
    this.unsettledRuns = unsettled > 0 ? this.unsettledRuns + 1 : 0;
    const soon = (!s.complete && !s.deferred) || this.wide;
    this.nextAt = now + (soon ? SYNC_DRIVER.retryMs : s.deferred ? SYNC_DRIVER.deferredMs : SYNC_DRIVER.everyMs);
  }
}
