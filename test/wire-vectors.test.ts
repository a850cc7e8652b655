/**
 * docs/wire.md cannot rot: every message vector block is regenerated from the code
 * (tools/wire-vectors.ts) and must appear in the doc verbatim; the doc's layout facts that are
 * constants in the code (largest body per kind) are checked against them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadCrypto } from '../kernels/crypto.js';
import { replaceVectorBlocks, vectorBlocks } from '../tools/wire-vectors.js';
import { LAYOUTS, MESSAGE_TYPES, decodeMessage, encodeMessage } from '../wire/messages.js';
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
