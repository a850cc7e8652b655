/**
 * wire/messages.ts and wire/codec.ts: every message codec. Property tests (fixed seeds): round
 * trip per type; arbitrary and mutated bytes never throw and every accepted body is canonical;
 * every truncation fails; counts at cap − 1, cap, cap + 1 and 2^32 − 1; negative vectors (vote
 * mask pairs exhaustively); the worst case of every type fits 1 370 bytes; signing helpers.
 */
import { COVER_BYTES, coverAdd, coverMerge, covers } from '../wire/cover.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadCrypto } from '../kernels/crypto.js';
import type { CryptoKernels } from '../kernels/crypto.js';
import { validMasks } from '../consensus/messages.js';
import { SYNC } from '../consensus/sync.js';
import { BLOCK_MAX_ENTRIES } from '../wire/block.js';
import type { Block, BlockSignature } from '../wire/block.js';
import type { IdentityRecord } from '../wire/identity.js';
import { MAX_PLAINTEXT_BYTES, splitPlaintext } from '../wire/frame.js';
import { wireCodec } from '../wire/codec.js';
import {
  ANSWER_PROOF_PAIRS,
  LAYOUTS,
  MAX_ANSWER_EVIDENCE,
  MAX_BATCH_ITEMS,
  MAX_BODY_BYTES,
  MAX_JOB_ARGS,
  MAX_JOB_ENV,
  MAX_JOB_STRING_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_OFFER_IMAGES,
  MAX_OUTPUT_CHUNK_BYTES,
  MAX_REFERRAL_PEERS,
  MAX_REFUSE_DETAIL_BYTES,
  MESSAGE_TYPES,
  Reader,
  WIRE_DECODE_CONSEQUENCE,
  WireEncodeError,
  answerSigningMessage,
  answerStatement,
  checkMessage,
  decodeBody,
  decodeMessage,
  encodeBody,
  encodeMessage,
  encodedSize,
  endpointFromHost,
  endpointHost,
  jobId,
  layoutOfKind,
  outputChain,
  signAnswer,
  signJobMessage,
  verifyAnswer,
  verifyJobMessage,
  verifyOutputChunk,
} from '../wire/messages.js';
import type {
  AnswerMessage,
  AnswerStatement,
  JobSubmitMessage,
  WireDecodeResult,
  WireEndpoint,
  WireMessage,
  WireMessageType,
} from '../wire/messages.js';
import { seqBytes, vectorMessages, VECTOR_NETWORK_ID } from '../tools/wire-vectors.js';

const SEED = 0x3a1e_5eed;
const RUNS = 60;
const U32_MAX = 0xffff_ffff;

let crypto: CryptoKernels;
let samples: WireMessage[];
test.before(async () => {
  crypto = await loadCrypto();
  samples = vectorMessages(crypto);
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function mustOk(r: WireDecodeResult): WireMessage {
  if (!r.ok) assert.fail(`decode failed: ${r.code} at ${r.field}`);
  return r.message;
}

function mustFail(r: WireDecodeResult, code?: string, field?: string): void {
  assert.equal(r.ok, false, 'decode should fail');
  if (r.ok) return;
  if (code !== undefined) assert.equal(r.code, code, `code (field ${r.field})`);
  if (field !== undefined) assert.equal(r.field, field);
  assert.equal(r.consequence, WIRE_DECODE_CONSEQUENCE[r.code]);
}

/** fast-check builds records with a null prototype; compare values, not prototypes. */
function plain(x: unknown): unknown {
  if (x instanceof Uint8Array || x === null || typeof x !== 'object') return x;
  if (Array.isArray(x)) return x.map(plain);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) out[k] = plain(v);
  return out;
}

function roundTrip(m: WireMessage): void {
  assert.equal(checkMessage(m), null);
  const bytes = encodeMessage(m);
  assert.equal(bytes.length, encodedSize(m));
  assert.ok(bytes.length <= MAX_MESSAGE_BYTES);
  const back = mustOk(decodeMessage(bytes));
  assert.deepStrictEqual(plain(back), plain(m));
  assert.equal(hex(encodeMessage(back)), hex(bytes));
}

// ---------------------------------------------------------------------------------------------
// Arbitraries.

const bytesN = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });
const u64 = fc.maxSafeNat();
const u32 = fc.nat({ max: U32_MAX });
const i32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
const id = bytesN(32);
/** A sync range (lo, hi] with lo < hi. */
const range = fc
  .tuple(id, id)
  .filter(([a, b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0)
  .map(([a, b]) => (Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0 ? { lo: a, hi: b } : { lo: b, hi: a }));
const ticket = bytesN(16);
const str = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', maxLength: Math.floor(max / 4) });

const endpoint: fc.Arbitrary<WireEndpoint> = fc.oneof(
  fc.record({ family: fc.constant(4 as const), ip: bytesN(4), port: fc.nat({ max: 0xffff }) }),
  fc.record({ family: fc.constant(6 as const), ip: bytesN(16), port: fc.nat({ max: 0xffff }) }),
);

const identity: fc.Arbitrary<IdentityRecord> = fc.record({
  version: fc.constant(1),
  networkId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  publicKey: id,
  nonce: bytesN(16),
  time: u64,
  difficulty: fc.nat({ max: 255 }),
  signature: bytesN(64),
});

const signedBlock: fc.Arbitrary<{ block: Block; signatures: BlockSignature[] }> = fc
  .record({
    time: u64,
    tokens: fc.uniqueArray(id, { minLength: 1, maxLength: BLOCK_MAX_ENTRIES, selector: (t) => hex(t) }),
    rest: fc.array(fc.record({ update: fc.boolean(), last: id, next: id, pk: id, sig: bytesN(64) }), {
      minLength: BLOCK_MAX_ENTRIES,
      maxLength: BLOCK_MAX_ENTRIES,
    }),
  })
  .map(({ time, tokens, rest }) => {
    const entries = tokens.map((token, i) => {
      const r = rest[i]!;
      const last = r.update ? Uint8Array.from(r.last, (b, j) => (j === 0 ? b | 1 : b)) : new Uint8Array(32);
      return { token, last, nextKeyHash: r.next };
    });
    const signatures: BlockSignature[] = [];
    entries.forEach((_e, index) => {
      if (rest[index]!.update) signatures.push({ index, publicKey: rest[index]!.pk, signature: rest[index]!.sig });
    });
    return { block: { version: 1, time, entries }, signatures };
  });

/** Every (pos, neg) pair of u8s, in order. */
const ALL_MASK_PAIRS: readonly { readonly pos: number; readonly neg: number }[] = Array.from({ length: 0x1_0000 }, (_, i) => ({ pos: i >> 8, neg: i & 0xff }));
/** The well-formed block-level votes (bits 6–7 in use), as consensus/messages.ts defines them. */
const BLOCK_LEVEL_MASKS = ALL_MASK_PAIRS.filter((m) => ((m.pos | m.neg) & 0xc0) !== 0 && validMasks(m.pos, m.neg));
/** A well-formed vote: each of the six entries `+`, `−` or `0`, or a block-level state. */
const masks: fc.Arbitrary<{ pos: number; neg: number }> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.array(fc.constantFrom(1, -1, 0), { minLength: BLOCK_MAX_ENTRIES, maxLength: BLOCK_MAX_ENTRIES }).map((trits) => ({
      pos: trits.reduce<number>((m, t, i) => (t === 1 ? m | (1 << i) : m), 0),
      neg: trits.reduce<number>((m, t, i) => (t === -1 ? m | (1 << i) : m), 0),
    })),
  },
  { weight: 1, arbitrary: fc.constantFrom(...BLOCK_LEVEL_MASKS).map((m) => ({ pos: m.pos, neg: m.neg })) },
);
const vote = fc.tuple(id, masks, fc.boolean()).map(([blockId, m, reply]) => ({ type: 'vote' as const, blockId, pos: m.pos, neg: m.neg, reply }));
const queryBlock = fc.record({ type: fc.constant('query-block' as const), blockId: id, ticket });

