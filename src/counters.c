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

/* The host counters that mean a listen queue overflowed: each rise is an
 * EVENT_COUNTER. */
static const NetstatCounter watched[] = {
        NETSTAT_LISTEN_OVERFLOWS,
        NETSTAT_LISTEN_DROPS,
        NETSTAT_TCP_REQQ_FULL_DROP,
        NETSTAT_TCP_REQQ_FULL_DO_COOKIES,
};

/* And those that only tell a cause, after them. */
static const NetstatCounter tracked[] = {
        NETSTAT_LISTEN_OVERFLOWS,         NETSTAT_LISTEN_DROPS,          NETSTAT_TCP_REQQ_FULL_DROP,
        NETSTAT_TCP_REQQ_FULL_DO_COOKIES, NETSTAT_TCP_DEFER_ACCEPT_DROP,
};

#define N_WATCHED ELEMENTSOF(watched)
#define N_TRACKED ELEMENTSOF(tracked)

/* The readings that saw a counter rise: the last two, enough for a period
 * that ends at the last reading or at the one before (a listener that has
 * gone since). */
typedef struct Moves {
        uint64_t last, prev;
        uint8_t n; /* 0, 1 or 2 of them are known */
} Moves;

typedef struct NsRecord {
        uint64_t netns;
        uint64_t read_usec; /* last poll with a reading */
        uint64_t from_usec; /* when based: the reading rises are known after */
        uint64_t value[N_TRACKED];
        Moves moves[N_TRACKED];
        Rate rate[N_WATCHED];
        bool known[N_TRACKED];
        bool based; /* rises are known after from_usec */
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

static bool moved_in(const Moves *m, uint64_t since, uint64_t end) {
        /* (since, end], or the reading at end alone when the period is 0 */
        if (m->n >= 1 && m->last <= end)
                return m->last > since || m->last == end;
        return m->n >= 2 && m->prev <= end && (m->prev > since || m->prev == end);
}

/* Which tracked counters rose in the period of e: 1u << each; -1 when the
 * readings do not cover it. A host counter's increase was all read by the
 * last reading; a listener's drops, read at the end of the period, need a
 * reading of the counters then or later. */
static int64_t moved_mask(const NsRecord *n, const Event *e) {
        uint64_t end = e->end_usec, since = end > e->period_usec ? end - e->period_usec : 0;
        int64_t mask = 0;

        if (e->kind == EVENT_COUNTER && end > n->read_usec)
                end = n->read_usec;
        if (!n->based || n->from_usec > since || n->from_usec >= end || n->read_usec < end)
                return -1;
        for (size_t k = 0; k < N_TRACKED; k++)
                if (moved_in(&n->moves[k], since, end))
                        mask |= COUNTERS_MOVED(tracked[k]);
        return mask;
}

EventCause counters_cause(const Event *e, unsigned moved) {
        const Listener *l = &e->listener;

        if (e->kind == EVENT_COUNTER)
                switch (e->counter) {
                case NETSTAT_LISTEN_OVERFLOWS:
                        return EVENT_CAUSE_ACCEPT_QUEUE;
                case NETSTAT_TCP_REQQ_FULL_DROP:
                        return EVENT_CAUSE_SYN_QUEUE;
                case NETSTAT_TCP_REQQ_FULL_DO_COOKIES:
                        return EVENT_CAUSE_SYN_FLOOD;
                case NETSTAT_LISTEN_DROPS:
                        return moved & COUNTERS_MOVED(NETSTAT_LISTEN_OVERFLOWS)     ? EVENT_CAUSE_ACCEPT_QUEUE
                               : moved & COUNTERS_MOVED(NETSTAT_TCP_REQQ_FULL_DROP) ? EVENT_CAUSE_SYN_QUEUE
                                                                                    : EVENT_CAUSE_OTHER;
                default:
                        return EVENT_CAUSE_NONE;
                }
        if (e->kind != EVENT_DROPS || l->kind != LISTENER_TCP)
                return EVENT_CAUSE_NONE;
        /* Another listener's overflow moves ListenOverflows too: when a SYN
         * queue or deferred-accept drop explains this one, its own accept
         * queue must be full to be blamed. */
        if ((moved & COUNTERS_MOVED(NETSTAT_LISTEN_OVERFLOWS)) &&
            (listener_is_full(l) ||
             !(moved & (COUNTERS_MOVED(NETSTAT_TCP_REQQ_FULL_DROP) | COUNTERS_MOVED(NETSTAT_TCP_DEFER_ACCEPT_DROP)))))
                return EVENT_CAUSE_ACCEPT_QUEUE;
        if (moved & COUNTERS_MOVED(NETSTAT_TCP_REQQ_FULL_DROP))
                return EVENT_CAUSE_SYN_QUEUE;
        if (moved & COUNTERS_MOVED(NETSTAT_TCP_DEFER_ACCEPT_DROP))
                return EVENT_CAUSE_DEFER_ACCEPT;
        return EVENT_CAUSE_OTHER;
}

static void stamp(const NsRecord *n, Event *e) {
        int64_t mask = moved_mask(n, e);

        e->cause = mask < 0 ? EVENT_CAUSE_NONE : counters_cause(e, (unsigned) mask);
}

void counters_stamp_cause(const Counters *c, Event *e) {
        size_t i;

        if (e->cause != EVENT_CAUSE_NONE || (e->kind != EVENT_DROPS && e->kind != EVENT_COUNTER))
                return;
        if (find(c, e->listener.netns, &i))
                stamp(&c->ns[i], e);
}

static int emit(const NsRecord *n, EventList *out, NetstatCounter k, uint64_t increase, uint64_t period,
                uint64_t end) {
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
        e->end_usec = end;
        stamp(n, e);
        return 1;
}

/* A reading: new baselines, and which counters rose. */
static void read_values(NsRecord *n, const NetstatCounters *values, uint64_t now, uint64_t increase[N_TRACKED]) {
        bool all = true;

        for (size_t k = 0; k < N_TRACKED; k++) {
                NetstatCounter id = tracked[k];
                uint64_t v = values->value[id];

                increase[k] = 0;
                if (!values->present[id]) {
                        n->known[k] = false;
                        n->moves[k] = (Moves){ 0 };
                        continue;
                }
                all = all && n->known[k];
                if (n->known[k] && v > n->value[k]) {
                        increase[k] = v - n->value[k];
                        n->moves[k].prev = n->moves[k].last;
                        n->moves[k].last = now;
                        if (n->moves[k].n < 2)
                                n->moves[k].n++;
                        if (k < N_WATCHED && id != NETSTAT_LISTEN_OVERFLOWS)
                                n->moved = true;
                }
                n->value[k] = v;
                n->known[k] = true;
        }
        /* Rises are known from the reading after the first one. */
        if (!all || !n->based)
                n->from_usec = now;
        n->based = true;
}

int counters_step(Counters *c, uint64_t netns, const NetstatCounters *values, const NetstatSysctls *sysctls,
                  bool enabled, uint64_t now, EventList *out) {
        uint64_t increase[N_TRACKED] = { 0 }, prev;
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
                memset(n->moves, 0, sizeof(n->moves));
                n->based = false;
                n->moved = false;
                return 0;
        }
        /* The period of an increase reported at once starts at the
         * previous reading. */
        prev = n->read_usec;
        n->moved = false;
        if (values) {
                read_values(n, values, now, increase);
                n->read_usec = now;
        }
        for (size_t k = 0; k < N_WATCHED; k++) {
                uint64_t sum, period;

                if (rate_step(&n->rate[k], increase[k], prev, now, &sum, &period)) {
                        if (emit(n, out, watched[k], sum, period, now) < 0)
                                lost = true;
                        else
                                n_events++;
                }
        }
        return lost ? -ENOMEM : n_events;
}

/* Reports a record's held-back sums. */
static int flush_one(NsRecord *n, EventList *out) {
        int n_events = 0;

        for (size_t k = 0; k < N_WATCHED; k++) {
                Rate *r = &n->rate[k];

                if (r->pending == 0)
                        continue;
                if (emit(n, out, watched[k], r->pending, elapsed(n->read_usec, r->pending_from), n->read_usec) > 0)
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
