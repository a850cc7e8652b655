/**
 * The peer lifecycle (PROTOCOL §7): election decisions, the genesis walk against a plain scan,
 * elections between a few peers driven by hand, and networks formed in the simulator from two
 * bootstrap peers each, with peers that cannot prove storage among them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCrypto } from '../kernels/crypto.js';
import { common, electionWinner, type ElectionAnswer } from '../consensus/election.js';
import { GenesisTable } from '../consensus/genesis.js';
import { PeerLifecycle, type LifecycleParams, type LifeMessage, type LifeSend } from '../consensus/lifecycle.js';
import { buildStorageProof, buildStorageProofByMatch, verifyStorageProof, type RingWalker } from '../consensus/storage-proof.js';
import { compare32, prefix48, PREFIX_SPACE } from '../consensus/keys.js';
import type { ProofPair } from '../wire/msg-answer.js';
import type { RingDirection, TokenEntry } from '../store/ring-walk.js';
import { runSimulation } from '../tools/sim/engine.js';
import { SeededRng } from './helpers/seeded-rng.js';

const { blake3 } = await loadCrypto();
const ZERO = new Uint8Array(32);

function pairs(seed: number, shared = 10): ProofPair[] {
  const rng = new SeededRng(seed);
  const base = new SeededRng(999);
  return Array.from({ length: 10 }, (_, k) => ({ token: k < shared ? base.bytes(32) : (base.bytes(32), rng.bytes(32)), block: ZERO }));
}

test('election: identical proofs elect the closest responder; a lone or split view elects nobody', () => {
  const honest = pairs(1);
  const a = (distance: number, p = honest): ElectionAnswer => ({ distance, pairs: p });
  assert.equal(common(honest, pairs(2, 8)), 8);
  assert.equal(electionWinner([a(5), a(2), a(9)]), 1);
  assert.equal(electionWinner([a(5)]), null, 'one answer is no cluster');
  // A forger closer to the challenge than every honest responder, with pairs of its own.
  assert.equal(electionWinner([a(0, pairs(7, 0)), a(4), a(6)]), 1);
  // 8 of 10 shared still agrees; 7 does not.
  assert.equal(electionWinner([a(1, pairs(3, 8)), a(2)]), 0);
  assert.equal(electionWinner([a(1, pairs(3, 7)), a(2)]), null);
  // Two disjoint clusters of two: a split view decides nothing; share below 0.6 neither.
  const other = pairs(11, 0);
  assert.equal(electionWinner([a(1), a(2), a(3, other), a(4, other)]), null);
  assert.equal(electionWinner([a(1), a(2), a(3, pairs(21, 0)), a(4, pairs(22, 0)), a(5, pairs(23, 0))]), null);
});

/** The genesis tokens a view holds, as a plain store, to check `nextMatch` against the scanning walk. */
class ListWalker implements RingWalker {
  constructor(private readonly tokens: readonly Uint8Array[], private readonly block: Uint8Array) {}
  tokensFrom(token: Uint8Array, direction: RingDirection, limit: number): TokenEntry[] {
    const n = this.tokens.length;
    let i = this.tokens.findIndex((t) => (direction === 'up' ? compare32(t, token) > 0 : compare32(t, token) >= 0));
    if (i < 0) i = direction === 'up' ? 0 : n;
    const out: TokenEntry[] = [];
    for (let step = 0; step < n && out.length < limit; step++) {
      const t = this.tokens[direction === 'up' ? (i + step) % n : (((i - 1 - step) % n) + n) % n] as Uint8Array;
      if (compare32(t, token) === 0) continue;
      out.push({ token: t, mapping: { block: this.block, parent: ZERO, time: 0, seq: 0, source: 'vote' } });
    }
    return out;
  }
}

