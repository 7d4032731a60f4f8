/* SPDX-License-Identifier: MIT */
/* Which alerts of a poll show a wait, and which ports a read for them
 * covers: only high, full and drops alerts of a non-empty TCP queue of the
 * namespace at hand. */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "check-main.h"
#include "queue-wait.h"

static void push(EventList *l, EventKind kind, ListenerKind lk, uint64_t netns, uint16_t port, uint32_t depth) {
        Event *e = event_list_push(l);

        ck_assert_ptr_nonnull(e);
        *e = (Event){ .kind = kind };
        e->listener = (Listener){
                .kind = lk, .family = AF_INET, .addr = { 127, 0, 0, 1 }, .port = port, .depth = depth, .netns = netns
        };
}

START_TEST(test_event_ports) {
        Space s = { .id = 7 };
        EventList events = { 0 };
        QueueWaits w = { 0 };

        push(&events, EVENT_FULL, LISTENER_TCP, 7, 80, 3);
        push(&events, EVENT_HIGH, LISTENER_TCP, 7, 81, 2);
        push(&events, EVENT_DROPS, LISTENER_TCP, 7, 82, 1);
        push(&events, EVENT_DROPS, LISTENER_TCP, 7, 83, 0);   /* drained: nothing waits */
        push(&events, EVENT_CLEARED, LISTENER_TCP, 7, 84, 1); /* not an alert */
        push(&events, EVENT_FULL, LISTENER_TCP, 8, 85, 3);    /* another namespace */
        push(&events, EVENT_FULL, LISTENER_UNIX, 7, 0, 3);    /* no connections to read */
        push(&events, EVENT_GONE, LISTENER_TCP, 7, 86, 3);

        ck_assert_uint_eq(queue_waits_event_ports(&w, &s, &events), 3);
        ck_assert_uint_eq(w.ports[0], 80);
        ck_assert_uint_eq(w.ports[1], 81);
        ck_assert_uint_eq(w.ports[2], 82);
        /* a second namespace starts afresh */
        s.id = 8;
        ck_assert_uint_eq(queue_waits_event_ports(&w, &s, &events), 1);
        ck_assert_uint_eq(w.ports[0], 85);
        queue_waits_done(&w);
        event_list_done(&events);
}
END_TEST

/* The read's answer goes to the alerts of its namespace that show a wait. */
START_TEST(test_apply) {
        WaitCount c = {
                .family = AF_INET, .addr = { 127, 0, 0, 1 }, .port = 80, .n = 3, .n_aged = 3, .oldest_ms = 4200
        };
        Space s = { .id = 7, .wait_known = true, .wait = { .items = &c, .n = 1, .cap = 1 } };
        EventList events = { 0 };

        push(&events, EVENT_FULL, LISTENER_TCP, 7, 80, 3);
        push(&events, EVENT_FULL, LISTENER_TCP, 8, 80, 3);
        push(&events, EVENT_CLEARED, LISTENER_TCP, 7, 80, 3);
        queue_waits_apply(&s, &events);
        ck_assert(events.items[0].listener.has_wait);
        ck_assert_uint_eq(events.items[0].listener.wait_ms, 4200);
        ck_assert(!events.items[1].listener.has_wait);
        ck_assert(!events.items[2].listener.has_wait);
        event_list_done(&events);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("queue-wait");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_event_ports);
        tcase_add_test(tc, test_apply);
        suite_add_tcase(s, tc);
        return s;
}
