/* SPDX-License-Identifier: MIT */
/* The sentences users read in MESSAGE, and the log target choice. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "check-main.h"
#include "sink.h"

/* sink_event()'s journal entries, caught here instead of sent: the test
 * binary's own definition takes precedence over libsystemd's. sd-journal.h
 * makes sd_journal_sendv() a macro for this function (with CODE_FILE= etc.,
 * not recorded here). */
static char sent[32][1600];
static int n_sent;

int sd_journal_sendv_with_location(const char *file, const char *line, const char *func, const struct iovec *iov,
                                   int n) {
        n_sent = 0;
        for (int i = 0; i < n && i < 32; i++) {
                snprintf(sent[i], sizeof(sent[i]), "%.*s", (int) iov[i].iov_len, (const char *) iov[i].iov_base);
                n_sent++;
        }
        return 0;
}

/* The value of the journal field name in the last entry sent, or NULL. */
static const char *sent_field(const char *name) {
        size_t len = strlen(name);

        for (int i = 0; i < n_sent; i++)
                if (strncmp(sent[i], name, len) == 0 && sent[i][len] == '=')
                        return sent[i] + len + 1;
        return NULL;
}

static Event event(EventKind kind, const char *addr, uint16_t port, uint32_t depth, uint32_t backlog) {
        Event e = { .kind = kind, .somaxconn = 4096 };

        e.listener.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
        ck_assert_int_eq(inet_pton(e.listener.family, addr, e.listener.addr), 1);
        e.listener.port = port;
        e.listener.depth = depth;
        e.listener.backlog = backlog;
        e.fill_pct = listener_fill_pct(&e.listener);
        return e;
}

static const char *format(const Event *e) {
        static char buf[1024];
        size_t n = sink_format_message(e, NULL, buf, sizeof(buf));

        ck_assert_uint_eq(n, strlen(buf));
        return buf;
}

START_TEST(test_high) {
        Event e = event(EVENT_HIGH, "::1", 9000, 4, 4);

        strcpy(e.name, "api");
        ck_assert_str_eq(format(&e), "Listen queue of [::1]:9000 (api) is 80% full: 4 of 5 connections wait for "
                                     "accept(). Raise the application's listen backlog (now 4) or make it accept "
                                     "connections faster.");
        e.reminder = true;
        ck_assert_str_eq(format(&e), "Listen queue of [::1]:9000 (api) is still 80% full: 4 of 5 connections wait "
                                     "for accept(). Raise the application's listen backlog (now 4) or make it "
                                     "accept connections faster.");
}
END_TEST

START_TEST(test_full_clamped) {
        Event e = event(EVENT_FULL, "0.0.0.0", 443, 4097, 4096);

        e.clamped = true;
        ck_assert_str_eq(format(&e), "Listen queue of *:443 is full: 4097 of 4097 connections wait for accept(), "
                                     "new connections are dropped or delayed. Its backlog 4096 equals "
                                     "net.core.somaxconn, so the application's own value was probably cut down: "
                                     "raise net.core.somaxconn, and the application's listen backlog with it, or "
                                     "make the application accept faster.");
}
END_TEST

/* Hints: framework default backlogs, and resets with abort_on_overflow. */
START_TEST(test_hints) {
        Event e = event(EVENT_FULL, "127.0.0.1", 6379, 512, 511);

        e.abort_on_overflow = 1;
        ck_assert_str_eq(format(&e), "Listen queue of 127.0.0.1:6379 is full: 512 of 512 connections wait for "
                                     "accept(), new connections are dropped or delayed. Its backlog 511 is a "
                                     "common framework default, often too small for a busy service: raise the "
                                     "application's listen backlog or make it accept connections faster. With "
                                     "net.ipv4.tcp_abort_on_overflow = 1, clients get a reset instead of "
                                     "retrying.");
        e.kind = EVENT_HIGH;
        e.listener.depth = 500;
        e.fill_pct = listener_fill_pct(&e.listener);
        ck_assert_ptr_null(strstr(format(&e), "reset")); /* nothing is turned away yet */
        e.abort_on_overflow = 0;
        e.kind = EVENT_COUNTER;
        e.counter = NETSTAT_LISTEN_OVERFLOWS;
        e.increase = 3;
        e.period_usec = 1000000;
        ck_assert_ptr_null(strstr(format(&e), "resets"));
        e.abort_on_overflow = 1;
        ck_assert_str_eq(format(&e), "Host counter ListenOverflows rose by 3 in the last 1 s: a listener's accept "
                                     "queue was full when a handshake completed. net.ipv4.tcp_abort_on_overflow "
                                     "is 1: those clients were sent resets.");
}
END_TEST

START_TEST(test_cleared_gone) {
        Event e = event(EVENT_CLEARED, "127.0.0.1", 8080, 1, 9);

        ck_assert_str_eq(format(&e), "Listen queue of 127.0.0.1:8080 has drained to 10% (1 of 10); alert cleared.");
        e.kind = EVENT_GONE;
        ck_assert_str_eq(format(&e), "127.0.0.1:8080 stopped listening while its queue alert was raised (last 1 "
                                     "of 10); alert withdrawn.");
}
END_TEST

START_TEST(test_drops) {
        Event e = event(EVENT_DROPS, "127.0.0.1", 8080, 3, 2);

        e.drops = 1;
        e.period_usec = 100000;
        ck_assert_str_eq(format(&e), "127.0.0.1:8080 dropped 1 connection attempt since the previous poll (queue 3 "
                                     "of 3). Raise the application's listen backlog (now 2) or make it accept "
                                     "connections faster.");
        e.drops = 600;
        e.period_usec = 60000000;
        ck_assert_str_eq(format(&e), "127.0.0.1:8080 dropped 600 connection attempts in the last 60 s (queue 3 of "
                                     "3). Raise the application's listen backlog (now 2) or make it accept "
                                     "connections faster.");
        e.period_usec = 300000000;
        ck_assert_ptr_nonnull(strstr(format(&e), " in the last 5 min "));
}
END_TEST

