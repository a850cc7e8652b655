/**
 * The encrypted UDP frame of PROTOCOL §3: one datagram = one frame.
 *
 *   offset size field
 *   0      1    version = 1
 *   1      1    flags = 0 (any set bit: drop)
 *   2      32   sender Ed25519 public key
 *   34     8    send time, unix ms, big-endian
 *   42     24   nonce = packet number (u64 BE) ‖ 16 random bytes
 *   66     n    ciphertext of the plaintext (n ≥ 1)
 *   66+n   16   Poly1305 tag
 *
 * The 66-byte header is the AEAD's associated data; the AEAD is XChaCha20-Poly1305 under the
 * pair key of sender and receiver.
 *
 * Plaintext (this layer's choice, docs/wire.md): the first byte is the message *kind*. Kinds
 * 1..255 belong to the message codec. Kind 0 (`KIND_PACK`) is reserved here: it carries several
 * small messages for one receiver in one frame,
 *
 *   0x00 ‖ count u8 (2..MAX_PACKED_MESSAGES) ‖ count × (length u16 BE ‖ kind ‖ body)
 *
 * where `length` covers kind ‖ body (1..MAX_PLAINTEXT−4) and a packed kind is never 0.
 *
 * Everything here is pure: no sockets, no clock, no randomness. Parsing returns typed results
 * and never throws; parsing and opening never copy the datagram (views only).
 */
import type { Blake3Kernel, X25519Kernel, XAead } from '../kernels/types.js';

export const FRAME_VERSION = 1;
/** No flag is defined in version 1; a receiver drops any frame with a set bit. */
export const FRAME_KNOWN_FLAGS = 0x00;

export const FRAME_OFFSETS = {
  version: 0,
  flags: 1,
  senderKey: 2,
  sendTime: 34,
  nonce: 42,
  packetNumber: 42,
  nonceRandom: 50,
  ciphertext: 66,
} as const;

export const FRAME_SIZES = {
  version: 1,
  flags: 1,
  senderKey: 32,
  sendTime: 8,
  nonce: 24,
  packetNumber: 8,
  nonceRandom: 16,
  /** The associated data: everything before the ciphertext. */
  header: 66,
  tag: 16,
  /** header + tag: what a frame adds to its plaintext. */
  overhead: 82,
  /** PROTOCOL §3 / §12 max datagram (param; the profile may say otherwise). */
  maxDatagram: 1452,
  /** A plaintext holds at least its kind byte. */
  minPlaintext: 1,
} as const;

/** The smallest datagram that can be a frame: header, a kind byte, tag. */
export const MIN_FRAME_BYTES = FRAME_SIZES.overhead + FRAME_SIZES.minPlaintext; // 83
export const MAX_FRAME_BYTES = FRAME_SIZES.maxDatagram; // 1452
/** The largest plaintext (kind byte included) of a max-size frame: 1 370 bytes. */
export const MAX_PLAINTEXT_BYTES = MAX_FRAME_BYTES - FRAME_SIZES.overhead;

/** Plaintext kind reserved by the frame layer for packed messages. */
export const KIND_PACK = 0;
export const PACK_SIZES = {
  /** kind 0 ‖ count */
  header: 2,
  /** per packed message: u16 length */
  itemLength: 2,
} as const;
/** At most this many messages in one packed frame (param; caps per-frame work). */
export const MAX_PACKED_MESSAGES = 64;

/** Domain separation of the pair key (PROTOCOL §3). */
export const PAIR_KEY_CONTEXT = 'ec frame key v1';
export const PAIR_KEY_BYTES = 32;

const TWO_32 = 0x1_0000_0000;

// ---------------------------------------------------------------------------------------------
// Big-endian u64 as a JS number. Values above 2^53 lose precision, which is harmless where they
// are used: a send time that large is far outside any clock window, and the replay filter refuses
// packet numbers above Number.MAX_SAFE_INTEGER.

export function readU64BE(b: Uint8Array, off: number): number {
  const hi = ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
  const lo = ((b[off + 4]! << 24) | (b[off + 5]! << 16) | (b[off + 6]! << 8) | b[off + 7]!) >>> 0;
  return hi * TWO_32 + lo;
}

