/**
 * Digest §12 scenarios 2 (atomicity), 4, 6 and 7 at one peer, plus the polling schedule and
 * request batching. Small rings (≤ 2w + 2 Connected) put every peer in every window unless a
 * test says otherwise.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SignedBlock } from '../wire/block.js';
import { ZERO_ID } from '../wire/block.js';
import { toHex } from '../consensus/hex.js';
import { Ring } from '../consensus/ring.js';
import type { Message } from '../consensus/messages.js';
import { bigToBytes, bytesToBig, hexId, idOf, makeBlock, Rig, signer, T0 } from './helpers/consensus-fixtures.js';
import { SeededRng } from './helpers/seeded-rng.js';
import { testEd25519 } from './helpers/noble-crypto.js';

const SEED = 42;

function peers(n: number, rng: SeededRng): Uint8Array[] {
  return Array.from({ length: n }, () => rng.bytes(32));
}

/** A rig with six Connected peers (whole-ring windows) and helpers to commit blocks. */
function smallNet(seed = SEED) {
  const rng = new SeededRng(seed);
  const P = peers(6, rng);
  const rig = new Rig(rng.bytes(32), P, { seed });
  /** Three 0xFF votes and a tick: commits any valid pending block here. */
  const commit = (b: SignedBlock) => {
    for (const p of P.slice(0, 3)) rig.vote(p, b, 0xff);
    rig.tick();
    assert.equal(rig.peer.status(idOf(b)), 'committed', `seed ${seed}`);
  };
  return { rng, P, rig, commit };
}

/** Two blocks that conflict on (token, last); returned as [lower id, higher id]. */
function contenders(token: Uint8Array, last: Uint8Array, by: ReturnType<typeof signer>, time: number): [SignedBlock, SignedBlock] {
  const a = makeBlock([{ token, last, by, next: signer(101) }], time);
  const b = makeBlock([{ token, last, by, next: signer(102) }], time);
  return hexId(a) < hexId(b) ? [a, b] : [b, a];
}

function messagesTo(rig: Rig, to: Uint8Array, since: number): Exclude<Message, { type: 'batch' }>[] {
  const h = toHex(to);
  return rig.sent(since).filter((m) => m.to === h).map((m) => m.message);
}

/** QUERY_BLOCKs for `block` the peer sent since log index `since`, with their ticks and receivers. */
function fetchesOf(rig: Rig, since: number, block: SignedBlock): ReturnType<Rig['sent']> {
  const id = hexId(block);
  return rig.sent(since).filter((m) => m.message.type === 'query-block' && toHex(m.message.blockId) === id);
}

function hasVote(ms: Message[], id: Uint8Array, mask: number, reply: boolean): boolean {
  return ms.some((m) => m.type === 'vote' && toHex(m.blockId) === toHex(id) && m.mask === mask && m.reply === reply);
}

function hasBlock(ms: Message[], id: string): boolean {
  return ms.some((m) => (m.type === 'initial-vote' && hexId(m) === id) || (m.type === 'vote' && toHex(m.blockId) === id));
}

describe('scenario 2: extension and atomicity', () => {
  test('a chain extension moves the mapping; the parent stays retrievable', () => {
    const { rng, rig, commit } = smallNet();
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
    const { rng, P, rig, commit } = smallNet();
    const owner = signer(1);
    const tokens = [rng.bytes(32), rng.bytes(32), rng.bytes(32)];
    const C = makeBlock(tokens.map((token) => ({ token, next: owner })), T0);
    rig.submit(C);
    commit(C);
    const X = makeBlock(tokens.map((token) => ({ token, last: idOf(C), by: owner, next: signer(9) })), T0 + 5);
    rig.submit(X);
    assert.equal(rig.peer.maskOf(idOf(X)), 0b111);
    // Token 2 gets only +1 net: nothing moves.
    rig.vote(P[0]!, X, 0b111);
    rig.vote(P[1]!, X, 0b111);
    rig.vote(P[2]!, X, 0b011);
    rig.vote(P[3]!, X, 0b011);
    rig.vote(P[4]!, X, 0b111);
    assert.deepEqual(rig.peer.tallyOf(idOf(X))?.tokens, [5, 5, 1]);
    const head = rig.store.head().seq;
    rig.tick(3);
    assert.equal(rig.peer.status(idOf(X)), 'pending');
    assert.equal(rig.store.head().seq, head);
    for (const t of tokens) assert.deepEqual(rig.store.token(t)?.block, idOf(C));
    // Two more positives on token 2: everything moves together.
    rig.vote(P[2]!, X, 0b111);
    rig.vote(P[5]!, X, 0b111);
    const [out] = rig.tick();
    assert.equal(rig.peer.status(idOf(X)), 'committed');
    assert.equal(out!.batch?.commits.length, 1);
    assert.deepEqual(out!.batch?.commits[0]?.blockIds, [idOf(X)]);
    assert.equal(out!.batch?.tokens.length, 3);
    for (const t of tokens) assert.deepEqual(rig.store.token(t)?.block, idOf(X));
  });

  test('a parent and its child can commit in the same tick, in order', () => {
    const { rng, P, rig } = smallNet();
    const owner = signer(1);
    const T = rng.bytes(32);
    const B = makeBlock([{ token: T, next: owner }], T0);
    const B2 = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 1);
    rig.submit(B2); // parent unknown: awaits it
    assert.equal(rig.peer.status(idOf(B2)), 'awaiting-parents');
    rig.submit(B);
    assert.equal(rig.peer.status(idOf(B2)), 'pending');
    for (const p of P.slice(0, 3)) {
      rig.vote(p, B2, 0xff);
      rig.vote(p, B, 0xff);
    }
    const [out] = rig.tick();
    assert.deepEqual(out!.batch?.commits[0]?.blockIds.map(toHex), [hexId(B), hexId(B2)]);
    assert.deepEqual(rig.store.token(T)?.block, idOf(B2));
  });
});

