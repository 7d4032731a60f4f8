/* SPDX-License-Identifier: MIT */
/* SO_REUSEPORT groups: the key, the imbalance rule at its boundaries, the
 * --once tally, and the daemon's polls (hysteresis, message bound, kept and
 * dropped namespaces, retries, duplicates). */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check-main.h"
#include "diag.h"
#include "groups.h"
#include "policy.h"

#define SEC 1000000ULL

static Listener tcp(uint64_t netns, const char *addr, uint16_t port, uint32_t depth, uint32_t backlog,
                    uint64_t cookie) {
        Listener l = { .netns = netns, .port = port, .depth = depth, .backlog = backlog, .cookie = cookie };

        l.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
        ck_assert_int_eq(inet_pton(l.family, addr, l.addr), 1);
        l.inode = (uint32_t) (5000 + cookie);
        return l;
}

/* ---- the key ------------------------------------------------------------- */

START_TEST(test_key) {
        Listener a = tcp(0, "127.0.0.1", 443, 0, 9, 1), b = tcp(0, "127.0.0.1", 443, 10, 9, 2), c;

        ck_assert_int_eq(groups_key_compare(&a, &b), 0);
        /* IPv4 uses 4 bytes of addr: what lies beyond is not the key. */
        b.addr[8] = 7;
        ck_assert_int_eq(groups_key_compare(&a, &b), 0);
        c = b;
        c.netns = 4026532000;
        ck_assert_int_eq(groups_key_compare(&a, &c), -1);
        ck_assert_int_eq(groups_key_compare(&c, &a), 1);
        c = b;
        c.port = 444;
        ck_assert_int_eq(groups_key_compare(&a, &c), -1);
        c = tcp(0, "127.0.0.2", 443, 0, 9, 3);
        ck_assert_int_eq(groups_key_compare(&a, &c), -1);
        c = tcp(0, "::ffff:127.0.0.1", 443, 0, 9, 3);
        ck_assert_int_ne(groups_key_compare(&a, &c), 0);
        c = b;
        c.ifindex = 2;
        ck_assert_int_eq(groups_key_compare(&a, &c), -1);
        a = tcp(0, "::", 443, 0, 9, 1);
        c = tcp(0, "::", 443, 0, 9, 2);
        c.v6only = true;
        ck_assert_int_eq(groups_key_compare(&a, &c), -1);
        ck_assert_int_eq(groups_key_compare(&c, &a), 1);
}
END_TEST

/* ---- the rule ------------------------------------------------------------ */

START_TEST(test_rule) {
        /* Raised: a full member while at least half are below clear. */
        ck_assert(groups_unbalanced(false, 8, 1, 7));
        ck_assert(groups_unbalanced(false, 8, 1, 4)); /* exactly half */
        ck_assert(!groups_unbalanced(false, 8, 1, 3));
        ck_assert(groups_unbalanced(false, 8, 4, 4)); /* half full, half empty */
        ck_assert(groups_unbalanced(false, 2, 1, 1));
        ck_assert(!groups_unbalanced(false, 3, 1, 1));
        ck_assert(groups_unbalanced(false, 3, 1, 2));
        /* All full, none full, a single listener, nothing. */
        ck_assert(!groups_unbalanced(false, 8, 8, 0));
        ck_assert(!groups_unbalanced(true, 8, 8, 0));
        ck_assert(!groups_unbalanced(false, 8, 0, 8));
        ck_assert(!groups_unbalanced(false, 1, 1, 0));
        ck_assert(!groups_unbalanced(true, 1, 1, 0));
        ck_assert(!groups_unbalanced(false, 0, 0, 0));
        /* Hysteresis: raised, it stays while one member is below clear. */
        ck_assert(groups_unbalanced(true, 8, 1, 1));
        ck_assert(groups_unbalanced(true, 8, 7, 1));
        ck_assert(!groups_unbalanced(true, 8, 1, 0));
        ck_assert(!groups_unbalanced(true, 8, 0, 7));
}
END_TEST

