/* SPDX-License-Identifier: MIT */
/* SO_REUSEPORT groups (groups.h).
 *
 * A poll of the daemon: the dump notes its full watched TCP listeners
 * (notes, rare). For each namespace, the groups to look at (cands: the
 * notes' keys and the groups unbalanced at the last poll) name the ports of
 * a second dump, whose listeners with those keys are counted into their
 * cand (members, remembered by cookie to count duplicates once). At the
 * end, the records (the state kept between polls, sorted by key) follow the
 * rule and the message bound. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "groups.h"
#include "policy.h"
#include "space.h"
#include "util.h"

/* What makes a group, compact. */
typedef struct Key {
        uint64_t netns;
        uint32_t ifindex;
        uint16_t port;
        uint8_t family;
        bool v6only;
        uint8_t addr[16]; /* IPv4: the first 4, the rest zero */
} Key;

static Key key_of(const Listener *l) {
        Key k = {
                .netns = l->netns, .ifindex = l->ifindex, .port = l->port, .family = l->family, .v6only = l->v6only
        };

        memcpy(k.addr, l->addr, l->family == AF_INET ? 4 : sizeof(k.addr));
        return k;
}

static int key_compare(const Key *a, const Key *b) {
        int r;

        if (a->netns != b->netns)
                return a->netns < b->netns ? -1 : 1;
        if (a->port != b->port)
                return a->port < b->port ? -1 : 1;
        if (a->family != b->family)
                return a->family < b->family ? -1 : 1;
        r = memcmp(a->addr, b->addr, sizeof(a->addr));
        if (r != 0)
                return r < 0 ? -1 : 1;
        if (a->ifindex != b->ifindex)
                return a->ifindex < b->ifindex ? -1 : 1;
        if (a->v6only != b->v6only)
                return a->v6only ? 1 : -1;
        return 0;
}

int groups_key_compare(const Listener *a, const Listener *b) {
        Key x = key_of(a), y = key_of(b);

        return key_compare(&x, &y);
}

bool groups_unbalanced(bool raised, uint32_t members, uint32_t full, uint32_t below) {
        if (members < 2 || full == 0)
                return false;
        if (raised)
                return below > 0;
        return (uint64_t) below * 2 >= members;
}

/* qsort() and bsearch() that take an empty array at NULL (the C library
 * declares their base nonnull). */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
        if (n > 1)
                qsort(base, n, size, cmp);
}

static void *search(const void *key, const void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
        return n > 0 ? bsearch(key, base, n, size, cmp) : NULL;
}

static bool below_clear(const Listener *l, unsigned clear) {
        return (uint64_t) l->depth * 100 < (uint64_t) clear * listener_capacity(l);
}

/* ---- --once ------------------------------------------------------------- */

static int compare_ptr(const void *a, const void *b) {
        return groups_key_compare(*(const Listener *const *) a, *(const Listener *const *) b);
}

int groups_tally(const Listener *items, size_t n, ListenerGroup *ret) {
        _cleanup_(freep) const Listener **v = malloc((n ? n : 1) * sizeof(*v));
        size_t m = 0;
        uint32_t id = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                ret[i] = (ListenerGroup){ 0 };
                if (items[i].kind == LISTENER_TCP)
                        v[m++] = &items[i];
        }
        sort(v, m, sizeof(*v), compare_ptr);
        for (size_t i = 0, j; i < m; i = j) {
                ListenerGroup g = { 0 };

                for (j = i; j < m && groups_key_compare(v[i], v[j]) == 0; j++) {
                        g.members++;
                        g.full += listener_is_full(v[j]);
                        g.depth += v[j]->depth;
                        g.capacity += listener_capacity(v[j]);
                }
                if (g.members < 2)
                        continue;
                g.id = ++id;
                for (size_t k = i; k < j; k++)
                        ret[v[k] - items] = g;
        }
        return (int) id;
}

/* ---- the daemon --------------------------------------------------------- */

typedef struct Note {
        Listener l;
        char name[EVENT_NAME_MAX + 1];
        unsigned clear;
} Note;

/* A group looked at this poll. */
typedef struct Cand {
        Listener subject; /* the full member with the lowest cookie; before
                           * any is found, the note's or the record's */
        bool subject_full;
        bool noted; /* from a note (else from a record) */
        bool matched;
        char name[EVENT_NAME_MAX + 1];
        unsigned clear;
        uint32_t members, full, below;
} Cand;

typedef struct Member {
        size_t cand;
        uint64_t cookie;
        uint32_t depth, backlog;
} Member;