describe('scenario 4: conflict ordering at one peer', () => {
  function withToken(seed = SEED) {
    const net = smallNet(seed);
    const owner = signer(1);
    const T = net.rng.bytes(32);
    const B = makeBlock([{ token: T, next: owner }], T0);
    net.rig.submit(B);
    net.commit(B);
    const [L, H] = contenders(T, idOf(B), owner, T0 + 10);
    return { ...net, owner, T, B, L, H };
  }

  test('(a) H pending, L arrives: L is Blocked at once, answers 0, and L’s voters are sent H', () => {
    const { rng, P, rig, L, H } = withToken();
    rig.initialVote(P[0]!, H, 1);
    assert.equal(rig.peer.status(idOf(H)), 'pending');
    // L comes from a client (never a first-wave target of H, so H reaches it only by forwarding).
    const client = rng.bytes(32);
    const mark = rig.log.length;
    rig.initialVote(client, L, 1, { client: true });
    assert.equal(rig.peer.status(idOf(L)), 'blocked');
    assert.equal(rig.peer.winnerOf(idOf(L)), hexId(H));
    assert.equal(rig.peer.maskOf(idOf(L)), 0);
    const toClient = messagesTo(rig, client, mark);
    assert.ok(hasVote(toClient, idOf(L), 0, false), 'the sender of L hears 0x00');
    assert.ok(toClient.some((m) => m.type === 'initial-vote' && hexId(m) === hexId(H)), 'and receives H');
    // A Connected sender of L also hears 0x00 and has H (from H's first wave or the forward).
    const m1 = rig.log.length;
    rig.initialVote(P[1]!, L, 1);
    assert.ok(hasVote(messagesTo(rig, P[1]!, m1), idOf(L), 0, false));
    assert.ok(hasBlock(messagesTo(rig, P[1]!, 0), hexId(H)));
    // A later question about L is answered 0 at once, with H.
    const asker = rng.bytes(32);
    const mark2 = rig.log.length;
    rig.vote(asker, L, 1, true, { client: true });
    const toAsker = messagesTo(rig, asker, mark2);
    assert.ok(hasVote(toAsker, idOf(L), 0, false));
    assert.ok(hasBlock(toAsker, hexId(H)));
    // L never commits, whatever the votes; H does.
    for (const p of P) rig.vote(p, L, 0xff);
    for (const p of P.slice(0, 3)) rig.vote(p, H, 1);
    rig.tick(3);
    assert.equal(rig.peer.status(idOf(L)), 'blocked');
    assert.equal(rig.peer.status(idOf(H)), 'committed');
  });

  test('(a′) L pending with interested voters, H arrives: L flips to Blocked and its voters get 0 and H', () => {
    const { P, rig, L, H } = withToken();
    rig.initialVote(P[0]!, L, 1);
    rig.vote(P[1]!, L, 1, true);
    assert.equal(rig.peer.status(idOf(L)), 'pending');
    const mark = rig.log.length;
    rig.initialVote(P[2]!, H, 1);
    assert.equal(rig.peer.status(idOf(L)), 'blocked');
    for (const p of [P[0]!, P[1]!]) {
      const ms = messagesTo(rig, p, mark);
      assert.ok(hasVote(ms, idOf(L), 0, false), 'voter of L hears 0x00');
      assert.ok(hasBlock(ms, hexId(H)), 'voter of L is sent H');
    }
    // Everyone L's first wave gave our positive vote to is told 0x00 (a retraction), and gets H.
    const firstWave = new Set(rig.sent(0).filter((m) => m.at <= mark && m.message.type === 'initial-vote' && hexId(m.message) === hexId(L)).map((m) => m.to));
    assert.ok(firstWave.size > 0);
    for (const h of firstWave) {
      const ms = rig.sent(mark).filter((m) => m.to === h).map((m) => m.message);
      assert.ok(hasVote(ms, idOf(L), 0, false), `retraction to ${h}`);
    }
    // H beat a contender here, so its poll counters advance every tick (contested): after the two
    // silent steps the third tick polls pair 0 (uncontested, the first poll would come at a tick ≡ 0 mod 3 ≥ 9).
    const before = rig.log.length;
    const start = rig.peer.tickNumber;
    rig.tick(3);
    const polls = rig.sent(before).filter((m) => m.message.type === 'vote' && toHex(m.message.blockId) === hexId(H) && m.message.reply);
    assert.ok(polls.length > 0 && polls.every((m) => m.at === start + 3), JSON.stringify(polls.map((m) => m.at)));
  });

  test('(b) X committed, a higher Y arrives: X stays, Y never commits, Y’s bit is 0', () => {
    const { P, rig, T, L: X, H: Y } = withToken();
    rig.initialVote(P[0]!, X, 1);
    for (const p of P.slice(0, 3)) rig.vote(p, X, 1);
    rig.tick();
    assert.equal(rig.peer.status(idOf(X)), 'committed');
    rig.initialVote(P[3]!, Y, 1);
    assert.equal(rig.peer.status(idOf(Y)), 'blocked');
    assert.equal(rig.peer.maskOf(idOf(Y)), 0);
    for (const p of P) rig.vote(p, Y, 0xff);
    rig.tick(5);
    assert.equal(rig.peer.status(idOf(Y)), 'blocked');
    assert.deepEqual(rig.store.token(T)?.block, idOf(X));
  });

  test('(b′) after X has left the mempool, the store’s spends still refuse Y — also on a token the peer does not host', () => {
    const rng = new SeededRng(SEED + 1);
    const T = rng.bytes(32);
    const t = bytesToBig(T);
    // 20 Connected peers around T; the peer itself is far away, so it does not host T.
    const P = Array.from({ length: 20 }, (_, i) => bigToBytes(t + BigInt(i - 10) * (1n << 200n) + 1n));
    const self = bigToBytes(t + (1n << 255n));
    const rig = new Rig(self, P, { seed: SEED });
    assert.equal(rig.peer.hosts(T), false);
    const owner = signer(1);
    const B = makeBlock([{ token: T, next: owner }], T0);
    const [X, Y] = contenders(T, idOf(B), owner, T0 + 10);
    const ring = Ring.of(P);
    const near = (key: string) => ring.window(key, 4).map((h) => P.find((p) => toHex(p) === h)!);
    const commitHere = (b: SignedBlock) => {
      for (const p of new Set([...near(toHex(T)).slice(0, 4), ...near(hexId(b)).slice(0, 4)])) rig.vote(p, b, 0xff);
      rig.tick();
      assert.equal(rig.peer.status(idOf(b)), 'committed');
    };
    rig.submit(B);
    commitHere(B);
    rig.submit(X);
    commitHere(X);
    assert.equal(rig.store.token(T), undefined, 'not hosted: no mapping');
    assert.deepEqual(rig.store.spend(T, idOf(B)), idOf(X));
    rig.tick(rig.params.mempoolLifetimeTicks + 1);
    assert.equal(rig.peer.status(idOf(X)), 'stored');
    const r = rig.submit(Y);
    assert.equal(r.status, 'blocked');
    assert.equal(rig.peer.winnerOf(idOf(Y)), hexId(X));
  });
});

