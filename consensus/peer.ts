/**
 * One peer's consensus state machine (PROTOCOL §5; EcNode's mempool and node, digest §2).
 *
 * Pure: no sockets, no clock, no hidden randomness. The driver (daemon or simulator) calls
 *   setPeers(connected, pending)       whenever its peer sets change
 *   receive(now, from, message, meta)  for every authenticated message
 *   submit(now, signedBlock)           for a block from the local operator
 *   tick(now)                          once per tick (50 ms)
 * and each call returns an Output: messages to send, at most one storage batch (from tick only),
 * and events. Contract: apply `output.batch` to the store (atomically, durably) before sending any
 * of `output.messages` and before the next call — the messages may acknowledge the commits.
 *
 * The store is read synchronously through `StoreReader`; the core never writes it.
 */
import type { Blake3Kernel, Ed25519Kernel } from '../kernels/types.js';
import type { Block, SignedBlock } from '../wire/block.js';
import { blockId, makeCommitRecord } from '../wire/block.js';
import type { CommitBatch, SpendWrite, StoreReader, StoredBlock, TokenWrite } from '../store/types.js';
import type { Hex } from './hex.js';
import { fromHex, toHex, ZERO_HEX } from './hex.js';
import type { BatchItem, Message, Outgoing } from './messages.js';
import { batchOutgoing, wellFormed } from './messages.js';
import type { ConsensusParams } from './params.js';
import { Ring, ringDistance } from './ring.js';
import type { Tally } from './tally.js';
import { meetsThreshold, tally } from './tally.js';
import { TICKET_USE, TicketIssuer } from './tickets.js';
import type { BlockInvalidCode } from './validate.js';
import { checkAgainstParents, checkStandalone } from './validate.js';

export interface ConsensusCrypto {
  readonly blake3: Blake3Kernel;
  readonly ed25519: Ed25519Kernel;
}

export interface ConsensusModules {
  readonly crypto: ConsensusCrypto;
  readonly store: StoreReader;
  /** n random bytes; only ticket secrets use it. Seeded in tests and simulations. */
  readonly random: (n: number) => Uint8Array;
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
  /**
   * Sender-side order (the frame's packet number). A vote older than the recorded one from the
   * same sender is ignored; equal or absent overwrites.
   */
  readonly order?: number;
}

/**
 * placeholder: votes only, body being fetched; awaiting-parents: body known, a parent needed for
 * validation is being fetched; pending: valid, voting; blocked: lost a conflict (terminal);
 * invalid: failed validation (terminal); committed: decided here (terminal).
 */
export type EntryState = 'placeholder' | 'awaiting-parents' | 'pending' | 'blocked' | 'invalid' | 'committed';

/** An entry's state, or `stored` (committed and expired from the mempool), or `unknown`. */
export type BlockStatus = EntryState | 'stored' | 'unknown';

export type RejectCode = 'malformed' | 'from-self' | 'not-authorised' | 'invalid-block' | 'bad-ticket' | 'mempool-full' | 'internal-error';

/** STYLE §8: IGNORE drops quietly; REJECT drops and asks the transport to penalise the sender. */
export type RejectAction = 'ignore' | 'reject';

export type ConsensusEvent =
  | { readonly kind: 'accepted'; readonly id: Hex }
  | { readonly kind: 'committed'; readonly id: Hex; readonly seq: number }
  | { readonly kind: 'blocked'; readonly id: Hex; readonly winner: Hex }
  | { readonly kind: 'invalid'; readonly id: Hex | undefined; readonly code: BlockInvalidCode }
  | { readonly kind: 'expired'; readonly id: Hex; readonly state: EntryState }
  | { readonly kind: 'rejected'; readonly message: Message['type']; readonly code: RejectCode; readonly action: RejectAction };

export interface Output {
  readonly messages: readonly Outgoing[];
  readonly batch: CommitBatch | null;
  readonly events: readonly ConsensusEvent[];
  /** Items in `messages` (a batch counts its items) by the rule that sent them. */
  readonly causes: Readonly<Partial<Record<SendCause, number>>>;
}

/**
 * Why the core sent an item (diagnostics: `ecd_message_items_sent_total{cause}`, the simulator's
 * `messages.byCause`): the first wave (bodies, or votes to peers known to have the block), echoes
 * (D2), polls; `decision`: the terminal answer to the peers that asked while the block was
 * pending; `late-answer`: to a question about a block already decided here; `stored-answer`: about
 * a block only in the store; `bad-copy`: the 0 for a sender's copy with bad signatures; commit
 * announcements (D8), D5 tellings of peers that polled before the block was valid, a blocked
 * block's winner and retractions, re-votes on children, body and parent fetches, body answers.
 */
export type SendCause = 'first-wave' | 'echo' | 'poll' | 'decision' | 'late-answer' | 'stored-answer' | 'bad-copy' | 'announce' | 'member-tell' | 'winner' | 'retract' | 'revote' | 'fetch' | 'body';

export interface SubmitOutput extends Output {
  /** Undefined when the block is structurally invalid (no id can be computed). */
  readonly id: Hex | undefined;
  readonly status: BlockStatus;
}

interface Body {
  readonly signed: SignedBlock;
  readonly tokens: readonly Hex[];
  readonly lasts: readonly Hex[];
}

interface VoteRecord {
  readonly from: Uint8Array;
  readonly mask: number;
  readonly order: number;
}

interface RoleState {
  step: number;
  paused: boolean;
}

interface Entry {
  readonly id: Hex;
  readonly idBytes: Uint8Array;
  /** Tick number when the entry was created (expiry counts from here). */
  readonly created: number;
  state: EntryState;
  body: Body | undefined;
  /** Who gave us the body (first choice for parent fetches). */
  source: Uint8Array | undefined;
  /** Latest vote per Connected sender. */
  readonly votes: Map<Hex, VoteRecord>;
  /** Senders waiting for a terminal answer (reply = true). */
  readonly interested: Map<Hex, Uint8Array>;
  /** Peers we sent the body or our vote to (no second INITIAL_VOTE). */
  readonly told: Set<Hex>;
  /** Peers holding a non-zero vote of ours on this block: told 0x00 if it is blocked. */
  readonly votedTo: Map<Hex, Uint8Array>;
  /**
   * Peers holding a vote of ours with every entry bit set: for their tallies it already counts as
   * our 0xFF, so they get no 0xFF answer when we commit (they can still ask and are answered).
   */
  readonly full: Set<Hex>;
  tally: Tally | undefined;
  tallyVersion: number;
  roles: RoleState[];
  /** A pending block that beat a conflicting one here: it polls every tick. */
  contested: boolean;
  winner: Hex | undefined;
  missing: readonly Hex[];
  /** Tick at which the block became valid (pending). */
  validAt: number;
  lastFetch: number;
  fetches: number;
  /**
   * `commitGen` when the store checks (committed conflict, stale parent) last ran for this entry;
   * their answers change only when this peer commits on one of its tokens, so until then they are
   * not repeated.
   */
  checkedGen: number;
  /** The stale-parent answer of that check. */
  stale: boolean;
  /** Senders whose copy of this block had bad signatures (≤ MAX_BAD_COPIES; decision 15). */
  badCopies: Set<Hex> | undefined;
}

