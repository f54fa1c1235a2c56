/** The remote end of a connection's socket, as the BPF side resolved it at SSL_set_fd. */
import * as ipaddr from 'ipaddr.js';
import type { SocketPeer } from './capture-event';
import { PeerFamily, TLS_EVENT } from './event-layout';

const PEER_HEADER_START = TLS_EVENT.peerFamily;
const PEER_HEADER_END = TLS_EVENT.peerAddr + 16;

/**
 * Reads the peer carried by TLS record headers. Every record of a connection carries the same peer, and records
 * of one connection usually come in runs, so the last peer read is reused while the header bytes match: formatting
 * an address once per connection, not once per 16 KiB chunk.
 */
export class SocketPeerReader {
  private lastHeader = Buffer.alloc(PEER_HEADER_END - PEER_HEADER_START);
  private lastPort = 0;
  private lastPeer: SocketPeer | undefined;

  /** The record's peer, or undefined when the kernel side could not resolve one. */
  read(record: Buffer): SocketPeer | undefined {
    const port = record.readUInt16LE(TLS_EVENT.peerPort);
    if (port === 0) return undefined;
    if (port === this.lastPort && this.lastHeader.equals(record.subarray(PEER_HEADER_START, PEER_HEADER_END))) return this.lastPeer;
    const peer = decodePeer(record.readUInt16LE(TLS_EVENT.peerFamily), record.subarray(TLS_EVENT.peerAddr, TLS_EVENT.peerAddr + 16), port);
    record.copy(this.lastHeader, 0, PEER_HEADER_START, PEER_HEADER_END);
    this.lastPort = port;
    this.lastPeer = peer;
    return peer;
  }
}

function decodePeer(family: number, address: Buffer, port: number): SocketPeer | undefined {
  if (family !== PeerFamily.ipv4 && family !== PeerFamily.ipv6) return undefined;
  let parsed = ipaddr.fromByteArray([...address.subarray(0, family === PeerFamily.ipv4 ? 4 : 16)]);
  // A dual-stack socket talking to an IPv4 server reports ::ffff:a.b.c.d; the IPv4 form is what people search for.
  if (parsed instanceof ipaddr.IPv6 && parsed.isIPv4MappedAddress()) parsed = parsed.toIPv4Address();
  return { address: parsed.toString(), port };
}
