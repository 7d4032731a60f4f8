/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check-main.h"
#include "diag-internal.h"
#include "diag.h"

#define FIXTURE_DIR "diag"
#include "diag-test-util.h"
#include "recording.h"

/* ---- helpers ---------------------------------------------------------- */

static int replay(const char *name, ListenerSet *set, ErrBuf *err) {
        FILE *f = open_fixture(name);
        int r = diag_replay(f, set, err);

        fclose(f);
        return r;
}

/* The number of datagrams in a recording. */
static size_t count_records(const char *name) {
        FILE *f = open_fixture(name);
        uint32_t len;
        size_t n = 0;

        while (fread(&len, sizeof(len), 1, f) == 1) {
                ck_assert_int_eq(fseek(f, len, SEEK_CUR), 0);
                n++;
        }
        fclose(f);
        return n;
}

static const Listener *find(const ListenerSet *set, uint8_t family, const char *addr, uint16_t port) {
        uint8_t a[16] = { 0 };

        ck_assert_int_eq(inet_pton(family, addr, a), 1);
        for (size_t i = 0; i < set->n; i++) {
                const Listener *l = &set->items[i];

                if (l->family == family && l->port == port && memcmp(l->addr, a, family == AF_INET ? 4 : 16) == 0)
                        return l;
        }
        ck_abort_msg("listener %s port %u not found", addr, port);
        return NULL;
}

static void check_listener(const Listener *l, uint32_t depth, uint32_t backlog, uint32_t drops, uint64_t cookie,
                           uint32_t inode) {
        ck_assert_uint_eq(l->depth, depth);
        ck_assert_uint_eq(l->backlog, backlog);
        ck_assert(l->has_drops);
        ck_assert_uint_eq(l->drops, drops);
        ck_assert_uint_eq(l->cookie, cookie);
        ck_assert_uint_eq(l->inode, inode);
        ck_assert_uint_eq(l->uid, 0);
        ck_assert_uint_eq(l->netns, 0);
        ck_assert_uint_eq(l->cgroup_id, 1); /* captured in the root cgroup */
}

/* ---- fixtures (values checked against ss -ltnmeH at capture time) ----- */

START_TEST(test_replay_ipv4) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        const Listener *l;

        ck_assert_int_eq(replay("ipv4.rec", &set, &err), 4);
        ck_assert_uint_eq(set.n, 4);
        /* sorted by cookie */
        ck_assert_uint_eq(set.items[0].cookie, 0x15b6);
        ck_assert_uint_eq(set.items[3].cookie, 0x15b9);

        l = find(&set, AF_INET, "0.0.0.0", 6060);
        check_listener(l, 0, 5, 0, 0x15b6, 12855);
        ck_assert_uint_eq(l->ifindex, 1); /* SO_BINDTODEVICE lo */
        l = find(&set, AF_INET, "127.0.0.1", 7070);
        check_listener(l, 0, 0, 0, 0x15b7, 12854);
        ck_assert_uint_eq(l->ifindex, 0);
        l = find(&set, AF_INET, "127.0.0.1", 8080);
        check_listener(l, 3, 2, 4, 0x15b8, 12852);
        ck_assert(listener_is_full(l));
        l = find(&set, AF_INET, "0.0.0.0", 9090);
        check_listener(l, 1, 128, 0, 0x15b9, 12853);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_replay_ipv6) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };

        ck_assert_int_eq(replay("ipv6.rec", &set, &err), 2);
        ck_assert_uint_eq(set.n, 2);
        check_listener(find(&set, AF_INET6, "::", 2222), 0, 16, 0, 0x15ba, 13846);
        check_listener(find(&set, AF_INET6, "::1", 8443), 2, 3, 0, 0x15bb, 13845);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_replay_dual) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };

        ck_assert_int_eq(replay("dual.rec", &set, &err), 4);
        ck_assert_uint_eq(set.n, 4);
        check_listener(find(&set, AF_INET, "127.0.0.1", 8002), 2, 40, 0, 0x15bc, 13863);
        check_listener(find(&set, AF_INET, "0.0.0.0", 8001), 0, 20, 0, 0x15bd, 13861);
        check_listener(find(&set, AF_INET6, "::1", 8002), 0, 30, 0, 0x15be, 13862);
        /* dual-stack [::]: one v4 and one v6 client, seen in the v6 dump only */
        check_listener(find(&set, AF_INET6, "::", 8000), 2, 10, 0, 0x15bf, 13860);
        /* INET_DIAG_SKV6ONLY, as ss prints it (v6only:1 / v6only:0) */
        ck_assert(find(&set, AF_INET6, "::1", 8002)->v6only);
        ck_assert(!find(&set, AF_INET6, "::", 8000)->v6only);
        ck_assert(!find(&set, AF_INET, "127.0.0.1", 8002)->v6only);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_replay_reuseport) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        static const uint32_t backlog[] = { 4, 3, 2, 1 }, depth[] = { 1, 0, 1, 1 },
                              inode[] = { 13000, 12999, 12998, 12997 };

        ck_assert_int_eq(replay("reuseport.rec", &set, &err), 4);
        ck_assert_uint_eq(set.n, 4);
        for (size_t i = 0; i < 4; i++) {
                ck_assert_uint_eq(set.items[i].port, 5000);
                ck_assert_uint_eq(set.items[i].family, AF_INET);
                check_listener(&set.items[i], depth[i], backlog[i], 0, 0x15 + i, inode[i]);
        }
        listener_set_done(&set);
}
END_TEST

START_TEST(test_replay_large) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        size_t v4 = 0, v6 = 0;

        /* 600 v4 in four datagrams + DONE, 40 v6 + DONE */
        ck_assert_uint_eq(count_records("large.rec"), 7);
        ck_assert_int_eq(replay("large.rec", &set, &err), 640);
        ck_assert_uint_eq(set.n, 640);
        for (size_t i = 0; i < set.n; i++) {
                const Listener *l = &set.items[i];

                if (l->family == AF_INET) {
                        ck_assert_uint_ge(l->port, 20000);
                        ck_assert_uint_lt(l->port, 20600);
                        ck_assert_uint_eq(l->backlog, 1 + (l->port - 20000) % 50);
                        ck_assert_uint_eq(l->depth, l->port == 20007 ? 2 : 0);
                        v4++;
                } else {
                        ck_assert_uint_ge(l->port, 30000);
                        ck_assert_uint_lt(l->port, 30040);
                        ck_assert_uint_eq(l->backlog, 100);
                        ck_assert_uint_eq(l->depth, 0);
                        v6++;
                }
                if (i > 0) /* sorted, unique */
                        ck_assert_uint_gt(l->cookie, set.items[i - 1].cookie);
        }
        ck_assert_uint_eq(v4, 600);
        ck_assert_uint_eq(v6, 40);
        listener_set_done(&set);
}
END_TEST

