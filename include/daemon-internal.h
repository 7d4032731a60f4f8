/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the daemon's two files (daemon.c for the loop and the poll,
 * daemon-netns.c for the watched network namespaces): the Daemon itself and
 * its Spaces. Only daemon*.c include this; it is not part of the daemon
 * module's interface, which is daemon.h. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "daemon.h"
#include "diag.h"
#include "metrics.h"
#include "netns.h"
#include "netstat.h"
#include "owner.h"
#include "policy.h"
#include "sink.h"
#include "snapshot.h"
#include "util.h"

/* A watched network namespace: the daemon's own (id 0), or one reached
 * through a namespace file, whose kernel interfaces (the sock_diag socket,
 * /proc/net/netstat, the sysctls) were opened from inside it. */
typedef struct Space {
        uint64_t id;    /* Listener.netns: 0 for the daemon's own, else inode */
        uint64_t inode;
        char *name;     /* NETNS_HOST_NAME, "web1", "/proc/812/ns/net" */
        char *path;     /* NULL for the daemon's own */
        int fd;         /* the namespace file, -1 for the daemon's own */
        const char *proc_root; /* its /proc as seen from inside: --proc-root for
                                * the daemon's own, "/proc" for the others */
        DiagSocket *diag;
        NetstatReader *netstat;
        NetstatCounters counters;
        NetstatSysctls sysctls;
        bool have_sysctls;
        uint64_t sysctls_usec;
        SynCounts syn;          /* the last SYN-queue count */
        bool syn_fresh;         /* counted in this poll: attach to listeners */
        bool syn_known;         /* syn holds a successful count (maybe older) */
        bool syn_due;           /* a drop counter rose: count at the next poll */
        uint64_t next_syn_usec;
        uint64_t syn_trigger[3]; /* ListenDrops, TCPReqQFullDrop, TCPReqQFullDoCookies */
        bool syn_trigger_known;
        int diag_error; /* last error logged, so a failing source logs once */
        int netstat_error;
        int syn_error;
        bool found;     /* by the scan in progress */
        bool gone;      /* dropped this poll; freed once its events are out */
} Space;

/* A configured namespace path that cannot be watched, logged once. */
typedef struct PathError {
        char *path;
        int error;
        bool current;
} PathError;

struct Daemon {
        DaemonOptions opts;
        sd_event *event;
        sd_event_source *timer;
        Config *config;
        Owner *owner;
        MetricsWriter *metrics; /* NULL without metrics_file */
        Policy *policy;
        EventList events;
        Sink sink;
        PortRange ranges[DIAG_MAX_RANGES];
        size_t n_ranges;
        Space **spaces;
        size_t n_spaces, cap_spaces;
        Space *cur;             /* the namespace being dumped */
        int self_fd;            /* the daemon's own network namespace */
        uint64_t self_inode;
        NetnsList found;        /* reused by every scan */
        PathError *path_errors;
        size_t n_path_errors;
        int expand_error;
        bool scanned;
        bool scanned_once;      /* a scan before the one in progress */
        bool scan_forced;       /* the configuration changed */
        uint64_t scan_usec;
        size_t n_seen; /* listeners in the last dump */
        uint64_t next_usec;
        bool ready;
        bool fatal;             /* stuck in another namespace: stop */
        int journal_error;
        int metrics_error;
        char status[160];
};

/* Closes what s holds and frees it. Accepts NULL; returns NULL. */
Space *space_free(Space *s);

/* The namespace with Listener.netns id: the one being dumped, else a live
 * one, else a dropped one still waiting for its last events; NULL if none. */
Space *daemon_space(Daemon *d, uint64_t id);

/* " in network namespace NAME" written into buf, or "" (not buf) for the
 * daemon's own namespace. */
const char *space_where(const Space *s, char *buf, size_t size);

/* Runs fn(s, err) inside s's namespace (directly for the daemon's own).
 * Returns fn's result, or a negative errno when s cannot be entered. Failing
 * to come back (-ENOTRECOVERABLE) logs once, sets d->fatal and ends the loop
 * if one runs. */
int space_run(Daemon *d, Space *s, int (*fn)(void *userdata, ErrBuf *err), ErrBuf *err);

/* space_run() callbacks: open s->diag (stamped with s->id), open
 * s->netstat's files, read s->sysctls; userdata is the Space. */
int space_open_diag_cb(void *userdata, ErrBuf *err);
int space_open_netstat_cb(void *userdata, ErrBuf *err);
int space_read_sysctls_cb(void *userdata, ErrBuf *err);

/* Brings d->spaces up to date with the configuration at monotonic time now,
 * at most every NETNS_RESCAN_USEC unless the configuration changed: adds
 * what is new, marks what went `gone` (its last events still name it), logs
 * what cannot be watched. Never fails: what cannot be done is retried. */
void daemon_scan(Daemon *d, uint64_t now);

/* Frees the spaces marked gone; call once their events are out. */
void daemon_reap_spaces(Daemon *d);

/* The PolicyLookup callbacks; userdata is the Daemon. */
const char *daemon_lookup_unit(void *userdata, uint64_t cgroup_id);
const char *daemon_lookup_netns_name(void *userdata, uint64_t netns);
const NetstatSysctls *daemon_lookup_sysctls(void *userdata, uint64_t netns);
