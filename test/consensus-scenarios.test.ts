/**
 * One ConsensusPeer driven by hand (PROTOCOL §5, v2): three-valued votes, locks, the quorum and
 * +T rule, learning, the origin, restarts and stalled conflict families, plus validation,
 * fetching, authority and batching.
 *
 * Two layouts: a whole ring (≤ 2w + 2 = 10 Connected peers: every peer is in every window and
 * hosts every token) and rings built with `bigToBytes` where the test decides who hosts what.
 * Default parameters: w = 4, T = 2, q = 6, mempool lifetime 200 ticks, catch-up 12 ticks.
 *
 * A block that becomes valid in receive()/submit() votes and sends its first wave at the next
 * tick (answers to its askers too): tests look for those messages, locks and catch-up deadlines
 * after `rig.tick()`. `voteOf` before that tick works the vote out early (it may take the lock),
 * so tests about which contender locks read it only after the tick.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SignedBlock } from '../wire/block.js';
import { makeCommitRecord, ZERO_ID } from '../wire/block.js';
import { toHex } from '../consensus/hex.js';
import type { Message } from '../consensus/messages.js';
import type { ConsensusEvent } from '../consensus/peer.js';
import { isCommittedMasks, REJECTED } from '../consensus/votes.js';
import { allEntries, bigToBytes, bytesToBig, hexId, idOf, makeBlock, Rig, signer, T0 } from './helpers/consensus-fixtures.js';
import { SeededRng } from './helpers/seeded-rng.js';
import { COVER_BYTES, coverAdd, covers } from '../wire/cover.js';
import { testBlake3, testEd25519 } from './helpers/noble-crypto.js';

const SEED = 42;
/** Spacing of the peers in built rings: far below any random distance between unrelated keys. */
const GAP = 1n << 200n;
const HALF = 1n << 255n;
const NO = { pos: 0, neg: 0 } as const;
const PLUS = { pos: 1, neg: 0 } as const;
const MINUS = { pos: 0, neg: 1 } as const;

type Sent = Exclude<Message, { type: 'batch' }>;

function randomPeers(n: number, rng: SeededRng): Uint8Array[] {
  return Array.from({ length: n }, () => rng.bytes(32));
}

/** Peers at c + k·GAP for each k. */
function around(c: bigint, ks: readonly number[]): Uint8Array[] {
  return ks.map((k) => bigToBytes(c + BigInt(k) * GAP));
}

function hexSet(xs: readonly Uint8Array[]): Set<string> {
  return new Set(xs.map(toHex));
}

/**
 * Whole ring: `n` ≤ 10 random Connected peers. `commit(b)` has six of them vote `+` on every entry
 * (a quorum; our own vote never counts) and ticks once.
 */
function wholeNet(n = 9, seed = SEED) {
  const rng = new SeededRng(seed);
  const P = randomPeers(n, rng);
  const rig = new Rig(rng.bytes(32), P, { seed });
  const commit = (b: SignedBlock) => {
    for (const p of P.slice(0, rig.params.quorum)) rig.vote(p, b, allEntries(b), 0);
    const [out] = rig.tick();
    assert.equal(rig.peer.status(idOf(b)), 'committed', `seed ${seed}`);
    assert.ok(out!.events.some((e) => e.kind === 'committed' && e.id === hexId(b) && !e.learned));
  };
  return { rng, P, rig, commit };
}

/**
 * Self at S with twelve Connected peers at S ± k·GAP (k = 1..6). A token just above S is hosted
 * (its window over Connected ∪ self holds self); a token half a ring away is not.
 */
function clusterNet(seed = SEED) {
  const rng = new SeededRng(seed);
  const S = 1n << 254n;
  const ks = [-6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6];
  const P = around(S, ks);
  const at = (k: number) => P[ks.indexOf(k)] as Uint8Array;
  const rig = new Rig(bigToBytes(S), P, { seed });
  const near = (d: bigint) => bigToBytes(S + d);
  const far = (d: bigint) => bigToBytes(S + HALF + d);
  return { rng, P, at, rig, near, far };
}

/**
 * A creation B whose token T and id lie far apart, ten Connected peers around each, and self just
 * above T: window(T) and window(B.id) over Connected are disjoint.
 */
function splitNet(seed = SEED) {
  const rng = new SeededRng(seed);
  const ks = [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5];
  for (;;) {
    const T = rng.bytes(32);
    const B = makeBlock([{ token: T, next: signer(1) }], T0);
    const t = bytesToBig(T);
    const id = bytesToBig(idOf(B));
    const d = t > id ? t - id : id - t;
    if (d < 1n << 250n || d > (1n << 256n) - (1n << 250n)) continue;
    const byT = around(t, ks);
    const byId = around(id, ks);
    const rig = new Rig(bigToBytes(t + GAP / 2n), [...byT, ...byId], { seed });
    const inWindow = (k: number) => k >= -4;
    return { rig, T, B, byT, byId, ks, inWindow };
  }
}

/** Two blocks that conflict on (token, last); returned as [lower id, higher id]. */
function contenders(token: Uint8Array, last: Uint8Array, by: ReturnType<typeof signer>, time: number): [SignedBlock, SignedBlock] {
  const a = makeBlock([{ token, last, by, next: signer(101) }], time);
  const b = makeBlock([{ token, last, by, next: signer(102) }], time);
  return hexId(a) < hexId(b) ? [a, b] : [b, a];
}

/** Whole ring with a token T created by a committed B: the ground for contenders. */
function withToken(seed = SEED) {
  const net = wholeNet(9, seed);
  const owner = signer(1);
  const T = net.rng.bytes(32);
  const B = makeBlock([{ token: T, next: owner }], T0);
  net.rig.submit(B);
  net.commit(B);
  const [L, H] = contenders(T, idOf(B), owner, T0 + 10);
  return { ...net, owner, T, B, L, H };
}

function messagesTo(rig: Rig, to: Uint8Array, since: number): Sent[] {
  const h = toHex(to);
  return rig.sent(since).filter((m) => m.to === h).map((m) => m.message);
}

/** QUERY_BLOCKs for `block` the peer sent since log index `since`, with their ticks and receivers. */
function fetchesOf(rig: Rig, since: number, block: SignedBlock): ReturnType<Rig['sent']> {
  const id = hexId(block);
  return rig.sent(since).filter((m) => m.message.type === 'query-block' && toHex(m.message.blockId) === id);
}

function hasVote(ms: readonly Message[], id: Uint8Array, v: { pos: number; neg: number }, reply?: boolean): boolean {
  return ms.some((m) => m.type === 'vote' && toHex(m.blockId) === toHex(id) && m.pos === v.pos && m.neg === v.neg && (reply === undefined || m.reply === reply));
}

/** A message telling that `id` committed: a committed VOTE, or its block with a committed vote. */
function tellsCommitted(ms: readonly Message[], id: string): boolean {
  return ms.some((m) => (m.type === 'vote' && toHex(m.blockId) === id && isCommittedMasks(m.pos, m.neg)) || (m.type === 'initial-vote' && hexId(m) === id && isCommittedMasks(m.pos, m.neg)));
}

function hasBlock(ms: readonly Message[], id: string): boolean {
  return ms.some((m) => (m.type === 'initial-vote' || m.type === 'block') && hexId(m) === id);
}

/**
 * The votes our messages carried on `b` since log index `since` (first-wave INITIAL_VOTEs and
 * VOTEs alike), as `pos/neg` strings, with the receivers.
 */
function votesSentOn(rig: Rig, since: number, b: SignedBlock): { to: string; vote: string; type: string }[] {
  const id = hexId(b);
  const out: { to: string; vote: string; type: string }[] = [];
  for (const m of rig.sent(since)) {
    const x = m.message;
    if ((x.type === 'initial-vote' && hexId(x) === id) || (x.type === 'vote' && toHex(x.blockId) === id)) out.push({ to: m.to, vote: `${x.pos}/${x.neg}`, type: x.type });
  }
  return out;
}

function committedEvent(events: readonly ConsensusEvent[], b: SignedBlock): Extract<ConsensusEvent, { kind: 'committed' }> | undefined {
  return events.find((e): e is Extract<ConsensusEvent, { kind: 'committed' }> => e.kind === 'committed' && e.id === hexId(b));
}

/** Writes a synced mapping of `token` (no spend record), as sync (§6) would. */
function syncMapping(rig: Rig, token: Uint8Array, block: Uint8Array): void {
  const head = rig.store.head();
  const record = makeCommitRecord(testBlake3, { seq: head.seq + 1, prevId: head.id, time: rig.now, blockIds: [] });
  rig.store.apply({ commits: [record], blocks: [], tokens: [{ token, mapping: { block, parent: ZERO_ID, time: T0, seq: record.seq, source: 'sync' } }], spends: [] });
}

// ---------------------------------------------------------------------------------------------

describe('extension and atomicity', () => {
  test('a chain extension moves the mapping; the parent stays retrievable', () => {
    const { rng, rig, commit } = wholeNet();
    const owner = signer(1);
    const T = rng.bytes(32);
    const B = makeBlock([{ token: T, next: owner }], T0);
    rig.submit(B);
    commit(B);
    assert.deepEqual(rig.store.token(T)?.block, idOf(B));
    assert.deepEqual(rig.store.token(T)?.parent, ZERO_ID);
    const B2 = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 1);
    assert.equal(rig.submit(B2).status, 'pending');
    commit(B2);
    assert.deepEqual(rig.store.token(T)?.block, idOf(B2));
    assert.deepEqual(rig.store.token(T)?.parent, idOf(B));
    assert.ok(rig.store.block(idOf(B)));
    assert.equal(rig.store.head().seq, 2);
    assert.deepEqual(rig.store.commit(2)?.blockIds, [idOf(B2)]);
  });

  test('a 3-entry block moves all three mappings in one commit, or none', () => {
    const { rng, P, rig, commit } = wholeNet();
    const owner = signer(1);
    const tokens = [rng.bytes(32), rng.bytes(32), rng.bytes(32)];
    const C = makeBlock(tokens.map((token) => ({ token, next: owner })), T0);
    rig.submit(C);
    commit(C);
    const X = makeBlock(tokens.map((token) => ({ token, last: idOf(C), by: owner, next: signer(9) })), T0 + 5);
    rig.submit(X);
    assert.deepEqual(rig.peer.voteOf(idOf(X)), { pos: 0b111, neg: 0 });
    // Entry 2 has only q − 1 positives: nothing moves.
    for (const p of P.slice(0, 5)) rig.vote(p, X, 0b111, 0);
    rig.vote(P[5]!, X, 0b011, 0);
    assert.deepEqual(rig.peer.tallyOf(idOf(X)), { pos: [6, 6, 5], neg: [0, 0, 0] });
    const head = rig.store.head().seq;
    rig.tick(3);
    assert.equal(rig.peer.status(idOf(X)), 'pending');
    assert.equal(rig.store.head().seq, head);
    for (const t of tokens) assert.deepEqual(rig.store.token(t)?.block, idOf(C));
    // One more positive on entry 2: everything moves together.
    rig.vote(P[6]!, X, 0b111, 0);
    const [out] = rig.tick();
    assert.equal(rig.peer.status(idOf(X)), 'committed');
    assert.equal(out!.batch?.commits.length, 1);
    assert.deepEqual(out!.batch?.commits[0]?.blockIds, [idOf(X)]);
    assert.equal(out!.batch?.tokens.length, 3);
    for (const t of tokens) assert.deepEqual(rig.store.token(t)?.block, idOf(X));
  });

  test('a parent and its child can commit in the same tick, in order', () => {
    const { rng, P, rig } = wholeNet();
    const owner = signer(1);
    const T = rng.bytes(32);
    const B = makeBlock([{ token: T, next: owner }], T0);
    const B2 = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 1);
    rig.submit(B2); // parent unknown: awaits it
    assert.equal(rig.peer.status(idOf(B2)), 'awaiting-parents');
    rig.submit(B);
    assert.equal(rig.peer.status(idOf(B2)), 'pending');
    assert.deepEqual(rig.peer.voteOf(idOf(B2)), NO, 'behind until B commits');
    for (const p of P.slice(0, 6)) {
      rig.vote(p, B2, 1, 0);
      rig.vote(p, B, 1, 0);
    }
    const [out] = rig.tick();
    assert.deepEqual(out!.batch?.commits[0]?.blockIds.map(toHex), [hexId(B), hexId(B2)]);
    assert.deepEqual(rig.store.token(T)?.block, idOf(B2));
    assert.deepEqual(rig.peer.voteOf(idOf(B2)), { pos: 0xc1, neg: 0 });
  });
});

