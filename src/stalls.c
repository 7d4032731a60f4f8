/* SPDX-License-Identifier: MIT */
#include "stalls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct StallEntry {
        Listener l; /* as last seen */
        char name[EVENT_NAME_MAX + 1];
        uint64_t stall_usec;
        uint64_t head;  /* the head seen since `since`; 0: not known */
        uint64_t since; /* when that head was first seen */
        size_t tag;     /* the caller's, as of the last poll that observed it */
        bool stalled;   /* EVENT_STALLED said, EVENT_ACCEPTING not yet */
        bool seen;      /* the last poll observed it */
} StallEntry;

/* One sighting of this poll, with what was tracked of it. */
typedef struct Sighting {
        Listener l;
        const Watch *w;
        size_t old; /* its entry in tracked, or SIZE_MAX */
        size_t tag;
        bool head_read; /* l.head is this poll's reading */
        bool queued;    /* the reading found the tracked head still queued */
} Sighting;

struct Stalls {
        uint64_t now;
        StallEntry *tracked; /* sorted by (netns, cookie) */
        size_t n_tracked, cap_tracked;
        StallEntry *next; /* the next poll's tracked, built by stalls_end() */
        size_t cap_next;
        Sighting *seen;
        size_t n_seen, cap_seen;
        uint64_t *kept; /* namespaces whose dump failed */
        size_t n_kept, cap_kept;
        size_t n_stalled;
};

