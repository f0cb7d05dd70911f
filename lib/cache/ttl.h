/* SPDX-License-Identifier: MIT */
/* How long a store should keep an entry (DESIGN.md, "Fleet mode"): a time
 * to live only removes old data, freshness is still computed from the
 * stored times, so it must cover every use the rules may still make of the
 * entry. */
#ifndef HR_CACHE_TTL_H
#define HR_CACHE_TTL_H

#include <stdint.h>

#include "entry.h"

#define HR_TTL_MIN_SEC 1
#define HR_TTL_MAX_SEC ((int64_t)7 * 24 * 3600)
#define HR_TTL_GRACE_SEC ((int64_t)24 * 3600) /* default grace for revalidation */

/* Remaining freshness (`lifetime` - `age`), plus the longest stale
 * allowance `stale` (stale-while-revalidate, stale-if-error; negative:
 * none), plus `grace` when the entry has a validator, less a jitter of up
 * to 10% of the grace drawn from `rnd` (so a fleet's entries do not all
 * expire at once); clamped to [HR_TTL_MIN_SEC, HR_TTL_MAX_SEC].  Seconds;
 * 0 when the sum is not positive: the entry is not worth writing. */
int64_t hr_cache_ttl(int64_t lifetime, int64_t age, int64_t stale,
                     int has_validator, int64_t grace, uint64_t rnd);
/* hr_cache_ttl for `e` at `now_ms`. */
int64_t hr_cache_entry_ttl(const hr_cache_entry *e, int64_t now_ms,
                           int64_t grace, uint64_t rnd);

#endif
