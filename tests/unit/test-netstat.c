/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-main.h"
#include "netstat.h"

#include "alloc-count.h"

#define N _NETSTAT_COUNTER_MAX
/* Marks a counter the fixture's kernel lacks; no fixture holds this value. */
#define ABSENT UINT64_C(0xAB5E47AB5E47AB5E)

static char *fixture(const char *rel) {
        const char *dir = getenv("FIXTURES");
        char *p;

        ck_assert_msg(dir, "FIXTURES is not set");
        ck_assert_int_ge(asprintf(&p, "%s/netstat/%s", dir, rel), 0);
        return p;
}

typedef struct GoodCase {
        const char *dir;
        uint64_t value[N]; /* ABSENT: present must be false */
        int64_t sysctl[_SYSCTL_MAX];
        bool sysctl_present[_SYSCTL_MAX];
        uint64_t passive_opens; /* Tcp PassiveOpens of net/snmp; ABSENT: no file */
} GoodCase;

/* Values in the order of NetstatCounter: ListenOverflows, ListenDrops,
 * TCPReqQFullDrop, TCPReqQFullDoCookies, SyncookiesSent, SyncookiesRecv,
 * SyncookiesFailed, TCPDeferAcceptDrop, TCPMigrateReqSuccess,
 * TCPMigrateReqFailure. */
static const GoodCase good[] = {
        { "linux-2.6.32",
          { 310, 311, ABSENT, ABSENT, 12, 13, 14, ABSENT, ABSENT, ABSENT },
          { 128, 1024, 0, 0, 5 },
          { true, true, true, true, true },
          ABSENT },
        { "linux-3.10",
          { 4021, 4100, 77, 78, 5, 6, 7, 3, ABSENT, ABSENT },
          { 128, 512, 1, 0, 5 },
          { true, true, true, true, true },
          ABSENT },
        { "linux-5.4",
          { 123456, 123460, 4, 900, 901, 902, 903, 1, ABSENT, ABSENT },
          { 4096, 256, 1, 1, 2 },
          { true, true, true, true, true },
          ABSENT },
        { "linux-6.18",
          { 1201, 1377, 45, 46, 101, 102, 103, 7, 8, 9 },
          { 4096, 2048, 1, 0, 5 },
          { true, true, true, true, true },
          5123 },
        /* MPTcpExt first, unknown sections naming ListenOverflows etc. before
         * and after TcpExt, TcpExt in reverse order, u64 extremes, last line
         * without newline; sysctls: garbage, "-1", "2" without newline,
         * empty, missing. */
        { "reordered",
          { UINT64_MAX, UINT64_MAX - 1, 0, 0, 0, 0, 0, 0, 0, 1 },
          { 0, -1, 2, 0, 0 },
          { false, true, true, false, false },
          ABSENT },
};

static void assert_counters(const char *what, const NetstatCounters *c, const uint64_t *want) {
        for (int i = 0; i < N; i++) {
                if (want[i] == ABSENT) {
                        ck_assert_msg(!c->present[i], "%s: %s should be absent", what, netstat_counter_name(i));
                        ck_assert_msg(c->value[i] == 0, "%s: absent %s not zero", what, netstat_counter_name(i));
                } else {
                        ck_assert_msg(c->present[i], "%s: %s should be present", what, netstat_counter_name(i));
                        ck_assert_msg(c->value[i] == want[i], "%s: %s = %llu, want %llu", what,
                                      netstat_counter_name(i), (unsigned long long) c->value[i],
                                      (unsigned long long) want[i]);
                }
        }
}

START_TEST(test_read_fixture) {
        const GoodCase *g = &good[_i];
        _cleanup_(freep) char *root = fixture(g->dir);
        NetstatCounters c;
        ErrBuf err = { "untouched" };

        memset(&c, 0xAA, sizeof(c));
        ck_assert_int_eq(netstat_read(root, &c, &err), 0);
        ck_assert_str_eq(err.text, "untouched");
        assert_counters(g->dir, &c, g->value);
}
END_TEST

/* PassiveOpens through a reader: its net/snmp, opened with net/netstat; a
 * tree without one reads its counters all the same. */
START_TEST(test_read_fixture_passive_opens) {
        const GoodCase *g = &good[_i];
        _cleanup_(freep) char *root = fixture(g->dir);
        _cleanup_(netstat_reader_freep) NetstatReader *r = NULL;
        NetstatCounters c;
        ErrBuf err = { "" };
        uint64_t v = 0xAA;

        ck_assert_int_eq(netstat_reader_new(root, &r), 0);
        ck_assert_int_eq(netstat_reader_read_passive_opens(r, &v, &err), -ENOTCONN); /* not opened yet */
        ck_assert_msg(strstr(err.text, "/net/snmp: not opened yet"), "%s", err.text);
        ck_assert_int_eq(netstat_reader_read(r, &c, &err), 0);
        assert_counters(g->dir, &c, g->value);
        if (g->passive_opens == ABSENT) {
                ck_assert_int_eq(netstat_reader_read_passive_opens(r, &v, &err), -ENOTCONN);
                ck_assert_msg(strstr(err.text, "/net/snmp: could not be opened"), "%s", err.text);
                ck_assert_uint_eq(v, 0xAA);
        } else {
                ck_assert_int_eq(netstat_reader_read_passive_opens(r, &v, &err), 0);
                ck_assert_uint_eq(v, g->passive_opens);
        }
}
END_TEST

START_TEST(test_parse_fixture_file) {
        /* The same through netstat_parse() on an open FILE. */
        const GoodCase *g = &good[_i];
        _cleanup_(freep) char *rel = NULL, *path = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        NetstatCounters c;

        ck_assert_int_ge(asprintf(&rel, "%s/net/netstat", g->dir), 0);
        path = fixture(rel);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        memset(&c, 0x55, sizeof(c));
        ck_assert_int_eq(netstat_parse(f, &c, NULL), 0);
        assert_counters(g->dir, &c, g->value);
}
END_TEST

START_TEST(test_sysctls_fixture) {
        const GoodCase *g = &good[_i];
        _cleanup_(freep) char *root = fixture(g->dir);
        NetstatSysctls s;

        memset(&s, 0xAA, sizeof(s));
        netstat_read_sysctls(root, &s);
        for (int i = 0; i < _SYSCTL_MAX; i++) {
                ck_assert_msg(s.present[i] == g->sysctl_present[i], "%s: %s present=%d", g->dir,
                              netstat_sysctl_name(i), s.present[i]);
                if (g->sysctl_present[i])
                        ck_assert_msg(s.value[i] == g->sysctl[i], "%s: %s = %lld, want %lld", g->dir,
                                      netstat_sysctl_name(i), (long long) s.value[i], (long long) g->sysctl[i]);
        }
}
END_TEST

