/* SPDX-License-Identifier: MIT */
/* How one listener is followed from poll to poll.
 *
 * Levels, with hysteresis (the "classified" state, st):
 *   ok   -> high  when fill >= warn        (depth*100 >= warn*capacity)
 *   any  -> full  when depth >= capacity
 *   high/full -> ok only when fill < clear (depth*100 < clear*capacity);
 *   full -> high when no longer full but fill >= clear.
 * Between clear and warn a raised listener stays raised.
 *
 * What the user was told (the "reported" state) follows st through a token
 * bucket: a change of st is reported (HIGH, FULL or CLEARED) while the
 * listener has a token; without one it is folded, and on the first poll with
 * a token the state the listener is then in is reported if it differs from
 * the reported one. full -> high is never reported: the reported state just
 * becomes high, silently, so that a refill is reported as FULL again.
 *
 * Reminders repeat the reported high/full state every repeat_usec after the
 * last message about the state; they cost no token, and are held back while
 * a folded change is pending (it is reported within POLICY_TOKEN_USEC).
 *
 * The table of slots and records is policy-table.c; the namespaces of a poll
 * (sysctls, kept, dropped, first poll) are kept here in a small array. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy-table.h"
#include "policy.h"
#include "util.h"

#define OBSERVE_LAG 8

/* Begin times of the last GEN_RING polls (by gen), so that a listener kept
 * through polls that failed to dump its namespace still knows when it was
 * last seen. A power of two, so that it divides the 2^16 gens. */
#define GEN_RING 16

/* A namespace the policy has heard of. */
typedef struct NsState {
        uint64_t netns;
        int64_t somaxconn;            /* -1 unknown */
        int8_t abort_on_overflow;     /* -1 unknown */
        bool polled;                  /* had a complete poll: new listeners are new */
        bool declared, kept, dropped; /* this poll */
} NsState;

typedef struct Observation {
        Listener l;
        const Watch *w;
} Observation;

struct Policy {
        Table t;

        /* The poll in progress. */
        const Config *config;
        uint64_t now;
        uint64_t begin_usec;      /* the full poll in progress, or the last one */
        uint64_t prev_begin_usec; /* the full poll before (completed or aborted) */
        uint64_t prev_now_usec;   /* a partial poll: the poll (of either kind) before */
        bool partial;             /* policy_begin_partial(): nothing goes, nothing new */
        uint64_t end_usec;        /* the last completed poll */
        bool reconfigured;
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
        Observation lag[OBSERVE_LAG];
        unsigned lag_head, lag_n;
        EventList *lag_out;

        uint64_t gen_usec[GEN_RING];

        NsState *ns;
        size_t n_ns, ns_cap;
        size_t cur; /* index into ns of the namespace being observed */
};

static ListenState classify_from(ListenState st, const Listener *l, const Watch *w) {
        return levels_step(st, l, w->warn, w->clear);
}

static ListenState classify_syn(ListenState st, const Listener *l, const Watch *w) {
        return levels_step_syn(st, l, w->warn, w->clear);
}