const mapping = fc.record({ block: id, parent: id, time: u64, commitSeq: u64 });
const evidence = fc.array(fc.record({ token: id, block: id, commitSeq: u64 }), { maxLength: MAX_ANSWER_EVIDENCE });
const head = fc.record({ seq: u64, id, time: u64 });
const proof = fc.oneof(fc.constant([]), fc.array(fc.record({ token: id, block: id }), { minLength: 10, maxLength: 10 }));

const answer: fc.Arbitrary<AnswerMessage> = fc.record({
  type: fc.constant('answer' as const),
  requester: id,
  ticket,
  token: id,
  mapping,
  proof,
  evidence,
  head,
  answerTime: u64,
  responder: id,
  signature: bytesN(64),
});

const statement = (responder: Uint8Array): fc.Arbitrary<AnswerStatement> =>
  fc.record({
    requester: id,
    ticket,
    token: id,
    mapping,
    proofDigest: fc.option(id, { nil: null }),
    evidence,
    head,
    answerTime: u64,
    responder: fc.constant(responder),
    signature: bytesN(64),
  });

const jobState = fc.constantFrom('submitted', 'accepted', 'refused', 'running', 'exited', 'failed' as const);
const stateAndKill = fc.oneof(
  jobState.map((state) => ({ state, killReason: 'none' as const })),
  fc.constantFrom('timeout', 'oom', 'owner' as const).map((killReason) => ({ state: 'killed' as const, killReason })),
);
const finalStateAndKill = fc.oneof(
  fc.constantFrom('exited', 'failed' as const).map((state) => ({ state, killReason: 'none' as const })),
  fc.constantFrom('timeout', 'oom', 'owner' as const).map((killReason) => ({ state: 'killed' as const, killReason })),
);

const ARB: { readonly [T in WireMessageType]: fc.Arbitrary<Extract<WireMessage, { type: T }>> } = {
  ping: fc.record({ type: fc.constant('ping' as const), nonce: bytesN(16) }),
  pong: fc.record({ type: fc.constant('pong' as const), nonce: bytesN(16), observed: endpoint }),
  identity: fc.record({ type: fc.constant('identity' as const), record: identity }),
  'initial-vote': fc.tuple(signedBlock, masks, id, id).map(([s, m, origin, covered]) => ({ type: 'initial-vote' as const, ...s, pos: m.pos, neg: m.neg, origin, covered })),
  vote,
  'query-block': queryBlock,
  block: fc.tuple(signedBlock, ticket).map(([s, t]) => ({ type: 'block' as const, ...s, ticket: t })),
  batch: fc.record({ type: fc.constant('batch' as const), items: fc.array(fc.oneof(vote, queryBlock), { minLength: 1, maxLength: MAX_BATCH_ITEMS }) }),
  'query-token': fc.record({ type: fc.constant('query-token' as const), token: id, ticket, requester: id, wantProof: fc.boolean(), allowForward: fc.boolean() }),
  answer,
  referral: fc.record({
    type: fc.constant('referral' as const),
    token: id,
    ticket,
    peers: fc.array(fc.record({ identity, endpoint }), { minLength: 1, maxLength: MAX_REFERRAL_PEERS }),
  }),
  'sync-ask': fc.record({
    type: fc.constant('sync-ask' as const),
    ticket,
    ask: fc.tuple(range, fc.nat({ max: U32_MAX }), bytesN(8), fc.array(bytesN(8), { maxLength: SYNC.leafItems })).map(([r, count, fingerprint, have]) => ({ ...r, count, fingerprint, have })),
  }),
  'sync-reply': fc.record({
    type: fc.constant('sync-reply' as const),
    ticket,
    reply: fc.oneof(
      range.map((r) => ({ kind: 'same' as const, range: r })),
      fc.tuple(range, fc.array(fc.record({ token: id, block: id }), { maxLength: SYNC.leafItems })).map(([r, items]) => ({ kind: 'items' as const, range: r, items })),
      fc.tuple(range, fc.array(fc.record({ count: fc.nat({ max: U32_MAX }), fingerprint: bytesN(8) }), { minLength: SYNC.branch, maxLength: SYNC.branch })).map(([r, parts]) => ({ kind: 'parts' as const, range: r, parts })),
    ),
  }),
  'fraud-proof': id.chain((responder) =>
    fc.record({
      type: fc.constant('fraud-proof' as const),
      predicate: fc.constantFrom('fork', 'rollback', 'double-mapping' as const),
      a: statement(responder),
      b: statement(responder),
    }),
  ),
  'job-offer': fc.record({
    type: fc.constant('job-offer' as const),
    provider: id,
    issuedAt: u64,
    expiresAt: u64,
    cpuNano: u64,
    memoryBytes: u64,
    maxTimeoutMs: u32,
    maxOutputBytes: u32,
    pricePerCpuSecond: u64,
    pricePerGiBSecond: u64,
    images: fc.array(id, { maxLength: MAX_OFFER_IMAGES }),
    signature: bytesN(64),
  }),
  'job-submit': fc.record({
    type: fc.constant('job-submit' as const),
    provider: id,
    imageRef: fc.constantFrom('digest', 'id' as const),
    image: id,
    cpuNano: u64,
    memoryBytes: u64,
    timeoutMs: u32,
    network: fc.constantFrom('none', 'bridge' as const),
    maxOutputBytes: u32,
    // Kept small so that every generated spec fits one frame (the size bound is tested apart).
    argv: fc.array(str(40), { maxLength: 8 }),
    env: fc.array(str(40), { maxLength: 8 }),
    client: id,
    nonce: bytesN(16),
    signature: bytesN(64),
  }),
  'job-accept': fc.record({ type: fc.constant('job-accept' as const), jobId: id, time: u64 }),
  'job-refuse': fc.record({
    type: fc.constant('job-refuse' as const),
    jobId: id,
    reason: fc.constantFrom('capacity', 'image-not-allowed', 'limits', 'price', 'bad-signature', 'duplicate', 'expired', 'other' as const),
    detail: str(MAX_REFUSE_DETAIL_BYTES),
  }),
  'job-status': fc.tuple(id, stateAndKill, i32, u64).map(([jobId, sk, exitCode, time]) => ({ type: 'job-status' as const, jobId, ...sk, exitCode, time })),
  'job-query': fc.record({
    type: fc.constant('job-query' as const),
    jobId: id,
    what: fc.constantFrom('status', 'receipt', 'output' as const),
    stream: fc.constantFrom('stdout', 'stderr' as const),
    fromChunk: u32,
  }),
  'job-receipt': fc
    .tuple(fc.tuple(id, id, id, id, id, id), fc.tuple(u64, u64, u64, u64, u64, u64), finalStateAndKill, i32, bytesN(64))
    .map(([[jobId, specHash, imageId, provider, stdoutHash, stderrHash], [start, end, stdoutBytes, stderrBytes, cpuMillis, peakMemoryBytes], sk, exitCode, signature]) => ({
      type: 'job-receipt' as const,
      jobId,
      specHash,
      imageId,
      provider,
      start,
      end,
      ...sk,
      exitCode,
      stdoutHash,
      stdoutBytes,
      stderrHash,
      stderrBytes,
      cpuMillis,
      peakMemoryBytes,
      signature,
    })),
  'job-output': fc
    .tuple(id, fc.constantFrom('stdout', 'stderr' as const), u32, u32, id, fc.uint8Array({ maxLength: MAX_OUTPUT_CHUNK_BYTES }))
    .map(([jobId, stream, a, b, next, data]) => {
      const total = Math.max(1, Math.max(a, b));
      const index = Math.min(a, b) === total ? total - 1 : Math.min(a, b);
      return { type: 'job-output' as const, jobId, stream, index, total, next, data };
    }),
};

