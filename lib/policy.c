/* SPDX-License-Identifier: MIT */
/* The policy core's entry point: one decision per final response. */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "url.h"

static int history_add(hr_history *h, const char *method, const char *url);

void hr_history_init(hr_history *h) {
  h->v = NULL;
  h->room = NULL;
  h->n = 0;
  h->cap = 0;
  h->text_used = 0;
  h->redirects = h->retries = h->cookie_epoch = 0;
  h->expect_repeated = 0;
}

void hr_history_free(hr_history *h) {
  for (size_t i = 0; i < h->n; i++)
    if (h->v[i].own)
      free(h->v[i].method); /* the URL shares its allocation */
  if (h->room && h->v != h->room->v)
    free(h->v);
  free(h->room);
  hr_history_init(h);
}

int hr_history_visit(hr_history *h, const char *method, const char *url) {
  /* RFC 3986 §6.2.2-6.2.3: visits are kept in normal form, so that
   * "HTTP://H:80/a" and "http://h/a" are one visit (loop detection).  A
   * URL that does not parse is kept as it is. */
  char *norm = NULL;
  if (!hr_url_plainly_normal(url) &&
      hr_url_normalize(url, &norm) == HTTPRESP_E_NOMEM)
    return HTTPRESP_E_NOMEM;
  int rc = history_add(h, method, norm ? norm : url);
  free(norm);
  return rc;
}

int hr_history_visit_normal(hr_history *h, const char *method,
                            const char *url) {
  return history_add(h, method, url);
}

static int history_add(hr_history *h, const char *method, const char *url) {
  if (!h->room) {
    h->room = malloc(sizeof(*h->room));
    if (!h->room)
      return HTTPRESP_E_NOMEM;
    h->v = h->room->v;
    h->cap = HR_HISTORY_INLINE;
  }
  if (h->n == h->cap) {
    void *v = h->v;
    if (hr_grow_inline(&v, &h->cap, h->room->v, sizeof(hr_visit)) != 0)
      return HTTPRESP_E_NOMEM;
    h->v = v;
  }
  size_t mlen = strlen(method), ulen = strcspn(url, "#");
  size_t need = mlen + ulen + 2;
  int own = need > HR_HISTORY_TEXT - h->text_used;
  char *m = own ? malloc(need) : h->room->text + h->text_used;
  if (!m)
    return HTTPRESP_E_NOMEM;
  if (!own)
    h->text_used += need;
  h->v[h->n].own = own;
  h->v[h->n].method = m;
  h->v[h->n].url = hr_put_pair(m, method, mlen, url, ulen);
  h->v[h->n].cookie_epoch = h->cookie_epoch;
  h->n++;
  return 0;
}

void hr_decision_init(hr_decision *d) {
  memset(d, 0, sizeof(*d));
  d->msg = "";
  d->retry_after_ms = -1;
}

void hr_decision_free(hr_decision *d) {
  httpresp_request_free(d->next_req);
  d->next_req = NULL;
  free(d->msg_own);
  d->msg_own = NULL;
  d->msg = "";
}

void hr_decision_stop(hr_decision *d, int code, const char *fmt, ...) {
  d->next = HR_NEXT_STOP;
  d->error = code;
  free(d->msg_own);
  d->msg_own = NULL;
  d->msg = fmt;
  if (!strchr(fmt, '%'))
    return;
  va_list ap;
  va_start(ap, fmt);
  d->msg_own = hr_vformat(256, fmt, ap);
  va_end(ap);
  d->msg = d->msg_own ? d->msg_own : httpresp_strerror(code);
}

void hr_policy_effective(const hr_policy *client, const httpresp_request *req,
                         hr_policy *out) {
  *out = *client;
  out->deadline_ms = hr_policy_deadline(client, req);
  if (req->max_wait_ms >= 0)
    out->max_wait_ms = req->max_wait_ms;
  /* A count beyond what the client's unsigned setting holds means "no
   * limit" there too. */
  if (req->max_redirects >= 0)
    out->max_redirects = (unsigned long)req->max_redirects > UINT_MAX
                             ? UINT_MAX
                             : (unsigned)req->max_redirects;
  if (req->max_retries >= 0)
    out->max_retries = (unsigned long)req->max_retries > UINT_MAX
                           ? UINT_MAX
                           : (unsigned)req->max_retries;
}

