/* SPDX-License-Identifier: MIT */
/* The pure policy core: given the request as it stands, the response status
 * and headers and the history, decide what happens next.  No curl calls, no
 * clock reads, no I/O: time and randomness are inputs. */
#ifndef HR_POLICY_H
#define HR_POLICY_H

#include <stdint.h>

#include "cache/rules.h"
#include "headers.h"
#include "objects.h"

/* One (method, URL) visited in a redirect chain.  `cookie_epoch` is the
 * number of Set-Cookie responses seen before the visit. */
typedef struct hr_visit {
  char *method; /* method and URL side by side, in `text` or allocated */
  char *url;    /* without fragment */
  unsigned cookie_epoch;
  int own;      /* the strings are an allocation of their own */
} hr_visit;

/* The first visits of a chain (most chains) and their strings share one
 * block, allocated at the first visit: most requests take no redirect and
 * never record one.  Not to be copied by value. */
#define HR_HISTORY_INLINE 4
#define HR_HISTORY_TEXT 256

typedef struct hr_history_room {
  hr_visit v[HR_HISTORY_INLINE];
  char text[HR_HISTORY_TEXT];
} hr_history_room;

typedef struct hr_history {
  hr_visit *v; /* room->v until more are needed; NULL before any visit */
  size_t n;
  size_t cap;
  hr_history_room *room; /* NULL before the first visit */
  size_t text_used;
  unsigned redirects;    /* redirects followed so far */
  unsigned retries;      /* repeats of the current hop after 429/503/413 */
  unsigned cookie_epoch; /* responses with Set-Cookie so far */
  int expect_repeated;   /* the 417 repeat has been used */
} hr_history;

void hr_history_init(hr_history *h);
void hr_history_free(hr_history *h);
/* Records a visit of (method, url) at the current cookie epoch. */
int hr_history_visit(hr_history *h, const char *method, const char *url);
/* The same for a URL known to be in normal form already. */
int hr_history_visit_normal(hr_history *h, const char *method, const char *url);

typedef struct hr_policy_input {
  const hr_policy *policy;
  const httpresp_request *orig; /* as the caller gave it */
  const httpresp_request *cur;  /* the request of this hop */
  const hr_history *history;
  int status;
  const hr_headers *resp;
  int64_t now_ms;
  int64_t start_ms;  /* when the caller's request started */
  int64_t random_ms; /* uniform in [0, backoff bound], for jitter */
  /* The stored entry this hop revalidates (our conditionals were sent),
   * or NULL. */
  const hr_cache_entry *revalidating;
  /* The response had a Location field that could not be read (control
   * bytes): a redirect status then stops with HTTPRESP_E_BAD_LOCATION. */
  int location_malformed;
} hr_policy_input;

typedef enum hr_next {
  HR_NEXT_DELIVER = 0, /* hand the response to the caller */
  HR_NEXT_FOLLOW,      /* send `next` (a redirect) */
  HR_NEXT_RETRY,       /* send the same request again after wait_ms */
  HR_NEXT_REPEAT,      /* send `next` at once (417 without Expect) */
  HR_NEXT_STOP         /* end with `error`; the response stays available */
} hr_next;

typedef struct hr_decision {
  hr_next next;
  int error;          /* httpresp_code for HR_NEXT_STOP */
  httpresp_request *next_req; /* FOLLOW / REPEAT: owned by the decision */
  int64_t wait_ms;    /* RETRY */
  int64_t retry_after_ms;    /* parsed delay, -1 if none */
  httpresp_retry_stop retry_stop; /* SUCCEEDED when a repeated hop ends */
  int64_t quiet_until_ms;    /* origin asked for quiet until then, 0 if not */
  int cross_origin;          /* FOLLOW: next_req's origin differs from orig's */
  int suppress_expect;       /* send the repeat without Expect */
  int revalidated; /* DELIVER the stored entry a 304 answered: an hr_304_sel,
                     UPDATE or SERVE (then the entry is not updated) */
  int skip_cache;            /* REPEAT without consulting the cache */
  int target_normal;         /* FOLLOW: next_req's URL is in the normal form the
                                history keeps (hr_history_visit_normal takes it) */
  /* Why, for STOP only (the error message; built only then, as most
   * decisions are not STOP): static text or msg_own.  "" otherwise. */
  const char *msg;
  char *msg_own;
} hr_decision;

void hr_decision_init(hr_decision *d);
void hr_decision_free(hr_decision *d);
/* Makes `d` a STOP with `code` and the message `fmt` formats (kept as it
 * is, not copied, when it has no conversion). */
