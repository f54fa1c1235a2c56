/**
 * Where to put uprobes in a Go function (x86-64), found by decoding its machine code with iced-x86 (a maintained
 * decoder; x86-64 instruction lengths are too irregular to find instruction starts by hand):
 *
 * - Its body: the instruction right after the stack-bound check of the prologue. A goroutine whose stack is too
 *   small runs morestack there and then starts the function again from its first instruction, so a probe on the
 *   first instruction can fire twice for one call; after the check it fires once.
 * - Its returns: every RET. Go forbids uretprobes (the kernel swaps the return address on the goroutine's stack,
 *   and Go copies stacks and unwinds them by return address), so results are read where the function returns.
 *
 * The prologue checked is the register ABI's (Go 1.17 and later): `CMP reg, [R14+16]` (R14 holds the goroutine,
 * 16 is its stackguard0), then a conditional jump to morestack, then the frame setup (`SUB RSP, n` or `PUSH RBP`).
 * A function shaped otherwise is refused rather than probed somewhere that might fire twice or never.
 *
 * Also told: whether the function stores its receiver (RAX) and first slice's pointer (RBX) in their spill slots
 * (just above the return address: [RSP+8] and [RSP+16] at entry and at every RET) before its first branch or call.
 * Then a RET knows its call's receiver and buffer even when the call started before the probes were attached.
 */
import type * as Iced from 'iced-x86';

export interface ProbePoints {
  /** Address of the first instruction after the stack check: its registers still hold the arguments. */
  bodyAddress: number;
  /**
   * The stack check's JBE, when it compares RSP or R12 (small and medium frames): a probe there fires also on a call
   * that goes to morestack first (and then starts over), which the program tells apart by the flags the JBE reads;
   * in exchange the kernel emulates a jump, where the body's first instruction (SUB RSP) is single-stepped.
   */
  check?: { address: number; register: 'rsp' | 'r12' };
  /** Addresses of every RET. */
  returnAddresses: number[];
  /** The receiver and the first slice's pointer are in their spill slots at every RET (stored on the one path in). */
  argumentsSpilled: boolean;
}

/** g.stackguard0: the third word of runtime.g, after stack.lo and stack.hi; the compiler's own prologue reads it. */
const STACKGUARD_OFFSET = 16n;
const PROLOGUE_INSTRUCTIONS = 8;

let iced: typeof Iced | undefined;

/** Loaded on the first Go executable found: the decoder's WebAssembly costs nothing on hosts without Go programs. */
function decoderLibrary(): typeof Iced {
  iced ??= require('iced-x86') as typeof Iced;
  return iced;
}

/** Probe points of the function whose machine code is `code`, loaded at `address`. Throws when its shape is not Go's. */
export function findProbePoints(code: Buffer, address: number, name: string): ProbePoints {
  const library = decoderLibrary();
  const { Decoder, DecoderOptions, Instruction, Mnemonic, Register, FlowControl } = library;
  const decoder = new Decoder(64, new Uint8Array(code.buffer, code.byteOffset, code.length), DecoderOptions.None);
  const instruction = new Instruction();
  try {
    decoder.ip = BigInt(address);
    let bodyAddress: number | undefined;
    let checkSeen = false;
    let comparedRegister: 'rsp' | 'r12' | undefined;
    let check: ProbePoints['check'];
    const returnAddresses: number[] = [];
    let frameBytes: bigint | undefined;
    let straightLine = true;
    const spilled = new Set<number>();
    for (let index = 0; decoder.canDecode; index++) {
      decoder.decodeOut(instruction);
      const at = Number(instruction.ip);
      if (bodyAddress === undefined) {
        if (index >= PROLOGUE_INSTRUCTIONS) throw new Error(`${name}: no Go stack check in its first ${PROLOGUE_INSTRUCTIONS} instructions (not Go 1.17+ register-ABI code)`);
        if (!checkSeen) {
          checkSeen = instruction.mnemonic === Mnemonic.Cmp && instruction.memoryBase === Register.R14 && instruction.memoryDisplacement === STACKGUARD_OFFSET;
          if (checkSeen) comparedRegister = instruction.op0Register === Register.RSP ? 'rsp' : instruction.op0Register === Register.R12 ? 'r12' : undefined;
        } else if (instruction.flowControl === FlowControl.ConditionalBranch) {
          bodyAddress = Number(instruction.nextIP);
          if (instruction.mnemonic === Mnemonic.Jbe && comparedRegister) check = { address: at, register: comparedRegister };
        } else {
          throw new Error(`${name}: the stack check is not followed by a conditional jump`);
        }
        continue;
      }
      if (at === bodyAddress) {
        if (!isFrameSetup(instruction, library)) throw new Error(`${name}: no frame setup after the stack check`);
        if (instruction.mnemonic === Mnemonic.Sub) frameBytes = BigInt(instruction.immediate(1));
      } else if (straightLine && frameBytes !== undefined) {
        if (instruction.flowControl !== FlowControl.Next) straightLine = false;
        else if (isSpill(instruction, frameBytes + 8n, Register.RAX)) spilled.add(Register.RAX);
        else if (isSpill(instruction, frameBytes + 16n, Register.RBX)) spilled.add(Register.RBX);
      }
      if (instruction.mnemonic === Mnemonic.Ret) returnAddresses.push(at);
    }
    if (bodyAddress === undefined) throw new Error(`${name}: its code ends inside the prologue`);
    if (returnAddresses.length === 0) throw new Error(`${name}: no RET instruction found`);
    return { bodyAddress, ...(check ? { check } : {}), returnAddresses, argumentsSpilled: spilled.size === 2 };
  } finally {
    instruction.free();
    decoder.free();
  }

  /** `MOV [RSP+offset], register`: a register argument stored in its spill slot. */
  function isSpill(store: Iced.Instruction, offset: bigint, register: Iced.Register): boolean {
    return (
      store.mnemonic === library.Mnemonic.Mov &&
      store.op0Kind === library.OpKind.Memory &&
      store.memoryBase === library.Register.RSP &&
      store.memoryIndex === library.Register.None &&
      store.memoryDisplacement === offset &&
      store.op1Kind === library.OpKind.Register &&
      store.op1Register === register
    );
  }

  function isFrameSetup(frame: Iced.Instruction, library: typeof Iced): boolean {
    const sp = frame.op0Kind === library.OpKind.Register && frame.op0Register === library.Register.RSP;
    return (frame.mnemonic === library.Mnemonic.Sub && sp) || (frame.mnemonic === library.Mnemonic.Push && frame.op0Register === library.Register.RBP);
  }
}
