/* SPDX-License-Identifier: MIT */
#pragma once

/* The message bound of a counter that only grows (a listener's drops, a
 * host counter): an increase is reported at once the first time, and
 * whenever nothing was reported in the last RATE_PERIOD_USEC; otherwise it
 * is summed and the sum reported on the first step once RATE_PERIOD_USEC
 * has passed since the previous report. Pure: the caller supplies times. */

#include <stdbool.h>
#include <stdint.h>

#define RATE_PERIOD_USEC (60ULL * 1000000ULL)

typedef struct Rate {
        uint64_t pending;      /* increase not reported yet */
        uint64_t pending_from; /* start of the time the pending sum covers */
        uint64_t last_usec;    /* last report */
        bool reported;         /* at least once */
} Rate;

static inline uint64_t elapsed(uint64_t now, uint64_t then) {
        return now > then ? now - then : 0;
}

/* One step. prev_usec is the previous reading, which starts the time an
 * increase reported at once covers. Returns true with the sum and its
 * period when a report is due. */
static inline bool rate_step(Rate *r, uint64_t increase, uint64_t prev_usec, uint64_t now, uint64_t *ret_sum,
                             uint64_t *ret_period) {
        bool open = !r->reported || elapsed(now, r->last_usec) >= RATE_PERIOD_USEC;

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

/* Whether r holds nothing a fresh Rate would not: no pending sum, and no
 * report within the last period. */
static inline bool rate_idle(const Rate *r, uint64_t now) {
        return r->pending == 0 && (!r->reported || elapsed(now, r->last_usec) >= RATE_PERIOD_USEC);
}
