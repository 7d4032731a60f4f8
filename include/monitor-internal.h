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
        EventList events;
        PortRange ranges[DIAG_MAX_RANGES];
        size_t n_ranges;
        QueueWaits waits; /* what the accept queues' connections are read for */
        Space *cur;       /* the namespace being dumped */
        size_t n_seen;    /* listeners in this poll's dumps */
        bool fatal;
        SocketOwners *sockets; /* socket-activated listeners: their socket unit */
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
