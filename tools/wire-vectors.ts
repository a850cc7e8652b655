/**
 * Test vectors of every wire message, produced by the code (docs/wire.md → "Messages").
 *
 *   node dist/tools/wire-vectors.js                    print every vector block
 *   node dist/tools/wire-vectors.js --write docs/wire.md   replace the blocks in the doc
 *
 * Each block is the message's plaintext (`kind ‖ body`) split by field, as the decoder reads it:
 * the field names and offsets come from the decoder itself (a tracing `Reader`), so the
 * documented bytes cannot drift from the code. test/wire-vectors.test.ts regenerates the blocks
 * and checks that docs/wire.md contains each one verbatim.
 *
 * The inputs are fixed: Ed25519 seeds 00…1f (the "responder"/provider) and 20…3f (the client),
 * network id 3, times around 1 700 000 000 000 ms. Signatures are real (RFC 8032 is
 * deterministic); identity records carry a real signature but no mined work.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { loadCrypto } from '../kernels/crypto.js';
import type { CryptoKernels } from '../kernels/crypto.js';
import { blockId, signBlock } from '../wire/block.js';
import type { Block } from '../wire/block.js';
import { signIdentity } from '../wire/identity.js';
import type { IdentityRecord } from '../wire/identity.js';
import {
  LAYOUTS,
  Reader,
  answerStatement,
  encodeMessage,
  endpointFromHost,
  jobId,
  layoutOfKind,
  outputChain,
  signAnswer,
  signJobMessage,
} from '../wire/messages.js';
import type { AnswerMessage, UnsignedAnswer, WireEndpoint, WireMessage, WireMessageType } from '../wire/messages.js';

export const VECTOR_NETWORK_ID = 3n;
const T = 1_700_000_000_000;

/** n bytes counting up from `start` (mod 256): easy to spot in a hex dump. */
export function seqBytes(start: number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
}

function ep(host: string, port: number): WireEndpoint {
  const e = endpointFromHost(host, port);
  if (e === null) throw new Error(`bad host ${host}`);
  return e;
}

