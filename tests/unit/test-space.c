/* SPDX-License-Identifier: MIT */
/* Reading one namespace: the SYN-queue cadence, and a real read of the
 * test's own namespace (sock_diag needs no privilege). */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check-main.h"
#include "space.h"

#define SEC 1000000ULL

static const struct {
        uint64_t now, next, last, interval, syn_interval;
        bool moved, due;
} cadence[] = {
        /* never with syn_interval 0 */
        { 100 * SEC, 0, 0, 1 * SEC, 0, true, false },
        /* on its cadence, and half a poll early */
        { 10 * SEC, 10 * SEC, 0, 1 * SEC, 10 * SEC, false, true },
        { 9500000, 10 * SEC, 0, 1 * SEC, 10 * SEC, false, true },
        { 9 * SEC, 10 * SEC, 0, 1 * SEC, 10 * SEC, false, false },
        /* counters moving: early, but at most every syn_interval / 4 */
        { 2 * SEC, 10 * SEC, 0, 100000, 10 * SEC, true, false },
        { 2500000, 10 * SEC, 0, 100000, 10 * SEC, true, true },
        { 3 * SEC, 12500000, 2500000, 100000, 10 * SEC, true, false },
        { 5 * SEC, 12500000, 2500000, 100000, 10 * SEC, true, true },
        /* first count (next 0: start, or a reload) */
        { 7 * SEC, 0, 5 * SEC, 1 * SEC, 10 * SEC, false, true },
};

START_TEST(test_syn_due) {
        int i = _i;

        ck_assert_msg(space_syn_due(cadence[i].now, cadence[i].next, cadence[i].last, cadence[i].interval,
                                    cadence[i].syn_interval, cadence[i].moved) == cadence[i].due,
                      "case %d", i);
}
END_TEST

/* Under load (counters moving on every poll of 0.1 s) for 10 s, with a
 * 2 s syn_interval: at most one count per 0.5 s, not one per poll. */
START_TEST(test_syn_bounded_under_load) {
        uint64_t next = 0, last = 0;
        unsigned counts = 0;

        for (uint64_t t = 0; t < 10 * SEC; t += 100000)
                if (space_syn_due(t, next, last, 100000, 2 * SEC, true)) {
                        counts++;
                        last = t;
                        next = t + 2 * SEC;
                }
        ck_assert_uint_eq(counts, 20);
}
END_TEST

static const struct {
        unsigned backoff;
        bool quiet, moved;
        unsigned want;
} backoff[] = {
        /* quiet: doubles, up to 8x */
        { 0, true, false, 1 },
        { 1, true, false, 2 },
        { 2, true, false, 3 },
        { 3, true, false, 3 },
        /* a SYN queue past half its clear level, or a counter that moved:
         * back to syn_interval */
        { 3, false, false, 0 },
        { 3, true, true, 0 },
        { 1, false, true, 0 },
        { 0, false, false, 0 },
};

START_TEST(test_syn_backoff) {
        int i = _i;

        ck_assert_msg(space_syn_backoff(backoff[i].backoff, backoff[i].quiet, backoff[i].moved) == backoff[i].want,
                      "case %d", i);
}
END_TEST

/* A quiet namespace polled every second with syn_interval 10 s: counts at
 * 0, 20, 60, 140, 220, ... s (one per 80 s instead of 10 s); a counter
 * that moves at 350 s brings a count at that poll and the cadence back to
 * 10 s. */