typedef struct Record {
        Listener subject;
        char name[EVENT_NAME_MAX + 1];
        unsigned clear;
        uint32_t members, full, below; /* as last counted */
        bool st;                       /* unbalanced, with hysteresis */
        bool reported;                 /* what was said */
        uint8_t tokens;
        uint64_t token_usec;
} Record;

/* A key whose full listener was found alone, not looked at again before
 * until_usec. */
typedef struct Alone {
        Key key;
        uint64_t until_usec;
} Alone;

struct Groups {
        uint64_t now;
        Note *notes;
        size_t n_notes, cap_notes;
        Cand *cands;
        size_t n_cands, cap_cands;
        size_t lo, hi; /* the cands of the namespace being dumped */
        Member *members;
        size_t n_members, cap_members;
        uint16_t *ports;
        size_t cap_ports;
        uint64_t *kept;
        size_t n_kept, cap_kept;
        Record *records;
        size_t n_records, cap_records;
        Alone *alone; /* sorted by key */
        size_t n_alone, cap_alone;
        size_t n_unbalanced;
        size_t lost; /* this poll: notes, members or events lost to ENOMEM */
};

int groups_new(Groups **ret) {
        Groups *g = calloc(1, sizeof(*g));

        if (!g)
                return -ENOMEM;
        *ret = g;
        return 0;
}

Groups *groups_free(Groups *g) {
        if (!g)
                return NULL;
        free(g->notes);
        free(g->cands);
        free(g->members);
        free(g->ports);
        free(g->kept);
        free(g->records);
        free(g->alone);
        free(g);
        return NULL;
}

size_t groups_n_unbalanced(const Groups *g) {
        return g->n_unbalanced;
}

static void reset(Groups *g) {
        g->n_notes = g->n_cands = g->n_members = g->n_kept = 0;
        g->lo = g->hi = 0;
        g->lost = 0;
}

void groups_begin(Groups *g, uint64_t now_usec) {
        reset(g);
        g->now = now_usec;
}

void groups_abort(Groups *g) {
        reset(g);
}

void groups_note_full(Groups *g, const Listener *l, const char *name, unsigned clear) {
        Note *n;

        if (GROW(&g->notes, &g->cap_notes, g->n_notes + 1, 8) < 0) {
                g->lost++;
                return;
        }
        n = &g->notes[g->n_notes++];
        n->l = *l;
        snprintf(n->name, sizeof(n->name), "%s", name ? name : "");
        n->clear = clear;
}

static Cand *push_cand(Groups *g, const Listener *l, const char *name, unsigned clear, bool noted) {
        Cand *c;

        if (GROW(&g->cands, &g->cap_cands, g->n_cands + 1, 8) < 0) {
                g->lost++;
                return NULL;
        }
        c = &g->cands[g->n_cands++];
        *c = (Cand){ .subject = *l, .noted = noted, .clear = clear };
        snprintf(c->name, sizeof(c->name), "%s", name);
        return c;
}

/* By key; for one key, notes before records, lowest cookie first. */
static int compare_cand(const void *a, const void *b) {
        const Cand *x = a, *y = b;
        int r = groups_key_compare(&x->subject, &y->subject);

        if (r != 0)
                return r;
        if (x->noted != y->noted)
                return x->noted ? -1 : 1;
        return x->subject.cookie < y->subject.cookie ? -1 : x->subject.cookie > y->subject.cookie;
}

static int key_vs_alone(const void *key, const void *elem) {
        return key_compare(key, &((const Alone *) elem)->key);
}

static int compare_alone(const void *a, const void *b) {
        return key_compare(&((const Alone *) a)->key, &((const Alone *) b)->key);
}

static bool alone(const Groups *g, const Listener *l) {
        Key k = key_of(l);
        const Alone *a = search(&k, g->alone, g->n_alone, sizeof(Alone), key_vs_alone);

        return a && a->until_usec > g->now;
}

size_t groups_ports(Groups *g, uint64_t netns, PortRange *ret, size_t max) {
        size_t lo = g->n_cands, w;

        g->lo = g->hi = lo;
        if (g->n_notes == 0 && g->n_records == 0)
                return 0;
        for (size_t i = 0; i < g->n_notes; i++)
                if (g->notes[i].l.netns == netns && !alone(g, &g->notes[i].l))
                        (void) push_cand(g, &g->notes[i].l, g->notes[i].name, g->notes[i].clear, true);
        for (size_t i = 0; i < g->n_records; i++)
                if (g->records[i].st && g->records[i].subject.netns == netns)
                        (void) push_cand(g, &g->records[i].subject, g->records[i].name, g->records[i].clear, false);
        if (g->n_cands == lo)
                return 0;
        sort(g->cands + lo, g->n_cands - lo, sizeof(Cand), compare_cand);
        /* One cand per key: the first, a note's if there is one. */
        w = lo + 1;
        for (size_t i = lo + 1; i < g->n_cands; i++)
                if (groups_key_compare(&g->cands[i].subject, &g->cands[w - 1].subject) != 0)
                        g->cands[w++] = g->cands[i];
        g->n_cands = g->hi = w;
        if (GROW(&g->ports, &g->cap_ports, w - lo, 8) < 0) {
                /* Not looked at: as if the dump had failed. */
                g->lost++;
                g->n_cands = g->hi = lo;
                groups_keep_netns(g, netns);
                return 0;
        }
        for (size_t i = lo; i < w; i++)
                g->ports[i - lo] = g->cands[i].subject.port;
        return space_port_ranges(g->ports, w - lo, ret, max);
}

