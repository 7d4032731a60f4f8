/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

static unsigned warn_for(const Config *c, const Listener *l) {
        const Watch *w = config_match(c, l);

        return w ? w->warn : c->warn;
}

/* "127.0.0.1:80", "[::1]%eth0:80" style, as ss shows bound devices. */
static const char *display_endpoint(const Listener *l, char *buf, size_t size) {
        char a[LISTENER_ADDRESS_MAX], dev[IF_NAMESIZE + 1] = "";

        if (l->kind == LISTENER_UNIX)
                return listener_endpoint(l, buf, size);
        if (l->ifindex && if_indextoname(l->ifindex, dev + 1))
                dev[0] = '%';
        if (listener_is_wildcard(l))
                snprintf(buf, size, "*%s:%u", dev, l->port);
        else if (l->family == AF_INET6)
                snprintf(buf, size, "[%s]%s:%u", listener_address(l, a, sizeof(a)), dev, l->port);
        else
                snprintf(buf, size, "%s%s:%u", listener_address(l, a, sizeof(a)), dev, l->port);
        return buf;
}

/* The process is looked up (a bounded scan of /proc) only for listeners in
 * trouble: the ones a person will want to find. */
static bool owner_process_of(Owner *owner, const Listener *l, const Config *c, int *ret_pid, char ret_comm[16]) {
        bool troubled = policy_classify(l, warn_for(c, l)) != STATE_OK || (l->has_drops && l->drops > 0);

        return owner && troubled && l->inode != 0 && owner_process(owner, l->inode, ret_pid, ret_comm) >= 0;
}

/* "nginx.service (nginx, pid 812)", the cgroup path, or "-". */
static const char *owner_text(Owner *owner, const Listener *l, const Config *c, char *buf, size_t size) {
        const char *cg = owner_cgroup(owner, l->cgroup_id), *unit = owner_unit(owner, l->cgroup_id);
        const char *who = unit ? unit : cg;
        char comm[16];
        int pid;

        if (!owner_process_of(owner, l, c, &pid, comm))
                return who ? who : "-";
        if (who)
                snprintf(buf, size, "%s (%s, pid %d)", who, comm, pid);
        else
                snprintf(buf, size, "%s, pid %d", comm, pid);
        return buf;
}

/* What --once can tell beyond the numbers: only about listeners that are
 * raised or have dropped, so a healthy host prints no hints. Returns the
 * number of hints; each is written by emit() as a whole sentence. */
static size_t report_hints(const Snapshot *s, const Config *c, const Listener *const *v,
                           void (*emit)(FILE *f, bool first, const char *hint), FILE *f) {
        int64_t somaxconn = s->sysctls.present[SYSCTL_SOMAXCONN] ? s->sysctls.value[SYSCTL_SOMAXCONN] : -1;
        char hint[512], ep[LISTENER_ENDPOINT_MAX];
        size_t n = 0;

        for (size_t i = 0; i < s->listeners.n; i++) {
                const Listener *l = v[i];
                bool troubled = policy_classify(l, warn_for(c, l)) != STATE_OK || (l->has_drops && l->drops > 0);

                if (!troubled)
                        continue;
                listener_endpoint(l, ep, sizeof(ep));
                if (somaxconn >= 0 && (int64_t) l->backlog == somaxconn)
                        snprintf(hint, sizeof(hint),
                                 "%s: backlog %u equals net.core.somaxconn, so the application's own value was "
                                 "probably cut down: raise net.core.somaxconn (and the application's backlog).",
                                 ep, l->backlog);
                else if (listener_backlog_is_common_default(l))
                        snprintf(hint, sizeof(hint),
                                 "%s: backlog %u is a common framework default, often too small for a busy "
                                 "service: raise the application's listen backlog.",
                                 ep, l->backlog);
                else
                        continue;
                emit(f, n++ == 0, hint);
        }
        if (s->have_counters && s->counters.present[NETSTAT_LISTEN_OVERFLOWS] &&
            s->counters.value[NETSTAT_LISTEN_OVERFLOWS] > 0 && s->sysctls.present[SYSCTL_TCP_ABORT_ON_OVERFLOW] &&
            s->sysctls.value[SYSCTL_TCP_ABORT_ON_OVERFLOW] != 0) {
                snprintf(hint, sizeof(hint),
                         "net.ipv4.tcp_abort_on_overflow is 1: the %" PRIu64
                         " overflows counted in ListenOverflows sent resets to their clients.",
                         s->counters.value[NETSTAT_LISTEN_OVERFLOWS]);
                emit(f, n++ == 0, hint);
        }
        return n;
}

static void table_hint(FILE *f, bool first, const char *hint) {
        if (first)
                fputs("\nHints:\n", f);
        fprintf(f, "  %s\n", hint);
}

