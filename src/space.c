/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns.h"
#include "space.h"

static Space *space_alloc(const char *name, const char *path, const char *proc_root) {
        Space *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        s->fd = -1;
        s->self_fd = -1;
        s->name = strdup(name);
        s->path = path ? strdup(path) : NULL;
        s->proc_root = strdup(proc_root);
        if (!s->name || (path && !s->path) || !s->proc_root || netstat_reader_new(proc_root, &s->netstat) < 0)
                return space_free(s);
        return s;
}

Space *space_free(Space *s) {
        if (!s)
                return NULL;
        diag_close(s->diag);
        netstat_reader_free(s->netstat);
        syn_counts_done(&s->syn);
        wait_counts_done(&s->wait);
        free(s->heads);
        free(s->heads_found);
        if (s->fd >= 0)
                close(s->fd);
        free(s->name);
        free(s->path);
        free(s->proc_root);
        free(s);
        return NULL;
}

/* Runs fn inside s (directly for the own namespace). */
static int space_run(Space *s, int (*fn)(void *userdata, ErrBuf *err), ErrBuf *err) {
        if (s->fd < 0)
                return fn(s, err);
        return netns_run(s->fd, s->self_fd, fn, s, err);
}

static int open_diag_cb(void *userdata, ErrBuf *err) {
        Space *s = userdata;
        int r = diag_open(&s->diag, err);

        if (r >= 0)
                diag_set_netns(s->diag, s->id);
        return r;
}

static int open_netstat_cb(void *userdata, ErrBuf *err) {
        Space *s = userdata;

        return netstat_reader_open(s->netstat, err);
}

static int read_sysctls_cb(void *userdata, ErrBuf *err) {
        Space *s = userdata;

        netstat_read_sysctls(s->proc_root, &s->sysctls);
        return 0;
}