describe('three-valued vote (§5.2)', () => {
  test('`+`: a host votes `+` on a creation of an unknown token and on an extension of its committed, unspent mapping', () => {
    const { rng, P, rig, commit } = wholeNet();
    const owner = signer(1);
    const T = rng.bytes(32);
    const B = makeBlock([{ token: T, next: owner }], T0);
    rig.submit(B);
    assert.deepEqual(rig.peer.voteOf(idOf(B)), PLUS);
    commit(B);
    const X = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 1);
    const mark = rig.log.length;
    rig.initialVote(P[0]!, X, 1, 0);
    assert.deepEqual(votesSentOn(rig, mark, X), [], 'no vote and no wave before the tick');
    rig.tick();
    assert.deepEqual(rig.peer.voteOf(idOf(X)), PLUS);
    // The first wave, at the tick, carries it.
    const wave = votesSentOn(rig, mark, X).filter((m) => m.type === 'initial-vote');
    assert.ok(wave.length > 0, 'the first wave went out at the tick');
    assert.deepEqual(new Set(wave.map((m) => m.vote)), new Set(['1/0']));
  });

  test('`0`: an entry whose token this peer does not host; the hosted entry of the same block is `+`', () => {
    const { P, at, rig, near, far } = clusterNet();
    const N = near(GAP / 2n);
    const F = far(0n);
    assert.equal(rig.peer.hosts(N), true);
    assert.equal(rig.peer.hosts(F), false);
    // The windows over Connected, worked out by hand from the layout.
    assert.deepEqual(hexSet(rig.peer.windowOf(N)), hexSet([-4, -3, -2, -1, 1, 2, 3, 4, 5].map(at)));
    assert.deepEqual(hexSet(rig.peer.windowOf(F)), hexSet([-6, -5, -4, -3, -2, 3, 4, 5, 6].map(at)));
    const mixed = makeBlock([{ token: N, next: signer(1) }, { token: F, next: signer(1) }], T0);
    rig.initialVote(P[0]!, mixed, 0b11, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(mixed)), { pos: 0b01, neg: 0 });
    const farOnly = makeBlock([{ token: far(1n), next: signer(1) }], T0);
    rig.initialVote(P[0]!, farOnly, 1, 0);
    assert.equal(rig.peer.status(idOf(farOnly)), 'pending');
    assert.deepEqual(rig.peer.voteOf(idOf(farOnly)), NO);
  });

  test('`0`: a host that is behind (last not committed here) abstains, and re-votes `+` to the peers holding its `0` once the parent commits', () => {
    const { rng, P, rig, commit } = wholeNet();
    const owner = signer(1);
    const T = rng.bytes(32);
    const C = makeBlock([{ token: T, next: owner }], T0);
    rig.initialVote(P[0]!, C, 1, 0);
    const X = makeBlock([{ token: T, last: idOf(C), by: owner, next: signer(2) }], T0 + 10);
    const mark = rig.log.length;
    rig.initialVote(P[1]!, X, 1, 0);
    assert.equal(rig.peer.status(idOf(X)), 'pending');
    rig.tick(); // X (and C) vote and wave
    assert.equal(rig.peer.status(idOf(C)), 'pending');
    assert.deepEqual(rig.peer.voteOf(idOf(X)), NO, 'its parent is not committed here');
    const heldZero = [...new Set(rig.sent(mark).filter((m) => (m.message.type === 'initial-vote' && hexId(m.message) === hexId(X)) || (m.message.type === 'vote' && toHex(m.message.blockId) === hexId(X))).map((m) => m.to))];
    assert.ok(heldZero.length > 0, 'the first wave carried our 0');
    for (const m of rig.sent(mark)) if (m.message.type === 'initial-vote' && hexId(m.message) === hexId(X)) assert.deepEqual({ pos: m.message.pos, neg: m.message.neg }, NO);
    const mark2 = rig.log.length;
    commit(C);
    assert.deepEqual(rig.peer.voteOf(idOf(X)), PLUS);
    const after = rig.sent(mark2);
    for (const h of heldZero) {
      const ms = after.filter((m) => m.to === h).map((m) => m.message);
      assert.ok(hasVote(ms, idOf(X), PLUS, true), `peer ${h.slice(0, 8)} is told the new vote in the tick the parent commits`);
    }
  });

  test('`−`: a creation of a token that already has a mapping; a fresh creation in the same block stays `+`', () => {
    const { rng, P, rig } = wholeNet();
    const T = rng.bytes(32);
    const U = rng.bytes(32);
    syncMapping(rig, T, rng.bytes(32));
    const Y = makeBlock([{ token: T, next: signer(1) }, { token: U, next: signer(1) }], T0);
    rig.initialVote(P[0]!, Y, 0b11, 0);
    assert.equal(rig.peer.status(idOf(Y)), 'pending');
    assert.deepEqual(rig.peer.voteOf(idOf(Y)), { pos: 0b10, neg: 0b01 });
    // Control: without the mapping the same creation is `+`.
    const V = rng.bytes(32);
    const Z = makeBlock([{ token: V, next: signer(1) }], T0);
    rig.initialVote(P[0]!, Z, 1, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(Z)), PLUS);
  });

  test('`−`: a creation of a token a committed block created is a blocked contender, rejected on every entry', () => {
    const { P, rig, T, B } = withToken();
    const C = makeBlock([{ token: T, next: signer(7) }], T0 + 1);
    const mark = rig.log.length;
    rig.initialVote(P[0]!, C, 1, 0);
    assert.equal(rig.peer.status(idOf(C)), 'blocked');
    assert.deepEqual(rig.peer.winnerOf(idOf(C)), idOf(B));
    assert.deepEqual(rig.peer.voteOf(idOf(C)), REJECTED);
    assert.ok(hasVote(messagesTo(rig, P[0]!, mark), idOf(C), REJECTED, false), 'its sender hears rejected');
    for (const p of P) rig.vote(p, C, 1, 0);
    rig.tick(3);
    assert.equal(rig.peer.status(idOf(C)), 'blocked');
    assert.deepEqual(rig.store.token(T)?.block, idOf(B));
  });

  test('`−`: an entry whose (token, last) a committed block spent: blocked, rejected, never commits whatever the votes', () => {
    const { rng, P, rig, commit, T, L: X, H: Y } = withToken();
    rig.initialVote(P[0]!, X, 1, 0);
    commit(X);
    const mark = rig.log.length;
    rig.initialVote(P[7]!, Y, 1, 0);
    assert.equal(rig.peer.status(idOf(Y)), 'blocked');
    assert.deepEqual(rig.peer.winnerOf(idOf(Y)), idOf(X));
    assert.deepEqual(rig.peer.voteOf(idOf(Y)), REJECTED);
    assert.ok(hasVote(messagesTo(rig, P[7]!, mark), idOf(Y), REJECTED, false));
    // A later question about Y is answered rejected at once, with the winner.
    const asker = rng.bytes(32);
    const m2 = rig.log.length;
    rig.vote(asker, Y, 0, 0, true, { client: true });
    const toAsker = messagesTo(rig, asker, m2);
    assert.ok(hasVote(toAsker, idOf(Y), REJECTED, false));
    assert.ok(hasBlock(toAsker, hexId(X)), 'the asker is sent the winner');
    for (const p of P) rig.committed(p, Y);
    rig.tick(5);
    assert.equal(rig.peer.status(idOf(Y)), 'blocked');
    assert.deepEqual(rig.store.token(T)?.block, idOf(X));
  });

  // Regression: forwardWinner once went through tell(), which returns early for a peer already
  // told X in X's first wave, so a peer that sent the losing contender never heard X committed.
  test('the sender of a blocked contender hears that the winner committed, even when the first wave gave it the winner’s body', () => {
    const { P, rig, commit, L: X, H: Y } = withToken();
    rig.initialVote(P[0]!, X, 1, 0);
    commit(X);
    const mark = rig.log.length;
    rig.initialVote(P[7]!, Y, 1, 0);
    assert.equal(rig.peer.status(idOf(Y)), 'blocked');
    assert.ok(tellsCommitted(messagesTo(rig, P[7]!, mark), hexId(X)), JSON.stringify(messagesTo(rig, P[7]!, mark).map((m) => m.type)));
  });
});

