/**
 * Acceptance (issue 5): 8 real `ecd node` processes on loopback (devnet profile, LMDB stores),
 * all bootstrapped to each other, driven only through their control APIs.
 *
 * One network for the whole file (start-up is the slow part); every test is bounded and the
 * `after` hook stops every child (SIGTERM, SIGKILL after a grace period; tools/testnet.ts also
 * SIGKILLs them from a process 'exit' hook if this process dies first).
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PROFILES } from '../wire/profiles.js';
import { Testnet } from '../tools/testnet.js';
import { BlockFactory, tokenHex, type Built, type Owner } from './helpers/daemon-blocks.js';

const N = 8;
const PROFILE = PROFILES.devnet;
const COMMITTED = new Set(['committed', 'stored']);

let net: Testnet;
let f: BlockFactory;

before(
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ecd-daemon-net-'));
    net = await Testnet.create({ nodes: N, dir, profile: PROFILE, store: 'lmdb', logLevel: 'info' });
    f = await BlockFactory.create(PROFILE.networkId);
    await net.start(60_000);
    await net.waitConnected(30_000);
  },
  { timeout: 120_000 },
);

after(
  async () => {
    if (net === undefined) return;
    const codes = await net.stop(10_000);
    if (process.env['ECD_KEEP_TESTNET'] !== '1') await net.remove();
    assert.ok(codes.every((c) => c === 0 || c === null), `daemons exited with ${codes.join(',')}`);
  },
  { timeout: 60_000 },
);

async function submit(i: number, b: Built): Promise<{ status: number; body: Record<string, unknown> }> {
  return net.post(i, '/v1/blocks', { block: b.hex });
}

async function statusAt(i: number, id: string, waitMs = 0): Promise<string> {
  const r = await net.get(i, `/v1/blocks/${id}${waitMs > 0 ? `?waitMs=${waitMs}` : ''}`);
  return String(r.body['status']);
}

async function mappingAt(i: number, token: Uint8Array): Promise<string | null> {
  const r = await net.get(i, `/v1/tokens/${tokenHex(token)}`);
  return r.status === 200 ? String(r.body['block']) : null;
}

const all = <T>(fn: (i: number) => Promise<T>): Promise<T[]> => Promise.all(Array.from({ length: N }, (_, i) => fn(i)));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Submits at `entry` and waits until the block is committed there. */
async function commitAt(entry: number, b: Built, waitMs = 10_000): Promise<void> {
  const r = await submit(entry, b);
  assert.equal(r.status, 202, `submit at n${entry + 1}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body['id'], b.id);
  const s = await statusAt(entry, b.id, waitMs);
  assert.ok(COMMITTED.has(s), `block ${b.id} at n${entry + 1}: ${s}`);
}

test('a created token is committed by every daemon within 2 s, and every daemon maps it', { timeout: 30_000 }, async () => {
  const owner = f.owner();
  const b = f.create(owner);
  const t0 = performance.now();
  const r = await submit(0, b);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const statuses = await all(async (i) => {
    const s = await statusAt(i, b.id, 2_000);
    return { s, ms: performance.now() - t0 };
  });
  const slowest = Math.max(...statuses.map((x) => x.ms));
  assert.ok(
    statuses.every((x) => COMMITTED.has(x.s)),
    `statuses: ${statuses.map((x) => x.s).join(',')}`,
  );
  assert.ok(slowest <= 2_000 + 100, `slowest daemon answered after ${Math.round(slowest)} ms`);
  const maps = await all((i) => mappingAt(i, b.tokens[0] as Uint8Array));
  assert.deepEqual(maps, Array(N).fill(b.id));
});

test('a network query collects signed answers from the token’s neighbourhood', { timeout: 30_000 }, async () => {
  const b = f.create(f.owner());
  await commitAt(2, b);
  // Every daemon must have committed before the neighbourhood can agree on the mapping.
  await all(async (i) => assert.ok(COMMITTED.has(await statusAt(i, b.id, 5_000))));
  const t = tokenHex(b.tokens[0] as Uint8Array);
  const r = await net.get(0, `/v1/network/tokens/${t}?timeoutMs=3000`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const answers = r.body['answers'] as { responder: string; block: string | null; verified: boolean; head: { seq: number } }[];
  // 8 daemons: every other daemon is in the window (≤ 2w + 2) and hosts the token.
  assert.equal(r.body['asked'], N - 1);
  assert.equal(answers.length, N - 1, JSON.stringify(r.body));
  assert.equal(r.body['silent'], 0);
  assert.equal(new Set(answers.map((a) => a.responder)).size, N - 1, 'one answer per responder');
  for (const a of answers) {
    assert.equal(a.block, b.id, `responder ${a.responder.slice(0, 16)} maps ${a.block}`);
    assert.equal(a.verified, true);
    assert.ok(a.head.seq >= 1);
  }
  const me = (await net.get(0, '/v1/status')).body['publicKey'];
  assert.ok(!answers.some((a) => a.responder === me), 'the asking daemon does not answer itself');

  // A token nobody has: every responder answers, signed, with no mapping.
  const unknown = '5a'.repeat(32);
  const u = await net.get(1, `/v1/network/tokens/${unknown}?timeoutMs=3000`);
  assert.equal(u.status, 200);
  const ua = u.body['answers'] as { block: string | null }[];
  assert.equal(ua.length, N - 1);
  assert.ok(ua.every((a) => a.block === null), JSON.stringify(ua));
});

test('commit latency on 8 daemons (measured; printed as a diagnostic)', { timeout: 30_000 }, async (t) => {
  const entry: number[] = [];
  const everywhere: number[] = [];
  for (let k = 0; k < 15; k++) {
    const b = f.create(f.owner());
    const t0 = performance.now();
    const r = await submit(k % N, b);
    assert.equal(r.status, 202);
    const times = await all(async (i) => {
      const s = await statusAt(i, b.id, 5_000);
      assert.ok(COMMITTED.has(s), `n${i + 1}: ${s}`);
      return performance.now() - t0;
    });
    entry.push(times[k % N] as number);
    everywhere.push(Math.max(...times));
  }
  const pct = (xs: number[], q: number): number => Math.round([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)] as number);
  t.diagnostic(`commit latency at the entry daemon: p50 ${pct(entry, 0.5)} ms, max ${pct(entry, 1)} ms`);
  t.diagnostic(`commit latency at all 8 daemons: p50 ${pct(everywhere, 0.5)} ms, max ${pct(everywhere, 1)} ms`);
  const metrics = await net.get(0, '/metrics');
  const text = String(metrics.body['text'] ?? '');
  assert.match(text, /^ecd_commits_total [1-9]/m);
  assert.match(text, /^ecd_commit_latency_seconds_count [1-9]/m);
  assert.match(text, /^ecd_votes_total\{direction="in"\} [1-9]/m);
  // Event-loop delay from the ticks, then the process's own health: CPU, heap, GC (prom-client).
  assert.match(text, /^ecd_event_loop_delay_seconds_count [1-9]/m);
  assert.match(text, /^nodejs_eventloop_lag_p99_seconds [0-9.e+-]+$/m);
  assert.match(text, /^process_cpu_seconds_total [0-9.]*[1-9]/m);
  assert.match(text, /^nodejs_heap_size_used_bytes [1-9]/m);
  assert.match(text, /^# TYPE nodejs_gc_duration_seconds histogram$/m);
  // Items: every vote sent (alone or batched) and every other consensus message outside a batch, at least.
  const sample = (re: RegExp): number[] => [...text.matchAll(re)].map((m) => Number(m[1]));
  const items = sample(/^ecd_message_items_sent_total\{cause="[a-z-]+"\} (\d+)$/gm).reduce((a, b) => a + b, 0);
  const votesOut = sample(/^ecd_votes_total\{direction="out"\} (\d+)$/gm)[0] ?? 0;
  const others = sample(/^ecd_messages_sent_total\{type="(?:initial-vote|query-block|block)"\} (\d+)$/gm).reduce((a, b) => a + b, 0);
  assert.ok(items > 0 && items >= votesOut + others, `items ${items}, votes out ${votesOut}, other messages ${others}`);
});

test('a chain of 10 transfers commits in order at every daemon', { timeout: 30_000 }, async () => {
  let owner: Owner = f.owner();
  const c = f.create(owner);
  const token = c.tokens[0] as Uint8Array;
  await commitAt(0, c);
  const chain = [c.id];
  for (let k = 0; k < 10; k++) {
    const next = f.owner();
    const b = f.transfer([{ token, parent: chain[chain.length - 1] as string }], owner, next);
    await commitAt((k + 1) % N, b);
    // Wait until every daemon has the new head before spending it again: a child submitted while
    // some window peers still lack its parent can stay pending everywhere until it expires
    // (reported to the consensus owner: peers do not re-vote once they commit the parent).
    const everywhere = await all((i) => statusAt(i, b.id, 5_000));
    assert.ok(everywhere.every((st) => COMMITTED.has(st)), `transfer ${k + 1}: ${everywhere.join(',')}`);
    chain.push(b.id);
    owner = next;
  }
  const last = chain[chain.length - 1] as string;
  // Every daemon reaches the last transfer, and its history is the chain, newest first.
  const finals = await all((i) => statusAt(i, last, 5_000));
  assert.ok(finals.every((s) => COMMITTED.has(s)), finals.join(','));
  for (let i = 0; i < N; i++) {
    const h = await net.get(i, `/v1/tokens/${tokenHex(token)}/history`);
    const history = (h.body['history'] as { block: string; seq: number }[]).map((x) => x.block);
    assert.deepEqual(history, [...chain].reverse(), `history at n${i + 1}`);
    const seqs = (h.body['history'] as { seq: number }[]).map((x) => x.seq);
    // A daemon that lagged may commit a parent and its child in the same tick (one commit record,
    // parent first); a child is never in an earlier record than its parent.
    for (let k = 1; k < seqs.length; k++) assert.ok((seqs[k - 1] as number) >= (seqs[k] as number), `commit seqs in order at n${i + 1}: ${seqs.join(',')}`);
  }
});

test('a 6-entry block moves all six tokens at every daemon or none', { timeout: 30_000 }, async () => {
  const alice = f.owner();
  const bob = f.owner();
  const c = f.create(alice, 6);
  await commitAt(2, c);
  const created = await all((i) => statusAt(i, c.id, 5_000));
  assert.ok(created.every((s) => COMMITTED.has(s)), created.join(','));
  const move = f.transfer(
    c.tokens.map((token) => ({ token, parent: c.id })),
    alice,
    bob,
  );
  assert.equal(move.signed.signatures.length, 6);
  await commitAt(5, move);
  await all((i) => statusAt(i, move.id, 5_000));
  for (let i = 0; i < N; i++) {
    const maps = await Promise.all(c.tokens.map((t) => mappingAt(i, t)));
    const moved = maps.filter((m) => m === move.id).length;
    assert.ok(moved === 6 || maps.every((m) => m === c.id), `n${i + 1}: ${moved} of 6 moved`);
    assert.equal(moved, 6, `n${i + 1} committed the move`);
  }
});

test('a double spend at two daemons: never both ways anywhere, no two daemons disagree, mappings never change', { timeout: 30_000 }, async () => {
  const alice = f.owner();
  const c = f.create(alice);
  const token = c.tokens[0] as Uint8Array;
  await commitAt(1, c);
  const parents = await all((i) => statusAt(i, c.id, 5_000));
  assert.ok(parents.every((s) => COMMITTED.has(s)), parents.join(','));
  const a = f.transfer([{ token, parent: c.id }], alice, f.owner());
  const b = f.transfer([{ token, parent: c.id }], alice, f.owner());
  const [ra, rb] = await Promise.all([submit(1, a), submit(6, b)]);
  assert.equal(ra.status, 202);
  assert.equal(rb.status, 202);
  await sleep(1_500);
  const firstMaps = await all((i) => mappingAt(i, token));
  const rows: { a: string; b: string; map: string | null }[] = [];
  for (let round = 0; round < 4; round++) {
    const now = await all(async (i) => ({ a: await statusAt(i, a.id), b: await statusAt(i, b.id), map: await mappingAt(i, token) }));
    for (let i = 0; i < N; i++) {
      const r = now[i] as { a: string; b: string; map: string | null };
      assert.ok(!(COMMITTED.has(r.a) && COMMITTED.has(r.b)), `n${i + 1} committed both contenders`);
      const before = firstMaps[i] as string | null;
      if (before !== null && before !== c.id) assert.equal(r.map, before, `n${i + 1}: mapping changed after commit`);
    }
    rows.splice(0, rows.length, ...now);
    await sleep(500);
  }
  const winners = new Set<string>();
  rows.forEach((r) => {
    if (COMMITTED.has(r.a)) winners.add('A');
    if (COMMITTED.has(r.b)) winners.add('B');
  });
  assert.ok(winners.size <= 1, `daemons committed different contenders: ${rows.map((r) => `${r.a}/${r.b}`).join(' ')}`);
  for (const r of rows) {
    const expect = winners.has('A') ? a.id : winners.has('B') ? b.id : c.id;
    if (r.map !== c.id) assert.equal(r.map, expect);
  }
});

test('a block with a bad signature is rejected by every daemon; a malformed one gets 400 and changes nothing', { timeout: 30_000 }, async () => {
  const alice = f.owner();
  const c = f.create(alice);
  const token = c.tokens[0] as Uint8Array;
  await commitAt(3, c);
  await all((i) => statusAt(i, c.id, 5_000));
  const good = f.transfer([{ token, parent: c.id }], alice, f.owner());
  const bad = f.corruptSignature(good);
  for (let i = 0; i < N; i++) {
    const r = await submit(i, bad);
    assert.equal(r.status, 400, `n${i + 1}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body['error'], 'invalid-block');
    assert.equal(r.body['code'], 'bad-signature');
  }
  await sleep(300);
  const statuses = await all((i) => statusAt(i, bad.id));
  assert.ok(statuses.every((s) => !COMMITTED.has(s)), statuses.join(','));
  const maps = await all((i) => mappingAt(i, token));
  assert.deepEqual(maps, Array(N).fill(c.id));

  const counters = async (): Promise<string> => {
    const text = String((await net.get(4, '/metrics')).body['text'] ?? '');
    return text.split('\n').filter((l) => /^ecd_(blocks_submitted_total|blocks_refused_total|consensus_events_total\{kind="(accepted|invalid)"\})/.test(l)).join('|');
  };
  const before = await net.get(4, '/v1/status');
  const countersBefore = await counters();
  for (const body of ['{"block": "00"}', '{"block": "xyz"}', 'not json', `{"block": "${good.hex.slice(0, -2)}"}`]) {
    const n = net.nodes[4] as { apiUrl: string; token: string };
    const r = await fetch(`${n.apiUrl}/v1/blocks`, { method: 'POST', headers: { authorization: `Bearer ${n.token}`, 'content-type': 'application/json' }, body });
    assert.equal(r.status, 400, body);
    const o = (await r.json()) as Record<string, unknown>;
    assert.equal(o['error'], 'malformed');
    assert.equal(typeof o['reason'], 'string');
  }
  const afterS = await net.get(4, '/v1/status');
  // Nothing reached the core: no submission, refusal, acceptance or invalid-block event was counted, and the
  // commit head did not move (the mempool size may shrink meanwhile as old entries expire).
  assert.equal(await counters(), countersBefore);
  assert.deepEqual(afterS.body['head'], before.body['head']);
  const unauth = await fetch(`${(net.nodes[4] as { apiUrl: string }).apiUrl}/v1/status`);
  assert.equal(unauth.status, 401);
});

