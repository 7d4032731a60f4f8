#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Makes a listener drop connection attempts for one reason, for
tests/integration/drop-causes.sh. Run it in a network namespace of its own.

  cause-traffic.py accept PORT BACKLOG EXTRA
      A listener on 127.0.0.1:PORT that never accepts, filled with BACKLOG + 1
      connections, then EXTRA more clients whose SYNs (and retransmissions)
      find the accept queue full. "close" closes those EXTRA (in SYN-SENT:
      nothing is sent), so that the drops stop.
  cause-traffic.py syn ADDR PORT BACKLOG N
      A listener on ADDR:PORT, and N SYNs sent from a raw socket, each from
      its own address of ADDR's /24 that nobody answers for (the caller
      routes the SYN-ACKs into a veth nobody listens on): the SYN queue
      fills (BACKLOG + 1) and the rest of the SYNs find it full. Exact: no
      retransmissions.
  cause-traffic.py defer PORT N
      A listener with TCP_DEFER_ACCEPT, and N clients that connect and send
      nothing: each of their handshake ACKs is dropped. "close" closes them
      with a FIN, which the listener takes as data (no drop).

Prints "ready" when done, "closed" after "close"; exits at the end of its
input.
"""
import random
import socket
import struct
import sys


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn_packet(src, sport, dst, dport):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, random.getrandbits(32), 0, 5 << 4, 0x02, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, socket.IPPROTO_TCP, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip + tcp


def listener(addr, port, backlog, defer=False):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if defer:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 30)
    s.bind((addr, port))
    s.listen(backlog)
    return s


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    keep, closing = [], []
    if mode == "accept":
        port, backlog, extra = (int(a) for a in args)
        keep.append(listener("127.0.0.1", port, backlog))
        for _ in range(backlog + 1):
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            keep.append(c)
        for _ in range(extra):
            c = socket.socket()
            c.setblocking(False)
            if c.connect_ex(("127.0.0.1", port)) not in (0, 115):  # EINPROGRESS
                raise SystemExit("connect failed")
            closing.append(c)
    elif mode == "syn":
        addr, port, backlog, n = args[0], int(args[1]), int(args[2]), int(args[3])
        keep.append(listener(addr, port, backlog))
        prefix = addr.rsplit(".", 1)[0]
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        for i in range(n):
            raw.sendto(syn_packet("%s.%d" % (prefix, 1 + i), 20000 + i, addr, port), (addr, 0))
        raw.close()
    elif mode == "defer":
        port, n = int(args[0]), int(args[1])
        keep.append(listener("127.0.0.1", port, 16, defer=True))
        for _ in range(n):
            closing.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    else:
        raise SystemExit("unknown mode " + mode)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "close":
            for c in closing:
                c.close()
            closing = []
            print("closed", flush=True)


main()
