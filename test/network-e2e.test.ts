/**
 * An open network of real daemons: N `ecd node` processes on loopback (devnet, LMDB), each
 * knowing only one other (`bootstrapOne`), elect their neighbourhoods; one of them holds no
 * genesis set and answers with made-up proofs (`--unsafe-misbehave nostore`) and is never
 * elected; a double spend through two entry daemons never commits both ways; a daemon stopped
 * while transfers commit catches up by sync after its restart; a daemon that joins later hosts
 * its range. The default run has 16 daemons, 100 transfers and 10 s down; the acceptance run
 * is opt-in:
 *
 *   ECD_NETWORK_NODES=64 ECD_SYNC_TRANSFERS=500 ECD_SYNC_DOWN_S=60 node --test dist/test/network-e2e.test.js
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PROFILES } from '../wire/profiles.js';
import { Testnet } from '../tools/testnet.js';
import { BlockFactory, type Built } from './helpers/daemon-blocks.js';
import { stopTestnet } from './helpers/testnet.js';

const N = Number(process.env['ECD_NETWORK_NODES'] ?? 16);
const TRANSFERS = Number(process.env['ECD_SYNC_TRANSFERS'] ?? 100);
const DOWN_MS = 1000 * Number(process.env['ECD_SYNC_DOWN_S'] ?? 10);
const COMMITTED = new Set(['committed', 'stored']);
/** n6 cannot prove storage. */
const NOSTORE = 5;
/** n4 is stopped while transfers commit. */
const VICTIM = 3;
/** Node N + 1 joins after the others have formed. */
const JOINER = N;
/** token hex → id of the block that maps it now, once the transfers committed. */
const latest = new Map<string, string>();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let net: Testnet | undefined;
let dir = '';

before(
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'ecd-network-e2e-'));
    net = await Testnet.create({ nodes: N + 1, dir: join(dir, 'net'), profile: PROFILES.devnet, store: 'lmdb', logLevel: 'warn', bootstrapOne: true, nodeArgs: (i) => (i === NOSTORE ? ['--unsafe-misbehave', 'nostore'] : []) });
    await net.start(30_000 + 2_000 * N, N);
  },
  { timeout: 120_000 + 3_000 * N },
);

after(
  () => stopTestnet(net, dir),
  { timeout: 60_000 },
);

test(`${N} daemons that each know one other reach neighbourhood accuracy ≥ 0.9 within 60 s`, { timeout: 90_000 }, async () => {
  const t = net as Testnet;
  const formed = await t.waitAccuracy(0.9, 60_000, new Set([NOSTORE]));
  // Idle cost, measured (never asserted): CPU over 5 s with no load, per daemon.
  const cpu0 = await t.cpuSeconds();
  await sleep(5_000);
  const idleMs = ((await t.cpuSeconds()) - cpu0) * 1000 / 5 / N;
  process.stderr.write(`network-e2e: ${N} daemons, accuracy ${formed.accuracy.toFixed(3)} after ${(formed.ms / 1000).toFixed(1)} s; then idle ${idleMs.toFixed(1)} ms of CPU per second per daemon\n`);
  // Nobody was given Connected peers: each holds far fewer than the network when it is large.
  const peers = await t.get(0, '/v1/status');
  const connected = (peers.body['peers'] as { connected: number }).connected;
  assert.ok(connected >= 8, `n1 holds ${connected} Connected`);
  if (N > 30) assert.ok(connected < N - 1, `n1 holds everyone (${connected})`);
  // The daemon without the data is Connected nowhere.
  const liar = t.nodes[NOSTORE]?.address as string;
  for (let i = 0; i < N; i++) {
    if (i === NOSTORE) continue;
    const list = (await t.get(i, '/v1/peers')).body['peers'] as { address: string; state: string }[];
    assert.ok(!list.some((p) => p.address === liar && p.state === 'connected'), `n${i + 1} holds the nostore daemon Connected`);
  }
});

