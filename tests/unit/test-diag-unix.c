/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check-main.h"
#include "diag-internal.h"
#include "diag.h"

#define FIXTURE_DIR "diag-unix"
#include "diag-test-util.h"
#include "recording.h"

/* ---- helpers ---------------------------------------------------------- */

/* Replays a recording through diag_parse_unix(), keeping the kernel's
 * order. Returns the last result (0 after NLMSG_DONE) or the first error;
 * *records counts the datagrams parsed. */
static int replay(FILE *f, ListenerSet *set, size_t *records, ErrBuf *err) {
        static uint32_t buf[DIAG_BUFFER_SIZE / 4];
        uint32_t len;
        int r = 1;

        *records = 0;
        while (fread(&len, sizeof(len), 1, f) == 1) {
                ck_assert_uint_le(len, sizeof(buf));
                ck_assert_uint_eq(fread(buf, 1, len, f), len);
                r = diag_parse_unix(buf, len, 0, 0, set, err);
                if (r < 0)
                        return r;
                ++*records;
                if (r == 0)
                        break;
        }
        return r;
}

static int replay_fixture(const char *name, ListenerSet *set, size_t *records, ErrBuf *err) {
        FILE *f = open_fixture(name);
        int r = replay(f, set, records, err);

        fclose(f);
        return r;
}

/* The one listener of set bound to path. */
static const Listener *find_path(const ListenerSet *set, const char *path) {
        const Listener *found = NULL;

        for (size_t i = 0; i < set->n; i++)
                if (strcmp(set->items[i].path, path) == 0) {
                        ck_assert_msg(!found, "%s listed twice", path);
                        found = &set->items[i];
                }
        ck_assert_msg(found, "listener %s not found", path);
        return found;
}

static void check_unix(const Listener *l, const char *path, uint8_t sotype, uint32_t depth, uint32_t backlog,
                       uint32_t inode, uint64_t cookie) {
        ck_assert_str_eq(l->path, path);
        ck_assert_uint_eq(l->kind, LISTENER_UNIX);
        ck_assert_uint_eq(l->family, AF_UNIX);
        ck_assert_uint_eq(l->sotype, sotype);
        ck_assert_uint_eq(l->depth, depth);
        ck_assert_uint_eq(l->backlog, backlog);
        ck_assert_uint_eq(l->inode, inode);
        ck_assert_uint_eq(l->cookie, cookie);
        ck_assert_uint_eq(l->uid, 0);
        ck_assert(!l->has_drops);
        ck_assert_uint_eq(l->drops, 0);
        ck_assert_uint_eq(l->port, 0);
        ck_assert_uint_eq(l->netns, 0);
        ck_assert_uint_eq(l->ifindex, 0);
        ck_assert_uint_eq(l->cgroup_id, 0);
}

/* One listener line of `ss -xlH`: type, state, Recv-Q, Send-Q, path, inode. */
typedef struct SsLine {
        char type[16];
        char state[16];
        unsigned recvq, sendq, inode;
        char path[256];
} SsLine;

static size_t read_ss(const char *name, SsLine *lines, size_t max) {
        FILE *f = open_fixture(name);
        char buf[512];
        size_t n = 0;

        while (fgets(buf, sizeof(buf), f)) {
                SsLine *s = &lines[n];

                ck_assert_int_eq(sscanf(buf, "%15s %15s %u %u %255s %u", s->type, s->state, &s->recvq, &s->sendq,
                                        s->path, &s->inode),
                                 6);
                if (strcmp(s->state, "LISTEN") != 0)
                        continue;
                ck_assert_uint_lt(++n, max);
        }
        fclose(f);
        return n;
}

/* Every LISTEN line of NAME.ss is in set with the same socket type,
 * depth, backlog and inode, and set holds nothing else. */
static void check_against_ss(const char *name, const ListenerSet *set) {
        static SsLine lines[1024];
        size_t n = read_ss(name, lines, ELEMENTSOF(lines));

        ck_assert_uint_eq(set->n, n);
        for (size_t i = 0; i < n; i++) {
                const Listener *l = find_path(set, lines[i].path);

                ck_assert_msg(strcmp(lines[i].type, "u_str") == 0 || strcmp(lines[i].type, "u_seq") == 0,
                              "%s: listener of type %s", lines[i].path, lines[i].type);
                ck_assert_uint_eq(l->sotype, strcmp(lines[i].type, "u_seq") == 0 ? SOCK_SEQPACKET : SOCK_STREAM);
                ck_assert_uint_eq(l->depth, lines[i].recvq);
                ck_assert_uint_eq(l->backlog, lines[i].sendq);
                ck_assert_uint_eq(l->inode, lines[i].inode);
        }
}

