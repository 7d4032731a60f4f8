/* SPDX-License-Identifier: MIT */
#pragma once

/* What the decision steps (policy for listeners, counters for the host's
 * listen counters) hand to the outputs: plain events, each with everything
 * its sentence and journal fields need from the kernel side. Who owns a
 * listener is resolved later, by the caller, into an EventOwner (sink.h). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netstat.h"
#include "snapshot.h"

/* A watch entry's name: printable ASCII, at most this many bytes. */
#define EVENT_NAME_MAX 64

typedef enum EventKind {
        EVENT_HIGH,        /* fill rose to warn or above */
        EVENT_FULL,        /* depth reached capacity */
        EVENT_CLEARED,     /* fill fell below clear */
        EVENT_DROPS,       /* the listener's drop count rose */
        EVENT_GONE,        /* a raised listener is no longer watched (GoneReason) */
        EVENT_COUNTER,     /* a host counter rose */
        EVENT_SYN_HIGH,    /* the SYN queue rose to warn or above */
        EVENT_SYN_FULL,    /* the SYN queue reached capacity */
        EVENT_SYN_CLEARED, /* the SYN queue fell below clear */
        EVENT_STALLED,     /* the queue's head stayed for `stall` seconds: nothing accepted */
        EVENT_ACCEPTING,   /* a stalled queue moved again */
        /* An SO_REUSEPORT group has a full member while at least half are
         * below clear (groups.h), and when that is over; the listener is
         * that member. */
        EVENT_IMBALANCE,
        EVENT_IMBALANCE_CLEARED,
        _EVENT_KIND_MAX,
} EventKind;

/* Why an EVENT_GONE listener is no longer watched. */
typedef enum GoneReason {
        GONE_CLOSED,    /* the dump no longer shows it: it stopped listening */
        GONE_UNWATCHED, /* it still listens, but the configuration no longer selects it */
        GONE_NETNS,     /* its network namespace is no longer watched */
} GoneReason;

/* BACKLOGD_EVENT values: "high", "full", ...; NULL out of range. */
const char *event_kind_name(EventKind k);

/* Why a listener dropped connection attempts (EVENT_DROPS), or what a host
 * counter's rise means (EVENT_COUNTER), from which host counters rose in
 * the period the event covers (counters_cause()). */
typedef enum EventCause {
        EVENT_CAUSE_NONE,         /* not known (no counters read): no BACKLOGD_CAUSE */
        EVENT_CAUSE_ACCEPT_QUEUE, /* ListenOverflows: an accept queue was full */
        EVENT_CAUSE_SYN_QUEUE,    /* TCPReqQFullDrop: a SYN queue was full, cookies off */
        EVENT_CAUSE_SYN_FLOOD,    /* TCPReqQFullDoCookies: SYN cookies were sent */
        EVENT_CAUSE_DEFER_ACCEPT, /* TCPDeferAcceptDrop: silent clients' ACKs were dropped */
        EVENT_CAUSE_OTHER,        /* none of those counters rose */
        _EVENT_CAUSE_MAX,
} EventCause;

/* BACKLOGD_CAUSE values: "accept_queue", "syn_queue", "syn_flood",
 * "defer_accept", "other"; NULL for EVENT_CAUSE_NONE and out of range. */
const char *event_cause_name(EventCause c);

typedef struct Event {
        EventKind kind;
        bool reminder;                 /* a repeat of a raised high/full alert */
        GoneReason gone;               /* EVENT_GONE */
        Listener listener;             /* as last seen (EVENT_COUNTER: only netns) */
        char name[EVENT_NAME_MAX + 1]; /* the watch entry's name, "" if none */
        unsigned fill_pct;
        uint64_t drops;           /* EVENT_DROPS: the increase being reported */
        uint64_t period_usec;     /* EVENT_DROPS/COUNTER: time the increase covers */
        uint64_t stalled_usec;    /* EVENT_STALLED: how long nothing has been accepted (at
                                   * least); EVENT_ACCEPTING: how long the stall lasted */
        uint64_t end_usec;        /* EVENT_DROPS/COUNTER: when that time ends (monotonic) */
        EventCause cause;         /* EVENT_DROPS/COUNTER */
        NetstatCounter counter;   /* EVENT_COUNTER */
        uint64_t increase;        /* EVENT_COUNTER */
        bool clamped;             /* backlog == net.core.somaxconn, which has not
                                   * changed since the listener was first seen */
        int64_t somaxconn;        /* -1 when unknown */
        int8_t abort_on_overflow; /* net.ipv4.tcp_abort_on_overflow: 0, 1, -1 unknown */
        uint32_t group_size;      /* EVENT_IMBALANCE*: members of the group */
        uint32_t group_full;      /* of which full */
        uint32_t group_below;     /* of which below their clear level */
} Event;

typedef struct EventList {
        Event *items;
        size_t n;
        size_t cap;
} EventList;

/* Appends a zeroed event; NULL when out of memory. */
Event *event_list_push(EventList *l);
void event_list_clear(EventList *l);
void event_list_done(EventList *l);
