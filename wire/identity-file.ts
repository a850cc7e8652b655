/**
 * JSON file forms for the CLI: the identity file (public record fields in hex, plus the owner's
 * secret seed) and the bare key file written by `ecd keygen`. Parsers never throw; they return a
 * typed result with a one-line reason.
 *
 * Identity file, version 1:
 *   {
 *     "type": "ecd-identity", "version": 1,
 *     "profile": "devnet",            informational; the network id is what is signed
 *     "network_id": 3,                 a JSON number, or a decimal string for ids above 2^53
 *     "public_key": hex32, "nonce": hex16, "time": unix seconds, "difficulty": d,
 *     "signature": hex64,
 *     "address": hex32,                informational; verification recomputes it
 *     "secret_seed": hex32             only in the owner's file; never printed by `identity show`
 *   }
 */
import type { Ed25519Kernel } from '../kernels/types.js';
import { IDENTITY_SIZES, IDENTITY_VERSION, identityFieldProblem, type IdentityRecord } from './identity.js';

export const IDENTITY_FILE_TYPE = 'ecd-identity';
export const KEY_FILE_TYPE = 'ecd-ed25519-key';
export const FILE_FORMAT_VERSION = 1;
/** Files larger than this are not identity or key files; refuse before parsing. */
export const MAX_JSON_FILE_BYTES = 64 * 1024;

export interface IdentityFile {
  readonly record: IdentityRecord;
  readonly profile: string | null;
  readonly address: Uint8Array | null;
  readonly secretSeed: Uint8Array | null;
}

export interface KeyFile {
  readonly publicKey: Uint8Array;
  readonly secretSeed: Uint8Array;
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Exactly `len` bytes of lowercase or uppercase hex, else null. */
export function fromHex(s: unknown, len: number): Uint8Array | null {
  if (typeof s !== 'string' || s.length !== len * 2 || !/^[0-9a-fA-F]*$/.test(s)) return null;
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function networkIdToJson(id: bigint): number | string {
  return id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id.toString(10);
}

function networkIdFromJson(v: unknown): bigint | null {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^[0-9]{1,20}$/.test(v)) {
    const id = BigInt(v);
    return id < 1n << 64n ? id : null;
  }
  return null;
}

export interface IdentityFileFields {
  readonly profile: string;
  readonly address?: Uint8Array;
  readonly secretSeed?: Uint8Array;
}

/** The public part of an identity as a plain JSON object (no secret). */
export function identityPublicJson(record: IdentityRecord, profile: string | null, address: Uint8Array | null): Record<string, unknown> {
  return {
    type: IDENTITY_FILE_TYPE,
    version: FILE_FORMAT_VERSION,
    profile,
    network_id: networkIdToJson(record.networkId),
    public_key: toHex(record.publicKey),
    nonce: toHex(record.nonce),
    time: record.time,
    difficulty: record.difficulty,
    signature: toHex(record.signature),
    ...(address === null ? {} : { address: toHex(address) }),
  };
}

export function identityFileText(record: IdentityRecord, fields: IdentityFileFields): string {
  const obj = {
    ...identityPublicJson(record, fields.profile, fields.address ?? null),
    ...(fields.secretSeed === undefined ? {} : { secret_seed: toHex(fields.secretSeed) }),
  };
  return `${JSON.stringify(obj, null, 2)}\n`;
}

function parseJsonObject(text: string): ParseResult<Record<string, unknown>> {
  if (text.length > MAX_JSON_FILE_BYTES) return { ok: false, reason: `file is larger than ${MAX_JSON_FILE_BYTES} bytes` };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'not a JSON object' };
  return { ok: true, value: v as Record<string, unknown> };
}

