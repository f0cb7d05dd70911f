/* SPDX-License-Identifier: MIT */
/* Per-origin "not before" times a server asked for with Retry-After,
 * remembered in this process: the first backend of origin.h. */
#ifndef HR_QUIET_H
#define HR_QUIET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* Most origins remembered; expired entries are dropped first, then the one
 * that ends soonest. */
#define HR_QUIET_MAX 1024

typedef struct hr_quiet_entry {
  char *origin;
  int64_t not_before_ms;
} hr_quiet_entry;

typedef struct hr_quiet {
  pthread_mutex_t quiet_lock;
  hr_quiet_entry *quiet;
  size_t nquiet;
  size_t quiet_cap;
  /* nquiet > 0, stored under the lock: hr_quiet_any, asked before every
   * request, reads it without taking the lock. */
  atomic_int any;
} hr_quiet;

int hr_quiet_new(hr_quiet **out);
void hr_quiet_free(hr_quiet *c); /* NULL is fine */
/* Whether any origin is remembered at all (expired ones included until
 * they are pruned); when not, no lookup is needed. */
int hr_quiet_any(hr_quiet *c);
/* The time before which `origin_key` should not be contacted, 0 if none. */
int64_t hr_quiet_get(hr_quiet *c, const char *origin_key, int64_t now);
/* Remembers `not_before` for `origin_key` (keeps the later of two). */
int hr_quiet_set(hr_quiet *c, const char *origin_key, int64_t now,
                 int64_t not_before);
/* Forgets the quiet time of `origin_key`, of every origin when NULL.
 * Returns how many were remembered (ended ones included until pruned). */
size_t hr_quiet_forget(hr_quiet *c, const char *origin_key);

#endif
