/**
 * Sync (PROTOCOL §6): bytes and time per missed commit of the two candidates, on one history.
 *
 * A ring of `peers` peers (w = 4) hosts `tokens` tokens; `history` transfers happen, then peer P
 * is down while `missed` more do. Each peer stores the mappings of the tokens it hosts and a
 * commit chain with one record per block it committed (a quiet network: one block per record).
 * P then catches up from its four ring neighbours, two on each side (two-peer agreement), two ways:
 *
 *  - range-based set reconciliation (consensus/sync.ts), run for real over P's hosted arc: the
 *    bytes of its asks and replies, plus one QUERY_BLOCK / BLOCK per differing mapping;
 *  - EcNode's chain walk, counted on the same data: each neighbour's head, then its records back
 *    to P's last commit, 16 requests in flight, then every block they name that P lacks.
 *
 * Time is rounds × one round trip (2 ticks, 100 ms, with the daemon's rounds) plus the CPU the
 * reconciliation's summaries take here. A joiner (empty store) is the same with no history at P.
 */
import { loadCrypto } from '../kernels/crypto.js';
import type { Blake3Kernel } from '../kernels/types.js';
import { compare32 } from '../consensus/keys.js';
import { answer, ask, inRange, learn, type RangeAsk, type RangeBounds, type SyncItem } from '../consensus/sync.js';
import { hostedArc } from '../consensus/sync-session.js';
import { encodedSize } from '../wire/messages.js';
import { Rng } from '../tools/sim/rng.js';

export interface SyncBenchOptions {
  readonly peers?: number;
  readonly tokens?: number;
  readonly history?: number;
  readonly missed?: number;
  readonly seed?: number;
}

export interface SyncCost {
  readonly bytes: number;
  readonly rounds: number;
  /** rounds × 100 ms, plus the reconciliation's CPU. */
  readonly ms: number;
  readonly bytesPerMissed: number;
  readonly msPerMissed: number;
  /** Share of the mappings P should learn that the method delivers from two agreeing neighbours. */
  readonly learned: number;
}

export interface SyncBenchCase {
  readonly case: 'restart' | 'joiner';
  /** Mappings P lacks (missed commits on the tokens it hosts, or every hosted token for a joiner). */
  readonly missedHere: number;
  readonly reconciliation: SyncCost;
  readonly chainWalk: SyncCost;
  /** chain walk ÷ reconciliation. */
  readonly bytesRatio: number;
  readonly timeRatio: number;
}

export interface SyncBenchResult {
  readonly peers: number;
  readonly tokens: number;
  readonly history: number;
  readonly missed: number;
  readonly cases: SyncBenchCase[];
}

const RTT_MS = 100;
/** A one-entry transfer with its signature, encoded (wire/block.ts). */
const TRANSFER_BLOCK_BYTES = 1 + 8 + 1 + 96 + 1 + 1 + 32 + 64;
/** QUERY_BLOCK and BLOCK, kind byte included. */
const QUERY_BLOCK_BYTES = 1 + 1 + 32 + 16;
const BLOCK_REPLY_BYTES = 1 + 1 + 16 + TRANSFER_BLOCK_BYTES;
/**
 * The chain walk asks for one commit record at a time (kind ‖ version ‖ ticket ‖ selector ‖ seq ‖
 * id) and gets it back (kind ‖ version ‖ ticket ‖ seq ‖ prev id ‖ time ‖ count, one block id).
 */
const WALK_BYTES_PER_RECORD = 1 + 1 + 16 + 1 + 8 + 32 + (1 + 1 + 16 + 8 + 32 + 8 + 4 + 32);
const TICKET = new Uint8Array(16);

interface Peer {
  /** token index → block id, for the tokens it hosts. */
  readonly mappings: Map<number, Uint8Array>;
  /** Block ids committed, oldest first. */
  readonly chain: number[];
}