int stalls_new(Stalls **ret) {
        Stalls *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

Stalls *stalls_free(Stalls *s) {
        if (!s)
                return NULL;
        free(s->tracked);
        free(s->next);
        free(s->seen);
        free(s->kept);
        free(s);
        return NULL;
}

void stalls_begin(Stalls *s, uint64_t now_usec) {
        s->now = now_usec;
        s->n_seen = s->n_kept = 0;
}

bool stalls_any_stalled(const Stalls *s) {
        return s->n_stalled > 0;
}

size_t stalls_n_stalled(const Stalls *s) {
        return s->n_stalled;
}

void stalls_each_stalled(const Stalls *s, void (*f)(const Listener *l, size_t tag, uint64_t usec, void *userdata),
                         void *userdata) {
        for (size_t i = 0; i < s->n_tracked; i++) {
                const StallEntry *e = &s->tracked[i];

                if (e->stalled && e->seen)
                        f(&e->l, e->tag, s->now - e->since, userdata);
        }
}

size_t stalls_n_tracked(const Stalls *s) {
        return s->n_tracked;
}

static int key_cmp(uint64_t netns_a, uint64_t cookie_a, uint64_t netns_b, uint64_t cookie_b) {
        if (netns_a != netns_b)
                return netns_a < netns_b ? -1 : 1;
        if (cookie_a != cookie_b)
                return cookie_a < cookie_b ? -1 : 1;
        return 0;
}

static size_t find(const Stalls *s, const Listener *l) {
        size_t lo = 0, hi = s->n_tracked;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = key_cmp(s->tracked[mid].l.netns, s->tracked[mid].l.cookie, l->netns, l->cookie);

                if (c == 0)
                        return mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return SIZE_MAX;
}

int stalls_observe(Stalls *s, const Listener *l, const Watch *w, size_t tag) {
        size_t old;
        Sighting *x;

        if (!w || w->stall_usec == 0)
                return 0;
        old = find(s, l);
        /* An empty queue matters only to a stalled listener: it drained. */
        if (l->depth == 0 && (old == SIZE_MAX || !s->tracked[old].stalled))
                return 0;
        if (GROW(&s->seen, &s->cap_seen, s->n_seen + 1, 16) < 0)
                return -ENOMEM;
        x = &s->seen[s->n_seen++];
        *x = (Sighting){ .l = *l, .w = w, .old = old, .tag = tag, .head_read = l->kind == LISTENER_UNIX };
        if (l->kind != LISTENER_UNIX)
                x->l.head = 0;
        else
                /* The queue's order is exact: the same head, or it moved. */
                x->queued = old != SIZE_MAX && l->head != 0 && l->head == s->tracked[old].head;
        return 0;
}

void stalls_keep_netns(Stalls *s, uint64_t netns) {
        if (GROW(&s->kept, &s->cap_kept, s->n_kept + 1, 4) < 0)
                return; /* its entries are forgotten: they start afresh */
        s->kept[s->n_kept++] = netns;
}

static bool wants_head(const Stalls *s, const Sighting *x, uint64_t netns, bool candidates) {
        return x->l.netns == netns && x->l.kind == LISTENER_TCP && x->l.depth > 0 &&
               (candidates || (x->old != SIZE_MAX && s->tracked[x->old].stalled));
}

size_t stalls_head_ports(const Stalls *s, uint64_t netns, bool candidates, uint16_t *ports, size_t max) {
        size_t n = 0;

        for (size_t i = 0; i < s->n_seen; i++)
                if (wants_head(s, &s->seen[i], netns, candidates)) {
                        if (n < max)
                                ports[n] = s->seen[i].l.port;
                        n++;
                }
        return n;
}

size_t stalls_head_cookies(const Stalls *s, uint64_t netns, bool candidates, uint64_t *cookies, size_t max) {
        size_t n = 0;

        for (size_t i = 0; i < s->n_seen; i++) {
                const Sighting *x = &s->seen[i];

                if (wants_head(s, x, netns, candidates) && x->old != SIZE_MAX && s->tracked[x->old].head != 0) {
                        if (n < max)
                                cookies[n] = s->tracked[x->old].head;
                        n++;
                }
        }
        return n;
}

void stalls_read_heads(Stalls *s, uint64_t netns,
                       bool (*read)(Listener *l, uint64_t head, bool *queued, void *userdata), void *userdata) {
        for (size_t i = 0; i < s->n_seen; i++) {
                Sighting *x = &s->seen[i];
                uint64_t head;
                bool queued = false;
                Listener l;

                if (!wants_head(s, x, netns, true))
                        continue;
                head = x->old != SIZE_MAX ? s->tracked[x->old].head : 0;
                l = x->l;
                l.head = 0;
                if (read(&l, head, &queued, userdata)) {
                        x->l = l;
                        x->head_read = true;
                        x->queued = head != 0 && queued;
                }
        }
}

static int sighting_cmp(const void *a, const void *b) {
        const Sighting *x = a, *y = b;

        return key_cmp(x->l.netns, x->l.cookie, y->l.netns, y->l.cookie);
}

static bool kept(const Stalls *s, uint64_t netns) {
        for (size_t i = 0; i < s->n_kept; i++)
                if (s->kept[i] == netns)
                        return true;
        return false;
}

static int say(EventList *out, EventKind kind, const StallEntry *e, const Listener *l, uint64_t usec) {
        Event *ev = event_list_push(out);

        if (!ev)
                return -ENOMEM;
        ev->kind = kind;
        ev->listener = *l;
        memcpy(ev->name, e->name, sizeof(ev->name));
        ev->fill_pct = listener_fill_pct(l);
        ev->stalled_usec = usec;
        return 1;
}

/* The next state of a listener seen this poll, from its old entry (NULL
 * when new); appends its event. */
static int step(const Stalls *s, const StallEntry *old, const Sighting *x, StallEntry *next, EventList *out) {
        bool fell = old && x->l.depth < old->l.depth;
        int r = 0;

        *next = (StallEntry){ .l = x->l, .stall_usec = x->w->stall_usec, .tag = x->tag, .seen = true };
        if (x->w->name)
                snprintf(next->name, sizeof(next->name), "%s", x->w->name);
        if (old && !x->head_read && !fell) {
                /* Not read this poll, and nothing says it moved. */
                next->head = old->head;
                next->since = old->since;
                next->stalled = old->stalled;
        } else if (old && x->head_read && !fell && x->queued) {
                /* The head is still queued: nothing was accepted since
                 * `since` (accept() takes the head). */
                next->head = old->head;
                next->since = old->since;
                next->stalled = old->stalled;
                if (!old->stalled && s->now - old->since >= next->stall_usec) {
                        next->stalled = true;
                        r = say(out, EVENT_STALLED, next, &x->l, s->now - old->since);
                }
        } else {
                /* It moved (or is new): a stall ends, the head is timed anew. */
                if (old && old->stalled)
                        r = say(out, EVENT_ACCEPTING, next, &x->l, s->now - old->since);
                next->head = x->head_read ? x->l.head : 0;
                next->since = s->now;
        }
        return r;
}

int stalls_end(Stalls *s, EventList *out) {
        size_t i = 0, j = 0, n = 0;
        int events = 0, failed = 0;

        qsort(s->seen, s->n_seen, sizeof(*s->seen), sighting_cmp);
        if (GROW(&s->next, &s->cap_next, s->n_tracked + s->n_seen, 16) < 0) {
                /* Everything starts afresh. */
                s->n_tracked = s->n_stalled = 0;
                return -ENOMEM;
        }
        while (i < s->n_tracked || j < s->n_seen) {
                const StallEntry *old = i < s->n_tracked ? &s->tracked[i] : NULL;
                const Sighting *x = j < s->n_seen ? &s->seen[j] : NULL;
                int c = !old ? 1 : !x ? -1 : key_cmp(old->l.netns, old->l.cookie, x->l.netns, x->l.cookie);
                StallEntry next;
                int r;

                if (c < 0) {
                        /* Not seen: kept when its dump failed, else forgotten. */
                        if (kept(s, old->l.netns)) {
                                s->next[n] = *old;
                                s->next[n++].seen = false;
                        }
                        i++;
                        continue;
                }
                /* A dump may show a socket twice: the first sighting counts. */
                if (j > 0 && sighting_cmp(x, &s->seen[j - 1]) == 0) {
                        j++;
                        continue;
                }
                r = step(s, c == 0 ? old : NULL, x, &next, out);
                if (r < 0)
                        failed = r;
                else
                        events += r;
                if (c == 0)
                        i++;
                j++;
                if (x->l.depth > 0)
                        s->next[n++] = next;
        }
        {
                StallEntry *t = s->tracked;
                size_t cap = s->cap_tracked;

                s->tracked = s->next;
                s->cap_tracked = s->cap_next;
                s->next = t;
                s->cap_next = cap;
        }
        s->n_tracked = n;
        s->n_stalled = 0;
        for (size_t k = 0; k < n; k++)
                s->n_stalled += s->tracked[k].stalled;
        s->n_seen = 0;
        return failed < 0 ? failed : events;
}
