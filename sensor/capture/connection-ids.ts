/**
 * Names TLS connections. Inside a process an SSL* identifies a connection, but the allocator reuses addresses,
 * so an SSL_free closes the name and the next connection at the same address gets a new one.
 * Pointers are kept as numbers: user-space addresses fit in 48 bits, and number keys are cheaper per event.
 */
export class ConnectionIds {
  private readonly byProcess = new Map<number, Map<number, { id: string; lastSeenMs: number }>>();
  private nextSequence = 1;

  idFor(pid: number, sslPtr: number, nowMs = 0): string {
    let connections = this.byProcess.get(pid);
    if (!connections) {
      connections = new Map();
      this.byProcess.set(pid, connections);
    }
    let entry = connections.get(sslPtr);
    if (!entry) {
      entry = { id: `${pid}-${sslPtr.toString(16)}-${this.nextSequence++}`, lastSeenMs: nowMs };
      connections.set(sslPtr, entry);
    }
    entry.lastSeenMs = nowMs;
    return entry.id;
  }

  /** Forgets connections unused since `olderThanMs` (their SSL_free or exit record may have been dropped). */
  sweep(olderThanMs: number): void {
    for (const [pid, connections] of this.byProcess) {
      for (const [sslPtr, entry] of connections) if (entry.lastSeenMs < olderThanMs) connections.delete(sslPtr);
      if (connections.size === 0) this.byProcess.delete(pid);
    }
  }

  /** Returns the closed connection's id, if it was ever seen. */
  close(pid: number, sslPtr: number): string | undefined {
    const connections = this.byProcess.get(pid);
    const entry = connections?.get(sslPtr);
    if (entry) connections!.delete(sslPtr);
    return entry?.id;
  }

  /** Returns the ids of every connection the exited process had open. */
  closeProcess(pid: number): string[] {
    const connections = this.byProcess.get(pid);
    this.byProcess.delete(pid);
    return connections ? [...connections.values()].map((entry) => entry.id) : [];
  }

  get openCount(): number {
    let count = 0;
    for (const connections of this.byProcess.values()) count += connections.size;
    return count;
  }
}
