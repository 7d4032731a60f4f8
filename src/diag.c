/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "diag.h"
#include "diag-internal.h"

/* A dump that stalls this long is abandoned: the daemon must never hang on
 * the kernel. */
#define DIAG_RECV_TIMEOUT_SEC 5

static int errno_fail(ErrBuf *err, const char *what) {
        int e = errno > 0 ? errno : EIO;

        return errbuf_set(err, -e, "%s: %s", what, strerror(e));
}

static const char *family_name(uint8_t family) {
        return family == AF_INET6 ? "inet6" : "inet";
}

/* The bytecode below: T bytes in all, ACCEPT = a jump to exactly T, REJECT
 * = a jump to T + 4 (the kernel's inet_diag_bc_run() accepts when the
 * remaining length reaches 0). */
typedef struct {
        struct inet_diag_bc_op *ops;
        size_t k;     /* ops written */
        size_t total; /* T */
} Bytecode;

static size_t bc_size(size_t n_ranges) {
        /* a leaf: S_GE lo, S_LE hi (8 bytes each) and, but for the last, a
         * 4-byte JMP to ACCEPT; a branch: one S_GE (8 bytes) per inner node */
        return n_ranges * 28 - 12;
}

static uint16_t bc_to(const Bytecode *b, size_t target) {
        return (uint16_t) (target - b->k * 4);
}

static void bc_compare(Bytecode *b, uint8_t code, uint16_t port, size_t fail) {
        b->ops[b->k] = (struct inet_diag_bc_op){ code, 8, bc_to(b, fail) };
        b->ops[b->k + 1] = (struct inet_diag_bc_op){ 0, 0, port };
        b->k += 2;
}

/* Ranges [lo, hi) as a search tree, laid out so that every op's yes is the
 * next op: inet_diag_bc_audit() walks the program along yes and accepts
 * only jumps that land on an op of that walk. A branch tests sport >=
 * the first port of the upper half: yes falls through into the upper
 * half, no jumps over it to the lower half. The last range laid out ends
 * the program (falls through to ACCEPT); every other ends with a JMP. */
static void bc_tree(Bytecode *b, const PortRange *ranges, size_t lo, size_t hi, bool last) {
        size_t reject = b->total + 4;

        if (hi - lo == 1) {
                bc_compare(b, INET_DIAG_BC_S_GE, ranges[lo].lo, reject);
                bc_compare(b, INET_DIAG_BC_S_LE, ranges[lo].hi, reject);
                if (!last) {
                        b->ops[b->k] = (struct inet_diag_bc_op){ INET_DIAG_BC_JMP, 4, bc_to(b, b->total) };
                        b->k++;
                }
                return;
        }

        size_t mid = lo + (hi - lo) / 2;
        size_t branch = b->k;

        bc_compare(b, INET_DIAG_BC_S_GE, ranges[mid].lo, 0);
        bc_tree(b, ranges, mid, hi, false);
        b->ops[branch].no = (uint16_t) ((b->k - branch) * 4);
        bc_tree(b, ranges, lo, mid, last);
}

/* Port ranges (sorted, disjoint) as kernel bytecode: a binary search, so
 * that a socket costs the kernel about log2(n) + 2 comparisons (ss's
 * chain of ranges costs up to 2n). */
static int range_cmp(const void *a, const void *b) {
        const PortRange *x = a, *y = b;

        return (x->lo > y->lo) - (x->lo < y->lo);
}

