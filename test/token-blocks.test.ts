/**
 * Client-side block building (tools/token-blocks.ts): every block we build round-trips through
 * wire/block.ts and passes consensus/validate.ts against its parents; the refusals (wrong owner,
 * final token, bad files) happen before anything is sent.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkAgainstParents, checkStandalone } from '../consensus/validate.js';
import { blockId, decodeSignedBlock, encodeSignedBlock, isZero, keyHash, type Block, type SignedBlock } from '../wire/block.js';
import { keyFileText, toHex } from '../wire/identity-file.js';
import {
  blockTime,
  buildCreateBlocks,
  buildUpdateBlock,
  completeDraft,
  decodeSignedBlockHex,
  loadOwnerKey,
  ownerKeyFromSeed,
  parentFromBlock,
  parseBlockFile,
  parseToken,
  randomTokens,
  resolveRecipient,
  signedBlockHex,
  signedBlockJson,
  TokenBlockError,
} from '../tools/token-blocks.js';
import { testBlake3, testEd25519 } from './helpers/noble-crypto.js';
import { seededRandomBytes } from './helpers/token-fixtures.js';

const crypto = { blake3: testBlake3, ed25519: testEd25519 };
const NET = 3n;
const alice = ownerKeyFromSeed(crypto, new Uint8Array(32).fill(1));
const bob = ownerKeyFromSeed(crypto, new Uint8Array(32).fill(2));
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ecd-token-blocks-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Validates as a daemon would: structure, future bound, then against the given parents. */
function validate(signed: SignedBlock, parents: readonly SignedBlock[], now = Date.now()): string {
  const s = checkStandalone(signed, now, 2 * 3600_000);
  if (s !== null) return s;
  const byId = new Map(parents.map((p) => [toHex(blockId(testBlake3, NET, p.block)), p.block] as const));
  const r = checkAgainstParents(crypto, signed, blockId(testBlake3, NET, signed.block), (h) => byId.get(toHex(h)));
  return r.kind === 'invalid' ? r.code : r.kind;
}

function roundTrip(signed: SignedBlock): SignedBlock {
  const d = decodeSignedBlock(encodeSignedBlock(signed));
  assert.ok(d.ok, 'decodes');
  assert.deepEqual(encodeSignedBlock(d.signed), encodeSignedBlock(signed));
  return d.signed;
}

describe('token blocks: create', () => {
  test('N tokens make ceil(N/6) creation blocks owned by BLAKE3(owner pk), unsigned, valid', () => {
    const rnd = seededRandomBytes(7);
    for (const [n, blocks] of [[1, 1], [6, 1], [7, 2], [13, 3], [36, 6]] as const) {
      const tokens = randomTokens(n, rnd);
      const built = buildCreateBlocks(tokens, alice.keyHash, 1_700_000_000_000);
      assert.equal(built.length, blocks, `n=${n}`);
      assert.deepEqual(built.flatMap((b) => b.block.entries.map((e) => toHex(e.token))), tokens.map(toHex));
      for (const b of built) {
        assert.ok(b.block.entries.length <= 6);
        assert.equal(b.signatures.length, 0);
        for (const e of b.block.entries) {
          assert.ok(isZero(e.last));
          assert.deepEqual(e.nextKeyHash, keyHash(testBlake3, alice.publicKey));
        }
        assert.equal(validate(roundTrip(b), []), 'valid');
      }
    }
  });

  test('count out of range is refused', () => {
    for (const n of [0, -1, 601, 1.5]) assert.throws(() => randomTokens(n, seededRandomBytes(1)), (e: unknown) => e instanceof TokenBlockError && e.code === 'bad-count');
  });
});

