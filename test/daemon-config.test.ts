/** `ecd node` configuration: precedence flags > env > file > defaults, and one-line refusals. */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { configFromEnv, configFromFileText, ConfigError, parseBootstrap, parseHostPort, resolveConfig } from '../daemon/config.js';

const PK = 'ab'.repeat(32);

test('defaults: loopback, ephemeral ports, identity in the data dir, lmdb', () => {
  const c = resolveConfig({ flags: { dataDir: '/tmp/d' }, env: {} });
  assert.equal(c.dataDir, '/tmp/d');
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 0 });
  assert.deepEqual(c.api, { host: '127.0.0.1', port: 0 });
  assert.equal(c.identityFile, '/tmp/d/identity.json');
  assert.equal(c.profile, undefined);
  assert.equal(c.store, 'lmdb');
  assert.equal(c.logLevel, 'info');
  assert.deepEqual(c.bootstrap, []);
});

test('precedence: flags over env over file over defaults, per key', () => {
  const file = configFromFileText(
    JSON.stringify({ dataDir: 'fromfile', listen: '127.0.0.1:1111', api: '127.0.0.1:2222', profile: 'mainnet', logLevel: 'warn', store: 'memory', bootstrap: ['peer/node.json'] }),
    '/etc/ecd/config.json',
  );
  const env = configFromEnv({ ECD_LISTEN: '127.0.0.1:3333', ECD_PROFILE: 'testnet', ECD_LOG_LEVEL: 'debug', ECD_BOOTSTRAP: `127.0.0.1:9@${PK}, 127.0.0.2:10@${PK}` });
  const flags = { listen: '127.0.0.1:4444' };
  const c = resolveConfig({ flags, env, file, fileDir: '/etc/ecd', cwd: '/work' });
  assert.equal(c.listen.port, 4444, 'flag beats env and file');
  assert.equal(c.profile, 'testnet', 'env beats file');
  assert.equal(c.logLevel, 'debug');
  assert.equal(c.api.port, 2222, 'file beats default');
  assert.equal(c.store, 'memory');
  assert.equal(c.dataDir, '/etc/ecd/fromfile', 'relative paths in the file resolve against its directory');
  assert.equal(c.bootstrap.length, 2, 'env bootstrap list replaces the file list');
  assert.equal(c.bootstrap[1]?.kind, 'static');

  const c2 = resolveConfig({ flags: { dataDir: 'rel' }, env: {}, file, fileDir: '/etc/ecd', cwd: '/work' });
  assert.equal(c2.dataDir, '/work/rel', 'relative flag paths resolve against cwd');
  assert.equal(c2.bootstrap[0]?.kind, 'file');
  assert.equal((c2.bootstrap[0] as { path: string }).path, resolve('/etc/ecd', 'peer/node.json'));
  const c3 = resolveConfig({ flags: {}, env: configFromEnv({ ECD_DATA_DIR: '/from/env' }), file, fileDir: '/etc/ecd' });
  assert.equal(c3.dataDir, '/from/env');
});

test('bootstrap entries: host:port@key and node.json paths', () => {
  const s = parseBootstrap(`127.0.0.1:7001@${PK}`, 'x', '/');
  assert.equal(s.kind, 'static');
  if (s.kind === 'static') {
    assert.deepEqual(s.endpoint, { host: '127.0.0.1', port: 7001 });
    assert.equal(Buffer.from(s.publicKey).toString('hex'), PK);
  }
  const v6 = parseBootstrap(`[::1]:7001@${PK}`, 'x', '/');
  assert.equal(v6.kind === 'static' && v6.endpoint.host, '::1');
  const f = parseBootstrap('../n2', 'x', '/data/n1');
  assert.deepEqual(f.kind === 'file' && f.path, '/data/n2');
  assert.throws(() => parseBootstrap('127.0.0.1:7001@abcd', 'flag --bootstrap[0]', '/'), /flag --bootstrap\[0\]/);
});

test('refusals name their source in one line', () => {
  assert.throws(() => resolveConfig({ flags: {}, env: {} }), (e: unknown) => e instanceof ConfigError && /data directory/.test(e.message));
  assert.throws(() => resolveConfig({ flags: { dataDir: '/d', listen: 'nope' }, env: {} }), /flag --listen: expected host:port/);
  assert.throws(() => resolveConfig({ flags: { dataDir: '/d' }, env: configFromEnv({ ECD_LISTEN: '127.0.0.1:70000' }) }), /env ECD_LISTEN: port 70000/);
  assert.throws(() => resolveConfig({ flags: { dataDir: '/d', api: '0.0.0.0:80' }, env: {} }), /not a loopback address; pass --api-public/);
  assert.equal(resolveConfig({ flags: { dataDir: '/d', api: '0.0.0.0:80', apiPublic: true }, env: {} }).api.host, '0.0.0.0');
  assert.throws(() => resolveConfig({ flags: { dataDir: '/d', profile: 'moon' }, env: {} }), /unknown profile/);
  assert.throws(() => configFromFileText('{"listne": "x"}', 'c.json'), /c.json: unknown key "listne"/);
  assert.throws(() => configFromFileText('[1]', 'c.json'), /not a JSON object/);
  assert.throws(() => configFromEnv({ ECD_API_PUBLIC: 'maybe' }), /ECD_API_PUBLIC/);
  assert.deepEqual(parseHostPort('localhost:5', 'x'), { host: 'localhost', port: 5 });
});

test('the built-in pretty printer turns a pino line into one human line', async () => {
  const { prettyLine } = await import('../daemon/log.js');
  const line = prettyLine('{"level":30,"time":0,"pid":1,"mod":"peers","msg":"peer identity verified","peer":"ab12","n":3}\n', false);
  assert.equal(line, '00:00:00.000 INFO  peers: peer identity verified peer=ab12 n=3\n');
  assert.equal(prettyLine('not json', false), 'not json\n');
});
