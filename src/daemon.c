/* SPDX-License-Identifier: MIT */
/* The loop only: one sd_event with the poll timer, the fast-poll timer
 * (watch entries with their own, shorter `interval`), the watchdog timer
 * and SIGTERM/SIGINT/SIGHUP sources; the polls themselves are monitor.c.
 * The watchdog is pinged after full polls that worked, never merely because
 * the loop spins, nor after fast polls: a full poll that hangs, or a daemon
 * that can read nothing, is caught. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "daemon.h"
#include "journal.h"
#include "message-ids.h"
#include "monitor.h"

typedef struct Daemon {
        DaemonOptions opts;
        Sink sink;
        Monitor *monitor;
        sd_event *event;
        sd_event_source *timer;
        sd_event_source *fast_timer;
        uint64_t next_usec;     /* when the poll timer is due */
        uint64_t fast_usec;     /* the fast polls' interval, 0 when off */
        uint64_t watchdog_usec; /* WATCHDOG_USEC, 0 when off */
        uint64_t last_ok_usec;  /* end of the last poll that read something */
        uint64_t pinged_usec;
        bool ready;
        char status[160];
} Daemon;

void daemon_block_signals(void) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
}

static uint64_t loop_now(Daemon *d) {
        uint64_t now = 0;

        if (sd_event_now(d->event, CLOCK_MONOTONIC, &now) < 0) {
                struct timespec ts;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                now = (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
        }
        return now;
}

static void notify_status(Daemon *d) {
        char status[sizeof(d->status)];

        monitor_status(d->monitor, status, sizeof(status));
        if (strcmp(status, d->status) == 0)
                return;
        memcpy(d->status, status, sizeof(status));
        sd_notifyf(false, "STATUS=%s", status);
}

static void ping_watchdog(Daemon *d, uint64_t now) {
        if (d->watchdog_usec == 0 || now - d->pinged_usec < d->watchdog_usec / 4)
                return;
        d->pinged_usec = now;
        sd_notify(false, "WATCHDOG=1");
}

static void set_timer(Daemon *d, uint64_t usec) {
        int r;

        d->next_usec = usec;
        r = sd_event_source_set_time(d->timer, usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(d->timer, SD_EVENT_ONESHOT);
        if (r < 0) {
                sink_log(&d->sink, LOG_CRIT, NULL, "Cannot arm the poll timer: %s; stopping.", strerror(-r));
                sd_event_exit(d->event, EXIT_FAILURE);
        }
}

static void set_accuracy(Daemon *d) {
        /* sd_event's default accuracy is 250 ms; a 1 % slack still lets the
         * kernel coalesce wake-ups. */
        uint64_t a = monitor_config(d->monitor)->interval_usec / 100;
        int r = sd_event_source_set_time_accuracy(d->timer, a ? a : 1);

        if (r < 0)
                sink_log(&d->sink, LOG_WARNING, NULL, "Cannot set the poll timer's accuracy: %s", strerror(-r));
}

/* Arms the fast-poll timer for the configuration's fast entries
 * (config_fast_interval()), from now, or turns it off. */
static void apply_fast(Daemon *d, uint64_t now) {
        uint64_t f = config_fast_interval(monitor_config(d->monitor));
        int r;

        d->fast_usec = f;
        if (f == 0) {
                r = sd_event_source_set_enabled(d->fast_timer, SD_EVENT_OFF);
        } else {
                /* 1 % slack, as the poll timer's. */
                r = sd_event_source_set_time_accuracy(d->fast_timer, f / 100 ? f / 100 : 1);
                if (r >= 0)
                        r = sd_event_source_set_time(d->fast_timer, now + f);
                if (r >= 0)
                        r = sd_event_source_set_enabled(d->fast_timer, SD_EVENT_ONESHOT);
        }
        if (r < 0) {
                sink_log(&d->sink, LOG_CRIT, NULL, "Cannot arm the fast-poll timer: %s; stopping.", strerror(-r));
                sd_event_exit(d->event, EXIT_FAILURE);
        }
}

static int on_fast_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        uint64_t now = loop_now(d), next;

        if (d->fast_usec == 0)
                return 0;
        /* A full poll due within half a fast interval reads them anyway. */
        if (d->next_usec > now + d->fast_usec / 2 && monitor_fast_poll(d->monitor, now) == -ENOTRECOVERABLE) {
                sd_event_exit(d->event, EXIT_FAILURE);
                return 0;
        }
        /* Fixed cadence, skipping ahead after a stall, as full polls. */
        next = usec + d->fast_usec;
        now = loop_now(d);
        if (next <= now)
                next = now + d->fast_usec;
        if (sd_event_source_set_time(s, next) < 0 || sd_event_source_set_enabled(s, SD_EVENT_ONESHOT) < 0) {
                sink_log(&d->sink, LOG_CRIT, NULL, "Cannot arm the fast-poll timer; stopping.");
                sd_event_exit(d->event, EXIT_FAILURE);
        }
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        const Config *c = monitor_config(d->monitor);
        uint64_t now = loop_now(d);
        int r;

        r = monitor_poll(d->monitor, now);
        if (r == -ENOTRECOVERABLE || (r < 0 && !d->ready)) {
                /* Nothing ever worked, or nothing can: let the service
                 * manager see it. */
                sd_event_exit(d->event, EXIT_FAILURE);
                return 0;
        }
        if (r >= 0) {
                d->last_ok_usec = now;
                ping_watchdog(d, now);
        }
        if (r >= 0 && !d->ready) {
                char status[160];

                d->ready = true;
                sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE,
                         "backlogd started: %s, every %.3g s (warn %u%%, clear %u%%), %s.",
                         monitor_status(d->monitor, status, sizeof(status)), (double) c->interval_usec / 1e6, c->warn,
                         c->clear, c->path ? c->path : "built-in defaults");
                sd_notify(false, "READY=1");
        }
        notify_status(d);

        /* Fixed cadence from the previous target (usec: when it was due);
         * after a stall (SIGSTOP, a debugger, a slow poll), skip ahead
         * instead of firing a burst. */
        d->next_usec = usec + c->interval_usec;
        now = loop_now(d);
        if (d->next_usec <= now)
                d->next_usec = now + c->interval_usec;
        set_timer(d, d->next_usec);
        return 0;
}

