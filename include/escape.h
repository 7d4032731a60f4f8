/* SPDX-License-Identifier: MIT */
#pragma once

/* The two ways every output shows bytes backlogd did not write itself
 * (socket paths, process names, cgroup, unit and namespace names): local
 * users choose those bytes, and none of them may reach a terminal, split a
 * line or make a journal entry or a JSON document invalid.
 *
 * Text, for people (table cells, console lines, journal MESSAGE): valid,
 * printable UTF-8 passes unchanged; '\' becomes "\\"; newline, carriage
 * return and tab become "\n", "\r", "\t"; every other control byte
 * (0x01-0x1f, ESC is "\x1b") and DEL become "\xNN" (two lower-case hex
 * digits); a C1 control character (U+0080-U+009F, bytes C2 80-C2 9F) is
 * written as its two bytes, "\xc2\x9b"; every byte that is not part of
 * valid UTF-8 (a lone continuation byte, an overlong form, a surrogate, a
 * truncated sequence, C0, C1, F5-FF) becomes "\xNN" on its own. The result
 * is one line of valid UTF-8, and the original bytes can be recovered from
 * it, as every backslash in it starts an escape.
 *
 * JSON, string content between the quotes: '"' becomes \" and '\' becomes
 * \\; control bytes (0x01-0x1f) and DEL become "\u00XX", lower-case hex;
 * valid UTF-8 passes unchanged (C1 controls too: JSON is not read on a
 * terminal); each byte that is not part of valid UTF-8 becomes "\udcXX",
 * the lone surrogate U+DC00 + byte (0x80-0xff), as Python's
 * "surrogateescape" does. The result is valid UTF-8 and valid JSON, and it
 * is reversible: in Python, json.loads() then
 * .encode("utf-8", "surrogateescape") gives back the original bytes.
 *
 * Nothing here allocates, and all but the FILE writers are pure. Inputs are
 * NUL-terminated: none of the names above can hold a NUL. */

#include <stddef.h>
#include <stdio.h>

/* The most bytes the escaping of n input bytes takes, with the NUL. */
#define ESCAPE_TEXT_MAX(n) (4 * (n) + 1)
#define ESCAPE_JSON_MAX(n) (6 * (n) + 1)

/* Writes the escaping of s into buf as snprintf does: returns the length
 * of the whole escaping (without the NUL); when that is >= size, buf holds
 * the longest prefix of whole escapes and whole characters that fits, NUL
 * terminated (nothing is written when size is 0). */
size_t escape_text(char *buf, size_t size, const char *s);
size_t escape_json(char *buf, size_t size, const char *s);

/* The columns escape_text() of s takes: its UTF-8 characters. */
size_t escape_text_width(const char *s);

/* The same escaping written to f, for text of any length; errors are left
 * in ferror(f). */
void escape_text_fputs(const char *s, FILE *f);
void escape_json_fputs(const char *s, FILE *f);
