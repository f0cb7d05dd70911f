/* SPDX-License-Identifier: MIT */
/* The per-request state machine shared by the blocking and multi drivers:
 * it arms the easy handle for each hop, collects each response, asks the
 * policy core what to do and applies the answer. */
#include "xfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/origin.h"
#include "url.h"

/* Bodies of redirects and repeats are drained to keep the connection, up
 * to this size; past it the connection is dropped instead. */
#define HR_MAX_DISCARD ((size_t)1024 * 1024)

struct httpresp_hop_view {
  int status;
  const char *from;
  const char *to;
  const hr_headers *headers;
  void *request_ud;
};

int httpresp_hop_status(const httpresp_hop_view *h) { return h ? h->status : 0; }
const char *httpresp_hop_from(const httpresp_hop_view *h) {
  return h ? h->from : NULL;
}
const char *httpresp_hop_to(const httpresp_hop_view *h) {
  return h ? h->to : NULL;
}
const char *httpresp_hop_header(const httpresp_hop_view *h, const char *name) {
  return (h && name) ? hr_headers_get(h->headers, name) : NULL;
}
void *httpresp_hop_userdata(const httpresp_hop_view *h) {
  return h ? h->request_ud : NULL;
}

void hr_xfer_abort(hr_xfer *x, int code, const char *msg) {
  if (x->abort_code)
    return;
  x->abort_code = code;
  x->abort_msg = msg;
}

/* ---- receiving ---------------------------------------------------------- */

/* The fields of `h` as "Name: value" strings for a caller's callback:
 * `*lines` (malloc'd) points into `all`.  0 or HTTPRESP_E_NOMEM. */
static int field_lines(const hr_headers *h, hr_buf *all, const char ***lines) {
  hr_buf_init(all);
  *lines = calloc(h->n + 1, sizeof(**lines));
  size_t *offs = calloc(h->n + 1, sizeof(*offs));
  int ok = *lines && offs;
  for (size_t i = 0; ok && i < h->n; i++) {
    offs[i] = all->len;
    ok = hr_buf_append_str(all, h->v[i].name) == 0 &&
         hr_buf_append(all, ": ", 2) == 0 &&
         hr_buf_append(all, h->v[i].value, strlen(h->v[i].value) + 1) == 0;
  }
  if (ok)
    for (size_t i = 0; i < h->n; i++)
      (*lines)[i] = all->data + offs[i];
  free(offs);
  if (ok)
    return 0;
  free(*lines);
  *lines = NULL;
  hr_buf_free(all);
  return HTTPRESP_E_NOMEM;
}

static void early_hints(hr_xfer *x) {
  httpresp_client *c = x->client;
  if ((!c->hints_fn && !c->hints2_fn) || x->background)
    return;
  hr_buf all;
  const char **lines;
  if (field_lines(&x->hdrs, &all, &lines) != 0) {
    hr_xfer_abort(x, HTTPRESP_E_NOMEM, "out of memory for 103 headers");
    return;
  }
  if (c->hints2_fn)
    c->hints2_fn(c->hints_ud, x->cur->userdata, x->status, lines, x->hdrs.n);
  else
    c->hints_fn(c->hints_ud, x->status, lines, x->hdrs.n);
  free(lines);
  hr_buf_free(&all);
}

/* The final-headers callback for the answer about to be delivered, `h`
 * its fields as the caller gets them: 0 to go on, HTTPRESP_E_ABORTED or
 * HTTPRESP_E_NOMEM. */
static int final_headers(hr_xfer *x, int status, const hr_headers *h) {
  httpresp_client *c = x->client;
  if (!c->headers_fn || x->background)
    return 0;
  hr_buf all;
  const char **lines;
  if (field_lines(h, &all, &lines) != 0)
    return HTTPRESP_E_NOMEM;
  int veto = c->headers_fn(c->headers_ud, x->cur->userdata, status,
                           x->cur->url, lines, h->n);
  free(lines);
  hr_buf_free(&all);
  return veto ? HTTPRESP_E_ABORTED : 0;
}

static const char *final_headers_msg(int rc) {
  return rc == HTTPRESP_E_ABORTED ? "the headers callback aborted the transfer"
                                  : "out of memory";
}

/* The fields of this hop's response: received, or stored (as stored: the
 * Age a caller sees is set when the answer is kept). */
static const hr_headers *hop_headers(const hr_xfer *x) {
  return x->hc == HR_HC_SERVED ? &x->stored->e.headers : &x->hdrs;
}

/* Whether the stored entry this hop consulted may stand in for the
 * origin's failure (RFC 5861 §4, RFC 9111 §4.2.4): a hop that went to the
 * network for a request the cache applies to, with an entry at hand. */
static int may_serve_stale(const hr_xfer *x) {
  if (!x->stored || (x->hc != HR_HC_REVALIDATE && x->hc != HR_HC_NETWORK))
    return 0;
  const char *why;
  return hr_cache_stale_on_error(&x->stored->e, x->cur,
                                 hr_client_now(x->client),
                                 x->client->stale_if_error_sec, &why);
}

/* The answer to a hop that asked for the rest of an incomplete stored body
 * (RFC 9111 §3.4): a 206 that fits it becomes, from here on, the one
 * complete 200 it makes with the stored part (the caller sees that, never
 * the 206).  Returns 1 when it is a 206 or 416 that does not fit: nothing
 * of it may reach the caller, the whole body is asked for anew. */
static int resume_at_headers(hr_xfer *x, int64_t now) {
  const hr_cache_entry *e = &x->stored->e;
  if (x->status == 416)
    return 1;
  if (x->status != 206)
    return 0; /* a 200 (If-Range did not match) or an error: as it is */
  uint64_t rest;
  const char *why;
  if (!hr_cache_resume_combines(e, &x->hdrs, &rest, &why))
    return 1;
  hr_headers h;
  hr_headers_init(&h);
  if (hr_cache_resume_headers(e, &x->hdrs, e->body_len + rest, now, &h) != 0) {
    hr_headers_free(&h);
    hr_xfer_abort(x, HTTPRESP_E_NOMEM, "out of memory");
    return 0;
  }
  hr_headers_free(&x->hdrs);
  x->hdrs = h;
  x->status = 200;
  x->resuming = 1;
  x->resume_rest = rest;
  return 0;
}

static void keep_for_cache(hr_xfer *x, const char *data, size_t len);

/* The stored part of a resumed body goes first, to the sink or into the
 * body, before any byte of the rest arrives. */
static void deliver_stored_part(hr_xfer *x) {
  const hr_cache_entry *e = &x->stored->e;
  x->body_got += e->body_len;
  if (x->cur->sink) {
    keep_for_cache(x, e->body, e->body_len);
    if (x->cur->sink(x->cur->sink_ud, e->body, e->body_len) != e->body_len)
      hr_xfer_abort(x, HTTPRESP_E_ABORTED, "the body sink refused the data");
    return;
  }
  if (e->body_len > x->client->policy.max_body) {
    hr_xfer_abort(x, HTTPRESP_E_BODY_TOO_LARGE,
                  "response body exceeds the size limit");
    return;
  }
  hr_buf_reset(&x->resp->body);
  if (hr_buf_append(&x->resp->body, e->body, e->body_len) != 0)
    hr_xfer_abort(x, HTTPRESP_E_NOMEM, "out of memory for the body");
}

