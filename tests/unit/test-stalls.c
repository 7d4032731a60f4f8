/* SPDX-License-Identifier: MIT */
/* Stalls: the same head for `stall` seconds is stalled, once; a head that
 * changes, a depth that falls or an empty queue is accepting again; heads
 * are read for TCP only when asked; a failed dump keeps what it tracked. */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check-main.h"
#include "stalls.h"

#define SEC 1000000ULL

static const Watch watch10 = { .any_port = true, .warn = 80, .clear = 60, .stall_usec = 10 * SEC, .name = "api" };

static Listener tcp(uint64_t cookie, uint16_t port, uint32_t depth) {
        return (Listener){ .kind = LISTENER_TCP,
                           .family = AF_INET,
                           .addr = { 127, 0, 0, 1 },
                           .port = port,
                           .cookie = cookie,
                           .depth = depth,
                           .backlog = 9 };
}

static Listener unix_l(uint64_t cookie, uint32_t depth) {
        return (Listener){ .kind = LISTENER_UNIX, .family = AF_UNIX, .cookie = cookie, .depth = depth, .backlog = 9 };
}

/* What a read finds. TCP: the oldest connection is current_head, and the
 * tracked head is queued if it is that one or also_queued; a read that did
 * not cover port 9999. UNIX: the clients of unix_clients[cookie] (none
 * known when empty). */
static uint64_t current_head, also_queued;
static uint32_t head_wait_ms; /* the wait a TCP read gives its head */
static Listener unix_clients[8];
static bool read_head(Listener *l, uint64_t head, bool *queued, void *userdata) {
        (void) userdata;
        if (l->kind == LISTENER_UNIX) {
                const Listener *c = &unix_clients[l->cookie % 8];

                memcpy(l->clients, c->clients, sizeof(l->clients));
                l->n_clients = c->n_clients;
                l->head = c->clients[0];
                return c->n_clients > 0;
        }
        if (l->port == 9999)
                return false;
        l->head = current_head;
        l->has_wait = current_head != 0;
        l->wait_ms = head_wait_ms;
        *queued = head != 0 && (head == current_head || head == also_queued);
        return true;
}

/* UNIX listener cookie's waiting clients, in queue order (0: gone). */
static void set_clients(uint64_t cookie, uint32_t a, uint32_t b, uint32_t c, uint8_t n) {
        Listener *l = &unix_clients[cookie % 8];

        l->clients[0] = a;
        l->clients[1] = b;
        l->clients[2] = c;
        l->n_clients = n;
}

/* One poll of listeners ls (n), every reading given. */
static int poll_all(Stalls *s, uint64_t now, Listener *ls, size_t n, EventList *out) {
        stalls_begin(s, now);
        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(stalls_observe(s, &ls[i], &watch10, 7), 0);
        stalls_read_heads(s, 0, read_head, NULL);
        return stalls_end(s, out);
}

/* One poll of a single TCP listener with its head read; the events. */
static int poll_tcp(Stalls *s, uint64_t now, Listener l, uint64_t head, bool read, EventList *out) {
        stalls_begin(s, now);
        ck_assert_int_eq(stalls_observe(s, &l, &watch10, 7), 0);
        current_head = head;
        if (read)
                stalls_read_heads(s, 0, read_head, NULL);
        return stalls_end(s, out);
}

/* The metrics file's wait of a stalled queue, without a walk: its head's
 * wait at the reading that first showed it, plus the time since; nothing
 * while it is not stalled, once its queue shrank, or for another listener. */
