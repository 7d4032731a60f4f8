/* SPDX-License-Identifier: MIT */
/* The --once table and JSON, byte for byte, and the owner lookup. */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "check-main.h"
#include "config.h"
#include "describe.h"
#include "groups.h"
#include "report.h"

static Listener *add(Snapshot *s, int family, const char *addr, uint16_t port, uint32_t depth, uint32_t backlog,
                     int drops, uint32_t uid, uint64_t cookie) {
        Listener *l = listener_set_push(&s->listeners);

        ck_assert_ptr_nonnull(l);
        l->family = (uint8_t) family;
        ck_assert_int_eq(inet_pton(family, addr, l->addr), 1);
        l->port = port;
        l->depth = depth;
        l->backlog = backlog;
        l->has_drops = drops >= 0;
        l->drops = drops >= 0 ? (uint32_t) drops : 0;
        l->uid = uid;
        l->cookie = cookie;
        l->inode = (uint32_t) (1000 + cookie);
        return l;
}

/* Listed in an order that is not the report's, so the sort is exercised. */
static void fill(Snapshot *s) {
        add(s, AF_INET, "0.0.0.0", 22, 1, 128, 0, 0, 4);
        add(s, AF_INET6, "::", 443, 0, 4096, 0, 0, 3);
        Listener *l = add(s, AF_INET6, "::1", 9000, 4, 4, 0, 1000, 2);
        l->has_wait = true;
        l->wait_ms = 125300;
        l = add(s, AF_INET, "127.0.0.1", 8080, 3, 2, 5, 1000, 1);
        l->has_wait = true;
        l->wait_ms = 4299;
        l->gave_up = 1;
        add(s, AF_INET, "10.1.2.3", 25, 0, 0, -1, 0, 5);
        s->have_counters = true;
        s->counters.present[NETSTAT_LISTEN_OVERFLOWS] = true;
        s->counters.value[NETSTAT_LISTEN_OVERFLOWS] = 10;
        s->counters.present[NETSTAT_LISTEN_DROPS] = true;
        s->counters.value[NETSTAT_LISTEN_DROPS] = 12;
        s->sysctls.present[SYSCTL_SOMAXCONN] = true;
        s->sysctls.value[SYSCTL_SOMAXCONN] = 4096;
        s->sysctls.present[SYSCTL_TCP_SYNCOOKIES] = true;
        s->sysctls.value[SYSCTL_TCP_SYNCOOKIES] = 1;
}

/* The table or the JSON of s under config (NULL: the defaults). */
static char *render_snapshot(const Snapshot *s, const char *config, bool json) {
        Config *c = NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ck_assert_ptr_nonnull(f);
        if (config)
                ck_assert_int_eq(config_parse_string(config, "t", &c, NULL), 0);
        else
                ck_assert_int_eq(config_new_default(&c), 0);
        ck_assert_int_eq(json ? report_json(f, s, c) : report_table(f, s, c), 0);
        fclose(f);
        config_free(c);
        return buf;
}

static char *render(bool json) {
        Snapshot s = { 0 };
        char *out;

        fill(&s);
        out = render_snapshot(&s, NULL, json);
        snapshot_done(&s);
        return out;
}

START_TEST(test_table) {
        char *out = render(false);

        ck_assert_str_eq(out, "LISTEN           DEPTH BACKLOG  FILL STATE   DROPS   WAIT    UID OWNER\n"
                              "127.0.0.1:8080       3       2  100% full        5   4.2s   1000 -\n"
                              "[::1]:9000           4       4   80% high        0   125s   1000 -\n"
                              "*:22                 1     128    0% ok          0      -      0 -\n"
                              "10.1.2.3:25          0       0    0% ok          -      -      0 -\n"
                              "*:443                0    4096    0% ok          0      -      0 -\n"
                              "\n"
                              "Host counters (TcpExt, since the namespace was created):\n"
                              "  ListenOverflows                  10\n"
                              "  ListenDrops                      12\n"
                              "\n"
                              "Sysctls:\n"
                              "  net.core.somaxconn               4096\n"
                              "  net.ipv4.tcp_max_syn_backlog        ?\n"
                              "  net.ipv4.tcp_syncookies             1\n"
                              "  net.ipv4.tcp_abort_on_overflow      ?\n"
                              "  net.ipv4.tcp_synack_retries         ?\n");
        free(out);
}
END_TEST

