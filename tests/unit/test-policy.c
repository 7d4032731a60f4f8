/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "policy.h"

#define SEC 1000000ULL

/* Counts allocations so that the steady state can be shown to allocate
 * nothing. Not under AddressSanitizer, which owns malloc itself. */
#if defined(__SANITIZE_ADDRESS__)
#  define COUNT_ALLOCS 0
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define COUNT_ALLOCS 0
#  endif
#endif
#ifndef COUNT_ALLOCS
#  define COUNT_ALLOCS 1
#endif

#if COUNT_ALLOCS
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static size_t n_allocs;

void *malloc(size_t n) {
        n_allocs++;
        return __libc_malloc(n);
}

void *calloc(size_t n, size_t m) {
        n_allocs++;
        return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n) {
        n_allocs++;
        return __libc_realloc(p, n);
}

void free(void *p) {
        __libc_free(p);
}
#endif

static Config *config(void) {
        Config *c = NULL;

        ck_assert_int_eq(config_new_default(&c), 0);
        return c;
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

/* One poll: the listeners (sorted by the caller), optional counters,
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
        r = policy_step(p, c, &s, ev);
        ck_assert_int_ge(r, 0);
        ck_assert_uint_eq((size_t) r, ev->n);
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
        ck_assert_ptr_null(event_kind_name(_EVENT_KIND_MAX));
}
END_TEST

START_TEST(test_classify) {
        Listener l = mk(0, 1, 80, 7, 9); /* capacity 10 */

        ck_assert_int_eq(policy_classify(&l, 80), STATE_OK);
        l.depth = 8;
        ck_assert_int_eq(policy_classify(&l, 80), STATE_HIGH);
        ck_assert_int_eq(policy_classify(&l, 81), STATE_OK);
        l.depth = 9;
        ck_assert_int_eq(policy_classify(&l, 80), STATE_HIGH);
        l.depth = 10;
        ck_assert_int_eq(policy_classify(&l, 80), STATE_FULL);
        l.depth = 11;
        ck_assert_int_eq(policy_classify(&l, 100), STATE_FULL);
        l = mk(0, 1, 80, 1, 0); /* listen(0) holds one */
        ck_assert_int_eq(policy_classify(&l, 80), STATE_FULL);
        l.depth = 0;
        ck_assert_int_eq(policy_classify(&l, 80), STATE_OK);
        /* no overflow with huge numbers */
        l = mk(0, 1, 80, 4000000000U, 4294967295U);
        ck_assert_int_eq(policy_classify(&l, 80), STATE_HIGH);
}
END_TEST

START_TEST(test_ok_high_full_cleared) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};

        ck_assert_int_eq(policy_new(&p), 0);
        ck_assert_uint_eq(step1(p, c, mk(0, 5, 80, 7, 9), 0, &ev), 0);
        ck_assert_uint_eq(policy_n_raised(p), 0);

        /* ok -> high at 80 % */
        ck_assert_uint_eq(step1(p, c, mk(0, 5, 80, 8, 9), 1 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_HIGH, false, 5);
        ck_assert_uint_eq(ev.items[0].fill_pct, 80);
        ck_assert_uint_eq(ev.items[0].listener.depth, 8);
        ck_assert_uint_eq(ev.items[0].listener.backlog, 9);
        ck_assert_ptr_null(ev.items[0].name);
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

        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_ok_to_full_and_new_listener) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};

        ck_assert_int_eq(policy_new(&p), 0);
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
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_hysteresis_band) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};

        c->warn = 50;
        c->clear = 20;
        ck_assert_int_eq(policy_new(&p), 0);
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
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

static void set_watch(Config *c) {
        c->watch = calloc(2, sizeof(Watch));
        ck_assert_ptr_nonnull(c->watch);
        c->n_watch = 2;
        c->watch[0] = (Watch) { .ports = { 80, 80 }, .name = strdup("web"), .warn = 50, .clear = 20, .line = 3 };
        c->watch[1] = (Watch) { .ports = { 443, 443 }, .name = strdup("tls"), .warn = 90, .clear = 10, .line = 7 };
}