/* ---- --once -------------------------------------------------------------- */

START_TEST(test_tally) {
        Listener l[9];
        ListenerGroup g[9];

        l[0] = tcp(0, "127.0.0.1", 443, 5, 4, 1); /* group A, full */
        l[1] = tcp(0, "0.0.0.0", 80, 0, 128, 2);  /* alone */
        l[2] = tcp(0, "127.0.0.1", 443, 0, 4, 3); /* A */
        l[3] = tcp(7, "127.0.0.1", 443, 0, 4, 4); /* another namespace: alone */
        l[4] = tcp(0, "127.0.0.1", 443, 2, 4, 5); /* A */
        l[5] = tcp(0, "127.0.0.1", 443, 0, 4, 6); /* bound to a device: group B */
        l[5].ifindex = 3;
        l[6] = tcp(0, "127.0.0.1", 443, 9, 8, 7); /* B, full */
        l[6].ifindex = 3;
        l[7] = (Listener){ .kind = LISTENER_UNIX, .family = AF_UNIX, .cookie = 8, .path = "/run/a" };
        l[8] = (Listener){ .kind = LISTENER_UNIX, .family = AF_UNIX, .cookie = 9, .path = "/run/a" };
        ck_assert_int_eq(groups_tally(l, 9, g), 2);
        /* A comes first in key order (ifindex 0 < 3). */
        ck_assert_uint_eq(g[0].id, 1);
        ck_assert_uint_eq(g[2].id, 1);
        ck_assert_uint_eq(g[4].id, 1);
        ck_assert_uint_eq(g[0].members, 3);
        ck_assert_uint_eq(g[4].full, 1);
        ck_assert_uint_eq(g[2].depth, 7);
        ck_assert_uint_eq(g[2].capacity, 15);
        ck_assert_uint_eq(g[5].id, 2);
        ck_assert_uint_eq(g[6].id, 2);
        ck_assert_uint_eq(g[6].members, 2);
        ck_assert_uint_eq(g[6].full, 1);
        ck_assert_uint_eq(g[5].depth, 9);
        ck_assert_uint_eq(g[5].capacity, 14);
        for (int i = 1; i < 9; i += 2)
                if (i != 5) {
                        ck_assert_uint_eq(g[i].members, 0);
                        ck_assert_uint_eq(g[i].id, 0);
                }
        ck_assert_uint_eq(g[8].members, 0);
        ck_assert_int_eq(groups_tally(l, 0, g), 0);
}
END_TEST

/* ---- the daemon ---------------------------------------------------------- */

/* One poll as monitor.c runs it, over the listeners of one or two
 * namespaces: the full ones are noted (watched, clear 60, named "api");
 * the member dump hands over the listeners of the ports named, each twice
 * when twice is set (a dump is not a snapshot). */
typedef struct Poll {
        Listener *l;
        size_t n;
        bool twice;
        bool fail_netns; /* the namespace 7's dump fails */
        size_t n_ranges; /* what groups_ports() answered (namespace 0) */
        PortRange ranges[DIAG_MAX_RANGES];
} Poll;

static int run_poll(Groups *g, uint64_t now, Poll *p, EventList *out) {
        const uint64_t spaces[] = { 0, 7 };

        event_list_clear(out);
        groups_begin(g, now);
        for (size_t k = 0; k < 2; k++) {
                PortRange ranges[DIAG_MAX_RANGES];
                size_t n;

                if (spaces[k] == 7 && p->fail_netns) {
                        groups_keep_netns(g, 7);
                        continue;
                }
                for (size_t i = 0; i < p->n; i++)
                        if (p->l[i].netns == spaces[k] && listener_is_full(&p->l[i]))
                                groups_note_full(g, &p->l[i], "api", 60);
                n = groups_ports(g, spaces[k], ranges, DIAG_MAX_RANGES);
                if (k == 0) {
                        p->n_ranges = n;
                        memcpy(p->ranges, ranges, sizeof(ranges));
                }
                for (size_t r = 0; r < n; r++)
                        for (size_t i = 0; i < p->n; i++)
                                if (p->l[i].netns == spaces[k] && p->l[i].port >= ranges[r].lo &&
                                    p->l[i].port <= ranges[r].hi) {
                                        ck_assert_int_eq(groups_member_cb(&p->l[i], g), 0);
                                        if (p->twice)
                                                ck_assert_int_eq(groups_member_cb(&p->l[i], g), 0);
                                }
        }
        return groups_end(g, out);
}

