/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"

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
 * Memory: every watched listener has a compact Slot in an open-addressing
 * hash table keyed by (netns, cookie) (linear probing, backward-shift
 * deletion, so no tombstones). Only a listener with history (raised, a
 * change not reported yet, tokens spent, drops pending or reported within
 * POLICY_DROPS_USEC) also holds an Active record from a pool; one that is
 * ok, quiet and has all its tokens is exactly what a new Active record
 * would describe, so the record goes back to the pool's free list.
 *
 * Host counters, per network namespace, and the namespaces kept through a
 * failed dump are in policy-counters.c. */

struct Active {
        Listener l;         /* as last seen, for GONE */
        uint64_t seen_usec; /* poll that last saw it */
        uint64_t token_usec; /* tokens are earned from here on */
        uint64_t msg_usec;   /* last message about the state (reminders) */
        Rate drops_rate;
        uint32_t next_free; /* on the free list: 1 + index of the next, 0 = end */
        uint8_t st;         /* ListenState, classified, with hysteresis */
        uint8_t reported;   /* ListenState the last state message said */
        uint8_t tokens;
        uint8_t syn_reported; /* ListenState the last SYN message said */
};

enum {
        SLOT_USED = 1 << 0,
        SLOT_DROPS_KNOWN = 1 << 1,
        SLOT_KEPT = 1 << 2, /* not seen, kept by policy_keep_netns() */
};

struct Slot {
        uint64_t netns;
        uint64_t cookie;
        uint32_t drops;  /* baseline, valid with SLOT_DROPS_KNOWN */
        uint32_t active; /* 1 + index into the pool, 0 = none */
        uint16_t gen;    /* poll that last saw it */
        uint8_t flags;
        uint8_t syn;     /* ListenState of the SYN queue, with hysteresis */
};

#define TABLE_MIN 64
/* Load at most 7/10: linear probing stays short with a mixing hash. */
#define TABLE_FULL(n, cap) ((n) * 10 > (cap) * 7)

static const char *const listen_state_names[] = {
        [STATE_OK] = "ok",
        [STATE_HIGH] = "high",
        [STATE_FULL] = "full",
};

const char *listen_state_name(ListenState s) {
        if ((unsigned) s >= ELEMENTSOF(listen_state_names))
                return NULL;
        return listen_state_names[s];
}

static const char *const event_kind_names[_EVENT_KIND_MAX] = {
        [EVENT_HIGH] = "high",
        [EVENT_FULL] = "full",
        [EVENT_CLEARED] = "cleared",
        [EVENT_DROPS] = "drops",
        [EVENT_GONE] = "gone",
        [EVENT_COUNTER] = "counter",
        [EVENT_SYN_HIGH] = "syn_high",
        [EVENT_SYN_FULL] = "syn_full",
        [EVENT_SYN_CLEARED] = "syn_cleared",
};

const char *event_kind_name(EventKind k) {
        if ((unsigned) k >= _EVENT_KIND_MAX)
                return NULL;
        return event_kind_names[k];
}

static bool fill_at_least(const Listener *l, unsigned pct) {
        return (uint64_t) l->depth * 100 >= (uint64_t) pct * listener_capacity(l);
}

ListenState policy_classify(const Listener *l, unsigned warn) {
        if (listener_is_full(l))
                return STATE_FULL;
        if (fill_at_least(l, warn))
                return STATE_HIGH;
        return STATE_OK;
}

static ListenState classify_from(ListenState st, const Listener *l, const Watch *w) {
        if (listener_is_full(l))
                return STATE_FULL;
        if (st == STATE_OK)
                return fill_at_least(l, w->warn) ? STATE_HIGH : STATE_OK;
        /* raised: stays raised until fill < clear */
        return fill_at_least(l, w->clear) ? STATE_HIGH : STATE_OK;
}

/* The same levels and hysteresis for the SYN queue, against the same
 * capacity (the kernel compares the SYN queue with the same limit). */
static ListenState classify_syn(ListenState st, const Listener *l, const Watch *w) {
        uint64_t cap = listener_capacity(l), pct = st == STATE_OK ? w->warn : w->clear;

        if (l->syn_depth >= cap)
                return STATE_FULL;
        return (uint64_t) l->syn_depth * 100 >= pct * cap ? STATE_HIGH : STATE_OK;
}

