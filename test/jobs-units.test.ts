/**
 * The pure parts of compute jobs (PROTOCOL §10): trust scoring (daemon/jobs/trust.ts), request
 * parsing and the frame check (daemon/jobs/api.ts), receipt files (wire/receipt-file.ts), job
 * signatures and ids, and the output hash chain (wire/msg-jobs.ts), the last as fast-check
 * properties: any split verifies and reassembles, any tampered chunk is caught where it is.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadCrypto } from '../kernels/crypto.js';
import { JOB_LIMITS } from '../daemon/container-host.js';
import { checkSpecFits, JobRequestError, parseJobRequest, JOB_REQUEST_DEFAULTS } from '../daemon/jobs/api.js';
import type { JobRequest } from '../daemon/jobs/client.js';
import { applyOutcome, currentScore, maxPrice, NO_TRUST, rank, TRUST_PARAMS, type Outcome } from '../daemon/jobs/trust.js';
import type { TrustRecord } from '../store/jobs.js';
import { decodeBody, encodeBody } from '../wire/messages.js';
import { MAX_BODY_BYTES } from '../wire/msg-common.js';
import {
  DOMAIN_JOB_OUTPUT,
  JOB_SIZES,
  KIND_JOB_OUTPUT,
  KIND_JOB_RECEIPT,
  KIND_JOB_SUBMIT,
  MAX_OUTPUT_CHUNK_BYTES,
  jobId,
  outputChain,
  outputChunkHash,
  signJobMessage,
  verifyJobMessage,
  verifyOutputChunk,
  type JobOfferMessage,
  type JobOutputMessage,
  type JobReceiptMessage,
  type JobSubmitMessage,
} from '../wire/msg-jobs.js';
import { decodeReceiptFile, encodeReceiptFile, RECEIPT_FILE_MAGIC } from '../wire/receipt-file.js';
import { testBlake3 } from './helpers/noble-crypto.js';

const crypto = await loadCrypto();
const NET = 0x6563_6400n;
const SEED = 0x6a0b5;
const HALF = TRUST_PARAMS.halfLifeMs;
const T = 1_760_000_000_000;
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const close = (a: number, b: number, what = ''): void => assert.ok(Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b)), `${what} ${a} ≠ ${b}`);

// ——— trust ———

describe('trust', () => {
  const rec = (score: number, updatedAt = T): TrustRecord => ({ ...NO_TRUST, score, updatedAt });

  test('a score halves every half-life (7 days) and does not move before its update time', () => {
    assert.equal(HALF, 7 * 24 * 3_600_000);
    close(currentScore(rec(8), T + HALF), 4);
    close(currentScore(rec(8), T + 2 * HALF), 2);
    close(currentScore(rec(-6), T + HALF), -3);
    close(currentScore(rec(8), T + HALF / 2), 8 / Math.SQRT2);
    assert.equal(currentScore(rec(8), T), 8);
    assert.equal(currentScore(rec(8), T - 1_000), 8, 'a clock behind the record does not grow it');
    assert.equal(currentScore(rec(8, 0), T), 8, 'never updated: no decay');
    assert.equal(currentScore(NO_TRUST, T), 0);
  });

  test('outcomes map to credit: completed by weight, neutral 0, failed −1, unverifiable −2, disputed −4, after decay', () => {
    const start = { ...rec(4), completed: 3, failed: 2, disputed: 1 };
    const at = T + HALF; // the 4 has decayed to 2 when each outcome lands
    const cases: [Outcome, number, Partial<TrustRecord>][] = [
      [{ kind: 'completed', cpuSeconds: 3, gibSeconds: 0.5 }, 2 + 1 + 3 + 0.5, { completed: 4 }],
      [{ kind: 'completed', cpuSeconds: -5, gibSeconds: -1 }, 2 + 1, { completed: 4 }],
      [{ kind: 'neutral' }, 2, {}],
      [{ kind: 'failed' }, 2 + TRUST_PARAMS.failed, { failed: 3 }],
      [{ kind: 'unverifiable' }, 2 + TRUST_PARAMS.unverifiable, { failed: 3 }],
      [{ kind: 'disputed' }, 2 + TRUST_PARAMS.disputed, { disputed: 2 }],
    ];
    assert.deepEqual([TRUST_PARAMS.failed, TRUST_PARAMS.unverifiable, TRUST_PARAMS.disputed, TRUST_PARAMS.floor], [-1, -2, -4, -3]);
    for (const [o, score, counts] of cases) {
      const r = applyOutcome(start, o, at);
      close(r.score, score, o.kind);
      assert.equal(r.updatedAt, at, o.kind);
      assert.deepEqual(
        { completed: r.completed, failed: r.failed, disputed: r.disputed },
        { completed: 3, failed: 2, disputed: 1, ...counts },
        o.kind,
      );
    }
    // From nothing: the first outcome is the score.
    assert.equal(applyOutcome(NO_TRUST, { kind: 'unverifiable' }, T).score, -2);
    assert.equal(applyOutcome(NO_TRUST, { kind: 'completed', cpuSeconds: 0, gibSeconds: 0 }, T).score, 1);
  });

  test('rank: trust per price; ordered by score and by price; at or below the floor a provider is never picked', () => {
    assert.equal(rank(0, 0), 1);
    assert.equal(rank(1, 0), 2);
    assert.equal(rank(-1, 0), 0.5);
    assert.equal(rank(-2, 0), 1 / 3);
    assert.equal(rank(3, 1), 2);
    assert.equal(rank(0, -5), 1, 'a negative price counts as free');
    assert.equal(rank(TRUST_PARAMS.floor, 0), null);
    assert.equal(rank(-10, 0), null);
    assert.notEqual(rank(TRUST_PARAMS.floor + 1e-9, 0), null);
    fc.assert(
      fc.property(
        fc.double({ min: -2.999, max: 1e6, noNaN: true }),
        fc.double({ min: -2.999, max: 1e6, noNaN: true }),
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        (s1, s2, p1, p2) => {
          const a = rank(s1, p1) as number;
          assert.ok(a > 0 && Number.isFinite(a));
          if (s1 < s2) assert.ok(a <= (rank(s2, p1) as number), 'more trust never ranks lower');
          if (p1 < p2) assert.ok(a >= (rank(s1, p2) as number), 'a higher price never ranks higher');
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
    // A decaying penalty: below the floor now, pickable again one half-life later.
    const liar = applyOutcome(applyOutcome(NO_TRUST, { kind: 'unverifiable' }, T), { kind: 'unverifiable' }, T);
    assert.equal(rank(currentScore(liar, T), 0), null);
    assert.notEqual(rank(currentScore(liar, T + HALF), 0), null);
  });

  test('maxPrice is the whole timeout at the full limits', () => {
    const offer = { pricePerCpuSecond: 3, pricePerGiBSecond: 5 };
    close(maxPrice(offer, { cpuNano: 2e9, memoryBytes: 2 ** 29, timeoutMs: 10_000 }), 3 * 2 * 10 + 5 * 0.5 * 10);
    assert.equal(maxPrice({ pricePerCpuSecond: 0, pricePerGiBSecond: 0 }, { cpuNano: 4e9, memoryBytes: 2 ** 30, timeoutMs: 1 }), 0);
  });
});

// ——— API requests ———

const IMAGE_HEX = 'ab'.repeat(32);

describe('parseJobRequest and checkSpecFits', () => {
  const ok = { image: IMAGE_HEX, argv: ['sh', '-c', 'true'] };

  test('defaults and accepted forms', () => {
    const r = parseJobRequest(ok);
    assert.deepEqual(r, {
      image: Uint8Array.from(Buffer.from(IMAGE_HEX, 'hex')),
      argv: ['sh', '-c', 'true'],
      env: [],
      cpuNano: JOB_REQUEST_DEFAULTS.cpu * 1e9,
      memoryBytes: JOB_REQUEST_DEFAULTS.memoryBytes,
      timeoutMs: JOB_REQUEST_DEFAULTS.timeoutMs,
      maxOutputBytes: JOB_REQUEST_DEFAULTS.maxOutputBytes,
    });
    const full = parseJobRequest({
      image: `sha256:${IMAGE_HEX.toUpperCase()}`,
      argv: ['é'.repeat(512)],
      env: ['A=1', '_b=', 'C=x=y'],
      cpu: 0.5,
      memory: JOB_LIMITS.minMemoryBytes,
      timeoutMs: JOB_LIMITS.maxTimeoutMs,
      maxOutput: 0,
      provider: 'CD'.repeat(32),
      spotCheck: true,
    });
    assert.equal(hex(full.image), IMAGE_HEX);
    assert.equal(full.cpuNano, 5e8);
    assert.equal(hex(full.provider as Uint8Array), 'cd'.repeat(32));
    assert.equal(full.spotCheck, true);
    assert.equal(parseJobRequest({ ...ok, cpu: 0.01 }).cpuNano, JOB_LIMITS.minNanoCpus);
    assert.equal('spotCheck' in parseJobRequest({ ...ok, spotCheck: false }), false);
  });

  test('every refusal says why', () => {
    const cases: [unknown, string][] = [
      [null, 'the body must be a JSON object {image, argv, …}'],
      [[ok], 'the body must be a JSON object {image, argv, …}'],
      ['{}', 'the body must be a JSON object {image, argv, …}'],
      [{ ...ok, cmd: 'ls' }, 'unknown field "cmd"'],
      [{ image: IMAGE_HEX }, '"argv" must be an array of strings'],
      [{ ...ok, argv: 'ls' }, '"argv" must be an array of strings'],
      [{ ...ok, argv: ['ls', 1] }, '"argv" must be an array of strings'],
      [{ ...ok, argv: [] }, '"argv" must hold 1..64 strings'],
      [{ ...ok, argv: Array.from({ length: 65 }, () => 'x') }, '"argv" must hold 1..64 strings'],
      [{ ...ok, argv: ['x'.repeat(1025)] }, 'each "argv" item is at most 1024 bytes'],
      [{ ...ok, argv: ['é'.repeat(513)] }, 'each "argv" item is at most 1024 bytes'],
      [{ ...ok, env: 'A=1' }, '"env" must be an array of strings'],
      [{ ...ok, env: Array.from({ length: 65 }, (_, i) => `V${i}=1`) }, '"env" must hold 0..64 strings'],
      [{ ...ok, env: ['A'] }, '"env" items must be NAME=value'],
      [{ ...ok, env: ['=x'] }, '"env" items must be NAME=value'],
      [{ ...ok, env: ['1A=x'] }, '"env" items must be NAME=value'],
      [{ ...ok, env: ['A-B=x'] }, '"env" items must be NAME=value'],
      [{ ...ok, env: ['x'.repeat(1025)] }, 'each "env" item is at most 1024 bytes'],
      [{ ...ok, cpu: '1' }, '"cpu" must be a number of CPUs in 0.01..1024'],
      [{ ...ok, cpu: 0.009 }, '"cpu" must be a number of CPUs in 0.01..1024'],
      [{ ...ok, cpu: 1025 }, '"cpu" must be a number of CPUs in 0.01..1024'],
      [{ ...ok, cpu: Number.NaN }, '"cpu" must be a number of CPUs in 0.01..1024'],
      [{ ...ok, cpu: Infinity }, '"cpu" must be a number of CPUs in 0.01..1024'],
      [{ ...ok, spotCheck: 'yes' }, '"spotCheck" must be true or false'],
      [{ argv: ['ls'] }, '"image" must be 64 hex digits (an image id, optionally sha256:…)'],
      [{ ...ok, image: 'busybox:latest' }, '"image" must be 64 hex digits (an image id, optionally sha256:…)'],
      [{ ...ok, image: IMAGE_HEX.slice(1) }, '"image" must be 64 hex digits (an image id, optionally sha256:…)'],
      [{ ...ok, image: `sha512:${IMAGE_HEX}` }, '"image" must be 64 hex digits (an image id, optionally sha256:…)'],
      [{ ...ok, memory: JOB_LIMITS.minMemoryBytes - 1 }, `"memory" must be an integer in ${JOB_LIMITS.minMemoryBytes}..${2 ** 50}`],
      [{ ...ok, memory: 64 * 2 ** 20 + 0.5 }, `"memory" must be an integer in ${JOB_LIMITS.minMemoryBytes}..${2 ** 50}`],
      [{ ...ok, memory: '64m' }, `"memory" must be an integer in ${JOB_LIMITS.minMemoryBytes}..${2 ** 50}`],
      [{ ...ok, timeoutMs: 0 }, `"timeoutMs" must be an integer in 1..${JOB_LIMITS.maxTimeoutMs}`],
      [{ ...ok, timeoutMs: JOB_LIMITS.maxTimeoutMs + 1 }, `"timeoutMs" must be an integer in 1..${JOB_LIMITS.maxTimeoutMs}`],
      [{ ...ok, maxOutput: -1 }, `"maxOutput" must be an integer in 0..${JOB_LIMITS.maxOutputBytes}`],
      [{ ...ok, maxOutput: JOB_LIMITS.maxOutputBytes + 1 }, `"maxOutput" must be an integer in 0..${JOB_LIMITS.maxOutputBytes}`],
      [{ ...ok, provider: 'ab' }, '"provider" must be 64 hex digits'],
      [{ ...ok, provider: 42 }, '"provider" must be 64 hex digits'],
    ];
    for (const [body, message] of cases) {
      assert.throws(
        () => parseJobRequest(body),
        (e: unknown) => e instanceof JobRequestError && e.message === message,
        `${JSON.stringify(body)?.slice(0, 80)} should say ${message}`,
      );
    }
  });

  /** argv strings totalling `bytes` of string payload (2-byte length prefixes included). */
  function argvOf(bytes: number): string[] {
    const out: string[] = [];
    let left = bytes;
    while (left > 0) {
      const n = Math.min(1024, left - 2);
      assert.ok(n >= 0, 'no room for a prefix');
      out.push('a'.repeat(n));
      left -= 2 + n;
    }
    return out;
  }

  test('checkSpecFits: a spec of exactly one frame passes (and signs, encodes, decodes); one byte more is refused', () => {
    const room = MAX_BODY_BYTES - JOB_SIZES.submitFixed; // the argv and env strings, prefixes included
    assert.equal(room, 1369 - 211);
    const base = parseJobRequest({ image: IMAGE_HEX, argv: ['x'] });
    const fits: JobRequest = { ...base, argv: argvOf(room) };
    checkSpecFits(fits);
    const signer = crypto.ed25519.signerFromSeed(new Uint8Array(32).fill(3));
    const spec = signJobMessage(signer, NET, {
      type: 'job-submit',
      provider: new Uint8Array(32).fill(9),
      imageRef: 'id',
      image: fits.image,
      cpuNano: fits.cpuNano,
      memoryBytes: fits.memoryBytes,
      timeoutMs: fits.timeoutMs,
      network: 'none',
      maxOutputBytes: fits.maxOutputBytes,
      argv: fits.argv,
      env: fits.env,
      client: signer.publicKey,
      nonce: new Uint8Array(16),
      signature: new Uint8Array(64),
    });
    const body = encodeBody(spec);
    assert.equal(body.length, MAX_BODY_BYTES);
    const d = decodeBody(KIND_JOB_SUBMIT, body);
    assert.ok(d.ok && d.message.type === 'job-submit' && verifyJobMessage(crypto.ed25519, NET, d.message));

    const over = (r: JobRequest): void =>
      assert.throws(
        () => checkSpecFits(r),
        (e: unknown) => e instanceof JobRequestError && /^the job spec does not fit one frame: JOB_SUBMIT body is 1370 bytes, the limit is 1369 \(argv and env together: about 1 KB\)$/.test(e.message),
      );
    over({ ...base, argv: argvOf(room + 1) });
    // The same boundary with env taking part of it, and with multi-byte characters.
    checkSpecFits({ ...base, argv: argvOf(room - 12), env: ['ABCDEFGH=1'] });
    over({ ...base, argv: argvOf(room - 12), env: ['ABCDEFGH=12'] });
    checkSpecFits({ ...base, argv: [...argvOf(room - 4), 'é'] });
    over({ ...base, argv: [...argvOf(room - 4), 'éa'] });
    // The counts are capped before the size: 64 + 64 short items fit.
    checkSpecFits({ ...base, argv: Array.from({ length: 64 }, () => 'a'.repeat(7)), env: Array.from({ length: 64 }, (_, i) => `V${String(i).padStart(2, '0')}=1234`.slice(0, 7)) });
  });
});

