/* SPDX-License-Identifier: MIT */
#pragma once

/* The pure decision step: previous state + one poll's listeners + config →
 * events. No I/O, no clock reads (the caller supplies the time). */

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
        EVENT_SYN_HIGH,    /* the SYN queue rose to warn or above */
        EVENT_SYN_FULL,    /* the SYN queue reached capacity */
        EVENT_SYN_CLEARED, /* the SYN queue fell below clear */
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
        int8_t abort_on_overflow; /* net.ipv4.tcp_abort_on_overflow: 0, 1, -1 unknown */
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

/* A poll is streamed through the policy: policy_begin(), policy_observe()
 * for each listener of the dump as it arrives (in any order, no snapshot to
 * keep or sort), then policy_end() — or policy_abort() if the dump failed.
 * Listeners seen for the first time only set their baseline drop count (no
 * drops event), but do raise high/full if they already are. Listeners that
 * are not watched (config_match() is NULL) cost nothing. In steady state
 * (same population) a poll allocates nothing.
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
 * Order within a poll: listeners in observe order, each with its state
 * message or reminder, then its drops; at policy_end() the listeners that
 * are gone (in no meaningful order), then host counters. When an event does
 * not fit in out (ENOMEM) the state is still updated and the event is lost.
 *
 * Memory: about 32 bytes per watched listener in a hash table kept at most
 * 70 % full, plus a record of about 140 bytes only for listeners with recent
 * history (raised, tokens spent, drops pending or reported in the last
 * POLICY_DROPS_USEC). Listeners that go stay in the table until the end of
 * the poll. Table and record pool keep their peak size (records are
 * reused, deleted keys leave no tombstones). */

/* What the policy asks its caller about a listener, when the configuration
 * needs it: the names config_match() selects by, and the sysctls of the
 * listener's network namespace (for Event.clamped/somaxconn/
 * abort_on_overflow). Any member may be NULL. Defaults: unit NULL;
 * netns_name NETNS_HOST_NAME for netns 0 and NULL otherwise. sysctls is
 * asked only outside netns 0 (netns 0 always has policy_begin()'s), when an
 * event is made; when it answers NULL the namespace's sysctls are unknown:
 * somaxconn -1, clamped false, abort_on_overflow -1 (never the host's,
 * which would judge clamped against the wrong namespace). Without a sysctls
 * function, policy_step() takes them from the snapshot's netns[] entry, and
 * a namespace without one is unknown the same way; only a poll streamed
 * with neither (policy_begin()/policy_observe()) stamps every namespace
 * with policy_begin()'s. unit and netns_name are asked only when
 * config_wants_unit()/config_wants_netns(). The strings must stay valid
 * until the call returns. */
typedef struct PolicyLookup {
        const char *(*unit)(void *userdata, uint64_t cgroup_id);
        const char *(*netns_name)(void *userdata, uint64_t netns);
        const NetstatSysctls *(*sysctls)(void *userdata, uint64_t netns);
        void *userdata;
} PolicyLookup;

/* Copies *lookup (NULL: the defaults); kept across polls. */
void policy_set_lookup(Policy *p, const PolicyLookup *lookup);

/* Starts a poll at time now_usec (CLOCK_MONOTONIC). sysctls may be NULL
 * (somaxconn unknown). c must stay valid until policy_end()/policy_abort()
 * and, as events point into it, until the events are used. */
void policy_begin(Policy *p, const Config *c, uint64_t now_usec, const NetstatSysctls *sysctls);

/* One listener from the dump, in any order; a (netns, cookie) seen twice in
 * one poll is ignored (a dump is not a snapshot). The listener is copied and
 * decided a few observations later (its table slot is prefetched meanwhile),
 * or at the latest by policy_end()/policy_abort(): its events are appended
 * to out then, so pass the same out for the whole poll. Returns 0, or
 * -ENOMEM: an event was lost, or a listener's state could not be kept (it is
 * dropped, and seen as new by the next poll); the poll goes on either way. */
int policy_observe(Policy *p, const Listener *l, EventList *out);

/* The same for a caller that has matched l already: w is what
 * config_match() answered for it with the Config of policy_begin() (NULL:
 * not watched), so that a listener is matched once per poll even when the
 * caller needs the entry too (the metrics file). */
int policy_observe_watched(Policy *p, const Listener *l, const Watch *w, EventList *out);

/* The host counters of network namespace netns for this poll, between
 * policy_begin() and policy_end(), at most once per namespace and poll.
 * Each namespace keeps its own baselines and rate limits. counters NULL:
 * not available this poll (neither reported nor losing the baseline; sums
 * held back are still reported when due). EVENT_COUNTER events carry the
 * namespace in listener.netns (the rest of listener is zero). Returns the
 * number of events appended or -ENOMEM. */
int policy_counters(Policy *p, uint64_t netns, const NetstatCounters *counters, EventList *out);

/* The dump of namespace netns failed this poll: at policy_end(), its
 * listeners that were not observed are not gone (as policy_abort() does
 * for a whole poll). Between policy_begin() and policy_end(). */
void policy_keep_netns(Policy *p, uint64_t netns);

/* Namespace netns is no longer watched: its counter state is dropped after
 * reporting the sums held back (as policy_flush()). Its listeners are
 * left to the next policy_end(), which finds them gone. Between polls or
 * during one. Returns the number of events appended. */
int policy_forget_netns(Policy *p, uint64_t netns, EventList *out);

/* Ends the poll: watched listeners not observed since policy_begin() are
 * gone (pending drops, then EVENT_GONE for raised ones), except those of
 * namespaces passed to policy_keep_netns(); then the host counters:
 * counters non-NULL is policy_counters(p, 0, counters, out) unless that was
 * called this poll, and every namespace with counter state that got no
 * policy_counters() call this poll is stepped as unavailable. Returns the
 * number of events appended during the whole poll, or -ENOMEM if anything
 * in the poll was lost. */
int policy_end(Policy *p, const NetstatCounters *counters, EventList *out);

/* The dump failed: forgets this poll's sightings without declaring anything
 * gone. Events already appended by policy_observe() stand (they describe
 * real changes, and the state they came from is kept). */
void policy_abort(Policy *p);

/* A whole poll from a snapshot: begin, observe every listener (any order),
 * the counters of each s->netns entry that has them, end with the host
 * counters if s->have_counters. Returns as policy_end(). */
int policy_step(Policy *p, const Config *c, const Snapshot *s, EventList *out);

/* Reports what the rate limits still hold back (drop and host counter
 * increases summed since their last report, of every namespace), so that nothing seen is lost
 * when the daemon stops. Between polls only. Returns the number of events
 * appended. */
int policy_flush(Policy *p, const Config *c, EventList *out);

/* Number of watched listeners raised (high or full) as classified by the
 * last completed poll, with hysteresis, whether or not a message could be
 * sent yet (a change folded by the message bound counts at once). For
 * STATUS=. */
size_t policy_n_raised(const Policy *p);

/* Watched listeners observed in the last completed poll. */
size_t policy_n_watched(const Policy *p);

/* Bytes the policy holds (table, record pool, the struct itself), for tests
 * and benchmarks. */
size_t policy_memory_bytes(const Policy *p);
