/**
 * Shared machinery of the message codecs (docs/wire.md → "Messages"): the body version, decode
 * codes with their consequences, a bounds-checked reader and an exact-size writer, and the
 * endpoint (IP + port) sub-layout used by PONG and REFERRAL.
 *
 * Every message body starts with a version byte (`WIRE_MESSAGE_VERSION`); integers are
 * big-endian; every repeated field is preceded by a u32 count that is checked against its cap
 * *and* against the bytes that remain before anything is allocated; byte strings of variable
 * length carry a u16 length checked the same way.
 */
import { MAX_PLAINTEXT_BYTES } from './frame.js';
import type { Consequence } from './frame.js';

export type { Consequence };

/** The first byte of every message body. */
export const WIRE_MESSAGE_VERSION = 1;
/** Largest message body: the 1 370-byte plaintext less its kind byte. */
export const MAX_BODY_BYTES = MAX_PLAINTEXT_BYTES - 1; // 1 369
/** Largest encoded message, kind byte included (PROTOCOL §3). */
export const MAX_MESSAGE_BYTES = MAX_PLAINTEXT_BYTES; // 1 370

export const COUNT_BYTES = 4;
export const LENGTH_BYTES = 2;

/** Sizes shared by many layouts. */
export const FIELD_SIZES = {
  version: 1,
  id: 32,
  hash: 32,
  token: 32,
  address: 32,
  publicKey: 32,
  signature: 64,
  ticket: 16,
  nonce: 16,
  u64: 8,
  u32: 4,
  count: COUNT_BYTES,
  length: LENGTH_BYTES,
} as const;

// ---------------------------------------------------------------------------------------------
// Decode results.

/**
 * Why a message body was refused.
 * - `kind`, `version`: not ours to understand (a newer peer) → IGNORE.
 * - `internal`: our own bug → IGNORE (STYLE §8).
 * - everything else: the authenticated sender wrote bytes no correct encoder writes → REJECT.
 */
export type WireDecodeCode =
  | 'kind'
  | 'version'
  | 'internal'
  | 'short'
  | 'trailing'
  | 'count'
  | 'length'
  | 'field'
  | 'range'
  | 'utf8'
  | 'block'
  | 'identity';

export const WIRE_DECODE_CONSEQUENCE: Readonly<Record<WireDecodeCode, Consequence>> = {
  kind: 'IGNORE',
  version: 'IGNORE',
  internal: 'IGNORE',
  short: 'REJECT',
  trailing: 'REJECT',
  count: 'REJECT',
  length: 'REJECT',
  field: 'REJECT',
  range: 'REJECT',
  utf8: 'REJECT',
  block: 'REJECT',
  identity: 'REJECT',
};

export interface WireDecodeFailure {
  readonly ok: false;
  readonly code: WireDecodeCode;
  readonly consequence: Consequence;
  /** The field being read when decoding failed (for logs, not for programs). */
  readonly field: string;
}

/** Thrown inside a decoder only; the top-level decode turns it into a WireDecodeFailure. */
export class DecodeStop {
  constructor(
    readonly code: WireDecodeCode,
    readonly field: string,
  ) {}
}

export function decodeFailure(code: WireDecodeCode, field: string): WireDecodeFailure {
  return { ok: false, code, consequence: WIRE_DECODE_CONSEQUENCE[code], field };
}

// ---------------------------------------------------------------------------------------------
// Encode errors.

export type WireEncodeCode = 'kind' | 'field' | 'count' | 'length' | 'too_large';

/** A typed message that cannot be encoded: a caller bug, never input from the network. */
export class WireEncodeError extends Error {
  constructor(
    readonly code: WireEncodeCode,
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'WireEncodeError';
  }
}

// ---------------------------------------------------------------------------------------------
// One message type's layout.

/**
 * The layout of one message kind. `size`, `write` and `read` cover the body after its version
 * byte (the dispatcher in wire/messages.ts writes and checks that byte and the end of the body).
 */