/* How long clients waited and how many gave up: after the queue numbers,
 * only the parts that are known and not zero; the rest of the sentence as
 * it always was. Fields on high, full and drops. */
START_TEST(test_wait) {
        Event e = event(EVENT_FULL, "127.0.0.1", 8080, 3, 2);
        Sink sink;

        e.listener.has_wait = true;
        e.listener.wait_ms = 4250;
        e.listener.gave_up = 3;
        ck_assert_str_eq(format(&e), "Listen queue of 127.0.0.1:8080 is full: 3 of 3 connections wait for accept() "
                                     "(clients have waited up to 4.2 s; 3 gave up), new connections are dropped or "
                                     "delayed. Raise the application's listen backlog (now 2) or make it accept "
                                     "connections faster.");
        sink_init(&sink, LOG_TARGET_JOURNAL);
        ck_assert_int_eq(sink_event(&sink, &e, NULL), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_WAIT_MS"), "4250");
        ck_assert_str_eq(sent_field("BACKLOGD_GAVE_UP"), "3");
        e.listener.gave_up = 0;
        e.listener.wait_ms = 125900;
        e.kind = EVENT_HIGH;
        e.listener.depth = 2;
        e.fill_pct = listener_fill_pct(&e.listener);
        ck_assert_str_eq(format(&e), "Listen queue of 127.0.0.1:8080 is 66% full: 2 of 3 connections wait for "
                                     "accept() (clients have waited up to 125 s). Raise the application's listen "
                                     "backlog (now 2) or make it accept connections faster.");
        ck_assert_int_eq(sink_event(&sink, &e, NULL), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_GAVE_UP"), "0");
        e.kind = EVENT_DROPS;
        e.drops = 2;
        e.period_usec = 100000;
        e.listener.wait_ms = 0;
        e.listener.gave_up = 1;
        ck_assert_str_eq(format(&e), "127.0.0.1:8080 dropped 2 connection attempts since the previous poll (queue 2 "
                                     "of 3; 1 gave up). Raise the application's listen backlog (now 2) or make it "
                                     "accept connections faster.");
        ck_assert_int_eq(sink_event(&sink, &e, NULL), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_WAIT_MS"), "0");
        /* nothing known, or nothing to say: the sentence as it was */
        e.listener.gave_up = 0;
        ck_assert_ptr_nonnull(strstr(format(&e), "(queue 2 of 3). "));
        e.listener.has_wait = false;
        e.listener.wait_ms = 9000;
        ck_assert_ptr_nonnull(strstr(format(&e), "(queue 2 of 3). "));
        ck_assert_int_eq(sink_event(&sink, &e, NULL), 0);
        ck_assert_ptr_null(sent_field("BACKLOGD_WAIT_MS"));
        ck_assert_ptr_null(sent_field("BACKLOGD_GAVE_UP"));
        /* not on a cleared entry */
        e.listener.has_wait = true;
        e.kind = EVENT_CLEARED;
        ck_assert_int_eq(sink_event(&sink, &e, NULL), 0);
        ck_assert_ptr_null(sent_field("BACKLOGD_WAIT_MS"));
        ck_assert_ptr_null(strstr(format(&e), "waited"));
}
END_TEST

/* The owner, where known, is named in the sentence; nothing is guessed. */
START_TEST(test_owner) {
        Event e = event(EVENT_FULL, "127.0.0.1", 8080, 3, 2);
        EventOwner o = {
                .unit = "nginx.service", .cgroup = "/system.slice/nginx.service", .pid = 812, .comm = "nginx"
        };
        char buf[1024];

        strcpy(e.name, "api");
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_str_eq(buf, "Listen queue of 127.0.0.1:8080 (api) of nginx.service (nginx, pid 812) is full: 3 "
                              "of 3 connections wait for accept(), new connections are dropped or delayed. Raise "
                              "the application's listen backlog (now 2) or make it accept connections faster.");
        o.pid = 0;
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "127.0.0.1:8080 (api) of nginx.service is full"));
        o = (EventOwner){ .pid = 77, .comm = "redis-server" };
        e.name[0] = 0;
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "Listen queue of 127.0.0.1:8080 of redis-server, pid 77 is full"));

        e = (Event){ .kind = EVENT_FULL,
                     .listener = { .kind = LISTENER_UNIX,
                                   .family = AF_UNIX,
                                   .depth = 3,
                                   .backlog = 2,
                                   .path = "/run/php/php-fpm.sock" } };
        sink_format_message(&e, NULL, buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "Listen queue of /run/php/php-fpm.sock is full: 3 of 3 connections"));
}
END_TEST

START_TEST(test_syn) {
        Event e = event(EVENT_SYN_FULL, "0.0.0.0", 443, 0, 4);

        e.listener.syn_depth = 5;
        e.listener.has_syn = true;
        ck_assert_str_eq(format(&e), "SYN queue of *:443 is full: 5 half-open connections for a capacity of 5, new "
                                     "SYNs are dropped or answered with SYN cookies. Raise the listen backlog and "
                                     "net.ipv4.tcp_max_syn_backlog, keep net.ipv4.tcp_syncookies on, and look for "
                                     "clients that connect and stall or a SYN flood.");
        e.kind = EVENT_SYN_CLEARED;
        e.listener.syn_depth = 1;
        ck_assert_str_eq(format(&e), "SYN queue of *:443 has drained to 1 half-open connections; alert cleared.");
        ck_assert_str_eq(event_kind_name(EVENT_SYN_HIGH), "syn_high");
}
END_TEST