const anyMessage: fc.Arbitrary<WireMessage> = fc.oneof(...MESSAGE_TYPES.map((t) => ARB[t] as fc.Arbitrary<WireMessage>));

// ---------------------------------------------------------------------------------------------
// Round trips.

test('the kind table: distinct kinds in 1..255, every type has an arbitrary and a vector', () => {
  const kinds = MESSAGE_TYPES.map((t) => LAYOUTS[t].kind);
  assert.equal(new Set(kinds).size, kinds.length);
  for (const k of kinds) assert.ok(k >= 1 && k <= 255);
  assert.deepEqual(new Set(Object.keys(ARB)), new Set(MESSAGE_TYPES));
  assert.deepEqual(new Set(samples.map((m) => m.type)), new Set(MESSAGE_TYPES));
  for (const t of MESSAGE_TYPES) assert.ok(LAYOUTS[t].maxBody <= MAX_BODY_BYTES, `${t} maxBody`);
});

for (const type of MESSAGE_TYPES) {
  test(`${type}: round trip (decode ∘ encode = id, re-encoding is byte-identical, size is exact)`, () => {
    fc.assert(fc.property(ARB[type] as fc.Arbitrary<WireMessage>, roundTrip), { seed: SEED, numRuns: RUNS });
  });
}

test('every vector message round-trips and every truncation of it fails cleanly', () => {
  for (const m of samples) {
    roundTrip(m);
    const bytes = encodeMessage(m);
    for (let n = 0; n < bytes.length; n++) {
      const r = decodeMessage(bytes.subarray(0, n));
      assert.equal(r.ok, false, `${m.type} truncated to ${n} bytes must fail`);
      if (!r.ok && n >= 2) assert.equal(r.consequence, 'REJECT', `${m.type} at ${n}: ${r.code}`);
    }
  }
});

test('truncations of arbitrary messages fail', () => {
  fc.assert(
    fc.property(anyMessage, fc.nat(), (m, cut) => {
      const bytes = encodeMessage(m);
      const n = cut % bytes.length;
      assert.equal(decodeMessage(bytes.subarray(0, n)).ok, false);
    }),
    { seed: SEED, numRuns: 300 },
  );
});

// ---------------------------------------------------------------------------------------------
// Hostile bytes.

/** Every repeated field of a decoded message is within its cap. */
function withinCaps(m: WireMessage): boolean {
  switch (m.type) {
    case 'batch':
      return m.items.length <= MAX_BATCH_ITEMS;
    case 'referral':
      return m.peers.length <= MAX_REFERRAL_PEERS;
    case 'sync-ask':
      return m.ask.have.length <= SYNC.leafItems;
    case 'sync-reply':
      return m.reply.kind !== 'items' || m.reply.items.length <= SYNC.leafItems;
    case 'answer':
      return m.proof.length <= ANSWER_PROOF_PAIRS && m.evidence.length <= MAX_ANSWER_EVIDENCE;
    case 'fraud-proof':
      return m.a.evidence.length <= MAX_ANSWER_EVIDENCE && m.b.evidence.length <= MAX_ANSWER_EVIDENCE;
    case 'job-offer':
      return m.images.length <= MAX_OFFER_IMAGES;
    case 'job-submit':
      return m.argv.length <= MAX_JOB_ARGS && m.env.length <= MAX_JOB_ENV;
    case 'job-output':
      return m.data.length <= MAX_OUTPUT_CHUNK_BYTES;
    default:
      return true;
  }
}

function checkHostile(kind: number, body: Uint8Array): void {
  let r: WireDecodeResult;
  try {
    r = decodeBody(kind, body);
  } catch (err) {
    assert.fail(`decodeBody threw on kind ${kind}, body ${hex(body)}: ${String(err)}`);
  }
  if (r.ok) {
    assert.ok(withinCaps(r.message));
    // Whatever is accepted is canonical: it re-encodes to exactly the bytes received.
    assert.equal(hex(encodeBody(r.message)), hex(body), `kind ${kind} accepted a non-canonical body`);
  } else {
    assert.notEqual(r.code, 'internal', `kind ${kind}: internal error on ${hex(body)}`);
    assert.equal(r.consequence, WIRE_DECODE_CONSEQUENCE[r.code]);
  }
}

test('arbitrary bytes of any kind never throw, never reach an internal error', () => {
  fc.assert(
    fc.property(fc.nat({ max: 255 }), fc.uint8Array({ maxLength: MAX_PLAINTEXT_BYTES + 8 }), fc.boolean(), (kind, body, v1) => {
      const b = v1 && body.length > 0 ? Uint8Array.from(body, (x, i) => (i === 0 ? 1 : x)) : body;
      checkHostile(kind, b);
    }),
    { seed: SEED, numRuns: 1500 },
  );
});

test('mutated valid encodings never throw, and anything accepted is canonical and within caps', () => {
  const mutation = fc.record({ at: fc.nat(), value: fc.nat({ max: 255 }), op: fc.constantFrom('set', 'insert', 'delete', 'count') });
  fc.assert(
    fc.property(anyMessage, fc.array(mutation, { minLength: 1, maxLength: 3 }), (m, muts) => {
      const bytes = Array.from(encodeMessage(m));
      for (const mu of muts) {
        const at = 1 + (mu.at % Math.max(1, bytes.length - 1));
        if (mu.op === 'set') bytes[at] = mu.value;
        else if (mu.op === 'insert') bytes.splice(at, 0, mu.value);
        else if (mu.op === 'delete') bytes.splice(at, 1);
        else bytes.splice(at, 4, 0xff, 0xff, 0xff, mu.value);
      }
      const b = Uint8Array.from(bytes);
      checkHostile(b[0] ?? 0, b.subarray(1));
    }),
    { seed: SEED, numRuns: 1500 },
  );
});

// ---------------------------------------------------------------------------------------------
// Negative vectors.

test('negative vectors: unknown kind, unknown version, empty body, trailing bytes, over-long body', () => {
  const unknownKinds = [0, 4, 15, 21, 31, 38, 47, 56, 200, 255];
  for (const k of unknownKinds) {
    assert.equal(layoutOfKind(k), undefined);
    mustFail(decodeBody(k, Uint8Array.of(1, 2, 3)), 'kind');
    const r = decodeBody(k, Uint8Array.of(1));
    assert.ok(!r.ok && r.consequence === 'IGNORE');
  }
  for (const m of samples) {
    const bytes = encodeMessage(m);
    const kind = bytes[0]!;
    const body = bytes.subarray(1);
    for (const v of [0, 2, 0xff]) {
      const wrong = Uint8Array.from(body);
      wrong[0] = v;
      mustFail(decodeBody(kind, wrong), 'version');
    }
    mustFail(decodeBody(kind, new Uint8Array(0)), 'short');
    const trailing = new Uint8Array(body.length + 1);
    trailing.set(body);
    const r = decodeBody(kind, trailing);
    mustFail(r);
    // 'length' when the body is longer than any body of its kind (checked before parsing).
    assert.ok(!r.ok && (r.code === 'trailing' || r.code === 'length' || r.code === 'block'), `${m.type}: ${!r.ok ? r.code : ''}`);
    assert.ok(!r.ok && r.consequence === 'REJECT');
    mustFail(decodeBody(kind, new Uint8Array(MAX_BODY_BYTES + 1).fill(1)), 'length');
  }
  mustFail(decodeMessage(new Uint8Array(0)), 'short');
  mustFail(decodeMessage(new Uint8Array(MAX_MESSAGE_BYTES + 1)), 'length');
});

