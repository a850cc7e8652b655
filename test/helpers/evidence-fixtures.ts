/**
 * Builders for the Minefield evidence tests (PROTOCOL §9): signed statements from hand-written
 * claims, and honest commit histories in a MemoryStore whose answers come from the real
 * AnswerBuilder. Signing uses the crypto kernels the daemon uses.
 */
import type { Blake3Kernel, Ed25519Signer } from '../../kernels/types.js';
import { answerStatement, encodeStatement, signAnswer, type EvidenceItem, type ProofPair, type UnsignedAnswer } from '../../wire/msg-answer.js';
import { blockId, makeCommitRecord, ZERO_ID, type Block, type BlockEntry } from '../../wire/block.js';
import { MemoryStore } from '../../store/memory.js';
import type { CommitBatch, CommitHead, SpendWrite, StoredBlock, TokenWrite } from '../../store/types.js';
import type { SeededRng } from './seeded-rng.js';

export const EVIDENCE_NET = 0x6563_6409n;
export const T0 = 1_700_000_000_000;

/** 32 bytes: `tag` in byte 0, `n` big-endian in bytes 28–31 (distinct and readable in failures). */
export function id32(tag: number, n = 0): Uint8Array {
  const b = new Uint8Array(32);
  b[0] = tag;
  new DataView(b.buffer).setUint32(28, n >>> 0);
  return b;
}

export function seedOf(n: number): Uint8Array {
  const s = new Uint8Array(32).fill(0x5e);
  new DataView(s.buffer).setUint32(0, n >>> 0);
  return s;
}

export interface Claim {
  readonly token: Uint8Array;
  readonly block: Uint8Array;
  readonly seq: number;
}

/** A statement as the tests write it: the claims and the head; everything else has defaults. */
export interface StatementSpec {
  readonly token: Uint8Array;
  /** null: "no mapping" (all-zero block, seq `noMappingSeq`). */
  readonly mapping: { readonly block: Uint8Array; readonly seq: number; readonly parent?: Uint8Array } | null;
  readonly noMappingSeq?: number;
  readonly evidence?: readonly Claim[];
  readonly head: { readonly seq: number; readonly id: Uint8Array };
  /** Carry a 10-pair proof (the statement then holds its digest). */
  readonly proof?: boolean;
  readonly answerTime?: number;
  readonly requester?: Uint8Array;
}

export function unsignedFromSpec(responder: Uint8Array, spec: StatementSpec): UnsignedAnswer {
  const proof: ProofPair[] = spec.proof === true ? Array.from({ length: 10 }, (_, i) => ({ token: id32(0x70, i), block: id32(0x71, i) })) : [];
  const evidence: EvidenceItem[] = (spec.evidence ?? []).map((c) => ({ token: c.token, block: c.block, commitSeq: c.seq }));
  const m = spec.mapping;
  return {
    requester: spec.requester ?? id32(0xa0),
    ticket: new Uint8Array(16).fill(0x7c),
    token: spec.token,
    mapping: m === null ? { block: ZERO_ID, parent: ZERO_ID, time: 0, commitSeq: spec.noMappingSeq ?? 0 } : { block: m.block, parent: m.parent ?? ZERO_ID, time: T0 + m.seq, commitSeq: m.seq },
    proof,
    evidence,
    head: { seq: spec.head.seq, id: spec.head.id, time: T0 + spec.head.seq },
    answerTime: spec.answerTime ?? T0 + 10_000,
    responder,
  };
}

/** Signs an answer and returns its encoded statement (what the book and fraud proofs hold). */
export function statementBytes(blake3: Blake3Kernel, signer: Ed25519Signer, networkId: bigint, unsigned: UnsignedAnswer): Uint8Array {
  return encodeStatement(answerStatement(blake3, signAnswer(blake3, signer, networkId, unsigned)));
}

export function signedStatement(blake3: Blake3Kernel, signer: Ed25519Signer, spec: StatementSpec, networkId = EVIDENCE_NET): Uint8Array {
  return statementBytes(blake3, signer, networkId, unsignedFromSpec(signer.publicKey, spec));
}

