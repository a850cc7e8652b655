/** What test/helpers/store-crash-child.ts announces on stdout, shared with its harness. */

/** What one batch writes, as the child announces it before `apply` (hex strings). */
export interface StoreCrashIntent {
  readonly id: string;
  readonly prev: string;
  readonly blocks: readonly string[];
  /** [token, block] for each hosted token the batch maps. */
  readonly tokens: readonly (readonly [string, string])[];
  /** [token, last, block] for every entry. */
  readonly spends: readonly (readonly [string, string, string])[];
}

/** The child's default network id. */
export const CRASH_CHILD_NETWORK = 0x6563_6401n;
