/* SPDX-License-Identifier: MIT */
/*
 * libhttpresp — decide what a libcurl client does with each HTTP response.
 *
 * The caller configures a libcurl easy handle as usual (TLS, proxy,
 * timeouts, cookie engine, HTTP version) and hands it, together with a
 * request described through this API, to httpresp_perform() or to a
 * httpresp_multi context.  libhttpresp runs the transfer and interprets the
 * answer: interim 1xx responses are absorbed, redirects are followed with the
 * right method and body, Retry-After is honoured within the caller's limits
 * and a client-side cache is revalidated with conditional requests.
 *
 * Ownership rules, valid for every function below:
 *  - Objects are created by `httpresp_X_new(&out, ...)` and released by
 *    `httpresp_X_free()`, which accepts NULL.
 *  - Strings passed in are copied unless stated otherwise.
 *  - Strings returned are owned by the object they come from and stay valid
 *    until that object is freed.
 *  - Every function that can fail returns an httpresp_code: HTTPRESP_OK (0)
 *    on success, else a positive code (httpresp_strerror() describes it).
 *    Common to all of them: HTTPRESP_E_INVALID_ARG when an object or a
 *    required argument is NULL or a value is out of range, and
 *    HTTPRESP_E_NOMEM when an allocation fails; in both cases nothing was
 *    changed.  Each function's comment lists the other codes it returns.
 *  - Getters never fail: given NULL they return what their comment says
 *    (0, NULL or "").
 *  - Each function also has a manual page: `man 3 <function>`, and
 *    `man 3 libhttpresp` for an overview.
 *
 * Things on the easy handle that libhttpresp owns while a request runs (the
 * options it sets anew for every hop): CURLOPT_URL, CURLOPT_CUSTOMREQUEST,
 * CURLOPT_NOBODY, CURLOPT_HTTPGET, CURLOPT_POST*, CURLOPT_MIMEPOST,
 * CURLOPT_UPLOAD, CURLOPT_READFUNCTION/DATA, CURLOPT_SEEKFUNCTION/DATA, CURLOPT_HTTPHEADER,
 * CURLOPT_HEADERFUNCTION/DATA, CURLOPT_WRITEFUNCTION/DATA,
 * CURLOPT_ERRORBUFFER, CURLOPT_FOLLOWLOCATION (always off),
 * CURLOPT_SUPPRESS_CONNECT_HEADERS (on: a proxy's answer to CONNECT is not
 * the origin's, so it never reaches the response),
 * CURLOPT_USERNAME/PASSWORD/HTTPAUTH when credentials are given through
 * httpresp_request_set_credentials().  The library sets only what a hop
 * needs: a GET sets CURLOPT_HTTPGET and clears CURLOPT_CUSTOMREQUEST,
 * leaving other body options as they were (a GET does not use them), and a
 * request answered wholly from the cache sets nothing.  When a request
 * ends, every option it pointed at its own memory (callbacks and their
 * data, the header list, the error buffer, a body, credentials) is reset to
 * libcurl's default, as is CURLOPT_SUPPRESS_CONNECT_HEADERS, so the handle never points into freed memory, and a
 * method other than GET it set is a plain GET again.  Everything else stays
 * as the caller set it.
 */
#ifndef HTTPRESP_HTTPRESP_H
#define HTTPRESP_HTTPRESP_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(HTTPRESP_STATIC)
#define HTTPRESP_EXTERN
#elif defined(HTTPRESP_BUILDING)
#define HTTPRESP_EXTERN __attribute__((visibility("default")))
#else
#define HTTPRESP_EXTERN
#endif

/* ---------------------------------------------------------------------- */
/* Version                                                                */
/* ---------------------------------------------------------------------- */

#define HTTPRESP_VERSION_MAJOR 0
#define HTTPRESP_VERSION_MINOR 1
#define HTTPRESP_VERSION_PATCH 0
#define HTTPRESP_VERSION_STRING "0.1.0"
/** 0xMMmmpp, comparable with HTTPRESP_VERSION_NUM at run time. */
#define HTTPRESP_VERSION_NUM                                                   \
  ((HTTPRESP_VERSION_MAJOR << 16) | (HTTPRESP_VERSION_MINOR << 8) |            \
   HTTPRESP_VERSION_PATCH)

/** The version of the library actually linked, as "MAJOR.MINOR.PATCH". */
HTTPRESP_EXTERN const char *httpresp_version(void);
/** The version of the library actually linked, as 0xMMmmpp. */
HTTPRESP_EXTERN uint32_t httpresp_version_num(void);

/* ---------------------------------------------------------------------- */
/* Errors                                                                 */
/* ---------------------------------------------------------------------- */

/*
 * One list generates the enum, the names and the messages.
 * X(NAME, "message")
 */
#define HTTPRESP_ERROR_LIST(X)                                                 \
  X(OK, "success")                                                             \
  X(NOMEM, "out of memory")                                                    \
  X(INVALID_ARG, "invalid argument")                                           \
  X(CURL, "the transfer failed in libcurl")                                    \
  X(BAD_RESPONSE, "the server sent a malformed response")                      \
  X(HEADERS_TOO_LARGE, "the response headers exceed the configured limit")     \
  X(BODY_TOO_LARGE, "the response body exceeds the configured limit")          \
  X(TOO_MANY_INTERIM, "too many interim (1xx) responses")                      \
  X(UNEXPECTED_UPGRADE, "101 Switching Protocols without an upgrade request")  \
  X(TOO_MANY_REDIRECTS, "the redirect limit was reached")                      \
  X(REDIRECT_LOOP, "the redirect chain loops")                                 \
  X(BAD_LOCATION, "the Location header is not a valid URI reference")          \
  X(SCHEME_NOT_ALLOWED, "the redirect target's scheme is not allowed")         \
  X(DOWNGRADE_REFUSED, "a redirect from https to http was refused")            \
  X(BODY_NOT_REWINDABLE,                                                       \
    "the redirect needs the request body again but it cannot be rewound")      \
  X(ORIGIN_BACKOFF,                                                            \
    "the origin asked for quiet longer than the caller allows to wait")        \
  X(DEADLINE, "the request's overall deadline passed")                         \
  X(NOT_CACHED, "only-if-cached was requested and no usable entry exists")    \
  X(CACHE_IO, "the cache store failed")                                        \
  X(ABORTED, "a caller callback aborted the transfer")                         \
  X(BAD_URL, "the request URL is not a valid absolute http(s) URL")            \
  X(BUSY, "the object is in use by a running transfer")                        \
  X(UNSUPPORTED, "this build of the library does not support the feature")

/** Error codes.  HTTPRESP_OK is 0; all others are positive. */
typedef enum httpresp_code {
#define HTTPRESP_X_ENUM(name, msg) HTTPRESP_E_##name,
  HTTPRESP_ERROR_LIST(HTTPRESP_X_ENUM)
#undef HTTPRESP_X_ENUM
  HTTPRESP_E_COUNT_
} httpresp_code;
#define HTTPRESP_OK HTTPRESP_E_OK

/** A one-line English description of `code`; never NULL ("unknown error
 *  code" for a value outside the enum). */
HTTPRESP_EXTERN const char *httpresp_strerror(int code);
/** The symbolic name of `code` ("HTTPRESP_E_REDIRECT_LOOP"); never NULL
 *  ("HTTPRESP_E_UNKNOWN" for a value outside the enum). */
HTTPRESP_EXTERN const char *httpresp_errname(int code);

/* ---------------------------------------------------------------------- */
/* Status-code knowledge                                                   */
/* ---------------------------------------------------------------------- */

/** Properties of a status code, as bit flags. */
enum httpresp_status_flag {
  HTTPRESP_STATUS_STANDARD = 1u << 0,  /**< defined by an RFC/IANA registry */
  HTTPRESP_STATUS_INTERIM = 1u << 1,   /**< 1xx */
  HTTPRESP_STATUS_FOLLOW = 1u << 2,    /**< followed as a redirect */
  HTTPRESP_STATUS_RETRYABLE = 1u << 3, /**< repeated when Retry-After says so */
  HTTPRESP_STATUS_CACHEABLE = 1u << 4, /**< heuristically cacheable, RFC 9110 §15.1 */
  HTTPRESP_STATUS_KNOWN = 1u << 5      /**< described by the library's table */
};

/**
 * What the library knows of one meaning of a status code.  Returned by
 * pointer into a static table; never freed, never modified.
 */
typedef struct httpresp_status_info {
  uint16_t code;
  uint16_t flags;     /**< enum httpresp_status_flag bits */
  const char *reason; /**< reason phrase, e.g. "Not Found" */
  const char *source; /**< defining document ("RFC 9110") or owner ("nginx") */
} httpresp_status_info;

/**
 * Look up `code`.  For a code the library knows, the primary (standard)
 * meaning is returned.  For an unknown code in 100..999 a generic entry for
 * its class is returned ("Unknown Client Error", flags without
 * HTTPRESP_STATUS_KNOWN).  For a code outside 100..999, NULL.
 */
HTTPRESP_EXTERN const httpresp_status_info *httpresp_status_lookup(int code);

/**
 * All meanings of `code` known to the library, primary first (103 is both
 * "Early Hints" and "Checkpoint").  Stores up to `max` pointers in `out` and
 * returns the number of meanings known (which may exceed `max`).  An
 * unknown code in 100..999 has one meaning, its class-generic entry (whose
 * `source` is ""); a code outside 100..999 has none.
 */
