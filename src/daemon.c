/* SPDX-License-Identifier: MIT */
/* The loop: one sd_event with a poll timer, SIGTERM/SIGINT/SIGHUP sources and
 * the watchdog. Each poll reads the kernel into a Snapshot, feeds the pure
 * policy, and hands its events to the sink. */
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
#include "netstat.h"
#include "policy.h"
#include "snapshot.h"

#define MAX_RANGES DIAG_MAX_RANGES
/* Sysctls change rarely and only explain alerts: re-read them this often. */
#define SYSCTL_REFRESH_USEC (30ULL * 1000000ULL)

typedef struct Daemon {
        DaemonOptions opts;
        sd_event *event;
        sd_event_source *timer;
        Config *config;
        DiagSocket *diag;
        Policy *policy;
        Snapshot snap;
        EventList events;
        Sink sink;
        PortRange ranges[MAX_RANGES];
        size_t n_ranges;
        uint64_t next_usec;
        uint64_t sysctls_usec;
        bool ready;
        bool polled_once;
        int diag_error;    /* last error logged, so a failing poll logs once */
        int netstat_error;
        int journal_error;
        char status[160];
} Daemon;

static void daemon_apply_config(Daemon *d, Config *c) {
        if (d->opts.interval_usec)
                c->interval_usec = d->opts.interval_usec;
        config_free(d->config);
        d->config = c;
        d->n_ranges = config_port_ranges(c, d->ranges, MAX_RANGES);
}

static void daemon_notify_status(Daemon *d) {
        char status[sizeof(d->status)];
        size_t raised = policy_n_raised(d->policy);

        snprintf(status, sizeof(status), "watching %zu listener%s, %zu above %u%%", d->snap.listeners.n,
                 d->snap.listeners.n == 1 ? "" : "s", raised, d->config->warn);
        if (strcmp(status, d->status) == 0)
                return;
        memcpy(d->status, status, sizeof(status));
        sd_notifyf(false, "STATUS=%s", status);
}

static void daemon_emit(Daemon *d) {
        for (size_t i = 0; i < d->events.n; i++) {
                int r = sink_event(&d->sink, &d->events.items[i]);

                /* journald may be restarting: say so once on stderr, go on. */
                if (r < 0 && r != d->journal_error)
                        fprintf(stderr, "backlogd: cannot write to the journal: %s\n", strerror(-r));
                d->journal_error = r < 0 ? r : 0;
        }
}

static int daemon_read_listeners(Daemon *d) {
        ErrBuf err = {0};
        int r;

        listener_set_clear(&d->snap.listeners);
        if (!d->diag) {
                r = diag_open(&d->diag, &err);
                if (r < 0)
                        goto fail;
        }
        r = diag_dump_listeners(d->diag, d->ranges, d->n_ranges, &d->snap.listeners, &err);
        if (r < 0) {
                /* The socket may be mid-dump: start from a fresh one. */
                d->diag = diag_close(d->diag);
                listener_set_clear(&d->snap.listeners);
                goto fail;
        }
        if (d->diag_error)
                sink_log(&d->sink, LOG_NOTICE, NULL, "Listing listeners works again.");
        d->diag_error = 0;
        return 0;
fail:
        if (r != d->diag_error)
                sink_log(&d->sink, LOG_ERR, NULL, "Cannot list listening sockets: %s; retrying every poll.",
                         err.text);
        d->diag_error = r;
        return r;
}

static void daemon_read_counters(Daemon *d) {
        ErrBuf err = {0};
        int r;

        d->snap.have_counters = false;
        if (!d->config->counters)
                return;
        r = netstat_read(d->opts.proc_root, &d->snap.counters, &err);
        if (r < 0) {
                if (r != d->netstat_error)
                        sink_log(&d->sink, LOG_WARNING, NULL,
                                 "Cannot read the host's listen counters: %s; retrying every poll.", err.text);
                d->netstat_error = r;
                return;
        }
        if (d->netstat_error)
                sink_log(&d->sink, LOG_NOTICE, NULL, "The host's listen counters are readable again.");
        d->netstat_error = 0;
        d->snap.have_counters = true;
}

