/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "check-main.h"
#include "config.h"
#include "counters.h"
#include "policy.h"

#define SEC 1000000ULL

#include "alloc-count.h"

static Config *config(void) {
        Config *c = NULL;

        ck_assert_int_eq(config_new_default(&c), 0);
        return c;
}

static Policy *policy(void) {
        Policy *p = NULL;

        ck_assert_int_eq(policy_new(&p), 0);
        return p;
}

/* The host counters beside each policy of a test (check forks a process
 * per test, so a few slots are plenty). */
static struct {
        Policy *p;
        Counters *c;
} paired[8];

static Counters *counters_of(Policy *p) {
        for (size_t i = 0; i < ELEMENTSOF(paired); i++)
                if (paired[i].p == p)
                        return paired[i].c;
        for (size_t i = 0; i < ELEMENTSOF(paired); i++)
                if (!paired[i].p) {
                        paired[i].p = p;
                        ck_assert_int_eq(counters_new(&paired[i].c), 0);
                        return paired[i].c;
                }
        ck_abort_msg("too many policies");
        return NULL;
}

static void policy_freep(Policy **p) {
        for (size_t i = 0; i < ELEMENTSOF(paired); i++)
                if (paired[i].p == *p) {
                        paired[i].c = counters_free(paired[i].c);
                        paired[i].p = NULL;
                }
        policy_free(*p);
}

/* The host's counters of a poll (NULL: not readable), as the monitor does
 * after the policy. Returns the number of events appended. */
static int host_counters(Policy *p, const Config *c, const NetstatCounters *k, const NetstatSysctls *sys, uint64_t t,
                         EventList *ev) {
        return counters_step(counters_of(p), 0, k, sys, c->counters, t, ev);
}

/* Observes l with the watch entry that selects it, as the monitor does. */
static int observe(Policy *p, const Config *c, const Listener *l, EventList *ev) {
        return policy_observe(p, l, config_match(c, l, NULL, NETNS_HOST_NAME), ev);
}

static Config *config_text(const char *text) {
        ErrBuf err = { { 0 } };
        Config *c = NULL;

        ck_assert_msg(config_parse_string(text, "test", &c, &err) == 0, "%s", err.text);
        return c;
}

/* policy-table.h's Active record, the unit of the pool. */
#include "policy-table.h"
static size_t sizeof_active(void) {
        return sizeof(Active);
}

static Listener mk(uint64_t netns, uint64_t cookie, uint16_t port, uint32_t depth, uint32_t backlog) {
        Listener l = {
                .netns = netns,
                .cookie = cookie,
                .port = port,
                .family = AF_INET,
                .depth = depth,
                .backlog = backlog,
                .addr = { 127, 0, 0, 1 },
        };

        return l;
}

static Listener mkd(uint64_t cookie, uint32_t depth, uint32_t backlog, uint32_t drops) {
        Listener l = mk(0, cookie, 80, depth, backlog);

        l.has_drops = true;
        l.drops = drops;
        return l;
}

/* One poll: the listeners (in any order), optional counters,
 * somaxconn 4096. Clears ev first; checks the return value against it. */
static size_t step_full(Policy *p, const Config *c, Listener *ls, size_t n, const NetstatCounters *counters,
                        uint64_t t, EventList *ev) {
        Snapshot s = {
                .listeners = { .items = ls, .n = n, .cap = n },
                .time_usec = t,
        };
        int r;

        if (counters) {
                s.counters = *counters;
                s.have_counters = true;
        }
        s.sysctls.present[SYSCTL_SOMAXCONN] = true;
        s.sysctls.value[SYSCTL_SOMAXCONN] = 4096;
        event_list_clear(ev);
        r = policy_step(p, c, &s, false, ev);
        ck_assert_int_ge(r, 0);
        ck_assert_uint_eq((size_t) r, ev->n);
        r = host_counters(p, c, counters, &s.sysctls, t, ev);
        ck_assert_int_ge(r, 0);
        return ev->n;
}

static size_t step(Policy *p, const Config *c, Listener *ls, size_t n, uint64_t t, EventList *ev) {
        return step_full(p, c, ls, n, NULL, t, ev);
}

static size_t step1(Policy *p, const Config *c, Listener l, uint64_t t, EventList *ev) {
        return step(p, c, &l, 1, t, ev);
}

static void check_event(const Event *e, EventKind kind, bool reminder, uint64_t cookie) {
        ck_assert_str_eq(event_kind_name(e->kind), event_kind_name(kind));
        ck_assert_int_eq(e->reminder, reminder);
        ck_assert_uint_eq(e->listener.cookie, cookie);
}

START_TEST(test_names) {
        ck_assert_str_eq(listen_state_name(STATE_OK), "ok");
        ck_assert_str_eq(listen_state_name(STATE_HIGH), "high");
        ck_assert_str_eq(listen_state_name(STATE_FULL), "full");
        ck_assert_ptr_null(listen_state_name((ListenState) 3));
        ck_assert_str_eq(event_kind_name(EVENT_HIGH), "high");
        ck_assert_str_eq(event_kind_name(EVENT_FULL), "full");
        ck_assert_str_eq(event_kind_name(EVENT_CLEARED), "cleared");
        ck_assert_str_eq(event_kind_name(EVENT_DROPS), "drops");
        ck_assert_str_eq(event_kind_name(EVENT_GONE), "gone");
        ck_assert_str_eq(event_kind_name(EVENT_COUNTER), "counter");
        ck_assert_str_eq(event_kind_name(EVENT_SYN_HIGH), "syn_high");
        ck_assert_str_eq(event_kind_name(EVENT_SYN_FULL), "syn_full");
        ck_assert_str_eq(event_kind_name(EVENT_SYN_CLEARED), "syn_cleared");
        ck_assert_ptr_null(event_kind_name(_EVENT_KIND_MAX));
}
END_TEST

START_TEST(test_classify) {
        Listener l = mk(0, 1, 80, 7, 9); /* capacity 10 */

        ck_assert_int_eq(levels_classify(&l, 80), STATE_OK);
        l.depth = 8;
        ck_assert_int_eq(levels_classify(&l, 80), STATE_HIGH);
        ck_assert_int_eq(levels_classify(&l, 81), STATE_OK);
        l.depth = 9;
        ck_assert_int_eq(levels_classify(&l, 80), STATE_HIGH);
        l.depth = 10;
        ck_assert_int_eq(levels_classify(&l, 80), STATE_FULL);
        l.depth = 11;
        ck_assert_int_eq(levels_classify(&l, 100), STATE_FULL);
        l = mk(0, 1, 80, 1, 0); /* listen(0) holds one */
        ck_assert_int_eq(levels_classify(&l, 80), STATE_FULL);
        l.depth = 0;
        ck_assert_int_eq(levels_classify(&l, 80), STATE_OK);
        /* no overflow with huge numbers */
        l = mk(0, 1, 80, 4000000000U, 4294967295U);
        ck_assert_int_eq(levels_classify(&l, 80), STATE_HIGH);
}
END_TEST

START_TEST(test_ok_high_full_cleared) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };

        ck_assert_uint_eq(step1(p, c, mk(0, 5, 80, 7, 9), 0, &ev), 0);
        ck_assert_uint_eq(policy_n_raised(p), 0);

        /* ok -> high at 80 % */
        ck_assert_uint_eq(step1(p, c, mk(0, 5, 80, 8, 9), 1 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_HIGH, false, 5);
        ck_assert_uint_eq(ev.items[0].fill_pct, 80);
        ck_assert_uint_eq(ev.items[0].listener.depth, 8);
        ck_assert_uint_eq(ev.items[0].listener.backlog, 9);
        ck_assert_str_eq(ev.items[0].name, "");
        ck_assert_int_eq(ev.items[0].somaxconn, 4096);
        ck_assert(!ev.items[0].clamped);
        ck_assert_uint_eq(policy_n_raised(p), 1);

        /* still high: nothing */
        ck_assert_uint_eq(step1(p, c, mk(0, 5, 80, 9, 9), 2 * SEC, &ev), 0);

        /* high -> full */
        ck_assert_uint_eq(step1(p, c, mk(0, 5, 80, 10, 9), 3 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 5);
        ck_assert_uint_eq(ev.items[0].fill_pct, 100);
        ck_assert_uint_eq(policy_n_raised(p), 1);

        /* full -> high (70 %, between clear and warn): silent */
        ck_assert_uint_eq(step1(p, c, mk(0, 5, 80, 7, 9), 4 * SEC, &ev), 0);
        ck_assert_uint_eq(policy_n_raised(p), 1);

        /* full again: reported again */
        ck_assert_uint_eq(step1(p, c, mk(0, 5, 80, 12, 9), 5 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 5);
        ck_assert_uint_eq(ev.items[0].fill_pct, 120);

        /* 60 % is not below clear: stays raised */
        ck_assert_uint_eq(step1(p, c, mk(0, 5, 80, 6, 9), 6 * SEC, &ev), 0);
        ck_assert_uint_eq(policy_n_raised(p), 1);

        /* 50 %: cleared */
        ck_assert_uint_eq(step1(p, c, mk(0, 5, 80, 5, 9), 16 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_CLEARED, false, 5);
        ck_assert_uint_eq(ev.items[0].fill_pct, 50);
        ck_assert_uint_eq(policy_n_raised(p), 0);
}
END_TEST

START_TEST(test_ok_to_full_and_new_listener) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };

        /* first sighting already full: raised at once */
        ck_assert_uint_eq(step1(p, c, mk(0, 9, 80, 1, 0), 0, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 9);
        ck_assert_uint_eq(ev.items[0].fill_pct, 100);
        ck_assert_uint_eq(policy_n_raised(p), 1);
        /* back to empty: cleared */
        ck_assert_uint_eq(step1(p, c, mk(0, 9, 80, 0, 0), 1 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_CLEARED, false, 9);
        /* ok -> full directly, skipping high */
        ck_assert_uint_eq(step1(p, c, mk(0, 9, 80, 1, 0), 2 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 9);
}
END_TEST

START_TEST(test_hysteresis_band) {
        _cleanup_(config_freep) Config *c = config_text("warn = 50; clear = 20;");
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };

        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 49, 99), 0, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 50, 99), 1 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_HIGH, false, 1);
        /* anywhere in [20, 50) keeps it raised */
        for (uint32_t d = 49; d >= 20; d--) {
                ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, d, 99), (2 + 50 - d) * SEC, &ev), 0);
                ck_assert_uint_eq(policy_n_raised(p), 1);
        }
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 19, 99), 40 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_CLEARED, false, 1);
        ck_assert_uint_eq(ev.items[0].fill_pct, 19);
        ck_assert_uint_eq(policy_n_raised(p), 0);
        /* and from ok, [20, 50) stays ok */
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 49, 99), 41 * SEC, &ev), 0);
        ck_assert_uint_eq(policy_n_raised(p), 0);
}
END_TEST

