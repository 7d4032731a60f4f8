/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check-main.h"
#include "diag-internal.h"
#include "diag.h"

#define FIXTURE_DIR "diag-syn"
#include "diag-test-util.h"
#include "recording.h"

/* ---- helpers ---------------------------------------------------------- */

/* Parses every record of a recording; the last must end the dump. Returns
 * the number of request sockets and the number of records. */
static size_t replay(const char *name, SynCounts *out, size_t *ret_records) {
        static uint32_t buf[DIAG_BUFFER_SIZE / 4];
        FILE *f = open_fixture(name);
        ErrBuf err = { { 0 } };
        uint32_t len;
        size_t records = 0;
        int r = 1;

        while (fread(&len, sizeof(len), 1, f) == 1) {
                ck_assert_int_eq(r, 1); /* nothing after NLMSG_DONE */
                ck_assert_uint_le(len, sizeof(buf));
                ck_assert_uint_eq(fread(buf, 1, len, f), len);
                r = diag_parse_syn(buf, len, 0, 0, out, &err);
                ck_assert_msg(r >= 0, "record %zu: %s", records, err.text);
                records++;
        }
        fclose(f);
        ck_assert_int_eq(r, 0);
        syn_counts_sort(out);
        if (ret_records)
                *ret_records = records;

        size_t total = 0;
        for (size_t i = 0; i < out->n; i++)
                total += out->items[i].n;
        return total;
}

static SynCount key(uint8_t family, const char *addr, uint16_t port) {
        SynCount k = { .family = family, .port = port };

        ck_assert_int_eq(inet_pton(family, addr, k.addr), 1);
        return k;
}

static uint32_t count_of(const SynCounts *c, uint8_t family, const char *addr, uint16_t port) {
        SynCount k = key(family, addr, port);

        for (size_t i = 0; i < c->n; i++)
                if (c->items[i].family == family && c->items[i].port == port &&
                    memcmp(c->items[i].addr, k.addr, 16) == 0)
                        return c->items[i].n;
        return 0;
}

static Listener listener(uint8_t family, const char *addr, uint16_t port) {
        Listener l = { .family = family, .port = port };

        ck_assert_int_eq(inet_pton(family, addr, l.addr), 1);
        return l;
}

/* What syn_counts_for() must answer for a listener (with v6only). */
typedef struct ForCase {
        uint8_t family;
        const char *addr;
        uint16_t port;
        bool v6only;
        uint32_t want;
} ForCase;

static void check_for(const SynCounts *c, const ForCase *cases, size_t n) {
        for (size_t i = 0; i < n; i++) {
                Listener l = listener(cases[i].family, cases[i].addr, cases[i].port);
                uint32_t got = syn_counts_for(c, &l, cases[i].v6only);

                ck_assert_msg(got == cases[i].want, "%s port %u%s: %u, want %u", cases[i].addr, cases[i].port,
                              cases[i].v6only ? " v6only" : "", got, cases[i].want);
        }
}

/* Reads NAME.ss (`ss -tnH state syn-recv`) and checks that c holds exactly
 * its local endpoints, with their multiplicity. Returns the line count. */
static size_t check_against_ss(const char *name, const SynCounts *c) {
        FILE *f = open_fixture(name);
        SynCounts want = { 0 };
        char line[512];
        size_t lines = 0;
        ErrBuf err = { { 0 } };

        while (fgets(line, sizeof(line), f)) {
                char local[128], addr[128], *colon;
                unsigned rq, sq, port;
                uint8_t family = AF_INET;

                ck_assert_int_eq(sscanf(line, "%u %u %127s", &rq, &sq, local), 3);
                colon = strrchr(local, ':');
                ck_assert_ptr_nonnull(colon);
                *colon = '\0';
                ck_assert_int_eq(sscanf(colon + 1, "%u", &port), 1);
                if (local[0] == '[') {
                        family = AF_INET6;
                        snprintf(addr, sizeof(addr), "%s", local + 1);
                        addr[strlen(addr) - 1] = '\0';
                } else
                        snprintf(addr, sizeof(addr), "%s", local);

                /* one synthetic datagram per line: keeps the checker
                 * independent of the fixture's bytes */
                SynCount k = key(family, addr, (uint16_t) port);
                uint32_t msg[64] = { 0 };
                struct nlmsghdr *nlh = mnl_nlmsg_put_header(msg);
                struct inet_diag_msg *m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));

                nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
                m->idiag_family = family;
                m->idiag_state = TCP_SYN_RECV;
                m->id.idiag_sport = htons(k.port);
                memcpy(m->id.idiag_src, k.addr, 16);
                ck_assert_int_eq(diag_parse_syn(msg, nlh->nlmsg_len, 0, 0, &want, &err), 1);
                lines++;
        }
        fclose(f);
        syn_counts_sort(&want);
        ck_assert_uint_eq(c->n, want.n);
        for (size_t i = 0; i < want.n; i++) {
                ck_assert_uint_eq(c->items[i].family, want.items[i].family);
                ck_assert_uint_eq(c->items[i].port, want.items[i].port);
                ck_assert_mem_eq(c->items[i].addr, want.items[i].addr, 16);
                ck_assert_uint_eq(c->items[i].n, want.items[i].n);
        }
        syn_counts_done(&want);
        return lines;
}

