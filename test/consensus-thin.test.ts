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
  // Demanding a window 2^60 times wider than our own (2^263 > the ring): neither.
  assert.equal(commitTick(setup(false, { ...D9, thinWindowRatio: 2 ** 60 })), 5);
});