START_TEST(test_head_wait) {
        Stalls *s = NULL;
        EventList out = { 0 };
        Listener l = tcp(1, 80, 3);
        uint32_t ms = 0;

        ck_assert_int_eq(stalls_new(&s), 0);
        head_wait_ms = 2500;
        ck_assert_int_eq(poll_tcp(s, 100 * SEC, l, 555, true, &out), 0);
        head_wait_ms = 4000; /* a later reading of the same head */
        ck_assert_int_eq(poll_tcp(s, 105 * SEC, l, 555, true, &out), 0);
        stalls_begin(s, 106 * SEC);
        ck_assert(!stalls_head_wait(s, &l, &ms)); /* not stalled yet */
        ck_assert_int_eq(poll_tcp(s, 110 * SEC, l, 555, true, &out), 1);
        ck_assert_int_eq(out.items[0].kind, EVENT_STALLED);
        /* held back by the journal budget: said again later, and the head
         * still has not moved */
        ck_assert(stalls_retry(s, &out.items[0]));
        ck_assert(!stalls_retry(s, &out.items[0])); /* once */
        ck_assert(!stalls_any_stalled(s));
        stalls_begin(s, 112 * SEC);
        ck_assert(stalls_head_wait(s, &l, &ms));
        ck_assert_uint_eq(ms, 2500 + 12000);
        ck_assert_int_eq(poll_tcp(s, 113 * SEC, l, 555, true, &out), 1);
        ck_assert_int_eq(out.items[1].kind, EVENT_STALLED);
        stalls_begin(s, 115 * SEC + 499);
        ck_assert(stalls_head_wait(s, &l, &ms));
        ck_assert_uint_eq(ms, 2500 + 15000);
        l.depth = 4; /* more came: the head is the same */
        ck_assert(stalls_head_wait(s, &l, &ms));
        ck_assert_uint_eq(ms, 17500);
        l.depth = 2; /* it accepted */
        ck_assert(!stalls_head_wait(s, &l, &ms));
        l.depth = 0;
        ck_assert(!stalls_head_wait(s, &l, &ms));
        l = tcp(2, 81, 3);
        ck_assert(!stalls_head_wait(s, &l, &ms));
        head_wait_ms = 0;
        event_list_done(&out);
        stalls_free(s);
}
END_TEST

START_TEST(test_same_head_stalls_once) {
        Stalls *s = NULL;
        EventList out = { 0 };

        ck_assert_int_eq(stalls_new(&s), 0);
        ck_assert_int_eq(poll_tcp(s, 100 * SEC, tcp(1, 80, 3), 555, true, &out), 0);
        ck_assert_int_eq(poll_tcp(s, 105 * SEC, tcp(1, 80, 3), 555, true, &out), 0);
        /* 9.999999 s: not yet */
        ck_assert_int_eq(poll_tcp(s, 110 * SEC - 1, tcp(1, 80, 4), 555, true, &out), 0);
        ck_assert_int_eq(poll_tcp(s, 110 * SEC, tcp(1, 80, 4), 555, true, &out), 1);
        ck_assert_int_eq(out.items[0].kind, EVENT_STALLED);
        ck_assert_uint_eq(out.items[0].stalled_usec, 10 * SEC);
        ck_assert_uint_eq(out.items[0].listener.depth, 4);
        ck_assert_str_eq(out.items[0].name, "api");
        ck_assert(stalls_any_stalled(s));
        ck_assert_uint_eq(stalls_n_stalled(s), 1);
        /* said once; one that could not be written is said again at the
         * next poll, with the same start */
        stalls_retry(s, &out.items[0]);
        ck_assert(!stalls_any_stalled(s));
        ck_assert_int_eq(poll_tcp(s, 120 * SEC, tcp(1, 80, 4), 555, true, &out), 1);
        ck_assert_int_eq(out.items[1].kind, EVENT_STALLED);
        ck_assert_uint_eq(out.items[1].stalled_usec, 20 * SEC);
        out.n = 1;
        ck_assert_int_eq(poll_tcp(s, 130 * SEC, tcp(1, 80, 4), 555, true, &out), 0);
        /* polls without a read keep it */
        ck_assert_int_eq(poll_tcp(s, 131 * SEC, tcp(1, 80, 4), 0, false, &out), 0);
        ck_assert(stalls_any_stalled(s));
        /* another connection reads as the oldest (the same jiffy), but
         * the tracked head is still queued: nothing was accepted */
        also_queued = 555;
        ck_assert_int_eq(poll_tcp(s, 132 * SEC, tcp(1, 80, 4), 554, true, &out), 0);
        also_queued = 0;
        /* the head is gone: accepting, after 35 s */
        ck_assert_int_eq(poll_tcp(s, 135 * SEC, tcp(1, 80, 4), 556, true, &out), 1);
        ck_assert_int_eq(out.items[1].kind, EVENT_ACCEPTING);
        ck_assert_uint_eq(out.items[1].stalled_usec, 35 * SEC);
        ck_assert(!stalls_any_stalled(s));
        ck_assert_uint_eq(out.n, 2);
        /* a read that did not cover the port is no reading: the head
         * stays, and so does the clock */
        ck_assert_int_eq(poll_tcp(s, 140 * SEC, tcp(2, 9999, 4), 556, true, &out), 0);
        ck_assert_int_eq(poll_tcp(s, 150 * SEC, tcp(2, 9999, 4), 557, true, &out), 0);
        ck_assert_uint_eq(stalls_n_tracked(s), 1);
        ck_assert_uint_eq(out.n, 2);
        event_list_done(&out);
        stalls_free(s);
}
END_TEST