test('a restarted daemon serves its mappings again and catches up', { timeout: 30_000 }, async () => {
  const owner = f.owner();
  const before = f.create(owner);
  await commitAt(0, before);
  const statuses = await all((i) => statusAt(i, before.id, 5_000));
  assert.ok(statuses.every((s) => COMMITTED.has(s)), statuses.join(','));
  const victim = 3;
  const code = await net.stopNode(victim);
  assert.equal(code, 0, 'SIGTERM stops the daemon cleanly');
  // While it is down the others still commit (7 voters).
  const during = f.create(f.owner());
  await commitAt(0, during);
  await net.restartNode(victim);
  await net.waitConnected(15_000);
  assert.equal(await mappingAt(victim, before.tokens[0] as Uint8Array), before.id, 'old mapping served after restart');
  assert.ok(COMMITTED.has(await statusAt(victim, before.id)), 'old block still stored');
  // Catching up: new blocks commit at the restarted daemon too, including a transfer of the old token.
  const next = f.owner();
  const move = f.transfer([{ token: before.tokens[0] as Uint8Array, parent: before.id }], owner, next);
  await commitAt(victim, move);
  const after2 = await all((i) => statusAt(i, move.id, 5_000));
  assert.ok(after2.every((s) => COMMITTED.has(s)), after2.join(','));
  const fresh = f.create(f.owner());
  await commitAt(1, fresh);
  assert.ok(COMMITTED.has(await statusAt(victim, fresh.id, 5_000)), 'a new block commits at the restarted daemon');
});
