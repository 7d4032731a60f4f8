/* SPDX-License-Identifier: MIT */
#pragma once

/* Which socket unit a listener of PID 1 belongs to, for the daemon: the
 * map of systemd's socket units (sockets.h), read on start and reload, and
 * again when a listener of init.scope that is not in the map appears — at
 * once for one that appeared since the last read (so that a socket unit's
 * first alert names its service), at most every SOCKET_OWNERS_REFRESH_USEC
 * otherwise, and at most once a poll; listeners that a read after their
 * first sighting still did not find (PID 1's own sockets) ask no more.
 * Nothing here logs: a read's outcome is handed back. */

#include <stdbool.h>
#include <stdint.h>

#include "sockets.h"
#include "util.h"

/* The whole exchange with systemd, and the least time between reads. */
#define SOCKET_OWNERS_TIMEOUT_USEC (1000ULL * 1000)
#define SOCKET_OWNERS_REFRESH_USEC (5ULL * 1000000ULL)

typedef struct SocketOwners SocketOwners;

/* enabled false: never asks (tests, --once without listeners of PID 1). */
int socket_owners_new(const char *cgroup_root, bool enabled, SocketOwners **ret);
SocketOwners *socket_owners_free(SocketOwners *so);

typedef enum SocketOwnersRead {
        SOCKET_OWNERS_NOT_READ, /* not due */
        SOCKET_OWNERS_READ,     /* read; *ret_units, *ret_endpoints say what */
        SOCKET_OWNERS_FAILED,   /* failed, for the first time or differently: err says why */
        SOCKET_OWNERS_FAILING,  /* failed as before */
        SOCKET_OWNERS_BACK,     /* read after failures */
} SocketOwnersRead;

/* Reads the map if due (reload: now, and forgets what it knew missing).
 * A failure keeps the map there was. */
SocketOwnersRead socket_owners_refresh(SocketOwners *so, bool reload, size_t *ret_units, size_t *ret_endpoints,
                                       ErrBuf *err);

/* The socket unit of l, or NULL; a listener of init.scope the map does not
 * know makes the next refresh due. */
SocketUnit *socket_owners_find(SocketOwners *so, const Listener *l);

/* The unit the outputs and the watch list see for l, whose cgroup's unit
 * is unit (NULL: unknown): for PID 1's socket of a socket unit (sock, from
 * socket_owners_find()), the service it starts (or the socket unit, if it
 * starts none), with *ret_socket set; otherwise unit, and *ret_socket
 * NULL. */
const char *socket_owners_unit(SocketOwners *so, const Listener *l, const char *unit, SocketUnit *sock,
                               SocketUnit **ret_socket);

/* Replaces the map (tests). */
void socket_owners_set_map(SocketOwners *so, SocketMap *map);
