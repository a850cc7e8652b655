/**
 * ANSWER — the signed statement of PROTOCOL §9 — and FRAUD_PROOF, two such statements.
 *
 *   ANSWER (version 1), integers big-endian:
 *
 *   offset  size  field
 *        0     1  version
 *        1    32  requester address           (the original requester; forwarding keeps it)
 *       33    16  ticket
 *       49    32  token
 *       81    32  mapping.block               (all-zero: the responder has no mapping)
 *      113    32  mapping.parent
 *      145     8  mapping.time                u64 unix ms
 *      153     8  mapping.commit seq          u64
 *      161     4  proof count p               u32, 0 or 10
 *      165  64·p  proof: p × (token 32 ‖ block 32)
 *        …     4  evidence count e            u32, 0..4
 *        …  72·e  evidence: e × (token 32 ‖ block 32 ‖ commit seq u64)
 *        …     8  head.seq                    u64
 *        …    32  head.id
 *        …     8  head.time                   u64 unix ms
 *        …     8  answer time                 u64 unix ms
 *        …    32  responder Ed25519 public key
 *        …    64  signature
 *
 * With a proof and 4 evidence items the body is 1 249 bytes: it fits a frame (PROTOCOL §9
 * asked for 2 evidence items with a proof; the u32 counts still leave 120 bytes spare).
 *
 * **Signature.** The responder signs
 *
 *   "ec/answer/v1" ‖ network_id u64 ‖ statement bytes without the signature
 *
 * where the *statement* is the ANSWER with the proof pairs replaced by a digest:
 *
 *   version ‖ requester ‖ ticket ‖ token ‖ mapping(80) ‖ proof count u32 ‖ proof digest 32 ‖
 *   evidence count u32 ‖ evidence ‖ head(48) ‖ answer time ‖ responder ‖ signature
 *
 *   proof digest = BLAKE3("ec/answer-proof/v1" ‖ 10 × (token ‖ block)), or 32 zero bytes
 *                  when the answer carries no proof
 *
 * Every field is covered (the proof through its digest), and a statement is at most 641 bytes,
 * so two of them fit one FRAUD_PROOF. Two full answers with proofs (2 × 1 249) would not.
 *
 *   FRAUD_PROOF = version ‖ predicate u8 (1 fork, 2 rollback, 3 double mapping) ‖ statement A ‖
 *                 statement B          (same responder key; each statement self-delimiting)
 */
import type { Blake3Kernel, Ed25519Kernel, Ed25519Signer } from '../kernels/types.js';
import {
  COUNT_BYTES,
  DecodeStop,
  FIELD_SIZES,
  Reader,
  Writer,
  WireEncodeError,
  countProblem,
  fieldError,
  isBytes,
  isU64,
} from './msg-common.js';
import type { LayoutSpec } from './msg-common.js';

export const KIND_ANSWER = 33;
export const KIND_FRAUD_PROOF = 37;

const utf8 = new TextEncoder();
export const DOMAIN_ANSWER_SIG = utf8.encode('ec/answer/v1');
export const DOMAIN_ANSWER_PROOF = utf8.encode('ec/answer-proof/v1');

/** Proof of storage pairs (PROTOCOL §7): exactly this many, or none. */
export const ANSWER_PROOF_PAIRS = 10;
/** Evidence items per answer (PROTOCOL §9 says 2–4; a young chain may have fewer commits). */
export const MAX_ANSWER_EVIDENCE = 4;

// ---------------------------------------------------------------------------------------------
// Types.

export interface TokenMapping {
  /** Id of the block that set the token; all-zero when the responder has no mapping. */
  readonly block: Uint8Array;
  readonly parent: Uint8Array;
  /** Unix ms. */
  readonly time: number;
  readonly commitSeq: number;
}

export interface ProofPair {
  readonly token: Uint8Array;
  readonly block: Uint8Array;
}

