/** Runs the real capture stage in the test process and groups what it saw by connection. */
import type { CaptureEvent, ConnectionClosed } from '../../sensor/capture/capture-event';
import { TlsCapture, type TlsCaptureOptions } from '../../sensor/capture/tls-capture';
import { silentLogger } from '../../sensor/common/logger';

export interface CapturedConnection {
  conn: string;
  pid: number;
  out: Buffer;
  in: Buffer;
  events: CaptureEvent[];
}

export class CaptureHarness {
  readonly events: CaptureEvent[] = [];
  /** Connection ends as the capture reported them (SSL_free, tls.Conn.Close, process exit). */
  readonly closes: ConnectionClosed[] = [];
  readonly capture: TlsCapture;

  constructor(options: Partial<TlsCaptureOptions> = {}) {
    this.capture = new TlsCapture({
      logger: silentLogger(),
      executables: [process.execPath],
      ...options,
      onEvent: (event) => this.events.push(event),
      onClose: (closed) => this.closes.push(closed),
    });
  }

  /** Throws (failing the test with libbpf's reason) when BPF cannot load or attach. */
  start(): void {
    this.capture.start();
  }

  stop(): void {
    this.capture.stop();
  }

  connectionsOf(pid: number): CapturedConnection[] {
    const byConn = new Map<string, CaptureEvent[]>();
    for (const event of this.events) {
      if (event.pid !== pid) continue;
      const list = byConn.get(event.conn) ?? [];
      list.push(event);
      byConn.set(event.conn, list);
    }
    return [...byConn.entries()].map(([conn, events]) => ({
      conn,
      pid,
      events,
      out: Buffer.concat(events.filter((e) => e.dir === 'out').map((e) => e.data)),
      in: Buffer.concat(events.filter((e) => e.dir === 'in').map((e) => e.data)),
    }));
  }

  /** Waits until the predicate holds over the captured events (ring-buffer delivery is asynchronous). */
  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'captured events'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
