import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { isBoundedSegment, KEY_SEGMENT_MAX_BYTES, keySegment, TERRA_USER_ID } from '#shared/ids';

/**
 * Raw-body archive: every delivery that passed the signature check is kept exactly as received, before
 * we acknowledge it, so nothing Terra sends is lost even when we cannot apply it. Laid out by Terra user
 * so that deleting a person deletes a prefix (docs/architecture.md, "Archive layout").
 */
export interface Archive {
  put(key: string, body: Uint8Array): Promise<void>;
  get(key: string): Promise<Buffer | undefined>;
  /** Every key under a prefix. */
  list(prefix: string): Promise<string[]>;
  delete(keys: readonly string[]): Promise<void>;
  /** Where a key lives, for the claim check in `terra.data` (`bucket` is the directory locally). */
  readonly location: string;
}

/** What the webhook needs of the archive: writing a delivery, and taking back one it just wrote. */
export type ArchiveWriter = Pick<Archive, 'put' | 'delete' | 'location'>;

/** The prefixes a Terra user's payloads live under; a deletion removes exactly these. */
export function userPrefixes(user_id: string): string[] {
  return [
    `users/${keySegment(user_id)}/`,
    `quarantine/${keySegment(user_id)}/`,
    `unattributed/${keySegment(user_id)}/`,
  ];
}

/** Deliveries that name an app user but no Terra user (a cancelled login): deleted with that app user. */
export function referencePrefix(reference_id: string): string {
  return `references/${keySegment(reference_id)}/`;
}

/** Every prefix an app user's reference-only deliveries live under, quarantined ones included. */
export function referencePrefixes(reference_id: string): string[] {
  return [referencePrefix(reference_id), `quarantine/_${referencePrefix(reference_id)}`];
}

/** The delivery id an archive key was written for (the inverse of `archiveKey`). */
export function eventIdOfKey(key: string): string | undefined {
  const name = key.split('/').at(-1) ?? '';
  const match = /^(.+)\.[0-9a-f]{16}(\.payload)?\.json$/.exec(name);
  if (!match?.[1] || isBoundedSegment(match[1])) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
}

/** The body hash (16 hex digits) an archive key was written with (see `archiveKey`). */
export function bodyHashOfKey(key: string): string | undefined {
  return /\.([0-9a-f]{16})(\.payload)?\.json$/.exec(key)?.[1];
}

/** Room in a file name for `.<16 hex>.payload.json` after the event id. */
const EVENT_SEGMENT_MAX_BYTES = KEY_SEGMENT_MAX_BYTES - '.0123456789abcdef.payload.json'.length;

/**
 * `users/<user_id>/<yyyy>/<mm>/<dd>/<event id>.<body hash>.json`; deliveries without a (well-formed)
 * user go under `references/<reference_id>/` when they name an app user, else `unattributed/`; validly
 * signed ones outside the time window under `quarantine/`. The body hash keeps two different bodies
 * under one trace id apart; the same delivery repeated lands on the same key, so a retry overwrites
 * instead of piling up.
 */
export function archiveKey(options: {
  zone: 'delivery' | 'quarantine';
  event_id: string;
  sha256: string;
  receivedAtMs: number;
  user_id?: string | undefined;
  reference_id?: string | undefined;
  /** Parked for a Terra user nobody owns yet: `unattributed/<user_id>/` (docs/decisions/0020). */
  parked?: boolean;
}): string {
  const day = new Date(options.receivedAtMs).toISOString().slice(0, 10).replaceAll('-', '/');
  const owner =
    options.user_id !== undefined && TERRA_USER_ID.test(options.user_id) ? options.user_id : undefined;
  const unowned = options.reference_id ? referencePrefix(options.reference_id).slice(0, -1) : 'unattributed';
  const base =
    options.zone === 'quarantine'
      ? `quarantine/${owner !== undefined ? keySegment(owner) : `_${unowned}`}`
      : owner !== undefined
        ? `${options.parked ? 'unattributed' : 'users'}/${keySegment(owner)}`
        : unowned;
  const name = keySegment(options.event_id, EVENT_SEGMENT_MAX_BYTES);
  return `${base}/${day}/${name}.${options.sha256.slice(0, 16)}.json`;
}

/** The key a downloaded `s3_payload` is archived under: next to its notification. */
export const payloadKeyFor = (notificationKey: string): string =>
  notificationKey.replace(/\.json$/, '.payload.json');

/** Local mode and tests: a directory on disk behind the same interface as S3. */
export class DirectoryArchive implements Archive {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get location(): string {
    return this.root;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const path = this.pathOf(key);
    // Write then rename, so a reader never sees half a payload; concurrent copies each use their own file.
    // Named apart from the key, so that a name near the file system's 255 bytes still has room for it.
    const partial = join(dirname(path), `.${randomUUID()}.partial`);
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(partial, body);
        await rename(partial, path);
        return;
      } catch (error) {
        // A delete pruned the emptied folder between our mkdir and our write: make it again, once.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 1) throw error;
      }
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const dir = this.pathOf(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
    let entries: Array<{ isFile(): boolean; name: string; parentPath: string }>;
    try {
      entries = await readdir(dir, { recursive: true, withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return entries
      .filter((entry) => entry.isFile() && !entry.name.endsWith('.partial'))
      .map((entry) => relative(this.root, join(entry.parentPath, entry.name)).split(sep).join('/'))
      .sort();
  }

  async delete(keys: readonly string[]): Promise<void> {
    const paths = keys.map((key) => this.pathOf(key));
    await Promise.all(paths.map((path) => rm(path, { force: true })));
    // S3 has no folders; here a deleted user's folders (named by their Terra user id) go with the files.
    const folders = new Set(paths.map((path) => dirname(path)));
    for (const folder of [...folders].sort((a, b) => b.length - a.length)) await this.pruneUp(folder);
  }

  /** Removes `folder` and its parents while they are empty, never the archive's root. */
  private async pruneUp(folder: string): Promise<void> {
    for (let current = folder; current.startsWith(this.root + sep); current = dirname(current)) {
      try {
        await rmdir(current);
      } catch (error) {
        // Gone already (another delete pruned it): look at its parent. Not empty: neither are its parents.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return;
      }
    }
  }

  private pathOf(key: string): string {
    // A key is literal, as in S3: a `.` or `..` segment would make the file system read another place.
    if (key.split('/').some((segment) => segment === '.' || segment === '..')) {
      throw new Error('archive keys have no . or .. segments');
    }
    const path = resolve(join(this.root, key));
    if (!path.startsWith(this.root + sep)) throw new Error('archive key escapes the archive directory');
    return path;
  }
}
