/**
 * NumPy's .npy format (version 1.0, C order), for tensors that cross into
 * other tools: numpy.load and torch read what encodeNpy writes, and
 * decodeNpy reads what numpy.save writes for the dtypes pipe's tensors have.
 */
import { tensor, type DType, type Tensor } from './tensor.js';

const DESCR: Record<DType, string> = { float32: '<f4', int32: '<i4', uint8: '|u1', bool: '|b1' };
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

export function encodeNpy(t: Tensor): Buffer {
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${DESCR[t.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Magic, version, header length, then the header padded with spaces and a newline to a multiple of 64 bytes.
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const prefix = Buffer.alloc(10);
  MAGIC.copy(prefix);
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]);
}

/** A .npy file's tensor; `what` names it in errors. */
export function decodeNpy(buf: Uint8Array, what: string): Tensor {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 10 || !b.subarray(0, 6).equals(MAGIC)) throw new Error(`${what} is not a .npy file`);
  const major = b[6]!;
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const dtype = (Object.entries(DESCR).find(([, d]) => d === descr) ?? [])[0] as DType | undefined;
  if (!dtype) throw new Error(`${what}: dtype ${descr} is not one pipe's tensors have (float32, int32, uint8, bool)`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${what}: Fortran-ordered arrays are not supported (save with numpy.ascontiguousarray)`);
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const data = b.subarray(start + headerLen);
  const bytes = new Uint8Array(data.length);
  bytes.set(data);
  const values = dtype === 'float32' ? new Float32Array(bytes.buffer) : dtype === 'int32' ? new Int32Array(bytes.buffer) : bytes;
  return tensor(dtype, shape, values);
}