test('negative vectors: reserved bits, bad enums, non-canonical unused fields', () => {
  const patch = (m: WireMessage, at: number, v: number): Uint8Array => {
    const b = encodeMessage(m);
    b[at] = v;
    return b;
  };
  const get = <T extends WireMessageType>(t: T): Extract<WireMessage, { type: T }> => samples.find((m) => m.type === t) as Extract<WireMessage, { type: T }>;
  mustFail(decodeMessage(patch(get('vote'), 36, 0x03)), 'field', 'flags');
  mustFail(decodeMessage(patch(get('query-token'), 2, 0x04)), 'field', 'flags');
  mustFail(decodeMessage(patch(get('pong'), 18, 5)), 'field', 'observed.family');
  mustFail(decodeMessage(patch(get('batch'), 6, 19)), 'field', 'items.kind');
  mustFail(decodeMessage(patch(get('fraud-proof'), 2, 4)), 'field', 'predicate');
  mustFail(decodeMessage(patch(get('job-status'), 35, 0)), 'field', 'killReason');
  mustFail(decodeMessage(patch(get('job-refuse'), 34, 0)), 'field', 'reason');
  // A sync range whose lo is not below its hi (lo's first byte raised above hi's), and a reply of an unknown form.
  mustFail(decodeMessage(patch(get('sync-ask'), 18, 0xff)), 'field', 'hi');
  mustFail(decodeMessage(patch(get('sync-reply'), 82, 3)), 'field', 'form');
  // A u64 above 2^53 − 1.
  mustFail(decodeMessage(patch(get('job-accept'), 34, 0x20)), 'range', 'time');
  // IDENTITY with a record of an unknown version.
  mustFail(decodeMessage(patch(get('identity'), 2, 2)), 'identity');
  // A block whose structure is wrong (entry count 7: kind, 67-byte header, version, time u64).
  mustFail(decodeMessage(patch(get('initial-vote'), 1 + 67 + 1 + 8, 7)), 'block');
  // Invalid UTF-8 in a string.
  const refuse = encodeMessage(get('job-refuse'));
  refuse[refuse.length - 1] = 0xff;
  mustFail(decodeMessage(refuse), 'utf8', 'detail');
  // Fraud proof whose statements name different responders.
  const fp = get('fraud-proof');
  assert.ok(checkMessage({ ...fp, b: { ...fp.b, responder: seqBytes(9, 32) } }) instanceof WireEncodeError);
  const fpBytes = encodeMessage(fp);
  const bResponderAt = fpBytes.length - 64 - 32;
  fpBytes[bResponderAt] = fpBytes[bResponderAt]! ^ 1;
  mustFail(decodeMessage(fpBytes), 'field', 'b.responder');
});

// ---------------------------------------------------------------------------------------------
// Three-valued votes: mask pairs and the origin.

/** Plaintext offsets (kind byte at 0) of the mask bytes in the vector of each vote-carrying kind. */
const MASK_AT = { 'initial-vote': { pos: 2, neg: 3 }, vote: { pos: 34, neg: 35 }, batch: { pos: 39, neg: 40 } } as const;
type VoteCarrier = keyof typeof MASK_AT;

/** The vector of `type` with its (first) vote set to `pos`/`neg`, typed but not checked. */
function withMasks(type: VoteCarrier, pos: unknown, neg: unknown): WireMessage {
  const m = samples.find((x) => x.type === type) as Extract<WireMessage, { type: VoteCarrier }>;
  if (m.type !== 'batch') return { ...m, pos, neg } as unknown as WireMessage;
  const [first, ...rest] = m.items;
  return { ...m, items: [{ ...first, pos, neg }, ...rest] } as unknown as WireMessage;
}

const encodedCarrier = new Map<VoteCarrier, Uint8Array>();

/** The vector of `type`, encoded, with its (first) vote's mask bytes overwritten. */
function patchMasks(type: VoteCarrier, pos: number, neg: number): Uint8Array {
  let plain = encodedCarrier.get(type);
  if (plain === undefined) {
    plain = encodeMessage(samples.find((x) => x.type === type)!);
    encodedCarrier.set(type, plain);
  }
  const b = Uint8Array.from(plain);
  b[MASK_AT[type].pos] = pos;
  b[MASK_AT[type].neg] = neg;
  return b;
}

function mustRefuseEncode(m: WireMessage, field: string, what: string): void {
  const p = checkMessage(m);
  assert.ok(p instanceof WireEncodeError, `${what}: checkMessage accepted it`);
  assert.equal(p.code, 'field', what);
  assert.equal(p.field, field, what);
  assert.throws(() => encodeMessage(m), WireEncodeError, what);
  assert.equal(encodedSize(m), -1, what);
  assert.equal(wireCodec().bodySize(m), -1, what);
}

const CARRIERS: readonly VoteCarrier[] = ['initial-vote', 'vote', 'batch'];

test('vote masks: the vectors carry pos and neg at the documented offsets', () => {
  for (const type of CARRIERS) {
    const m = samples.find((x) => x.type === type) as Extract<WireMessage, { type: VoteCarrier }>;
    const v = m.type === 'batch' ? (m.items[0] as Extract<WireMessage, { type: 'vote' }>) : m;
    const b = encodeMessage(m);
    assert.equal(b[MASK_AT[type].pos], v.pos, `${type} pos`);
    assert.equal(b[MASK_AT[type].neg], v.neg, `${type} neg`);
  }
});

test('vote masks: overlapping pos/neg and bits 6–7 outside the block-level states are refused on decode and on encode', () => {
  const bad: readonly (readonly [number, number, string])[] = [
    [0x01, 0x01, 'entry 0 both + and −'],
    [0x3f, 0x20, 'overlap on entry 5'],
    [0x15, 0x3f, 'overlap on three entries'],
    [0xff, 0xff, 'both masks full'],
    [0xff, 0x01, 'committed with a − bit'],
    [0x01, 0xff, 'rejected with a + bit'],
    [0x40, 0x00, 'pos bit 6 alone'],
    [0x80, 0x00, 'pos bit 7 alone'],
    [0x00, 0x40, 'neg bit 6 alone'],
    [0x00, 0x80, 'neg bit 7 alone'],
    [0x80, 0x40, 'bit 7 in pos, bit 6 in neg'],
    [0xbf, 0x00, 'pos all but bit 6'],
    [0x00, 0xbf, 'neg all but bit 6'],
    [0x7f, 0x80, 'disjoint, all bits, not a block-level state'],
    [0xfe, 0x01, 'committed but entry 0 −'],
    [0x01, 0xfe, 'rejected but entry 0 +'],
    [0x3f, 0xc0, 'all entries + and bits 6–7 in neg'],
  ];
  for (const type of CARRIERS) {
    for (const [pos, neg, why] of bad) {
      const what = `${type} pos 0x${pos.toString(16)} neg 0x${neg.toString(16)} (${why})`;
      assert.equal(validMasks(pos, neg), false, what);
      const r = decodeMessage(patchMasks(type, pos, neg));
      mustFail(r, 'field', 'neg');
      assert.ok(!r.ok && r.consequence === 'REJECT', what);
      mustRefuseEncode(withMasks(type, pos, neg), 'neg', what);
    }
  }
});

