/* SPDX-License-Identifier: MIT */
/* The client cache (RFC 9111, private cache), bottom layer: a stored
 * response.
 *
 * Layers, each depending only on those above it in this list:
 *  - entry.c: the entry and who frees it;
 *  - codec.c: its byte encoding (versioned, checksummed, bounds-checked on
 *    decode, so a damaged store is a miss, never a crash);
 *  - facts.c: what the rules need of an entry (Age, Date, lifetime,
 *    validators, Cache-Control), worked out in one place, and frozen
 *    entries that carry them;
 *  - rules.c: pure RFC 9111 rules (storable, age, Vary, request
 *    directives, conditionals, 304 selection and update, invalidation);
 *  - lib/store/: the stores, behind one vtable;
 *  - cache.c: httpresp_cache, the only writer of its store. */
#ifndef HR_CACHE_ENTRY_H
#define HR_CACHE_ENTRY_H

#include <stdint.h>

#include "common.h"
#include "headers.h"

/* Largest encoded entry (key, headers, body, framing) a cache stores;
 * larger responses pass through uncached.  Also the decoder's bound. */
#define HR_CACHE_MAX_ENTRY ((size_t)64 * 1024 * 1024)

struct hr_cache_facts;

typedef struct hr_cache_entry {
  char *key; /* the flat store key (hr_key): for a GET in no partition, the
                request URL without fragment */
  int status;
  hr_headers vary;    /* request fields named by Vary, as sent; a field the
                         request lacked is absent here */
  hr_headers headers; /* response fields as stored (hop-by-hop removed) */
  char *body;
  size_t body_len;
  int64_t request_ms;  /* when the request that got it was sent */
  int64_t response_ms; /* when the response was received */
  /* The body is only the first body_len bytes of the representation (a
   * 200 cut short, RFC 9111 §3.3): never served, only resumed with a
   * Range request (hr_cache_resume_fields). */
  int incomplete;
  const struct hr_cache_facts *facts; /* frozen entries only, else NULL */
} hr_cache_entry;

void hr_cache_entry_init(hr_cache_entry *e);
/* Frees what `e` owns and leaves it initialised (empty). */
void hr_cache_entry_free(hr_cache_entry *e);

#endif
