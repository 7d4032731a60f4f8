/* SPDX-License-Identifier: MIT */
#pragma once

/* Stalls: a listener that has accepted nothing for `stall` seconds while
 * connections wait. accept() always takes the connection at the head of the
 * queue (it is FIFO), and a queue only shrinks by accept(), so nothing was
 * accepted between two readings when the head of the first is still queued
 * at the second and the depth did not fall. The head is the oldest queued
 * TCP connection's cookie (read with the wait, space_count_wait(): a walk
 * of the namespace's connections, done at the caller's cadence) or the
 * first waiting UNIX client's socket inode (every dump carries it). The stall is timed from the first reading that
 * showed the head, so it is a lower bound.
 *
 * EVENT_STALLED when the same head has stayed for the watch entry's
 * stall_usec (once per stall, no reminders); EVENT_ACCEPTING when a stalled
 * queue moves again (its head changed, its depth fell, or it is empty). A
 * stalled listener that stops listening or is no longer watched is
 * forgotten without an event.
 *
 * Pure: no I/O, no clock reads. Only listeners with a non-empty queue are
 * tracked; a poll costs nothing for the others, except while one is
 * stalled (then the empty ones are looked up too, to see it drain). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"
#include "snapshot.h"

typedef struct Stalls Stalls;

int stalls_new(Stalls **ret);
Stalls *stalls_free(Stalls *s);

/* A poll at now_usec (CLOCK_MONOTONIC):
 *
 *   stalls_begin(s, now)
 *   stalls_observe(s, l, w) for the watched listeners the dumps show with
 *       a non-empty queue, and, while stalls_any_stalled(), with an empty one;
 *   stalls_keep_netns() for each namespace whose dump failed;
 *   stalls_read_heads() per namespace, to give TCP listeners their head;
 *   stalls_end(s, out). */
void stalls_begin(Stalls *s, uint64_t now_usec);

/* Whether a listener is stalled (as of the last stalls_end()). */
bool stalls_any_stalled(const Stalls *s);

/* How many are (as of the last stalls_end()). */
size_t stalls_n_stalled(const Stalls *s);

/* The wait of a stalled TCP listener's head, without a walk: l as this
 * poll's dump shows it (before stalls_observe()). As of the last reading of
 * its head, nothing was accepted since the head was first seen, so the head
 * is taken to be the oldest connection still (as the stall itself is, until
 * the next reading), and to have waited its wait at that first reading plus
 * the time since. False when l is not stalled (or due to be: its alert held
 * back), its head's wait was not read, it shares its connections with
 * another queue (SO_REUSEPORT), or its queue has shrunk since the last poll
 * (it accepted: only a reading knows the new head). */
bool stalls_head_wait(const Stalls *s, const Listener *l, uint32_t *ret_ms);

/* Watched listener l as the dump shows it, with its watch entry (the stall
 * time and name come from it; a stall of 0 tracks nothing) and the
 * caller's tag for it this poll (its metrics record), handed back by
 * stalls_each_stalled(). A UNIX
 * listener's head comes with it. Returns 0, or -ENOMEM (l is not tracked
 * this poll: it starts afresh next time). */
int stalls_observe(Stalls *s, const Listener *l, const Watch *w, size_t tag);

/* The dump of namespace netns failed: what it tracks stays as it was. */
void stalls_keep_netns(Stalls *s, uint64_t netns);

/* The TCP listeners of namespace netns observed this poll with a non-empty
 * queue that want their head read: the stalled ones, and, when candidates
 * is true, all the others. (The daemon reads them all at its cadence: a
 * stalled queue that drains or shrinks ends its stall from the dump.) Their ports into ports (at most max); returns
 * how many there are (may exceed max: then not all were written). */
size_t stalls_head_ports(const Stalls *s, uint64_t netns, bool candidates, uint16_t *ports, size_t max);

/* The heads of the TCP listeners of netns that stalls_head_ports() lists,
 * where one is known: the cookies a reading must look for. Into cookies
 * (at most max); returns how many there are. */
size_t stalls_head_cookies(const Stalls *s, uint64_t netns, bool candidates, uint64_t *cookies, size_t max);

/* Gives each TCP listener of netns observed this poll its reading:
 * read(l, head, &queued, userdata) returns false when the caller's last
 * reading of the namespace's queued connections did not cover l's port;
 * else it sets l->head to the oldest queued connection's cookie (0: none
 * queued any more) and l->has_wait, *queued to whether head (the one
 * tracked, 0 if none) is still queued, and returns true. The tracked head
 * stays while it is queued: of connections that arrived within the same
 * jiffy, which one reads as the oldest varies. */
void stalls_read_heads(Stalls *s, uint64_t netns,
                       bool (*read)(Listener *l, uint64_t head, bool *queued, void *userdata), void *userdata);

/* Decides the poll: appends EVENT_STALLED and EVENT_ACCEPTING to out.
 * Returns the number appended, or -ENOMEM (an event or a record was lost;
 * the listener starts afresh). */
int stalls_end(Stalls *s, EventList *out);

/* An event of the last poll could not be written (the journal queue was
 * full, or the budget held back a system service's alert): a stall is
 * said again at the next poll that still finds it (with the same start);
 * an end is not (the next stall will be). Returns whether the event will be
 * said again. */
bool stalls_retry(Stalls *s, const Event *e);

/* Calls f(l, tag, stalled_usec, userdata) for each listener stalled after
 * the last stalls_end() that the poll observed: as seen, with its tag and
 * how long (at least) it has accepted nothing. */
void stalls_each_stalled(const Stalls *s, void (*f)(const Listener *l, size_t tag, uint64_t usec, void *userdata),
                         void *userdata);

/* Listeners tracked (non-empty queues of the last poll), for tests. */
size_t stalls_n_tracked(const Stalls *s);
