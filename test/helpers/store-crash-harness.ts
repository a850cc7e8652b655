/**
 * Crash harness: start a child, wait for its ready line, SIGKILL it after a seeded random delay,
 * then let a check callback inspect what survived; repeat. Generic over the child so the daemon's
 * version (SIGKILL of a real `ecd node`, acknowledgements from its control API) reuses it:
 *
 *   await runCrashLoop({ iterations, seed, killDelayMs: [0, 40],
 *     spawn: () => spawn(process.execPath, [cli, 'node', …], { stdio: ['ignore', 'pipe', 'pipe'] }),
 *     isReady: (line) => line.includes('"msg":"listening"'),
 *     onReady: (child, run) => startLoad(child, run),      // optional: drive load from the parent
 *     check: async (run) => { … open the store, compare with what the API acknowledged … } });
 *
 * `createStoreCrashChecker` is the check for test/helpers/store-crash-child.ts, whose stdout
 * announces each batch before `apply` and acknowledges it after.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { nobleBlake3 } from '../../kernels/blake3.js';
import { verifyChain } from '../../store/chain.js';
import { openLmdbStore } from '../../store/lmdb.js';
import type { LmdbStore } from '../../store/lmdb.js';
import { SeededRng } from './seeded-rng.js';
import type { StoreCrashIntent } from './store-crash-protocol.js';

export interface CrashRun {
  readonly iteration: number;
  /** Complete stdout lines (a line cut by the kill is dropped). */
  readonly lines: readonly string[];
  readonly stderr: string;
  /** Milliseconds between the ready line and the kill. */
  readonly killDelayMs: number;
  /** True when the child exited on its own before the kill (a failure for an endless child). */
  readonly exitedEarly: boolean;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface CrashLoopOptions {
  readonly iterations: number;
  readonly seed: number;
  /** Starts one child with stdout (and ideally stderr) piped. */
  readonly spawn: (iteration: number) => ChildProcess;
  /** Kill delay, uniform in [min, max] ms, after the ready line (or after `killAfterLines`). */
  readonly killDelayMs: readonly [number, number];
  /**
   * Optional: before the delay, wait for a uniform [min, max] number of stdout lines matching
   * `match` (e.g. commit acknowledgements), so every kill finds the child working however slow
   * the machine is. Waits at most `readyTimeoutMs`, then kills anyway.
   */
  readonly killAfterLines?: { readonly match: (line: string) => boolean; readonly count: readonly [number, number] };
  /** Default: a line starting with "ready". */
  readonly isReady?: (line: string) => boolean;
  /** Fails the loop if no ready line comes within this many ms (default 15 000). */
  readonly readyTimeoutMs?: number;
  /** Called once the child is ready, before the delay (e.g. to start sending load). */
  readonly onReady?: (child: ChildProcess, iteration: number) => void;
  /** Inspects what survived the kill; throw to fail. */
  readonly check: (run: CrashRun) => void | Promise<void>;
  /**
   * When set, written to each child's stdin when its turn comes; the child must pipe stdin and
   * wait for it before touching the database (store-crash-child's --wait-go).
   */
  readonly goLine?: string;
  /**
   * Children started ahead (default 0; needs `goLine`). A spare loads its code while the current
   * child runs, which takes start-up off the critical path.
   */
  readonly spares?: number;
}

export interface CrashLoopReport {
  readonly kills: number;
  readonly wallMs: number;
  /** Summed time from spawn to the ready line, and spent in `check`. */
  readonly startupMs: number;
  readonly checkMs: number;
}

/** Waits until `child` has exited and its stdio is drained ('close'); resolves with code and signal. */
function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal })));
}

interface Watched {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly stderr: { text: string };
  readonly ready: Promise<void>;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once `n` lines matching `match` arrived after the ready line. */
  countAfterReady(match: (line: string) => boolean, n: number): void;
  readonly counted: Promise<void>;
}

/** Collects a child's complete stdout lines and stderr, and notices its ready line. */
function watch(child: ChildProcess, isReady: (line: string) => boolean): Watched {
  const lines: string[] = [];
  const stderr = { text: '' };
  let partial = '';
  let readyResolve: (() => void) | undefined;
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  let countedResolve: (() => void) | undefined;
  const counted = new Promise<void>((resolve) => (countedResolve = resolve));
  let counter: { match: (line: string) => boolean; left: number } | undefined;
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() as string;
    for (const line of parts) {
      lines.push(line);
      if (readyResolve !== undefined) {
        if (isReady(line)) {
          readyResolve();
          readyResolve = undefined;
        }
      } else if (counter !== undefined && counter.left > 0 && counter.match(line) && --counter.left === 0) countedResolve?.();
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    if (stderr.text.length < 16_384) stderr.text += chunk;
  });
  // A write to a spare's stdin after it died must not crash the harness.
  child.stdin?.on('error', () => undefined);
  const countAfterReady = (match: (line: string) => boolean, n: number): void => {
    counter = { match, left: n };
    if (n <= 0) countedResolve?.();
  };
  return { child, lines, stderr, ready, exit: exited(child), countAfterReady, counted };
}

