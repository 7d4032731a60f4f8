/* SPDX-License-Identifier: MIT */
/* The loop: one sd_event with a poll timer, SIGTERM/SIGINT/SIGHUP sources and
 * the watchdog. Each poll streams the kernel's dump through the pure policy
 * (nothing of the population is stored here) and hands its events to the
 * sink, for the daemon's own network namespace and those configured (one
 * Space each, kept by daemon-netns.c). The steady state allocates nothing;
 * with `namespaces` configured, the look at their files once a second does
 * (glob(3), the names found, and a retry of a namespace that cannot be
 * entered). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sysexits.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "config.h"
#include "daemon.h"
#include "daemon-internal.h"
#include "diag.h"
#include "message-ids.h"
#include "metrics.h"
#include "netns.h"
#include "netstat.h"
#include "owner.h"
#include "policy.h"
#include "snapshot.h"

/* Sysctls change rarely and only explain alerts: re-read them this often. */
#define SYSCTL_REFRESH_USEC (30ULL * 1000000ULL)

static void daemon_apply_metrics(Daemon *d, const Config *old, const Config *c) {
        ErrBuf err = {0};

        if (old && old->metrics_file && c->metrics_file && strcmp(old->metrics_file, c->metrics_file) == 0)
                return;
        d->metrics = metrics_writer_free(d->metrics);
        d->metrics_error = 0;
        if (c->metrics_file && metrics_writer_new(c->metrics_file, &d->metrics, &err) < 0)
                sink_log(&d->sink, LOG_ERR, NULL, "Not writing metrics: %s", err.text);
}

static void daemon_apply_config(Daemon *d, Config *c) {
        daemon_apply_metrics(d, d->config, c);
        if (d->opts.interval_usec)
                c->interval_usec = d->opts.interval_usec;
        config_free(d->config);
        d->config = c;
        d->n_ranges = config_port_ranges(c, d->ranges, DIAG_MAX_RANGES);
        d->scan_forced = true;
}

/* " in 3 network namespaces", or "" when only the daemon's own is watched:
 * the messages of a plain host read as they always did. */
static const char *daemon_where_spaces(const Daemon *d, char *buf, size_t size) {
        buf[0] = 0;
        if (d->n_spaces != 1 || d->spaces[0]->path)
                snprintf(buf, size, " in %zu network namespace%s", d->n_spaces, d->n_spaces == 1 ? "" : "s");
        return buf;
}

static void daemon_notify_status(Daemon *d) {
        char status[sizeof(d->status)], where[64];
        size_t n = policy_n_watched(d->policy), raised = policy_n_raised(d->policy);

        snprintf(status, sizeof(status), "watching %zu listener%s, %zu above %u%%", n, n == 1 ? "" : "s", raised,
                 d->config->warn);
        snprintf(status + strlen(status), sizeof(status) - strlen(status), "%s",
                 daemon_where_spaces(d, where, sizeof(where)));
        if (strcmp(status, d->status) == 0)
                return;
        memcpy(d->status, status, sizeof(status));
        sd_notifyf(false, "STATUS=%s", status);
}

/* Owner details for an alert: the namespace, the unit from the cgroup id
 * (no privilege needed), the user, and, for alerts that ask someone to act,
 * the process (a bounded, cached scan of /proc that may find nothing). */
static const EventOwner *daemon_owner(Daemon *d, const Event *e, EventOwner *o, char *unit, size_t size) {
        const Listener *l = &e->listener;

        const Space *s = daemon_space(d, l->netns);

        *o = (EventOwner) { 0 };
        o->netns = s ? s->name : NULL;
        o->netns_dropped = s && s->gone && e->kind == EVENT_GONE;
        if (e->kind == EVENT_COUNTER)
                return o;
        o->cgroup = owner_cgroup(d->owner, l->cgroup_id);
        o->unit = owner_unit_from_cgroup(o->cgroup, unit, size);
        o->user = owner_user(d->owner, l->uid);
        /* A socket of another namespace is still in this /proc's fd tables. */
        if ((e->kind == EVENT_HIGH || e->kind == EVENT_FULL || e->kind == EVENT_DROPS) && l->inode != 0 &&
            owner_process(d->owner, l->inode, &o->pid, o->comm) < 0)
                o->pid = 0;
        return o;
}

/* All process lookups of one poll together. */
#define DAEMON_PROCESS_LOOKUP_USEC (100ULL * 1000)