test('genesis: the indexed walk finds the same proof as a scan of the same tokens, and stops at the edge of the reach', () => {
  const table = new GenesisTable(blake3, 3n, 15);
  const rng = new SeededRng(5);
  let built = 0;
  let refused = 0;
  for (let k = 0; k < 40; k++) {
    const center = rng.bytes(32);
    const reach = 0.2 + rng.int(30) / 100;
    const view = table.view(center, reach);
    const held = table.tokens.filter((t) => view.holds(prefix48(t)));
    // Tokens near the centre, and near the edge of the reach, where walks run out.
    const d = Math.floor((k % 2 === 0 ? 0.05 : reach - 0.01) * PREFIX_SPACE);
    const token = rng.bytes(32);
    const p = (prefix48(center) + d) % PREFIX_SPACE;
    for (let i = 5; i >= 0; i--) token[i] = Math.floor(p / 256 ** (5 - i)) % 256;
    const requester = rng.bytes(32);
    const byIndex = buildStorageProofByMatch(blake3, view, requester, token, ZERO);
    const byScan = buildStorageProof(blake3, new ListWalker(held, table.block), requester, token, ZERO);
    // The scan may wrap past the far edge of the reach into the held arc's other end; the index
    // never leaves the arc. Where both give a proof it is the same one.
    if (byIndex !== null) {
      built++;
      assert.deepEqual(byIndex, byScan);
      assert.deepEqual(verifyStorageProof(blake3, requester, token, ZERO, byIndex), { ok: true });
    } else refused++;
  }
  assert.ok(built >= 15 && refused >= 5, `built ${built}, refused ${refused}`);
  // A peer derives only the tokens within its reach: the same ones, in the same order.
  for (const reach of [0.01, 0.2, 0.45]) {
    const center = rng.bytes(32);
    const part = new GenesisTable(blake3, 3n, 15, { center, reach });
    const view = table.view(center, reach);
    const inReach = (t: Uint8Array): boolean => view.holds(prefix48(t));
    assert.deepEqual(part.tokens.filter(inReach), table.tokens.filter(inReach));
    assert.ok(part.tokens.length < table.tokens.length);
  }
});

test('genesis: a table built for an arc alone ends every walk at the arc edge, as the whole table does', () => {
  const bits = 16;
  const full = new GenesisTable(blake3, 3n, bits);
  const rng = new SeededRng(12);
  for (let k = 0; k < 6; k++) {
    const center = rng.bytes(32);
    const reach = 0.01 + rng.int(10) / 100;
    const part = new GenesisTable(blake3, 3n, bits, { center, reach });
    const pv = part.view(center, reach);
    const fv = full.view(center, reach);
    // From the held tokens nearest each edge, walking outward.
    const held = part.tokens.filter((t) => pv.holds(prefix48(t)));
    for (const [from, dir] of [[held.at(-1), 'up'], [held[0], 'down'], [held.at(-1), 'down'], [held[0], 'up']] as const) {
      for (let low = 0; low < 1024; low += 37) assert.deepEqual(pv.nextMatch(from as Uint8Array, dir, low), fv.nextMatch(from as Uint8Array, dir, low));
    }
  }
});

/** A few lifecycles exchanging messages by hand, one hop per step. */
function harness(n: number, proofFor: (i: number) => 'store' | 'none', params: Partial<LifecycleParams> = {}) {
  const table = new GenesisTable(blake3, 3n, 16);
  const rng = new SeededRng(17);
  const addresses = Array.from({ length: n }, () => rng.bytes(32)).sort(compare32);
  const make = (i: number): PeerLifecycle => {
    const address = addresses[i] as Uint8Array;
    const view = table.view(address, 0.5);
    const r = new SeededRng(100 + i);
    return new PeerLifecycle(
      {
        blake3,
        random: () => r.next(),
        proof: (requester, token) => {
          if (proofFor(i) === 'none') return null;
          const p = buildStorageProofByMatch(blake3, view, requester, token, ZERO);
          return p === null ? null : { block: ZERO, pairs: p };
        },
      },
      address,
      params,
    );
  };
  const lives = addresses.map((_, i) => make(i));
  const index = new Map(addresses.map((a, i) => [Buffer.from(a).toString('hex'), i]));
  let queue: { from: number; send: LifeSend }[] = [];
  /** One tick of every lifecycle, then one hop of delivery; `onSent` sees what each sent. */
  const step = (onSent?: (i: number, sent: readonly LifeSend[]) => void): void => {
    lives.forEach((l, i) => {
      const sent = l.tick().messages;
      onSent?.(i, sent);
      queue.push(...sent.map((send) => ({ from: i, send })));
    });
    const now = queue;
    queue = [];
    for (const { from, send } of now) {
      const to = index.get(Buffer.from(send.to).toString('hex'));
      if (to === undefined) continue;
      const out = (lives[to] as PeerLifecycle).receive(addresses[from] as Uint8Array, send.message as LifeMessage);
      queue.push(...out.messages.map((s) => ({ from: to, send: s })));
    }
  };
  const run = (ticks: number): void => {
    for (let t = 0; t < ticks; t++) step();
  };
  /** Like run, counting the elections peer `who` starts (distinct FIND tickets); `keepAlive` marks every Connected peer heard each tick, as the daemon's PINGs do. */
  const elections = (ticks: number, who: number, keepAlive: boolean): number => {
    const tickets = new Set<string>();
    for (let t = 0; t < ticks; t++) {
      if (keepAlive) for (const l of lives) for (const a of l.connected()) l.heard(a);
      step((i, sent) => {
        if (i === who) for (const m of sent) if (m.message.type === 'find') tickets.add(Buffer.from(m.message.ticket).toString('hex'));
      });
    }
    return tickets.size;
  };
  return { addresses, lives, run, make, elections };
}

