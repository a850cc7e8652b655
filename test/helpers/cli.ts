/** Spawning the built CLI (dist/tools/cli.js) in a temporary directory, as a user would run it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_PATH = fileURLToPath(new URL('../../tools/cli.js', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function spawnCli(args: readonly string[], cwd: string): ChildProcess {
  return spawn(process.execPath, [CLI_PATH, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ECD_DEBUG: '' } });
}

export function collect(child: ChildProcess): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function runCli(args: readonly string[], cwd: string, timeoutMs = 60_000): Promise<CliRun> {
  const child = spawnCli(args, cwd);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return collect(child).finally(() => clearTimeout(timer));
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ecd-cli-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A failure is exactly one line on stderr, starting "ecd: ", with no stack trace. */
export function oneLineReason(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.length > 0 && !l.startsWith('note:'));
  const last = lines.at(-1) ?? '';
  if (!last.startsWith('ecd: ')) throw new Error(`no "ecd: " reason line in stderr: ${JSON.stringify(stderr)}`);
  if (/\n\s+at /.test(stderr)) throw new Error(`stack trace in stderr: ${stderr}`);
  return last.slice('ecd: '.length);
}
