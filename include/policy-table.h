/* SPDX-License-Identifier: MIT */
#pragma once

/* Where the policy keeps what it knows of each watched listener between
 * polls: an open-addressing hash table of compact Slots keyed by (netns,
 * cookie) (linear probing, backward-shift deletion, so no tombstones), and a
 * pool of Active records for the few listeners with history (raised, a
 * change not reported yet, tokens spent, drops pending or reported
 * recently). A listener that is ok and quiet holds no record: a fresh one
 * would say the same. Used by policy.c only. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rate.h"
#include "snapshot.h"

/* Everything about a listener with history. */
typedef struct Active {
        Listener l;          /* as last seen, for GONE */
        uint64_t seen_usec;  /* poll that last saw it */
        uint64_t token_usec; /* tokens are earned from here on */
        uint64_t msg_usec;   /* last message about the state (reminders) */
        Rate drops_rate;
        uint32_t next_free; /* on the free list: 1 + index of the next, 0 = end */
        uint8_t st;         /* ListenState, classified, with hysteresis */
        uint8_t reported;   /* ListenState the last state message said */
        uint8_t tokens;
        uint8_t syn_reported; /* ListenState the last SYN message said */
        char name[65];        /* the watch entry's name when last seen, "" if none */
} Active;

enum {
        SLOT_USED = 1 << 0,
        SLOT_DROPS_KNOWN = 1 << 1,
        SLOT_KEPT = 1 << 2, /* not seen, kept because its namespace's dump failed */
};

/* Every watched listener: 32 bytes. */
typedef struct Slot {
        uint64_t netns;
        uint64_t cookie;
        uint32_t drops;     /* baseline, valid with SLOT_DROPS_KNOWN */
        uint32_t active;    /* 1 + index into the pool, 0 = none */
        uint32_t somaxconn; /* net.core.somaxconn when first seen; UINT32_MAX unknown */
        uint16_t gen;       /* poll that last saw it */
        uint8_t flags;
        uint8_t syn; /* ListenState of the SYN queue, with hysteresis */
} Slot;

typedef struct Table {
        Slot *slots;
        size_t cap; /* power of two, or 0 */
        size_t n_used;
        Active *pool;
        uint32_t pool_n; /* records handed out at least once */
        uint32_t pool_cap;
        uint32_t free_head; /* 1 + index, 0 = none free */
} Table;

void table_done(Table *t);

/* True with the slot's index, or false with the empty slot where the key
 * would go (t->cap must be > 0 for that answer). */
bool table_find(const Table *t, uint64_t netns, uint64_t cookie, size_t *ret);

/* A new, zeroed slot for a key table_find() did not find, growing the
 * table as needed (indices from before are then stale). -ENOMEM. */
int table_insert(Table *t, uint64_t netns, uint64_t cookie, size_t *ret);

/* Removes slot i; later members of its cluster may move into i. */
void table_delete(Table *t, size_t i);

/* Prefetches the home slot of a key (the table is cold between polls). */
void table_prefetch(const Table *t, uint64_t netns, uint64_t cookie);

/* A record from the pool for slot s (s->active set); contents undefined.
 * -ENOMEM. */
int table_active_alloc(Table *t, Slot *s);
void table_active_release(Table *t, Slot *s);

static inline Active *table_active(const Table *t, const Slot *s) {
        return s->active ? &t->pool[s->active - 1] : NULL;
}

size_t table_memory_bytes(const Table *t);
