import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { Backend, Body, PutOptions } from './backend.js';

/**
 * A remote in a plain folder (NFS on a cluster). Every write goes to a temp
 * file first and appears by rename, or by link for ifAbsent (link fails on a
 * taken name, rename would replace it), so a reader never sees half an object.
 */
export class FileBackend implements Backend {
  constructor(
    readonly url: string,
    private readonly root: string,
  ) {}

  async list(prefix: string): Promise<Set<string>> {
    const base = join(this.root, prefix);
    let names: string[];
    try {
      names = readdirSync(base, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
      throw e;
    }
    return new Set(names.map((n) => relative(this.root, n).split(sep).join('/')));
  }

  async read(key: string): Promise<Body | undefined> {
    try {
      const bytes = readFileSync(join(this.root, key));
      return { length: bytes.length, chunks: [bytes] };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async put(key: string, body: Uint8Array, opts: PutOptions = {}): Promise<boolean> {
    const final = join(this.root, key);
    const tmpDir = join(this.root, 'tmp');
    mkdirSync(tmpDir, { recursive: true });
    mkdirSync(dirname(final), { recursive: true });
    const tmp = join(tmpDir, `${randomBytes(8).toString('hex')}.part`);
    writeFileSync(tmp, body, { flush: true });
    try {
      if (!opts.ifAbsent) {
        renameSync(tmp, final);
        return true;
      }
      try {
        linkSync(tmp, final);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      }
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}
