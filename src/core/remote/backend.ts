import type { Readable } from 'node:stream';

/**
 * Object storage as the remote cache sees it: keys under one root, whole
 * objects written at once. Both backends make an object visible only when it
 * is complete, which is what lets a run record be the commit point.
 */
export interface Backend {
  /** The remote as the user named it, without credentials: for messages. */
  readonly url: string;
  /** Every key under a prefix (one request per 1,000 keys on S3, not one per key). */
  list(prefix: string): Promise<Set<string>>;
  /** An object's body as it arrives, or undefined when there is none. */
  read(key: string): Promise<Body | undefined>;
  /** Writes an object; with ifAbsent, only when the key is free (false: it was taken). */
  put(key: string, body: Uint8Array, opts?: PutOptions): Promise<boolean>;
}

export interface PutOptions {
  ifAbsent?: boolean;
  /** The body's sha256 when the caller knows it (a blob's name): a store that checks uploads by it need not hash the body again. */
  sha256?: string;
}

/** An object's bytes in the pieces they arrive in (a stream, or pieces at hand), and the length the store announced for them. */
export interface Body {
  length: number | undefined;
  chunks: Readable | Iterable<Uint8Array>;
}

/** How pipeline.yaml (or --remote) describes the remote. */
export interface RemoteConfig {
  url: string;
  /** S3 endpoint of a non-AWS store (Ceph RGW, MinIO, R2): path-style addressing then. */
  endpoint?: string;
  region?: string;
  /** pipe run looks a missing stage up on the remote before running it. */
  pull?: boolean;
  /** pipe run pushes what it ran or reused. */
  push?: boolean;
  /** Transfers at once. */
  jobs?: number;
}

/** The remote a pipeline file names, with a --remote URL put in its place (keeping the file's endpoint and region). */
export function remoteConfig(pipeline: { remote: RemoteConfig | undefined }, override?: string): RemoteConfig | undefined {
  const configured = pipeline.remote;
  if (!override) return configured;
  return configured?.url === override ? configured : { endpoint: configured?.endpoint, region: configured?.region, url: override };
}
