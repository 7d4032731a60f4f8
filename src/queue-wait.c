/* SPDX-License-Identifier: MIT */
#include "queue-wait.h"

#include <stdlib.h>

#include "util.h"

void queue_waits_reset(QueueWaits *w) {
        w->n_ports = w->n_notes = w->n_unknown = 0;
}

void queue_waits_done(QueueWaits *w) {
        free(w->ports);
        free(w->notes);
        free(w->cookies);
        *w = (QueueWaits){ 0 };
}

static bool add_port(QueueWaits *w, uint16_t port) {
        if (GROW(&w->ports, &w->cap_ports, w->n_ports + 1, 16) < 0)
                return false;
        w->ports[w->n_ports++] = port;
        return true;
}

void queue_waits_note(QueueWaits *w, const Listener *l, size_t record, bool known) {
        if (GROW(&w->notes, &w->cap_notes, w->n_notes + 1, 16) < 0 || !add_port(w, l->port))
                return;
        w->notes[w->n_notes++] = (QueueWaitNote){ .l = *l, .record = record };
        w->n_unknown += !known;
}

int queue_waits_read(QueueWaits *w, Space *s, ErrBuf *err) {
        PortRange ranges[DIAG_MAX_RANGES];
        size_t n = space_port_ranges(w->ports, w->n_ports, ranges, DIAG_MAX_RANGES), k = 0;

        /* Sorted now: each port once (an alert's and the stall watch's). */
        for (size_t i = 0; i < w->n_ports; i++)
                if (k == 0 || w->ports[i] != w->ports[k - 1])
                        w->ports[k++] = w->ports[i];
        w->n_ports = k;
        return space_count_wait(s, ranges, n, err);
}

int queue_waits_read_noted(QueueWaits *w, Space *s, MetricsWriter *metrics, ErrBuf *err) {
        int r;

        if (w->n_unknown == 0) {
                w->n_ports = w->n_notes = 0;
                return 0;
        }
        r = queue_waits_read(w, s, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < w->n_notes; i++) {
                Listener *l = &w->notes[i].l;

                space_apply_wait(s, l);
                if (l->has_wait)
                        metrics_set_wait(metrics, w->notes[i].record, l, l->wait_ms);
        }
        return r;
}

static bool shows_wait(const Event *e, const Space *s) {
        return (e->kind == EVENT_HIGH || e->kind == EVENT_FULL || e->kind == EVENT_DROPS) &&
               e->listener.kind == LISTENER_TCP && e->listener.depth > 0 && e->listener.netns == s->id;
}

size_t queue_waits_event_ports(QueueWaits *w, const Space *s, const EventList *events) {
        w->n_ports = 0;
        for (size_t i = 0; i < events->n; i++)
                /* Out of memory: that alert's wait stays unknown. */
                if (shows_wait(&events->items[i], s))
                        (void) add_port(w, events->items[i].listener.port);
        return w->n_ports;
}

void queue_waits_apply(const Space *s, EventList *events) {
        for (size_t i = 0; i < events->n; i++)
                if (shows_wait(&events->items[i], s))
                        space_apply_wait(s, &events->items[i].listener);
}

void queue_waits_look_for(QueueWaits *w, const Stalls *st, Space *s) {
        size_t n = stalls_head_cookies(st, s->id, true, NULL, 0);

        /* Out of memory: the read finds none, and they count as moved. */
        if (GROW(&w->cookies, &w->cap_cookies, n, 16) < 0 ||
            space_wait_look_for(s, w->cookies, stalls_head_cookies(st, s->id, true, w->cookies, n)) < 0)
                (void) space_wait_look_for(s, NULL, 0);
}

size_t queue_waits_head_ports(QueueWaits *w, const Stalls *st, Space *s, bool candidates) {
        size_t n = stalls_head_ports(st, s->id, candidates, NULL, 0), had = w->n_ports;

        queue_waits_look_for(w, st, s);
        /* Out of memory: those heads stay unread this poll. */
        if (n == 0 || GROW(&w->ports, &w->cap_ports, w->n_ports + n, 16) < 0)
                return 0;
        n = stalls_head_ports(st, s->id, candidates, w->ports + had, n);
        w->n_ports = had + n;
        return n;
}

static bool read_head(Listener *l, uint64_t head, bool *queued, void *userdata) {
        Space *s = userdata;

        /* A UNIX listener's clients: one exact request, no walk. */
        if (l->kind == LISTENER_UNIX)
                return space_unix_clients(s, l, NULL) > 0;
        if (!space_wait_covers(s, l->port))
                return false;
        space_apply_wait(s, l);
        if (!l->has_wait)
                l->head = 0;
        *queued = space_wait_found(s, head);
        return true;
}

void queue_waits_give_heads(Stalls *st, Space *s) {
        stalls_read_heads(st, s->id, read_head, s);
}
