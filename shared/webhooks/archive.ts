import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';

/**
 * Raw-body archive: every delivery that passed the signature check is kept exactly as received, before
 * we acknowledge it, so nothing Terra sends is lost even when we cannot apply it.
 */
export interface Archive {
  put(key: string, body: Buffer): Promise<void>;
}

/**
 * Date-partitioned key (UTC receive day). The body hash keeps two different bodies under one trace id
 * apart; the same delivery repeated lands on the same key, so a retry overwrites instead of piling up.
 */
export function archiveKey(eventId: string, bodySha256: string, receivedAtMs: number): string {
  const day = new Date(receivedAtMs).toISOString().slice(0, 10).replaceAll('-', '/');
  return `raw/${day}/${encodeURIComponent(eventId)}.${bodySha256.slice(0, 16)}.json`;
}

/** Local mode and tests: a directory on disk behind the same interface as S3. */
export class DirectoryArchive implements Archive {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async put(key: string, body: Buffer): Promise<void> {
    const path = resolve(join(this.root, key));
    if (!path.startsWith(this.root + sep)) throw new Error('archive key escapes the archive directory');
    await mkdir(dirname(path), { recursive: true });
    // Write then rename, so a reader never sees half a payload; concurrent copies each use their own file.
    const partial = `${path}.${randomUUID()}.partial`;
    await writeFile(partial, body);
    await rename(partial, path);
  }
}
