/* SPDX-License-Identifier: MIT */
/* Fast polls: between full polls, the listeners of watch entries with an
 * `interval` below the top-level one are read again, each with an exact
 * sock_diag lookup (a hash lookup in the kernel, no walk). Which listeners
 * those are is what the last full poll found: full polls discover, fast
 * polls only read. An SO_REUSEPORT group cannot be read member by member
 * with lookups (the kernel picks one member by hash), so its port is read
 * with a port-filtered dump instead. A fast poll goes through the policy
 * as a partial poll (policy.h: nothing is declared gone, the message
 * bound is shared) and the same outputs; it writes no metrics file, counts
 * no SYN queue, reads no counters, and is no sign of life for the
 * watchdog. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "describe.h"
#include "monitor-internal.h"

void monitor_fast_note(Monitor *m, const Listener *l, const Watch *w) {
        FastKey *k;

        if (GROW(&m->fast_next.items, &m->fast_next.cap, m->fast_next.n + 1, 8) < 0)
                return; /* out of memory: read by the full polls only */
        k = &m->fast_next.items[m->fast_next.n++];
        *k = (FastKey){ .l = *l, .w = w };
}

void monitor_fast_keep_netns(Monitor *m, uint64_t netns) {
        for (size_t i = 0; i < m->fast.n; i++)
                if (m->fast.items[i].l.netns == netns)
                        monitor_fast_note(m, &m->fast.items[i].l, m->fast.items[i].w);
}

/* The lookup key without the cookie: members of an SO_REUSEPORT group
 * share it. */
static int group_cmp(const FastKey *a, const FastKey *b) {
        if (a->l.netns != b->l.netns)
                return a->l.netns < b->l.netns ? -1 : 1;
        if (a->l.family != b->l.family)
                return a->l.family < b->l.family ? -1 : 1;
        if (a->l.port != b->l.port)
                return a->l.port < b->l.port ? -1 : 1;
        if (a->l.ifindex != b->l.ifindex)
                return a->l.ifindex < b->l.ifindex ? -1 : 1;
        return memcmp(a->l.addr, b->l.addr, sizeof(a->l.addr));
}

static int key_cmp(const void *x, const void *y) {
        const FastKey *a = x, *b = y;
        int r = group_cmp(a, b);

        if (r != 0)
                return r;
        return a->l.cookie < b->l.cookie ? -1 : a->l.cookie > b->l.cookie;
}

void monitor_fast_commit(Monitor *m, uint64_t now) {
        FastKeys *f = &m->fast_next, old = m->fast;
        size_t w = 0;

        if (f->n > 0) /* items may be NULL then, which qsort() must not get */
                qsort(f->items, f->n, sizeof(*f->items), key_cmp);
        for (size_t i = 0; i < f->n; i++) {
                /* A dump is not a snapshot: a socket may appear twice. */
                if (w > 0 && key_cmp(&f->items[w - 1], &f->items[i]) == 0)
                        continue;
                f->items[w] = f->items[i];
                f->items[w].next_usec = now;
                f->items[w].shared = w > 0 && group_cmp(&f->items[w - 1], &f->items[w]) == 0;
                if (f->items[w].shared)
                        f->items[w - 1].shared = true;
                w++;
        }
        f->n = w;
        m->fast = *f;
        m->fast_next = old;
        m->fast_next.n = 0;
}

void monitor_fast_reset(Monitor *m) {
        m->fast.n = 0;
        m->fast_next.n = 0;
}

void monitor_fast_done(Monitor *m) {
        free(m->fast.items);
        free(m->fast_next.items);
        m->fast = m->fast_next = (FastKeys){ 0 };
}

/* The keys [first, end) of one namespace, while a port-filtered dump of
 * its SO_REUSEPORT ports runs. */
typedef struct FastDump {
        Monitor *m;
        FastKey *first, *end;
        size_t n_found;
} FastDump;

static int fast_dump_cb(const Listener *l, void *userdata) {
        FastDump *d = userdata;

        for (FastKey *k = d->first; k < d->end; k++)
                if (k->shared && !k->read && k->l.cookie == l->cookie) {
                        k->read = true;
                        k->l = *l;
                        d->n_found++;
                        (void) policy_observe(d->m->policy, l, k->w, &d->m->events);
                        break;
                }
        return 0;
}