describe('scenario 6: stale parent and expiry', () => {
  test('a child seen before its parent committed here: the peers holding our 0 hear the new mask once the parent commits', () => {
    const { rng, P, rig, commit } = smallNet();
    const owner = signer(1);
    const T = rng.bytes(32);
    const C = makeBlock([{ token: T, next: owner }], T0);
    rig.initialVote(P[0]!, C, 0xff);
    const X = makeBlock([{ token: T, last: idOf(C), by: owner, next: signer(2) }], T0 + 10);
    const mark = rig.log.length;
    rig.initialVote(P[1]!, X, 1);
    assert.equal(rig.peer.status(idOf(X)), 'pending');
    assert.equal(rig.peer.maskOf(idOf(X)), 0, 'its parent is not our mapping yet');
    const heldZero = [...new Set(rig.sent(mark).filter((m) => m.message.type === 'initial-vote' && hexId(m.message) === hexId(X)).map((m) => m.to))];
    assert.ok(heldZero.length > 0, 'the first wave carried our 0');
    const mark2 = rig.log.length;
    commit(C);
    assert.equal(rig.peer.maskOf(idOf(X)), 1);
    const after = rig.sent(mark2);
    for (const h of heldZero) {
      const ms = after.filter((m) => m.to === h).map((m) => m.message);
      assert.ok(hasVote(ms, idOf(X), 1, false), `peer ${h.slice(0, 8)} is told the new mask in the tick the parent commits`);
    }
  });

  test('an unknown parent: not committed, bit 0, parent fetched at most once per 5 ticks, then catch-up', () => {
    const { rng, P, rig, commit } = smallNet();
    const owner = signer(1);
    const T = rng.bytes(32);
    const B = makeBlock([{ token: T, next: owner }], T0);
    rig.submit(B);
    commit(B);
    // Z extends B (we never saw it); C extends Z.
    const Z = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 10);
    const C = makeBlock([{ token: T, last: idOf(Z), by: signer(2), next: signer(3) }], T0 + 20);
    const mark = rig.log.length;
    rig.initialVote(P[0]!, C, 1);
    assert.equal(rig.peer.status(idOf(C)), 'awaiting-parents');
    assert.equal(rig.peer.maskOf(idOf(C)), 0);
    for (const p of P.slice(1, 5)) rig.vote(p, C, 0xff);
    rig.tick(12);
    assert.notEqual(rig.peer.status(idOf(C)), 'committed');
    const fetches = fetchesOf(rig, mark, Z);
    assert.ok(fetches.length >= 2, `retried (${fetches.length})`);
    for (let i = 1; i < fetches.length; i++) assert.ok(fetches[i]!.at - fetches[i - 1]!.at >= 5, `cooldown: ${fetches.map((f) => f.at)}`);
    assert.equal(fetches[0]!.to, toHex(P[0]!), 'first asks whoever sent the block');
    // Unsolicited or mismatched answers are ignored.
    const query = fetches[fetches.length - 1]!.message as Extract<Message, { type: 'query-block' }>;
    const stray = rig.receive(P[0]!, { type: 'block', block: C.block, signatures: C.signatures, ticket: query.ticket });
    assert.ok(stray.events.some((e) => e.kind === 'rejected' && e.code === 'bad-ticket'));
    const Y = makeBlock([{ token: rng.bytes(32), next: owner }], T0 + 30);
    const unasked = rig.receive(P[0]!, { type: 'block', block: Y.block, signatures: Y.signatures, ticket: new Uint8Array(16) });
    assert.ok(unasked.events.some((e) => e.kind === 'rejected' && e.code === 'bad-ticket'), 'a block nobody waits for needs our ticket');
    assert.equal(rig.peer.status(idOf(Y)), 'unknown');
    assert.equal(rig.peer.status(idOf(Z)), 'unknown');
    // The answer: Z validates, then C validates but is stale until Z commits. Z is a parent we
    // are waiting for, so from a Connected peer its content hash is proof enough: an answer whose
    // ticket has expired (here: none at all) is still taken (decision 14).
    const stranger = rig.receive(rng.bytes(32), { type: 'block', block: Z.block, signatures: Z.signatures, ticket: new Uint8Array(16) });
    assert.ok(stranger.events.some((e) => e.kind === 'rejected' && e.code === 'bad-ticket'), 'a stranger still needs our ticket');
    assert.equal(rig.peer.status(idOf(Z)), 'unknown');
    const late = rig.receive(P[0]!, { type: 'block', block: Z.block, signatures: Z.signatures, ticket: new Uint8Array(16) });
    assert.ok(!late.events.some((e) => e.kind === 'rejected'), 'an awaited parent is taken without a live ticket');
    assert.equal(rig.peer.status(idOf(Z)), 'pending');
    assert.equal(rig.peer.status(idOf(C)), 'pending');
    assert.equal(rig.peer.maskOf(idOf(C)), 0, 'our mapping is still B');
    rig.tick();
    assert.equal(rig.peer.status(idOf(C)), 'pending', 'stale parent: not committed despite votes');
    // Z commits; C (time after Z) is evaluated after it in the same tick and commits too.
    commit(Z);
    assert.equal(rig.peer.status(idOf(C)), 'committed');
    assert.deepEqual(rig.store.commit(rig.store.head().seq)?.blockIds.map(toHex), [hexId(Z), hexId(C)]);
    assert.deepEqual(rig.store.token(T)?.block, idOf(C));
  });

  test('a block that can never reach threshold expires after 200 ticks; a resubmission is new', () => {
    const { rng, P, rig } = smallNet();
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    rig.vote(P[0]!, B, 1);
    rig.vote(P[1]!, B, 1);
    rig.tick(rig.params.mempoolLifetimeTicks - 1);
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'unknown');
    assert.ok(rig.events.some((e) => e.kind === 'expired' && e.id === hexId(B) && e.state === 'pending'));
    assert.equal(rig.peer.mempoolSize, 0);
    const mark = rig.log.length;
    assert.equal(rig.submit(B).status, 'pending');
    assert.ok(rig.sent(mark).some((m) => m.message.type === 'initial-vote'), 'first wave again');
    assert.deepEqual(rig.peer.tallyOf(idOf(B)), { tokens: [0], witness: 0 }, 'old votes are gone');
  });
});

