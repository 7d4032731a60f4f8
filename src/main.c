/* SPDX-License-Identifier: MIT */
/* Command line only: parse options, then hand over to --once, --check-config
 * or the daemon. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "build-config.h"
#include "config.h"
#include "daemon.h"
#include "diag.h"
#include "once.h"
#include "sink.h"

#define MAX_PORT_ARGS DIAG_MAX_RANGES
#define MAX_NETNS_ARGS 64

static struct {
        const char *config_path;
        bool config_given;
        bool once;
        bool json;
        bool check_config;
        bool unix_listeners;
        bool processes;
        PortRange ports[MAX_PORT_ARGS];
        size_t n_ports;
        char *netns[MAX_NETNS_ARGS];
        size_t n_netns;
        uint64_t interval_usec;
        LogTarget log_target;
        int log_level;
        const char *record_path;
        const char *proc_root;
} arg = {
        .config_path = CONFIG_FILE,
        .log_target = LOG_TARGET_AUTO,
        .log_level = -1,
        .proc_root = "/proc",
};

static void help(void) {
        printf("Usage: backlogd [OPTIONS]\n"
               "\n"
               "Watch the accept queues of listening TCP sockets and warn in the journal\n"
               "before and when connections are dropped.\n"
               "\n"
               "  -c, --config=FILE        configuration file (default %s)\n"
               "      --check-config       validate the configuration, print it normalised, exit\n"
               "      --once               print every listener's queue and the host counters, exit\n"
               "      --json               with --once: print one JSON object\n"
               "  -p, --port=N|N-M         with --once: only these ports (repeatable)\n"
               "  -u, --unix               with --once: also UNIX stream and seqpacket listeners\n"
               "  -P, --processes          with --once: name the processes of listeners in trouble\n"
               "  -n, --netns=FILE|GLOB    with --once: also this network namespace (repeatable)\n"
               "  -i, --interval=SECONDS   seconds between polls (overrides the file)\n"
               "      --log-target=TARGET  auto, journal or console (default auto)\n"
               "      --log-level=LEVEL    emerg .. info (default), debug: why each poll did what\n"
               "  -d, --debug              the same as --log-level=debug\n"
               "  -h, --help               show this help\n"
               "  -V, --version            show the version\n"
               "\n"
               "Without --once or --check-config, backlogd runs in the foreground as a daemon.\n"
               "See backlogd(8) and backlogd.conf(5).\n",
               CONFIG_FILE);
}

static int parse_port_arg(const char *s, PortRange *ret) {
        char buf[32], *dash;
        uint64_t lo, hi;

        if (strlen(s) >= sizeof(buf))
                return -EINVAL;
        strcpy(buf, s);
        dash = strchr(buf, '-');
        if (dash)
                *dash = 0;
        if (parse_u64(buf, &lo) < 0 || (dash ? parse_u64(dash + 1, &hi) : (hi = lo, 0)) < 0)
                return -EINVAL;
        if (lo < 1 || hi > 65535 || lo > hi)
                return -ERANGE;
        *ret = (PortRange){ .lo = (uint16_t) lo, .hi = (uint16_t) hi };
        return 0;
}

static int parse_interval_arg(const char *s, uint64_t *ret) {
        char *end;
        double d;

        errno = 0;
        d = strtod(s, &end);
        if (errno != 0 || end == s || *end || d != d)
                return -EINVAL;
        if (d * 1e6 < (double) CONFIG_INTERVAL_MIN_USEC - 0.5 || d * 1e6 > (double) CONFIG_INTERVAL_MAX_USEC + 0.5)
                return -ERANGE;
        *ret = (uint64_t) (d * 1e6 + 0.5);
        return 0;
}

/* "backlogd: --port: expected ..., not 'x'" and the exit status for it. */
static int bad_value(const char *option, const char *expected, const char *value) {
        fprintf(stderr, "backlogd: %s: expected %s, not '%s'\n", option, expected, value);
        return EX_USAGE;
}