/* Two entries: "web" on port 80 (warn 50, clear 20), "tls" on 443 (90, 10). */
static Config *config_watch(void) {
        return config_text("watch = ( { port = 80; name = \"web\"; warn = 50; clear = 20; },\n"
                           "          { port = 443; name = \"tls\"; warn = 90; clear = 10; } );");
}

START_TEST(test_watch_levels_and_names) {
        _cleanup_(config_freep) Config *c = config_watch();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener ls[3];

        ls[0] = mk(0, 1, 80, 5, 9);  /* 50 %: high for "web" */
        ls[1] = mk(0, 2, 443, 8, 9); /* 80 %: ok for "tls" */
        ls[2] = mk(0, 3, 22, 10, 9); /* full, but not watched */
        ck_assert_uint_eq(step(p, c, ls, 3, 0, &ev), 1);
        check_event(&ev.items[0], EVENT_HIGH, false, 1);
        ck_assert_str_eq(ev.items[0].name, "web");
        ck_assert_uint_eq(policy_n_raised(p), 1);

        ls[1].depth = 9; /* 90 % */
        ck_assert_uint_eq(step(p, c, ls, 3, 1 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_HIGH, false, 2);
        ck_assert_str_eq(ev.items[0].name, "tls");
        ck_assert_uint_eq(policy_n_raised(p), 2);

        /* "tls" clears only below 10 %, "web" below 20 % */
        ls[0].depth = 1;
        ls[1].depth = 1;
        ck_assert_uint_eq(step(p, c, ls, 3, 2 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_CLEARED, false, 1);
        ck_assert_str_eq(ev.items[0].name, "web");
        ls[1].depth = 0;
        ck_assert_uint_eq(step(p, c, ls, 3, 3 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_CLEARED, false, 2);
        ck_assert_str_eq(ev.items[0].name, "tls");
        ck_assert_uint_eq(policy_n_raised(p), 0);
}
END_TEST

START_TEST(test_unwatched_ignored) {
        _cleanup_(config_freep) Config *c = config_watch();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener l = mkd(3, 10, 9, 0);

        l.port = 22;
        ck_assert_uint_eq(step1(p, c, l, 0, &ev), 0);
        l.drops = 50;
        ck_assert_uint_eq(step1(p, c, l, 1 * SEC, &ev), 0);
        ck_assert_uint_eq(policy_n_raised(p), 0);
        ck_assert_uint_eq(step(p, c, NULL, 0, 2 * SEC, &ev), 0);
}
END_TEST

START_TEST(test_clamped_and_somaxconn) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener l = mk(0, 1, 80, 4097, 4096);
        Snapshot s = {
                .listeners = { .items = &l, .n = 1, .cap = 1 },
        };

        ck_assert_uint_eq(step1(p, c, l, 0, &ev), 1);
        ck_assert(ev.items[0].clamped);
        ck_assert_int_eq(ev.items[0].somaxconn, 4096);

        /* somaxconn unknown */
        l.depth = 0;
        s.time_usec = 1 * SEC;
        event_list_clear(&ev);
        ck_assert_int_eq(policy_step(p, c, &s, false, &ev), 1);
        check_event(&ev.items[0], EVENT_CLEARED, false, 1);
        ck_assert(!ev.items[0].clamped);
        ck_assert_int_eq(ev.items[0].somaxconn, -1);
}
END_TEST

START_TEST(test_reminders) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        size_t n = 0;

        c->repeat_usec = 10 * SEC;
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 10, 9), 0, &ev), 1);
        for (uint64_t t = 1; t <= 35; t++) {
                size_t k = step1(p, c, mk(0, 1, 80, 10, 9), t * SEC, &ev);

                if (t % 10 == 0) {
                        ck_assert_uint_eq(k, 1);
                        check_event(&ev.items[0], EVENT_FULL, true, 1);
                        ck_assert_uint_eq(ev.items[0].fill_pct, 100);
                } else
                        ck_assert_uint_eq(k, 0);
                n += k;
        }
        ck_assert_uint_eq(n, 3);

        /* silent full -> high at 36 s: the reminder clock keeps running
         * from the last message (30 s) and now says "high" */
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 7, 9), 36 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 7, 9), 39 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 7, 9), 40 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_HIGH, true, 1);

        /* a reported change restarts the clock: full at 45 s, next at 55 s */
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 10, 9), 45 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 1);
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 10, 9), 54 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 10, 9), 55 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, true, 1);

        /* cleared: no reminders */
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 0, 9), 56 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_CLEARED, false, 1);
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 0, 9), 100 * SEC, &ev), 0);
}
END_TEST

START_TEST(test_repeat_never) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        size_t n = 0;

        c->repeat_usec = 0;
        for (uint64_t t = 0; t <= 1000; t++)
                n += step1(p, c, mk(0, 1, 80, 10, 9), t * SEC, &ev);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(policy_n_raised(p), 1);
}
END_TEST

START_TEST(test_drops_increase) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };

        /* first sighting: baseline only */
        ck_assert_uint_eq(step1(p, c, mkd(4, 0, 9, 5), 0, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(4, 0, 9, 5), 2 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(4, 0, 9, 12), 3 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_DROPS, false, 4);
        ck_assert_uint_eq(ev.items[0].drops, 7);
        ck_assert_uint_eq(ev.items[0].period_usec, 1 * SEC);
        ck_assert_uint_eq(ev.items[0].end_usec, 3 * SEC);
        ck_assert_uint_eq(ev.items[0].listener.drops, 12);
        ck_assert_uint_eq(ev.items[0].fill_pct, 0);
}
END_TEST

START_TEST(test_drops_rate_limit) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        uint32_t d = 0;

        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, d), 0, &ev), 0);
        /* first rise: at once */
        d += 3;
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, d), 1 * SEC, &ev), 1);
        ck_assert_uint_eq(ev.items[0].drops, 3);
        ck_assert_uint_eq(ev.items[0].period_usec, 1 * SEC);
        /* then summed: nothing until 60 s after the report */
        for (uint64_t t = 2; t <= 60; t++) {
                d += 3;
                ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, d), t * SEC, &ev), 0);
        }
        d += 3;
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, d), 61 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_DROPS, false, 1);
        ck_assert_uint_eq(ev.items[0].drops, 180);
        ck_assert_uint_eq(ev.items[0].period_usec, 60 * SEC);
        ck_assert_uint_eq(ev.items[0].end_usec, 61 * SEC);

        /* one rise at 70 s, reported when the window ends at 121 s even
         * though nothing rose then */
        for (uint64_t t = 62; t <= 120; t++) {
                if (t == 70)
                        d += 5;
                ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, d), t * SEC, &ev), 0);
        }
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, d), 121 * SEC, &ev), 1);
        ck_assert_uint_eq(ev.items[0].drops, 5);
        ck_assert_uint_eq(ev.items[0].period_usec, 60 * SEC);

        /* quiet for longer than the window: the next rise is at once */
        for (uint64_t t = 122; t < 200; t++)
                ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, d), t * SEC, &ev), 0);
        d += 2;
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, d), 200 * SEC, &ev), 1);
        ck_assert_uint_eq(ev.items[0].drops, 2);
        ck_assert_uint_eq(ev.items[0].period_usec, 1 * SEC);
}
END_TEST

