/** iced-x86, the maintained x86 decoder the capture uses to find probe points in machine code. */
import type * as Iced from 'iced-x86';

let iced: typeof Iced | undefined;

/** Loaded on first use: the decoder's WebAssembly costs nothing on hosts where nothing needs decoding. */
export function x86Decoder(): typeof Iced {
  iced ??= require('iced-x86') as typeof Iced;
  return iced;
}

/** Decodes `code`, loaded at `address`, instruction by instruction until `visit` returns false or the bytes end. */
export function decodeEach(code: Buffer, address: number, visit: (instruction: Iced.Instruction, library: typeof Iced) => boolean): void {
  const library = x86Decoder();
  const decoder = new library.Decoder(64, new Uint8Array(code.buffer, code.byteOffset, code.length), library.DecoderOptions.None);
  const instruction = new library.Instruction();
  try {
    decoder.ip = BigInt(address);
    while (decoder.canDecode) {
      decoder.decodeOut(instruction);
      if (instruction.code === library.Code.INVALID || !visit(instruction, library)) break;
    }
  } finally {
    instruction.free();
    decoder.free();
  }
}
