/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "describe.h"
#include "message-ids.h"
#include "monitor-internal.h"

/* A reload keeps a writer that works for the same path (its buffers are
 * grown already), and makes the others afresh: a failing writer gets a new
 * start, and its failure, if it persists, is reported once more. */
static void apply_metrics(Monitor *m, const Config *old, const Config *c) {
        ErrBuf err = { "" };

        /* A reload writes the file at the next poll, with what it selects. */
        m->metrics_next_usec = 0;
        if (old && old->metrics_file && c->metrics_file && strcmp(old->metrics_file, c->metrics_file) == 0 &&
            m->metrics && m->metrics_error == 0) {
                metrics_writer_set_all(m->metrics, c->metrics_all);
                return;
        }
        m->metrics = metrics_writer_free(m->metrics);
        m->metrics_error = 0;
        /* Fails only for a path the configuration accepted but the writer
         * cannot use; a missing directory is metrics_commit()'s to report. */
        if (c->metrics_file && metrics_writer_new(c->metrics_file, &m->metrics, &err) < 0)
                sink_log(&m->opts.sink, LOG_ERR, NULL, "Not writing metrics: %s", err.text);
        if (m->metrics)
                metrics_writer_set_all(m->metrics, c->metrics_all);
}

void monitor_set_config(Monitor *m, Config *c) {
        apply_metrics(m, m->config, c);
        config_free(m->config);
        m->config = c;
        m->n_ranges = config_port_ranges(c, m->ranges, DIAG_MAX_RANGES);
        m->reconfigured = true;
        monitor_fast_reset(m);
        namespaces_force(m->ns);
        /* A reload reads the sysctls again too (an operator who raised
         * net.core.somaxconn and reloads expects it seen). */
        for (size_t i = 0; i < m->ns->n; i++) {
                space_syn_reset(m->ns->spaces[i]);
                m->ns->spaces[i]->next_head_usec = m->ns->spaces[i]->head_usec = 0;
                m->ns->spaces[i]->head_backoff = 0;
                m->ns->spaces[i]->have_sysctls = false;
        }
        monitor_read_sockets(m, true);
}

const Config *monitor_config(const Monitor *m) {
        return m->config;
}

int monitor_new(const MonitorOptions *o, Config *c, Monitor **ret) {
        Monitor *m = calloc(1, sizeof(*m));

        if (!m) {
                config_free(c);
                return -ENOMEM;
        }
        m->opts = *o;
        if (namespaces_new(o->proc_root, &m->ns) < 0 || policy_new(&m->policy) < 0 || stalls_new(&m->stalls) < 0 ||
            counters_new(&m->counters) < 0 || cgroup_names_new(o->cgroup_root, &m->cgroups) < 0 ||
            users_new(&m->users) < 0 || process_finder_new(o->proc_root, &m->processes) < 0 ||
            budget_new(&m->budget) < 0 || socket_owners_new(o->cgroup_root, o->socket_units, &m->sockets) < 0 ||
            groups_new(&m->groups) < 0) {
                config_free(c);
                monitor_free(m);
                return -ENOMEM;
        }
        monitor_set_config(m, c);
        /* The first poll sets baselines anyway. */
        m->reconfigured = false;
        *ret = m;
        return 0;
}

Monitor *monitor_free(Monitor *m) {
        if (!m)
                return NULL;
        namespaces_free(m->ns);
        policy_free(m->policy);
        stalls_free(m->stalls);
        groups_free(m->groups);
        counters_free(m->counters);
        cgroup_names_free(m->cgroups);
        users_free(m->users);
        process_finder_free(m->processes);
        budget_free(m->budget);
        socket_owners_free(m->sockets);
        metrics_writer_free(m->metrics);
        config_free(m->config);
        event_list_done(&m->events);
        queue_waits_done(&m->waits);
        monitor_fast_done(m);
        free(m);
        return NULL;
}