export async function runCrashLoop(opts: CrashLoopOptions): Promise<CrashLoopReport> {
  const rng = new SeededRng(opts.seed);
  const isReady = opts.isReady ?? ((line: string) => line.startsWith('ready'));
  const t0 = performance.now();
  let kills = 0;
  let startupMs = 0;
  let checkMs = 0;
  const goLine = opts.goLine;
  if ((opts.spares ?? 0) > 0 && goLine === undefined) throw new RangeError('spares need a goLine');
  const spareCount = opts.spares ?? 0;
  const pool: Watched[] = [];
  try {
    for (let iteration = 0; iteration < opts.iterations; iteration++) {
      const [lo, hi] = opts.killDelayMs;
      const killDelayMs = lo + rng.next() * (hi - lo);
      const after = opts.killAfterLines;
      const linesBeforeKill = after === undefined ? 0 : after.count[0] + rng.int(after.count[1] - after.count[0] + 1);
      const spawnedAt = performance.now();
      const w = pool.shift() ?? watch(opts.spawn(iteration), isReady);
      if (after !== undefined) w.countAfterReady(after.match, linesBeforeKill);
      while (pool.length < spareCount && iteration + 1 + pool.length < opts.iterations) pool.push(watch(opts.spawn(iteration + 1 + pool.length), isReady));
      const { child, lines, ready, exit } = w;
      if (goLine !== undefined) child.stdin?.write(goLine);
      const stderrOf = (): string => w.stderr.text;
      const readyTimeout = opts.readyTimeoutMs ?? 15_000;
      // Every timer is cancelled once its race is decided, so none outlives the loop.
      const timers = new AbortController();
      const timeout = sleep(readyTimeout, 'timeout' as const, { signal: timers.signal }).catch(() => 'cancelled' as const);
      const first = await Promise.race([ready.then(() => 'ready' as const), exit.then(() => 'exit' as const), timeout]);
      timers.abort();
      let exitedEarly = first === 'exit';
      if (first === 'timeout') {
        child.kill('SIGKILL');
        await exit;
        throw new Error(`crash loop seed ${opts.seed} iteration ${iteration}: no ready line within ${readyTimeout} ms; stderr: ${stderrOf()}`);
      }
      if (first === 'ready') {
        startupMs += performance.now() - spawnedAt;
        opts.onReady?.(child, iteration);
        if (linesBeforeKill > 0) {
          const wait = new AbortController();
          await Promise.race([w.counted, exit, sleep(readyTimeout, undefined, { signal: wait.signal }).catch(() => undefined)]);
          wait.abort();
        }
        const delay = new AbortController();
        const killed = await Promise.race([sleep(killDelayMs, true, { signal: delay.signal }).catch(() => false), exit.then(() => false)]);
        delay.abort();
        if (killed) {
          child.kill('SIGKILL');
          kills++;
        } else exitedEarly = true;
      }
      const { code, signal } = await exit;
      const checkAt = performance.now();
      await opts.check({ iteration, lines, stderr: stderrOf(), killDelayMs, exitedEarly, exitCode: code, signal });
      checkMs += performance.now() - checkAt;
    }
  } finally {
    // Spares never started: end them (they hold no database open).
    for (const w of pool) {
      w.child.kill('SIGKILL');
      await w.exit;
    }
  }
  return { kills, wallMs: performance.now() - t0, startupMs, checkMs };
}

// --- the store child's check ---------------------------------------------------------------------

interface Announced {
  readonly seq: number;
  readonly intent: StoreCrashIntent;
}

export interface StoreCrashTally {
  /** Batches acknowledged over all iterations. */
  acked: number;
  /** Kills that found a batch announced but not acknowledged, and how many of those had committed. */
  inFlight: number;
  inFlightCommitted: number;
  /** Head seq after the last check. */
  head: number;
}

