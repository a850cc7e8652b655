/**
 * Minefield evidence (PROTOCOL §9) over the deterministic simulator. The consensus run is the
 * ordinary one (engine.ts); an evidence workload watches it through the engine's read-only
 * `onTickEnd` view and never changes it, with random streams of its own:
 *
 *  - owners (askers with their own ring address and evidence book) query tokens they have seen
 *    committed; each query asks the token's window of live peers (w below, w + 1 at or above on
 *    the ring, as PROTOCOL §5.1), and every peer that hosts the token answers exactly as the
 *    daemon does (daemon/answer-builder.ts), signed, through the wire codec, signature-checked
 *    and kept in the owner's book, which checks it for fraud;
 *  - liars are consensus-honest peers that sign a false answer (one kind each) with probability
 *    P, only to a seeded share F of the owners;
 *  - optionally the owners pool their evidence every few ticks: each new kept statement is checked
 *    against the other owners' kept statements of the same responder (the split view a single
 *    owner cannot see: a liar that tells each asker one consistent story);
 *  - a fraud proof is handed to the peers the owner asked and spreads one hop per tick over the
 *    Connected graph; every honest live peer that receives it checks it once and votes to slash
 *    (the seed's network-wide 67 % vote, simulated).
 *
 * Several workloads can watch one consensus run (`runEvidenceWorlds`): they share the committed
 * tokens and the peers' keys, nothing else, so a detection table costs one consensus run per seed.
 */
import type { Ed25519Signer } from '../../kernels/types.js';
import type { ConsensusCrypto } from '../../consensus/peer.js';
import { AnswerBuilder, lie, LIE_KINDS, type LieKind } from '../../daemon/answer-builder.js';
import { checkFraudProof, fraudBetween, headSeq, statementSignatureValid } from '../../consensus/fraud.js';
import { fromHex, toHex } from '../../consensus/hex.js';
import { compare32 } from '../../consensus/keys.js';
import { consensusParams } from '../../consensus/params.js';
import { EvidenceBook, statementToken, type KeptStatement } from '../../store/evidence.js';
import type { StoreReader } from '../../store/types.js';
import { decodeMessage, encodeMessage } from '../../wire/codec.js';
import { ANSWER_SIZES, answerStatement, encodeStatement, signAnswer, STATEMENT_OFFSETS, type FraudPredicate, type UnsignedAnswer } from '../../wire/msg-answer.js';
import { fastSimCrypto } from './crypto.js';
import { percentiles, runSimulation, SIM_NETWORK_ID } from './engine.js';
import type { Churn, SimTickView } from './engine.js';
import type { NetProfileName } from './network.js';
import { Rng } from './rng.js';
import type { TopologyName } from './topology.js';

/** Share of live honest peers whose votes slash (the seed paper's 67 %). */
export const SLASH_SHARE = 0.67;
/** The acceptance bound on what an owner keeps about one token from one responder. */
export const MAX_BYTES_PER_RESPONDER_TOKEN = 2048;
/** Ticks a slashing vote may go on after the run, over its last peer graph. */
const GOSSIP_AFTER_RUN_TICKS = 100;
const BYTES_SAMPLE_TICKS = 50;
const TICKET_BYTES = 16;
const EVIDENCE_ITEM_BYTES = ANSWER_SIZES.evidenceItem;

export interface LiarSpec {
  readonly kind: LieKind;
  /** Probability that one answer to a targeted owner is a lie. */
  readonly p: number;
}

/** The consensus run the evidence workloads watch. */
export interface EvidenceRunOptions {
  readonly seed: number;
  readonly peers: number;
  readonly ticks: number;
  readonly drainTicks?: number;
  readonly topology?: TopologyName;
  readonly net?: NetProfileName;
  readonly blocksPerTick?: number;
  readonly transfers?: number;
  readonly conflicts?: number;
  readonly churn?: Churn;
  readonly onProgress?: (p: { tick: number; total: number; answers: number }) => void;
}

/** One evidence workload. */
export interface EvidenceWorkload {
  /** Owners, each with its own ring address and evidence book. */
  readonly owners?: number;
  /** Queries per tick over all owners (each asks a window of up to 2w + 1 peers). */
  readonly queries: number;
  readonly liars?: readonly LiarSpec[];
  /** Share F of the owners each liar lies to (seeded per liar). */
  readonly askers?: number;
  /** Owners compare their kept statements every this many ticks; 0 never. */
  readonly poolEveryTicks?: number;
}

export type EvidenceSimOptions = EvidenceRunOptions & EvidenceWorkload;

export const EVIDENCE_SIM_DEFAULTS = {
  drainTicks: 40,
  topology: 'dense',
  net: 'same-dc',
  blocksPerTick: 1,
  transfers: 0.5,
  conflicts: 0.1,
  owners: 8,
  askers: 1,
  poolEveryTicks: 20,
} as const;

/** How a liar was caught. */
export interface LiarCatch {
  readonly tick: number;
  /** The liar's answers to targeted owners, from the first through the one that completed the proof (pooled: up to the pooling). */
  readonly queries: number;
  /** Lies among them. */
  readonly lies: number;
  /** Queries the targeted owners issued from the first that reached the liar (to any peers). */
  readonly ownerQueries: number;
  readonly ticksFromFirstLie: number | null;
  readonly predicate: FraudPredicate;
}

