/**
 * The daemon's logger (STYLE §17): pino, one child logger per module (`log.child({ mod })`).
 *
 * Format: JSON lines, except on a terminal, where a small built-in printer turns each JSON line
 * into `HH:MM:SS.mmm LEVEL mod: message key=value …` (pino-pretty is not a dependency; the
 * printer is twenty lines and never throws). `format: 'auto'` picks pretty when the destination
 * is a TTY. Writes are synchronous, so nothing is lost on exit and there is nothing to flush.
 */
import { writeSync } from 'node:fs';
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export type LogFormat = 'auto' | 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty'];
export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface LoggerOptions {
  readonly level?: LevelWithSilent;
  readonly format?: LogFormat;
  /** File descriptor to write to (default 1, stdout). */
  readonly fd?: number;
  /** Bound into every line (e.g. { node: 'n3' }). */
  readonly base?: Record<string, unknown>;
}

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Readonly<Record<number, string>> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'mod', 'node']);

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /\s|=|"/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v) ?? String(v);
}

/** One pino JSON line as a human line (exported for tests). Unparseable input passes through. */
export function prettyLine(line: string, colour: boolean): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = typeof o['level'] === 'number' ? o['level'] : 30;
  const t = typeof o['time'] === 'number' ? new Date(o['time']) : new Date();
  const time = t.toISOString().slice(11, 23);
  let name = LEVEL_NAMES[level] ?? String(level);
  if (colour) name = `\u001b[${LEVEL_COLOURS[level] ?? '0'}m${name}\u001b[0m`;
  const where = [o['node'], o['mod']].filter((x) => typeof x === 'string').join('/');
  const fields = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  const msg = typeof o['msg'] === 'string' ? o['msg'] : '';
  return `${time} ${name} ${where === '' ? '' : `${where}: `}${msg}${fields === '' ? '' : ` ${fields}`}\n`;
}

/** A synchronous destination stream: raw JSON or the pretty printer. */
function destination(fd: number, pretty: boolean, colour: boolean): { write(s: string): void } {
  return {
    write(s: string): void {
      try {
        writeSync(fd, pretty ? prettyLine(s, colour) : s);
      } catch {
        // EAGAIN on a full pipe or a closed descriptor: a lost log line must never crash the daemon.
      }
    },
  };
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const fd = opts.fd ?? 1;
  const isTty = fd === 1 ? process.stdout.isTTY === true : fd === 2 ? process.stderr.isTTY === true : false;
  const format = opts.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && isTty);
  return pino(
    {
      level: opts.level ?? 'info',
      base: { pid: process.pid, ...(opts.base ?? {}) },
      timestamp: pino.stdTimeFunctions.epochTime,
    },
    destination(fd, pretty, pretty && isTty),
  );
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