/* "8443", "8443-8444, 9000": for the debug line. */
static const char *format_ranges(const PortRange *r, size_t n, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = 0;
        for (size_t i = 0; i < n && len < size; i++) {
                int k = r[i].lo == r[i].hi
                                ? snprintf(buf + len, size - len, "%s%u", i ? ", " : "", r[i].lo)
                                : snprintf(buf + len, size - len, "%s%u-%u", i ? ", " : "", r[i].lo, r[i].hi);
                if (k < 0)
                        break;
                len += (size_t) k;
        }
        return buf;
}

/* Reads the due keys [first, end) of namespace s. Returns how many were
 * read (found). */
static size_t fast_space(Monitor *m, Space *s, FastKey *first, FastKey *end, uint64_t now, uint64_t half) {
        uint16_t ports[DIAG_MAX_RANGES * 4];
        PortRange ranges[DIAG_MAX_RANGES];
        size_t n_ports = 0, n_shared = 0, looked = 0, found = 0;
        char where[DESCRIBE_NETNS_MAX];
        ErrBuf err = { "" };
        int r = 0;

        describe_netns(s->name, where, sizeof(where));
        for (FastKey *k = first; k < end; k++) {
                Listener now_l;

                k->read = false;
                if (now + half < k->next_usec)
                        continue;
                k->next_usec = now + k->w->interval_usec;
                if (k->shared) {
                        if (n_ports < ELEMENTSOF(ports))
                                ports[n_ports++] = k->l.port;
                        n_shared++;
                        continue;
                }
                if (r < 0)
                        continue; /* the namespace failed: the next full poll says so */
                looked++;
                r = space_lookup(s, &k->l, &now_l, &err);
                if (r <= 0)
                        continue;
                k->l = now_l;
                k->read = true;
                found++;
                (void) policy_observe(m->policy, &now_l, k->w, &m->events);
        }
        if (r < 0)
                monitor_say(m, LOG_DEBUG, "Fast poll: cannot look listeners up%s: %s; the next full poll reads them.",
                            where, err.text);
        if (looked > 0)
                monitor_say(m, LOG_DEBUG, "Looked up %zu listener%s%s: %zu found, %zu left to the next full poll.",
                            looked, looked == 1 ? "" : "s", where, found, looked - found);
        if (n_shared > 0) {
                size_t n = space_port_ranges(ports, n_ports, ranges, DIAG_MAX_RANGES);
                FastDump d = { .m = m, .first = first, .end = end };
                char list[128];

                err = (ErrBuf){ "" };
                r = space_dump(s, ranges, n, false, fast_dump_cb, &d, &err);
                format_ranges(ranges, n, list, sizeof(list));
                if (r < 0)
                        monitor_say(m, LOG_DEBUG, "Fast poll: cannot dump port %s%s: %s; the next full poll reads it.",
                                    list, where, err.text);
                else
                        monitor_say(m, LOG_DEBUG,
                                    "Read %zu SO_REUSEPORT listener%s with a port-filtered dump of port %s%s (exact "
                                    "lookups cannot address a group's members): %zu found.",
                                    n_shared, n_shared == 1 ? "" : "s", list, where, d.n_found);
                found += d.n_found;
        }
        return found;
}

int monitor_fast_poll(Monitor *m, uint64_t now) {
        uint64_t half = config_fast_interval(m->config) / 2;
        size_t found = 0;
        int r;

        if (m->fatal)
                return -ENOTRECOVERABLE;
        if (m->fast.n == 0)
                return 0;
        policy_begin_partial(m->policy, m->config, now);
        for (size_t i = 0; i < m->fast.n;) {
                uint64_t netns = m->fast.items[i].l.netns;
                size_t j = i;
                Space *s;

                while (j < m->fast.n && m->fast.items[j].l.netns == netns)
                        j++;
                s = namespaces_find(m->ns, netns);
                if (s && !s->gone)
                        found += fast_space(m, s, m->fast.items + i, m->fast.items + j, now, half);
                i = j;
        }
        r = policy_end_partial(m->policy, &m->events);
        if (r < 0)
                sink_log(&m->opts.sink, LOG_ERR, NULL,
                         "Out of memory while evaluating a fast poll; some alerts are lost.");
        monitor_emit(m, now);
        return found > INT32_MAX ? INT32_MAX : (int) found;
}
