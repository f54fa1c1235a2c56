import { PeerFamily, TLS_EVENT } from '../../sensor/capture/event-layout';
import { SocketPeerReader } from '../../sensor/capture/socket-peer';

const readPeer = (record: Buffer) => new SocketPeerReader().read(record);

function header(family: number, port: number, address: number[]): Buffer {
  const record = Buffer.alloc(TLS_EVENT.data);
  record.writeUInt16LE(port, TLS_EVENT.peerPort);
  record.writeUInt16LE(family, TLS_EVENT.peerFamily);
  Buffer.from(address).copy(record, TLS_EVENT.peerAddr);
  return record;
}

const ipv6 = (...groups: number[]) => groups.flatMap((group) => [group >> 8, group & 0xff]);

describe('readPeer', () => {
  it('reads an IPv4 peer', () => {
    expect(readPeer(header(PeerFamily.ipv4, 443, [10, 0, 3, 7]))).toEqual({ address: '10.0.3.7', port: 443 });
  });

  it('reads an IPv6 peer in its compressed form', () => {
    expect(readPeer(header(PeerFamily.ipv6, 8443, ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)))).toEqual({ address: '2001:db8::1', port: 8443 });
    expect(readPeer(header(PeerFamily.ipv6, 443, ipv6(0, 0, 0, 0, 0, 0, 0, 1)))).toEqual({ address: '::1', port: 443 });
  });

  it('gives an IPv4-mapped IPv6 peer as IPv4', () => {
    expect(readPeer(header(PeerFamily.ipv6, 443, ipv6(0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x0001)))).toEqual({ address: '127.0.0.1', port: 443 });
  });

  it('has no peer when the kernel side resolved none, or for a family it does not know', () => {
    expect(readPeer(header(0, 0, []))).toBeUndefined();
    expect(readPeer(header(PeerFamily.ipv4, 0, [10, 0, 0, 1]))).toBeUndefined();
    expect(readPeer(header(1, 443, [1, 2, 3, 4]))).toBeUndefined();
  });

  it('reuses the last peer while the header is the same, and reads a new one when it changes', () => {
    const reader = new SocketPeerReader();
    const first = reader.read(header(PeerFamily.ipv4, 443, [10, 0, 3, 7]));
    expect(reader.read(header(PeerFamily.ipv4, 443, [10, 0, 3, 7]))).toBe(first);
    expect(reader.read(header(PeerFamily.ipv4, 443, [10, 0, 3, 8]))).toEqual({ address: '10.0.3.8', port: 443 });
    expect(reader.read(header(PeerFamily.ipv4, 8443, [10, 0, 3, 8]))).toEqual({ address: '10.0.3.8', port: 8443 });
    expect(reader.read(header(PeerFamily.ipv6, 8443, [10, 0, 3, 8]))).toEqual({ address: 'a00:308::', port: 8443 });
    expect(reader.read(header(0, 0, []))).toBeUndefined();
    expect(reader.read(header(1, 8443, [10, 0, 3, 8]))).toBeUndefined();
  });
});
