/**
 * The control API server (docs/api.md): node:http on 127.0.0.1, JSON in and out, a bearer token
 * on every request (401 otherwise, compared in constant time), bodies capped at 64 KiB (413),
 * malformed input refused with 400 and a one-line reason before anything changes.
 *
 * This module is HTTP only: routing, authentication, body and parameter parsing, long polls.
 * What the answers say comes from an `ApiBackend` (the node), so the server is testable with a
 * fake backend and the node never sees a request object.
 *
 * Lifecycle: `start()` listens (port 0 = ephemeral; `url` tells which); `stop()` answers waiting
 * long polls with the status they have, refuses new requests with 503 and closes every socket.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { SignedBlock } from '../wire/block.js';
import { decodeSignedBlock } from '../wire/block.js';
import type { Logger } from './log.js';
import type { PeerAddress } from './transport.js';
import { JobRequestError, type JobsApi } from './jobs/api.js';
import { cpuProfile, PROFILE_LIMITS, ProfileBusyError } from './profile.js';

export const API_LIMITS = {
  /** Request bodies (docs/api.md). */
  maxBodyBytes: 64 * 1024,
  /** Longest `?waitMs` hold. */
  maxWaitMs: 30_000,
  /** Longest `?timeoutMs` for network queries. */
  maxQueryMs: 10_000,
  defaultQueryMs: 1_000,
  /** Long polls held at once; more get an immediate answer. */
  maxWaiters: 4_096,
  /** Headers must arrive within this (slowloris); checked every `connectionsCheckingIntervalMs`. */
  headersTimeoutMs: 10_000,
  connectionsCheckingIntervalMs: 5_000,
  /** Open connections at once (authenticated or not); more are refused by the server. */
  maxConnections: 1_024,
} as const;

/** Statuses after which a block's status never changes (docs/api.md). */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['committed', 'stored', 'blocked', 'invalid']);

export type ApiErrorCode =
  | 'unauthorized'
  | 'malformed'
  | 'invalid-block'
  | 'not-found'
  | 'method-not-allowed'
  | 'too-large'
  | 'stopping'
  | 'unavailable'
  | 'refused'
  | 'busy'
  | 'internal';

export interface BlockAnswer {
  readonly id: string;
  readonly status: string;
  readonly seq?: number;
  readonly block?: string;
}

export type SubmitResult =
  | { readonly ok: true; readonly id: string; readonly status: string }
  | { readonly ok: false; readonly error: 'invalid-block' | 'unavailable'; readonly code: string; readonly reason: string; readonly id?: string };

/** What the node answers; every method is synchronous except the network query. */
export interface ApiBackend {
  status(): Record<string, unknown>;
  peerList(): readonly Record<string, unknown>[];
  submit(signed: SignedBlock): SubmitResult;
  block(id: Uint8Array): BlockAnswer;
  token(token: Uint8Array): Record<string, unknown> | undefined;
  /** This daemon hosts the token (it is in the token's window over its Connected set). */
  hosts(token: Uint8Array): boolean;
  history(token: Uint8Array): Record<string, unknown>;
  networkToken(token: Uint8Array, timeoutMs: number, wantProof?: boolean): Promise<Record<string, unknown>>;
  /** The evidence book: kept statements (about `token`, if given), proofs and bans. */
  evidenceView(token: Uint8Array | undefined): Record<string, unknown>;
  /** One proof (by id or unique id prefix) with its self-contained file, hex. */
  evidenceProof(id: string): Record<string, unknown> | undefined;
  /** The kept statements (about `token`, if given) as an evidence bundle file, hex. */
  evidenceBundle(token: Uint8Array | undefined): Record<string, unknown>;
  bans(): Record<string, unknown>;
  /** A fraud-proof file (wire/evidence-file.ts) handed in: checked, kept, the culprit banned. */
  submitProof(file: Uint8Array): { ok: true; body: Record<string, unknown> } | { ok: false; reason: string };
  /** Compute jobs (absent: the routes answer 404). */
  readonly jobsApi?: JobsApi;
  metricsText(): Promise<string>;
  /** Called after anything may have changed a block status (every tick); see `waitFor`. */
  onChange(listener: () => void): () => void;
  /** Counts a finished request (metrics). */
  noteRequest?(status: number): void;
}

