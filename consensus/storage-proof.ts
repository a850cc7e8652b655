/**
 * Proof of storage (PROTOCOL §7; EcNode's aligned storage proof, ../research/ecnode-digest.md §5).
 *
 *   h = BLAKE3(requester address ‖ token ‖ block), block = the responder's mapping of token
 *   chunk k = bits [10k, 10k + 10) of h read as a little-endian bit string, k = 0 … 9
 *   walking the responder's stored tokens upward from the token (strictly above, wrapping), the
 *   first whose low 10 bits equal chunk 0, then from there the first matching chunk 1, … chunk 4;
 *   downward likewise for chunks 5 … 9. The proof is the 10 (token, block) pairs found.
 *
 * A responder that does not hold the tokens around the one asked for cannot answer: each match
 * needs about 1 024 stored tokens on average. The requester's address in h makes a proof useless
 * for anyone else. "Low 10 bits" are the last 10 bits of the big-endian token: tokens and peer
 * addresses are hashes, so they are uniform there.
 *
 * The verifier checks what it can without the responder's store (EcNode checked the chunks only):
 * each chunk, that the first five are strictly increasing going up from the token and the last
 * five going down (ring distance, wrapping), and that all ten are distinct and not the token.
 * Pure: the store is reached through `tokensFrom`.
 */
import type { Blake3Kernel } from '../kernels/types.js';
import { compare32, equal32 } from './keys.js';
import type { ProofPair } from '../wire/msg-answer.js';
import type { RingDirection, TokenEntry } from '../store/ring-walk.js';

export const STORAGE_PROOF = {
  pairs: 10,
  chunkBits: 10,
  /** Stored tokens read per direction before giving up (about 5 × 1 024 are needed on average). */
  maxWalk: 16_384,
  /** Tokens read per store call. */
  batch: 512,
} as const;

export interface RingWalker {
  tokensFrom(token: Uint8Array, direction: RingDirection, limit: number): TokenEntry[];
}

/** The ten 10-bit chunks of BLAKE3(requester ‖ token ‖ block). */
export function proofChunks(blake3: Blake3Kernel, requester: Uint8Array, token: Uint8Array, block: Uint8Array): number[] {
  const buf = new Uint8Array(96);
  buf.set(requester, 0);
  buf.set(token, 32);
  buf.set(block, 64);
  const h = blake3.hash(buf);
  const out: number[] = [];
  for (let k = 0; k < STORAGE_PROOF.pairs; k++) {
    const bit = k * STORAGE_PROOF.chunkBits;
    const i = bit >> 3;
    out.push(((((h[i + 1] as number) << 8) | (h[i] as number)) >> (bit & 7)) & 0x3ff);
  }
  return out;
}

/** The last 10 bits of a big-endian token. */
export function lowBits(token: Uint8Array): number {
  return (((token[30] as number) & 0x03) << 8) | (token[31] as number);
}

/** Walks one direction matching `chunks` in order, passing over `taken`; null when the walk ends first. */
function walk(store: RingWalker, token: Uint8Array, direction: RingDirection, chunks: readonly number[], taken: readonly ProofPair[] = []): ProofPair[] | null {
  const out: ProofPair[] = [];
  let from = token;
  let read = 0;
  while (out.length < chunks.length && read < STORAGE_PROOF.maxWalk) {
    const batch = store.tokensFrom(from, direction, STORAGE_PROOF.batch);
    if (batch.length === 0) return null;
    for (const e of batch) {
      read++;
      if (equal32(e.token, token)) return null; // wrapped all the way round
      if (lowBits(e.token) === chunks[out.length] && !taken.some((p) => equal32(p.token, e.token))) {
        out.push({ token: e.token, block: e.mapping.block });
        if (out.length === chunks.length) return out;
      }
    }
    from = (batch[batch.length - 1] as TokenEntry).token;
    if (batch.length < STORAGE_PROOF.batch) return null; // the store ended (tokensFrom wraps once)
  }
  return null;
}