export interface EvidenceItem {
  readonly token: Uint8Array;
  readonly block: Uint8Array;
  readonly commitSeq: number;
}

export interface ChainHead {
  readonly seq: number;
  readonly id: Uint8Array;
  /** Unix ms. */
  readonly time: number;
}

/** The fields an answer and its statement share. */
export interface AnswerFields {
  readonly requester: Uint8Array;
  readonly ticket: Uint8Array;
  readonly token: Uint8Array;
  readonly mapping: TokenMapping;
  readonly evidence: readonly EvidenceItem[];
  readonly head: ChainHead;
  /** Unix ms. */
  readonly answerTime: number;
  /** The responder's Ed25519 public key. */
  readonly responder: Uint8Array;
}

export interface UnsignedAnswer extends AnswerFields {
  /** 0 or 10 pairs. */
  readonly proof: readonly ProofPair[];
}

export interface AnswerMessage extends UnsignedAnswer {
  readonly type: 'answer';
  readonly signature: Uint8Array;
}

export interface UnsignedStatement extends AnswerFields {
  /** BLAKE3 digest of the proof pairs; null when the answer carried no proof. */
  readonly proofDigest: Uint8Array | null;
}

/** An answer in the compact form that fraud proofs carry; its signature is the answer's. */
export interface AnswerStatement extends UnsignedStatement {
  readonly signature: Uint8Array;
}

export type FraudPredicate = 'fork' | 'rollback' | 'double-mapping';

export const FRAUD_PREDICATE_CODES: Readonly<Record<FraudPredicate, number>> = { fork: 1, rollback: 2, 'double-mapping': 3 };
const FRAUD_PREDICATE_BY_CODE: readonly (FraudPredicate | undefined)[] = [undefined, 'fork', 'rollback', 'double-mapping'];

/**
 * Two statements by one key that cannot both be true (PROTOCOL §9). `predicate` names the one
 * the sender claims; a receiver re-checks it (and both signatures) before acting.
 */
export interface FraudProofMessage {
  readonly type: 'fraud-proof';
  readonly predicate: FraudPredicate;
  readonly a: AnswerStatement;
  readonly b: AnswerStatement;
}

// ---------------------------------------------------------------------------------------------
// Sizes.

export const ANSWER_SIZES = {
  mapping: 32 + 32 + 8 + 8,
  proofPair: 64,
  evidenceItem: 72,
  head: 8 + 32 + 8,
  /** version … mapping, proof count */
  fixedHead: 1 + 32 + 16 + 32 + 80 + COUNT_BYTES,
  /** evidence count, head, answer time, responder, signature */
  fixedTail: COUNT_BYTES + 48 + 8 + 32 + 64,
  proofDigest: 32,
} as const;

export const ANSWER_OFFSETS = {
  version: 0,
  requester: 1,
  ticket: 33,
  token: 49,
  mappingBlock: 81,
  mappingParent: 113,
  mappingTime: 145,
  mappingCommitSeq: 153,
  proofCount: 161,
  proof: 165,
} as const;

/** Body bytes of an answer with `p` proof pairs and `e` evidence items. */
export function answerBodySize(p: number, e: number): number {
  return ANSWER_SIZES.fixedHead + ANSWER_SIZES.proofPair * p + ANSWER_SIZES.fixedTail + ANSWER_SIZES.evidenceItem * e;
}

/** Bytes of a statement with `e` evidence items. */
export function statementSize(e: number): number {
  return ANSWER_SIZES.fixedHead + ANSWER_SIZES.proofDigest + ANSWER_SIZES.fixedTail + ANSWER_SIZES.evidenceItem * e;
}

export const MAX_ANSWER_BODY = answerBodySize(ANSWER_PROOF_PAIRS, MAX_ANSWER_EVIDENCE); // 1 249
export const MAX_STATEMENT_BYTES = statementSize(MAX_ANSWER_EVIDENCE); // 641
export const MAX_FRAUD_PROOF_BODY = 1 + 1 + 2 * MAX_STATEMENT_BYTES; // 1 284

