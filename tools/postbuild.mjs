// Copies build artefacts that tsc does not emit (the Argon2id .wasm) into dist/ and marks the CLI executable.
import { chmodSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const rel of ['kernels/argon2/argon2id.wasm']) {
  const src = join(root, rel);
  if (!existsSync(src)) continue;
  const dst = join(root, 'dist', rel);
  mkdirSync(dirname(dst), { recursive: true });
  copyFileSync(src, dst);
}
const cli = join(root, 'dist/tools/cli.js');
if (existsSync(cli)) chmodSync(cli, 0o755);
