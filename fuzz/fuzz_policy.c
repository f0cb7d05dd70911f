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
static const int64_t wait_choices[] = {0,         1000, 60000,  INT64_MAX,
                                       1,         500,  3600000, 86400000};
static const int64_t deadline_choices[] = {0, 500,   60000, INT64_MAX,
                                           1, 30000, 1000,  86400000};
static const int64_t now_choices[] = {INT64_C(1000000), 0,
                                      INT64_C(1700000000000), INT64_MAX,
                                      INT64_MIN, -1, INT64_C(253402300799000),
                                      INT64_C(784111777000)};
static const uint64_t random_choices[] = {0,   1,   999,        UINT64_MAX,
                                          250, 7919, 0x9E3779B97F4A7C15u,
                                          100000};
static const int64_t backoff_choices[] = {0, 100, 1000, INT64_MAX};

static size_t fake_read(void *ud, char *buf, size_t len) {
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

static int is_sensitive_name(const char *name) {
  return hr_strcaseeq(name, "Authorization") ||
         hr_strcaseeq(name, "Proxy-Authorization") ||
         hr_strcaseeq(name, "Cookie");
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

static void check_follow(const hr_policy_input *in, const hr_decision *d) {
  const hr_policy *p = in->policy;
  const httpresp_request *n = d->next_req;
  FUZZ_CHECK(n != NULL && n->url != NULL && n->method != NULL);
  FUZZ_CHECK(p->follow);
  FUZZ_CHECK(in->history->redirects < p->max_redirects);
  FUZZ_CHECK(hr_is_token(n->method, strlen(n->method)));

  char scheme[32];
  FUZZ_CHECK(hr_url_scheme(n->url, scheme, sizeof(scheme)) == 0);
  FUZZ_CHECK(hr_scheme_in_list(scheme, p->schemes));
  if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)
    FUZZ_CHECK(hr_url_check_request(n->url) == 0);
  char cur_scheme[32];
  if (p->refuse_downgrade &&
      hr_url_scheme(in->cur->url, cur_scheme, sizeof(cur_scheme)) == 0 &&
      strcmp(cur_scheme, "https") == 0)
    FUZZ_CHECK(strcmp(scheme, "http") != 0);
  FUZZ_CHECK(!was_visited(in->history, n->method, n->url));

  /* Method and body per DESIGN.md's table. */
  int safe = hr_strcaseeq(in->cur->method, "GET") ||
             hr_strcaseeq(in->cur->method, "HEAD");
  if (safe || in->status == 307 || in->status == 308)
    FUZZ_CHECK(strcmp(n->method, in->cur->method) == 0);
  if (in->status == 303)
    FUZZ_CHECK(hr_strcaseeq(n->method, "GET") ||
               hr_strcaseeq(n->method, "HEAD"));
  if (strcmp(n->method, in->cur->method) != 0) {
    FUZZ_CHECK(n->body_kind == HR_BODY_NONE);
    FUZZ_CHECK(hr_headers_get(&n->headers, "Content-Type") == NULL);
    FUZZ_CHECK(hr_headers_get(&n->headers, "Content-Length") == NULL);
    FUZZ_CHECK(hr_headers_get(&n->headers, "Transfer-Encoding") == NULL);
  } else {
    FUZZ_CHECK(n->body_kind == in->cur->body_kind);
    if (n->body_kind == HR_BODY_MEMORY)
      FUZZ_CHECK(n->body_len == in->cur->body_len &&
                 memcmp(n->body, in->cur->body, n->body_len) == 0);
    if (n->body_kind == HR_BODY_STREAM)
      FUZZ_CHECK(n->rewind != NULL);
  }

  /* Credentials travel only to the origin the caller addressed. */
  int same = hr_url_same_origin(in->orig->url, n->url);
  FUZZ_CHECK(d->cross_origin == (same != 1));
  for (size_t i = 0; i < n->headers.n; i++) {
    const char *name = n->headers.v[i].name;
    if (d->cross_origin && is_sensitive_name(name))
      FUZZ_CHECK(kept(p, name));
  }
  if (!d->cross_origin) {
    static const char *const names[] = {"Authorization",
                                        "Proxy-Authorization", "Cookie"};
    for (size_t k = 0; k < 3; k++)
      if (!kept(p, names[k]))
        FUZZ_CHECK(hr_headers_count(&n->headers, names[k]) ==
                   hr_headers_count(&in->orig->headers, names[k]));
  }
}

static void check_decision(const hr_policy_input *in, const hr_decision *d) {
  const hr_policy *p = in->policy;
  FUZZ_CHECK(memchr(d->msg, '\0', sizeof(d->msg)) != NULL);
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
    FUZZ_CHECK(d->next_req == NULL);
    FUZZ_CHECK(in->status == 429 || in->status == 503 || in->status == 413);
    FUZZ_CHECK(d->wait_ms >= 0 && d->wait_ms <= p->max_wait_ms);
    FUZZ_CHECK(in->history->retries < p->max_retries);
    FUZZ_CHECK(hr_request_body_replayable(in->cur));
    if (p->deadline_ms > 0)
      FUZZ_CHECK(hr_sat_add(in->now_ms, d->wait_ms) <=
                 hr_sat_add(in->start_ms, p->deadline_ms));
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 16 * 1024)
    return 0;
  fz f = fz_make(data, size);
  uint8_t b0 = fz_u8(&f), b1 = fz_u8(&f), b2 = fz_u8(&f), b3 = fz_u8(&f);
  uint8_t b4 = fz_u8(&f), b5 = fz_u8(&f), b6 = fz_u8(&f);
  uint16_t st = fz_u16(&f);
  uint8_t b9 = fz_u8(&f);

  hr_policy p;
  memset(&p, 0, sizeof(p));
  p.follow = b0 & 1;
  p.keep_post = (b0 >> 1) & 1;
  p.follow_300 = (b0 >> 2) & 1;
  p.refuse_downgrade = (b0 >> 3) & 1;
  char keep_auth[] = "authorization", keep_cookie[] = "Cookie";
  char *keep[2];
  if (b0 & 0x10)
    keep[p.nkeep++] = keep_auth;
  if (b0 & 0x20)
    keep[p.nkeep++] = keep_cookie;
  p.keep_headers = keep;
  char schemes[32];
  snprintf(schemes, sizeof(schemes), "%s", scheme_lists[b0 >> 6]);
  p.schemes = schemes;
  p.max_redirects = b2 & 31u;
  p.max_retries = b3 & 7u;
  p.backoff_base_ms = backoff_choices[(b3 >> 3) & 3];
  p.backoff_cap_ms = backoff_choices[(b3 >> 5) & 3];
  if (p.backoff_cap_ms < p.backoff_base_ms)
    p.backoff_cap_ms = p.backoff_base_ms;
  p.max_wait_ms = wait_choices[b4 & 7];
  p.deadline_ms = deadline_choices[(b4 >> 3) & 7];
  p.max_body = (size_t)1 << 30;
  p.max_header_bytes = 256 * 1024;
  p.max_header_fields = 1000;

  size_t len;
  const char *line = fz_until(&f, '\n', &len);
  httpresp_request *orig = request_from(line, len);
  if (!orig)
    FUZZ_CHECK(httpresp_request_new(&orig, "GET", "http://example.com/a") ==
               0);
  line = fz_until(&f, '\n', &len);
  char *cur_url = fz_strndup(line, len);
  httpresp_request *cur = NULL;
  (void)httpresp_request_new(&cur, orig->method,
                             len ? cur_url : orig->url);
  if (!cur)
    FUZZ_CHECK(httpresp_request_new(&cur, orig->method, orig->url) == 0);
  free(cur_url);

  hr_history hist;
  hr_history_init(&hist);
  hist.redirects = b5;
  hist.retries = (b1 >> 4) & 15u;
  hist.expect_repeated = (b1 >> 3) & 1;
  hist.cookie_epoch = b6 & 3u;
  FUZZ_CHECK(hr_history_visit(&hist, orig->method, orig->url) == 0);
  if (strcmp(cur->url, orig->url) != 0)
    FUZZ_CHECK(hr_history_visit(&hist, cur->method, cur->url) == 0);
  while (f.n > 0) {
    line = fz_until(&f, '\n', &len);
    if (len && line[len - 1] == '\r')
      len--;
    if (len == 0)
      break;
    if (len == 1 && line[0] == '+') {
      hist.cookie_epoch++;
    } else if (len > 2 && line[0] == '>' && line[1] == ' ') {
      const char *sp = memchr(line + 2, ' ', len - 2);
      if (sp && hist.n < 64) {
        char *m = fz_strndup(line + 2, (size_t)(sp - line - 2));
        char *u = fz_strndup(sp + 1, len - (size_t)(sp - line) - 1);
        FUZZ_CHECK(hr_history_visit(&hist, m, u) == 0);
        free(m);
        free(u);
      }
    } else {
      /* Both the caller's request and this hop carry the field, as a
       * redirect chain that began with it would. */
      (void)hr_headers_add_line(&orig->headers, line, len);
      (void)hr_headers_add_line(&cur->headers, line, len);
    }
  }

  switch (b1 & 3) {
  case 1:
    FUZZ_CHECK(httpresp_request_set_body(orig, "a=1&b=2", 7) == 0);
    FUZZ_CHECK(httpresp_request_set_body(cur, "a=1&b=2", 7) == 0);
    break;
  case 2:
  case 3: {
    httpresp_rewind_fn rw = (b1 & 3) == 2 ? fake_rewind : NULL;
    FUZZ_CHECK(httpresp_request_set_body_stream(orig, fake_read, rw, 7,
                                                NULL) == 0);
    FUZZ_CHECK(httpresp_request_set_body_stream(cur, fake_read, rw, 7,
                                                NULL) == 0);
    break;
  }
  default:
    break;
  }
  if (b1 & 4) {
    FUZZ_CHECK(httpresp_request_set_credentials(orig, "user", "secret", 0) ==
               0);
    FUZZ_CHECK(httpresp_request_set_credentials(cur, "user", "secret", 0) ==
               0);
  }

  /* The response: the rest of the input as fields after a status line
   * (the status itself comes from the settings bytes). */
  static const char status_line[] = "HTTP/1.1 200 X\r\n";
  size_t blen = sizeof(status_line) - 1 + f.n;
  char *block = malloc(blen);
  FUZZ_CHECK(block != NULL);
  memcpy(block, status_line, sizeof(status_line) - 1);
  if (f.n)
    memcpy(block + sizeof(status_line) - 1, f.p, f.n);
  hr_headers resp;
  hr_headers_init(&resp);
  int ignored;
  (void)hr_parse_header_block(block, blen, &ignored, &resp);
  free(block);

  hr_policy_input in;
  memset(&in, 0, sizeof(in));
  in.policy = &p;
  in.orig = orig;
  in.cur = cur;
  in.history = &hist;
  in.status = 100 + st % 900;
  in.resp = &resp;
  in.now_ms = now_choices[b9 & 7];
  in.start_ms = (b9 & 0x40) ? in.now_ms : hr_sat_add(in.now_ms, -10000);
  if (p.backoff_base_ms > 0 && p.backoff_cap_ms > 0)
    in.random_ms = (int64_t)(random_choices[(b9 >> 3) & 7] %
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