export interface SlashReport {
  readonly proofTick: number;
  /** Ticks from the proof until ≥ 67 % of the live honest peers voted; null if never. */
  readonly ticksTo67: number | null;
  /** Share of the live honest peers that voted, when the gossip stopped spreading (or 100 ticks after the run). */
  readonly finalShare: number;
  readonly voters: number;
  /** Ticks the gossip went on after the run, over the last peer graph. */
  readonly ticksAfterRun: number;
}

export interface LiarReport {
  readonly peer: number;
  readonly kind: LieKind;
  readonly p: number;
  readonly targetedOwners: number;
  /** Answers to targeted owners, and the lies among them, over the whole run. */
  readonly answers: number;
  readonly lies: number;
  readonly firstLieTick: number | null;
  /** Caught by one owner's own book. */
  readonly alone: LiarCatch | null;
  /** Caught by an owner's book or by pooling, whichever came first (equals `alone` without pooling). */
  readonly pooled: LiarCatch | null;
  readonly slash: SlashReport | null;
}

export interface BytesStat {
  readonly max: number;
  readonly mean: number | null;
}

export interface EvidenceSimReport {
  readonly options: {
    readonly seed: number;
    readonly peers: number;
    readonly ticks: number;
    readonly drainTicks: number;
    readonly topology: TopologyName;
    readonly net: NetProfileName;
    readonly blocksPerTick: number;
    readonly transfers: number;
    readonly conflicts: number;
    readonly churn: Churn | null;
    readonly window: number;
    readonly owners: number;
    readonly queries: number;
    readonly liars: readonly LiarSpec[];
    readonly askers: number;
    readonly poolEveryTicks: number;
  };
  readonly consensus: { readonly committed: number; readonly transfers: number; readonly crashes: number; readonly twoWay: number; readonly violations: number };
  /** Tokens the owners know of (seen committed). */
  readonly tokens: number;
  readonly queries: number;
  /** Signed answers kept; `honest` excludes the lies. */
  readonly answers: { readonly total: number; readonly honest: number; readonly lies: number; readonly referrals: number; readonly rejected: number };
  /** Proofs naming a peer that never lied (must be 0), and the first few, each with its seed. */
  readonly falsePositives: { readonly proofs: number; readonly first: readonly string[] };
  /** Votes cast to slash a peer that never lied (must be 0). */
  readonly votesAgainstHonest: number;
  /** Proofs found that did not check out (a bug; must be 0). */
  readonly invalidProofs: number;
  readonly liars: readonly LiarReport[];
  /** What the owners' books keep, bytes, max over samples every 50 ticks; means at the end. */
  readonly evidenceBytes: {
    readonly perOwnerResponderToken: BytesStat;
    readonly perOwnerResponder: BytesStat;
    readonly perOwnerToken: BytesStat;
    readonly statementsPerOwner: number;
  };
}

// ---------------------------------------------------------------------------------------------
// What the workloads share: the peers' answer keys and the tokens seen committed.

interface KnownToken {
  readonly token: Uint8Array;
  /** Index of the first peer at or above the token (peers are in ring order). */
  readonly successor: number;
  /** Decides which owner the token belongs to. */
  readonly hash: number;
}

interface Shared {
  readonly crypto: ConsensusCrypto;
  readonly seed: number;
  readonly peers: number;
  readonly window: number;
  readonly total: number;
  readonly signers: readonly Ed25519Signer[];
  /** Answer key hex → peer index. */
  readonly keyIndex: ReadonlyMap<string, number>;
  readonly tokens: KnownToken[];
}

/** Each peer's answer key, derived from the run seed and its index (domain-separated). */
function answerSigners(crypto: ConsensusCrypto, seed: number, peers: number): Ed25519Signer[] {
  return Array.from({ length: peers }, (_, i) => {
    const material = new Uint8Array(16);
    const v = new DataView(material.buffer);
    v.setBigUint64(0, BigInt(Math.floor(seed)) & 0xffff_ffff_ffff_ffffn);
    v.setUint32(8, i);
    return crypto.ed25519.signerFromSeed(crypto.blake3.deriveKey('ecd sim evidence answer key', material));
  });
}

function successorOf(view: SimTickView, token: Uint8Array): number {
  let lo = 0;
  let hi = view.peers;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare32(view.address(mid), token) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo === view.peers ? 0 : lo;
}

/** The token's window over the peers that are up: w below the successor, w + 1 at or above. */
function liveWindow(view: SimTickView, successor: number, w: number): number[] {
  const n = view.peers;
  const out: number[] = [];
  for (let d = 1, below = 0; d <= n && below < w; d++) {
    const i = (successor - d + n) % n;
    if (view.store(i) !== undefined) {
      out.push(i);
      below++;
    }
  }
  for (let d = 0, above = 0; d < n && above < w + 1; d++) {
    const i = (successor + d) % n;
    if (view.store(i) === undefined) continue;
    if (out.includes(i)) break;
    out.push(i);
    above++;
  }
  return out;
}

function median(xs: readonly number[]): number | null {
  return percentiles([...xs]).p50;
}

// ---------------------------------------------------------------------------------------------
// One workload.

