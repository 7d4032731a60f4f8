/* SPDX-License-Identifier: MIT */
/* The two escaping rules, byte for byte: text for people and JSON. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-main.h"
#include "escape.h"
#include "util.h"

typedef struct Case {
        const char *in, *text, *json;
} Case;

static const Case cases[] = {
        { "", "", "" },
        { "/run/php/fpm.sock", "/run/php/fpm.sock", "/run/php/fpm.sock" },
        /* quotes pass in text, are escaped in JSON; backslash in both */
        { "a\"b'c\\d", "a\"b'c\\\\d", "a\\\"b'c\\\\d" },
        /* controls */
        { "a\nb\rc\td", "a\\nb\\rc\\td", "a\\u000ab\\u000dc\\u0009d" },
        { "\x1b[2J\x01\x1f\x7f", "\\x1b[2J\\x01\\x1f\\x7f", "\\u001b[2J\\u0001\\u001f\\u007f" },
        /* a forged line after a newline stays on the same line */
        { "x\nfull: Listen queue", "x\\nfull: Listen queue", "x\\u000afull: Listen queue" },
        /* valid UTF-8: 2, 3, 4 bytes, the edges of each range */
        { "caf\xc3\xa9", "caf\xc3\xa9", "caf\xc3\xa9" },
        { "\xc2\xa0\xdf\xbf", "\xc2\xa0\xdf\xbf", "\xc2\xa0\xdf\xbf" },
        { "\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf", "\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf",
          "\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf" },
        { "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf" },
        /* C1 controls (U+0080, U+009B CSI) are escaped in text only */
        { "\xc2\x80\xc2\x9b", "\\xc2\\x80\\xc2\\x9b", "\xc2\x80\xc2\x9b" },
        /* a lone byte >= 0x80, a lone continuation byte */
        { "a\xff", "a\\xff", "a\\udcff" },
        { "\x80z\xbf", "\\x80z\\xbf", "\\udc80z\\udcbf" },
        /* overlong forms: C0/C1 never start a sequence, nor do E0 80, F0 80 */
        { "\xc0\xaf", "\\xc0\\xaf", "\\udcc0\\udcaf" },
        { "\xc1\xbf", "\\xc1\\xbf", "\\udcc1\\udcbf" },
        { "\xe0\x80\xaf", "\\xe0\\x80\\xaf", "\\udce0\\udc80\\udcaf" },
        { "\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf", "\\udcf0\\udc80\\udc80\\udcaf" },
        /* surrogates */
        { "\xed\xa0\x80", "\\xed\\xa0\\x80", "\\udced\\udca0\\udc80" },
        { "\xed\xbf\xbf", "\\xed\\xbf\\xbf", "\\udced\\udcbf\\udcbf" },
        /* above U+10FFFF, F5 and up */
        { "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80", "\\udcf4\\udc90\\udc80\\udc80" },
        { "\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80", "\\udcf5\\udc80\\udc80\\udc80" },
        { "\xf8\xfc\xfe", "\\xf8\\xfc\\xfe", "\\udcf8\\udcfc\\udcfe" },
        /* truncated sequences, at the end and before ASCII */
        { "\xc3", "\\xc3", "\\udcc3" },
        { "\xe2\x82", "\\xe2\\x82", "\\udce2\\udc82" },
        { "\xf0\x9f\x98", "\\xf0\\x9f\\x98", "\\udcf0\\udc9f\\udc98" },
        { "\xe2\x82z\xe2\x82\xac", "\\xe2\\x82z\xe2\x82\xac", "\\udce2\\udc82z\xe2\x82\xac" },
        /* the hostile name of the integration test */
        { "@bl\xff\n\x1b[31m\"q'\\", "@bl\\xff\\n\\x1b[31m\"q'\\\\", "@bl\\udcff\\u000a\\u001b[31m\\\"q'\\\\" },
};

START_TEST(test_text) {
        const Case *c = &cases[_i];
        char buf[256];

        ck_assert_uint_eq(escape_text(buf, sizeof(buf), c->in), strlen(c->text));
        ck_assert_str_eq(buf, c->text);
        ck_assert_uint_le(strlen(buf), ESCAPE_TEXT_MAX(strlen(c->in)) - 1);
}
END_TEST

START_TEST(test_json) {
        const Case *c = &cases[_i];
        char buf[256];

        ck_assert_uint_eq(escape_json(buf, sizeof(buf), c->in), strlen(c->json));
        ck_assert_str_eq(buf, c->json);
        ck_assert_uint_le(strlen(buf), ESCAPE_JSON_MAX(strlen(c->in)) - 1);
}
END_TEST

/* The FILE writers write what the buffer versions do. */
START_TEST(test_fputs) {
        const Case *c = &cases[_i];
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);

        ck_assert_ptr_nonnull(f);
        escape_text_fputs(c->in, f);
        fputc('|', f);
        escape_json_fputs(c->in, f);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_uint_eq(strlen(out), strlen(c->text) + 1 + strlen(c->json));
        ck_assert_int_eq(memcmp(out, c->text, strlen(c->text)), 0);
        ck_assert_str_eq(out + strlen(c->text) + 1, c->json);
        free(out);
}
END_TEST

