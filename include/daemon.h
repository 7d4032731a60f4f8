/* SPDX-License-Identifier: MIT */
#pragma once

/* The long-running mode: an sd_event loop that polls, decides and reports. */

#include <stdbool.h>
#include <stdint.h>

#include "sink.h"
#include "util.h"

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

/* The poll without the loop, for tests: daemon_new() loads the
 * configuration (-EINVAL/-ENOENT/... with err filled as config_load does),
 * daemon_poll() reads the kernel once at monotonic time now_usec, decides
 * and emits; it returns the number of listeners seen or a negative errno
 * when the dump failed. */
typedef struct Daemon Daemon;

int daemon_new(const DaemonOptions *o, Daemon **ret, ErrBuf *err);
int daemon_poll(Daemon *d, uint64_t now_usec);
Daemon *daemon_free(Daemon *d);
