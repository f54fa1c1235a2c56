/**
 * Go executables built here with Debian's Go, as users build them (symbols kept, stripped, position-independent),
 * inspected the way discovery does; Go's own tools (`go version`, `go tool objdump`) are the independent answer.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadAddon } from '../../sensor/capture/bpf-addon';
import { parseGoBuildInfo, parseGoVersion } from '../../sensor/capture/go-build-info';
import { GO_TLS_FUNCTIONS, inspectGoExecutable, type ElfLayout } from '../../sensor/capture/go-executable';
import { GO_PCLNTAB_SECTIONS, PCLNTAB_MAGIC, findGoFunctions } from '../../sensor/capture/go-pclntab';
import { goConnLayoutRow } from '../../sensor/capture/go-struct-layouts';
import { GO_LLM_CLIENT, buildGoProgram, goToolchainVersion } from '../support/go-programs';

const addon = loadAddon();
let workDir: string;
let toolchain: string;
const binaries: Record<'plain' | 'stripped' | 'pieStripped' | 'noTls', string> = { plain: '', stripped: '', pieStripped: '', noTls: '' };

beforeAll(() => {
  toolchain = goToolchainVersion();
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sightline-go-exe-'));
  binaries.plain = buildGoProgram(workDir, 'plain', GO_LLM_CLIENT);
  binaries.stripped = buildGoProgram(workDir, 'stripped', GO_LLM_CLIENT, { stripped: true });
  binaries.noTls = buildGoProgram(workDir, 'no-tls', 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n', { stripped: true });
  const pieDir = path.join(workDir, 'pie-src');
  fs.mkdirSync(pieDir);
  fs.writeFileSync(path.join(pieDir, 'go.mod'), 'module sightline.test/pie\n\ngo 1.19\n');
  fs.writeFileSync(path.join(pieDir, 'main.go'), GO_LLM_CLIENT);
  binaries.pieStripped = path.join(workDir, 'pie-stripped');
  execFileSync('go', ['build', '-buildmode=pie', '-ldflags', '-s -w', '-o', binaries.pieStripped, '.'], {
    cwd: pieDir,
    env: { ...process.env, GOCACHE: path.join(os.tmpdir(), 'sightline-go-build-cache'), GOPROXY: 'off', GOFLAGS: '-mod=mod', GOPATH: path.join(workDir, 'gopath') },
  });
}, 240_000);

afterAll(() => {
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

function layoutOf(file: string): ElfLayout {
  const layout = addon.readElfLayout(file);
  if (!layout) throw new Error(`${file} is not ELF`);
  return layout;
}

function sectionBytes(file: string, name: string | string[]): { bytes: Buffer; address: number } {
  const names = Array.isArray(name) ? name : [name];
  const section = layoutOf(file).sections.find((candidate) => names.includes(candidate.name));
  if (!section) throw new Error(`${file} has no ${names.join(' or ')}`);
  const bytes = Buffer.alloc(section.size);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, bytes, 0, section.size, section.offset);
  fs.closeSync(fd);
  return { bytes, address: section.address };
}

/**
 * Go's disassembler's view of a function: its RET addresses, the instruction after its stack-check jump, and whether
 * the receiver (AX) and the slice pointer (BX) are stored just above the return address (frame size + 8 and + 16
 * off SP once the frame is set up) before the first branch or call.
 */