START_TEST(test_json) {
        char *out = render(true);

        ck_assert_str_eq(
                out, "{\"listeners\":[\n"
                     "{\"netns\":\"host\",\"family\":\"inet\",\"address\":\"127.0.0.1\",\"port\":8080,\"depth\":3,"
                     "\"backlog\":2,\"capacity\":3,\"fill\":1.000,\"state\":\"full\",\"drops\":5,\"wait_ms\":4299,"
                     "\"gave_up\":1,\"cookie\":\"1\","
                     "\"inode\":1001,\"uid\":1000},\n"
                     "{\"netns\":\"host\",\"family\":\"inet6\",\"address\":\"::1\",\"port\":9000,\"depth\":4,"
                     "\"backlog\":4,\"capacity\":5,\"fill\":0.800,\"state\":\"high\",\"drops\":0,\"wait_ms\":125300,"
                     "\"gave_up\":0,\"cookie\":\"2\","
                     "\"inode\":1002,\"uid\":1000},\n"
                     "{\"netns\":\"host\",\"family\":\"inet\",\"address\":\"0.0.0.0\",\"port\":22,\"depth\":1,"
                     "\"backlog\":128,\"capacity\":129,\"fill\":0.007,\"state\":\"ok\",\"drops\":0,\"cookie\":\"4\","
                     "\"inode\":1004,\"uid\":0},\n"
                     "{\"netns\":\"host\",\"family\":\"inet\",\"address\":\"10.1.2.3\",\"port\":25,\"depth\":0,"
                     "\"backlog\":0,\"capacity\":1,\"fill\":0.000,\"state\":\"ok\",\"cookie\":\"5\",\"inode\":1005,"
                     "\"uid\":0},\n"
                     "{\"netns\":\"host\",\"family\":\"inet6\",\"address\":\"::\",\"port\":443,\"depth\":0,"
                     "\"backlog\":4096,\"capacity\":4097,\"fill\":0.000,\"state\":\"ok\",\"drops\":0,\"cookie\":\"3\","
                     "\"inode\":1003,\"uid\":0}],\n"
                     "\"counters\":{\"ListenOverflows\":10,\"ListenDrops\":12},\n"
                     "\"sysctl\":{\"net.core.somaxconn\":4096,\"net.ipv4.tcp_syncookies\":1},\n"
                     "\"namespaces\":[],\n"
                     "\"hints\":[]}\n");
        free(out);
}
END_TEST

/* A per-watch warn level changes the state column. */
START_TEST(test_table_watch_levels) {
        Snapshot s = { 0 };
        char *buf;

        add(&s, AF_INET, "0.0.0.0", 22, 3, 128, 0, 0, 1);
        add(&s, AF_INET, "0.0.0.0", 23, 3, 128, 0, 0, 2);
        buf = render_snapshot(&s, "watch = ( { port = 22; warn = 2; clear = 1; } );", false);
        ck_assert_ptr_nonnull(strstr(buf, "*:22         3     128    2% high"));
        ck_assert_ptr_nonnull(strstr(buf, "*:23         3     128    2% ok"));
        ck_assert_ptr_nonnull(
                strstr(buf, "Host counters (TcpExt, since the namespace was created):\n  unavailable\n"));
        free(buf);
        snapshot_done(&s);
}
END_TEST

/* Hints only for troubled listeners: clamped by somaxconn, a framework
 * default backlog, resets with tcp_abort_on_overflow. */
START_TEST(test_hints) {
        Snapshot s = { 0 };
        char *buf;

        add(&s, AF_INET, "127.0.0.1", 80, 4097, 4096, 3, 0, 1); /* full, clamped */
        add(&s, AF_INET, "127.0.0.1", 6379, 0, 511, 2, 0, 2);   /* dropped, a default */
        add(&s, AF_INET, "127.0.0.1", 8080, 0, 128, 0, 0, 3);   /* a default, but fine */
        add(&s, AF_INET, "127.0.0.1", 9090, 9, 9, 0, 0, 4);     /* high, nothing to say */
        s.sysctls.present[SYSCTL_SOMAXCONN] = true;
        s.sysctls.value[SYSCTL_SOMAXCONN] = 4096;
        s.sysctls.present[SYSCTL_TCP_ABORT_ON_OVERFLOW] = true;
        s.sysctls.value[SYSCTL_TCP_ABORT_ON_OVERFLOW] = 1;
        s.have_counters = true;
        s.counters.present[NETSTAT_LISTEN_OVERFLOWS] = true;
        s.counters.value[NETSTAT_LISTEN_OVERFLOWS] = 7;
        buf = render_snapshot(&s, NULL, false);
        ck_assert_ptr_nonnull(strstr(buf, "\nHints:\n"
                                          "  127.0.0.1:80: backlog 4096 equals net.core.somaxconn, so the "
                                          "application's own value was probably cut down: raise "
                                          "net.core.somaxconn (and the application's backlog).\n"
                                          "  127.0.0.1:6379: backlog 511 is a common framework default, often too "
                                          "small for a busy service: raise the application's listen backlog.\n"
                                          "  net.ipv4.tcp_abort_on_overflow is 1: the 7 overflows counted in "
                                          "ListenOverflows sent resets to their clients.\n"));
        ck_assert_ptr_null(strstr(buf, ":8080: backlog"));
        free(buf);
        buf = render_snapshot(&s, NULL, true);
        ck_assert_ptr_nonnull(strstr(buf, "\"hints\":[\"127.0.0.1:80: backlog 4096 equals"));
        ck_assert_ptr_nonnull(strstr(buf, "their clients.\"]}\n"));
        free(buf);
        snapshot_done(&s);
}
END_TEST

/* Socket-activated listeners: OWNER, "socket_unit" and the clamp hint,
 * which is certain and said even while the queue is fine. */