/* 8 members on 127.0.0.1:8443 (capacity 10 each), the one of cookie 5
 * full; a listener on port 9000 of the same address, alone; one of the
 * same address and port in namespace 7, and one bound to a device. */
static size_t group_of_eight(Listener *l) {
        size_t n = 0;

        for (uint64_t c = 1; c <= 8; c++)
                l[n++] = tcp(0, "127.0.0.1", 8443, c == 5 ? 10 : 0, 9, c);
        l[n++] = tcp(0, "127.0.0.1", 9000, 0, 9, 20);
        l[n++] = tcp(7, "127.0.0.1", 8443, 0, 9, 21);
        l[n] = tcp(0, "127.0.0.1", 8443, 0, 9, 22);
        l[n++].ifindex = 2;
        return n;
}

START_TEST(test_imbalance) {
        Groups *g = NULL;
        EventList out = { 0 };
        Listener l[16];
        Poll p = { .l = l, .n = group_of_eight(l), .twice = true };
        const Event *e;

        ck_assert_int_eq(groups_new(&g), 0);
        ck_assert_int_eq(run_poll(g, 10 * SEC, &p, &out), 1);
        /* Only the full listener's port is dumped again. */
        ck_assert_uint_eq(p.n_ranges, 1);
        ck_assert_uint_eq(p.ranges[0].lo, 8443);
        ck_assert_uint_eq(p.ranges[0].hi, 8443);
        ck_assert_uint_eq(out.n, 1);
        e = &out.items[0];
        ck_assert_int_eq(e->kind, EVENT_IMBALANCE);
        ck_assert_uint_eq(e->group_size, 8); /* not the device's, not namespace 7's; duplicates once */
        ck_assert_uint_eq(e->group_full, 1);
        ck_assert_uint_eq(e->group_below, 7);
        ck_assert_uint_eq(e->listener.cookie, 5);
        ck_assert_uint_eq(e->listener.depth, 10);
        ck_assert_uint_eq(e->fill_pct, 100);
        ck_assert_str_eq(e->name, "api");
        ck_assert_int_eq(e->somaxconn, -1);
        ck_assert_uint_eq(groups_n_unbalanced(g), 1);

        /* Unchanged: nothing more is said (the full alert reminds). */
        ck_assert_int_eq(run_poll(g, 11 * SEC, &p, &out), 0);
        ck_assert_uint_eq(out.n, 0);
        ck_assert_uint_eq(groups_n_unbalanced(g), 1);

        /* The hung member accepts again: said once. Its group is dumped
         * again though none is full, for the numbers of the message. */
        l[4].depth = 3;
        ck_assert_int_eq(run_poll(g, 12 * SEC, &p, &out), 1);
        ck_assert_uint_eq(p.n_ranges, 1);
        e = &out.items[0];
        ck_assert_int_eq(e->kind, EVENT_IMBALANCE_CLEARED);
        ck_assert_uint_eq(e->group_size, 8);
        ck_assert_uint_eq(e->group_full, 0);
        ck_assert_uint_eq(e->listener.cookie, 5);
        ck_assert_uint_eq(e->listener.depth, 3);
        ck_assert_uint_eq(groups_n_unbalanced(g), 0);

        /* Quiet now: no dump at all, once the tokens are back. */
        ck_assert_int_eq(run_poll(g, 13 * SEC, &p, &out), 0);
        ck_assert_uint_eq(p.n_ranges, 0);
        ck_assert_int_eq(run_poll(g, 60 * SEC, &p, &out), 0);
        ck_assert_uint_eq(p.n_ranges, 0);
        event_list_done(&out);
        groups_free(g);
}
END_TEST

