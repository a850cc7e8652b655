/**
 * tools/demo.ts against stub daemons that share one ledger (test/helpers/token-stub.ts): the
 * walkthrough passes on an honest network, and its safety checks catch a faulty one that
 * commits both sides of a double spend.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runDemo, type DemoNode } from '../tools/demo.js';
import { StubLedger, startStub, type StubApi } from './helpers/token-stub.js';

let dir = '';
const stubs: StubApi[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ecd-token-demo-'));
});
after(async () => {
  await Promise.all(stubs.map((s) => s.stop()));
  await rm(dir, { recursive: true, force: true });
});

async function network(n: number, opts: { ignoreConflicts?: boolean } = {}): Promise<DemoNode[]> {
  const ledger = new StubLedger();
  const nodes: DemoNode[] = [];
  for (let i = 0; i < n; i++) {
    const s = await startStub({ ledger, connected: n - 1, commitDelayMs: 15 + 10 * i, ...opts });
    stubs.push(s);
    const tokenFile = join(dir, `token-${stubs.length}`);
    await writeFile(tokenFile, `${s.token}\n`);
    nodes.push({ name: `n${i + 1}`, apiUrl: s.url, apiTokenFile: tokenFile });
  }
  return nodes;
}

const quick = { commitTimeoutMs: 5_000, settleMs: 500, readyTimeoutMs: 2_000 };

describe('demo walkthrough', () => {
  test('an honest network: every check passes, one contender wins everywhere', async () => {
    const lines: string[] = [];
    const r = await runDemo(await network(4), (l) => lines.push(l), quick);
    assert.ok(r.ok, lines.join('\n'));
    assert.equal(r.tokens.length, 3);
    assert.equal(r.transfers.length, 3);
    assert.ok(r.doubleSpend !== null);
    assert.ok(r.doubleSpend.winner === 'A' || r.doubleSpend.winner === 'B');
    assert.notEqual(r.doubleSpend.entryA, r.doubleSpend.entryB);
    assert.ok(r.doubleSpend.rows.every((row) => row.mapping === r.doubleSpend?.winner));
    assert.ok(lines.some((l) => /^demo: all \d+ checks passed$/.test(l)));
    assert.ok(lines.some((l) => /^ {2}daemon\s+A\s+B\s+mapping$/.test(l)), 'prints the table');
  });

  test('a faulty network that commits both contenders fails the safety check', async () => {
    const lines: string[] = [];
    const r = await runDemo(await network(3, { ignoreConflicts: true }), (l) => lines.push(l), quick);
    assert.equal(r.ok, false);
    const failed = r.checks.filter((c) => !c.ok && c.required).map((c) => c.name);
    assert.ok(failed.includes('no daemon committed both contenders'), failed.join('; '));
    assert.ok(lines.some((l) => l.startsWith('demo: FAILED')));
  });

  test('one daemon is not a network; an unreachable daemon is reported, not thrown', async () => {
    const one = await runDemo((await network(1)).slice(0, 1), () => undefined, quick);
    assert.equal(one.ok, false);
    const nodes = await network(2);
    const dead = [...nodes, { name: 'dead', apiUrl: 'http://127.0.0.1:9', apiTokenFile: nodes[0]!.apiTokenFile }];
    const r = await runDemo(dead, () => undefined, { ...quick, readyTimeoutMs: 300, requestTimeoutMs: 1_000 });
    assert.equal(r.ok, false);
    assert.ok(r.checks.some((c) => c.name === 'every daemon answers its control API' && !c.ok));
  });
});