interface Liar {
  readonly peer: number;
  readonly kind: LieKind;
  readonly p: number;
  /** 1 for the owners it lies to. */
  readonly targeted: Uint8Array;
  answers: number;
  lies: number;
  firstLie: number | null;
  /** Targeted owners' queries before the one that first reached the liar; −1 until then. */
  ownerQueriesBefore: number;
  alone: LiarCatch | null;
  pooled: LiarCatch | null;
}

interface Slash {
  readonly culprit: number;
  readonly liar: Liar | undefined;
  readonly predicate: FraudPredicate;
  readonly a: Uint8Array;
  readonly b: Uint8Array;
  readonly proofTick: number;
  /** Peers that received and checked it. */
  readonly seen: Uint8Array;
  readonly voted: Uint8Array;
  /** Peers it reaches at the next step. */
  inbox: number[];
  voters: number;
  share: number;
  reachedAt: number | null;
  afterRun: number;
}

type ProofSource = 'alone' | 'pooled';

/** A kept statement with what decides whether it can contradict another: its head seq and the tokens it claims. */
interface PoolEntry {
  readonly bytes: Uint8Array;
  readonly head: number;
  /** First 4 bytes of each claimed token (the mapping's and the evidence items'). */
  readonly tokens: readonly number[];
}

function poolEntryOf(bytes: Uint8Array): PoolEntry {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tokens = [v.getUint32(STATEMENT_OFFSETS.token)];
  const n = v.getUint32(STATEMENT_OFFSETS.evidenceCount);
  for (let i = 0; i < n; i++) tokens.push(v.getUint32(STATEMENT_OFFSETS.evidence + EVIDENCE_ITEM_BYTES * i));
  return { bytes, head: headSeq(bytes), tokens };
}

/**
 * False only when no fraud predicate can hold: a fork needs equal head seqs, a double mapping or a
 * rollback a token both claim. A cheap filter before `fraudBetween`, which decides.
 */
function mayContradict(x: PoolEntry, y: PoolEntry): boolean {
  if (x.head === y.head) return true;
  for (const t of x.tokens) if (y.tokens.includes(t)) return true;
  return false;
}

class EvidenceWorld {
  private readonly owners: number;
  private readonly poolEvery: number;
  private readonly askers: number;
  private readonly books: EvidenceBook[];
  private readonly ownerAddress: Uint8Array[];
  private readonly ownerTokens: KnownToken[][];
  private readonly ownerQueries: number[];
  private readonly lastAsked: number[][];
  private readonly pooledUpTo: number[];
  private readonly poolFound = new Set<string>();
  private readonly poolEntries = new WeakMap<KeptStatement, PoolEntry>();
  private readonly liars: Liar[];
  private readonly liarAt = new Map<number, Liar>();
  private readonly builders: ({ readonly store: StoreReader; readonly builder: AnswerBuilder } | undefined)[];
  private readonly slashes = new Map<number, Slash>();
  private readonly queryRng: Rng;
  private readonly lieRng: Rng;
  private learned = 0;
  private queries = 0;
  /** Answers kept so far (progress). */
  answers = 0;
  private lies = 0;
  private referrals = 0;
  private rejected = 0;
  private invalidProofs = 0;
  private falsePositives = 0;
  private readonly falseFirst: string[] = [];
  private votesAgainstHonest = 0;
  private readonly bytesMax = { rt: 0, r: 0, t: 0 };
  private bytesLast: { rt: number | null; r: number | null; t: number | null; statements: number } = { rt: null, r: null, t: null, statements: 0 };

  constructor(
    private readonly shared: Shared,
    private readonly w: EvidenceWorkload,
  ) {
    const s = shared;
    this.owners = w.owners ?? EVIDENCE_SIM_DEFAULTS.owners;
    this.poolEvery = w.poolEveryTicks ?? EVIDENCE_SIM_DEFAULTS.poolEveryTicks;
    this.askers = w.askers ?? EVIDENCE_SIM_DEFAULTS.askers;
    if (this.owners < 1) throw new RangeError('an evidence workload needs at least one owner');
    const ownerRng = new Rng(s.seed * 1019 + 5);
    this.books = Array.from({ length: this.owners }, () => new EvidenceBook(s.crypto.blake3));
    this.ownerAddress = Array.from({ length: this.owners }, () => ownerRng.bytes(32));
    this.ownerTokens = Array.from({ length: this.owners }, () => []);
    this.ownerQueries = new Array<number>(this.owners).fill(0);
    this.lastAsked = Array.from({ length: this.owners }, () => []);
    this.pooledUpTo = new Array<number>(this.owners).fill(0);
    this.builders = new Array(s.peers).fill(undefined);
    this.queryRng = new Rng(s.seed * 1021 + 13);
    this.lieRng = new Rng(s.seed * 1031 + 17);
    this.liars = this.chooseLiars(w.liars ?? []);
  }

  private chooseLiars(specs: readonly LiarSpec[]): Liar[] {
    if (specs.length > this.shared.peers - 2) throw new RangeError(`${specs.length} liars leave fewer than two honest peers`);
    const order = new Rng(this.shared.seed * 1033 + 19).shuffle(Array.from({ length: this.shared.peers }, (_, i) => i));
    const count = Math.max(1, Math.round(this.askers * this.owners));
    return specs.map((spec, k) => {
      const targeted = new Uint8Array(this.owners);
      for (const o of new Rng(this.shared.seed * 1039 + 23 + k).shuffle(Array.from({ length: this.owners }, (_, o) => o)).slice(0, count)) targeted[o] = 1;
      const liar: Liar = { peer: order[k] as number, kind: spec.kind, p: spec.p, targeted, answers: 0, lies: 0, firstLie: null, ownerQueriesBefore: -1, alone: null, pooled: null };
      this.liarAt.set(liar.peer, liar);
      return liar;
    });
  }

