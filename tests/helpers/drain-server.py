#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A listener whose queue a test fills and drains on command.

Usage: drain-server.py ADDR PORT BACKLOG
Reads commands on stdin, one a line, and answers each with "ok" (or
"error: ...") on stdout:
  connect N   open N client connections and wait (<= 5 s) until the
              listener's queue holds them (only as many as fit)
  pend N      open N clients that cannot fit: they stay in SYN-SENT and each
              SYN retransmission counts a drop
  close-pending   close the pending clients
  accept      accept every queued connection and close it (the queue drains)
  close       close the listener
Exits at EOF on stdin; every wait is bounded.
"""
import socket
import sys
import time

addr, port, backlog = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
srv = socket.socket(family, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((addr, port))
srv.listen(backlog)
clients, pending = [], []


def queued():
    # TCP_INFO's tcpi_unacked is the accept-queue length for a listener.
    import struct
    info = srv.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("I", info, 24)[0]


def connect(n, keep):
    for _ in range(n):
        c = socket.socket(family, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect((addr, port))
        except BlockingIOError:
            pass
        keep.append(c)


print("ready", flush=True)
for line in sys.stdin:
    cmd = line.split()
    if not cmd:
        continue
    try:
        if cmd[0] == "connect":
            want = queued() + int(cmd[1])
            connect(int(cmd[1]), clients)
            deadline = time.monotonic() + 5
            while queued() < min(want, backlog + 1) and time.monotonic() < deadline:
                time.sleep(0.01)
        elif cmd[0] == "pend":
            connect(int(cmd[1]), pending)
        elif cmd[0] == "close-pending":
            for c in pending:
                c.close()
            pending = []
        elif cmd[0] == "accept":
            srv.setblocking(False)
            while True:
                try:
                    s, _ = srv.accept()
                    s.close()
                except BlockingIOError:
                    break
            srv.setblocking(True)
        elif cmd[0] == "close":
            srv.close()
        else:
            raise ValueError("unknown command " + cmd[0])
        print("ok", flush=True)
    except Exception as e:  # the test reads the reason
        print("error: %s" % e, flush=True)
