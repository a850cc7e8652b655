/** Short simulator runs, one per topology, with the invariants on (issue 4's default-suite runs). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '../tools/sim/engine.js';
import type { SimOptions } from '../tools/sim/engine.js';
import { TOPOLOGIES } from '../tools/sim/topology.js';

const base: Omit<SimOptions, 'topology' | 'seed'> = { peers: 60, ticks: 25, drainTicks: 30, net: 'same-dc', blocksPerTick: 1, tokensPerBlock: 2, conflicts: 0.3 };

for (const [i, topology] of TOPOLOGIES.entries()) {
  test(`sim: ${topology} topology, 60 peers, 30 % conflicts — invariants hold and blocks commit`, () => {
    const seed = 100 + i;
    const r = runSimulation({ ...base, topology, seed });
    const ctx = `seed ${seed}: ${JSON.stringify({ blocks: r.blocks, families: r.families, invariants: r.invariants })}`;
    assert.equal(r.invariants.violations, 0, ctx);
    assert.ok(r.blocks.submitted >= 25, ctx);
    assert.ok(r.blocks.committedAtEntry >= r.blocks.submitted * 0.6, ctx);
    assert.equal(r.families.highest + r.families.stalled + r.families.lowerSomewhere + r.families.twoWays, r.families.conflicted, ctx);
    // Every item an honest core sends is attributed to one rule (no byzantine peers here).
    assert.equal(Object.values(r.messages.byCause).reduce((x, y) => x + y, 0), r.messages.items, ctx);
    assert.ok((r.messages.byCause['first-wave'] ?? 0) > 0 && (r.messages.byCause['echo'] ?? 0) > 0, JSON.stringify(r.messages.byCause));
  });
}

test('sim: a transfer workload commits chains of transfers, and only there do non-hosts answer at the commit', () => {
  const opts = { peers: 16, ticks: 40, drainTicks: 30, topology: 'full', net: 'same-dc', blocksPerTick: 2, tokensPerBlock: 1, conflicts: 0, seed: 3 } as const;
  const creations = runSimulation(opts);
  const transfers = runSimulation({ ...opts, transfers: 0.8 });
  const ctx = JSON.stringify({ blocks: transfers.blocks, invariants: transfers.invariants, byCause: transfers.messages.byCause });
  assert.equal(transfers.invariants.violations, 0, ctx);
  assert.ok(transfers.blocks.transfers >= transfers.blocks.submitted / 2, ctx);
  assert.equal(transfers.blocks.committedAtEntry, transfers.blocks.submitted, ctx);
  assert.ok((transfers.hostCoverage ?? 0) >= 0.95, ctx);
  // A peer that hosts none of a transfer's tokens holds no mapping, so its token bit is 0 (§5.3):
  // its vote is never fully positive and D4 cannot spare its askers the 0xFF. Creations spend 0,
  // which every peer's unknown mapping equals.
  assert.equal(creations.blocks.transfers, 0);
  assert.equal(creations.messages.byCause['decision'] ?? 0, 0, JSON.stringify(creations.messages.byCause));
  assert.ok((transfers.messages.byCause['decision'] ?? 0) > 0, ctx);
});

test('sim: the same seed gives the same run; silent byzantine peers do not break safety', () => {
  const a = runSimulation({ ...base, topology: 'ring', seed: 7, silent: 0.1 });
  const b = runSimulation({ ...base, topology: 'ring', seed: 7, silent: 0.1 });
  const strip = (r: typeof a) => ({ ...r, speed: null });
  assert.deepEqual(strip(a), strip(b), 'seed 7');
  assert.equal(a.invariants.violations, 0, `seed 7: ${a.invariants.first.join('; ')}`);
});

test('sim: a partition cuts traffic across it, deterministically, and safety holds', () => {
  const opts = { ...base, topology: 'full' as const, seed: 11, partitions: [{ start: 5, end: 20, fraction: 0.3 }] };
  const a = runSimulation(opts);
  const b = runSimulation(opts);
  const ctx = `seed 11: ${JSON.stringify({ faults: a.faults, blocks: a.blocks, invariants: a.invariants })}`;
  assert.equal(a.invariants.violations, 0, ctx);
  assert.ok(a.faults.partitionDrops > 0, ctx);
  assert.deepEqual(a.faults, b.faults, ctx);
  assert.deepEqual(a.families, b.families, ctx);
  assert.ok(a.blocks.committedAtEntry > 0, ctx);
});

test('sim: churn crashes and restarts peers over their stores, deterministically, and safety holds', () => {
  const opts = { ...base, topology: 'dense' as const, seed: 12, churn: { rate: 0.01, downTicks: 8 } };
  const a = runSimulation(opts);
  const b = runSimulation(opts);
  const ctx = `seed 12: ${JSON.stringify({ faults: a.faults, blocks: a.blocks, invariants: a.invariants })}`;
  assert.equal(a.invariants.violations, 0, ctx);
  assert.ok(a.faults.crashes > 0 && a.faults.downDrops > 0, ctx);
  assert.deepEqual(a.faults, b.faults, ctx);
  assert.deepEqual(a.blocks, b.blocks, ctx);
  assert.ok(a.blocks.committedAtEntry >= a.blocks.submitted * 0.5, ctx);
});

test('sim: vote forgers (forged 0xFF answers) do not break per-peer safety', () => {
  const r = runSimulation({ ...base, topology: 'full', seed: 13, forgers: 0.1 });
  assert.equal(r.invariants.violations, 0, `seed 13: ${r.invariants.first.join('; ')}`);
});

test('sim: member polls (D5) cut frames per commit in a dense graph and every host still commits', () => {
  const opts = { ...base, peers: 400, topology: 'dense' as const, seed: 1, ticks: 30, conflicts: 0, tokensPerBlock: 1 };
  const all = runSimulation({ ...opts, params: { memberPolls: false } });
  const members = runSimulation({ ...opts, params: { memberPolls: true } });
  const ctx = `seed 1: frames/commit ${all.messages.perCommit} → ${members.messages.perCommit}, host coverage ${all.hostCoverage} → ${members.hostCoverage}`;
  assert.equal(members.invariants.violations, 0, ctx);
  assert.equal(members.blocks.committedAtEntry, members.blocks.submitted, ctx);
  // Polling only per own role left 0.68 of the hosts without the commit: a token host must also
  // poll the witness role, and a peer that does not poll must still answer the polls it got.
  assert.equal(members.hostCoverage, 1, ctx);
  assert.ok(all.messages.perCommit !== null && members.messages.perCommit !== null && members.messages.perCommit < all.messages.perCommit * 0.9, ctx);
});

test('sim: greedy inward forwarding with member polls (D6) narrows a ring block’s spread; safety holds', () => {
  const opts = { ...base, peers: 96, topology: 'ring' as const, seed: 1, ticks: 20, conflicts: 0, tokensPerBlock: 1 };
  const wide = runSimulation({ ...opts, params: { memberPolls: false } });
  const narrow = runSimulation({ ...opts, params: { greedyInward: 1, memberPolls: true } });
  const ctx = `seed 1: spread ${wide.spread} → ${narrow.spread}, frames/commit ${wide.messages.perCommit} → ${narrow.messages.perCommit}`;
  assert.equal(narrow.invariants.violations, 0, ctx);
  assert.equal(narrow.blocks.committedAtEntry, narrow.blocks.submitted, ctx);
  assert.ok(wide.spread !== null && narrow.spread !== null && narrow.spread < wide.spread / 2, ctx);
  assert.ok(wide.messages.perCommit !== null && narrow.messages.perCommit !== null && narrow.messages.perCommit < wide.messages.perCommit / 2, ctx);
});

test('ecd sim --param: numeric and boolean consensus parameters parse; unknown names and bad values are refused', async () => {
  const { parseParam } = await import('../tools/sim/command.js');
  assert.deepEqual(parseParam('memberPolls=true', parseParam('firstWaveTargets=3')), { firstWaveTargets: 3, memberPolls: true });
  assert.throws(() => parseParam('memberPolls=1'), /boolean/);
  assert.throws(() => parseParam('firstWaveTargets=-1'), /non-negative integer/);
  assert.throws(() => parseParam('networkId=3'), /unknown consensus parameter networkId/);
  assert.throws(() => parseParam('nonsense'), /name=value/);
});

test('sim: hosts that commit announce to the other hosts (D8): nearly every host of a committed token stores it', () => {
  const opts = { ...base, peers: 200, topology: 'dense' as const, seed: 1, ticks: 20, conflicts: 0, tokensPerBlock: 1 };
  const on = runSimulation(opts);
  const off = runSimulation({ ...opts, params: { announceHosts: false } });
  const ctx = `seed 1: host coverage ${off.hostCoverage} → ${on.hostCoverage}, frames/commit ${off.messages.perCommit} → ${on.messages.perCommit}`;
  assert.equal(on.invariants.violations, 0, ctx);
  assert.equal(on.blocks.committedAtEntry, on.blocks.submitted, ctx);
  // Hosts are judged by each peer's own partial view, so a peer another peer counts as a host can
  // still be missed (seed 1: 0.994); without D8 about a fifth of them miss the commit.
  assert.ok(on.hostCoverage !== null && on.hostCoverage >= 0.98, ctx);
  assert.ok(off.hostCoverage !== null && off.hostCoverage < 0.9, ctx);
});

test('sim: peers that know a token’s neighbourhood only thinly wait longer (D9): no double spend commits two ways in a sparse ring', () => {
  const opts = { ...base, peers: 192, topology: 'ring' as const, net: 'cross-dc' as const, seed: 1, ticks: 60, conflicts: 0.25, tokensPerBlock: 1 };
  const off = runSimulation({ ...opts, params: { thinCommitDelayTicks: 0 } });
  const on = runSimulation(opts);
  const ctx = `seed 1: two ways ${off.families.twoWays} → ${on.families.twoWays} of ${on.families.conflicted}, host coverage ${off.hostCoverage} → ${on.hostCoverage}, latency p50 ${off.latency.p50} → ${on.latency.p50}`;
  assert.equal(on.invariants.violations, 0, ctx);
  // Without D9 the lower block commits at its entry peer far from the token, on the votes of
  // peers strung out on the way there that had not yet seen the higher one (3 of 12 here).
  assert.ok(off.families.twoWays > 0, ctx);
  assert.equal(on.families.twoWays, 0, ctx);
  assert.equal(on.families.highest, on.families.conflicted, `${ctx}: only the highest block of each family commits, wherever anything commits`);
});