/* Appends one synthetic inet_diag message to buf at *off. */
static void put_msg(uint8_t *buf, size_t *off, uint16_t type, uint8_t family, uint8_t state, const char *addr,
                    uint16_t port) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *off);
        struct inet_diag_msg *m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_MULTI;
        m->idiag_family = family;
        m->idiag_state = state;
        m->id.idiag_sport = htons(port);
        if (family == AF_INET || family == AF_INET6)
                ck_assert_int_eq(inet_pton(family, addr, m->id.idiag_src), 1);
        *off += nlh->nlmsg_len;
}

static void put_done(uint8_t *buf, size_t *off) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *off);

        nlh->nlmsg_type = NLMSG_DONE;
        nlh->nlmsg_flags = NLM_F_MULTI;
        mnl_nlmsg_put_extra_header(nlh, sizeof(int32_t));
        *off += nlh->nlmsg_len;
}

/* ---- fixtures ----------------------------------------------------------- */

/* dual: see tests/fixtures/diag-syn/README. */
START_TEST(test_fixture_dual) {
        SynCounts c = { 0 };
        size_t records;

        ck_assert_uint_eq(replay("dual.rec", &c, &records), 12);
        ck_assert_uint_eq(records, 2);
        ck_assert_uint_eq(c.n, 7);
        ck_assert_uint_eq(count_of(&c, AF_INET, "127.0.0.1", 7001), 3);
        ck_assert_uint_eq(count_of(&c, AF_INET6, "::1", 7002), 2);
        ck_assert_uint_eq(count_of(&c, AF_INET, "127.0.0.1", 7003), 2);
        ck_assert_uint_eq(count_of(&c, AF_INET, "127.0.0.2", 7003), 1);
        ck_assert_uint_eq(count_of(&c, AF_INET6, "::1", 7004), 1);
        /* IPv4 clients of the dual-stack [::]:7004: AF_INET6, v4-mapped */
        ck_assert_uint_eq(count_of(&c, AF_INET6, "::ffff:127.0.0.1", 7004), 2);
        ck_assert_uint_eq(count_of(&c, AF_INET, "127.0.0.1", 7004), 0);
        ck_assert_uint_eq(count_of(&c, AF_INET6, "::1", 7005), 1);
        ck_assert_uint_eq(count_of(&c, AF_INET, "127.0.0.1", 7006), 0);
        /* sorted by (family, port, address) */
        ck_assert_uint_eq(c.items[0].family, AF_INET);
        ck_assert_uint_eq(c.items[0].port, 7001);
        ck_assert_uint_eq(c.items[6].family, AF_INET6);
        ck_assert_uint_eq(c.items[6].port, 7005);
        ck_assert_uint_eq(check_against_ss("dual.ss", &c), 12);
        syn_counts_done(&c);
}
END_TEST

START_TEST(test_fixture_dual_listeners) {
        static const ForCase cases[] = {
                { AF_INET, "127.0.0.1", 7001, false, 3 },
                { AF_INET6, "::1", 7002, true, 2 },
                { AF_INET, "0.0.0.0", 7003, false, 3 },
                { AF_INET, "127.0.0.2", 7003, false, 1 },
                { AF_INET6, "::", 7004, false, 3 }, /* dual-stack */
                { AF_INET6, "::", 7004, true, 1 },  /* as if v6only */
                { AF_INET6, "::", 7005, true, 1 },
                { AF_INET, "127.0.0.1", 7006, false, 0 },
                /* a v4 wildcard never takes the v4-mapped requests of [::]:7004 */
                { AF_INET, "0.0.0.0", 7004, false, 0 },
        };
        SynCounts c = { 0 };

        ck_assert_uint_eq(replay("dual.rec", &c, NULL), 12);
        check_for(&c, cases, ELEMENTSOF(cases));
        syn_counts_done(&c);
}
END_TEST