static int put_bytecode(struct nlmsghdr *nlh, size_t size, const PortRange *ranges, size_t n_ranges, bool requests) {
        struct inet_diag_bc_op ops[DIAG_MAX_RANGES * 7 + 4]; /* zeroed below as far as used */
        PortRange sorted[DIAG_MAX_RANGES];
        Bytecode b = { .ops = ops };
        size_t n = 0;

        if (n_ranges > DIAG_MAX_RANGES)
                return -ENOBUFS;
        /* The search needs them sorted and disjoint: callers' ranges may
         * come in any order (the daemon's come sorted, once per poll). */
        if (n_ranges > 0) { /* ranges may be NULL then, which memcpy() must not get */
                bool in_order = true;

                memcpy(sorted, ranges, n_ranges * sizeof(*ranges));
                for (size_t i = 1; i < n_ranges && in_order; i++)
                        in_order = sorted[i - 1].lo <= sorted[i].lo;
                if (!in_order)
                        qsort(sorted, n_ranges, sizeof(*sorted), range_cmp);
        }
        for (size_t i = 0; i < n_ranges; i++) {
                if (n > 0 && (uint32_t) sorted[i].lo <= (uint32_t) sorted[n - 1].hi + 1) {
                        if (sorted[i].hi > sorted[n - 1].hi)
                                sorted[n - 1].hi = sorted[i].hi;
                } else
                        sorted[n++] = sorted[i];
        }
        /* Request sockets first: CGROUP_COND 0 (the op and a u64 id, 12
         * bytes) falls through to a JMP to ACCEPT; otherwise on to the
         * tree, or, with no port, REJECT. */
        b.total = (requests ? (n > 0 ? 16 : 12) : 0) + (n > 0 ? bc_size(n) : 0);
        if (nlh->nlmsg_len + MNL_ATTR_HDRLEN + b.total > size)
                return -ENOBUFS;
        memset(ops, 0, b.total);
        if (requests) {
                ops[0] = (struct inet_diag_bc_op){ INET_DIAG_BC_CGROUP_COND, 12,
                                                   (uint16_t) (n > 0 ? 16 : b.total + 4) };
                b.k = 3; /* ops[1] and ops[2]: the id, 0 */
                if (n > 0) {
                        ops[3] = (struct inet_diag_bc_op){ INET_DIAG_BC_JMP, 4, bc_to(&b, b.total) };
                        b.k = 4;
                }
        }
        if (n > 0)
                bc_tree(&b, sorted, 0, n, true);
        mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, b.total, ops);
        return 0;
}

struct nlmsghdr *diag_put_inet_request(void *buf, size_t size, uint8_t family, uint32_t seq, uint32_t states,
                                       uint8_t ext, struct inet_diag_sockid **ret_id) {
        struct nlmsghdr *nlh;

        if (size < 256 || size > UINT32_MAX)
                return NULL;
        memset(buf, 0, size);
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = seq;

        if (family == AF_UNSPEC) {
                /* The old TCPDIAG_GETSOCK request dumps with no family
                 * filter: both families in one walk of the hash, where
                 * SOCK_DIAG_BY_FAMILY needs one walk per family. */
                struct inet_diag_req *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));

                nlh->nlmsg_type = TCPDIAG_GETSOCK;
                req->idiag_states = states;
                req->idiag_ext = ext;
                *ret_id = &req->id;
        } else {
                struct inet_diag_req_v2 *req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));

                nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
                req->sdiag_family = family;
                req->sdiag_protocol = IPPROTO_TCP;
                req->idiag_states = states;
                req->idiag_ext = ext;
                *ret_id = &req->id;
        }
        return nlh;
}

int diag_put_port_filter(struct nlmsghdr *nlh, size_t size, struct inet_diag_sockid *id, const PortRange *ranges,
                         size_t n_ranges) {
        if (n_ranges == 1 && ranges[0].lo == ranges[0].hi)
                id->idiag_sport = htons(ranges[0].lo);
        else if (n_ranges > 0) {
                int r = put_bytecode(nlh, size, ranges, n_ranges, false);
                if (r < 0)
                        return r;
        }
        return (int) nlh->nlmsg_len;
}

int diag_put_requests_filter(struct nlmsghdr *nlh, size_t size, const PortRange *ranges, size_t n_ranges) {
        int r = put_bytecode(nlh, size, ranges, n_ranges, true);

        return r < 0 ? r : (int) nlh->nlmsg_len;
}

int diag_build_request(void *buf, size_t size, uint8_t family, uint32_t seq, const PortRange *ranges,
                       size_t n_ranges) {
        struct inet_diag_sockid *id;
        struct nlmsghdr *nlh =
                diag_put_inet_request(buf, size, family, seq, 1U << TCP_LISTEN, 1U << (INET_DIAG_SKMEMINFO - 1), &id);

        if (!nlh)
                return -ENOBUFS;
        return diag_put_port_filter(nlh, size, id, ranges, n_ranges);
}

int diag_ctx_fail(ParseContext *ctx, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        if (ctx->err)
                vsnprintf(ctx->err->text, sizeof(ctx->err->text), fmt, ap);
        va_end(ap);
        ctx->error = r;
        return MNL_CB_ERROR;
}

