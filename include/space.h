/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading one network namespace — the same code for `--once` and the
 * daemon: its sock_diag socket (listeners, SYN-queue counts, interface
 * names), its /proc/net/netstat counters and its sysctls, each opened from
 * inside the namespace (setns(2) there and back), so that they keep reading
 * it. The daemon's own namespace is read directly. A Space also keeps the
 * SYN-queue cadence and, per source, the last error, so that the caller
 * reports an outage once and its end once. Nothing here logs. Not for
 * threaded programs (setns acts on the calling thread). */

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "netstat.h"
#include "snapshot.h"
#include "util.h"

typedef struct Space {
        uint64_t id;     /* Listener.netns of its listeners: 0 for the reader's own */
        uint64_t inode;  /* nsfs inode (0 for the own namespace until known) */
        char *name;      /* NETNS_HOST_NAME, "web1", "/proc/812/ns/net" */
        char *path;      /* the namespace file; NULL for the own namespace */
        int fd;          /* the namespace file, -1 for the own namespace */
        int self_fd;     /* borrowed: the own namespace, to come back to */
        char *proc_root; /* its /proc as seen from inside */
        DiagSocket *diag;
        NetstatReader *netstat;

        NetstatCounters counters; /* valid when have_counters */
        bool have_counters;
        NetstatSysctls sysctls; /* valid when have_sysctls */
        bool have_sysctls;
        uint64_t sysctls_usec;

        SynCounts syn;     /* the last SYN-queue count */
        bool syn_fresh;    /* counted in this poll */
        bool syn_known;    /* syn holds a successful count (maybe older) */
        uint64_t syn_usec; /* when it was counted */
        uint64_t next_syn_usec;
        unsigned syn_backoff; /* the cadence is syn_interval << syn_backoff */
        bool syn_settle;      /* counted; the backoff is decided at the next poll */
        bool syn_quiet;       /* the caller's: no SYN queue near its level since the count */

        WaitCounts wait;                        /* the last accept-queue count (space_count_wait()) */
        bool wait_known;                        /* wait holds a successful count */
        PortRange wait_ranges[DIAG_MAX_RANGES]; /* the ports it covers */
        size_t n_wait_ranges;
        uint64_t *heads; /* cookies the counts look for (space_wait_look_for()) */
        bool *heads_found;
        size_t n_heads, cap_heads, cap_heads_found;
        uint64_t next_head_usec; /* the next read of the stall candidates' heads */
        uint64_t head_usec;      /* when they were last read */
        unsigned head_backoff;   /* as syn_backoff, while every candidate is stalled */

        /* The last error of each source (0: working), for the caller's
         * once-per-outage messages: see space_error_transition(). */
        int diag_error, netstat_error, syn_error, wait_error, snmp_error;

        /* The idle skip (monitor.c): PassiveOpens as read at the start of
         * this poll, and what the last complete dump of the daemon's polls
         * saw, so that a poll can tell that nothing can have entered an
         * accept queue since. */
        uint64_t passive_opens;
        bool have_passive_opens;
        uint64_t dump_passive_opens;   /* read at the start of that poll */
        NetstatCounters dump_counters; /* read at its end */
        bool dump_pending;             /* dumped this poll: dump_counters not read yet */
        bool counters_read;            /* this poll's counters read by the idle skip */
        bool dump_counters_ok;         /* both read */
        bool idle;                     /* every queue was empty */
        uint64_t dump_usec;            /* when */
        size_t dump_listeners;         /* how many it listed */

        bool dumped; /* a complete dump was read at least once */
        bool found;  /* namespaces.c: found by the scan in progress */
        bool gone;   /* namespaces.c: dropped; freed once its events are out */
} Space;

/* The caller's own namespace, read through proc_root ("/proc"). */
int space_new_own(const char *proc_root, Space **ret);

/* The namespace of a file (/run/netns/NAME, /proc/PID/ns/net), named name,
 * entered from self_fd (the caller's own namespace; see netns_open_self()).
 * Opens the file and, from inside, the sock_diag socket, so that a
 * namespace that cannot be read fails here: -ENOTTY (not a network
 * namespace file), -EPERM (no CAP_SYS_ADMIN), -errno, with the reason in
 * err; -ENOTRECOVERABLE when coming back failed (the caller must stop).
 * If its inode is self_inode, the Space keeps id 0: its listeners are the
 * own namespace's. */
int space_new_file(const char *path, const char *name, int self_fd, uint64_t self_inode, Space **ret, ErrBuf *err);

Space *space_free(Space *s);
static inline void space_freep(Space **s) {
        space_free(*s);
}

/* Opens the sock_diag socket (from inside) unless it is open; the reads
 * below do it themselves. */
int space_open(Space *s, ErrBuf *err);

/* Re-reads the sysctls when older than max_age_usec (or never read). */
int space_refresh_sysctls(Space *s, uint64_t now, uint64_t max_age_usec, ErrBuf *err);

/* Dumps the TCP listeners (only the port ranges given; none: all) and, with
 * unix, the UNIX listeners, handing each to cb. Opens the socket first if
 * an earlier failure closed it. Returns the number handed over or -errno
 * (the socket is then closed: it may be mid-dump). Each Listener carries
 * netns = s->id. */
int space_dump(Space *s, const PortRange *ranges, size_t n_ranges, bool with_unix, diag_listener_cb cb, void *userdata,
               ErrBuf *err);

/* Reads one known TCP listener of the namespace with an exact lookup
 * (diag_lookup_listener(): no walk; not for a member of an SO_REUSEPORT
 * group). Opens the socket first if needed. Returns 1 with the listener
 * in *ret (netns = s->id), 0 when the namespace no longer has it, or
 * -errno (the socket is then closed). */
