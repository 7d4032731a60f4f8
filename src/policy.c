/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

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
 * a folded change is pending (it is reported within POLICY_TOKEN_USEC). */

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

typedef struct Entry {
        Listener l;         /* as last seen; carries the (netns, cookie) key */
        uint64_t seen_usec; /* poll that last saw it */
        ListenState st;       /* classified, with hysteresis */
        ListenState reported; /* what the last state message said */
        unsigned tokens;
        uint64_t token_usec; /* tokens are earned from here on */
        uint64_t msg_usec;   /* last message about the state (reminders) */
        bool drops_known;
        uint32_t drops;
        Rate drops_rate;
} Entry;

/* The host counters that mean a listen queue overflowed. */
static const NetstatCounter watched_counters[] = {
        NETSTAT_LISTEN_OVERFLOWS,
        NETSTAT_LISTEN_DROPS,
        NETSTAT_TCP_REQQ_FULL_DROP,
        NETSTAT_TCP_REQQ_FULL_DO_COOKIES,
};

struct Policy {
        /* Double buffer: step reads entries[cur] and writes entries[!cur],
         * both sorted by (netns, cookie), then swaps. */
        Entry *entries[2];
        size_t cap[2];
        size_t n;
        unsigned cur;
        size_t n_raised;

        uint64_t counters_usec; /* last snapshot with counters */
        uint64_t counter[_NETSTAT_COUNTER_MAX];
        bool counter_known[_NETSTAT_COUNTER_MAX];
        Rate counter_rate[_NETSTAT_COUNTER_MAX];
};

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

static uint64_t elapsed(uint64_t now, uint64_t then) {
        return now > then ? now - then : 0;
}

void event_list_clear(EventList *l) {
        l->n = 0;
}

void event_list_done(EventList *l) {
        free(l->items);
        *l = (EventList) {0};
}

static Event *event_push(EventList *l) {
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
        *ret = p;
        return 0;
}

Policy *policy_free(Policy *p) {
        if (!p)
                return NULL;
        free(p->entries[0]);
        free(p->entries[1]);
        free(p);
        return NULL;
}

size_t policy_n_raised(const Policy *p) {
        return p->n_raised;
}

/* One step of a Rate. prev_usec is the previous poll, which starts the time
 * an increase reported at once covers. Returns true with the sum and its
 * period when a report is due. */
