/* One request's journey through hops and attempts: the state machine both
 * drivers share.  It applies the policy core's decisions to a curl easy
 * handle; the drivers only run transfers and wait. */
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
  HR_STEP_DONE,    /* the response is complete */
  HR_STEP_CACHED   /* internal: this hop was answered from the cache */
} hr_step;

typedef struct hr_xfer {
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
  unsigned attempts;

  /* receive state of the running transfer */
  int status;
  int await_status; /* the next line may start a response */
  int final_seen;
  int bad_location; /* a Location field we could not read */
  int set_cookie;   /* the response has Set-Cookie */
  size_t folds;     /* obs-fold continuation lines, counted as fields */
  size_t fold_index, fold_len, fold_cap;
  hr_headers hdrs;
  unsigned interim;
  size_t header_bytes;
  int abort_code;
  int deliver_body;
  size_t discarded;
  int discard_abort;

  /* send state */
  struct curl_slist *slist;
  int stream_used;
  int cross_origin;
  int set_creds;
  int set_progress;
  int set_hooks;    /* callbacks, error buffer, header list are ours */
  int set_body;     /* method/body options differ from a plain GET */

  /* cache state of the current hop */
  httpresp_cache *cache;     /* the client's cache, if the request uses it */
  hr_stored *stored;         /* stored response served or revalidated */
  int revalidating;          /* our conditionals went out with this hop */
  int from_cache;            /* this hop's response came from the cache */
  int skip_cache;            /* the next hop bypasses the cache */
  int64_t request_ms;
  int64_t response_ms;
  hr_buf sink_copy;          /* body kept for the cache when a sink is used */
  int sink_copy_full;

  /* Large members last: hr_xfer_init zeroes what comes before them
   * (HR_XFER_HEAD) and initialises these itself. */
  hr_history hist;
  hr_decision dec;
  char abort_msg[200];
  char errbuf[CURL_ERROR_SIZE];
} hr_xfer;

#define HR_XFER_HEAD offsetof(hr_xfer, hist)

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

#endif
