/* SPDX-License-Identifier: MIT */
#pragma once

/* The host's listen counters (/proc/net/netstat), per network namespace:
 * increases of ListenOverflows, ListenDrops, TCPReqQFullDrop and
 * TCPReqQFullDoCookies become EVENT_COUNTER events, each counter under its
 * own message bound (rate.h). Pure: no I/O, the caller supplies readings and
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

/* Whether a counter that a full SYN or accept queue moves (ListenDrops,
 * TCPReqQFullDrop, TCPReqQFullDoCookies) rose between the last two
 * readings of netns. */
bool counters_listen_moved(const Counters *c, uint64_t netns);

size_t counters_memory_bytes(const Counters *c);