test('vote masks: non-u8 values are refused on encode', () => {
  for (const type of CARRIERS) {
    for (const v of [-1, 256, 1.5, Number.NaN, '1', null, undefined]) {
      mustRefuseEncode(withMasks(type, v, 0), 'pos', `${type} pos ${String(v)}`);
      mustRefuseEncode(withMasks(type, 0, v), 'neg', `${type} neg ${String(v)}`);
    }
  }
});

test('vote masks: exactly the pairs validMasks accepts decode and encode (all 65 536, each carrier)', () => {
  // Every per-entry vote (three values on each of six entries) is among them, and so are both
  // block-level states.
  const perEntry = ALL_MASK_PAIRS.filter((m) => ((m.pos | m.neg) & 0xc0) === 0 && (m.pos & m.neg) === 0);
  assert.equal(perEntry.length, 3 ** 6);
  for (const { pos, neg } of perEntry) assert.ok(validMasks(pos, neg), `per-entry pos 0x${pos.toString(16)} neg 0x${neg.toString(16)}`);
  assert.ok(BLOCK_LEVEL_MASKS.some((m) => m.neg === 0) && BLOCK_LEVEL_MASKS.some((m) => m.pos === 0), 'committed and rejected');
  for (const { pos, neg } of ALL_MASK_PAIRS) {
    const valid = validMasks(pos, neg);
    const what = `pos 0x${pos.toString(16)} neg 0x${neg.toString(16)}`;
    for (const type of CARRIERS) {
      const r = decodeMessage(patchMasks(type, pos, neg));
      if (r.ok !== valid) assert.fail(`${type} ${what}: decode ${r.ok ? 'accepted' : `refused (${r.code})`}`);
      if (!r.ok && (r.code !== 'field' || r.field !== 'neg')) assert.fail(`${type} ${what}: ${r.code} at ${r.field}`);
      const p = checkMessage(withMasks(type, pos, neg));
      if ((p === null) !== valid) assert.fail(`${type} ${what}: encode ${p === null ? 'accepted' : 'refused'}`);
    }
  }
});

test('INITIAL_VOTE origin: a short or long origin is refused on encode; a short one on decode', () => {
  const iv = samples.find((m) => m.type === 'initial-vote') as Extract<WireMessage, { type: 'initial-vote' }>;
  for (const origin of [z(31), z(33), new Uint8Array(0), undefined, Array.from(z(32))]) {
    mustRefuseEncode({ ...iv, origin } as unknown as WireMessage, 'origin', `origin ${origin === undefined ? 'undefined' : `of length ${origin.length}`}`);
  }
  // Bodies that end inside the origin (plaintext offsets 4 … 35).
  const bytes = encodeMessage(iv);
  for (let n = 4; n < 36; n++) mustFail(decodeMessage(bytes.subarray(0, n)), 'short', 'origin');
  // A 31-byte origin: the origin swallows the block's first byte and the block no longer parses.
  const short = Uint8Array.from([...bytes.subarray(0, 4 + 31), ...bytes.subarray(4 + 32)]);
  const r = decodeMessage(short);
  mustFail(r, 'block', 'block');
  assert.ok(!r.ok && r.consequence === 'REJECT');
});

// ---------------------------------------------------------------------------------------------
// Counts at the caps.

function u32At(b: Uint8Array, at: number, v: number): Uint8Array {
  const out = Uint8Array.from(b);
  new DataView(out.buffer).setUint32(at, v, false);
  return out;
}

/**
 * Decodes a plaintext with a tracing Reader and returns the plaintext offset of the last field
 * read: a decoder that stops at a count has allocated nothing for the items behind it.
 */
function lastReadAt(plaintext: Uint8Array): number {
  const spec = layoutOfKind(plaintext[0]!);
  assert.ok(spec !== undefined);
  let last = -1;
  const r = new Reader(plaintext.subarray(2), (offset) => {
    last = Math.max(last, offset + 2);
  });
  assert.throws(() => spec.read(r));
  return last;
}

interface CapCase {
  readonly name: string;
  readonly cap: number;
  /** The smallest count the field accepts. */
  readonly min: number;
  /** A valid message with `n` items (n in min..cap + 1; cap + 1 must be refused by the encoder). */
  make(n: number): WireMessage;
  /** Offset of the u32 count in the plaintext (kind ‖ body) of make(n). */
  countAt(n: number): number;
  /** Bytes of one item as encoded at the end of the repeated field (for the cap + 1 body). */
  readonly itemBytes: number;
  /** Offset where the items end in make(n)'s plaintext. */
  itemsEnd(n: number): number;
  /** Counts between min and cap the field refuses anyway (the answer's proof: 0 or 10 only). */
  readonly holes?: readonly number[];
}

const z = (n: number, v = 7): Uint8Array => new Uint8Array(n).fill(v);
const baseAnswer = (p: number, e: number): AnswerMessage => ({
  type: 'answer',
  requester: z(32),
  ticket: z(16),
  token: z(32),
  mapping: { block: z(32), parent: z(32), time: 1, commitSeq: 2 },
  proof: Array.from({ length: p }, () => ({ token: z(32, 1), block: z(32, 2) })),
  evidence: Array.from({ length: e }, () => ({ token: z(32, 3), block: z(32, 4), commitSeq: 5 })),
  head: { seq: 6, id: z(32), time: 7 },
  answerTime: 8,
  responder: z(32, 9),
  signature: z(64),
});
const baseStatement = (e: number): AnswerStatement => {
  const { type: _t, proof: _p, ...rest } = baseAnswer(0, e);
  return { ...rest, proofDigest: z(32, 5) };
};
const baseSubmit = (argv: number, env: number): JobSubmitMessage => ({
  type: 'job-submit',
  provider: z(32),
  imageRef: 'digest',
  image: z(32),
  cpuNano: 1,
  memoryBytes: 2,
  timeoutMs: 3,
  network: 'none',
  maxOutputBytes: 4,
  argv: Array.from({ length: argv }, () => 'a'),
  env: Array.from({ length: env }, () => 'b'),
  client: z(32),
  nonce: z(16),
  signature: z(64),
});
const someIdentity = (): IdentityRecord => ({ version: 1, networkId: 3n, publicKey: z(32), nonce: z(16), time: 5, difficulty: 2, signature: z(64) });