HTTPRESP_EXTERN size_t httpresp_status_meanings(
    int code, const httpresp_status_info **out, size_t max);

/** The class digit of `code` (1..5), 0 if outside 100..599, -1 if invalid. */
HTTPRESP_EXTERN int httpresp_status_class(int code);

/** The reason phrase of `code`; "Unknown" for codes it cannot classify. */
HTTPRESP_EXTERN const char *httpresp_status_reason(int code);

/* ---------------------------------------------------------------------- */
/* URLs                                                                   */
/* ---------------------------------------------------------------------- */

/** Whether absolute URLs `a` and `b` have the same origin (RFC 6454: the
 *  same scheme, host and port), as the library decides it for redirects
 *  and cache invalidation: scheme and host compared without case, a
 *  scheme's default port equal to no port (http 80, https 443, ws 80,
 *  wss 443, ftp 21), userinfo, path, query and fragment ignored, IPv6
 *  literals compared as written in lower case; no DNS.  Returns 1 when they
 *  do, 0 when they do not, and -1 when either is NULL, not an absolute URL
 *  with a host, has an invalid port, or memory ran out. */
HTTPRESP_EXTERN int httpresp_same_origin(const char *a, const char *b);

/* ---------------------------------------------------------------------- */
/* Objects                                                                */
/* ---------------------------------------------------------------------- */

/** Settings, per-origin memory and an optional cache.  Reusable, and safe to
 *  share between threads once configured (setters are not thread-safe). */
typedef struct httpresp_client httpresp_client;
/** One request: method, URL, headers, body. */
typedef struct httpresp_request httpresp_request;
/** The outcome of running a request. */
typedef struct httpresp_response httpresp_response;
/** A response cache over a store. */
typedef struct httpresp_cache httpresp_cache;

/* ---------------------------------------------------------------------- */
/* Clock                                                                  */
/* ---------------------------------------------------------------------- */

/** Current wall-clock time in milliseconds since the Unix epoch. */
typedef int64_t (*httpresp_now_fn)(void *userdata);
/** Sleep for `ms` milliseconds.  Return non-zero to abort the wait. */
typedef int (*httpresp_sleep_fn)(void *userdata, int64_t ms);

/* ---------------------------------------------------------------------- */
/* Client                                                                 */
/* ---------------------------------------------------------------------- */

/** Create a client with the defaults documented on each setter.  Returns
 *  0 and the client in `*out`; on failure `*out` is NULL. */
HTTPRESP_EXTERN int httpresp_client_new(httpresp_client **out);
/** Release a client.  No transfer may be using it: the client must outlive
 *  every request made through it.  NULL is accepted. */
HTTPRESP_EXTERN void httpresp_client_free(httpresp_client *client);

/*
 * Every client setter below returns 0, or HTTPRESP_E_INVALID_ARG when `c`
 * is NULL or a value is refused (as its comment says); a refused call
 * leaves the setting as it was.  Setters are not thread-safe: configure
 * the client before sharing it.
 *
 * Requests read the settings when they use them, not once when they start:
 * a setter called while requests of the client are in flight (from the
 * thread driving them, between its calls) applies to each one's next
 * decision (the next redirect, repeat, wait or limit check), except for
 * what the request set for itself (httpresp_request_set_deadline_ms,
 * _set_max_wait_ms, _set_max_redirects, _set_max_retries).
 */

/** Follow redirects at all (default 1).  When a redirect turns the method
 *  into GET, the body goes and so do the request fields that describe it
 *  (Content-*, Digest, Repr-Digest, Last-Modified, Transfer-Encoding,
 *  Trailer) and Expect.  Credentials a server writes into its Location
 *  ("http://user:pw@host/") are never sent: to another origin the redirect
 *  ends with HTTPRESP_E_BAD_LOCATION, on the same origin it is followed
 *  without them.  A redirect back to a (method, URL) already requested in
 *  the chain is a loop (HTTPRESP_E_REDIRECT_LOOP), URLs being compared
 *  after RFC 3986 normalisation (case, default port, percent-encoding, dot
 *  segments), unless a response since then set a cookie. */
HTTPRESP_EXTERN int httpresp_client_set_follow(httpresp_client *c, int on);
/** Maximum number of redirects followed per request (default 20). */
HTTPRESP_EXTERN int httpresp_client_set_max_redirects(httpresp_client *c,
                                                      unsigned n);
/** Keep POST (and its body) on 301 and 302 instead of switching to GET
 *  (default 0, which is what every browser does). */
HTTPRESP_EXTERN int httpresp_client_set_keep_post(httpresp_client *c, int on);
/** Follow 300 Multiple Choices when it carries a Location (default 0). */
HTTPRESP_EXTERN int httpresp_client_set_follow_300(httpresp_client *c, int on);
/** Refuse redirects from https to http with HTTPRESP_E_DOWNGRADE_REFUSED
 *  (default 0). */
HTTPRESP_EXTERN int httpresp_client_set_refuse_downgrade(httpresp_client *c,
                                                         int on);
/** Comma-separated list of schemes a redirect may go to (default
 *  "http,https").  Case-insensitive.  NULL is HTTPRESP_E_INVALID_ARG;
 *  HTTPRESP_E_NOMEM if the copy fails. */
HTTPRESP_EXTERN int httpresp_client_set_redirect_schemes(httpresp_client *c,
                                                         const char *list);
/** Keep request header `name` when a redirect changes origin.  By default
 *  Authorization, Proxy-Authorization and Cookie are removed on an origin
 *  change; naming one of them here keeps it.  May be called repeatedly.
 *  A name that is not an HTTP token is HTTPRESP_E_INVALID_ARG. */
HTTPRESP_EXTERN int httpresp_client_keep_header_across_origins(
    httpresp_client *c, const char *name);

/** Maximum number of repeats after 429/503/413 (default 3). */
HTTPRESP_EXTERN int httpresp_client_set_max_retries(httpresp_client *c,
                                                    unsigned n);
/** Longest single wait in ms before a repeat (default 60000).  A server that
 *  asks for more gets its response returned at once, with the asked delay in
 *  httpresp_response_retry_after_ms().  A negative value is
 *  HTTPRESP_E_INVALID_ARG. */
HTTPRESP_EXTERN int httpresp_client_set_max_wait_ms(httpresp_client *c,
                                                    int64_t ms);
/** Longest quiet time in ms the client remembers for an origin (default
 *  3600000, one hour).  When a 429/503/413 carries a Retry-After, the
 *  client keeps other requests to that origin waiting (or failing with
 *  HTTPRESP_E_ORIGIN_BACKOFF when the wait is above the maximum wait) until
 *  the delay ends, but for at most this long: a server asking for years
 *  cannot take its origin away from the client for good.  The response
 *  still reports the whole delay (httpresp_response_retry_after_ms()).
 *  0 remembers nothing.  Applies to quiet times remembered after the call.
 *  Returns 0, or HTTPRESP_E_INVALID_ARG if `c` is NULL or `ms` < 0. */
HTTPRESP_EXTERN int httpresp_client_set_max_quiet_ms(httpresp_client *c,
                                                     int64_t ms);
/** What one Retry-After keeps quiet. */
typedef enum httpresp_quiet_scope {
  /** The origin (scheme, host, port) of the URL that answered: every
   *  request of the client to it waits (the default). */
  HTTPRESP_QUIET_ORIGIN = 0,
  /** That URL alone (without its fragment, compared after RFC 3986
   *  normalisation): other URLs of the origin are not held back. */
  HTTPRESP_QUIET_URL,
  /** Nothing is remembered: only the request that got the answer waits,
   *  when it is repeated. */
  HTTPRESP_QUIET_OFF
} httpresp_quiet_scope;
/** Sets what a Retry-After on a 429/503/413 keeps quiet (default
 *  HTTPRESP_QUIET_ORIGIN).  Quiet times are looked up and remembered under
 *  the scope set when the request runs; those remembered under another
 *  scope are not found.  Returns 0, or HTTPRESP_E_INVALID_ARG if `c` is
 *  NULL or `scope` is outside the enum. */
HTTPRESP_EXTERN int httpresp_client_set_quiet_scope(httpresp_client *c,
                                                    httpresp_quiet_scope scope);
/** Until when requests to `url` wait for a quiet time a server asked for:
 *  `*until_ms` gets that time (the client's clock, ms since the epoch), or
 *  0 when `url` is not quiet (nothing remembered, the time passed, or the
 *  scope is HTTPRESP_QUIET_OFF).  Under HTTPRESP_QUIET_ORIGIN any URL of
 *  the origin answers for it.  Returns 0, HTTPRESP_E_INVALID_ARG (a NULL
 *  argument), HTTPRESP_E_BAD_URL (`url` has no origin) or
 *  HTTPRESP_E_NOMEM; on error `*until_ms` is 0. */
HTTPRESP_EXTERN int httpresp_client_quiet_until(httpresp_client *c,
                                                const char *url,
                                                int64_t *until_ms);
/** Forgets the quiet time remembered for the origin (scheme, host, port) of
 *  `url`, any URL of it (under HTTPRESP_QUIET_URL, for `url` itself);
 *  NULL forgets every origin's.  The next request to
 *  the origin is sent at once.  Requests already waiting in the multi driver
 *  keep their wake-up time.  With origins shared through Redis
 *  (httpresp_client_set_origins()) the shared key goes too, so the whole
 *  fleet forgets (while Redis is set aside, only this process does).
 *  Returns 0 (also when nothing was remembered),
 *  HTTPRESP_E_INVALID_ARG if `c` is NULL, HTTPRESP_E_BAD_URL if `url` has
 *  no origin, or HTTPRESP_E_NOMEM. */
