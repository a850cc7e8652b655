/**
 * `ecd status`: one daemon's state through its control API — identity, head, peers by state,
 * whether its neighbourhood has formed, and sync (the last session's lag and what it learned).
 * `--json` prints GET /v1/status as it is. Exit codes: 0, 1 daemon unreachable or refused, 2 usage.
 */
import type { Command } from 'commander';
import { writeJson, writeStdout } from '../cli-util.js';
import { addEndpointOptions, clientFor, usageExitCodes, withCliErrors, type ClientCommandOptions } from './token.js';

type Obj = Record<string, unknown>;

const num = (o: Obj | undefined, k: string): number => (typeof o?.[k] === 'number' ? (o[k] as number) : 0);
const obj = (o: Obj, k: string): Obj | undefined => (typeof o[k] === 'object' && o[k] !== null ? (o[k] as Obj) : undefined);
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** The human-readable lines of a status body. */
export function statusLines(s: Obj): string[] {
  const udp = obj(s, 'udp');
  const head = obj(s, 'head');
  const hood = obj(s, 'neighbourhood');
  const sync = obj(s, 'sync');
  const last = sync === undefined ? undefined : obj(sync, 'last');
  const lines = [
    `ecd ${String(s['version'])} ${String(s['profile'])}  address ${String(s['address'])}`,
    `udp ${String(udp?.['host'])}:${num(udp, 'port')}  up ${num(s, 'uptimeS')} s  head seq ${num(head, 'seq')}  mempool ${num(s, 'mempool')}`,
  ];
  if (hood !== undefined) {
    lines.push(`peers: ${num(hood, 'connected')} connected, ${num(hood, 'pending')} pending, ${num(hood, 'identified')} identified`);
    lines.push(`neighbourhood: ${hood['formed'] === true ? 'formed' : 'forming'}, closest peers connected ${num(hood, 'coreConnected').toFixed(3)}, elections running ${num(hood, 'elections')}`);
  }
  if (sync !== undefined) {
    const lastText = last === undefined ? 'no session yet' : `last session took ${secs(num(last, 'ms'))} with ${num(last, 'partners')} partners and learned ${num(last, 'learned')}${num(last, 'unsettled') > 0 ? ` (${num(last, 'unsettled')} unsettled)` : ''}, ended ${secs(num(last, 'endedAgoMs'))} ago`;
    lines.push(`sync: ${sync['running'] === true ? 'running; ' : ''}${lastText}; ${num(sync, 'sessions')} sessions (${num(sync, 'completed')} complete), ${num(sync, 'learned')} mappings learned; asks served ${num(sync, 'served')}, refused ${num(sync, 'refused')}`);
  }
  return lines;
}

export function registerStatus(program: Command): void {
  const cmd = usageExitCodes(program.command('status').description("a daemon's state: peers, neighbourhood, sync"));
  addEndpointOptions(cmd).action(async (opts: ClientCommandOptions) => {
    const body = await withCliErrors(async () => (await clientFor(opts)).statusBody());
    if (opts.json === true) writeJson(body);
    else writeStdout(statusLines(body).join('\n'));
  });
}
