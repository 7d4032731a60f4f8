/* SPDX-License-Identifier: MIT */
#include "levels.h"
#include "util.h"

static const char *const listen_state_names[] = {
        [STATE_OK] = "ok",
        [STATE_HIGH] = "high",
        [STATE_FULL] = "full",
};

const char *listen_state_name(ListenState s) {
        if ((unsigned) s >= ELEMENTSOF(listen_state_names))
                return NULL;
        return listen_state_names[s];
}

/* depth*100 >= pct*capacity: no division, no rounding. */
static bool at_least(uint64_t depth, uint64_t capacity, unsigned pct) {
        return depth * 100 >= (uint64_t) pct * capacity;
}

ListenState levels_classify(const Listener *l, unsigned warn) {
        if (listener_is_full(l))
                return STATE_FULL;
        return at_least(l->depth, listener_capacity(l), warn) ? STATE_HIGH : STATE_OK;
}

ListenState levels_step(ListenState st, const Listener *l, unsigned warn, unsigned clear) {
        if (listener_is_full(l))
                return STATE_FULL;
        return at_least(l->depth, listener_capacity(l), st == STATE_OK ? warn : clear) ? STATE_HIGH : STATE_OK;
}

ListenState levels_step_syn(ListenState st, const Listener *l, unsigned warn, unsigned clear) {
        uint64_t cap = listener_capacity(l);

        if (l->syn_depth >= cap)
                return STATE_FULL;
        return at_least(l->syn_depth, cap, st == STATE_OK ? warn : clear) ? STATE_HIGH : STATE_OK;
}
