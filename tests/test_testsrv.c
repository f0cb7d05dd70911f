/* SPDX-License-Identifier: MIT */
/* Tests of the loopback test server itself, driven by plain libcurl. */
#include <criterion/criterion.h>
#include <curl/curl.h>

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testsrv.h"

static ts_server *ts;

static void setup(void) {
  cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
  ts = ts_start(2);
  cr_assert_not_null(ts);
}

static void teardown(void) {
  ts_stop(ts);
  ts = NULL;
  curl_global_cleanup();
}

TestSuite(testsrv, .init = setup, .fini = teardown, .timeout = 10);

/* ---- client helpers ------------------------------------------------------ */

struct buf {
  char *p;
  size_t n;
};

static void buf_add(struct buf *b, const char *d, size_t n) {
  char *np = realloc(b->p, b->n + n + 1);
  cr_assert_not_null(np);
  b->p = np;
  memcpy(b->p + b->n, d, n);
  b->n += n;
  b->p[b->n] = '\0';
}

static size_t sink(char *d, size_t sz, size_t nm, void *u) {
  buf_add(u, d, sz * nm);
  return sz * nm;
}

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One transfer: body and header lines (every block) collected. */
struct xfer {
  struct buf body, hdr;
  long code;
  CURLcode rc;
  int64_t ms;
};

static void xfer_free(struct xfer *x) {
  free(x->body.p);
  free(x->hdr.p);
  memset(x, 0, sizeof *x);
}

static CURL *new_handle(void) {
  CURL *h = curl_easy_init();
  cr_assert_not_null(h);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
  return h;
}

static void perform(CURL *h, const char *path, int port_idx, struct xfer *x) {
  char *url = ts_url(ts, port_idx, path);
  int64_t t0;
  memset(x, 0, sizeof *x);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, sink);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &x->hdr);
  t0 = now_ms();
  x->rc = curl_easy_perform(h);
  x->ms = now_ms() - t0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->code);
  free(url);
}

/* GET on a fresh handle. */
static void get(const char *path, int port_idx, struct xfer *x) {
  CURL *h = new_handle();
  perform(h, path, port_idx, x);
  curl_easy_cleanup(h);
}

static const char *body_of(const struct xfer *x) {
  return x->body.p ? x->body.p : "";
}

static size_t count_sub(const char *hay, const char *needle) {
  size_t n = 0;
  const char *p = hay;
  while (p && (p = strstr(p, needle)) != NULL) {
    n++;
    p += strlen(needle);
  }
  return n;
}

/* ---- raw socket helpers (for input libcurl would never send) ------------- */

static int raw_connect(int port_idx) {
  struct sockaddr_in a;
  struct timeval tv = {2, 0};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert(fd >= 0);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((unsigned short)ts_port(ts, port_idx));
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

static void raw_send(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    cr_assert(w > 0, "send failed: %s", strerror(errno));
    p += w;
    n -= (size_t)w;
  }
}

/* Sends, half-closes, reads until the server closes. */
static void raw_exchange(const char *req, size_t len, struct buf *out) {
  int fd = raw_connect(0);
  char tmp[4096];
  memset(out, 0, sizeof *out);
  raw_send(fd, req, len);
  shutdown(fd, SHUT_WR);
  for (;;) {
    ssize_t r = recv(fd, tmp, sizeof tmp, 0);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    buf_add(out, tmp, (size_t)r);
  }
  if (!out->p)
    buf_add(out, "", 0);
  close(fd);
}

/* ---- ports and routing -----------------------------------------------------
 */