/* ---- fixtures (values from ss -xlH at capture time) ------------------- */

#define LONG_PATH                                                                                                     \
        "/tmp/backlogd/"                                                                                              \
        "lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll"

START_TEST(test_replay_basic) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        size_t records;

        ck_assert_int_eq(replay_fixture("basic.rec", &set, &records, &err), 0);
        ck_assert_uint_eq(records, 2);
        ck_assert_uint_eq(set.n, 7);
        /* the kernel's order, as ss printed it */
        check_unix(&set.items[0], "/tmp/backlogd/full.sock", SOCK_STREAM, 3, 2, 14044632, 1039320);
        check_unix(&set.items[1], "/tmp/backlogd/seqpacket.sock", SOCK_SEQPACKET, 3, 8, 14044635, 1039321);
        ck_assert_uint_eq(strlen(LONG_PATH), 107);
        check_unix(&set.items[2], LONG_PATH, SOCK_STREAM, 1, 0, 14044637, 1039322);
        check_unix(&set.items[3], "/tmp/backlogd/unlinked.sock", SOCK_STREAM, 0, 4, 14044638, 1039323);
        check_unix(&set.items[4], "@backlogd-abstract", SOCK_STREAM, 1, 16, 14044633, 1039324);
        check_unix(&set.items[5], "@b671a", SOCK_STREAM, 2, 5, 14044634, 1039325); /* autobind */
        check_unix(&set.items[6], "@with@nul", SOCK_STREAM, 0, 1, 14044636, 1039326);

        /* Full queues: backlog + 1 connects succeeded, the next failed. */
        ck_assert(listener_is_full(&set.items[0]));
        ck_assert(listener_is_full(&set.items[2]));
        ck_assert(!listener_is_full(&set.items[1]));
        ck_assert_uint_eq(listener_fill_pct(&set.items[0]), 100);

        /* the connected pair, the datagram socket and the bound socket
         * that never listened (UNCONN in the ss listing) are absent */
        check_against_ss("basic.ss", &set);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_replay_large) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        size_t records, abstract = 0;
        const Listener *l;
        char path[LISTENER_PATH_MAX];

        ck_assert_int_eq(replay_fixture("large.rec", &set, &records, &err), 0);
        ck_assert_uint_eq(records, 5); /* 4 datagrams of listeners, then NLMSG_DONE */
        ck_assert_uint_eq(set.n, 460);
        check_against_ss("large.ss", &set);

        snprintf(path, sizeof(path), "/tmp/backlogd-large/%.60s-%03d.sock",
                 "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp", 7);
        check_unix(find_path(&set, path), path, SOCK_STREAM, 3, 8, 14044708, 1039722);
        snprintf(path, sizeof(path), "/tmp/backlogd-large/%.60s-%03d.sock",
                 "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp", 419);
        check_unix(find_path(&set, path), path, SOCK_STREAM, 0, 20, 14045120, 1040033);
        check_unix(&set.items[0], set.items[0].path, SOCK_STREAM, 0, 4, 14044954, 1039704);
        ck_assert_str_eq(set.items[0].path, "/tmp/backlogd-large/"
                                            "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp-253.sock");
        l = find_path(&set, "@backlogd-large-039");
        check_unix(l, "@backlogd-large-039", SOCK_STREAM, 1, 100, 14045160, 1040163);
        ck_assert(l == &set.items[459]);
        l = find_path(&set, "@backlogd-large-000");
        check_unix(l, "@backlogd-large-000", SOCK_STREAM, 0, 100, 14045121, 1040149);

        for (size_t i = 0; i < set.n; i++)
                abstract += set.items[i].path[0] == '@';
        ck_assert_uint_eq(abstract, 40);
        /* a dump is not a snapshot, but this one has no duplicates */
        ck_assert_uint_eq(listener_set_sort_dedup(&set), 0);
        ck_assert_uint_eq(set.n, 460);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_parse_more_then_done) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        static uint32_t rec[DIAG_BUFFER_SIZE / 4];
        size_t len;

        len = load_record("large.rec", 0, rec, sizeof(rec));
        ck_assert_uint_eq(len, 3744);
        ck_assert_int_eq(diag_parse_unix(rec, len, 0, 0, &set, &err), 1);
        ck_assert_uint_eq(set.n, 24);
        len = load_record("large.rec", 1, rec, sizeof(rec));
        ck_assert_uint_eq(len, 32448);
        ck_assert_int_eq(diag_parse_unix(rec, len, 0, 0, &set, &err), 1);
        ck_assert_uint_eq(set.n, 24 + 208);
        len = load_record("large.rec", 4, rec, sizeof(rec));
        ck_assert_uint_eq(len, 20);
        ck_assert_int_eq(diag_parse_unix(rec, len, 0, 0, &set, &err), 0);
        ck_assert_uint_eq(set.n, 24 + 208);

        /* the inet_diag parser refuses a unix_diag answer */
        len = load_record("basic.rec", 0, rec, sizeof(rec));
        ck_assert_int_eq(diag_parse(rec, len, 0, 0, &set, &err), -EPROTO);
        ck_assert_str_eq(err.text, "unexpected address family 1");
        listener_set_done(&set);
}
END_TEST