const CAP_CASES: readonly CapCase[] = [
  {
    name: 'BATCH items',
    cap: MAX_BATCH_ITEMS,
    min: 1,
    make: (n) => ({ type: 'batch', items: Array.from({ length: n }, () => ({ type: 'query-block' as const, blockId: z(32), ticket: z(16) })) }),
    countAt: () => 2,
    itemBytes: 49,
    itemsEnd: (n) => 6 + 49 * n,
  },
  {
    name: 'REFERRAL peers',
    cap: MAX_REFERRAL_PEERS,
    min: 1,
    make: (n) => ({ type: 'referral', token: z(32), ticket: z(16), peers: Array.from({ length: n }, () => ({ identity: someIdentity(), endpoint: { family: 4 as const, ip: z(4), port: 1 } })) }),
    countAt: () => 50,
    itemBytes: 137,
    itemsEnd: (n) => 54 + 137 * n,
  },
  {
    name: 'SYNC_REPLY items',
    cap: SYNC.leafItems,
    min: 0,
    make: (n) => ({ type: 'sync-reply', ticket: z(16), reply: { kind: 'items', range: { lo: z(32, 1), hi: z(32, 9) }, items: Array.from({ length: n }, () => ({ token: z(32, 1), block: z(32) })) } }),
    countAt: () => 83,
    itemBytes: 64,
    itemsEnd: (n) => 87 + 64 * n,
  },
  {
    name: 'ANSWER proof pairs',
    cap: ANSWER_PROOF_PAIRS,
    min: 0,
    holes: [1, 2, 3, 4, 5, 6, 7, 8, 9],
    make: (n) => baseAnswer(n, 2),
    countAt: () => 162,
    itemBytes: 64,
    itemsEnd: (n) => 166 + 64 * n,
  },
  {
    name: 'ANSWER evidence items',
    cap: MAX_ANSWER_EVIDENCE,
    min: 0,
    make: (n) => baseAnswer(10, n),
    countAt: () => 166 + 640,
    itemBytes: 72,
    itemsEnd: (n) => 166 + 640 + 4 + 72 * n,
  },
  {
    name: 'FRAUD_PROOF statement evidence items',
    cap: MAX_ANSWER_EVIDENCE,
    min: 0,
    make: (n) => ({ type: 'fraud-proof', predicate: 'fork', a: baseStatement(2), b: baseStatement(n) }),
    // kind, version, predicate, statement a (353 + 144), then b's evidence count after 197 bytes.
    countAt: () => 3 + 353 + 144 + 197,
    itemBytes: 72,
    itemsEnd: (n) => 3 + 353 + 144 + 197 + 4 + 72 * n,
  },
  {
    name: 'JOB_OFFER images',
    cap: MAX_OFFER_IMAGES,
    min: 0,
    make: (n) => ({
      type: 'job-offer',
      provider: z(32),
      issuedAt: 1,
      expiresAt: 2,
      cpuNano: 3,
      memoryBytes: 4,
      maxTimeoutMs: 5,
      maxOutputBytes: 6,
      pricePerCpuSecond: 7,
      pricePerGiBSecond: 8,
      images: Array.from({ length: n }, () => z(32)),
      signature: z(64),
    }),
    countAt: () => 90,
    itemBytes: 32,
    itemsEnd: (n) => 94 + 32 * n,
  },
  {
    name: 'JOB_SUBMIT argv',
    cap: MAX_JOB_ARGS,
    min: 0,
    make: (n) => baseSubmit(n, 1),
    countAt: () => 92,
    itemBytes: 3,
    itemsEnd: (n) => 96 + 3 * n,
  },
  {
    name: 'JOB_SUBMIT env',
    cap: MAX_JOB_ENV,
    min: 0,
    make: (n) => baseSubmit(1, n),
    countAt: () => 96 + 3,
    itemBytes: 3,
    itemsEnd: (n) => 96 + 3 + 4 + 3 * n,
  },
];

for (const c of CAP_CASES) {
  test(`counts: ${c.name} at cap − 1, cap (ok), cap + 1 and 2^32 − 1 (refused before allocating)`, () => {
    for (const n of [c.cap - 1, c.cap]) {
      if (n < c.min) continue;
      const m = c.make(n);
      if (c.holes?.includes(n) === true) {
        assert.ok(checkMessage(m) instanceof WireEncodeError, `${n} is refused`);
        const ok = encodeMessage(c.make(c.cap));
        mustFail(decodeMessage(u32At(ok, c.countAt(c.cap), n)));
        continue;
      }
      roundTrip(m);
      const bytes = encodeMessage(m);
      assert.equal(new DataView(bytes.buffer).getUint32(c.countAt(n), false), n, 'count offset');
      assert.equal(c.itemsEnd(n) - c.itemBytes, c.itemsEnd(n - 1), 'item size');
    }
    // cap + 1: the encoder refuses, and a body claiming cap + 1 items (all present) is refused.
    const over = c.make(c.cap + 1);
    const problem = checkMessage(over);
    assert.ok(problem instanceof WireEncodeError);
    assert.ok(problem.code === 'count' || problem.code === 'too_large');
    assert.equal(encodedSize(over), -1);
    assert.throws(() => encodeMessage(over), WireEncodeError);
    const atCap = encodeMessage(c.make(c.cap));
    const end = c.itemsEnd(c.cap);
    const grown = new Uint8Array(atCap.length + c.itemBytes);
    grown.set(atCap.subarray(0, end), 0);
    grown.set(atCap.subarray(end - c.itemBytes, end), end);
    grown.set(atCap.subarray(end), end + c.itemBytes);
    const claimed = u32At(grown, c.countAt(c.cap), c.cap + 1);
    const r = decodeMessage(claimed);
    mustFail(r);
    assert.ok(!r.ok && (r.code === 'count' || r.code === 'length'), `cap + 1: ${!r.ok ? r.code : ''}`);
    // 2^32 − 1 in a short buffer: refused at the count, before any item is read or allocated.
    const huge = u32At(atCap, c.countAt(c.cap), U32_MAX);
    mustFail(decodeMessage(huge), 'count');
    assert.equal(lastReadAt(huge), c.countAt(c.cap), 'nothing is read after the count');
    // A count within the cap that the remaining bytes cannot hold fails at the count too, even
    // when the first item is there: no item is read (or allocated) on the strength of the count.
    const cut = atCap.subarray(0, c.countAt(c.cap) + 4 + c.itemBytes);
    const claimsCap = u32At(cut, c.countAt(c.cap), c.cap);
    const r2 = decodeMessage(claimsCap);
    mustFail(r2);
    assert.ok(!r2.ok && (r2.code === 'short' || r2.code === 'count'));
    assert.equal(lastReadAt(claimsCap), c.countAt(c.cap), 'nothing is read after the count');
  });
}

/** u16 lengths of byte strings: cap − 1, cap, cap + 1 and 0xFFFF. */
test('lengths: job strings, refusal detail, output chunk at cap − 1, cap, cap + 1 and 65 535', () => {
  const cases: { name: string; cap: number; make(n: number): WireMessage; lengthAt: number }[] = [
    {
      name: 'refuse detail',
      cap: MAX_REFUSE_DETAIL_BYTES,
      make: (n) => ({ type: 'job-refuse', jobId: z(32), reason: 'other', detail: 'x'.repeat(n) }),
      lengthAt: 35,
    },
    {
      name: 'output data',
      cap: MAX_OUTPUT_CHUNK_BYTES,
      make: (n) => ({ type: 'job-output', jobId: z(32), stream: 'stdout', index: 0, total: 1, next: z(32, 0), data: z(n) }),
      lengthAt: 75,
    },
    {
      name: 'argv item',
      cap: MAX_JOB_STRING_BYTES,
      make: (n) => ({ ...baseSubmit(0, 0), argv: ['y'.repeat(n)] }),
      lengthAt: 96,
    },
  ];
  for (const c of cases) {
    for (const n of [c.cap - 1, c.cap]) roundTrip(c.make(n));
    const over = c.make(c.cap + 1);
    const p = checkMessage(over);
    assert.ok(p instanceof WireEncodeError && p.code === 'length', c.name);
    const atCap = encodeMessage(c.make(c.cap));
    const grown = new Uint8Array(atCap.length + 1);
    grown.set(atCap.subarray(0, c.lengthAt + 2 + c.cap));
    grown[c.lengthAt + 2 + c.cap] = 0x78;
    grown.set(atCap.subarray(c.lengthAt + 2 + c.cap), c.lengthAt + 3 + c.cap);
    const dv = new DataView(grown.buffer);
    assert.equal(dv.getUint16(c.lengthAt, false), c.cap, `${c.name} length offset`);
    dv.setUint16(c.lengthAt, c.cap + 1, false);
    mustFail(decodeMessage(grown), 'length');
    const huge = Uint8Array.from(atCap);
    new DataView(huge.buffer).setUint16(c.lengthAt, 0xffff, false);
    mustFail(decodeMessage(huge), 'length');
  }
});