/* Captured with diag-record 20010-20019 20500 30038-30100: the kernel ran
 * our bytecode. */
START_TEST(test_replay_kernel_filtered) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        unsigned seen[20] = { 0 };

        ck_assert_int_eq(replay("large-ranges.rec", &set, &err), 13);
        for (size_t i = 0; i < set.n; i++) {
                uint16_t p = set.items[i].port;

                if (p >= 20010 && p <= 20019)
                        seen[p - 20010]++;
                else if (p == 20500)
                        seen[10]++;
                else if (p == 30038 || p == 30039) {
                        ck_assert_uint_eq(set.items[i].family, AF_INET6);
                        seen[11 + p - 30038]++;
                } else
                        ck_abort_msg("port %u should have been filtered", p);
        }
        for (size_t i = 0; i < 13; i++)
                ck_assert_uint_eq(seen[i], 1);
        listener_set_clear(&set);

        ck_assert_int_eq(replay("large-port.rec", &set, &err), 1);
        ck_assert_uint_eq(set.items[0].port, 20100);
        ck_assert_uint_eq(set.items[0].backlog, 1);
        ck_assert_uint_eq(set.items[0].cookie, 5737);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_replay_appends_and_dedups_tail) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        uint32_t rec[DIAG_BUFFER_SIZE / 4];
        size_t len = load_record("ipv4.rec", 0, rec, sizeof(rec));
        uint32_t done[5] = { 20, NLMSG_DONE, NLM_F_MULTI, 0, 0 };
        char *mem = NULL;
        size_t memlen = 0;
        FILE *f = open_memstream(&mem, &memlen);
        uint32_t l32 = (uint32_t) len, d32 = sizeof(done);
        Listener *pre;

        /* the same datagram twice, as a dump that sees sockets twice would */
        fwrite(&l32, 4, 1, f);
        fwrite(rec, 1, len, f);
        fwrite(&l32, 4, 1, f);
        fwrite(rec, 1, len, f);
        fwrite(&d32, 4, 1, f);
        fwrite(done, 1, sizeof(done), f);
        ck_assert_int_eq(fclose(f), 0);

        pre = listener_set_push(&set);
        pre->cookie = UINT64_MAX;
        pre->port = 1;
        f = fmemopen(mem, memlen, "r");
        ck_assert_int_eq(diag_replay(f, &set, &err), 4);
        fclose(f);
        ck_assert_uint_eq(set.n, 5);
        ck_assert_uint_eq(set.items[0].port, 1); /* untouched, still first */
        ck_assert_uint_eq(set.items[1].cookie, 0x15b6);
        ck_assert_uint_eq(set.items[4].cookie, 0x15b9);
        free(mem);
        listener_set_done(&set);
}
END_TEST

static int replay_bytes(const void *data, size_t size, ListenerSet *set, ErrBuf *err) {
        FILE *f = fmemopen((void *) data, size, "r");
        int r;

        ck_assert_ptr_nonnull(f);
        r = diag_replay(f, set, err);
        fclose(f);
        return r;
}

START_TEST(test_replay_errors) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        uint32_t rec[DIAG_BUFFER_SIZE / 4 + 1];
        size_t len = load_record("ipv4.rec", 0, rec + 1, sizeof(rec) - 4);
        Listener *pre = listener_set_push(&set);

        pre->port = 7;
        /* a record whose length runs past the end of the file */
        rec[0] = (uint32_t) len + 10;
        ck_assert_int_eq(replay_bytes(rec, len + 4, &set, &err), -EPROTO);
        ck_assert_str_eq(err.text, "record 0: truncated or invalid length");
        /* a length field cut short */
        ck_assert_int_eq(replay_bytes(rec, 2, &set, &err), -EPROTO);
        /* a length beyond the receive buffer */
        rec[0] = DIAG_BUFFER_SIZE + 1;
        ck_assert_int_eq(replay_bytes(rec, len + 4, &set, &err), -EPROTO);
        /* a recording that stops before NLMSG_DONE */
        rec[0] = (uint32_t) len;
        ck_assert_int_eq(replay_bytes(rec, len + 4, &set, &err), -EPROTO);
        ck_assert_str_eq(err.text, "recording ends before NLMSG_DONE");
        /* a malformed datagram names its record */
        rec[0] = (uint32_t) len - 100;
        ck_assert_int_eq(replay_bytes(rec, len - 96, &set, &err), -EPROTO);
        ck_assert_str_eq(err.text, "record 0: netlink message length 164 invalid (64 bytes left)");
        /* the caller's entries survive every failure */
        ck_assert_uint_eq(set.n, 1);
        ck_assert_uint_eq(set.items[0].port, 7);
        /* empty recording: nothing */
        ck_assert_int_eq(replay_bytes(rec, 0, &set, &err), 0);
        ck_assert_uint_eq(set.n, 1);
        listener_set_done(&set);
}
END_TEST

/* ---- diag_parse over malformed and synthetic input -------------------- */

START_TEST(test_parse_record_more_then_done) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        uint32_t rec[DIAG_BUFFER_SIZE / 4];
        size_t len = load_record("ipv4.rec", 0, rec, sizeof(rec));
        const struct nlmsghdr *nlh = (const struct nlmsghdr *) rec;

        /* the right sequence number and port id are accepted */
        ck_assert_int_eq(diag_parse(rec, len, nlh->nlmsg_seq, nlh->nlmsg_pid, &set, &err), 1);
        ck_assert_uint_eq(set.n, 4);
        len = load_record("ipv4.rec", 1, rec, sizeof(rec));
        ck_assert_int_eq(diag_parse(rec, len, 0, 0, &set, &err), 0);
        ck_assert_uint_eq(set.n, 4);
        listener_set_done(&set);
}
END_TEST

/* The first datagram of ipv4.rec: 656 bytes, four messages of 164. */
static const FramingCase framing[] = {
        { "as captured", FRAMING_WHOLE, .want_r = 1, .want_n = 4 },
        { "cut in the third message", 400, .want_r = -EPROTO,
          .want_text = "netlink message length 164 invalid (72 bytes left)" },
        { "cut in the second header", 164 + 10, .want_r = -EPROTO,
          .want_text = "10 trailing bytes: netlink message too short" },
        { "empty", 0, .want_r = -EPROTO, .want_text = "empty datagram" },
        { "garbage length", FRAMING_WHOLE, .nlmsg_len = 0xffff0000u, .want_r = -EPROTO,
          .want_text = "netlink message length 4294901760 invalid (656 bytes left)" },
        { "length below a header", FRAMING_WHOLE, .nlmsg_len = 8, .want_r = -EPROTO,
          .want_text = "netlink message length 8 invalid (656 bytes left)" },
        { "header only", 16, .nlmsg_len = 16, .want_r = -EPROTO, .want_text = "inet_diag_msg payload too short" },
};

