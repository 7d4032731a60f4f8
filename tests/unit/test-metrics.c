/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check-main.h"
#include "metrics.h"

#include "alloc-count.h"

extern char **environ;

/* ---- helpers ---------------------------------------------------------- */

static char *fixture(const char *rel) {
        const char *dir = getenv("FIXTURES");
        char *p;

        ck_assert_msg(dir, "FIXTURES is not set");
        ck_assert_int_ge(asprintf(&p, "%s/metrics/%s", dir, rel), 0);
        return p;
}

static char *read_file(const char *path, size_t *ret_len) {
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t cap = 0, n = 0;

        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        for (;;) {
                if (n + 4096 + 1 > cap) {
                        cap = cap ? cap * 2 : 65536;
                        buf = realloc(buf, cap);
                        ck_assert(buf);
                }
                size_t k = fread(buf + n, 1, cap - n - 1, f);
                n += k;
                if (k == 0)
                        break;
        }
        ck_assert(!ferror(f));
        fclose(f);
        buf[n] = 0;
        if (ret_len)
                *ret_len = n;
        return buf;
}

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        ck_assert_int_eq(fputs(text, f) >= 0, 1);
        ck_assert_int_eq(fclose(f), 0);
}

static char *make_dir(void) {
        char *d = strdup("/tmp/test-metrics-XXXXXX");

        ck_assert(d);
        ck_assert_msg(mkdtemp(d), "mkdtemp: %s", strerror(errno));
        ck_assert_int_eq(chmod(d, 0755), 0);
        return d;
}

static char *path_in(const char *dir, const char *name) {
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        return p;
}

/* Number of entries in dir besides . and .. */
static int count_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *e;
        int n = 0;

        ck_assert(d);
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

static char *render_string(MetricsWriter *m, double poll, double now) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        int n;

        ck_assert(f);
        n = metrics_render(m, f, poll, now);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_ge(n, 0);
        ck_assert_uint_eq((size_t) n, len);
        return text;
}

static Listener tcp4(const char *addr, uint16_t port, uint32_t depth, uint32_t backlog, int64_t drops) {
        Listener l = { 0 };

        l.kind = LISTENER_TCP;
        l.family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, addr, l.addr), 1);
        l.port = port;
        l.depth = depth;
        l.backlog = backlog;
        l.has_drops = drops >= 0;
        l.drops = drops >= 0 ? (uint32_t) drops : 0;
        return l;
}

static Listener tcp6(const char *addr, uint16_t port, uint32_t depth, uint32_t backlog, int64_t drops) {
        Listener l = tcp4("0.0.0.0", port, depth, backlog, drops);

        l.family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, addr, l.addr), 1);
        return l;
}

static Listener unix_l(const char *path, uint32_t depth, uint32_t backlog, int64_t drops) {
        Listener l = tcp4("0.0.0.0", 0, depth, backlog, drops);

        l.kind = LISTENER_UNIX;
        l.family = AF_UNIX;
        memset(l.addr, 0, sizeof(l.addr));
        ck_assert_uint_lt(strlen(path), sizeof(l.path));
        strcpy(l.path, path);
        return l;
}

/* Makes the next commit's samples differ from the last one's (a commit of
 * the same samples only touches the file): a counter of namespace "vary"
 * set to k. */
static void vary(MetricsWriter *m, int k) {
        NetstatCounters c = { 0 };

        c.present[0] = true;
        c.value[0] = (uint64_t) k;
        ck_assert_int_eq(metrics_set_counters(m, "vary", &c), 0);
}

/* ---- the fixed set behind tests/fixtures/metrics/listeners.prom -------- */

typedef struct Fixed {
        Listener l;
        const char *netns, *name, *unit;
        int64_t syn;
} Fixed;

static void fixed_set(Fixed *f, size_t *n) {
        size_t i = 0;

        /* host namespace */
        f[i++] = (Fixed){ tcp4("127.0.0.1", 8080, 3, 128, 7), "host", "web", "nginx.service", 2 };
        f[i++] = (Fixed){ tcp6("::", 443, 0, 4096, 0), "host", "", "caddy.service", -1 };
        f[i++] = (Fixed){ tcp4("0.0.0.0", 25, 1, 100, -1), "host", "smtp", NULL, -1 }; /* no drop count */
        f[i++] = (Fixed){ unix_l("/run/app.sock", 1, 511, 4), "host", "app", "app.service", -1 };
        f[i++] = (Fixed){ unix_l("@abstract\"name", 0, 16, -1), "host", NULL, NULL, -1 };
        f[i++] = (Fixed){ unix_l("/tmp/b\xff"
                                 "ad",
                                 2, 5, 0),
                          "host", NULL, NULL, -1 }; /* not UTF-8 */
        f[i++] = (Fixed){ unix_l("/tmp/caf\xc3\xa9.sock", 0, 5, 0), "host", NULL, NULL, -1 };
        f[i++] = (Fixed){ tcp4("127.0.0.1", 9000, 0, 10, 1), "host", "say \"hi\"\nnow", "weird\\unit", 0 };
        /* an SO_REUSEPORT pair: one series */
        f[i++] = (Fixed){ tcp4("0.0.0.0", 80, 1, 511, 5), "host", "http", "nginx.service", 3 };
        f[i++] = (Fixed){ tcp4("0.0.0.0", 80, 2, 511, 6), "host", "http", "nginx.service", 3 };
        /* another namespace: same address and port, a different series */
        f[i++] = (Fixed){ tcp4("127.0.0.1", 8080, 0, 64, 0), "blue", "web", NULL, 0 };
        f[i++] = (Fixed){ tcp6("::1", 22, 0, 128, 9), "blue", "ssh", "", -1 };
        *n = i;
}

static void fixed_counters(NetstatCounters *host, NetstatCounters *blue) {
        *host = (NetstatCounters){ 0 };
        *blue = (NetstatCounters){ 0 };
        for (int c = 0; c < _NETSTAT_COUNTER_MAX; c++) {
                host->present[c] = true;
                host->value[c] = 100 + (uint64_t) c;
        }
        host->value[NETSTAT_LISTEN_OVERFLOWS] = UINT64_MAX;
        blue->present[NETSTAT_LISTEN_OVERFLOWS] = blue->present[NETSTAT_LISTEN_DROPS] = true;
        blue->value[NETSTAT_LISTEN_OVERFLOWS] = 5;
        blue->value[NETSTAT_LISTEN_DROPS] = 6;
        blue->value[NETSTAT_SYNCOOKIES_SENT] = 77; /* not present: not written */
}

/* Adds the fixed set in the order given by perm (NULL: as listed). */
static void add_fixed(MetricsWriter *m, const size_t *perm) {
        Fixed f[32];
        NetstatCounters host, blue, stale = { 0 };
        size_t n;

        fixed_set(f, &n);
        metrics_begin(m);
        /* replaced by the later call for the same netns */
        stale.present[0] = true;
        ck_assert_int_eq(metrics_set_counters(m, "host", &stale), 0);
        for (size_t i = 0; i < n; i++) {
                const Fixed *x = &f[perm ? perm[i] : i];

                ck_assert_int_eq(metrics_add_listener(m, &x->l, x->netns, x->name, x->unit, x->syn), 0);
        }
        fixed_counters(&host, &blue);
        ck_assert_int_eq(metrics_set_counters(m, "host", &host), 0);
        ck_assert_int_eq(metrics_set_counters(m, "blue", &blue), 0);
}

static MetricsWriter *writer_in(const char *dir, char **ret_target) {
        MetricsWriter *m = NULL;
        ErrBuf err = { 0 };
        char *target = path_in(dir, "backlogd.prom");
        int r = metrics_writer_new(target, &m, &err);

        ck_assert_msg(r == 0, "metrics_writer_new: %d %s", r, err.text);
        *ret_target = target;
        return m;
}

