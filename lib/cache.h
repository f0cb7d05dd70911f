/* The client cache (RFC 9111, private cache): stored entries, the pure
 * rules that decide about them, and the cache object over a store.
 *
 * Layers:
 *  - cache_entry.c: an entry and its byte encoding (versioned, checksummed,
 *    bounds-checked on decode, so a damaged store is a miss, never a crash);
 *  - cache_rules.c: pure RFC 9111 rules (storable, freshness, age, Vary,
 *    request directives, conditionals, 304 selection and update,
 *    invalidation targets); no clock reads, no I/O;
 *  - cache.c: httpresp_cache over a httpresp_store_ops store (load, save,
 *    remove; thread-safe);
 *  - store_memory.c, store_disk.c: the two bundled stores. */
#ifndef HR_CACHE_H
#define HR_CACHE_H

#include <stdatomic.h>
#include <stdint.h>

#include "common.h"
#include "headers.h"
#include "objects.h"

/* Largest encoded entry (URL, headers, body, framing) a cache stores;
 * larger responses pass through uncached.  Also the decoder's bound. */
#define HR_CACHE_MAX_ENTRY ((size_t)64 * 1024 * 1024)

/* What the selection needs of a stored response on every lookup, worked
 * out once when the entry is frozen (hr_stored): each is a pure function
 * of the entry, so using them gives the same answers as recomputing. */
typedef struct hr_cache_facts {
  int64_t age_value;       /* Age in seconds, -1 when absent or invalid */
  int64_t date_ms;         /* Date, or the receipt time without a valid one */
  int64_t lifetime;        /* hr_cache_freshness_lifetime, seconds */
  unsigned rs_flags;       /* the response's Cache-Control flags */
  uint32_t age_index;      /* first Age field, or headers.n when none */
  uint32_t age_count;      /* how many Age fields */
  unsigned char validator; /* hr_cache_has_validator */
  unsigned char varies;    /* Vary names at least one element */
} hr_cache_facts;

typedef struct hr_cache_entry {
  char *url; /* the cache key: request URL without fragment */
  int status;
  hr_headers vary;    /* request fields named by Vary, as sent; a field the
                         request lacked is absent here */
  hr_headers headers; /* response fields as stored (hop-by-hop removed) */
  char *body;
  size_t body_len;
  int64_t request_ms;  /* when the request that got it was sent */
  int64_t response_ms; /* when the response was received */
  const hr_cache_facts *facts; /* frozen entries only, else NULL */
} hr_cache_entry;

/* A frozen entry: one allocation holding the entry, its facts, and every
 * string, field array and the body it points to.  Immutable and reference
 * counted, so a memory store hands the same object to any number of
 * requests and threads, and a cache hit copies nothing.  Never pass its
 * `e` to anything that frees or edits an entry. */
typedef struct hr_stored {
  hr_cache_entry e;
  hr_cache_facts facts;
  size_t size; /* bytes of the allocation */
  _Atomic size_t refs;
} hr_stored;

/* Freezes a copy of `src` (refcount 1).  Returns 0, HTTPRESP_E_NOMEM, or
 * HTTPRESP_E_INVALID_ARG when it is larger than HR_CACHE_MAX_ENTRY. */
int hr_stored_freeze(const hr_cache_entry *src, hr_stored **out);
hr_stored *hr_stored_ref(hr_stored *s);
void hr_stored_unref(hr_stored *s); /* NULL is fine */
/* A mutable deep copy of the frozen entry (free with hr_cache_entry_free). */
int hr_stored_thaw(const hr_stored *s, hr_cache_entry *out);
/* Computes the facts of `e` (which must not be frozen yet). */
void hr_cache_facts_compute(const hr_cache_entry *e, hr_cache_facts *f);

void hr_cache_entry_init(hr_cache_entry *e);
/* Frees what `e` owns and leaves it initialised (empty). */
void hr_cache_entry_free(hr_cache_entry *e);

/* Encodes `e` (magic, version, lengths, checksum) onto `out`.  Returns 0,
 * HTTPRESP_E_NOMEM, or HTTPRESP_E_INVALID_ARG when the encoding would
 * exceed HR_CACHE_MAX_ENTRY or hold something the decoder refuses (status
 * outside 100..999, empty URL, a field that hr_headers_add would refuse):
 * whatever encodes, decodes to the same entry. */
