/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"

/* The per-namespace part of the policy: host counters and the namespaces
 * kept this poll. Listeners are keyed by (netns, cookie) in policy.c; host
 * counters have a NetnsCounters record per namespace, in an array sorted by
 * netns that keeps its peak size (created on a namespace's first counters,
 * removed by policy_forget_netns() only), so that a poll over namespaces
 * already known allocates nothing. */

/* The host counters that mean a listen queue overflowed. */
static const NetstatCounter watched_counters[] = {
        NETSTAT_LISTEN_OVERFLOWS,
        NETSTAT_LISTEN_DROPS,
        NETSTAT_TCP_REQQ_FULL_DROP,
        NETSTAT_TCP_REQQ_FULL_DO_COOKIES,
};

#define N_WATCHED ELEMENTSOF(watched_counters)

/* The host counters of one network namespace, indexed like
 * watched_counters[]. */
struct NetnsCounters {
        uint64_t netns;
        uint64_t counters_usec; /* last poll with counters */
        uint64_t value[N_WATCHED];
        Rate rate[N_WATCHED];
        bool known[N_WATCHED];
        bool stepped; /* this poll */
};

static void emit_counter(Policy *p, EventList *out, uint64_t netns, NetstatCounter k, uint64_t increase,
                         uint64_t period_usec) {
        Event *e = event_list_push(out);

        if (!e) {
                p->poll_lost++;
                return;
        }
        p->poll_events++;
        e->kind = EVENT_COUNTER;
        e->listener.netns = netns;
        policy_event_set_sysctls(p, e, netns);
        e->counter = k;
        e->increase = increase;
        e->period_usec = period_usec;
}

void policy_ns_begin(Policy *p) {
        for (size_t i = 0; i < p->n_ns; i++)
                p->ns[i].stepped = false;
        p->host_counted = false;
        p->n_keep = 0;
        p->keep_all = false;
}

size_t policy_ns_memory_bytes(const Policy *p) {
        return p->ns_cap * sizeof(NetnsCounters) + p->keep_cap * sizeof(uint64_t);
}

/* The index of netns's record, or where it would go. */
static bool ns_find(const Policy *p, uint64_t netns, size_t *ret) {
        size_t lo = 0, hi = p->n_ns;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (p->ns[mid].netns < netns)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret = lo;
        return lo < p->n_ns && p->ns[lo].netns == netns;
}

/* A fresh record (no baselines) for netns at index i, from ns_find(). */
static int ns_insert(Policy *p, size_t i, uint64_t netns) {
        if (p->n_ns == p->ns_cap) {
                size_t cap = p->ns_cap ? p->ns_cap * 2 : 4;
                NetnsCounters *ns;

                if (cap > SIZE_MAX / sizeof(*ns))
                        return -ENOMEM;
                ns = realloc(p->ns, cap * sizeof(*ns));
                if (!ns)
                        return -ENOMEM;
                p->ns = ns;
                p->ns_cap = cap;
        }
        memmove(&p->ns[i + 1], &p->ns[i], (p->n_ns - i) * sizeof(p->ns[0]));
        p->ns[i] = (NetnsCounters) { .netns = netns };
        p->n_ns++;
        return 0;
}

/* One poll of a namespace's counters; counters NULL: not available. */
static void ns_step(Policy *p, NetnsCounters *n, const NetstatCounters *counters, EventList *out) {
        uint64_t now = p->now;

        n->stepped = true;
        if (!p->config->counters) {
                /* Start afresh if they are switched on again. */
                memset(n->known, 0, sizeof(n->known));
                memset(n->rate, 0, sizeof(n->rate));
                return;
        }

        for (size_t i = 0; i < N_WATCHED; i++) {
                NetstatCounter k = watched_counters[i];
                uint64_t increase = 0, sum, period;

                if (counters) {
                        if (!counters->present[k])
                                n->known[i] = false;
                        else {
                                uint64_t v = counters->value[k];

                                /* Backwards: the namespace was recreated. */
                                if (n->known[i] && v > n->value[i])
                                        increase = v - n->value[i];
                                n->value[i] = v;
                                n->known[i] = true;
                        }
                }

                if (rate_step(&n->rate[i], increase, n->counters_usec, now, &sum, &period))
                        emit_counter(p, out, n->netns, k, sum, period);
        }

        if (counters)
                n->counters_usec = now;
}

