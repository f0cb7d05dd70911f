/* SPDX-License-Identifier: MIT */
/* The client cache's pure rules (RFC 9111, private cache): what may be
 * stored, how old and how fresh it is, whether it serves a request, how a
 * 304 updates it, what an unsafe request invalidates.  No clock reads, no
 * I/O, no store: the policy core uses them directly. */
#ifndef HR_CACHE_RULES_H
#define HR_CACHE_RULES_H

#include <stdint.h>

#include "common.h"
#include "entry.h"
#include "facts.h"
#include "headers.h"
#include "key.h"
#include "objects.h"

/* ---- pure rules ------------------------------------------------------- */

/* The normalised URL a key is made of (malloc'd): the URL without its
 * fragment. */
char *hr_cache_key_url(const char *url);

/* The partition a request's answers are stored in (RFC 9111 §4: a cache
 * must not answer one identity with another's response): the caller's
 * (httpresp_request_set_cache_partition), as "p:" and its name; else, when
 * the request carries Authorization or Cookie fields or credentials
 * (httpresp_request_set_credentials), "id:" and 32 hex digits of a SHA-256
 * over them, so no secret is stored as it is; else "" (anonymous). */
#define HR_CACHE_PARTITION_MAX (HTTPRESP_CACHE_PARTITION_MAX + 3)
void hr_cache_partition(const httpresp_request *req,
                        char out[HR_CACHE_PARTITION_MAX]);

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

/* Whether the stored GET response, refreshed by a 304 that answered `req`
 * (a GET or a HEAD: a HEAD's 304 updates the stored GET response, RFC 9111
 * §4.3.5), may stay stored: hr_cache_storable's rules for that GET (its
 * request directives and credentials are `req`'s), so a 304 with no-store
 * still removes it (§5.2.2.5). */