test('lifecycle: twelve peers that each know one other find each other; one that cannot prove storage is never Connected', () => {
  const n = 12;
  const h = harness(n, (i) => (i === 5 ? 'none' : 'store'));
  h.lives.forEach((l, i) => l.learn(h.addresses[(i + 7) % n] as Uint8Array));
  h.run(300);
  for (const [i, l] of h.lives.entries()) {
    const connected = new Set(l.connected().map((a) => Buffer.from(a).toString('hex')));
    assert.ok(!connected.has(Buffer.from(h.addresses[5] as Uint8Array).toString('hex')), `peer ${i} holds the peer without storage Connected`);
    if (i === 5) continue;
    assert.ok(connected.size >= 8, `peer ${i}: ${connected.size} Connected`);
    // Connections are mutual.
    for (const a of l.connected()) assert.equal(h.lives[h.addresses.findIndex((x) => compare32(x, a) === 0)]?.stateOf(h.addresses[i] as Uint8Array), 'connected');
  }
});

test('lifecycle: in a network of at most 2w + 1, where every peer hosts everything and each knows one other both ways (as an identity handshake leaves them), every peer finds all the others', () => {
  const n = 8;
  const h = harness(n, () => 'store');
  for (let i = 1; i < n; i++) {
    (h.lives[i] as PeerLifecycle).learn(h.addresses[i - 1] as Uint8Array);
    (h.lives[i - 1] as PeerLifecycle).learn(h.addresses[i] as Uint8Array);
  }
  h.run(300);
  for (const [i, l] of h.lives.entries()) assert.equal(l.connected().length, n - 1, `peer ${i}: ${l.connected().length} Connected`);
});

test('lifecycle: a restarted peer that invites its former Connected peers again has them Connected within a few ticks, without elections', () => {
  const n = 8;
  const h = harness(n, () => 'store');
  h.lives.forEach((l, i) => l.learn(h.addresses[(i + 1) % n] as Uint8Array));
  h.run(300);
  const before = h.lives[0]!.connected();
  assert.equal(before.length, n - 1);
  // Peer 0 restarts: a fresh lifecycle that knows its former Connected peers and invites them.
  const fresh = h.make(0);
  h.lives[0] = fresh;
  const invites = before.flatMap((a) => {
    fresh.learn(a);
    return fresh.rejoin(a).messages;
  });
  assert.equal(invites.length, n - 1);
  assert.equal(fresh.pending().length, n - 1);
  // The others still hold it Connected: each invites it back, which makes it Connected here.
  for (const inv of invites) {
    const to = h.addresses.findIndex((x) => compare32(x, inv.to) === 0);
    for (const back of h.lives[to]!.receive(h.addresses[0] as Uint8Array, inv.message).messages) fresh.receive(h.addresses[to] as Uint8Array, back.message);
  }
  assert.equal(fresh.connected().length, n - 1);
  assert.deepEqual(fresh.rejoin(before[0] as Uint8Array).messages, [], 'a Connected peer is not invited again');
});

test('lifecycle: with calm back-off and keep-alives, a settled table elects ever more rarely and a newly known peer brings the pace back; without back-off the pace stays', () => {
  const n = 8;
  const settle = (params: Partial<LifecycleParams>) => {
    const h = harness(n, () => 'store', params);
    h.lives.forEach((l, i) => l.learn(h.addresses[(i + 1) % n] as Uint8Array));
    h.run(300);
    assert.ok(h.lives.every((l) => l.connected().length === n - 1));
    return h;
  };
  // Without back-off (the default): an election every 20 ticks, 160 in 3 200.
  assert.ok(settle({}).elections(3200, 0, true) >= 120);
  // Backing off to 320 ticks: 20, 40, 80, 160, then 320 apart, about 13 in 3 200.
  const h = settle({ calmMaxTicks: 320 });
  const settled = h.elections(3200, 0, true);
  assert.ok(settled >= 5 && settled <= 20, `${settled} elections in 3 200 settled ticks`);
  assert.ok(h.lives.every((l) => l.connected().length === n - 1), 'keep-alives keep the table settled');
  // A new peer (it never answers) resets the pace: after the election already due, 20 ticks again.
  (h.lives[0] as PeerLifecycle).learn(new SeededRng(9).bytes(32));
  const after = h.elections(640, 0, true);
  assert.ok(after >= 6, `${after} elections in the 640 ticks after a new peer`);
});