size_t monitor_n_watched(const Monitor *m) {
        return policy_n_watched(m->policy);
}

/* " in 3 network namespaces", or "" when only the own one is watched. */
static const char *where_spaces(const Monitor *m, char *buf, size_t size) {
        size_t n = namespaces_n_live(m->ns);

        buf[0] = 0;
        if (n != 1 || m->ns->n == 0 || m->ns->spaces[0]->path)
                snprintf(buf, size, " in %zu network namespace%s", n, n == 1 ? "" : "s");
        return buf;
}

const char *monitor_status(const Monitor *m, char *buf, size_t size) {
        size_t n = policy_n_watched(m->policy), raised = policy_n_raised(m->policy);
        const Config *c = m->config;
        bool own_levels = false;
        char where[64], level[48], stalled[32] = "";
        size_t n_stalled = stalls_n_stalled(m->stalls);

        /* "above 80%" only when that is every watched listener's level. */
        for (size_t i = 0; i < c->n_watch && !own_levels; i++)
                own_levels = c->watch[i].warn != c->warn;
        if (own_levels)
                snprintf(level, sizeof(level), "their warn level");
        else
                snprintf(level, sizeof(level), "%u%%", c->warn);
        if (n_stalled > 0)
                snprintf(stalled, sizeof(stalled), ", %zu stalled", n_stalled);
        snprintf(buf, size, "watching %zu listener%s, %zu above %s%s%s", n, n == 1 ? "" : "s", raised, level, stalled,
                 where_spaces(m, where, sizeof(where)));
        return buf;
}

/* A source's outage is said once, and its end. */
static void say_transition(Monitor *m, int *state, int r, int priority, const char *failing, const char *works,
                           const char *where, const char *why) {
        int t = space_error_transition(state, r);

        if (t > 0)
                monitor_say(m, priority, "%s%s: %s; retrying every poll.", failing, where, why);
        else if (t < 0)
                monitor_say(m, LOG_NOTICE, "%s%s works again.", works, where);
}

/* ---- the dump ----------------------------------------------------------- */

static int observe_cb(const Listener *listener, void *userdata) {
        Monitor *m = userdata;
        Space *s = m->cur;
        const Listener *l = listener;
        Listener with_syn;
        const char *unit = NULL;
        SocketUnit *sock, *via = NULL;
        const Watch *w;
        int64_t syn = -1;

        /* Only on polls that counted the SYN queues, which are rare; UNIX
         * listeners have no SYN queue. */
        if (s->syn_fresh && listener->kind == LISTENER_TCP) {
                with_syn = *listener;
                with_syn.syn_depth = (uint32_t) space_syn_for(s, listener);
                with_syn.has_syn = true;
                l = &with_syn;
        }
        m->n_seen++;
        /* Matched once, for the metrics file and the policy alike; the unit
         * is looked up only when an entry needs it, or on the polls that
         * write the metrics file. */
        sock = socket_owners_find(m->sockets, l);
        if (sock || m->metrics_due || config_wants_unit(m->config))
                unit = socket_owners_unit(m->sockets, l, cgroup_names_unit(m->cgroups, l->cgroup_id), sock, &via);
        if (sock && via)
                monitor_check_clamp(m, s, l, via);
        w = config_match(m->config, l, unit, s->name);
        /* Any queue, watched or not: one that a unit's entry selects only
         * once its unit is known must not wait for the next dump. */
        if (l->depth > 0)
                s->idle = false;
        /* A SYN queue past half its clear level keeps the counts at their
         * cadence (count_syn()). */
        if (w && l->has_syn && (uint64_t) l->syn_depth * 200 >= (uint64_t) w->clear * ((uint64_t) l->backlog + 1))
                s->syn_quiet = false;
        if (m->metrics && w) {
                /* The file shows the last count, so that the SYN depth
                 * series has no gaps between counts. Between writes, only
                 * a listener that is not idle costs anything. */
                if (m->metrics_due) {
                        syn = l->has_syn ? (int64_t) l->syn_depth : space_syn_for(s, l);
                        (void) metrics_add_listener(m->metrics, l, s->name, w->name, unit, syn);
                } else
                        (void) metrics_note_listener(m->metrics, l, l->has_syn ? (int64_t) l->syn_depth : -1);
        }
        if (w && m->metrics_due && l->kind == LISTENER_TCP && l->depth > 0 && metrics_n_listeners(m->metrics) > 0) {
                uint32_t ms;
                bool known = stalls_head_wait(m->stalls, l, &ms);

                /* A stalled queue's head has not moved as of its last
                 * reading: its wait needs no walk. The others' are read
                 * after the dump, and then its too. */
                if (known)
                        metrics_set_wait(m->metrics, metrics_n_listeners(m->metrics) - 1, l, ms);
                queue_waits_note(&m->waits, l, metrics_n_listeners(m->metrics) - 1, known);
        }
        /* Out of memory for one listener's state: it is skipped this poll,
         * the dump goes on. */
        (void) policy_observe(m->policy, l, w, &m->events);
        /* Queues that are not empty (or, while one is stalled, all). */
        if (w && (l->depth > 0 || stalls_any_stalled(m->stalls)))
                (void) stalls_observe(m->stalls, l, w,
                                      m->metrics_due && metrics_n_listeners(m->metrics) > 0
                                              ? metrics_n_listeners(m->metrics) - 1
                                              : SIZE_MAX);
        if (w && l->kind == LISTENER_TCP && listener_is_full(l))
                groups_note_full(m->groups, l, w->name, w->clear);
        if (l->kind == LISTENER_TCP && config_watch_is_fast(m->config, w))
                monitor_fast_note(m, l, w);
        return 0;
}