  /** The end of one simulated tick: gossip moves a hop, owners query, pool and measure. */
  tickEnd(view: SimTickView): void {
    this.learnTokens();
    for (const s of this.slashes.values()) this.gossipStep(s, view.tick, (i) => view.up(i), (i) => view.connected(i));
    for (let q = 0; q < this.w.queries; q++) this.query(view);
    if (this.poolEvery > 0 && (view.tick + 1) % this.poolEvery === 0) this.pool(view.tick);
    if ((view.tick + 1) % BYTES_SAMPLE_TICKS === 0 || view.tick === this.shared.total - 1) this.sampleBytes();
  }

  private learnTokens(): void {
    for (; this.learned < this.shared.tokens.length; this.learned++) {
      const t = this.shared.tokens[this.learned] as KnownToken;
      (this.ownerTokens[t.hash % this.owners] as KnownToken[]).push(t);
    }
  }

  private query(view: SimTickView): void {
    const o = this.queryRng.int(this.owners);
    const list = this.ownerTokens[o] as KnownToken[];
    if (list.length === 0) return;
    const t = list[this.queryRng.int(list.length)] as KnownToken;
    const ticket = this.queryRng.bytes(TICKET_BYTES);
    this.queries++;
    this.ownerQueries[o] = (this.ownerQueries[o] as number) + 1;
    const asked = liveWindow(view, t.successor, this.shared.window);
    this.lastAsked[o] = asked;
    for (const i of asked) this.ask(view, o, i, t.token, ticket, asked);
  }

  private builderFor(i: number, store: StoreReader): AnswerBuilder {
    const b = this.builders[i];
    if (b !== undefined && b.store === store) return b.builder;
    const builder = new AnswerBuilder(store, (this.shared.signers[i] as Ed25519Signer).publicKey);
    this.builders[i] = { store, builder };
    return builder;
  }

  /** Peer i answers owner o about `token` (a non-host refers instead, as the daemon does). */
  private ask(view: SimTickView, o: number, i: number, token: Uint8Array, ticket: Uint8Array, asked: readonly number[]): void {
    const store = view.store(i);
    if (store === undefined) return;
    if (!view.hosts(i, token)) {
      this.referrals++;
      return;
    }
    let unsigned = this.builderFor(i, store).build({ requester: this.ownerAddress[o] as Uint8Array, ticket, token }, view.now);
    const liar = this.liarAt.get(i);
    if (liar !== undefined && liar.targeted[o] === 1) unsigned = this.maybeLie(liar, store, unsigned, view.tick);
    const bytes = this.receive(i, unsigned);
    if (bytes === null) return;
    this.answers++;
    const r = (this.books[o] as EvidenceBook).add(bytes, view.now);
    if (r.proof !== null) this.onProof(view.tick, 'alone', r.proof.predicate, r.proof.a, r.proof.b, asked);
  }

  private maybeLie(liar: Liar, store: StoreReader, honest: UnsignedAnswer, tick: number): UnsignedAnswer {
    if (liar.ownerQueriesBefore < 0) liar.ownerQueriesBefore = this.targetedQueries(liar) - 1;
    liar.answers++;
    if (!this.lieRng.chance(liar.p)) return honest;
    const l = lie(this.shared.crypto.blake3, store, liar.kind, honest);
    if (l === null) return honest;
    liar.lies++;
    liar.firstLie ??= tick;
    this.lies++;
    return l;
  }

  /** Signs as peer i, through the wire codec, and checks the signature as the owner does; the statement bytes, or null. */
  private receive(i: number, unsigned: UnsignedAnswer): Uint8Array | null {
    const { blake3, ed25519 } = this.shared.crypto;
    const d = decodeMessage(encodeMessage(signAnswer(blake3, this.shared.signers[i] as Ed25519Signer, SIM_NETWORK_ID, unsigned)));
    if (!d.ok || d.message.type !== 'answer') {
      this.rejected++;
      return null;
    }
    const bytes = encodeStatement(answerStatement(blake3, d.message));
    if (!statementSignatureValid(ed25519, SIM_NETWORK_ID, bytes)) {
      this.rejected++;
      return null;
    }
    return bytes;
  }

  private targetedQueries(liar: Liar): number {
    let n = 0;
    for (let o = 0; o < this.owners; o++) if (liar.targeted[o] === 1) n += this.ownerQueries[o] as number;
    return n;
  }

  private catchOf(liar: Liar, tick: number, predicate: FraudPredicate): LiarCatch {
    return {
      tick,
      queries: liar.answers,
      lies: liar.lies,
      ownerQueries: this.targetedQueries(liar) - Math.max(0, liar.ownerQueriesBefore),
      ticksFromFirstLie: liar.firstLie === null ? null : tick - liar.firstLie,
      predicate,
    };
  }

