/**
 * A command stage's outs: files and folders in the workspace, stored
 * content-addressed (a folder as a manifest of its files' blobs, so an
 * unchanged file in a changed folder is stored once), put back exactly on a
 * cache hit, and compared with the workspace for `pipe status`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { OutputRef, Store } from './store.js';

/** A folder out as stored: each file's path inside it and its blob, sorted by path. */
export type Manifest = Array<[path: string, hash: string]>;

/** Every file under a folder, as paths relative to it with '/' separators, sorted. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** Stages a file or folder out's bytes in the store; a folder's files count as extra blobs of the run. */
export function storeOut(store: Store, abs: string, extra: Set<string>): OutputRef {
  if (statSync(abs).isDirectory()) {
    let bytes = 0;
    const manifest: Manifest = filesUnder(abs).map((rel) => {
      const data = readFileSync(join(abs, rel));
      bytes += data.length;
      const hash = store.stageBlob(data);
      extra.add(hash);
      return [rel, hash];
    });
    return { type: 'folder', hash: store.stageBlob(Buffer.from(JSON.stringify(manifest))), bytes };
  }
  const data = readFileSync(abs);
  return { type: 'file', hash: store.stageBlob(data), bytes: data.length };
}

/** A folder out's manifest, from the cache. */
export function readManifest(store: Store, hash: string, what: string): Manifest {
  return JSON.parse(Buffer.from(store.getBlob(hash, what)).toString()) as Manifest;
}

/**
 * Makes the workspace hold a command stage's outs exactly as recorded:
 * rewrites missing or changed files, removes files a folder out should not
 * have. Returns whether it changed anything.
 */
export function syncOuts(store: Store, projectDir: string, stage: string, outputs: Record<string, OutputRef>, hashFile: (path: string) => string): boolean {
  let touched = false;
  // Folders made once each: restoring 10,000 files in one folder makes one mkdir, not 10,000.
  const made = new Set<string>();
  const put = (abs: string, hash: string, what: string) => {
    if (existsSync(abs)) {
      if (statSync(abs).isFile() && hashFile(abs) === hash) return;
      rmSync(abs, { recursive: true, force: true });
    }
    const dir = dirname(abs);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    writeFileSync(abs, store.getBlob(hash, what));
    touched = true;
  };
  for (const [out, ref] of Object.entries(outputs)) {
    const abs = resolve(projectDir, out);
    if (ref.type === 'file') put(abs, ref.hash, `out '${out}' of stage '${stage}'`);
    else if (ref.type === 'folder') {
      const manifest = readManifest(store, ref.hash, `out '${out}' of stage '${stage}'`);
      if (existsSync(abs) && !statSync(abs).isDirectory()) rmSync(abs, { force: true });
      mkdirSync(abs, { recursive: true });
      const keep = new Set(manifest.map(([rel]) => rel));
      for (const rel of filesUnder(abs)) {
        if (!keep.has(rel)) {
          rmSync(join(abs, rel), { force: true });
          touched = true;
        }
      }
      for (const [rel, hash] of manifest) put(join(abs, rel), hash, `file '${rel}' of out '${out}' of stage '${stage}'`);
    }
  }
  return touched;
}

/** Which recorded outs the workspace no longer holds as recorded (edited or deleted), for `pipe status`. */
export function changedOuts(store: Store, projectDir: string, outputs: Record<string, OutputRef>, hashFile: (path: string) => string): string[] {
  const changed: string[] = [];
  for (const [out, ref] of Object.entries(outputs)) {
    const abs = resolve(projectDir, out);
    if (!existsSync(abs)) changed.push(`${out} (deleted)`);
    else if (ref.type === 'file' && (!statSync(abs).isFile() || hashFile(abs) !== ref.hash)) changed.push(`${out} (edited)`);
    else if (ref.type === 'folder') {
      if (!statSync(abs).isDirectory() || !store.hasBlob(ref.hash)) {
        changed.push(`${out} (edited)`);
        continue;
      }
      const manifest = readManifest(store, ref.hash, `out '${out}'`);
      const now = filesUnder(abs);
      const same = now.length === manifest.length && manifest.every(([rel, hash], i) => now[i] === rel && hashFile(join(abs, rel)) === hash);
      if (!same) changed.push(`${out} (edited)`);
    }
  }
  return changed;
}