/* bsearch() with a Listener for key. */
static int key_vs_cand(const void *key, const void *elem) {
        return groups_key_compare(key, &((const Cand *) elem)->subject);
}

static int key_vs_record(const void *key, const void *elem) {
        return groups_key_compare(key, &((const Record *) elem)->subject);
}

static Cand *find_cand(Groups *g, const Listener *l) {
        return search(l, g->cands + g->lo, g->hi - g->lo, sizeof(Cand), key_vs_cand);
}

int groups_member_cb(const Listener *l, void *userdata) {
        Groups *g = userdata;
        Cand *c;

        if (l->kind != LISTENER_TCP)
                return 0;
        c = find_cand(g, l);
        if (!c)
                return 0;
        if (GROW(&g->members, &g->cap_members, g->n_members + 1, 16) < 0) {
                g->lost++;
                return 0;
        }
        g->members[g->n_members++] = (Member){
                .cand = (size_t) (c - g->cands), .cookie = l->cookie, .depth = l->depth, .backlog = l->backlog
        };
        /* The full member named is the one with the lowest cookie, so that
         * the same one is named from poll to poll; until one is found, the
         * subject's own sighting keeps it current. */
        if (listener_is_full(l)) {
                if (!c->subject_full || l->cookie < c->subject.cookie)
                        c->subject = *l;
                c->subject_full = true;
        } else if (!c->subject_full && l->cookie == c->subject.cookie)
                c->subject = *l;
        return 0;
}

void groups_keep_netns(Groups *g, uint64_t netns) {
        for (size_t i = 0; i < g->n_kept; i++)
                if (g->kept[i] == netns)
                        return;
        if (GROW(&g->kept, &g->cap_kept, g->n_kept + 1, 4) < 0) {
                /* Its groups are decided on what was seen. */
                g->lost++;
                return;
        }
        g->kept[g->n_kept++] = netns;
}

static bool kept(const Groups *g, uint64_t netns) {
        for (size_t i = 0; i < g->n_kept; i++)
                if (g->kept[i] == netns)
                        return true;
        return false;
}

void groups_drop_netns(Groups *g, uint64_t netns) {
        size_t w = 0;

        for (size_t i = 0; i < g->n_records; i++)
                if (g->records[i].subject.netns != netns)
                        g->records[w++] = g->records[i];
        g->n_records = w;
}

/* ---- deciding ----------------------------------------------------------- */