/* Columns: one per character, escapes count their bytes. */
START_TEST(test_width) {
        ck_assert_uint_eq(escape_text_width(""), 0);
        ck_assert_uint_eq(escape_text_width("/run/x.sock"), 11);
        ck_assert_uint_eq(escape_text_width("caf\xc3\xa9"), 4);
        ck_assert_uint_eq(escape_text_width("\xf0\x9f\x98\x80"), 1);
        ck_assert_uint_eq(escape_text_width("a\xff\n\\"), 1 + 4 + 2 + 2);
        ck_assert_uint_eq(escape_text_width("\xc2\x9b"), 8);
}
END_TEST

/* The worst 108-byte names (a sun_path has no more) fill the bounds
 * exactly: every byte an escape of 4 (text) or 6 (JSON) bytes. */
START_TEST(test_worst_case) {
        char in[109], text[ESCAPE_TEXT_MAX(108)], json[ESCAPE_JSON_MAX(108)];

        memset(in, '\xff', 108);
        in[108] = '\0';
        ck_assert_uint_eq(escape_text(text, sizeof(text), in), 432);
        ck_assert_uint_eq(strlen(text), 432);
        ck_assert_str_eq(text + 428, "\\xff");
        ck_assert_uint_eq(escape_json(json, sizeof(json), in), 648);
        ck_assert_uint_eq(strlen(json), 648);
        ck_assert_str_eq(json + 642, "\\udcff");

        memset(in, '\x1b', 108);
        ck_assert_uint_eq(escape_text(text, sizeof(text), in), 432);
        ck_assert_uint_eq(escape_json(json, sizeof(json), in), 648);
        ck_assert_str_eq(json + 642, "\\u001b");
        /* C1 controls: 2 bytes in, 8 out */
        for (size_t i = 0; i < 108; i += 2)
                memcpy(in + i, "\xc2\x9b", 2);
        ck_assert_uint_eq(escape_text(text, sizeof(text), in), 432);
        ck_assert_uint_eq(strlen(text), 432);
}
END_TEST

/* Truncation keeps whole escapes and whole characters, and says how much
 * the whole escaping needs. */
START_TEST(test_truncation) {
        char buf[8];

        memset(buf, 'X', sizeof(buf));
        ck_assert_uint_eq(escape_text(buf, 0, "abc"), 3);
        ck_assert_int_eq(buf[0], 'X');
        ck_assert_uint_eq(escape_text(buf, 1, "abc"), 3);
        ck_assert_str_eq(buf, "");
        ck_assert_uint_eq(escape_text(buf, 4, "abc"), 3);
        ck_assert_str_eq(buf, "abc");
        ck_assert_uint_eq(escape_text(buf, 3, "abc"), 3);
        ck_assert_str_eq(buf, "ab");
        /* "ab\xff" needs 6 bytes: with 5 there is room for "ab" only */
        ck_assert_uint_eq(escape_text(buf, 5, "ab\xff"), 6);
        ck_assert_str_eq(buf, "ab");
        ck_assert_uint_eq(escape_text(buf, 7, "ab\xff"), 6);
        ck_assert_str_eq(buf, "ab\\xff");
        ck_assert_uint_eq(escape_text(buf, 5, "ab\xe2\x82\xac"), 5);
        ck_assert_str_eq(buf, "ab");
        ck_assert_uint_eq(escape_text(buf, 6, "ab\xe2\x82\xac"), 5);
        ck_assert_str_eq(buf, "ab\xe2\x82\xac");
        ck_assert_uint_eq(escape_json(buf, 8, "a\xff\"b"), 10);
        ck_assert_str_eq(buf, "a\\udcff");
        ck_assert_uint_eq(escape_json(buf, 7, "a\xff\"b"), 10);
        ck_assert_str_eq(buf, "a");
        /* nothing after the first unit that did not fit, even if shorter */
        ck_assert_uint_eq(escape_text(buf, 4, "a\nbc"), 5);
        ck_assert_str_eq(buf, "a\\n");
        ck_assert_uint_eq(escape_text(buf, 3,
                                      "a\xff"
                                      "b"),
                          6);
        ck_assert_str_eq(buf, "a");
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("escape");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_text, 0, (int) ELEMENTSOF(cases));
        tcase_add_loop_test(tc, test_json, 0, (int) ELEMENTSOF(cases));
        tcase_add_loop_test(tc, test_fputs, 0, (int) ELEMENTSOF(cases));
        tcase_add_test(tc, test_width);
        tcase_add_test(tc, test_worst_case);
        tcase_add_test(tc, test_truncation);
        suite_add_tcase(s, tc);
        return s;
}