int hr_cache_refresh_storable(const httpresp_request *req, int status,
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
 * on failure it is left empty.  Its key is k's flat form. */
int hr_cache_entry_from_response(hr_cache_entry *e, const hr_key *k,
                                 const httpresp_request *req,
                                 int status, const hr_headers *resp,
                                 const char *body, size_t body_len,
                                 int64_t request_ms, int64_t response_ms);

/* ---- Vary (RFC 9111 §4.1) ---------------------------------------------- */

/* The value of the fields `name` of `h` as Vary matching compares it, in
 * `out`: list members with OWS around commas dropped, joined by ","
 * (absent and empty read the same); for Accept, Accept-Charset,
 * Accept-Encoding and Accept-Language, where order, whitespace and (but
 * for Accept) case carry no meaning, each member loses its whitespace
 * outside quotes and its case, and the members are sorted.  Returns 0,
 * HTTPRESP_E_NOMEM, or HTTPRESP_E_INVALID_ARG (more than 64 members). */
int hr_cache_vary_value(const hr_headers *h, const char *name, hr_buf *out);
/* The field names a response's Vary lists, lower case, sorted, without
 * duplicates, joined by "," (malloc'd), or NULL when it has no Vary.
 * Returns 0, HTTPRESP_E_NOMEM, or HTTPRESP_E_INVALID_ARG for "*" or a name
 * that is no token. */
int hr_cache_vary_names(const hr_headers *resp, char **out);
/* The variant id of `names` (hr_cache_vary_names) with the values
 * `fields` has for them (a request's fields, or an entry's recorded
 * ones): a digest of the normalised values (hr_cache_vary_value), never
 * HR_VARIANT_NONE nor HR_VARIANT_INDEX.  Returns 0 or an error of
 * hr_cache_vary_value. */
int hr_cache_variant_id(const char *names, const hr_headers *fields,
                        hr_variant_id *out);

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
 * The request's cache mode applies first: no-store and reload use nothing
 * (NONE, "cache-mode"); force-cache and only-if-cached serve any entry
 * that matches the request (Vary, no request no-store) FRESH, however
 * stale, and only-if-cached is NOT_CACHED otherwise; no-cache never
 * serves an entry as it is (REVALIDATE, or NONE without validators).
 * `*why` gets a static reason ("fresh", "max-stale", "stale", "vary",
 * "no-cache", "request-no-cache", "request-no-store", "request-max-age",
 * "min-fresh", "miss", "only-if-cached", "incomplete": the entry is the
 * first part of a body, never served, only resumed). */
hr_cache_use hr_cache_select(const hr_cache_entry *e,
                             const httpresp_request *req, int64_t now_ms,
                             const char **why);

/* Whether a hop's status is an origin failure a stale answer may stand in
 * for (RFC 5861 §4): 500, 502, 503, 504. */
int hr_cache_error_status(int status);
/* Whether the stored `e` may answer `req` at `now_ms` although stale,
 * because the origin could not be reached or answered with an error
 * status (RFC 5861 §4, RFC 9111 §4.2.4): never when the request says
 * no-cache (or Pragma: no-cache) or no-store, nor when the response says
 * no-cache, must-revalidate or proxy-revalidate; otherwise when its
 * staleness is within the largest of the response's stale-if-error, the
 * request's stale-if-error and `client_sec` (the client's allowance, 0:
 * none).  `*why` gets a static reason ("stale-if-error" when it may;
 * "must-revalidate", "proxy-revalidate", "no-cache", "request-no-cache",
 * "no-stale-if-error", "too-stale", "vary", "miss" when not). */
int hr_cache_stale_on_error(const hr_cache_entry *e,
                            const httpresp_request *req, int64_t now_ms,
                            int64_t client_sec, const char **why);

/* Whether the stale `e` may answer `req` at `now_ms` at once while it is
 * revalidated apart (RFC 5861 §3): its staleness is within the response's
 * stale-while-revalidate, the response says neither no-cache nor
 * must-revalidate, and the request says none of no-cache, no-store,
 * max-age, min-fresh (it asks for the origin or for freshness).  `*why`:
 * "stale-while-revalidate" when it may, else "fresh", "too-stale",
 * "no-stale-while-revalidate", "must-revalidate", "no-cache",
 * "request-directive", "vary", "miss". */
int hr_cache_swr_allows(const hr_cache_entry *e, const httpresp_request *req,
                        int64_t now_ms, const char **why);
/* What the cache does for a request in cache mode `mode` (Fetch's
 * RequestCache), given whether the client has a cache and whether it
 * applies to the request (hr_cache_request_applies): take no part (OFF:
 * no-store, or nothing to do), look up and store (CONSULT), go to the
 * network and store its answer (STORE_ONLY: reload), or fail at once with
 * HTTPRESP_E_NOT_CACHED (FAIL: only-if-cached where no answer can be
 * stored).  Within CONSULT, hr_cache_select applies the mode to the
 * stored answer. */
typedef enum hr_cache_plan {
  HR_CACHE_PLAN_OFF = 0,
  HR_CACHE_PLAN_CONSULT,
  HR_CACHE_PLAN_STORE_ONLY,
  HR_CACHE_PLAN_FAIL
} hr_cache_plan;
hr_cache_plan hr_cache_mode_plan(httpresp_cache_mode mode, int have_cache,
                                 int applies);
/* Appends to `out` the fields Fetch adds to a request in `mode` unless
 * `req` has them: no-cache adds "Cache-Control: max-age=0"; no-store and
 * reload add "Pragma: no-cache" and "Cache-Control: no-cache".  0 or
 * HTTPRESP_E_NOMEM. */
int hr_cache_mode_fields(httpresp_cache_mode mode, const hr_headers *req,
                         hr_headers *out);

/* Whether `e` carries a validator (an ETag, or a Last-Modified that is a
 * valid HTTP-date). */
int hr_cache_has_validator(const hr_cache_entry *e);
/* Appends to `out` the conditionals that revalidate `e`: If-None-Match
 * (stored ETag) and/or If-Modified-Since (stored Last-Modified, when it is
 * a valid HTTP-date).  They go out with the hop, never into its request,
 * so no request derived from it (a redirect, a repeat) carries them. */
int hr_cache_conditionals(const hr_cache_entry *e, hr_headers *out);

/* What a 304 to the conditionals sent for `e` does to it (RFC 9111
 * §4.3.4). */
typedef enum hr_304_sel {
  HR_304_NONE = 0, /* selects nothing: `e` is not served (repeat) */
  HR_304_UPDATE,   /* selects `e`: updated from the 304 and served */
  HR_304_SERVE     /* `e` is current and served, but not updated */
} hr_304_sel;
/* UPDATE: strong ETag equal, weak ETag equal by weak comparison, else
 * equal Last-Modified; a 304 without any validator selects the entry it
 * was asked about.  SERVE: a strong ETag in the 304 whose opaque tag
 * equals the stored weak one (the If-None-Match we sent matched by weak
 * comparison, RFC 9110 §13.1.2, but a strong validator updates only a
 * stored response holding the same strong validator). */
hr_304_sel hr_cache_304_selects(const hr_cache_entry *e,
                                const hr_headers *h304);
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

/* The URLs (hr_cache_key_url) an unsafe request's non-error response
 * invalidates (§4.4):
 * the request URL and same-origin Location / Content-Location targets.
 * Fills up to 3 malloc'd keys; returns how many. */
size_t hr_cache_invalidation_keys(const char *req_url, int status,
                                  const hr_headers *resp, char *keys[3]);

/* ---- partial content (RFC 9110 §14, RFC 9111 §3.3-3.4) ----------------
 *
 * A 200 cut short is kept as an incomplete entry (hr_cache_entry
 * .incomplete) when it has a strong validator; the next request for the
 * URL asks for the rest with Range + If-Range, and a 206 that fits is
 * combined with the stored part into one complete 200.  An incomplete
 * entry is never served (hr_cache_select: NONE, "incomplete") nor stands
 * in for an origin failure. */

/* Whether response fields `h` carry a strong validator: an ETag that is
 * not weak, or a Last-Modified at least one second before the Date (RFC
 * 9110 §8.8.2.2). */
int hr_cache_strong_validator(const hr_headers *h);
/* Parses a Content-Range value "bytes FIRST-LAST/COMPLETE" (RFC 9110
 * §14.4; COMPLETE "*" gives -1): 0, or -1 when it is not one (another
 * unit, LAST < FIRST, LAST >= COMPLETE, overflow, trailing bytes). */
int hr_cache_content_range(const char *v, uint64_t *first, uint64_t *last,
                           int64_t *complete);
/* Whether the first `body_len` bytes of a 200 that was cut short may be
 * kept to be resumed: storable as a whole would be (hr_cache_storable),
 * a strong validator, no content coding, some body, and less than its
 * Content-Length.  `*why`: hr_cache_storable's, or "partial-status",
 * "no-strong-validator", "content-encoding", "partial-length". */
int hr_cache_partial_storable(const httpresp_request *req, int status,
                              const hr_headers *resp, size_t body_len,
                              const char **why);
/* Appends to `out` the fields that ask for the rest of the incomplete `e`:
 * "Range: bytes=N-" (N its stored length) and If-Range with its strong
 * validator (the ETag, else the Last-Modified).  0, HTTPRESP_E_NOMEM, or
 * HTTPRESP_E_INVALID_ARG when `e` is not incomplete with one. */
int hr_cache_resume_fields(const hr_cache_entry *e, hr_headers *out);
/* Whether a 206 with fields `h206` completes the incomplete `e`: one
 * Content-Range from exactly its stored length to the end of a
 * representation of a known length equal to the stored Content-Length
 * (if any), a Content-Length (if any) equal to that range's, no content
 * coding, and the same strong validator (RFC 9111 §3.4).  1 with the
 * length of the range in `*rest_len`, else 0 with `*why`
 * ("content-range", "content-length", "content-encoding", "validator"). */
int hr_cache_resume_combines(const hr_cache_entry *e, const hr_headers *h206,
                             uint64_t *rest_len, const char **why);
/* The fields of the combined response into `out` (cleared first): the
 * stored fields updated from the 206 as a 304 updates them, without
 * Content-Range, with Content-Length `total`.  0 or HTTPRESP_E_NOMEM. */
int hr_cache_resume_headers(const hr_cache_entry *e, const hr_headers *h206,
                            uint64_t total, int64_t response_ms,
                            hr_headers *out);

/* Whether `range` (a caller's Range value) asks for one satisfiable byte
 * range of a representation of `len` bytes (RFC 9110 §14.1.2: first-last,
 * first-, or a suffix -n; last past the end is cut to it): 1 with the
 * bounds, else 0 (several ranges, another unit, unsatisfiable, invalid). */
int hr_cache_range_single(const char *range, uint64_t len, uint64_t *first,
                          uint64_t *last);
/* The 206 a complete stored 200 `e` answers a range with (RFC 9111 §3.4:
 * a cache may answer a range from a stored complete response): its fields
 * with Content-Range and Content-Length of the part, its times, and bytes
 * first..last of its body.  0, HTTPRESP_E_NOMEM, or
 * HTTPRESP_E_INVALID_ARG (an incomplete entry, bounds outside the body, a
 * content coding: the stored bytes may be decoded ones). */
int hr_cache_range_entry(const hr_cache_entry *e, uint64_t first, uint64_t last,
                         hr_cache_entry *out);

/* A 206 to a caller's own Range request that holds the first `body_len`
 * bytes of a longer representation of known length ("bytes 0-L/T", L + 1
 * == body_len < T) is the start of a body the cache may keep to resume
 * (RFC 9111 §3.3): 1 with, in `out` (cleared first), the fields of the 200
 * it is the start of (the 206's, without Content-Range, Content-Length
 * T); else 0 with `*why` ("content-range", "store-failed").  Whether it
 * may be kept is then hr_cache_partial_storable's. */
int hr_cache_first_part_fields(const hr_headers *h206, size_t body_len,
                               hr_headers *out, const char **why);

/* Whether `method` is unsafe (anything but GET, HEAD, OPTIONS, TRACE). */
int hr_cache_method_unsafe(const char *method);

#endif
