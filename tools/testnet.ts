/**
 * A local network of `ecd node` child processes on loopback (`ecd testnet`; also the harness of
 * the multi-process tests). Each node gets a data directory DIR/nI with a freshly mined identity
 * of the chosen profile, an ephemeral UDP port and control API port, and every other node as a
 * bootstrap peer given by its node.json path (re-read by the daemon until it exists, so all nodes
 * start at once); with `bootstrapOne`, a single other node: n1 knows n2, every later node one
 * node started before it. Bootstrap peers are only a way in: the daemons elect their Connected
 * peers (daemon/elections.ts).
 *
 * Every child is tracked: `stop()` sends SIGTERM to all and SIGKILLs any still alive after a
 * grace period, and a process 'exit' hook SIGKILLs whatever is left if the parent dies first.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveEngineChoice } from '../kernels/argon2/engines.js';
import { loadIdentityCrypto } from '../wire/identity-crypto.js';
import { identityFileText, toHex } from '../wire/identity-file.js';
import { identityWorkRequest } from '../wire/identity.js';
import type { NetworkProfile } from '../wire/profiles.js';
import { writeSecretFile } from './files.js';
import { identityFromFind, Miner, type MiningJob } from './mine.js';

export const CLI_PATH = fileURLToPath(new URL('./cli.js', import.meta.url));

export interface MinedIdentity {
  readonly text: string;
  readonly publicKey: string;
}

/** Mines one identity of `profile` (its d0) with `workers` threads; returns the identity file text. */
export async function mineIdentity(profile: NetworkProfile, workers = Math.max(1, availableParallelism())): Promise<MinedIdentity> {
  const crypto = await loadIdentityCrypto();
  const seed = new Uint8Array(randomBytes(32));
  const publicKey = crypto.ed25519.signerFromSeed(seed).publicKey;
  const engine = await resolveEngineChoice('auto', identityWorkRequest(profile, publicKey, new Uint8Array(16)));
  const job: MiningJob = { profile, difficulty: profile.d0, publicKey, time: Math.floor(Date.now() / 1000), attemptsBefore: 0, secondsBefore: 0 };
  const miner = new Miner(job, { kernel: engine.name, workers });
  const { result } = await miner.start();
  const r = await result;
  if (r.kind !== 'found') throw new Error('mining stopped before an identity was found');
  const record = identityFromFind(crypto.ed25519, seed, job, r.nonce);
  return { text: identityFileText(record, { profile: profile.name, secretSeed: seed }), publicKey: toHex(publicKey) };
}

export interface TestnetOptions {
  readonly nodes: number;
  readonly dir: string;
  readonly profile: NetworkProfile;
  /** Store of every node (default lmdb). */
  readonly store?: 'lmdb' | 'memory';
  readonly logLevel?: string;
  /** Extra arguments for every `ecd node`. */
  readonly extraArgs?: readonly string[];
  /** Extra arguments for node `index` (0-based) only. */
  readonly nodeArgs?: (index: number) => readonly string[];
  /** Progress lines (mining, starting). */
  readonly onProgress?: (line: string) => void;
  /** Each node knows one other node instead of all. */
  readonly bootstrapOne?: boolean;
}

export interface TestnetNode {
  readonly index: number;
  readonly name: string;
  readonly dir: string;
  readonly publicKey: string;
  child: ChildProcess | null;
  /** Known once the node has written node.json. */
  udp: string;
  /** Ring address (hex), known once the node has written node.json. */
  address: string;
  apiUrl: string;
  readonly tokenFile: string;
  token: string;
  exit: Promise<number | null> | null;
}

interface NodeJson {
  readonly publicKey: string;
  readonly address: string;
  readonly udp: string;
  readonly api: string;
  readonly pid: number;
}

const live = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The kernel's clock ticks per second (for /proc/<pid>/stat times). */
export function clockTicksPerSecond(): number {
  try {
    const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2_000 }).trim());
    return Number.isInteger(v) && v > 0 ? v : 100;
  } catch {
    return 100;
  }
}

