import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Body } from './backend.js';

export interface Downloaded {
  bytes: Uint8Array;
  sha256: string;
}

/**
 * Calls `take` with each piece of a body in order. A stream is read by its
 * 'data' events: `for await` over one costs a promise per 64 KiB piece, which
 * measured ~0.5 s more per GiB on S3 downloads here.
 */
function eachPiece(chunks: Body['chunks'], take: (piece: Uint8Array) => void): Promise<void> {
  if (!('on' in chunks)) {
    for (const piece of chunks) take(piece);
    return Promise.resolve();
  }
  const stream = chunks as Readable;
  return new Promise((resolve, reject) => {
    stream.on('data', (piece: Uint8Array) => {
      try {
        take(piece);
      } catch (e) {
        stream.destroy();
        reject(e as Error);
      }
    });
    stream.once('end', resolve);
    stream.once('error', reject);
  });
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
  await eachPiece(body.chunks, (piece) => {
    hash.update(piece);
    if (length === undefined) pieces.push(piece);
    else {
      if (n + piece.length > length) throw new Error(`remote object ${what} sent more than its ${length} bytes`);
      // A body that comes whole (a file) is kept as it is, not copied.
      if (n === 0 && piece.length === length) out = piece;
      else (out ??= Buffer.allocUnsafe(length)).set(piece, n);
    }
    n += piece.length;
  });
  if (length === undefined) return { bytes: Buffer.concat(pieces), sha256: hash.digest('hex') };
  if (n !== length) throw new Error(`remote object ${what} came back with ${n} of its ${length} bytes`);
  return { bytes: out ?? Buffer.alloc(0), sha256: hash.digest('hex') };
}
