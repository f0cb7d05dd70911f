/* SPDX-License-Identifier: MIT */
/* One request's journey through hops and attempts: the state machine both
 * drivers share, a dispatcher over hr_xfer_state.  It applies the policy
 * core's decisions; xfer_curl.c turns them into easy handle options; the
 * drivers only run transfers and wait. */
#ifndef HR_XFER_H
#define HR_XFER_H

#include <stddef.h>

#include <curl/curl.h>

#include "cache/cache.h"
#include "objects.h"
#include "policy.h"

typedef enum hr_step {
  HR_STEP_PERFORM, /* the easy handle is armed: run it */
  HR_STEP_WAIT,    /* nothing to send before wake_ms */
  HR_STEP_DONE     /* the response is complete */
} hr_step;

/* Where a request stands; hr_xfer's dispatcher switches on it. */
typedef enum hr_xfer_state {
  HR_XS_ARM,      /* the next hop: deadline, cache, quiet time, options */
  HR_XS_RUN,      /* the handle is armed: the driver runs it */
  HR_XS_WAIT,     /* nothing to send before wake_ms, then HR_XS_ARM */
  HR_XS_HOP_DONE, /* a hop's response is complete (from the network or the
                     cache): apply the decision taken at its headers */
  HR_XS_DONE      /* the response is complete */
} hr_xfer_state;

/* Where the receiving of a hop's response stands. */
typedef enum hr_rx {
  HR_RX_STATUS,    /* a status line starts the next response: the first,
                      or one after a 1xx block */
  HR_RX_FIELDS,    /* inside a header block */
  HR_RX_FINAL,     /* the final header block ended: body, then trailers */
  HR_RX_FINAL_AUTH /* as FINAL, for a 401/407 that libcurl may answer
                      itself: a status line may still start another */
} hr_rx;

/* What the cache does for the current hop. */
typedef enum hr_hop_cache {
  HR_HC_OFF,        /* no cache, or the request is not one it applies to */
  HR_HC_NETWORK,    /* asked the network; the answer may be stored */
  HR_HC_BYPASS,     /* the unconditional repeat after a 304 that selected
                       nothing: its answer is stored, nothing consulted */
  HR_HC_REVALIDATE, /* our conditionals went out with this hop */
  HR_HC_SERVED,     /* this hop was answered from the cache */
  HR_HC_RESUME      /* this hop asks for the rest of an incomplete stored
                       body (Range + If-Range) */
} hr_hop_cache;

/* What the library set on the easy handle (xfer_curl.c), so that exactly
 * that is undone. */
#define HR_ARMED_HOOKS 1u    /* callbacks, error buffer, header list */
#define HR_ARMED_BODY 2u     /* method/body options differ from a GET */
#define HR_ARMED_CREDS 4u    /* credentials set or cleared */
#define HR_ARMED_PROGRESS 8u /* the deadline's progress callback */
#define HR_ARMED_GET 16u     /* HTTPGET set, CUSTOMREQUEST cleared */
#define HR_ARMED_LIST 32u    /* a header list of ours is set */

