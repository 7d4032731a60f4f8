/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the sock_diag readers (diag.c for inet_diag, diag-unix.c for
 * unix_diag): the socket, the receive loop and the checks every dump answer
 * goes through. Not part of the diag module's interface. */

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "diag.h"

struct DiagSocket {
        struct mnl_socket *nl;
        uint32_t portid;
        uint32_t seq;
        FILE *recorder;
        uint8_t *buf;        /* DIAG_BUFFER_SIZE bytes, requests and answers */
        bool per_family;     /* the kernel refused the one-walk request */
        bool no_cgroup_cond; /* the kernel refused INET_DIAG_BC_CGROUP_COND */
        uint64_t netns;      /* stamped into every Listener (diag_set_netns()) */
};

/* State shared by the libmnl callbacks of one parse of a datagram. */
typedef struct ParseContext {
        diag_listener_cb cb; /* receives each listener */
        void *userdata;
        size_t n; /* listeners handed to cb */
        ErrBuf *err;
        int error;      /* set by a callback that returns MNL_CB_ERROR */
        uint64_t netns; /* Listener.netns of what is handed to cb */
        bool done;
} ParseContext;

/* Sets ctx->error to r and the reason from fmt, returns MNL_CB_ERROR. */
int diag_ctx_fail(ParseContext *ctx, int r, const char *fmt, ...) _printf_(3, 4);

/* Hands l to ctx->cb and counts it: MNL_CB_OK, or MNL_CB_ERROR with the
 * callback's error. */
int diag_ctx_deliver(ParseContext *ctx, const Listener *l);

/* The inet_diag_msg of a data message, after checking its type
 * (SOCK_DIAG_BY_FAMILY or TCPDIAG_GETSOCK), length and family (AF_INET or
 * AF_INET6); NULL after diag_ctx_fail() otherwise. */
const struct inet_diag_msg *diag_get_inet_msg(const struct nlmsghdr *nlh, ParseContext *ctx);

/* The data callback of inet_diag listener answers (dump or exact lookup):
 * converts a TCP_LISTEN inet_diag_msg to a Listener and hands it to the
 * ParseContext's cb; other states are skipped. */
int diag_inet_listener_cb(const struct nlmsghdr *nlh, void *data);

/* mnl_attr_get_payload_len() and mnl_attr_get_payload() without a library
 * call: they run for every attribute of every listener of a poll. */
static inline size_t diag_attr_len(const struct nlattr *a) {
        return a->nla_len - MNL_ATTR_HDRLEN;
}

static inline const void *diag_attr_data(const struct nlattr *a) {
        return (const uint8_t *) a + MNL_ATTR_HDRLEN;
}

/* Parses one datagram: checks every message's length (a cut datagram must
 * not look complete), then runs data_cb on each data message with a
 * ParseContext for cb/userdata/netns, and the shared control callbacks
 * (error, done, overrun). Adds the listeners handed over to *n. Returns 1
 * if more datagrams follow, 0 after NLMSG_DONE, or a negative errno. */
int diag_parse_each(const void *buf, size_t len, uint32_t seq, uint32_t portid, mnl_cb_t data_cb, diag_listener_cb cb,
                    void *userdata, uint64_t netns, size_t *n, ErrBuf *err);

/* The next sequence number of s, never 0. */
uint32_t diag_next_seq(DiagSocket *s);

/* Sends the len-byte request already built in s->buf, then receives,
 * records and parses the answer with data_cb until NLMSG_DONE. */
int diag_exchange(DiagSocket *s, size_t len, uint32_t seq, mnl_cb_t data_cb, diag_listener_cb cb, void *userdata,
                  size_t *n_seen, ErrBuf *err);

/* Prefixes err with what was being dumped: "inet6 dump: ...". Returns r. */
int diag_describe_dump_error(ErrBuf *err, int r, const char *what);

/* The callback of diag_count_syn(): counts one SYN_RECV entry into the
 * SynCounts of ctx->userdata. */
int diag_syn_data_cb(const struct nlmsghdr *nlh, void *data);

/* As diag_put_port_filter(), but the filter also lets every request socket
 * (SYN_RECV) through, whatever its port: INET_DIAG_BC_CGROUP_COND with id
 * 0, which only sockets that are not full sockets have, then the ports.
 * ranges may be empty (request sockets only). */
