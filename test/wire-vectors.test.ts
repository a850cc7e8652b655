/**
 * docs/wire.md cannot rot: every message vector block is regenerated from the code
 * (tools/wire-vectors.ts) and must appear in the doc verbatim; the doc's layout facts that are
 * constants in the code (largest body per kind, the consensus layout tables) are checked against
 * them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadCrypto } from '../kernels/crypto.js';
import { replaceVectorBlocks, vectorBlocks } from '../tools/wire-vectors.js';
import { BLOCK_SIZES } from '../wire/block.js';
import { CONSENSUS_OFFSETS, CONSENSUS_SIZES, LAYOUTS, MAX_BATCH_ITEMS, MESSAGE_TYPES, SYNC_OFFSETS, SYNC_SIZES, decodeMessage, encodeMessage } from '../wire/messages.js';
import { vectorMessages } from '../tools/wire-vectors.js';

// dist/test/x.js → repo root
const DOC = fileURLToPath(new URL('../../docs/wire.md', import.meta.url));

test('docs/wire.md holds every generated message vector verbatim', async () => {
  const crypto = await loadCrypto();
  const doc = await readFile(DOC, 'utf8');
  const blocks = vectorBlocks(crypto);
  assert.equal(blocks.length, MESSAGE_TYPES.length);
  for (const b of blocks) assert.ok(doc.includes(b.block), `docs/wire.md: the ${b.name} vector is stale — run node dist/tools/wire-vectors.js --write docs/wire.md`);
  // Rewriting the doc in place changes nothing.
  assert.equal(replaceVectorBlocks(doc, blocks), doc);
});

test('the vectors are the same with the pure-JS reference kernels', async () => {
  const fast = vectorBlocks(await loadCrypto());
  const reference = vectorBlocks(await loadCrypto({ reference: true }));
  assert.deepEqual(reference, fast);
});

test('the doc’s kind table matches the code (kind, largest body, packable)', async () => {
  const doc = await readFile(DOC, 'utf8');
  for (const t of MESSAGE_TYPES) {
    const l = LAYOUTS[t];
    const body = l.maxBody.toLocaleString('en-US').replace(/,/g, ' ');
    const row = new RegExp(`^\\| ${l.kind} \\| ${l.name} \\| ${body}( \\(bounded by the frame\\))? \\| ${l.packable ? 'yes' : 'no'} \\|`, 'm');
    assert.match(doc, row, `${l.name} row`);
  }
});

test('every vector decodes back to its message', async () => {
  const crypto = await loadCrypto();
  for (const m of vectorMessages(crypto)) {
    const r = decodeMessage(encodeMessage(m));
    assert.ok(r.ok, m.type);
  }
});

/** Rows (offset, size, first word of the field) of the doc table headed `| offset | size | NAME field |`. */
function tableRows(doc: string, name: string): [string, string, string][] {
  const lines = doc.split('\n');
  const head = lines.indexOf(`| offset | size | ${name} field |`);
  assert.ok(head >= 0, `docs/wire.md has no ${name} table`);
  const rows: [string, string, string][] = [];
  for (const line of lines.slice(head + 2)) {
    if (!line.startsWith('|')) break;
    const [offset, size, field] = line.slice(2, -2).split(' | ');
    rows.push([offset ?? '', size ?? '', (field ?? '').split(/[ :(]/)[0] ?? '']);
  }
  return rows;
}

test('the doc’s consensus layout tables match CONSENSUS_OFFSETS and CONSENSUS_SIZES', async () => {
  const doc = await readFile(DOC, 'utf8');
  const n = (x: number): string => x.toLocaleString('en-US').replace(/,/g, ' ');
  const signed = `${n(BLOCK_SIZES.minSigned)} … ${n(BLOCK_SIZES.maxSigned)}`;
  const O = CONSENSUS_OFFSETS;
  const S = CONSENSUS_SIZES;
  const row = (offset: number, size: number | string, field: string): [string, string, string] => [String(offset), String(size), field];

  assert.deepEqual(tableRows(doc, 'INITIAL_VOTE'), [
    row(O.initialVote.version, 1, 'version'),
    row(O.initialVote.pos, 1, 'pos'),
    row(O.initialVote.neg, 1, 'neg'),
    row(O.initialVote.origin, 32, 'origin'),
    row(O.initialVote.covered, 32, 'covered'),
    row(O.initialVote.signedBlock, signed, 'signed'),
  ]);
  assert.equal(O.initialVote.signedBlock, S.initialVoteHeader);
  assert.deepEqual(tableRows(doc, 'VOTE'), [
    row(O.vote.version, 1, 'version'),
    row(O.vote.blockId, 32, 'block'),
    row(O.vote.pos, 1, 'pos'),
    row(O.vote.neg, 1, 'neg'),
    row(O.vote.flags, 1, 'flags'),
  ]);
  assert.equal(O.vote.flags + 1, S.vote);
  assert.deepEqual(tableRows(doc, 'QUERY_BLOCK'), [row(O.queryBlock.version, 1, 'version'), row(O.queryBlock.blockId, 32, 'block'), row(O.queryBlock.ticket, 16, 'ticket')]);
  assert.equal(O.queryBlock.ticket + 16, S.queryBlock);
  assert.deepEqual(tableRows(doc, 'BLOCK'), [row(O.block.version, 1, 'version'), row(O.block.ticket, 16, 'ticket'), row(O.block.signedBlock, signed, 'signed')]);
  assert.equal(O.block.signedBlock, S.blockHeader);
  assert.deepEqual(tableRows(doc, 'BATCH'), [row(O.batch.version, 1, 'version'), row(O.batch.count, 4, 'item'), row(O.batch.items, '…', 'items')]);
  assert.equal(O.batch.items, S.batchHeader);
  assert.ok(doc.includes(`| item count, 1 … ${MAX_BATCH_ITEMS} (\`MAX_BATCH_ITEMS\`) |`));
  assert.ok(doc.includes(`(VOTE, ${S.batchVoteItem} bytes)`) && doc.includes(`(QUERY_BLOCK, ${S.batchQueryBlockItem} bytes)`));
});

test('the doc’s sync layout tables match SYNC_OFFSETS and SYNC_SIZES', async () => {
  const doc = await readFile(DOC, 'utf8');
  const offsets = (name: string): number[] => tableRows(doc, name).map(([o]) => Number(o));
  const A = SYNC_OFFSETS.ask;
  const R = SYNC_OFFSETS.reply;
  assert.deepEqual(offsets('SYNC_ASK'), [A.version, A.ticket, A.lo, A.hi, A.count, A.fingerprint, A.haveCount, A.have]);
  assert.equal(A.have, SYNC_SIZES.askHeader);
  assert.deepEqual(offsets('SYNC_REPLY'), [R.version, R.ticket, R.lo, R.hi, R.form, R.fields, R.fields]);
  assert.equal(R.fields, SYNC_SIZES.replyHeader);
  assert.equal(LAYOUTS['sync-ask'].maxBody, SYNC_SIZES.askHeader + 16 * 8);
});
