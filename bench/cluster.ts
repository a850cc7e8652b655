/**
 * `ecd bench cluster`: N real daemons on loopback (tools/testnet.ts) under a sustained offered
 * load of 1-token transfers submitted through their control APIs.
 *
 *   setup   mine identities, start N daemons, wait until they see each other, create the token
 *           pool (6 per block) and wait until every creation block commits;
 *   load    an open-loop scheduler offers `rate` transfers/s; each token carries at most one
 *           transfer in flight (a transfer needs its parent committed), so `tokens` bounds the
 *           concurrency; each transfer goes to the token's entry daemon, which is long-polled
 *           until it commits. Bounded by `warmupMs + durationMs` and by `maxTransfers`;
 *   measure over the window after the warm-up (JIT compilation in every daemon, the first
 *           backlog): commits/s (transfers committed in the window), commit latency p50/p95/p99
 *           (submit → entry daemon reports committed, of transfers submitted in the window),
 *           frames per commit (Σ ecd_frames_sent_total over all daemons from /metrics, per
 *           committed block) and CPU seconds per commit (Σ utime + stime of the daemon processes
 *           from /proc/<pid>/stat; apart, this process's own, the load generator's, which shares
 *           the cores), and the worst daemon's event-loop delay p99 (/metrics).
 *
 * Checked first (STYLE §16): every transfer's block id is the id the daemon computed, and the
 * final mapping of a sample of tokens at their entry daemons is the last committed transfer.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SignedBlock } from '../wire/block.js';
import { loadIdentityCrypto } from '../wire/identity-crypto.js';
import { decodeSignedBlockHex } from '../tools/token-blocks.js';
import { toHex } from '../wire/identity-file.js';
import { PROFILES, type NetworkProfile } from '../wire/profiles.js';
import { ApiClient, sumMetric, terminalOutcome, type WaitOutcome } from '../tools/api-client.js';
import { clockTicksPerSecond, processCpuTicks, Testnet } from '../tools/testnet.js';
import { EcdNode } from '../daemon/node.js';
import { resolveConfig } from '../daemon/config.js';
import { silentLogger } from '../daemon/log.js';
import { cpuProfile, PROFILE_LIMITS } from '../daemon/profile.js';
import { fromHex } from '../consensus/hex.js';
import {
  blockIdHex,
  buildCreateBlocks,
  buildUpdateBlock,
  ownerKeyFromSeed,
  parentFromBlock,
  randomTokens,
  signedBlockHex,
  type OwnerKey,
  type TokenCrypto,
  type TokenParent,
} from '../tools/token-blocks.js';

export interface BenchClusterOptions {
  readonly nodes?: number;
  readonly profile?: NetworkProfile;
  readonly store?: 'lmdb' | 'memory';
  /** Working directory (default a new temporary directory, removed afterwards). */
  readonly dir?: string;
  readonly keepDir?: boolean;
  /** Measured load phase length (default 20 s), after the warm-up. */
  readonly durationMs?: number;
  /**
   * Load offered before the measured phase (default 5 s; 0 measures from the first transfer).
   * Commits, latencies, frames and CPU of the warm-up are left out: with 16 processes on 2 cores
   * the first seconds commit a fraction of the steady rate while every daemon JIT-compiles.
   */
  readonly warmupMs?: number;
  /** Most transfers offered in total (default 50 000: 1 000/s over the default 5 s warm-up and 20 s). */
  readonly maxTransfers?: number;
  /** Token pool = most transfers in flight (default 256). */
  readonly tokens?: number;
  /**
   * Run every daemon inside this process (one event loop, real loopback UDP) instead of as child
   * processes: the cost of the code without 16 processes sharing the cores. CPU is this process's
   * (it includes the load generator, which only signs blocks).
   */
  readonly inProcess?: boolean;
  /** Offered transfers per second (default 1 000). */
  readonly rate?: number;
  /** Per-transfer commit wait (default 10 s). */
  readonly commitTimeoutMs?: number;
  /**
   * Writes a CPU profile (.cpuprofile) of the steady state here: of daemon n1 over the measured
   * window (its first 30 s at most); in process, of the whole process.
   */
  readonly profileOut?: string;
  readonly log?: (line: string) => void;
}