function objdumpProbePoints(file: string, name: string): { body: number; returns: number[]; spilled: boolean } {
  const pattern = `^${name.replace(/[.*()]/g, (c) => `\\${c}`)}$`;
  const lines = execFileSync('go', ['tool', 'objdump', '-s', pattern, file], { encoding: 'utf8' }).split('\n');
  const instructions = lines
    .map((line) => /^\s+\S+:\d+\s+0x([0-9a-f]+)\s+[0-9a-f]+\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ address: parseInt(match[1], 16), text: match[2].trim() }));
  const check = instructions.findIndex((instruction) => /^CMPQ 0x10\(R14\)/.test(instruction.text));
  const frame = parseInt(/^SUBQ \$0x([0-9a-f]+), SP$/.exec(instructions[check + 2].text)![1], 16);
  const firstTransfer = instructions.findIndex((instruction, index) => index > check + 2 && /^(J|CALL|RET)/.test(instruction.text));
  const straight = instructions.slice(check + 3, firstTransfer).map((instruction) => instruction.text);
  const spilled = straight.includes(`MOVQ AX, 0x${(frame + 8).toString(16)}(SP)`) && straight.includes(`MOVQ BX, 0x${(frame + 16).toString(16)}(SP)`);
  return { body: instructions[check + 2].address, returns: instructions.filter((instruction) => /^RET\b/.test(instruction.text)).map((instruction) => instruction.address), spilled };
}

const fileOffsetOf = (file: string, address: number) => {
  const text = layoutOf(file).sections.find((section) => section.name === '.text')!;
  return address - text.address + text.offset;
};

describe('Go build information', () => {
  it('gives the version `go version` reports, for every build', () => {
    for (const file of Object.values(binaries)) {
      // `go version FILE` prints `FILE: go1.19.8`.
      const expected = /: (go\S+)/.exec(execFileSync('go', ['version', file], { encoding: 'utf8' }))![1];
      expect(parseGoBuildInfo(sectionBytes(file, '.go.buildinfo').bytes).raw).toBe(expected);
      expect(toolchain).toContain(expected);
    }
  });

  it('refuses a section that is not build information, and names release and development versions', () => {
    expect(() => parseGoBuildInfo(Buffer.alloc(64))).toThrow(/no .* magic/);
    expect(parseGoVersion('go1.21.4')).toMatchObject({ major: 1, minor: 21 });
    expect(parseGoVersion('devel go1.23-4f5a6b7 Tue Jan 2 2024')).toMatchObject({ major: 1, minor: 23 });
    expect(() => parseGoVersion('gccgo')).toThrow(/unrecognised Go version/);
  });
});

describe('Go function table (.gopclntab)', () => {
  const names = Object.values(GO_TLS_FUNCTIONS);

  it('finds the crypto/tls methods where the symbol table says they are, with their extent', () => {
    const { bytes } = sectionBytes(binaries.plain, '.gopclntab');
    const fromTable = findGoFunctions((offset, length) => bytes.subarray(offset, offset + length), bytes.length, names);
    const fromSymbols = addon.findElfFunctions(binaries.plain, names);
    expect([...fromTable.keys()].sort()).toEqual([...names].sort());
    for (const name of names) {
      const fn = fromTable.get(name)!;
      expect([name, fileOffsetOf(binaries.plain, fn.address)]).toEqual([name, fromSymbols[name].offset]);
      // The table's extent runs to the next function, so it covers the symbol's size plus alignment padding.
      expect(fn.size).toBeGreaterThanOrEqual(fromSymbols[name].size);
      expect(fn.size - fromSymbols[name].size).toBeLessThan(64);
    }
  });

  it('finds them in a stripped position-independent executable (.data.rel.ro.gopclntab)', () => {
    const layout = layoutOf(binaries.pieStripped);
    expect(layout.sections.some((section) => section.name === '.symtab')).toBe(false);
    const { bytes } = sectionBytes(binaries.pieStripped, GO_PCLNTAB_SECTIONS);
    expect(bytes.readUInt32LE(0)).toBe(PCLNTAB_MAGIC.go118);
    const found = findGoFunctions((offset, length) => bytes.subarray(offset, offset + length), bytes.length, [...names, 'no.such/function']);
    expect([...found.keys()].sort()).toEqual([...names].sort());
  });

  it('reads the Go 1.20+ magic with the same layout, and refuses Go 1.2-1.15 and unknown magics', () => {
    const { bytes } = sectionBytes(binaries.stripped, '.gopclntab');
    const read = (table: Buffer) => (offset: number, length: number) => table.subarray(offset, offset + length);
    const go118 = findGoFunctions(read(bytes), bytes.length, names);
    // The 1.20 change was in the function records' fields this parser does not read; the header and table are alike.
    const relabelled = Buffer.from(bytes);
    relabelled.writeUInt32LE(PCLNTAB_MAGIC.go120, 0);
    expect(findGoFunctions(read(relabelled), relabelled.length, names)).toEqual(go118);
    relabelled.writeUInt32LE(PCLNTAB_MAGIC.go12, 0);
    expect(() => findGoFunctions(read(relabelled), relabelled.length, names)).toThrow(/Go 1\.2-1\.15: not supported/);
    relabelled.writeUInt32LE(0xfffffff5, 0);
    expect(() => findGoFunctions(read(relabelled), relabelled.length, names)).toThrow(/unknown magic 0xfffffff5/);
  });

  it('reads the Go 1.16-1.17 layout: absolute entry addresses and pointer-sized table words', () => {
    // Go 1.17 is the oldest release with the register ABI; this machine has only Go 1.19, so its table is rewritten
    // into the 1.16 layout (runtime/symtab.go of Go 1.16/1.17) and must give the same answers.
    const { bytes } = sectionBytes(binaries.stripped, '.gopclntab');
    const read = (table: Buffer) => (offset: number, length: number) => table.subarray(offset, offset + length);
    const expected = findGoFunctions(read(bytes), bytes.length, names);
    expect(findGoFunctions(read(toGo116Layout(bytes)), toGo116Layout(bytes).length, names)).toEqual(expected);
  });
});

