/* SPDX-License-Identifier: MIT */
#include "diag.h"
