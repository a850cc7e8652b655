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
 * own-vote.ts (our vote and locks), commit.ts (commit evaluation), send.ts (the sending policy),
 * tally.ts (the commit rule), ring.ts (windows), outbox.ts (batching), state.ts (what the parts
 * share). This file holds the inputs, the message handlers and the validation flow.
 */
import type { Block, SignedBlock } from '../wire/block.js';
import { blockId } from '../wire/block.js';
import type { CommitBatch } from '../store/types.js';
import { blockEntry, committedConflict, evaluate, touchTokens } from './commit.js';
import type { Hex } from './hex.js';
import { toHex } from './hex.js';
import { IdMap } from './keys.js';
import type { Message } from './messages.js';
import { wellFormed } from './messages.js';
import type { Body, Entry, EntryState, Pending } from './mempool.js';
import { bodyOf, newEntry } from './mempool.js';
import { currentVote, NO_VOTE } from './own-vote.js';
import type { ConsensusParams } from './params.js';
import { Ring } from './ring.js';
import { answerAskers, answerDecided, answerLate, answerStored, echo, fetchBody, fetchParents, firstWave, poll, reportToOrigin, waveFresh } from './send.js';
import type { ConsensusEvent, ConsensusModules, Sender, SendCause } from './state.js';
import { CoreState } from './state.js';
import type { Tally } from './tally.js';
import { TICKET_USE } from './tickets.js';
import type { BlockInvalidCode } from './validate.js';
import { checkAgainstParents, checkStandalone } from './validate.js';
import { HOST_BITS, isCommittedMasks, REJECTED } from './votes.js';
import { COVER_BITS_PER_PEER, COVER_BYTES, coverBits, coverMerge } from '../wire/cover.js';

export type { EntryState } from './mempool.js';
export type { ConsensusCrypto, ConsensusEvent, ConsensusModules, RejectAction, RejectCode, SendCause } from './state.js';

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

/** Validation failures that belong to a copy's signatures, not to the block its id names. */
const COPY_FAULTS: ReadonlySet<string> = new Set(['wrong-key', 'bad-signature', 'bad-signature-index']);
/** Distinct senders of bad copies after which a block id is refused like an invalid block. */
const MAX_BAD_COPIES = 8;

/** Parent bodies kept aside for checking children. */
const PARENT_CACHE = 4096;

export class ConsensusPeer {
  readonly address: Uint8Array;
  readonly addressHex: Hex;
  private readonly c: CoreState;
  /** Bodies of parents fetched only to check their children (oldest out first). */
  private readonly parentBodies = new IdMap<SignedBlock>();
  private readonly parentOrder: Uint8Array[] = [];

  constructor(modules: ConsensusModules, options: ConsensusOptions) {
    if (!(options.address instanceof Uint8Array) || options.address.length !== 32) throw new RangeError('address must be 32 bytes');
    this.address = Uint8Array.from(options.address);
    this.addressHex = toHex(this.address);
    this.c = new CoreState(modules, this.address, options.params);
  }

  // -------------------------------------------------------------------------------------------
  // Inputs.

  /** The Connected set (votes count, windows, polls) and the Pending set (first-wave targets too). */
  setPeers(connected: Iterable<Uint8Array>, pending: Iterable<Uint8Array> = []): void {
    const c = this.c;
    const ids: number[] = [];
    for (const a of connected) if (a instanceof Uint8Array && a.length === 32) ids.push(c.peers.intern(a));
    const all = [...ids];
    for (const a of pending) if (a instanceof Uint8Array && a.length === 32) all.push(c.peers.intern(a));
    c.connected = Ring.of(c.peers, ids, c.self);
    c.contacts = all.length === ids.length ? c.connected : Ring.of(c.peers, all, c.self);
    c.hostRing = Ring.of(c.peers, [...ids, c.self]);
    c.ringChanged();
  }

  /** Whether this peer votes on the tokens it hosts (false while its neighbourhood forms). */
  /** Sync wrote these mappings to the store: own votes on blocks spending them are worked out again. */
  noteSynced(tokens: Iterable<Uint8Array>): void {
    touchTokens(this.c, tokens);
  }