const struct inet_diag_msg *diag_get_inet_msg(const struct nlmsghdr *nlh, ParseContext *ctx) {
        const struct inet_diag_msg *m;

        if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY && nlh->nlmsg_type != TCPDIAG_GETSOCK) {
                diag_ctx_fail(ctx, -EPROTO, "unexpected message type %u", nlh->nlmsg_type);
                return NULL;
        }
        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*m)) {
                diag_ctx_fail(ctx, -EPROTO, "inet_diag_msg payload too short");
                return NULL;
        }
        m = mnl_nlmsg_get_payload(nlh);
        if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6) {
                diag_ctx_fail(ctx, -EPROTO, "unexpected address family %u", m->idiag_family);
                return NULL;
        }
        return m;
}

int diag_ctx_deliver(ParseContext *ctx, const Listener *l) {
        int r = ctx->cb(l, ctx->userdata);

        if (r < 0)
                return diag_ctx_fail(ctx, r, "%s", r == -ENOMEM ? "out of memory" : "listener rejected by the caller");
        ctx->n++;
        return MNL_CB_OK;
}

int diag_inet_listener_cb(const struct nlmsghdr *nlh, void *data) {
        ParseContext *ctx = data;
        const struct nlattr *tb[INET_DIAG_CGROUP_ID + 1];
        const struct inet_diag_msg *m = diag_get_inet_msg(nlh, ctx);
        Listener listener = { 0 }, *l = &listener;

        if (!m)
                return MNL_CB_ERROR;
        if (!diag_attr_table(nlh, sizeof(*m), tb, ELEMENTSOF(tb)) ||
            (tb[INET_DIAG_SKMEMINFO] && diag_attr_len(tb[INET_DIAG_SKMEMINFO]) % sizeof(uint32_t) != 0) ||
            (tb[INET_DIAG_CGROUP_ID] && diag_attr_len(tb[INET_DIAG_CGROUP_ID]) != sizeof(uint64_t)) ||
            (tb[INET_DIAG_SKV6ONLY] && diag_attr_len(tb[INET_DIAG_SKV6ONLY]) != sizeof(uint8_t)))
                return diag_ctx_fail(ctx, -EPROTO, "malformed attributes");

        /* The request asks for listeners only; anything else is skipped. */
        if (m->idiag_state != TCP_LISTEN)
                return MNL_CB_OK;

        l->family = m->idiag_family;
        memcpy(l->addr, m->id.idiag_src, m->idiag_family == AF_INET ? 4 : 16);
        l->port = ntohs(m->id.idiag_sport);
        l->ifindex = m->id.idiag_if;
        l->depth = m->idiag_rqueue;
        l->backlog = m->idiag_wqueue;
        l->cookie = (uint64_t) m->id.idiag_cookie[0] | (uint64_t) m->id.idiag_cookie[1] << 32;
        l->inode = m->idiag_inode;
        l->uid = m->idiag_uid;
        l->netns = ctx->netns;
        if (tb[INET_DIAG_SKMEMINFO] && diag_attr_len(tb[INET_DIAG_SKMEMINFO]) > SK_MEMINFO_DROPS * sizeof(uint32_t)) {
                l->drops = ((const uint32_t *) diag_attr_data(tb[INET_DIAG_SKMEMINFO]))[SK_MEMINFO_DROPS];
                l->has_drops = true;
        }
        if (tb[INET_DIAG_CGROUP_ID])
                l->cgroup_id = mnl_attr_get_u64(tb[INET_DIAG_CGROUP_ID]);
        l->v6only = tb[INET_DIAG_SKV6ONLY] && *(const uint8_t *) diag_attr_data(tb[INET_DIAG_SKV6ONLY]) != 0;
        return diag_ctx_deliver(ctx, l);
}

int diag_push_cb(const Listener *l, void *userdata) {
        Listener *slot = listener_set_push(userdata);

        if (!slot)
                return -ENOMEM;
        *slot = *l;
        return 0;
}

static int error_cb(const struct nlmsghdr *nlh, void *data) {
        ParseContext *ctx = data;
        const struct nlmsgerr *e;

        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
                return diag_ctx_fail(ctx, -EPROTO, "NLMSG_ERROR too short");
        e = mnl_nlmsg_get_payload(nlh);
        if (e->error == 0) { /* an ACK ends the exchange */
                ctx->done = true;
                return MNL_CB_STOP;
        }
        if (e->error > 0 || e->error < -4095)
                return diag_ctx_fail(ctx, -EPROTO, "NLMSG_ERROR with an invalid error code");
        if (e->error == -EBUSY)
                return diag_ctx_fail(ctx, e->error, "kernel answered EBUSY: another dump is running on this socket");
        return diag_ctx_fail(ctx, e->error, "kernel answered: %s", strerror(-e->error));
}

