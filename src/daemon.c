/* SPDX-License-Identifier: MIT */
#include "daemon.h"
