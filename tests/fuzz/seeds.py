#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of one fuzz target from the fixtures.

usage: seeds.py SOURCE_ROOT OUTDIR TARGET

OUTDIR is emptied first; files are named by the SHA-1 of their content, as
libFuzzer names its own corpus files, so identical seeds collapse.
  fuzz-diag     every datagram of tests/fixtures/diag/*.rec (a record is a
                4-byte host-order length, then the bytes) and every whole
                .rec file (for diag_replay)
  fuzz-netstat  tests/fixtures/netstat/**/netstat and bad/*
  fuzz-config   tests/fixtures/config/**/*.conf, the printed .out files and
                conf/backlogd.conf
"""

import hashlib
import pathlib
import shutil
import struct
import sys


def records(data):
    off = 0
    while off + 4 <= len(data):
        (n,) = struct.unpack_from("=I", data, off)
        off += 4
        if off + n > len(data):
            raise ValueError(f"record at {off - 4} runs past the end")
        yield data[off:off + n]
        off += n
    if off != len(data):
        raise ValueError("trailing bytes after the last record")


def seeds(root, target):
    fx = root / "tests" / "fixtures"
    if target == "fuzz-diag":
        for rec in sorted([*(fx / "diag").glob("*.rec"), *(fx / "diag-unix").glob("*.rec"),
                           *(fx / "diag-syn").glob("*.rec")]):
            data = rec.read_bytes()
            yield data
            yield from records(data)
    elif target == "fuzz-netstat":
        for f in sorted((fx / "netstat").rglob("netstat")):
            yield f.read_bytes()
        for f in sorted((fx / "netstat" / "bad").iterdir()):
            yield f.read_bytes()
    elif target == "fuzz-config":
        for f in sorted((fx / "config").rglob("*.conf")):
            yield f.read_bytes()
        for f in sorted((fx / "config" / "good").glob("*.out")):
            yield f.read_bytes()
        sample = root / "conf" / "backlogd.conf"
        if sample.exists():
            yield sample.read_bytes()
    else:
        raise SystemExit(f"seeds.py: unknown target {target}")


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    root, out, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    n = 0
    for data in seeds(root, target):
        path = out / hashlib.sha1(data).hexdigest()
        if not path.exists():
            path.write_bytes(data)
            n += 1
    if n == 0:
        raise SystemExit(f"seeds.py: no seeds for {target} under {root}")
    print(f"{target}: {n} seeds in {out}")


if __name__ == "__main__":
    main()
