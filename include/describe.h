/* SPDX-License-Identifier: MIT */
#pragma once

/* The phrases every output shares, each written in one place: how a
 * listener's endpoint is shown, how another network namespace is named in a
 * sentence, and the remedy hints about a listener's backlog. Pure. */

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

/* "127.0.0.1:80", "[::1]:80", "*:80"; with a bound device as ss shows it,
 * "127.0.0.1%eth0:80"; a UNIX listener's path. ifname may be NULL or "". */
#define DESCRIBE_ENDPOINT_MAX (LISTENER_ENDPOINT_MAX + IF_NAMESIZE + 1)
const char *describe_endpoint(const Listener *l, const char *ifname, char *buf, size_t size);

/* " in network namespace web1", or "" for the daemon's own namespace
 * (NETNS_HOST_NAME) and an unknown one (NULL): the sentences about a plain
 * host read without it. */
#define DESCRIBE_NETNS_MAX 160
const char *describe_netns(const char *netns, char *buf, size_t size);

/* A wait in milliseconds as people read it: "4.2" (one decimal below
 * 100 s, rounded down), then "125" (whole seconds), followed by sep and
 * "s": describe_wait(4200, " ", ...) is "4.2 s", with "" "4.2s". */
#define DESCRIBE_WAIT_MAX 24
const char *describe_wait(uint32_t ms, const char *sep, char *buf, size_t size);

/* What is known about a listener's backlog, as a hint (--once), or "" when
 * nothing: clamped (it equals net.core.somaxconn), or a common framework
 * default (128, 511, 4096). "backlog 4096 equals net.core.somaxconn, ..." */
const char *describe_backlog_hint(uint32_t backlog, bool clamped, char *buf, size_t size);

/* The remedy an alert about a queue gives: what the backlog hint says, as
 * advice, or the generic advice with the backlog; then the reset note when
 * abort_on_overflow is 1 and connections are turned away. */
const char *describe_remedy(uint32_t backlog, bool clamped, int abort_on_overflow, bool turned_away, char *buf,
                            size_t size);

/* Who owns a listener, as every output shows it: "nginx.service",
 * "nginx.service (nginx, pid 812)", "nginx, pid 812" without a unit, and
 * for a socket-activated listener "foo.service (via foo.socket)" or
 * "foo.service (via foo.socket; foo, pid 812)". who is the unit (or what
 * stands in for it), NULL when unknown; socket_unit is shown only when it
 * differs from who; pid 0 is unknown. "" when nothing is known. */
#define DESCRIBE_OWNER_MAX (256 + 8 + 256 + 2 + 16 + 6 + 11 + 2)
const char *describe_owner(const char *who, const char *socket_unit, const char *comm, int pid, char *buf,
                           size_t size);

/* The processes of a UNIX listener's waiting clients: "psql (pid 812),
 * curl (pid 900)"; "" for none. */
#define DESCRIBE_CLIENTS_MAX (LISTENER_CLIENTS_MAX * (16 + 20))
const char *describe_clients(const ProcessName *clients, size_t n, char *buf, size_t size);

/* Adds the process of a waiting client (pid, comm) to clients (at most
 * LISTENER_CLIENTS_MAX, n their number), once per pid. */
void describe_add_client(ProcessName *clients, uint8_t *n, int pid, const char *comm);

/* The warning about a socket unit whose Backlog= net.core.somaxconn cut
 * down (sockets_clamped()): "foo.socket asks for Backlog=4096 but
 * net.core.somaxconn is 256: its listener 127.0.0.1:9996 got 256. Raise
 * net.core.somaxconn." endpoint may be NULL. */
const char *describe_socket_clamp(const char *socket_unit, uint32_t asked, uint32_t got, const char *endpoint,
                                  char *buf, size_t size);