/* RFC 9110 §10.1.1: a client that gets 417 after sending Expect ought to
 * repeat the request without it.  libcurl adds "Expect: 100-continue" by
 * itself to large and chunked bodies, so any request with a body counts. */
static int expect_repeat(const hr_policy_input *in, hr_decision *d) {
  if (in->status != 417 || in->history->expect_repeated)
    return 0;
  if (!hr_headers_get(&in->cur->headers, "Expect") &&
      in->cur->body_kind == HR_BODY_NONE)
    return 0;
  if (!hr_request_body_replayable(in->cur))
    return 0;
  int rc = hr_request_copy(&d->next_req, in->cur);
  if (rc)
    return rc;
  hr_headers_remove(&d->next_req->headers, "Expect");
  d->next = HR_NEXT_REPEAT;
  d->suppress_expect = 1;
  return 0;
}

/* RFC 9111 §4.3.3-4: a 304 to our conditional request turns the stored
 * response it selects back into the answer; one that selects nothing is
 * never served: the request is repeated once without conditionals. */
static int revalidation(const hr_policy_input *in, hr_decision *d) {
  hr_304_sel sel = hr_cache_304_selects(in->revalidating, in->resp);
  if (sel != HR_304_NONE) {
    d->next = HR_NEXT_DELIVER;
    d->revalidated = (int)sel;
    return 0;
  }
  /* The cache's conditionals went out with the hop, not in its request:
   * the copy carries none. */
  int rc = hr_request_copy(&d->next_req, in->cur);
  if (rc)
    return rc;
  d->next = HR_NEXT_REPEAT;
  d->skip_cache = 1;
  return 0;
}

static int decide(const hr_policy_input *in, hr_decision *d) {
  if (in->revalidating && in->status == 304)
    return revalidation(in, d);
  int rc = expect_repeat(in, d);
  if (rc || d->next != HR_NEXT_DELIVER)
    return rc;
  rc = hr_retry_decide(in, d);
  if (rc || d->next != HR_NEXT_DELIVER)
    return rc;
  return hr_redirect_decide(in, d);
}

int hr_policy_decide(const hr_policy_input *in, hr_decision *d) {
  int rc = decide(in, d);
  /* A hop repeated after 429/503/413 that has an answer now and did not
   * stop repeating for a reason of its own: the repeats worked.  One that
   * is repeated again has not succeeded (yet). */
  if (!rc && d->next != HR_NEXT_RETRY && d->retry_stop == HTTPRESP_RETRY_NONE &&
      in->history->retries > 0)
    d->retry_stop = HTTPRESP_RETRY_SUCCEEDED;
  return rc;
}

int hr_policy_curl_failure(CURLcode cc, int request_sent, int status_seen,
                           int headers_done, const char *curl_msg, char *msg,
                           size_t msglen) {
  if (!curl_msg || !*curl_msg)
    curl_msg = curl_easy_strerror(cc);
  if (cc == CURLE_WEIRD_SERVER_REPLY ||
      (cc == CURLE_UNSUPPORTED_PROTOCOL && request_sent && !status_seen)) {
    /* libcurl's own words name the fault ("Nul byte in header", "Received
     * HTTP/0.9 when not allowed", "Unsupported HTTP version (9.9) in
     * response"); without a sent request "unsupported protocol" is a scheme
     * libcurl lacks, no reply at all. */
    snprintf(msg, msglen, "malformed response: %s", curl_msg);
    return HTTPRESP_E_BAD_RESPONSE;
  }
#if LIBCURL_VERSION_NUM >= 0x080600
  int too_large = cc == CURLE_OUT_OF_MEMORY || cc == CURLE_TOO_LARGE;
#else
  int too_large = cc == CURLE_OUT_OF_MEMORY;
#endif
  if (too_large && request_sent && !headers_done) {
    /* libcurl keeps a header line in a buffer bounded by
     * CURL_MAX_HTTP_HEADER (100 KiB) and reports a line beyond it as out of
     * memory (CURLE_TOO_LARGE since 8.6.0). */
    snprintf(msg, msglen,
             "a response header line is longer than libcurl "
             "accepts (100 KiB)");
    return HTTPRESP_E_HEADERS_TOO_LARGE;
  }
  snprintf(msg, msglen, "%s", curl_msg);
  return HTTPRESP_E_CURL;
}
