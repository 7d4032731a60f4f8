/* SPDX-License-Identifier: MIT */
#pragma once

/* A Prometheus text-format file for node_exporter's textfile collector,
 * replaced atomically when its samples change. Nothing here logs.
 *
 * The caller decides how often to write (monitor.c: every metrics_interval)
 * and calls metrics_begin(), metrics_add_listener() for each watched
 * listener, metrics_set_counters() and metrics_commit() on those polls only.
 * On the polls in between it calls metrics_note_listener(), which costs
 * nothing for a listener with an empty queue and no drops.
 *
 * Which listeners get series: with metrics_writer_set_all(m, true) (the
 * default here; `metrics_all = true`) every listener added. Otherwise only
 * those that have been "active" — accept queue or SYN queue non-empty, or a
 * drop count above 0 — in a poll the writer was told about (added or
 * noted), since the writer was made. Those sockets are followed by
 * (Listener.netns, Listener.cookie) in a hash table of 24 bytes per socket
 * (slots at most half full), and forgotten once neither added nor noted for
 * two full polls (closed; a dump may miss a socket once). The series of a
 * listener that was active stay, with its current values, while it lives.
 * A socket with cookie 0 cannot be followed: it is exported only while
 * active. Of an SO_REUSEPORT group (see below) all members are exported
 * when one is, so that the merged values stay whole.
 *
 * A poll streams listeners one by one, but the text format wants each metric
 * family written once with its samples together, so the writer buffers one
 * compact record per listener (MetricsWriter's arrays are reused from poll to
 * poll: once grown, a poll allocates nothing) and writes the families at the
 * end:
 *
 *   backlogd_listen_queue_depth     gauge    every listener
 *   backlogd_listen_queue_backlog   gauge    every listener
 *   backlogd_listen_drops_total     counter  listeners with a drop count
 *   backlogd_syn_queue_depth        gauge    listeners whose SYN depth is known
 *   backlogd_listen_queue_wait_seconds gauge listeners whose queue's wait is known
 *   backlogd_listen_queue_stalled_seconds gauge listeners that are stalled (stalls.h)
 *   backlogd_tcpext_total           counter  {counter="ListenOverflows",netns=...}
 *   backlogd_poll_seconds           gauge    duration of the last poll
 *   backlogd_last_poll_timestamp_seconds gauge  unix time of the last poll
 *
 * A family with no sample is left out entirely (no HELP/TYPE either).
 *
 * Labels of the per-listener families, in this order; a label whose value
 * would be empty is left out (in Prometheus an empty label is the same as
 * an absent one, so the series are the same and {port=""} still selects
 * UNIX listeners; node_exporter fills absent ones in as ""):
 *   address  "127.0.0.1", "::", ... (no brackets); for a UNIX listener its
 *            bound path, "@name" for an abstract one
 *   port     decimal TCP port; absent for a UNIX listener
 *   family   "inet", "inet6" or "unix"
 *   netns    the caller's name for the network namespace (absent when "")
 *   name     the configured name of the listener, absent when none
 *   unit     the owning systemd unit, absent when unknown
 * Label values are escaped as the format requires (\\, \", \n); bytes that
 * are not valid UTF-8 (a UNIX path can hold any) become U+FFFD, since
 * Prometheus rejects the whole file otherwise.
 *
 * A dump is not a snapshot: the kernel may show one socket twice in it. A
 * socket is known by Listener.netns and Listener.cookie, so of the records
 * of one poll with the same pair only the one added last is kept (as
 * listener_set_sort_dedup() keeps the later sighting), before any merge; a
 * socket seen twice would otherwise count twice, and its drop counter would
 * double for one write and fall back, which Prometheus reads as a reset.
 * The kernel never reports cookie 0 (it means "none assigned yet"), so a
 * record with cookie 0, from a caller that does not know the cookie, is
 * never taken for a repeat.
 *
 * Then listeners whose six labels are equal (an SO_REUSEPORT group: several
 * sockets on one address:port) are merged into one series, because a
 * repeated series makes node_exporter drop the whole file: depth, backlog
 * and drops are summed, the SYN depth and the wait are the largest of the
 * known ones (the kernel counts SYN-queue entries per address:port, not per
 * socket, and the group's queued connections cannot be told apart). The
 * summed drop counter goes down when a member socket closes; Prometheus
 * treats that as a counter reset. Samples are sorted by netns, family,
 * address, port, name, unit, so the output does not depend on dump order.
 *
 * "Changed" means: the text before the backlogd_poll_seconds lines differs
 * from the text last written — a sample's value, a series that appeared or
 * went, a counter. backlogd_poll_seconds and
 * backlogd_last_poll_timestamp_seconds alone do not count: they are the
 * duration and time of the poll the file was last written at. An unchanged
 * file only gets its modification time set to now, which node_exporter
 * exports as node_textfile_mtime_seconds: that is the value to alert on
 * when the file goes stale.
 *
 * Memory: 112 bytes per listener record, plus strlen(path) + 1 for a UNIX
 * listener, plus the rendered text twice (the one being made and the one
 * last written; 4 lines of about 110 bytes per exported listener with
 * short names), plus the followed sockets, all kept and reused. */

#include <stdint.h>
#include <stdio.h>

