/* SPDX-License-Identifier: MIT */
/* Time to live of a stored entry: a pure function of its freshness. */
#include "ttl.h"

#include "cachecontrol.h"
#include "common.h"
#include "rules.h"

int64_t hr_cache_ttl(int64_t lifetime, int64_t age, int64_t stale,
                     int has_validator, int64_t grace, uint64_t rnd) {
  int64_t total = hr_sat_add(lifetime, -age);
  if (stale > 0)
    total = hr_sat_add(total, stale);
  if (has_validator && grace > 0) {
    int64_t jitter = (int64_t)(rnd % (uint64_t)(grace / 10 + 1));
    total = hr_sat_add(total, grace - jitter);
  }
  if (total <= 0)
    return 0;
  if (total < HR_TTL_MIN_SEC)
    return HR_TTL_MIN_SEC;
  return total > HR_TTL_MAX_SEC ? HR_TTL_MAX_SEC : total;
}

int64_t hr_cache_entry_ttl(const hr_cache_entry *e, int64_t now_ms,
                           int64_t grace, uint64_t rnd) {
  hr_cc cc;
  hr_cc_from_headers(&cc, &e->headers);
  int64_t stale = cc.stale_while_revalidate > cc.stale_if_error
                      ? cc.stale_while_revalidate
                      : cc.stale_if_error;
  return hr_cache_ttl(hr_cache_freshness_lifetime(e),
                      hr_cache_current_age(e, now_ms), stale,
                      hr_cache_has_validator(e), grace, rnd);
}