static void assert_golden(const char *text, const char *golden_name) {
        _cleanup_(freep) char *golden_path = fixture(golden_name);
        const char *update = getenv("METRICS_UPDATE_GOLDEN");
        _cleanup_(freep) char *golden = NULL;
        size_t len;

        if (update && strcmp(update, "1") == 0)
                write_text(golden_path, text);
        golden = read_file(golden_path, &len);
        size_t i = 0, tlen = strlen(text);

        while (i < len && i < tlen && text[i] == golden[i])
                i++;
        /* A short excerpt: check cannot carry a message of the whole file. */
        ck_assert_msg(i == len && i == tlen, "output differs from %s at byte %zu (%zu vs %zu bytes): \"%.80s\"",
                      golden_path, i, tlen, len, text + (i > 40 ? i - 40 : 0));
}

/* target holds what the commit with now_unix = stamp wrote. */
static void assert_committed(const char *target, const char *stamp) {
        _cleanup_(freep) char *text = read_file(target, NULL), *want = NULL;

        ck_assert_int_ge(asprintf(&want, "\nbacklogd_last_poll_timestamp_seconds %s\n", stamp), 0);
        ck_assert_msg(strstr(text, want), "%s is not the commit at %s:\n%s", target, stamp, text);
}

/* The sample lines of text (HELP and TYPE lines left out), in order. */
static char *sample_lines(const char *text) {
        char *out = malloc(strlen(text) + 1), *w = out;

        ck_assert(out);
        for (const char *line = text; *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t) (nl - line) + 1 : strlen(line);

                if (line[0] != '#') {
                        memcpy(w, line, len);
                        w += len;
                }
                line += len;
        }
        *w = 0;
        return out;
}

/* ---- promtool ----------------------------------------------------------- */

/* Runs `promtool check metrics < path`; returns its exit status. Fails the
 * test when promtool cannot be run: passing without it would hide that the
 * format was never checked. */
static int promtool_check(const char *path) {
        char *argv[] = { (char *) "promtool", (char *) "check", (char *) "metrics", NULL };
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int r, status;

        ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
        ck_assert_int_eq(posix_spawn_file_actions_addopen(&fa, 0, path, O_RDONLY, 0), 0);
        r = posix_spawnp(&pid, "promtool", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        ck_assert_msg(r == 0,
                      "cannot run promtool (%s): install Debian's \"prometheus\" package "
                      "(apt-get install --no-install-recommends prometheus)",
                      strerror(r));
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status), "promtool died");
        return WEXITSTATUS(status);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_golden) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *a = NULL, *b = NULL, *c = NULL;
        static const size_t reverse[] = { 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 };
        static const size_t shuffled[] = { 5, 9, 0, 11, 3, 7, 1, 10, 2, 8, 6, 4 };

        m = writer_in(dir, &target);
        add_fixed(m, NULL);
        a = render_string(m, 0.0125, 1700000000.25);
        assert_golden(a, "listeners.prom");

        /* the order of the dump does not matter */
        add_fixed(m, reverse);
        b = render_string(m, 0.0125, 1700000000.25);
        ck_assert_str_eq(a, b);
        add_fixed(m, shuffled);
        c = render_string(m, 0.0125, 1700000000.25);
        ck_assert_str_eq(a, c);

        /* rendering twice gives the same text (the merge is not redone) */
        free(c);
        c = render_string(m, 0.0125, 1700000000.25);
        ck_assert_str_eq(a, c);
        rmdir(dir);
}
END_TEST

START_TEST(test_golden_empty) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *a = NULL, *b = NULL;
        Listener l = tcp4("127.0.0.1", 1, 1, 1, 1);

        m = writer_in(dir, &target);
        metrics_begin(m);
        a = render_string(m, 0, 0);
        assert_golden(a, "empty.prom");

        /* begin forgets what the previous poll added */
        ck_assert_int_eq(metrics_add_listener(m, &l, "x", NULL, NULL, 1), 0);
        metrics_begin(m);
        b = render_string(m, 0, 0);
        ck_assert_str_eq(a, b);
        rmdir(dir);
}
END_TEST

START_TEST(test_values) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *a = NULL;

        m = writer_in(dir, &target);
        add_fixed(m, NULL);
        a = render_string(m, 0.0125, 1700000000.25);

        /* the SO_REUSEPORT pair is summed; SYN depth is the larger one */
        ck_assert_ptr_nonnull(strstr(a,
                                     "\nbacklogd_listen_queue_depth{address=\"0.0.0.0\",port=\"80\",family=\"inet\","
                                     "netns=\"host\",name=\"http\",unit=\"nginx.service\"} 3\n"));
        ck_assert_ptr_nonnull(strstr(a,
                                     "\nbacklogd_listen_queue_backlog{address=\"0.0.0.0\",port=\"80\",family=\"inet\","
                                     "netns=\"host\",name=\"http\",unit=\"nginx.service\"} 1022\n"));
        ck_assert_ptr_nonnull(strstr(a,
                                     "\nbacklogd_listen_drops_total{address=\"0.0.0.0\",port=\"80\",family=\"inet\","
                                     "netns=\"host\",name=\"http\",unit=\"nginx.service\"} 11\n"));
        ck_assert_ptr_nonnull(strstr(a, "\nbacklogd_syn_queue_depth{address=\"0.0.0.0\",port=\"80\",family=\"inet\","
                                        "netns=\"host\",name=\"http\",unit=\"nginx.service\"} 3\n"));
        /* escapes */
        ck_assert_ptr_nonnull(strstr(a, "name=\"say \\\"hi\\\"\\nnow\",unit=\"weird\\\\unit\"} 10\n"));
        /* empty labels are left out: a UNIX listener has no port label,
         * one without name or unit none of those */
        ck_assert_ptr_nonnull(strstr(a, "{address=\"@abstract\\\"name\",family=\"unix\",netns=\"host\"}"));
        ck_assert_ptr_nonnull(strstr(a, "{address=\"/tmp/b\xef\xbf\xbd"
                                        "ad\",family=\"unix\""));
        ck_assert_ptr_nonnull(strstr(a, "{address=\"/tmp/caf\xc3\xa9.sock\",family=\"unix\""));
        ck_assert_ptr_null(strstr(a, "=\"\""));
        /* a listener without a drop count has no drops sample, one with an
         * unknown SYN depth no SYN sample */
        ck_assert_ptr_null(strstr(a, "backlogd_listen_drops_total{address=\"0.0.0.0\",port=\"25\""));
        ck_assert_ptr_nonnull(strstr(a, "backlogd_listen_queue_depth{address=\"0.0.0.0\",port=\"25\""));
        ck_assert_ptr_null(strstr(a, "backlogd_syn_queue_depth{address=\"::\",port=\"443\""));
        /* counters: present ones only, extremes exact, the replaced call gone */
        ck_assert_ptr_nonnull(strstr(a, "\nbacklogd_tcpext_total{counter=\"ListenOverflows\",netns=\"host\"} "
                                        "18446744073709551615\n"));
        ck_assert_ptr_nonnull(strstr(a, "\nbacklogd_tcpext_total{counter=\"ListenDrops\",netns=\"blue\"} 6\n"));
        ck_assert_ptr_null(strstr(a, "counter=\"SyncookiesSent\",netns=\"blue\""));
        ck_assert_ptr_nonnull(strstr(a, "\nbacklogd_poll_seconds 0.012500\n"));
        ck_assert_ptr_nonnull(strstr(a, "\nbacklogd_last_poll_timestamp_seconds 1700000000.250\n"));
        rmdir(dir);
}
END_TEST

/* Each family once, its samples together: no family name reappears after
 * another family started. */
