/**
 * The peer lifecycle (PROTOCOL §7; docs/network.md): how a peer that knows one other peer finds
 * its neighbourhood and earns its Connected set. Pure: ticks are counted here, randomness and the
 * storage proofs come in as modules, and messages go out as data. The same class runs in the
 * daemon (over UDP frames, answers signed) and in the simulator.
 *
 *   Identified  a known, authenticated identity (bootstrap, referral, any sender)
 *   Pending     we won an election for it and sent it an invitation
 *   Connected   it invited us back (or we it, while it was Pending here)
 *
 * Elections: a challenge token is asked of the known peers closest to it (FIND); a peer among the
 * `w + 1` closest it knows answers with a storage proof bound to the asker, others refer the asker
 * to the peers they know closer to it, which the election asks next. The answers are clustered
 * (election.ts); the decisive cluster's member closest to the challenge wins, becomes Pending and
 * gets an invitation: an unsolicited proof about the inviter's own address. An invitation from a
 * peer we did not elect starts a reciprocal election for its address, seeded with it, so an
 * inviter that cannot prove storage is never elected. A peer that cannot prove storage never wins:
 * its proofs fail verification or do not cluster with the honest ones.
 *
 * Shape: the `core` closest known peers on each side are elected first; self-lookups (challenges
 * near the own address) find closer ones; random challenges give far links; above `maxConnected`
 * a non-core Connected peer is demoted with probability growing with its ring distance.
 */
import type { Blake3Kernel } from '../kernels/types.js';
import type { ProofPair } from '../wire/msg-answer.js';
import { common, ELECTION_RULES, electionWinner, type ElectionAnswer } from './election.js';
import { ringDistance } from './genesis.js';
import { equal32, IdMap, prefix48, PREFIX_SPACE } from './keys.js';
import { verifyStorageProof } from './storage-proof.js';

export type PeerState = 'identified' | 'pending' | 'connected';

export interface LifecycleParams {
  /** Window half-width w: a peer answers FIND when at most w known peers are closer to the token. */
  readonly window: number;
  /** Closest peers on each side elected first and never pruned. */
  readonly coreEachSide: number;
  readonly maxConnected: number;
  readonly maxKnown: number;
  readonly maxElections: number;
  /**
   * Ticks between election starts while the core has holes, and once it has none: calm elections
   * start `calmEveryTicks` apart and may back off, doubling up to `calmMaxTicks` while the table
   * does not change; any change of state or a new peer resets the pace. Back off only where
   * Connected peers are heard otherwise (the daemon's keep-alive PINGs): election traffic is what
   * keeps them from falling silent (`silentTicks`) where there is nothing else.
   */
  readonly busyEveryTicks: number;
  readonly calmEveryTicks: number;
  readonly calmMaxTicks: number;
  readonly firstChannels: number;
  readonly maxChannels: number;
  /** An election decides when every channel has answered, or after this many ticks. */
  readonly electionTicks: number;
  readonly pendingTicks: number;
  /** A newly Connected peer is not pruned for this many ticks. */
  readonly protectTicks: number;
  /** A Connected peer not heard from for this many ticks falls back to Identified. */
  readonly silentTicks: number;
  /** Reciprocal elections started by one inviter at most once per this many ticks. */
  readonly inviteCooldownTicks: number;
  /** A core peer whose own election did not elect it is not challenged again for this many ticks. */
  readonly retryTicks: number;
  readonly referralPeers: number;
}

export const DEFAULT_LIFECYCLE_PARAMS: LifecycleParams = Object.freeze({
  window: 4,
  coreEachSide: 6,
  maxConnected: 24,
  maxKnown: 512,
  maxElections: 3,
  busyEveryTicks: 2,
  calmEveryTicks: 20,
  calmMaxTicks: 20,
  firstChannels: 4,
  maxChannels: 10,
  electionTicks: 12,
  pendingTicks: 30,
  protectTicks: 100,
  silentTicks: 300,
  inviteCooldownTicks: 60,
  retryTicks: 200,
  referralPeers: 4,
});

export const LIFE_TICKET_BYTES = 16;
const NO_TICKET = new Uint8Array(LIFE_TICKET_BYTES);