export async function benchSync(o: SyncBenchOptions = {}): Promise<SyncBenchResult> {
  const { blake3 } = await loadCrypto();
  const n = o.peers ?? 64;
  const nTokens = o.tokens ?? 20_000;
  const history = o.history ?? 5_000;
  const missed = o.missed ?? 500;
  const rng = new Rng(o.seed ?? 1);
  const w = 4;
  const addresses = Array.from({ length: n }, () => rng.bytes(32)).sort(compare32);
  const tokens = Array.from({ length: nTokens }, () => rng.bytes(32));
  const hostsOf = tokens.map((t) => {
    let j = addresses.findIndex((a) => compare32(a, t) >= 0);
    if (j < 0) j = 0;
    return Array.from({ length: 2 * w + 1 }, (_, k) => (((j - w + k) % n) + n) % n);
  });
  const blocks: Uint8Array[] = [];
  const peers: Peer[] = addresses.map(() => ({ mappings: new Map(), chain: [] }));
  const commit = (t: number, upTo: readonly Peer[]): void => {
    const id = blocks.length;
    blocks.push(rng.bytes(32));
    for (const h of hostsOf[t] as number[]) {
      const p = peers[h] as Peer;
      if (!upTo.includes(p)) continue;
      p.mappings.set(t, blocks[id] as Uint8Array);
      p.chain.push(id);
    }
  };
  for (let t = 0; t < nTokens; t++) commit(t, peers);
  for (let k = 0; k < history; k++) commit(rng.int(nTokens), peers);
  const pIndex = rng.int(n);
  const p = peers[pIndex] as Peer;
  const before = { mappings: new Map(p.mappings) };
  const others = peers.filter((x) => x !== p);
  const hostedMissed = new Set<number>();
  for (let k = 0; k < missed; k++) {
    const t = rng.int(nTokens);
    commit(t, others);
    if ((hostsOf[t] as number[]).includes(pIndex)) hostedMissed.add(t);
  }
  const neighbours = [1, -1, 2, -2].map((d) => peers[(pIndex + d + n) % n] as Peer);
  const arc = hostedArc(addresses[pIndex] as Uint8Array, addresses.filter((_, k) => k !== pIndex), w);

  const restartTruth = new Map<number, Uint8Array>();
  const truthOf = (t: number): Uint8Array | undefined => neighbours.map((q) => q.mappings.get(t)).find((b) => b !== undefined);
  for (const t of hostedMissed) restartTruth.set(t, truthOf(t) as Uint8Array);
  const restart = runCase(blake3, 'restart', tokens, before.mappings, blocks, neighbours, arc, restartTruth, hostedMissed.size, blocks.length - missed);
  const joinTruth = new Map<number, Uint8Array>();
  for (const [t] of before.mappings) joinTruth.set(t, truthOf(t) as Uint8Array);
  const joiner = runCase(blake3, 'joiner', tokens, new Map(), blocks, neighbours, arc, joinTruth, joinTruth.size, 0);
  return { peers: n, tokens: nTokens, history, missed, cases: [restart, joiner] };
}

