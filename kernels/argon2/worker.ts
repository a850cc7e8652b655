/**
 * Worker-thread side of the Argon2id pool (pool.ts). Loads one kernel by name, says 'ready' with
 * the kernel's real name, then hashes one job at a time. Compiled to dist/kernels/argon2/worker.js.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Argon2idEngineName, Argon2idRequest } from '../types.js';
import { computeArgon2id, loadKernelByName } from './engines.js';

export interface PoolWorkerData {
  readonly kernel: Argon2idEngineName;
}

export interface PoolJobMessage {
  readonly id: number;
  readonly req: Argon2idRequest;
}

export type PoolWorkerReply =
  | { readonly type: 'ready'; readonly name: Argon2idEngineName }
  | { readonly type: 'init-error'; readonly message: string }
  | { readonly type: 'done'; readonly id: number; readonly out: Uint8Array }
  | { readonly type: 'failed'; readonly id: number; readonly code: string | null; readonly message: string };

const port = parentPort;
if (port === null) throw new Error('kernels/argon2/worker.js must run in a worker thread');

const data = workerData as PoolWorkerData;
const post = (msg: PoolWorkerReply, transfer?: ArrayBuffer[]): void => port.postMessage(msg, transfer);

try {
  const kernel = await loadKernelByName(data.kernel);
  port.on('message', (job: PoolJobMessage) => {
    void (async () => {
      try {
        const tag = await computeArgon2id(kernel, job.req);
        const out = tag.slice(); // own buffer, so transferring it cannot detach anything shared
        post({ type: 'done', id: job.id, out }, [out.buffer as ArrayBuffer]);
      } catch (err) {
        const e = err as { code?: unknown; message?: unknown };
        post({
          type: 'failed',
          id: job.id,
          code: typeof e.code === 'string' ? e.code : null,
          message: String(e.message ?? err),
        });
      }
    })();
  });
  post({ type: 'ready', name: kernel.name });
} catch (err) {
  post({ type: 'init-error', message: String((err as Error)?.message ?? err) });
}