  /** A proof an owner found: checked as any peer would, attributed, and handed to the peers it asked. */
  private onProof(tick: number, source: ProofSource, predicate: FraudPredicate, a: Uint8Array, b: Uint8Array, handTo: readonly number[]): void {
    const check = checkFraudProof(this.shared.crypto, SIM_NETWORK_ID, predicate, a, b);
    if (!check.ok) {
      this.invalidProofs++;
      return;
    }
    const culprit = this.shared.keyIndex.get(toHex(check.culprit));
    if (culprit === undefined) {
      this.invalidProofs++;
      return;
    }
    const liar = this.liarAt.get(culprit);
    if (liar === undefined) {
      this.falsePositives++;
      if (this.falseFirst.length < 10) this.falseFirst.push(`seed ${this.shared.seed}, tick ${tick}: ${source} ${predicate} proof against honest peer ${culprit}`);
    } else {
      if (source === 'alone') liar.alone ??= this.catchOf(liar, tick, predicate);
      liar.pooled ??= this.catchOf(liar, tick, predicate);
    }
    if (this.slashes.has(culprit)) return;
    this.slashes.set(culprit, {
      culprit,
      liar,
      predicate,
      a: Uint8Array.from(a),
      b: Uint8Array.from(b),
      proofTick: tick,
      seen: new Uint8Array(this.shared.peers),
      voted: new Uint8Array(this.shared.peers),
      inbox: handTo.filter((i) => i !== culprit),
      voters: 0,
      share: 0,
      reachedAt: null,
      afterRun: 0,
    });
  }

  /** One gossip hop: each peer reached checks the proof once, votes, and passes it to its Connected peers. */
  private gossipStep(s: Slash, tick: number, up: (i: number) => boolean, connected: (i: number) => readonly number[]): void {
    const next: number[] = [];
    for (const r of s.inbox) {
      if (s.seen[r] === 1 || this.liarAt.has(r) || !up(r)) continue;
      s.seen[r] = 1;
      if (!checkFraudProof(this.shared.crypto, SIM_NETWORK_ID, s.predicate, s.a, s.b).ok) {
        this.invalidProofs++;
        continue;
      }
      s.voted[r] = 1;
      s.voters++;
      if (s.liar === undefined) this.votesAgainstHonest++;
      for (const n of connected(r)) if (s.seen[n] === 0 && n !== s.culprit) next.push(n);
    }
    s.inbox = next;
    let live = 0;
    let voted = 0;
    for (let i = 0; i < this.shared.peers; i++) {
      if (this.liarAt.has(i) || !up(i)) continue;
      live++;
      voted += s.voted[i] as number;
    }
    s.share = live === 0 ? 0 : voted / live;
    if (s.reachedAt === null && s.share >= SLASH_SHARE) s.reachedAt = tick;
  }

  /** The vote goes on after the run over the last peer graph until it stops spreading. */
  finishGossip(lastTick: number, up: readonly boolean[], connected: readonly (readonly number[])[]): void {
    for (const s of this.slashes.values()) {
      for (let k = 1; k <= GOSSIP_AFTER_RUN_TICKS && s.inbox.length > 0; k++) {
        s.afterRun = k;
        this.gossipStep(s, lastTick + k, (i) => up[i] === true, (i) => connected[i] ?? []);
      }
    }
  }

  /** Each owner's statements kept since the last pooling, against every other owner's of the same responder. */
  private pool(tick: number): void {
    const kept = this.books.map((b) => b.kept());
    const byResponder = kept.map((list) => {
      const m = new Map<string, PoolEntry[]>();
      for (const { responder, s } of list) {
        let l = m.get(responder);
        if (l === undefined) m.set(responder, (l = []));
        l.push(this.poolEntry(s));
      }
      return m;
    });
    for (let b = 0; b < this.owners; b++) {
      const since = this.pooledUpTo[b] as number;
      for (const { responder, s } of kept[b] ?? []) {
        if (s.arrival <= since) continue;
        this.pooledUpTo[b] = Math.max(this.pooledUpTo[b] as number, s.arrival);
        const x = this.poolEntry(s);
        for (let a = 0; a < this.owners; a++) {
          if (a === b) continue;
          for (const y of byResponder[a]?.get(responder) ?? []) {
            if (!mayContradict(x, y)) continue;
            const p = fraudBetween(y.bytes, x.bytes);
            if (p === null || this.poolFound.has(responder + p)) continue;
            this.poolFound.add(responder + p);
            this.onProof(tick, 'pooled', p, y.bytes, x.bytes, this.lastAsked[b] ?? []);
          }
        }
      }
    }
  }

  private poolEntry(s: KeptStatement): PoolEntry {
    let e = this.poolEntries.get(s);
    if (e === undefined) this.poolEntries.set(s, (e = poolEntryOf(s.bytes)));
    return e;
  }