describe('the lock (§5.2)', () => {
  // First come across ticks: the second contender arrives after the first voted (at its tick).
  for (const firstIs of ['lower', 'higher'] as const) {
    test(`the first valid contender gets \`+\`, the second, a tick later, \`−\` (first has the ${firstIs} id)`, () => {
      const { P, rig, L, H } = withToken();
      const [first, second] = firstIs === 'lower' ? [L, H] : [H, L];
      rig.initialVote(P[0]!, first, 1, 0);
      rig.tick();
      rig.initialVote(P[1]!, second, 1, 0);
      rig.tick();
      assert.equal(rig.peer.status(idOf(first)), 'pending');
      assert.equal(rig.peer.status(idOf(second)), 'pending');
      assert.deepEqual(rig.peer.voteOf(idOf(first)), PLUS);
      assert.deepEqual(rig.peer.voteOf(idOf(second)), MINUS);
    });
  }

  // Same tick: both are known side by side when the votes are worked out, so the highest id
  // locks whichever was read first (no voteOf before the tick: it would work the vote out early).
  for (const firstIs of ['lower', 'higher'] as const) {
    test(`two contenders arriving in the same tick: the higher id gets \`+\`, the lower \`−\` (the ${firstIs} arrives first)`, () => {
      const { P, rig, L, H } = withToken();
      const [first, second] = firstIs === 'lower' ? [L, H] : [H, L];
      const mark = rig.log.length;
      rig.initialVote(P[0]!, first, 1, 0);
      rig.initialVote(P[1]!, second, 1, 0);
      assert.deepEqual(votesSentOn(rig, mark, L), [], 'nothing on L before the tick');
      assert.deepEqual(votesSentOn(rig, mark, H), [], 'nothing on H before the tick');
      rig.tick();
      assert.deepEqual(rig.peer.voteOf(idOf(H)), PLUS);
      assert.deepEqual(rig.peer.voteOf(idOf(L)), MINUS);
      // The first waves carried these votes, and nothing else.
      const onH = votesSentOn(rig, mark, H);
      const onL = votesSentOn(rig, mark, L);
      assert.ok(onH.length > 0 && onL.length > 0, 'both waved at the tick');
      assert.deepEqual(new Set(onH.map((m) => m.vote)), new Set(['1/0']));
      assert.deepEqual(new Set(onL.map((m) => m.vote)), new Set(['0/1']));
      // The lock holds: the lower id stays `−` in later ticks.
      rig.tick(3);
      assert.deepEqual(rig.peer.voteOf(idOf(H)), PLUS);
      assert.deepEqual(rig.peer.voteOf(idOf(L)), MINUS);
    });
  }

  test('a higher contender arriving a tick after a locked lower one still gets `−` (first come across ticks)', () => {
    const { P, rig, L, H } = withToken();
    rig.initialVote(P[0]!, L, 1, 0);
    rig.tick();
    const mark = rig.log.length;
    rig.initialVote(P[1]!, H, 1, 0);
    rig.tick();
    assert.deepEqual(rig.peer.voteOf(idOf(L)), PLUS, 'the lock stays on L');
    assert.deepEqual(rig.peer.voteOf(idOf(H)), MINUS);
    const onH = votesSentOn(rig, mark, H);
    assert.ok(onH.length > 0, 'H waved');
    assert.deepEqual(new Set(onH.map((m) => m.vote)), new Set(['0/1']), 'H’s first wave carries `−`');
    assert.ok(!votesSentOn(rig, mark, L).some((m) => m.vote !== '1/0'), 'no re-vote on L');
  });

  // §5.2: several contenders learned before voting on any (here while behind, in different
  // ticks): once the parent commits, the highest id gets the lock, not the first to arrive.
  test('contenders learned while behind: once the parent commits, the highest id gets the lock', () => {
    const { P, rig, commit, T, B, owner } = withToken();
    const Z = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 10);
    rig.initialVote(P[0]!, Z, 1, 0);
    const [L, H] = contenders(T, idOf(Z), signer(2), T0 + 20);
    rig.initialVote(P[2]!, L, 0, 0);
    rig.tick();
    rig.initialVote(P[1]!, H, 0, 0);
    rig.tick();
    assert.deepEqual(rig.peer.voteOf(idOf(L)), NO, 'behind: Z is not committed here');
    assert.deepEqual(rig.peer.voteOf(idOf(H)), NO);
    const mark = rig.log.length;
    commit(Z);
    assert.deepEqual(rig.peer.voteOf(idOf(H)), PLUS);
    assert.deepEqual(rig.peer.voteOf(idOf(L)), MINUS);
    // The peers holding our `0` hear the new votes.
    assert.ok(votesSentOn(rig, mark, H).some((m) => m.vote === '1/0'));
    assert.ok(votesSentOn(rig, mark, L).some((m) => m.vote === '0/1'));
  });

  test('the lock holds while the locked block is in the mempool, whatever its votes; it falls when the block expires', () => {
    const { P, rig, T, B, owner, L: X, H: Y } = withToken();
    rig.initialVote(P[0]!, X, 1, 0);
    const created = rig.peer.tickNumber;
    for (const p of P) rig.vote(p, X, 0, 1);
    rig.tick(10);
    rig.initialVote(P[1]!, Y, 1, 0);
    // X expires at tick created + lifetime; a third contender arrives two ticks before, so it
    // votes (at the next tick) while the lock still holds.
    rig.tick(created + rig.params.mempoolLifetimeTicks - 2 - rig.peer.tickNumber);
    assert.equal(rig.peer.status(idOf(X)), 'pending');
    assert.deepEqual(rig.peer.voteOf(idOf(X)), PLUS);
    assert.deepEqual(rig.peer.voteOf(idOf(Y)), MINUS);
    const Z = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(103) }], T0 + 20);
    const mark = rig.log.length;
    rig.initialVote(P[2]!, Z, 1, 0);
    rig.tick();
    assert.equal(rig.peer.status(idOf(X)), 'pending');
    assert.deepEqual(rig.peer.voteOf(idOf(Z)), MINUS, 'a third contender meets the same lock');
    const onZ = votesSentOn(rig, mark, Z);
    assert.ok(onZ.length > 0 && onZ.every((m) => m.vote === '0/1'), JSON.stringify(onZ));
    rig.tick();
    assert.equal(rig.peer.status(idOf(X)), 'unknown');
    assert.ok(rig.events.some((e) => e.kind === 'expired' && e.id === hexId(X) && e.state === 'pending'));
  });

  test('a contender that arrives after the lock fell gets `0` until the whole window voted on it without `−`, then `+`', () => {
    const { P, rig, T, B, owner, L: X } = withToken();
    rig.initialVote(P[0]!, X, 1, 0);
    rig.tick(rig.params.mempoolLifetimeTicks);
    assert.equal(rig.peer.status(idOf(X)), 'unknown', 'X expired');
    const Z = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(103) }], T0 + 20);
    rig.initialVote(P[1]!, Z, 1, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(Z)), NO);
    // All but P0 vote (`+` or `0`): not yet.
    for (const p of P.slice(2, 6)) rig.vote(p, Z, 1, 0);
    for (const p of P.slice(6)) rig.vote(p, Z, 0, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(Z)), NO, 'one window member has not voted');
    // P0 votes `−` (it may hold a lock on X, or have seen X commit): still not.
    rig.vote(P[0]!, Z, 0, 1);
    assert.deepEqual(rig.peer.voteOf(idOf(Z)), NO, 'a `−` in the window');
    rig.rejected(P[0]!, Z);
    assert.deepEqual(rig.peer.voteOf(idOf(Z)), NO, 'a rejected vote in the window');
    rig.vote(P[0]!, Z, 0, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(Z)), PLUS, 'the whole window voted without `−`');
    // And that locks: a further contender gets `−`.
    const W = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(104) }], T0 + 20);
    rig.initialVote(P[2]!, W, 1, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(W)), MINUS);
  });

  test('a contender that arrives after the lock fell gets `0` for catchUpTicks, then `+` (and a re-vote)', () => {
    const { P, rig, T, B, owner, L: X } = withToken();
    rig.initialVote(P[0]!, X, 1, 0);
    rig.tick(rig.params.mempoolLifetimeTicks);
    assert.equal(rig.peer.status(idOf(X)), 'unknown');
    const Z = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(103) }], T0 + 20);
    const mark = rig.log.length;
    rig.initialVote(P[1]!, Z, 1, 0);
    rig.vote(P[0]!, Z, 0, 1);
    // Z votes at the next tick: catching up starts there.
    rig.tick();
    const wave = votesSentOn(rig, mark, Z);
    assert.ok(wave.length > 0 && wave.every((m) => m.vote === '0/0'), `the first wave carries our 0: ${JSON.stringify(wave)}`);
    const outs = rig.tick(rig.params.catchUpTicks - 1);
    assert.deepEqual(rig.peer.voteOf(idOf(Z)), NO, `still catching up ${rig.params.catchUpTicks - 1} ticks after the wave`);
    assert.ok(outs.every((o) => (o.causes.revote ?? 0) === 0));
    const mark2 = rig.log.length;
    const [out] = rig.tick();
    assert.deepEqual(rig.peer.voteOf(idOf(Z)), PLUS);
    assert.ok((out!.causes.revote ?? 0) > 0, 'the peers holding our `0` hear `+`');
    const revoted = new Set(votesSentOn(rig, mark2, Z).filter((m) => m.vote === '1/0').map((m) => m.to));
    for (const h of new Set(wave.map((m) => m.to))) assert.ok(revoted.has(h), `peer ${h.slice(0, 8)} held our 0`);
  });

  test('the block whose lock fell, submitted again, locks at once (no catch-up for the same block)', () => {
    const { P, rig, L: X } = withToken();
    rig.initialVote(P[0]!, X, 1, 0);
    rig.tick(rig.params.mempoolLifetimeTicks);
    assert.equal(rig.peer.status(idOf(X)), 'unknown');
    rig.initialVote(P[1]!, X, 1, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(X)), PLUS);
  });

  // When the lock falls, the contender that met it is worked out again: it catches up like a
  // late contender (`0`, re-voted to the peers holding its `−`), then `+` after catchUpTicks.
  test('a contender that met the lock is no longer `−` once the locked block expired: `0`, then `+` after catchUpTicks', () => {
    const { P, rig, L: X, H: Y } = withToken();
    rig.initialVote(P[0]!, X, 1, 0);
    const created = rig.peer.tickNumber;
    // Y arrives late in X's life, so that it outlives X by more than catchUpTicks.
    rig.tick(created + rig.params.mempoolLifetimeTicks - 5 - rig.peer.tickNumber);
    const mark = rig.log.length;
    rig.initialVote(P[1]!, Y, 1, 0);
    rig.tick();
    assert.deepEqual(rig.peer.voteOf(idOf(Y)), MINUS);
    const heldMinus = new Set(votesSentOn(rig, mark, Y).filter((m) => m.vote === '0/1').map((m) => m.to));
    assert.ok(heldMinus.size > 0, 'Y’s first wave carried `−`');
    rig.tick(created + rig.params.mempoolLifetimeTicks - 1 - rig.peer.tickNumber);
    assert.equal(rig.peer.status(idOf(X)), 'pending');
    assert.deepEqual(rig.peer.voteOf(idOf(Y)), MINUS, 'the lock holds until X expires');
    const mark2 = rig.log.length;
    const [fall] = rig.tick();
    assert.equal(rig.peer.status(idOf(X)), 'unknown');
    assert.equal(rig.peer.status(idOf(Y)), 'pending');
    assert.deepEqual(rig.peer.voteOf(idOf(Y)), NO, 'no lock holds any more: Y catches up');
    assert.ok((fall!.causes.revote ?? 0) > 0);
    const toZero = new Set(votesSentOn(rig, mark2, Y).filter((m) => m.vote === '0/0').map((m) => m.to));
    for (const h of heldMinus) assert.ok(toZero.has(h), `peer ${h.slice(0, 8)} held our −`);
    rig.tick(rig.params.catchUpTicks - 1);
    assert.deepEqual(rig.peer.voteOf(idOf(Y)), NO, 'still catching up');
    const mark3 = rig.log.length;
    rig.tick();
    assert.deepEqual(rig.peer.voteOf(idOf(Y)), PLUS, 'caught up: Y takes the lock');
    const toPlus = new Set(votesSentOn(rig, mark3, Y).filter((m) => m.vote === '1/0').map((m) => m.to));
    for (const h of heldMinus) assert.ok(toPlus.has(h), `peer ${h.slice(0, 8)} hears +`);
  });
  test('a lower contender that met a higher one is worked out again when the higher expires without the lock', () => {
    const { P, rig, T, B, owner } = withToken();
    const [X, L, H] = [300, 301, 302].map((k) => makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(k) }], T0 + 10)).sort((a, b) => (hexId(a) < hexId(b) ? -1 : 1)) as [SignedBlock, SignedBlock, SignedBlock];
    rig.initialVote(P[0]!, X, 1, 0);
    const xCreated = rig.peer.tickNumber;
    rig.tick(4);
    rig.initialVote(P[1]!, H, 1, 0); // H expires 4 ticks after X, inside the catch-up
    rig.tick(90);
    rig.initialVote(P[2]!, L, 1, 0);
    rig.tick();
    assert.deepEqual(rig.peer.voteOf(idOf(H)), MINUS);
    assert.deepEqual(rig.peer.voteOf(idOf(L)), MINUS);
    rig.tick(xCreated + rig.params.mempoolLifetimeTicks - rig.peer.tickNumber);
    assert.equal(rig.peer.status(idOf(X)), 'unknown', 'the lock fell');
    assert.deepEqual(rig.peer.voteOf(idOf(H)), NO, 'H, the highest, catches up');
    assert.deepEqual(rig.peer.voteOf(idOf(L)), MINUS, 'L stays `−` beside the higher H');
    rig.tick(4);
    assert.equal(rig.peer.status(idOf(H)), 'unknown', 'H expired while catching up, never locked');
    rig.tick(rig.params.catchUpTicks);
    assert.equal(rig.peer.status(idOf(L)), 'pending');
    assert.deepEqual(rig.peer.voteOf(idOf(L)), PLUS, 'no lock and no higher contender: L has caught up and locks');
  });

  test('a lock held by a block that got blocked on another entry falls: a fresh block on that entry commits', () => {
    const { rng, P, rig, commit } = wholeNet();
    const owner = signer(1);
    const T = rng.bytes(32);
    const U = rng.bytes(32);
    const B = makeBlock([{ token: T, next: owner }, { token: U, next: owner }], T0);
    rig.submit(B);
    commit(B);
    const H = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(5) }, { token: U, last: idOf(B), by: owner, next: signer(5) }], T0 + 10);
    const K = makeBlock([{ token: U, last: idOf(B), by: owner, next: signer(6) }], T0 + 10);
    rig.initialVote(P[0]!, H, 0b11, 0);
    const created = rig.peer.tickNumber;
    rig.tick();
    assert.deepEqual(rig.peer.voteOf(idOf(H)), { pos: 0b11, neg: 0 }, 'H locks (T, B) and (U, B)');
    // K, spending only (U, B), commits elsewhere and is learned: H is blocked.
    rig.initialVote(P[1]!, K, 1, 0);
    for (const p of P.slice(0, 3)) rig.committed(p, K, 1);
    rig.tick(2);
    assert.equal(rig.peer.status(idOf(K)), 'committed');
    assert.equal(rig.peer.status(idOf(H)), 'blocked');
    rig.tick(created + rig.params.mempoolLifetimeTicks - rig.peer.tickNumber);
    assert.equal(rig.peer.status(idOf(H)), 'unknown', 'H expired');
    // A new block on (T, B), the only one: it may catch up, but not stay `−` for ever.
    const W = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(7) }], T0 + 20);
    rig.initialVote(P[2]!, W, 1, 0);
    for (const p of P) rig.vote(p, W, 1, 0);
    rig.tick(rig.params.catchUpTicks + 1);
    assert.equal(rig.peer.status(idOf(W)), 'committed', `our vote on W: ${JSON.stringify(rig.peer.voteOf(idOf(W)))}`);
  });
});

