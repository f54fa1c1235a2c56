/** A child process driven line by line: it prints, the test answers on its stdin. */
import { spawn, type ChildProcess } from 'node:child_process';

const running = new Set<LineProcess>();

/** Kills every LineProcess still running (for afterAll), so a failed test leaves no process behind. */
export function killLineProcesses(): void {
  for (const line of running) line.child.kill('SIGKILL');
}

export class LineProcess {
  readonly child: ChildProcess;
  private output = '';
  private errors = '';
  readonly exited: Promise<number | null>;

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.child.stdout!.on('data', (chunk) => (this.output += chunk));
    this.child.stderr!.on('data', (chunk) => (this.errors += chunk));
    this.exited = new Promise((resolve) => this.child.on('close', resolve));
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  get pid(): number {
    return this.child.pid!;
  }

  async lines(count: number, timeoutMs = 30_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.output.split('\n').filter(Boolean);
      if (lines.length >= count) return lines;
      if (Date.now() > deadline || this.child.exitCode !== null) throw new Error(`expected ${count} lines, got ${JSON.stringify(this.output)}; stderr: ${this.errors}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  get stdout(): string {
    return this.output;
  }

  get stderr(): string {
    return this.errors;
  }

  say(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  async finish(): Promise<number | null> {
    this.child.stdin!.end();
    return this.exited;
  }
}
