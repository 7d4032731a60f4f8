/* SPDX-License-Identifier: MIT */
#pragma once

/* TCP listeners through NETLINK_SOCK_DIAG (inet_diag), with libmnl.
 * Everything netlink stays inside diag.c: callers see Listener structs and
 * negative errno values with a reason in an ErrBuf. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "snapshot.h"
#include "util.h"

/* Debian's libmnl 1.0.4 has no MNL_SOCKET_DUMP_SIZE; the kernel sends
 * datagrams of up to 32 KiB during a dump. */
#define DIAG_BUFFER_SIZE 32768

/* Most port ranges one request can carry as kernel bytecode (20 bytes each);
 * with more, ask for all ports and filter afterwards. */
#define DIAG_MAX_RANGES 64

typedef struct DiagSocket DiagSocket;

/* Opens a NETLINK_SOCK_DIAG socket (SOCK_CLOEXEC) in the caller's current
 * network namespace and binds it. */
int diag_open(DiagSocket **ret, ErrBuf *err);
DiagSocket *diag_close(DiagSocket *s);

/* When f is not NULL, every datagram received from now on is appended to f
 * as a record: a 4-byte length in host byte order, then the bytes. Tests
 * replay such files with diag_parse(). */
void diag_set_recorder(DiagSocket *s, FILE *f);

/* Dumps the TCP listeners of AF_INET and AF_INET6 (idiag_states =
 * 1<<TCP_LISTEN, with INET_DIAG_SKMEMINFO) and appends them to out, then
 * sorts and removes duplicates by cookie among the appended entries (earlier
 * entries of out are left in place; on error out is restored). When
 * n_ranges > 0 only listeners whose port lies in one of the ranges are
 * dumped: a single port through
 * id.idiag_sport, anything else through INET_DIAG_REQ_BYTECODE, so the
 * kernel does the filtering. Returns the number of listeners appended.
 * n_ranges must not exceed DIAG_MAX_RANGES (-ENOBUFS otherwise).
 * Errors: -EBUSY (a dump is already running on this socket), -ENOSPC
 * (truncated datagram), -EPROTO (malformed answer or sequence mismatch),
 * -ESRCH (port id mismatch), -EINTR (dump interrupted), -ETIMEDOUT (no
 * answer for 5 s), -ENOMEM, or the kernel's NLMSG_ERROR value; err says
 * which family and what happened ("inet6 dump: ..."). After an
 * error the socket may be unusable: close and reopen it. */
int diag_dump_listeners(DiagSocket *s, const PortRange *ranges, size_t n_ranges,
                        ListenerSet *out, ErrBuf *err);

/* Receives each listener of a dump, in the kernel's order; duplicates are
 * possible (a dump is not a snapshot). Returns 0, or a negative errno that
 * aborts the dump. */
typedef int (*diag_listener_cb)(const Listener *l, void *userdata);

/* Like diag_dump_listeners(), but hands each listener to cb instead of
 * storing it: the daemon's poll path keeps no copy of the population.
 * Returns the number of listeners handed over. On error, cb may already
 * have seen part of the dump. */
int diag_dump_each(DiagSocket *s, const PortRange *ranges, size_t n_ranges, diag_listener_cb cb, void *userdata,
                   ErrBuf *err);

/* Builds the request for one family into buf (>= 256 bytes, filled with
 * zeroes by the function). Returns the message length or -ENOBUFS. */
int diag_build_request(void *buf, size_t size, uint8_t family, uint32_t seq,
                       const PortRange *ranges, size_t n_ranges);

/* Pure parser: parses one datagram of an inet_diag dump answer and appends
 * the listeners to out (no sorting, no deduplication). seq and portid are
 * checked unless 0. Returns 1 if more datagrams follow, 0 when NLMSG_DONE
 * was seen, or a negative errno (-EPROTO for malformed messages, the
 * kernel's error for NLMSG_ERROR, -ENOMEM). */
int diag_parse(const void *buf, size_t len, uint32_t seq, uint32_t portid,
               ListenerSet *out, ErrBuf *err);

/* Replays a file written by the recorder through diag_parse(), with sequence
 * and port id checks off, then sorts and deduplicates. Returns the number of
 * listeners or a negative errno. */
int diag_replay(FILE *f, ListenerSet *out, ErrBuf *err);
