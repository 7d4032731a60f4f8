/* SPDX-License-Identifier: MIT */
#include "netstat.h"