/* backlogd_listen_queue_wait_seconds: for the records given a wait only,
 * in seconds; an SO_REUSEPORT group shows the largest; a wait for a record
 * that is not the listener's is ignored. */
START_TEST(test_wait_seconds) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *a = NULL;
        Listener web = tcp4("127.0.0.1", 8080, 3, 128, 0), idle = tcp4("127.0.0.1", 8081, 0, 128, 0);
        Listener g1 = tcp4("0.0.0.0", 80, 2, 511, 0), g2 = tcp4("0.0.0.0", 80, 4, 511, 0);

        web.cookie = 1;
        idle.cookie = 2;
        g1.cookie = 3;
        g2.cookie = 4;
        m = writer_in(dir, &target);
        metrics_writer_set_all(m, true);
        metrics_begin(m);
        ck_assert_uint_eq(metrics_n_listeners(m), 0);
        ck_assert_int_eq(metrics_add_listener(m, &web, "host", NULL, NULL, -1), 0);
        metrics_set_wait(m, metrics_n_listeners(m) - 1, &web, 4205);
        ck_assert_int_eq(metrics_add_listener(m, &idle, "host", NULL, NULL, -1), 0);
        metrics_set_wait(m, 0, &idle, 99000); /* record 0 is web's: ignored */
        metrics_set_wait(m, 7, &idle, 99000); /* no such record */
        ck_assert_int_eq(metrics_add_listener(m, &g1, "host", NULL, NULL, -1), 0);
        metrics_set_wait(m, metrics_n_listeners(m) - 1, &g1, 1000);
        ck_assert_int_eq(metrics_add_listener(m, &g2, "host", NULL, NULL, -1), 0);
        metrics_set_wait(m, metrics_n_listeners(m) - 1, &g2, 61);
        ck_assert_uint_eq(metrics_n_listeners(m), 4);
        a = render_string(m, 0.01, 1700000000.0);
        ck_assert_ptr_nonnull(strstr(a, "# TYPE backlogd_listen_queue_wait_seconds gauge\n"));
        ck_assert_ptr_nonnull(strstr(a, "\nbacklogd_listen_queue_wait_seconds{address=\"127.0.0.1\",port=\"8080\","
                                        "family=\"inet\",netns=\"host\"} 4.205\n"));
        ck_assert_ptr_nonnull(strstr(a, "\nbacklogd_listen_queue_wait_seconds{address=\"0.0.0.0\",port=\"80\","
                                        "family=\"inet\",netns=\"host\"} 1.000\n"));
        ck_assert_ptr_null(strstr(a, "backlogd_listen_queue_wait_seconds{address=\"127.0.0.1\",port=\"8081\""));
        /* no stall: no such family */
        ck_assert_ptr_null(strstr(a, "backlogd_listen_queue_stalled_seconds"));
        free(a);

        /* stalled listeners: their gauge, a group's largest */
        metrics_begin(m);
        ck_assert_int_eq(metrics_add_listener(m, &web, "host", NULL, NULL, -1), 0);
        metrics_set_stalled(m, metrics_n_listeners(m) - 1, &web, 12);
        ck_assert_int_eq(metrics_add_listener(m, &idle, "host", NULL, NULL, -1), 0);
        metrics_set_stalled(m, 0, &idle, 99); /* record 0 is web's: ignored */
        ck_assert_int_eq(metrics_add_listener(m, &g1, "host", NULL, NULL, -1), 0);
        metrics_set_stalled(m, metrics_n_listeners(m) - 1, &g1, 30);
        ck_assert_int_eq(metrics_add_listener(m, &g2, "host", NULL, NULL, -1), 0);
        metrics_set_stalled(m, metrics_n_listeners(m) - 1, &g2, 31);
        a = render_string(m, 0.01, 1700000001.0);
        ck_assert_ptr_nonnull(strstr(a, "# TYPE backlogd_listen_queue_stalled_seconds gauge\n"));
        ck_assert_ptr_nonnull(strstr(a, "\nbacklogd_listen_queue_stalled_seconds{address=\"127.0.0.1\",port=\"8080\","
                                        "family=\"inet\",netns=\"host\"} 12\n"));
        ck_assert_ptr_nonnull(strstr(a, "\nbacklogd_listen_queue_stalled_seconds{address=\"0.0.0.0\",port=\"80\","
                                        "family=\"inet\",netns=\"host\"} 31\n"));
        ck_assert_ptr_null(strstr(a, "backlogd_listen_queue_stalled_seconds{address=\"127.0.0.1\",port=\"8081\""));
        rmdir(dir);
}
END_TEST

/* A dump is not a snapshot: the same socket (netns, cookie) seen twice in one
 * poll is one listener, the later sighting, not two summed; an SO_REUSEPORT
 * group (different sockets, same labels) is still summed, and the same
 * cookie in another namespace is another socket. */
START_TEST(test_duplicate_sighting) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *a = NULL, *b = NULL, *sa = NULL, *sb = NULL;
        Listener web = tcp4("127.0.0.1", 8080, 3, 128, 7), stale;
        Listener g1 = tcp4("0.0.0.0", 80, 2, 511, 1), g2 = tcp4("0.0.0.0", 80, 4, 511, 5);
        Listener other = tcp4("127.0.0.1", 8080, 1, 64, 0);
        static const char want[] =
                "backlogd_listen_queue_depth{address=\"0.0.0.0\",port=\"80\",family=\"inet\",netns=\"blue\","
                "name=\"http\",unit=\"nginx.service\"} 6\n"
                "backlogd_listen_queue_depth{address=\"127.0.0.1\",port=\"8080\",family=\"inet\",netns=\"blue\","
                "name=\"web\",unit=\"web.service\"} 3\n"
                "backlogd_listen_queue_depth{address=\"127.0.0.1\",port=\"8080\",family=\"inet\",netns=\"red\","
                "name=\"web\"} 1\n"
                "backlogd_listen_queue_backlog{address=\"0.0.0.0\",port=\"80\",family=\"inet\",netns=\"blue\","
                "name=\"http\",unit=\"nginx.service\"} 1022\n"
                "backlogd_listen_queue_backlog{address=\"127.0.0.1\",port=\"8080\",family=\"inet\",netns=\"blue\","
                "name=\"web\",unit=\"web.service\"} 128\n"
                "backlogd_listen_queue_backlog{address=\"127.0.0.1\",port=\"8080\",family=\"inet\",netns=\"red\","
                "name=\"web\"} 64\n"
                "backlogd_listen_drops_total{address=\"0.0.0.0\",port=\"80\",family=\"inet\",netns=\"blue\","
                "name=\"http\",unit=\"nginx.service\"} 6\n"
                "backlogd_listen_drops_total{address=\"127.0.0.1\",port=\"8080\",family=\"inet\",netns=\"blue\","
                "name=\"web\",unit=\"web.service\"} 7\n"
                "backlogd_listen_drops_total{address=\"127.0.0.1\",port=\"8080\",family=\"inet\",netns=\"red\","
                "name=\"web\"} 0\n"
                "backlogd_syn_queue_depth{address=\"127.0.0.1\",port=\"8080\",family=\"inet\",netns=\"blue\","
                "name=\"web\",unit=\"web.service\"} 2\n"
                "backlogd_poll_seconds 0.001000\n"
                "backlogd_last_poll_timestamp_seconds 1700000000.000\n";

        web.netns = g1.netns = g2.netns = 4026532001;
        web.cookie = 0x1001;
        g1.cookie = 0x2001;
        g2.cookie = 0x2002;
        other.netns = 4026532002;
        other.cookie = web.cookie; /* before Linux 5.12 cookies count per namespace */

        m = writer_in(dir, &target);
        metrics_begin(m);
        ck_assert_int_eq(metrics_add_listener(m, &web, "blue", "web", "web.service", 2), 0);
        ck_assert_int_eq(metrics_add_listener(m, &g1, "blue", "http", "nginx.service", -1), 0);
        ck_assert_int_eq(metrics_add_listener(m, &other, "red", "web", NULL, -1), 0);
        ck_assert_int_eq(metrics_add_listener(m, &g2, "blue", "http", "nginx.service", -1), 0);
        ck_assert_int_eq(metrics_add_listener(m, &web, "blue", "web", "web.service", 2), 0);
        a = render_string(m, 0.001, 1700000000);
        sa = sample_lines(a);
        ck_assert_str_eq(sa, want);

        /* the sightings differ: the later one is kept, wherever it lands */
        stale = web;
        stale.depth = 1;
        stale.drops = 6;
        metrics_begin(m);
        ck_assert_int_eq(metrics_add_listener(m, &g2, "blue", "http", "nginx.service", -1), 0);
        ck_assert_int_eq(metrics_add_listener(m, &stale, "blue", "web", "web.service", 5), 0);
        ck_assert_int_eq(metrics_add_listener(m, &other, "red", "web", NULL, -1), 0);
        ck_assert_int_eq(metrics_add_listener(m, &g1, "blue", "http", "nginx.service", -1), 0);
        ck_assert_int_eq(metrics_add_listener(m, &web, "blue", "web", "web.service", 2), 0);
        b = render_string(m, 0.001, 1700000000);
        sb = sample_lines(b);
        ck_assert_str_eq(sb, want);
        rmdir(dir);
}
END_TEST

