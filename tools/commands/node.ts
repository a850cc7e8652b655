/**
 * `ecd node`: run one daemon (daemon/node.ts) until SIGINT or SIGTERM, then stop it cleanly (stop
 * ticking, flush queued frames, close the socket, the API and the store) and exit 0. A second
 * signal exits at once with 130. Configuration: flags > env (ECD_*) > --config FILE > defaults
 * (daemon/config.ts).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { configFromEnv, configFromFileText, ConfigError, resolveConfig, type ConfigInput, type NodeConfig } from '../../daemon/config.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type Logger } from '../../daemon/log.js';
import { EcdNode, NodeStartError } from '../../daemon/node.js';
import { PROFILE_NAMES } from '../../wire/profiles.js';
import { CliError, errorMessage, parseIntInRange } from '../cli-util.js';

interface NodeFlags {
  readonly config?: string;
  readonly dataDir?: string;
  readonly listen?: string;
  readonly identity?: string;
  readonly profile?: string;
  readonly bootstrap?: string[];
  readonly api?: string;
  readonly apiPublic?: boolean;
  readonly logLevel?: string;
  readonly logFormat?: string;
  readonly store?: string;
  readonly parentPid?: number;
  readonly unsafeMisbehave?: string;
  readonly containerHost?: string;
  readonly jobImage?: string[];
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter((s) => s !== '')];

/** Reads the config file named by --config or ECD_CONFIG, and merges all sources. */
export async function loadNodeConfig(flags: NodeFlags, env: NodeJS.ProcessEnv = process.env): Promise<NodeConfig> {
  const path = flags.config ?? (env['ECD_CONFIG'] === '' ? undefined : env['ECD_CONFIG']);
  let file: ConfigInput | undefined;
  let fileDir: string | undefined;
  if (path !== undefined) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    }
    file = configFromFileText(text, path);
    fileDir = dirname(resolve(path));
  }
  const f: ConfigInput = {
    dataDir: flags.dataDir,
    listen: flags.listen,
    identity: flags.identity,
    profile: flags.profile,
    bootstrap: flags.bootstrap,
    api: flags.api,
    apiPublic: flags.apiPublic,
    logLevel: flags.logLevel,
    logFormat: flags.logFormat,
    store: flags.store,
    containerHost: flags.containerHost,
    jobImages: flags.jobImage,
  };
  return resolveConfig({
    flags: f,
    env: configFromEnv(env),
    ...(file === undefined ? {} : { file }),
    ...(fileDir === undefined ? {} : { fileDir }),
    unsafeMisbehave: flags.unsafeMisbehave,
  });
}

export function registerNode(program: Command): void {
  program
    .command('node')
    .description('run a peer daemon: UDP frames, consensus, control API (stops cleanly on SIGINT/SIGTERM)')
    .option('--config <file>', 'JSON config file (env ECD_CONFIG); flags and env override it')
    .option('--data-dir <dir>', 'data directory: store, api-token, api-url, node.json (env ECD_DATA_DIR)')
    .option('--listen <host:port>', 'UDP address (env ECD_LISTEN; default 127.0.0.1:0)')
    .option('--identity <file>', 'identity file with its secret seed (env ECD_IDENTITY; default DATA_DIR/identity.json)')
    .addOption(new Option('--profile <name>', 'network profile (env ECD_PROFILE; default: the identity file\'s)').choices(PROFILE_NAMES))
    .option('--bootstrap <peer>', 'bootstrap peer host:port@pubkeyhex or a peer\'s node.json / data dir; repeatable or comma separated (env ECD_BOOTSTRAP)', collect)
    .option('--api <host:port>', 'control API address (env ECD_API; default 127.0.0.1:0)')
    .option('--api-public', 'allow a non-loopback control API address (env ECD_API_PUBLIC)')
    .addOption(new Option('--log-level <level>', 'log level (env ECD_LOG_LEVEL; default info)').choices(LOG_LEVELS as string[]))
    .addOption(new Option('--log-format <format>', 'auto = pretty on a terminal, JSON otherwise (env ECD_LOG_FORMAT)').choices(LOG_FORMATS as string[]))
    .addOption(new Option('--store <kind>', 'lmdb (durable, default) or memory (env ECD_STORE)').choices(['lmdb', 'memory']))
    .option('--container-host <url>', 'run compute jobs on this Docker Engine API: unix:///path/to.sock (Docker or Podman) or tcp://host:port (env ECD_CONTAINER_HOST)')
    .option('--job-image <id>', 'an image id jobs may run (repeatable or comma separated; env ECD_JOB_IMAGES)', collect)
    .option('--unsafe-misbehave <kind[:P]>', 'TESTS ONLY: sign false statements (fork | rollback | double-map) with probability P (default 1), or hold no genesis set and answer elections with made-up proofs (nostore); refused on mainnet')
    .addOption(new Option('--parent-pid <pid>', 'stop cleanly when this process is gone (used by ecd testnet)').argParser(parseIntInRange(1, 2 ** 31)).hideHelp())
    .action(async (flags: NodeFlags) => {
      let config: NodeConfig;
      try {
        config = await loadNodeConfig(flags);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, 2);
        throw err;
      }
      const log = createLogger({ level: config.logLevel as 'info', format: config.logFormat });
      await runNode(config, log, flags.parentPid);
    });
}

/** Runs until a signal or a fatal error; resolves (or exits the process) when stopped. */
export async function runNode(config: NodeConfig, log: Logger, parentPid?: number): Promise<void> {
  let node: EcdNode;
  try {
    node = await EcdNode.create(config, log);
  } catch (err) {
    if (err instanceof NodeStartError || err instanceof ConfigError) throw new CliError(err.message);
    throw new CliError(`cannot start: ${errorMessage(err)}`);
  }
  let stopping = false;
  const done = new Promise<number>((resolveDone) => {
    const shutdown = (signal: string, code: number): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      stopping = true;
      log.info({ signal }, 'stopping');
      node.stop().then(
        () => resolveDone(code),
        () => resolveDone(1),
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT', 0));
    process.on('SIGTERM', () => shutdown('SIGTERM', 0));
    node.onFatal(() => shutdown('fatal', 1));
    if (parentPid !== undefined) {
      // Our own parent: its death reparents us (robust against PID reuse). Another process: poll it.
      const isParent = process.ppid === parentPid;
      const alive = (): boolean => {
        if (isParent) return process.ppid === parentPid;
        try {
          process.kill(parentPid, 0);
          return true;
        } catch (err) {
          return (err as NodeJS.ErrnoException).code === 'EPERM';
        }
      };
      const watch = setInterval(() => {
        if (alive()) return;
        clearInterval(watch);
        shutdown('parent-exit', 0);
      }, 5_000);
      watch.unref();
    }
  });
  try {
    await node.start();
  } catch (err) {
    await node.stop();
    throw new CliError(`cannot start: ${errorMessage(err)}`);
  }
  const code = await done;
  // Every handle is closed; exit explicitly so a stray timer in a library cannot hold the process.
  process.exit(code);
}