export interface LayoutSpec<M> {
  readonly kind: number;
  /** Upper-case protocol name, e.g. `QUERY_TOKEN`. */
  readonly name: string;
  /** May this kind share a frame with other messages (frame kind 0)? */
  readonly packable: boolean;
  /** Largest body of this kind, version byte included (≤ MAX_BODY_BYTES, proven by tests). */
  readonly maxBody: number;
  /** Null when `m` can be encoded; else why not. Never throws. */
  check(m: M): WireEncodeError | null;
  /** Exact bytes after the version byte (valid only for a message `check` accepted). */
  size(m: M): number;
  write(w: Writer, m: M): void;
  /** Reads the fields after the version byte; throws DecodeStop on bad input. */
  read(r: Reader): M;
}

// ---------------------------------------------------------------------------------------------
// Reader.

const TWO_32 = 0x1_0000_0000;

/**
 * A cursor over one message body. Every read checks the remaining length first and throws a
 * `DecodeStop` (caught by the top-level decoder) instead of reading past the end; `bytes` copies,
 * because the body is a view of a buffer the endpoint reuses.
 */
export class Reader {
  private off = 0;
  /**
   * `trace`, when given, hears every field read as (offset, size, field): tools/wire-vectors.ts
   * uses it to print each vector split by field, so the documented layout comes from the code.
   */
  constructor(
    private readonly b: Uint8Array,
    private readonly trace?: (offset: number, size: number, field: string) => void,
  ) {}

  get remaining(): number {
    return this.b.length - this.off;
  }

  get offset(): number {
    return this.off;
  }

  private need(n: number, field: string, parts?: readonly (readonly [string, number])[]): void {
    if (n > this.b.length - this.off) throw new DecodeStop('short', field);
    if (this.trace === undefined) return;
    if (parts === undefined) {
      this.trace(this.off, n, field);
      return;
    }
    let o = this.off;
    for (const [name, size] of parts) {
      this.trace(o, size, `${field}.${name}`);
      o += size;
    }
  }

  /** True when a trace listens (sub-decoders then describe their parts). */
  get tracing(): boolean {
    return this.trace !== undefined;
  }