static void daemon_emit(Daemon *d) {
        owner_set_process_deadline(d->owner, DAEMON_PROCESS_LOOKUP_USEC);
        for (size_t i = 0; i < d->events.n; i++) {
                char unit[256];
                EventOwner owner;
                int r = sink_event(&d->sink, &d->events.items[i],
                                   daemon_owner(d, &d->events.items[i], &owner, unit, sizeof(unit)));

                /* journald may be restarting: say so once on stderr, go on. */
                if (r < 0 && r != d->journal_error)
                        fprintf(stderr, "backlogd: cannot write to the journal: %s\n", strerror(-r));
                d->journal_error = r < 0 ? r : 0;
        }
        owner_set_process_deadline(d->owner, 0);
        event_list_clear(&d->events);
}

static int observe_cb(const Listener *listener, void *userdata) {
        Daemon *d = userdata;
        Space *s = d->cur;
        const Listener *l = listener;
        Listener with_syn;
        const char *unit;
        const Watch *w;

        /* Only on polls that counted the SYN queues, which are rare; UNIX
         * listeners have no SYN queue. */
        if (s->syn_fresh && listener->kind == LISTENER_TCP) {
                with_syn = *listener;
                with_syn.syn_depth = syn_counts_for(&s->syn, listener, listener->v6only);
                with_syn.has_syn = true;
                l = &with_syn;
        }
        d->n_seen++;
        /* Matched once, for the metrics file and the policy alike; the unit
         * is looked up only when an entry or the metrics file needs it. */
        unit = d->metrics || config_wants_unit(d->config) ? owner_unit(d->owner, l->cgroup_id) : NULL;
        w = config_match(d->config, l, unit, s->name);
        /* The metrics file shows the last count on every poll, so that the
         * SYN depth series has no gaps between counts; the policy decides
         * SYN states on fresh counts only (their message bound). */
        if (d->metrics && w)
                (void) metrics_add_listener(d->metrics, l, s->name, w->name, unit,
                                            l->has_syn ? (int64_t) l->syn_depth :
                                            s->syn_known && l->kind == LISTENER_TCP ?
                                                         (int64_t) syn_counts_for(&s->syn, l, l->v6only) :
                                                         -1);
        /* Out of memory for one listener's state: it is skipped this poll,
         * the dump goes on. */
        (void) policy_observe_watched(d->policy, l, w, &d->events);
        return 0;
}

/* The SYN-queue dump walks every connection of the namespace: it runs every
 * syn_interval, and at the next poll after a counter that a full SYN queue
 * moves rose, never on the plain poll path. */
static void space_count_syn(Daemon *d, Space *s, uint64_t now) {
        ErrBuf err = {0};
        char where[300];
        int r;

        s->syn_fresh = false;
        if (d->config->syn_interval_usec == 0)
                s->syn_known = false;
        /* Polls fire a little late, never early: the poll within half an
         * interval of the due time counts, so that a cadence equal to the
         * poll interval does not skip every other poll. */
        if (d->config->syn_interval_usec == 0 ||
            (now + d->config->interval_usec / 2 < s->next_syn_usec && !s->syn_due))
                return;
        s->syn_due = false;
        s->next_syn_usec = now + d->config->syn_interval_usec;
        r = diag_count_syn(s->diag, &s->syn, &err);
        if (r < 0) {
                if (!s->syn_error) /* once per outage, whatever the errors */
                        sink_log(&d->sink, LOG_WARNING, NULL, "Cannot count the SYN queues%s: %s; retrying in %.3g s.",
                                 space_where(s, where, sizeof(where)), err.text,
                                 (double) d->config->syn_interval_usec / 1e6);
                s->syn_error = r;
                s->syn_known = false;
                s->diag = diag_close(s->diag); /* it may be mid-dump */
                return;
        }
        if (s->syn_error)
                sink_log(&d->sink, LOG_NOTICE, NULL, "Counting the SYN queues%s works again.",
                         space_where(s, where, sizeof(where)));
        s->syn_error = 0;
        s->syn_fresh = s->syn_known = true;
}

static void space_check_syn_trigger(Space *s) {
        static const NetstatCounter k[] = { NETSTAT_LISTEN_DROPS, NETSTAT_TCP_REQQ_FULL_DROP,
                                            NETSTAT_TCP_REQQ_FULL_DO_COOKIES };

        for (size_t i = 0; i < ELEMENTSOF(k); i++) {
                uint64_t v = s->counters.present[k[i]] ? s->counters.value[k[i]] : 0;

                if (s->syn_trigger_known && v > s->syn_trigger[i])
                        s->syn_due = true;
                s->syn_trigger[i] = v;
        }
        s->syn_trigger_known = true;
}

