/**
 * The wire protocol's message codec: every message type of PROTOCOL §5, §7, §9 and §10 behind the
 * frame layer's `MessageCodec` seam (wire/frame.ts). Plug it into `FrameEndpoint` as
 * `{ codec: wireCodec() }`; the endpoint owns frame kind 0 (packing), this codec kinds 1..255.
 *
 * - `decode` never throws. An unknown kind or body version is IGNOREd (a newer peer is not at
 *   fault); any other malformed body is REJECTed (the authenticated sender wrote it).
 * - `bodySize` returns the exact size, or −1 for a message that cannot be encoded (a cap broken,
 *   a malformed field, larger than a frame), which the endpoint counts as `bad_message` and drops.
 * - `packable` is true for the kinds that may share a frame (docs/wire.md → "Packing"): the small
 *   ones and the block-carrying INITIAL_VOTE and BLOCK; the packer fills frames up to 1 370 B.
 *
 * Layouts, caps and vectors: wire/messages.ts, wire/msg-*.ts, docs/wire.md → "Messages".
 */
import type { CodecDecodeResult, MessageCodec } from './frame.js';
import { LAYOUTS, bodySize, decodeBody, encodeBodyInto, isPackableKind, kindOfType } from './messages.js';
import type { WireMessage, WireMessageType } from './messages.js';

export type { WireMessage, WireMessageType, WireDecodeResult, WireDecodeCode } from './messages.js';
export { WireEncodeError, encodedSize, encodeMessage, decodeMessage, checkMessage, MAX_MESSAGE_BYTES } from './messages.js';

export function wireCodec(): MessageCodec<WireMessage> {
  return {
    decode(kind: number, body: Uint8Array): CodecDecodeResult<WireMessage> {
      return decodeBody(kind, body);
    },
    /** 0 (refused by the endpoint as `bad_message`) for a value that is no known message. */
    kindOf(m: WireMessage): number {
      const type: unknown = (m as { type?: unknown } | null)?.type;
      return typeof type === 'string' && Object.hasOwn(LAYOUTS, type) ? kindOfType(type as WireMessageType) : 0;
    },
    bodySize,
    encodeBody: encodeBodyInto,
    packable: isPackableKind,
  };
}
