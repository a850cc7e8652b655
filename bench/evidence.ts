/**
 * What Minefield evidence costs per received answer (PROTOCOL §9), against what the answer costs
 * anyway: one Ed25519 verification of its statement. Three operations at the real size (statements
 * with 4 evidence items, 641 bytes):
 *
 *  - `EvidenceBook.add` of a new honest statement from a responder that already has the 32 kept
 *    statements the per-responder bound allows (each add checks against all 32, then evicts one,
 *    so the responder stays at 32);
 *  - `fraudBetween` on one pair of statements about the same token (25 claim pairs compared);
 *  - `statementSignatureValid`: the Ed25519 verification every answer pays before the book.
 *
 * Outputs are checked first (the honest stream yields no proof, a forged head does, every signature
 * verifies); then each is timed in the same run and reported as µs per op and as a ratio to the
 * verification.
 *
 *   import { benchEvidence } from './bench/evidence.js';
 *   const r = await benchEvidence({ time: 300 });
 */
import { Bench } from 'tinybench';
import { pathToFileURL } from 'node:url';
import { describeCrypto, loadCrypto } from '../kernels/crypto.js';
import type { Blake3Kernel, Ed25519Signer } from '../kernels/types.js';
import { fraudBetween, statementSignatureValid } from '../consensus/fraud.js';
import { EvidenceBook, EVIDENCE_LIMITS } from '../store/evidence.js';
import { answerStatement, encodeStatement, MAX_ANSWER_EVIDENCE, signAnswer, type EvidenceItem, type UnsignedAnswer } from '../wire/msg-answer.js';

export interface BenchEvidenceOptions {
  /** Measuring time per task in milliseconds (default 300). */
  readonly time?: number;
}

export interface EvidenceBenchEntry {
  readonly name: string;
  readonly usPerOp: number;
  /** µs per op divided by the Ed25519 verification's µs per op. */
  readonly ratioToVerify: number;
  readonly rmePercent: number;
  readonly samples: number;
}

export interface EvidenceBenchResult {
  readonly node: string;
  readonly ed25519: string;
  readonly blake3: string;
  readonly statementBytes: number;
  readonly keptPerResponder: number;
  readonly timePerTaskMs: number;
  /** Always true: the benchmark throws before timing if a check fails. */
  readonly outputsChecked: true;
  readonly results: readonly EvidenceBenchEntry[];
}

const NET = 0x6563_6400n;
const T0 = 1_700_000_000_000;
/** Tokens the simulated chain moves round-robin: one per commit, so a token's mapping seq is the last commit ≡ it. */
const CHAIN_TOKENS = 40;
/** Honest statements generated; the timed `add` cycles through those after the ones that filled the book. */
const POOL = 512;