/** Validation failures that belong to a copy's signatures, not to the block its id names. */
const COPY_FAULTS: ReadonlySet<string> = new Set(['wrong-key', 'bad-signature', 'bad-signature-index']);
/** Distinct senders of bad copies after which a block id is refused here like an invalid block. */
const MAX_BAD_COPIES = 8;

/** Tokens remembered in `touched`; beyond it the map is cleared and every entry checks once more. */
const TOUCHED_MAX = 65_536;

/**
 * Fetch retries back off: after the k-th unanswered fetch of an entry the next waits
 * base × 2^(k−1) ticks, at most base × 2^FETCH_BACKOFF_MAX_SHIFT. Under load an answer can take
 * longer than the base cooldown, and fixed-interval retries then multiply the very traffic that
 * delays it (decision 16 in docs/consensus.md).
 */
const FETCH_BACKOFF_MAX_SHIFT = 3;

function fetchCooldown(base: number, fetches: number): number {
  return fetches <= 1 ? base : base << Math.min(fetches - 1, FETCH_BACKOFF_MAX_SHIFT);
}

const TERMINAL_COMMITTED = 0xff;
const TERMINAL_REJECTED = 0x00;

function spendKey(token: Hex, last: Hex): string {
  return token + last;
}

export class ConsensusPeer {
  readonly address: Uint8Array;
  readonly addressHex: Hex;
  private readonly params: ConsensusParams;
  private readonly crypto: ConsensusCrypto;
  private readonly store: StoreReader;
  private readonly tickets: TicketIssuer;

  private connected: Ring = Ring.of([]);
  /** Connected ∪ Pending: first-wave targets. */
  private contacts: Ring = Ring.of([]);
  /** Connected ∪ self: which tokens this peer hosts. */
  private hostRing: Ring;
  private ringVersion = 0;
  /**
   * D9: the span of a window of ours, as well as we can tell (the larger of our own window's span
   * and half the span of the window twice as wide, which is less at the mercy of one close
   * neighbour). Undefined: D9 off, or too few Connected peers for a window twice as wide (in a
   * ring that small every window covers much of it, and none can be thin).
   */
  private ownSpan: bigint | undefined;
  /** Bumped whenever this peer commits a block: the store answers (spends, mappings) may have changed. */
  private commitGen = 0;
  /** token → `commitGen` of the last local commit that spent or mapped it (decision 13). */
  private readonly touched = new Map<Hex, number>();
  /** Entries checked before this generation check again (the `touched` map was cleared then). */
  private touchedFloor = 0;

  private readonly entries = new Map<Hex, Entry>();
  /** (token ‖ last) → valid mempool blocks with that entry (pending, blocked or committed). */
  private readonly conflicts = new Map<string, Set<Hex>>();
  /** parent id → entries awaiting it for validation. */
  private readonly waiting = new Map<Hex, Set<Hex>>();

  private tickNo = 0;
  /** The caller's clock at the current input (unix ms): ticket epochs and the future-time rule. */
  private now = 0;
  private out: Outgoing[] = [];
  private events: ConsensusEvent[] = [];
  private causes: Partial<Record<SendCause, number>> = {};
  /** Writes of the tick being evaluated, visible to later blocks of the same tick. */
  private overlayTokens = new Map<Hex, Hex>();
  private overlaySpends = new Map<string, Hex>();

  constructor(modules: ConsensusModules, options: ConsensusOptions) {
    if (!(options.address instanceof Uint8Array) || options.address.length !== 32) throw new RangeError('address must be 32 bytes');
    this.address = Uint8Array.from(options.address);
    this.addressHex = toHex(this.address);
    this.params = options.params;
    this.crypto = modules.crypto;
    this.store = modules.store;
    this.tickets = new TicketIssuer(modules.crypto.blake3, modules.random, options.params.ticketRotationMs);
    this.hostRing = Ring.of([this.address]);
  }

  // -------------------------------------------------------------------------------------------
  // Inputs.

  /** The Connected set (votes count, windows, polls) and the Pending set (first-wave targets too). */
  setPeers(connected: Iterable<Uint8Array>, pending: Iterable<Uint8Array> = []): void {
    const c = [...connected];
    this.connected = Ring.of(c, this.addressHex);
    this.contacts = Ring.of([...c, ...pending], this.addressHex);
    this.hostRing = Ring.of([...c, this.address]);
    const wide = this.params.thinCommitDelayTicks > 0 ? this.hostRing.windowSpan(this.addressHex, 2 * this.params.window) : undefined;
    const own = wide === undefined ? undefined : this.hostRing.windowSpan(this.addressHex, this.params.window);
    this.ownSpan = wide === undefined || own === undefined ? undefined : own > wide / 2n ? own : wide / 2n;
    this.ringVersion++;
  }

  receive(now: number, from: Uint8Array, message: Message, meta: ReceiveMeta = {}): Output {
    this.now = now;
    if (!(from instanceof Uint8Array) || from.length !== 32 || !wellFormed(message, this.params.maxBatchItems)) {
      this.reject(message?.type ?? 'vote', 'malformed', 'reject');
      return this.flush(null);
    }
    const fromHex = toHex(from);
    if (fromHex === this.addressHex) {
      this.reject(message.type, 'from-self', 'ignore');
      return this.flush(null);
    }
    const sender: Sender = { hex: fromHex, bytes: from, connected: this.connected.has(fromHex), client: meta.client === true, order: meta.order };
    try {
      if (message.type === 'batch') {
        for (const item of message.items) this.dispatch(now, sender, item);
      } else {
        this.dispatch(now, sender, message);
      }
    } catch {
      // Our bug, not the sender's fault (STYLE §8): never penalise; the event makes it visible.
      this.reject(message.type, 'internal-error', 'ignore');
    }
    return this.flush(null);
  }

  submit(now: number, signed: SignedBlock): SubmitOutput {
    this.now = now;
    const code = checkStandalone(signed, now, this.params.maxFutureMs);
    if (code !== null) {
      this.events.push({ kind: 'invalid', id: undefined, code });
      return { ...this.flush(null), id: undefined, status: 'unknown' };
    }
    const idBytes = blockId(this.crypto.blake3, this.params.networkId, signed.block);
    const id = toHex(idBytes);
    if (!this.entries.has(id) && this.store.hasBlock(idBytes)) return { ...this.flush(null), id, status: 'stored' };
    let e = this.entries.get(id);
    if (e === undefined) {
      if (this.entries.size >= this.params.maxMempoolEntries) {
        this.reject('initial-vote', 'mempool-full', 'ignore');
        return { ...this.flush(null), id, status: 'unknown' };
      }
      e = this.newEntry(id, idBytes);
    }
    if (e.body === undefined) this.attachBody(e, signed, undefined);
    // A copy with bad signatures leaves no trace (decision 15), but its submitter hears `invalid`.
    const refused = this.events.some((ev) => ev.kind === 'invalid' && ev.id === id);
    return { ...this.flush(null), id, status: refused ? 'invalid' : e.state };
  }