int policy_new(Policy **ret) {
        Policy *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

Policy *policy_free(Policy *p) {
        if (!p)
                return NULL;
        table_done(&p->t);
        free(p->ns);
        free(p);
        return NULL;
}

size_t policy_n_raised(const Policy *p) {
        return p->n_raised;
}

size_t policy_n_watched(const Policy *p) {
        return p->n_watched;
}

size_t policy_memory_bytes(const Policy *p) {
        return sizeof(*p) + table_memory_bytes(&p->t) + p->ns_cap * sizeof(NsState);
}

/* ---- namespaces ------------------------------------------------------ */

static NsState *ns_find(Policy *p, uint64_t netns) {
        if (p->cur < p->n_ns && p->ns[p->cur].netns == netns)
                return &p->ns[p->cur];
        for (size_t i = 0; i < p->n_ns; i++)
                if (p->ns[i].netns == netns) {
                        p->cur = i;
                        return &p->ns[i];
                }
        return NULL;
}

/* The namespace's state, made if new; NULL on ENOMEM (counted). */
static NsState *ns_get(Policy *p, uint64_t netns) {
        NsState *n = ns_find(p, netns);

        if (n)
                return n;
        if (GROW(&p->ns, &p->ns_cap, p->n_ns + 1, 4) < 0) {
                p->poll_lost++;
                return NULL;
        }
        p->cur = p->n_ns++;
        n = &p->ns[p->cur];
        *n = (NsState){ .netns = netns, .somaxconn = -1, .abort_on_overflow = -1 };
        return n;
}

/* The drops of a listener seen for the first time: all since it was
 * created, unless it may have existed unseen (its namespace's first poll,
 * or a new configuration selecting it). */
static bool ns_new_is_new(const Policy *p, const NsState *n) {
        return n && n->polled && !p->reconfigured;
}

/* ---- events ------------------------------------------------------------ */

static Event *emit(Policy *p, EventList *out, EventKind kind, const Listener *l, const char *name, const Slot *s) {
        const NsState *n = ns_find(p, l->netns);
        Event *e = event_list_push(out);

        if (!e) {
                p->poll_lost++;
                return NULL;
        }
        p->poll_events++;
        e->kind = kind;
        e->listener = *l;
        if (name)
                snprintf(e->name, sizeof(e->name), "%s", name);
        e->fill_pct = listener_fill_pct(l);
        e->somaxconn = n ? n->somaxconn : -1;
        e->abort_on_overflow = n ? n->abort_on_overflow : -1;
        e->clamped = e->somaxconn >= 0 && (int64_t) l->backlog == e->somaxconn && s &&
                     (int64_t) s->somaxconn == e->somaxconn;
        return e;
}

/* The drops summed over the period that ends at end. */
static void emit_drops(Policy *p, EventList *out, const Active *a, const Slot *s, uint64_t sum, uint64_t period,
                       uint64_t end) {
        Event *e = emit(p, out, EVENT_DROPS, &a->l, a->name, s);

        if (e) {
                e->drops = sum;
                e->period_usec = period;
                e->end_usec = end;
        }
}

static EventKind state_event_kind(ListenState s) {
        return s == STATE_FULL ? EVENT_FULL : s == STATE_HIGH ? EVENT_HIGH : EVENT_CLEARED;
}

void policy_earn_tokens(uint8_t *tokens, uint64_t *token_usec, uint64_t now) {
        uint64_t earned;

        if (*tokens >= POLICY_BURST) {
                *token_usec = now;
                return;
        }
        earned = elapsed(now, *token_usec) / POLICY_TOKEN_USEC;
        if (earned == 0)
                return;
        if (earned >= (uint64_t) (POLICY_BURST - *tokens)) {
                *tokens = POLICY_BURST;
                *token_usec = now;
        } else {
                *tokens += (uint8_t) earned;
                *token_usec += earned * POLICY_TOKEN_USEC;
        }
}

/* Nothing in the record that a fresh one would not say again. */
static bool active_idle(const Active *a, uint64_t now) {
        return a->st == STATE_OK && a->syn_reported == STATE_OK && a->reported == STATE_OK &&
               a->tokens >= POLICY_BURST && rate_idle(&a->drops_rate, now);
}

/* SYN queues are counted on their own cadence, which bounds their
 * messages: one state change per listener per count. A full queue that
 * drains below full but stays at or above clear becomes high silently, as
 * for the accept queue. */
static void syn_update(Policy *p, Slot *s, Active *a, const Listener *l, const Watch *w, EventList *out) {
        ListenState st = classify_syn((ListenState) s->syn, l, w);

        s->syn = (uint8_t) st;
        if (st == a->syn_reported || (st == STATE_HIGH && a->syn_reported == STATE_FULL))
                return;
        emit(p, out,
             st == STATE_FULL   ? EVENT_SYN_FULL
             : st == STATE_HIGH ? EVENT_SYN_HIGH
                                : EVENT_SYN_CLEARED,
             l, a->name, s);
        a->syn_reported = (uint8_t) st;
}

/* A listener of an earlier poll that is no longer watched: report drops not
 * reported yet, then GONE if the user was told it is raised. */
static void active_gone(Policy *p, Active *a, const Slot *s, GoneReason why, EventList *out) {
        if (a->drops_rate.pending > 0)
                emit_drops(p, out, a, s, a->drops_rate.pending, elapsed(a->seen_usec, a->drops_rate.pending_from),
                           a->seen_usec);
        if (a->reported != STATE_OK || a->syn_reported != STATE_OK) {
                Event *e = emit(p, out, EVENT_GONE, &a->l, a->name, s);

                if (e)
                        e->gone = why;
        }
}

static void active_update(Policy *p, Active *a, const Slot *s, const Listener *l, const Watch *w, uint64_t increase,
                          EventList *out) {
        uint64_t now = p->now, prev = a->seen_usec, sum, period;
        bool said = false;

        a->l = *l;
        a->seen_usec = now;
        snprintf(a->name, sizeof(a->name), "%s", w->name ? w->name : "");
        a->st = classify_from(a->st, l, w);

        if (a->reported == STATE_FULL && a->st == STATE_HIGH)
                a->reported = STATE_HIGH; /* silently, see the top */

        policy_earn_tokens(&a->tokens, &a->token_usec, now);
        if (a->st != a->reported && a->tokens > 0) {
                a->tokens--;
                a->reported = a->st;
                a->msg_usec = now;
                emit(p, out, state_event_kind(a->st), l, a->name, s);
                said = true;
        }

        if (!said && a->reported != STATE_OK && a->st == a->reported && p->config->repeat_usec > 0 &&
            elapsed(now, a->msg_usec) >= p->config->repeat_usec) {
                Event *e = emit(p, out, state_event_kind(a->reported), l, a->name, s);

                a->msg_usec = now;
                if (e)
                        e->reminder = true;
        }

        if (rate_step(&a->drops_rate, increase, prev, now, &sum, &period))
                emit_drops(p, out, a, s, sum, period, now);
}

/* ---- a poll ------------------------------------------------------------ */

void policy_begin(Policy *p, const Config *c, uint64_t now_usec, bool reconfigured) {
        assert(p->lag_n == 0);
        p->config = c;
        p->reconfigured = reconfigured;
        p->partial = false;
        p->prev_begin_usec = p->begin_usec;
        p->begin_usec = now_usec;
        p->now = now_usec;
        if (++p->gen == 0) {
                /* Wrapped: nothing may look seen in the new poll, nor
                 * find its last sighting in gen_usec[]. */
                for (size_t i = 0; i < p->t.cap; i++) {
                        p->t.slots[i].gen = 0;
                        p->t.slots[i].flags &= (uint8_t) ~SLOT_KEPT;
                }
                p->gen = 1;
        }
        p->gen_usec[p->gen % GEN_RING] = now_usec;
        for (size_t i = 0; i < p->n_ns; i++)
                p->ns[i].declared = p->ns[i].kept = p->ns[i].dropped = false;
        p->n_seen = 0;
        p->poll_raised = 0;
        p->poll_watched = 0;
        p->poll_events = 0;
        p->poll_lost = 0;
}

static int lag_drain(Policy *p, unsigned keep);

void policy_netns(Policy *p, uint64_t netns, const NetstatSysctls *sysctls) {
        NsState *n;

        /* Waiting observations are decided with their own namespace's. */
        (void) lag_drain(p, 0);
        n = ns_get(p, netns);
        if (!n)
                return;
        n->declared = true;
        n->somaxconn = sysctls && sysctls->present[SYSCTL_SOMAXCONN] ? sysctls->value[SYSCTL_SOMAXCONN] : -1;
        n->abort_on_overflow = sysctls && sysctls->present[SYSCTL_TCP_ABORT_ON_OVERFLOW]
                                       ? (int8_t) (sysctls->value[SYSCTL_TCP_ABORT_ON_OVERFLOW] != 0)
                                       : -1;
}

void policy_keep_netns(Policy *p, uint64_t netns) {
        NsState *n = ns_get(p, netns);

        if (n)
                n->kept = true;
}

void policy_drop_netns(Policy *p, uint64_t netns) {
        NsState *n = ns_get(p, netns);

        if (n)
                n->dropped = true;
}

/* A tracked listener the configuration no longer selects. */
static void observe_unwatched(Policy *p, const Listener *l, EventList *out) {
        size_t i;
        Slot *s;

        if (!table_find(&p->t, l->netns, l->cookie, &i))
                return;
        s = &p->t.slots[i];
        if (s->active) {
                Active *a = table_active(&p->t, s);

                a->l = *l;
                active_gone(p, a, s, GONE_UNWATCHED, out);
                table_active_release(&p->t, s);
        }
        table_delete(&p->t, i);
}

static int observe_now(Policy *p, const Observation *o, EventList *out) {
        const Listener *l = &o->l;
        const Watch *w = o->w;
        NsState *n = ns_find(p, l->netns);
        size_t i, lost = p->poll_lost;
        uint64_t increase = 0, prev;
        Slot *s;
        Active *a;

        if (table_find(&p->t, l->netns, l->cookie, &i)) {
                s = &p->t.slots[i];
                if (p->partial)
                        prev = p->prev_now_usec; /* read by every poll since the full one, as a rule */
                else if (s->gen == p->gen)
                        return 0; /* a dump is not a snapshot */
                else if (s->gen == (uint16_t) (p->gen - 1))
                        prev = p->prev_begin_usec;
                else if ((s->flags & SLOT_KEPT) && (uint16_t) (p->gen - s->gen) < GEN_RING)
                        prev = p->gen_usec[s->gen % GEN_RING];
                else
                        prev = p->end_usec;
                if (!p->partial)
                        s->flags &= (uint8_t) ~SLOT_KEPT;
                /* 32 bits that wrap: the difference modulo 2^32 is exact for
                 * one socket's life (a cookie is never reused). */
                if (l->has_drops && (s->flags & SLOT_DROPS_KNOWN))
                        increase = (uint32_t) (l->drops - s->drops);
        } else {
                /* Listeners are found by full polls; a partial one only
                 * reads what they found. */
                if (p->partial)
                        return 0;
                if (table_insert(&p->t, l->netns, l->cookie, &i) < 0) {
                        p->poll_lost++;
                        return -ENOMEM;
                }
                s = &p->t.slots[i];
                prev = p->prev_begin_usec;
                /* It was not there at the previous poll: whatever its
                 * counter holds was dropped since. */
                if (l->has_drops && ns_new_is_new(p, n))
                        increase = l->drops;
        }
        if (s->somaxconn == UINT32_MAX && n && n->somaxconn >= 0)
                s->somaxconn = n->somaxconn > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t) n->somaxconn;

        if (!s->active && (increase > 0 || classify_from(STATE_OK, l, w) != STATE_OK ||
                           (l->has_syn && classify_syn(STATE_OK, l, w) != STATE_OK))) {
                if (table_active_alloc(&p->t, s) < 0) {
                        /* Forget it: the next poll sees it as new. */
                        table_delete(&p->t, i);
                        p->poll_lost++;
                        return -ENOMEM;
                }
                /* What an ok listener with all its tokens is. */
                *table_active(&p->t, s) = (Active){
                        .seen_usec = prev,
                        .token_usec = p->now,
                        .msg_usec = p->now,
                        .st = STATE_OK,
                        .reported = STATE_OK,
                        .tokens = POLICY_BURST,
                };
        }

        if (!p->partial) {
                s->gen = p->gen;
                p->n_seen++;
                p->poll_watched++;
        }
        if (l->has_drops) {
                s->drops = l->drops;
                s->flags |= SLOT_DROPS_KNOWN;
        } else {
                s->drops = 0;
                s->flags &= (uint8_t) ~SLOT_DROPS_KNOWN;
        }

        a = table_active(&p->t, s);
        if (a) {
                active_update(p, a, s, l, w, increase, out);
                if (l->has_syn)
                        syn_update(p, s, a, l, w, out);
                if (a->st != STATE_OK && !p->partial)
                        p->poll_raised++;
                if (active_idle(a, p->now))
                        table_active_release(&p->t, s);
        }
        return p->poll_lost > lost ? -ENOMEM : 0;
}

