/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check-main.h"
#include "diag-internal.h"
#include "diag.h"

/* The parser reads the kernel's struct tcp_info (<linux/tcp.h>); glibc's
 * copy, used here, has the same layout. */
#define AGE_END (offsetof(struct tcp_info, tcpi_last_data_sent) + sizeof(uint32_t))

/* One socket of a synthetic dump. info_len: bytes of tcp_info sent (0:
 * no INET_DIAG_INFO attribute). */
typedef struct Sock {
        uint8_t family;
        uint8_t state;
        const char *addr;
        uint16_t port;
        uint32_t inode;
        uint32_t age_ms;
        size_t info_len;
        uint64_t cookie;
} Sock;

#define FULL_INFO sizeof(struct tcp_info)

/* Appends one inet_diag message for k to buf at *off. */
static void put_sock(uint8_t *buf, size_t *off, uint16_t type, const Sock *k) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *off);
        struct inet_diag_msg *m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_MULTI;
        m->idiag_family = k->family;
        m->idiag_state = k->state;
        m->idiag_inode = k->inode;
        m->id.idiag_cookie[0] = (uint32_t) k->cookie;
        m->id.idiag_cookie[1] = (uint32_t) (k->cookie >> 32);
        m->id.idiag_sport = htons(k->port);
        m->id.idiag_dport = htons(40000);
        ck_assert_int_eq(inet_pton(k->family, k->addr, m->id.idiag_src), 1);
        if (k->info_len > 0) {
                struct tcp_info info = { 0 };

                info.tcpi_state = k->state;
                info.tcpi_last_data_sent = k->age_ms;
                info.tcpi_last_data_recv = 1; /* not the age */
                info.tcpi_last_ack_recv = 2;
                mnl_attr_put(nlh, INET_DIAG_INFO, k->info_len, &info);
        }
        *off += nlh->nlmsg_len;
}

static void put_done(uint8_t *buf, size_t *off) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *off);

        nlh->nlmsg_type = NLMSG_DONE;
        nlh->nlmsg_flags = NLM_F_MULTI;
        mnl_nlmsg_put_extra_header(nlh, sizeof(int32_t));
        *off += nlh->nlmsg_len;
}

static Listener listener(uint8_t family, const char *addr, uint16_t port) {
        Listener l = { .family = family, .port = port };

        ck_assert_int_eq(inet_pton(family, addr, l.addr), 1);
        return l;
}

/* Parses socks as one datagram (two when split), then sorts. */
static void parse(const Sock *socks, size_t n, bool split, WaitCounts *out) {
        static uint8_t buf[DIAG_BUFFER_SIZE];
        ErrBuf err = { { 0 } };
        size_t off = 0, half = split ? n / 2 : n;

        for (size_t i = 0; i < half; i++)
                put_sock(buf, &off, SOCK_DIAG_BY_FAMILY, &socks[i]);
        if (split) {
                ck_assert_int_eq(diag_parse_wait(buf, off, 0, 0, out, &err), 1);
                off = 0;
        }
        for (size_t i = half; i < n; i++)
                put_sock(buf, &off, TCPDIAG_GETSOCK, &socks[i]);
        put_done(buf, &off);
        ck_assert_uint_le(off, sizeof(buf));
        ck_assert_msg(diag_parse_wait(buf, off, 0, 0, out, &err) == 0, "%s", err.text);
        wait_counts_sort(out);
}

/* ---- the table -------------------------------------------------------- */