  setVoting(votes: boolean): void {
    if (this.c.votes === votes) return;
    this.c.votes = votes;
    this.c.ringChanged();
  }

  receive(now: number, from: Uint8Array, message: Message, meta: ReceiveMeta = {}): Output {
    const c = this.c;
    c.now = now;
    if (!(from instanceof Uint8Array) || from.length !== 32 || !wellFormed(message, c.p.maxBatchItems)) {
      c.reject(message?.type ?? 'vote', 'malformed', 'reject');
      return this.flush(null);
    }
    const id = c.peers.intern(from);
    if (id === c.self) {
      c.reject(message.type, 'from-self', 'ignore');
      return this.flush(null);
    }
    const s: Sender = { id, connected: c.connected.has(id), client: meta.client === true, order: meta.order ?? -Infinity };
    try {
      if (message.type === 'batch') for (const item of message.items) this.dispatch(now, s, item);
      else this.dispatch(now, s, message);
    } catch {
      // Our bug, not the sender's fault (STYLE §8): never penalise; the event makes it visible.
      c.reject(message.type, 'internal-error', 'ignore');
    }
    return this.flush(null);
  }

  submit(now: number, signed: SignedBlock): SubmitOutput {
    const c = this.c;
    c.now = now;
    const code = checkStandalone(signed, now, c.p.maxFutureMs);
    if (code !== null) {
      c.events.push({ kind: 'invalid', id: undefined, code });
      return { ...this.flush(null), id: undefined, status: 'unknown' };
    }
    const id = blockId(c.crypto.blake3, c.p.networkId, signed.block);
    const hex = toHex(id);
    let e = c.pool.get(id);
    if (e === undefined && c.store.hasBlock(id)) return { ...this.flush(null), id: hex, status: 'stored' };
    if (e === undefined) {
      if (c.pool.size >= c.p.maxMempoolEntries) {
        c.reject('initial-vote', 'mempool-full', 'ignore');
        return { ...this.flush(null), id: hex, status: 'unknown' };
      }
      e = this.create(id);
    }
    e.origin = c.self;
    if (e.phase.state === 'placeholder') this.attachBody(e, signed, undefined, false);
    const refused = c.events.some((ev) => ev.kind === 'invalid' && ev.id === hex);
    return { ...this.flush(null), id: hex, status: refused ? 'invalid' : e.phase.state };
  }

  tick(now: number): Output {
    const c = this.c;
    c.now = now;
    c.tickNo++;
    for (const e of c.pool.expire(c.tickNo - c.p.mempoolLifetimeTicks)) c.events.push({ kind: 'expired', id: toHex(e.id), state: e.phase.state });
    waveFresh(c);
    const batch = evaluate(c, now);
    poll(c);
    return this.flush(batch);
  }

  // -------------------------------------------------------------------------------------------
  // Read-only views (tests, control API, simulator).

  status(id: Uint8Array): BlockStatus {
    const e = this.c.pool.get(id);
    if (e !== undefined) return e.phase.state;
    return this.c.store.hasBlock(id) ? 'stored' : 'unknown';
  }

  /** Our current vote on a block in the mempool. */
  voteOf(id: Uint8Array): { pos: number; neg: number } | undefined {
    const e = this.c.pool.get(id);
    if (e === undefined) return undefined;
    const v = currentVote(this.c, e);
    return { pos: v & 0xff, neg: v >> 8 };
  }

  /** Current tallies of a pending block (Connected voters only). */
  tallyOf(id: Uint8Array): Tally | undefined {
    const e = this.c.pool.get(id);
    return e?.phase.state === 'pending' ? this.c.tallyFor(e, e.phase) : undefined;
  }

  /** The committed contender that blocked this block here, if any. */
  winnerOf(id: Uint8Array): Uint8Array | undefined {
    const p = this.c.pool.get(id)?.phase;
    return p?.state === 'blocked' ? p.winner : undefined;
  }