HTTPRESP_EXTERN int httpresp_client_forget_quiet(httpresp_client *c,
                                                 const char *url);
/** Overall time limit for one request in ms, waits included (0 = none,
 *  default).  Exceeding it ends the request with HTTPRESP_E_DEADLINE; a
 *  running transfer notices within about a second.  The handle's own
 *  timeouts stay the caller's; when a deadline is set the library owns
 *  CURLOPT_XFERINFOFUNCTION/XFERINFODATA/NOPROGRESS while a request runs.
 *  A negative value is HTTPRESP_E_INVALID_ARG. */
HTTPRESP_EXTERN int httpresp_client_set_deadline_ms(httpresp_client *c,
                                                    int64_t ms);
/** Opt-in exponential backoff with full jitter for 429/503 without
 *  Retry-After: the n-th repeat waits random(0, min(cap, base * 2^n)).
 *  base_ms 0 turns it off (default).  Negative values, or a cap below a
 *  non-zero base, are HTTPRESP_E_INVALID_ARG. */
HTTPRESP_EXTERN int httpresp_client_set_backoff(httpresp_client *c,
                                                int64_t base_ms,
                                                int64_t cap_ms);
/** Replace the clock and the sleep used for waits (default: the system's
 *  realtime clock and nanosleep).  Either may be NULL to keep the default. */
HTTPRESP_EXTERN int httpresp_client_set_clock(httpresp_client *c,
                                              httpresp_now_fn now,
                                              httpresp_sleep_fn sleep,
                                              void *userdata);
/** Use `cache` for GET/HEAD requests made through this client (default none).
 *  The client does not take ownership; the cache must outlive it. */
HTTPRESP_EXTERN int httpresp_client_set_cache(httpresp_client *c,
                                              httpresp_cache *cache);
/** Lets the cache answer with a stale stored response, at most
 *  `max_stale_sec` seconds stale, when the origin cannot be reached (any
 *  transfer failure) or answers 500, 502, 503 or 504 (RFC 9111 §4.2.4).
 *  Default 0: only a response's or request's `stale-if-error=N` (RFC 5861)
 *  allows it, within N; the largest allowance of the three applies.  Never
 *  when the stored response says must-revalidate, proxy-revalidate or
 *  no-cache, nor when the request says no-cache or no-store.  A 429 or 503
 *  with Retry-After is retried first (httpresp_client_set_max_retries());
 *  the stored answer stands in only for the answer retrying ends with.  The
 *  response is the stored one with its current Age, cache status
 *  HTTPRESP_CACHE_STALE, and a reason of "origin-error: <status>" or
 *  "origin-unreachable"; the failed hop is recorded with
 *  HTTPRESP_DECISION_STALE.  Returns 0, or HTTPRESP_E_INVALID_ARG without a
 *  client or with a negative `max_stale_sec`. */
HTTPRESP_EXTERN int httpresp_client_set_stale_if_error(httpresp_client *c,
                                                       int64_t max_stale_sec);
/** How the client treats a stale stored answer whose response allows
 *  `stale-while-revalidate=N` (RFC 5861 §3), within those N seconds of
 *  staleness:
 *  - HTTPRESP_SWR_REVALIDATE_NOW (the default): as any stale answer, the
 *    request revalidates it with the origin before it answers;
 *  - HTTPRESP_SWR_DEFER: the request is answered at once with the stale
 *    answer (cache status HTTPRESP_CACHE_STALE, reason "revalidating") and
 *    its revalidation is deferred: under httpresp_perform() until the
 *    caller runs httpresp_client_revalidate(); under httpresp_multi it
 *    starts at once in the background, in the same context (see
 *    httpresp_multi_revalidations()).  However many requests get the stale
 *    answer meanwhile, from any thread or driver, the entry is revalidated
 *    once.  Past 256 deferred entries, requests revalidate at once.
 *  Never when the response says must-revalidate or no-cache, nor when the
 *  request says no-cache, no-store, max-age or min-fresh.  Returns 0, or
 *  HTTPRESP_E_INVALID_ARG without a client or for another mode. */
#define HTTPRESP_SWR_REVALIDATE_NOW 0
#define HTTPRESP_SWR_DEFER 1
HTTPRESP_EXTERN int httpresp_client_set_stale_while_revalidate(
    httpresp_client *c, int mode);
/** Runs the revalidations HTTPRESP_SWR_DEFER deferred, one after the
 *  other, each as a conditional request through httpresp_perform() on
 *  `easy` (with the first deferred request's fields, without its sink and
 *  its userdata; one a multi context runs already is left to it):
 *  a 304 refreshes the stored entry, a new answer replaces it.  Entries
 *  deferred while it runs are run too.  Their answers are not returned.
 *  Sets `*done` (may be NULL) to how many ran.  Returns 0, or
 *  HTTPRESP_E_INVALID_ARG without a client or handle. */
HTTPRESP_EXTERN int httpresp_client_revalidate(httpresp_client *c, CURL *easy,
                                               size_t *done);
/** Says whether the easy handles given to this client may carry an
 *  identity set on them directly (CURLOPT_USERPWD, CURLOPT_USERNAME,
 *  CURLOPT_XOAUTH2_BEARER, CURLOPT_COOKIE, the cookie engine), which the
 *  library cannot see.  With `hidden` non-zero, a request without a cache
 *  partition of its own (httpresp_request_set_cache_partition()) takes no
 *  part in the cache: nothing is served to it nor stored from it (its
 *  cache status is "bypass", reason "identity-unknown").  Default 0: the
 *  handles carry no identity beyond what the requests say.  Returns 0, or
 *  HTTPRESP_E_INVALID_ARG without a client. */
HTTPRESP_EXTERN int httpresp_client_set_handle_identity(httpresp_client *c,
                                                        int hidden);
/** Largest response body collected in memory, in bytes (default 1 GiB).
 *  A longer body ends the request with HTTPRESP_E_BODY_TOO_LARGE: at its
 *  headers when its Content-Length announces more, else once the limit is
 *  reached.  Bodies given to a sink are not limited. */
HTTPRESP_EXTERN int httpresp_client_set_max_body(httpresp_client *c,
                                                 size_t bytes);
/** Largest header block accepted, in bytes, summed over one response, and
 *  largest number of header fields (defaults 256 KiB, 1000).  Either one 0
 *  is HTTPRESP_E_INVALID_ARG. */
HTTPRESP_EXTERN int httpresp_client_set_max_headers(httpresp_client *c,
                                                    size_t bytes,
                                                    size_t fields);

/** What the per-hop callback sees and may change. */
typedef struct httpresp_hop_view httpresp_hop_view;

/** Called before a redirect is followed.  Return 0 to follow, non-zero to
 *  veto: the 3xx then becomes the final response.  `next` may be changed;
 *  if its URL is, the credential rules are applied again for the new
 *  target: Authorization, Proxy-Authorization and Cookie (less the keep
 *  list) reach only the origin of the original request, whoever added
 *  them, and credentials on the handle are not sent elsewhere. */
typedef int (*httpresp_hop_fn)(void *userdata, const httpresp_hop_view *hop,
                               httpresp_request *next);
/** Register the per-hop callback (NULL to remove).  `userdata` is the
 *  client's, handed to every call for every request made through the
 *  client, also from several httpresp_multi contexts. */
HTTPRESP_EXTERN int httpresp_client_set_hop_callback(httpresp_client *c,
                                                     httpresp_hop_fn fn,
                                                     void *userdata);
/** Status of the 3xx being followed (0 if `hop` is NULL). */
HTTPRESP_EXTERN int httpresp_hop_status(const httpresp_hop_view *hop);
/** URL that answered with the 3xx (NULL if `hop` is NULL). */
HTTPRESP_EXTERN const char *httpresp_hop_from(const httpresp_hop_view *hop);
/** Resolved redirect target (NULL if `hop` is NULL). */
HTTPRESP_EXTERN const char *httpresp_hop_to(const httpresp_hop_view *hop);
/** First value of response header `name` of the 3xx, or NULL. */
HTTPRESP_EXTERN const char *httpresp_hop_header(const httpresp_hop_view *hop,
                                                const char *name);
/** The caller's pointer of the request being redirected
 *  (httpresp_request_set_userdata()), so that a callback shared by many
 *  requests knows which one it runs for; NULL if none or `hop` is NULL. */
HTTPRESP_EXTERN void *httpresp_hop_userdata(const httpresp_hop_view *hop);

/** Called for each 103 Early Hints response: `status` is 103 and `headers`
 *  are its fields as "Name: value" strings, valid during the call only. */
typedef void (*httpresp_early_hints_fn)(void *userdata, int status,
                                        const char *const *headers,
                                        size_t count);
/** Register the early-hints callback (NULL to remove); `userdata` is the
 *  client's, as for the hop callback.  Replaces one set with
 *  httpresp_client_set_early_hints_callback2(). */
HTTPRESP_EXTERN int httpresp_client_set_early_hints_callback(
    httpresp_client *c, httpresp_early_hints_fn fn, void *userdata);
/** As httpresp_early_hints_fn, with the request's own pointer
 *  (httpresp_request_set_userdata()) in `request_userdata`. */
typedef void (*httpresp_early_hints2_fn)(void *userdata,
                                         void *request_userdata, int status,
                                         const char *const *headers,
                                         size_t count);