/* The clear level is the noted entry's: fill < 60 % counts as below. */
START_TEST(test_clear_boundary) {
        Groups *g = NULL;
        EventList out = { 0 };
        Listener l[4];
        Poll p = { .l = l, .n = 4 };

        ck_assert_int_eq(groups_new(&g), 0);
        l[0] = tcp(0, "::", 443, 100, 99, 1); /* full */
        l[1] = tcp(0, "::", 443, 60, 99, 2);  /* 60 %: not below */
        l[2] = tcp(0, "::", 443, 60, 99, 3);  /* 60 % */
        l[3] = tcp(0, "::", 443, 59, 99, 4);  /* 59 %: below; 1 of 4 */
        ck_assert_int_eq(run_poll(g, SEC, &p, &out), 0);
        l[2].depth = 59; /* 2 of 4 below: exactly half */
        ck_assert_int_eq(run_poll(g, 2 * SEC, &p, &out), 1);
        ck_assert_int_eq(out.items[0].kind, EVENT_IMBALANCE);
        ck_assert_uint_eq(out.items[0].group_below, 2);
        /* Hysteresis: one below is enough to stay. */
        l[2].depth = 60;
        ck_assert_int_eq(run_poll(g, 3 * SEC, &p, &out), 0);
        ck_assert_uint_eq(groups_n_unbalanced(g), 1);
        /* The others fill: over, with that reason's numbers. */
        l[3].depth = 60;
        ck_assert_int_eq(run_poll(g, 4 * SEC, &p, &out), 1);
        ck_assert_int_eq(out.items[0].kind, EVENT_IMBALANCE_CLEARED);
        ck_assert_uint_eq(out.items[0].group_size, 4);
        ck_assert_uint_eq(out.items[0].group_full, 1);
        ck_assert_uint_eq(out.items[0].group_below, 0);
        event_list_done(&out);
        groups_free(g);
}
END_TEST

/* All full, and a single full listener: never an imbalance. Two members,
 * one full, one empty: one. The lowest cookie of the full ones is named. */
START_TEST(test_small_groups) {
        Groups *g = NULL;
        EventList out = { 0 };
        Listener l[3];
        Poll p = { .l = l, .n = 3 };

        ck_assert_int_eq(groups_new(&g), 0);
        l[0] = tcp(0, "10.0.0.1", 25, 1, 0, 9);
        l[1] = tcp(0, "10.0.0.1", 25, 1, 0, 4);
        l[2] = tcp(0, "10.0.0.1", 26, 1, 0, 1);
        ck_assert_int_eq(run_poll(g, SEC, &p, &out), 0);
        ck_assert_uint_eq(p.n_ranges, 1); /* 25-26 */
        ck_assert_uint_eq(p.ranges[0].lo, 25);
        ck_assert_uint_eq(p.ranges[0].hi, 26);
        l[0].depth = 0;
        ck_assert_int_eq(run_poll(g, 2 * SEC, &p, &out), 1);
        ck_assert_uint_eq(out.items[0].group_size, 2);
        ck_assert_uint_eq(out.items[0].listener.cookie, 4);
        l[0].depth = 1;
        l[1].depth = 0;
        ck_assert_int_eq(run_poll(g, 3 * SEC, &p, &out), 0); /* still one of two, now cookie 9 */
        l[1].depth = 1;
        ck_assert_int_eq(run_poll(g, 4 * SEC, &p, &out), 1);
        ck_assert_int_eq(out.items[0].kind, EVENT_IMBALANCE_CLEARED);
        ck_assert_uint_eq(out.items[0].group_full, 2);
        ck_assert_uint_eq(out.items[0].listener.cookie, 4);
        event_list_done(&out);
        groups_free(g);
}
END_TEST

