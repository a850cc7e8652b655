/**
 * A small typed client for the control API (docs/api.md): one method per route, a bearer token on
 * every request, a timeout on every request, and one error type (`ApiError`) whose `code` is the
 * server's `error` field (or a client-side code) and whose `reason` is the server's one line.
 *
 * Answers are checked for the fields the tools rely on; anything else is passed through as the
 * server sent it, so a server that adds fields does not break old clients.
 *
 * Endpoint resolution (docs/api.md): `--node DIR` (reads DIR/api-url and DIR/api-token), or
 * `--api URL --api-token-file FILE`; env `ECD_NODE` stands for `--node`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Client-side error codes; server codes (`unauthorized`, `malformed`, `not-found`, …) pass through. */
export type ApiClientErrorCode =
  | 'timeout'
  | 'unreachable'
  | 'bad-response'
  | 'bad-endpoint'
  | 'unauthorized'
  | 'not-found'
  | 'http-error';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    /** The server's `error` field, or an `ApiClientErrorCode`. */
    readonly code: string,
    /** One line for a human: the server's `reason` when it gave one. */
    readonly reason: string,
    /** HTTP status, or null when no answer arrived. */
    readonly status: number | null,
    /** The server's numeric or string sub-code when present (e.g. a block format code). */
    readonly detail: string | null = null,
  ) {
    super(status === null ? `${code}: ${reason}` : `${status} ${code}: ${reason}`);
  }
}

export interface ApiEndpoint {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:7001 */
  readonly url: string;
  readonly token: string;
}

export interface EndpointOptions {
  readonly node?: string | undefined;
  readonly api?: string | undefined;
  readonly apiTokenFile?: string | undefined;
}