/** Register the early-hints callback that also gets the request's pointer
 *  (NULL to remove).  A client has one early-hints callback: this replaces
 *  one set with httpresp_client_set_early_hints_callback(), and that one
 *  replaces this.  Returns 0, or HTTPRESP_E_INVALID_ARG if `c` is NULL. */
HTTPRESP_EXTERN int httpresp_client_set_early_hints_callback2(
    httpresp_client *c, httpresp_early_hints2_fn fn, void *userdata);

/** Why the library is about to wait before sending a request. */
typedef enum httpresp_wait_reason {
  HTTPRESP_WAIT_RETRY_AFTER = 0, /**< a 429/503/413's Retry-After, before
                                      repeating the request */
  HTTPRESP_WAIT_BACKOFF,         /**< the client's backoff (a 429/503
                                      without Retry-After), before repeating */
  HTTPRESP_WAIT_ORIGIN_QUIET     /**< the origin asked for quiet earlier
                                      (httpresp_client_quiet_until()) */
} httpresp_wait_reason;
/** Called before each wait of `ms` (> 0) milliseconds, with the URL about
 *  to be requested.  Returns the wait to make instead: `ms` to wait as
 *  planned, less to shorten it (0: send at once; more than `ms` counts as
 *  `ms`), or a negative value to abort: the request then ends with
 *  HTTPRESP_E_ABORTED, its response holding the answer that asked for the
 *  wait, if any.  Under httpresp_perform() the wait is then made through
 *  the client's sleep function; under httpresp_multi the transfer's
 *  wake-up time is what shrinks (the driver never sleeps). */
typedef int64_t (*httpresp_wait_fn)(void *userdata, void *request_userdata,
                                    httpresp_wait_reason reason, int64_t ms,
                                    const char *url);
/** Register the wait callback (NULL to remove).  `userdata` is the
 *  client's; `request_userdata` the request's
 *  (httpresp_request_set_userdata()).  Returns 0, or
 *  HTTPRESP_E_INVALID_ARG if `c` is NULL. */
HTTPRESP_EXTERN int httpresp_client_set_wait_callback(httpresp_client *c,
                                                      httpresp_wait_fn fn,
                                                      void *userdata);
/** Name of a wait reason ("retry-after", "backoff", "origin-quiet");
 *  "unknown" outside the enum. */
HTTPRESP_EXTERN const char *httpresp_wait_reason_name(httpresp_wait_reason r);

/** Called once per request with the status and header fields of the
 *  response that becomes its answer, before any of its body reaches the
 *  sink or the response (a HEAD's answer, with no body, too): the final
 *  answer from the network, or from the cache (its stored fields with
 *  Age), or a stored answer a 304 revalidated (its updated fields).
 *  Never for a redirect that is followed, a response that is repeated, or
 *  one that ends the request with an error.  `url` is the URL that
 *  answered; `headers` are "Name: value" strings; all are valid during the
 *  call only.  Return 0 to go on, non-zero to abort: the request ends with
 *  HTTPRESP_E_ABORTED and none of the body is delivered. */
typedef int (*httpresp_headers_fn)(void *userdata, void *request_userdata,
                                   int status, const char *url,
                                   const char *const *headers, size_t count);
/** Register the final-headers callback (NULL to remove).  Returns 0, or
 *  HTTPRESP_E_INVALID_ARG if `c` is NULL. */
HTTPRESP_EXTERN int httpresp_client_set_headers_callback(httpresp_client *c,
                                                         httpresp_headers_fn fn,
                                                         void *userdata);

/* ---------------------------------------------------------------------- */
/* Request                                                                */
/* ---------------------------------------------------------------------- */

/** Read up to `len` bytes of the request body into `buf`.  Return the
 *  number read, 0 at the end, or (size_t)-1 to abort. */
typedef size_t (*httpresp_read_fn)(void *userdata, char *buf, size_t len);
/** Rewind the streamed body to its start.  Return 0 on success. */
typedef int (*httpresp_rewind_fn)(void *userdata);
/** Receive `len` bytes of the final response body.  Return `len` to go on,
 *  anything else to abort the transfer with HTTPRESP_E_ABORTED. */
typedef size_t (*httpresp_write_fn)(void *userdata, const char *data,
                                    size_t len);

/** Create a request.  `method` is any HTTP token ("GET", "PROPFIND");
 *  `url` an absolute http or https URL.  Returns 0 and the request in
 *  `*out` (NULL on failure); HTTPRESP_E_INVALID_ARG for a method that is not
 *  a token, HTTPRESP_E_BAD_URL for a URL that is not an absolute http(s)
 *  URL.  A request is not changed by running it and may be run again, by
 *  several threads at once if none changes it. */
HTTPRESP_EXTERN int httpresp_request_new(httpresp_request **out,
                                         const char *method, const char *url);
/** Release a request (its password is wiped first).  NULL is accepted. */
HTTPRESP_EXTERN void httpresp_request_free(httpresp_request *req);
/** Change the method: 0, or HTTPRESP_E_INVALID_ARG for a non-token. */
HTTPRESP_EXTERN int httpresp_request_set_method(httpresp_request *req,
                                                const char *method);
/** Change the URL: 0, or HTTPRESP_E_BAD_URL as for
 *  httpresp_request_new(). */
HTTPRESP_EXTERN int httpresp_request_set_url(httpresp_request *req,
                                             const char *url);
/** The request's method (NULL if `req` is NULL). */
HTTPRESP_EXTERN const char *httpresp_request_method(
    const httpresp_request *req);
/** The request's URL as given (NULL if `req` is NULL). */
HTTPRESP_EXTERN const char *httpresp_request_url(const httpresp_request *req);
/** Add a header field.  Either "Name: value" in `name` with `value` NULL,
 *  or the two parts separately.  CR, LF and NUL are refused, as is a name
 *  that is not a token: HTTPRESP_E_INVALID_ARG. */
HTTPRESP_EXTERN int httpresp_request_add_header(httpresp_request *req,
                                                const char *name,
                                                const char *value);
/** Remove every field named `name` (case-insensitive).  0 also when there
 *  was none. */
HTTPRESP_EXTERN int httpresp_request_remove_header(httpresp_request *req,
                                                   const char *name);
/** First value of request header `name`, or NULL. */
HTTPRESP_EXTERN const char *httpresp_request_header(
    const httpresp_request *req, const char *name);
/** Body from memory; the bytes are copied.  Always replayable.  Replaces
 *  any earlier body.  `data` NULL with `len` non-zero is
 *  HTTPRESP_E_INVALID_ARG. */
HTTPRESP_EXTERN int httpresp_request_set_body(httpresp_request *req,
                                              const void *data, size_t len);
/** Streamed body.  `length` is the size in bytes, or -1 if unknown (sent
 *  chunked).  Without `rewind`, a redirect that needs the body again ends
 *  with HTTPRESP_E_BODY_NOT_REWINDABLE (the 3xx is kept), and a 429/503 is
 *  not repeated (httpresp_response_retry_stop() says
 *  HTTPRESP_RETRY_NOT_REPLAYABLE).  `read` NULL or `length` below -1 is
 *  HTTPRESP_E_INVALID_ARG. */
HTTPRESP_EXTERN int httpresp_request_set_body_stream(httpresp_request *req,
                                                     httpresp_read_fn read,
                                                     httpresp_rewind_fn rewind,
                                                     int64_t length,
                                                     void *userdata);
/** Body from the caller's `mime` (curl_mime_init() and curl_mime_addpart(),
 *  as for CURLOPT_MIMEPOST): a multipart/form-data body, with the
 *  Content-Type and boundary libcurl writes.  The mime is not copied nor
 *  freed: it must stay unchanged until the request using it has completed.
 *  Replayable within the request: libcurl rewinds it for a 307/308 or a
 *  repeat; a redirect that turns the method into GET drops it like any
 *  body.  Run each request with a mime of its own: libcurl cannot rewind a
 *  mime sent by an earlier transfer once it is set on a handle again.
 *  Replaces any earlier body.  `mime` NULL is HTTPRESP_E_INVALID_ARG. */
HTTPRESP_EXTERN int httpresp_request_set_body_mime(httpresp_request *req,
                                                   curl_mime *mime);
/** Send the final body to `write` instead of collecting it (NULL goes back
 *  to collecting).  Bodies of redirects never reach it. */
HTTPRESP_EXTERN int httpresp_request_set_sink(httpresp_request *req,
                                              httpresp_write_fn write,
                                              void *userdata);
/** Credentials for the request's origin.  `auth` is a CURLAUTH_* mask (0
 *  means CURLAUTH_BASIC).  They are sent on hops to the original origin only
 *  (unless the caller keeps "Authorization" across origins).  `user` NULL is
 *  HTTPRESP_E_INVALID_ARG; `password` NULL means "". */
HTTPRESP_EXTERN int httpresp_request_set_credentials(httpresp_request *req,
                                                     const char *user,
                                                     const char *password,
                                                     unsigned long auth);

/** Longest cache partition name httpresp_request_set_cache_partition()
 *  takes, in bytes. */
