/** Small deterministic fixtures for the token tests. */
import { createHash } from 'node:crypto';

/** A deterministic `random(n)` (SHA-256 in counter mode over the seed), for reproducible tokens. */
export function seededRandomBytes(seed: number): (n: number) => Uint8Array {
  let counter = 0;
  return (n: number) => {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const h = createHash('sha256').update(`token-fixture/${seed}/${counter++}`).digest();
      const take = Math.min(h.length, n - o);
      out.set(h.subarray(0, take), o);
      o += take;
    }
    return out;
  };
}