// ——— receipts, signatures, job ids ———

const provider = crypto.ed25519.signerFromSeed(new Uint8Array(32).fill(7));
const client = crypto.ed25519.signerFromSeed(new Uint8Array(32).fill(8));

function aSpec(over: Partial<JobSubmitMessage> = {}): JobSubmitMessage {
  return signJobMessage(client, NET, {
    type: 'job-submit',
    provider: provider.publicKey,
    imageRef: 'id',
    image: Uint8Array.from(Buffer.from(IMAGE_HEX, 'hex')),
    cpuNano: 1e9,
    memoryBytes: 64 * 2 ** 20,
    timeoutMs: 10_000,
    network: 'none',
    maxOutputBytes: 4096,
    argv: ['sh', '-c', 'echo hi'],
    env: ['A=1'],
    client: client.publicKey,
    nonce: new Uint8Array(16).fill(5),
    signature: new Uint8Array(64),
    ...over,
  });
}

function aReceipt(over: Partial<JobReceiptMessage> = {}): JobReceiptMessage {
  const spec = aSpec();
  const id = jobId(crypto.blake3, spec);
  const stdout = new TextEncoder().encode('hi\n');
  return signJobMessage(provider, NET, {
    type: 'job-receipt',
    jobId: id,
    specHash: crypto.blake3.hash(encodeBody(spec)),
    imageId: spec.image,
    provider: provider.publicKey,
    start: T,
    end: T + 1_234,
    state: 'exited',
    killReason: 'none',
    exitCode: 3,
    stdoutHash: outputChain(crypto.blake3, id, 'stdout', stdout).root,
    stdoutBytes: stdout.length,
    stderrHash: outputChain(crypto.blake3, id, 'stderr', new Uint8Array(0)).root,
    stderrBytes: 0,
    cpuMillis: 17,
    peakMemoryBytes: 3 * 2 ** 20,
    signature: new Uint8Array(64),
    ...over,
  });
}

