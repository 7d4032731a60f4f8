/* SPDX-License-Identifier: MIT */
#pragma once

/* The long-running mode: an sd_event loop that polls, decides and reports. */

#include <stdint.h>

#include "sink.h"

typedef struct DaemonOptions {
        const char *config_path; /* the file to (re)load */
        bool config_must_exist;  /* given with -c */
        uint64_t interval_usec;  /* 0 = from the file */
        LogTarget log_target;
        const char *proc_root;   /* "/proc" */
} DaemonOptions;

/* Runs until SIGTERM/SIGINT. Returns an exit status (0, 1, or 78 when the
 * configuration cannot be loaded at start). */
int daemon_run(const DaemonOptions *o);