static void decide_at_headers(hr_xfer *x) {
  httpresp_client *c = x->client;
  int refetch = 0;
  if (x->hc == HR_HC_RESUME && x->stored) {
    refetch = resume_at_headers(x, hr_client_now(c));
    if (x->abort_code)
      return;
  }
  /* The chain's first visit is recorded when a redirect may follow it:
   * only the loop check reads the history, and normalising the URL costs
   * a plain GET more than anything else it does with it.  It counts at
   * the cookie epoch it was sent in, as if recorded then. */
  if (x->hist.n == 0 && x->status >= 300 && x->status < 400 &&
      hr_history_visit(&x->hist, x->orig->method, x->orig->url) != 0) {
    hr_xfer_abort(x, HTTPRESP_E_NOMEM, "out of memory");
    return;
  }
  if (x->set_cookie)
    x->hist.cookie_epoch++;
  hr_policy pol; /* the client's settings as they are now, with overrides */
  hr_policy_effective(&c->policy, x->orig, &pol);
  hr_policy_input in;
  memset(&in, 0, sizeof(in));
  in.policy = &pol;
  in.orig = x->orig;
  in.cur = x->cur;
  in.history = &x->hist;
  in.status = x->status;
  in.resp = hop_headers(x);
  in.now_ms = hr_client_now(c);
  in.start_ms = x->start_ms;
  in.revalidating =
      x->hc == HR_HC_REVALIDATE && x->stored ? &x->stored->e : NULL;
  in.location_malformed = x->bad_location;
  if (x->hc != HR_HC_SERVED)
    x->response_ms = in.now_ms;
  if (pol.backoff_base_ms > 0)
    in.random_ms = hr_client_random(c, pol.backoff_cap_ms);
  hr_decision_free(&x->dec);
  hr_decision_init(&x->dec);
  int rc = hr_policy_decide(&in, &x->dec);
  if (!rc && refetch && x->dec.next == HR_NEXT_DELIVER) {
    /* Parts that may not be combined: the stored one is dropped and the
     * whole body asked for, like a 304 that selects nothing. */
    hr_decision_free(&x->dec);
    hr_decision_init(&x->dec);
    rc = hr_request_copy(&x->dec.next_req, x->cur);
    x->dec.next = HR_NEXT_REPEAT;
    x->dec.skip_cache = 1;
  }
  if (rc) {
    hr_xfer_abort(x, rc, httpresp_strerror(rc));
    return;
  }
  /* An origin error that retrying does not take care of: a stored answer
   * the rules allow stands in for it (decided here, so that the error's
   * body never reaches the caller's sink). */
  x->stale_stands_in = x->hc != HR_HC_SERVED &&
                       x->dec.next != HR_NEXT_RETRY &&
                       hr_cache_error_status(x->status) && may_serve_stale(x);
  /* Bodies of redirects, repeats, stopped hops and errors a stale answer
   * stands in for never reach the caller. */
  x->deliver_body = x->dec.next == HR_NEXT_DELIVER && !x->stale_stands_in;
  /* A stored answer (served or revalidated) shows its fields when it is
   * delivered, with their Age. */
  if (x->deliver_body && x->hc != HR_HC_SERVED && !x->dec.revalidated) {
    rc = final_headers(x, x->status, &x->hdrs);
    if (rc)
      hr_xfer_abort(x, rc, final_headers_msg(rc));
  }
  if (x->resuming && x->deliver_body && !x->abort_code)
    deliver_stored_part(x);
}

/* A new response starts (a status line, the end of a 1xx block, a new
 * hop): nothing of the fields seen so far carries over; receiving goes on
 * at `next`. */
static void forget_response(hr_xfer *x, hr_rx next) {
  x->rx = next;
  x->bad_location = 0;
  x->set_cookie = 0;
  x->folds = 0;
  x->fold_index = SIZE_MAX;
  hr_headers_clear(&x->hdrs);
  hr_framing_init(&x->framing);
  x->framing_folded = 0;
  hr_buf_reset(&x->resp->body);
}

/* The final response's header block ended (its decision is taken). */
static int final_seen(const hr_xfer *x) {
  return x->rx == HR_RX_FINAL || x->rx == HR_RX_FINAL_AUTH;
}

static void end_of_block(hr_xfer *x) {
  if (x->status >= 100 && x->status < 200) {
    int error;
    const char *msg;
    hr_interim what = hr_interim_decide(x->status, ++x->interim, &error, &msg);
    if (what == HR_INTERIM_STOP) {
      hr_xfer_abort(x, error, msg);
      return;
    }
    if (what == HR_INTERIM_HINTS)
      early_hints(x);
    forget_response(x, HR_RX_STATUS);
    return;
  }
  /* RFC 9112 §6.3 item 5: a length that cannot be known is an
   * unrecoverable framing error; stopped before any of the body is
   * delivered or stored. */
  const char *why;
  int64_t length;
  int bodyless = x->status == 204 || x->status == 304 ||
                 strcmp(x->cur->method, "HEAD") == 0;
  int bad = x->framing_folded
                ? hr_headers_check_framing(&x->hdrs, bodyless, &length, &why)
                : hr_framing_verdict(&x->framing, bodyless, &length, &why);
  if (bad != 0) {
    hr_xfer_abort(x, HTTPRESP_E_BAD_RESPONSE, why);
    return;
  }
  x->rx = x->status == 401 || x->status == 407 ? HR_RX_FINAL_AUTH
                                               : HR_RX_FINAL;
  decide_at_headers(x);
  /* A body the library collects that announces more than the limit fails
   * now, not after reading up to the limit; a sink takes any length. */
  size_t max = x->client->policy.max_body;
  if (!x->abort_code && x->deliver_body && !x->cur->sink && length >= 0 &&
      (uint64_t)length > (uint64_t)max) {
    hr_xfer_abort(x, HTTPRESP_E_BODY_TOO_LARGE, NULL);
    x->abort_length = length; /* aborted() writes the message */
  }
}

/* obs-fold: RFC 9112 §5.2 says replace it with SP.  The value grows
 * geometrically so a flood of continuation lines stays linear. */
static size_t unfold(hr_xfer *x, const char *buf, size_t len) {
  size_t last = x->hdrs.n - 1;
  hr_field *f = &x->hdrs.v[last];
  x->framing_folded = 1; /* the value hr_framing_field saw changes */
  if (x->fold_index != last) {
    x->fold_index = last;
    x->fold_len = strlen(f->value);
    x->fold_cap = x->fold_len + 1;
  }
  const char *v = buf;
  size_t vlen = len;
  while (vlen && (v[vlen - 1] == '\n' || v[vlen - 1] == '\r'))
    vlen--;
  hr_trim_ows(&v, &vlen);
  if (x->fold_len + vlen + 2 > x->fold_cap) {
    size_t cap = (x->fold_len + vlen + 2) * 2;
    char *nv = hr_headers_value_space(&x->hdrs, last, cap - 1);
    if (!nv) {
      hr_xfer_abort(x, HTTPRESP_E_NOMEM, "out of memory for headers");
      return 0;
    }
    memcpy(nv, f->value, x->fold_len + 1);
    f->value = nv;
    x->fold_cap = cap;
  }
  f->value[x->fold_len] = ' ';
  memcpy(f->value + x->fold_len + 1, v, vlen);
  x->fold_len += vlen + 1;
  f->value[x->fold_len] = '\0';
  x->hdrs.bytes += vlen + 1;
  return len;
}