/** A Go 1.18 function table rewritten in the 1.16 layout: header without textStart, 16-byte table entries. */
function toGo116Layout(table: Buffer): Buffer {
  const word = (index: number) => Number(table.readBigUInt64LE(8 + index * 8));
  const [functionCount, fileCount, textStart, funcname, cu, filetab, pctab, pcln] = Array.from({ length: 8 }, (_, index) => word(index));
  const entries = Array.from({ length: functionCount + 1 }, (_, index) => ({ entry: table.readUInt32LE(pcln + index * 8), funcOffset: table.readUInt32LE(pcln + index * 8 + 4) }));
  // _func records keep their place relative to the table start, moved by the table's growth; their entry field grows
  // from 4 to 8 bytes, so each record is rewritten as [entry u64][nameOff i32] (all this parser reads).
  const growth = (functionCount + 1) * 8;
  const records = Buffer.alloc(table.length - pcln + growth + 16);
  entries.forEach(({ entry, funcOffset }, index) => {
    records.writeBigUInt64LE(BigInt(textStart + entry), index * 16);
    records.writeBigUInt64LE(BigInt(funcOffset + growth), index * 16 + 8);
    if (index < functionCount) {
      records.writeBigUInt64LE(BigInt(textStart + table.readUInt32LE(pcln + funcOffset)), funcOffset + growth);
      records.writeInt32LE(table.readInt32LE(pcln + funcOffset + 4), funcOffset + growth + 8);
    }
  });
  const header = Buffer.alloc(8 + 7 * 8);
  table.copy(header, 0, 0, 8);
  header.writeUInt32LE(PCLNTAB_MAGIC.go116, 0);
  [functionCount, fileCount, funcname, cu, filetab, pctab, pcln].forEach((value, index) => header.writeBigUInt64LE(BigInt(value), 8 + index * 8));
  return Buffer.concat([header, table.subarray(header.length, pcln), records]);
}

