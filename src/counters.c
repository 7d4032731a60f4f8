/* SPDX-License-Identifier: MIT */
/* One record per namespace, in an array sorted by netns that keeps its peak
 * size, so that a poll over namespaces already known allocates nothing. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "rate.h"
#include "util.h"

/* The host counters that mean a listen queue overflowed. */
static const NetstatCounter watched[] = {
        NETSTAT_LISTEN_OVERFLOWS,
        NETSTAT_LISTEN_DROPS,
        NETSTAT_TCP_REQQ_FULL_DROP,
        NETSTAT_TCP_REQQ_FULL_DO_COOKIES,
};

#define N_WATCHED ELEMENTSOF(watched)

typedef struct NsRecord {
        uint64_t netns;
        uint64_t read_usec; /* last poll with a reading */
        uint64_t value[N_WATCHED];
        Rate rate[N_WATCHED];
        bool known[N_WATCHED];
        bool moved; /* a listen counter rose at the last reading */
        int8_t abort_on_overflow;
        int64_t somaxconn;
} NsRecord;

struct Counters {
        NsRecord *ns; /* sorted by netns */
        size_t n, cap;
};

int counters_new(Counters **ret) {
        Counters *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

Counters *counters_free(Counters *c) {
        if (!c)
                return NULL;
        free(c->ns);
        free(c);
        return NULL;
}

size_t counters_memory_bytes(const Counters *c) {
        return sizeof(*c) + c->cap * sizeof(NsRecord);
}

static bool find(const Counters *c, uint64_t netns, size_t *ret) {
        size_t lo = 0, hi = c->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (c->ns[mid].netns < netns)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret = lo;
        return lo < c->n && c->ns[lo].netns == netns;
}

static int emit(const NsRecord *n, EventList *out, NetstatCounter k, uint64_t increase, uint64_t period) {
        Event *e = event_list_push(out);

        if (!e)
                return -ENOMEM;
        e->kind = EVENT_COUNTER;
        e->listener.netns = n->netns;
        e->somaxconn = n->somaxconn;
        e->abort_on_overflow = n->abort_on_overflow;
        e->counter = k;
        e->increase = increase;
        e->period_usec = period;
        return 1;
}

int counters_step(Counters *c, uint64_t netns, const NetstatCounters *values, const NetstatSysctls *sysctls,
                  bool enabled, uint64_t now, EventList *out) {
        bool lost = false;
        int n_events = 0;
        NsRecord *n;
        size_t i;

        if (!find(c, netns, &i)) {
                if (!values || !enabled)
                        return 0; /* nothing to keep yet */
                if (GROW(&c->ns, &c->cap, c->n + 1, 4) < 0)
                        return -ENOMEM;
                memmove(&c->ns[i + 1], &c->ns[i], (c->n - i) * sizeof(c->ns[0]));
                c->ns[i] = (NsRecord){ .netns = netns, .abort_on_overflow = -1, .somaxconn = -1 };
                c->n++;
        }
        n = &c->ns[i];
        if (sysctls && sysctls->present[SYSCTL_TCP_ABORT_ON_OVERFLOW])
                n->abort_on_overflow = (int8_t) (sysctls->value[SYSCTL_TCP_ABORT_ON_OVERFLOW] != 0);
        if (sysctls && sysctls->present[SYSCTL_SOMAXCONN])
                n->somaxconn = sysctls->value[SYSCTL_SOMAXCONN];
        if (!enabled) {
                memset(n->known, 0, sizeof(n->known));
                memset(n->rate, 0, sizeof(n->rate));
                n->moved = false;
                return 0;
        }
        n->moved = false;
        for (size_t k = 0; k < N_WATCHED; k++) {
                NetstatCounter id = watched[k];
                uint64_t increase = 0, sum, period;

                if (values && !values->present[id])
                        n->known[k] = false;
                else if (values) {
                        uint64_t v = values->value[id];

                        if (n->known[k] && v > n->value[k])
                                increase = v - n->value[k];
                        n->value[k] = v;
                        n->known[k] = true;
                        if (increase > 0 && id != NETSTAT_LISTEN_OVERFLOWS)
                                n->moved = true;
                }
                if (rate_step(&n->rate[k], increase, n->read_usec, now, &sum, &period)) {
                        if (emit(n, out, id, sum, period) < 0)
                                lost = true;
                        else
                                n_events++;
                }
        }
        if (values)
                n->read_usec = now;
        return lost ? -ENOMEM : n_events;
}

/* Reports a record's held-back sums. */
static int flush_one(NsRecord *n, EventList *out) {
        int n_events = 0;

        for (size_t k = 0; k < N_WATCHED; k++) {
                Rate *r = &n->rate[k];

                if (r->pending == 0)
                        continue;
                if (emit(n, out, watched[k], r->pending, elapsed(n->read_usec, r->pending_from)) > 0)
                        n_events++;
                r->pending = 0;
        }
        return n_events;
}

int counters_forget(Counters *c, uint64_t netns, EventList *out) {
        size_t i;
        int n;

        if (!find(c, netns, &i))
                return 0;
        n = flush_one(&c->ns[i], out);
        memmove(&c->ns[i], &c->ns[i + 1], (c->n - i - 1) * sizeof(c->ns[0]));
        c->n--;
        return n;
}

int counters_flush(Counters *c, EventList *out) {
        int n = 0;

        for (size_t i = 0; i < c->n; i++)
                n += flush_one(&c->ns[i], out);
        return n;
}

bool counters_listen_moved(const Counters *c, uint64_t netns) {
        size_t i;

        return find(c, netns, &i) && c->ns[i].moved;
}
