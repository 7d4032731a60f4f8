/* SPDX-License-Identifier: MIT */
#pragma once

/* cgroup v2 ids to names: the directory of the unified hierarchy whose inode
 * number is a socket's INET_DIAG_CGROUP_ID, and the systemd units that path
 * names. Best effort: what is not known is NULL, never guessed. Lookups are
 * answered from a map built by scanning the hierarchy; on a hit nothing is
 * allocated. A CgroupNames is not thread safe. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CgroupNames CgroupNames;

/* root is normally "/sys/fs/cgroup"; the unified hierarchy is root itself,
 * or root/unified on hosts with systemd's hybrid layout. Nothing is opened
 * here: a missing root only makes the lookups come back NULL. -ENOMEM only. */
int cgroup_names_new(const char *root, CgroupNames **ret);
CgroupNames *cgroup_names_free(CgroupNames *c);
static inline void cgroup_names_freep(CgroupNames **c) {
        cgroup_names_free(*c);
}

/* The path of the cgroup below the root ("/system.slice/nginx.service"),
 * or NULL when unknown (id 0, not found). The first lookup scans the
 * hierarchy; a miss of an id that no scan has looked for yet rescans it at
 * once, at most once per rescan interval (1 s), see cgroup_names_hold(). */
const char *cgroup_names_path(CgroupNames *c, uint64_t id);

/* cgroup_path_unit() of cgroup_names_path(): the system unit, or NULL. */
const char *cgroup_names_unit(CgroupNames *c, uint64_t id);

/* cgroup_path_user_unit() of cgroup_names_path(): the unit of a user's
 * service manager, or NULL. */
const char *cgroup_names_user_unit(CgroupNames *c, uint64_t id);

/* While held, the strings returned above stay valid, even across a rescan
 * (a poll that hands them to the metrics writer holds the names until it
 * commits): a rescan then keeps the old strings until the hold is released.
 * Unheld, they stay valid until the next lookup that misses, or
 * cgroup_names_free(). So a miss rescans on the poll that meets it, and a
 * restarted service's first alert names its unit; a miss too soon after a
 * scan is remembered and rescans at a later release.
 *
 * Only an id that no scan has looked for since it missed is worth a rescan:
 * once a scan started after its miss did not find it, the id is known
 * missing (a socket that outlived its cgroup, e.g. passed to another process
 * or kept in the fd store across a restart) and its misses, held or not,
 * rescan nothing. Lookups still search the map first, so such an id is
 * answered if a scan asked for by another miss finds it. At most 256 ids are
 * known missing (the oldest replaced); past that, misses of the forgotten
 * ones rescan again, still at most once per interval. */
void cgroup_names_hold(CgroupNames *c, bool hold);

/* Whether id missed and no scan has looked for it since (the rescan was
 * too soon): the next allowed scan may name it, within the rescan
 * interval. The daemon holds such a listener's alert back until then, so
 * that a new service's first alert names it. */
bool cgroup_names_pending(const CgroupNames *c, uint64_t id);

/* The id of the cgroup at path ("/init.scope") of the unified hierarchy
 * below root (as cgroup_names_new() finds it), or 0 when there is none. One
 * stat(2), no scan. */
uint64_t cgroup_id_of(const char *root, const char *path);

/* Number of hierarchy scans so far. For tests only. */
unsigned cgroup_names_scans(const CgroupNames *c);

/* Replaces the interval between scans (5 s); tests use it so that they need
 * not wait. */
void cgroup_names_set_rescan_interval(CgroupNames *c, uint64_t usec);

/* The unit of a cgroup path, by systemd's own rule (cg_path_get_unit()): the
 * system unit systemd attributes the cgroup to, the one `journalctl -u` and
 * `systemctl status` use and backlogd reports as BACKLOGD_UNIT. That is the
 * FIRST path component that is not a slice, provided it is a valid unit name
 * (a plain name or a template instance such as "getty@tty1.service", not a
 * template "a@.service", nor a slice); anything below it (a service's own
 * sub-cgroups, a container's or a user manager's nested units) belongs to
 * it. One leading '_' of a component is systemd's cgroup escape and is
 * dropped ("_cpu.service" is cpu.service). So "/system.slice/nginx.service/
 * worker" is nginx.service, "/machine.slice/systemd-nspawn@web.service/
 * payload/system.slice/nginx.service" is systemd-nspawn@web.service, and
 * "/", "/system.slice" and "/payload/nginx.service" have none.
 *
 * Written into buf; returns buf, or NULL when there is no unit (also when
 * path is NULL or the name does not fit in size). */
const char *cgroup_path_unit(const char *path, char *buf, size_t size);

/* The unit within a user's service manager (cg_path_get_user_unit()), for
 * cgroups whose system unit is user@UID.service: the first non-slice
 * component after it, by the same rules ("foo.service" for "/user.slice/
 * user-1000.slice/user@1000.service/app.slice/foo.service"). NULL for any
 * other cgroup. (systemd's function also accepts a capsule@NAME.service
 * manager or a session-N.scope in user@UID.service's place; this one does
 * not.) Written into buf as cgroup_path_unit(). */
const char *cgroup_path_user_unit(const char *path, char *buf, size_t size);
