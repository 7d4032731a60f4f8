/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"

/* Golden files are loaded with paths relative to FIXTURES/config, so that
 * the expected error text reads "bad/NAME.conf:LINE: ...". */
static void enter_fixtures(void) {
        const char *dir = getenv("FIXTURES");
        char path[4096];

        ck_assert_msg(dir, "FIXTURES is not set");
        snprintf(path, sizeof(path), "%s/config", dir);
        ck_assert_int_eq(chdir(path), 0);
}

static char *read_all(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf;
        long n;

        ck_assert_msg(f, "cannot open %s", path);
        ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        ck_assert_int_ge(n, 0);
        rewind(f);
        buf = malloc((size_t) n + 1);
        ck_assert_ptr_nonnull(buf);
        ck_assert_uint_eq(fread(buf, 1, (size_t) n, f), (size_t) n);
        buf[n] = 0;
        fclose(f);
        return buf;
}

static char *print_config(const Config *c) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ck_assert_ptr_nonnull(f);
        config_print(c, f);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

/* Everything but path and the source lines. */
static void assert_config_eq(const Config *a, const Config *b, const char *what) {
        ck_assert_msg(a->interval_usec == b->interval_usec, "%s: interval", what);
        ck_assert_msg(a->warn == b->warn && a->clear == b->clear, "%s: levels", what);
        ck_assert_msg(a->repeat_usec == b->repeat_usec, "%s: repeat", what);
        ck_assert_msg(a->counters == b->counters, "%s: counters", what);
        ck_assert_msg(a->n_watch == b->n_watch, "%s: n_watch", what);
        for (size_t i = 0; i < a->n_watch; i++) {
                const Watch *x = &a->watch[i], *y = &b->watch[i];

                ck_assert_msg(x->any_port == y->any_port, "%s: watch[%zu].any_port", what, i);
                if (!x->any_port)
                        ck_assert_msg(x->ports.lo == y->ports.lo && x->ports.hi == y->ports.hi,
                                      "%s: watch[%zu].ports", what, i);
                ck_assert_msg(x->has_address == y->has_address, "%s: watch[%zu].has_address", what, i);
                if (x->has_address)
                        ck_assert_msg(x->family == y->family && memcmp(x->addr, y->addr, 16) == 0,
                                      "%s: watch[%zu].address", what, i);
                ck_assert_msg((x->name == NULL) == (y->name == NULL), "%s: watch[%zu].name", what, i);
                if (x->name)
                        ck_assert_str_eq(x->name, y->name);
                ck_assert_msg(x->warn == y->warn && x->clear == y->clear, "%s: watch[%zu] levels", what, i);
        }
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The NAME.conf files of dir, sorted; returns their number. */
static size_t list_conf(const char *dir, char ***ret) {
        DIR *d = opendir(dir);
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;

        ck_assert_msg(d, "cannot open %s", dir);
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);

                if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
                        continue;
                names = realloc(names, (n + 1) * sizeof(*names));
                ck_assert_ptr_nonnull(names);
                names[n] = strndup(de->d_name, len - 5);
                ck_assert_ptr_nonnull(names[n]);
                n++;
        }
        closedir(d);
        qsort(names, n, sizeof(*names), name_cmp);
        *ret = names;
        return n;
}

START_TEST(test_golden_good) {
        char **names;
        size_t n;

        enter_fixtures();
        n = list_conf("good", &names);
        ck_assert_uint_eq(n, 11);
        for (size_t i = 0; i < n; i++) {
                char conf[256], out[256];
                Config *c = NULL, *again = NULL;
                ErrBuf err = {{0}};
                char *want, *got, *got2;

                snprintf(conf, sizeof(conf), "good/%s.conf", names[i]);
                snprintf(out, sizeof(out), "good/%s.out", names[i]);
                ck_assert_msg(config_load(conf, true, &c, &err) == 0, "%s: %s", conf, err.text);
                ck_assert_str_eq(c->path, conf);
                want = read_all(out);
                got = print_config(c);
                ck_assert_msg(strcmp(got, want) == 0, "%s printed:\n%s\nexpected:\n%s", conf, got, want);

                /* The printed form parses back to the same configuration
                 * and prints identically. */
                ck_assert_msg(config_parse_string(got, "printed", &again, &err) == 0, "%s reparse: %s", conf,
                              err.text);
                assert_config_eq(c, again, conf);
                got2 = print_config(again);
                ck_assert_str_eq(got2, got);

                free(got2);
                free(got);
                free(want);
                config_free(again);
                config_free(c);
                free(names[i]);
        }
        free(names);
}
END_TEST