#define HTTPRESP_CACHE_PARTITION_MAX 1024
/** Names the identity the request is made for (a user, a tenant, a
 *  session: any string up to HTTPRESP_CACHE_PARTITION_MAX bytes), so that
 *  the cache stores its answers apart from every other identity's and
 *  answers it only with those.  NULL removes the name.
 *
 *  Without a name, the cache partitions by what it sees: requests whose
 *  Authorization or Cookie fields or credentials
 *  (httpresp_request_set_credentials()) differ never share an entry (it
 *  keys by a SHA-256 digest of them, never the secrets themselves).  What
 *  the caller set on the easy handle directly (CURLOPT_USERPWD,
 *  CURLOPT_USERNAME, CURLOPT_XOAUTH2_BEARER, CURLOPT_COOKIE, the cookie
 *  engine) the library cannot see: name the identity here, or tell the
 *  client with httpresp_client_set_handle_identity().  A named partition
 *  replaces the digest.  Returns 0, HTTPRESP_E_NOMEM, or
 *  HTTPRESP_E_INVALID_ARG (no request, a name that is too long). */
HTTPRESP_EXTERN int httpresp_request_set_cache_partition(
    httpresp_request *req, const char *partition);

/*
 * Per-request policy.  Each setting below overrides the client's for this
 * request only; -1 goes back to "the client's" (the default).  The values
 * are read when the request starts (httpresp_perform(),
 * httpresp_multi_add()); the copies the library makes of a request for a
 * redirect or a repeat keep them, and so does the `next` request the hop
 * callback sees.  Each returns 0, or HTTPRESP_E_INVALID_ARG when `req` is
 * NULL or the value is below -1 (a refused call changes nothing).
 */
/** Overall time limit for this request in ms, waits included (0 = none),
 *  as httpresp_client_set_deadline_ms() says; -1: the client's. */
HTTPRESP_EXTERN int httpresp_request_set_deadline_ms(httpresp_request *req,
                                                     int64_t ms);
/** Redirects followed for this request at most, as
 *  httpresp_client_set_max_redirects() says; -1: the client's. */
HTTPRESP_EXTERN int httpresp_request_set_max_redirects(httpresp_request *req,
                                                       long n);
/** Repeats after 429/503/413 for this request at most, as
 *  httpresp_client_set_max_retries() says; -1: the client's. */
HTTPRESP_EXTERN int httpresp_request_set_max_retries(httpresp_request *req,
                                                     long n);
/** Longest single wait in ms for this request (before a repeat, or for an
 *  origin's quiet time), as httpresp_client_set_max_wait_ms() says; -1:
 *  the client's. */
HTTPRESP_EXTERN int httpresp_request_set_max_wait_ms(httpresp_request *req,
                                                     int64_t ms);

/** How a request uses the client's cache: the cache modes of the Fetch
 *  standard (RequestCache), with their meanings. */
typedef enum httpresp_cache_mode {
  /** RFC 9111 as the cache applies it to every request. */
  HTTPRESP_CACHE_MODE_DEFAULT = 0,
  /** As if there were no cache: nothing stored is used, the answer is not
   *  stored.  The request goes out with `Cache-Control: no-cache` and
   *  `Pragma: no-cache` unless it has those fields. */
  HTTPRESP_CACHE_MODE_NO_STORE,
  /** Nothing stored is used, the answer is stored; the request goes out
   *  with `Cache-Control: no-cache` and `Pragma: no-cache` unless it has
   *  those fields. */
  HTTPRESP_CACHE_MODE_RELOAD,
  /** A stored answer, fresh or stale, is always revalidated (a conditional
   *  request), never served as it is; one without validators is fetched
   *  anew.  The request goes out with `Cache-Control: max-age=0` unless it
   *  has a Cache-Control field. */
  HTTPRESP_CACHE_MODE_NO_CACHE,
  /** Any stored answer that matches the request (its Vary fields) is
   *  served, however stale; without one the request goes to the network
   *  and its answer is stored. */
  HTTPRESP_CACHE_MODE_FORCE_CACHE,
  /** As force-cache, but never the network: without a matching stored
   *  answer (or without a cache, or for a request the cache does not
   *  apply to) the request ends with HTTPRESP_E_NOT_CACHED. */
  HTTPRESP_CACHE_MODE_ONLY_IF_CACHED
} httpresp_cache_mode;
/** Chooses the request's cache mode (default HTTPRESP_CACHE_MODE_DEFAULT).
 *  The mode decides whether the cache is consulted and written; the
 *  request's own Cache-Control directives still apply within it.  Returns
 *  0, or HTTPRESP_E_INVALID_ARG for no request or a value outside the
 *  enum. */
HTTPRESP_EXTERN int httpresp_request_set_cache_mode(httpresp_request *req,
                                                    httpresp_cache_mode mode);

/** The caller's pointer for this request (default NULL), handed to the
 *  callbacks that run for it: httpresp_hop_userdata() in the hop callback,
 *  the `request_userdata` of the hints, wait and headers callbacks.  The
 *  copies the library makes of the request keep it.  Returns 0, or
 *  HTTPRESP_E_INVALID_ARG when `req` is NULL. */
HTTPRESP_EXTERN int httpresp_request_set_userdata(httpresp_request *req,
                                                  void *userdata);
/** The pointer set by httpresp_request_set_userdata() (NULL if none or if
 *  `req` is NULL). */
HTTPRESP_EXTERN void *httpresp_request_userdata(const httpresp_request *req);

/* ---------------------------------------------------------------------- */
/* Running a request                                                      */
/* ---------------------------------------------------------------------- */

/**
 * Run `req` over the caller's easy handle, following the client's policy.
 * Blocks, waits included (through the client's sleep function).
 *
 * `*out` receives a response object whenever one could be allocated, also
 * on failure: it holds the error message, the hop history and, where one
 * exists, the last response (a 3xx that could not be followed, a 429 that
 * was not repeated).  Returns the same code as httpresp_response_error():
 * 0 when a final response was received, whatever its status, else the
 * reason the request ended.  `*out` is NULL only when an argument is NULL
 * (HTTPRESP_E_INVALID_ARG) or the response object itself could not be
 * allocated (HTTPRESP_E_NOMEM).  A failed transfer is HTTPRESP_E_CURL, with
 * libcurl's code in httpresp_response_curl_code().
 * The handle may be reused afterwards; its connection pool is kept.
 */
HTTPRESP_EXTERN int httpresp_perform(httpresp_client *client, CURL *easy,
                                     const httpresp_request *req,
                                     httpresp_response **out);

/* ---------------------------------------------------------------------- */
/* Response                                                               */
/* ---------------------------------------------------------------------- */

/** What the policy did at one hop. */
typedef enum httpresp_decision {
  HTTPRESP_DECISION_DELIVER = 0, /**< final answer handed to the caller */
  HTTPRESP_DECISION_FOLLOW,      /**< redirect followed */
  HTTPRESP_DECISION_RETRY,       /**< repeated after a wait (429/503/413) */
  HTTPRESP_DECISION_REPEAT,      /**< repeated at once (417, 304 mismatch) */
  HTTPRESP_DECISION_CACHE_HIT,   /**< answered from the cache, no network */
  HTTPRESP_DECISION_REVALIDATED, /**< 304 turned into the stored answer */
  HTTPRESP_DECISION_STOP,        /**< ended with an error */
  HTTPRESP_DECISION_VETOED,      /**< redirect vetoed by the hop callback */
  HTTPRESP_DECISION_STALE /**< origin failed (network, 500/502/503/504):
                             the stored answer stands in, served stale */
} httpresp_decision;

/** What the cache did for the request. */
typedef enum httpresp_cache_status {
  HTTPRESP_CACHE_NONE = 0,    /**< no cache configured */
  HTTPRESP_CACHE_BYPASS,      /**< not applicable (method, caller conditionals) */
  HTTPRESP_CACHE_HIT,         /**< served fresh from the cache */
  HTTPRESP_CACHE_MISS,        /**< fetched, not stored */
  HTTPRESP_CACHE_STORED,      /**< fetched and stored */
  HTTPRESP_CACHE_REVALIDATED, /**< stored answer confirmed by a 304 */
  HTTPRESP_CACHE_UPDATED,     /**< stored answer replaced by a new 200 */
  HTTPRESP_CACHE_STALE, /**< stored answer served stale because the origin
                          failed; the cache reason says how ("origin-error:
                          503", "origin-unreachable"), or within a
                          stale-while-revalidate window ("revalidating") */
  HTTPRESP_CACHE_RESUMED /**< the stored first part of a body that was cut
                            short, completed by a 206 to Range + If-Range
                            and delivered as one 200 (and stored whole);
                            httpresp_response_resumed_from() says where the
                            new part began */
} httpresp_cache_status;

/** Why the retry logic stopped repeating. */
typedef enum httpresp_retry_stop {
  HTTPRESP_RETRY_NONE = 0,   /**< no repeat was called for */
  HTTPRESP_RETRY_SUCCEEDED,  /**< a repeat got a final answer */
  HTTPRESP_RETRY_EXHAUSTED,  /**< max retries reached */
  HTTPRESP_RETRY_WAIT_TOO_LONG, /**< asked delay above max wait */
  HTTPRESP_RETRY_DEADLINE,   /**< would pass the overall deadline */
  HTTPRESP_RETRY_NOT_REPLAYABLE /**< body cannot be sent again */
} httpresp_retry_stop;

/** Release a response (and its reference to a shared cache entry).  NULL is
 *  accepted. */