START_TEST(test_socket_units) {
        Snapshot s = { 0 };
        char *buf;

        add(&s, AF_INET, "127.0.0.1", 9997, 2, 1, 0, 0, 1);
        add(&s, AF_INET, "127.0.0.1", 9996, 0, 256, 0, 0, 2);
        s.sysctls.present[SYSCTL_SOMAXCONN] = true;
        s.sysctls.value[SYSCTL_SOMAXCONN] = 256;
        s.info = calloc(2, sizeof(*s.info));
        ck_assert_ptr_nonnull(s.info);
        s.info[0] = (ListenerInfo){ .unit = "qsock.service", .socket_unit = "qsock.socket", .cgroup = "/init.scope" };
        s.info[1] = (ListenerInfo){
                .unit = "qsock2.service", .socket_unit = "qsock2.socket", .socket_backlog = 4096, .pid = 3
        };
        strcpy(s.info[1].comm, "python3");
        buf = render_snapshot(&s, NULL, false);
        ck_assert_ptr_nonnull(strstr(buf, "127.0.0.1:9997       2       1  100% full        0      -      0 "
                                          "qsock.service (via qsock.socket)\n"));
        ck_assert_ptr_nonnull(strstr(buf, "127.0.0.1:9996       0     256    0% ok          0      -      0 "
                                          "qsock2.service (via qsock2.socket; python3, pid 3)\n"));
        ck_assert_ptr_nonnull(strstr(buf, "\nHints:\n"
                                          "  qsock2.socket asks for Backlog=4096 but net.core.somaxconn is 256: its "
                                          "listener 127.0.0.1:9996 got 256. Raise net.core.somaxconn.\n"));
        free(buf);
        buf = render_snapshot(&s, NULL, true);
        ck_assert_ptr_nonnull(strstr(buf, "\"unit\":\"qsock.service\",\"socket_unit\":\"qsock.socket\"}"));
        ck_assert_ptr_nonnull(strstr(buf, "\"hints\":[\"qsock2.socket asks for Backlog=4096"));
        free(buf);
        snapshot_done(&s);
}
END_TEST

/* The daemon's own namespace and web1, two listeners each. web1's
 * somaxconn is 100, the host's 4096: both have a full listener with backlog
 * 100, and only web1's was clamped. */
#define WEB1 4026532999ULL

static void fill_netns(Snapshot *s) {
        SnapshotNetns *ns;

        add(s, AF_INET, "0.0.0.0", 22, 1, 128, 0, 0, 1);
        add(s, AF_INET, "127.0.0.1", 8080, 101, 100, 5, 0, 2);
        add(s, AF_INET6, "::1", 9000, 4, 4, -1, 1000, 3)->netns = WEB1;
        add(s, AF_INET, "10.0.0.1", 8080, 101, 100, 7, 1000, 4)->netns = WEB1;
        s->have_counters = true;
        s->counters.present[NETSTAT_LISTEN_OVERFLOWS] = true;
        s->counters.value[NETSTAT_LISTEN_OVERFLOWS] = 10;
        s->sysctls.present[SYSCTL_SOMAXCONN] = true;
        s->sysctls.value[SYSCTL_SOMAXCONN] = 4096;
        s->sysctls.present[SYSCTL_TCP_ABORT_ON_OVERFLOW] = true;
        s->sysctls.value[SYSCTL_TCP_ABORT_ON_OVERFLOW] = 0;

        ns = snapshot_add_netns(s, WEB1, "web1");
        ck_assert_ptr_nonnull(ns);
        ck_assert_uint_eq(ns->netns, WEB1);
        ck_assert(!ns->have_counters);
        ns->have_counters = true;
        ns->counters.present[NETSTAT_LISTEN_OVERFLOWS] = true;
        ns->counters.value[NETSTAT_LISTEN_OVERFLOWS] = 2;
        ns->counters.present[NETSTAT_LISTEN_DROPS] = true;
        ns->counters.value[NETSTAT_LISTEN_DROPS] = 3;
        ns->sysctls.present[SYSCTL_SOMAXCONN] = true;
        ns->sysctls.value[SYSCTL_SOMAXCONN] = 100;
        ns->sysctls.present[SYSCTL_TCP_ABORT_ON_OVERFLOW] = true;
        ns->sysctls.value[SYSCTL_TCP_ABORT_ON_OVERFLOW] = 1;
}

START_TEST(test_netns_names) {
        Snapshot s = { 0 };
        char name[] = "web1";

        ck_assert_str_eq(snapshot_netns_name(&s, 0), NETNS_HOST_NAME);
        ck_assert_ptr_null(snapshot_netns_name(&s, WEB1));
        ck_assert_ptr_nonnull(snapshot_add_netns(&s, WEB1, name));
        ck_assert_ptr_nonnull(snapshot_add_netns(&s, WEB1 + 1, "/proc/812/ns/net"));
        name[0] = 'X'; /* the snapshot keeps its own copy */
        ck_assert_str_eq(snapshot_netns_name(&s, WEB1), "web1");
        ck_assert_str_eq(snapshot_netns_name(&s, WEB1 + 1), "/proc/812/ns/net");
        ck_assert_ptr_null(snapshot_netns_name(&s, WEB1 + 2));
        ck_assert_uint_eq(s.n_netns, 2);
        snapshot_done(&s);
        ck_assert_uint_eq(s.n_netns, 0);
        ck_assert_ptr_null(s.netns);
}
END_TEST

