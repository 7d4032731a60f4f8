/* SPDX-License-Identifier: MIT */
/* The daemon's poll against the real kernel in a private network namespace:
 * what it counts, that the steady state allocates nothing, and the loop's
 * cadence. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <syslog.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc-count.h"
#include "check-main.h"
#include "config.h"
#include "cgroup.h"
#include "daemon.h"
#include "monitor.h"
#include "sockets.h"

#define N_LISTENERS 2000
#define BASE_PORT 20000

static void enter_netns(void) {
        struct ifreq ifr = { 0 };
        struct rlimit rl;
        int fd;

        /* 2,000 sockets: more than a login session's soft limit of 1,024. */
        ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
        rl.rlim_cur = rl.rlim_max;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
        ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        strcpy(ifr.ifr_name, "lo");
        ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
        ifr.ifr_flags |= IFF_UP;
        ck_assert_int_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
        close(fd);
}

static int listen_on(int family, uint16_t port, int backlog) {
        struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
                                   .sin6_port = htons(port),
                                   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        struct sockaddr_in a4 = { .sin_family = AF_INET,
                                  .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        if (family == AF_INET6)
                ck_assert_int_eq(bind(fd, (struct sockaddr *) &a6, sizeof(a6)), 0);
        else
                ck_assert_int_eq(bind(fd, (struct sockaddr *) &a4, sizeof(a4)), 0);
        ck_assert_int_eq(listen(fd, backlog), 0);
        return fd;
}

static char *read_all_text(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t len = 0;

        ck_assert_msg(f, "%s", path);
        ck_assert_int_ge(getdelim(&buf, &len, 0, f), 0);
        fclose(f);
        return buf;
}

static int count_lines(const char *text, const char *prefix) {
        int n = 0;

        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
                n += strncmp(l, prefix, strlen(prefix)) == 0;
        return n;
}

static int count_substr(const char *text, const char *needle) {
        int n = 0;

        for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

static Monitor *daemon_at(const char *config_text, int max_priority) {
        Monitor *d = NULL;
        Config *c = NULL;
        ErrBuf err = { { 0 } };
        MonitorOptions o = { .proc_root = "/proc", .cgroup_root = "/sys/fs/cgroup" };

        sink_init(&o.sink, LOG_TARGET_CONSOLE);
        if (max_priority >= 0)
                o.sink.max_priority = max_priority;
        ck_assert_msg(config_parse_string(config_text, "test.conf", &c, &err) == 0, "%s", err.text);
        ck_assert_int_eq(monitor_new(&o, c, &d), 0);
        return d;
}

static Monitor *daemon_with(const char *config_text) {
        return daemon_at(config_text, -1);
}

START_TEST(test_poll_counts_and_allocates_nothing) {
        size_t before, during;
        int wrong = 0;
        Monitor *d;

        enter_netns();
        for (int i = 0; i < N_LISTENERS; i++)
                listen_on(i % 4 == 0 ? AF_INET6 : AF_INET, (uint16_t) (BASE_PORT + i), 16);

        d = daemon_with("");
        for (uint64_t t = 1; t <= 10; t++)
                ck_assert_int_eq(monitor_poll(d, t * 1000000), N_LISTENERS);
        /* No ck_assert in the measured loop: check allocates for each. */
        before = n_allocs;
        for (uint64_t t = 11; t <= 110; t++)
                if (monitor_poll(d, t * 1000000) != N_LISTENERS)
                        wrong++;
        during = n_allocs - before;
        ck_assert_int_eq(wrong, 0);
        if (alloc_counting())
                ck_assert_uint_eq(during, 0);
        else
                fprintf(stderr, "allocations are not counted in this build, checked the counts only\n");
        monitor_free(d);
}
END_TEST

/* A watch list makes the kernel filter: only the watched ports are seen. */
START_TEST(test_poll_watch_list) {
        char status[160];
        Monitor *d;

        enter_netns();
        for (int i = 0; i < 100; i++)
                listen_on(AF_INET, (uint16_t) (BASE_PORT + i), 16);
        d = daemon_with("watch = ( { port = 20003; }, { ports = \"20010-20019\"; }, { port = 30000; } );");
        ck_assert_int_eq(monitor_poll(d, 1000000), 11);
        monitor_free(d);
        d = daemon_with("watch = ( { port = 20042; } );");
        ck_assert_int_eq(monitor_poll(d, 1000000), 1);
        ck_assert_str_eq(monitor_status(d, status, sizeof(status)), "watching 1 listener, 0 above 80%");
        monitor_free(d);
        /* An entry with its own level: STATUS= does not claim 80 %. */
        d = daemon_with("watch = ( { port = 20042; warn = 50; clear = 20; } );");
        ck_assert_int_eq(monitor_poll(d, 1000000), 1);
        ck_assert_str_eq(monitor_status(d, status, sizeof(status)), "watching 1 listener, 0 above their warn level");
        monitor_free(d);
}
END_TEST

/* Polls of the daemon seen through its metrics file (with
 * metrics_interval = 0.01: every poll renames a new file into dir, or only
 * touches it when its samples did not change) within timeout_ms; stops at
 * the first one if first_only. */
static int count_commits(int ino, int timeout_ms, bool first_only) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        int n = 0;

        for (;;) {
                struct pollfd p = { .fd = ino, .events = POLLIN };
                ssize_t len;

                if (poll(&p, 1, timeout_ms) <= 0)
                        return n;
                len = read(ino, buf, sizeof(buf));
                ck_assert_int_gt(len, 0);
                for (char *c = buf; c < buf + len;
                     c += sizeof(struct inotify_event) + ((struct inotify_event *) c)->len)
                        if (((struct inotify_event *) c)->len > 0 &&
                            strcmp(((struct inotify_event *) c)->name, "m.prom") == 0)
                                n++;
                if (first_only && n > 0)
                        return n;
        }
}

/* The unit of this process's cgroup, as backlogd would name it, or NULL. */
static const char *own_unit(char *buf, size_t size) {
        char line[512], path[512] = "";
        FILE *f = fopen("/proc/self/cgroup", "re");

        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "0::", 3) == 0)
                        snprintf(path, sizeof(path), "%.*s", (int) strcspn(line + 3, "\n"), line + 3);
        fclose(f);
        return cgroup_path_unit(path, buf, size);
}