START_TEST(test_parse_framing) {
        const FramingCase *c = &framing[_i];
        ListenerSet set = { 0 };
        uint32_t rec[DIAG_BUFFER_SIZE / 4];
        size_t len = load_record("ipv4.rec", 0, rec, sizeof(rec));

        ck_assert_uint_eq(len, 656);
        check_framing_case(parse_inet, rec, len, sizeof(struct inet_diag_msg), c, &set);
        ck_assert_msg(set.n == c->want_n, "%s: %zu listeners, want %zu", c->name, set.n, c->want_n);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_parse_seq_portid_mismatch) {
        ListenerSet set = { 0 };
        uint32_t rec[DIAG_BUFFER_SIZE / 4];
        size_t len = load_record("ipv4.rec", 0, rec, sizeof(rec));

        ck_assert_int_eq(check_seq_portid(parse_inet, rec, len, &set), 1);
        ck_assert_uint_eq(set.n, 4);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_parse_control_messages) {
        ListenerSet set = { 0 };

        check_control_messages(parse_inet, &set);
        ck_assert_uint_eq(set.n, 0);
        listener_set_done(&set);
}
END_TEST

/* A synthetic SOCK_DIAG_BY_FAMILY message; attributes are added by the
 * caller. */
static struct nlmsghdr *put_diag_msg(void *buf, uint8_t family, uint8_t state) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct inet_diag_msg *m;

        nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
        nlh->nlmsg_flags = NLM_F_MULTI;
        m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));
        m->idiag_family = family;
        m->idiag_state = state;
        m->id.idiag_sport = htons(443);
        m->id.idiag_src[0] = htonl(0x0a000001);
        m->id.idiag_if = 3;
        m->id.idiag_cookie[0] = 0x89abcdef;
        m->id.idiag_cookie[1] = 0x01234567;
        m->idiag_rqueue = 7;
        m->idiag_wqueue = 9;
        m->idiag_uid = 1000;
        m->idiag_inode = 4242;
        return nlh;
}

START_TEST(test_parse_synthetic_fields) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        uint32_t buf[256] = { 0 };
        uint32_t mem[SK_MEMINFO_VARS] = { 0 };
        struct nlmsghdr *nlh = put_diag_msg(buf, AF_INET, TCP_LISTEN);
        const Listener *l;

        mem[SK_MEMINFO_DROPS] = 77;
        mnl_attr_put(nlh, INET_DIAG_SKMEMINFO, sizeof(mem), mem);
        mnl_attr_put_u64(nlh, INET_DIAG_CGROUP_ID, 0x1122334455667788ULL);
        mnl_attr_put_u32(nlh, INET_DIAG_MAX + 5, 1); /* from a newer kernel: skipped */
        ck_assert_int_eq(diag_parse(buf, nlh->nlmsg_len, 0, 0, &set, &err), 1);
        ck_assert_uint_eq(set.n, 1);
        l = &set.items[0];
        ck_assert_uint_eq(l->family, AF_INET);
        ck_assert_uint_eq(l->port, 443);
        ck_assert_mem_eq(l->addr, "\x0a\x00\x00\x01\0\0\0\0\0\0\0\0\0\0\0\0", 16);
        ck_assert_uint_eq(l->ifindex, 3);
        ck_assert_uint_eq(l->cookie, 0x0123456789abcdefULL);
        ck_assert_uint_eq(l->depth, 7);
        ck_assert_uint_eq(l->backlog, 9);
        ck_assert_uint_eq(l->uid, 1000);
        ck_assert_uint_eq(l->inode, 4242);
        ck_assert(l->has_drops);
        ck_assert_uint_eq(l->drops, 77);
        ck_assert_uint_eq(l->cgroup_id, 0x1122334455667788ULL);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_parse_short_meminfo_and_no_cgroup) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        uint32_t buf[256] = { 0 };
        uint32_t mem[SK_MEMINFO_DROPS] = { 0 }; /* one element short */
        struct nlmsghdr *nlh = put_diag_msg(buf, AF_INET6, TCP_LISTEN);

        mnl_attr_put(nlh, INET_DIAG_SKMEMINFO, sizeof(mem), mem);
        ck_assert_int_eq(diag_parse(buf, nlh->nlmsg_len, 0, 0, &set, &err), 1);
        ck_assert_uint_eq(set.n, 1);
        ck_assert(!set.items[0].has_drops);
        ck_assert_uint_eq(set.items[0].drops, 0);
        ck_assert_uint_eq(set.items[0].cgroup_id, 0);
        ck_assert_uint_eq(set.items[0].family, AF_INET6);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_parse_skips_non_listeners) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        uint32_t buf[256] = { 0 };
        struct nlmsghdr *nlh = put_diag_msg(buf, AF_INET, TCP_ESTABLISHED);

        ck_assert_int_eq(diag_parse(buf, nlh->nlmsg_len, 0, 0, &set, &err), 1);
        ck_assert_uint_eq(set.n, 0);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_parse_bad_attributes) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        uint32_t buf[256] = { 0 };
        struct nlmsghdr *nlh;
        struct nlattr *a;

        /* CGROUP_ID must be 8 bytes */
        nlh = put_diag_msg(buf, AF_INET, TCP_LISTEN);
        mnl_attr_put_u32(nlh, INET_DIAG_CGROUP_ID, 1);
        ck_assert_int_eq(diag_parse(buf, nlh->nlmsg_len, 0, 0, &set, &err), -EPROTO);
        ck_assert_str_eq(err.text, "malformed attributes");

        /* SKMEMINFO must be whole u32s */
        memset(buf, 0, sizeof(buf));
        nlh = put_diag_msg(buf, AF_INET, TCP_LISTEN);
        mnl_attr_put(nlh, INET_DIAG_SKMEMINFO, 6, "abcdef");
        ck_assert_int_eq(diag_parse(buf, nlh->nlmsg_len, 0, 0, &set, &err), -EPROTO);

        /* an attribute longer than the message */
        memset(buf, 0, sizeof(buf));
        nlh = put_diag_msg(buf, AF_INET, TCP_LISTEN);
        a = mnl_nlmsg_get_payload_tail(nlh);
        mnl_attr_put_u32(nlh, INET_DIAG_SHUTDOWN, 0);
        a->nla_len = 64;
        ck_assert_int_eq(diag_parse(buf, nlh->nlmsg_len, 0, 0, &set, &err), -EPROTO);

        /* trailing bytes too short for an attribute header */
        memset(buf, 0, sizeof(buf));
        nlh = put_diag_msg(buf, AF_INET, TCP_LISTEN);
        mnl_nlmsg_put_extra_header(nlh, 2);
        ck_assert_int_eq(diag_parse(buf, nlh->nlmsg_len, 0, 0, &set, &err), -EPROTO);

        /* an unknown address family */
        memset(buf, 0, sizeof(buf));
        nlh = put_diag_msg(buf, AF_UNIX, TCP_LISTEN);
        ck_assert_int_eq(diag_parse(buf, nlh->nlmsg_len, 0, 0, &set, &err), -EPROTO);
        ck_assert_str_eq(err.text, "unexpected address family 1");

        /* an unexpected message type */
        nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY + 1;
        ck_assert_int_eq(diag_parse(buf, nlh->nlmsg_len, 0, 0, &set, &err), -EPROTO);
        ck_assert_str_eq(err.text, "unexpected message type 21");
        ck_assert_uint_eq(set.n, 0);
        listener_set_done(&set);
}
END_TEST

