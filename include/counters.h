/* SPDX-License-Identifier: MIT */
#pragma once

/* The host's listen counters (/proc/net/netstat), per network namespace:
 * increases of ListenOverflows, ListenDrops, TCPReqQFullDrop and
 * TCPReqQFullDoCookies become EVENT_COUNTER events, each counter under its
 * own message bound (rate.h); those and TCPDeferAcceptDrop tell the cause
 * of the events, when each last rose. Pure: no I/O, the caller supplies readings and
 * times. A counter that goes backwards (the namespace was recreated) only
 * sets a new baseline. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "netstat.h"

typedef struct Counters Counters;

int counters_new(Counters **ret);
Counters *counters_free(Counters *c);

/* One poll of namespace netns at monotonic time now. values NULL: not
 * readable this poll (the baselines stay; sums held back still come out
 * when due). enabled false (`counters = false`): baselines and sums are
 * forgotten, so that switching them on again starts afresh. sysctls (may
 * be NULL) stamp the events (abort_on_overflow). Call it for every watched
 * namespace on every poll. Returns the number of events appended, or
 * -ENOMEM (an event was lost, or the namespace's record could not be made). */
int counters_step(Counters *c, uint64_t netns, const NetstatCounters *values, const NetstatSysctls *sysctls,
                  bool enabled, uint64_t now, EventList *out);

/* Namespace netns is no longer watched: its held-back sums are reported,
 * then its record is dropped. Returns the number of events appended. */
int counters_forget(Counters *c, uint64_t netns, EventList *out);

/* Reports the sums every namespace holds back (at stop, so that nothing
 * seen is lost). Returns the number of events appended. */
int counters_flush(Counters *c, EventList *out);

/* Bit of counter k in the masks of counters_cause(). */
#define COUNTERS_MOVED(k) (1u << (k))

/* Pure: the cause of e, given the counters that rose in its period
 * (COUNTERS_MOVED() bits); "never a cause whose counter did not move".
 *
 * EVENT_COUNTER: ListenOverflows is accept_queue, TCPReqQFullDrop
 * syn_queue, TCPReqQFullDoCookies syn_flood; ListenDrops is accept_queue
 * if ListenOverflows rose too, else syn_queue if TCPReqQFullDrop rose,
 * else other.
 *
 * EVENT_DROPS of a TCP listener: accept_queue if ListenOverflows rose and
 * either the listener's accept queue is full as last seen or neither
 * TCPReqQFullDrop nor TCPDeferAcceptDrop rose; else syn_queue if
 * TCPReqQFullDrop rose; else defer_accept if TCPDeferAcceptDrop rose; else
 * other.
 *
 * Anything else: EVENT_CAUSE_NONE. */
EventCause counters_cause(const Event *e, unsigned moved);

/* Sets e->cause of an EVENT_DROPS or EVENT_COUNTER event that has none,
 * from the readings of its namespace: which counters rose at readings in
 * (e->end_usec - e->period_usec, e->end_usec]. It stays EVENT_CAUSE_NONE
 * when the readings do not cover that period (counters = false, or not
 * readable at its end, or baselines set within it). Host counter events
 * come stamped already. */
void counters_stamp_cause(const Counters *c, Event *e);

/* Whether a counter that a full SYN or accept queue moves (ListenDrops,
 * TCPReqQFullDrop, TCPReqQFullDoCookies) rose between the last two
 * readings of netns. */
bool counters_listen_moved(const Counters *c, uint64_t netns);

size_t counters_memory_bytes(const Counters *c);
