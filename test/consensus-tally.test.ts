/**
 * The ring and the tally against slow, obviously correct references on random input
 * (STYLE §13): windows by sorting bigints and counting indices, tallies by recounting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Ring } from '../consensus/ring.js';
import { meetsThreshold, tally } from '../consensus/tally.js';
import { toHex } from '../consensus/hex.js';
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

function naiveTally(members: bigint[], w: number, tokens: bigint[], id: bigint, votes: Map<bigint, number>): { tokens: number[]; witness: number } {
  const memberSet = new Set(members);
  const t = tokens.map((tok, i) => {
    const win = naiveWindow(members, tok, w);
    let s = 0;
    for (const [v, mask] of votes) if (memberSet.has(v) && win.has(v)) s += (mask >> i) & 1 ? 1 : -1;
    return s;
  });
  const win = naiveWindow(members, id, w);
  let c = 0;
  for (const v of votes.keys()) if (memberSet.has(v) && win.has(v)) c++;
  return { tokens: t, witness: c };
}

const hex = (x: bigint) => toHex(bigToBytes(x));

/** Positions clustered so windows, wrap-around and ties between keys and members all occur. */
const arbPos = fc.oneof(
  fc.bigInt({ min: 0n, max: RING - 1n }),
  fc.bigInt({ min: 0n, max: 64n }),
  fc.bigInt({ min: RING - 64n, max: RING - 1n }),
  fc.bigInt({ min: 1n << 255n, max: (1n << 255n) + 64n }),
);

test('differential: tally equals a naive recount on random rings and vote sets', () => {
  fc.assert(
    fc.property(
      fc.array(arbPos, { minLength: 0, maxLength: 40 }),
      fc.array(arbPos, { minLength: 1, maxLength: 6 }),
      arbPos,
      fc.array(fc.tuple(arbPos, fc.integer({ min: 0, max: 255 }), fc.boolean()), { maxLength: 50 }),
      fc.integer({ min: 1, max: 6 }),
      (members, tokens, id, rawVotes, w) => {
        // Voters: some members (the boolean picks a member), some strangers.
        const votes = new Map<bigint, number>();
        for (const [pos, mask, pickMember] of rawVotes) {
          const v = pickMember && members.length > 0 ? (members[Number(pos % BigInt(members.length))] as bigint) : pos;
          votes.set(v, mask);
        }
        const ring = Ring.of(members.map(bigToBytes));
        const got = tally(ring, w, tokens.map(hex), hex(id), [...votes].map(([v, m]) => [hex(v), m] as const));
        const want = naiveTally(members, w, tokens, id, votes);
        assert.deepEqual({ tokens: [...got.tokens], witness: got.witness }, want);
        assert.equal(meetsThreshold(got, 2), want.witness > 2 && want.tokens.every((x) => x > 2));
      },
    ),
    { seed: SEED, numRuns: 400 },
  );
});

test('differential: window membership, closest and polling pairs', () => {
  fc.assert(
    fc.property(fc.array(arbPos, { minLength: 1, maxLength: 30 }), arbPos, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 6 }), (members, key, w, count) => {
      const ring = Ring.of(members.map(bigToBytes));
      const sorted = [...new Set(members)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const win = naiveWindow(members, key, w);
      for (const m of sorted) assert.equal(ring.inWindow(hex(key), hex(m), w), win.has(m));
      assert.deepEqual(new Set(ring.window(hex(key), w)), new Set([...win].map(hex)));
      // closest: the `count` smallest ring distances (ties to the lower address).
      const dist = (m: bigint) => {
        const d = m > key ? m - key : key - m;
        return d < RING - d ? d : RING - d;
      };
      const want = [...sorted].sort((a, b) => (dist(a) < dist(b) ? -1 : dist(a) > dist(b) ? 1 : a < b ? -1 : 1)).slice(0, count);
      assert.deepEqual(ring.closest(hex(key), count), want.map(hex));
      // pair s = {A[j−s−1], A[j+s]}.
      let j = sorted.findIndex((m) => m >= key);
      if (j < 0) j = 0;
      const n = sorted.length;
      for (let s = 0; s < 4; s++) {
        const pair = new Set([sorted[(((j - s - 1) % n) + n) % n], sorted[(j + s) % n]].map((x) => hex(x as bigint)));
        assert.deepEqual(new Set(ring.pair(hex(key), s)), pair);
      }
    }),
    { seed: SEED, numRuns: 400 },
  );
});

test('a ring of at most 2w + 2 puts every member in every window; one more does not', () => {
  const members = Array.from({ length: 10 }, (_, i) => BigInt(i) << 200n);
  const ring = Ring.of(members.map(bigToBytes));
  for (const m of members) assert.equal(ring.inWindow(hex(0n), hex(m), 4), true);
  const eleven = Ring.of([...members, 10n << 200n].map(bigToBytes));
  const inside = members.filter((m) => eleven.inWindow(hex(0n), hex(m), 4));
  assert.equal(inside.length + (eleven.inWindow(hex(0n), hex(10n << 200n), 4) ? 1 : 0), 9);
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