START_TEST(test_netns_table) {
        Snapshot s = { 0 };
        char *out;

        fill_netns(&s);
        out = render_snapshot(&s, NULL, false);
        ck_assert_str_eq(out, "LISTEN         NETNS   DEPTH BACKLOG  FILL STATE   DROPS   WAIT    UID OWNER\n"
                              "10.0.0.1:8080  web1      101     100  100% full        7      -   1000 -\n"
                              "127.0.0.1:8080 host      101     100  100% full        5      -      0 -\n"
                              "[::1]:9000     web1        4       4   80% high        -      -   1000 -\n"
                              "*:22           host        1     128    0% ok          0      -      0 -\n"
                              "\n"
                              "Host counters (TcpExt, since the namespace was created):\n"
                              "  ListenOverflows                  10\n"
                              "\n"
                              "Counters of network namespace web1 (TcpExt, since the namespace was created):\n"
                              "  ListenOverflows                   2\n"
                              "  ListenDrops                       3\n"
                              "\n"
                              "Sysctls:\n"
                              "  net.core.somaxconn               4096\n"
                              "  net.ipv4.tcp_max_syn_backlog        ?\n"
                              "  net.ipv4.tcp_syncookies             ?\n"
                              "  net.ipv4.tcp_abort_on_overflow      0\n"
                              "  net.ipv4.tcp_synack_retries         ?\n"
                              "\n"
                              "Sysctls in network namespace web1:\n"
                              "  net.core.somaxconn                100\n"
                              "  net.ipv4.tcp_max_syn_backlog        ?\n"
                              "  net.ipv4.tcp_syncookies             ?\n"
                              "  net.ipv4.tcp_abort_on_overflow      1\n"
                              "  net.ipv4.tcp_synack_retries         ?\n"
                              "\n"
                              "Hints:\n"
                              "  10.0.0.1:8080 in network namespace web1: backlog 100 equals net.core.somaxconn, so "
                              "the application's own value was probably cut down: raise net.core.somaxconn (and the "
                              "application's backlog).\n"
                              "  net.ipv4.tcp_abort_on_overflow is 1 in network namespace web1: the 2 overflows "
                              "counted in ListenOverflows sent resets to their clients.\n");
        free(out);
        snapshot_done(&s);
}
END_TEST

START_TEST(test_netns_json) {
        Snapshot s = { 0 };
        char *out;

        fill_netns(&s);
        out = render_snapshot(&s, NULL, true);
        ck_assert_str_eq(
                out,
                "{\"listeners\":[\n"
                "{\"netns\":\"web1\",\"family\":\"inet\",\"address\":\"10.0.0.1\",\"port\":8080,\"depth\":101,"
                "\"backlog\":100,\"capacity\":101,\"fill\":1.000,\"state\":\"full\",\"drops\":7,\"cookie\":\"4\","
                "\"inode\":1004,\"uid\":1000},\n"
                "{\"netns\":\"host\",\"family\":\"inet\",\"address\":\"127.0.0.1\",\"port\":8080,\"depth\":101,"
                "\"backlog\":100,\"capacity\":101,\"fill\":1.000,\"state\":\"full\",\"drops\":5,\"cookie\":\"2\","
                "\"inode\":1002,\"uid\":0},\n"
                "{\"netns\":\"web1\",\"family\":\"inet6\",\"address\":\"::1\",\"port\":9000,\"depth\":4,"
                "\"backlog\":4,\"capacity\":5,\"fill\":0.800,\"state\":\"high\",\"cookie\":\"3\",\"inode\":1003,"
                "\"uid\":1000},\n"
                "{\"netns\":\"host\",\"family\":\"inet\",\"address\":\"0.0.0.0\",\"port\":22,\"depth\":1,"
                "\"backlog\":128,\"capacity\":129,\"fill\":0.007,\"state\":\"ok\",\"drops\":0,\"cookie\":\"1\","
                "\"inode\":1001,\"uid\":0}],\n"
                "\"counters\":{\"ListenOverflows\":10},\n"
                "\"sysctl\":{\"net.core.somaxconn\":4096,\"net.ipv4.tcp_abort_on_overflow\":0},\n"
                "\"namespaces\":[\n"
                "{\"netns\":\"web1\",\"counters\":{\"ListenOverflows\":2,\"ListenDrops\":3},"
                "\"sysctl\":{\"net.core.somaxconn\":100,\"net.ipv4.tcp_abort_on_overflow\":1}}],\n"
                "\"hints\":[\"10.0.0.1:8080 in network namespace web1: backlog 100 equals net.core.somaxconn, so "
                "the application's own value was probably cut down: raise net.core.somaxconn (and the "
                "application's backlog).\",\"net.ipv4.tcp_abort_on_overflow is 1 in network namespace web1: the 2 "
                "overflows counted in ListenOverflows sent resets to their clients.\"]}\n");
        free(out);
        snapshot_done(&s);
}
END_TEST