describe('receipt files', () => {
  test('round trip: decode gives the same receipt, network id and a verifying signature', () => {
    for (const r of [aReceipt(), aReceipt({ state: 'killed', killReason: 'timeout', exitCode: 137 }), aReceipt({ state: 'failed', exitCode: -1 })]) {
      const file = encodeReceiptFile(NET, r);
      assert.deepEqual([...file.subarray(0, 5)], [...RECEIPT_FILE_MAGIC, 1]);
      assert.equal(file.length, 15 + JOB_SIZES.receipt);
      const d = decodeReceiptFile(file);
      assert.ok(d.ok, d.ok ? '' : d.reason);
      assert.equal(d.networkId, NET);
      assert.equal(hex(encodeBody(d.receipt)), hex(encodeBody(r)));
      assert.ok(verifyJobMessage(crypto.ed25519, d.networkId, d.receipt));
      assert.ok(!verifyJobMessage(crypto.ed25519, NET + 1n, d.receipt), 'the signature is bound to the network id');
    }
  });

  test('every byte changed (three ways): the file does not decode or its signature fails', () => {
    const file = encodeReceiptFile(NET, aReceipt());
    let decodedButRefused = 0;
    for (let i = 0; i < file.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = Uint8Array.from(file);
        bad[i] = (bad[i] as number) ^ mask;
        const d = decodeReceiptFile(bad);
        if (d.ok) {
          assert.ok(!verifyJobMessage(crypto.ed25519, d.networkId, d.receipt), `byte ${i} ^ ${mask} still verifies`);
          decodedButRefused++;
        }
      }
    }
    assert.ok(decodedButRefused > file.length, 'most changes decode and are caught by the signature');
  });

  test('malformed files are refused with a reason; decoding never throws', () => {
    const file = encodeReceiptFile(NET, aReceipt());
    const reason = (b: Uint8Array): string => {
      const d = decodeReceiptFile(b);
      assert.ok(!d.ok);
      return d.reason;
    };
    assert.equal(reason(new Uint8Array(0)), 'not an ecd receipt file (bad magic)');
    assert.equal(reason(Uint8Array.of(0x45, 0x43, 0x52, 0x44, ...file.subarray(4))), 'not an ecd receipt file (bad magic)');
    assert.equal(reason(Uint8Array.of(...file.subarray(0, 4), 2, ...file.subarray(5))), 'unsupported receipt file version 2');
    assert.equal(reason(Uint8Array.of(...file, 0)), `the receipt body is ${JOB_SIZES.receipt} bytes in a ${file.length + 1}-byte file`);
    for (let n = 0; n < file.length; n++) assert.ok(!decodeReceiptFile(file.subarray(0, n)).ok, `truncated to ${n}`);
    const killedWithoutReason = Uint8Array.from(file);
    killedWithoutReason[15 + 146 - 1] = 6; // state killed, kill reason none
    assert.match(reason(killedWithoutReason), /^malformed receipt \(killReason: /);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, withHeader) => {
        const b = withHeader ? Uint8Array.of(...file.subarray(0, 15), ...bytes) : bytes;
        const d = decodeReceiptFile(b);
        if (d.ok) assert.ok(!verifyJobMessage(crypto.ed25519, d.networkId, d.receipt));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  test('job ids and signatures: id over the unsigned spec; signatures bound to signer, network and every field', () => {
    const spec = aSpec();
    const body = encodeBody(spec);
    assert.equal(hex(jobId(crypto.blake3, spec)), hex(crypto.blake3.hash(body.subarray(0, body.length - 64))));
    assert.equal(hex(jobId(crypto.blake3, signJobMessage(client, NET + 1n, spec))), hex(jobId(crypto.blake3, spec)), 'the signature is not part of the id');
    assert.notEqual(hex(jobId(crypto.blake3, aSpec({ nonce: new Uint8Array(16).fill(6) }))), hex(jobId(crypto.blake3, spec)));
    assert.ok(verifyJobMessage(crypto.ed25519, NET, spec));
    assert.ok(!verifyJobMessage(crypto.ed25519, NET + 1n, spec));
    assert.ok(!verifyJobMessage(crypto.ed25519, NET, { ...spec, argv: ['sh', '-c', 'echo ho'] }));
    assert.ok(!verifyJobMessage(crypto.ed25519, NET, { ...spec, timeoutMs: spec.timeoutMs + 1 }));
    assert.ok(!verifyJobMessage(crypto.ed25519, NET, { ...spec, signature: spec.signature.subarray(0, 63) }), 'a malformed message is false, not a throw');
    assert.ok(!verifyJobMessage(crypto.ed25519, NET, { ...spec, client: new Uint8Array(31) }));
    assert.throws(() => signJobMessage(provider, NET, aSpec({ client: client.publicKey })), RangeError, 'a spec is signed by its client only');
    const offer: JobOfferMessage = signJobMessage(provider, NET, {
      type: 'job-offer',
      provider: provider.publicKey,
      issuedAt: T,
      expiresAt: T + 20_000,
      cpuNano: 4e9,
      memoryBytes: 2 ** 31,
      maxTimeoutMs: 60_000,
      maxOutputBytes: 2 ** 20,
      pricePerCpuSecond: 1,
      pricePerGiBSecond: 1,
      images: [spec.image],
      signature: new Uint8Array(64),
    });
    assert.ok(verifyJobMessage(crypto.ed25519, NET, offer));
    assert.ok(!verifyJobMessage(crypto.ed25519, NET, { ...offer, images: [] }));
    const r = aReceipt();
    assert.ok(!verifyJobMessage(crypto.ed25519, NET, { ...r, exitCode: 0 }));
    // The same bytes under another purpose's domain do not verify: an offer signature is no receipt signature.
    assert.ok(!verifyJobMessage(crypto.ed25519, NET, { ...r, signature: offer.signature }));
  });
});

// ——— output chain ———

/** The client's check: chunk i against the hash expected for it, in order; the data, or where it failed. */
function acceptChain(root: Uint8Array, chunks: readonly JobOutputMessage[]): { ok: true; data: Uint8Array } | { ok: false; at: number } {
  let expected = root;
  const parts: Uint8Array[] = [];
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i] as JobOutputMessage;
    if (c.index !== i) return { ok: false, at: i };
    const next = verifyOutputChunk(crypto.blake3, expected, c);
    if (next === null) return { ok: false, at: i };
    parts.push(c.data);
    expected = next;
    if (c.index === c.total - 1) return { ok: true, data: Buffer.concat(parts) };
  }
  return { ok: false, at: chunks.length };
}

