/* SPDX-License-Identifier: MIT */
/* The non-blocking journal writer against a datagram socket of the test's
 * own that stops reading, as a stalled journald does. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check-main.h"
#include "journal.h"

static int listen_dgram(char *path, size_t size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        snprintf(path, size, "/tmp/test-journal-%d.sock", (int) getpid());
        unlink(path);
        strcpy(sa.sun_path, path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

static struct iovec field(const char *s) {
        return (struct iovec){ (void *) s, strlen(s) };
}

START_TEST(test_serialize) {
        struct iovec iov[] = { field("MESSAGE=a b"), field("BACKLOGD_PATH=/x\ny"), field("PRIORITY=3") };
        uint8_t buf[256];
        int n = journal_serialize(iov, 3, buf, sizeof(buf));

        ck_assert_int_eq(n, 12 + 14 + 8 + 4 + 1 + 11);
        ck_assert_int_eq(memcmp(buf, "MESSAGE=a b\nBACKLOGD_PATH\n\x04\0\0\0\0\0\0\0/x\ny\nPRIORITY=3\n", (size_t) n),
                         0);
        iov[0] = field("lower=x");
        ck_assert_int_eq(journal_serialize(iov, 1, buf, sizeof(buf)), -EINVAL);
        iov[0] = field("NOEQUALS");
        ck_assert_int_eq(journal_serialize(iov, 1, buf, sizeof(buf)), -EINVAL);
        iov[0] = field("MESSAGE=a b");
        ck_assert_int_eq(journal_serialize(iov, 1, buf, 5), -ENOBUFS);
}
END_TEST

/* The reader stops: sends never block; what does not go waits, in order,
 * up to the bound; the rest is counted and reported once it drains. */
START_TEST(test_stall) {
        char path[108], msg[64], got[4096];
        JournalWriter *j = NULL;
        struct timespec t0, t1;
        size_t sent = 0, queued = 0, dropped = 0, received = 0;
        int rfd = listen_dgram(path, sizeof(path)), last = -1;
        ssize_t n;

        ck_assert_int_eq(journal_writer_new(path, &j), 0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 5000; i++) {
                struct iovec iov;
                int r;

                snprintf(msg, sizeof(msg), "MESSAGE=%d", i);
                iov = field(msg);
                r = journal_send(j, &iov, 1);
                if (r == 1)
                        sent++;
                else if (r == 0)
                        queued++;
                else {
                        ck_assert_int_eq(r, -ENOBUFS);
                        dropped++;
                }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        /* never blocked: 5000 sends in well under a second */
        ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 1000);
        ck_assert_uint_gt(sent, 0);
        ck_assert_uint_eq(queued, JOURNAL_QUEUE_MAX);
        ck_assert_uint_eq(dropped, 5000 - sent - queued);
        ck_assert_uint_eq(journal_queued(j), JOURNAL_QUEUE_MAX);
        ck_assert_uint_eq(journal_dropped(j), dropped);

        /* the journal comes back: everything waiting, in order, then the
         * count of what was lost */
        for (int round = 0; round < 100 && (journal_queued(j) > 0 || journal_dropped(j) > 0); round++) {
                while ((n = recv(rfd, got, sizeof(got) - 1, MSG_DONTWAIT)) > 0) {
                        got[n] = 0;
                        if (strncmp(got, "MESSAGE=", 8) == 0 && got[8] >= '0' && got[8] <= '9') {
                                int k = atoi(got + 8);

                                ck_assert_int_gt(k, last);
                                last = k;
                        }
                        received++;
                }
                journal_flush(j);
        }
        while ((n = recv(rfd, got, sizeof(got) - 1, MSG_DONTWAIT)) > 0) {
                got[n] = 0;
                received++;
        }
        ck_assert_uint_eq(journal_queued(j), 0);
        ck_assert_uint_eq(journal_dropped(j), 0);
        ck_assert_uint_eq(received, sent + queued + 1);
        ck_assert_ptr_nonnull(strstr(got, "could not be written while the journal was not taking entries"));
        journal_writer_free(j);
        close(rfd);
        unlink(path);
}
END_TEST

/* No journald at all (the socket file is missing): queued, not lost. */
START_TEST(test_away) {
        struct iovec iov = field("MESSAGE=hello");
        JournalWriter *j = NULL;
        char path[108], got[256];
        int rfd;

        snprintf(path, sizeof(path), "/tmp/test-journal-%d.sock", (int) getpid());
        unlink(path);
        ck_assert_int_eq(journal_writer_new(path, &j), 0);
        ck_assert_int_eq(journal_send(j, &iov, 1), 0);
        ck_assert_uint_eq(journal_queued(j), 1);
        rfd = listen_dgram(path, sizeof(path));
        ck_assert_uint_eq(journal_flush(j), 0);
        ck_assert_int_eq(recv(rfd, got, sizeof(got), MSG_DONTWAIT), 14);
        ck_assert_int_eq(memcmp(got, "MESSAGE=hello\n", 14), 0);
        journal_writer_free(j);
        close(rfd);
        unlink(path);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("journal");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_serialize);
        tcase_add_test(tc, test_stall);
        tcase_add_test(tc, test_away);
        suite_add_tcase(s, tc);
        return s;
}
