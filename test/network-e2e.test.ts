/**
 * An open network of real daemons: N `ecd node` processes on loopback (devnet, LMDB), each
 * knowing only one other (`bootstrapOne`), elect their neighbourhoods; one of them holds no
 * genesis set and answers with made-up proofs (`--unsafe-misbehave nostore`) and is never
 * elected; then a double spend through two entry daemons never commits both ways. The default
 * run has 16 daemons; the acceptance run of 64 is opt-in:
 *
 *   ECD_NETWORK_NODES=64 node --test dist/test/network-e2e.test.js
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
const COMMITTED = new Set(['committed', 'stored']);
/** n6 cannot prove storage. */
const NOSTORE = 5;

let net: Testnet | undefined;
let dir = '';

before(
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'ecd-network-e2e-'));
    net = await Testnet.create({ nodes: N, dir: join(dir, 'net'), profile: PROFILES.devnet, store: 'lmdb', logLevel: 'warn', bootstrapOne: true, nodeArgs: (i) => (i === NOSTORE ? ['--unsafe-misbehave', 'nostore'] : []) });
    await net.start(30_000 + 2_000 * N);
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
  process.stderr.write(`network-e2e: ${N} daemons, accuracy ${formed.accuracy.toFixed(3)} after ${(formed.ms / 1000).toFixed(1)} s\n`);
  // Nobody was given Connected peers: each holds far fewer than the network when it is large.
  const peers = await t.get(0, '/v1/status');
  const connected = (peers.body['peers'] as { connected: number }).connected;
  assert.ok(connected >= 8, `n1 holds ${connected} Connected`);
  if (N > 30) assert.ok(connected < N - 1, `n1 holds everyone (${connected})`);
  // The daemon without the data is Connected nowhere.
  const liar = t.nodes[NOSTORE]?.address as string;
  for (const [i] of t.nodes.entries()) {
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
  const rows = await Promise.all(t.nodes.map(async (_, i) => [await status(i, a), await status(i, b)] as const));
  const table = rows.map((r, i) => `n${i + 1}: ${r.join(' ')}`).join('\n');
  assert.ok(rows.every(([x, y]) => !(COMMITTED.has(x) && COMMITTED.has(y))), `both contenders at one daemon:\n${table}`);
  const aWon = rows.some(([x]) => COMMITTED.has(x));
  const bWon = rows.some(([, y]) => COMMITTED.has(y));
  assert.ok(!(aWon && bWon), `different contenders committed:\n${table}`);
  assert.ok(aWon || bWon, `neither contender committed anywhere:\n${table}`);
});
