import { createHash } from 'node:crypto';
import type { Body } from './backend.js';

export interface Downloaded {
  bytes: Uint8Array;
  sha256: string;
}

/**
 * Reads a body into one buffer of its announced length, hashing each piece as
 * it arrives: the sha256 then costs no second pass over the whole object, and
 * runs while the next piece is still on the wire.
 */
export async function collect(body: Body, what: string): Promise<Downloaded> {
  const hash = createHash('sha256');
  const { length } = body;
  const pieces: Uint8Array[] = [];
  let out: Uint8Array | undefined;
  let n = 0;
  for await (const piece of body.chunks) {
    hash.update(piece);
    if (length === undefined) pieces.push(piece);
    else {
      if (n + piece.length > length) throw new Error(`remote object ${what} sent more than its ${length} bytes`);
      // A body that comes whole (a file) is kept as it is, not copied.
      if (n === 0 && piece.length === length) out = piece;
      else (out ??= Buffer.allocUnsafe(length)).set(piece, n);
    }
    n += piece.length;
  }
  if (length === undefined) return { bytes: Buffer.concat(pieces), sha256: hash.digest('hex') };
  if (n !== length) throw new Error(`remote object ${what} came back with ${n} of its ${length} bytes`);
  return { bytes: out ?? Buffer.alloc(0), sha256: hash.digest('hex') };
}