/* accept() takes the head, and only accept() shrinks the queue. */
START_TEST(test_depth_falls) {
        Stalls *s = NULL;
        EventList out = { 0 };

        ck_assert_int_eq(stalls_new(&s), 0);
        ck_assert_int_eq(poll_tcp(s, 0, tcp(1, 80, 5), 7, true, &out), 0);
        ck_assert_int_eq(poll_tcp(s, 10 * SEC, tcp(1, 80, 5), 7, true, &out), 1);
        /* no read this poll, but the depth fell: it accepted */
        ck_assert_int_eq(poll_tcp(s, 11 * SEC, tcp(1, 80, 4), 0, false, &out), 1);
        ck_assert_int_eq(out.items[1].kind, EVENT_ACCEPTING);
        ck_assert_uint_eq(out.items[1].stalled_usec, 11 * SEC);
        /* the head is unknown now: a read with the old head starts the clock */
        ck_assert_int_eq(poll_tcp(s, 12 * SEC, tcp(1, 80, 4), 7, true, &out), 0);
        ck_assert_int_eq(poll_tcp(s, 21 * SEC, tcp(1, 80, 4), 7, true, &out), 0);
        ck_assert_int_eq(poll_tcp(s, 22 * SEC, tcp(1, 80, 4), 7, true, &out), 1);
        ck_assert_int_eq(out.items[2].kind, EVENT_STALLED);
        /* same head but the depth fell (a read racing an accept): accepting */
        ck_assert_int_eq(poll_tcp(s, 23 * SEC, tcp(1, 80, 3), 7, true, &out), 1);
        ck_assert_int_eq(out.items[3].kind, EVENT_ACCEPTING);
        event_list_done(&out);
        stalls_free(s);
}
END_TEST

/* An empty queue is forgotten, unless stalled: then it drained. */
START_TEST(test_drained_and_gone) {
        Stalls *s = NULL;
        EventList out = { 0 };
        Listener l;

        ck_assert_int_eq(stalls_new(&s), 0);
        ck_assert_int_eq(poll_tcp(s, 0, tcp(1, 80, 2), 9, true, &out), 0);
        ck_assert_uint_eq(stalls_n_tracked(s), 1);
        ck_assert_int_eq(poll_tcp(s, SEC, tcp(1, 80, 0), 0, false, &out), 0);
        ck_assert_uint_eq(stalls_n_tracked(s), 0);
        /* stalled, then empty: accepting */
        ck_assert_int_eq(poll_tcp(s, 2 * SEC, tcp(1, 80, 2), 9, true, &out), 0);
        ck_assert_int_eq(poll_tcp(s, 12 * SEC, tcp(1, 80, 2), 9, true, &out), 1);
        ck_assert_int_eq(poll_tcp(s, 13 * SEC, tcp(1, 80, 0), 0, false, &out), 1);
        ck_assert_int_eq(out.items[1].kind, EVENT_ACCEPTING);
        ck_assert_uint_eq(out.items[1].listener.depth, 0);
        /* stalled, then gone (not seen): forgotten, no event */
        ck_assert_int_eq(poll_tcp(s, 14 * SEC, tcp(1, 80, 2), 9, true, &out), 0);
        ck_assert_int_eq(poll_tcp(s, 24 * SEC, tcp(1, 80, 2), 9, true, &out), 1);
        stalls_begin(s, 25 * SEC);
        ck_assert_int_eq(stalls_end(s, &out), 0);
        ck_assert_uint_eq(stalls_n_tracked(s), 0);
        ck_assert(!stalls_any_stalled(s));
        /* not stalled and empty: not even kept for the poll */
        l = tcp(2, 81, 0);
        stalls_begin(s, 26 * SEC);
        ck_assert_int_eq(stalls_observe(s, &l, &watch10, 7), 0);
        ck_assert_int_eq(stalls_end(s, &out), 0);
        ck_assert_uint_eq(stalls_n_tracked(s), 0);
        ck_assert_uint_eq(out.n, 3);
        event_list_done(&out);
        stalls_free(s);
}
END_TEST

