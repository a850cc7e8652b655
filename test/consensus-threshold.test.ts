/**
 * Digest §12 scenario 5 — the exact threshold boundary at one peer, with proper windows:
 * 20 Connected peers in two clusters, ten around token T and ten around the block id, so
 * window(T) (9 peers) and window(id) (9 peers) are disjoint and each cluster has one member just
 * outside its window.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Ring } from '../consensus/ring.js';
import { toHex } from '../consensus/hex.js';
import type { SignedBlock } from '../wire/block.js';
import { bigToBytes, bytesToBig, hexId, idOf, makeBlock, Rig, signer, T0 } from './helpers/consensus-fixtures.js';
import { SeededRng } from './helpers/seeded-rng.js';

const SEED = 5;
const DELTA = 1n << 200n;

interface Setup {
  rig: Rig;
  block: SignedBlock;
  /** tokenPeer(k): the peer at T + k·δ, k ∈ ±1..±5; witnessPeer(k) likewise around the id. */
  tokenPeer: (k: number) => Uint8Array;
  witnessPeer: (k: number) => Uint8Array;
}

function setup(seed: number): Setup {
  const rng = new SeededRng(seed);
  // Draw blocks until the token and the id are far apart on the ring (so the clusters don't mix).
  for (;;) {
    const token = rng.bytes(32);
    const block = makeBlock([{ token, next: signer(1) }], T0);
    const t = bytesToBig(token);
    const id = bytesToBig(idOf(block));
    const d = t > id ? t - id : id - t;
    if (d < 1n << 250n || d > (1n << 256n) - (1n << 250n)) continue;
    const around = (c: bigint) => (k: number) => bigToBytes(c + BigInt(k) * DELTA);
    const tokenPeer = around(t);
    const witnessPeer = around(id);
    const ks = [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5];
    const connected = [...ks.map(tokenPeer), ...ks.map(witnessPeer)];
    const self = bigToBytes(t + (1n << 255n) + 12345n);
    const rig = new Rig(self, connected, { seed });
    // Sanity: the windows are what this test assumes.
    const ring = Ring.of(connected);
    const expect = (center: (k: number) => Uint8Array, key: string) =>
      assert.deepEqual(new Set(ring.window(key, 4)), new Set([-4, -3, -2, -1, 1, 2, 3, 4, 5].map((k) => toHex(center(k)))), `seed ${seed}`);
    expect(tokenPeer, toHex(token));
    expect(witnessPeer, hexId(block));
    return { rig, block, tokenPeer, witnessPeer };
  }
}

/** Submits the block at the peer, records the given votes, ticks once; returns tally and status. */
function run(votes: (s: Setup) => [Uint8Array, number][], seed = SEED) {
  const s = setup(seed);
  assert.equal(s.rig.submit(s.block).status, 'pending');
  for (const [from, mask] of votes(s)) s.rig.vote(from, s.block, mask);
  const tally = s.rig.peer.tallyOf(idOf(s.block));
  s.rig.tick();
  return { tally, status: s.rig.peer.status(idOf(s.block)), s };
}

const W3 = (s: Setup): [Uint8Array, number][] => [1, 2, 3].map((k) => [s.witnessPeer(k), 1]);