test('a double spend through two entry daemons never commits both ways', { timeout: 90_000 }, async () => {
  const t = net as Testnet;
  const f = await BlockFactory.create(PROFILES.devnet.networkId);
  const alice = f.owner();
  const created = f.create(alice);
  const token = created.tokens[0] as Uint8Array;
  const status = async (i: number, b: Built, waitMs = 0): Promise<string> => (await t.get(i, `/v1/blocks/${b.id}?waitMs=${waitMs}`)).body['status'] as string;
  // The token's creation commits somewhere; its entry learns it.
  assert.equal((await t.post(0, '/v1/blocks', { block: created.hex })).status, 202);
  assert.ok(COMMITTED.has(await status(0, created, 20_000)), 'the creation did not commit at its entry');
  const a = f.transfer([{ token, parent: created.id }], alice, f.owner());
  const b = f.transfer([{ token, parent: created.id }], alice, f.owner());
  const second = Math.floor(N / 2) === NOSTORE ? Math.floor(N / 2) + 1 : Math.floor(N / 2);
  const [ra, rb] = await Promise.all([t.post(0, '/v1/blocks', { block: a.hex }), t.post(second, '/v1/blocks', { block: b.hex })]);
  assert.equal(ra.status, 202);
  assert.equal(rb.status, 202);
  await Promise.all([status(0, a, 15_000), status(second, b, 15_000)]);
  await new Promise((r) => setTimeout(r, 2_000));
  const rows = await Promise.all([...Array(N).keys()].map(async (i) => [await status(i, a), await status(i, b)] as const));
  const table = rows.map((r, i) => `n${i + 1}: ${r.join(' ')}`).join('\n');
  assert.ok(rows.every(([x, y]) => !(COMMITTED.has(x) && COMMITTED.has(y))), `both contenders at one daemon:\n${table}`);
  const aWon = rows.some(([x]) => COMMITTED.has(x));
  const bWon = rows.some(([, y]) => COMMITTED.has(y));
  assert.ok(!(aWon && bWon), `different contenders committed:\n${table}`);
  if (aWon || bWon) return;
  // Hosts whose locks split between the contenders stall the family (PROTOCOL §5.4.5): both expire,
  // the locks fall with them, and the owner submits again. That block commits.
  assert.ok(rows.every(([x, y]) => !['pending', 'awaiting-parents'].includes(x) && !['pending', 'awaiting-parents'].includes(y)), `a contender is still being decided:\n${table}`);
  assert.equal((await t.post(0, '/v1/blocks', { block: a.hex })).status, 202);
  const again = await status(0, a, 20_000);
  assert.ok(COMMITTED.has(again), `neither contender committed, and a resubmitted one ended ${again}:\n${table}`);
  process.stderr.write('network-e2e: the double spend stalled (the hosts\' locks split); the contender submitted again committed\n');
});

/** Runs `fn` over `items`, at most `width` at a time. */
async function pool<T, R>(items: readonly T[], width: number, fn: (x: T, k: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const k = next++;
        out[k] = await fn(items[k] as T, k);
      }
    }),
  );
  return out;
}

/**
 * Submits each block to an entry (round robin) and waits until it commits there. A block that
 * ends undecided is submitted once more through the next entry, as a client would; resolves with
 * how many needed that.
 */
async function commitAll(t: Testnet, blocks: readonly Built[], entries: readonly number[]): Promise<number> {
  const attempt = (offset: number) => async (b: Built, k: number): Promise<string> => {
    const entry = entries[(k + offset) % entries.length] as number;
    const r = await t.post(entry, '/v1/blocks', { block: b.hex });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return (await t.get(entry, `/v1/blocks/${b.id}?waitMs=30000`)).body['status'] as string;
  };
  const first = await pool(blocks, 16, attempt(0));
  const again = blocks.filter((_, k) => !COMMITTED.has(first[k] as string));
  const second = await pool(again, 16, attempt(1));
  const bad = second.filter((s) => !COMMITTED.has(s));
  assert.equal(bad.length, 0, `${bad.length} of ${blocks.length} blocks did not commit at their entry, twice (${[...new Set(bad)].join(', ')})`);
  return again.length;
}

/**
 * Waits until daemon i has formed its neighbourhood and maps every token of `want` that it hosts
 * to the block `want` names; resolves with how long that took and how many tokens it hosts.
 */