typedef struct hr_xfer {
  /* Its settings are read here, in place, when they are used (no copy):
   * with the overrides of `orig` (hr_policy_effective, hr_xfer_deadline),
   * what every rule of this request reads. */
  httpresp_client *client;
  CURL *easy;
  /* The caller's request: borrowed by the blocking driver (it outlives the
   * call), a copy owned in orig_own for the multi driver. */
  const httpresp_request *orig;
  httpresp_request *orig_own;
  /* The request of this hop: orig itself until something changes it (a
   * redirect, a repeat); then an owned copy in cur_own. */
  const httpresp_request *cur;
  httpresp_request *cur_own;
  httpresp_response *resp;
  int64_t start_ms;
  int64_t wake_ms;
  /* The caller's wait callback shortened the wait just made: the next hop
   * goes out without waiting again for the origin's quiet time. */
  int quiet_waived;
  unsigned attempts;
  hr_xfer_state state;

  /* receive state of the running transfer */
  hr_rx rx;
  int status;
  int bad_location; /* a Location field we could not read */
  int set_cookie;   /* the response has Set-Cookie */
  size_t folds;     /* obs-fold continuation lines, counted as fields */
  size_t fold_index, fold_len, fold_cap;
  hr_headers hdrs;
  hr_framing framing; /* hdrs' framing fields, read as they arrive */
  int framing_folded; /* a framing field was folded: check hdrs whole */
  unsigned interim;
  size_t header_bytes;
  int abort_code;
  /* Its message: static text (hr_xfer_abort keeps the pointer), or NULL
   * for "Content-Length abort_length exceeds the body limit", which only
   * the failure formats. */
  const char *abort_msg;
  int64_t abort_length;
  int deliver_body;
  int stale_stands_in; /* the origin failed: the stored entry will answer */
  int resuming;        /* a 206 completes the stored part: the answer is
                          that part and this body, as one 200 */
  uint64_t resume_rest; /* bytes the 206 must bring */
  uint64_t body_got;    /* body bytes of this hop taken for the caller */
  size_t discarded;
  int discard_abort;

  /* send state */
  struct curl_slist *slist;
  int stream_used;
  curl_mime *mime_bound; /* the caller's mime set on the handle, or NULL */
  int cross_origin;
  unsigned armed; /* HR_ARMED_* */

  /* cache state of the current hop */
  hr_hop_cache hc;
  /* This is a background revalidation (the multi driver's): nobody
   * receives its answer, and the final-headers and early-hints callbacks
   * are not run for it. */
  int background;
  hr_stored *stored;         /* stored response served or revalidated */
  int cache_absent; /* this hop's lookup found nothing stored for its key */
  int64_t request_ms;
  int64_t response_ms;
  hr_buf sink_copy;          /* body kept for the cache when a sink is used */
  int sink_copy_full;
  hr_claim claim;            /* a coalescing lock held, or waited for */
  /* stale-while-revalidate: the id of the entry this request was answered
   * stale from, its revalidation deferred (malloc'd, or NULL); the multi
   * driver runs that revalidation in the background. */
  char *swr_id;

  /* Large members last: hr_xfer_init zeroes what comes before them
   * (HR_XFER_HEAD) and initialises these itself. */
  hr_history hist;
  hr_decision dec;
  char errbuf[CURL_ERROR_SIZE];
} hr_xfer;

#define HR_XFER_HEAD offsetof(hr_xfer, hist)

/* The request's deadline in ms from its start: its own, else its client's
 * (0: none). */
static inline int64_t hr_xfer_deadline(const hr_xfer *x) {
  return hr_policy_deadline(&x->client->policy, x->orig);
}

/* Prepares `x` for `req` over `easy`.  With `copy` the request is copied
 * (the caller may free it at once); without, it must outlive `x`. */
int hr_xfer_init(hr_xfer *x, httpresp_client *c, CURL *easy,
                 const httpresp_request *req, int copy);
/* Releases everything `x` still owns, the response included. */
void hr_xfer_cleanup(hr_xfer *x);
/* First step: cache lookup, origin quiet time, then arming. */
hr_step hr_xfer_begin(hr_xfer *x);
/* The transfer the handle ran ended with `rc`: apply the decision. */
hr_step hr_xfer_complete(hr_xfer *x, CURLcode rc);
/* The wait is over: arm the handle again. */
hr_step hr_xfer_resume(hr_xfer *x);
/* Takes the finished response and resets the options the library owns on
 * the easy handle. */
httpresp_response *hr_xfer_take_response(hr_xfer *x);

/* ---- shared with xfer_curl.c -------------------------------------------- */

/* Records the first error of the transfer (the callbacks' way to stop).
 * `msg` is kept as a pointer, not copied: static text, or text that lives
 * as long as the transfer. */
void hr_xfer_abort(hr_xfer *x, int code, const char *msg);
/* libcurl's header and body callbacks (CURLOPT_HEADERFUNCTION,
 * CURLOPT_WRITEFUNCTION), `ud` the hr_xfer. */
size_t hr_xfer_header_cb(char *buf, size_t size, size_t n, void *ud);
size_t hr_xfer_write_cb(char *data, size_t size, size_t n, void *ud);
/* Sets the options of the current hop on the handle (header list, method
 * and body, URL, callbacks, credentials, deadline).  Returns 0, or an
 * error code (an abort recorded with its message, or HTTPRESP_E_NOMEM /
 * HTTPRESP_E_CURL). */
int hr_xfer_arm_handle(hr_xfer *x);
/* Undoes what the hops set (x->armed), so that no option points into
 * memory of ours. */
void hr_xfer_reset_handle(hr_xfer *x);

#endif
