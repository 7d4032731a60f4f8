/* SPDX-License-Identifier: MIT */
#pragma once

/* What monitor.c (a poll: the kernel's side) and monitor-output.c (what
 * it says: lines, socket units, events to the sink) share. Not for other
 * modules. */

#include "budget.h"
#include "cgroup.h"
#include "counters.h"
#include "groups.h"
#include "metrics.h"
#include "monitor.h"
#include "namespaces.h"
#include "policy.h"
#include "process.h"
#include "queue-wait.h"
#include "socket-owners.h"
#include "space.h"
#include "stalls.h"
#include "users.h"

/* Sysctls change rarely and only explain alerts: re-read them this often. */
#define SYSCTL_REFRESH_USEC (30ULL * 1000000ULL)
/* All process lookups of one poll together. */
#define PROCESS_LOOKUP_USEC (100ULL * 1000)
/* An idle namespace is dumped at least every this many polls (idle_skip()). */
#define MONITOR_IDLE_POLLS 10

/* A listener of a fast watch entry (config_watch_is_fast()), as a full poll
 * found it: the key of its exact lookups (monitor-fast.c). */
typedef struct FastKey {
        Listener l;         /* the key, and the listener as last read */
        const Watch *w;     /* its entry in the monitor's configuration */
        uint64_t next_usec; /* when it is due again (its entry's interval) */
        bool shared;        /* an SO_REUSEPORT member: read with a port-filtered dump */
        bool read;          /* read by the fast poll in progress */
} FastKey;

typedef struct FastKeys {
        FastKey *items; /* sorted by netns, then the lookup key, then cookie */
        size_t n, cap;
} FastKeys;

struct Monitor {
        MonitorOptions opts;
        Config *config;
        bool reconfigured; /* since the last poll */
        Namespaces *ns;
        Policy *policy;
        Stalls *stalls;
        Groups *groups; /* SO_REUSEPORT groups */
        Counters *counters;
        CgroupNames *cgroups;
        UserNames *users;
        ProcessFinder *processes;
        Budget *budget;
        MetricsWriter *metrics; /* NULL without metrics_file */
        int metrics_error;
        uint64_t metrics_next_usec; /* when the file is due again (0: the next poll) */
        bool metrics_due;           /* this poll writes it */
        int journal_error;
        bool held_back; /* the last emit set an event back for the next poll */
        EventList events;
        PortRange ranges[DIAG_MAX_RANGES];
        size_t n_ranges;
        QueueWaits waits; /* what the accept queues' connections are read for */
        Space *cur;       /* the namespace being dumped */
        size_t n_seen;    /* listeners in this poll's dumps */
        bool fatal;
        SocketOwners *sockets; /* socket-activated listeners: their socket unit */
        FastKeys fast;         /* what fast polls read: the last full poll's */
        FastKeys fast_next;    /* collected by the full poll in progress */
};

/* A line of the monitor's own (not an event), if its priority is enabled. */
void monitor_say(Monitor *m, int priority, const char *fmt, ...) _printf_(3, 4);

/* Asks systemd for its socket units when socket-owners.h says it is due
 * (reload: the configuration was just loaded), and says what came of it. */
void monitor_read_sockets(Monitor *m, bool reload);

/* Once per socket unit (and reload): its Backlog= was cut down. */
void monitor_check_clamp(Monitor *m, const Space *s, const Listener *l, SocketUnit *sock);

/* The summaries the budget has due (all of them when flush). */
void monitor_emit_summaries(Monitor *m, uint64_t now, bool flush);

/* Writes the poll's events (m->events, then cleared) within the budget. */
void monitor_emit(Monitor *m, uint64_t now);

/* ---- fast polls (monitor-fast.c) ---- */

/* A full poll found l, selected by the fast entry w. */
void monitor_fast_note(Monitor *m, const Listener *l, const Watch *w);

/* The full poll could not dump namespace netns: its keys stay. */
void monitor_fast_keep_netns(Monitor *m, uint64_t netns);

/* A full poll is complete: its keys are what fast polls read from now on,
 * each due at once; SO_REUSEPORT members are marked. */
void monitor_fast_commit(Monitor *m, uint64_t now);

/* A new configuration: no keys until the next full poll (their entries
 * belonged to the old one). */
void monitor_fast_reset(Monitor *m);

void monitor_fast_done(Monitor *m);