size_t hr_xfer_header_cb(char *buf, size_t size, size_t n, void *ud) {
  hr_xfer *x = ud;
  size_t len = size * n;
  const hr_policy *p = &x->client->policy;
  if (x->abort_code)
    return 0;
  x->header_bytes += len;
  if (x->header_bytes > p->max_header_bytes) {
    hr_xfer_abort(x, HTTPRESP_E_HEADERS_TOO_LARGE,
               "response headers exceed the size limit");
    return 0;
  }
  /* A status line is only one where a response can start: first, after a
   * 1xx block, or after a 401/407 that libcurl answers itself (auth).
   * Elsewhere "HTTP/..." is a malformed field or a trailer, never a new
   * response ('/' is not a token char, so no field name starts so). */
  if ((x->rx == HR_RX_STATUS || x->rx == HR_RX_FINAL_AUTH) && len >= 5 &&
      memcmp(buf, "HTTP/", 5) == 0) {
    int status;
    if (hr_parse_status_line(buf, len, &status) != 0) {
      hr_xfer_abort(x, HTTPRESP_E_BAD_RESPONSE, "malformed status line");
      return 0;
    }
    /* Every status line starts a fresh header set: 1xx fields and those of
     * a response libcurl itself answered (auth) never reach the final. */
    x->status = status;
    forget_response(x, HR_RX_FIELDS);
    return len;
  }
  if (x->status == 0) {
    hr_xfer_abort(x, HTTPRESP_E_BAD_RESPONSE, "response without a status line");
    return 0;
  }
  if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
    if (!final_seen(x))
      end_of_block(x);
    return x->abort_code ? 0 : len;
  }
  if (final_seen(x))
    return len; /* trailer fields after the body: not part of the header */
  if (x->hdrs.n + x->folds >= p->max_header_fields) {
    hr_xfer_abort(x, HTTPRESP_E_HEADERS_TOO_LARGE,
               "response has more header fields than the limit");
    return 0;
  }
  if ((buf[0] == ' ' || buf[0] == '\t') && x->hdrs.n > 0) {
    x->folds++;
    return unfold(x, buf, len);
  }
  size_t nlen = 0;
  int rc = hr_headers_add_line_n(&x->hdrs, buf, len, &nlen);
  if (rc == HTTPRESP_E_NOMEM) {
    hr_xfer_abort(x, rc, "out of memory for headers");
    return 0;
  }
  if (rc) {
    /* A malformed field line is not interpreted (RFC 9112 §5); but a
     * Location the server meant and we cannot read must not pass for "no
     * Location". */
    if (len > 9 && hr_strncaseeq(buf, "Location:", 9))
      x->bad_location = 1;
    return len;
  }
  /* Framing is judged at the end of the block from what is read here. */
  const hr_field *f = &x->hdrs.v[x->hdrs.n - 1];
  hr_framing_field(&x->framing, f->name, nlen, f->value);
  /* Cookies set by a hop make a revisit legitimate (redirect loops). */
  if (nlen == 10 && hr_strncaseeq(buf, "Set-Cookie", 10))
    x->set_cookie = 1;
  return len;
}

/* With a sink the body is not collected, but the cache needs a copy. */
static void keep_for_cache(hr_xfer *x, const char *data, size_t len) {
  if (x->hc == HR_HC_OFF || x->sink_copy_full ||
      strcmp(x->cur->method, "GET") != 0)
    return;
  if (x->sink_copy.len + len > HR_CACHE_MAX_ENTRY ||
      hr_buf_append(&x->sink_copy, data, len) != 0) {
    x->sink_copy_full = 1;
    hr_buf_free(&x->sink_copy);
  }
}

size_t hr_xfer_write_cb(char *data, size_t size, size_t n, void *ud) {
  hr_xfer *x = ud;
  size_t len = size * n;
  if (x->abort_code)
    return 0;
  if (!x->deliver_body) {
    x->discarded += len;
    if (x->discarded > HR_MAX_DISCARD) {
      x->discard_abort = 1;
      return 0;
    }
    return len;
  }
  x->body_got += len;
  if (x->cur->sink) {
    keep_for_cache(x, data, len);
    if (x->cur->sink(x->cur->sink_ud, data, len) != len) {
      hr_xfer_abort(x, HTTPRESP_E_ABORTED, "the body sink refused the data");
      return 0;
    }
    return len;
  }
  size_t max = x->client->policy.max_body;
  if (len > max || x->resp->body.len > max - len) {
    hr_xfer_abort(x, HTTPRESP_E_BODY_TOO_LARGE,
               "response body exceeds the size limit");
    return 0;
  }
  if (hr_buf_append(&x->resp->body, data, len) != 0) {
    hr_xfer_abort(x, HTTPRESP_E_NOMEM, "out of memory for the body");
    return 0;
  }
  return len;
}

static void reset_receive_state(hr_xfer *x) {
  x->status = 0;
  forget_response(x, HR_RX_STATUS);
  x->interim = 0;
  x->header_bytes = 0;
  x->deliver_body = 0;
  x->stale_stands_in = 0;
  x->resuming = 0;
  x->resume_rest = 0;
  x->body_got = 0;
  x->discarded = 0;
  x->discard_abort = 0;
  x->errbuf[0] = '\0';
  hr_buf_reset(&x->sink_copy);
  x->sink_copy_full = 0;
}

static hr_xfer_state fail(hr_xfer *x, int code, const char *msg) {
  hr_response_fail(x->resp, code, "%s", msg);
  return HR_XS_DONE;
}

/* Fails with `code` and the message hr_xfer_abort recorded. */
static hr_xfer_state aborted(hr_xfer *x, int code) {
  if (x->abort_msg)
    return fail(x, code, x->abort_msg);
  hr_response_fail(x->resp, code,
                   "Content-Length %lld exceeds the body limit of %zu bytes",
                   (long long)x->abort_length, x->client->policy.max_body);
  return HR_XS_DONE;
}

/* The next hop sends `next` (owned from now on). */
static void set_cur(hr_xfer *x, httpresp_request *next) {
  httpresp_request_free(x->cur_own);
  x->cur_own = next;
  x->cur = next;
}

/* Loads a stored answer into the receive state as if it had just arrived,
 * so the policy treats it like any response (a stored 301 is followed). */
static hr_xfer_state serve_stored(hr_xfer *x) {
  reset_receive_state(x);
  x->status = x->stored->e.status;
  x->set_cookie = x->stored->facts.set_cookie;
  x->hc = HR_HC_SERVED;
  x->rx = HR_RX_FINAL;
  decide_at_headers(x);
  if (x->abort_code)
    return aborted(x, x->abort_code);
  return HR_XS_HOP_DONE;
}

/* Whether the stale x->stored answers this hop at once, its revalidation
 * deferred (stale-while-revalidate, HTTPRESP_SWR_DEFER): one deferred
 * revalidation per stored entry (its key and variant), whoever asks. */
