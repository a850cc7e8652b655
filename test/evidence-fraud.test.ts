/**
 * The Minefield fraud predicates (consensus/fraud.ts, PROTOCOL §9) on real signed statements:
 * each predicate fires on its true cases, none fires on honest lag, and a fraud proof survives
 * no single-bit change of either statement.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadCrypto } from '../kernels/crypto.js';
import {
  checkFraudProof,
  fraudBetween,
  isDoubleMapping,
  isFork,
  isRollback,
  predicateHolds,
  statementSignatureValid,
  statementSigningMessage,
  type FraudProofRefusal,
} from '../consensus/fraud.js';
import {
  answerSigningMessage,
  answerStatement,
  decodeStatement,
  encodeStatement,
  signAnswer,
  statementSize,
  verifyAnswer,
  type AnswerStatement,
  type FraudPredicate,
} from '../wire/msg-answer.js';
import { EVIDENCE_NET, T0, id32, seedOf, signedStatement, unsignedFromSpec, type StatementSpec } from './helpers/evidence-fixtures.js';
import { SeededRng } from './helpers/seeded-rng.js';

const crypto = await loadCrypto();
const liar = crypto.ed25519.signerFromSeed(seedOf(1));
const other = crypto.ed25519.signerFromSeed(seedOf(2));
const st = (spec: StatementSpec): Uint8Array => signedStatement(crypto.blake3, liar, spec);

const T = id32(0x11, 1);
const U = id32(0x11, 2);
const V = id32(0x11, 3);
const X = id32(0xb0, 1);
const Y = id32(0xb0, 2);
const W = id32(0xb0, 3);
const head = (seq: number, fork = 0): { seq: number; id: Uint8Array } => ({ seq, id: id32(0xcc, seq * 16 + fork) });

/** Asserts the pair satisfies exactly `expected` (or nothing), in both orders. */
function assertFraud(a: Uint8Array, b: Uint8Array, expected: FraudPredicate | null, what: string): void {
  assert.equal(fraudBetween(a, b), expected, `${what}: fraudBetween(a, b)`);
  assert.equal(fraudBetween(b, a), expected, `${what}: fraudBetween(b, a)`);
  for (const p of ['fork', 'rollback', 'double-mapping'] as const) {
    if (p === expected) assert.ok(predicateHolds(p, a, b) && predicateHolds(p, b, a), `${what}: ${p} holds in both orders`);
  }
}

/** Asserts no predicate fires between the two, in either order. */
function assertHonest(a: Uint8Array, b: Uint8Array, what: string): void {
  for (const [x, y] of [[a, b], [b, a]] as const) {
    assert.equal(isFork(x, y), false, `${what}: fork`);
    assert.equal(isDoubleMapping(x, y), false, `${what}: double mapping`);
    assert.equal(isRollback(x, y), false, `${what}: rollback`);
    assert.equal(fraudBetween(x, y), null, `${what}: fraudBetween`);
  }
}

describe('F1 fork', () => {
  test('two heads with the same seq and different ids are a fork, whatever the tokens', () => {
    const a = st({ token: T, mapping: { block: X, seq: 3 }, head: head(5, 0) });
    const b = st({ token: U, mapping: null, head: head(5, 1), proof: true });
    assert.ok(isFork(a, b) && isFork(b, a));
    assertFraud(a, b, 'fork', 'fork');
  });

  test('same seq and id, or different seqs, are not a fork', () => {
    const a = st({ token: T, mapping: { block: X, seq: 3 }, head: head(5) });
    const sameHead = st({ token: U, mapping: { block: Y, seq: 4 }, head: head(5), answerTime: 1 });
    const later = st({ token: T, mapping: { block: X, seq: 3 }, head: head(6, 1) });
    assertHonest(a, sameHead, 'same head');
    assertHonest(a, later, 'later head');
  });
});

