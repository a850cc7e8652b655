/**
 * The store test suite, run over every Store implementation (memory now, LMDB later):
 *   storeSuite('memory', () => new MemoryStore());
 * `makeStore` returns a fresh, empty store; `reopen` (optional) closes and reopens the same
 * database, for implementations that persist.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Block, BlockSignature } from '../../wire/block.js';
import { makeCommitRecord, ZERO_ID } from '../../wire/block.js';
import type { CommitBatch, CommitHead, Store, StoredBlock } from '../../store/types.js';
import { StoreError } from '../../store/types.js';
import { testBlake3 } from './noble-crypto.js';

export interface StoreSuiteOptions {
  readonly reopen?: (store: Store) => Store | Promise<Store>;
}

function id(n: number): Uint8Array {
  const b = new Uint8Array(32);
  b[0] = n >> 8;
  b[31] = n & 0xff;
  return b;
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
    }
  });
}
