/* SPDX-License-Identifier: MIT */
/* The journal budget: global and per-owner bounds, the reserve of system
 * owners, summaries. */
#include <check.h>
#include <string.h>

#include "budget.h"
#include "check-main.h"

#define SEC 1000000ULL

static Budget *budget(void) {
        Budget *b = NULL;

        ck_assert_int_eq(budget_new(&b), 0);
        return b;
}

/* One owner alone: its burst, then one a second. */
START_TEST(test_owner_bound) {
        Budget *b = budget();
        BudgetSummary s;
        unsigned sent = 0;

        for (int i = 0; i < 100; i++)
                sent += budget_take(b, 65534, false, EVENT_FULL, 0);
        ck_assert_uint_eq(sent, BUDGET_OWNER_BURST);
        ck_assert(!budget_next_summary(b, 59 * SEC, false, &s));
        /* 60 s later: 60 more tokens earned, capped at the burst */
        sent = 0;
        for (int i = 0; i < 100; i++)
                sent += budget_take(b, 65534, false, EVENT_GONE, 60 * SEC);
        ck_assert_uint_eq(sent, BUDGET_OWNER_BURST);
        ck_assert(budget_next_summary(b, 60 * SEC, false, &s));
        ck_assert_uint_eq(s.uid, 65534);
        ck_assert_uint_eq(s.counts[EVENT_FULL], 80);
        ck_assert_uint_eq(s.counts[EVENT_GONE], 80);
        ck_assert_uint_eq(s.total, 160);
        ck_assert_uint_eq(s.period_usec, 60 * SEC);
        ck_assert(!budget_next_summary(b, 60 * SEC, true, &s));
        budget_free(b);
}
END_TEST

/* Many owners churning cannot spend the system owners' reserve, and the
 * global bound holds: 5,000 user owners' alerts over 60 s give at most
 * BUDGET_BURST + 60 * BUDGET_PER_SEC entries, and every system alert goes. */
START_TEST(test_global_bound_and_reserve) {
        Budget *b = budget();
        unsigned user_sent = 0, system_sent = 0, system_asked = 0;

        for (uint64_t t = 0; t < 60 * SEC; t += SEC / 10) {
                for (uint32_t u = 1000; u < 1100; u++)
                        user_sent += budget_take(b, u, false, EVENT_FULL, t);
                if (t % (2 * SEC) == 0) {
                        system_asked++;
                        system_sent += budget_take(b, 0, true, EVENT_FULL, t);
                }
        }
        ck_assert_uint_le(user_sent + system_sent, BUDGET_BURST + 60 * BUDGET_PER_SEC);
        ck_assert_uint_eq(system_sent, system_asked);
        ck_assert_uint_gt(user_sent, 200);
        budget_free(b);
}
END_TEST

/* A system owner's alert that the budget holds back is said again at the
 * next poll (monitor-output.c), so it is not summed: 150 held back over
 * 15 polls of the same 100 alerts are not "1,500 more listeners full". One
 * that cannot be said again (a counter's) is counted with budget_deny(); a
 * user's denied alert is counted by budget_take(). */
START_TEST(test_system_not_summed) {
        Budget *b = budget();
        BudgetSummary s;
        unsigned sent = 0;

        for (uint64_t t = 0; t < 15 * SEC / 10; t += SEC / 10)
                for (unsigned i = 0; i < 100; i++)
                        sent += budget_take(b, 0, true, EVENT_STALLED, t);
        ck_assert_uint_lt(sent, 1500);
        ck_assert(!budget_next_summary(b, 120 * SEC, true, &s));
        budget_deny(b, 0, EVENT_COUNTER, 2 * SEC);
        ck_assert(budget_next_summary(b, 120 * SEC, true, &s));
        ck_assert_uint_eq(s.uid, 0);
        ck_assert_uint_eq(s.total, 1);
        ck_assert_uint_eq(s.counts[EVENT_COUNTER], 1);
        for (unsigned i = 0; i < 30; i++)
                ck_assert(!budget_take(b, 1000, false, EVENT_FULL, 2 * SEC)); /* the reserve is left */
        ck_assert(budget_next_summary(b, 120 * SEC, true, &s));
        ck_assert_uint_eq(s.uid, 1000);
        ck_assert_uint_eq(s.total, 30);
        ck_assert_uint_eq(s.counts[EVENT_FULL], 30);
        ck_assert(!budget_next_summary(b, 120 * SEC, true, &s));
        budget_free(b);
}
END_TEST

START_TEST(test_describe) {
        BudgetSummary s = { .uid = 1000 };
        char buf[256];

        s.counts[EVENT_FULL] = 4213;
        s.counts[EVENT_GONE] = 8102;
        ck_assert_str_eq(budget_describe(&s, buf, sizeof(buf)), "4,213 more listeners full and 8,102 gone");
        s.counts[EVENT_DROPS] = 1;
        ck_assert_str_eq(budget_describe(&s, buf, sizeof(buf)),
                         "4,213 more listeners full, 1 dropping and 8,102 gone");
        memset(s.counts, 0, sizeof(s.counts));
        s.counts[EVENT_HIGH] = 1;
        ck_assert_str_eq(budget_describe(&s, buf, sizeof(buf)), "1 more listener filling up");
        /* every kind a listener's entry can be has its words: never an
         * empty summary */
        memset(s.counts, 0, sizeof(s.counts));
        s.counts[EVENT_STALLED] = 60;
        s.counts[EVENT_ACCEPTING] = 2;
        ck_assert_str_eq(budget_describe(&s, buf, sizeof(buf)), "60 more listeners stalled and 2 accepting again");
        for (int k = 0; k < _EVENT_KIND_MAX; k++) {
                memset(s.counts, 0, sizeof(s.counts));
                s.counts[k] = 1;
                ck_assert_msg(budget_describe(&s, buf, sizeof(buf))[0] != 0, "kind %s has no words",
                              event_kind_name((EventKind) k));
        }
}
END_TEST

/* More owners than the table holds: bounded, and the ones with pending
 * summaries are kept. */
START_TEST(test_many_owners) {
        Budget *b = budget();
        BudgetSummary s;
        unsigned summaries = 0, others = 0;

        for (int i = 0; i < 30; i++)
                (void) budget_take(b, 7, false, EVENT_FULL, 0);
        for (uint32_t u = 10000; u < 20000; u++)
                (void) budget_take(b, u, false, EVENT_FULL, 1);
        while (budget_next_summary(b, 61 * SEC, false, &s))
                if (s.uid == 7) {
                        ck_assert_uint_eq(s.counts[EVENT_FULL], 10);
                        summaries++;
                } else if (s.uid == BUDGET_OTHERS)
                        others++;
        ck_assert_uint_eq(summaries, 1);
        ck_assert_uint_eq(others, 1);
        budget_free(b);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("budget");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_owner_bound);
        tcase_add_test(tc, test_global_bound_and_reserve);
        tcase_add_test(tc, test_system_not_summed);
        tcase_add_test(tc, test_describe);
        tcase_add_test(tc, test_many_owners);
        suite_add_tcase(s, tc);
        return s;
}