async function readOneLine(path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ApiError('bad-endpoint', `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, null);
  }
  const line = text.trim();
  if (line.length === 0 || line.length > 4096 || line.includes('\n')) throw new ApiError('bad-endpoint', `${path} is not one line`, null);
  return line;
}

function normaliseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ApiError('bad-endpoint', `not a URL: ${url}`, null);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ApiError('bad-endpoint', `not an http(s) URL: ${url}`, null);
  return u.href.replace(/\/+$/, '');
}

/**
 * `--api URL --api-token-file FILE` wins over `--node DIR`, which wins over env ECD_NODE. Throws
 * ApiError('bad-endpoint') with a one-line reason when nothing usable was given.
 */
export async function resolveEndpoint(opts: EndpointOptions, env: NodeJS.ProcessEnv = process.env): Promise<ApiEndpoint> {
  if (opts.api !== undefined || opts.apiTokenFile !== undefined) {
    if (opts.api === undefined || opts.apiTokenFile === undefined) {
      throw new ApiError('bad-endpoint', '--api and --api-token-file go together', null);
    }
    return { url: normaliseUrl(opts.api), token: await readOneLine(opts.apiTokenFile, 'API token file') };
  }
  const dir = opts.node ?? env['ECD_NODE'];
  if (dir === undefined || dir === '') {
    throw new ApiError('bad-endpoint', 'no daemon given: use --node DIR, --api URL --api-token-file FILE, or set ECD_NODE', null);
  }
  const url = await readOneLine(join(dir, 'api-url'), 'API URL file');
  const token = await readOneLine(join(dir, 'api-token'), 'API token file');
  return { url: normaliseUrl(url), token };
}

// ---------------------------------------------------------------------------------------------
// Answer types (docs/api.md).

export type BlockStatusName = 'placeholder' | 'awaiting-parents' | 'pending' | 'blocked' | 'invalid' | 'committed' | 'stored' | 'unknown';

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['committed', 'stored', 'blocked', 'invalid']);
export const COMMITTED_STATUSES: ReadonlySet<string> = new Set(['committed', 'stored']);

/**
 * What a block status means to someone waiting for it: a final outcome, or undefined to keep
 * waiting. `seenKnown`: the block was known before, so `unknown` now means it expired.
 */
export function terminalOutcome(status: string, seenKnown: boolean): Exclude<WaitOutcome, 'timeout'> | undefined {
  if (COMMITTED_STATUSES.has(status)) return 'committed';
  if (status === 'blocked' || status === 'invalid') return status;
  if (status === 'unknown' && seenKnown) return 'expired';
  return undefined;
}

export interface NodeStatus {
  readonly version: string;
  readonly profile: string;
  /** The network id as a bigint (the server may send a number or a decimal string). */
  readonly networkId: bigint;
  readonly publicKey: string;
  readonly address: string;
  readonly udp: { readonly host: string; readonly port: number };
  readonly head: { readonly seq: number; readonly id: string };
  readonly peers: { readonly connected: number; readonly known: number };
  readonly mempool: number;
  readonly uptimeS: number;
}

export interface PeerInfo {
  readonly publicKey: string;
  readonly address: string;
  readonly endpoint: string;
  readonly state: string;
  readonly lastSeenMs: number;
}

export interface SubmitAnswer {
  readonly id: string;
  readonly status: string;
}

export interface BlockAnswer {
  readonly id: string;
  readonly status: string;
  readonly seq?: number;
  /** Hex of the encoded signed block, when this daemon has the body. */
  readonly block?: string;
}

export interface TokenMapping {
  readonly token: string;
  /** Id of the block that last set this token. */
  readonly block: string;
  /** That block's `last` for this token. */
  readonly parent: string;
  /** That block's time (unix ms). */
  readonly time: number;
  readonly seq: number;
  readonly source: string;
  readonly hosted: boolean;
}

export interface TokenHistory {
  readonly token: string;
  readonly history: readonly { readonly block: string; readonly parent: string; readonly time: number; readonly seq?: number }[];
}

export interface NetworkTokenAnswer {
  readonly token: string;
  /** `block` is null when the responder has no mapping for the token. */
  readonly answers: readonly { readonly responder: string; readonly block: string | null; readonly seq: number; readonly time: number; readonly head?: { readonly seq: number; readonly id: string }; readonly proof?: string }[];
  readonly referrals: readonly unknown[];
  /** Fraud proofs these answers completed at the daemon (the culprits are banned there). */
  readonly fraud: readonly FraudFound[];
  readonly asked: number;
  readonly silent: number;
}

export interface FraudFound {
  readonly culprit: string;
  readonly predicate: string;
  readonly proof: string;
}

export interface BanInfo {
  readonly publicKey: string;
  readonly since: number;
  readonly predicate: string;
  readonly proof: string;
  readonly source: string;
}

export interface ProofSummary {
  readonly id: string;
  readonly culprit: string;
  readonly predicate: string;
  readonly foundAt: number;
  readonly source: string;
}

/** GET /v1/evidence: the daemon's evidence book (statements are decoded views; `bytes` is hex). */
export interface EvidenceView {
  readonly token?: string;
  readonly statements: number;
  readonly responders: number;
  readonly bytes: number;
  readonly kept: readonly Record<string, unknown>[];
  readonly proofs: readonly ProofSummary[];
  readonly bans: readonly BanInfo[];
}

export interface ProofDetail extends ProofSummary {
  readonly a: Record<string, unknown>;
  readonly b: Record<string, unknown>;
  /** The self-contained fraud-proof file, hex. */
  readonly file: string;
}

// ---------------------------------------------------------------------------------------------
// Small shape checks: a wrong shape is ApiError('bad-response'), never a TypeError later.

type Obj = Record<string, unknown>;

function bad(route: string, what: string): ApiError {
  return new ApiError('bad-response', `${route}: ${what}`, null);
}

function asObj(v: unknown, route: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(route, 'answer is not a JSON object');
  return v as Obj;
}

function str(o: Obj, k: string, route: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw bad(route, `"${k}" is not a string`);
  return v;
}

function hex(o: Obj, k: string, route: string): string {
  const v = str(o, k, route);
  if (!/^[0-9a-f]*$/.test(v) || v.length % 2 !== 0) throw bad(route, `"${k}" is not lowercase hex`);
  return v;
}

function num(o: Obj, k: string, route: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(route, `"${k}" is not a number`);
  return v;
}

function networkIdOf(v: unknown, route: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^[0-9]{1,20}$/.test(v) && BigInt(v) < 1n << 64n) return BigInt(v);
  if (typeof v === 'bigint') return v;
  throw bad(route, '"networkId" is not a u64');
}

const HEX32 = /^[0-9a-f]{64}$/;

function checkHex32(s: string, what: string): string {
  const lower = s.toLowerCase();
  if (!HEX32.test(lower)) throw new ApiError('bad-request', `${what} must be 32 bytes of hex (64 characters)`, null);
  return lower;
}

// ---------------------------------------------------------------------------------------------

export interface ApiClientOptions {
  /** Per-request timeout in ms (default 10 000); long polls add their wait on top. */
  readonly timeoutMs?: number;
  /** Injected for tests; default the global fetch of Node 20. */
  readonly fetch?: typeof fetch;
}

export interface WaitOptions {
  /** Give up after this many ms overall (default 30 000). */
  readonly timeoutMs?: number;
  /** Longest single long poll (default and maximum 30 000, the server's bound). */
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
}

export type WaitOutcome = 'committed' | 'blocked' | 'invalid' | 'expired' | 'timeout';

export interface WaitResult {
  readonly id: string;
  readonly outcome: WaitOutcome;
  /** The last status the daemon reported. */
  readonly status: string;
  readonly seq?: number;
  readonly elapsedMs: number;
}

export const MAX_WAIT_MS = 30_000;

/** Socket failures after a connection was made (a reused keep-alive socket closed under us). */
const RETRYABLE_SOCKET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

export class ApiClient {
  readonly endpoint: ApiEndpoint;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(endpoint: ApiEndpoint, options: ApiClientOptions = {}) {
    this.endpoint = { url: endpoint.url.replace(/\/+$/, ''), token: endpoint.token };
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.fetchFn = options.fetch ?? fetch;
  }

  /** One request; returns the parsed JSON (or text for /metrics) of a 2xx answer, else throws ApiError. */
  private async request(
    method: 'GET' | 'POST',
    path: string,
    opts: { body?: unknown; extraMs?: number; text?: boolean; signal?: AbortSignal } = {},
  ): Promise<unknown> {
    const route = `${method} ${path.split('?')[0] ?? path}`;
    const timeoutMs = this.timeoutMs + (opts.extraMs ?? 0);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal === undefined ? timeout : AbortSignal.any([timeout, opts.signal]);
    const headers: Record<string, string> = { authorization: `Bearer ${this.endpoint.token}`, accept: opts.text === true ? 'text/plain' : 'application/json' };
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    let res: Response | undefined;
    let text = '';
    // A kept-alive socket the server closes as we reuse it fails with a reset; every route is
    // idempotent (a block resubmitted has the same id), so such a failure is retried once.
    for (let attempt = 0; res === undefined; attempt++) {
      try {
        res = await this.fetchFn(`${this.endpoint.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }), signal });
        text = await res.text();
      } catch (err) {
        res = undefined;
        if (timeout.aborted) throw new ApiError('timeout', `${route}: no answer within ${timeoutMs} ms`, null);
        if (opts.signal?.aborted === true) throw new ApiError('timeout', `${route}: aborted`, null);
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        const code = cause?.code ?? '';
        if (attempt === 0 && RETRYABLE_SOCKET_CODES.has(code)) continue;
        throw new ApiError('unreachable', `${route} to ${this.endpoint.url}: ${code !== '' ? code : (cause?.message ?? (err as Error).message)}`, null);
      }
    }
    if (res.status >= 200 && res.status < 300) {
      if (opts.text === true) return text;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw bad(route, 'answer is not JSON');
      }
    }
    let parsed: Obj | null = null;
    try {
      const v = JSON.parse(text) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) parsed = v as Obj;
    } catch {
      // a non-JSON error body: fall through to a generic reason
    }
    const fallback: Record<number, string> = { 401: 'unauthorized', 404: 'not-found' };
    const code = typeof parsed?.['error'] === 'string' ? (parsed['error'] as string) : (fallback[res.status] ?? 'http-error');
    let reason = typeof parsed?.['reason'] === 'string' ? (parsed['reason'] as string) : '';
    if (reason === '' && res.status === 401) reason = 'the API token was refused (check --node / --api-token-file)';
    if (reason === '') reason = text.length > 0 && text.length < 200 && parsed === null ? text.trim() : `HTTP ${res.status}`;
    const sub = parsed?.['code'];
    const detail = typeof sub === 'string' || typeof sub === 'number' ? String(sub) : null;
    throw new ApiError(code, `${route}: ${reason.split('\n')[0] ?? reason}`, res.status, detail);
  }

  /** GET /v1/status as the daemon sent it. */
  async statusBody(): Promise<Record<string, unknown>> {
    return asObj(await this.request('GET', '/v1/status'), 'GET /v1/status');
  }

  async status(): Promise<NodeStatus> {
    const r = 'GET /v1/status';
    const o = asObj(await this.request('GET', '/v1/status'), r);
    const udp = asObj(o['udp'] ?? {}, r);
    const head = asObj(o['head'] ?? {}, r);
    const peers = asObj(o['peers'] ?? {}, r);
    return {
      ...(o as object),
      version: typeof o['version'] === 'string' ? o['version'] : '',
      profile: typeof o['profile'] === 'string' ? o['profile'] : '',
      networkId: networkIdOf(o['networkId'], r),
      publicKey: typeof o['publicKey'] === 'string' ? o['publicKey'] : '',
      address: typeof o['address'] === 'string' ? o['address'] : '',
      udp: { host: typeof udp['host'] === 'string' ? udp['host'] : '', port: typeof udp['port'] === 'number' ? udp['port'] : 0 },
      head: { seq: typeof head['seq'] === 'number' ? head['seq'] : 0, id: typeof head['id'] === 'string' ? head['id'] : '' },
      peers: {
        connected: typeof peers['connected'] === 'number' ? peers['connected'] : 0,
        known: typeof peers['known'] === 'number' ? peers['known'] : 0,
      },
      mempool: typeof o['mempool'] === 'number' ? o['mempool'] : 0,
      uptimeS: typeof o['uptimeS'] === 'number' ? o['uptimeS'] : 0,
    };
  }

  async peers(): Promise<readonly PeerInfo[]> {
    const r = 'GET /v1/peers';
    const o = asObj(await this.request('GET', '/v1/peers'), r);
    const list = o['peers'];
    if (!Array.isArray(list)) throw bad(r, '"peers" is not an array');
    return list.map((p) => asObj(p, r) as unknown as PeerInfo);
  }

  /**
   * POST /v1/blocks with the encoded signed block (bytes or hex). 400s become ApiError with the
   * server's reason. `waitMs` (≤ 30 000): the server holds the answer until the block's status is
   * terminal or that long, so one request submits and waits.
   */
  async submitBlock(block: Uint8Array | string, opts: { waitMs?: number } = {}): Promise<SubmitAnswer> {
    const r = 'POST /v1/blocks';
    const hexBlock = typeof block === 'string' ? block.toLowerCase() : Buffer.from(block.buffer, block.byteOffset, block.byteLength).toString('hex');
    const waitMs = opts.waitMs === undefined ? 0 : Math.max(0, Math.min(MAX_WAIT_MS, Math.floor(opts.waitMs)));
    const q = waitMs > 0 ? `?waitMs=${waitMs}` : '';
    const o = asObj(await this.request('POST', `/v1/blocks${q}`, { body: { block: hexBlock }, extraMs: waitMs }), r);
    return { id: hex(o, 'id', r), status: str(o, 'status', r) };
  }

  /** GET /v1/blocks/:id, optionally held by the server up to `waitMs` (≤ 30 000) until terminal. */
  async block(id: string, opts: { waitMs?: number; signal?: AbortSignal } = {}): Promise<BlockAnswer> {
    const r = 'GET /v1/blocks/:id';
    const waitMs = opts.waitMs === undefined ? undefined : Math.max(0, Math.min(MAX_WAIT_MS, Math.floor(opts.waitMs)));
    const q = waitMs === undefined ? '' : `?waitMs=${waitMs}`;
    const o = asObj(
      await this.request('GET', `/v1/blocks/${checkHex32(id, 'block id')}${q}`, {
        extraMs: waitMs ?? 0,
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      }),
      r,
    );
    const out: { id: string; status: string; seq?: number; block?: string } = { id: hex(o, 'id', r), status: str(o, 'status', r) };
    if (typeof o['seq'] === 'number') out.seq = o['seq'];
    if (o['block'] !== undefined && o['block'] !== null) out.block = hex(o, 'block', r);
    return out;
  }

  /**
   * Long-polls GET /v1/blocks/:id until the status is terminal or `timeoutMs` passes. A block the
   * daemon knew and then forgot (`unknown` after a non-terminal status) has expired from its mempool.
   */
  async waitForBlock(id: string, opts: WaitOptions = {}): Promise<WaitResult> {
    const start = performance.now();
    const total = opts.timeoutMs ?? MAX_WAIT_MS;
    const pollMax = Math.min(opts.pollMs ?? MAX_WAIT_MS, MAX_WAIT_MS);
    let seenKnown = false;
    let last: BlockAnswer = { id, status: 'unknown' };
    for (;;) {
      const left = total - (performance.now() - start);
      if (left <= 0) break;
      try {
        last = await this.block(id, { waitMs: Math.min(pollMax, left), ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
      } catch (err) {
        // A daemon that does not know the id yet may answer 404, and a dropped connection says
        // nothing about the block: keep waiting within the budget (refused connections do not).
        if (!(err instanceof ApiError)) throw err;
        if (err.code === 'unreachable' && !err.reason.includes('ECONNREFUSED')) {
          await new Promise((res) => setTimeout(res, Math.min(100, Math.max(0, total - (performance.now() - start)))));
          continue;
        }
        if (err.code !== 'not-found') throw err;
        last = { id, status: 'unknown' };
      }
      const elapsedMs = performance.now() - start;
      const seq = last.seq === undefined ? {} : { seq: last.seq };
      const outcome = terminalOutcome(last.status, seenKnown);
      if (outcome !== undefined) return { id, outcome, status: last.status, ...seq, elapsedMs };
      if (last.status === 'unknown') {
        // The server answered at once (it holds only known blocks): do not spin.
        await new Promise((res) => setTimeout(res, Math.min(50, Math.max(0, total - elapsedMs))));
      } else {
        seenKnown = true;
      }
    }
    return { id, outcome: 'timeout', status: last.status, elapsedMs: performance.now() - start };
  }

  /** The local mapping of a token, or null when this daemon has none (404). */
  async token(token: string): Promise<TokenMapping | null> {
    const r = 'GET /v1/tokens/:token';
    let v: unknown;
    try {
      v = await this.request('GET', `/v1/tokens/${checkHex32(token, 'token')}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
    const o = asObj(v, r);
    return {
      ...(o as object),
      token: hex(o, 'token', r),
      block: hex(o, 'block', r),
      parent: typeof o['parent'] === 'string' ? o['parent'] : '',
      time: num(o, 'time', r),
      seq: typeof o['seq'] === 'number' ? o['seq'] : 0,
      source: typeof o['source'] === 'string' ? o['source'] : '',
      hosted: o['hosted'] === true,
    } as TokenMapping;
  }

  async tokenHistory(token: string): Promise<TokenHistory> {
    const r = 'GET /v1/tokens/:token/history';
    const o = asObj(await this.request('GET', `/v1/tokens/${checkHex32(token, 'token')}/history`), r);
    const h = o['history'];
    if (!Array.isArray(h)) throw bad(r, '"history" is not an array');
    return { token: hex(o, 'token', r), history: h.map((x) => asObj(x, r) as unknown as TokenHistory['history'][number]) };
  }

  async networkToken(token: string, opts: { timeoutMs?: number; proof?: boolean } = {}): Promise<NetworkTokenAnswer> {
    const r = 'GET /v1/network/tokens/:token';
    const params = [...(opts.timeoutMs === undefined ? [] : [`timeoutMs=${Math.max(0, Math.floor(opts.timeoutMs))}`]), ...(opts.proof === true ? ['proof=1'] : [])];
    const t = params.length === 0 ? '' : `?${params.join('&')}`;
    const o = asObj(await this.request('GET', `/v1/network/tokens/${checkHex32(token, 'token')}${t}`, { extraMs: opts.timeoutMs ?? 1_000 }), r);
    const answers = o['answers'];
    if (!Array.isArray(answers)) throw bad(r, '"answers" is not an array');
    const referrals = Array.isArray(o['referrals']) ? (o['referrals'] as unknown[]) : [];
    const fraud = Array.isArray(o['fraud']) ? (o['fraud'] as unknown[]).map((f) => asObj(f, r) as unknown as FraudFound) : [];
    return {
      token: hex(o, 'token', r),
      answers: answers.map((a) => asObj(a, r) as unknown as NetworkTokenAnswer['answers'][number]),
      referrals,
      fraud,
      asked: typeof o['asked'] === 'number' ? o['asked'] : answers.length,
      silent: typeof o['silent'] === 'number' ? o['silent'] : 0,
    };
  }

  /** GET /v1/evidence[?token=]. */
  async evidence(token?: string): Promise<EvidenceView> {
    const r = 'GET /v1/evidence';
    const q = token === undefined ? '' : `?token=${checkHex32(token, 'token')}`;
    const o = asObj(await this.request('GET', `/v1/evidence${q}`), r);
    num(o, 'statements', r);
    if (!Array.isArray(o['kept']) || !Array.isArray(o['proofs']) || !Array.isArray(o['bans'])) throw bad(r, '"kept", "proofs" and "bans" must be arrays');
    return o as unknown as EvidenceView;
  }

  /** GET /v1/evidence/proofs/:id (an id or a unique prefix); null when there is none. */
  async evidenceProof(id: string): Promise<ProofDetail | null> {
    const r = 'GET /v1/evidence/proofs/:id';
    if (!/^[0-9a-fA-F]{4,64}$/.test(id)) throw new ApiError('bad-request', 'a proof id is 4 to 64 hex digits', null);
    try {
      const o = asObj(await this.request('GET', `/v1/evidence/proofs/${id.toLowerCase()}`), r);
      hex(o, 'file', r);
      return o as unknown as ProofDetail;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  }

  /** GET /v1/evidence/bundle[?token=]: the evidence bundle file's bytes. */
  async evidenceBundle(token?: string): Promise<Uint8Array> {
    const r = 'GET /v1/evidence/bundle';
    const q = token === undefined ? '' : `?token=${checkHex32(token, 'token')}`;
    const o = asObj(await this.request('GET', `/v1/evidence/bundle${q}`), r);
    return new Uint8Array(Buffer.from(hex(o, 'file', r), 'hex'));
  }

  /** POST /v1/evidence/proofs: hands a fraud-proof file to the daemon (checked, kept, the culprit banned). */
  async submitProof(file: Uint8Array): Promise<{ culprit: string; predicate: string; proof: string; banned: boolean }> {
    const r = 'POST /v1/evidence/proofs';
    const o = asObj(await this.request('POST', '/v1/evidence/proofs', { body: { file: Buffer.from(file).toString('hex') } }), r);
    return { culprit: hex(o, 'culprit', r), predicate: str(o, 'predicate', r), proof: hex(o, 'proof', r), banned: o['banned'] === true };
  }

  /** GET /v1/bans. */
  async bans(): Promise<readonly BanInfo[]> {
    const r = 'GET /v1/bans';
    const o = asObj(await this.request('GET', '/v1/bans'), r);
    if (!Array.isArray(o['bans'])) throw bad(r, '"bans" is not an array');
    return o['bans'] as BanInfo[];
  }

  // --- compute jobs (docs/api.md "Jobs") ---

  async jobOffers(): Promise<{ offers: Record<string, unknown>[]; own?: Record<string, unknown> }> {
    const o = asObj(await this.request('GET', '/v1/jobs/offers'), 'GET /v1/jobs/offers');
    if (!Array.isArray(o['offers'])) throw bad('GET /v1/jobs/offers', '"offers" is not an array');
    return o as { offers: Record<string, unknown>[]; own?: Record<string, unknown> };
  }

  async submitJob(spec: Record<string, unknown>): Promise<{ id: string; provider: string; state: string }> {
    const r = 'POST /v1/jobs';
    const o = asObj(await this.request('POST', '/v1/jobs', { body: spec, extraMs: 10_000 }), r);
    return { id: hex(o, 'id', r), provider: hex(o, 'provider', r), state: str(o, 'state', r) };
  }

  async jobs(): Promise<Record<string, unknown>[]> {
    const o = asObj(await this.request('GET', '/v1/jobs'), 'GET /v1/jobs');
    return Array.isArray(o['jobs']) ? (o['jobs'] as Record<string, unknown>[]) : [];
  }

  /** GET /v1/jobs/:id, holding up to `waitMs` until the job is final with its output verified. */
  async job(id: string, waitMs = 0): Promise<Record<string, unknown>> {
    const q = waitMs > 0 ? `?waitMs=${Math.floor(waitMs)}` : '';
    return asObj(await this.request('GET', `/v1/jobs/${checkHex32(id, 'job id')}${q}`, { extraMs: waitMs }), 'GET /v1/jobs/:id');
  }

  async jobLogs(id: string): Promise<{ verified: boolean; stdout: Uint8Array | null; stderr: Uint8Array | null }> {
    const o = asObj(await this.request('GET', `/v1/jobs/${checkHex32(id, 'job id')}/logs`), 'GET /v1/jobs/:id/logs');
    const b = (k: string): Uint8Array | null => (typeof o[k] === 'string' ? new Uint8Array(Buffer.from(o[k] as string, 'base64')) : null);
    return { verified: o['verified'] === true, stdout: b('stdout'), stderr: b('stderr') };
  }

  async cancelJob(id: string): Promise<Record<string, unknown>> {
    return asObj(await this.request('POST', `/v1/jobs/${checkHex32(id, 'job id')}/cancel`, { body: {} }), 'POST /v1/jobs/:id/cancel');
  }

  /** The receipt file's bytes, or null while the job has none. */
  async jobReceipt(id: string): Promise<Uint8Array | null> {
    const o = asObj(await this.request('GET', `/v1/jobs/${checkHex32(id, 'job id')}/receipt`), 'GET /v1/jobs/:id/receipt');
    return typeof o['receipt'] === 'string' ? new Uint8Array(Buffer.from(o['receipt'], 'hex')) : null;
  }

  /** POST /v1/jobs/:id/anchor: the receipt token's creation block, submitted (or the one already submitted). */
  async anchorJob(id: string): Promise<{ token: string; block: string; status: string }> {
    const r = 'POST /v1/jobs/:id/anchor';
    const o = asObj(await this.request('POST', `/v1/jobs/${checkHex32(id, 'job id')}/anchor`, { body: {} }), r);
    return { token: hex(o, 'token', r), block: hex(o, 'block', r), status: str(o, 'status', r) };
  }

  async jobProviders(): Promise<Record<string, unknown>[]> {
    const o = asObj(await this.request('GET', '/v1/jobs/providers'), 'GET /v1/jobs/providers');
    return Array.isArray(o['providers']) ? (o['providers'] as Record<string, unknown>[]) : [];
  }

  /** GET /v1/profile: a CPU profile (.cpuprofile JSON) of the daemon's process over the next `ms`. */
  async profile(ms: number): Promise<Record<string, unknown>> {
    return asObj(await this.request('GET', `/v1/profile?ms=${Math.floor(ms)}`, { extraMs: ms }), 'GET /v1/profile');
  }

  /** GET /metrics as Prometheus text. */
  async metrics(): Promise<string> {
    return (await this.request('GET', '/metrics', { text: true })) as string;
  }
}

/** Sums every sample of the named metric (any labels) in Prometheus text; 0 when absent. */
export function sumMetric(text: string, name: string): number {
  return parseMetricSums(text).get(name) ?? 0;
}

/** Every metric name in Prometheus text, with the sum of its samples. */
export function parseMetricSums(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const v = Number(m[3]);
    if (!Number.isFinite(v)) continue;
    out.set(m[1] as string, (out.get(m[1] as string) ?? 0) + v);
  }
  return out;
}