/** QUERY_TOKEN with the proof flag. */
export interface LifeFind {
  readonly type: 'find';
  readonly token: Uint8Array;
  readonly ticket: Uint8Array;
}

/** ANSWER with a storage proof bound to the receiver; an all-zero ticket makes it an invitation. */
export interface LifeProof {
  readonly type: 'proof';
  readonly token: Uint8Array;
  readonly block: Uint8Array;
  readonly pairs: readonly ProofPair[];
  readonly ticket: Uint8Array;
}

/** REFERRAL: known peers closer to the token. */
export interface LifeRefer {
  readonly type: 'refer';
  readonly token: Uint8Array;
  readonly ticket: Uint8Array;
  readonly peers: readonly Uint8Array[];
}

export type LifeMessage = LifeFind | LifeProof | LifeRefer;

export interface LifeSend {
  readonly to: Uint8Array;
  readonly message: LifeMessage;
}

export interface LifeOutput {
  readonly messages: LifeSend[];
  /** The Connected or Pending set changed. */
  changed: boolean;
}

export interface LifecycleModules {
  readonly blake3: Blake3Kernel;
  /** Uniform in [0, 1). */
  readonly random: () => number;
  /** This peer's storage proof about `token` for `requester`, or null when it cannot give one. */
  readonly proof: (requester: Uint8Array, token: Uint8Array) => { readonly block: Uint8Array; readonly pairs: readonly ProofPair[] } | null;
}

interface Entry {
  readonly address: Uint8Array;
  readonly pos: number;
  state: PeerState;
  /** Tick of the last state change. */
  since: number;
  heard: number;
  /** Tick of the last reciprocal election this peer's invitation started (−∞ when none). */
  invitedAt: number;
  /** Tick its own address was last a challenge that did not elect it (−∞ when never). */
  failedAt: number;
  /** Tick we last answered its invitation while it was Connected here (−∞ when never). */
  repliedAt: number;
  /** We have named the hosts we know to it (beside an answer to its first FIND). */
  named: boolean;
}

/**
 * `referred`: a referral came first; the answer a host sends beside it may still follow.
 * `done`: answered and referred; nothing more is read from it.
 */
type Channel = 'open' | 'referred' | 'answered' | 'done' | 'closed';

interface Election {
  readonly key: number;
  readonly ticket: Uint8Array;
  readonly challenge: Uint8Array;
  readonly pos: number;
  readonly started: number;
  readonly channels: Map<Entry, Channel>;
  readonly answers: { readonly entry: Entry; readonly pairs: readonly ProofPair[] }[];
  /** Our own proof for the challenge when we store around it: answers must agree with it. */
  readonly reference: readonly ProofPair[] | null;
}

export class PeerLifecycle {
  private readonly params: LifecycleParams;
  private readonly pos: number;
  private readonly known = new IdMap<Entry>();
  /** Known entries in ring order. */
  private ring: Entry[] = [];
  private readonly elections = new Map<number, Election>();
  private now = 0;
  private nextElection = 0;
  /** The current calm interval (backs off from calmEveryTicks to calmMaxTicks). */
  private calmTicks: number;
  private rounds = 0;
  private isFormed = false;

  constructor(
    private readonly mods: LifecycleModules,
    private readonly address: Uint8Array,
    params: Partial<LifecycleParams> = {},
  ) {
    this.params = { ...DEFAULT_LIFECYCLE_PARAMS, ...params };
    this.pos = prefix48(address);
    this.calmTicks = this.params.calmEveryTicks;
  }

  /** An authenticated identity (bootstrap, referral, sender): Identified unless already better. */
  learn(address: Uint8Array): void {
    this.entry(address);
  }

  /**
   * A peer this one held Connected before it restarted: invited again at once, without a new
   * election (it won one before). Its invitation back makes it Connected; a peer that dropped us
   * runs its own election first, as for any inviter.
   */
  rejoin(address: Uint8Array): LifeOutput {
    const out: LifeOutput = { messages: [], changed: false };
    const e = this.entry(address);
    if (e !== undefined && e.state === 'identified' && !this.inElection(e) && this.invite(e, out)) this.setState(e, 'pending', out);
    return out;
  }