describe('quorum and the +T rule (§5.3)', () => {
  test('q − 1 positives do not commit (our own `+` never counts); q do', () => {
    const { rng, P, rig } = wholeNet(10);
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    assert.deepEqual(rig.peer.voteOf(idOf(B)), PLUS);
    for (const p of P.slice(0, 5)) rig.vote(p, B, 1, 0);
    assert.deepEqual(rig.peer.tallyOf(idOf(B)), { pos: [5], neg: [0] });
    rig.tick(3);
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    rig.vote(P[5]!, B, 1, 0);
    const [out] = rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'committed');
    assert.equal(committedEvent(out!.events, B)?.learned, false);
  });

  // A window holds min(2w + 1, Connected) members; the quorum is min(q, members).
  for (const [connected, need] of [
    [3, 3],
    [7, 6],
  ] as const) {
    test(`with ${connected} Connected peers the quorum is ${need}: ${need - 1} \`+\` do not commit, ${need} do`, () => {
      const { rng, P, rig } = wholeNet(connected);
      const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
      rig.submit(B);
      for (const p of P.slice(0, need - 1)) rig.vote(p, B, 1, 0);
      rig.tick(3);
      assert.equal(rig.peer.status(idOf(B)), 'pending');
      rig.vote(P[need - 1]!, B, 1, 0);
      rig.tick();
      assert.equal(rig.peer.status(idOf(B)), 'committed');
    });
  }

  test('q positives with p − n = T do not commit; p − n = T + 1 does', () => {
    const { rng, P, rig } = wholeNet(10);
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    for (const p of P.slice(0, 6)) rig.vote(p, B, 1, 0);
    for (const p of P.slice(6)) rig.vote(p, B, 0, 1);
    assert.deepEqual(rig.peer.tallyOf(idOf(B)), { pos: [6], neg: [4] });
    rig.tick(3);
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    rig.vote(P[9]!, B, 0, 0);
    assert.deepEqual(rig.peer.tallyOf(idOf(B)), { pos: [6], neg: [3] });
    rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'committed');
  });

  test('a rejected vote counts `−` on every entry', () => {
    const { rng, P, rig } = wholeNet(10);
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }, { token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    for (const p of P.slice(0, 6)) rig.vote(p, B, 0b11, 0);
    for (const p of P.slice(6)) rig.rejected(p, B);
    assert.deepEqual(rig.peer.tallyOf(idOf(B)), { pos: [6, 6], neg: [4, 4] });
    rig.tick(2);
    assert.equal(rig.peer.status(idOf(B)), 'pending');
  });

  test('a quorum in window(token) commits with no vote from window(block id); the first wave goes to the token\'s window only', () => {
    const { rig, T, B, byT, byId, ks, inWindow } = splitNet();
    assert.equal(rig.peer.hosts(T), true);
    const winT = byT.filter((_, i) => inWindow(ks[i]!));
    assert.deepEqual(hexSet(rig.peer.windowOf(T)), hexSet(winT));
    rig.submit(B);
    const [out] = rig.tick();
    const to = hexSet(out!.messages.map((m) => m.to));
    assert.deepEqual(to, hexSet(winT), 'the first wave');
    assert.ok(!byId.some((p) => to.has(Buffer.from(p).toString('hex'))), 'nothing to window(B.id)');
    for (const p of winT.slice(0, 5)) rig.vote(p, B, 1, 0);
    assert.deepEqual(rig.peer.tallyOf(idOf(B)), { pos: [5], neg: [0] });
    rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'pending', 'q − 1');
    rig.vote(winT[5]!, B, 1, 0);
    rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'committed', 'q');
  });

  test('Connected peers outside window(token) do not count toward its quorum', () => {
    const { rig, B, byT, byId, ks, inWindow } = splitNet();
    const winT = byT.filter((_, i) => inWindow(ks[i]!));
    const outside = byT.filter((_, i) => !inWindow(ks[i]!));
    assert.equal(outside.length, 1);
    rig.submit(B);
    for (const p of winT.slice(0, 5)) rig.vote(p, B, 1, 0);
    for (const p of [...outside, ...byId]) rig.vote(p, B, 1, 0);
    assert.deepEqual(rig.peer.tallyOf(idOf(B)), { pos: [5], neg: [0] });
    rig.tick(2);
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    rig.vote(winT[5]!, B, 1, 0);
    rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'committed');
  });

  test('votes from non-Connected peers never count toward the quorum, committed reports included', () => {
    const { rng, P, rig } = wholeNet(10);
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    for (const p of P.slice(0, 5)) rig.vote(p, B, 1, 0);
    for (let i = 0; i < 4; i++) rig.vote(rng.bytes(32), B, 1, 0);
    // Two host reports from strangers: recorded for learning (T of them: not enough), not tallied.
    for (let i = 0; i < 2; i++) rig.committed(rng.bytes(32), B);
    assert.deepEqual(rig.peer.tallyOf(idOf(B)), { pos: [5], neg: [0] });
    rig.tick(3);
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    rig.vote(P[5]!, B, 1, 0);
    const [out] = rig.tick();
    assert.equal(committedEvent(out!.events, B)?.learned, false);
  });

  test('a peer that left the Connected set no longer counts', () => {
    const { rng, P, rig } = wholeNet(10);
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    for (const p of P.slice(0, 6)) rig.vote(p, B, 1, 0);
    rig.peer.setPeers(P.filter((_, i) => i !== 5));
    assert.deepEqual(rig.peer.tallyOf(idOf(B)), { pos: [5], neg: [0] });
    rig.tick(2);
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    rig.peer.setPeers(P);
    rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'committed');
  });
});

