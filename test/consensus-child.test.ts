/**
 * Liveness of a chain: a child submitted as soon as its parent committed at the entry peer, while
 * the parent is still pending elsewhere. Peers that first saw the child before committing the
 * parent voted against it (their mapping was not yet its `last`); once they commit the parent
 * their opinion changes, and the peers that hold their old vote must hear the new one, or the
 * child can stall until it expires.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { idOf, makeBlock, signer, T0 } from './helpers/consensus-fixtures.js';
import { SimNet } from './helpers/consensus-net.js';

// 8 peers: every peer is in every window. 16: windows of 9, so the entry may host neither token
// nor id, and the child's token tally there can fall below −T (its polling pauses) from the old
// votes alone.
for (const [peers, seed] of [8, 16].flatMap((p) => [1, 2, 3, 4, 5, 6, 7, 8].map((s) => [p, s] as const))) {
  test(`a child submitted right after its parent commits at the entry peer commits too (${peers} peers, seed ${seed})`, () => {
    const net = new SimNet({ peers, seed, latency: { min: 1, max: 3 } });
    const owner = signer(seed);
    const T = net.rng.bytes(32);
    const C = makeBlock([{ token: T, next: owner }], T0);
    const cid = net.submit(0, C) as string;
    net.run(40, () => net.nodes[0]!.committed.includes(cid));
    assert.ok(net.nodes[0]!.committed.includes(cid), `seed ${seed}: the parent commits at the entry`);
    const X = makeBlock([{ token: T, last: idOf(C), by: owner, next: signer(seed + 100) }], T0 + 100);
    const xid = net.submit(0, X) as string;
    const knowers = (): typeof net.nodes => net.nodes.filter((n) => n.peer.status(xid) !== 'unknown');
    net.run(60, () => knowers().every((n) => n.committed.includes(xid)));
    assert.deepEqual(net.violations, [], `seed ${seed}`);
    const ctx = `seed ${seed}, tick ${net.tickNo}: ${net.statusEverywhere(xid).join(',')}`;
    assert.ok(net.nodes[0]!.committed.includes(xid), `child at the entry: ${ctx}`);
    assert.ok(knowers().every((n) => n.committed.includes(xid)), `child at every peer that learned it: ${ctx}`);
  });
}