/* ---- requests --------------------------------------------------------- */

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
START_TEST(test_request_bytes) {
        uint8_t buf[256];
        static const uint8_t plain[72] = {
                72, 0, 0,  0, 20,   0,    0x01, 0x03, 42, 0, 0, 0, 0, 0, 0, 0, /* nlmsghdr */
                2,  6, 64, 0, 0x00, 0x04, 0,    0,                             /* inet, tcp, skmeminfo, LISTEN */
        };
        uint8_t want[256] = { 0 };
        PortRange one = { 8080, 8080 };
        PortRange two[] = { { 10, 20 }, { 30, 30 } };
        static const uint8_t bc2[] = {
                48, 0, 1,  0,              /* nlattr INET_DIAG_REQ_BYTECODE, 44 bytes */
                2,  8, 28, 0, 0, 0, 30, 0, /* S_GE 30, or jump 28 bytes to the lower range */
                2,  8, 40, 0, 0, 0, 30, 0, /* upper range: S_GE 30, fail: len + 4, reject */
                3,  8, 32, 0, 0, 0, 30, 0, /* S_LE 30 */
                1,  4, 20, 0,              /* JMP to the end: accept */
                2,  8, 20, 0, 0, 0, 10, 0, /* lower range: S_GE 10 */
                3,  8, 12, 0, 0, 0, 20, 0, /* S_LE 20, the end: accept */
        };

        memset(buf, 0xaa, sizeof(buf));
        ck_assert_int_eq(diag_build_request(buf, sizeof(buf), AF_INET, 42, NULL, 0), 72);
        ck_assert_mem_eq(buf, plain, 72);
        ck_assert_mem_eq(buf + 72, want, sizeof(buf) - 72); /* zero-filled */

        ck_assert_int_eq(diag_build_request(buf, sizeof(buf), AF_INET6, 7, &one, 1), 72);
        memcpy(want, plain, 72);
        want[8] = 7;
        want[16] = AF_INET6;
        want[24] = 0x1f; /* id.idiag_sport = htons(8080) */
        want[25] = 0x90;
        ck_assert_mem_eq(buf, want, 72);

        ck_assert_int_eq(diag_build_request(buf, sizeof(buf), AF_INET, 42, two, 2), 72 + sizeof(bc2));
        memcpy(want, plain, 72);
        want[0] = 72 + sizeof(bc2);
        memcpy(want + 72, bc2, sizeof(bc2));
        ck_assert_mem_eq(buf, want, 72 + sizeof(bc2));
}
END_TEST
#endif

/* AF_UNSPEC: the old TCPDIAG_GETSOCK request, both families in one dump. */
START_TEST(test_request_one_walk) {
        uint8_t buf[256];
        static const uint8_t want[76] = {
                76,          0,    0, 0,  18, 0, 0x01, 0x03,
                9,           0,    0, 0,  0,  0, 0,    0, /* TCPDIAG_GETSOCK, REQUEST|DUMP */
                0,           0,    0, 64,                 /* any family, skmeminfo */
                0x01,        0xbb,                        /* id.idiag_sport = htons(443) */
                [68] = 0x00, 0x04, 0, 0,                  /* LISTEN, then idiag_dbs 0 */
        };
        PortRange https = { 443, 443 };

        ck_assert_int_eq(diag_build_request(buf, sizeof(buf), AF_UNSPEC, 9, &https, 1), 76);
        ck_assert_mem_eq(buf, want, 76);
}
END_TEST

START_TEST(test_request_limits) {
        static uint8_t buf[DIAG_BUFFER_SIZE];
        PortRange r[DIAG_MAX_RANGES + 1] = { { 0 } };
        PortRange lohi = { 1, 2 };

        ck_assert_int_eq(diag_build_request(buf, 255, AF_INET, 1, NULL, 0), -ENOBUFS);
        for (size_t i = 0; i <= DIAG_MAX_RANGES; i++)
                r[i] = (PortRange){ (uint16_t) (2 * i), (uint16_t) (2 * i) };
        ck_assert_int_eq(diag_build_request(buf, 256, AF_INET, 1, r, 6), 72 + 4 + 6 * 28 - 12);
        ck_assert_int_eq(diag_build_request(buf, 256, AF_INET, 1, r, 7), -ENOBUFS);
        ck_assert_int_eq(diag_build_request(buf, sizeof(buf), AF_INET, 1, r, DIAG_MAX_RANGES),
                         72 + 4 + DIAG_MAX_RANGES * 28 - 12);
        ck_assert_int_eq(diag_build_request(buf, sizeof(buf), AF_INET, 1, r, DIAG_MAX_RANGES + 1), -ENOBUFS);
        /* one range that is not a single port needs bytecode */
        ck_assert_int_eq(diag_build_request(buf, sizeof(buf), AF_INET, 1, &lohi, 1), 72 + 4 + 16);
}
END_TEST

/* The kernel's inet_diag_bc_audit() and inet_diag_bc_run() for the ops we
 * emit (net/ipv4/inet_diag.c), to check the bytecode for every port. */
static bool bc_valid_cc(const uint8_t *bc, int len, int cc) {
        while (len >= 0) {
                const struct inet_diag_bc_op *op = (const void *) bc;

                if (cc > len)
                        return false;
                if (cc == len)
                        return true;
                if (op->yes < 4 || op->yes & 3)
                        return false;
                len -= op->yes;
                bc += op->yes;
        }
        return false;
}

