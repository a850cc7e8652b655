/**
 * Peer identity (PROTOCOL §2): the binary record, its proof of work, address, signature,
 * verification and the difficulty schedule. Pure: the clock (`now`, unix seconds) and every crypto
 * kernel come in as parameters; nothing here reads time, randomness or files.
 *
 * Identity record, version 1 — 130 bytes, all integers big-endian:
 *
 *   offset size field
 *        0    1 version        = 1
 *        1    8 network id     u64; must equal the verifier's profile
 *        9   32 public key     Ed25519
 *       41   16 nonce          chosen by the miner
 *       57    8 time           u64 unix seconds, fixed when mining starts (it is in the salt)
 *       65    1 difficulty d   claimed trailing zero bits of the work
 *       66   64 signature      Ed25519 over "ec/identity/v1" ‖ bytes[0..66)
 *
 * The signed message is the domain tag followed by every field before the signature; the network
 * id is one of those fields, so a signature never transfers between networks or purposes.
 *
 *   s16     = BLAKE3("ec/id-salt/v1" ‖ nonce[16] ‖ time_be64 ‖ network_id_be64)[0..16]
 *   work    = Argon2id v1.3(password = pk, salt = s16, profile m/t/p, 32-byte tag)
 *   valid   ⇔ work, read as a big-endian integer, has ≥ d trailing zero bits
 *   address = BLAKE3("ec/addr/v1" ‖ work)
 *
 * Times above 2^53 − 1 s do not fit a JS number exactly; the decoder rejects them as malformed
 * (no such record could pass the clock check anyway).
 */
import type { Argon2idEngine, Argon2idRequest, Blake3Kernel, Ed25519Kernel } from '../kernels/types.js';
import type { NetworkProfile } from './profiles.js';

export const IDENTITY_VERSION = 1;

export const IDENTITY_OFFSETS = {
  version: 0,
  networkId: 1,
  publicKey: 9,
  nonce: 41,
  time: 57,
  difficulty: 65,
  signature: 66,
} as const;

export const IDENTITY_SIZES = {
  version: 1,
  networkId: 8,
  publicKey: 32,
  nonce: 16,
  time: 8,
  difficulty: 1,
  signature: 64,
  /** Everything the signature covers (after the domain tag). */
  signedBody: 66,
  record: 130,
  salt: 16,
  work: 32,
  address: 32,
} as const;

const utf8 = new TextEncoder();
export const DOMAIN_ID_SALT = utf8.encode('ec/id-salt/v1');
export const DOMAIN_ADDRESS = utf8.encode('ec/addr/v1');
export const DOMAIN_IDENTITY_SIG = utf8.encode('ec/identity/v1');

export const MAX_DIFFICULTY = 255;

export interface UnsignedIdentity {
  readonly version: number;
  readonly networkId: bigint;
  readonly publicKey: Uint8Array;
  readonly nonce: Uint8Array;
  /** Unix seconds. */
  readonly time: number;
  readonly difficulty: number;
}

export interface IdentityRecord extends UnsignedIdentity {
  readonly signature: Uint8Array;
}

export type DecodeIdentityResult = { readonly ok: true; readonly record: IdentityRecord } | { readonly ok: false; readonly reason: string };

const U64_MAX = (1n << 64n) - 1n;

/** null when the fields can be encoded, else why not. */
export function identityFieldProblem(r: UnsignedIdentity & { readonly signature?: Uint8Array }): string | null {
  const S = IDENTITY_SIZES;
  if (r.version !== IDENTITY_VERSION) return `unsupported version ${String(r.version)}`;
  if (typeof r.networkId !== 'bigint' || r.networkId < 0n || r.networkId > U64_MAX) return 'network id must be a u64';
  if (!(r.publicKey instanceof Uint8Array) || r.publicKey.length !== S.publicKey) return `public key must be ${S.publicKey} bytes`;
  if (!(r.nonce instanceof Uint8Array) || r.nonce.length !== S.nonce) return `nonce must be ${S.nonce} bytes`;
  if (!Number.isSafeInteger(r.time) || r.time < 0) return 'time must be a non-negative integer below 2^53';
  if (!Number.isInteger(r.difficulty) || r.difficulty < 0 || r.difficulty > MAX_DIFFICULTY) return `difficulty must be in 0..${MAX_DIFFICULTY}`;
  if (r.signature !== undefined && (!(r.signature instanceof Uint8Array) || r.signature.length !== S.signature)) {
    return `signature must be ${S.signature} bytes`;
  }
  return null;
}

