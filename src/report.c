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

static const char *owner_text(Owner *owner, const Listener *l, char *buf, size_t size) {
        const char *cg = owner_cgroup(owner, l->cgroup_id);
        const char *unit;

        if (!cg)
                return "-";
        unit = owner_unit_from_cgroup(cg, buf, size);
        return unit ? unit : cg;
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
                        owner_text(owner, l, unit, sizeof(unit)));
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

        fflush(f);
        return ferror(f) ? -EIO : 0;
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
                char a[LISTENER_ADDRESS_MAX], dev[IF_NAMESIZE], unit[256];
                const char *cg = owner_cgroup(owner, l->cgroup_id);

                fprintf(f, "%s\n{\"family\":\"%s\",\"address\":\"%s\",\"port\":%u,", i ? "," : "",
                        l->family == AF_INET ? "inet" : "inet6", listener_address(l, a, sizeof(a)), l->port);
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
                fprintf(f, "\"cookie\":\"%" PRIu64 "\",\"inode\":%u,\"uid\":%u", l->cookie, l->inode, l->uid);
                if (l->cgroup_id)
                        fprintf(f, ",\"cgroup_id\":%" PRIu64, l->cgroup_id);
                if (cg) {
                        const char *u = owner_unit_from_cgroup(cg, unit, sizeof(unit));

                        fputs(",\"cgroup\":", f);
                        json_string(f, cg);
                        if (u) {
                                fputs(",\"unit\":", f);
                                json_string(f, u);
                        }
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
        fputs("}}\n", f);
        fflush(f);
        return ferror(f) ? -EIO : 0;
}
