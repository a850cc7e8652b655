/**
 * `ecd node` configuration: defaults < config file (JSON) < environment (`ECD_*`) < flags.
 *
 * `resolveConfig` is pure (no file or env access of its own) so precedence is testable; the
 * command reads the file and passes `process.env`. Every problem is a ConfigError with a one-line
 * reason naming the source (`flag --listen`, `env ECD_LISTEN`, `config.json "listen"`).
 *
 * Config file (all keys optional):
 *   { "dataDir": "…", "listen": "127.0.0.1:0", "identity": "…/identity.json",
 *     "profile": "devnet", "bootstrap": ["127.0.0.1:7001@<pk hex>", "../n2/node.json"],
 *     "api": "127.0.0.1:0", "apiPublic": false, "logLevel": "info", "logFormat": "auto",
 *     "store": "lmdb", "containerHost": "unix:///run/podman/podman.sock", "jobImages": ["sha256:…"] }
 *
 * Environment: ECD_CONFIG, ECD_DATA_DIR, ECD_LISTEN, ECD_IDENTITY, ECD_PROFILE, ECD_BOOTSTRAP
 * (comma separated), ECD_API, ECD_API_PUBLIC (1/true), ECD_LOG_LEVEL, ECD_LOG_FORMAT, ECD_STORE,
 * ECD_CONTAINER_HOST, ECD_JOB_IMAGES (comma separated).
 *
 * A bootstrap entry is `host:port@<public key hex>`, or a path to a peer's `node.json` (or to its
 * data directory): such a file is re-read until it exists and whenever it changes, so a local
 * network can start all daemons at once on ephemeral ports.
 */
import { isAbsolute, resolve } from 'node:path';
import { isProfileName, type ProfileName } from '../wire/profiles.js';
import type { PeerAddress } from './transport.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat } from './log.js';
import { parseMisbehave, type Misbehave } from './answer-builder.js';

export type StoreKind = 'lmdb' | 'memory';

export type BootstrapSpec =
  | { readonly kind: 'static'; readonly endpoint: PeerAddress; readonly publicKey: Uint8Array; readonly text: string }
  | { readonly kind: 'file'; readonly path: string; readonly text: string };

export interface NodeConfig {
  readonly dataDir: string;
  readonly listen: PeerAddress;
  /** Identity file (with its secret seed); default <dataDir>/identity.json. */
  readonly identityFile: string;
  /** Undefined: the profile named in the identity file. */
  readonly profile: ProfileName | undefined;
  readonly bootstrap: readonly BootstrapSpec[];
  readonly api: PeerAddress;
  readonly apiPublic: boolean;
  readonly logLevel: string;
  readonly logFormat: LogFormat;
  readonly store: StoreKind;
  /** Container host for compute jobs (`unix:///path` or `tcp://host:port`); no provider when absent. */
  readonly containerHost: string | undefined;
  /** Image references (ids) jobs may run on this provider. */
  readonly jobImages: readonly string[];
  /** Sign false statements (tests of the evidence path only; refused on mainnet). Flag only. */
  readonly unsafeMisbehave?: Misbehave;
}

