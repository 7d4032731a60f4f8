/* SPDX-License-Identifier: MIT */
#pragma once

/* Where events and log lines go: the journal (sd_journal_send, structured
 * fields) or readable lines on stderr. */

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"
#include "util.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO,    /* journal if stderr is the journal stream */
        LOG_TARGET_JOURNAL,
        LOG_TARGET_CONSOLE,
        _LOG_TARGET_MAX,
} LogTarget;

const char *log_target_name(LogTarget t);
/* "auto", "journal", "console" → target; -EINVAL otherwise. */
int log_target_from_string(const char *s, LogTarget *ret);

/* True when fd 2 is the stream systemd connected to the journal
 * ($JOURNAL_STREAM names its device and inode). */
bool sink_stderr_is_journal(void);

typedef struct Sink {
        LogTarget target; /* resolved: JOURNAL or CONSOLE */
} Sink;

void sink_init(Sink *s, LogTarget t);

/* Where the listener of an event lives and who owns it, as far as is known:
 * NULL members and pid 0 are unknown and left out, never guessed. For
 * EVENT_COUNTER only netns is used. */
typedef struct EventOwner {
        const char *netns;  /* the network namespace's name (BACKLOGD_NETNS);
                             * the sentence names it unless it is NETNS_HOST_NAME */
        bool netns_dropped; /* EVENT_GONE because backlogd stopped watching the
                             * namespace, not because the listener closed */
        const char *unit;   /* "nginx.service" */
        const char *cgroup; /* "/system.slice/nginx.service" */
        const char *user;   /* from the socket's uid */
        int pid;
        char comm[16];
} EventOwner;

/* The sentence for MESSAGE: whole, with the owner (o may be NULL) and the
 * remedy. Returns the length it needed, as snprintf. */
size_t sink_format_message(const Event *e, const EventOwner *o, char *buf, size_t size);

/* Sends one event (o may be NULL). Returns 0 or a negative errno (the
 * journal may be away: the caller goes on). */
int sink_event(const Sink *s, const Event *e, const EventOwner *o);

/* A lifecycle or error line (priority as in syslog.h); message_id may be
 * NULL. */
int sink_log(const Sink *s, int priority, const char *message_id, const char *fmt, ...) _printf_(4, 5);
