/**
 * The store test suite, run over every Store implementation:
 *   storeSuite('memory', () => new MemoryStore());                       (test/store-memory.test.ts)
 *   storeSuite('lmdb', () => openLmdbStore(tmp, …), { reopen })          (test/store-lmdb.test.ts)
 * `makeStore` returns a fresh, empty store; `reopen` (optional) closes and reopens the same
 * database, for implementations that persist. Both implementations also provide the additive
 * `tokensFrom` ring walk (store/ring-walk.ts), checked here against a naive sorted-list reference.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Block, BlockSignature } from '../../wire/block.js';
import { compareBytes, makeCommitRecord, ZERO_ID } from '../../wire/block.js';
import type { CommitBatch, CommitHead, Store, StoredBlock, TokenMapping } from '../../store/types.js';
import { StoreError } from '../../store/types.js';
import type { RingDirection, TokenEntry } from '../../store/ring-walk.js';
import { verifyChain } from '../../store/chain.js';
import { testBlake3 } from './noble-crypto.js';
import { SeededRng } from './seeded-rng.js';

/** A store with the additive ring walk (both implementations have it). */
export interface WalkableStore extends Store {
  tokensFrom(token: Uint8Array, direction: RingDirection, limit: number): TokenEntry[];
}

export interface StoreSuiteOptions {
  readonly reopen?: (store: Store) => Store | Promise<Store>;
}

function walkable(s: Store): WalkableStore {
  assert.equal(typeof (s as Partial<WalkableStore>).tokensFrom, 'function', 'store implements tokensFrom');
  return s as WalkableStore;
}

/** Concatenates consecutive single-record batches into one batch. */
export function joinBatches(batches: readonly CommitBatch[]): CommitBatch {
  return {
    commits: batches.flatMap((b) => b.commits),
    blocks: batches.flatMap((b) => b.blocks),
    tokens: batches.flatMap((b) => b.tokens),
    spends: batches.flatMap((b) => b.spends),
  };
}

/** The naive reference for tokensFrom: sort, find, walk with wrap. */
function referenceWalk(sorted: readonly Uint8Array[], start: Uint8Array, direction: RingDirection, limit: number): Uint8Array[] {
  const n = sorted.length;
  const out: Uint8Array[] = [];
  if (direction === 'up') {
    const after = sorted.filter((t) => compareBytes(t, start) > 0);
    const before = sorted.filter((t) => compareBytes(t, start) < 0);
    out.push(...after, ...before);
  } else {
    const below = sorted.filter((t) => compareBytes(t, start) < 0).reverse();
    const above = sorted.filter((t) => compareBytes(t, start) > 0).reverse();
    out.push(...below, ...above);
  }
  return out.slice(0, Math.min(limit, n));
}

function id(n: number): Uint8Array {
  const b = new Uint8Array(32);
  b[0] = n >> 8;
  b[31] = n & 0xff;
  return b;
}

function start0(): Uint8Array {
  return new Uint8Array(32);
}

function randomId(rng: SeededRng): Uint8Array {
  return rng.bytes(32);
}

function block(token: Uint8Array, last: Uint8Array, time: number): Block {
  return { version: 1, time, entries: [{ token, last, nextKeyHash: id(999) }] };
}

const SIG: BlockSignature = { index: 0, publicKey: id(7), signature: new Uint8Array(64).fill(9) };

/** A batch committing `blocks` as one record on top of `head`. */
export function batchOn(head: CommitHead, blocks: { id: Uint8Array; block: Block; hosted: boolean }[], time = 1_000): CommitBatch {
  const record = makeCommitRecord(testBlake3, { seq: head.seq + 1, prevId: head.id, time, blockIds: blocks.map((b) => b.id) });
  const stored: StoredBlock[] = blocks.map((b) => ({ id: b.id, block: b.block, signatures: b.block.entries.some((e) => e.last.some((x) => x !== 0)) ? [SIG] : [], seq: record.seq }));
  return {
    commits: [record],
    blocks: stored,
    tokens: blocks.flatMap((b) =>
      b.hosted ? b.block.entries.map((e) => ({ token: e.token, mapping: { block: b.id, parent: e.last, time: b.block.time, seq: record.seq, source: 'vote' as const } })) : [],
    ),
    spends: blocks.flatMap((b) => b.block.entries.map((e) => ({ token: e.token, last: e.last, block: b.id }))),
  };
}