void event_list_clear(EventList *l) {
        l->n = 0;
}

void event_list_done(EventList *l) {
        free(l->items);
        *l = (EventList) {0};
}

Event *event_list_push(EventList *l) {
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 16;
                Event *items = realloc(l->items, cap * sizeof(*items));

                if (!items)
                        return NULL;
                l->items = items;
                l->cap = cap;
        }
        memset(&l->items[l->n], 0, sizeof(l->items[0]));
        return &l->items[l->n++];
}

int policy_new(Policy **ret) {
        Policy *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->somaxconn = -1;
        p->abort_on_overflow = -1;
        *ret = p;
        return 0;
}

Policy *policy_free(Policy *p) {
        if (!p)
                return NULL;
        free(p->slots);
        free(p->pool);
        free(p->ns);
        free(p->keep);
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
        return sizeof(*p) + p->cap * sizeof(Slot) + (size_t) p->pool_cap * sizeof(Active) +
               policy_ns_memory_bytes(p);
}

/* Cookies are small sequential numbers and netns inodes cluster too: mix
 * both through murmur3's finaliser so that the low bits spread. */
static size_t key_hash(uint64_t netns, uint64_t cookie) {
        uint64_t x = cookie ^ (netns * UINT64_C(0x9e3779b97f4a7c15));

        x ^= x >> 33;
        x *= UINT64_C(0xff51afd7ed558ccd);
        x ^= x >> 33;
        x *= UINT64_C(0xc4ceb9fe1a85ec53);
        x ^= x >> 33;
        return (size_t) x;
}

/* Returns true with the slot's index, or false with the empty slot where the
 * key would go. p->cap must be > 0. */
static bool table_find(const Policy *p, uint64_t netns, uint64_t cookie, size_t *ret) {
        size_t mask = p->cap - 1, i = key_hash(netns, cookie) & mask;

        for (;;) {
                const Slot *s = &p->slots[i];

                if (!(s->flags & SLOT_USED)) {
                        *ret = i;
                        return false;
                }
                if (s->cookie == cookie && s->netns == netns) {
                        *ret = i;
                        return true;
                }
                i = (i + 1) & mask;
        }
}

static int table_resize(Policy *p, size_t cap) {
        Slot *old = p->slots, *slots;
        size_t old_cap = p->cap;

        if (cap > SIZE_MAX / sizeof(*slots))
                return -ENOMEM;
        slots = calloc(cap, sizeof(*slots));
        if (!slots)
                return -ENOMEM;
        p->slots = slots;
        p->cap = cap;
        for (size_t i = 0; i < old_cap; i++) {
                size_t j;

                if (!(old[i].flags & SLOT_USED))
                        continue;
                (void) table_find(p, old[i].netns, old[i].cookie, &j);
                slots[j] = old[i];
        }
        free(old);
        return 0;
}

/* Backward-shift deletion: later members of the cluster that may live at i
 * move up, so that lookups never need tombstones. */
static void table_delete(Policy *p, size_t i) {
        size_t mask = p->cap - 1, j = i;

        for (;;) {
                size_t home;

                j = (j + 1) & mask;
                if (!(p->slots[j].flags & SLOT_USED))
                        break;
                home = key_hash(p->slots[j].netns, p->slots[j].cookie) & mask;
                /* j may move to i when i lies in [home, j) cyclically */
                if (((j - home) & mask) >= ((j - i) & mask)) {
                        p->slots[i] = p->slots[j];
                        i = j;
                }
        }
        p->slots[i] = (Slot) {0};
        p->n_used--;
}

static int active_alloc(Policy *p, uint32_t *ret) {
        uint32_t i;

        if (p->free_head > 0) {
                i = p->free_head - 1;
                p->free_head = p->pool[i].next_free;
        } else {
                if (p->pool_n == p->pool_cap) {
                        size_t cap = p->pool_cap ? (size_t) p->pool_cap * 2 : 16;
                        Active *pool;

                        if (cap >= UINT32_MAX || cap > SIZE_MAX / sizeof(*pool))
                                return -ENOMEM;
                        pool = realloc(p->pool, (size_t) cap * sizeof(*pool));
                        if (!pool)
                                return -ENOMEM;
                        p->pool = pool;
                        p->pool_cap = (uint32_t) cap;
                }
                i = p->pool_n++;
        }
        *ret = i;
        return 0;
}