/** One deterministic, valid message of every type, in kind order. */
export function vectorMessages(crypto: CryptoKernels): WireMessage[] {
  const responder = crypto.ed25519.signerFromSeed(seqBytes(0x00, 32));
  const client = crypto.ed25519.signerFromSeed(seqBytes(0x20, 32));
  const net = VECTOR_NETWORK_ID;

  const identity: IdentityRecord = signIdentity(crypto.ed25519, seqBytes(0x00, 32), {
    version: 1,
    networkId: net,
    publicKey: responder.publicKey,
    nonce: seqBytes(0x10, 16),
    time: 1_700_000_000,
    difficulty: 2,
  });

  const block: Block = {
    version: 1,
    time: T,
    entries: [
      { token: seqBytes(0x40, 32), last: new Uint8Array(32), nextKeyHash: crypto.blake3.hash(client.publicKey) },
      { token: seqBytes(0x60, 32), last: seqBytes(0x80, 32), nextKeyHash: new Uint8Array(32) },
    ],
  };
  const signed = signBlock(crypto.blake3, net, block, new Map([[1, client]]));
  const id = blockId(crypto.blake3, net, block);
  const ticket = seqBytes(0xa0, 16);

  const unsignedAnswer: UnsignedAnswer = {
    requester: seqBytes(0xc0, 32),
    ticket,
    token: seqBytes(0x40, 32),
    mapping: { block: id, parent: new Uint8Array(32), time: T, commitSeq: 41 },
    proof: Array.from({ length: 10 }, (_, i) => ({ token: seqBytes(0x10 * i, 32), block: seqBytes(0x10 * i + 0x08, 32) })),
    evidence: [
      { token: seqBytes(0x40, 32), block: id, commitSeq: 41 },
      { token: seqBytes(0x50, 32), block: seqBytes(0x70, 32), commitSeq: 40 },
    ],
    head: { seq: 41, id: seqBytes(0xe0, 32), time: T + 50 },
    answerTime: T + 120,
    responder: responder.publicKey,
  };
  const answer: AnswerMessage = signAnswer(crypto.blake3, responder, net, unsignedAnswer);
  const forked: AnswerMessage = signAnswer(crypto.blake3, responder, net, {
    ...unsignedAnswer,
    proof: [],
    evidence: [],
    head: { seq: 41, id: seqBytes(0xf0, 32), time: T + 60 },
    answerTime: T + 200,
  });

  const submit = signJobMessage(client, net, {
    type: 'job-submit',
    provider: responder.publicKey,
    imageRef: 'digest',
    image: seqBytes(0x30, 32),
    cpuNano: 1_000_000_000,
    memoryBytes: 256 * 1024 * 1024,
    timeoutMs: 60_000,
    network: 'none',
    maxOutputBytes: 65_536,
    argv: ['python3', '-c', 'print(42)'],
    env: ['LANG=C.UTF-8'],
    client: client.publicKey,
    nonce: seqBytes(0x90, 16),
    signature: new Uint8Array(64),
  });
  const job = jobId(crypto.blake3, submit);
  const out = outputChain(crypto.blake3, job, 'stdout', new TextEncoder().encode('42\n'));
  const empty = outputChain(crypto.blake3, job, 'stderr', new Uint8Array(0));

  return [
    { type: 'ping', nonce: seqBytes(0x00, 16) },
    { type: 'pong', nonce: seqBytes(0x00, 16), observed: ep('203.0.113.7', 4433) },
    { type: 'identity', record: identity },
    // Entry 0 `+`, entry 1 `−`; then committed (hosting both entries), and rejected in the batch.
    { type: 'initial-vote', block: signed.block, signatures: signed.signatures, pos: 0x01, neg: 0x02, origin: seqBytes(0xc0, 32), covered: seqBytes(0xe0, 32) },
    { type: 'vote', blockId: id, pos: 0xc3, neg: 0x00, reply: true },
    { type: 'query-block', blockId: id, ticket },
    { type: 'block', block: signed.block, signatures: signed.signatures, ticket },
    {
      type: 'batch',
      items: [
        { type: 'vote', blockId: id, pos: 0x00, neg: 0xc0, reply: false },
        { type: 'query-block', blockId: seqBytes(0x80, 32), ticket },
      ],
    },
    { type: 'query-token', token: seqBytes(0x40, 32), ticket, requester: seqBytes(0xc0, 32), wantProof: true, allowForward: true },
    answer,
    {
      type: 'referral',
      token: seqBytes(0x40, 32),
      ticket,
      peers: [
        { identity, endpoint: ep('198.51.100.20', 4433) },
        { identity, endpoint: ep('2001:db8::20', 4433) },
      ],
    },
    { type: 'sync-ask', ticket, ask: { lo: seqBytes(0x40, 32), hi: seqBytes(0x80, 32), count: 41, fingerprint: seqBytes(0xe0, 8), have: [seqBytes(0x10, 8), seqBytes(0x70, 8)] } },
    { type: 'sync-reply', ticket, reply: { kind: 'items', range: { lo: seqBytes(0x40, 32), hi: seqBytes(0x80, 32) }, items: [{ token: seqBytes(0x50, 32), block: id }] } },
    { type: 'fraud-proof', predicate: 'fork', a: answerStatement(crypto.blake3, answer), b: answerStatement(crypto.blake3, forked) },
    signJobMessage(responder, net, {
      type: 'job-offer',
      provider: responder.publicKey,
      issuedAt: T,
      expiresAt: T + 600_000,
      cpuNano: 4_000_000_000,
      memoryBytes: 8 * 1024 * 1024 * 1024,
      maxTimeoutMs: 3_600_000,
      maxOutputBytes: 1_048_576,
      pricePerCpuSecond: 10,
      pricePerGiBSecond: 2,
      images: [seqBytes(0x30, 32), seqBytes(0x50, 32)],
      signature: new Uint8Array(64),
    }),
    submit,
    { type: 'job-accept', jobId: job, time: T + 1_000 },
    { type: 'job-refuse', jobId: job, reason: 'capacity', detail: 'no free CPU' },
    { type: 'job-status', jobId: job, state: 'killed', killReason: 'timeout', exitCode: 137, time: T + 61_000 },
    signJobMessage(responder, net, {
      type: 'job-receipt',
      jobId: job,
      specHash: crypto.blake3.hash(encodeMessage(submit)),
      imageId: seqBytes(0x30, 32),
      provider: responder.publicKey,
      start: T + 1_000,
      end: T + 2_500,
      state: 'exited',
      killReason: 'none',
      exitCode: 0,
      stdoutHash: out.root,
      stdoutBytes: 3,
      stderrHash: empty.root,
      stderrBytes: 0,
      cpuMillis: 870,
      peakMemoryBytes: 12_582_912,
      signature: new Uint8Array(64),
    }),
    out.chunks[0]!,
    { type: 'job-query', jobId: job, what: 'output', stream: 'stdout', fromChunk: 0 },
  ];
}