/** The raw, string-typed values one source may give (flags after commander, env, file). */
export interface ConfigInput {
  readonly dataDir?: string | undefined;
  readonly listen?: string | undefined;
  readonly identity?: string | undefined;
  readonly profile?: string | undefined;
  readonly bootstrap?: readonly string[] | undefined;
  readonly api?: string | undefined;
  readonly apiPublic?: boolean | undefined;
  readonly logLevel?: string | undefined;
  readonly logFormat?: string | undefined;
  readonly store?: string | undefined;
  readonly containerHost?: string | undefined;
  readonly jobImages?: readonly string[] | undefined;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const CONFIG_DEFAULTS = {
  listen: '127.0.0.1:0',
  api: '127.0.0.1:0',
  logLevel: 'info',
  logFormat: 'auto',
  store: 'lmdb',
} as const;

const ENV_KEYS: Readonly<Record<keyof ConfigInput, string>> = {
  dataDir: 'ECD_DATA_DIR',
  listen: 'ECD_LISTEN',
  identity: 'ECD_IDENTITY',
  profile: 'ECD_PROFILE',
  bootstrap: 'ECD_BOOTSTRAP',
  api: 'ECD_API',
  apiPublic: 'ECD_API_PUBLIC',
  logLevel: 'ECD_LOG_LEVEL',
  logFormat: 'ECD_LOG_FORMAT',
  store: 'ECD_STORE',
  containerHost: 'ECD_CONTAINER_HOST',
  jobImages: 'ECD_JOB_IMAGES',
};

const FILE_KEYS = new Set(['dataDir', 'listen', 'identity', 'profile', 'bootstrap', 'api', 'apiPublic', 'logLevel', 'logFormat', 'store', 'containerHost', 'jobImages']);

/** Parses `host:port` (IPv6 as `[::1]:port`). Throws ConfigError naming `what`. */
export function parseHostPort(text: string, what: string): PeerAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):([0-9]{1,5})$/.exec(text.trim());
  if (m === null) throw new ConfigError(`${what}: expected host:port, got ${JSON.stringify(text)}`);
  const port = Number(m[3]);
  if (port > 65_535) throw new ConfigError(`${what}: port ${port} is out of range`);
  return { host: (m[1] ?? m[2]) as string, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** One bootstrap entry (see the module comment); `base` resolves relative paths. */
export function parseBootstrap(text: string, what: string, base: string): BootstrapSpec {
  const t = text.trim();
  const at = t.lastIndexOf('@');
  if (at > 0 && /^[0-9a-fA-F]{64}$/.test(t.slice(at + 1))) {
    const endpoint = parseHostPort(t.slice(0, at), what);
    const publicKey = new Uint8Array(Buffer.from(t.slice(at + 1), 'hex'));
    return { kind: 'static', endpoint, publicKey, text: t };
  }
  if (t.includes('@')) throw new ConfigError(`${what}: expected host:port@<64 hex digits> or a node.json path, got ${JSON.stringify(text)}`);
  if (t.length === 0) throw new ConfigError(`${what}: empty bootstrap entry`);
  return { kind: 'file', path: isAbsolute(t) ? t : resolve(base, t), text: t };
}

function parseBool(v: string, what: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off|)$/i.test(v)) return false;
  throw new ConfigError(`${what}: expected true or false, got ${JSON.stringify(v)}`);
}

/** Reads the ECD_* variables into a ConfigInput (ECD_BOOTSTRAP is comma separated). */
export function configFromEnv(env: NodeJS.ProcessEnv): ConfigInput {
  const get = (k: keyof ConfigInput): string | undefined => {
    const v = env[ENV_KEYS[k]];
    return v === undefined || v === '' ? undefined : v;
  };
  const bootstrap = get('bootstrap');
  const apiPublic = get('apiPublic');
  const jobImages = get('jobImages');
  return {
    dataDir: get('dataDir'),
    listen: get('listen'),
    identity: get('identity'),
    profile: get('profile'),
    bootstrap: bootstrap === undefined ? undefined : bootstrap.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    api: get('api'),
    apiPublic: apiPublic === undefined ? undefined : parseBool(apiPublic, `env ${ENV_KEYS.apiPublic}`),
    logLevel: get('logLevel'),
    logFormat: get('logFormat'),
    store: get('store'),
    containerHost: get('containerHost'),
    jobImages: jobImages === undefined ? undefined : jobImages.split(',').map((x) => x.trim()).filter((x) => x !== ''),
  };
}