function bytes(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

function hex(b: Uint8Array | undefined): string | undefined {
  return b === undefined ? undefined : Buffer.from(b).toString('hex');
}

/** Throws unless every write the intent announces is in the store at `seq`. */
function expectPresent(s: LmdbStore, a: Announced, where: string): void {
  const rec = s.commit(a.seq);
  if (hex(rec?.id) !== a.intent.id) throw new Error(`${where}: commit ${a.seq} is ${rec === undefined ? 'missing' : 'a different record'}`);
  for (const b of a.intent.blocks) {
    const stored = s.block(bytes(b));
    if (stored?.seq !== a.seq) throw new Error(`${where}: block ${b} of commit ${a.seq} is ${stored === undefined ? 'missing' : `at seq ${stored.seq}`}`);
  }
  for (const [t, last, b] of a.intent.spends) {
    if (hex(s.spend(bytes(t), bytes(last))) !== b) throw new Error(`${where}: spend ${t}/${last} of commit ${a.seq} is missing`);
  }
  for (const [t, b] of a.intent.tokens) {
    const m = s.token(bytes(t));
    // A later commit may have moved the mapping on; it may never be missing or older.
    if (m === undefined || m.seq < a.seq || (m.seq === a.seq && hex(m.block) !== b)) throw new Error(`${where}: mapping of token ${t} from commit ${a.seq} is missing`);
  }
}

/** Throws if anything of a batch that did not commit is in the store. */
function expectAbsent(s: LmdbStore, a: Announced, where: string): void {
  if (s.commit(a.seq) !== undefined) throw new Error(`${where}: commit ${a.seq} exists beyond the head`);
  for (const b of a.intent.blocks) if (s.hasBlock(bytes(b))) throw new Error(`${where}: half batch — block ${b} of uncommitted ${a.seq} is stored`);
  for (const [t, last] of a.intent.spends) if (s.spend(bytes(t), bytes(last)) !== undefined) throw new Error(`${where}: half batch — a spend of uncommitted ${a.seq} is stored`);
  for (const [t, b] of a.intent.tokens) if (hex(s.token(bytes(t))?.block) === b) throw new Error(`${where}: half batch — a mapping of uncommitted ${a.seq} is stored`);
}

/**
 * The check for store-crash-child: after each kill the store opens, every acknowledged commit
 * (of every run so far) is present with its blocks, spends and mappings, an announced but
 * unacknowledged batch is entirely present or entirely absent, and the chain verifies.
 * `fullEvery`: walk the whole chain every n-th check (the others walk the new part).
 */
export function createStoreCrashChecker(dir: string, opts: { networkId: bigint; seed: number; fullEvery?: number }): { check: (run: CrashRun) => void; tally: StoreCrashTally } {
  const ackedIds = new Map<number, string>();
  const tally: StoreCrashTally = { acked: 0, inFlight: 0, inFlightCommitted: 0, head: 0 };
  let verifiedTo = 0;
  const check = (run: CrashRun): void => {
    const where = `crash seed ${opts.seed} iteration ${run.iteration} (kill after ${run.killDelayMs.toFixed(1)} ms)`;
    if (run.exitedEarly) throw new Error(`${where}: the child exited by itself (code ${run.exitCode}): ${run.stderr}`);
    const announced = new Map<number, Announced>();
    const acks: number[] = [];
    for (const line of run.lines) {
      if (line.startsWith('batch ')) {
        const sp = line.indexOf(' ', 6);
        const seq = Number(line.slice(6, sp));
        announced.set(seq, { seq, intent: JSON.parse(line.slice(sp + 1)) as StoreCrashIntent });
      } else if (line.startsWith('ack ')) acks.push(Number(line.slice(4)));
    }
    let s: LmdbStore;
    try {
      s = openLmdbStore(dir, { networkId: opts.networkId });
    } catch (e) {
      throw new Error(`${where}: the store does not open: ${(e as Error).message}`, { cause: e });
    }
    try {
      const head = s.head();
      for (const seq of acks) {
        const a = announced.get(seq);
        if (a === undefined) throw new Error(`${where}: ack ${seq} without its batch line`);
        if (seq > head.seq) throw new Error(`${where}: acknowledged commit ${seq} is lost (head ${head.seq})`);
        expectPresent(s, a, where);
        ackedIds.set(seq, a.intent.id);
        tally.acked++;
      }
      const ackedHere = new Set(acks);
      for (const a of announced.values()) {
        if (ackedHere.has(a.seq)) continue;
        tally.inFlight++;
        if (a.seq <= head.seq) {
          expectPresent(s, a, `${where} (in flight, committed)`);
          ackedIds.set(a.seq, a.intent.id);
          tally.inFlightCommitted++;
        } else expectAbsent(s, a, `${where} (in flight, not committed)`);
      }
      const full = opts.fullEvery !== undefined && run.iteration % opts.fullEvery === 0;
      const v = verifyChain(s, nobleBlake3, full ? {} : { fromSeq: Math.max(1, verifiedTo) });
      if (!v.ok) throw new Error(`${where}: the chain does not verify: ${v.code} at ${v.seq}: ${v.message}`);
      if (full) {
        for (const [seq, id] of ackedIds) if (hex(s.commit(seq)?.id) !== id) throw new Error(`${where}: acknowledged commit ${seq} changed`);
      }
      verifiedTo = head.seq;
      tally.head = head.seq;
    } finally {
      s.close();
    }
  };
  return { check, tally };
}
