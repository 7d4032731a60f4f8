/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "describe.h"

const char *describe_endpoint(const Listener *l, const char *ifname, char *buf, size_t size) {
        char a[LISTENER_ADDRESS_MAX], dev[IF_NAMESIZE + 2] = "";

        if (l->kind == LISTENER_UNIX)
                return listener_address(l, buf, size);
        if (ifname && ifname[0])
                snprintf(dev, sizeof(dev), "%%%s", ifname);
        if (listener_is_wildcard(l))
                snprintf(buf, size, "*%s:%u", dev, l->port);
        else if (l->family == AF_INET6)
                snprintf(buf, size, "[%s]%s:%u", listener_address(l, a, sizeof(a)), dev, l->port);
        else
                snprintf(buf, size, "%s%s:%u", listener_address(l, a, sizeof(a)), dev, l->port);
        return buf;
}

const char *describe_netns(const char *netns, char *buf, size_t size) {
        if (netns && strcmp(netns, NETNS_HOST_NAME) != 0)
                snprintf(buf, size, " in network namespace %s", netns);
        else if (size > 0)
                buf[0] = '\0';
        return buf;
}

/* 128: the old SOMAXCONN and many runtimes; 511: nginx, Redis, Node.js;
 * 4096: today's SOMAXCONN. */
static bool common_default(uint32_t backlog) {
        return backlog == 128 || backlog == 511 || backlog == 4096;
}

const char *describe_backlog_hint(uint32_t backlog, bool clamped, char *buf, size_t size) {
        if (clamped)
                snprintf(buf, size,
                         "backlog %u equals net.core.somaxconn, so the application's own value was probably cut "
                         "down: raise net.core.somaxconn (and the application's backlog).",
                         backlog);
        else if (common_default(backlog))
                snprintf(buf, size,
                         "backlog %u is a common framework default, often too small for a busy service: raise the "
                         "application's listen backlog.",
                         backlog);
        else if (size > 0)
                buf[0] = '\0';
        return buf;
}

const char *describe_remedy(uint32_t backlog, bool clamped, int abort_on_overflow, bool turned_away, char *buf,
                            size_t size) {
        const char *resets = abort_on_overflow == 1 && turned_away
                                     ? " With net.ipv4.tcp_abort_on_overflow = 1, clients get a reset instead of "
                                       "retrying."
                                     : "";

        if (clamped)
                snprintf(buf, size,
                         "Its backlog %u equals net.core.somaxconn, so the application's own value was probably "
                         "cut down: raise net.core.somaxconn, and the application's listen backlog with it, or "
                         "make the application accept faster.%s",
                         backlog, resets);
        else if (common_default(backlog))
                snprintf(buf, size,
                         "Its backlog %u is a common framework default, often too small for a busy service: "
                         "raise the application's listen backlog or make it accept connections faster.%s",
                         backlog, resets);
        else
                snprintf(buf, size,
                         "Raise the application's listen backlog (now %u) or make it accept connections faster.%s",
                         backlog, resets);
        return buf;
}

const char *describe_owner(const char *who, const char *socket_unit, const char *comm, int pid, char *buf,
                           size_t size) {
        char via[256 + 8] = "", proc[48] = "";

        if (socket_unit && (!who || strcmp(socket_unit, who) != 0))
                snprintf(via, sizeof(via), "via %s", socket_unit);
        if (pid > 0)
                snprintf(proc, sizeof(proc), "%s, pid %d", comm ? comm : "", pid);
        if (!who)
                snprintf(buf, size, "%s", proc);
        else if (via[0] && proc[0])
                snprintf(buf, size, "%s (%s; %s)", who, via, proc);
        else if (via[0] || proc[0])
                snprintf(buf, size, "%s (%s)", who, via[0] ? via : proc);
        else
                snprintf(buf, size, "%s", who);
        return buf;
}

const char *describe_clients(const ProcessName *clients, size_t n, char *buf, size_t size) {
        size_t used = 0;

        buf[0] = 0;
        for (size_t i = 0; i < n && used < size; i++) {
                int k = snprintf(buf + used, size - used, "%s%s (pid %d)", i ? ", " : "", clients[i].comm,
                                 clients[i].pid);

                if (k < 0)
                        break;
                used += (size_t) k;
        }
        return buf;
}

void describe_add_client(ProcessName *clients, uint8_t *n, int pid, const char *comm) {
        for (size_t i = 0; i < *n; i++)
                if (clients[i].pid == pid)
                        return;
        if (pid <= 0 || *n >= LISTENER_CLIENTS_MAX)
                return;
        clients[*n].pid = pid;
        snprintf(clients[*n].comm, sizeof(clients[*n].comm), "%s", comm);
        ++*n;
}

const char *describe_socket_clamp(const char *socket_unit, uint32_t asked, uint32_t got, const char *endpoint,
                                  char *buf, size_t size) {
        snprintf(buf, size,
                 "%s asks for Backlog=%u but net.core.somaxconn is %u: its listener%s%s got %u. Raise "
                 "net.core.somaxconn.",
                 socket_unit, asked, got, endpoint ? " " : "", endpoint ? endpoint : "", got);
        return buf;
}

const char *describe_wait(uint32_t ms, const char *sep, char *buf, size_t size) {
        if (ms < 100000)
                snprintf(buf, size, "%u.%u%ss", ms / 1000, ms % 1000 / 100, sep);
        else
                snprintf(buf, size, "%u%ss", ms / 1000, sep);
        return buf;
}