/* On stop, the sums the rate limit holds back are reported, once. */
START_TEST(test_flush) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        NetstatCounters nc = { 0 };
        Listener l = mkd(1, 0, 9, 0);

        nc.present[NETSTAT_LISTEN_OVERFLOWS] = true;
        for (uint64_t t = 0; t <= 10; t++) {
                l.drops = (uint32_t) (t * 3);
                nc.value[NETSTAT_LISTEN_OVERFLOWS] = t * 2;
                event_list_clear(&ev);
                policy_begin(p, c, t * SEC, false);
                policy_netns(p, 0, NULL);
                ck_assert_int_eq(observe(p, c, &l, &ev), 0);
                ck_assert_int_ge(policy_end(p, &ev), 0);
                ck_assert_int_ge(host_counters(p, c, &nc, NULL, t * SEC, &ev), 0);
                /* the first rise of each is reported at once, then summed */
                ck_assert_uint_eq(ev.n, t == 1 ? 2 : 0);
        }
        event_list_clear(&ev);
        ck_assert_int_eq(policy_flush(p, &ev) + counters_flush(counters_of(p), &ev), 2);
        check_event(&ev.items[0], EVENT_DROPS, false, 1);
        ck_assert_uint_eq(ev.items[0].drops, 27);
        ck_assert_uint_eq(ev.items[0].period_usec, 9 * SEC);
        ck_assert_int_eq(ev.items[1].kind, EVENT_COUNTER);
        ck_assert_int_eq(ev.items[1].counter, NETSTAT_LISTEN_OVERFLOWS);
        ck_assert_uint_eq(ev.items[1].increase, 18);
        ck_assert_uint_eq(ev.items[1].period_usec, 9 * SEC);
        event_list_clear(&ev);
        ck_assert_int_eq(policy_flush(p, &ev) + counters_flush(counters_of(p), &ev), 0);
}
END_TEST

static Listener mks(uint64_t cookie, uint32_t syn_depth, bool has_syn) {
        Listener l = mk(0, cookie, 80, 0, 4); /* capacity 5 */

        l.syn_depth = syn_depth;
        l.has_syn = has_syn;
        return l;
}

/* The SYN queue: same levels and hysteresis as the accept queue, decided
 * only on polls that counted it; a SYN-raised listener that goes is gone. */
START_TEST(test_syn_queue) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };

        ck_assert_uint_eq(step1(p, c, mks(1, 3, true), 0, &ev), 0); /* 60 % */
        ck_assert_uint_eq(step1(p, c, mks(1, 4, true), 1 * SEC, &ev), 1);
        ck_assert_str_eq(event_kind_name(ev.items[0].kind), "syn_high");
        ck_assert_uint_eq(ev.items[0].listener.syn_depth, 4);
        ck_assert_uint_eq(step1(p, c, mks(1, 0, false), 2 * SEC, &ev), 0); /* not counted */
        ck_assert_uint_eq(step1(p, c, mks(1, 5, true), 3 * SEC, &ev), 1);
        ck_assert_str_eq(event_kind_name(ev.items[0].kind), "syn_full");
        ck_assert_uint_eq(step1(p, c, mks(1, 3, true), 4 * SEC, &ev), 0); /* >= clear: silent */
        ck_assert_uint_eq(step1(p, c, mks(1, 2, true), 5 * SEC, &ev), 1);
        ck_assert_str_eq(event_kind_name(ev.items[0].kind), "syn_cleared");
        ck_assert_uint_eq(step1(p, c, mks(1, 5, true), 6 * SEC, &ev), 1);
        ck_assert_str_eq(event_kind_name(ev.items[0].kind), "syn_full");
        ck_assert_uint_eq(policy_n_raised(p), 0); /* the accept queue is empty */
        ck_assert_uint_eq(step(p, c, NULL, 0, 7 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_GONE, false, 1);
}
END_TEST

START_TEST(test_drops_backwards) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };

        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 4294967290U), 0, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 4294967295U), 1 * SEC, &ev), 1);
        ck_assert_uint_eq(ev.items[0].drops, 5);
        /* the u32 counter wraps: the increase is taken modulo 2^32, exact
         * for one socket's life (a cookie is never reused) */
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 3), 100 * SEC, &ev), 1);
        ck_assert_uint_eq(ev.items[0].drops, 4);
        ck_assert_uint_eq(ev.items[0].period_usec, 99 * SEC);
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 10), 300 * SEC, &ev), 1);
        ck_assert_uint_eq(ev.items[0].drops, 7);
        ck_assert_uint_eq(ev.items[0].period_usec, 200 * SEC);
        /* no drop count (has_drops false) forgets the baseline */
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 0, 9), 400 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 20), 500 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 21), 600 * SEC, &ev), 1);
        ck_assert_uint_eq(ev.items[0].drops, 1);
}
END_TEST

static NetstatCounters counters_all(uint64_t v) {
        NetstatCounters k = { 0 };

        for (unsigned i = 0; i < _NETSTAT_COUNTER_MAX; i++) {
                k.value[i] = v;
                k.present[i] = true;
        }
        return k;
}

START_TEST(test_counters) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        NetstatCounters k = counters_all(10);

        /* baseline */
        ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, 0, &ev), 0);
        k.value[NETSTAT_LISTEN_OVERFLOWS] = 15;
        k.value[NETSTAT_LISTEN_DROPS] = 17;
        k.value[NETSTAT_SYNCOOKIES_SENT] = 99; /* not one of ours */
        ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, 2 * SEC, &ev), 2);
        ck_assert_int_eq(ev.items[0].kind, EVENT_COUNTER);
        ck_assert_int_eq(ev.items[0].counter, NETSTAT_LISTEN_OVERFLOWS);
        ck_assert_uint_eq(ev.items[0].increase, 5);
        ck_assert_uint_eq(ev.items[0].period_usec, 2 * SEC);
        ck_assert_uint_eq(ev.items[0].listener.cookie, 0);
        ck_assert_str_eq(ev.items[0].name, "");
        ck_assert_int_eq(ev.items[0].somaxconn, 4096);
        ck_assert_int_eq(ev.items[1].kind, EVENT_COUNTER);
        ck_assert_int_eq(ev.items[1].counter, NETSTAT_LISTEN_DROPS);
        ck_assert_uint_eq(ev.items[1].increase, 7);

        k.value[NETSTAT_TCP_REQQ_FULL_DROP] = 11;
        k.value[NETSTAT_TCP_REQQ_FULL_DO_COOKIES] = 13;
        ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, 3 * SEC, &ev), 2);
        ck_assert_int_eq(ev.items[0].counter, NETSTAT_TCP_REQQ_FULL_DROP);
        ck_assert_uint_eq(ev.items[0].increase, 1);
        ck_assert_uint_eq(ev.items[0].period_usec, 1 * SEC);
        ck_assert_int_eq(ev.items[1].counter, NETSTAT_TCP_REQQ_FULL_DO_COOKIES);
        ck_assert_uint_eq(ev.items[1].increase, 3);

        /* ListenOverflows again within its window: summed, flushed at 62 s */
        k.value[NETSTAT_LISTEN_OVERFLOWS] = 20;
        ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, 4 * SEC, &ev), 0);
        k.value[NETSTAT_LISTEN_OVERFLOWS] = 21;
        ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, 61 * SEC, &ev), 0);
        ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, 62 * SEC, &ev), 1);
        ck_assert_int_eq(ev.items[0].counter, NETSTAT_LISTEN_OVERFLOWS);
        ck_assert_uint_eq(ev.items[0].increase, 6);
        ck_assert_uint_eq(ev.items[0].period_usec, 60 * SEC);

        /* a poll without counters neither reports nor loses the baseline */
        k.value[NETSTAT_LISTEN_DROPS] = 27;
        ck_assert_uint_eq(step_full(p, c, NULL, 0, NULL, 100 * SEC, &ev), 0);
        ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, 200 * SEC, &ev), 1);
        ck_assert_int_eq(ev.items[0].counter, NETSTAT_LISTEN_DROPS);
        ck_assert_uint_eq(ev.items[0].increase, 10);
        ck_assert_uint_eq(ev.items[0].period_usec, 138 * SEC);
}
END_TEST

START_TEST(test_counters_backwards_absent_off) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        NetstatCounters k = counters_all(100);

        ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, 0, &ev), 0);
        k.value[NETSTAT_LISTEN_OVERFLOWS] = 50; /* namespace recreated */
        ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, 1 * SEC, &ev), 0);
        k.value[NETSTAT_LISTEN_OVERFLOWS] = 60;
        ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, 2 * SEC, &ev), 1);
        ck_assert_int_eq(ev.items[0].counter, NETSTAT_LISTEN_OVERFLOWS);
        ck_assert_uint_eq(ev.items[0].increase, 10);

        /* absent: ignored, and a new baseline when it comes back */
        k.present[NETSTAT_LISTEN_DROPS] = false;
        k.value[NETSTAT_LISTEN_DROPS] = 500;
        ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, 3 * SEC, &ev), 0);
        k.present[NETSTAT_LISTEN_DROPS] = true;
        ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, 4 * SEC, &ev), 0);
        k.value[NETSTAT_LISTEN_DROPS] = 501;
        ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, 5 * SEC, &ev), 1);
        ck_assert_int_eq(ev.items[0].counter, NETSTAT_LISTEN_DROPS);
        ck_assert_uint_eq(ev.items[0].increase, 1);

        /* counters = false: nothing at all */
        c->counters = false;
        for (uint64_t t = 6; t < 200; t++) {
                k = counters_all(1000 * t);
                ck_assert_uint_eq(step_full(p, c, NULL, 0, &k, t * SEC, &ev), 0);
        }
}
END_TEST

