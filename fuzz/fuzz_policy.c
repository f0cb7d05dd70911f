/* SPDX-License-Identifier: MIT */
/* hr_policy_decide, the pure policy core, end to end.
 *
 * Input: 10 bytes of settings, then text lines:
 *   byte 0  policy bits: follow, keep_post, follow_300, refuse_downgrade,
 *           keep Authorization, keep Cookie, 2 bits choosing the schemes
 *   byte 1  request bits: 2 bits body kind (none, memory, stream with and
 *           without rewind), credentials, expect_repeated, 4 bits retries
 *   byte 2  max_redirects (0..31)     byte 3  max_retries (0..7), backoff
 *   byte 4  max wait and deadline     byte 5  redirects so far
 *   byte 6  Set-Cookie epoch          bytes 7-8  status, 100 + n % 900
 *   byte 9  now and the jitter draw
 *   "METHOD URL"      the caller's request (a fixed one when invalid)
 *   "URL"             this hop's URL (empty or invalid: the caller's)
 *   request fields "Name: value", "> METHOD URL" visits in the history,
 *   "+" for a response that set a cookie; up to an empty line
 *   response fields (Location, Retry-After, Date, Set-Cookie...) to the end,
 *   parsed with hr_parse_header_block. */
#include "fuzz.h"
#include "httpdate.h"
#include "objects.h"
#include "policy.h"
#include "url.h"

static const char *const scheme_lists[] = {"http,https", "https",
                                           " HTTP , https,ftp", "data,http"};

/* Settings as the client's setters admit them: waits, deadlines and
 * backoff bounds are never negative, a backoff cap is at least its base,
 * and the jitter draw lies in [0, cap] (hr_client_random).  The clock is
 * the caller's (httpresp_client_set_clock), so now may be anything. */
static const int64_t wait_choices[] = {0, 1000, 60000,   INT64_MAX,
                                       1, 500,  3600000, 86400000};
static const int64_t deadline_choices[] = {0, 500,   60000, INT64_MAX,
                                           1, 30000, 1000,  86400000};
static const int64_t now_choices[] = {
    INT64_C(1000000), 0,  INT64_C(1700000000000),   INT64_MAX,
    INT64_MIN,        -1, INT64_C(253402300799000), INT64_C(784111777000)};
static const uint64_t random_choices[] = {
    0, 1, 999, UINT64_MAX, 250, 7919, 0x9E3779B97F4A7C15u, 100000};
static const int64_t backoff_choices[] = {0, 100, 1000, INT64_MAX};

/* Never called: the policy core does no I/O.  The signature is
 * httpresp_read_fn's, hence the non-const buffer. */
static size_t fake_read(void *ud,
                        char *buf, /* NOLINT(readability-non-const-parameter) */
                        size_t len) {
  (void)ud;
  (void)buf;
  (void)len;
  return 0;
}

static int fake_rewind(void *ud) {
  (void)ud;
  return 0;
}

/* A request from "METHOD URL", or NULL. */
static httpresp_request *request_from(const char *line, size_t len) {
  const char *sp = memchr(line, ' ', len);
  if (!sp)
    return NULL;
  char *method = fz_strndup(line, (size_t)(sp - line));
  char *url = fz_strndup(sp + 1, len - (size_t)(sp - line) - 1);
  httpresp_request *r = NULL;
  (void)httpresp_request_new(&r, method, url);
  free(method);
  free(url);
  return r;
}

static int kept(const hr_policy *p, const char *name) {
  for (size_t i = 0; i < p->nkeep; i++)
    if (hr_strcaseeq(p->keep_headers[i], name))
      return 1;
  return 0;
}

static int was_visited(const hr_history *h, const char *method,
                       const char *url) {
  char *key = hr_url_without_fragment(url);
  FUZZ_CHECK(key != NULL);
  int hit = 0;
  for (size_t i = 0; i < h->n; i++)
    if (h->v[i].cookie_epoch == h->cookie_epoch &&
        strcmp(h->v[i].method, method) == 0 && strcmp(h->v[i].url, key) == 0)
      hit = 1;
  free(key);
  return hit;
}

/* The target: an allowed scheme, a valid request URL for http(s), no
 * downgrade when refused, no loop. */