/* The SO_REUSEPORT groups of this poll's full listeners (groups.h): their
 * ports dumped again, only on polls that have one. */
static void read_groups(Monitor *m, Space *s) {
        PortRange ranges[DIAG_MAX_RANGES];
        size_t n = groups_ports(m->groups, s->id, ranges, DIAG_MAX_RANGES);
        ErrBuf err = { "" };
        int r;

        if (n == 0)
                return;
        r = space_dump(s, ranges, n, false, groups_member_cb, m->groups, &err);
        if (r < 0) {
                groups_keep_netns(m->groups, s->id);
                monitor_say(m, LOG_DEBUG, "Cannot list the SO_REUSEPORT groups' members: %s", err.text);
        } else
                monitor_say(m, LOG_DEBUG, "Listed %d listener%s on %zu port range%s of full listeners.", r,
                            r == 1 ? "" : "s", n, n == 1 ? "" : "s");
}

static void metrics_stalled_cb(const Listener *l, size_t tag, uint64_t usec, void *userdata) {
        if (tag != SIZE_MAX)
                metrics_set_stalled(userdata, tag, l, (uint32_t) (usec / 1000000));
}

/* The last count, now that its poll's dump has held every SYN queue
 * against its listener's clear level (observe_cb()) and its counters are
 * read: while all was quiet, the next count waits twice as long, up to
 * SPACE_SYN_BACKOFF_MAX doublings. */
static void settle_syn(Monitor *m, Space *s) {
        const Config *c = m->config;

        if (!s->syn_settle || c->syn_interval_usec == 0)
                return;
        s->syn_settle = false;
        s->syn_backoff = space_syn_backoff(s->syn_backoff, s->syn_quiet && s->diag_error == 0,
                                           counters_listen_moved(m->counters, s->id));
        s->next_syn_usec = space_syn_next(s->syn_usec, c->syn_interval_usec, s->syn_backoff);
}