static bool bc_audit(const uint8_t *bytecode, int bytecode_len) {
        const uint8_t *bc = bytecode;
        int len = bytecode_len;

        while (len > 0) {
                const struct inet_diag_bc_op *op = (const void *) bc;
                int min_len = sizeof(struct inet_diag_bc_op);

                switch (op->code) {
                case INET_DIAG_BC_S_GE:
                case INET_DIAG_BC_S_LE:
                        min_len += sizeof(struct inet_diag_bc_op);
                        if (len < min_len)
                                return false;
                        break;
                case INET_DIAG_BC_CGROUP_COND:
                        min_len += sizeof(uint64_t);
                        if (len < min_len)
                                return false;
                        break;
                case INET_DIAG_BC_JMP:
                case INET_DIAG_BC_NOP:
                        break;
                default:
                        return false;
                }
                if (op->code != INET_DIAG_BC_NOP) {
                        if (op->no < min_len || op->no > len + 4 || op->no & 3)
                                return false;
                        if (op->no < len && !bc_valid_cc(bytecode, bytecode_len, len - op->no))
                                return false;
                }
                if (op->yes < min_len || op->yes > len + 4 || op->yes & 3)
                        return false;
                bc += op->yes;
                len -= op->yes;
        }
        return len == 0;
}

static bool bc_run_entry(const uint8_t *bc, int len, uint16_t sport, uint64_t cgroup_id) {
        while (len > 0) {
                const struct inet_diag_bc_op *op = (const void *) bc;
                bool yes = true;
                uint64_t id;

                switch (op->code) {
                case INET_DIAG_BC_CGROUP_COND:
                        memcpy(&id, op + 1, sizeof(id));
                        yes = id == cgroup_id;
                        break;
                case INET_DIAG_BC_JMP:
                        yes = false;
                        break;
                case INET_DIAG_BC_S_GE:
                        yes = sport >= op[1].no;
                        break;
                case INET_DIAG_BC_S_LE:
                        yes = sport <= op[1].no;
                        break;
                default:
                        break;
                }
                if (yes) {
                        len -= op->yes;
                        bc += op->yes;
                } else {
                        len -= op->no;
                        bc += op->no;
                }
        }
        return len == 0;
}

/* A full socket: its cgroup id is never 0. */
static bool bc_run(const uint8_t *bc, int len, uint16_t sport) {
        return bc_run_entry(bc, len, sport, 1);
}

static void check_bytecode(const PortRange *r, size_t n) {
        static uint8_t buf[DIAG_BUFFER_SIZE];
        int len = diag_build_request(buf, sizeof(buf), AF_INET, 1, r, n);
        const struct nlattr *a = (const void *) (buf + 72);

        ck_assert_int_gt(len, 72);
        ck_assert_uint_eq(a->nla_type, INET_DIAG_REQ_BYTECODE);
        ck_assert_int_eq(len, 72 + MNL_ALIGN(a->nla_len));
        ck_assert(bc_audit(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a)));
        for (unsigned p = 0; p <= 65535; p++) {
                bool want = false;

                for (size_t i = 0; i < n; i++)
                        want = want || (p >= r[i].lo && p <= r[i].hi);
                ck_assert_msg(bc_run(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), (uint16_t) p) == want,
                              "port %u with %zu ranges", p, n);
        }
}

START_TEST(test_bytecode_semantics) {
        PortRange r[DIAG_MAX_RANGES];
        PortRange some[] = { { 0, 1 }, { 22, 22 }, { 80, 90 }, { 65535, 65535 } };
        PortRange wide = { 0, 65535 };

        check_bytecode(some, 1);
        check_bytecode(some + 2, 1);
        check_bytecode(some, 2);
        check_bytecode(some, 4);
        check_bytecode(&wide, 1);
        PortRange mixed[] = { { 900, 950 }, { 22, 22 }, { 940, 1000 }, { 23, 24 }, { 5, 5 } };

        for (size_t i = 0; i < DIAG_MAX_RANGES; i++)
                r[i] = (PortRange){ (uint16_t) (250 * i), (uint16_t) (250 * i + i % 7) };
        for (size_t n = 1; n <= 9; n++)
                check_bytecode(r + 3, n);
        check_bytecode(r, DIAG_MAX_RANGES - 1);
        check_bytecode(r, DIAG_MAX_RANGES);
        /* in any order, overlapping: sorted and merged first */
        check_bytecode(mixed, ELEMENTSOF(mixed));
}
END_TEST

/* The filter of diag_count_syn_wait(): every request socket (cgroup id 0)
 * whatever its port, other sockets on the ports of the ranges only. */
static void check_requests_filter(const PortRange *r, size_t n) {
        static uint8_t buf[DIAG_BUFFER_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(memset(buf, 0, sizeof(buf)));
        const struct nlattr *a;
        int len;

        nlh->nlmsg_len = 72; /* as after a request header */
        len = diag_put_requests_filter(nlh, sizeof(buf), r, n);
        a = (const void *) (buf + 72);
        ck_assert_int_eq(len, 72 + (int) MNL_ALIGN(a->nla_len));
        ck_assert_uint_eq(a->nla_type, INET_DIAG_REQ_BYTECODE);
        ck_assert(bc_audit(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a)));
        for (unsigned p = 0; p <= 65535; p++) {
                bool want = false;

                for (size_t i = 0; i < n; i++)
                        want = want || (p >= r[i].lo && p <= r[i].hi);
                ck_assert(bc_run_entry(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), (uint16_t) p, 0));
                ck_assert_msg(bc_run_entry(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), (uint16_t) p, 42) ==
                                      want,
                              "port %u with %zu ranges", p, n);
        }
}