static int answer_stale_now(hr_xfer *x, int64_t now) {
  httpresp_client *c = x->client;
  const hr_cache_entry *e = &x->stored->e;
  const char *why;
  if (c->swr_mode != HTTPRESP_SWR_DEFER || x->cur->cache_refresh ||
      !hr_cache_swr_allows(e, x->cur, now, &why))
    return 0;
  char *names = NULL;
  hr_variant_id v = HR_VARIANT_NONE;
  if (hr_cache_vary_names(&e->headers, &names) != 0 ||
      (names && hr_cache_variant_id(names, &e->vary, &v) != 0)) {
    free(names);
    return 0;
  }
  free(names);
  size_t klen = strlen(e->key);
  char *id = malloc(klen + 24);
  if (!id)
    return 0;
  snprintf(id, klen + 24, "%s %016llx", e->key, (unsigned long long)v);
  int ok = hr_client_swr_defer(c, id, x->cur) == 0;
  free(x->swr_id);
  x->swr_id = ok ? id : NULL;
  if (!ok)
    free(id);
  return ok;
}

/* A caller's own single-range GET answered from a complete, fresh stored
 * 200 (RFC 9111 §3.4): a 206 of that part, flagged a hit with the reason
 * "range".  HR_XS_RUN when it cannot be (the request then goes out as the
 * caller made it, untouched). */
static hr_xfer_state serve_range(hr_xfer *x, int64_t now) {
  httpresp_client *c = x->client;
  const hr_headers *h = &x->cur->headers;
  const char *range = NULL;
  size_t ranges = 0;
  for (size_t i = 0; i < h->n; i++)
    if (hr_strcaseeq(h->v[i].name, "Range")) {
      range = h->v[i].value;
      ranges++;
    }
  if (ranges != 1 || strcmp(x->cur->method, "GET") != 0 ||
      x->cur->cache_mode != HTTPRESP_CACHE_MODE_DEFAULT ||
      (c->handle_identity && !x->cur->cache_partition))
    return HR_XS_RUN;
  httpresp_request *plain;
  if (hr_request_copy(&plain, x->cur) != 0)
    return HR_XS_RUN;
  hr_headers_remove(&plain->headers, "Range");
  const char *why;
  hr_stored *s = NULL;
  hr_xfer_state next = HR_XS_RUN;
  uint64_t first, last;
  hr_cache_entry part;
  if (hr_cache_request_applies(plain, &why) &&
      hr_cache_lookup(c->cache, plain, now, &s, &why) == HR_CACHE_USE_FRESH &&
      s->e.status == 200 &&
      hr_cache_range_single(range, s->e.body_len, &first, &last) &&
      hr_cache_range_entry(&s->e, first, last, &part) == 0) {
    hr_stored *p;
    if (hr_stored_freeze(&part, &p) == 0) {
      hr_stored_unref(x->stored);
      x->stored = p;
      x->resp->attempts = ++x->attempts;
      x->resp->cache_status = HTTPRESP_CACHE_HIT;
      x->resp->cache_reason = "range";
      next = serve_stored(x);
    }
    hr_cache_entry_free(&part);
  }
  hr_stored_unref(s);
  httpresp_request_free(plain);
  return next;
}

/* Asks the cache about the current hop before any network: returns
 * HR_XS_RUN to go on to the network (possibly with conditionals added),
 * HR_XS_HOP_DONE when the store answers, HR_XS_DONE on error. */
static hr_xfer_state consult_cache(hr_xfer *x, int64_t now) {
  const char *why = "";
  x->cache_absent = 0;
  if (x->hc == HR_HC_SERVED)
    x->hc = HR_HC_NETWORK;
  if (x->hc == HR_HC_REVALIDATE || x->hc == HR_HC_RESUME)
    return HR_XS_RUN;
  int have_cache = x->client->cache != NULL;
  int applies = have_cache && hr_cache_request_applies(x->cur, &why);
  if (applies && x->client->handle_identity && !x->cur->cache_partition) {
    /* The handle may carry an identity the library cannot see: one
     * identity's answer must never reach another. */
    applies = 0;
    why = "identity-unknown";
  }
  if (have_cache && !applies && strcmp(why, "range") == 0) {
    hr_xfer_state served = serve_range(x, now);
    if (served != HR_XS_RUN)
      return served;
  }
  switch (hr_cache_mode_plan(x->cur->cache_mode, have_cache, applies)) {
  case HR_CACHE_PLAN_FAIL:
    x->hc = HR_HC_OFF;
    return fail(x, HTTPRESP_E_NOT_CACHED,
                have_cache ? "only-if-cached: the cache does not apply to "
                             "this request"
                           : "only-if-cached: the client has no cache");
  case HR_CACHE_PLAN_OFF:
    if (!have_cache)
      return HR_XS_RUN;
    x->hc = HR_HC_OFF;
    x->resp->cache_status = HTTPRESP_CACHE_BYPASS;
    x->resp->cache_reason = applies ? "cache-mode" : why;
    return HR_XS_RUN;
  case HR_CACHE_PLAN_STORE_ONLY:
    if (x->hc != HR_HC_BYPASS)
      x->hc = HR_HC_NETWORK;
    x->resp->cache_status = HTTPRESP_CACHE_MISS;
    x->resp->cache_reason = "cache-mode";
    return HR_XS_RUN;
  case HR_CACHE_PLAN_CONSULT:
    break;
  }
  if (x->hc == HR_HC_BYPASS) {
    /* The unconditional repeat after a 304 that selected nothing: its
     * answer is stored, nothing stored is consulted. */
    x->resp->cache_status = HTTPRESP_CACHE_MISS;
    x->resp->cache_reason = "304-mismatch";
    return HR_XS_RUN;
  }
  x->hc = HR_HC_NETWORK;
  hr_stored_unref(x->stored);
  x->stored = NULL;
  /* A stale entry without validators is kept: it may stand in for an
   * origin failure (stale-if-error). */
  hr_cache_use use = hr_cache_consult(x->client->cache, x->cur, now, 1,
                                      &x->stored, &why, &x->cache_absent);
  x->resp->cache_reason = why;
  if (x->stored && x->stored->e.incomplete && use == HR_CACHE_USE_NONE) {
    /* The first part of the body is stored: ask for the rest (a HEAD
     * needs no body, its answer is fetched as it is). */
    if (strcmp(x->cur->method, "GET") == 0) {
      x->hc = HR_HC_RESUME;
      x->resp->cache_status = HTTPRESP_CACHE_MISS;
      return HR_XS_RUN;
    }
    hr_stored_unref(x->stored);
    x->stored = NULL;
  }
  if (x->stored && (use == HR_CACHE_USE_REVALIDATE || use == HR_CACHE_USE_NONE) &&
      answer_stale_now(x, now)) {
    x->resp->cache_status = HTTPRESP_CACHE_STALE;
    x->resp->cache_reason = "revalidating";
    return serve_stored(x);
  }
  switch (use) {
  case HR_CACHE_USE_FRESH:
    /* The cache answered this attempt: it counts as one, as documented. */
    x->resp->attempts = ++x->attempts;
    x->resp->cache_status = HTTPRESP_CACHE_HIT;
    return serve_stored(x);
  case HR_CACHE_USE_REVALIDATE:
    x->hc = HR_HC_REVALIDATE; /* the header list gets the conditionals */
    return HR_XS_RUN;
  case HR_CACHE_USE_NOT_CACHED:
    return fail(x, HTTPRESP_E_NOT_CACHED,
                "only-if-cached: no usable stored response");
  case HR_CACHE_USE_NONE:
    break;
  }
  /* Another worker of the fleet may be fetching it: look again soon. */
  int had_claim = x->claim.key != NULL;
  int64_t again = hr_cache_coalesce(x->client->cache, x->cur, now, &x->claim);
  if (again > 0) {
    x->wake_ms = again;
    return HR_XS_WAIT;
  }
  if (!had_claim && x->claim.key) {
    /* The lock was free: its last holder may have stored the answer and
     * let go between the lookup above and the lock, so look once more
     * before fetching it again. */
    hr_stored *again_stored = NULL;
    const char *why2 = "";
    if (hr_cache_consult(x->client->cache, x->cur, now, 1, &again_stored, &why2,
                         &x->cache_absent) == HR_CACHE_USE_FRESH) {
      hr_cache_release(x->client->cache, &x->claim);
      hr_stored_unref(x->stored);
      x->stored = again_stored;
      x->resp->cache_reason = why2;
      x->resp->attempts = ++x->attempts;
      x->resp->cache_status = HTTPRESP_CACHE_HIT;
      return serve_stored(x);
    }
    hr_stored_unref(again_stored);
  }
  x->resp->cache_status = HTTPRESP_CACHE_MISS;
  return HR_XS_RUN;
}