HTTPRESP_EXTERN void httpresp_response_free(httpresp_response *resp);
/** The code the request ended with (0 on success; HTTPRESP_E_INVALID_ARG
 *  if `resp` is NULL).  A reply libcurl
 *  itself refuses as malformed (a NUL in a header, no HTTP/1.x status
 *  line, e.g. HTTP/0.9) ends with HTTPRESP_E_BAD_RESPONSE, a header line
 *  beyond libcurl's 100 KiB with HTTPRESP_E_HEADERS_TOO_LARGE, like those
 *  the library refuses; httpresp_response_curl_code() still tells
 *  libcurl's code.  A response whose Content-Length is not a number or
 *  holds several different values ends with HTTPRESP_E_BAD_RESPONSE
 *  before any of its body is delivered or stored (RFC 9112 §6.3). */
HTTPRESP_EXTERN int httpresp_response_error(const httpresp_response *resp);
/** A one-line message on what went wrong, "" on success. */
HTTPRESP_EXTERN const char *httpresp_response_errmsg(
    const httpresp_response *resp);
/** The CURLcode of the last transfer (CURLE_OK if none failed). */
HTTPRESP_EXTERN CURLcode httpresp_response_curl_code(
    const httpresp_response *resp);
/** Final status code, 0 if no response was received. */
HTTPRESP_EXTERN int httpresp_response_status(const httpresp_response *resp);
/** URL of the final response ("" if none). */
HTTPRESP_EXTERN const char *httpresp_response_url(
    const httpresp_response *resp);
/** Number of header fields of the final response (1xx fields never count). */
HTTPRESP_EXTERN size_t httpresp_response_header_count(
    const httpresp_response *resp);
/** Field `i` in received order; `name` and `value` may be NULL.  Returns 0,
 *  or HTTPRESP_E_INVALID_ARG past the end.  An answer served from the cache
 *  has its stored fields with Age set to its current age. */
HTTPRESP_EXTERN int httpresp_response_header_at(const httpresp_response *resp,
                                                size_t i, const char **name,
                                                const char **value);
/** First value of header `name` (case-insensitive), or NULL. */
HTTPRESP_EXTERN const char *httpresp_response_header(
    const httpresp_response *resp, const char *name);
/** The collected body (NULL with length 0 when a sink was used or none). */
HTTPRESP_EXTERN const char *httpresp_response_body(
    const httpresp_response *resp, size_t *len);
/** Number of hops recorded: every response received or served, and a hop
 *  that ended in an error (decision STOP), except a transfer libcurl failed
 *  before any status line (resolve, connect, TLS), which leaves no record.
 *  0 if `resp` is NULL. */
HTTPRESP_EXTERN size_t httpresp_response_hop_count(
    const httpresp_response *resp);
/** Hop `i`: status (0 if no status line came), method and URL requested,
 *  and the decision taken.  Any out pointer may be NULL.  Returns 0, or
 *  HTTPRESP_E_INVALID_ARG past the end. */
HTTPRESP_EXTERN int httpresp_response_hop(const httpresp_response *resp,
                                          size_t i, int *status,
                                          const char **method,
                                          const char **url,
                                          httpresp_decision *decision);
/** Name of a decision ("follow"); "unknown" outside the enum. */
HTTPRESP_EXTERN const char *httpresp_decision_name(httpresp_decision d);
/** Attempts made at the last hop's request: 1 if it was not repeated, and
 *  1 for an answer served from the cache without the network; each 417
 *  repeat, 429/503/413 retry and 304-mismatch repeat adds one.  0 if
 *  `resp` is NULL. */
HTTPRESP_EXTERN unsigned httpresp_response_attempts(
    const httpresp_response *resp);
/** The last delay the server asked for, in ms: a parsed Retry-After, or
 *  the quiet time the origin still asked for when this request had to wait
 *  for it (or gave up: HTTPRESP_E_ORIGIN_BACKOFF); -1 if none. */
HTTPRESP_EXTERN int64_t httpresp_response_retry_after_ms(
    const httpresp_response *resp);
/** Why retrying stopped (HTTPRESP_RETRY_NONE if `resp` is NULL). */
HTTPRESP_EXTERN httpresp_retry_stop httpresp_response_retry_stop(
    const httpresp_response *resp);
/** Name of a retry stop reason ("exhausted"); "unknown" outside the enum. */
HTTPRESP_EXTERN const char *httpresp_retry_stop_name(httpresp_retry_stop s);
/** What the cache did (HTTPRESP_CACHE_NONE if `resp` is NULL). */
HTTPRESP_EXTERN httpresp_cache_status httpresp_response_cache_status(
    const httpresp_response *resp);
/** Names of the cache statuses ("hit"); "unknown" outside the enum. */
HTTPRESP_EXTERN const char *httpresp_cache_status_name(httpresp_cache_status s);
/** Where a resumed body's new part began: the number of stored bytes it was
 *  completed from (cache status HTTPRESP_CACHE_RESUMED), else -1.  A 200
 *  cut short by a transfer error is kept, when it has a strong validator
 *  (cache status HTTPRESP_CACHE_STORED, reason "incomplete"); the next
 *  request for the URL asks for the rest with Range and If-Range.  A 206
 *  that does not continue it exactly (Content-Range, length, validator),
 *  a 416, or a 200 to If-Range: the stored part is dropped and the caller
 *  gets the whole body fetched anew, never parts that disagree.  A sink
 *  receives the stored part first, then the rest.  A caller's own Range
 *  request goes out untouched; a single range is answered from a complete
 *  fresh stored 200 as a 206 (hit, reason "range"), and a 206 holding the
 *  start of a longer body ("bytes 0-L/T") is kept like a body cut short. */
HTTPRESP_EXTERN int64_t httpresp_response_resumed_from(
    const httpresp_response *resp);
/** A short reason for the cache status ("no-store"), "" if none.  When the
 *  store failed, "store-failed", followed by the system's error when the
 *  store gave one ("store-failed: No space left on device").  A cache
 *  whose store can neither write a newer answer nor remove the older one
 *  never serves that older one again (it remembers the key in memory). */
HTTPRESP_EXTERN const char *httpresp_response_cache_reason(
    const httpresp_response *resp);

/* ---------------------------------------------------------------------- */
/* Cache                                                                  */
/* ---------------------------------------------------------------------- */

/**
 * What the cache stores, and when (RFC 9111, as a private cache):
 *  - GET answers are stored; HEAD requests may be answered from a stored
 *    GET.  Any other method, and a request with a conditional
 *    (If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since,
 *    If-Range) or a Range field, bypasses the cache
 *    (HTTPRESP_CACHE_BYPASS), except that a single range is answered from
 *    a complete fresh stored 200 as a 206 of it (HTTPRESP_CACHE_HIT,
 *    reason "range").  An unsafe request (POST, PUT, DELETE, ...)
 *    answered with 2xx or 3xx removes what is stored for its URL and for
 *    its Location and Content-Location when those are on the same origin.
 *  - Request Cache-Control directives honoured: `no-store` (the answer is
 *    not stored and nothing stored is used), `no-cache` (and `Pragma:
 *    no-cache` without Cache-Control: a stored answer is revalidated, never
 *    served as it is), `max-age=N` (a stored answer older than N seconds is
 *    revalidated), `min-fresh=N` (it must stay fresh N more seconds),
 *    `max-stale[=N]` (a stale answer is served, within N seconds of
 *    staleness if given, unless the response said must-revalidate; ignored
 *    with min-fresh), `only-if-cached` (no network: a request that cannot
 *    be answered from the cache as it is ends with HTTPRESP_E_NOT_CACHED).
 *    `stale-if-error=N` (a stale answer stands in for an origin failure,
 *    httpresp_client_set_stale_if_error()).  Other request directives
 *    (no-transform, ...) are ignored.
 *  - Response directives: no-store, no-cache, max-age, must-revalidate,
 *    public, private (stored: this is a private cache), must-understand,
 *    stale-if-error; s-maxage is for shared caches and ignored;
 *    proxy-revalidate only forbids serving stale on error.
 *  - A 304 to the cache's conditional request serves the stored answer
 *    (HTTPRESP_CACHE_REVALIDATED) and updates its fields from the 304,
 *    unless the 304's ETag is strong and the stored one weak with the same
 *    opaque tag (nginx answers `W/"x"` so when it compresses): the stored
 *    answer is served as it was stored, and not updated (RFC 9111 §4.3.4;
 *    cache reason "not-updated").  A 304 whose validators match nothing
 *    stored is never served: the request is repeated without conditionals.
 *  - Vary (RFC 9111 §4.1): up to 8 variants of a URL are kept side by
 *    side, in every store, the least recently used going first when a
 *    ninth comes; a request is answered by the variant whose recorded
 *    request fields match its own.  Values are compared as lists (OWS
 *    around commas does not count); Accept, Accept-Charset,
 *    Accept-Encoding and Accept-Language are also compared regardless of
 *    member order and whitespace, and the last three regardless of case.
 *    `Vary: *` is never stored nor matched, nor is a Vary naming what is
 *    no field name (cache reason "vary-unmatchable").  A 304 refreshes
 *    the variant it validated; a new answer without Vary, or an unsafe
 *    method, removes every variant of the URL.  A version 1 store sees a variant
 *    as a key of its own (the URL's key followed by "#v" and 16 hex
 *    digits; "#i" for the index).
 *  - Partial content (RFC 9110 §14, RFC 9111 §3.3-3.4): a 200 cut short
 *    with a strong validator keeps the part received, and the next GET
 *    asks for the rest with Range + If-Range; a 206 that continues it
 *    exactly is delivered as one 200 (HTTPRESP_CACHE_RESUMED), anything
 *    else fetches the whole body again.  See
 *    httpresp_response_resumed_from().
 *  - Entries larger than 64 MiB (headers and body) are not stored.
 *  - The cache never makes a request fail: a store that cannot load an
 *    entry is a miss, one that cannot save it leaves the answer unstored
 *    (httpresp_response_cache_reason() says "store-failed").
 *    HTTPRESP_E_CACHE_IO is returned by httpresp_cache_new_disk() when the
 *    directory cannot be created or read.
 *
 * A store of opaque entries keyed by strings.  Users may plug in their own:
 * fill a httpresp_store_ops with `version` set to HTTPRESP_STORE_VERSION,
 * or a httpresp_store_ops_v2 (below) for variants, TTLs and update-only
 * writes.  The contract a store's functions follow:
 *  - Key: a NUL-terminated string the library makes.  For an anonymous GET
 *    it is the request URL as given to httpresp_request_new() (or a
 *    redirect target as resolved) without its fragment; a key that needs
 *    more (another method, an identity partition) is longer.  A store
 *    compares or hashes keys, it never needs to parse them.  Keys may be
 *    long and hold any byte but NUL; a store that needs names (files,
 *    Redis keys) must derive them.
 *  - Data: opaque bytes (the 64 MiB entry limit plus the key and a few
 *    bytes of framing at most), to be returned exactly as put.  The
 *    library treats what `get` returns as untrusted: it checks a checksum
 *    and that the entry is the key's, and deletes and ignores anything
 *    else, so a store may lose or damage entries without harm beyond a
 *    miss.
 *  - Miss vs error: `get` returns 0 on a hit, 1 on a miss, anything else on
 *    an error.  The library treats an error like a miss (the request goes
 *    to the network) and frees `*data` if it was set.
 *  - `put` returns 0 on success.  HTTPRESP_E_INVALID_ARG means "this entry
 *    can never fit": the library then calls `del` for the key, since the
 *    entry it held is superseded.  Any other non-zero is an error: the
 *    answer is delivered unstored, the library removes the older entry,
 *    and if that fails too it never serves the older entry again.
 *  - `del` returns 0 also when the key is absent.
 *  - Size budget: the store's own.  The library never asks how much a store
 *    holds; a store bounds itself by refusing (HTTPRESP_E_INVALID_ARG) or by
 *    evicting, as the bundled ones do.
 *  - Threads: every function must be safe to call from several threads at
 *    once, since one cache serves every request of every client and multi
 *    context it is set on.  Calls are made on the thread running the
 *    request, and may block it (keep them short: the multi driver makes
 *    them inside httpresp_multi_perform()).
 *  - `get`, `put` and `del` are required; `destroy` may be NULL.
 */