/* Without the daemon's own namespace (host = false) its counters and
 * sysctls are null in JSON and left out of the table; a namespace whose
 * counters could not be read has no "counters"; a listener of a namespace
 * the snapshot does not know has a null name ("?" in the table). */
START_TEST(test_netns_no_host) {
        Snapshot s = { .no_host = true };
        SnapshotNetns *ns;
        char *out;

        add(&s, AF_INET, "10.0.0.1", 80, 0, 511, 0, 0, 1)->netns = WEB1;
        add(&s, AF_INET, "10.0.0.2", 80, 0, 511, 0, 0, 2)->netns = WEB1 + 1;
        ns = snapshot_add_netns(&s, WEB1, "/run/netns/a-long-name");
        ck_assert_ptr_nonnull(ns);
        ns->sysctls.present[SYSCTL_SOMAXCONN] = true;
        ns->sysctls.value[SYSCTL_SOMAXCONN] = 4096;

        out = render_snapshot(&s, NULL, true);
        ck_assert_str_eq(out,
                         "{\"listeners\":[\n"
                         "{\"netns\":\"/run/netns/a-long-name\",\"family\":\"inet\",\"address\":\"10.0.0.1\","
                         "\"port\":80,\"depth\":0,\"backlog\":511,\"capacity\":512,\"fill\":0.000,\"state\":\"ok\","
                         "\"drops\":0,\"cookie\":\"1\",\"inode\":1001,\"uid\":0},\n"
                         "{\"netns\":null,\"family\":\"inet\",\"address\":\"10.0.0.2\",\"port\":80,\"depth\":0,"
                         "\"backlog\":511,\"capacity\":512,\"fill\":0.000,\"state\":\"ok\",\"drops\":0,"
                         "\"cookie\":\"2\",\"inode\":1002,\"uid\":0}],\n"
                         "\"counters\":null,\n"
                         "\"sysctl\":null,\n"
                         "\"namespaces\":[\n"
                         "{\"netns\":\"/run/netns/a-long-name\",\"sysctl\":{\"net.core.somaxconn\":4096}}],\n"
                         "\"hints\":[]}\n");
        free(out);
        out = render_snapshot(&s, NULL, false);
        ck_assert_str_eq(out,
                         "LISTEN      NETNS                    DEPTH BACKLOG  FILL STATE   DROPS   WAIT    UID OWNER\n"
                         "10.0.0.1:80 /run/netns/a-long-name       0     511    0% ok          0      -      0 -\n"
                         "10.0.0.2:80 ?                            0     511    0% ok          0      -      0 -\n"
                         "\n"
                         "Counters of network namespace /run/netns/a-long-name (TcpExt, since the namespace "
                         "was created):\n"
                         "  unavailable\n"
                         "\n"
                         "Sysctls in network namespace /run/netns/a-long-name:\n"
                         "  net.core.somaxconn               4096\n"
                         "  net.ipv4.tcp_max_syn_backlog        ?\n"
                         "  net.ipv4.tcp_syncookies             ?\n"
                         "  net.ipv4.tcp_abort_on_overflow      ?\n"
                         "  net.ipv4.tcp_synack_retries         ?\n");
        free(out);
        snapshot_done(&s);
}
END_TEST

/* Watch entries that select by namespace get the listener's namespace name:
 * [::1]:9000 of web1 (80%) is high at the default level but ok under the
 * web* entry (warn 90), and the host entry before it does not take it. An
 * entry by unit selects nothing without an owner to name the unit. */
START_TEST(test_netns_watch) {
        Snapshot s = { 0 };
        char *out;

        fill_netns(&s);
        out = render_snapshot(&s,
                              "watch = ( { port = 9000; netns = \"host\"; warn = 50; clear = 10; },"
                              "          { port = 9000; netns = \"web*\"; warn = 90; clear = 50; },"
                              "          { port = 22; netns = \"host\"; warn = 2; clear = 1; } );",
                              false);
        ck_assert_ptr_nonnull(
                strstr(out, "\n[::1]:9000     web1        4       4   80% ok          -      -   1000 -\n"));
        ck_assert_ptr_nonnull(
                strstr(out, "\n*:22           host        1     128    0% ok          0      -      0 -\n"));
        free(out);
        out = render_snapshot(&s, "watch = ( { port = 9000; unit = \"*\"; warn = 90; clear = 50; } );", true);
        ck_assert_ptr_nonnull(strstr(out, "\"address\":\"::1\",\"port\":9000,\"depth\":4,\"backlog\":4,"
                                          "\"capacity\":5,\"fill\":0.800,\"state\":\"high\","));
        free(out);
        snapshot_done(&s);
}
END_TEST

/* A queue that is not full never reads 1.000 (4000 of 4001 is 0.999, and
 * high, not full); a UNIX listener says its socket type. */