START_TEST(test_counter) {
        Event e = {
                .kind = EVENT_COUNTER, .counter = NETSTAT_LISTEN_OVERFLOWS, .increase = 12, .period_usec = 1000000
        };

        ck_assert_str_eq(format(&e), "Host counter ListenOverflows rose by 12 in the last 1 s: a listener's accept "
                                     "queue was full when a handshake completed.");
        e.counter = NETSTAT_TCP_REQQ_FULL_DO_COOKIES;
        ck_assert_str_eq(format(&e), "Host counter TCPReqQFullDoCookies rose by 12 in the last 1 s: a SYN queue "
                                     "was full and SYN cookies were sent instead.");
}
END_TEST

/* BACKLOGD_CAUSE on drops and counter entries, and what each sentence
 * says of it; no field, and the sentence as it was, when unknown. */
START_TEST(test_causes) {
        static const struct {
                EventCause cause;
                const char *field, *sentence;
        } drops[] = {
                { EVENT_CAUSE_NONE, NULL,
                  "127.0.0.1:8080 dropped 12 connection attempts in the last 5 s (queue 3 of 3). Raise the "
                  "application's listen backlog (now 2) or make it accept connections faster." },
                { EVENT_CAUSE_ACCEPT_QUEUE, "accept_queue",
                  "127.0.0.1:8080 dropped 12 connection attempts in the last 5 s (queue 3 of 3): its accept queue "
                  "overflowed. Raise the application's listen backlog (now 2) or make it accept connections "
                  "faster." },
                { EVENT_CAUSE_SYN_QUEUE, "syn_queue",
                  "127.0.0.1:8080 dropped 12 connection attempts in the last 5 s (queue 3 of 3): its SYN queue "
                  "overflowed and SYN cookies are off. Raise the listen backlog and net.ipv4.tcp_max_syn_backlog, "
                  "or turn net.ipv4.tcp_syncookies on." },
                { EVENT_CAUSE_DEFER_ACCEPT, "defer_accept",
                  "127.0.0.1:8080 dropped 12 connection attempts in the last 5 s (queue 3 of 3): TCP_DEFER_ACCEPT "
                  "dropped the handshake ACKs of clients that sent no data. These are clients that connect and say "
                  "nothing (idle pools, health checks, scanners): they wait half open until they send data or the "
                  "TCP_DEFER_ACCEPT time runs out." },
                { EVENT_CAUSE_OTHER, "other",
                  "127.0.0.1:8080 dropped 12 connection attempts in the last 5 s (queue 3 of 3): the host counters "
                  "show no full accept or SYN queue and no TCP_DEFER_ACCEPT drop. Such drops come from memory "
                  "pressure, net.ipv4.tcp_max_syn_backlog with SYN cookies off, or a socket filter; nstat -az shows "
                  "the host's other TCP counters." },
        };
        static const struct {
                NetstatCounter counter;
                EventCause cause;
                const char *field, *sentence;
        } counters[] = {
                { NETSTAT_LISTEN_OVERFLOWS, EVENT_CAUSE_ACCEPT_QUEUE, "accept_queue",
                  "Host counter ListenOverflows rose by 12 in the last 5 s: a listener's accept queue was full when a "
                  "handshake completed. Raise the listen backlog of the listener concerned or make it accept "
                  "connections faster." },
                { NETSTAT_LISTEN_DROPS, EVENT_CAUSE_ACCEPT_QUEUE, "accept_queue",
                  "Host counter ListenDrops rose by 12 in the last 5 s: connection attempts were dropped at a "
                  "listening socket, as an accept queue overflowed. Raise the listen backlog of the listener "
                  "concerned or make it accept connections faster." },
                { NETSTAT_LISTEN_DROPS, EVENT_CAUSE_SYN_QUEUE, "syn_queue",
                  "Host counter ListenDrops rose by 12 in the last 5 s: connection attempts were dropped at a "
                  "listening socket, as a SYN queue overflowed with SYN cookies off. Raise the listen backlog and "
                  "net.ipv4.tcp_max_syn_backlog, or turn net.ipv4.tcp_syncookies on." },
                { NETSTAT_LISTEN_DROPS, EVENT_CAUSE_OTHER, "other",
                  "Host counter ListenDrops rose by 12 in the last 5 s: connection attempts were dropped at a "
                  "listening socket, and neither ListenOverflows nor TCPReqQFullDrop rose with it. Such drops come "
                  "from memory pressure, net.ipv4.tcp_max_syn_backlog with SYN cookies off, or a socket filter; "
                  "nstat -az shows the host's other TCP counters." },
                { NETSTAT_LISTEN_DROPS, EVENT_CAUSE_NONE, NULL,
                  "Host counter ListenDrops rose by 12 in the last 5 s: connection attempts were dropped at a "
                  "listening socket." },
                { NETSTAT_TCP_REQQ_FULL_DROP, EVENT_CAUSE_SYN_QUEUE, "syn_queue",
                  "Host counter TCPReqQFullDrop rose by 12 in the last 5 s: SYNs were dropped because a SYN queue "
                  "was full and SYN cookies are off. Raise the listen backlog and net.ipv4.tcp_max_syn_backlog, or "
                  "turn net.ipv4.tcp_syncookies on." },
                { NETSTAT_TCP_REQQ_FULL_DO_COOKIES, EVENT_CAUSE_SYN_FLOOD, "syn_flood",
                  "Host counter TCPReqQFullDoCookies rose by 12 in the last 5 s: a SYN queue was full and SYN "
                  "cookies were sent instead. An attack or a burst that SYN cookies are coping with: connections "
                  "still get through; look for a SYN flood if it lasts." },
        };
        Sink sink;

        sink_init(&sink, LOG_TARGET_JOURNAL);
        for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++) {
                Event e = event(EVENT_DROPS, "127.0.0.1", 8080, 3, 2);

                e.drops = 12;
                e.period_usec = 5000000;
                e.cause = drops[i].cause;
                ck_assert_str_eq(format(&e), drops[i].sentence);
                ck_assert_int_eq(sink_event(&sink, &e, NULL), 0);
                ck_assert_pstr_eq(sent_field("BACKLOGD_CAUSE"), drops[i].field);
                ck_assert_str_eq(sent_field("BACKLOGD_DROPS"), "12");
        }
        for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
                Event e = { .kind = EVENT_COUNTER, .increase = 12, .period_usec = 5000000 };

                e.counter = counters[i].counter;
                e.cause = counters[i].cause;
                ck_assert_str_eq(format(&e), counters[i].sentence);
                ck_assert_int_eq(sink_event(&sink, &e, NULL), 0);
                ck_assert_pstr_eq(sent_field("BACKLOGD_CAUSE"), counters[i].field);
                ck_assert_str_eq(sent_field("BACKLOGD_COUNTER"), netstat_counter_name(counters[i].counter));
        }
        /* only drops and counters have one */
        {
                Event e = event(EVENT_FULL, "127.0.0.1", 8080, 3, 2);

                e.cause = EVENT_CAUSE_ACCEPT_QUEUE;
                ck_assert_int_eq(sink_event(&sink, &e, NULL), 0);
                ck_assert_ptr_null(sent_field("BACKLOGD_CAUSE"));
        }
}
END_TEST

