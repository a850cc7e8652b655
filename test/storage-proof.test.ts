/**
 * Proof of storage (PROTOCOL §7): built by walking a store of random tokens, checked by the
 * requester. Every way to bend a proof is refused, a proof is bound to its requester, and a store
 * too small for ten matches gives none.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCrypto } from '../kernels/crypto.js';
import { buildStorageProof, lowBits, proofChunks, verifyStorageProof, type RingWalker } from '../consensus/storage-proof.js';
import type { RingDirection, TokenEntry } from '../store/ring-walk.js';
import type { TokenMapping } from '../store/types.js';
import { SeededRng } from './helpers/seeded-rng.js';

const crypto = await loadCrypto();
const blake3 = crypto.blake3;

/** A sorted array of tokens with `tokensFrom`'s semantics (strictly after, wrapping once). */
class ArrayWalker implements RingWalker {
  readonly keys: string[];
  constructor(readonly entries: Map<string, Uint8Array>) {
    this.keys = [...entries.keys()].sort();
  }
  tokensFrom(token: Uint8Array, direction: RingDirection, limit: number): TokenEntry[] {
    const k = Buffer.from(token).toString('hex');
    const n = this.keys.length;
    let i = this.keys.findIndex((x) => (direction === 'up' ? x > k : x >= k));
    if (i < 0) i = direction === 'up' ? 0 : n;
    const out: TokenEntry[] = [];
    for (let step = 0; step < n && out.length < limit; step++) {
      const j = direction === 'up' ? (i + step) % n : (((i - 1 - step) % n) + n) % n;
      const key = this.keys[j] as string;
      if (key === k) continue;
      const block = this.entries.get(key) as Uint8Array;
      const mapping: TokenMapping = { block, parent: new Uint8Array(32), time: 1, seq: 1, source: 'vote' };
      out.push({ token: Uint8Array.from(Buffer.from(key, 'hex')), mapping });
    }
    return out;
  }
}

function store(seed: number, n: number): { walker: ArrayWalker; tokens: Uint8Array[] } {
  const rng = new SeededRng(seed);
  const entries = new Map<string, Uint8Array>();
  const tokens: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const t = rng.bytes(32);
    tokens.push(t);
    entries.set(Buffer.from(t).toString('hex'), rng.bytes(32));
  }
  return { walker: new ArrayWalker(entries), tokens };
}

const big = store(1, 30_000);
const requester = new Uint8Array(32).fill(7);

test('chunks are the 10-bit little-endian fields of the hash; low bits are the token’s last 10', () => {
  const c = proofChunks(blake3, requester, big.tokens[0] as Uint8Array, new Uint8Array(32));
  assert.equal(c.length, 10);
  for (const x of c) assert.ok(x >= 0 && x < 1024);
  const t = new Uint8Array(32);
  t[30] = 0xff;
  t[31] = 0x01;
  assert.equal(lowBits(t), 0x301);
});

test('a store of 30 000 tokens proves storage of its tokens; the proof verifies for its requester only', () => {
  let built = 0;
  for (const token of big.tokens.slice(0, 20)) {
    const block = big.walker.entries.get(Buffer.from(token).toString('hex')) as Uint8Array;
    const p = buildStorageProof(blake3, big.walker, requester, token, block);
    assert.ok(p !== null);
    built++;
    assert.deepEqual(verifyStorageProof(blake3, requester, token, block, p), { ok: true });
    assert.equal(verifyStorageProof(blake3, new Uint8Array(32).fill(8), token, block, p).ok, false, 'another requester');
    assert.equal(verifyStorageProof(blake3, requester, token, new Uint8Array(32), p).ok, false, 'another block');
  }
  assert.equal(built, 20);
});

test('every bent proof is refused: order, repeats, a changed token, the token itself, a short proof', () => {
  const token = big.tokens[3] as Uint8Array;
  const block = big.walker.entries.get(Buffer.from(token).toString('hex')) as Uint8Array;
  const p = buildStorageProof(blake3, big.walker, requester, token, block);
  assert.ok(p !== null);
  const bad = (q: typeof p, why: string): void => assert.equal(verifyStorageProof(blake3, requester, token, block, q).ok, false, why);
  bad(p.slice(0, 9), 'nine pairs');
  bad([p[1], p[0], ...p.slice(2)] as typeof p, 'the first two swapped');
  bad([...p.slice(0, 5), p[6], p[5], ...p.slice(7)] as typeof p, 'two below swapped');
  bad([...p.slice(0, 9), p[0]] as typeof p, 'a repeat');
  for (let k = 0; k < 10; k++) {
    const t = Uint8Array.from((p[k] as { token: Uint8Array }).token);
    t[31] = (t[31] as number) ^ 0x01;
    bad(p.map((x, i) => (i === k ? { ...x, token: t } : x)), `pair ${k}'s token changed`);
  }
  // A token above with the right low bits but beyond the next one: order still holds, but
  // pairs built around another token do not start at this one.
  const other = buildStorageProof(blake3, big.walker, requester, big.tokens[4] as Uint8Array, big.walker.entries.get(Buffer.from(big.tokens[4] as Uint8Array).toString('hex')) as Uint8Array);
  assert.ok(other !== null);
  bad(other, 'a proof about another token');
});

test('a store too small for ten matches gives no proof', () => {
  const small = store(2, 300);
  const token = small.tokens[0] as Uint8Array;
  assert.equal(buildStorageProof(blake3, small.walker, requester, token, small.walker.entries.get(Buffer.from(token).toString('hex')) as Uint8Array), null);
});
