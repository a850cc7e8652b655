/**
 * The simulator runs the daemon's composition on every simulated peer; these short runs check
 * the safety invariants and the v2 rule as properties over several seeds, and the conditions of
 * the safety argument (docs/consensus.md) by breaking each one.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { initBlake3 } from '../kernels/blake3.js';
import { runSimulation } from '../tools/sim/engine.js';
import type { SimOptions, SimReport } from '../tools/sim/engine.js';
import { parseParam } from '../tools/sim/command.js';
import { TOPOLOGIES } from '../tools/sim/topology.js';

before(async () => {
  await initBlake3();
});

/** Transfers, conflicts and late contenders, as in the matrix, at a size for the default suite. */
const base: Omit<SimOptions, 'topology' | 'seed' | 'peers'> = {
  ticks: 240,
  drainTicks: 40,
  net: 'same-dc',
  blocksPerTick: 1,
  tokensPerBlock: 1,
  conflicts: 0.3,
  late: 0.2,
  transfers: 0.5,
};

function ctx(seed: number, r: SimReport): string {
  return `seed ${seed}: ${JSON.stringify({ blocks: r.blocks, families: r.families, latency: r.latency, invariants: r.invariants })}`;
}

const PEERS = { full: 10, dense: 80, ring: 64 } as const;

for (const topology of TOPOLOGIES) {
  test(`sim property (${topology}, seeds 1–3): no family commits two ways, invariants hold, every honest block commits at its hosts and its entry`, () => {
    for (const seed of [1, 2, 3]) {
      const r = runSimulation({ ...base, peers: PEERS[topology], topology, seed }).report;
      assert.equal(r.invariants.violations, 0, ctx(seed, r));
      assert.equal(r.families.twoWay, 0, ctx(seed, r));
      assert.ok(r.families.conflicted >= 40 && r.families.late > 0, ctx(seed, r));
      assert.equal(r.blocks.honestCommitted, r.blocks.honest, ctx(seed, r));
      assert.equal(r.families.highestWon + r.families.lowerWon + r.families.stalled + r.families.twoWay, r.families.conflicted, ctx(seed, r));
      // Every item an honest core sends is attributed to one rule (no byzantine peers here).
      assert.equal(Object.values(r.messages.byCause).reduce((x, y) => x + y, 0), r.messages.items, ctx(seed, r));
    }
  });
}

test('sim: the same seed gives a byte-identical report; another seed does not', () => {
  const opts = { ...base, ticks: 60, peers: 40, topology: 'dense' as const, byzantine: { equivocator: 0.05, silent: 0.05 } };
  const a = runSimulation({ ...opts, seed: 7 });
  const b = runSimulation({ ...opts, seed: 7 });
  const c = runSimulation({ ...opts, seed: 8 });
  assert.equal(JSON.stringify(a.report), JSON.stringify(b.report));
  assert.notEqual(JSON.stringify(a.report), JSON.stringify(c.report));
});

test('sim property (seeds 1–3): equivocating and silent peers (10 %) break neither safety nor honest commits', () => {
  for (const seed of [1, 2, 3]) {
    const r = runSimulation({ ...base, peers: 80, topology: 'dense', seed, byzantine: { equivocator: 0.05, silent: 0.05 } }).report;
    assert.equal(r.invariants.violations, 0, ctx(seed, r));
    assert.equal(r.families.twoWay, 0, ctx(seed, r));
    assert.equal(r.blocks.honestCommitted, r.blocks.honest, ctx(seed, r));
  }
});

test('sim: partitions and churn cut traffic deterministically, and no family commits two ways', () => {
  const opts = { ...base, ticks: 120, peers: 60, topology: 'dense' as const, seed: 11, partitions: [{ start: 10, end: 40, fraction: 0.3 }], churn: { rate: 0.003, downTicks: 15 } };
  const a = runSimulation(opts).report;
  const b = runSimulation(opts).report;
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  assert.ok(a.faults.partitionDrops > 0 && a.faults.crashes > 0, ctx(11, a));
  assert.equal(a.invariants.violations, 0, ctx(11, a));
  assert.equal(a.families.twoWay, 0, ctx(11, a));
});

test('sim: the report separates host and entry latency and counts learned commits', () => {
  const r = runSimulation({ ...base, conflicts: 0, late: 0, ticks: 40, peers: 120, topology: 'dense', seed: 5 }).report;
  assert.ok(r.latency.hosts.p50 !== null && r.latency.entry.p50 !== null, ctx(5, r));
  // A far entry cannot count a quorum of hosts; it learns from their reports.
  assert.ok(r.learned > 0, ctx(5, r));
  assert.ok((r.latency.entry.p50 as number) >= (r.latency.hosts.p50 as number), ctx(5, r));
});

// The safety argument's conditions, each broken on purpose: the property must then fail.

test('condition q: with 2(q + 1) ≤ the hosts of a token (q = 3, T = 0, 9 hosts) honest locks can carry both contenders', () => {
  let twoWay = 0;
  for (const seed of [1, 2, 3, 4]) {
    const r = runSimulation({ ...base, late: 0, transfers: 0, conflicts: 0.5, ticks: 120, peers: 30, topology: 'dense', net: 'cross-dc', seed, params: { quorum: 3, threshold: 0 } }).report;
    assert.equal(r.invariants.violations, 0, ctx(seed, r));
    twoWay += r.families.twoWay;
  }
  assert.ok(twoWay > 0, 'q = 3, T = 0 never committed two contenders: the quorum condition would not be tested');
});

test('condition f ≤ T for learning: forged committed reports from many peers make entries learn blocks their hosts refused', () => {
  let twoWay = 0;
  for (const seed of [1, 2]) {
    const r = runSimulation({ ...base, late: 0, transfers: 0, conflicts: 0.5, ticks: 80, peers: 60, topology: 'dense', seed, byzantine: { forger: 0.4 } }).report;
    twoWay += r.families.twoWay;
  }
  assert.ok(twoWay > 0, '40 % forgers never fooled an entry: the learning condition would not be tested');
});

test('ecd sim --param: consensus parameters parse; unknown names and bad values are refused', () => {
  assert.deepEqual(parseParam('quorum=5', parseParam('catchUpTicks=3')), { catchUpTicks: 3, quorum: 5 });
  assert.throws(() => parseParam('memberPolls=1'), /unknown consensus parameter/);
  assert.throws(() => parseParam('quorum=-1'), /non-negative integer/);
  assert.throws(() => parseParam('quorum'), /name=value/);
});