/* The first datagram of basic.rec: 680 bytes, messages of 88, 96, 172,
 * 92, 84, 72 and 76 bytes. */
static const FramingCase framing[] = {
        { "as captured", FRAMING_WHOLE, .want_r = 1, .want_n = 7 },
        { "cut in the third message", 300, .want_r = -EPROTO,
          .want_text = "netlink message length 172 invalid (116 bytes left)" },
        { "cut in the second header", 88 + 10, .want_r = -EPROTO,
          .want_text = "10 trailing bytes: netlink message too short" },
        { "empty", 0, .want_r = -EPROTO, .want_text = "empty datagram" },
        /* whole messages only: the first two parse, and more must follow */
        { "the first two messages", 88 + 96, .want_r = 1, .want_n = 2 },
        { "garbage length", FRAMING_WHOLE, .nlmsg_len = 0xffff0000u, .want_r = -EPROTO,
          .want_text = "netlink message length 4294901760 invalid (680 bytes left)" },
        { "length below a header", FRAMING_WHOLE, .nlmsg_len = 8, .want_r = -EPROTO,
          .want_text = "netlink message length 8 invalid (680 bytes left)" },
        { "header only", 16, .nlmsg_len = 16, .want_r = -EPROTO, .want_text = "unix_diag_msg payload too short" },
        { "cut in the unix_diag_msg", 28, .nlmsg_len = 16 + 12, .want_r = -EPROTO,
          .want_text = "unix_diag_msg payload too short" },
        { "attribute cut by the message's end", 40, .nlmsg_len = 16 + 16 + 6, .want_r = -EPROTO,
          .want_text = "malformed attributes" },
        { "not AF_UNIX", FRAMING_WHOLE, .family = AF_INET, .want_r = -EPROTO,
          .want_text = "unexpected address family 2" },
        { "not SOCK_DIAG_BY_FAMILY", FRAMING_WHOLE, .nlmsg_type = 21, .want_r = -EPROTO,
          .want_text = "unexpected message type 21" },
};

START_TEST(test_parse_framing) {
        const FramingCase *c = &framing[_i];
        ListenerSet set = { 0 };
        uint32_t rec[DIAG_BUFFER_SIZE / 4];
        size_t len = load_record("basic.rec", 0, rec, sizeof(rec));

        ck_assert_uint_eq(len, 680);
        check_framing_case(parse_unix, rec, len, sizeof(struct unix_diag_msg), c, &set);
        ck_assert_msg(set.n == c->want_n, "%s: %zu listeners, want %zu", c->name, set.n, c->want_n);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_parse_seq_portid_mismatch) {
        ListenerSet set = { 0 };
        uint32_t rec[DIAG_BUFFER_SIZE / 4];
        size_t len = load_record("basic.rec", 0, rec, sizeof(rec));

        ck_assert_int_eq(check_seq_portid(parse_unix, rec, len, &set), 1);
        ck_assert_uint_eq(set.n, 7);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_parse_control_messages) {
        ListenerSet set = { 0 };

        check_control_messages(parse_unix, &set);
        ck_assert_uint_eq(set.n, 0);
        listener_set_done(&set);
}
END_TEST

/* ---- synthetic messages ----------------------------------------------- */