/* A failed dump: what its namespace tracks stays. stall = 0: nothing. */
START_TEST(test_kept_and_off) {
        Stalls *s = NULL;
        EventList out = { 0 };
        Watch off = watch10;
        Listener l = tcp(3, 80, 2);

        ck_assert_int_eq(stalls_new(&s), 0);
        ck_assert_int_eq(poll_tcp(s, 0, tcp(1, 80, 2), 9, true, &out), 0);
        stalls_begin(s, SEC);
        stalls_keep_netns(s, 0);
        ck_assert_int_eq(stalls_end(s, &out), 0);
        ck_assert_uint_eq(stalls_n_tracked(s), 1);
        /* the clock kept running from the first reading */
        ck_assert_int_eq(poll_tcp(s, 10 * SEC, tcp(1, 80, 2), 9, true, &out), 1);
        off.stall_usec = 0;
        stalls_begin(s, 11 * SEC);
        ck_assert_int_eq(stalls_observe(s, &l, &off, 7), 0);
        ck_assert_int_eq(stalls_end(s, &out), 0);
        ck_assert_uint_eq(stalls_n_tracked(s), 0);
        event_list_done(&out);
        stalls_free(s);
}
END_TEST

/* A UNIX listener's clients are read on every poll (no walk); TCP heads
 * only for the ports asked: candidates at the caller's cadence, stalled
 * ones always. */
START_TEST(test_unix_and_ports) {
        Stalls *s = NULL;
        EventList out = { 0 };
        Listener u = unix_l(5, 3), a = tcp(1, 80, 2), b = tcp(2, 443, 0), c = tcp(3, 8080, 1);
        uint16_t ports[4];

        ck_assert_int_eq(stalls_new(&s), 0);
        set_clients(5, 4711, 4712, 4713, 3);
        for (int t = 0; t <= 10; t += 5) {
                stalls_begin(s, (uint64_t) t * SEC);
                ck_assert_int_eq(stalls_observe(s, &u, &watch10, 7), 0);
                ck_assert_int_eq(stalls_observe(s, &a, &watch10, 7), 0);
                ck_assert_int_eq(stalls_observe(s, &b, &watch10, 7), 0);
                ck_assert_int_eq(stalls_observe(s, &c, &watch10, 7), 0);
                /* candidates: the non-empty TCP ones, never UNIX */
                ck_assert_uint_eq(stalls_head_ports(s, 0, true, ports, 4), 2);
                ck_assert_uint_eq(ports[0], 80);
                ck_assert_uint_eq(ports[1], 8080);
                ck_assert_uint_eq(stalls_head_ports(s, 0, false, ports, 4), 0);
                ck_assert_uint_eq(stalls_head_ports(s, 9, true, ports, 4), 0);
                /* a reading that covers no TCP port: only UNIX is read */
                current_head = 0;
                stalls_read_heads(s, 9, read_head, NULL);
                stalls_read_heads(s, 0, read_head, NULL);
                ck_assert_int_eq(stalls_end(s, &out), t == 10 ? 1 : 0);
        }
        ck_assert_int_eq(out.items[0].kind, EVENT_STALLED);
        ck_assert_int_eq(out.items[0].listener.kind, LISTENER_UNIX);
        ck_assert_uint_eq(out.items[0].listener.head, 4711);
        ck_assert_uint_eq(out.items[0].listener.n_clients, 3);
        /* a stalled TCP one is a port to read */
        current_head = 77;
        for (int t = 11; t <= 21; t += 10) {
                stalls_begin(s, (uint64_t) t * SEC);
                ck_assert_int_eq(stalls_observe(s, &a, &watch10, 7), 0);
                stalls_read_heads(s, 0, read_head, NULL);
                ck_assert_int_eq(stalls_end(s, &out), t == 21 ? 1 : 0);
        }
        stalls_begin(s, 22 * SEC);
        ck_assert_int_eq(stalls_observe(s, &a, &watch10, 7), 0);
        ck_assert_int_eq(stalls_observe(s, &c, &watch10, 7), 0);
        ck_assert_uint_eq(stalls_head_ports(s, 0, false, ports, 4), 1);
        ck_assert_uint_eq(ports[0], 80);
        /* more ports than room: the count says so */
        ck_assert_uint_eq(stalls_head_ports(s, 0, true, ports, 1), 2);
        (void) stalls_end(s, &out);
        /* no clients known (the queue too long for the kernel's answer):
         * never stalled */
        u = unix_l(6, 3);
        set_clients(6, 0, 0, 0, 0);
        for (int t = 30; t <= 50; t += 10)
                ck_assert_int_eq(poll_all(s, (uint64_t) t * SEC, &u, 1, &out), 0);
        event_list_done(&out);
        stalls_free(s);
}
END_TEST

