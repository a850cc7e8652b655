/**
 * End to end with real daemons: 4 `ecd node` processes on loopback (tools/testnet.ts, devnet,
 * LMDB) driven by the `ecd token` commands through `--node DIR`: create, get at every daemon,
 * transfer through another entry daemon, get, history, and a `block submit` double spend through
 * two daemons that never commits both ways.
 *
 * Four, not three: under the +2 rule (PROTOCOL §5.3) a block needs net support above 2 from
 * peers other than the deciding one, so three daemons can never commit anything.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PROFILES } from '../wire/profiles.js';
import { Testnet } from '../tools/testnet.js';
import { runCli, type CliRun } from './helpers/cli.js';
import { stopTestnet } from './helpers/testnet.js';

const N = 4;
const COMMITTED = new Set(['committed', 'stored']);

let net: Testnet | undefined;
let dir = '';

before(
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'ecd-token-e2e-'));
    net = await Testnet.create({ nodes: N, dir: join(dir, 'net'), profile: PROFILES.devnet, store: 'lmdb', logLevel: 'warn' });
    await net.start(60_000);
    await net.waitConnected(30_000);
    for (const who of ['alice', 'bob']) assert.equal((await runCli(['keygen', '--out', `${who}.json`], dir)).code, 0);
  },
  { timeout: 150_000 },
);

after(
  () => stopTestnet(net, dir),
  { timeout: 60_000 },
);

const nodeDir = (i: number): string => (net as Testnet).nodes[i]?.dir as string;
const cli = (args: readonly string[]): Promise<CliRun> => runCli(args, dir, 60_000);
function json(r: CliRun): Record<string, unknown> {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** `ecd token get` at daemon i until it maps the token to `block` (bounded). */
async function waitMapping(i: number, token: string, block: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  let last: CliRun | undefined;
  while (Date.now() < deadline) {
    last = await cli(['token', 'get', token, '--node', nodeDir(i), '--json']);
    if (last.code === 0 && (JSON.parse(last.stdout) as { block: string }).block === block) return JSON.parse(last.stdout) as Record<string, unknown>;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`n${i + 1} does not map ${token} to ${block}: ${last?.stdout ?? ''} ${last?.stderr ?? ''}`);
}

describe('ecd token against real daemons', () => {
  let token = '';
  let createId = '';
  let transferId = '';

  test('create --wait commits at the entry daemon; every daemon maps the token', { timeout: 60_000 }, async () => {
    const r = json(await cli(['token', 'create', '--count', '2', '--key', 'alice.json', '--wait', '--json', '--node', nodeDir(0)]));
    const blocks = r['blocks'] as { id: string; outcome: string }[];
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0]?.outcome, 'committed');
    createId = blocks[0]?.id as string;
    token = (r['tokens'] as string[])[0] as string;
    for (let i = 0; i < N; i++) await waitMapping(i, token, createId);
  });

  test('transfer through another daemon; get and history agree', { timeout: 60_000 }, async () => {
    assert.ok(token !== '');
    const t = json(await cli(['token', 'transfer', token, '--to', 'bob.json', '--key', 'alice.json', '--wait', '--json', '--node', nodeDir(1)]));
    assert.equal(t['outcome'], 'committed');
    assert.equal(t['parent'], createId);
    transferId = t['id'] as string;
    for (let i = 0; i < N; i++) await waitMapping(i, token, transferId);
    const h = json(await cli(['token', 'history', token, '--json', '--node', nodeDir(2)]));
    assert.deepEqual((h['history'] as { block: string }[]).map((x) => x.block).slice(0, 2), [transferId, createId]);
    const net3 = json(await cli(['token', 'get', token, '--network', '--json', '--node', nodeDir(2)]));
    assert.ok((net3['answers'] as { block: string }[]).some((a) => a.block === transferId), JSON.stringify(net3));
    // alice no longer owns it: refused locally, nothing submitted.
    const again = await cli(['token', 'transfer', token, '--to', 'bob.json', '--key', 'alice.json', '--node', nodeDir(3)]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not owned by this key/);
  });

  test('block submit: a double spend through two daemons never commits both ways', { timeout: 90_000 }, async () => {
    assert.ok(token !== '');
    const alicePk = (JSON.parse(await readFile(join(dir, 'alice.json'), 'utf8')) as { public_key: string }).public_key;
    const bobPk = (JSON.parse(await readFile(join(dir, 'bob.json'), 'utf8')) as { public_key: string }).public_key;
    await writeFile(join(dir, 'ds-a.json'), JSON.stringify({ entries: [{ token, last: transferId, next_public_key: alicePk }] }));
    await writeFile(join(dir, 'ds-b.json'), JSON.stringify({ entries: [{ token, last: transferId, next_public_key: '00'.repeat(31) + '01' }] }));
    const [a, b] = await Promise.all([
      cli(['block', 'submit', 'ds-a.json', '--key', 'bob.json', '--wait', '--wait-timeout', '15000', '--json', '--node', nodeDir(0)]),
      cli(['block', 'submit', 'ds-b.json', '--key', 'bob.json', '--wait', '--wait-timeout', '15000', '--json', '--node', nodeDir(2)]),
    ]);
    const ids = [a, b].map((r) => (JSON.parse(r.stdout) as { id: string }).id);
    assert.equal(bobPk.length, 64);
    await new Promise((r) => setTimeout(r, 2_000));
    const statuses: string[][] = [];
    for (let i = 0; i < N; i++) {
      const row: string[] = [];
      for (const id of ids) {
        const g = await cli(['block', 'get', id as string, '--json', '--node', nodeDir(i)]);
        row.push(g.code === 0 ? (JSON.parse(g.stdout) as { status: string }).status : 'unknown');
      }
      statuses.push(row);
    }
    const table = statuses.map((r, i) => `n${i + 1}: ${r.join(' ')}`).join('\n');
    assert.ok(statuses.every((r) => !(COMMITTED.has(r[0] as string) && COMMITTED.has(r[1] as string))), `both at one daemon:\n${table}`);
    const committedA = statuses.some((r) => COMMITTED.has(r[0] as string));
    const committedB = statuses.some((r) => COMMITTED.has(r[1] as string));
    assert.ok(!(committedA && committedB), `different contenders committed:\n${table}`);
  });
});