START_TEST(test_golden_bad) {
        char **names;
        size_t n;

        enter_fixtures();
        n = list_conf("bad", &names);
        ck_assert_uint_eq(n, 48);
        for (size_t i = 0; i < n; i++) {
                char conf[256], errfile[256], got[300];
                Config *c = (Config *) 0x1;
                ErrBuf err = {{0}};
                char *want;

                snprintf(conf, sizeof(conf), "bad/%s.conf", names[i]);
                snprintf(errfile, sizeof(errfile), "bad/%s.err", names[i]);
                ck_assert_msg(config_load(conf, true, &c, &err) == -EINVAL, "%s: not rejected", conf);
                ck_assert_msg(c == (Config *) 0x1, "%s: ret written on failure", conf);
                want = read_all(errfile);
                snprintf(got, sizeof(got), "%s\n", err.text);
                ck_assert_str_eq(got, want);
                free(want);
                free(names[i]);
        }
        free(names);
}
END_TEST

START_TEST(test_full_values) {
        Config *c = NULL;
        ErrBuf err = {{0}};
        uint8_t lo[4] = { 127, 0, 0, 1 };

        enter_fixtures();
        ck_assert_int_eq(config_load("good/full.conf", true, &c, &err), 0);
        ck_assert_uint_eq(c->interval_usec, 1000000);
        ck_assert_uint_eq(c->warn, 80);
        ck_assert_uint_eq(c->clear, 60);
        ck_assert_uint_eq(c->repeat_usec, 300000000);
        ck_assert(c->counters);
        ck_assert_uint_eq(c->n_watch, 2);

        ck_assert(!c->watch[0].any_port);
        ck_assert_uint_eq(c->watch[0].ports.lo, 443);
        ck_assert_uint_eq(c->watch[0].ports.hi, 443);
        ck_assert(!c->watch[0].has_address);
        ck_assert_ptr_null(c->watch[0].name);
        ck_assert_uint_eq(c->watch[0].warn, 80);
        ck_assert_uint_eq(c->watch[0].clear, 60);
        ck_assert_uint_eq(c->watch[0].line, 7);

        ck_assert_uint_eq(c->watch[1].ports.lo, 8000);
        ck_assert_uint_eq(c->watch[1].ports.hi, 8099);
        ck_assert(c->watch[1].has_address);
        ck_assert_uint_eq(c->watch[1].family, AF_INET);
        ck_assert_mem_eq(c->watch[1].addr, lo, 4);
        ck_assert_str_eq(c->watch[1].name, "api");
        ck_assert_uint_eq(c->watch[1].warn, 50);
        ck_assert_uint_eq(c->watch[1].clear, 30);
        ck_assert_uint_eq(c->watch[1].line, 8);
        config_free(c);
}
END_TEST

START_TEST(test_ipv6_and_catch_all) {
        Config *c = NULL;
        ErrBuf err = {{0}};
        uint8_t one[16] = { [15] = 1 };

        enter_fixtures();
        ck_assert_int_eq(config_load("good/addresses.conf", true, &c, &err), 0);
        ck_assert_uint_eq(c->n_watch, 5);
        ck_assert_uint_eq(c->watch[0].family, AF_INET6);
        ck_assert_mem_eq(c->watch[0].addr, one, 16);
        ck_assert(c->watch[3].any_port);
        ck_assert(c->watch[3].has_address);
        ck_assert_str_eq(c->watch[4].name, "say \"hi\" \\ bye");
        config_free(c);

        ck_assert_int_eq(config_load("good/catch-all.conf", true, &c, &err), 0);
        ck_assert_uint_eq(c->n_watch, 2);
        ck_assert(c->watch[1].any_port);
        ck_assert(!c->watch[1].has_address);
        ck_assert_str_eq(c->watch[1].name, "everything else");
        config_free(c);
}
END_TEST

