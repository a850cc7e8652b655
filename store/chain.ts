/**
 * Verifies a store's hash-linked commit chain (PROTOCOL §6): walks seq 1…head, recomputing every
 * record id (wire/block.ts `commitRecordId`) and checking each links to the one before, that the
 * last is the head, and (optionally) that every listed block is stored with that seq. Works on any
 * StoreReader, so the crash test, the daemon's startup check and the memory store share it.
 */
import type { Blake3Kernel } from '../kernels/types.js';
import { bytesEqual, commitRecordId, ZERO_ID } from '../wire/block.js';
import type { CommitHead, StoreReader } from './types.js';

export type ChainFaultCode = 'missing-record' | 'bad-seq' | 'bad-link' | 'bad-id' | 'head-mismatch' | 'missing-block' | 'block-seq';

export type ChainVerification =
  | { readonly ok: true; readonly head: CommitHead; readonly records: number; readonly blocks: number }
  | { readonly ok: false; readonly code: ChainFaultCode; readonly seq: number; readonly message: string };

export interface VerifyChainOptions {
  /** Also check that every listed block is stored with the record's seq (default true). */
  readonly blocks?: boolean;
  /** Start the walk at this seq (linking to the stored record before it). Default 1: the whole chain. */
  readonly fromSeq?: number;
}

export function verifyChain(store: StoreReader, blake3: Blake3Kernel, opts: VerifyChainOptions = {}): ChainVerification {
  const checkBlocks = opts.blocks ?? true;
  const head = store.head();
  const from = Math.max(1, opts.fromSeq ?? 1);
  let prevId: Uint8Array = ZERO_ID;
  if (from > 1) {
    const before = store.commit(from - 1);
    if (before === undefined) return { ok: false, code: 'missing-record', seq: from - 1, message: `record ${from - 1} is missing` };
    prevId = before.id;
  }
  let blocks = 0;
  for (let seq = from; seq <= head.seq; seq++) {
    const r = store.commit(seq);
    if (r === undefined) return { ok: false, code: 'missing-record', seq, message: `record ${seq} of ${head.seq} is missing` };
    if (r.seq !== seq) return { ok: false, code: 'bad-seq', seq, message: `record at ${seq} says seq ${r.seq}` };
    if (!bytesEqual(r.prevId, prevId)) return { ok: false, code: 'bad-link', seq, message: `record ${seq} does not link to record ${seq - 1}` };
    if (!bytesEqual(commitRecordId(blake3, r), r.id)) return { ok: false, code: 'bad-id', seq, message: `record ${seq}: stored id is not the hash of its fields` };
    if (checkBlocks) {
      for (const id of r.blockIds) {
        const b = store.block(id);
        if (b === undefined) return { ok: false, code: 'missing-block', seq, message: `record ${seq} lists a block that is not stored` };
        if (b.seq !== seq) return { ok: false, code: 'block-seq', seq, message: `block of record ${seq} is stored with seq ${b.seq}` };
        blocks++;
      }
    }
    prevId = r.id;
  }
  if (!bytesEqual(prevId, head.id)) {
    return { ok: false, code: 'head-mismatch', seq: head.seq, message: `head id is not the id of record ${head.seq}` };
  }
  if (store.commit(head.seq + 1) !== undefined) return { ok: false, code: 'head-mismatch', seq: head.seq + 1, message: `a record exists beyond head ${head.seq}` };
  return { ok: true, head, records: Math.max(0, head.seq - from + 1), blocks };
}
