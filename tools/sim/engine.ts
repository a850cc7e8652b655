/**
 * A deterministic discrete-event simulator of N consensus peers in one process (issue 4). Every
 * honest peer runs the real `ConsensusPeer` over its own memory store; the engine moves messages
 * between them in ticks with a network profile's delay, loss and duplication, submits a workload
 * of blocks (with double-spent conflict families at two entry peers), plays byzantine peers, and
 * checks the safety invariants on every batch. One seed reproduces a run exactly.
 *
 * Workload blocks create fresh tokens; a conflict family is two blocks creating the same tokens
 * with different next-key hashes (same token, same `last` = 0), submitted in the same tick at two
 * different honest peers — exactly the double spend of PROTOCOL §5.5, without needing history.
 * With `transfers` > 0 that fraction of families instead moves one token whose last block has
 * committed at its entry peer (oldest first), signed by its owner's key: history, as on a real
 * network, where peers that hold no mapping vote 0 for the token (§5.3). A conflicting transfer
 * family spends the same (token, last) twice.
 */
import type { Block, SignedBlock } from '../../wire/block.js';
import { blockId, checkBlockStructure, commitRecordId, keyHash, signBlock, ZERO_ID } from '../../wire/block.js';
import { MemoryStore } from '../../store/memory.js';
import type { CommitBatch } from '../../store/types.js';
import { ConsensusPeer } from '../../consensus/peer.js';
import type { Output } from '../../consensus/peer.js';
import type { Message } from '../../consensus/messages.js';
import type { ConsensusParams } from '../../consensus/params.js';
import { consensusParams } from '../../consensus/params.js';
import { toHex } from '../../consensus/hex.js';
import { memoisedEd25519, simBlake3 } from './crypto.js';
import { delays, NETS } from './network.js';
import type { NetProfileName } from './network.js';
import { Rng } from './rng.js';
import { buildTopology } from './topology.js';
import type { TopologyName } from './topology.js';

export const SIM_NETWORK_ID = 3n;
const T0 = 1_700_000_000_000;

export interface SimOptions {
  readonly peers: number;
  /** Ticks with workload; the run then drains for `drainTicks` more. */
  readonly ticks: number;
  readonly drainTicks?: number;
  readonly topology: TopologyName;
  readonly net: NetProfileName;
  /** New block families per tick (fractions accumulate). */
  readonly blocksPerTick: number;
  readonly tokensPerBlock: number;
  /** Fraction of families that are double spends (two contenders). */
  readonly conflicts: number;
  /**
   * Fraction of families that transfer an existing token (1 token per block) instead of creating
   * tokens, when one is ready (its last block committed at its entry peer). Default 0: creations
   * only, and the random streams of earlier runs are unchanged.
   */
  readonly transfers?: number;
  /** Fraction of peers that never answer (silent). */
  readonly silent?: number;
  /** Fraction of peers that answer every vote request with a forged 0xFF. */
  readonly forgers?: number;
  readonly seed: number;
  /**
   * Network partitions: from tick `start` (inclusive) to `end` (exclusive) a seeded random
   * `fraction` of the peers is cut off from the rest (messages across the cut are dropped, both
   * ways; messages already in flight are dropped on delivery).
   */
  readonly partitions?: readonly Partition[];
  /**
   * Churn: every tick each honest peer that is up crashes with probability `rate`, stays down
   * for a seeded 0.5–1.5 × `downTicks` ticks (messages to it are lost, it does not tick), and
   * restarts with its store intact and an empty mempool (a new ConsensusPeer over the same
   * store, as a daemon restart would).
   */
  readonly churn?: Churn;
  readonly params?: Partial<ConsensusParams>;
  /** Called about once per `progressEveryTicks` ticks. */
  readonly onProgress?: (p: { tick: number; total: number; frames: number }) => void;
  readonly progressEveryTicks?: number;
  /** Diagnostics: every delivered message and every commit, in simulation order. */
  readonly trace?: {
    readonly deliver?: (tick: number, from: number, to: number, message: Message) => void;
    readonly commit?: (tick: number, peer: number, id: string) => void;
  };
  /** Stop at the first invariant violation (default true). */
  readonly stopOnViolation?: boolean;
}