/** Writes a non-negative safe integer as u64 BE. */
export function writeU64BE(b: Uint8Array, off: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError('u64 field must be a non-negative safe integer');
  const hi = Math.floor(v / TWO_32);
  const lo = v >>> 0;
  b[off] = hi >>> 24;
  b[off + 1] = hi >>> 16;
  b[off + 2] = hi >>> 8;
  b[off + 3] = hi;
  b[off + 4] = lo >>> 24;
  b[off + 5] = lo >>> 16;
  b[off + 6] = lo >>> 8;
  b[off + 7] = lo;
}

export function writeU64BEBig(b: Uint8Array, off: number, v: bigint): void {
  if (v < 0n || v >= 1n << 64n) throw new RangeError('u64 out of range');
  for (let i = 7; i >= 0; i--) {
    b[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

// ---------------------------------------------------------------------------------------------
// Header parsing.

export type FrameFormatCode = 'too_short' | 'too_long' | 'version' | 'flags';

/** Views into the datagram (no copies). Valid only as long as the datagram is. */
export interface FrameHeader {
  readonly senderKey: Uint8Array;
  readonly sendTimeMs: number;
  readonly packetNumber: number;
  readonly nonce: Uint8Array;
  /** The associated data: datagram[0..66). */
  readonly ad: Uint8Array;
  /** ciphertext ‖ tag. */
  readonly sealed: Uint8Array;
  /** Length of the plaintext this frame opens to. */
  readonly plaintextLength: number;
}

export type ParseHeaderResult =
  | { readonly ok: true; readonly header: FrameHeader }
  | { readonly ok: false; readonly code: FrameFormatCode };

/**
 * Step 1 of the receive order: length, version and flags, in that order. The one check every
 * datagram gets, so it is cheap and allocation-free on failure. Never throws.
 */
export function checkFrameFormat(datagram: Uint8Array, maxDatagram: number = MAX_FRAME_BYTES): FrameFormatCode | null {
  const n = datagram.length;
  if (n < MIN_FRAME_BYTES) return 'too_short';
  if (n > maxDatagram) return 'too_long';
  if (datagram[FRAME_OFFSETS.version] !== FRAME_VERSION) return 'version';
  if ((datagram[FRAME_OFFSETS.flags]! & ~FRAME_KNOWN_FLAGS) !== 0) return 'flags';
  return null;
}

/** Format check plus typed views of every header field. Never throws; never copies. */
export function parseHeader(datagram: Uint8Array, maxDatagram: number = MAX_FRAME_BYTES): ParseHeaderResult {
  if (!(datagram instanceof Uint8Array)) return { ok: false, code: 'too_short' };
  const code = checkFrameFormat(datagram, Math.min(maxDatagram, MAX_FRAME_BYTES));
  if (code !== null) return { ok: false, code };
  const o = FRAME_OFFSETS;
  return {
    ok: true,
    header: {
      senderKey: datagram.subarray(o.senderKey, o.senderKey + FRAME_SIZES.senderKey),
      sendTimeMs: readU64BE(datagram, o.sendTime),
      packetNumber: readU64BE(datagram, o.packetNumber),
      nonce: datagram.subarray(o.nonce, o.nonce + FRAME_SIZES.nonce),
      ad: datagram.subarray(0, FRAME_SIZES.header),
      sealed: datagram.subarray(o.ciphertext),
      plaintextLength: datagram.length - FRAME_SIZES.overhead,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Encoding.

export interface FrameFields {
  readonly senderKey: Uint8Array;
  /** Unix ms, a non-negative safe integer. */
  readonly sendTimeMs: number;
  /** A non-negative safe integer. */
  readonly packetNumber: number;
  /** The 16 random bytes of the nonce. */
  readonly nonceRandom: Uint8Array;
}

/** Exact datagram size for a plaintext of `plaintextLength` bytes. */
export function frameSize(plaintextLength: number): number {
  return FRAME_SIZES.overhead + plaintextLength;
}

/** Writes the 66-byte header into out[0..66). Throws RangeError on malformed fields (a programming error). */
export function writeHeader(out: Uint8Array, f: FrameFields): void {
  if (out.length < FRAME_SIZES.header) throw new RangeError('frame buffer shorter than the header');
  if (f.senderKey.length !== FRAME_SIZES.senderKey) throw new RangeError('sender key must be 32 bytes');
  if (f.nonceRandom.length !== FRAME_SIZES.nonceRandom) throw new RangeError('nonce random part must be 16 bytes');
  out[FRAME_OFFSETS.version] = FRAME_VERSION;
  out[FRAME_OFFSETS.flags] = 0;
  out.set(f.senderKey, FRAME_OFFSETS.senderKey);
  writeU64BE(out, FRAME_OFFSETS.sendTime, f.sendTimeMs);
  writeU64BE(out, FRAME_OFFSETS.packetNumber, f.packetNumber);
  out.set(f.nonceRandom, FRAME_OFFSETS.nonceRandom);
}

/**
 * Writes a whole frame into `out` (which must hold at least `frameSize(plaintext.length)` bytes)
 * and returns its length. The AEAD seals straight into the datagram after the header: no copy.
 * `plaintext` must not overlap `out`. Throws RangeError on a programming error (sizes).
 */
export function encodeFrame(aead: XAead, pairKey: Uint8Array, f: FrameFields, plaintext: Uint8Array, out: Uint8Array): number {
  const n = plaintext.length;
  if (n < FRAME_SIZES.minPlaintext || n > MAX_PLAINTEXT_BYTES) throw new RangeError(`plaintext must be 1..${MAX_PLAINTEXT_BYTES} bytes`);
  const len = frameSize(n);
  if (out.length < len) throw new RangeError(`frame buffer must hold ${len} bytes`);
  writeHeader(out, f);
  const ad = out.subarray(0, FRAME_SIZES.header);
  const nonce = out.subarray(FRAME_OFFSETS.nonce, FRAME_OFFSETS.nonce + FRAME_SIZES.nonce);
  aead.sealInto(out.subarray(FRAME_OFFSETS.ciphertext, len), pairKey, nonce, plaintext, ad);
  return len;
}

/**
 * Step 4: opens a parsed frame into `out` (exactly `header.plaintextLength` bytes, typically a
 * view of a reused buffer). False when authentication fails; never throws.
 */
export function openFrame(aead: XAead, pairKey: Uint8Array, header: FrameHeader, out: Uint8Array): boolean {
  if (out.length !== header.plaintextLength) return false;
  try {
    return aead.openInto(out, pairKey, header.nonce, header.sealed, header.ad);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Pair key.

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

export interface PairKeyInputs {
  /** Our X25519 secret (the converted Ed25519 seed). */
  readonly ownX25519Secret: Uint8Array;
  /** Our Ed25519 public key (the sender key we put in frames). */
  readonly ownPublicKey: Uint8Array;
  /** Their Ed25519 public key (the sender key in their frames). */
  readonly theirPublicKey: Uint8Array;
  /** Their X25519 public key (birational map of theirPublicKey). */
  readonly theirX25519: Uint8Array;
  readonly networkId: bigint;
}

/** Bytes of the derive_key material: shared ‖ network_id_be64 ‖ lower_pk ‖ higher_pk. */
export const PAIR_KEY_MATERIAL_BYTES = 32 + 8 + 32 + 32;

/**
 * pair key = BLAKE3.derive_key("ec frame key v1", X25519(own, theirs) ‖ network_id_be64 ‖
 * lower_pk ‖ higher_pk), where lower/higher order the two Ed25519 public keys as big-endian
 * byte strings. Both sides compute the same key. Null when the X25519 result is all-zero (a
 * low-order key) or an input is malformed; never throws.
 */
export function derivePairKey(mods: { readonly x25519: X25519Kernel; readonly blake3: Blake3Kernel }, i: PairKeyInputs): Uint8Array | null {
  if (i.ownPublicKey.length !== 32 || i.theirPublicKey.length !== 32 || i.theirX25519.length !== 32) return null;
  if (i.networkId < 0n || i.networkId >= 1n << 64n) return null;
  let shared: Uint8Array | null;
  try {
    shared = mods.x25519.sharedSecret(i.ownX25519Secret, i.theirX25519);
  } catch {
    return null;
  }
  // The kernels already refuse an all-zero result; the rule is repeated so it never depends on one.
  if (shared === null || shared.length !== 32 || isAllZero(shared)) return null;
  const material = new Uint8Array(PAIR_KEY_MATERIAL_BYTES);
  material.set(shared, 0);
  writeU64BEBig(material, 32, i.networkId);
  const ownFirst = compareBytes(i.ownPublicKey, i.theirPublicKey) <= 0;
  material.set(ownFirst ? i.ownPublicKey : i.theirPublicKey, 40);
  material.set(ownFirst ? i.theirPublicKey : i.ownPublicKey, 72);
  const key = mods.blake3.deriveKey(PAIR_KEY_CONTEXT, material, PAIR_KEY_BYTES);
  material.fill(0);
  shared.fill(0);
  return key;
}

// ---------------------------------------------------------------------------------------------
// The message codec seam. The frame layer owns kind 0 (packing); a codec owns kinds 1..255.

/** IGNORE: drop quietly. REJECT: drop and penalise the (authenticated) sender. */
export type Consequence = 'IGNORE' | 'REJECT';

export type CodecDecodeResult<M> =
  | { readonly ok: true; readonly message: M }
  | { readonly ok: false; readonly code: string; readonly consequence: Consequence };

/**
 * What the frame layer needs from a message codec. `decode` must never throw (the endpoint still
 * catches, and counts a throw as an IGNOREd decode failure) and must check sizes before it
 * allocates. `body` is a view into a buffer the endpoint reuses for the next frame: a decoded
 * message must copy (`slice`) whatever bytes it keeps.
 */
export interface MessageCodec<M> {
  /** Decodes the body of a message of this kind (1..255; the kind byte is not part of `body`). */
  decode(kind: number, body: Uint8Array): CodecDecodeResult<M>;
  /** The kind byte of a message (1..255). */
  kindOf(message: M): number;
  /** Exact encoded body size, computed before anything is written. */
  bodySize(message: M): number;
  /** Writes the body into `out`, which is exactly bodySize(message) bytes. */
  encodeBody(message: M, out: Uint8Array): void;
  /** May messages of this kind share a frame with other messages to the same receiver? */
  packable(kind: number): boolean;
}

// ---------------------------------------------------------------------------------------------
// Plaintext: kind byte and packing.

export type PackFormatCode = 'empty' | 'pack_count' | 'pack_length' | 'pack_nested' | 'pack_trailing';

/** One message inside a plaintext: its kind and a view of its body. */
export interface PlaintextItem {
  readonly kind: number;
  readonly body: Uint8Array;
}

export type SplitPlaintextResult =
  | { readonly ok: true; readonly items: readonly PlaintextItem[] }
  | { readonly ok: false; readonly code: PackFormatCode };

/**
 * Splits a plaintext into its messages (views, no copies). A non-pack plaintext is one message.
 * A pack is validated completely (count, every length, no nesting, no trailing bytes) before any
 * item is returned. Never throws; allocates at most MAX_PACKED_MESSAGES items.
 */
export function splitPlaintext(p: Uint8Array): SplitPlaintextResult {
  if (p.length < 1) return { ok: false, code: 'empty' };
  const kind = p[0]!;
  if (kind !== KIND_PACK) return { ok: true, items: [{ kind, body: p.subarray(1) }] };
  if (p.length < PACK_SIZES.header) return { ok: false, code: 'pack_count' };
  const count = p[1]!;
  if (count < 2 || count > MAX_PACKED_MESSAGES) return { ok: false, code: 'pack_count' };
  // First pass: structure only.
  let off = PACK_SIZES.header;
  for (let i = 0; i < count; i++) {
    if (off + PACK_SIZES.itemLength + 1 > p.length) return { ok: false, code: 'pack_length' };
    const len = (p[off]! << 8) | p[off + 1]!;
    if (len < 1 || off + PACK_SIZES.itemLength + len > p.length) return { ok: false, code: 'pack_length' };
    if (p[off + PACK_SIZES.itemLength] === KIND_PACK) return { ok: false, code: 'pack_nested' };
    off += PACK_SIZES.itemLength + len;
  }
  if (off !== p.length) return { ok: false, code: 'pack_trailing' };
  const items: PlaintextItem[] = new Array<PlaintextItem>(count);
  off = PACK_SIZES.header;
  for (let i = 0; i < count; i++) {
    const len = (p[off]! << 8) | p[off + 1]!;
    const start = off + PACK_SIZES.itemLength;
    items[i] = { kind: p[start]!, body: p.subarray(start + 1, start + len) };
    off = start + len;
  }
  return { ok: true, items };
}

/** Plaintext size of one unpacked message: kind ‖ body. */
export function singleSize(bodyLength: number): number {
  return 1 + bodyLength;
}

/** Plaintext size of a pack of messages with these body lengths. */
export function packSize(bodyLengths: readonly number[]): number {
  let s = PACK_SIZES.header;
  for (const b of bodyLengths) s += PACK_SIZES.itemLength + 1 + b;
  return s;
}

/** What one more message of `bodyLength` adds to a pack. */
export function packItemSize(bodyLength: number): number {
  return PACK_SIZES.itemLength + 1 + bodyLength;
}