static const Sock population[] = {
        /* 127.0.0.1:80: three queued, the oldest 4200 ms; one gave up */
        { AF_INET, TCP_ESTABLISHED, "127.0.0.1", 80, 0, 1200, FULL_INFO, 0 },
        { AF_INET, TCP_CLOSE_WAIT, "127.0.0.1", 80, 0, 3000, FULL_INFO, 0 },
        { AF_INET, TCP_ESTABLISHED, "127.0.0.1", 80, 0, 4200, FULL_INFO, 0 },
        /* accepted already: an inode, whatever its age */
        { AF_INET, TCP_ESTABLISHED, "127.0.0.1", 80, 5555, 99000, FULL_INFO, 0 },
        { AF_INET, TCP_CLOSE_WAIT, "127.0.0.1", 80, 5556, 99000, FULL_INFO, 0 },
        /* other states the kernel does not send for this request */
        { AF_INET, TCP_SYN_RECV, "127.0.0.1", 80, 0, 99000, FULL_INFO, 0 },
        { AF_INET, TCP_FIN_WAIT1, "127.0.0.1", 80, 0, 99000, FULL_INFO, 0 },
        /* 10.0.0.1:80, one, tcp_info just long enough */
        { AF_INET, TCP_ESTABLISHED, "10.0.0.1", 80, 0, 700, AGE_END, 0 },
        /* 10.0.0.2:80: a short tcp_info (older kernel), no age; no info */
        { AF_INET, TCP_ESTABLISHED, "10.0.0.2", 80, 0, 9999, AGE_END - 1, 0 },
        { AF_INET, TCP_CLOSE_WAIT, "10.0.0.2", 80, 0, 0, 0, 0 },
        /* IPv6 on port 80: ::1, and an IPv4 client of a dual-stack [::] */
        { AF_INET6, TCP_ESTABLISHED, "::1", 80, 0, 250, FULL_INFO, 0 },
        { AF_INET6, TCP_CLOSE_WAIT, "::ffff:127.0.0.1", 80, 0, 8000, FULL_INFO, 0 },
        /* port 81 */
        { AF_INET, TCP_CLOSE_WAIT, "127.0.0.1", 81, 0, 60000, FULL_INFO, 0 },
        { AF_INET, TCP_CLOSE_WAIT, "127.0.0.1", 81, 0, 61000, FULL_INFO, 0 },
};

typedef struct ForCase {
        uint8_t family;
        const char *addr;
        uint16_t port;
        bool v6only;
        bool found;
        QueueWait want;
} ForCase;

static const ForCase for_cases[] = {
        /* exact */
        { AF_INET, "127.0.0.1", 80, false, true, { .n = 3, .gave_up = 1, .wait_ms = 4200, .has_age = true } },
        { AF_INET, "10.0.0.1", 80, false, true, { .n = 1, .gave_up = 0, .wait_ms = 700, .has_age = true } },
        { AF_INET, "10.0.0.2", 80, false, true, { .n = 2, .gave_up = 1, .has_age = false } },
        { AF_INET6, "::1", 80, true, true, { .n = 1, .gave_up = 0, .wait_ms = 250, .has_age = true } },
        { AF_INET, "127.0.0.1", 81, false, true, { .n = 2, .gave_up = 2, .wait_ms = 61000, .has_age = true } },
        /* nothing there */
        { AF_INET, "127.0.0.2", 80, false, false, { 0 } },
        { AF_INET, "127.0.0.1", 82, false, false, { 0 } },
        /* 0.0.0.0: every AF_INET connection of the port */
        { AF_INET, "0.0.0.0", 80, false, true, { .n = 6, .gave_up = 2, .wait_ms = 4200, .has_age = true } },
        /* [::] v6only: AF_INET6 but not v4-mapped */
        { AF_INET6, "::", 80, true, true, { .n = 1, .gave_up = 0, .wait_ms = 250, .has_age = true } },
        /* [::] dual-stack: all of AF_INET6 and AF_INET */
        { AF_INET6, "::", 80, false, true, { .n = 8, .gave_up = 3, .wait_ms = 8000, .has_age = true } },
        { AF_INET6, "::", 81, true, false, { 0 } },
        { AF_INET6, "::", 81, false, true, { .n = 2, .gave_up = 2, .wait_ms = 61000, .has_age = true } },
};

static void check_for(const WaitCounts *c) {
        for (size_t i = 0; i < ELEMENTSOF(for_cases); i++) {
                const ForCase *t = &for_cases[i];
                Listener l = listener(t->family, t->addr, t->port);
                QueueWait got = { .n = 12345 };
                bool found = wait_counts_for(c, &l, t->v6only, &got);

                ck_assert_msg(found == t->found, "%s:%u%s: found %d", t->addr, t->port, t->v6only ? " v6only" : "",
                              found);
                if (!found) {
                        ck_assert_uint_eq(got.n, 12345); /* untouched */
                        continue;
                }
                ck_assert_msg(got.n == t->want.n && got.gave_up == t->want.gave_up && got.has_age == t->want.has_age &&
                                      (!got.has_age || got.wait_ms == t->want.wait_ms),
                              "%s:%u%s: n %u gave_up %u age %d %u, want %u %u %d %u", t->addr, t->port,
                              t->v6only ? " v6only" : "", got.n, got.gave_up, got.has_age, got.wait_ms, t->want.n,
                              t->want.gave_up, t->want.has_age, t->want.wait_ms);
        }
}

