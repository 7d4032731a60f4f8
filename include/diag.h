/* SPDX-License-Identifier: MIT */
#pragma once

/* TCP listeners through NETLINK_SOCK_DIAG (inet_diag), with libmnl.
 * Everything netlink stays inside diag.c: callers see Listener structs and
 * negative errno values with a reason in an ErrBuf. */

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "snapshot.h"
#include "util.h"

/* Debian's libmnl 1.0.4 has no MNL_SOCKET_DUMP_SIZE; the kernel sends
 * datagrams of up to 32 KiB during a dump. */
#define DIAG_BUFFER_SIZE 32768

/* Most port ranges one request carries as kernel bytecode (a search tree,
 * 28 bytes a range); with more, callers bridge the smallest gaps
 * (space_port_ranges()) or ask for all ports and filter afterwards. */
#define DIAG_MAX_RANGES 256

typedef struct DiagSocket DiagSocket;

/* Opens a NETLINK_SOCK_DIAG socket (SOCK_CLOEXEC) in the caller's current
 * network namespace and binds it. */
int diag_open(DiagSocket **ret, ErrBuf *err);
DiagSocket *diag_close(DiagSocket *s);

/* Every Listener this socket dumps from now on carries netns (Listener.netns;
 * default 0, the daemon's own namespace). */
void diag_set_netns(DiagSocket *s, uint64_t netns);

/* The name of interface ifindex (as in Listener.ifindex) in the network
 * namespace s was opened in, whatever namespace the caller is in now, into
 * ret_name (NUL-terminated). Returns 0, -ENODEV when that namespace has no
 * such interface, or another negative errno. */
int diag_interface_name(DiagSocket *s, uint32_t ifindex, char ret_name[IF_NAMESIZE]);

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
int diag_dump_listeners(DiagSocket *s, const PortRange *ranges, size_t n_ranges, ListenerSet *out, ErrBuf *err);

/* Receives each listener of a dump, in the kernel's order; duplicates are
 * possible (a dump is not a snapshot). Returns 0, or a negative errno that
 * aborts the dump. */
typedef int (*diag_listener_cb)(const Listener *l, void *userdata);

/* A diag_listener_cb that appends to the ListenerSet in userdata. */
int diag_push_cb(const Listener *l, void *userdata);

/* Like diag_dump_listeners(), but hands each listener to cb instead of
 * storing it: the daemon's poll path keeps no copy of the population.
 * Returns the number of listeners handed over. On error, cb may already
 * have seen part of the dump. */
int diag_dump_each(DiagSocket *s, const PortRange *ranges, size_t n_ranges, diag_listener_cb cb, void *userdata,
                   ErrBuf *err);

/* Builds the request for one family into buf (>= 256 bytes, filled with
 * zeroes by the function). Returns the message length or -ENOBUFS. */
int diag_build_request(void *buf, size_t size, uint8_t family, uint32_t seq, const PortRange *ranges, size_t n_ranges);

/* Pure parser: parses one datagram of an inet_diag dump answer and appends
 * the listeners to out (no sorting, no deduplication). seq and portid are
 * checked unless 0. Returns 1 if more datagrams follow, 0 when NLMSG_DONE
 * was seen, or a negative errno (-EPROTO for malformed messages, the
 * kernel's error for NLMSG_ERROR, -ENOMEM). */
int diag_parse(const void *buf, size_t len, uint32_t seq, uint32_t portid, ListenerSet *out, ErrBuf *err);

/* Replays a file written by the recorder through diag_parse(), with sequence
 * and port id checks off, then sorts and deduplicates. Returns the number of
 * listeners or a negative errno. */
int diag_replay(FILE *f, ListenerSet *out, ErrBuf *err);

/* ---- exact lookups (src/diag-lookup.c) ------------------------------------
 * One known TCP listener read without a walk: a SOCK_DIAG_BY_FAMILY request
 * without NLM_F_DUMP, keyed by the listener's family, local address, port,
 * bound device (Listener.ifindex) and cookie. The kernel finds it with the
 * hash lookup that incoming SYNs use (established, then listener hash;
 * inet_diag's find_one) and checks the cookie, so the answer is that very
 * socket or nothing. Wildcard (0.0.0.0, [::]) and dual-stack listeners are
 * found as any other; a listener bound to a device only with its ifindex.
 * The lookup cannot address one member of an SO_REUSEPORT group: the
 * kernel picks a member by hash, the same one every time, and the others
 * read as absent. Read such groups with a port-filtered dump instead. */