START_TEST(test_requests_filter) {
        PortRange some[] = { { 80, 90 }, { 22, 22 }, { 65535, 65535 } };
        static PortRange r[DIAG_MAX_RANGES];
        static uint8_t buf[DIAG_BUFFER_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

        check_requests_filter(NULL, 0);
        check_requests_filter(some + 1, 1); /* one port: bytecode too, never idiag_sport */
        check_requests_filter(some, ELEMENTSOF(some));
        for (size_t i = 0; i < DIAG_MAX_RANGES; i++)
                r[i] = (PortRange){ (uint16_t) (250 * i), (uint16_t) (250 * i + i % 3) };
        check_requests_filter(r, DIAG_MAX_RANGES);
        nlh->nlmsg_len = 72;
        ck_assert_int_eq(diag_put_requests_filter(nlh, 72 + 4 + 12 - 1, NULL, 0), -ENOBUFS);
        ck_assert_int_eq(diag_put_requests_filter(nlh, sizeof(buf), r, DIAG_MAX_RANGES + 1), -ENOBUFS);
}
END_TEST

/* ---- interface names (root: a network namespace of our own) ---------- */

/* Adds a device of that kind, with that name and index, to the current
 * namespace through RTM_NEWLINK; 0 or a negative errno. */
static int link_add(const char *kind, const char *name, int ifindex) {
        uint8_t buf[512];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifinfomsg *ifi;
        struct nlattr *info;
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        int r;

        ck_assert_ptr_nonnull(nl);
        ck_assert_int_eq(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
        nlh->nlmsg_type = RTM_NEWLINK;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
        nlh->nlmsg_seq = 1;
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
        mnl_attr_nest_end(nlh, info);
        ck_assert_int_ge(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len), 0);
        r = (int) mnl_socket_recvfrom(nl, buf, sizeof(buf));
        ck_assert_int_gt(r, 0);
        r = mnl_cb_run(buf, (size_t) r, 1, mnl_socket_get_portid(nl), NULL, NULL);
        r = r < 0 ? -errno : 0;
        mnl_socket_close(nl);
        return r;
}

/* A socket opened in another namespace names that namespace's interfaces:
 * d0, made there with an index the test's own namespace does not have, is
 * found through the socket after we went back, and not by if_indextoname(). */
START_TEST(test_interface_name_other_netns) {
        static const char *const kinds[] = { "dummy", "ifb", "bridge" };
        char name[IF_NAMESIZE], other[IF_NAMESIZE];
        DiagSocket *inside = NULL, *here = NULL;
        ErrBuf err = { { 0 } };
        int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), idx = 4242, r = -1;

        ck_assert_int_ge(self, 0);
        while (if_indextoname((unsigned) idx, other))
                idx++;
        ck_assert_int_eq(diag_open(&here, &err), 0);

        ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
        /* dummy is not built everywhere: any kind that needs no options */
        for (size_t i = 0; i < ELEMENTSOF(kinds) && r < 0; i++)
                r = link_add(kinds[i], "d0", idx);
        ck_assert_msg(r == 0, "cannot add d0: %s", strerror(-r));
        ck_assert_int_eq(diag_open(&inside, &err), 0);
        ck_assert_int_eq(setns(self, CLONE_NEWNET), 0); /* back; the socket keeps its namespace */
        close(self);

        ck_assert_int_eq(diag_interface_name(inside, (uint32_t) idx, name), 0);
        ck_assert_str_eq(name, "d0");
        ck_assert_ptr_null(if_indextoname((unsigned) idx, other));
        ck_assert_int_eq(diag_interface_name(here, (uint32_t) idx, name), -ENODEV);
        /* lo is index 1 in every namespace */
        ck_assert_int_eq(diag_interface_name(inside, 1, name), 0);
        ck_assert_str_eq(name, "lo");
        ck_assert_int_eq(diag_interface_name(inside, (uint32_t) idx + 1, name), -ENODEV);
        ck_assert_int_eq(diag_interface_name(inside, 0, name), -ENODEV);
        ck_assert_int_eq(diag_interface_name(inside, UINT32_MAX, name), -ENODEV);
        diag_close(inside);
        diag_close(here);
}
END_TEST

/* ---- exact lookups ------------------------------------------------------ */

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Table-driven: each key and the request bytes it must give. */
static const struct {
        uint8_t family;
        const char *addr;
        uint16_t port;
        uint32_t ifindex;
        uint64_t cookie;
        uint8_t want[72];
} lookups[] = {
        { AF_INET,
          "127.0.0.1",
          8443,
          0,
          0x0000000100002a2bULL,
          {
                  72,       0,    0,  0, 20,       0,    0x05, 0x00,
                  42,       0,    0,  0, 0,        0,    0,    0, /* REQUEST|ACK, no DUMP */
                  2,        6,    64, 0, 0x00,     0x04, 0,    0, /* inet, tcp, skmeminfo, LISTEN */
                  0x20,     0xfb, 0,  0,                          /* sport 8443, dport 0 */
                  127,      0,    0,  1, [44] = 0,                /* src; the rest and dst zero */
                  [60] = 0, 0,    0,  0,                          /* idiag_if */
                  0x2b,     0x2a, 0,  0, 1,        0,    0,    0, /* cookie[0], cookie[1] */
          } },
        { AF_INET6,
          "::",
          443,
          3,
          0xffffffffULL,
          {
                  72,       0,    0,    0,    20, 0, 0x05, 0x00, 42, 0, 0,    0,    0, 0,
                  0,        0,    10,   6,    64, 0, 0x00, 0x04, 0,  0, 0x01, 0xbb, 0, 0, /* sport 443 */
                  [60] = 3, 0,    0,    0,                                                /* bound to ifindex 3 */
                  0xff,     0xff, 0xff, 0xff, 0,  0, 0,    0,
          } },
        { AF_INET6,
          "fe80::1",
          1,
          0,
          1,
          {
                  72,       0, 0,  0, 20,   0,    0x05, 0x00, 42,   0,    0, 0, 0,    0,    0,        0,
                  10,       6, 64, 0, 0x00, 0x04, 0,    0,    0x00, 0x01, 0, 0, 0xfe, 0x80, [43] = 1, /* fe80::1 */
                  [64] = 1, 0, 0,  0, 0,    0,    0,    0,
          } },
};

START_TEST(test_lookup_request_bytes) {
        Listener key = { .family = lookups[_i].family,
                         .port = lookups[_i].port,
                         .ifindex = lookups[_i].ifindex,
                         .cookie = lookups[_i].cookie };
        uint8_t buf[256], zero[256] = { 0 };

        ck_assert_int_eq(inet_pton(key.family, lookups[_i].addr, key.addr), 1);
        memset(buf, 0xaa, sizeof(buf));
        ck_assert_int_eq(diag_build_lookup_request(buf, sizeof(buf), 42, &key), 72);
        ck_assert_mem_eq(buf, lookups[_i].want, 72);
        ck_assert_mem_eq(buf + 72, zero, sizeof(buf) - 72);
}
END_TEST
#endif

START_TEST(test_lookup_request_limits) {
        Listener key = { .family = AF_UNIX };
        uint8_t buf[256];

        ck_assert_int_eq(diag_build_lookup_request(buf, sizeof(buf), 1, &key), -EAFNOSUPPORT);
        key.family = AF_INET;
        ck_assert_int_eq(diag_build_lookup_request(buf, 255, 1, &key), -ENOBUFS);
}
END_TEST

