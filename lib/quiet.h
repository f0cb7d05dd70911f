/* Per-origin "not before" times a server asked for with Retry-After,
 * remembered by the client so its other requests keep the quiet. */
#ifndef HR_QUIET_H
#define HR_QUIET_H

#include <stdint.h>

#include "objects.h"

/* Most origins remembered; expired entries are dropped first, then the one
 * that ends soonest. */
#define HR_QUIET_MAX 1024

/* Whether any origin is remembered at all (expired ones included until
 * they are pruned); when not, no lookup is needed. */
int hr_quiet_any(httpresp_client *c);
/* The time before which `origin_key` should not be contacted, 0 if none. */
int64_t hr_quiet_get(httpresp_client *c, const char *origin_key, int64_t now);
/* Remembers `not_before` for `origin_key` (keeps the later of two). */
int hr_quiet_set(httpresp_client *c, const char *origin_key, int64_t now,
                 int64_t not_before);
/* Forgets the quiet time of `origin_key`, of every origin when NULL.
 * Returns how many were remembered (ended ones included until pruned). */
size_t hr_quiet_forget(httpresp_client *c, const char *origin_key);
/* A uniformly random value in [0, max], for backoff jitter. */
int64_t hr_client_random(httpresp_client *c, int64_t max);

#endif