/* A member that flaps between full and empty at every poll: at most
 * POLICY_BURST messages at once, then one per POLICY_TOKEN_USEC, each the
 * state the group is then in when it differs from the last said. */
START_TEST(test_message_bound) {
        Groups *g = NULL;
        EventList out = { 0 };
        Listener l[16];
        Poll p = { .l = l, .n = group_of_eight(l) };
        size_t said = 0;
        uint64_t t;

        ck_assert_int_eq(groups_new(&g), 0);
        for (t = 0; t < 10; t++) {
                l[4].depth = t % 2 == 0 ? 10 : 0;
                ck_assert_int_ge(run_poll(g, (100 + t) * SEC, &p, &out), 0);
                said += out.n;
        }
        ck_assert_uint_eq(said, POLICY_BURST);
        /* The last said was "cleared" (4 changes from ok); now full,
         * folded; a token is back 15 s after the first was spent. */
        l[4].depth = 10;
        ck_assert_int_eq(run_poll(g, 114 * SEC, &p, &out), 0);
        ck_assert_int_eq(run_poll(g, 115 * SEC, &p, &out), 1);
        ck_assert_int_eq(out.items[0].kind, EVENT_IMBALANCE);
        /* Back to the state last said before a token: nothing. */
        l[4].depth = 0;
        ck_assert_int_eq(run_poll(g, 116 * SEC, &p, &out), 0);
        l[4].depth = 10;
        ck_assert_int_eq(run_poll(g, 129 * SEC, &p, &out), 0);
        ck_assert_uint_eq(groups_n_unbalanced(g), 1);
        event_list_done(&out);
        groups_free(g);
}
END_TEST

/* A namespace whose dump failed keeps its groups as they were; one no
 * longer watched forgets them without a word. */
START_TEST(test_kept_and_dropped) {
        Groups *g = NULL;
        EventList out = { 0 };
        Listener l[4];
        Poll p = { .l = l, .n = 4 };

        ck_assert_int_eq(groups_new(&g), 0);
        for (uint64_t c = 0; c < 4; c++)
                l[c] = tcp(7, "::1", 80, c == 0 ? 5 : 0, 4, c + 1);
        ck_assert_int_eq(run_poll(g, SEC, &p, &out), 1);
        ck_assert_uint_eq(out.items[0].listener.netns, 7);
        ck_assert_uint_eq(out.items[0].group_size, 4);
        l[0].depth = 0;
        p.fail_netns = true;
        ck_assert_int_eq(run_poll(g, 2 * SEC, &p, &out), 0);
        ck_assert_uint_eq(groups_n_unbalanced(g), 1);
        groups_begin(g, 3 * SEC);
        groups_drop_netns(g, 7);
        ck_assert_int_eq(groups_end(g, &out), 0);
        ck_assert_uint_eq(groups_n_unbalanced(g), 0);
        /* Every dump failed: nothing decided, nothing forgotten. */
        l[0].depth = 5;
        p.fail_netns = false;
        ck_assert_int_eq(run_poll(g, 4 * SEC, &p, &out), 1);
        groups_begin(g, 5 * SEC);
        groups_note_full(g, &l[0], NULL, 60);
        groups_abort(g);
        ck_assert_uint_eq(groups_n_unbalanced(g), 1);
        event_list_done(&out);
        groups_free(g);
}
END_TEST

