/* SPDX-License-Identifier: MIT */
#pragma once

/* systemd's socket units: which listeners PID 1 opened for which .socket
 * unit, the service that unit starts and the Backlog= it asked for. A
 * socket-activated listener belongs to PID 1's cgroup (init.scope), so its
 * cgroup names nobody useful; this map names the socket unit and its
 * service instead. The map is read over D-Bus (sd-bus) rarely: at start, on
 * reload, and when an unknown listener of init.scope appears; lookups are
 * pure and allocate nothing. Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"
#include "util.h"

/* One entry of a socket unit's Listen property, parsed. */
typedef struct SocketEndpoint {
        uint8_t kind;                 /* ListenerKind */
        uint8_t sotype;               /* LISTENER_UNIX: SOCK_STREAM or SOCK_SEQPACKET; 0 for TCP */
        uint8_t family;               /* TCP: AF_INET or AF_INET6 */
        bool any_family;              /* a bare port ("8080"): the wildcard of either family */
        uint16_t port;                /* host byte order */
        uint8_t addr[16];             /* network byte order; IPv4 uses the first 4 */
        char path[LISTENER_PATH_MAX]; /* LISTENER_UNIX: as Listener.path ("@name" when abstract) */
} SocketEndpoint;

/* Parses one (type, address) pair of org.freedesktop.systemd1.Socket's
 * Listen property as systemd prints it: "Stream" or "SequentialPacket"
 * with "0.0.0.0:80", "[::]:443", "[fe80::1]:80%2", a bare "8080", a path
 * "/run/x.sock" or an abstract "@name" (both with systemd's C escapes).
 * Returns 0, -EOPNOTSUPP for what has no listen queue backlogd sees
 * (Datagram, FIFO, Netlink, vsock, SCTP, ...), -EINVAL for garbage. ret is
 * written only on success. */
int sockets_parse_listen(const char *type, const char *address, SocketEndpoint *ret);

/* Whether l is the listener e describes: the same port and address of the
 * same family (a wildcard entry matches only the wildcard listener; an IPv4
 * entry also the IPv4-mapped IPv6 one), or, for UNIX, the same name and
 * socket type. */
bool sockets_endpoint_matches(const SocketEndpoint *e, const Listener *l);

/* A socket unit as the map holds it. */
typedef struct SocketUnit {
        char *name;       /* "foo.socket" */
        char *service;    /* the unit it triggers ("foo.service"), NULL if none (Accept=yes) */
        uint32_t backlog; /* Backlog=; UINT32_MAX when unknown */
        bool said;        /* the caller's mark: its clamp was reported (kept by sockets_carry_marks()) */
} SocketUnit;

/* systemd's default Backlog= (SOMAXCONN_DELUXE, INT_MAX) means "as much as
 * net.core.somaxconn allows": only a smaller value was asked for. */
#define SOCKETS_BACKLOG_UNLIMITED 2147483647U

typedef struct SocketMap SocketMap;

int sockets_new(SocketMap **ret);
SocketMap *sockets_free(SocketMap *m);
static inline void sockets_freep(SocketMap **m) {
        sockets_free(*m);
}

/* Adds a unit (names copied, service may be NULL) and returns its index,
 * or -ENOMEM. */
int sockets_add_unit(SocketMap *m, const char *name, const char *service, uint32_t backlog);
/* Adds one Listen entry of unit (an index from sockets_add_unit()).
 * Returns 0, or sockets_parse_listen()'s error (the entry is skipped), or
 * -ENOMEM. */
int sockets_add_listen(SocketMap *m, size_t unit, const char *type, const char *address);

size_t sockets_n_units(const SocketMap *m);
size_t sockets_n_endpoints(const SocketMap *m);

/* The socket unit whose Listen entry l is, or NULL (also for m NULL, for
 * listeners in other network namespaces than the daemon's own, where PID
 * 1's addresses mean nothing, and for sockets of another uid than 0, which
 * PID 1 did not make). A binary search: no allocation. Whether
 * l really is PID 1's socket (its cgroup init.scope, or none known) is the
 * caller's to check. */
SocketUnit *sockets_find(SocketMap *m, const Listener *l);

/* Copies the marks (`said`) of units of the same name from old to m. */
void sockets_carry_marks(SocketMap *m, const SocketMap *old);

/* Whether a socket unit's Backlog= was cut down by net.core.somaxconn:
 * it asked for more than its listener got, and the listener got exactly
 * somaxconn (-1: unknown). systemd's default (SOCKETS_BACKLOG_UNLIMITED)
 * asks for nothing in particular. */
bool sockets_clamped(uint32_t asked, uint32_t got, int64_t somaxconn);

/* Asks the service manager for every active socket unit, its Listen
 * entries, Backlog= and the unit it triggers: on the system bus, or, for
 * root when that fails, systemd's private socket. The whole exchange is
 * bounded by timeout_usec. Errors: the -errno of connecting (-ENOENT: no
 * bus, -EACCES, -ECONNREFUSED), -ETIMEDOUT, -ENOMEM, or of a call; err says
 * which. */
int sockets_read(uint64_t timeout_usec, SocketMap **ret, ErrBuf *err);
