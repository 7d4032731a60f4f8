/* SPDX-License-Identifier: MIT */
#include "stalls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

typedef struct StallEntry {
        Listener l; /* as last seen */
        char name[EVENT_NAME_MAX + 1];
        uint64_t stall_usec;
        uint64_t head;         /* the head seen since `since`; 0: not known */
        uint64_t since;        /* when that head was first seen */
        uint32_t head_wait_ms; /* when has_head_wait: the head's wait at `since` */
        bool has_head_wait;
        size_t tag;   /* the caller's, as of the last poll that observed it */
        bool clients; /* LISTENER_UNIX: l's clients were read (the queue, in order) */
        bool stalled; /* EVENT_STALLED said, EVENT_ACCEPTING not yet */
        bool shared;  /* as of the last poll that observed it (Sighting) */
        bool seen;    /* the last poll observed it */
} StallEntry;

/* One sighting of this poll, with what was tracked of it. */
typedef struct Sighting {
        Listener l;
        const Watch *w;
        size_t old; /* its entry in tracked, or SIZE_MAX */
        size_t tag;
        bool head_read; /* l.head is this poll's reading */
        bool queued;    /* the reading found the tracked head still queued */
        bool shared;    /* TCP: another non-empty listener takes the same connections */
} Sighting;

struct Stalls {
        uint64_t now;
        StallEntry *tracked; /* sorted by (netns, cookie) */
        size_t n_tracked, cap_tracked;
        StallEntry *next; /* the next poll's tracked, built by stalls_end() */
        size_t cap_next;
        Sighting *seen;
        size_t n_seen, cap_seen;
        size_t *order; /* mark_shared()'s */
        size_t cap_order;
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
        free(s->order);
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

bool stalls_head_wait(const Stalls *s, const Listener *l, uint32_t *ret_ms) {
        size_t i = find(s, l);
        const StallEntry *e;
        uint64_t ms;

        if (i == SIZE_MAX)
                return false;
        e = &s->tracked[i];
        /* Stalled, or its alert held back by the journal budget; a queue
         * that shrank has accepted: its head is not known now. */
        if (!e->has_head_wait || e->shared || !(e->stalled || s->now - e->since >= e->stall_usec) ||
            l->kind != LISTENER_TCP || l->depth == 0 || l->depth < e->l.depth)
                return false;
        ms = e->head_wait_ms + (s->now - e->since) / 1000;
        *ret_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t) ms;
        return true;
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
        *x = (Sighting){ .l = *l, .w = w, .old = old, .tag = tag };
        x->l.head = 0;
        x->l.n_clients = 0;
        return 0;
}

void stalls_keep_netns(Stalls *s, uint64_t netns) {
        if (GROW(&s->kept, &s->cap_kept, s->n_kept + 1, 4) < 0)
                return; /* its entries are forgotten: they start afresh */
        s->kept[s->n_kept++] = netns;
}

/* A TCP listener whose head a walk reads (its port), or a UNIX one whose
 * clients a lookup reads (every poll: it costs no walk). */
static bool wants_head(const Stalls *s, const Sighting *x, uint64_t netns, bool candidates) {
        return x->l.netns == netns && x->l.depth > 0 &&
               (x->l.kind == LISTENER_UNIX || candidates || (x->old != SIZE_MAX && s->tracked[x->old].stalled));
}

static bool wants_tcp_head(const Stalls *s, const Sighting *x, uint64_t netns, bool candidates) {
        return x->l.kind == LISTENER_TCP && wants_head(s, x, netns, candidates);
}