static struct nlmsghdr *put_msg(void *buf, uint8_t type, uint8_t state, uint32_t ino, uint64_t cookie) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct unix_diag_msg *m;

        nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
        nlh->nlmsg_flags = NLM_F_MULTI;
        m = mnl_nlmsg_put_extra_header(nlh, sizeof(*m));
        m->udiag_family = AF_UNIX;
        m->udiag_type = type;
        m->udiag_state = state;
        m->udiag_ino = ino;
        m->udiag_cookie[0] = (uint32_t) cookie;
        m->udiag_cookie[1] = (uint32_t) (cookie >> 32);
        return nlh;
}

static void put_rqlen(struct nlmsghdr *nlh, uint32_t rq, uint32_t wq) {
        struct unix_diag_rqlen rql = { rq, wq };

        mnl_attr_put(nlh, UNIX_DIAG_RQLEN, sizeof(rql), &rql);
}

static int parse_one(const struct nlmsghdr *nlh, ListenerSet *set, ErrBuf *err) {
        return diag_parse_unix(nlh, nlh->nlmsg_len, 0, 0, set, err);
}

START_TEST(test_parse_synthetic_fields) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        uint32_t buf[128];
        struct nlmsghdr *nlh;
        static const char abstract[] = "\0x\0y";

        /* every field, a 64-bit cookie, an unknown attribute in between */
        memset(buf, 0, sizeof(buf));
        nlh = put_msg(buf, SOCK_SEQPACKET, TCP_LISTEN, 4000000000u, 0x123456789abcdef0ULL);
        mnl_attr_put(nlh, UNIX_DIAG_NAME, sizeof(abstract) - 1, abstract);
        mnl_attr_put_u32(nlh, UNIX_DIAG_SHUTDOWN, 3);
        put_rqlen(nlh, 4096, 4095);
        mnl_attr_put_u32(nlh, UNIX_DIAG_UID, 65534);
        mnl_attr_put_u32(nlh, 200, 1);
        ck_assert_int_eq(parse_one(nlh, &set, &err), 1);
        ck_assert_uint_eq(set.n, 1);
        ck_assert_str_eq(set.items[0].path, "@x@y");
        ck_assert_uint_eq(set.items[0].depth, 4096);
        ck_assert_uint_eq(set.items[0].backlog, 4095);
        ck_assert_uint_eq(set.items[0].inode, 4000000000u);
        ck_assert_uint_eq(set.items[0].cookie, 0x123456789abcdef0ULL);
        ck_assert_uint_eq(set.items[0].uid, 65534);
        ck_assert_uint_eq(set.items[0].kind, LISTENER_UNIX);
        ck_assert_uint_eq(set.items[0].family, AF_UNIX);
        ck_assert_uint_eq(set.items[0].sotype, SOCK_SEQPACKET);
        ck_assert(!set.items[0].has_drops);
        ck_assert(listener_is_full(&set.items[0]));
        ck_assert_uint_eq(set.items[0].n_clients, 0);
        ck_assert_uint_eq(set.items[0].head, 0);

        /* the waiting clients' inodes, in queue order: the first four kept,
         * the first is the head; an empty list names none */
        {
                static const uint32_t icons[5] = { 0, 70, 71, 72, 73 };

                memset(buf, 0, sizeof(buf));
                nlh = put_msg(buf, SOCK_STREAM, TCP_LISTEN, 20, 21);
                mnl_attr_put(nlh, UNIX_DIAG_ICONS, sizeof(icons) - sizeof(icons[0]), icons + 1);
                put_rqlen(nlh, 4, 8);
                ck_assert_int_eq(parse_one(nlh, &set, &err), 1);
                ck_assert_uint_eq(set.items[1].n_clients, 4);
                ck_assert_uint_eq(set.items[1].head, 70);
                ck_assert_uint_eq(set.items[1].clients[3], 73);
                memset(buf, 0, sizeof(buf));
                nlh = put_msg(buf, SOCK_STREAM, TCP_LISTEN, 22, 23);
                mnl_attr_put(nlh, UNIX_DIAG_ICONS, sizeof(icons), icons);
                put_rqlen(nlh, 5, 8);
                ck_assert_int_eq(parse_one(nlh, &set, &err), 1);
                /* a client gone (0) is no head */
                ck_assert_uint_eq(set.items[2].n_clients, 4);
                ck_assert_uint_eq(set.items[2].head, 0);
                ck_assert_uint_eq(set.items[2].clients[1], 70);
                memset(buf, 0, sizeof(buf));
                nlh = put_msg(buf, SOCK_STREAM, TCP_LISTEN, 24, 25);
                mnl_attr_put(nlh, UNIX_DIAG_ICONS, 0, icons);
                put_rqlen(nlh, 0, 8);
                ck_assert_int_eq(parse_one(nlh, &set, &err), 1);
                ck_assert_uint_eq(set.items[3].n_clients, 0);
                set.n = 1;
        }

        /* no name (unnamed), no UNIX_DIAG_UID (before Linux 5.3) */
        memset(buf, 0, sizeof(buf));
        nlh = put_msg(buf, SOCK_STREAM, TCP_LISTEN, 7, 8);
        put_rqlen(nlh, 0, 128);
        ck_assert_int_eq(parse_one(nlh, &set, &err), 1);
        ck_assert_uint_eq(set.n, 2);
        ck_assert_str_eq(set.items[1].path, "");
        ck_assert_uint_eq(set.items[1].uid, UINT32_MAX);
        ck_assert_uint_eq(set.items[1].backlog, 128);
        ck_assert_uint_eq(set.items[1].cookie, 8);
        ck_assert_uint_eq(set.items[1].sotype, SOCK_STREAM);

        /* a path of 108 bytes with the kernel's NUL after it (109 bytes) */
        {
                char name[109];

                memset(name, 'a', 108);
                name[0] = '/';
                name[108] = '\0';
                memset(buf, 0, sizeof(buf));
                nlh = put_msg(buf, SOCK_STREAM, TCP_LISTEN, 9, 10);
                mnl_attr_put(nlh, UNIX_DIAG_NAME, sizeof(name), name);
                put_rqlen(nlh, 1, 2);
                ck_assert_int_eq(parse_one(nlh, &set, &err), 1);
                ck_assert_uint_eq(set.n, 3);
                ck_assert_str_eq(set.items[2].path, name);
                /* an abstract name of 108 bytes: "@" and 107 more */
                name[0] = '\0';
                memset(buf, 0, sizeof(buf));
                nlh = put_msg(buf, SOCK_STREAM, TCP_LISTEN, 11, 12);
                mnl_attr_put(nlh, UNIX_DIAG_NAME, 108, name);
                put_rqlen(nlh, 1, 2);
                ck_assert_int_eq(parse_one(nlh, &set, &err), 1);
                ck_assert_uint_eq(set.n, 4);
                ck_assert_uint_eq(strlen(set.items[3].path), 108);
                ck_assert_int_eq(set.items[3].path[0], '@');
                ck_assert_int_eq(set.items[3].path[107], 'a');
        }
        listener_set_done(&set);
}
END_TEST