int diag_put_requests_filter(struct nlmsghdr *nlh, size_t size, const PortRange *ranges, size_t n_ranges);

/* Builds a request of one family (AF_UNSPEC: both, the old request) for
 * the port ranges given (none: all) into buf: its length or a negative
 * errno. */
typedef int (*diag_build_fn)(void *buf, size_t size, uint8_t family, uint32_t seq, const PortRange *ranges,
                             size_t n_ranges);

/* One dump of both families: what to ask and what to do with the answer. */
typedef struct DiagDump {
        const char *what; /* in errors after the family ("inet6 syn-recv dump: ..."); NULL: none */
        diag_build_fn build;
        const PortRange *ranges; /* for build */
        size_t n_ranges;
        /* A refusal of the request is its filter's, not the old request's:
         * no fallback to one dump per family. */
        bool no_fallback;
        mnl_cb_t data_cb;
        diag_listener_cb cb;
        void *userdata;
} DiagDump;

/* Runs d over both families: one walk with the old request, or, on a kernel
 * that refuses it at once (nothing delivered), one dump per family, for
 * good (s remembers). Adds the entries handed over to *n; 0 or a negative
 * errno with err naming the dump. */
int diag_dump_families(DiagSocket *s, const DiagDump *d, size_t *n, ErrBuf *err);

/* Sorts and deduplicates the entries of out from index start on; returns
 * how many remain there. */
size_t diag_sort_dedup_tail(ListenerSet *out, size_t start);

/* Puts the header of an inet_diag dump request for the given states and
 * extensions into buf (zeroed first, >= 256 bytes): AF_UNSPEC builds the old
 * TCPDIAG_GETSOCK request (both families in one walk), any other family
 * SOCK_DIAG_BY_FAMILY. *ret_id points at the request's socket id, for
 * filters. NULL if buf is too small. */
struct nlmsghdr *diag_put_inet_request(void *buf, size_t size, uint8_t family, uint32_t seq, uint32_t states,
                                       uint8_t ext, struct inet_diag_sockid **ret_id);

/* Restricts the request nlh (built by diag_put_inet_request() into a buffer
 * of size bytes, id its socket id) to local ports in ranges: one port
 * through id->idiag_sport, anything else as INET_DIAG_REQ_BYTECODE; none:
 * every port. Returns the message length, or -ENOBUFS (too many ranges or
 * no room). */
int diag_put_port_filter(struct nlmsghdr *nlh, size_t size, struct inet_diag_sockid *id, const PortRange *ranges,
                         size_t n_ranges);

/* Whether a socket keyed (family, local address addr, port), as the SYN
 * and accept-queue dumps report them, belongs to listener l: the rules of
 * syn_counts_for() (diag.h), shared by every per-listener lookup. */
bool diag_key_matches(const Listener *l, bool v6only, uint8_t family, const uint8_t addr[16], uint16_t port);

/* Walks the attributes that follow a family header of hdrlen bytes to the
 * end of the message and stores each of type < n in tb[type] (tb has n
 * slots, cleared first; the last of a type wins); others are skipped, as
 * are types newer than our headers. Returns false if an attribute is cut
 * or shorter than its header: a dump answer is consumed to its end, where
 * mnl_attr_parse() would stop silently. Payload lengths are the caller's
 * to check. */
static inline bool diag_attr_table(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr **tb, size_t n) {
        const uint8_t *p = (const uint8_t *) nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(hdrlen);
        const uint8_t *tail = (const uint8_t *) nlh + nlh->nlmsg_len;

        /* Inline, in place, no libmnl calls: this runs for every listener
         * of every poll. */
        if (n > 0) /* memset(NULL, 0, 0) is undefined */
                memset(tb, 0, n * sizeof(*tb));
        while (p < tail) {
                const struct nlattr *a = (const struct nlattr *) p;
                size_t left = (size_t) (tail - p), type = a->nla_type & NLA_TYPE_MASK, step;

                if (left < sizeof(*a) || a->nla_len < sizeof(*a) || a->nla_len > left)
                        return false;
                if (type < n)
                        tb[type] = a;
                step = MNL_ALIGN((size_t) a->nla_len);
                if (step >= left) /* the last one, maybe without its padding */
                        break;
                p += step;
        }
        return true;
}