/** The proof for `requester` about `token` mapped to `block`, or null when the store cannot give one. */
export function buildStorageProof(blake3: Blake3Kernel, store: RingWalker, requester: Uint8Array, token: Uint8Array, block: Uint8Array): ProofPair[] | null {
  const chunks = proofChunks(blake3, requester, token, block);
  const up = walk(store, token, 'up', chunks.slice(0, 5));
  if (up === null) return null;
  // In a small store the walk down can reach a token the walk up took; a proof names ten distinct.
  const down = walk(store, token, 'down', chunks.slice(5), up);
  if (down === null) return null;
  return [...up, ...down];
}

/** A store that finds the next token with given low bits directly (consensus/genesis.ts). */
export interface MatchWalker {
  /** The first stored token strictly beyond `from` in `direction` with low 10 bits `low`, wrapping; null when none. */
  nextMatch(from: Uint8Array, direction: RingDirection, low: number): ProofPair | null;
}

/** As `buildStorageProof`, over a store that finds matches directly. */
export function buildStorageProofByMatch(blake3: Blake3Kernel, store: MatchWalker, requester: Uint8Array, token: Uint8Array, block: Uint8Array): ProofPair[] | null {
  const chunks = proofChunks(blake3, requester, token, block);
  const out: ProofPair[] = [];
  for (const [direction, from, to] of [['up', 0, 5], ['down', 5, 10]] as const) {
    let at = token;
    for (let k = from; k < to; k++) {
      const p = store.nextMatch(at, direction, chunks[k] as number);
      // Past the token again (a wrap), or a token the other direction took: no proof.
      if (p === null || equal32(p.token, token) || passes(token, at, p.token, direction) || out.some((q) => equal32(q.token, p.token))) return null;
      out.push(p);
      at = p.token;
    }
  }
  return out;
}

/** Whether stepping from `at` to `next` in `direction` passes over (or lands on) `token`: the walk wrapped. */
function passes(token: Uint8Array, at: Uint8Array, next: Uint8Array, direction: RingDirection): boolean {
  if (at === token) return false;
  const a = direction === 'up' ? upDistance(token, at) : upDistance(at, token);
  const b = direction === 'up' ? upDistance(token, next) : upDistance(next, token);
  return compare32(b, a) <= 0;
}

/** (x − t) mod 2^256, big-endian: how far x is going up from t. */
function upDistance(t: Uint8Array, x: Uint8Array): Uint8Array {
  const d = new Uint8Array(32);
  let borrow = 0;
  for (let i = 31; i >= 0; i--) {
    const v = (x[i] as number) - (t[i] as number) - borrow;
    borrow = v < 0 ? 1 : 0;
    d[i] = v & 0xff;
  }
  return d;
}

export type StorageProofCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Checks a proof for `requester` about `token` mapped to `block`. Never throws. */
export function verifyStorageProof(blake3: Blake3Kernel, requester: Uint8Array, token: Uint8Array, block: Uint8Array, proof: readonly ProofPair[]): StorageProofCheck {
  if (proof.length !== STORAGE_PROOF.pairs) return { ok: false, reason: `a proof has ${STORAGE_PROOF.pairs} pairs, this one ${proof.length}` };
  const chunks = proofChunks(blake3, requester, token, block);
  const zero: Uint8Array = new Uint8Array(32);
  let lastUp = zero;
  let lastDown = zero;
  for (const [k, p] of proof.entries()) {
    if (lowBits(p.token) !== chunks[k]) return { ok: false, reason: `pair ${k}: its token's low bits are not chunk ${k}` };
    if (proof.some((q, j) => j < k && equal32(q.token, p.token)) || equal32(p.token, token)) return { ok: false, reason: `pair ${k}: a token repeated, or the token asked about` };
    if (k < 5) {
      const d = upDistance(token, p.token);
      if (compare32(d, lastUp) <= 0) return { ok: false, reason: `pair ${k}: not above pair ${k - 1} going up from the token` };
      lastUp = d;
    } else {
      const d = upDistance(p.token, token);
      if (compare32(d, lastDown) <= 0) return { ok: false, reason: `pair ${k}: not below pair ${k - 1} going down from the token` };
      lastDown = d;
    }
  }
  return { ok: true };
}