static int compare_member(const void *a, const void *b) {
        const Member *x = a, *y = b;

        if (x->cand != y->cand)
                return x->cand < y->cand ? -1 : 1;
        return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

static int compare_record(const void *a, const void *b) {
        return groups_key_compare(&((const Record *) a)->subject, &((const Record *) b)->subject);
}

static int emit(Groups *g, const Record *r, EventList *out) {
        Event *e = event_list_push(out);

        if (!e) {
                g->lost++;
                return 0;
        }
        e->kind = r->st ? EVENT_IMBALANCE : EVENT_IMBALANCE_CLEARED;
        e->listener = r->subject;
        snprintf(e->name, sizeof(e->name), "%s", r->name);
        e->fill_pct = listener_fill_pct(&r->subject);
        e->somaxconn = -1;
        e->abort_on_overflow = -1;
        e->group_size = r->members;
        e->group_full = r->full;
        e->group_below = r->below;
        return 1;
}

static void take(Record *r, const Cand *c) {
        r->subject = c->subject;
        snprintf(r->name, sizeof(r->name), "%s", c->name);
        r->clear = c->clear;
        r->members = c->members;
        r->full = c->full;
        r->below = c->below;
}

/* Each cand's members, each counted once, against the cand's clear level. */
static void count(Groups *g) {
        sort(g->members, g->n_members, sizeof(Member), compare_member);
        for (size_t i = 0; i < g->n_members; i++) {
                const Member *m = &g->members[i];
                Cand *c = &g->cands[m->cand];
                Listener l = { .depth = m->depth, .backlog = m->backlog };

                if (i > 0 && m->cand == m[-1].cand && m->cookie == m[-1].cookie)
                        continue;
                c->members++;
                c->full += listener_is_full(&l);
                c->below += below_clear(&l, c->clear);
        }
}

static Cand *find_any_cand(Groups *g, const Listener *l) {
        g->lo = 0;
        g->hi = g->n_cands;
        return find_cand(g, l);
}

/* Keys looked at this poll and found with one member (or none) are not
 * looked at again for GROUPS_ALONE_USEC; those with more are looked at
 * whenever one is full. */
static void update_alone(Groups *g) {
        size_t n_old = g->n_alone, w = 0;

        for (size_t i = 0; i < g->n_cands; i++) {
                const Cand *c = &g->cands[i];
                Key k = key_of(&c->subject);
                Alone *a;

                if (kept(g, k.netns))
                        continue;
                a = search(&k, g->alone, n_old, sizeof(Alone), key_vs_alone);
                if (a)
                        a->until_usec = c->members >= 2 ? 0 : g->now + GROUPS_ALONE_USEC;
                else if (c->members < 2 && GROW(&g->alone, &g->cap_alone, g->n_alone + 1, 8) >= 0)
                        /* Out of memory: it is looked at again next poll. */
                        g->alone[g->n_alone++] = (Alone){ .key = k, .until_usec = g->now + GROUPS_ALONE_USEC };
        }
        for (size_t i = 0; i < g->n_alone; i++)
                if (g->alone[i].until_usec > g->now)
                        g->alone[w++] = g->alone[i];
        g->n_alone = w;
        sort(g->alone, g->n_alone, sizeof(Alone), compare_alone);
}

int groups_end(Groups *g, EventList *out) {
        size_t n_old = g->n_records, w = 0, lost;
        int events = 0;

        count(g);
        update_alone(g);
        /* Cands of different namespaces never share a key. */
        sort(g->cands, g->n_cands, sizeof(Cand), compare_cand);
        for (size_t i = 0; i < n_old; i++) {
                Record *r = &g->records[i];
                Cand *c;

                if (kept(g, r->subject.netns))
                        continue;
                /* Not looked at: nothing of it is full, and it was not
                 * unbalanced (else it would have been looked at). */
                c = find_any_cand(g, &r->subject);
                if (!c)
                        continue;
                c->matched = true;
                take(r, c);
                r->st = groups_unbalanced(r->st, r->members, r->full, r->below);
        }
        for (size_t i = 0; i < g->n_cands; i++) {
                const Cand *c = &g->cands[i];
                Record *r;

                if (c->matched || kept(g, c->subject.netns) ||
                    !groups_unbalanced(false, c->members, c->full, c->below))
                        continue;
                if (GROW(&g->records, &g->cap_records, g->n_records + 1, 8) < 0) {
                        g->lost++;
                        continue;
                }
                r = &g->records[g->n_records++];
                *r = (Record){ .tokens = POLICY_BURST, .token_usec = g->now };
                take(r, c);
                r->st = true;
        }
        g->n_unbalanced = 0;
        for (size_t i = 0; i < g->n_records; i++) {
                Record *r = &g->records[i];

                if (!kept(g, r->subject.netns)) {
                        policy_earn_tokens(&r->tokens, &r->token_usec, g->now);
                        if (r->st != r->reported && r->tokens > 0) {
                                r->tokens--;
                                r->reported = r->st;
                                events += emit(g, r, out);
                        }
                }
                g->n_unbalanced += r->st;
        }
        /* A record says nothing a fresh one would not: forgotten. */
        for (size_t i = 0; i < g->n_records; i++) {
                const Record *r = &g->records[i];

                if (r->st || r->reported || r->tokens < POLICY_BURST)
                        g->records[w++] = *r;
        }
        g->n_records = w;
        sort(g->records, g->n_records, sizeof(Record), compare_record);
        lost = g->lost;
        reset(g);
        return lost > 0 ? -ENOMEM : events;
}

bool groups_retry(Groups *g, const Event *e) {
        Record *r;

        if (e->kind != EVENT_IMBALANCE && e->kind != EVENT_IMBALANCE_CLEARED)
                return false;
        r = search(&e->listener, g->records, g->n_records, sizeof(Record), key_vs_record);
        if (!r)
                return false;
        /* Told nothing: the state differs from what was told, and the
         * token spent on it comes back. */
        r->reported = e->kind != EVENT_IMBALANCE;
        if (r->tokens < POLICY_BURST)
                r->tokens++;
        return true;
}
