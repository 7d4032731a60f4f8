/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the configuration parser: config_parse_string() on
 * the input (up to its first NUL, as config_load() refuses NUL bytes), and
 * for every accepted input a round trip: config_print() must parse back to
 * the same Config and print the same text again. The validated Config must
 * also keep the invariants the rest of the daemon relies on, and
 * config_match() must pick the entry its contract in config.h names, for
 * the same listeners and names before and after the round trip. */

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <sys/socket.h>

#include "config.h"
#include "fuzz.h"

#define NAME "fuzz.conf"

/* Watch entries that get a listener built to match them; past that, the
 * quadratic match checks would only slow the fuzzer down. */
#define DERIVED_MAX 16
/* Longest pattern also tried as a name of its own: fnmatch() backtracks
 * once per '*' and a long name of stars could time the input out, which
 * would be this harness's doing, not the daemon's. */
#define SELF_NAME_MAX 24

/* The names a daemon passes: unknown (NULL), a unit, its own namespace,
 * an `ip netns` name. */
static const char *const names[] = { NULL, "nginx.service", "host", "web1" };

/* Returned by match_index() for "not watched" and for the static entry
 * that config_match() returns when no entry selects the listener. */
#define MATCH_NONE (-2)
#define MATCH_ALL (-1)

static char *print(const Config *c, size_t *ret_len) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        FUZZ_ASSERT(f);
        config_print(c, f);
        FUZZ_ASSERT(fclose(f) == 0);
        *ret_len = len;
        return text;
}

static bool has_tcp_entry(const Config *c) {
        for (size_t i = 0; i < c->n_watch; i++)
                if (!c->watch[i].unix_path)
                        return true;
        return false;
}

static void check_invariants(const Config *c) {
        PortRange ranges[64];
        bool any_unit = false, any_netns = false, any_unix = false;
        size_t n;

        FUZZ_ASSERT(c->interval_usec >= CONFIG_INTERVAL_MIN_USEC && c->interval_usec <= CONFIG_INTERVAL_MAX_USEC);
        FUZZ_ASSERT(c->warn >= 2 && c->warn <= 100);
        FUZZ_ASSERT(c->clear >= 1 && c->clear < c->warn);
        FUZZ_ASSERT(c->syn_interval_usec <= CONFIG_INTERVAL_MAX_USEC);
        FUZZ_ASSERT(!c->metrics_file || c->metrics_file[0] == '/');

        /* Something is always watched: the host, or at least one path. */
        FUZZ_ASSERT(c->host || c->n_namespaces > 0);
        FUZZ_ASSERT(c->n_namespaces == 0 || c->namespaces);
        for (size_t i = 0; i < c->n_namespaces; i++) {
                FUZZ_ASSERT(c->namespaces[i]);
                FUZZ_ASSERT(c->namespaces[i][0] == '/');
                FUZZ_ASSERT(strlen(c->namespaces[i]) < PATH_MAX);
        }

        FUZZ_ASSERT(c->n_watch == 0 || c->watch);
        for (size_t i = 0; i < c->n_watch; i++) {
                const Watch *w = &c->watch[i];

                FUZZ_ASSERT(w->any_port || (w->ports.lo >= 1 && w->ports.lo <= w->ports.hi));
                FUZZ_ASSERT(!w->has_address || w->family == AF_INET || w->family == AF_INET6);
                FUZZ_ASSERT(w->clear >= 1 && w->clear < w->warn && w->warn <= 100);
                FUZZ_ASSERT(w->line >= 1);
                /* A UNIX entry names a path and nothing of a TCP one; the
                 * kernel reports no cgroup for UNIX sockets. */
                FUZZ_ASSERT(!w->unix_path || (w->any_port && !w->has_address && !w->unit));
                FUZZ_ASSERT(!w->unix_path || strlen(w->unix_path) < LISTENER_PATH_MAX);
                FUZZ_ASSERT(!w->unit || (w->unit[0] && strlen(w->unit) <= 255));
                FUZZ_ASSERT(!w->netns || (w->netns[0] && strlen(w->netns) <= 255));
                any_unit |= !!w->unit;
                any_netns |= !!w->netns;
                any_unix |= !!w->unix_path;
        }
        FUZZ_ASSERT(config_wants_unit(c) == any_unit);
        FUZZ_ASSERT(config_wants_netns(c) == any_netns);
        FUZZ_ASSERT(config_wants_unix(c) == (c->unix_all || any_unix));

        /* Merged, sorted, disjoint and not adjacent. */
        n = config_port_ranges(c, ranges, ELEMENTSOF(ranges));
        FUZZ_ASSERT(n <= ELEMENTSOF(ranges));
        for (size_t i = 0; i < n; i++) {
                FUZZ_ASSERT(ranges[i].lo <= ranges[i].hi);
                if (i > 0)
                        FUZZ_ASSERT((unsigned) ranges[i - 1].hi + 1 < ranges[i].lo);
        }
}