START_TEST(test_seconds) {
        Config *c = NULL;
        ErrBuf err = {{0}};

        ck_assert_int_eq(config_parse_string("interval = 0.0100004; repeat = 1.0000005;", "s", &c, &err), 0);
        ck_assert_uint_eq(c->interval_usec, 10000);
        ck_assert_uint_eq(c->repeat_usec, 1000001);
        config_free(c);
        ck_assert_int_eq(config_parse_string("interval = 0.0099996;", "s", &c, &err), 0);
        ck_assert_uint_eq(c->interval_usec, 10000);
        config_free(c);
        ck_assert_int_eq(config_parse_string("interval = 0.0099994;", "s", &c, &err), -EINVAL);
        ck_assert_str_eq(err.text, "s:1: interval: must be between 0.01 and 3600 seconds, not 0.0099994");
        ck_assert_int_eq(config_parse_string("interval = 3600.000001;", "s", &c, &err), -EINVAL);
        ck_assert_str_eq(err.text, "s:1: interval: must be between 0.01 and 3600 seconds, not 3600.000001");
        ck_assert_int_eq(config_parse_string("interval = 1e400;", "s", &c, &err), -EINVAL);
        ck_assert_str_eq(err.text, "s:1: interval: must be between 0.01 and 3600 seconds, not inf");
        ck_assert_int_eq(config_parse_string("repeat = 4294967296000000L;", "s", &c, &err), -EINVAL);
        ck_assert_str_eq(err.text, "s:1: repeat: must be between 0 and 604800 seconds, not 4294967296000000");
        ck_assert_int_eq(config_parse_string("interval = 3600; repeat = 604800.0;", "s", &c, &err), 0);
        ck_assert_uint_eq(c->interval_usec, CONFIG_INTERVAL_MAX_USEC);
        ck_assert_uint_eq(c->repeat_usec, 604800000000ULL);
        config_free(c);
}
END_TEST

START_TEST(test_missing) {
        Config *c = NULL;
        ErrBuf err = {{0}};

        enter_fixtures();
        ck_assert_int_eq(config_load("nonexistent.conf", false, &c, &err), 0);
        ck_assert_ptr_null(c->path);
        ck_assert_uint_eq(c->interval_usec, CONFIG_DEFAULT_INTERVAL_USEC);
        ck_assert_uint_eq(c->warn, CONFIG_DEFAULT_WARN);
        ck_assert_uint_eq(c->clear, CONFIG_DEFAULT_CLEAR);
        ck_assert_uint_eq(c->repeat_usec, CONFIG_DEFAULT_REPEAT_USEC);
        ck_assert(c->counters);
        ck_assert_uint_eq(c->n_watch, 0);
        config_free(c);

        c = (Config *) 0x1;
        ck_assert_int_eq(config_load("nonexistent.conf", true, &c, &err), -ENOENT);
        ck_assert_ptr_eq(c, (Config *) 0x1);
        ck_assert_str_eq(err.text, "nonexistent.conf: No such file or directory");

        /* Only absence is forgiven, not other failures. */
        ck_assert_int_eq(config_load("good", false, &c, &err), -EISDIR);
        ck_assert_str_eq(err.text, "good: Is a directory");
        ck_assert_int_eq(config_load("good/full.conf/x", false, &c, &err), -ENOTDIR);
        ck_assert_str_eq(err.text, "good/full.conf/x: Not a directory");
}
END_TEST

START_TEST(test_unreadable) {
        char path[] = "/tmp/test-config-XXXXXX";
        int fd = mkstemp(path), status;
        pid_t pid;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "warn = 80;\n", 11), 11);
        ck_assert_int_eq(fchmod(fd, 0), 0);
        close(fd);

        /* Root reads anything: load as nobody, in a child so that the
         * rest of the suite keeps its privileges even without CK_FORK. */
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                Config *c = NULL;
                ErrBuf err = {{0}};
                char want[128];

                if (geteuid() == 0 && setresuid(65534, 65534, 65534) < 0)
                        _exit(3);
                if (config_load(path, false, &c, &err) != -EACCES)
                        _exit(1);
                snprintf(want, sizeof(want), "%s: Permission denied", path);
                _exit(strcmp(err.text, want) == 0 ? 0 : 2);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_int_eq(unlink(path), 0);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(test_file_limits) {
        char tmp[] = "/tmp/test-config-XXXXXX", path[64], want[128];
        Config *c = NULL;
        ErrBuf err = {{0}};
        int fd = mkstemp(tmp);

        /* Gone from /tmp at once, whatever assertion fails later. */
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(unlink(tmp), 0);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ck_assert_int_eq(write(fd, "warn = 80;\n\nclear\0 = 1;\n", 24), 24);
        ck_assert_int_eq(config_load(path, true, &c, &err), -EINVAL);
        snprintf(want, sizeof(want), "%s:3: NUL byte in the file", path);
        ck_assert_str_eq(err.text, want);

        /* 1 MiB of comments is the most a file may hold. */
        ck_assert_int_eq(ftruncate(fd, 0), 0);
        ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
        for (int i = 0; i < 1024; i++) {
                char line[1024];

                memset(line, ' ', sizeof(line));
                line[0] = '#';
                line[sizeof(line) - 1] = '\n';
                ck_assert_int_eq(write(fd, line, sizeof(line)), (ssize_t) sizeof(line));
        }
        ck_assert_int_eq(config_load(path, true, &c, &err), 0);
        config_free(c);
        ck_assert_int_eq(write(fd, "#\n", 2), 2);
        ck_assert_int_eq(config_load(path, true, &c, &err), -EFBIG);
        snprintf(want, sizeof(want), "%s: larger than 1048576 bytes", path);
        ck_assert_str_eq(err.text, want);
        close(fd);
}
END_TEST