/* Builds the lookup request for key into buf (>= 256 bytes, zeroed
 * first): NLM_F_REQUEST | NLM_F_ACK (the ACK ends a successful answer),
 * key's family, IPPROTO_TCP, idiag_states = 1<<TCP_LISTEN,
 * INET_DIAG_SKMEMINFO, id.idiag_src = key->addr, id.idiag_sport =
 * key->port, id.idiag_if = key->ifindex, id.idiag_cookie = key->cookie,
 * the remote side zero. Returns the message length, -EAFNOSUPPORT for a
 * family other than AF_INET/AF_INET6, or -ENOBUFS. */
int diag_build_lookup_request(void *buf, size_t size, uint32_t seq, const Listener *key);

/* Pure parser of one datagram of a lookup's answer: a listener message is
 * stored in *ret (the first; *n_found counts them), an ACK ends the
 * answer. NLMSG_ERROR with ENOENT (no such socket, or, since Linux 6.16, a
 * cookie that does not match) or ESTALE (a cookie that does not match,
 * before) also ends it: the listener is absent. Returns 1 if more
 * datagrams follow, 0 when the answer is complete, or a negative errno as
 * diag_parse() (any other kernel error, -EPROTO). */
int diag_parse_lookup(const void *buf, size_t len, uint32_t seq, uint32_t portid, Listener *ret, size_t *n_found,
                      ErrBuf *err);

/* Looks key up (see above). Returns 1 with the listener as the kernel has
 * it now in *ret (netns as set by diag_set_netns()), 0 when the namespace
 * has no such listener any more (closed, replaced, or a member of an
 * SO_REUSEPORT group the kernel did not pick), or a negative errno as
 * diag_dump_each() (err prefixed "lookup: "; -EPROTO also when the kernel
 * answers with another socket or with several). After 0 or 1 the socket
 * is ready for the next request. */
int diag_lookup_listener(DiagSocket *s, const Listener *key, Listener *ret, ErrBuf *err);

/* UNIX listeners: SOCK_STREAM and SOCK_SEQPACKET sockets in TCP_LISTEN
 * state, through unix_diag (UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN |
 * UDIAG_SHOW_UID) on the same socket. Each is handed to cb, in the kernel's
 * order, as a Listener with kind = LISTENER_UNIX, family AF_UNIX, path (a
 * filesystem path, "@name" for an abstract name with any NUL inside shown as
 * '@' as ss does, "" if unnamed), depth = udiag_rqueue (connections waiting
 * for accept()), backlog = udiag_wqueue (the listen() backlog, capped by
 * somaxconn; the queue holds backlog + 1 as for TCP), inode, cookie, uid
 * (UINT32_MAX when the kernel does not send UNIX_DIAG_UID, before Linux
 * 5.3), no clients (diag_unix_clients()), has_drops = false (the kernel
 * counts no drops for UNIX listeners),
 * port 0, netns as set by diag_set_netns(). Returns the number handed over; errors as
 * diag_dump_each(), with err prefixed "unix dump: ". */
int diag_dump_unix(DiagSocket *s, diag_listener_cb cb, void *userdata, ErrBuf *err);

/* Pure parser of one datagram of a unix_diag dump answer, as diag_parse():
 * appends the listeners to out; 1 if more datagrams follow, 0 after
 * NLMSG_DONE, or a negative errno. */
int diag_parse_unix(const void *buf, size_t len, uint32_t seq, uint32_t portid, ListenerSet *out, ErrBuf *err);

/* Builds the unix_diag dump request into buf (>= 64 bytes, zeroed by the
 * function). Returns the message length or -ENOBUFS. */
int diag_build_unix_request(void *buf, size_t size, uint32_t seq);

/* The waiting clients of UNIX listener l (its inode and cookie): one exact
 * unix_diag request (UDIAG_SHOW_ICONS), not part of the dump, because the
 * kernel lists every waiting client in one attribute, which for a queue of
 * thousands would not fit a dump's buffer and end it early. Sets l's
 * clients (the inodes of the first LISTENER_CLIENTS_MAX clients' sockets,
 * in queue order; 0 for a client gone), n_clients and head (the first).
 * Returns 1, 0 when none are known (the listener is gone, or its queue is
 * too long for the kernel's answer: past about a thousand), or a negative
 * errno of the exchange. */
int diag_unix_clients(DiagSocket *s, Listener *l, ErrBuf *err);