static int space_read_listeners(Daemon *d, Space *s, uint64_t now) {
        ErrBuf err = {0};
        char where[300];
        int r;

        d->cur = s;
        if (!s->diag) {
                r = space_run(d, s, space_open_diag_cb, &err);
                if (r < 0)
                        goto fail;
        }
        /* On its cadence; on failure it drops the socket, reopened here. */
        space_count_syn(d, s, now);
        if (!s->diag && (r = space_run(d, s, space_open_diag_cb, &err)) < 0)
                goto fail;
        r = diag_dump_each(s->diag, d->ranges, d->n_ranges, observe_cb, d, &err);
        if (r >= 0 && config_wants_unix(d->config))
                r = diag_dump_unix(s->diag, observe_cb, d, &err);
        if (r < 0) {
                /* The socket may be mid-dump: start from a fresh one. */
                s->diag = diag_close(s->diag);
                goto fail;
        }
        if (s->diag_error)
                sink_log(&d->sink, LOG_NOTICE, NULL, "Listing listeners%s works again.",
                         space_where(s, where, sizeof(where)));
        s->diag_error = 0;
        return 0;
fail:
        if (!s->diag_error)
                sink_log(&d->sink, LOG_ERR, NULL, "Cannot list listening sockets%s: %s; retrying every poll.",
                         space_where(s, where, sizeof(where)), err.text);
        s->diag_error = r;
        return r;
}

static bool space_read_counters(Daemon *d, Space *s) {
        ErrBuf err = {0};
        char where[300];
        int r = 0;

        /* Opened from inside the namespace: /proc/net follows the opener. */
        if (!netstat_reader_is_open(s->netstat))
                r = space_run(d, s, space_open_netstat_cb, &err);
        if (r >= 0)
                r = netstat_reader_read(s->netstat, &s->counters, &err);
        if (!s->path)
                snprintf(where, sizeof(where), "host's listen counters");
        else
                snprintf(where, sizeof(where), "listen counters in network namespace %s", s->name);
        if (r < 0) {
                if (!s->netstat_error)
                        sink_log(&d->sink, LOG_WARNING, NULL, "Cannot read the %s: %s; retrying every poll.", where,
                                 err.text);
                s->netstat_error = r;
                return false;
        }
        if (s->netstat_error)
                sink_log(&d->sink, LOG_NOTICE, NULL, "The %s are readable again.", where);
        s->netstat_error = 0;
        return true;
}

static void space_refresh_sysctls(Daemon *d, Space *s, uint64_t now) {
        ErrBuf err = {0};

        if (s->have_sysctls && now - s->sysctls_usec < SYSCTL_REFRESH_USEC)
                return;
        s->sysctls_usec = now;
        if (space_run(d, s, space_read_sysctls_cb, &err) < 0)
                return; /* the dump will fail too, and say why */
        s->have_sysctls = true;
}