START_TEST(test_parse_string) {
        Config *c = (Config *) 0x1;
        ErrBuf err = {{0}};

        ck_assert_int_eq(config_parse_string("warn = 70;\nbogus = 1;\n", NULL, &c, &err), -EINVAL);
        ck_assert_str_eq(err.text, "<string>:2: bogus: unknown key");
        ck_assert_ptr_eq(c, (Config *) 0x1);
        ck_assert_int_eq(config_parse_string("warn = ", "fuzz", &c, &err), -EINVAL);
        ck_assert_str_eq(err.text, "fuzz:1: syntax error");
        /* Errors do not need an ErrBuf. */
        ck_assert_int_eq(config_parse_string("warn = 0;", "x", &c, NULL), -EINVAL);

        ck_assert_int_eq(config_parse_string("", NULL, &c, &err), 0);
        ck_assert_ptr_null(c->path);
        ck_assert_uint_eq(c->warn, 80);
        config_free(c);
        ck_assert_int_eq(config_parse_string("warn = 70; # comment\n// another\n/* and */ clear = 5;", "n", &c,
                                             &err),
                         0);
        ck_assert_str_eq(c->path, "n");
        ck_assert_uint_eq(c->warn, 70);
        ck_assert_uint_eq(c->clear, 5);
        config_free(c);
}
END_TEST

/* UNIX listeners are watched by path or with unix = true; a watch list of
 * UNIX entries only leaves every TCP listener watched. */
START_TEST(test_match_unix) {
        Config *c = NULL;
        Listener fpm = { .kind = LISTENER_UNIX, .family = AF_UNIX, .path = "/run/php/php-fpm.sock" };
        Listener other = { .kind = LISTENER_UNIX, .family = AF_UNIX, .path = "@other" };
        Listener tcp = { .family = AF_INET, .port = 8080 };
        PortRange r[4];

        ck_assert_int_eq(config_parse_string("watch = ( { unix = \"/run/php/php-fpm.sock\"; warn = 50; clear = 20; } );",
                                             "u", &c, NULL),
                         0);
        ck_assert(config_wants_unix(c));
        ck_assert_uint_eq(config_match(c, &fpm)->warn, 50);
        ck_assert_ptr_null(config_match(c, &other));
        ck_assert_uint_eq(config_match(c, &tcp)->warn, 80);
        ck_assert_uint_eq(config_port_ranges(c, r, 4), 0);
        config_free(c);

        ck_assert_int_eq(config_parse_string("unix = true; watch = ( { port = 443; } );", "u", &c, NULL), 0);
        ck_assert(config_wants_unix(c));
        ck_assert_uint_eq(config_match(c, &other)->warn, 80);
        ck_assert_ptr_null(config_match(c, &tcp));
        ck_assert_uint_eq(config_port_ranges(c, r, 4), 1);
        config_free(c);

        ck_assert_int_eq(config_new_default(&c), 0);
        ck_assert(!config_wants_unix(c));
        ck_assert_ptr_null(config_match(c, &fpm));
        ck_assert_ptr_nonnull(config_match(c, &tcp));
        config_free(c);
}
END_TEST

