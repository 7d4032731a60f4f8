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
#include "netstat.h"
#include "owner.h"
#include "report.h"
#include "sink.h"

#define MAX_PORT_ARGS DIAG_MAX_RANGES

static struct {
        const char *config_path;
        bool config_given;
        bool once;
        bool json;
        bool check_config;
        bool unix_listeners;
        PortRange ports[MAX_PORT_ARGS];
        size_t n_ports;
        uint64_t interval_usec;
        LogTarget log_target;
        const char *record_path;
        const char *proc_root;
} arg = {
        .config_path = CONFIG_FILE,
        .log_target = LOG_TARGET_AUTO,
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
               "  -u, --unix               with --once: also UNIX stream listeners\n"
               "  -i, --interval=SECONDS   seconds between polls (overrides the file)\n"
               "      --log-target=TARGET  auto, journal or console (default auto)\n"
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
        *ret = (PortRange) { .lo = (uint16_t) lo, .hi = (uint16_t) hi };
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

/* Returns -1 to continue, or an exit status. */
static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_CHECK_CONFIG = 0x100,
                ARG_ONCE,
                ARG_JSON,
                ARG_LOG_TARGET,
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
                { "interval", required_argument, NULL, 'i' },
                { "log-target", required_argument, NULL, ARG_LOG_TARGET },
                { "record", required_argument, NULL, ARG_RECORD },
                { "proc-root", required_argument, NULL, ARG_PROC_ROOT },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {0},
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:p:i:uhV", options, NULL)) >= 0)
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
                        if (parse_port_arg(optarg, &arg.ports[arg.n_ports]) < 0) {
                                fprintf(stderr, "backlogd: --port: expected N or N-M with 1 <= N <= M <= 65535, not '%s'\n",
                                        optarg);
                                return EX_USAGE;
                        }
                        arg.n_ports++;
                        break;
                case 'u':
                        arg.unix_listeners = true;
                        break;
                case 'i':
                        if (parse_interval_arg(optarg, &arg.interval_usec) < 0) {
                                fprintf(stderr, "backlogd: --interval: expected seconds between 0.01 and 3600, not '%s'\n",
                                        optarg);
                                return EX_USAGE;
                        }
                        break;
                case ARG_LOG_TARGET:
                        if (log_target_from_string(optarg, &arg.log_target) < 0) {
                                fprintf(stderr, "backlogd: --log-target: expected auto, journal or console, not '%s'\n",
                                        optarg);
                                return EX_USAGE;
                        }
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
        if (!arg.once && (arg.json || arg.n_ports > 0 || arg.record_path || arg.unix_listeners)) {
                fputs("backlogd: --json, --port, --unix and --record need --once\n", stderr);
                return EX_USAGE;
        }
        return -1;
}

static int load_config(Config **ret) {
        ErrBuf err = {0};
        int r = config_load(arg.config_path, arg.config_given, ret, &err);

        if (r < 0) {
                fprintf(stderr, "backlogd: %s\n", err.text);
                return EX_CONFIG;
        }
        if (arg.interval_usec)
                (*ret)->interval_usec = arg.interval_usec;
        return 0;
}

static int run_check_config(void) {
        Config *c = NULL;
        int r = load_config(&c);

        if (r != 0)
                return r;
        if (!c->path)
                printf("# %s does not exist: built-in defaults\n", arg.config_path);
        config_print(c, stdout);
        config_free(c);
        return EXIT_SUCCESS;
}

static int push_listener(const Listener *l, void *userdata) {
        Listener *slot = listener_set_push(userdata);

        if (!slot)
                return -ENOMEM;
        *slot = *l;
        return 0;
}

static int run_once(void) {
        _cleanup_(fclosep) FILE *record = NULL;
        SynCounts syn = {0};
        Snapshot snap = {0};
        DiagSocket *diag = NULL;
        Owner *owner = NULL;
        Config *c = NULL;
        ErrBuf err = {0};
        int r, ret = EXIT_FAILURE;

        r = load_config(&c);
        if (r != 0)
                return r;

        if (arg.record_path) {
                record = fopen(arg.record_path, "wex");
                if (!record) {
                        fprintf(stderr, "backlogd: --record: %s: %s\n", arg.record_path, strerror(errno));
                        goto finish;
                }
        }

        r = diag_open(&diag, &err);
        if (r < 0) {
                fprintf(stderr, "backlogd: %s\n", err.text);
                goto finish;
        }
        diag_set_recorder(diag, record);
        r = diag_dump_listeners(diag, arg.ports, arg.n_ports, &snap.listeners, &err);
        if (r >= 0 && (arg.unix_listeners || config_wants_unix(c)))
                r = diag_dump_unix(diag, push_listener, &snap.listeners, &err);
        if (r < 0) {
                fprintf(stderr, "backlogd: %s\n", err.text);
                goto finish;
        }
        /* Half-open connections per listener: a walk of every connection,
         * affordable once. */
        r = diag_count_syn(diag, &syn, &err);
        if (r < 0)
                fprintf(stderr, "backlogd: %s, showing no SYN queues\n", err.text);
        for (size_t i = 0; r >= 0 && i < snap.listeners.n; i++) {
                Listener *l = &snap.listeners.items[i];

                if (l->kind == LISTENER_TCP) {
                        l->syn_depth = syn_counts_for(&syn, l, l->v6only);
                        l->has_syn = true;
                }
        }

        r = netstat_read(arg.proc_root, &snap.counters, &err);
        if (r < 0)
                fprintf(stderr, "backlogd: %s, showing no host counters\n", err.text);
        snap.have_counters = r >= 0;
        netstat_read_sysctls(arg.proc_root, &snap.sysctls);

        (void) owner_new("/sys/fs/cgroup", &owner); /* no owner column on ENOMEM */
        /* Processes are named for listeners in trouble, within a bound. */
        owner_set_process_deadline(owner, 100ULL * 1000);

        r = arg.json ? report_json(stdout, &snap, c, owner) : report_table(stdout, &snap, c, owner);
        if (r < 0) {
                fprintf(stderr, "backlogd: writing the report: %s\n", strerror(-r));
                goto finish;
        }
        ret = EXIT_SUCCESS;
finish:
        owner_free(owner);
        diag_close(diag);
        syn_counts_done(&syn);
        snapshot_done(&snap);
        config_free(c);
        return ret;
}

int main(int argc, char *argv[]) {
        int r = parse_argv(argc, argv);

        if (r >= 0)
                return r;
        if (arg.check_config)
                return run_check_config();
        if (arg.once)
                return run_once();
        return daemon_run(&(DaemonOptions) {
                .config_path = arg.config_path,
                .config_must_exist = arg.config_given,
                .interval_usec = arg.interval_usec,
                .log_target = arg.log_target,
                .proc_root = arg.proc_root,
        });
}
