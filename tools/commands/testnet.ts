/**
 * `ecd testnet`: N daemons (default 8) as child processes on loopback, freshly mined identities
 * of the chosen profile, all bootstrapped to each other (tools/testnet.ts). Prints each node's UDP
 * address, API URL and token file, then runs until Ctrl-C (SIGINT/SIGTERM), stopping every child
 * cleanly. `--demo` runs the walkthrough of tools/demo.ts instead of waiting, stops the network
 * and exits 0 when the demo succeeds (1 otherwise).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { PROFILES, type ProfileName } from '../../wire/profiles.js';
import { CliError, errorMessage, parseIntInRange, writeJson, writeStderr, writeStdout } from '../cli-util.js';
import { Testnet } from '../testnet.js';

interface TestnetFlags {
  readonly nodes: number;
  readonly dir?: string;
  readonly profile: ProfileName;
  readonly demo?: boolean;
  readonly store: 'lmdb' | 'memory';
  readonly json?: boolean;
  readonly logLevel: string;
  readonly bootstrapOne?: boolean;
}

interface DemoModule {
  runDemo: (
    nodes: readonly { name: string; apiUrl: string; apiTokenFile: string }[],
    log: (line: string) => void,
    opts?: { signal?: AbortSignal },
  ) => Promise<{ ok: boolean }>;
}

export function registerTestnet(program: Command): void {
  program
    .command('testnet')
    .description('run a local network of daemons on loopback until Ctrl-C; --demo walks through create, transfer and a double spend')
    .option('--nodes <n>', 'number of daemons (64 run as 64 processes on this machine)', parseIntInRange(1, 64), 8)
    .option('--dir <dir>', 'directory for the nodes\' data (default: a new temporary directory); identities found there are reused')
    .addOption(new Option('--profile <name>', 'network profile').choices(['testnet', 'devnet']).default('testnet'))
    .addOption(new Option('--store <kind>', 'store of every node').choices(['lmdb', 'memory']).default('lmdb'))
    .option('--log-level <level>', 'log level of the daemons (their logs: DIR/nI/node.log)', 'info')
    .option('--bootstrap-one', 'each daemon knows one other daemon (n1 knows n2, every later one a daemon started before it) and finds the rest itself')
    .option('--demo', 'run the demo walkthrough, then stop; exit 0 when it succeeds')
    .option('--json', 'print the node table as JSON on stdout')
    .action(async (flags: TestnetFlags) => {
      await runTestnet(flags);
    });
}

async function runTestnet(flags: TestnetFlags): Promise<void> {
  const dir = flags.dir === undefined ? await mkdtemp(join(tmpdir(), 'ecd-testnet-')) : resolve(flags.dir);
  const profile = PROFILES[flags.profile];
  const abort = new AbortController();
  let net: Testnet | null = null;
  let interrupted = false;
  let stopping: Promise<unknown> | null = null;
  const stopAll = (): Promise<unknown> => {
    stopping ??= net === null ? Promise.resolve() : net.stop();
    return stopping;
  };
  const onSignal = (): void => {
    if (interrupted) {
      writeStderr('second signal: exiting now');
      process.exit(130);
    }
    interrupted = true;
    writeStderr('stopping the network…');
    abort.abort();
    void stopAll();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    net = await Testnet.create({ nodes: flags.nodes, dir, profile, store: flags.store, logLevel: flags.logLevel, onProgress: (l) => writeStderr(l), ...(flags.bootstrapOne === true ? { bootstrapOne: true } : {}) });
    if (interrupted) return;
    writeStderr(`starting ${flags.nodes} ${profile.name} daemons in ${dir}`);
    // 64 daemons starting at once on 2 cores take about a second of CPU each.
    await net.start(30_000 + 2_000 * flags.nodes);
    const table = net.nodes.map((n) => ({ name: n.name, udp: n.udp, api: n.apiUrl, tokenFile: n.tokenFile, publicKey: n.publicKey, dir: n.dir }));
    if (flags.json === true) writeJson({ dir, profile: profile.name, nodes: table });
    else {
      writeStdout(`${'node'.padEnd(5)} ${'udp'.padEnd(22)} ${'api'.padEnd(28)} token file`);
      for (const r of table) writeStdout(`${r.name.padEnd(5)} ${r.udp.padEnd(22)} ${r.api.padEnd(28)} ${r.tokenFile}`);
      writeStdout(`client commands: ecd token create --node ${table[0]?.dir ?? dir}  (logs: ${join(dir, 'nI', 'node.log')})`);
    }
    // Every daemon elects its neighbourhood; in a network of at most 2w + 1 that is everyone.
    const formed = await net.waitAccuracy(flags.nodes <= 9 ? 1 : 0.9, 120_000);
    writeStderr(`neighbourhoods formed: accuracy ${formed.accuracy.toFixed(3)} after ${(formed.ms / 1000).toFixed(1)} s`);
    if (flags.demo === true) {
      let mod: DemoModule;
      try {
        mod = (await import('../demo.js')) as unknown as DemoModule;
      } catch (err) {
        throw new CliError(`the demo is not available: ${errorMessage(err)}`);
      }
      const result = await mod.runDemo(
        net.nodes.map((n) => ({ name: n.name, apiUrl: n.apiUrl, apiTokenFile: n.tokenFile })),
        (line) => writeStdout(line),
        { signal: abort.signal },
      );
      await stopAll();
      if (!result.ok) throw new CliError('the demo failed (see above)');
      writeStdout('demo finished: ok');
      return;
    }
    writeStderr('running; press Ctrl-C to stop');
    await new Promise<void>((resolveWait) => {
      const check = setInterval(() => {
        if (interrupted) {
          clearInterval(check);
          resolveWait();
        }
        const dead = net?.nodes.find((n) => n.child !== null && n.child.exitCode !== null);
        if (dead !== undefined && !interrupted) writeStderr(`${dead.name} exited with code ${dead.child?.exitCode ?? '?'} (see ${join(dead.dir, 'node.log')})`);
      }, 200);
    });
    const codes = (await stopAll()) as (number | null)[];
    const bad = codes.filter((c) => c !== 0 && c !== null).length;
    if (bad > 0) writeStderr(`${bad} daemon(s) did not exit cleanly`);
    writeStderr('stopped');
  } finally {
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