START_TEST(test_syn_backoff_cadence) {
        uint64_t next = 0, last = 0, counts[32];
        unsigned n = 0, shift = 0;

        for (uint64_t t = 0; t <= 400 * SEC; t += SEC) {
                bool moved = t == 350 * SEC;

                if (!space_syn_due(t, next, last, SEC, 10 * SEC, moved))
                        continue;
                ck_assert_uint_lt(n, 32);
                counts[n++] = t / SEC;
                last = t;
                shift = space_syn_backoff(shift, !moved, moved);
                next = space_syn_next(t, 10 * SEC, shift);
        }
        /* 0 20 60 140 220 300 | moved: 350, then quiet: 360 380 */
        ck_assert_uint_eq(n, 9);
        ck_assert_uint_eq(counts[0], 0);
        ck_assert_uint_eq(counts[1], 20);
        ck_assert_uint_eq(counts[2], 60);
        ck_assert_uint_eq(counts[3], 140);
        ck_assert_uint_eq(counts[4], 220);
        ck_assert_uint_eq(counts[5], 300);
        ck_assert_uint_eq(counts[6], 350);
        ck_assert_uint_eq(counts[7], 360);
        ck_assert_uint_eq(counts[8], 380);
        ck_assert_uint_eq(space_syn_next(5 * SEC, 10 * SEC, 7), 85 * SEC); /* capped at 8x */
}
END_TEST

static int push(const Listener *l, void *userdata) {
        ListenerSet *s = userdata;
        Listener *slot = listener_set_push(s);

        if (!slot)
                return -1;
        *slot = *l;
        return 0;
}

START_TEST(test_read_own) {
        Space *s = NULL;
        ListenerSet ls = { 0 };
        ErrBuf err = { "" };
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), found = 0;
        PortRange r;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        ck_assert_int_eq(listen(fd, 7), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &a, &len), 0);
        r = (PortRange){ ntohs(a.sin_port), ntohs(a.sin_port) };

        ck_assert_int_eq(space_new_own("/proc", &s), 0);
        ck_assert_str_eq(s->name, "host");
        ck_assert_uint_eq(s->id, 0);
        ck_assert_int_ge(space_dump(s, &r, 1, false, push, &ls, &err), 1);
        for (size_t i = 0; i < ls.n; i++)
                if (ls.items[i].port == r.lo) {
                        ck_assert_uint_eq(ls.items[i].backlog, 7);
                        ck_assert_uint_eq(ls.items[i].netns, 0);
                        found++;
                }
        ck_assert_int_eq(found, 1);
        ck_assert(s->dumped);
        ck_assert_int_ge(space_count_syn(s, 5, &err), 0);
        ck_assert(s->syn_known);
        ck_assert_int_eq(space_syn_for(s, &ls.items[0]), 0);
        ck_assert_int_eq(space_read_counters(s, &err), 0);
        ck_assert(s->have_counters);
        ck_assert(s->counters.present[NETSTAT_LISTEN_OVERFLOWS]);
        ck_assert_int_eq(space_refresh_sysctls(s, 1, 1, &err), 0);
        ck_assert(s->have_sysctls);
        ck_assert(s->sysctls.present[SYSCTL_SOMAXCONN]);
        listener_set_done(&ls);
        space_free(s);
        close(fd);
}
END_TEST

START_TEST(test_error_transition) {
        int state = 0;

        ck_assert_int_eq(space_error_transition(&state, 0), 0);
        ck_assert_int_eq(space_error_transition(&state, -EIO), 1);
        ck_assert_int_eq(space_error_transition(&state, -EIO), 0);
        ck_assert_int_eq(space_error_transition(&state, -ENOBUFS), 0); /* the same outage */
        ck_assert_int_eq(space_error_transition(&state, 0), -1);
        ck_assert_int_eq(space_error_transition(&state, 0), 0);
}
END_TEST