typedef struct BadCase {
        const char *file;
        int r;
        const char *text;
} BadCase;

static const BadCase bad[] = {
        { "fewer-values.txt", -EBADMSG, "line 2: TcpExt: 135 names but 134 values" },
        { "more-values.txt", -EBADMSG, "line 4: IpExt: 18 names but 19 values" },
        { "missing-values.txt", -EBADMSG, "line 5: MPTcpExt: names without a values line" },
        { "prefix-mismatch.txt", -EBADMSG, "line 2: expected TcpExt values after the names on line 1, got IpExt" },
        { "truncated.txt", -EBADMSG, "line 2: TcpExt: 135 names but 91 values" },
        { "truncated-names.txt", -EBADMSG, "line 1: TcpExt: names without a values line" },
        { "non-numeric.txt", -EBADMSG, "line 2: TcpExt: ListenDrops: invalid value '13x7'" },
        { "negative.txt", -EBADMSG, "line 2: TcpExt: ListenOverflows: invalid value '-1201'" },
        { "overflow.txt", -EBADMSG,
          "line 2: TcpExt: ListenOverflows: value '18446744073709551616' overflows 64 bits" },
        { "no-tcpext.txt", -ENODATA, "no TcpExt section" },
        { "empty.txt", -ENODATA, "no TcpExt section" },
        { "no-prefix.txt", -EBADMSG, "line 3: no 'Prefix:' at start of line" },
        { "duplicate-tcpext.txt", -EBADMSG, "line 5: second TcpExt section (first on line 1)" },
        { "duplicate-name.txt", -EBADMSG, "line 1: TcpExt: duplicate name 'ListenOverflows'" },
        { "values-without-names.txt", -EBADMSG, "line 1: TcpExt: '101' is not a counter name" },
        { "no-names.txt", -EBADMSG, "line 1: TcpExt: no names" },
        { "empty-line.txt", -EBADMSG, "line 3: empty line" },
        { "nul-byte.txt", -EBADMSG, "line 2: NUL byte in line" },
};

START_TEST(test_bad_fixture) {
        const BadCase *b = &bad[_i];
        _cleanup_(freep) char *rel = NULL, *path = NULL;
        _cleanup_(fclosep) FILE *f = NULL;
        NetstatCounters c, orig;
        ErrBuf err = { "" };

        ck_assert_int_ge(asprintf(&rel, "bad/%s", b->file), 0);
        path = fixture(rel);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        memset(&c, 0xAA, sizeof(c));
        orig = c;
        ck_assert_int_eq(netstat_parse(f, &c, &err), b->r);
        ck_assert_str_eq(err.text, b->text);
        ck_assert_msg(memcmp(&c, &orig, sizeof(c)) == 0, "%s: ret written on failure", b->file);
}
END_TEST

START_TEST(test_bad_null_err) {
        /* A NULL ErrBuf is allowed. */
        _cleanup_(freep) char *path = fixture("bad/overflow.txt");
        _cleanup_(fclosep) FILE *f = fopen(path, "re");
        NetstatCounters c;

        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(netstat_parse(f, &c, NULL), -EBADMSG);
}
END_TEST

static int parse_string(const char *text, NetstatCounters *ret, ErrBuf *err) {
        _cleanup_(fclosep) FILE *f = fmemopen((void *) text, strlen(text), "r");

        ck_assert_ptr_nonnull(f);
        return netstat_parse(f, ret, err);
}

START_TEST(test_long_line) {
        /* 20,000 names (~200 KB lines), the counters at the very end. */
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&text, &size);
        NetstatCounters c;
        ErrBuf err = { "" };

        ck_assert_ptr_nonnull(m);
        fputs("TcpExt:", m);
        for (int i = 0; i < 20000; i++)
                fprintf(m, " Filler%d", i);
        fputs(" ListenOverflows ListenDrops\nTcpExt:", m);
        for (int i = 0; i < 20000; i++)
                fprintf(m, " %d", i);
        fputs(" 424242 18446744073709551615\n", m);
        ck_assert_int_eq(fclose(m), 0);
        ck_assert_uint_gt(size, 200000);

        ck_assert_int_eq(parse_string(text, &c, &err), 0);
        ck_assert(c.present[NETSTAT_LISTEN_OVERFLOWS]);
        ck_assert(c.value[NETSTAT_LISTEN_OVERFLOWS] == 424242);
        ck_assert(c.value[NETSTAT_LISTEN_DROPS] == UINT64_MAX);
        ck_assert(!c.present[NETSTAT_TCP_REQQ_FULL_DROP]);
}
END_TEST