START_TEST(test_for_table) {
        WaitCounts c = { 0 };

        parse(population, ELEMENTSOF(population), false, &c);
        /* 127.0.0.1:80, 10.0.0.1:80, 10.0.0.2:80, 127.0.0.1:81, ::1:80,
         * ::ffff:127.0.0.1:80 */
        ck_assert_uint_eq(c.n, 6);
        check_for(&c);
        wait_counts_done(&c);
        ck_assert_ptr_null(c.items);
}
END_TEST

/* The same over two datagrams, in reverse order: merging is order-free. */
START_TEST(test_for_table_split_reversed) {
        Sock rev[ELEMENTSOF(population)];
        WaitCounts c = { 0 };

        for (size_t i = 0; i < ELEMENTSOF(population); i++)
                rev[i] = population[ELEMENTSOF(population) - 1 - i];
        parse(rev, ELEMENTSOF(rev), true, &c);
        ck_assert_uint_eq(c.n, 6);
        check_for(&c);
        wait_counts_done(&c);
}
END_TEST

/* SO_REUSEPORT members, bound to one address and port: each gets the
 * group's connections and its oldest age. UNIX listeners get nothing. */
START_TEST(test_for_reuseport_and_unix) {
        WaitCounts c = { 0 };
        QueueWait a, b;
        Listener la = listener(AF_INET, "127.0.0.1", 81), lb = la, lu = la;

        parse(population, ELEMENTSOF(population), false, &c);
        la.cookie = 1;
        lb.cookie = 2;
        ck_assert(wait_counts_for(&c, &la, false, &a));
        ck_assert(wait_counts_for(&c, &lb, false, &b));
        ck_assert_uint_eq(a.wait_ms, 61000);
        ck_assert_uint_eq(b.wait_ms, 61000);
        ck_assert_uint_eq(a.n + b.n, 4);
        lu.kind = LISTENER_UNIX;
        ck_assert(!wait_counts_for(&c, &lu, false, &a));
        wait_counts_done(&c);
        ck_assert(!wait_counts_for(&c, &la, false, &a)); /* empty */
}
END_TEST

/* Many connections over few keys: memory follows the keys. */
/* The head is the oldest connection's cookie; of equal ages the smallest
 * cookie, whatever the order of the dump; one without an age is never it. */
START_TEST(test_heads) {
        static const Sock socks[] = {
                { AF_INET, TCP_ESTABLISHED, "127.0.0.1", 80, 0, 1200, FULL_INFO, 11 },
                { AF_INET, TCP_ESTABLISHED, "127.0.0.1", 80, 0, 4200, FULL_INFO, 0x100000013ULL },
                { AF_INET, TCP_CLOSE_WAIT, "127.0.0.1", 80, 0, 4200, FULL_INFO, 0x100000012ULL },
                { AF_INET, TCP_ESTABLISHED, "127.0.0.1", 80, 0, 0, 0, 9 },
                { AF_INET, TCP_ESTABLISHED, "127.0.0.1", 81, 0, 0, 0, 8 },
        };
        Sock reversed[ELEMENTSOF(socks)];
        Listener l80 = listener(AF_INET, "127.0.0.1", 80), l81 = listener(AF_INET, "127.0.0.1", 81);
        WaitCounts c = { 0 };
        QueueWait q;

        static const uint64_t look[3] = { 11, 99, 0x100000013ULL };
        bool found[3] = { false, true, false };

        for (size_t i = 0; i < ELEMENTSOF(socks); i++)
                reversed[i] = socks[ELEMENTSOF(socks) - 1 - i];
        /* the parser marks the cookies looked for that are queued */
        c.look_for = look;
        c.found = found;
        c.n_look_for = 3;
        found[1] = false;
        for (int pass = 0; pass < 2; pass++) {
                c.n = 0;
                parse(pass ? reversed : socks, ELEMENTSOF(socks), pass, &c);
                ck_assert(wait_counts_for(&c, &l80, false, &q));
                ck_assert_uint_eq(q.n, 4);
                ck_assert_uint_eq(q.wait_ms, 4200);
                ck_assert_uint_eq(q.head, 0x100000012ULL);
                ck_assert(q.has_age);
                ck_assert(wait_counts_for(&c, &l81, false, &q));
                ck_assert(!q.has_age);
                ck_assert_uint_eq(q.head, 0);
                ck_assert(found[0] && !found[1] && found[2]);
                found[0] = found[2] = false;
        }
        wait_counts_done(&c);
}
END_TEST

