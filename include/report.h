/* SPDX-License-Identifier: MIT */
#pragma once

/* What `backlogd --once` prints: a table for a person, or one JSON object. */

#include <stdio.h>

#include "config.h"
#include "owner.h"
#include "snapshot.h"

/* Listeners fullest first, then the host counters and the sysctls.
 * owner may be NULL (no owner column content). Returns 0 or -errno of f. */
int report_table(FILE *f, const Snapshot *s, const Config *c, Owner *owner);
int report_json(FILE *f, const Snapshot *s, const Config *c, Owner *owner);