/* Decides the waiting observations, oldest first, until at most keep wait. */
static int lag_drain(Policy *p, unsigned keep) {
        int r = 0;

        while (p->lag_n > keep) {
                if (observe_now(p, &p->lag[p->lag_head], p->lag_out) < 0)
                        r = -ENOMEM;
                p->lag_head = (p->lag_head + 1) % OBSERVE_LAG;
                p->lag_n--;
        }
        return r;
}

int policy_observe(Policy *p, const Listener *l, const Watch *w, EventList *out) {
        Observation *o;

        assert(p->config);
        if (!w) {
                /* Not watched: costs nothing, unless a new configuration
                 * stopped watching a listener the table tracks. */
                if (p->reconfigured && p->t.n_used > 0) {
                        (void) lag_drain(p, 0);
                        observe_unwatched(p, l, out);
                }
                return 0;
        }
        table_prefetch(&p->t, l->netns, l->cookie);
        p->lag_out = out;
        o = &p->lag[(p->lag_head + p->lag_n) % OBSERVE_LAG];
        o->l = *l;
        o->w = w;
        p->lag_n++;
        return lag_drain(p, OBSERVE_LAG - 1);
}

/* Every slot not seen in this poll is gone, unless its namespace is kept.
 * Starts right after an empty slot (there is one: the load is below 1), so
 * that no cluster wraps past the start and backward shifts only move entries
 * into places not passed yet, or into the one being looked at, which is
 * looked at again. A kept slot moves, if at all, only into that one, so it is
 * counted once. */
