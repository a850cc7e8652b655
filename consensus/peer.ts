/**
 * One peer's consensus state machine (PROTOCOL §5, version 2: three-valued locked votes, a
 * quorum, learning).
 *
 * Pure: no sockets, no clock, no hidden randomness. The driver (daemon or simulator) calls
 *   setPeers(connected, pending)       whenever its peer sets change
 *   receive(now, from, message, meta)  for every authenticated message
 *   submit(now, signedBlock)           for a block from the local operator
 *   tick(now)                          once per tick
 * and each call returns an Output: messages to send, at most one storage batch (from tick only),
 * and events. Contract: apply `output.batch` to the store (atomically, durably) before sending any
 * of `output.messages` and before the next call: the messages may acknowledge the commits.
 *
 * The parts: mempool.ts (entries and indexes), judge.ts (what committed state says of an entry),
 * tally.ts (the commit rule), ring.ts (windows), outbox.ts (batching). This file holds the
 * handlers, the locks and the sending policy.
 */
import type { Blake3Kernel, Ed25519Kernel } from '../kernels/types.js';
import type { Block, SignedBlock } from '../wire/block.js';
import { blockId, makeCommitRecord } from '../wire/block.js';
import type { CommitBatch, SpendWrite, StoreReader, StoredBlock, TokenWrite } from '../store/types.js';
import type { Hex } from './hex.js';
import { toHex } from './hex.js';
import { ABSTAIN, INVALID, judgeEntry } from './judge.js';
import type { Ledger } from './judge.js';
import { compare32, equal32, IdMap, PeerIds, prefix48 } from './keys.js';
import type { Message } from './messages.js';
import { wellFormed } from './messages.js';
import type { Body, Entry, EntryState, Pending } from './mempool.js';
import { bodyOf, Mempool, newEntry } from './mempool.js';
import { Outbox } from './outbox.js';
import type { ConsensusParams } from './params.js';
import { prefixDistance, Ring } from './ring.js';
import type { Tally } from './tally.js';
import { hostReports, meetsQuorum, tally } from './tally.js';
import { TICKET_USE, TicketIssuer } from './tickets.js';
import type { BlockInvalidCode } from './validate.js';
import { checkAgainstParents, checkStandalone } from './validate.js';
import { committedVote, HOST_BITS, isCommittedMasks, REJECTED } from './votes.js';

export type { EntryState } from './mempool.js';

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

export interface ConsensusOptions {
  /** This peer's ring address (32 bytes). */
  readonly address: Uint8Array;
  readonly params: ConsensusParams;
}

/** What the transport knows about a received message beyond its sender. */
export interface ReceiveMeta {
  /** The sender presented a valid client ticket (§5.6): it may submit blocks and ask for answers. */
  readonly client?: boolean;
  /** Sender-side order (the frame's packet number): an older vote never replaces a newer one. */
  readonly order?: number;
}

/** An entry's state, or `stored` (committed and dropped from the mempool), or `unknown`. */
export type BlockStatus = EntryState | 'stored' | 'unknown';

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

export interface Output {
  readonly messages: readonly import('./messages.js').Outgoing[];
  readonly batch: CommitBatch | null;
  readonly events: readonly ConsensusEvent[];
  /** Items in `messages` (a batch counts its items) by the rule that sent them. */
  readonly causes: Readonly<Partial<Record<SendCause, number>>>;
}

export interface SubmitOutput extends Output {
  /** Undefined when the block is structurally invalid (no id can be computed). */
  readonly id: Hex | undefined;
  readonly status: BlockStatus;
}

interface Sender {
  readonly id: number;
  readonly connected: boolean;
  readonly client: boolean;
  readonly order: number;
}

/** Validation failures that belong to a copy's signatures, not to the block its id names. */
const COPY_FAULTS: ReadonlySet<string> = new Set(['wrong-key', 'bad-signature', 'bad-signature-index']);
/** Distinct senders of bad copies after which a block id is refused like an invalid block. */
const MAX_BAD_COPIES = 8;
/** Tokens remembered as touched by a commit; beyond it every own vote is worked out again. */
const TOUCHED_MAX = 65_536;
/** Fetch retries back off: base × 2^(k−1) after the k-th unanswered one, at most base × 8. */
const FETCH_BACKOFF_MAX_SHIFT = 3;
/**
 * Poll rounds back off: the k-th comes pollIntervalTicks × 2^min(k, 4) after the one before, so
 * a block polls about five times in its lifetime and still reaches a peer that restarted late.
 */
const POLL_BACKOFF_MAX_SHIFT = 4;
/** Window members asked per unresolved role and poll round. */
const POLL_FANOUT = 2;

/** Parent bodies kept aside for checking children. */
const PARENT_CACHE = 4096;

const NO_VOTE = -1;

function pack(pos: number, neg: number): number {
  return pos | (neg << 8);
}

function fetchCooldown(base: number, fetches: number): number {
  return fetches <= 1 ? base : base << Math.min(fetches - 1, FETCH_BACKOFF_MAX_SHIFT);
}

export class ConsensusPeer {
  readonly address: Uint8Array;
  readonly addressHex: Hex;
  private readonly self: number;
  private readonly p: ConsensusParams;
  private readonly crypto: ConsensusCrypto;
  private readonly store: StoreReader;
  private readonly tickets: TicketIssuer;
  private readonly peers: PeerIds;
  private readonly pool: Mempool;

  private connected: Ring;
  /** Connected ∪ Pending: first-wave targets. */
  private contacts: Ring;
  /** Connected ∪ self: which keys this peer hosts. */
  private hostRing: Ring;
  private ringVersion = 0;

  /** Bumped whenever this peer commits: own votes on the touched tokens are worked out again. */
  private commitGen = 0;
  private readonly touched = new IdMap<number>();
  private touchedFloor = 0;

  private tickNo = 0;
  /**
   * A core that starts over a store with history restarted and lost its locks: until this tick
   * it catches up before every first lock, as after a lock fell (§5.2).
   */
  private readonly restartedUntil: number;
  /** The caller's clock at the current input (unix ms): ticket epochs and the future-time rule. */
  private now = 0;
  private readonly outbox = new Outbox();
  /** Blocks that became valid since the last tick: they vote and wave at the tick. */
  private fresh: Entry[] = [];
  private events: ConsensusEvent[] = [];
  private causes: Partial<Record<SendCause, number>> = {};