#define HTTPRESP_STORE_VERSION 1
typedef struct httpresp_store_ops {
  int version; /**< HTTPRESP_STORE_VERSION: checked before anything else */
  /** Fetch the entry for `key`: on a hit set `*data` (malloc'd, the library
   *  frees it with free()) and `*len` and return 0; return 1 on a miss,
   *  anything else on an error. */
  int (*get)(void *store, const char *key, void **data, size_t *len);
  /** Store `len` bytes under `key`, replacing any entry.  0 on success,
   *  HTTPRESP_E_INVALID_ARG if it can never fit, other non-zero on error. */
  int (*put)(void *store, const char *key, const void *data, size_t len);
  /** Remove `key`.  0 on success or when absent. */
  int (*del)(void *store, const char *key);
  /** Release the store (called by httpresp_cache_free()). */
  void (*destroy)(void *store);
} httpresp_store_ops;

/**
 * Version 2 of the store interface (httpresp_cache_new_custom_v2).  Its
 * first member is its version, so later versions can be told apart; a
 * store adds, per entry:
 *  - a variant id: a key may have several variants (responses chosen by
 *    the request fields their Vary names), so entries are kept per
 *    (key, variant).  Variant 0 is the key's response without Vary;
 *    responses with Vary are stored under an id digested from the request
 *    fields their Vary names, and variant UINT64_MAX holds the library's
 *    index of the key's variants (an entry like any other to the store).
 *    A store compares ids, it never interprets them;
 *  - a time to live in seconds (0: no limit): how long the entry is worth
 *    keeping; with HTTPRESP_STORE_TTL in `flags` the store may drop it once
 *    that has passed;
 *  - update-only writes: with HTTPRESP_STORE_UPDATE_ONLY in `flags`, a put
 *    whose `how` has HTTPRESP_STORE_UPDATE_ONLY writes only if an entry is
 *    still stored for (key, variant), atomically, and returns 1 when none
 *    is (a refresh must never bring back an entry evicted meanwhile).
 *    Without the flag the library reads before it writes, which another
 *    writer can race.
 */
#define HTTPRESP_STORE_VERSION_2 2
/** `flags` and `how`: what the store does itself. */
#define HTTPRESP_STORE_UPDATE_ONLY 0x1u
#define HTTPRESP_STORE_TTL 0x2u
typedef struct httpresp_store_ops_v2 {
  int version; /**< HTTPRESP_STORE_VERSION_2 */
  unsigned flags; /**< HTTPRESP_STORE_UPDATE_ONLY, HTTPRESP_STORE_TTL, or 0 */
  /** Fetch variant `variant` of `key`: on a hit set `*data` (malloc'd, the
   *  caller frees it) and `*len` and return 0; return 1 on a miss. */
  int (*get)(void *store, const char *key, uint64_t variant, void **data,
             size_t *len);
  /** Store `len` bytes as variant `variant` of `key`, replacing it, worth
   *  keeping for `ttl_sec` seconds (0: no limit).  `how` is 0 or
   *  HTTPRESP_STORE_UPDATE_ONLY (only when `flags` has it).  Returns 0
   *  when stored, 1 when an update-only write found nothing to update,
   *  anything else on failure. */
  int (*put)(void *store, const char *key, uint64_t variant, const void *data,
             size_t len, int64_t ttl_sec, unsigned how);
  /** Remove variant `variant` of `key`.  0 on success or when absent. */
  int (*del)(void *store, const char *key, uint64_t variant);
  /** Release the store (may be NULL). */
  void (*destroy)(void *store);
} httpresp_store_ops_v2;

/** A cache over an in-memory LRU store holding at most `max_bytes` (keys,
 *  entries and bookkeeping counted; 0 is HTTPRESP_E_INVALID_ARG); an entry
 *  larger than that is not stored.  Returns 0 and the cache in `*out`.  A
 *  response served from it shares the stored headers and body instead of
 *  copying them, and keeps them alive until httpresp_response_free(), also
 *  when the entry is evicted or replaced meanwhile: `max_bytes` bounds what
 *  the cache holds, not what live responses hold. */
HTTPRESP_EXTERN int httpresp_cache_new_memory(httpresp_cache **out,
                                              size_t max_bytes);
/** A cache over a directory (created if missing, mode 0700) holding at
 *  most `max_bytes`.  Any number of threads and processes may share it,
 *  and the bound is the directory's: its entry files and the temp files
 *  of writes under way never add up to more than `max_bytes`, however many
 *  processes write (the least recently used entries are evicted; an entry
 *  that cannot fit is not stored).  Reads take no lock.  A process killed
 *  while writing leaves at most a temp file, which counts toward the bound
 *  until a scan (when a cache is created on the directory, and when a
 *  write needs room) removes it, a few seconds after its writer died.  A
 *  damaged file reads as a miss and is removed.  The directory must be on
 *  a local filesystem (flock()).  Returns 0, HTTPRESP_E_INVALID_ARG (no
 *  directory, `max_bytes` 0), HTTPRESP_E_CACHE_IO (it cannot be created
 *  or read) or HTTPRESP_E_NOMEM. */
HTTPRESP_EXTERN int httpresp_cache_new_disk(httpresp_cache **out,
                                            const char *dir,
                                            size_t max_bytes);
/** A cache over a caller's store; `destroy` is called on free.  If this
 *  call fails, `destroy` is not called: the store is still the caller's.
 *  HTTPRESP_E_INVALID_ARG when `ops` is NULL, its version is not
 *  HTTPRESP_STORE_VERSION, or get, put or del is NULL. */
HTTPRESP_EXTERN int httpresp_cache_new_custom(httpresp_cache **out,
                                              const httpresp_store_ops *ops,
                                              void *store);
/** A cache over a caller's version 2 store (httpresp_store_ops_v2);
 *  `destroy` is called on free.  Returns 0, HTTPRESP_E_NOMEM, or
 *  HTTPRESP_E_INVALID_ARG for another version, a missing get, put or del,
 *  or unknown flags.  If this call fails, `destroy` is not called: the
 *  store is still the caller's. */
HTTPRESP_EXTERN int httpresp_cache_new_custom_v2(
    httpresp_cache **out, const httpresp_store_ops_v2 *ops, void *store);
/** Release a cache (no client may still use it); responses served from a
 *  memory cache stay valid.  NULL is accepted. */
HTTPRESP_EXTERN void httpresp_cache_free(httpresp_cache *cache);

/* ---------------------------------------------------------------------- */
/* Fleet mode: state shared through Redis                                 */
/* ---------------------------------------------------------------------- */

/** Per-origin memory (the quiet times servers ask for with Retry-After)
 *  that several clients, processes and machines share. */
typedef struct httpresp_origins httpresp_origins;

