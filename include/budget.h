/* SPDX-License-Identifier: MIT */
#pragma once

/* How many alerts reach the journal: a global budget, fair between owners,
 * so that one local user who fills and churns thousands of listeners can
 * neither flood the journal (and make journald's own rate limit drop other
 * entries) nor starve the alerts about anybody else's queues.
 *
 *   - Globally: BUDGET_BURST entries at once, then BUDGET_PER_SEC a second.
 *   - Per owner (a uid): BUDGET_OWNER_BURST at once, then
 *     BUDGET_OWNER_PER_SEC a second, so that several owners share.
 *   - System owners (uid < 1000, or a listener of a unit in system.slice,
 *     and the host counters) come first when the budget is tight: they have
 *     no per-owner bound, and the last BUDGET_RESERVE global tokens are
 *     theirs only.
 *   - What a system owner is denied is not counted: the caller holds it
 *     back for its next poll, or, for an alert that cannot be said again
 *     (a counter's, a listener's that is gone), counts it (budget_deny()).
 *   - What another owner is denied is counted by kind and reported once a minute
 *     as one summary per owner ("uid 1000 (alice): 4,213 more listeners
 *     full and 8,102 gone in the last minute; not reported one by one").
 *
 * Pure: the caller supplies the time. A fixed table of owners (the oldest
 * quiet one replaced), so memory is bounded whatever the uids. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define BUDGET_BURST 100
#define BUDGET_PER_SEC 5
#define BUDGET_RESERVE 30
#define BUDGET_OWNER_BURST 20
#define BUDGET_OWNER_PER_SEC 1
#define BUDGET_SUMMARY_USEC (60ULL * 1000000ULL)
#define BUDGET_OWNERS 256
/* The uid of the summary of everybody the table had no room for (all its
 * owners had summaries pending). */
#define BUDGET_OTHERS UINT32_MAX

typedef struct Budget Budget;

int budget_new(Budget **ret);
Budget *budget_free(Budget *b);

/* Whether one entry about an event of kind, owned by uid (system: a system
 * owner), may be written at now; if not, it is counted for the owner's
 * summary. */
bool budget_take(Budget *b, uint32_t uid, bool system, EventKind kind, uint64_t now);

/* Counts an alert of kind, owned by uid, that was not written and will not
 * be said again, for the owner's summary (budget_take() does it for owners
 * that are not system ones). */
void budget_deny(Budget *b, uint32_t uid, EventKind kind, uint64_t now);

/* A summary due: what an owner was denied over period_usec. */
struct BudgetSummary {
        uint32_t uid;
        uint64_t counts[_EVENT_KIND_MAX];
        uint64_t total;
        uint64_t period_usec;
};
typedef struct BudgetSummary BudgetSummary;

/* The next summary due at now (all of them when flush, at stop), taken out
 * of the budget: returns true and fills *ret, or false when none is due.
 * Summaries cost no token: there is at most one per owner and minute. */
bool budget_next_summary(Budget *b, uint64_t now, bool flush, BudgetSummary *ret);

/* "4,213 more listeners full and 8,102 gone" for a summary. */
const char *budget_describe(const BudgetSummary *s, char *buf, size_t size);
