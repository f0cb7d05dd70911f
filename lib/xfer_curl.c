/* SPDX-License-Identifier: MIT */
/* The libcurl option plumbing of a transfer: what each hop sets on the
 * caller's easy handle (header list, method and body, URL, our callbacks,
 * credentials, the deadline's progress callback), and the reset that
 * leaves the handle as the caller gave it.  Every option set is recorded
 * in x->armed, so that exactly those are undone. */
#include <stdio.h>
#include <string.h>

#include "xfer.h"

static size_t read_cb(char *buf, size_t size, size_t n, void *ud) {
  hr_xfer *x = ud;
  x->stream_used = 1;
  size_t got = x->cur->read(x->cur->stream_ud, buf, size * n);
  if (got == (size_t)-1) {
    hr_xfer_abort(x, HTTPRESP_E_ABORTED, "the body read callback aborted");
    return CURL_READFUNC_ABORT;
  }
  return got > size * n ? CURL_READFUNC_ABORT : got;
}

static int seek_cb(void *ud, curl_off_t offset, int origin) {
  hr_xfer *x = ud;
  if (offset != 0 || origin != SEEK_SET || !x->cur->rewind)
    return CURL_SEEKFUNC_CANTSEEK;
  return x->cur->rewind(x->cur->stream_ud) == 0 ? CURL_SEEKFUNC_OK
                                                 : CURL_SEEKFUNC_FAIL;
}

/* Appends `h` to the hop's header list as libcurl reads it. */
static int append_fields(hr_xfer *x, const hr_headers *h, hr_buf *line) {
  for (size_t i = 0; i < h->n; i++) {
    const hr_field *f = &h->v[i];
    hr_buf_reset(line);
    /* libcurl reads "Name:" as "remove", "Name;" as "send empty". */
    if (hr_buf_append_str(line, f->name) ||
        hr_buf_append_str(line, *f->value ? ": " : ";") ||
        hr_buf_append_str(line, f->value))
      return HTTPRESP_E_NOMEM;
    struct curl_slist *s = curl_slist_append(x->slist, line->data);
    if (!s)
      return HTTPRESP_E_NOMEM;
    x->slist = s;
  }
  return 0;
}

/* The request's fields, then those its cache mode adds (Fetch), then the
 * cache's conditionals when this hop revalidates a stored answer, or its
 * Range and If-Range when it resumes an incomplete one (they
 * stay out of the request, so nothing derived from it carries them), then
 * "Expect:" after a 417. */
static int build_header_list(hr_xfer *x) {
  curl_slist_free_all(x->slist);
  x->slist = NULL;
  int cache_fields = x->hc == HR_HC_REVALIDATE || x->hc == HR_HC_RESUME ||
                     x->cur->cache_mode != HTTPRESP_CACHE_MODE_DEFAULT;
  if (x->cur->headers.n == 0 && !cache_fields && !x->hist.expect_repeated)
    return 0; /* nothing to send: no list, no line buffer */
  hr_buf line;
  hr_buf_init(&line);
  int rc = append_fields(x, &x->cur->headers, &line);
  if (!rc && cache_fields) {
    hr_headers more;
    hr_headers_init(&more);
    rc = hr_cache_mode_fields(x->cur->cache_mode, &x->cur->headers, &more);
    if (!rc && x->hc == HR_HC_REVALIDATE)
      rc = hr_cache_conditionals(&x->stored->e, &more);
    if (!rc && x->hc == HR_HC_RESUME)
      rc = hr_cache_resume_fields(&x->stored->e, &more);
    if (!rc)
      rc = append_fields(x, &more, &line);
    hr_headers_free(&more);
  }
  if (!rc && x->hist.expect_repeated) {
    struct curl_slist *s = curl_slist_append(x->slist, "Expect:");
    if (!s)
      rc = HTTPRESP_E_NOMEM;
    else
      x->slist = s;
  }
  hr_buf_free(&line);
  return rc ? HTTPRESP_E_NOMEM : 0;
}

