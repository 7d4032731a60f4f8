/* SPDX-License-Identifier: MIT */
#pragma once

/* Counts heap allocations made anywhere in a test executable, so that a
 * steady-state poll can be shown to allocate nothing. Include it from one
 * test file only. The wrappers replace malloc for the whole executable by
 * calling glibc's own entry points; AddressSanitizer and valgrind own malloc
 * themselves, and then alloc_counting() says so and tests check only what
 * does not depend on the count. */

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_COUNT_WRAPPERS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_COUNT_WRAPPERS 0
#endif
#endif
#ifndef ALLOC_COUNT_WRAPPERS
#define ALLOC_COUNT_WRAPPERS 1
#endif

static size_t n_allocs;

#if ALLOC_COUNT_WRAPPERS
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);
void free(void *p);

void *malloc(size_t n) {
        n_allocs++;
        return __libc_malloc(n);
}

void *calloc(size_t n, size_t m) {
        n_allocs++;
        return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n) {
        n_allocs++;
        return __libc_realloc(p, n);
}

void free(void *p) {
        __libc_free(p);
}
#endif

/* True when the wrappers above see the allocations of this process. */
static inline bool alloc_counting(void) {
        /* Through a pointer, as a module calls it: not folded away here. */
        void *(*volatile re)(void *, size_t) = realloc;
        size_t n = n_allocs;

        free(re(NULL, 16));
        return n_allocs != n;
}
