/**
 * The `ecd` command tree. Each subcommand lives in tools/commands/<name>.ts and registers itself
 * with `registerXxx(program)`, so other modules (node, sim, …) add commands without touching the
 * rest; tools/cli.ts only runs the program and turns failures into one-line reasons.
 */
import { Command } from 'commander';
import { registerBench } from './commands/bench.js';
import { registerBlock } from './commands/block.js';
import { registerEvidence } from './commands/evidence.js';
import { registerJob } from './commands/job.js';
import { registerIdentity } from './commands/identity.js';
import { registerKeygen } from './commands/keygen.js';
import { registerMine } from './commands/mine.js';
import { registerNode } from './commands/node.js';
import { registerStatus } from './commands/status.js';
import { registerToken } from './commands/token.js';
import { registerTestnet } from './commands/testnet.js';
import { registerSim } from './sim/command.js';

export type RegisterCommand = (program: Command) => void;

/** Commands registered in this order; append new `registerXxx` functions here. */
export const COMMANDS: readonly RegisterCommand[] = [registerKeygen, registerMine, registerIdentity, registerBench, registerSim, registerToken, registerBlock, registerEvidence, registerJob, registerNode, registerStatus, registerTestnet];

export function buildProgram(commands: readonly RegisterCommand[] = COMMANDS): Command {
  const program = new Command('ecd')
    .description('ecd: a peer daemon for the EC network (Argon2id identities, encrypted UDP, +2-vote consensus)')
    .version('0.1.0')
    .showSuggestionAfterError()
    .configureOutput({ outputError: (str, write) => write(str.startsWith('error:') ? `ecd: ${str}` : str) });
  for (const register of commands) register(program);
  return program;
}