  /** Authenticated traffic from `address` keeps it alive. */
  heard(address: Uint8Array): void {
    const e = this.known.get(address);
    if (e !== undefined) e.heard = this.now;
  }

  /** Forgets a peer (a ban); returns whether the Connected or Pending set changed. */
  forget(address: Uint8Array): boolean {
    const e = this.known.get(address);
    if (e === undefined) return false;
    this.remove(e);
    return e.state !== 'identified';
  }

  /** Whether an answer from `from` under `ticket` about `token` is one to read (checked before its signature). */
  expectsAnswer(from: Uint8Array, ticket: Uint8Array, token: Uint8Array): boolean {
    const e = this.known.get(from);
    if (e === undefined) return false;
    if (isNoTicket(ticket)) return equal32(token, from) && (e.state !== 'identified' || this.now - e.invitedAt >= this.params.inviteCooldownTicks);
    return this.election(ticket, e, token, ['open', 'referred']) !== undefined;
  }

  /** Whether a referral from `from` under `ticket` about `token` belongs to a running election. */
  awaits(from: Uint8Array, ticket: Uint8Array, token: Uint8Array): boolean {
    const e = this.known.get(from);
    return e !== undefined && this.election(ticket, e, token, ['open', 'answered']) !== undefined;
  }

  stateOf(address: Uint8Array): PeerState | undefined {
    return this.known.get(address)?.state;
  }

  connected(): Uint8Array[] {
    return this.ring.filter((e) => e.state === 'connected').map((e) => e.address);
  }

  pending(): Uint8Array[] {
    return this.ring.filter((e) => e.state === 'pending').map((e) => e.address);
  }

  counts(): Record<PeerState, number> & { elections: number } {
    const c = { identified: 0, pending: 0, connected: 0, elections: this.elections.size };
    for (const e of this.ring) c[e.state]++;
    return c;
  }

  /**
   * Whether the neighbourhood has formed: once every core peer known is Connected (or failed its
   * election) and at least 2w are Connected. It stays formed; until then the peer does not vote
   * (votes from windows that are not yet the token's true hosts could commit two contenders).
   */
  formed(): boolean {
    if (this.isFormed || this.ring.length === 0) return this.isFormed;
    // Every core peer is Connected, or lost its own election (down, or cannot prove storage).
    const settled = this.sideNeighbours().every((e) => e.state === 'connected' || (e.state === 'identified' && this.now - e.failedAt < this.params.retryTicks && !this.inElection(e)));
    if (!settled) return false;
    let n = 0;
    for (const e of this.ring) if (e.state === 'connected') n++;
    this.isFormed = n >= Math.min(2 * this.params.window, this.ring.length);
    return this.isFormed;
  }

  /** Share of the closest known peers (`core` on each side) that are Connected: the local view of accuracy. */
  coreConnected(): number {
    const side = this.sideNeighbours();
    return side.length === 0 ? 0 : side.filter((e) => e.state === 'connected').length / side.length;
  }

  /** Forgets running elections (a restart keeps the peer table, not its conversations). */
  restart(): void {
    this.elections.clear();
  }

  receive(from: Uint8Array, m: LifeMessage): LifeOutput {
    const out: LifeOutput = { messages: [], changed: false };
    if (equal32(from, this.address)) return out;
    // A sender the full table does not keep is still answered.
    const sender = this.entry(from) ?? this.newEntry(from);
    sender.heard = this.now;
    if (m.type === 'find') this.onFind(sender, m, out);
    else if (m.type === 'refer') this.onRefer(sender, m, out);
    else if (isNoTicket(m.ticket)) this.onInvitation(sender, m, out);
    else this.onAnswer(sender, m);
    return out;
  }

