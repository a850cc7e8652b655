/**
 * The state one peer's consensus core shares among its parts, and the types they share. peer.ts
 * owns it; own-vote.ts, commit.ts and send.ts are functions over it.
 */
import type { Blake3Kernel, Ed25519Kernel } from '../kernels/types.js';
import type { StoreReader } from '../store/types.js';
import type { Hex } from './hex.js';
import { PeerIds } from './keys.js';
import { TickLedger } from './ledger.js';
import type { Message } from './messages.js';
import type { Entry, EntryState, Pending } from './mempool.js';
import { Mempool } from './mempool.js';
import { Outbox } from './outbox.js';
import type { ConsensusParams } from './params.js';
import { Ring } from './ring.js';
import type { Tally } from './tally.js';
import { tally } from './tally.js';
import { TicketIssuer } from './tickets.js';
import type { BlockInvalidCode } from './validate.js';

export interface ConsensusCrypto {
  readonly blake3: Blake3Kernel;
  readonly ed25519: Ed25519Kernel;
}

export interface ConsensusModules {
  readonly crypto: ConsensusCrypto;
  readonly store: StoreReader;
  /** n random bytes; only ticket secrets use it. Seeded in tests and simulations. */
  readonly random: (n: number) => Uint8Array;
  /** Peer integers; a simulator shares one table among all its cores. */
  readonly peerIds?: PeerIds;
}

export type RejectCode = 'malformed' | 'from-self' | 'not-authorised' | 'invalid-block' | 'bad-ticket' | 'mempool-full' | 'internal-error';

/** STYLE §8: IGNORE drops quietly; REJECT drops and asks the transport to penalise the sender. */
export type RejectAction = 'ignore' | 'reject';

export type ConsensusEvent =
  | { readonly kind: 'accepted'; readonly id: Hex }
  /** `learned`: committed on T + 1 host reports rather than on a quorum in our own windows. */
  | { readonly kind: 'committed'; readonly id: Hex; readonly seq: number; readonly learned: boolean }
  /** A contender of a block committed here. */
  | { readonly kind: 'blocked'; readonly id: Hex; readonly winner: Hex }
  | { readonly kind: 'invalid'; readonly id: Hex | undefined; readonly code: BlockInvalidCode }
  | { readonly kind: 'expired'; readonly id: Hex; readonly state: EntryState }
  | { readonly kind: 'rejected'; readonly message: Message['type']; readonly code: RejectCode; readonly action: RejectAction };

/**
 * Why the core sent an item (metrics `ecd_message_items_sent_total{cause}`, the simulator's
 * items by cause): the entry's first wave, a receiver's forwarding, an echo of our vote to a new
 * sender, our vote to peers that asked before we had the body, polls, re-votes when our vote
 * changed, the decision to askers and to the origin, answers about decided or stored blocks, the
 * winner of a conflict, the refusal of a bad copy, body and parent fetches, body answers.
 */
export type SendCause =
  | 'first-wave'
  | 'forward'
  | 'echo'
  | 'tell'
  | 'poll'
  | 'revote'
  | 'decision'
  | 'origin'
  | 'late-answer'
  | 'stored-answer'
  | 'winner'
  | 'bad-copy'
  | 'fetch'
  | 'body';

/** The sender of a received message, as the handlers judge it. */
export interface Sender {
  readonly id: number;
  readonly connected: boolean;
  readonly client: boolean;
  readonly order: number;
}

export class CoreState {
  /** This peer's ring address (the caller's copy) and its peer integer. */
  readonly address: Uint8Array;
  readonly self: number;
  readonly p: ConsensusParams;
  readonly crypto: ConsensusCrypto;
  readonly store: StoreReader;
  readonly tickets: TicketIssuer;
  readonly peers: PeerIds;
  readonly pool: Mempool;

  connected: Ring;
  /** Connected ∪ Pending: first-wave targets. */
  contacts: Ring;
  /** Connected ∪ self: which keys this peer hosts. */
  hostRing: Ring;
  ringVersion = 0;