static void active_release(Policy *p, Slot *s) {
        uint32_t i = s->active - 1;

        p->pool[i].next_free = p->free_head;
        p->free_head = i + 1;
        s->active = 0;
}

static int64_t sysctls_somaxconn(const NetstatSysctls *s) {
        return s && s->present[SYSCTL_SOMAXCONN] ? s->value[SYSCTL_SOMAXCONN] : -1;
}

static int8_t sysctls_abort_on_overflow(const NetstatSysctls *s) {
        return s && s->present[SYSCTL_TCP_ABORT_ON_OVERFLOW] ?
                       (int8_t) (s->value[SYSCTL_TCP_ABORT_ON_OVERFLOW] != 0) :
                       -1;
}

/* policy_step() without a lookup: the snapshot knows the namespaces. */
static const NetstatSysctls *snapshot_sysctls(const Snapshot *s, uint64_t netns) {
        for (size_t i = 0; i < s->n_netns; i++)
                if (s->netns[i].netns == netns)
                        return &s->netns[i].sysctls;
        return NULL;
}

/* The sysctls an event of namespace netns is stamped with: asked when an
 * event is made (rare), not per listener observed. Outside netns 0, a
 * source that knows the namespaces (the lookup, else policy_step()'s
 * snapshot) answers alone: when it does not know one, its sysctls are
 * unknown, as the host's would judge clamped against the wrong somaxconn.
 * Only a caller with no such source gets policy_begin()'s. */
void policy_event_set_sysctls(const Policy *p, Event *e, uint64_t netns) {
        const NetstatSysctls *s;

        if (netns == 0 || (!p->lookup.sysctls && !p->snap)) {
                e->somaxconn = p->somaxconn;
                e->abort_on_overflow = p->abort_on_overflow;
                return;
        }
        s = p->lookup.sysctls ? p->lookup.sysctls(p->lookup.userdata, netns) : snapshot_sysctls(p->snap, netns);
        e->somaxconn = sysctls_somaxconn(s);
        e->abort_on_overflow = sysctls_abort_on_overflow(s);
}

static Event *emit(Policy *p, EventList *out, EventKind kind, const Listener *l, const char *name) {
        Event *e = event_list_push(out);

        if (!e) {
                p->poll_lost++;
                return NULL;
        }
        p->poll_events++;
        e->kind = kind;
        e->listener = *l;
        e->name = name;
        e->fill_pct = listener_fill_pct(l);
        policy_event_set_sysctls(p, e, l->netns);
        e->clamped = e->somaxconn >= 0 && (int64_t) l->backlog == e->somaxconn;
        return e;
}

/* config_match() with the names its entries select by, asked only when
 * some entry needs them. */
static const Watch *match(const Policy *p, const Listener *l) {
        const char *unit = NULL, *netns = NULL;

        if (p->wants_unit && p->lookup.unit)
                unit = p->lookup.unit(p->lookup.userdata, l->cgroup_id);
        if (p->wants_netns) {
                if (p->lookup.netns_name)
                        netns = p->lookup.netns_name(p->lookup.userdata, l->netns);
                else if (p->snap)
                        netns = snapshot_netns_name(p->snap, l->netns);
                else if (l->netns == 0)
                        netns = NETNS_HOST_NAME;
        }
        return config_match(p->config, l, unit, netns);
}

static void set_config(Policy *p, const Config *c) {
        p->config = c;
        p->wants_unit = config_wants_unit(c);
        p->wants_netns = config_wants_netns(c);
}

void policy_set_lookup(Policy *p, const PolicyLookup *lookup) {
        p->lookup = lookup ? *lookup : (PolicyLookup) { 0 };
}

static EventKind state_event_kind(ListenState s) {
        return s == STATE_FULL ? EVENT_FULL : s == STATE_HIGH ? EVENT_HIGH : EVENT_CLEARED;
}

static void earn_tokens(Active *a, uint64_t now) {
        uint64_t earned;

        if (a->tokens >= POLICY_BURST) {
                a->token_usec = now;
                return;
        }
        earned = elapsed(now, a->token_usec) / POLICY_TOKEN_USEC;
        if (earned == 0)
                return;
        if (earned >= (uint64_t) (POLICY_BURST - a->tokens)) {
                a->tokens = POLICY_BURST;
                a->token_usec = now;
        } else {
                a->tokens += (uint8_t) earned;
                a->token_usec += earned * POLICY_TOKEN_USEC;
        }
}