  private sampleBytes(): void {
    const rt: number[] = [];
    const r: number[] = [];
    const t: number[] = [];
    let statements = 0;
    for (const book of this.books) {
      const perRT = new Map<string, number>();
      const perR = new Map<string, number>();
      const perT = new Map<string, number>();
      for (const k of book.kept()) {
        const token = toHex(statementToken(k.s.bytes));
        const n = k.s.bytes.length;
        perRT.set(k.responder + token, (perRT.get(k.responder + token) ?? 0) + n);
        perR.set(k.responder, (perR.get(k.responder) ?? 0) + n);
        perT.set(token, (perT.get(token) ?? 0) + n);
        statements++;
      }
      rt.push(...perRT.values());
      r.push(...perR.values());
      t.push(...perT.values());
    }
    const mean = (xs: number[]): number | null => (xs.length === 0 ? null : Math.round(xs.reduce((x, y) => x + y, 0) / xs.length));
    const max = (xs: number[]): number => xs.reduce((x, y) => Math.max(x, y), 0);
    this.bytesMax.rt = Math.max(this.bytesMax.rt, max(rt));
    this.bytesMax.r = Math.max(this.bytesMax.r, max(r));
    this.bytesMax.t = Math.max(this.bytesMax.t, max(t));
    this.bytesLast = { rt: mean(rt), r: mean(r), t: mean(t), statements: Math.round(statements / this.owners) };
  }

  report(run: { consensus: EvidenceSimReport['consensus']; options: Omit<EvidenceSimReport['options'], 'owners' | 'queries' | 'liars' | 'askers' | 'poolEveryTicks'> }): EvidenceSimReport {
    return {
      options: { ...run.options, owners: this.owners, queries: this.w.queries, liars: this.w.liars ?? [], askers: this.askers, poolEveryTicks: this.poolEvery },
      consensus: run.consensus,
      tokens: this.shared.tokens.length,
      queries: this.queries,
      answers: { total: this.answers, honest: this.answers - this.lies, lies: this.lies, referrals: this.referrals, rejected: this.rejected },
      falsePositives: { proofs: this.falsePositives, first: this.falseFirst },
      votesAgainstHonest: this.votesAgainstHonest,
      invalidProofs: this.invalidProofs,
      liars: this.liars.map((l) => this.liarReport(l)),
      evidenceBytes: {
        perOwnerResponderToken: { max: this.bytesMax.rt, mean: this.bytesLast.rt },
        perOwnerResponder: { max: this.bytesMax.r, mean: this.bytesLast.r },
        perOwnerToken: { max: this.bytesMax.t, mean: this.bytesLast.t },
        statementsPerOwner: this.bytesLast.statements,
      },
    };
  }

  private liarReport(l: Liar): LiarReport {
    const s = this.slashes.get(l.peer);
    const slash: SlashReport | null =
      s === undefined ? null : { proofTick: s.proofTick, ticksTo67: s.reachedAt === null ? null : s.reachedAt - s.proofTick, finalShare: Math.round(s.share * 1000) / 1000, voters: s.voters, ticksAfterRun: s.afterRun };
    return { peer: l.peer, kind: l.kind, p: l.p, targetedOwners: l.targeted.reduce((x, y) => x + y, 0), answers: l.answers, lies: l.lies, firstLieTick: l.firstLie, alone: l.alone, pooled: l.pooled, slash };
  }
}

// ---------------------------------------------------------------------------------------------
// Runs.

/** One consensus run watched by several evidence workloads; one report per workload. */
/**
 * The tokens of committed blocks, in the order first seen: a commit names a block id, whose
 * entries the committing peer's store holds at the end of the tick.
 */
class TokenLearner {
  private readonly blocksSeen = new Set<string>();
  private readonly tokensSeen = new Set<string>();
  /** Block id hex → a peer that committed it this tick. */
  private readonly pending = new Map<string, number>();

  constructor(private readonly tokens: KnownToken[]) {}

  committed(id: string, peer: number): void {
    if (!this.blocksSeen.has(id) && !this.pending.has(id)) this.pending.set(id, peer);
  }

  /** Blocks whose committer went down before the tick ended are learned from a later commit. */
  learn(view: SimTickView): void {
    for (const [id, peer] of this.pending) {
      const b = view.store(peer)?.block(fromHex(id));
      if (b === undefined) continue;
      this.blocksSeen.add(id);
      for (const e of b.block.entries) {
        const k = toHex(e.token);
        if (this.tokensSeen.has(k)) continue;
        this.tokensSeen.add(k);
        this.tokens.push({ token: e.token, successor: successorOf(view, e.token), hash: new DataView(e.token.buffer, e.token.byteOffset).getUint32(28) });
      }
    }
    this.pending.clear();
  }
}

/** Which peers were up and whom they were Connected to, at the last tick: the graph the slashing vote finishes on. */
interface LastGraph {
  readonly tick: number;
  readonly up: readonly boolean[];
  readonly connected: readonly (readonly number[])[];
}

function sharedFor(o: EvidenceRunOptions): Shared {
  const crypto = fastSimCrypto();
  const signers = answerSigners(crypto, o.seed, o.peers);
  return {
    crypto,
    seed: o.seed,
    peers: o.peers,
    window: consensusParams(SIM_NETWORK_ID).window,
    total: o.ticks + (o.drainTicks ?? EVIDENCE_SIM_DEFAULTS.drainTicks),
    signers,
    keyIndex: new Map(signers.map((s, i) => [toHex(s.publicKey), i])),
    tokens: [],
  };
}