/* Two non-empty listeners on one port whose connections cannot be told
 * apart (an SO_REUSEPORT pair, a wildcard next to a specific address) are
 * not found stalled; on other ports or addresses they are. */
START_TEST(test_shared) {
        Stalls *s = NULL;
        EventList out = { 0 };
        Listener pair[2] = { tcp(1, 80, 2), tcp(2, 80, 3) }, apart[2] = { tcp(3, 81, 2), tcp(4, 81, 2) };
        Listener wild = tcp(5, 82, 2), one = tcp(6, 82, 1);

        memset(wild.addr, 0, sizeof(wild.addr));
        apart[1].addr[3] = 2; /* 127.0.0.2 */
        ck_assert_int_eq(stalls_new(&s), 0);
        current_head = 555;
        ck_assert_int_eq(poll_all(s, 0, pair, 2, &out), 0);
        ck_assert_int_eq(poll_all(s, 10 * SEC, pair, 2, &out), 0);
        ck_assert_int_eq(poll_all(s, 20 * SEC, pair, 2, &out), 0);
        /* one member alone holds connections: its head is its own */
        pair[1].depth = 0;
        ck_assert_int_eq(poll_all(s, 21 * SEC, pair, 2, &out), 1);
        ck_assert_int_eq(out.items[0].kind, EVENT_STALLED);
        ck_assert_uint_eq(out.items[0].listener.cookie, 1);
        ck_assert_int_eq(poll_all(s, 30 * SEC, apart, 2, &out), 0);
        ck_assert_int_eq(poll_all(s, 40 * SEC, apart, 2, &out), 2);
        {
                Listener ws[2] = { wild, one };

                ck_assert_int_eq(poll_all(s, 50 * SEC, ws, 2, &out), 0);
                ck_assert_int_eq(poll_all(s, 60 * SEC, ws, 2, &out), 0);
        }
        event_list_done(&out);
        stalls_free(s);
}
END_TEST

/* A UNIX client that goes away stays in the queue, read as 0 in its
 * place: the queue has not moved. accept() moves the others up. */