START_TEST(test_fixture_large) {
        SynCounts c = { 0 };
        size_t records;

        ck_assert_uint_eq(replay("large.rec", &c, &records), 500);
        ck_assert_uint_eq(records, 4); /* three datagrams of requests + DONE */
        ck_assert_uint_eq(c.n, 120);
        for (size_t i = 0; i < c.n; i++) {
                const SynCount *e = &c.items[i];

                if (i < 100) {
                        ck_assert_uint_eq(e->family, AF_INET);
                        ck_assert_uint_eq(e->port, 7100 + i);
                        ck_assert_uint_eq(e->n, 4);
                } else {
                        ck_assert_uint_eq(e->family, AF_INET6);
                        ck_assert_uint_eq(e->port, 7200 + i - 100);
                        ck_assert_uint_eq(e->n, 5);
                }
        }
        ck_assert_uint_eq(check_against_ss("large.ss", &c), 500);
        syn_counts_done(&c);
}
END_TEST

/* ---- matching rules, synthetic ---------------------------------------- */

static void add(SynCounts *c, uint8_t family, const char *addr, uint16_t port, uint32_t n) {
        SynCount *items = realloc(c->items, (c->n + 1) * sizeof(*items));

        ck_assert_ptr_nonnull(items);
        c->items = items;
        c->cap = c->n + 1;
        c->items[c->n] = key(family, addr, port);
        c->items[c->n++].n = n;
}

START_TEST(test_for_rules) {
        static const ForCase cases[] = {
                /* exact */
                { AF_INET, "127.0.0.1", 80, false, 3 },
                { AF_INET, "127.0.0.1", 80, true, 3 }, /* ignored for AF_INET */
                { AF_INET6, "::1", 80, true, 7 },
                { AF_INET6, "::1", 80, false, 7 },
                { AF_INET6, "::ffff:10.0.0.1", 80, false, 11 },
                /* other address, other port */
                { AF_INET, "127.0.0.2", 80, false, 0 },
                { AF_INET, "127.0.0.1", 82, false, 0 },
                /* v4 wildcard: every AF_INET request of the port, no AF_INET6 */
                { AF_INET, "0.0.0.0", 80, false, 5 },
                { AF_INET, "0.0.0.0", 81, false, 100 },
                /* [::] v6only: AF_INET6 but not v4-mapped */
                { AF_INET6, "::", 80, true, 20 },
                /* [::] dual-stack: all AF_INET6 and all AF_INET */
                { AF_INET6, "::", 80, false, 7 + 11 + 13 + 2 + 3 },
                { AF_INET6, "::", 81, true, 0 },
                { AF_INET6, "::", 81, false, 100 },
        };
        SynCounts c = { 0 };
        Listener l;

        add(&c, AF_INET6, "::1", 80, 7);
        add(&c, AF_INET, "10.0.0.1", 80, 2);
        add(&c, AF_INET, "127.0.0.1", 80, 3);
        add(&c, AF_INET, "127.0.0.1", 81, 100);
        add(&c, AF_INET6, "::ffff:10.0.0.1", 80, 11);
        add(&c, AF_INET6, "fe80::1", 80, 13);
        add(&c, AF_INET, "127.0.0.1", 79, 1000);
        syn_counts_sort(&c);
        ck_assert_uint_eq(c.n, 7);
        check_for(&c, cases, ELEMENTSOF(cases));
        /* SO_REUSEPORT: every member of the group gets the group's count */
        Listener a = listener(AF_INET, "127.0.0.1", 79), b = a;
        a.cookie = 1;
        b.cookie = 2;
        b.backlog = 5;
        ck_assert_uint_eq(syn_counts_for(&c, &a, false), 1000);
        ck_assert_uint_eq(syn_counts_for(&c, &b, false), 1000);
        /* not TCP: nothing */
        l = listener(AF_INET, "0.0.0.0", 80);
        l.kind = LISTENER_UNIX;
        ck_assert_uint_eq(syn_counts_for(&c, &l, false), 0);
        syn_counts_done(&c);
        ck_assert_ptr_null(c.items);
        ck_assert_uint_eq(c.n, 0);
        /* empty */
        l = listener(AF_INET, "0.0.0.0", 80);
        ck_assert_uint_eq(syn_counts_for(&c, &l, false), 0);
}
END_TEST