/* Its request: exact, by inode and cookie, with ACK. */
int diag_build_unix_icons_request(void *buf, size_t size, uint32_t seq, uint32_t inode, uint64_t cookie);

/* ---- SYN-queue entries (src/diag-syn.c) ----------------------------------
 * Request sockets (connections between SYN and the final ACK, the SYN queue)
 * counted per (family, local address, port). The kernel dumps them for
 * idiag_states = 1<<TCP_SYN_RECV (it adds TCP_NEW_SYN_RECV itself), with the
 * concrete local address the client connected to and no link to the
 * listener. Such a dump walks every connection of the namespace (the
 * established hash), not only the listener hash: run it on its own, slower
 * cadence. Like `ss -tn state syn-recv`, it also counts the rare full
 * sockets in SYN_RECV (TCP Fast Open children waiting for the final ACK). */

typedef struct SynCount {
        uint8_t family;   /* the request's family: AF_INET, or AF_INET6 (also
                           * for IPv4 clients of a dual-stack [::] listener,
                           * whose address then is v4-mapped ::ffff:a.b.c.d) */
        uint8_t addr[16]; /* local address, network byte order; IPv4 uses 4 */
        uint16_t port;    /* local port, host byte order */
        uint32_t n;       /* request sockets */
} SynCount;

/* Reused between dumps so that the steady state allocates nothing. */
typedef struct SynCounts {
        SynCount *items;
        size_t n, cap;
} SynCounts;

/* Builds the request into buf (>= 256 bytes, zeroed first): AF_UNSPEC asks
 * for both families in one walk (TCPDIAG_GETSOCK), AF_INET/AF_INET6 for one
 * (SOCK_DIAG_BY_FAMILY). Returns the message length or -ENOBUFS. */
int diag_build_syn_request(void *buf, size_t size, uint8_t family, uint32_t seq);

/* Clears out, then dumps the request sockets of both families and counts
 * them per (family, address, port); out ends sorted (syn_counts_sort()).
 * Returns the number of request sockets, or the errors of
 * diag_dump_listeners() (out is then empty). */
int diag_count_syn(DiagSocket *s, SynCounts *out, ErrBuf *err);

/* Pure parser of one datagram of such a dump: adds its request sockets to
 * out (entries may repeat a key until syn_counts_sort()). seq and portid are
 * checked unless 0. Returns 1 if more datagrams follow, 0 after NLMSG_DONE,
 * or a negative errno (-EPROTO for malformed input, -ENOMEM, the kernel's
 * error). */
int diag_parse_syn(const void *buf, size_t len, uint32_t seq, uint32_t portid, SynCounts *out, ErrBuf *err);

/* Sorts by (family, port, address) and merges entries of the same key,
 * summing their counts. syn_counts_for() needs this order. */
void syn_counts_sort(SynCounts *c);

/* The request sockets that belong to listener l (c sorted): same port, and
 * the same family and address, or l is a wildcard: 0.0.0.0 takes every
 * AF_INET request of its port; [::] every AF_INET6 request of its port but,
 * when v6only, the v4-mapped ones, and when !v6only (a dual-stack
 * listener) AF_INET requests too. Listener has no v6only field: the caller
 * says (it is ignored for AF_INET listeners).
 * Ambiguities, by design: every member of an SO_REUSEPORT group (and every
 * listener of the same address and port bound to different devices) gets
 * the whole group's count, as the kernel does not say which member's queue
 * holds a request; sum them and you count the group several times. A
 * wildcard listener's count also includes requests for addresses that a
 * more specific listener on the same port handles. */
uint32_t syn_counts_for(const SynCounts *c, const Listener *l, bool v6only);

void syn_counts_done(SynCounts *c);

/* ---- accept-queue entries (src/diag-wait.c) -------------------------------
 * Connections whose handshake completed but that no accept() took yet: full
 * sockets in ESTABLISHED, or CLOSE_WAIT when their client already closed,
 * with inode 0 (no struct socket before accept()), on the listener's local
 * address and port. Their tcp_info's tcpi_last_data_sent is their age (they
 * never sent data), and the queue is FIFO, so the largest age is how long
 * the head of the queue has waited. Like the SYN count, the dump walks
 * every connection of the namespace: ask only for the ports of listeners
 * whose queue is not empty. Keys and matching are those of SynCount. */

