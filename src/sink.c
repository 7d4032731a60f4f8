/* SPDX-License-Identifier: MIT */
#include "sink.h"
