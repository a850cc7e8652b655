/**
 * Child process of the store crash test (test/store-crash.test.ts, harness in
 * test/helpers/store-crash-harness.ts). It opens the LMDB store at <dir> and commits batches in a
 * loop, the way the daemon's tick does: 1–6 blocks per batch, each creating or updating 1–6
 * tokens (updates pick stored tokens through the ring walk), one `apply` per batch.
 *
 *   node dist/test/helpers/store-crash-child.js <dir> [--seed S] [--batches N] [--network ID] [--wait-go]
 *
 * With --wait-go it loads its modules, then waits for a "go" line on stdin before it opens the
 * store, so the harness can start the next child while the current one runs (start-up is most
 * of an iteration's cost).
 *
 * stdout protocol, one line each, written synchronously (stdout is a pipe: synchronous on Linux):
 *   ready <head seq>          the store opened
 *   batch <seq> <json>        before apply: what the batch writes (StoreCrashIntent)
 *   ack <seq>                 after apply returned: the batch is acknowledged durable
 *   done                      after N batches (only with --batches)
 * Without --batches it loops until killed. Without arguments (node --test runs every file under
 * dist/test/, helpers included) it exits at once.
 */
import { argv, exit, stdin, stdout } from 'node:process';
import { blake3 } from '@noble/hashes/blake3.js';
import type { Blake3Kernel } from '../../kernels/types.js';
import type { Block, BlockEntry, BlockSignature } from '../../wire/block.js';
import { blockId, isZero, makeCommitRecord, ZERO_ID } from '../../wire/block.js';
import { openLmdbStore } from '../../store/lmdb.js';
import type { CommitBatch, SpendWrite, StoredBlock, TokenWrite } from '../../store/types.js';
import { SeededRng } from './seeded-rng.js';
import type { StoreCrashIntent } from './store-crash-protocol.js';
import { CRASH_CHILD_NETWORK } from './store-crash-protocol.js';

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function arg(name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

// @noble/hashes directly rather than kernels/blake3.ts: the kernel module also loads hash-wasm,
// which would add to every child's start-up.
const hasher: Blake3Kernel = { name: 'noble-blake3', hash: (m: Uint8Array) => blake3(m) } as Blake3Kernel;

function main(dir: string): void {
  const seed = Number(arg('--seed') ?? '1');
  const batches = arg('--batches') === undefined ? Infinity : Number(arg('--batches'));
  const networkId = BigInt(arg('--network') ?? String(CRASH_CHILD_NETWORK));
  const store = openLmdbStore(dir, { networkId });
  stdout.write(`ready ${store.head().seq}\n`);
  for (let n = 0; n < batches; n++) {
    const head = store.head();
    const seq = head.seq + 1;
    // Content depends only on (seed, seq) and the stored state, so a batch lost to a kill is
    // regenerated identically by the next run.
    const rng = new SeededRng((seed * 1_000_003 + seq) % Number.MAX_SAFE_INTEGER);
    const used = new Set<string>();
    const blocks: StoredBlock[] = [];
    const tokens: TokenWrite[] = [];
    const spends: SpendWrite[] = [];
    const time = 1_700_000_000_000 + seq;
    const nBlocks = 1 + rng.int(6);
    for (let b = 0; b < nBlocks; b++) {
      const nEntries = 1 + (rng.chance(0.3) ? rng.int(6) : rng.int(2));
      const entries: BlockEntry[] = [];
      // Candidates for updates: stored tokens after a random point of the ring.
      const near = store.tokensFrom(rng.bytes(32), rng.chance(0.5) ? 'up' : 'down', 8);
      for (let e = 0; e < nEntries; e++) {
        const candidate = near[e];
        const update = candidate !== undefined && rng.chance(0.5) && !used.has(hex(candidate.token));
        const token = update ? candidate.token : rng.bytes(32);
        used.add(hex(token));
        entries.push({ token, last: update ? candidate.mapping.block : ZERO_ID, nextKeyHash: rng.bytes(32) });
      }
      const block: Block = { version: 1, time, entries };
      const id = blockId(hasher, networkId, block);
      const signatures: BlockSignature[] = [];
      entries.forEach((e, index) => {
        if (!isZero(e.last)) signatures.push({ index, publicKey: rng.bytes(32), signature: rng.bytes(64) });
      });
      blocks.push({ id, block, signatures, seq });
      for (const e of entries) {
        spends.push({ token: e.token, last: e.last, block: id });
        if (!isZero(e.last) || rng.chance(0.7)) tokens.push({ token: e.token, mapping: { block: id, parent: e.last, time, seq, source: 'vote' } });
      }
    }
    const record = makeCommitRecord(hasher, { seq, prevId: head.id, time, blockIds: blocks.map((b) => b.id) });
    const batch: CommitBatch = { commits: [record], blocks, tokens, spends };
    const intent: StoreCrashIntent = {
      id: hex(record.id),
      prev: hex(record.prevId),
      blocks: blocks.map((b) => hex(b.id)),
      tokens: tokens.map((t) => [hex(t.token), hex(t.mapping.block)] as const),
      spends: spends.map((s) => [hex(s.token), hex(s.last), hex(s.block)] as const),
    };
    stdout.write(`batch ${seq} ${JSON.stringify(intent)}\n`);
    store.apply(batch);
    stdout.write(`ack ${seq}\n`);
  }
  store.close();
  stdout.write('done\n');
}

const dir = argv[2];
if (dir === undefined || dir.startsWith('--')) exit(0);
if (argv.includes('--wait-go')) {
  let buffered = '';
  stdin.setEncoding('utf8');
  stdin.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.includes('go\n')) {
      stdin.pause();
      main(dir);
      exit(0);
    }
  });
} else main(dir);