describe('hosts and learning (§5.3)', () => {
  test('a non-host never commits on a quorum, only by learning', () => {
    const { P, rig, far } = clusterNet();
    const F = far(0n);
    const B = makeBlock([{ token: F, next: signer(1) }], T0);
    rig.initialVote(P[0]!, B, 1, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(B)), NO);
    for (const p of P) rig.vote(p, B, 1, 0);
    const t = rig.peer.tallyOf(idOf(B))!;
    assert.ok(t.pos[0]! >= rig.params.quorum && t.pos[0]! - t.neg[0]! > rig.params.threshold, JSON.stringify(t));
    rig.tick(3);
    assert.equal(rig.peer.status(idOf(B)), 'pending', 'the tally meets the rule, but this peer hosts none of the tokens');
    rig.committed(P[0]!, B, 1);
    rig.committed(P[1]!, B, 1);
    rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    rig.committed(P[2]!, B, 1);
    const [out] = rig.tick();
    assert.equal(committedEvent(out!.events, B)?.learned, true);
    assert.equal(rig.store.token(F), undefined, 'not hosted: no mapping');
    assert.deepEqual(rig.store.spend(F, ZERO_ID), idOf(B));
    assert.deepEqual(rig.peer.voteOf(idOf(B)), { pos: 0xc0, neg: 0 }, 'its committed vote claims no host bits');
  });

  test('T committed reports with host bits do not commit; T + 1 do, with learned = true', () => {
    const { rng, P, rig } = wholeNet();
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    rig.committed(P[0]!, B);
    rig.committed(P[1]!, B);
    rig.tick(2);
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    rig.committed(P[2]!, B);
    const [out] = rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'committed');
    assert.equal(committedEvent(out!.events, B)?.learned, true, 'three `+` are no quorum: learned');
  });

  test('committed reports with host bits 0 do not count', () => {
    const { P, rig, far } = clusterNet();
    const B = makeBlock([{ token: far(0n), next: signer(1) }], T0);
    rig.initialVote(P[0]!, B, 1, 0);
    for (const p of P) rig.committed(p, B, 0);
    rig.tick(3);
    assert.equal(rig.peer.status(idOf(B)), 'pending', `${P.length} reports, none claiming to host`);
    for (const p of P.slice(0, 3)) rig.committed(p, B, 1);
    rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'committed');
  });

  test('reports from non-Connected peers count; reports from clients do not', () => {
    const { rng, rig } = wholeNet();
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    for (let i = 0; i < 3; i++) rig.committed(rng.bytes(32), B, 1, { client: true });
    rig.tick(2);
    assert.equal(rig.peer.status(idOf(B)), 'pending', 'clients never vote');
    for (let i = 0; i < 3; i++) rig.committed(rng.bytes(32), B, 1);
    const [out] = rig.tick();
    assert.equal(committedEvent(out!.events, B)?.learned, true);
  });

  test('a committed vote claims exactly the entries this peer hosts', () => {
    const { P, rig, near, far } = clusterNet();
    const B = makeBlock([{ token: near(GAP / 2n), next: signer(1) }, { token: far(0n), next: signer(1) }], T0);
    rig.initialVote(P[0]!, B, 0b11, 0);
    for (const p of P.slice(0, 3)) rig.committed(p, B);
    rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'committed');
    assert.deepEqual(rig.peer.voteOf(idOf(B)), { pos: 0xc0 | 0b01, neg: 0 });
    assert.deepEqual(rig.store.token(near(GAP / 2n))?.block, idOf(B), 'the hosted token is mapped');
    assert.equal(rig.store.token(far(0n)), undefined);
  });
  test('a host locked on a contender does not commit on a quorum of `+` from the others; it commits on T + 1 host reports', () => {
    const { P, rig, T, L: Y, H: X } = withToken();
    // We lock Y (the lower id, a tick ahead); X, the higher, gets our `−`.
    rig.initialVote(P[0]!, Y, 1, 0);
    rig.tick();
    rig.initialVote(P[1]!, X, 1, 0);
    rig.tick();
    assert.deepEqual(rig.peer.voteOf(idOf(Y)), PLUS);
    assert.deepEqual(rig.peer.voteOf(idOf(X)), MINUS);
    // Every other peer votes `+` on X: the tally meets the rule with room to spare.
    for (const p of P) rig.vote(p, X, 1, 0);
    assert.deepEqual(rig.peer.tallyOf(idOf(X)), { pos: [9], neg: [0] });
    rig.tick(3);
    assert.equal(rig.peer.status(idOf(X)), 'pending', 'our own vote on X is `−`: no quorum commit');
    assert.equal(rig.store.hasBlock(idOf(X)), false);
    assert.deepEqual(rig.peer.voteOf(idOf(X)), MINUS, 'and the lock on Y holds');
    // Learning: T host reports are not enough, T + 1 are.
    rig.committed(P[0]!, X);
    rig.committed(P[1]!, X);
    rig.tick();
    assert.equal(rig.peer.status(idOf(X)), 'pending');
    rig.committed(P[2]!, X);
    const [out] = rig.tick();
    assert.equal(rig.peer.status(idOf(X)), 'committed');
    assert.equal(committedEvent(out!.events, X)?.learned, true);
    assert.deepEqual(rig.store.token(T)?.block, idOf(X));
    rig.tick();
    assert.equal(rig.peer.status(idOf(Y)), 'blocked');
    assert.deepEqual(rig.peer.winnerOf(idOf(Y)), idOf(X));
  });

  test('a block learned after its child does not move the mapping back', () => {
    const { P, rig, T, B, owner } = withToken();
    const X = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 10);
    const C = makeBlock([{ token: T, last: idOf(X), by: signer(2), next: signer(3) }], T0 + 20);
    rig.initialVote(P[0]!, X, 1, 0);
    rig.initialVote(P[1]!, C, 1, 0);
    rig.tick();
    assert.equal(rig.peer.status(idOf(C)), 'pending');
    assert.deepEqual(rig.peer.voteOf(idOf(C)), NO, 'behind: X is not committed here');
    // The child is learned first ...
    for (const p of P.slice(0, 3)) rig.committed(p, C);
    const [first] = rig.tick();
    assert.equal(committedEvent(first!.events, C)?.learned, true);
    assert.equal(rig.peer.status(idOf(X)), 'pending');
    assert.deepEqual(rig.store.token(T)?.block, idOf(C));
    assert.deepEqual(rig.store.token(T)?.parent, idOf(X));
    // ... then the parent: its spend is written, the mapping stays on the later block.
    for (const p of P.slice(3, 6)) rig.committed(p, X);
    const [second] = rig.tick();
    assert.equal(committedEvent(second!.events, X)?.learned, true);
    assert.equal(rig.peer.status(idOf(X)), 'committed');
    assert.ok(second!.batch !== null);
    assert.ok(!second!.batch.tokens.some((w) => toHex(w.token) === toHex(T)), 'no mapping write for T');
    assert.deepEqual(rig.store.token(T)?.block, idOf(C), 'the mapping did not move back to X');
    assert.deepEqual(rig.store.token(T)?.parent, idOf(X));
    assert.equal(rig.store.token(T)?.time, T0 + 20);
    assert.deepEqual(rig.store.spend(T, idOf(B)), idOf(X));
    assert.deepEqual(rig.store.spend(T, idOf(X)), idOf(C));
  });
});

describe('origin (§5.3)', () => {
  test('a host that commits sends its committed vote to the origin named in the INITIAL_VOTE', () => {
    const { rng, P, rig } = wholeNet();
    const O = rng.bytes(32);
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.initialVote(P[0]!, B, 1, 0, O);
    rig.tick();
    assert.equal(messagesTo(rig, O, 0).length, 0, 'nothing before the commit');
    const mark = rig.log.length;
    for (const p of P.slice(1, 7)) rig.vote(p, B, 1, 0);
    const [out] = rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'committed');
    assert.ok(hasVote(messagesTo(rig, O, mark), idOf(B), { pos: 0xc1, neg: 0 }, false), 'the origin hears a committed vote with its host bits');
    assert.equal(out!.causes.origin, 1);
    // The block's wave still reaching us from another host brings that host an answer, and the
    // origin no second report.
    const again = rig.log.length;
    rig.initialVote(P[7]!, B, 1, 0, O);
    rig.tick();
    assert.equal(messagesTo(rig, O, again).length, 0, 'one report per origin');
    assert.ok(messagesTo(rig, P[7]!, again).length > 0);
  });

  test('a non-host that learned sends nothing to the origin', () => {
    const { rng, P, rig, far } = clusterNet();
    const O = rng.bytes(32);
    const B = makeBlock([{ token: far(0n), next: signer(1) }], T0);
    rig.initialVote(P[0]!, B, 1, 0, O);
    for (const p of P.slice(0, 3)) rig.committed(p, B, 1);
    const [out] = rig.tick();
    assert.equal(committedEvent(out!.events, B)?.learned, true);
    assert.equal(messagesTo(rig, O, 0).length, 0, 'its report would claim no host bits');
    assert.equal(out!.causes.origin, undefined);
  });
});

describe('restart (§5.2)', () => {
  /** A store with history (T created by B), a core that ran over it from the start, and one restarted over it. */
  function restarted(seed = SEED) {
    const { rng, P, rig: first, commit } = wholeNet(9, seed);
    const owner = signer(1);
    const T = rng.bytes(32);
    const B = makeBlock([{ token: T, next: owner }], T0);
    first.submit(B);
    commit(B);
    const rig = new Rig(first.address, P, { seed, store: first.store });
    const X = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 10);
    return { rng, P, first, rig, X };
  }

  test('a restarted core abstains before its first lock until its whole window voted without `−`', () => {
    const { P, first, rig, X } = restarted();
    first.initialVote(P[0]!, X, 1, 0);
    assert.deepEqual(first.peer.voteOf(idOf(X)), PLUS, 'control: the core that never restarted votes `+`');
    rig.initialVote(P[0]!, X, 1, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(X)), NO);
    for (const p of P.slice(1, 8)) rig.vote(p, X, 1, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(X)), NO, 'one window member has not voted');
    rig.vote(P[8]!, X, 1, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(X)), PLUS);
  });

  test('a restarted core abstains for catchUpTicks, on creations too', () => {
    const { rng, P, rig, X } = restarted();
    const C = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    const mark = rig.log.length;
    rig.initialVote(P[0]!, X, 1, 0);
    rig.initialVote(P[0]!, C, 1, 0);
    // Both vote at the next tick: catching up starts there, and the first waves carry `0`.
    rig.tick();
    for (const b of [X, C]) {
      const wave = votesSentOn(rig, mark, b);
      assert.ok(wave.length > 0 && wave.every((m) => m.vote === '0/0'), `${hexId(b).slice(0, 8)}: ${JSON.stringify(wave)}`);
    }
    rig.tick(rig.params.catchUpTicks - 1);
    assert.deepEqual(rig.peer.voteOf(idOf(X)), NO);
    assert.deepEqual(rig.peer.voteOf(idOf(C)), NO);
    rig.tick();
    assert.deepEqual(rig.peer.voteOf(idOf(X)), PLUS);
    assert.deepEqual(rig.peer.voteOf(idOf(C)), PLUS);
  });

  test('after mempoolLifetimeTicks a restarted core locks at once', () => {
    const { P, rig, X } = restarted();
    rig.tick(rig.params.mempoolLifetimeTicks);
    rig.initialVote(P[0]!, X, 1, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(X)), PLUS);
  });
});

describe('stalled conflict family (§5.4.5)', () => {
  test('the token of a stalled family moves with a fresh block once the mempool lifetime has passed', () => {
    const { P, rig, T, B, owner, L: X, H: Y } = withToken();
    // Two contenders reach the neighbourhood a tick apart; we lock the first, X (the lower id:
    // first come across ticks). The hosts split 5 : 4.
    rig.initialVote(P[0]!, X, 1, 0);
    const created = rig.peer.tickNumber;
    rig.tick();
    rig.initialVote(P[5]!, Y, 1, 0);
    rig.tick();
    assert.deepEqual(rig.peer.voteOf(idOf(X)), PLUS);
    assert.deepEqual(rig.peer.voteOf(idOf(Y)), MINUS);
    for (const p of P.slice(0, 5)) {
      rig.vote(p, X, 1, 0);
      rig.vote(p, Y, 0, 1);
    }
    for (const p of P.slice(5)) {
      rig.vote(p, Y, 1, 0);
      rig.vote(p, X, 0, 1);
    }
    assert.deepEqual(rig.peer.tallyOf(idOf(X)), { pos: [5], neg: [4] });
    assert.deepEqual(rig.peer.tallyOf(idOf(Y)), { pos: [4], neg: [5] });
    // A fresh block before the family expired meets our lock (it votes at the next tick, X's
    // last in the mempool).
    rig.tick(created + rig.params.mempoolLifetimeTicks - 2 - rig.peer.tickNumber);
    assert.equal(rig.peer.status(idOf(X)), 'pending');
    assert.equal(rig.peer.status(idOf(Y)), 'pending');
    const early = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(200) }], T0 + 30);
    rig.initialVote(P[1]!, early, 1, 0);
    rig.tick();
    assert.equal(rig.peer.status(idOf(X)), 'pending');
    assert.deepEqual(rig.peer.voteOf(idOf(early)), MINUS, 'the lock on X holds until X expires');
    rig.tick(2);
    assert.equal(rig.peer.status(idOf(X)), 'unknown');
    assert.equal(rig.peer.status(idOf(Y)), 'unknown');
    assert.deepEqual(rig.store.token(T)?.block, idOf(B), 'stalled: nothing moved');
    // The early block, once X's lock fell, caught up and took the lock itself; it stalls too.
    rig.tick(rig.params.catchUpTicks);
    assert.equal(rig.peer.status(idOf(early)), 'pending');
    assert.deepEqual(rig.peer.voteOf(idOf(early)), PLUS, 'caught up: the early block holds the lock');
    rig.tick(rig.params.mempoolLifetimeTicks);
    assert.equal(rig.peer.status(idOf(early)), 'unknown');
    assert.deepEqual(rig.store.token(T)?.block, idOf(B), 'stalled: nothing moved');
    // The owner submits again; the hosts, caught up, vote `+`.
    const Z = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(201) }], T0 + 40);
    rig.initialVote(P[0]!, Z, 1, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(Z)), NO, 'we once locked (T, B): catch up first');
    for (const p of P.slice(1)) rig.vote(p, Z, 1, 0);
    assert.deepEqual(rig.peer.voteOf(idOf(Z)), PLUS, 'the whole window agrees');
    const [out] = rig.tick();
    assert.equal(rig.peer.status(idOf(Z)), 'committed');
    assert.equal(committedEvent(out!.events, Z)?.learned, false);
    assert.deepEqual(rig.store.token(T)?.block, idOf(Z));
    assert.deepEqual(rig.store.spend(T, idOf(B)), idOf(Z));
  });
});