// ---------------------------------------------------------------------------------------------
// Field checks, writing and reading of the shared parts.

function fieldsProblem(a: AnswerFields): WireEncodeError | null {
  if (!isBytes(a.requester, 32)) return fieldError('requester', 'must be 32 bytes');
  if (!isBytes(a.ticket, FIELD_SIZES.ticket)) return fieldError('ticket', 'must be 16 bytes');
  if (!isBytes(a.token, 32)) return fieldError('token', 'must be 32 bytes');
  const m = a.mapping;
  if (m === null || typeof m !== 'object') return fieldError('mapping', 'must be a mapping');
  if (!isBytes(m.block, 32) || !isBytes(m.parent, 32)) return fieldError('mapping', 'block and parent must be 32 bytes');
  if (!isU64(m.time) || !isU64(m.commitSeq)) return fieldError('mapping', 'time and commitSeq must be u64 below 2^53');
  const c = countProblem(a.evidence, 0, MAX_ANSWER_EVIDENCE, 'evidence');
  if (c !== null) return c;
  for (const e of a.evidence) {
    if (e === null || typeof e !== 'object' || !isBytes(e.token, 32) || !isBytes(e.block, 32) || !isU64(e.commitSeq)) {
      return fieldError('evidence', 'items must be (token 32, block 32, commitSeq u64)');
    }
  }
  const h = a.head;
  if (h === null || typeof h !== 'object' || !isU64(h.seq) || !isBytes(h.id, 32) || !isU64(h.time)) {
    return fieldError('head', 'must be (seq u64, id 32, time u64)');
  }
  if (!isU64(a.answerTime)) return fieldError('answerTime', 'must be a u64 below 2^53');
  if (!isBytes(a.responder, 32)) return fieldError('responder', 'must be 32 bytes');
  return null;
}

function proofProblem(proof: readonly ProofPair[]): WireEncodeError | null {
  if (!Array.isArray(proof)) return fieldError('proof', 'must be an array');
  if (proof.length !== 0 && proof.length !== ANSWER_PROOF_PAIRS) {
    return new WireEncodeError('count', 'proof', `proof must hold 0 or ${ANSWER_PROOF_PAIRS} pairs, has ${proof.length}`);
  }
  for (const p of proof) {
    if (p === null || typeof p !== 'object' || !isBytes(p.token, 32) || !isBytes(p.block, 32)) return fieldError('proof', 'pairs must be (token 32, block 32)');
  }
  return null;
}

function statementProblem(s: AnswerStatement, field: string): WireEncodeError | null {
  if (s === null || typeof s !== 'object') return fieldError(field, 'must be a statement');
  const p = fieldsProblem(s);
  if (p !== null) return new WireEncodeError(p.code, `${field}.${p.field}`, `${field}: ${p.message}`);
  if (s.proofDigest !== null && !isBytes(s.proofDigest, 32)) return fieldError(`${field}.proofDigest`, 'must be 32 bytes or null');
  if (!isBytes(s.signature, 64)) return fieldError(`${field}.signature`, 'must be 64 bytes');
  return null;
}

function writeHead(w: Writer, a: AnswerFields): void {
  w.bytes(a.requester);
  w.bytes(a.ticket);
  w.bytes(a.token);
  w.bytes(a.mapping.block);
  w.bytes(a.mapping.parent);
  w.u64(a.mapping.time);
  w.u64(a.mapping.commitSeq);
}

function writeTail(w: Writer, a: AnswerFields): void {
  w.u32(a.evidence.length);
  for (const e of a.evidence) {
    w.bytes(e.token);
    w.bytes(e.block);
    w.u64(e.commitSeq);
  }
  w.u64(a.head.seq);
  w.bytes(a.head.id);
  w.u64(a.head.time);
  w.u64(a.answerTime);
  w.bytes(a.responder);
}

