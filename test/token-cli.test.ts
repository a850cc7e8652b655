/**
 * `ecd token …` and `ecd block …` as a user runs them (the built CLI in a child process) against
 * a stub control API in this process: exit 2 with one line for bad usage, exit 1 for failures,
 * nothing submitted when local input is bad, and the create → transfer → get → history → destroy
 * flow plus a hand-built double spend with `block submit`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { oneLineReason, runCli, type CliRun } from './helpers/cli.js';
import { startStub, type StubApi } from './helpers/token-stub.js';

let stub: StubApi;
let dir = '';
let api: string[] = [];

before(async () => {
  stub = await startStub({ commitDelayMs: 20 });
  dir = await mkdtemp(join(tmpdir(), 'ecd-token-cli-'));
  await writeFile(join(dir, 'api-token'), `${stub.token}\n`);
  await writeFile(join(dir, 'api-url'), `${stub.url}\n`);
  await writeFile(join(dir, 'wrong-token'), `${'0'.repeat(64)}\n`);
  api = ['--api', stub.url, '--api-token-file', 'api-token'];
  for (const who of ['alice', 'bob']) {
    const r = await runCli(['keygen', '--out', `${who}.json`], dir);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await stub.stop();
  await rm(dir, { recursive: true, force: true });
});

const cli = (args: readonly string[]): Promise<CliRun> => runCli(args, dir, 30_000);

function expectFail(r: CliRun, code: 1 | 2, re: RegExp): void {
  assert.equal(r.code, code, `exit ${r.code}, stderr ${r.stderr}`);
  assert.match(oneLineReason(r.stderr), re);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
}

const json = (r: CliRun): Record<string, unknown> => {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
};

describe('ecd token / block CLI', () => {
  test('--help on every token and block command', async () => {
    for (const args of [['token'], ['token', 'create'], ['token', 'transfer'], ['token', 'destroy'], ['token', 'get'], ['token', 'history'], ['block'], ['block', 'submit'], ['block', 'get']]) {
      const r = await cli([...args, '--help']);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: ecd/m);
    }
  });

  test('usage errors exit 2 with one line and submit nothing', async () => {
    const before = stub.requests.length;
    const tok = 'ab'.repeat(32);
    expectFail(await cli(['token', 'create', ...api]), 2, /--key FILE .* is required/);
    expectFail(await cli(['token', 'create', '--count', '0', '--key', 'alice.json', ...api]), 2, /--count.*1\.\.600/);
    expectFail(await cli(['token', 'create', '--bogus']), 2, /unknown option '--bogus'/);
    expectFail(await cli(['token', 'transfer', 'xyz', '--to', 'bob.json', '--key', 'alice.json', ...api]), 2, /TOKEN must be 32 bytes of hex/);
    expectFail(await cli(['token', 'transfer', tok, '--key', 'alice.json', ...api]), 2, /--to KEYFILE\|KEYHASH is required/);
    expectFail(await cli(['token', 'transfer', tok, '--to', 'nobody.json', '--key', 'alice.json', ...api]), 2, /cannot read --to key file nobody\.json: ENOENT/);
    expectFail(await cli(['token', 'transfer', '--to', 'bob.json']), 2, /missing required argument 'token'/);
    expectFail(await cli(['token', 'destroy', tok, '--key', 'missing.json', ...api]), 2, /cannot read key file missing\.json/);
    expectFail(await cli(['token', 'get', tok]), 2, /no daemon given/);
    expectFail(await cli(['token', 'get', tok, '--api', stub.url]), 2, /--api and --api-token-file go together/);
    expectFail(await cli(['token', 'create', '--key', 'alice.json', '--wait-timeout', 'soon', ...api]), 2, /--wait-timeout/);
    expectFail(await cli(['block', 'submit', 'missing.json', ...api]), 2, /cannot read block file missing\.json/);
    await writeFile(join(dir, 'bad-block.json'), '{"entries": []}');
    expectFail(await cli(['block', 'submit', 'bad-block.json', ...api]), 2, /"entries" must be an array of 1\.\.6/);
    // A key file whose public key is not its seed's.
    const a = JSON.parse(await readFile(join(dir, 'alice.json'), 'utf8')) as Record<string, string>;
    const b = JSON.parse(await readFile(join(dir, 'bob.json'), 'utf8')) as Record<string, string>;
    await writeFile(join(dir, 'mixed.json'), JSON.stringify({ ...a, public_key: b['public_key'] }));
    expectFail(await cli(['token', 'create', '--key', 'mixed.json', ...api]), 2, /does not belong/);
    assert.equal(stub.requests.length, before, 'no request reached the daemon');
  });

  test('failures exit 1: refused token, unreachable daemon, unknown token', async () => {
    expectFail(await cli(['token', 'create', '--key', 'alice.json', '--api', stub.url, '--api-token-file', 'wrong-token']), 1, /401 unauthorized: GET \/v1\/status: the API token was refused/);
    expectFail(await cli(['token', 'create', '--key', 'alice.json', '--api', 'http://127.0.0.1:9', '--api-token-file', 'api-token', '--timeout', '2000']), 1, /127\.0\.0\.1:9/);
    expectFail(await cli(['token', 'transfer', 'cd'.repeat(32), '--to', 'bob.json', '--key', 'alice.json', ...api]), 1, /not found/);
    expectFail(await cli(['token', 'get', 'cd'.repeat(32), ...api]), 1, /not found at this daemon/);
  });

  test('create 7 → 2 blocks; transfer; refuse a non-owner; history; destroy; no update after destroy', async () => {
    const created = json(await cli(['token', 'create', '--count', '7', '--key', 'alice.json', '--wait', '--json', ...api]));
    const blocks = created['blocks'] as { id: string; outcome: string; tokens: string[] }[];
    assert.equal(blocks.length, 2);
    assert.deepEqual(blocks.map((b) => b.tokens.length), [6, 1]);
    assert.ok(blocks.every((b) => b.outcome === 'committed'));
    const token = (created['tokens'] as string[])[0] as string;

    // `--node DIR` and ECD_NODE resolve the same daemon.
    const got = json(await cli(['token', 'get', token, '--node', dir, '--json']));
    assert.equal(got['block'], blocks[0]?.id);

    const t1 = json(await cli(['token', 'transfer', token, '--to', 'bob.json', '--key', 'alice.json', '--wait', '--json', ...api]));
    assert.equal(t1['outcome'], 'committed');
    assert.equal(t1['parent'], blocks[0]?.id);

    const before = stub.blocks.size;
    expectFail(await cli(['token', 'transfer', token, '--to', 'bob.json', '--key', 'alice.json', '--wait', ...api]), 1, /is not owned by this key/);
    assert.equal(stub.blocks.size, before, 'nothing submitted');

    const bobHash = (t1['next_key_hash'] as string).toUpperCase();
    const t2 = await cli(['token', 'transfer', token, '--to', bobHash, '--key', 'bob.json', '--wait', ...api]);
    assert.equal(t2.code, 0, t2.stderr);
    assert.match(t2.stdout, /^block [0-9a-f]{64} committed \(status committed, seq \d+, \d+ ms\)$/m);

    const h = json(await cli(['token', 'history', token, '--json', ...api]));
    const hist = h['history'] as { block: string }[];
    assert.equal(hist.length, 3);
    assert.equal(hist[2]?.block, blocks[0]?.id);
    assert.equal(hist[1]?.block, t1['id']);

    const d = json(await cli(['token', 'destroy', token, '--key', 'bob.json', '--wait', '--json', ...api]));
    assert.equal(d['outcome'], 'committed');
    assert.equal(d['next_key_hash'], '0'.repeat(64));
    expectFail(await cli(['token', 'transfer', token, '--to', 'alice.json', '--key', 'bob.json', ...api]), 1, /is final/);

    const human = await cli(['token', 'get', token, ...api]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`^block\\s+${d['id'] as string}$`, 'm'));
  });

  test('block submit: a hand-built double spend — both accepted, one commits, the other is blocked (exit 1)', async () => {
    const created = json(await cli(['token', 'create', '--key', 'alice.json', '--wait', '--json', ...api]));
    const token = (created['tokens'] as string[])[0] as string;
    const last = (created['blocks'] as { id: string }[])[0]?.id as string;
    const bobPk = (JSON.parse(await readFile(join(dir, 'bob.json'), 'utf8')) as { public_key: string }).public_key;
    const alicePk = (JSON.parse(await readFile(join(dir, 'alice.json'), 'utf8')) as { public_key: string }).public_key;
    await writeFile(join(dir, 'to-bob.json'), JSON.stringify({ entries: [{ token, last, next_public_key: bobPk }] }));
    await writeFile(join(dir, 'to-alice.json'), JSON.stringify({ entries: [{ token, last, next_public_key: alicePk }] }));
    // Without --key the unsigned update cannot be completed.
    expectFail(await cli(['block', 'submit', 'to-bob.json', ...api]), 2, /give --key FILE/);
    // Dry run: the hex form, then submitted as a file.
    const dry = json(await cli(['block', 'submit', 'to-bob.json', '--key', 'alice.json', '--dry-run', '--json', ...api]));
    assert.match(dry['block'] as string, /^[0-9a-f]+$/);
    assert.ok(!stub.blocks.has(dry['id'] as string));
    await writeFile(join(dir, 'to-bob.hex'), `${dry['block'] as string}\n`);
    const [a, b] = await Promise.all([
      cli(['block', 'submit', 'to-bob.hex', '--wait', '--json', ...api]),
      cli(['block', 'submit', 'to-alice.json', '--key', 'alice.json', '--wait', '--json', ...api]),
    ]);
    const outcomes = [a, b].map((r) => (JSON.parse(r.stdout) as { outcome: string }).outcome).sort();
    assert.deepEqual(outcomes, ['blocked', 'committed']);
    const loser = [a, b].find((r) => r.code !== 0) as CliRun;
    expectFail(loser, 1, /: blocked$/);
    assert.equal([a, b].filter((r) => r.code === 0).length, 1);
    // A deliberately bad signature reaches the daemon and comes back as its 400 reason.
    const sigJson = { entries: [{ token, last, next_key_hash: '0' }], signatures: [{ index: 0, public_key: alicePk, signature: '00'.repeat(64) }] };
    await writeFile(join(dir, 'bad-sig.json'), JSON.stringify(sigJson));
    expectFail(await cli(['block', 'submit', 'bad-sig.json', ...api]), 1, /400 invalid-block: POST \/v1\/blocks: invalid block: (bad-signature|not-after-parent)/);
    // block get reports the winner's status.
    const winner = [a, b].find((r) => r.code === 0) as CliRun;
    const id = (JSON.parse(winner.stdout) as { id: string }).id;
    const g = await cli(['block', 'get', id, '--wait', ...api]);
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stdout, new RegExp(`^block ${id} committed seq \\d+$`, 'm'));
  });

  test('--wait gives up after --wait-timeout with exit 1 and the outcome printed', async () => {
    const slow = await startStub({ commitDelayMs: null, token: stub.token });
    try {
      const r = await cli(['token', 'create', '--key', 'alice.json', '--wait', '--wait-timeout', '300', '--api', slow.url, '--api-token-file', 'api-token']);
      expectFail(r, 1, /block [0-9a-f]{64}: timeout/);
      assert.match(r.stdout, /^block [0-9a-f]{64} timeout \(status pending, \d+ ms\)$/m);
    } finally {
      await slow.stop();
    }
  });
});