/* Outside the daemon's own namespace, every sentence says which one, right
 * after the listener's address and name; "host" is not named. */
START_TEST(test_netns_sentences) {
        Event e = event(EVENT_FULL, "127.0.0.1", 8080, 3, 2);
        EventOwner o = { .netns = "web1", .unit = "nginx.service", .pid = 812, .comm = "nginx" };
        char buf[1024], host[1024];

        strcpy(e.name, "api");
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_str_eq(buf, "Listen queue of 127.0.0.1:8080 (api) in network namespace web1 of nginx.service "
                              "(nginx, pid 812) is full: 3 of 3 connections wait for accept(), new connections "
                              "are dropped or delayed. Raise the application's listen backlog (now 2) or make it "
                              "accept connections faster.");
        o.netns = NETNS_HOST_NAME;
        sink_format_message(&e, &o, host, sizeof(host));
        ck_assert_str_eq(host, "Listen queue of 127.0.0.1:8080 (api) of nginx.service (nginx, pid 812) is full: 3 "
                               "of 3 connections wait for accept(), new connections are dropped or delayed. Raise "
                               "the application's listen backlog (now 2) or make it accept connections faster.");

        o = (EventOwner){ .netns = "web1" };
        e.name[0] = 0;
        e.kind = EVENT_DROPS;
        e.drops = 1;
        e.period_usec = 100000;
        ck_assert_uint_eq(sink_format_message(&e, &o, buf, sizeof(buf)), strlen(buf));
        ck_assert_str_eq(buf, "127.0.0.1:8080 in network namespace web1 dropped 1 connection attempt since the "
                              "previous poll (queue 3 of 3). Raise the application's listen backlog (now 2) or "
                              "make it accept connections faster.");
        e.kind = EVENT_GONE;
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_str_eq(buf, "127.0.0.1:8080 in network namespace web1 stopped listening while its queue alert "
                              "was raised (last 3 of 3); alert withdrawn.");
        /* Not closed: the namespace is not watched any more. */
        e.gone = GONE_NETNS;
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_str_eq(buf, "127.0.0.1:8080 in network namespace web1 is no longer watched, as its network "
                              "namespace is not, while its queue alert was raised (last 3 of 3); alert withdrawn.");
        /* Still listening: a reload stopped watching it. */
        e.gone = GONE_UNWATCHED;
        strcpy(e.name, "api");
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_str_eq(buf, "127.0.0.1:8080 (api) in network namespace web1 is no longer watched after a reload "
                              "of the configuration, while its queue alert was raised (last 3 of 3); alert "
                              "withdrawn.");
        e.gone = GONE_CLOSED;
        e.name[0] = 0;

        e = event(EVENT_SYN_FULL, "0.0.0.0", 443, 0, 4);
        e.listener.syn_depth = 5;
        e.listener.has_syn = true;
        o.pid = 90;
        snprintf(o.comm, sizeof(o.comm), "haproxy");
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_str_eq(buf, "SYN queue of *:443 in network namespace web1 of haproxy, pid 90 is full: 5 half-open "
                              "connections for a capacity of 5, new SYNs are dropped or answered with SYN cookies. "
                              "Raise the listen backlog and net.ipv4.tcp_max_syn_backlog, keep "
                              "net.ipv4.tcp_syncookies on, and look for clients that connect and stall or a SYN "
                              "flood.");

        e = (Event){ .kind = EVENT_COUNTER,
                     .counter = NETSTAT_LISTEN_OVERFLOWS,
                     .increase = 3,
                     .period_usec = 5000000,
                     .abort_on_overflow = 1 };
        o = (EventOwner){ .netns = "web1" };
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_str_eq(buf, "Host counter ListenOverflows rose by 3 in network namespace web1 in the last 5 s: a "
                              "listener's accept queue was full when a handshake completed. "
                              "net.ipv4.tcp_abort_on_overflow is 1: those clients were sent resets.");
        o.netns = NETNS_HOST_NAME;
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_str_eq(buf, "Host counter ListenOverflows rose by 3 in the last 5 s: a listener's accept queue "
                              "was full when a handshake completed. net.ipv4.tcp_abort_on_overflow is 1: those "
                              "clients were sent resets.");
}
END_TEST

/* BACKLOGD_NETNS comes with every event kind whose owner names a namespace,
 * "host" included; a counter's owner gives nothing else. */
/* Two listeners on one address:port bound to different devices are told
 * apart: the device in the endpoint, as ss shows it, and in its own field;
 * GONE says why in BACKLOGD_GONE. */
