import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The fast check every blob read runs (xxh3, ~20 GB/s here against sha256's
 * ~1): it catches damage, while the sha256 stays the blob's name. The
 * streaming form, because the one-shot binding is ten times slower.
 */
let xxh3: typeof import('@node-rs/xxhash').xxh3 | undefined;

export function checksum(data: Uint8Array): string {
  // Loaded on first use: finding the native binding costs ~10 ms, which a no-op run never needs.
  xxh3 ??= (createRequire(import.meta.url)('@node-rs/xxhash') as typeof import('@node-rs/xxhash')).xxh3;
  const h = xxh3.Xxh3.withSeed();
  h.update(data);
  return h.digest().toString(16);
}

/**
 * JSON with sorted keys and numbers in their shortest round-trip form, so that
 * key order or `1.0` vs `1` in YAML never changes a fingerprint.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return JSON.stringify(String(value));
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function hashJson(value: unknown): string {
  return sha256(canonicalJson(value));
}
