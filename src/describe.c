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
