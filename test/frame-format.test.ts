/**
 * wire/frame.ts: header layout, parsing of arbitrary bytes, encode/open round trips, the pair-key
 * derivation and the plaintext packing format. Property tests use fixed seeds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadCrypto } from '../kernels/crypto.js';
import { sodiumXAead } from '../kernels/aead.js';
import type { CryptoKernels } from '../kernels/crypto.js';
import {
  FRAME_OFFSETS,
  FRAME_SIZES,
  KIND_PACK,
  MAX_FRAME_BYTES,
  MAX_PACKED_MESSAGES,
  MAX_PLAINTEXT_BYTES,
  MIN_FRAME_BYTES,
  PAIR_KEY_CONTEXT,
  derivePairKey,
  encodeFrame,
  frameSize,
  openFrame,
  packSize,
  parseHeader,
  readU64BE,
  splitPlaintext,
  writeU64BE,
} from '../wire/frame.js';

const SEED = 0x5eed_f4a3;

const seq = (start: number, n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

let fast: CryptoKernels;
let reference: CryptoKernels;

test.before(async () => {
  fast = await loadCrypto();
  reference = await loadCrypto({ reference: true });
});

// The docs/wire.md test vector: sender seed 00..1f, receiver seed 20..3f, network id 3.
const VECTOR = {
  senderSeed: seq(0x00, 32),
  receiverSeed: seq(0x20, 32),
  networkId: 3n,
  sendTimeMs: 1_700_000_000_000,
  packetNumber: 1_700_000_000_000_000,
  nonceRandom: seq(0xa0, 16),
  plaintext: Uint8Array.from([0x01, ...new TextEncoder().encode('hello ec')]),
  senderPk: '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8',
  receiverPk: '29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7',
  pairKey: 'cdbd27ce054f65cdf9017caf6ac935735219846f83ab8979300a2ca7a04044d5',
  frame:
    '010003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b80000018bcfe5680000060a24181e4000a0a1a2a3a4a5a6a7a8a9aaabacadaeaf40f3ce9de2083a07e3c91331f687f28f8d5c43e686b6c0db18',
};

function vectorPairKey(k: CryptoKernels, fromSender: boolean): Uint8Array | null {
  const own = fromSender ? VECTOR.senderSeed : VECTOR.receiverSeed;
  const their = fromSender ? VECTOR.receiverSeed : VECTOR.senderSeed;
  const theirPk = k.ed25519.signerFromSeed(their).publicKey;
  const x = k.ed25519.publicKeyToX25519(theirPk);
  assert.ok(x);
  return derivePairKey(k, {
    ownX25519Secret: k.ed25519.seedToX25519(own),
    ownPublicKey: k.ed25519.signerFromSeed(own).publicKey,
    theirPublicKey: theirPk,
    theirX25519: x,
    networkId: VECTOR.networkId,
  });
}

test('layout constants match PROTOCOL §3', () => {
  assert.equal(FRAME_OFFSETS.senderKey, 2);
  assert.equal(FRAME_OFFSETS.sendTime, 34);
  assert.equal(FRAME_OFFSETS.nonce, 42);
  assert.equal(FRAME_OFFSETS.ciphertext, 66);
  assert.equal(FRAME_SIZES.header, 66);
  assert.equal(FRAME_SIZES.overhead, 82);
  assert.equal(MAX_FRAME_BYTES, 1452);
  assert.equal(MAX_PLAINTEXT_BYTES, 1370);
  assert.equal(MIN_FRAME_BYTES, 83);
  assert.equal(PAIR_KEY_CONTEXT, 'ec frame key v1');
});

test('test vector (docs/wire.md) from the fast and the reference kernels', () => {
  for (const k of [fast, reference]) {
    assert.equal(hex(k.ed25519.signerFromSeed(VECTOR.senderSeed).publicKey), VECTOR.senderPk, k.aead.name);
    const key = vectorPairKey(k, true);
    assert.ok(key);
    assert.equal(hex(key), VECTOR.pairKey, `pair key (${k.x25519.name})`);
    assert.equal(hex(vectorPairKey(k, false)!), VECTOR.pairKey, 'both sides derive the same key');
    const out = new Uint8Array(frameSize(VECTOR.plaintext.length));
    const len = encodeFrame(k.aead, key, {
      senderKey: unhex(VECTOR.senderPk),
      sendTimeMs: VECTOR.sendTimeMs,
      packetNumber: VECTOR.packetNumber,
      nonceRandom: VECTOR.nonceRandom,
    }, VECTOR.plaintext, out);
    assert.equal(len, 91);
    assert.equal(hex(out), VECTOR.frame, k.aead.name);
    const p = parseHeader(out);
    assert.ok(p.ok);
    assert.equal(p.header.sendTimeMs, VECTOR.sendTimeMs);
    assert.equal(p.header.packetNumber, VECTOR.packetNumber);
    const plain = new Uint8Array(p.header.plaintextLength);
    assert.ok(openFrame(k.aead, key, p.header, plain));
    assert.deepEqual(plain, VECTOR.plaintext);
  }
});

test('pair key: another network id gives another key; low-order X25519 keys are refused', () => {
  const k = fast;
  const own = VECTOR.senderSeed;
  const base = {
    ownX25519Secret: k.ed25519.seedToX25519(own),
    ownPublicKey: unhex(VECTOR.senderPk),
    theirPublicKey: unhex(VECTOR.receiverPk),
    theirX25519: k.ed25519.publicKeyToX25519(unhex(VECTOR.receiverPk))!,
  };
  const k3 = derivePairKey(k, { ...base, networkId: 3n });
  const k4 = derivePairKey(k, { ...base, networkId: 4n });
  assert.ok(k3 && k4);
  assert.notEqual(hex(k3), hex(k4));
  // RFC 7748 §6.1 / Wycheproof: points of small order (and their non-canonical twins).
  const lowOrder = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ];
  for (const kern of [fast, reference]) {
    for (const p of lowOrder) {
      assert.equal(derivePairKey(kern, { ...base, theirX25519: unhex(p), networkId: 3n }), null, `${kern.x25519.name} ${p}`);
    }
  }
  // Malformed inputs: null, never a throw.
  assert.equal(derivePairKey(k, { ...base, theirX25519: new Uint8Array(31), networkId: 3n }), null);
  assert.equal(derivePairKey(k, { ...base, networkId: -1n }), null);
  assert.equal(derivePairKey(k, { ...base, networkId: 1n << 64n }), null);
});

test('u64 big-endian helpers', () => {
  const b = new Uint8Array(8);
  for (const v of [0, 1, 0xffffffff, 0x1_0000_0000, 1_700_000_000_000_000, Number.MAX_SAFE_INTEGER]) {
    writeU64BE(b, 0, v);
    assert.equal(readU64BE(b, 0), v);
    assert.equal(Buffer.from(b).readBigUInt64BE(0), BigInt(v));
  }
  assert.throws(() => writeU64BE(b, 0, -1), RangeError);
  assert.throws(() => writeU64BE(b, 0, 2 ** 53), RangeError);
  assert.equal(readU64BE(new Uint8Array(8).fill(0xff), 0), 2 ** 64);
});

test('parseHeader never throws on arbitrary bytes, and returns views only (no copies)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 2000 }), (bytes) => {
      const r = parseHeader(bytes);
      const n = bytes.length;
      if (n < MIN_FRAME_BYTES) return !r.ok && r.code === 'too_short';
      if (n > MAX_FRAME_BYTES) return !r.ok && r.code === 'too_long';
      if (bytes[0] !== 1) return !r.ok && r.code === 'version';
      if (bytes[1] !== 0) return !r.ok && r.code === 'flags';
      if (!r.ok) return false;
      const h = r.header;
      return (
        h.senderKey.buffer === bytes.buffer &&
        h.sealed.buffer === bytes.buffer &&
        h.ad.buffer === bytes.buffer &&
        h.nonce.buffer === bytes.buffer &&
        h.sealed.length === n - 66 &&
        h.plaintextLength === n - 82 &&
        h.plaintextLength >= 1 &&
        h.plaintextLength <= MAX_PLAINTEXT_BYTES
      );
    }),
    { seed: SEED, numRuns: 3000 },
  );
  // Frames that pass the format check (version 1, flags 0, any length in range).
  fc.assert(
    fc.property(fc.uint8Array({ minLength: MIN_FRAME_BYTES - 2, maxLength: MAX_FRAME_BYTES - 2 }), (rest) => {
      const d = new Uint8Array(rest.length + 2);
      d[0] = 1;
      d.set(rest, 2);
      const r = parseHeader(d);
      return r.ok && r.header.plaintextLength === d.length - 82;
    }),
    { seed: SEED + 1, numRuns: 1000 },
  );
  // A stricter profile cap is honoured.
  const d = new Uint8Array(1000);
  d[0] = 1;
  const capped = parseHeader(d, 999);
  assert.ok(!capped.ok && capped.code === 'too_long');
});

test('encode → parse → open round trip at random sizes, fields and keys', () => {
  const aead = fast.aead;
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.integer({ min: 1, max: MAX_PLAINTEXT_BYTES }),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      (key, sender, n, t, pn, rnd) => {
        const plaintext = seq(n, n);
        const out = new Uint8Array(frameSize(n) + 7); // a larger buffer is fine
        const len = encodeFrame(aead, key, { senderKey: sender, sendTimeMs: t, packetNumber: pn, nonceRandom: rnd }, plaintext, out);
        const datagram = out.subarray(0, len);
        const p = parseHeader(datagram);
        if (!p.ok) return false;
        const plain = new Uint8Array(p.header.plaintextLength);
        return (
          len === n + 82 &&
          p.header.sendTimeMs === t &&
          p.header.packetNumber === pn &&
          hex(p.header.senderKey) === hex(sender) &&
          openFrame(aead, key, p.header, plain) &&
          hex(plain) === hex(plaintext)
        );
      },
    ),
    { seed: SEED + 2, numRuns: 300 },
  );
});

test('encodeFrame refuses sizes outside 1..1370 and short buffers (programming errors)', () => {
  const key = new Uint8Array(32);
  const f = { senderKey: new Uint8Array(32), sendTimeMs: 0, packetNumber: 0, nonceRandom: new Uint8Array(16) };
  assert.throws(() => encodeFrame(fast.aead, key, f, new Uint8Array(0), new Uint8Array(100)), RangeError);
  assert.throws(() => encodeFrame(fast.aead, key, f, new Uint8Array(1371), new Uint8Array(2000)), RangeError);
  assert.throws(() => encodeFrame(fast.aead, key, f, new Uint8Array(10), new Uint8Array(91)), RangeError);
  assert.throws(() => encodeFrame(fast.aead, key, { ...f, senderKey: new Uint8Array(31) }, new Uint8Array(10), new Uint8Array(92)), RangeError);
  assert.equal(encodeFrame(fast.aead, key, f, new Uint8Array(1370), new Uint8Array(1452)), 1452);
});

test('openFrame: a wrong key, a wrong output length → false, never a throw', () => {
  const key = seq(1, 32);
  const out = new Uint8Array(frameSize(20));
  encodeFrame(fast.aead, key, { senderKey: seq(2, 32), sendTimeMs: 5, packetNumber: 6, nonceRandom: seq(3, 16) }, seq(4, 20), out);
  const p = parseHeader(out);
  assert.ok(p.ok);
  assert.equal(openFrame(fast.aead, seq(9, 32), p.header, new Uint8Array(20)), false);
  assert.equal(openFrame(fast.aead, key, p.header, new Uint8Array(19)), false);
  assert.equal(openFrame(fast.aead, key, p.header, new Uint8Array(20)), true);
});

// ---------------------------------------------------------------------------------------------
// Plaintext packing.

function buildPack(items: readonly { kind: number; body: Uint8Array }[]): Uint8Array {
  const out = new Uint8Array(packSize(items.map((i) => i.body.length)));
  out[0] = KIND_PACK;
  out[1] = items.length;
  let off = 2;
  for (const it of items) {
    const len = 1 + it.body.length;
    out[off] = len >> 8;
    out[off + 1] = len & 0xff;
    out[off + 2] = it.kind;
    out.set(it.body, off + 3);
    off += 2 + len;
  }
  return out;
}

test('splitPlaintext: single messages and packs round-trip', () => {
  const one = splitPlaintext(Uint8Array.from([7, 1, 2, 3]));
  assert.ok(one.ok);
  assert.equal(one.items.length, 1);
  assert.equal(one.items[0]!.kind, 7);
  assert.deepEqual([...one.items[0]!.body], [1, 2, 3]);
  const empty = splitPlaintext(Uint8Array.from([7]));
  assert.ok(empty.ok && empty.items[0]!.body.length === 0);
  // The docs/wire.md example.
  const doc = splitPlaintext(unhex('0002000301616200020163'));
  assert.ok(doc.ok);
  assert.deepEqual(doc.items.map((i) => [i.kind, Buffer.from(i.body).toString()]), [[1, 'ab'], [1, 'c']]);
  assert.equal(hex(buildPack([{ kind: 1, body: unhex('6162') }, { kind: 1, body: unhex('63') }])), '0002000301616200020163');

  fc.assert(
    fc.property(
      fc.array(fc.record({ kind: fc.integer({ min: 1, max: 255 }), body: fc.uint8Array({ maxLength: 40 }) }), { minLength: 2, maxLength: MAX_PACKED_MESSAGES }),
      (items) => {
        const p = buildPack(items);
        const r = splitPlaintext(p);
        return r.ok && r.items.length === items.length && r.items.every((it, i) => it.kind === items[i]!.kind && hex(it.body) === hex(items[i]!.body) && it.body.buffer === p.buffer);
      },
    ),
    { seed: SEED + 3, numRuns: 300 },
  );
});

test('splitPlaintext: count at cap−1, cap, cap+1 and 255; nesting, bad lengths, trailing bytes', () => {
  const mk = (count: number): Uint8Array => buildPack(Array.from({ length: count }, () => ({ kind: 1, body: new Uint8Array(0) })));
  assert.ok(splitPlaintext(mk(MAX_PACKED_MESSAGES - 1)).ok);
  assert.ok(splitPlaintext(mk(MAX_PACKED_MESSAGES)).ok);
  const over = mk(MAX_PACKED_MESSAGES + 1);
  assert.deepEqual(splitPlaintext(over), { ok: false, code: 'pack_count' });
  const p255 = mk(MAX_PACKED_MESSAGES);
  p255[1] = 255;
  assert.deepEqual(splitPlaintext(p255), { ok: false, code: 'pack_count' });
  assert.deepEqual(splitPlaintext(Uint8Array.from([0, 1, 0, 1, 5])), { ok: false, code: 'pack_count' });
  assert.deepEqual(splitPlaintext(Uint8Array.from([0])), { ok: false, code: 'pack_count' });
  assert.deepEqual(splitPlaintext(new Uint8Array(0)), { ok: false, code: 'empty' });
  const nested = buildPack([{ kind: 1, body: new Uint8Array(1) }, { kind: 2, body: new Uint8Array(1) }]);
  nested[2 + 2] = KIND_PACK;
  assert.deepEqual(splitPlaintext(nested), { ok: false, code: 'pack_nested' });
  const long = buildPack([{ kind: 1, body: new Uint8Array(1) }, { kind: 2, body: new Uint8Array(1) }]);
  long[2 + 1] = 200; // first item claims 200 bytes
  assert.deepEqual(splitPlaintext(long), { ok: false, code: 'pack_length' });
  const zero = buildPack([{ kind: 1, body: new Uint8Array(1) }, { kind: 2, body: new Uint8Array(1) }]);
  zero[2] = 0;
  zero[3] = 0;
  assert.deepEqual(splitPlaintext(zero), { ok: false, code: 'pack_length' });
  const trailing = Uint8Array.from([...buildPack([{ kind: 1, body: new Uint8Array(1) }, { kind: 2, body: new Uint8Array(1) }]), 9]);
  assert.deepEqual(splitPlaintext(trailing), { ok: false, code: 'pack_trailing' });
});

test('splitPlaintext never throws on arbitrary bytes and never returns more than the cap', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: MAX_PLAINTEXT_BYTES }), fc.boolean(), fc.integer({ min: 0, max: 255 }), (bytes, asPack, count) => {
      const b = Uint8Array.from(bytes);
      if (asPack && b.length >= 2) {
        b[0] = KIND_PACK;
        b[1] = count;
      }
      const r = splitPlaintext(b);
      if (!r.ok) return true;
      let total = 0;
      for (const it of r.items) total += it.body.length;
      return r.items.length <= MAX_PACKED_MESSAGES && total <= b.length && r.items.every((it) => it.body.buffer === b.buffer);
    }),
    { seed: SEED + 4, numRuns: 3000 },
  );
});

test('sodium-native XAEAD: the direct-binding path and the wrapper path (ECD_NO_SODIUM_BINDING=1) agree', async () => {
  const here = sodiumXAead();
  if (here === null) return; // sodium-native not installed: nothing to compare
  const key = Uint8Array.from({ length: 32 }, (_, i) => 0x11 * (i % 7));
  const nonce = Uint8Array.from({ length: 24 }, (_, i) => 255 - i);
  const ad = Uint8Array.from({ length: FRAME_SIZES.header }, (_, i) => i);
  const pt = Uint8Array.from({ length: 1117 }, (_, i) => (i * 13) & 0xff);
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  // The child seals and opens with the wrapper path and prints what it got.
  const aeadUrl = new URL('../kernels/aead.js', import.meta.url).href;
  const script = `
    const { sodiumXAead } = await import(${JSON.stringify(aeadUrl)});
    const h = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
    const [key, nonce, ad, pt] = process.argv.slice(1).map(h);
    const a = sodiumXAead();
    const out = new Uint8Array(pt.length + 16);
    a.sealInto(out, key, nonce, pt, ad);
    const opened = new Uint8Array(pt.length);
    const ok = a.openInto(opened, key, nonce, out, ad);
    out[5] ^= 1;
    const bad = a.openInto(opened, key, nonce, out, ad);
    out[5] ^= 1;
    process.stdout.write(JSON.stringify({ sealed: Buffer.from(out).toString('hex'), ok, bad }));`;
  const { execFileSync } = await import('node:child_process');
  const env: NodeJS.ProcessEnv = { ...process.env, ECD_NO_SODIUM_BINDING: '1' };
  delete env['NODE_TEST_CONTEXT'];
  const child = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script, hex(key), hex(nonce), hex(ad), hex(pt)], { env, encoding: 'utf8' }),
  ) as { sealed: string; ok: boolean; bad: boolean };
  assert.equal(child.ok, true);
  assert.equal(child.bad, false);
  const sealed = new Uint8Array(pt.length + 16);
  here.sealInto(sealed, key, nonce, pt, ad);
  assert.equal(hex(sealed), child.sealed, 'same ciphertext from both paths');
  const opened = new Uint8Array(pt.length);
  assert.equal(here.openInto(opened, key, nonce, sealed, ad), true);
  assert.equal(hex(opened), hex(pt));
  for (const i of [0, 600, sealed.length - 1]) {
    const bad = Uint8Array.from(sealed);
    bad[i] = bad[i]! ^ 0x80;
    assert.equal(here.openInto(opened, key, nonce, bad, ad), false, `flipped byte ${i}: refused, no throw`);
    assert.ok(opened.every((b) => b === 0), 'no plaintext left after a refusal');
    assert.equal(here.open(key, nonce, bad, ad), null);
  }
});