static void sweep(Policy *p, EventList *out) {
        Table *t = &p->t;
        size_t mask = t->cap - 1, start = 0;

        while (t->slots[start].flags & SLOT_USED)
                start++;
        for (size_t k = 1; k <= t->cap; k++) {
                size_t i = (start + k) & mask;
                Slot *s = &t->slots[i];

                while ((s->flags & SLOT_USED) && s->gen != p->gen) {
                        const NsState *n = ns_find(p, s->netns);

                        if (n && n->kept && !n->dropped) {
                                /* As if seen: its state stays, and it counts
                                 * in policy_n_watched()/policy_n_raised(). */
                                s->flags |= SLOT_KEPT;
                                p->poll_watched++;
                                if (s->active && table_active(t, s)->st != STATE_OK)
                                        p->poll_raised++;
                                break;
                        }
                        if (s->active) {
                                active_gone(p, table_active(t, s), s, n && n->dropped ? GONE_NETNS : GONE_CLOSED, out);
                                table_active_release(t, s);
                        }
                        table_delete(t, i);
                }
        }
}

int policy_end(Policy *p, EventList *out) {
        size_t w = 0;

        (void) lag_drain(p, 0); /* a loss is counted in poll_lost */
        if (p->n_seen < p->t.n_used)
                sweep(p, out);
        /* Dropped namespaces are forgotten; the others had a poll. */
        for (size_t i = 0; i < p->n_ns; i++) {
                NsState *n = &p->ns[i];

                if (n->dropped)
                        continue;
                if (n->declared && !n->kept)
                        n->polled = true;
                p->ns[w++] = *n;
        }
        p->n_ns = w;
        p->cur = 0;
        p->end_usec = p->now;
        p->n_raised = p->poll_raised;
        p->n_watched = p->poll_watched;
        p->config = NULL;
        return p->poll_lost > 0 ? -ENOMEM : p->poll_events;
}

