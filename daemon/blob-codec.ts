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

/**
 * Message bodies are copied into views of shared 64 KiB slabs rather than one ArrayBuffer each:
 * a fresh ArrayBuffer per message (`slice`) is a zero-filled off-heap allocation the GC must
 * track, which on the receive path cost more than the copy itself. Like Node's Buffer pool, a
 * slab is not zero-filled (`allocUnsafeSlow`; every byte a view covers is written before it is
 * handed out) and a kept message keeps its slab alive. Bodies over 4 KiB (never from a frame)
 * get their own buffer.
 */
const SLAB_BYTES = 64 * 1024;
const SLAB_MAX_BODY = 4 * 1024;
const newSlab = (): ArrayBuffer => Buffer.allocUnsafeSlow(SLAB_BYTES).buffer as ArrayBuffer;
let slab = newSlab();
let slabOffset = 0;

function copyBody(body: Uint8Array): Uint8Array {
  const n = body.length;
  if (n > SLAB_MAX_BODY) return Uint8Array.prototype.slice.call(body);
  if (slabOffset + n > SLAB_BYTES) {
    slab = newSlab();
    slabOffset = 0;
  }
  const out = new Uint8Array(slab, slabOffset, n);
  out.set(body);
  slabOffset = (slabOffset + n + 7) & ~7;
  return out;
}

export function blobCodec(opts: BlobCodecOptions = {}): MessageCodec<BlobMessage> {
  const packable = new Set(opts.packable ?? []);
  const reject = new Set(opts.rejectKinds ?? []);
  const maxBody = opts.maxBody ?? Number.MAX_SAFE_INTEGER;
  return {
    decode(kind, body): CodecDecodeResult<BlobMessage> {
      if (reject.has(kind)) return { ok: false, code: 'refused_kind', consequence: 'REJECT' };
      if (body.length > maxBody) return { ok: false, code: 'too_long', consequence: 'REJECT' };
      return { ok: true, message: { kind, bytes: copyBody(body) } };
    },
    kindOf: (m) => m.kind,
    bodySize: (m) => m.bytes.length,
    encodeBody(m, out) {
      out.set(m.bytes);
    },
    packable: (kind) => packable.has(kind),
  };
}