int space_new_own(const char *proc_root, Space **ret) {
        Space *s = space_alloc(NETNS_HOST_NAME, NULL, proc_root);

        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int space_new_file(const char *path, const char *name, int self_fd, uint64_t self_inode, Space **ret, ErrBuf *err) {
        _cleanup_(space_freep) Space *s = space_alloc(name, path, "/proc");
        int r;

        if (!s)
                return errbuf_set(err, -ENOMEM, "out of memory");
        s->self_fd = self_fd;
        r = netns_open(path, &s->fd, &s->inode, err);
        if (r < 0)
                return r;
        /* The own namespace (listed while `host = false`) keeps the id its
         * listeners have as the host's. */
        s->id = s->inode == self_inode ? 0 : s->inode;
        r = space_run(s, open_diag_cb, err);
        if (r < 0)
                return r;
        *ret = s;
        s = NULL;
        return 0;
}

int space_refresh_sysctls(Space *s, uint64_t now, uint64_t max_age_usec, ErrBuf *err) {
        int r;

        if (s->have_sysctls && now - s->sysctls_usec < max_age_usec)
                return 0;
        s->sysctls_usec = now;
        r = space_run(s, read_sysctls_cb, err);
        if (r < 0)
                return r;
        s->have_sysctls = true;
        return 0;
}

int space_open(Space *s, ErrBuf *err) {
        return s->diag ? 0 : space_run(s, open_diag_cb, err);
}

int space_dump(Space *s, const PortRange *ranges, size_t n_ranges, bool with_unix, diag_listener_cb cb, void *userdata,
               ErrBuf *err) {
        int r, n;

        r = space_open(s, err);
        if (r < 0)
                return r;
        n = r = diag_dump_each(s->diag, ranges, n_ranges, cb, userdata, err);
        if (r >= 0 && with_unix) {
                r = diag_dump_unix(s->diag, cb, userdata, err);
                n = r < 0 ? r : n > INT32_MAX - r ? INT32_MAX : n + r;
        }
        if (r < 0) {
                s->diag = diag_close(s->diag); /* it may be mid-dump */
                return r;
        }
        s->dumped = true;
        return n;
}

int space_lookup(Space *s, const Listener *key, Listener *ret, ErrBuf *err) {
        int r = space_open(s, err);

        if (r >= 0)
                r = diag_lookup_listener(s->diag, key, ret, err);
        if (r < 0)
                s->diag = diag_close(s->diag);
        return r;
}

int space_unix_clients(Space *s, Listener *l, ErrBuf *err) {
        int r = space_open(s, err);

        if (r >= 0)
                r = diag_unix_clients(s->diag, l, err);
        if (r < 0)
                s->diag = diag_close(s->diag);
        return r;
}

bool space_syn_due(uint64_t now, uint64_t next_usec, uint64_t last_usec, uint64_t interval_usec,
                   uint64_t syn_interval_usec, bool counters_moved) {
        if (syn_interval_usec == 0)
                return false;
        if (now + interval_usec / 2 >= next_usec)
                return true;
        return counters_moved && now >= last_usec + syn_interval_usec / 4;
}

unsigned space_syn_backoff(unsigned backoff, bool quiet, bool counters_moved) {
        if (!quiet || counters_moved)
                return 0;
        return backoff < SPACE_SYN_BACKOFF_MAX ? backoff + 1 : SPACE_SYN_BACKOFF_MAX;
}

uint64_t space_syn_next(uint64_t counted_usec, uint64_t syn_interval_usec, unsigned backoff) {
        if (backoff > SPACE_SYN_BACKOFF_MAX)
                backoff = SPACE_SYN_BACKOFF_MAX;
        return counted_usec + (syn_interval_usec << backoff);
}

void space_syn_reset(Space *s) {
        s->next_syn_usec = 0;
        s->syn_backoff = 0;
        s->syn_settle = false;
}

int space_count_syn(Space *s, uint64_t now, ErrBuf *err) {
        int r;

        s->syn_fresh = false;
        r = space_open(s, err);
        if (r >= 0)
                r = diag_count_syn(s->diag, &s->syn, err);
        if (r < 0) {
                s->syn_known = false;
                s->diag = diag_close(s->diag);
                return r;
        }
        s->syn_fresh = s->syn_known = true;
        s->syn_usec = now;
        return r;
}

int64_t space_syn_for(const Space *s, const Listener *l) {
        if (!s->syn_known || l->kind != LISTENER_TCP)
                return -1;
        return syn_counts_for(&s->syn, l, l->v6only);
}

int space_count_wait(Space *s, const PortRange *ranges, size_t n_ranges, ErrBuf *err) {
        int r;

        s->wait_known = false;
        s->wait.n = 0;
        s->n_wait_ranges = 0;
        if (n_ranges == 0)
                return 0;
        r = space_open(s, err);
        if (r >= 0)
                r = diag_count_wait(s->diag, ranges, n_ranges, &s->wait, err);
        if (r < 0) {
                s->diag = diag_close(s->diag);
                return r;
        }
        s->wait_known = true;
        s->n_wait_ranges = n_ranges < DIAG_MAX_RANGES ? n_ranges : DIAG_MAX_RANGES;
        memcpy(s->wait_ranges, ranges, s->n_wait_ranges * sizeof(*ranges));
        return r;
}

int space_count_syn_wait(Space *s, uint64_t now, const PortRange *ranges, size_t n_ranges, ErrBuf *err) {
        int r = space_open(s, err);

        if (r >= 0)
                r = diag_count_syn_wait(s->diag, ranges, n_ranges, &s->syn, &s->wait, err);
        if (r == -EOPNOTSUPP)
                return r;
        s->syn_fresh = false;
        s->wait_known = false;
        s->n_wait_ranges = 0;
        if (r < 0) {
                s->syn_known = false;
                s->wait.n = 0;
                s->diag = diag_close(s->diag);
                return r;
        }
        s->syn_fresh = s->syn_known = true;
        s->syn_usec = now;
        s->wait_known = true;
        s->n_wait_ranges = n_ranges < DIAG_MAX_RANGES ? n_ranges : DIAG_MAX_RANGES;
        memcpy(s->wait_ranges, ranges, s->n_wait_ranges * sizeof(*ranges));
        return r;
}

static int cookie_cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

int space_wait_look_for(Space *s, const uint64_t *cookies, size_t n) {
        s->wait.n_look_for = s->n_heads = 0;
        if (n == 0)
                return 0;
        if (GROW(&s->heads, &s->cap_heads, n, 16) < 0 || GROW(&s->heads_found, &s->cap_heads_found, n, 16) < 0)
                return -ENOMEM;
        memcpy(s->heads, cookies, n * sizeof(*cookies));
        qsort(s->heads, n, sizeof(*s->heads), cookie_cmp);
        s->n_heads = n;
        s->wait.look_for = s->heads;
        s->wait.found = s->heads_found;
        s->wait.n_look_for = n;
        return 0;
}

bool space_wait_found(const Space *s, uint64_t cookie) {
        const uint64_t *p;

        if (!s->wait_known || s->n_heads == 0)
                return false;
        p = bsearch(&cookie, s->heads, s->n_heads, sizeof(*s->heads), cookie_cmp);
        return p && s->heads_found[p - s->heads];
}

bool space_wait_covers(const Space *s, uint16_t port) {
        if (!s->wait_known)
                return false;
        for (size_t i = 0; i < s->n_wait_ranges; i++)
                if (port >= s->wait_ranges[i].lo && port <= s->wait_ranges[i].hi)
                        return true;
        return false;
}

void space_apply_wait(const Space *s, Listener *l) {
        QueueWait q;

        l->has_wait = false;
        if (!s->wait_known || l->kind != LISTENER_TCP || l->depth == 0 ||
            !wait_counts_for(&s->wait, l, l->v6only, &q) || !q.has_age)
                return;
        l->wait_ms = q.wait_ms;
        l->gave_up = q.gave_up;
        l->head = q.head;
        l->has_wait = true;
}

static int port_cmp(const void *a, const void *b) {
        uint16_t x = *(const uint16_t *) a, y = *(const uint16_t *) b;

        return x < y ? -1 : x > y;
}

/* The ranges of sorted ports when every gap of at most max_gap ports
 * between two of them is bridged (0: only adjacent ones), into out if not
 * NULL; their number. */
static size_t bridge(const uint16_t *ports, size_t n, uint32_t max_gap, PortRange *out) {
        PortRange cur = { ports[0], ports[0] };
        size_t k = 0;

        for (size_t i = 1; i < n; i++) {
                if ((uint32_t) ports[i] <= (uint32_t) cur.hi + 1 + max_gap) {
                        if (ports[i] > cur.hi)
                                cur.hi = ports[i];
                        continue;
                }
                if (out)
                        out[k] = cur;
                k++;
                cur = (PortRange){ ports[i], ports[i] };
        }
        if (out)
                out[k] = cur;
        return k + 1;
}

size_t space_port_ranges(uint16_t *ports, size_t n, PortRange *out, size_t max) {
        uint32_t lo = 0, hi = 65535;

        if (n == 0 || max == 0)
                return 0;
        qsort(ports, n, sizeof(*ports), port_cmp);
        /* The smallest bridge that leaves at most max ranges: the filter
         * lets through as few other ports as it can. */
        while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;

                if (bridge(ports, n, mid, NULL) <= max)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return bridge(ports, n, lo, out);
}

int space_read_counters(Space *s, ErrBuf *err) {
        int r = 0;

        /* Opened from inside the namespace: /proc/net follows the opener. */
        if (!netstat_reader_is_open(s->netstat))
                r = space_run(s, open_netstat_cb, err);
        if (r >= 0)
                r = netstat_reader_read(s->netstat, &s->counters, err);
        s->have_counters = r >= 0;
        return r;
}

int space_read_passive_opens(Space *s, ErrBuf *err) {
        int r = netstat_reader_read_passive_opens(s->netstat, &s->passive_opens, err);

        s->have_passive_opens = r >= 0;
        return r;
}

int space_interface_name(Space *s, uint32_t ifindex, char ret_name[IF_NAMESIZE]) {
        int r = space_open(s, NULL);

        if (r < 0)
                return r;
        return diag_interface_name(s->diag, ifindex, ret_name);
}