START_TEST(test_json_fill_and_unix_type) {
        Snapshot s = { 0 };
        Listener *l = add(&s, AF_INET, "127.0.0.1", 80, 4000, 4000, 0, 0, 1);
        char *out;

        (void) l;
        l = listener_set_push(&s.listeners);
        l->kind = LISTENER_UNIX;
        l->family = AF_UNIX;
        l->sotype = SOCK_SEQPACKET;
        strcpy(l->path, "/run/x.sock");
        l->backlog = 9;
        l->cookie = 2;
        l->depth = 2;
        s.info = calloc(2, sizeof(*s.info));
        ck_assert_ptr_nonnull(s.info);
        s.info[1].clients[0] = (ProcessName){ .pid = 812, .comm = "psql" };
        s.info[1].clients[1] = (ProcessName){ .pid = 900, .comm = "c\"x" };
        s.info[1].n_clients = 2;
        out = render_snapshot(&s, "unix = true;", true);
        ck_assert_ptr_nonnull(strstr(out, "\"depth\":4000,\"backlog\":4000,\"capacity\":4001,\"fill\":0.999,"
                                          "\"state\":\"high\""));
        ck_assert_ptr_nonnull(strstr(out, "\"family\":\"unix\",\"address\":\"/run/x.sock\",\"port\":0,"
                                          "\"type\":\"seqpacket\","));
        /* its waiting clients' processes, and a hint that names them */
        ck_assert_ptr_nonnull(
                strstr(out, ",\"clients\":[{\"pid\":812,\"comm\":\"psql\"},{\"pid\":900,\"comm\":\"c\\\"x\"}]}"));
        ck_assert_ptr_nonnull(strstr(out,
                                     "\"/run/x.sock: 2 connections wait; their clients: psql (pid 812), c\\\"x (pid "
                                     "900).\""));
        free(out);
        snapshot_done(&s);
}
END_TEST

/* Names a local user chose: a UNIX path with a byte that is not UTF-8, a
 * newline, ESC, a quote and a backslash; a process name with ESC and a
 * newline; a cgroup and a namespace name with such bytes too. The table
 * keeps one line per listener, with no control byte, its columns measured
 * on what is shown; the JSON stays valid and gives the bytes back. */
#define HOSTILE_PATH "/tmp/bl\xff\n\x1b[2J\"q\\"
#define HOSTILE_COMM "ev\x1b[31m\nil"

static void fill_hostile(Snapshot *s) {
        Listener *l = listener_set_push(&s->listeners);

        l->kind = LISTENER_UNIX;
        l->family = AF_UNIX;
        l->sotype = SOCK_STREAM;
        strcpy(l->path, HOSTILE_PATH);
        l->depth = 3;
        l->backlog = 2;
        l->uid = 65534;
        l->cookie = 1;
        l->inode = 77;
        add(s, AF_INET, "127.0.0.1", 80, 0, 511, 0, 0, 2)->netns = WEB1;
        ck_assert_ptr_nonnull(snapshot_add_netns(s, WEB1, "n\xc3\xa9t\x1b"));
        s->info = calloc(2, sizeof(*s->info));
        ck_assert_ptr_nonnull(s->info);
        s->info[0].cgroup = "/user.slice/x\xff\r.scope";
        s->info[0].pid = 4242;
        strcpy(s->info[0].comm, HOSTILE_COMM);
}

START_TEST(test_hostile_table) {
        Snapshot s = { 0 };
        char *out;

        fill_hostile(&s);
        out = render_snapshot(&s, "unix = true;", false);
        ck_assert_str_eq(
                out, "LISTEN                   NETNS     DEPTH BACKLOG  FILL STATE   DROPS   WAIT    UID OWNER\n"
                     "/tmp/bl\\xff\\n\\x1b[2J\"q\\\\ host          3       2  100% full        -      -  65534 "
                     "/user.slice/x\\xff\\r.scope (ev\\x1b[31m\\nil, pid 4242)\n"
                     "127.0.0.1:80             n\xc3\xa9t\\x1b       0     511    0% ok          0      -      0 -\n"
                     "\n"
                     "Host counters (TcpExt, since the namespace was created):\n"
                     "  unavailable\n"
                     "\n"
                     "Counters of network namespace n\xc3\xa9t\\x1b (TcpExt, since the namespace was "
                     "created):\n"
                     "  unavailable\n"
                     "\n"
                     "Sysctls:\n"
                     "  net.core.somaxconn                  ?\n"
                     "  net.ipv4.tcp_max_syn_backlog        ?\n"
                     "  net.ipv4.tcp_syncookies             ?\n"
                     "  net.ipv4.tcp_abort_on_overflow      ?\n"
                     "  net.ipv4.tcp_synack_retries         ?\n"
                     "\n"
                     "Sysctls in network namespace n\xc3\xa9t\\x1b:\n"
                     "  net.core.somaxconn                  ?\n"
                     "  net.ipv4.tcp_max_syn_backlog        ?\n"
                     "  net.ipv4.tcp_syncookies             ?\n"
                     "  net.ipv4.tcp_abort_on_overflow      ?\n"
                     "  net.ipv4.tcp_synack_retries         ?\n");
        for (const char *p = out; *p; p++)
                ck_assert(*p == '\n' || ((unsigned char) *p >= 0x20 && *p != 0x7f));
        free(out);
        snapshot_done(&s);
}
END_TEST