START_TEST(test_parse_skips_non_listeners) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        uint32_t buf[64] = { 0 };
        struct nlmsghdr *nlh = put_msg(buf, SOCK_STREAM, TCP_ESTABLISHED, 1, 2);

        /* no RQLEN needed for what is skipped */
        ck_assert_int_eq(parse_one(nlh, &set, &err), 1);
        ck_assert_uint_eq(set.n, 0);
        listener_set_done(&set);
}
END_TEST

/* A listener message with an attribute of type (-1: none) and len bytes,
 * then a valid UNIX_DIAG_RQLEN if rqlen, cut by cut bytes or with its first
 * attribute's nla_len changed: refused with want_text. */
static const struct {
        const char *name;
        int type; /* UNIX_DIAG_NAME is 0 */
        uint16_t len;
        bool rqlen;
        uint16_t cut, nla_len;
        const char *want_text;
} bad_attrs[] = {
        { "no UNIX_DIAG_RQLEN", -1, 0, false, .want_text = "listener without UNIX_DIAG_RQLEN" },
        { "short UNIX_DIAG_RQLEN", UNIX_DIAG_RQLEN, 4, false, .want_text = "UNIX_DIAG_RQLEN of invalid length" },
        { "short UNIX_DIAG_UID", UNIX_DIAG_UID, 2, true, .want_text = "UNIX_DIAG_UID of invalid length" },
        { "ragged UNIX_DIAG_ICONS", UNIX_DIAG_ICONS, 6, true, .want_text = "UNIX_DIAG_ICONS of invalid length" },
        { "empty UNIX_DIAG_NAME", UNIX_DIAG_NAME, 0, true, .want_text = "UNIX_DIAG_NAME of invalid length" },
        { "long UNIX_DIAG_NAME", UNIX_DIAG_NAME, 110, true, .want_text = "UNIX_DIAG_NAME of invalid length" },
        /* the message's length is cut, the datagram's is not */
        { "attribute longer than the message", -1, 0, true, .cut = 4, .want_text = "malformed attributes" },
        { "attribute shorter than its header", -1, 0, true, .nla_len = 2, .want_text = "malformed attributes" },
};