int hr_cache_entry_encode(const hr_cache_entry *e, hr_buf *out);
/* Decodes bytes from a store.  Returns 0, HTTPRESP_E_NOMEM, or
 * HTTPRESP_E_CACHE_IO for anything damaged, truncated or foreign. */
int hr_cache_entry_decode(const void *data, size_t len, hr_cache_entry *e);

/* The 64-bit checksum of the entry encoding and of the disk store's files:
 * every step is a bijection of the state, so any single changed byte (or
 * word) always changes the result. */
uint64_t hr_cache_checksum(const void *data, size_t len);

/* ---- pure rules ------------------------------------------------------- */

/* The cache key for a request URL (malloc'd): the URL without fragment. */
char *hr_cache_key(const char *url);

/* Whether the request lets the cache take part at all: GET or HEAD, no
 * caller conditionals (If-None-Match, If-Modified-Since, If-Match,
 * If-Unmodified-Since, If-Range) and no Range (stored partial content is
 * never combined).  `*why` gets a static reason when not ("method",
 * "conditional", "range"). */
int hr_cache_request_applies(const httpresp_request *req, const char **why);

/* Whether a response to `req` may be stored (RFC 9111 §3): GET, final
 * status, no no-store in request or response, status cacheable by default
 * (RFC 9110 §15.1) or explicit freshness (max-age, Expires, public...),
 * no Authorization in the request unless public/must-revalidate/s-maxage,
 * Vary not "*", size under HR_CACHE_MAX_ENTRY (body_len given).  `*why`
 * gets a static reason when not ("no-store", "status", "vary-star"...). */
int hr_cache_storable(const httpresp_request *req, int status,
                      const hr_headers *resp, size_t body_len,
                      const char **why);

/* Whether the answer a hop just received is one to keep, by what became of
 * it: not one the policy is about to ask for again (a 429 or 503 waiting
 * for its retry: stored, it would answer the retry from the cache and
 * supersede a good entry), nor one whose body was dropped, as the bodies
 * of followed redirects and repeated hops are (the stored copy would lack
 * it while its Content-Length still promised it). */
int hr_cache_hop_storable(int retried, size_t dropped_body);

/* Builds an entry from a response (copies everything; removes hop-by-hop
 * fields and those named in Connection, RFC 9111 §3.1; records the Vary'd
 * request fields; adds a Date of `response_ms` when the response had none,
 * RFC 9110 §6.6.1).  `e` is overwritten (its old contents are not freed);
 * on failure it is left empty. */
int hr_cache_entry_from_response(hr_cache_entry *e, const httpresp_request *req,
                                 int status, const hr_headers *resp,
                                 const char *body, size_t body_len,
                                 int64_t request_ms, int64_t response_ms);

/* Current age in seconds (RFC 9111 §4.2.3). */
int64_t hr_cache_current_age(const hr_cache_entry *e, int64_t now_ms);
/* Freshness lifetime in seconds (§4.2.1, heuristic §4.2.2: 10% of
 * Date - Last-Modified, at most 1 day, for heuristically cacheable
 * statuses); 0 when an invalid Expires or Date makes it stale. */
int64_t hr_cache_freshness_lifetime(const hr_cache_entry *e);

typedef enum hr_cache_use {
  HR_CACHE_USE_NONE = 0,   /* not usable: go to the network normally */
  HR_CACHE_USE_FRESH,      /* serve without contacting the server */
  HR_CACHE_USE_REVALIDATE, /* send a conditional request */
  HR_CACHE_USE_NOT_CACHED  /* only-if-cached and nothing usable: fail */
} hr_cache_use;

/* Decides how a stored entry serves `req` at `now_ms`: Vary match (§4.1),
 * request directives no-cache, max-age, max-stale, min-fresh,
 * only-if-cached, Pragma: no-cache; response directives no-cache,
 * must-revalidate; freshness.  An entry without validators that cannot be
 * served fresh is HR_CACHE_USE_NONE.  `e` may be NULL (nothing stored).
 * With only-if-cached, whatever is not FRESH is HR_CACHE_USE_NOT_CACHED.
 * `*why` gets a static reason ("fresh", "max-stale", "stale", "vary",
 * "no-cache", "request-no-cache", "request-no-store", "request-max-age",
 * "min-fresh", "miss", "only-if-cached"). */
hr_cache_use hr_cache_select(const hr_cache_entry *e,
                             const httpresp_request *req, int64_t now_ms,
                             const char **why);

