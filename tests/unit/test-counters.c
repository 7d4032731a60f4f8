/* SPDX-License-Identifier: MIT */
/* Host counters per network namespace: baselines, message bound, forget,
 * flush, the "listen counters moved" question the SYN cadence asks, and the
 * cause of drops and counter events. */
#include <check.h>
#include <string.h>

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

#define LO COUNTERS_MOVED(NETSTAT_LISTEN_OVERFLOWS)
#define LD COUNTERS_MOVED(NETSTAT_LISTEN_DROPS)
#define RQD COUNTERS_MOVED(NETSTAT_TCP_REQQ_FULL_DROP)
#define RQC COUNTERS_MOVED(NETSTAT_TCP_REQQ_FULL_DO_COOKIES)
#define DAD COUNTERS_MOVED(NETSTAT_TCP_DEFER_ACCEPT_DROP)
#define SENT COUNTERS_MOVED(NETSTAT_SYNCOOKIES_SENT)

static const char *cause(EventCause c) {
        return c == EVENT_CAUSE_NONE ? "(none)" : event_cause_name(c);
}

/* Names are the interface (BACKLOGD_CAUSE): each, exactly. */
START_TEST(test_cause_names) {
        ck_assert_str_eq(event_cause_name(EVENT_CAUSE_ACCEPT_QUEUE), "accept_queue");
        ck_assert_str_eq(event_cause_name(EVENT_CAUSE_SYN_QUEUE), "syn_queue");
        ck_assert_str_eq(event_cause_name(EVENT_CAUSE_SYN_FLOOD), "syn_flood");
        ck_assert_str_eq(event_cause_name(EVENT_CAUSE_DEFER_ACCEPT), "defer_accept");
        ck_assert_str_eq(event_cause_name(EVENT_CAUSE_OTHER), "other");
        ck_assert_ptr_null(event_cause_name(EVENT_CAUSE_NONE));
        ck_assert_ptr_null(event_cause_name(_EVENT_CAUSE_MAX));
}
END_TEST

/* The decision alone: which counters rose in the period (a mask), the
 * event, and for drops whether the listener's accept queue is full. */
START_TEST(test_cause_table) {
        static const struct {
                EventKind kind;
                NetstatCounter counter; /* EVENT_COUNTER */
                bool full;              /* EVENT_DROPS: depth 5 of capacity 5, else 1 */
                unsigned moved;
                const char *want;
        } t[] = {
                /* host counters: their own cause; ListenDrops from the rest */
                { EVENT_COUNTER, NETSTAT_LISTEN_OVERFLOWS, false, LO | LD, "accept_queue" },
                { EVENT_COUNTER, NETSTAT_TCP_REQQ_FULL_DROP, false, RQD | LD, "syn_queue" },
                { EVENT_COUNTER, NETSTAT_TCP_REQQ_FULL_DO_COOKIES, false, RQC | SENT, "syn_flood" },
                { EVENT_COUNTER, NETSTAT_LISTEN_DROPS, false, LD | LO, "accept_queue" },
                { EVENT_COUNTER, NETSTAT_LISTEN_DROPS, false, LD | LO | RQD, "accept_queue" },
                { EVENT_COUNTER, NETSTAT_LISTEN_DROPS, false, LD | RQD, "syn_queue" },
                { EVENT_COUNTER, NETSTAT_LISTEN_DROPS, false, LD | RQC | SENT, "other" },
                { EVENT_COUNTER, NETSTAT_LISTEN_DROPS, false, LD | DAD, "other" },
                { EVENT_COUNTER, NETSTAT_LISTEN_DROPS, false, LD, "other" },
                { EVENT_COUNTER, NETSTAT_SYNCOOKIES_SENT, false, SENT, "(none)" },
                /* a listener's drops: each cause alone */
                { EVENT_DROPS, 0, true, LO | LD, "accept_queue" },
                { EVENT_DROPS, 0, false, LO | LD, "accept_queue" },
                { EVENT_DROPS, 0, false, RQD | LD, "syn_queue" },
                { EVENT_DROPS, 0, true, RQD | LD, "syn_queue" },
                { EVENT_DROPS, 0, false, DAD, "defer_accept" },
                { EVENT_DROPS, 0, false, LD, "other" },
                { EVENT_DROPS, 0, true, 0, "other" },
                /* cookies drop nothing: never syn_flood for drops */
                { EVENT_DROPS, 0, false, RQC | SENT, "other" },
                /* precedence accept_queue > syn_queue > defer_accept */
                { EVENT_DROPS, 0, true, LO | RQD | DAD | LD, "accept_queue" },
                { EVENT_DROPS, 0, true, LO | DAD, "accept_queue" },
                { EVENT_DROPS, 0, false, RQD | DAD | LD, "syn_queue" },
                /* ...unless its own queue is not full and another cause rose:
                 * the overflow was another listener's */
                { EVENT_DROPS, 0, false, LO | RQD | LD, "syn_queue" },
                { EVENT_DROPS, 0, false, LO | DAD | LD, "defer_accept" },
                { EVENT_DROPS, 0, false, LO | RQD | DAD | LD, "syn_queue" },
                /* no cause for other events */
                { EVENT_FULL, 0, true, LO | LD, "(none)" },
                { EVENT_SYN_FULL, 0, false, RQD, "(none)" },
        };

        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                Event e = { .kind = t[i].kind, .counter = t[i].counter };

                e.listener.backlog = 4;
                e.listener.depth = t[i].full ? 5 : 1;
                ck_assert_msg(strcmp(cause(counters_cause(&e, t[i].moved)), t[i].want) == 0,
                              "row %zu: got %s, want %s", i, cause(counters_cause(&e, t[i].moved)), t[i].want);
        }
}
END_TEST

