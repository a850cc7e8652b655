/**
 * The evidence book (store/evidence.ts): proofs are found in either arrival order, every bound
 * holds, eviction never costs a proof, and the book survives LMDB (takeWrites → evidenceWrite →
 * evidenceLoad → load). Then the evidence files (wire/evidence-file.ts): round trips, and bad input
 * that never throws.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadCrypto } from '../kernels/crypto.js';
import type { Ed25519Signer } from '../kernels/types.js';
import { checkFraudProof, headSeq } from '../consensus/fraud.js';
import { toHex } from '../consensus/hex.js';
import { EvidenceBook, EVIDENCE_LIMITS, snapshotFromStore, type KeptStatement, type ProofRecord } from '../store/evidence.js';
import { openLmdbStore } from '../store/lmdb.js';
import { MAX_STATEMENT_BYTES, STATEMENT_OFFSETS } from '../wire/msg-answer.js';
import { encodeIdentity, IDENTITY_SIZES, type IdentityRecord } from '../wire/identity.js';
import { decodeEvidenceFile, encodeEvidenceBundle, encodeFraudProofFile, EVIDENCE_FILE_HEADER, EVIDENCE_FILE_LIMITS, type EvidenceFile } from '../wire/evidence-file.js';
import { encodeSignedBlock } from '../wire/block.js';
import { makeBlock, signer as blockSigner } from './helpers/consensus-fixtures.js';
import { EVIDENCE_NET, T0, id32, seedOf, signedStatement, type Claim, type StatementSpec } from './helpers/evidence-fixtures.js';
import { SeededRng } from './helpers/seeded-rng.js';

const crypto = await loadCrypto();
const keys = Array.from({ length: 6 }, (_, i) => crypto.ed25519.signerFromSeed(seedOf(100 + i)));
const liar = keys[0]!;
const st = (by: Ed25519Signer, spec: StatementSpec): Uint8Array => signedStatement(crypto.blake3, by, spec);

const T = id32(0x11, 1);
const X = id32(0xb0, 1);
const Y = id32(0xb0, 2);
const head = (seq: number, fork = 0): { seq: number; id: Uint8Array } => ({ seq, id: id32(0xcc, seq * 16 + fork) });

/** `n` evidence items of commit `h` on tokens nobody else names: consistent with everything. */
function fillers(h: number, n = 3): Claim[] {
  return Array.from({ length: n }, (_, j) => ({ token: id32(0x22, h * 4 + j), block: id32(0xbb, h * 4 + j), seq: h }));
}

/**
 * An honest responder's statement about T at head `h`, T moving at seqs 3, 7, 11, …: the mapping
 * is the last move at or before h, and the statement has 4 evidence items (the largest size).
 */
function honestAboutT(by: Ed25519Signer, h: number, requester = 0): Uint8Array {
  const moved = Math.floor((h + 1) / 4) * 4 - 1;
  const mapping = moved < 3 ? null : { block: id32(0xb1, moved), seq: moved };
  return st(by, { token: T, mapping, evidence: fillers(h, 4), head: head(h), requester: id32(0xa0, requester) });
}

function identityOf(by: Ed25519Signer, n: number): IdentityRecord {
  return { version: 1, networkId: EVIDENCE_NET, publicKey: by.publicKey, nonce: new Uint8Array(16).fill(n), time: 1_700_000 + n, difficulty: 12, signature: new Uint8Array(64).fill(n) };
}