describe('F2 rollback', () => {
  test('A sets t at c1 ≤ A.head; B with a head at least A’s maps t to another block at c0 < c1', () => {
    const a = st({ token: T, mapping: { block: X, seq: 4 }, head: head(5) });
    for (const bHead of [5, 6, 40]) {
      const b = st({ token: T, mapping: { block: Y, seq: 2 }, head: head(bHead) });
      assert.equal(isRollback(a, b), true, `B at head ${bHead}`);
      assert.equal(isRollback(b, a), false, `directional at head ${bHead}`);
      assertFraud(a, b, 'rollback', `rollback, B at head ${bHead}`);
    }
  });

  test('B whose head covers c1 but not A’s head is caught too (the commit that set t is in its chain)', () => {
    const a = st({ token: T, mapping: { block: X, seq: 4 }, head: head(10) });
    for (const bHead of [4, 7, 9]) {
      const b = st({ token: T, mapping: { block: Y, seq: 2 }, head: head(bHead) });
      assert.equal(isRollback(a, b), true, `B at head ${bHead}`);
      assertFraud(a, b, 'rollback', `rollback, B at head ${bHead} below A's 10`);
    }
    // One below c1 is lag: that head had not seen the commit yet.
    assertHonest(a, st({ token: T, mapping: { block: Y, seq: 2 }, head: head(3) }), 'B at head 3');
  });

  test('claims in evidence items count as much as the mapping, in every combination', () => {
    const aClaim = { token: T, block: X, seq: 4 };
    const bClaim = { token: T, block: Y, seq: 2 };
    const filler = [{ token: U, block: W, seq: 1 }];
    const as = {
      mapping: st({ token: T, mapping: { block: X, seq: 4 }, evidence: filler, head: head(5) }),
      evidence: st({ token: V, mapping: null, evidence: [...filler, aClaim], head: head(5) }),
    };
    const bs = {
      mapping: st({ token: T, mapping: { block: Y, seq: 2 }, head: head(7) }),
      evidence: st({ token: U, mapping: { block: W, seq: 1 }, evidence: [bClaim, ...filler], head: head(7), proof: true }),
    };
    for (const [an, a] of Object.entries(as)) {
      for (const [bn, b] of Object.entries(bs)) {
        assert.equal(isRollback(a, b), true, `A's ${an} against B's ${bn}`);
        assert.equal(isRollback(b, a), false, `reverse of A's ${an} against B's ${bn}`);
        assertFraud(a, b, 'rollback', `A's ${an} against B's ${bn}`);
      }
    }
  });

  test('one statement whose mapping is older than its own evidence for the token rolls itself back', () => {
    const s = st({ token: T, mapping: { block: Y, seq: 2 }, evidence: [{ token: T, block: X, seq: 4 }], head: head(5) });
    assert.equal(isRollback(s, s), true);
    assert.equal(fraudBetween(s, s), 'rollback');
  });
});

describe('F3 double mapping', () => {
  test('mapping against mapping: one token and seq, two blocks', () => {
    const a = st({ token: T, mapping: { block: X, seq: 4 }, head: head(5) });
    const b = st({ token: T, mapping: { block: Y, seq: 4 }, head: head(9) });
    assert.ok(isDoubleMapping(a, b) && isDoubleMapping(b, a));
    assertFraud(a, b, 'double-mapping', 'mapping vs mapping');
  });

  test('mapping against an evidence item, and evidence item against evidence item', () => {
    const a = st({ token: T, mapping: { block: X, seq: 4 }, head: head(5) });
    const b = st({ token: U, mapping: null, evidence: [{ token: U, block: W, seq: 3 }, { token: T, block: Y, seq: 4 }], head: head(4) });
    const c = st({ token: V, mapping: null, evidence: [{ token: T, block: W, seq: 4 }], head: head(6) });
    assertFraud(a, b, 'double-mapping', 'mapping vs evidence');
    assertFraud(b, c, 'double-mapping', 'evidence vs evidence');
  });

  test('a single statement that contradicts itself is a proof paired with itself', () => {
    const s = st({ token: T, mapping: { block: X, seq: 4 }, evidence: [{ token: T, block: Y, seq: 4 }], head: head(5) });
    assert.equal(isDoubleMapping(s, s), true);
    assert.equal(fraudBetween(s, s), 'double-mapping');
    const r = checkFraudProof(crypto, EVIDENCE_NET, 'double-mapping', s, s);
    assert.ok(r.ok, JSON.stringify(r));
    const twoItems = st({ token: V, mapping: null, evidence: [{ token: U, block: X, seq: 2 }, { token: U, block: Y, seq: 2 }], head: head(5) });
    assert.equal(fraudBetween(twoItems, twoItems), 'double-mapping');
  });
});

