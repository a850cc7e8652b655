/** `ecd keygen`: a new Ed25519 key (its 32-byte seed) in a JSON file with mode 0600. */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { loadIdentityCrypto } from '../../wire/identity-crypto.js';
import { keyFileText, toHex } from '../../wire/identity-file.js';
import { CliError, writeJson, writeStdout } from '../cli-util.js';
import { FileExistsError, writeSecretFile } from '../files.js';

interface KeygenOptions {
  readonly out: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('write a new Ed25519 key (32-byte seed) to a JSON file with mode 0600')
    .requiredOption('--out <file>', 'key file to write')
    .option('--force', 'overwrite an existing file')
    .option('--json', 'print {public_key, out} as JSON on stdout')
    .action(async (opts: KeygenOptions) => {
      const crypto = await loadIdentityCrypto();
      const secretSeed = new Uint8Array(randomBytes(32));
      const publicKey = crypto.ed25519.signerFromSeed(secretSeed).publicKey;
      try {
        await writeSecretFile(opts.out, keyFileText({ publicKey, secretSeed }), { overwrite: opts.force === true });
      } catch (err) {
        if (err instanceof FileExistsError) throw new CliError(err.message);
        throw new CliError(`cannot write ${opts.out}: ${(err as Error).message}`);
      }
      if (opts.json === true) writeJson({ public_key: toHex(publicKey), out: opts.out });
      else writeStdout(`wrote ${opts.out} (public key ${toHex(publicKey)})`);
    });
}
