/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "followed.h"

typedef struct FollowedEntry {
        uint64_t netns;
        uint64_t cookie;
        uint32_t gen; /* the generation it was last seen in */
} FollowedEntry;

void followed_done(Followed *f) {
        free(f->slots);
        *f = (Followed){ 0 };
}

static size_t home(const Followed *f, uint64_t netns, uint64_t cookie) {
        uint64_t h = (cookie ^ (netns * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;

        return (size_t) (h ^ (h >> 29)) & (f->cap - 1);
}

/* The slot of (netns, cookie), or the free slot where it would go. */
static size_t slot(const Followed *f, uint64_t netns, uint64_t cookie) {
        size_t i = home(f, netns, cookie);

        while (f->slots[i].cookie != 0 && (f->slots[i].cookie != cookie || f->slots[i].netns != netns))
                i = (i + 1) & (f->cap - 1);
        return i;
}

static FollowedEntry *find(Followed *f, uint64_t netns, uint64_t cookie) {
        size_t i;

        if (f->n == 0 || cookie == 0)
                return NULL;
        i = slot(f, netns, cookie);
        return f->slots[i].cookie != 0 ? &f->slots[i] : NULL;
}

static int grow(Followed *f) {
        size_t cap = f->cap ? f->cap * 2 : 64, old_cap = f->cap;
        FollowedEntry *old = f->slots;

        if (cap > SIZE_MAX / sizeof(FollowedEntry))
                return -ENOMEM;
        f->slots = calloc(cap, sizeof(FollowedEntry));
        if (!f->slots) {
                f->slots = old;
                return -ENOMEM;
        }
        f->cap = cap;
        for (size_t i = 0; i < old_cap; i++)
                if (old[i].cookie != 0)
                        f->slots[slot(f, old[i].netns, old[i].cookie)] = old[i];
        free(old);
        return 0;
}

int followed_mark(Followed *f, uint64_t netns, uint64_t cookie) {
        FollowedEntry *e;

        if (cookie == 0)
                return 0;
        e = find(f, netns, cookie);
        if (e) {
                e->gen = f->gen;
                return 0;
        }
        if ((f->n + 1) * 2 > f->cap && grow(f) < 0)
                return -ENOMEM;
        f->slots[slot(f, netns, cookie)] = (FollowedEntry){ netns, cookie, f->gen };
        f->n++;
        return 0;
}

bool followed_touch(Followed *f, uint64_t netns, uint64_t cookie) {
        FollowedEntry *e = find(f, netns, cookie);

        if (e)
                e->gen = f->gen;
        return e != NULL;
}

void followed_keep_netns(Followed *f, uint64_t netns) {
        for (size_t i = 0; i < f->cap; i++)
                if (f->slots[i].cookie != 0 && f->slots[i].netns == netns)
                        f->slots[i].gen = f->gen;
}

/* Empties slot i (backward shift: no tombstones, so lookups stay short). */
static void remove_slot(Followed *f, size_t i) {
        size_t mask = f->cap - 1, j = i;

        for (;;) {
                f->slots[i].cookie = 0;
                for (;;) {
                        size_t k;

                        j = (j + 1) & mask;
                        if (f->slots[j].cookie == 0) {
                                f->n--;
                                return;
                        }
                        k = home(f, f->slots[j].netns, f->slots[j].cookie);
                        /* Stays when its home k lies cyclically in (i, j]. */
                        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                                continue;
                        break;
                }
                f->slots[i] = f->slots[j];
                i = j;
        }
}

void followed_next(Followed *f) {
        f->gen++;
        if (f->n == 0)
                return;
        for (size_t i = 0; i < f->cap;) {
                if (f->slots[i].cookie != 0 && f->gen - f->slots[i].gen > 2)
                        remove_slot(f, i); /* slot i now holds another entry, or none: look again */
                else
                        i++;
        }
}