/** utime + stime of one process in clock ticks, or 0 when it is gone. */
export async function processCpuTicks(pid: number): Promise<number> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": state is field 3, utime 14, stime 15 (1-based).
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return 0;
  }
}

async function readNodeJson(dir: string): Promise<NodeJson | null> {
  try {
    const o = JSON.parse(await readFile(join(dir, 'node.json'), 'utf8')) as NodeJson;
    return typeof o.pid === 'number' && typeof o.api === 'string' ? o : null;
  } catch {
    return null;
  }
}

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ECD_') || k === 'ECD_DEBUG') env[k] = v;
  return env;
}

export class Testnet {
  readonly nodes: TestnetNode[];
  private stopped = false;

  private constructor(
    readonly opts: TestnetOptions,
    nodes: TestnetNode[],
  ) {
    this.nodes = nodes;
  }

  /** Creates the directories and mines the identities (nothing runs yet). */
  static async create(opts: TestnetOptions): Promise<Testnet> {
    if (!Number.isInteger(opts.nodes) || opts.nodes < 1) throw new RangeError('nodes must be a positive integer');
    await mkdir(opts.dir, { recursive: true, mode: 0o700 });
    const nodes: TestnetNode[] = [];
    for (let i = 0; i < opts.nodes; i++) {
      const name = `n${i + 1}`;
      const dir = join(opts.dir, name);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const idPath = join(dir, 'identity.json');
      let publicKey: string;
      let exists = false;
      try {
        exists = (await stat(idPath)).isFile();
      } catch {
        exists = false;
      }
      if (exists) {
        publicKey = (JSON.parse(await readFile(idPath, 'utf8')) as { public_key: string }).public_key;
      } else {
        opts.onProgress?.(`mining ${opts.profile.name} identity for ${name} (d = ${opts.profile.d0})`);
        const id = await mineIdentity(opts.profile);
        await writeSecretFile(idPath, id.text, { overwrite: true });
        publicKey = id.publicKey;
      }
      nodes.push({ index: i, name, dir, publicKey, child: null, udp: '', address: '', apiUrl: '', tokenFile: join(dir, 'api-token'), token: '', exit: null });
    }
    return new Testnet(opts, nodes);
  }

  /**
   * Starts the first `count` nodes (all by default) and waits until each has written node.json
   * and answers its API; the others can join later with `startNode`.
   */
  async start(timeoutMs = 30_000, count = this.nodes.length): Promise<void> {
    const first = this.nodes.slice(0, count);
    for (const n of first) this.spawnNode(n);
    await Promise.all(first.map((n) => this.waitReady(n, timeoutMs)));
  }

  /** Starts node i (not running yet) and waits until it answers its API. */
  async startNode(i: number, timeoutMs = 30_000): Promise<void> {
    const n = this.nodes[i] as TestnetNode;
    if (n.child !== null) throw new Error(`${n.name} is running`);
    this.spawnNode(n);
    await this.waitReady(n, timeoutMs);
  }