function writeBody(out: Uint8Array, r: UnsignedIdentity, at: number): void {
  const O = IDENTITY_OFFSETS;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[at + O.version] = r.version;
  view.setBigUint64(at + O.networkId, r.networkId, false);
  out.set(r.publicKey, at + O.publicKey);
  out.set(r.nonce, at + O.nonce);
  view.setBigUint64(at + O.time, BigInt(r.time), false);
  out[at + O.difficulty] = r.difficulty;
}

/** The 130-byte record. Throws RangeError on fields that do not fit (a caller bug, not input). */
export function encodeIdentity(r: IdentityRecord): Uint8Array {
  const problem = identityFieldProblem(r);
  if (problem !== null) throw new RangeError(`cannot encode identity: ${problem}`);
  const out = new Uint8Array(IDENTITY_SIZES.record);
  writeBody(out, r, 0);
  out.set(r.signature, IDENTITY_OFFSETS.signature);
  return out;
}

/** Parses exactly one record; never throws. */
export function decodeIdentity(bytes: Uint8Array): DecodeIdentityResult {
  const S = IDENTITY_SIZES;
  const O = IDENTITY_OFFSETS;
  if (!(bytes instanceof Uint8Array)) return { ok: false, reason: 'not bytes' };
  if (bytes.length !== S.record) return { ok: false, reason: `record is ${bytes.length} bytes, expected ${S.record}` };
  const version = bytes[O.version]!;
  if (version !== IDENTITY_VERSION) return { ok: false, reason: `unsupported version ${version}` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const time = view.getBigUint64(O.time, false);
  if (time > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: 'time exceeds 2^53 − 1 seconds' };
  const record: IdentityRecord = {
    version,
    networkId: view.getBigUint64(O.networkId, false),
    publicKey: bytes.slice(O.publicKey, O.publicKey + S.publicKey),
    nonce: bytes.slice(O.nonce, O.nonce + S.nonce),
    time: Number(time),
    difficulty: bytes[O.difficulty]!,
    signature: bytes.slice(O.signature, O.signature + S.signature),
  };
  return { ok: true, record };
}

/** "ec/identity/v1" ‖ version ‖ network id ‖ pk ‖ nonce ‖ time ‖ d — what the Ed25519 signature covers. */
export function identitySigningMessage(r: UnsignedIdentity): Uint8Array {
  const problem = identityFieldProblem(r);
  if (problem !== null) throw new RangeError(`cannot sign identity: ${problem}`);
  const tag = DOMAIN_IDENTITY_SIG.length;
  const out = new Uint8Array(tag + IDENTITY_SIZES.signedBody);
  out.set(DOMAIN_IDENTITY_SIG, 0);
  writeBody(out, r, tag);
  return out;
}

/** s16 = BLAKE3("ec/id-salt/v1" ‖ nonce16 ‖ time_be64 ‖ network_id_be64)[0..16]. */
export function identitySalt(blake3: Blake3Kernel, nonce: Uint8Array, time: number, networkId: bigint): Uint8Array {
  if (nonce.length !== IDENTITY_SIZES.nonce) throw new RangeError(`nonce must be ${IDENTITY_SIZES.nonce} bytes`);
  const tag = DOMAIN_ID_SALT.length;
  const input = new Uint8Array(tag + 16 + 8 + 8);
  input.set(DOMAIN_ID_SALT, 0);
  input.set(nonce, tag);
  const view = new DataView(input.buffer);
  view.setBigUint64(tag + 16, BigInt(time), false);
  view.setBigUint64(tag + 24, networkId, false);
  return blake3.hash(input, IDENTITY_SIZES.salt);
}

/** The Argon2id request whose 32-byte tag is the identity's work. */
export function identityWorkRequest(profile: Pick<NetworkProfile, 'argon2'>, publicKey: Uint8Array, salt: Uint8Array): Argon2idRequest {
  const { mKiB, t, p } = profile.argon2;
  return { password: publicKey, salt, params: { mKiB, t, p, outLen: IDENTITY_SIZES.work } };
}

/** Trailing zero bits of `work` read as a big-endian integer (the last byte holds the low bits). */
export function trailingZeroBits(work: Uint8Array): number {
  let n = 0;
  for (let i = work.length - 1; i >= 0; i--) {
    const b = work[i]!;
    if (b === 0) {
      n += 8;
      continue;
    }
    return n + (31 - Math.clz32(b & -b));
  }
  return n;
}

/** address = BLAKE3("ec/addr/v1" ‖ work). */
export function addressFromWork(blake3: Blake3Kernel, work: Uint8Array): Uint8Array {
  const input = new Uint8Array(DOMAIN_ADDRESS.length + work.length);
  input.set(DOMAIN_ADDRESS, 0);
  input.set(work, DOMAIN_ADDRESS.length);
  return blake3.hash(input, IDENTITY_SIZES.address);
}

/** Signs the record with the key from `seed` (whose public key must be the record's). */
export function signIdentity(ed25519: Ed25519Kernel, seed: Uint8Array, unsigned: UnsignedIdentity): IdentityRecord {
  const signer = ed25519.signerFromSeed(seed);
  if (!bytesEqual(signer.publicKey, unsigned.publicKey)) throw new RangeError('the seed does not belong to the record’s public key');
  const signature = signer.sign(identitySigningMessage(unsigned));
  return { ...unsigned, signature };
}

// ---------------------------------------------------------------------------------------------
// verification

export type IdentityFailureCode =
  | 'MALFORMED'
  | 'TOO_OLD'
  | 'FROM_FUTURE'
  | 'WRONG_NETWORK'
  | 'INSUFFICIENT_DIFFICULTY'
  | 'BAD_SIGNATURE'
  | 'INSUFFICIENT_WORK'
  /** The verifier could not finish (Argon2 engine failed, queue full, closed): not the peer's fault. */
  | 'ENGINE_ERROR';

/**
 * What a receiver does with a peer that sent an identity failing this way (STYLE §8): REJECT
 * penalises the sender; IGNORE drops quietly because the cause may be on our side (our clock,
 * our difficulty estimate, our engine) or is plain misconfiguration.
 */
export const IDENTITY_FAILURE_CONSEQUENCE: Readonly<Record<IdentityFailureCode, 'IGNORE' | 'REJECT'>> = {
  MALFORMED: 'REJECT',
  TOO_OLD: 'IGNORE',
  FROM_FUTURE: 'IGNORE',
  WRONG_NETWORK: 'IGNORE',
  INSUFFICIENT_DIFFICULTY: 'IGNORE',
  BAD_SIGNATURE: 'REJECT',
  INSUFFICIENT_WORK: 'REJECT',
  ENGINE_ERROR: 'IGNORE',
};

export type IdentityVerifyResult =
  | { readonly ok: true; readonly address: Uint8Array; readonly record: IdentityRecord; readonly work: Uint8Array }
  | { readonly ok: false; readonly code: IdentityFailureCode; readonly reason: string };

export interface IdentityVerifyModules {
  readonly ed25519: Ed25519Kernel;
  readonly blake3: Blake3Kernel;
  readonly argon2: Argon2idEngine;
}

export interface IdentityVerifyOptions {
  readonly profile: NetworkProfile;
  /** Unix seconds. */
  readonly now: number;
  /** Lowest claimed difficulty accepted; default profile.d0 (see minimumAcceptedDifficulty). */
  readonly minDifficulty?: number;
}

const fail = (code: IdentityFailureCode, reason: string): IdentityVerifyResult => ({ ok: false, code, reason });

function describeSpan(seconds: number): string {
  const d = seconds / 86_400;
  if (d >= 2) return `${Math.floor(d)} days`;
  const h = seconds / 3600;
  if (h >= 2) return `${Math.floor(h)} h`;
  return `${Math.floor(seconds)} s`;
}

/**
 * Checks an identity, cheapest test first: malformed → too old / from the future → wrong network →
 * claimed difficulty below `minDifficulty` → signature → Argon2id recomputed with its trailing
 * zeros. Never throws; an engine failure is ENGINE_ERROR.
 */
export async function verifyIdentity(
  modules: IdentityVerifyModules,
  input: Uint8Array | IdentityRecord,
  options: IdentityVerifyOptions,
): Promise<IdentityVerifyResult> {
  const { profile, now } = options;
  let record: IdentityRecord;
  try {
    if (input instanceof Uint8Array) {
      const decoded = decodeIdentity(input);
      if (!decoded.ok) return fail('MALFORMED', `malformed: ${decoded.reason}`);
      record = decoded.record;
    } else {
      const problem = identityFieldProblem(input);
      if (problem !== null) return fail('MALFORMED', `malformed: ${problem}`);
      if (input.signature === undefined) return fail('MALFORMED', 'malformed: no signature');
      record = input;
    }
  } catch (err) {
    return fail('MALFORMED', `malformed: ${String((err as Error)?.message ?? err)}`);
  }

  const age = now - record.time;
  if (age > profile.identityMaxAgeS) {
    return fail('TOO_OLD', `too old: identity time is ${describeSpan(age)} in the past (limit ${describeSpan(profile.identityMaxAgeS)})`);
  }
  if (-age > profile.identityMaxFutureS) {
    return fail('FROM_FUTURE', `from the future: identity time is ${describeSpan(-age)} ahead (limit ${describeSpan(profile.identityMaxFutureS)})`);
  }
  if (record.networkId !== profile.networkId) {
    return fail('WRONG_NETWORK', `wrong network: identity is for network ${record.networkId}, expected ${profile.networkId} (${profile.name})`);
  }
  const minDifficulty = options.minDifficulty ?? profile.d0;
  if (record.difficulty < minDifficulty) {
    return fail('INSUFFICIENT_DIFFICULTY', `insufficient difficulty: identity claims d = ${record.difficulty}, at least ${minDifficulty} required`);
  }

  try {
    if (!modules.ed25519.verify(record.signature, identitySigningMessage(record), record.publicKey)) {
      return fail('BAD_SIGNATURE', 'bad signature: the Ed25519 signature does not match the record and public key');
    }
  } catch {
    return fail('BAD_SIGNATURE', 'bad signature: the Ed25519 signature does not verify');
  }

  let work: Uint8Array;
  let address: Uint8Array;
  try {
    const salt = identitySalt(modules.blake3, record.nonce, record.time, record.networkId);
    work = await modules.argon2.hash(identityWorkRequest(profile, record.publicKey, salt));
    address = addressFromWork(modules.blake3, work);
  } catch (err) {
    return fail('ENGINE_ERROR', `engine error: Argon2id could not be computed (${String((err as Error)?.message ?? err)})`);
  }
  const zeros = trailingZeroBits(work);
  if (zeros < record.difficulty) {
    return fail('INSUFFICIENT_WORK', `insufficient work: the work has ${zeros} trailing zero bits, the identity claims ${record.difficulty}`);
  }
  return { ok: true, address, record, work };
}

/** The work and address of a record regardless of validity (for display). */
export async function identityWork(
  modules: Omit<IdentityVerifyModules, 'ed25519'>,
  record: UnsignedIdentity,
  profile: Pick<NetworkProfile, 'argon2'>,
): Promise<{ readonly work: Uint8Array; readonly address: Uint8Array; readonly zeros: number }> {
  const salt = identitySalt(modules.blake3, record.nonce, record.time, record.networkId);
  const work = await modules.argon2.hash(identityWorkRequest(profile, record.publicKey, salt));
  return { work, address: addressFromWork(modules.blake3, work), zeros: trailingZeroBits(work) };
}

// ---------------------------------------------------------------------------------------------
// difficulty schedule (seed §5.2) and grace rule

/**
 * d = d0 + floor(log10(nEst / n0)), never below d0, at most MAX_DIFFICULTY. Computed with exact
 * comparisons (n0·10^k ≤ nEst) instead of floating log10, so powers of ten land on the right step.
 */
export function difficultyForEstimate(profile: Pick<NetworkProfile, 'd0' | 'n0'>, nEst: number): number {
  const { d0, n0 } = profile;
  if (!Number.isFinite(nEst) || !(nEst >= n0 * 10)) return d0;
  let d = d0;
  let threshold = n0 * 10;
  while (threshold <= nEst && d < MAX_DIFFICULTY) {
    d++;
    threshold *= 10;
  }
  return d;
}

/** A node's own view of the required difficulty, with when it last rose (for the grace rule). */
export interface DifficultyState {
  readonly required: number;
  /** Unix seconds of the last rise, or null when it has not risen since the last fall/start. */
  readonly raisedAt: number | null;
}

export function initialDifficultyState(profile: Pick<NetworkProfile, 'd0'>): DifficultyState {
  return { required: profile.d0, raisedAt: null };
}

/** Feeds a new network-size estimate; a rise starts (or restarts) the grace period, a fall ends it. */
export function updateDifficulty(
  state: DifficultyState,
  profile: Pick<NetworkProfile, 'd0' | 'n0'>,
  nEst: number,
  now: number,
): DifficultyState {
  const next = difficultyForEstimate(profile, nEst);
  if (next > state.required) return { required: next, raisedAt: now };
  if (next < state.required) return { required: next, raisedAt: null };
  return state;
}

/** The lowest claimed d accepted now: required − 1 within the grace period after a rise (never below d0). */
export function minimumAcceptedDifficulty(
  state: DifficultyState,
  profile: Pick<NetworkProfile, 'd0' | 'difficultyGraceS'>,
  now: number,
): number {
  if (state.raisedAt !== null && now - state.raisedAt < profile.difficultyGraceS) {
    return Math.max(profile.d0, state.required - 1);
  }
  return state.required;
}

// ---------------------------------------------------------------------------------------------

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
