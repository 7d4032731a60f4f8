/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "diag-internal.h"
#include "diag.h"

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int diag_build_syn_request(void *buf, size_t size, uint8_t family, uint32_t seq) {
        struct inet_diag_sockid *id;
        /* No extensions: request sockets carry none of them. */
        struct nlmsghdr *nlh = diag_put_inet_request(buf, size, family, seq, 1U << TCP_SYN_RECV, 0, &id);

        return nlh ? (int) nlh->nlmsg_len : -ENOBUFS;
}

static int key_cmp(const SynCount *a, const SynCount *b) {
        if (a->family != b->family)
                return a->family < b->family ? -1 : 1;
        if (a->port != b->port)
                return a->port < b->port ? -1 : 1;
        return memcmp(a->addr, b->addr, sizeof(a->addr));
}

static int count_cmp(const void *a, const void *b) {
        return key_cmp(a, b);
}

void syn_counts_sort(SynCounts *c) {
        size_t w = 0;

        if (c->n == 0)
                return;
        qsort(c->items, c->n, sizeof(*c->items), count_cmp);
        for (size_t i = 1; i < c->n; i++) {
                if (key_cmp(&c->items[w], &c->items[i]) == 0) {
                        uint64_t sum = (uint64_t) c->items[w].n + c->items[i].n;

                        c->items[w].n = sum > UINT32_MAX ? UINT32_MAX : (uint32_t) sum;
                } else
                        c->items[++w] = c->items[i];
        }
        c->n = w + 1;
}

/* Appends one request socket. When the array is full, merging duplicates
 * usually makes room: memory follows the number of distinct keys, not the
 * number of requests (a SYN flood makes many of the same key). */
static int add_request(SynCounts *c, const SynCount *key) {
        if (c->n > 0 && key_cmp(&c->items[c->n - 1], key) == 0 && c->items[c->n - 1].n < UINT32_MAX) {
                c->items[c->n - 1].n++;
                return 0;
        }
        if (c->n == c->cap) {
                syn_counts_sort(c);
                if ((c->cap == 0 || c->n >= c->cap - c->cap / 4) && GROW(&c->items, &c->cap, c->cap + 1, 64) < 0)
                        return -ENOMEM;
        }
        c->items[c->n] = *key;
        c->items[c->n].n = 1;
        c->n++;
        return 0;
}

int diag_syn_data_cb(const struct nlmsghdr *nlh, void *data) {
        ParseContext *ctx = data;
        const struct inet_diag_msg *m = diag_get_inet_msg(nlh, ctx);
        SynCount key = { 0 };
        int r;

        if (!m)
                return MNL_CB_ERROR;
        /* Attributes are not read, but they must be well formed: an answer
         * is consumed to its end. */
        if (!diag_attr_table(nlh, sizeof(*m), NULL, 0))
                return diag_ctx_fail(ctx, -EPROTO, "malformed attributes");
        if (m->idiag_state != TCP_SYN_RECV)
                return MNL_CB_OK;

        key.family = m->idiag_family;
        memcpy(key.addr, m->id.idiag_src, m->idiag_family == AF_INET ? 4 : 16);
        key.port = ntohs(m->id.idiag_sport);
        r = add_request(ctx->userdata, &key);
        if (r < 0)
                return diag_ctx_fail(ctx, r, "out of memory");
        ctx->n++;
        return MNL_CB_OK;
}

int diag_parse_syn(const void *buf, size_t len, uint32_t seq, uint32_t portid, SynCounts *out, ErrBuf *err) {
        size_t n = 0;

        return diag_parse_each(buf, len, seq, portid, diag_syn_data_cb, NULL, out, 0, &n, err);
}

static int build_syn(void *buf, size_t size, uint8_t family, uint32_t seq, const PortRange *ranges, size_t n_ranges) {
        (void) ranges;
        (void) n_ranges;
        return diag_build_syn_request(buf, size, family, seq);
}

int diag_count_syn(DiagSocket *s, SynCounts *out, ErrBuf *err) {
        DiagDump d = { .what = "syn-recv", .build = build_syn, .data_cb = diag_syn_data_cb, .userdata = out };
        size_t n = 0;
        int r;

        out->n = 0;
        r = diag_dump_families(s, &d, &n, err);
        if (r < 0) {
                out->n = 0;
                return r;
        }
        syn_counts_sort(out);
        return n > INT_MAX ? INT_MAX : (int) n;
}

/* Index of the first entry not below (family, port, zero address). */
static size_t lower_bound(const SynCounts *c, uint8_t family, uint16_t port) {
        SynCount key = { .family = family, .port = port };
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

bool diag_key_matches(const Listener *l, bool v6only, uint8_t family, const uint8_t addr[16], uint16_t port) {
        if (l->kind != LISTENER_TCP || port != l->port || (l->family != AF_INET && l->family != AF_INET6))
                return false;
        if (!listener_is_wildcard(l))
                return family == l->family && memcmp(addr, l->addr, family == AF_INET ? 4 : 16) == 0;
        if (l->family == AF_INET)
                return family == AF_INET;
        /* [::]: AF_INET6 but, when v6only, not the v4-mapped ones; when
         * dual-stack, AF_INET too. */
        if (family == AF_INET6)
                return !v6only || memcmp(addr, v4mapped_prefix, sizeof(v4mapped_prefix)) != 0;
        return family == AF_INET && !v6only;
}

uint32_t syn_counts_for(const SynCounts *c, const Listener *l, bool v6only) {
        static const uint8_t families[] = { AF_INET, AF_INET6 };
        uint64_t sum = 0;

        if (c->n == 0)
                return 0;
        for (size_t f = 0; f < ELEMENTSOF(families); f++)
                for (size_t i = lower_bound(c, families[f], l->port);
                     i < c->n && c->items[i].family == families[f] && c->items[i].port == l->port; i++)
                        if (diag_key_matches(l, v6only, c->items[i].family, c->items[i].addr, c->items[i].port))
                                sum += c->items[i].n;
        return sum > UINT32_MAX ? UINT32_MAX : (uint32_t) sum;
}

void syn_counts_done(SynCounts *c) {
        free(c->items);
        *c = (SynCounts){ 0 };
}