START_TEST(test_port_ranges) {
        uint16_t ports[] = { 443, 80, 8081, 80, 8080, 65535, 8082, 0 };
        uint16_t many[DIAG_MAX_RANGES + 1];
        PortRange r[DIAG_MAX_RANGES];

        ck_assert_uint_eq(space_port_ranges(ports, 0, r, DIAG_MAX_RANGES), 0);
        ck_assert_uint_eq(space_port_ranges(ports, ELEMENTSOF(ports), r, DIAG_MAX_RANGES), 5);
        ck_assert_uint_eq(r[0].lo, 0);
        ck_assert_uint_eq(r[0].hi, 0);
        ck_assert_uint_eq(r[1].lo, 80);
        ck_assert_uint_eq(r[1].hi, 80);
        ck_assert_uint_eq(r[2].lo, 443);
        ck_assert_uint_eq(r[3].lo, 8080);
        ck_assert_uint_eq(r[3].hi, 8082);
        ck_assert_uint_eq(r[4].lo, 65535);
        ck_assert_uint_eq(r[4].hi, 65535);
        /* more than fit, evenly spread: one gap bridged everywhere */
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (uint16_t) (1000 + 2 * i);
        ck_assert_uint_eq(space_port_ranges(many, ELEMENTSOF(many), r, DIAG_MAX_RANGES), 1);
        ck_assert_uint_eq(r[0].lo, 1000);
        ck_assert_uint_eq(r[0].hi, 1000 + 2 * DIAG_MAX_RANGES);
        /* more than fit: the smallest gaps are bridged first, the wide
         * ones stay: ports 100 apart, and one pair 1 apart */
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (uint16_t) (1000 + 100 * i);
        many[1] = 1002;
        ck_assert_uint_eq(space_port_ranges(many, ELEMENTSOF(many), r, DIAG_MAX_RANGES), DIAG_MAX_RANGES);
        ck_assert_uint_eq(r[0].lo, 1000);
        ck_assert_uint_eq(r[0].hi, 1002);
        ck_assert_uint_eq(r[1].lo, 1200);
        ck_assert_uint_eq(r[1].hi, 1200);
        ck_assert_uint_eq(r[DIAG_MAX_RANGES - 1].lo, 1000 + 100 * DIAG_MAX_RANGES);
        /* exactly as many as fit */
        ck_assert_uint_eq(space_port_ranges(many, DIAG_MAX_RANGES, r, DIAG_MAX_RANGES), DIAG_MAX_RANGES);
}
END_TEST

/* Only a non-empty TCP queue with connections of its own gets a wait. */
START_TEST(test_apply_wait) {
        Space s = { 0 };
        WaitCount c = { .family = AF_INET,
                        .addr = { 127, 0, 0, 1 },
                        .port = 80,
                        .n = 2,
                        .gave_up = 1,
                        .n_aged = 2,
                        .oldest_ms = 3100 };
        Listener l = { .family = AF_INET, .addr = { 127, 0, 0, 1 }, .port = 80, .depth = 2 };

        s.wait = (WaitCounts){ .items = &c, .n = 1, .cap = 1 };
        space_apply_wait(&s, &l); /* not known */
        ck_assert(!l.has_wait);
        s.wait_known = true;
        space_apply_wait(&s, &l);
        ck_assert(l.has_wait);
        ck_assert_uint_eq(l.wait_ms, 3100);
        ck_assert_uint_eq(l.gave_up, 1);
        l.depth = 0;
        space_apply_wait(&s, &l);
        ck_assert(!l.has_wait);
        l.depth = 1;
        l.port = 81;
        space_apply_wait(&s, &l);
        ck_assert(!l.has_wait);
        c.n_aged = 0; /* no age known */
        l.port = 80;
        space_apply_wait(&s, &l);
        ck_assert(!l.has_wait);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("space");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_syn_due, 0, (int) (sizeof(cadence) / sizeof(cadence[0])));
        tcase_add_test(tc, test_syn_bounded_under_load);
        tcase_add_loop_test(tc, test_syn_backoff, 0, (int) (sizeof(backoff) / sizeof(backoff[0])));
        tcase_add_test(tc, test_syn_backoff_cadence);
        tcase_add_test(tc, test_read_own);
        tcase_add_test(tc, test_error_transition);
        tcase_add_test(tc, test_port_ranges);
        tcase_add_test(tc, test_apply_wait);
        suite_add_tcase(s, tc);
        return s;
}
