/* SPDX-License-Identifier: MIT */
#pragma once

/* The long-running mode: an sd_event loop that polls (monitor.h) on a timer,
 * reloads on SIGHUP, stops on SIGTERM/SIGINT, and speaks the service
 * manager's protocol (READY, STATUS, RELOADING, STOPPING, WATCHDOG). */

#include <stdbool.h>
#include <stdint.h>

#include "sink.h"

typedef struct DaemonOptions {
        const char *config_path; /* the file to (re)load */
        bool config_must_exist;  /* given with -c */
        uint64_t interval_usec;  /* 0 = from the file */
        LogTarget log_target;
        int log_level;         /* -1: SYSTEMD_LOG_LEVEL, else the file's, else info */
        const char *proc_root; /* "/proc" */
} DaemonOptions;

/* The signals the loop takes over: block them first thing in main(), so
 * that one arriving during start-up is handled, not fatal. */
void daemon_block_signals(void);

/* Runs until SIGTERM/SIGINT. Returns an exit status (0, 1, or 78 when the
 * configuration cannot be loaded at start). */
int daemon_run(const DaemonOptions *o);
