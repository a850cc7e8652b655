/** wire/block.ts: canonical bytes, never-throwing decoders, ids, signatures, commit ids. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Block, SignedBlock } from '../wire/block.js';
import {
  BLOCK_SIZES,
  blockId,
  blockSigningMessage,
  checkBlockStructure,
  commitRecordBytes,
  commitRecordId,
  decodeBlock,
  decodeSignedBlock,
  encodeBlock,
  encodeSignedBlock,
  encodedSignedBlockSize,
  verifyEntrySignature,
  ZERO_ID,
} from '../wire/block.js';
import { messageSizeBound, MAX_MESSAGE_BYTES, TICKET_BYTES } from '../consensus/messages.js';
import { encodedSize } from '../wire/messages.js';
import { testBlake3, testEd25519 } from './helpers/noble-crypto.js';
import { makeBlock, NET, signer } from './helpers/consensus-fixtures.js';

const SEED = 0x5eed_b10c;

function tok(n: number): Uint8Array {
  const b = new Uint8Array(32);
  b[0] = n;
  b[31] = 1;
  return b;
}

const arbId = fc.uint8Array({ minLength: 32, maxLength: 32 });
const arbBlock: fc.Arbitrary<SignedBlock> = fc
  .uniqueArray(arbId, { minLength: 1, maxLength: 6, selector: (t) => Buffer.from(t).toString('hex') })
  .chain((tokens) =>
    fc.record({
      time: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      lasts: fc.array(fc.option(arbId, { nil: undefined }), { minLength: tokens.length, maxLength: tokens.length }),
      nexts: fc.array(arbId, { minLength: tokens.length, maxLength: tokens.length }),
      pk: arbId,
      sig: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    }).map(({ time, lasts, nexts, pk, sig }) => {
      const entries = tokens.map((token, i) => ({ token, last: lasts[i] ?? ZERO_ID, nextKeyHash: nexts[i] as Uint8Array }));
      const block: Block = { version: 1, time, entries };
      const signatures = entries.flatMap((e, index) => (e.last.some((x) => x !== 0) ? [{ index, publicKey: pk, signature: sig }] : []));
      return { block, signatures };
    }),
  );

test('layout: version, big-endian time, count, then 96-byte entries', () => {
  const block: Block = { version: 1, time: 0x0102030405, entries: [{ token: tok(1), last: tok(2), nextKeyHash: tok(3) }] };
  const bytes = encodeBlock(block);
  assert.equal(bytes.length, 106);
  assert.deepEqual([...bytes.slice(0, 10)], [1, 0, 0, 0, 1, 2, 3, 4, 5, 1]);
  assert.deepEqual(bytes.slice(10, 42), tok(1));
  assert.deepEqual(bytes.slice(42, 74), tok(2));
  assert.deepEqual(bytes.slice(74, 106), tok(3));
});

test('the largest signed block and its messages fit one frame', () => {
  const owner = signer(1);
  const entries = [1, 2, 3, 4, 5, 6].map((n) => ({ token: tok(n), last: tok(100 + n), next: owner, by: owner }));
  const signed = makeBlock(entries, 1_000);
  assert.equal(encodeSignedBlock(signed).length, BLOCK_SIZES.maxSigned);
  assert.equal(encodedSignedBlockSize(signed), 1169);
  const initialVote = { type: 'initial-vote' as const, ...signed, pos: 0x15, neg: 0x2a, origin: tok(9), covered: tok(10) };
  const blockMessage = { type: 'block' as const, ...signed, ticket: new Uint8Array(TICKET_BYTES) };
  for (const m of [initialVote, blockMessage]) {
    assert.ok(messageSizeBound(m) <= MAX_MESSAGE_BYTES, m.type);
    // And the wire codec encodes it within one frame.
    const size = encodedSize(m);
    assert.ok(size > 0 && size <= MAX_MESSAGE_BYTES, `${m.type}: ${size}`);
  }
  const item = { type: 'query-block' as const, blockId: tok(1), ticket: new Uint8Array(TICKET_BYTES) };
  assert.ok(messageSizeBound({ type: 'batch', items: Array.from({ length: 24 }, () => item) }) <= MAX_MESSAGE_BYTES);
});

test('property: signed blocks round-trip and are canonical', () => {
  fc.assert(
    fc.property(arbBlock, (signed) => {
      const bytes = encodeSignedBlock(signed);
      assert.equal(bytes.length, encodedSignedBlockSize(signed));
      const r = decodeSignedBlock(bytes);
      assert.ok(r.ok, `decode failed: ${r.ok ? '' : r.code}`);
      assert.deepEqual(r.signed, signed);
      assert.deepEqual(encodeSignedBlock(r.signed), bytes);
      const u = decodeBlock(encodeBlock(signed.block));
      assert.ok(u.ok);
      assert.deepEqual(u.block, signed.block);
    }),
    { seed: SEED, numRuns: 300 },
  );
});

test('property: decoders never throw and never accept a truncation or an extension', () => {
  fc.assert(
    fc.property(arbBlock, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), (signed, cut, extra) => {
      const bytes = encodeSignedBlock(signed);
      const n = cut % bytes.length;
      assert.equal(decodeSignedBlock(bytes.slice(0, n)).ok, false);
      const longer = new Uint8Array(bytes.length + extra.length);
      longer.set(bytes);
      longer.set(extra, bytes.length);
      assert.equal(decodeSignedBlock(longer).ok, false);
      const unsigned = encodeBlock(signed.block);
      assert.equal(decodeBlock(unsigned.slice(0, cut % unsigned.length)).ok, false);
    }),
    { seed: SEED, numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1400 }), (bytes) => {
      const a = decodeBlock(bytes);
      const b = decodeSignedBlock(bytes);
      if (a.ok) assert.deepEqual(encodeBlock(a.block), bytes);
      if (b.ok) assert.deepEqual(encodeSignedBlock(b.signed), bytes);
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

test('property: mutated encodings either fail or decode to the canonical form of what they say', () => {
  fc.assert(
    fc.property(arbBlock, fc.nat(), fc.integer({ min: 1, max: 255 }), (signed, pos, xor) => {
      const bytes = encodeSignedBlock(signed);
      const i = pos % bytes.length;
      bytes[i] = (bytes[i] as number) ^ xor;
      const r = decodeSignedBlock(bytes);
      if (r.ok) assert.deepEqual(encodeSignedBlock(r.signed), bytes);
    }),
    { seed: SEED, numRuns: 500 },
  );
});

test('negative cases have their own codes', () => {
  const owner = signer(2);
  const signed = makeBlock([{ token: tok(1), last: tok(9), next: owner, by: owner }], 5);
  const bytes = encodeSignedBlock(signed);
  const bad = (mut: (b: Uint8Array) => Uint8Array, code: string) => {
    const r = decodeSignedBlock(mut(Uint8Array.from(bytes)));
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.code, code);
  };
  bad((b) => ((b[0] = 2), b), 'bad-version');
  bad((b) => ((b[9] = 0), b), 'bad-count');
  bad((b) => ((b[9] = 7), b), 'bad-count');
  bad((b) => ((b[1] = 0xff), b), 'bad-time');
  bad((b) => ((b[106] = 0), b.slice(0, 107)), 'missing-signature');
  bad((b) => ((b[107] = 1), b), 'bad-signature-index');
  // A creation entry with a signature.
  const creation = encodeSignedBlock(makeBlock([{ token: tok(1), next: owner }], 5));
  const withSig = new Uint8Array(creation.length + 97);
  withSig.set(creation);
  withSig[creation.length - 1] = 1;
  assert.deepEqual(decodeSignedBlock(withSig), { ok: false, code: 'signature-for-creation' });
  // Duplicate tokens and more than six entries are structural errors of a typed block too.
  const dup: Block = { version: 1, time: 1, entries: [signed.block.entries[0]!, signed.block.entries[0]!] };
  assert.equal(checkBlockStructure(dup, []), 'duplicate-token');
  const seven: Block = { version: 1, time: 1, entries: [1, 2, 3, 4, 5, 6, 7].map((n) => ({ token: tok(n), last: ZERO_ID, nextKeyHash: ZERO_ID })) };
  assert.equal(checkBlockStructure(seven, []), 'bad-count');
  assert.throws(() => encodeBlock(seven), RangeError);
  assert.equal(checkBlockStructure({ ...signed.block, time: -1 }, signed.signatures), 'bad-time');
  assert.equal(checkBlockStructure({ ...signed.block, time: 1.5 }, signed.signatures), 'bad-time');
  assert.equal(checkBlockStructure(signed.block, [{ ...signed.signatures[0]!, publicKey: new Uint8Array(31) }]), 'bad-field-length');
});

test('block id: content hash bound to the network; signatures over the id verify', () => {
  const owner = signer(3);
  const signed = makeBlock([{ token: tok(1), last: tok(9), next: owner, by: owner }], 5);
  const id = blockId(testBlake3, NET, signed.block);
  assert.deepEqual(blockId(testBlake3, NET, encodeBlock(signed.block)), id);
  assert.notDeepEqual(blockId(testBlake3, NET + 1n, signed.block), id);
  assert.notDeepEqual(blockId(testBlake3, NET, { ...signed.block, time: 6 }), id);
  const sig = signed.signatures[0]!;
  assert.equal(verifyEntrySignature(testEd25519, id, sig), true);
  assert.equal(testEd25519.verify(sig.signature, blockSigningMessage(blockId(testBlake3, NET + 1n, signed.block)), sig.publicKey), false);
  const flipped = Uint8Array.from(sig.signature);
  flipped[0] = (flipped[0] as number) ^ 1;
  assert.equal(verifyEntrySignature(testEd25519, id, { ...sig, signature: flipped }), false);
});

test('commit record id covers every field', () => {
  const base = { seq: 1, prevId: ZERO_ID, time: 10, blockIds: [tok(1), tok(2)] };
  const id = commitRecordId(testBlake3, base);
  assert.equal(commitRecordBytes(base).length, 12 + 8 + 32 + 8 + 64);
  for (const changed of [{ ...base, seq: 2 }, { ...base, prevId: tok(5) }, { ...base, time: 11 }, { ...base, blockIds: [tok(2), tok(1)] }, { ...base, blockIds: [tok(1)] }]) {
    assert.notDeepEqual(commitRecordId(testBlake3, changed), id);
  }
});