/* A wait of `ms` before the next hop, through the caller's wait callback
 * (which may shorten or abort it): HR_XS_WAIT with wake_ms set, HR_XS_ARM
 * when nothing is left to wait, HR_XS_DONE when aborted. */
static hr_xfer_state plan_wait(hr_xfer *x, httpresp_wait_reason why,
                               int64_t now, int64_t ms) {
  httpresp_client *c = x->client;
  if (c->wait_fn) {
    int64_t granted = hr_policy_wait_granted(
        ms, c->wait_fn(c->wait_ud, x->cur->userdata, why, ms, x->cur->url));
    if (granted < 0)
      return fail(x, HTTPRESP_E_ABORTED, "the wait callback aborted the wait");
    /* What the origin asked for is what was just shortened: waiting for
     * it again would undo the caller's choice. */
    x->quiet_waived = granted < ms;
    ms = granted;
  }
  if (ms <= 0)
    return HR_XS_ARM;
  x->wake_ms = hr_sat_add(now, ms);
  return HR_XS_WAIT;
}

/* Whether the origin of the current hop asked for quiet (Retry-After):
 * HR_XS_RUN to go on, HR_XS_WAIT or HR_XS_DONE otherwise.  `known` is the
 * hop's quiet-time key when the caller made it already (hint_quiet), else
 * NULL. */
static hr_xfer_state keep_quiet(hr_xfer *x, int64_t now, const char *known) {
  httpresp_client *c = x->client;
  const hr_policy *p = &c->policy;
  /* With nothing remembered (the usual case) an http(s) URL, whose origin
   * always parses, needs no lookup: parsing it for the key was the largest
   * part of arming a hop. */
  const char *u = x->cur->url;
  const hr_origins *o = c->origins;
  if (x->quiet_waived) {
    x->quiet_waived = 0;
    return HR_XS_RUN;
  }
  if (!o->vt->any(o->impl) && hr_url_http_prefix(u) != 0)
    return HR_XS_RUN;
  char *key = NULL;
  if (!known) {
    int rc = hr_quiet_key(p->quiet_scope, x->cur->url, &key);
    if (rc)
      return fail(x, rc,
                  rc == HTTPRESP_E_NOMEM ? "out of memory"
                                         : "the URL has no valid origin");
    if (!key) /* nothing is remembered in this scope */
      return HR_XS_RUN;
  }
  int64_t nb = o->vt->get(o->impl, known ? known : key, now);
  free(key);
  hr_policy pol; /* with the request's maximum wait and deadline */
  hr_policy_effective(p, x->orig, &pol);
  hr_decision d;
  hr_decision_init(&d);
  hr_quiet_decide(&pol, nb, now, x->start_ms, &d);
  if (d.next == HR_NEXT_DELIVER)
    return HR_XS_RUN;
  x->resp->retry_after_ms = d.retry_after_ms;
  if (d.next == HR_NEXT_STOP) {
    hr_xfer_state st = fail(x, d.error, d.msg);
    hr_decision_free(&d);
    return st;
  }
  hr_xfer_state next =
      plan_wait(x, HTTPRESP_WAIT_ORIGIN_QUIET, now, d.wait_ms);
  if (next == HR_XS_ARM) { /* the wait callback said: send now */
    x->quiet_waived = 0;
    return HR_XS_RUN;
  }
  return next;
}

/* A backend that can read the origin's quiet time with the cache lookup
 * (Redis: one round trip, not two) is told which origin.  Returns the
 * hop's quiet-time key when told (the caller frees it, and keep_quiet uses
 * it instead of parsing the URL again), else NULL. */
static char *hint_quiet(hr_xfer *x) {
  const hr_origins *o = x->client->origins;
  if (!o->vt->prefetch || !x->client->cache || x->quiet_waived)
    return NULL;
  char *key;
  if (hr_quiet_key(x->client->policy.quiet_scope, x->cur->url, &key) != 0 ||
      !key)
    return NULL;
  o->vt->prefetch(o->impl, key);
  return key;
}

/* Arms the handle for the current hop at `now` (HR_XS_RUN), or says what
 * comes instead: the cache's answer, a wait, the end. */
static hr_xfer_state arm_at(hr_xfer *x, int64_t now) {
  int64_t deadline = hr_xfer_deadline(x);
  if (deadline > 0 && now >= hr_sat_add(x->start_ms, deadline))
    return fail(x, HTTPRESP_E_DEADLINE, "the request's deadline passed");
  const hr_origins *o = x->client->origins;
  char *hinted = hint_quiet(x);
  hr_xfer_state cached = consult_cache(x, now);
  hr_xfer_state quiet =
      cached == HR_XS_RUN ? keep_quiet(x, now, hinted) : cached;
  if (hinted)
    o->vt->prefetch(o->impl, NULL);
  free(hinted);
  if (quiet != HR_XS_RUN)
    return quiet;

  reset_receive_state(x);
  int rc = hr_xfer_arm_handle(x);
  if (rc)
    return x->abort_code ? aborted(x, rc)
                         : fail(x, rc, rc == HTTPRESP_E_NOMEM
                                           ? "out of memory"
                                           : "libcurl refused an option");
  x->attempts++;
  x->resp->attempts = x->attempts;
  x->request_ms = now;
  return HR_XS_RUN;
}

/* ---- lifecycle ---------------------------------------------------------- */

