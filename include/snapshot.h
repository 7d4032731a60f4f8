/* SPDX-License-Identifier: MIT */
#pragma once

/* Plain data that flows from the kernel readers (diag, netstat) to the pure
 * policy step and to the outputs. No pointers into netlink buffers. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netstat.h"

typedef enum ListenerKind {
        LISTENER_TCP,
        LISTENER_UNIX, /* a SOCK_STREAM/SOCK_SEQPACKET AF_UNIX listener */
} ListenerKind;

/* sun_path holds 108 bytes; an abstract name is shown as "@name". */
#define LISTENER_PATH_MAX 110

/* Waiting UNIX clients a Listener names (the first ones in its queue). */
#define LISTENER_CLIENTS_MAX 4

/* One listening socket as the kernel reported it. */
/* How the daemon's own network namespace is named in every output. */
#define NETNS_HOST_NAME "host"

typedef struct Listener {
        uint64_t netns;     /* network namespace (nsfs inode), 0 = the daemon's own */
        uint64_t cookie;    /* idiag_cookie: stable for the socket's life */
        uint64_t cgroup_id; /* INET_DIAG_CGROUP_ID, 0 when not sent */
        uint32_t inode;
        uint32_t uid;
        uint32_t ifindex;   /* bound interface (SO_BINDTODEVICE), 0 = none */
        uint32_t depth;     /* Recv-Q: connections waiting for accept() */
        uint32_t backlog;   /* Send-Q: min(listen() backlog, somaxconn) */
        uint32_t drops;     /* SK_MEMINFO_DROPS, 0 when has_drops is false */
        uint32_t syn_depth; /* SYN-queue entries (request sockets), when has_syn */
        uint32_t wait_ms;   /* when has_wait: age of the oldest queued connection (for an
                             * SO_REUSEPORT member, its group's oldest) */
        uint32_t gave_up;   /* when has_wait: queued connections their client closed */
        /* The connection at the head of the queue, 0 when unknown: the
         * oldest queued TCP connection's cookie (read with the wait), the
         * first waiting UNIX client's inode. accept() takes the head. */
        uint64_t head;
        /* LISTENER_UNIX: the inodes of the first waiting clients' sockets,
         * oldest first (0 for a client gone). */
        uint32_t clients[LISTENER_CLIENTS_MAX];
        uint8_t n_clients;
        bool has_drops;
        bool has_syn;                 /* this poll counted the SYN queues */
        bool has_wait;                /* the queue was not empty and its connections were read */
        bool v6only;                  /* an AF_INET6 listener that takes no IPv4 */
        uint16_t port;                /* host byte order */
        uint8_t family;               /* AF_INET or AF_INET6 */
        uint8_t addr[16];             /* network byte order; IPv4 uses the first 4 */
        uint8_t kind;                 /* ListenerKind; LISTENER_TCP is 0 */
        uint8_t sotype;               /* LISTENER_UNIX: SOCK_STREAM or SOCK_SEQPACKET; 0 for TCP */
        char path[LISTENER_PATH_MAX]; /* LISTENER_UNIX: the bound name, "" if none */
} Listener;

/* A growable array of listeners, reused from poll to poll so that the
 * steady state allocates nothing. */
typedef struct ListenerSet {
        Listener *items;
        size_t n;
        size_t cap;
} ListenerSet;

/* Appends an uninitialised slot (zeroed) and returns it, or NULL on ENOMEM. */
Listener *listener_set_push(ListenerSet *s);
/* Sorts by (netns, cookie) and removes entries whose key repeats: a dump is
 * not a snapshot and may show a socket twice. Returns the number removed. */
size_t listener_set_sort_dedup(ListenerSet *s);
void listener_set_clear(ListenerSet *s);
void listener_set_done(ListenerSet *s);

/* capacity = backlog + 1: what the accept queue really holds. */
static inline uint64_t listener_capacity(const Listener *l) {
        return (uint64_t) l->backlog + 1;
}

/* Fill in percent of capacity, rounded down; can exceed 100 briefly. */
static inline unsigned listener_fill_pct(const Listener *l) {
        return (unsigned) ((uint64_t) l->depth * 100 / listener_capacity(l));
}