int space_lookup(Space *s, const Listener *key, Listener *ret, ErrBuf *err);

/* The waiting clients of UNIX listener l of the namespace, into l
 * (diag_unix_clients()). Opens the socket first if needed. Returns 1, 0
 * when none are known, or -errno (the socket is then closed). */
int space_unix_clients(Space *s, Listener *l, ErrBuf *err);

/* Counts the SYN queues now (a walk of every connection of the namespace).
 * Sets syn_fresh/syn_known/syn_usec on success; on failure syn_known is
 * false and the socket is closed. Returns the number of request sockets. */
int space_count_syn(Space *s, uint64_t now, ErrBuf *err);

/* Whether a SYN count is due at now: every syn_interval_usec (the poll
 * within half a poll interval of the due time counts: polls fire late,
 * never early), and, while a listen counter moves (a full SYN or accept
 * queue moves them), early — but at most once per syn_interval_usec / 4,
 * so that a host under load does not walk its connections every poll.
 * syn_interval_usec 0: never. Pure. */
bool space_syn_due(uint64_t now, uint64_t next_usec, uint64_t last_usec, uint64_t interval_usec,
                   uint64_t syn_interval_usec, bool counters_moved);

/* The SYN-count backoff. On a quiet host the count, a walk of every
 * connection, is the largest cost a poll has besides the dump, and it finds
 * nothing. After a count in which every watched listener's SYN queue was
 * below half its clear level (nearly empty) and no listen counter moved
 * (counters_listen_moved()), the next count waits twice as long as the
 * last, up to 8 times syn_interval: 20, 40, 80, 80, ... s with the default
 * 10 s. A count that finds a SYN queue at half its clear level or more, or
 * a counter that moves, brings the cadence back to syn_interval at once
 * (a moving counter also makes the next poll count: space_syn_due()). */
#define SPACE_SYN_BACKOFF_MAX 3

/* The backoff after a count, from the one before (0..SPACE_SYN_BACKOFF_MAX).
 * Pure. */
unsigned space_syn_backoff(unsigned backoff, bool quiet, bool counters_moved);

/* When the next count is due after one at counted_usec. Pure. */
uint64_t space_syn_next(uint64_t counted_usec, uint64_t syn_interval_usec, unsigned backoff);

/* Starts the cadence afresh (a reload): the next poll counts, without
 * backoff. */
void space_syn_reset(Space *s);

/* The SYN-queue entries of listener l from the last successful count, or
 * -1 when none is known (no count yet, a UNIX listener). */
int64_t space_syn_for(const Space *s, const Listener *l);

/* Reads the queued connections (accept queues) on the local ports in
 * ranges (n_ranges > 0: without ports, nothing is read and 0 returned),
 * a walk of every connection of the namespace like the SYN count: ask
 * only for the ports of listeners whose queue is not empty. Sets
 * wait_known on success; on failure it is false and the socket is closed.
 * Returns the number of queued connections or -errno. */
int space_count_wait(Space *s, const PortRange *ranges, size_t n_ranges, ErrBuf *err);

/* space_count_syn() and space_count_wait() in one walk
 * (diag_count_syn_wait()), with their effects. -EOPNOTSUPP when the kernel
 * cannot filter so (nothing changed: count each on its own); any other
 * failure: both unknown, the socket closed. Returns the entries seen. */
int space_count_syn_wait(Space *s, uint64_t now, const PortRange *ranges, size_t n_ranges, ErrBuf *err);

/* The next counts of queued connections look for these cookies (copied;
 * n = 0: none). -ENOMEM: they look for none. */
int space_wait_look_for(Space *s, const uint64_t *cookies, size_t n);

/* Whether the last count found cookie queued (one it looked for). */
bool space_wait_found(const Space *s, uint64_t cookie);

/* Whether the last count of the queued connections covered port. */
bool space_wait_covers(const Space *s, uint16_t port);

/* Sets l's wait_ms, gave_up and has_wait from the last count when l is a
 * TCP listener whose queue is not empty and the count found connections
 * of its own (with an age); otherwise clears has_wait. */
void space_apply_wait(const Space *s, Listener *l);

/* Turns ports (any order, repeats allowed; sorted in place) into at most
 * max ranges in out: adjacent ports are merged, and when more ranges than
 * max would remain, the smallest gaps between them are bridged (the kernel
 * walks every connection either way; the filter saves copying what is not
 * asked for, and a tight one copies least). Returns the number of ranges.
 * Pure. */
size_t space_port_ranges(uint16_t *ports, size_t n, PortRange *out, size_t max);

/* Reads the namespace's listen counters into s->counters (have_counters
 * tells whether they are valid). Opens /proc/net/netstat from inside when
 * needed. */
int space_read_counters(Space *s, ErrBuf *err);

/* Reads Tcp PassiveOpens into s->passive_opens (have_passive_opens tells
 * whether it is valid): net/snmp, opened with /proc/net/netstat by
 * space_read_counters() (-ENOTCONN before that). */
int space_read_passive_opens(Space *s, ErrBuf *err);

/* The name of interface ifindex in the namespace (not the caller's):
 * 0, -ENODEV, or -errno. */
int space_interface_name(Space *s, uint32_t ifindex, char ret_name[IF_NAMESIZE]);

/* Records an outcome r (0 or -errno) of a source into *state: returns 1
 * when it starts failing, -1 when it works again, 0 when nothing changed
 * (an outage is one, whatever its errors). */
static inline int space_error_transition(int *state, int r) {
        int before = *state;

        *state = r < 0 ? r : 0;
        if (r < 0)
                return before == 0 ? 1 : 0;
        return before < 0 ? -1 : 0;
}
