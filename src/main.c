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
#include "netns.h"
#include "netstat.h"
#include "owner.h"
#include "report.h"
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
        PortRange ports[MAX_PORT_ARGS];
        size_t n_ports;
        char *netns[MAX_NETNS_ARGS];
        size_t n_netns;
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
               "  -n, --netns=FILE|GLOB    with --once: also this network namespace (repeatable)\n"
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
                { "netns", required_argument, NULL, 'n' },
                { "interval", required_argument, NULL, 'i' },
                { "log-target", required_argument, NULL, ARG_LOG_TARGET },
                { "record", required_argument, NULL, ARG_RECORD },
                { "proc-root", required_argument, NULL, ARG_PROC_ROOT },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {0},
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:p:i:n:uhV", options, NULL)) >= 0)
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
                case 'n':
                        if (arg.n_netns == MAX_NETNS_ARGS) {
                                fprintf(stderr, "backlogd: at most %d --netns options\n", MAX_NETNS_ARGS);
                                return EX_USAGE;
                        }
                        if (optarg[0] != '/') {
                                fprintf(stderr, "backlogd: --netns: expected an absolute path or pattern "
                                                "(/run/netns/NAME, /proc/PID/ns/net), not '%s'\n",
                                        optarg);
                                return EX_USAGE;
                        }
                        arg.netns[arg.n_netns++] = optarg;
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
        if (!arg.once && (arg.json || arg.n_ports > 0 || arg.record_path || arg.unix_listeners || arg.n_netns > 0)) {
                fputs("backlogd: --json, --port, --unix, --netns and --record need --once\n", stderr);
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

/* What --once reads in one network namespace, from inside it. */
typedef struct OnceSpace {
        Snapshot *snap;
        uint64_t id;              /* Listener.netns */
        const char *proc_root;
        FILE *record;             /* the host's dump only */
        bool unix_listeners;
        NetstatCounters *counters;
        bool *have_counters;
        NetstatSysctls *sysctls;
        const char *name;         /* for messages: NULL for the host */
} OnceSpace;

static void once_warn(const OnceSpace *o, const char *what, const char *text) {
        if (o->name)
                fprintf(stderr, "backlogd: network namespace %s: %s%s\n", o->name, text, what);
        else
                fprintf(stderr, "backlogd: %s%s\n", text, what);
}

static int once_read_space(void *userdata, ErrBuf *err) {
        OnceSpace *o = userdata;
        ListenerSet *ls = &o->snap->listeners;
        _cleanup_(syn_counts_done) SynCounts syn = { 0 };
        ErrBuf e = { "" };
        DiagSocket *diag = NULL;
        size_t start = ls->n;
        int r;

        r = diag_open(&diag, err);
        if (r < 0)
                return r;
        diag_set_netns(diag, o->id);
        diag_set_recorder(diag, o->record);
        r = diag_dump_listeners(diag, arg.ports, arg.n_ports, ls, err);
        if (r >= 0 && o->unix_listeners)
                r = diag_dump_unix(diag, push_listener, ls, err);
        if (r < 0) {
                /* Half a namespace would look like a whole one. */
                ls->n = start;
                diag_close(diag);
                return r;
        }
        /* Half-open connections per listener: a walk of every connection,
         * affordable once. */
        diag_set_recorder(diag, NULL);
        r = diag_count_syn(diag, &syn, &e);
        diag_close(diag);
        if (r < 0)
                once_warn(o, ", showing no SYN queues", e.text);
        for (size_t i = start; r >= 0 && i < ls->n; i++) {
                Listener *l = &ls->items[i];

                if (l->kind == LISTENER_TCP) {
                        l->syn_depth = syn_counts_for(&syn, l, l->v6only);
                        l->has_syn = true;
                }
        }

        r = netstat_read(o->proc_root, o->counters, &e);
        if (r < 0)
                once_warn(o, o->name ? ", showing no listen counters" : ", showing no host counters", e.text);
        *o->have_counters = r >= 0;
        netstat_read_sysctls(o->proc_root, o->sysctls);
        return 0;
}

/* The configured namespaces and those of --netns. Returns false if one of
 * them could not be read (it was said on stderr). */
static bool once_read_namespaces(const Config *c, Snapshot *snap) {
        _cleanup_(netns_list_done) NetnsList found = { 0 };
        _cleanup_(freep) char **patterns = calloc(c->n_namespaces + arg.n_netns + 1, sizeof(char *));
        uint64_t self_inode = 0;
        int self_fd = -1;
        size_t n = 0;
        bool ok = true;
        ErrBuf err = { "" };
        int r;

        if (!patterns)
                return false;
        for (size_t i = 0; i < c->n_namespaces; i++)
                patterns[n++] = c->namespaces[i];
        for (size_t i = 0; i < arg.n_netns; i++)
                patterns[n++] = arg.netns[i];
        if (n == 0)
                return true;
        r = netns_open_self(&self_fd, &self_inode, &err);
        if (r < 0) {
                fprintf(stderr, "backlogd: %s\n", err.text);
                return false;
        }
        r = netns_expand(patterns, n, &found);
        if (r < 0) {
                fprintf(stderr, "backlogd: looking for network namespaces: %s\n", strerror(-r));
                close(self_fd);
                return false;
        }
        for (size_t i = 0; i < found.n; i++) {
                const NetnsFile *f = &found.items[i];
                NetstatCounters counters = { 0 };
                NetstatSysctls sysctls = { 0 };
                bool have_counters = false;
                SnapshotNetns *e;
                OnceSpace o;
                uint64_t inode;
                int fd;

                if (f->error < 0) {
                        fprintf(stderr, "backlogd: network namespace %s: %s\n", f->path,
                                f->error == -ENOTTY ? "not a network namespace file" : strerror(-f->error));
                        ok = false;
                        continue;
                }
                if (f->inode == self_inode && !snap->no_host)
                        continue; /* shown as the host */
                r = netns_open(f->path, &fd, &inode, &err);
                if (r < 0) {
                        fprintf(stderr, "backlogd: %s\n", err.text);
                        ok = false;
                        continue;
                }
                o = (OnceSpace) {
                        .snap = snap,
                        .id = inode,
                        .proc_root = "/proc",
                        .unix_listeners = arg.unix_listeners || config_wants_unix(c),
                        .counters = &counters,
                        .have_counters = &have_counters,
                        .sysctls = &sysctls,
                        .name = f->name,
                };
                r = netns_run(fd, self_fd, once_read_space, &o, &err);
                close(fd);
                if (r == -ENOTRECOVERABLE) {
                        fprintf(stderr, "backlogd: %s\n", err.text);
                        exit(EXIT_FAILURE);
                }
                if (r < 0) {
                        /* Not shown at all: an empty entry would look like
                         * an empty namespace. */
                        fprintf(stderr, "backlogd: network namespace %s: %s\n", f->name, err.text);
                        ok = false;
                        continue;
                }
                e = snapshot_add_netns(snap, inode, f->name);
                if (!e) {
                        fprintf(stderr, "backlogd: out of memory\n");
                        ok = false;
                        break;
                }
                e->counters = counters;
                e->have_counters = have_counters;
                e->sysctls = sysctls;
        }
        close(self_fd);
        return ok;
}

static int run_once(void) {
        _cleanup_(fclosep) FILE *record = NULL;
        Snapshot snap = {0};
        Owner *owner = NULL;
        Config *c = NULL;
        ErrBuf err = {0};
        bool all_read, host_read = true;
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

        snap.no_host = !c->host;
        if (c->host) {
                OnceSpace o = {
                        .snap = &snap,
                        .proc_root = arg.proc_root,
                        .record = record,
                        .unix_listeners = arg.unix_listeners || config_wants_unix(c),
                        .counters = &snap.counters,
                        .have_counters = &snap.have_counters,
                        .sysctls = &snap.sysctls,
                };

                r = once_read_space(&o, &err);
                if (r < 0) {
                        fprintf(stderr, "backlogd: %s\n", err.text);
                        /* The other namespaces are still worth showing. */
                        if (c->n_namespaces + arg.n_netns == 0)
                                goto finish;
                        snap.no_host = true;
                        host_read = false;
                }
        }
        all_read = once_read_namespaces(c, &snap) && host_read;

        (void) owner_new("/sys/fs/cgroup", &owner); /* no owner column on ENOMEM */
        /* Processes are named for listeners in trouble, within a bound. */
        owner_set_process_deadline(owner, 100ULL * 1000);

        r = arg.json ? report_json(stdout, &snap, c, owner) : report_table(stdout, &snap, c, owner);
        if (r < 0) {
                fprintf(stderr, "backlogd: writing the report: %s\n", strerror(-r));
                goto finish;
        }
        ret = all_read ? EXIT_SUCCESS : EXIT_FAILURE;
finish:
        owner_free(owner);
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