START_TEST(test_interface_and_gone_fields) {
        Event e = event(EVENT_FULL, "127.0.0.1", 8080, 3, 2);
        EventOwner o = { .netns = "web1", .interface = "eth1" };
        Sink sink;
        char buf[1024];

        e.listener.ifindex = 3;
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_str_eq(buf, "Listen queue of 127.0.0.1%eth1:8080 in network namespace web1 is full: 3 of 3 "
                              "connections wait for accept(), new connections are dropped or delayed. Raise the "
                              "application's listen backlog (now 2) or make it accept connections faster.");
        sink_init(&sink, LOG_TARGET_JOURNAL);
        ck_assert_int_eq(sink_event(&sink, &e, &o), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_INTERFACE"), "eth1");
        ck_assert_str_eq(sent_field("BACKLOGD_ADDRESS"), "127.0.0.1");
        ck_assert_ptr_null(sent_field("BACKLOGD_GONE"));
        e.kind = EVENT_GONE;
        e.gone = GONE_UNWATCHED;
        ck_assert_int_eq(sink_event(&sink, &e, &o), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_GONE"), "unwatched");
        e.gone = GONE_NETNS;
        o.interface = NULL;
        ck_assert_int_eq(sink_event(&sink, &e, &o), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_GONE"), "netns");
        ck_assert_ptr_null(sent_field("BACKLOGD_INTERFACE"));
}
END_TEST

START_TEST(test_netns_fields) {
        Sink s = { .target = LOG_TARGET_JOURNAL };
        Event e = event(EVENT_HIGH, "127.0.0.1", 8080, 4, 4);
        EventOwner o = { .netns = "web1", .unit = "api.service" };

        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_NETNS"), "web1");
        ck_assert_str_eq(sent_field("BACKLOGD_UNIT"), "api.service");
        ck_assert_str_eq(sent_field("BACKLOGD_PORT"), "8080");
        ck_assert_str_eq(sent_field("MESSAGE"), "Listen queue of 127.0.0.1:8080 in network namespace web1 of "
                                                "api.service is 80% full: 4 of 5 connections wait for accept(). "
                                                "Raise the application's listen backlog (now 4) or make it "
                                                "accept connections faster.");
        o.netns = NETNS_HOST_NAME;
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_NETNS"), "host");
        ck_assert_ptr_nonnull(strstr(sent_field("MESSAGE"), "Listen queue of 127.0.0.1:8080 of api.service is"));
        ck_assert_int_eq(sink_event(&s, &e, NULL), 0);
        ck_assert_ptr_null(sent_field("BACKLOGD_NETNS"));
        ck_assert_str_eq(sent_field("BACKLOGD_EVENT"), "high");

        e = (Event){ .kind = EVENT_COUNTER, .counter = NETSTAT_LISTEN_DROPS, .increase = 7, .period_usec = 1000000 };
        o = (EventOwner){ .netns = "web1", .unit = "ignored.service", .pid = 5, .comm = "x" };
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_EVENT"), "counter");
        ck_assert_str_eq(sent_field("BACKLOGD_NETNS"), "web1");
        ck_assert_str_eq(sent_field("BACKLOGD_COUNTER"), "ListenDrops");
        ck_assert_str_eq(sent_field("BACKLOGD_INCREASE"), "7");
        ck_assert_ptr_null(sent_field("BACKLOGD_UNIT"));
        ck_assert_ptr_null(sent_field("BACKLOGD_PID"));
        ck_assert_str_eq(sent_field("MESSAGE"), "Host counter ListenDrops rose by 7 in network namespace web1 in "
                                                "the last 1 s: connection attempts were dropped at a listening "
                                                "socket.");
        ck_assert_int_eq(sink_event(&s, &e, NULL), 0);
        ck_assert_ptr_null(sent_field("BACKLOGD_NETNS"));
        ck_assert_str_eq(sent_field("BACKLOGD_COUNTER"), "ListenDrops");
}
END_TEST

/* A socket-activated listener: named by the service its socket unit
 * starts, the socket unit beside it. */
START_TEST(test_socket_unit) {
        Sink s = { .target = LOG_TARGET_JOURNAL };
        Event e = event(EVENT_FULL, "127.0.0.1", 9997, 2, 1);
        EventOwner o = { .netns = NETNS_HOST_NAME,
                         .unit = "qsock.service",
                         .socket_unit = "qsock.socket",
                         .cgroup = "/init.scope" };

        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_UNIT"), "qsock.service");
        ck_assert_str_eq(sent_field("OBJECT_SYSTEMD_UNIT"), "qsock.service");
        ck_assert_str_eq(sent_field("BACKLOGD_SOCKET_UNIT"), "qsock.socket");
        ck_assert_str_eq(sent_field("BACKLOGD_CGROUP"), "/init.scope");
        ck_assert_str_eq(sent_field("MESSAGE"),
                         "Listen queue of 127.0.0.1:9997 of qsock.service (via qsock.socket) is full: 2 of 2 "
                         "connections wait for accept(), new connections are dropped or delayed. Raise the "
                         "application's listen backlog (now 1) or make it accept connections faster.");
        o.pid = 57;
        strcpy(o.comm, "python3");
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_ptr_nonnull(
                strstr(sent_field("MESSAGE"), " of qsock.service (via qsock.socket; python3, pid 57) is full"));
        o = (EventOwner){ .unit = "qtest.service" };
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_ptr_null(sent_field("BACKLOGD_SOCKET_UNIT"));
}
END_TEST

/* Long values come out whole: a Kubernetes pod's cgroup path, a unit name
 * near its limit of 255. */
START_TEST(test_long_fields) {
        const char *cgroup = "/kubepods.slice/kubepods-burstable.slice/"
                             "kubepods-burstable-pod0f5c8a3e_2b1d_4c6e_9a7f_3d2e1c0b9a8f.slice/"
                             "cri-containerd-4f3e2d1c0b9a8f7e6d5c4b3a29181716f5e4d3c2b1a09f8e7d6c5b4a39281716.scope";
        Sink s = { .target = LOG_TARGET_JOURNAL };
        Event e = event(EVENT_FULL, "127.0.0.1", 8080, 3, 2);
        EventOwner o = { .cgroup = cgroup, .pid = 812, .comm = "nginx" };
        char unit[256];

        memset(unit, 'u', 247);
        strcpy(unit + 247, ".service");
        o.unit = unit;
        ck_assert_uint_gt(strlen(cgroup), 128);
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_CGROUP"), cgroup);
        ck_assert_str_eq(sent_field("BACKLOGD_UNIT"), unit);
        ck_assert_str_eq(sent_field("BACKLOGD_COMM"), "nginx");
        ck_assert_str_eq(sent_field("BACKLOGD_PID"), "812");
        ck_assert_str_eq(sent_field("PRIORITY"), "3");
        ck_assert_str_eq(sent_field("MESSAGE_ID"), "77fd7abb3e3a4e0bacef8b70ddfa268e");
        ck_assert_ptr_nonnull(strstr(sent_field("MESSAGE"), ".service (nginx, pid 812) is full: 3 of 3 "));
}
END_TEST

/* The console prints the journal's sentence. */
START_TEST(test_netns_console) {
        Sink s = { .target = LOG_TARGET_CONSOLE };
        Event e = event(EVENT_CLEARED, "127.0.0.1", 8080, 1, 9);
        EventOwner o = { .netns = "web1" };
        FILE *f = tmpfile();
        char line[512] = "";

        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(dup2(fileno(f), STDERR_FILENO), STDERR_FILENO);
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        rewind(f);
        ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
        ck_assert_str_eq(line, "cleared: Listen queue of 127.0.0.1:8080 in network namespace web1 has drained to "
                               "10% (1 of 10); alert cleared.\n");
        fclose(f);
}
END_TEST

/* A UNIX path with a byte that is not UTF-8, a newline, ESC, a quote and
 * a backslash, a process name with ESC and a newline: the sentence shows
 * them escaped on one line, in MESSAGE and on the console, so that nothing
 * can forge a line; the fields carry the exact bytes. */
#define HOSTILE_PATH "/tmp/bl\xff\nfull: \x1b[2J\"q\\"
#define HOSTILE_COMM "ev\x1b[31m\nil"
#define HOSTILE_SENTENCE                                                                                              \
        "Listen queue of /tmp/bl\\xff\\nfull: \\x1b[2J\"q\\\\ of user-1.slice (ev\\x1b[31m\\nil, pid 4242) is "       \
        "full: 3 of 3 connections wait for accept(), new connections are dropped or delayed. Raise the "              \
        "application's listen backlog (now 2) or make it accept connections faster."

static Event hostile_event(EventOwner *o) {
        Event e = { .kind = EVENT_FULL,
                    .listener = { .kind = LISTENER_UNIX,
                                  .family = AF_UNIX,
                                  .depth = 3,
                                  .backlog = 2,
                                  .uid = 65534,
                                  .path = HOSTILE_PATH } };

        *o = (EventOwner){ .unit = "user-1.slice", .cgroup = "/user.slice/x\xff\r.scope", .pid = 4242 };
        strcpy(o->comm, HOSTILE_COMM);
        e.fill_pct = listener_fill_pct(&e.listener);
        return e;
}

START_TEST(test_hostile_journal) {
        Sink s = { .target = LOG_TARGET_JOURNAL };
        EventOwner o;
        Event e = hostile_event(&o);
        char buf[1024];

        ck_assert_uint_eq(sink_format_message(&e, &o, buf, sizeof(buf)), strlen(HOSTILE_SENTENCE));
        ck_assert_str_eq(buf, HOSTILE_SENTENCE);
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_str_eq(sent_field("MESSAGE"), HOSTILE_SENTENCE);
        ck_assert_str_eq(sent_field("BACKLOGD_PATH"), HOSTILE_PATH);
        ck_assert_str_eq(sent_field("BACKLOGD_COMM"), HOSTILE_COMM);
        ck_assert_str_eq(sent_field("BACKLOGD_CGROUP"), "/user.slice/x\xff\r.scope");
        ck_assert_str_eq(sent_field("BACKLOGD_UID"), "65534");
}
END_TEST

/* Console: exactly one line per event, and none that starts with a forged
 * "full: "; sink_log() escapes its text in the same way. */
START_TEST(test_hostile_console) {
        Sink s = { .target = LOG_TARGET_CONSOLE, .max_priority = LOG_INFO };
        EventOwner o;
        Event e = hostile_event(&o);
        FILE *f = tmpfile();
        char line[2048] = "";

        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(dup2(fileno(f), STDERR_FILENO), STDERR_FILENO);
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_int_eq(
                sink_log(&s, LOG_ERR, NULL, "network namespace %s: %s", "/run/netns/a\nfull: \x1b[0m", "gone"), 0);
        rewind(f);
        ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
        ck_assert_str_eq(line, "full: " HOSTILE_SENTENCE "\n");
        ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
        ck_assert_str_eq(line, "network namespace /run/netns/a\\nfull: \\x1b[0m: gone\n");
        ck_assert_ptr_null(fgets(line, sizeof(line), f));
        fclose(f);
}
END_TEST

START_TEST(test_truncation) {
        Event e = event(EVENT_FULL, "127.0.0.1", 8080, 3, 2);
        char small[16];
        size_t n = sink_format_message(&e, NULL, small, sizeof(small));

        ck_assert_uint_gt(n, sizeof(small));
        ck_assert_str_eq(small, "Listen queue of");
}
END_TEST

START_TEST(test_log_target) {
        LogTarget t = _LOG_TARGET_MAX;

        ck_assert_int_eq(log_target_from_string("journal", &t), 0);
        ck_assert_int_eq(t, LOG_TARGET_JOURNAL);
        ck_assert_int_eq(log_target_from_string("console", &t), 0);
        ck_assert_int_eq(t, LOG_TARGET_CONSOLE);
        ck_assert_int_eq(log_target_from_string("syslog", &t), -EINVAL);
        ck_assert_int_eq(t, LOG_TARGET_CONSOLE);
        ck_assert_str_eq(log_target_name(LOG_TARGET_AUTO), "auto");
}
END_TEST

/* JOURNAL_STREAM must name fd 2 itself, not any other file. */
START_TEST(test_stderr_is_journal) {
        char value[64];
        struct stat st;
        Sink s;
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);

        unsetenv("JOURNAL_STREAM");
        ck_assert(!sink_stderr_is_journal());
        snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino);
        setenv("JOURNAL_STREAM", value, 1);
        ck_assert(sink_stderr_is_journal());
        sink_init(&s, LOG_TARGET_AUTO);
        ck_assert_int_eq(s.target, LOG_TARGET_JOURNAL);
        sink_init(&s, LOG_TARGET_CONSOLE);
        ck_assert_int_eq(s.target, LOG_TARGET_CONSOLE);

        snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long) st.st_dev,
                 (unsigned long long) st.st_ino + 1);
        setenv("JOURNAL_STREAM", value, 1);
        ck_assert(!sink_stderr_is_journal());
        sink_init(&s, LOG_TARGET_AUTO);
        ck_assert_int_eq(s.target, LOG_TARGET_CONSOLE);
        setenv("JOURNAL_STREAM", "garbage", 1);
        ck_assert(!sink_stderr_is_journal());
        close(fd);
}
END_TEST

