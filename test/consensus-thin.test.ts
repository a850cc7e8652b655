/**
 * D9 (docs/consensus.md): a peer that knows a key's neighbourhood only thinly — its window for the
 * key is strung out on the way there — waits `thinCommitDelayTicks` instead of
 * `commitDelayTicks` before it commits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ring } from '../consensus/ring.js';
import { toHex } from '../consensus/hex.js';
import type { ConsensusParams } from '../consensus/params.js';
import type { SignedBlock } from '../wire/block.js';
import { bigToBytes, bytesToBig, idOf, makeBlock, Rig, signer, T0 } from './helpers/consensus-fixtures.js';

const RING = 1n << 256n;
const SMALL = 1n << 200n;
const QUARTER = 1n << 254n;

const D9: Partial<ConsensusParams> = { commitDelayTicks: 5, thinCommitDelayTicks: 10, thinWindowRatio: 3, thinDistancePercent: 50 };

const at = (x: bigint): Uint8Array => bigToBytes(((x % RING) + RING) % RING);
const around = (c: bigint, ks: readonly number[]): Uint8Array[] => ks.map((k) => at(c + BigInt(k) * SMALL));
const CLUSTER = [-6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6];

/**
 * Self at S with a dense cluster of Connected peers around it and around the block id, and a
 * token a quarter of the ring away. `dense`: a cluster around the token as well (its window is as
 * narrow as our own). Thin: the only peers towards the token are eight strung out along the way.
 */
function setup(dense: boolean, params: Partial<ConsensusParams> = D9): { rig: Rig; block: SignedBlock } {
  const s = (7n * QUARTER) / 4n + 12_345n;
  const t = s + QUARTER;
  const block = makeBlock([{ token: at(t + 1n), next: signer(1) }], T0);
  const id = bytesToBig(idOf(block));
  const toward = dense ? around(t, CLUSTER) : [1, 2, 3, 4, 5, 6, 7, 9].map((j) => at(s + (BigInt(j) * QUARTER) / 8n));
  const rig = new Rig(at(s), [...around(s, CLUSTER), ...around(id, CLUSTER), ...toward], { params });
  return { rig, block };
}

/** Submits the block, has every member of its token and id windows vote for it, and returns the tick it commits at. */
function commitTick({ rig, block }: { rig: Rig; block: SignedBlock }): number {
  assert.equal(rig.submit(block).status, 'pending');
  const voters = new Map<string, Uint8Array>();
  const token = (block.block.entries[0] as { token: Uint8Array }).token;
  for (const a of [...rig.peer.windowOf(token), ...rig.peer.windowOf(idOf(block))]) voters.set(toHex(a), a);
  for (const a of voters.values()) rig.vote(a, block, 1);
  for (let tick = 1; tick <= 30; tick++) {
    rig.tick();
    if (rig.peer.status(idOf(block)) === 'committed') return tick;
  }
  return -1;
}

test('Ring.windowSpan: clockwise from the lowest to the highest member of the window, across zero; none for a whole ring', () => {
  const members = [-6, -3, -1, 1, 2, 5, 9, 11, 20, 30].map((k) => at(BigInt(k) * SMALL));
  const ring = Ring.of(members);
  // window(0) with w = 2: successor of 0 is the member at +1·δ; members −3, −1, +1, +2, +5.
  assert.equal(ring.windowSpan(toHex(at(0n)), 2), 8n * SMALL);
  // A window of w = 1 inside the positive side does not wrap.
  assert.equal(ring.windowSpan(toHex(at(10n * SMALL)), 1), 11n * SMALL);
  assert.equal(Ring.of(members.slice(0, 6)).windowSpan(toHex(at(0n)), 2), undefined, '≤ 2w + 2 members: every member is in every window');
  // 2w + 3 members, in ring order +1, +2, +5, +11, −6, −3, −1 (·δ): each window leaves out two.
  const seven = Ring.of([-6, -3, -1, 1, 2, 5, 11].map((k) => at(BigInt(k) * SMALL)));
  assert.equal(seven.windowSpan(toHex(at(0n)), 2), 8n * SMALL, 'window(0) = −3, −1, +1, +2, +5: across zero');
  assert.equal(seven.windowSpan(toHex(at(3n * SMALL)), 2), RING - 7n * SMALL, 'window(3δ) = +1, +2, +5, +11, −6: from +1δ on round to −6δ');
  assert.equal(Ring.of([]).windowSpan(toHex(at(0n)), 2), undefined);
});