START_TEST(test_hostile_json) {
        Snapshot s = { 0 };
        char *out;

        fill_hostile(&s);
        out = render_snapshot(&s, "unix = true;", true);
        ck_assert_str_eq(out, "{\"listeners\":[\n"
                              "{\"netns\":\"host\",\"family\":\"unix\",\"address\":\"/tmp/bl\\udcff\\u000a\\u001b[2J"
                              "\\\"q\\\\\",\"port\":0,\"type\":\"stream\",\"depth\":3,\"backlog\":2,\"capacity\":3,"
                              "\"fill\":1.000,\"state\":\"full\",\"cookie\":\"1\",\"inode\":77,\"uid\":65534,"
                              "\"cgroup\":\"/user.slice/x\\udcff\\u000d.scope\",\"pid\":4242,"
                              "\"comm\":\"ev\\u001b[31m\\u000ail\"},\n"
                              "{\"netns\":\"n\xc3\xa9t\\u001b\",\"family\":\"inet\",\"address\":\"127.0.0.1\","
                              "\"port\":80,\"depth\":0,\"backlog\":511,\"capacity\":512,\"fill\":0.000,"
                              "\"state\":\"ok\",\"drops\":0,\"cookie\":\"2\",\"inode\":1002,\"uid\":0}],\n"
                              "\"counters\":{},\n"
                              "\"sysctl\":{},\n"
                              "\"namespaces\":[\n"
                              "{\"netns\":\"n\xc3\xa9t\\u001b\",\"sysctl\":{}}],\n"
                              "\"hints\":[]}\n");
        free(out);
        snapshot_done(&s);
}
END_TEST

START_TEST(test_table_empty) {
        Snapshot s = { 0 };
        char *buf = render_snapshot(&s, NULL, false);

        ck_assert_ptr_nonnull(strstr(buf, "LISTEN   DEPTH BACKLOG  FILL STATE   DROPS   WAIT    UID OWNER\n"
                                          "(no listening TCP sockets)\n"));
        free(buf);
}
END_TEST

/* SO_REUSEPORT groups: 127.0.0.1:8443 (3 members, one full) and [::]:443
 * (2, empty) on the host, 127.0.0.1:8443 in web1 (2); *:22 alone. Their
 * numbers as once.c resolves them (groups_tally()). */
static void fill_groups(Snapshot *s, bool netns) {
        ListenerGroup g[8];

        add(s, AF_INET, "127.0.0.1", 8443, 5, 4, 0, 0, 1);
        add(s, AF_INET, "127.0.0.1", 8443, 0, 4, 0, 0, 2);
        add(s, AF_INET, "127.0.0.1", 8443, 1, 4, 0, 0, 3);
        add(s, AF_INET6, "::", 443, 0, 4, 0, 0, 4);
        add(s, AF_INET6, "::", 443, 0, 4, 0, 0, 5);
        add(s, AF_INET, "0.0.0.0", 22, 0, 128, 0, 0, 6);
        if (netns) {
                add(s, AF_INET, "127.0.0.1", 8443, 0, 9, 0, 0, 7)->netns = WEB1;
                add(s, AF_INET, "127.0.0.1", 8443, 0, 9, 0, 0, 8)->netns = WEB1;
                ck_assert_ptr_nonnull(snapshot_add_netns(s, WEB1, "web1"));
        }
        ck_assert_int_eq(groups_tally(s->listeners.items, s->listeners.n, g), netns ? 3 : 2);
        s->info = calloc(s->listeners.n, sizeof(*s->info));
        ck_assert_ptr_nonnull(s->info);
        for (size_t i = 0; i < s->listeners.n; i++)
                s->info[i].group = g[i];
}

START_TEST(test_groups_table) {
        Snapshot s = { 0 };
        char *out;

        fill_groups(&s, false);
        out = render_snapshot(&s, NULL, false);
        ck_assert_str_eq(out, "LISTEN           DEPTH BACKLOG  FILL STATE   DROPS   WAIT    UID OWNER\n"
                              "127.0.0.1:8443       5       4  100% full        0      -      0 -\n"
                              "127.0.0.1:8443       1       4   20% ok          0      -      0 -\n"
                              "*:22                 0     128    0% ok          0      -      0 -\n"
                              "*:443                0       4    0% ok          0      -      0 -\n"
                              "*:443                0       4    0% ok          0      -      0 -\n"
                              "127.0.0.1:8443       0       4    0% ok          0      -      0 -\n"
                              "\n"
                              "SO_REUSEPORT groups:\n"
                              "  127.0.0.1:8443: 3 sockets, 1 full, 6 of 15 connections waiting\n"
                              "  *:443: 2 sockets, 0 full, 0 of 10 connections waiting\n"
                              "\n"
                              "Host counters (TcpExt, since the namespace was created):\n"
                              "  unavailable\n"
                              "\n"
                              "Sysctls:\n"
                              "  net.core.somaxconn                  ?\n"
                              "  net.ipv4.tcp_max_syn_backlog        ?\n"
                              "  net.ipv4.tcp_syncookies             ?\n"
                              "  net.ipv4.tcp_abort_on_overflow      ?\n"
                              "  net.ipv4.tcp_synack_retries         ?\n");
        free(out);
        snapshot_done(&s);
        /* The same address and port in another namespace is another group. */
        fill_groups(&s, true);
        out = render_snapshot(&s, NULL, false);
        ck_assert_ptr_nonnull(strstr(out, "\nSO_REUSEPORT groups:\n"
                                          "  127.0.0.1:8443: 3 sockets, 1 full, 6 of 15 connections waiting\n"
                                          "  *:443: 2 sockets, 0 full, 0 of 10 connections waiting\n"
                                          "  127.0.0.1:8443 in network namespace web1: 2 sockets, 0 full, 0 of 20 "
                                          "connections waiting\n\n"));
        free(out);
        snapshot_done(&s);
}
END_TEST

