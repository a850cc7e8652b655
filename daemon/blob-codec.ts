/**
 * A minimal MessageCodec of opaque byte messages: `{ kind, bytes }`. It shows the shape the
 * protocol codecs plug into, and it is what the transport tests and `bench/transport.ts` run
 * with until those codecs land. Decoding copies the body (the endpoint reuses its buffer).
 */
import type { CodecDecodeResult, MessageCodec } from '../wire/frame.js';

export interface BlobMessage {
  /** 1..255 */
  readonly kind: number;
  readonly bytes: Uint8Array;
}

export interface BlobCodecOptions {
  /** Kinds that may be packed with others (default: none). */
  readonly packable?: readonly number[];
  /** Kinds refused with REJECT on decode (tests of the reject path). */
  readonly rejectKinds?: readonly number[];
  /** Largest accepted body (default: anything that fits a frame). */
  readonly maxBody?: number;
}

export function blobCodec(opts: BlobCodecOptions = {}): MessageCodec<BlobMessage> {
  const packable = new Set(opts.packable ?? []);
  const reject = new Set(opts.rejectKinds ?? []);
  const maxBody = opts.maxBody ?? Number.MAX_SAFE_INTEGER;
  return {
    decode(kind, body): CodecDecodeResult<BlobMessage> {
      if (reject.has(kind)) return { ok: false, code: 'refused_kind', consequence: 'REJECT' };
      if (body.length > maxBody) return { ok: false, code: 'too_long', consequence: 'REJECT' };
      return { ok: true, message: { kind, bytes: Uint8Array.prototype.slice.call(body) } };
    },
    kindOf: (m) => m.kind,
    bodySize: (m) => m.bytes.length,
    encodeBody(m, out) {
      out.set(m.bytes);
    },
    packable: (kind) => packable.has(kind),
  };
}