#include "netstat.h"
#include "snapshot.h"
#include "util.h"

typedef struct MetricsWriter MetricsWriter;

/* path is the target file, e.g. /var/lib/prometheus/node-exporter/backlogd.prom.
 * Only the path is checked here: absolute, its name ending in ".prom" (the
 * collector reads nothing else), short enough for the temporary names
 * (-EINVAL / -ENAMETOOLONG with a reason naming the path). Its directory
 * need not exist yet: each metrics_commit() looks for it afresh, so the file
 * appears on the first commit after the directory does. */
int metrics_writer_new(const char *path, MetricsWriter **ret, ErrBuf *err);
MetricsWriter *metrics_writer_free(MetricsWriter *m);
static inline void metrics_writer_freep(MetricsWriter **m) {
        metrics_writer_free(*m);
}

/* Whether every listener added gets series (true, the default) or only
 * those that have been active (see above). */
void metrics_writer_set_all(MetricsWriter *m, bool all);

/* Starts a full poll, one that will commit: forgets the listeners and
 * counters added before, and the followed sockets not seen for two full
 * polls. */
void metrics_begin(MetricsWriter *m);

/* On a poll that does not commit: follows l from now on if it is active
 * (queue or SYN queue non-empty, drops above 0; syn_depth < 0: unknown).
 * Does nothing for an idle listener, or with set_all. -ENOMEM when the
 * table cannot grow (l is then exported only while active). */
int metrics_note_listener(MetricsWriter *m, const Listener *l, int64_t syn_depth);

/* The listeners of namespace netns (Listener.netns) could not be dumped in
 * this full poll: they are not forgotten for it. */
void metrics_keep_netns(MetricsWriter *m, uint64_t netns);

/* How many sockets are followed (for tests and memory figures). */
size_t metrics_n_followed(const MetricsWriter *m);

/* Records one listener. netns, name and unit may be NULL (taken as "") and
 * are NOT copied: the caller keeps them valid and unchanged until the
 * metrics_commit()/metrics_render() of this poll returns. l is copied (its
 * UNIX path too) and need not outlive the call. syn_depth < 0 means unknown.
 * Adding the same socket (l->netns, l->cookie) again in one poll replaces
 * the earlier sighting rather than adding to it. Also notes l as
 * metrics_note_listener() does; its series are written only if it is
 * followed (or with set_all). -ENOMEM when the record array or the path
 * store cannot grow; the listener is then missing from this poll's file. */
int metrics_add_listener(MetricsWriter *m, const Listener *l, const char *netns, const char *name, const char *unit,
                         int64_t syn_depth);

/* How many listeners metrics_add_listener() recorded since
 * metrics_begin(); right after an add that succeeded, its record's index
 * is this minus one. */
size_t metrics_n_listeners(const MetricsWriter *m);

/* Gives record idx, which must be l's (l->netns and l->cookie; otherwise,
 * say after a failed add, nothing happens), the age of the oldest
 * connection in its queue: backlogd_listen_queue_wait_seconds. Before
 * metrics_commit()/metrics_render() of the poll. */
void metrics_set_wait(MetricsWriter *m, size_t idx, const Listener *l, uint32_t wait_ms);

/* The same for a stalled listener: how long, at least, it has accepted
 * nothing (backlogd_listen_queue_stalled_seconds; a group's largest). */
void metrics_set_stalled(MetricsWriter *m, size_t idx, const Listener *l, uint32_t stalled_s);

/* Records the TcpExt counters of one namespace (present ones only are
 * written). c is copied; netns is kept as in metrics_add_listener(). A second
 * call for the same netns replaces the first. -ENOMEM as above. */
int metrics_set_counters(MetricsWriter *m, const char *netns, const NetstatCounters *c);

/* Renders the file and, when its samples differ from those last written
 * (or nothing was written yet, or the target is no longer the file written
 * last), replaces the target, so that no reader ever sees a
 * partial file and nobody else can keep it from being replaced: writes an
 * unnamed file in the target's directory (O_TMPFILE), fchmod()ed to 0644
 * whatever the umask, links it under a random name
 * "<dir>/.<name>.<16 hex digits>.tmp" (not ending in ".prom", so the
 * collector never reads it; linkat() never follows an existing entry and
 * another random name is tried), then rename()s that over the target (a
 * symlink at the target is replaced, not followed). Where the file system
 * has no O_TMPFILE, mkostemps() makes the random name, O_EXCL. No fsync:
 * after a crash the next poll rewrites the file anyway. On any error nothing
 * new is left in the directory, the old target stays, and a reason naming
 * the path is put in err: -ENOENT / -ENOTDIR while the directory does not
 * exist ("PATH: directory DIR: No such file or directory"), -EACCES when it
 * cannot be written, ... Returns the number of bytes written, 0 when the
 * samples were unchanged and only the target's modification time was set
 * (utimensat(), AT_SYMLINK_NOFOLLOW). A poll that does not grow the
 * buffers allocates nothing here. */
int metrics_commit(MetricsWriter *m, double poll_seconds, double now_unix, ErrBuf *err);

/* Renders the same text to f (for tests and tools). Returns the number of
 * bytes written, -ENOMEM, or -EIO when f reports an error. */
int metrics_render(MetricsWriter *m, FILE *f, double poll_seconds, double now_unix);