const tmpRoot = mkdtempSync(join(tmpdir(), 'ecd-evidence-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

describe('EvidenceBook: finding proofs', () => {
  test('a liar’s statement after an honest one, and before it, completes a proof', () => {
    const honest = st(liar, { token: T, mapping: { block: X, seq: 4 }, head: head(5) });
    const cases: { lie: Uint8Array; predicate: string }[] = [
      { lie: st(liar, { token: T, mapping: { block: X, seq: 4 }, head: head(5, 1) }), predicate: 'fork' },
      { lie: st(liar, { token: T, mapping: { block: Y, seq: 2 }, head: head(6) }), predicate: 'rollback' },
      { lie: st(liar, { token: T, mapping: { block: Y, seq: 4 }, head: head(6) }), predicate: 'double-mapping' },
    ];
    for (const { lie, predicate } of cases) {
      for (const order of [[honest, lie], [lie, honest]]) {
        const book = new EvidenceBook(crypto.blake3);
        const first = book.add(order[0]!, T0);
        assert.equal(first.proof, null, `${predicate}: the first statement alone proves nothing`);
        const second = book.add(order[1]!, T0 + 1);
        assert.ok(second.proof !== null, `${predicate}: the second statement completes a proof`);
        assert.equal(second.proof.predicate, predicate);
        assert.equal(second.proof.culpritHex, toHex(liar.publicKey));
        assert.equal(book.isCulprit(toHex(liar.publicKey)), true);
        assert.ok(checkFraudProof(crypto, EVIDENCE_NET, second.proof.predicate, second.proof.a, second.proof.b).ok);
        assert.equal(book.proofs().length, 1);
      }
    }
  });

  test('a statement that contradicts itself is a proof on arrival', () => {
    const book = new EvidenceBook(crypto.blake3);
    const s = st(liar, { token: T, mapping: { block: X, seq: 4 }, evidence: [{ token: T, block: Y, seq: 4 }], head: head(5) });
    const r = book.add(s, T0);
    assert.equal(r.proof?.predicate, 'double-mapping');
    assert.deepEqual(r.proof.a, s);
    assert.deepEqual(r.proof.b, s);
  });

  test('one proof per culprit and predicate; another predicate is another proof; other responders are untouched', () => {
    const book = new EvidenceBook(crypto.blake3);
    book.add(st(liar, { token: T, mapping: { block: X, seq: 4 }, head: head(5) }), T0);
    assert.equal(book.add(st(liar, { token: T, mapping: { block: X, seq: 4 }, head: head(5, 1) }), T0).proof?.predicate, 'fork');
    assert.equal(book.add(st(liar, { token: T, mapping: { block: X, seq: 4 }, head: head(5, 2) }), T0).proof, null, 'a second fork adds nothing');
    assert.equal(book.add(st(liar, { token: T, mapping: { block: Y, seq: 4 }, head: head(6) }), T0).proof?.predicate, 'double-mapping');
    // The same claims from an honest responder never meet the liar's.
    const honest = keys[1]!;
    assert.equal(book.add(st(honest, { token: T, mapping: { block: Y, seq: 2 }, head: head(5, 3) }), T0).proof, null);
    assert.equal(book.isCulprit(toHex(honest.publicKey)), false);
    assert.deepEqual(book.proofs().map((p) => p.predicate).sort(), ['double-mapping', 'fork']);
  });
});

describe('EvidenceBook: bounds', () => {
  test('per responder and token: at most 3 statements and 2 048 bytes, keeping the best A, the best B and the newest', () => {
    assert.ok(EVIDENCE_LIMITS.perResponderToken * MAX_STATEMENT_BYTES <= 2048);
    for (const seed of [1, 2, 3]) {
      const rng = new SeededRng(seed);
      const by = keys[1]!;
      const book = new EvidenceBook(crypto.blake3);
      const heads = rng.shuffle(Array.from({ length: 40 }, (_, i) => i + 1));
      let maxHead = 0;
      let maxClaim = -1;
      for (const [n, h] of heads.entries()) {
        const s = honestAboutT(by, h, n);
        assert.equal(s.length, MAX_STATEMENT_BYTES);
        const r = book.add(s, T0 + n);
        assert.equal(r.proof, null, `seed ${seed}: honest statements prove nothing`);
        maxHead = Math.max(maxHead, h);
        const moved = Math.floor((h + 1) / 4) * 4 - 1;
        if (moved >= 3) maxClaim = Math.max(maxClaim, moved);
        const group = book.kept({ token: T, responder: toHex(by.publicKey) });
        const bytes = group.reduce((sum, k) => sum + k.s.bytes.length, 0);
        assert.ok(group.length <= 3, `seed ${seed}, step ${n}: ${group.length} statements kept for one token`);
        assert.ok(bytes <= 2048, `seed ${seed}, step ${n}: ${bytes} bytes kept for one token`);
        const kept = group.map((k) => k.s.bytes);
        assert.ok(kept.some((x) => headSeq(x) === maxHead), `seed ${seed}, step ${n}: the highest head stays`);
        assert.ok(kept.some((x) => bytesEq(x, s)), `seed ${seed}, step ${n}: the newest stays`);
        if (maxClaim >= 0) assert.ok(kept.some((x) => mappingSeqOf(x) === maxClaim), `seed ${seed}, step ${n}: the newest claim stays`);
      }
      assert.equal(book.statements, 3);
      // What was kept still catches a rollback of the newest claim under the highest head.
      const lie = st(by, { token: T, mapping: { block: id32(0xb1, 3), seq: 3 }, head: head(41) });
      assert.equal(book.add(lie, T0 + 100).proof?.predicate, 'rollback', `seed ${seed}`);
    }
  });

  test('per responder: the oldest arrivals go first', () => {
    const book = new EvidenceBook(crypto.blake3, { limits: { perResponder: 5 } });
    const by = keys[2]!;
    let evicted = 0;
    for (let i = 1; i <= 12; i++) {
      evicted += book.add(st(by, { token: id32(0x33, i), mapping: { block: id32(0xb3, i), seq: i }, head: head(i) }), T0 + i).evicted;
      assert.ok(book.kept({ responder: toHex(by.publicKey) }).length <= 5);
    }
    assert.equal(evicted, 7);
    assert.equal(book.statements, 5);
    assert.deepEqual(
      book.kept().map((k) => headSeq(k.s.bytes)),
      [8, 9, 10, 11, 12],
    );
  });

  test('responders: the one heard from longest ago goes first, with all its statements and its identity', () => {
    const book = new EvidenceBook(crypto.blake3, { persist: true, limits: { responders: 3 } });
    const say = (i: number, h: number): number => book.add(st(keys[i]!, { token: T, mapping: null, head: head(h) }), T0 + h, encodeIdentity(identityOf(keys[i]!, i))).evicted;
    say(0, 1);
    say(1, 2);
    say(2, 3);
    say(0, 4); // 0 heard again: 1 is now the longest silent
    assert.equal(say(3, 5), 1);
    assert.equal(book.responderCount, 3);
    const left = (): string[] => [...new Set(book.kept().map((k) => k.responder))].sort();
    assert.deepEqual(left(), [0, 2, 3].map((i) => toHex(keys[i]!.publicKey)).sort());
    assert.equal(book.identityOf(toHex(keys[1]!.publicKey)), null);
    assert.equal(say(4, 6), 1);
    assert.deepEqual(left(), [0, 3, 4].map((i) => toHex(keys[i]!.publicKey)).sort());
    const writes = book.takeWrites();
    assert.ok(writes.some((w) => w.op === 'delete-identity' && bytesEq(w.responder, keys[1]!.publicKey)));
    assert.ok(writes.some((w) => w.op === 'delete-statement' && bytesEq(w.responder, keys[2]!.publicKey)));
  });

  test('eviction never removes a proof', () => {
    const book = new EvidenceBook(crypto.blake3, { limits: { perResponderToken: 3, perResponder: 2, responders: 1 } });
    book.add(st(liar, { token: T, mapping: { block: X, seq: 4 }, head: head(5) }), T0);
    const proof = book.add(st(liar, { token: T, mapping: { block: X, seq: 4 }, head: head(5, 1) }), T0).proof;
    assert.ok(proof !== null);
    for (let i = 1; i < keys.length; i++) {
      for (let h = 1; h <= 4; h++) book.add(honestAboutT(keys[i]!, h), T0 + h);
    }
    assert.equal(book.kept({ responder: proof.culpritHex }).length, 0, 'the liar’s statements are gone');
    assert.equal(book.responderCount, 1);
    assert.equal(book.statements, 2);
    assert.deepEqual(book.proofs(), [proof]);
    assert.equal(book.isCulprit(proof.culpritHex), true);
    assert.equal(book.proof(proof.id.slice(0, 12)), proof);
    assert.ok(checkFraudProof(crypto, EVIDENCE_NET, proof.predicate, proof.a, proof.b).ok);
  });
});

describe('EvidenceBook: LMDB round trip', () => {
  test('takeWrites → evidenceWrite → evidenceLoad → snapshotFromStore → load restores statements, identities and proofs', () => {
    const path = join(tmpRoot, 'roundtrip');
    const limits = { perResponderToken: 3, perResponder: 6, responders: 3 };
    const book = new EvidenceBook(crypto.blake3, { persist: true, limits });
    let store = openLmdbStore(path, { networkId: EVIDENCE_NET });
    try {
      const rng = new SeededRng(77);
      let now = T0;
      for (let step = 0; step < 60; step++) {
        const i = 1 + rng.int(4);
        book.add(honestAboutT(keys[i]!, 1 + rng.int(30), step), now++, rng.chance(0.7) ? encodeIdentity(identityOf(keys[i]!, i)) : null);
        if (rng.chance(0.3)) store.evidenceWrite(book.takeWrites());
      }
      // A local proof (a fork by the liar) and one received by gossip (a double mapping by keys[5]).
      book.add(st(liar, { token: T, mapping: { block: X, seq: 4 }, head: head(5) }), now++, encodeIdentity(identityOf(liar, 0)));
      const local = book.add(st(liar, { token: T, mapping: { block: X, seq: 4 }, head: head(5, 1) }), now++).proof;
      const ga = st(keys[5]!, { token: T, mapping: { block: X, seq: 4 }, head: head(5) });
      const gb = st(keys[5]!, { token: T, mapping: { block: Y, seq: 4 }, head: head(6) });
      const gossip = book.addProof('double-mapping', ga, gb, now++, 'gossip');
      assert.ok(local !== null && gossip !== null);
      store.evidenceWrite(book.takeWrites());
      assert.deepEqual(book.takeWrites(), []);
      assert.ok(book.counters.evicted > 0, 'the run evicted statements, so deletes were written');

      store.close();
      store = openLmdbStore(path, { networkId: EVIDENCE_NET });
      const raw = store.evidenceLoad();
      const snapshot = snapshotFromStore(crypto.blake3, raw);
      assert.deepEqual(raw.proofs.map((p) => p.id).sort(), book.proofs().map((p) => p.id).sort(), 'stored proof keys are the proof ids');
      assert.equal(raw.statements.length, book.statements, 'the store holds exactly the kept statements');

      const loaded = new EvidenceBook(crypto.blake3, { persist: true, limits });
      loaded.load(snapshot);
      assert.deepEqual(loaded.takeWrites(), [], 'loading writes nothing');
      assert.deepEqual(keptView(loaded.kept()), keptView(book.kept()));
      assert.equal(loaded.statements, book.statements);
      assert.equal(loaded.responderCount, book.responderCount);
      for (const k of keys) {
        const hex = toHex(k.publicKey);
        assert.deepEqual(loaded.identityOf(hex), book.identityOf(hex), `identity of ${hex.slice(0, 8)}`);
      }
      assert.ok(book.identityOf(toHex(liar.publicKey)) !== null);
      assert.deepEqual(proofView(loaded.proofs()), proofView(book.proofs()));
      assert.equal(loaded.isCulprit(toHex(liar.publicKey)), true);
      assert.equal(loaded.isCulprit(toHex(keys[5]!.publicKey)), true);

      // The loaded book goes on: arrivals continue, and it still catches a responder's lie.
      const lastArrival = Math.max(...book.kept().map((k) => k.s.arrival));
      const lastHonest = loaded.kept().filter((k) => k.responder !== toHex(liar.publicKey)).at(-1);
      assert.ok(lastHonest !== undefined);
      const by = keys.find((k) => toHex(k.publicKey) === lastHonest.responder) as Ed25519Signer;
      const kept = loaded.kept({ responder: lastHonest.responder });
      const newest = kept.reduce((best, k) => (headSeq(k.s.bytes) > headSeq(best.s.bytes) ? k : best));
      const h = headSeq(newest.s.bytes);
      const r = loaded.add(st(by, { token: T, mapping: null, head: head(h, 9) }), now++);
      assert.equal(r.proof?.predicate, 'fork');
      assert.ok(Math.max(...loaded.kept().map((k) => k.s.arrival)) > lastArrival);
    } finally {
      store.close();
    }
  });
});

function keptView(kept: readonly { responder: string; s: KeptStatement }[]): { responder: string; arrival: number; at: number; bytes: string }[] {
  return kept.map((k) => ({ responder: k.responder, arrival: k.s.arrival, at: k.s.at, bytes: toHex(k.s.bytes) }));
}

function proofView(proofs: readonly ProofRecord[]): Record<string, unknown>[] {
  return [...proofs]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((p) => ({ id: p.id, culprit: p.culpritHex, key: toHex(p.culprit), predicate: p.predicate, a: toHex(p.a), b: toHex(p.b), foundAt: p.foundAt, source: p.source }));
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function mappingSeqOf(s: Uint8Array): number {
  if (s.subarray(STATEMENT_OFFSETS.mappingBlock, STATEMENT_OFFSETS.mappingBlock + 32).every((b) => b === 0)) return -1;
  return Number(new DataView(s.buffer, s.byteOffset).getBigUint64(STATEMENT_OFFSETS.mappingCommitSeq));
}

// ---------------------------------------------------------------------------------------------
// Evidence files.

describe('evidence files', () => {
  const a = st(liar, { token: T, mapping: { block: X, seq: 4 }, evidence: fillers(5, 4), head: head(5) });
  const b = st(liar, { token: T, mapping: { block: X, seq: 4 }, head: head(5, 1), proof: true });
  const proofFile = encodeFraudProofFile({ networkId: EVIDENCE_NET, predicate: 'fork', identity: identityOf(liar, 0), a, b });
  const bareProofFile = encodeFraudProofFile({ networkId: (1n << 64n) - 1n, predicate: 'rollback', identity: null, a: b, b: a });
  const creation = makeBlock([{ token: T, next: blockSigner(1) }, { token: id32(0x12), next: null }], T0);
  const transfer = makeBlock([{ token: T, last: X, next: blockSigner(2), by: blockSigner(1) }], T0 + 1);
  const bundle = encodeEvidenceBundle({
    networkId: EVIDENCE_NET,
    identities: [identityOf(liar, 0), identityOf(keys[1]!, 1)],
    statements: [a, b, honestAboutT(keys[1]!, 9)],
    blocks: [creation, transfer],
  });
  const emptyBundle = encodeEvidenceBundle({ networkId: 0n, identities: [], statements: [], blocks: [] });
  const valid = [proofFile, bareProofFile, bundle, emptyBundle];

  test('fraud proof and bundle files round-trip', () => {
    const p = decodeOk(proofFile);
    assert.equal(p.kind, 'fraud-proof');
    if (p.kind !== 'fraud-proof') return;
    assert.equal(p.networkId, EVIDENCE_NET);
    assert.equal(p.predicate, 'fork');
    assert.deepEqual(p.identity, identityOf(liar, 0));
    assert.deepEqual([p.a, p.b], [a, b]);
    assert.ok(checkFraudProof(crypto, p.networkId, p.predicate, p.a, p.b).ok, 'the file is a checkable proof');

    const q = decodeOk(bareProofFile);
    assert.ok(q.kind === 'fraud-proof' && q.identity === null && q.networkId === (1n << 64n) - 1n && q.predicate === 'rollback');

    const u = decodeOk(bundle);
    assert.equal(u.kind, 'bundle');
    if (u.kind !== 'bundle') return;
    assert.deepEqual(u.identities, [identityOf(liar, 0), identityOf(keys[1]!, 1)]);
    assert.deepEqual(u.statements, [a, b, honestAboutT(keys[1]!, 9)]);
    assert.deepEqual(u.blocks.map(encodeSignedBlock), [creation, transfer].map(encodeSignedBlock));
    const e = decodeOk(emptyBundle);
    assert.ok(e.kind === 'bundle' && e.statements.length === 0 && e.blocks.length === 0 && e.identities.length === 0);
    for (const f of valid) assert.deepEqual(reencode(decodeOk(f)), f);
  });

  test('every strict prefix, and any trailing byte, is refused', () => {
    for (const f of valid) {
      for (let n = 0; n < f.length; n++) assert.equal(decodeEvidenceFile(f.subarray(0, n)).ok, false, `prefix of ${n}/${f.length}`);
      assert.equal(decodeEvidenceFile(Uint8Array.from([...f, 0])).ok, false, 'one trailing byte');
    }
  });

  test('counts and lengths over their caps or past the end are refused before anything is read', () => {
    const H = EVIDENCE_FILE_HEADER;
    const L = EVIDENCE_FILE_LIMITS;
    const bundleHeader = bundle.subarray(0, H);
    const cases: [string, Uint8Array][] = [
      ['identities over the cap', cat(bundleHeader, u16(L.maxIdentities + 1))],
      ['identities at u16 max', cat(bundleHeader, u16(0xffff))],
      ['identities past the end', cat(bundleHeader, u16(3), new Uint8Array(IDENTITY_SIZES.record * 2))],
      ['statements over the cap', cat(bundleHeader, u16(0), u32(L.maxStatements + 1))],
      ['statements at u32 max', cat(bundleHeader, u16(0), u32(0xffff_ffff))],
      ['statements past the end', cat(bundleHeader, u16(0), u32(1000), new Uint8Array(100))],
      ['blocks over the cap', cat(bundleHeader, u16(0), u32(0), u32(L.maxBlocks + 1))],
      ['blocks at u32 max', cat(bundleHeader, u16(0), u32(0), u32(0xffff_ffff))],
      ['a block over its size cap', cat(bundleHeader, u16(0), u32(0), u32(1), u16(L.maxBlockBytes + 1), new Uint8Array(L.maxBlockBytes + 1))],
      ['a statement length over a statement', cat(bundleHeader, u16(0), u32(1), u16(MAX_STATEMENT_BYTES + 1), new Uint8Array(MAX_STATEMENT_BYTES + 1), u32(0))],
      ['a statement length under a statement', cat(bundleHeader, u16(0), u32(1), u16(10), new Uint8Array(10), u32(0))],
      ['a statement length of u16 max', cat(bundleHeader, u16(0), u32(1), u16(0xffff))],
      ['an identity length neither 0 nor a record', patched(proofFile, H + 1, u16(IDENTITY_SIZES.record - 1))],
      ['an unknown predicate', patched(proofFile, H, Uint8Array.of(4))],
      ['predicate 0', patched(proofFile, H, Uint8Array.of(0))],
      ['an unknown kind', patched(proofFile, 5, Uint8Array.of(3))],
      ['another version', patched(proofFile, 4, Uint8Array.of(2))],
      ['bad magic', patched(proofFile, 0, Uint8Array.of(0x46))],
      ['a file over the size cap', new Uint8Array(L.maxFileBytes + 1)],
    ];
    for (const [what, bytes] of cases) {
      const d = decodeEvidenceFile(bytes);
      assert.equal(d.ok, false, what);
    }
  });

  test('random and garbled input never throws, and whatever decodes re-encodes to the same bytes (fast-check)', () => {
    const check = (bytes: Uint8Array): void => {
      const d = decodeEvidenceFile(bytes);
      if (d.ok) assert.deepEqual(reencode(d.file), bytes);
      else assert.equal(typeof d.reason, 'string');
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2_000 }), check), { seed: 0xe7f1, numRuns: 500 });
    // A valid header followed by anything.
    fc.assert(
      fc.property(fc.constantFrom(...valid), fc.uint8Array({ maxLength: 1_500 }), (f, tail) => check(cat(f.subarray(0, EVIDENCE_FILE_HEADER + 1), tail))),
      { seed: 0xe7f2, numRuns: 500 },
    );
    // Valid files with a few bytes overwritten, truncated or extended.
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: -8, max: 8 }),
        (f, edits, resize) => {
          const g = Uint8Array.from(f);
          for (const [at, v] of edits) g[at % g.length] = v;
          check(resize >= 0 ? cat(g, new Uint8Array(resize)) : g.subarray(0, g.length + resize));
        },
      ),
      { seed: 0xe7f3, numRuns: 1_000 },
    );
  });
});

function decodeOk(bytes: Uint8Array): EvidenceFile {
  const d = decodeEvidenceFile(bytes);
  assert.ok(d.ok, d.ok ? '' : d.reason);
  return d.file;
}

function reencode(f: EvidenceFile): Uint8Array {
  return f.kind === 'fraud-proof' ? encodeFraudProofFile(f) : encodeEvidenceBundle(f);
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function patched(f: Uint8Array, at: number, bytes: Uint8Array): Uint8Array {
  const g = Uint8Array.from(f);
  g.set(bytes, at);
  return g;
}

function u16(v: number): Uint8Array {
  return Uint8Array.of(v >>> 8, v & 0xff);
}

function u32(v: number): Uint8Array {
  return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}
