/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "describe.h"
#include "escape.h"
#include "policy.h"
#include "report.h"

/* Fullest first: compare depth/capacity as fractions without division. */
static int fullest_first(const void *a, const void *b) {
        const Listener *x = *(const Listener *const *) a, *y = *(const Listener *const *) b;
        uint64_t lx = (uint64_t) x->depth * listener_capacity(y);
        uint64_t ly = (uint64_t) y->depth * listener_capacity(x);

        if (lx != ly)
                return lx > ly ? -1 : 1;
        if (x->depth != y->depth)
                return x->depth > y->depth ? -1 : 1;
        if (x->port != y->port)
                return x->port < y->port ? -1 : 1;
        if (x->family != y->family)
                return x->family < y->family ? -1 : 1;
        int r = memcmp(x->addr, y->addr, sizeof(x->addr));
        if (r != 0)
                return r;
        if (x->netns != y->netns)
                return x->netns < y->netns ? -1 : 1;
        return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

static const Listener **sorted_view(const Snapshot *s) {
        const Listener **v = malloc((s->listeners.n ? s->listeners.n : 1) * sizeof(*v));

        if (!v)
                return NULL;
        for (size_t i = 0; i < s->listeners.n; i++)
                v[i] = &s->listeners.items[i];
        qsort(v, s->listeners.n, sizeof(*v), fullest_first);
        return v;
}

/* The sysctls of a listener's namespace, NULL when the snapshot has none. */
static const NetstatSysctls *sysctls_of(const Snapshot *s, uint64_t netns) {
        if (netns == 0)
                return s->no_host ? NULL : &s->sysctls;
        for (size_t i = 0; i < s->n_netns; i++)
                if (s->netns[i].netns == netns)
                        return &s->netns[i].sysctls;
        return NULL;
}

static const ListenerInfo *info_of(const Snapshot *s, const Listener *l) {
        static const ListenerInfo none = { 0 };

        return s->info ? &s->info[l - s->listeners.items] : &none;
}

/* The watch levels of a listener: the entry that selects it (by its
 * resolved unit and its namespace's name), else the top level. */
static unsigned warn_for(const Snapshot *s, const Config *c, const Listener *l) {
        const Watch *w = config_match(c, l, info_of(s, l)->unit, snapshot_netns_name(s, l->netns));

        return w ? w->warn : c->warn;
}

static ListenState state_of(const Snapshot *s, const Config *c, const Listener *l) {
        return levels_classify(l, warn_for(s, c, l));
}

static bool troubled(const Snapshot *s, const Config *c, const Listener *l) {
        return state_of(s, c, l) != STATE_OK || (l->has_drops && l->drops > 0);
}

static const char *endpoint_of(const Snapshot *s, const Listener *l, char *buf, size_t size) {
        return describe_endpoint(l, info_of(s, l)->interface, buf, size);
}

/* "nginx.service (nginx, pid 812)", "foo.service (via foo.socket)", the
 * cgroup path, or "-". */
static const char *owner_text(const Snapshot *s, const Listener *l, char *buf, size_t size) {
        const ListenerInfo *i = info_of(s, l);

        describe_owner(i->unit ? i->unit : i->cgroup, i->socket_unit, i->comm, i->pid, buf, size);
        return buf[0] ? buf : "-";
}

/* "net.ipv4.tcp_abort_on_overflow is 1 …" when that namespace's overflows
 * were answered with resets. */
static bool abort_hint(const NetstatCounters *counters, const NetstatSysctls *sysctls, const char *where, char *hint,
                       size_t size) {
        if (!counters->present[NETSTAT_LISTEN_OVERFLOWS] || counters->value[NETSTAT_LISTEN_OVERFLOWS] == 0 ||
            !sysctls->present[SYSCTL_TCP_ABORT_ON_OVERFLOW] || sysctls->value[SYSCTL_TCP_ABORT_ON_OVERFLOW] == 0)
                return false;
        snprintf(hint, size,
                 "net.ipv4.tcp_abort_on_overflow is 1%s: the %" PRIu64
                 " overflows counted in ListenOverflows sent resets to their clients.",
                 where, counters->value[NETSTAT_LISTEN_OVERFLOWS]);
        return true;
}

/* What --once can tell beyond the numbers: only about listeners that are
 * raised or have dropped, so a healthy host prints no hints. somaxconn and
 * tcp_abort_on_overflow are per network namespace: each listener and each
 * namespace's counters are judged by its own. Returns the number of hints;
 * each is written by emit() as a whole sentence. */
static size_t report_hints(const Snapshot *s, const Config *c, const Listener *const *v,
                           void (*emit)(FILE *f, bool first, const char *hint), FILE *f) {
        char hint[640], what[320], ep[DESCRIBE_ENDPOINT_MAX], where[DESCRIBE_NETNS_MAX];
        size_t n = 0;

        for (size_t i = 0; i < s->listeners.n; i++) {
                const Listener *l = v[i];
                const ListenerInfo *in = info_of(s, l);
                const NetstatSysctls *sysctls = sysctls_of(s, l->netns);
                int64_t somaxconn =
                        sysctls && sysctls->present[SYSCTL_SOMAXCONN] ? sysctls->value[SYSCTL_SOMAXCONN] : -1;

                /* Certain, not "probably": said even while the queue is fine. */
                if (in->socket_unit && in->socket_backlog) {
                        emit(f, n++ == 0,
                             describe_socket_clamp(in->socket_unit, in->socket_backlog, l->backlog,
                                                   endpoint_of(s, l, ep, sizeof(ep)), hint, sizeof(hint)));
                        continue;
                }
                /* Who waits on a UNIX listener (found with --processes). */
                if (in->n_clients > 0) {
                        char clients[DESCRIBE_CLIENTS_MAX];

                        snprintf(hint, sizeof(hint), "%s%s: %u connection%s wait%s; their clients: %s.",
                                 endpoint_of(s, l, ep, sizeof(ep)),
                                 describe_netns(snapshot_netns_name(s, l->netns), where, sizeof(where)), l->depth,
                                 l->depth == 1 ? "" : "s", l->depth == 1 ? "s" : "",
                                 describe_clients(in->clients, in->n_clients, clients, sizeof(clients)));
                        emit(f, n++ == 0, hint);
                }
                if (!troubled(s, c, l))
                        continue;
                /* One look: whether somaxconn was the same at listen() time
                 * is not known, hence "probably". */
                if (!describe_backlog_hint(l->backlog, somaxconn >= 0 && (int64_t) l->backlog == somaxconn, what,
                                           sizeof(what))[0])
                        continue;
                snprintf(hint, sizeof(hint), "%s%s: %s", endpoint_of(s, l, ep, sizeof(ep)),
                         describe_netns(snapshot_netns_name(s, l->netns), where, sizeof(where)), what);
                emit(f, n++ == 0, hint);
        }
        if (!s->no_host && s->have_counters && abort_hint(&s->counters, &s->sysctls, "", hint, sizeof(hint)))
                emit(f, n++ == 0, hint);
        for (size_t i = 0; i < s->n_netns; i++) {
                const SnapshotNetns *ns = &s->netns[i];

                if (ns->have_counters &&
                    abort_hint(&ns->counters, &ns->sysctls, describe_netns(ns->name, where, sizeof(where)), hint,
                               sizeof(hint)))
                        emit(f, n++ == 0, hint);
        }
        return n;
}

/* A cell of the table: s escaped (every name in it may be a local user's
 * choice), padded to width columns. */
static void table_cell(FILE *f, const char *s, int width) {
        escape_text_fputs(s, f);
        for (int w = (int) escape_text_width(s); w < width; w++)
                fputc(' ', f);
}

static int cell_width(const char *s) {
        size_t w = escape_text_width(s);

        return w > INT_MAX ? INT_MAX : (int) w;
}

static void table_hint(FILE *f, bool first, const char *hint) {
        if (first)
                fputs("\nHints:\n", f);
        fputs("  ", f);
        escape_text_fputs(hint, f);
        fputc('\n', f);
}

static void table_counters(FILE *f, bool have, const NetstatCounters *counters) {
        if (!have) {
                fputs("  unavailable\n", f);
                return;
        }
        for (int k = 0; k < _NETSTAT_COUNTER_MAX; k++)
                if (counters->present[k])
                        fprintf(f, "  %-22s %12" PRIu64 "\n", netstat_counter_name((NetstatCounter) k),
                                counters->value[k]);
}

static void table_sysctls(FILE *f, const NetstatSysctls *sysctls) {
        for (int k = 0; k < _SYSCTL_MAX; k++)
                if (sysctls->present[k])
                        fprintf(f, "  %-30s %6" PRId64 "\n", netstat_sysctl_name((NetstatSysctl) k),
                                sysctls->value[k]);
                else
                        fprintf(f, "  %-30s %6s\n", netstat_sysctl_name((NetstatSysctl) k), "?");
}

static const char *netns_or_unknown(const Snapshot *s, uint64_t netns) {
        const char *name = snapshot_netns_name(s, netns);

        return name ? name : "?";
}

/* One line per SO_REUSEPORT group, where its fullest member is in the
 * table (fullest first); nothing when there is none. */
static int table_groups(FILE *f, const Snapshot *s, const Listener *const *v) {
        _cleanup_(freep) bool *shown = NULL;
        char line[DESCRIBE_ENDPOINT_MAX + DESCRIBE_NETNS_MAX + 128], ep[DESCRIBE_ENDPOINT_MAX],
                where[DESCRIBE_NETNS_MAX];
        uint32_t n = 0;

        for (size_t i = 0; i < s->listeners.n; i++)
                if (info_of(s, v[i])->group.id > n)
                        n = info_of(s, v[i])->group.id;
        if (n == 0)
                return 0;
        shown = calloc((size_t) n + 1, sizeof(*shown));
        if (!shown)
                return -ENOMEM;
        fputs("\nSO_REUSEPORT groups:\n", f);
        for (size_t i = 0; i < s->listeners.n; i++) {
                const ListenerGroup *g = &info_of(s, v[i])->group;

                if (g->members == 0 || shown[g->id])
                        continue;
                shown[g->id] = true;
                snprintf(line, sizeof(line),
                         "%s%s: %u sockets, %u full, %" PRIu64 " of %" PRIu64 " connections waiting",
                         endpoint_of(s, v[i], ep, sizeof(ep)),
                         describe_netns(snapshot_netns_name(s, v[i]->netns), where, sizeof(where)), g->members,
                         g->full, g->depth, g->capacity);
                fputs("  ", f);
                escape_text_fputs(line, f);
                fputc('\n', f);
        }
        return 0;
}

/* The NETNS column and the sections of other namespaces appear only when
 * the snapshot has some: a host-only report looks as it always did. When
 * the daemon's own namespace was not read (host = false), its counters and
 * sysctls are left out rather than shown as unavailable. */
int report_table(FILE *f, const Snapshot *s, const Config *c) {
        _cleanup_(freep) const Listener **v = sorted_view(s);
        char ep[DESCRIBE_ENDPOINT_MAX], unit[DESCRIBE_OWNER_MAX];
        int width = 6, nswidth = 0;

        if (!v)
                return -ENOMEM;
        if (s->n_netns > 0)
                nswidth = (int) strlen("NETNS");
        for (size_t i = 0; i < s->listeners.n; i++) {
                int len = cell_width(endpoint_of(s, v[i], ep, sizeof(ep)));
                if (len > width)
                        width = len;
                if (nswidth > 0 && (len = cell_width(netns_or_unknown(s, v[i]->netns))) > nswidth)
                        nswidth = len;
        }
        fprintf(f, "%-*s", width, "LISTEN");
        if (nswidth > 0)
                fprintf(f, " %-*s", nswidth, "NETNS");
        fprintf(f, " %7s %7s %5s %-5s %7s %6s %6s %s\n", "DEPTH", "BACKLOG", "FILL", "STATE", "DROPS", "WAIT", "UID",
                "OWNER");
        for (size_t i = 0; i < s->listeners.n; i++) {
                const Listener *l = v[i];
                char drops[24] = "-", wait[DESCRIBE_WAIT_MAX] = "-";

                if (l->has_drops)
                        snprintf(drops, sizeof(drops), "%u", l->drops);
                if (l->has_wait)
                        describe_wait(l->wait_ms, "", wait, sizeof(wait));
                table_cell(f, endpoint_of(s, l, ep, sizeof(ep)), width);
                if (nswidth > 0) {
                        fputc(' ', f);
                        table_cell(f, netns_or_unknown(s, l->netns), nswidth);
                }
                fprintf(f, " %7u %7u %4u%% %-5s %7s %6s %6u ", l->depth, l->backlog, listener_fill_pct(l),
                        listen_state_name(state_of(s, c, l)), drops, wait, l->uid);
                table_cell(f, owner_text(s, l, unit, sizeof(unit)), 0);
                fputc('\n', f);
        }
        if (s->listeners.n == 0)
                fputs("(no listening TCP sockets)\n", f);
        if (table_groups(f, s, v) < 0)
                return -ENOMEM;

        if (!s->no_host) {
                fputs("\nHost counters (TcpExt, since the namespace was created):\n", f);
                table_counters(f, s->have_counters, &s->counters);
        }
        for (size_t i = 0; i < s->n_netns; i++) {
                fputs("\nCounters of network namespace ", f);
                escape_text_fputs(s->netns[i].name, f);
                fputs(" (TcpExt, since the namespace was created):\n", f);
                table_counters(f, s->netns[i].have_counters, &s->netns[i].counters);
        }

        if (!s->no_host) {
                fputs("\nSysctls:\n", f);
                table_sysctls(f, &s->sysctls);
        }
        for (size_t i = 0; i < s->n_netns; i++) {
                fputs("\nSysctls in network namespace ", f);
                escape_text_fputs(s->netns[i].name, f);
                fputs(":\n", f);
                table_sysctls(f, &s->netns[i].sysctls);
        }
        report_hints(s, c, v, table_hint, f);

        fflush(f);
        return ferror(f) ? -EIO : 0;
}

/* A JSON string of s, by the JSON rule of escape.h: valid JSON and UTF-8
 * whatever the bytes, and reversible. */
static void json_string(FILE *f, const char *s) {
        fputc('"', f);
        escape_json_fputs(s, f);
        fputc('"', f);
}

static void json_hint(FILE *f, bool first, const char *hint) {
        fputs(first ? "" : ",", f);
        json_string(f, hint);
}

static void json_counters(FILE *f, const NetstatCounters *counters) {
        bool first = true;

        fputc('{', f);
        for (int k = 0; k < _NETSTAT_COUNTER_MAX; k++)
                if (counters->present[k]) {
                        fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", netstat_counter_name((NetstatCounter) k),
                                counters->value[k]);
                        first = false;
                }
        fputc('}', f);
}

