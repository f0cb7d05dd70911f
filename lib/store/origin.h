/* SPDX-License-Identifier: MIT */
/* Per-origin state a client keeps between requests: the time before which
 * an origin that asked for quiet (Retry-After) is not contacted.  Behind a
 * vtable, like the entry stores, so it can live elsewhere (a store shared
 * by a fleet) without the client changing; the first backend is the
 * in-process table of quiet.c. */
#ifndef HR_STORE_ORIGIN_H
#define HR_STORE_ORIGIN_H

#include <stdint.h>

#include "httpresp/httpresp.h"

typedef struct hr_origin_vt {
  const char *name;
  /* Whether any origin may have state (expired ones may count): when not,
   * the caller need not even build an origin's key. */
  int (*any)(void *impl);
  /* The time before which `origin` should not be contacted, 0 if none. */
  int64_t (*get)(void *impl, const char *origin, int64_t now);
  /* Raises the origin's not-before to `now + delay_ms` (the later of that
   * and what it was); `status` is the answer that asked for it (429, 503),
   * kept where the backend can (the Redis key's value).  Returns 0 or
   * HTTPRESP_E_NOMEM. */
  int (*raise)(void *impl, const char *origin, int64_t now, int64_t delay_ms,
               int status);
  /* Forgets what is known of `origin`, of every origin when NULL. */
  void (*forget)(void *impl, const char *origin);
  void (*destroy)(void *impl);
  /* Optional (NULL): `origin`'s state is about to be read (get) right
   * after the cache lookup, so a backend sharing the cache's connection may
   * send both at once; NULL drops the hint. */
  void (*prefetch)(void *impl, const char *origin);
} hr_origin_vt;

typedef struct hr_origins {
  const hr_origin_vt *vt;
  void *impl;
} hr_origins;

/* The public handle of an origin-state backend other than a client's own. */
struct httpresp_origins {
  hr_origins o;
};

/* The endpoint under a Redis-backed `o` (NULL for any other), for the
 * tests; only with HTTPRESP_HAVE_REDIS. */
struct hr_redis;
struct hr_redis *hr_origins_redis(httpresp_origins *o);

/* The in-process backend (quiet.c).  Returns 0 or HTTPRESP_E_NOMEM. */
int hr_origins_new_local(hr_origins *out);

#endif
