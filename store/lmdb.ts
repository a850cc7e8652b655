/**
 * The LMDB store (PROTOCOL §6): one LMDB environment per daemon with named databases, binary keys
 * (big-endian, so a cursor walks tokens in ring order) and the fixed value layouts of
 * store/lmdb-codec.ts. It implements store/types.ts `Store` exactly like store/memory.ts, and the
 * same suite (test/helpers/store-suite.ts) runs over both.
 *
 * Writes: `apply(batch)` is exactly one synchronous write transaction (`transactionSync`). The
 * batch is encoded first (a malformed value throws RangeError before the transaction starts);
 * inside the transaction the head is read from `meta` and the batch validated against it as in
 * memory.ts (a StoreError aborts the transaction, so nothing is written); then every put and the
 * new head go into the same transaction, which commits durably before `apply` returns.
 *
 * Durability (checked against lmdb-js 3.5 sources, see LIMITS.md "Store"):
 *  - `overlappingSync: false`. lmdb-js turns it on by default off Windows; then commits may
 *    return before the data is flushed and a separate `flushed` promise says when it is durable.
 *    A `transactionSync` with default flags still syncs, but we switch it off so every commit,
 *    including lmdb-js's internal ones (named-db creation), is a plain synced LMDB commit and no
 *    third "unflushed" meta page exists.
 *  - `noSync`, `noMetaSync`, `mapAsync`, `useWritemap` all false (the LMDB defaults): data pages
 *    are fdatasync'ed, then the meta page is written through the O_DSYNC descriptor.
 *  - `transactionSync(…, ABORTABLE | SYNCHRONOUS_COMMIT)`, never NO_SYNC_FLUSH.
 * A SIGKILL at any instant leaves the previous or the new meta page in force (LMDB's
 * copy-on-write B-tree), so a batch is all or nothing; the crash test checks this 200 times.
 *
 * Reads are synchronous point gets in lmdb-js's shared read transaction, which it renews after each
 * of our commits, so the core sees its own commits at once. Values are copied into fresh
 * Uint8Arrays: no result aliases LMDB memory or the caller's buffers.
 */
import { open } from 'lmdb';
import type { Database, RootDatabase } from 'lmdb';
import type { CommitBatch, CommitHead, CommitRecord, Store, StoredBlock, TokenMapping } from './types.js';
import { StoreError } from './types.js';
import { bytesEqual, ZERO_ID } from '../wire/block.js';
import {
  decodeBlockValue,
  decodeCommitValue,
  decodeHead,
  decodeNetworkId,
  decodeTokenValue,
  decodeU32,
  encodeBlockValue,
  encodeCommitValue,
  encodeHead,
  encodeNetworkId,
  encodeTokenValue,
  encodeU32,
  expectBytes,
  META_KEYS,
  plain,
  readSeqKey,
  seqKey,
  spendKey,
  StoreCorruptError,
  EVIDENCE_KEY_PREFIX,
  decodeKeptStatement,
  decodeProofValue,
  encodeKeptStatement,
  encodeProofValue,
  evidenceKey,
  readEvidenceKey,
  type ProofValue,
} from './lmdb-codec.js';
import type { EvidenceWrite, KeptStatement } from './evidence.js';
import type { RingDirection, TokenEntry } from './ring-walk.js';
import { checkWalkArgs } from './ring-walk.js';

export { StoreCorruptError } from './lmdb-codec.js';
export type { RingDirection, TokenEntry } from './ring-walk.js';

/** Layout version of everything under the environment: bumped by any change to an existing layout (a new database or key prefix is additive). */
export const STORE_SCHEMA_VERSION = 1;

/** The databases of §6's table this store creates (`jobs` holds jobs and receipts). `peers` is not used yet. */
export const STORE_DB_NAMES = ['tokens', 'blocks', 'commits', 'spends', 'meta', 'peers', 'evidence', 'jobs'] as const;
export type StoreDbName = (typeof STORE_DB_NAMES)[number];

/** Largest daemon-owned meta value (`metaPut`): identity records, profile names — small things. */
export const META_VALUE_MAX = 65_536;

/** Initial map reservation (virtual address space; the file grows with use). lmdb-js doubles it when full. */
export const DEFAULT_MAP_SIZE = 1 << 30;