/* The answer to a lookup: the listener (no NLM_F_MULTI), then the ACK. */
START_TEST(test_lookup_parse_answer) {
        uint32_t buf[256] = { 0 };
        uint32_t mem[SK_MEMINFO_VARS] = { 0 };
        struct nlmsghdr *nlh = put_diag_msg(buf, AF_INET, TCP_LISTEN);
        ErrBuf err = { { 0 } };
        Listener l = { 0 };
        size_t n = 0;

        nlh->nlmsg_flags = 0;
        mem[SK_MEMINFO_DROPS] = 5;
        mnl_attr_put(nlh, INET_DIAG_SKMEMINFO, sizeof(mem), mem);
        ck_assert_int_eq(diag_parse_lookup(buf, nlh->nlmsg_len, 0, 0, &l, &n, &err), 1);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(l.port, 443);
        ck_assert_uint_eq(l.depth, 7);
        ck_assert_uint_eq(l.backlog, 9);
        ck_assert_uint_eq(l.ifindex, 3);
        ck_assert_uint_eq(l.cookie, 0x0123456789abcdefULL);
        ck_assert(l.has_drops);
        ck_assert_uint_eq(l.drops, 5);
        /* the ACK completes it */
        ck_assert_int_eq(diag_parse_lookup(buf, put_nlmsg_error(buf, 0, sizeof(struct nlmsgerr)), 0, 0, &l, &n, &err),
                         0);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(l.depth, 7);
}
END_TEST

/* The kernel's errors: ENOENT and ESTALE say "absent" (0, nothing
 * found); others are errors. */
static const struct {
        int error;
        int want;
        const char *text;
} lookup_errors[] = {
        { -ENOENT, 0, "" },
        { -ESTALE, 0, "" },
        { -EPERM, -EPERM, "kernel answered: Operation not permitted" },
        { -EINVAL, -EINVAL, "kernel answered: Invalid argument" },
        { -EBUSY, -EBUSY, "kernel answered EBUSY: another dump is running on this socket" },
};

START_TEST(test_lookup_error_mapping) {
        uint32_t buf[64] = { 0 };
        ErrBuf err = { { 0 } };
        Listener l = { .depth = 99 };
        size_t n = 0;
        size_t len = put_nlmsg_error(buf, lookup_errors[_i].error, sizeof(struct nlmsgerr));

        ck_assert_int_eq(diag_parse_lookup(buf, len, 0, 0, &l, &n, &err), lookup_errors[_i].want);
        ck_assert_str_eq(err.text, lookup_errors[_i].text);
        ck_assert_uint_eq(n, 0);
        ck_assert_uint_eq(l.depth, 99); /* untouched */
}
END_TEST

/* Against the kernel, in a private namespace: every kind of listener the
 * dump shows is found by its key with the same numbers, but for the
 * SO_REUSEPORT member the kernel's hash does not pick; a closed listener
 * and a wrong cookie are absent. */
static int tcp_listener(int family, const char *addr, uint16_t port, int backlog, bool reuseport, const char *dev,
                        int v6only) {
        struct sockaddr_storage ss = { 0 };
        socklen_t len;
        int one = 1, fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
        if (reuseport)
                ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
        if (dev)
                ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t) strlen(dev)), 0);
        if (family == AF_INET6 && v6only >= 0)
                ck_assert_int_eq(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)), 0);
        if (family == AF_INET) {
                struct sockaddr_in *a = (struct sockaddr_in *) &ss;

                a->sin_family = AF_INET;
                a->sin_port = htons(port);
                ck_assert_int_eq(inet_pton(AF_INET, addr, &a->sin_addr), 1);
                len = sizeof(*a);
        } else {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *) &ss;

                a->sin6_family = AF_INET6;
                a->sin6_port = htons(port);
                ck_assert_int_eq(inet_pton(AF_INET6, addr, &a->sin6_addr), 1);
                len = sizeof(*a);
        }
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &ss, len), 0);
        ck_assert_int_eq(listen(fd, backlog), 0);
        return fd;
}