  private spawnNode(n: TestnetNode, extra: readonly string[] = []): void {
    const args = [
      CLI_PATH,
      'node',
      '--data-dir',
      n.dir,
      '--profile',
      this.opts.profile.name,
      '--log-format',
      'json',
      '--log-level',
      this.opts.logLevel ?? 'info',
      '--store',
      this.opts.store ?? 'lmdb',
      ...this.bootstrapOf(n).flatMap((m) => ['--bootstrap', m.dir]),
      '--parent-pid',
      String(process.pid),
      ...(this.opts.extraArgs ?? []),
      ...(this.opts.nodeArgs?.(n.index) ?? []),
      ...extra,
    ];
    // The child writes its log file itself, so the log survives us.
    const log = openSync(join(n.dir, 'node.log'), 'a', 0o600);
    // Own process group: a terminal's Ctrl-C reaches only us, and we stop the children in order.
    // If we die without stopping them, --parent-pid makes each stop itself within a second.
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, args, { stdio: ['ignore', log, log], env: childEnv(), detached: true });
    } finally {
      closeSync(log);
    }
    track(child);
    n.child = child;
    n.exit = new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      // A failed spawn (EAGAIN, EMFILE) emits 'error' and no 'exit': treat it as an exit.
      child.once('error', () => resolve(child.exitCode ?? -1));
    });
  }

  private async waitReady(n: TestnetNode, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const child = n.child;
    let exited = false;
    void n.exit?.then(() => (exited = true));
    while (Date.now() < deadline) {
      if (exited) throw new Error(`${n.name} exited during start-up (see ${join(n.dir, 'node.log')})`);
      const j = await readNodeJson(n.dir);
      if (j !== null && j.pid === child?.pid) {
        n.udp = j.udp;
        n.address = j.address;
        n.apiUrl = j.api;
        n.token = (await readFile(n.tokenFile, 'utf8')).trim();
        try {
          const r = await fetch(`${n.apiUrl}/v1/status`, { headers: { authorization: `Bearer ${n.token}` }, signal: AbortSignal.timeout(2_000) });
          if (r.ok) return;
        } catch {
          // not listening yet
        }
      }
      await sleep(50);
    }
    throw new Error(`${n.name} did not become ready within ${timeoutMs} ms (see ${join(n.dir, 'node.log')})`);
  }

  /** GET a JSON route of node i. */
  async get(i: number, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    return this.request(i, path, { method: 'GET' }, 35_000);
  }

  /** POST JSON to node i (submissions are idempotent). */
  async post(i: number, path: string, json: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    return this.request(i, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) }, 10_000);
  }

  /**
   * One request to node i's API. A connection that fails before any answer (a kept-alive socket
   * the daemon had just closed) is tried once more; a second failure names the node, the route
   * and the cause.
   */
  private async request(i: number, path: string, init: { method: string; headers?: Record<string, string>; body?: string }, timeoutMs: number): Promise<{ status: number; body: Record<string, unknown> }> {
    const n = this.nodes[i] as TestnetNode;
    const attempt = async (): Promise<{ status: number; body: Record<string, unknown> }> => {
      const r = await fetch(`${n.apiUrl}${path}`, { ...init, headers: { ...init.headers, authorization: `Bearer ${n.token}` }, signal: AbortSignal.timeout(timeoutMs) });
      const text = await r.text();
      try {
        return { status: r.status, body: JSON.parse(text) as Record<string, unknown> };
      } catch {
        return { status: r.status, body: { text } };
      }
    };
    try {
      return await attempt();
    } catch (first) {
      if (!(first instanceof TypeError)) throw first;
      try {
        return await attempt();
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new Error(`${n.name} ${init.method} ${path}: ${(err as Error).message} (${cause?.code ?? cause?.message ?? 'no cause'})`);
      }
    }
  }

  /** Waits until every running node has `want` Connected peers (default all others). */
  async waitConnected(timeoutMs = 20_000, want = this.nodes.length - 1): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = await Promise.all(
        this.nodes.map(async (n, i) => {
          if (n.child === null) return want;
          try {
            const s = await this.get(i, '/v1/status');
            return ((s.body['peers'] as { connected?: number } | undefined)?.connected ?? 0) as number;
          } catch {
            return 0;
          }
        }),
      );
      if (counts.every((c) => c >= want)) return;
      if (Date.now() > deadline) throw new Error(`peers not connected within ${timeoutMs} ms: ${counts.join(',')}`);
      await sleep(100);
    }
  }

  /**
   * Neighbourhood accuracy over the running nodes: for each, the share of its true ring
   * neighbours (the w nearest running nodes on each side, fewer in a small network) that it
   * holds Connected, averaged. Null while a node does not answer. Nodes in `excluded` (ones that
   * cannot prove storage, say) count as absent.
   */
  async accuracy(w = 4, excluded: ReadonlySet<number> = new Set()): Promise<number | null> {
    const running = this.nodes.filter((n) => n.child !== null && n.address !== '' && !excluded.has(n.index)).sort((a, b) => (a.address < b.address ? -1 : 1));
    const m = running.length;
    if (m < 2) return m === 1 ? 1 : null;
    const lists = await Promise.all(
      running.map(async (n) => {
        try {
          const r = await this.get(n.index, '/v1/peers');
          const peers = (r.body['peers'] ?? []) as { address: string; state: string }[];
          return new Set(peers.filter((p) => p.state === 'connected').map((p) => p.address));
        } catch {
          return null;
        }
      }),
    );
    let sum = 0;
    for (let i = 0; i < m; i++) {
      const connected = lists[i];
      if (connected === null || connected === undefined) return null;
      const want = new Set<string>();
      for (let d = 1; d <= w && want.size < m - 1; d++) {
        want.add((running[(i + d) % m] as TestnetNode).address);
        want.add((running[(i - d + m) % m] as TestnetNode).address);
      }
      let have = 0;
      for (const a of want) if (connected.has(a)) have++;
      sum += have / want.size;
    }
    return sum / m;
  }

  /** Waits until the accuracy reaches `target`; resolves with the accuracy and the time it took. */
  async waitAccuracy(target: number, timeoutMs: number, excluded: ReadonlySet<number> = new Set()): Promise<{ accuracy: number; ms: number }> {
    const started = Date.now();
    let last: number | null = null;
    for (;;) {
      last = await this.accuracy(4, excluded);
      if (last !== null && last >= target) return { accuracy: last, ms: Date.now() - started };
      if (Date.now() - started > timeoutMs) throw new Error(`neighbourhood accuracy ${last === null ? '-' : last.toFixed(3)} < ${target} after ${timeoutMs} ms`);
      await sleep(250);
    }
  }

  private bootstrapOf(n: TestnetNode): TestnetNode[] {
    const others = this.nodes.filter((m) => m !== n);
    if (this.opts.bootstrapOne !== true || others.length === 0) return others;
    // n1 knows n2; node i a node started before it, spread by a fixed hash of i.
    const j = n.index === 0 ? 1 : Math.imul(n.index, 0x9e3779b1) >>> 0;
    return [this.nodes[n.index === 0 ? j : j % n.index] as TestnetNode];
  }

  /** CPU seconds the running daemons have used so far, together. */
  async cpuSeconds(): Promise<number> {
    const pids = this.nodes.flatMap((n) => (n.child?.pid === undefined ? [] : [n.child.pid]));
    return (await Promise.all(pids.map(processCpuTicks))).reduce((a, b) => a + b, 0) / clockTicksPerSecond();
  }

  /** Stops node i (SIGTERM, then SIGKILL after `graceMs`); resolves with its exit code. */
  async stopNode(i: number, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<number | null> {
    const n = this.nodes[i] as TestnetNode;
    const child = n.child;
    if (child === null) return null;
    const exit = n.exit as Promise<number | null>;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exit;
    clearTimeout(timer);
    n.child = null;
    return code;
  }

  /** Starts node i again (same data dir; same UDP port when `samePort`). */
  async restartNode(i: number, samePort = true, timeoutMs = 30_000): Promise<void> {
    const n = this.nodes[i] as TestnetNode;
    if (n.child !== null) await this.stopNode(i);
    this.spawnNode(n, samePort && n.udp !== '' ? ['--listen', n.udp] : []);
    await this.waitReady(n, timeoutMs);
  }

  /** Stops every node; SIGKILLs stragglers. Idempotent. */
  async stop(graceMs = 10_000): Promise<(number | null)[]> {
    if (this.stopped) return [];
    this.stopped = true;
    const codes = await Promise.all(this.nodes.map((_, i) => this.stopNode(i, 'SIGTERM', graceMs)));
    return codes;
  }

  /** Removes the directory (tests). */
  async remove(): Promise<void> {
    await rm(this.opts.dir, { recursive: true, force: true });
  }
}