Test(testsrv, two_ports_different_routes) {
  struct xfer x;
  const ts_request *q;
  cr_assert_gt(ts_port(ts, 0), 0);
  cr_assert_gt(ts_port(ts, 1), 0);
  cr_assert_neq(ts_port(ts, 0), ts_port(ts, 1));
  cr_assert_eq(ts_port(ts, 2), -1);

  ts_simple(ts, 0, "/a", 200, NULL, "port zero");
  ts_simple(ts, 1, "/a", 200, "X-Port: one\r\n", "port one");
  ts_simple(ts, -1, "/any", 200, NULL, "anywhere");

  get("/a", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  cr_assert_eq(x.code, 200);
  cr_assert_str_eq(body_of(&x), "port zero");
  xfer_free(&x);

  get("/a", 1, &x);
  cr_assert_eq(x.code, 200);
  cr_assert_str_eq(body_of(&x), "port one");
  cr_assert(strstr(x.hdr.p, "X-Port: one\r\n"));
  xfer_free(&x);

  get("/any", 1, &x);
  cr_assert_str_eq(body_of(&x), "anywhere");
  xfer_free(&x);
  get("/any", 0, &x);
  cr_assert_str_eq(body_of(&x), "anywhere");
  xfer_free(&x);

  cr_assert_eq(ts_request_count(ts), 4);
  q = ts_request_get(ts, 1);
  cr_assert_eq(q->port_idx, 1);
  cr_assert_str_eq(q->target, "/a");
  cr_assert_eq(ts_request_get(ts, 0)->port_idx, 0);
  cr_assert_neq(ts_request_get(ts, 0)->conn_id, q->conn_id);
}

Test(testsrv, url_building) {
  char *u = ts_url(ts, 1, "/x?y=1");
  char want[64];
  snprintf(want, sizeof want, "http://127.0.0.1:%d/x?y=1", ts_port(ts, 1));
  cr_assert_str_eq(u, want);
  free(u);
  u = ts_url(ts, 0, "rel");
  snprintf(want, sizeof want, "http://127.0.0.1:%d/rel", ts_port(ts, 0));
  cr_assert_str_eq(u, want);
  free(u);
}

Test(testsrv, exact_target_before_path_and_unknown_404) {
  struct xfer x;
  ts_simple(ts, 0, "/q", 200, NULL, "path");
  ts_simple(ts, 0, "/q?exact=1", 200, NULL, "exact");

  get("/q?other=2", 0, &x);
  cr_assert_str_eq(body_of(&x), "path");
  xfer_free(&x);
  get("/q?exact=1", 0, &x);
  cr_assert_str_eq(body_of(&x), "exact");
  xfer_free(&x);

  get("/nowhere", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  cr_assert_eq(x.code, 404);
  cr_assert_gt(x.body.n, 0);
  xfer_free(&x);
  /* a port-0 route is unknown on port 1 */
  get("/q", 1, &x);
  cr_assert_eq(x.code, 404);
  xfer_free(&x);
  cr_assert_str_eq(ts_request_get(ts, 2)->target, "/nowhere");
}

Test(testsrv, route_sequence_last_repeats) {
  struct xfer x;
  CURL *h = new_handle();
  const char *want[] = {"first", "second", "last", "last", "last"};
  size_t i;
  ts_simple(ts, 0, "/seq", 200, NULL, "first");
  ts_simple(ts, 0, "/seq", 201, NULL, "second");
  ts_simple(ts, 0, "/seq", 202, NULL, "last");
  for (i = 0; i < 5; i++) {
    perform(h, "/seq", 0, &x);
    cr_assert_eq(x.rc, CURLE_OK);
    cr_assert_str_eq(body_of(&x), want[i], "request %zu", i);
    cr_assert_eq(x.code, i == 0 ? 200 : i == 1 ? 201 : 202);
    xfer_free(&x);
  }
  /* appended later: used by the next request */
  ts_simple(ts, 0, "/seq", 200, NULL, "appended");
  perform(h, "/seq", 0, &x);
  cr_assert_str_eq(body_of(&x), "appended");
  xfer_free(&x);
  curl_easy_cleanup(h);
}

Test(testsrv, reset_forgets_routes_and_requests) {
  struct xfer x;
  ts_simple(ts, 0, "/r", 200, NULL, "before");
  get("/r", 0, &x);
  cr_assert_str_eq(body_of(&x), "before");
  xfer_free(&x);
  cr_assert_eq(ts_request_count(ts), 1);

  ts_reset(ts);
  cr_assert_eq(ts_request_count(ts), 0);
  cr_assert_null(ts_request_get(ts, 0));
  get("/r", 0, &x);
  cr_assert_eq(x.code, 404);
  xfer_free(&x);

  ts_simple(ts, 0, "/r", 200, NULL, "after");
  get("/r", 0, &x);
  cr_assert_str_eq(body_of(&x), "after");
  xfer_free(&x);
  cr_assert_eq(ts_request_count(ts), 2);
  cr_assert_eq(ts_connection_count(ts), 3);
}

/* ---- interim responses ------------------------------------------------------
 */

Test(testsrv, several_1xx_then_200) {
  struct xfer x;
  ts_resp *r = ts_route(ts, 0, "/interim");
  ts_resp_str(r, "HTTP/1.1 100 Continue\r\n\r\n");
  ts_resp_str(r, "HTTP/1.1 102 Processing\r\n\r\n");
  ts_resp_str(r, "HTTP/1.1 103 Early Hints\r\n"
                 "Link: </style.css>; rel=preload\r\n\r\n");
  ts_resp_printf(r, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", 5,
                 "final");
  get("/interim", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  cr_assert_eq(x.code, 200);
  cr_assert_str_eq(body_of(&x), "final");
  cr_assert_eq(count_sub(x.hdr.p, "HTTP/1.1 1"), 3, "headers: %s", x.hdr.p);
  cr_assert(strstr(x.hdr.p, "HTTP/1.1 100 Continue\r\n"));
  cr_assert(strstr(x.hdr.p, "HTTP/1.1 102 Processing\r\n"));
  cr_assert(strstr(x.hdr.p, "HTTP/1.1 103 Early Hints\r\n"
                            "Link: </style.css>; rel=preload\r\n"));
  cr_assert(strstr(x.hdr.p, "HTTP/1.1 200 OK\r\n"));
  /* the 200 block comes last */
  cr_assert_gt(strstr(x.hdr.p, "HTTP/1.1 200"), strstr(x.hdr.p, "103"));
  xfer_free(&x);
}

/* ---- request recording
 * -------------------------------------------------------- */

Test(testsrv, records_method_target_headers) {
  struct xfer x;
  CURL *h = new_handle();
  struct curl_slist *hl = NULL;
  const ts_request *q;
  ts_simple(ts, 0, "/rec", 200, NULL, "ok");
  hl = curl_slist_append(hl, "X-Multi: one");
  hl = curl_slist_append(hl, "X-Multi: two");
  hl = curl_slist_append(hl, "X-Spaced:    padded value   ");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
  perform(h, "/rec?k=v", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  xfer_free(&x);
  curl_easy_cleanup(h);
  curl_slist_free_all(hl);

  cr_assert_eq(ts_request_count(ts), 1);
  q = ts_request_get(ts, 0);
  cr_assert_str_eq(q->method, "DELETE");
  cr_assert_str_eq(q->target, "/rec?k=v");
  cr_assert_str_eq(q->version, "HTTP/1.1");
  cr_assert_eq(q->conn_seq, 0);
  cr_assert_eq(q->body_len, 0);
  cr_assert(q->body_complete);
  cr_assert_str_eq(q->headers[0].name, "Host");
  cr_assert_str_eq(ts_req_header(q, "x-multi"), "one");
  cr_assert_eq(ts_req_header_count(q, "X-MULTI"), 2);
  cr_assert_str_eq(ts_req_header(q, "X-Spaced"), "padded value");
  cr_assert_null(ts_req_header(q, "X-Absent"));
  cr_assert_eq(ts_req_header_count(q, "X-Absent"), 0);
}

Test(testsrv, records_post_body_content_length) {
  static const char body[] = "a=1\0binary\r\n\0end";
  struct xfer x;
  CURL *h = new_handle();
  const ts_request *q;
  ts_simple(ts, 0, "/post", 201, NULL, "created");
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(sizeof body - 1));
  curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body);
  perform(h, "/post", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  cr_assert_eq(x.code, 201);
  xfer_free(&x);
  curl_easy_cleanup(h);

  q = ts_request_get(ts, 0);
  cr_assert_not_null(q);
  cr_assert_str_eq(q->method, "POST");
  cr_assert_str_eq(ts_req_header(q, "Content-Length"), "16");
  cr_assert_eq(q->body_len, sizeof body - 1);
  cr_assert_eq(memcmp(q->body, body, sizeof body - 1), 0);
  cr_assert_eq(q->body[q->body_len], '\0');
  cr_assert(q->body_complete);
}

struct src {
  const char *p;
  size_t left, step;
};

static size_t reader(char *d, size_t sz, size_t nm, void *u) {
  struct src *s = u;
  size_t n = sz * nm;
  if (n > s->step)
    n = s->step;
  if (n > s->left)
    n = s->left;
  memcpy(d, s->p, n);
  s->p += n;
  s->left -= n;
  return n;
}

Test(testsrv, records_chunked_upload_with_auto_continue) {
  static const char payload[] = "streamed body of unknown size, in pieces";
  struct src src = {payload, sizeof payload - 1, 7};
  struct xfer x;
  CURL *h = new_handle();
  const ts_request *q;
  ts_simple(ts, 0, "/up", 200, NULL, "got it");
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, reader);
  curl_easy_setopt(h, CURLOPT_READDATA, &src);
  /* a long expect timeout: only the server's 100 can make this fast */
  curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 3000L);
  perform(h, "/up", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  cr_assert_eq(x.code, 200);
  cr_assert_str_eq(body_of(&x), "got it");
  cr_assert(strstr(x.hdr.p, "HTTP/1.1 100 Continue\r\n"));
  cr_assert_lt(x.ms, 1500);
  xfer_free(&x);
  curl_easy_cleanup(h);

  q = ts_request_get(ts, 0);
  cr_assert_not_null(q);
  cr_assert_str_eq(ts_req_header(q, "Transfer-Encoding"), "chunked");
  cr_assert_str_eq(ts_req_header(q, "Expect"), "100-continue");
  cr_assert_eq(q->body_len, sizeof payload - 1);
  cr_assert_str_eq(q->body, payload);
  cr_assert(q->body_complete);
}

Test(testsrv, head_on_simple_sends_no_body) {
  struct xfer x;
  CURL *h = new_handle();
  curl_off_t cl = -1;
  ts_simple(ts, 0, "/h", 200, NULL, "twelve bytes");
  curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  perform(h, "/h", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  cr_assert_eq(x.code, 200);
  cr_assert_eq(x.body.n, 0);
  cr_assert(strstr(x.hdr.p, "Content-Length: 12\r\n"));
  curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
  cr_assert_eq(cl, 12);
  xfer_free(&x);
  /* the connection is still in sync: a GET on it gets the body */
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  perform(h, "/h", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  cr_assert_str_eq(body_of(&x), "twelve bytes");
  xfer_free(&x);
  curl_easy_cleanup(h);
  cr_assert_str_eq(ts_request_get(ts, 0)->method, "HEAD");
  cr_assert_eq(ts_connection_count(ts), 1);
}

/* libcurl discards stray bytes after a HEAD answer; look at the wire. */
Test(testsrv, head_on_simple_wire_bytes) {
  struct buf out;
  static const char req[] = "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n";
  const char *end;
  ts_simple(ts, 0, "/h", 200, NULL, "twelve bytes");
  raw_exchange(req, sizeof req - 1, &out);
  cr_assert(strncmp(out.p, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", out.p);
  cr_assert(strstr(out.p, "Content-Length: 12\r\n"));
  end = strstr(out.p, "\r\n\r\n");
  cr_assert_not_null(end);
  cr_assert_eq((size_t)(end + 4 - out.p), out.n, "bytes after head: %s", out.p);
  free(out.p);
}

/* ---- connections ------------------------------------------------------------
 */

Test(testsrv, keep_alive_reuses_connection) {
  struct xfer x;
  CURL *h = new_handle();
  ts_simple(ts, 0, "/k", 200, NULL, "k");
  perform(h, "/k", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  xfer_free(&x);
  perform(h, "/k?again", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  xfer_free(&x);
  curl_easy_cleanup(h);
  cr_assert_eq(ts_request_count(ts), 2);
  cr_assert_eq(ts_request_get(ts, 0)->conn_id, ts_request_get(ts, 1)->conn_id);
  cr_assert_eq(ts_request_get(ts, 1)->conn_seq, 1);
  cr_assert_eq(ts_connection_count(ts), 1);
}

Test(testsrv, close_forces_new_connection) {
  struct xfer x;
  CURL *h = new_handle();
  ts_resp_close(ts_simple(ts, 0, "/c", 200, NULL, "bye"));
  perform(h, "/c", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  cr_assert_str_eq(body_of(&x), "bye");
  cr_assert(strstr(x.hdr.p, "Connection: close\r\n"));
  xfer_free(&x);
  perform(h, "/c", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  xfer_free(&x);
  curl_easy_cleanup(h);
  cr_assert_eq(ts_request_count(ts), 2);
  cr_assert_neq(ts_request_get(ts, 0)->conn_id, ts_request_get(ts, 1)->conn_id);
  cr_assert_eq(ts_connection_count(ts), 2);
}

Test(testsrv, request_connection_close_honoured) {
  struct buf out;
  static const char req[] = "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close"
                            "\r\n\r\n";
  int fd = raw_connect(0);
  char tmp[1024];
  ssize_t r;
  ts_simple(ts, 0, "/a", 200, NULL, "A");
  memset(&out, 0, sizeof out);
  raw_send(fd, req, sizeof req - 1);
  /* no half-close from us: the server must close by itself */
  while ((r = recv(fd, tmp, sizeof tmp, 0)) > 0)
    buf_add(&out, tmp, (size_t)r);
  cr_assert_eq(r, 0, "server did not close");
  close(fd);
  cr_assert(strstr(out.p, "Connection: close\r\n"));
  cr_assert(strstr(out.p, "\r\n\r\nA"));
  free(out.p);
}

Test(testsrv, pipelined_requests_answered_in_order) {
  struct buf out;
  static const char req[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                            "POST /b HTTP/1.1\r\nHost: x\r\n"
                            "Content-Length: 3\r\n\r\nxyz"
                            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  const char *a, *b, *a2;
  ts_simple(ts, 0, "/a", 200, NULL, "A");
  ts_simple(ts, 0, "/b", 200, NULL, "B");
  raw_exchange(req, sizeof req - 1, &out);
  a = strstr(out.p, "\r\n\r\nA");
  b = strstr(out.p, "\r\n\r\nB");
  cr_assert(a && b && a < b, "got: %s", out.p);
  a2 = strstr(b, "\r\n\r\nA");
  cr_assert_not_null(a2);
  free(out.p);
  cr_assert(ts_wait_requests(ts, 3, 1000));
  cr_assert_str_eq(ts_request_get(ts, 1)->body, "xyz");
  cr_assert_eq(ts_request_get(ts, 2)->conn_seq, 2);
  cr_assert_eq(ts_connection_count(ts), 1);
}

/* ---- timing and broken answers --------------------------------------------
 */

Test(testsrv, delays_are_observed) {
  struct xfer x;
  ts_resp *r = ts_route(ts, 0, "/slow");
  ts_resp_str(r, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n");
  ts_resp_delay(r, 150);
  ts_resp_str(r, "abc");
  ts_resp_delay(r, 150);
  ts_resp_str(r, "def");
  get("/slow", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  cr_assert_str_eq(body_of(&x), "abcdef");
  cr_assert_geq(x.ms, 280, "took %lld ms", (long long)x.ms);
  cr_assert_lt(x.ms, 1000, "took %lld ms", (long long)x.ms);
  xfer_free(&x);
}

Test(testsrv, delay_before_simple_response) {
  struct xfer x;
  ts_resp *r = ts_route(ts, 0, "/late");
  ts_resp_delay(r, 300);
  ts_resp_simple(r, 200, NULL, "late");
  get("/late", 0, &x);
  cr_assert_eq(x.rc, CURLE_OK);
  cr_assert_str_eq(body_of(&x), "late");
  cr_assert_geq(x.ms, 280, "took %lld ms", (long long)x.ms);
  cr_assert_lt(x.ms, 1000);
  xfer_free(&x);
}

Test(testsrv, truncated_body_is_partial_file) {
  struct xfer x;
  ts_resp *r = ts_route(ts, 0, "/trunc");
  ts_resp_str(r, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
  ts_resp_close(r);
  get("/trunc", 0, &x);
  cr_assert_eq(x.rc, CURLE_PARTIAL_FILE, "rc %d", (int)x.rc);
  cr_assert_str_eq(body_of(&x), "short");
  xfer_free(&x);
}

Test(testsrv, stall_times_out) {
  struct xfer x;
  CURL *h = new_handle();
  ts_resp *r = ts_route(ts, 0, "/stall");
  ts_resp_str(r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  ts_resp_stall(r);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 300L);
  perform(h, "/stall", 0, &x);
  cr_assert_eq(x.rc, CURLE_OPERATION_TIMEDOUT, "rc %d", (int)x.rc);
  cr_assert_str_eq(body_of(&x), "abc");
  cr_assert_geq(x.ms, 250);
  cr_assert_lt(x.ms, 1000);
  xfer_free(&x);
  curl_easy_cleanup(h);
}

/* ---- Expect: 100-continue
 * ----------------------------------------------------- */

static void post_expect(const char *path, struct xfer *x, long expect_ms) {
  static const char body[] = "some request body";
  CURL *h = new_handle();
  struct curl_slist *hl = curl_slist_append(NULL, "Expect: 100-continue");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, expect_ms);
  perform(h, path, 0, x);
  curl_easy_cleanup(h);
  curl_slist_free_all(hl);
}

Test(testsrv, expect_gets_automatic_100) {
  struct xfer x;
  const ts_request *q;
  ts_simple(ts, 0, "/e", 200, NULL, "fine");
  post_expect("/e", &x, 3000);
  cr_assert_eq(x.rc, CURLE_OK);
  cr_assert_eq(x.code, 200);
  cr_assert_eq(count_sub(x.hdr.p, "HTTP/1.1 100 Continue\r\n"), 1);
  cr_assert_lt(x.ms, 1500, "waited for the expect timeout");
  xfer_free(&x);
  q = ts_request_get(ts, 0);
  cr_assert_str_eq(q->body, "some request body");
  cr_assert(q->body_complete);
}

Test(testsrv, expect_without_auto_100_waits_for_client_timeout) {
  struct xfer x;
  ts_resp_no_auto_continue(ts_simple(ts, 0, "/e", 200, NULL, "fine"));
  post_expect("/e", &x, 300);
  cr_assert_eq(x.rc, CURLE_OK);
  cr_assert_eq(x.code, 200);
  cr_assert_null(strstr(x.hdr.p, "100 Continue"));
  cr_assert_geq(x.ms, 250, "took %lld ms", (long long)x.ms);
  xfer_free(&x);
  cr_assert_str_eq(ts_request_get(ts, 0)->body, "some request body");
}

Test(testsrv, expect_with_scripted_1xx_prefix) {
  struct xfer x;
  ts_resp *r = ts_route(ts, 0, "/e");
  ts_resp_str(r, "HTTP/1.1 100 Continue\r\nX-Mine: yes\r\n\r\n");
  ts_resp_simple(r, 200, NULL, "done");
  post_expect("/e", &x, 3000);
  cr_assert_eq(x.rc, CURLE_OK);
  cr_assert_eq(x.code, 200);
  cr_assert_eq(count_sub(x.hdr.p, "100 Continue"), 1, "%s", x.hdr.p);
  cr_assert(strstr(x.hdr.p, "X-Mine: yes\r\n"));
  cr_assert_lt(x.ms, 1500);
  xfer_free(&x);
  cr_assert_str_eq(ts_request_get(ts, 0)->body, "some request body");
}

Test(testsrv, before_body_417) {
  struct xfer x;
  const ts_request *q;
  ts_resp_before_body(ts_simple(ts, 0, "/e", 417, NULL, "no expectations"));
  post_expect("/e", &x, 3000);
  cr_assert_eq(x.rc, CURLE_OK, "rc %d", (int)x.rc);
  cr_assert_eq(x.code, 417);
  cr_assert_null(strstr(x.hdr.p, "100 Continue"));
  cr_assert_lt(x.ms, 1500);
  xfer_free(&x);
  cr_assert(ts_wait_requests(ts, 1, 1000));
  q = ts_request_get(ts, 0);
  cr_assert_str_eq(ts_req_header(q, "Expect"), "100-continue");
  cr_assert_eq(q->body_len, 0);
  cr_assert_not(q->body_complete);
}

/* ---- bad input --------------------------------------------------------------
 */

Test(testsrv, garbage_gets_400) {
  struct buf out;
  static const char junk[] = "\x01\x02 garbage\r\n\r\n";
  raw_exchange(junk, sizeof junk - 1, &out);
  cr_assert(strncmp(out.p, "HTTP/1.1 400 ", 13) == 0, "got: %s", out.p);
  free(out.p);
  {
    static const char nc[] = "GET / HTTP/1.1\r\nno colon here\r\n\r\n";
    raw_exchange(nc, sizeof nc - 1, &out);
  }
  cr_assert(strncmp(out.p, "HTTP/1.1 400 ", 13) == 0, "got: %s", out.p);
  free(out.p);
  cr_assert_eq(ts_request_count(ts), 0);
}

Test(testsrv, huge_header_gets_431) {
  struct buf out;
  size_t n = TS_MAX_HEADER_BYTES + 4096;
  char *req = malloc(n);
  cr_assert_not_null(req);
  memcpy(req, "GET / HTTP/1.1\r\nX-Big: ", 23);
  memset(req + 23, 'a', n - 23);
  raw_exchange(req, n, &out);
  free(req);
  cr_assert(strncmp(out.p, "HTTP/1.1 431 ", 13) == 0, "got: %.40s", out.p);
  free(out.p);
}

Test(testsrv, huge_body_gets_413) {
  struct buf out;
  static const char req[] = "POST /x HTTP/1.1\r\nHost: x\r\n"
                            "Content-Length: 99999999999999\r\n\r\nabc";
  const ts_request *q;
  raw_exchange(req, sizeof req - 1, &out);
  cr_assert(strncmp(out.p, "HTTP/1.1 413 ", 13) == 0, "got: %s", out.p);
  free(out.p);
  cr_assert(ts_wait_requests(ts, 1, 1000));
  q = ts_request_get(ts, 0);
  cr_assert_str_eq(q->method, "POST");
  cr_assert_not(q->body_complete);
}

Test(testsrv, chunked_with_extensions_and_trailers) {
  struct buf out;
  static const char req[] = "POST /c HTTP/1.1\r\nHost: x\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"
                            "5;name=val\r\nhello\r\n"
                            "6\r\n world\r\n"
                            "0\r\nX-Trailer: t\r\n\r\n";
  const ts_request *q;
  ts_simple(ts, 0, "/c", 200, NULL, "ok");
  raw_exchange(req, sizeof req - 1, &out);
  cr_assert(strncmp(out.p, "HTTP/1.1 200 ", 13) == 0, "got: %s", out.p);
  free(out.p);
  q = ts_request_get(ts, 0);
  cr_assert_not_null(q);
  cr_assert_str_eq(q->body, "hello world");
  cr_assert(q->body_complete);
  cr_assert_null(ts_req_header(q, "X-Trailer"));
}

Test(testsrv, bad_chunk_gets_400) {
  struct buf out;
  static const char req[] = "POST /c HTTP/1.1\r\nHost: x\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"
                            "zz\r\nhello\r\n0\r\n\r\n";
  raw_exchange(req, sizeof req - 1, &out);
  cr_assert(strncmp(out.p, "HTTP/1.1 400 ", 13) == 0, "got: %s", out.p);
  free(out.p);
  cr_assert_not(ts_request_get(ts, 0)->body_complete);
}

Test(testsrv, lost_body_recorded_incomplete) {
  struct buf out;
  static const char req[] = "POST /inc HTTP/1.1\r\nHost: x\r\n"
                            "Content-Length: 10\r\n\r\nabc";
  const ts_request *q;
  raw_exchange(req, sizeof req - 1, &out);
  cr_assert_eq(out.n, 0, "got: %s", out.p);
  free(out.p);
  cr_assert(ts_wait_requests(ts, 1, 1000));
  q = ts_request_get(ts, 0);
  cr_assert_eq(q->body_len, 3);
  cr_assert_str_eq(q->body, "abc");
  cr_assert_not(q->body_complete);
  cr_assert_not(ts_wait_requests(ts, 2, 50));
}

/* ---- scale
 * ---------------------------------------------------------------------- */

#define MANY 300

Test(testsrv, hundreds_of_concurrent_connections) {
  static CURL *h[MANY];
  static struct buf bodies[MANY];
  CURLM *m = curl_multi_init();
  struct rlimit rl;
  char *url = ts_url(ts, 0, "/many");
  int running = 1, i, ok = 0;
  CURLMsg *msg;
  size_t *ids, distinct = 0, k;
  ts_resp *r;

  /* 2 descriptors per connection (client + server) in this process */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4 * MANY + 64) {
    rl.rlim_cur = rl.rlim_max < 4 * MANY + 64 ? rl.rlim_max : 4 * MANY + 64;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* the delay keeps every connection busy, so none can be reused */
  r = ts_route(ts, 0, "/many");
  ts_resp_delay(r, 200);
  ts_resp_simple(r, 200, NULL, "many");

  for (i = 0; i < MANY; i++) {
    h[i] = new_handle();
    memset(&bodies[i], 0, sizeof bodies[i]);
    curl_easy_setopt(h[i], CURLOPT_URL, url);
    curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h[i], CURLOPT_WRITEDATA, &bodies[i]);
    curl_multi_add_handle(m, h[i]);
  }
  while (running) {
    cr_assert_eq(curl_multi_perform(m, &running), CURLM_OK);
    if (running)
      curl_multi_poll(m, NULL, 0, 100, NULL);
  }
  while ((msg = curl_multi_info_read(m, &i)) != NULL)
    if (msg->msg == CURLMSG_DONE && msg->data.result == CURLE_OK)
      ok++;
  cr_assert_eq(ok, MANY);
  for (i = 0; i < MANY; i++) {
    cr_assert_str_eq(bodies[i].p ? bodies[i].p : "", "many");
    curl_multi_remove_handle(m, h[i]);
    curl_easy_cleanup(h[i]);
    free(bodies[i].p);
  }
  curl_multi_cleanup(m);
  free(url);

  cr_assert_eq(ts_request_count(ts), MANY);
  cr_assert_eq(ts_connection_count(ts), MANY);
  ids = calloc(MANY + 1, sizeof *ids);
  cr_assert_not_null(ids);
  for (k = 0; k < MANY; k++) {
    size_t id = ts_request_get(ts, k)->conn_id;
    cr_assert(id >= 1 && id <= MANY);
    if (!ids[id]++)
      distinct++;
  }
  free(ids);
  cr_assert_eq(distinct, MANY);
}