static void count_syn(Monitor *m, Space *s, uint64_t now) {
        const Config *c = m->config;
        bool moved = counters_listen_moved(m->counters, s->id);
        ErrBuf err = { "" };
        char where[DESCRIBE_NETNS_MAX];
        int r;

        s->syn_fresh = false;
        if (c->syn_interval_usec == 0) {
                s->syn_known = false;
                return;
        }
        settle_syn(m, s);
        /* A moving counter brings the count back at once. */
        if (!space_syn_due(now, s->next_syn_usec, s->syn_usec, c->interval_usec, c->syn_interval_usec, moved))
                return;
        s->next_syn_usec = now + c->syn_interval_usec;
        r = space_count_syn(s, now, &err);
        describe_netns(s->name, where, sizeof(where));
        if (r >= 0) {
                s->syn_settle = true;
                s->syn_quiet = true;
                monitor_say(m, LOG_DEBUG, "Counted %d half-open connection%s%s (%s).", r, r == 1 ? "" : "s", where,
                            moved                 ? "listen counters moved"
                            : s->syn_backoff == 0 ? "every syn_interval"
                                                  : "SYN queues quiet: syn_interval backed off");
        }
        say_transition(m, &s->syn_error, r, LOG_WARNING, "Cannot count the SYN queues", "Counting the SYN queues",
                       where, err.text);
}

/* Reports a read of the accept queues' connections (queue_waits_read()):
 * a failure once, its end once, each read at debug level. */
static void said_wait(Monitor *m, Space *s, int r, const ErrBuf *err) {
        char where[DESCRIBE_NETNS_MAX];
        size_t n = m->waits.n_ports;

        describe_netns(s->name, where, sizeof(where));
        say_transition(m, &s->wait_error, r, LOG_WARNING, "Cannot read the accept queues' connections",
                       "Reading the accept queues' connections", where, err->text);
        if (r >= 0)
                monitor_say(m, LOG_DEBUG, "Read %d queued connection%s on %zu port%s%s.", r, r == 1 ? "" : "s", n,
                            n == 1 ? "" : "s", where);
}

/* The queue alerts of this poll say how long their clients have waited,
 * and the stall watch learns the heads of the queues it follows. A
 * namespace whose connections were not read for the metrics file is read
 * now, for the ports of its alerts, and every syn_interval for those of
 * its non-empty queues (stalled or not: a stalled queue that drains or
 * shrinks shows in the dump at once): most polls have none of these, and
 * cost no walk (a steady full queue alerts once, then reminds). */
static void add_wait(Monitor *m, uint64_t now) {
        uint64_t cadence =
                m->config->syn_interval_usec ? m->config->syn_interval_usec : CONFIG_DEFAULT_SYN_INTERVAL_USEC;

        for (size_t j = 0; j < m->events.n; j++)
                m->events.items[j].listener.has_wait = false;
        for (size_t i = 0; i < m->ns->n; i++) {
                Space *s = m->ns->spaces[i];
                size_t all, stalled;
                bool due;
                ErrBuf err = { "" };
                int r;

                if (s->gone)
                        continue;
                /* Every syn_interval; less often while every queue to read
                 * is stalled already (below), but a new one is read at the
                 * cadence. */
                all = stalls_head_ports(m->stalls, s->id, true, NULL, 0);
                stalled = stalls_head_ports(m->stalls, s->id, false, NULL, 0);
                due = now >= s->next_head_usec || (all > stalled && now >= s->head_usec + cadence);
                if (!s->wait_known) {
                        (void) queue_waits_event_ports(&m->waits, s, &m->events);
                        if (due && queue_waits_head_ports(&m->waits, m->stalls, s, true) == 0)
                                due = false; /* no candidate: the next one is read at once */
                        if (m->waits.n_ports == 0) {
                                queue_waits_give_heads(m->stalls, s); /* UNIX ones */
                                continue;
                        }
                        /* Are the heads tracked still queued? Asked on
                         * every read, not only those for the stall watch. */
                        queue_waits_look_for(&m->waits, m->stalls, s);
                        r = queue_waits_read(&m->waits, s, &err);
                        said_wait(m, s, r, &err);
                        if (r < 0) {
                                queue_waits_give_heads(m->stalls, s); /* UNIX ones */
                                continue;
                        }
                }
                if (due) {
                        /* While every queue read is stalled already, the
                         * reads back off as the SYN counts do: such a queue
                         * that moves on shows in the dump (it shrinks), and
                         * one that accepts as fast as clients come waits
                         * for the next read, at most 8 × syn_interval. */
                        s->head_backoff = space_syn_backoff(s->head_backoff, all == stalled, false);
                        s->head_usec = now;
                        s->next_head_usec = space_syn_next(now, cadence, s->head_backoff);
                }
                queue_waits_apply(s, &m->events);
                queue_waits_give_heads(m->stalls, s);
        }
}