START_TEST(test_gone) {
        _cleanup_(config_freep) Config *c = config_watch();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener ls[3];

        ls[0] = mk(1, 7, 80, 10, 9); /* raised */
        ls[1] = mk(1, 8, 80, 0, 9);  /* ok */
        ls[2] = mk(2, 1, 443, 0, 9); /* ok, other netns */
        ck_assert_uint_eq(step(p, c, ls, 3, 0, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 7);

        /* all three go; one new one comes (sorted between them) */
        ls[0] = mk(1, 9, 80, 0, 9);
        ck_assert_uint_eq(step(p, c, ls, 1, 1 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_GONE, false, 7);
        ck_assert_uint_eq(ev.items[0].listener.netns, 1);
        ck_assert_uint_eq(ev.items[0].listener.depth, 10);
        ck_assert_str_eq(ev.items[0].name, "web");
        ck_assert_uint_eq(policy_n_raised(p), 0);
        ck_assert_uint_eq(step(p, c, NULL, 0, 2 * SEC, &ev), 0);
}
END_TEST

START_TEST(test_gone_with_pending_drops) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };

        ck_assert_uint_eq(step1(p, c, mkd(1, 10, 9, 0), 0, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 1);
        ck_assert_uint_eq(step1(p, c, mkd(1, 10, 9, 1), 1 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_DROPS, false, 1);
        ck_assert_uint_eq(step1(p, c, mkd(1, 10, 9, 4), 2 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(1, 10, 9, 6), 3 * SEC, &ev), 0);
        ck_assert_uint_eq(step(p, c, NULL, 0, 4 * SEC, &ev), 2);
        check_event(&ev.items[0], EVENT_DROPS, false, 1);
        ck_assert_uint_eq(ev.items[0].drops, 5);
        ck_assert_uint_eq(ev.items[0].period_usec, 2 * SEC); /* 1 s .. last seen at 3 s */
        ck_assert_uint_eq(ev.items[0].end_usec, 3 * SEC);
        check_event(&ev.items[1], EVENT_GONE, false, 1);

        /* not raised, pending drops: the drops only */
        ck_assert_uint_eq(step1(p, c, mkd(2, 0, 9, 0), 10 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(2, 0, 9, 1), 11 * SEC, &ev), 1);
        ck_assert_uint_eq(step1(p, c, mkd(2, 0, 9, 2), 12 * SEC, &ev), 0);
        ck_assert_uint_eq(step(p, c, NULL, 0, 13 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_DROPS, false, 2);
        ck_assert_uint_eq(ev.items[0].drops, 1);
}
END_TEST

START_TEST(test_unwatched_after_reload_is_gone) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(config_freep) Config *reloaded = config_watch(); /* port 22 not watched */
        _cleanup_(event_list_done) EventList ev = { 0 };

        ck_assert_uint_eq(step1(p, c, mk(0, 1, 22, 10, 9), 0, &ev), 1);
        ck_assert_uint_eq(step1(p, reloaded, mk(0, 1, 22, 10, 9), 1 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_GONE, false, 1);
        ck_assert_str_eq(ev.items[0].name, "");
        ck_assert_uint_eq(step1(p, reloaded, mk(0, 1, 22, 10, 9), 2 * SEC, &ev), 0);
        ck_assert_uint_eq(policy_n_raised(p), 0);
}
END_TEST

/* After a reload, a raised listener that still listens but is no longer
 * selected is GONE_UNWATCHED ("no longer watched", not "stopped
 * listening"), under the name it had. */
START_TEST(test_reload_unwatched_keeps_name) {
        _cleanup_(config_freep) Config *c = config_watch();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(config_freep) Config *reloaded = config_text("watch = ( { port = 443; } );");
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener l = mk(0, 1, 80, 10, 9);
        Snapshot s = { .listeners = { .items = &l, .n = 1, .cap = 1 }, .time_usec = 1 * SEC };

        ck_assert_uint_eq(step1(p, c, l, 0, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 1);
        event_list_clear(&ev);
        ck_assert_int_eq(policy_step(p, reloaded, &s, true, &ev), 1);
        check_event(&ev.items[0], EVENT_GONE, false, 1);
        ck_assert_int_eq(ev.items[0].gone, GONE_UNWATCHED);
        ck_assert_str_eq(ev.items[0].name, "web");
        s.time_usec = 2 * SEC;
        event_list_clear(&ev);
        ck_assert_int_eq(policy_step(p, reloaded, &s, false, &ev), 0);
        ck_assert_uint_eq(policy_n_raised(p), 0);
}
END_TEST

/* A queue that alternates full/empty on every poll, 60 polls at 1 s
 * (t = 0 … 59 s): 4 messages at once (burst), then one per token earned
 * every 15 s. The tokens earned at 15, 30 and 45 s arrive on polls that are
 * back at the reported state, so they are spent one poll later. Exactly 7
 * events: FULL@0 CLEARED@1 FULL@2 CLEARED@3 FULL@16 CLEARED@31 FULL@46.
 * The general bound is POLICY_BURST + T / POLICY_TOKEN_USEC state messages
 * in any window of length T (8 for 60 s). */
START_TEST(test_flapping) {
        static const struct {
                uint64_t t;
                EventKind kind;
        } want[] = {
                { 0, EVENT_FULL },  { 1, EVENT_CLEARED },  { 2, EVENT_FULL },  { 3, EVENT_CLEARED },
                { 16, EVENT_FULL }, { 31, EVENT_CLEARED }, { 46, EVENT_FULL },
        };
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        size_t n = 0;

        for (uint64_t t = 0; t < 60; t++) {
                size_t k = step1(p, c, mk(0, 1, 80, t % 2 == 0 ? 10 : 0, 9), t * SEC, &ev);

                ck_assert_uint_le(k, 1);
                if (k == 1) {
                        ck_assert_uint_lt(n, ELEMENTSOF(want));
                        ck_assert_uint_eq(t, want[n].t);
                        check_event(&ev.items[0], want[n].kind, false, 1);
                        n++;
                }
        }
        ck_assert_uint_eq(n, 7);
}
END_TEST

/* A queue constantly full and dropping (+10 drops per poll) for 5 minutes,
 * 301 polls at 1 s (t = 0 … 300 s), default repeat 300 s: exactly 7 events:
 * FULL@0, DROPS 10@1 (period 1 s), DROPS 600@61, 600@121, 600@181, 600@241
 * (period 60 s each), FULL reminder@300. With the four listen host
 * counters rising as well (+5 per poll), 5 more for each: 27. */
START_TEST(test_constantly_full_and_dropping) {
        for (int with_counters = 0; with_counters <= 1; with_counters++) {
                Config *c = config();
                Policy *p = NULL;
                EventList ev = { 0 };
                size_t n = 0, n_full = 0, n_reminder = 0, n_drops = 0, n_counter = 0;
                uint64_t sum = 0;

                ck_assert_int_eq(policy_new(&p), 0);
                for (uint64_t t = 0; t <= 300; t++) {
                        NetstatCounters k = counters_all(5 * t);
                        size_t m = step_full(p, c, (Listener[]){ mkd(1, 10, 9, (uint32_t) (10 * t)) }, 1,
                                             with_counters ? &k : NULL, t * SEC, &ev);

                        for (size_t i = 0; i < m; i++) {
                                const Event *e = &ev.items[i];

                                switch (e->kind) {
                                case EVENT_FULL:
                                        ck_assert_uint_eq(t, e->reminder ? 300 : 0);
                                        n_full += !e->reminder;
                                        n_reminder += e->reminder;
                                        break;
                                case EVENT_DROPS:
                                        ck_assert(t == 1 || (t - 1) % 60 == 0);
                                        ck_assert_uint_eq(e->drops, t == 1 ? 10 : 600);
                                        ck_assert_uint_eq(e->period_usec, t == 1 ? SEC : 60 * SEC);
                                        sum += e->drops;
                                        n_drops++;
                                        break;
                                case EVENT_COUNTER:
                                        ck_assert(e->counter == NETSTAT_LISTEN_OVERFLOWS ||
                                                  e->counter == NETSTAT_LISTEN_DROPS ||
                                                  e->counter == NETSTAT_TCP_REQQ_FULL_DROP ||
                                                  e->counter == NETSTAT_TCP_REQQ_FULL_DO_COOKIES);
                                        ck_assert_uint_eq(e->increase, t == 1 ? 5 : 300);
                                        n_counter++;
                                        break;
                                default:
                                        ck_abort_msg("unexpected event %s at %llu s", event_kind_name(e->kind),
                                                     (unsigned long long) t);
                                }
                        }
                        n += m;
                }
                ck_assert_uint_eq(n_full, 1);
                ck_assert_uint_eq(n_reminder, 1);
                ck_assert_uint_eq(n_drops, 5);
                ck_assert_uint_eq(sum, 2410);
                /* all four listen counters rise in counters_all() */
                ck_assert_uint_eq(n_counter, with_counters ? 20 : 0);
                ck_assert_uint_eq(n, with_counters ? 27 : 7);
                event_list_done(&ev);
                policy_free(p);
                config_free(c);
        }
}
END_TEST

START_TEST(test_merge_keys) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener ls[4];

        ls[0] = mk(1, 5, 80, 10, 9);
        ls[1] = mk(2, 1, 80, 0, 9);
        ls[2] = mk(2, 3, 80, 8, 9);
        ck_assert_uint_eq(step(p, c, ls, 3, 0, &ev), 2);
        check_event(&ev.items[0], EVENT_FULL, false, 5);
        check_event(&ev.items[1], EVENT_HIGH, false, 3);
        ck_assert_uint_eq(policy_n_raised(p), 2);

        /* (2,1) goes, (2,2) and (3,0) arrive full, (1,5) and (2,3) keep
         * their state: nothing for them */
        ls[0] = mk(1, 5, 80, 10, 9);
        ls[1] = mk(2, 2, 80, 10, 9);
        ls[2] = mk(2, 3, 80, 8, 9);
        ls[3] = mk(3, 0, 80, 10, 9);
        ck_assert_uint_eq(step(p, c, ls, 4, 1 * SEC, &ev), 2);
        check_event(&ev.items[0], EVENT_FULL, false, 2);
        ck_assert_uint_eq(ev.items[0].listener.netns, 2);
        check_event(&ev.items[1], EVENT_FULL, false, 0);
        ck_assert_uint_eq(ev.items[1].listener.netns, 3);
        ck_assert_uint_eq(policy_n_raised(p), 4);

        /* all but the last go: three raised ones are gone */
        ck_assert_uint_eq(step(p, c, &ls[3], 1, 2 * SEC, &ev), 3);
        /* gone listeners come in no particular order */
        {
                unsigned seen = 0;

                for (size_t i = 0; i < 3; i++) {
                        const Listener *l = &ev.items[i].listener;

                        ck_assert_int_eq(ev.items[i].kind, EVENT_GONE);
                        ck_assert(!ev.items[i].reminder);
                        if (l->netns == 1 && l->cookie == 5)
                                seen |= 1;
                        else if (l->netns == 2 && l->cookie == 2)
                                seen |= 2;
                        else if (l->netns == 2 && l->cookie == 3)
                                seen |= 4;
                }
                ck_assert_uint_eq(seen, 7);
        }
        ck_assert_uint_eq(policy_n_raised(p), 1);
}
END_TEST

START_TEST(test_steady_state_no_alloc) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener ls[50];
        size_t n = 0, allocs = 0;
        int r_min = 0;

        for (unsigned i = 0; i < 50; i++)
                ls[i] = mkd(i, 10, 9, 0);
        /* warm up: both state buffers and the event list reach their size
         * (99 events at t = 2: 50 CLEARED, 49 DROPS) */
        for (uint64_t t = 0; t <= 102; t++) {
                Snapshot s = {
                        .listeners = { .items = ls, .n = 50, .cap = 50 },
                        .time_usec = t * SEC,
                };
                int r;

                if (t >= 2)
                        for (unsigned i = 0; i < 50; i++) {
                                ls[i].depth = t % 2 ? 10 : 0;
                                ls[i].drops += i;
                        }
#if ALLOC_COUNT_WRAPPERS
                if (t == 3)
                        allocs = n_allocs;
#endif
                event_list_clear(&ev);
                /* no ck_assert in here: check itself allocates */
                r = policy_step(p, c, &s, false, &ev);
                if (r < r_min)
                        r_min = r;
                if (t >= 3)
                        n += (size_t) r;
        }
#if ALLOC_COUNT_WRAPPERS
        allocs = n_allocs - allocs;
#endif
        ck_assert_int_eq(r_min, 0);
        ck_assert_uint_eq(allocs, 0);
        /* per listener over t = 3..102: state messages at 3, 4 (last of the
         * burst), then one per token at 15, 30, 45, 60, 75, 90; drops at 62
         * (listener 0 never drops) */
        ck_assert_uint_eq(n, 50 * 8 + 49);
        ck_assert_uint_eq(policy_n_raised(p), 0); /* t = 102: empty */
}
END_TEST

/* Streams one poll through begin/observe/end with somaxconn 4096; returns
 * policy_end()'s result, which must match what was appended. */
/* Observes ls, ends the poll with end (policy_end, policy_end_partial) and
 * checks its return value against ev. */
static size_t observe_all(Policy *p, const Config *c, const Listener *ls, size_t n, EventList *ev,
                          int (*end)(Policy *p, EventList *out)) {
        int r;

        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(observe(p, c, &ls[i], ev), 0);
        r = end(p, ev);
        ck_assert_int_ge(r, 0);
        ck_assert_uint_eq((size_t) r, ev->n);
        return ev->n;
}

static size_t stream(Policy *p, const Config *c, const Listener *ls, size_t n, uint64_t t, EventList *ev) {
        NetstatSysctls sys = { 0 };

        sys.present[SYSCTL_SOMAXCONN] = true;
        sys.value[SYSCTL_SOMAXCONN] = 4096;
        event_list_clear(ev);
        policy_begin(p, c, t, false);
        policy_netns(p, 0, &sys);
        return observe_all(p, c, ls, n, ev, policy_end);
}

START_TEST(test_stream_duplicates) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener ls[5];

        /* the raised listener twice (the second copy already emptied, as a
         * dump that overlaps a change may show), the ok one three times */
        ls[0] = mkd(1, 10, 9, 0);
        ls[1] = mkd(2, 0, 9, 0);
        ls[2] = mkd(1, 0, 9, 50);
        ls[3] = mkd(2, 0, 9, 70);
        ls[4] = mkd(2, 0, 9, 70);
        ck_assert_uint_eq(stream(p, c, ls, 5, 0, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 1);
        ck_assert_uint_eq(ev.items[0].listener.depth, 10);
        ck_assert_uint_eq(policy_n_watched(p), 2);
        ck_assert_uint_eq(policy_n_raised(p), 1);

        /* the baselines are those of the first copies (0 and 0) */
        ls[0] = mkd(1, 10, 9, 4);
        ls[1] = mkd(2, 0, 9, 3);
        ck_assert_uint_eq(stream(p, c, ls, 2, 1 * SEC, &ev), 2);
        check_event(&ev.items[0], EVENT_DROPS, false, 1);
        ck_assert_uint_eq(ev.items[0].drops, 4);
        check_event(&ev.items[1], EVENT_DROPS, false, 2);
        ck_assert_uint_eq(ev.items[1].drops, 3);

        /* the same cookie in two namespaces is two listeners; the two of
         * netns 0 are gone, GONE for the raised one */
        ls[0] = mk(7, 1, 80, 10, 9);
        ls[1] = mk(8, 1, 80, 10, 9);
        ls[2] = mk(7, 1, 80, 10, 9);
        ck_assert_uint_eq(stream(p, c, ls, 3, 2 * SEC, &ev), 3);
        check_event(&ev.items[0], EVENT_FULL, false, 1);
        ck_assert_uint_eq(ev.items[0].listener.netns, 7);
        check_event(&ev.items[1], EVENT_FULL, false, 1);
        ck_assert_uint_eq(ev.items[1].listener.netns, 8);
        check_event(&ev.items[2], EVENT_GONE, false, 1);
        ck_assert_uint_eq(ev.items[2].listener.netns, 0);
        ck_assert_uint_eq(policy_n_watched(p), 2);
        ck_assert_uint_eq(policy_n_raised(p), 2);
}
END_TEST

START_TEST(test_abort) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener ls[3];

        ls[0] = mkd(1, 10, 9, 0); /* raised */
        ls[1] = mkd(2, 0, 9, 0);
        ls[2] = mkd(3, 0, 9, 0);
        ck_assert_uint_eq(stream(p, c, ls, 3, 0, &ev), 1);
        ck_assert_uint_eq(policy_n_raised(p), 1);
        ck_assert_uint_eq(policy_n_watched(p), 3);

        /* the dump breaks after one listener: nothing is gone */
        event_list_clear(&ev);
        policy_begin(p, c, 1 * SEC, false);
        policy_netns(p, 0, NULL);
        ls[2].drops = 5;
        ck_assert_int_eq(observe(p, c, &ls[2], &ev), 0);
        policy_abort(p);
        ck_assert_uint_eq(ev.n, 1); /* the rise stands */
        check_event(&ev.items[0], EVENT_DROPS, false, 3);
        ck_assert_uint_eq(ev.items[0].period_usec, 1 * SEC);
        ck_assert_int_eq(ev.items[0].somaxconn, -1);
        /* the last completed poll still speaks */
        ck_assert_uint_eq(policy_n_raised(p), 1);
        ck_assert_uint_eq(policy_n_watched(p), 3);

        /* the next poll sees all three again: no duplicate suppression
         * left over from the aborted poll, listener 3's rise is not counted
         * twice, and listener 2's rise covers the two seconds since it was
         * last seen */
        ls[1].drops = 2;
        ls[2].drops = 5;
        ck_assert_uint_eq(stream(p, c, ls, 3, 2 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_DROPS, false, 2);
        ck_assert_uint_eq(ev.items[0].drops, 2);
        ck_assert_uint_eq(ev.items[0].period_usec, 2 * SEC);
        ck_assert_uint_eq(policy_n_raised(p), 1);
        ck_assert_uint_eq(policy_n_watched(p), 3);

        /* an aborted poll, then one without the raised listener: GONE */
        event_list_clear(&ev);
        policy_begin(p, c, 3 * SEC, false);
        policy_netns(p, 0, NULL);
        policy_abort(p);
        ck_assert_uint_eq(ev.n, 0);
        ck_assert_uint_eq(stream(p, c, &ls[1], 2, 4 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_GONE, false, 1);
        ck_assert_uint_eq(policy_n_raised(p), 0);
        ck_assert_uint_eq(policy_n_watched(p), 2);
}
END_TEST

/* The gen counter wraps after 65,535 polls: no listener may then look
 * seen, or gone. */
START_TEST(test_gen_wrap) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener ls[2] = { mk(0, 1, 80, 10, 9), mk(0, 2, 80, 0, 9) };
        size_t n = 0;

        c->repeat_usec = 0;
        for (uint64_t t = 0; t < 70000; t++) {
                Snapshot s = {
                        .listeners = { .items = ls, .n = 2, .cap = 2 },
                        .time_usec = t * SEC,
                };
                int r;

                event_list_clear(&ev);
                r = policy_step(p, c, &s, false, &ev);
                if (r != 0 || t == 0)
                        ck_assert_int_eq(r, t == 0 ? 1 : 0);
                n += (size_t) r;
        }
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(policy_n_raised(p), 1);
        ck_assert_uint_eq(policy_n_watched(p), 2);
        ck_assert_uint_eq(step(p, c, &ls[1], 1, 70000 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_GONE, false, 1);

        /* A listener last seen 65,535 polls ago (all aborted since) must not
         * look seen when the counter comes round to its poll again. */
        ck_assert_uint_eq(step(p, c, &ls[1], 1, 70001 * SEC, &ev), 0);
        for (uint64_t t = 70002; t < 70002 + 65534; t++) {
                policy_begin(p, c, t * SEC, false);
                policy_netns(p, 0, NULL);
                policy_abort(p);
        }
        ls[1].depth = 10;
        ck_assert_uint_eq(step(p, c, &ls[1], 1, 200000 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 2);
        ck_assert_uint_eq(policy_n_raised(p), 1);
}
END_TEST

static uint64_t rng_state;

static uint32_t rng(void) {
        rng_state = rng_state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        return (uint32_t) (rng_state >> 33);
}

static int event_cmp(const void *a_, const void *b_) {
        const Event *a = a_, *b = b_;
        uint64_t ka[] = { a->kind,     a->listener.netns, a->listener.cookie, a->reminder,
                          a->drops,    a->period_usec,    a->counter,         a->increase,
                          a->fill_pct, a->listener.depth, a->listener.drops,  (uint64_t) (unsigned char) a->name[0] };
        uint64_t kb[] = { b->kind,     b->listener.netns, b->listener.cookie, b->reminder,
                          b->drops,    b->period_usec,    b->counter,         b->increase,
                          b->fill_pct, b->listener.depth, b->listener.drops,  (uint64_t) (unsigned char) b->name[0] };

        for (size_t i = 0; i < ELEMENTSOF(ka); i++)
                if (ka[i] != kb[i])
                        return ka[i] < kb[i] ? -1 : 1;
        return 0;
}

/* The same polls fed in (netns, cookie) order and shuffled, with
 * duplicates, give the same events (as a set) on every poll. */
START_TEST(test_order_independent) {
        enum { N = 300 };
        Config *c = config_watch();
        Policy *p[2] = { NULL, NULL };
        EventList ev[2] = { { 0 }, { 0 } };
        Listener pop[N], shuffled[N + N / 10];
        uint64_t next_cookie = N;
        size_t total = 0, kinds[_EVENT_KIND_MAX] = { 0 };

        c->repeat_usec = 20 * SEC;
        rng_state = 42;
        ck_assert_int_eq(policy_new(&p[0]), 0);
        ck_assert_int_eq(policy_new(&p[1]), 0);
        for (size_t i = 0; i < N; i++) {
                pop[i] = mkd(i, 0, 9, 0);
                pop[i].netns = i % 3;
                pop[i].port = i % 4 == 0 ? 443 : 80;
        }
        for (uint64_t t = 0; t < 300; t++) {
                size_t m = N;

                for (size_t i = 0; i < N; i++) {
                        uint32_t x = rng() % 100;

                        if (x < 1) /* replaced by a new socket */
                                pop[i].cookie = next_cookie++;
                        pop[i].depth = x < 60 ? 0 : x < 80 ? rng() % 10 : 10;
                        if (rng() % 4 == 0)
                                pop[i].drops += rng() % 5;
                }
                /* keep pop sorted by (netns, cookie): insertion sort */
                for (size_t i = 1; i < N; i++)
                        for (size_t j = i;
                             j > 0 && (pop[j - 1].netns > pop[j].netns ||
                                       (pop[j - 1].netns == pop[j].netns && pop[j - 1].cookie > pop[j].cookie));
                             j--) {
                                Listener tmp = pop[j];

                                pop[j] = pop[j - 1];
                                pop[j - 1] = tmp;
                        }
                memcpy(shuffled, pop, sizeof(pop));
                for (size_t i = 0; i < N / 10; i++)
                        shuffled[m++] = pop[rng() % N];
                for (size_t i = m - 1; i > 0; i--) {
                        size_t j = rng() % (i + 1);
                        Listener tmp = shuffled[i];

                        shuffled[i] = shuffled[j];
                        shuffled[j] = tmp;
                }
                stream(p[0], c, pop, N, t * SEC, &ev[0]);
                stream(p[1], c, shuffled, m, t * SEC, &ev[1]);
                ck_assert_uint_eq(ev[0].n, ev[1].n);
                qsort(ev[0].items, ev[0].n, sizeof(Event), event_cmp);
                qsort(ev[1].items, ev[1].n, sizeof(Event), event_cmp);
                for (size_t i = 0; i < ev[0].n; i++) {
                        ck_assert_int_eq(event_cmp(&ev[0].items[i], &ev[1].items[i]), 0);
                        kinds[ev[0].items[i].kind]++;
                }
                total += ev[0].n;
                ck_assert_uint_eq(policy_n_raised(p[0]), policy_n_raised(p[1]));
                ck_assert_uint_eq(policy_n_watched(p[0]), N);
                ck_assert_uint_eq(policy_n_watched(p[1]), N);
        }
        /* the scenario exercises every kind of listener event */
        ck_assert_uint_gt(kinds[EVENT_HIGH], 0);
        ck_assert_uint_gt(kinds[EVENT_FULL], 0);
        ck_assert_uint_gt(kinds[EVENT_CLEARED], 0);
        ck_assert_uint_gt(kinds[EVENT_DROPS], 0);
        ck_assert_uint_gt(kinds[EVENT_GONE], 0);
        ck_assert_uint_gt(total, 1000);
        for (int i = 0; i < 2; i++) {
                event_list_done(&ev[i]);
                policy_free(p[i]);
        }
        config_free(c);
}
END_TEST

static uint64_t mono_nsec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* The performance issue's population: 10,000 listeners, 100 of them full,
 * 10 dropping one connection a poll, for 100 polls at 1 s. */
START_TEST(test_10000_listeners) {
        enum { N = 10000, POLLS = 100 };
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener *ls = calloc(N, sizeof(Listener));
        size_t n_events = 0, allocs = 0, mem, mem_steady = 0;
        uint64_t ns = 0;
        int r_min = 0;

        ck_assert_ptr_nonnull(ls);
        for (size_t i = 0; i < N; i++) {
                /* cookies as the kernel hands them out: sequential */
                ls[i] = mkd(4096 + i, i % 100 == 0 ? 10 : 3, 9, 0);
                ls[i].netns = 4026531840ULL + i % 2;
        }
        for (uint64_t t = 0; t < POLLS; t++) {
                uint64_t t0;
                int r;

                for (size_t i = 1; i < N; i += 1000)
                        ls[i].drops++;
#if ALLOC_COUNT_WRAPPERS
                if (t == 2)
                        allocs = n_allocs;
#endif
                event_list_clear(&ev);
                t0 = mono_nsec();
                policy_begin(p, c, t * SEC, false);
                policy_netns(p, 0, NULL);
                for (size_t i = 0; i < N; i++)
                        if (observe(p, c, &ls[i], &ev) < 0)
                                r_min = -1;
                r = policy_end(p, &ev);
                if (t >= 2)
                        ns += mono_nsec() - t0;
                if (r < r_min)
                        r_min = r;
                if (t == 2)
                        mem_steady = policy_memory_bytes(p);
                n_events += (size_t) r;
        }
#if ALLOC_COUNT_WRAPPERS
        allocs = n_allocs - allocs;
#endif
        ck_assert_int_eq(r_min, 0);
        ck_assert_uint_eq(allocs, 0);
        /* 100 FULL at t = 0; each dropping listener: 1 at t = 0 → first
         * rise at t = 1 (period 1 s), then the sum at t = 61 */
        ck_assert_uint_eq(n_events, 100 + 10 * 2);
        ck_assert_uint_eq(policy_n_raised(p), 100);
        ck_assert_uint_eq(policy_n_watched(p), N);

        mem = policy_memory_bytes(p);
        ck_assert_uint_eq(mem, mem_steady);
        /* ≤ 60 bytes a listener, hash slack and the records of the 110
         * listeners with history included */
        ck_assert_uint_le(mem, 60 * N);
        printf("policy: %d listeners: %zu bytes (%.1f per listener), %.1f ns per observe (incl. begin/end)\n", N, mem,
               (double) mem / N, (double) ns / ((POLLS - 2) * (double) N));
        free(ls);
}
END_TEST

/* Half the population is replaced on every poll for 1,000 polls: memory
 * reaches a plateau (no growth of pool or table, no tombstones), the steady
 * state allocates nothing, and the persistent half loses nothing. */
START_TEST(test_churn) {
        enum { N = 1000, POLLS = 1000 };
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener ls[2 * N];
        size_t allocs = 0, mem_steady = 0, n_events = 0, n_full = 0, n_gone = 0;
        int r_min = 0;

        c->repeat_usec = 0;
        for (size_t i = 0; i < N; i++)
                ls[i] = mk(0, 1 + 2 * i, 80, i % 10 == 0 ? 10 : 0, 9); /* persistent: odd cookies */
        for (uint64_t t = 0; t < POLLS; t++) {
                Snapshot s = {
                        .listeners = { .items = ls, .n = 2 * N, .cap = 2 * N },
                        .time_usec = t * SEC,
                };
                int r;

                for (size_t i = 0; i < N; i++) /* new sockets: even cookies */
                        ls[N + i] = mk(0, 2 * (t * N + i) + 2, 80, i % 10 == 0 ? 10 : 0, 9);
#if ALLOC_COUNT_WRAPPERS
                if (t == 10)
                        allocs = n_allocs;
#endif
                event_list_clear(&ev);
                r = policy_step(p, c, &s, false, &ev);
                if (r < r_min)
                        r_min = r;
                for (size_t i = 0; i < ev.n; i++) {
                        n_full += ev.items[i].kind == EVENT_FULL;
                        n_gone += ev.items[i].kind == EVENT_GONE && ev.items[i].listener.cookie % 2 == 0;
                }
                n_events += ev.n;
                if (t == 10)
                        mem_steady = policy_memory_bytes(p);
        }
#if ALLOC_COUNT_WRAPPERS
        allocs = n_allocs - allocs;
#endif
        ck_assert_int_eq(r_min, 0);
        ck_assert_uint_eq(allocs, 0);
        /* 200 FULL at t = 0, then 100 FULL (new) + 100 GONE (replaced) a poll */
        ck_assert_uint_eq(n_full, 200 + 100 * (POLLS - 1));
        ck_assert_uint_eq(n_gone, 100 * (POLLS - 1));
        ck_assert_uint_eq(n_events, n_full + n_gone);
        ck_assert_uint_eq(policy_n_raised(p), 200);
        ck_assert_uint_eq(policy_n_watched(p), 2 * N);
        ck_assert_uint_eq(policy_memory_bytes(p), mem_steady);
        /* up to 3,000 keys during a poll (2,000 stay, 1,000 arrive): 8,192
         * slots of 32 bytes at 70 % load; 300 raised: 512 records of at
         * most 256 bytes (a Listener copy, UNIX path included) */
        ck_assert_uint_le(policy_memory_bytes(p), 8192 * 32 + 512 * sizeof_active() + 4096);

        /* everything goes: the 200 raised get GONE, and memory stays */
        ck_assert_uint_eq(step(p, c, NULL, 0, POLLS * SEC, &ev), 200);
        ck_assert_uint_eq(policy_n_watched(p), 0);
        ck_assert_uint_eq(policy_memory_bytes(p), mem_steady);
}
END_TEST

static NetstatSysctls somaxconn(int64_t v) {
        NetstatSysctls sys = { 0 };

        sys.present[SYSCTL_SOMAXCONN] = true;
        sys.value[SYSCTL_SOMAXCONN] = v;
        return sys;
}

/* One poll of one namespace with its somaxconn (< 0: unknown). */
static size_t poll_ns(Policy *p, const Config *c, uint64_t netns, int64_t max, const Listener *ls, size_t n,
                      uint64_t t, bool reconfigured, EventList *ev) {
        NetstatSysctls sys = somaxconn(max);
        int r;

        event_list_clear(ev);
        policy_begin(p, c, t, reconfigured);
        policy_netns(p, netns, max >= 0 ? &sys : NULL);
        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(observe(p, c, &ls[i], ev), 0);
        r = policy_end(p, ev);
        ck_assert_int_eq(r, (int) ev->n);
        return ev->n;
}

/* A listener that appears after the first poll reports the drops its
 * counter holds: they all happened since it was created (it overflowed and
 * drained between two polls). In the first poll, or after a reload, a new
 * listener may have existed unseen: only a baseline. */
START_TEST(test_new_listener_drops) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener ls[3] = { mkd(1, 0, 9, 5), mkd(2, 0, 9, 6), mkd(3, 0, 9, 3) };

        ck_assert_uint_eq(poll_ns(p, c, 0, 4096, ls, 1, 0, false, &ev), 0);
        ck_assert_uint_eq(poll_ns(p, c, 0, 4096, ls, 2, 1 * SEC, false, &ev), 1);
        check_event(&ev.items[0], EVENT_DROPS, false, 2);
        ck_assert_uint_eq(ev.items[0].drops, 6);
        ck_assert_uint_eq(ev.items[0].period_usec, 1 * SEC);
        /* newly selected by a new configuration: not new */
        ck_assert_uint_eq(poll_ns(p, c, 0, 4096, ls, 3, 2 * SEC, true, &ev), 0);
        /* a namespace's first poll sets baselines too */
        ls[0].netns = 7;
        ck_assert_uint_eq(poll_ns(p, c, 7, 4096, ls, 1, 3 * SEC, false, &ev), 0);
}
END_TEST

/* An alert that could not be written comes again at the next poll, not
 * after `repeat`; so do drops. */
START_TEST(test_retry) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener l = mkd(1, 10, 9, 0);
        Event lost;

        ck_assert_uint_eq(step1(p, c, l, 0, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 1);
        lost = ev.items[0];
        ck_assert(policy_retry(p, &lost));
        ck_assert_uint_eq(step1(p, c, l, 1 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 1);
        /* written this time: nothing more */
        ck_assert_uint_eq(step1(p, c, l, 2 * SEC, &ev), 0);
        l.drops = 5;
        ck_assert_uint_eq(step1(p, c, l, 3 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_DROPS, false, 1);
        lost = ev.items[0];
        ck_assert(policy_retry(p, &lost));
        ck_assert_uint_eq(step1(p, c, l, 4 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_DROPS, false, 1);
        ck_assert_uint_eq(ev.items[0].drops, 5);
        /* what cannot be said again says so: the caller sums it */
        lost.kind = EVENT_COUNTER;
        ck_assert(!policy_retry(p, &lost));
        lost.kind = EVENT_GONE;
        ck_assert(!policy_retry(p, &lost));
        lost = ev.items[0];
        lost.listener.cookie = 999; /* a listener it does not track */
        ck_assert(!policy_retry(p, &lost));
}
END_TEST

/* clamped only when somaxconn is what it was when the listener was first
 * seen: somaxconn lowered to a listener's backlog later did not cut it. */
START_TEST(test_clamped_only_if_somaxconn_unchanged) {
        _cleanup_(config_freep) Config *c = config();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener ls[2] = { mk(0, 1, 80, 0, 50), mk(0, 2, 81, 51, 50) };

        ck_assert_uint_eq(poll_ns(p, c, 0, 128, ls, 1, 0, false, &ev), 0);
        ls[0].depth = 51;
        /* somaxconn is 50 now; the listener was seen when it was 128 */
        ck_assert_uint_eq(poll_ns(p, c, 0, 50, ls, 2, 1 * SEC, false, &ev), 2);
        check_event(&ev.items[0], EVENT_FULL, false, 1);
        ck_assert(!ev.items[0].clamped);
        ck_assert_int_eq(ev.items[0].somaxconn, 50);
        check_event(&ev.items[1], EVENT_FULL, false, 2);
        ck_assert(ev.items[1].clamped);
}
END_TEST

/* A failed dump keeps its namespace's listeners; a dropped namespace's
 * raised listeners are GONE_NETNS; each namespace's events carry its own
 * sysctls. */
START_TEST(test_netns_keep_drop_sysctls) {
        _cleanup_(config_freep) Config *c = config_watch();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        NetstatSysctls s5 = somaxconn(9), s6 = somaxconn(1024);
        Listener a = mk(5, 1, 80, 10, 9), b = mk(6, 1, 80, 10, 9);

        policy_begin(p, c, 0, false);
        policy_netns(p, 5, &s5);
        ck_assert_int_eq(observe(p, c, &a, &ev), 0);
        policy_netns(p, 6, &s6);
        ck_assert_int_eq(observe(p, c, &b, &ev), 0);
        ck_assert_int_eq(policy_end(p, &ev), 2);
        check_event(&ev.items[0], EVENT_FULL, false, 1);
        ck_assert_uint_eq(ev.items[0].listener.netns, 5);
        ck_assert_int_eq(ev.items[0].somaxconn, 9);
        ck_assert(ev.items[0].clamped);
        ck_assert_str_eq(ev.items[0].name, "web");
        ck_assert_uint_eq(ev.items[1].listener.netns, 6);
        ck_assert_int_eq(ev.items[1].somaxconn, 1024);
        ck_assert(!ev.items[1].clamped);
        ck_assert_uint_eq(policy_n_raised(p), 2);

        /* 5's dump failed, 6 is dropped */
        event_list_clear(&ev);
        policy_begin(p, c, 1 * SEC, false);
        policy_keep_netns(p, 5);
        policy_drop_netns(p, 6);
        ck_assert_int_eq(policy_end(p, &ev), 1);
        check_event(&ev.items[0], EVENT_GONE, false, 1);
        ck_assert_uint_eq(ev.items[0].listener.netns, 6);
        ck_assert_int_eq(ev.items[0].gone, GONE_NETNS);
        ck_assert_uint_eq(policy_n_raised(p), 1);
        ck_assert_uint_eq(policy_n_watched(p), 1);

        /* 5 read again without it: it closed */
        event_list_clear(&ev);
        policy_begin(p, c, 2 * SEC, false);
        policy_netns(p, 5, &s5);
        ck_assert_int_eq(policy_end(p, &ev), 1);
        check_event(&ev.items[0], EVENT_GONE, false, 1);
        ck_assert_int_eq(ev.items[0].gone, GONE_CLOSED);
        ck_assert_uint_eq(policy_n_watched(p), 0);
}
END_TEST

/* policy_step() names the namespaces from the snapshot, for `netns`
 * entries. */
START_TEST(test_watch_netns) {
        _cleanup_(config_freep) Config *c = config_text("watch = ( { netns = \"web*\"; port = 80; } );");
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener ls[2] = { mk(0, 1, 80, 10, 9), mk(5, 1, 80, 10, 9) };
        Snapshot s = { .listeners = { .items = ls, .n = 2, .cap = 2 } };

        ck_assert_ptr_nonnull(snapshot_add_netns(&s, 5, "web1"));
        ck_assert_int_eq(policy_step(p, c, &s, false, &ev), 1);
        ck_assert_uint_eq(ev.items[0].listener.netns, 5);
        ck_assert_uint_eq(policy_n_watched(p), 1);
        free(s.netns[0].name);
        free(s.netns);
}
END_TEST

/* A partial poll (the daemon's fast polls): the listeners in ls only.
 * Clears ev first; checks the return value against it. */
static size_t partial(Policy *p, const Config *c, const Listener *ls, size_t n, uint64_t t, EventList *ev) {
        event_list_clear(ev);
        policy_begin_partial(p, c, t);
        return observe_all(p, c, ls, n, ev, policy_end_partial);
}

START_TEST(test_partial_decides_observed_only) {
        _cleanup_(config_freep) Config *c = config_watch();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener ls[2], l;

        ls[0] = mkd(7, 0, 9, 3);  /* ok, 3 drops before we knew it */
        ls[1] = mkd(8, 10, 9, 0); /* full */
        ck_assert_uint_eq(step(p, c, ls, 2, 0, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 8);
        ck_assert_uint_eq(policy_n_watched(p), 2);
        ck_assert_uint_eq(policy_n_raised(p), 1);

        /* 7 fills and drops 2 more: said at once; 8 is not read: not gone */
        l = mkd(7, 10, 9, 5);
        ck_assert_uint_eq(partial(p, c, &l, 1, SEC / 20, &ev), 2);
        check_event(&ev.items[0], EVENT_FULL, false, 7);
        ck_assert_uint_eq(ev.items[0].listener.depth, 10);
        check_event(&ev.items[1], EVENT_DROPS, false, 7);
        ck_assert_uint_eq(ev.items[1].drops, 2);
        ck_assert_uint_eq(ev.items[1].period_usec, SEC / 20);
        /* the counts stay the last full poll's */
        ck_assert_uint_eq(policy_n_watched(p), 2);
        ck_assert_uint_eq(policy_n_raised(p), 1);

        /* nothing observed: nothing gone; an unknown listener: ignored */
        ck_assert_uint_eq(partial(p, c, NULL, 0, 2 * SEC / 20, &ev), 0);
        l = mkd(99, 10, 9, 50);
        ck_assert_uint_eq(partial(p, c, &l, 1, 3 * SEC / 20, &ev), 0);

        /* the next full poll: 7 was said full and its drop baseline is 5,
         * 8 is still there: nothing new */
        ls[0] = mkd(7, 10, 9, 5);
        ck_assert_uint_eq(step(p, c, ls, 2, SEC, &ev), 0);
        ck_assert_uint_eq(policy_n_raised(p), 2);
        /* 8 closes: the full poll says gone */
        ck_assert_uint_eq(step(p, c, ls, 1, 2 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_GONE, false, 8);
}
END_TEST

/* Full and partial polls spend the same tokens (POLICY_BURST, one back
 * every POLICY_TOKEN_USEC). */
START_TEST(test_partial_shares_message_bound) {
        _cleanup_(config_freep) Config *c = config_watch();
        _cleanup_(policy_freep) Policy *p = policy();
        _cleanup_(event_list_done) EventList ev = { 0 };
        Listener full = mk(0, 7, 80, 10, 9), ok = mk(0, 7, 80, 0, 9);
        uint64_t t = 0;

        ck_assert_uint_eq(step1(p, c, ok, t, &ev), 0);
        /* four changes in fast polls: FULL, CLEARED, FULL, CLEARED */
        for (int i = 0; i < POLICY_BURST; i++) {
                t += SEC / 20;
                ck_assert_uint_eq(partial(p, c, i % 2 ? &ok : &full, 1, t, &ev), 1);
                check_event(&ev.items[0], i % 2 ? EVENT_CLEARED : EVENT_FULL, false, 7);
        }
        /* no token left: folded, in a fast poll and in a full one */
        t += SEC / 20;
        ck_assert_uint_eq(partial(p, c, &full, 1, t, &ev), 0);
        t += SEC / 20;
        ck_assert_uint_eq(step1(p, c, full, t, &ev), 0);
        t += SEC / 20;
        ck_assert_uint_eq(partial(p, c, &full, 1, t, &ev), 0);
        /* a token comes back: the state it is in is said */
        t += POLICY_TOKEN_USEC;
        ck_assert_uint_eq(partial(p, c, &full, 1, t, &ev), 1);
        check_event(&ev.items[0], EVENT_FULL, false, 7);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("policy");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_names);
        tcase_add_test(tc, test_classify);
        tcase_add_test(tc, test_ok_high_full_cleared);
        tcase_add_test(tc, test_ok_to_full_and_new_listener);
        tcase_add_test(tc, test_hysteresis_band);
        tcase_add_test(tc, test_watch_levels_and_names);
        tcase_add_test(tc, test_unwatched_ignored);
        tcase_add_test(tc, test_clamped_and_somaxconn);
        tcase_add_test(tc, test_reminders);
        tcase_add_test(tc, test_repeat_never);
        tcase_add_test(tc, test_drops_increase);
        tcase_add_test(tc, test_drops_rate_limit);
        tcase_add_test(tc, test_drops_backwards);
        tcase_add_test(tc, test_flush);
        tcase_add_test(tc, test_syn_queue);
        tcase_add_test(tc, test_counters);
        tcase_add_test(tc, test_counters_backwards_absent_off);
        tcase_add_test(tc, test_gone);
        tcase_add_test(tc, test_partial_decides_observed_only);
        tcase_add_test(tc, test_partial_shares_message_bound);
        tcase_add_test(tc, test_gone_with_pending_drops);
        tcase_add_test(tc, test_unwatched_after_reload_is_gone);
        tcase_add_test(tc, test_flapping);
        tcase_add_test(tc, test_constantly_full_and_dropping);
        tcase_add_test(tc, test_merge_keys);
        tcase_add_test(tc, test_steady_state_no_alloc);
        tcase_add_test(tc, test_stream_duplicates);
        tcase_add_test(tc, test_abort);
        tcase_add_test(tc, test_reload_unwatched_keeps_name);
        tcase_add_test(tc, test_new_listener_drops);
        tcase_add_test(tc, test_retry);
        tcase_add_test(tc, test_clamped_only_if_somaxconn_unchanged);
        tcase_add_test(tc, test_netns_keep_drop_sysctls);
        tcase_add_test(tc, test_watch_netns);
        suite_add_tcase(s, tc);

        /* Big populations and long runs: well under a second natively,
         * half a minute under valgrind. */
        tc = tcase_create("scale");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_gen_wrap);
        tcase_add_test(tc, test_order_independent);
        tcase_add_test(tc, test_10000_listeners);
        tcase_add_test(tc, test_churn);
        suite_add_tcase(s, tc);
        return s;
}
