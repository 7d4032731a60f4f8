/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

int config_new_default(Config **ret) {
        Config *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->interval_usec = CONFIG_DEFAULT_INTERVAL_USEC;
        c->warn = CONFIG_DEFAULT_WARN;
        c->clear = CONFIG_DEFAULT_CLEAR;
        c->repeat_usec = CONFIG_DEFAULT_REPEAT_USEC;
        c->counters = true;
        *ret = c;
        return 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_watch; i++)
                free(c->watch[i].name);
        free(c->watch);
        free(c->path);
        free(c);
        return NULL;
}

static bool watch_matches(const Watch *w, const Listener *l) {
        if (!w->any_port && (l->port < w->ports.lo || l->port > w->ports.hi))
                return false;
        if (w->has_address &&
            (w->family != l->family || memcmp(w->addr, l->addr, w->family == AF_INET ? 4 : 16) != 0))
                return false;
        return true;
}

const Watch *config_match(const Config *c, const Listener *l) {
        /* Thread-unsafe by design: the daemon is single-threaded and the
         * entry is rewritten from c on every call. */
        static Watch all;

        if (c->n_watch == 0) {
                all = (Watch) { .any_port = true, .warn = c->warn, .clear = c->clear };
                return &all;
        }
        for (size_t i = 0; i < c->n_watch; i++)
                if (watch_matches(&c->watch[i], l))
                        return &c->watch[i];
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
                if (c->watch[i].any_port || n == max)
                        return 0;
                ret[n++] = c->watch[i].ports;
        }
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
