/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "util.h"

/* Tokens are counted in millionths, earned per microsecond. */
#define UNIT 1000000ULL

typedef struct Owner {
        uint32_t uid;
        bool used;
        uint64_t credit;      /* millionths of a token */
        uint64_t credit_usec; /* earned up to here */
        uint64_t denied[_EVENT_KIND_MAX];
        uint64_t n_denied;
        uint64_t since_usec; /* first denial of the pending summary */
        uint64_t seen_usec;  /* last asked about */
} Owner;

struct Budget {
        uint64_t credit;
        uint64_t credit_usec;
        bool started;
        Owner owners[BUDGET_OWNERS];
};

int budget_new(Budget **ret) {
        Budget *b = calloc(1, sizeof(*b));

        if (!b)
                return -ENOMEM;
        *ret = b;
        return 0;
}

Budget *budget_free(Budget *b) {
        free(b);
        return NULL;
}

static void earn(uint64_t *credit, uint64_t *at, uint64_t now, uint64_t per_sec, uint64_t burst) {
        uint64_t dt = now > *at ? now - *at : 0, max = burst * UNIT;

        *at = now;
        if (*credit >= max)
                return;
        /* per_sec tokens a second = per_sec millionths a microsecond */
        *credit = dt > (max - *credit) / per_sec ? max : *credit + dt * per_sec;
}

static Owner *owner_of(Budget *b, uint32_t uid, uint64_t now) {
        Owner *free_slot = NULL, *quiet = NULL, *o;

        /* The last slot is everybody the table has no room for. */
        for (size_t i = 0; i < BUDGET_OWNERS - 1; i++) {
                o = &b->owners[i];
                if (o->used && o->uid == uid)
                        return o;
                if (!o->used) {
                        if (!free_slot)
                                free_slot = o;
                        continue;
                }
                /* Replace the quiet owner asked about longest ago: one with
                 * a pending summary keeps its place. */
                if (o->n_denied == 0 && (!quiet || o->seen_usec < quiet->seen_usec))
                        quiet = o;
        }
        o = free_slot ? free_slot : quiet;
        if (!o) {
                o = &b->owners[BUDGET_OWNERS - 1];
                if (!o->used)
                        *o = (Owner){ .uid = BUDGET_OTHERS,
                                      .used = true,
                                      .credit = BUDGET_OWNER_BURST * UNIT,
                                      .credit_usec = now };
                return o;
        }
        *o = (Owner){ .uid = uid, .used = true, .credit = BUDGET_OWNER_BURST * UNIT, .credit_usec = now };
        return o;
}

bool budget_take(Budget *b, uint32_t uid, bool system, EventKind kind, uint64_t now) {
        Owner *o;

        if (!b->started) {
                b->started = true;
                b->credit = BUDGET_BURST * UNIT;
                b->credit_usec = now;
        }
        earn(&b->credit, &b->credit_usec, now, BUDGET_PER_SEC, BUDGET_BURST);
        o = owner_of(b, uid, now);
        o->seen_usec = now;
        earn(&o->credit, &o->credit_usec, now, BUDGET_OWNER_PER_SEC, BUDGET_OWNER_BURST);
        /* System owners share the global budget only, and its reserve. */
        if ((system || o->credit >= UNIT) && b->credit >= (system ? 1 : 1 + BUDGET_RESERVE) * UNIT) {
                if (!system)
                        o->credit -= UNIT;
                b->credit -= UNIT;
                return true;
        }
        /* A system owner's alert is held back, not lost: the caller says it
         * again at the next poll, or counts it with budget_deny(). */
        if (!system)
                budget_deny(b, uid, kind, now);
        return false;
}

void budget_deny(Budget *b, uint32_t uid, EventKind kind, uint64_t now) {
        Owner *o = owner_of(b, uid, now);

        if (o->n_denied == 0)
                o->since_usec = now;
        if ((unsigned) kind < _EVENT_KIND_MAX)
                o->denied[kind]++;
        o->n_denied++;
}

bool budget_next_summary(Budget *b, uint64_t now, bool flush, BudgetSummary *ret) {
        for (size_t i = 0; i < BUDGET_OWNERS; i++) {
                Owner *o = &b->owners[i];

                if (!o->used || o->n_denied == 0 || (!flush && now - o->since_usec < BUDGET_SUMMARY_USEC))
                        continue;
                *ret = (BudgetSummary){ .uid = o->uid, .total = o->n_denied, .period_usec = now - o->since_usec };
                memcpy(ret->counts, o->denied, sizeof(ret->counts));
                memset(o->denied, 0, sizeof(o->denied));
                o->n_denied = 0;
                return true;
        }
        return false;
}

/* 4213 as "4,213". */
static const char *grouped(uint64_t v, char *buf, size_t size) {
        char digits[24];
        int n = snprintf(digits, sizeof(digits), "%" PRIu64, v);
        size_t at = 0;

        for (int i = 0; i < n && at + 2 < size; i++) {
                if (i > 0 && (n - i) % 3 == 0)
                        buf[at++] = ',';
                buf[at++] = digits[i];
        }
        buf[at] = 0;
        return buf;
}

const char *budget_describe(const BudgetSummary *s, char *buf, size_t size) {
        static const struct {
                EventKind kind;
                const char *what;
        } parts[] = {
                { EVENT_FULL, "full" },
                { EVENT_HIGH, "filling up" },
                { EVENT_DROPS, "dropping" },
                { EVENT_CLEARED, "cleared" },
                { EVENT_GONE, "gone" },
                { EVENT_SYN_FULL, "with a full SYN queue" },
                { EVENT_SYN_HIGH, "with a SYN queue filling up" },
                { EVENT_SYN_CLEARED, "with a SYN queue cleared" },
                { EVENT_IMBALANCE, "in an unbalanced SO_REUSEPORT group" },
                { EVENT_IMBALANCE_CLEARED, "in an SO_REUSEPORT group balanced again" },
                { EVENT_STALLED, "stalled" },
                { EVENT_ACCEPTING, "accepting again" },
                { EVENT_COUNTER, "host counter reports" },
        };
        size_t at = 0, shown = 0, left = 0;
        char num[32];

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(parts); i++)
                left += s->counts[parts[i].kind] > 0;
        for (size_t i = 0; i < ELEMENTSOF(parts) && at < size; i++) {
                uint64_t c = s->counts[parts[i].kind];
                int n;

                if (c == 0)
                        continue;
                left--;
                n = snprintf(buf + at, size - at, "%s%s %s%s",
                             shown == 0  ? ""
                             : left == 0 ? " and "
                                         : ", ",
                             grouped(c, num, sizeof(num)),
                             shown == 0 && parts[i].kind != EVENT_COUNTER
                                     ? (c == 1 ? "more listener " : "more listeners ")
                                     : "",
                             parts[i].what);
                if (n < 0)
                        break;
                at += (size_t) n;
                shown++;
        }
        return buf;
}