START_TEST(test_print_defaults) {
        Config *c = NULL;
        char *got, *want;

        enter_fixtures();
        ck_assert_int_eq(config_new_default(&c), 0);
        got = print_config(c);
        want = read_all("good/empty.out");
        ck_assert_str_eq(got, want);
        free(got);
        free(want);
        config_free(c);
        ck_assert_ptr_null(config_free(NULL));
}
END_TEST

/* The installed sample documents the defaults: it must load to exactly
 * the built-in configuration. */
START_TEST(test_sample) {
        Config *c = NULL, *d = NULL;
        ErrBuf err = {{0}};
        char path[4096];

        snprintf(path, sizeof(path), "%s/../../conf/backlogd.conf", getenv("FIXTURES"));
        ck_assert_msg(config_load(path, true, &c, &err) == 0, "%s", err.text);
        ck_assert_int_eq(config_new_default(&d), 0);
        assert_config_eq(c, d, "sample");
        config_free(d);
        config_free(c);
}
END_TEST

START_TEST(test_match) {
        Config *c = NULL;
        ErrBuf err = {{0}};
        Listener l = { .family = AF_INET, .port = 8050 };
        const Watch *w;

        ck_assert_int_eq(config_parse_string("warn = 90; clear = 20;", "m", &c, &err), 0);
        w = config_match(c, &l);
        ck_assert_ptr_nonnull(w);
        ck_assert(w->any_port);
        ck_assert_uint_eq(w->warn, 90);
        ck_assert_uint_eq(w->clear, 20);
        config_free(c);

        ck_assert_int_eq(config_parse_string("watch = ( { port = 443; },\n"
                                             "  { ports = \"8000-8099\"; address = \"127.0.0.1\"; },\n"
                                             "  { address = \"::1\"; } );",
                                             "m", &c, &err),
                         0);
        ck_assert_ptr_null(config_match(c, &l)); /* 0.0.0.0:8050 */
        inet_pton(AF_INET, "127.0.0.1", l.addr);
        ck_assert_ptr_eq(config_match(c, &l), &c->watch[1]);
        l.port = 8100;
        ck_assert_ptr_null(config_match(c, &l));
        l.port = 443;
        ck_assert_ptr_eq(config_match(c, &l), &c->watch[0]);
        l.family = AF_INET6;
        l.port = 22;
        memset(l.addr, 0, sizeof(l.addr));
        l.addr[15] = 1;
        ck_assert_ptr_eq(config_match(c, &l), &c->watch[2]);
        config_free(c);
}
END_TEST

START_TEST(test_port_ranges) {
        Config *c = NULL;
        ErrBuf err = {{0}};
        PortRange r[4];

        ck_assert_int_eq(config_parse_string("", "p", &c, &err), 0);
        ck_assert_uint_eq(config_port_ranges(c, r, 4), 0);
        config_free(c);

        ck_assert_int_eq(config_parse_string("watch = ( { ports = \"8000-8099\"; }, { port = 443; },"
                                             " { ports = \"8100-8200\"; }, { port = 8050; } );",
                                             "p", &c, &err),
                         0);
        ck_assert_uint_eq(config_port_ranges(c, r, 4), 2);
        ck_assert_uint_eq(r[0].lo, 443);
        ck_assert_uint_eq(r[0].hi, 443);
        ck_assert_uint_eq(r[1].lo, 8000);
        ck_assert_uint_eq(r[1].hi, 8200);
        ck_assert_uint_eq(config_port_ranges(c, r, 3), 0); /* more entries than room */
        config_free(c);

        ck_assert_int_eq(config_parse_string("watch = ( { port = 1; }, { name = \"rest\"; } );", "p", &c, &err),
                         0);
        ck_assert_uint_eq(config_port_ranges(c, r, 4), 0);
        config_free(c);
}
END_TEST

static Suite *config_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_golden_good);
        tcase_add_test(tc, test_golden_bad);
        tcase_add_test(tc, test_match_unix);
        tcase_add_test(tc, test_full_values);
        tcase_add_test(tc, test_ipv6_and_catch_all);
        tcase_add_test(tc, test_seconds);
        tcase_add_test(tc, test_missing);
        tcase_add_test(tc, test_unreadable);
        tcase_add_test(tc, test_file_limits);
        tcase_add_test(tc, test_parse_string);
        tcase_add_test(tc, test_print_defaults);
        tcase_add_test(tc, test_sample);
        tcase_add_test(tc, test_match);
        tcase_add_test(tc, test_port_ranges);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(config_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