function readHead(r: Reader): Pick<AnswerFields, 'requester' | 'ticket' | 'token' | 'mapping'> {
  const requester = r.bytes(32, 'requester');
  const ticket = r.bytes(16, 'ticket');
  const token = r.bytes(32, 'token');
  const block = r.bytes(32, 'mapping.block');
  const parent = r.bytes(32, 'mapping.parent');
  const time = r.u64('mapping.time');
  const commitSeq = r.u64('mapping.commitSeq');
  return { requester, ticket, token, mapping: { block, parent, time, commitSeq } };
}

function readTail(r: Reader): Pick<AnswerFields, 'evidence' | 'head' | 'answerTime' | 'responder'> {
  const n = r.count(0, MAX_ANSWER_EVIDENCE, ANSWER_SIZES.evidenceItem, 'evidence');
  const evidence: EvidenceItem[] = [];
  for (let i = 0; i < n; i++) {
    const token = r.bytes(32, 'evidence.token');
    const block = r.bytes(32, 'evidence.block');
    const commitSeq = r.u64('evidence.commitSeq');
    evidence.push({ token, block, commitSeq });
  }
  const seq = r.u64('head.seq');
  const id = r.bytes(32, 'head.id');
  const time = r.u64('head.time');
  const answerTime = r.u64('answerTime');
  const responder = r.bytes(32, 'responder');
  return { evidence, head: { seq, id, time }, answerTime, responder };
}

/** Reads the proof count: 0 or 10, with room for that many pairs. */
function readProofCount(r: Reader, itemBytes: number): number {
  const n = r.count(0, ANSWER_PROOF_PAIRS, itemBytes, 'proof');
  if (n !== 0 && n !== ANSWER_PROOF_PAIRS) throw new DecodeStop('count', 'proof');
  return n;
}

function writeStatementUnsigned(w: Writer, s: UnsignedStatement): void {
  w.u8(1);
  writeHead(w, s);
  w.u32(s.proofDigest === null ? 0 : ANSWER_PROOF_PAIRS);
  w.bytes(s.proofDigest ?? ZERO32);
  writeTail(w, s);
}

function readStatement(r: Reader, field: string): AnswerStatement {
  const version = r.u8(`${field}.version`);
  if (version !== 1) throw new DecodeStop('version', `${field}.version`);
  const head = readHead(r);
  const p = readProofCount(r, 0);
  const digest = r.bytes(32, `${field}.proofDigest`);
  if (p === 0 && !digest.every((b) => b === 0)) throw new DecodeStop('field', `${field}.proofDigest`);
  const tail = readTail(r);
  const signature = r.bytes(64, `${field}.signature`);
  return { ...head, proofDigest: p === 0 ? null : digest, ...tail, signature };
}

const ZERO32 = new Uint8Array(32);

// ---------------------------------------------------------------------------------------------
// Layouts.

export const ANSWER: LayoutSpec<AnswerMessage> = {
  kind: KIND_ANSWER,
  name: 'ANSWER',
  packable: false,
  maxBody: MAX_ANSWER_BODY,
  check(m) {
    const p = fieldsProblem(m) ?? proofProblem(m.proof);
    if (p !== null) return p;
    return isBytes(m.signature, 64) ? null : fieldError('signature', 'must be 64 bytes');
  },
  size: (m) => answerBodySize(m.proof.length, m.evidence.length) - 1,
  write(w, m) {
    writeHead(w, m);
    w.u32(m.proof.length);
    for (const p of m.proof) {
      w.bytes(p.token);
      w.bytes(p.block);
    }
    writeTail(w, m);
    w.bytes(m.signature);
  },
  read(r) {
    const head = readHead(r);
    const n = readProofCount(r, ANSWER_SIZES.proofPair);
    const proof: ProofPair[] = [];
    for (let i = 0; i < n; i++) {
      const token = r.bytes(32, 'proof.token');
      const block = r.bytes(32, 'proof.block');
      proof.push({ token, block });
    }
    const tail = readTail(r);
    const signature = r.bytes(64, 'signature');
    return { type: 'answer', ...head, proof, ...tail, signature };
  },
};