  /**
   * Advances `elapsed` ticks at once (a daemon with nothing to do ticks rarely and counts the
   * ticks it skipped), so every timeout keeps its length in time.
   */
  tick(elapsed = 1): LifeOutput {
    const out: LifeOutput = { messages: [], changed: false };
    const before = this.now;
    this.now += Math.max(1, Math.floor(elapsed));
    const crossed = (phase: number): boolean => Math.floor((this.now - phase) / 10) > Math.floor((before - phase) / 10);
    if (crossed(0)) this.expire(out);
    for (const e of [...this.elections.values()]) {
      const open = [...e.channels.values()].some((c) => c === 'open');
      if (!open || this.now - e.started >= this.params.electionTicks) this.decide(e, out);
    }
    if (this.elections.size < this.params.maxElections && this.now >= this.nextElection) this.startElection(out);
    if (crossed(5)) this.prune(out);
    return out;
  }

  // --- Answering -------------------------------------------------------------------------------

  private onFind(sender: Entry, m: LifeFind, out: LifeOutput): void {
    const pos = prefix48(m.token);
    const mine = ringDistance(this.pos, pos);
    if (this.closest(pos, this.params.window + 1, all, mine).length <= this.params.window) {
      const p = this.mods.proof(sender.address, m.token);
      if (p !== null) {
        out.messages.push({ to: sender.address, message: { type: 'proof', token: m.token, block: p.block, pairs: p.pairs, ticket: m.ticket } });
        // A host also names the other hosts it knows to a peer it has not named them to before,
        // so a newcomer finds peers even in a young network where every peer hosts everything
        // (and so answers instead of referring), whether it learned the newcomer from a referral
        // or from the newcomer's own handshake.
        const hosts = sender.named ? [] : this.closest(pos, this.params.referralPeers, (e) => e !== sender).map((e) => e.address);
        sender.named = true;
        if (hosts.length > 0) out.messages.push({ to: sender.address, message: { type: 'refer', token: m.token, ticket: m.ticket, peers: hosts } });
        return;
      }
    }
    const peers = this.closest(pos, this.params.referralPeers, (e) => e !== sender, mine).map((e) => e.address);
    // Nobody closer known and no proof to give: silence (the asker's channel times out).
    if (peers.length > 0) out.messages.push({ to: sender.address, message: { type: 'refer', token: m.token, ticket: m.ticket, peers } });
  }

  // --- Elections -------------------------------------------------------------------------------

  private startElection(out: LifeOutput): void {
    const c = this.pickChallenge();
    if (this.coreHoles().length > 0) this.nextElection = this.now + this.params.busyEveryTicks;
    else {
      this.nextElection = this.now + this.calmTicks;
      this.calmTicks = Math.min(this.calmTicks * 2, this.params.calmMaxTicks);
    }
    if (c !== null) this.open(c, undefined, out);
  }

  /** The known peers among the `core` closest on each side that are not yet Pending or Connected. */
  private coreHoles(): Entry[] {
    return this.sideNeighbours().filter((e) => e.state === 'identified' && this.now - e.failedAt >= this.params.retryTicks && !this.inElection(e));
  }

  private sideNeighbours(): Entry[] {
    const n = this.ring.length;
    if (n === 0) return [];
    const at = this.indexAbove(this.pos);
    const out: Entry[] = [];
    const k = Math.min(this.params.coreEachSide, Math.floor(n / 2));
    for (let i = 0; i < k; i++) out.push(this.ring[(at + i) % n] as Entry, this.ring[(at - 1 - i + 2 * n) % n] as Entry);
    if (n % 2 === 1 && n < 2 * this.params.coreEachSide) out.push(this.ring[(at + k) % n] as Entry);
    return out;
  }

  /**
   * Every third election looks up a point near the own address (finding closer peers); the
   * others fill core holes, nearest first; with none, a random token (far links and discovery)
   * or a known peer in the fade band.
   */
  private pickChallenge(): Uint8Array | null {
    this.rounds++;
    if (this.ring.length === 0) return null;
    const holes = this.coreHoles();
    if (this.rounds % 3 !== 0 && holes.length > 0) {
      holes.sort((a, b) => ringDistance(a.pos, this.pos) - ringDistance(b.pos, this.pos));
      return (holes[0] as Entry).address;
    }
    if (this.rounds % 3 === 0 || this.mods.random() < 0.5) return this.nearSelf();
    return this.randomToken(this.mods.random() * PREFIX_SPACE);
  }