static void check_follow_target(const hr_policy_input *in,
                                const httpresp_request *n) {
  const hr_policy *p = in->policy;
  char scheme[32];
  FUZZ_CHECK(hr_url_scheme(n->url, scheme, sizeof(scheme)) == 0);
  FUZZ_CHECK(hr_scheme_in_list(scheme, p->schemes));
  int http = strcmp(scheme, "http") == 0;
  if (http || strcmp(scheme, "https") == 0)
    FUZZ_CHECK(hr_url_check_request(n->url) == 0);
  char cur_scheme[32];
  if (p->refuse_downgrade && http &&
      hr_url_scheme(in->cur->url, cur_scheme, sizeof(cur_scheme)) == 0)
    FUZZ_CHECK(strcmp(cur_scheme, "https") != 0);
  FUZZ_CHECK(!was_visited(in->history, n->method, n->url));
}

/* Method and body per DESIGN.md's table. */
static void check_follow_method(const hr_policy_input *in,
                                const httpresp_request *n) {
  const httpresp_request *cur = in->cur;
  int safe =
      hr_strcaseeq(cur->method, "GET") || hr_strcaseeq(cur->method, "HEAD");
  if (safe || in->status == 307 || in->status == 308)
    FUZZ_CHECK(strcmp(n->method, cur->method) == 0);
  if (in->status == 303)
    FUZZ_CHECK(hr_strcaseeq(n->method, "GET") ||
               hr_strcaseeq(n->method, "HEAD"));
  if (strcmp(n->method, cur->method) != 0) {
    FUZZ_CHECK(n->body_kind == HR_BODY_NONE);
    FUZZ_CHECK(hr_headers_get(&n->headers, "Content-Type") == NULL);
    FUZZ_CHECK(hr_headers_get(&n->headers, "Content-Length") == NULL);
    FUZZ_CHECK(hr_headers_get(&n->headers, "Transfer-Encoding") == NULL);
    return;
  }
  FUZZ_CHECK(n->body_kind == cur->body_kind);
  if (n->body_kind == HR_BODY_MEMORY)
    FUZZ_CHECK(n->body_len == cur->body_len &&
               memcmp(n->body, cur->body, n->body_len) == 0);
  if (n->body_kind == HR_BODY_STREAM)
    FUZZ_CHECK(n->rewind != NULL);
}

/* Credentials travel only to the origin the caller addressed. */
static void check_follow_credentials(const hr_policy_input *in,
                                     const hr_decision *d) {
  static const char *const names[] = {"Authorization", "Proxy-Authorization",
                                      "Cookie"};
  const hr_policy *p = in->policy;
  const httpresp_request *n = d->next_req;
  int same = hr_url_same_origin(in->orig->url, n->url);
  FUZZ_CHECK(d->cross_origin == (same != 1));
  for (size_t k = 0; k < HR_ARRAY_LEN(names); k++) {
    if (kept(p, names[k]))
      continue;
    size_t count = hr_headers_count(&n->headers, names[k]);
    if (d->cross_origin)
      FUZZ_CHECK(count == 0);
    else
      FUZZ_CHECK(count == hr_headers_count(&in->orig->headers, names[k]));
  }
}

static void check_follow(const hr_policy_input *in, const hr_decision *d) {
  const hr_policy *p = in->policy;
  const httpresp_request *n = d->next_req;
  FUZZ_CHECK(n != NULL && n->url != NULL && n->method != NULL);
  FUZZ_CHECK(p->follow);
  FUZZ_CHECK(in->history->redirects < p->max_redirects);
  FUZZ_CHECK(hr_is_token(n->method, strlen(n->method)));
  check_follow_target(in, n);
  check_follow_method(in, n);
  check_follow_credentials(in, d);
}

static void check_retry(const hr_policy_input *in, const hr_decision *d) {
  const hr_policy *p = in->policy;
  FUZZ_CHECK(d->next_req == NULL);
  FUZZ_CHECK(in->status == 429 || in->status == 503 || in->status == 413);
  FUZZ_CHECK(d->wait_ms >= 0 && d->wait_ms <= p->max_wait_ms);
  FUZZ_CHECK(in->history->retries < p->max_retries);
  FUZZ_CHECK(hr_request_body_replayable(in->cur));
  if (p->deadline_ms > 0)
    FUZZ_CHECK(hr_sat_add(in->now_ms, d->wait_ms) <=
               hr_sat_add(in->start_ms, p->deadline_ms));
}

