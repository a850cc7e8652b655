/**
 * `ecd evidence collect|list|show|export|verify`: Minefield evidence for token owners
 * (PROTOCOL §9, docs/evidence.md).
 *
 *  - collect: routine queries of a token's neighbourhood through one daemon; every signed answer
 *    is kept in that daemon's evidence book and checked there, and a liar is banned on the spot;
 *  - list / show: what the daemon kept, the proofs it holds and the peers it banned;
 *  - export: a self-contained file (an evidence bundle, or one fraud proof) to keep or publish;
 *  - verify: checks such files offline, with no daemon and no network: exit 0 when valid, 1 with
 *    the reason when not. Bundles given together are compared with each other (split views).
 *
 * Exit codes: 0 done / valid, 1 failure / invalid, 2 usage.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { callingThreadEngineByName, resolveEngineChoice, type EngineChoice } from '../../kernels/argon2/engines.js';
import type { Argon2idEngine } from '../../kernels/types.js';
import { toHex } from '../../consensus/hex.js';
import { decodeEvidenceFile, encodeFraudProofFile, EVIDENCE_FILE_LIMITS, type EvidenceFile } from '../../wire/evidence-file.js';
import { loadIdentityCrypto } from '../../wire/identity-crypto.js';
import { identityWorkRequest } from '../../wire/identity.js';
import { PROFILES, profileByNetworkId, type ProfileName } from '../../wire/profiles.js';
import type { EvidenceView, NetworkTokenAnswer } from '../api-client.js';
import { CliError, engineOption, errorMessage, parseIntInRange, profileOption, writeJson, writeStderr, writeStdout } from '../cli-util.js';
import { writeSecretFile } from '../files.js';
import { parseToken } from '../token-blocks.js';
import { verifyEvidenceFiles, type VerifyReport } from '../evidence-verify.js';
import { addEndpointOptions, clientFor, usageExitCodes, withCliErrors, type ClientCommandOptions } from './token.js';

interface CollectOptions extends ClientCommandOptions {
  readonly rounds: number;
  readonly interval: number;
  readonly networkTimeout: number;
}

interface ExportOptions extends ClientCommandOptions {
  readonly token?: string;
  readonly proof?: string;
  readonly force?: boolean;
}

interface VerifyOptions {
  readonly profile?: ProfileName;
  readonly engine: EngineChoice;
  readonly proofOut?: string;
  readonly json?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const short = (h: string): string => h.slice(0, 16);

function roundLine(i: number, n: number, r: NetworkTokenAnswer): string {
  const count = new Map<string, number>();
  for (const a of r.answers) count.set(a.block ?? 'none', (count.get(a.block ?? 'none') ?? 0) + 1);
  const summary = [...count.entries()].sort((x, y) => y[1] - x[1]).map(([b, c]) => `${c} × ${b === 'none' ? 'no mapping' : short(b)}`);
  return `round ${i}/${n}: ${r.answers.length} signed answers${summary.length === 0 ? '' : ` (${summary.join(', ')})`}, ${r.referrals.length} referrals, ${r.silent} silent`;
}

function keptSummary(v: EvidenceView): { statements: number; responders: number; bytes: number; maxBytesPerResponder: number } {
  const per = new Map<string, number>();
  for (const k of v.kept) {
    const r = String(k['responder']);
    per.set(r, (per.get(r) ?? 0) + String(k['bytes'] ?? '').length / 2);
  }
  return { statements: v.statements, responders: v.responders, bytes: v.bytes, maxBytesPerResponder: Math.max(0, ...per.values()) };
}

async function readEvidenceFile(path: string): Promise<EvidenceFile> {
  let bytes: Uint8Array;
  try {
    const st = await stat(path);
    if (st.size > EVIDENCE_FILE_LIMITS.maxFileBytes) throw new CliError(`${path}: over ${EVIDENCE_FILE_LIMITS.maxFileBytes} bytes, not an evidence file`);
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${path}: ${errorMessage(err)}`);
  }
  const d = decodeEvidenceFile(bytes);
  if (!d.ok) throw new CliError(`${path}: ${d.reason}`);
  return d.file;
}

function reportJson(r: VerifyReport): Record<string, unknown> {
  if (!r.valid) return r;
  return { ...r, networkId: r.networkId.toString(10), fraud: r.fraud.map((f) => ({ culprit: f.culprit, predicate: f.predicate, a: toHex(f.a), b: toHex(f.b) })) };
}

export function registerEvidence(program: Command): void {
  const evidence = usageExitCodes(program.command('evidence').description('collect, inspect, export and verify Minefield evidence (signed answers, fraud proofs)'));

  const collect = evidence
    .command('collect')
    .description("query TOKEN's neighbourhood N times through a daemon; the daemon keeps every signed answer and bans liars")
    .argument('<token>', 'token id (64 hex characters)')
    .option('--rounds <n>', 'query rounds', parseIntInRange(1, 1_000), 5)
    .option('--interval <ms>', 'pause between rounds', parseIntInRange(0, 60_000), 200)
    .option('--network-timeout <ms>', 'how long the daemon collects answers per round', parseIntInRange(1, 10_000), 1_000);
  addEndpointOptions(collect).action(async (tokenArg: string, opts: CollectOptions) => {
    const out = await withCliErrors(async () => {
      const token = toHex(parseToken(tokenArg));
      const client = await clientFor(opts);
      const rounds: NetworkTokenAnswer[] = [];
      for (let i = 1; i <= opts.rounds; i++) {
        const r = await client.networkToken(token, { timeoutMs: opts.networkTimeout });
        rounds.push(r);
        if (opts.json !== true) {
          writeStdout(roundLine(i, opts.rounds, r));
          for (const f of r.fraud) writeStdout(`  FRAUD: ${f.culprit} signed a ${f.predicate} (proof ${short(f.proof)}); the daemon banned it`);
        }
        if (i < opts.rounds && opts.interval > 0) await sleep(opts.interval);
      }
      const kept = await client.evidence(token);
      return { token, rounds, kept };
    });
    const fraud = out.rounds.flatMap((r) => r.fraud);
    const kept = keptSummary(out.kept);
    if (opts.json === true) {
      writeJson({
        token: out.token,
        rounds: out.rounds.map((r) => ({ answers: r.answers.length, referrals: r.referrals.length, silent: r.silent, fraud: r.fraud })),
        fraud,
        kept,
        bans: out.kept.bans,
      });
      return;
    }
    writeStdout(`kept for this token: ${kept.statements} statements from ${kept.responders} responders, ${kept.bytes} bytes (at most ${kept.maxBytesPerResponder} per responder)`);
    writeStdout(fraud.length === 0 ? 'no fraud found' : `${fraud.length} fraud proof(s); see: ecd evidence list`);
  });

  const list = evidence
    .command('list')
    .description("the daemon's evidence: statements kept (about --token), fraud proofs and bans")
    .option('--token <token>', 'only statements about this token');
  addEndpointOptions(list).action(async (opts: ClientCommandOptions & { token?: string }) => {
    const v = await withCliErrors(async () => {
      const client = await clientFor(opts);
      return client.evidence(opts.token === undefined ? undefined : toHex(parseToken(opts.token)));
    });
    if (opts.json === true) {
      writeJson(v);
      return;
    }
    writeStdout(`${v.statements} statements from ${v.responders} responders (${v.bytes} bytes)${v.token === undefined ? '' : ` about ${v.token}`}`);
    for (const k of v.kept) {
      const head = k['head'] as { seq: number; id: string } | undefined;
      writeStdout(`  ${short(String(k['responder']))}  token ${short(String(k['token']))}  ${k['block'] === null ? 'no mapping' : `block ${short(String(k['block']))} seq ${String(k['seq'])}`}  head ${head?.seq ?? '?'}/${short(head?.id ?? '')}`);
    }
    writeStdout(`${v.proofs.length} fraud proofs`);
    for (const p of v.proofs) writeStdout(`  ${p.id}  ${p.predicate}  culprit ${p.culprit}  (${p.source}, ${new Date(p.foundAt).toISOString()})`);
    writeStdout(`${v.bans.length} peers banned`);
    for (const b of v.bans) writeStdout(`  ${b.publicKey}  ${b.predicate}  since ${new Date(b.since).toISOString()}  proof ${short(b.proof)}`);
  });

  const show = evidence
    .command('show')
    .description('one fraud proof held by the daemon: both statements, the predicate, the culprit')
    .argument('<proof>', 'proof id (or a unique prefix of at least 4 hex digits)');
  addEndpointOptions(show).action(async (id: string, opts: ClientCommandOptions) => {
    const p = await withCliErrors(async () => {
      if (!/^[0-9a-fA-F]{4,64}$/.test(id)) throw new CliError('a proof id is 4 to 64 hex digits', 2);
      const client = await clientFor(opts);
      const proof = await client.evidenceProof(id);
      if (proof === null) throw new CliError(`no fraud proof ${id} at this daemon (or the prefix is not unique)`);
      return proof;
    });
    if (opts.json === true) {
      writeJson(p);
      return;
    }
    writeStdout([`proof     ${p.id}`, `predicate ${p.predicate}`, `culprit   ${p.culprit}`, `found     ${new Date(p.foundAt).toISOString()} (${p.source})`].join('\n'));
    for (const [name, s] of [['A', p.a], ['B', p.b]] as const) {
      const head = s['head'] as { seq: number; id: string };
      const ev = (s['evidence'] as { token: string; block: string; seq: number }[]).map((e) => `${short(e.token)}→${short(e.block)}@${e.seq}`).join(' ');
      writeStdout(`${name}: token ${s['token']} ${s['block'] === null ? 'no mapping' : `→ ${s['block']} @ seq ${s['seq']}`}; head ${head.seq} ${head.id}; evidence ${ev === '' ? 'none' : ev}`);
    }
  });

  const exp = evidence
    .command('export')
    .description('write an evidence bundle (all kept statements, or --token) or one fraud proof (--proof) to FILE')
    .argument('<file>', 'output file')
    .option('--token <token>', 'only statements about this token')
    .option('--proof <id>', 'write this fraud proof instead of a bundle')
    .option('--force', 'overwrite FILE');
  addEndpointOptions(exp).action(async (file: string, opts: ExportOptions) => {
    const r = await withCliErrors(async () => {
      if (opts.token !== undefined && opts.proof !== undefined) throw new CliError('--token and --proof exclude each other', 2);
      const client = await clientFor(opts);
      let bytes: Uint8Array;
      let what: string;
      if (opts.proof !== undefined) {
        const p = await client.evidenceProof(opts.proof);
        if (p === null) throw new CliError(`no fraud proof ${opts.proof} at this daemon`);
        bytes = new Uint8Array(Buffer.from(p.file, 'hex'));
        what = `fraud proof ${p.id} (${p.predicate} by ${p.culprit})`;
      } else {
        bytes = await client.evidenceBundle(opts.token === undefined ? undefined : toHex(parseToken(opts.token)));
        what = `evidence bundle${opts.token === undefined ? '' : ` for ${opts.token.toLowerCase()}`}`;
      }
      const d = decodeEvidenceFile(bytes);
      if (!d.ok) throw new CliError(`the daemon sent a malformed file: ${d.reason}`);
      try {
        await writeSecretFile(file, bytes, { overwrite: opts.force === true, mode: 0o644 });
      } catch (err) {
        throw new CliError(`cannot write ${file}: ${errorMessage(err)}${opts.force === true ? '' : ' (--force overwrites)'}`);
      }
      return { file, what, bytes: bytes.length, statements: d.file.kind === 'bundle' ? d.file.statements.length : 2 };
    });
    if (opts.json === true) writeJson(r);
    else writeStdout(`wrote ${r.what} to ${r.file}: ${r.bytes} bytes, ${r.statements} statements`);
  });

  const submit = evidence
    .command('submit')
    .description('hand a fraud-proof file to a daemon: it checks it, keeps it, bans the culprit and tells its peers')
    .argument('<file>', 'fraud-proof file (ecd evidence export --proof, or verify --proof-out)');
  addEndpointOptions(submit).action(async (file: string, opts: ClientCommandOptions) => {
    const r = await withCliErrors(async () => {
      const f = await readEvidenceFile(file);
      if (f.kind !== 'fraud-proof') throw new CliError(`${file} is an evidence bundle, not a proof (find one with: ecd evidence verify --proof-out F …)`, 2);
      const client = await clientFor(opts);
      return client.submitProof(new Uint8Array(await readFile(file)));
    });
    if (opts.json === true) writeJson(r);
    else writeStdout(`${r.predicate} by ${r.culprit}: proof ${r.proof} ${r.banned ? 'kept; the culprit is banned and the proof sent to the daemon’s peers' : 'already held (the culprit was banned)'}`);
  });

  evidence
    .command('verify')
    .description('check evidence files offline: exit 0 when valid, 1 with the reason; bundles given together are compared for split views')
    .argument('<files...>', 'fraud-proof or bundle files (ecd evidence export)')
    .addOption(profileOption('profile for identity records (default: the files\' network)'))
    .addOption(engineOption())
    .option('--proof-out <file>', 'write the first fraud proven by the bundles to this file')
    .option('--json', 'print the report as JSON on stdout')
    .action(async (paths: string[], opts: VerifyOptions) => {
      const files: EvidenceFile[] = [];
      for (const p of paths) files.push(await readEvidenceFile(p));
      const crypto = await loadIdentityCrypto();
      const profile = opts.profile === undefined ? undefined : PROFILES[opts.profile];
      let engine: Argon2idEngine | null = null;
      const argon2 = async (): Promise<Argon2idEngine> => {
        if (engine !== null) return engine;
        const prof = profile ?? profileByNetworkId(files[0]?.networkId ?? 0n) ?? PROFILES.devnet;
        const resolved = await resolveEngineChoice(opts.engine, identityWorkRequest(prof, new Uint8Array(32), new Uint8Array(16)));
        engine = await callingThreadEngineByName(resolved.name);
        return engine;
      };
      let report: VerifyReport;
      try {
        report = await verifyEvidenceFiles({ ed25519: crypto.ed25519, blake3: crypto.blake3, argon2 }, files, profile);
      } finally {
        await (engine as Argon2idEngine | null)?.close();
      }
      if (opts.json === true) writeJson(reportJson(report));
      if (!report.valid) {
        if (opts.json === true) process.exit(1);
        throw new CliError(report.reason);
      }
      if (opts.proofOut !== undefined && report.fraud.length > 0) {
        const f = report.fraud[0]!;
        const proof = encodeFraudProofFile({ networkId: report.networkId, predicate: f.predicate, identity: null, a: f.a, b: f.b });
        try {
          await writeSecretFile(opts.proofOut, proof, { overwrite: false, mode: 0o644 });
        } catch (err) {
          throw new CliError(`cannot write ${opts.proofOut}: ${errorMessage(err)}`);
        }
        if (opts.json !== true) writeStderr(`wrote the ${f.predicate} proof against ${f.culprit} to ${opts.proofOut}`);
      }
      if (opts.json === true) return;
      const what = report.kind === 'fraud-proof' ? 'fraud proof' : 'evidence';
      writeStdout(`valid ${what}: ${report.statements} signed statements from ${report.responders} responders, ${report.identities} identity records, ${report.blocks} blocks (network ${report.networkId})`);
      for (const n of report.notes) writeStdout(`note: ${n}`);
      for (const f of report.fraud) writeStdout(`FRAUD: ${f.culprit} signed a ${f.predicate}: two statements that cannot both be true`);
      if (report.kind === 'bundle' && report.fraud.length === 0) writeStdout('no fraud among these statements');
    });
}
