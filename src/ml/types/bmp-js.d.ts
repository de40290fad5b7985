declare module 'bmp-js' {
  const bmp: {
    decode(buf: Buffer): { width: number; height: number; data: Buffer };
    encode(img: { width: number; height: number; data: Buffer }): { data: Buffer };
  };
  export default bmp;
}