describe('threshold boundary (T = 2, w = 4)', () => {
  test('2 positive / 0 negative with 3 witnesses: t = +2, no commit', () => {
    const r = run((s) => [[s.tokenPeer(1), 1], [s.tokenPeer(-1), 1], ...W3(s)]);
    assert.deepEqual(r.tally, { tokens: [2], witness: 3 });
    assert.equal(r.status, 'pending');
  });

  test('4 positive / 2 negative: t = +2, no commit', () => {
    const r = run((s) => [[s.tokenPeer(1), 1], [s.tokenPeer(2), 1], [s.tokenPeer(-1), 1], [s.tokenPeer(-2), 1], [s.tokenPeer(3), 0], [s.tokenPeer(-3), 0], ...W3(s)]);
    assert.deepEqual(r.tally, { tokens: [2], witness: 3 });
    assert.equal(r.status, 'pending');
  });

  test('3 positive / 0 negative with 3 witnesses: t = +3, c = 3, commits', () => {
    const r = run((s) => [[s.tokenPeer(1), 1], [s.tokenPeer(5), 1], [s.tokenPeer(-4), 1], ...W3(s)]);
    assert.deepEqual(r.tally, { tokens: [3], witness: 3 });
    assert.equal(r.status, 'committed');
    assert.equal(r.s.rig.store.hasBlock(idOf(r.s.block)), true);
  });

  test('5 positive / 2 negative with 3 witnesses: t = +3, commits', () => {
    const r = run((s) => [[s.tokenPeer(1), 1], [s.tokenPeer(2), 1], [s.tokenPeer(3), 1], [s.tokenPeer(4), 1], [s.tokenPeer(5), 1], [s.tokenPeer(-1), 0], [s.tokenPeer(-2), 0], ...W3(s)]);
    assert.deepEqual(r.tally, { tokens: [3], witness: 3 });
    assert.equal(r.status, 'committed');
  });

  test('3 positive with only 2 witnesses: c = 2, no commit', () => {
    const r = run((s) => [[s.tokenPeer(1), 1], [s.tokenPeer(2), 1], [s.tokenPeer(3), 1], [s.witnessPeer(1), 0], [s.witnessPeer(-1), 0]]);
    assert.deepEqual(r.tally, { tokens: [3], witness: 2 });
    assert.equal(r.status, 'pending');
  });

  test('votes from outside the windows change nothing: the cluster edge and the other cluster', () => {
    // T − 5δ is Connected but outside window(T); id − 5δ is outside window(id); witnesses are outside window(T).
    const r = run((s) => [[s.tokenPeer(1), 1], [s.tokenPeer(2), 1], [s.tokenPeer(-5), 1], [s.witnessPeer(-5), 1], ...W3(s)]);
    assert.deepEqual(r.tally, { tokens: [2], witness: 3 });
    assert.equal(r.status, 'pending');
  });

  test('a non-Connected sender inside the window changes nothing, with or without a client ticket', () => {
    const r = run((s) => {
      const stranger = bigToBytes(bytesToBig(s.tokenPeer(1)) + 1n);
      s.rig.vote(stranger, s.block, 1);
      s.rig.vote(stranger, s.block, 1, true, { client: true });
      return [[s.tokenPeer(1), 1], [s.tokenPeer(2), 1], ...W3(s)];
    });
    assert.deepEqual(r.tally, { tokens: [2], witness: 3 });
    assert.equal(r.status, 'pending');
  });

  test('a newer vote from the same sender replaces the older one; an older one (by order) does not', () => {
    const r = run((s) => {
      s.rig.vote(s.tokenPeer(3), s.block, 1, false, { order: 10 });
      s.rig.vote(s.tokenPeer(3), s.block, 0, false, { order: 11 }); // newer: negative
      s.rig.vote(s.tokenPeer(3), s.block, 1, false, { order: 9 }); // stale: ignored
      return [[s.tokenPeer(1), 1], [s.tokenPeer(2), 1], [s.tokenPeer(4), 1], ...W3(s)];
    });
    // +1 +1 +1 −1 = +2.
    assert.deepEqual(r.tally, { tokens: [2], witness: 3 });
    assert.equal(r.status, 'pending');
    // The same sender turning positive again commits on the next tick.
    r.s.rig.vote(r.s.tokenPeer(3), r.s.block, 1, false, { order: 12 });
    r.s.rig.tick();
    assert.equal(r.s.rig.peer.status(idOf(r.s.block)), 'committed');
  });

  test('the peer’s own opinion never counts: its tally starts at zero', () => {
    const r = run(() => []);
    assert.deepEqual(r.tally, { tokens: [0], witness: 0 });
    assert.equal(r.s.rig.peer.maskOf(idOf(r.s.block)), 1);
  });

  test('several seeds give the same boundary', () => {
    for (const seed of [11, 12, 13]) {
      const no = run((s) => [[s.tokenPeer(1), 1], [s.tokenPeer(2), 1], ...W3(s)], seed);
      assert.equal(no.status, 'pending', `seed ${seed}`);
      const yes = run((s) => [[s.tokenPeer(1), 1], [s.tokenPeer(2), 1], [s.tokenPeer(3), 1], ...W3(s)], seed);
      assert.equal(yes.status, 'committed', `seed ${seed}`);
    }
  });
});
