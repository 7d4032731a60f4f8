/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "diag-internal.h"
#include "diag.h"

/* The kernel's TCP states (include/net/tcp_states.h) are not in its uapi
 * headers, and <netinet/tcp.h>, which has them, clashes with the struct
 * tcp_info of <linux/tcp.h>. */
enum {
        STATE_ESTABLISHED = 1,
        STATE_SYN_RECV = 3,
        STATE_CLOSE_WAIT = 8,
};

/* Where the age lies in the kernel's tcp_info, and how much of it must be
 * there: older kernels send a shorter struct. */
#define AGE_OFFSET offsetof(struct tcp_info, tcpi_last_data_sent)
#define AGE_END (AGE_OFFSET + sizeof(((struct tcp_info *) NULL)->tcpi_last_data_sent))

int diag_build_wait_request(void *buf, size_t size, uint8_t family, uint32_t seq, const PortRange *ranges,
                            size_t n_ranges) {
        struct inet_diag_sockid *id;
        struct nlmsghdr *nlh =
                diag_put_inet_request(buf, size, family, seq, (1U << STATE_ESTABLISHED) | (1U << STATE_CLOSE_WAIT),
                                      1U << (INET_DIAG_INFO - 1), &id);

        if (!nlh)
                return -ENOBUFS;
        return diag_put_port_filter(nlh, size, id, ranges, n_ranges);
}

int diag_build_syn_wait_request(void *buf, size_t size, uint8_t family, uint32_t seq, const PortRange *ranges,
                                size_t n_ranges) {
        struct inet_diag_sockid *id;
        struct nlmsghdr *nlh = diag_put_inet_request(
                buf, size, family, seq, (1U << STATE_SYN_RECV) | (1U << STATE_ESTABLISHED) | (1U << STATE_CLOSE_WAIT),
                1U << (INET_DIAG_INFO - 1), &id);

        if (!nlh)
                return -ENOBUFS;
        /* Never id->idiag_sport: it would filter the SYN_RECV entries too. */
        return diag_put_requests_filter(nlh, size, ranges, n_ranges);
}

static int key_cmp(const WaitCount *a, const WaitCount *b) {
        if (a->family != b->family)
                return a->family < b->family ? -1 : 1;
        if (a->port != b->port)
                return a->port < b->port ? -1 : 1;
        return memcmp(a->addr, b->addr, sizeof(a->addr));
}

static int count_cmp(const void *a, const void *b) {
        return key_cmp(a, b);
}

static uint32_t add_sat(uint32_t a, uint32_t b) {
        return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/* Adds b's connections into a (same key). The head is the oldest one; of
 * equal ages (the age counts in ms), the smallest cookie, so that the same
 * queue gives the same head. */
static void merge(WaitCount *a, const WaitCount *b) {
        bool older = b->n_aged > 0 && (a->n_aged == 0 || b->oldest_ms > a->oldest_ms ||
                                       (b->oldest_ms == a->oldest_ms && b->head < a->head));

        a->n = add_sat(a->n, b->n);
        a->gave_up = add_sat(a->gave_up, b->gave_up);
        a->n_aged = add_sat(a->n_aged, b->n_aged);
        if (older) {
                a->oldest_ms = b->oldest_ms;
                a->head = b->head;
        }
}

void wait_counts_sort(WaitCounts *c) {
        size_t w = 0;

        if (c->n == 0)
                return;
        qsort(c->items, c->n, sizeof(*c->items), count_cmp);
        for (size_t i = 1; i < c->n; i++) {
                if (key_cmp(&c->items[w], &c->items[i]) == 0)
                        merge(&c->items[w], &c->items[i]);
                else
                        c->items[++w] = c->items[i];
        }
        c->n = w + 1;
}

/* Appends one connection (one = its key, n = 1). As for the SYN count,
 * memory follows the number of distinct keys: a full array is merged
 * before it grows. */
static int add_connection(WaitCounts *c, const WaitCount *one) {
        if (c->n > 0 && key_cmp(&c->items[c->n - 1], one) == 0) {
                merge(&c->items[c->n - 1], one);
                return 0;
        }
        if (c->n == c->cap) {
                wait_counts_sort(c);
                if ((c->cap == 0 || c->n >= c->cap - c->cap / 4) && GROW(&c->items, &c->cap, c->cap + 1, 16) < 0)
                        return -ENOMEM;
        }
        c->items[c->n++] = *one;
        return 0;
}

/* Marks cookie found if c looks for it. */
static void look_for(WaitCounts *c, uint64_t cookie) {
        size_t lo = 0, hi = c->n_look_for;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (c->look_for[mid] == cookie) {
                        c->found[mid] = true;
                        return;
                }
                if (c->look_for[mid] < cookie)
                        lo = mid + 1;
                else
                        hi = mid;
        }
}

