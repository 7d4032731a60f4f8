/* SPDX-License-Identifier: MIT */
#pragma once

/* `backlogd --once`: every watched namespace read once through the same
 * reader as the daemon's (space.h), owners and devices resolved, then the
 * report printed. */

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "snapshot.h"

typedef struct OnceOptions {
        const Config *config;
        const char *proc_root;
        const PortRange *ports; /* --port; none: the configuration's (all when it has none) */
        size_t n_ports;
        char *const *netns; /* --netns files and patterns, added to the configuration's */
        size_t n_netns;
        bool unix_listeners; /* --unix */
        bool processes;      /* --processes: name the processes of listeners in trouble */
        bool json;
        const char *record_path; /* --record: the host's dump into this file */
} OnceOptions;

/* Returns an exit status: 0, or 1 when something could not be read (said
 * on stderr; what could be read is still shown). */
int once_run(const OnceOptions *o);