START_TEST(test_parse_compacts) {
        static uint8_t buf[DIAG_BUFFER_SIZE];
        WaitCounts c = { 0 };
        ErrBuf err = { { 0 } };
        size_t off = 0;

        for (uint32_t i = 0; i < 150; i++) {
                Sock k = { AF_INET,
                           i % 5 ? TCP_ESTABLISHED : TCP_CLOSE_WAIT,
                           i % 2 ? "127.0.0.1" : "127.0.0.2",
                           (uint16_t) (1000 + i % 3),
                           0,
                           i,
                           FULL_INFO,
                           0 };

                ck_assert_uint_lt(off + 512, sizeof(buf));
                put_sock(buf, &off, SOCK_DIAG_BY_FAMILY, &k);
        }
        ck_assert_int_eq(diag_parse_wait(buf, off, 0, 0, &c, &err), 1);
        ck_assert_uint_eq(c.cap, 16);
        wait_counts_sort(&c);
        ck_assert_uint_eq(c.n, 6);
        uint32_t total = 0, gave_up = 0, oldest = 0;
        for (size_t i = 0; i < c.n; i++) {
                total += c.items[i].n;
                gave_up += c.items[i].gave_up;
                oldest = c.items[i].oldest_ms > oldest ? c.items[i].oldest_ms : oldest;
        }
        ck_assert_uint_eq(total, 150);
        ck_assert_uint_eq(gave_up, 30);
        ck_assert_uint_eq(oldest, 149);
        wait_counts_done(&c);
}
END_TEST

START_TEST(test_parse_malformed) {
        uint8_t buf[1024];
        WaitCounts c = { 0 };
        ErrBuf err = { { 0 } };
        size_t off = 0;
        Sock k = { AF_INET, TCP_ESTABLISHED, "127.0.0.1", 80, 0, 5, FULL_INFO, 0 };

        put_sock(buf, &off, SOCK_DIAG_BY_FAMILY, &k);
        /* the attribute claims more than the message holds */
        struct nlattr *a = (struct nlattr *) (buf + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct inet_diag_msg)));
        a->nla_len = (uint16_t) (a->nla_len + 8);
        ck_assert_int_eq(diag_parse_wait(buf, off, 0, 0, &c, &err), -EPROTO);
        ck_assert_str_eq(err.text, "malformed attributes");
        ck_assert_int_eq(diag_parse_wait(buf, 0, 0, 0, &c, &err), -EPROTO);
        ck_assert_str_eq(err.text, "empty datagram");
        wait_counts_done(&c);
}
END_TEST

