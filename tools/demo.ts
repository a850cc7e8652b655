/**
 * The `ecd testnet --demo` walkthrough, driven through the daemons' control APIs only:
 *
 *   1. wait until every daemon sees its peers, and agree on the network id;
 *   2. create tokens (one block) and wait until every daemon maps them;
 *   3. transfer one token three times (alice → bob → carol → alice), each through a different
 *      entry daemon, each waiting for the commit before the next;
 *   4. double spend: two blocks spending the same (token, last) to different keys, submitted at
 *      the same moment through two different entry daemons;
 *   5. query every daemon and print which daemons committed what, then check safety: no daemon
 *      committed both contenders, no two daemons committed different contenders, and no daemon's
 *      mapping changed after it committed.
 *
 * Owner keys are generated in memory (the demo never writes key files). Every wait is bounded.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadIdentityCrypto } from '../wire/identity-crypto.js';
import { blockId, type SignedBlock } from '../wire/block.js';
import { toHex } from '../wire/identity-file.js';
import { ApiClient, ApiError, COMMITTED_STATUSES, type NodeStatus } from './api-client.js';
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
} from './token-blocks.js';

export interface DemoNode {
  readonly name: string;
  readonly apiUrl: string;
  readonly apiTokenFile: string;
}

export interface DemoOptions {
  /** Tokens to create (1..6, one block; default 3). */
  readonly tokens?: number;
  /** Longest wait for one block to commit at its entry daemon (default 15 000 ms). */
  readonly commitTimeoutMs?: number;
  /** Longest wait for the daemons to see each other before starting (default 30 000 ms). */
  readonly readyTimeoutMs?: number;
  /** Longest wait for every daemon to settle the double spend (default 10 000 ms). */
  readonly settleMs?: number;
  /** Per-request timeout (default 10 000 ms). */
  readonly requestTimeoutMs?: number;
  /** Random bytes (tokens and keys); default node:crypto. */
  readonly random?: (n: number) => Uint8Array;
  readonly signal?: AbortSignal;
}

export interface DemoCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** False for facts reported but not required (e.g. that the double spend resolved at all). */
  readonly required: boolean;
}

export interface DoubleSpendRow {
  readonly node: string;
  /** Status of contender A and B at this daemon. */
  readonly a: string;
  readonly b: string;
  /** What this daemon maps the token to: 'A', 'B', 'parent', 'none' or another block id. */
  readonly mapping: string;
}

export interface DemoResult {
  readonly ok: boolean;
  readonly networkId: string;
  readonly tokens: readonly string[];
  readonly createBlock: string | null;
  readonly transfers: readonly string[];
  readonly doubleSpend: {
    readonly token: string;
    readonly a: string;
    readonly b: string;
    readonly entryA: string;
    readonly entryB: string;
    readonly rows: readonly DoubleSpendRow[];
    /** The contender the committing daemons agree on, or null when none committed. */
    readonly winner: 'A' | 'B' | null;
  } | null;
  readonly checks: readonly DemoCheck[];
  readonly elapsedMs: number;
}

const short = (hex: string): string => `${hex.slice(0, 12)}…`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Peer {
  readonly name: string;
  readonly client: ApiClient;
}

async function statusOf(p: Peer, id: string): Promise<string> {
  try {
    return (await p.client.block(id)).status;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return 'unknown';
    if (err instanceof ApiError) return `error:${err.code}`;
    throw err;
  }
}

async function mappingOf(p: Peer, token: string): Promise<string | null> {
  try {
    return (await p.client.token(token))?.block ?? null;
  } catch (err) {
    if (err instanceof ApiError) return `error:${err.code}`;
    throw err;
  }
}

/** Polls `probe` on every peer until `done` holds for all of them or `timeoutMs` passes. */
async function pollAll<T>(peers: readonly Peer[], probe: (p: Peer) => Promise<T>, done: (v: T) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const values = await Promise.all(peers.map(probe));
    if (values.every(done) || Date.now() >= deadline || signal?.aborted === true) return values;
    await sleep(100);
  }
}

