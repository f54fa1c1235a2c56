/**
 * User space's part of judging connections. The kernel judges HTTP/1.1 itself, request by request; what it cannot
 * read is HTTP/2, whose request heads are HPACK-compressed and whose stream cannot be entered in the middle. So an
 * HTTP/2 connection is followed or muted whole, here, from its first request heads; and a connection the decoders
 * cannot read at all is muted, since nothing more of it would ever be decoded.
 */
import type { HttpProtocol, ConnectionContext } from '../http/http-exchange';
import type { RequestHead } from '../http/connection-decoder';

export type ConnectionVerdict = 'follow' | 'mute';

export interface ConnectionJudgeOptions {
  /** An HTTP/2 connection whose first this-many request heads are no LLM call is muted; 0 never mutes one. */
  http2MuteAfterRequests: number;
  /** True for an authority whose HTTP/2 connections are always followed (a provider's API host, or configured). */
  isLlmAuthority: (authority: string) => boolean;
  /** Receives each verdict once per connection. Never throws. */
  onVerdict: (connection: ConnectionContext, verdict: ConnectionVerdict, reason: string) => void;
}

/** Authorities seen carrying an LLM call: their next HTTP/2 connections are followed from the first byte. */
const MAX_LEARNT_AUTHORITIES = 1024;

export class ConnectionJudge {
  /** HTTP/2 connections still being watched, by connection id: their request heads so far without an LLM call. */
  private readonly watching = new Map<number, number>();
  private readonly decided = new Set<number>();
  private readonly learnt = new Set<string>();

  constructor(private readonly options: ConnectionJudgeOptions) {}

  requestHead(connection: ConnectionContext, protocol: HttpProtocol, head: RequestHead, interesting: boolean): void {
    if (interesting) this.learn(head.authority);
    if (protocol !== 'h2' || this.decided.has(connection.connectionId)) return;
    if (interesting) return this.decide(connection, 'follow', 'an LLM request');
    if (this.learnt.has(head.authority) || this.options.isLlmAuthority(head.authority)) {
      return this.decide(connection, 'follow', `${head.authority} serves LLM calls`);
    }
    if (this.options.http2MuteAfterRequests === 0) return;
    const withoutLlmCall = (this.watching.get(connection.connectionId) ?? 0) + 1;
    this.watching.set(connection.connectionId, withoutLlmCall);
    if (withoutLlmCall >= this.options.http2MuteAfterRequests) this.decide(connection, 'mute', `${withoutLlmCall} request(s) without an LLM call`);
  }

  undecodable(connection: ConnectionContext, reason: string): void {
    if (!this.decided.has(connection.connectionId)) this.decide(connection, 'mute', reason);
  }

  /** The connection is gone: its id is never used again. */
  forget(connectionId: number): void {
    this.watching.delete(connectionId);
    this.decided.delete(connectionId);
  }

  get watchedConnections(): number {
    return this.watching.size;
  }

  private decide(connection: ConnectionContext, verdict: ConnectionVerdict, reason: string): void {
    this.watching.delete(connection.connectionId);
    this.decided.add(connection.connectionId);
    this.options.onVerdict(connection, verdict, reason);
  }

  private learn(authority: string): void {
    if (authority === '' || this.learnt.has(authority)) return;
    if (this.learnt.size >= MAX_LEARNT_AUTHORITIES) this.learnt.delete(this.learnt.values().next().value as string);
    this.learnt.add(authority);
  }
}
