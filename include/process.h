/* SPDX-License-Identifier: MIT */
#pragma once

/* Processes from /proc: which process holds a socket (by its inode number),
 * and what state a process is in. Readers take the proc root ("/proc", or a
 * fixture tree in tests). Best effort: what cannot be seen (other users'
 * processes without privilege, processes that exit meanwhile) is missing,
 * never guessed. A ProcessFinder is not thread safe. */

#include <stdint.h>

typedef struct ProcessFinder ProcessFinder;

/* proc_root is normally "/proc". Nothing is opened here: a missing root
 * makes process_find() fail with its -errno. -ENOMEM only. */
int process_finder_new(const char *proc_root, ProcessFinder **ret);
ProcessFinder *process_finder_free(ProcessFinder *p);
static inline void process_finder_freep(ProcessFinder **p) {
        process_finder_free(*p);
}

/* A process holding the socket with this inode number (the sock_ino of
 * sock_diag, the "socket:[N]" of /proc/<pid>/fd): its pid and its comm (at
 * most 15 characters, NUL-terminated), written only on success.
 *
 * Found by reading /proc/<pid>/fd/<n> links, pids in ascending order; when
 * several processes share the socket (fork, SCM_RIGHTS) the lowest pid at
 * scan time wins. Directories that cannot be read (EACCES: other users'
 * processes without CAP_SYS_PTRACE/CAP_DAC_READ_SEARCH, processes that exit
 * meanwhile) are skipped silently, so an unprivileged caller simply finds
 * fewer holders.
 *
 * Scanned only when asked, and bounded in time: past the budget (default
 * 50 ms, process_finder_set_budget()) the scan stops, between two processes
 * or every 64 links within one (a process may hold 100000 descriptors), and
 * returns -ETIMEDOUT; the next call for the same inode goes on from that
 * process and descriptor (procfs lists both in ascending order, so the
 * lowest holder is still found first). Every call with a non-zero budget
 * reads at least one process or 64 links, so repeated calls finish. A
 * budget of 0 lets only cached answers through. Trees that are not procfs
 * (test fixtures) are listed whole, but cut between processes all the same.
 *
 * Cached per inode (512 entries, least recently used replaced). A found
 * holder is re-validated on every hit with one readlink of the very
 * /proc/<pid>/fd/<n> it was found at, and its comm is read again (exec
 * changes it); if the link no longer names the socket (the process closed
 * it or exited) the scan starts afresh. A hit therefore never reports a
 * process that no longer holds the socket. "Not found" is cached for 5 s.
 *
 * Returns 0, -ENOENT (no visible process holds it), -ETIMEDOUT, -EINVAL
 * (inode 0, p NULL), -ENOMEM, or the -errno of opening proc_root. */
int process_find(ProcessFinder *p, uint32_t inode, int *ret_pid, char ret_comm[16]);

/* The time budget of one process_find() scan, in microseconds. */
void process_finder_set_budget(ProcessFinder *p, uint64_t usec);

/* Bounds the scans of all process_find() calls from now on to usec in total
 * (0: no bound): a poll with a hundred new alerts spends that much looking
 * for processes, and the alerts it could not resolve carry none. Cached
 * answers are still given. */
void process_finder_set_deadline(ProcessFinder *p, uint64_t usec);

/* The state of process pid: field 3 of <proc_root>/<pid>/stat, one letter
 * ('R' running, 'S' sleeping, 'D' disk sleep, 'T' stopped, 't' traced, 'Z'
 * zombie, 'X', 'I' idle, ...), into *ret_state. The comm before it may hold
 * spaces and ')', so it is found after the LAST ')'. Returns 0, -EINVAL (pid
 * not positive), -EBADMSG (not a stat line), or the -errno of reading the
 * file (-ENOENT: no such process). */
int process_state(const char *proc_root, int pid, char *ret_state);

/* A state letter as /proc/<pid>/status names it: "R (running)", "S
 * (sleeping)", "D (disk sleep)", "T (stopped)", "t (tracing stop)", "X
 * (dead)", "Z (zombie)", "P (parked)", "I (idle)"; another letter alone
 * ("W"); "?" for anything but a letter. Never NULL. */
const char *process_state_text(char state);