/** h_i = BLAKE3(domain ‖ data_i ‖ h_{i+1}), h_n = 0³², written plainly over the reference BLAKE3. */
function referenceRoot(data: Uint8Array, size: number): Uint8Array {
  const n = Math.max(1, Math.ceil(data.length / size));
  let h: Uint8Array = new Uint8Array(32);
  for (let i = n - 1; i >= 0; i--) h = testBlake3.hash(Buffer.concat([DOMAIN_JOB_OUTPUT, data.subarray(i * size, (i + 1) * size), h]));
  return h;
}

describe('output chain', () => {
  const ID = new Uint8Array(32).fill(0x11);

  test('an empty stream is one empty chunk whose hash is BLAKE3(domain ‖ 0³²)', () => {
    const c = outputChain(crypto.blake3, ID, 'stderr', new Uint8Array(0));
    assert.equal(c.chunks.length, 1);
    assert.deepEqual([c.chunks[0]?.index, c.chunks[0]?.total, c.chunks[0]?.data.length], [0, 1, 0]);
    assert.equal(hex(c.root), hex(testBlake3.hash(Buffer.concat([DOMAIN_JOB_OUTPUT, new Uint8Array(32)]))));
    assert.throws(() => outputChain(crypto.blake3, ID, 'stdout', new Uint8Array(1), 0), RangeError);
    assert.throws(() => outputChain(crypto.blake3, ID, 'stdout', new Uint8Array(1), MAX_OUTPUT_CHUNK_BYTES + 1), RangeError);
  });

  test('property: any output and any split verifies chunk by chunk, reassembles, and matches a plain reference', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6_000 }), fc.integer({ min: 1, max: MAX_OUTPUT_CHUNK_BYTES }), (data, size) => {
        const { root, chunks } = outputChain(crypto.blake3, ID, 'stdout', data, size);
        assert.equal(chunks.length, Math.max(1, Math.ceil(data.length / size)));
        for (const [i, c] of chunks.entries()) {
          assert.equal(c.index, i);
          assert.equal(c.total, chunks.length);
          assert.ok(c.data.length <= size);
          assert.equal(hex(c.jobId), hex(ID));
          // Each chunk travels in one frame.
          assert.equal(decodeBody(KIND_JOB_OUTPUT, encodeBody(c)).ok, true);
        }
        assert.ok((chunks.at(-1) as JobOutputMessage).next.every((b) => b === 0));
        const got = acceptChain(root, chunks);
        assert.ok(got.ok && hex(got.data) === hex(data));
        assert.equal(hex(root), hex(referenceRoot(data, size)));
        assert.equal(hex(root), hex(outputChain(testBlake3, ID, 'stdout', data, size).root), 'the kernel agrees with the reference BLAKE3');
        // Chunks arrive in any order: the client holds them and checks them in order.
        assert.equal(hex(outputChunkHash(crypto.blake3, (chunks[0] as JobOutputMessage).data, (chunks[0] as JobOutputMessage).next)), hex(root));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  const MUTATIONS = ['flip-data', 'append-data', 'cut-data', 'replace-data', 'flip-next', 'claim-last', 'deny-last', 'drop', 'swap', 'duplicate'] as const;

  test('property: any tampered chunk is caught, at that chunk', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 5_000 }),
        fc.integer({ min: 1, max: MAX_OUTPUT_CHUNK_BYTES }),
        fc.nat(),
        fc.nat(),
        fc.constantFrom(...MUTATIONS),
        (data, size, pick, bit, how) => {
          const { root, chunks } = outputChain(crypto.blake3, ID, 'stdout', data, size);
          const k = pick % chunks.length;
          const c = chunks[k] as JobOutputMessage;
          const copy = chunks.slice();
          const flip = (b: Uint8Array): Uint8Array => {
            const x = Uint8Array.from(b);
            const at = bit % (x.length * 8);
            x[at >> 3] = (x[at >> 3] as number) ^ (1 << (at & 7));
            return x;
          };
          let at = k;
          switch (how) {
            case 'flip-data':
              if (c.data.length === 0) return;
              copy[k] = { ...c, data: flip(c.data) };
              break;
            case 'append-data':
              copy[k] = { ...c, data: Uint8Array.of(...c.data, bit & 0xff) };
              break;
            case 'cut-data':
              if (c.data.length === 0) return;
              copy[k] = { ...c, data: c.data.subarray(0, c.data.length - 1) };
              break;
            case 'replace-data': {
              if (c.data.length === 0) return;
              const other = c.data.map((b, i) => (b + 1 + ((bit + i) % 255)) & 0xff);
              copy[k] = { ...c, data: other };
              break;
            }
            case 'flip-next':
              copy[k] = { ...c, next: flip(c.next) };
              break;
            case 'claim-last': // a middle chunk says it is the last
              if (k === chunks.length - 1) return;
              copy[k] = { ...c, total: k + 1 };
              break;
            case 'deny-last': // the last chunk says more follow
              if (k !== chunks.length - 1) return;
              copy[k] = { ...c, total: c.total + 1 };
              break;
            case 'drop':
              if (chunks.length === 1) return;
              copy.splice(k, 1);
              copy.forEach((x, i) => (copy[i] = { ...x, index: i, total: chunks.length - 1 }));
              at = k === chunks.length - 1 ? k - 1 : k;
              break;
            case 'swap': {
              if (k === chunks.length - 1 || hex(c.data) === hex((chunks[k + 1] as JobOutputMessage).data)) return;
              const d = chunks[k + 1] as JobOutputMessage;
              copy[k] = { ...c, data: d.data, next: d.next };
              copy[k + 1] = { ...d, data: c.data, next: c.next };
              break;
            }
            case 'duplicate': // chunk k sent again in place of k+1
              if (k === chunks.length - 1 || hex(c.data) === hex((chunks[k + 1] as JobOutputMessage).data)) return;
              copy[k + 1] = { ...c, index: k + 1 };
              at = k + 1;
              break;
          }
          const got = acceptChain(root, copy);
          assert.ok(!got.ok, `${how} of chunk ${k}/${chunks.length} (size ${size}) was accepted`);
          assert.equal(got.at, at, `${how} of chunk ${k} caught at ${got.at}`);
        },
      ),
      { seed: SEED, numRuns: 1_000 },
    );
  });

  test('verifyOutputChunk refuses an expected hash of the wrong length and a chunk for another position', () => {
    const { root, chunks } = outputChain(crypto.blake3, ID, 'stdout', new Uint8Array(3_000).fill(7), 1_000);
    const [c0, c1] = chunks as [JobOutputMessage, JobOutputMessage];
    assert.equal(verifyOutputChunk(crypto.blake3, root.subarray(0, 31), c0), null);
    assert.equal(verifyOutputChunk(crypto.blake3, root, c1), null, 'equal data, different next: another position');
    assert.equal(hex(verifyOutputChunk(crypto.blake3, root, c0) as Uint8Array), hex(c0.next));
    // Receipt bodies keep the stream roots in fixed places (the client reads them from there).
    const r = aReceipt();
    const d = decodeBody(KIND_JOB_RECEIPT, encodeBody(r));
    assert.ok(d.ok && d.message.type === 'job-receipt' && hex(d.message.stdoutHash) === hex(r.stdoutHash));
  });
});

