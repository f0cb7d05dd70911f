/* SPDX-License-Identifier: MIT */
/* The cache object: httpresp_cache over one store (lib/store/), and the
 * only writer of it.  Everything that happens to a cache passes through
 * one of four events: a lookup, a response received, a 304 received, an
 * unsafe method that succeeded.  Layers: see entry.h. */
#ifndef HR_CACHE_H
#define HR_CACHE_H

#include <stdint.h>

#include "common.h"
#include "headers.h"
#include "objects.h"
#include "rules.h"

/* ---- the cache object -------------------------------------------------- */

/* Fleet-wide coalescing of misses (opt-in, a store shared by processes):
 * a request that misses takes the key's lock before it fetches; one that
 * finds the lock taken waits for the holder's answer, within a bound. */
typedef struct hr_coalescer {
  /* 1: the lock on `key` is now held with `token` for `ttl_ms`; 0: another
   * holds it; -1: cannot tell (go ahead). */
  int (*lock)(void *impl, const char *key, size_t klen, const char *token,
              int64_t ttl_ms);
  /* Releases it if still held with `token`. */
  void (*unlock)(void *impl, const char *key, size_t klen, const char *token);
  void *impl;
  int64_t ttl_ms; /* the lock's life, and the longest a request waits */
} hr_coalescer;

/* A request's part in it: `key` non-NULL while it holds the lock.  The
 * lock's token (32 hex digits) follows the key's NUL in the key's
 * allocation (hr_claim_token): most requests never hold one, and then it
 * takes no room in them. */
typedef struct hr_claim {
  char *key;
  size_t klen;
  int64_t until; /* 0, or when the wait for another's answer ends */
} hr_claim;

static inline const char *hr_claim_token(const hr_claim *cl) {
  return cl->key + cl->klen + 1;
}

struct hr_store;
/* A cache over `st` (taken on success), keeping entries with validators
 * `grace_sec` beyond their freshness in a store with TTLs.  Returns 0 or
 * HTTPRESP_E_NOMEM (then `st` is still the caller's). */
int hr_cache_new_over(httpresp_cache **out, const struct hr_store *st,
                      int64_t grace_sec);
/* Turns coalescing on (`co` copied; NULL: off). */
void hr_cache_set_coalescer(httpresp_cache *c, const hr_coalescer *co);
/* After a miss of `req`: 0 to go to the network (holding the key's lock in
 * `cl` when it could be taken), or the time to look in the cache again
 * because another worker is fetching it.  Never later than the bound. */
int64_t hr_cache_coalesce(httpresp_cache *c, const httpresp_request *req,
                          int64_t now_ms, hr_claim *cl);
/* Releases the lock `cl` holds, if any (NULL cache: forgets it). */
void hr_cache_release(httpresp_cache *c, hr_claim *cl);
/* The store behind the cache (for the store conformance tests). */
const struct hr_store *hr_cache_store(const httpresp_cache *c);

/* The key a request's stored answer lives under (the stored GET response
 * also answers a HEAD).  Returns 0 or HTTPRESP_E_NOMEM; free with
 * hr_key_free. */
int hr_cache_request_key(const httpresp_request *req, hr_key *k);

/* Event 1, a lookup for a request the cache applies to
 * (hr_cache_request_applies): loads the entry for its key and runs
 * hr_cache_select.  On FRESH and REVALIDATE `*out` holds a reference to
 * the entry (drop it with hr_stored_unref); on NONE and NOT_CACHED it is
 * NULL.  A store error reads as a miss. */
hr_cache_use hr_cache_lookup(httpresp_cache *c, const httpresp_request *req,
                             int64_t now_ms, hr_stored **out,
                             const char **why);

/* hr_cache_lookup, and with `keep_stale`, on NONE for an entry that is
 * stale and has no validator (why "stale"), `*out` holds it too: it may
 * still stand in for an origin failure (hr_cache_stale_on_error).
 * `*absent` (may be NULL) is 1 when the store answered that it holds
 * nothing at all for the request's key (no entry, no variant index), 0
 * otherwise (something stored, a store error, a tombstoned key). */
