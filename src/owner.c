/* SPDX-License-Identifier: MIT */
#include "owner.h"