START_TEST(test_watch_levels_and_names) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};
        Listener ls[3];

        set_watch(c);
        ck_assert_int_eq(policy_new(&p), 0);
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

        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_unwatched_ignored) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};
        Listener l = mkd(3, 10, 9, 0);

        set_watch(c);
        l.port = 22;
        ck_assert_int_eq(policy_new(&p), 0);
        ck_assert_uint_eq(step1(p, c, l, 0, &ev), 0);
        l.drops = 50;
        ck_assert_uint_eq(step1(p, c, l, 1 * SEC, &ev), 0);
        ck_assert_uint_eq(policy_n_raised(p), 0);
        ck_assert_uint_eq(step(p, c, NULL, 0, 2 * SEC, &ev), 0);
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_clamped_and_somaxconn) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};
        Listener l = mk(0, 1, 80, 4097, 4096);
        Snapshot s = {
                .listeners = { .items = &l, .n = 1, .cap = 1 },
        };

        ck_assert_int_eq(policy_new(&p), 0);
        ck_assert_uint_eq(step1(p, c, l, 0, &ev), 1);
        ck_assert(ev.items[0].clamped);
        ck_assert_int_eq(ev.items[0].somaxconn, 4096);

        /* somaxconn unknown */
        l.depth = 0;
        s.time_usec = 1 * SEC;
        event_list_clear(&ev);
        ck_assert_int_eq(policy_step(p, c, &s, &ev), 1);
        check_event(&ev.items[0], EVENT_CLEARED, false, 1);
        ck_assert(!ev.items[0].clamped);
        ck_assert_int_eq(ev.items[0].somaxconn, -1);
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_reminders) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};
        size_t n = 0;

        c->repeat_usec = 10 * SEC;
        ck_assert_int_eq(policy_new(&p), 0);
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

        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_repeat_never) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};
        size_t n = 0;

        c->repeat_usec = 0;
        ck_assert_int_eq(policy_new(&p), 0);
        for (uint64_t t = 0; t <= 1000; t++)
                n += step1(p, c, mk(0, 1, 80, 10, 9), t * SEC, &ev);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(policy_n_raised(p), 1);
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_drops_increase) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};

        ck_assert_int_eq(policy_new(&p), 0);
        /* first sighting: baseline only */
        ck_assert_uint_eq(step1(p, c, mkd(4, 0, 9, 5), 0, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(4, 0, 9, 5), 2 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(4, 0, 9, 12), 3 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_DROPS, false, 4);
        ck_assert_uint_eq(ev.items[0].drops, 7);
        ck_assert_uint_eq(ev.items[0].period_usec, 1 * SEC);
        ck_assert_uint_eq(ev.items[0].listener.drops, 12);
        ck_assert_uint_eq(ev.items[0].fill_pct, 0);
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_drops_rate_limit) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};
        uint32_t d = 0;

        ck_assert_int_eq(policy_new(&p), 0);
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
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_drops_backwards) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};

        ck_assert_int_eq(policy_new(&p), 0);
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 100), 0, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 40), 1 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 45), 2 * SEC, &ev), 1);
        ck_assert_uint_eq(ev.items[0].drops, 5);
        /* wrap of the u32 counter: silent, new baseline */
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 4294967290U), 100 * SEC, &ev), 1);
        ck_assert_uint_eq(ev.items[0].drops, 4294967245ULL);
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 3), 200 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 10), 300 * SEC, &ev), 1);
        ck_assert_uint_eq(ev.items[0].drops, 7);
        ck_assert_uint_eq(ev.items[0].period_usec, 100 * SEC);
        /* no drop count (has_drops false) forgets the baseline */
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 80, 0, 9), 400 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 20), 500 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(1, 0, 9, 21), 600 * SEC, &ev), 1);
        ck_assert_uint_eq(ev.items[0].drops, 1);
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

static NetstatCounters counters_all(uint64_t v) {
        NetstatCounters k = {0};

        for (unsigned i = 0; i < _NETSTAT_COUNTER_MAX; i++) {
                k.value[i] = v;
                k.present[i] = true;
        }
        return k;
}

