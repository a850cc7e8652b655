/**
 * A job receipt as a file (`ecd job receipt ID --out F`, checked offline by `ecd job verify`):
 *
 *   offset  size  field
 *        0     4  magic "ECRC"
 *        4     1  version = 1
 *        5     8  network id (the receipt's signature is bound to it)
 *       13     2  receipt body length n
 *       15     n  JOB_RECEIPT body (wire/msg-jobs.ts), signature included
 *
 * Decoding never throws; the signature is the caller's check.
 */
import { decodeBody, encodeBody } from './messages.js';
import { KIND_JOB_RECEIPT, type JobReceiptMessage } from './msg-jobs.js';

export const RECEIPT_FILE_MAGIC = new Uint8Array([0x45, 0x43, 0x52, 0x43]); // "ECRC"
const HEADER = 15;
const MAX_BODY = 1_024;

export function encodeReceiptFile(networkId: bigint, receipt: JobReceiptMessage): Uint8Array {
  const body = encodeBody(receipt);
  const out = new Uint8Array(HEADER + body.length);
  out.set(RECEIPT_FILE_MAGIC, 0);
  out[4] = 1;
  const v = new DataView(out.buffer);
  v.setBigUint64(5, networkId);
  v.setUint16(13, body.length);
  out.set(body, HEADER);
  return out;
}

export function decodeReceiptFile(bytes: Uint8Array): { ok: true; networkId: bigint; receipt: JobReceiptMessage } | { ok: false; reason: string } {
  if (bytes.length < HEADER || !RECEIPT_FILE_MAGIC.every((b, i) => bytes[i] === b)) return { ok: false, reason: 'not an ecd receipt file (bad magic)' };
  if (bytes[4] !== 1) return { ok: false, reason: `unsupported receipt file version ${bytes[4]}` };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = v.getUint16(13);
  if (n > MAX_BODY || HEADER + n !== bytes.length) return { ok: false, reason: `the receipt body is ${n} bytes in a ${bytes.length}-byte file` };
  const d = decodeBody(KIND_JOB_RECEIPT, bytes.subarray(HEADER));
  if (!d.ok || d.message.type !== 'job-receipt') return { ok: false, reason: `malformed receipt (${d.ok ? 'wrong kind' : `${d.field}: ${d.code}`})` };
  return { ok: true, networkId: v.getBigUint64(5), receipt: d.message };
}