  tick(now: number): Output {
    this.now = now;
    this.tickNo++;
    this.expire();
    const batch = this.evaluate(now);
    this.poll();
    return this.flush(batch);
  }

  // -------------------------------------------------------------------------------------------
  // Read-only views (tests, control API, simulator).

  status(id: Uint8Array | Hex): BlockStatus {
    const hex = typeof id === 'string' ? id : toHex(id);
    const e = this.entries.get(hex);
    if (e !== undefined) return e.state;
    return this.store.hasBlock(typeof id === 'string' ? fromHex(id) : id) ? 'stored' : 'unknown';
  }

  /** This peer's current vote mask for a block in its mempool. */
  maskOf(id: Uint8Array | Hex): number | undefined {
    const e = this.entries.get(typeof id === 'string' ? id : toHex(id));
    return e === undefined ? undefined : this.ownMask(e);
  }

  /** Current tallies of a block with a body (Connected voters only). */
  tallyOf(id: Uint8Array | Hex): Tally | undefined {
    const e = this.entries.get(typeof id === 'string' ? id : toHex(id));
    return e?.body === undefined ? undefined : this.currentTally(e);
  }

  /** The winner that blocked this block here, if it is blocked. */
  winnerOf(id: Uint8Array | Hex): Hex | undefined {
    return this.entries.get(typeof id === 'string' ? id : toHex(id))?.winner;
  }

  hosts(token: Uint8Array | Hex): boolean {
    return this.hostsHex(typeof token === 'string' ? token : toHex(token));
  }

  /** Ring addresses of window(key) over the Connected peers (PROTOCOL §5.1). */
  windowOf(key: Uint8Array | Hex): Uint8Array[] {
    const k = typeof key === 'string' ? key : toHex(key);
    return this.connected.window(k, this.params.window).map((h) => this.connected.address(h) as Uint8Array);
  }

  get mempoolSize(): number {
    return this.entries.size;
  }

  get tickNumber(): number {
    return this.tickNo;
  }

  // -------------------------------------------------------------------------------------------
  // Message handlers.

  private dispatch(now: number, s: Sender, m: Message): void {
    switch (m.type) {
      case 'vote':
        this.onVote(s, m.blockId, m.mask, m.reply);
        return;
      case 'query-block':
        this.onQueryBlock(s, m.blockId, m.ticket);
        return;
      case 'initial-vote':
        this.onInitialVote(now, s, { block: m.block, signatures: m.signatures }, m.mask);
        return;
      case 'block':
        this.onBlock(now, s, { block: m.block, signatures: m.signatures }, m.ticket);
        return;
      case 'batch':
        this.reject('batch', 'malformed', 'reject');
        return;
    }
  }

  private onVote(s: Sender, idBytes: Uint8Array, mask: number, reply: boolean): void {
    const id = toHex(idBytes);
    let e = this.entries.get(id);
    if (e === undefined) {
      if (this.store.hasBlock(idBytes)) {
        if (reply) this.sendVote(s.bytes, idBytes, TERMINAL_COMMITTED, false, 'stored-answer');
        return;
      }
      if (!s.connected) {
        this.reject('vote', 'not-authorised', 'ignore');
        return;
      }
      if (this.entries.size >= this.params.maxMempoolEntries) {
        this.reject('vote', 'mempool-full', 'ignore');
        return;
      }
      e = this.newEntry(id, Uint8Array.from(idBytes));
      this.recordVote(e, s, mask);
      if (reply) this.addInterest(e, s);
      this.fetchBody(e);
      return;
    }
    if (this.answerIfTerminal(e, s, reply)) return;
    if (!s.connected && !s.client) {
      this.reject('vote', 'not-authorised', 'ignore');
      return;
    }
    if (s.connected) this.recordVote(e, s, mask);
    if (reply) {
      this.addInterest(e, s);
      this.echo(e, s);
    }
  }

  private onInitialVote(now: number, s: Sender, signed: SignedBlock, mask: number): void {
    if (!s.connected && !s.client) {
      this.reject('initial-vote', 'not-authorised', 'ignore');
      return;
    }
    const code = checkStandalone(signed, now, this.params.maxFutureMs);
    if (code !== null) {
      this.events.push({ kind: 'invalid', id: undefined, code });
      // A block from the future may be our clock's fault; anything else is the sender's.
      this.reject('initial-vote', 'invalid-block', code === 'too-far-in-future' ? 'ignore' : 'reject');
      return;
    }
    const idBytes = blockId(this.crypto.blake3, this.params.networkId, signed.block);
    const id = toHex(idBytes);
    let e = this.entries.get(id);
    if (e === undefined && this.store.hasBlock(idBytes)) {
      this.sendVote(s.bytes, idBytes, TERMINAL_COMMITTED, false, 'stored-answer');
      return;
    }
    if (e !== undefined && this.answerIfTerminal(e, s, true)) return;
    if (e?.badCopies?.has(s.hex) === true) {
      // It sent a bad copy of this block before: neither its copies nor its votes count here.
      this.reject('initial-vote', 'invalid-block', 'ignore');
      return;
    }
    if (e === undefined) {
      if (this.entries.size >= this.params.maxMempoolEntries) {
        this.reject('initial-vote', 'mempool-full', 'ignore');
        return;
      }
      e = this.newEntry(id, idBytes);
    }
    if (s.connected) this.recordVote(e, s, mask);
    this.addInterest(e, s);
    if (e.body === undefined) this.attachBody(e, signed, s.bytes, true);
    // Validation may have made it terminal: answer the sender at once.
    if (e.state === 'invalid') this.answerIfTerminal(e, s, true);
    // Echo: a Connected sender hears our vote now rather than after we decide, so the entry peer
    // and the neighbourhood count each other's votes one hop after the first wave.
    else this.echo(e, s);
  }

  /**
   * Echo: a Connected peer that asks us about a pending block hears our vote now (once), not only
   * after we decide — so the entry peer and the neighbourhoods count each other's votes one hop
   * after the first wave, and the commit needs no 0xFF answer to peers that hold the same vote.
   */
  private echo(e: Entry, s: Sender): void {
    if (!this.params.echoInitialVote || !s.connected || e.state !== 'pending' || e.told.has(s.hex)) return;
    e.told.add(s.hex);
    const mask = this.ownMask(e);
    this.noteVote(e, s.hex, s.bytes, mask);
    this.sendVote(s.bytes, e.idBytes, mask, false, 'echo');
  }