  /** A token at a random point between the own address and the farthest core neighbour known. */
  private nearSelf(): Uint8Array {
    const side = this.sideNeighbours();
    const span = side.length === 0 ? PREFIX_SPACE / 8 : Math.max(...side.map((e) => ringDistance(e.pos, this.pos)));
    const offset = (this.mods.random() < 0.5 ? -1 : 1) * this.mods.random() * span;
    return this.randomToken((((this.pos + offset) % PREFIX_SPACE) + PREFIX_SPACE) % PREFIX_SPACE);
  }

  private randomToken(pos: number): Uint8Array {
    const t = new Uint8Array(32);
    let p = Math.floor(pos);
    for (let i = 5; i >= 0; i--) {
      t[i] = p % 256;
      p = Math.floor(p / 256);
    }
    for (let i = 6; i < 32; i++) t[i] = Math.floor(this.mods.random() * 256);
    return t;
  }

  /** Starts an election for `challenge`, seeded with an invitation's answer when it has one. */
  private open(challenge: Uint8Array, seed: { readonly entry: Entry; readonly pairs: readonly ProofPair[] } | undefined, out: LifeOutput): void {
    const ticket = new Uint8Array(LIFE_TICKET_BYTES);
    for (let i = 0; i < LIFE_TICKET_BYTES; i++) ticket[i] = Math.floor(this.mods.random() * 256);
    ticket[0] = (ticket[0] as number) | 1; // never all zero: that is an invitation
    const key = ((ticket[0] as number) << 24) | ((ticket[1] as number) << 16) | ((ticket[2] as number) << 8) | (ticket[3] as number);
    if (this.elections.has(key)) return;
    const reference = this.mods.proof(this.address, challenge)?.pairs ?? null;
    const e: Election = { key, ticket, challenge, pos: prefix48(challenge), started: this.now, channels: new Map(), answers: [], reference };
    if (seed !== undefined && agrees(reference, seed.pairs)) {
      e.channels.set(seed.entry, 'answered');
      e.answers.push(seed);
    }
    this.elections.set(key, e);
    this.ask(e, this.params.firstChannels, out);
  }

  /** Opens up to `n` channels to the closest known peers to the challenge not yet asked. */
  private ask(e: Election, n: number, out: LifeOutput): void {
    const room = Math.min(n, this.params.maxChannels - e.channels.size);
    if (room <= 0) return;
    for (const peer of this.closest(e.pos, room, (x) => !e.channels.has(x))) {
      e.channels.set(peer, 'open');
      out.messages.push({ to: peer.address, message: { type: 'find', token: e.challenge, ticket: e.ticket } });
    }
  }

  private election(ticket: Uint8Array, sender: Entry, token: Uint8Array, states: readonly Channel[] = ['open']): Election | undefined {
    if (ticket.length !== LIFE_TICKET_BYTES) return undefined;
    const key = ((ticket[0] as number) << 24) | ((ticket[1] as number) << 16) | ((ticket[2] as number) << 8) | (ticket[3] as number);
    const e = this.elections.get(key);
    if (e === undefined || !equal32(e.challenge, token) || !states.includes(e.channels.get(sender) ?? 'closed')) return undefined;
    for (let i = 0; i < LIFE_TICKET_BYTES; i++) if (e.ticket[i] !== ticket[i]) return undefined;
    return e;
  }

  private onAnswer(sender: Entry, m: LifeProof): void {
    const e = this.election(m.ticket, sender, m.token, ['open', 'referred']);
    if (e === undefined) return;
    const ok = verifyStorageProof(this.mods.blake3, this.address, m.token, m.block, m.pairs).ok && agrees(e.reference, m.pairs);
    e.channels.set(sender, !ok ? 'closed' : e.channels.get(sender) === 'referred' ? 'done' : 'answered');
    if (ok) e.answers.push({ entry: sender, pairs: m.pairs });
  }