  tickNo = 0;
  /**
   * A core that starts over a store with history restarted and lost its locks: until this tick
   * it catches up before every first lock, as after a lock fell (§5.2).
   */
  readonly restartedUntil: number;
  /**
   * False while the peer's neighbourhood is still forming (consensus/lifecycle.ts `formed`): its
   * window of a token is not yet the token's true hosts, so it votes `0` on every entry.
   */
  votes = true;
  /** The caller's clock at the current input (unix ms): ticket epochs and the future-time rule. */
  now = 0;
  readonly outbox = new Outbox();
  /**
   * Pending blocks whose commit rule may have changed since the last tick: a vote arrived, a lock
   * they met fell, a commit or sync touched their tokens, or the ring changed. Blocks abstaining
   * while they catch up are looked at again when the catch-up ends (`catchingUp`).
   */
  readonly due = new Set<Entry>();
  /** Pending blocks whose own vote abstains until a catch-up deadline (`Pending.mineUntil`). */
  readonly catchingUp = new Set<Entry>();
  /** Entries that may still change state (not committed, blocked or invalid); see liveEntries. */
  private readonly live = new Set<Entry>();
  /** Blocks that became valid since the last tick: they vote and wave at the tick. */
  fresh: Entry[] = [];
  events: ConsensusEvent[] = [];
  causes: Partial<Record<SendCause, number>> = {};

  /** Committed state: the store and the commits of the tick being evaluated. */
  readonly ledger: TickLedger;

  constructor(modules: ConsensusModules, address: Uint8Array, params: ConsensusParams) {
    this.address = address;
    this.p = params;
    this.crypto = modules.crypto;
    this.store = modules.store;
    this.peers = modules.peerIds ?? new PeerIds();
    this.self = this.peers.intern(address);
    this.tickets = new TicketIssuer(modules.crypto.blake3, modules.random, params.ticketRotationMs);
    this.pool = new Mempool(params.maxRememberedLocks, (e) => this.due.add(e));
    this.restartedUntil = this.store.head().seq > 0 ? params.mempoolLifetimeTicks : 0;
    this.connected = Ring.of(this.peers, []);
    this.contacts = this.connected;
    this.hostRing = Ring.of(this.peers, [this.self]);
    this.ledger = new TickLedger(this.store);
  }

  /** The windows changed: every own vote and tally may have. */
  ringChanged(): void {
    this.ringVersion++;
    for (const e of this.liveEntries()) if (e.phase.state === 'pending') this.due.add(e);
  }

  /** A new mempool entry: polled and evaluated until it is decided or leaves the mempool. */
  addLive(e: Entry): void {
    this.live.add(e);
  }

  /**
   * The undecided entries still in the mempool, so the per-tick passes skip the decided ones
   * that stay until they expire. Decided and expired entries are dropped here, lazily.
   */
  liveEntries(): Entry[] {
    const out: Entry[] = [];
    for (const e of this.live) {
      const s = e.phase.state;
      if (s === 'committed' || s === 'blocked' || s === 'invalid' || e.left) this.live.delete(e);
      else out.push(e);
    }
    return out;
  }

  /** Whether this peer is in the neighbourhood of `key` (window(key) over Connected ∪ self). */
  hosts(key: Uint8Array): boolean {
    return this.connected.wholeRing(this.p.window) || this.hostRing.inWindow(key, this.self, this.p.window);
  }

  /** Members of a window: 2w + 1, or every Connected peer when there are fewer. */
  windowSize(): number {
    return Math.min(2 * this.p.window + 1, this.connected.size);
  }

  /** The tally of a pending block, kept until a vote arrives or the ring changes. */
  tallyFor(e: Entry, p: Pending): Tally {
    if (p.tally === undefined || p.tallyRing !== this.ringVersion) {
      p.tally = tally(this.connected, this.p.window, p.body.tokens, e.votes);
      p.tallyRing = this.ringVersion;
    }
    return p.tally;
  }

  emit(to: number, message: Message, cause: SendCause): void {
    this.outbox.push(to, message);
    this.causes[cause] = (this.causes[cause] ?? 0) + 1;
  }

  reject(message: Message['type'], code: RejectCode, action: RejectAction): void {
    this.events.push({ kind: 'rejected', message, code, action });
  }
}
