/**
 * Minefield soundness on real histories: honest responders, whose answers come from the real
 * AnswerBuilder over a MemoryStore that random commit batches extend, never satisfy a fraud
 * predicate — whatever the order the answers arrive in, however stale. And each kind of lie that
 * `--unsafe-misbehave` tells, mixed with honest answers from the same store, is caught within a
 * few statements. Seeded: every failure names its seed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadCrypto } from '../kernels/crypto.js';
import type { Ed25519Signer } from '../kernels/types.js';
import { checkFraudProof, fraudBetween, statementSignatureValid } from '../consensus/fraud.js';
import { toHex } from '../consensus/hex.js';
import { EvidenceBook, statementView } from '../store/evidence.js';
import { AnswerBuilder, lie, LIE_KINDS, type LieKind } from '../daemon/answer-builder.js';
import { EVIDENCE_NET, HonestHistory, T0, seedOf, statementBytes } from './helpers/evidence-fixtures.js';
import { SeededRng } from './helpers/seeded-rng.js';

const crypto = await loadCrypto();

interface Responder {
  readonly history: HonestHistory;
  readonly builder: AnswerBuilder;
  readonly signer: Ed25519Signer;
}

function responder(rng: SeededRng, n: number): Responder {
  const signer = crypto.ed25519.signerFromSeed(seedOf(n));
  const history = new HonestHistory(crypto.blake3, rng);
  return { history, builder: new AnswerBuilder(history.store, signer.publicKey), signer };
}

/** A token to ask about: mostly known ones (hosted or not), sometimes one nobody created. */
function pickToken(rng: SeededRng, r: Responder): Uint8Array {
  const known = r.history.tokens;
  if (known.length === 0 || rng.chance(0.2)) return rng.bytes(32);
  return (known[rng.int(known.length)] as { token: Uint8Array }).token;
}

function signed(r: Responder, unsigned: Parameters<typeof statementBytes>[3]): Uint8Array {
  const bytes = statementBytes(crypto.blake3, r.signer, EVIDENCE_NET, unsigned);
  assert.ok(statementSignatureValid(crypto.ed25519, EVIDENCE_NET, bytes), 'answers are checked before they reach the book');
  return bytes;
}

function describeStatement(s: Uint8Array): string {
  const v = statementView(s) as { token: string; block: string | null; seq: number; head: { seq: number }; evidence: { token: string; seq: number }[] };
  return `token ${v.token.slice(0, 8)} block ${v.block?.slice(0, 8) ?? '-'} seq ${v.seq} head ${v.head.seq} evidence [${v.evidence.map((e) => `${e.token.slice(0, 8)}@${e.seq}`).join(' ')}]`;
}

describe('honest histories', () => {
  const SEEDS = 40;
  const STEPS = 14;
  const ANSWERS_PER_STEP = 5;

  test(`${SEEDS} random histories of 2 responders: no predicate holds between any two of their statements, and no book finds a proof`, () => {
    let statements = 0;
    let pairs = 0;
    let mapped = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const rng = new SeededRng(0x0e71_0000 + seed);
      const where = `seed 0x${(0x0e71_0000 + seed).toString(16)}`;
      const responders = [responder(rng, 2 * seed), responder(rng, 2 * seed + 1)];
      const all: { r: number; bytes: Uint8Array }[] = [];
      for (let step = 0; step < STEPS; step++) {
        for (const [ri, r] of responders.entries()) {
          if (rng.chance(0.8)) r.history.step();
          for (let k = 0; k < ANSWERS_PER_STEP; k++) {
            const q = { requester: rng.bytes(32), ticket: rng.bytes(16), token: pickToken(rng, r) };
            const unsigned = r.builder.build(q, T0 + step * 1000 + k);
            if (unsigned.mapping.block.some((b) => b !== 0)) mapped++;
            all.push({ r: ri, bytes: signed(r, unsigned) });
          }
        }
      }
      statements += all.length;
      // Every pair of one responder's statements, each also with itself.
      for (let i = 0; i < all.length; i++) {
        for (let j = i; j < all.length; j++) {
          const a = all[i]!;
          const b = all[j]!;
          if (a.r !== b.r) continue;
          pairs++;
          const p = fraudBetween(a.bytes, b.bytes) ?? fraudBetween(b.bytes, a.bytes);
          if (p !== null) assert.fail(`${where}: ${p} between honest statements ${i} and ${j}:\n  ${describeStatement(a.bytes)}\n  ${describeStatement(b.bytes)}`);
        }
      }
      // Any arrival order, default bounds and tight ones (eviction must not create proofs).
      for (const limits of [{}, { perResponderToken: 3, perResponder: 4, responders: 1 }]) {
        const book = new EvidenceBook(crypto.blake3, { limits });
        for (const [n, s] of rng.shuffle([...all]).entries()) {
          const r = book.add(s.bytes, T0 + n);
          if (r.proof !== null) assert.fail(`${where}, limits ${JSON.stringify(limits)}: the book found ${r.proof.predicate} at arrival ${n}`);
        }
        assert.equal(book.proofs().length, 0, where);
      }
    }
    // The histories exercised what they should: many statements, most with a mapping.
    assert.ok(statements >= SEEDS * STEPS * ANSWERS_PER_STEP * 2);
    assert.ok(pairs > 50_000, `${pairs} pairs`);
    assert.ok(mapped > statements / 3, `${mapped} of ${statements} statements carry a mapping`);
  });
});

