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
  });
}

test('sim: the same seed gives the same run; silent byzantine peers do not break safety', () => {
  const a = runSimulation({ ...base, topology: 'ring', seed: 7, silent: 0.1 });
  const b = runSimulation({ ...base, topology: 'ring', seed: 7, silent: 0.1 });
  const strip = (r: typeof a) => ({ ...r, speed: null });
  assert.deepEqual(strip(a), strip(b), 'seed 7');
  assert.equal(a.invariants.violations, 0, `seed 7: ${a.invariants.first.join('; ')}`);
});