describe('honest lag fires nothing', () => {
  test('a lagging peer: an older head with an older mapping, and the same peer later', () => {
    const now = st({ token: T, mapping: { block: X, seq: 4, parent: Y }, evidence: [{ token: T, block: X, seq: 4 }, { token: U, block: W, seq: 3 }], head: head(5) });
    const lagging = st({ token: T, mapping: { block: Y, seq: 2 }, evidence: [{ token: U, block: W, seq: 3 }, { token: T, block: Y, seq: 2 }], head: head(3) });
    assertHonest(now, lagging, 'lagging');
  });

  test('B with a lower head than A claiming an older mapping is lag, not rollback', () => {
    // B's head is below the commit that moved T (seq 4): B had not seen it.
    const a = st({ token: T, mapping: { block: X, seq: 4 }, evidence: [{ token: T, block: X, seq: 4 }], head: head(5) });
    for (const bHead of [2, 3]) {
      const b = st({ token: T, mapping: { block: Y, seq: 2 }, evidence: [{ token: T, block: Y, seq: 2 }], head: head(bHead) });
      assertHonest(a, b, `B at head ${bHead}`);
    }
  });

  test('"no mapping" answers claim nothing, whatever their seq field', () => {
    const mapped = st({ token: T, mapping: { block: X, seq: 4 }, evidence: [{ token: T, block: X, seq: 4 }], head: head(5) });
    for (const noMappingSeq of [0, 2, 4, 9]) {
      const none = st({ token: T, mapping: null, noMappingSeq, head: head(9) });
      const noneOlder = st({ token: T, mapping: null, noMappingSeq, head: head(2) });
      assertHonest(mapped, none, `no mapping at seq ${noMappingSeq}, later head`);
      assertHonest(mapped, noneOlder, `no mapping at seq ${noMappingSeq}, older head`);
      assertHonest(none, none, `no mapping at seq ${noMappingSeq} with itself`);
    }
  });

  test('the same token at a later seq after a transfer', () => {
    const before = st({ token: T, mapping: { block: X, seq: 4 }, evidence: [{ token: T, block: X, seq: 4 }], head: head(5) });
    const after = st({ token: T, mapping: { block: Y, seq: 7, parent: X }, evidence: [{ token: T, block: Y, seq: 7 }], head: head(8) });
    assertHonest(before, after, 'transfer');
  });

  test('equal statements, and the same claim under different heads', () => {
    const a = st({ token: T, mapping: { block: X, seq: 4 }, evidence: [{ token: T, block: X, seq: 4 }], head: head(5) });
    assertHonest(a, a, 'self');
    assertHonest(a, Uint8Array.from(a), 'copy');
    const sameClaimLater = st({ token: T, mapping: { block: X, seq: 4 }, head: head(12), requester: id32(0xa1) });
    assertHonest(a, sameClaimLater, 'same claim later');
  });

  test('different tokens at the same seq (one commit, several blocks)', () => {
    const a = st({ token: T, mapping: { block: X, seq: 4 }, evidence: [{ token: T, block: X, seq: 4 }, { token: U, block: Y, seq: 4 }], head: head(5) });
    const b = st({ token: U, mapping: { block: Y, seq: 4 }, evidence: [{ token: V, block: W, seq: 4 }], head: head(5) });
    const c = st({ token: V, mapping: { block: W, seq: 4 }, head: head(4) });
    assertHonest(a, b, 'T and U');
    assertHonest(b, c, 'U and V');
    assertHonest(a, c, 'T and V');
  });
});