describe('liars are caught', () => {
  const EXPECTED: Record<LieKind, string> = { fork: 'fork', rollback: 'rollback', 'double-map': 'double-mapping' };
  const SEEDS = 40;

  for (const kind of LIE_KINDS) {
    test(`lie('${kind}') mixed with honest answers from the same store is caught within a few statements`, () => {
      const delays: number[] = [];
      for (let seed = 1; seed <= SEEDS; seed++) {
        const rng = new SeededRng(0x11e0_0000 + seed);
        const where = `${kind}, seed 0x${(0x11e0_0000 + seed).toString(16)}`;
        const r = responder(rng, 1000 + seed);
        for (let i = 0; i < 4; i++) r.history.step();
        const book = new EvidenceBook(crypto.blake3);
        let firstLie = -1;
        let arrivals = 0;
        let caught: ReturnType<EvidenceBook['add']>['proof'] = null;
        // A client watching three tokens a lie of this kind can bend (ones that moved, for a
        // rollback): a lie about a token nobody asks about again is never compared with anything.
        const bendable = kind === 'rollback' ? r.history.movedTokens() : r.history.tokens.filter((t) => t.hosted).map((t) => t.token);
        const watched = rng.shuffle(bendable).slice(0, 3);
        assert.ok(watched.length > 0, `${where}: a token to watch`);
        for (let step = 0; step < 30 && caught === null; step++) {
          r.history.step();
          for (let k = 0; k < 4 && caught === null; k++) {
            const q = { requester: rng.bytes(32), ticket: rng.bytes(16), token: watched[rng.int(watched.length)] as Uint8Array };
            const honest = r.builder.build(q, T0 + step * 1000 + k);
            const bent = rng.chance(0.5) ? lie(crypto.blake3, r.history.store, kind, honest) : null;
            if (bent !== null && firstLie < 0) firstLie = arrivals;
            caught = book.add(signed(r, bent ?? honest), T0 + arrivals).proof;
            arrivals++;
          }
        }
        assert.ok(firstLie >= 0, `${where}: the liar lied`);
        assert.ok(caught !== null, `${where}: the liar was never caught`);
        delays.push(arrivals - firstLie);
        // A rollback lie meets only statements whose head is at most its own (PROTOCOL §9 F2), so
        // honest answers that come after it at higher heads miss it: its tail is the longest.
        assert.ok(arrivals - firstLie <= 32, `${where}: caught ${arrivals - firstLie} statements after the first lie`);
        assert.equal(caught.predicate, EXPECTED[kind], where);
        assert.equal(caught.culpritHex, toHex(r.signer.publicKey), where);
        assert.ok(checkFraudProof(crypto, EVIDENCE_NET, caught.predicate, caught.a, caught.b).ok, `${where}: the proof checks`);
      }
      const median = [...delays].sort((a, b) => a - b)[delays.length >> 1] as number;
      assert.ok(median <= 3, `${kind}: median ${median} statements from the first lie to the proof (${delays.join(' ')})`);
    });
  }

  test('lie() has nothing to bend on a token without a mapping, and a rollback needs a token that moved', () => {
    const rng = new SeededRng(0x11e1);
    const r = responder(rng, 2000);
    for (let i = 0; i < 6; i++) r.history.step();
    const unknown = r.builder.build({ requester: rng.bytes(32), ticket: rng.bytes(16), token: rng.bytes(32) }, T0);
    assert.equal(lie(crypto.blake3, r.history.store, 'rollback', unknown), null);
    assert.equal(lie(crypto.blake3, r.history.store, 'double-map', unknown), null);
    assert.notEqual(lie(crypto.blake3, r.history.store, 'fork', unknown), null);
    const fresh = r.history.tokens.find((t) => t.hosted && r.history.store.token(t.token)?.parent.every((b) => b === 0) === true);
    assert.ok(fresh !== undefined, 'seed 0x11e1 has a token that never moved');
    const created = r.builder.build({ requester: rng.bytes(32), ticket: rng.bytes(16), token: fresh.token }, T0);
    assert.equal(lie(crypto.blake3, r.history.store, 'rollback', created), null);
  });
});