void policy_begin_partial(Policy *p, const Config *c, uint64_t now_usec) {
        assert(p->lag_n == 0);
        p->config = c;
        p->reconfigured = false;
        p->partial = true;
        p->prev_now_usec = p->now;
        p->now = now_usec;
        p->poll_events = 0;
        p->poll_lost = 0;
}

int policy_end_partial(Policy *p, EventList *out) {
        (void) lag_drain(p, 0); /* a loss is counted in poll_lost */
        p->partial = false;
        p->config = NULL;
        return p->poll_lost > 0 ? -ENOMEM : p->poll_events;
}

void policy_abort(Policy *p) {
        /* What was seen before the failure is real: decide it. */
        (void) lag_drain(p, 0);
        /* The marks of this poll's gen are simply never compared again: the
         * next policy_begin() moves on to a new one. */
        p->n_seen = 0;
        p->config = NULL;
}

int policy_flush(Policy *p, EventList *out) {
        size_t before = out->n;

        for (size_t i = 0; i < p->t.cap; i++) {
                const Slot *s = &p->t.slots[i];
                Active *a;

                if (!(s->flags & SLOT_USED) || !s->active)
                        continue;
                a = table_active(&p->t, s);
                if (a->drops_rate.pending == 0)
                        continue;
                emit_drops(p, out, a, s, a->drops_rate.pending, elapsed(a->seen_usec, a->drops_rate.pending_from),
                           a->seen_usec);
                a->drops_rate.pending = 0;
        }
        return (int) (out->n - before);
}

