/**
 * `ecd mine`: mine an identity on all cores, with progress on stderr, Ctrl-C to save a resumable
 * state next to --out (exit 130), and --resume to continue it with the same key and time.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { unlink } from 'node:fs/promises';
import type { Command } from 'commander';
import { callingThreadEngineByName, resolveEngineChoice, type EngineChoice } from '../../kernels/argon2/engines.js';
import { loadIdentityCrypto, type IdentityCrypto } from '../../wire/identity-crypto.js';
import { MAX_JSON_FILE_BYTES, identityFileText, parseKeyFile, toHex } from '../../wire/identity-file.js';
import { MAX_DIFFICULTY, bytesEqual, identityWorkRequest, verifyIdentity } from '../../wire/identity.js';
import { PROFILES, type NetworkProfile, type ProfileName } from '../../wire/profiles.js';
import {
  CliError,
  engineOption,
  errorMessage,
  nowSeconds,
  parseIntInRange,
  profileOption,
  writeJson,
  writeStderr,
  writeStdout,
} from '../cli-util.js';
import { FileExistsError, exists, readSmallTextFile, writeSecretFile } from '../files.js';
import {
  CALIBRATE_FROM_ATTEMPTS,
  Miner,
  miningRate,
  formatCount,
  formatDuration,
  formatProgress,
  formatRate,
  identityFromFind,
  miningStatePath,
  miningStateText,
  parseMiningState,
  type MiningJob,
  type MiningState,
} from '../mine.js';

/** How long `--engine auto` times each engine before a long mining run. */
const CALIBRATION_MS = 1_500;

interface MineOptions {
  readonly profile?: ProfileName;
  readonly difficulty?: number;
  readonly workers?: number;
  readonly engine: EngineChoice;
  readonly out?: string;
  readonly resume?: boolean;
  readonly key?: string;
  readonly force?: boolean;
  readonly json?: boolean;
  readonly progress?: boolean;
}

/** Progress starts after this long, so short runs stay quiet (STYLE §19). */
const PROGRESS_DELAY_MS = 1000;
const PROGRESS_TTY_MS = 1000;
const PROGRESS_PIPE_MS = 5000;

export function registerMine(program: Command): void {
  program
    .command('mine')
    .description('mine an identity (Argon2id proof of work) and write it with mode 0600; Ctrl-C saves a resumable state')
    .addOption(profileOption('network profile (default mainnet)'))
    .option('--difficulty <d>', 'trailing zero bits to mine for (default: the profile\'s d0)', parseIntInRange(0, MAX_DIFFICULTY))
    .option('--workers <n>', 'worker threads (default: one per core)', parseIntInRange(1, 256))
    .addOption(engineOption())
    .option('--out <file>', 'identity file to write (default: ecd-<profile>-identity.json)')
    .option('--resume', 'continue the run saved next to --out (same key and time)')
    .option('--key <file>', 'use the key in this file (from `ecd keygen`) instead of a new one')
    .option('--force', 'overwrite an existing identity file or discard a saved mining state')
    .option('--json', 'print {address, difficulty, attempts, seconds, rate} on stdout when done')
    .option('--no-progress', 'no progress lines on stderr')
    .action(async (opts: MineOptions) => {
      await mine(opts);
    });
}

async function readKey(crypto: IdentityCrypto, path: string): Promise<{ seed: Uint8Array; publicKey: Uint8Array }> {
  let text: string;
  try {
    text = await readSmallTextFile(path, MAX_JSON_FILE_BYTES);
  } catch (err) {
    throw new CliError(`cannot read key ${path}: ${errorMessage(err)}`);
  }
  const parsed = parseKeyFile(text);
  if (!parsed.ok) throw new CliError(`bad key file ${path}: ${parsed.reason}`);
  const publicKey = crypto.ed25519.signerFromSeed(parsed.value.secretSeed).publicKey;
  if (!bytesEqual(publicKey, parsed.value.publicKey)) throw new CliError(`bad key file ${path}: the public key does not match the seed`);
  return { seed: parsed.value.secretSeed, publicKey };
}

async function readState(path: string): Promise<MiningState> {
  let text: string;
  try {
    text = await readSmallTextFile(path, MAX_JSON_FILE_BYTES);
  } catch (err) {
    throw new CliError(`cannot resume: no readable mining state at ${path} (${errorMessage(err)})`);
  }
  const parsed = parseMiningState(text);
  if (!parsed.ok) throw new CliError(`cannot resume: ${path}: ${parsed.reason}`);
  return parsed.value;
}