describe('scenario 7: invalid blocks', () => {
  function withToken(final = false) {
    const net = smallNet();
    const owner = signer(1);
    const T = net.rng.bytes(32);
    const B = makeBlock([{ token: T, next: final ? null : owner }], T0);
    net.rig.submit(B);
    net.commit(B);
    return { ...net, owner, T, B };
  }

  /**
   * `copy`: the fault is in the signatures, which the id does not cover, so only this copy is
   * refused; the id stays open for a genuine copy (decision 15), as a placeholder for its voters.
   */
  function expectInvalid(rig: Rig, P: Uint8Array[], X: SignedBlock, code: string, copy = false) {
    const out = rig.initialVote(P[0]!, X, 1);
    const state = copy ? 'placeholder' : 'invalid';
    if (copy) {
      // Its sender is not believed again: the same copy is ignored without another check.
      const again = rig.initialVote(P[0]!, X, 1);
      assert.ok(!again.events.some((e) => e.kind === 'invalid'), 'no second check of a known bad sender');
      assert.ok(again.events.some((e) => e.kind === 'rejected' && e.code === 'invalid-block' && e.action === 'ignore'));
    }
    assert.equal(rig.peer.status(idOf(X)), state);
    assert.ok(out.events.some((e) => e.kind === 'invalid' && e.code === code), `code ${code}: ${JSON.stringify(out.events)}`);
    assert.equal(rig.peer.maskOf(idOf(X)), 0);
    assert.ok(hasVote(messagesTo(rig, P[0]!, 0), idOf(X), 0, false), 'the sender hears 0x00');
    for (const p of P) rig.vote(p, X, 0xff);
    rig.tick(3);
    assert.equal(rig.peer.status(idOf(X)), state);
    assert.equal(rig.store.hasBlock(idOf(X)), false);
  }

  test('an update signed by a key whose hash is not the parent’s next_key_hash', () => {
    const { P, rig, T, B } = withToken();
    expectInvalid(rig, P, makeBlock([{ token: T, last: idOf(B), by: signer(666), next: signer(2) }], T0 + 1), 'wrong-key', true);
  });

  test('a corrupted signature by the right key', () => {
    const { P, rig, T, B, owner } = withToken();
    const X = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 1);
    const sig = Uint8Array.from(X.signatures[0]!.signature);
    sig[5] = (sig[5] as number) ^ 0x10;
    expectInvalid(rig, P, { block: X.block, signatures: [{ ...X.signatures[0]!, signature: sig }] }, 'bad-signature', true);
  });

  test('a corrupted copy raced ahead of the genuine block does not censor it', () => {
    const { P, rig, T, B, owner } = withToken();
    const X = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 1);
    const sig = Uint8Array.from(X.signatures[0]!.signature);
    sig[9] = (sig[9] as number) ^ 0x01;
    const bad = rig.initialVote(P[1]!, { block: X.block, signatures: [{ ...X.signatures[0]!, signature: sig }] }, 1);
    assert.ok(bad.events.some((e) => e.kind === 'rejected' && e.code === 'invalid-block' && e.action === 'reject'), 'the sender of the bad copy is penalised');
    assert.notEqual(rig.peer.status(idOf(X)), 'invalid');
    rig.initialVote(P[0]!, X, 1);
    assert.equal(rig.peer.status(idOf(X)), 'pending', 'the genuine copy validates');
    assert.equal(rig.peer.maskOf(idOf(X)), 1);
    const submitted = rig.peer.submit(rig.now, { block: X.block, signatures: [{ ...X.signatures[0]!, signature: sig }] });
    assert.equal(submitted.status, 'pending', 'a bad copy of a block we hold changes nothing');
  });

  test('a bad copy of an awaited parent does not re-check the children waiting for it', () => {
    const { rng, P, rig, commit, T, B, owner } = withToken();
    const T2 = rng.bytes(32);
    const B2 = makeBlock([{ token: T2, next: owner }], T0);
    rig.submit(B2);
    commit(B2);
    const Z = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 10);
    const C = makeBlock([{ token: T, last: idOf(Z), by: signer(2), next: signer(3) }, { token: T2, last: idOf(B2), by: owner, next: signer(3) }], T0 + 20);
    rig.initialVote(P[0]!, C, 3);
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
    const { rng, rig, T, B, owner } = withToken();
    const X = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 1);
    const sig = Uint8Array.from(X.signatures[0]!.signature);
    sig[3] = (sig[3] as number) ^ 0x04;
    const bad = { block: X.block, signatures: [{ ...X.signatures[0]!, signature: sig }] };
    // More Connected peers than the small net's six.
    const many = Array.from({ length: 10 }, () => rng.bytes(32));
    rig.peer.setPeers([...many], []);
    for (let i = 0; i < 7; i++) {
      rig.initialVote(many[i]!, bad, 1);
      assert.equal(rig.peer.status(idOf(X)), 'placeholder', `after ${i + 1} bad copies`);
    }
    rig.initialVote(many[7]!, bad, 1);
    assert.equal(rig.peer.status(idOf(X)), 'invalid', 'the eighth sender: refused');
  });

  test('a local submission of a bad copy is refused and leaves nothing behind', () => {
    const { rig, T, B, owner } = withToken();
    const X = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 1);
    const sig = Uint8Array.from(X.signatures[0]!.signature);
    sig[0] = (sig[0] as number) ^ 0x80;
    const r = rig.submit({ block: X.block, signatures: [{ ...X.signatures[0]!, signature: sig }] });
    assert.equal(r.status, 'invalid');
    assert.ok(r.events.some((e) => e.kind === 'invalid' && e.code === 'bad-signature'));
    assert.equal(rig.peer.status(idOf(X)), 'unknown');
    assert.equal(rig.submit(X).status, 'pending', 'the genuine copy is then taken');
  });

  test('a signature made for another block (id bound)', () => {
    const { P, rig, T, B, owner } = withToken();
    const X = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 1);
    const Y = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(3) }], T0 + 1);
    expectInvalid(rig, P, { block: X.block, signatures: Y.signatures }, 'bad-signature', true);
  });

  test('a time not after the parent’s', () => {
    const { P, rig, T, B, owner } = withToken();
    expectInvalid(rig, P, makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0), 'not-after-parent');
  });

  test('an update of a final token', () => {
    const { P, rig, T, B } = withToken(true);
    expectInvalid(rig, P, makeBlock([{ token: T, last: idOf(B), by: signer(1), next: signer(2) }], T0 + 1), 'token-final');
  });

  test('a parent that does not contain the token', () => {
    const { rng, P, rig, B, owner } = withToken();
    expectInvalid(rig, P, makeBlock([{ token: rng.bytes(32), last: idOf(B), by: owner, next: signer(2) }], T0 + 1), 'parent-lacks-token');
  });

  test('more than six entries, duplicate tokens, missing signatures: rejected before an id exists', () => {
    const { rng, P, rig, B, T } = withToken();
    const seven = makeBlock(Array.from({ length: 6 }, () => ({ token: rng.bytes(32), next: signer(1) })), T0);
    const before = rig.peer.mempoolSize;
    const bad = [
      { block: { ...seven.block, entries: [...seven.block.entries, seven.block.entries[0]!] }, signatures: [] },
      { block: { ...seven.block, entries: [seven.block.entries[0]!, seven.block.entries[0]!] }, signatures: [] },
      { block: { version: 1, time: T0 + 1, entries: [{ token: T, last: idOf(B), nextKeyHash: ZERO_ID }] }, signatures: [] },
    ];
    for (const x of bad) {
      const out = rig.initialVote(P[0]!, x, 1);
      assert.ok(out.events.some((e) => e.kind === 'rejected' && e.code === 'invalid-block' && e.action === 'reject'), JSON.stringify(out.events));
    }
    assert.equal(rig.peer.mempoolSize, before);
  });

  test('a time more than 2 h ahead is refused (ignored, not penalised); exactly 2 h is fine', () => {
    const { rng, P, rig } = smallNet();
    const far = makeBlock([{ token: rng.bytes(32), next: signer(1) }], rig.now + 2 * 3600_000 + 1);
    const out = rig.initialVote(P[0]!, far, 1);
    assert.ok(out.events.some((e) => e.kind === 'invalid' && e.code === 'too-far-in-future'));
    assert.ok(out.events.some((e) => e.kind === 'rejected' && e.action === 'ignore'));
    assert.equal(rig.peer.status(idOf(far)), 'unknown');
    const edge = makeBlock([{ token: rng.bytes(32), next: signer(1) }], rig.now + 2 * 3600_000);
    rig.initialVote(P[0]!, edge, 1);
    assert.equal(rig.peer.status(idOf(edge)), 'pending');
  });
});