export interface Partition {
  readonly start: number;
  readonly end: number;
  readonly fraction: number;
}

export interface Churn {
  readonly rate: number;
  readonly downTicks: number;
}

export interface Percentiles {
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
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
    readonly transfers: number;
    readonly silent: number;
    readonly forgers: number;
    readonly partitions: readonly Partition[];
    readonly churn: Churn | null;
    readonly seed: number;
  };
  /** `transfers`: of the submitted blocks, those that move an existing token (the rest create). */
  readonly blocks: { readonly submitted: number; readonly transfers: number; readonly committedAtEntry: number; readonly committedAnywhere: number };
  /** Ticks from submission until the entry peer committed the block. */
  readonly latency: Percentiles;
  readonly messages: {
    readonly frames: number;
    readonly items: number;
    readonly perCommit: number | null;
    readonly byType: Record<string, number>;
    /** Items the honest cores sent, by the rule that sent them (consensus/peer.ts SendCause). */
    readonly byCause: Record<string, number>;
  };
  readonly families: {
    readonly total: number;
    readonly conflicted: number;
    /** Conflicted families in which only the highest id committed (wherever anything committed). */
    readonly highest: number;
    readonly stalled: number;
    readonly lowerSomewhere: number;
    readonly twoWays: number;
  };
  /** Peers (honest) at which the average committed block committed. */
  readonly spread: number | null;
  /** Of the honest peers hosting a token of a committed block, the share that committed it (stored). */
  readonly hostCoverage: number | null;
  /** Mempool entries that expired, by the state they expired in (pending = learnt, never decided). */
  readonly expired: Record<string, number>;
  /** Faults injected: crashes (churn) and messages dropped by partitions or at down peers. */
  readonly faults: { readonly crashes: number; readonly partitionDrops: number; readonly downDrops: number };
  readonly invariants: { readonly violations: number; readonly first: readonly string[] };
  readonly speed: { readonly wallMs: number; readonly framesPerSecond: number; readonly peers: number };
}

type Kind = 'honest' | 'silent' | 'forger';

interface SimPeer {
  readonly index: number;
  readonly address: Uint8Array;
  readonly kind: Kind;
  core: ConsensusPeer | undefined;
  readonly store: MemoryStore | undefined;
  /** Churn: down until this tick (exclusive); −1 when up. */
  downUntil: number;
  readonly spent: Map<string, string>;
  readonly mapping: Map<string, string>;
}

interface Envelope {
  readonly from: number;
  readonly to: number;
  readonly seq: number;
  readonly message: Message;
}

interface BlockInfo {
  readonly family: number;
  readonly entry: number;
  readonly submitted: number;
  committedAt: number | undefined;
  committers: number;
  readonly idBytes: Uint8Array;
  readonly tokens: readonly Uint8Array[];
}

interface Family {
  readonly blocks: string[];
  /** Transfer workload: the tokens' next owner seed per block id; dropped once one committed at its entry. */
  owners?: Map<string, { readonly token: Uint8Array; readonly seed: Uint8Array }[]> | undefined;
}

/** A token ready to be transferred: its last block committed at its entry peer. */
interface Owned {
  readonly token: Uint8Array;
  readonly last: Uint8Array;
  readonly seed: Uint8Array;
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: null, p95: null, p99: null, max: null };
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s[s.length - 1] as number };
}