typedef struct WaitCount {
        uint8_t family;     /* as SynCount */
        uint8_t addr[16];   /* local address, network byte order */
        uint16_t port;      /* local port, host byte order */
        uint32_t n;         /* queued connections */
        uint32_t gave_up;   /* of which CLOSE_WAIT: their client closed */
        uint32_t n_aged;    /* of which sent a tcp_info long enough to hold the age */
        uint32_t oldest_ms; /* the largest age among those, in ms */
        uint64_t head;      /* the cookie of that oldest one (of equal ages, the
                             * smallest cookie): the head of the queue */
} WaitCount;

/* Reused between dumps so that the steady state allocates nothing. */
typedef struct WaitCounts {
        WaitCount *items;
        size_t n, cap;
        /* Cookies to look for among the queued connections (sorted; the
         * caller's), and whether the last count found each (the caller's,
         * n_look_for entries, cleared by diag_count_wait()). */
        const uint64_t *look_for;
        bool *found;
        size_t n_look_for;
} WaitCounts;

/* The accept queue of one listener, as wait_counts_for() sums it. */
typedef struct QueueWait {
        uint32_t n;       /* queued connections found */
        uint32_t gave_up; /* of which their client closed */
        uint32_t wait_ms; /* the oldest one's age; valid when has_age */
        uint64_t head;    /* the oldest one's cookie; valid when has_age */
        bool has_age;
} QueueWait;

/* Builds the request into buf (>= 256 bytes, zeroed first): states
 * ESTABLISHED and CLOSE_WAIT, INET_DIAG_INFO, local ports in ranges (none:
 * every port); family as diag_build_syn_request(). Returns the message
 * length or -ENOBUFS (also for more than DIAG_MAX_RANGES ranges). */
int diag_build_wait_request(void *buf, size_t size, uint8_t family, uint32_t seq, const PortRange *ranges,
                            size_t n_ranges);

/* Clears out, then dumps the queued connections of both families on the
 * ports in ranges and sums them per (family, address, port); out ends
 * sorted (wait_counts_sort()), and out->found says which of out->look_for
 * are queued. Returns the number of queued connections,
 * or the errors of diag_dump_listeners() (out is then empty). */
int diag_count_wait(DiagSocket *s, const PortRange *ranges, size_t n_ranges, WaitCounts *out, ErrBuf *err);

/* The request of diag_count_syn_wait(): states SYN_RECV, ESTABLISHED and
 * CLOSE_WAIT, INET_DIAG_INFO, and a filter that lets every request socket
 * through and the other sockets on ports in ranges. Length or -ENOBUFS. */
int diag_build_syn_wait_request(void *buf, size_t size, uint8_t family, uint32_t seq, const PortRange *ranges,
                                size_t n_ranges);

/* diag_count_syn() and diag_count_wait() in one walk of the connections:
 * both walks cost the same (the kernel visits every connection either
 * way), so one instead of two halves the cost. The filter tells request
 * sockets from full sockets by their cgroup id (0): a kernel that does
 * not know INET_DIAG_BC_CGROUP_COND refuses it, and then this returns
 * -EOPNOTSUPP, now and from then on, with nothing counted: the caller
 * uses the two walks. A SYN_RECV full socket (a TCP Fast Open child) is
 * counted only on a port of ranges. Returns the entries seen or a
 * negative errno. */
int diag_count_syn_wait(DiagSocket *s, const PortRange *ranges, size_t n_ranges, SynCounts *syn, WaitCounts *wait,
                        ErrBuf *err);

/* Pure parser of one datagram of such a dump: adds its queued connections
 * (inode 0, ESTABLISHED or CLOSE_WAIT; others are skipped) to out (entries
 * may repeat a key until wait_counts_sort()). A tcp_info shorter than
 * tcpi_last_data_sent (older kernels send a shorter struct) or none counts
 * the connection without an age. Returns as diag_parse_syn(). */
int diag_parse_wait(const void *buf, size_t len, uint32_t seq, uint32_t portid, WaitCounts *out, ErrBuf *err);

/* Sorts by (family, port, address) and merges entries of the same key:
 * counts summed (saturating), ages the largest, with its head. */
void wait_counts_sort(WaitCounts *c);

/* The queued connections of listener l (c sorted), matched by the rules of
 * syn_counts_for(), with its ambiguities: every member of an SO_REUSEPORT
 * group gets the group's sums and its oldest age. Returns true and fills
 * *ret when at least one was found, false otherwise (ret untouched). */
bool wait_counts_for(const WaitCounts *c, const Listener *l, bool v6only, QueueWait *ret);

void wait_counts_done(WaitCounts *c);
