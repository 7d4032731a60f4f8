/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy-table.h"
#include "util.h"

#define TABLE_MIN 64
/* Load at most 7/10: linear probing stays short with a mixing hash. */
#define TABLE_FULL(n, cap) ((n) *10 > (cap) *7)

_Static_assert(sizeof(Slot) == 32, "a Slot should stay 32 bytes");

void table_done(Table *t) {
        free(t->slots);
        free(t->pool);
        *t = (Table){ 0 };
}

size_t table_memory_bytes(const Table *t) {
        return t->cap * sizeof(Slot) + (size_t) t->pool_cap * sizeof(Active);
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

void table_prefetch(const Table *t, uint64_t netns, uint64_t cookie) {
        if (t->cap > 0)
                __builtin_prefetch(&t->slots[key_hash(netns, cookie) & (t->cap - 1)]);
}

bool table_find(const Table *t, uint64_t netns, uint64_t cookie, size_t *ret) {
        size_t mask, i;

        if (t->cap == 0)
                return false;
        mask = t->cap - 1;
        for (i = key_hash(netns, cookie) & mask;; i = (i + 1) & mask) {
                const Slot *s = &t->slots[i];

                if (!(s->flags & SLOT_USED)) {
                        *ret = i;
                        return false;
                }
                if (s->cookie == cookie && s->netns == netns) {
                        *ret = i;
                        return true;
                }
        }
}

static int resize(Table *t, size_t cap) {
        Slot *old = t->slots, *slots;
        size_t old_cap = t->cap;

        if (cap > SIZE_MAX / sizeof(*slots))
                return -ENOMEM;
        slots = calloc(cap, sizeof(*slots));
        if (!slots)
                return -ENOMEM;
        t->slots = slots;
        t->cap = cap;
        for (size_t i = 0; i < old_cap; i++) {
                size_t j;

                if (!(old[i].flags & SLOT_USED))
                        continue;
                (void) table_find(t, old[i].netns, old[i].cookie, &j);
                slots[j] = old[i];
        }
        free(old);
        return 0;
}

int table_insert(Table *t, uint64_t netns, uint64_t cookie, size_t *ret) {
        size_t i;

        if (t->cap == 0 || TABLE_FULL(t->n_used + 1, t->cap)) {
                if (t->cap > SIZE_MAX / 2 || resize(t, t->cap ? t->cap * 2 : TABLE_MIN) < 0)
                        return -ENOMEM;
        }
        if (table_find(t, netns, cookie, &i))
                assert(!"table_insert() of a key that is present");
        t->slots[i] = (Slot){ .netns = netns, .cookie = cookie, .flags = SLOT_USED, .somaxconn = UINT32_MAX };
        t->n_used++;
        *ret = i;
        return 0;
}

/* Backward-shift deletion: later members of the cluster that may live at i
 * move up, so that lookups never need tombstones. */
void table_delete(Table *t, size_t i) {
        size_t mask = t->cap - 1, j = i;

        assert(t->slots[i].flags & SLOT_USED);
        for (;;) {
                size_t home;

                j = (j + 1) & mask;
                if (!(t->slots[j].flags & SLOT_USED))
                        break;
                home = key_hash(t->slots[j].netns, t->slots[j].cookie) & mask;
                /* j may move to i when i lies in [home, j) cyclically */
                if (((j - home) & mask) >= ((j - i) & mask)) {
                        t->slots[i] = t->slots[j];
                        i = j;
                }
        }
        t->slots[i] = (Slot){ 0 };
        t->n_used--;
}

int table_active_alloc(Table *t, Slot *s) {
        uint32_t i;

        if (t->free_head > 0) {
                i = t->free_head - 1;
                t->free_head = t->pool[i].next_free;
        } else {
                size_t cap = t->pool_cap;

                if (t->pool_n == UINT32_MAX - 1 || GROW(&t->pool, &cap, (size_t) t->pool_n + 1, 16) < 0)
                        return -ENOMEM;
                t->pool_cap = cap > UINT32_MAX ? UINT32_MAX : (uint32_t) cap;
                i = t->pool_n++;
        }
        s->active = i + 1;
        return 0;
}

void table_active_release(Table *t, Slot *s) {
        uint32_t i = s->active - 1;

        assert(s->active > 0);
        t->pool[i].next_free = t->free_head;
        t->free_head = i + 1;
        s->active = 0;
}
