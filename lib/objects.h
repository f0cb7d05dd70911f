/* SPDX-License-Identifier: MIT */
/* The layouts of the public opaque objects, shared by the modules that
 * build them: request and response (pure data) and the client settings. */
#ifndef HR_OBJECTS_H
#define HR_OBJECTS_H

#include <pthread.h>
#include <stdatomic.h>

#include "common.h"
#include "headers.h"

typedef enum hr_body_kind {
  HR_BODY_NONE = 0,
  HR_BODY_MEMORY,
  HR_BODY_STREAM,
  HR_BODY_MIME /* the caller's curl_mime, libcurl rewinds it itself */
} hr_body_kind;

struct httpresp_request {
  char *method; /* in `text` unless own_method */
  char *url;    /* in `text` unless own_url */
  hr_headers headers;
  hr_body_kind body_kind;
  char *body;      /* HR_BODY_MEMORY */
  size_t body_len; /* HR_BODY_MEMORY */
  httpresp_read_fn read;
  httpresp_rewind_fn rewind;
  int64_t stream_len; /* -1 unknown */
  curl_mime *mime;     /* HR_BODY_MIME: the caller's, not owned */
  void *stream_ud;
  httpresp_write_fn sink;
  void *sink_ud;
  char *user;
  char *password;
  unsigned long auth;
  char *cache_partition; /* the caller's name for the identity, or NULL */
  /* Overrides of the client's policy, -1 for "the client's"
   * (hr_policy_effective reads them). */
  int64_t deadline_ms;
  int64_t max_wait_ms;
  long max_redirects;
  long max_retries;
  httpresp_cache_mode cache_mode;
  void *userdata; /* handed to the callbacks run for this request */
  unsigned char own_method; /* `method` is an allocation of its own */
  unsigned char own_url;    /* likewise `url` */
  /* A deferred revalidation (httpresp_client_revalidate): it goes to the
   * origin, never answered stale-while-revalidate. */
  unsigned char cache_refresh;
  /* The method and URL given when the request was made, side by side in
   * the request's own allocation ("GET\0http://...\0"). */
  char text[];
};

/* Deep copy (the streamed body's callbacks are shared, not copied). */
int hr_request_copy(httpresp_request **out, const httpresp_request *src);
/* The same with another method and URL; `url` (malloc'd) is taken, also
 * on failure. */
int hr_request_derive(httpresp_request **out, const httpresp_request *src,
                      const char *method, char *url);
/* Whether the body can be sent again from its start. */
int hr_request_body_replayable(const httpresp_request *r);
/* Drops the body and the fields that describe it (RFC 9110 §15.4, the
 * content-specific fields, and Expect: §10.1.1). */
void hr_request_drop_body(httpresp_request *r);

typedef struct hr_hop {
  int status;
  int owned;    /* method is an allocation of its own */
  char *method; /* "method\0url\0" in the response's room, or allocated */
  char *url;
  httpresp_decision decision;
} hr_hop;

struct hr_stored;

struct httpresp_response {
  int error;
  char *errmsg;
  CURLcode curl_code;
  int status;
  const char *url; /* the last hop's URL string, or url_own */
  char *url_own;
  hr_headers headers; /* unless shared_headers */
  hr_buf body;        /* unless shared_body */
  /* An answer served from a memory cache is the stored entry itself (a
   * reference), not a copy: its fields with Age set to `age`, its body. */
  struct hr_stored *shared;
  int shared_headers;
  int shared_body;
  char age[24]; /* HR_CACHE_AGE_TEXT */
  hr_hop *hops; /* hop0 until there are more */
  size_t nhops;
  size_t hops_cap;
  hr_hop hop0[2];
  size_t room_used;
  unsigned attempts;
  int64_t retry_after_ms;
  httpresp_retry_stop retry_stop;
  httpresp_cache_status cache_status;
  const char *cache_reason; /* static string, or cache_reason_own */
  char *cache_reason_own;    /* a reason with its system error (rare) */
  int64_t resumed_from;      /* stored bytes a resumed body began with, or -1 */
  /* The hops' strings while they fit (HR_RESPONSE_ROOM bytes, allocated
   * at the first hop that does not fit `first`), so that most chains
   * allocate once for them. */
  char *room;
  /* Room for the first hop's strings in the response's own allocation,
   * sized by hr_response_new (0 once a hop took it): a request without a
   * redirect allocates nothing for them. */
  size_t first_cap;
  char first[];
};

#define HR_RESPONSE_ROOM 256

/* A response with room for `first` bytes of hop strings in its own
 * allocation (the first hop's method and URL with their NULs). */
int hr_response_new(httpresp_response **out, size_t first);
/* Records a hop; returns 0 or HTTPRESP_E_NOMEM. */
int hr_response_add_hop(httpresp_response *r, int status, const char *method,
                        const char *url, httpresp_decision d);
