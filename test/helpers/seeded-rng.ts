/** The simulator's seeded PRNG (sfc32), shared by tests so one generator serves both. */
export { Rng as SeededRng } from '../../tools/sim/rng.js';