export interface BenchClusterResult {
  readonly nodes: number;
  readonly commits_per_s: number;
  readonly p50_ms: number;
  readonly p95_ms: number;
  readonly p99_ms: number;
  readonly frames_per_commit: number;
  /** Messages sent by all daemons per committed transfer, by type (ecd_messages_sent_total). */
  readonly messages_per_commit: Readonly<Record<string, number>>;
  /** Vote items (single or in batches) sent per committed transfer; of them, decisions sent to the origin and to hosts after a commit. */
  readonly vote_items_per_commit: number;
  /** Consensus message items sent per committed transfer (a batch counts its items); CPU per commit follows it (docs/consensus.md). */
  readonly items_per_commit: number;
  /** The same items by the rule that sent them (consensus/peer.ts SendCause). */
  readonly items_by_cause: Readonly<Record<string, number>>;
  readonly decided_per_commit: number;
  /** CPU of the daemons (all together) per committed transfer, in milliseconds. */
  readonly cpu_ms_per_commit: number;
  /**
   * CPU of this process, the load generator (building and signing transfers, HTTP), per committed
   * transfer, in milliseconds: it shares the cores with the daemons. Null in process, where it is
   * part of cpu_ms_per_commit.
   */
  readonly generator_cpu_ms_per_commit: number | null;
  /**
   * The worst daemon's event-loop delay p99 over the measured window, in milliseconds: the upper
   * bound of the ecd_event_loop_delay_seconds bucket (lateness of the daemon's tick timers) that
   * holds it. Null when no daemon ticked in the window.
   */
  readonly event_loop_delay_p99_ms: number | null;
  readonly offered_per_s: number;
  readonly submitted: number;
  readonly committed: number;
  /** Of them, committed in the measured window (after the warm-up): the base of every per-commit figure. */
  readonly measured: number;
  /** Transfers that did not commit, by outcome (blocked, invalid, expired, timeout, error codes). */
  readonly failed: Readonly<Record<string, number>>;
  readonly load_s: number;
  readonly warmup_s: number;
  readonly tokens: number;
  readonly cpu_s: number;
  readonly frames_sent: number;
  readonly daemon_commits: number;
  readonly profile: string;
  readonly store: string;
  readonly in_process: boolean;
  readonly target: { readonly commits_per_s: number; readonly p99_ms: number; readonly met: boolean };
}

const TARGET = { commits_per_s: 500, p99_ms: 500 };

/** ecd_messages_sent_total{type="…"} samples of one daemon's /metrics text. */
export function sentByType(text: string): Map<string, number> {
  return samplesByLabel(text, 'ecd_messages_sent_total', 'type');
}