/* Back to a plain GET without a body, as libcurl starts.  Setting
 * CURLOPT_POSTFIELDS (even to NULL) switches libcurl to POST, so it must
 * come before CURLOPT_HTTPGET. */
static void plain_get(hr_xfer *x, int keep_mime) {
  CURL *e = x->easy;
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
  /* Unbinds a mime body (the caller's: libcurl does not free it).  Kept
   * bound from one hop to the next: libcurl rewinds a mime it sent, but
   * one bound anew reads as already sent. */
  if (!keep_mime && x->mime_bound) {
    curl_easy_setopt(e, CURLOPT_MIMEPOST, NULL);
    x->mime_bound = NULL;
  }
  curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
  curl_easy_setopt(e, CURLOPT_READFUNCTION, NULL);
  curl_easy_setopt(e, CURLOPT_READDATA, stdin);
  curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, NULL);
  curl_easy_setopt(e, CURLOPT_SEEKDATA, NULL);
}

/* A GET needs two options whatever the caller left on the handle: HTTPGET
 * also clears NOBODY and UPLOAD, and without POST the POSTFIELDS and read
 * callbacks are not used.  Anything else starts from a full reset, and is
 * undone when the hop or the request ends (HR_ARMED_BODY). */
static int set_method_and_body(hr_xfer *x) {
  CURL *e = x->easy;
  const httpresp_request *r = x->cur;
  CURLcode cc = CURLE_OK;
  int is_get = strcmp(r->method, "GET") == 0;
  if (is_get && r->body_kind == HR_BODY_NONE) {
    /* A GET after a GET of the same request (a redirect's usual next hop)
     * finds both options as the last hop left them. */
    if (x->armed & HR_ARMED_GET)
      return 0;
    if (x->armed & HR_ARMED_BODY)
      plain_get(x, 0); /* nothing of the previous hop survives */
    else
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    x->armed &= ~HR_ARMED_BODY;
    cc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    if (cc == CURLE_OK)
      x->armed |= HR_ARMED_GET;
    return cc == CURLE_OK ? 0 : HTTPRESP_E_CURL;
  }
  plain_get(x, r->body_kind == HR_BODY_MIME && x->mime_bound == r->mime);
  x->armed = (x->armed & ~HR_ARMED_GET) | HR_ARMED_BODY;
  if (strcmp(r->method, "HEAD") == 0) {
    cc = curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (r->body_kind == HR_BODY_MEMORY) {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    cc = curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
  } else if (r->body_kind == HR_BODY_STREAM) {
    if (x->stream_used) {
      if (!r->rewind || r->rewind(r->stream_ud) != 0) {
        hr_xfer_abort(x, HTTPRESP_E_BODY_NOT_REWINDABLE,
                   "the streamed body could not be rewound");
        return HTTPRESP_E_BODY_NOT_REWINDABLE;
      }
      x->stream_used = 0;
    }
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(e, CURLOPT_READDATA, x);
    if (r->rewind) {
      curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_cb);
      curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
    }
    cc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                          (curl_off_t)r->stream_len);
  } else if (r->body_kind == HR_BODY_MIME) {
    /* libcurl rewinds the parts itself for each hop that sends them. */
    cc = curl_easy_setopt(e, CURLOPT_MIMEPOST, r->mime);
    if (cc == CURLE_OK)
      x->mime_bound = r->mime;
  }
  int is_post = strcmp(r->method, "POST") == 0 && r->body_kind != HR_BODY_NONE;
  if (!cc && !is_get && !is_post && strcmp(r->method, "HEAD") != 0)
    cc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
  return cc == CURLE_OK ? 0 : HTTPRESP_E_CURL;
}

/* libcurl calls this at least once a second while a transfer runs. */
static int deadline_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow) {
  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  hr_xfer *x = ud;
  int64_t deadline = hr_xfer_deadline(x); /* 0: none (set to it meanwhile) */
  if (deadline <= 0 ||
      hr_client_now(x->client) < hr_sat_add(x->start_ms, deadline))
    return 0;
  hr_xfer_abort(x, HTTPRESP_E_DEADLINE, "the request's deadline passed");
  return 1;
}