describe('token blocks: transfer and destroy', () => {
  const [token] = randomTokens(1, seededRandomBytes(2)) as [Uint8Array];
  const created = buildCreateBlocks([token], alice.keyHash, 1_700_000_000_000)[0] as SignedBlock;

  test('a transfer extends the current block, is signed by the owner, and validates; a chain of three too', () => {
    let parentBlock = created;
    const owners = [alice, bob, alice, bob];
    for (let i = 0; i < 3; i++) {
      const parent = parentFromBlock(crypto, NET, token, parentBlock);
      const next = owners[i + 1] as typeof alice;
      const signed = buildUpdateBlock(crypto, NET, [{ parent, nextKeyHash: next.keyHash }], owners[i] as typeof alice, parentBlock.block.time - 5_000);
      assert.ok(signed.block.time > parentBlock.block.time, 'time after the parent even with a clock behind');
      assert.equal(signed.signatures.length, 1);
      assert.deepEqual(signed.block.entries[0]?.last, blockId(testBlake3, NET, parentBlock.block));
      assert.equal(validate(roundTrip(signed), [parentBlock]), 'valid');
      // Hex and JSON forms survive.
      assert.deepEqual(encodeSignedBlock(decodeSignedBlockHex(signedBlockHex(signed))), encodeSignedBlock(signed));
      parentBlock = signed;
    }
  });

  test('the wrong key is refused locally; the network would say wrong-key too', () => {
    const parent = parentFromBlock(crypto, NET, token, created);
    assert.throws(() => buildUpdateBlock(crypto, NET, [{ parent, nextKeyHash: bob.keyHash }], bob, Date.now()), (e: unknown) => e instanceof TokenBlockError && e.code === 'not-owner' && !e.usage);
    const { nextKeyHash: _drop, ...unknownKey } = parent;
    const forged = buildUpdateBlock(crypto, NET, [{ parent: unknownKey, nextKeyHash: bob.keyHash }], bob, Date.now());
    assert.equal(validate(forged, [created]), 'wrong-key');
  });

  test('a tampered signature fails consensus validation', () => {
    const parent = parentFromBlock(crypto, NET, token, created);
    const signed = buildUpdateBlock(crypto, NET, [{ parent, nextKeyHash: bob.keyHash }], alice, Date.now());
    const sig = signed.signatures[0]!;
    const bad = Uint8Array.from(sig.signature);
    bad[0] = bad[0]! ^ 1;
    assert.equal(validate({ block: signed.block, signatures: [{ ...sig, signature: bad }] }, [created]), 'bad-signature');
    // Signed for another network: the id differs, so the signature does not verify here.
    const other = buildUpdateBlock(crypto, 2n, [{ parent, nextKeyHash: bob.keyHash }], alice, Date.now());
    assert.equal(validate(other, [created]), 'bad-signature');
  });

  test('destroy sets next_key_hash 0; the destroyed token cannot be updated', () => {
    const parent = parentFromBlock(crypto, NET, token, created);
    const destroyed = buildUpdateBlock(crypto, NET, [{ parent, nextKeyHash: new Uint8Array(32) }], alice, Date.now());
    assert.ok(isZero(destroyed.block.entries[0]!.nextKeyHash));
    assert.equal(validate(destroyed, [created]), 'valid');
    const p2 = parentFromBlock(crypto, NET, token, destroyed);
    assert.throws(() => buildUpdateBlock(crypto, NET, [{ parent: p2, nextKeyHash: bob.keyHash }], alice, Date.now()), (e: unknown) => e instanceof TokenBlockError && e.code === 'token-final');
  });

  test('multi-entry update: six tokens in one block, each signed, all valid', () => {
    const tokens = randomTokens(6, seededRandomBytes(3));
    const c = buildCreateBlocks(tokens, alice.keyHash, 1_700_000_000_000)[0] as SignedBlock;
    const updates = tokens.map((t) => ({ parent: parentFromBlock(crypto, NET, t, c), nextKeyHash: bob.keyHash }));
    const signed = buildUpdateBlock(crypto, NET, updates, alice, Date.now());
    assert.equal(signed.signatures.length, 6);
    assert.equal(encodeSignedBlock(signed).length, 10 + 96 * 6 + 1 + 97 * 6);
    assert.equal(validate(roundTrip(signed), [c]), 'valid');
  });

  test('parentFromBlock refuses a block without the token', () => {
    const other = randomTokens(1, seededRandomBytes(4))[0] as Uint8Array;
    assert.throws(() => parentFromBlock(crypto, NET, other, created), (e: unknown) => e instanceof TokenBlockError && e.code === 'parent-lacks-token');
  });

  test('blockTime is strictly after every parent', () => {
    assert.equal(blockTime(100, []), 100);
    assert.equal(blockTime(100, [50, 99]), 100);
    assert.equal(blockTime(100, [100]), 101);
    assert.equal(blockTime(100, [7, 250, 3]), 251);
  });
});

