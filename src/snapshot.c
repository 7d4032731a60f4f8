/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "snapshot.h"
#include "util.h"

Listener *listener_set_push(ListenerSet *s) {
        if (GROW(&s->items, &s->cap, s->n + 1, 64) < 0)
                return NULL;
        memset(&s->items[s->n], 0, sizeof(s->items[0]));
        return &s->items[s->n++];
}

static int listener_key_cmp(const void *a, const void *b) {
        const Listener *x = a, *y = b;

        if (x->netns != y->netns)
                return x->netns < y->netns ? -1 : 1;
        if (x->cookie != y->cookie)
                return x->cookie < y->cookie ? -1 : 1;
        return 0;
}

size_t listener_set_sort_dedup(ListenerSet *s) {
        size_t w = 0;

        if (s->n < 2)
                return 0;
        qsort(s->items, s->n, sizeof(s->items[0]), listener_key_cmp);
        for (size_t r = 1; r < s->n; r++)
                if (listener_key_cmp(&s->items[w], &s->items[r]) != 0)
                        s->items[++w] = s->items[r];
                else
                        s->items[w] = s->items[r]; /* keep the later sighting */
        w++;
        size_t removed = s->n - w;
        s->n = w;
        return removed;
}

void listener_set_clear(ListenerSet *s) {
        s->n = 0;
}

void listener_set_done(ListenerSet *s) {
        free(s->items);
        *s = (ListenerSet){ 0 };
}

bool listener_is_wildcard(const Listener *l) {
        static const uint8_t zero[16];

        if (l->kind == LISTENER_UNIX)
                return false;
        return memcmp(l->addr, zero, l->family == AF_INET ? 4 : 16) == 0;
}

const char *listener_address(const Listener *l, char *buf, size_t size) {
        if (l->kind == LISTENER_UNIX) {
                snprintf(buf, size, "%s", l->path[0] ? l->path : "(unnamed)");
                return buf;
        }
        if (!inet_ntop(l->family == AF_INET ? AF_INET : AF_INET6, l->addr, buf, (socklen_t) size))
                snprintf(buf, size, "?");
        return buf;
}

const char *listener_endpoint(const Listener *l, char *buf, size_t size) {
        char a[LISTENER_ADDRESS_MAX];

        if (l->kind == LISTENER_UNIX)
                return listener_address(l, buf, size);
        if (listener_is_wildcard(l))
                snprintf(buf, size, "*:%u", l->port);
        else if (l->family == AF_INET6)
                snprintf(buf, size, "[%s]:%u", listener_address(l, a, sizeof(a)), l->port);
        else
                snprintf(buf, size, "%s:%u", listener_address(l, a, sizeof(a)), l->port);
        return buf;
}

SnapshotNetns *snapshot_add_netns(Snapshot *s, uint64_t netns, const char *name) {
        SnapshotNetns *a;
        char *copy;

        copy = strdup(name);
        if (!copy)
                return NULL;
        if (GROW(&s->netns, &s->cap_netns, s->n_netns + 1, 4) < 0) {
                free(copy);
                return NULL;
        }
        a = &s->netns[s->n_netns++];
        *a = (SnapshotNetns){ 0 };
        a->netns = netns;
        a->name = copy;
        return a;
}

const char *snapshot_netns_name(const Snapshot *s, uint64_t netns) {
        if (netns == 0)
                return NETNS_HOST_NAME;
        for (size_t i = 0; i < s->n_netns; i++)
                if (s->netns[i].netns == netns)
                        return s->netns[i].name;
        return NULL;
}

void snapshot_done(Snapshot *s) {
        listener_set_done(&s->listeners);
        free(s->info);
        s->info = NULL;
        for (size_t i = 0; i < s->n_netns; i++)
                free(s->netns[i].name);
        free(s->netns);
        s->netns = NULL;
        s->n_netns = s->cap_netns = 0;
}