START_TEST(test_families_contiguous) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *a = NULL;
        static const char *const order[] = {
                "backlogd_listen_queue_depth",
                "backlogd_listen_queue_backlog",
                "backlogd_listen_drops_total",
                "backlogd_syn_queue_depth",
                "backlogd_tcpext_total",
                "backlogd_poll_seconds",
                "backlogd_last_poll_timestamp_seconds",
        };
        size_t fam = 0, samples[ELEMENTSOF(order)] = { 0 };

        m = writer_in(dir, &target);
        add_fixed(m, NULL);
        a = render_string(m, 1, 2);
        for (char *line = strtok(a, "\n"); line; line = strtok(NULL, "\n")) {
                size_t len;

                if (strncmp(line, "# HELP ", 7) == 0) {
                        len = strlen(order[fam]);
                        if (!(strncmp(line + 7, order[fam], len) == 0 && line[7 + len] == ' ')) {
                                fam++;
                                ck_assert_uint_lt(fam, ELEMENTSOF(order));
                        }
                        len = strlen(order[fam]);
                        ck_assert_msg(strncmp(line + 7, order[fam], len) == 0 && line[7 + len] == ' ',
                                      "unexpected family: %s", line);
                        ck_assert_uint_eq(samples[fam], 0);
                        continue;
                }
                if (line[0] == '#')
                        continue;
                len = strlen(order[fam]);
                ck_assert_msg(strncmp(line, order[fam], len) == 0 && (line[len] == '{' || line[len] == ' '),
                              "sample outside its family %s: %s", order[fam], line);
                samples[fam]++;
        }
        ck_assert_uint_eq(fam, ELEMENTSOF(order) - 1);
        /* 12 listeners, the SO_REUSEPORT pair merged: 11 series */
        ck_assert_uint_eq(samples[0], 11);
        ck_assert_uint_eq(samples[1], 11);
        ck_assert_uint_eq(samples[2], 9);  /* 2 without a drop count */
        ck_assert_uint_eq(samples[3], 4);  /* SYN depth known for 4 series */
        ck_assert_uint_eq(samples[4], 12); /* 10 in host, 2 in blue */
        ck_assert_uint_eq(samples[5], 1);
        ck_assert_uint_eq(samples[6], 1);
        rmdir(dir);
}
END_TEST

START_TEST(test_promtool) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *golden = fixture("listeners.prom"),
                              *empty = fixture("empty.prom");
        ErrBuf err = { 0 };

        ck_assert_int_eq(promtool_check(golden), 0);
        ck_assert_int_eq(promtool_check(empty), 0);

        m = writer_in(dir, &target);
        add_fixed(m, NULL);
        ck_assert_int_gt(metrics_commit(m, 0.5, 1700000001, &err), 0);
        ck_assert_int_eq(promtool_check(target), 0);

        /* and promtool does catch a broken file: the test can fail */
        write_text(target, "backlogd_x{a=\"b} 1\n");
        ck_assert_int_ne(promtool_check(target), 0);
        unlink(target);
        rmdir(dir);
}
END_TEST

START_TEST(test_commit_mode_and_content) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *a = NULL, *file = NULL;
        ErrBuf err = { 0 };
        struct stat st;
        int n;

        umask(0077); /* as the service runs */
        m = writer_in(dir, &target);
        add_fixed(m, NULL);
        n = metrics_commit(m, 0.0125, 1700000000.25, &err);
        ck_assert_msg(n > 0, "%d %s", n, err.text);
        ck_assert_int_eq(lstat(target, &st), 0);
        ck_assert_msg(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644, "mode %o", (unsigned) st.st_mode);
        ck_assert_int_eq(st.st_size, n);
        file = read_file(target, NULL);
        a = render_string(m, 0.0125, 1700000000.25);
        ck_assert_str_eq(file, a);
        ck_assert_int_eq(count_entries(dir), 1); /* no temporary file left */

        /* a second commit replaces it */
        metrics_begin(m);
        ck_assert_int_gt(metrics_commit(m, 0, 5, &err), 0);
        assert_committed(target, "5.000");
        free(file);
        file = read_file(target, NULL);
        ck_assert_ptr_null(strstr(file, "backlogd_listen_queue_depth"));
        ck_assert_int_eq(count_entries(dir), 1);
        unlink(target);
        rmdir(dir);
}
END_TEST

START_TEST(test_new_errors) {
        _cleanup_(freep) char *dir = make_dir(), *file = path_in(dir, "plain"), *p = NULL, *want = NULL;
        _cleanup_(metrics_writer_freep) MetricsWriter *ok = NULL;
        MetricsWriter *m = NULL;
        ErrBuf err = { 0 };
        char longname[256];

        ck_assert_int_eq(metrics_writer_new("", &m, &err), -EINVAL);
        ck_assert_int_eq(metrics_writer_new("/tmp/backlogd.txt", &m, &err), -EINVAL);
        ck_assert_str_eq(err.text, "/tmp/backlogd.txt: the name must end in \".prom\": "
                                   "node_exporter's textfile collector reads nothing else");
        ck_assert_int_eq(metrics_writer_new("/tmp/", &m, &err), -EINVAL);
        ck_assert_int_eq(metrics_writer_new("/tmp/.prom", &m, &err), -EINVAL);
        ck_assert_int_eq(metrics_writer_new("backlogd.prom", &m, &err), -EINVAL);
        ck_assert_str_eq(err.text, "backlogd.prom: not an absolute path");
        /* the temporary names must fit in NAME_MAX too */
        memset(longname, 'x', sizeof(longname));
        snprintf(longname + 240, sizeof(longname) - 240, ".prom");
        ck_assert_int_ge(asprintf(&p, "/tmp/%s", longname), 0);
        ck_assert_int_eq(metrics_writer_new(p, &m, &err), -ENAMETOOLONG);
        ck_assert_ptr_null(m);

        /* A directory that does not exist, or is a file, is not the
         * writer's business but the commit's (see test_dir_appears). */
        ck_assert_int_eq(metrics_writer_new("/nonexistent-backlogd/x.prom", &ok, &err), 0);
        ok = metrics_writer_free(ok);
        write_text(file, "x");
        free(p);
        ck_assert_int_ge(asprintf(&p, "%s/x.prom", file), 0);
        ck_assert_int_eq(metrics_writer_new(p, &ok, &err), 0);
        metrics_begin(ok);
        ck_assert_int_eq(metrics_commit(ok, 0, 1, &err), -ENOTDIR);
        ck_assert_int_ge(asprintf(&want, "%s: directory %s: Not a directory", p, file), 0);
        ck_assert_str_eq(err.text, want);
        ck_assert_int_eq(count_entries(dir), 1);
        unlink(file);
        rmdir(dir);
}
END_TEST

