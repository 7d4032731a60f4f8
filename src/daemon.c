/* SPDX-License-Identifier: MIT */
/* The loop: one sd_event with a poll timer, SIGTERM/SIGINT/SIGHUP sources and
 * the watchdog. Each poll streams the kernel's dump through the pure policy
 * (nothing of the population is stored here) and hands its events to the
 * sink. The steady state allocates nothing. */
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
#include "diag.h"
#include "message-ids.h"
#include "metrics.h"
#include "netstat.h"
#include "owner.h"
#include "policy.h"
#include "snapshot.h"

/* Sysctls change rarely and only explain alerts: re-read them this often. */
#define SYSCTL_REFRESH_USEC (30ULL * 1000000ULL)

struct Daemon {
        DaemonOptions opts;
        sd_event *event;
        sd_event_source *timer;
        Config *config;
        DiagSocket *diag;
        NetstatReader *netstat;
        Owner *owner;
        MetricsWriter *metrics; /* NULL without metrics_file */
        Policy *policy;
        EventList events;
        Sink sink;
        NetstatSysctls sysctls;
        NetstatCounters counters;
        PortRange ranges[DIAG_MAX_RANGES];
        size_t n_ranges;
        SynCounts syn;          /* the last SYN-queue count */
        bool syn_fresh;         /* counted in this poll: attach to listeners */
        bool syn_due;           /* a drop counter rose: count at the next poll */
        uint64_t next_syn_usec;
        uint64_t syn_trigger[3]; /* ListenDrops, TCPReqQFullDrop, TCPReqQFullDoCookies */
        bool syn_trigger_known;
        int syn_error;
        size_t n_seen; /* listeners in the last dump */
        uint64_t next_usec;
        uint64_t sysctls_usec;
        bool have_sysctls;
        bool ready;
        int diag_error; /* last error logged, so a failing poll logs once */
        int netstat_error;
        int journal_error;
        int metrics_error;
        char status[160];
};

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
}

static void daemon_notify_status(Daemon *d) {
        char status[sizeof(d->status)];
        size_t n = policy_n_watched(d->policy), raised = policy_n_raised(d->policy);

        snprintf(status, sizeof(status), "watching %zu listener%s, %zu above %u%%", n, n == 1 ? "" : "s", raised,
                 d->config->warn);
        if (strcmp(status, d->status) == 0)
                return;
        memcpy(d->status, status, sizeof(status));
        sd_notifyf(false, "STATUS=%s", status);
}

/* Owner details for an alert: the unit from the cgroup id (no privilege
 * needed), the user, and, for alerts that ask someone to act, the process
 * (a bounded, cached scan of /proc that may find nothing). */
static const EventOwner *daemon_owner(Daemon *d, const Event *e, EventOwner *o, char *unit, size_t size) {
        const Listener *l = &e->listener;

        *o = (EventOwner) { 0 };
        if (e->kind == EVENT_COUNTER)
                return NULL;
        o->cgroup = owner_cgroup(d->owner, l->cgroup_id);
        o->unit = owner_unit_from_cgroup(o->cgroup, unit, size);
        o->user = owner_user(d->owner, l->uid);
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
        const Listener *l = listener;
        Listener with_syn;

        /* Only on polls that counted the SYN queues, which are rare; UNIX
         * listeners have no SYN queue. */
        if (d->syn_fresh && listener->kind == LISTENER_TCP) {
                with_syn = *listener;
                with_syn.syn_depth = syn_counts_for(&d->syn, listener, listener->v6only);
                with_syn.has_syn = true;
                l = &with_syn;
        }
        d->n_seen++;
        if (d->metrics) {
                const Watch *w = config_match(d->config, l);

                if (w)
                        (void) metrics_add_listener(d->metrics, l, NULL, w->name,
                                                    owner_unit(d->owner, l->cgroup_id),
                                                    l->has_syn ? (int64_t) l->syn_depth : -1);
        }
        /* Out of memory for one listener's state: it is skipped this poll,
         * the dump goes on. */
        (void) policy_observe(d->policy, l, &d->events);
        return 0;
}