START_TEST(test_sort_merges_and_saturates) {
        SynCounts c = { 0 };

        add(&c, AF_INET, "127.0.0.1", 80, 1);
        add(&c, AF_INET6, "::1", 80, 2);
        add(&c, AF_INET, "127.0.0.1", 80, 4);
        add(&c, AF_INET, "127.0.0.1", 80, 8);
        add(&c, AF_INET, "127.0.0.2", 80, UINT32_MAX - 1);
        add(&c, AF_INET, "127.0.0.2", 80, 5);
        syn_counts_sort(&c);
        ck_assert_uint_eq(c.n, 3);
        ck_assert_uint_eq(count_of(&c, AF_INET, "127.0.0.1", 80), 13);
        ck_assert_uint_eq(count_of(&c, AF_INET, "127.0.0.2", 80), UINT32_MAX);
        ck_assert_uint_eq(count_of(&c, AF_INET6, "::1", 80), 2);
        Listener l = listener(AF_INET6, "::", 80);
        ck_assert_uint_eq(syn_counts_for(&c, &l, false), UINT32_MAX);
        syn_counts_sort(&c); /* idempotent */
        ck_assert_uint_eq(c.n, 3);
        syn_counts_done(&c);
}
END_TEST

/* Many requests over few keys: memory follows the keys. */
START_TEST(test_parse_compacts) {
        static uint8_t buf[DIAG_BUFFER_SIZE];
        SynCounts c = { 0 };
        ErrBuf err = { { 0 } };
        size_t off = 0;

        for (int i = 0; i < 300; i++) /* alternating: no run of one key */
                put_msg(buf, &off, TCPDIAG_GETSOCK, AF_INET, TCP_SYN_RECV, i % 2 ? "127.0.0.1" : "127.0.0.2",
                        (uint16_t) (1000 + i % 3));
        put_done(buf, &off);
        ck_assert_uint_le(off, sizeof(buf));
        ck_assert_int_eq(diag_parse_syn(buf, off, 0, 0, &c, &err), 0);
        ck_assert_uint_eq(c.cap, 64);
        syn_counts_sort(&c);
        ck_assert_uint_eq(c.n, 6);
        ck_assert_uint_eq(count_of(&c, AF_INET, "127.0.0.1", 1000), 50);
        ck_assert_uint_eq(count_of(&c, AF_INET, "127.0.0.2", 1002), 50);
        syn_counts_done(&c);
}
END_TEST

/* ---- malformed input ---------------------------------------------------- */

START_TEST(test_parse_skips_other_states) {
        uint8_t buf[1024];
        SynCounts c = { 0 };
        ErrBuf err = { { 0 } };
        size_t off = 0;

        put_msg(buf, &off, SOCK_DIAG_BY_FAMILY, AF_INET, TCP_ESTABLISHED, "127.0.0.1", 80);
        put_msg(buf, &off, SOCK_DIAG_BY_FAMILY, AF_INET, TCP_LISTEN, "127.0.0.1", 80);
        put_msg(buf, &off, SOCK_DIAG_BY_FAMILY, AF_INET6, TCP_SYN_RECV, "::1", 443);
        ck_assert_int_eq(diag_parse_syn(buf, off, 0, 0, &c, &err), 1);
        ck_assert_uint_eq(c.n, 1);
        ck_assert_uint_eq(count_of(&c, AF_INET6, "::1", 443), 1);
        syn_counts_done(&c);
}
END_TEST

/* The first datagram of dual.rec: 1152 bytes, twelve messages of 96 (an
 * inet_diag_msg and one 8-byte attribute). */