/* Returns -1 to continue, or an exit status. */
static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_CHECK_CONFIG = 0x100,
                ARG_ONCE,
                ARG_JSON,
                ARG_LOG_TARGET,
                ARG_LOG_LEVEL,
                ARG_RECORD,
                ARG_PROC_ROOT,
        };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "once", no_argument, NULL, ARG_ONCE },
                { "json", no_argument, NULL, ARG_JSON },
                { "port", required_argument, NULL, 'p' },
                { "unix", no_argument, NULL, 'u' },
                { "processes", no_argument, NULL, 'P' },
                { "netns", required_argument, NULL, 'n' },
                { "interval", required_argument, NULL, 'i' },
                { "log-target", required_argument, NULL, ARG_LOG_TARGET },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "debug", no_argument, NULL, 'd' },
                { "record", required_argument, NULL, ARG_RECORD },
                { "proc-root", required_argument, NULL, ARG_PROC_ROOT },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { 0 },
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:p:i:n:uPdhV", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg.config_path = optarg;
                        arg.config_given = true;
                        break;
                case ARG_CHECK_CONFIG:
                        arg.check_config = true;
                        break;
                case ARG_ONCE:
                        arg.once = true;
                        break;
                case ARG_JSON:
                        arg.json = true;
                        break;
                case 'p':
                        if (arg.n_ports == MAX_PORT_ARGS) {
                                fprintf(stderr, "backlogd: at most %d --port options\n", MAX_PORT_ARGS);
                                return EX_USAGE;
                        }
                        if (parse_port_arg(optarg, &arg.ports[arg.n_ports]) < 0)
                                return bad_value("--port", "N or N-M with 1 <= N <= M <= 65535", optarg);
                        arg.n_ports++;
                        break;
                case 'u':
                        arg.unix_listeners = true;
                        break;
                case 'P':
                        arg.processes = true;
                        break;
                case 'n':
                        if (arg.n_netns == MAX_NETNS_ARGS) {
                                fprintf(stderr, "backlogd: at most %d --netns options\n", MAX_NETNS_ARGS);
                                return EX_USAGE;
                        }
                        if (optarg[0] != '/')
                                return bad_value("--netns",
                                                 "an absolute path or pattern (/run/netns/NAME, /proc/PID/ns/net)",
                                                 optarg);
                        arg.netns[arg.n_netns++] = optarg;
                        break;
                case 'i':
                        if (parse_interval_arg(optarg, &arg.interval_usec) < 0)
                                return bad_value("--interval", "seconds between 0.01 and 3600", optarg);
                        break;
                case ARG_LOG_TARGET:
                        if (log_target_from_string(optarg, &arg.log_target) < 0)
                                return bad_value("--log-target", "auto, journal or console", optarg);
                        break;
                case ARG_LOG_LEVEL:
                        if (log_level_from_string(optarg, &arg.log_level) < 0)
                                return bad_value("--log-level",
                                                 "emerg, alert, crit, err, warning, notice, info or debug", optarg);
                        break;
                case 'd':
                        arg.log_level = 7; /* LOG_DEBUG */
                        break;
                case ARG_RECORD:
                        arg.record_path = optarg;
                        break;
                case ARG_PROC_ROOT:
                        arg.proc_root = optarg;
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'V':
                        printf("backlogd %s\n", PACKAGE_VERSION);
                        return EXIT_SUCCESS;
                default:
                        fputs("Try 'backlogd --help'.\n", stderr);
                        return EX_USAGE;
                }

        if (optind < argc) {
                fprintf(stderr, "backlogd: unexpected argument '%s'\nTry 'backlogd --help'.\n", argv[optind]);
                return EX_USAGE;
        }
        if (arg.once && arg.check_config) {
                fputs("backlogd: --once and --check-config exclude each other\n", stderr);
                return EX_USAGE;
        }
        if (!arg.once && (arg.json || arg.n_ports > 0 || arg.record_path || arg.unix_listeners || arg.n_netns > 0 ||
                          arg.processes)) {
                fputs("backlogd: --json, --port, --unix, --processes, --netns and --record need --once\n", stderr);
                return EX_USAGE;
        }
        return -1;
}