  hosts(token: Uint8Array): boolean {
    return this.c.hosts(token);
  }

  /** Ring addresses of window(key) over the Connected peers (PROTOCOL §5.1). */
  windowOf(key: Uint8Array): Uint8Array[] {
    return this.c.connected.window(key, this.c.p.window).map((h) => this.c.peers.address(h));
  }

  get mempoolSize(): number {
    return this.c.pool.size;
  }

  get tickNumber(): number {
    return this.c.tickNo;
  }

  // -------------------------------------------------------------------------------------------
  // Message handlers.

  private dispatch(now: number, s: Sender, m: Message): void {
    switch (m.type) {
      case 'vote':
        return this.onVote(s, m.blockId, m.pos, m.neg, m.reply);
      case 'initial-vote':
        return this.onInitialVote(now, s, { block: m.block, signatures: m.signatures }, m.pos, m.neg, m.origin, m.covered);
      case 'query-block':
        return this.onQueryBlock(s, m.blockId, m.ticket);
      case 'block':
        return this.onBlock(now, s, { block: m.block, signatures: m.signatures }, m.ticket);
      case 'batch':
        return this.c.reject('batch', 'malformed', 'reject');
    }
  }

  private onVote(s: Sender, idBytes: Uint8Array, pos: number, neg: number, reply: boolean): void {
    const c = this.c;
    // Peers outside our ring count only as host reports (learning); clients never vote.
    const report = isCommittedMasks(pos, neg) && (pos & HOST_BITS) !== 0;
    let e = c.pool.get(idBytes);
    if (e === undefined) {
      if (c.store.hasBlock(idBytes)) {
        if (reply) answerStored(c, s.id, idBytes, 'stored-answer');
        return;
      }
      if (s.client || (!s.connected && !report)) {
        if (!s.client) c.reject('vote', 'not-authorised', 'ignore');
        return;
      }
      if (c.pool.size >= c.p.maxMempoolEntries) return c.reject('vote', 'mempool-full', 'ignore');
      e = this.create(Uint8Array.from(idBytes));
      this.record(e, s, pos, neg);
      if (reply) this.ask(e, s.id);
      fetchBody(c, e);
      return;
    }
    if (!s.client && (s.connected || report)) this.record(e, s, pos, neg);
    if (this.isDecided(e)) {
      if (reply) answerLate(c, e, s.id, pos);
      return;
    }
    if (reply) {
      this.ask(e, s.id);
      echo(c, e, s);
    }
  }

  private onInitialVote(now: number, s: Sender, signed: SignedBlock, pos: number, neg: number, origin: Uint8Array, covered: Uint8Array): void {
    const c = this.c;
    if (!s.connected && !s.client) return c.reject('initial-vote', 'not-authorised', 'ignore');
    const code = checkStandalone(signed, now, c.p.maxFutureMs);
    if (code !== null) {
      c.events.push({ kind: 'invalid', id: undefined, code });
      // A block from the future may be our clock's fault; anything else is the sender's.
      return c.reject('initial-vote', 'invalid-block', code === 'too-far-in-future' ? 'ignore' : 'reject');
    }
    const id = blockId(c.crypto.blake3, c.p.networkId, signed.block);
    const originId = c.peers.intern(origin);
    let e = c.pool.get(id);
    if (e === undefined && c.store.hasBlock(id)) {
      answerStored(c, s.id, id, 'stored-answer');
      if (originId !== s.id && originId !== c.self) answerStored(c, originId, id, 'origin');
      return;
    }
    if (e !== undefined && this.isDecided(e)) {
      answerLate(c, e, s.id, pos);
      if (e.phase.state === 'committed' && originId !== s.id && originId !== c.self) reportToOrigin(c, e, originId);
      return;
    }
    if (e?.badCopies?.has(s.id) === true) return c.reject('initial-vote', 'invalid-block', 'ignore');
    if (e === undefined) {
      if (c.pool.size >= c.p.maxMempoolEntries) return c.reject('initial-vote', 'mempool-full', 'ignore');
      e = this.create(id);
    }
    if (!s.client) this.record(e, s, pos, neg);
    e.origin ??= originId;
    // A wave reaches at most one window per entry: a denser filter (all ones, say) would stop our
    // bodies to peers nobody gave one, so it is ignored.
    if (!s.client && coverBits(covered) <= COVER_BITS_PER_PEER * (2 * c.p.window + 1) * signed.block.entries.length) coverMerge((e.covered ??= new Uint8Array(COVER_BYTES)), covered);
    this.ask(e, s.id);
    // Only a sender that judged the block (a `+` or `−` in its vote) vouches for its copy.
    if (e.phase.state === 'placeholder') this.attachBody(e, signed, s.id, ((pos | neg) & HOST_BITS) !== 0);
    if (e.phase.state === 'invalid') answerDecided(c, e, s.id, 'late-answer');
    else echo(c, e, s);
  }