/* policy_counters() without draining the lag. A namespace gets a record
 * only once it has counters to keep: stepping "unavailable" or "switched
 * off" without one has nothing to do. */
static int counters_now(Policy *p, uint64_t netns, const NetstatCounters *counters, EventList *out) {
        size_t i;

        if (netns == 0)
                p->host_counted = true;
        if (!ns_find(p, netns, &i)) {
                if (!counters || !p->config->counters)
                        return 0;
                if (ns_insert(p, i, netns) < 0) {
                        p->poll_lost++;
                        return -ENOMEM;
                }
        }
        if (p->ns[i].stepped)
                return 0; /* at most once a poll */
        ns_step(p, &p->ns[i], counters, out);
        return 0;
}

int policy_counters(Policy *p, uint64_t netns, const NetstatCounters *counters, EventList *out) {
        size_t lost;
        int before;

        /* The listeners observed so far come first, as at policy_end(). */
        (void) policy_lag_drain(p, 0); /* a loss is counted in poll_lost */
        lost = p->poll_lost;
        before = p->poll_events;
        (void) counters_now(p, netns, counters, out);
        return p->poll_lost > lost ? -ENOMEM : p->poll_events - before;
}

bool policy_ns_kept(const Policy *p, uint64_t netns) {
        if (p->keep_all)
                return true;
        for (size_t i = 0; i < p->n_keep; i++)
                if (p->keep[i] == netns)
                        return true;
        return false;
}

void policy_keep_netns(Policy *p, uint64_t netns) {
        if (policy_ns_kept(p, netns))
                return;
        if (p->n_keep == p->keep_cap) {
                size_t cap = p->keep_cap ? p->keep_cap * 2 : 4;
                uint64_t *keep = cap <= SIZE_MAX / sizeof(*keep) ? realloc(p->keep, cap * sizeof(*keep)) : NULL;

                if (!keep) {
                        /* Declaring nothing gone this poll is the safe
                         * side of not knowing which namespace to keep. */
                        p->keep_all = true;
                        return;
                }
                p->keep = keep;
                p->keep_cap = cap;
        }
        p->keep[p->n_keep++] = netns;
}

/* Reports a record's held-back sums (what policy_flush() does for all). */
static void ns_flush(Policy *p, NetnsCounters *n, EventList *out) {
        for (size_t i = 0; i < N_WATCHED; i++) {
                Rate *r = &n->rate[i];

                if (r->pending == 0)
                        continue;
                emit_counter(p, out, n->netns, watched_counters[i], r->pending,
                             elapsed(n->counters_usec, r->pending_from));
                r->pending = 0;
        }
}

int policy_forget_netns(Policy *p, uint64_t netns, EventList *out) {
        size_t before = out->n, i;

        /* Its listeners are to be found gone, even if it was kept. */
        for (i = 0; i < p->n_keep; i++)
                if (p->keep[i] == netns) {
                        p->keep[i] = p->keep[--p->n_keep];
                        break;
                }

        if (!ns_find(p, netns, &i))
                return 0;
        /* Sums are reported whatever the configuration says now: they were
         * summed while counters were on (switching them off resets them). */
        ns_flush(p, &p->ns[i], out);
        memmove(&p->ns[i], &p->ns[i + 1], (p->n_ns - i - 1) * sizeof(p->ns[0]));
        p->n_ns--;
        return (int) (out->n - before);
}

void policy_ns_end(Policy *p, const NetstatCounters *counters, EventList *out) {
        if (counters && !p->host_counted)
                (void) counters_now(p, 0, counters, out);
        /* Sums held back come out when due, counters or not. */
        for (size_t i = 0; i < p->n_ns; i++)
                if (!p->ns[i].stepped)
                        ns_step(p, &p->ns[i], NULL, out);
}

void policy_ns_flush(Policy *p, EventList *out) {
        for (size_t i = 0; i < p->n_ns; i++)
                ns_flush(p, &p->ns[i], out);
}
