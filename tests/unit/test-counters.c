/* SPDX-License-Identifier: MIT */
/* Host counters per network namespace: baselines, message bound, forget,
 * flush, and the "listen counters moved" question the SYN cadence asks. */
#include <check.h>

#include "check-main.h"
#include "counters.h"

#define SEC 1000000ULL

static NetstatCounters two(uint64_t overflows, uint64_t drops) {
        NetstatCounters k = { 0 };

        k.present[NETSTAT_LISTEN_OVERFLOWS] = true;
        k.value[NETSTAT_LISTEN_OVERFLOWS] = overflows;
        k.present[NETSTAT_LISTEN_DROPS] = true;
        k.value[NETSTAT_LISTEN_DROPS] = drops;
        return k;
}

static void check_counter(const Event *e, uint64_t netns, NetstatCounter k, uint64_t increase, uint64_t period) {
        ck_assert_str_eq(event_kind_name(e->kind), "counter");
        ck_assert_uint_eq(e->listener.netns, netns);
        ck_assert_uint_eq(e->listener.cookie, 0);
        ck_assert_str_eq(e->name, "");
        ck_assert(!e->clamped);
        ck_assert_str_eq(netstat_counter_name(e->counter), netstat_counter_name(k));
        ck_assert_uint_eq(e->increase, increase);
        ck_assert_uint_eq(e->period_usec, period);
}

static Counters *new_counters(void) {
        Counters *c = NULL;

        ck_assert_int_eq(counters_new(&c), 0);
        return c;
}

/* Each namespace has its own baselines and rate limits; a namespace's first
 * reading only sets its baseline; a namespace not readable in a poll keeps
 * its baseline and still reports its sums when due. */
START_TEST(test_per_namespace) {
        Counters *c = new_counters();
        EventList ev = { 0 };
        NetstatCounters host = two(10, 10), ns7 = two(100, 100);
        NetstatSysctls sys = { 0 };

        sys.present[SYSCTL_TCP_ABORT_ON_OVERFLOW] = true;
        sys.value[SYSCTL_TCP_ABORT_ON_OVERFLOW] = 1;
        ck_assert_int_eq(counters_step(c, 0, &host, NULL, true, 0, &ev), 0);
        ck_assert_int_eq(counters_step(c, 7, &ns7, &sys, true, 0, &ev), 0);

        ns7 = two(103, 100);
        ck_assert_int_eq(counters_step(c, 0, &host, NULL, true, 1 * SEC, &ev), 0);
        ck_assert_int_eq(counters_step(c, 7, &ns7, &sys, true, 1 * SEC, &ev), 1);
        check_counter(&ev.items[0], 7, NETSTAT_LISTEN_OVERFLOWS, 3, 1 * SEC);
        ck_assert_int_eq(ev.items[0].abort_on_overflow, 1);
        ck_assert(!counters_listen_moved(c, 7)); /* ListenOverflows alone */

        /* 7 again within its minute: held back; unreadable meanwhile */
        event_list_clear(&ev);
        ns7 = two(110, 104);
        ck_assert_int_eq(counters_step(c, 7, &ns7, &sys, true, 2 * SEC, &ev), 1);
        check_counter(&ev.items[0], 7, NETSTAT_LISTEN_DROPS, 4, 1 * SEC);
        ck_assert(counters_listen_moved(c, 7));
        ck_assert(!counters_listen_moved(c, 0));
        event_list_clear(&ev);
        ck_assert_int_eq(counters_step(c, 7, NULL, &sys, true, 30 * SEC, &ev), 0);
        ck_assert(!counters_listen_moved(c, 7));
        ck_assert_int_eq(counters_step(c, 7, NULL, &sys, true, 61 * SEC, &ev), 1);
        check_counter(&ev.items[0], 7, NETSTAT_LISTEN_OVERFLOWS, 7, 60 * SEC);

        /* forgetting a namespace reports what it holds back, then nothing */
        event_list_clear(&ev);
        ns7 = two(111, 104);
        ck_assert_int_eq(counters_step(c, 7, &ns7, &sys, true, 62 * SEC, &ev), 0);
        ck_assert_int_eq(counters_forget(c, 7, &ev), 1);
        check_counter(&ev.items[0], 7, NETSTAT_LISTEN_OVERFLOWS, 1, 1 * SEC);
        ck_assert_int_eq(counters_forget(c, 7, &ev), 0);
        /* back again: a new baseline */
        event_list_clear(&ev);
        ck_assert_int_eq(counters_step(c, 7, &ns7, &sys, true, 63 * SEC, &ev), 0);
        ns7 = two(112, 104);
        ck_assert_int_eq(counters_step(c, 7, &ns7, &sys, true, 64 * SEC, &ev), 1);

        /* flush at stop: the host's held-back sum */
        event_list_clear(&ev);
        host = two(11, 10);
        ck_assert_int_eq(counters_step(c, 0, &host, NULL, true, 65 * SEC, &ev), 1);
        host = two(15, 10);
        ck_assert_int_eq(counters_step(c, 0, &host, NULL, true, 66 * SEC, &ev), 0);
        event_list_clear(&ev);
        ck_assert_int_eq(counters_flush(c, &ev), 1);
        check_counter(&ev.items[0], 0, NETSTAT_LISTEN_OVERFLOWS, 4, 1 * SEC);
        event_list_clear(&ev);
        ck_assert_int_eq(counters_flush(c, &ev), 0);

        /* switched off: forgotten; on again: a new baseline */
        ck_assert_int_eq(counters_step(c, 0, &host, NULL, false, 70 * SEC, &ev), 0);
        host = two(99, 99);
        ck_assert_int_eq(counters_step(c, 0, &host, NULL, true, 71 * SEC, &ev), 0);
        ck_assert_uint_eq(ev.n, 0);
        event_list_done(&ev);
        counters_free(c);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("counters");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_per_namespace);
        suite_add_tcase(s, tc);
        return s;
}