static const FramingCase framing[] = {
        { "as captured", FRAMING_WHOLE, .want_r = 1, .want_n = 12 }, /* one entry per request until sorted */
        { "cut in the third message", 250, .want_r = -EPROTO,
          .want_text = "netlink message length 96 invalid (58 bytes left)" },
        { "cut in the second header", 96 + 10, .want_r = -EPROTO,
          .want_text = "10 trailing bytes: netlink message too short" },
        { "empty", 0, .want_r = -EPROTO, .want_text = "empty datagram" },
        { "attribute past its message", FRAMING_WHOLE, .nla_len = 12, .want_r = -EPROTO,
          .want_text = "malformed attributes" },
        { "header only", 16, .nlmsg_len = 16, .want_r = -EPROTO, .want_text = "inet_diag_msg payload too short" },
        { "garbage length", FRAMING_WHOLE, .nlmsg_len = 0xffff0000u, .want_r = -EPROTO,
          .want_text = "netlink message length 4294901760 invalid (1152 bytes left)" },
        { "unknown family", FRAMING_WHOLE, .family = 7, .want_r = -EPROTO,
          .want_text = "unexpected address family 7" },
        { "unknown message type", FRAMING_WHOLE, .nlmsg_type = 99, .want_r = -EPROTO,
          .want_text = "unexpected message type 99" },
};

START_TEST(test_parse_framing) {
        const FramingCase *c = &framing[_i];
        static uint32_t rec[DIAG_BUFFER_SIZE / 4];
        SynCounts s = { 0 };
        size_t len = load_record("dual.rec", 0, rec, sizeof(rec));

        ck_assert_uint_eq(len, 1152);
        check_framing_case(parse_syn, rec, len, sizeof(struct inet_diag_msg), c, &s);
        ck_assert_msg(s.n == c->want_n, "%s: %zu entries, want %zu", c->name, s.n, c->want_n);
        syn_counts_done(&s);
}
END_TEST

/* Sequence number and port id are checked. */
START_TEST(test_parse_seq_portid_mismatch) {
        static uint32_t rec[DIAG_BUFFER_SIZE / 4];
        SynCounts c = { 0 };
        size_t len = load_record("dual.rec", 0, rec, sizeof(rec));

        ck_assert_int_eq(check_seq_portid(parse_syn, rec, len, &c), 1);
        ck_assert_uint_eq(c.n, 12); /* one entry per request until sorted */
        syn_counts_sort(&c);
        ck_assert_uint_eq(c.n, 7);
        syn_counts_done(&c);
}
END_TEST

START_TEST(test_parse_control_messages) {
        SynCounts c = { 0 };

        check_control_messages(parse_syn, &c);
        ck_assert_uint_eq(c.n, 0);
        syn_counts_done(&c);
}
END_TEST

/* ---- requests ----------------------------------------------------------- */

START_TEST(test_request) {
        uint8_t buf[256];
        const struct nlmsghdr *nlh = (const struct nlmsghdr *) buf;

        ck_assert_int_eq(diag_build_syn_request(buf, sizeof(buf), AF_UNSPEC, 42),
                         (int) (sizeof(*nlh) + sizeof(struct inet_diag_req)));
        ck_assert_uint_eq(nlh->nlmsg_type, TCPDIAG_GETSOCK);
        ck_assert_uint_eq(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
        ck_assert_uint_eq(nlh->nlmsg_seq, 42);
        const struct inet_diag_req *old = (const void *) (buf + sizeof(*nlh));
        ck_assert_uint_eq(old->idiag_states, 1U << TCP_SYN_RECV);
        ck_assert_uint_eq(old->idiag_ext, 0);
        ck_assert_uint_eq(old->idiag_family, 0);

        ck_assert_int_eq(diag_build_syn_request(buf, sizeof(buf), AF_INET6, 7),
                         (int) (sizeof(*nlh) + sizeof(struct inet_diag_req_v2)));
        ck_assert_uint_eq(nlh->nlmsg_type, SOCK_DIAG_BY_FAMILY);
        const struct inet_diag_req_v2 *v2 = (const void *) (buf + sizeof(*nlh));
        ck_assert_uint_eq(v2->sdiag_family, AF_INET6);
        ck_assert_uint_eq(v2->sdiag_protocol, IPPROTO_TCP);
        ck_assert_uint_eq(v2->idiag_states, 1U << TCP_SYN_RECV);
        ck_assert_int_eq(diag_build_syn_request(buf, 255, AF_INET, 7), -ENOBUFS);
}
END_TEST

/* ---- live (root only, in a private network namespace) ------------------ */

static void lo_up(void) {
        struct ifreq ifr = { 0 };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
        ifr.ifr_flags |= IFF_UP;
        ck_assert_int_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
        close(fd);
}

static int deferred_listener(uint8_t family, const char *addr, uint16_t port) {
        struct sockaddr_storage ss = { 0 };
        socklen_t sl;
        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, defer = 30;

        ck_assert_int_ge(fd, 0);
        if (family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

                sin->sin_family = AF_INET;
                sin->sin_port = htons(port);
                ck_assert_int_eq(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
                sl = sizeof(*sin);
        } else {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons(port);
                ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
                sl = sizeof(*sin6);
                ck_assert_int_eq(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), 0);
        }
        ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer)), 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &ss, sl), 0);
        ck_assert_int_eq(listen(fd, 16), 0);
        return fd;
}