/* The directory is missing when the writer is made: commits fail with
 * ENOENT and leave nothing anywhere, the first commit after it is created
 * succeeds, and it may go and come back. */
START_TEST(test_dir_appears) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *sub = path_in(dir, "sub"), *target = path_in(sub, "backlogd.prom"),
                              *want = NULL;
        ErrBuf err = { 0 };
        struct stat st;

        ck_assert_int_eq(metrics_writer_new(target, &m, &err), 0);
        metrics_begin(m);
        ck_assert_int_eq(metrics_commit(m, 0, 1, &err), -ENOENT);
        ck_assert_int_ge(asprintf(&want, "%s: directory %s: No such file or directory", target, sub), 0);
        ck_assert_str_eq(err.text, want);
        ck_assert_int_eq(count_entries(dir), 0);

        ck_assert_int_eq(mkdir(sub, 0755), 0);
        ck_assert_int_gt(metrics_commit(m, 0, 2, &err), 0);
        assert_committed(target, "2.000");
        ck_assert_int_eq(lstat(target, &st), 0);
        ck_assert_msg(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644, "mode %o", (unsigned) st.st_mode);
        ck_assert_int_eq(count_entries(sub), 1);

        ck_assert_int_eq(unlink(target), 0);
        ck_assert_int_eq(rmdir(sub), 0);
        ck_assert_int_eq(metrics_commit(m, 0, 3, &err), -ENOENT);
        ck_assert_str_eq(err.text, want);
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        ck_assert_int_gt(metrics_commit(m, 0, 4, &err), 0);
        assert_committed(target, "4.000");
        ck_assert_int_eq(count_entries(sub), 1);
        unlink(target);
        rmdir(sub);
        rmdir(dir);
}
END_TEST

/* plant(dir, name, victim): a symlink to victim at dir/name. */
static void plant(const char *dir, const char *name, const char *victim) {
        _cleanup_(freep) char *p = path_in(dir, name);

        ck_assert_msg(symlink(victim, p) == 0, "symlink %s: %s", p, strerror(errno));
}

/* Symlinks planted at every name the old scheme used (".NAME.<PID>.tmp",
 * for this process and its neighbours), at mkostemps()'s template and at
 * random names of the new form never block a commit, and nothing is
 * followed: the victim keeps its content, the links stay as they were. */
START_TEST(test_planted_names_never_block) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *vdir = make_dir(), *victim = path_in(vdir, "victim"),
                              *text = NULL;
        ErrBuf err = { 0 };
        char name[64], stamp[16];
        struct stat st;
        int planted = 0, r;
        pid_t pid = getpid();

        write_text(victim, "precious\n");
        m = writer_in(dir, &target);
        for (long p = (long) pid - 64; p <= (long) pid + 64; p++) {
                if (p <= 0)
                        continue;
                snprintf(name, sizeof(name), ".backlogd.prom.%ld.tmp", p);
                plant(dir, name, victim);
                planted++;
        }
        if ((long) getppid() < (long) pid - 64 || (long) getppid() > (long) pid + 64) {
                snprintf(name, sizeof(name), ".backlogd.prom.%ld.tmp", (long) getppid());
                plant(dir, name, victim);
                planted++;
        }
        plant(dir, ".backlogd.prom.XXXXXX.tmp", victim);
        planted++;
        srand((unsigned) pid);
        for (int i = 0; i < 256; i++) {
                snprintf(name, sizeof(name), ".backlogd.prom.%08x%08x.tmp", (unsigned) rand(), (unsigned) rand());
                plant(dir, name, victim);
                planted++;
        }
        /* a dangling one too */
        plant(dir, ".backlogd.prom.0.tmp", "/nonexistent-backlogd-victim");
        planted++;

        for (int k = 1; k <= 20; k++) {
                metrics_begin(m);
                vary(m, k);
                r = metrics_commit(m, 0, k, &err);
                ck_assert_msg(r > 0, "commit %d: %d %s", k, r, err.text);
                snprintf(stamp, sizeof(stamp), "%d.000", k);
                assert_committed(target, stamp);
        }
        ck_assert_int_eq(lstat(target, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        text = read_file(victim, NULL);
        ck_assert_str_eq(text, "precious\n");
        ck_assert_int_eq(lstat(victim, &st), 0);
        ck_assert_int_eq(st.st_nlink, 1);
        ck_assert_int_eq(lstat("/nonexistent-backlogd-victim", &st), -1);
        /* the target and the links, nothing else */
        ck_assert_int_eq(count_entries(dir), planted + 1);
        {
                _cleanup_(freep) char *cmd = NULL;

                ck_assert_int_ge(asprintf(&cmd, "rm -rf -- '%s' '%s'", dir, vdir), 0);
                ck_assert_int_eq(system(cmd), 0);
        }
}
END_TEST

/* Without /proc (a tmpfs over it, in a private mount namespace) the
 * O_TMPFILE cannot be linked, and the commit takes the named way, which
 * file systems without O_TMPFILE take too: same result, a planted symlink at
 * the old name is not followed, the mode is 0644, nothing is left. Root. */
START_TEST(test_named_fallback) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *victim = NULL, *text = NULL;
        ErrBuf err = { 0 };
        char name[64];
        int status;
        pid_t pid;

        m = writer_in(dir, &target);
        add_fixed(m, NULL);
        victim = path_in(dir, "victim");
        write_text(victim, "precious\n");
        snprintf(name, sizeof(name), ".backlogd.prom.%ld.tmp", (long) getpid());
        plant(dir, name, victim);
        plant(dir, ".backlogd.prom.XXXXXX.tmp", victim);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct stat st;

                umask(0077);
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("tmpfs", "/proc", "tmpfs", 0, NULL) < 0)
                        _exit(99);
                if (stat("/proc/self/fd", &st) == 0)
                        _exit(98);
                for (int k = 1; k <= 5; k++) {
                        vary(m, k);
                        if (metrics_commit(m, 0, k, &err) <= 0) {
                                fprintf(stderr, "commit %d: %s\n", k, err.text);
                                _exit(k);
                        }
                }
                _exit(0);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
        assert_committed(target, "5.000");
        {
                struct stat st;

                ck_assert_int_eq(lstat(target, &st), 0);
                ck_assert_msg(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644, "mode %o", (unsigned) st.st_mode);
        }
        text = read_file(victim, NULL);
        ck_assert_str_eq(text, "precious\n");
        ck_assert_int_eq(count_entries(dir), 4); /* target, victim, two links */
        {
                _cleanup_(freep) char *cmd = NULL;

                ck_assert_int_ge(asprintf(&cmd, "rm -rf -- '%s'", dir), 0);
                ck_assert_int_eq(system(cmd), 0);
        }
}
END_TEST

/* Failed commits leave nothing behind: not when the temporary file cannot
 * be written (a file size limit), not when the rename fails (a directory at
 * the target). */
