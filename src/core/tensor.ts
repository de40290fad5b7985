/** Tensors as the cache and stages exchange them: plain typed arrays, no tfjs needed. */
export type DType = 'float32' | 'int32' | 'uint8' | 'bool';
export type TypedArray = Float32Array | Int32Array | Uint8Array;

export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

const MAGIC = 0x534e5450; // 'PTNS'
const ALIGN = 8;

function ctorFor(dtype: DType) {
  switch (dtype) {
    case 'float32':
      return Float32Array;
    case 'int32':
      return Int32Array;
    case 'uint8':
    case 'bool':
      return Uint8Array;
  }
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const DTYPES: readonly DType[] = ['float32', 'int32', 'uint8', 'bool'];

function describe(data: unknown): string {
  if (data === null || typeof data !== 'object') return String(data);
  return Array.isArray(data) ? 'a plain array' : (data.constructor?.name ?? 'an object');
}

/** A tensor from its parts, checked: a known dtype, a shape of whole numbers, and a typed array of that dtype with that many values. */
export function tensor(dtype: DType, shape: number[], data: TypedArray): Tensor {
  if (!DTYPES.includes(dtype)) throw new Error(`tensor dtype must be one of ${DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`tensor shape must be a list of whole numbers >= 0, got ${JSON.stringify(shape)}`);
  }
  const Ctor = ctorFor(dtype);
  if (!(data instanceof Ctor)) throw new Error(`a ${dtype} tensor needs its values in a ${Ctor.name}, got ${describe(data)}`);
  if (sizeOf(shape) !== data.length) {
    throw new Error(`tensor shape [${shape.join(',')}] needs ${sizeOf(shape)} values, got ${data.length}`);
  }
  return { dtype, shape, data };
}

/**
 * Layout: u32 magic, u32 header length, JSON header {dtype, shape}, zero padding
 * to 8 bytes, then the raw little-endian values. The padding keeps the values
 * aligned so a read can view them in place instead of copying.
 */
export function encodeTensor(t: Tensor): Uint8Array {
  const header = Buffer.from(JSON.stringify({ dtype: t.dtype, shape: t.shape }));
  const dataStart = Math.ceil((8 + header.length) / ALIGN) * ALIGN;
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(dataStart + bytes.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, header.length, true);
  out.set(header, 8);
  out.set(bytes, dataStart);
  return out;
}

export function isEncodedTensor(buf: Uint8Array): boolean {
  return buf.length >= 8 && new DataView(buf.buffer, buf.byteOffset, 8).getUint32(0, true) === MAGIC;
}

export function decodeTensor(buf: Uint8Array): Tensor {
  if (!isEncodedTensor(buf)) throw new Error('not an encoded tensor');
  const headerLen = new DataView(buf.buffer, buf.byteOffset, 8).getUint32(4, true);
  const { dtype, shape } = JSON.parse(Buffer.from(buf.subarray(8, 8 + headerLen)).toString()) as {
    dtype: DType;
    shape: number[];
  };
  const dataStart = Math.ceil((8 + headerLen) / ALIGN) * ALIGN;
  const Ctor = ctorFor(dtype);
  const n = sizeOf(shape);
  const offset = buf.byteOffset + dataStart;
  const data =
    offset % Ctor.BYTES_PER_ELEMENT === 0
      ? new Ctor(buf.buffer as ArrayBuffer, offset, n)
      : new Ctor(buf.slice(dataStart, dataStart + n * Ctor.BYTES_PER_ELEMENT).buffer as ArrayBuffer);
  return { dtype, shape, data };
}