describe('conflicts after expiry', () => {
  test('after the winner has left the mempool, the store’s spends still refuse a contender — also on a token the peer does not host', () => {
    const { P, rig, far } = clusterNet(SEED + 1);
    const F = far(0n);
    assert.equal(rig.peer.hosts(F), false);
    const owner = signer(1);
    const B = makeBlock([{ token: F, next: owner }], T0);
    const [X, Y] = contenders(F, idOf(B), owner, T0 + 10);
    const learn = (b: SignedBlock) => {
      rig.initialVote(P[0]!, b, 1, 0);
      for (const p of P.slice(0, 3)) rig.committed(p, b, 1);
      rig.tick();
      assert.equal(rig.peer.status(idOf(b)), 'committed');
    };
    learn(B);
    learn(X);
    assert.equal(rig.store.token(F), undefined, 'not hosted: no mapping');
    assert.deepEqual(rig.store.spend(F, idOf(B)), idOf(X));
    rig.tick(rig.params.mempoolLifetimeTicks + 1);
    assert.equal(rig.peer.status(idOf(X)), 'stored');
    const r = rig.submit(Y);
    assert.equal(r.status, 'blocked');
    assert.deepEqual(rig.peer.winnerOf(idOf(Y)), idOf(X));
  });
});

describe('stale parent, fetches and expiry', () => {
  test('an unknown parent: `0`, parent fetched with backoff, then the chain catches up in one tick', () => {
    const { rng, P, rig, commit } = wholeNet();
    const owner = signer(1);
    const T = rng.bytes(32);
    const B = makeBlock([{ token: T, next: owner }], T0);
    rig.submit(B);
    commit(B);
    // Z extends B (we never saw it); C extends Z.
    const Z = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 10);
    const C = makeBlock([{ token: T, last: idOf(Z), by: signer(2), next: signer(3) }], T0 + 20);
    const mark = rig.log.length;
    rig.initialVote(P[0]!, C, 1, 0);
    assert.equal(rig.peer.status(idOf(C)), 'awaiting-parents');
    assert.deepEqual(rig.peer.voteOf(idOf(C)), NO);
    for (const p of P.slice(1, 5)) rig.vote(p, C, 1, 0);
    rig.tick(12);
    assert.equal(rig.peer.status(idOf(C)), 'awaiting-parents');
    const fetches = fetchesOf(rig, mark, Z);
    assert.equal(fetches[0]!.to, toHex(P[0]!), 'first asks whoever sent the block');
    const ticks = [...new Set(fetches.map((f) => f.at))];
    assert.ok(ticks.length >= 2, `retried (${ticks})`);
    for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i]! - ticks[i - 1]! >= rig.params.parentFetchCooldownTicks, `cooldown: ${ticks}`);
    // Unsolicited or mismatched answers are ignored.
    const query = fetches[fetches.length - 1]!.message as Extract<Message, { type: 'query-block' }>;
    const stray = rig.receive(P[0]!, { type: 'block', block: C.block, signatures: C.signatures, ticket: query.ticket });
    assert.ok(stray.events.some((e) => e.kind === 'rejected' && e.code === 'bad-ticket'));
    const Y = makeBlock([{ token: rng.bytes(32), next: owner }], T0 + 30);
    const unasked = rig.receive(P[0]!, { type: 'block', block: Y.block, signatures: Y.signatures, ticket: new Uint8Array(16) });
    assert.ok(unasked.events.some((e) => e.kind === 'rejected' && e.code === 'bad-ticket'), 'a block nobody waits for needs our ticket');
    assert.equal(rig.peer.status(idOf(Y)), 'unknown');
    const stranger = rig.receive(rng.bytes(32), { type: 'block', block: Z.block, signatures: Z.signatures, ticket: new Uint8Array(16) });
    assert.ok(stranger.events.some((e) => e.kind === 'rejected' && e.code === 'bad-ticket'), 'a stranger still needs our ticket');
    assert.equal(rig.peer.status(idOf(Z)), 'unknown');
    // An awaited parent from a Connected peer: its content hash is proof enough, ticket or not.
    const late = rig.receive(P[0]!, { type: 'block', block: Z.block, signatures: Z.signatures, ticket: new Uint8Array(16) });
    assert.ok(!late.events.some((e) => e.kind === 'rejected'), 'an awaited parent is taken without a live ticket');
    assert.equal(rig.peer.status(idOf(Z)), 'pending');
    assert.equal(rig.peer.status(idOf(C)), 'pending');
    assert.deepEqual(rig.peer.voteOf(idOf(Z)), PLUS);
    assert.deepEqual(rig.peer.voteOf(idOf(C)), NO, 'Z is not committed here yet');
    // Z commits; C (time after Z) is evaluated after it in the same tick, votes `+` and commits.
    rig.vote(P[5]!, C, 1, 0);
    commit(Z);
    assert.equal(rig.peer.status(idOf(C)), 'committed');
    assert.deepEqual(rig.store.commit(rig.store.head().seq)?.blockIds.map(toHex), [hexId(Z), hexId(C)]);
    assert.deepEqual(rig.store.token(T)?.block, idOf(C));
  });

  test('a submission awaiting a parent goes out at once with `0`; once valid, the peers holding that `0` hear its vote at the next tick', () => {
    const { rng, P, rig, T, B, owner } = withToken();
    const U = rng.bytes(32);
    const Z = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 10);
    // Entry 0 extends Z (unknown here), entry 1 creates U.
    const C = makeBlock([{ token: T, last: idOf(Z), by: signer(2), next: signer(3) }, { token: U, next: signer(3) }], T0 + 20);
    const mark = rig.log.length;
    assert.equal(rig.submit(C).status, 'awaiting-parents');
    const wave = votesSentOn(rig, mark, C);
    assert.ok(wave.length > 0 && wave.every((m) => m.type === 'initial-vote' && m.vote === '0/0'), `sent at once, abstaining: ${JSON.stringify(wave)}`);
    rig.receive(P[0]!, { type: 'block', block: Z.block, signatures: Z.signatures, ticket: new Uint8Array(16) });
    assert.equal(rig.peer.status(idOf(C)), 'pending');
    const mark2 = rig.log.length;
    assert.deepEqual(votesSentOn(rig, mark2, C), [], 'nothing before the tick');
    const [out] = rig.tick();
    // `0` on the entry whose parent is not committed here, `+` on the creation.
    assert.deepEqual(rig.peer.voteOf(idOf(C)), { pos: 0b10, neg: 0 });
    assert.ok((out!.causes.revote ?? 0) > 0);
    const after = rig.sent(mark2);
    for (const h of new Set(wave.map((m) => m.to))) {
      const ms = after.filter((m) => m.to === h).map((m) => m.message);
      assert.ok(hasVote(ms, idOf(C), { pos: 0b10, neg: 0 }, true), `peer ${h.slice(0, 8)} held our 0`);
    }
  });

  test('a block that never reaches a quorum expires after mempoolLifetimeTicks; a resubmission is new', () => {
    const { rng, P, rig } = wholeNet();
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    rig.vote(P[0]!, B, 1, 0);
    rig.vote(P[1]!, B, 1, 0);
    rig.tick(rig.params.mempoolLifetimeTicks - 1);
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'unknown');
    assert.ok(rig.events.some((e) => e.kind === 'expired' && e.id === hexId(B) && e.state === 'pending'));
    assert.equal(rig.peer.mempoolSize, 0);
    const mark = rig.log.length;
    assert.equal(rig.submit(B).status, 'pending');
    assert.deepEqual(votesSentOn(rig, mark, B), [], 'the wave goes out at the tick');
    rig.tick();
    assert.ok(votesSentOn(rig, mark, B).some((m) => m.type === 'initial-vote' && m.vote === '1/0'), 'first wave again');
    assert.deepEqual(rig.peer.tallyOf(idOf(B)), { pos: [0], neg: [0] }, 'old votes are gone');
  });

  test('a VOTE for an unknown block from a Connected peer makes a placeholder and fetches the body from it', () => {
    const { rng, P, rig } = wholeNet();
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.vote(rng.bytes(32), B, 1, 0, true);
    assert.equal(rig.peer.status(idOf(B)), 'unknown', 'not from a stranger');
    const mark = rig.log.length;
    rig.vote(P[2]!, B, 1, 0, true);
    assert.equal(rig.peer.status(idOf(B)), 'placeholder');
    assert.equal(rig.peer.voteOf(idOf(B))?.pos, 0);
    const q = messagesTo(rig, P[2]!, mark).find((m) => m.type === 'query-block');
    assert.ok(q !== undefined && q.type === 'query-block');
    rig.receive(P[2]!, { type: 'block', block: B.block, signatures: B.signatures, ticket: q.ticket });
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    assert.deepEqual(rig.peer.tallyOf(idOf(B))?.pos, [1], 'the early vote is kept');
  });

  test('unanswered body fetches back off: asked again after 3, 6, 12, then every 24 ticks', () => {
    const { rng, P, rig } = wholeNet();
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    const mark = rig.log.length;
    rig.vote(P[2]!, B, 1, 0, true);
    rig.tick(100);
    const at = fetchesOf(rig, mark, B).map((m) => m.at);
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    assert.deepEqual(gaps, [3, 6, 12, 24, 24, 24], `fetch ticks ${at}`);
  });

  test('a body that came after backed-off fetches asks for its missing parent at once, from its sender first', () => {
    const { rng, P, rig } = wholeNet();
    const owner = signer(1);
    const T = rng.bytes(32);
    const B = makeBlock([{ token: T, next: owner }], T0);
    const C = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 10);
    rig.vote(P[2]!, C, 1, 0, true);
    rig.tick(25);
    assert.equal(fetchesOf(rig, 0, C).length, 4, 'four body fetches so far (ticks 0, 3, 9, 21)');
    const mark = rig.log.length;
    rig.receive(P[2]!, { type: 'block', block: C.block, signatures: C.signatures, ticket: new Uint8Array(16) });
    assert.equal(rig.peer.status(idOf(C)), 'awaiting-parents');
    const parentFetch = fetchesOf(rig, mark, B);
    assert.ok(parentFetch.length >= 1, 'the parent is asked for in the same step, not after the body fetches’ backoff');
    assert.equal(parentFetch[0]!.to, toHex(P[2]!), 'from whoever sent the body');
  });
});

