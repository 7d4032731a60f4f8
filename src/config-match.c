/* SPDX-License-Identifier: MIT */
/* Which watch entry selects a listener, and what the kernel must be asked
 * for: the queries of a loaded configuration, on the poll path (parsing and
 * validation are config.c and config-watch.c, printing config-print.c). */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

/* An entry's pattern (unit, netns) matches known names only. */
static bool pattern_matches(const char *pattern, const char *name) {
        return !pattern || (name && fnmatch(pattern, name, 0) == 0);
}

/* The cheap tests first: fnmatch() runs only for listeners that the
 * entry's port, address or path already selects. */
static bool watch_matches(const Watch *w, const Listener *l, const char *unit, const char *netns) {
        if (l->kind == LISTENER_UNIX) {
                if (!w->unix_path || strcmp(w->unix_path, l->path) != 0)
                        return false;
        } else {
                if (w->unix_path)
                        return false;
                if (!w->any_port && (l->port < w->ports.lo || l->port > w->ports.hi))
                        return false;
                if (w->has_address &&
                    (w->family != l->family || memcmp(w->addr, l->addr, w->family == AF_INET ? 4 : 16) != 0))
                        return false;
        }
        return pattern_matches(w->unit, unit) && pattern_matches(w->netns, netns);
}

bool config_wants_unix(const Config *c) {
        return c->unix_all || c->n_tcp_watch < c->n_watch;
}

bool config_wants_unit(const Config *c) {
        return c->wants_unit;
}

bool config_wants_netns(const Config *c) {
        return c->wants_netns;
}

const Watch *config_match(const Config *c, const Listener *l, const char *unit, const char *netns) {
        for (size_t i = 0; i < c->n_watch; i++)
                if (watch_matches(&c->watch[i], l, unit, netns))
                        return &c->watch[i];
        if (l->kind == LISTENER_UNIX ? c->unix_all : c->n_tcp_watch == 0)
                return &c->all;
        return NULL;
}

static int range_cmp(const void *a, const void *b) {
        const PortRange *x = a, *y = b;

        return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->hi < y->hi ? -1 : x->hi > y->hi);
}

size_t config_port_ranges(const Config *c, PortRange *ret, size_t max) {
        size_t n = 0;

        if (c->n_watch == 0)
                return 0;
        for (size_t i = 0; i < c->n_watch; i++) {
                if (c->watch[i].unix_path)
                        continue;
                if (c->watch[i].any_port || n == max)
                        return 0;
                ret[n++] = c->watch[i].ports;
        }
        if (n == 0)
                return 0;
        qsort(ret, n, sizeof(*ret), range_cmp);
        size_t w = 0;
        for (size_t r = 1; r < n; r++) {
                if ((unsigned) ret[r].lo <= (unsigned) ret[w].hi + 1) {
                        if (ret[r].hi > ret[w].hi)
                                ret[w].hi = ret[r].hi;
                } else
                        ret[++w] = ret[r];
        }
        return w + 1;
}
