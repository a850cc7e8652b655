/**
 * Digest §12 scenarios 1–3 on a deterministic in-process network of consensus peers (full
 * knowledge: every peer Connected to every other). Safety invariants are checked on every batch;
 * the seed is in every failure message.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '../consensus/hex.js';
import { hexId, idOf, makeBlock, signer, T0 } from './helpers/consensus-fixtures.js';
import type { NetOptions } from './helpers/consensus-net.js';
import { SimNet } from './helpers/consensus-net.js';

function noViolations(net: SimNet): void {
  assert.deepEqual(net.violations, [], `seed ${net.opts.seed}`);
}

function knowers(net: SimNet, id: string) {
  return net.nodes.filter((n) => net.nodes[n.index]!.peer.status(id) !== 'unknown');
}

/** Creates token T at node `entry` and runs until the entry peer and every peer that learned the block commit it. */
function createAndSettle(net: SimNet, entry: number, maxTicks: number) {
  const owner = signer(net.opts.seed);
  const T = net.rng.bytes(32);
  const B = makeBlock([{ token: T, next: owner }], T0);
  const id = net.submit(entry, B) as string;
  net.run(maxTicks, () => knowers(net, id).every((n) => n.committed.includes(id)));
  return { owner, T, B, id };
}

describe('scenario 1: create commits', () => {
  for (const seed of [1, 2, 3, 4]) {
    test(`8 fully connected peers, loss-free: every peer that learns B commits it within 10 ticks (seed ${seed})`, () => {
      const net = new SimNet({ peers: 8, seed });
      const { T, id } = createAndSettle(net, 0, 10);
      const ctx = `seed ${seed}: ${net.statusEverywhere(id).join(',')}`;
      noViolations(net);
      assert.ok(net.tickNo <= 10, ctx);
      const learned = knowers(net, id);
      assert.ok(learned.length >= 5, `the entry peer, and the first wave around T and the id: ${ctx}`);
      assert.ok(net.nodes[0]!.committed.includes(id), `entry peer: ${ctx}`);
      for (const n of learned) {
        assert.ok(n.committed.includes(id), `node ${n.index}: ${ctx}`);
        // ≤ 2w + 2 Connected: every peer hosts every token.
        assert.equal(toHex(n.store.token(T)!.block), id, ctx);
        assert.ok(n.store.token(T)!.parent.every((x) => x === 0), ctx);
        assert.ok(n.store.commit(n.store.head().seq)!.blockIds.some((b) => toHex(b) === id), ctx);
      }
    });
  }
});

describe('scenario 2: extension and atomicity across peers', () => {
  test('the key holder extends T, and a 3-entry block moves three tokens together everywhere', () => {
    const seed = 21;
    const net = new SimNet({ peers: 8, seed });
    const owner = signer(1);
    const tokens = [net.rng.bytes(32), net.rng.bytes(32), net.rng.bytes(32)];
    const C = makeBlock(tokens.map((token) => ({ token, next: owner })), T0);
    const cid = net.submit(0, C) as string;
    net.run(10, () => knowers(net, cid).every((n) => n.committed.includes(cid)));
    const holders = net.committers(cid);
    assert.ok(holders.length >= 5, `seed ${seed}`);
    // Submitted at a peer that committed C, so it can validate the signatures at once.
    const X = makeBlock(tokens.map((token) => ({ token, last: idOf(C), by: owner, next: signer(2) })), T0 + 100);
    const entry = holders[holders.length - 1]!.index;
    const xid = net.submit(entry, X) as string;
    net.run(15, () => knowers(net, xid).every((n) => n.committed.includes(xid)));
    noViolations(net);
    const ctx = `seed ${seed}: ${net.statusEverywhere(xid).join(',')}`;
    for (const n of knowers(net, xid)) {
      assert.ok(n.committed.includes(xid), ctx);
      const moved = tokens.map((t) => toHex(n.store.token(t)?.block ?? new Uint8Array(32)) === xid);
      assert.ok(moved.every((m) => m), `all three tokens moved at node ${n.index}: ${ctx}`);
      assert.ok(n.store.hasBlock(idOf(C)) || !n.committed.includes(cid), ctx);
    }
    // Nowhere did one token move without the others, at any time: every batch is whole.
    for (const n of net.nodes) {
      const m = tokens.map((t) => (n.store.token(t) === undefined ? '-' : toHex(n.store.token(t)!.block)));
      assert.ok(m.every((x) => x === m[0]), `node ${n.index} mixed mappings ${m}: seed ${seed}`);
    }
  });
});