export interface ApiServerOptions {
  readonly listen: PeerAddress;
  /** The bearer token (hex). */
  readonly token: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    readonly reason: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(reason);
  }
}

/** A backend that cannot serve a request right now (busy, stopping): 503 with the code. */
export class ApiUnavailable extends Error {
  override readonly name = 'ApiUnavailable';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const HEX32 = /^[0-9a-fA-F]{64}$/;

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time check of an Authorization header against the token (hashing equalises lengths). */
export function authorised(header: string | undefined, token: string): boolean {
  const want = digest(`Bearer ${token}`);
  // The scheme name is case-insensitive (RFC 7235 §2.1); the token is not.
  const h = typeof header === 'string' ? header.trim() : '';
  const got = digest(/^bearer /i.test(h) ? `Bearer ${h.slice(7)}` : h);
  return timingSafeEqual(want, got);
}

function parseId(s: string, what: string): Uint8Array {
  if (!HEX32.test(s)) throw new HttpError(400, 'malformed', `${what} must be 32 bytes of hex (64 characters)`);
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function parseMs(v: string | null, what: string, max: number, dflt: number): number {
  if (v === null) return dflt;
  if (!/^[0-9]{1,9}$/.test(v)) throw new HttpError(400, 'malformed', `${what} must be a non-negative integer of milliseconds`);
  return Math.min(Number(v), max);
}

export class ApiServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly waiters = new Set<() => void>();
  private stopping = false;
  private address: PeerAddress | null = null;

  constructor(
    private readonly backend: ApiBackend,
    private readonly log: Logger,
    private readonly opts: ApiServerOptions,
  ) {}

  async start(): Promise<void> {
    if (this.server !== null) return;
    const server = createServer(
      { headersTimeout: API_LIMITS.headersTimeoutMs, requestTimeout: API_LIMITS.maxWaitMs + 15_000, connectionsCheckingInterval: API_LIMITS.connectionsCheckingIntervalMs },
      (req, res) => {
        void this.handle(req, res);
      },
    );
    server.maxConnections = API_LIMITS.maxConnections;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.listen.port, this.opts.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    this.address = { host: a.address, port: a.port };
    this.server = server;
  }

  /** `http://host:port` once listening. */
  get url(): string {
    const a = this.address;
    if (a === null) throw new Error('the API server is not listening');
    return `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.stopping = true;
    for (const w of [...this.waiters]) w();
    this.server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Idle keep-alive sockets would hold close() open; answered long polls have been flushed.
      setImmediate(() => {
        for (const s of this.sockets) s.destroy();
      });
    });
  }

  // -------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let status = 500;
    try {
      if (!authorised(req.headers.authorization, this.opts.token)) {
        req.resume();
        throw new HttpError(401, 'unauthorized', 'a valid "Authorization: Bearer <token>" header is required');
      }
      if (this.stopping) throw new HttpError(503, 'stopping', 'the node is stopping');
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://api.invalid');
      } catch {
        throw new HttpError(400, 'malformed', 'the request target is not a valid path');
      }
      const out = await this.route(req, url);
      status = out.status;
      if (typeof out.body === 'string') {
        res.writeHead(status, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
        res.end(out.body);
      } else {
        this.json(res, status, out.body);
      }
    } catch (err) {
      if (err instanceof HttpError) {
        status = err.status;
        this.json(res, err.status, { error: err.code, reason: err.reason, ...err.extra }, err.status === 405 ? { allow: String(err.extra['allow'] ?? '') } : {});
      } else if (err instanceof ApiUnavailable) {
        status = 503;
        this.json(res, 503, { error: 'unavailable', code: err.code, reason: err.message });
      } else {
        status = 500;
        this.log.error({ err: (err as Error)?.message ?? String(err) }, 'control API handler failed');
        this.json(res, 500, { error: 'internal', reason: 'internal error (see the daemon log)' });
      }
    }
    this.backend.noteRequest?.(status);
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    const text = `${JSON.stringify(body)}\n`;
    const h: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers };
    if (this.stopping) h['connection'] = 'close';
    res.writeHead(status, h);
    res.end(text);
  }

  private async route(req: IncomingMessage, url: URL): Promise<{ status: number; body: unknown }> {
    const parts = url.pathname.split('/').filter((p) => p !== '');
    const method = req.method ?? 'GET';
    const only = (allowed: string): void => {
      if (method !== allowed) {
        req.resume();
        throw new HttpError(405, 'method-not-allowed', `${url.pathname} accepts ${allowed} only`, { allow: allowed });
      }
    };
    const b = this.backend;
    if (parts.length === 1 && parts[0] === 'metrics') {
      only('GET');
      return { status: 200, body: await b.metricsText() };
    }
    if (parts[0] !== 'v1') throw new HttpError(404, 'not-found', `no route ${url.pathname}`);
    const [, a, c, d, e] = parts;
    if (a === 'status' && c === undefined) {
      only('GET');
      return { status: 200, body: b.status() };
    }
    if (a === 'profile' && c === undefined) {
      only('GET');
      const ms = parseMs(url.searchParams.get('ms'), 'ms', PROFILE_LIMITS.maxMs, 5_000);
      if (ms === 0) throw new HttpError(400, 'malformed', 'ms must be at least 1');
      try {
        return { status: 200, body: await cpuProfile(ms, (t) => new Promise((r) => setTimeout(r, t))) };
      } catch (err) {
        if (err instanceof ProfileBusyError) throw new HttpError(409, 'busy', err.message);
        throw err;
      }
    }
    if (a === 'peers' && c === undefined) {
      only('GET');
      return { status: 200, body: { peers: b.peerList() } };
    }
    if (a === 'blocks' && c === undefined) {
      only('POST');
      const waitMs = parseMs(url.searchParams.get('waitMs'), 'waitMs', API_LIMITS.maxWaitMs, 0);
      const r = await this.submit(req);
      if (waitMs === 0 || TERMINAL_STATUSES.has(r.status)) return { status: 202, body: r };
      // Submit and wait in one request, held as GET ?waitMs is.
      const answer = await this.blockWhenTerminal(parseId(r.id, 'block id'), waitMs, req);
      return { status: 202, body: { id: r.id, status: answer.status } };
    }
    if (a === 'blocks' && c !== undefined && d === undefined) {
      only('GET');
      const id = parseId(c, 'block id');
      const waitMs = parseMs(url.searchParams.get('waitMs'), 'waitMs', API_LIMITS.maxWaitMs, 0);
      return { status: 200, body: await this.blockWhenTerminal(id, waitMs, req) };
    }
    if (a === 'tokens' && c !== undefined && d === undefined) {
      only('GET');
      const token = parseId(c, 'token');
      const m = b.token(token);
      if (m === undefined) throw new HttpError(404, 'not-found', `no local mapping for token ${c.toLowerCase()}`, { hosted: b.hosts(token) });
      return { status: 200, body: m };
    }
    if (a === 'tokens' && c !== undefined && d === 'history' && e === undefined) {
      only('GET');
      return { status: 200, body: b.history(parseId(c, 'token')) };
    }
    if (a === 'evidence' && (c === undefined || (c === 'bundle' && d === undefined))) {
      only('GET');
      const t = url.searchParams.get('token');
      const token = t === null ? undefined : parseId(t, 'token');
      return { status: 200, body: c === undefined ? b.evidenceView(token) : b.evidenceBundle(token) };
    }
    if (a === 'evidence' && c === 'proofs' && d === undefined) {
      only('POST');
      const v = await readJsonBody(req);
      const hex = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)['file'] : undefined;
      if (typeof hex !== 'string' || hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
        throw new HttpError(400, 'malformed', 'the body must be {"file": hex of a fraud-proof file}', { code: 'hex' });
      }
      const r = b.submitProof(new Uint8Array(Buffer.from(hex, 'hex')));
      if (!r.ok) throw new HttpError(400, 'malformed', r.reason, { code: 'proof' });
      return { status: 200, body: r.body };
    }
    if (a === 'evidence' && c === 'proofs' && d !== undefined && e === undefined) {
      only('GET');
      if (!/^[0-9a-fA-F]{4,64}$/.test(d)) throw new HttpError(400, 'malformed', 'a proof id is 4 to 64 hex digits (a unique prefix will do)');
      const proof = b.evidenceProof(d.toLowerCase());
      if (proof === undefined) throw new HttpError(404, 'not-found', `no fraud proof ${d.toLowerCase()} (or the prefix is not unique)`);
      return { status: 200, body: proof };
    }
    if (a === 'bans' && c === undefined) {
      only('GET');
      return { status: 200, body: b.bans() };
    }
    if (a === 'jobs' && b.jobsApi !== undefined) return this.jobRoute(req, url, b.jobsApi, c, d, e);
    if (a === 'network' && c === 'tokens' && d !== undefined && e === undefined) {
      only('GET');
      const token = parseId(d, 'token');
      const timeoutMs = parseMs(url.searchParams.get('timeoutMs'), 'timeoutMs', API_LIMITS.maxQueryMs, API_LIMITS.defaultQueryMs);
      const proof = url.searchParams.get('proof');
      if (proof !== null && proof !== '0' && proof !== '1') throw new HttpError(400, 'malformed', 'proof must be 0 or 1');
      return { status: 200, body: await b.networkToken(token, timeoutMs, proof === '1') };
    }
    throw new HttpError(404, 'not-found', `no route ${url.pathname}`);
  }

  /** /v1/jobs…: offers, submit, list, one job (long poll), logs, cancel, receipt, providers. */
  private async jobRoute(req: IncomingMessage, url: URL, jobs: JobsApi, c: string | undefined, d: string | undefined, e: string | undefined): Promise<{ status: number; body: unknown }> {
    const method = req.method ?? 'GET';
    const only = (allowed: string): void => {
      if (method !== allowed) {
        req.resume();
        throw new HttpError(405, 'method-not-allowed', `${url.pathname} accepts ${allowed} only`, { allow: allowed });
      }
    };
    if (c === undefined) {
      if (method === 'POST') return this.submitJob(req, jobs);
      only('GET');
      return { status: 200, body: jobs.list() };
    }
    if ((c === 'offers' || c === 'providers') && d === undefined) {
      only('GET');
      return { status: 200, body: c === 'offers' ? jobs.offers() : jobs.providers() };
    }
    if (e !== undefined) throw new HttpError(404, 'not-found', `no route ${url.pathname}`);
    const id = c.toLowerCase();
    if (!HEX32.test(id)) throw new HttpError(400, 'malformed', 'a job id is 32 bytes of hex (64 characters)');
    const missing = (): never => {
      throw new HttpError(404, 'not-found', `no job ${id} submitted through this daemon`);
    };
    if (d === undefined) {
      only('GET');
      const waitMs = parseMs(url.searchParams.get('waitMs'), 'waitMs', API_LIMITS.maxWaitMs, 0);
      if (waitMs > 0 && !jobs.isFinal(id)) await this.waitFor(() => jobs.isFinal(id), waitMs, req, (l) => jobs.onChange(l));
      return { status: 200, body: jobs.get(id) ?? missing() };
    }
    if (d === 'logs') {
      only('GET');
      return { status: 200, body: jobs.output(id) ?? missing() };
    }
    if (d === 'receipt') {
      only('GET');
      return { status: 200, body: jobs.receipt(id) ?? missing() };
    }
    if (d === 'anchor') {
      only('POST');
      req.resume();
      const r = jobs.anchor(id) ?? missing();
      if (!r.ok) throw new HttpError(r.status, r.status === 503 ? 'unavailable' : 'refused', r.reason);
      return { status: 202, body: { token: r.token, block: r.block, status: r.status } };
    }
    if (d === 'cancel') {
      only('POST');
      req.resume();
      return { status: 200, body: jobs.cancel(id) ?? missing() };
    }
    throw new HttpError(404, 'not-found', `no route ${url.pathname}`);
  }

  private async submitJob(req: IncomingMessage, jobs: JobsApi): Promise<{ status: number; body: unknown }> {
    const v = await readJsonBody(req);
    let r;
    try {
      r = await jobs.submit(v);
    } catch (err) {
      if (err instanceof JobRequestError) throw new HttpError(400, 'malformed', err.message, { code: 'job-spec' });
      throw err;
    }
    if (r.ok) return { status: 202, body: { id: r.id, provider: r.provider, state: r.state } };
    const status = r.code === 'refused' ? 409 : 503;
    throw new HttpError(status, r.code === 'refused' ? 'refused' : 'unavailable', r.reason, { code: r.code, ...(r.id === undefined ? {} : { id: r.id }), ...(r.refuse === undefined ? {} : { refuse: r.refuse }) });
  }

  private async submit(req: IncomingMessage): Promise<{ id: string; status: string }> {
    const v = await readJsonBody(req);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'malformed', 'the body must be a JSON object {"block": hex}', { code: 'json' });
    const hex = (v as Record<string, unknown>)['block'];
    if (typeof hex !== 'string' || hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
      throw new HttpError(400, 'malformed', '"block" must be the hex of an encoded signed block', { code: 'hex' });
    }
    const decoded = decodeSignedBlock(new Uint8Array(Buffer.from(hex, 'hex')));
    if (!decoded.ok) throw new HttpError(400, 'malformed', `not a well-formed signed block: ${decoded.code}`, { code: decoded.code });
    const r = this.backend.submit(decoded.signed);
    if (!r.ok) {
      const status = r.error === 'unavailable' ? 503 : 400;
      throw new HttpError(status, r.error, r.reason, { code: r.code, ...(r.id === undefined ? {} : { id: r.id }) });
    }
    return { id: r.id, status: r.status };
  }

  /** The block's answer, once its status is terminal or `waitMs` passed (at once when 0). */
  private async blockWhenTerminal(id: Uint8Array, waitMs: number, req: IncomingMessage): Promise<BlockAnswer> {
    const b = this.backend;
    const answer = b.block(id);
    if (waitMs === 0 || TERMINAL_STATUSES.has(answer.status)) return answer;
    await this.waitFor(() => TERMINAL_STATUSES.has(b.block(id).status), waitMs, req);
    return b.block(id);
  }

  /** Resolves when `done()` holds (checked on every backend change), after `ms`, on stop, or when the client goes away. */
  private waitFor(done: () => boolean, ms: number, req?: IncomingMessage, subscribe: (l: () => void) => () => void = (l) => this.backend.onChange(l)): Promise<void> {
    if (this.waiters.size >= API_LIMITS.maxWaiters) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        unsubscribe();
        this.waiters.delete(finish);
        req?.socket.off('close', finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      const unsubscribe = subscribe(() => {
        let ok = true;
        try {
          ok = done();
        } catch {
          ok = true;
        }
        if (ok) finish();
      });
      this.waiters.add(finish);
      // A client that disconnects gives its slot back at once.
      req?.socket.once('close', finish);
    });
  }
}

/** The request body as JSON (≤ `API_LIMITS.maxBodyBytes`); 400 when it does not parse. */
async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req, API_LIMITS.maxBodyBytes);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'malformed', 'the body is not valid JSON', { code: 'json' });
  }
}

/** Reads a request body up to `max` bytes; 413 beyond (the rest is discarded, not buffered). */
function readBody(req: IncomingMessage, max: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > max) {
    req.resume();
    return Promise.reject(new HttpError(413, 'too-large', `the body is over ${max} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      n += c.length;
      if (n > max) {
        over = true;
        chunks.length = 0;
        reject(new HttpError(413, 'too-large', `the body is over ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      if (!over) reject(new HttpError(400, 'malformed', `request body: ${err.message}`));
    });
  });
}
