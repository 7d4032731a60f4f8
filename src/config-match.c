/* SPDX-License-Identifier: MIT */
/* Which watch entry selects a listener, and what the kernel must be asked
 * for: the queries of a loaded configuration, on the poll path (parsing and
 * validation are config.c and config-watch.c, printing config-print.c).
 *
 * config_match() runs for every listener of every poll, so it does not walk
 * the watch list: an index built with the Config gives the entries that can
 * select a listener, in file order, and the first of them that matches is
 * the answer, as in a walk of the whole list. A TCP listener's candidates
 * are the single-port entries of its port (a hash table on the port leads
 * to their run in an array sorted by port, then file order) merged with the
 * "wide" entries (ranges, any port), which are tried in file order; a UNIX
 * listener's are the entries of its path (binary search). */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

#define NO_ENTRY UINT32_MAX

/* A single-port TCP entry: its port and its place in c->watch. */
typedef struct PortEntry {
        uint16_t port;
        bool port_only; /* no address, unit or netns: the port decides */
        uint32_t watch;
} PortEntry;

/* A slot of the hash table on ports; first is 1 + the index in single[] of
 * the port's first entry, 0 for an empty slot. */
typedef struct PortSlot {
        uint32_t first;
        uint16_t port;
} PortSlot;

typedef struct PathEntry {
        const char *path; /* the entry's unix_path, owned by the Config */
        uint32_t watch;
} PathEntry;

struct ConfigMatchIndex {
        PortEntry *single; /* sorted by (port, watch) */
        size_t n_single;
        PortSlot *slot; /* a power of two, at most half full; NULL when no single */
        unsigned bits;  /* log2(number of slots) */
        uint32_t mask;
        uint32_t *wide; /* TCP entries with a range or no port, in file order */
        size_t n_wide;
        PathEntry *unix_paths; /* sorted by (path, watch) */
        size_t n_unix;
};

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

/* Consecutive ports (8001, 8002, …, as a list of ports usually reads) get
 * consecutive slots, so that a dump in port order walks the table instead
 * of jumping through it. The port's block number (port >> bits) times an
 * odd constant moves the block: block numbers that differ modulo the table
 * size get different moves, so ports a multiple of the table size apart
 * (1024, 2048, …) do not all start at one slot. */
static uint32_t port_hash(const ConfigMatchIndex *x, uint16_t port) {
        return ((uint32_t) port + ((uint32_t) port >> x->bits) * 2654435769U) & x->mask;
}

/* Where port's run starts in x->single, or x->n_single when it has none. */
static size_t single_first(const ConfigMatchIndex *x, uint16_t port) {
        if (!x->slot)
                return x->n_single;
        for (uint32_t h = port_hash(x, port);; h = (h + 1) & x->mask) {
                if (x->slot[h].first == 0)
                        return x->n_single;
                if (x->slot[h].port == port)
                        return x->slot[h].first - 1;
        }
}