static int done_cb(const struct nlmsghdr *nlh, void *data) {
        ParseContext *ctx = data;

        /* The kernel puts the dump's final status in NLMSG_DONE. */
        if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int32_t)) {
                int32_t status;

                memcpy(&status, mnl_nlmsg_get_payload(nlh), sizeof(status));
                if (status < 0 && status >= -4095)
                        return diag_ctx_fail(ctx, status, "dump failed: %s", strerror(-status));
        }
        ctx->done = true;
        return MNL_CB_STOP;
}

static int overrun_cb(const struct nlmsghdr *nlh, void *data) {
        return diag_ctx_fail(data, -ENOSPC, "NLMSG_OVERRUN: the kernel dropped data");
}

/* Finds the first message whose sequence number or port id does not match,
 * to name it once libmnl has refused the datagram. */
static int describe_mismatch(const void *buf, size_t len, uint32_t seq, uint32_t portid, int errnum, ErrBuf *err) {
        const struct nlmsghdr *nlh = buf;
        int left = (int) len;

        for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
                if (portid && nlh->nlmsg_pid && nlh->nlmsg_pid != portid)
                        return errbuf_set(err, -errnum, "message for port id %u, expected %u", nlh->nlmsg_pid, portid);
                if (seq && nlh->nlmsg_seq && nlh->nlmsg_seq != seq)
                        return errbuf_set(err, -errnum, "sequence number %u, expected %u", nlh->nlmsg_seq, seq);
        }
        return errbuf_set(err, -errnum, "port id or sequence number mismatch");
}

int diag_parse_each(const void *buf, size_t len, uint32_t seq, uint32_t portid, mnl_cb_t data, diag_listener_cb cb,
                    void *userdata, uint64_t netns, size_t *n, ErrBuf *err) {
        ParseContext ctx = { .cb = cb, .userdata = userdata, .err = err, .netns = netns };
        /* Covering every control type turns libmnl's defaults off; NULL
         * (NLMSG_NOOP and the reserved ones) skips the message. */
        mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
                [NLMSG_ERROR] = error_cb,
                [NLMSG_DONE] = done_cb,
                [NLMSG_OVERRUN] = overrun_cb,
        };
        const uint8_t *p = buf;
        size_t left = len;
        int r;

        if (len == 0)
                return errbuf_set(err, -EPROTO, "empty datagram");
        if (len > INT32_MAX)
                return errbuf_set(err, -EPROTO, "datagram too long");
        /* mnl_cb_run() stops silently at a cut message, as at the end, and
         * mnl_nlmsg_ok() casts nlmsg_len to int, so that a length of 2 GiB
         * or more passes it; a cut datagram must not look like a complete
         * one, nor may a parser read past it. */
        while (left > 0) {
                const struct nlmsghdr *nlh = (const struct nlmsghdr *) p;
                size_t step;

                if (left < sizeof(*nlh))
                        return errbuf_set(err, -EPROTO, "%zu trailing bytes: netlink message too short", left);
                if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > left)
                        return errbuf_set(err, -EPROTO, "netlink message length %u invalid (%zu bytes left)",
                                          nlh->nlmsg_len, left);
                step = MNL_ALIGN(nlh->nlmsg_len);
                if (step >= left)
                        break;
                p += step;
                left -= step;
        }

        r = mnl_cb_run2(buf, len, seq, portid, data, &ctx, ctl_cbs, ELEMENTSOF(ctl_cbs));
        *n += ctx.n;
        if (r == MNL_CB_ERROR) {
                int e = errno;

                if (ctx.error < 0)
                        return ctx.error;
                if (e == ESRCH || e == EPROTO)
                        return describe_mismatch(buf, len, seq, portid, e, err);
                if (e == EINTR)
                        return errbuf_set(err, -EINTR, "dump interrupted (NLM_F_DUMP_INTR)");
                return errbuf_set(err, e > 0 ? -e : -EPROTO, "netlink parse error: %s", strerror(e));
        }
        return ctx.done ? 0 : 1;
}

int diag_parse(const void *buf, size_t len, uint32_t seq, uint32_t portid, ListenerSet *out, ErrBuf *err) {
        size_t n = 0;

        return diag_parse_each(buf, len, seq, portid, diag_inet_listener_cb, diag_push_cb, out, 0, &n, err);
}

/* Sorts and deduplicates only what was appended from index start on, so the
 * caller's earlier entries keep their place. */
