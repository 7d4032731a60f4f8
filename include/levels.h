/* SPDX-License-Identifier: MIT */
#pragma once

/* The levels of a queue: ok, high (fill at or above warn) and full (depth
 * at capacity), with hysteresis (a raised queue clears only below clear),
 * for the accept queue and, against the same capacity, the SYN queue (the
 * kernel compares both with the same limit). Pure. */

#include <stdint.h>

#include "snapshot.h"

typedef enum ListenState {
        STATE_OK,
        STATE_HIGH,
        STATE_FULL,
} ListenState;

const char *listen_state_name(ListenState s); /* "ok", "high", "full"; NULL out of range */

/* The state with the warn level alone, ignoring any history (what --once
 * shows): full if depth >= capacity, high if fill >= warn, ok otherwise. */
ListenState levels_classify(const Listener *l, unsigned warn);

/* The next state from st: full at capacity; from ok, high at fill >= warn;
 * raised, it stays high until fill < clear. */
ListenState levels_step(ListenState st, const Listener *l, unsigned warn, unsigned clear);

/* The same for the SYN queue's depth (Listener.syn_depth). */
ListenState levels_step_syn(ListenState st, const Listener *l, unsigned warn, unsigned clear);