START_TEST(test_failed_commit_leaves_nothing) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL;
        ErrBuf err = { 0 };
        int status;
        pid_t pid;

        m = writer_in(dir, &target);
        add_fixed(m, NULL);
        ck_assert_int_gt(metrics_commit(m, 0, 1, &err), 0);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct rlimit rl = { 16, 16 };

                signal(SIGXFSZ, SIG_IGN);
                if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
                        _exit(99);
                vary(m, 2);
                if (metrics_commit(m, 0, 2, &err) != -EFBIG)
                        _exit(1);
                _exit(strstr(err.text, ": write to the temporary file: File too large") ? 0 : 2);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
        assert_committed(target, "1.000");
        ck_assert_int_eq(count_entries(dir), 1);

        ck_assert_int_eq(unlink(target), 0);
        ck_assert_int_eq(mkdir(target, 0755), 0);
        vary(m, 3);
        ck_assert_int_eq(metrics_commit(m, 0, 3, &err), -EISDIR);
        ck_assert_msg(strstr(err.text, ": Is a directory"), "%s", err.text);
        ck_assert_int_eq(count_entries(dir), 1);
        ck_assert_int_eq(rmdir(target), 0);
        vary(m, 4);
        ck_assert_int_gt(metrics_commit(m, 0, 4, &err), 0);
        assert_committed(target, "4.000");
        ck_assert_int_eq(count_entries(dir), 1);
        unlink(target);
        rmdir(dir);
}
END_TEST

/* A symlink at the target is replaced, not written through. */
START_TEST(test_target_symlink_replaced) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *victim = NULL, *text = NULL;
        ErrBuf err = { 0 };
        struct stat st;

        m = writer_in(dir, &target);
        victim = path_in(dir, "victim");
        write_text(victim, "precious\n");
        ck_assert_int_eq(symlink(victim, target), 0);
        metrics_begin(m);
        ck_assert_int_gt(metrics_commit(m, 0, 1, &err), 0);
        ck_assert_int_eq(lstat(target, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        text = read_file(victim, NULL);
        ck_assert_str_eq(text, "precious\n");
        unlink(victim);
        unlink(target);
        rmdir(dir);
}
END_TEST

/* An unwritable directory: a clear error, the old file stays, nothing left.
 * Root ignores modes, so the commit runs in a child that became nobody. */
START_TEST(test_unwritable_dir) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *want = NULL;
        ErrBuf err = { 0 };
        int r, status;
        pid_t pid;

        m = writer_in(dir, &target);
        metrics_begin(m);
        ck_assert_int_gt(metrics_commit(m, 0, 1, &err), 0);
        ck_assert_int_eq(chmod(dir, 0555), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (geteuid() == 0 && (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0))
                        _exit(99);
                r = metrics_commit(m, 0, 2, &err);
                if (r != -EACCES)
                        _exit(1);
                if (asprintf(&want, "%s: cannot create a temporary file in %s: Permission denied", target, dir) < 0 ||
                    strcmp(err.text, want) != 0) {
                        fprintf(stderr, "unexpected reason: %s\n", err.text);
                        _exit(2);
                }
                _exit(0);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_int_eq(chmod(dir, 0755), 0);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
        assert_committed(target, "1.000");
        ck_assert_int_eq(count_entries(dir), 1);
        unlink(target);
        rmdir(dir);
}
END_TEST

/* The target is never seen partially written: a reader in a child process
 * checks every read while the parent commits 1,000 times. Commit k writes
 * 200 + k % 37 listeners and timestamp k, so a mix of two files or a short
 * read shows as a wrong count. */
#define ATOMIC_COMMITS 1000

static int reader_check(const char *text, size_t len, long *ret_k) {
        const char *last, *p;
        long k, n = 0;

        if (len < 10 || strncmp(text, "# HELP ", 7) != 0 || text[len - 1] != '\n')
                return 1;
        last = text + len - 1;
        while (last > text && last[-1] != '\n')
                last--;
        if (sscanf(last, "backlogd_last_poll_timestamp_seconds %ld.000\n", &k) != 1)
                return 2;
        for (p = text; (p = strstr(p, "\nbacklogd_listen_queue_depth{")); p++)
                n++;
        if (n != 200 + k % 37)
                return 3;
        *ret_k = k;
        return 0;
}

static void atomic_reader(const char *target, int ready_fd, int result_fd) {
        static char buf[1 << 20];
        long reads = 0, changes = 0, prev = -1, k = -1;
        struct timespec t0, t;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        (void) !write(ready_fd, "r", 1);
        for (;;) {
                int fd = open(target, O_RDONLY | O_CLOEXEC);
                size_t len = 0;
                ssize_t n;
                int bad;

                if (fd < 0) {
                        fprintf(stderr, "reader: open: %s\n", strerror(errno));
                        _exit(10);
                }
                while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
                        len += (size_t) n;
                close(fd);
                buf[len] = 0;
                bad = reader_check(buf, len, &k);
                if (bad) {
                        fprintf(stderr, "reader: bad file (check %d, %zu bytes) after %ld reads\n", bad, len, reads);
                        _exit(10 + bad);
                }
                reads++;
                if (k != prev)
                        changes++;
                prev = k;
                if (k == ATOMIC_COMMITS)
                        break;
                clock_gettime(CLOCK_MONOTONIC, &t);
                if (t.tv_sec - t0.tv_sec > 60 || reads > 10000000)
                        _exit(20);
        }
        long res[2] = { reads, changes };
        (void) !write(result_fd, res, sizeof(res));
        _exit(0);
}

START_TEST(test_atomic_replace) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL;
        int ready[2], result[2], status;
        long res[2] = { 0 };
        ErrBuf err = { 0 };
        char c;
        pid_t pid;

        m = writer_in(dir, &target);
        for (long k = 0; k <= ATOMIC_COMMITS; k++) {
                metrics_begin(m);
                for (int i = 0; i < 200 + k % 37; i++) {
                        Listener l = tcp4("127.0.0.1", (uint16_t) (1000 + i), (uint32_t) k, 128, i);

                        ck_assert_int_eq(metrics_add_listener(m, &l, "host", "svc", "svc.service", i), 0);
                }
                ck_assert_int_gt(metrics_commit(m, 0.001, (double) k, &err), 0);
                if (k == 0) {
                        ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
                        ck_assert_int_eq(pipe2(result, O_CLOEXEC), 0);
                        pid = fork();
                        ck_assert_int_ge(pid, 0);
                        if (pid == 0)
                                atomic_reader(target, ready[1], result[1]);
                        ck_assert_int_eq(read(ready[0], &c, 1), 1);
                }
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader failed: status %d", status);
        ck_assert_int_eq(read(result[0], res, sizeof(res)), (ssize_t) sizeof(res));
        fprintf(stderr, "atomic replace: %ld reads, %ld distinct files seen\n", res[0], res[1]);
        /* the reader really ran alongside the commits */
        ck_assert_int_ge(res[0], 10);
        ck_assert_int_ge(res[1], 2);
        ck_assert_int_eq(count_entries(dir), 1);
        unlink(target);
        rmdir(dir);
}
END_TEST

/* Once grown, a poll (begin, adds, counters, commit) allocates nothing; the
 * text buffers take two commits to grow (the one written is kept). */
START_TEST(test_no_alloc_steady_state) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL;
        NetstatCounters host, blue;
        ErrBuf err = { 0 };
        Fixed f[32];
        size_t n, before, after;
        int failures = 0;

        m = writer_in(dir, &target);
        fixed_set(f, &n);
        fixed_counters(&host, &blue);
        for (int round = 0; round < 101; round++) {
                if (round == 2)
                        before = n_allocs;
                metrics_begin(m);
                for (int rep = 0; rep < 50; rep++)
                        for (size_t i = 0; i < n; i++) {
                                Listener l = f[i].l;

                                l.port = (uint16_t) (l.port + rep);
                                l.depth = (uint32_t) round;
                                failures +=
                                        metrics_add_listener(m, &l, f[i].netns, f[i].name, f[i].unit, f[i].syn) != 0;
                        }
                failures += metrics_set_counters(m, "host", &host) != 0;
                failures += metrics_set_counters(m, "blue", &blue) != 0;
                failures += metrics_commit(m, 0.001 * round, 1700000000.0 + round, &err) <= 0;
        }
        after = n_allocs;
        ck_assert_int_eq(failures, 0);
        if (alloc_counting())
                ck_assert_uint_eq(after - before, 0);
        unlink(target);
        rmdir(dir);
}
END_TEST