bool policy_retry(Policy *p, const Event *e) {
        size_t i;
        Slot *s;
        Active *a;

        if (e->kind == EVENT_GONE || e->kind == EVENT_COUNTER ||
            !table_find(&p->t, e->listener.netns, e->listener.cookie, &i))
                return false;
        s = &p->t.slots[i];
        a = table_active(&p->t, s);
        if (!a)
                return false;
        switch (e->kind) {
        case EVENT_HIGH:
        case EVENT_FULL:
        case EVENT_CLEARED:
                /* Told nothing: the state differs from what was told, and
                 * the token spent on it comes back. */
                a->reported = e->kind == EVENT_CLEARED ? STATE_HIGH : STATE_OK;
                if (!e->reminder && a->tokens < POLICY_BURST)
                        a->tokens++;
                if (e->reminder)
                        a->msg_usec = 0;
                break;
        case EVENT_DROPS:
                if (a->drops_rate.pending == 0)
                        a->drops_rate.pending_from = p->now - e->period_usec;
                a->drops_rate.pending += e->drops;
                a->drops_rate.reported = false; /* report at the next poll */
                break;
        case EVENT_SYN_HIGH:
        case EVENT_SYN_FULL:
        case EVENT_SYN_CLEARED:
                a->syn_reported = e->kind == EVENT_SYN_CLEARED ? STATE_HIGH : STATE_OK;
                s->syn = (uint8_t) STATE_OK;
                break;
        default:
                return false;
        }
        return true;
}

int policy_step(Policy *p, const Config *c, const Snapshot *s, bool reconfigured, EventList *out) {
        policy_begin(p, c, s->time_usec, reconfigured);
        if (!s->no_host)
                policy_netns(p, 0, &s->sysctls);
        for (size_t i = 0; i < s->n_netns; i++)
                policy_netns(p, s->netns[i].netns, &s->netns[i].sysctls);
        for (size_t i = 0; i < s->listeners.n; i++) {
                const Listener *l = &s->listeners.items[i];

                (void) policy_observe(p, l, config_match(c, l, NULL, snapshot_netns_name(s, l->netns)), out);
        }
        return policy_end(p, out);
}