static void check_decision(const hr_policy_input *in, const hr_decision *d) {
  /* the message is built for a STOP only */
  FUZZ_CHECK(d->msg != NULL);
  FUZZ_CHECK(d->next == HR_NEXT_STOP || (d->msg[0] == '\0' && !d->msg_own));
  FUZZ_CHECK(d->retry_after_ms == -1 ||
             (d->retry_after_ms >= 0 && d->retry_after_ms <= HR_DELAY_MAX_MS));
  switch (d->next) {
  case HR_NEXT_DELIVER:
    FUZZ_CHECK(d->next_req == NULL);
    break;
  case HR_NEXT_FOLLOW:
    check_follow(in, d);
    break;
  case HR_NEXT_RETRY:
    check_retry(in, d);
    break;
  case HR_NEXT_REPEAT:
    FUZZ_CHECK(in->status == 417 && !in->history->expect_repeated);
    FUZZ_CHECK(d->next_req != NULL && d->suppress_expect);
    FUZZ_CHECK(hr_headers_get(&d->next_req->headers, "Expect") == NULL);
    FUZZ_CHECK(strcmp(d->next_req->url, in->cur->url) == 0);
    FUZZ_CHECK(strcmp(d->next_req->method, in->cur->method) == 0);
    break;
  case HR_NEXT_STOP:
    FUZZ_CHECK(d->next_req == NULL);
    FUZZ_CHECK(d->error > 0 && d->error < HTTPRESP_E_COUNT_);
    FUZZ_CHECK(d->msg[0] != '\0');
    break;
  default:
    FUZZ_CHECK(!"unknown decision");
  }
}

/* The settings bytes. */
typedef struct settings {
  uint8_t b[7];
  uint16_t status;
  uint8_t clock;
} settings;

/* Keep-lists and scheme lists live in the caller's storage. */
typedef struct policy_store {
  char keep_auth[16];
  char keep_cookie[16];
  char *keep[2];
  char schemes[32];
} policy_store;

static void policy_from(const settings *st, hr_policy *p, policy_store *ps) {
  uint8_t b0 = st->b[0], b3 = st->b[3], b4 = st->b[4];
  memset(p, 0, sizeof(*p));
  memset(ps, 0, sizeof(*ps));
  p->follow = b0 & 1;
  p->keep_post = (b0 >> 1) & 1;
  p->follow_300 = (b0 >> 2) & 1;
  p->refuse_downgrade = (b0 >> 3) & 1;
  snprintf(ps->keep_auth, sizeof(ps->keep_auth), "authorization");
  snprintf(ps->keep_cookie, sizeof(ps->keep_cookie), "Cookie");
  if (b0 & 0x10)
    ps->keep[p->nkeep++] = ps->keep_auth;
  if (b0 & 0x20)
    ps->keep[p->nkeep++] = ps->keep_cookie;
  p->keep_headers = ps->keep;
  snprintf(ps->schemes, sizeof(ps->schemes), "%s", scheme_lists[b0 >> 6]);
  p->schemes = ps->schemes;
  p->max_redirects = st->b[2] & 31u;
  p->max_retries = b3 & 7u;
  p->backoff_base_ms = backoff_choices[(b3 >> 3) & 3];
  p->backoff_cap_ms = backoff_choices[(b3 >> 5) & 3];
  if (p->backoff_cap_ms < p->backoff_base_ms)
    p->backoff_cap_ms = p->backoff_base_ms;
  p->max_wait_ms = wait_choices[b4 & 7];
  p->deadline_ms = deadline_choices[(b4 >> 3) & 7];
  p->max_body = (size_t)1 << 30;
  p->max_header_bytes = (size_t)256 * 1024;
  p->max_header_fields = 1000;
}

/* "> METHOD URL" adds a visit. */
static void add_visit(hr_history *h, const char *line, size_t len) {
  const char *sp = memchr(line + 2, ' ', len - 2);
  if (!sp || h->n >= 64)
    return;
  char *m = fz_strndup(line + 2, (size_t)(sp - line - 2));
  char *u = fz_strndup(sp + 1, len - (size_t)(sp - line) - 1);
  FUZZ_CHECK(hr_history_visit(h, m, u) == 0);
  free(m);
  free(u);
}

/* Request fields, visits and cookie marks, up to an empty line. */
static void read_request_section(fz *f, httpresp_request *orig,
                                 httpresp_request *cur, hr_history *h) {
  while (f->n > 0) {
    size_t len;
    const char *line = fz_until(f, '\n', &len);
    if (len && line[len - 1] == '\r')
      len--;
    if (len == 0)
      return;
    if (len == 1 && line[0] == '+') {
      h->cookie_epoch++;
    } else if (len > 2 && line[0] == '>' && line[1] == ' ') {
      add_visit(h, line, len);
    } else {
      /* Both the caller's request and this hop carry the field, as a
       * redirect chain that began with it would. */
      (void)hr_headers_add_line(&orig->headers, line, len);
      (void)hr_headers_add_line(&cur->headers, line, len);
    }
  }
}