/* A UNIX listener's drops have nothing to do with the TCP counters. */
START_TEST(test_cause_unix) {
        Event e = { .kind = EVENT_DROPS };

        e.listener.kind = LISTENER_UNIX;
        ck_assert_str_eq(cause(counters_cause(&e, LO | LD)), "(none)");
        ck_assert_str_eq(cause(counters_cause(&e, 0)), "(none)");
}
END_TEST

static NetstatCounters all_five(uint64_t lo, uint64_t ld, uint64_t rqd, uint64_t rqc, uint64_t dad) {
        NetstatCounters k = two(lo, ld);

        k.present[NETSTAT_TCP_REQQ_FULL_DROP] = true;
        k.value[NETSTAT_TCP_REQQ_FULL_DROP] = rqd;
        k.present[NETSTAT_TCP_REQQ_FULL_DO_COOKIES] = true;
        k.value[NETSTAT_TCP_REQQ_FULL_DO_COOKIES] = rqc;
        k.present[NETSTAT_TCP_DEFER_ACCEPT_DROP] = true;
        k.value[NETSTAT_TCP_DEFER_ACCEPT_DROP] = dad;
        return k;
}

/* A listener's drops event of netns 5 as the policy makes it: depth of
 * capacity 5, its period ending at end. */
static const char *drops_cause_of(const Counters *c, uint32_t depth, uint64_t period, uint64_t end) {
        Event e = { .kind = EVENT_DROPS, .drops = 1, .period_usec = period, .end_usec = end };

        e.listener.netns = 5;
        e.listener.backlog = 4;
        e.listener.depth = depth;
        counters_stamp_cause(c, &e);
        return cause(e.cause);
}

static const char *drops_cause(const Counters *c, uint64_t period, uint64_t end) {
        return drops_cause_of(c, 1, period, end);
}

/* The periods: a rise belongs to the reading that saw it, which covers the
 * time since the previous reading; a cause is given only when a rise of its
 * counter was read within the event's period, and none at all when the
 * readings do not cover the period. */
