/* SPDX-License-Identifier: MIT */
#pragma once

/* Who owns a listener: the cgroup v2 directory whose inode number is the
 * socket's INET_DIAG_CGROUP_ID and the systemd unit it names, the user name
 * of its uid, and a process that holds it. Everything is best effort and
 * missing information is reported as missing (NULL, -ENOENT), never guessed.
 * Lookups are cached; on a cache hit nothing is allocated. An Owner is not
 * thread safe. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Owner Owner;

/* cgroup_root is normally "/sys/fs/cgroup", proc_root normally "/proc";
 * owner_new() uses "/proc". Neither is opened here: a missing root only
 * makes the lookups below come back empty. */
int owner_new(const char *cgroup_root, Owner **ret);
int owner_new_full(const char *cgroup_root, const char *proc_root, Owner **ret);
Owner *owner_free(Owner *o);

/* "/system.slice/nginx.service", or NULL when unknown (id 0, not found).
 * The map is built by scanning the hierarchy, cached, and rescanned (at
 * most once per OWNER_RESCAN interval, 5 s) on a miss of an id that no scan
 * has looked for yet (see owner_hold()). */
const char *owner_cgroup(Owner *o, uint64_t cgroup_id);

/* The unit of owner_cgroup()'s path ("nginx.service"), or NULL. */
const char *owner_unit(Owner *o, uint64_t cgroup_id);

/* While held, a miss does not rescan the hierarchy, so the strings
 * owner_cgroup() and owner_unit() returned stay valid (a poll that hands them
 * to the metrics writer holds the owner until it commits). A miss while held
 * is remembered: releasing the hold then rescans (within the same
 * OWNER_RESCAN limit), so a new unit is known from the next poll on.
 *
 * Only an id that no scan has looked for since it missed is worth a rescan:
 * once a scan started after its miss did not find it, the id is known
 * missing (a socket that outlived its cgroup, e.g. passed to another
 * process or kept in the fd store across a restart) and its misses, held or
 * not, rescan nothing. Lookups still search the map first, so such an id is
 * answered if a scan asked for by another miss finds it. At most 256 ids
 * are known missing (the oldest replaced); past that, misses of the
 * forgotten ones rescan again, still at most once per OWNER_RESCAN. */
void owner_hold(Owner *o, bool hold);

/* Number of hierarchy scans so far. For tests only: the daemon has no use
 * for it. */
unsigned owner_scans(const Owner *o);

/* Replaces the OWNER_RESCAN interval (5 s) between scans of the hierarchy;
 * tests use it so that they need not wait. */
void owner_set_rescan_interval(Owner *o, uint64_t usec);

/* The innermost unit named by a cgroup path ("nginx.service" for
 * "/system.slice/nginx.service/worker"), or NULL. Written into buf. */
const char *owner_unit_from_cgroup(const char *path, char *buf, size_t size);

/* The user name of uid from the password database (getpwuid_r, so NSS
 * modules such as nss-systemd's DynamicUser= names count), or NULL when the
 * database does not know it: there is no numeric fallback, the caller
 * prints the uid itself. Answers, names and "unknown" alike, are cached and
 * asked again after 60 s. The string stays valid until the next
 * owner_user() call or owner_free(). */
const char *owner_user(Owner *o, uint32_t uid);

/* A process holding the socket with this inode number (the sock_ino of
 * sock_diag, the "socket:[N]" of /proc/<pid>/fd): its pid and its comm
 * (at most 15 characters, NUL-terminated), written only on success.
 *
 * Found by reading /proc/<pid>/fd/<n> links, pids in ascending order; when
 * several processes share the socket (fork, SCM_RIGHTS) the lowest pid at
 * scan time wins. Directories that cannot be read (EACCES: other users'
 * processes without CAP_SYS_PTRACE/CAP_DAC_READ_SEARCH, processes that
 * exit meanwhile) are skipped silently, so an unprivileged caller simply
 * finds fewer owners.
 *
 * Scanned only when asked, and bounded in time: past the budget (default
 * 50 ms, owner_set_process_budget()) the scan stops, between two processes
 * or every 64 links within one (a process may hold 100000 descriptors),
 * and returns -ETIMEDOUT; the next call for the same inode goes on from
 * that process and descriptor (procfs lists both in ascending order, so
 * the lowest holder is still found first). Every call with a non-zero
 * budget reads at least one process or 64 links, so repeated calls finish.
 * A budget of 0 lets only cached answers through.
 *
 * Cached per inode (64 entries, least recently used replaced). A found
 * holder is re-validated on every hit with one readlink of the very
 * /proc/<pid>/fd/<n> it was found at, and its comm is read again (exec
 * changes it); if the link no longer names the socket (the process closed
 * it or exited) the scan starts afresh. A hit therefore never reports a
 * process that no longer holds the socket. "Not found" is cached for 5 s.
 *
 * Returns 0, -ENOENT (no visible process holds it), -ETIMEDOUT, -EINVAL
 * (inode 0), -ENOMEM, or the -errno of opening proc_root. */
int owner_process(Owner *o, uint32_t inode, int *ret_pid, char ret_comm[16]);

/* The time budget of one owner_process() scan, in microseconds. */
void owner_set_process_budget(Owner *o, uint64_t usec);

/* Bounds the scans of all owner_process() calls from now on to usec in
 * total (0: no bound): a poll with a hundred new alerts spends that much
 * looking for processes, and the alerts it could not resolve carry none.
 * Cached answers are still given. */
void owner_set_process_deadline(Owner *o, uint64_t usec);
