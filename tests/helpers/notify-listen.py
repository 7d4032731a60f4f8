#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Stands in for systemd's notify socket (sd_notify(3)) in tests.

usage: notify-listen.py PATH [TIMEOUT_SECONDS]

Binds an AF_UNIX SOCK_DGRAM socket at PATH (replacing a stale one) and
writes, for every datagram received, one line per field:

    SEQ<TAB>PID<TAB>FIELD=VALUE

SEQ numbers the datagrams from 1, so fields sent together ("RELOADING=1"
and "MONOTONIC_USEC=...") share it; PID is the sender's pid as the kernel
reports it (SO_PASSCRED), 0 if unknown. Each datagram is flushed at once.
File descriptors passed along (FDSTORE=1) are closed. Exits 0 on SIGTERM or
SIGINT, or when TIMEOUT_SECONDS (default 300) have passed; removes PATH.
"""

import array
import os
import signal
import socket
import struct
import sys
import time


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    path = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) == 3 else 300.0
    deadline = time.monotonic() + timeout

    stop = False

    def on_signal(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind(path)

    ucred = struct.calcsize("3i")
    fdsize = array.array("i").itemsize
    cmsg_space = socket.CMSG_SPACE(ucred) + socket.CMSG_SPACE(fdsize * 16)
    seq = 0
    try:
        while not stop:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # Short slices so that a signal is noticed promptly.
            sock.settimeout(min(left, 0.2))
            try:
                data, ancdata, _flags, _addr = sock.recvmsg(65536, cmsg_space)
            except socket.timeout:
                continue
            except InterruptedError:
                continue
            pid = 0
            for level, kind, payload in ancdata:
                if level != socket.SOL_SOCKET:
                    continue
                if kind == socket.SCM_CREDENTIALS and len(payload) >= ucred:
                    pid = struct.unpack("3i", payload[:ucred])[0]
                elif kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(payload[: len(payload) - len(payload) % fdsize])
                    for fd in fds:
                        os.close(fd)
            seq += 1
            text = data.decode("utf-8", errors="backslashreplace")
            lines = [f"{seq}\t{pid}\t{field}" for field in text.split("\n") if field]
            if not lines:
                lines = [f"{seq}\t{pid}\t"]
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()
    finally:
        sock.close()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
