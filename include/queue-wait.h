/* SPDX-License-Identifier: MIT */
#pragma once

/* How long the connections in the accept queues have waited, on a poll of
 * the daemon: which ports to read (space_count_wait() walks every
 * connection of a namespace, so only when something shows the answer),
 * and where the answer goes. On a poll that writes the metrics file, the
 * watched non-empty queues are noted as the dump finds them, and their
 * records get the wait; the poll's high, full and drops alerts get it
 * from that read, or, on the other polls, from a read of their own ports.
 * The same reads give the stall watch (stalls.h) the heads of the queues.
 * Nothing here logs: the caller reports a failed read. */

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "metrics.h"
#include "space.h"
#include "stalls.h"

typedef struct QueueWaitNote {
        Listener l;
        size_t record; /* its record in the metrics file */
} QueueWaitNote;

typedef struct QueueWaits {
        uint16_t *ports; /* to read in the namespace at hand */
        size_t n_ports, cap_ports;
        QueueWaitNote *notes;
        size_t n_notes, cap_notes;
        size_t n_unknown;  /* notes whose wait only a walk can tell */
        uint64_t *cookies; /* the heads the stall watch asks about */
        size_t cap_cookies;
} QueueWaits;

/* Forgets the ports and notes: before each namespace's dump. */
void queue_waits_reset(QueueWaits *w);

/* Frees the buffers. */
void queue_waits_done(QueueWaits *w);

/* A watched listener whose queue is not empty, found by the dump of a poll
 * that writes the metrics file, with its record there; known: the caller
 * knows its wait without a walk (a stalled queue, stalls_head_wait()). Out
 * of memory: its wait stays as it is. */
void queue_waits_note(QueueWaits *w, const Listener *l, size_t record, bool known);

/* Reads the connections on the noted ports of s (space_count_wait()) and
 * puts the wait on their records: 0 without a walk when every noted wait
 * is known (then the notes are dropped), and the walk, once needed, reads
 * the known ones too (the alerts and the stall watch of the poll use it). */
int queue_waits_read_noted(QueueWaits *w, Space *s, MetricsWriter *metrics, ErrBuf *err);

/* The ports of the events of s that show a wait (a high, full or drops
 * alert of a non-empty TCP queue), into w->ports; their number. */
size_t queue_waits_event_ports(QueueWaits *w, const Space *s, const EventList *events);

/* Adds to w->ports the ports of s's TCP listeners whose head st wants read
 * (stalls_head_ports(): the stalled ones, and the others when candidates),
 * and has s's next read look for their known heads; returns how many such
 * listeners there are. */
size_t queue_waits_head_ports(QueueWaits *w, const Stalls *st, Space *s, bool candidates);

/* Has s's next read look for the heads st knows there: are they still
 * queued? */
void queue_waits_look_for(QueueWaits *w, const Stalls *st, Space *s);

/* Gives st the heads of s's TCP listeners its last read covered, and the
 * clients of its non-empty UNIX listeners (an exact request each). */
void queue_waits_give_heads(Stalls *st, Space *s);

/* Reads the connections on w->ports of s. */
int queue_waits_read(QueueWaits *w, Space *s, ErrBuf *err);

/* The events of s that show a wait get it from s's last read (none: they
 * say nothing). */
void queue_waits_apply(const Space *s, EventList *events);
