/* SPDX-License-Identifier: MIT */
#pragma once

/* The pure decision step: previous state + snapshot + config → events.
 * No I/O, no clock reads (the snapshot carries the time). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "netstat.h"
#include "snapshot.h"

/* Message bound, per listener: a state change (high, full, cleared) is
 * reported at once while the listener has tokens; it holds POLICY_BURST
 * tokens and earns one back every POLICY_TOKEN_USEC. Changes that happen
 * while it has none are folded: the state it is in when a token is earned is
 * reported (or nothing, if it is back where it was). Drops are reported at
 * once the first time, then summed and reported at most once every
 * POLICY_DROPS_USEC. Host counters: the same, per counter. */
#define POLICY_BURST 4
#define POLICY_TOKEN_USEC (15ULL * 1000000ULL)
#define POLICY_DROPS_USEC (60ULL * 1000000ULL)

typedef enum ListenState {
        STATE_OK,
        STATE_HIGH,
        STATE_FULL,
} ListenState;

const char *listen_state_name(ListenState s); /* "ok", "high", "full" */

/* The state a listener is in with the given watch levels, ignoring any
 * history (what --once shows): full if depth >= capacity, high if fill >=
 * warn, ok otherwise. */
ListenState policy_classify(const Listener *l, unsigned warn);

typedef enum EventKind {
        EVENT_HIGH,    /* fill rose to warn or above */
        EVENT_FULL,    /* depth reached capacity */
        EVENT_CLEARED, /* fill fell below clear */
        EVENT_DROPS,   /* the listener's drop count rose */
        EVENT_GONE,    /* a raised listener disappeared */
        EVENT_COUNTER, /* a host counter rose */
        _EVENT_KIND_MAX,
} EventKind;

const char *event_kind_name(EventKind k); /* BACKLOGD_EVENT values */

typedef struct Event {
        EventKind kind;
        bool reminder;      /* a repeat of a raised high/full alert */
        Listener listener;  /* as last seen (all but EVENT_COUNTER) */
        const char *name;   /* watch name, or NULL; points into the Config */
        unsigned fill_pct;
        uint64_t drops;     /* EVENT_DROPS: the increase being reported */
        uint64_t period_usec; /* EVENT_DROPS/COUNTER: time the increase covers */
        NetstatCounter counter; /* EVENT_COUNTER */
        uint64_t increase;      /* EVENT_COUNTER */
        bool clamped; /* backlog == net.core.somaxconn */
        int64_t somaxconn; /* -1 when unknown */
} Event;

typedef struct EventList {
        Event *items;
        size_t n;
        size_t cap;
} EventList;

void event_list_clear(EventList *l);
void event_list_done(EventList *l);

typedef struct Policy Policy;

int policy_new(Policy **ret);
Policy *policy_free(Policy *p);

/* Feeds one snapshot (listeners sorted and deduplicated by (netns, cookie),
 * as diag returns them). Appends this step's events to out. Listeners seen
 * for the first time only set their baseline drop count (no drops event),
 * but do raise high/full if they already are. Returns the number of events
 * appended or -ENOMEM. In steady state (same population) it allocates
 * nothing.
 *
 * Levels: ok -> high at fill >= warn, any -> full at depth >= capacity; a
 * raised listener clears only when fill < clear. full -> high (still >=
 * clear) is not reported, so that a refill is reported as FULL again.
 * Reminders (reminder = true, kind of the reported state) come every
 * repeat_usec after the last message about the state, cost no token, and
 * wait while a folded change is pending. A listener that disappears (or is
 * no longer watched after a reload) first flushes its unreported drops, then
 * gets GONE if the last state message said high/full. DROPS/COUNTER
 * period_usec: the previous poll to now for a rise reported at once, the
 * last report to now for a sum.
 *
 * Order within a step: listeners in (netns, cookie) order, each with its
 * state message or reminder, then its drops; host counters last. On -ENOMEM
 * the state is still updated; events that did not fit are lost. */
int policy_step(Policy *p, const Config *c, const Snapshot *s, EventList *out);

/* Number of watched listeners raised (high or full) as classified by the
 * last step, with hysteresis, whether or not a message could be sent yet
 * (a change folded by the message bound counts at once). For STATUS=. */
size_t policy_n_raised(const Policy *p);