hr_cache_use hr_cache_consult(httpresp_cache *c, const httpresp_request *req,
                              int64_t now_ms, int keep_stale, hr_stored **out,
                              const char **why, int *absent);

/* Event 2, a complete final response to `req` came from the network:
 * stores it when hr_cache_storable allows (returns 1), else removes
 * whatever was stored for the key, since it is superseded (returns 0) --
 * except after a HEAD, a 304 or a 5xx, which supersede nothing.  `*why`
 * gets the reason it was not stored (hr_cache_storable's, or "too-large"
 * for the store, or "store-failed"), `*sys_err` (may be NULL) the errno
 * of a store that failed with one, else 0.
 *
 * Whenever an entry is superseded (here, by a 304 that selects nothing or
 * says no-store, or by an unsafe method) and the store can remove it
 * neither by writing the newer answer nor by deleting it, its key is
 * tombstoned in the cache object: lookups miss it until a later write or
 * removal of it succeeds, so an older answer is never served after a newer
 * one was received. */
int hr_cache_on_response(httpresp_cache *c, const httpresp_request *req,
                         int status, const hr_headers *resp, const char *body,
                         size_t body_len, int64_t request_ms,
                         int64_t response_ms, const char **why, int *sys_err);
/* hr_cache_on_response after a lookup of the same key in this exchange
 * that found it `absent` (hr_cache_consult): with `absent` nothing is
 * removed, since the lookup found nothing to supersede (for a shared store
 * that is one or two round trips fewer per answer not stored); `absent` 0
 * is hr_cache_on_response. */
int hr_cache_on_answer(httpresp_cache *c, const httpresp_request *req,
                       int absent, int status, const hr_headers *resp,
                       const char *body, size_t body_len, int64_t request_ms,
                       int64_t response_ms, const char **why, int *sys_err);

/* Event 2b, a 200 to the GET `req` was cut short after `body_len` bytes
 * of its body: they are stored as an incomplete entry, to be resumed by
 * the next request for the key (hr_cache_resume_fields), when
 * hr_cache_partial_storable allows (returns 1); else nothing changes and
 * `*why` says why (what was stored before stays: the answer that was cut
 * short may be a refetch of it).  Bounded like any entry. */
int hr_cache_on_partial(httpresp_cache *c, const httpresp_request *req,
                        int status, const hr_headers *resp, const char *body,
                        size_t body_len, int64_t request_ms,
                        int64_t response_ms, const char **why);

/* Event 3, a 304 answered the conditionals that revalidated `stored`.
 * With HR_304_SERVE (hr_cache_304_selects), `*out` gets the entry as
 * stored and nothing is written.  With HR_304_UPDATE (RFC 9111 §4.3.4),
 * `*out` gets the entry updated from the 304 (§3.2; free it with
 * hr_cache_entry_free), and the store gets it too, update-only: an entry
 * evicted or removed meanwhile stays gone.  If the update may not be
 * stored (a 304 with no-store, §5.2.2.5) the entry is removed instead.
 * When it did not select it, the entry no longer matches the origin and is
 * removed (`out` may then be NULL).  Returns 0 or HTTPRESP_E_NOMEM; a
 * store failure is only a lost update. */
int hr_cache_on_304(httpresp_cache *c, const httpresp_request *req,
                    const hr_stored *stored, hr_304_sel selected,
                    const hr_headers *h304, int64_t request_ms,
                    int64_t response_ms, hr_cache_entry *out);

/* Event 4, an unsafe method's response came from the network: what it
 * invalidates (§4.4, hr_cache_invalidation_keys) is removed. */
void hr_cache_on_unsafe(httpresp_cache *c, const httpresp_request *req,
                        int status, const hr_headers *resp);

#endif
