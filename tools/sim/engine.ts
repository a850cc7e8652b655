/**
 * A deterministic discrete-event simulator of N peers in one process. Every honest peer is the
 * composition the daemon runs (tools/sim/node.ts: the consensus core over its own store, the wire
 * codec on every message, its peer set); the engine moves encoded messages between them in ticks
 * with a network profile's delay, loss, duplication and reordering, submits a workload of blocks,
 * plays byzantine peers, and checks the safety invariants on every batch. One seed reproduces a
 * run exactly.
 *
 * Workload: families of blocks. A family is one block, or for a `conflicts` share two contenders
 * spending the same (token, last) submitted at two different honest entry peers, in the same tick
 * or, for a `late` share, the second one after the mempool lifetime (a late contender). With
 * `transfers` > 0 that share of families moves a token whose last block committed at its entry
 * peer, signed by its owner; the others create fresh tokens.
 */
import type { Block, SignedBlock } from '../../wire/block.js';
import { blockId, checkBlockStructure, commitRecordId, keyHash, signBlock, ZERO_ID } from '../../wire/block.js';
import type { CommitBatch, StoreReader } from '../../store/types.js';
import type { ConsensusParams } from '../../consensus/params.js';
import { consensusParams } from '../../consensus/params.js';
import { toHex } from '../../consensus/hex.js';
import { compare32, IdMap, isZero32, PeerIds } from '../../consensus/keys.js';
import { committedVote } from '../../consensus/votes.js';
import type { Message } from '../../consensus/messages.js';
import { decodeMessage, encodeMessage } from '../../wire/messages.js';
import { fastSimCrypto, nobleSimCrypto } from './crypto.js';
import { delays, NETS } from './network.js';
import type { NetProfileName } from './network.js';
import { SimNode } from './node.js';
import type { NodeOutput } from './node.js';
import { Rng } from './rng.js';
import { buildTopology } from './topology.js';
import type { TopologyName } from './topology.js';
import { Formation, type FormationReport, type LifeEnvelope } from './formation.js';
import { hostedArc, serveSync, syncPartners, SyncSession, type SyncMessage } from '../../consensus/sync-session.js';

export const SIM_NETWORK_ID = 3n;
/** Keep-alive period: the daemon pings its Connected peers every 5 s (100 ticks). */
const KEEP_ALIVE_TICKS = 100;

function answersPings(p: { readonly kind: string; readonly downUntil: number }): boolean {
  return p.kind !== 'silent' && p.downUntil < 0;
}
const T0 = 1_700_000_000_000;

/** `nostore`: runs the honest core but holds none of the aligned storage, so it cannot prove storage. */
export type ByzantineKind = 'silent' | 'equivocator' | 'forger' | 'nostore';

export interface SimOptions {
  readonly peers: number;
  /** Ticks with workload; the run then drains for `drainTicks` more. */
  readonly ticks: number;
  /** The workload starts at this tick (default 0): with `bootstrap`, the network forms first. */
  readonly workloadFrom?: number;
  readonly drainTicks?: number;
  readonly topology: TopologyName;
  readonly net: NetProfileName;
  /** New block families per tick (fractions accumulate). */
  readonly blocksPerTick: number;
  readonly tokensPerBlock: number;
  /** Share of families that are double spends (two contenders). */
  readonly conflicts: number;
  /** Share of conflict families whose second contender arrives after the mempool lifetime. */
  readonly late?: number;
  /** Share of families that transfer a ready token instead of creating tokens. */
  readonly transfers?: number;
  /** Byzantine peers by kind, as shares of all peers. */
  readonly byzantine?: Partial<Record<ByzantineKind, number>>;
  readonly seed: number;
  readonly partitions?: readonly Partition[];
  readonly churn?: Churn;
  /**
   * Peers join in a seeded order, each knowing this many random peers (1–3) among those that
   * joined before it, and earn their Connected sets through the peer lifecycle
   * (consensus/lifecycle.ts); `topology` is then ignored.
   */
  readonly bootstrap?: number;
  readonly params?: Partial<ConsensusParams>;
  /** Real Ed25519 and BLAKE3 (@noble) instead of the cheap deterministic stand-ins. */
  readonly realCrypto?: boolean;
  readonly onProgress?: (p: { tick: number; total: number; frames: number }) => void;
  /** Diagnostics: every message delivered, in simulation order. */
  readonly onDeliver?: (d: { tick: number; from: number; to: number; message: Message }) => void;
  /** Diagnostics: crashes and restarts (churn). */
  readonly onChurn?: (c: { tick: number; peer: number; up: boolean }) => void;
  /** Diagnostics: every commit at an honest peer, in simulation order. */
  readonly onCommit?: (c: { tick: number; peer: number; id: string; learned: boolean; hosts: boolean }) => void;
  /** Diagnostics and the evidence simulation: a read-only view at the end of every tick. */
  readonly onTickEnd?: (view: SimTickView) => void;
  readonly progressEveryTicks?: number;
  /** Stop at the first invariant violation (default true). */
  readonly stopOnViolation?: boolean;
}

export type SimPeerKind = 'honest' | ByzantineKind;

