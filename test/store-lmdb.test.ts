import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { LMDB_DURABILITY_OPTIONS, LmdbStore, openLmdbStore, STORE_DB_NAMES, StoreOpenError } from '../store/lmdb.js';
import { MAX_BLOCKS_PER_COMMIT_RECORD, seqKey } from '../store/lmdb-codec.js';
import { verifyChain } from '../store/chain.js';
import { StoreError } from '../store/types.js';
import type { Store } from '../store/types.js';
import { makeCommitRecord, ZERO_ID } from '../wire/block.js';
import { batchOn, storeSuite } from './helpers/store-suite.js';
import { testBlake3 } from './helpers/noble-crypto.js';
import { SeededRng } from './helpers/seeded-rng.js';

const NET = 0x6563_6400n;
const root = mkdtempSync(join(tmpdir(), 'ecd-store-lmdb-'));
let dirs = 0;
after(() => rmSync(root, { recursive: true, force: true }));

function freshDir(): string {
  return join(root, `db${dirs++}`);
}

storeSuite('lmdb', () => openLmdbStore(freshDir(), { networkId: NET }), {
  reopen: (s: Store) => {
    const path = (s as LmdbStore).path;
    s.close();
    return openLmdbStore(path, { networkId: NET });
  },
});

function tokenBlock(rng: SeededRng, hosted = true) {
  return { id: rng.bytes(32), block: { version: 1, time: 10, entries: [{ token: rng.bytes(32), last: ZERO_ID, nextKeyHash: rng.bytes(32) }] }, hosted };
}

/** Writes raw bytes under the store's feet (the store must be closed). */
function tamper(path: string, db: string, key: Uint8Array, value: Uint8Array | null): void {
  const env = open<Uint8Array, Uint8Array>(path, { ...LMDB_DURABILITY_OPTIONS, encoding: 'binary', keyEncoding: 'binary', maxDbs: 16 });
  const d = env.openDB<Uint8Array, Uint8Array>(db, { encoding: 'binary', keyEncoding: 'binary' });
  env.transactionSync(() => {
    if (value === null) d.removeSync(key);
    else d.putSync(key, value);
  });
  void env.close();
}

function openError(path: string, networkId = NET): StoreOpenError {
  try {
    openLmdbStore(path, { networkId }).close();
  } catch (e) {
    assert.ok(e instanceof StoreOpenError, `expected StoreOpenError, got ${String(e)}`);
    return e;
  }
  assert.fail('the store opened');
}

