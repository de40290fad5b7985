import { accessSync, closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CacheCorrupt, ConfigError } from './errors.js';

/** Creates the cache folder; it must be a folder pipe can read and write: said as a config error, before LMDB fails less clearly. */
export function ensureCacheFolder(path: string): void {
  if (existsSync(path) && !statSync(path).isDirectory()) throw new ConfigError(`cache: ${path} is a file, not a folder (set cache: in pipeline.yaml to a folder)`);
  mkdirSync(path, { recursive: true });
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch {
    throw new ConfigError(`cache: ${path} is not readable and writable by this user (set cache: in pipeline.yaml to another folder, or fix its permissions)`);
  }
}

/**
 * Checks an LMDB environment's two meta pages before LMDB maps it. A
 * damaged meta page makes LMDB read through wild pointers and the process
 * die of a segmentation fault, with no message; this check turns that into
 * an error that says what to do. Layout (lmdb-js' LMDB): each meta page has
 * a 24-byte page header, then magic, version, address, map size, two
 * 48-byte database records (free list, main) whose root page numbers must
 * lie in the file, the last used page and the transaction id.
 */
const MAGIC = 0xbeefc0de;
const VERSION = 2;
const HEADER = 24;
const DB_SIZE = 48;
const P_INVALID = 0xffffffffffffffffn;

interface Meta {
  pageSize: number;
  roots: bigint[];
  lastPage: bigint;
  txnid: bigint;
}

function readMeta(buf: Buffer, at: number): Meta | string {
  if (buf.length < at + HEADER + 24 + 2 * DB_SIZE + 16) return 'truncated';
  const magic = buf.readUInt32LE(at + HEADER);
  if (magic !== MAGIC) return `bad magic 0x${magic.toString(16)}`;
  const version = buf.readUInt32LE(at + HEADER + 4);
  if (version !== VERSION) return `unknown version ${version}`;
  const dbs = at + HEADER + 24;
  const pageSize = buf.readUInt32LE(dbs);
  const roots = [0, 1].map((k) => buf.readBigUInt64LE(dbs + k * DB_SIZE + 40));
  return { pageSize, roots, lastPage: buf.readBigUInt64LE(dbs + 2 * DB_SIZE), txnid: buf.readBigUInt64LE(dbs + 2 * DB_SIZE + 8) };
}

/** What is wrong with the meta pages of an environment's data file (none: it is safe to open). */
function metaProblems(file: string): string[] {
  const fd = openSync(file, 'r');
  let buf: Buffer;
  let size: number;
  try {
    size = fstatSync(fd).size;
    buf = Buffer.alloc(Math.min(size, 2 * 65536));
    readSync(fd, buf, 0, buf.length, 0);
  } finally {
    closeSync(fd);
  }
  if (size === 0) return [];
  const problems: string[] = [];
  const first = readMeta(buf, 0);
  // The second meta page sits one page in; its size is in the first one, or, if that is damaged, one of the sizes LMDB uses.
  const sizes = typeof first === 'string' ? [4096, 8192, 16384, 32768, 65536] : [first.pageSize];
  const second = sizes.map((s) => readMeta(buf, s)).find((m) => typeof m !== 'string') ?? readMeta(buf, sizes[0]!);
  for (const [i, m] of [first, second].entries()) {
    if (typeof m === 'string') {
      problems.push(`meta page ${i}: ${m}`);
      continue;
    }
    if (!(m.pageSize >= 512 && m.pageSize <= 65536 && (m.pageSize & (m.pageSize - 1)) === 0)) problems.push(`meta page ${i}: page size ${m.pageSize}`);
    const pages = BigInt(Math.ceil(size / (m.pageSize || 1)));
    if (m.lastPage >= pages) problems.push(`meta page ${i}: last page ${m.lastPage} beyond the file's ${pages} pages`);
    m.roots.forEach((r, db) => {
      if (r !== P_INVALID && r > m.lastPage) problems.push(`meta page ${i}: root of database ${db} at page ${r}, past the last page ${m.lastPage}`);
    });
  }
  return problems;
}

/** Throws CacheCorrupt, naming the file and what to do, when the environment at `dir` cannot be opened safely. */
export function checkEnvironment(dir: string): void {
  const file = join(dir, 'data.mdb');
  if (!existsSync(file)) return;
  let problems = metaProblems(file);
  if (problems.length) {
    // Another process may have been writing that page as it was read: look once more before calling it damaged.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    problems = metaProblems(file);
  }
  if (problems.length) {
    throw new CacheCorrupt(
      `the cache at ${dir} is damaged (${file}: ${problems.join('; ')}); nothing was changed. Move it aside (mv ${dir} ${dir}.damaged) and run 'pipe run' to rebuild it, or pull it again from a remote`,
    );
  }
}
