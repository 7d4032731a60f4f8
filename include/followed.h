/* SPDX-License-Identifier: MIT */
#pragma once

/* The sockets the metrics file follows: those that have been non-empty or
 * dropped, keyed by (network namespace, cookie), each with the generation
 * (a metrics write) it was last seen in. An open-addressing table (linear
 * probing, backward-shift deletion, cookie 0 marks a free slot) kept at
 * most half full, so that a poll that sees only known sockets allocates
 * nothing. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Followed {
        struct FollowedEntry *slots; /* cap slots, a power of two */
        size_t n, cap;
        uint32_t gen;
} Followed;

void followed_done(Followed *f);

/* Marks (netns, cookie) as seen in the current generation, adding it if
 * new; cookie 0 (unknown) is not followed. 0 or -ENOMEM. */
int followed_mark(Followed *f, uint64_t netns, uint64_t cookie);

/* Whether (netns, cookie) is followed; if so, marks it seen too. */
bool followed_touch(Followed *f, uint64_t netns, uint64_t cookie);

/* Every socket of netns counts as seen (its dump failed: they are not
 * gone). */
void followed_keep_netns(Followed *f, uint64_t netns);

/* A new generation: the sockets seen in neither of the last two are
 * forgotten (closed listeners; a dump may miss a socket once). */
void followed_next(Followed *f);