START_TEST(test_minimal_and_whitespace) {
        NetstatCounters c;
        ErrBuf err = { "" };

        /* Runs of blanks between fields are tolerated; counters only come
         * from TcpExt. */
        ck_assert_int_eq(parse_string("IpExt: ListenDrops\nIpExt: 5\n"
                                      "TcpExt:  ListenDrops\tTCPMigrateReqFailure \nTcpExt: 17  0 \n",
                                      &c, &err),
                         0);
        ck_assert(c.present[NETSTAT_LISTEN_DROPS]);
        ck_assert(c.value[NETSTAT_LISTEN_DROPS] == 17);
        ck_assert(c.present[NETSTAT_TCP_MIGRATE_REQ_FAILURE]);
        ck_assert(c.value[NETSTAT_TCP_MIGRATE_REQ_FAILURE] == 0);
        ck_assert(!c.present[NETSTAT_LISTEN_OVERFLOWS]);
        ck_assert(c.value[NETSTAT_LISTEN_OVERFLOWS] == 0);

        /* "TcpExt:" must be followed by a blank, and prefixes never hold one. */
        ck_assert_int_eq(parse_string("TcpExt:ListenDrops\nTcpExt:1\n", &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 1: no 'Prefix:' at start of line");
        ck_assert_int_eq(parse_string("Tcp Ext: ListenDrops\n", &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 1: no 'Prefix:' at start of line");
        ck_assert_int_eq(parse_string(": ListenDrops\n", &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 1: no 'Prefix:' at start of line");
        /* Empty value in place of a number. */
        ck_assert_int_eq(parse_string("TcpExt: ListenDrops\nTcpExt: +5\n", &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 2: TcpExt: ListenDrops: invalid value '+5'");
        /* Values line repeating the names: the names are not numbers. */
        ck_assert_int_eq(parse_string("TcpExt: ListenDrops\nTcpExt: ListenDrops\n", &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 2: TcpExt: ListenDrops: invalid value 'ListenDrops'");
        /* A trailing blank line. */
        ck_assert_int_eq(parse_string("TcpExt: ListenDrops\nTcpExt: 1\n\n", &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 3: empty line");
}
END_TEST

START_TEST(test_error_text_bounded) {
        /* An absurdly long bad token does not overrun ErrBuf. */
        char text[2048], *p = text;
        NetstatCounters c;
        ErrBuf err;

        p += sprintf(p, "TcpExt: ListenDrops\nTcpExt: ");
        memset(p, '7', 1000);
        p[1000] = 'x';
        p[1001] = '\0';
        memset(&err, 'Z', sizeof(err));
        ck_assert_int_eq(parse_string(text, &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text,
                         "line 2: TcpExt: ListenDrops: invalid value '7777777777777777777777777777777777777777'");
}
END_TEST

START_TEST(test_read_missing_root) {
        NetstatCounters c;
        ErrBuf err = { "" };

        memset(&c, 0xAA, sizeof(c));
        ck_assert_int_eq(netstat_read("/nonexistent/backlogd-test", &c, &err), -ENOENT);
        ck_assert_str_eq(err.text, "/nonexistent/backlogd-test/net/netstat: No such file or directory");
        for (size_t i = 0; i < sizeof(c); i++)
                ck_assert_int_eq(((unsigned char *) &c)[i], 0xAA);
}
END_TEST

START_TEST(test_read_error_prefixed) {
        /* A parse failure through netstat_read names the file. Build a root
         * whose net/netstat is a copy of a bad fixture. */
        char root[] = "/tmp/test-netstat-XXXXXX";
        _cleanup_(freep) char *src = fixture("bad/fewer-values.txt"), *cmd = NULL, *want = NULL;
        NetstatCounters c;
        ErrBuf err = { "" };

        ck_assert_ptr_nonnull(mkdtemp(root));
        ck_assert_int_ge(asprintf(&cmd, "mkdir %s/net && cp %s %s/net/netstat", root, src, root), 0);
        ck_assert_int_eq(system(cmd), 0);
        ck_assert_int_eq(netstat_read(root, &c, &err), -EBADMSG);
        ck_assert_int_ge(asprintf(&want, "%s/net/netstat: line 2: TcpExt: 135 names but 134 values", root), 0);
        ck_assert_str_eq(err.text, want);
        free(cmd);
        ck_assert_int_ge(asprintf(&cmd, "rm -r %s", root), 0);
        ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_read_directory) {
        /* net/netstat that cannot be read (a directory): the read error. */
        char root[] = "/tmp/test-netstat-XXXXXX";
        _cleanup_(freep) char *dir = NULL, *net = NULL;
        NetstatCounters c;
        ErrBuf err = { "" };

        ck_assert_ptr_nonnull(mkdtemp(root));
        ck_assert_int_ge(asprintf(&net, "%s/net", root), 0);
        ck_assert_int_ge(asprintf(&dir, "%s/net/netstat", root), 0);
        ck_assert_int_eq(mkdir(net, 0700), 0);
        ck_assert_int_eq(mkdir(dir, 0700), 0);
        ck_assert_int_eq(netstat_read(root, &c, &err), -EISDIR);
        ck_assert_ptr_nonnull(strstr(err.text, "line 1: read error: Is a directory"));
        rmdir(dir);
        rmdir(net);
        rmdir(root);
}
END_TEST

START_TEST(test_sysctls_missing_root) {
        NetstatSysctls s;

        memset(&s, 0xAA, sizeof(s));
        netstat_read_sysctls("/nonexistent/backlogd-test", &s);
        for (int i = 0; i < _SYSCTL_MAX; i++) {
                ck_assert(!s.present[i]);
                ck_assert_int_eq(s.value[i], 0);
        }
}
END_TEST

START_TEST(test_names) {
        static const char *const counters[] = {
                "ListenOverflows",      "ListenDrops",          "TCPReqQFullDrop",  "TCPReqQFullDoCookies",
                "SyncookiesSent",       "SyncookiesRecv",       "SyncookiesFailed", "TCPDeferAcceptDrop",
                "TCPMigrateReqSuccess", "TCPMigrateReqFailure",
        };
        static const char *const sysctls[] = {
                "net.core.somaxconn",          "net.ipv4.tcp_max_syn_backlog",
                "net.ipv4.tcp_syncookies",     "net.ipv4.tcp_abort_on_overflow",
                "net.ipv4.tcp_synack_retries",
        };

        ck_assert_int_eq(ELEMENTSOF(counters), _NETSTAT_COUNTER_MAX);
        ck_assert_int_eq(ELEMENTSOF(sysctls), _SYSCTL_MAX);
        for (int i = 0; i < _NETSTAT_COUNTER_MAX; i++)
                ck_assert_str_eq(netstat_counter_name(i), counters[i]);
        for (int i = 0; i < _SYSCTL_MAX; i++)
                ck_assert_str_eq(netstat_sysctl_name(i), sysctls[i]);
        ck_assert_ptr_null(netstat_counter_name(_NETSTAT_COUNTER_MAX));
        ck_assert_ptr_null(netstat_counter_name((NetstatCounter) -1));
        ck_assert_ptr_null(netstat_sysctl_name(_SYSCTL_MAX));
        ck_assert_ptr_null(netstat_sysctl_name((NetstatSysctl) -1));
}
END_TEST

START_TEST(test_live) {
        NetstatCounters c;
        NetstatSysctls s;
        ErrBuf err = { "" };
        long long somaxconn = -1;
        FILE *f;

        ck_assert_msg(netstat_read("/proc", &c, &err) == 0, "%s", err.text);
        ck_assert(c.present[NETSTAT_LISTEN_OVERFLOWS]);
        ck_assert(c.present[NETSTAT_LISTEN_DROPS]);
        ck_assert(c.present[NETSTAT_SYNCOOKIES_SENT]);

        f = fopen("/proc/sys/net/core/somaxconn", "re");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fscanf(f, "%lld", &somaxconn), 1);
        fclose(f);
        netstat_read_sysctls("/proc", &s);
        ck_assert(s.present[SYSCTL_SOMAXCONN]);
        ck_assert_int_eq(s.value[SYSCTL_SOMAXCONN], somaxconn);
}
END_TEST

START_TEST(test_live_new_netns) {
        /* A fresh network namespace starts with zero counters and its own
         * somaxconn: exact values, read through /proc/self. */
        NetstatCounters c;
        NetstatSysctls s;
        ErrBuf err = { "" };
        FILE *f;

        ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
        ck_assert_msg(netstat_read("/proc/self", &c, &err) == 0, "%s", err.text);
        ck_assert(c.present[NETSTAT_LISTEN_OVERFLOWS]);
        ck_assert(c.value[NETSTAT_LISTEN_OVERFLOWS] == 0);
        ck_assert(c.value[NETSTAT_LISTEN_DROPS] == 0);
        ck_assert(c.value[NETSTAT_SYNCOOKIES_SENT] == 0);

        f = fopen("/proc/sys/net/core/somaxconn", "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_gt(fprintf(f, "77\n"), 0);
        ck_assert_int_eq(fclose(f), 0);
        netstat_read_sysctls("/proc", &s);
        ck_assert(s.present[SYSCTL_SOMAXCONN]);
        ck_assert_int_eq(s.value[SYSCTL_SOMAXCONN], 77);
}
END_TEST

static void lo_up(void) {
        struct ifreq ifr = { 0 };
        _cleanup_(closep) int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        strcpy(ifr.ifr_name, "lo");
        ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
        ifr.ifr_flags |= IFF_UP;
        ck_assert_int_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
}

static int connect_nonblock(const struct sockaddr_in *sa) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert(connect(fd, (const struct sockaddr *) sa, sizeof(*sa)) == 0 || errno == EINPROGRESS);
        return fd;
}

static uint64_t overflows_within(uint64_t nonzero_wait_ms, NetstatCounters *c) {
        ErrBuf err = { "" };

        for (uint64_t i = 0; i <= nonzero_wait_ms / 10; i++) {
                ck_assert_msg(netstat_read("/proc/self", c, &err) == 0, "%s", err.text);
                if (c->value[NETSTAT_LISTEN_OVERFLOWS] > 0)
                        break;
                nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        return c->value[NETSTAT_LISTEN_OVERFLOWS];
}

START_TEST(test_live_overflow) {
        /* In a private namespace, listen(0) holds one connection; the next
         * SYN overflows the accept queue and counts exactly one
         * ListenOverflows and one ListenDrops (its retransmission would
         * come only after 1 s). */
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        _cleanup_(closep) int l = -1, c1 = -1, c2 = -1;
        struct pollfd p;
        NetstatCounters c;

        ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
        lo_up();
        l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(l, 0);
        ck_assert_int_eq(bind(l, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(l, (struct sockaddr *) &sa, &len), 0);
        ck_assert_int_eq(listen(l, 0), 0);

        c1 = connect_nonblock(&sa);
        p = (struct pollfd){ .fd = l, .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, 2000), 1); /* c1 is in the accept queue */
        ck_assert(overflows_within(0, &c) == 0);
        ck_assert(c.value[NETSTAT_LISTEN_DROPS] == 0);

        c2 = connect_nonblock(&sa);
        ck_assert(overflows_within(500, &c) == 1);
        ck_assert(c.value[NETSTAT_LISTEN_DROPS] == 1);
        ck_assert(c.value[NETSTAT_TCP_REQQ_FULL_DROP] == 0);
        ck_assert(c.value[NETSTAT_SYNCOOKIES_SENT] == 0);
}
END_TEST

/* --- netstat_parse_text() and NetstatReader --- */

/* The whole of a file in a buffer of exactly its size (no terminator, so
 * valgrind and ASan see any read past the end). */
static char *slurp(const char *path, size_t *ret_len) {
        _cleanup_(fclosep) FILE *f = fopen(path, "re");
        struct stat st;
        char *buf;

        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fstat(fileno(f), &st), 0);
        buf = malloc(st.st_size > 0 ? (size_t) st.st_size : 1);
        ck_assert_ptr_nonnull(buf);
        ck_assert_uint_eq(fread(buf, 1, (size_t) st.st_size, f), (size_t) st.st_size);
        *ret_len = (size_t) st.st_size;
        return buf;
}

/* --- netstat_parse_snmp_text() --- */

typedef struct SnmpCase {
        const char *text;
        int want; /* 0, -EBADMSG or -ENODATA */
        uint64_t passive_opens;
        const char *reason; /* a substring of the error */
} SnmpCase;

static const SnmpCase snmp_cases[] = {
        { "Ip: Forwarding\nIp: 2\nTcp: RtoAlgorithm MaxConn PassiveOpens\nTcp: 1 -1 42\nUdp: InDatagrams\nUdp: 7\n", 0,
          42, NULL },
        /* no final newline, MaxConn last, the largest value */
        { "Tcp: PassiveOpens MaxConn\nTcp: 18446744073709551615 -1", 0, UINT64_MAX, NULL },
        { "Tcp: PassiveOpens\nTcp: 18446744073709551616\n", -EBADMSG, 0,
          "line 2: Tcp: PassiveOpens: value overflows" },
        { "Tcp: A PassiveOpens\nTcp: 1\n", -EBADMSG, 0, "line 2: Tcp: 2 names (line 1) but 1 values" },
        { "Tcp: A PassiveOpens\nTcp: 1 2 3\n", -EBADMSG, 0, "2 names (line 1) but 3 values" },
        { "Tcp: A PassiveOpens\nTcp: x 2\n", -EBADMSG, 0, "line 2: Tcp: invalid value 'x'" },
        { "Tcp: A PassiveOpens\nTcp: 1 -2\n", -EBADMSG, 0, "PassiveOpens: invalid value '-2'" },
        { "Tcp: A PassiveOpens\nTcp: - 2\n", -EBADMSG, 0, "invalid value '-'" },
        { "Tcp: A PassiveOpens\n", -EBADMSG, 0, "line 1: Tcp: names without a values line" },
        { "Tcp: A B\nTcp: 1 2\n", -ENODATA, 0, "line 1: Tcp: no PassiveOpens" },
        { "Ip: A\nIp: 1\n", -ENODATA, 0, "no Tcp section" },
        { "", -ENODATA, 0, "no Tcp section" },
        { "Tcp: PassiveOpens\nTcp: 1\0\n", -EBADMSG, 0, "line 2: NUL byte" },
};

START_TEST(test_parse_snmp) {
        const SnmpCase *t = &snmp_cases[_i];
        /* the NUL case's length covers its NUL */
        size_t len = strlen(t->text) + (strstr(t->reason ? t->reason : "", "NUL") ? 2 : 0);
        uint64_t v = 0xAA;
        ErrBuf err = { "untouched" };

        ck_assert_int_eq(netstat_parse_snmp_text(t->text, len, &v, &err), t->want);
        if (t->want == 0) {
                ck_assert_uint_eq(v, t->passive_opens);
                ck_assert_str_eq(err.text, "untouched");
        } else {
                ck_assert_uint_eq(v, 0xAA);
                ck_assert_msg(strstr(err.text, t->reason), "'%s' lacks '%s'", err.text, t->reason);
        }
}
END_TEST

/* The fixture of a real 6.18 host: MaxConn -1, PassiveOpens set to 5123. */
START_TEST(test_parse_snmp_fixture) {
        _cleanup_(freep) char *path = fixture("linux-6.18/net/snmp");
        _cleanup_(freep) char *text = NULL;
        uint64_t v = 0;
        size_t len;
        ErrBuf err = { "" };

        text = slurp(path, &len);
        ck_assert_msg(netstat_parse_snmp_text(text, len, &v, &err) == 0, "%s", err.text);
        ck_assert_uint_eq(v, 5123);
}
END_TEST

START_TEST(test_parse_text_fixture) {
        const GoodCase *g = &good[_i];
        _cleanup_(freep) char *rel = NULL, *path = NULL, *text = NULL, *copy = NULL;
        NetstatCounters c;
        ErrBuf err = { "untouched" };
        size_t len;

        ck_assert_int_ge(asprintf(&rel, "%s/net/netstat", g->dir), 0);
        path = fixture(rel);
        text = slurp(path, &len);
        copy = malloc(len + 1);
        memcpy(copy, text, len);
        memset(&c, 0x55, sizeof(c));
        ck_assert_int_eq(netstat_parse_text(text, len, &c, &err), 0);
        ck_assert_str_eq(err.text, "untouched");
        assert_counters(g->dir, &c, g->value);
        ck_assert_msg(memcmp(text, copy, len) == 0, "text modified");
}
END_TEST

START_TEST(test_parse_text_bad) {
        /* The same errors as through netstat_parse(), from an exact-size buffer. */
        const BadCase *b = &bad[_i];
        _cleanup_(freep) char *rel = NULL, *path = NULL, *text = NULL;
        NetstatCounters c, orig;
        ErrBuf err = { "" };
        size_t len;

        ck_assert_int_ge(asprintf(&rel, "bad/%s", b->file), 0);
        path = fixture(rel);
        text = slurp(path, &len);
        memset(&c, 0xAA, sizeof(c));
        orig = c;
        ck_assert_int_eq(netstat_parse_text(text, len, &c, &err), b->r);
        ck_assert_str_eq(err.text, b->text);
        ck_assert_msg(memcmp(&c, &orig, sizeof(c)) == 0, "%s: ret written on failure", b->file);
}
END_TEST

START_TEST(test_parse_text_length) {
        /* len bounds the text: bytes past it are never looked at. */
        static const char text[] = "IpExt: A A\nIpExt: 1 2\nTcpExt: ListenDrops SyncookiesSent\nTcpExt: 17 99 5\n";
        const size_t values = strlen("IpExt: A A\nIpExt: 1 2\nTcpExt: ListenDrops SyncookiesSent\nTcpExt: 17 9");
        static const char nul[] = "TcpExt: ListenDrops\nTcpExt: 1\0 2\n";
        NetstatCounters c;
        ErrBuf err = { "" };

        /* Whole: duplicate names outside TcpExt are fine; one value too many. */
        ck_assert_int_eq(netstat_parse_text(text, strlen(text), &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 4: TcpExt: 2 names but 3 values");
        /* Cut inside "99": the last value is 9. */
        memset(&c, 0xAA, sizeof(c));
        ck_assert_int_eq(netstat_parse_text(text, values, &c, &err), 0);
        ck_assert(c.present[NETSTAT_LISTEN_DROPS] && c.value[NETSTAT_LISTEN_DROPS] == 17);
        ck_assert(c.present[NETSTAT_SYNCOOKIES_SENT] && c.value[NETSTAT_SYNCOOKIES_SENT] == 9);
        ck_assert(!c.present[NETSTAT_LISTEN_OVERFLOWS] && c.value[NETSTAT_LISTEN_OVERFLOWS] == 0);
        /* Cut after "17 ": too few values. */
        ck_assert_int_eq(netstat_parse_text(text, values - 1, &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 4: TcpExt: 2 names but 1 values");
        /* Cut inside the TcpExt names line, then before it. */
        ck_assert_int_eq(netstat_parse_text(text, strlen("IpExt: A A\nIpExt: 1 2\nTcpExt: Li"), &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 3: TcpExt: names without a values line");
        ck_assert_int_eq(netstat_parse_text(text, strlen("IpExt: A A\nIpExt: 1 2\n"), &c, &err), -ENODATA);
        ck_assert_str_eq(err.text, "no TcpExt section");
        ck_assert_int_eq(netstat_parse_text(text, strlen("IpExt"), &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 1: no 'Prefix:' at start of line");
        ck_assert_int_eq(netstat_parse_text(text, 0, &c, &err), -ENODATA);
        /* "IpExt:" alone is a prefix with no names. */
        ck_assert_int_eq(netstat_parse_text(text, strlen("IpExt:"), &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 1: IpExt: no names");
        /* A NUL byte inside len is an error, not an end. */
        ck_assert_int_eq(netstat_parse_text(nul, sizeof(nul) - 1, &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 2: NUL byte in line");
        ck_assert_int_eq(netstat_parse_text(nul, strlen(nul), &c, &err), 0);
        ck_assert(c.value[NETSTAT_LISTEN_DROPS] == 1);
}
END_TEST

START_TEST(test_parse_text_long_names) {
        /* Names and prefixes longer than ErrBuf are cut as "%s" would be. */
        char text[1200], want[1200], name[600];
        NetstatCounters c;
        ErrBuf err;
        int n;

        memset(name, 'N', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        n = snprintf(text, sizeof(text), "%s: %s\n", name, "A");
        ck_assert_int_eq(netstat_parse_text(text, (size_t) n, &c, &err), -EBADMSG);
        snprintf(want, sizeof(want), "line 1: %s: names without a values line", name);
        want[sizeof(ErrBuf) - 1] = '\0';
        ck_assert_str_eq(err.text, want);
        ck_assert_uint_eq(strlen(err.text), sizeof(ErrBuf) - 1);

        n = snprintf(text, sizeof(text), "TcpExt: ListenOverflows %s\nTcpExt: 1 2x\n", name);
        ck_assert_int_eq(netstat_parse_text(text, (size_t) n, &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 2: TcpExt: NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN: invalid value '2x'");

        n = snprintf(text, sizeof(text), "TcpExt: ListenDrops\n%s: 1\n", name);
        ck_assert_int_eq(netstat_parse_text(text, (size_t) n, &c, &err), -EBADMSG);
        ck_assert_str_eq(err.text, "line 2: expected TcpExt values after the names on line 1, got "
                                   "NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN");
}
END_TEST

/* netstat_parse() on streams that fail: a read error (with its line) and
 * a stream that never ends. ret is left alone. */
static const BadCase stream_bad[] = {
        { "/", -EISDIR, "line 1: read error: Is a directory" },
        { "/dev/zero", -EFBIG, "more than 16777216 bytes" },
};

START_TEST(test_parse_stream_fails) {
        const BadCase *b = &stream_bad[_i];
        _cleanup_(fclosep) FILE *f = fopen(b->file, "re");
        NetstatCounters c, orig;
        ErrBuf err = { "" };

        ck_assert_ptr_nonnull(f);
        memset(&c, 0xAA, sizeof(c));
        orig = c;
        ck_assert_int_eq(netstat_parse(f, &c, &err), b->r);
        ck_assert_str_eq(err.text, b->text);
        ck_assert_msg(memcmp(&c, &orig, sizeof(c)) == 0, "%s: ret written on failure", b->file);
}
END_TEST

/* A private proc root: <root>/net. */
static char *make_root(void) {
        _cleanup_(freep) char *net = NULL;
        char *root = strdup("/tmp/test-netstat-XXXXXX");

        ck_assert_ptr_nonnull(mkdtemp(root));
        ck_assert_int_ge(asprintf(&net, "%s/net", root), 0);
        ck_assert_int_eq(mkdir(net, 0700), 0);
        return root;
}

static void remove_root(const char *root) {
        _cleanup_(freep) char *cmd = NULL;

        ck_assert_int_ge(asprintf(&cmd, "rm -r %s", root), 0);
        ck_assert_int_eq(system(cmd), 0);
}

/* Writes text to path: in place (same inode) unless via_rename. */
static void write_text(const char *path, const char *text, size_t len, bool via_rename) {
        _cleanup_(freep) char *tmp = NULL;
        FILE *f;

        ck_assert_int_ge(asprintf(&tmp, "%s.tmp", path), 0);
        f = fopen(via_rename ? tmp : path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(text, 1, len, f), len);
        ck_assert_int_eq(fclose(f), 0);
        if (via_rename)
                ck_assert_int_eq(rename(tmp, path), 0);
}

static void copy_fixture(const char *rel, const char *path, bool via_rename) {
        _cleanup_(freep) char *src = fixture(rel), *text = NULL;
        size_t len;

        text = slurp(src, &len);
        write_text(path, text, len, via_rename);
}

static unsigned n_fds(void) {
        unsigned n = 0;

        for (int fd = 0; fd < 1024; fd++)
                n += fcntl(fd, F_GETFD) >= 0;
        return n;
}

START_TEST(test_reader_twice) {
        /* Equal results, one fd kept open, and no allocation at all. */
        static const uint64_t want[N] = { 1201, 1377, 45, 46, 101, 102, 103, 7, 8, 9 };
        _cleanup_(freep) char *root = fixture("linux-6.18");
        _cleanup_(netstat_reader_freep) NetstatReader *r = NULL;
        NetstatCounters c1, c2;
        ErrBuf err = { "untouched" };
        unsigned fds = n_fds();
        size_t allocs;
        uint64_t v = 0;
        int r1, r2;

        ck_assert_int_eq(netstat_reader_new(root, &r), 0);
        ck_assert_uint_eq(n_fds(), fds); /* not opened yet */
        memset(&c1, 0xAA, sizeof(c1));
        memset(&c2, 0x55, sizeof(c2));
        allocs = n_allocs;
        r1 = netstat_reader_read(r, &c1, &err);
        r2 = netstat_reader_read(r, &c2, &err);
        allocs = n_allocs - allocs;
        ck_assert_int_eq(r1, 0);
        ck_assert_int_eq(r2, 0);
        ck_assert_uint_eq(allocs, 0);
        ck_assert_str_eq(err.text, "untouched");
        ck_assert_uint_eq(n_fds(), fds + 2); /* net/netstat and net/snmp */
        assert_counters("first", &c1, want);
        allocs = n_allocs;
        r1 = netstat_reader_read_passive_opens(r, &v, &err);
        allocs = n_allocs - allocs;
        ck_assert_int_eq(r1, 0);
        ck_assert_uint_eq(allocs, 0);
        ck_assert_uint_eq(v, 5123);
        ck_assert(memcmp(&c1, &c2, sizeof(c1)) == 0);
        r = netstat_reader_free(r);
        ck_assert_ptr_null(r);
        ck_assert_uint_eq(n_fds(), fds);
        ck_assert_ptr_null(netstat_reader_free(NULL));
}
END_TEST

START_TEST(test_reader_appears_grows_swaps) {
        _cleanup_(freep) char *root = make_root(), *path = NULL, *want = NULL, *big = NULL, *old = NULL;
        _cleanup_(netstat_reader_freep) NetstatReader *r = NULL;
        static const uint64_t v618[N] = { 1201, 1377, 45, 46, 101, 102, 103, 7, 8, 9 };
        static const uint64_t v310[N] = { 4021, 4100, 77, 78, 5, 6, 7, 3, ABSENT, ABSENT };
        NetstatCounters c, orig;
        ErrBuf err = { "" };
        size_t allocs, size = 0;
        FILE *m;
        int k;

        ck_assert_int_ge(asprintf(&path, "%s/net/netstat", root), 0);
        ck_assert_int_eq(netstat_reader_new(root, &r), 0);

        /* Missing: -ENOENT, ret untouched; then the file appears. */
        memset(&c, 0xAA, sizeof(c));
        orig = c;
        ck_assert_int_eq(netstat_reader_read(r, &c, &err), -ENOENT);
        ck_assert_int_ge(asprintf(&want, "%s: No such file or directory", path), 0);
        ck_assert_str_eq(err.text, want);
        ck_assert(memcmp(&c, &orig, sizeof(c)) == 0);
        copy_fixture("linux-6.18/net/netstat", path, false);
        ck_assert_msg(netstat_reader_read(r, &c, &err) == 0, "%s", err.text);
        assert_counters("appeared", &c, v618);

        /* Rewritten in place and much bigger: new values, the buffer grows
         * once, then the steady state allocates nothing again. */
        m = open_memstream(&big, &size);
        ck_assert_ptr_nonnull(m);
        fputs("TcpExt:", m);
        for (int i = 0; i < 3000; i++)
                fprintf(m, " Filler%d", i);
        fputs(" ListenOverflows\nTcpExt:", m);
        for (int i = 0; i < 3000; i++)
                fprintf(m, " %d", i);
        fputs(" 31337\n", m);
        ck_assert_int_eq(fclose(m), 0);
        ck_assert_uint_gt(size, 32768);
        ck_assert_uint_lt(size, 65536);
        write_text(path, big, size, false);
        allocs = n_allocs;
        k = netstat_reader_read(r, &c, &err);
        allocs = n_allocs - allocs;
        ck_assert_int_eq(k, 0);
        if (alloc_counting())
                ck_assert_uint_eq(allocs, 3); /* 8 KiB doubled to 64 KiB */
        else
                fprintf(stderr, "test_reader_appears_grows_swaps: allocations not counted here\n");
        ck_assert(c.present[NETSTAT_LISTEN_OVERFLOWS] && c.value[NETSTAT_LISTEN_OVERFLOWS] == 31337);
        ck_assert(!c.present[NETSTAT_LISTEN_DROPS]);
        allocs = n_allocs;
        k = netstat_reader_read(r, &c, &err);
        allocs = n_allocs - allocs;
        ck_assert_int_eq(k, 0);
        ck_assert_uint_eq(allocs, 0);
        ck_assert(c.value[NETSTAT_LISTEN_OVERFLOWS] == 31337);

        /* Replaced by rename while reads succeed: the reader goes on reading
         * the open file (documented). Keep a link to that old file. */
        ck_assert_int_ge(asprintf(&old, "%s.old", path), 0);
        ck_assert_int_eq(link(path, old), 0);
        copy_fixture("linux-3.10/net/netstat", path, true);
        ck_assert_int_eq(netstat_reader_read(r, &c, &err), 0);
        ck_assert(c.value[NETSTAT_LISTEN_OVERFLOWS] == 31337);

        /* The old file goes bad: the error names the path and closes the
         * file, so the next read opens the new one. */
        copy_fixture("bad/fewer-values.txt", old, false);
        memset(&c, 0xAA, sizeof(c));
        orig = c;
        ck_assert_int_eq(netstat_reader_read(r, &c, &err), -EBADMSG);
        free(want);
        ck_assert_int_ge(asprintf(&want, "%s: line 2: TcpExt: 135 names but 134 values", path), 0);
        ck_assert_str_eq(err.text, want);
        ck_assert(memcmp(&c, &orig, sizeof(c)) == 0);
        ck_assert_msg(netstat_reader_read(r, &c, &err) == 0, "%s", err.text);
        assert_counters("swapped", &c, v310);

        /* Deleted: the open file still reads (documented). */
        ck_assert_int_eq(unlink(path), 0);
        memset(&c, 0xAA, sizeof(c));
        ck_assert_int_eq(netstat_reader_read(r, &c, &err), 0);
        assert_counters("unlinked", &c, v310);
        remove_root(root);
}
END_TEST

/* A net/snmp that cannot be parsed: PassiveOpens fails with the path and
 * the line, and both files are closed, so that the next counters read opens
 * them again (from inside the namespace, for another one) and finds the
 * file fixed. */
START_TEST(test_reader_snmp_fails_then_back) {
        _cleanup_(freep) char *root = make_root(), *netstat = NULL, *snmp = NULL;
        _cleanup_(netstat_reader_freep) NetstatReader *r = NULL;
        static const char bad_text[] = "Tcp: A PassiveOpens\nTcp: 1\n",
                          good_text[] = "Tcp: A PassiveOpens\nTcp: 1 77\n";
        NetstatCounters c;
        ErrBuf err = { "" };
        unsigned fds = n_fds();
        uint64_t v = 0xAA;

        ck_assert_int_ge(asprintf(&netstat, "%s/net/netstat", root), 0);
        ck_assert_int_ge(asprintf(&snmp, "%s/net/snmp", root), 0);
        copy_fixture("linux-6.18/net/netstat", netstat, false);
        write_text(snmp, bad_text, strlen(bad_text), false);
        ck_assert_int_eq(netstat_reader_new(root, &r), 0);
        ck_assert_int_eq(netstat_reader_read(r, &c, &err), 0);
        ck_assert_uint_eq(n_fds(), fds + 2);
        ck_assert_int_eq(netstat_reader_read_passive_opens(r, &v, &err), -EBADMSG);
        ck_assert_msg(strstr(err.text, "/net/snmp: line 2: Tcp: 2 names (line 1) but 1 values"), "%s", err.text);
        ck_assert_uint_eq(v, 0xAA);
        ck_assert_uint_eq(n_fds(), fds); /* both closed */
        ck_assert(!netstat_reader_is_open(r));
        ck_assert_int_eq(netstat_reader_read_passive_opens(r, &v, &err), -ENOTCONN);
        write_text(snmp, good_text, strlen(good_text), true);
        ck_assert_int_eq(netstat_reader_read(r, &c, &err), 0);
        ck_assert_int_eq(netstat_reader_read_passive_opens(r, &v, &err), 0);
        ck_assert_uint_eq(v, 77);
        r = netstat_reader_free(r);
        remove_root(root);
}
END_TEST

START_TEST(test_reader_unreadable_then_back) {
        /* A read error closes the file; the next read opens the path again. */
        _cleanup_(freep) char *root = make_root(), *path = NULL, *want = NULL;
        _cleanup_(netstat_reader_freep) NetstatReader *r = NULL;
        static const uint64_t v54[N] = { 123456, 123460, 4, 900, 901, 902, 903, 1, ABSENT, ABSENT };
        NetstatCounters c;
        ErrBuf err = { "" };
        unsigned fds = n_fds();

        ck_assert_int_ge(asprintf(&path, "%s/net/netstat", root), 0);
        ck_assert_int_eq(mkdir(path, 0700), 0);
        ck_assert_int_eq(netstat_reader_new(root, &r), 0);
        ck_assert_int_eq(netstat_reader_read(r, &c, &err), -EISDIR);
        ck_assert_int_ge(asprintf(&want, "%s: line 1: read error: Is a directory", path), 0);
        ck_assert_str_eq(err.text, want);
        ck_assert_uint_eq(n_fds(), fds); /* closed */
        ck_assert_int_eq(rmdir(path), 0);
        copy_fixture("linux-5.4/net/netstat", path, false);
        memset(&c, 0xAA, sizeof(c));
        ck_assert_msg(netstat_reader_read(r, &c, &err) == 0, "%s", err.text);
        assert_counters("back", &c, v54);
        ck_assert_uint_eq(n_fds(), fds + 1);
        remove_root(root);
}
END_TEST

START_TEST(test_reader_too_big) {
        /* More than NETSTAT_SIZE_MAX: -EFBIG, the file closed. */
        _cleanup_(freep) char *root = make_root(), *path = NULL, *want = NULL;
        _cleanup_(netstat_reader_freep) NetstatReader *r = NULL;
        NetstatCounters c;
        ErrBuf err = { "" };
        unsigned fds = n_fds();

        ck_assert_int_ge(asprintf(&path, "%s/net/netstat", root), 0);
        ck_assert_int_eq(symlink("/dev/zero", path), 0);
        ck_assert_int_eq(netstat_reader_new(root, &r), 0);
        ck_assert_int_eq(netstat_reader_read(r, &c, &err), -EFBIG);
        ck_assert_int_ge(asprintf(&want, "%s: more than 16777216 bytes", path), 0);
        ck_assert_str_eq(err.text, want);
        ck_assert_uint_eq(n_fds(), fds);
        remove_root(root);
}
END_TEST

START_TEST(test_reader_live_overflow) {
        /* As test_live_overflow, through one reader on one open file: reads
         * from offset 0 see the kernel's fresh values, and none allocates. */
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        _cleanup_(closep) int l = -1, c1 = -1, c2 = -1;
        _cleanup_(netstat_reader_freep) NetstatReader *r = NULL;
        NetstatCounters c;
        ErrBuf err = { "" };
        struct pollfd p;
        size_t allocs;
        uint64_t v = 0xAA;
        int k, reads = 0;
        unsigned fds;

        ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
        lo_up();
        ck_assert_int_eq(netstat_reader_new("/proc/self", &r), 0);
        k = netstat_reader_read(r, &c, &err);
        ck_assert_msg(k == 0, "%s", err.text);
        ck_assert(c.present[NETSTAT_LISTEN_OVERFLOWS] && c.value[NETSTAT_LISTEN_OVERFLOWS] == 0);
        ck_assert(c.value[NETSTAT_LISTEN_DROPS] == 0);
        ck_assert_int_eq(netstat_reader_read_passive_opens(r, &v, &err), 0);
        ck_assert_uint_eq(v, 0);
        fds = n_fds();

        l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(l, 0);
        ck_assert_int_eq(bind(l, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(l, (struct sockaddr *) &sa, &len), 0);
        ck_assert_int_eq(listen(l, 0), 0);
        c1 = connect_nonblock(&sa);
        p = (struct pollfd){ .fd = l, .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, 2000), 1);
        k = netstat_reader_read(r, &c, &err);
        ck_assert_msg(k == 0, "%s", err.text);
        ck_assert(c.value[NETSTAT_LISTEN_OVERFLOWS] == 0);
        /* the connection that entered the queue, counted first */
        ck_assert_int_eq(netstat_reader_read_passive_opens(r, &v, &err), 0);
        ck_assert_uint_eq(v, 1);

        c2 = connect_nonblock(&sa);
        allocs = n_allocs;
        for (reads = 1; reads <= 50; reads++) {
                k = netstat_reader_read(r, &c, &err);
                if (k < 0 || c.value[NETSTAT_LISTEN_OVERFLOWS] > 0)
                        break;
                nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        allocs = n_allocs - allocs;
        ck_assert_msg(k == 0, "%s", err.text);
        ck_assert_uint_eq(allocs, 0);
        ck_assert(c.value[NETSTAT_LISTEN_OVERFLOWS] == 1);
        ck_assert(c.value[NETSTAT_LISTEN_DROPS] == 1);
        ck_assert(c.value[NETSTAT_TCP_REQQ_FULL_DROP] == 0);
        ck_assert_int_eq(netstat_reader_read_passive_opens(r, &v, &err), 0);
        ck_assert_uint_eq(v, 1);             /* the dropped one did not enter */
        ck_assert_uint_eq(n_fds(), fds + 3); /* the same reader fds, plus l, c1, c2 */
        fprintf(stderr, "test_reader_live_overflow: overflow seen on read %d\n", reads);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("netstat");
        TCase *tc = tcase_create("fixtures");

        tcase_add_loop_test(tc, test_read_fixture, 0, ELEMENTSOF(good));
        tcase_add_loop_test(tc, test_read_fixture_passive_opens, 0, ELEMENTSOF(good));
        tcase_add_loop_test(tc, test_parse_fixture_file, 0, ELEMENTSOF(good));
        tcase_add_loop_test(tc, test_sysctls_fixture, 0, ELEMENTSOF(good));
        tcase_add_loop_test(tc, test_bad_fixture, 0, ELEMENTSOF(bad));
        tcase_add_test(tc, test_bad_null_err);
        suite_add_tcase(s, tc);

        tc = tcase_create("parser");
        tcase_add_test(tc, test_long_line);
        tcase_add_test(tc, test_minimal_and_whitespace);
        tcase_add_test(tc, test_error_text_bounded);
        tcase_add_test(tc, test_names);
        suite_add_tcase(s, tc);

        tc = tcase_create("read");
        tcase_add_test(tc, test_read_missing_root);
        tcase_add_test(tc, test_read_error_prefixed);
        tcase_add_test(tc, test_read_directory);
        tcase_add_test(tc, test_sysctls_missing_root);
        tcase_add_test(tc, test_live);
        suite_add_tcase(s, tc);

        tc = tcase_create("text");
        tcase_add_loop_test(tc, test_parse_text_fixture, 0, ELEMENTSOF(good));
        tcase_add_loop_test(tc, test_parse_text_bad, 0, ELEMENTSOF(bad));
        tcase_add_test(tc, test_parse_text_length);
        tcase_add_loop_test(tc, test_parse_snmp, 0, ELEMENTSOF(snmp_cases));
        tcase_add_test(tc, test_parse_snmp_fixture);
        tcase_add_test(tc, test_parse_text_long_names);
        tcase_add_loop_test(tc, test_parse_stream_fails, 0, ELEMENTSOF(stream_bad));
        suite_add_tcase(s, tc);

        tc = tcase_create("reader");
        tcase_add_test(tc, test_reader_twice);
        tcase_add_test(tc, test_reader_appears_grows_swaps);
        tcase_add_test(tc, test_reader_unreadable_then_back);
        tcase_add_test(tc, test_reader_snmp_fails_then_back);
        tcase_add_test(tc, test_reader_too_big);
        suite_add_tcase(s, tc);

        /* Live counters in a private network namespace: root. */
        tc = tcase_create_root();
        tcase_add_test(tc, test_live_new_netns);
        tcase_add_test(tc, test_live_overflow);
        tcase_add_test(tc, test_reader_live_overflow);
        suite_add_tcase(s, tc);
        return s;
}