static void set_body(httpresp_request *r, uint8_t b1) {
  static const char body[] = "a=1&b=2";
  switch (b1 & 3) {
  case 1:
    FUZZ_CHECK(httpresp_request_set_body(r, body, sizeof(body) - 1) == 0);
    break;
  case 2:
    FUZZ_CHECK(httpresp_request_set_body_stream(r, fake_read, fake_rewind, 7,
                                                NULL) == 0);
    break;
  case 3:
    FUZZ_CHECK(httpresp_request_set_body_stream(r, fake_read, NULL, 7, NULL) ==
               0);
    break;
  default:
    break;
  }
  if (b1 & 4)
    FUZZ_CHECK(httpresp_request_set_credentials(r, "user", "secret", 0) == 0);
}

/* The caller's request from "METHOD URL", this hop's from the URL line. */
static void read_requests(fz *f, httpresp_request **orig,
                          httpresp_request **cur) {
  size_t len;
  const char *line = fz_until(f, '\n', &len);
  *orig = request_from(line, len);
  if (!*orig)
    FUZZ_CHECK(httpresp_request_new(orig, "GET", "http://example.com/a") == 0);
  line = fz_until(f, '\n', &len);
  char *cur_url = fz_strndup(line, len);
  *cur = NULL;
  (void)httpresp_request_new(cur, (*orig)->method,
                             len ? cur_url : (*orig)->url);
  if (!*cur)
    FUZZ_CHECK(httpresp_request_new(cur, (*orig)->method, (*orig)->url) == 0);
  free(cur_url);
}

/* The rest of the input as fields after a status line (the status itself
 * comes from the settings bytes). */
static void read_response(const fz *f, hr_headers *resp) {
  static const char status_line[] = "HTTP/1.1 200 X\r\n";
  size_t slen = sizeof(status_line) - 1;
  char *block = malloc(slen + f->n);
  FUZZ_CHECK(block != NULL);
  memcpy(block, status_line, slen);
  if (f->n)
    memcpy(block + slen, f->p, f->n);
  int ignored;
  (void)hr_parse_header_block(block, slen + f->n, &ignored, resp);
  free(block);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (size_t)16 * 1024)
    return 0;
  fz f = fz_make(data, size);
  settings st;
  for (size_t i = 0; i < sizeof(st.b); i++)
    st.b[i] = fz_u8(&f);
  st.status = fz_u16(&f);
  st.clock = fz_u8(&f);

  hr_policy p;
  policy_store ps;
  policy_from(&st, &p, &ps);

  httpresp_request *orig, *cur;
  read_requests(&f, &orig, &cur);
  hr_history hist;
  hr_history_init(&hist);
  hist.redirects = st.b[5];
  hist.retries = (st.b[1] >> 4) & 15u;
  hist.expect_repeated = (st.b[1] >> 3) & 1;
  hist.cookie_epoch = st.b[6] & 3u;
  FUZZ_CHECK(hr_history_visit(&hist, orig->method, orig->url) == 0);
  if (strcmp(cur->url, orig->url) != 0)
    FUZZ_CHECK(hr_history_visit(&hist, cur->method, cur->url) == 0);
  read_request_section(&f, orig, cur, &hist);
  set_body(orig, st.b[1]);
  set_body(cur, st.b[1]);
  hr_headers resp;
  hr_headers_init(&resp);
  read_response(&f, &resp);

  hr_policy_input in;
  memset(&in, 0, sizeof(in));
  in.policy = &p;
  in.orig = orig;
  in.cur = cur;
  in.history = &hist;
  in.status = 100 + st.status % 900;
  in.resp = &resp;
  in.now_ms = now_choices[st.clock & 7];
  in.start_ms = (st.clock & 0x40) ? in.now_ms : hr_sat_add(in.now_ms, -10000);
  if (p.backoff_base_ms > 0 && p.backoff_cap_ms > 0)
    in.random_ms = (int64_t)(random_choices[(st.clock >> 3) & 7] %
                             ((uint64_t)p.backoff_cap_ms + 1));

  hr_decision d;
  hr_decision_init(&d);
  int rc = hr_policy_decide(&in, &d);
  FUZZ_CHECK(rc == 0 || rc == HTTPRESP_E_NOMEM);
  if (rc == 0)
    check_decision(&in, &d);
  hr_decision_free(&d);
  FUZZ_CHECK(d.next_req == NULL);

  hr_headers_free(&resp);
  hr_history_free(&hist);
  httpresp_request_free(cur);
  httpresp_request_free(orig);
  return 0;
}