export const FRAUD_PROOF: LayoutSpec<FraudProofMessage> = {
  kind: KIND_FRAUD_PROOF,
  name: 'FRAUD_PROOF',
  packable: false,
  maxBody: MAX_FRAUD_PROOF_BODY,
  check(m) {
    if (typeof m.predicate !== 'string' || !Object.hasOwn(FRAUD_PREDICATE_CODES, m.predicate)) {
      return fieldError('predicate', "must be 'fork', 'rollback' or 'double-mapping'");
    }
    const p = statementProblem(m.a, 'a') ?? statementProblem(m.b, 'b');
    if (p !== null) return p;
    if (!bytesEqual(m.a.responder, m.b.responder)) return fieldError('b.responder', 'must equal a.responder');
    return null;
  },
  size: (m) => 1 + statementSize(m.a.evidence.length) + statementSize(m.b.evidence.length),
  write(w, m) {
    w.u8(FRAUD_PREDICATE_CODES[m.predicate]);
    writeStatementUnsigned(w, m.a);
    w.bytes(m.a.signature);
    writeStatementUnsigned(w, m.b);
    w.bytes(m.b.signature);
  },
  read(r) {
    const code = r.enumU8([1, 2, 3], 'predicate');
    const predicate = FRAUD_PREDICATE_BY_CODE[code] as FraudPredicate;
    const a = readStatement(r, 'a');
    const b = readStatement(r, 'b');
    if (!bytesEqual(a.responder, b.responder)) throw new DecodeStop('field', 'b.responder');
    return { type: 'fraud-proof', predicate, a, b };
  },
};

// ---------------------------------------------------------------------------------------------
// A statement on its own: the evidence store's and the evidence files' unit.

/**
 * Offsets inside an encoded statement. The claims (mapping, evidence items) and the head sit at
 * fixed places, so fraud checks (consensus/fraud.ts) compare bytes in place without decoding.
 */
export const STATEMENT_OFFSETS = {
  token: 49,
  mappingBlock: 81,
  mappingCommitSeq: 153,
  proofCount: 161,
  proofDigest: 165,
  evidenceCount: 197,
  evidence: 201,
} as const;

/** The statement's bytes (version ‖ fields ‖ proof digest ‖ … ‖ signature), exactly as a FRAUD_PROOF carries it. Throws WireEncodeError. */
export function encodeStatement(s: AnswerStatement): Uint8Array {
  const p = statementProblem(s, 'statement');
  if (p !== null) throw p;
  const out = new Uint8Array(statementSize(s.evidence.length));
  const w = new Writer(out);
  writeStatementUnsigned(w, s);
  w.bytes(s.signature);
  return out;
}