// ---------------------------------------------------------------------------------------------
// Worst cases fit a frame.

test('the worst case of every type fits 1 370 bytes (and equals the layout’s maxBody)', () => {
  const mkBlock = (): { block: Block; signatures: BlockSignature[] } => {
    const entries = Array.from({ length: BLOCK_MAX_ENTRIES }, (_, i) => ({ token: z(32, i + 1), last: z(32, 9), nextKeyHash: z(32) }));
    return { block: { version: 1, time: 1, entries }, signatures: entries.map((_, index) => ({ index, publicKey: z(32), signature: z(64) })) };
  };
  const v6 = { family: 6 as const, ip: z(16), port: 65535 };
  const worst: Record<WireMessageType, WireMessage> = {
    ping: { type: 'ping', nonce: z(16) },
    pong: { type: 'pong', nonce: z(16), observed: v6 },
    identity: { type: 'identity', record: someIdentity() },
    'initial-vote': { type: 'initial-vote', ...mkBlock(), pos: 0x15, neg: 0x2a, origin: z(32), covered: z(32) },
    vote: { type: 'vote', blockId: z(32), pos: 0xff, neg: 0x00, reply: true },
    'query-block': { type: 'query-block', blockId: z(32), ticket: z(16) },
    block: { type: 'block', ...mkBlock(), ticket: z(16) },
    batch: CAP_CASES[0]!.make(MAX_BATCH_ITEMS),
    'query-token': { type: 'query-token', token: z(32), ticket: z(16), requester: z(32), wantProof: true, allowForward: true },
    answer: baseAnswer(10, MAX_ANSWER_EVIDENCE),
    referral: { type: 'referral', token: z(32), ticket: z(16), peers: Array.from({ length: MAX_REFERRAL_PEERS }, () => ({ identity: someIdentity(), endpoint: v6 })) },
    'sync-ask': { type: 'sync-ask', ticket: z(16), ask: { lo: z(32, 1), hi: z(32, 9), count: 1, fingerprint: z(8), have: Array.from({ length: SYNC.leafItems }, () => z(8)) } },
    'sync-reply': CAP_CASES[2]!.make(SYNC.leafItems),
    'fraud-proof': { type: 'fraud-proof', predicate: 'rollback', a: baseStatement(4), b: baseStatement(4) },
    'job-offer': CAP_CASES[6]!.make(MAX_OFFER_IMAGES),
    // The frame, not the item caps, bounds a spec: the largest one that fits.
    'job-submit': { ...baseSubmit(0, 0), argv: ['q'.repeat(MAX_JOB_STRING_BYTES), 'r'.repeat(MAX_BODY_BYTES - 211 - 2 * 2 - MAX_JOB_STRING_BYTES)] },
    'job-accept': { type: 'job-accept', jobId: z(32), time: 1 },
    'job-refuse': { type: 'job-refuse', jobId: z(32), reason: 'other', detail: 'é'.repeat(MAX_REFUSE_DETAIL_BYTES / 2) },
    'job-status': { type: 'job-status', jobId: z(32), state: 'killed', killReason: 'oom', exitCode: -1, time: 1 },
    'job-query': { type: 'job-query', jobId: z(32), what: 'output', stream: 'stderr', fromChunk: U32_MAX },
    'job-receipt': { ...(samples.find((m) => m.type === 'job-receipt') as WireMessage) },
    'job-output': { type: 'job-output', jobId: z(32), stream: 'stderr', index: 0, total: 1, next: z(32), data: z(MAX_OUTPUT_CHUNK_BYTES) },
  };
  const sizes: string[] = [];
  for (const t of MESSAGE_TYPES) {
    const m = worst[t];
    const size = encodedSize(m);
    assert.ok(size > 0 && size <= MAX_MESSAGE_BYTES, `${t}: ${size}`);
    assert.equal(size - 1, LAYOUTS[t].maxBody, `${t}: worst case is the layout's maxBody`);
    roundTrip(m);
    sizes.push(`${t}=${size}`);
  }
  // One byte more than the largest spec does not fit: refused, and dropped by the codec as bad.
  const tooBig = { ...baseSubmit(0, 0), argv: ['q'.repeat(MAX_JOB_STRING_BYTES), 'r'.repeat(MAX_BODY_BYTES - 211 - 4 - MAX_JOB_STRING_BYTES + 1)] };
  const p = checkMessage(tooBig);
  assert.ok(p instanceof WireEncodeError && p.code === 'too_large');
  assert.equal(wireCodec().bodySize(tooBig), -1);
  assert.ok(sizes.length === MESSAGE_TYPES.length);
});

// ---------------------------------------------------------------------------------------------
// The codec seam.

test('wireCodec: kinds, packability, exact body sizes, −1 for unencodable messages, decode via packs', () => {
  const codec = wireCodec();
  const packable = new Set(['ping', 'pong', 'identity', 'initial-vote', 'vote', 'query-block', 'block', 'batch', 'query-token', 'sync-ask', 'sync-reply', 'job-accept', 'job-refuse', 'job-status', 'job-query']);
  for (const m of samples) {
    const kind = codec.kindOf(m);
    assert.equal(kind, LAYOUTS[m.type].kind);
    assert.equal(codec.packable(kind), packable.has(m.type), m.type);
    const size = codec.bodySize(m);
    const out = new Uint8Array(size);
    codec.encodeBody(m, out);
    const back = codec.decode(kind, out);
    assert.ok(back.ok);
    assert.deepStrictEqual(back.message, m);
  }
  assert.equal(codec.packable(0), false);
  assert.equal(codec.kindOf({ type: 'nope' } as unknown as WireMessage), 0);
  assert.equal(codec.bodySize({ type: 'vote', blockId: z(31), pos: 1, neg: 0, reply: true }), -1);
  assert.equal(codec.bodySize({ type: 'vote', blockId: z(32), pos: 256, neg: 0, reply: true }), -1);
  assert.equal(codec.bodySize({ type: 'vote', blockId: z(32), pos: 1, neg: 1, reply: true }), -1);
  assert.equal(codec.bodySize(null as unknown as WireMessage), -1);
  // A pack of small messages, built as the endpoint builds it, splits and decodes.
  const small = samples.filter((m) => packable.has(m.type));
  const parts = small.map((m) => encodeMessage(m));
  const plain = new Uint8Array(2 + parts.reduce((s, p) => s + 2 + p.length, 0));
  plain[0] = 0;
  plain[1] = parts.length;
  let o = 2;
  for (const p of parts) {
    new DataView(plain.buffer).setUint16(o, p.length, false);
    plain.set(p, o + 2);
    o += 2 + p.length;
  }
  const split = splitPlaintext(plain);
  assert.ok(split.ok);
  const decoded = split.items.map((it) => codec.decode(it.kind, it.body));
  assert.deepStrictEqual(
    decoded.map((d) => (d.ok ? d.message : null)),
    small,
  );
  // Decoded messages keep no view of the (reused) receive buffer.
  const buf = encodeMessage(samples[0]!);
  const d = codec.decode(buf[0]!, buf.subarray(1));
  buf.fill(0xee);
  assert.ok(d.ok);
  assert.deepStrictEqual(d.message, samples[0]);
});

