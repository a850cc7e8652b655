/**
 * Minefield fraud predicates (PROTOCOL §9), on encoded statements (wire/msg-answer.ts
 * `encodeStatement`). A statement's claims and head sit at fixed offsets, so every check compares
 * bytes in place: no decoding and no allocation on the path every received answer takes.
 *
 * A *claim* is one (token, block, commit seq) the responder signed: the answer's mapping (when it
 * names a block; all-zero means "no mapping", which claims nothing) and each evidence item.
 *
 *   fork (F1)            the two heads have the same seq and different ids;
 *   double mapping (F3)  a claim in each names the same token and seq with different blocks;
 *   rollback (F2)        A claims token t set at c1 ≤ A.head.seq, and B, whose head seq is at
 *                        least c1, claims t set by another block at c0 < c1.
 *
 * Why honest peers never satisfy them (docs/evidence.md says it at length): an honest commit
 * chain only grows, every commit is durable before any answer names it, and a mapping is only
 * ever overwritten by a later commit. So an honest head seq names one id forever (F1), a token
 * and a seq name one block forever (F3), and once a head covers the commit that set t at c1,
 * its mapping for t, and every later head's, has a seq ≥ c1 (F2). Lag, silence and refusal produce older
 * heads, missing mappings or no answer, none of which any predicate compares against.
 *
 * A statement may contradict itself (a mapping and an evidence item naming one token and seq
 * with two blocks); `a` and `b` may then be the same statement.
 *
 * Pure: no I/O, no clock. Inputs are assumed to be well-formed encodings (check them once with
 * `decodeStatement` where they enter); `checkFraudProof` does that itself.
 */
import type { Ed25519Kernel } from '../kernels/types.js';
import {
  DOMAIN_ANSWER_SIG,
  STATEMENT_OFFSETS,
  decodeStatement,
  type FraudPredicate,
} from '../wire/msg-answer.js';

const O = STATEMENT_OFFSETS;
const EVIDENCE_ITEM = 72;
const TWO_32 = 2 ** 32;
const ZERO32 = new Uint8Array(32);

export type { FraudPredicate } from '../wire/msg-answer.js';

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function u64(b: Uint8Array, o: number): number {
  return u32(b, o) * TWO_32 + u32(b, o + 4);
}

/** 32 bytes at `oa` in `a` equal 32 bytes at `ob` in `b`. */
function same32(a: Uint8Array, oa: number, b: Uint8Array, ob: number): boolean {
  for (let i = 0; i < 32; i++) if (a[oa + i] !== b[ob + i]) return false;
  return true;
}

function evidenceCount(s: Uint8Array): number {
  return u32(s, O.evidenceCount);
}

function headOffset(s: Uint8Array): number {
  return O.evidence + EVIDENCE_ITEM * evidenceCount(s);
}

/** The statement's head seq. */
export function headSeq(s: Uint8Array): number {
  return u64(s, headOffset(s));
}

/** The responder key: 32 bytes before the 64-byte signature. */
export function responderOf(s: Uint8Array): Uint8Array {
  return s.subarray(s.length - 96, s.length - 64);
}

/** Offset of claim `i`'s token (block at +32); claim 0 is the mapping, 1… the evidence items. */
function claimOffset(i: number): number {
  return i === 0 ? O.token : O.evidence + EVIDENCE_ITEM * (i - 1);
}

function claimBlockOffset(i: number): number {
  return i === 0 ? O.mappingBlock : claimOffset(i) + 32;
}

function claimSeq(s: Uint8Array, i: number): number {
  return i === 0 ? u64(s, O.mappingCommitSeq) : u64(s, claimOffset(i) + 64);
}

/** Index of the first claim: 1 when the mapping names no block (it claims nothing). */
function firstClaim(s: Uint8Array): number {
  return same32(s, O.mappingBlock, ZERO32, 0) ? 1 : 0;
}

/** F1: same head seq, different head ids. */
export function isFork(a: Uint8Array, b: Uint8Array): boolean {
  const ha = headOffset(a);
  const hb = headOffset(b);
  return u64(a, ha) === u64(b, hb) && !same32(a, ha + 8, b, hb + 8);
}

/** F3: one token and commit seq claimed with two different blocks. */
export function isDoubleMapping(a: Uint8Array, b: Uint8Array): boolean {
  const na = evidenceCount(a);
  const nb = evidenceCount(b);
  for (let i = firstClaim(a); i <= na; i++) {
    const seq = claimSeq(a, i);
    for (let j = firstClaim(b); j <= nb; j++) {
      if (claimSeq(b, j) !== seq) continue;
      if (same32(a, claimOffset(i), b, claimOffset(j)) && !same32(a, claimBlockOffset(i), b, claimBlockOffset(j))) return true;
    }
  }
  return false;
}