/** lmdb-js transaction flags (index.d.ts TransactionFlags, an ambient enum with no runtime value). */
const TXN_ABORTABLE = 1;
const TXN_SYNCHRONOUS_COMMIT = 2;
const DURABLE_TXN = TXN_ABORTABLE | TXN_SYNCHRONOUS_COMMIT;

/** The environment options that decide durability; exported so tests and docs can check them. */
export const LMDB_DURABILITY_OPTIONS = Object.freeze({
  overlappingSync: false,
  noSync: false,
  noMetaSync: false,
  mapAsync: false,
  useWritemap: false,
} as const);

export type StoreOpenErrorCode = 'schema-newer' | 'schema-older' | 'schema-missing' | 'network-mismatch' | 'corrupt' | 'open-failed';

/** Why a database could not be opened. Codes for programs, message for people. */
export class StoreOpenError extends Error {
  readonly code: StoreOpenErrorCode;
  readonly path: string;
  readonly found?: number | bigint;
  readonly expected?: number | bigint;
  constructor(code: StoreOpenErrorCode, path: string, message: string, fields: { found?: number | bigint; expected?: number | bigint; cause?: unknown } = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = 'StoreOpenError';
    this.code = code;
    this.path = path;
    if (fields.found !== undefined) this.found = fields.found;
    if (fields.expected !== undefined) this.expected = fields.expected;
  }
}

export interface LmdbStoreOptions {
  /** The network this database belongs to (profiles.ts); a database of another network is refused. */
  readonly networkId: bigint;
  /** Initial map size in bytes (default 1 GiB); see LIMITS.md. */
  readonly mapSize?: number;
}

/** Counters for the daemon's /metrics. Monotonic since open. */
export interface LmdbStoreStats {
  /** Point reads (get / exists) and how many found nothing. */
  readonly reads: number;
  readonly readMisses: number;
  /** Value bytes returned by point reads and range reads. */
  readonly readBytes: number;
  /** Range (cursor) reads and the entries they returned. */
  readonly rangeReads: number;
  readonly rangeEntries: number;
  /** Committed write transactions, and ones aborted (StoreError or LMDB error). */
  readonly writeTxns: number;
  readonly writeTxnsAborted: number;
  /** Puts in committed transactions and their key + value bytes. */
  readonly writeOps: number;
  readonly writeBytes: number;
  /** Wall time spent in committed write transactions, including the fsyncs. */
  readonly writeTxnSeconds: number;
  /** Slowest committed write transaction so far. */
  readonly writeTxnMaxSeconds: number;
}

type BinDb = Database<Uint8Array, Uint8Array>;

interface Put {
  readonly db: BinDb;
  readonly key: Uint8Array;
  /** null: delete the key. */
  readonly value: Uint8Array | null;
}

const META_RESERVED = new Set(['schema', 'network', 'head']);
const utf8 = new TextEncoder();

/** The first key after every key that starts with `prefix`; null when there is none (all 0xff). */
function prefixEnd(prefix: Uint8Array): Uint8Array | null {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] !== 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return null;
}