export function runSimulation(o: SimOptions): SimReport {
  const started = performance.now();
  const rng = new Rng(o.seed);
  const drainTicks = o.drainTicks ?? 40;
  const params = consensusParams(SIM_NETWORK_ID, o.params ?? {});
  const crypto = { blake3: simBlake3, ed25519: memoisedEd25519() };
  const net = NETS[o.net];
  const stop = o.stopOnViolation ?? true;

  // Peers in ring order (addresses sorted), so topology indices are ring neighbours.
  const addresses = Array.from({ length: o.peers }, () => rng.bytes(32)).sort((a, b) => (toHex(a) < toHex(b) ? -1 : 1));
  const kinds: Kind[] = addresses.map(() => 'honest');
  const order = rng.shuffle(addresses.map((_, i) => i));
  const nSilent = Math.floor((o.silent ?? 0) * o.peers);
  const nForgers = Math.floor((o.forgers ?? 0) * o.peers);
  order.slice(0, nSilent).forEach((i) => (kinds[i] = 'silent'));
  order.slice(nSilent, nSilent + nForgers).forEach((i) => (kinds[i] = 'forger'));
  const byHex = new Map<string, number>(addresses.map((a, i) => [toHex(a), i]));
  const adj = buildTopology(o.topology, o.peers, rng);
  let restarts = 0;
  const makeCore = (index: number, store: MemoryStore): ConsensusPeer => {
    const ticketRng = new Rng(o.seed * 31 + index + 1 + restarts * 7919);
    const core = new ConsensusPeer({ crypto, store, random: (n) => ticketRng.bytes(n) }, { address: addresses[index] as Uint8Array, params });
    core.setPeers((adj[index] as number[]).map((j) => addresses[j] as Uint8Array));
    return core;
  };
  const peers: SimPeer[] = addresses.map((address, index) => {
    const kind = kinds[index] as Kind;
    let core: ConsensusPeer | undefined;
    let store: MemoryStore | undefined;
    if (kind === 'honest') {
      store = new MemoryStore();
      core = makeCore(index, store);
    }
    return { index, address, kind, core, store, downUntil: -1, spent: new Map(), mapping: new Map() };
  });
  // Partitions and churn draw from their own streams, so runs without them keep their seeds' results.
  const partitions = o.partitions ?? [];
  const cut: Uint8Array[] = partitions.map((pt, k) => {
    const side = new Uint8Array(o.peers);
    const r = new Rng(o.seed * 131 + 17 + k);
    for (const i of r.shuffle(addresses.map((_, i) => i)).slice(0, Math.round(pt.fraction * o.peers))) side[i] = 1;
    return side;
  });
  const churnRng = new Rng(o.seed * 257 + 3);
  // The workload has its own stream: the same seed submits the same blocks at the same peers
  // whatever the protocol parameters do to the message traffic.
  const work = new Rng(o.seed * 509 + 11);
  let crashes = 0;
  let partitionDrops = 0;
  let downDrops = 0;
  const severed = (from: number, to: number): boolean => {
    for (let k = 0; k < partitions.length; k++) {
      const pt = partitions[k] as Partition;
      if (tick >= pt.start && tick < pt.end && (cut[k] as Uint8Array)[from] !== (cut[k] as Uint8Array)[to]) return true;
    }
    return false;
  };
  const honest = peers.filter((p) => p.kind === 'honest').map((p) => p.index);
  if (honest.length < 2) throw new RangeError('a simulation needs at least two honest peers');

  const buckets = new Map<number, Envelope[]>();
  let seq = 0;
  let tick = 0;
  let frames = 0;
  let items = 0;
  const byType: Record<string, number> = {};
  const byCause: Record<string, number> = {};
  const expired: Record<string, number> = {};
  const violations: string[] = [];
  let violationCount = 0;
  const blocks = new Map<string, BlockInfo>();
  const families: Family[] = [];
  let submitted = 0;
  let submittedTransfers = 0;

  const now = (): number => T0 + tick * 50;
  const violate = (msg: string): void => {
    violationCount++;
    if (violations.length < 10) violations.push(`seed ${o.seed}, tick ${tick}: ${msg}`);
  };

  const send = (from: number, to: number, message: Message): void => {
    const s = seq++;
    if (severed(from, to)) {
      partitionDrops++;
      return;
    }
    for (const d of delays(net, rng)) {
      const at = tick + d;
      let b = buckets.get(at);
      if (b === undefined) buckets.set(at, (b = []));
      b.push({ from, to, seq: s, message });
    }
  };

  const check = (p: SimPeer, batch: CommitBatch): void => {
    const store = p.store as MemoryStore;
    let head = store.head();
    for (const c of batch.commits) {
      if (c.seq !== head.seq + 1 || toHex(c.prevId) !== toHex(head.id)) violate(`peer ${p.index}: commit chain does not link`);
      if (toHex(commitRecordId(simBlake3, c)) !== toHex(c.id)) violate(`peer ${p.index}: commit id does not hash its record`);
      head = { seq: c.seq, id: c.id };
    }
    for (const b of batch.blocks) {
      const id = toHex(b.id);
      if (checkBlockStructure(b.block, b.signatures) !== null || toHex(blockId(simBlake3, SIM_NETWORK_ID, b.block)) !== id) violate(`peer ${p.index}: committed an invalid block ${id}`);
      for (const e of b.block.entries) {
        const k = toHex(e.token) + toHex(e.last);
        const prev = p.spent.get(k);
        if (prev !== undefined && prev !== id) violate(`peer ${p.index}: committed two contenders ${prev} and ${id}`);
        p.spent.set(k, id);
      }
    }
    // A chain of transfers can commit in one batch (parents first); the batch then writes only the
    // last mapping, whose parent is the batch's own previous block: walk back through those.
    const lastOf = new Map<string, string>();
    for (const b of batch.blocks) for (const e of b.block.entries) lastOf.set(toHex(e.token) + toHex(b.id), toHex(e.last));
    for (const t of batch.tokens) {
      const token = toHex(t.token);
      const before = p.mapping.get(token);
      let parent = toHex(t.mapping.parent);
      for (let n = 0; parent !== before && lastOf.has(token + parent) && n < batch.blocks.length; n++) parent = lastOf.get(token + parent) as string;
      if (before !== undefined && parent !== before) violate(`peer ${p.index}: mapping of ${token} changed from ${before}`);
      p.mapping.set(token, toHex(t.mapping.block));
    }
  };

  const take = (p: SimPeer, out: Output): void => {
    if (out.batch !== null) {
      check(p, out.batch);
      (p.store as MemoryStore).apply(out.batch);
    }
    for (const ev of out.events) {
      if (ev.kind === 'committed') {
        o.trace?.commit?.(tick, p.index, ev.id);
        const info = blocks.get(ev.id);
        if (info !== undefined) {
          info.committers++;
          if (info.entry === p.index && info.committedAt === undefined) {
            info.committedAt = tick;
            release(info, ev.id);
          }
        }
      } else if (ev.kind === 'expired') {
        expired[ev.state] = (expired[ev.state] ?? 0) + 1;
      } else if (ev.kind === 'rejected' && (ev.action === 'reject' || ev.code === 'internal-error')) {
        violate(`peer ${p.index}: honest traffic rejected (${ev.message}: ${ev.code})`);
      }
    }
    for (const [k, n] of Object.entries(out.causes)) byCause[k] = (byCause[k] ?? 0) + n;
    for (const m of out.messages) {
      const to = byHex.get(toHex(m.to));
      if (to === undefined) continue;
      frames++;
      items += m.message.type === 'batch' ? m.message.items.length : 1;
      byType[m.message.type] = (byType[m.message.type] ?? 0) + 1;
      send(p.index, to, m.message);
    }
  };

  const forge = (p: SimPeer, env: Envelope): void => {
    const answer = (id: Uint8Array): void => {
      frames++;
      items++;
      byType['vote'] = (byType['vote'] ?? 0) + 1;
      send(p.index, env.from, { type: 'vote', blockId: id, mask: 0xff, reply: false });
    };
    const handle = (m: Message): void => {
      if (m.type === 'initial-vote') {
        if (checkBlockStructure(m.block, m.signatures) === null) answer(blockId(simBlake3, SIM_NETWORK_ID, m.block));
      } else if (m.type === 'vote' && m.reply) {
        answer(m.blockId);
      } else if (m.type === 'batch') {
        for (const i of m.items) handle(i);
      }
    };
    handle(env.message);
  };

  const transfers = o.transfers ?? 0;
  /** Tokens whose last block committed at its entry peer, oldest first (transfer workload). */
  const ready: Owned[] = [];
  const ownerKeyHash = (seed: Uint8Array): Uint8Array => keyHash(simBlake3, crypto.ed25519.signerFromSeed(seed).publicKey);

  /** A creation; with transfers on, each token gets an owner whose seed is remembered. */
  const makeBlock = (tokens: Uint8Array[]): { signed: SignedBlock; owners?: { token: Uint8Array; seed: Uint8Array }[] } => {
    if (transfers === 0) {
      const block: Block = { version: 1, time: now(), entries: tokens.map((token) => ({ token, last: ZERO_ID, nextKeyHash: work.bytes(32) })) };
      return { signed: { block, signatures: [] } };
    }
    const owners = tokens.map((token) => ({ token, seed: work.bytes(32) }));
    const block: Block = { version: 1, time: now(), entries: owners.map((x) => ({ token: x.token, last: ZERO_ID, nextKeyHash: ownerKeyHash(x.seed) })) };
    return { signed: { block, signatures: [] }, owners };
  };

  /** A transfer of one ready token to a new owner, signed by its current owner. */
  const makeTransfer = (t: Owned): { signed: SignedBlock; owners: { token: Uint8Array; seed: Uint8Array }[] } => {
    const seed = work.bytes(32);
    const block: Block = { version: 1, time: now(), entries: [{ token: t.token, last: t.last, nextKeyHash: ownerKeyHash(seed) }] };
    const signed = signBlock(simBlake3, SIM_NETWORK_ID, block, new Map([[0, crypto.ed25519.signerFromSeed(t.seed)]]));
    return { signed, owners: [{ token: t.token, seed }] };
  };

  const submit = (entry: number, family: number, made: { signed: SignedBlock; owners?: { token: Uint8Array; seed: Uint8Array }[] }): void => {
    const p = peers[entry] as SimPeer;
    const signed = made.signed;
    const out = (p.core as ConsensusPeer).submit(now(), signed);
    if (out.id === undefined) return;
    submitted++;
    if (signed.block.entries.some((x) => !x.last.every((b) => b === 0))) submittedTransfers++;
    blocks.set(out.id, { family, entry, submitted: tick, committedAt: undefined, committers: 0, idBytes: blockId(simBlake3, SIM_NETWORK_ID, signed.block), tokens: signed.block.entries.map((x) => x.token) });
    const f = families[family] as Family;
    f.blocks.push(out.id);
    if (made.owners !== undefined) (f.owners ??= new Map()).set(out.id, made.owners);
    take(p, out);
  };

  /** The first block of a family to commit at its entry peer makes its tokens ready to move on. */
  const release = (info: BlockInfo, id: string): void => {
    const f = families[info.family] as Family;
    const owners = f.owners?.get(id);
    if (owners === undefined) return;
    for (const x of owners) ready.push({ token: x.token, last: info.idBytes, seed: x.seed });
    f.owners = undefined;
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
        o.trace?.deliver?.(tick, env.from, env.to, env.message);
        if (p.kind === 'silent') continue;
        if (p.downUntil > tick) {
          downDrops++;
          continue;
        }
        if (severed(env.from, env.to)) {
          partitionDrops++;
          continue;
        }
        if (p.kind === 'forger') {
          forge(p, env);
          continue;
        }
        take(p, (p.core as ConsensusPeer).receive(now(), (peers[env.from] as SimPeer).address, env.message, { order: env.seq }));
      }
    }
    // 2. Churn: crashes and restarts.
    if (o.churn !== undefined && o.churn.rate > 0) {
      for (const i of honest) {
        const p = peers[i] as SimPeer;
        if (p.downUntil >= 0 && p.downUntil <= tick) {
          restarts++;
          p.core = makeCore(i, p.store as MemoryStore);
          p.downUntil = -1;
        } else if (p.downUntil < 0 && tick < o.ticks && churnRng.chance(o.churn.rate)) {
          crashes++;
          p.downUntil = tick + Math.max(1, Math.round(o.churn.downTicks * (0.5 + churnRng.next())));
        }
      }
    }
    // 3. Workload (entry peers are up).
    const entries = o.churn === undefined ? honest : honest.filter((i) => (peers[i] as SimPeer).downUntil < 0);
    if (tick < o.ticks && entries.length >= 2) {
      owed += o.blocksPerTick;
      while (owed >= 1) {
        owed--;
        const family = families.length;
        families.push({ blocks: [] });
        const moved = transfers > 0 && ready.length > 0 && work.chance(transfers) ? (ready.shift() as Owned) : undefined;
        const tokens = moved === undefined ? Array.from({ length: o.tokensPerBlock }, () => work.bytes(32)) : [];
        const make = () => (moved === undefined ? makeBlock(tokens) : makeTransfer(moved));
        const a = entries[work.int(entries.length)] as number;
        submit(a, family, make());
        if (work.chance(o.conflicts)) {
          let b = entries[work.int(entries.length)] as number;
          while (b === a) b = entries[work.int(entries.length)] as number;
          submit(b, family, make());
        }
      }
    }
    // 4. Every honest peer that is up ticks.
    for (const i of honest) {
      const p = peers[i] as SimPeer;
      if (p.downUntil >= 0) continue;
      take(p, (p.core as ConsensusPeer).tick(now()));
    }
    if (o.onProgress !== undefined && tick % every === 0) o.onProgress({ tick, total, frames });
    if (stop && violationCount > 0) break;
  }

  // Outcomes.
  const latencies: number[] = [];
  let committedAtEntry = 0;
  let committedAnywhere = 0;
  let committersSum = 0;
  for (const b of blocks.values()) {
    if (b.committedAt !== undefined) {
      committedAtEntry++;
      latencies.push(b.committedAt - b.submitted);
    }
    if (b.committers > 0) {
      committedAnywhere++;
      committersSum += b.committers;
    }
  }
  // Host coverage: of the honest peers hosting a token of a committed block, the share holding it.
  let hostSlots = 0;
  let hostHits = 0;
  for (const b of blocks.values()) {
    if (b.committers === 0) continue;
    for (const i of honest) {
      const p = peers[i] as SimPeer;
      const core = p.core as ConsensusPeer;
      if (!b.tokens.some((t) => core.hosts(t))) continue;
      hostSlots++;
      if ((p.store as MemoryStore).hasBlock(b.idBytes)) hostHits++;
    }
  }
  let conflicted = 0;
  let highest = 0;
  let stalled = 0;
  let lowerSomewhere = 0;
  let twoWays = 0;
  for (const f of families) {
    if (f.blocks.length < 2) continue;
    conflicted++;
    const sorted = [...f.blocks].sort();
    const high = sorted[sorted.length - 1] as string;
    const won = sorted.filter((id) => ((blocks.get(id) as BlockInfo).committers ?? 0) > 0);
    if (won.length === 0) stalled++;
    else if (won.length > 1) twoWays++;
    else if (won[0] === high) highest++;
    else lowerSomewhere++;
  }
  const wallMs = performance.now() - started;
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
      transfers,
      silent: o.silent ?? 0,
      forgers: o.forgers ?? 0,
      partitions,
      churn: o.churn ?? null,
      seed: o.seed,
    },
    blocks: { submitted, transfers: submittedTransfers, committedAtEntry, committedAnywhere },
    latency: percentiles(latencies),
    messages: { frames, items, perCommit: committedAnywhere === 0 ? null : Math.round((frames / committedAnywhere) * 10) / 10, byType, byCause },
    families: { total: families.length, conflicted, highest, stalled, lowerSomewhere, twoWays },
    spread: committedAnywhere === 0 ? null : Math.round((committersSum / committedAnywhere) * 10) / 10,
    faults: { crashes, partitionDrops, downDrops },
    hostCoverage: hostSlots === 0 ? null : Math.round((hostHits / hostSlots) * 1000) / 1000,
    expired,
    invariants: { violations: violationCount, first: violations },
    speed: { wallMs: Math.round(wallMs), framesPerSecond: Math.round(frames / Math.max(wallMs / 1000, 1e-9)), peers: o.peers },
  };
}