  u8(field: string): number {
    this.need(1, field);
    return this.b[this.off++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = (this.b[this.off]! << 8) | this.b[this.off + 1]!;
    this.off += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const o = this.off;
    const v = ((this.b[o]! << 24) | (this.b[o + 1]! << 16) | (this.b[o + 2]! << 8) | this.b[o + 3]!) >>> 0;
    this.off += 4;
    return v;
  }

  i32(field: string): number {
    return this.u32(field) | 0;
  }

  /** A u64 that must fit a JS number exactly (≤ 2^53 − 1), else `range`. */
  u64(field: string): number {
    this.need(8, field);
    const o = this.off;
    const hi = ((this.b[o]! << 24) | (this.b[o + 1]! << 16) | (this.b[o + 2]! << 8) | this.b[o + 3]!) >>> 0;
    const lo = ((this.b[o + 4]! << 24) | (this.b[o + 5]! << 16) | (this.b[o + 6]! << 8) | this.b[o + 7]!) >>> 0;
    if (hi > 0x1f_ffff) throw new DecodeStop('range', field);
    this.off += 8;
    return hi * TWO_32 + lo;
  }

  /** n bytes, copied. `parts` (names and sizes) only refine what a trace hears. */
  bytes(n: number, field: string, parts?: readonly (readonly [string, number])[]): Uint8Array {
    this.need(n, field, parts);
    const out = this.b.slice(this.off, this.off + n);
    this.off += n;
    return out;
  }

  /** A view of everything that is left (for a sub-decoder that copies itself). */
  restView(field: string, parts?: (view: Uint8Array) => readonly (readonly [string, number])[]): Uint8Array {
    this.need(this.b.length - this.off, field, parts !== undefined && this.tracing ? parts(this.b.subarray(this.off)) : undefined);
    const out = this.b.subarray(this.off);
    this.off = this.b.length;
    return out;
  }

  /**
   * A u32 count of a repeated field: `count` above `max`, below `min`, or more items than the
   * remaining bytes can hold at `minItemBytes` each, fail before the caller allocates anything.
   */
  count(min: number, max: number, minItemBytes: number, field: string): number {
    const n = this.u32(`${field} count`);
    if (n > max || n < min) throw new DecodeStop('count', field);
    if (n * minItemBytes > this.remaining) throw new DecodeStop('short', field);
    return n;
  }

  /** A u16 length of a byte string, checked against `max` and the remaining bytes. */
  length(max: number, field: string): number {
    const n = this.u16(`${field} length`);
    if (n > max) throw new DecodeStop('length', field);
    if (n > this.remaining) throw new DecodeStop('short', field);
    return n;
  }

  /** A UTF-8 string of u16 length ≤ max bytes. */
  string(max: number, field: string): string {
    const n = this.length(max, field);
    this.need(n, field);
    const view = this.b.subarray(this.off, this.off + n);
    let s: string;
    try {
      s = utf8Decoder.decode(view);
    } catch {
      throw new DecodeStop('utf8', field);
    }
    this.off += n;
    return s;
  }

  /** A byte that must be one of the listed values, else `field`. */
  enumU8<T extends number>(allowed: readonly T[], field: string): T {
    const v = this.u8(field);
    if (!(allowed as readonly number[]).includes(v)) throw new DecodeStop('field', field);
    return v as T;
  }

  /** Flags byte: any bit outside `known` fails. */
  flags(known: number, field: string): number {
    const v = this.u8(field);
    if ((v & ~known) !== 0) throw new DecodeStop('field', field);
    return v;
  }

  end(): void {
    if (this.off !== this.b.length) throw new DecodeStop('trailing', 'end');
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// Writer.

/** Writes into a buffer of exactly the computed size. Callers have validated every field. */
export class Writer {
  private off = 0;
  constructor(private readonly b: Uint8Array) {}

  get offset(): number {
    return this.off;
  }

  u8(v: number): void {
    this.b[this.off++] = v & 0xff;
  }

  u16(v: number): void {
    this.b[this.off++] = (v >>> 8) & 0xff;
    this.b[this.off++] = v & 0xff;
  }

  u32(v: number): void {
    this.b[this.off++] = (v >>> 24) & 0xff;
    this.b[this.off++] = (v >>> 16) & 0xff;
    this.b[this.off++] = (v >>> 8) & 0xff;
    this.b[this.off++] = v & 0xff;
  }

  i32(v: number): void {
    this.u32(v >>> 0);
  }

  u64(v: number): void {
    this.u32(Math.floor(v / TWO_32));
    this.u32(v >>> 0);
  }

  bytes(v: Uint8Array): void {
    this.b.set(v, this.off);
    this.off += v.length;
  }

  string(s: string): void {
    const enc = utf8Encoder.encode(s);
    this.u16(enc.length);
    this.bytes(enc);
  }
}

// ---------------------------------------------------------------------------------------------
// Field checks used by encoders (return a problem or null).

export function isBytes(x: unknown, len: number): x is Uint8Array {
  return x instanceof Uint8Array && x.length === len;
}

export function isU8(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xff;
}

export function isU16(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffff;
}

export function isU32(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffff_ffff;
}

export function isI32(x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= -0x8000_0000 && (x as number) <= 0x7fff_ffff;
}

/** A u64 field held as a JS number: a non-negative safe integer. */
export function isU64(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

/** True for a string without lone surrogates (so its UTF-8 bytes decode back to it). */
export function isWellFormedString(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

export function utf8Length(s: string): number {
  // Exact UTF-8 length of a well-formed string without allocating.
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** A well-formed string of at most `max` UTF-8 bytes; null when fine. */
export function stringProblem(s: unknown, max: number, field: string): WireEncodeError | null {
  if (!isWellFormedString(s)) return new WireEncodeError('field', field, `${field} must be a well-formed string`);
  if (utf8Length(s) > max) return new WireEncodeError('length', field, `${field} exceeds ${max} UTF-8 bytes`);
  return null;
}

export function fieldError(field: string, what: string): WireEncodeError {
  return new WireEncodeError('field', field, `${field} ${what}`);
}

export function countProblem(items: unknown, min: number, max: number, field: string): WireEncodeError | null {
  if (!Array.isArray(items)) return fieldError(field, 'must be an array');
  if (items.length < min || items.length > max) {
    return new WireEncodeError('count', field, `${field} must hold ${min}..${max} items, has ${items.length}`);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Endpoint: an observed or advertised UDP address.
//
//   family u8 (4 | 6) ‖ ip (4 | 16 bytes) ‖ port u16

export interface WireEndpoint {
  readonly family: 4 | 6;
  /** 4 bytes for family 4, 16 for family 6. */
  readonly ip: Uint8Array;
  readonly port: number;
}

export const ENDPOINT_SIZES = {
  family: 1,
  ipv4: 4,
  ipv6: 16,
  port: 2,
  min: 1 + 4 + 2,
  max: 1 + 16 + 2,
} as const;

export function endpointSize(e: WireEndpoint): number {
  return ENDPOINT_SIZES.family + e.ip.length + ENDPOINT_SIZES.port;
}

export function endpointProblem(e: WireEndpoint | undefined, field: string): WireEncodeError | null {
  if (e === null || typeof e !== 'object') return fieldError(field, 'must be an endpoint');
  if (e.family !== 4 && e.family !== 6) return fieldError(`${field}.family`, 'must be 4 or 6');
  if (!isBytes(e.ip, e.family === 4 ? 4 : 16)) return fieldError(`${field}.ip`, 'has the wrong length for its family');
  if (!isU16(e.port)) return fieldError(`${field}.port`, 'must be a u16');
  return null;
}

export function writeEndpoint(w: Writer, e: WireEndpoint): void {
  w.u8(e.family);
  w.bytes(e.ip);
  w.u16(e.port);
}

export function readEndpoint(r: Reader, field: string): WireEndpoint {
  const family = r.enumU8([4, 6] as const, `${field}.family`);
  const ip = r.bytes(family === 4 ? 4 : 16, `${field}.ip`);
  const port = r.u16(`${field}.port`);
  return { family, ip, port };
}

/** Endpoint of a textual IPv4/IPv6 host and a port; null when `host` is not an IP literal. */
export function endpointFromHost(host: string, port: number): WireEndpoint | null {
  if (!isU16(port)) return null;
  const v4 = parseIPv4(host);
  if (v4 !== null) return { family: 4, ip: v4, port };
  const v6 = parseIPv6(host);
  if (v6 !== null) return { family: 6, ip: v6, port };
  return null;
}

/** The textual host of an endpoint (dotted quad, or RFC 5952 compressed IPv6). */
export function endpointHost(e: WireEndpoint): string {
  if (e.family === 4) return Array.from(e.ip).join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((e.ip[i]! << 8) | e.ip[i + 1]!);
  // Longest run (≥ 2) of zero words becomes "::" (first one on ties).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function parseIPv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

function parseIPv6(s: string): Uint8Array | null {
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parseHalf = (h: string): number[] | null => {
    if (h === '') return [];
    const groups = h.split(':');
    const words: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (v4 === null) return null;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        words.push(parseInt(g, 16));
      }
    }
    return words;
  };
  const head = parseHalf(halves[0]!);
  const tail = halves.length === 2 ? parseHalf(halves[1]!) : [];
  if (head === null || tail === null) return null;
  let words: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return null;
    words = [...head, ...new Array<number>(fill).fill(0), ...tail];
  } else {
    words = head;
  }
  if (words.length !== 8) return null;
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >>> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}