/* An SO_REUSEPORT group with one hung member: the sentence names the full
 * member's process and state, the fields the group. */
START_TEST(test_imbalance) {
        Sink s = { .target = LOG_TARGET_JOURNAL };
        Event e = event(EVENT_IMBALANCE, "0.0.0.0", 443, 129, 128);
        EventOwner o = { .unit = "web.service", .pid = 4711, .comm = "web", .state = "T (stopped)" };
        char buf[1024];

        e.somaxconn = -1;
        e.group_size = 8;
        e.group_full = 1;
        e.group_below = 7;
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_str_eq(buf, "1 of 8 sockets on *:443 of web.service is full, the others are nearly empty: one "
                              "worker is not accepting (web, pid 4711, state T). New connections are spread over "
                              "the sockets by a hash of the client's address and port: those sent to a full one "
                              "are dropped or delayed while the others idle. Find out why its process does not "
                              "accept() (stopped, blocked, or stuck in a loop).");
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_EVENT"), "imbalance");
        ck_assert_str_eq(sent_field("MESSAGE_ID"), "1a275d45d6ec4708aa11ce3e05c09665");
        ck_assert_str_eq(sent_field("PRIORITY"), "3");
        ck_assert_str_eq(sent_field("BACKLOGD_GROUP_SIZE"), "8");
        ck_assert_str_eq(sent_field("BACKLOGD_GROUP_FULL"), "1");
        ck_assert_str_eq(sent_field("BACKLOGD_PROCESS_STATE"), "T (stopped)");
        ck_assert_str_eq(sent_field("BACKLOGD_PID"), "4711");
        ck_assert_str_eq(sent_field("BACKLOGD_COMM"), "web");
        ck_assert_str_eq(sent_field("BACKLOGD_ADDRESS"), "0.0.0.0");
        ck_assert_str_eq(sent_field("BACKLOGD_PORT"), "443");
        ck_assert_str_eq(sent_field("BACKLOGD_DEPTH"), "129");
        ck_assert_str_eq(sent_field("BACKLOGD_BACKLOG"), "128");
        ck_assert_str_eq(sent_field("BACKLOGD_UNIT"), "web.service");

        /* Two full, some others between clear and full; no state known. */
        e.group_full = 2;
        e.group_below = 4;
        o.state = 0;
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "2 of 8 sockets on *:443 of web.service are full, 4 of the 6 others are "
                                          "nearly empty: workers are not accepting (one of them: web, pid 4711). "));
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_ptr_null(sent_field("BACKLOGD_PROCESS_STATE"));
        /* No process known. */
        sink_format_message(&e, NULL, buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, "nearly empty: workers are not accepting. New connections"));

        /* Over: why, once. The state field is not for this kind. */
        e.kind = EVENT_IMBALANCE_CLEARED;
        e.group_full = 0;
        e.listener.depth = 0;
        o.state = "S (sleeping)";
        o.pid = 0;
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_str_eq(sent_field("MESSAGE"), "Sockets on *:443 of web.service are no longer unbalanced: none of "
                                                "the 8 is full anymore; imbalance alert cleared.");
        ck_assert_str_eq(sent_field("BACKLOGD_EVENT"), "imbalance_cleared");
        ck_assert_str_eq(sent_field("MESSAGE_ID"), "183fb71d021d4939ba36e4fde18de02b");
        ck_assert_str_eq(sent_field("PRIORITY"), "5");
        ck_assert_str_eq(sent_field("BACKLOGD_GROUP_SIZE"), "8");
        ck_assert_str_eq(sent_field("BACKLOGD_GROUP_FULL"), "0");
        ck_assert_ptr_null(sent_field("BACKLOGD_PROCESS_STATE"));
        e.group_full = 3;
        e.group_below = 0;
        ck_assert_str_eq(format(&e), "Sockets on *:443 are no longer unbalanced: all 8 are at or above the clear "
                                     "level, 3 of them full: the group is loaded as a whole; imbalance alert "
                                     "cleared.");
        e.group_size = 1;
        e.group_full = 0;
        ck_assert_str_eq(format(&e), "Sockets on *:443 are no longer unbalanced: only 1 is left; imbalance alert "
                                     "cleared.");
        e.group_size = 8;
        e.group_full = 1;
        e.group_below = 3;
        ck_assert_str_eq(format(&e), "Sockets on *:443 are no longer unbalanced: 1 of 8 is full, 3 of the 7 others "
                                     "nearly empty; imbalance alert cleared.");
        ck_assert_ptr_null(sent_field("BACKLOGD_DROPS"));
}
END_TEST