describe('probe points from the machine code', () => {
  it('matches Go\'s own disassembler: the body after the stack check, and every RET of Read', () => {
    const probes = inspectGoExecutable(binaries.plain, addon)!;
    const read = objdumpProbePoints(binaries.plain, GO_TLS_FUNCTIONS.read);
    const write = objdumpProbePoints(binaries.plain, GO_TLS_FUNCTIONS.write);
    const close = objdumpProbePoints(binaries.plain, GO_TLS_FUNCTIONS.close);
    expect(read.returns.length).toBeGreaterThan(1);
    expect(probes.readBody).toBe(fileOffsetOf(binaries.plain, read.body));
    expect(probes.readReturns).toEqual(read.returns.map((address) => fileOffsetOf(binaries.plain, address)));
    expect(probes.writeBody).toBe(fileOffsetOf(binaries.plain, write.body));
    expect(probes.closeBody).toBe(fileOffsetOf(binaries.plain, close.body));
    expect(read.spilled).toBe(true);
    expect(probes.readArgumentsSpilled).toBe(read.spilled);
    expect(probes.functionsFrom).toBe('symtab');
  });

  it('puts Write, Read and Close on their stack check\'s JBE, an instruction the kernel emulates, right before the body', () => {
    const probes = inspectGoExecutable(binaries.plain, addon)!;
    const bytes = fs.readFileSync(binaries.plain);
    const sites = [
      [probes.checks?.write, probes.writeBody],
      [probes.checks?.read, probes.readBody],
      [probes.checks?.close, probes.closeBody],
    ] as const;
    for (const [check, body] of sites) {
      expect(check).toBeDefined();
      const jbeNear = bytes[check!.offset] === 0x0f && bytes[check!.offset + 1] === 0x86;
      const jbeShort = bytes[check!.offset] === 0x76;
      expect(jbeNear || jbeShort).toBe(true);
      expect(body! - check!.offset).toBe(jbeNear ? 6 : 2);
    }
    // Read and Close have small frames (the check compares RSP); Write's frame is larger (it compares RSP - n in R12).
    expect(probes.checks?.read?.register).toBe('rsp');
    expect(probes.checks?.close?.register).toBe('rsp');
    expect(probes.checks?.write?.register).toBe('r12');
  });

  it('gives a stripped build the same probe points, found through the function table', () => {
    const plain = inspectGoExecutable(binaries.plain, addon)!;
    const stripped = inspectGoExecutable(binaries.stripped, addon)!;
    expect(stripped.functionsFrom).toBe('pclntab');
    const { functionsFrom: _a, ...plainPoints } = plain;
    const { functionsFrom: _b, ...strippedPoints } = stripped;
    // -s -w drops the symbol and debug sections, which follow the code: the code itself is where it was.
    expect(strippedPoints).toEqual(plainPoints);
    expect(stripped.connLayoutRow).toBe(goConnLayoutRow(parseGoVersion(stripped.goVersion)));
    expect(stripped.connLayoutRow).toBeGreaterThan(0);
  });

  it('probes a stripped position-independent build', () => {
    const probes = inspectGoExecutable(binaries.pieStripped, addon)!;
    expect(probes.functionsFrom).toBe('pclntab');
    expect(probes.readReturns.length).toBeGreaterThan(1);
    // Every probe point is a RET byte or the frame setup (SUB RSP / PUSH RBP) the body starts with.
    const bytes = fs.readFileSync(binaries.pieStripped);
    for (const offset of probes.readReturns) expect(bytes[offset]).toBe(0xc3);
    for (const offset of [probes.readBody, probes.writeBody]) expect([0x48, 0x55]).toContain(bytes[offset]);
  });
});

describe('what is not a Go TLS executable', () => {
  it('is null for a Go program without crypto/tls and for a C program, and refused with a reason for another architecture', () => {
    expect(inspectGoExecutable(binaries.noTls, addon)).toBeNull();
    expect(inspectGoExecutable('/usr/bin/curl', addon)).toBeNull();
    expect(inspectGoExecutable('/etc/hostname', addon)).toBeNull();
    // An arm64 build, as far as the ELF header says (e_machine 183): what decides, without compiling Go's standard
    // library a second time.
    const arm = path.join(workDir, 'arm64-client');
    const bytes = fs.readFileSync(binaries.stripped);
    bytes.writeUInt16LE(183, 18);
    fs.writeFileSync(arm, bytes);
    expect(() => inspectGoExecutable(arm, addon)).toThrow(/for ELF machine 183: the Go probes support x86-64 only/);
  });
});