function runCase(
  blake3: Blake3Kernel,
  name: 'restart' | 'joiner',
  tokens: readonly Uint8Array[],
  mine: ReadonlyMap<number, Uint8Array>,
  blockIds: readonly Uint8Array[],
  neighbours: readonly Peer[],
  arc: readonly RangeBounds[],
  truth: ReadonlyMap<number, Uint8Array>,
  missedHere: number,
  since: number,
): SyncBenchCase {
  const itemsOf = (m: ReadonlyMap<number, Uint8Array>): SyncItem[] => [...m].map(([t, block]) => ({ token: tokens[t] as Uint8Array, block })).sort((a, b) => compare32(a.token, b.token));
  const source = (items: readonly SyncItem[]) => (r: RangeBounds): SyncItem[] => items.filter((it) => inRange(r, it.token));
  const pItems = itemsOf(mine);
  const key = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  const mineByToken = new Map(pItems.map((it) => [key(it.token), it.block]));
  // Reconciliation with every neighbour (in parallel: rounds are the longest).
  const t0 = performance.now();
  let bytes = 0;
  let rounds = 0;
  const reports = new Map<string, Map<string, number>>();
  for (const q of neighbours) {
    const qs = source(itemsOf(q.mappings));
    let asks: RangeAsk[] = ask(blake3, source(pItems), arc);
    let r = 0;
    while (asks.length > 0) {
      r++;
      const next: RangeAsk[] = [];
      for (const a of asks) {
        const reply = answer(blake3, qs, a);
        bytes += encodedSize({ type: 'sync-ask', ticket: TICKET, ask: a }) + encodedSize({ type: 'sync-reply', ticket: TICKET, reply });
        const l = learn(blake3, source(pItems), reply, (t) => mineByToken.get(key(t)));
        for (const it of l.differ) {
          const m = reports.get(key(it.token)) ?? new Map<string, number>();
          m.set(key(it.block), (m.get(key(it.block)) ?? 0) + 1);
          reports.set(key(it.token), m);
        }
        next.push(...l.next);
      }
      asks = next;
    }
    rounds = Math.max(rounds, r);
  }
  let agreed = 0;
  for (const [t, block] of truth) if ((reports.get(key(tokens[t] as Uint8Array))?.get(key(block)) ?? 0) >= 2) agreed++;
  const fetched = reports.size;
  bytes += fetched * (QUERY_BLOCK_BYTES + BLOCK_REPLY_BYTES);
  rounds += 1;
  const cpu = performance.now() - t0;
  const reconciliation = cost(bytes, rounds, rounds * RTT_MS + cpu, missedHere, truth.size === 0 ? 1 : agreed / truth.size);

  // Chain walk: each neighbour's records after P's last commit, then the blocks they name.
  let wBytes = 0;
  let wRounds = 0;
  const named = new Set<number>();
  const namedBy = neighbours.map((q) => {
    const records = q.chain.filter((id) => id >= since);
    wBytes += WALK_BYTES_PER_RECORD * (records.length + 1);
    wRounds = Math.max(wRounds, 1 + Math.ceil(records.length / 16));
    for (const id of records) named.add(id);
    return new Set(records.map((id) => key(blockIds[id] as Uint8Array)));
  });
  wBytes += named.size * (QUERY_BLOCK_BYTES + BLOCK_REPLY_BYTES);
  wRounds += 1;
  // Two-peer agreement here too: two neighbours' chains name the block that maps the token now.
  let walkAgreed = 0;
  for (const [, block] of truth) if (namedBy.filter((s) => s.has(key(block))).length >= 2) walkAgreed++;
  const chainWalk = cost(wBytes, wRounds, wRounds * RTT_MS, missedHere, truth.size === 0 ? 1 : walkAgreed / truth.size);
  return {
    case: name,
    missedHere,
    reconciliation,
    chainWalk,
    bytesRatio: round(chainWalk.bytes / Math.max(1, reconciliation.bytes), 2),
    timeRatio: round(chainWalk.ms / Math.max(1, reconciliation.ms), 2),
  };
}

function cost(bytes: number, rounds: number, ms: number, missed: number, learned: number): SyncCost {
  const m = Math.max(1, missed);
  return { bytes, rounds, ms: round(ms, 1), bytesPerMissed: round(bytes / m, 1), msPerMissed: round(ms / m, 2), learned: round(learned, 3) };
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

export function syncTable(r: SyncBenchResult): string {
  const lines = [`sync: ${r.peers} peers, ${r.tokens} tokens, ${r.history} transfers of history, ${r.missed} missed while down (w = 4, two neighbours on each side)`];
  for (const c of r.cases) {
    lines.push(`  ${c.case} (${c.missedHere} mappings to learn)`);
    for (const [name, k] of [['reconciliation', c.reconciliation], ['chain walk', c.chainWalk]] as const) {
      lines.push(`    ${name.padEnd(15)} ${String(k.bytes).padStart(9)} B  ${String(k.rounds).padStart(4)} rounds  ${String(k.ms).padStart(8)} ms   ${String(k.bytesPerMissed).padStart(8)} B and ${String(k.msPerMissed).padStart(6)} ms per mapping; learned ${k.learned}`);
    }
    lines.push(`    chain walk ÷ reconciliation: bytes ${c.bytesRatio}×, time ${c.timeRatio}×`);
  }
  return lines.join('\n');
}