/* Sets the cache reason to the text `fmt` formats (up to 127 bytes, kept
 * in an allocation of the response's); out of memory the reason set
 * before stays. */
void hr_response_set_cache_reason(httpresp_response *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sets the final URL (shared with the last hop's record when equal). */
int hr_response_set_url(httpresp_response *r, const char *url);
/* Makes the frozen entry `s` the answer's fields, as served at `now_ms`
 * (RFC 9111 §5.1: Age set).  Takes a reference.  Returns 0 or
 * HTTPRESP_E_NOMEM. */
int hr_response_share(httpresp_response *r, struct hr_stored *s,
                      int64_t now_ms);
/* The shared entry's body becomes the answer's body too (an empty one
 * stays "no body"). */
void hr_response_share_body(httpresp_response *r);
/* Drops a shared entry: headers and body are the response's own again. */
void hr_response_unshare(httpresp_response *r);

/* Sets error and message (printf-style); keeps the first message given
 * unless `code` differs from the recorded one. */
void hr_response_fail(httpresp_response *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Settings the pure policy core reads.  Plain data, no callbacks. */
typedef struct hr_policy {
  int follow;
  unsigned max_redirects;
  int keep_post;
  int follow_300;
  int refuse_downgrade;
  char *schemes;       /* comma-separated */
  char **keep_headers; /* kept across origins */
  size_t nkeep;
  unsigned max_retries;
  int64_t max_wait_ms;
  int64_t deadline_ms;
  int64_t backoff_base_ms;
  int64_t backoff_cap_ms;
  int64_t max_quiet_ms; /* longest quiet time remembered for an origin */
  int quiet_scope;      /* httpresp_quiet_scope */
  size_t max_body;
  size_t max_header_bytes;
  size_t max_header_fields;
} hr_policy;

struct hr_origins;

/* A revalidation deferred by stale-while-revalidate. */
struct hr_swr_pending {
  char *id;              /* the stored entry's key and variant */
  httpresp_request *req; /* a copy of the first request answered stale */
  int running;           /* being run (revalidate() or a multi context) */
};

struct httpresp_client {
  hr_policy policy;
  httpresp_now_fn now;
  httpresp_sleep_fn sleep;
  void *clock_ud;
  httpresp_hop_fn hop_fn;
  void *hop_ud;
  httpresp_wait_fn wait_fn;
  void *wait_ud;
  httpresp_headers_fn headers_fn;
  void *headers_ud;
  httpresp_early_hints_fn hints_fn;
  httpresp_early_hints2_fn hints2_fn; /* at most one of the two is set */
  void *hints_ud;
  httpresp_cache *cache;
  /* The handles may carry credentials or cookies set on them directly,
   * which the library cannot see: requests without a cache partition of
   * their own take no part in the cache. */
  int handle_identity;
  int64_t stale_if_error_sec; /* the caller's allowance, 0: none */
  /* stale-while-revalidate (HTTPRESP_SWR_*), and the revalidations
   * deferred to httpresp_client_revalidate(), one per stored entry. */
  int swr_mode;
  pthread_mutex_t swr_lock;
  struct hr_swr_pending *swr;
  size_t nswr;
  /* Per-origin state (quiet times), shared by every request of a client. */
  struct hr_origins *origins;
  struct hr_origins *local_origins; /* its own, used when none is set */
  _Atomic uint64_t rng; /* jitter state */
};

/* Most revalidations deferred at once; past it, requests revalidate at
 * once as without stale-while-revalidate. */
#define HR_SWR_PENDING_MAX 256
/* Defers the revalidation of the stored entry named `id` for `req` (copied)
 * unless one is pending or running: 0 when the request may be answered
 * stale (one is pending now), else an error code (full: go to the origin). */
int hr_client_swr_defer(httpresp_client *c, const char *id,
                        const httpresp_request *req);
/* Takes the deferred revalidation named `id` (NULL: any) that nobody
 * runs: marks it running and returns its request, which stays the list's
 * until hr_client_swr_end, and sets `*idp` to the list's copy of its id.
 * NULL when there is none (or it runs already). */
httpresp_request *hr_client_swr_take(httpresp_client *c, const char *id,
                                     const char **idp);
/* The revalidation taken as `id` (the pointer hr_client_swr_take gave)
 * ended: with `drop` it leaves the list, else it is pending again, for
 * whoever takes it next. */
void hr_client_swr_end(httpresp_client *c, const char *id, int drop);

int64_t hr_client_now(const httpresp_client *c);
/* A uniformly random value in [0, max], for backoff jitter. */
int64_t hr_client_random(httpresp_client *c, int64_t max);

#endif