describe('scenario 3: double spend', () => {
  function doubleSpend(opts: NetOptions, ticks: number) {
    const net = new SimNet(opts);
    const owner = signer(opts.seed);
    const T = net.rng.bytes(32);
    const B = makeBlock([{ token: T, next: owner }], T0);
    const bid = net.submit(0, B) as string;
    net.run(20, () => knowers(net, bid).every((n) => n.committed.includes(bid)));
    const holders = net.committers(bid);
    assert.ok(holders.length >= 2, `seed ${opts.seed}: B committed at ${holders.length}`);
    const X = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(1000) }], T0 + 100);
    const Y = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(1001) }], T0 + 100);
    const [low, high] = hexId(X) < hexId(Y) ? [X, Y] : [Y, X];
    // Same tick, two different entry peers.
    net.submit(holders[0]!.index, low);
    net.submit(holders[1]!.index, high);
    net.run(ticks);
    noViolations(net);
    return { net, low: hexId(low), high: hexId(high), T };
  }

  for (const seed of [31, 32, 33, 34, 35]) {
    test(`8 peers, loss-free, both reach everyone before any evaluation: the higher wins, the lower commits nowhere (seed ${seed})`, () => {
      const { net, low, high, T } = doubleSpend({ peers: 8, seed }, 20);
      const ctx = `seed ${seed}: low ${net.statusEverywhere(low).join(',')} high ${net.statusEverywhere(high).join(',')}`;
      assert.equal(net.committers(low).length, 0, ctx);
      const knowHigh = knowers(net, high);
      assert.ok(net.committers(high).length * 2 > knowHigh.length, `a majority of the peers that know it: ${ctx}`);
      for (const n of net.nodes) {
        const m = n.store.token(T);
        if (m !== undefined) assert.notEqual(toHex(m.block), low, ctx);
      }
    });
  }

  for (const seed of [36, 37, 38]) {
    test(`30 peers (proper windows), loss-free, zero latency: the lower commits nowhere (seed ${seed})`, () => {
      const { net, low, high } = doubleSpend({ peers: 30, seed }, 30);
      const ctx = `seed ${seed}: low ${net.statusEverywhere(low).join(',')} high ${net.statusEverywhere(high).join(',')}`;
      assert.equal(net.committers(low).length, 0, ctx);
      assert.ok(net.committers(high).length > 0, ctx);
    });
  }

  // With latency the lower block can reach one neighbourhood ticks before the higher one and
  // commit there first (PROTOCOL §5.5: network-wide agreement is measured, not guaranteed; about
  // 1 % of such families in this setting, see docs/consensus.md). What must hold in every run is
  // per-peer safety, checked on every batch by the harness, and liveness.
  for (const seed of [41, 42, 43, 44, 45, 46]) {
    test(`30 peers, latency 0–3 ticks, 5 % loss, 5 % duplicates: per-peer safety, and a contender commits (seed ${seed})`, () => {
      const { net, low, high } = doubleSpend({ peers: 30, seed, latency: { min: 0, max: 3 }, loss: 0.05, duplicate: 0.05 }, 60);
      const ctx = `seed ${seed}: low ${net.statusEverywhere(low).join(',')} high ${net.statusEverywhere(high).join(',')}`;
      assert.ok(net.committers(low).length + net.committers(high).length > 0, `one contender committed somewhere: ${ctx}`);
      for (const n of net.nodes) assert.ok(!(n.committed.includes(low) && n.committed.includes(high)), `node ${n.index} committed both: ${ctx}`);
    });
  }
});

describe('a larger, lossy network', () => {
  for (const seed of [51, 52, 53]) {
    test(`30 peers with proper windows, latency 1–3, 5 % loss: a created token commits at the entry peer and around T (seed ${seed})`, () => {
      const net = new SimNet({ peers: 30, seed, latency: { min: 1, max: 3 }, loss: 0.05, duplicate: 0.05 });
      const { T, id } = createAndSettle(net, 7, 60);
      noViolations(net);
      const ctx = `seed ${seed}: ${net.statusEverywhere(id).join(',')}`;
      assert.ok(net.nodes[7]!.committed.includes(id), `entry peer: ${ctx}`);
      for (const n of knowers(net, id)) assert.ok(n.committed.includes(id), `node ${n.index} learned B but did not commit: ${ctx}`);
      const hosts = net.nodes.filter((n) => n.peer.hosts(T));
      const mapped = hosts.filter((n) => n.store.token(T) !== undefined);
      assert.ok(mapped.length >= 3, `hosts of T mapping it: ${mapped.length}/${hosts.length}: ${ctx}`);
    });
  }
});

