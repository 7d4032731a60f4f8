/* SPDX-License-Identifier: MIT */
/* The daemon's poll against the real kernel in a private network namespace:
 * what it counts, and that the steady state allocates nothing. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc-count.h"
#include "daemon.h"

#define N_LISTENERS 2000
#define BASE_PORT 20000

static void enter_netns(void) {
        struct ifreq ifr = { 0 };
        int fd;

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
        struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port),
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

static Daemon *daemon_with(const char *config_text) {
        char path[] = "/tmp/test-daemon-XXXXXX";
        int fd = mkstemp(path);
        Daemon *d = NULL;
        ErrBuf err = { { 0 } };
        DaemonOptions o = {
                .config_path = path,
                .config_must_exist = true,
                .log_target = LOG_TARGET_CONSOLE,
                .proc_root = "/proc",
        };

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, config_text, strlen(config_text)), (ssize_t) strlen(config_text));
        close(fd);
        ck_assert_msg(daemon_new(&o, &d, &err) == 0, "%s", err.text);
        unlink(path);
        return d;
}

START_TEST(test_poll_counts_and_allocates_nothing) {
        size_t before, during;
        int wrong = 0;
        Daemon *d;

        if (geteuid() != 0)
                return; /* main() reports the skip */
        enter_netns();
        for (int i = 0; i < N_LISTENERS; i++)
                listen_on(i % 4 == 0 ? AF_INET6 : AF_INET, (uint16_t) (BASE_PORT + i), 16);

        d = daemon_with("");
        for (uint64_t t = 1; t <= 10; t++)
                ck_assert_int_eq(daemon_poll(d, t * 1000000), N_LISTENERS);
        /* No ck_assert in the measured loop: check allocates for each. */
        before = n_allocs;
        for (uint64_t t = 11; t <= 110; t++)
                if (daemon_poll(d, t * 1000000) != N_LISTENERS)
                        wrong++;
        during = n_allocs - before;
        ck_assert_int_eq(wrong, 0);
        if (alloc_counting())
                ck_assert_uint_eq(during, 0);
        else
                fprintf(stderr, "allocations are not counted in this build, checked the counts only\n");
        daemon_free(d);
}
END_TEST

/* A watch list makes the kernel filter: only the watched ports are seen. */
START_TEST(test_poll_watch_list) {
        Daemon *d;

        if (geteuid() != 0)
                return;
        enter_netns();
        for (int i = 0; i < 100; i++)
                listen_on(AF_INET, (uint16_t) (BASE_PORT + i), 16);
        d = daemon_with("watch = ( { port = 20003; }, { ports = \"20010-20019\"; }, { port = 30000; } );");
        ck_assert_int_eq(daemon_poll(d, 1000000), 11);
        daemon_free(d);
        d = daemon_with("watch = ( { port = 20042; } );");
        ck_assert_int_eq(daemon_poll(d, 1000000), 1);
        daemon_free(d);
}
END_TEST

int main(void) {
        Suite *s = suite_create("daemon");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        if (geteuid() != 0) {
                printf("SKIP: needs root to create a private network namespace\n");
                return 77;
        }
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_poll_counts_and_allocates_nothing);
        tcase_add_test(tc, test_poll_watch_list);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