int hr_xfer_init(hr_xfer *x, httpresp_client *c, CURL *easy,
                 const httpresp_request *req, int copy) {
  memset(x, 0, HR_XFER_HEAD); /* the large members are set up below */
  x->client = c;
  x->easy = easy;
  hr_headers_init(&x->hdrs);
  hr_framing_init(&x->framing);
  hr_history_init(&x->hist);
  hr_decision_init(&x->dec);
  x->errbuf[0] = '\0';
  hr_buf_init(&x->sink_copy);
  /* The first hop is the request as given (a repeat or a stored answer
   * keeps its method and URL): room for its strings. */
  int rc =
      hr_response_new(&x->resp, strlen(req->method) + strlen(req->url) + 2);
  x->orig = req;
  if (!rc && copy) {
    rc = hr_request_copy(&x->orig_own, req);
    x->orig = x->orig_own;
  }
  x->cur = x->orig;
  if (rc) {
    hr_xfer_cleanup(x);
    return rc;
  }
  return 0;
}

void hr_xfer_cleanup(hr_xfer *x) {
  hr_cache_release(x->client ? x->client->cache : NULL, &x->claim);
  hr_xfer_reset_handle(x);
  x->easy = NULL;
  curl_slist_free_all(x->slist);
  x->slist = NULL;
  httpresp_request_free(x->orig_own);
  httpresp_request_free(x->cur_own);
  x->orig_own = x->cur_own = NULL;
  x->orig = x->cur = NULL;
  httpresp_response_free(x->resp);
  x->resp = NULL;
  hr_headers_free(&x->hdrs);
  hr_history_free(&x->hist);
  hr_decision_free(&x->dec);
  hr_stored_unref(x->stored);
  x->stored = NULL;
  hr_buf_free(&x->sink_copy);
  free(x->swr_id);
  x->swr_id = NULL;
}


/* The response of this hop becomes the caller's answer. */
static void keep_final(hr_xfer *x) {
  httpresp_response *r = x->resp;
  r->status = x->status;
  if (x->hc == HR_HC_SERVED) {
    /* The stored entry itself, nothing copied; its body follows only when
     * it is delivered (deliver_stored_body). */
    if (hr_response_share(r, x->stored, hr_client_now(x->client)) != 0)
      hr_response_fail(r, HTTPRESP_E_NOMEM, "out of memory");
  } else {
    hr_response_unshare(r);
    hr_headers tmp = r->headers;
    r->headers = x->hdrs;
    x->hdrs = tmp;
    hr_headers_clear(&x->hdrs);
  }
  hr_response_set_url(r, x->cur->url); /* without memory: the older URL */
  if (x->dec.retry_after_ms >= 0)
    r->retry_after_ms = x->dec.retry_after_ms;
  if (x->dec.retry_stop != HTTPRESP_RETRY_NONE)
    r->retry_stop = x->dec.retry_stop;
}

/* Records the hop with decision `d`: 0, or -1 when out of memory (the
 * response then says so, and the request is done). */
static int record(hr_xfer *x, httpresp_decision d) {
  /* A resumed hop received a 206, whatever 200 it was made into. */
  int status = x->resuming ? 206 : x->status;
  if (hr_response_add_hop(x->resp, status, x->cur->method, x->cur->url, d)) {
    fail(x, HTTPRESP_E_NOMEM, "out of memory");
    return -1;
  }
  return 0;
}

/* A new hop starts: whatever the cache did for the last one is over;
 * `bypass` says whether the next one bypasses it (the repeat after a 304
 * that selected nothing). */
static void leave_hop(hr_xfer *x, int bypass) {
  x->quiet_waived = 0; /* a shortened wait was for the hop it preceded */
  if (bypass)
    x->hc = HR_HC_BYPASS;
  else if (x->hc != HR_HC_OFF)
    x->hc = HR_HC_NETWORK;
  x->cache_absent = 0;
  hr_stored_unref(x->stored);
  x->stored = NULL;
}

static hr_xfer_state follow(hr_xfer *x) {
  httpresp_client *c = x->client;
  httpresp_request *next = x->dec.next_req;
  int moved = 0;
  if (c->hop_fn) {
    /* A stored redirect is shown as served: Age set to its current age. */
    if (x->hc == HR_HC_SERVED) {
      hr_headers_clear(&x->hdrs);
      if (hr_cache_served_headers(&x->stored->e, hr_client_now(c),
                                  &x->hdrs) != 0)
        return fail(x, HTTPRESP_E_NOMEM, "out of memory");
    }
    char *target = hr_strdup(next->url);
    if (!target)
      return fail(x, HTTPRESP_E_NOMEM, "out of memory");
    struct httpresp_hop_view view = {x->status, x->cur->url, target, &x->hdrs,
                                     x->cur->userdata};
    int veto = c->hop_fn(c->hop_ud, &view, next);
    moved = strcmp(target, next->url) != 0;
    free(target);
    if (veto) {
      if (record(x, HTTPRESP_DECISION_VETOED) == 0)
        keep_final(x);
      return HR_XS_DONE;
    }
    /* Sent elsewhere by the callback: the origin rules hold for where the
     * hop really goes (fail closed: sensitive fields it added are dropped
     * too unless that is the caller's origin or they are on the keep
     * list). */
    if (moved && hr_redirect_origin_rules(&x->client->policy, x->orig, next,
                                          &x->dec.cross_origin) != 0)
      return fail(x, HTTPRESP_E_NOMEM, "out of memory");
  }
  if (record(x, HTTPRESP_DECISION_FOLLOW) != 0)
    return HR_XS_DONE;
  x->dec.next_req = NULL;
  set_cur(x, next);
  leave_hop(x, 0);
  /* A streamed body that went out is consumed; the next hop rewinds it. */
  x->stream_used = x->stream_used && next->body_kind == HR_BODY_STREAM;
  x->cross_origin = x->dec.cross_origin;
  x->hist.redirects++;
  x->hist.retries = 0;
  x->attempts = 0;
  /* The loop check has just put the target in normal form, if it was. */
  int rc = x->dec.target_normal && !moved
               ? hr_history_visit_normal(&x->hist, next->method, next->url)
               : hr_history_visit(&x->hist, next->method, next->url);
  if (rc != 0)
    return fail(x, HTTPRESP_E_NOMEM, "out of memory");
  return HR_XS_ARM;
}

/* A server that asked for quiet gets it from every request of the client,
 * whether or not this one is repeated. */
static void remember_quiet(hr_xfer *x) {
  if (x->dec.quiet_until_ms <= 0)
    return;
  char *key;
  if (hr_quiet_key(x->client->policy.quiet_scope, x->cur->url, &key) != 0 || !key)
    return;
  const hr_origins *o = x->client->origins;
  int64_t now = hr_client_now(x->client);
  o->vt->raise(o->impl, key, now, x->dec.quiet_until_ms - now, x->status);
  free(key);
}

/* A 206 to the caller's own GET for "bytes=0-..." that holds the start of
 * a longer body (RFC 9111 §3.3): kept as an incomplete entry, so that the
 * next plain GET asks only for the rest; never over a complete stored
 * answer or a longer part. */