/* The first entry of x->unix_paths whose path is not below path. */
static size_t unix_first(const ConfigMatchIndex *x, const char *path) {
        size_t lo = 0, hi = x->n_unix;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (strcmp(x->unix_paths[mid].path, path) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

const Watch *config_match(const Config *c, const Listener *l, const char *unit, const char *netns) {
        const ConfigMatchIndex *x = c->index;

        if (l->kind == LISTENER_UNIX) {
                for (size_t i = unix_first(x, l->path); i < x->n_unix && strcmp(x->unix_paths[i].path, l->path) == 0;
                     i++)
                        if (watch_matches(&c->watch[x->unix_paths[i].watch], l, unit, netns))
                                return &c->watch[x->unix_paths[i].watch];
                return c->unix_all ? &c->all : NULL;
        }

        /* The two candidate lists are each in file order: merge them. */
        for (size_t s = single_first(x, l->port), w = 0;;) {
                uint32_t a = s < x->n_single && x->single[s].port == l->port ? x->single[s].watch : NO_ENTRY;
                uint32_t b = w < x->n_wide ? x->wide[w] : NO_ENTRY;
                uint32_t i;

                if (a < b) {
                        /* What an operator listing ports writes: the
                         * entry itself need not be read. */
                        if (x->single[s].port_only)
                                return &c->watch[a];
                        i = a;
                        s++;
                } else if (b != NO_ENTRY) {
                        i = b;
                        w++;
                } else
                        break;
                if (watch_matches(&c->watch[i], l, unit, netns))
                        return &c->watch[i];
        }
        return c->n_tcp_watch == 0 ? &c->all : NULL;
}

static int port_entry_cmp(const void *a, const void *b) {
        const PortEntry *x = a, *y = b;

        if (x->port != y->port)
                return x->port < y->port ? -1 : 1;
        return x->watch < y->watch ? -1 : x->watch > y->watch;
}

static int path_entry_cmp(const void *a, const void *b) {
        const PathEntry *x = a, *y = b;
        int r = strcmp(x->path, y->path);

        if (r != 0)
                return r;
        return x->watch < y->watch ? -1 : x->watch > y->watch;
}

ConfigMatchIndex *config_match_index_free(ConfigMatchIndex *x) {
        if (!x)
                return NULL;
        free(x->single);
        free(x->slot);
        free(x->wide);
        free(x->unix_paths);
        free(x);
        return NULL;
}

static void config_match_index_freep(ConfigMatchIndex **x) {
        config_match_index_free(*x);
}

/* The hash table over the runs of x->single, sized for a load of at most
 * one half so that probes stay short and always reach an empty slot. */
static int build_slots(ConfigMatchIndex *x) {
        size_t ports = 0, n_slot = 2;
        unsigned bits = 1;

        for (size_t i = 0; i < x->n_single; i++)
                ports += i == 0 || x->single[i].port != x->single[i - 1].port;
        if (ports == 0)
                return 0;
        while (n_slot < 2 * ports) {
                n_slot *= 2;
                bits++;
        }
        x->slot = calloc(n_slot, sizeof(*x->slot));
        if (!x->slot)
                return -ENOMEM;
        x->bits = bits;
        x->mask = (uint32_t) n_slot - 1;
        for (size_t i = 0; i < x->n_single; i++) {
                uint32_t h;

                if (i > 0 && x->single[i].port == x->single[i - 1].port)
                        continue;
                for (h = port_hash(x, x->single[i].port); x->slot[h].first != 0; h = (h + 1) & x->mask)
                        ;
                x->slot[h] = (PortSlot){ .first = (uint32_t) i + 1, .port = x->single[i].port };
        }
        return 0;
}

int config_match_index_new(const Config *c, ConfigMatchIndex **ret) {
        _cleanup_(config_match_index_freep) ConfigMatchIndex *x = NULL;
        size_t n_single = 0, n_wide = 0, n_unix = 0;
        int r;

        /* Entry indexes are uint32_t, NO_ENTRY excluded; libconfig counts
         * list elements in an int anyway. */
        if (c->n_watch >= NO_ENTRY)
                return -E2BIG;
        x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_watch; i++) {
                const Watch *w = &c->watch[i];

                if (w->unix_path)
                        n_unix++;
                else if (!w->any_port && w->ports.lo == w->ports.hi)
                        n_single++;
                else
                        n_wide++;
        }
        x->single = n_single ? calloc(n_single, sizeof(*x->single)) : NULL;
        x->wide = n_wide ? calloc(n_wide, sizeof(*x->wide)) : NULL;
        x->unix_paths = n_unix ? calloc(n_unix, sizeof(*x->unix_paths)) : NULL;
        if ((n_single && !x->single) || (n_wide && !x->wide) || (n_unix && !x->unix_paths))
                return -ENOMEM;
        for (size_t i = 0; i < c->n_watch; i++) {
                const Watch *w = &c->watch[i];

                if (w->unix_path)
                        x->unix_paths[x->n_unix++] = (PathEntry){ .path = w->unix_path, .watch = (uint32_t) i };
                else if (!w->any_port && w->ports.lo == w->ports.hi)
                        x->single[x->n_single++] = (PortEntry){
                                .port = w->ports.lo,
                                .port_only = !w->has_address && !w->unit && !w->netns,
                                .watch = (uint32_t) i,
                        };
                else
                        x->wide[x->n_wide++] = (uint32_t) i;
        }
        /* Already in file order within a port or path when the sorts are
         * stable; qsort() is not, hence the index as the second key. */
        if (x->n_single > 1)
                qsort(x->single, x->n_single, sizeof(*x->single), port_entry_cmp);
        if (x->n_unix > 1)
                qsort(x->unix_paths, x->n_unix, sizeof(*x->unix_paths), path_entry_cmp);
        r = build_slots(x);
        if (r < 0)
                return r;
        *ret = x;
        x = NULL;
        return 0;
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

bool config_watch_is_fast(const Config *c, const Watch *w) {
        return w && !w->unix_path && w->interval_usec > 0 && w->interval_usec < c->interval_usec;
}

uint64_t config_fast_interval(const Config *c) {
        uint64_t best = 0;

        for (size_t i = 0; i < c->n_watch; i++)
                if (config_watch_is_fast(c, &c->watch[i]) && (best == 0 || c->watch[i].interval_usec < best))
                        best = c->watch[i].interval_usec;
        return best;
}