/** Parses a config file's text. Unknown keys are an error (a typo must not be silently ignored). */
export function configFromFileText(text: string, path: string): ConfigInput {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ConfigError(`${path}: not valid JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${path}: not a JSON object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!FILE_KEYS.has(k)) throw new ConfigError(`${path}: unknown key "${k}"`);
  const str = (k: string): string | undefined => {
    const x = o[k];
    if (x === undefined) return undefined;
    if (typeof x !== 'string') throw new ConfigError(`${path}: "${k}" must be a string${x === null ? ' (leave the key out for the default)' : ''}`);
    return x;
  };
  let bootstrap: string[] | undefined;
  if (o['bootstrap'] !== undefined) {
    const b = o['bootstrap'];
    if (!Array.isArray(b) || !b.every((x) => typeof x === 'string')) throw new ConfigError(`${path}: "bootstrap" must be an array of strings`);
    bootstrap = b as string[];
  }
  let jobImages: string[] | undefined;
  if (o['jobImages'] !== undefined) {
    const b = o['jobImages'];
    if (!Array.isArray(b) || !b.every((x) => typeof x === 'string')) throw new ConfigError(`${path}: "jobImages" must be an array of strings`);
    jobImages = b as string[];
  }
  const ap = o['apiPublic'];
  if (ap !== undefined && typeof ap !== 'boolean') throw new ConfigError(`${path}: "apiPublic" must be true or false`);
  return {
    dataDir: str('dataDir'),
    listen: str('listen'),
    identity: str('identity'),
    profile: str('profile'),
    bootstrap,
    api: str('api'),
    apiPublic: ap as boolean | undefined,
    logLevel: str('logLevel'),
    logFormat: str('logFormat'),
    store: str('store'),
    containerHost: str('containerHost'),
    jobImages,
  };
}

export interface ConfigSources {
  readonly flags: ConfigInput;
  readonly env: ConfigInput;
  readonly file?: ConfigInput;
  /** Where the file was (relative paths in it resolve against its directory). */
  readonly fileDir?: string;
  /** Relative paths from flags and env resolve against this (default process.cwd()). */
  readonly cwd?: string;
  /** `--unsafe-misbehave`: a flag only, never read from the environment or a config file. */
  readonly unsafeMisbehave?: string | undefined;
}

/** Merges the sources, flags first, and checks every value. */
export function resolveConfig(s: ConfigSources): NodeConfig {
  const cwd = s.cwd ?? process.cwd();
  const file = s.file ?? {};
  const fileDir = s.fileDir ?? cwd;
  type K = keyof ConfigInput;
  /** The winning value, where it came from, and the directory its relative paths resolve against. */
  const pick = <T>(k: K): { v: T; from: string; base: string } | undefined => {
    if (s.flags[k] !== undefined) return { v: s.flags[k] as T, from: `flag --${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, base: cwd };
    if (s.env[k] !== undefined) return { v: s.env[k] as T, from: `env ${ENV_KEYS[k]}`, base: cwd };
    if (file[k] !== undefined) return { v: file[k] as T, from: `config "${k}"`, base: fileDir };
    return undefined;
  };
  const dd = pick<string>('dataDir');
  if (dd === undefined || dd.v === '') throw new ConfigError('no data directory: pass --data-dir DIR (or set ECD_DATA_DIR)');
  const dataDir = resolve(dd.base, dd.v);

  const listenP = pick<string>('listen');
  const listen = parseHostPort(listenP?.v ?? CONFIG_DEFAULTS.listen, listenP?.from ?? 'default listen');
  const apiP = pick<string>('api');
  const api = parseHostPort(apiP?.v ?? CONFIG_DEFAULTS.api, apiP?.from ?? 'default api');
  const apiPublic = pick<boolean>('apiPublic')?.v ?? false;
  if (!isLoopback(api.host) && !apiPublic) {
    throw new ConfigError(`${apiP?.from ?? 'api'}: ${api.host} is not a loopback address; pass --api-public to expose the control API`);
  }

  const idP = pick<string>('identity');
  const identityFile = idP === undefined ? resolve(dataDir, 'identity.json') : resolve(idP.base, idP.v);

  const profP = pick<string>('profile');
  if (profP !== undefined && !isProfileName(profP.v)) throw new ConfigError(`${profP.from}: unknown profile ${JSON.stringify(profP.v)} (mainnet, testnet, devnet)`);
  const profile = profP?.v as ProfileName | undefined;

  const bP = pick<readonly string[]>('bootstrap');
  const bootstrap = (bP?.v ?? []).map((t, i) => parseBootstrap(t, `${bP?.from ?? 'bootstrap'}[${i}]`, bP?.base ?? cwd));

  const llP = pick<string>('logLevel');
  const logLevel = llP?.v ?? CONFIG_DEFAULTS.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError(`${llP?.from ?? 'logLevel'}: unknown log level ${JSON.stringify(logLevel)}`);
  const lfP = pick<string>('logFormat');
  const logFormat = lfP?.v ?? CONFIG_DEFAULTS.logFormat;
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) throw new ConfigError(`${lfP?.from ?? 'logFormat'}: expected auto, json or pretty`);
  const stP = pick<string>('store');
  const store = stP?.v ?? CONFIG_DEFAULTS.store;
  if (store !== 'lmdb' && store !== 'memory') throw new ConfigError(`${stP?.from ?? 'store'}: expected lmdb or memory`);

  const chP = pick<string>('containerHost');
  const containerHost = chP?.v;
  if (containerHost !== undefined && !/^(unix:\/\/\/.+|tcp:\/\/[^/\s]+:[0-9]{1,5})$/.test(containerHost)) {
    throw new ConfigError(`${chP?.from ?? 'containerHost'}: expected unix:///path/to.sock or tcp://host:port, got ${JSON.stringify(containerHost)}`);
  }
  const jobImages = pick<readonly string[]>('jobImages')?.v ?? [];

  let unsafeMisbehave: Misbehave | undefined;
  if (s.unsafeMisbehave !== undefined) {
    const m = parseMisbehave(s.unsafeMisbehave);
    if (!m.ok) throw new ConfigError(`flag --unsafe-misbehave: ${m.reason}`);
    if (profile === 'mainnet') throw new ConfigError('flag --unsafe-misbehave is refused on the mainnet profile');
    unsafeMisbehave = m.value;
  }

  return {
    dataDir,
    listen,
    identityFile,
    profile,
    bootstrap,
    api,
    apiPublic,
    logLevel,
    logFormat: logFormat as LogFormat,
    store,
    containerHost,
    jobImages,
    ...(unsafeMisbehave === undefined ? {} : { unsafeMisbehave }),
  };
}