static void keep_callers_first_part(hr_xfer *x) {
  httpresp_client *c = x->client;
  const char *why;
  if (x->status != 206 || !x->deliver_body || x->cur->sink ||
      strcmp(x->cur->method, "GET") != 0 ||
      x->cur->cache_mode != HTTPRESP_CACHE_MODE_DEFAULT ||
      (c->handle_identity && !x->cur->cache_partition))
    return;
  hr_headers h;
  hr_headers_init(&h);
  httpresp_request *plain = NULL;
  size_t len = x->resp->body.len;
  if (hr_cache_first_part_fields(&x->hdrs, len, &h, &why) &&
      hr_request_copy(&plain, x->cur) == 0) {
    hr_headers_remove(&plain->headers, "Range");
    hr_stored *s = NULL;
    int64_t now = hr_client_now(c);
    if (hr_cache_request_applies(plain, &why)) {
      hr_cache_consult(c->cache, plain, now, 1, &s, &why, NULL);
      if (!s || (s->e.incomplete && s->e.body_len < len))
        hr_cache_on_partial(c->cache, plain, 200, &h, x->resp->body.data, len,
                            x->request_ms, x->response_ms, &why);
    }
    hr_stored_unref(s);
  }
  httpresp_request_free(plain);
  hr_headers_free(&h);
}

/* What a response from the network does to the cache: unsafe methods
 * invalidate (RFC 9111 §4.4), storable answers are stored (§3). */
static void update_cache(hr_xfer *x) {
  httpresp_cache *cache = x->client->cache;
  if (!cache || x->hc == HR_HC_SERVED)
    return;
  if (hr_cache_method_unsafe(x->cur->method))
    hr_cache_on_unsafe(cache, x->cur, x->status, &x->hdrs);
  if (x->hc == HR_HC_OFF && x->resp->cache_reason &&
      strcmp(x->resp->cache_reason, "range") == 0)
    keep_callers_first_part(x);
  if (x->hc == HR_HC_OFF || x->dec.revalidated || x->dec.next == HR_NEXT_STOP ||
      !hr_cache_hop_storable(x->dec.next == HR_NEXT_RETRY, x->discarded))
    return;
  const char *body = "";
  size_t len = 0;
  if (x->deliver_body && x->cur->sink) {
    if (x->sink_copy_full) {
      x->resp->cache_status = HTTPRESP_CACHE_MISS;
      x->resp->cache_reason = "too-large";
      return;
    }
    body = x->sink_copy.data ? x->sink_copy.data : "";
    len = x->sink_copy.len;
  } else if (x->deliver_body) {
    body = x->resp->body.data ? x->resp->body.data : "";
    len = x->resp->body.len;
  }
  const char *why = "";
  int sys_err = 0;
  int stored = hr_cache_on_answer(cache, x->cur, x->cache_absent, x->status,
                                  &x->hdrs, body, len, x->request_ms,
                                  x->response_ms, &why, &sys_err);
  hr_cache_release(cache, &x->claim); /* the others find it stored now */
  x->resp->cache_status =
      stored ? (x->hc == HR_HC_REVALIDATE ? HTTPRESP_CACHE_UPDATED
                                          : HTTPRESP_CACHE_STORED)
             : HTTPRESP_CACHE_MISS;
  x->resp->cache_reason = stored ? "" : why;
  if (x->resuming) {
    x->resp->cache_status = HTTPRESP_CACHE_RESUMED;
    x->resp->resumed_from = (int64_t)x->stored->e.body_len;
  }
  if (!stored && sys_err) {
    /* The cause a store gave (a full disk, a read-only directory) belongs
     * in the reason: "store-failed" alone cannot be acted on. */
    char msg[64];
    if (strerror_r(sys_err, msg, sizeof(msg)) != 0)
      snprintf(msg, sizeof(msg), "error %d", sys_err);
    hr_response_set_cache_reason(x->resp, "%s: %s", why, msg);
  }
}

/* Hands a stored body over as the final body (a HEAD gets none): to the
 * sink, else copied when `copy`, else shared with the response (a served
 * frozen entry, whose fields keep_final already shared). */
static hr_xfer_state deliver_stored_body(hr_xfer *x, const hr_cache_entry *e,
                                         int copy) {
  if (strcmp(x->cur->method, "HEAD") == 0 || !e->body_len)
    return HR_XS_DONE;
  if (x->cur->sink) {
    if (x->cur->sink(x->cur->sink_ud, e->body, e->body_len) != e->body_len)
      return fail(x, HTTPRESP_E_ABORTED, "the body sink refused the data");
    return HR_XS_DONE;
  }
  if (!copy) {
    hr_response_share_body(x->resp);
    return HR_XS_DONE;
  }
  hr_buf_reset(&x->resp->body);
  if (hr_buf_append(&x->resp->body, e->body, e->body_len) != 0)
    return fail(x, HTTPRESP_E_NOMEM, "out of memory");
  return HR_XS_DONE;
}

/* The 304 selected the stored response: refresh it (RFC 9111 §3.2) and
 * make it the answer, flagged as revalidated. */
static hr_xfer_state deliver_revalidated(hr_xfer *x) {
  int64_t now = hr_client_now(x->client);
  if (record(x, HTTPRESP_DECISION_REVALIDATED) != 0)
    return HR_XS_DONE;
  hr_cache_entry e; /* the stored entry is frozen: the update is a copy */
  hr_cache_entry_init(&e);
  int rc = hr_cache_on_304(x->client->cache, x->cur, x->stored,
                           (hr_304_sel)x->dec.revalidated, &x->hdrs,
                           x->request_ms, x->response_ms, &e);
  if (!rc) {
    hr_headers_clear(&x->hdrs);
    rc = hr_cache_served_headers(&e, now, &x->hdrs);
  }
  hr_xfer_state step;
  if (rc) {
    step = fail(x, HTTPRESP_E_NOMEM, "out of memory");
  } else {
    x->status = e.status;
    int veto = final_headers(x, x->status, &x->hdrs); /* before keep_final
                                                         takes them */
    keep_final(x);
    x->resp->cache_status = HTTPRESP_CACHE_REVALIDATED;
    x->resp->cache_reason =
        x->dec.revalidated == HR_304_SERVE ? "not-updated" : "";
    step = veto ? fail(x, veto, final_headers_msg(veto))
                : deliver_stored_body(x, &e, 1);
  }
  hr_cache_entry_free(&e);
  return step;
}

/* The origin failed: the failed hop is recorded and the stored entry
 * becomes the answer, as a hit would (a stored redirect is followed),
 * flagged stale with how the origin failed. */
static hr_xfer_state serve_stale(hr_xfer *x) {
  httpresp_response *r = x->resp;
  int status = x->stale_stands_in ? x->status : 0; /* 0: unreachable */
  if (record(x, HTTPRESP_DECISION_STALE) != 0)
    return HR_XS_DONE;
  /* The failure is not the answer: what the transfer reported goes. */
  r->curl_code = CURLE_OK;
  hr_decision_free(&x->dec);
  hr_decision_init(&x->dec);
  hr_xfer_state next = serve_stored(x);
  r->cache_status = HTTPRESP_CACHE_STALE;
  r->cache_reason = status ? "origin-error" : "origin-unreachable";
  if (status)
    hr_response_set_cache_reason(r, "origin-error: %d", status);
  return next;
}