describe('token blocks: files and arguments', () => {
  test('owner key files: keygen format and identity-with-seed load; a mismatched public key is refused', async () => {
    const p = join(dir, 'alice.json');
    await writeFile(p, keyFileText({ publicKey: alice.publicKey, secretSeed: new Uint8Array(32).fill(1) }));
    const k = await loadOwnerKey(crypto, p);
    assert.deepEqual(k.keyHash, alice.keyHash);
    const bad = join(dir, 'mismatch.json');
    await writeFile(bad, keyFileText({ publicKey: bob.publicKey, secretSeed: new Uint8Array(32).fill(1) }));
    await assert.rejects(loadOwnerKey(crypto, bad), (e: unknown) => e instanceof TokenBlockError && e.code === 'bad-key-file' && /does not belong/.test(e.message));
    await assert.rejects(loadOwnerKey(crypto, join(dir, 'missing.json')), (e: unknown) => e instanceof TokenBlockError && e.usage && /ENOENT/.test(e.message));
    await writeFile(join(dir, 'garbage.json'), 'not json');
    await assert.rejects(loadOwnerKey(crypto, join(dir, 'garbage.json')), /not valid JSON/);
  });

  test('--to takes a key hash or a key file (public key only is enough)', async () => {
    assert.deepEqual(await resolveRecipient(crypto, toHex(bob.keyHash)), bob.keyHash);
    assert.deepEqual(await resolveRecipient(crypto, toHex(bob.keyHash).toUpperCase()), bob.keyHash);
    const p = join(dir, 'bob-public.json');
    await writeFile(p, JSON.stringify({ type: 'ecd-ed25519-key', version: 1, public_key: toHex(bob.publicKey) }));
    assert.deepEqual(await resolveRecipient(crypto, p), bob.keyHash);
    await assert.rejects(resolveRecipient(crypto, 'abc'), (e: unknown) => e instanceof TokenBlockError && e.code === 'bad-recipient');
  });

  test('parseToken accepts 64 hex only', () => {
    assert.equal(toHex(parseToken('AB'.repeat(32))), 'ab'.repeat(32));
    for (const bad of ['', 'ab', 'zz'.repeat(32), 'ab'.repeat(33)]) assert.throws(() => parseToken(bad), (e: unknown) => e instanceof TokenBlockError && e.code === 'bad-token' && e.usage);
  });

  test('block file: hex, {"block": hex}, and the readable form with and without signatures', () => {
    const [t] = randomTokens(1, seededRandomBytes(5)) as [Uint8Array];
    const created = buildCreateBlocks([t], alice.keyHash, 1_700_000_000_000)[0] as SignedBlock;
    const hex = signedBlockHex(created);
    for (const text of [hex, `  ${hex.toUpperCase()}\n`, JSON.stringify({ block: hex })]) {
      const c = parseBlockFile(crypto, text);
      assert.equal(c.kind, 'signed');
      if (c.kind === 'signed') assert.equal(signedBlockHex(c.signed), hex);
    }
    // Readable form, unsigned: signed with the owner key, time after the parent.
    const createdId = toHex(blockId(testBlake3, NET, created.block));
    const draft = parseBlockFile(crypto, JSON.stringify({ entries: [{ token: toHex(t), last: createdId, next_public_key: toHex(bob.publicKey) }] }));
    assert.equal(draft.kind, 'draft');
    if (draft.kind !== 'draft') return;
    assert.throws(() => completeDraft(crypto, NET, draft, null, Date.now(), []), /--key/);
    const signed = completeDraft(crypto, NET, draft, alice, 1_600_000_000_000, [created.block.time]);
    assert.equal(signed.block.time, created.block.time + 1);
    assert.deepEqual(signed.block.entries[0]?.nextKeyHash, bob.keyHash);
    assert.equal(validate(signed, [created]), 'valid');
    // Its JSON form (explicit signatures) parses back to the same bytes.
    const again = parseBlockFile(crypto, JSON.stringify(signedBlockJson(signed)));
    assert.equal(again.kind, 'draft');
    if (again.kind === 'draft') assert.equal(signedBlockHex(completeDraft(crypto, NET, again, null, 0, [])), signedBlockHex(signed));
    // A creation block in readable form with "0" shorthand needs no key.
    const create = parseBlockFile(crypto, JSON.stringify({ time: 5, entries: [{ token: toHex(t), last: '0', next_key_hash: toHex(alice.keyHash) }] }));
    if (create.kind !== 'draft') assert.fail('draft expected');
    const cs = completeDraft(crypto, NET, create, null, 0, []);
    assert.equal(cs.block.time, 5);
    assert.equal(cs.signatures.length, 0);
  });

  test('block file: explicit bad signatures pass through (the daemon rejects them); impossible blocks are refused', () => {
    const [t] = randomTokens(1, seededRandomBytes(6)) as [Uint8Array];
    const last = 'cd'.repeat(32);
    const sig = { index: 0, public_key: toHex(alice.publicKey), signature: '00'.repeat(64) };
    const c = parseBlockFile(crypto, JSON.stringify({ time: 10, entries: [{ token: toHex(t), last, next_key_hash: '0' }], signatures: [sig] }));
    if (c.kind !== 'draft') assert.fail('draft expected');
    const s = completeDraft(crypto, NET, c, null, 0, []);
    assert.equal(toHex(s.signatures[0]!.signature), '00'.repeat(64));
    const bad: [unknown, RegExp][] = [
      ['', /empty/],
      ['xyz', /not the hex/],
      ['{', /neither hex nor valid JSON/],
      ['[]', /not a JSON object/],
      [{ entries: [] }, /1\.\.6 entries/],
      [{ entries: new Array(7).fill({ token: toHex(t), last: '0', next_key_hash: '0' }) }, /1\.\.6 entries/],
      [{ entries: [{ token: 'ab', last: '0', next_key_hash: '0' }] }, /token must be 32 bytes/],
      [{ entries: [{ token: toHex(t), last: '0' }] }, /exactly one of/],
      [{ entries: [{ token: toHex(t), last: '0', next_key_hash: '0' }, { token: toHex(t), last: '0', next_key_hash: '0' }] }, /duplicate-token/],
      [{ entries: [{ token: toHex(t), last: '0', next_key_hash: '0' }], signatures: [sig] }, /signature-for-creation/],
      [{ entries: [{ token: toHex(t), last, next_key_hash: '0' }], signatures: [] }, /missing-signature/],
      [{ entries: [{ token: toHex(t), last: '0', next_key_hash: '0' }], time: -1 }, /"time"/],
      [{ entries: [{ token: toHex(t), last: '0', next_key_hash: '0' }], colour: 'red' }, /unknown field "colour"/],
      [{ block: 'abcd' }, /not a well-formed signed block/],
    ];
    for (const [input, re] of bad) {
      const text = typeof input === 'string' ? input : JSON.stringify(input);
      assert.throws(() => parseBlockFile(crypto, text), (e: unknown) => e instanceof TokenBlockError && e.code === 'bad-block-file' && re.test(e.message), text);
    }
  });

  test('creation blocks of one owner at one time have distinct ids (tokens differ)', () => {
    const blocks = buildCreateBlocks(randomTokens(12, seededRandomBytes(9)), alice.keyHash, 1);
    const ids = new Set(blocks.map((b: SignedBlock) => toHex(blockId(testBlake3, NET, b.block as Block))));
    assert.equal(ids.size, 2);
  });
});
