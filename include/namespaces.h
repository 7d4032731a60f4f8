/* SPDX-License-Identifier: MIT */
#pragma once

/* Which network namespaces are watched: the reader's own, with id 0,
 * unless `host = false`, and those the configured `namespaces` files and
 * glob patterns name, one Space (space.h) each. namespaces_scan() brings
 * the list up to date: a new namespace is opened, one whose file went away
 * is marked gone (kept until the caller has reported its last events, then
 * freed by namespaces_reap()). What happened is handed back as changes for
 * the caller to report; nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "netns.h"
#include "space.h"

/* Configured files and patterns are looked at again this often. */
#define NAMESPACES_RESCAN_USEC (1ULL * 1000000ULL)

/* At most this many unknown namespace files are opened per scan (a
 * `/proc/PID/ns/net` pattern with a glob for PID matches every process); the others wait for the
 * next scans. Known ones cost a stat(2). */
#define NAMESPACES_OPENS_PER_SCAN 64

typedef enum NsChangeKind {
        NS_WATCHING, /* a namespace is watched from now on (id) */
        NS_DROPPED,  /* a namespace is no longer watched (id): its events follow */
        NS_FAILING,  /* a configured path cannot be watched (message says why) */
        NS_FATAL,    /* could not come back to the own namespace: stop */
} NsChangeKind;

typedef struct NsChange {
        NsChangeKind kind;
        uint64_t id;    /* NS_WATCHING, NS_DROPPED: the Space's id */
        char text[640]; /* a sentence for the log */
} NsChange;

typedef struct Namespaces {
        Space **spaces; /* live ones, and gone ones until namespaces_reap() */
        size_t n, cap;
        char *proc_root; /* the own namespace's */
        int self_fd;     /* -1 when the own namespace is unknown */
        uint64_t self_inode;

        NsChange *changes; /* of the last scan */
        size_t n_changes, cap_changes;

        NetnsList found; /* reused by every scan */
        struct NsPathError *errors;
        size_t n_errors, cap_errors;
        int expand_error;
        bool scanned, scanned_once, forced;
        uint64_t scan_usec;
} Namespaces;

int namespaces_new(const char *proc_root, Namespaces **ret);
Namespaces *namespaces_free(Namespaces *ns);

/* The next scan happens whatever the time (the configuration changed). */
void namespaces_force(Namespaces *ns);

/* Brings the list up to date with c at monotonic time now, at most every
 * NAMESPACES_RESCAN_USEC unless forced; ns->changes says what happened.
 * Never fails: what cannot be done is retried, and reported once. A
 * transient error (EMFILE, ENOMEM, EACCES...) on a watched namespace's
 * file keeps it; only a file that is gone (ENOENT) or now names another
 * namespace drops it. */
void namespaces_scan(Namespaces *ns, const Config *c, uint64_t now);

/* The Space with Listener.netns id: a live one, else one marked gone; NULL
 * if none. */
Space *namespaces_find(const Namespaces *ns, uint64_t id);

/* Frees the spaces marked gone. */
void namespaces_reap(Namespaces *ns);

/* Live spaces (not gone). */
size_t namespaces_n_live(const Namespaces *ns);
