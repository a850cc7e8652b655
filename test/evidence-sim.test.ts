/**
 * Minefield evidence in the simulator (tools/sim/evidence.ts): honest answers under load and churn
 * never make a fraud proof, every kind of liar is caught and slashed by the 67 % vote, a liar that
 * tells each asker one consistent story is caught only by pooling evidence, the books stay within
 * their bound, and one seed gives one report.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { initBlake3 } from '../kernels/blake3.js';
import { runSimulation } from '../tools/sim/engine.js';
import { MAX_BYTES_PER_RESPONDER_TOKEN, runEvidenceSimulation, runEvidenceWorlds, SLASH_SHARE } from '../tools/sim/evidence.js';
import type { EvidenceSimOptions, EvidenceSimReport, LiarSpec } from '../tools/sim/evidence.js';

before(async () => {
  await initBlake3();
});

const CHURN = { rate: 0.002, downTicks: 20 } as const;

function ctx(r: EvidenceSimReport): string {
  const { options, consensus, answers, falsePositives, votesAgainstHonest, invalidProofs, liars } = r;
  return `seed ${options.seed}: ${JSON.stringify({ consensus, answers, falsePositives, votesAgainstHonest, invalidProofs, liars })}`;
}

function assertNoHonestNamed(r: EvidenceSimReport): void {
  assert.equal(r.falsePositives.proofs, 0, ctx(r));
  assert.equal(r.votesAgainstHonest, 0, ctx(r));
  assert.equal(r.invalidProofs, 0, ctx(r));
  assert.equal(r.answers.rejected, 0, ctx(r));
  assert.equal(r.consensus.violations, 0, ctx(r));
}

let honestRun: EvidenceSimReport | undefined;
/** 40 peers, 340 ticks, 40 queries a tick (about 115 000 answers), churn: shared by two tests. */
function honest(): EvidenceSimReport {
  honestRun ??= runEvidenceSimulation({ seed: 1, peers: 40, ticks: 300, queries: 40, churn: CHURN });
  return honestRun;
}

test('evidence sim: ≥ 100 000 honest answers under load and churn give no fraud proof', () => {
  const r = honest();
  assert.ok(r.answers.total >= 100_000, ctx(r));
  assert.equal(r.answers.lies, 0, ctx(r));
  assert.ok(r.consensus.crashes > 0 && r.consensus.transfers > 0, ctx(r));
  assertNoHonestNamed(r);
});

test('evidence sim: an owner keeps at most 2 KB per responder and token', () => {
  const r = honest();
  const b = r.evidenceBytes;
  assert.ok(b.perOwnerResponderToken.max > 0 && b.perOwnerResponderToken.max <= MAX_BYTES_PER_RESPONDER_TOKEN, JSON.stringify(b));
  assert.ok(b.perOwnerResponderToken.mean !== null && b.perOwnerResponderToken.mean <= b.perOwnerResponderToken.max, JSON.stringify(b));
});

const LIARS: readonly LiarSpec[] = [
  { kind: 'fork', p: 0.5 },
  { kind: 'rollback', p: 0.5 },
  { kind: 'double-map', p: 0.5 },
];
const FORK_ALWAYS: readonly LiarSpec[] = [{ kind: 'fork', p: 1 }];

let liarRuns: { seed: number; mixed: EvidenceSimReport; forkToSome: EvidenceSimReport; forkToAll: EvidenceSimReport }[] | undefined;
/** Seeds 1–2, one consensus run each (40 peers, 120 ticks, churn) watched by three workloads. */
function liars(): NonNullable<typeof liarRuns> {
  liarRuns ??= [1, 2].map((seed) => {
    const [mixed, forkToSome, forkToAll] = runEvidenceWorlds({ seed, peers: 40, ticks: 120, churn: CHURN }, [
      { queries: 10, liars: LIARS },
      { queries: 10, liars: FORK_ALWAYS, askers: 0.25 },
      { queries: 10, liars: FORK_ALWAYS, askers: 1 },
    ]) as [EvidenceSimReport, EvidenceSimReport, EvidenceSimReport];
    return { seed, mixed, forkToSome, forkToAll };
  });
  return liarRuns;
}

test('evidence sim (seeds 1–2): every kind of liar (P 0.5, every owner) is caught, 67 % vote to slash it, no honest peer is named', () => {
  for (const { mixed: r } of liars()) {
    assertNoHonestNamed(r);
    assert.ok(r.answers.lies > 0, ctx(r));
    for (const l of r.liars) {
      assert.ok(l.alone !== null, `${l.kind} not caught: ${ctx(r)}`);
      assert.ok(l.slash !== null && l.slash.ticksTo67 !== null && l.slash.finalShare >= SLASH_SHARE, `${l.kind} not slashed: ${ctx(r)}`);
    }
    assert.ok(r.evidenceBytes.perOwnerResponderToken.max <= MAX_BYTES_PER_RESPONDER_TOKEN, ctx(r));
  }
});

test('evidence sim (seeds 1–2): a fork liar that always lies is a split view: never caught alone, caught by pooling when it lies to some owners only', () => {
  for (const { forkToSome, forkToAll } of liars()) {
    for (const r of [forkToSome, forkToAll]) assertNoHonestNamed(r);
    const [s] = forkToSome.liars;
    assert.ok(s !== undefined && s.lies > 0 && s.alone === null && s.pooled?.predicate === 'fork', ctx(forkToSome));
    assert.ok(s.slash !== null && s.slash.ticksTo67 !== null, ctx(forkToSome));
    // Every owner hears the same consistent history: no two statements contradict each other.
    const [a] = forkToAll.liars;
    assert.ok(a !== undefined && a.lies > 0 && a.alone === null && a.pooled === null, ctx(forkToAll));
  }
});

test('evidence sim: the same seed gives identical JSON, and watching does not change the consensus run', () => {
  const o: EvidenceSimOptions = { seed: 7, peers: 24, ticks: 60, queries: 8, churn: CHURN, liars: LIARS, askers: 0.5 };
  const a = JSON.stringify(runEvidenceSimulation(o));
  const b = JSON.stringify(runEvidenceSimulation(o));
  const c = JSON.stringify(runEvidenceSimulation({ ...o, seed: 8 }));
  assert.equal(a, b);
  assert.notEqual(a, c);
  const plain = runSimulation({ seed: 7, peers: 24, ticks: 60, drainTicks: 40, topology: 'dense', net: 'same-dc', blocksPerTick: 1, tokensPerBlock: 1, conflicts: 0.1, transfers: 0.5, churn: CHURN }).report;
  const watched = (JSON.parse(a) as EvidenceSimReport).consensus;
  assert.deepEqual(watched, { committed: plain.blocks.committedAnywhere, transfers: plain.blocks.transfers, crashes: plain.faults.crashes, twoWay: plain.families.twoWay, violations: plain.invariants.violations });
});