/** Decodes exactly one statement (no trailing bytes). Never throws. */
export function decodeStatement(bytes: Uint8Array): { ok: true; value: AnswerStatement } | { ok: false; field: string; code: string } {
  if (!(bytes instanceof Uint8Array) || bytes.length < statementSize(0) || bytes.length > MAX_STATEMENT_BYTES) {
    return { ok: false, field: 'statement', code: 'length' };
  }
  try {
    const r = new Reader(bytes);
    const value = readStatement(r, 'statement');
    if (r.remaining !== 0) return { ok: false, field: 'statement', code: 'trailing' };
    return { ok: true, value };
  } catch (err) {
    if (err instanceof DecodeStop) return { ok: false, field: err.field, code: err.code };
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Signing.

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** BLAKE3("ec/answer-proof/v1" ‖ pairs), or null for an answer without a proof. */
export function answerProofDigest(blake3: Blake3Kernel, proof: readonly ProofPair[]): Uint8Array | null {
  if (proof.length === 0) return null;
  const p = proofProblem(proof);
  if (p !== null) throw p;
  const buf = new Uint8Array(DOMAIN_ANSWER_PROOF.length + ANSWER_SIZES.proofPair * proof.length);
  buf.set(DOMAIN_ANSWER_PROOF, 0);
  let o = DOMAIN_ANSWER_PROOF.length;
  for (const pair of proof) {
    buf.set(pair.token, o);
    buf.set(pair.block, o + 32);
    o += 64;
  }
  return blake3.hash(buf);
}

function isUnsignedAnswer(a: UnsignedAnswer | UnsignedStatement): a is UnsignedAnswer {
  return 'proof' in a;
}

/** The compact statement of an answer (what a fraud proof carries). Throws WireEncodeError on a malformed answer. */
export function answerStatement(blake3: Blake3Kernel, a: AnswerMessage): AnswerStatement {
  const { requester, ticket, token, mapping, evidence, head, answerTime, responder, signature } = a;
  return { requester, ticket, token, mapping, proofDigest: answerProofDigest(blake3, a.proof), evidence, head, answerTime, responder, signature };
}

/**
 * "ec/answer/v1" ‖ network_id u64 ‖ statement bytes without the signature: the message the
 * responder signs. Accepts an answer (its proof is digested) or a statement. Throws
 * WireEncodeError on malformed fields (a caller bug).
 */
export function answerSigningMessage(blake3: Blake3Kernel, networkId: bigint, a: UnsignedAnswer | UnsignedStatement): Uint8Array {
  const problem = fieldsProblem(a) ?? (isUnsignedAnswer(a) ? proofProblem(a.proof) : null);
  if (problem !== null) throw problem;
  if (typeof networkId !== 'bigint' || networkId < 0n || networkId >= 1n << 64n) throw fieldError('networkId', 'must be a u64');
  const s: UnsignedStatement = isUnsignedAnswer(a) ? { ...a, proofDigest: answerProofDigest(blake3, a.proof) } : a;
  if (s.proofDigest !== null && !isBytes(s.proofDigest, 32)) throw fieldError('proofDigest', 'must be 32 bytes or null');
  const body = statementSize(s.evidence.length) - FIELD_SIZES.signature;
  const out = new Uint8Array(DOMAIN_ANSWER_SIG.length + 8 + body);
  out.set(DOMAIN_ANSWER_SIG, 0);
  const w = new Writer(out.subarray(DOMAIN_ANSWER_SIG.length));
  w.u32(Number((networkId >> 32n) & 0xffff_ffffn));
  w.u32(Number(networkId & 0xffff_ffffn));
  writeStatementUnsigned(w, s);
  return out;
}

/** Signs an answer as its responder. Throws RangeError when the signer's key is not `responder`. */
export function signAnswer(blake3: Blake3Kernel, signer: Ed25519Signer, networkId: bigint, unsigned: UnsignedAnswer): AnswerMessage {
  if (!bytesEqual(signer.publicKey, unsigned.responder)) throw new RangeError('the signer is not the answer’s responder');
  const signature = signer.sign(answerSigningMessage(blake3, networkId, unsigned));
  return { ...unsigned, type: 'answer', signature };
}

/** True when an answer's or a statement's signature verifies for its responder key. Never throws. */
export function verifyAnswer(
  mods: { readonly ed25519: Ed25519Kernel; readonly blake3: Blake3Kernel },
  networkId: bigint,
  a: AnswerMessage | AnswerStatement,
): boolean {
  try {
    if (!isBytes(a.signature, 64)) return false;
    return mods.ed25519.verify(a.signature, answerSigningMessage(mods.blake3, networkId, a), a.responder);
  } catch {
    return false;
  }
}