START_TEST(test_groups_json) {
        Snapshot s = { 0 };
        char *out;

        fill_groups(&s, false);
        out = render_snapshot(&s, NULL, true);
        ck_assert_str_eq(
                out,
                "{\"listeners\":[\n"
                "{\"netns\":\"host\",\"family\":\"inet\",\"address\":\"127.0.0.1\",\"port\":8443,\"depth\":5,"
                "\"backlog\":4,\"capacity\":5,\"fill\":1.000,\"state\":\"full\",\"drops\":0,"
                "\"group\":{\"members\":3,\"full\":1,\"depth\":6,\"capacity\":15},\"cookie\":\"1\",\"inode\":1001,"
                "\"uid\":0},\n"
                "{\"netns\":\"host\",\"family\":\"inet\",\"address\":\"127.0.0.1\",\"port\":8443,\"depth\":1,"
                "\"backlog\":4,\"capacity\":5,\"fill\":0.200,\"state\":\"ok\",\"drops\":0,"
                "\"group\":{\"members\":3,\"full\":1,\"depth\":6,\"capacity\":15},\"cookie\":\"3\",\"inode\":1003,"
                "\"uid\":0},\n"
                "{\"netns\":\"host\",\"family\":\"inet\",\"address\":\"0.0.0.0\",\"port\":22,\"depth\":0,"
                "\"backlog\":128,\"capacity\":129,\"fill\":0.000,\"state\":\"ok\",\"drops\":0,\"cookie\":\"6\","
                "\"inode\":1006,\"uid\":0},\n"
                "{\"netns\":\"host\",\"family\":\"inet6\",\"address\":\"::\",\"port\":443,\"depth\":0,"
                "\"backlog\":4,\"capacity\":5,\"fill\":0.000,\"state\":\"ok\",\"drops\":0,"
                "\"group\":{\"members\":2,\"full\":0,\"depth\":0,\"capacity\":10},\"cookie\":\"4\",\"inode\":1004,"
                "\"uid\":0},\n"
                "{\"netns\":\"host\",\"family\":\"inet6\",\"address\":\"::\",\"port\":443,\"depth\":0,"
                "\"backlog\":4,\"capacity\":5,\"fill\":0.000,\"state\":\"ok\",\"drops\":0,"
                "\"group\":{\"members\":2,\"full\":0,\"depth\":0,\"capacity\":10},\"cookie\":\"5\",\"inode\":1005,"
                "\"uid\":0},\n"
                "{\"netns\":\"host\",\"family\":\"inet\",\"address\":\"127.0.0.1\",\"port\":8443,\"depth\":0,"
                "\"backlog\":4,\"capacity\":5,\"fill\":0.000,\"state\":\"ok\",\"drops\":0,"
                "\"group\":{\"members\":3,\"full\":1,\"depth\":6,\"capacity\":15},\"cookie\":\"2\",\"inode\":1002,"
                "\"uid\":0}],\n"
                "\"counters\":{},\n"
                "\"sysctl\":{},\n"
                "\"namespaces\":[],\n"
                "\"hints\":[]}\n");
        free(out);
        snapshot_done(&s);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("report");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_table);
        tcase_add_test(tc, test_json);
        tcase_add_test(tc, test_table_watch_levels);
        tcase_add_test(tc, test_table_empty);
        tcase_add_test(tc, test_json_fill_and_unix_type);
        tcase_add_test(tc, test_hints);
        tcase_add_test(tc, test_socket_units);
        tcase_add_test(tc, test_netns_names);
        tcase_add_test(tc, test_netns_table);
        tcase_add_test(tc, test_netns_json);
        tcase_add_test(tc, test_netns_no_host);
        tcase_add_test(tc, test_netns_watch);
        tcase_add_test(tc, test_hostile_table);
        tcase_add_test(tc, test_hostile_json);
        tcase_add_test(tc, test_groups_table);
        tcase_add_test(tc, test_groups_json);
        suite_add_tcase(s, tc);
        return s;
}
