/* SPDX-License-Identifier: MIT */
#pragma once

/* A file that a collector reads, replaced atomically so that no partial
 * file is ever visible, through a temporary nobody can predict or block:
 * an unnamed O_TMPFILE in the target's directory, linked under a random
 * name (an existing entry, a planted symbolic link included, is never
 * followed) and renamed over the target (a symbolic link there is
 * replaced, not followed); mkostemps() where O_TMPFILE is not supported.
 * Mode 0644 whatever the umask. When the part of the text that matters is
 * what was last written, and the file is still the one written, only its
 * modification time moves. Nothing here logs. */

#include <stddef.h>

#include "util.h"

typedef struct TextFile TextFile;

/* path: absolute; temporaries are ".NAME.<16 hex digits>.tmp" beside it.
 * -EINVAL, -ENAMETOOLONG (with a reason), -ENOMEM. The directory need not
 * exist yet. */
int textfile_new(const char *path, TextFile **ret, ErrBuf *err);
TextFile *textfile_free(TextFile *t);

/* Replaces the file with the n bytes at text, unless its first stable
 * bytes are those last written and the file is unchanged since: then only
 * its modification time is set. Returns the bytes written (0 when only
 * touched) or -errno with a reason naming the path (-ENOENT/-ENOTDIR: the
 * directory is missing). On failure nothing is left behind. Once grown,
 * allocates nothing. */
int textfile_replace(TextFile *t, const char *text, size_t n, size_t stable, ErrBuf *err);