/* A listener of a socket unit (the map as if read from systemd): `unit =`
 * selects it by the service the socket unit starts, and a Backlog= that
 * somaxconn cut down is said once. */
START_TEST(test_socket_units) {
        char unitbuf[256], log[] = "/tmp/test-monitor-XXXXXX", text[4096] = "";
        const char *unit;
        bool pid1;
        SocketMap *map = NULL;
        Monitor *d;
        int fd, saved;
        ssize_t n;
        FILE *f;

        enter_netns();
        f = fopen("/proc/sys/net/core/somaxconn", "we");
        ck_assert_ptr_nonnull(f);
        fputs("2\n", f);
        ck_assert_int_eq(fclose(f), 0);
        listen_on(AF_INET, 20500, 1000); /* gets 2 */
        listen_on(AF_INET, 20501, 1);
        ck_assert_int_eq(sockets_new(&map), 0);
        ck_assert_int_eq(sockets_add_unit(map, "qsock.socket", "qsock.service", 1000), 0);
        ck_assert_int_eq(sockets_add_listen(map, 0, "Stream", "127.0.0.1:20500"), 0);

        fd = mkstemp(log);
        ck_assert_int_ge(fd, 0);
        saved = dup(STDERR_FILENO);
        dup2(fd, STDERR_FILENO);
        d = daemon_with("watch = ( { unit = \"qsock.service\"; } );");
        monitor_set_socket_units(d, map);
        ck_assert_int_eq(monitor_poll(d, 1000000), 2);
        ck_assert_int_eq(monitor_poll(d, 2000000), 2);
        unit = own_unit(unitbuf, sizeof(unitbuf));
        pid1 = !unit || strcmp(unit, "init.scope") == 0;
        /* Only PID 1's socket is the socket unit's: under another unit
         * (a test run from a service), the listener is that unit's. */
        ck_assert_uint_eq(monitor_n_watched(d), pid1 ? 1 : 0);
        monitor_free(d);
        dup2(saved, STDERR_FILENO);
        close(saved);
        n = pread(fd, text, sizeof(text) - 1, 0);
        ck_assert_int_ge(n, 0);
        close(fd);
        unlink(log);
        if (!pid1) {
                fprintf(stderr, "this test runs in %s: checked that the socket unit does not take its listener\n",
                        unit);
                ck_assert_ptr_null(strstr(text, "qsock.socket"));
                return;
        }
        ck_assert_msg(strstr(text, "qsock.socket asks for Backlog=1000 but net.core.somaxconn is 2: its listener "
                                   "127.0.0.1:20500 got 2. Raise net.core.somaxconn.\n"),
                      "stderr: %s", text);
        /* Once, not per poll. */
        ck_assert_ptr_null(strstr(strstr(text, "qsock.socket asks") + 1, "qsock.socket asks"));
}
END_TEST