START_TEST(test_parse_bad_attributes) {
        ListenerSet set = { 0 };
        ErrBuf err = { { 0 } };
        uint32_t buf[128] = { 0 };
        struct nlmsghdr *nlh = put_msg(buf, SOCK_STREAM, TCP_LISTEN, 1, 2);
        static const char name[120] = "/x";

        if (bad_attrs[_i].type >= 0)
                mnl_attr_put(nlh, (uint16_t) bad_attrs[_i].type, bad_attrs[_i].len, name);
        if (bad_attrs[_i].rqlen)
                put_rqlen(nlh, 0, 1);
        nlh->nlmsg_len -= bad_attrs[_i].cut;
        if (bad_attrs[_i].nla_len)
                ((struct nlattr *) ((uint8_t *) nlh + 32))->nla_len = bad_attrs[_i].nla_len;
        ck_assert_msg(parse_one(nlh, &set, &err) == -EPROTO, "%s: not refused", bad_attrs[_i].name);
        ck_assert_msg(strcmp(err.text, bad_attrs[_i].want_text) == 0, "%s: \"%s\"", bad_attrs[_i].name, err.text);
        ck_assert_uint_eq(set.n, 0);
        listener_set_done(&set);
}
END_TEST

/* ---- request ---------------------------------------------------------- */

START_TEST(test_icons_request_bytes) {
        uint8_t buf[256];
        static const uint8_t want[40] = {
                40,   0,    0,    0,                /* nlmsg_len */
                20,   0,                            /* SOCK_DIAG_BY_FAMILY */
                0x05, 0x00,                         /* NLM_F_REQUEST | NLM_F_ACK */
                0x78, 0x56, 0x34, 0x12,             /* seq */
                0,    0,    0,    0,                /* pid */
                1,    0,    0,    0,                /* AF_UNIX, protocol 0, pad */
                0,    0x04, 0,    0,                /* udiag_states = 1 << TCP_LISTEN */
                0x39, 0x30, 0,    0,                /* udiag_ino 12345 */
                0x18, 0,    0,    0,                /* ICONS | RQLEN */
                0x08, 0x07, 0x06, 0x05, 4, 3, 2, 1, /* udiag_cookie */
        };

        memset(buf, 0xaa, sizeof(buf));
        ck_assert_int_eq(diag_build_unix_icons_request(buf, sizeof(buf), 0x12345678, 12345, 0x0102030405060708ULL),
                         40);
        ck_assert_mem_eq(buf, want, sizeof(want));
}
END_TEST

START_TEST(test_request_bytes) {
        uint8_t buf[256];
        static const uint8_t want[40] = {
                40,   0,    0,    0,                /* nlmsg_len */
                20,   0,                            /* SOCK_DIAG_BY_FAMILY */
                0x01, 0x03,                         /* NLM_F_REQUEST | NLM_F_DUMP */
                0x78, 0x56, 0x34, 0x12,             /* seq */
                0,    0,    0,    0,                /* pid */
                1,    0,    0,    0,                /* AF_UNIX, protocol 0, pad */
                0,    0x04, 0,    0,                /* udiag_states = 1 << TCP_LISTEN */
                0,    0,    0,    0,                /* udiag_ino */
                0x51, 0,    0,    0,                /* NAME | RQLEN | UID */
                0,    0,    0,    0,    0, 0, 0, 0, /* udiag_cookie */
        };

        memset(buf, 0xaa, sizeof(buf));
        ck_assert_int_eq(diag_build_unix_request(buf, sizeof(buf), 0x12345678), 40);
        ck_assert_mem_eq(buf, want, sizeof(want));
        for (size_t i = sizeof(want); i < sizeof(buf); i++)
                ck_assert_uint_eq(buf[i], 0);
        ck_assert_int_eq(diag_build_unix_request(buf, 63, 1), -ENOBUFS);
        ck_assert_int_eq(diag_build_unix_request(buf, 64, 1), 40);
}
END_TEST

/* ---- live (root, private network namespace) ---------------------------- */

