/* SPDX-License-Identifier: MIT */
#pragma once

/* The pure decision step for listeners: previous state + one poll's
 * listeners, each with the watch entry already matched by the caller, +
 * config → events. No I/O, no clock reads, no lookups: everything it needs
 * is handed in (the caller supplies the time and each namespace's sysctls).
 * Host counters are decided by counters.h. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"
#include "levels.h"
#include "netstat.h"
#include "rate.h"
#include "snapshot.h"

/* Message bound, per listener: a state change (high, full, cleared) is
 * reported at once while the listener has tokens; it holds POLICY_BURST
 * tokens and earns one back every POLICY_TOKEN_USEC. Changes that happen
 * while it has none are folded: the state it is in when a token is earned is
 * reported (or nothing, if it is back where it was). Drops are reported at
 * once the first time, then summed and reported at most once every
 * POLICY_DROPS_USEC (rate.h). */
#define POLICY_BURST 4
#define POLICY_TOKEN_USEC (15ULL * 1000000ULL)
#define POLICY_DROPS_USEC RATE_PERIOD_USEC

/* The token bucket of that bound, for any state that follows it (groups.h
 * too): earns the tokens due at now since *token_usec, up to POLICY_BURST. */
void policy_earn_tokens(uint8_t *tokens, uint64_t *token_usec, uint64_t now);

typedef struct Policy Policy;

int policy_new(Policy **ret);
Policy *policy_free(Policy *p);

/* A poll is streamed through the policy:
 *
 *   policy_begin(p, c, now, reconfigured)
 *   for each watched namespace: policy_netns(p, netns, sysctls), then
 *       policy_observe(p, l, w, out) for each of its listeners, in any
 *       order (no snapshot to keep or sort), or policy_keep_netns() if its
 *       dump failed;
 *   policy_drop_netns() for each namespace no longer watched;
 *   policy_end(p, out) — or policy_abort(p) if every dump failed.
 *
 * A listener first seen in a namespace's first complete poll, or in the
 * first poll after a reconfiguration, only sets its drop baseline; one that
 * appears later reports the drops its counter already holds (they all
 * happened since it was created). Listeners already raised report high/full
 * at once. Levels: ok -> high at fill >= warn, any -> full at depth >=
 * capacity; a raised listener clears only when fill < clear. full -> high
 * (still >= clear) is not reported, so that a refill is reported as FULL
 * again. Reminders (reminder = true, kind of the reported state) come every
 * repeat_usec after the last message about the state, cost no token, and
 * wait while a folded change is pending. A watched listener that goes (its
 * namespace's dump no longer shows it, the configuration no longer selects
 * it, or its namespace is dropped) first flushes its unreported drops, then
 * gets EVENT_GONE with the reason if the last state message said high/full.
 * Drop counters are 32 bits wide and wrap: increases are taken modulo 2^32.
 *
 * Event.clamped: the backlog equals the namespace's somaxconn and somaxconn
 * is what it was when the listener was first seen (a somaxconn lowered to a
 * listener's backlog later did not cut it down).
 *
 * In steady state (same population) a poll allocates nothing. Memory: a
 * 32-byte slot per watched listener in a hash table kept at most 70 % full,
 * plus a record of about 300 bytes for listeners with recent history only. */

/* Starts a poll at time now_usec (CLOCK_MONOTONIC). c must stay valid until
 * policy_end()/policy_abort(). reconfigured: the configuration changed
 * since the last poll (listeners that appear are not new, only newly
 * selected, and tracked listeners it no longer selects are GONE_UNWATCHED). */
void policy_begin(Policy *p, const Config *c, uint64_t now_usec, bool reconfigured);

/* The listeners observed next belong to namespace netns, whose sysctls are
 * these (NULL: unknown; copied). */
void policy_netns(Policy *p, uint64_t netns, const NetstatSysctls *sysctls);

/* One listener from the dump, with w, the watch entry config_match()
 * answered for it (NULL: not watched), in the namespace of the last
 * policy_netns(). A (netns, cookie) seen twice in one poll is ignored (a
 * dump is not a snapshot). Decided a few observations later (its slot is
 * prefetched meanwhile), or at the latest by the next policy_netns(),
 * policy_end() or policy_abort(): its events are appended to out then, so
 * pass the same out for the whole poll. Returns 0, or -ENOMEM: an event was
 * lost, or the listener's state could not be kept (it is then seen as new,
 * with a drop baseline, next poll); the poll goes on either way. */
int policy_observe(Policy *p, const Listener *l, const Watch *w, EventList *out);

/* The dump of namespace netns failed this poll: its listeners that were not
 * observed are not gone. */
void policy_keep_netns(Policy *p, uint64_t netns);

/* Namespace netns is no longer watched: at policy_end(), its raised
 * listeners get EVENT_GONE with GONE_NETNS, and the policy forgets it. */
void policy_drop_netns(Policy *p, uint64_t netns);

/* Ends the poll: watched listeners not observed are gone, except those of
 * kept namespaces. Returns the number of events appended during the whole
 * poll, or -ENOMEM if anything in the poll was lost. */
int policy_end(Policy *p, EventList *out);

/* A partial poll reads a few known listeners between full polls (the
 * daemon's fast polls):
 *
 *   policy_begin_partial(p, c, now)
 *   policy_observe(p, l, w, out) for each listener read, at most once each;
 *   policy_end_partial(p, out)
 *
 * Only the listeners observed are decided, with the same levels, tokens
 * (message bound), reminders and drop reports as in a full poll, so that
 * the two kinds of poll share one bound. A listener the table does not
 * know (not seen by a full poll) is ignored: full polls find listeners.
 * Nothing is declared gone, whatever was not observed: a listener that a
 * partial poll could not read is the next full poll's to decide. The
 * counts of policy_n_watched()/policy_n_raised() stay those of the last
 * full poll. Between full polls only (not inside one). */
void policy_begin_partial(Policy *p, const Config *c, uint64_t now_usec);

/* Ends a partial poll. Returns the number of events appended during it,
 * or -ENOMEM if anything in it was lost. */
int policy_end_partial(Policy *p, EventList *out);

/* Every dump failed: forgets this poll's sightings without declaring
 * anything gone. Events already appended stand. */
void policy_abort(Policy *p);

/* Reports the drop increases the message bound holds back, so that nothing
 * seen is lost when the daemon stops. Between polls only. Returns the
 * number of events appended. */
int policy_flush(Policy *p, EventList *out);

/* An event of the last poll could not be written (the journal queue was
 * full, or the budget held back a system owner's alert): its listener is
 * set back so that the next poll reports its state (or drops) again, within
 * the message bound, instead of waiting for a reminder. Events of listeners
 * no longer tracked (GONE) and counter events are not retried. Returns
 * whether the event will be said again. */
bool policy_retry(Policy *p, const Event *e);

/* A whole poll from a snapshot (tests, tools): begin, each namespace of s
 * (its own sysctls), observe every listener with the entry config_match()
 * selects given the namespace names of s (and no unit), end. */
int policy_step(Policy *p, const Config *c, const Snapshot *s, bool reconfigured, EventList *out);

/* Watched listeners raised (high or full) as classified by the last
 * completed poll, with hysteresis, whether or not a message could be sent
 * yet. For STATUS=. */
size_t policy_n_raised(const Policy *p);

/* Watched listeners observed in the last completed poll. */
size_t policy_n_watched(const Policy *p);

/* Bytes the policy holds, for tests and benchmarks. */
size_t policy_memory_bytes(const Policy *p);