  private onQueryBlock(s: Sender, idBytes: Uint8Array, ticket: Uint8Array): void {
    const body = this.knownSigned(toHex(idBytes), idBytes);
    if (body === undefined) return;
    this.emit(s.bytes, { type: 'block', block: body.block, signatures: body.signatures, ticket }, 'body');
  }

  private onBlock(now: number, s: Sender, signed: SignedBlock, ticket: Uint8Array): void {
    const code = checkStandalone(signed, now, this.params.maxFutureMs);
    if (code !== null) {
      this.events.push({ kind: 'invalid', id: undefined, code });
      this.reject('block', 'invalid-block', code === 'too-far-in-future' ? 'ignore' : 'reject');
      return;
    }
    const idBytes = blockId(this.crypto.blake3, this.params.networkId, signed.block);
    const id = toHex(idBytes);
    let e = this.entries.get(id);
    // A body we are still waiting for (a placeholder's, or a missing parent's) is taken from a
    // Connected peer without a live ticket: its content hashes to the id we asked for, and under
    // load an answer can take longer than a ticket lives, so every retry would fail the same way
    // (decision 14 in docs/consensus.md). Anything else needs our ticket (PROTOCOL §8).
    // Only from Connected peers: the id does not cover the signatures, so a stranger's copy could
    // still cost us a signature check (decision 15); strangers must hold our ticket.
    const awaited = s.connected && ((e !== undefined && e.body === undefined) || this.waiting.has(id));
    if (!awaited && this.tickets.check(now, ticket, idBytes, [TICKET_USE.body, TICKET_USE.parent]) === undefined) {
      // Unsolicited, or answered after two rotations: not necessarily malice.
      this.reject('block', 'bad-ticket', 'ignore');
      return;
    }
    if (e?.body !== undefined || e?.badCopies?.has(s.hex) === true) return;
    if (e === undefined) {
      if (this.store.hasBlock(idBytes)) return;
      if (this.entries.size >= this.params.maxMempoolEntries) {
        this.reject('block', 'mempool-full', 'ignore');
        return;
      }
      e = this.newEntry(id, idBytes);
    }
    this.attachBody(e, signed, s.bytes);
  }