  /** Commits of the tick being evaluated, visible to the blocks evaluated after them. */
  private overlaySpends = new IdMap<{ last: Uint8Array; block: Uint8Array }[]>();
  private overlayBlocks = new IdMap<true>();
  private overlayMapped = new IdMap<true>();
  private readonly ledger: Ledger;
  /** Bodies of parents fetched only to check their children (oldest out first). */
  private readonly parentBodies = new IdMap<SignedBlock>();
  private readonly parentOrder: Uint8Array[] = [];

  constructor(modules: ConsensusModules, options: ConsensusOptions) {
    if (!(options.address instanceof Uint8Array) || options.address.length !== 32) throw new RangeError('address must be 32 bytes');
    this.address = Uint8Array.from(options.address);
    this.addressHex = toHex(this.address);
    this.p = options.params;
    this.crypto = modules.crypto;
    this.store = modules.store;
    this.peers = modules.peerIds ?? new PeerIds();
    this.self = this.peers.intern(this.address);
    this.tickets = new TicketIssuer(modules.crypto.blake3, modules.random, options.params.ticketRotationMs);
    this.pool = new Mempool(options.params.maxRememberedLocks);
    this.restartedUntil = this.store.head().seq > 0 ? options.params.mempoolLifetimeTicks : 0;
    this.connected = Ring.of(this.peers, []);
    this.contacts = this.connected;
    this.hostRing = Ring.of(this.peers, [this.self]);
    this.ledger = {
      spentBy: (token, last) => {
        const o = this.overlaySpends.get(token);
        if (o !== undefined) for (const s of o) if (equal32(s.last, last)) return s.block;
        return this.store.spend(token, last);
      },
      isCommitted: (id) => this.overlayBlocks.has(id) || this.store.hasBlock(id),
      hasMapping: (token) => this.overlayMapped.has(token) || this.store.token(token) !== undefined,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Inputs.

  /** The Connected set (votes count, windows, polls) and the Pending set (first-wave targets too). */
  setPeers(connected: Iterable<Uint8Array>, pending: Iterable<Uint8Array> = []): void {
    const c: number[] = [];
    for (const a of connected) if (a instanceof Uint8Array && a.length === 32) c.push(this.peers.intern(a));
    const all = [...c];
    for (const a of pending) if (a instanceof Uint8Array && a.length === 32) all.push(this.peers.intern(a));
    this.connected = Ring.of(this.peers, c, this.self);
    this.contacts = all.length === c.length ? this.connected : Ring.of(this.peers, all, this.self);
    this.hostRing = Ring.of(this.peers, [...c, this.self]);
    this.ringVersion++;
  }

  receive(now: number, from: Uint8Array, message: Message, meta: ReceiveMeta = {}): Output {
    this.now = now;
    if (!(from instanceof Uint8Array) || from.length !== 32 || !wellFormed(message, this.p.maxBatchItems)) {
      this.reject(message?.type ?? 'vote', 'malformed', 'reject');
      return this.flush(null);
    }
    const id = this.peers.intern(from);
    if (id === this.self) {
      this.reject(message.type, 'from-self', 'ignore');
      return this.flush(null);
    }
    const s: Sender = { id, connected: this.connected.has(id), client: meta.client === true, order: meta.order ?? -Infinity };
    try {
      if (message.type === 'batch') for (const item of message.items) this.dispatch(now, s, item);
      else this.dispatch(now, s, message);
    } catch {
      // Our bug, not the sender's fault (STYLE §8): never penalise; the event makes it visible.
      this.reject(message.type, 'internal-error', 'ignore');
    }
    return this.flush(null);
  }

  submit(now: number, signed: SignedBlock): SubmitOutput {
    this.now = now;
    const code = checkStandalone(signed, now, this.p.maxFutureMs);
    if (code !== null) {
      this.events.push({ kind: 'invalid', id: undefined, code });
      return { ...this.flush(null), id: undefined, status: 'unknown' };
    }
    const id = blockId(this.crypto.blake3, this.p.networkId, signed.block);
    const hex = toHex(id);
    let e = this.pool.get(id);
    if (e === undefined && this.store.hasBlock(id)) return { ...this.flush(null), id: hex, status: 'stored' };
    if (e === undefined) {
      if (this.pool.size >= this.p.maxMempoolEntries) {
        this.reject('initial-vote', 'mempool-full', 'ignore');
        return { ...this.flush(null), id: hex, status: 'unknown' };
      }
      e = this.create(id);
    }
    e.origin = this.self;
    if (e.phase.state === 'placeholder') this.attachBody(e, signed, undefined, false);
    const refused = this.events.some((ev) => ev.kind === 'invalid' && ev.id === hex);
    return { ...this.flush(null), id: hex, status: refused ? 'invalid' : e.phase.state };
  }

  tick(now: number): Output {
    this.now = now;
    this.tickNo++;
    for (const e of this.pool.expire(this.tickNo - this.p.mempoolLifetimeTicks)) this.events.push({ kind: 'expired', id: toHex(e.id), state: e.phase.state });
    this.waveFresh();
    const batch = this.evaluate(now);
    this.poll();
    return this.flush(batch);
  }

  // -------------------------------------------------------------------------------------------
  // Read-only views (tests, control API, simulator).

  status(id: Uint8Array): BlockStatus {
    const e = this.pool.get(id);
    if (e !== undefined) return e.phase.state;
    return this.store.hasBlock(id) ? 'stored' : 'unknown';
  }

  /** Our current vote on a block in the mempool. */
  voteOf(id: Uint8Array): { pos: number; neg: number } | undefined {
    const e = this.pool.get(id);
    if (e === undefined) return undefined;
    const v = this.currentVote(e);
    return { pos: v & 0xff, neg: v >> 8 };
  }

  /** Current tallies of a pending block (Connected voters only). */
  tallyOf(id: Uint8Array): Tally | undefined {
    const e = this.pool.get(id);
    return e?.phase.state === 'pending' ? this.tallyFor(e, e.phase) : undefined;
  }

  /** The committed contender that blocked this block here, if any. */
  winnerOf(id: Uint8Array): Uint8Array | undefined {
    const p = this.pool.get(id)?.phase;
    return p?.state === 'blocked' ? p.winner : undefined;
  }

  hosts(token: Uint8Array): boolean {
    return this.connected.wholeRing(this.p.window) || this.hostRing.inWindow(token, this.self, this.p.window);
  }

  /** Ring addresses of window(key) over the Connected peers (PROTOCOL §5.1). */
  windowOf(key: Uint8Array): Uint8Array[] {
    return this.connected.window(key, this.p.window).map((h) => this.peers.address(h));
  }

  get mempoolSize(): number {
    return this.pool.size;
  }

  get tickNumber(): number {
    return this.tickNo;
  }

  // -------------------------------------------------------------------------------------------
  // Message handlers.

  private dispatch(now: number, s: Sender, m: Message): void {
    switch (m.type) {
      case 'vote':
        return this.onVote(s, m.blockId, m.pos, m.neg, m.reply);
      case 'initial-vote':
        return this.onInitialVote(now, s, { block: m.block, signatures: m.signatures }, m.pos, m.neg, m.origin);
      case 'query-block':
        return this.onQueryBlock(s, m.blockId, m.ticket);
      case 'block':
        return this.onBlock(now, s, { block: m.block, signatures: m.signatures }, m.ticket);
      case 'batch':
        return this.reject('batch', 'malformed', 'reject');
    }
  }

  private onVote(s: Sender, idBytes: Uint8Array, pos: number, neg: number, reply: boolean): void {
    // Peers outside our ring count only as host reports (learning); clients never vote.
    const report = isCommittedMasks(pos, neg) && (pos & HOST_BITS) !== 0;
    let e = this.pool.get(idBytes);
    if (e === undefined) {
      if (this.store.hasBlock(idBytes)) {
        if (reply) this.answerStored(s.id, idBytes, 'stored-answer');
        return;
      }
      if (s.client || (!s.connected && !report)) {
        if (!s.client) this.reject('vote', 'not-authorised', 'ignore');
        return;
      }
      if (this.pool.size >= this.p.maxMempoolEntries) return this.reject('vote', 'mempool-full', 'ignore');
      e = this.create(Uint8Array.from(idBytes));
      this.record(e, s, pos, neg);
      if (reply) this.ask(e, s.id);
      this.fetchBody(e);
      return;
    }
    if (!s.client && (s.connected || report)) this.record(e, s, pos, neg);
    if (this.isDecided(e)) {
      if (reply) this.answerDecided(e, s.id, 'late-answer');
      return;
    }
    if (reply) {
      this.ask(e, s.id);
      this.echo(e, s);
    }
  }

  private onInitialVote(now: number, s: Sender, signed: SignedBlock, pos: number, neg: number, origin: Uint8Array): void {
    if (!s.connected && !s.client) return this.reject('initial-vote', 'not-authorised', 'ignore');
    const code = checkStandalone(signed, now, this.p.maxFutureMs);
    if (code !== null) {
      this.events.push({ kind: 'invalid', id: undefined, code });
      // A block from the future may be our clock's fault; anything else is the sender's.
      return this.reject('initial-vote', 'invalid-block', code === 'too-far-in-future' ? 'ignore' : 'reject');
    }
    const id = blockId(this.crypto.blake3, this.p.networkId, signed.block);
    const originId = this.peers.intern(origin);
    let e = this.pool.get(id);
    if (e === undefined && this.store.hasBlock(id)) {
      this.answerStored(s.id, id, 'stored-answer');
      if (originId !== s.id && originId !== this.self) this.answerStored(originId, id, 'origin');
      return;
    }
    if (e !== undefined && this.isDecided(e)) {
      this.answerDecided(e, s.id, 'late-answer');
      if (e.phase.state === 'committed' && originId !== s.id && originId !== this.self) this.answerDecided(e, originId, 'origin');
      return;
    }
    if (e?.badCopies?.has(s.id) === true) return this.reject('initial-vote', 'invalid-block', 'ignore');
    if (e === undefined) {
      if (this.pool.size >= this.p.maxMempoolEntries) return this.reject('initial-vote', 'mempool-full', 'ignore');
      e = this.create(id);
    }
    if (!s.client) this.record(e, s, pos, neg);
    e.origin ??= originId;
    this.ask(e, s.id);
    // Only a sender that judged the block (a `+` or `−` in its vote) vouches for its copy.
    if (e.phase.state === 'placeholder') this.attachBody(e, signed, s.id, ((pos | neg) & HOST_BITS) !== 0);
    if (e.phase.state === 'invalid') this.answerDecided(e, s.id, 'late-answer');
    else this.echo(e, s);
  }

  private onQueryBlock(s: Sender, id: Uint8Array, ticket: Uint8Array): void {
    const signed = this.knownSigned(id);
    if (signed !== undefined) this.emit(s.id, { type: 'block', block: signed.block, signatures: signed.signatures, ticket }, 'body');
  }

  private onBlock(now: number, s: Sender, signed: SignedBlock, ticket: Uint8Array): void {
    const code = checkStandalone(signed, now, this.p.maxFutureMs);
    if (code !== null) {
      this.events.push({ kind: 'invalid', id: undefined, code });
      return this.reject('block', 'invalid-block', code === 'too-far-in-future' ? 'ignore' : 'reject');
    }
    const id = blockId(this.crypto.blake3, this.p.networkId, signed.block);
    let e = this.pool.get(id);
    // A body we are waiting for is taken from a Connected peer without a live ticket: its content
    // hashes to the id we asked for, and an answer under load may outlive the ticket. Anything
    // else needs our ticket (§8).
    const awaited = s.connected && (e?.phase.state === 'placeholder' || this.pool.isAwaited(id));
    if (!awaited && this.tickets.check(now, ticket, id, [TICKET_USE.body, TICKET_USE.parent]) === undefined) return this.reject('block', 'bad-ticket', 'ignore');
    if ((e !== undefined && e.phase.state !== 'placeholder') || e?.badCopies?.has(s.id) === true || this.store.hasBlock(id)) return;
    if (e === undefined && !signed.block.entries.some((x) => this.hosts(x.token))) {
      // A parent we need only to check a child against: its content is what the child names, and
      // whether it committed is its hosts' business. Kept aside, not voted on.
      if (this.pool.isAwaited(id)) this.keepParent(id, signed);
      return;
    }
    if (e === undefined) {
      // A parent of a token we host that we never committed: we are behind, and voting on it
      // lets us learn its commit from the other hosts.
      if (this.pool.size >= this.p.maxMempoolEntries) return this.reject('block', 'mempool-full', 'ignore');
      e = this.create(id);
    }
    this.attachBody(e, signed, s.id, false);
  }

  /** Keeps a fetched parent's body (bounded) and checks the children that waited for it. */
  private keepParent(id: Uint8Array, signed: SignedBlock): void {
    this.parentBodies.set(id, signed);
    this.parentOrder.push(id);
    while (this.parentOrder.length > PARENT_CACHE) this.parentBodies.delete(this.parentOrder.shift() as Uint8Array);
    this.wakeChildren(id);
  }

  private wakeChildren(parent: Uint8Array): void {
    for (const child of this.pool.takeWaiting(parent)) {
      if (child.phase.state === 'awaiting-parents') this.attachBody(child, child.phase.body.signed, child.phase.source, false);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Entries: creation, votes, validation.

  private create(id: Uint8Array): Entry {
    const e = newEntry(id, this.tickNo);
    this.pool.add(e);
    return e;
  }

  private record(e: Entry, s: Sender, pos: number, neg: number): void {
    if (e.badCopies?.has(s.id) === true) return;
    const prev = e.votes.get(s.id);
    if (prev !== undefined && s.order < prev.order) return;
    e.votes.set(s.id, { pos, neg, order: s.order });
    if (e.phase.state !== 'pending') return;
    e.phase.tally = undefined;
    // While we catch up, every vote may end it: work our vote out again.
    if (e.phase.mineUntil !== Infinity) e.phase.mineGen = -1;
  }

  private ask(e: Entry, peer: number): void {
    if (e.askers.size < this.p.maxAskersPerBlock) e.askers.add(peer);
  }

  private isDecided(e: Entry): boolean {
    return e.phase.state === 'committed' || e.phase.state === 'blocked' || e.phase.state === 'invalid';
  }

  /** `claimed`: the sender vouched for this copy in this very message (an INITIAL_VOTE). */
  private attachBody(e: Entry, signed: SignedBlock, source: number | undefined, claimed: boolean): void {
    this.pool.unwait(e);
    const check = checkAgainstParents(this.crypto, signed, e.id, (last) => this.knownSigned(last)?.block);
    if (check.kind === 'invalid' && COPY_FAULTS.has(check.code) && this.dropCopy(e, check.code, source, claimed)) return;
    e.fetches = 0;
    e.lastFetch = -Infinity;
    if (check.kind === 'invalid') {
      e.phase = { state: 'invalid' };
      this.events.push({ kind: 'invalid', id: toHex(e.id), code: check.code });
      this.answerAskers(e);
      return;
    }
    const body = bodyOf(signed);
    if (check.kind === 'missing-parents') {
      e.phase = { state: 'awaiting-parents', body, source, missing: check.parents };
      this.pool.wait(e, check.parents);
      this.fetchParents(e);
      // A submission goes out at once, abstaining (`0`): the hosts hold the parent and check it
      // themselves, so waiting for it here would only add a round trip.
      if (source === undefined) this.firstWave(e, body, undefined);
      // Its children need only its body.
      this.wakeChildren(e.id);
      return;
    }
    this.becomeValid(e, body, source);
    this.wakeChildren(e.id);
  }

  /**
   * The id does not cover the signatures: a copy with bad ones proves nothing, but another copy
   * of the same block may be genuine. Drops the copy, not the id, so a relay cannot censor a block
   * by racing a corrupted copy ahead of it; the sender's later copies and votes on this id are
   * ignored. After MAX_BAD_COPIES senders the id is refused like an invalid block (returns false).
   * Only a sender that vouched for the copy in this message (judged it: a `+` or `−` in its vote)
   * is penalised and told `rejected`; an abstaining sender may not have held the parent.
   */
  private dropCopy(e: Entry, code: BlockInvalidCode, source: number | undefined, claimed: boolean): boolean {
    const hex = toHex(e.id);
    if (source === undefined) {
      // Our own submission: refused and forgotten, so a genuine copy can be submitted next.
      this.events.push({ kind: 'invalid', id: hex, code });
      e.phase = { state: 'placeholder' };
      if (e.votes.size === 0 && e.askers.size === 0) this.pool.forget(e);
      return true;
    }
    e.badCopies ??= new Set();
    e.badCopies.add(source);
    if (e.badCopies.size >= MAX_BAD_COPIES) return false;
    this.events.push({ kind: 'invalid', id: hex, code });
    e.votes.delete(source);
    e.askers.delete(source);
    e.phase = { state: 'placeholder' };
    if (claimed) {
      this.reject('initial-vote', 'invalid-block', 'reject');
      this.emit(source, { type: 'vote', blockId: e.id, ...REJECTED, reply: false }, 'bad-copy');
    }
    return true;
  }

  /** A block that passed validation: blocked by a committed contender, or voting. */
  private becomeValid(e: Entry, body: Body, source: number | undefined): void {
    const p: Pending = { state: 'pending', body, source, waved: false, mine: NO_VOTE, mineGen: -1, mineRing: -1, mineUntil: Infinity, tally: undefined, tallyRing: -1, pollIn: this.p.pollIntervalTicks, polls: 0 };
    e.phase = p;
    this.pool.index(e, body);
    this.events.push({ kind: 'accepted', id: toHex(e.id) });
    const winner = this.committedConflict(body, e.id);
    if (winner !== undefined) return this.block(e, winner);
    this.fresh.push(e);
  }

  /**
   * The blocks that became valid since the last tick vote and send their first wave now, all
   * together: contenders that arrived in the same tick are then known side by side and the highest
   * id takes the lock at every host that saw them both, instead of whichever each host happened
   * to read first (which splits the hosts and stalls the family). Messages of receive calls and
   * of the tick leave together, so this costs no tick.
   */
  private waveFresh(): void {
    const fresh = this.fresh;
    this.fresh = [];
    for (const e of fresh) {
      const p = e.phase;
      if (p.state !== 'pending' || p.waved) continue;
      p.waved = true;
      // Peers told our `0` while we fetched a parent hear our vote now.
      const mine = this.currentVote(e);
      for (const [h, v] of e.told) {
        if (v === mine) continue;
        e.told.set(h, mine);
        this.sendVote(h, e, mine, true, 'revote');
      }
      this.firstWave(e, p.body, p.source);
      // Peers that asked while we had only the id hear our vote now.
      for (const a of e.askers) this.tell(e, a, 'tell');
    }
  }

  /** A committed block (store or this tick's commits) that spent one of the entries, if any. */
  private committedConflict(body: Body, id: Uint8Array): Uint8Array | undefined {
    for (let i = 0; i < body.tokens.length; i++) {
      const spent = this.ledger.spentBy(body.tokens[i] as Uint8Array, body.lasts[i] as Uint8Array);
      if (spent !== undefined && !equal32(spent, id)) return spent;
    }
    return undefined;
  }

  /** e lost to a committed contender: askers hear `rejected` and the winner. */
  private block(e: Entry, winner: Uint8Array): void {
    if (e.phase.state === 'pending') this.pool.release(e, e.phase.body, false);
    e.phase = { state: 'blocked', winner };
    this.events.push({ kind: 'blocked', id: toHex(e.id), winner: toHex(winner) });
    const targets = new Set<number>(e.askers);
    for (const v of e.votes.keys()) targets.add(v);
    this.answerAskers(e);
    for (const h of targets) this.forwardWinner(winner, h);
  }

  // -------------------------------------------------------------------------------------------
  // Own vote and locks (§5.2).

  /** Our vote on e, packed; worked out again when a commit, the ring or a catch-up changed it. */
  private currentVote(e: Entry): number {
    const p = e.phase;
    switch (p.state) {
      case 'committed':
        return pack(committedVote(this.hostMask(p.body)).pos, 0);
      case 'blocked':
      case 'invalid':
        return pack(REJECTED.pos, REJECTED.neg);
      case 'pending':
        if (p.mine === NO_VOTE || this.voteStale(p)) this.workOutVote(e, p);
        return p.mine;
      default:
        return 0;
    }
  }

  private voteStale(p: Pending): boolean {
    if (p.mineRing !== this.ringVersion || this.tickNo >= p.mineUntil || p.mineGen < this.touchedFloor) return true;
    for (const t of p.body.tokens) if ((this.touched.get(t) ?? -1) > p.mineGen) return true;
    return false;
  }

  /**
   * Per entry of a hosted token: `−` when committed state says `last` is not current or we are
   * locked on a contender; `0` when we are behind, or catching up after a lock on (token, last)
   * fell or after a restart (§5.2: we abstain and ask, until our whole window of the token voted
   * without a `−` or `catchUpTicks` passed; a commit of the old block reaches us meanwhile as a
   * conflict's winner); else `+`, which locks (token, last) on e.
   */
  private workOutVote(e: Entry, p: Pending): void {
    let pos = 0;
    let neg = 0;
    let until = Infinity;
    for (let i = 0; i < p.body.tokens.length; i++) {
      const token = p.body.tokens[i] as Uint8Array;
      const last = p.body.lasts[i] as Uint8Array;
      if (!this.hosts(token)) continue;
      const j = judgeEntry(this.ledger, e.id, token, last);
      if (j === ABSTAIN) continue;
      if (j === INVALID) {
        neg |= 1 << i;
        continue;
      }
      const s = this.pool.spend(token, last);
      if (s === undefined) continue;
      if (s.lock !== undefined && s.lock !== e) {
        neg |= 1 << i;
        continue;
      }
      if (s.lock === undefined) {
        // Several contenders known before we voted on any: the highest id takes the lock (§5.2).
        if (this.higherPending(s.blocks, e)) {
          neg |= 1 << i;
          continue;
        }
        const f = this.pool.formerLock(token, last);
        if ((f !== undefined && !equal32(f.block, e.id)) || this.tickNo < this.restartedUntil) {
          if (s.catchUpUntil < 0) s.catchUpUntil = this.tickNo + this.p.catchUpTicks;
          if (this.tickNo < s.catchUpUntil && !this.windowAgrees(e, token, i)) {
            until = Math.min(until, s.catchUpUntil);
            continue;
          }
        }
        if (f !== undefined) this.pool.dropFormer(f);
        s.lock = e;
      }
      pos |= 1 << i;
    }
    p.mine = pack(pos, neg);
    p.mineGen = this.commitGen;
    p.mineRing = this.ringVersion;
    p.mineUntil = until;
  }

  private higherPending(blocks: readonly Entry[], e: Entry): boolean {
    for (const b of blocks) if (b !== e && b.phase.state === 'pending' && compare32(b.id, e.id) > 0) return true;
    return false;
  }

  /**
   * Catching up ends early once every member of our window of the token voted on e and none of
   * them is `−` on entry i: no host there is locked on a contender or saw one commit.
   */
  private windowAgrees(e: Entry, token: Uint8Array, i: number): boolean {
    for (const h of this.connected.window(token, this.p.window)) {
      const v = e.votes.get(h);
      if (v === undefined || (!isCommittedMasks(v.pos, v.neg) && ((v.neg >> i) & 1) !== 0) || v.neg === REJECTED.neg) return false;
    }
    return true;
  }

  /** Bits of the entries whose token this peer hosts (the host claim of a committed vote). */
  private hostMask(body: Body): number {
    let m = 0;
    for (let i = 0; i < body.tokens.length; i++) if (this.hosts(body.tokens[i] as Uint8Array)) m |= 1 << i;
    return m;
  }

  private tallyFor(e: Entry, p: Pending): Tally {
    if (p.tally === undefined || p.tallyRing !== this.ringVersion) {
      p.tally = tally(this.connected, this.p.window, p.body.tokens, e.id, e.votes);
      p.tallyRing = this.ringVersion;
    }
    return p.tally;
  }

  // -------------------------------------------------------------------------------------------
  // Tick: commit evaluation (§5.3).

  private evaluate(now: number): CommitBatch | null {
    const pending: Entry[] = [];
    for (const e of this.pool.entries()) if (e.phase.state === 'pending') pending.push(e);
    if (pending.length === 0) return null;
    // Parents before children: a child's time is strictly greater, so both can commit in one tick.
    const time = (e: Entry): number => (e.phase as Pending).body.signed.block.time;
    pending.sort((a, b) => time(a) - time(b) || compare32(a.id, b.id));
    const committed: { e: Entry; learned: boolean }[] = [];
    for (const e of pending) {
      const p = e.phase;
      if (p.state !== 'pending') continue;
      const winner = this.committedConflict(p.body, e.id);
      if (winner !== undefined) {
        this.block(e, winner);
        continue;
      }
      this.refreshVote(e, p);
      const learned = hostReports(e.votes) > this.p.threshold;
      if (!learned && !this.quorumHere(e, p)) continue;
      e.phase = { state: 'committed', body: p.body };
      this.noteCommit(e.id, p.body);
      committed.push({ e, learned });
    }
    this.overlaySpends = new IdMap();
    this.overlayBlocks = new IdMap();
    this.overlayMapped = new IdMap();
    if (committed.length === 0) return null;
    const batch = this.buildBatch(now, committed.map((c) => c.e));
    batch.blocks.forEach((b, k) => {
      const { e, learned } = committed[k] as { e: Entry; learned: boolean };
      this.events.push({ kind: 'committed', id: toHex(e.id), seq: b.seq, learned });
      this.announce(e, (e.phase as { body: Body }).body, learned);
    });
    return batch;
  }

  /**
   * The quorum rule, counted only by a host that is itself `+` on every entry it hosts. Elsewhere a
   * window of the token is a thin view of it, whose quorum the hosts themselves may not see; such
   * a peer learns from the hosts instead. A host locked on a contender learns too: with its own
   * lock on the block beside the q votes it counts, two contenders need 2(q + 1) honest locks
   * between them, which bounds the equivocators a window tolerates (docs/consensus.md).
   */
  private quorumHere(e: Entry, p: Pending): boolean {
    const hosted = this.hostMask(p.body);
    if (hosted === 0 || ((this.currentVote(e) & 0xff) & hosted) !== hosted) return false;
    return meetsQuorum(this.tallyFor(e, p), this.p.quorum, this.p.threshold, this.windowSize());
  }

  /** Members of a window: 2w + 1, or every Connected peer when there are fewer. */
  private windowSize(): number {
    return Math.min(2 * this.p.window + 1, this.connected.size);
  }

  /** A commit of this tick: visible to later blocks through the ledger's overlay. */
  private noteCommit(id: Uint8Array, body: Body): void {
    this.commitGen++;
    if (this.touched.size >= TOUCHED_MAX) {
      this.touched.clear();
      this.touchedFloor = this.commitGen;
    }
    this.overlayBlocks.set(id, true);
    for (let i = 0; i < body.tokens.length; i++) {
      const token = body.tokens[i] as Uint8Array;
      this.touched.set(token, this.commitGen);
      const list = this.overlaySpends.get(token);
      const s = { last: body.lasts[i] as Uint8Array, block: id };
      if (list === undefined) this.overlaySpends.set(token, [s]);
      else list.push(s);
      if (this.hosts(token)) this.overlayMapped.set(token, true);
    }
  }

  /** Works our vote out again if it may have changed, and tells the peers holding the old one. */
  private refreshVote(e: Entry, p: Pending): void {
    if (p.mine === NO_VOTE || !this.voteStale(p)) return;
    const before = p.mine;
    this.workOutVote(e, p);
    if (p.mine === before) return;
    for (const h of e.told.keys()) {
      const v = e.votes.get(h);
      if (v !== undefined && isCommittedMasks(v.pos, v.neg)) continue;
      e.told.set(h, p.mine);
      this.sendVote(h, e, p.mine, true, 'revote');
    }
  }

  private buildBatch(now: number, committed: readonly Entry[]): CommitBatch {
    let head = this.store.head();
    const commits = [];
    const blocks: StoredBlock[] = [];
    const tokens = new IdMap<TokenWrite>();
    const spends: SpendWrite[] = [];
    const per = Math.max(1, this.p.maxBlocksPerCommitRecord);
    for (let start = 0; start < committed.length; start += per) {
      const chunk = committed.slice(start, start + per);
      const record = makeCommitRecord(this.crypto.blake3, { seq: head.seq + 1, prevId: head.id, time: now, blockIds: chunk.map((e) => e.id) });
      commits.push(record);
      head = { seq: record.seq, id: record.id };
      for (const e of chunk) {
        const body = (e.phase as { body: Body }).body;
        const block = body.signed.block;
        blocks.push({ id: e.id, block, signatures: body.signed.signatures, seq: record.seq });
        for (const x of block.entries) {
          spends.push({ token: x.token, last: x.last, block: e.id });
          // Learning can commit a block after its descendants: only a later block moves the mapping
          // (times grow strictly along a token's chain).
          if (this.hosts(x.token) && this.newerThanMapping(x.token, block.time, tokens)) tokens.set(x.token, { token: x.token, mapping: { block: e.id, parent: x.last, time: block.time, seq: record.seq, source: 'vote' } });
        }
      }
    }
    return { commits, blocks, tokens: [...tokens.values()], spends };
  }

  private newerThanMapping(token: Uint8Array, time: number, batch: IdMap<TokenWrite>): boolean {
    const current = batch.get(token)?.mapping ?? this.store.token(token);
    return current === undefined || time > current.time;
  }

  /**
   * After a commit, the decision goes to the peers that need it: the origin, which learns from the
   * hosts' reports (§5.3; only a host's report counts, so only hosts send one), and the hosts among
   * the askers that may not reach the quorum themselves. A host that voted `+` on every entry sees
   * our `+` in place of its own, which it never counts: with our tally one above the rule on every
   * entry it sees enough, unless the block met a conflict (votes elsewhere differ) or we learned it.
   */
  private announce(e: Entry, body: Body, learned: boolean): void {
    const full = (1 << body.tokens.length) - 1;
    const p = learned ? undefined : this.tallyAfter(e, body);
    const q = Math.min(this.p.quorum, this.windowSize());
    const roomy = p !== undefined && p.pos.every((x, i) => x - 1 >= q && x - 1 - (p.neg[i] as number) > this.p.threshold) && !this.contested(e, body);
    const v = this.currentVote(e);
    const to = new Set<number>();
    for (const a of e.askers) {
      const theirs = e.votes.get(a);
      if (theirs === undefined || isCommittedMasks(theirs.pos, theirs.neg)) continue;
      const claims = (theirs.pos | theirs.neg) & full;
      if (claims !== 0 && !(roomy && (theirs.pos & full) === full)) to.add(a);
    }
    const o = e.origin;
    if (o !== undefined && o !== this.self && (v & HOST_BITS) !== 0) {
      const theirs = e.votes.get(o);
      if (theirs === undefined || !isCommittedMasks(theirs.pos, theirs.neg)) to.add(o);
    }
    e.askers.clear();
    for (const h of to) this.sendVote(h, e, v, false, h === o ? 'origin' : 'decision');
  }

  /** The tally of a block that just committed here (its phase no longer holds one). */
  private tallyAfter(e: Entry, body: Body): Tally {
    return tally(this.connected, this.p.window, body.tokens, e.id, e.votes);
  }

  /** Whether e met a contender here or a `−` vote. */
  private contested(e: Entry, body: Body): boolean {
    for (let i = 0; i < body.tokens.length; i++) if ((this.pool.spend(body.tokens[i] as Uint8Array, body.lasts[i] as Uint8Array)?.blocks.length ?? 0) > 1) return true;
    for (const v of e.votes.values()) if (v.neg !== 0 && !isCommittedMasks(v.pos, v.neg)) return true;
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // Sending policy.

  /** Whether this peer is in the neighbourhood of `key` (window(key) over Connected ∪ self). */
  private hostsKey(key: Uint8Array): boolean {
    return this.hosts(key);
  }

  /**
   * The first wave (§5.4). The entry sends the block to window(k) of each key k (its tokens and
   * its id) over its contacts. A host (a receiver in the neighbourhood of a token) does the same:
   * every host needs a quorum of host votes, and more than T votes from its own window of the id,
   * whose members answer it (echo). A receiver outside every token's neighbourhood passes the block
   * on toward a token only when it is closer to it than its sender and its sender is not a host
   * of it (no host claim in its vote): the wave falls inward, over several hops in a sparse view,
   * and stops where the neighbourhood has it.
   */
  private firstWave(e: Entry, body: Body, source: number | undefined): void {
    const w = this.p.window;
    const tokens = body.tokens;
    const targets = new Set<number>();
    const add = (key: Uint8Array): void => {
      for (const h of this.contacts.window(key, w)) targets.add(h);
    };
    if (source === undefined || tokens.some((t) => this.hostsKey(t))) {
      for (const t of tokens) add(t);
      add(e.id);
    } else {
      const theirs = e.votes.get(source);
      const claims = theirs === undefined ? 0 : theirs.pos | theirs.neg;
      tokens.forEach((t, i) => {
        if (((claims >> i) & 1) === 0 && this.closer(this.self, source, t)) add(t);
      });
    }
    const cause: SendCause = source === undefined ? 'first-wave' : 'forward';
    for (const h of targets) this.tell(e, h, cause);
  }

  private closer(a: number, b: number, key: Uint8Array): boolean {
    const k = prefix48(key);
    return prefixDistance(this.peers.prefix(a), k) < prefixDistance(this.peers.prefix(b), k);
  }

  /** Gives a peer our vote on e once: the body if it may lack it, else a VOTE. */
  private tell(e: Entry, h: number, cause: SendCause): void {
    if (h === this.self || e.told.has(h)) return;
    const v = this.currentVote(e);
    e.told.set(h, v);
    const p = e.phase;
    if (e.votes.has(h) || e.askers.has(h) || !('body' in p)) {
      this.sendVote(h, e, v, p.state === 'pending', cause);
      return;
    }
    this.emit(h, { type: 'initial-vote', block: p.body.signed.block, signatures: p.body.signed.signatures, pos: v & 0xff, neg: v >> 8, origin: this.peers.address(e.origin ?? this.self) }, cause);
  }

  /**
   * Echo: the entry and the hosts hear our vote at once when they send us the block or ask (a host
   * counts its window of the id as witnesses; the entry of a small network counts the quorum
   * itself). Forwarders need no answer.
   */
  private echo(e: Entry, s: Sender): void {
    // A peer still fetching a parent abstains (`0`, §5.2) but answers all the same: it is a witness.
    // A block that became valid since the last tick answers at the tick (waveFresh).
    if (s.client || (e.phase.state !== 'pending' && e.phase.state !== 'awaiting-parents') || (e.phase.state === 'pending' && !e.phase.waved)) return;
    const theirs = e.votes.get(s.id);
    const host = theirs !== undefined && ((theirs.pos | theirs.neg) & HOST_BITS) !== 0;
    if (s.id === e.origin || host) this.tell(e, s.id, 'echo');
  }

  private sendVote(to: number, e: Entry, packed: number, reply: boolean, cause: SendCause): void {
    this.emit(to, { type: 'vote', blockId: e.id, pos: packed & 0xff, neg: packed >> 8, reply }, cause);
  }

  /** The decision on a decided block; a conflict's loser also points at the winner. */
  private answerDecided(e: Entry, to: number, cause: SendCause): void {
    this.sendVote(to, e, this.currentVote(e), false, cause);
    const p = e.phase;
    if (p.state === 'blocked') this.forwardWinner(p.winner, to);
  }

  private answerAskers(e: Entry): void {
    for (const a of e.askers) this.answerDecided(e, a, 'decision');
    e.askers.clear();
  }

  private answerStored(to: number, id: Uint8Array, cause: SendCause): void {
    const stored = this.store.block(id);
    const hostMask = stored === undefined ? 0 : this.hostMask(bodyOf(stored));
    this.emit(to, { type: 'vote', blockId: id, pos: committedVote(hostMask).pos, neg: 0, reply: false }, cause);
  }

  /** Tells a peer that `winner` committed here, with its body if it may lack it. */
  private forwardWinner(winner: Uint8Array, to: number): void {
    if (to === this.self) return;
    const w = this.pool.get(winner);
    if (w !== undefined && w.phase.state === 'committed') {
      const v = this.currentVote(w);
      if (w.told.get(to) === v) return;
      if (!w.told.has(to) && !w.votes.has(to) && !w.askers.has(to)) return this.tell(w, to, 'winner');
      w.told.set(to, v);
      return this.sendVote(to, w, v, false, 'winner');
    }
    const stored = this.store.block(winner);
    if (stored === undefined) return;
    const v = committedVote(this.hostMask(bodyOf(stored)));
    this.emit(to, { type: 'initial-vote', block: stored.block, signatures: stored.signatures, pos: v.pos, neg: v.neg, origin: this.address }, 'winner');
  }

  // -------------------------------------------------------------------------------------------
  // Polls and fetches.

  private poll(): void {
    for (const e of this.pool.entries()) {
      const p = e.phase;
      if (p.state === 'placeholder') {
        // A placeholder kept only to remember bad copies fetches nothing.
        if (e.votes.size > 0 || e.askers.size > 0) this.fetchBody(e);
      } else if (p.state === 'awaiting-parents') {
        this.fetchParents(e);
      } else if (p.state === 'pending') {
        this.pollPending(e, p);
      }
    }
  }

  /**
   * Every poll round (backing off from `pollIntervalTicks`), for each role still short of its rule
   * (a token without quorum and +T, the witness count not above T), ask up to POLL_FANOUT window
   * members that have not voted.
   * The entry and the hosts poll (the witnesses' decision comes from the hosts' quorum).
   */
  private pollPending(e: Entry, p: Pending): void {
    if (--p.pollIn > 0 || this.connected.size === 0) return;
    p.pollIn = this.p.pollIntervalTicks << Math.min(p.polls, POLL_BACKOFF_MAX_SHIFT);
    p.polls++;
    const t = this.tallyFor(e, p);
    const tokens = p.body.tokens;
    const n = tokens.length;
    let v: number | undefined;
    for (let r = 0; r <= n; r++) {
      const key = r < n ? (p.body.tokens[r] as Uint8Array) : e.id;
      const open = r < n ? (t.pos[r] as number) < this.p.quorum || (t.pos[r] as number) - (t.neg[r] as number) <= this.p.threshold : t.witness <= this.p.threshold;
      if (!open || (p.source !== undefined && !tokens.some((t) => this.hostsKey(t)))) continue;
      let asked = 0;
      for (const h of this.connected.window(key, this.p.window)) {
        if (asked >= POLL_FANOUT) break;
        if (e.votes.has(h)) continue;
        asked++;
        v ??= this.currentVote(e);
        e.told.set(h, v);
        this.sendVote(h, e, v, true, 'poll');
      }
    }
  }

  private fetchBody(e: Entry): void {
    if (this.tickNo - e.lastFetch < fetchCooldown(this.p.bodyFetchCooldownTicks, e.fetches)) return;
    const candidates = [...e.votes.keys(), ...e.askers];
    let target = candidates[e.fetches % Math.max(1, candidates.length)];
    target ??= this.connected.closest(e.id, 1)[0];
    if (target === undefined) return;
    e.lastFetch = this.tickNo;
    e.fetches++;
    this.emit(target, { type: 'query-block', blockId: e.id, ticket: this.tickets.issue(this.now, TICKET_USE.body, e.id) }, 'fetch');
  }

  /**
   * Parents from whoever gave us the block, then its positive voters, then the hosts of the token
   * (they committed the parent), then the peers closest to the parent id. The first attempt asks
   * two of them: a transfer's entry peer usually lacks the parent, and every tick counts there.
   */
  private fetchParents(e: Entry): void {
    const p = e.phase;
    if (p.state !== 'awaiting-parents' || this.tickNo - e.lastFetch < fetchCooldown(this.p.parentFetchCooldownTicks, e.fetches)) return;
    e.lastFetch = this.tickNo;
    const attempt = e.fetches++;
    for (const parent of p.missing) {
      const candidates: number[] = [];
      if (p.source !== undefined) candidates.push(p.source);
      const i = p.body.lasts.findIndex((l) => equal32(l, parent));
      for (const [h, v] of e.votes) if (i >= 0 && (v.pos >> i) & 1) candidates.push(h);
      if (i >= 0) candidates.push(...this.connected.closest(p.body.tokens[i] as Uint8Array, 2));
      candidates.push(...this.connected.closest(parent, 2));
      const unique = [...new Set(candidates)];
      if (unique.length === 0) continue;
      const ticket = this.tickets.issue(this.now, TICKET_USE.parent, parent);
      const picks = attempt === 0 ? unique.slice(0, 2) : [unique[attempt % unique.length] as number];
      for (const target of picks) this.emit(target, { type: 'query-block', blockId: parent, ticket }, 'fetch');
    }
  }

  // -------------------------------------------------------------------------------------------
  // Local state and output.

  private knownSigned(id: Uint8Array): SignedBlock | undefined {
    const p = this.pool.get(id)?.phase;
    if (p !== undefined && 'body' in p) return p.body.signed;
    const s = this.store.block(id);
    return s === undefined ? this.parentBodies.get(id) : { block: s.block, signatures: s.signatures };
  }

  private emit(to: number, message: Message, cause: SendCause): void {
    this.outbox.push(to, message);
    this.causes[cause] = (this.causes[cause] ?? 0) + 1;
  }

  private reject(message: Message['type'], code: RejectCode, action: RejectAction): void {
    this.events.push({ kind: 'rejected', message, code, action });
  }

  private flush(batch: CommitBatch | null): Output {
    const messages = this.outbox.empty ? [] : this.outbox.flush(this.peers, this.p.maxBatchItems);
    const events = this.events;
    const causes = this.causes;
    this.events = [];
    this.causes = {};
    return { messages, batch, events, causes };
  }
}

/** Block type re-exported for drivers that build blocks next to the core. */
export type { Block };