async function mine(opts: MineOptions): Promise<void> {
  const crypto = await loadIdentityCrypto();
  const now = nowSeconds();
  let profile: NetworkProfile;
  let seed: Uint8Array;
  let publicKey: Uint8Array;
  let time: number;
  let difficulty: number;
  let attemptsBefore = 0;
  let secondsBefore = 0;

  let profileName: ProfileName = opts.profile ?? 'mainnet';
  if (opts.resume === true && opts.profile === undefined && opts.out === undefined) {
    throw new CliError('--resume needs --out (or --profile) to find the saved state');
  }
  const out = opts.out ?? `ecd-${profileName}-identity.json`;
  const statePath = miningStatePath(out);

  if (opts.force !== true && (await exists(out))) throw new CliError(`${out} already exists (use --force to overwrite)`);

  if (opts.resume === true) {
    const state = await readState(statePath);
    const p = Object.values(PROFILES).find((x) => x.name === state.profile);
    if (p === undefined) throw new CliError(`cannot resume: unknown profile "${state.profile}" in ${statePath}`);
    if (opts.profile !== undefined && opts.profile !== p.name) {
      throw new CliError(`cannot resume: the saved run is for ${p.name}, not ${opts.profile} (the network id is in the salt)`);
    }
    if (p.networkId !== state.networkId || p.argon2.mKiB !== state.argon2.mKiB || p.argon2.t !== state.argon2.t || p.argon2.p !== state.argon2.p) {
      throw new CliError(`cannot resume: the ${p.name} profile's network id or Argon2 parameters changed since ${statePath} was saved`);
    }
    const age = now - state.time;
    if (age > p.identityMaxAgeS) {
      throw new CliError(
        `cannot resume: the saved mining time is ${formatDuration(age)} old, beyond the ${formatDuration(p.identityMaxAgeS)} an identity stays valid; start a new run (--force discards ${statePath})`,
      );
    }
    if (-age > p.identityMaxFutureS) throw new CliError(`cannot resume: the saved mining time is ${formatDuration(-age)} in the future; check the clock`);
    if (opts.key !== undefined) {
      const key = await readKey(crypto, opts.key);
      if (!bytesEqual(key.publicKey, state.publicKey)) throw new CliError('cannot resume: --key is not the key of the saved run');
    }
    const statePk = crypto.ed25519.signerFromSeed(state.secretSeed).publicKey;
    if (!bytesEqual(statePk, state.publicKey)) throw new CliError(`cannot resume: ${statePath}: the public key does not match the seed`);
    profile = p;
    profileName = p.name as ProfileName;
    seed = state.secretSeed;
    publicKey = state.publicKey;
    time = state.time;
    // The salt does not depend on d, so a resumed run may aim higher or lower than the saved one.
    difficulty = opts.difficulty ?? state.difficulty;
    attemptsBefore = state.attempts;
    secondsBefore = state.seconds;
    if (age > p.identityMaxAgeS / 2) {
      writeStderr(`note: the saved mining time is ${formatDuration(age)} old; the identity will expire ${formatDuration(p.identityMaxAgeS - age)} after it is found`);
    }
  } else {
    if (opts.force !== true && (await exists(statePath))) {
      throw new CliError(`a saved mining run exists at ${statePath}; continue it with --resume or discard it with --force`);
    }
    profile = PROFILES[profileName];
    if (opts.key !== undefined) {
      const key = await readKey(crypto, opts.key);
      seed = key.seed;
      publicKey = key.publicKey;
    } else {
      seed = new Uint8Array(randomBytes(32));
      publicKey = crypto.ed25519.signerFromSeed(seed).publicKey;
    }
    time = now; // fixed for the whole run: it is in the salt
    difficulty = opts.difficulty ?? profile.d0;
  }
  if (difficulty < profile.d0) {
    throw new CliError(`difficulty ${difficulty} is below the ${profile.name} minimum d0 = ${profile.d0}; such an identity would not verify`);
  }

  const sample = identityWorkRequest(profile, publicKey, new Uint8Array(16));
  const workers = opts.workers ?? availableParallelism();
  const job: MiningJob = { profile, difficulty, publicKey, time, attemptsBefore, secondsBefore };
  let engine = await resolveEngineChoice(opts.engine, sample);
  if (opts.engine === 'auto' && 2 ** difficulty >= CALIBRATE_FROM_ATTEMPTS) {
    // auto: whichever engine mines fastest here, with these workers and this profile's cost.
    const candidates = [...new Set([engine.name, (await resolveEngineChoice('wasm', sample)).name])];
    if (candidates.length > 1) {
      if (opts.json !== true && opts.progress !== false) writeStderr(`timing ${candidates.join(' and ')} with ${workers} workers…`);
      const rates = [];
      for (const name of candidates) rates.push({ name, rate: await miningRate(job, name, workers, CALIBRATION_MS) });
      const best = rates.reduce((a, b) => (b.rate > a.rate ? b : a));
      engine = { name: best.name, note: `auto picked ${best.name}: ${rates.map((r) => `${r.name} ${formatRate(r.rate)}`).join(', ')}` };
    }
  }
  if (engine.note !== null) writeStderr(`note: ${engine.note}`);
  const miner = new Miner(job, { kernel: engine.name, workers });

  const stateOf = (): MiningState => {
    const p = miner.progress();
    return {
      profile: profile.name,
      networkId: profile.networkId,
      argon2: profile.argon2,
      difficulty,
      time,
      publicKey,
      secretSeed: seed,
      attempts: p.attempts,
      seconds: p.seconds,
    };
  };

  // Ctrl-C: stop the workers (each finishes its current hash), save the state, exit 130.
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130); // a second Ctrl-C does not wait
    interrupted = true;
    void miner.stop();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  let progressTimer: NodeJS.Timeout | null = null;
  let progressStart: NodeJS.Timeout | null = null;
  const tty = process.stderr.isTTY === true;
  const showProgress = (): void => {
    const line = formatProgress(miner.progress(), difficulty);
    if (tty) process.stderr.write(`\r\x1b[2K${line}`);
    else writeStderr(line);
  };
  const endProgress = (): void => {
    if (progressStart !== null) clearTimeout(progressStart);
    if (progressTimer !== null) clearInterval(progressTimer);
    if (progressTimer !== null && tty) process.stderr.write('\n');
    progressStart = progressTimer = null;
  };

  try {
    let run;
    try {
      run = await miner.start();
    } catch (err) {
      if (!interrupted) throw new CliError(`mining failed: ${errorMessage(err)}`);
      run = { result: Promise.resolve({ kind: 'stopped' as const, attempts: attemptsBefore, seconds: secondsBefore }) };
    }
    if (opts.progress !== false) {
      progressStart = setTimeout(() => {
        writeStderr(
          `mining ${profile.name} d=${difficulty} with ${workers} × ${miner.progress().kernel ?? engine.name}; expected ${formatCount(2 ** difficulty)} attempts; Ctrl-C saves ${statePath}`,
        );
        showProgress();
        progressTimer = setInterval(showProgress, tty ? PROGRESS_TTY_MS : PROGRESS_PIPE_MS);
      }, PROGRESS_DELAY_MS);
    }
    let result;
    try {
      result = await run.result;
    } catch (err) {
      throw new CliError(`mining failed: ${errorMessage(err)}`);
    }
    endProgress();

    if (result.kind === 'stopped') {
      const state = stateOf();
      try {
        await writeSecretFile(statePath, miningStateText(state), { overwrite: true });
      } catch (err) {
        throw new CliError(`interrupted, and the mining state could not be saved to ${statePath}: ${errorMessage(err)}`, 130);
      }
      throw new CliError(
        `interrupted after ${formatCount(state.attempts)} attempts; state saved to ${statePath} (continue with: ecd mine --resume --out ${out})`,
        130,
      );
    }

    const record = identityFromFind(crypto.ed25519, seed, job, result.nonce);
    // Check the result with an engine on this thread before writing anything.
    const verifier = await callingThreadEngineByName(engine.name);
    let address: Uint8Array;
    try {
      const v = await verifyIdentity({ ...crypto, argon2: verifier }, record, { profile, now: nowSeconds(), minDifficulty: profile.d0 });
      if (!v.ok) throw new CliError(`internal error: the mined identity does not verify (${v.reason})`);
      address = v.address;
    } finally {
      await verifier.close();
    }
    try {
      await writeSecretFile(out, identityFileText(record, { profile: profile.name, address, secretSeed: seed }), { overwrite: opts.force === true });
    } catch (err) {
      const state = stateOf();
      await writeSecretFile(statePath, miningStateText(state), { overwrite: true }).catch(() => undefined);
      if (err instanceof FileExistsError) throw new CliError(`${err.message}; the mining state is saved in ${statePath}`);
      throw new CliError(`cannot write ${out}: ${errorMessage(err)}`);
    }
    await unlink(statePath).catch(() => undefined);

    const rate = result.seconds > 0 ? result.attempts / result.seconds : 0;
    const seconds = Math.round(result.seconds * 1000) / 1000;
    if (opts.json === true) {
      writeJson({ address: toHex(address), difficulty, attempts: result.attempts, seconds, rate: Math.round(rate * 10) / 10 });
    } else {
      writeStderr(`found after ${formatCount(result.attempts)} attempts in ${formatDuration(result.seconds)} (${formatRate(rate)}); wrote ${out}`);
      writeStdout(`address ${toHex(address)}`);
    }
  } finally {
    endProgress();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await miner.stop();
  }
}
