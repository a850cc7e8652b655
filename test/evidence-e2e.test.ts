/**
 * Minefield end to end with real daemons: a testnet of 8 (devnet, LMDB) in which n6, n7 and n8
 * sign false statements (`--unsafe-misbehave fork|rollback|double-map:0.5`). A token owner's
 * routine `ecd evidence collect` through n1 produces a proof against each; `ecd evidence verify`
 * accepts each exported proof offline and refuses it with any byte changed; every honest daemon
 * bans every liar within 10 s of the first proof; no honest daemon is ever banned anywhere.
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

const N = 8;
const LIARS: Readonly<Record<number, { flag: string; predicate: string }>> = {
  5: { flag: 'fork:0.5', predicate: 'fork' },
  6: { flag: 'rollback:0.5', predicate: 'rollback' },
  7: { flag: 'double-map:0.5', predicate: 'double-mapping' },
};
const HONEST = [0, 1, 2, 3, 4];

let net: Testnet | undefined;
let dir = '';

before(
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'ecd-evidence-e2e-'));
    net = await Testnet.create({
      nodes: N,
      dir: join(dir, 'net'),
      profile: PROFILES.devnet,
      store: 'lmdb',
      logLevel: 'warn',
      nodeArgs: (i) => (LIARS[i] === undefined ? [] : ['--unsafe-misbehave', LIARS[i].flag]),
    });
    await net.start(60_000);
    await net.waitConnected(30_000);
    for (const who of ['alice', 'bob']) assert.equal((await runCli(['keygen', '--out', `${who}.json`], dir)).code, 0);
  },
  { timeout: 180_000 },
);

after(
  () => stopTestnet(net, dir),
  { timeout: 60_000 },
);

const node = (i: number): (typeof net & object)['nodes'][number] => (net as Testnet).nodes[i] as (typeof net & object)['nodes'][number];
const cli = (args: readonly string[]): Promise<CliRun> => runCli(args, dir, 90_000);
function json<T = Record<string, unknown>>(r: CliRun): T {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface Ban {
  publicKey: string;
  since: number;
  predicate: string;
}

async function bansAt(i: number): Promise<Ban[]> {
  const n = node(i);
  const res = await fetch(`${n.apiUrl}/v1/bans`, { headers: { authorization: `Bearer ${(await readFile(n.tokenFile, 'utf8')).trim()}` } });
  assert.equal(res.status, 200);
  return ((await res.json()) as { bans: Ban[] }).bans;
}

describe('Minefield against real liars', () => {
  let token = '';
  let firstProofAt = 0;
  const proofs = new Map<string, string>(); // culprit → proof id

  test('a token that moved once: created by alice, transferred to bob', { timeout: 90_000 }, async () => {
    const c = json<{ tokens: string[]; blocks: { outcome: string }[] }>(await cli(['token', 'create', '--key', 'alice.json', '--wait', '--json', '--node', node(0).dir]));
    assert.equal(c.blocks[0]?.outcome, 'committed');
    token = c.tokens[0] as string;
    const t = json<{ outcome: string }>(await cli(['token', 'transfer', token, '--key', 'alice.json', '--to', 'bob.json', '--wait', '--json', '--node', node(0).dir]));
    assert.equal(t.outcome, 'committed');
    // The liars must hold the transfer too (a rollback liar bends the latest move).
    for (const i of [5, 6, 7]) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const h = await cli(['token', 'history', token, '--json', '--node', node(i).dir]);
        if (h.code === 0 && (JSON.parse(h.stdout) as { history: unknown[] }).history.length === 2) break;
        assert.ok(Date.now() < deadline, `n${i + 1} never learned the transfer`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });

  test('routine collection through n1 convicts each liar of its own predicate', { timeout: 120_000 }, async () => {
    const r = json<{ fraud: { culprit: string; predicate: string; proof: string }[]; kept: { bytes: number; maxBytesPerResponder: number } }>(
      await cli(['evidence', 'collect', token, '--rounds', '24', '--interval', '50', '--network-timeout', '400', '--json', '--node', node(0).dir]),
    );
    for (const [i, liar] of Object.entries(LIARS)) {
      const culprit = node(Number(i)).publicKey;
      const found = r.fraud.find((f) => f.culprit === culprit);
      assert.ok(found !== undefined, `no proof against n${Number(i) + 1} (${liar.flag}): ${JSON.stringify(r.fraud)}`);
      assert.equal(found.predicate, liar.predicate);
      proofs.set(culprit, found.proof);
    }
    const honestKeys = new Set(HONEST.map((i) => node(i).publicKey));
    assert.ok(r.fraud.every((f) => !honestKeys.has(f.culprit)), 'an honest daemon was convicted');
    assert.ok(r.kept.maxBytesPerResponder <= 2048, `evidence for one token from one responder is ${r.kept.maxBytesPerResponder} bytes`);
    const bans = await bansAt(0);
    firstProofAt = Math.min(...bans.map((b) => b.since));
  });

  test('each exported proof verifies offline; any changed byte is refused', { timeout: 60_000 }, async () => {
    for (const [culprit, id] of proofs) {
      const file = join(dir, `proof-${culprit.slice(0, 8)}.bin`);
      json(await cli(['evidence', 'export', file, '--proof', id, '--json', '--node', node(0).dir]));
      const v = json<{ valid: boolean; fraud: { culprit: string }[]; identities: number }>(await cli(['evidence', 'verify', file, '--json']));
      assert.equal(v.valid, true);
      assert.equal(v.fraud[0]?.culprit, culprit);
      assert.equal(v.identities, 1, 'the proof carries the culprit identity record');
      // Handed to another daemon it is accepted (held already, or banned now); a changed byte is refused.
      const sub = json<{ culprit: string; banned: boolean }>(await cli(['evidence', 'submit', file, '--json', '--node', node(2).dir]));
      assert.equal(sub.culprit, culprit);
      const bytes = await readFile(file);
      const tampered = Buffer.from(bytes);
      tampered[bytes.length - 1] = (tampered[bytes.length - 1] as number) ^ 0x01;
      await writeFile(`${file}.tampered`, tampered);
      const refused = await cli(['evidence', 'submit', `${file}.tampered`, '--node', node(2).dir]);
      assert.equal(refused.code, 1, refused.stdout);
      assert.match(refused.stderr, /not a valid fraud proof/);
      for (const at of [20, bytes.length - 70, bytes.length - 1]) {
        const bad = Buffer.from(bytes);
        bad[at] = (bad[at] as number) ^ 0x01;
        const badFile = `${file}.bad`;
        await writeFile(badFile, bad);
        const r = await cli(['evidence', 'verify', badFile]);
        assert.equal(r.code, 1, `a proof with byte ${at} changed was accepted: ${r.stdout}`);
        assert.match(r.stderr, /ecd: /);
      }
    }
  });

  test('every honest daemon bans every liar within 10 s of the first proof; nobody bans an honest daemon', { timeout: 60_000 }, async (t) => {
    let slowest = 0;
    const liars = Object.keys(LIARS).map((i) => node(Number(i)).publicKey);
    const honestKeys = new Set(HONEST.map((i) => node(i).publicKey));
    for (const i of HONEST) {
      const deadline = firstProofAt + 10_000;
      let bans: Ban[] = [];
      for (;;) {
        bans = await bansAt(i);
        if (liars.every((k) => bans.some((b) => b.publicKey === k))) break;
        assert.ok(Date.now() < deadline + 2_000, `n${i + 1} bans only ${bans.length} of 3 liars`);
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const k of liars) {
        const b = bans.find((x) => x.publicKey === k) as Ban;
        assert.ok(b.since - firstProofAt <= 10_000, `n${i + 1} banned ${k.slice(0, 8)} ${b.since - firstProofAt} ms after the first proof`);
        slowest = Math.max(slowest, b.since - firstProofAt);
      }
    }
    t.diagnostic(`slowest ban after the first proof: ${slowest} ms`);
    for (let i = 0; i < N; i++) for (const b of await bansAt(i)) assert.ok(!honestKeys.has(b.publicKey), `n${i + 1} banned honest ${b.publicKey.slice(0, 8)}`);
  });

  test('the owner bundle verifies offline and shows the fraud; a banned liar is no longer Connected', { timeout: 60_000 }, async () => {
    const file = join(dir, 'bundle.bin');
    json(await cli(['evidence', 'export', file, '--token', token, '--json', '--node', node(0).dir]));
    const v = json<{ valid: boolean; kind: string; statements: number; fraud: { culprit: string }[] }>(await cli(['evidence', 'verify', file, '--json']));
    assert.equal(v.kind, 'bundle');
    assert.ok(v.statements > 0);
    const list = json<{ bans: Ban[]; proofs: unknown[] }>(await cli(['evidence', 'list', '--json', '--node', node(1).dir]));
    assert.equal(list.bans.length, 3);
    const res = await fetch(`${node(1).apiUrl}/v1/status`, { headers: { authorization: `Bearer ${(await readFile(node(1).tokenFile, 'utf8')).trim()}` } });
    const s = (await res.json()) as { peers: { connected: number } };
    assert.equal(s.peers.connected, N - 1 - 3, 'n2 still counts a liar as Connected');
    const metrics = await (await fetch(`${node(1).apiUrl}/metrics`, { headers: { authorization: `Bearer ${(await readFile(node(1).tokenFile, 'utf8')).trim()}` } })).text();
    assert.match(metrics, /^ecd_peers_banned 3$/m);
  });
});
