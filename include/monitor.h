/* SPDX-License-Identifier: MIT */
#pragma once

/* One poll, from the kernel to the outputs, and the state it keeps between
 * polls: for each watched namespace (namespaces.h) its reader (space.h)
 * streams the listeners through the watch matching and the pure policy;
 * the host counters go through counters.h; then the metrics file is
 * written (every metrics_interval; the polls in between only note which
 * listeners are not idle), the events' owners are resolved (cgroup → unit, uid → user,
 * socket → process) and the events handed to the sink. The steady state
 * allocates nothing. The loop around it is daemon.c. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sink.h"
#include "util.h"

typedef struct MonitorOptions {
        const char *proc_root;   /* "/proc" */
        const char *cgroup_root; /* "/sys/fs/cgroup" */
        Sink sink;               /* where events and log lines go */
        bool socket_units;       /* ask systemd which listeners its socket units opened
                                  * (sockets.h): at start, on reload, and when an unknown
                                  * listener of init.scope appears */
} MonitorOptions;

typedef struct Monitor Monitor;

/* Takes c (freed with the monitor). -ENOMEM. */
int monitor_new(const MonitorOptions *o, Config *c, Monitor **ret);
Monitor *monitor_free(Monitor *m);

/* A new configuration (reload), taken over; the old one is freed. The next
 * poll looks at the namespaces again, counts the SYN queues, and treats
 * listeners it newly selects as known, not new. */
void monitor_set_config(Monitor *m, Config *c);
const Config *monitor_config(const Monitor *m);

/* Reads every watched namespace once at monotonic time now_usec, decides,
 * writes the metrics file and emits the events. A namespace in which
 * nothing can have entered an accept queue since its last dump is not
 * dumped (monitor.c, idle_skip()). Returns the number of listeners the
 * poll covers (seen by its dumps, and as last dumped in the namespaces it
 * did not dump), or a negative errno when no namespace could be read
 * (-ENOTRECOVERABLE: stuck in another namespace, stop). */
int monitor_poll(Monitor *m, uint64_t now_usec);

/* A fast poll at monotonic time now_usec (monitor-fast.c): reads the
 * listeners of the fast watch entries (config_fast_interval()) that the
 * last full poll found and that are due, with exact lookups, or a
 * port-filtered dump for SO_REUSEPORT groups; decides them as a partial
 * poll (policy.h) and emits the events. Writes no metrics file, counts no
 * SYN queue, reads no counters. Returns the number of listeners read, or
 * -ENOTRECOVERABLE. */
int monitor_fast_poll(Monitor *m, uint64_t now_usec);

/* Emits what the message bounds and the budget hold back (at stop). */
void monitor_flush(Monitor *m, uint64_t now_usec);

/* "watching 12 listeners, 1 above 80%" (+ " in 3 network namespaces"). */
const char *monitor_status(const Monitor *m, char *buf, size_t size);

size_t monitor_n_watched(const Monitor *m);

/* Replaces the map of socket units (taken over; NULL: none), as if read
 * from systemd. For tests. */
typedef struct SocketMap SocketMap;
void monitor_set_socket_units(Monitor *m, SocketMap *map);