size_t diag_sort_dedup_tail(ListenerSet *out, size_t start) {
        ListenerSet tail;

        if (out->n == start) /* items may still be NULL: no arithmetic on it */
                return 0;
        tail = (ListenerSet){
                .items = out->items + start,
                .n = out->n - start,
                .cap = out->cap - start,
        };
        size_t removed = listener_set_sort_dedup(&tail);

        out->n -= removed;
        return out->n - start;
}

int diag_replay(FILE *f, ListenerSet *out, ErrBuf *err) {
        _cleanup_(freep) uint8_t *buf = malloc(DIAG_BUFFER_SIZE);
        size_t start = out->n, records = 0;
        int last = 0;

        if (!buf)
                return errbuf_set(err, -ENOMEM, "out of memory");
        for (;;) {
                uint32_t len;
                size_t got = fread(&len, 1, sizeof(len), f);

                if (got == 0 && feof(f))
                        break;
                if (got != sizeof(len) || len > DIAG_BUFFER_SIZE || fread(buf, 1, len, f) != len) {
                        out->n = start;
                        if (ferror(f))
                                return errbuf_set(err, -EIO, "record %zu: read error", records);
                        return errbuf_set(err, -EPROTO, "record %zu: truncated or invalid length", records);
                }
                last = diag_parse(buf, len, 0, 0, out, err);
                if (last < 0) {
                        char why[sizeof(err->text)];

                        out->n = start;
                        if (err) {
                                memcpy(why, err->text, sizeof(why));
                                errbuf_set(err, last, "record %zu: %s", records, why);
                        }
                        return last;
                }
                records++;
        }
        if (last > 0) {
                out->n = start;
                return errbuf_set(err, -EPROTO, "recording ends before NLMSG_DONE");
        }
        return (int) diag_sort_dedup_tail(out, start);
}

void diag_set_netns(DiagSocket *s, uint64_t netns) {
        s->netns = netns;
}

DiagSocket *diag_close(DiagSocket *s) {
        if (!s)
                return NULL;
        if (s->nl)
                mnl_socket_close(s->nl);
        free(s->buf);
        free(s);
        return NULL;
}

static void diag_closep(DiagSocket **s) {
        diag_close(*s);
}