static double clock_seconds(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static uint64_t monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static void daemon_write_metrics(Daemon *d, double started) {
        ErrBuf err = {0};
        int r;

        r = metrics_commit(d->metrics, clock_seconds(CLOCK_MONOTONIC) - started, clock_seconds(CLOCK_REALTIME),
                           &err);
        if (r < 0 && !d->metrics_error)
                sink_log(&d->sink, LOG_ERR, NULL, "Cannot write the metrics file: %s; retrying every poll.",
                         err.text);
        else if (r >= 0 && d->metrics_error)
                sink_log(&d->sink, LOG_NOTICE, NULL, "The metrics file is written again.");
        d->metrics_error = r < 0 ? r : 0;
}

int daemon_poll(Daemon *d, uint64_t now) {
        double started = clock_seconds(CLOCK_MONOTONIC);
        const NetstatSysctls *host_sysctls = NULL;
        size_t n_live = 0, n_failed = 0;
        int r, failure = 0;

        if (d->fatal)
                return -ENOTRECOVERABLE;
        daemon_scan(d, now);
        for (size_t i = 0; i < d->n_spaces; i++) {
                Space *s = d->spaces[i];

                if (s->gone)
                        continue;
                space_refresh_sysctls(d, s, now);
                if (s->id == 0 && s->have_sysctls)
                        host_sysctls = &s->sysctls;
        }
        policy_begin(d->policy, d->config, now, host_sysctls);
        /* The metrics writer keeps the owner's unit strings until it commits. */
        owner_hold(d->owner, true);
        if (d->metrics)
                metrics_begin(d->metrics);
        d->n_seen = 0;
        for (size_t i = 0; i < d->n_spaces; i++) {
                Space *s = d->spaces[i];

                if (s->gone)
                        continue;
                n_live++;
                r = space_read_listeners(d, s, now);
                if (d->fatal)
                        break;
                if (r < 0) {
                        /* What was not seen there is not gone. */
                        policy_keep_netns(d->policy, s->id);
                        failure = r;
                        n_failed++;
                }
        }
        d->cur = NULL;
        if (d->fatal) {
                owner_hold(d->owner, false);
                policy_abort(d->policy);
                event_list_clear(&d->events);
                return -ENOTRECOVERABLE;
        }
        if (n_live > 0 && n_failed == n_live) {
                /* What was seen before the failure is real; what was not is
                 * not gone. The metrics file keeps the last complete poll. */
                owner_hold(d->owner, false);
                policy_abort(d->policy);
                daemon_emit(d);
                /* Dropped namespaces stay until a poll has found their
                 * listeners gone, so that those events still name them. */
                return failure;
        }
        for (size_t i = 0; d->config->counters && i < d->n_spaces; i++) {
                Space *s = d->spaces[i];
                bool ok;

                if (s->gone)
                        continue;
                ok = space_read_counters(d, s);
                if (ok) {
                        space_check_syn_trigger(s);
                        if (d->metrics)
                                (void) metrics_set_counters(d->metrics, s->name, &s->counters);
                }
                if (policy_counters(d->policy, s->id, ok ? &s->counters : NULL, &d->events) < 0)
                        failure = -ENOMEM;
        }
        r = policy_end(d->policy, NULL, &d->events);
        if (r < 0 || failure == -ENOMEM)
                sink_log(&d->sink, LOG_ERR, NULL, "Out of memory while evaluating a poll; some alerts are lost.");
        if (d->metrics)
                daemon_write_metrics(d, started);
        owner_hold(d->owner, false);
        daemon_emit(d);
        daemon_reap_spaces(d);
        return d->n_seen > INT32_MAX ? INT32_MAX : (int) d->n_seen;
}

/* usec is the time the timer was due, not the time it fired: after a stall
 * (SIGSTOP, a debugger, a slow poll) the poll is timed by the loop's clock. */
static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        uint64_t now;
        int r;

        if (sd_event_now(d->event, CLOCK_MONOTONIC, &now) < 0)
                now = usec;
        r = daemon_poll(d, now);
        if (r < 0 && !d->ready) {
                /* Nothing ever worked: let the service manager see it. */
                sd_event_exit(d->event, EXIT_FAILURE);
                return 0;
        }
        if (r >= 0 && !d->ready) {
                size_t n = policy_n_watched(d->policy);
                char where[64];

                daemon_where_spaces(d, where, sizeof(where));
                d->ready = true;
                sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE,
                         "backlogd started: watching %zu listener%s%s every %.3g s (warn %u%%, clear %u%%), %s.",
                         n, n == 1 ? "" : "s", where, (double) d->config->interval_usec / 1e6, d->config->warn,
                         d->config->clear, d->config->path ? d->config->path : "built-in defaults");
                sd_notify(false, "READY=1");
        }
        daemon_notify_status(d);

        /* Fixed cadence from the previous target; after a stall (SIGSTOP,
         * a debugger, a slow poll), skip ahead instead of firing a burst. */
        d->next_usec += d->config->interval_usec;
        now = monotonic_usec();
        if (d->next_usec <= now)
                d->next_usec = now + d->config->interval_usec;
        sd_event_source_set_time(s, d->next_usec);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static void daemon_set_accuracy(Daemon *d) {
        /* sd_event's default accuracy is 250 ms; a 1 % slack still lets the
         * kernel coalesce wake-ups. */
        uint64_t a = d->config->interval_usec / 100;

        sd_event_source_set_time_accuracy(d->timer, a ? a : 1);
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        uint64_t old_interval = d->config->interval_usec;
        Config *c = NULL;
        ErrBuf err = {0};
        int r;

        sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, monotonic_usec());
        /* A file that existed when the running config was read must still be
         * there: a deleted file is an error, not a silent switch to defaults. */
        r = config_load(d->opts.config_path, d->opts.config_must_exist || d->config->path, &c, &err);
        if (r < 0)
                sink_log(&d->sink, LOG_ERR, MESSAGE_ID_LIFECYCLE,
                         "Reload failed, keeping the running configuration: %s", err.text);
        else {
                daemon_apply_config(d, c);
                sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE, "Reloaded the configuration from %s.",
                         d->config->path ? d->config->path : "built-in defaults");
                if (d->config->interval_usec != old_interval) {
                        uint64_t now;

                        sd_event_now(d->event, CLOCK_MONOTONIC, &now);
                        d->next_usec = now + d->config->interval_usec;
                        sd_event_source_set_time(d->timer, d->next_usec);
                        daemon_set_accuracy(d);
                }
        }
        sd_notify(false, "READY=1");
        return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;

        sd_notify(false, "STOPPING=1");
        /* Drops summed for the next report would be lost with us. */
        if (policy_flush(d->policy, d->config, &d->events) > 0)
                daemon_emit(d);
        sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE, "Stopping on %s.", strsignal((int) si->ssi_signo));
        sd_event_exit(d->event, EXIT_SUCCESS);
        return 0;
}