static bool same_string(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Everything but path and the file lines, which the round trip changes. */
static void check_same(const Config *a, const Config *b) {
        FUZZ_ASSERT(a->interval_usec == b->interval_usec);
        FUZZ_ASSERT(a->warn == b->warn && a->clear == b->clear);
        FUZZ_ASSERT(a->repeat_usec == b->repeat_usec);
        FUZZ_ASSERT(a->counters == b->counters);
        FUZZ_ASSERT(a->unix_all == b->unix_all);
        FUZZ_ASSERT(same_string(a->metrics_file, b->metrics_file));
        FUZZ_ASSERT(a->syn_interval_usec == b->syn_interval_usec);
        FUZZ_ASSERT(a->host == b->host);
        FUZZ_ASSERT(a->n_namespaces == b->n_namespaces);
        for (size_t i = 0; i < a->n_namespaces; i++)
                FUZZ_ASSERT(same_string(a->namespaces[i], b->namespaces[i]));
        FUZZ_ASSERT(a->n_watch == b->n_watch);
        for (size_t i = 0; i < a->n_watch; i++) {
                const Watch *x = &a->watch[i], *y = &b->watch[i];

                FUZZ_ASSERT(x->any_port == y->any_port);
                FUZZ_ASSERT(x->any_port || (x->ports.lo == y->ports.lo && x->ports.hi == y->ports.hi));
                FUZZ_ASSERT(x->has_address == y->has_address);
                FUZZ_ASSERT(!x->has_address ||
                            (x->family == y->family && memcmp(x->addr, y->addr, sizeof(x->addr)) == 0));
                FUZZ_ASSERT(same_string(x->unix_path, y->unix_path));
                FUZZ_ASSERT(same_string(x->unit, y->unit));
                FUZZ_ASSERT(same_string(x->netns, y->netns));
                FUZZ_ASSERT(same_string(x->name, y->name));
                FUZZ_ASSERT(x->warn == y->warn && x->clear == y->clear);
        }
}

/* The contract of config_match() in config.h, written out independently:
 * whether entry w selects listener l with these names. */
static bool selects(const Watch *w, const Listener *l, const char *unit, const char *netns) {
        if (l->kind == LISTENER_UNIX) {
                if (!w->unix_path || strcmp(w->unix_path, l->path) != 0)
                        return false;
        } else {
                if (w->unix_path)
                        return false;
                if (!w->any_port && !(w->ports.lo <= l->port && l->port <= w->ports.hi))
                        return false;
                if (w->has_address &&
                    !(w->family == l->family && memcmp(w->addr, l->addr, w->family == AF_INET6 ? 16 : 4) == 0))
                        return false;
        }
        /* Unknown names (NULL) select nothing that asks for one. */
        if (w->unit && !(unit && fnmatch(w->unit, unit, 0) == 0))
                return false;
        if (w->netns && !(netns && fnmatch(w->netns, netns, 0) == 0))
                return false;
        return true;
}

/* config_match() checked against selects(); returns the index of the
 * entry, MATCH_ALL or MATCH_NONE. */
static int match_index(const Config *c, const Listener *l, const char *unit, const char *netns) {
        const Watch *r = config_match(c, l, unit, netns);
        int want = MATCH_NONE;

        for (size_t i = 0; i < c->n_watch; i++)
                if (selects(&c->watch[i], l, unit, netns)) {
                        want = (int) i;
                        break;
                }
        if (want == MATCH_NONE && (l->kind == LISTENER_UNIX ? c->unix_all : !has_tcp_entry(c)))
                want = MATCH_ALL;

        if (want >= 0) {
                FUZZ_ASSERT(r == &c->watch[want]);
                /* Spelled out, as a user of `unit`/`netns` reads it. */
                FUZZ_ASSERT(unit || !r->unit);
                FUZZ_ASSERT(netns || !r->netns);
        } else if (want == MATCH_ALL) {
                /* Not an entry of the list: the top-level levels, no selector. */
                FUZZ_ASSERT(r);
                for (size_t i = 0; i < c->n_watch; i++)
                        FUZZ_ASSERT(r != &c->watch[i]);
                FUZZ_ASSERT(r->any_port && !r->has_address && !r->unix_path);
                FUZZ_ASSERT(!r->unit && !r->netns && !r->name);
                FUZZ_ASSERT(r->warn == c->warn && r->clear == c->clear);
        } else
                FUZZ_ASSERT(!r);
        return want;
}

/* A listener that entry w's port, address or path selects, so that its
 * unit and netns decide. */
static void listener_for(const Watch *w, Listener *ret) {
        *ret = (Listener){ .family = AF_INET, .port = 80, .backlog = 128 };
        if (w->unix_path) {
                size_t n = strlen(w->unix_path);

                FUZZ_ASSERT(n < sizeof(ret->path));
                ret->kind = LISTENER_UNIX;
                ret->family = AF_UNIX;
                ret->port = 0;
                memcpy(ret->path, w->unix_path, n + 1);
                return;
        }
        if (!w->any_port)
                ret->port = w->ports.hi;
        if (w->has_address) {
                ret->family = w->family;
                memcpy(ret->addr, w->addr, sizeof(ret->addr));
        }
}

/* Every listener and name pair gives the same answer for a and for b (its
 * round trip), and the one selects() computes. */
static void check_match(const Config *a, const Config *b) {
        static const uint8_t loopback6[16] = { [15] = 1 };
        Listener fixed[4] = {
                { .family = AF_INET, .port = 80, .backlog = 511 },      /* 0.0.0.0:80 */
                { .family = AF_INET6, .port = 65535, .backlog = 4096 }, /* [::1]:65535 */
                { .kind = LISTENER_UNIX, .family = AF_UNIX, .path = "/run/php/php-fpm.sock" },
                { .kind = LISTENER_UNIX, .family = AF_UNIX, .path = "" }, /* unbound */
        };
        size_t n_derived = a->n_watch < DERIVED_MAX ? a->n_watch : DERIVED_MAX;

        memcpy(fixed[1].addr, loopback6, sizeof(loopback6));
        for (size_t k = 0; k < ELEMENTSOF(fixed) + n_derived; k++) {
                Listener l;

                if (k < ELEMENTSOF(fixed))
                        l = fixed[k];
                else {
                        const Watch *w = &a->watch[k - ELEMENTSOF(fixed)];
                        const char *unit = w->unit && strlen(w->unit) <= SELF_NAME_MAX ? w->unit : NULL;
                        const char *netns = w->netns && strlen(w->netns) <= SELF_NAME_MAX ? w->netns : NULL;
                        int i;

                        listener_for(w, &l);
                        /* Its own patterns as names: a pattern without
                         * wildcards names what it selects. */
                        i = match_index(a, &l, unit, netns);
                        FUZZ_ASSERT(i == match_index(b, &l, unit, netns));
                        if ((!w->unit || unit) && (!w->netns || netns) && (!unit || fnmatch(unit, unit, 0) == 0) &&
                            (!netns || fnmatch(netns, netns, 0) == 0))
                                FUZZ_ASSERT(i >= 0 && (size_t) i <= k - ELEMENTSOF(fixed));
                }

                for (size_t u = 0; u < ELEMENTSOF(names); u++)
                        for (size_t v = 0; v < ELEMENTSOF(names); v++) {
                                int i = match_index(a, &l, names[u], names[v]);

                                FUZZ_ASSERT(i == match_index(b, &l, names[u], names[v]));
                                /* Names matter only to entries that ask for them. */
                                if (!config_wants_unit(a))
                                        FUZZ_ASSERT(i == match_index(a, &l, NULL, names[v]));
                                if (!config_wants_netns(a))
                                        FUZZ_ASSERT(i == match_index(a, &l, names[u], NULL));
                        }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(freep) char *text = NULL, *printed = NULL, *reprinted = NULL;
        _cleanup_(config_freep) Config *c = NULL, *again = NULL;
        ErrBuf err = { { 0 } };
        size_t len, relen;
        int r;

        text = strndup((const char *) data, size);
        FUZZ_ASSERT(text);
        r = config_parse_string(text, NAME, &c, &err);
        if (r < 0) {
                FUZZ_ASSERT(r == -EINVAL);
                FUZZ_ASSERT(!c);
                fuzz_check_err(&err);
                FUZZ_ASSERT(strncmp(err.text, NAME ":", strlen(NAME ":")) == 0);
                return 0;
        }
        FUZZ_ASSERT(r == 0 && c);
        FUZZ_ASSERT(c->path && strcmp(c->path, NAME) == 0);
        check_invariants(c);

        printed = print(c, &len);
        FUZZ_ASSERT(strlen(printed) == len);
        r = config_parse_string(printed, NAME, &again, &err);
        if (r < 0) {
                fprintf(stderr, "config_print() output does not parse back: %s\n---\n%s---\n", err.text, printed);
                abort();
        }
        check_same(c, again);
        check_invariants(again);
        check_match(c, again);
        reprinted = print(again, &relen);
        if (relen != len || memcmp(printed, reprinted, len) != 0) {
                fprintf(stderr, "config_print() is not stable:\n---\n%s---\n%s---\n", printed, reprinted);
                abort();
        }
        return 0;
}