static inline bool listener_is_full(const Listener *l) {
        return l->depth >= listener_capacity(l);
}

/* "127.0.0.1", "::1", "0.0.0.0", "::" — no brackets; a UNIX listener's
 * path. buf >= LISTENER_ADDRESS_MAX bytes. */
const char *listener_address(const Listener *l, char *buf, size_t size);
/* "127.0.0.1:80", "[::1]:80", "*:80" (wildcard); a UNIX listener's path.
 * buf >= LISTENER_ENDPOINT_MAX bytes. */
const char *listener_endpoint(const Listener *l, char *buf, size_t size);
bool listener_is_wildcard(const Listener *l);

#define LISTENER_ADDRESS_MAX LISTENER_PATH_MAX
#define LISTENER_ENDPOINT_MAX (LISTENER_PATH_MAX + 10)

/* What one poll saw of a network namespace other than the daemon's own. */
typedef struct SnapshotNetns {
        uint64_t netns;           /* Listener.netns of its listeners */
        char *name;               /* "web1" (owned by the snapshot) */
        NetstatCounters counters; /* valid when have_counters */
        bool have_counters;
        NetstatSysctls sysctls;
} SnapshotNetns;

/* The SO_REUSEPORT group of a listener (groups.h): the TCP listeners of its
 * network namespace with the same family, address, port and bound device.
 * members 0: it shares them with no other listener. */
typedef struct ListenerGroup {
        uint32_t id;       /* 1, 2, ...: the same for every member of a group */
        uint32_t members;  /* listeners in the group (2 or more) */
        uint32_t full;     /* of which full (depth >= capacity) */
        uint64_t depth;    /* their depths, summed */
        uint64_t capacity; /* their capacities, summed */
} ListenerGroup;

/* A process, as the outputs name it: "psql (pid 812)". */
typedef struct ProcessName {
        int pid;
        char comm[16];
} ProcessName;

/* What was resolved about a listener for the outputs (--once), so that they
 * look nothing up while rendering. NULL and 0 are unknown. The strings are
 * the resolver's and must outlive the rendering. */
typedef struct ListenerInfo {
        const char *unit;        /* the system unit of its cgroup; for a socket-activated
                                  * listener, the service its socket unit starts */
        const char *socket_unit; /* "foo.socket" for a socket unit's listener */
        uint32_t socket_backlog; /* that unit's Backlog= when somaxconn cut it down, else 0 */
        const char *cgroup;      /* the cgroup path */
        const char *user;        /* the user name of its uid */
        int pid;                 /* a process holding it (looked up for listeners in trouble) */
        char comm[16];
        char interface[16]; /* the bound device, named in its own namespace; "" */
        ListenerGroup group;
        /* LISTENER_UNIX: the processes of its first waiting clients, one
         * each, where visible (looked up with --processes) */
        ProcessName clients[LISTENER_CLIENTS_MAX];
        uint8_t n_clients;
} ListenerInfo;

/* Everything one poll saw. counters and sysctls are the daemon's own
 * namespace's (netns 0); other namespaces, if any, are in netns[]. */
typedef struct Snapshot {
        ListenerSet listeners;
        ListenerInfo *info;       /* NULL, or one per listener, same index */
        NetstatCounters counters; /* valid when have_counters */
        bool have_counters;
        bool no_host; /* the daemon's own namespace was not read (`host = false`) */
        NetstatSysctls sysctls;
        SnapshotNetns *netns;
        size_t n_netns, cap_netns;
        uint64_t time_usec; /* CLOCK_MONOTONIC, supplied by the caller */
} Snapshot;

/* Appends a namespace entry (name copied, the rest zeroed); NULL on ENOMEM. */
SnapshotNetns *snapshot_add_netns(Snapshot *s, uint64_t netns, const char *name);
/* The name of a listener's namespace: NETNS_HOST_NAME for 0, the entry's
 * name, or NULL when s has no entry for it. */
const char *snapshot_netns_name(const Snapshot *s, uint64_t netns);

void snapshot_done(Snapshot *s);

/* An inclusive port range; lo == hi for a single port. */
typedef struct PortRange {
        uint16_t lo;
        uint16_t hi;
} PortRange;