/**
 * The simulation as it stands at the end of a tick, for observers that must not change it: peers
 * by index (ring order). Valid only during the `onTickEnd` call; returned arrays are the engine's
 * own and must not be modified.
 */
export interface SimTickView {
  readonly tick: number;
  /** Virtual unix ms. */
  readonly now: number;
  readonly peers: number;
  address(i: number): Uint8Array;
  kind(i: number): SimPeerKind;
  /** False while churn has it down. */
  up(i: number): boolean;
  /** Its store, for an honest peer that is up. */
  store(i: number): StoreReader | undefined;
  /** Whether an honest peer that is up hosts `token` in its own view of the ring. */
  hosts(i: number, token: Uint8Array): boolean;
  /** Its Connected neighbours. */
  connected(i: number): readonly number[];
}

/**
 * From tick `start` (inclusive) to `end` (exclusive) a seeded `fraction` of the peers is cut off
 * from the rest (both ways; messages in flight across the cut are dropped on delivery).
 */
export interface Partition {
  readonly start: number;
  readonly end: number;
  readonly fraction: number;
}

/**
 * Every tick each honest peer that is up crashes with probability `rate`, stays down a seeded
 * 0.5–1.5 × `downTicks`, and restarts with its store and an empty mempool (a new composition);
 * the clients of its undecided blocks then submit them again, as a client whose entry restarted
 * would.
 */
export interface Churn {
  readonly rate: number;
  readonly downTicks: number;
}