/* Whether `e` carries a validator (an ETag, or a Last-Modified that is a
 * valid HTTP-date). */
int hr_cache_has_validator(const hr_cache_entry *e);
/* Appends to `out` the conditionals that revalidate `e`: If-None-Match
 * (stored ETag) and/or If-Modified-Since (stored Last-Modified, when it is
 * a valid HTTP-date).  They go out with the hop, never into its request,
 * so no request derived from it (a redirect, a repeat) carries them. */
int hr_cache_conditionals(const hr_cache_entry *e, hr_headers *out);

/* Whether a 304 selects `e` (RFC 9111 §4.3.4): strong ETag equal, weak
 * ETag equal by weak comparison, else equal Last-Modified; a 304 without
 * any validator selects the entry it was asked about. */
int hr_cache_304_selects(const hr_cache_entry *e, const hr_headers *h304);
/* Updates `e` from a 304 (RFC 9111 §3.2): each field of the 304 replaces
 * the stored fields of that name (as a group, at the place of the first
 * stored one; new names are appended), except Content-Length,
 * Content-Encoding, Content-Range and the fields a cache must not store;
 * request/response times are renewed, a 304 without Age drops the stored
 * Age and one without Date sets Date to `response_ms`. */
int hr_cache_update_from_304(hr_cache_entry *e, const hr_headers *h304,
                             int64_t request_ms, int64_t response_ms);

/* The response headers to hand the caller for `e` served at `now_ms`: the
 * stored fields with Age set to the current age (§5.1). */
/* The Age value those headers carry: the current age, at most 2^31. */
#define HR_CACHE_AGE_TEXT 24
void hr_cache_age_text(const hr_cache_entry *e, int64_t now_ms,
                       char buf[HR_CACHE_AGE_TEXT]);
int hr_cache_served_headers(const hr_cache_entry *e, int64_t now_ms,
                            hr_headers *out);

/* The URLs an unsafe request's non-error response invalidates (§4.4):
 * the request URL and same-origin Location / Content-Location targets.
 * Fills up to 3 malloc'd keys; returns how many. */
size_t hr_cache_invalidation_keys(const char *req_url, int status,
                                  const hr_headers *resp, char *keys[3]);

/* Whether `method` is unsafe (anything but GET, HEAD, OPTIONS, TRACE). */
int hr_cache_method_unsafe(const char *method);

/* ---- the cache object -------------------------------------------------- */

/* Loads the entry for `key` (its first `klen` bytes): 0 and *out (a
 * reference) on a hit, 1 on a miss (a damaged entry, or one stored under
 * another URL, is removed and read as a miss), or HTTPRESP_E_NOMEM /
 * HTTPRESP_E_CACHE_IO. */
int hr_cache_load(httpresp_cache *c, const char *key, size_t klen,
                  hr_stored **out);
/* Stores `e` under e->url, replacing what was there.  Returns 0,
 * HTTPRESP_E_NOMEM, HTTPRESP_E_INVALID_ARG (too large: any older entry for
 * the key is removed) or HTTPRESP_E_CACHE_IO. */
int hr_cache_save(httpresp_cache *c, const hr_cache_entry *e);
/* Removes the entry for `key`; 0 also when there was none. */
int hr_cache_remove(httpresp_cache *c, const char *key);

/* Lookup for a request the cache applies to (hr_cache_request_applies):
 * loads the entry for req->url and runs hr_cache_select.  On FRESH and
 * REVALIDATE `*out` holds a reference to the entry (drop it with
 * hr_stored_unref); on NONE and NOT_CACHED it is NULL.  A store error
 * reads as a miss. */
hr_cache_use hr_cache_lookup(httpresp_cache *c, const httpresp_request *req,
                             int64_t now_ms, hr_stored **out,
                             const char **why);

/* After a complete final response to `req` came from the network: stores
 * it when hr_cache_storable allows (returns 1), else removes whatever was
 * stored for the URL, since it is superseded (returns 0) -- except after a
 * HEAD, a 304 or a 5xx, which supersede nothing.  `*why` gets the reason
 * it was not stored (hr_cache_storable's, or "too-large" for the store,
 * or "store-failed"). */
int hr_cache_store_response(httpresp_cache *c, const httpresp_request *req,
                            int status, const hr_headers *resp,
                            const char *body, size_t body_len,
                            int64_t request_ms, int64_t response_ms,
                            const char **why);

#endif
