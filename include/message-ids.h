/* SPDX-License-Identifier: MIT */
#pragma once

/* Journal MESSAGE_ID of each kind of entry backlogd writes, as
 * sd_journal_send() takes them: "MESSAGE_ID=" MESSAGE_ID_HIGH. They are
 * stable: systemd/backlogd.catalog explains each one (journalctl -x), and
 * users filter on them (journalctl MESSAGE_ID=...). Never change or reuse
 * one; a new kind of entry gets a new id from `systemd-id128 new`. */

#define MESSAGE_ID_HIGH "662f402355a6451b83590607ff36be77"            /* queue at or above warn */
#define MESSAGE_ID_FULL "77fd7abb3e3a4e0bacef8b70ddfa268e"            /* queue full: next connections dropped */
#define MESSAGE_ID_CLEARED "7485bfa7e9a340a9920719f820a9c24f"         /* queue back below clear */
#define MESSAGE_ID_DROPS "4674ad2f8cba453cad5e02550a8451b1"           /* the listener dropped connections */
#define MESSAGE_ID_GONE "bbde084a9e4048bea31ff5d7c89305c7"            /* a raised listener disappeared */
#define MESSAGE_ID_COUNTER "aa8e05269270447caa03f3309f0134da"         /* a host listen counter rose */
#define MESSAGE_ID_SYN_HIGH "f91da757051a48bc84955c25ebab674d"        /* SYN queue at or above warn */
#define MESSAGE_ID_SYN_FULL "359c4748fd0c4ac087252f002e56f84e"        /* SYN queue full */
#define MESSAGE_ID_SYN_CLEARED "5051615de05b4734b0cc1dd681655fb3"     /* SYN queue back below clear */
#define MESSAGE_ID_STALLED "0d01394eebf1482099fb722657c03337"         /* nothing accepted for `stall` s */
#define MESSAGE_ID_ACCEPTING "bf0df11a9202435f9d6bba761fae6e44"       /* a stalled queue moves again */
#define MESSAGE_ID_LIFECYCLE "0565ceedc5744a2db6570af63dd3d8d5"       /* started, reloaded, stopping */
#define MESSAGE_ID_JOURNAL_DROPPED "f33cd505bb6d4dfcbee0a81050b5ff4b" /* entries lost while the journal was away */
#define MESSAGE_ID_SUMMARY "145a29497d5f48c384c7ed1a416ba11c"         /* alerts of one owner summed past the budget */

/* SO_REUSEPORT groups (groups.h) */
#define MESSAGE_ID_IMBALANCE "1a275d45d6ec4708aa11ce3e05c09665"         /* a member full, the others nearly empty */
#define MESSAGE_ID_IMBALANCE_CLEARED "183fb71d021d4939ba36e4fde18de02b" /* that group no longer unbalanced */