static int dump_space(Monitor *m, Space *s, uint64_t now) {
        ErrBuf err = { "" };
        char where[DESCRIBE_NETNS_MAX];
        int r;

        m->cur = s;
        policy_netns(m->policy, s->id, s->have_sysctls ? &s->sysctls : NULL);
        count_syn(m, s, now);
        queue_waits_reset(&m->waits);
        s->wait_known = false;
        s->idle = true; /* until observe_cb() sees a queue that is not empty */
        r = space_dump(s, m->ranges, m->n_ranges, config_wants_unix(m->config), observe_cb, m, &err);
        s->dump_counters_ok = false;
        if (r >= 0) {
                s->dump_usec = now;
                s->dump_listeners = (size_t) r;
                s->dump_passive_opens = s->passive_opens;
                s->dump_pending = s->have_passive_opens;
                read_groups(m, s);
        } else
                s->idle = false;
        if (r >= 0 && m->waits.n_unknown > 0) {
                ErrBuf werr = { "" };
                int w;

                queue_waits_look_for(&m->waits, m->stalls, s);
                w = queue_waits_read_noted(&m->waits, s, m->metrics, &werr);

                said_wait(m, s, w, &werr);
        }
        describe_netns(s->name, where, sizeof(where));
        if (r == -ENOTRECOVERABLE) {
                sink_log(&m->opts.sink, LOG_CRIT, NULL, "%s; stopping.", err.text);
                m->fatal = true;
        }
        say_transition(m, &s->diag_error, r, LOG_ERR, "Cannot list listening sockets", "Listing listeners", where,
                       err.text);
        if (r >= 0)
                monitor_say(m, LOG_DEBUG, "Dumped %d listener%s%s.", r, r == 1 ? "" : "s", where);
        return r;
}

/* At the start of a poll, before the dumps, for idle_skip(). A failure
 * only means that the namespace is dumped: said at debug level, once. */
static void read_passive_opens(Monitor *m, Space *s) {
        ErrBuf err = { "" };
        int r = space_read_passive_opens(s, &err);

        /* -ENOTCONN: not opened yet (the first poll), or no such file */
        switch (space_error_transition(&s->snmp_error, r == -ENOTCONN ? 0 : r)) {
        case 1:
                monitor_say(m, LOG_DEBUG, "Cannot read PassiveOpens: %s; dumping every poll.", err.text);
                break;
        case -1:
                monitor_say(m, LOG_DEBUG, "PassiveOpens is readable again.");
                break;
        }
}

/* After the dumps, as a drop's cause needs (counters.h): the counters of
 * a drop a dump saw are read then or later. */
static void read_counters(Monitor *m, Space *s) {
        ErrBuf err = { "" };
        char what[256];
        int r = 0;

        if (m->config->counters) {
                r = space_read_counters(s, &err);
                if (!s->path)
                        snprintf(what, sizeof(what), "host's listen counters");
                else
                        snprintf(what, sizeof(what), "listen counters in network namespace %s", s->name);
                switch (space_error_transition(&s->netstat_error, r)) {
                case 1:
                        monitor_say(m, LOG_WARNING, "Cannot read the %s: %s; retrying every poll.", what, err.text);
                        break;
                case -1:
                        monitor_say(m, LOG_NOTICE, "The %s are readable again.", what);
                        break;
                }
        }
}