/** One consensus run watched by several evidence workloads; one report per workload. */
export function runEvidenceWorlds(o: EvidenceRunOptions, workloads: readonly EvidenceWorkload[]): EvidenceSimReport[] {
  const shared = sharedFor(o);
  const worlds = workloads.map((w) => new EvidenceWorld(shared, w));
  const learner = new TokenLearner(shared.tokens);
  const drainTicks = o.drainTicks ?? EVIDENCE_SIM_DEFAULTS.drainTicks;
  let last: LastGraph | null = null;
  const run = runSimulation({
    peers: o.peers,
    ticks: o.ticks,
    drainTicks,
    topology: o.topology ?? EVIDENCE_SIM_DEFAULTS.topology,
    net: o.net ?? EVIDENCE_SIM_DEFAULTS.net,
    blocksPerTick: o.blocksPerTick ?? EVIDENCE_SIM_DEFAULTS.blocksPerTick,
    tokensPerBlock: 1,
    conflicts: o.conflicts ?? EVIDENCE_SIM_DEFAULTS.conflicts,
    transfers: o.transfers ?? EVIDENCE_SIM_DEFAULTS.transfers,
    seed: o.seed,
    ...(o.churn === undefined ? {} : { churn: o.churn }),
    onCommit: (c) => learner.committed(c.id, c.peer),
    onTickEnd: (view) => {
      learner.learn(view);
      for (const w of worlds) w.tickEnd(view);
      if (view.tick === shared.total - 1) {
        last = { tick: view.tick, up: Array.from({ length: o.peers }, (_, i) => view.up(i)), connected: Array.from({ length: o.peers }, (_, i) => view.connected(i)) };
      }
    },
    ...(o.onProgress === undefined ? {} : { onProgress: (p) => o.onProgress?.({ tick: p.tick, total: p.total, answers: worlds.reduce((n, w) => n + w.answers, 0) }) }),
  });
  const end = last as LastGraph | null;
  if (end !== null) for (const w of worlds) w.finishGossip(end.tick, end.up, end.connected);
  const r = run.report;
  const consensus = { committed: r.blocks.committedAnywhere, transfers: r.blocks.transfers, crashes: r.faults.crashes, twoWay: r.families.twoWay, violations: r.invariants.violations };
  const { topology, net, blocksPerTick, transfers, conflicts } = r.options;
  const options = { seed: o.seed, peers: o.peers, ticks: o.ticks, drainTicks, topology, net, blocksPerTick, transfers, conflicts, churn: o.churn ?? null, window: shared.window };
  return worlds.map((w) => w.report({ consensus, options }));
}

export function runEvidenceSimulation(o: EvidenceSimOptions): EvidenceSimReport {
  const { owners, queries, liars, askers, poolEveryTicks, ...run } = o;
  const workload: EvidenceWorkload = {
    queries,
    ...(owners === undefined ? {} : { owners }),
    ...(liars === undefined ? {} : { liars }),
    ...(askers === undefined ? {} : { askers }),
    ...(poolEveryTicks === undefined ? {} : { poolEveryTicks }),
  };
  return runEvidenceWorlds(run, [workload])[0] as EvidenceSimReport;
}

// ---------------------------------------------------------------------------------------------
// The detection table.

export const TABLE_PS = [0.05, 0.2, 0.5, 1] as const;
export const TABLE_FS = [0.25, 1] as const;

export interface DetectionCell {
  readonly kind: LieKind;
  readonly p: number;
  readonly askers: number;
  readonly liars: number;
  readonly caughtAlone: number;
  readonly caughtPooled: number;
  /** Medians over the liars caught: the liar's answers to targeted owners until the proof. */
  readonly queriesAlone: number | null;
  readonly queriesPooled: number | null;
  /** Median ticks from the first proof until 67 % of the live honest peers voted. */
  readonly ticksTo67: number | null;
}

export interface DetectionTable {
  readonly seeds: readonly number[];
  readonly liarsPerKind: number;
  readonly falsePositives: number;
  readonly votesAgainstHonest: number;
  readonly invalidProofs: number;
  readonly cells: readonly DetectionCell[];
}

/**
 * For every P × F, `liarsPerKind` liars of each kind; all cells of one seed watch one consensus
 * run (the same queries, so cells differ only in what the liars do).
 */
export function runDetectionTable(
  run: Omit<EvidenceRunOptions, 'seed'>,
  workload: Omit<EvidenceWorkload, 'liars' | 'askers'>,
  seeds: readonly number[],
  liarsPerKind: number,
  progress?: (seed: number) => void,
): DetectionTable {
  const grid = TABLE_PS.flatMap((p) => TABLE_FS.map((f) => ({ p, f })));
  const byCell = new Map<string, LiarReport[]>();
  let falsePositives = 0;
  let votesAgainstHonest = 0;
  let invalidProofs = 0;
  for (const seed of seeds) {
    const workloads = grid.map(({ p, f }) => ({ ...workload, askers: f, liars: LIE_KINDS.flatMap((kind) => Array.from({ length: liarsPerKind }, () => ({ kind, p }))) }));
    const reports = runEvidenceWorlds({ ...run, seed }, workloads);
    reports.forEach((r, k) => {
      falsePositives += r.falsePositives.proofs;
      votesAgainstHonest += r.votesAgainstHonest;
      invalidProofs += r.invalidProofs;
      const { p, f } = grid[k] as { p: number; f: number };
      for (const l of r.liars) {
        const key = `${l.kind} ${p} ${f}`;
        byCell.set(key, [...(byCell.get(key) ?? []), l]);
      }
    });
    progress?.(seed);
  }
  const cells: DetectionCell[] = [];
  for (const kind of LIE_KINDS) {
    for (const { p, f } of grid) {
      const ls = byCell.get(`${kind} ${p} ${f}`) ?? [];
      const alone = ls.flatMap((l) => (l.alone === null ? [] : [l.alone.queries]));
      const pooled = ls.flatMap((l) => (l.pooled === null ? [] : [l.pooled.queries]));
      const slash = ls.flatMap((l) => (l.slash === null || l.slash.ticksTo67 === null ? [] : [l.slash.ticksTo67]));
      cells.push({ kind, p, askers: f, liars: ls.length, caughtAlone: alone.length, caughtPooled: pooled.length, queriesAlone: median(alone), queriesPooled: median(pooled), ticksTo67: median(slash) });
    }
  }
  return { seeds, liarsPerKind, falsePositives, votesAgainstHonest, invalidProofs, cells };
}

