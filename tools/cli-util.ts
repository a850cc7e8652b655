/**
 * Shared helpers for `ecd` subcommands: the error type that becomes a one-line reason and an exit
 * code, option parsers, and output writers (results on stdout, progress and reasons on stderr).
 */
import { InvalidArgumentError, Option } from 'commander';
import { ENGINE_CHOICES } from '../kernels/argon2/engines.js';
import { PROFILE_NAMES, PROFILES, type NetworkProfile, type ProfileName } from '../wire/profiles.js';

/** A failure to report as `ecd: <message>` with `exitCode`; never printed with a stack. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function parseIntInRange(min: number, max: number): (value: string) => number {
  return (value: string) => {
    if (!/^[0-9]+$/.test(value)) throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    return n;
  };
}

export function profileOption(description = 'network profile'): Option {
  return new Option('--profile <name>', description).choices(PROFILE_NAMES);
}

export function engineOption(): Option {
  return new Option(
    '--engine <engine>',
    'Argon2id engine: auto = sodium-native if installed, else ours (wasm-simd); native = sodium-native or the argon2 package',
  )
    .choices(ENGINE_CHOICES)
    .default('auto');
}

export function profileNamed(name: string | undefined, fallback: ProfileName): NetworkProfile {
  return PROFILES[(name as ProfileName | undefined) ?? fallback];
}

export function writeStdout(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function writeStderr(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Prints one JSON object on stdout (bigints as decimal strings). */
export function writeJson(obj: unknown): void {
  writeStdout(JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(10) : v)));
}

export function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