/* What the counters say, and what the idle skip compares with from now
 * on, if this poll dumped the namespace. */
static void step_counters(Monitor *m, Space *s, uint64_t now) {
        bool have = m->config->counters && s->have_counters;

        if (s->dump_pending) {
                s->dump_pending = false;
                s->dump_counters = s->counters;
                s->dump_counters_ok = have;
        }

        if (have && m->metrics_due)
                (void) metrics_set_counters(m->metrics, s->name, &s->counters);
        if (counters_step(m->counters, s->id, have ? &s->counters : NULL, s->have_sysctls ? &s->sysctls : NULL,
                          m->config->counters, now, &m->events) < 0)
                monitor_say(m, LOG_ERR, "Out of memory while evaluating the listen counters; some alerts are lost.");
}

/* Whether this poll may leave namespace s undumped: nothing can have
 * entered one of its accept queues since its last dump. Every connection
 * that enters one counts in Tcp PassiveOpens first (a child socket is made
 * for it: SYN cookies, TCP Fast Open and IPv6 included), and a queue grows
 * no other way but by SO_REUSEPORT migration, which counts in
 * TCPMigrateReqSuccess. So when the last dump found every queue empty and
 * nothing was raised, and PassiveOpens and the listen counters, read now,
 * are what they were at that dump (PassiveOpens read before it, the
 * counters after), every queue
 * is still empty and a dump would only say so. (A connection counted
 * before that read but queued after its listener was dumped, microseconds
 * apart in the kernel, waits for the next dump.) The counters are read
 * last, only when all else allows the skip: an idle poll reads each file
 * once.
 * Listeners that appear or go, a listener's drops that no counter shows (a
 * socket filter's) and a changed backlog are seen at the next dump: every
 * MONITOR_IDLE_POLLS polls at the latest, and on the polls that count the
 * SYN queues or write the metrics file. UNIX listeners have no such
 * counter: watching them turns the skip off. */
static bool idle_skip(Monitor *m, Space *s, uint64_t now) {
        const Config *c = m->config;
        const NetstatCounters *a = &s->counters, *b = &s->dump_counters;

        if (!s->idle || !s->dump_counters_ok || !c->counters || !s->have_passive_opens || m->reconfigured ||
            m->metrics_due || config_wants_unix(c) || policy_n_raised(m->policy) > 0 || m->held_back ||
            s->passive_opens != s->dump_passive_opens)
                return false;
        /* Polls fire late, never early: the one within half an interval of
         * the due time dumps. */
        if (now + c->interval_usec / 2 >= s->dump_usec + MONITOR_IDLE_POLLS * c->interval_usec)
                return false;
        settle_syn(m, s);
        if (space_syn_due(now, s->next_syn_usec, s->syn_usec, c->interval_usec, c->syn_interval_usec,
                          counters_listen_moved(m->counters, s->id)))
                return false;
        /* Last, the counters, read now: one that moved (a SYN queue's drops,
         * TCP_DEFER_ACCEPT's) must bring the dump that shows the listener's
         * drops in the poll that steps the counter, for its cause. The dump
         * then reads them again after itself (monitor_poll()). */
        read_counters(m, s);
        s->counters_read = true;
        return s->have_counters && memcmp(a->value, b->value, sizeof(a->value)) == 0 &&
               memcmp(a->present, b->present, sizeof(a->present)) == 0;
}

/* ---- the outputs ------------------------------------------------------- */