static void enter_netns(void) {
        ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
}

static int unix_listener(int type, const struct sockaddr_un *sa, socklen_t len, int backlog) {
        int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (const struct sockaddr *) sa, len), 0);
        ck_assert_int_eq(listen(fd, backlog), 0);
        return fd;
}

static int unix_connect(int type, const struct sockaddr_un *sa, socklen_t len) {
        int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        ck_assert_int_ge(fd, 0);
        if (connect(fd, (const struct sockaddr *) sa, len) < 0) {
                int e = errno;

                close(fd);
                return -e;
        }
        return fd;
}

static int reject_cb(const Listener *l, void *userdata) {
        (void) l;
        ++*(int *) userdata;
        return -ECANCELED;
}

START_TEST(test_live_backlog) {
        char dir[] = "/tmp/test-diag-unix.XXXXXX";
        struct sockaddr_un path = { .sun_family = AF_UNIX }, abstract = { .sun_family = AF_UNIX };
        socklen_t abstract_len;
        ListenerSet set = { 0 };
        DiagSocket *s = NULL;
        ErrBuf err = { { 0 } };
        int fds[16], nfds = 0, calls = 0;
        FILE *rec;
        size_t records;
        const Listener *l;

        enter_netns();
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path.sun_path, sizeof(path.sun_path), "%s/live.sock", dir);
        fds[nfds++] = unix_listener(SOCK_STREAM, &path, sizeof(path), 2);
        memcpy(abstract.sun_path, "\0backlogd-live", 14);
        abstract_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 14);
        fds[nfds++] = unix_listener(SOCK_SEQPACKET, &abstract, abstract_len, 0);

        /* a SOCK_STREAM listener on a path, a SOCK_SEQPACKET one on an
         * abstract name; listen(2) takes exactly 3 connections, listen(0) one */
        for (int i = 0; i < 3; i++) {
                fds[nfds] = unix_connect(SOCK_STREAM, &path, sizeof(path));
                ck_assert_int_ge(fds[nfds], 0);
                nfds++;
        }
        ck_assert_int_eq(unix_connect(SOCK_STREAM, &path, sizeof(path)), -EAGAIN);
        fds[nfds] = unix_connect(SOCK_SEQPACKET, &abstract, abstract_len);
        ck_assert_int_ge(fds[nfds], 0);
        nfds++;
        ck_assert_int_eq(unix_connect(SOCK_SEQPACKET, &abstract, abstract_len), -EAGAIN);

        ck_assert_int_eq(diag_open(&s, &err), 0);
        rec = tmpfile();
        ck_assert_ptr_nonnull(rec);
        diag_set_recorder(s, rec);
        ck_assert_int_eq(diag_dump_unix(s, diag_push_cb, &set, &err), 2);
        ck_assert_uint_eq(set.n, 2);
        l = find_path(&set, path.sun_path);
        ck_assert_uint_eq(l->depth, 3);
        ck_assert_uint_eq(l->backlog, 2);
        ck_assert(listener_is_full(l));
        ck_assert_uint_eq(l->kind, LISTENER_UNIX);
        ck_assert_uint_eq(l->sotype, SOCK_STREAM);
        ck_assert_uint_eq(l->uid, 0);
        ck_assert(!l->has_drops);
        ck_assert_uint_ne(l->cookie, 0);
        {
                struct stat st;

                ck_assert_int_eq(fstat(fds[0], &st), 0);
                ck_assert_uint_eq(l->inode, st.st_ino);
                /* the dump names no clients; an exact request names the
                 * three waiting ones, oldest first */
                ck_assert_uint_eq(l->n_clients, 0);
                {
                        Listener c = *l;

                        ck_assert_int_eq(diag_unix_clients(s, &c, &err), 1);
                        ck_assert_uint_eq(c.n_clients, 3);
                        for (int i = 0; i < 3; i++) {
                                ck_assert_int_eq(fstat(fds[2 + i], &st), 0);
                                ck_assert_uint_eq(c.clients[i], st.st_ino);
                        }
                        ck_assert_uint_eq(c.head, c.clients[0]);
                        /* a wrong cookie, a wrong inode: none known */
                        c.cookie++;
                        ck_assert_int_eq(diag_unix_clients(s, &c, &err), 0);
                        c.cookie--;
                        c.inode = 1;
                        ck_assert_int_eq(diag_unix_clients(s, &c, &err), 0);
                }
        }
        l = find_path(&set, "@backlogd-live");
        ck_assert_uint_eq(l->sotype, SOCK_SEQPACKET);
        ck_assert_uint_eq(l->depth, 1);
        ck_assert_uint_eq(l->backlog, 0);

        /* the recording replays to the same listeners */
        {
                ListenerSet again = { 0 };

                rewind(rec);
                ck_assert_int_eq(replay(rec, &again, &records, &err), 0);
                ck_assert_uint_eq(again.n, 2);
                ck_assert_mem_eq(again.items, set.items, 2 * sizeof(Listener));
                listener_set_done(&again);
        }
        diag_set_recorder(s, NULL);
        fclose(rec);

        /* an accept() shows at once */
        {
                int c = accept4(fds[0], NULL, NULL, SOCK_CLOEXEC);

                ck_assert_int_ge(c, 0);
                close(c);
        }
        set.n = 0;
        ck_assert_int_eq(diag_dump_unix(s, diag_push_cb, &set, &err), 2);
        ck_assert_uint_eq(find_path(&set, path.sun_path)->depth, 2);
        /* accept() took the head: the second client is the head now */
        {
                struct stat st;
                Listener c = *find_path(&set, path.sun_path);

                ck_assert_int_eq(diag_unix_clients(s, &c, &err), 1);
                ck_assert_int_eq(fstat(fds[3], &st), 0);
                ck_assert_uint_eq(c.head, st.st_ino);
                ck_assert_uint_eq(c.n_clients, 2);
        }

        /* a callback's error aborts the dump */
        ck_assert_int_eq(diag_dump_unix(s, reject_cb, &calls, &err), -ECANCELED);
        ck_assert_int_eq(calls, 1);
        ck_assert_str_eq(err.text, "unix dump: listener rejected by the caller");
        diag_close(s);

        for (int i = 0; i < nfds; i++)
                close(fds[i]);
        unlink(path.sun_path);
        rmdir(dir);
        listener_set_done(&set);
}
END_TEST

