/* SPDX-License-Identifier: MIT */
/* Exact sock_diag lookups of known TCP listeners (diag.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "diag-internal.h"
#include "diag.h"

/* What one answer holds: the first listener, and how many came. */
typedef struct LookupAnswer {
        Listener *l;
        size_t n;
} LookupAnswer;

static int store_cb(const Listener *l, void *userdata) {
        LookupAnswer *a = userdata;

        if (a->n++ == 0)
                *a->l = *l;
        return 0;
}

int diag_build_lookup_request(void *buf, size_t size, uint32_t seq, const Listener *key) {
        struct inet_diag_sockid *id;
        struct nlmsghdr *nlh;

        if (key->family != AF_INET && key->family != AF_INET6)
                return -EAFNOSUPPORT;
        nlh = diag_put_inet_request(buf, size, key->family, seq, 1U << TCP_LISTEN, 1U << (INET_DIAG_SKMEMINFO - 1),
                                    &id);
        if (!nlh)
                return -ENOBUFS;
        /* Not a dump: the kernel answers with one message, then the ACK. */
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        memcpy(id->idiag_src, key->addr, key->family == AF_INET ? 4 : 16);
        id->idiag_sport = htons(key->port);
        id->idiag_if = key->ifindex;
        id->idiag_cookie[0] = (uint32_t) key->cookie;
        id->idiag_cookie[1] = (uint32_t) (key->cookie >> 32);
        return (int) nlh->nlmsg_len;
}

/* ENOENT: no socket answers the key, or (Linux 6.16 on) its cookie differs;
 * ESTALE: the cookie differs (before). Either way, not this listener: no
 * error, and err says nothing. */
static bool absent(int r, ErrBuf *err) {
        if (r != -ENOENT && r != -ESTALE)
                return false;
        if (err)
                err->text[0] = 0;
        return true;
}

int diag_parse_lookup(const void *buf, size_t len, uint32_t seq, uint32_t portid, Listener *ret, size_t *n_found,
                      ErrBuf *err) {
        LookupAnswer a = { .l = ret };
        size_t n = 0;
        int r = diag_parse_each(buf, len, seq, portid, diag_inet_listener_cb, store_cb, &a, 0, &n, err);

        *n_found += a.n;
        return absent(r, err) ? 0 : r;
}

/* "lookup: " before the reason. Returns r. */
static int lookup_error(ErrBuf *err, int r) {
        char why[sizeof(err->text)];

        if (err) {
                memcpy(why, err->text, sizeof(why));
                errbuf_set(err, r, "lookup: %s", why);
        }
        return r;
}

int diag_lookup_listener(DiagSocket *s, const Listener *key, Listener *ret, ErrBuf *err) {
        uint32_t seq = diag_next_seq(s);
        int len = diag_build_lookup_request(s->buf, DIAG_BUFFER_SIZE, seq, key);
        Listener found;
        LookupAnswer a = { .l = &found };
        size_t n = 0;
        int r;

        if (len < 0)
                return errbuf_set(err, len, "lookup: cannot build the request: %s", strerror(-len));
        r = diag_exchange(s, (size_t) len, seq, diag_inet_listener_cb, store_cb, &a, &n, err);
        if (absent(r, err))
                return 0;
        if (r < 0)
                return lookup_error(err, r);
        if (a.n == 0)
                return 0; /* a socket no longer in TCP_LISTEN was skipped */
        if (a.n > 1 || found.cookie != key->cookie)
                return errbuf_set(err, -EPROTO, "lookup: the kernel answered with %zu socket%s, cookie %llu for %llu",
                                  a.n, a.n == 1 ? "" : "s", (unsigned long long) found.cookie,
                                  (unsigned long long) key->cookie);
        *ret = found;
        return 1;
}