/* The daemon's loop in a child, with the configuration file conf, its
 * stderr to /dev/null, without a service manager. */
static pid_t fork_daemon(const char *conf) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                dup2(null, STDERR_FILENO);
                unsetenv("NOTIFY_SOCKET");
                unsetenv("WATCHDOG_USEC");
                daemon_block_signals();
                _exit(daemon_run(&(DaemonOptions){ .config_path = conf,
                                                   .config_must_exist = true,
                                                   .log_target = LOG_TARGET_CONSOLE,
                                                   .log_level = -1,
                                                   .proc_root = "/proc" }));
        }
        return pid;
}

/* After a stall (here SIGSTOP for four intervals), the loop polls once and
 * goes on at its interval: the missed polls are skipped, not made up for in
 * a burst. */
START_TEST(test_loop_skips_missed_polls) {
        char dir[] = "/tmp/test-daemon-XXXXXX", conf[64], text[128];
        int ino, fd, status;
        pid_t pid;

        enter_netns();
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(conf, sizeof(conf), "%s/c.conf", dir);
        snprintf(text, sizeof(text), "interval = 0.5;\nmetrics_interval = 0.01;\nmetrics_file = \"%s/m.prom\";\n",
                 dir);
        fd = open(conf, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        ino = inotify_init1(IN_CLOEXEC);
        ck_assert_int_ge(ino, 0);
        ck_assert_int_ge(inotify_add_watch(ino, dir, IN_MOVED_TO | IN_ATTRIB), 0);

        pid = fork_daemon(conf);
        ck_assert_int_eq(count_commits(ino, 5000, true), 1); /* the first poll */
        ck_assert_int_eq(kill(pid, SIGSTOP), 0);
        usleep(2000 * 1000);
        ck_assert_int_eq(kill(pid, SIGCONT), 0);
        ck_assert_int_eq(count_commits(ino, 2000, true), 1); /* the one after the stall */
        /* The next one is due an interval later, not at once. */
        ck_assert_int_eq(count_commits(ino, 250, false), 0);

        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        close(ino);
        unlink(conf);
        snprintf(text, sizeof(text), "%s/m.prom", dir);
        unlink(text);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static void write_config(const char *path, const char *text) {
        char tmp[128];
        int fd;

        snprintf(tmp, sizeof(tmp), "%s.new", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
        ck_assert_int_eq(rename(tmp, path), 0);
}

/* Reloads that change the interval, faster than it, do not hold the polls
 * back: the next poll stays due an interval after the previous one. */
START_TEST(test_reloads_keep_the_cadence) {
        char dir[] = "/tmp/test-daemon-XXXXXX", conf[64], text[2][160];
        int ino, status, polls;
        pid_t pid;

        enter_netns();
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(conf, sizeof(conf), "%s/c.conf", dir);
        for (int i = 0; i < 2; i++)
                snprintf(text[i], sizeof(text[i]),
                         "interval = 0.%d;\nmetrics_interval = 0.01;\nmetrics_file = \"%s/m.prom\";\n", 3 + i, dir);
        write_config(conf, text[0]);
        ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        ck_assert_int_ge(ino, 0);
        ck_assert_int_ge(inotify_add_watch(ino, dir, IN_MOVED_TO | IN_ATTRIB), 0);
        pid = fork_daemon(conf);
        ck_assert_int_eq(count_commits(ino, 5000, true), 1); /* the first poll */
        /* 3 s of reloads every 50 ms, alternating 0.3 s and 0.4 s */
        polls = 0;
        for (int i = 0; i < 60; i++) {
                write_config(conf, text[(i + 1) % 2]);
                ck_assert_int_eq(kill(pid, SIGHUP), 0);
                polls += count_commits(ino, 50, false);
        }
        /* 3 s at 0.3–0.4 s: 7 to 10 polls; pushed back by every reload: 0 */
        ck_assert_int_ge(polls, 6);
        ck_assert_int_eq(kill(pid, SIGTERM), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        close(ino);
        unlink(conf);
        snprintf(text[0], sizeof(text[0]), "%s/m.prom", dir);
        unlink(text[0]);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* Events on dir/m.prom since the last call: renames (a new file written)
 * and attribute changes (only the mtime set). */
static void file_events(int ino, int *ret_renames, int *ret_touches) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t len;

        while ((len = read(ino, buf, sizeof(buf))) > 0)
                for (char *c = buf; c < buf + len;
                     c += sizeof(struct inotify_event) + ((struct inotify_event *) c)->len) {
                        const struct inotify_event *e = (const struct inotify_event *) c;

                        if (e->len == 0 || strcmp(e->name, "m.prom") != 0)
                                continue;
                        *ret_renames += (e->mask & IN_MOVED_TO) != 0;
                        *ret_touches += (e->mask & IN_ATTRIB) != 0;
                }
}

static void connect_to(uint16_t port) {
        struct sockaddr_in a = { .sin_family = AF_INET,
                                 .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        ck_assert_int_ge(fd, 0);
        (void) connect(fd, (struct sockaddr *) &a, sizeof(a)); /* EINPROGRESS or done: left open */
}

/* monitor_poll() at simulated times, every 0.1 s, metrics_interval 0.5 s:
 * idle, the file is written once and then only touched; with a queue that
 * grows on every poll, it is written every fifth poll, never more often;
 * the listener that filled keeps its series once empty, the idle ones
 * never get any; metrics_all lists them all. */
START_TEST(test_metrics_cadence) {
        char dir[] = "/tmp/test-daemon-XXXXXX", text[256], path[64], *file;
        int ino, renames = 0, touches = 0, busy;
        uint64_t t = 0;
        Monitor *d;

        enter_netns();
        for (int i = 0; i < 20; i++)
                listen_on(AF_INET, (uint16_t) (BASE_PORT + i), 128);
        busy = listen_on(AF_INET, BASE_PORT + 100, 128);
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/m.prom", dir);
        ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        ck_assert_int_ge(ino, 0);
        ck_assert_int_ge(inotify_add_watch(ino, dir, IN_MOVED_TO | IN_ATTRIB), 0);
        snprintf(text, sizeof(text), "interval = 0.1;\nmetrics_interval = 0.5;\nmetrics_file = \"%s\";\n", path);
        d = daemon_with(text);

        /* read after each poll: inotify merges an event with an unread
         * identical one */
        for (int k = 0; k < 30; k++) {
                ck_assert_int_eq(monitor_poll(d, t += 100000), 21);
                file_events(ino, &renames, &touches);
        }
        ck_assert_int_eq(renames, 1);
        ck_assert_int_eq(touches, 5);
        file = read_all_text(path);
        ck_assert_ptr_null(strstr(file, "backlogd_listen_queue_depth{"));
        free(file);

        renames = touches = 0;
        for (int k = 0; k < 30; k++) {
                connect_to(BASE_PORT + 100);
                ck_assert_int_eq(monitor_poll(d, t += 100000), 21);
                file_events(ino, &renames, &touches);
        }
        ck_assert_int_eq(renames, 6);
        ck_assert_int_eq(touches, 0);

        /* accept them all: the queue is empty, its series stays */
        ck_assert_int_eq(fcntl(busy, F_SETFL, O_NONBLOCK), 0);
        for (int fd; (fd = accept4(busy, NULL, NULL, SOCK_CLOEXEC)) >= 0;)
                close(fd);
        for (int k = 0; k < 5; k++)
                ck_assert_int_eq(monitor_poll(d, t += 100000), 21);
        file = read_all_text(path);
        snprintf(text, sizeof(text),
                 "backlogd_listen_queue_depth{address=\"127.0.0.1\",port=\"%d\",family=\"inet\","
                 "netns=\"host\"} 0\n",
                 BASE_PORT + 100);
        ck_assert_msg(strstr(file, text), "%s", file);
        ck_assert_int_eq(count_lines(file, "backlogd_listen_queue_depth{"), 1);
        free(file);
        monitor_free(d);

        snprintf(text, sizeof(text), "metrics_all = true;\nmetrics_file = \"%s\";\n", path);
        d = daemon_with(text);
        ck_assert_int_eq(monitor_poll(d, t += 100000), 21);
        file = read_all_text(path);
        ck_assert_int_eq(count_lines(file, "backlogd_listen_queue_depth{"), 21);
        free(file);
        monitor_free(d);
        close(ino);
        unlink(path);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* The SYN counts back off on a quiet namespace (syn_interval 1 s: counts at
 * 0.1, 2.1, 6.1, 14.1, 22.1 s ...) and come back at the next poll when a
 * listen counter moves. Counted through the debug lines on stderr. */
START_TEST(test_syn_backoff) {
        char log[] = "/tmp/test-syn-XXXXXX", *text;
        int fd, full, quiet, after;
        uint64_t t = 0;
        Monitor *d;

        enter_netns();
        for (int i = 0; i < 10; i++)
                listen_on(AF_INET, (uint16_t) (BASE_PORT + i), 128);
        fd = mkstemp(log);
        ck_assert_int_ge(fd, 0);
        fflush(stderr);
        ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
        d = daemon_at("interval = 0.1;\nsyn_interval = 1;\n", LOG_DEBUG);
        for (int k = 0; k < 250; k++) /* 25 s */
                ck_assert_int_eq(monitor_poll(d, t += 100000), 10);
        fflush(stderr);
        text = read_all_text(log);
        quiet = count_substr(text, "Counted ");
        free(text);
        /* without the backoff: 25 */
        ck_assert_int_eq(quiet, 5);

        /* an accept queue overflows: ListenOverflows and ListenDrops rise */
        full = listen_on(AF_INET, BASE_PORT + 50, 0);
        for (int i = 0; i < 4; i++)
                connect_to(BASE_PORT + 50);
        usleep(100 * 1000);
        ck_assert_int_eq(monitor_poll(d, t += 100000), 11); /* reads the counters */
        ck_assert_int_eq(monitor_poll(d, t += 100000), 11); /* counts */
        fflush(stderr);
        text = read_all_text(log);
        after = count_substr(text, "Counted ");
        ck_assert_msg(after == quiet + 1, "%d counts after %d:\n%s", after, quiet, text);
        ck_assert_ptr_nonnull(strstr(text, "(listen counters moved)"));
        free(text);
        monitor_free(d);
        close(full);
        unlink(log);
}
END_TEST

const char *test_needs_root = "every check polls in a private network namespace";

Suite *test_suite(void) {
        Suite *s = suite_create("monitor");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_poll_counts_and_allocates_nothing);
        tcase_add_test(tc, test_poll_watch_list);
        tcase_add_test(tc, test_socket_units);
        tcase_add_test(tc, test_loop_skips_missed_polls);
        tcase_add_test(tc, test_reloads_keep_the_cadence);
        tcase_add_test(tc, test_metrics_cadence);
        tcase_add_test(tc, test_syn_backoff);
        suite_add_tcase(s, tc);
        return s;
}
