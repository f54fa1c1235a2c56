/** The remote end of a connection's socket, as the BPF side resolved it at SSL_set_fd. */
import * as ipaddr from 'ipaddr.js';
import type { SocketPeer } from './capture-event';
import { PeerFamily, TLS_EVENT } from './event-layout';

/** The peer carried by a TLS record's header, or undefined when the kernel side could not resolve one. */
export function readPeer(record: Buffer): SocketPeer | undefined {
  const port = record.readUInt16LE(TLS_EVENT.peerPort);
  if (port === 0) return undefined;
  const family = record.readUInt16LE(TLS_EVENT.peerFamily);
  if (family !== PeerFamily.ipv4 && family !== PeerFamily.ipv6) return undefined;
  const bytes = record.subarray(TLS_EVENT.peerAddr, TLS_EVENT.peerAddr + (family === PeerFamily.ipv4 ? 4 : 16));
  let address = ipaddr.fromByteArray([...bytes]);
  // A dual-stack socket talking to an IPv4 server reports ::ffff:a.b.c.d; the IPv4 form is what people search for.
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress()) address = address.toIPv4Address();
  return { address: address.toString(), port };
}