static int daemon_poll(Daemon *d, uint64_t now) {
        int r;

        d->snap.time_usec = now;
        if (!d->polled_once || now - d->sysctls_usec >= SYSCTL_REFRESH_USEC) {
                netstat_read_sysctls(d->opts.proc_root, &d->snap.sysctls);
                d->sysctls_usec = now;
        }
        r = daemon_read_listeners(d);
        if (r < 0)
                return r;
        daemon_read_counters(d);

        event_list_clear(&d->events);
        r = policy_step(d->policy, d->config, &d->snap, &d->events);
        if (r < 0) {
                sink_log(&d->sink, LOG_ERR, NULL, "Out of memory while evaluating a poll, skipping it.");
                return r;
        }
        daemon_emit(d);
        d->polled_once = true;
        return 0;
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
                d->ready = true;
                sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE,
                         "backlogd started: watching %zu listener%s every %.3g s (warn %u%%, clear %u%%), %s.",
                         d->snap.listeners.n, d->snap.listeners.n == 1 ? "" : "s",
                         (double) d->config->interval_usec / 1e6, d->config->warn, d->config->clear,
                         d->config->path ? d->config->path : "built-in defaults");
                sd_notify(false, "READY=1");
        }
        daemon_notify_status(d);

        /* Fixed cadence from the previous target; after a stall (suspend,
         * debugger), skip ahead instead of firing a burst. */
        d->next_usec += d->config->interval_usec;
        if (d->next_usec <= usec)
                d->next_usec = usec + d->config->interval_usec;
        sd_event_source_set_time(s, d->next_usec);
        sd_event_source_set_time_accuracy(s, d->config->interval_usec / 100 ? d->config->interval_usec / 100 : 1);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
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
                        sd_event_source_set_time_accuracy(d->timer, d->config->interval_usec / 100 ?
                                                                            d->config->interval_usec / 100 : 1);
                }
        }
        sd_notify(false, "READY=1");
        return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;

        sd_notify(false, "STOPPING=1");
        sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE, "Stopping on %s.", strsignal((int) si->ssi_signo));
        sd_event_exit(d->event, EXIT_SUCCESS);
        return 0;
}

static void daemon_done(Daemon *d) {
        sd_event_source_unref(d->timer);
        sd_event_unref(d->event);
        diag_close(d->diag);
        policy_free(d->policy);
        config_free(d->config);
        snapshot_done(&d->snap);
        event_list_done(&d->events);
}

int daemon_run(const DaemonOptions *o) {
        Daemon d = { .opts = *o };
        Config *c = NULL;
        ErrBuf err = {0};
        sigset_t mask;
        uint64_t now;
        int r, ret = EXIT_FAILURE;

        sink_init(&d.sink, o->log_target);

        r = config_load(o->config_path, o->config_must_exist, &c, &err);
        if (r < 0) {
                sink_log(&d.sink, LOG_ERR, NULL, "%s", err.text);
                return EX_CONFIG;
        }
        daemon_apply_config(&d, c);

        r = policy_new(&d.policy);
        if (r < 0)
                goto oom;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&d.event);
        if (r < 0)
                goto fail;
        if ((r = sd_event_add_signal(d.event, NULL, SIGTERM, on_exit_signal, &d)) < 0 ||
            (r = sd_event_add_signal(d.event, NULL, SIGINT, on_exit_signal, &d)) < 0 ||
            (r = sd_event_add_signal(d.event, NULL, SIGHUP, on_reload, &d)) < 0)
                goto fail;
        r = sd_event_set_watchdog(d.event, true);
        if (r < 0)
                goto fail;

        sd_event_now(d.event, CLOCK_MONOTONIC, &now);
        d.next_usec = now;
        r = sd_event_add_time(d.event, &d.timer, CLOCK_MONOTONIC, now, 1, on_timer, &d);
        if (r < 0)
                goto fail;
        sd_event_source_set_enabled(d.timer, SD_EVENT_ONESHOT);

        r = sd_event_loop(d.event);
        if (r < 0)
                goto fail;
        ret = r;
        goto finish;
oom:
        r = -ENOMEM;
fail:
        sink_log(&d.sink, LOG_ERR, NULL, "Event loop failed: %s", strerror(-r));
finish:
        daemon_done(&d);
        return ret;
}
