/**
 * A CPU profile of this process over a span of time, taken with the V8 inspector in process (no
 * debugger port is opened), in the `.cpuprofile` format that Chrome DevTools and speedscope read.
 * Served at `GET /v1/profile` (docs/api.md) and written by `ecd bench cluster --profile-out`, so
 * the steady state of a running daemon can be read from data.
 *
 * One profile at a time per process: the inspector has one profiler.
 */
import { Session } from 'node:inspector/promises';

export const PROFILE_LIMITS = {
  /** Longest profile (the control API's longest hold). */
  maxMs: 30_000,
  /** Sampling interval, microseconds (V8's default is 1 000). */
  samplingIntervalUs: 500,
} as const;

export class ProfileBusyError extends Error {
  readonly code = 'busy';
  constructor() {
    super('a CPU profile of this process is already being taken');
  }
}

let busy = false;

/** Profiles the process for `ms` milliseconds; the profile as a JSON-ready object. */
export async function cpuProfile(ms: number, sleep: (ms: number) => Promise<void>): Promise<object> {
  if (!(ms >= 1 && ms <= PROFILE_LIMITS.maxMs)) throw new RangeError(`a profile lasts 1 to ${PROFILE_LIMITS.maxMs} ms, not ${ms}`);
  if (busy) throw new ProfileBusyError();
  busy = true;
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: PROFILE_LIMITS.samplingIntervalUs });
    await session.post('Profiler.start');
    await sleep(ms);
    const { profile } = await session.post('Profiler.stop');
    return profile;
  } finally {
    session.disconnect();
    busy = false;
  }
}