export interface Percentiles {
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

export interface SimReport {
  readonly options: {
    readonly peers: number;
    readonly ticks: number;
    readonly drainTicks: number;
    readonly topology: TopologyName;
    readonly net: NetProfileName;
    readonly blocksPerTick: number;
    readonly tokensPerBlock: number;
    readonly conflicts: number;
    readonly late: number;
    readonly transfers: number;
    readonly byzantine: Partial<Record<ByzantineKind, number>>;
    readonly partitions: readonly Partition[];
    readonly churn: Churn | null;
    readonly quorum: number;
    readonly seed: number;
  };
  /**
   * `honest`: blocks of families with one contender; `honestCommitted`: of those, committed by a
   * majority of their token's honest hosts and by their entry peer within the mempool lifetime.
   */
  readonly blocks: {
    readonly submitted: number;
    readonly transfers: number;
    readonly honest: number;
    readonly honestCommitted: number;
    /** Honest blocks their entry peer committed within the mempool lifetime. */
    readonly honestAtEntry: number;
    readonly committedAtEntry: number;
    readonly committedAnywhere: number;
  };
  /** Ticks from submission until a majority of the token's honest hosts committed, and until the entry did. */
  readonly latency: { readonly hosts: Percentiles; readonly entry: Percentiles };
  readonly messages: {
    readonly frames: number;
    readonly items: number;
    readonly bytes: number;
    readonly itemsPerCommit: number | null;
    readonly byType: Record<string, number>;
    /** Items the honest cores sent, by the rule that sent them (consensus/peer.ts SendCause). */
    readonly byCause: Record<string, number>;
    readonly itemsPerCommitByCause: Record<string, number>;
  };
  /** `twoWay`: families with two contenders committed anywhere (at one peer or at different peers). */
  readonly families: {
    readonly total: number;
    readonly conflicted: number;
    readonly late: number;
    readonly stalled: number;
    readonly highestWon: number;
    readonly lowerWon: number;
    readonly twoWay: number;
  };
  /** Of the honest peers hosting a token of a committed block, the share that committed it. */
  readonly hostCoverage: number | null;
  /** Commits at entries and hosts made on T + 1 host reports rather than a quorum. */
  readonly learned: number;
  readonly expired: Record<string, number>;
  readonly faults: { readonly crashes: number; readonly partitionDrops: number; readonly downDrops: number };
  readonly invariants: { readonly violations: number; readonly first: readonly string[] };
  /** With `bootstrap`: how the network formed. */
  readonly network: FormationReport | null;
  /**
   * Sync (consensus/sync-session.ts): sessions started by restarted peers (and by joiners once
   * their neighbourhood formed), mappings they learned, and ticks from start to the end of each.
   */
  /** `ended`: sessions that finished (or were cut short by a crash); `open`: still running at the end. */
  readonly sync: { readonly sessions: number; readonly ended: number; readonly open: number; readonly learned: number; readonly lagTicks: Percentiles };
}

export interface SimRun {
  readonly report: SimReport;
  readonly wallMs: number;
  /** The raw latencies behind the report's percentiles (for pooling several runs). */
  readonly latencies: { readonly hosts: readonly number[]; readonly entry: readonly number[] };
  /** Diagnostics: the block ids (hex) of the families committed two ways; each peer's kind. */
  readonly twoWayFamilies: readonly (readonly string[])[];
  readonly kinds: readonly string[];
  /** Diagnostics: honest blocks not committed by their entry, with their parents (hex). */
  readonly honestMisses: readonly { readonly id: string; readonly parents: readonly string[]; readonly entry: number; readonly submitted: number }[];
}

type Kind = SimPeerKind;

interface SimPeer {
  readonly index: number;
  readonly address: Uint8Array;
  readonly kind: Kind;
  node: SimNode | undefined;
  /** Churn: down until this tick (exclusive); −1 when up. */
  downUntil: number;
  /** Neighbours in its Connected set (keep-alive drops those that do not answer). */
  connected: readonly number[];
  /** Catching up after a restart, or after its neighbourhood formed. */
  sync: { session: SyncSession; started: number } | undefined;
  /** A joiner syncs once, when its neighbourhood first forms. */
  synced: boolean;
  /** Invariant bookkeeping: commit head, (token ‖ last) → block, token → mapping. */
  head: { seq: number; id: Uint8Array };
  readonly spent: Map<string, string>;
  readonly mapping: Map<string, string>;
}

interface Envelope {
  readonly from: number;
  readonly to: number;
  readonly seq: number;
  /** A consensus message, wire-encoded, or a lifecycle or sync message. */
  readonly bytes: Uint8Array | null;
  readonly life?: LifeEnvelope;
  readonly sync?: SyncMessage;
}

interface BlockInfo {
  readonly family: number;
  readonly entry: number;
  readonly submitted: number;
  readonly id: Uint8Array;
  readonly signed: SignedBlock;
  readonly tokens: readonly Uint8Array[];
  /** token hex ‖ block hex of each entry's parent, for the mapping invariant. */
  readonly parents: readonly string[];
  entryAt: number | undefined;
  committers: number;
  readonly hostTicks: number[];
}

interface Family {
  readonly blocks: string[];
  late: boolean;
  /** Transfer workload: the next owners per block id; dropped once one committed at its entry. */
  owners: Map<string, { readonly token: Uint8Array; readonly seed: Uint8Array }[]> | undefined;
}

/** A token ready to be transferred: its last block committed at its entry peer. */
interface Owned {
  readonly token: Uint8Array;
  readonly last: Uint8Array;
  readonly seed: Uint8Array;
}

interface Made {
  readonly signed: SignedBlock;
  readonly owners: { readonly token: Uint8Array; readonly seed: Uint8Array }[] | undefined;
}

/** The core holds the block in its mempool and decides it; sync leaves it alone. */
function isBusy(node: SimNode, id: Uint8Array): boolean {
  const s = node.core.status(id);
  return s !== 'unknown' && s !== 'stored';
}

function runsCore(kind: Kind): boolean {
  return kind === 'honest' || kind === 'nostore';
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: null, p95: null, p99: null };
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function runSimulation(o: SimOptions): SimRun {
  const started = performance.now();
  const rng = new Rng(o.seed);
  const drainTicks = o.drainTicks ?? 40;
  const params = consensusParams(SIM_NETWORK_ID, o.params ?? {});
  const crypto = o.realCrypto === true ? nobleSimCrypto() : fastSimCrypto();
  const net = NETS[o.net];
  const stop = o.stopOnViolation ?? true;
  const lifetime = params.mempoolLifetimeTicks;

  // Peers in ring order (addresses sorted), so topology indices are ring neighbours.
  const addresses = Array.from({ length: o.peers }, () => rng.bytes(32)).sort(compare32);
  const kinds: Kind[] = addresses.map(() => 'honest');
  const shuffled = rng.shuffle(addresses.map((_, i) => i));
  let taken = 0;
  for (const kind of ['silent', 'equivocator', 'forger', 'nostore'] as const) {
    const n = Math.floor((o.byzantine?.[kind] ?? 0) * o.peers);
    shuffled.slice(taken, taken + n).forEach((i) => (kinds[i] = kind));
    taken += n;
  }
  const indexOf = new IdMap<number>();
  addresses.forEach((a, i) => indexOf.set(a, i));
  const emergent = o.bootstrap !== undefined;
  const adj = emergent ? addresses.map(() => [] as number[]) : buildTopology(o.topology, o.peers, rng);
  const peerIds = new PeerIds();
  let restarts = 0;
  const makeNode = (index: number, store?: SimNode['store']): SimNode => {
    const ticketRng = new Rng(o.seed * 31 + index + 1 + restarts * 7919);
    return new SimNode({ crypto, random: (n) => ticketRng.bytes(n), peerIds, ...(store === undefined ? {} : { store }) }, { address: addresses[index] as Uint8Array, params, connected: (adj[index] as number[]).map((j) => addresses[j] as Uint8Array) });
  };
  const peers: SimPeer[] = addresses.map((address, index) => ({
    index,
    address,
    kind: kinds[index] as Kind,
    node: runsCore(kinds[index] as Kind) ? makeNode(index) : undefined,
    downUntil: -1,
    connected: adj[index] as number[],
    sync: undefined,
    synced: false,
    head: { seq: 0, id: ZERO_ID },
    spent: new Map(),
    mapping: new Map(),
  }));
  // Peers that run the honest core: workload entries, churn, ticks (nostore peers among them).
  const honest = peers.filter((p) => p.node !== undefined).map((p) => p.index);
  if (honest.length < 2) throw new RangeError('a simulation needs at least two honest peers');

  // Partitions and churn draw from their own streams, and so does the workload: the same seed
  // submits the same blocks at the same peers whatever the parameters do to the traffic.
  const partitions = o.partitions ?? [];
  const cut: Uint8Array[] = partitions.map((pt, k) => {
    const side = new Uint8Array(o.peers);
    const r = new Rng(o.seed * 131 + 17 + k);
    for (const i of r.shuffle(addresses.map((_, i) => i)).slice(0, Math.round(pt.fraction * o.peers))) side[i] = 1;
    return side;
  });
  const churnRng = new Rng(o.seed * 257 + 3);
  const work = new Rng(o.seed * 509 + 11);

  let tick = 0;
  let seq = 0;
  let frames = 0;
  let items = 0;
  let bytes = 0;
  let crashes = 0;
  let partitionDrops = 0;
  let downDrops = 0;
  let learned = 0;
  const byType: Record<string, number> = {};
  const byCause: Record<string, number> = {};
  const expired: Record<string, number> = {};
  const violations: string[] = [];
  let violationCount = 0;
  const buckets = new Map<number, Envelope[]>();
  const blocks = new Map<string, BlockInfo>();
  const families: Family[] = [];
  /** Second contenders of late families, by the tick they are due. */
  const lateDue = new Map<number, { family: number; entry: number; make: () => Made }[]>();
  let submitted = 0;
  let submittedTransfers = 0;

  const now = (): number => T0 + tick * 50;
  const violate = (msg: string): void => {
    violationCount++;
    if (violations.length < 10) violations.push(`seed ${o.seed}, tick ${tick}: ${msg}`);
  };
  const severed = (from: number, to: number): boolean => {
    for (let k = 0; k < partitions.length; k++) {
      const pt = partitions[k] as Partition;
      if (tick >= pt.start && tick < pt.end && (cut[k] as Uint8Array)[from] !== (cut[k] as Uint8Array)[to]) return true;
    }
    return false;
  };

  const schedule = (env: Envelope): void => {
    if (severed(env.from, env.to)) {
      partitionDrops++;
      return;
    }
    for (const d of delays(net, rng)) {
      const at = tick + d;
      let b = buckets.get(at);
      if (b === undefined) buckets.set(at, (b = []));
      b.push(env);
    }
  };
  const formation = emergent ? new Formation({ seed: o.seed, peers: o.peers, bootstrap: o.bootstrap as number, addresses, kinds, blake3: crypto.blake3, networkId: SIM_NETWORK_ID, window: params.window, stores: (i) => (peers[i] as SimPeer).node?.store, send: (from, to, life) => schedule({ from, to, seq: seq++, bytes: null, life }) }) : undefined;
  const send = (from: number, to: number, message: Message): void => {
    const encoded = encodeMessage(message);
    frames++;
    items += message.type === 'batch' ? message.items.length : 1;
    bytes += encoded.length;
    byType[message.type] = (byType[message.type] ?? 0) + 1;
    schedule({ from, to, seq: seq++, bytes: encoded });
  };

  /** Every batch: the chain links, blocks are valid, no (token, last) spent twice, mappings only move forward. */
  const check = (p: SimPeer, batch: CommitBatch): void => {
    let head = p.head;
    for (const c of batch.commits) {
      if (c.seq !== head.seq + 1 || compare32(c.prevId, head.id) !== 0) violate(`peer ${p.index}: commit chain does not link`);
      if (compare32(commitRecordId(crypto.blake3, c), c.id) !== 0) violate(`peer ${p.index}: commit id does not hash its record`);
      head = { seq: c.seq, id: c.id };
    }
    p.head = head;
    for (const b of batch.blocks) {
      const id = toHex(b.id);
      if (checkBlockStructure(b.block, b.signatures) !== null || compare32(blockId(crypto.blake3, SIM_NETWORK_ID, b.block), b.id) !== 0) violate(`peer ${p.index}: committed an invalid block ${id}`);
      for (const e of b.block.entries) {
        const k = toHex(e.token) + toHex(e.last);
        const prev = p.spent.get(k);
        if (prev !== undefined && prev !== id) violate(`peer ${p.index}: committed two contenders ${prev} and ${id}`);
        p.spent.set(k, id);
      }
    }
    for (const t of batch.tokens) {
      const token = toHex(t.token);
      const before = p.mapping.get(token);
      const next = toHex(t.mapping.block);
      if (before !== undefined && !descends(token, next, before)) violate(`peer ${p.index}: mapping of ${token} moved from ${before} to ${next}, not a descendant`);
      p.mapping.set(token, next);
    }
  };
  /** Whether `block` is `ancestor` or a descendant of it on `token`'s chain (from the workload's own records). */
  const descends = (token: string, block: string, ancestor: string): boolean => {
    let cur: string | undefined = block;
    for (let n = 0; cur !== undefined && n < 100_000; n++) {
      if (cur === ancestor) return true;
      const info = blocks.get(cur);
      if (info === undefined) return false;
      const i = info.tokens.findIndex((t) => toHex(t) === token);
      cur = i < 0 ? undefined : (info.parents[i] as string);
    }
    return false;
  };

  const take = (p: SimPeer, out: NodeOutput): void => {
    if (out.batch !== null) check(p, out.batch);
    for (const ev of out.events) {
      if (ev.kind === 'committed') {
        if (ev.learned) learned++;
        const info = blocks.get(ev.id);
        if (info === undefined) continue;
        info.committers++;
        const node = p.node as SimNode;
        o.onCommit?.({ tick, peer: p.index, id: ev.id, learned: ev.learned, hosts: info.tokens.some((t) => node.core.hosts(t)) });
        if (info.tokens.some((t) => node.core.hosts(t))) info.hostTicks.push(tick - info.submitted);
        if (info.entry === p.index && info.entryAt === undefined) {
          info.entryAt = tick;
          release(info, ev.id);
        }
      } else if (ev.kind === 'expired') {
        expired[ev.state] = (expired[ev.state] ?? 0) + 1;
      } else if (ev.kind === 'rejected' && (ev.action === 'reject' || ev.code === 'internal-error')) {
        violate(`peer ${p.index}: honest traffic rejected (${ev.message}: ${ev.code})`);
      }
    }
    for (const [k, n] of Object.entries(out.causes)) byCause[k] = (byCause[k] ?? 0) + (n as number);
    for (const m of out.messages) {
      const to = indexOf.get(m.to);
      if (to !== undefined) send(p.index, to, m.message);
    }
  };

  /** Byzantine peers: silent ones drop everything; equivocators vote `+` on every entry of every block they are asked about; forgers report every block committed, claiming to host it. */
  const misbehave = (p: SimPeer, env: Envelope, m: Message): void => {
    if (p.kind === 'silent') return;
    const answer = (id: Uint8Array, entries: number): void => {
      const v = p.kind === 'forger' ? committedVote(0x3f) : { pos: (1 << entries) - 1, neg: 0 };
      send(p.index, env.from, { type: 'vote', blockId: id, pos: v.pos, neg: v.neg, reply: false });
    };
    if (m.type === 'initial-vote') {
      if (checkBlockStructure(m.block, m.signatures) === null) answer(blockId(crypto.blake3, SIM_NETWORK_ID, m.block), m.block.entries.length);
    } else if (m.type === 'vote' && m.reply) {
      const info = blocks.get(toHex(m.blockId));
      answer(m.blockId, info?.tokens.length ?? 1);
    } else if (m.type === 'batch') {
      for (const i of m.items) misbehave(p, env, i);
    }
  };

  const transfers = o.transfers ?? 0;
  const ready: Owned[] = [];
  const ownerKeyHash = (seed: Uint8Array): Uint8Array => keyHash(crypto.blake3, crypto.ed25519.signerFromSeed(seed).publicKey);

  const makeCreation = (tokens: Uint8Array[], nextSeeds: Uint8Array[]): Made => {
    const owners = tokens.map((token, i) => ({ token, seed: nextSeeds[i] as Uint8Array }));
    const block: Block = { version: 1, time: now(), entries: owners.map((x) => ({ token: x.token, last: ZERO_ID, nextKeyHash: ownerKeyHash(x.seed) })) };
    return { signed: { block, signatures: [] }, owners: transfers > 0 ? owners : undefined };
  };
  const makeTransfer = (t: Owned, seed: Uint8Array): Made => {
    const block: Block = { version: 1, time: now(), entries: [{ token: t.token, last: t.last, nextKeyHash: ownerKeyHash(seed) }] };
    const signed = signBlock(crypto.blake3, SIM_NETWORK_ID, block, new Map([[0, crypto.ed25519.signerFromSeed(t.seed)]]));
    return { signed, owners: [{ token: t.token, seed }] };
  };

  const submit = (entry: number, family: number, made: Made): void => {
    const p = peers[entry] as SimPeer;
    const node = p.node as SimNode;
    const out = node.submit(now(), made.signed);
    if (out.id === undefined) return;
    const id = blockId(crypto.blake3, SIM_NETWORK_ID, made.signed.block);
    submitted++;
    const entries = made.signed.block.entries;
    if (entries.some((x) => !isZero32(x.last))) submittedTransfers++;
    blocks.set(out.id, {
      family,
      entry,
      submitted: tick,
      id,
      signed: made.signed,
      tokens: entries.map((x) => x.token),
      parents: entries.map((x) => toHex(x.last)),
      entryAt: undefined,
      committers: 0,
      hostTicks: [],
    });
    const f = families[family] as Family;
    f.blocks.push(out.id);
    if (made.owners !== undefined) (f.owners ??= new Map()).set(out.id, made.owners);
    take(p, out);
  };

  /** The first block of a family to commit at its entry makes its tokens ready to move on. */
  const release = (info: BlockInfo, id: string): void => {
    const f = families[info.family] as Family;
    const owners = f.owners?.get(id);
    if (owners === undefined) return;
    for (const x of owners) ready.push({ token: x.token, last: info.id, seed: x.seed });
    f.owners = undefined;
  };

  /** A keep-alive round at p: its Connected set becomes the neighbours that answer pings. */
  const refreshConnected = (p: SimPeer, force = false): void => {
    if (p.node === undefined || p.downUntil >= 0) return;
    const neighbours = formation?.connected(p.index) ?? (adj[p.index] as number[]);
    const alive = neighbours.filter((j) => answersPings(peers[j] as SimPeer));
    formation?.heard(p.index, alive);
    if (!force && alive.length === p.connected.length && alive.every((j, k) => p.connected[k] === j)) return;
    p.connected = alive;
    (p.node as SimNode).setPeers(alive.map((j) => addresses[j] as Uint8Array), formation?.pending(p.index) ?? []);
    if (formation !== undefined) (p.node as SimNode).setVoting(formation.formed(p.index));
  };
  formation?.onChange((i) => refreshConnected(peers[i] as SimPeer, true));

  // Sync: a restarted peer (or a joiner once formed) reconciles its hosted arc with its Connected
  // neighbours that are up, two on each side; partners answer from their stores.
  let syncSessions = 0;
  let syncEnded = 0;
  let syncLearned = 0;
  let syncTickets = 0;
  const syncLags: number[] = [];
  const sendSync = (from: number, to: number, m: SyncMessage): void => schedule({ from, to, seq: seq++, bytes: null, sync: m });
  const startSync = (p: SimPeer): void => {
    const node = p.node as SimNode;
    p.synced = true;
    const up = p.connected.filter((j) => (peers[j] as SimPeer).node !== undefined && (peers[j] as SimPeer).downUntil < 0);
    const partners = syncPartners(p.address, up.map((j) => addresses[j] as Uint8Array)).map((a) => indexOf.get(a) as number);
    if (partners.length < 2) return;
    const arc = hostedArc(p.address, p.connected.map((j) => addresses[j] as Uint8Array), params.window);
    const ticket = new Uint8Array(16);
    new DataView(ticket.buffer).setUint32(12, ++syncTickets);
    const session = new SyncSession({ blake3: crypto.blake3, networkId: SIM_NETWORK_ID, store: node.store, busy: (id) => isBusy(node, id), maxFutureMs: params.maxFutureMs }, partners.map((j) => addresses[j] as Uint8Array), arc, ticket);
    p.sync = { session, started: tick };
    syncSessions++;
    for (const s of session.start()) sendSync(p.index, indexOf.get(s.to) as number, s.message);
  };
  const endSync = (p: SimPeer): void => {
    if (p.sync === undefined) return;
    syncEnded++;
    syncLearned += p.sync.session.learned;
    syncLags.push(tick - p.sync.started);
    p.sync = undefined;
  };
  const onSync = (p: SimPeer, from: number, m: SyncMessage): void => {
    const node = p.node;
    if (node === undefined) return;
    if (m.type === 'sync-ask' || m.type === 'query-block') {
      const reply = serveSync({ blake3: crypto.blake3, store: node.store }, m);
      if (reply !== null) sendSync(p.index, from, reply);
      return;
    }
    if (p.sync === undefined) return;
    const r = p.sync.session.receive(addresses[from] as Uint8Array, m, now());
    if (r.batch !== null) {
      check(p, r.batch);
      node.store.apply(r.batch);
      node.core.noteSynced(r.batch.tokens.map((t) => t.token));
    }
    for (const s of r.messages) sendSync(p.index, indexOf.get(s.to) as number, s.message);
    if (r.done) endSync(p);
  };

  const upEntries = (): number[] => (o.churn === undefined ? honest : honest.filter((i) => (peers[i] as SimPeer).downUntil < 0));
  const pickOther = (entries: number[], a: number): number => {
    let b = entries[work.int(entries.length)] as number;
    while (b === a) b = entries[work.int(entries.length)] as number;
    return b;
  };

  const upNode = (i: number): SimNode | undefined => {
    const p = peers[i] as SimPeer;
    return p.downUntil < 0 ? p.node : undefined;
  };
  const view: SimTickView = {
    get tick() {
      return tick;
    },
    get now() {
      return now();
    },
    peers: o.peers,
    address: (i) => (peers[i] as SimPeer).address,
    kind: (i) => (peers[i] as SimPeer).kind,
    up: (i) => (peers[i] as SimPeer).downUntil < 0,
    store: (i) => upNode(i)?.store,
    hosts: (i, token) => upNode(i)?.core.hosts(token) === true,
    connected: (i) => (peers[i] as SimPeer).connected,
  };

  let owed = 0;
  const total = o.ticks + drainTicks;
  const every = o.progressEveryTicks ?? 50;
  for (tick = 0; tick < total; tick++) {
    // 1. Deliver this tick's messages, in a shuffled order.
    const due = buckets.get(tick);
    if (due !== undefined) {
      buckets.delete(tick);
      rng.shuffle(due);
      for (const env of due) {
        const p = peers[env.to] as SimPeer;
        if (p.downUntil > tick) {
          downDrops++;
          continue;
        }
        if (severed(env.from, env.to)) {
          partitionDrops++;
          continue;
        }
        if (env.life !== undefined) {
          formation?.deliver(env.from, env.to, env.life);
          continue;
        }
        if (env.sync !== undefined) {
          onSync(p, env.from, env.sync);
          continue;
        }
        formation?.heardFrom(env.to, env.from);
        const d = decodeMessage(env.bytes as Uint8Array);
        if (!d.ok) {
          violate(`peer ${env.from} sent bytes that do not decode (${d.code})`);
          continue;
        }
        const m = d.message as Message;
        o.onDeliver?.({ tick, from: env.from, to: env.to, message: m });
        if (p.node === undefined) misbehave(p, env, m);
        else take(p, (p.node as SimNode).receive(now(), (peers[env.from] as SimPeer).address, m, env.seq));
      }
    }
    // 2. Churn: crashes and restarts.
    if (o.churn !== undefined && o.churn.rate > 0) {
      for (const i of honest) {
        const p = peers[i] as SimPeer;
        if (p.downUntil >= 0 && p.downUntil <= tick) {
          restarts++;
          o.onChurn?.({ tick, peer: i, up: true });
          p.node = makeNode(i, (p.node as SimNode).store);
          formation?.restart(i);
          p.connected = formation?.connected(i) ?? (adj[i] as number[]);
          p.downUntil = -1;
          // Back up, it pings its neighbours at once: those that dropped it take it back, and it
          // keeps those that answer.
          refreshConnected(p, emergent);
          for (const j of p.connected) refreshConnected(peers[j] as SimPeer);
          startSync(p);
          // Clients whose blocks this entry had not committed submit them again.
          for (const b of blocks.values()) if (b.entry === i && b.entryAt === undefined && tick - b.submitted < lifetime) take(p, p.node.submit(now(), b.signed));
        } else if (p.downUntil < 0 && tick < o.ticks && churnRng.chance(o.churn.rate)) {
          crashes++;
          o.onChurn?.({ tick, peer: i, up: false });
          // A crash ends a sync session in progress; the restart starts a new one.
          endSync(p);
          p.downUntil = tick + Math.max(1, Math.round(o.churn.downTicks * (0.5 + churnRng.next())));
        }
      }
    }
    // 3. Workload (entry peers are up).
    const entries = upEntries();
    for (const late of lateDue.get(tick) ?? []) {
      const entry = (peers[late.entry] as SimPeer).downUntil < 0 ? late.entry : (entries[work.int(entries.length)] as number);
      submit(entry, late.family, late.make());
    }
    lateDue.delete(tick);
    if (tick < o.ticks && tick >= (o.workloadFrom ?? 0) && entries.length >= 2) {
      owed += o.blocksPerTick;
      while (owed >= 1) {
        owed--;
        const family = families.length;
        families.push({ blocks: [], late: false, owners: undefined });
        const moved = transfers > 0 && ready.length > 0 && work.chance(transfers) ? (ready.shift() as Owned) : undefined;
        const tokens = moved === undefined ? Array.from({ length: o.tokensPerBlock }, () => work.bytes(32)) : [];
        const conflict = work.chance(o.conflicts);
        // A late contender must still arrive, and resolve, before the run ends.
        const late = conflict && work.chance(o.late ?? 0) && tick + lifetime + 40 < total;
        // Each contender names other next owners, so the two blocks differ.
        const make = (): Made => {
          const seeds = moved === undefined ? tokens.map(() => work.bytes(32)) : [work.bytes(32)];
          return moved === undefined ? makeCreation(tokens, seeds) : makeTransfer(moved, seeds[0] as Uint8Array);
        };
        const a = entries[work.int(entries.length)] as number;
        submit(a, family, make());
        if (!conflict) continue;
        const b = pickOther(entries, a);
        if (!late) {
          submit(b, family, make());
          continue;
        }
        (families[family] as Family).late = true;
        const second = make();
        const at = tick + lifetime + 10;
        let list = lateDue.get(at);
        if (list === undefined) lateDue.set(at, (list = []));
        list.push({ family, entry: b, make: () => ({ ...second, signed: { block: { ...second.signed.block, time: now() }, signatures: second.signed.signatures } }) });
      }
    }
    // 4. Keep-alive (PROTOCOL §7): each peer pings its neighbours every KEEP_ALIVE_TICKS (its
    //    own phase); one that did not answer (silent, or down) leaves its Connected set until it
    //    answers again. The pings are not simulated as messages: their outcome is known here.
    for (const i of honest) if ((tick + i) % KEEP_ALIVE_TICKS === 0) refreshConnected(peers[i] as SimPeer);
    // 5. Every honest peer that is up ticks: its lifecycle, then its core.
    for (const i of honest) {
      const p = peers[i] as SimPeer;
      if (p.downUntil >= 0) continue;
      if (formation !== undefined) {
        formation.tick(i);
        const formed = formation.formed(i);
        (p.node as SimNode).setVoting(formed);
        if (formed && !p.synced) startSync(p);
      }
      if (p.sync !== undefined) {
        p.sync.session.tick();
        if (p.sync.session.done) endSync(p);
      }
      take(p, (p.node as SimNode).tick(now()));
    }
    formation?.observe(tick, (i) => (peers[i] as SimPeer).downUntil < 0);
    o.onTickEnd?.(view);
    if (o.onProgress !== undefined && tick % every === 0) o.onProgress({ tick, total, frames });
    if (stop && violationCount > 0) break;
  }
  const entryLatency: number[] = [];
  const hostLatency: number[] = [];
  const report = summarise();
  const twoWayFamilies = families.filter((f) => f.blocks.filter((id) => (blocks.get(id) as BlockInfo).committers > 0).length > 1).map((f) => f.blocks);
  const honestMisses = [...blocks.entries()].filter(([, b]) => (families[b.family] as Family).blocks.length === 1 && b.entryAt === undefined).map(([id, b]) => ({ id, parents: b.parents, entry: b.entry, submitted: b.submitted }));
  return { report, honestMisses, wallMs: Math.round(performance.now() - started), latencies: { hosts: hostLatency, entry: entryLatency }, twoWayFamilies, kinds };

  function summarise(): SimReport {
    let committedAtEntry = 0;
    let committedAnywhere = 0;
    let honestBlocks = 0;
    let honestCommitted = 0;
    let honestAtEntry = 0;
    let hostSlots = 0;
    let hostHits = 0;
    for (const b of blocks.values()) {
      if (b.entryAt !== undefined) {
        committedAtEntry++;
        entryLatency.push(b.entryAt - b.submitted);
      }
      if (b.committers > 0) committedAnywhere++;
      const hosts = hostsOf(b);
      const need = Math.floor(hosts.length / 2) + 1;
      const ticks = [...b.hostTicks].sort((x, y) => x - y);
      const majorityAt = hosts.length > 0 && ticks.length >= need ? (ticks[need - 1] as number) : undefined;
      if (majorityAt !== undefined) hostLatency.push(majorityAt);
      if (b.committers > 0) {
        hostSlots += hosts.length;
        hostHits += hosts.filter((i) => (peers[i] as SimPeer).node?.store.hasBlock(b.id) === true).length;
      }
      if ((families[b.family] as Family).blocks.length !== 1) continue;
      honestBlocks++;
      if (b.entryAt !== undefined && b.entryAt - b.submitted <= lifetime) honestAtEntry++;
      if (majorityAt !== undefined && majorityAt <= lifetime && b.entryAt !== undefined && b.entryAt - b.submitted <= lifetime) honestCommitted++;
    }
    let conflicted = 0;
    let late = 0;
    let stalled = 0;
    let highestWon = 0;
    let lowerWon = 0;
    let twoWay = 0;
    for (const f of families) {
      if (f.blocks.length < 2) continue;
      conflicted++;
      if (f.late) late++;
      const won = f.blocks.filter((id) => (blocks.get(id) as BlockInfo).committers > 0);
      const high = [...f.blocks].sort().at(-1);
      if (won.length === 0) stalled++;
      else if (won.length > 1) twoWay++;
      else if (won[0] === high) highestWon++;
      else lowerWon++;
    }
    const commits = Math.max(1, committedAnywhere);
    const itemsPerCommitByCause: Record<string, number> = {};
    for (const [k, v] of Object.entries(byCause).sort((x, y) => y[1] - x[1])) itemsPerCommitByCause[k] = round(v / commits);
    return {
      options: {
        peers: o.peers,
        ticks: o.ticks,
        drainTicks,
        topology: o.topology,
        net: o.net,
        blocksPerTick: o.blocksPerTick,
        tokensPerBlock: o.tokensPerBlock,
        conflicts: o.conflicts,
        late: o.late ?? 0,
        transfers,
        byzantine: o.byzantine ?? {},
        partitions,
        churn: o.churn ?? null,
        quorum: params.quorum,
        seed: o.seed,
      },
      blocks: { submitted, transfers: submittedTransfers, honest: honestBlocks, honestCommitted, honestAtEntry, committedAtEntry, committedAnywhere },
      latency: { hosts: percentiles(hostLatency), entry: percentiles(entryLatency) },
      messages: { frames, items, bytes, itemsPerCommit: committedAnywhere === 0 ? null : round(items / committedAnywhere), byType, byCause, itemsPerCommitByCause },
      families: { total: families.length, conflicted, late, stalled, highestWon, lowerWon, twoWay },
      hostCoverage: hostSlots === 0 ? null : round(hostHits / hostSlots, 3),
      learned,
      expired,
      faults: { crashes, partitionDrops, downDrops },
      invariants: { violations: violationCount, first: violations },
      network: formation?.report(tick) ?? null,
      sync: { sessions: syncSessions, ended: syncEnded, open: peers.filter((p) => p.sync !== undefined).length, learned: syncLearned, lagTicks: percentiles(syncLags) },
    };
  }

  /** The honest peers that host one of b's tokens in their own view (only ring neighbours can). */
  function hostsOf(b: BlockInfo): number[] {
    const out = new Set<number>();
    for (const t of b.tokens) {
      let lo = 0;
      let hi = addresses.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compare32(addresses[mid] as Uint8Array, t) < 0) lo = mid + 1;
        else hi = mid;
      }
      for (let d = -24; d < 24; d++) {
        const i = (((lo + d) % o.peers) + o.peers) % o.peers;
        const node = (peers[i] as SimPeer).node;
        if (node !== undefined && node.core.hosts(t)) out.add(i);
      }
    }
    return [...out];
  }
}