START_TEST(test_cause_periods) {
        Counters *c = new_counters();
        EventList ev = { 0 };
        NetstatCounters k = all_five(0, 0, 0, 0, 0);

        /* nothing read yet for netns 5 */
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 1 * SEC), "(none)");
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 1 * SEC, &ev), 0);
        /* the baseline reading: rises before it are not known */
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 1 * SEC), "(none)");

        /* 2 s: TCPDeferAcceptDrop rose */
        k = all_five(0, 0, 0, 0, 3);
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 2 * SEC, &ev), 0);
        ck_assert_uint_eq(ev.n, 0); /* not an event of its own */
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 2 * SEC), "defer_accept");
        /* the drops of the previous period: nothing rose then */
        ck_assert_str_eq(drops_cause(c, 0, 1 * SEC), "(none)"); /* the baseline */
        /* a period that ends after the last reading is not covered */
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 3 * SEC), "(none)");

        /* 3 s: nothing rose; the rise of 2 s is outside (2 s, 3 s] */
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 3 * SEC, &ev), 0);
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 3 * SEC), "other");
        ck_assert_str_eq(drops_cause(c, 2 * SEC, 3 * SEC), "defer_accept");
        /* the period that ended at the previous reading (a listener gone
         * since) still sees its rise */
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 2 * SEC), "defer_accept");

        /* 4 s: an accept queue overflowed, and ListenDrops rose with it */
        k = all_five(2, 2, 0, 0, 3);
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 4 * SEC, &ev), 2);
        check_counter(&ev.items[0], 5, NETSTAT_LISTEN_OVERFLOWS, 2, 1 * SEC);
        ck_assert_str_eq(cause(ev.items[0].cause), "accept_queue");
        check_counter(&ev.items[1], 5, NETSTAT_LISTEN_DROPS, 2, 1 * SEC);
        ck_assert_str_eq(cause(ev.items[1].cause), "accept_queue");
        ck_assert_uint_eq(ev.items[1].end_usec, 4 * SEC);
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 4 * SEC), "accept_queue");
        /* both rose in (1 s, 4 s]: precedence if its queue is full, else
         * the overflow was another listener's */
        ck_assert_str_eq(drops_cause_of(c, 5, 3 * SEC, 4 * SEC), "accept_queue");
        ck_assert_str_eq(drops_cause(c, 3 * SEC, 4 * SEC), "defer_accept");
        /* a listener gone since 3 s */
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 3 * SEC), "other");
        ck_assert_str_eq(drops_cause(c, 2 * SEC, 3 * SEC), "defer_accept");

        /* 5 s: a SYN queue overflowed, cookies off; ListenOverflows rose
         * again; it and ListenDrops are within their minute: held back */
        event_list_clear(&ev);
        k = all_five(3, 5, 3, 0, 3);
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 5 * SEC, &ev), 1);
        check_counter(&ev.items[0], 5, NETSTAT_TCP_REQQ_FULL_DROP, 3, 1 * SEC);
        ck_assert_str_eq(cause(ev.items[0].cause), "syn_queue");
        /* a listener gone since 4 s: ListenOverflows' rise at 4 s is the
         * one before its last */
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 4 * SEC), "accept_queue");
        ck_assert_str_eq(drops_cause(c, 2 * SEC, 3 * SEC), "defer_accept");
        /* depth 1 of 5: not its accept queue, though ListenOverflows rose */
        ck_assert_str_eq(drops_cause(c, 2 * SEC, 5 * SEC), "syn_queue");
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 5 * SEC), "syn_queue");

        /* 6 s: SYN cookies sent */
        event_list_clear(&ev);
        k = all_five(3, 5, 3, 7, 3);
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 6 * SEC, &ev), 1);
        check_counter(&ev.items[0], 5, NETSTAT_TCP_REQQ_FULL_DO_COOKIES, 7, 1 * SEC);
        ck_assert_str_eq(cause(ev.items[0].cause), "syn_flood");
        /* cookies drop nothing: a drop then is none of the causes */
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 6 * SEC), "other");

        /* 70 s: the sums held back since 5 s come out with the period since
         * their last report (4 s); ListenOverflows rose in it */
        event_list_clear(&ev);
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 70 * SEC, &ev), 2);
        check_counter(&ev.items[0], 5, NETSTAT_LISTEN_OVERFLOWS, 1, 66 * SEC);
        ck_assert_str_eq(cause(ev.items[0].cause), "accept_queue");
        check_counter(&ev.items[1], 5, NETSTAT_LISTEN_DROPS, 3, 66 * SEC);
        ck_assert_str_eq(cause(ev.items[1].cause), "accept_queue");

        /* unreadable at 71 s: a listener's drops read then have no cause;
         * a period that ended at the last reading keeps its own */
        event_list_clear(&ev);
        ck_assert_int_eq(counters_step(c, 5, NULL, NULL, true, 71 * SEC, &ev), 0);
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 71 * SEC), "(none)");
        ck_assert_str_eq(drops_cause(c, 64 * SEC, 70 * SEC), "other");

        /* 140 s: ListenDrops rose alone, read again after the gap, and is
         * reported with the period since its last report (70 s) */
        k = all_five(3, 6, 3, 7, 3);
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 140 * SEC, &ev), 1);
        check_counter(&ev.items[0], 5, NETSTAT_LISTEN_DROPS, 1, 70 * SEC);
        ck_assert_str_eq(cause(ev.items[0].cause), "other");

        /* counters = false: no cause at all; on again: a new baseline */
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, false, 141 * SEC, &ev), 0);
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 141 * SEC), "(none)");
        k = all_five(9, 9, 9, 9, 9);
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 142 * SEC, &ev), 0);
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 142 * SEC), "(none)");
        k = all_five(9, 9, 9, 9, 10);
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 143 * SEC, &ev), 0);
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 143 * SEC), "defer_accept");
        /* before the new baseline: not covered */
        ck_assert_str_eq(drops_cause(c, 2 * SEC, 143 * SEC), "(none)");
        /* another namespace's readings say nothing about this one */
        {
                Event e = { .kind = EVENT_DROPS, .drops = 1, .period_usec = 1 * SEC, .end_usec = 143 * SEC };

                e.listener.netns = 6;
                counters_stamp_cause(c, &e);
                ck_assert_str_eq(cause(e.cause), "(none)");
        }
        event_list_done(&ev);
        counters_free(c);
}
END_TEST