/* Between polls: keeps the service alive while polls work (an interval
 * longer than the watchdog's), and lets it die when they have not for a
 * whole watchdog period and a poll interval. */
static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        uint64_t now = loop_now(d);

        if (now - d->last_ok_usec <= monitor_config(d->monitor)->interval_usec + d->watchdog_usec / 2)
                ping_watchdog(d, now);
        if (sd_event_source_set_time(s, now + d->watchdog_usec / 2) < 0 ||
            sd_event_source_set_enabled(s, SD_EVENT_ON) < 0)
                sink_log(&d->sink, LOG_WARNING, NULL, "Cannot re-arm the watchdog timer.");
        return 0;
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        const Config *old = monitor_config(d->monitor);
        uint64_t old_interval = old->interval_usec, now = loop_now(d);
        Config *c = NULL;
        ErrBuf err = { "" };
        int r;

        sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now);
        /* A file that existed when the running config was read must still be
         * there: a deleted file is an error, not a silent switch to defaults. */
        r = config_load(d->opts.config_path, d->opts.config_must_exist || old->path, &c, &err);
        if (r < 0)
                sink_log(&d->sink, LOG_ERR, MESSAGE_ID_LIFECYCLE,
                         "Reload failed, keeping the running configuration: %s", err.text);
        else {
                if (d->opts.interval_usec)
                        c->interval_usec = d->opts.interval_usec;
                if (d->opts.log_level < 0 && !getenv("SYSTEMD_LOG_LEVEL"))
                        d->sink.max_priority = c->log_level >= 0 ? c->log_level : LOG_INFO;
                monitor_set_config(d->monitor, c);
                sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE, "Reloaded the configuration from %s.",
                         c->path ? c->path : "built-in defaults");
                if (c->interval_usec != old_interval) {
                        /* From the previous poll's target, not from now: a
                         * stream of reloads must not hold the polls back. */
                        uint64_t next = d->next_usec - old_interval + c->interval_usec;

                        set_timer(d, next > now ? next : now);
                        set_accuracy(d);
                }
                /* Fast entries apply at once: a full poll now finds their
                 * listeners (the old ones' keys went with the old
                 * configuration), and fast polls follow at the new
                 * cadence. */
                apply_fast(d, now);
                if (d->fast_usec > 0 && d->next_usec > now)
                        set_timer(d, now);
        }
        sd_notify(false, "READY=1");
        return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;

        sd_notify(false, "STOPPING=1");
        /* Drops summed for the next report would be lost with us. */
        monitor_flush(d->monitor, loop_now(d));
        sink_log(&d->sink, LOG_INFO, MESSAGE_ID_LIFECYCLE, "Stopping on %s.", strsignal((int) si->ssi_signo));
        sd_event_exit(d->event, EXIT_SUCCESS);
        return 0;
}