test('D9: with the token’s neighbourhood known as densely as our own, the block commits after commitDelayTicks', () => {
  assert.equal(commitTick(setup(true)), 5);
});

test('D9: with only peers strung out on the way to the token, the block waits thinCommitDelayTicks', () => {
  assert.equal(commitTick(setup(false)), 10);
});

test('D9: off (thinCommitDelayTicks 0), or either condition unmet: commitDelayTicks', () => {
  assert.equal(commitTick(setup(false, { ...D9, thinCommitDelayTicks: 0 })), 5);
  // Demanding a window ten times longer than the way to the token (more than the ring holds).
  assert.equal(commitTick(setup(false, { ...D9, thinDistancePercent: 1_000 })), 5);
  // Demanding a window 2^53 − 1 times wider than our own (more than the ring holds): neither.
  assert.equal(commitTick(setup(false, { ...D9, thinWindowRatio: Number.MAX_SAFE_INTEGER })), 5);
});

test('D9: the classification follows the Connected set: a thin view that learns the token’s neighbourhood no longer waits', () => {
  const { rig, block } = setup(false);
  const token = (block.block.entries[0] as { token: Uint8Array }).token;
  assert.equal(rig.submit(block).status, 'pending');
  rig.tick(6); // past commitDelayTicks: found thin (and no votes yet), before the change
  const s = (7n * QUARTER) / 4n + 12_345n;
  const strung = [1, 2, 3, 4, 5, 6, 7, 9].map((j) => at(s + (BigInt(j) * QUARTER) / 8n));
  rig.peer.setPeers([...around(s, CLUSTER), ...around(bytesToBig(idOf(block)), CLUSTER), ...strung, ...around(bytesToBig(token), CLUSTER)]);
  for (const a of [...rig.peer.windowOf(token), ...rig.peer.windowOf(idOf(block))]) rig.vote(a, block, 1);
  rig.tick(1);
  assert.equal(rig.peer.status(idOf(block)), 'committed', 'committed at tick 7, not 10');
});

test('D9: with too few Connected peers for a window twice as wide (≤ 4w + 1), no window is thin', () => {
  // 17 Connected peers: 8 gathered around us (our window is theirs alone) and 9 strung out towards
  // the token. Without the guard the token's window would be thin; with it a ring this small has
  // no window of 2w around us that leaves anyone out, and D9 stays off. (The 16-daemon bench has
  // 15 Connected peers each.)
  const s = 12_345n;
  const block = makeBlock([{ token: at(s + QUARTER), next: signer(1) }], T0);
  const strung = [1, 2, 3, 4, 5, 6, 7, 9, 11].map((j) => at(s + (BigInt(j) * QUARTER) / 8n));
  const small = new Rig(at(s), [...around(s, [-4, -3, -2, -1, 1, 2, 3, 4]), ...strung], { params: D9 });
  assert.equal(commitTick({ rig: small, block }), 5);
  // With 18 peers around us the same strung-out window is thin.
  const near = [-9, -8, -7, -6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const large = new Rig(at(s), [...around(s, near), ...strung], { params: D9 });
  assert.equal(commitTick({ rig: large, block }), 10);
});

test('consensusParams: D9 factors must be non-negative integers', async () => {
  const { consensusParams } = await import('../consensus/params.js');
  assert.throws(() => consensusParams(3n, { thinWindowRatio: 2.5 }), /thinWindowRatio must be a non-negative integer, got 2.5/);
  assert.throws(() => consensusParams(3n, { thinDistancePercent: -1 }), /thinDistancePercent/);
  assert.equal(consensusParams(3n, { thinCommitDelayTicks: 0 }).thinCommitDelayTicks, 0);
});