/* The SYN-queue dump walks every connection of the namespace: it runs every
 * syn_interval, and at the next poll after a counter that a full SYN queue
 * moves rose, never on the plain poll path. */
static void daemon_count_syn(Daemon *d, uint64_t now) {
        ErrBuf err = {0};
        int r;

        d->syn_fresh = false;
        if (d->config->syn_interval_usec == 0 || (now < d->next_syn_usec && !d->syn_due))
                return;
        d->syn_due = false;
        d->next_syn_usec = now + d->config->syn_interval_usec;
        r = diag_count_syn(d->diag, &d->syn, &err);
        if (r < 0) {
                if (!d->syn_error) /* once per outage, whatever the errors */
                        sink_log(&d->sink, LOG_WARNING, NULL,
                                 "Cannot count the SYN queues: %s; retrying in %.3g s.", err.text,
                                 (double) d->config->syn_interval_usec / 1e6);
                d->syn_error = r;
                d->diag = diag_close(d->diag); /* it may be mid-dump */
                return;
        }
        if (d->syn_error)
                sink_log(&d->sink, LOG_NOTICE, NULL, "Counting the SYN queues works again.");
        d->syn_error = 0;
        d->syn_fresh = true;
}

static void daemon_check_syn_trigger(Daemon *d) {
        static const NetstatCounter k[] = { NETSTAT_LISTEN_DROPS, NETSTAT_TCP_REQQ_FULL_DROP,
                                            NETSTAT_TCP_REQQ_FULL_DO_COOKIES };

        for (size_t i = 0; i < ELEMENTSOF(k); i++) {
                uint64_t v = d->counters.present[k[i]] ? d->counters.value[k[i]] : 0;

                if (d->syn_trigger_known && v > d->syn_trigger[i])
                        d->syn_due = true;
                d->syn_trigger[i] = v;
        }
        d->syn_trigger_known = true;
}

static int daemon_read_listeners(Daemon *d, uint64_t now) {
        ErrBuf err = {0};
        int r;

        d->n_seen = 0;
        if (!d->diag) {
                r = diag_open(&d->diag, &err);
                if (r < 0)
                        goto fail;
        }
        /* On its cadence; on failure it drops the socket, reopened here. */
        daemon_count_syn(d, now);
        if (!d->diag && (r = diag_open(&d->diag, &err)) < 0)
                goto fail;
        r = diag_dump_each(d->diag, d->ranges, d->n_ranges, observe_cb, d, &err);
        if (r >= 0 && config_wants_unix(d->config))
                r = diag_dump_unix(d->diag, observe_cb, d, &err);
        if (r < 0) {
                /* The socket may be mid-dump: start from a fresh one. */
                d->diag = diag_close(d->diag);
                goto fail;
        }
        if (d->diag_error)
                sink_log(&d->sink, LOG_NOTICE, NULL, "Listing listeners works again.");
        d->diag_error = 0;
        return 0;
fail:
        if (!d->diag_error)
                sink_log(&d->sink, LOG_ERR, NULL, "Cannot list listening sockets: %s; retrying every poll.",
                         err.text);
        d->diag_error = r;
        return r;
}

static bool daemon_read_counters(Daemon *d) {
        ErrBuf err = {0};
        int r;

        if (!d->config->counters)
                return false;
        r = netstat_reader_read(d->netstat, &d->counters, &err);
        if (r < 0) {
                if (!d->netstat_error)
                        sink_log(&d->sink, LOG_WARNING, NULL,
                                 "Cannot read the host's listen counters: %s; retrying every poll.", err.text);
                d->netstat_error = r;
                return false;
        }
        if (d->netstat_error)
                sink_log(&d->sink, LOG_NOTICE, NULL, "The host's listen counters are readable again.");
        d->netstat_error = 0;
        return true;
}