  /** Answers a sender about a decided block; true when the block is terminal here. */
  private answerIfTerminal(e: Entry, s: Sender, reply: boolean): boolean {
    switch (e.state) {
      case 'committed':
        if (reply) this.sendVote(s.bytes, e.idBytes, TERMINAL_COMMITTED, false, 'late-answer');
        return true;
      case 'blocked':
        if (reply) this.sendVote(s.bytes, e.idBytes, TERMINAL_REJECTED, false, 'late-answer');
        this.forwardWinner(e, [[s.hex, s.bytes]]);
        return true;
      case 'invalid':
        if (reply) this.sendVote(s.bytes, e.idBytes, TERMINAL_REJECTED, false, 'late-answer');
        return true;
      default:
        return false;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Mempool entries.

  private newEntry(id: Hex, idBytes: Uint8Array): Entry {
    const e: Entry = {
      id,
      idBytes,
      created: this.tickNo,
      state: 'placeholder',
      body: undefined,
      source: undefined,
      votes: new Map(),
      interested: new Map(),
      told: new Set(),
      votedTo: new Map(),
      full: new Set(),
      tally: undefined,
      tallyVersion: -1,
      roles: [],
      contested: false,
      winner: undefined,
      missing: [],
      checkedGen: -1,
      stale: false,
      badCopies: undefined,
      validAt: 0,
      lastFetch: -Infinity,
      fetches: 0,
    };
    this.entries.set(id, e);
    return e;
  }

  private recordVote(e: Entry, s: Sender, mask: number): void {
    if (e.badCopies?.has(s.hex) === true) return;
    const prev = e.votes.get(s.hex);
    if (prev !== undefined && s.order !== undefined && s.order < prev.order) return;
    e.votes.set(s.hex, { from: s.bytes, mask, order: s.order ?? -Infinity });
    e.tallyVersion = -1;
  }

  private addInterest(e: Entry, s: Sender): void {
    if (e.interested.has(s.hex) || e.interested.size >= this.params.maxInterestedPerBlock) return;
    e.interested.set(s.hex, s.bytes);
  }

  /** `claimed`: the sender vouched for this copy in this very message (an INITIAL_VOTE). */
  private attachBody(e: Entry, signed: SignedBlock, source: Uint8Array | undefined, claimed = false): void {
    e.body = {
      signed,
      tokens: signed.block.entries.map((x) => toHex(x.token)),
      lasts: signed.block.entries.map((x) => toHex(x.last)),
    };
    e.source = source;
    // Parent fetches start afresh: the body fetches' backoff says nothing about the parents.
    e.fetches = 0;
    e.lastFetch = -Infinity;
    this.validate(e, claimed);
    // A dropped copy (decision 15) gives the children nothing to check against.
    if (e.body !== undefined) this.wakeChildren(e.id);
  }

  private validate(e: Entry, claimed = false): void {
    const body = e.body as Body;
    const check = checkAgainstParents(this.crypto, body.signed, e.idBytes, (last) => this.knownBlock(last));
    this.unwait(e);
    if (check.kind === 'invalid' && COPY_FAULTS.has(check.code) && this.dropCopy(e, check.code, claimed)) return;
    if (check.kind === 'invalid') {
      e.state = 'invalid';
      this.events.push({ kind: 'invalid', id: e.id, code: check.code });
      this.answerInterested(e, TERMINAL_REJECTED);
      return;
    }
    if (check.kind === 'missing-parents') {
      e.state = 'awaiting-parents';
      e.missing = check.parents;
      for (const p of check.parents) {
        let set = this.waiting.get(p);
        if (set === undefined) this.waiting.set(p, (set = new Set()));
        set.add(e.id);
      }
      this.fetchParents(e, check.parents);
      return;
    }
    this.becomeValid(e);
  }

  /**
   * The id does not cover the signatures: a copy with bad ones proves nothing, but another copy of
   * the same block may be genuine. Drops the copy, not the id, so a relay cannot censor a block by
   * racing a corrupted copy ahead of it (decision 15 in docs/consensus.md). Its sender's later
   * copies and votes on this id are ignored and it is not asked again, so each Connected peer
   * costs at most one check per id; after MAX_BAD_COPIES senders (or a local submission) the copy
   * is refused like an invalid block. Only a sender that vouched for the copy in this message is
   * penalised and told 0: a copy checked later (its parent arrived) or served as a BLOCK answer may
   * have reached an honest sender from someone else. Returns false if the id is to be refused.
   */
  private dropCopy(e: Entry, code: BlockInvalidCode, claimed: boolean): boolean {
    const source = e.source;
    if (source === undefined) {
      // Our own submission: refused and forgotten, so a genuine copy can be submitted next.
      this.events.push({ kind: 'invalid', id: e.id, code });
      this.resetToPlaceholder(e);
      if (e.votes.size === 0 && e.interested.size === 0) this.forget(e);
      return true;
    }
    const h = toHex(source);
    e.badCopies ??= new Set();
    e.badCopies.add(h);
    if (e.badCopies.size >= MAX_BAD_COPIES) return false;
    this.events.push({ kind: 'invalid', id: e.id, code });
    if (e.votes.delete(h)) e.tallyVersion = -1;
    e.interested.delete(h);
    this.resetToPlaceholder(e);
    if (claimed) {
      this.reject('initial-vote', 'invalid-block', 'reject');
      this.sendVote(source, e.idBytes, 0, false, 'bad-copy');
    }
    // The entry stays (until it expires) even if nobody else cares, to remember the sender.
    return true;
  }

  private resetToPlaceholder(e: Entry): void {
    e.body = undefined;
    e.source = undefined;
    e.state = 'placeholder';
  }

  /** Drops an entry that never became valid (no conflicts index holds it). */
  private forget(e: Entry): void {
    this.entries.delete(e.id);
    this.unwait(e);
  }

  private unwait(e: Entry): void {
    for (const p of e.missing) {
      const set = this.waiting.get(p);
      set?.delete(e.id);
      if (set?.size === 0) this.waiting.delete(p);
    }
    e.missing = [];
  }

  private wakeChildren(parent: Hex): void {
    const children = this.waiting.get(parent);
    if (children === undefined) return;
    for (const child of [...children]) {
      const c = this.entries.get(child);
      if (c?.state === 'awaiting-parents') this.validate(c);
    }
  }

  /** A block that passed validation: resolve conflicts, then vote (first wave) if it survived. */
  private becomeValid(e: Entry): void {
    const body = e.body as Body;
    e.state = 'pending';
    e.validAt = this.tickNo;
    this.events.push({ kind: 'accepted', id: e.id });
    // Committed state first: it is never replaced.
    const committedWinner = this.committedConflict(e);
    const lower: Entry[] = [];
    for (let i = 0; i < body.tokens.length; i++) {
      const k = spendKey(body.tokens[i] as Hex, body.lasts[i] as Hex);
      let set = this.conflicts.get(k);
      if (set === undefined) this.conflicts.set(k, (set = new Set()));
      for (const other of set) {
        const o = this.entries.get(other);
        if (o !== undefined && o.state === 'pending' && other < e.id && !lower.includes(o)) lower.push(o);
      }
      set.add(e.id);
    }
    if (committedWinner !== undefined) {
      this.block(e, committedWinner);
    } else {
      const higher = this.highestConflict(e);
      if (higher !== undefined && higher > e.id) this.block(e, higher);
    }
    for (const o of lower) this.block(o, this.highestConflict(o) ?? e.id);
    if (e.state !== 'pending') return;
    if (lower.length > 0) e.contested = true;
    this.firstWave(e);
    // Under member polls a peer that does not poll would never answer the polls it got while it
    // knew only the id (it answers on deciding, and may never decide): it tells the askers now.
    if (this.params.memberPolls && e.interested.size > 0) {
      const mask = this.ownMask(e);
      for (const [h, b] of e.interested) this.tell(e, h, b, mask, 'member-tell');
    }
  }

  /** A committed block (store, this tick's overlay, or the mempool) that already consumed one of e's entries. */
  private committedConflict(e: Entry): Hex | undefined {
    const body = e.body as Body;
    for (let i = 0; i < body.tokens.length; i++) {
      const spent = this.spentBy(body.tokens[i] as Hex, body.lasts[i] as Hex, i, body.signed.block);
      if (spent !== undefined && spent !== e.id) return spent;
      const set = this.conflicts.get(spendKey(body.tokens[i] as Hex, body.lasts[i] as Hex));
      if (set === undefined) continue;
      for (const other of set) if (other !== e.id && this.entries.get(other)?.state === 'committed') return other;
    }
    return undefined;
  }

  private highestConflict(e: Entry): Hex | undefined {
    const body = e.body as Body;
    let best: Hex | undefined;
    for (let i = 0; i < body.tokens.length; i++) {
      const set = this.conflicts.get(spendKey(body.tokens[i] as Hex, body.lasts[i] as Hex));
      if (set === undefined) continue;
      for (const other of set) if (other !== e.id && (best === undefined || other > best)) best = other;
    }
    return best;
  }

  private block(e: Entry, winner: Hex): void {
    e.state = 'blocked';
    e.winner = winner;
    this.events.push({ kind: 'blocked', id: e.id, winner });
    const targets = new Map<Hex, Uint8Array>();
    for (const [h, v] of e.votes) targets.set(h, v.from);
    for (const [h, b] of e.interested) targets.set(h, b);
    if (e.source !== undefined) targets.set(toHex(e.source), e.source);
    // Retract: peers holding our earlier positive vote on e would otherwise count it until expiry.
    for (const [h, b] of e.votedTo) {
      if (!e.interested.has(h)) this.sendVote(b, e.idBytes, TERMINAL_REJECTED, false, 'retract');
      targets.set(h, b);
    }
    e.votedTo.clear();
    e.full.clear();
    this.answerInterested(e, TERMINAL_REJECTED);
    this.forwardWinner(e, targets);
    const w = this.entries.get(winner);
    if (w?.state === 'pending') w.contested = true;
  }

  /** Sends the winner of e's conflict to the given peers (only a higher winner with a body here). */
  private forwardWinner(e: Entry, targets: Iterable<readonly [Hex, Uint8Array]>): void {
    if (e.winner === undefined || e.winner < e.id) return;
    const w = this.entries.get(e.winner);
    if (w?.body === undefined || (w.state !== 'pending' && w.state !== 'committed')) return;
    const mask = this.ownMask(w);
    for (const [h, b] of targets) this.tell(w, h, b, mask, 'winner');
  }

  /**
   * Whether the committed-conflict and stale-parent answers of e may have changed since they were
   * last computed: only a local commit on one of its tokens can change them.
   */
  private needsStoreCheck(e: Entry, body: Body): boolean {
    if (e.checkedGen < this.touchedFloor) return true;
    for (const token of body.tokens) if ((this.touched.get(token) ?? -1) > e.checkedGen) return true;
    return false;
  }

  /**
   * A pending block whose parent we just committed: our mask bit for that token went from 0 (its
   * parent was not our mapping) to 1. Peers that hold our earlier 0 are told the new mask; without
   * it a child that reached us before its parent committed here stays negative in their tallies
   * (and its polling pauses below −T), so it never commits.
   */
  private revoteChildren(pending: readonly Entry[], committedIds: ReadonlySet<Hex>): void {
    for (const c of pending) {
      if (c.state !== 'pending') continue;
      const body = c.body as Body;
      let changed = false;
      for (let i = 0; i < body.tokens.length && !changed; i++) {
        const last = body.lasts[i] as Hex;
        if (committedIds.has(last) && this.overlayTokens.get(body.tokens[i] as Hex) === last) changed = true;
      }
      if (!changed) continue;
      const mask = this.ownMask(c);
      const to = new Map<Hex, Uint8Array>();
      for (const [h, v] of c.votes) to.set(h, v.from);
      for (const h of c.told) {
        const a = this.contacts.address(h);
        if (a !== undefined && !to.has(h)) to.set(h, a);
      }
      for (const [h, a] of to) {
        if (h === this.addressHex || c.votes.get(h)?.mask === TERMINAL_COMMITTED) continue;
        this.noteVote(c, h, a, mask);
        this.sendVote(a, c.idBytes, mask, false, 'revote');
      }
    }
  }

  /**
   * D8: a host of one of the block's tokens that commits it sends its 0xFF to the other Connected
   * peers hosting one of them (as far as its view tells: window(token) over Connected ∪ self),
   * unless they will hear it anyway (they asked), already count it (they hold its fully positive
   * vote) or committed it themselves. Otherwise a host outside every first wave, or one whose
   * voters all settled, may never commit the block and then votes against its children (their
   * parent is not its mapping). Only hosts announce: the same coverage at a fraction of the
   * frames (docs/consensus.md).
   */
  private announceCommit(e: Entry): void {
    const body = e.body as Body;
    const w = this.params.window;
    const ring = this.connected.wholeRing(w) ? this.connected : this.hostRing;
    const seen = new Set<Hex>();
    for (const token of body.tokens) {
      for (const h of ring.window(token, w)) {
        if (h === this.addressHex || seen.has(h)) continue;
        seen.add(h);
        if (e.interested.has(h) || e.full.has(h) || e.votes.get(h)?.mask === TERMINAL_COMMITTED) continue;
        const to = this.connected.address(h);
        if (to === undefined) continue;
        this.sendVote(to, e.idBytes, TERMINAL_COMMITTED, false, 'announce');
      }
    }
  }

  /**
   * Terminal answers to everyone who asked, except peers whose own vote already says the same (they
   * decided) and, for a commit, peers that already count a fully positive vote of ours.
   */
  private answerInterested(e: Entry, mask: number): void {
    for (const [h, b] of e.interested) {
      if (e.votes.get(h)?.mask === mask) continue;
      if (mask === TERMINAL_COMMITTED && this.params.quietCommit && e.full.has(h)) continue;
      this.sendVote(b, e.idBytes, mask, false, 'decision');
    }
    e.interested.clear();
  }

  /** Remembers that `h` now holds our vote `mask` on a pending block. */
  private noteVote(e: Entry, h: Hex, to: Uint8Array, mask: number): void {
    if (mask === 0) return;
    e.votedTo.set(h, to);
    const n = e.body?.tokens.length ?? 8;
    if ((mask & ((1 << n) - 1)) === (1 << n) - 1) e.full.add(h);
  }

  private expire(): void {
    // Entries are inserted in creation order and `created` never changes, so the expired ones are
    // a prefix of the map (deleting during iteration is safe for a Map).
    for (const e of this.entries.values()) {
      if (this.tickNo - e.created < this.params.mempoolLifetimeTicks) break;
      this.entries.delete(e.id);
      this.unwait(e);
      if (e.body !== undefined) {
        for (let i = 0; i < e.body.tokens.length; i++) {
          const k = spendKey(e.body.tokens[i] as Hex, e.body.lasts[i] as Hex);
          const set = this.conflicts.get(k);
          set?.delete(e.id);
          if (set?.size === 0) this.conflicts.delete(k);
        }
      }
      this.events.push({ kind: 'expired', id: e.id, state: e.state });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Local state: mappings, spends, bodies, masks, tallies.

  private hostsHex(token: Hex): boolean {
    if (this.connected.wholeRing(this.params.window)) return true;
    return this.hostRing.inWindow(token, this.addressHex, this.params.window);
  }

  private mappingOf(token: Hex, tokenBytes: Uint8Array): Hex | undefined {
    const o = this.overlayTokens.get(token);
    if (o !== undefined) return o;
    const m = this.store.token(tokenBytes);
    return m === undefined ? undefined : toHex(m.block);
  }

  private spentBy(token: Hex, last: Hex, index: number, block: Block): Hex | undefined {
    const o = this.overlaySpends.get(spendKey(token, last));
    if (o !== undefined) return o;
    const entry = block.entries[index];
    if (entry === undefined) return undefined;
    const s = this.store.spend(entry.token, entry.last);
    return s === undefined ? undefined : toHex(s);
  }

  private knownSigned(id: Hex, idBytes?: Uint8Array): SignedBlock | undefined {
    const e = this.entries.get(id);
    if (e?.body !== undefined) return e.body.signed;
    const s = this.store.block(idBytes ?? fromHex(id));
    return s === undefined ? undefined : { block: s.block, signatures: s.signatures };
  }

  private knownBlock(id: Hex): Block | undefined {
    return this.knownSigned(id)?.block;
  }

  /**
   * Bit i = 1 when this peer's mapping for token i equals the entry's `last` (unknown = 0) and no
   * other committed block consumed (token, last). 0xFF when committed, 0 when blocked or invalid.
   */
  private ownMask(e: Entry): number {
    if (e.state === 'committed') return TERMINAL_COMMITTED;
    if (e.state !== 'pending' || e.body === undefined) return 0;
    const block = e.body.signed.block;
    let mask = 0;
    for (let i = 0; i < e.body.tokens.length; i++) {
      const token = e.body.tokens[i] as Hex;
      const last = e.body.lasts[i] as Hex;
      const spent = this.spentBy(token, last, i, block);
      if (spent !== undefined && spent !== e.id) continue;
      const m = this.mappingOf(token, (block.entries[i] as Block['entries'][number]).token) ?? ZERO_HEX;
      if (m === last) mask |= 1 << i;
    }
    return mask;
  }

  private currentTally(e: Entry): Tally {
    if (e.tally === undefined || e.tallyVersion !== this.ringVersion) {
      const body = e.body as Body;
      const votes: [Hex, number][] = [];
      for (const [h, v] of e.votes) votes.push([h, v.mask]);
      e.tally = tally(this.connected, this.params.window, body.tokens, e.id, votes);
      e.tallyVersion = this.ringVersion;
    }
    return e.tally;
  }

  /**
   * D9: whether this peer knows the neighbourhood of one of e's keys only thinly: our window for
   * it spans more than `thinWindowRatio` times our own and at least `thinDistancePercent` of the
   * way to it. Its members are strung out between us and the key rather than gathered at it, so
   * a competing block reaches them late and their votes say little about the key's
   * neighbourhood. In a dense view a far key's window is wider than our own too, but narrow
   * against the distance.
   */
  private isThin(e: Entry): boolean {
    const own = this.ownSpan;
    if (own === undefined) return false;
    const limit = own * BigInt(this.params.thinWindowRatio);
    const pct = BigInt(this.params.thinDistancePercent);
    return [...(e.body as Body).tokens, e.id].some((k) => {
      const span = this.connected.windowSpan(k, this.params.window);
      return span !== undefined && span > limit && span * 100n >= pct * ringDistance(this.addressHex, k);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Tick: commit evaluation, polling, fetches.

  private evaluate(now: number): CommitBatch | null {
    this.overlayTokens = new Map();
    this.overlaySpends = new Map();
    const pending = [...this.entries.values()].filter((e) => e.state === 'pending');
    // Parents before children: a child's time is strictly greater, so both can commit in one tick.
    pending.sort((a, b) => (a.body as Body).signed.block.time - (b.body as Body).signed.block.time || (a.id < b.id ? -1 : 1));
    const committed: Entry[] = [];
    for (const e of pending) {
      if (e.state !== 'pending') continue;
      const body = e.body as Body;
      const block = body.signed.block;
      if (this.needsStoreCheck(e, body)) {
        const winner = this.committedConflict(e);
        if (winner !== undefined) {
          this.block(e, winner);
          continue;
        }
        let stale = false;
        for (let i = 0; i < body.tokens.length; i++) {
          const m = this.mappingOf(body.tokens[i] as Hex, (block.entries[i] as Block['entries'][number]).token);
          if (m !== undefined && m !== body.lasts[i]) stale = true;
        }
        e.stale = stale;
        e.checkedGen = this.commitGen;
      }
      if (e.stale) {
        const unknown = body.lasts.filter((l) => l !== ZERO_HEX && this.knownBlock(l) === undefined);
        if (unknown.length > 0) this.fetchParents(e, unknown);
        continue;
      }
      const age = this.tickNo - e.validAt;
      if (age < this.params.commitDelayTicks || (age < this.params.thinCommitDelayTicks && this.isThin(e))) continue;
      if (!meetsThreshold(this.currentTally(e), this.params.threshold)) continue;
      e.state = 'committed';
      this.commitGen++;
      if (this.touched.size >= TOUCHED_MAX) {
        this.touched.clear();
        this.touchedFloor = this.commitGen;
      }
      for (const token of body.tokens) this.touched.set(token, this.commitGen);
      committed.push(e);
      for (let i = 0; i < body.tokens.length; i++) {
        const token = body.tokens[i] as Hex;
        this.overlaySpends.set(spendKey(token, body.lasts[i] as Hex), e.id);
        if (this.hostsHex(token)) this.overlayTokens.set(token, e.id);
      }
    }
    if (committed.length > 0) this.revoteChildren(pending, new Set(committed.map((c) => c.id)));
    const batch = committed.length === 0 ? null : this.buildBatch(now, committed);
    this.overlayTokens = new Map();
    this.overlaySpends = new Map();
    if (batch !== null) {
      for (const b of batch.blocks) {
        const e = this.entries.get(toHex(b.id)) as Entry;
        if (this.params.announceHosts && (e.body as Body).tokens.some((t) => this.hostsHex(t))) this.announceCommit(e);
        this.events.push({ kind: 'committed', id: e.id, seq: b.seq });
        this.answerInterested(e, TERMINAL_COMMITTED);
      }
    }
    return batch;
  }

  private buildBatch(now: number, committed: readonly Entry[]): CommitBatch {
    let head = this.store.head();
    const commits = [];
    const blocks: StoredBlock[] = [];
    const tokens = new Map<Hex, TokenWrite>();
    const spends: SpendWrite[] = [];
    const per = Math.max(1, this.params.maxBlocksPerCommitRecord);
    for (let start = 0; start < committed.length; start += per) {
      const chunk = committed.slice(start, start + per);
      const record = makeCommitRecord(this.crypto.blake3, {
        seq: head.seq + 1,
        prevId: head.id,
        time: now,
        blockIds: chunk.map((e) => e.idBytes),
      });
      commits.push(record);
      head = { seq: record.seq, id: record.id };
      for (const e of chunk) {
        const body = e.body as Body;
        blocks.push({ id: e.idBytes, block: body.signed.block, signatures: body.signed.signatures, seq: record.seq });
        body.signed.block.entries.forEach((x, i) => {
          spends.push({ token: x.token, last: x.last, block: e.idBytes });
          const token = body.tokens[i] as Hex;
          if (this.hostsHex(token)) {
            tokens.set(token, { token: x.token, mapping: { block: e.idBytes, parent: x.last, time: body.signed.block.time, seq: record.seq, source: 'vote' } });
          }
        });
      }
    }
    return { commits, blocks, tokens: [...tokens.values()], spends };
  }

  private poll(): void {
    const p = this.params;
    const cycle = p.pollActiveRounds * (p.pollPauseTicks + 1);
    for (const e of this.entries.values()) {
      if (e.state === 'placeholder') {
        // A placeholder kept only to remember bad copies (nobody voted or asked) fetches nothing.
        if (e.votes.size > 0 || e.interested.size > 0 || e.badCopies === undefined) this.fetchBody(e);
        continue;
      }
      if (e.state === 'awaiting-parents') {
        this.fetchParents(e, e.missing);
        continue;
      }
      if (e.state !== 'pending' || this.connected.size === 0) continue;
      const body = e.body as Body;
      const t = this.currentTally(e);
      const advance = e.contested || this.tickNo % p.followupInterval === 0;
      const n = body.tokens.length;
      // Member polls (D5): the entry peer and peers hosting one of the block's keys poll every
      // role; a peer that only passed the block inward would pull uninvolved peers in. Only
      // worked out on ticks that advance polling.
      const polls = advance && (!p.memberPolls || e.source === undefined || this.hostsHex(e.id) || body.tokens.some((t) => this.hostsHex(t)));
      const sent = new Set<Hex>();
      let mask: number | undefined;
      for (let r = 0; r <= n; r++) {
        const role = e.roles[r];
        if (role === undefined) continue;
        if (r < n) {
          const tr = t.tokens[r] as number;
          if (tr > p.threshold) continue;
          if (tr < -p.threshold) {
            role.paused = true;
            continue;
          }
          if (role.paused) {
            role.paused = false;
            role.step = 0;
          }
        } else if (t.witness > p.threshold) {
          continue;
        }
        if (!polls) continue;
        const s = role.step;
        role.step = (s + 1) % cycle;
        if (s % (p.pollPauseTicks + 1) !== 0) continue;
        const round = s / (p.pollPauseTicks + 1);
        const key = r < n ? (body.tokens[r] as Hex) : e.id;
        for (let k = 0; k < p.pollPairsPerTick; k++) {
          for (const target of this.connected.pair(key, round * p.pollPairsPerTick + k)) {
            if (sent.has(target) || e.votes.get(target)?.mask === TERMINAL_COMMITTED) continue;
            sent.add(target);
            mask ??= this.ownMask(e);
            const to = this.connected.address(target) as Uint8Array;
            this.noteVote(e, target, to, mask);
            this.sendVote(to, e.idBytes, mask, true, 'poll');
          }
        }
      }
    }
  }

  private fetchBody(e: Entry): void {
    if (this.tickNo - e.lastFetch < fetchCooldown(this.params.bodyFetchCooldownTicks, e.fetches)) return;
    // Senders of a bad copy lost their vote and interest already (dropCopy).
    const candidates: Uint8Array[] = [...e.votes.values()].map((v) => v.from);
    for (const b of e.interested.values()) candidates.push(b);
    let target = candidates[e.fetches % Math.max(1, candidates.length)];
    if (target === undefined) {
      const c = this.connected.closest(e.id, 1)[0];
      target = c === undefined ? undefined : this.connected.address(c);
    }
    if (target === undefined) return;
    e.lastFetch = this.tickNo;
    e.fetches++;
    this.emit(target, { type: 'query-block', blockId: e.idBytes, ticket: this.tickets.issue(this.now, TICKET_USE.body, e.idBytes) }, 'fetch');
  }

  /**
   * Parent fetch (at most once per cooldown per block): ask whoever gave us the block, then the
   * voters that were positive on that token, then the Connected peers closest to the parent id.
   */
  private fetchParents(e: Entry, parents: readonly Hex[]): void {
    if (parents.length === 0 || this.tickNo - e.lastFetch < fetchCooldown(this.params.parentFetchCooldownTicks, e.fetches)) return;
    e.lastFetch = this.tickNo;
    const attempt = e.fetches++;
    const body = e.body as Body;
    for (const parent of parents) {
      const candidates: Uint8Array[] = [];
      if (e.source !== undefined) candidates.push(e.source);
      const i = body.lasts.indexOf(parent);
      for (const v of e.votes.values()) if (i >= 0 && (v.mask >> i) & 1) candidates.push(v.from);
      for (const c of this.connected.closest(parent, 2)) candidates.push(this.connected.address(c) as Uint8Array);
      const target = candidates[attempt % Math.max(1, candidates.length)];
      if (target === undefined) continue;
      const parentBytes = fromHex(parent);
      this.emit(target, { type: 'query-block', blockId: parentBytes, ticket: this.tickets.issue(this.now, TICKET_USE.parent, parentBytes) }, 'fetch');
    }
  }

  // -------------------------------------------------------------------------------------------
  // Sending.

  private firstWave(e: Entry): void {
    const body = e.body as Body;
    const p = this.params;
    const keys = [...body.tokens, e.id];
    const closest = keys.map((key) => this.contacts.closest(key, p.firstWaveTargets));
    // Inward forwarding: a peer that learnt the block from another forwards it for every role if
    // it is itself among the closest to some role key (a neighbourhood member: it exchanges votes
    // with its own and the other neighbourhoods), else only for the roles on which it is closer
    // to the key than the peer that told it (it is on the way in). Everything else would only
    // spread the block away from where it is decided.
    const from = e.source === undefined || !p.inwardForwarding ? undefined : toHex(e.source);
    let member = from === undefined;
    for (let r = 0; r < keys.length && !member; r++) {
      const c = closest[r] as Hex[];
      const last = c[c.length - 1];
      if (c.length < p.firstWaveTargets || last === undefined || ringDistance(this.addressHex, keys[r] as Hex) < ringDistance(last, keys[r] as Hex)) member = true;
    }
    const targets = new Set<Hex>();
    for (let r = 0; r < keys.length; r++) {
      const key = keys[r] as Hex;
      const mine = ringDistance(this.addressHex, key);
      if (!member && mine >= ringDistance(from as Hex, key)) continue;
      if (!member && p.greedyInward > 0) {
        // On the way in (not a member): pass the block only to contacts closer to the key than
        // us, at most greedyInward of them, so the wave narrows instead of fanning out.
        let n = 0;
        for (const h of closest[r] as Hex[]) {
          if (n >= p.greedyInward || ringDistance(h, key) >= mine) continue;
          targets.add(h);
          n++;
        }
        continue;
      }
      for (const h of closest[r] as Hex[]) targets.add(h);
    }
    // One mask for all targets: it reads the store (spend and mapping per token), and nothing
    // here changes it.
    const mask = this.ownMask(e);
    for (const h of targets) this.tell(e, h, this.contacts.address(h) as Uint8Array, mask, 'first-wave');
    // Polling starts two silent steps before pair 0 (digest §2.8).
    const cycle = p.pollActiveRounds * (p.pollPauseTicks + 1);
    e.roles = Array.from({ length: body.tokens.length + 1 }, () => ({ step: cycle - p.pollPauseTicks, paused: false }));
  }

  /**
   * Gives a peer our vote on e: the body if it may not have it, otherwise a VOTE asking for a reply.
   * `mask` is `ownMask(e)`, worked out once by callers that tell several peers.
   */
  private tell(e: Entry, h: Hex, to: Uint8Array, mask: number, cause: SendCause): void {
    if (h === this.addressHex || e.told.has(h)) return;
    e.told.add(h);
    const body = e.body as Body;
    if (e.state === 'pending') this.noteVote(e, h, to, mask);
    if (e.votes.has(h) || e.interested.has(h)) {
      this.sendVote(to, e.idBytes, mask, e.state !== 'committed', cause);
    } else {
      this.emit(to, { type: 'initial-vote', block: body.signed.block, signatures: body.signed.signatures, mask }, cause);
    }
  }

  private sendVote(to: Uint8Array, idBytes: Uint8Array, mask: number, reply: boolean, cause: SendCause): void {
    const item: BatchItem = { type: 'vote', blockId: idBytes, mask, reply };
    this.emit(to, item, cause);
  }

  private emit(to: Uint8Array, message: Message, cause: SendCause): void {
    this.out.push({ to, message });
    this.causes[cause] = (this.causes[cause] ?? 0) + 1;
  }

  private reject(message: Message['type'], code: RejectCode, action: RejectAction): void {
    this.events.push({ kind: 'rejected', message, code, action });
  }

  private flush(batch: CommitBatch | null): Output {
    const messages = this.out.length === 0 ? [] : batchOutgoing(this.out, this.params.maxBatchItems, toHex);
    const events = this.events;
    const causes = this.causes;
    this.out = [];
    this.events = [];
    this.causes = {};
    return { messages, batch, events, causes };
  }
}

interface Sender {
  readonly hex: Hex;
  readonly bytes: Uint8Array;
  readonly connected: boolean;
  readonly client: boolean;
  readonly order: number | undefined;
}