static void set_credentials(hr_xfer *x) {
  CURL *e = x->easy;
  const httpresp_request *o = x->orig;
  const hr_policy *p = &x->client->policy;
  /* libcurl cannot report what the caller set on the handle, so on another
   * origin every credential option that would reach it is cleared, each
   * by its own keep-list entry: keeping Authorization says nothing about
   * the handle's cookies, nor the other way round. */
  if (x->cross_origin && hr_policy_header_is_sensitive(p, "Authorization")) {
    curl_easy_setopt(e, CURLOPT_USERPWD, NULL);
    curl_easy_setopt(e, CURLOPT_USERNAME, NULL);
    curl_easy_setopt(e, CURLOPT_PASSWORD, NULL);
    curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, NULL);
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    x->armed |= HR_ARMED_CREDS;
  } else if (o->user) {
    curl_easy_setopt(e, CURLOPT_USERNAME, o->user);
    curl_easy_setopt(e, CURLOPT_PASSWORD, o->password);
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)o->auth);
    x->armed |= HR_ARMED_CREDS;
  }
  /* Cleared for good, as the other options above: nothing to reset. */
  if (x->cross_origin && hr_policy_header_is_sensitive(p, "Cookie"))
    curl_easy_setopt(e, CURLOPT_COOKIE, NULL);
}

int hr_xfer_arm_handle(hr_xfer *x) {
  CURL *e = x->easy;
  int had_list = x->slist != NULL;
  if (build_header_list(x) != 0)
    return HTTPRESP_E_NOMEM;
  if (set_method_and_body(x) != 0)
    return x->abort_code ? x->abort_code : HTTPRESP_E_CURL;
  curl_easy_setopt(e, CURLOPT_URL, x->cur->url);
  int hooked = (x->armed & HR_ARMED_HOOKS) != 0;
  if (had_list || x->slist || !hooked) {
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->slist);
    /* hr_xfer_reset_handle clears only a list of ours (a later hop that
     * fails before this point leaves the bit, and the freed list, set). */
    x->armed = x->slist ? x->armed | HR_ARMED_LIST : x->armed & ~HR_ARMED_LIST;
  }
  if (!hooked) {
    /* The same for every hop of the request; hr_xfer_reset_handle undoes
     * them. */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* A proxy's answer to CONNECT is no response of the origin's: without
     * this, the header callback would take it for the final answer. */
    curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, hr_xfer_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, hr_xfer_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    x->armed |= HR_ARMED_HOOKS;
  }
  set_credentials(x);
  if (hr_xfer_deadline(x) > 0 && !(x->armed & HR_ARMED_PROGRESS)) {
    /* The caller's CURLOPT_TIMEOUT_MS stays theirs (libcurl cannot report
     * it, so it could not be restored): the deadline is watched from the
     * progress callback instead. */
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, deadline_cb);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    x->armed |= HR_ARMED_PROGRESS;
  }
  return 0;
}

/* A request answered from the cache set nothing. */
void hr_xfer_reset_handle(hr_xfer *x) {
  CURL *e = x->easy;
  if (!e)
    return;
  if (x->armed & HR_ARMED_HOOKS) {
    /* Without a list of ours set (HR_ARMED_LIST), the arming cleared the
     * caller's: the handle holds none already. */
    if (x->armed & HR_ARMED_LIST)
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 0L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, NULL);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, NULL);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, NULL);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, stdout);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
  }
  if (x->armed & HR_ARMED_BODY) {
    plain_get(x, 0);
  }
  if (x->armed & HR_ARMED_CREDS) {
    curl_easy_setopt(e, CURLOPT_USERNAME, NULL);
    curl_easy_setopt(e, CURLOPT_PASSWORD, NULL);
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
  }
  if (x->armed & HR_ARMED_PROGRESS) {
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 1L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, NULL);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, NULL);
  }
  x->armed = 0;
}