describe('checkFraudProof', () => {
  const proofs: { predicate: FraudPredicate; a: Uint8Array; b: Uint8Array }[] = [
    {
      predicate: 'fork',
      a: st({ token: T, mapping: { block: X, seq: 3 }, evidence: [{ token: U, block: Y, seq: 2 }], head: head(5, 0) }),
      b: st({ token: U, mapping: null, head: head(5, 1), proof: true }),
    },
    {
      predicate: 'rollback',
      a: st({ token: T, mapping: { block: X, seq: 4 }, head: head(5) }),
      b: st({ token: V, mapping: null, evidence: [{ token: T, block: Y, seq: 2 }, { token: U, block: W, seq: 1 }], head: head(6) }),
    },
    {
      predicate: 'double-mapping',
      a: st({ token: T, mapping: { block: X, seq: 4 }, head: head(5), proof: true }),
      b: st({ token: T, mapping: { block: Y, seq: 4 }, evidence: [{ token: U, block: W, seq: 4 }], head: head(5) }),
    },
  ];

  test('a valid proof is accepted and names the culprit', () => {
    for (const p of proofs) {
      const r = checkFraudProof(crypto, EVIDENCE_NET, p.predicate, p.a, p.b);
      assert.ok(r.ok, `${p.predicate}: ${JSON.stringify(r)}`);
      assert.equal(r.predicate, p.predicate);
      assert.deepEqual(r.culprit, liar.publicKey);
      assert.ok(checkFraudProof(crypto, EVIDENCE_NET, p.predicate, p.b, p.a).ok, `${p.predicate} with A and B swapped`);
    }
  });

  test('flipping any one bit of either statement is refused', () => {
    const codes: Record<FraudProofRefusal, number> = { malformed: 0, 'different-responders': 0, 'bad-signature': 0, 'predicate-false': 0 };
    for (const p of proofs) {
      for (const which of ['a', 'b'] as const) {
        const target = p[which];
        for (let i = 0; i < target.length; i++) {
          const bent = Uint8Array.from(target);
          bent[i] = bent[i]! ^ (1 << (i % 8));
          const a = which === 'a' ? bent : p.a;
          const b = which === 'b' ? bent : p.b;
          const r = checkFraudProof(crypto, EVIDENCE_NET, p.predicate, a, b);
          const where = `${p.predicate}: statement ${which}, byte ${i} of ${target.length}`;
          assert.equal(r.ok, false, `${where} was accepted`);
          if (r.ok) continue;
          codes[r.code]++;
          // A change that keeps both statements well-formed, one key and the predicate true must
          // be caught by the signature.
          if (decodeStatement(bent).ok && bent.length === target.length && predicateHolds(p.predicate, a, b) && r.code !== 'different-responders') {
            assert.equal(r.code, 'bad-signature', where);
          }
        }
      }
    }
    for (const [code, n] of Object.entries(codes)) assert.ok(n > 0, `some flips end as ${code}: ${JSON.stringify(codes)}`);
  });

  test('statements by two different keys are refused', () => {
    const a = st({ token: T, mapping: { block: X, seq: 4 }, head: head(5) });
    const b = signedStatement(crypto.blake3, other, { token: T, mapping: { block: Y, seq: 4 }, head: head(5, 1) });
    assert.equal(fraudBetween(a, b), 'fork', 'the bytes alone would be fraud');
    for (const predicate of ['fork', 'double-mapping'] as const) {
      const r = checkFraudProof(crypto, EVIDENCE_NET, predicate, a, b);
      assert.equal(r.ok ? 'ok' : r.code, 'different-responders');
    }
  });

  test('a proof checked under another network id fails its signatures', () => {
    for (const p of proofs) {
      for (const net of [EVIDENCE_NET + 1n, 0n, (1n << 64n) - 1n]) {
        const r = checkFraudProof(crypto, net, p.predicate, p.a, p.b);
        assert.equal(r.ok ? 'ok' : r.code, 'bad-signature', `${p.predicate} on network ${net}`);
      }
    }
  });

  test('a wrongly claimed predicate is refused', () => {
    let checked = 0;
    for (const p of proofs) {
      for (const claimed of ['fork', 'rollback', 'double-mapping'] as const) {
        if (claimed === p.predicate || predicateHolds(claimed, p.a, p.b)) continue;
        const r = checkFraudProof(crypto, EVIDENCE_NET, claimed, p.a, p.b);
        assert.equal(r.ok ? 'ok' : r.code, 'predicate-false', `${p.predicate} claimed as ${claimed}`);
        checked++;
      }
    }
    assert.equal(checked, 6, 'each proof satisfies only its own predicate');
  });

  test('a truncated or extended statement is malformed', () => {
    const p = proofs[0]!;
    for (const bad of [p.a.subarray(0, p.a.length - 1), p.a.subarray(0, statementSize(0) - 1), new Uint8Array(0), Uint8Array.from([...p.a, 0])]) {
      const r = checkFraudProof(crypto, EVIDENCE_NET, p.predicate, bad, p.b);
      assert.equal(r.ok ? 'ok' : r.code, 'malformed', `length ${bad.length}`);
    }
  });
});

