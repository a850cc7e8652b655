/**
 * Where the tests find a container engine: ECD_CONTAINER_HOST and ECD_TEST_IMAGE, or the file
 * tools/ci/container-host.sh writes. Without one, suites that need it fail under CI=true and are
 * skipped, with the reason, elsewhere.
 */
import { existsSync, readFileSync } from 'node:fs';

export const ENGINE_ENV_FILE = '/run/ecd-podman/env';

export type EngineTarget = { readonly ok: true; readonly endpoint: string; readonly image: string } | { readonly ok: false; readonly why: string };

export function findEngine(): EngineTarget {
  let endpoint = process.env['ECD_CONTAINER_HOST'];
  let image = process.env['ECD_TEST_IMAGE'];
  if ((endpoint === undefined || image === undefined) && existsSync(ENGINE_ENV_FILE)) {
    for (const line of readFileSync(ENGINE_ENV_FILE, 'utf8').split('\n')) {
      const [k, v] = [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)];
      if (k === 'ECD_CONTAINER_HOST') endpoint ??= v;
      if (k === 'ECD_TEST_IMAGE') image ??= v;
    }
  }
  if (endpoint === undefined || endpoint === '' || image === undefined || image === '') {
    return { ok: false, why: `no container engine: set ECD_CONTAINER_HOST and ECD_TEST_IMAGE, or run tools/ci/container-host.sh (as root) to start Podman and write ${ENGINE_ENV_FILE}` };
  }
  return { ok: true, endpoint, image };
}

export const requireEngineInCi = process.env['CI'] === 'true';
