/* SPDX-License-Identifier: MIT */
#pragma once

/* SO_REUSEPORT groups. The TCP listeners of one network namespace that share
 * family, address, port and bound device (and IPV6_V6ONLY) are one group:
 * the kernel hands each new connection to one member, by a hash of the
 * client's address and port, whether or not that member's process calls
 * accept(). One hung worker's member fills while the others stay empty, and
 * every client the hash sends there waits or is dropped.
 *
 * Pure: members in, group numbers and events out; the caller supplies the
 * time, the listeners and their levels. Only TCP listeners are members.
 *
 * The rule (the daemon, per group of at least 2 members): a group is
 * unbalanced when at least one member is full (depth >= capacity) while at
 * least half of its members are below the clear level (fill < clear, the
 * level of the watch entry that selects the full member). Once unbalanced,
 * it stays so until no member is full anymore, or no member is below clear
 * anymore (the group is then loaded as a whole, which its listeners' own
 * high and full alerts say), or fewer than 2 members are left. The start is
 * EVENT_IMBALANCE about the full member (the one with the lowest cookie),
 * the end EVENT_IMBALANCE_CLEARED, said once, through the message bound of
 * the listeners (policy.h): POLICY_BURST tokens per group, one back every
 * POLICY_TOKEN_USEC, changes without a token folded into the state the group
 * is in when one is earned. No reminders: the full member's own full alert
 * reminds (repeat).
 *
 * Cost: a poll on which no watched TCP listener is full and no group is
 * unbalanced costs one comparison. Otherwise the caller dumps the listeners
 * of the ports groups_ports() names (a kernel-filtered dump) and hands them
 * to groups_member_cb(). A full listener found alone (no other member) is
 * not looked at again for GROUPS_ALONE_USEC, so that full listeners outside
 * any group (the common case) cost that dump once per GROUPS_ALONE_USEC,
 * not every poll; a group that forms around one is seen within that time. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "snapshot.h"

#define GROUPS_ALONE_USEC (30ULL * 1000000ULL)

/* The order of group keys: netns, port, family, address, device, v6only.
 * 0 when a and b are in one group (or would be, were both TCP). */
int groups_key_compare(const Listener *a, const Listener *b);

/* The rule above, for a group of members listeners, of which full are
 * full and below below their clear level; raised: the group was unbalanced
 * at the last poll. */
bool groups_unbalanced(bool raised, uint32_t members, uint32_t full, uint32_t below);

/* --once: the group of each of the n listeners into ret[i] (n entries),
 * members 0 for a listener that shares its key with no other (and every
 * UNIX listener). ids count from 1 in key order. items must hold no
 * duplicates (listener_set_sort_dedup()). Returns the number of groups or
 * -ENOMEM. */
int groups_tally(const Listener *items, size_t n, ListenerGroup *ret);

/* ---- the daemon --------------------------------------------------------- */

typedef struct Groups Groups;

int groups_new(Groups **ret);
Groups *groups_free(Groups *g);

/* A poll:
 *
 *   groups_begin(g, now)
 *   for each namespace: groups_note_full() for each full watched TCP
 *       listener of its dump; after a complete dump, groups_ports() and,
 *       when it names ports, a dump of them through groups_member_cb()
 *       (nothing else in between); groups_keep_netns() if either dump
 *       failed;
 *   groups_drop_netns() for each namespace no longer watched;
 *   groups_end(g, out) — or groups_abort(g) if every dump failed. */
void groups_begin(Groups *g, uint64_t now_usec);

/* A full watched TCP listener: its group is looked at this poll. name is its
 * watch entry's (NULL: none), clear that entry's clear level. */
void groups_note_full(Groups *g, const Listener *l, const char *name, unsigned clear);

/* The groups of namespace netns to look at (those of its noted listeners,
 * and those unbalanced at the last poll) as at most max port ranges for
 * the member dump (space_port_ranges()); 0: none, no dump needed. */
size_t groups_ports(Groups *g, uint64_t netns, PortRange *ret, size_t max);

/* A diag_listener_cb for that dump (userdata: the Groups): counts l in its
 * group if it is one being looked at. Duplicates (a dump is not a
 * snapshot) are counted once. Always returns 0. */
int groups_member_cb(const Listener *l, void *userdata);

/* A dump of namespace netns failed this poll: its groups keep their state. */
void groups_keep_netns(Groups *g, uint64_t netns);

/* Namespace netns is no longer watched: its groups are forgotten, without
 * an event (the full member's own gone event withdraws its alert). */
void groups_drop_netns(Groups *g, uint64_t netns);

/* Decides the groups looked at: appends EVENT_IMBALANCE and
 * EVENT_IMBALANCE_CLEARED events to out (listener: the full member, as the
 * member dump showed it; group_size, group_full, group_below; name).
 * Returns the number of events appended, or -ENOMEM if any was lost. */
int groups_end(Groups *g, EventList *out);

/* Every dump failed: forgets this poll's notes, decides nothing. */
void groups_abort(Groups *g);

/* An imbalance event of the last poll could not be written: the next poll
 * reports its group's state again (within the message bound). Returns
 * whether it will. */
bool groups_retry(Groups *g, const Event *e);

/* Groups unbalanced as of the last poll (classified, whether said or not). */
size_t groups_n_unbalanced(const Groups *g);
