/**
 * Block validation (PROTOCOL §4): structure, time, and for every updating entry a signature by
 * a key whose BLAKE3 equals the next_key_hash the parent set for that token, with the block's time
 * after the parent's. Parents come from a lookup (store or mempool); a missing parent is not an
 * error but a reason to wait and fetch it.
 */
import type { Blake3Kernel, Ed25519Kernel } from '../kernels/types.js';
import type { Block, BlockFormatCode, SignedBlock } from '../wire/block.js';
import { blockSigningMessage, bytesEqual, checkBlockStructure, isZero } from '../wire/block.js';
import { equal32 } from './keys.js';

export type BlockInvalidCode =
  | BlockFormatCode
  | 'too-far-in-future'
  | 'parent-lacks-token'
  | 'token-final'
  | 'wrong-key'
  | 'bad-signature'
  | 'not-after-parent';

export type BlockCheck =
  | { readonly kind: 'valid' }
  | { readonly kind: 'invalid'; readonly code: BlockInvalidCode }
  | { readonly kind: 'missing-parents'; readonly parents: readonly Uint8Array[] };

export interface ValidationCrypto {
  readonly blake3: Blake3Kernel;
  readonly ed25519: Ed25519Kernel;
}

/** Structure and the future-time rule: everything that needs no other block. */
export function checkStandalone(signed: SignedBlock, now: number, maxFutureMs: number): BlockInvalidCode | null {
  const code = checkBlockStructure(signed.block, signed.signatures);
  if (code !== null) return code;
  if (signed.block.time > now + maxFutureMs) return 'too-far-in-future';
  return null;
}

/**
 * The parent-dependent checks, for a block that passed `checkStandalone`. `id` is the block's
 * recomputed id. A definite failure wins over missing parents (so garbage is dropped at once).
 */
export function checkAgainstParents(
  crypto: ValidationCrypto,
  signed: SignedBlock,
  id: Uint8Array,
  parentOf: (last: Uint8Array) => Block | undefined,
): BlockCheck {
  const missing: Uint8Array[] = [];
  let message: Uint8Array | undefined;
  for (const sig of signed.signatures) {
    const entry = signed.block.entries[sig.index];
    if (entry === undefined || isZero(entry.last)) return { kind: 'invalid', code: 'bad-signature-index' };
    const parent = parentOf(entry.last);
    if (parent === undefined) {
      if (!missing.some((m) => equal32(m, entry.last))) missing.push(entry.last);
      continue;
    }
    const pe = parent.entries.find((e) => bytesEqual(e.token, entry.token));
    if (pe === undefined) return { kind: 'invalid', code: 'parent-lacks-token' };
    if (isZero(pe.nextKeyHash)) return { kind: 'invalid', code: 'token-final' };
    if (!bytesEqual(crypto.blake3.hash(sig.publicKey), pe.nextKeyHash)) return { kind: 'invalid', code: 'wrong-key' };
    if (!(signed.block.time > parent.time)) return { kind: 'invalid', code: 'not-after-parent' };
    message ??= blockSigningMessage(id);
    if (!crypto.ed25519.verify(sig.signature, message, sig.publicKey)) return { kind: 'invalid', code: 'bad-signature' };
  }
  return missing.length > 0 ? { kind: 'missing-parents', parents: missing } : { kind: 'valid' };
}