function hexBytes(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export class LmdbStore implements Store {
  readonly path: string;
  readonly networkId: bigint;
  private readonly root: RootDatabase<Uint8Array, Uint8Array>;
  private readonly dbs: Readonly<Record<StoreDbName, BinDb>>;
  private closed = false;
  private readonly counters = {
    reads: 0,
    readMisses: 0,
    readBytes: 0,
    rangeReads: 0,
    rangeEntries: 0,
    writeTxns: 0,
    writeTxnsAborted: 0,
    writeOps: 0,
    writeBytes: 0,
    writeTxnSeconds: 0,
    writeTxnMaxSeconds: 0,
  };

  /** Use openLmdbStore(). */
  private constructor(path: string, networkId: bigint, root: RootDatabase<Uint8Array, Uint8Array>, dbs: Record<StoreDbName, BinDb>) {
    this.path = path;
    this.networkId = networkId;
    this.root = root;
    this.dbs = dbs;
  }

  /** @internal — openLmdbStore's body; a static so it may call the private constructor. */
  static open(path: string, opts: LmdbStoreOptions): LmdbStore {
    encodeNetworkId(opts.networkId); // RangeError for an id outside u64
    let root: RootDatabase<Uint8Array, Uint8Array>;
    try {
      root = open<Uint8Array, Uint8Array>(path, {
        ...LMDB_DURABILITY_OPTIONS,
        noSubdir: false,
        maxDbs: 16,
        mapSize: opts.mapSize ?? DEFAULT_MAP_SIZE,
        encoding: 'binary',
        keyEncoding: 'binary',
        cache: false,
        compression: false,
      });
    } catch (cause) {
      throw new StoreOpenError('open-failed', path, `cannot open LMDB environment at ${path}: ${(cause as Error).message}`, { cause });
    }
    try {
      const dbs = {} as Record<StoreDbName, BinDb>;
      for (const name of STORE_DB_NAMES) dbs[name] = root.openDB<Uint8Array, Uint8Array>(name, { encoding: 'binary', keyEncoding: 'binary', cache: false, compression: false });
      const store = new LmdbStore(path, opts.networkId, root, dbs);
      store.checkOrInitMeta();
      return store;
    } catch (e) {
      void root.close();
      if (e instanceof StoreOpenError) throw e;
      if (e instanceof StoreCorruptError) throw new StoreOpenError('corrupt', path, e.message, { cause: e });
      throw new StoreOpenError('open-failed', path, `cannot open store at ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  // --- StoreReader --------------------------------------------------------------------------------

  head(): CommitHead {
    this.check();
    const v = this.get(this.dbs.meta, META_KEYS.head);
    if (v === undefined) throw new StoreCorruptError('meta', 'head is missing');
    return decodeHead(v);
  }

  token(token: Uint8Array): TokenMapping | undefined {
    this.check();
    const v = this.get(this.dbs.tokens, token);
    return v === undefined ? undefined : decodeTokenValue(v);
  }

  block(id: Uint8Array): StoredBlock | undefined {
    this.check();
    const v = this.get(this.dbs.blocks, id);
    return v === undefined ? undefined : decodeBlockValue(id, v);
  }

  hasBlock(id: Uint8Array): boolean {
    this.check();
    return this.exists(this.dbs.blocks, id);
  }

  spend(token: Uint8Array, last: Uint8Array): Uint8Array | undefined {
    this.check();
    const v = this.get(this.dbs.spends, spendKey(token, last));
    if (v === undefined) return undefined;
    if (v.length !== 32) throw new StoreCorruptError('spends', `value of ${v.length} bytes`);
    return plain(v);
  }

  commit(seq: number): CommitRecord | undefined {
    this.check();
    if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
    const v = this.get(this.dbs.commits, seqKey(seq));
    return v === undefined ? undefined : decodeCommitValue(seq, v);
  }

  // --- additive reads -----------------------------------------------------------------------------

  /** Stored mappings after `token` in ring order (store/ring-walk.ts), at most `limit`. */
  tokensFrom(token: Uint8Array, direction: RingDirection, limit: number): TokenEntry[] {
    this.check();
    checkWalkArgs(token, direction, limit);
    const out: TokenEntry[] = [];
    if (limit === 0) return out;
    const take = (range: Iterable<{ key: Uint8Array; value: Uint8Array }>): void => {
      this.counters.rangeReads++;
      for (const { key, value } of range) {
        if (out.length >= limit) break;
        if (bytesEqual(key, token)) continue;
        this.counters.rangeEntries++;
        this.counters.readBytes += value.length;
        out.push({ token: plain(key), mapping: decodeTokenValue(value) });
      }
    };
    // lmdb-js ranges: `start` inclusive, `end` exclusive; with `reverse` start is the high bound.
    // The start token itself (if stored) is skipped by `take`, so each leg asks for one extra.
    const db = this.dbs.tokens;
    if (direction === 'up') {
      take(db.getRange({ start: token, limit: limit + 1 }));
      if (out.length < limit) take(db.getRange({ end: token, limit: limit - out.length }));
    } else {
      take(db.getRange({ start: token, reverse: true, limit: limit + 1 }));
      if (out.length < limit) take(db.getRange({ end: token, reverse: true, limit: limit - out.length }));
    }
    return out;
  }

  /** Number of token mappings held: a native cursor count, O(n) — for tests and occasional metrics. */
  get tokenCount(): number {
    this.check();
    return this.dbs.tokens.getKeysCount();
  }

  /** A daemon-owned meta value (identity, profile, …); the store's own names are refused. */
  metaGet(name: string): Uint8Array | undefined {
    this.check();
    const v = this.get(this.dbs.meta, this.metaKey(name));
    return v === undefined ? undefined : plain(v);
  }

  /** Writes a daemon-owned meta value in its own durable transaction. */
  metaPut(name: string, value: Uint8Array): void {
    this.check();
    if (!(value instanceof Uint8Array) || value.length > META_VALUE_MAX) throw new RangeError(`meta value must be at most ${META_VALUE_MAX} bytes`);
    this.write([{ db: this.dbs.meta, key: this.metaKey(name), value: plain(value) }], () => undefined);
  }

  stats(): LmdbStoreStats {
    return { ...this.counters };
  }

  /** Bytes of map reserved and used (pages up to the last one written), for /metrics. */
  spaceInfo(): { readonly mapSizeBytes: number; readonly usedBytes: number; readonly pageSize: number } {
    this.check();
    const s = this.root.getStats() as { mapSize?: number; lastPageNumber?: number; pageSize?: number; root?: { pageSize?: number } };
    const pageSize = s.pageSize ?? s.root?.pageSize ?? 4096;
    return { mapSizeBytes: s.mapSize ?? 0, usedBytes: ((s.lastPageNumber ?? 0) + 1) * pageSize, pageSize };
  }

  // --- Store --------------------------------------------------------------------------------------

  apply(batch: CommitBatch): void {
    this.check();
    if (batch.commits.length === 0) throw new StoreError('empty-batch', 'a batch carries at least one commit record');
    // Encode first: a malformed value (a caller bug) throws before any transaction starts.
    const puts: Put[] = [];
    const blockKeys: Uint8Array[] = [];
    for (const c of batch.commits) puts.push({ db: this.dbs.commits, key: seqKey(c.seq), value: encodeCommitValue(c) });
    for (const b of batch.blocks) {
      expectBytes(b.id, 32, 'block id');
      blockKeys.push(b.id);
      puts.push({ db: this.dbs.blocks, key: b.id, value: encodeBlockValue(b) });
    }
    for (const t of batch.tokens) {
      expectBytes(t.token, 32, 'token');
      puts.push({ db: this.dbs.tokens, key: t.token, value: encodeTokenValue(t.mapping) });
    }
    for (const s of batch.spends) {
      expectBytes(s.block, 32, 'spend block');
      puts.push({ db: this.dbs.spends, key: spendKey(s.token, s.last), value: s.block });
    }
    const last = batch.commits[batch.commits.length - 1] as CommitRecord;
    puts.push({ db: this.dbs.meta, key: META_KEYS.head, value: encodeHead({ seq: last.seq, id: last.id }) });

    // Validate inside the write transaction, against the head it will extend (serialised with any
    // other writer of this environment); a throw aborts the transaction.
    this.write(puts, () => {
      let head = this.head();
      const seqOf = new Map<string, number>();
      for (const c of batch.commits) {
        if (c.seq !== head.seq + 1) throw new StoreError('seq-gap', `commit seq ${c.seq} does not follow head ${head.seq}`);
        if (!bytesEqual(c.prevId, head.id)) throw new StoreError('prev-mismatch', `commit ${c.seq} does not link to the head id`);
        for (const id of c.blockIds) seqOf.set(hexOf(id), c.seq);
        head = { seq: c.seq, id: c.id };
      }
      batch.blocks.forEach((b, i) => {
        const k = hexOf(b.id);
        if (seqOf.get(k) !== b.seq) throw new StoreError('block-not-in-commit', `block ${k} is not listed in commit ${b.seq}`);
        if (this.exists(this.dbs.blocks, blockKeys[i] as Uint8Array)) throw new StoreError('block-exists', `block ${k} is already stored`);
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // With no asynchronous writes outstanding lmdb-js closes the environment synchronously; the
    // returned promise only matters for async writes, which this store never issues.
    void this.root.close();
  }

  /** Applies the evidence book's writes (store/evidence.ts `takeWrites`) in one durable transaction. */
  evidenceWrite(writes: readonly EvidenceWrite[]): void {
    this.check();
    if (writes.length === 0) return;
    const db = this.dbs.evidence;
    const P = EVIDENCE_KEY_PREFIX;
    const puts: Put[] = writes.map((w): Put => {
      switch (w.op) {
        case 'put-statement':
          return { db, key: evidenceKey(P.statement, w.responder, w.s.arrival), value: encodeKeptStatement(w.s.at, w.s.bytes) };
        case 'delete-statement':
          return { db, key: evidenceKey(P.statement, w.responder, w.arrival), value: null };
        case 'put-identity':
          return { db, key: evidenceKey(P.identity, w.responder), value: plain(w.record) };
        case 'delete-identity':
          return { db, key: evidenceKey(P.identity, w.responder), value: null };
        case 'put-proof':
          return { db, key: evidenceKey(P.proof, hexBytes(w.proof.id)), value: encodeProofValue(w.proof) };
      }
    });
    this.write(puts, () => undefined);
  }

  /** Everything the evidence db holds, for the book's `load` (ids are recomputed by the caller's blake3). */
  evidenceLoad(): { statements: { responder: Uint8Array; s: KeptStatement }[]; identities: { responder: Uint8Array; record: Uint8Array }[]; proofs: (ProofValue & { id: string })[] } {
    this.check();
    const statements: { responder: Uint8Array; s: KeptStatement }[] = [];
    const identities: { responder: Uint8Array; record: Uint8Array }[] = [];
    const proofs: (ProofValue & { id: string })[] = [];
    for (const { key, value } of this.dbs.evidence.getRange({})) {
      const k = readEvidenceKey(key);
      if (k.prefix === EVIDENCE_KEY_PREFIX.statement) {
        const v = decodeKeptStatement(value);
        statements.push({ responder: k.id, s: { arrival: k.arrival, at: v.at, bytes: v.bytes } });
      } else if (k.prefix === EVIDENCE_KEY_PREFIX.identity) {
        identities.push({ responder: k.id, record: plain(value) });
      } else if (k.prefix === EVIDENCE_KEY_PREFIX.proof) {
        proofs.push({ id: hexOf(k.id), ...decodeProofValue(value) });
      } else {
        throw new StoreCorruptError('evidence', `key prefix ${k.prefix}`);
      }
    }
    return { statements, identities, proofs };
  }

  /** A value of the `jobs` db (store/jobs.ts owns its keys and layouts). */
  jobsGet(key: Uint8Array): Uint8Array | undefined {
    this.check();
    const v = this.get(this.dbs.jobs, key);
    return v === undefined ? undefined : plain(v);
  }

  /** Puts (value) and deletes (null) in the `jobs` db, in one durable transaction. */
  jobsWrite(entries: readonly { readonly key: Uint8Array; readonly value: Uint8Array | null }[]): void {
    this.check();
    if (entries.length === 0) return;
    this.write(
      entries.map((e) => ({ db: this.dbs.jobs, key: e.key, value: e.value === null ? null : plain(e.value) })),
      () => undefined,
    );
  }

  /** Every entry of the `jobs` db whose key starts with `prefix`, in key order. */
  jobsRange(prefix: Uint8Array): { key: Uint8Array; value: Uint8Array }[] {
    this.check();
    const end = prefixEnd(prefix);
    const out: { key: Uint8Array; value: Uint8Array }[] = [];
    const range = this.dbs.jobs.getRange(end === null ? { start: prefix } : { start: prefix, end });
    for (const { key, value } of range) out.push({ key: plain(key), value: plain(value) });
    this.counters.rangeReads++;
    this.counters.rangeEntries += out.length;
    return out;
  }

  // --- internals ----------------------------------------------------------------------------------

  /** One durable write transaction: `validate` runs first inside it, then every put. */
  private write(puts: readonly Put[], validate: () => void): void {
    const t0 = performance.now();
    let bytes = 0;
    try {
      this.root.transactionSync(() => {
        validate();
        for (const p of puts) {
          if (p.value === null) {
            p.db.removeSync(p.key);
            continue;
          }
          // Inside a write transaction lmdb-js's putSync returns whether the put happened (typed void).
          if ((p.db.putSync(p.key, p.value) as unknown) === false) throw new Error('LMDB refused a put');
          bytes += p.key.length + p.value.length;
        }
      }, DURABLE_TXN);
    } catch (e) {
      this.counters.writeTxnsAborted++;
      throw e;
    }
    const s = (performance.now() - t0) / 1000;
    this.counters.writeTxns++;
    this.counters.writeOps += puts.length;
    this.counters.writeBytes += bytes;
    this.counters.writeTxnSeconds += s;
    if (s > this.counters.writeTxnMaxSeconds) this.counters.writeTxnMaxSeconds = s;
  }

  private get(db: BinDb, key: Uint8Array): Buffer | undefined {
    this.counters.reads++;
    // getBinaryFast: a view of a reused buffer, valid until the next read; decoders copy out of it.
    const v = db.getBinaryFast(key);
    if (v === undefined) {
      this.counters.readMisses++;
      return undefined;
    }
    this.counters.readBytes += v.length;
    return v;
  }

  private exists(db: BinDb, key: Uint8Array): boolean {
    this.counters.reads++;
    const found = db.doesExist(key);
    if (!found) this.counters.readMisses++;
    return found;
  }

  private metaKey(name: string): Uint8Array {
    if (typeof name !== 'string' || name.length === 0 || name.length > 64 || META_RESERVED.has(name)) throw new RangeError(`meta name ${JSON.stringify(name)} is reserved or invalid`);
    return utf8.encode(name);
  }

  private check(): void {
    if (this.closed) throw new StoreError('closed', 'the store is closed');
  }

  /** New environment: writes schema, network and the empty head in one transaction. Else checks them. */
  private checkOrInitMeta(): void {
    const schemaBytes = this.get(this.dbs.meta, META_KEYS.schema);
    if (schemaBytes === undefined) {
      const empty = this.dbs.meta.getKeysCount() === 0 && this.dbs.commits.getKeysCount() === 0 && this.dbs.blocks.getKeysCount() === 0 && this.dbs.tokens.getKeysCount() === 0;
      if (!empty) throw new StoreOpenError('schema-missing', this.path, `${this.path} holds data but no schema version`);
      this.write(
        [
          { db: this.dbs.meta, key: META_KEYS.schema, value: encodeU32(STORE_SCHEMA_VERSION) },
          { db: this.dbs.meta, key: META_KEYS.network, value: encodeNetworkId(this.networkId) },
          { db: this.dbs.meta, key: META_KEYS.head, value: encodeHead({ seq: 0, id: ZERO_ID }) },
        ],
        () => undefined,
      );
      return;
    }
    const schema = decodeU32(schemaBytes, 'schema');
    if (schema > STORE_SCHEMA_VERSION) {
      throw new StoreOpenError('schema-newer', this.path, `${this.path} has schema ${schema}, newer than this build's ${STORE_SCHEMA_VERSION}; upgrade ecd`, { found: schema, expected: STORE_SCHEMA_VERSION });
    }
    if (schema < STORE_SCHEMA_VERSION) {
      throw new StoreOpenError('schema-older', this.path, `${this.path} has schema ${schema}, older than ${STORE_SCHEMA_VERSION}, and no migration exists`, { found: schema, expected: STORE_SCHEMA_VERSION });
    }
    const netBytes = this.get(this.dbs.meta, META_KEYS.network);
    if (netBytes === undefined) throw new StoreCorruptError('meta', 'network id is missing');
    const net = decodeNetworkId(netBytes);
    if (net !== this.networkId) {
      throw new StoreOpenError('network-mismatch', this.path, `${this.path} belongs to network ${net}, not ${this.networkId}`, { found: net, expected: this.networkId });
    }
    // The head must name the last stored record: a cheap structural check on every open (the
    // full hash walk is verifyChain, store/chain.ts).
    const head = this.head();
    let lastSeq = 0;
    let lastId: Uint8Array = ZERO_ID;
    for (const { key, value } of this.dbs.commits.getRange({ reverse: true, limit: 1 })) {
      lastSeq = readSeqKey(key);
      lastId = decodeCommitValue(lastSeq, value).id;
    }
    if (lastSeq !== head.seq || !bytesEqual(lastId, head.id)) {
      throw new StoreOpenError('corrupt', this.path, `${this.path}: head is seq ${head.seq} but the last commit record is ${lastSeq}`);
    }
  }
}

/**
 * Opens (creating if absent) the store at directory `path`. Throws StoreOpenError with a code:
 * `schema-newer` / `schema-older` / `schema-missing`, `network-mismatch`, `corrupt`, `open-failed`.
 */
export function openLmdbStore(path: string, opts: LmdbStoreOptions): LmdbStore {
  return LmdbStore.open(path, opts);
}