export function parseIdentityFile(text: string): ParseResult<IdentityFile> {
  const parsed = parseJsonObject(text);
  if (!parsed.ok) return parsed;
  const o = parsed.value;
  const S = IDENTITY_SIZES;
  if (o['type'] !== IDENTITY_FILE_TYPE) return { ok: false, reason: `"type" is not "${IDENTITY_FILE_TYPE}"` };
  if (o['version'] !== IDENTITY_VERSION) return { ok: false, reason: `unsupported version ${JSON.stringify(o['version'])}` };
  const networkId = networkIdFromJson(o['network_id']);
  if (networkId === null) return { ok: false, reason: '"network_id" must be a u64' };
  const publicKey = fromHex(o['public_key'], S.publicKey);
  if (publicKey === null) return { ok: false, reason: `"public_key" must be ${S.publicKey} bytes of hex` };
  const nonce = fromHex(o['nonce'], S.nonce);
  if (nonce === null) return { ok: false, reason: `"nonce" must be ${S.nonce} bytes of hex` };
  const signature = fromHex(o['signature'], S.signature);
  if (signature === null) return { ok: false, reason: `"signature" must be ${S.signature} bytes of hex` };
  const time = o['time'];
  const difficulty = o['difficulty'];
  if (typeof time !== 'number') return { ok: false, reason: '"time" must be a number of unix seconds' };
  if (typeof difficulty !== 'number') return { ok: false, reason: '"difficulty" must be a number' };
  const record: IdentityRecord = { version: IDENTITY_VERSION, networkId, publicKey, nonce, time, difficulty, signature };
  const problem = identityFieldProblem(record);
  if (problem !== null) return { ok: false, reason: problem };

  const profile = o['profile'];
  if (profile !== undefined && profile !== null && typeof profile !== 'string') return { ok: false, reason: '"profile" must be a string' };
  let address: Uint8Array | null = null;
  if (o['address'] !== undefined) {
    address = fromHex(o['address'], S.address);
    if (address === null) return { ok: false, reason: `"address" must be ${S.address} bytes of hex` };
  }
  let secretSeed: Uint8Array | null = null;
  if (o['secret_seed'] !== undefined) {
    secretSeed = fromHex(o['secret_seed'], 32);
    if (secretSeed === null) return { ok: false, reason: '"secret_seed" must be 32 bytes of hex' };
  }
  return { ok: true, value: { record, profile: typeof profile === 'string' ? profile : null, address, secretSeed } };
}

export function keyFileText(key: KeyFile): string {
  const obj = {
    type: KEY_FILE_TYPE,
    version: FILE_FORMAT_VERSION,
    public_key: toHex(key.publicKey),
    secret_seed: toHex(key.secretSeed),
  };
  return `${JSON.stringify(obj, null, 2)}\n`;
}

/**
 * A key file, or an identity file that carries its secret seed (so `--key id.json` reuses a key).
 * The caller checks that the public key matches the seed (it needs an Ed25519 kernel).
 */
export function parseKeyFile(text: string): ParseResult<KeyFile> {
  const parsed = parseJsonObject(text);
  if (!parsed.ok) return parsed;
  const o = parsed.value;
  if (o['type'] !== KEY_FILE_TYPE && o['type'] !== IDENTITY_FILE_TYPE) {
    return { ok: false, reason: `"type" is not "${KEY_FILE_TYPE}"` };
  }
  const publicKey = fromHex(o['public_key'], 32);
  if (publicKey === null) return { ok: false, reason: '"public_key" must be 32 bytes of hex' };
  const secretSeed = fromHex(o['secret_seed'], 32);
  if (secretSeed === null) return { ok: false, reason: 'no "secret_seed" (32 bytes of hex) in the file' };
  return { ok: true, value: { publicKey, secretSeed } };
}

export type FileFieldCode = 'ADDRESS_MISMATCH' | 'SEED_MISMATCH' | 'PROFILE_MISMATCH';

/**
 * What a verified record's file states beyond the record, checked: the `address` must be the one
 * the work gives, the `secret_seed` must be the key of `public_key`, and a named profile must be
 * of the record's network. Null when every stated field holds.
 */
export function identityFileProblem(
  ed25519: Pick<Ed25519Kernel, 'signerFromSeed'>,
  file: IdentityFile,
  address: Uint8Array,
  profileNetworkId: bigint | undefined,
): { readonly code: FileFieldCode; readonly reason: string } | null {
  if (file.address !== null && !bytesEqual(file.address, address)) {
    return { code: 'ADDRESS_MISMATCH', reason: `the file's "address" ${toHex(file.address)} is not the identity's address ${toHex(address)}` };
  }
  if (file.secretSeed !== null && !bytesEqual(ed25519.signerFromSeed(file.secretSeed).publicKey, file.record.publicKey)) {
    return { code: 'SEED_MISMATCH', reason: 'the file\'s "secret_seed" is not the key of its "public_key"' };
  }
  if (profileNetworkId !== undefined && profileNetworkId !== file.record.networkId) {
    return { code: 'PROFILE_MISMATCH', reason: `the file names profile ${JSON.stringify(file.profile)} (network ${profileNetworkId}), but the record is for network ${file.record.networkId}` };
  }
  return null;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
