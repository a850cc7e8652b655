/** `ecd identity verify|show FILE`: check or display an identity file. `show` never prints the secret. */
import type { Command } from 'commander';
import { callingThreadEngineByName, resolveEngineChoice, type EngineChoice } from '../../kernels/argon2/engines.js';
import type { Argon2idEngine } from '../../kernels/types.js';
import { loadIdentityCrypto } from '../../wire/identity-crypto.js';
import { MAX_JSON_FILE_BYTES, identityFileProblem, identityPublicJson, parseIdentityFile, toHex, type IdentityFile } from '../../wire/identity-file.js';
import { MAX_DIFFICULTY, bytesEqual, identityWork, identityWorkRequest, verifyIdentity } from '../../wire/identity.js';
import { PROFILES, profileByName, profileByNetworkId, type NetworkProfile, type ProfileName } from '../../wire/profiles.js';
import { CliError, engineOption, errorMessage, nowSeconds, parseIntInRange, profileOption, writeJson, writeStdout } from '../cli-util.js';
import { readSmallTextFile } from '../files.js';

interface VerifyOptions {
  readonly profile?: ProfileName;
  readonly minDifficulty?: number;
  readonly engine: EngineChoice;
  readonly json?: boolean;
}

interface ShowOptions {
  readonly engine: EngineChoice;
  readonly json?: boolean;
}

type Loaded = { readonly ok: true; readonly file: IdentityFile } | { readonly ok: false; readonly reason: string };

async function loadIdentityFile(path: string): Promise<Loaded> {
  let text: string;
  try {
    text = await readSmallTextFile(path, MAX_JSON_FILE_BYTES);
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${errorMessage(err)}`);
  }
  const parsed = parseIdentityFile(text);
  return parsed.ok ? { ok: true, file: parsed.value } : { ok: false, reason: parsed.reason };
}

async function engineFor(choice: EngineChoice, profile: NetworkProfile): Promise<Argon2idEngine> {
  const sample = identityWorkRequest(profile, new Uint8Array(32), new Uint8Array(16));
  const resolved = await resolveEngineChoice(choice, sample);
  return callingThreadEngineByName(resolved.name);
}

export function registerIdentity(program: Command): void {
  const identity = program.command('identity').description('check and display identity files');

  identity
    .command('verify')
    .description('verify an identity file: exit 0 when valid, 1 with the reason when not')
    .argument('<file>', 'identity file (JSON)')
    .addOption(profileOption('profile to verify under (default: the profile named in the file)'))
    .option('--min-difficulty <d>', 'lowest accepted difficulty (default: the profile\'s d0)', parseIntInRange(0, MAX_DIFFICULTY))
    .addOption(engineOption())
    .option('--json', 'print {valid, ...} as JSON on stdout')
    .action(async (file: string, opts: VerifyOptions) => {
      const loaded = await loadIdentityFile(file);
      const report = (code: string, reason: string): never => {
        if (opts.json === true) writeJson({ valid: false, code, reason });
        throw new CliError(reason);
      };
      if (!loaded.ok) return report('MALFORMED', `malformed: ${loaded.reason}`);
      const { record } = loaded.file;
      let profile: NetworkProfile;
      if (opts.profile !== undefined) profile = PROFILES[opts.profile];
      else {
        const named = loaded.file.profile === null ? undefined : profileByName(loaded.file.profile);
        const byId = profileByNetworkId(record.networkId);
        const chosen = named ?? byId;
        if (chosen === undefined) return report('WRONG_NETWORK', `wrong network: network ${record.networkId} has no known profile; pass --profile`);
        profile = chosen;
      }
      const crypto = await loadIdentityCrypto();
      const argon2 = await engineFor(opts.engine, profile);
      try {
        const result = await verifyIdentity({ ...crypto, argon2 }, record, {
          profile,
          now: nowSeconds(),
          ...(opts.minDifficulty === undefined ? {} : { minDifficulty: opts.minDifficulty }),
        });
        if (!result.ok) return report(result.code, result.reason);
        const named = loaded.file.profile === null ? undefined : profileByName(loaded.file.profile);
        const fileProblem = identityFileProblem(crypto.ed25519, loaded.file, result.address, named?.networkId);
        if (fileProblem !== null) return report(fileProblem.code, fileProblem.reason);
        const address = toHex(result.address);
        if (opts.json === true) {
          writeJson({ valid: true, address, profile: profile.name, difficulty: record.difficulty, public_key: toHex(record.publicKey) });
        } else {
          writeStdout(`valid: ${profile.name} identity, difficulty ${record.difficulty}, address ${address}`);
        }
      } finally {
        await argon2.close();
      }
    });

  identity
    .command('show')
    .description('print the public fields and address of an identity file (never the secret)')
    .argument('<file>', 'identity file (JSON)')
    .addOption(engineOption())
    .option('--json', 'print the fields as JSON on stdout')
    .action(async (file: string, opts: ShowOptions) => {
      const loaded = await loadIdentityFile(file);
      if (!loaded.ok) throw new CliError(`malformed: ${loaded.reason}`);
      const { record } = loaded.file;
      const named = loaded.file.profile === null ? undefined : profileByName(loaded.file.profile);
      const profile = named ?? profileByNetworkId(record.networkId);
      let address: Uint8Array | null = null;
      let zeros: number | null = null;
      if (profile !== undefined) {
        // The address is a hash of the work, so showing it costs one Argon2id.
        const crypto = await loadIdentityCrypto();
        const argon2 = await engineFor(opts.engine, profile);
        try {
          const w = await identityWork({ blake3: crypto.blake3, argon2 }, record, profile);
          address = w.address;
          zeros = w.zeros;
        } finally {
          await argon2.close();
        }
      }
      const stored = loaded.file.address;
      const mismatch = stored !== null && address !== null && !bytesEqual(stored, address);
      const pub = identityPublicJson(record, profile?.name ?? loaded.file.profile, address ?? stored);
      if (opts.json === true) {
        writeJson({ ...pub, time_iso: isoTime(record.time), work_trailing_zeros: zeros, ...(mismatch ? { stored_address_mismatch: true } : {}) });
        return;
      }
      const lines = [
        `profile     ${profile?.name ?? `unknown (network ${record.networkId})`}`,
        `network id  ${record.networkId}`,
        `public key  ${toHex(record.publicKey)}`,
        `nonce       ${toHex(record.nonce)}`,
        `time        ${record.time} (${isoTime(record.time)})`,
        `difficulty  ${record.difficulty}${zeros === null ? '' : ` (work has ${zeros} trailing zero bits)`}`,
        `signature   ${toHex(record.signature)}`,
        `address     ${address !== null ? toHex(address) : stored !== null ? `${toHex(stored)} (from the file, not recomputed)` : 'unknown'}`,
      ];
      if (mismatch) lines.push('warning     the address stored in the file does not match the recomputed one');
      writeStdout(lines.join('\n'));
    });
}

function isoTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  return Number.isNaN(d.getTime()) ? 'out of range' : d.toISOString();
}