static int load_config(Config **ret) {
        ErrBuf err = { 0 };
        int r = config_load(arg.config_path, arg.config_given, ret, &err);

        if (r < 0) {
                fprintf(stderr, "backlogd: %s\n", err.text);
                return EX_CONFIG;
        }
        if (arg.interval_usec)
                (*ret)->interval_usec = arg.interval_usec;
        return 0;
}

/* --check-config runs as root with every capability (or as the service's
 * ExecReload), so it reads files the service could not: say so, a warning
 * that does not change the exit status. That the shipped unit could not
 * read it goes to stderr (and so to the journal from ExecReload); that the
 * unprivileged variant could not is a comment line before the normalised
 * configuration on stdout, which ExecReload discards. */
static void note_service_readers(const char *path) {
        static const struct {
                ConfigReader who;
                const char *as;
        } readers[] = {
                { CONFIG_READER_ROOT, "as backlogd.service runs it (uid 0 without capabilities)" },
                { CONFIG_READER_TRANSIENT, "with backlogd-unprivileged.conf.example (a transient uid)" },
        };

        for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
                _cleanup_(freep) char *where = NULL;
                struct stat st;
                int r = config_reader_denied(path, readers[i].who, &where, &st);

                FILE *f = readers[i].who == CONFIG_READER_ROOT ? stderr : stdout;
                const char *prefix = f == stderr ? "backlogd: note:" : "# note:";

                if (r < 0)
                        fprintf(f, "%s cannot tell whether the service could read %s: %s\n", prefix, path,
                                strerror(-r));
                if (r <= 0)
                        continue;
                fprintf(f, "%s the service could not read %s %s: %s%s mode %04o, owner uid %u, group %u\n", prefix,
                        path, readers[i].as, S_ISDIR(st.st_mode) ? "directory " : "file",
                        S_ISDIR(st.st_mode) ? where : "", (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid,
                        (unsigned) st.st_gid);
        }
}

static int run_check_config(void) {
        Config *c = NULL;
        int r = load_config(&c);

        if (r != 0)
                return r;
        if (!c->path)
                printf("# %s does not exist: built-in defaults\n", arg.config_path);
        else
                note_service_readers(c->path);
        config_print(c, stdout);
        config_free(c);
        return EXIT_SUCCESS;
}

static int run_once(void) {
        Config *c = NULL;
        int r = load_config(&c);

        if (r != 0)
                return r;
        r = once_run(&(OnceOptions){
                .config = c,
                .proc_root = arg.proc_root,
                .ports = arg.ports,
                .n_ports = arg.n_ports,
                .netns = arg.netns,
                .n_netns = arg.n_netns,
                .unix_listeners = arg.unix_listeners,
                .processes = arg.processes,
                .json = arg.json,
                .record_path = arg.record_path,
        });
        config_free(c);
        return r;
}

int main(int argc, char *argv[]) {
        int r;

        /* First thing: a SIGHUP or SIGTERM during start-up is the loop's to
         * handle (it reads them from a signalfd), not a cause of death. */
        daemon_block_signals();
        r = parse_argv(argc, argv);

        if (r >= 0)
                return r;
        if (arg.check_config)
                return run_check_config();
        if (arg.once)
                return run_once();
        return daemon_run(&(DaemonOptions){
                .config_path = arg.config_path,
                .config_must_exist = arg.config_given,
                .interval_usec = arg.interval_usec,
                .log_target = arg.log_target,
                .log_level = arg.log_level,
                .proc_root = arg.proc_root,
        });
}
