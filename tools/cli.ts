#!/usr/bin/env node
/**
 * The `ecd` executable: builds the command tree (tools/program.ts) and runs it. Every failure ends
 * as one line on stderr and a non-zero exit code; set ECD_DEBUG=1 for stack traces.
 */
import { CliError, errorMessage } from './cli-util.js';
import { buildProgram } from './program.js';

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    const code = err instanceof CliError ? err.exitCode : 1;
    process.stderr.write(`ecd: ${errorMessage(err)}\n`);
    if (process.env['ECD_DEBUG'] === '1' && err instanceof Error && !(err instanceof CliError)) {
      process.stderr.write(`${err.stack ?? ''}\n`);
    }
    process.exitCode = code;
  }
}

await main();