/** The samples of one metric (name: [a-z_]) with a single label, by that label's value. */
export function samplesByLabel(text: string, metric: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${metric}\\{${label}="([a-z-]+)"\\} (\\S+)$`, 'gm'))) {
    const v = Number(m[2]);
    if (Number.isFinite(v)) out.set(m[1] as string, v);
  }
  return out;
}

/** The cumulative ecd_event_loop_delay_seconds buckets of one daemon's /metrics text: [le, count], by le. */
export function loopDelayBuckets(text: string): [number, number][] {
  const out: [number, number][] = [];
  for (const m of text.matchAll(/^ecd_event_loop_delay_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm)) {
    out.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/**
 * The p99 (a bucket's upper bound, in seconds) of the samples taken between two readings of one
 * daemon's buckets; null without samples.
 */
export function p99Between(before: readonly [number, number][], after: readonly [number, number][]): number | null {
  const at = (b: readonly [number, number][], le: number): number => b.find((x) => x[0] === le)?.[1] ?? 0;
  const total = at(after, Infinity) - at(before, Infinity);
  if (!(total > 0)) return null;
  for (const [le, n] of after) if (n - at(before, le) >= 0.99 * total) return le;
  return null;
}

/** ecd_votes_total{direction="out"} of one daemon's /metrics text. */
function votesSent(text: string): number {
  return samplesByLabel(text, 'ecd_votes_total', 'direction').get('out') ?? 0;
}

/** What the bench needs of a daemon: the control API (ApiClient) or, in process, the node itself. */
interface ClusterClient {
  /** With `waitMs`, the answer may wait for a terminal status (one request submits and waits). */
  submitBlock(hex: string, opts?: { readonly waitMs?: number }): Promise<{ readonly id: string; readonly status: string }>;
  waitForBlock(id: string, opts: { readonly timeoutMs: number }): Promise<{ readonly outcome: WaitOutcome }>;
  block(id: string): Promise<{ readonly status: string }>;
  token(token: string): Promise<{ readonly block?: unknown } | null>;
  metrics(): Promise<string>;
  profile(ms: number): Promise<object>;
}

interface Cluster {
  readonly clients: readonly ClusterClient[];
  readonly networkId: bigint;
  /** CPU seconds used so far by the daemons. */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A reused --dir keeps each daemon's identity but starts it with an empty store and peer table:
 * a daemon that finds a store starts as after a restart (it abstains while it catches up), which
 * a throughput run would measure instead of steady state.
 */
async function keepIdentitiesOnly(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!/^n[0-9]+$/.test(name)) continue;
    for (const leftover of ['store', 'peers.json']) await rm(join(dir, name, leftover), { recursive: true, force: true });
  }
}

/** Child-process daemons (ecd testnet) driven through their control APIs. */
async function processCluster(n: number, dir: string, profile: NetworkProfile, store: 'lmdb' | 'memory', log: (line: string) => void, removeDir: boolean): Promise<Cluster> {
  const net = await Testnet.create({ nodes: n, dir, profile, store, logLevel: 'warn', onProgress: log });
  const stop = async (): Promise<void> => {
    await net.stop(5_000);
    if (removeDir) await net.remove();
  };
  try {
    log(`starting ${n} daemons (${profile.name}, ${store}) in ${dir}`);
    await net.start(60_000);
    const formed = await net.waitAccuracy(1, 120_000);
    log(`neighbourhoods formed (accuracy 1) after ${(formed.ms / 1000).toFixed(1)} s`);
    const clients = await Promise.all(
      net.nodes.map(async (node) => new ApiClient({ url: node.apiUrl, token: (await readFile(node.tokenFile, 'utf8')).trim() }, { timeoutMs: 10_000 })),
    );
    const { networkId } = await (clients[0] as ApiClient).status();
    const pids = net.nodes.map((node) => node.child?.pid).filter((p): p is number => typeof p === 'number');
    const hz = clockTicksPerSecond();
    return { clients, networkId, cpuSeconds: async () => (await Promise.all(pids.map(processCpuTicks))).reduce((a, b) => a + b, 0) / hz, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Every daemon in this process, called directly (no HTTP). */
async function inProcessCluster(n: number, dir: string, profile: NetworkProfile, store: 'lmdb' | 'memory', log: (line: string) => void, removeDir: boolean): Promise<Cluster> {
  // Directories and identities as for ecd testnet (found ones are reused); nothing is spawned.
  const net = await Testnet.create({ nodes: n, dir, profile, store, onProgress: log });
  const nodes: EcdNode[] = [];
  const stop = async (): Promise<void> => {
    for (const node of nodes) await node.stop().catch(() => undefined);
    if (removeDir) await net.remove();
  };
  try {
    log(`starting ${n} daemons in this process (${profile.name}, ${store}) in ${dir}`);
    const dirs = net.nodes.map((m) => m.dir);
    for (const d of dirs) {
      const bootstrap = dirs.filter((o) => o !== d);
      const node = await EcdNode.create(resolveConfig({ flags: { dataDir: d, store, bootstrap, profile: profile.name }, env: {} }), silentLogger());
      nodes.push(node);
      await node.start();
    }
    const deadline = Date.now() + 60_000;
    // Every daemon holds its closest known peers on each side Connected.
    const formed = (node: EcdNode): boolean => {
      const h = node.status()['neighbourhood'] as { formed?: boolean; coreConnected?: number } | undefined;
      return h?.formed === true && h.coreConnected === 1;
    };
    while (!nodes.every(formed)) {
      if (Date.now() > deadline) throw new Error('in-process cluster: the neighbourhoods did not form within 60 s');
      await sleep(100);
    }
    const clients = nodes.map((node) => new InProcessClient(node));
    const cpuSeconds = async (): Promise<number> => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    };
    return { clients, networkId: profile.networkId, cpuSeconds, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

class InProcessClient implements ClusterClient {
  private dead: Error | null = null;
  private readonly waiting = new Set<() => void>();

  constructor(private readonly node: EcdNode) {
    // A node that cannot go on stops ticking: wake every waiter so it fails instead of hanging.
    node.onFatal((err) => {
      this.dead = err;
      for (const w of [...this.waiting]) w();
    });
  }

  async submitBlock(hex: string): Promise<{ id: string; status: string }> {
    if (this.dead !== null) throw Object.assign(new Error(`node died: ${this.dead.message}`), { code: 'unavailable' });
    const r = this.node.submit(decodeSignedBlockHex(hex));
    if (!r.ok) throw Object.assign(new Error(`submit: ${r.reason}`), { code: r.code });
    return { id: r.id, status: r.status };
  }

  waitForBlock(id: string, opts: { timeoutMs: number }): Promise<{ outcome: WaitOutcome }> {
    const bytes = fromHex(id);
    return new Promise((resolve, reject) => {
      let seenKnown = false;
      const finish = (outcome: WaitOutcome | Error): void => {
        clearTimeout(timer);
        off();
        this.waiting.delete(check);
        if (outcome instanceof Error) reject(outcome);
        else resolve({ outcome });
      };
      const check = (): void => {
        if (this.dead !== null) return finish(Object.assign(new Error(`node died: ${this.dead.message}`), { code: 'unavailable' }));
        const status = this.node.block(bytes).status;
        const outcome = terminalOutcome(status, seenKnown);
        if (outcome !== undefined) return finish(outcome);
        if (status !== 'unknown') seenKnown = true;
      };
      const timer = setTimeout(() => finish('timeout'), opts.timeoutMs);
      const off = this.node.onChange(check);
      this.waiting.add(check);
      check();
    });
  }

  async block(id: string): Promise<{ status: string }> {
    return { status: this.node.block(fromHex(id)).status };
  }

  async token(token: string): Promise<{ block?: unknown } | null> {
    return this.node.token(fromHex(token)) ?? null;
  }

  async metrics(): Promise<string> {
    return this.node.metricsText();
  }

  profile(ms: number): Promise<object> {
    return cpuProfile(ms, sleep);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


/** The largest per-daemon p99 (ms) between two readings of every daemon's buckets. */
function worstP99Ms(before: readonly [number, number][][], after: readonly [number, number][][]): number | null {
  let worst: number | null = null;
  after.forEach((a, i) => {
    const p = p99Between(before[i] ?? [], a);
    if (p !== null) worst = Math.max(worst ?? 0, p * 1000);
  });
  return worst;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

interface TokenState {
  readonly token: Uint8Array;
  readonly entry: number;
  parent: TokenParent;
  owner: OwnerKey;
  lastCommitted: string;
  retired: boolean;
}

export async function benchCluster(opts: BenchClusterOptions = {}): Promise<BenchClusterResult> {
  const log = opts.log ?? ((): void => undefined);
  const n = opts.nodes ?? 16;
  const profile = opts.profile ?? PROFILES.devnet;
  const store = opts.store ?? 'lmdb';
  const durationMs = opts.durationMs ?? 20_000;
  const warmupMs = opts.warmupMs ?? 5_000;
  const maxTransfers = opts.maxTransfers ?? 50_000;
  const tokenCount = opts.tokens ?? 256;
  const rate = opts.rate ?? 1_000;
  const commitTimeoutMs = opts.commitTimeoutMs ?? 10_000;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'ecd-bench-cluster-')));
  const crypto: TokenCrypto = await loadIdentityCrypto();

  const removeDir = opts.keepDir !== true && opts.dir === undefined;
  if (opts.dir !== undefined) await keepIdentitiesOnly(opts.dir);
  const inProcess = opts.inProcess === true;
  const cluster = await (inProcess ? inProcessCluster : processCluster)(n, dir, profile, store, log, removeDir);
  try {
    const { clients, networkId } = cluster;

    // Token pool: created in 6-entry blocks, each block entered at the daemon that will carry
    // its tokens' transfers, all committed before the load starts.
    const alice = ownerKeyFromSeed(crypto, new Uint8Array(randomBytes(32)));
    const bob = ownerKeyFromSeed(crypto, new Uint8Array(randomBytes(32)));
    const tokens = randomTokens(tokenCount, (k) => new Uint8Array(randomBytes(k)));
    const states: TokenState[] = [];
    const creations: Promise<void>[] = [];
    const blocks = buildCreateBlocks(tokens, alice.keyHash, Date.now());
    log(`creating ${tokenCount} tokens in ${blocks.length} blocks`);
    blocks.forEach((b: SignedBlock, bi) => {
      const entry = bi % n;
      const client = clients[entry] as ClusterClient;
      creations.push(
        (async () => {
          const id = blockIdHex(crypto, networkId, b);
          await client.submitBlock(signedBlockHex(b));
          const w = await client.waitForBlock(id, { timeoutMs: 60_000 });
          if (w.outcome !== 'committed') throw new Error(`creation block ${id} at n${entry + 1}: ${w.outcome}`);
          for (const e of b.block.entries) {
            states.push({ token: e.token, entry, parent: parentFromBlock(crypto, networkId, e.token, b), owner: alice, lastCommitted: id, retired: false });
          }
        })(),
      );
    });
    await Promise.all(creations);

    // Baselines.
    const framesOf = async (): Promise<{ frames: number; commits: number; votes: number; items: number; loops: [number, number][][]; messages: Map<string, number>; causes: Map<string, number> }> => {
      const texts = await Promise.all(clients.map((c) => c.metrics().catch(() => '')));
      const messages = new Map<string, number>();
      const causes = new Map<string, number>();
      for (const t of texts) for (const [k, v] of sentByType(t)) messages.set(k, (messages.get(k) ?? 0) + v);
      for (const t of texts) for (const [k, v] of samplesByLabel(t, 'ecd_message_items_sent_total', 'cause')) causes.set(k, (causes.get(k) ?? 0) + v);
      return {
        frames: texts.reduce((s, t) => s + sumMetric(t, 'ecd_frames_sent_total'), 0),
        commits: texts.reduce((s, t) => s + sumMetric(t, 'ecd_commits_total'), 0),
        votes: texts.reduce((s, t) => s + votesSent(t), 0),
        items: [...causes.values()].reduce((s, v) => s + v, 0),
        loops: texts.map(loopDelayBuckets),
        messages,
        causes,
      };
    };
    const cpuOf = (): Promise<number> => cluster.cpuSeconds();
    // Baselines at the end of the warm-up (at once without one).
    let base: Promise<[Awaited<ReturnType<typeof framesOf>>, number]> | undefined;
    let generator0 = process.cpuUsage();
    let profiled: Promise<void> | undefined;
    const takeBase = (): void => {
      generator0 = process.cpuUsage();
      base = Promise.all([framesOf(), cpuOf()]);
      const out = opts.profileOut;
      if (out !== undefined) {
        const ms = Math.min(durationMs, PROFILE_LIMITS.maxMs);
        profiled = (clients[0] as ClusterClient).profile(ms).then(async (p) => {
          await writeFile(out, JSON.stringify(p));
          log(`CPU profile of ${inProcess ? 'this process' : 'n1'} over ${ms / 1000} s of the measured window: ${out}`);
        });
      }
    };
    if (warmupMs === 0) {
      takeBase();
      await base;
    }

    // Load.
    const warmNote = warmupMs > 0 ? ` after a ${warmupMs / 1000} s warm-up` : '';
    log(`offering ${rate} transfers/s for ${durationMs / 1000} s${warmNote} (at most ${maxTransfers}, ${tokenCount} tokens in flight at most)`);
    const latencies: number[] = [];
    const failed: Record<string, number> = {};
    const firstError = new Map<string, string>();
    let submitted = 0;
    let committed = 0;
    /** Committed in the measured window (by the time the entry daemon reported it). */
    let measured = 0;
    const start = performance.now();
    const windowStart = start + warmupMs;
    const stopAt = windowStart + durationMs;
    const interval = 1000 / rate;
    let nextSlot = start;
    const idle: TokenState[] = [...states];
    const waiters: (() => void)[] = [];
    const inFlight = new Set<Promise<void>>();
    let lastCommitAt = windowStart;
    let progressAt = start + 5_000;
    // The baselines are taken when the warm-up ends, by a timer: the loop below may be waiting for
    // a token to come back then.
    const baseTimer = base === undefined ? setTimeout(takeBase, warmupMs) : undefined;

    const runOne = async (s: TokenState): Promise<void> => {
      const to = s.owner === alice ? bob : alice;
      const signed = buildUpdateBlock(crypto, networkId, [{ parent: s.parent, nextKeyHash: to.keyHash }], s.owner, Date.now());
      const id = blockIdHex(crypto, networkId, signed);
      const client = clients[s.entry] as ClusterClient;
      const t = performance.now();
      try {
        // One request submits and waits (a load generator that sends two per transfer saturates
        // a core of its own before the daemons do); a block still undecided is waited for apart.
        const sub = await client.submitBlock(signedBlockHex(signed), { waitMs: commitTimeoutMs });
        if (sub.id !== id) throw new Error(`daemon id ${sub.id} ≠ ours ${id}`);
        const held = terminalOutcome(sub.status, false);
        const left = commitTimeoutMs - (performance.now() - t);
        const w = held !== undefined ? { outcome: held } : left > 0 ? await client.waitForBlock(id, { timeoutMs: left }) : { outcome: 'timeout' as const };
        if (w.outcome === 'committed') {
          const done = performance.now();
          if (t >= windowStart) latencies.push(done - t);
          committed++;
          if (done >= windowStart) {
            measured++;
            lastCommitAt = done;
          }
          s.parent = parentFromBlock(crypto, networkId, s.token, signed);
          s.owner = to;
          s.lastCommitted = id;
        } else {
          failed[w.outcome] = (failed[w.outcome] ?? 0) + 1;
          s.retired = true;
        }
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'error';
        if (!firstError.has(code)) firstError.set(code, (err as Error).message.split('\n')[0] ?? '');
        failed[code] = (failed[code] ?? 0) + 1;
        s.retired = true;
      }
    };

    while (submitted < maxTransfers) {
      const now = performance.now();
      if (now >= stopAt) break;
      if (now >= progressAt) {
        log(`  ${Math.round((now - start) / 1000)} s: submitted ${submitted}, committed ${committed}, in flight ${inFlight.size}`);
        progressAt += 5_000;
      }
      if (nextSlot > now) {
        await sleep(Math.max(1, nextSlot - now));
        continue;
      }
      const s = idle.shift();
      if (s === undefined) {
        // Every token is in flight: wait for one to come back (or the end).
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            const i = waiters.indexOf(done);
            if (i >= 0) waiters.splice(i, 1);
            resolve();
          };
          const timer = setTimeout(done, Math.max(1, stopAt - performance.now()));
          waiters.push(done);
        });
        nextSlot = Math.max(nextSlot, performance.now() - 100 * interval); // no burst catch-up beyond 100 slots
        continue;
      }
      nextSlot += interval;
      submitted++;
      const p = runOne(s).finally(() => {
        inFlight.delete(p);
        if (!s.retired) idle.push(s);
        waiters.shift()?.();
      });
      inFlight.add(p);
    }
    await Promise.all(inFlight);
    for (const [code, msg] of firstError) log(`  first ${code} failure: ${msg}`);
    clearTimeout(baseTimer);
    if (base === undefined) {
      // Every offered transfer (--max-transfers) finished within the warm-up: nothing to measure.
      throw new Error(`all ${submitted} transfers finished within the ${warmupMs / 1000} s warm-up: nothing was measured (raise --max-transfers or lower --warmup)`);
    }
    const [m0, cpu0] = await base;
    await profiled;
    const loadMs = Math.max(1, (measured > 0 ? lastCommitAt : performance.now()) - windowStart);
    const m1 = await framesOf();
    const cpu1 = await cpuOf();
    const generator = process.cpuUsage(generator0);

    // Check: for a sample of tokens, the entry daemon committed the last transfer, and every
    // daemon that maps the token (those hosting it) maps it to that transfer.
    const sample = states.filter((s) => !s.retired).slice(0, 8);
    for (const s of sample) {
      const st = await (clients[s.entry] as ClusterClient).block(s.lastCommitted);
      if (st.status !== 'committed' && st.status !== 'stored') throw new Error(`check failed: n${s.entry + 1} reports ${st.status} for ${s.lastCommitted}`);
      const deadline = Date.now() + 5_000;
      for (;;) {
        const maps = await Promise.all(clients.map((c) => c.token(toHex(s.token)).catch(() => null)));
        const present = maps.filter((m) => m !== null);
        const wrong = present.filter((m) => m?.block !== s.lastCommitted);
        if (present.length > 0 && wrong.length === 0) break;
        if (Date.now() > deadline) {
          throw new Error(`check failed: token ${toHex(s.token)} is mapped by ${present.length} daemons, ${wrong.length} of them not to ${s.lastCommitted}`);
        }
        await sleep(100);
      }
    }

    latencies.sort((a, b) => a - b);
    const frames = m1.frames - m0.frames;
    const perCommit = (after: Map<string, number>, before: Map<string, number>): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const [k, v] of [...after].sort()) {
        const d = v - (before.get(k) ?? 0);
        if (d > 0 && measured > 0) out[k] = round(d / measured);
      }
      return out;
    };
    const messagesPerCommit = perCommit(m1.messages, m0.messages);
    const cpuS = cpu1 - cpu0;
    const r = {
      nodes: n,
      commits_per_s: round(measured / (loadMs / 1000)),
      p50_ms: round(percentile(latencies, 50)),
      p95_ms: round(percentile(latencies, 95)),
      p99_ms: round(percentile(latencies, 99)),
      frames_per_commit: measured === 0 ? 0 : round(frames / measured),
      messages_per_commit: messagesPerCommit,
      vote_items_per_commit: measured === 0 ? 0 : round((m1.votes - m0.votes) / measured),
      items_per_commit: measured === 0 ? 0 : round((m1.items - m0.items) / measured),
      items_by_cause: perCommit(m1.causes, m0.causes),
      decided_per_commit: measured === 0 ? 0 : round((['origin', 'decision'] as const).reduce((x, c) => x + (m1.causes.get(c) ?? 0) - (m0.causes.get(c) ?? 0), 0) / measured),
      cpu_ms_per_commit: measured === 0 ? 0 : round((cpuS * 1000) / measured, 2),
      generator_cpu_ms_per_commit: inProcess || measured === 0 ? null : round((generator.user + generator.system) / 1000 / measured, 2),
      event_loop_delay_p99_ms: worstP99Ms(m0.loops, m1.loops),
      offered_per_s: rate,
      submitted,
      committed,
      measured,
      failed,
      load_s: round(loadMs / 1000, 2),
      warmup_s: warmupMs / 1000,
      tokens: tokenCount,
      cpu_s: round(cpuS, 2),
      frames_sent: frames,
      daemon_commits: m1.commits - m0.commits,
      profile: profile.name,
      store,
      in_process: inProcess,
    };
    return { ...r, target: { ...TARGET, met: r.commits_per_s >= TARGET.commits_per_s && r.p99_ms <= TARGET.p99_ms && measured > 0 && latencies.length > 0 } };
  } finally {
    await cluster.stop();
  }
}