  private onQueryBlock(s: Sender, id: Uint8Array, ticket: Uint8Array): void {
    const signed = this.knownSigned(id);
    if (signed !== undefined) this.c.emit(s.id, { type: 'block', block: signed.block, signatures: signed.signatures, ticket }, 'body');
  }

  private onBlock(now: number, s: Sender, signed: SignedBlock, ticket: Uint8Array): void {
    const c = this.c;
    const code = checkStandalone(signed, now, c.p.maxFutureMs);
    if (code !== null) {
      c.events.push({ kind: 'invalid', id: undefined, code });
      return c.reject('block', 'invalid-block', code === 'too-far-in-future' ? 'ignore' : 'reject');
    }
    const id = blockId(c.crypto.blake3, c.p.networkId, signed.block);
    let e = c.pool.get(id);
    // A body we are waiting for is taken from a Connected peer without a live ticket: its content
    // hashes to the id we asked for, and an answer under load may outlive the ticket. Anything
    // else needs our ticket (§8).
    const awaited = s.connected && (e?.phase.state === 'placeholder' || c.pool.isAwaited(id));
    if (!awaited && c.tickets.check(now, ticket, id, [TICKET_USE.body, TICKET_USE.parent]) === undefined) return c.reject('block', 'bad-ticket', 'ignore');
    if ((e !== undefined && e.phase.state !== 'placeholder') || e?.badCopies?.has(s.id) === true || c.store.hasBlock(id)) return;
    if (e === undefined && !signed.block.entries.some((x) => c.hosts(x.token))) {
      // A parent we need only to check a child against: its content is what the child names, and
      // whether it committed is its hosts' business. Kept aside, not voted on.
      if (c.pool.isAwaited(id)) this.keepParent(id, signed);
      return;
    }
    if (e === undefined) {
      // A parent of a token we host that we never committed: we are behind, and voting on it
      // lets us learn its commit from the other hosts.
      if (c.pool.size >= c.p.maxMempoolEntries) return c.reject('block', 'mempool-full', 'ignore');
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
    for (const child of this.c.pool.takeWaiting(parent)) {
      if (child.phase.state === 'awaiting-parents') this.attachBody(child, child.phase.body.signed, child.phase.source, false);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Entries: creation, votes, validation.

  private create(id: Uint8Array): Entry {
    const e = newEntry(id, this.c.tickNo);
    this.c.pool.add(e);
    this.c.addLive(e);
    return e;
  }

  private record(e: Entry, s: Sender, pos: number, neg: number): void {
    if (e.badCopies?.has(s.id) === true) return;
    const prev = e.votes.get(s.id);
    if (prev !== undefined && s.order < prev.order) return;
    e.votes.set(s.id, { pos, neg, order: s.order });
    if (e.phase.state !== 'pending') return;
    e.phase.tally = undefined;
    this.c.due.add(e);
    // While we catch up, every vote may end it: work our vote out again.
    if (e.phase.mineUntil !== Infinity) e.phase.mineStale = true;
  }

  private ask(e: Entry, peer: number): void {
    if (e.askers.size < this.c.p.maxAskersPerBlock) e.askers.add(peer);
  }

  private isDecided(e: Entry): boolean {
    return e.phase.state === 'committed' || e.phase.state === 'blocked' || e.phase.state === 'invalid';
  }

  /** `claimed`: the sender vouched for this copy in this very message (an INITIAL_VOTE). */
  private attachBody(e: Entry, signed: SignedBlock, source: number | undefined, claimed: boolean): void {
    const c = this.c;
    c.pool.unwait(e);
    const check = checkAgainstParents(c.crypto, signed, e.id, (last) => this.knownSigned(last)?.block);
    if (check.kind === 'invalid' && COPY_FAULTS.has(check.code) && this.dropCopy(e, check.code, source, claimed)) return;
    e.fetches = 0;
    e.lastFetch = -Infinity;
    if (check.kind === 'invalid') {
      e.phase = { state: 'invalid' };
      c.events.push({ kind: 'invalid', id: toHex(e.id), code: check.code });
      answerAskers(c, e);
      return;
    }
    const body = bodyOf(signed);
    if (check.kind === 'missing-parents') {
      e.phase = { state: 'awaiting-parents', body, source, missing: check.parents };
      c.pool.wait(e, check.parents);
      fetchParents(c, e);
      // A submission goes out at once, abstaining (`0`): the hosts hold the parent and check it
      // themselves, so waiting for it here would only add a round trip.
      if (source === undefined) firstWave(c, e, body, undefined);
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
    const c = this.c;
    const hex = toHex(e.id);
    if (source === undefined) {
      // Our own submission: refused and forgotten, so a genuine copy can be submitted next.
      c.events.push({ kind: 'invalid', id: hex, code });
      e.phase = { state: 'placeholder' };
      if (e.votes.size === 0 && e.askers.size === 0) c.pool.forget(e);
      return true;
    }
    e.badCopies ??= new Set();
    e.badCopies.add(source);
    if (e.badCopies.size >= MAX_BAD_COPIES) return false;
    c.events.push({ kind: 'invalid', id: hex, code });
    e.votes.delete(source);
    e.askers.delete(source);
    e.phase = { state: 'placeholder' };
    if (claimed) {
      c.reject('initial-vote', 'invalid-block', 'reject');
      c.emit(source, { type: 'vote', blockId: e.id, ...REJECTED, reply: false }, 'bad-copy');
    }
    return true;
  }

  /** A block that passed validation: blocked by a committed contender, or voting. */
  private becomeValid(e: Entry, body: Body, source: number | undefined): void {
    const c = this.c;
    const p: Pending = { state: 'pending', body, source, waved: false, mine: NO_VOTE, mineStale: true, mineRing: -1, mineUntil: Infinity, tally: undefined, tallyRing: -1, pollIn: c.p.pollIntervalTicks, polls: 0 };
    e.phase = p;
    c.pool.index(e, body);
    c.due.add(e);
    c.events.push({ kind: 'accepted', id: toHex(e.id) });
    const winner = committedConflict(c, body, e.id);
    if (winner !== undefined) return blockEntry(c, e, winner);
    c.fresh.push(e);
  }

  // -------------------------------------------------------------------------------------------
  // Local state and output.

  private knownSigned(id: Uint8Array): SignedBlock | undefined {
    const p = this.c.pool.get(id)?.phase;
    if (p !== undefined && 'body' in p) return p.body.signed;
    const s = this.c.store.block(id);
    return s === undefined ? this.parentBodies.get(id) : { block: s.block, signatures: s.signatures };
  }

  private flush(batch: CommitBatch | null): Output {
    const c = this.c;
    const messages = c.outbox.empty ? [] : c.outbox.flush(c.peers, c.p.maxBatchItems);
    const events = c.events;
    const causes = c.causes;
    c.events = [];
    c.causes = {};
    return { messages, batch, events, causes };
  }
}

/** Block type re-exported for drivers that build blocks next to the core. */
export type { Block };