/* 10,000 listeners: exact sample counts, and the figures for the README. */
START_TEST(test_scale_10k) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *text = NULL;
        enum { N_LISTENERS = 10000, ROUNDS = 20, N_UNITS = 500 };
        static char names[N_UNITS][32], units[N_UNITS][32];
        NetstatCounters host;
        struct timespec t0, t1;
        ErrBuf err = { 0 };
        double add_us = 0, commit_us = 0;
        size_t len, lines = 0;
        int bytes = 0;

        static Listener ls[N_LISTENERS];
        int failures = 0;

        for (int i = 0; i < N_UNITS; i++) {
                snprintf(names[i], sizeof(names[i]), "service-%d", i);
                snprintf(units[i], sizeof(units[i]), "service-%d.service", i);
        }
        /* built before timing: check's assertions cost a syscall each */
        for (int i = 0; i < N_LISTENERS; i++) {
                Listener *l = &ls[i];

                *l = (i % 2) ? tcp6("fd00::1", 0, 0, 4096, 0) : tcp4("10.0.0.1", 0, 0, 4096, 0);
                l->addr[l->family == AF_INET ? 3 : 15] = (uint8_t) (i / 7000 + 1);
                l->port = (uint16_t) (1024 + i);
                l->depth = (uint32_t) (i % 100);
                l->drops = (uint32_t) (i * 3);
        }
        fixed_counters(&host, &(NetstatCounters){ 0 });
        m = writer_in(dir, &target);
        for (int round = 0; round <= ROUNDS; round++) {
                clock_gettime(CLOCK_MONOTONIC, &t0);
                metrics_begin(m);
                for (int i = 0; i < N_LISTENERS; i++)
                        failures += metrics_add_listener(m, &ls[i], "host", names[i % N_UNITS], units[i % N_UNITS],
                                                         i % 10) != 0;
                host.value[0] = (uint64_t) round; /* a change: each commit writes */
                failures += metrics_set_counters(m, "host", &host) != 0;
                clock_gettime(CLOCK_MONOTONIC, &t1);
                if (round > 0)
                        add_us += (double) (t1.tv_sec - t0.tv_sec) * 1e6 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e3;
                bytes = metrics_commit(m, 0.01, 1700000000.0 + round, &err);
                clock_gettime(CLOCK_MONOTONIC, &t0);
                failures += bytes <= 0;
                if (round > 0)
                        commit_us += (double) (t0.tv_sec - t1.tv_sec) * 1e6 + (double) (t0.tv_nsec - t1.tv_nsec) / 1e3;
        }
        ck_assert_msg(failures == 0, "%d failures, last: %s", failures, err.text);
        text = read_file(target, &len);
        ck_assert_uint_eq(len, (size_t) bytes);
        for (size_t i = 0; i < len; i++)
                lines += text[i] == '\n';
        /* 4 families x 10,000 samples, 10 counters, 2 poll gauges, 7 x 2 headers */
        ck_assert_uint_eq(lines, 4 * N_LISTENERS + 10 + 2 + 7 * 2);
        fprintf(stderr,
                "10,000 listeners: %d bytes per commit, %.0f us per commit (render + write + rename), "
                "%.0f us for begin + 10,000 adds\n",
                bytes, commit_us / ROUNDS, add_us / ROUNDS);
        /* a generous bound: a poll every second must not spend it here */
        ck_assert_double_lt(commit_us / ROUNDS, 500000);
        unlink(target);
        rmdir(dir);
}
END_TEST

/* The same samples are not written again, whatever the poll's time and
 * duration: the file keeps its inode and text, only its mtime moves (for
 * node_textfile_mtime_seconds). A changed sample, a file removed or
 * replaced by someone else is written again. */
START_TEST(test_unchanged_not_rewritten) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *first = NULL, *again = NULL;
        struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
        ErrBuf err = { 0 };
        struct stat st0, st;

        m = writer_in(dir, &target);
        add_fixed(m, NULL);
        ck_assert_int_gt(metrics_commit(m, 0.5, 1700000001, &err), 0);
        ck_assert_int_eq(stat(target, &st0), 0);
        first = read_file(target, NULL);
        ck_assert_int_eq(utimensat(AT_FDCWD, target, old, 0), 0);
        for (int k = 2; k <= 5; k++) {
                add_fixed(m, NULL); /* begins a poll: the same samples again */
                ck_assert_int_eq(metrics_commit(m, 0.1 * k, 1700000000 + k, &err), 0);
        }
        ck_assert_int_eq(stat(target, &st), 0);
        ck_assert_uint_eq(st.st_ino, st0.st_ino);
        ck_assert_int_gt(st.st_mtim.tv_sec, 1000000000);
        again = read_file(target, NULL);
        ck_assert_str_eq(again, first);
        assert_committed(target, "1700000001.000");
        ck_assert_int_eq(count_entries(dir), 1);

        /* one sample changes: written */
        add_fixed(m, NULL);
        vary(m, 1);
        ck_assert_int_gt(metrics_commit(m, 0.1, 1700000006, &err), 0);
        assert_committed(target, "1700000006.000");
        /* removed: written again, unchanged or not */
        ck_assert_int_eq(unlink(target), 0);
        add_fixed(m, NULL);
        vary(m, 1);
        ck_assert_int_gt(metrics_commit(m, 0.1, 1700000007, &err), 0);
        assert_committed(target, "1700000007.000");
        /* replaced by another file: written again */
        write_text(target, "something else\n");
        add_fixed(m, NULL);
        vary(m, 1);
        ck_assert_int_gt(metrics_commit(m, 0.1, 1700000008, &err), 0);
        assert_committed(target, "1700000008.000");
        unlink(target);
        rmdir(dir);
}
END_TEST

static Listener followed(uint16_t port, uint64_t cookie, uint32_t depth, int64_t drops) {
        Listener l = tcp4("127.0.0.1", port, depth, 128, drops);

        l.netns = 7;
        l.cookie = cookie;
        return l;
}

static bool has_port(const char *text, uint16_t port) {
        char want[96];

        snprintf(want, sizeof(want), "backlogd_listen_queue_depth{address=\"127.0.0.1\",port=\"%u\",", port);
        return strstr(text, want) != NULL;
}

/* Without set_all, a listener gets series once it has been non-empty (or
 * dropped, or had a SYN queue), in a full poll or noted in between, and
 * keeps them while it lives; an idle one gets none; one that is gone is
 * forgotten after two full polls. An SO_REUSEPORT member that is idle is
 * still summed into its group's series. */