test('kill reasons after a restart: a SIGKILL we did not send is the owner’s (recorded cancel), the timeout (ran it all), else oom', async () => {
  const { killReasonOf } = await import('../daemon/jobs/provider.js');
  const job = { startedAt: 1_000, cancelRequested: false } as Parameters<typeof killReasonOf>[0];
  const spec = { timeoutMs: 5_000 } as Parameters<typeof killReasonOf>[1];
  const sigkill = (finishedAt: number): Parameters<typeof killReasonOf>[2] => ({ state: 'killed', killReason: 'oom', oomEvidence: 'sigkill', exitCode: 137, startedAt: 1_000, finishedAt });
  assert.equal(killReasonOf(job, spec, sigkill(3_000)), 'oom');
  assert.equal(killReasonOf(job, spec, sigkill(6_100)), 'timeout');
  assert.equal(killReasonOf({ ...job, cancelRequested: true }, spec, sigkill(3_000)), 'owner');
  assert.equal(killReasonOf(job, spec, { state: 'killed', killReason: 'oom', oomEvidence: 'engine', exitCode: 137, startedAt: 1_000, finishedAt: 6_100 }), 'oom', 'the engine said OOM');
  assert.equal(killReasonOf(job, spec, { state: 'killed', killReason: 'owner', exitCode: 137, startedAt: 1_000, finishedAt: 2_000 }), 'owner');
  assert.equal(killReasonOf(job, spec, { state: 'exited', killReason: null, exitCode: 0, startedAt: 1_000, finishedAt: 2_000 }), 'none');
});