void hr_decision_stop(hr_decision *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The deadline `req` runs under, in ms from its start (0: none): its own,
 * else its client's `client`.  hr_policy_effective's rule, for a driver
 * that reads the client's settings in place. */
static inline int64_t hr_policy_deadline(const hr_policy *client,
                                         const httpresp_request *req) {
  return req->deadline_ms >= 0 ? req->deadline_ms : client->deadline_ms;
}

/* The settings a request runs under: the client's `client`, with the
 * overrides `req` carries (its deadline, redirect limit, retry count and
 * maximum wait; -1 keeps the client's).  `out` shares the client's
 * strings (schemes, keep list): it lives no longer than the client. */
void hr_policy_effective(const hr_policy *client, const httpresp_request *req,
                         hr_policy *out);

/* The whole decision for one final (non-1xx) response. */
int hr_policy_decide(const hr_policy_input *in, hr_decision *d);

/* The redirect rules alone (RFC 9110 §15.4, Fetch).  Sets d->next to
 * FOLLOW, STOP or DELIVER (not a followed status, no Location, ...). */
int hr_redirect_decide(const hr_policy_input *in, hr_decision *d);
/* Sensitive fields (Authorization, Proxy-Authorization, Cookie, less the
 * keep list) travel only to the origin the caller addressed: `next` loses
 * its own and, at that origin, gets `orig`'s back; *cross_origin says
 * whether next goes elsewhere.  0 or HTTPRESP_E_NOMEM. */
int hr_redirect_origin_rules(const hr_policy *p, const httpresp_request *orig,
                             httpresp_request *next, int *cross_origin);
/* The Retry-After rules alone (RFC 9110 §10.2.3).  Sets RETRY or DELIVER
 * and fills the retry fields. */
int hr_retry_decide(const hr_policy_input *in, hr_decision *d);

/* The key a quiet time for `url` is remembered under, by `scope`
 * (httpresp_quiet_scope): the origin's key ("scheme://host:port"), or for
 * HTTPRESP_QUIET_URL "url " and the URL's normal form without its fragment
 * (the space keeps the two apart: no origin key has one); *out NULL for
 * HTTPRESP_QUIET_OFF.  Returns 0, HTTPRESP_E_BAD_URL or HTTPRESP_E_NOMEM. */
int hr_quiet_key(int scope, const char *url, char **out);

/* Before a request goes to an origin that asked for quiet until
 * `not_before_ms` (RFC 9110 §10.2.3 applied to the whole client): go on
 * (HR_NEXT_DELIVER here means "send now"), HR_NEXT_RETRY with d->wait_ms,
 * or HR_NEXT_STOP with HTTPRESP_E_ORIGIN_BACKOFF when the wait is above the
 * maximum, HTTPRESP_E_DEADLINE when it ends after the deadline.
 * d->retry_after_ms gets the time left. */
void hr_quiet_decide(const hr_policy *p, int64_t not_before_ms, int64_t now_ms,
                     int64_t start_ms, hr_decision *d);

/* The wait a caller's wait callback grants for a planned wait of
 * `planned` ms, given its answer `asked`: -1 to abort (a negative
 * answer), else `asked` within [0, planned] (a callback may shorten a
 * wait, never lengthen it past the limits the wait was checked
 * against). */
int64_t hr_policy_wait_granted(int64_t planned, int64_t asked);

/* A 1xx flood is an attack or a broken server, not a conversation. */
#define HR_MAX_INTERIM 100

/* What an interim (1xx) response does (RFC 9110 §15.2). */
typedef enum hr_interim {
  HR_INTERIM_ABSORB = 0, /* absorbed: wait for the next response */
  HR_INTERIM_HINTS,      /* 103 Early Hints: absorbed, and shown to the
                            caller's callback first */
  HR_INTERIM_STOP        /* the transfer fails with *error, *msg */
} hr_interim;

/* The rules for the `count`th (from 1) interim response `status` of a hop:
 * more than HR_MAX_INTERIM fail (HTTPRESP_E_TOO_MANY_INTERIM); 101 to a
 * request that asked for no upgrade fails (HTTPRESP_E_UNEXPECTED_UPGRADE,
 * §15.2.2); 103 is hints; any other 1xx (100, 102, unknown ones: §15.2) is
 * absorbed.  `*msg` gets a static message on STOP. */
hr_interim hr_interim_decide(int status, unsigned count, int *error,
                             const char **msg);
/* How a hop that libcurl ended with `cc` is reported: libcurl refuses some
 * replies itself before the library sees them, and its code then names a
 * transport failure ("Out of memory", "unsupported protocol") where the
 * cause is the server's reply.  `request_sent`: the request went out (so a
 * reply is what failed); `status_seen`: a status line was read;
 * `headers_done`: the final header block ended; `curl_msg`: libcurl's
 * message.  Returns HTTPRESP_E_BAD_RESPONSE (a reply libcurl calls weird,
 * or one that is not HTTP/1.x at all, e.g. HTTP/0.9),
 * HTTPRESP_E_HEADERS_TOO_LARGE (a header line beyond libcurl's limit) or
 * HTTPRESP_E_CURL, with the message written into `msg`. */
int hr_policy_curl_failure(CURLcode cc, int request_sent, int status_seen,
                           int headers_done, const char *curl_msg, char *msg,
                           size_t msglen);

/* Whether request header `name` is removed when a redirect changes origin
 * under `p` (Authorization, Proxy-Authorization, Cookie unless kept). */
int hr_policy_header_is_sensitive(const hr_policy *p, const char *name);
/* The Retry-After delay of a response in ms, or -1 if absent or invalid
 * (several fields that disagree count as invalid). */
int64_t hr_policy_retry_after(const hr_headers *resp, int64_t now_ms);

#endif
