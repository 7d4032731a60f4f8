/* SPDX-License-Identifier: MIT */
#pragma once

/* Where events and log lines go: the journal (sd_journal_send, structured
 * fields) or readable lines on stderr. */

#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "util.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO, /* journal if stderr is the journal stream */
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

typedef struct JournalWriter JournalWriter;
typedef struct BudgetSummary BudgetSummary;

typedef struct Sink {
        LogTarget target;       /* resolved: JOURNAL or CONSOLE */
        JournalWriter *journal; /* the daemon's non-blocking writer (journal.h);
                                 * NULL: libsystemd's, which may block */
        int max_priority;       /* lines of a higher (less urgent) priority are not
                                 * written: LOG_INFO by default, LOG_DEBUG to see why
                                 * each poll did what it did */
} Sink;

/* Resolves t; the level starts at LOG_INFO. */
void sink_init(Sink *s, LogTarget t);

/* Whether a line of this priority is written (skip formatting it if not). */
static inline bool sink_enabled(const Sink *s, int priority) {
        return priority <= s->max_priority;
}

/* Where the listener of an event lives and who owns it, as far as is known:
 * NULL members and pid 0 are unknown and left out, never guessed. For
 * EVENT_COUNTER only netns is used. */
typedef struct EventOwner {
        const char *netns;       /* the network namespace's name (BACKLOGD_NETNS);
                                  * the sentence names it unless it is NETNS_HOST_NAME */
        const char *interface;   /* the bound device's name in the listener's own
                                  * namespace (BACKLOGD_INTERFACE), when bound */
        const char *unit;        /* "nginx.service": the system unit systemd attributes
                                  * the socket's cgroup to (BACKLOGD_UNIT); for a
                                  * socket-activated listener, the service its socket
                                  * unit starts (or that socket unit, if none) */
        const char *socket_unit; /* "foo.socket": the socket unit whose listener it is
                                  * (BACKLOGD_SOCKET_UNIT), NULL for any other */
        const char *cgroup;      /* "/system.slice/nginx.service" */
        const char *user;        /* from the socket's uid */
        int pid;
        char comm[16];
        ProcessName clients[LISTENER_CLIENTS_MAX]; /* a UNIX listener's waiting clients'
                                                    * processes (BACKLOGD_CLIENT_PIDS) */
        uint8_t n_clients;
        const char *state; /* the process's state, "T (stopped)" (BACKLOGD_PROCESS_STATE);
                            * looked up for stalls */
} EventOwner;

/* The sentence for MESSAGE and the console: whole, with the owner (o may
 * be NULL) and the remedy, by escape.h's text rule so that no name a local
 * user chose can add a control byte or a line (the exact bytes go in the
 * BACKLOGD_* fields). Returns the length it needed, as snprintf. */
size_t sink_format_message(const Event *e, const EventOwner *o, char *buf, size_t size);

/* Sends one event (o may be NULL). Returns 0 or a negative errno (the
 * journal may be away: the caller goes on). */
int sink_event(const Sink *s, const Event *e, const EventOwner *o);

/* One entry about what the budget held back from one owner (budget.h),
 * BACKLOGD_EVENT=summary with MESSAGE_ID_SUMMARY; user may be NULL. */
int sink_summary(const Sink *s, const BudgetSummary *sum, const char *user);

/* Writes what the journal writer holds back, as far as the journal takes
 * it; never blocks. */
void sink_flush(const Sink *s);

/* A lifecycle or error line (priority as in syslog.h), escaped as the
 * sentences are; message_id may be NULL. */
int sink_log(const Sink *s, int priority, const char *message_id, const char *fmt, ...) _printf_(4, 5);