test('lifecycle: tick(elapsed) advances timeouts by the ticks skipped: a Pending invitation expires after 30 ticks either way', () => {
  for (const step of [1, 10]) {
    const h = harness(2, () => 'store');
    const l = h.lives[0] as PeerLifecycle;
    l.learn(h.addresses[1] as Uint8Array);
    l.rejoin(h.addresses[1] as Uint8Array);
    assert.equal(l.pending().length, 1);
    for (let t = 0; t < 20; t += step) l.tick(step);
    assert.equal(l.pending().length, 1, `step ${step}: still Pending after 20 ticks`);
    for (let t = 0; t < 20; t += step) l.tick(step);
    assert.equal(l.pending().length, 0, `step ${step}: no longer Pending after 40 ticks`);
  }
});

test('lifecycle: a peer that knows nobody has not formed its neighbourhood (it does not vote)', () => {
  const h = harness(3, () => 'store');
  const lone = h.lives[0] as PeerLifecycle;
  for (let t = 0; t < 20; t++) lone.tick();
  assert.equal(lone.formed(), false);
  h.lives.forEach((l, i) => l.learn(h.addresses[(i + 1) % 3] as Uint8Array));
  h.run(200);
  assert.ok(h.lives.every((l) => l.formed() && l.connected().length === 2));
});

test('lifecycle: a flood of identities that never answer leaves the Connected set alone and the table bounded', () => {
  const h = harness(10, () => 'store');
  h.lives.forEach((l, i) => l.learn(h.addresses[(i + 3) % 10] as Uint8Array));
  h.run(200);
  const before = h.lives.map((l) => l.connected().length);
  const rng = new SeededRng(3);
  for (let k = 0; k < 5000; k++) (h.lives[0] as PeerLifecycle).learn(rng.bytes(32));
  h.run(100);
  assert.deepEqual(h.lives.map((l) => l.connected().length), before);
  const c = (h.lives[0] as PeerLifecycle).counts();
  assert.ok(c.identified + c.pending + c.connected <= 512, JSON.stringify(c));
});

test('sim: 2 000 peers from 2 bootstrap peers each, 10 % unable to prove storage: accuracy ≥ 0.95 well within 600 ticks, none of them Connected at an honest peer', () => {
  const r = runSimulation({ peers: 2000, ticks: 120, drainTicks: 0, topology: 'dense', net: 'same-dc', blocksPerTick: 0, tokensPerBlock: 1, conflicts: 0, seed: 1, bootstrap: 2, byzantine: { nostore: 0.1 } });
  const n = r.report.network;
  assert.ok(n !== null);
  assert.ok(n.convergedTick !== null && n.convergedTick <= 600, `converged at ${String(n.convergedTick)}`);
  assert.ok((n.accuracy ?? 0) >= 0.95, `accuracy ${String(n.accuracy)}`);
  assert.equal(n.nostoreConnected, 0);
});

test('sim: consensus on a network that forms while blocks commit keeps every invariant and commits no contender two ways', () => {
  const r = runSimulation({ peers: 150, ticks: 160, drainTicks: 60, topology: 'dense', net: 'same-dc', blocksPerTick: 2, tokensPerBlock: 1, conflicts: 0.3, late: 0.2, transfers: 0.5, seed: 4, bootstrap: 1, byzantine: { nostore: 0.1 }, churn: { rate: 0.002, downTicks: 20 }, stopOnViolation: false });
  assert.equal(r.report.invariants.violations, 0, r.report.invariants.first.join('; '));
  assert.equal(r.report.families.twoWay, 0);
  assert.ok(r.report.families.conflicted >= 40);
  assert.ok(r.report.blocks.honestCommitted > r.report.blocks.honest * 0.7, `${r.report.blocks.honestCommitted}/${r.report.blocks.honest}`);
  assert.equal(r.report.network?.nostoreConnected, 0);
});
