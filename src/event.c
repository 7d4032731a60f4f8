/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "util.h"

static const char *const event_kind_names[_EVENT_KIND_MAX] = {
        [EVENT_HIGH] = "high",
        [EVENT_FULL] = "full",
        [EVENT_CLEARED] = "cleared",
        [EVENT_DROPS] = "drops",
        [EVENT_GONE] = "gone",
        [EVENT_COUNTER] = "counter",
        [EVENT_SYN_HIGH] = "syn_high",
        [EVENT_SYN_FULL] = "syn_full",
        [EVENT_SYN_CLEARED] = "syn_cleared",
        [EVENT_STALLED] = "stalled",
        [EVENT_ACCEPTING] = "accepting",
        [EVENT_IMBALANCE] = "imbalance",
        [EVENT_IMBALANCE_CLEARED] = "imbalance_cleared",
};

const char *event_kind_name(EventKind k) {
        if ((unsigned) k >= _EVENT_KIND_MAX)
                return NULL;
        return event_kind_names[k];
}

static const char *const event_cause_names[_EVENT_CAUSE_MAX] = {
        [EVENT_CAUSE_ACCEPT_QUEUE] = "accept_queue",
        [EVENT_CAUSE_SYN_QUEUE] = "syn_queue",
        [EVENT_CAUSE_SYN_FLOOD] = "syn_flood",
        [EVENT_CAUSE_DEFER_ACCEPT] = "defer_accept",
        [EVENT_CAUSE_OTHER] = "other",
};

const char *event_cause_name(EventCause c) {
        if ((unsigned) c >= _EVENT_CAUSE_MAX)
                return NULL;
        return event_cause_names[c];
}

Event *event_list_push(EventList *l) {
        if (GROW(&l->items, &l->cap, l->n + 1, 16) < 0)
                return NULL;
        memset(&l->items[l->n], 0, sizeof(l->items[0]));
        return &l->items[l->n++];
}

void event_list_clear(EventList *l) {
        l->n = 0;
}

void event_list_done(EventList *l) {
        free(l->items);
        *l = (EventList){ 0 };
}