int daemon_new(const DaemonOptions *o, Daemon **ret, ErrBuf *err) {
        Daemon *d = calloc(1, sizeof(*d));
        Config *c = NULL;
        int r;

        if (!d)
                return errbuf_set(err, -ENOMEM, "out of memory");
        d->self_fd = -1;
        d->opts = *o;
        sink_init(&d->sink, o->log_target);
        r = config_load(o->config_path, o->config_must_exist, &c, err);
        if (r < 0)
                goto fail;
        daemon_apply_config(d, c);
        r = policy_new(&d->policy);
        if (r >= 0)
                r = owner_new("/sys/fs/cgroup", &d->owner);
        if (r < 0) {
                errbuf_set(err, r, "out of memory");
                goto fail;
        }
        policy_set_lookup(d->policy, &(PolicyLookup) {
                .unit = daemon_lookup_unit,
                .netns_name = daemon_lookup_netns_name,
                .sysctls = daemon_lookup_sysctls,
                .userdata = d,
        });
        /* Needed only to come back from other namespaces: a failure is
         * reported when one is configured. */
        if (netns_open_self(&d->self_fd, &d->self_inode, NULL) < 0)
                d->self_fd = -1;
        *ret = d;
        return 0;
fail:
        daemon_free(d);
        return r;
}

Daemon *daemon_free(Daemon *d) {
        if (!d)
                return NULL;
        sd_event_source_unref(d->timer);
        sd_event_unref(d->event);
        for (size_t i = 0; i < d->n_spaces; i++)
                space_free(d->spaces[i]);
        free(d->spaces);
        for (size_t i = 0; i < d->n_path_errors; i++)
                free(d->path_errors[i].path);
        free(d->path_errors);
        netns_list_done(&d->found);
        if (d->self_fd >= 0)
                close(d->self_fd);
        owner_free(d->owner);
        metrics_writer_free(d->metrics);
        policy_free(d->policy);
        config_free(d->config);
        event_list_done(&d->events);
        free(d);
        return NULL;
}

static int daemon_loop(Daemon *d) {
        sigset_t mask;
        uint64_t now;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&d->event);
        if (r < 0)
                return r;
        if ((r = sd_event_add_signal(d->event, NULL, SIGTERM, on_exit_signal, d)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGINT, on_exit_signal, d)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGHUP, on_reload, d)) < 0)
                return r;
        r = sd_event_set_watchdog(d->event, true);
        if (r < 0)
                return r;

        sd_event_now(d->event, CLOCK_MONOTONIC, &now);
        d->next_usec = now;
        r = sd_event_add_time(d->event, &d->timer, CLOCK_MONOTONIC, now, 1, on_timer, d);
        if (r < 0)
                return r;
        daemon_set_accuracy(d);
        sd_event_source_set_enabled(d->timer, SD_EVENT_ONESHOT);
        return sd_event_loop(d->event);
}

int daemon_run(const DaemonOptions *o) {
        Daemon *d = NULL;
        Sink sink;
        ErrBuf err = {0};
        int r;

        r = daemon_new(o, &d, &err);
        if (r < 0) {
                sink_init(&sink, o->log_target);
                sink_log(&sink, LOG_ERR, NULL, "%s", err.text);
                return r == -ENOMEM ? EXIT_FAILURE : EX_CONFIG;
        }
        r = daemon_loop(d);
        if (r < 0) {
                sink_log(&d->sink, LOG_ERR, NULL, "Event loop failed: %s", strerror(-r));
                r = EXIT_FAILURE;
        }
        daemon_free(d);
        return r;
}