static int link_up(unsigned ifindex) {
        struct ifreq ifr = { 0 };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

        if (fd < 0 || !if_indextoname(ifindex, ifr.ifr_name) || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                r = -errno;
        ifr.ifr_flags |= IFF_UP;
        if (r == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                r = -errno;
        if (fd >= 0)
                close(fd);
        return r;
}

static void tcp_connect(const char *addr, uint16_t port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_eq(inet_pton(AF_INET, addr, &a.sin_addr), 1);
        ck_assert_int_eq(connect(fd, (struct sockaddr *) &a, sizeof(a)), 0);
}

START_TEST(test_lookup_kernel) {
        ListenerSet set = { 0 };
        DiagSocket *s = NULL;
        ErrBuf err = { { 0 } };
        Listener got, key;
        size_t n_reuse = 0, found_reuse = 0;
        int closing;

        ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
        ck_assert_int_eq(link_up(1), 0);
        tcp_listener(AF_INET, "0.0.0.0", 1000, 4, false, NULL, -1);
        tcp_listener(AF_INET6, "::", 1001, 5, false, NULL, 0); /* dual-stack */
        tcp_listener(AF_INET, "127.0.0.1", 1002, 6, false, NULL, -1);
        tcp_listener(AF_INET6, "::1", 1003, 7, false, NULL, -1);
        tcp_listener(AF_INET, "127.0.0.1", 1004, 8, true, NULL, -1);
        tcp_listener(AF_INET, "127.0.0.1", 1004, 9, true, NULL, -1);
        tcp_listener(AF_INET, "0.0.0.0", 1005, 10, false, "lo", -1); /* bound to lo: ifindex 1 */
        tcp_listener(AF_INET6, "::", 1006, 11, false, NULL, 1);
        tcp_listener(AF_INET, "0.0.0.0", 1006, 12, false, NULL, -1);
        closing = tcp_listener(AF_INET, "127.0.0.1", 1007, 13, false, NULL, -1);
        tcp_connect("127.0.0.1", 1002);
        tcp_connect("127.0.0.1", 1002);
        tcp_connect("127.0.0.1", 1001); /* v4 client of the dual-stack listener */

        ck_assert_int_eq(diag_open(&s, &err), 0);
        diag_set_netns(s, 77);
        ck_assert_int_eq(diag_dump_listeners(s, NULL, 0, &set, &err), 10);
        for (size_t i = 0; i < set.n; i++) {
                const Listener *l = &set.items[i];
                int r = diag_lookup_listener(s, l, &got, &err);

                ck_assert_msg(r >= 0, "port %u: %s", l->port, err.text);
                if (l->port == 1004) {
                        n_reuse++;
                        found_reuse += (size_t) r;
                        if (r == 0)
                                continue;
                }
                ck_assert_msg(r == 1, "port %u backlog %u not found", l->port, l->backlog);
                ck_assert_uint_eq(got.cookie, l->cookie);
                ck_assert_uint_eq(got.family, l->family);
                ck_assert_mem_eq(got.addr, l->addr, 16);
                ck_assert_uint_eq(got.port, l->port);
                ck_assert_uint_eq(got.ifindex, l->ifindex);
                ck_assert_uint_eq(got.depth, l->depth);
                ck_assert_uint_eq(got.backlog, l->backlog);
                ck_assert_uint_eq(got.inode, l->inode);
                ck_assert_uint_eq(got.has_drops, l->has_drops);
                ck_assert_uint_eq(got.v6only, l->v6only);
                ck_assert_uint_eq(got.netns, 77);
                if (l->port == 1002)
                        ck_assert_uint_eq(got.depth, 2);
                if (l->port == 1001)
                        ck_assert_uint_eq(got.depth, 1);
                if (l->port == 1005)
                        ck_assert_uint_eq(got.ifindex, 1);
        }
        /* The kernel picks one member of the group, the same every time. */
        ck_assert_uint_eq(n_reuse, 2);
        ck_assert_uint_eq(found_reuse, 1);

        for (size_t i = 0; i < set.n; i++)
                if (set.items[i].port == 1007)
                        key = set.items[i];
        ck_assert_uint_eq(key.port, 1007);
        for (size_t i = 0; i < set.n; i++)
                if (set.items[i].port == 1005) {
                        /* bound to lo: found with its ifindex only */
                        Listener bound = set.items[i];

                        bound.ifindex = 0;
                        ck_assert_int_eq(diag_lookup_listener(s, &bound, &got, &err), 0);
                        ck_assert_str_eq(err.text, "");
                }
        key.cookie++; /* a listener replaced on the same key */
        ck_assert_int_eq(diag_lookup_listener(s, &key, &got, &err), 0);
        key.cookie--;
        key.ifindex = 1; /* an unbound listener takes a SYN from any device */
        ck_assert_int_eq(diag_lookup_listener(s, &key, &got, &err), 1);
        key.ifindex = 0;
        ck_assert_int_eq(diag_lookup_listener(s, &key, &got, &err), 1);
        close(closing);
        ck_assert_int_eq(diag_lookup_listener(s, &key, &got, &err), 0);
        /* the socket still works after the "absent" answers (not on
         * 1004: cookies follow the dump's order, and of that group the
         * kernel finds only one member) */
        for (size_t i = 0; i < set.n; i++)
                if (set.items[i].port == 1000)
                        ck_assert_int_eq(diag_lookup_listener(s, &set.items[i], &got, &err), 1);
        diag_close(s);
        listener_set_done(&set);
}
END_TEST

/* The real kernel runs the search-tree bytecode: 600 listeners on ports
 * 2000-2599, DIAG_MAX_RANGES ranges that select every other one of the
 * first 512 (and one wide range): exactly those come back. A bytecode
 * inet_diag_bc_audit() refused would fail the dump with EINVAL. */
START_TEST(test_filter_kernel) {
        ListenerSet set = { 0 };
        DiagSocket *s = NULL;
        ErrBuf err = { { 0 } };
        PortRange r[DIAG_MAX_RANGES];
        bool seen[600] = { false };

        ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
        ck_assert_int_eq(link_up(1), 0);
        for (int p = 0; p < 600; p++)
                tcp_listener(AF_INET, "127.0.0.1", (uint16_t) (2000 + p), 1, false, NULL, -1);
        for (size_t i = 0; i < DIAG_MAX_RANGES - 1; i++)
                r[i] = (PortRange){ (uint16_t) (2000 + 2 * i), (uint16_t) (2000 + 2 * i) };
        r[DIAG_MAX_RANGES - 1] = (PortRange){ 2560, 2569 };

        ck_assert_int_eq(diag_open(&s, &err), 0);
        ck_assert_int_eq(diag_dump_listeners(s, r, DIAG_MAX_RANGES, &set, &err), DIAG_MAX_RANGES - 1 + 10);
        for (size_t i = 0; i < set.n; i++) {
                unsigned p = set.items[i].port;

                ck_assert_msg(p >= 2000 && p < 2600 && !seen[p - 2000], "port %u", p);
                seen[p - 2000] = true;
                ck_assert_msg((p < 2510 && p % 2 == 0) || (p >= 2560 && p <= 2569), "port %u passed", p);
        }
        diag_close(s);
        listener_set_done(&set);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("diag");
        TCase *tc = tcase_create("replay");

        tcase_add_test(tc, test_replay_ipv4);
        tcase_add_test(tc, test_replay_ipv6);
        tcase_add_test(tc, test_replay_dual);
        tcase_add_test(tc, test_replay_reuseport);
        tcase_add_test(tc, test_replay_large);
        tcase_add_test(tc, test_replay_kernel_filtered);
        tcase_add_test(tc, test_replay_appends_and_dedups_tail);
        tcase_add_test(tc, test_replay_errors);
        suite_add_tcase(s, tc);

        tc = tcase_create("parse");
        tcase_add_test(tc, test_parse_record_more_then_done);
        tcase_add_loop_test(tc, test_parse_framing, 0, ELEMENTSOF(framing));
        tcase_add_test(tc, test_parse_seq_portid_mismatch);
        tcase_add_test(tc, test_parse_control_messages);
        tcase_add_test(tc, test_parse_synthetic_fields);
        tcase_add_test(tc, test_parse_short_meminfo_and_no_cgroup);
        tcase_add_test(tc, test_parse_skips_non_listeners);
        tcase_add_test(tc, test_parse_bad_attributes);
        suite_add_tcase(s, tc);

        tc = tcase_create("request");
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        tcase_add_test(tc, test_request_bytes);
#endif
        tcase_add_test(tc, test_request_one_walk);
        tcase_add_test(tc, test_request_limits);
        tcase_add_test(tc, test_bytecode_semantics);
        tcase_add_test(tc, test_requests_filter);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);

        tc = tcase_create("lookup");
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        tcase_add_loop_test(tc, test_lookup_request_bytes, 0, ELEMENTSOF(lookups));
#endif
        tcase_add_test(tc, test_lookup_request_limits);
        tcase_add_test(tc, test_lookup_parse_answer);
        tcase_add_loop_test(tc, test_lookup_error_mapping, 0, ELEMENTSOF(lookup_errors));
        suite_add_tcase(s, tc);

        tc = tcase_create_root();
        tcase_add_test(tc, test_interface_name_other_netns);
        tcase_add_test(tc, test_lookup_kernel);
        tcase_add_test(tc, test_filter_kernel);
        suite_add_tcase(s, tc);
        return s;
}