describe('invalid blocks', () => {
  function withCommitted(final = false) {
    const net = wholeNet();
    const owner = signer(1);
    const T = net.rng.bytes(32);
    const B = makeBlock([{ token: T, next: final ? null : owner }], T0);
    net.rig.submit(B);
    net.commit(B);
    return { ...net, owner, T, B };
  }

  /**
   * `copy`: the fault is in the signatures, which the id does not cover, so only this copy is
   * refused; the id stays open for a genuine copy, as a placeholder for its voters.
   */
  function expectInvalid(rig: Rig, P: Uint8Array[], X: SignedBlock, code: string, copy = false) {
    const out = rig.initialVote(P[0]!, X, 1, 0);
    const state = copy ? 'placeholder' : 'invalid';
    if (copy) {
      // Its sender is not believed again: the same copy is ignored without another check.
      const again = rig.initialVote(P[0]!, X, 1, 0);
      assert.ok(!again.events.some((e) => e.kind === 'invalid'), 'no second check of a known bad sender');
      assert.ok(again.events.some((e) => e.kind === 'rejected' && e.code === 'invalid-block' && e.action === 'ignore'));
    }
    assert.equal(rig.peer.status(idOf(X)), state);
    assert.ok(out.events.some((e) => e.kind === 'invalid' && e.code === code), `code ${code}: ${JSON.stringify(out.events)}`);
    assert.deepEqual(rig.peer.voteOf(idOf(X)), copy ? NO : REJECTED);
    assert.ok(hasVote(messagesTo(rig, P[0]!, 0), idOf(X), REJECTED, false), 'the sender hears rejected');
    for (const p of P) rig.committed(p, X);
    rig.tick(3);
    assert.equal(rig.peer.status(idOf(X)), state);
    assert.equal(rig.store.hasBlock(idOf(X)), false);
  }

  test('an update signed by a key whose hash is not the parent’s next_key_hash', () => {
    const { P, rig, T, B } = withCommitted();
    expectInvalid(rig, P, makeBlock([{ token: T, last: idOf(B), by: signer(666), next: signer(2) }], T0 + 1), 'wrong-key', true);
  });

  test('a corrupted signature by the right key', () => {
    const { P, rig, T, B, owner } = withCommitted();
    const X = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 1);
    const sig = Uint8Array.from(X.signatures[0]!.signature);
    sig[5] = (sig[5] as number) ^ 0x10;
    expectInvalid(rig, P, { block: X.block, signatures: [{ ...X.signatures[0]!, signature: sig }] }, 'bad-signature', true);
  });

  test('a signature made for another block (id bound)', () => {
    const { P, rig, T, B, owner } = withCommitted();
    const X = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 1);
    const Y = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(3) }], T0 + 1);
    expectInvalid(rig, P, { block: X.block, signatures: Y.signatures }, 'bad-signature', true);
  });

  test('a time not after the parent’s', () => {
    const { P, rig, T, B, owner } = withCommitted();
    expectInvalid(rig, P, makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0), 'not-after-parent');
  });

  test('an update of a final token', () => {
    const { P, rig, T, B } = withCommitted(true);
    expectInvalid(rig, P, makeBlock([{ token: T, last: idOf(B), by: signer(1), next: signer(2) }], T0 + 1), 'token-final');
  });

  test('a parent that does not contain the token', () => {
    const { rng, P, rig, B, owner } = withCommitted();
    expectInvalid(rig, P, makeBlock([{ token: rng.bytes(32), last: idOf(B), by: owner, next: signer(2) }], T0 + 1), 'parent-lacks-token');
  });

  test('more than six entries, duplicate tokens, missing signatures: rejected before an id exists', () => {
    const { rng, P, rig, B, T } = withCommitted();
    const six = makeBlock(Array.from({ length: 6 }, () => ({ token: rng.bytes(32), next: signer(1) })), T0);
    const before = rig.peer.mempoolSize;
    const bad = [
      { block: { ...six.block, entries: [...six.block.entries, six.block.entries[0]!] }, signatures: [] },
      { block: { ...six.block, entries: [six.block.entries[0]!, six.block.entries[0]!] }, signatures: [] },
      { block: { version: 1, time: T0 + 1, entries: [{ token: T, last: idOf(B), nextKeyHash: ZERO_ID }] }, signatures: [] },
    ];
    for (const x of bad) {
      const out = rig.initialVote(P[0]!, x, 1, 0);
      assert.ok(out.events.some((e) => e.kind === 'rejected' && e.code === 'invalid-block' && e.action === 'reject'), JSON.stringify(out.events));
    }
    assert.equal(rig.peer.mempoolSize, before);
  });

  test('a time more than 2 h ahead is refused (ignored, not penalised); exactly 2 h is fine', () => {
    const { rng, P, rig } = wholeNet();
    const far = makeBlock([{ token: rng.bytes(32), next: signer(1) }], rig.now + 2 * 3600_000 + 1);
    const out = rig.initialVote(P[0]!, far, 1, 0);
    assert.ok(out.events.some((e) => e.kind === 'invalid' && e.code === 'too-far-in-future'));
    assert.ok(out.events.some((e) => e.kind === 'rejected' && e.action === 'ignore'));
    assert.ok(!out.events.some((e) => e.kind === 'rejected' && e.action === 'reject'));
    assert.equal(rig.peer.status(idOf(far)), 'unknown');
    const edge = makeBlock([{ token: rng.bytes(32), next: signer(1) }], rig.now + 2 * 3600_000);
    rig.initialVote(P[0]!, edge, 1, 0);
    assert.equal(rig.peer.status(idOf(edge)), 'pending');
  });
});

describe('bad copies', () => {
  function withCommitted() {
    const net = wholeNet();
    const owner = signer(1);
    const T = net.rng.bytes(32);
    const B = makeBlock([{ token: T, next: owner }], T0);
    net.rig.submit(B);
    net.commit(B);
    const X = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 1);
    const corrupt = (byte: number, bit: number): SignedBlock => {
      const sig = Uint8Array.from(X.signatures[0]!.signature);
      sig[byte] = (sig[byte] as number) ^ bit;
      return { block: X.block, signatures: [{ ...X.signatures[0]!, signature: sig }] };
    };
    return { ...net, owner, T, B, X, corrupt };
  }

  test('a corrupted copy raced ahead of the genuine block does not censor it', () => {
    const { P, rig, X, corrupt } = withCommitted();
    const bad = corrupt(9, 0x01);
    const out = rig.initialVote(P[1]!, bad, 1, 0);
    assert.ok(out.events.some((e) => e.kind === 'rejected' && e.code === 'invalid-block' && e.action === 'reject'), 'the sender vouched for the bad copy: penalised');
    assert.ok(hasVote(messagesTo(rig, P[1]!, 0), idOf(X), REJECTED, false));
    assert.notEqual(rig.peer.status(idOf(X)), 'invalid');
    rig.initialVote(P[0]!, X, 1, 0);
    assert.equal(rig.peer.status(idOf(X)), 'pending', 'the genuine copy validates');
    assert.deepEqual(rig.peer.voteOf(idOf(X)), PLUS);
    const submitted = rig.peer.submit(rig.now, bad);
    assert.equal(submitted.status, 'pending', 'a bad copy of a block we hold changes nothing');
  });

  test('a bad copy from a sender that abstained is dropped without penalty', () => {
    const { P, rig, X, corrupt } = withCommitted();
    const mark = rig.log.length;
    const out = rig.initialVote(P[1]!, corrupt(11, 0x02), 0, 0);
    assert.ok(out.events.some((e) => e.kind === 'invalid' && e.code === 'bad-signature'));
    assert.ok(!out.events.some((e) => e.kind === 'rejected' && e.action === 'reject'), 'it may not have held the parent');
    assert.ok(!hasVote(messagesTo(rig, P[1]!, mark), idOf(X), REJECTED));
    assert.equal(rig.peer.status(idOf(X)), 'placeholder');
  });

  test('a bad copy of an awaited parent does not re-check the children waiting for it', () => {
    const { rng, P, rig, commit, T, B, owner } = withCommitted();
    const T2 = rng.bytes(32);
    const B2 = makeBlock([{ token: T2, next: owner }], T0);
    rig.submit(B2);
    commit(B2);
    const Z = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 10);
    const C = makeBlock([{ token: T, last: idOf(Z), by: signer(2), next: signer(3) }, { token: T2, last: idOf(B2), by: owner, next: signer(3) }], T0 + 20);
    rig.initialVote(P[0]!, C, 3, 0);
    assert.equal(rig.peer.status(idOf(C)), 'awaiting-parents');
    const zsig = Uint8Array.from(Z.signatures[0]!.signature);
    zsig[7] = (zsig[7] as number) ^ 0x20;
    const verify = testEd25519.verify;
    let checks = 0;
    (testEd25519 as { verify: typeof verify }).verify = (...a: Parameters<typeof verify>) => {
      checks++;
      return verify(...a);
    };
    try {
      rig.receive(P[1]!, { type: 'block', block: Z.block, signatures: [{ ...Z.signatures[0]!, signature: zsig }], ticket: new Uint8Array(16) });
    } finally {
      (testEd25519 as { verify: typeof verify }).verify = verify;
    }
    assert.equal(checks, 1, 'only the bad copy itself is checked, not C again');
    assert.equal(rig.peer.status(idOf(C)), 'awaiting-parents');
    rig.receive(P[2]!, { type: 'block', block: Z.block, signatures: Z.signatures, ticket: new Uint8Array(16) });
    assert.equal(rig.peer.status(idOf(Z)), 'pending', 'the genuine parent is then taken');
    assert.equal(rig.peer.status(idOf(C)), 'pending');
  });

  test('bad copies from eight different senders: the id is refused like an invalid block', () => {
    const { rng, rig, X, corrupt } = withCommitted();
    const bad = corrupt(3, 0x04);
    const many = randomPeers(10, rng);
    rig.peer.setPeers(many);
    for (let i = 0; i < 7; i++) {
      rig.initialVote(many[i]!, bad, 1, 0);
      assert.equal(rig.peer.status(idOf(X)), 'placeholder', `after ${i + 1} bad copies`);
    }
    rig.initialVote(many[7]!, bad, 1, 0);
    assert.equal(rig.peer.status(idOf(X)), 'invalid', 'the eighth sender: refused');
  });

  test('a local submission of a bad copy is refused and leaves nothing behind', () => {
    const { rig, X, corrupt } = withCommitted();
    const r = rig.submit(corrupt(0, 0x80));
    assert.equal(r.status, 'invalid');
    assert.ok(r.events.some((e) => e.kind === 'invalid' && e.code === 'bad-signature'));
    assert.equal(rig.peer.status(idOf(X)), 'unknown');
    assert.equal(rig.submit(X).status, 'pending', 'the genuine copy is then taken');
  });
});