#define HTTPRESP_REDIS_OPTIONS_VERSION 1
/** How to use a Redis server.  Zero members take the defaults. */
typedef struct httpresp_redis_options {
  int version;                 /**< HTTPRESP_REDIS_OPTIONS_VERSION */
  const char *key_prefix;      /**< NULL: "hr:v1:" (copied) */
  uint32_t connect_timeout_ms; /**< 0: 100 */
  uint32_t command_timeout_ms; /**< 0: 200 */
  size_t max_entry;            /**< cache: largest entry stored; 0: 1 MiB */
  int64_t grace_sec;           /**< cache: kept beyond freshness when the
                                    entry has a validator; 0: 24 h, <0: none */
  uint32_t coalesce_ms;        /**< cache: on a miss, one worker of the
                                    fleet fetches while the others wait for
                                    its answer up to this long; 0: off */
} httpresp_redis_options;

/** Per-origin memory on the Redis server at `url`: "redis://host[:port][/db]"
 *  (port 6379 and db 0 by default) or "unix:///path/to/socket[?db=N]".
 *  Nothing is contacted here: each thread connects on first use.  Raising
 *  an origin's quiet time is one atomic maximum on the server's clock; a
 *  lookup is one PTTL.  The client also keeps its local memory, which it
 *  uses alone while Redis is unreachable or slow (set aside for a back-off
 *  of 1 s doubling to 30 s after an error or a timeout): no request fails
 *  or waits beyond the timeouts because of Redis.  `opts` may be NULL.
 *  Returns 0; HTTPRESP_E_INVALID_ARG for a NULL `out`, a URL of another
 *  form or options of another version; HTTPRESP_E_NOMEM; or
 *  HTTPRESP_E_UNSUPPORTED when the library was built without hiredis. */
HTTPRESP_EXTERN int httpresp_origins_new_redis(
    httpresp_origins **out, const char *url,
    const httpresp_redis_options *opts);
/** A cache shared through the Redis server at `url` (as for
 *  httpresp_origins_new_redis()).  Entries are stored in the disk store's
 *  encoding behind a format byte (an entry of another format is a miss and
 *  is left alone), under hash-tagged keys
 *  "<prefix>c:{P}:v:<V>" (one per variant, P a digest of the key) with an
 *  index hash "<prefix>c:{P}:i"; every key has a TTL: the entry's
 *  remaining freshness, plus its longest stale allowance, plus the grace
 *  when it has a validator, clamped to [1 s, 7 d]; an entry worth no time
 *  is not written.  A 304 refresh only rewrites an entry still there.
 *  Entries over `max_entry` are not stored.  With `coalesce_ms`, a miss
 *  takes the key's lock (SET NX PX with a random token, released by
 *  compare-and-delete once the answer is stored); a request finding it
 *  taken looks in the cache again every 25 ms, and goes to the network
 *  itself after `coalesce_ms` (the lock's life too, so a holder that died
 *  holds nobody up longer).  While Redis is unreachable or
 *  slow, lookups miss and stores fail quietly (the request itself never
 *  fails).  Returns 0; HTTPRESP_E_INVALID_ARG, HTTPRESP_E_NOMEM or
 *  HTTPRESP_E_UNSUPPORTED as httpresp_origins_new_redis(). */
HTTPRESP_EXTERN int httpresp_cache_new_redis(
    httpresp_cache **out, const char *url,
    const httpresp_redis_options *opts);
/** Release shared origin memory (no client may still use it).  NULL is
 *  accepted. */
HTTPRESP_EXTERN void httpresp_origins_free(httpresp_origins *o);
/** Make the client remember and look up origins' quiet times in `o`
 *  (NULL: the client's own memory, the default).  The client does not take
 *  ownership; `o` must outlive it and may serve several clients and
 *  threads.  Returns 0, or HTTPRESP_E_INVALID_ARG if `c` is NULL. */
HTTPRESP_EXTERN int httpresp_client_set_origins(httpresp_client *c,
                                                httpresp_origins *o);

/* ---------------------------------------------------------------------- */
/* Non-blocking driver over curl_multi                                    */
/* ---------------------------------------------------------------------- */

/** A set of running requests over the caller's CURLM handle.
 *
 *  Threads: one httpresp_multi (and its CURLM) per thread; the client and
 *  the cache behind it may be shared by several threads and contexts.
 *
 *  The caller keeps driving the CURLM handle, but through these calls:
 *  either httpresp_multi_perform() + httpresp_multi_poll() in a loop, or its
 *  own event library with CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION and
 *  httpresp_multi_socket_action(), using httpresp_multi_timeout() (not
 *  libcurl's timer alone) to know when to call with CURL_SOCKET_TIMEOUT,
 *  since a transfer waiting for Retry-After has no socket.  The caller must
 *  not call curl_multi_info_read() itself, so the CURLM handle must hold
 *  only easy handles added through httpresp_multi_add().  While a request
 *  runs the library owns CURLOPT_PRIVATE of its easy handle (reset to NULL
 *  when the request completes or the context is freed).  No call ever
 *  sleeps. */
typedef struct httpresp_multi httpresp_multi;

/** A context over `client` and the caller's `multi`, neither owned.
 *  Returns 0 and the context in `*out`. */
HTTPRESP_EXTERN int httpresp_multi_new(httpresp_multi **out,
                                       httpresp_client *client, CURLM *multi);
/** Release the context; running transfers are removed and discarded.
 *  Background revalidations still running are stopped, their handles
 *  cleaned up: each is deferred again, as if it had not started (the
 *  stored entry stays as it is; the next request in the window, in any
 *  context, or httpresp_client_revalidate() runs it). */
HTTPRESP_EXTERN void httpresp_multi_free(httpresp_multi *m);
/** Start `req` over `easy` (which must not be in any multi handle).
 *  `userp` is handed back on completion.  The request is copied.  Returns 0
 *  when the request was taken: from then on it completes through
 *  httpresp_multi_next_done(), also when it fails at once (its error is in
 *  the response).  HTTPRESP_E_INVALID_ARG or HTTPRESP_E_NOMEM otherwise,
 *  and then nothing was added. */
HTTPRESP_EXTERN int httpresp_multi_add(httpresp_multi *m, CURL *easy,
                                       const httpresp_request *req,
                                       void *userp);
/** curl_multi_perform() plus the policy work for finished transfers.
 *  `*running` (if not NULL) is set to the requests not yet complete,
 *  parked ones included, background revalidations not.  Returns an
 *  httpresp_code, not a CURLMcode: 0, or HTTPRESP_E_CURL when
 *  curl_multi_perform() failed (the policy work for transfers already
 *  finished is done all the same). */
HTTPRESP_EXTERN int httpresp_multi_perform(httpresp_multi *m, int *running);
/** curl_multi_poll() with the timeout shortened to the next wake-up of a
 *  parked transfer.  Returns 0, HTTPRESP_E_INVALID_ARG for a negative
 *  timeout, or HTTPRESP_E_CURL when curl_multi_poll() failed. */
HTTPRESP_EXTERN int httpresp_multi_poll(httpresp_multi *m, int timeout_ms);
/** curl_multi_socket_action() plus the policy work.  Call with
 *  CURL_SOCKET_TIMEOUT when the timeout of httpresp_multi_timeout() ends.
 *  Returns and sets `*running` as httpresp_multi_perform() does. */
HTTPRESP_EXTERN int httpresp_multi_socket_action(httpresp_multi *m,
                                                 curl_socket_t s, int events,
                                                 int *running);
/** Milliseconds until the caller must call back in (-1 = no timer).  The
 *  lesser of libcurl's timeout and the next parked wake-up.  Returns 0 and
 *  the time in `*ms`, or HTTPRESP_E_CURL when curl_multi_timeout() failed. */
HTTPRESP_EXTERN int httpresp_multi_timeout(httpresp_multi *m, long *ms);
/** Transfers not yet handed back (running, parked or done); 0 if `m` is
 *  NULL.  Background revalidations are not counted. */
HTTPRESP_EXTERN size_t httpresp_multi_pending(const httpresp_multi *m);
/** Background revalidations of this context (stale-while-revalidate with
 *  HTTPRESP_SWR_DEFER, RFC 5861 §3).  A request answered stale from an
 *  entry whose revalidation no one runs yet starts it at once, on
 *  curl_easy_duphandle() of the request's handle (the options the caller
 *  set on it, none of the library's), in the same CURLM: a conditional
 *  request whose 304 refreshes the entry and whose new answer replaces it;
 *  a failure leaves it as it is.  It progresses while the caller drives
 *  the context, is never counted in `*running` or
 *  httpresp_multi_pending(), never handed back by
 *  httpresp_multi_next_done(), and runs neither the final-headers nor the
 *  early-hints callback (the hop and wait callbacks get NULL userdata).
 *  Sets `*running` to those in flight, `*done` to those ended since the
 *  context was made, whatever came of them (either may be NULL; 0 without
 *  a context).  Returns 0, or HTTPRESP_E_INVALID_ARG if `m` is NULL. */
HTTPRESP_EXTERN int httpresp_multi_revalidations(const httpresp_multi *m,
                                                 size_t *running, size_t *done);
/** Take the next completed request: returns 1 and fills the out parameters,
 *  or 0 when none is complete.  The response is the caller's to free; the
 *  easy handle is out of the multi handle and may be reused. */
HTTPRESP_EXTERN int httpresp_multi_next_done(httpresp_multi *m,
                                             httpresp_response **resp,
                                             CURL **easy, void **userp);

#ifdef __cplusplus
}
#endif

#endif /* HTTPRESP_HTTPRESP_H */