START_TEST(test_counters) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};
        NetstatCounters k = counters_all(10);

        ck_assert_int_eq(policy_new(&p), 0);
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
        ck_assert_ptr_null(ev.items[0].name);
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
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_counters_backwards_absent_off) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};
        NetstatCounters k = counters_all(100);

        ck_assert_int_eq(policy_new(&p), 0);
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
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_gone) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};
        Listener ls[3];

        set_watch(c);
        ck_assert_int_eq(policy_new(&p), 0);
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
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_gone_with_pending_drops) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};

        ck_assert_int_eq(policy_new(&p), 0);
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
        check_event(&ev.items[1], EVENT_GONE, false, 1);

        /* not raised, pending drops: the drops only */
        ck_assert_uint_eq(step1(p, c, mkd(2, 0, 9, 0), 10 * SEC, &ev), 0);
        ck_assert_uint_eq(step1(p, c, mkd(2, 0, 9, 1), 11 * SEC, &ev), 1);
        ck_assert_uint_eq(step1(p, c, mkd(2, 0, 9, 2), 12 * SEC, &ev), 0);
        ck_assert_uint_eq(step(p, c, NULL, 0, 13 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_DROPS, false, 2);
        ck_assert_uint_eq(ev.items[0].drops, 1);
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_unwatched_after_reload_is_gone) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};

        ck_assert_int_eq(policy_new(&p), 0);
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 22, 10, 9), 0, &ev), 1);
        set_watch(c); /* port 22 no longer watched */
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 22, 10, 9), 1 * SEC, &ev), 1);
        check_event(&ev.items[0], EVENT_GONE, false, 1);
        ck_assert_ptr_null(ev.items[0].name);
        ck_assert_uint_eq(step1(p, c, mk(0, 1, 22, 10, 9), 2 * SEC, &ev), 0);
        ck_assert_uint_eq(policy_n_raised(p), 0);
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
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
                { 0, EVENT_FULL }, { 1, EVENT_CLEARED }, { 2, EVENT_FULL }, { 3, EVENT_CLEARED },
                { 16, EVENT_FULL }, { 31, EVENT_CLEARED }, { 46, EVENT_FULL },
        };
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};
        size_t n = 0;

        ck_assert_int_eq(policy_new(&p), 0);
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
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
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
                EventList ev = {0};
                size_t n = 0, n_full = 0, n_reminder = 0, n_drops = 0, n_counter = 0;
                uint64_t sum = 0;

                ck_assert_int_eq(policy_new(&p), 0);
                for (uint64_t t = 0; t <= 300; t++) {
                        NetstatCounters k = counters_all(5 * t);
                        size_t m = step_full(p, c, (Listener[]) { mkd(1, 10, 9, (uint32_t) (10 * t)) }, 1,
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
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};
        Listener ls[4];

        ck_assert_int_eq(policy_new(&p), 0);
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
        check_event(&ev.items[0], EVENT_GONE, false, 5);
        check_event(&ev.items[1], EVENT_GONE, false, 2);
        check_event(&ev.items[2], EVENT_GONE, false, 3);
        ck_assert_uint_eq(policy_n_raised(p), 1);
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

START_TEST(test_steady_state_no_alloc) {
        Config *c = config();
        Policy *p = NULL;
        EventList ev = {0};
        Listener ls[50];
        size_t n = 0, allocs = 0;
        int r_min = 0;

        ck_assert_int_eq(policy_new(&p), 0);
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
#if COUNT_ALLOCS
                if (t == 3)
                        allocs = n_allocs;
#endif
                event_list_clear(&ev);
                /* no ck_assert in here: check itself allocates */
                r = policy_step(p, c, &s, &ev);
                if (r < r_min)
                        r_min = r;
                if (t >= 3)
                        n += (size_t) r;
        }
#if COUNT_ALLOCS
        allocs = n_allocs - allocs;
#endif
        ck_assert_int_eq(r_min, 0);
        ck_assert_uint_eq(allocs, 0);
        /* per listener over t = 3..102: state messages at 3, 4 (last of the
         * burst), then one per token at 15, 30, 45, 60, 75, 90; drops at 62
         * (listener 0 never drops) */
        ck_assert_uint_eq(n, 50 * 8 + 49);
        ck_assert_uint_eq(policy_n_raised(p), 0); /* t = 102: empty */
        event_list_done(&ev);
        policy_free(p);
        config_free(c);
}
END_TEST

static Suite *policy_suite(void) {
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
        tcase_add_test(tc, test_counters);
        tcase_add_test(tc, test_counters_backwards_absent_off);
        tcase_add_test(tc, test_gone);
        tcase_add_test(tc, test_gone_with_pending_drops);
        tcase_add_test(tc, test_unwatched_after_reload_is_gone);
        tcase_add_test(tc, test_flapping);
        tcase_add_test(tc, test_constantly_full_and_dropping);
        tcase_add_test(tc, test_merge_keys);
        tcase_add_test(tc, test_steady_state_no_alloc);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(policy_suite());
        int failed;

        srunner_set_fork_status(sr, CK_FORK);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
