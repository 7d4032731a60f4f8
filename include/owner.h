/* SPDX-License-Identifier: MIT */
#pragma once

/* Who owns a listener: the cgroup v2 directory whose inode number is the
 * socket's INET_DIAG_CGROUP_ID, and the systemd unit it names. No privilege
 * needed. The map is built by scanning the hierarchy, cached, and rescanned
 * (at most once per call) on a miss. */

#include <stddef.h>
#include <stdint.h>

typedef struct Owner Owner;

/* cgroup_root is normally "/sys/fs/cgroup". */
int owner_new(const char *cgroup_root, Owner **ret);
Owner *owner_free(Owner *o);

/* "/system.slice/nginx.service", or NULL when unknown (id 0, not found). */
const char *owner_cgroup(Owner *o, uint64_t cgroup_id);

/* The innermost unit named by a cgroup path ("nginx.service" for
 * "/system.slice/nginx.service/worker"), or NULL. Written into buf. */
const char *owner_unit_from_cgroup(const char *path, char *buf, size_t size);
