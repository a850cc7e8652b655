/** Vote values (wire/vote.ts) and the core's record of a received vote. */
export * from '../wire/vote.js';

export interface VoteRecord {
  readonly pos: number;
  readonly neg: number;
  /** Sender-side order (packet number); an older vote never replaces a newer one. */
  readonly order: number;
}
