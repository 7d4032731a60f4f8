/* SPDX-License-Identifier: MIT */
#pragma once

/* What `backlogd --once` prints: a table for a person, or one JSON object.
 * Renders only: what it shows of owners and devices was resolved into
 * s->info beforehand (once.c); states come from c's watch levels. */

#include <stdio.h>

#include "config.h"
#include "snapshot.h"

/* Listeners fullest first, then the host counters, the sysctls and the
 * hints. Returns 0 or -errno of f. */
int report_table(FILE *f, const Snapshot *s, const Config *c);
int report_json(FILE *f, const Snapshot *s, const Config *c);