/* An entry that could not be written is said again at the next poll. */
START_TEST(test_retry) {
        Groups *g = NULL;
        EventList out = { 0 };
        Listener l[16];
        Poll p = { .l = l, .n = group_of_eight(l) };
        Event e;

        ck_assert_int_eq(groups_new(&g), 0);
        ck_assert_int_eq(run_poll(g, SEC, &p, &out), 1);
        e = out.items[0];
        groups_retry(g, &e);
        ck_assert_int_eq(run_poll(g, 2 * SEC, &p, &out), 1);
        ck_assert_int_eq(out.items[0].kind, EVENT_IMBALANCE);
        ck_assert_int_eq(run_poll(g, 3 * SEC, &p, &out), 0);
        /* Other kinds are not the groups' to retry. */
        e.kind = EVENT_FULL;
        groups_retry(g, &e);
        ck_assert_int_eq(run_poll(g, 4 * SEC, &p, &out), 0);
        l[4].depth = 0;
        ck_assert_int_eq(run_poll(g, 5 * SEC, &p, &out), 1);
        e = out.items[0];
        ck_assert_int_eq(e.kind, EVENT_IMBALANCE_CLEARED);
        groups_retry(g, &e);
        ck_assert_int_eq(run_poll(g, 6 * SEC, &p, &out), 1);
        ck_assert_int_eq(out.items[0].kind, EVENT_IMBALANCE_CLEARED);
        event_list_done(&out);
        groups_free(g);
}
END_TEST

/* Nothing full: nothing to dump. A full listener alone: dumped again only
 * every GROUPS_ALONE_USEC. */
START_TEST(test_quiet) {
        Groups *g = NULL;
        EventList out = { 0 };
        Listener l[16];
        Poll p = { .l = l, .n = group_of_eight(l) };

        l[4].depth = 9; /* 90 %, not full */
        ck_assert_int_eq(groups_new(&g), 0);
        ck_assert_int_eq(run_poll(g, SEC, &p, &out), 0);
        ck_assert_uint_eq(p.n_ranges, 0);
        /* Full alone, not in a group: looked at, then not again for
         * GROUPS_ALONE_USEC. */
        l[8].depth = 10;
        ck_assert_int_eq(run_poll(g, 2 * SEC, &p, &out), 0);
        ck_assert_uint_eq(p.n_ranges, 1);
        ck_assert_uint_eq(p.ranges[0].lo, 9000);
        ck_assert_uint_eq(p.ranges[0].hi, 9000);
        ck_assert_int_eq(run_poll(g, 3 * SEC, &p, &out), 0);
        ck_assert_uint_eq(p.n_ranges, 0);
        /* A second member joins it: seen once that time is up. */
        l[p.n++] = tcp(0, "127.0.0.1", 9000, 0, 9, 30);
        ck_assert_int_eq(run_poll(g, 31 * SEC, &p, &out), 0);
        ck_assert_uint_eq(p.n_ranges, 0);
        ck_assert_int_eq(run_poll(g, 32 * SEC, &p, &out), 1);
        ck_assert_uint_eq(p.n_ranges, 1);
        ck_assert_uint_eq(out.items[0].group_size, 2);
        ck_assert_uint_eq(out.items[0].listener.cookie, 20);
        /* A group is looked at on every poll that finds a member full. */
        l[8].depth = 0;
        ck_assert_int_eq(run_poll(g, 33 * SEC, &p, &out), 1);
        ck_assert_int_eq(out.items[0].kind, EVENT_IMBALANCE_CLEARED);
        l[8].depth = 10;
        ck_assert_int_eq(run_poll(g, 34 * SEC, &p, &out), 1);
        ck_assert_int_eq(out.items[0].kind, EVENT_IMBALANCE);
        ck_assert_uint_eq(p.n_ranges, 1);
        event_list_done(&out);
        groups_free(g);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("groups");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_key);
        tcase_add_test(tc, test_rule);
        tcase_add_test(tc, test_tally);
        tcase_add_test(tc, test_imbalance);
        tcase_add_test(tc, test_clear_boundary);
        tcase_add_test(tc, test_small_groups);
        tcase_add_test(tc, test_message_bound);
        tcase_add_test(tc, test_kept_and_dropped);
        tcase_add_test(tc, test_retry);
        tcase_add_test(tc, test_quiet);
        suite_add_tcase(s, tc);
        return s;
}