START_TEST(test_active_listeners_only) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL;
        Listener idle = followed(1001, 1, 0, 0), busy = followed(1002, 2, 3, 0), dropped = followed(1003, 3, 0, 2),
                 later = followed(1004, 4, 0, 0), syn = followed(1005, 5, 0, 0), g1 = followed(1006, 6, 0, 0),
                 g2 = followed(1006, 7, 1, 0), nodrops = followed(1007, 8, 0, -1);
        char *a;

        m = writer_in(dir, &target);
        metrics_writer_set_all(m, false);
        metrics_begin(m);
        ck_assert_int_eq(metrics_add_listener(m, &idle, "host", NULL, NULL, 0), 0);
        ck_assert_int_eq(metrics_add_listener(m, &busy, "host", NULL, NULL, 0), 0);
        ck_assert_int_eq(metrics_add_listener(m, &dropped, "host", NULL, NULL, -1), 0);
        ck_assert_int_eq(metrics_add_listener(m, &later, "host", NULL, NULL, 0), 0);
        ck_assert_int_eq(metrics_add_listener(m, &syn, "host", NULL, NULL, 4), 0);
        ck_assert_int_eq(metrics_add_listener(m, &g1, "host", NULL, NULL, -1), 0);
        ck_assert_int_eq(metrics_add_listener(m, &g2, "host", NULL, NULL, -1), 0);
        ck_assert_int_eq(metrics_add_listener(m, &nodrops, "host", NULL, NULL, -1), 0);
        a = render_string(m, 0, 0);
        ck_assert(!has_port(a, 1001));
        ck_assert(has_port(a, 1002));
        ck_assert(has_port(a, 1003));
        ck_assert(!has_port(a, 1004));
        ck_assert(has_port(a, 1005));
        ck_assert(!has_port(a, 1007));
        /* the group: both members, backlog 128 + 128 */
        ck_assert_ptr_nonnull(strstr(a, "backlogd_listen_queue_backlog{address=\"127.0.0.1\",port=\"1006\","
                                        "family=\"inet\",netns=\"host\"} 256\n"));
        ck_assert_uint_eq(metrics_n_followed(m), 4);
        free(a);

        /* between full polls: later's queue fills and empties again */
        later.depth = 1;
        ck_assert_int_eq(metrics_note_listener(m, &idle, -1), 0);
        ck_assert_int_eq(metrics_note_listener(m, &later, -1), 0);
        later.depth = 0;
        busy.depth = 0;
        g2.depth = 0;
        metrics_begin(m);
        ck_assert_int_eq(metrics_add_listener(m, &idle, "host", NULL, NULL, 0), 0);
        ck_assert_int_eq(metrics_add_listener(m, &busy, "host", NULL, NULL, 0), 0);
        ck_assert_int_eq(metrics_add_listener(m, &later, "host", NULL, NULL, 0), 0);
        ck_assert_int_eq(metrics_add_listener(m, &g1, "host", NULL, NULL, 0), 0);
        ck_assert_int_eq(metrics_add_listener(m, &g2, "host", NULL, NULL, 0), 0);
        a = render_string(m, 0, 0);
        ck_assert(!has_port(a, 1001));
        ck_assert_ptr_nonnull(strstr(a, "backlogd_listen_queue_depth{address=\"127.0.0.1\",port=\"1002\","
                                        "family=\"inet\",netns=\"host\"} 0\n"));
        ck_assert(has_port(a, 1004));
        ck_assert(has_port(a, 1006));
        ck_assert_uint_eq(metrics_n_followed(m), 5);
        free(a);

        /* dropped (1003) and syn (1005) closed: forgotten after two full
         * polls without them */
        for (int k = 0; k < 3; k++) {
                metrics_begin(m);
                ck_assert_int_eq(metrics_add_listener(m, &busy, "host", NULL, NULL, 0), 0);
                ck_assert_int_eq(metrics_add_listener(m, &later, "host", NULL, NULL, 0), 0);
                ck_assert_int_eq(metrics_add_listener(m, &g1, "host", NULL, NULL, 0), 0);
                ck_assert_int_eq(metrics_add_listener(m, &g2, "host", NULL, NULL, 0), 0);
        }
        metrics_begin(m);
        ck_assert_uint_eq(metrics_n_followed(m), 3);
        /* the same socket back, idle (cookies are never reused): no series */
        ck_assert_int_eq(metrics_add_listener(m, &syn, "host", NULL, NULL, 0), 0);
        a = render_string(m, 0, 0);
        ck_assert(!has_port(a, 1005));
        free(a);

        /* a namespace that could not be dumped keeps its sockets */
        for (int k = 0; k < 4; k++) {
                metrics_begin(m);
                metrics_keep_netns(m, 7);
        }
        ck_assert_uint_eq(metrics_n_followed(m), 3);
        unlink(target);
        rmdir(dir);
}
END_TEST

/* set_all: every listener added, idle or not. */
START_TEST(test_all_listeners) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *a = NULL;

        m = writer_in(dir, &target);
        metrics_writer_set_all(m, true);
        metrics_begin(m);
        for (uint16_t p = 2000; p < 2010; p++) {
                Listener l = followed(p, p, 0, 0);

                ck_assert_int_eq(metrics_add_listener(m, &l, "host", NULL, NULL, 0), 0);
        }
        a = render_string(m, 0, 0);
        for (uint16_t p = 2000; p < 2010; p++)
                ck_assert(has_port(a, p));
        ck_assert_uint_eq(metrics_n_followed(m), 0);
        rmdir(dir);
}
END_TEST

/* Many sockets followed, then most of them closed: the table keeps every
 * live one findable after the deletions (backward shift). */
START_TEST(test_followed_churn) {
        _cleanup_(metrics_writer_freep) MetricsWriter *m = NULL;
        _cleanup_(freep) char *dir = make_dir(), *target = NULL, *a = NULL;
        enum { N = 5000 };

        m = writer_in(dir, &target);
        metrics_writer_set_all(m, false);
        metrics_begin(m);
        for (uint64_t c = 1; c <= N; c++) {
                Listener l = followed((uint16_t) c, c * 0x10001, 1, 0);

                ck_assert_int_eq(metrics_note_listener(m, &l, -1), 0);
        }
        ck_assert_uint_eq(metrics_n_followed(m), N);
        /* every third stays alive, idle */
        for (int k = 0; k < 3; k++) {
                metrics_begin(m);
                for (uint64_t c = 3; c <= N; c += 3) {
                        Listener l = followed((uint16_t) c, c * 0x10001, 0, 0);

                        ck_assert_int_eq(metrics_add_listener(m, &l, "host", NULL, NULL, 0), 0);
                }
        }
        metrics_begin(m);
        ck_assert_uint_eq(metrics_n_followed(m), N / 3);
        for (uint64_t c = 1; c <= N; c++) {
                Listener l = followed((uint16_t) c, c * 0x10001, 0, 0);

                ck_assert_int_eq(metrics_add_listener(m, &l, "host", NULL, NULL, 0), 0);
        }
        a = render_string(m, 0, 0);
        for (uint16_t c = 1; c <= 30; c++)
                ck_assert_msg(has_port(a, c) == (c % 3 == 0), "port %u", c);
        unlink(target);
        rmdir(dir);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("metrics");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_golden);
        tcase_add_test(tc, test_golden_empty);
        tcase_add_test(tc, test_values);
        tcase_add_test(tc, test_wait_seconds);
        tcase_add_test(tc, test_duplicate_sighting);
        tcase_add_test(tc, test_families_contiguous);
        tcase_add_test(tc, test_promtool);
        tcase_add_test(tc, test_commit_mode_and_content);
        tcase_add_test(tc, test_new_errors);
        tcase_add_test(tc, test_dir_appears);
        tcase_add_test(tc, test_planted_names_never_block);
        tcase_add_test(tc, test_failed_commit_leaves_nothing);
        tcase_add_test(tc, test_target_symlink_replaced);
        tcase_add_test(tc, test_unwritable_dir);
        tcase_add_test(tc, test_atomic_replace);
        tcase_add_test(tc, test_no_alloc_steady_state);
        tcase_add_test(tc, test_scale_10k);
        tcase_add_test(tc, test_unchanged_not_rewritten);
        tcase_add_test(tc, test_active_listeners_only);
        tcase_add_test(tc, test_all_listeners);
        tcase_add_test(tc, test_followed_churn);
        suite_add_tcase(s, tc);
        tc = tcase_create_root();
        tcase_add_test(tc, test_named_fallback);
        suite_add_tcase(s, tc);
        return s;
}