static int wait_data_cb(const struct nlmsghdr *nlh, void *data) {
        ParseContext *ctx = data;
        const struct inet_diag_msg *m = diag_get_inet_msg(nlh, ctx);
        const struct nlattr *tb[INET_DIAG_INFO + 1];
        WaitCount one = { .n = 1 };
        int r;

        if (!m)
                return MNL_CB_ERROR;
        if (!diag_attr_table(nlh, sizeof(*m), tb, ELEMENTSOF(tb)))
                return diag_ctx_fail(ctx, -EPROTO, "malformed attributes");
        /* An accepted connection has a struct socket, hence an inode. */
        if ((m->idiag_state != STATE_ESTABLISHED && m->idiag_state != STATE_CLOSE_WAIT) || m->idiag_inode != 0)
                return MNL_CB_OK;

        one.family = m->idiag_family;
        memcpy(one.addr, m->id.idiag_src, m->idiag_family == AF_INET ? 4 : 16);
        one.port = ntohs(m->id.idiag_sport);
        one.gave_up = m->idiag_state == STATE_CLOSE_WAIT;
        if (((WaitCounts *) ctx->userdata)->n_look_for > 0)
                look_for(ctx->userdata, (uint64_t) m->id.idiag_cookie[0] | (uint64_t) m->id.idiag_cookie[1] << 32);
        if (tb[INET_DIAG_INFO] && diag_attr_len(tb[INET_DIAG_INFO]) >= AGE_END) {
                uint32_t age;

                memcpy(&age, (const uint8_t *) diag_attr_data(tb[INET_DIAG_INFO]) + AGE_OFFSET, sizeof(age));
                one.n_aged = 1;
                one.oldest_ms = age;
                one.head = (uint64_t) m->id.idiag_cookie[0] | (uint64_t) m->id.idiag_cookie[1] << 32;
        }
        r = add_connection(ctx->userdata, &one);
        if (r < 0)
                return diag_ctx_fail(ctx, r, "out of memory");
        ctx->n++;
        return MNL_CB_OK;
}

int diag_parse_wait(const void *buf, size_t len, uint32_t seq, uint32_t portid, WaitCounts *out, ErrBuf *err) {
        size_t n = 0;

        return diag_parse_each(buf, len, seq, portid, wait_data_cb, NULL, out, 0, &n, err);
}

int diag_count_wait(DiagSocket *s, const PortRange *ranges, size_t n_ranges, WaitCounts *out, ErrBuf *err) {
        DiagDump d = { .what = "accept queues",
                       .build = diag_build_wait_request,
                       .ranges = ranges,
                       .n_ranges = n_ranges,
                       .data_cb = wait_data_cb,
                       .userdata = out };
        size_t n = 0;
        int r;

        out->n = 0;
        for (size_t i = 0; i < out->n_look_for; i++)
                out->found[i] = false;
        r = diag_dump_families(s, &d, &n, err);
        if (r < 0) {
                out->n = 0;
                return r;
        }
        wait_counts_sort(out);
        return n > INT_MAX ? INT_MAX : (int) n;
}

typedef struct {
        SynCounts *syn;
        WaitCounts *wait;
} SynWait;

/* SYN_RECV entries to the SYN count, the rest to the wait count. */
static int syn_wait_cb(const struct nlmsghdr *nlh, void *data) {
        ParseContext *ctx = data;
        const struct inet_diag_msg *m = diag_get_inet_msg(nlh, ctx);
        SynWait *both = ctx->userdata;
        int r;

        if (!m)
                return MNL_CB_ERROR;
        if (m->idiag_state == STATE_SYN_RECV) {
                ctx->userdata = both->syn;
                r = diag_syn_data_cb(nlh, ctx);
        } else {
                ctx->userdata = both->wait;
                r = wait_data_cb(nlh, ctx);
        }
        ctx->userdata = both;
        return r;
}

int diag_count_syn_wait(DiagSocket *s, const PortRange *ranges, size_t n_ranges, SynCounts *syn, WaitCounts *wait,
                        ErrBuf *err) {
        SynWait both = { syn, wait };
        DiagDump d = { .what = "syn-recv and accept queues",
                       .build = diag_build_syn_wait_request,
                       .ranges = ranges,
                       .n_ranges = n_ranges,
                       .data_cb = syn_wait_cb,
                       .userdata = &both,
                       .no_fallback = true };
        size_t n = 0;
        int r;

        if (s->no_cgroup_cond)
                return -EOPNOTSUPP;
        syn->n = wait->n = 0;
        for (size_t i = 0; i < wait->n_look_for; i++)
                wait->found[i] = false;
        r = diag_dump_families(s, &d, &n, err);
        if (r < 0) {
                syn->n = wait->n = 0;
                /* A kernel without the cgroup condition (before 5.9, or
                 * without CONFIG_SOCK_CGROUP_DATA) refuses the filter at
                 * once: two walks from now on (so does one without the
                 * old request, which loses only the one walk). */
                if (n == 0 && r == -EINVAL) {
                        s->no_cgroup_cond = true;
                        return -EOPNOTSUPP;
                }
                return r;
        }
        syn_counts_sort(syn);
        wait_counts_sort(wait);
        return n > INT_MAX ? INT_MAX : (int) n;
}

/* Index of the first entry not below (family, port, zero address). */
static size_t lower_bound(const WaitCounts *c, uint8_t family, uint16_t port) {
        WaitCount key = { .family = family, .port = port };
        size_t lo = 0, hi = c->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (key_cmp(&c->items[mid], &key) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

bool wait_counts_for(const WaitCounts *c, const Listener *l, bool v6only, QueueWait *ret) {
        static const uint8_t families[] = { AF_INET, AF_INET6 };
        WaitCount sum = { 0 };

        for (size_t f = 0; f < ELEMENTSOF(families); f++)
                for (size_t i = lower_bound(c, families[f], l->port);
                     i < c->n && c->items[i].family == families[f] && c->items[i].port == l->port; i++)
                        if (diag_key_matches(l, v6only, c->items[i].family, c->items[i].addr, c->items[i].port))
                                merge(&sum, &c->items[i]);
        if (sum.n == 0)
                return false;
        *ret = (QueueWait){ .n = sum.n,
                            .gave_up = sum.gave_up,
                            .wait_ms = sum.oldest_ms,
                            .head = sum.head,
                            .has_age = sum.n_aged > 0 };
        return true;
}

void wait_counts_done(WaitCounts *c) {
        free(c->items);
        *c = (WaitCounts){ 0 };
}
