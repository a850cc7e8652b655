/** The measurement helpers of bench/cluster.ts (the benchmark itself runs as `ecd bench cluster`). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { percentile, sentByType } from '../bench/cluster.js';
import { processCpuTicks } from '../tools/testnet.js';

test('percentile: nearest rank on sorted samples', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 95), 95);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile(xs, 100), 100);
  assert.equal(percentile([7], 99), 7);
  assert.equal(percentile([], 50), 0);
});

test('processCpuTicks: grows for a busy process; 0 for a missing one', async () => {
  const before = await processCpuTicks(process.pid);
  const until = Date.now() + 150;
  let x = 0;
  while (Date.now() < until) x += Math.sqrt(x + 1);
  assert.ok(x > 0);
  const after = await processCpuTicks(process.pid);
  assert.ok(after > before, `${before} → ${after}`);
  assert.equal(await processCpuTicks(2 ** 30), 0);
});

test('sentByType: the per-type samples of ecd_messages_sent_total, nothing else', () => {
  const text = ['# TYPE ecd_messages_sent_total counter', 'ecd_messages_sent_total{type="vote"} 12', 'ecd_messages_sent_total{type="initial-vote"} 3', 'ecd_messages_received_total{type="vote"} 99', 'ecd_frames_sent_total 7'].join('\n');
  assert.deepEqual([...sentByType(text)], [['vote', 12], ['initial-vote', 3]]);
});

test('bench cluster --in-process: 4 daemons in this process commit transfers and pass the bench’s own mapping check', { timeout: 60_000 }, async () => {
  const { benchCluster } = await import('../bench/cluster.js');
  const { PROFILES } = await import('../wire/profiles.js');
  const r = await benchCluster({ nodes: 4, inProcess: true, store: 'memory', profile: PROFILES.devnet, durationMs: 2_000, warmupMs: 1_000, tokens: 12, rate: 100 });
  assert.equal(r.in_process, true);
  assert.equal(r.nodes, 4);
  assert.equal(r.warmup_s, 1);
  assert.ok(r.committed > 0, `committed ${r.committed}`);
  // The warm-up's transfers count in `committed`, not in the measured window.
  assert.ok(r.measured > 0 && r.measured < r.committed, `measured ${r.measured} of ${r.committed}`);
  assert.deepEqual(r.failed, {});
  assert.ok(r.frames_per_commit > 0 && r.cpu_ms_per_commit > 0, JSON.stringify(r));
  assert.equal(r.generator_cpu_ms_per_commit, null, 'in one process the load generator is part of cpu_ms_per_commit');
  assert.ok(r.event_loop_delay_p99_ms !== null && r.event_loop_delay_p99_ms >= 0, 'the daemons report their event-loop delay');
  // Items: every vote (alone or batched), every other unbatched consensus message, and batched queries.
  const others = ['initial-vote', 'query-block', 'block'].reduce((s, k) => s + (r.messages_per_commit[k] ?? 0), 0);
  // Each figure is rounded to 0.1: five of them, 0.05 each.
  assert.ok(r.items_per_commit >= others + r.vote_items_per_commit - 0.25, JSON.stringify(r));
  const byCause = Object.values(r.items_by_cause).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(byCause - r.items_per_commit) <= 0.05 * (Object.keys(r.items_by_cause).length + 1), JSON.stringify(r));
  assert.ok((r.items_by_cause['first-wave'] ?? 0) > 0, JSON.stringify(r));
  assert.ok(r.daemon_commits >= r.measured, 'every transfer commits at its entry daemon at least');
});

test('bench cluster: a load that ends within the warm-up is an error, not a measurement', { timeout: 60_000 }, async () => {
  const { benchCluster } = await import('../bench/cluster.js');
  const { PROFILES } = await import('../wire/profiles.js');
  await assert.rejects(
    benchCluster({ nodes: 4, inProcess: true, store: 'memory', profile: PROFILES.devnet, durationMs: 1_000, warmupMs: 20_000, maxTransfers: 3, tokens: 3, rate: 100 }),
    /all 3 transfers finished within the 20 s warm-up: nothing was measured/,
  );
});

test('bench cluster: the event-loop delay p99 of a window comes from the bucket deltas', async () => {
  const { loopDelayBuckets, p99Between } = await import('../bench/cluster.js');
  const text = (counts: number[]): string =>
    ['0.001', '0.01', '0.1', '+Inf'].map((le, i) => `ecd_event_loop_delay_seconds_bucket{le="${le}"} ${counts[i]}`).join('\n') + '\nother_metric 3\n';
  const before = loopDelayBuckets(text([90, 100, 100, 100]));
  assert.deepEqual(before.map((b) => b[0]), [0.001, 0.01, 0.1, Infinity]);
  // 100 new samples: 50 under 1 ms, 48 under 10 ms, 2 under 100 ms → p99 in the 0.1 bucket.
  assert.equal(p99Between(before, loopDelayBuckets(text([140, 198, 200, 200]))), 0.1);
  // The window's own samples count, not the history: 100 new, all under 1 ms.
  assert.equal(p99Between(before, loopDelayBuckets(text([190, 200, 200, 200]))), 0.001);
  assert.equal(p99Between(before, before), null, 'no samples in the window');
});