/**
 * F2 with `a` the statement of the newer claim: a claims token t set by commit c1 (c1 within its
 * own head), and b, whose head covers c1, maps t to another block set at c0 < c1. PROTOCOL §9 asks
 * b's head to cover a's whole head; covering c1 is enough (at any head ≥ c1 an honest mapping of
 * t has seq ≥ c1) and catches lies that only older-headed honest answers would otherwise meet.
 */
export function isRollback(a: Uint8Array, b: Uint8Array): boolean {
  const headA = headSeq(a);
  const headB = headSeq(b);
  const na = evidenceCount(a);
  const nb = evidenceCount(b);
  for (let i = firstClaim(a); i <= na; i++) {
    const c1 = claimSeq(a, i);
    if (c1 > headA || c1 > headB) continue;
    for (let j = firstClaim(b); j <= nb; j++) {
      if (claimSeq(b, j) >= c1) continue;
      if (same32(a, claimOffset(i), b, claimOffset(j)) && !same32(a, claimBlockOffset(i), b, claimBlockOffset(j))) return true;
    }
  }
  return false;
}

/** The predicate two statements of one responder satisfy, checked in the order F1, F3, F2; null when they can both be true. */
export function fraudBetween(a: Uint8Array, b: Uint8Array): FraudPredicate | null {
  if (isFork(a, b)) return 'fork';
  if (isDoubleMapping(a, b)) return 'double-mapping';
  if (isRollback(a, b) || isRollback(b, a)) return 'rollback';
  return null;
}

/** Whether `predicate` holds for the pair (in either order for rollback). */
export function predicateHolds(predicate: FraudPredicate, a: Uint8Array, b: Uint8Array): boolean {
  if (predicate === 'fork') return isFork(a, b);
  if (predicate === 'double-mapping') return isDoubleMapping(a, b);
  return isRollback(a, b) || isRollback(b, a);
}

export type FraudProofRefusal = 'malformed' | 'different-responders' | 'bad-signature' | 'predicate-false';

export type FraudProofCheck =
  | { readonly ok: true; readonly predicate: FraudPredicate; readonly culprit: Uint8Array }
  | { readonly ok: false; readonly code: FraudProofRefusal; readonly reason: string };

/** "ec/answer/v1" ‖ network id ‖ the statement without its signature: what the responder signed. */
export function statementSigningMessage(networkId: bigint, s: Uint8Array): Uint8Array {
  const body = s.length - 64;
  const out = new Uint8Array(DOMAIN_ANSWER_SIG.length + 8 + body);
  out.set(DOMAIN_ANSWER_SIG, 0);
  const v = new DataView(out.buffer);
  v.setBigUint64(DOMAIN_ANSWER_SIG.length, networkId);
  out.set(s.subarray(0, body), DOMAIN_ANSWER_SIG.length + 8);
  return out;
}

/** True when an encoded statement's signature verifies for its responder on `networkId`. */
export function statementSignatureValid(ed25519: Ed25519Kernel, networkId: bigint, s: Uint8Array): boolean {
  try {
    return ed25519.verify(s.subarray(s.length - 64), statementSigningMessage(networkId, s), responderOf(s));
  } catch {
    return false;
  }
}

/**
 * Everything that makes two encoded statements a fraud proof on `networkId`: both well-formed, one
 * responder key, both signatures, and the predicate. Cheap checks first; never throws.
 */
export function checkFraudProof(
  mods: { readonly ed25519: Ed25519Kernel },
  networkId: bigint,
  predicate: FraudPredicate,
  a: Uint8Array,
  b: Uint8Array,
): FraudProofCheck {
  for (const [name, s] of [['A', a], ['B', b]] as const) {
    const d = decodeStatement(s);
    if (!d.ok) return { ok: false, code: 'malformed', reason: `statement ${name} is malformed (${d.field}: ${d.code})` };
  }
  if (!same32(responderOf(a), 0, responderOf(b), 0)) return { ok: false, code: 'different-responders', reason: 'the statements are signed by different keys' };
  if (!predicateHolds(predicate, a, b)) return { ok: false, code: 'predicate-false', reason: `the statements do not satisfy ${predicate}: both can be true` };
  for (const [name, s] of [['A', a], ['B', b]] as const) {
    if (!statementSignatureValid(mods.ed25519, networkId, s)) {
      return { ok: false, code: 'bad-signature', reason: `statement ${name}'s signature does not verify for its responder on network ${networkId}` };
    }
  }
  return { ok: true, predicate, culprit: Uint8Array.from(responderOf(a)) };
}