async function waitServed(t: Testnet, i: number, want: ReadonlyMap<string, string>, deadline: number): Promise<{ hosted: number; ms: number }> {
  const started = Date.now();
  let last = '';
  for (;;) {
    const formed = ((await t.get(i, '/v1/status')).body['neighbourhood'] as { formed: boolean }).formed;
    const rows = await pool([...want], 32, async ([token, block]) => {
      const r = await t.get(i, `/v1/tokens/${token}`);
      return { token, block, hosted: r.body['hosted'] === true, right: r.status === 200 && r.body['block'] === block, has: r.body };
    });
    const hosted = rows.filter((r) => r.hosted).length;
    const wrong = rows.filter((r) => r.hosted && !r.right);
    if (formed && hosted > 0 && wrong.length === 0) return { hosted, ms: Date.now() - started };
    const w = wrong[0];
    const example = w === undefined ? '' : `; e.g. token ${w.token.slice(0, 12)}: has ${JSON.stringify(w.has)}, latest ${w.block.slice(0, 12)} is ${String((await t.get(i, `/v1/blocks/${w.block}`)).body['status'])} here`;
    last = `formed ${String(formed)}, hosts ${hosted} of ${want.size}, ${wrong.length} of them without the latest mapping${example}`;
    if (Date.now() > deadline) throw new Error(`n${i + 1}: ${last}${w === undefined ? '' : await elsewhere(t, i, w.token, w.block)}`);
    await sleep(200);
  }
}

/** For a failure message: daemon i's sync status and which other daemons host the token, and with what. */
async function elsewhere(t: Testnet, i: number, token: string, block: string): Promise<string> {
  const sync = JSON.stringify((await t.get(i, '/v1/status')).body['sync']);
  const rows = await Promise.all(
    t.nodes.map(async (_, j) => {
      if (j === i || t.nodes[j]?.child === null) return '';
      const r = await t.get(j, `/v1/tokens/${token}`);
      if (r.body['hosted'] !== true) return '';
      return `n${j + 1} ${r.body['block'] === block ? 'latest' : String(r.body['block'] ?? r.status).slice(0, 12)}`;
    }),
  );
  return `; sync ${sync}; hosts elsewhere: ${rows.filter((x) => x !== '').join(', ')}`;
}

test(`a daemon stopped for ${DOWN_MS / 1000} s while ${TRANSFERS} transfers commit serves every hosted token's latest mapping within 10 s of its restart`, { timeout: 240_000 + DOWN_MS + 100 * TRANSFERS }, async () => {
  const t = net as Testnet;
  const f = await BlockFactory.create(PROFILES.devnet.networkId);
  const alice = f.owner();
  const bob = f.owner();
  const entries = [...Array(N).keys()].filter((i) => i !== VICTIM && i !== NOSTORE);
  const created = Array.from({ length: TRANSFERS }, () => f.create(alice));
  const retried = await commitAll(t, created, entries);
  const downAt = Date.now();
  assert.equal(await t.stopNode(VICTIM), 0);
  const moves = created.map((c) => f.transfer([{ token: c.tokens[0] as Uint8Array, parent: c.id }], alice, bob));
  const retriedMoves = await commitAll(t, moves, entries);
  const transferMs = Date.now() - downAt;
  created.forEach((c, k) => latest.set(Buffer.from(c.tokens[0] as Uint8Array).toString('hex'), (moves[k] as Built).id));
  await sleep(DOWN_MS - (Date.now() - downAt));
  const restartAt = Date.now();
  await t.restartNode(VICTIM);
  const r = await waitServed(t, VICTIM, latest, restartAt + 10_000);
  const sync = (await t.get(VICTIM, '/v1/status')).body['sync'];
  process.stderr.write(`network-e2e: ${TRANSFERS} transfers committed in ${(transferMs / 1000).toFixed(1)} s while n${VICTIM + 1} was down ${((restartAt - downAt) / 1000).toFixed(1)} s; it serves the latest mapping of all ${r.hosted} tokens it hosts ${((Date.now() - restartAt) / 1000).toFixed(1)} s after its restart (sync ${JSON.stringify(sync)}); blocks submitted twice: ${retried} creations, ${retriedMoves} transfers\n`);
});

test('a daemon joining the running network hosts its range within 30 s', { timeout: 90_000 }, async () => {
  const t = net as Testnet;
  assert.ok(latest.size > 0, 'the transfers above committed');
  const startAt = Date.now();
  await t.startNode(JOINER);
  const r = await waitServed(t, JOINER, latest, startAt + 30_000);
  const sync = (await t.get(JOINER, '/v1/status')).body['sync'];
  process.stderr.write(`network-e2e: joiner n${JOINER + 1} hosts ${r.hosted} of the ${latest.size} tokens with their latest mappings ${((Date.now() - startAt) / 1000).toFixed(1)} s after it started (sync ${JSON.stringify(sync)})\n`);
});