static bool rate_step(Rate *r, uint64_t increase, uint64_t prev_usec, uint64_t now,
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

typedef struct StepCtx {
        const Config *config;
        const Snapshot *snapshot;
        EventList *out;
        int n;   /* events appended */
        int err; /* -ENOMEM once an event could not be appended */
} StepCtx;

static Event *emit(StepCtx *x, EventKind kind, const Listener *l, const char *name) {
        const NetstatSysctls *sys = &x->snapshot->sysctls;
        Event *e = event_push(x->out);

        if (!e) {
                x->err = -ENOMEM;
                return NULL;
        }
        x->n++;
        e->kind = kind;
        e->somaxconn = sys->present[SYSCTL_SOMAXCONN] ? sys->value[SYSCTL_SOMAXCONN] : -1;
        if (l) {
                e->listener = *l;
                e->name = name;
                e->fill_pct = listener_fill_pct(l);
                e->clamped = sys->present[SYSCTL_SOMAXCONN] &&
                             (int64_t) l->backlog == sys->value[SYSCTL_SOMAXCONN];
        }
        return e;
}

static EventKind state_event_kind(ListenState s) {
        return s == STATE_FULL ? EVENT_FULL : s == STATE_HIGH ? EVENT_HIGH : EVENT_CLEARED;
}

static void earn_tokens(Entry *e, uint64_t now) {
        uint64_t earned;

        if (e->tokens >= POLICY_BURST) {
                e->token_usec = now;
                return;
        }
        earned = elapsed(now, e->token_usec) / POLICY_TOKEN_USEC;
        if (earned == 0)
                return;
        if (earned >= POLICY_BURST - e->tokens) {
                e->tokens = POLICY_BURST;
                e->token_usec = now;
        } else {
                e->tokens += (unsigned) earned;
                e->token_usec += earned * POLICY_TOKEN_USEC;
        }
}

/* A listener of the previous poll that is not watched any more (closed, or
 * no longer selected after a reload): report drops not reported yet, then
 * GONE if the user was told it is raised. */
static void entry_gone(StepCtx *x, Entry *e) {
        const Watch *w = config_match(x->config, &e->l);
        const char *name = w ? w->name : NULL;

        if (e->drops_rate.pending > 0) {
                Event *ev = emit(x, EVENT_DROPS, &e->l, name);

                if (ev) {
                        ev->drops = e->drops_rate.pending;
                        ev->period_usec = elapsed(e->seen_usec, e->drops_rate.pending_from);
                }
        }
        if (e->reported != STATE_OK)
                emit(x, EVENT_GONE, &e->l, name);
}

static void entry_new(Entry *e, const Listener *l, uint64_t now) {
        *e = (Entry) {
                .l = *l,
                .seen_usec = now,
                .st = STATE_OK,
                .reported = STATE_OK,
                .tokens = POLICY_BURST,
                .token_usec = now,
                .msg_usec = now,
                .drops_known = l->has_drops,
                .drops = l->drops,
        };
}

static void entry_update(StepCtx *x, Entry *e, const Listener *l, const Watch *w) {
        const Config *c = x->config;
        uint64_t now = x->snapshot->time_usec, prev = e->seen_usec, increase = 0, sum, period;
        bool said = false;

        e->l = *l;
        e->seen_usec = now;
        e->st = classify_from(e->st, l, w);

        if (e->reported == STATE_FULL && e->st == STATE_HIGH)
                e->reported = STATE_HIGH; /* silently, see the top */

        earn_tokens(e, now);
        if (e->st != e->reported && e->tokens > 0) {
                e->tokens--;
                e->reported = e->st;
                e->msg_usec = now;
                emit(x, state_event_kind(e->st), l, w->name);
                said = true;
        }

        if (!said && e->reported != STATE_OK && e->st == e->reported && c->repeat_usec > 0 &&
            elapsed(now, e->msg_usec) >= c->repeat_usec) {
                Event *ev = emit(x, state_event_kind(e->reported), l, w->name);

                e->msg_usec = now;
                if (ev)
                        ev->reminder = true;
        }

        /* The drop counter is 32 bits wide: going backwards is a wrap or a
         * new socket behind the same key; either way only a new baseline. */
        if (l->has_drops) {
                if (e->drops_known && l->drops > e->drops)
                        increase = l->drops - e->drops;
                e->drops = l->drops;
                e->drops_known = true;
        } else
                e->drops_known = false;

        if (rate_step(&e->drops_rate, increase, prev, now, &sum, &period)) {
                Event *ev = emit(x, EVENT_DROPS, l, w->name);

                if (ev) {
                        ev->drops = sum;
                        ev->period_usec = period;
                }
        }
}

static int key_cmp(const Listener *a, const Listener *b) {
        if (a->netns != b->netns)
                return a->netns < b->netns ? -1 : 1;
        if (a->cookie != b->cookie)
                return a->cookie < b->cookie ? -1 : 1;
        return 0;
}

static void counters_step(Policy *p, StepCtx *x) {
        const Snapshot *s = x->snapshot;
        uint64_t now = s->time_usec;

        if (!x->config->counters) {
                /* Start afresh if they are switched on again. */
                memset(p->counter_known, 0, sizeof(p->counter_known));
                memset(p->counter_rate, 0, sizeof(p->counter_rate));
                return;
        }

        for (size_t i = 0; i < ELEMENTSOF(watched_counters); i++) {
                NetstatCounter k = watched_counters[i];
                uint64_t increase = 0, sum, period;

                if (s->have_counters) {
                        if (!s->counters.present[k])
                                p->counter_known[k] = false;
                        else {
                                uint64_t v = s->counters.value[k];

                                /* Backwards: the namespace was recreated. */
                                if (p->counter_known[k] && v > p->counter[k])
                                        increase = v - p->counter[k];
                                p->counter[k] = v;
                                p->counter_known[k] = true;
                        }
                }

                if (rate_step(&p->counter_rate[k], increase, p->counters_usec, now, &sum, &period)) {
                        Event *ev = emit(x, EVENT_COUNTER, NULL, NULL);

                        if (ev) {
                                ev->counter = k;
                                ev->increase = sum;
                                ev->period_usec = period;
                        }
                }
        }

        if (s->have_counters)
                p->counters_usec = now;
}

int policy_step(Policy *p, const Config *c, const Snapshot *s, EventList *out) {
        const ListenerSet *ls = &s->listeners;
        unsigned nxt = !p->cur;
        Entry *old = p->entries[p->cur], *new;
        size_t i = 0, j = 0, n = 0, raised = 0;
        StepCtx x = {
                .config = c,
                .snapshot = s,
                .out = out,
        };

        if (p->cap[nxt] < ls->n) {
                /* Grow geometrically: a population that creeps up by one
                 * listener a poll must not reallocate on every poll. */
                size_t cap = p->cap[nxt] * 2 > ls->n ? p->cap[nxt] * 2 : ls->n;
                Entry *e;

                if (cap > SIZE_MAX / sizeof(*e))
                        return -ENOMEM;
                e = realloc(p->entries[nxt], cap * sizeof(*e));
                if (!e)
                        return -ENOMEM;
                p->entries[nxt] = e;
                p->cap[nxt] = cap;
        }
        new = p->entries[nxt];

        /* Merge-join the previous entries with this poll's listeners: both
         * are sorted by (netns, cookie). */
        while (i < p->n || j < ls->n) {
                int cmp = i == p->n ? 1 : j == ls->n ? -1 : key_cmp(&old[i].l, &ls->items[j]);
                const Watch *w = NULL;

                if (cmp > 0 || cmp == 0)
                        w = config_match(c, &ls->items[j]);

                if (cmp < 0 || (cmp == 0 && !w)) {
                        entry_gone(&x, &old[i]);
                        i++;
                        if (cmp < 0)
                                continue;
                }
                if (!w) {
                        j++;
                        continue;
                }

                if (cmp == 0) {
                        new[n] = old[i++];
                } else
                        entry_new(&new[n], &ls->items[j], s->time_usec);
                entry_update(&x, &new[n], &ls->items[j], w);
                if (new[n].st != STATE_OK)
                        raised++;
                n++;
                j++;
        }

        p->cur = nxt;
        p->n = n;
        p->n_raised = raised;

        counters_step(p, &x);

        return x.err < 0 ? x.err : x.n;
}
