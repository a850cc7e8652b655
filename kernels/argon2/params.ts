/** Validation shared by every Argon2id engine, with the limits this project accepts. */
import type { Argon2idRequest } from '../types.js';

/**
 * Limits (see LIMITS.md): memory is capped by wasm32's 4 GiB address space minus the kernel's
 * 8 KiB of scratch; lengths are the RFC 9106 maxima we are willing to hash in memory.
 */
export const ARGON2_LIMITS = {
  minMKiB: 8,
  maxMKiB: 4 * 1024 * 1024 - 64,
  maxT: 1 << 24,
  maxP: 255,
  minOutLen: 4,
  maxOutLen: 1 << 16,
  minSaltLen: 8,
  maxInputLen: 1 << 20,
} as const;

export type Argon2idErrorCode = 'BAD_PARAMS' | 'UNSUPPORTED' | 'QUEUE_FULL' | 'CLOSED' | 'ENGINE_MISSING';

export class Argon2idError extends Error {
  override readonly name = 'Argon2idError';
  constructor(
    readonly code: Argon2idErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n);

/** null when the request is well-formed for RFC 9106 Argon2id within our limits, else why not. */
export function argon2idRequestProblem(req: Argon2idRequest): string | null {
  const L = ARGON2_LIMITS;
  const { mKiB, t, p, outLen } = req.params;
  if (!isInt(p) || p < 1 || p > L.maxP) return `lanes p must be an integer in 1..${L.maxP}`;
  if (!isInt(t) || t < 1 || t > L.maxT) return `passes t must be an integer in 1..${L.maxT}`;
  if (!isInt(mKiB) || mKiB < 8 * p || mKiB > L.maxMKiB) return `memory m must be an integer in ${8 * p}..${L.maxMKiB} KiB (at least 8 × p)`;
  if (!isInt(outLen) || outLen < L.minOutLen || outLen > L.maxOutLen) return `tag length must be in ${L.minOutLen}..${L.maxOutLen} bytes`;
  if (!(req.password instanceof Uint8Array) || req.password.length > L.maxInputLen) return 'password must be bytes, at most 1 MiB';
  if (!(req.salt instanceof Uint8Array) || req.salt.length < L.minSaltLen || req.salt.length > L.maxInputLen) return `salt must be ${L.minSaltLen} bytes to 1 MiB`;
  if (req.secret !== undefined && (!(req.secret instanceof Uint8Array) || req.secret.length > L.maxInputLen)) return 'secret must be bytes, at most 1 MiB';
  if (req.ad !== undefined && (!(req.ad instanceof Uint8Array) || req.ad.length > L.maxInputLen)) return 'associated data must be bytes, at most 1 MiB';
  return null;
}