static void connect_to(uint8_t family, const char *addr, uint16_t port) {
        struct sockaddr_storage ss = { 0 };
        socklen_t sl;
        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        if (family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

                sin->sin_family = AF_INET;
                sin->sin_port = htons(port);
                inet_pton(AF_INET, addr, &sin->sin_addr);
                sl = sizeof(*sin);
        } else {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons(port);
                inet_pton(AF_INET6, addr, &sin6->sin6_addr);
                sl = sizeof(*sin6);
        }
        ck_assert_int_eq(connect(fd, (struct sockaddr *) &ss, sl), 0);
        /* fd stays open (and sends nothing) until the test process exits */
}

START_TEST(test_live) {
        SynCounts c = { 0 };
        DiagSocket *s = NULL;
        ErrBuf err = { { 0 } };
        Listener l4 = listener(AF_INET, "127.0.0.1", 4711), l6 = listener(AF_INET6, "::1", 4712);
        int r = -1;

        ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
        lo_up();
        deferred_listener(AF_INET, "127.0.0.1", 4711);
        deferred_listener(AF_INET6, "::1", 4712);
        for (int i = 0; i < 3; i++)
                connect_to(AF_INET, "127.0.0.1", 4711);
        connect_to(AF_INET6, "::1", 4712);

        ck_assert_int_eq(diag_open(&s, &err), 0);
        /* the server side sees the final ACK a moment later: 2 s at most */
        for (int i = 0; i < 200; i++) {
                r = diag_count_syn(s, &c, &err);
                ck_assert_msg(r >= 0, "%s", err.text);
                if (r == 4)
                        break;
                nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        ck_assert_int_eq(r, 4);
        ck_assert_uint_eq(c.n, 2);
        ck_assert_uint_eq(count_of(&c, AF_INET, "127.0.0.1", 4711), 3);
        ck_assert_uint_eq(count_of(&c, AF_INET6, "::1", 4712), 1);
        ck_assert_uint_eq(syn_counts_for(&c, &l4, false), 3);
        ck_assert_uint_eq(syn_counts_for(&c, &l6, true), 1);
        /* the per-family fallback finds the same */
        s->per_family = true;
        ck_assert_int_eq(diag_count_syn(s, &c, &err), 4);
        ck_assert_uint_eq(c.n, 2);
        ck_assert_uint_eq(syn_counts_for(&c, &l4, false), 3);
        /* the LISTEN dump on the same socket is unaffected */
        ListenerSet set = { 0 };
        ck_assert_int_eq(diag_dump_listeners(s, NULL, 0, &set, &err), 2);
        listener_set_done(&set);
        diag_close(s);
        syn_counts_done(&c);
}
END_TEST

static int plain_listener(const char *addr, uint16_t port) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
        ck_assert_int_eq(listen(fd, 8), 0);
        return fd;
}

static uint32_t queued_on(const WaitCounts *c, uint16_t port) {
        Listener l = listener(AF_INET, "127.0.0.1", port);
        QueueWait q;

        return wait_counts_for(c, &l, false, &q) ? q.n : 0;
}

/* SYN counts and queued connections in one walk, against the two walks:
 * 3 request sockets on a TCP_DEFER_ACCEPT listener (port 4711, not in the
 * ranges), queued connections on 4800 (2) and 4801 (1, beside 1
 * accepted), and 2 on 5000, outside the ranges. */