size_t stalls_head_ports(const Stalls *s, uint64_t netns, bool candidates, uint16_t *ports, size_t max) {
        size_t n = 0;

        for (size_t i = 0; i < s->n_seen; i++)
                if (wants_tcp_head(s, &s->seen[i], netns, candidates)) {
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

                if (wants_tcp_head(s, x, netns, candidates) && x->old != SIZE_MAX && s->tracked[x->old].head != 0) {
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

/* Whether a UNIX queue's clients moved up between two readings: accept()
 * takes the first, and the others move up. A client that went away stays
 * in the queue, read as 0, in its place: not a move. */
static bool clients_moved(const Listener *a, const Listener *b) {
        for (size_t i = 0; i < a->n_clients && i < b->n_clients; i++)
                if (a->clients[i] != 0 && b->clients[i] != 0 && a->clients[i] != b->clients[i])
                        return true;
        return false;
}

/* Whether the reading of x shows that nothing was accepted since old's. */
static bool same_head(const StallEntry *old, const Sighting *x) {
        if (x->l.kind == LISTENER_UNIX)
                return old->clients && x->l.n_clients > 0 && !clients_moved(&old->l, &x->l);
        return x->queued;
}

/* The next state of a listener seen this poll, from its old entry (NULL
 * when new); appends its event. */
static int step(const Stalls *s, const StallEntry *old, const Sighting *x, StallEntry *next, EventList *out) {
        bool fell = old && x->l.depth < old->l.depth;
        int r = 0;

        *next = (StallEntry){
                .l = x->l, .stall_usec = x->w->stall_usec, .tag = x->tag, .shared = x->shared, .seen = true
        };
        if (x->w->name)
                snprintf(next->name, sizeof(next->name), "%s", x->w->name);
        next->clients = x->l.kind == LISTENER_UNIX && x->head_read && x->l.n_clients > 0;
        if (old && !x->head_read && !fell) {
                /* Not read this poll, and nothing says it moved. */
                next->head = old->head;
                next->since = old->since;
                next->head_wait_ms = old->head_wait_ms;
                next->has_head_wait = old->has_head_wait;
                next->stalled = old->stalled;
                next->clients = old->clients;
                memcpy(next->l.clients, old->l.clients, sizeof(next->l.clients));
                next->l.n_clients = old->l.n_clients;
        } else if (old && x->head_read && !fell && same_head(old, x)) {
                /* The head is still queued: nothing was accepted since
                 * `since` (accept() takes the head). */
                next->head = old->head;
                next->since = old->since;
                next->head_wait_ms = old->head_wait_ms;
                next->has_head_wait = old->has_head_wait;
                next->stalled = old->stalled;
                if (!old->stalled && !x->shared && s->now - old->since >= next->stall_usec) {
                        next->stalled = true;
                        r = say(out, EVENT_STALLED, next, &x->l, s->now - old->since);
                }
        } else {
                /* It moved (or is new): a stall ends, the head is timed anew. */
                if (old && old->stalled)
                        r = say(out, EVENT_ACCEPTING, next, &x->l, s->now - old->since);
                next->head = x->head_read ? x->l.head : 0;
                next->since = s->now;
                next->has_head_wait = next->head != 0 && x->l.kind == LISTENER_TCP && x->l.has_wait;
                next->head_wait_ms = next->has_head_wait ? x->l.wait_ms : 0;
        }
        return r;
}

/* Whether a connection to b's port could be a's too: the same address, or
 * either is a wildcard of its family, or a dual-stack [::] takes IPv4. */
static bool overlap(const Listener *a, const Listener *b) {
        if (a->family == b->family)
                return memcmp(a->addr, b->addr, sizeof(a->addr)) == 0 || listener_is_wildcard(a) ||
                       listener_is_wildcard(b);
        return (a->family == AF_INET6 && !a->v6only && listener_is_wildcard(a)) ||
               (b->family == AF_INET6 && !b->v6only && listener_is_wildcard(b));
}

static int port_cmp(const void *x, const void *y, void *seen) {
        const Listener *a = &((const Sighting *) seen)[*(const size_t *) x].l,
                       *b = &((const Sighting *) seen)[*(const size_t *) y].l;

        if (a->netns != b->netns)
                return a->netns < b->netns ? -1 : 1;
        return a->port < b->port ? -1 : a->port > b->port;
}

/* A TCP queue's head is the oldest connection on its address and port:
 * the members of an SO_REUSEPORT group, and a wildcard listener next to a
 * specific one on its port, read the same connections and cannot be told
 * apart. Such listeners, when more than one of them holds connections, are
 * not found stalled (a hung member of a group is an imbalance). */
static void mark_shared(Stalls *s) {
        size_t n = 0;

        if (GROW(&s->order, &s->cap_order, s->n_seen, 16) < 0)
                return; /* out of memory: none is marked */
        for (size_t i = 0; i < s->n_seen; i++)
                if (s->seen[i].l.kind == LISTENER_TCP && s->seen[i].l.depth > 0)
                        s->order[n++] = i;
        if (n > 1)
                qsort_r(s->order, n, sizeof(*s->order), port_cmp, s->seen);
        for (size_t i = 0; i < n;) {
                size_t j = i + 1;

                while (j < n && port_cmp(&s->order[i], &s->order[j], s->seen) == 0)
                        j++;
                for (size_t a = i; a < j; a++)
                        for (size_t b = a + 1; b < j; b++) {
                                Sighting *x = &s->seen[s->order[a]], *y = &s->seen[s->order[b]];

                                if (x->l.cookie != y->l.cookie && overlap(&x->l, &y->l))
                                        x->shared = y->shared = true;
                        }
                i = j;
        }
}

int stalls_end(Stalls *s, EventList *out) {
        size_t i = 0, j = 0, n = 0;
        int events = 0, failed = 0;

        mark_shared(s);
        if (s->n_seen > 1) /* seen is NULL before the first sighting */
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

bool stalls_retry(Stalls *s, const Event *e) {
        size_t i;

        if (e->kind != EVENT_STALLED)
                return false;
        i = find(s, &e->listener);
        if (i == SIZE_MAX || !s->tracked[i].stalled)
                return false;
        s->tracked[i].stalled = false;
        s->n_stalled--;
        return true;
}