START_TEST(test_request) {
        uint8_t buf[512];
        const struct nlmsghdr *nlh = (const struct nlmsghdr *) buf;
        const PortRange one = { 8080, 8080 }, two[] = { { 80, 80 }, { 8000, 8100 } };

        ck_assert_int_eq(diag_build_wait_request(buf, sizeof(buf), AF_UNSPEC, 42, &one, 1),
                         (int) (sizeof(*nlh) + sizeof(struct inet_diag_req)));
        ck_assert_uint_eq(nlh->nlmsg_type, TCPDIAG_GETSOCK);
        ck_assert_uint_eq(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
        ck_assert_uint_eq(nlh->nlmsg_seq, 42);
        const struct inet_diag_req *old = (const void *) (buf + sizeof(*nlh));
        ck_assert_uint_eq(old->idiag_states, (1U << TCP_ESTABLISHED) | (1U << TCP_CLOSE_WAIT));
        ck_assert_uint_eq(old->idiag_ext, 1U << (INET_DIAG_INFO - 1));
        ck_assert_uint_eq(ntohs(old->id.idiag_sport), 8080);

        /* two ranges: bytecode, as for the listeners */
        int len = diag_build_wait_request(buf, sizeof(buf), AF_INET6, 7, two, 2);
        ck_assert_int_eq(len, (int) (sizeof(*nlh) + sizeof(struct inet_diag_req_v2) + MNL_ATTR_HDRLEN + 44));
        ck_assert_uint_eq(nlh->nlmsg_type, SOCK_DIAG_BY_FAMILY);
        const struct inet_diag_req_v2 *v2 = (const void *) (buf + sizeof(*nlh));
        ck_assert_uint_eq(v2->sdiag_family, AF_INET6);
        ck_assert_uint_eq(v2->sdiag_protocol, IPPROTO_TCP);
        ck_assert_uint_eq(v2->idiag_states, (1U << TCP_ESTABLISHED) | (1U << TCP_CLOSE_WAIT));
        ck_assert_uint_eq(v2->idiag_ext, 1U << (INET_DIAG_INFO - 1));
        ck_assert_uint_eq(v2->id.idiag_sport, 0);
        const struct nlattr *bc = (const void *) (buf + sizeof(*nlh) + sizeof(*v2));
        ck_assert_uint_eq(bc->nla_type, INET_DIAG_REQ_BYTECODE);
        /* the same bytes as the listener request's filter */
        uint8_t lbuf[512];
        ck_assert_int_eq(diag_build_request(lbuf, sizeof(lbuf), AF_INET6, 7, two, 2), len);
        ck_assert_mem_eq(buf + len - 36, lbuf + len - 36, 36);
        ck_assert_int_eq(diag_build_wait_request(buf, 255, AF_INET, 7, &one, 1), -ENOBUFS);

        /* SYN counts and queued connections in one walk: SYN_RECV too, and
         * even one port goes into the bytecode (idiag_sport would filter
         * the request sockets too): CGROUP_COND 0, JMP, then the port */
        len = diag_build_syn_wait_request(buf, sizeof(buf), AF_UNSPEC, 9, &one, 1);
        ck_assert_int_eq(len, (int) (sizeof(*nlh) + sizeof(struct inet_diag_req) + MNL_ATTR_HDRLEN + 16 + 16));
        ck_assert_uint_eq(old->idiag_states, (1U << TCP_SYN_RECV) | (1U << TCP_ESTABLISHED) | (1U << TCP_CLOSE_WAIT));
        ck_assert_uint_eq(old->idiag_ext, 1U << (INET_DIAG_INFO - 1));
        ck_assert_uint_eq(old->id.idiag_sport, 0);
        bc = (const void *) (buf + sizeof(*nlh) + sizeof(*old));
        ck_assert_uint_eq(bc->nla_type, INET_DIAG_REQ_BYTECODE);
        const struct inet_diag_bc_op *op = (const void *) ((const uint8_t *) bc + MNL_ATTR_HDRLEN);
        ck_assert_uint_eq(op[0].code, INET_DIAG_BC_CGROUP_COND);
        ck_assert_uint_eq(op[0].yes, 12);
        ck_assert_uint_eq(op[0].no, 16);
        ck_assert_uint_eq(op[3].code, INET_DIAG_BC_JMP);
        ck_assert_uint_eq(op[4].code, INET_DIAG_BC_S_GE);
        ck_assert_uint_eq(op[5].no, 8080);
        /* no port: request sockets only */
        ck_assert_int_eq(diag_build_syn_wait_request(buf, sizeof(buf), AF_INET, 9, NULL, 0),
                         (int) (sizeof(*nlh) + sizeof(struct inet_diag_req_v2) + MNL_ATTR_HDRLEN + 12));
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("diag-wait");
        TCase *tc = tcase_create("counts");

        tcase_add_test(tc, test_for_table);
        tcase_add_test(tc, test_for_table_split_reversed);
        tcase_add_test(tc, test_for_reuseport_and_unix);
        tcase_add_test(tc, test_parse_compacts);
        tcase_add_test(tc, test_heads);
        suite_add_tcase(s, tc);

        tc = tcase_create("parse");
        tcase_add_test(tc, test_parse_malformed);
        tcase_add_test(tc, test_request);
        suite_add_tcase(s, tc);
        return s;
}