// ---------------------------------------------------------------------------------------------
// Honest histories.

interface TokenState {
  readonly token: Uint8Array;
  readonly hosted: boolean;
  /** The token's current block (whether or not the store maps it). */
  block: Uint8Array;
}

/**
 * One responder's honest commit chain in a MemoryStore. Each `step` applies one batch of 1–3
 * commit records with 1–3 blocks each; a block creates tokens or transfers live ones (a token may
 * move twice within one record). Block times grow strictly, so every block is newer than the
 * mapping it replaces, as consensus/commit.ts requires of a mapping move.
 */
export class HonestHistory {
  readonly store = new MemoryStore();
  readonly tokens: TokenState[] = [];
  private time = T0;

  constructor(
    private readonly blake3: Blake3Kernel,
    private readonly rng: SeededRng,
    private readonly networkId = EVIDENCE_NET,
  ) {}

  /** Tokens that moved at least once (their mapping has a non-zero parent), hosted ones only. */
  movedTokens(): Uint8Array[] {
    return this.tokens.filter((t) => t.hosted && !(this.store.token(t.token)?.parent ?? ZERO_ID).every((b) => b === 0)).map((t) => t.token);
  }

  step(): CommitBatch {
    let head: CommitHead = this.store.head();
    const batch: { commits: ReturnType<typeof makeCommitRecord>[]; blocks: StoredBlock[]; tokens: TokenWrite[]; spends: SpendWrite[] } = { commits: [], blocks: [], tokens: [], spends: [] };
    const records = 1 + this.rng.int(3);
    for (let r = 0; r < records; r++) {
      const built: { id: Uint8Array; block: Block }[] = [];
      const blocks = 1 + this.rng.int(3);
      for (let k = 0; k < blocks; k++) built.push(this.nextBlock());
      const record = makeCommitRecord(this.blake3, { seq: head.seq + 1, prevId: head.id, time: this.time, blockIds: built.map((b) => b.id) });
      batch.commits.push(record);
      head = { seq: record.seq, id: record.id };
      for (const b of built) {
        batch.blocks.push({ id: b.id, block: b.block, signatures: [], seq: record.seq });
        for (const e of b.block.entries) {
          batch.spends.push({ token: e.token, last: e.last, block: b.id });
          const state = this.tokens.find((t) => bytesEq(t.token, e.token)) as TokenState;
          if (state.hosted) batch.tokens.push({ token: e.token, mapping: { block: b.id, parent: e.last, time: b.block.time, seq: record.seq, source: 'vote' } });
        }
      }
    }
    this.store.apply(batch);
    return batch;
  }

  /** A block of 1–3 entries on distinct tokens: new tokens or transfers of live ones. */
  private nextBlock(): { id: Uint8Array; block: Block } {
    const n = 1 + this.rng.int(3);
    const entries: BlockEntry[] = [];
    const touched: TokenState[] = [];
    for (let i = 0; i < n; i++) {
      const pick = this.tokens.length > 0 && this.rng.chance(0.6) ? this.tokens[this.rng.int(this.tokens.length)] : undefined;
      if (pick !== undefined && !touched.includes(pick)) {
        entries.push({ token: pick.token, last: pick.block, nextKeyHash: id32(0x4b, i + 1) });
        touched.push(pick);
      } else {
        const fresh: TokenState = { token: this.rng.bytes(32), hosted: this.rng.chance(0.8), block: ZERO_ID };
        this.tokens.push(fresh);
        entries.push({ token: fresh.token, last: ZERO_ID, nextKeyHash: id32(0x4b, i + 1) });
        touched.push(fresh);
      }
    }
    this.time += 1 + this.rng.int(50);
    const block: Block = { version: 1, time: this.time, entries };
    const id = blockId(this.blake3, this.networkId, block);
    for (const t of touched) t.block = id;
    return { id, block };
  }
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