/* Applies the decision taken at the end of this hop's headers. */
static hr_xfer_state complete_hop(hr_xfer *x) {
  httpresp_response *r = x->resp;
  httpresp_client *c = x->client;
  if (x->hc != HR_HC_SERVED)
    remember_quiet(x);
  /* The error is not stored over the answer standing in for it. */
  if (x->stale_stands_in)
    return serve_stale(x);
  update_cache(x);
  switch (x->dec.next) {
  case HR_NEXT_DELIVER:
    if (x->dec.revalidated)
      return deliver_revalidated(x);
    if (record(x, x->hc == HR_HC_SERVED ? HTTPRESP_DECISION_CACHE_HIT
                                        : HTTPRESP_DECISION_DELIVER) != 0)
      return HR_XS_DONE;
    keep_final(x);
    if (x->hc != HR_HC_SERVED)
      return HR_XS_DONE;
    if (c->headers_fn) {
      hr_headers_clear(&x->hdrs);
      int rc = hr_cache_served_headers(&x->stored->e, hr_client_now(c),
                                       &x->hdrs);
      if (!rc)
        rc = final_headers(x, x->status, &x->hdrs);
      if (rc)
        return fail(x, rc, final_headers_msg(rc));
    }
    return deliver_stored_body(x, &x->stored->e, 0);
  case HR_NEXT_STOP:
    record(x, HTTPRESP_DECISION_STOP);
    keep_final(x);
    return fail(x, x->dec.error, x->dec.msg);
  case HR_NEXT_FOLLOW:
    return follow(x);
  case HR_NEXT_REPEAT: {
    if (record(x, HTTPRESP_DECISION_REPEAT) != 0)
      return HR_XS_DONE;
    if (x->dec.skip_cache && x->hc != HR_HC_OFF && x->stored)
      hr_cache_on_304(c->cache, x->cur, x->stored, HR_304_NONE, &x->hdrs,
                      x->request_ms, x->response_ms,
                      NULL); /* it no longer matches */
    set_cur(x, x->dec.next_req);
    x->dec.next_req = NULL;
    /* A repeat is asked without conditionals. */
    leave_hop(x, x->dec.skip_cache);
    if (x->dec.suppress_expect)
      x->hist.expect_repeated = 1;
    return HR_XS_ARM;
  }
  case HR_NEXT_RETRY: {
    if (record(x, HTTPRESP_DECISION_RETRY) != 0)
      return HR_XS_DONE;
    /* Kept as the answer in case the wait is aborted; the next hop's
     * response replaces it. */
    keep_final(x);
    r->retry_after_ms = x->dec.retry_after_ms;
    x->hist.retries++;
    int64_t now = hr_client_now(c);
    if (x->dec.wait_ms > 0)
      return plan_wait(x,
                       x->dec.retry_after_ms >= 0 ? HTTPRESP_WAIT_RETRY_AFTER
                                                  : HTTPRESP_WAIT_BACKOFF,
                       now, x->dec.wait_ms);
    return HR_XS_ARM;
  }
  }
  return fail(x, HTTPRESP_E_INVALID_ARG, "unknown decision");
}

/* The one place that moves the request along: each state either names
 * the next one or hands the driver a step. */
static hr_step dispatch(hr_xfer *x) {
  for (;;) {
    switch (x->state) {
    case HR_XS_ARM:
      x->state = arm_at(x, hr_client_now(x->client));
      break;
    case HR_XS_HOP_DONE:
      x->state = complete_hop(x);
      break;
    case HR_XS_RUN:
      return HR_STEP_PERFORM;
    case HR_XS_WAIT:
      return HR_STEP_WAIT;
    case HR_XS_DONE:
      return HR_STEP_DONE;
    }
  }
}

hr_step hr_xfer_begin(hr_xfer *x) {
  x->start_ms = hr_client_now(x->client);
  /* The first visit goes into the history at the first 3xx
   * (decide_at_headers). */
  x->state = arm_at(x, x->start_ms); /* cache status NONE by default */
  return dispatch(x);
}

hr_step hr_xfer_resume(hr_xfer *x) {
  x->state = HR_XS_ARM;
  return dispatch(x);
}

/* A 200 cut short after part of its body (RFC 9111 §3.3): the part is kept
 * to be resumed by the next request, when the cache rules allow. */
static void keep_cut_short(hr_xfer *x) {
  httpresp_cache *cache = x->client->cache;
  if (!cache || !final_seen(x) || !x->deliver_body || x->status != 200 ||
      x->discarded ||
      (x->hc != HR_HC_NETWORK && x->hc != HR_HC_RESUME &&
       x->hc != HR_HC_REVALIDATE && x->hc != HR_HC_BYPASS))
    return;
  const char *body = x->resp->body.data;
  size_t len = x->resp->body.len;
  if (x->cur->sink) {
    if (x->sink_copy_full)
      return;
    body = x->sink_copy.data;
    len = x->sink_copy.len;
  }
  const char *why;
  if (len && hr_cache_on_partial(cache, x->cur, x->status, &x->hdrs, body, len,
                                 x->request_ms, x->response_ms, &why)) {
    x->resp->cache_status = HTTPRESP_CACHE_STORED;
    x->resp->cache_reason = "incomplete";
  }
}

/* How the transfer the handle ran ended: HR_XS_HOP_DONE when a whole
 * response came, HR_XS_DONE otherwise. */
static hr_xfer_state transfer_ended(hr_xfer *x, CURLcode rc) {
  httpresp_response *r = x->resp;
  r->curl_code = rc;
  if (x->abort_code) {
    record(x, HTTPRESP_DECISION_STOP);
    if (final_seen(x))
      keep_final(x);
    return aborted(x, x->abort_code);
  }
  if (rc == CURLE_WRITE_ERROR && x->discard_abort)
    rc = CURLE_OK; /* we dropped an unwanted body on purpose */
  r->curl_code = rc;
  /* The origin could not be reached, or failed before an answer began to
   * reach the caller (never splice a stored body onto part of a new one). */
  if (rc != CURLE_OK && (!final_seen(x) || x->stale_stands_in) &&
      may_serve_stale(x))
    return serve_stale(x);
  if (rc != CURLE_OK)
    keep_cut_short(x);
  if (rc == CURLE_OK && x->resuming &&
      x->body_got != x->stored->e.body_len + x->resume_rest) {
    record(x, HTTPRESP_DECISION_STOP);
    keep_final(x);
    return fail(x, HTTPRESP_E_BAD_RESPONSE,
                "the resumed part is not as long as its Content-Range");
  }
  if (rc != CURLE_OK) {
    if (x->status)
      record(x, HTTPRESP_DECISION_STOP);
    if (final_seen(x))
      keep_final(x);
    long sent = 0;
    curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &sent);
    char msg[sizeof(x->errbuf) + 64];
    int code = hr_policy_curl_failure(rc, sent > 0, x->status != 0,
                                      final_seen(x), x->errbuf, msg,
                                      sizeof(msg));
    hr_response_fail(r, code, "%s", msg);
    return HR_XS_DONE;
  }
  if (!final_seen(x)) { /* a final response without a decision aborted */
    record(x, HTTPRESP_DECISION_STOP);
    return fail(x, HTTPRESP_E_BAD_RESPONSE, "no complete response received");
  }
  return HR_XS_HOP_DONE;
}

hr_step hr_xfer_complete(hr_xfer *x, CURLcode rc) {
  x->state = transfer_ended(x, rc);
  return dispatch(x);
}

httpresp_response *hr_xfer_take_response(hr_xfer *x) {
  httpresp_response *r = x->resp;
  x->resp = NULL;
  hr_xfer_reset_handle(x);
  return r;
}
