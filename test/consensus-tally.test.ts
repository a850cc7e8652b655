/**
 * The ring and the tally against slow, obviously correct references on random input
 * (STYLE §13): windows by sorting bigints and counting indices, tallies by recounting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Ring } from '../consensus/ring.js';
import { hostReports, meetsQuorum, tally } from '../consensus/tally.js';
import { PeerIds } from '../consensus/keys.js';
import type { VoteRecord } from '../consensus/votes.js';
import { committedVote, REJECTED } from '../consensus/votes.js';
import { bigToBytes, Rig } from './helpers/consensus-fixtures.js';

const SEED = 0x7a11_1e5;
const RING = 1n << 256n;

/** window(k) by the definition: sort, find the first member ≥ k (wrapping), take j−w..j+w. */
function naiveWindow(members: bigint[], key: bigint, w: number): Set<bigint> {
  const sorted = [...new Set(members)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const n = sorted.length;
  if (n <= 2 * w + 2) return new Set(sorted);
  let j = sorted.findIndex((m) => m >= key);
  if (j < 0) j = 0;
  const out = new Set<bigint>();
  for (let d = -w; d <= w; d++) out.add(sorted[(((j + d) % n) + n) % n] as bigint);
  return out;
}

interface Naive {
  pos: number[];
  neg: number[];
}

function naiveTally(members: bigint[], w: number, tokens: bigint[], votes: Map<bigint, { pos: number; neg: number }>): Naive {
  const memberSet = new Set(members);
  const pos = tokens.map(() => 0);
  const neg = tokens.map(() => 0);
  tokens.forEach((tok, i) => {
    const win = naiveWindow(members, tok, w);
    for (const [v, vote] of votes) {
      if (!memberSet.has(v) || !win.has(v)) continue;
      const committed = (vote.pos & 0xc0) === 0xc0 && vote.neg === 0;
      const rejected = vote.pos === 0 && vote.neg === 0xc0;
      if (committed || (vote.pos >> i) & 1) pos[i] = (pos[i] as number) + 1;
      else if (rejected || (vote.neg >> i) & 1) neg[i] = (neg[i] as number) + 1;
    }
  });
  return { pos, neg };
}

/** Positions clustered so windows, wrap-around and ties between keys and members all occur. */
const arbPos = fc.oneof(
  fc.bigInt({ min: 0n, max: RING - 1n }),
  fc.bigInt({ min: 0n, max: 64n }),
  fc.bigInt({ min: RING - 64n, max: RING - 1n }),
  fc.bigInt({ min: 1n << 255n, max: (1n << 255n) + 64n }),
);

/** Votes as the wire allows them: per-entry bits (disjoint), committed with host bits, or rejected. */
const arbVote = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 63 })).map(([p, n]) => ({ pos: p, neg: n & ~p })),
  fc.integer({ min: 0, max: 63 }).map((h) => committedVote(h)),
  fc.constant({ ...REJECTED }),
);

function ringOf(ids: PeerIds, members: bigint[]): Ring {
  return Ring.of(ids, members.map((m) => ids.intern(bigToBytes(m))));
}

test('differential: tally equals a naive recount on random rings and vote sets', () => {
  fc.assert(
    fc.property(
      fc.array(arbPos, { minLength: 0, maxLength: 40 }),
      fc.array(arbPos, { minLength: 1, maxLength: 6 }),
      fc.array(fc.tuple(arbPos, arbVote, fc.boolean()), { maxLength: 50 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 13 }),
      (members, tokens, rawVotes, w, q) => {
        // Voters: some members (the boolean picks a member), some strangers.
        const votes = new Map<bigint, { pos: number; neg: number }>();
        for (const [pos, vote, pickMember] of rawVotes) {
          const v = pickMember && members.length > 0 ? (members[Number(pos % BigInt(members.length))] as bigint) : pos;
          votes.set(v, vote);
        }
        const ids = new PeerIds();
        const ring = ringOf(ids, members);
        const records = new Map<number, VoteRecord>();
        for (const [v, vote] of votes) records.set(ids.intern(bigToBytes(v)), { ...vote, order: 0 });
        const got = tally(ring, w, tokens.map(bigToBytes), records);
        const want = naiveTally(members, w, tokens, votes);
        assert.deepEqual({ pos: [...got.pos], neg: [...got.neg] }, want);
        const commits = want.pos.every((p, i) => p >= q && p - (want.neg[i] as number) > 2);
        assert.equal(meetsQuorum(got, q, 2), commits);
      },
    ),
    { seed: SEED, numRuns: 400 },
  );
});

