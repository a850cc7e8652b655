/**
 * Writing secret-bearing files (keys, identities, mining state): mode 0600, written to a temporary
 * file and moved into place so a crash never leaves half a key, and no silent overwrite.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, open, readFile, rename, stat, unlink } from 'node:fs/promises';

export class FileExistsError extends Error {
  override readonly name = 'FileExistsError';
  constructor(readonly path: string) {
    super(`${path} already exists (use --force to overwrite)`);
  }
}

export interface WriteSecretFileOptions {
  /** Replace an existing file. Default false: refuse with FileExistsError. */
  readonly overwrite?: boolean;
  /** Default 0o600. */
  readonly mode?: number;
}

/** Writes `data` to `path` via a temporary file in the same directory, fsynced, then renamed or linked. */
export async function writeSecretFile(path: string, data: string | Uint8Array, options: WriteSecretFileOptions = {}): Promise<void> {
  const mode = options.mode ?? 0o600;
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await chmod(tmp, mode); // the umask may have removed bits we asked for; never adds any
    if (options.overwrite === true) {
      await rename(tmp, path);
      return;
    }
    try {
      // link() fails with EEXIST atomically, unlike an exists-check followed by rename().
      await link(tmp, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new FileExistsError(path);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'ENOSYS') throw err;
      // Filesystems without hard links: check, then rename (a small race, only on such filesystems).
      if (await exists(path)) throw new FileExistsError(path);
      await rename(tmp, path);
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads a small text file, refusing anything over `maxBytes` before reading it all. */
export async function readSmallTextFile(path: string, maxBytes: number): Promise<string> {
  const st = await stat(path);
  if (!st.isFile()) throw new Error(`${path} is not a file`);
  if (st.size > maxBytes) throw new Error(`${path} is larger than ${maxBytes} bytes`);
  return readFile(path, 'utf8');
}