static void json_sysctls(FILE *f, const NetstatSysctls *sysctls) {
        bool first = true;

        fputc('{', f);
        for (int k = 0; k < _SYSCTL_MAX; k++)
                if (sysctls->present[k]) {
                        fprintf(f, "%s\"%s\":%" PRId64, first ? "" : ",", netstat_sysctl_name((NetstatSysctl) k),
                                sysctls->value[k]);
                        first = false;
                }
        fputc('}', f);
}

/* Top level: "counters" and "sysctl" are the daemon's own namespace's, as
 * they always were ({} counters when unavailable); when that namespace was
 * not read at all (host = false) both are null, so that nobody takes them
 * for an empty reading. "namespaces" has one object per other namespace,
 * with the same two members, "counters" only when they were read. Each
 * listener names its namespace in "netns" (null if the snapshot does not
 * know it). */
int report_json(FILE *f, const Snapshot *s, const Config *c) {
        _cleanup_(freep) const Listener **v = sorted_view(s);

        if (!v)
                return -ENOMEM;
        fputs("{\"listeners\":[", f);
        for (size_t i = 0; i < s->listeners.n; i++) {
                const Listener *l = v[i];
                const ListenerInfo *in = info_of(s, l);
                const char *netns = snapshot_netns_name(s, l->netns);
                char a[LISTENER_ADDRESS_MAX];
                /* Rounded down: a queue that is not full never reads 1.000. */
                uint64_t permille = (uint64_t) l->depth * 1000 / listener_capacity(l);

                fprintf(f, "%s\n{\"netns\":", i ? "," : "");
                if (netns)
                        json_string(f, netns);
                else
                        fputs("null", f);
                fprintf(f, ",\"family\":\"%s\",\"address\":",
                        l->kind == LISTENER_UNIX ? "unix"
                        : l->family == AF_INET   ? "inet"
                                                 : "inet6");
                json_string(f, listener_address(l, a, sizeof(a)));
                fprintf(f, ",\"port\":%u,", l->port);
                if (l->kind == LISTENER_UNIX)
                        fprintf(f, "\"type\":\"%s\",", l->sotype == SOCK_SEQPACKET ? "seqpacket" : "stream");
                if (l->ifindex) {
                        fprintf(f, "\"ifindex\":%u,", l->ifindex);
                        if (in->interface[0]) {
                                fputs("\"interface\":", f);
                                json_string(f, in->interface);
                                fputc(',', f);
                        }
                }
                fprintf(f,
                        "\"depth\":%u,\"backlog\":%u,\"capacity\":%" PRIu64 ",\"fill\":%" PRIu64 ".%03" PRIu64
                        ",\"state\":\"%s\",",
                        l->depth, l->backlog, listener_capacity(l), permille / 1000, permille % 1000,
                        listen_state_name(state_of(s, c, l)));
                if (l->has_drops)
                        fprintf(f, "\"drops\":%u,", l->drops);
                if (l->has_syn)
                        fprintf(f, "\"syn_depth\":%u,", l->syn_depth);
                if (l->has_wait)
                        fprintf(f, "\"wait_ms\":%u,\"gave_up\":%u,", l->wait_ms, l->gave_up);
                if (in->group.members > 0)
                        fprintf(f,
                                "\"group\":{\"members\":%u,\"full\":%u,\"depth\":%" PRIu64 ",\"capacity\":%" PRIu64
                                "},",
                                in->group.members, in->group.full, in->group.depth, in->group.capacity);
                fprintf(f, "\"cookie\":\"%" PRIu64 "\",\"inode\":%u,\"uid\":%u", l->cookie, l->inode, l->uid);
                if (l->cgroup_id)
                        fprintf(f, ",\"cgroup_id\":%" PRIu64, l->cgroup_id);
                if (in->cgroup) {
                        fputs(",\"cgroup\":", f);
                        json_string(f, in->cgroup);
                }
                if (in->unit) {
                        fputs(",\"unit\":", f);
                        json_string(f, in->unit);
                }
                if (in->socket_unit) {
                        fputs(",\"socket_unit\":", f);
                        json_string(f, in->socket_unit);
                }
                if (in->user) {
                        fputs(",\"user\":", f);
                        json_string(f, in->user);
                }
                if (in->pid > 0) {
                        fprintf(f, ",\"pid\":%d,\"comm\":", in->pid);
                        json_string(f, in->comm);
                }
                if (in->n_clients > 0) {
                        fputs(",\"clients\":[", f);
                        for (size_t k = 0; k < in->n_clients; k++) {
                                fprintf(f, "%s{\"pid\":%d,\"comm\":", k ? "," : "", in->clients[k].pid);
                                json_string(f, in->clients[k].comm);
                                fputc('}', f);
                        }
                        fputc(']', f);
                }
                fputc('}', f);
        }
        fputs("],\n\"counters\":", f);
        if (s->no_host)
                fputs("null", f);
        else if (s->have_counters)
                json_counters(f, &s->counters);
        else
                fputs("{}", f);
        fputs(",\n\"sysctl\":", f);
        if (s->no_host)
                fputs("null", f);
        else
                json_sysctls(f, &s->sysctls);
        fputs(",\n\"namespaces\":[", f);
        for (size_t i = 0; i < s->n_netns; i++) {
                const SnapshotNetns *ns = &s->netns[i];

                fprintf(f, "%s\n{\"netns\":", i ? "," : "");
                json_string(f, ns->name);
                if (ns->have_counters) {
                        fputs(",\"counters\":", f);
                        json_counters(f, &ns->counters);
                }
                fputs(",\"sysctl\":", f);
                json_sysctls(f, &ns->sysctls);
                fputc('}', f);
        }
        fputs("],\n\"hints\":[", f);
        report_hints(s, c, v, json_hint, f);
        fputs("]}\n", f);
        fflush(f);
        return ferror(f) ? -EIO : 0;
}