  /** A referral closes an open channel and opens two more; one beside an answer adds channels while answers are few. */
  private onRefer(sender: Entry, m: LifeRefer, out: LifeOutput): void {
    const e = this.election(m.ticket, sender, m.token, ['open', 'answered']);
    if (e === undefined) return;
    for (const a of m.peers.slice(0, this.params.referralPeers)) if (!equal32(a, this.address)) this.entry(a);
    if (e.channels.get(sender) === 'open') {
      e.channels.set(sender, 'referred');
      this.ask(e, 2, out);
      return;
    }
    e.channels.set(sender, 'done');
    let busy = e.answers.length;
    for (const c of e.channels.values()) if (c === 'open') busy++;
    this.ask(e, this.params.firstChannels - busy, out);
  }

  private decide(e: Election, out: LifeOutput): void {
    this.elections.delete(e.key);
    // Our own proof is a member that never wins (first, so it is always counted): one agreeing
    // answer is then a cluster of two, which is what lets two peers alone elect each other.
    const own = e.reference === null ? [] : [{ distance: Infinity, pairs: e.reference }];
    const answers: ElectionAnswer[] = [...own, ...e.answers.map((a) => ({ distance: ringDistance(a.entry.pos, e.pos), pairs: a.pairs }))];
    const w = electionWinner(answers);
    const winner = w === null || w < own.length ? undefined : (e.answers[w - own.length] as { entry: Entry }).entry;
    const target = this.known.get(e.challenge);
    if (target !== undefined && target !== winner) target.failedAt = this.now;
    if (winner === undefined) return;
    if (winner.state !== 'identified' || !this.known.has(winner.address)) return;
    if (this.invite(winner, out)) this.setState(winner, 'pending', out);
  }

  private invite(to: Entry, out: LifeOutput): boolean {
    const p = this.mods.proof(to.address, this.address);
    if (p === null) return false;
    out.messages.push({ to: to.address, message: { type: 'proof', token: this.address, block: p.block, pairs: p.pairs, ticket: NO_TICKET } });
    return true;
  }

  private onInvitation(sender: Entry, m: LifeProof, out: LifeOutput): void {
    if (!equal32(m.token, sender.address)) return;
    if (!verifyStorageProof(this.mods.blake3, this.address, m.token, m.block, m.pairs).ok) return;
    if (sender.state === 'pending') {
      this.setState(sender, 'connected', out);
      this.invite(sender, out);
      return;
    }
    if (sender.state === 'connected') {
      // It lost us (a restart forgets elections, a silence demotes): invite it back, once a while.
      if (this.now - sender.repliedAt >= this.params.inviteCooldownTicks) {
        sender.repliedAt = this.now;
        this.invite(sender, out);
      }
      return;
    }
    // Reciprocal elections: only for peers the table keeps (their cooldown is remembered), and at
    // most maxElections of them besides our own.
    if (!this.known.has(sender.address) || this.inElection(sender) || this.now - sender.invitedAt < this.params.inviteCooldownTicks) return;
    if (this.elections.size >= 2 * this.params.maxElections) return;
    // Near inviters are always worth an election; far ones by the chance EcNode gives them.
    const near = this.sideNeighbours().includes(sender);
    if (!near && this.mods.random() >= 1 - ringDistance(sender.pos, this.pos) / (PREFIX_SPACE / 2)) return;
    sender.invitedAt = this.now;
    this.open(sender.address, { entry: sender, pairs: m.pairs }, out);
  }

  private inElection(x: Entry): boolean {
    for (const e of this.elections.values()) if (equal32(e.challenge, x.address)) return true;
    return false;
  }

  // --- Upkeep ----------------------------------------------------------------------------------

  private expire(out: LifeOutput): void {
    for (const e of this.ring) {
      if (e.state === 'pending' && this.now - e.since >= this.params.pendingTicks) this.setState(e, 'identified', out);
      else if (e.state === 'connected' && this.now - e.heard >= this.params.silentTicks) this.setState(e, 'identified', out);
    }
  }

  /** Above `maxConnected`, demotes one non-core Connected peer, far ones more likely. */
  private prune(out: LifeOutput): void {
    const connected = this.ring.filter((e) => e.state === 'connected');
    if (connected.length <= this.params.maxConnected) return;
    const core = new Set(this.sideNeighboursOf(connected));
    const candidates = connected.filter((e) => !core.has(e) && this.now - e.since >= this.params.protectTicks);
    const total = candidates.reduce((s, e) => s + ringDistance(e.pos, this.pos), 0);
    let r = this.mods.random() * total;
    for (const e of candidates) {
      r -= ringDistance(e.pos, this.pos);
      if (r <= 0) {
        this.setState(e, 'identified', out);
        return;
      }
    }
  }