describe('authority, answers and batching', () => {
  test('INITIAL_VOTE from a non-Connected sender needs a client ticket; a client’s vote never counts', () => {
    const { rng, P, rig, commit } = wholeNet();
    const client = rng.bytes(32);
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    const out = rig.initialVote(client, B, 1, 0);
    assert.ok(out.events.some((e) => e.kind === 'rejected' && e.code === 'not-authorised'));
    assert.equal(rig.peer.status(idOf(B)), 'unknown');
    rig.initialVote(client, B, 1, 0, client, { client: true });
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    assert.deepEqual(rig.peer.tallyOf(idOf(B)), { pos: [0], neg: [0] }, "a client's vote never counts");
    // The client named itself the origin: it hears the committed vote.
    const mark = rig.log.length;
    commit(B);
    assert.ok(hasVote(messagesTo(rig, client, mark), idOf(B), { pos: 0xc1, neg: 0 }, false));
    // A Connected peer's INITIAL_VOTE needs no ticket.
    const C = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.initialVote(P[0]!, C, 1, 0);
    assert.equal(rig.peer.status(idOf(C)), 'pending');
  });

  test('a block that became valid answers at the next tick: no echo in receive; its askers, a client included, hear our vote once', () => {
    const { rng, P, rig } = wholeNet();
    const client = rng.bytes(32);
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    const mark = rig.log.length;
    rig.initialVote(client, B, 1, 0, client, { client: true });
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    rig.vote(P[3]!, B, 1, 0, true);
    assert.deepEqual(votesSentOn(rig, mark, B), [], 'nothing before the tick');
    const [out] = rig.tick();
    const to = (x: Uint8Array) => votesSentOn(rig, mark, B).filter((m) => m.to === toHex(x));
    // The client is no first-wave target: it hears our vote as an asker.
    assert.deepEqual(to(client), [{ to: toHex(client), vote: '1/0', type: 'vote' }]);
    assert.ok((out!.causes.tell ?? 0) >= 1);
    // The asking host hears it once (the first wave, a VOTE since it has the block).
    assert.deepEqual(to(P[3]!), [{ to: toHex(P[3]!), vote: '1/0', type: 'vote' }]);
  });

  test('a pending block gets no early answer; a committed one is answered at once, also after expiry', () => {
    const { rng, P, rig } = wholeNet();
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    const m0 = rig.log.length;
    rig.vote(P[8]!, B, 1, 0, true);
    assert.equal(messagesTo(rig, P[8]!, m0).length, 0);
    // Exactly a quorum with the asker's own `+`: without ours it would not see one.
    for (const p of P.slice(0, 5)) rig.vote(p, B, 1, 0);
    rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'committed');
    assert.ok(hasVote(messagesTo(rig, P[8]!, m0), idOf(B), { pos: 0xc1, neg: 0 }, false), 'answered on commit');
    rig.tick(rig.params.mempoolLifetimeTicks + 1);
    assert.equal(rig.peer.status(idOf(B)), 'stored');
    const m1 = rig.log.length;
    rig.vote(P[7]!, B, 0, 0, true);
    assert.ok(hasVote(messagesTo(rig, P[7]!, m1), idOf(B), { pos: 0xc1, neg: 0 }, false), 'answered from the store');
    // QUERY_BLOCK is answered from the store too, echoing the ticket.
    const ticket = rng.bytes(16);
    rig.receive(P[7]!, { type: 'query-block', blockId: idOf(B), ticket });
    assert.ok(messagesTo(rig, P[7]!, m1).some((m) => m.type === 'block' && toHex(m.ticket) === toHex(ticket) && hexId(m) === hexId(B)));
  });

  test('on commit the decision goes to asking hosts that may not see the quorum themselves', () => {
    const { rng, P, rig } = wholeNet();
    const committed = { pos: 0xc1, neg: 0 };
    const decide = (asks: readonly [number, number, number][], voters: readonly number[]) => {
      const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
      rig.submit(B);
      for (const [k, pos, neg] of asks) rig.vote(P[k]!, B, pos, neg, true);
      const mark = rig.log.length;
      for (const k of voters) rig.vote(P[k]!, B, 1, 0);
      rig.tick();
      assert.equal(rig.peer.status(idOf(B)), 'committed');
      return (k: number) => hasVote(messagesTo(rig, P[k]!, mark), idOf(B), committed);
    };
    // Uncontested, seven `+` besides ours: P8 (`+`) still sees six and ours, a quorum, untold;
    // P7 abstained (no host claim) and needs no decision.
    let told = decide([[8, 1, 0], [7, 0, 0]], [0, 1, 2, 3, 4, 5]);
    assert.equal(told(8), false, 'a host that voted `+` sees enough itself');
    assert.equal(told(7), false, 'a peer that made no host claim needs no decision');
    // A host that voted `−` is told; and with a `−` in the tally the `+` voters are told too.
    told = decide([[8, 1, 0], [7, 0, 1]], [0, 1, 2, 3, 4, 5]);
    assert.equal(told(7), true, 'a host that voted `−` is told');
    assert.equal(told(8), true, 'a contested block: every asking host is told');
  });

  test('a late question from a host that voted `+` and holds our `+` is answered only when our window was not all but one `+`', () => {
    const { rng, P, rig } = wholeNet();
    const lateAsk = (voters: readonly number[], asker: number, pos: number) => {
      const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
      rig.submit(B);
      rig.tick();
      for (const k of voters) rig.vote(P[k]!, B, 1, 0);
      rig.tick();
      assert.equal(rig.peer.status(idOf(B)), 'committed');
      const mark = rig.log.length;
      rig.vote(P[asker]!, B, pos, 0, true);
      return hasVote(messagesTo(rig, P[asker]!, mark), idOf(B), { pos: 0xc1, neg: 0 }, false);
    };
    // Eight of nine `+`, then the ninth asks: it holds the eight votes and ours.
    assert.equal(lateAsk([0, 1, 2, 3, 4, 5, 6, 7], 8, 1), false, 'all but one `+`: no answer');
    // A bare quorum: the asker may lack votes that reached us, so it hears the decision.
    assert.equal(lateAsk([0, 1, 2, 3, 4, 5], 6, 1), true, 'a bare quorum: answered');
    // An abstaining asker may need the answer to learn the commit.
    assert.equal(lateAsk([0, 1, 2, 3, 4, 5, 6, 7], 8, 0), true, 'an abstainer: answered');
  });

  test('a host sends its vote without the body to the peers a wave it received covered, the body to the others; its own wave names its receivers', () => {
    // Twelve peers around S whose last bytes differ, as those of hashed addresses do (the filter
    // reads the last three bytes).
    const rng = new SeededRng(SEED);
    const S = 1n << 254n;
    const ks = [-6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6];
    const P = ks.map((k) => bigToBytes(S + BigInt(k) * GAP + bytesToBig(rng.bytes(8))));
    const at = (k: number) => P[ks.indexOf(k)] as Uint8Array;
    const rig = new Rig(bigToBytes(S), P, { seed: SEED });
    const T = bigToBytes(S + 1n);
    assert.equal(rig.peer.hosts(T), true);
    const B = makeBlock([{ token: T, next: signer(1) }], T0);
    const window = rig.peer.windowOf(T);
    const [covered, uncovered] = [window.slice(0, 5), window.slice(5)];
    const cover = new Uint8Array(COVER_BYTES);
    for (const p of covered) coverAdd(cover, p);
    // The entry, far away, covered five of our window.
    const entry = at(6);
    const mark = rig.log.length;
    rig.initialVote(entry, B, 0, 0, entry, {}, cover);
    rig.tick();
    for (const p of covered.filter((x) => toHex(x) !== toHex(entry))) {
      const ms = messagesTo(rig, p, mark);
      assert.ok(hasVote(ms, idOf(B), PLUS, true) && !ms.some((m) => m.type === 'initial-vote'), `covered ${toHex(p).slice(0, 8)}: a VOTE`);
    }
    const bodies = rig.sent(mark).filter((m) => m.message.type === 'initial-vote');
    assert.deepEqual(new Set(bodies.map((m) => m.to)), hexSet(uncovered.filter((x) => toHex(x) !== toHex(entry))), 'the body to the uncovered');
    for (const { message: m } of bodies) {
      assert.ok(m.type === 'initial-vote');
      for (const p of window) if (toHex(p) !== toHex(entry)) assert.equal(covers(m.covered, p), true, 'our wave covers each of its receivers');
    }
    // A filter denser than one window's receivers could be (all ones) is ignored: every member
    // that has not voted gets the body.
    const C = makeBlock([{ token: bigToBytes(S + 2n), next: signer(2) }], T0 + 1);
    const mark2 = rig.log.length;
    rig.initialVote(entry, C, 0, 0, entry, {}, new Uint8Array(COVER_BYTES).fill(0xff));
    rig.tick();
    const bodiesC = rig.sent(mark2).filter((m) => m.message.type === 'initial-vote' && hexId(m.message) === hexId(C));
    assert.deepEqual(new Set(bodiesC.map((m) => m.to)), hexSet(window.filter((x) => toHex(x) !== toHex(entry))));
  });

  test('one flush sends at most one frame of small messages per receiver', () => {
    const { rng, rig } = wholeNet();
    const blocks = Array.from({ length: 5 }, () => makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0));
    for (const b of blocks) rig.submit(b);
    for (let i = 0; i < 12; i++) {
      const [out] = rig.tick();
      const small = new Map<string, number>();
      for (const o of out!.messages) {
        if (o.message.type === 'vote' || o.message.type === 'query-block' || o.message.type === 'batch') {
          const k = toHex(o.to);
          small.set(k, (small.get(k) ?? 0) + 1);
        }
      }
      for (const [k, n] of small) assert.equal(n, 1, `receiver ${k} got ${n} frames at tick ${rig.peer.tickNumber}`);
    }
    assert.ok(rig.log.some((l) => l.out.message.type === 'batch' && l.out.message.items.length > 1), 'polls were batched');
  });
});

describe('hostile input', () => {
  test('property: receive never throws and never fails internally on arbitrary messages', async () => {
    const fc = (await import('fast-check')).default;
    const { rng, P, rig } = wholeNet(9, 77);
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    const bytes = (n: number) => fc.oneof(fc.uint8Array({ minLength: n, maxLength: n }), fc.uint8Array({ maxLength: 40 }));
    const mask = fc.oneof(fc.integer({ min: -1, max: 300 }), fc.constantFrom(0, 1, 0x3f, 0xc0, 0xc1, 0xff), fc.double());
    const entry = fc.record({ token: bytes(32), last: fc.oneof(bytes(32), fc.constant(new Uint8Array(32))), nextKeyHash: bytes(32) });
    const block = fc.record({ version: fc.integer({ min: 0, max: 2 }), time: fc.oneof(fc.integer(), fc.double()), entries: fc.array(entry, { maxLength: 8 }) });
    const sig = fc.record({ index: fc.integer({ min: -1, max: 8 }), publicKey: bytes(32), signature: bytes(64) });
    const item = fc.oneof(
      fc.record({ type: fc.constant('vote' as const), blockId: fc.oneof(bytes(32), fc.constant(idOf(B))), pos: mask, neg: mask, reply: fc.boolean() }),
      fc.record({ type: fc.constant('query-block' as const), blockId: fc.oneof(bytes(32), fc.constant(idOf(B))), ticket: bytes(16) }),
    );
    const message = fc.oneof(
      item,
      fc.record({ type: fc.constant('initial-vote' as const), block, signatures: fc.array(sig, { maxLength: 7 }), pos: mask, neg: mask, origin: fc.oneof(bytes(32), fc.constant(P[0]!)) }),
      fc.record({ type: fc.constant('block' as const), block, signatures: fc.array(sig, { maxLength: 7 }), ticket: bytes(16) }),
      fc.record({ type: fc.constant('batch' as const), items: fc.array(item, { maxLength: 30 }) }),
      fc.record({ type: fc.constantFrom('nonsense', 'batch') }),
    );
    fc.assert(
      fc.property(message, fc.boolean(), fc.boolean(), (m, connected, client) => {
        const from = connected ? P[0]! : rng.bytes(32);
        const out = rig.peer.receive(rig.now, from, m as Message, { client });
        assert.ok(!out.events.some((e) => e.kind === 'rejected' && e.code === 'internal-error'), JSON.stringify(out.events));
      }),
      { seed: SEED, numRuns: 500 },
    );
    rig.tick(3);
  });
});