/* Nothing in the record that a fresh one would not say again. */
static bool active_idle(const Active *a, uint64_t now) {
        return a->st == STATE_OK && a->syn_reported == STATE_OK && a->reported == STATE_OK &&
               a->tokens >= POLICY_BURST && a->drops_rate.pending == 0 &&
               (!a->drops_rate.reported || elapsed(now, a->drops_rate.last_usec) >= POLICY_DROPS_USEC);
}

/* SYN queues are counted on their own cadence (POLICY documents it), which
 * bounds their messages: one state change per listener per count. A full
 * queue that drains below full but stays at or above clear becomes high
 * silently, as for the accept queue. */
static void syn_update(Policy *p, Slot *s, Active *a, const Listener *l, const Watch *w, EventList *out) {
        ListenState st = classify_syn((ListenState) s->syn, l, w);

        s->syn = (uint8_t) st;
        if (st == a->syn_reported || (st == STATE_HIGH && a->syn_reported == STATE_FULL))
                return;
        emit(p, out, st == STATE_FULL ? EVENT_SYN_FULL : st == STATE_HIGH ? EVENT_SYN_HIGH : EVENT_SYN_CLEARED, l,
             w->name);
        a->syn_reported = (uint8_t) st;
}

/* A listener of an earlier poll that is not watched any more (closed, or
 * no longer selected after a reload): report drops not reported yet, then
 * GONE if the user was told it is raised. */
static void active_gone(Policy *p, const Active *a, EventList *out) {
        const Watch *w = match(p, &a->l);
        const char *name = w ? w->name : NULL;

        if (a->drops_rate.pending > 0) {
                Event *ev = emit(p, out, EVENT_DROPS, &a->l, name);

                if (ev) {
                        ev->drops = a->drops_rate.pending;
                        ev->period_usec = elapsed(a->seen_usec, a->drops_rate.pending_from);
                }
        }
        if (a->reported != STATE_OK || a->syn_reported != STATE_OK)
                emit(p, out, EVENT_GONE, &a->l, name);
}

static void active_update(Policy *p, Active *a, const Listener *l, const Watch *w, uint64_t increase,
                          EventList *out) {
        uint64_t now = p->now, prev = a->seen_usec, sum, period;
        bool said = false;

        a->l = *l;
        a->seen_usec = now;
        a->st = classify_from(a->st, l, w);

        if (a->reported == STATE_FULL && a->st == STATE_HIGH)
                a->reported = STATE_HIGH; /* silently, see the top */

        earn_tokens(a, now);
        if (a->st != a->reported && a->tokens > 0) {
                a->tokens--;
                a->reported = a->st;
                a->msg_usec = now;
                emit(p, out, state_event_kind(a->st), l, w->name);
                said = true;
        }

        if (!said && a->reported != STATE_OK && a->st == a->reported && p->config->repeat_usec > 0 &&
            elapsed(now, a->msg_usec) >= p->config->repeat_usec) {
                Event *ev = emit(p, out, state_event_kind(a->reported), l, w->name);

                a->msg_usec = now;
                if (ev)
                        ev->reminder = true;
        }

        if (rate_step(&a->drops_rate, increase, prev, now, &sum, &period)) {
                Event *ev = emit(p, out, EVENT_DROPS, l, w->name);

                if (ev) {
                        ev->drops = sum;
                        ev->period_usec = period;
                }
        }
}

void policy_begin(Policy *p, const Config *c, uint64_t now_usec, const NetstatSysctls *sysctls) {
        set_config(p, c);
        p->prev_begin_usec = p->now;
        p->now = now_usec;
        p->somaxconn = sysctls_somaxconn(sysctls);
        p->abort_on_overflow = sysctls_abort_on_overflow(sysctls);
        if (++p->gen == 0) {
                /* Wrapped: nothing may look seen in the new poll, nor
                 * find its last sighting in gen_usec[]. */
                for (size_t i = 0; i < p->cap; i++) {
                        p->slots[i].gen = 0;
                        p->slots[i].flags &= (uint8_t) ~SLOT_KEPT;
                }
                p->gen = 1;
        }
        p->gen_usec[p->gen % GEN_RING] = now_usec;
        policy_ns_begin(p);
        p->n_seen = 0;
        p->poll_raised = 0;
        p->poll_watched = 0;
        p->poll_events = 0;
        p->poll_lost = 0;
}

