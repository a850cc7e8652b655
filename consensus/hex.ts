/**
 * Ids inside the core are lowercase hex strings: they are Map keys, and for equal lengths their
 * string order is the big-endian numeric order the ring and the conflict rule use.
 */
import { Buffer } from 'node:buffer';

export type Hex = string;

export function toHex(bytes: Uint8Array): Hex {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(hex: Hex): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export const ZERO_HEX: Hex = '0'.repeat(64);