static double clock_seconds(clockid_t clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void daemon_write_metrics(Daemon *d, bool have_counters, double started) {
        ErrBuf err = {0};
        int r;

        if (have_counters)
                (void) metrics_set_counters(d->metrics, NULL, &d->counters);
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
        bool have_counters;
        int r;

        if (!d->have_sysctls || now - d->sysctls_usec >= SYSCTL_REFRESH_USEC) {
                netstat_read_sysctls(d->opts.proc_root, &d->sysctls);
                d->sysctls_usec = now;
                d->have_sysctls = true;
        }
        policy_begin(d->policy, d->config, now, &d->sysctls);
        /* The metrics writer keeps the owner's unit strings until it commits. */
        owner_hold(d->owner, true);
        if (d->metrics)
                metrics_begin(d->metrics);
        r = daemon_read_listeners(d, now);
        if (r < 0) {
                /* What was seen before the failure is real; what was not is
                 * not gone. The metrics file keeps the last complete poll. */
                owner_hold(d->owner, false);
                policy_abort(d->policy);
                daemon_emit(d);
                return r;
        }
        have_counters = daemon_read_counters(d);
        if (have_counters)
                daemon_check_syn_trigger(d);
        r = policy_end(d->policy, have_counters ? &d->counters : NULL, &d->events);
        if (r < 0)
                sink_log(&d->sink, LOG_ERR, NULL, "Out of memory while evaluating a poll; some alerts are lost.");
        if (d->metrics)
                daemon_write_metrics(d, have_counters, started);
        owner_hold(d->owner, false);
        daemon_emit(d);
        return d->n_seen > INT32_MAX ? INT32_MAX : (int) d->n_seen;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        int r;

        r = daemon_poll(d, usec);
        if (r < 0 && !d->ready) {
                /* Nothing ever worked: let the service manager see it. */
                sd_event_exit(d->event, EXIT_FAILURE);
                return 0;
        }
        if (r >= 0 && !d->ready) {
                size_t n = policy_n_watched(d->policy);

                d->ready = true;
                sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE,
                         "backlogd started: watching %zu listener%s every %.3g s (warn %u%%, clear %u%%), %s.", n,
                         n == 1 ? "" : "s", (double) d->config->interval_usec / 1e6, d->config->warn,
                         d->config->clear, d->config->path ? d->config->path : "built-in defaults");
                sd_notify(false, "READY=1");
        }
        daemon_notify_status(d);

        /* Fixed cadence from the previous target; after a stall (suspend,
         * debugger, a slow poll), skip ahead instead of firing a burst. */
        d->next_usec += d->config->interval_usec;
        if (d->next_usec <= usec)
                d->next_usec = usec + d->config->interval_usec;
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
        struct timespec ts;
        Config *c = NULL;
        ErrBuf err = {0};
        int r;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
                   (uint64_t) (ts.tv_sec * 1000000LL + ts.tv_nsec / 1000));
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
        d->opts = *o;
        sink_init(&d->sink, o->log_target);
        r = config_load(o->config_path, o->config_must_exist, &c, err);
        if (r < 0)
                goto fail;
        daemon_apply_config(d, c);
        r = policy_new(&d->policy);
        if (r >= 0)
                r = netstat_reader_new(o->proc_root, &d->netstat);
        if (r >= 0)
                r = owner_new("/sys/fs/cgroup", &d->owner);
        if (r < 0) {
                errbuf_set(err, r, "out of memory");
                goto fail;
        }
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
        diag_close(d->diag);
        netstat_reader_free(d->netstat);
        owner_free(d->owner);
        metrics_writer_free(d->metrics);
        policy_free(d->policy);
        config_free(d->config);
        event_list_done(&d->events);
        syn_counts_done(&d->syn);
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