/* Names a local user chose are escaped in the sentence, kept in fields. */
START_TEST(test_imbalance_hostile) {
        Sink s = { .target = LOG_TARGET_JOURNAL };
        Event e = event(EVENT_IMBALANCE, "127.0.0.1", 8443, 5, 4);
        EventOwner o = { .pid = 4711, .comm = "x\nfull: y\x1b", .state = "S (sleeping)" };
        char buf[1024];

        e.group_size = 2;
        e.group_full = 1;
        e.group_below = 1;
        strcpy(e.name, "api");
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf,
                                     "1 of 2 sockets on 127.0.0.1:8443 (api) is full, the others are nearly "
                                     "empty: one worker is not accepting (x\\nfull: y\\x1b, pid 4711, state S)."));
        ck_assert_ptr_null(strchr(buf, '\n'));
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_COMM"), "x\nfull: y\x1b");
        ck_assert_str_eq(sent_field("BACKLOGD_PROCESS_STATE"), "S (sleeping)");
        ck_assert_str_eq(sent_field("BACKLOGD_NAME"), "api");
}
END_TEST

/* A stall: how long, the holder's state and what it means; a UNIX
 * listener's waiting clients, their names escaped, their pids in a field. */
START_TEST(test_stalled_and_clients) {
        Sink s = { .target = LOG_TARGET_JOURNAL };
        Event e = event(EVENT_STALLED, "127.0.0.1", 8080, 3, 128);
        EventOwner o = { .unit = "api.service", .pid = 4711, .comm = "gunicorn", .state = "T (stopped)" };
        char buf[1024];

        e.stalled_usec = 12900000;
        e.listener.has_wait = true;
        e.listener.wait_ms = 14200;
        strcpy(e.name, "api");
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_str_eq(buf, "Listen queue of 127.0.0.1:8080 (api) of api.service (gunicorn, pid 4711) has not "
                              "moved for 12 s: nothing was accepted while 3 connections wait (clients have waited "
                              "up to 14.2 s). Its process is stopped (state T): resume it (kill -CONT), or let its "
                              "debugger go on.");
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_EVENT"), "stalled");
        ck_assert_str_eq(sent_field("BACKLOGD_STALLED_S"), "12");
        ck_assert_str_eq(sent_field("BACKLOGD_PROCESS_STATE"), "T (stopped)");
        ck_assert_str_eq(sent_field("BACKLOGD_WAIT_MS"), "14200");
        ck_assert_str_eq(sent_field("MESSAGE_ID"), "0d01394eebf1482099fb722657c03337");
        ck_assert_str_eq(sent_field("PRIORITY"), "4");
        ck_assert_ptr_null(sent_field("BACKLOGD_CLIENT_PIDS"));

        /* the end: how long it lasted; no state field */
        e.kind = EVENT_ACCEPTING;
        e.stalled_usec = 185 * 1000000ULL;
        e.listener.depth = 0;
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_str_eq(sent_field("MESSAGE"), "Listen queue of 127.0.0.1:8080 (api) of api.service (gunicorn, pid "
                                                "4711) moves again after a stall of 3 min: connections are accepted "
                                                "(queue 0 of 129).");
        ck_assert_str_eq(sent_field("BACKLOGD_STALLED_S"), "185");
        ck_assert_str_eq(sent_field("PRIORITY"), "5");
        ck_assert_ptr_null(sent_field("BACKLOGD_PROCESS_STATE"));

        /* a UNIX listener: its clients, hostile names escaped */
        e = (Event){ .kind = EVENT_FULL };
        e.listener.kind = LISTENER_UNIX;
        e.listener.family = AF_UNIX;
        strcpy(e.listener.path, "/run/app.sock");
        e.listener.depth = 3;
        e.listener.backlog = 2;
        o = (EventOwner){ .n_clients = 2 };
        o.clients[0] = (ProcessName){ .pid = 812, .comm = "psql" };
        o.clients[1] = (ProcessName){ .pid = 900, .comm = "x\nfull: y" };
        sink_format_message(&e, &o, buf, sizeof(buf));
        ck_assert_ptr_nonnull(strstr(buf, " Waiting clients: psql (pid 812), x\\nfull: y (pid 900)."));
        ck_assert_ptr_null(strchr(buf, '\n'));
        ck_assert_int_eq(sink_event(&s, &e, &o), 0);
        ck_assert_str_eq(sent_field("BACKLOGD_CLIENT_PIDS"), "812 900");
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("sink");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_high);
        tcase_add_test(tc, test_full_clamped);
        tcase_add_test(tc, test_hints);
        tcase_add_test(tc, test_cleared_gone);
        tcase_add_test(tc, test_drops);
        tcase_add_test(tc, test_wait);
        tcase_add_test(tc, test_counter);
        tcase_add_test(tc, test_causes);
        tcase_add_test(tc, test_owner);
        tcase_add_test(tc, test_syn);
        tcase_add_test(tc, test_imbalance);
        tcase_add_test(tc, test_imbalance_hostile);
        tcase_add_test(tc, test_stalled_and_clients);
        tcase_add_test(tc, test_netns_sentences);
        tcase_add_test(tc, test_netns_fields);
        tcase_add_test(tc, test_socket_unit);
        tcase_add_test(tc, test_interface_and_gone_fields);
        tcase_add_test(tc, test_long_fields);
        tcase_add_test(tc, test_netns_console);
        tcase_add_test(tc, test_hostile_journal);
        tcase_add_test(tc, test_hostile_console);
        tcase_add_test(tc, test_truncation);
        tcase_add_test(tc, test_log_target);
        tcase_add_test(tc, test_stderr_is_journal);
        suite_add_tcase(s, tc);
        return s;
}