static double clock_seconds(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* At most every metrics_interval (the file changes no more often; unchanged,
 * only its mtime moves). Each failure is reported once, when it starts or
 * changes (the directory missing, then unwritable), and the recovery once;
 * a failed commit is retried every poll, so the file appears on the first
 * poll after its directory. */
static void write_metrics(Monitor *m, double started, uint64_t now) {
        ErrBuf err = { "" };
        int r;

        r = metrics_commit(m->metrics, clock_seconds(CLOCK_MONOTONIC) - started, clock_seconds(CLOCK_REALTIME), &err);
        m->metrics_next_usec = r < 0 ? 0 : now + m->config->metrics_interval_usec;
        if (r < 0 && r != m->metrics_error)
                sink_log(&m->opts.sink, LOG_ERR, NULL, "Cannot write the metrics file: %s; retrying every poll.",
                         err.text);
        else if (r >= 0 && m->metrics_error)
                sink_log(&m->opts.sink, LOG_NOTICE, NULL, "The metrics file is written again.");
        m->metrics_error = r < 0 ? r : 0;
}

/* ---- a poll ------------------------------------------------------------ */

static void scan(Monitor *m, uint64_t now) {
        namespaces_scan(m->ns, m->config, now);
        for (size_t i = 0; i < m->ns->n_changes; i++) {
                const NsChange *c = &m->ns->changes[i];

                switch (c->kind) {
                case NS_WATCHING:
                        sink_log(&m->opts.sink, LOG_INFO, MESSAGE_ID_LIFECYCLE, "%s", c->text);
                        break;
                case NS_DROPPED:
                        sink_log(&m->opts.sink, LOG_INFO, MESSAGE_ID_LIFECYCLE, "%s", c->text);
                        (void) counters_forget(m->counters, c->id, &m->events);
                        break;
                case NS_FAILING:
                        sink_log(&m->opts.sink, LOG_WARNING, NULL, "%s", c->text);
                        break;
                case NS_FATAL:
                        sink_log(&m->opts.sink, LOG_CRIT, NULL, "%s", c->text);
                        m->fatal = true;
                        break;
                }
        }
}

int monitor_poll(Monitor *m, uint64_t now) {
        double started = clock_seconds(CLOCK_MONOTONIC);
        size_t n_live = 0, n_failed = 0, n_idle = 0, n_kept = 0;
        int r, failure = 0;

        if (m->fatal)
                return -ENOTRECOVERABLE;
        scan(m, now);
        if (m->fatal) {
                event_list_clear(&m->events);
                return -ENOTRECOVERABLE;
        }
        for (size_t i = 0; i < m->ns->n; i++)
                if (!m->ns->spaces[i]->gone)
                        (void) space_refresh_sysctls(m->ns->spaces[i], now, SYSCTL_REFRESH_USEC, NULL);

        policy_begin(m->policy, m->config, now, m->reconfigured);
        stalls_begin(m->stalls, now);
        groups_begin(m->groups, now);
        for (size_t i = 0; i < m->ns->n; i++)
                if (m->ns->spaces[i]->gone) {
                        policy_drop_netns(m->policy, m->ns->spaces[i]->id);
                        groups_drop_netns(m->groups, m->ns->spaces[i]->id);
                }
        /* The metrics writer keeps the unit strings until it commits. */
        cgroup_names_hold(m->cgroups, true);
        /* The file is due every metrics_interval (within half a poll: polls
         * fire late, never early); only then are the listeners collected. */
        m->metrics_due = m->metrics && now + m->config->interval_usec / 2 >= m->metrics_next_usec;
        if (m->metrics_due)
                metrics_begin(m->metrics);
        m->n_seen = 0;
        m->fast_next.n = 0;
        for (size_t i = 0; i < m->ns->n; i++) {
                Space *s = m->ns->spaces[i];

                /* Only where a skip may come: the last dump saw every queue
                 * empty, and no UNIX listener is watched (the first poll
                 * after a busy one dumps, and reads it for the next). */
                s->have_passive_opens = false;
                if (!s->gone && s->idle && m->config->counters && !config_wants_unix(m->config))
                        read_passive_opens(m, s);
        }
        for (size_t i = 0; i < m->ns->n && !m->fatal; i++) {
                Space *s = m->ns->spaces[i];

                if (s->gone)
                        continue;
                n_live++;
                if (idle_skip(m, s, now)) {
                        /* As it was at its last dump: nothing is gone. */
                        policy_keep_netns(m->policy, s->id);
                        stalls_keep_netns(m->stalls, s->id);
                        groups_keep_netns(m->groups, s->id);
                        monitor_fast_keep_netns(m, s->id);
                        s->syn_fresh = s->wait_known = false;
                        n_idle++;
                        n_kept += s->dump_listeners;
                        continue;
                }
                s->counters_read = false; /* read after the dump */
                r = dump_space(m, s, now);
                if (r < 0) {
                        /* What was not seen there is not gone. */
                        policy_keep_netns(m->policy, s->id);
                        stalls_keep_netns(m->stalls, s->id);
                        groups_keep_netns(m->groups, s->id);
                        monitor_fast_keep_netns(m, s->id);
                        if (m->metrics_due)
                                metrics_keep_netns(m->metrics, s->id);
                        failure = r;
                        n_failed++;
                }
        }
        m->cur = NULL;
        if (m->fatal || (n_live > 0 && n_failed == n_live)) {
                /* What was seen before the failure is real; what was not is
                 * not gone. The metrics file keeps the last complete poll.
                 * Dropped namespaces stay until a poll has found their
                 * listeners gone, so that those events still name them. */
                cgroup_names_hold(m->cgroups, false);
                policy_abort(m->policy);
                groups_abort(m->groups);
                if (m->fatal) {
                        event_list_clear(&m->events);
                        return -ENOTRECOVERABLE;
                }
                monitor_emit(m, now);
                return failure;
        }
        monitor_fast_commit(m, now);
        for (size_t i = 0; i < m->ns->n; i++) {
                Space *s = m->ns->spaces[i];

                if (s->gone)
                        continue;
                /* An idle namespace's were read by idle_skip(). */
                if (!s->counters_read)
                        read_counters(m, s);
                s->counters_read = false;
                step_counters(m, s, now);
        }
        r = policy_end(m->policy, &m->events);
        if (groups_end(m->groups, &m->events) < 0)
                r = -ENOMEM;
        if (r < 0)
                sink_log(&m->opts.sink, LOG_ERR, NULL, "Out of memory while evaluating a poll; some alerts are lost.");
        add_wait(m, now);
        if (stalls_end(m->stalls, &m->events) < 0)
                sink_log(&m->opts.sink, LOG_ERR, NULL, "Out of memory while looking for stalls; some are missed.");
        if (m->metrics_due) {
                stalls_each_stalled(m->stalls, metrics_stalled_cb, m->metrics);
                write_metrics(m, started, now);
        }
        m->metrics_due = false;
        cgroup_names_hold(m->cgroups, false);
        if (sink_enabled(&m->opts.sink, LOG_DEBUG)) {
                char status[160];

                monitor_say(m, LOG_DEBUG, "Poll: %zu listener%s seen%s, %s; %zu event%s.", m->n_seen,
                            m->n_seen == 1 ? "" : "s",
                            n_idle == 0        ? ""
                            : n_idle == n_live ? " (idle: no connection came and no counter moved, not dumped)"
                                               : " (some namespaces idle, not dumped)",
                            monitor_status(m, status, sizeof(status)), m->events.n, m->events.n == 1 ? "" : "s");
        }
        monitor_emit(m, now);
        namespaces_reap(m->ns);
        m->reconfigured = false;
        n_kept += m->n_seen;
        return n_kept > INT32_MAX ? INT32_MAX : (int) n_kept;
}

void monitor_flush(Monitor *m, uint64_t now) {
        (void) policy_flush(m->policy, &m->events);
        (void) counters_flush(m->counters, &m->events);
        monitor_emit(m, now);
        monitor_emit_summaries(m, now, true);
        sink_flush(&m->opts.sink);
}