static int observe_now(Policy *p, const Listener *l, const Watch *w, EventList *out) {
        size_t i, lost = p->poll_lost;
        uint64_t increase = 0, prev;
        bool found = false;
        Slot *s;
        Active *a;

        if (!w)
                return 0;

        if (p->cap > 0)
                found = table_find(p, l->netns, l->cookie, &i);
        if (found) {
                s = &p->slots[i];
                if (s->gen == p->gen)
                        return 0; /* a dump is not a snapshot */
                if (s->gen == (uint16_t) (p->gen - 1))
                        prev = p->prev_begin_usec;
                else if ((s->flags & SLOT_KEPT) && (uint16_t) (p->gen - s->gen) < GEN_RING)
                        prev = p->gen_usec[s->gen % GEN_RING];
                else
                        prev = p->end_usec;
                s->flags &= (uint8_t) ~SLOT_KEPT;

                /* The drop counter is 32 bits wide: going backwards is a
                 * wrap or a new socket behind the same key; either way only
                 * a new baseline. */
                if (l->has_drops && (s->flags & SLOT_DROPS_KNOWN) && l->drops > s->drops)
                        increase = l->drops - s->drops;
        } else {
                if (p->cap == 0 || TABLE_FULL(p->n_used + 1, p->cap)) {
                        if (table_resize(p, p->cap ? p->cap * 2 : TABLE_MIN) < 0) {
                                p->poll_lost++;
                                return -ENOMEM;
                        }
                        (void) table_find(p, l->netns, l->cookie, &i);
                }
                s = &p->slots[i];
                *s = (Slot) {
                        .netns = l->netns,
                        .cookie = l->cookie,
                        .flags = SLOT_USED,
                };
                p->n_used++;
                prev = p->now;
        }

        if (!s->active && (increase > 0 || classify_from(STATE_OK, l, w) != STATE_OK ||
                           (l->has_syn && classify_syn(STATE_OK, l, w) != STATE_OK))) {
                uint32_t k;

                if (active_alloc(p, &k) < 0) {
                        /* Forget it: the next poll sees it as new. */
                        table_delete(p, i);
                        p->poll_lost++;
                        return -ENOMEM;
                }
                /* What an ok listener with all its tokens is. */
                p->pool[k] = (Active) {
                        .seen_usec = prev,
                        .token_usec = p->now,
                        .msg_usec = p->now,
                        .st = STATE_OK,
                        .reported = STATE_OK,
                        .tokens = POLICY_BURST,
                };
                s->active = k + 1;
        }

        s->gen = p->gen;
        p->n_seen++;
        p->poll_watched++;
        if (l->has_drops) {
                s->drops = l->drops;
                s->flags |= SLOT_DROPS_KNOWN;
        } else {
                s->drops = 0;
                s->flags &= (uint8_t) ~SLOT_DROPS_KNOWN;
        }

        if (s->active) {
                a = &p->pool[s->active - 1];
                active_update(p, a, l, w, increase, out);
                if (l->has_syn)
                        syn_update(p, s, a, l, w, out);
                if (a->st != STATE_OK)
                        p->poll_raised++;
                if (active_idle(a, p->now))
                        active_release(p, s);
        }

        return p->poll_lost > lost ? -ENOMEM : 0;
}

/* Processes the waiting observations, oldest first. */
int policy_lag_drain(Policy *p, unsigned keep) {
        int r = 0;

        while (p->lag_n > keep) {
                if (observe_now(p, &p->lag[p->lag_head], p->lag_watch[p->lag_head], p->lag_out) < 0)
                        r = -ENOMEM;
                p->lag_head = (p->lag_head + 1) % OBSERVE_LAG;
                p->lag_n--;
        }
        return r;
}