START_TEST(test_live_many) {
        enum { N = 400 };
        static int fds[N];
        ListenerSet set = { 0 };
        DiagSocket *s = NULL;
        ErrBuf err = { { 0 } };
        static bool seen[N];

        enter_netns();
        for (int i = 0; i < N; i++) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "many-%03d", i);

                fds[i] = unix_listener(SOCK_STREAM, &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + n),
                                       i % 7);
        }
        ck_assert_int_eq(diag_open(&s, &err), 0);
        ck_assert_int_eq(diag_dump_unix(s, diag_push_cb, &set, &err), N);
        ck_assert_uint_eq(set.n, N);
        for (size_t i = 0; i < set.n; i++) {
                unsigned k;
                char c;

                ck_assert_int_eq(sscanf(set.items[i].path, "@many-%u%c", &k, &c), 1);
                ck_assert_uint_lt(k, N);
                ck_assert(!seen[k]);
                seen[k] = true;
                ck_assert_uint_eq(set.items[i].backlog, k % 7);
                ck_assert_uint_eq(set.items[i].depth, 0);
        }
        diag_close(s);
        for (int i = 0; i < N; i++)
                close(fds[i]);
        listener_set_done(&set);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("diag-unix");
        TCase *tc = tcase_create("replay");

        tcase_add_test(tc, test_replay_basic);
        tcase_add_test(tc, test_replay_large);
        suite_add_tcase(s, tc);

        tc = tcase_create("parse");
        tcase_add_test(tc, test_parse_more_then_done);
        tcase_add_loop_test(tc, test_parse_framing, 0, ELEMENTSOF(framing));
        tcase_add_test(tc, test_parse_seq_portid_mismatch);
        tcase_add_test(tc, test_parse_control_messages);
        tcase_add_test(tc, test_parse_synthetic_fields);
        tcase_add_test(tc, test_parse_skips_non_listeners);
        tcase_add_loop_test(tc, test_parse_bad_attributes, 0, ELEMENTSOF(bad_attrs));
        suite_add_tcase(s, tc);

        tc = tcase_create("request");
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        tcase_add_test(tc, test_request_bytes);
        tcase_add_test(tc, test_icons_request_bytes);
#endif
        suite_add_tcase(s, tc);

        /* Live, in a private network namespace: root. */
        tc = tcase_create_root();
        tcase_add_test(tc, test_live_backlog);
        tcase_add_test(tc, test_live_many);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
        return s;
}