// ---------------------------------------------------------------------------------------------
// Signatures and helpers.

test('ANSWER: signature covers every field, the statement verifies alike, a fraud proof carries both', () => {
  const answer = samples.find((m) => m.type === 'answer') as AnswerMessage;
  const mods = { ed25519: crypto.ed25519, blake3: crypto.blake3 };
  assert.ok(verifyAnswer(mods, VECTOR_NETWORK_ID, answer));
  assert.equal(verifyAnswer(mods, VECTOR_NETWORK_ID + 1n, answer), false, 'network separates');
  const st = answerStatement(crypto.blake3, answer);
  assert.ok(verifyAnswer(mods, VECTOR_NETWORK_ID, st));
  assert.equal(hex(answerSigningMessage(crypto.blake3, VECTOR_NETWORK_ID, answer)), hex(answerSigningMessage(crypto.blake3, VECTOR_NETWORK_ID, st)));
  // Flip any byte of the encoded answer after the version: either it no longer decodes, or its signature fails.
  const bytes = encodeMessage(answer);
  for (let i = 2; i < bytes.length; i++) {
    const b = Uint8Array.from(bytes);
    b[i] = b[i]! ^ 0x01;
    const r = decodeMessage(b);
    if (r.ok) assert.equal(verifyAnswer(mods, VECTOR_NETWORK_ID, r.message as AnswerMessage), false, `byte ${i}`);
  }
  const fp = samples.find((m) => m.type === 'fraud-proof');
  assert.ok(fp?.type === 'fraud-proof');
  assert.ok(verifyAnswer(mods, VECTOR_NETWORK_ID, fp.a) && verifyAnswer(mods, VECTOR_NETWORK_ID, fp.b));
  assert.equal(fp.a.head.seq, fp.b.head.seq);
  assert.notEqual(hex(fp.a.head.id), hex(fp.b.head.id));
  // Signing with a key that is not the responder's is a caller bug.
  const other = crypto.ed25519.signerFromSeed(seqBytes(0x40, 32));
  const { type: _t, signature: _s, ...unsigned } = answer;
  assert.throws(() => signAnswer(crypto.blake3, other, VECTOR_NETWORK_ID, unsigned), RangeError);
  // verifyAnswer never throws, even on garbage.
  assert.equal(verifyAnswer(mods, VECTOR_NETWORK_ID, { ...answer, mapping: null } as unknown as AnswerMessage), false);
});

test('job messages: signatures, job id, output hash chain', () => {
  const submit = samples.find((m) => m.type === 'job-submit');
  const offer = samples.find((m) => m.type === 'job-offer');
  const receipt = samples.find((m) => m.type === 'job-receipt');
  assert.ok(submit?.type === 'job-submit' && offer?.type === 'job-offer' && receipt?.type === 'job-receipt');
  for (const m of [submit, offer, receipt]) {
    assert.ok(verifyJobMessage(crypto.ed25519, VECTOR_NETWORK_ID, m), m.type);
    assert.equal(verifyJobMessage(crypto.ed25519, VECTOR_NETWORK_ID + 1n, m), false);
  }
  assert.equal(verifyJobMessage(crypto.ed25519, VECTOR_NETWORK_ID, { ...submit, argv: ['python3'] }), false);
  assert.equal(verifyJobMessage(crypto.ed25519, VECTOR_NETWORK_ID, { ...receipt, exitCode: 1 }), false);
  // The job id ignores the signature and changes with the nonce.
  const id1 = jobId(crypto.blake3, submit);
  assert.equal(hex(jobId(crypto.blake3, { ...submit, signature: z(64) })), hex(id1));
  assert.notEqual(hex(jobId(crypto.blake3, { ...submit, nonce: z(16) })), hex(id1));
  const other = crypto.ed25519.signerFromSeed(seqBytes(0x40, 32));
  assert.throws(() => signJobMessage(other, VECTOR_NETWORK_ID, submit), RangeError);

  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 1, max: MAX_OUTPUT_CHUNK_BYTES }), (data, chunk) => {
      const { root, chunks } = outputChain(crypto.blake3, id1, 'stdout', data, chunk);
      let expected: Uint8Array | null = root;
      const got: number[] = [];
      for (const c of chunks) {
        roundTrip(c);
        assert.ok(expected !== null);
        expected = verifyOutputChunk(crypto.blake3, expected, c);
        got.push(...c.data);
      }
      assert.ok(expected !== null && expected.every((b) => b === 0));
      assert.deepEqual(Uint8Array.from(got), data);
      if (chunks.length > 0 && data.length > 0) {
        const bad = { ...chunks[0]!, data: Uint8Array.from(chunks[0]!.data, (b, i) => (i === 0 ? b ^ 1 : b)) };
        assert.equal(verifyOutputChunk(crypto.blake3, root, bad), null);
      }
    }),
    { seed: SEED, numRuns: 40 },
  );
});

test('endpoints: textual hosts convert to bytes and back', () => {
  const cases: [string, string][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['203.0.113.7', '203.0.113.7'],
    ['::1', '::1'],
    ['::', '::'],
    ['2001:db8::20', '2001:db8::20'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ];
  for (const [input, canonical] of cases) {
    const e = endpointFromHost(input, 4433);
    assert.ok(e !== null, input);
    assert.equal(endpointHost(e), canonical);
    assert.deepStrictEqual(endpointFromHost(endpointHost(e), 4433), e);
  }
  for (const bad of ['', 'localhost', '1.2.3', '1.2.3.256', '01.2.3.4', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9']) {
    assert.equal(endpointFromHost(bad, 1), null, bad);
  }
  assert.equal(endpointFromHost('1.2.3.4', 65536), null);
  fc.assert(
    fc.property(fc.ipV4(), fc.nat({ max: 0xffff }), (ip, port) => {
      const e = endpointFromHost(ip, port);
      assert.ok(e !== null && e.family === 4);
      assert.equal(endpointHost(e), ip);
    }),
    { seed: SEED, numRuns: 50 },
  );
  fc.assert(
    fc.property(fc.ipV6(), (ip) => {
      const e = endpointFromHost(ip, 1);
      assert.ok(e !== null && e.family === 6, ip);
      assert.deepStrictEqual(endpointFromHost(endpointHost(e), 1), e);
    }),
    { seed: SEED, numRuns: 100 },
  );
});

test('cover filter: every added address is covered, all-zero covers nobody, merging keeps both sides', () => {
  fc.assert(
    fc.property(fc.array(bytesN(32), { minLength: 1, maxLength: 9 }), fc.array(bytesN(32), { minLength: 1, maxLength: 9 }), (xs, ys) => {
      const a = new Uint8Array(COVER_BYTES);
      const b = new Uint8Array(COVER_BYTES);
      for (const x of xs) coverAdd(a, x);
      for (const y of ys) coverAdd(b, y);
      assert.ok(xs.every((x) => covers(a, x)));
      assert.ok([...xs, ...ys].every((x) => !covers(new Uint8Array(COVER_BYTES), x)));
      coverMerge(a, b);
      assert.ok([...xs, ...ys].every((x) => covers(a, x)));
    }),
    { seed: SEED, numRuns: 200 },
  );
  // The bits come from the last three bytes: an address differing only there is told apart.
  const f = new Uint8Array(COVER_BYTES);
  const x = new Uint8Array(32).fill(0xaa);
  coverAdd(f, x);
  const y = Uint8Array.from(x);
  y[31] = 0x01;
  assert.equal(covers(f, y), false);
});