int policy_observe_watched(Policy *p, const Listener *l, const Watch *w, EventList *out) {
        unsigned tail;

        if (!w)
                return 0; /* not watched: costs nothing */
        if (p->cap > 0)
                __builtin_prefetch(&p->slots[key_hash(l->netns, l->cookie) & (p->cap - 1)]);
        p->lag_out = out;
        tail = (p->lag_head + p->lag_n) % OBSERVE_LAG;
        p->lag[tail] = *l;
        p->lag_watch[tail] = w;
        p->lag_n++;
        return policy_lag_drain(p, OBSERVE_LAG - 1);
}

int policy_observe(Policy *p, const Listener *l, EventList *out) {
        return policy_observe_watched(p, l, match(p, l), out);
}

/* Every slot not seen in this poll is gone, unless its namespace is kept.
 * Starts right after an empty slot (there is one: the load is below 1), so
 * that no cluster wraps past the start and backward shifts only move entries
 * into places not passed yet, or into the one being looked at, which is
 * looked at again. A kept slot moves, if at all, only into that one, so it is
 * counted once. */
static void sweep(Policy *p, EventList *out) {
        size_t mask = p->cap - 1, start = 0;
        bool keeping = p->keep_all || p->n_keep > 0;

        while (p->slots[start].flags & SLOT_USED)
                start++;
        for (size_t k = 1; k <= p->cap; k++) {
                size_t i = (start + k) & mask;
                Slot *s = &p->slots[i];

                while ((s->flags & SLOT_USED) && s->gen != p->gen) {
                        if (keeping && policy_ns_kept(p, s->netns)) {
                                /* As if seen: its state stays, and it counts
                                 * in policy_n_watched()/policy_n_raised(). */
                                s->flags |= SLOT_KEPT;
                                p->poll_watched++;
                                if (s->active && p->pool[s->active - 1].st != STATE_OK)
                                        p->poll_raised++;
                                break;
                        }
                        if (s->active) {
                                active_gone(p, &p->pool[s->active - 1], out);
                                active_release(p, s);
                        }
                        table_delete(p, i);
                }
        }
}

int policy_end(Policy *p, const NetstatCounters *counters, EventList *out) {
        (void) policy_lag_drain(p, 0); /* a loss is counted in poll_lost */
        if (p->n_seen < p->n_used)
                sweep(p, out);
        policy_ns_end(p, counters, out);

        p->end_usec = p->now;
        p->n_raised = p->poll_raised;
        p->n_watched = p->poll_watched;
        return p->poll_lost > 0 ? -ENOMEM : p->poll_events;
}

void policy_abort(Policy *p) {
        /* What was seen before the failure is real: decide it. */
        (void) policy_lag_drain(p, 0);
        /* The marks of this poll's gen are simply never compared again: the
         * next policy_begin() moves on to a new one. */
        p->n_seen = 0;
}

int policy_flush(Policy *p, const Config *c, EventList *out) {
        size_t before = out->n;

        set_config(p, c);
        for (size_t i = 0; i < p->cap; i++) {
                const Slot *s = &p->slots[i];
                const Watch *w;
                Active *a;
                Event *ev;

                if (!(s->flags & SLOT_USED) || !s->active)
                        continue;
                a = &p->pool[s->active - 1];
                if (a->drops_rate.pending == 0)
                        continue;
                w = match(p, &a->l);
                ev = emit(p, out, EVENT_DROPS, &a->l, w ? w->name : NULL);
                if (ev) {
                        ev->drops = a->drops_rate.pending;
                        ev->period_usec = elapsed(a->seen_usec, a->drops_rate.pending_from);
                }
                a->drops_rate.pending = 0;
        }
        if (c->counters)
                policy_ns_flush(p, out);
        return (int) (out->n - before);
}

/* Without a lookup (or for the members it leaves NULL), the snapshot names
 * the namespaces and holds their sysctls. */
int policy_step(Policy *p, const Config *c, const Snapshot *s, EventList *out) {
        int r;

        policy_begin(p, c, s->time_usec, &s->sysctls);
        p->snap = s;
        for (size_t i = 0; i < s->listeners.n; i++)
                (void) policy_observe(p, &s->listeners.items[i], out);
        for (size_t i = 0; i < s->n_netns; i++)
                (void) policy_counters(p, s->netns[i].netns,
                                       s->netns[i].have_counters ? &s->netns[i].counters : NULL, out);
        r = policy_end(p, !s->no_host && s->have_counters ? &s->counters : NULL, out);
        p->snap = NULL;
        return r;
}