export function storeSuite(name: string, makeStore: () => Store | Promise<Store>, opts: StoreSuiteOptions = {}): void {
  describe(`store suite: ${name}`, () => {
    test('an empty store has head seq 0 with an all-zero id and knows nothing', async () => {
      const s = await makeStore();
      assert.equal(s.head().seq, 0);
      assert.deepEqual(s.head().id, ZERO_ID);
      assert.equal(s.token(id(1)), undefined);
      assert.equal(s.block(id(1)), undefined);
      assert.equal(s.hasBlock(id(1)), false);
      assert.equal(s.spend(id(1), ZERO_ID), undefined);
      assert.equal(s.commit(0), undefined);
      assert.equal(s.commit(1), undefined);
      s.close();
    });

    test('a batch stores blocks, mappings, spends and a linked commit record', async () => {
      const s = await makeStore();
      const t = id(1);
      const b1 = { id: id(100), block: block(t, ZERO_ID, 10), hosted: true };
      const batch = batchOn(s.head(), [b1]);
      s.apply(batch);
      const rec = batch.commits[0]!;
      assert.equal(s.head().seq, 1);
      assert.deepEqual(s.head().id, rec.id);
      assert.deepEqual(s.commit(1)?.blockIds, [b1.id]);
      assert.deepEqual(s.commit(1)?.prevId, ZERO_ID);
      assert.equal(s.hasBlock(b1.id), true);
      assert.deepEqual(s.block(b1.id)?.block, b1.block);
      assert.equal(s.block(b1.id)?.seq, 1);
      assert.deepEqual(s.token(t)?.block, b1.id);
      assert.deepEqual(s.token(t)?.parent, ZERO_ID);
      assert.equal(s.token(t)?.seq, 1);
      assert.equal(s.token(t)?.time, 10);
      assert.deepEqual(s.spend(t, ZERO_ID), b1.id);

      // Extend: the mapping moves, the old block stays retrievable, the chain links.
      const b2 = { id: id(101), block: block(t, b1.id, 20), hosted: true };
      const batch2 = batchOn(s.head(), [b2], 2_000);
      s.apply(batch2);
      assert.equal(s.head().seq, 2);
      assert.deepEqual(s.commit(2)?.prevId, rec.id);
      assert.deepEqual(s.token(t)?.block, b2.id);
      assert.deepEqual(s.token(t)?.parent, b1.id);
      assert.deepEqual(s.block(b2.id)?.signatures, [SIG]);
      assert.equal(s.hasBlock(b1.id), true);
      assert.deepEqual(s.spend(t, b1.id), b2.id);
      s.close();
    });

    test('a block on a token the peer does not host is stored with its spends but no mapping', async () => {
      const s = await makeStore();
      const b = { id: id(200), block: block(id(2), ZERO_ID, 10), hosted: false };
      s.apply(batchOn(s.head(), [b]));
      assert.equal(s.hasBlock(b.id), true);
      assert.equal(s.token(id(2)), undefined);
      assert.deepEqual(s.spend(id(2), ZERO_ID), b.id);
      s.close();
    });

    test('several records in one batch apply in order', async () => {
      const s = await makeStore();
      const a = { id: id(300), block: block(id(3), ZERO_ID, 10), hosted: true };
      const b = { id: id(301), block: block(id(4), ZERO_ID, 10), hosted: true };
      const first = batchOn(s.head(), [a]);
      const r1 = first.commits[0]!;
      const second = batchOn({ seq: r1.seq, id: r1.id }, [b]);
      s.apply({
        commits: [...first.commits, ...second.commits],
        blocks: [...first.blocks, ...second.blocks],
        tokens: [...first.tokens, ...second.tokens],
        spends: [...first.spends, ...second.spends],
      });
      assert.equal(s.head().seq, 2);
      assert.equal(s.block(b.id)?.seq, 2);
      s.close();
    });

    test('a batch that does not extend the head writes nothing', async () => {
      const s = await makeStore();
      const good = { id: id(400), block: block(id(5), ZERO_ID, 10), hosted: true };
      s.apply(batchOn(s.head(), [good]));
      const head = s.head();
      const bad = { id: id(401), block: block(id(6), ZERO_ID, 10), hosted: true };
      // Wrong seq.
      const gap = batchOn({ seq: head.seq + 1, id: head.id }, [bad]);
      assert.throws(() => s.apply(gap), (e: unknown) => e instanceof StoreError && e.code === 'seq-gap');
      // Wrong prev id.
      const fork = batchOn({ seq: head.seq, id: id(77) }, [bad]);
      assert.throws(() => s.apply(fork), (e: unknown) => e instanceof StoreError && e.code === 'prev-mismatch');
      // A block not listed in the record.
      const stray = batchOn(head, [bad]);
      const strayBatch = { ...stray, commits: [makeCommitRecord(testBlake3, { seq: head.seq + 1, prevId: head.id, time: 5, blockIds: [] })] };
      assert.throws(() => s.apply(strayBatch), (e: unknown) => e instanceof StoreError && e.code === 'block-not-in-commit');
      // A block stored twice.
      const again = batchOn(head, [good]);
      assert.throws(() => s.apply(again), (e: unknown) => e instanceof StoreError && e.code === 'block-exists');
      // An empty batch.
      assert.throws(() => s.apply({ commits: [], blocks: [], tokens: [], spends: [] }), (e: unknown) => e instanceof StoreError && e.code === 'empty-batch');
      // Nothing of any of them landed.
      assert.deepEqual(s.head(), head);
      assert.equal(s.hasBlock(bad.id), false);
      assert.equal(s.token(id(6)), undefined);
      assert.equal(s.spend(id(6), ZERO_ID), undefined);
      assert.equal(s.commit(2), undefined);
      s.close();
    });

    test('a failing record late in a multi-record batch leaves nothing of the earlier ones', async () => {
      const s = await makeStore();
      s.apply(batchOn(s.head(), [{ id: id(700), block: block(id(70), ZERO_ID, 10), hosted: true }]));
      const head = s.head();
      const a = batchOn(head, [{ id: id(701), block: block(id(71), ZERO_ID, 10), hosted: true }]);
      const r1 = a.commits[0]!;
      // Second record links to a wrong id: prev-mismatch after a valid first record.
      const bad = batchOn({ seq: r1.seq, id: id(99) }, [{ id: id(702), block: block(id(72), ZERO_ID, 10), hosted: true }]);
      assert.throws(() => s.apply(joinBatches([a, bad])), (e: unknown) => e instanceof StoreError && e.code === 'prev-mismatch');
      // Second record re-stores a block committed earlier: block-exists after a valid first record.
      const dup = batchOn({ seq: r1.seq, id: r1.id }, [{ id: id(700), block: block(id(73), ZERO_ID, 10), hosted: true }]);
      assert.throws(() => s.apply(joinBatches([a, dup])), (e: unknown) => e instanceof StoreError && e.code === 'block-exists');
      assert.deepEqual(s.head(), head);
      for (const n of [701, 702]) assert.equal(s.hasBlock(id(n)), false);
      for (const n of [71, 72, 73]) {
        assert.equal(s.token(id(n)), undefined);
        assert.equal(s.spend(id(n), ZERO_ID), undefined);
      }
      assert.equal(s.commit(2), undefined);
      // The store still accepts the valid part afterwards.
      s.apply(a);
      assert.equal(s.head().seq, 2);
      assert.deepEqual(verifyChain(s, testBlake3), { ok: true, head: s.head(), records: 2, blocks: 2 });
      s.close();
    });

    test('full-size blocks, sync mappings and extreme times round-trip exactly', async () => {
      const s = await makeStore();
      const rng = new SeededRng(0x5701);
      // A 6-entry block updating six tokens: six signatures, the largest stored value (§4).
      const parents = Array.from({ length: 6 }, () => ({ id: randomId(rng), block: block(randomId(rng), ZERO_ID, 1), hosted: true }));
      s.apply(batchOn(s.head(), parents));
      const entries = parents.map((p) => ({ token: p.block.entries[0]!.token, last: p.id, nextKeyHash: randomId(rng) }));
      const big: Block = { version: 1, time: Number.MAX_SAFE_INTEGER, entries };
      const sigs: BlockSignature[] = entries.map((_, index) => ({ index, publicKey: randomId(rng), signature: rng.bytes(64) }));
      const bigId = randomId(rng);
      const batch = batchOn(s.head(), [{ id: bigId, block: big, hosted: false }], Number.MAX_SAFE_INTEGER);
      const synced: TokenMapping = { block: bigId, parent: parents[0]!.id, time: Number.MAX_SAFE_INTEGER, seq: 2, source: 'sync' };
      s.apply({ ...batch, blocks: [{ ...batch.blocks[0]!, signatures: sigs }], tokens: [{ token: entries[0]!.token, mapping: synced }] });
      const got = s.block(bigId);
      assert.deepEqual(got?.block, big);
      assert.deepEqual(got?.signatures, sigs);
      assert.deepEqual(s.token(entries[0]!.token), synced);
      assert.equal(s.commit(2)?.time, Number.MAX_SAFE_INTEGER);
      for (const e of entries) assert.deepEqual(s.spend(e.token, e.last), bigId);
      assert.equal(verifyChain(s, testBlake3).ok, true);
      s.close();
    });

    test('a tick-sized batch (300 blocks in 10 records) applies at once and verifies', async () => {
      const s = await makeStore();
      const rng = new SeededRng(0x5702);
      let head = s.head();
      const parts: CommitBatch[] = [];
      for (let r = 0; r < 10; r++) {
        const part = batchOn(head, Array.from({ length: 30 }, () => ({ id: randomId(rng), block: block(randomId(rng), ZERO_ID, 5), hosted: rng.chance(0.5) })), 5);
        parts.push(part);
        head = { seq: part.commits[0]!.seq, id: part.commits[0]!.id };
      }
      s.apply(joinBatches(parts));
      assert.deepEqual(s.head(), head);
      const v = verifyChain(s, testBlake3);
      assert.deepEqual(v, { ok: true, head, records: 10, blocks: 300 });
      for (const p of parts) for (const t of p.tokens) assert.deepEqual(s.token(t.token), t.mapping);
      s.close();
    });

    test('verifyChain walks an empty and a growing chain, and from a given seq', async () => {
      const s = await makeStore();
      assert.deepEqual(verifyChain(s, testBlake3), { ok: true, head: s.head(), records: 0, blocks: 0 });
      for (let i = 0; i < 5; i++) s.apply(batchOn(s.head(), [{ id: id(800 + i), block: block(id(80 + i), ZERO_ID, 10), hosted: true }], 1_000 + i));
      assert.deepEqual(verifyChain(s, testBlake3), { ok: true, head: s.head(), records: 5, blocks: 5 });
      assert.deepEqual(verifyChain(s, testBlake3, { fromSeq: 4 }), { ok: true, head: s.head(), records: 2, blocks: 2 });
      assert.deepEqual(verifyChain(s, testBlake3, { blocks: false }), { ok: true, head: s.head(), records: 5, blocks: 0 });
      s.close();
    });

    test('tokensFrom walks stored tokens in big-endian ring order, both ways, with wrap', async () => {
      const s = walkable(await makeStore());
      const rng = new SeededRng(0x5703);
      assert.deepEqual(s.tokensFrom(randomId(rng), 'up', 10), []);
      // Random tokens plus adversarial ones: high first byte (unsigned order), the ring's ends,
      // and neighbours differing only in the last byte.
      const tokens: Uint8Array[] = Array.from({ length: 120 }, () => randomId(rng));
      const edge = (fill: number, last: number): Uint8Array => {
        const t = new Uint8Array(32).fill(fill);
        t[31] = last;
        return t;
      };
      tokens.push(edge(0, 0), edge(0, 1), edge(0xff, 0xff), edge(0xff, 0xfe), edge(0x7f, 0xff), edge(0x80, 0));
      let head = s.head();
      for (let i = 0; i < tokens.length; i += 25) {
        const chunk = tokens.slice(i, i + 25).map((t) => ({ id: randomId(rng), block: block(t, ZERO_ID, 7), hosted: true }));
        const b = batchOn(head, chunk);
        s.apply(b);
        head = s.head();
      }
      // A later batch moves some mappings: the walk returns the current ones.
      const moved = tokens.slice(0, 3).map((t) => ({ id: randomId(rng), block: block(t, s.token(t)!.block, 8), hosted: true }));
      s.apply(batchOn(s.head(), moved));
      const sorted = [...tokens].sort(compareBytes);
      const starts = [...tokens.slice(0, 20), ...Array.from({ length: 20 }, () => randomId(rng)), edge(0, 0), edge(0xff, 0xff), new Uint8Array(32), new Uint8Array(32).fill(0xff)];
      for (const start of starts) {
        for (const direction of ['up', 'down'] as const) {
          for (const limit of [0, 1, 5, 200]) {
            const got = s.tokensFrom(start, direction, limit);
            const want = referenceWalk(sorted, start, direction, limit);
            assert.deepEqual(got.map((e) => e.token), want, `walk ${direction} limit ${limit}`);
            for (const e of got) assert.deepEqual(e.mapping, s.token(e.token));
          }
        }
      }
      // A walk continued from its last token covers the ring in pages.
      const pages: Uint8Array[] = [];
      let from = sorted[0]!;
      for (let guard = 0; guard < sorted.length; guard++) {
        const page = s.tokensFrom(from, 'up', 7);
        const back = page.findIndex((e) => compareBytes(e.token, sorted[0]!) === 0);
        pages.push(...(back >= 0 ? page.slice(0, back) : page).map((e) => e.token));
        if (back >= 0) break;
        from = page[page.length - 1]!.token;
      }
      assert.deepEqual(pages, sorted.slice(1));
      assert.throws(() => s.tokensFrom(new Uint8Array(31), 'up', 1), RangeError);
      assert.throws(() => s.tokensFrom(start0(), 'up', -1), RangeError);
      s.close();
    });

    test('values read back are not aliased to the caller’s buffers', async () => {
      const s = await makeStore();
      const b = { id: id(500), block: block(id(8), ZERO_ID, 10), hosted: true };
      const batch = batchOn(s.head(), [b]);
      s.apply(batch);
      const head = s.head();
      (batch.commits[0]!.id as Uint8Array).fill(0xaa);
      (batch.spends[0]!.block as Uint8Array).fill(0xbb);
      assert.deepEqual(s.head(), head);
      assert.deepEqual(s.spend(id(8), ZERO_ID), id(500));
      s.close();
    });

    test('a closed store refuses every call', async () => {
      const s = await makeStore();
      s.close();
      assert.throws(() => s.head(), (e: unknown) => e instanceof StoreError && e.code === 'closed');
      assert.throws(() => s.token(id(1)), (e: unknown) => e instanceof StoreError && e.code === 'closed');
    });

    if (opts.reopen !== undefined) {
      const reopen = opts.reopen;
      test('everything applied survives a reopen', async () => {
        let s = await makeStore();
        const b = { id: id(600), block: block(id(9), ZERO_ID, 10), hosted: true };
        s.apply(batchOn(s.head(), [b]));
        const head = s.head();
        s = await reopen(s);
        assert.deepEqual(s.head(), head);
        assert.deepEqual(s.block(b.id)?.block, b.block);
        assert.deepEqual(s.token(id(9))?.block, b.id);
        assert.deepEqual(s.spend(id(9), ZERO_ID), b.id);
        assert.deepEqual(s.commit(1)?.id, head.id);
        s.close();
      });

      test('a chain, mappings and the ring survive a reopen, and the chain extends after it', async () => {
        let s = await makeStore();
        const rng = new SeededRng(0x5704);
        const tokens: Uint8Array[] = [];
        for (let i = 0; i < 6; i++) {
          const blocks = Array.from({ length: 1 + (i % 4) }, () => {
            const t = randomId(rng);
            tokens.push(t);
            return { id: randomId(rng), block: block(t, ZERO_ID, 10 + i), hosted: true };
          });
          s.apply(batchOn(s.head(), blocks, 2_000 + i));
        }
        const head = s.head();
        const walk = walkable(s).tokensFrom(tokens[0]!, 'down', 50);
        s = await reopen(s);
        assert.deepEqual(s.head(), head);
        assert.deepEqual(verifyChain(s, testBlake3), { ok: true, head, records: 6, blocks: tokens.length });
        assert.deepEqual(walkable(s).tokensFrom(tokens[0]!, 'down', 50), walk);
        s.apply(batchOn(s.head(), [{ id: randomId(rng), block: block(randomId(rng), ZERO_ID, 30), hosted: true }]));
        s = await reopen(s);
        assert.equal(s.head().seq, 7);
        assert.equal(verifyChain(s, testBlake3).ok, true);
        s.close();
      });
    }
  });
}