int diag_open(DiagSocket **ret, ErrBuf *err) {
        _cleanup_(diag_closep) DiagSocket *s = calloc(1, sizeof(*s));
        struct timeval tv = { .tv_sec = DIAG_RECV_TIMEOUT_SEC };

        if (!s)
                return errbuf_set(err, -ENOMEM, "out of memory");
        s->buf = malloc(DIAG_BUFFER_SIZE);
        if (!s->buf)
                return errbuf_set(err, -ENOMEM, "out of memory");
        s->nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
        if (!s->nl)
                return errno_fail(err, "cannot open NETLINK_SOCK_DIAG socket");
        if (setsockopt(mnl_socket_get_fd(s->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
                return errno_fail(err, "cannot set receive timeout");
        if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return errno_fail(err, "cannot bind NETLINK_SOCK_DIAG socket");
        s->portid = mnl_socket_get_portid(s->nl);
        s->seq = (uint32_t) time(NULL);

        *ret = s;
        s = NULL;
        return 0;
}

int diag_interface_name(DiagSocket *s, uint32_t ifindex, char ret_name[IF_NAMESIZE]) {
        struct ifreq ifr = { .ifr_ifindex = (int) ifindex };

        if (ifindex == 0 || ifindex > INT_MAX)
                return -ENODEV;
        /* Netlink does not handle SIOCGIFNAME itself, so the kernel's
         * sock_do_ioctl() hands it to dev_ioctl() in sock_net(): the
         * namespace this socket was opened in, not the caller's current. */
        if (ioctl(mnl_socket_get_fd(s->nl), SIOCGIFNAME, &ifr) < 0)
                return -errno;
        memcpy(ret_name, ifr.ifr_name, IF_NAMESIZE);
        ret_name[IF_NAMESIZE - 1] = '\0';
        return 0;
}

void diag_set_recorder(DiagSocket *s, FILE *f) {
        s->recorder = f;
}

/* Prefixes err with what was being dumped: "inet6 dump: ...". */
int diag_describe_dump_error(ErrBuf *err, int r, const char *what) {
        char why[sizeof(err->text)];

        if (err) {
                memcpy(why, err->text, sizeof(why));
                errbuf_set(err, r, "%s dump: %s", what, why);
        }
        return r;
}

static int record(DiagSocket *s, size_t n, ErrBuf *err) {
        uint32_t len = (uint32_t) n;

        if (fwrite(&len, sizeof(len), 1, s->recorder) != 1 || fwrite(s->buf, 1, n, s->recorder) != n)
                return errbuf_set(err, -EIO, "cannot write recording");
        return 0;
}

uint32_t diag_next_seq(DiagSocket *s) {
        uint32_t seq = ++s->seq;

        if (seq == 0) /* 0 turns libmnl's sequence check off */
                seq = ++s->seq;
        return seq;
}

int diag_exchange(DiagSocket *s, size_t len, uint32_t seq, mnl_cb_t data, diag_listener_cb cb, void *userdata,
                  size_t *n_seen, ErrBuf *err) {
        int r;

        if (mnl_socket_sendto(s->nl, s->buf, len) != (ssize_t) len)
                return errno_fail(err, "cannot send request");

        for (;;) {
                ssize_t n = mnl_socket_recvfrom(s->nl, s->buf, DIAG_BUFFER_SIZE);

                if (n < 0) {
                        if (errno == ENOSPC)
                                return errbuf_set(err, -ENOSPC, "datagram larger than %d bytes, truncated",
                                                  DIAG_BUFFER_SIZE);
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return errbuf_set(err, -ETIMEDOUT, "no answer within %d s", DIAG_RECV_TIMEOUT_SEC);
                        if (errno == EINTR)
                                continue;
                        return errno_fail(err, "receive failed");
                }
                if (s->recorder) {
                        r = record(s, (size_t) n, err);
                        if (r < 0)
                                return r;
                }
                r = diag_parse_each(s->buf, (size_t) n, seq, s->portid, data, cb, userdata, s->netns, n_seen, err);
                if (r <= 0)
                        return r;
        }
}

static int dump_one(DiagSocket *s, const DiagDump *d, uint8_t family, size_t *n, ErrBuf *err) {
        uint32_t seq = diag_next_seq(s);
        int len = d->build(s->buf, DIAG_BUFFER_SIZE, family, seq, d->ranges, d->n_ranges);

        if (len < 0)
                return errbuf_set(err, len, "cannot build request: %s", strerror(-len));
        return diag_exchange(s, (size_t) len, seq, d->data_cb, d->cb, d->userdata, n, err);
}

static int dump_failed(ErrBuf *err, int r, const char *family, const char *what) {
        char name[64];

        snprintf(name, sizeof(name), "%s%s%s", family, what ? " " : "", what ? what : "");
        return diag_describe_dump_error(err, r, name);
}

int diag_dump_families(DiagSocket *s, const DiagDump *d, size_t *n, ErrBuf *err) {
        static const uint8_t families[] = { AF_INET, AF_INET6 };
        size_t start = *n;
        int r;

        if (!s->per_family) {
                r = dump_one(s, d, AF_UNSPEC, n, err);
                if (r >= 0)
                        return 0;
                /* A kernel without the old request refuses it at once:
                 * fall back to one dump per family, for good. */
                if (*n > start || d->no_fallback || (r != -EINVAL && r != -ENOENT && r != -EOPNOTSUPP))
                        return dump_failed(err, r, "tcp", d->what);
                s->per_family = true;
        }
        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                r = dump_one(s, d, families[i], n, err);
                if (r < 0)
                        return dump_failed(err, r, family_name(families[i]), d->what);
        }
        return 0;
}

int diag_dump_each(DiagSocket *s, const PortRange *ranges, size_t n_ranges, diag_listener_cb cb, void *userdata,
                   ErrBuf *err) {
        DiagDump d = { .build = diag_build_request,
                       .ranges = ranges,
                       .n_ranges = n_ranges,
                       .data_cb = diag_inet_listener_cb,
                       .cb = cb,
                       .userdata = userdata };
        size_t n = 0;
        int r = diag_dump_families(s, &d, &n, err);

        if (r < 0)
                return r;
        return n > INT_MAX ? INT_MAX : (int) n;
}

int diag_dump_listeners(DiagSocket *s, const PortRange *ranges, size_t n_ranges, ListenerSet *out, ErrBuf *err) {
        size_t start = out->n;
        int r = diag_dump_each(s, ranges, n_ranges, diag_push_cb, out, err);

        if (r < 0) {
                out->n = start;
                return r;
        }
        return (int) diag_sort_dedup_tail(out, start);
}