START_TEST(test_unix_client_gone) {
        Stalls *s = NULL;
        EventList out = { 0 };
        Listener u = unix_l(1, 3);

        ck_assert_int_eq(stalls_new(&s), 0);
        set_clients(1, 10, 11, 12, 3);
        ck_assert_int_eq(poll_all(s, 0, &u, 1, &out), 0);
        set_clients(1, 0, 11, 12, 3); /* the first client gave up */
        ck_assert_int_eq(poll_all(s, 5 * SEC, &u, 1, &out), 0);
        ck_assert_int_eq(poll_all(s, 10 * SEC, &u, 1, &out), 1);
        ck_assert_int_eq(out.items[0].kind, EVENT_STALLED);
        ck_assert_uint_eq(out.items[0].stalled_usec, 10 * SEC);
        /* the second one gives up too: still stalled, no accepting */
        set_clients(1, 0, 0, 12, 3);
        ck_assert_int_eq(poll_all(s, 11 * SEC, &u, 1, &out), 0);
        /* accept() took the first (gone) one, and one more came: the depth
         * stayed, but the list moved up */
        set_clients(1, 0, 12, 13, 3);
        ck_assert_int_eq(poll_all(s, 12 * SEC, &u, 1, &out), 1);
        ck_assert_int_eq(out.items[1].kind, EVENT_ACCEPTING);
        ck_assert_uint_eq(out.items[1].stalled_usec, 12 * SEC);
        event_list_done(&out);
        stalls_free(s);
}
END_TEST

/* The stalled listeners the last poll observed, with their tags and how
 * long; not those of a namespace whose dump failed. */
static size_t each_n;
static size_t each_tag;
static uint64_t each_usec;
static void each_cb(const Listener *l, size_t tag, uint64_t usec, void *userdata) {
        (void) l;
        (void) userdata;
        each_n++;
        each_tag = tag;
        each_usec = usec;
}

START_TEST(test_each_stalled) {
        Stalls *s = NULL;
        EventList out = { 0 };
        Listener u = unix_l(5, 3), v = unix_l(6, 1);

        ck_assert_int_eq(stalls_new(&s), 0);
        set_clients(5, 4711, 0, 0, 1);
        for (int t = 0; t <= 12; t += 6) {
                set_clients(6, 100 + (uint32_t) t, 0, 0, 1); /* v keeps moving */
                stalls_begin(s, (uint64_t) t * SEC);
                ck_assert_int_eq(stalls_observe(s, &u, &watch10, 40 + (size_t) t), 0);
                ck_assert_int_eq(stalls_observe(s, &v, &watch10, 1), 0);
                stalls_read_heads(s, 0, read_head, NULL);
                (void) stalls_end(s, &out);
        }
        each_n = 0;
        stalls_each_stalled(s, each_cb, NULL);
        ck_assert_uint_eq(each_n, 1);
        ck_assert_uint_eq(each_tag, 52);
        ck_assert_uint_eq(each_usec, 12 * SEC);
        /* its dump failed: kept, but not observed */
        stalls_begin(s, 13 * SEC);
        stalls_keep_netns(s, 0);
        (void) stalls_end(s, &out);
        ck_assert(stalls_any_stalled(s));
        each_n = 0;
        stalls_each_stalled(s, each_cb, NULL);
        ck_assert_uint_eq(each_n, 0);
        event_list_done(&out);
        stalls_free(s);
}
END_TEST

/* A dump that shows a listener twice counts it once. */
START_TEST(test_twice) {
        Stalls *s = NULL;
        EventList out = { 0 };
        Listener u[2] = { unix_l(5, 3), unix_l(5, 3) };

        ck_assert_int_eq(stalls_new(&s), 0);
        set_clients(5, 4711, 0, 0, 1);
        ck_assert_int_eq(poll_all(s, 0, u, 2, &out), 0);
        ck_assert_int_eq(poll_all(s, 10 * SEC, u, 2, &out), 1);
        ck_assert_uint_eq(stalls_n_tracked(s), 1);
        event_list_done(&out);
        stalls_free(s);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("stalls");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_same_head_stalls_once);
        tcase_add_test(tc, test_head_wait);
        tcase_add_test(tc, test_depth_falls);
        tcase_add_test(tc, test_drained_and_gone);
        tcase_add_test(tc, test_kept_and_off);
        tcase_add_test(tc, test_unix_and_ports);
        tcase_add_test(tc, test_unix_client_gone);
        tcase_add_test(tc, test_shared);
        tcase_add_test(tc, test_twice);
        tcase_add_test(tc, test_each_stalled);
        suite_add_tcase(s, tc);
        return s;
}
