/**
 * Offline checks of evidence files (wire/evidence-file.ts) for `ecd evidence verify`: no daemon,
 * no network, only the files and the crypto.
 *
 *  - A fraud proof is valid when both statements are well-formed, signed by one key on the
 *    file's network, and satisfy the predicate it names (consensus/fraud.ts `checkFraudProof`);
 *    an identity record in it must belong to that key and carry valid proof of work.
 *  - A bundle is valid when every statement's signature, every identity record and every block
 *    (id and entry signatures) checks. Its statements are then compared with each other, per
 *    responder, across every file given: two owners' bundles together expose a split view (a
 *    responder that showed them different heads) that neither shows alone.
 *
 * Identity records are checked for signature and work, not for age: evidence outlives the
 * one-year window in which a record may join a network.
 */
import type { Argon2idEngine, Blake3Kernel, Ed25519Kernel } from '../kernels/types.js';
import { checkFraudProof, fraudBetween, responderOf, statementSignatureValid } from '../consensus/fraud.js';
import { toHex } from '../consensus/hex.js';
import { blockId, bytesEqual, verifyEntrySignature } from '../wire/block.js';
import type { EvidenceFile } from '../wire/evidence-file.js';
import { verifyIdentity, type IdentityRecord } from '../wire/identity.js';
import { profileByNetworkId, type NetworkProfile } from '../wire/profiles.js';
import { decodeStatement, type FraudPredicate } from '../wire/msg-answer.js';

export interface VerifyModules {
  readonly ed25519: Ed25519Kernel;
  readonly blake3: Blake3Kernel;
  /** Opened on demand for identity records (Argon2id of the profile). */
  readonly argon2: () => Promise<Argon2idEngine>;
}

export interface FoundProof {
  readonly culprit: string;
  readonly predicate: FraudPredicate;
  readonly a: Uint8Array;
  readonly b: Uint8Array;
}

export type VerifyReport =
  | {
      readonly valid: true;
      readonly kind: 'fraud-proof' | 'bundle';
      readonly networkId: bigint;
      readonly statements: number;
      readonly responders: number;
      readonly identities: number;
      readonly blocks: number;
      /** Fraud proven: the proof itself, or what the bundles' statements prove together. */
      readonly fraud: readonly FoundProof[];
      readonly notes: readonly string[];
    }
  | { readonly valid: false; readonly reason: string };

async function identityProblem(mods: VerifyModules, record: IdentityRecord, profile: NetworkProfile | undefined): Promise<string | null> {
  if (profile === undefined) return `no known profile for network ${record.networkId}: pass --profile`;
  const engine = await mods.argon2();
  const r = await verifyIdentity({ ed25519: mods.ed25519, blake3: mods.blake3, argon2: engine }, record, { profile, now: record.time });
  return r.ok ? null : `${r.code}: ${r.reason}`;
}

/** Verifies one or more decoded evidence files of one network. */
export async function verifyEvidenceFiles(mods: VerifyModules, files: readonly EvidenceFile[], profileOverride?: NetworkProfile): Promise<VerifyReport> {
  const first = files[0];
  if (first === undefined) return { valid: false, reason: 'no files' };
  const networkId = first.networkId;
  if (files.some((f) => f.networkId !== networkId)) return { valid: false, reason: 'the files are of different networks' };
  const profile = profileOverride ?? profileByNetworkId(networkId);
  const notes: string[] = [];
  const fraud: FoundProof[] = [];
  const statements: Uint8Array[] = [];
  let identities = 0;
  let blocks = 0;
  for (const [fi, f] of files.entries()) {
    const where = files.length > 1 ? `file ${fi + 1}: ` : '';
    if (f.kind === 'fraud-proof') {
      const c = checkFraudProof(mods, networkId, f.predicate, f.a, f.b);
      if (!c.ok) return { valid: false, reason: `${where}not a valid fraud proof: ${c.reason}` };
      if (f.identity !== null) {
        if (!bytesEqual(f.identity.publicKey, c.culprit)) return { valid: false, reason: `${where}the identity record is not the culprit's` };
        const p = await identityProblem(mods, f.identity, profile);
        if (p !== null) return { valid: false, reason: `${where}the culprit's identity record does not verify (${p})` };
        identities++;
      } else {
        notes.push(`${where}no identity record: the proof names a key, not a mined identity`);
      }
      fraud.push({ culprit: toHex(c.culprit), predicate: c.predicate, a: f.a, b: f.b });
      statements.push(f.a, f.b);
      continue;
    }
    for (const [i, s] of f.statements.entries()) {
      const d = decodeStatement(s);
      if (!d.ok) return { valid: false, reason: `${where}statement ${i} is malformed (${d.field}: ${d.code})` };
      if (!statementSignatureValid(mods.ed25519, networkId, s)) return { valid: false, reason: `${where}statement ${i}: its signature does not verify for its responder on network ${networkId}` };
      statements.push(s);
    }
    for (const [i, r] of f.identities.entries()) {
      const p = await identityProblem(mods, r, profile);
      if (p !== null) return { valid: false, reason: `${where}identity record ${i} does not verify (${p})` };
      identities++;
    }
    for (const [i, b] of f.blocks.entries()) {
      const id = blockId(mods.blake3, networkId, b.block);
      for (const sig of b.signatures) {
        if (!verifyEntrySignature(mods.ed25519, id, sig)) return { valid: false, reason: `${where}block ${i} (${toHex(id)}): an entry signature does not verify` };
      }
      blocks++;
    }
  }
  // Statements compared per responder, across files: what no single owner could see.
  const byResponder = new Map<string, Uint8Array[]>();
  for (const s of statements) {
    const k = toHex(responderOf(s));
    const list = byResponder.get(k) ?? [];
    list.push(s);
    byResponder.set(k, list);
  }
  const proven = new Set(fraud.map((f) => `${f.culprit}/${f.predicate}`));
  for (const [k, list] of byResponder) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i; j < list.length; j++) {
        const p = fraudBetween(list[i] as Uint8Array, list[j] as Uint8Array);
        if (p === null || proven.has(`${k}/${p}`)) continue;
        proven.add(`${k}/${p}`);
        fraud.push({ culprit: k, predicate: p, a: list[i] as Uint8Array, b: list[j] as Uint8Array });
      }
    }
  }
  return { valid: true, kind: first.kind, networkId, statements: statements.length, responders: byResponder.size, identities, blocks, fraud, notes };
}