/* A kernel without TCPDeferAcceptDrop (a fixture's): never that cause. */
START_TEST(test_cause_absent_counter) {
        Counters *c = new_counters();
        EventList ev = { 0 };
        NetstatCounters k = two(0, 0);

        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 1 * SEC, &ev), 0);
        k = two(0, 4);
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 2 * SEC, &ev), 1);
        ck_assert_str_eq(cause(ev.items[0].cause), "other");
        ck_assert_str_eq(drops_cause(c, 1 * SEC, 2 * SEC), "other");
        event_list_done(&ev);
        counters_free(c);
}
END_TEST

/* A host counter's sum held back and reported while the counters cannot
 * be read: all of it was read before, and its cause is known from then. */
START_TEST(test_cause_unreadable) {
        Counters *c = new_counters();
        EventList ev = { 0 };
        NetstatCounters k = all_five(0, 0, 0, 0, 0);

        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 1 * SEC, &ev), 0);
        k = all_five(1, 1, 0, 0, 0);
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 2 * SEC, &ev), 2);
        event_list_clear(&ev);
        k = all_five(1, 2, 1, 0, 0);
        ck_assert_int_eq(counters_step(c, 5, &k, NULL, true, 3 * SEC, &ev), 1);
        check_counter(&ev.items[0], 5, NETSTAT_TCP_REQQ_FULL_DROP, 1, 1 * SEC);
        event_list_clear(&ev);
        ck_assert_int_eq(counters_step(c, 5, NULL, NULL, true, 62 * SEC, &ev), 1);
        check_counter(&ev.items[0], 5, NETSTAT_LISTEN_DROPS, 1, 60 * SEC);
        ck_assert_str_eq(cause(ev.items[0].cause), "syn_queue");
        event_list_done(&ev);
        counters_free(c);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("counters");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_per_namespace);
        tcase_add_test(tc, test_cause_names);
        tcase_add_test(tc, test_cause_table);
        tcase_add_test(tc, test_cause_unix);
        tcase_add_test(tc, test_cause_periods);
        tcase_add_test(tc, test_cause_absent_counter);
        tcase_add_test(tc, test_cause_unreadable);
        suite_add_tcase(s, tc);
        return s;
}