test('host reports: distinct voters with a committed vote that claims a host bit; nothing else counts', () => {
  const votes = new Map<number, VoteRecord>([
    [1, { ...committedVote(0b1), order: 0 }],
    [2, { ...committedVote(0b10), order: 0 }],
    [3, { ...committedVote(0), order: 0 }],
    [4, { pos: 0b1, neg: 0, order: 0 }],
    [5, { ...REJECTED, order: 0 }],
  ]);
  assert.equal(hostReports(votes), 2);
  votes.set(3, { ...committedVote(0b100), order: 1 });
  assert.equal(hostReports(votes), 3);
});

test('differential: window membership and closest (by 48-bit ring position)', () => {
  fc.assert(
    fc.property(fc.array(arbPos, { minLength: 1, maxLength: 30 }), arbPos, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 6 }), (members, key, w, count) => {
      const ids = new PeerIds();
      const ring = ringOf(ids, members);
      const idOf = (m: bigint): number => ids.intern(bigToBytes(m));
      const sorted = [...new Set(members)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const win = naiveWindow(members, key, w);
      const k = bigToBytes(key);
      for (const m of sorted) assert.equal(ring.inWindow(k, idOf(m), w), win.has(m));
      assert.deepEqual(new Set(ring.window(k, w)), new Set([...win].map(idOf)));
      // closest: the `count` smallest distances between the top 48 bits, nearest first (members
      // that share their top 48 bits tie, and any of them may be picked).
      const top = (x: bigint): bigint => x >> 208n;
      const space = 1n << 48n;
      const dist = (m: bigint): bigint => {
        const d = top(m) > top(key) ? top(m) - top(key) : top(key) - top(m);
        return d < space - d ? d : space - d;
      };
      const want = sorted.map(dist).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, count);
      const byId = new Map(sorted.map((m) => [idOf(m), m] as const));
      const got = ring.closest(k, count);
      assert.equal(new Set(got).size, got.length);
      assert.deepEqual(got.map((id) => dist(byId.get(id) as bigint)), want);
    }),
    { seed: SEED, numRuns: 400 },
  );
});

test('a ring of at most 2w + 2 puts every member in every window; one more does not', () => {
  const ids = new PeerIds();
  const members = Array.from({ length: 10 }, (_, i) => BigInt(i) << 200n);
  const ring = ringOf(ids, members);
  for (const m of members) assert.equal(ring.inWindow(bigToBytes(0n), ids.intern(bigToBytes(m)), 4), true);
  const eleven = ringOf(ids, [...members, 10n << 200n]);
  assert.equal(eleven.window(bigToBytes(0n), 4).length, 9);
});

test('differential: a peer hosts exactly the tokens whose window it would be in (ring plus itself)', () => {
  fc.assert(
    fc.property(fc.uniqueArray(arbPos, { minLength: 0, maxLength: 25 }), arbPos, fc.array(arbPos, { minLength: 1, maxLength: 10 }), (members, self, tokens) => {
      fc.pre(!members.includes(self));
      const rig = new Rig(bigToBytes(self), members.map(bigToBytes));
      for (const t of tokens) {
        const want = members.length <= 10 || naiveWindow([...members, self], t, 4).has(self);
        assert.equal(rig.peer.hosts(bigToBytes(t)), want);
      }
    }),
    { seed: SEED, numRuns: 200 },
  );
});