  /** The `core` closest entries of `list` (in ring order) on each side of the own address. */
  private sideNeighboursOf(list: readonly Entry[]): Entry[] {
    const n = list.length;
    let at = 0;
    while (at < n && (list[at] as Entry).pos < this.pos) at++;
    const out: Entry[] = [];
    for (let i = 0; i < Math.min(this.params.coreEachSide, n); i++) out.push(list[(at + i) % n] as Entry, list[(at - 1 - i + 2 * n) % n] as Entry);
    return out;
  }

  private setState(e: Entry, state: PeerState, out: LifeOutput): void {
    if (e.state === state) return;
    e.state = state;
    e.since = this.now;
    if (state === 'connected') e.heard = this.now;
    out.changed = true;
    this.calmTicks = this.params.calmEveryTicks;
  }

  // --- The table -------------------------------------------------------------------------------

  private entry(address: Uint8Array): Entry | undefined {
    const have = this.known.get(address);
    if (have !== undefined) return have;
    if (equal32(address, this.address)) return undefined;
    const e = this.newEntry(address);
    this.known.set(address, e);
    this.calmTicks = this.params.calmEveryTicks;
    this.ring.splice(this.indexAbove(e.pos), 0, e);
    if (this.ring.length > this.params.maxKnown) this.evict();
    return this.known.get(address);
  }

  private newEntry(address: Uint8Array): Entry {
    return { address, pos: prefix48(address), state: 'identified', since: this.now, heard: this.now, invitedAt: -Infinity, failedAt: -Infinity, repliedAt: -Infinity, named: false };
  }

  /** Drops the farthest Identified peer that no election is asking. */
  private evict(): void {
    let worst: Entry | undefined;
    for (const e of this.ring) {
      if (e.state !== 'identified' || this.asked(e)) continue;
      if (worst === undefined || ringDistance(e.pos, this.pos) > ringDistance(worst.pos, this.pos)) worst = e;
    }
    if (worst !== undefined) this.remove(worst);
  }

  private asked(x: Entry): boolean {
    for (const e of this.elections.values()) if (e.channels.has(x)) return true;
    return false;
  }

  private remove(e: Entry): void {
    this.known.delete(e.address);
    const i = this.ring.indexOf(e);
    if (i >= 0) this.ring.splice(i, 1);
  }

  /** Index of the first entry at or above `pos` (ring.length when none). */
  private indexAbove(pos: number): number {
    let lo = 0;
    let hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ring[mid] as Entry).pos < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Up to `k` entries closer to `pos` than `below` that pass `keep`, nearest first (walks outward both ways). */
  private closest(pos: number, k: number, keep: (e: Entry) => boolean, below = Infinity): Entry[] {
    const n = this.ring.length;
    const out: Entry[] = [];
    if (n === 0 || k <= 0) return out;
    let up = this.indexAbove(pos) % n;
    let down = (up - 1 + n) % n;
    for (let seen = 0; seen < n && out.length < k; seen++) {
      const u = this.ring[up] as Entry;
      const d = this.ring[down] as Entry;
      const takeUp = ringDistance(u.pos, pos) <= ringDistance(d.pos, pos);
      const e = takeUp ? u : d;
      if (ringDistance(e.pos, pos) >= below) break;
      if (takeUp) up = (up + 1) % n;
      else down = (down - 1 + n) % n;
      if (keep(e)) out.push(e);
    }
    return out;
  }
}

/**
 * A requester that stores around the challenge is a member of every cluster it decides: an answer
 * sharing fewer pairs with its own proof than cluster members must share is not counted.
 */
function agrees(reference: readonly ProofPair[] | null, pairs: readonly ProofPair[]): boolean {
  return reference === null || common(reference, pairs) >= ELECTION_RULES.agree;
}

function all(): boolean {
  return true;
}

function isNoTicket(t: Uint8Array): boolean {
  for (const b of t) if (b !== 0) return false;
  return true;
}
