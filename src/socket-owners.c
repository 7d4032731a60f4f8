/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgroup.h"
#include "socket-owners.h"

/* Listeners of init.scope that a read after their first sighting did not
 * find; those missed since the last read. */
#define MISSING_MAX 256
#define PENDING_MAX 32

struct SocketOwners {
        bool enabled;
        char *cgroup_root;
        SocketMap *map;                /* NULL until read (or without systemd) */
        uint64_t read_usec;            /* CLOCK_MONOTONIC of the last read */
        bool wanted;                   /* a listener of init.scope is not in the map */
        bool fresh;                    /* ... and it appeared since the last read */
        int error;                     /* of the last read */
        uint64_t init_cgroup;          /* init.scope's cgroup id, 0 when unknown */
        uint64_t missing[MISSING_MAX]; /* cookies, a ring */
        size_t n_missing, next_missing;
        uint64_t pending[PENDING_MAX];
        size_t n_pending;
};

int socket_owners_new(const char *cgroup_root, bool enabled, SocketOwners **ret) {
        SocketOwners *so = calloc(1, sizeof(*so));

        if (!so)
                return -ENOMEM;
        so->enabled = enabled;
        so->cgroup_root = strdup(cgroup_root);
        if (!so->cgroup_root) {
                free(so);
                return -ENOMEM;
        }
        *ret = so;
        return 0;
}

SocketOwners *socket_owners_free(SocketOwners *so) {
        if (!so)
                return NULL;
        sockets_free(so->map);
        free(so->cgroup_root);
        free(so);
        return NULL;
}

void socket_owners_set_map(SocketOwners *so, SocketMap *map) {
        sockets_free(so->map);
        so->map = map;
}

static uint64_t monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

SocketOwnersRead socket_owners_refresh(SocketOwners *so, bool reload, size_t *ret_units, size_t *ret_endpoints,
                                       ErrBuf *err) {
        uint64_t now = monotonic_usec();
        SocketOwnersRead what;
        SocketMap *map = NULL;
        int r;

        if (!so->enabled)
                return SOCKET_OWNERS_NOT_READ;
        if (reload)
                so->n_missing = so->next_missing = so->n_pending = 0;
        else if (!so->wanted || (!so->fresh && so->read_usec && now - so->read_usec < SOCKET_OWNERS_REFRESH_USEC))
                return SOCKET_OWNERS_NOT_READ;
        so->read_usec = now;
        so->wanted = so->fresh = false;
        so->init_cgroup = cgroup_id_of(so->cgroup_root, "/init.scope");
        r = sockets_read(SOCKET_OWNERS_TIMEOUT_USEC, &map, err);
        if (r < 0)
                what = r != so->error ? SOCKET_OWNERS_FAILED : SOCKET_OWNERS_FAILING;
        else {
                what = so->error ? SOCKET_OWNERS_BACK : SOCKET_OWNERS_READ;
                *ret_units = sockets_n_units(map);
                *ret_endpoints = sockets_n_endpoints(map);
                /* A reload says each clamped Backlog= again. */
                if (!reload)
                        sockets_carry_marks(map, so->map);
                sockets_free(so->map);
                so->map = map;
        }
        so->error = r < 0 ? r : 0;
        /* Asked after they were seen: what is still not there never will be. */
        for (size_t i = 0; i < so->n_pending; i++) {
                so->missing[so->next_missing] = so->pending[i];
                so->next_missing = (so->next_missing + 1) % MISSING_MAX;
                if (so->n_missing < MISSING_MAX)
                        so->n_missing++;
        }
        so->n_pending = 0;
        return what;
}

static void note_missing(SocketOwners *so, const Listener *l) {
        if (!so->enabled || l->netns != 0)
                return;
        for (size_t i = 0; i < so->n_missing; i++)
                if (so->missing[i] == l->cookie)
                        return;
        for (size_t i = 0; i < so->n_pending; i++)
                if (so->pending[i] == l->cookie)
                        return;
        if (so->n_pending < PENDING_MAX) {
                so->pending[so->n_pending++] = l->cookie;
                so->fresh = true;
        }
        so->wanted = true;
}

SocketUnit *socket_owners_find(SocketOwners *so, const Listener *l) {
        SocketUnit *sock = sockets_find(so->map, l);

        /* PID 1's new listener: a socket unit started since the map was
         * read (no unit lookup needed to tell). */
        if (!sock && l->cgroup_id && l->cgroup_id == so->init_cgroup)
                note_missing(so, l);
        return sock;
}

static bool pid1_unit(const char *unit) {
        return !unit || strcmp(unit, "init.scope") == 0;
}

const char *socket_owners_unit(SocketOwners *so, const Listener *l, const char *unit, SocketUnit *sock,
                               SocketUnit **ret_socket) {
        *ret_socket = NULL;
        if (!sock) {
                if (unit && strcmp(unit, "init.scope") == 0)
                        note_missing(so, l);
                return unit;
        }
        if (!pid1_unit(unit))
                return unit; /* another process listens there too (SO_REUSEPORT) */
        *ret_socket = sock;
        return sock->service ? sock->service : sock->name;
}
