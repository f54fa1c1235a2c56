/**
 * Names TLS connections. Inside a process an SSL* identifies a connection, but the allocator reuses addresses,
 * so an SSL_free closes the name and the next connection at the same address gets a new one.
 * Pointers are kept as numbers: user-space addresses fit in 48 bits, and number keys are cheaper per event.
 */
export class ConnectionIds {
  private readonly byProcess = new Map<number, Map<number, string>>();
  private nextSequence = 1;

  idFor(pid: number, sslPtr: number): string {
    let connections = this.byProcess.get(pid);
    if (!connections) {
      connections = new Map();
      this.byProcess.set(pid, connections);
    }
    let id = connections.get(sslPtr);
    if (!id) {
      id = `${pid}-${sslPtr.toString(16)}-${this.nextSequence++}`;
      connections.set(sslPtr, id);
    }
    return id;
  }

  /** Returns the closed connection's id, if it was ever seen. */
  close(pid: number, sslPtr: number): string | undefined {
    const connections = this.byProcess.get(pid);
    const id = connections?.get(sslPtr);
    if (id) connections!.delete(sslPtr);
    return id;
  }

  /** Returns the ids of every connection the exited process had open. */
  closeProcess(pid: number): string[] {
    const connections = this.byProcess.get(pid);
    this.byProcess.delete(pid);
    return connections ? [...connections.values()] : [];
  }

  get openCount(): number {
    let count = 0;
    for (const connections of this.byProcess.values()) count += connections.size;
    return count;
  }
}