int report_table(FILE *f, const Snapshot *s, const Config *c, Owner *owner) {
        _cleanup_(freep) const Listener **v = sorted_view(s);
        char ep[LISTENER_ENDPOINT_MAX + IF_NAMESIZE], unit[256];
        int width = 6;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < s->listeners.n; i++) {
                int len = (int) strlen(display_endpoint(v[i], ep, sizeof(ep)));
                if (len > width)
                        width = len;
        }
        fprintf(f, "%-*s %7s %7s %5s %-5s %7s %6s %s\n", width, "LISTEN", "DEPTH", "BACKLOG", "FILL",
                "STATE", "DROPS", "UID", "OWNER");
        for (size_t i = 0; i < s->listeners.n; i++) {
                const Listener *l = v[i];
                char drops[24] = "-";

                if (l->has_drops)
                        snprintf(drops, sizeof(drops), "%u", l->drops);
                fprintf(f, "%-*s %7u %7u %4u%% %-5s %7s %6u %s\n", width,
                        display_endpoint(l, ep, sizeof(ep)), l->depth, l->backlog, listener_fill_pct(l),
                        listen_state_name(policy_classify(l, warn_for(c, l))), drops, l->uid,
                        owner_text(owner, l, c, unit, sizeof(unit)));
        }
        if (s->listeners.n == 0)
                fprintf(f, "(no listening TCP sockets%s)\n", "");

        fputs("\nHost counters (TcpExt, since the namespace was created):\n", f);
        if (!s->have_counters)
                fputs("  unavailable\n", f);
        else
                for (int k = 0; k < _NETSTAT_COUNTER_MAX; k++)
                        if (s->counters.present[k])
                                fprintf(f, "  %-22s %12" PRIu64 "\n", netstat_counter_name((NetstatCounter) k),
                                        s->counters.value[k]);

        fputs("\nSysctls:\n", f);
        for (int k = 0; k < _SYSCTL_MAX; k++)
                if (s->sysctls.present[k])
                        fprintf(f, "  %-30s %6" PRId64 "\n", netstat_sysctl_name((NetstatSysctl) k),
                                s->sysctls.value[k]);
                else
                        fprintf(f, "  %-30s %6s\n", netstat_sysctl_name((NetstatSysctl) k), "?");
        report_hints(s, c, v, table_hint, f);

        fflush(f);
        return ferror(f) ? -EIO : 0;
}

static void json_string(FILE *f, const char *s);

static void json_hint(FILE *f, bool first, const char *hint) {
        fputs(first ? "" : ",", f);
        json_string(f, hint);
}

static void json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

int report_json(FILE *f, const Snapshot *s, const Config *c, Owner *owner) {
        _cleanup_(freep) const Listener **v = sorted_view(s);
        bool first;

        if (!v)
                return -ENOMEM;
        fputs("{\"listeners\":[", f);
        for (size_t i = 0; i < s->listeners.n; i++) {
                const Listener *l = v[i];
                char a[LISTENER_ADDRESS_MAX], dev[IF_NAMESIZE], comm[16];
                const char *cg = owner_cgroup(owner, l->cgroup_id), *unit = owner_unit(owner, l->cgroup_id);
                const char *user = owner ? owner_user(owner, l->uid) : NULL;
                int pid;

                fprintf(f, "%s\n{\"family\":\"%s\",\"address\":", i ? "," : "",
                        l->kind == LISTENER_UNIX ? "unix" : l->family == AF_INET ? "inet" : "inet6");
                json_string(f, listener_address(l, a, sizeof(a)));
                fprintf(f, ",\"port\":%u,", l->port);
                if (l->ifindex) {
                        fprintf(f, "\"ifindex\":%u,", l->ifindex);
                        if (if_indextoname(l->ifindex, dev)) {
                                fputs("\"interface\":", f);
                                json_string(f, dev);
                                fputc(',', f);
                        }
                }
                fprintf(f, "\"depth\":%u,\"backlog\":%u,\"capacity\":%" PRIu64 ",\"fill\":%.3f,\"state\":\"%s\",",
                        l->depth, l->backlog, listener_capacity(l),
                        (double) l->depth / (double) listener_capacity(l),
                        listen_state_name(policy_classify(l, warn_for(c, l))));
                if (l->has_drops)
                        fprintf(f, "\"drops\":%u,", l->drops);
                if (l->has_syn)
                        fprintf(f, "\"syn_depth\":%u,", l->syn_depth);
                fprintf(f, "\"cookie\":\"%" PRIu64 "\",\"inode\":%u,\"uid\":%u", l->cookie, l->inode, l->uid);
                if (l->cgroup_id)
                        fprintf(f, ",\"cgroup_id\":%" PRIu64, l->cgroup_id);
                if (cg) {
                        fputs(",\"cgroup\":", f);
                        json_string(f, cg);
                }
                if (unit) {
                        fputs(",\"unit\":", f);
                        json_string(f, unit);
                }
                if (user) {
                        fputs(",\"user\":", f);
                        json_string(f, user);
                }
                if (owner_process_of(owner, l, c, &pid, comm)) {
                        fprintf(f, ",\"pid\":%d,\"comm\":", pid);
                        json_string(f, comm);
                }
                fputc('}', f);
        }
        fputs("],\n\"counters\":{", f);
        first = true;
        for (int k = 0; s->have_counters && k < _NETSTAT_COUNTER_MAX; k++)
                if (s->counters.present[k]) {
                        fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", netstat_counter_name((NetstatCounter) k),
                                s->counters.value[k]);
                        first = false;
                }
        fputs("},\n\"sysctl\":{", f);
        first = true;
        for (int k = 0; k < _SYSCTL_MAX; k++)
                if (s->sysctls.present[k]) {
                        fprintf(f, "%s\"%s\":%" PRId64, first ? "" : ",", netstat_sysctl_name((NetstatSysctl) k),
                                s->sysctls.value[k]);
                        first = false;
                }
        fputs("},\n\"hints\":[", f);
        report_hints(s, c, v, json_hint, f);
        fputs("]}\n", f);
        fflush(f);
        return ferror(f) ? -EIO : 0;
}
