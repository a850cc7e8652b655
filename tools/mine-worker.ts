/**
 * One identity-mining worker (tools/mine.ts): loops over random nonces, computing each attempt's
 * work with the kernel loaded in this thread, and reports its attempt count every `reportMs`. It
 * yields to its event loop between reports so a 'stop' message ends it cleanly with a final count.
 * Compiled to dist/tools/mine-worker.js.
 */
import { randomFillSync } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { computeArgon2id, isSyncKernel, loadKernelByName } from '../kernels/argon2/engines.js';
import type { Argon2idEngineName } from '../kernels/types.js';
import { loadIdentityCrypto } from '../wire/identity-crypto.js';
import { identitySalt, identityWorkRequest, trailingZeroBits } from '../wire/identity.js';
import type { IdentityArgon2Params } from '../wire/profiles.js';

export interface MineWorkerData {
  readonly kernel: Argon2idEngineName;
  readonly publicKey: Uint8Array;
  readonly time: number;
  readonly networkId: bigint;
  readonly argon2: IdentityArgon2Params;
  readonly difficulty: number;
  readonly reportMs: number;
}

export type MineWorkerMessage =
  | { readonly type: 'ready'; readonly kernel: Argon2idEngineName }
  | { readonly type: 'init-error'; readonly message: string }
  | { readonly type: 'progress'; readonly attempts: number }
  | { readonly type: 'found'; readonly attempts: number; readonly nonce: Uint8Array; readonly work: Uint8Array }
  | { readonly type: 'stopped'; readonly attempts: number }
  | { readonly type: 'error'; readonly attempts: number; readonly message: string };

export type MineControlMessage = { readonly type: 'stop' };

const port = parentPort;
if (port === null) throw new Error('tools/mine-worker.js must run in a worker thread');
const post = (m: MineWorkerMessage): void => port.postMessage(m);
const job = workerData as MineWorkerData;

let stopping = false;
const onControl = (m: MineControlMessage): void => {
  if (m.type === 'stop') stopping = true;
};
port.on('message', onControl);
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function main(): Promise<void> {
  let kernel;
  let blake3;
  try {
    kernel = await loadKernelByName(job.kernel);
    blake3 = (await loadIdentityCrypto()).blake3;
  } catch (err) {
    post({ type: 'init-error', message: String((err as Error)?.message ?? err) });
    return;
  }
  const nonce = new Uint8Array(16);
  const probe = identityWorkRequest({ argon2: job.argon2 }, job.publicKey, new Uint8Array(16));
  if (!kernel.supports(probe)) {
    post({ type: 'init-error', message: `${kernel.name} cannot compute the identity's Argon2id parameters` });
    return;
  }
  post({ type: 'ready', kernel: kernel.name });
  const sync = isSyncKernel(kernel);
  let pending = 0;
  try {
    while (!stopping) {
      const sliceEnd = performance.now() + job.reportMs;
      do {
        randomFillSync(nonce);
        const salt = identitySalt(blake3, nonce, job.time, job.networkId);
        const req = identityWorkRequest({ argon2: job.argon2 }, job.publicKey, salt);
        const work = sync ? (computeArgon2id(kernel, req) as Uint8Array) : await computeArgon2id(kernel, req);
        pending++;
        if (trailingZeroBits(work) >= job.difficulty) {
          post({ type: 'found', attempts: pending, nonce: nonce.slice(), work: work.slice() });
          return;
        }
      } while (performance.now() < sliceEnd);
      post({ type: 'progress', attempts: pending });
      pending = 0;
      await yieldToEventLoop(); // lets a 'stop' message in
    }
    post({ type: 'stopped', attempts: pending });
  } catch (err) {
    post({ type: 'error', attempts: pending, message: String((err as Error)?.message ?? err) });
  }
}

await main();
// Nothing else keeps this thread alive once the control listener is off, so it exits (after its
// messages are delivered). removeAllListeners() would not unref the port; off() does.
port.off('message', onControl);