export async function runDemo(nodes: readonly DemoNode[], log: (line: string) => void, opts: DemoOptions = {}): Promise<DemoResult> {
  const t0 = Date.now();
  const checks: DemoCheck[] = [];
  const check = (name: string, ok: boolean, detail: string, required = true): void => {
    checks.push({ name, ok, detail, required });
    log(`${ok ? 'PASS' : required ? 'FAIL' : 'note'}  ${name}${detail === '' ? '' : ` — ${detail}`}`);
  };
  const random = opts.random ?? ((n: number) => new Uint8Array(randomBytes(n)));
  const commitTimeoutMs = opts.commitTimeoutMs ?? 15_000;
  const settleMs = opts.settleMs ?? 10_000;
  const tokenCount = Math.max(1, Math.min(6, opts.tokens ?? 3));
  const finish = (partial: Omit<DemoResult, 'ok' | 'checks' | 'elapsedMs'>): DemoResult => {
    const ok = checks.every((c) => c.ok || !c.required);
    log(ok ? `demo: all ${checks.filter((c) => c.required).length} checks passed` : `demo: FAILED (${checks.filter((c) => !c.ok && c.required).map((c) => c.name).join('; ')})`);
    return { ...partial, ok, checks, elapsedMs: Date.now() - t0 };
  };

  const result = {
    networkId: '',
    tokens: [] as string[],
    createBlock: null as string | null,
    transfers: [] as string[],
    doubleSpend: null as DemoResult['doubleSpend'],
  };

  if (nodes.length < 2) {
    check('at least two daemons', false, `got ${nodes.length}`);
    return finish(result);
  }

  const crypto: TokenCrypto = await loadIdentityCrypto();
  const peers: Peer[] = await Promise.all(
    nodes.map(async (n) => ({
      name: n.name,
      client: new ApiClient({ url: n.apiUrl, token: (await readFile(n.apiTokenFile, 'utf8')).trim() }, { timeoutMs: opts.requestTimeoutMs ?? 10_000 }),
    })),
  );
  const at = (i: number): Peer => peers[i % peers.length] as Peer;

  // 1. Ready: every daemon answers and sees the others.
  const want = peers.length - 1;
  log(`demo: ${peers.length} daemons; waiting until each sees ${want} connected peers`);
  const statuses = await pollAll<NodeStatus | null>(
    peers,
    (p) => p.client.status().catch(() => null),
    (s) => s !== null && s.peers.connected >= want,
    opts.readyTimeoutMs ?? 30_000,
    opts.signal,
  );
  const answered = statuses.filter((s): s is NodeStatus => s !== null);
  const ids = new Set(answered.map((s) => s.networkId.toString()));
  const connected = answered.map((s) => s.peers.connected);
  check('every daemon answers its control API', answered.length === peers.length, `${answered.length}/${peers.length}`);
  check('one network id', ids.size === 1, [...ids].join(', '));
  check('daemons see each other', connected.every((c) => c >= want), `connected peers per daemon: ${connected.join(' ')}`, false);
  if (answered.length !== peers.length || ids.size !== 1) return finish(result);
  const networkId = (answered[0] as NodeStatus).networkId;
  result.networkId = networkId.toString();

  const key = (): OwnerKey => ownerKeyFromSeed(crypto, random(32));
  const alice = key();
  const bob = key();
  const carol = key();
  const owners: Record<string, OwnerKey> = { alice, bob, carol };
  const ownerName = (h: Uint8Array): string => Object.entries(owners).find(([, k]) => toHex(k.keyHash) === toHex(h))?.[0] ?? short(toHex(h));

  /** Submits at `entry`, waits there; returns the outcome line's facts. */
  const submitWait = async (entry: Peer, signed: SignedBlock, what: string): Promise<{ id: string; outcome: string; ms: number }> => {
    const id = blockIdHex(crypto, networkId, signed);
    const sub = await entry.client.submitBlock(signedBlockHex(signed));
    if (sub.id !== id) throw new Error(`${entry.name} computed block id ${sub.id}, we computed ${id}`);
    const w = await entry.client.waitForBlock(id, { timeoutMs: commitTimeoutMs, ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
    log(`  ${what}: block ${short(id)} via ${entry.name} → ${w.outcome}${w.seq === undefined ? '' : ` (seq ${w.seq})`} in ${Math.round(w.elapsedMs)} ms`);
    return { id, outcome: w.outcome, ms: w.elapsedMs };
  };

  try {
    // 2. Create.
    log(`demo: alice creates ${tokenCount} tokens`);
    const tokens = randomTokens(tokenCount, random);
    result.tokens = tokens.map(toHex);
    const created = buildCreateBlocks(tokens, alice.keyHash, Date.now())[0] as SignedBlock;
    const c = await submitWait(at(0), created, `create ${tokens.map((t) => short(toHex(t))).join(' ')}`);
    result.createBlock = c.id;
    check('creation committed at its entry daemon', c.outcome === 'committed', c.outcome);
    if (c.outcome !== 'committed') return finish(result);
    const everywhere = async (id: string, token: string, what: string): Promise<void> => {
      const since = Date.now();
      // Every daemon commits every block (PROTOCOL §5.3); only those hosting the token map it.
      const sts = await pollAll(peers, (p) => statusOf(p, id), (st) => COMMITTED_STATUSES.has(st), commitTimeoutMs, opts.signal);
      const n = sts.filter((st) => COMMITTED_STATUSES.has(st)).length;
      check(`every daemon committed ${what}`, n === peers.length, `${n}/${peers.length} within ${Date.now() - since} ms`);
      const maps = await Promise.all(peers.map((p) => mappingOf(p, token)));
      const hosts = maps.filter((m) => m !== null);
      const right = hosts.filter((m) => m === id).length;
      check(`every daemon hosting the token maps it to ${what}`, hosts.length > 0 && right === hosts.length, `${right}/${hosts.length} hosting daemons`);
    };
    await everywhere(c.id, toHex(tokens[0] as Uint8Array), 'the creation');

    // 3. Three transfers of token 0, each through another entry daemon.
    const token = tokens[0] as Uint8Array;
    const tokenHex = toHex(token);
    log(`demo: token ${short(tokenHex)} goes alice → bob → carol → alice`);
    let parentBlock = created;
    const chain: [OwnerKey, OwnerKey][] = [
      [alice, bob],
      [bob, carol],
      [carol, alice],
    ];
    for (let i = 0; i < chain.length; i++) {
      const [from, to] = chain[i] as [OwnerKey, OwnerKey];
      const entry = at(i + 1);
      const parentId = toHex(blockId(crypto.blake3, networkId, parentBlock.block));
      // The entry daemon must have committed the current block before it can accept its child.
      const [seen] = await pollAll([entry], (p) => statusOf(p, parentId), (st) => COMMITTED_STATUSES.has(st), commitTimeoutMs, opts.signal);
      if (!COMMITTED_STATUSES.has(seen ?? '')) {
        check(`transfer ${i + 1}: ${entry.name} committed the token's current block`, false, `${short(parentId)} is ${seen ?? 'unknown'} there`);
        return finish(result);
      }
      const signed = buildUpdateBlock(crypto, networkId, [{ parent: parentFromBlock(crypto, networkId, token, parentBlock), nextKeyHash: to.keyHash }], from, Date.now());
      const t = await submitWait(entry, signed, `transfer ${i + 1} ${ownerName(from.keyHash)} → ${ownerName(to.keyHash)}`);
      result.transfers.push(t.id);
      check(`transfer ${i + 1} committed`, t.outcome === 'committed', t.outcome);
      if (t.outcome !== 'committed') return finish(result);
      parentBlock = signed;
    }
    await everywhere(result.transfers.at(-1) as string, tokenHex, 'the third transfer');

    // 4. Double spend of token 1 (or token 0's current block when only one token exists).
    const dsToken = tokens.length > 1 ? (tokens[1] as Uint8Array) : token;
    const dsParent = tokens.length > 1 ? created : parentBlock;
    const dsOwner = alice;
    const dsHex = toHex(dsToken);
    const parent = parentFromBlock(crypto, networkId, dsToken, dsParent);
    const now = Date.now();
    const blockA = buildUpdateBlock(crypto, networkId, [{ parent, nextKeyHash: bob.keyHash }], dsOwner, now);
    const blockB = buildUpdateBlock(crypto, networkId, [{ parent, nextKeyHash: carol.keyHash }], dsOwner, now);
    const idA = blockIdHex(crypto, networkId, blockA);
    const idB = blockIdHex(crypto, networkId, blockB);
    const entryA = at(0);
    const entryB = at(Math.max(1, Math.floor(peers.length / 2)));
    log(`demo: double spend of token ${short(dsHex)} (last ${short(toHex(parent.id))})`);
    log(`  A = ${short(idA)} → bob   via ${entryA.name}`);
    log(`  B = ${short(idB)} → carol via ${entryB.name}   (the higher id, ${idA > idB ? 'A' : 'B'}, wins where both meet)`);
    const subs = await Promise.allSettled([entryA.client.submitBlock(signedBlockHex(blockA)), entryB.client.submitBlock(signedBlockHex(blockB))]);
    subs.forEach((s, i) => log(`  submit ${i === 0 ? 'A' : 'B'}: ${s.status === 'fulfilled' ? `202 ${s.value.status}` : (s.reason as Error).message}`));
    await Promise.all([
      entryA.client.waitForBlock(idA, { timeoutMs: commitTimeoutMs }).catch(() => null),
      entryB.client.waitForBlock(idB, { timeoutMs: commitTimeoutMs }).catch(() => null),
    ]);
    const terminal = (s: string): boolean => COMMITTED_STATUSES.has(s) || s === 'blocked' || s === 'invalid';
    const rowsRaw = await pollAll(
      peers,
      async (p) => ({ a: await statusOf(p, idA), b: await statusOf(p, idB), m: await mappingOf(p, dsHex) }),
      // Settled here: it committed one contender, or decided both.
      (r) => COMMITTED_STATUSES.has(r.a) || COMMITTED_STATUSES.has(r.b) || (terminal(r.a) && terminal(r.b)),
      settleMs,
      opts.signal,
    );
    const parentHex = toHex(parent.id);
    const label = (m: string | null): string => (m === null ? 'none' : m === idA ? 'A' : m === idB ? 'B' : m === parentHex ? 'parent' : short(m));
    const rows: DoubleSpendRow[] = rowsRaw.map((r, i) => ({ node: (peers[i] as Peer).name, a: r.a, b: r.b, mapping: label(r.m) }));
    const width = Math.max(6, ...rows.map((r) => r.node.length));
    log(`  ${'daemon'.padEnd(width)}  ${'A'.padEnd(10)}  ${'B'.padEnd(10)}  mapping`);
    for (const r of rows) log(`  ${r.node.padEnd(width)}  ${r.a.padEnd(10)}  ${r.b.padEnd(10)}  ${r.mapping}`);

    const committedA = rows.filter((r) => COMMITTED_STATUSES.has(r.a));
    const committedB = rows.filter((r) => COMMITTED_STATUSES.has(r.b));
    const both = rows.filter((r) => COMMITTED_STATUSES.has(r.a) && COMMITTED_STATUSES.has(r.b));
    check('no daemon committed both contenders', both.length === 0, both.length === 0 ? '' : both.map((r) => r.node).join(', '));
    check(
      'no two daemons committed different contenders',
      committedA.length === 0 || committedB.length === 0,
      `A committed at ${committedA.length}, B at ${committedB.length}`,
    );
    // A daemon that does not host the token has no mapping ('none'); one that does maps the winner.
    const mappingOk = rows.every((r) =>
      COMMITTED_STATUSES.has(r.a) ? r.mapping === 'A' || r.mapping === 'none' : COMMITTED_STATUSES.has(r.b) ? r.mapping === 'B' || r.mapping === 'none' : true,
    );
    check('each committing daemon maps the token to what it committed', mappingOk, '');
    const winner: 'A' | 'B' | null = committedA.length > 0 && committedB.length === 0 ? 'A' : committedB.length > 0 && committedA.length === 0 ? 'B' : null;
    check('the double spend resolved', winner !== null, winner === null ? 'no daemon committed a contender yet' : `${winner} committed at ${(winner === 'A' ? committedA : committedB).length}/${peers.length} daemons`, false);

    // 5. No mapping changes after a commit: read again after a while.
    await sleep(Math.min(2_000, settleMs));
    const again = await Promise.all(peers.map((p) => mappingOf(p, dsHex)));
    const changed = rows.filter((r, i) => (r.mapping === 'A' || r.mapping === 'B') && label(again[i] ?? null) !== r.mapping);
    check('no daemon changed its mapping after committing', changed.length === 0, changed.length === 0 ? '' : changed.map((r) => r.node).join(', '));
    result.doubleSpend = { token: dsHex, a: idA, b: idB, entryA: entryA.name, entryB: entryB.name, rows, winner };
  } catch (err) {
    check('demo ran without errors', false, err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err));
  }
  return finish(result);
}