START_TEST(test_live_syn_wait) {
        SynCounts syn = { 0 }, syn2 = { 0 };
        WaitCounts wait = { 0 }, wait2 = { 0 };
        DiagSocket *s = NULL;
        ErrBuf err = { { 0 } };
        const PortRange ranges[] = { { 4800, 4801 } };
        int fd4801, r = -1;

        ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
        lo_up();
        deferred_listener(AF_INET, "127.0.0.1", 4711);
        plain_listener("127.0.0.1", 4800);
        fd4801 = plain_listener("127.0.0.1", 4801);
        plain_listener("127.0.0.1", 5000);
        for (int i = 0; i < 3; i++)
                connect_to(AF_INET, "127.0.0.1", 4711);
        for (int i = 0; i < 2; i++) {
                connect_to(AF_INET, "127.0.0.1", 4800);
                connect_to(AF_INET, "127.0.0.1", 4801);
                connect_to(AF_INET, "127.0.0.1", 5000);
        }
        ck_assert_int_ge(accept4(fd4801, NULL, NULL, SOCK_CLOEXEC), 0);

        ck_assert_int_eq(diag_open(&s, &err), 0);
        for (int i = 0; i < 200; i++) {
                r = diag_count_syn_wait(s, ranges, 1, &syn, &wait, &err);
                ck_assert_msg(r >= 0, "%s", err.text);
                /* the server side sees the final ACKs a moment later */
                if (count_of(&syn, AF_INET, "127.0.0.1", 4711) == 3 && queued_on(&wait, 4800) == 2 &&
                    queued_on(&wait, 4801) == 1)
                        break;
                nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        /* 3 request sockets and 3 queued connections (the accepted one is
         * skipped) */
        ck_assert_int_eq(r, 6);
        ck_assert_uint_eq(syn.n, 1);
        ck_assert_uint_eq(count_of(&syn, AF_INET, "127.0.0.1", 4711), 3);
        ck_assert_uint_eq(queued_on(&wait, 4800), 2);
        ck_assert_uint_eq(queued_on(&wait, 4801), 1);
        ck_assert_uint_eq(queued_on(&wait, 5000), 0);

        /* the two walks find the same */
        ck_assert_int_eq(diag_count_syn(s, &syn2, &err), 3);
        ck_assert_uint_eq(count_of(&syn2, AF_INET, "127.0.0.1", 4711), 3);
        ck_assert_int_ge(diag_count_wait(s, ranges, 1, &wait2, &err), 0);
        ck_assert_uint_eq(wait2.n, wait.n);
        ck_assert_uint_eq(queued_on(&wait2, 4800), 2);
        ck_assert_uint_eq(queued_on(&wait2, 4801), 1);

        /* no ranges: request sockets only */
        ck_assert_int_eq(diag_count_syn_wait(s, NULL, 0, &syn, &wait, &err), 3);
        ck_assert_uint_eq(wait.n, 0);
        /* the per-family fallback */
        s->per_family = true;
        ck_assert_int_eq(diag_count_syn_wait(s, ranges, 1, &syn, &wait, &err), 6);
        ck_assert_uint_eq(queued_on(&wait, 4800), 2);
        /* a kernel without the cgroup condition: the caller walks twice */
        s->no_cgroup_cond = true;
        ck_assert_int_eq(diag_count_syn_wait(s, ranges, 1, &syn, &wait, &err), -EOPNOTSUPP);
        diag_close(s);
        syn_counts_done(&syn);
        syn_counts_done(&syn2);
        wait_counts_done(&wait);
        wait_counts_done(&wait2);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("diag-syn");
        TCase *tc = tcase_create("fixtures");

        tcase_add_test(tc, test_fixture_dual);
        tcase_add_test(tc, test_fixture_dual_listeners);
        tcase_add_test(tc, test_fixture_large);
        suite_add_tcase(s, tc);

        tc = tcase_create("counts");
        tcase_add_test(tc, test_for_rules);
        tcase_add_test(tc, test_sort_merges_and_saturates);
        tcase_add_test(tc, test_parse_compacts);
        suite_add_tcase(s, tc);

        tc = tcase_create("parse");
        tcase_add_test(tc, test_parse_skips_other_states);
        tcase_add_loop_test(tc, test_parse_framing, 0, ELEMENTSOF(framing));
        tcase_add_test(tc, test_parse_seq_portid_mismatch);
        tcase_add_test(tc, test_parse_control_messages);
        tcase_add_test(tc, test_request);
        suite_add_tcase(s, tc);

        /* Live, in a private network namespace: root. */
        tc = tcase_create_root();
        tcase_add_test(tc, test_live);
        tcase_add_test(tc, test_live_syn_wait);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
        return s;
}