// ---------------------------------------------------------------------------------------------
// Text output.

function catchText(c: LiarCatch | null): string {
  return c === null ? 'not caught' : `caught at tick ${c.tick} (${c.predicate}) after ${c.queries} answers to targeted owners, ${c.lies} lies, ${c.ownerQueries} owner queries`;
}

export function formatEvidenceReport(r: EvidenceSimReport): string {
  const o = r.options;
  const b = r.evidenceBytes;
  const lines = [
    `ecd sim evidence: ${o.peers} peers, ${o.topology} topology, ${o.net} network, seed ${o.seed}, window ${2 * o.window + 1}`,
    `  workload      ${o.ticks} ticks (+${o.drainTicks} drain), ${o.blocksPerTick} families/tick, ${Math.round(o.transfers * 100)} % transfers, churn ${o.churn === null ? 'off' : `${o.churn.rate}/tick, ~${o.churn.downTicks} ticks down`}; ${o.owners} owners, ${o.queries} queries/tick, pooling ${o.poolEveryTicks === 0 ? 'off' : `every ${o.poolEveryTicks} ticks`}`,
    `  consensus     ${r.consensus.committed} blocks committed (${r.consensus.transfers} transfers), ${r.consensus.crashes} crashes, ${r.consensus.twoWay} two-way, ${r.consensus.violations} invariant violations`,
    `  answers       ${r.answers.total} kept (${r.answers.honest} honest, ${r.answers.lies} lies) for ${r.queries} queries on ${r.tokens} tokens; ${r.answers.referrals} referrals, ${r.answers.rejected} rejected`,
    `  honest peers  ${r.falsePositives.proofs} fraud proofs, ${r.votesAgainstHonest} slashing votes, ${r.invalidProofs} invalid proofs${r.falsePositives.first.length > 0 ? `: ${r.falsePositives.first.join('; ')}` : ''}`,
    `  evidence      bytes kept per owner-responder-token max ${b.perOwnerResponderToken.max} (limit ${MAX_BYTES_PER_RESPONDER_TOKEN}), mean ${b.perOwnerResponderToken.mean ?? '-'}; per owner-responder max ${b.perOwnerResponder.max}, mean ${b.perOwnerResponder.mean ?? '-'}; per owner-token max ${b.perOwnerToken.max}, mean ${b.perOwnerToken.mean ?? '-'}; ${b.statementsPerOwner} statements per owner`,
  ];
  for (const l of r.liars) {
    const s = l.slash;
    const vote = s === null ? 'no vote' : `slashing vote ${s.ticksTo67 === null ? 'short of 67 %' : `67 % in ${s.ticksTo67} ticks`}, final ${Math.round(s.finalShare * 1000) / 10} % (${s.voters} voters)`;
    lines.push(`  liar ${String(l.peer).padStart(4)}    ${l.kind} P ${l.p} to ${l.targetedOwners}/${o.owners} owners: ${l.answers} answers, ${l.lies} lies; alone ${catchText(l.alone)}; pooled ${catchText(l.pooled)}; ${vote}`);
  }
  return lines.join('\n');
}

export function formatDetectionTable(t: DetectionTable): string {
  const n = (x: number | null): string => (x === null ? '-' : String(x));
  const lines = [
    `detection: seeds ${t.seeds.join(',')}, ${t.liarsPerKind} liar(s) per kind and seed; queries = the liar's answers to targeted owners until the proof (median over those caught)`,
    `${'kind'.padEnd(11)}${'P'.padStart(5)}${'F'.padStart(6)}   ${'caught alone'.padStart(12)} ${'queries'.padStart(8)}   ${'caught pooled'.padStart(13)} ${'queries'.padStart(8)}   ${'ticks to 67 %'.padStart(13)}`,
  ];
  for (const c of t.cells) {
    lines.push(
      `${c.kind.padEnd(11)}${String(c.p).padStart(5)}${String(c.askers).padStart(6)}   ${`${c.caughtAlone}/${c.liars}`.padStart(12)} ${n(c.queriesAlone).padStart(8)}   ${`${c.caughtPooled}/${c.liars}`.padStart(13)} ${n(c.queriesPooled).padStart(8)}   ${n(c.ticksTo67).padStart(13)}`,
    );
  }
  lines.push(`honest peers: ${t.falsePositives} fraud proofs, ${t.votesAgainstHonest} slashing votes, ${t.invalidProofs} invalid proofs`);
  return lines.join('\n');
}