describe('signing message', () => {
  test('statementSigningMessage of the encoded statement equals answerSigningMessage of the statement (differential)', () => {
    const rng = new SeededRng(0xe51d);
    const nets = [0n, 1n, EVIDENCE_NET, (1n << 32n) + 7n, (1n << 63n) + 5n, (1n << 64n) - 1n];
    for (let i = 0; i < 200; i++) {
      const net = nets[i % nets.length]!;
      const nEvidence = rng.int(5);
      const unsigned = unsignedFromSpec(liar.publicKey, {
        token: rng.bytes(32),
        mapping: rng.chance(0.2) ? null : { block: rng.bytes(32), seq: rng.int(2 ** 31) * 2 ** 20 + rng.int(2 ** 20), parent: rng.bytes(32) },
        evidence: Array.from({ length: nEvidence }, () => ({ token: rng.bytes(32), block: rng.bytes(32), seq: rng.u32() })),
        head: { seq: rng.u32() * 1024 + rng.int(1024), id: rng.bytes(32) },
        proof: rng.chance(0.5),
        answerTime: T0 + rng.int(2 ** 30),
        requester: rng.bytes(32),
      });
      const answer = signAnswer(crypto.blake3, liar, net, unsigned);
      const s = answerStatement(crypto.blake3, answer);
      const bytes = encodeRoundTrip(s);
      const seed = `seed 0xe51d, case ${i}`;
      const expected = answerSigningMessage(crypto.blake3, net, s);
      assert.deepEqual(statementSigningMessage(net, bytes), expected, seed);
      assert.deepEqual(answerSigningMessage(crypto.blake3, net, unsigned), expected, `${seed}: the answer and its statement sign the same bytes`);
      assert.equal(statementSignatureValid(crypto.ed25519, net, bytes), true, seed);
      assert.equal(verifyAnswer(crypto, net, s), true, seed);
      assert.equal(verifyAnswer(crypto, net, answer), true, seed);
      assert.equal(statementSignatureValid(crypto.ed25519, net ^ 1n, bytes), false, `${seed}: another network`);
    }
  });
});

/** Encodes a statement and checks that it decodes back to the same bytes. */
function encodeRoundTrip(s: AnswerStatement): Uint8Array {
  const bytes = encodeStatement(s);
  const d = decodeStatement(bytes);
  assert.ok(d.ok, 'the statement decodes');
  assert.deepEqual(encodeStatement(d.value), bytes, 'and encodes to the same bytes');
  return bytes;
}