function id32(tag: number, n: number): Uint8Array {
  const b = new Uint8Array(32);
  b[0] = tag;
  new DataView(b.buffer).setUint32(28, n >>> 0);
  return b;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchEvidence: output check failed: ${what}`);
}

/**
 * An honest responder's answer at head `h` about token index `t`, on a chain whose commit `s`
 * moves token `s mod 40` to block `s`: the mapping is the last such commit ≤ h, and the evidence
 * is the 4 latest commits (distinct tokens, each still mapped where that commit put it).
 */
function honestAnswer(responder: Uint8Array, h: number, t: number, requester: number): UnsignedAnswer {
  const last = h - ((((h - t) % CHAIN_TOKENS) + CHAIN_TOKENS) % CHAIN_TOKENS);
  const mapping = last >= 1 ? { block: id32(0xb0, last), parent: last > CHAIN_TOKENS ? id32(0xb0, last - CHAIN_TOKENS) : new Uint8Array(32), time: T0 + last, commitSeq: last } : { block: new Uint8Array(32), parent: new Uint8Array(32), time: 0, commitSeq: 0 };
  const evidence: EvidenceItem[] = [];
  for (let s = h; s >= 1 && evidence.length < MAX_ANSWER_EVIDENCE; s--) evidence.push({ token: id32(0x70, s % CHAIN_TOKENS), block: id32(0xb0, s), commitSeq: s });
  return {
    requester: id32(0xa0, requester),
    ticket: new Uint8Array(16).fill(0x7c),
    token: id32(0x70, t),
    mapping,
    proof: [],
    evidence,
    head: { seq: h, id: id32(0xcc, h), time: T0 + h },
    answerTime: T0 + 1_000 + requester,
    responder,
  };
}

function statement(blake3: Blake3Kernel, signer: Ed25519Signer, a: UnsignedAnswer): Uint8Array {
  return encodeStatement(answerStatement(blake3, signAnswer(blake3, signer, NET, a)));
}

interface TaskSpec {
  readonly name: string;
  /** Operations one call of `fn` performs (fast ones are batched). */
  readonly batch: number;
  readonly fn: () => void;
}

export async function benchEvidence(opts: BenchEvidenceOptions = {}): Promise<EvidenceBenchResult> {
  const time = opts.time ?? 300;
  const crypto = await loadCrypto();
  const signer = crypto.ed25519.signerFromSeed(new Uint8Array(32).fill(0x42));
  const kept = EVIDENCE_LIMITS.perResponder;

  // ---- inputs: an honest stream, heads rising, about tokens drawn from the chain ----
  let x = 0x2545f491;
  const pool: Uint8Array[] = [];
  for (let i = 0; i < POOL; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    pool.push(statement(crypto.blake3, signer, honestAnswer(signer.publicKey, 8 + i, x % CHAIN_TOKENS, i)));
  }
  const size = pool[0]!.length;
  // The pair fraudBetween compares: one token, two heads, 5 claims each.
  const tok = 7;
  const pairA = statement(crypto.blake3, signer, honestAnswer(signer.publicKey, 200, tok, 9_001));
  const pairB = statement(crypto.blake3, signer, honestAnswer(signer.publicKey, 260, tok, 9_002));

  // ---- check outputs first ----
  check(pool.every((s) => s.length === size), 'every statement has 4 evidence items');
  check(pool.every((s) => statementSignatureValid(crypto.ed25519, NET, s)), 'every signature verifies');
  check(!statementSignatureValid(crypto.ed25519, NET + 1n, pool[0]!), 'a signature fails on another network');
  check(fraudBetween(pairA, pairB) === null && fraudBetween(pairB, pairA) === null, 'the honest pair is no fraud');
  const whole = new EvidenceBook(crypto.blake3);
  for (const [i, s] of pool.entries()) check(whole.add(s, T0 + i).proof === null, `honest statement ${i} completes no proof`);
  for (const s of [...pool].reverse()) check(whole.add(s, T0).proof === null, 'the same stream in reverse (lag) completes no proof');
  const forged = statement(crypto.blake3, signer, { ...honestAnswer(signer.publicKey, 8, 0, 1), head: { seq: 8, id: id32(0xcd, 1), time: T0 } });
  check(whole.add(forged, T0).proof?.predicate === 'fork', 'a second head at the same seq is a fork');

  // ---- the book under test: one responder at its 32 kept statements ----
  const book = new EvidenceBook(crypto.blake3);
  let next: number = 0;
  // Fill to the bound (a token asked about more than 3 times keeps only 3).
  while (book.statements < kept && next < POOL / 2) book.add(pool[next]!, T0 + next++);
  check(book.statements === kept, `the book keeps ${kept}`);
  const first = next;
  const addOne = (): void => {
    const r = book.add(pool[next]!, T0 + next);
    if (r.proof !== null || r.evicted !== 1) throw new Error('benchEvidence: add left the steady state');
    next = next + 1 === POOL ? first : next + 1;
  };
  addOne();
  check(book.statements === kept, 'each add evicts one: the responder stays at 32');

  // ---- time ----
  const tasks: TaskSpec[] = [
    {
      name: 'Ed25519 verify of a statement (statementSignatureValid)',
      batch: 1,
      fn: () => {
        if (!statementSignatureValid(crypto.ed25519, NET, pairA)) throw new Error('verify failed');
      },
    },
    { name: `EvidenceBook.add, responder at ${kept} kept`, batch: 1, fn: addOne },
    {
      name: 'fraudBetween, one pair (same token)',
      batch: 64,
      fn: () => {
        for (let i = 0; i < 64; i++) if (fraudBetween(pairA, pairB) !== null) throw new Error('fraud on honest input');
      },
    },
  ];
  const bench = new Bench({ time, warmupTime: Math.min(100, Math.max(10, time / 3)), throws: true });
  for (const t of tasks) bench.add(t.name, t.fn);
  await bench.run();
  const raw = tasks.map((t, i) => {
    const task = bench.tasks[i]!;
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`benchEvidence: task ${t.name} ended ${r.state}`);
    return { name: t.name, usPerOp: (r.period * 1000) / t.batch, rmePercent: r.latency.rme, samples: task.runs };
  });
  const verifyUs = raw[0]!.usPerOp;
  const results = raw.map((r) => ({
    name: r.name,
    usPerOp: Math.round(r.usPerOp * 1000) / 1000,
    ratioToVerify: Math.round((r.usPerOp / verifyUs) * 1000) / 1000,
    rmePercent: Math.round(r.rmePercent * 10) / 10,
    samples: r.samples,
  }));
  const names = describeCrypto(crypto);
  return { node: process.version, ed25519: names.ed25519, blake3: names.blake3, statementBytes: size, keptPerResponder: kept, timePerTaskMs: time, outputsChecked: true, results };
}

/** The result as the lines `ecd bench evidence` prints. */
export function evidenceTable(r: EvidenceBenchResult): string {
  const w = Math.max(...r.results.map((e) => e.name.length));
  return [
    `evidence: ${r.statementBytes}-byte statements, ${r.keptPerResponder} kept per responder, Ed25519 ${r.ed25519}, BLAKE3 ${r.blake3}, outputs checked`,
    `  ${'operation'.padEnd(w)}  ${'µs/op'.padStart(9)}  ${'× verify'.padStart(9)}  ${'±%'.padStart(5)}`,
    ...r.results.map((e) => `  ${e.name.padEnd(w)}  ${e.usPerOp.toFixed(3).padStart(9)}  ${e.ratioToVerify.toFixed(3).padStart(9)}  ${e.rmePercent.toFixed(1).padStart(5)}`),
  ].join('\n');
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(invokedPath).href) {
  const ms = Number(process.argv[2] ?? 300);
  const result = await benchEvidence({ time: Number.isFinite(ms) && ms > 0 ? ms : 300 });
  process.stdout.write(`${evidenceTable(result)}\n`);
}