const HEX_COLUMN = 66;
const BYTES_PER_LINE = 32;

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** The field-by-field dump of one message, as the decoder reads it. */
export function annotate(m: WireMessage): string {
  const bytes = encodeMessage(m);
  const spec = layoutOfKind(bytes[0]!);
  if (spec === undefined) throw new Error('unknown kind');
  // Offsets are body offsets (as in the layout tables); the kind byte precedes the body.
  const fields: { offset: number; size: number; field: string }[] = [
    { offset: -1, size: 1, field: 'kind' },
    { offset: 0, size: 1, field: 'version' },
  ];
  const r = new Reader(bytes.subarray(2), (offset, size, field) => {
    if (size > 0) fields.push({ offset: offset + 1, size, field });
  });
  spec.read(r);
  r.end();
  const lines: string[] = [];
  for (const f of fields) {
    for (let o = 0; o < f.size; o += BYTES_PER_LINE) {
      const chunk = bytes.subarray(1 + f.offset + o, 1 + f.offset + Math.min(f.size, o + BYTES_PER_LINE));
      const label = o === 0 ? `${(f.offset < 0 ? '–' : String(f.offset)).padStart(4)}  ${f.field}` : `${''.padStart(4)}  …`;
      lines.push(`${hex(chunk).padEnd(HEX_COLUMN)}${label}`);
    }
  }
  return lines.join('\n');
}

/** The doc block of one message: markers, a one-line summary and the annotated dump. */
export function vectorBlock(m: WireMessage): string {
  const spec = LAYOUTS[m.type as WireMessageType];
  const bytes = encodeMessage(m);
  return [
    `<!-- vector:${spec.name} -->`,
    '```text',
    `${spec.name}: kind ${spec.kind} (0x${spec.kind.toString(16).padStart(2, '0')}), ${bytes.length} bytes = kind ‖ ${bytes.length - 1}-byte body; columns: hex, body offset, field`,
    annotate(m),
    '```',
    `<!-- /vector:${spec.name} -->`,
  ].join('\n');
}

export function vectorBlocks(crypto: CryptoKernels): { readonly name: string; readonly block: string }[] {
  return vectorMessages(crypto).map((m) => ({ name: LAYOUTS[m.type as WireMessageType].name, block: vectorBlock(m) }));
}

/** Replaces every `<!-- vector:NAME -->…<!-- /vector:NAME -->` region of `doc`; throws when one is missing. */
export function replaceVectorBlocks(doc: string, blocks: readonly { readonly name: string; readonly block: string }[]): string {
  let out = doc;
  for (const { name, block } of blocks) {
    const begin = `<!-- vector:${name} -->`;
    const end = `<!-- /vector:${name} -->`;
    const i = out.indexOf(begin);
    const j = out.indexOf(end);
    if (i < 0 || j < i) throw new Error(`the document has no block for ${name}`);
    out = out.slice(0, i) + block + out.slice(j + end.length);
  }
  return out;
}

async function main(argv: readonly string[]): Promise<void> {
  const crypto = await loadCrypto();
  const blocks = vectorBlocks(crypto);
  const write = argv.indexOf('--write');
  if (write >= 0) {
    const path = argv[write + 1];
    if (path === undefined) throw new Error('--write needs a file');
    const doc = await readFile(path, 'utf8');
    await writeFile(path, replaceVectorBlocks(doc, blocks));
    process.stderr.write(`wrote ${blocks.length} vector blocks into ${path}\n`);
    return;
  }
  process.stdout.write(`${blocks.map((b) => b.block).join('\n\n')}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`wire-vectors: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