/* Every step named, so that a failure says which. */
static int setup_loop(Daemon *d) {
        static const struct {
                int signo;
                sd_event_signal_handler_t handler;
                const char *step;
        } signals[] = {
                { SIGTERM, on_exit_signal, "watch SIGTERM" },
                { SIGINT, on_exit_signal, "watch SIGINT" },
                { SIGHUP, on_reload, "watch SIGHUP" },
        };
        sd_event_source *wd = NULL;
        const char *step;
        uint64_t now;
        int r;

        step = "create the event loop";
        r = sd_event_default(&d->event);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                step = signals[i].step;
                r = sd_event_add_signal(d->event, NULL, signals[i].signo, signals[i].handler, d);
                if (r < 0)
                        goto fail;
        }
        now = loop_now(d);
        step = "add the poll timer";
        r = sd_event_add_time(d->event, &d->timer, CLOCK_MONOTONIC, now, 1, on_timer, d);
        if (r < 0)
                goto fail;
        d->next_usec = now;
        set_accuracy(d);
        step = "add the fast-poll timer";
        r = sd_event_add_time(d->event, &d->fast_timer, CLOCK_MONOTONIC, now, 1, on_fast_timer, d);
        if (r < 0)
                goto fail;
        apply_fast(d, now);
        step = "read WATCHDOG_USEC";
        r = sd_watchdog_enabled(false, &d->watchdog_usec);
        if (r < 0)
                goto fail;
        if (r == 0)
                d->watchdog_usec = 0;
        if (d->watchdog_usec > 0) {
                step = "add the watchdog timer";
                r = sd_event_add_time(d->event, &wd, CLOCK_MONOTONIC, now + d->watchdog_usec / 2,
                                      d->watchdog_usec / 20, on_watchdog, d);
                if (r < 0)
                        goto fail;
                /* Owned by the loop from here on. */
                r = sd_event_source_set_floating(wd, true);
                sd_event_source_unref(wd);
                if (r < 0)
                        goto fail;
        }
        return 0;
fail:
        sink_log(&d->sink, LOG_ERR, NULL, "Cannot %s: %s", step, strerror(-r));
        return r;
}

static int initial_level(const DaemonOptions *o, const Config *c) {
        const char *env = getenv("SYSTEMD_LOG_LEVEL");
        int level;

        if (o->log_level >= 0)
                return o->log_level;
        if (env && log_level_from_string(env, &level) >= 0)
                return level;
        return c->log_level >= 0 ? c->log_level : LOG_INFO;
}

int daemon_run(const DaemonOptions *o) {
        Daemon d = { .opts = *o };
        MonitorOptions mo;
        Config *c = NULL;
        ErrBuf err = { "" };
        int r;

        sink_init(&d.sink, o->log_target);
        if (o->log_level >= 0)
                d.sink.max_priority = o->log_level;
        /* Never blocked by a stalled journald: see journal.h. */
        if (d.sink.target == LOG_TARGET_JOURNAL && journal_writer_new(JOURNAL_SOCKET, &d.sink.journal) < 0)
                return EXIT_FAILURE;
        r = config_load(o->config_path, o->config_must_exist, &c, &err);
        if (r < 0) {
                sink_log(&d.sink, LOG_ERR, NULL, "%s", err.text);
                sink_flush(&d.sink);
                journal_writer_free(d.sink.journal);
                return r == -ENOMEM ? EXIT_FAILURE : EX_CONFIG;
        }
        if (o->interval_usec)
                c->interval_usec = o->interval_usec;
        d.sink.max_priority = initial_level(o, c);
        mo = (MonitorOptions){
                .proc_root = o->proc_root, .cgroup_root = "/sys/fs/cgroup", .sink = d.sink, .socket_units = true
        };
        r = monitor_new(&mo, c, &d.monitor);
        if (r < 0) {
                sink_log(&d.sink, LOG_ERR, NULL, "Out of memory.");
                journal_writer_free(d.sink.journal);
                return EXIT_FAILURE;
        }
        r = setup_loop(&d);
        if (r >= 0) {
                r = sd_event_loop(d.event);
                if (r < 0)
                        sink_log(&d.sink, LOG_ERR, NULL, "Event loop failed: %s", strerror(-r));
        }
        sd_event_source_unref(d.fast_timer);
        sd_event_source_unref(d.timer);
        sd_event_unref(d.event);
        monitor_free(d.monitor);
        sink_flush(&d.sink);
        journal_writer_free(d.sink.journal);
        return r < 0 ? EXIT_FAILURE : r;
}