describe('store: lmdb specifics', () => {
  test('a new environment has the named databases, schema 1 and the network id', () => {
    const path = freshDir();
    const s = openLmdbStore(path, { networkId: NET });
    s.close();
    const env = open<Uint8Array, Uint8Array>(path, { ...LMDB_DURABILITY_OPTIONS, encoding: 'binary', keyEncoding: 'binary', maxDbs: 16 });
    const names = [...env.getKeys()].map((k) => Buffer.from(k as Uint8Array).toString().replace(/\0$/, ''));
    for (const n of STORE_DB_NAMES) assert.ok(names.includes(n), `db ${n} exists`);
    const meta = env.openDB<Uint8Array, Uint8Array>('meta', { encoding: 'binary', keyEncoding: 'binary' });
    assert.deepEqual([...meta.getBinary(Buffer.from('schema'))!], [0, 0, 0, 1]);
    assert.equal(Buffer.from(meta.getBinary(Buffer.from('network'))!).readBigUInt64BE(0), NET);
    void env.close();
  });

  test('a newer or older schema, a missing schema and another network are refused with typed errors', () => {
    const path = freshDir();
    const s = openLmdbStore(path, { networkId: NET });
    s.apply(batchOn(s.head(), [tokenBlock(new SeededRng(1))]));
    s.close();
    const net = openError(path, NET + 1n);
    assert.equal(net.code, 'network-mismatch');
    assert.equal(net.found, NET);
    tamper(path, 'meta', Buffer.from('schema'), Uint8Array.of(0, 0, 0, 2));
    const newer = openError(path);
    assert.equal(newer.code, 'schema-newer');
    assert.equal(newer.found, 2);
    tamper(path, 'meta', Buffer.from('schema'), Uint8Array.of(0, 0, 0, 0));
    assert.equal(openError(path).code, 'schema-older');
    tamper(path, 'meta', Buffer.from('schema'), null);
    assert.equal(openError(path).code, 'schema-missing');
    tamper(path, 'meta', Buffer.from('schema'), Uint8Array.of(0, 0, 0, 1));
    openLmdbStore(path, { networkId: NET }).close();
  });

  test('a head that does not name the last record is refused as corrupt on open', () => {
    const path = freshDir();
    const s = openLmdbStore(path, { networkId: NET });
    const rng = new SeededRng(2);
    for (let i = 0; i < 3; i++) s.apply(batchOn(s.head(), [tokenBlock(rng)]));
    s.close();
    tamper(path, 'commits', seqKey(3), null);
    const e = openError(path);
    assert.equal(e.code, 'corrupt');
  });

  test('verifyChain finds a tampered record, a broken link and a missing block', () => {
    const path = freshDir();
    let s = openLmdbStore(path, { networkId: NET });
    const rng = new SeededRng(3);
    for (let i = 0; i < 4; i++) s.apply(batchOn(s.head(), [tokenBlock(rng), tokenBlock(rng, false)], 100 + i));
    const r2 = s.commit(2)!;
    const r3 = s.commit(3)!;
    s.close();
    const raw = (): Uint8Array => {
      const env = open<Uint8Array, Uint8Array>(path, { ...LMDB_DURABILITY_OPTIONS, encoding: 'binary', keyEncoding: 'binary', maxDbs: 16 });
      const v = Uint8Array.from(env.openDB<Uint8Array, Uint8Array>('commits', { encoding: 'binary', keyEncoding: 'binary' }).getBinary(seqKey(2))!);
      void env.close();
      return v;
    };
    const good = raw();
    // Record 2's time changed: its stored id no longer hashes its fields.
    const bad = Uint8Array.from(good);
    bad[64 + 7]! ^= 1;
    tamper(path, 'commits', seqKey(2), bad);
    s = openLmdbStore(path, { networkId: NET });
    assert.deepEqual(pick(verifyChain(s, testBlake3)), { ok: false, code: 'bad-id', seq: 2 });
    s.close();
    // Record 3 replaced by a well-formed record that links elsewhere.
    tamper(path, 'commits', seqKey(2), good);
    const forged = makeCommitRecord(testBlake3, { seq: 3, prevId: r3.id, time: r3.time, blockIds: r3.blockIds });
    const env = open<Uint8Array, Uint8Array>(path, { ...LMDB_DURABILITY_OPTIONS, encoding: 'binary', keyEncoding: 'binary', maxDbs: 16 });
    const commits = env.openDB<Uint8Array, Uint8Array>('commits', { encoding: 'binary', keyEncoding: 'binary' });
    const v3 = Uint8Array.from(commits.getBinary(seqKey(3))!);
    void env.close();
    v3.set(forged.id, 0);
    v3.set(forged.prevId, 32);
    tamper(path, 'commits', seqKey(3), v3);
    s = openLmdbStore(path, { networkId: NET });
    assert.deepEqual(pick(verifyChain(s, testBlake3)), { ok: false, code: 'bad-link', seq: 3 });
    s.close();
    // Restore record 3 (its original bytes have r2.id as prev), then drop one of record 2's blocks.
    v3.set(makeCommitRecord(testBlake3, { seq: 3, prevId: r2.id, time: r3.time, blockIds: r3.blockIds }).id, 0);
    v3.set(r2.id, 32);
    tamper(path, 'commits', seqKey(3), v3);
    tamper(path, 'blocks', r2.blockIds[1]!, null);
    s = openLmdbStore(path, { networkId: NET });
    assert.deepEqual(pick(verifyChain(s, testBlake3)), { ok: false, code: 'missing-block', seq: 2 });
    assert.equal(verifyChain(s, testBlake3, { blocks: false }).ok, true);
    s.close();
  });

  test('apply is one durable write transaction; a rejected or malformed batch commits none', () => {
    const s = openLmdbStore(freshDir(), { networkId: NET });
    const rng = new SeededRng(4);
    const before = s.stats();
    s.apply(batchOn(s.head(), [tokenBlock(rng), tokenBlock(rng), tokenBlock(rng)]));
    const one = s.stats();
    assert.equal(one.writeTxns - before.writeTxns, 1);
    // 1 record + 3 blocks + 3 tokens + 3 spends + head.
    assert.equal(one.writeOps - before.writeOps, 11);
    assert.ok(one.writeBytes > 3 * 81 + 3 * (8 + 107));
    const head = s.head();
    assert.throws(() => s.apply(batchOn({ seq: head.seq + 5, id: head.id }, [tokenBlock(rng)])), (e: unknown) => e instanceof StoreError && e.code === 'seq-gap');
    // Malformed values are caller bugs: RangeError before the transaction starts.
    const short = batchOn(head, [tokenBlock(rng)]);
    assert.throws(() => s.apply({ ...short, tokens: [{ ...short.tokens[0]!, token: new Uint8Array(31) }] }), RangeError);
    const tooMany = makeCommitRecord(testBlake3, { seq: head.seq + 1, prevId: head.id, time: 1, blockIds: Array.from({ length: MAX_BLOCKS_PER_COMMIT_RECORD + 1 }, () => ZERO_ID) });
    assert.throws(() => s.apply({ commits: [tooMany], blocks: [], tokens: [], spends: [] }), RangeError);
    const two = s.stats();
    assert.equal(two.writeTxns, one.writeTxns);
    assert.equal(two.writeTxnsAborted - one.writeTxnsAborted, 1);
    assert.deepEqual(s.head(), head);
    assert.ok(two.reads > 0 && two.readBytes > 0 && two.writeTxnSeconds > 0);
    s.close();
  });

  test('durability options are the synced LMDB defaults, with overlappingSync off', () => {
    assert.deepEqual({ ...LMDB_DURABILITY_OPTIONS }, { overlappingSync: false, noSync: false, noMetaSync: false, mapAsync: false, useWritemap: false });
  });

  test('daemon meta values persist; the store’s own names are refused', () => {
    const path = freshDir();
    let s = openLmdbStore(path, { networkId: NET });
    s.metaPut('identity', Uint8Array.of(1, 2, 3));
    assert.throws(() => s.metaPut('head', Uint8Array.of(0)), RangeError);
    assert.throws(() => s.metaPut('schema', Uint8Array.of(0)), RangeError);
    s.close();
    s = openLmdbStore(path, { networkId: NET });
    assert.deepEqual(s.metaGet('identity'), Uint8Array.of(1, 2, 3));
    assert.equal(s.metaGet('profile'), undefined);
    assert.equal(s.head().seq, 0);
    assert.ok(s.spaceInfo().usedBytes > 0);
    s.close();
  });

  test('every apply is fdatasync’ed before it returns (strace, skipped where unavailable)', (t) => {
    const probe = spawnSync('strace', ['-f', '-qq', '-e', 'trace=none', 'true'], { encoding: 'utf8' });
    if (probe.error !== undefined || probe.status !== 0) {
      t.skip('strace is not available or ptrace is not permitted');
      return;
    }
    const path = freshDir();
    const log = join(root, `strace-${dirs}.log`);
    const child = fileURLToPath(new URL('./helpers/store-crash-child.js', import.meta.url));
    const n = 20;
    const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=fdatasync,fsync', '-o', log, process.execPath, child, path, '--batches', String(n), '--seed', '5'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const acks = r.stdout.split('\n').filter((l) => l.startsWith('ack ')).length;
    assert.equal(acks, n);
    const syncs = readFileSync(log, 'utf8').split('\n').filter((l) => /\b(fdatasync|fsync)\(/.test(l)).length;
    assert.ok(syncs >= n, `${syncs} syncs for ${n} applies`);
  });
});

function pick(v: ReturnType<typeof verifyChain>): object {
  return v.ok ? { ok: true } : { ok: false, code: v.code, seq: v.seq };
}
