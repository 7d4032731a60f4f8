/* SPDX-License-Identifier: MIT */
#pragma once

/* Internals shared by the files of the policy module, and included by them
 * only (src/policy*.c): policy.c follows listeners and makes the events,
 * policy-counters.c keeps the per-namespace host counters and the namespaces
 * kept this poll. Not part of the module's interface, which is policy.h. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/* Increases of one drop or host counter, reported at once the first time
 * (and whenever nothing was reported in the last POLICY_DROPS_USEC), else
 * summed and reported on the first poll once POLICY_DROPS_USEC has passed
 * since the previous report. */
typedef struct Rate {
        uint64_t pending;      /* increase not reported yet */
        uint64_t pending_from; /* start of the time the pending sum covers */
        uint64_t last_usec;    /* last report */
        bool reported;         /* at least once */
} Rate;

/* Defined where they are used: Slot and Active in policy.c, NetnsCounters in
 * policy-counters.c. */
typedef struct Slot Slot;
typedef struct Active Active;
typedef struct NetnsCounters NetnsCounters;

#define OBSERVE_LAG 8

/* Begin times of the last GEN_RING polls (by gen), so that a listener kept
 * through polls that failed to dump its namespace still knows when it was
 * last seen. A power of two, so that it divides the 2^16 gens. */
#define GEN_RING 16

struct Policy {
        Slot *slots;
        size_t cap; /* power of two, or 0 */
        size_t n_used;

        Active *pool;
        uint32_t pool_n;    /* records handed out at least once */
        uint32_t pool_cap;
        uint32_t free_head; /* 1 + index, 0 = none free */

        /* The poll in progress. */
        const Config *config;
        uint64_t now;
        uint64_t prev_begin_usec; /* the poll before (completed or aborted) */
        uint64_t end_usec;        /* the last completed poll */
        int64_t somaxconn;
        int8_t abort_on_overflow;
        uint16_t gen;
        size_t n_seen; /* slots marked with gen */
        size_t poll_raised;
        size_t poll_watched;
        int poll_events;
        size_t poll_lost; /* events or listener states lost to ENOMEM */

        size_t n_raised;
        size_t n_watched;

        /* Observations wait here for OBSERVE_LAG further ones, so that the
         * slot each will touch is prefetched while the dump is parsed: a
         * table of 10,000 listeners does not stay in cache between polls. */
        Listener lag[OBSERVE_LAG];
        const Watch *lag_watch[OBSERVE_LAG]; /* each one's entry, never NULL */
        unsigned lag_head, lag_n;
        EventList *lag_out;

        uint64_t gen_usec[GEN_RING];

        PolicyLookup lookup;
        /* policy_step(): answers for what lookup leaves NULL */
        const Snapshot *snap;
        bool wants_unit;  /* config_wants_unit() of config */
        bool wants_netns;

        NetnsCounters *ns; /* sorted by netns */
        size_t n_ns, ns_cap;
        bool host_counted; /* policy_counters(p, 0, …) this poll */

        /* policy_keep_netns() this poll; keep_all when the list could not
         * grow: then no listener is gone this poll, as for policy_abort() */
        uint64_t *keep;
        size_t n_keep, keep_cap;
        bool keep_all;
};

static inline uint64_t elapsed(uint64_t now, uint64_t then) {
        return now > then ? now - then : 0;
}

/* One step of a Rate. prev_usec is the previous poll, which starts the time
 * an increase reported at once covers. Returns true with the sum and its
 * period when a report is due. */
static inline bool rate_step(Rate *r, uint64_t increase, uint64_t prev_usec, uint64_t now,
                             uint64_t *ret_sum, uint64_t *ret_period) {
        bool open = !r->reported || elapsed(now, r->last_usec) >= POLICY_DROPS_USEC;

        if (increase > 0 && r->pending == 0)
                r->pending_from = open ? prev_usec : r->last_usec;
        r->pending += increase;
        if (r->pending == 0 || !open)
                return false;
        *ret_sum = r->pending;
        *ret_period = elapsed(now, r->pending_from);
        r->pending = 0;
        r->last_usec = now;
        r->reported = true;
        return true;
}

/* policy.c */

/* Appends a zeroed event; NULL when out of memory. */
Event *event_list_push(EventList *l);

/* Stamps e with the sysctls of namespace netns, as policy.h says. */
void policy_event_set_sysctls(const Policy *p, Event *e, uint64_t netns);

/* Decides the waiting observations until at most keep wait. Returns 0, or
 * -ENOMEM (also counted in poll_lost). */
int policy_lag_drain(Policy *p, unsigned keep);

/* policy-counters.c */

/* The per-namespace part of policy_begin(): nothing stepped or kept yet. */
void policy_ns_begin(Policy *p);

/* The host counter part of policy_end(), after the sweep. Losses are
 * counted in poll_lost. */
void policy_ns_end(Policy *p, const NetstatCounters *counters, EventList *out);

/* Reports the held-back counter sums of every namespace (policy_flush()). */
void policy_ns_flush(Policy *p, EventList *out);

/* Bytes held by the counter records and the keep list. */
size_t policy_ns_memory_bytes(const Policy *p);

/* Whether netns was passed to policy_keep_netns() this poll (or the list
 * could not grow, so every namespace is kept). */
bool policy_ns_kept(const Policy *p, uint64_t netns);