describe('authority, answers and batching', () => {
  test('INITIAL_VOTE from a non-Connected sender needs a client ticket; the client hears 0xFF on commit', () => {
    const { rng, rig, commit } = smallNet();
    const client = rng.bytes(32);
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    const out = rig.initialVote(client, B, 1);
    assert.ok(out.events.some((e) => e.kind === 'rejected' && e.code === 'not-authorised'));
    assert.equal(rig.peer.status(idOf(B)), 'unknown');
    rig.initialVote(client, B, 1, { client: true });
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    assert.deepEqual(rig.peer.tallyOf(idOf(B)), { tokens: [0], witness: 0 }, "a client's vote never counts");
    const mark = rig.log.length;
    commit(B);
    assert.ok(hasVote(messagesTo(rig, client, mark), idOf(B), 0xff, false));
  });

  test('a pending block gets no early answer; a committed one is answered at once, also after expiry', () => {
    const { rng, P, rig, commit } = smallNet();
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    const m0 = rig.log.length;
    rig.vote(P[4]!, B, 1, true);
    assert.equal(messagesTo(rig, P[4]!, m0).length, 0);
    commit(B);
    assert.ok(hasVote(messagesTo(rig, P[4]!, m0), idOf(B), 0xff, false), 'answered on commit');
    rig.tick(rig.params.mempoolLifetimeTicks + 1);
    const m1 = rig.log.length;
    rig.vote(P[5]!, B, 0, true);
    assert.ok(hasVote(messagesTo(rig, P[5]!, m1), idOf(B), 0xff, false), 'answered from the store');
    // QUERY_BLOCK is answered from the store too, echoing the ticket.
    const ticket = rng.bytes(16);
    rig.receive(P[5]!, { type: 'query-block', blockId: idOf(B), ticket });
    assert.ok(messagesTo(rig, P[5]!, m1).some((m) => m.type === 'block' && toHex(m.ticket) === toHex(ticket) && hexId(m) === hexId(B)));
  });

  test('a VOTE for an unknown block from a Connected peer makes a placeholder and fetches the body from it', () => {
    const { rng, P, rig } = smallNet();
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.vote(rng.bytes(32), B, 1, true);
    assert.equal(rig.peer.status(idOf(B)), 'unknown', 'not from a stranger');
    const mark = rig.log.length;
    rig.vote(P[2]!, B, 1, true);
    assert.equal(rig.peer.status(idOf(B)), 'placeholder');
    const q = messagesTo(rig, P[2]!, mark).find((m) => m.type === 'query-block');
    assert.ok(q !== undefined && q.type === 'query-block');
    rig.receive(P[2]!, { type: 'block', block: B.block, signatures: B.signatures, ticket: q.ticket });
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    assert.deepEqual(rig.peer.tallyOf(idOf(B))?.tokens, [1], 'the early vote is kept');
  });

  test('unanswered fetches back off: the body is asked again after 3, 6, 12, then every 24 ticks (decision 16)', () => {
    const { rng, P, rig } = smallNet();
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    const mark = rig.log.length;
    rig.vote(P[2]!, B, 1, true);
    rig.tick(100);
    const at = fetchesOf(rig, mark, B).map((m) => m.at);
    const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
    assert.deepEqual(gaps, [3, 6, 12, 24, 24, 24], `fetch ticks ${at}`);
  });

  test('a body that came after backed-off fetches asks for its missing parent at once, from its sender', () => {
    const { rng, P, rig } = smallNet();
    const owner = signer(1);
    const T = rng.bytes(32);
    const B = makeBlock([{ token: T, next: owner }], T0);
    const C = makeBlock([{ token: T, last: idOf(B), by: owner, next: signer(2) }], T0 + 10);
    rig.vote(P[2]!, C, 1, true);
    rig.tick(25);
    const fetchesOfC = fetchesOf(rig, 0, C);
    assert.equal(fetchesOfC.length, 4, 'four body fetches so far (ticks 0, 3, 9, 21)');
    const mark = rig.log.length;
    rig.receive(P[2]!, { type: 'block', block: C.block, signatures: C.signatures, ticket: new Uint8Array(16) });
    assert.equal(rig.peer.status(idOf(C)), 'awaiting-parents');
    const parentFetch = fetchesOf(rig, mark, B);
    assert.equal(parentFetch.length, 1, 'the parent is asked for in the same step, not after the body fetches’ backoff');
    assert.equal(parentFetch[0]!.to, toHex(P[2]!), 'from whoever sent the body');
  });

  test('one flush sends at most one frame of small messages per receiver', () => {
    const { rng, rig } = smallNet();
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

describe('commit delay (experimental param)', () => {
  test('with commitDelayTicks = 3 a block with enough votes waits until it has been valid for 3 ticks', () => {
    const rng = new SeededRng(SEED);
    const P = peers(6, rng);
    const rig = new Rig(rng.bytes(32), P, { seed: SEED, params: { commitDelayTicks: 3 } });
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    for (const p of P.slice(0, 3)) rig.vote(p, B, 1);
    rig.tick(2);
    assert.equal(rig.peer.status(idOf(B)), 'pending');
    rig.tick();
    assert.equal(rig.peer.status(idOf(B)), 'committed');
  });
});

describe('polling schedule (digest §2.8)', () => {
  function ringNet(seed = SEED) {
    const rng = new SeededRng(seed);
    const P = peers(20, rng);
    const rig = new Rig(rng.bytes(32), P, { seed });
    const ring = Ring.of(P);
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    return { rng, P, rig, ring, B };
  }

  test('pairs 0..3 outward on every third advancing tick, starting two silent steps after the first wave', () => {
    const { rig, ring, B } = ringNet();
    rig.submit(B);
    const T = toHex(B.block.entries[0]!.token);
    const id = hexId(B);
    const byTick = new Map<number, Set<string>>();
    const mark = rig.log.length;
    rig.tick(48);
    for (const m of rig.sent(mark)) {
      if (m.message.type !== 'vote' || !m.message.reply) continue;
      if (!byTick.has(m.at)) byTick.set(m.at, new Set());
      byTick.get(m.at)!.add(m.to);
    }
    // Uncontested: counters advance on ticks ≡ 0 (mod 3): 3→10, 6→11, 9→0 (pair 0), 18→3 (pair 1), 27 (pair 2), 36 (pair 3), 45 (pair 0 again).
    const expected = new Map<number, Set<string>>([
      [9, new Set([...ring.pair(T, 0), ...ring.pair(id, 0)])],
      [18, new Set([...ring.pair(T, 1), ...ring.pair(id, 1)])],
      [27, new Set([...ring.pair(T, 2), ...ring.pair(id, 2)])],
      [36, new Set([...ring.pair(T, 3), ...ring.pair(id, 3)])],
      [45, new Set([...ring.pair(T, 0), ...ring.pair(id, 0)])],
    ]);
    assert.deepEqual([...byTick.keys()].sort((a, b) => a - b), [...expected.keys()]);
    for (const [t, set] of expected) assert.deepEqual(byTick.get(t), set, `tick ${t}`);
  });

  /** 10 peers around the token and 10 around the block id, so the two windows are disjoint. */
  function clusteredNet(seed = SEED) {
    const rng = new SeededRng(seed);
    for (;;) {
      const token = rng.bytes(32);
      const B = makeBlock([{ token, next: signer(1) }], T0);
      const t = bytesToBig(token);
      const id = bytesToBig(idOf(B));
      const d = t > id ? t - id : id - t;
      if (d < 1n << 250n || d > (1n << 256n) - (1n << 250n)) continue;
      const ks = [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5];
      const P = [...ks.map((k) => bigToBytes(t + BigInt(k) * (1n << 200n))), ...ks.map((k) => bigToBytes(id + BigInt(k) * (1n << 200n)))];
      const rig = new Rig(bigToBytes(t + (1n << 255n)), P, { seed });
      return { rng, P, rig, ring: Ring.of(P), B };
    }
  }

  test('settled roles stop polling; a token role below −T pauses', () => {
    const { rig, ring, B, P } = clusteredNet();
    rig.submit(B);
    const T = toHex(B.block.entries[0]!.token);
    const id = hexId(B);
    const find = (h: string) => P.find((p) => toHex(p) === h)!;
    // Witness settled (3 voters in window(id)), token at −3 (three negatives in window(T)).
    const wid = ring.window(id, 4).filter((h) => !ring.window(T, 4).includes(h));
    const wt = ring.window(T, 4).filter((h) => !ring.window(id, 4).includes(h));
    assert.ok(wid.length >= 3 && wt.length >= 3, `seed ${SEED}: windows overlap too much for this test`);
    for (const h of wid.slice(0, 3)) rig.vote(find(h), B, 1);
    for (const h of wt.slice(0, 3)) rig.vote(find(h), B, 0);
    const t = rig.peer.tallyOf(idOf(B))!;
    assert.ok(t.witness > 2 && t.tokens[0]! < -2, JSON.stringify(t));
    const mark = rig.log.length;
    rig.tick(48);
    assert.equal(rig.sent(mark).filter((m) => m.message.type === 'vote' && m.message.reply).length, 0);
    // Recovery to ≥ −T (here −1) restarts the token role at step 0: the next advancing tick polls pair 0 around T.
    rig.vote(find(wt[0]!), B, 1);
    assert.equal(rig.peer.tallyOf(idOf(B))!.tokens[0], -1);
    const mark2 = rig.log.length;
    rig.tick(3);
    const polls = rig.sent(mark2).filter((m) => m.message.type === 'vote' && m.message.reply);
    assert.ok(polls.length > 0);
    const firstAt = polls[0]!.at;
    assert.equal(firstAt % 3, 0, 'on an advancing tick');
    assert.deepEqual(new Set(polls.filter((m) => m.at === firstAt).map((m) => m.to)), new Set(ring.pair(T, 0)));
  });

  test('polls skip peers that already answered 0xFF', () => {
    const { rig, ring, B, P } = ringNet();
    rig.submit(B);
    const T = toHex(B.block.entries[0]!.token);
    const pair0 = ring.pair(T, 0);
    for (const h of pair0) rig.vote(P.find((p) => toHex(p) === h)!, B, 0xff);
    const mark = rig.log.length;
    rig.tick(9);
    const polled = rig.sent(mark).filter((m) => m.message.type === 'vote' && m.message.reply).map((m) => m.to);
    for (const h of pair0) assert.ok(!polled.includes(h));
  });
});


describe('hostile input', () => {
  test('property: receive never throws and never fails internally on arbitrary messages', async () => {
    const fc = (await import('fast-check')).default;
    const { rng, P, rig } = smallNet(77);
    const B = makeBlock([{ token: rng.bytes(32), next: signer(1) }], T0);
    rig.submit(B);
    const bytes = (n: number) => fc.oneof(fc.uint8Array({ minLength: n, maxLength: n }), fc.uint8Array({ maxLength: 40 }));
    const entry = fc.record({ token: bytes(32), last: fc.oneof(bytes(32), fc.constant(new Uint8Array(32))), nextKeyHash: bytes(32) });
    const block = fc.record({ version: fc.integer({ min: 0, max: 2 }), time: fc.oneof(fc.integer(), fc.double()), entries: fc.array(entry, { maxLength: 8 }) });
    const sig = fc.record({ index: fc.integer({ min: -1, max: 8 }), publicKey: bytes(32), signature: bytes(64) });
    const item = fc.oneof(
      fc.record({ type: fc.constant('vote' as const), blockId: fc.oneof(bytes(32), fc.constant(idOf(B))), mask: fc.integer({ min: -1, max: 300 }), reply: fc.boolean() }),
      fc.record({ type: fc.constant('query-block' as const), blockId: fc.oneof(bytes(32), fc.constant(idOf(B))), ticket: bytes(16) }),
    );
    const message = fc.oneof(
      item,
      fc.record({ type: fc.constant('initial-vote' as const), block, signatures: fc.array(sig, { maxLength: 7 }), mask: fc.integer({ min: -1, max: 300 }) }),
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
