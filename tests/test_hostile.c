/* SPDX-License-Identifier: MIT */
/* Hostile servers (DESIGN.md, "Bad input"): every case asserts the exact
 * code the request ends with, that a response object comes back with a
 * message, that the call returns within a bounded time and, where a server
 * can send without end, that the client stopped reading early.
 *
 * Two servers are used: the scripted loopback server of tests/support for
 * finite hostile answers, and a small generator below for answers that
 * never end (it produces its bytes on the fly, so what it sends measures
 * how much the client accepted without the server holding it in memory).
 *
 * Time bounds are multiplied by HTTPRESP_TEST_TIME_SCALE when set (the
 * valgrind run sets it), since valgrind slows everything 20-50x. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "cache/codec.h"
#include "common.h"
#include "fixtures.h"
#include "httpdate.h"
#include "testsrv.h"

static ts_server *ts;
static httpresp_client *client;
static CURL *easy;
static fake_clock clk;

static void setup(void) { fixture_suite_start(2, &ts, &clk, &client, &easy); }

static void teardown(void) { fixture_suite_stop(ts, client, easy); }

TestSuite(hostile, .init = setup, .fini = teardown);

/* ---- helpers ------------------------------------------------------------ */

static double mono_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double time_scale(void) {
  const char *s = getenv("HTTPRESP_TEST_TIME_SCALE");
  double v = s ? strtod(s, NULL) : 1.0;
  return v > 1.0 ? v : 1.0;
}

/* The bound every hostile answer must be dealt with in. */
static double bound_s(double base) { return base * time_scale(); }
#define BOUND bound_s(3.0)

/* Peak resident set of this test's process, in bytes. */
static size_t peak_rss(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (size_t)ru.ru_maxrss * 1024;
}

static httpresp_response *timed_url(httpresp_client *c, const char *method,
                                    const char *u, double *secs) {
  double t0 = mono_s();
  httpresp_response *r = fixture_run(c, easy, method, u, NULL, NULL);
  *secs = mono_s() - t0;
  return r;
}

static httpresp_response *timed(const char *path, double *secs) {
  char *u = ts_url(ts, 0, path);
  httpresp_response *r = timed_url(client, "GET", u, secs);
  free(u);
  return r;
}

/* The request ended with `code`, with a message when it is an error. */
static void expect_code(const httpresp_response *r, int code,
                        const char *what) {
  cr_assert_not_null(r, "%s: no response object", what);
  int got = httpresp_response_error(r);
  cr_expect_eq(got, code, "%s: got %s (%s), want %s", what,
               httpresp_errname(got), httpresp_response_errmsg(r),
               httpresp_errname(code));
  const char *msg = httpresp_response_errmsg(r);
  cr_assert_not_null(msg);
  if (code)
    cr_expect_gt(strlen(msg), 0, "%s: empty error message", what);
  else
    cr_expect_str_eq(msg, "", "%s", what);
}

/* The request ended with `code`, libcurl's own code being `cc`. */
static void expect_failure(const httpresp_response *r, int code, CURLcode cc,
                           const char *what) {
  expect_code(r, code, what);
  CURLcode got = httpresp_response_curl_code(r);
  cr_expect_eq(got, cc, "%s: curl code %d (%s), want %d (%s)", what, (int)got,
               curl_easy_strerror(got), (int)cc, curl_easy_strerror(cc));
}

static void expect_curl(const httpresp_response *r, CURLcode cc,
                        const char *what) {
  expect_failure(r, HTTPRESP_E_CURL, cc, what);
}

static void expect_fast(double secs, const char *what) {
  cr_expect_lt(secs, BOUND, "%s took %.2f s", what, secs);
}

/* GETs `path` on port 0 and expects it to end within BOUND. */
static httpresp_response *quick(const char *path, const char *what) {
  double secs;
  httpresp_response *r = timed(path, &secs);
  expect_fast(secs, what);
  return r;
}

/* A scripted raw answer on port 0 that closes the connection. */
static void raw_route(const char *path, const void *bytes, size_t len) {
  ts_resp *r = ts_route(ts, 0, path);
  ts_resp_raw(r, bytes, len);
  ts_resp_close(r);
}

static char *repeat(const char *head, char c, size_t n, const char *tail) {
  size_t hl = strlen(head), tl = strlen(tail);
  char *s = malloc(hl + n + tl + 1);
  cr_assert_not_null(s);
  memcpy(s, head, hl);
  memset(s + hl, c, n);
  memcpy(s + hl + n, tail, tl + 1);
  return s;
}

/* ---- a server that never stops sending ------------------------------------
 *
 * Accepts one connection, reads the request head, sends `prefix`, then
 * `unit` over and over until the client closes, `cap` bytes went out, or
 * 20 s passed.  Sends time out after a second, so a client that stops
 * reading without closing cannot block the thread (or the test) for long. */

typedef struct gen_server {
  int lfd;
  int port;
  pthread_t thread;
  char *prefix;
  size_t prefix_len;
  char *chunk; /* `unit` repeated up to about 64 KiB */
  size_t chunk_len;
  size_t cap;
  size_t sent; /* bytes after the prefix; read after gen_join */
  int started;
} gen_server;

static int send_all(int fd, const char *p, size_t len) {
  while (len) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void read_request_head(int fd) {
  char buf[4096];
  uint32_t window = 0;
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      return;
    for (ssize_t i = 0; i < n; i++) {
      window = (window << 8) | (unsigned char)buf[i];
      if (window == 0x0d0a0d0a) /* "\r\n\r\n" */
        return;
    }
  }
}

static void *gen_main(void *arg) {
  gen_server *g = arg;
  struct pollfd p = {g->lfd, POLLIN, 0};
  if (poll(&p, 1, 10000) != 1)
    return NULL;
  int fd = accept(g->lfd, NULL, NULL);
  if (fd < 0)
    return NULL;
  struct timeval tv = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  read_request_head(fd);
  double end = mono_s() + 20.0;
  if (send_all(fd, g->prefix, g->prefix_len) == 0) {
    while (g->sent < g->cap && mono_s() < end) {
      ssize_t n = send(fd, g->chunk, g->chunk_len, MSG_NOSIGNAL);
      if (n <= 0)
        break;
      g->sent += (size_t)n;
    }
  }
  close(fd);
  return NULL;
}

static gen_server *gen_start(const char *prefix, const char *unit,
                             size_t unit_len) {
  gen_server *g = calloc(1, sizeof(*g));
  cr_assert_not_null(g);
  g->prefix = strdup(prefix);
  g->prefix_len = strlen(prefix);
  size_t reps = 65536 / unit_len + 1;
  g->chunk_len = reps * unit_len;
  g->chunk = malloc(g->chunk_len);
  cr_assert(g->prefix && g->chunk);
  for (size_t i = 0; i < reps; i++)
    memcpy(g->chunk + i * unit_len, unit, unit_len);
  g->cap = (size_t)128 << 20;
  g->lfd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(g->lfd, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(a);
  cr_assert_eq(bind(g->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(listen(g->lfd, 4), 0);
  cr_assert_eq(getsockname(g->lfd, (struct sockaddr *)&a, &alen), 0);
  g->port = ntohs(a.sin_port);
  cr_assert_eq(pthread_create(&g->thread, NULL, gen_main, g), 0);
  g->started = 1;
  return g;
}

static char *gen_url(const gen_server *g, const char *path) {
  char *u = malloc(64 + strlen(path));
  cr_assert_not_null(u);
  sprintf(u, "http://127.0.0.1:%d%s", g->port, path);
  return u;
}

/* Waits for the sender and returns what it managed to send. */
static size_t gen_join(gen_server *g) {
  if (g->started)
    pthread_join(g->thread, NULL);
  g->started = 0;
  return g->sent;
}

static void gen_free(gen_server *g) {
  gen_join(g);
  close(g->lfd);
  free(g->prefix);
  free(g->chunk);
  free(g);
}

/* What a client that stops at its limits lets through: its limit plus the
 * loopback socket buffers (a few MiB).  A client without limits would take
 * the generator's whole cap of 128 MiB. */
#define SENT_BOUND ((size_t)32 << 20)
#define RSS_BOUND ((size_t)64 << 20)

/* Runs GET against an endless generator and checks the bounds. */
static httpresp_response *run_endless(httpresp_client *c, const char *prefix,
                                      const char *unit, size_t unit_len,
                                      const char *what) {
  gen_server *g = gen_start(prefix, unit, unit_len);
  char *u = gen_url(g, "/endless");
  size_t rss0 = peak_rss();
  double secs;
  httpresp_response *r = timed_url(c, "GET", u, &secs);
  size_t grown = peak_rss() - rss0;
  size_t sent = gen_join(g);
  expect_fast(secs, what);
  cr_expect_lt(sent, SENT_BOUND, "%s: the client read %zu bytes", what, sent);
  cr_expect_lt(grown, RSS_BOUND, "%s: peak RSS grew by %zu bytes", what,
               grown);
  gen_free(g);
  free(u);
  return r;
}

/* ---- Location ------------------------------------------------------------ */

Test(hostile, location_of_100k_is_refused_and_the_3xx_kept) {
  /* 100,000 bytes: above our 64 KiB URL bound, below libcurl's 100 KiB
   * line limit, so it is the library that must refuse it. */
  char *hdr = repeat("Location: /", 'a', 100000 - 1, "\r\nX-Mark: kept\r\n");
  ts_simple(ts, 0, "/big", 302, hdr, "moved");
  char *abs = malloc(100100);
  cr_assert_not_null(abs);
  int n = snprintf(abs, 100100, "Location: http://127.0.0.1:%d/",
                   ts_port(ts, 0));
  memset(abs + n, 'b', 100000 - (size_t)n + 10);
  strcpy(abs + 100010, "\r\n");
  ts_simple(ts, 0, "/bigabs", 301, abs, NULL);
  static const char *const paths[] = {"/big", "/bigabs"};
  for (size_t i = 0; i < 2; i++) {
    double secs;
    httpresp_response *r = timed(paths[i], &secs);
    expect_code(r, HTTPRESP_E_BAD_LOCATION, paths[i]);
    cr_expect_eq(httpresp_response_status(r), i ? 301 : 302,
                 "the 3xx stays available");
    const char *loc = httpresp_response_header(r, "Location");
    cr_expect(loc && strlen(loc) >= 99999, "Location kept whole");
    if (i == 0)
      cr_expect_str_eq(httpresp_response_header(r, "X-Mark"), "kept");
    cr_expect_leq(strlen(httpresp_response_errmsg(r)), 512,
                  "the message quotes a bounded prefix");
    expect_fast(secs, paths[i]);
    httpresp_response_free(r);
  }
  cr_expect_eq(ts_request_count(ts), 2, "nothing was followed");
  free(hdr);
  free(abs);
}

Test(hostile, location_longer_than_a_libcurl_header_line) {
  /* libcurl 7.88 refuses any header line over CURL_MAX_HTTP_HEADER (100
   * KiB) itself, before the header callback sees it, as
   * CURLE_OUT_OF_MEMORY: the library reports the oversized line. */
  char *hdr = repeat("Location: /", 'a', 100 * 1024, "\r\n");
  ts_simple(ts, 0, "/huge", 302, hdr, NULL);
  double secs;
  httpresp_response *r = timed("/huge", &secs);
  expect_failure(r, HTTPRESP_E_HEADERS_TOO_LARGE, CURLE_OUT_OF_MEMORY,
                 "Location over 100 KiB");
  cr_expect_eq(ts_request_count(ts), 1);
  expect_fast(secs, "Location over 100 KiB");
  httpresp_response_free(r);
  free(hdr);
}

/* Sends `hdrs` in a 302 from /a and checks that the request stopped with
 * BAD_LOCATION, the 302 kept, and nothing followed. */
static void expect_bad_location(const void *bytes, size_t len,
                                const char *what) {
  ts_reset(ts);
  raw_route("/a", bytes, len);
  ts_simple(ts, 0, "/a", 200, NULL, "must not be fetched");
  ts_simple(ts, 0, "/injected", 200, NULL, "must not be fetched");
  ts_simple(ts, -1, "/b", 200, NULL, "must not be fetched");
  double secs;
  httpresp_response *r = timed("/a", &secs);
  expect_code(r, HTTPRESP_E_BAD_LOCATION, what);
  cr_expect_eq(httpresp_response_status(r), 302, "%s: the 3xx is kept", what);
  cr_expect_eq(ts_request_count(ts), 1, "%s: nothing followed", what);
  expect_fast(secs, what);
  httpresp_response_free(r);
}

Test(hostile, location_with_a_bare_cr) {
  /* libcurl splits header lines at LF only: the CR stays inside the value.
   * RFC 9112 §2.2: a bare CR makes the element invalid (or is replaced by
   * SP); a Location that is invalid is refused like any unparsable one. */
  static const char resp[] = "HTTP/1.1 302 Found\r\n"
                             "Location: /a\rinjected\r\n"
                             "Content-Length: 0\r\n\r\n";
  expect_bad_location(resp, sizeof(resp) - 1, "bare CR");
}

Test(hostile, location_with_a_nul_byte) {
  /* libcurl refuses any header line holding a NUL ("Nul byte in header",
   * CURLE_WEIRD_SERVER_REPLY) before the library sees it: a malformed
   * response, the 302 is lost with the transfer, and nothing is followed. */
  static const char resp[] = "HTTP/1.1 302 Found\r\n"
                             "Location: /a\0/injected\r\n"
                             "Content-Length: 0\r\n\r\n";
  raw_route("/a", resp, sizeof(resp) - 1);
  ts_simple(ts, 0, "/injected", 200, NULL, "must not be fetched");
  httpresp_response *r = quick("/a", "NUL in Location");
  expect_failure(r, HTTPRESP_E_BAD_RESPONSE, CURLE_WEIRD_SERVER_REPLY,
                 "NUL in Location");
  cr_expect_eq(ts_request_count(ts), 1, "nothing followed");
  httpresp_response_free(r);
}

Test(hostile, location_with_a_bare_lf_splits_the_field) {
  /* An LF ends the line at the HTTP layer: "Location: /b" then a field
   * "injected: 1".  Nothing smuggles into the request to /b. */
  static const char resp[] = "HTTP/1.1 302 Found\r\n"
                             "Location: /b\ninjected: 1\r\n"
                             "Content-Length: 0\r\n\r\n";
  raw_route("/a", resp, sizeof(resp) - 1);
  ts_simple(ts, 0, "/b", 200, NULL, "landed");
  httpresp_response *r = quick("/a", "LF split");
  expect_code(r, 0, "LF split");
  cr_expect_str_eq(fixture_body(r), "landed");
  cr_assert_eq(ts_request_count(ts), 2);
  const ts_request *q = ts_request_get(ts, 1);
  cr_expect_str_eq(q->target, "/b");
  cr_expect_null(ts_req_header(q, "injected"));
  httpresp_response_free(r);
}

Test(hostile, location_continued_by_obs_fold) {
  /* RFC 9112 §5.2: a user agent replaces obs-fold with SP before
   * interpreting the value: "/b /c", whose space is then encoded.  The
   * folded line is not a field of its own. */
  static const char resp[] = "HTTP/1.1 302 Found\r\n"
                             "Location: /b\r\n"
                             "  Host: evil.example\r\n"
                             "Content-Length: 0\r\n\r\n";
  raw_route("/a", resp, sizeof(resp) - 1);
  ts_simple(ts, 0, "/b%20Host:%20evil.example", 200, NULL, "folded");
  ts_simple(ts, 0, "/b", 200, NULL, "unfolded");
  httpresp_response *r = quick("/a", "obs-fold");
  expect_code(r, 0, "obs-fold");
  cr_assert_eq(ts_request_count(ts), 2);
  const ts_request *q = ts_request_get(ts, 1);
  cr_expect_str_eq(q->target, "/b%20Host:%20evil.example");
  char host[64];
  snprintf(host, sizeof(host), "127.0.0.1:%d", ts_port(ts, 0));
  cr_expect_str_eq(ts_req_header(q, "Host"), host);
  cr_expect_str_eq(fixture_body(r), "folded");
  httpresp_response_free(r);
}

Test(hostile, invalid_location_urls) {
  static const char *const locs[] = {
      "http://[::1",          "http://exa mple.com/", "http://:80/",
      "http://",              "//",                   "http:///x",
      "http://127.0.0.1:99999/", "http://[v7.future]/", "http://%41%42/",
      "http://a:b:c/",        "http://[::1]x/",       "http://ex\tample/",
  };
  for (size_t i = 0; i < sizeof(locs) / sizeof(locs[0]); i++) {
    char resp[256];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 302 Found\r\nLocation: %s\r\n"
                     "Content-Length: 0\r\n\r\n",
                     locs[i]);
    expect_bad_location(resp, (size_t)n, locs[i]);
  }
}

Test(hostile, schemes_other_than_http_are_refused) {
  static const char *const locs[] = {
      "ftp://127.0.0.1/file",
      "file:///etc/passwd",
      "javascript:alert(document.cookie)",
      "data:text/html,<script>alert(1)</script>",
      "gopher://127.0.0.1:70/_GET%20/",
      "dict://127.0.0.1:11211/stats",
      "mailto:root@localhost",
      "ws://127.0.0.1/socket",
      "  JavaScript:alert(1)",
      "FILE:///etc/shadow",
  };
  for (size_t i = 0; i < sizeof(locs) / sizeof(locs[0]); i++) {
    ts_reset(ts);
    char hdr[160];
    snprintf(hdr, sizeof(hdr), "Location: %s\r\n", locs[i]);
    ts_simple(ts, 0, "/a", 302, hdr, NULL);
    double secs;
    httpresp_response *r = timed("/a", &secs);
    expect_code(r, HTTPRESP_E_SCHEME_NOT_ALLOWED, locs[i]);
    cr_expect_eq(httpresp_response_status(r), 302, "%s", locs[i]);
    cr_expect_eq(ts_request_count(ts), 1, "%s", locs[i]);
    expect_fast(secs, locs[i]);
    httpresp_response_free(r);
  }
}

/* ---- header floods ------------------------------------------------------- */

/* A 200 with `n` fields "<pre><i><post>", then `tail`. */
static char *many_headers(size_t n, const char *pre, const char *post,
                          const char *tail) {
  hr_buf b;
  hr_buf_init(&b);
  cr_assert_eq(hr_buf_append_str(&b, "HTTP/1.1 200 OK\r\n"), 0);
  for (size_t i = 0; i < n; i++) {
    char line[128];
    int len = snprintf(line, sizeof(line), "%s%05zu%s", pre, i, post);
    cr_assert_eq(hr_buf_append(&b, line, (size_t)len), 0);
  }
  cr_assert_eq(hr_buf_append_str(&b, tail), 0);
  return hr_buf_steal(&b);
}

Test(hostile, ten_thousand_headers) {
  /* About 190 KB: under the 256 KiB byte limit, over the 1000 fields. */
  char *resp = many_headers(10000, "X-Flood-", ": v\r\n",
                            "Content-Length: 2\r\n\r\nok");
  raw_route("/flood", resp, strlen(resp));
  size_t rss0 = peak_rss();
  double secs;
  httpresp_response *r = timed("/flood", &secs);
  expect_code(r, HTTPRESP_E_HEADERS_TOO_LARGE, "10,000 headers");
  cr_expect_lt(peak_rss() - rss0, RSS_BOUND);
  expect_fast(secs, "10,000 headers");
  httpresp_response_free(r);

  /* Within raised limits the same answer is fine, every field kept. */
  ts_reset(ts);
  raw_route("/flood", resp, strlen(resp));
  cr_assert_eq(httpresp_client_set_max_headers(client, 1 << 20, 20000), 0);
  r = timed("/flood", &secs);
  expect_code(r, 0, "10,000 headers, raised limits");
  cr_expect_eq(httpresp_response_header_count(r), 10001);
  cr_expect_str_eq(fixture_body(r), "ok");
  expect_fast(secs, "10,000 headers, raised limits");
  httpresp_response_free(r);
  free(resp);
}

Test(hostile, thousand_set_cookies_within_limits) {
  /* Exactly 1000 fields (the default limit), body delimited by the close. */
  char *resp = many_headers(1000, "Set-Cookie: c", "=v; Path=/\r\n", "\r\nok");
  raw_route("/cookies", resp, strlen(resp));
  curl_easy_setopt(easy, CURLOPT_COOKIEFILE, "");
  httpresp_response *r = quick("/cookies", "1000 Set-Cookie");
  expect_code(r, 0, "1000 Set-Cookie");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(httpresp_response_header_count(r), 1000);
  const char *name, *value;
  cr_assert_eq(httpresp_response_header_at(r, 999, &name, &value), 0);
  cr_expect_str_eq(name, "Set-Cookie");
  cr_expect_str_eq(value, "c00999=v; Path=/");
  cr_expect_str_eq(fixture_body(r), "ok");
  httpresp_response_free(r);
  free(resp);
}

Test(hostile, one_header_of_1_mib) {
  /* libcurl 7.88 refuses the line itself once it passes 100 KiB
   * (CURL_MAX_HTTP_HEADER): CURLE_OUT_OF_MEMORY, "Avoided giant realloc
   * for header".  Our 256 KiB byte limit never sees it; the library names
   * the cause. */
  char *resp = repeat("HTTP/1.1 200 OK\r\nX-Big: ", 'x', (size_t)1 << 20,
                      "\r\nContent-Length: 2\r\n\r\nok");
  raw_route("/big", resp, strlen(resp));
  httpresp_response *r = quick("/big", "1 MiB header");
  expect_failure(r, HTTPRESP_E_HEADERS_TOO_LARGE, CURLE_OUT_OF_MEMORY,
                 "1 MiB header");
  httpresp_response_free(r);
  free(resp);
}

Test(hostile, many_large_fields_hit_the_byte_limit) {
  /* Four fields of 90 KiB: each passes libcurl's line limit, together
   * they pass our 256 KiB. */
  hr_buf b;
  hr_buf_init(&b);
  cr_assert_eq(hr_buf_append_str(&b, "HTTP/1.1 200 OK\r\n"), 0);
  for (int i = 0; i < 4; i++) {
    char *line = repeat("X-Large: ", 'y', 90 * 1024, "\r\n");
    cr_assert_eq(hr_buf_append_str(&b, line), 0);
    free(line);
  }
  cr_assert_eq(hr_buf_append_str(&b, "Content-Length: 2\r\n\r\nok"), 0);
  raw_route("/large", b.data, b.len);
  httpresp_response *r = quick("/large", "4 x 90 KiB");
  expect_code(r, HTTPRESP_E_HEADERS_TOO_LARGE, "4 x 90 KiB");
  cr_expect_not_null(strstr(httpresp_response_errmsg(r), "size"), "%s",
                     httpresp_response_errmsg(r));
  httpresp_response_free(r);
  hr_buf_free(&b);
}

Test(hostile, endless_header_fields) {
  httpresp_response *r = run_endless(client, "HTTP/1.1 200 OK\r\n",
                                     "X-Flood: v\r\n", 12, "endless fields");
  expect_code(r, HTTPRESP_E_HEADERS_TOO_LARGE, "endless fields");
  httpresp_response_free(r);
}

Test(hostile, endless_header_bytes) {
  char *unit = repeat("X-Wide: ", 'w', 2000, "\r\n");
  httpresp_response *r = run_endless(client, "HTTP/1.1 200 OK\r\n", unit,
                                     strlen(unit), "endless wide fields");
  expect_code(r, HTTPRESP_E_HEADERS_TOO_LARGE, "endless wide fields");
  httpresp_response_free(r);
  free(unit);
}

Test(hostile, endless_obs_fold) {
  /* Continuation lines add no field, so only the byte limit stops them;
   * each must cost time in proportion to its own length, not to the
   * value it extends (else 256 KiB of folds is a CPU bomb). */
  httpresp_response *r = run_endless(
      client, "HTTP/1.1 200 OK\r\nX-Fold: a\r\n", " b\r\n", 4, "endless folds");
  expect_code(r, HTTPRESP_E_HEADERS_TOO_LARGE, "endless folds");
  httpresp_response_free(r);
}

Test(hostile, endless_header_line) {
  httpresp_response *r =
      run_endless(client, "HTTP/1.1 302 Found\r\nLocation: /", "a", 1,
                  "endless Location line");
  expect_failure(r, HTTPRESP_E_HEADERS_TOO_LARGE, CURLE_OUT_OF_MEMORY,
                 "endless Location line");
  httpresp_response_free(r);
}

/* ---- status lines -------------------------------------------------------- */

typedef struct status_row {
  const char *name;
  const char *bytes;
  size_t len; /* 0: strlen(bytes) */
  int code;
  CURLcode curl; /* libcurl's code, when it refused the reply */
  int status;    /* when code is 0 */
} status_row;

/* What libcurl 7.88 does with each (lib/http.c, Curl_http_readwrite_headers):
 * a first line without the "HTTP/" prefix is HTTP/0.9, which it refuses by
 * default (CURLOPT_HTTP09_ALLOWED) with CURLE_UNSUPPORTED_PROTOCOL; a
 * 4-digit or < 100 code and an unknown version are refused with the same
 * code; an empty reply is CURLE_GOT_NOTHING.  What libcurl accepts but is
 * not "HTTP-version SP 3DIGIT" is refused by our status-line parser.  A
 * reply libcurl refuses is a malformed response all the same (an empty one
 * stays libcurl's). */
static const status_row status_rows[] = {
    {"not HTTP", "FOO 200 OK\r\nContent-Length: 0\r\n\r\n", 0,
     HTTPRESP_E_BAD_RESPONSE, CURLE_UNSUPPORTED_PROTOCOL, 0},
    {"4-digit code", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", 0,
     HTTPRESP_E_BAD_RESPONSE, CURLE_UNSUPPORTED_PROTOCOL, 0},
    {"letters for a code", "HTTP/1.1 abc\r\nContent-Length: 0\r\n\r\n", 0,
     HTTPRESP_E_BAD_RESPONSE, CURLE_UNSUPPORTED_PROTOCOL, 0},
    {"code under 100", "HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n", 0,
     HTTPRESP_E_BAD_RESPONSE, CURLE_UNSUPPORTED_PROTOCOL, 0},
    {"unknown version", "HTTP/9.9 200 OK\r\nContent-Length: 0\r\n\r\n", 0,
     HTTPRESP_E_BAD_RESPONSE, CURLE_UNSUPPORTED_PROTOCOL, 0},
    {"garbage bytes",
     "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xff\xfe\r\n", 15,
     HTTPRESP_E_BAD_RESPONSE, CURLE_UNSUPPORTED_PROTOCOL, 0},
    {"HTTP/0.9 body", "<html>just a body, no status line</html>\n", 0,
     HTTPRESP_E_BAD_RESPONSE, CURLE_UNSUPPORTED_PROTOCOL, 0},
    {"empty reply", "", 0, HTTPRESP_E_CURL, CURLE_GOT_NOTHING, 0},
    {"code glued to reason", "HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n", 0,
     HTTPRESP_E_BAD_RESPONSE, CURLE_OK, 0},
    {"two spaces", "HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n", 0,
     HTTPRESP_E_BAD_RESPONSE, CURLE_OK, 0},
    {"code 600", "HTTP/1.1 600 Beyond\r\nContent-Length: 2\r\n\r\nok", 0, 0,
     CURLE_OK, 600},
    {"code 999", "HTTP/1.1 999 Max\r\nContent-Length: 2\r\n\r\nok", 0, 0,
     CURLE_OK, 999},
};

Test(hostile, status_lines_that_are_not_http) {
  for (size_t i = 0; i < sizeof(status_rows) / sizeof(status_rows[0]); i++) {
    const status_row *row = &status_rows[i];
    ts_reset(ts);
    raw_route("/s", row->bytes, row->len ? row->len : strlen(row->bytes));
    double secs;
    httpresp_response *r = timed("/s", &secs);
    if (row->curl != CURLE_OK)
      expect_failure(r, row->code, row->curl, row->name);
    else
      expect_code(r, row->code, row->name);
    if (row->code == 0)
      cr_expect_eq(httpresp_response_status(r), row->status, "%s", row->name);
    expect_fast(secs, row->name);
    httpresp_response_free(r);
  }
}

Test(hostile, headers_cut_by_close) {
  static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n";
  raw_route("/cut", resp, sizeof(resp) - 1);
  double secs;
  httpresp_response *r = timed("/cut", &secs);
  /* libcurl 7.88 reports headers that never ended as a partial file. */
  expect_curl(r, CURLE_PARTIAL_FILE, "headers cut");
  expect_fast(secs, "headers cut");
  httpresp_response_free(r);
}

/* A header block (or trailer block) of a 200 carrying a line that looks
 * like the status line of a redirect.  libcurl reads only the first line as
 * the status line and refuses field lines without a colon ("Header without
 * colon", CURLE_WEIRD_SERVER_REPLY; in trailers its header store refuses
 * it: "Failed reading the chunked-encoded stream" with
 * CURLE_BAD_FUNCTION_ARGUMENT).  With a colon the line passes
 * libcurl as a field: the library must then not take it for a second
 * response and follow a Location the 200 does not have. */
static const char inner_status_nocolon[] = "HTTP/1.1 200 OK\r\n"
                                           "X-Before: 1\r\n"
                                           "HTTP/1.1 302 Found\r\n"
                                           "Location: /injected\r\n"
                                           "Content-Length: 5\r\n\r\nhello";
static const char inner_status_colon[] = "HTTP/1.1 200 OK\r\n"
                                         "X-Before: 1\r\n"
                                         "HTTP/1.1 302 Found: x\r\n"
                                         "Location: /injected\r\n"
                                         "Content-Length: 5\r\n\r\nhello";
static const char trailer_status_nocolon[] = "HTTP/1.1 200 OK\r\n"
                                             "Transfer-Encoding: chunked\r\n"
                                             "\r\n5\r\nhello\r\n0\r\n"
                                             "HTTP/1.1 302 Found\r\n"
                                             "Location: /injected\r\n\r\n";
static const char trailer_status_colon[] = "HTTP/1.1 200 OK\r\n"
                                           "Transfer-Encoding: chunked\r\n"
                                           "\r\n5\r\nhello\r\n0\r\n"
                                           "HTTP/1.1 302 Found: x\r\n"
                                           "Location: /injected\r\n\r\n";

static httpresp_response *inner_status(const char *resp, size_t len,
                                       double *secs) {
  ts_reset(ts);
  raw_route("/a", resp, len);
  ts_simple(ts, 0, "/injected", 200, NULL, "followed");
  return timed("/a", secs);
}

Test(hostile, status_line_inside_the_header_block) {
  double secs;
  httpresp_response *r = inner_status(
      inner_status_nocolon, sizeof(inner_status_nocolon) - 1, &secs);
  expect_failure(r, HTTPRESP_E_BAD_RESPONSE, CURLE_WEIRD_SERVER_REPLY,
                 "inner status line, no colon");
  cr_expect_eq(ts_request_count(ts), 1, "nothing followed");
  expect_fast(secs, "inner status line, no colon");
  httpresp_response_free(r);

  r = inner_status(inner_status_colon, sizeof(inner_status_colon) - 1, &secs);
  long curl_status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &curl_status);
  cr_expect_eq(curl_status, 200, "libcurl saw a 200");
  expect_code(r, 0, "inner status line with a colon");
  cr_expect_eq(httpresp_response_status(r), 200, "the status libcurl saw");
  cr_expect_str_eq(fixture_body(r), "hello");
  cr_expect_str_eq(httpresp_response_header(r, "X-Before"), "1",
                   "the fields before it are the 200's");
  cr_expect_eq(ts_request_count(ts), 1, "nothing followed");
  expect_fast(secs, "inner status line with a colon");
  httpresp_response_free(r);
}

Test(hostile, status_line_in_the_trailers) {
  double secs;
  httpresp_response *r = inner_status(
      trailer_status_nocolon, sizeof(trailer_status_nocolon) - 1, &secs);
  expect_curl(r, CURLE_BAD_FUNCTION_ARGUMENT, "trailer status line, no colon");
  cr_expect_eq(ts_request_count(ts), 1, "nothing followed");
  expect_fast(secs, "trailer status line, no colon");
  httpresp_response_free(r);

  /* Trailers are not part of the header: the delivered 200 and its body
   * stay what they were. */
  r = inner_status(trailer_status_colon, sizeof(trailer_status_colon) - 1,
                   &secs);
  expect_code(r, 0, "trailer status line with a colon");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "hello");
  cr_expect_null(httpresp_response_header(r, "Location"));
  cr_expect_eq(ts_request_count(ts), 1, "nothing followed");
  expect_fast(secs, "trailer status line with a colon");
  httpresp_response_free(r);
}

Test(hostile, unsolicited_101) {
  static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
                             "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                             "\x81\x05hello";
  ts_resp *rr = ts_route(ts, 0, "/up");
  ts_resp_raw(rr, resp, sizeof(resp) - 1);
  ts_resp_stall(rr);
  httpresp_response *r = quick("/up", "101");
  expect_code(r, HTTPRESP_E_UNEXPECTED_UPGRADE, "101");
  httpresp_response_free(r);
}

/* ---- 1xx without end ----------------------------------------------------- */

Test(hostile, a_thousand_interim_responses) {
  static const char block[] = "HTTP/1.1 102 Processing\r\n\r\n";
  ts_resp *rr = ts_route(ts, 0, "/slowpoke");
  for (int i = 0; i < 1000; i++)
    ts_resp_raw(rr, block, sizeof(block) - 1);
  ts_resp_stall(rr); /* the final answer never comes */
  httpresp_response *r = quick("/slowpoke", "1000 x 102");
  expect_code(r, HTTPRESP_E_TOO_MANY_INTERIM, "1000 x 102");
  httpresp_response_free(r);
}

Test(hostile, a_hundred_interim_responses_are_fine) {
  static const char block[] = "HTTP/1.1 102 Processing\r\nX-I: 1\r\n\r\n";
  ts_resp *rr = ts_route(ts, 0, "/patient");
  for (int i = 0; i < 100; i++)
    ts_resp_raw(rr, block, sizeof(block) - 1);
  ts_resp_str(rr, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone");
  httpresp_response *r = quick("/patient", "100 x 102 then 200");
  expect_code(r, 0, "100 x 102 then 200");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_null(httpresp_response_header(r, "X-I"), "1xx fields stay out");
  cr_expect_str_eq(fixture_body(r), "done");
  httpresp_response_free(r);
}

Test(hostile, endless_interim_responses) {
  static const char block[] = "HTTP/1.1 102 Processing\r\n\r\n";
  httpresp_response *r =
      run_endless(client, "", block, sizeof(block) - 1, "endless 102");
  expect_code(r, HTTPRESP_E_TOO_MANY_INTERIM, "endless 102");
  httpresp_response_free(r);
}

Test(hostile, interim_trickle_ends_by_the_callers_timeout) {
  /* Few enough 1xx to stay under the limit, slow enough to never end. */
  static const char block[] = "HTTP/1.1 102 Processing\r\n\r\n";
  ts_resp *rr = ts_route(ts, 0, "/trickle");
  for (int i = 0; i < 50; i++) {
    ts_resp_raw(rr, block, sizeof(block) - 1);
    ts_resp_delay(rr, 40);
  }
  ts_resp_stall(rr);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 800L);
  double secs;
  httpresp_response *r = timed("/trickle", &secs);
  expect_curl(r, CURLE_OPERATION_TIMEDOUT, "1xx trickle");
  cr_expect_geq(secs, 0.7);
  expect_fast(secs, "1xx trickle");
  httpresp_response_free(r);
}

/* ---- bodies ---------------------------------------------------------------- */

Test(hostile, body_shorter_than_its_content_length) {
  static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                             "only twenty bytes...";
  raw_route("/short", resp, sizeof(resp) - 1);
  httpresp_response *r = quick("/short", "short body");
  expect_curl(r, CURLE_PARTIAL_FILE, "short body");
  cr_expect_eq(httpresp_response_status(r), 200, "the status is known");
  httpresp_response_free(r);
}

Test(hostile, chunked_body_cut_short) {
  static const char resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                             "\r\n10\r\nabc";
  raw_route("/cut", resp, sizeof(resp) - 1);
  httpresp_response *r = quick("/cut", "cut chunked body");
  expect_curl(r, CURLE_PARTIAL_FILE, "cut chunked body");
  httpresp_response_free(r);
}

Test(hostile, chunk_size_that_is_not_hex) {
  static const char resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                             "\r\nzz\r\nabc\r\n0\r\n\r\n";
  raw_route("/badchunk", resp, sizeof(resp) - 1);
  httpresp_response *r = quick("/badchunk", "bad chunk size");
  expect_curl(r, CURLE_RECV_ERROR, "bad chunk size");
  httpresp_response_free(r);
}

Test(hostile, duplicate_content_length_that_disagrees) {
  /* RFC 9112 §6.3: an unrecoverable framing error. */
  static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                             "Content-Length: 10\r\n\r\nhello";
  raw_route("/dup", resp, sizeof(resp) - 1);
  httpresp_response *r = quick("/dup", "disagreeing Content-Length");
  /* libcurl 7.88 has no duplicate check and would use the last value: the
   * library sees both and stops at the end of the header. */
  expect_code(r, HTTPRESP_E_BAD_RESPONSE, "disagreeing Content-Length");
  httpresp_response_free(r);
}

Test(hostile, body_over_the_limit) {
  size_t big = (size_t)1 << 20;
  char *body = repeat("", 'z', big, "");
  ts_simple(ts, 0, "/big", 200, NULL, body);
  cr_assert_eq(httpresp_client_set_max_body(client, 64 * 1024), 0);
  httpresp_response *r = quick("/big", "1 MiB body");
  expect_code(r, HTTPRESP_E_BODY_TOO_LARGE, "1 MiB body, 64 KiB limit");
  cr_expect_eq(httpresp_response_status(r), 200);
  size_t len;
  httpresp_response_body(r, &len);
  cr_expect_leq(len, 64 * 1024, "what was kept respects the limit");
  httpresp_response_free(r);
  free(body);
}

/* A collected body announced larger than the limit fails at its headers:
 * the server sends them and then nothing, so only a check at the headers
 * returns before the transfer's timeout; with a sink any length is taken. */
Test(hostile, announced_length_over_the_limit_fails_at_the_headers) {
  ts_resp *st = ts_route(ts, 0, "/huge");
  ts_resp_str(st, "HTTP/1.1 200 OK\r\nContent-Length: 5000000000\r\n\r\nab");
  ts_resp_stall(st);
  cr_assert_eq(httpresp_client_set_max_body(client, 64 * 1024), 0);
  httpresp_response *r = quick("/huge", "5 GB announced");
  expect_code(r, HTTPRESP_E_BODY_TOO_LARGE, "5 GB announced, 64 KiB limit");
  cr_expect(strstr(httpresp_response_errmsg(r), "Content-Length 5000000000"),
            "%s", httpresp_response_errmsg(r));
  httpresp_response_free(r);
}

Test(hostile, endless_body) {
  cr_assert_eq(httpresp_client_set_max_body(client, 1 << 20), 0);
  char *unit = repeat("", 'q', 4096, "");
  httpresp_response *r =
      run_endless(client, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", unit,
                  4096, "endless body");
  expect_code(r, HTTPRESP_E_BODY_TOO_LARGE, "endless body");
  httpresp_response_free(r);
  free(unit);
}

Test(hostile, endless_chunked_body) {
  cr_assert_eq(httpresp_client_set_max_body(client, 1 << 20), 0);
  char *unit = repeat("1000\r\n", 'c', 4096, "\r\n");
  httpresp_response *r = run_endless(
      client, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", unit,
      strlen(unit), "endless chunked body");
  expect_code(r, HTTPRESP_E_BODY_TOO_LARGE, "endless chunked body");
  httpresp_response_free(r);
  free(unit);
}

Test(hostile, redirect_with_an_endless_body_is_followed) {
  /* A redirect body never reaches the caller; past 1 MiB the library
   * drops the connection instead of draining it, and follows. */
  ts_simple(ts, 0, "/landing", 200, NULL, "landed");
  char *target = ts_url(ts, 0, "/landing");
  char prefix[256];
  snprintf(prefix, sizeof(prefix),
           "HTTP/1.1 302 Found\r\nLocation: %s\r\nConnection: close\r\n\r\n",
           target);
  char *unit = repeat("", 'r', 4096, "");
  httpresp_response *r =
      run_endless(client, prefix, unit, 4096, "endless redirect body");
  expect_code(r, 0, "endless redirect body");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "landed");
  httpresp_response_free(r);
  free(unit);
  free(target);
}

/* ---- stalls ---------------------------------------------------------------- */

static void stall_mid_body(const char *path) {
  ts_resp *rr = ts_route(ts, 0, path);
  ts_resp_str(rr, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
  ts_resp_stall(rr);
}

Test(hostile, stall_mid_body_ends_by_the_callers_timeout) {
  stall_mid_body("/stall");
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 500L);
  double secs;
  httpresp_response *r = timed("/stall", &secs);
  expect_curl(r, CURLE_OPERATION_TIMEDOUT, "stall, CURLOPT_TIMEOUT_MS");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_geq(secs, 0.45);
  expect_fast(secs, "stall, CURLOPT_TIMEOUT_MS");
  httpresp_response_free(r);
}

Test(hostile, stall_mid_body_ends_by_low_speed) {
  stall_mid_body("/stall");
  /* libcurl averages the speed over a few seconds: with a limit of 1 B/s
   * the 10 bytes already received would keep it "fast" for 10 s. */
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1000L);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, 1L);
  double secs;
  httpresp_response *r = timed("/stall", &secs);
  expect_curl(r, CURLE_OPERATION_TIMEDOUT, "stall, CURLOPT_LOW_SPEED");
  cr_expect_geq(secs, 0.9);
  expect_fast(secs, "stall, CURLOPT_LOW_SPEED");
  httpresp_response_free(r);
}

Test(hostile, stall_mid_body_ends_by_the_deadline) {
  /* The deadline is measured on the client's clock: a real one here. */
  httpresp_client *c = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_deadline_ms(c, 500), 0);
  for (int i = 0; i < 3; i++) {
    ts_reset(ts);
    stall_mid_body("/stall");
    char *u = ts_url(ts, 0, "/stall");
    double secs;
    httpresp_response *r = timed_url(c, "GET", u, &secs);
    expect_code(r, HTTPRESP_E_DEADLINE, "stall, deadline");
    /* The deadline is watched from the progress callback, so the caller's
     * own CURLOPT_TIMEOUT_MS is never touched. */
    cr_expect_eq(httpresp_response_curl_code(r), CURLE_ABORTED_BY_CALLBACK);
    cr_expect_geq(secs, 0.45);
    expect_fast(secs, "stall, deadline");
    httpresp_response_free(r);
    free(u);
  }
  httpresp_client_free(c);
}

Test(hostile, stall_before_the_status_line) {
  ts_resp *rr = ts_route(ts, 0, "/mute");
  ts_resp_stall(rr);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 300L);
  httpresp_response *r = quick("/mute", "mute server");
  expect_curl(r, CURLE_OPERATION_TIMEDOUT, "mute server");
  cr_expect_eq(httpresp_response_status(r), 0);
  httpresp_response_free(r);
}

Test(hostile, deadline_does_not_loosen_the_callers_timeout) {
  /* The caller's 300 ms per transfer is tighter than the 5 s deadline:
   * the stall must end at 300 ms, as it does without a deadline. */
  httpresp_client *c = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_deadline_ms(c, 5000), 0);
  stall_mid_body("/stall");
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 300L);
  char *u = ts_url(ts, 0, "/stall");
  double secs;
  httpresp_response *r = timed_url(c, "GET", u, &secs);
  expect_curl(r, CURLE_OPERATION_TIMEDOUT, "caller timeout under deadline");
  cr_expect_lt(secs, bound_s(1.5), "took %.2f s", secs);
  httpresp_response_free(r);
  httpresp_client_free(c);
  free(u);
}

Test(hostile, deadline_does_not_erase_the_callers_timeout) {
  /* A request with a deadline, then one without on the same handle: the
   * caller's CURLOPT_TIMEOUT_MS must still bound the second.  The server
   * sends the rest of its body after 4 s, so a lost timeout shows as a
   * late success instead of a hung test. */
  httpresp_client *with_deadline = fixture_client(NULL);
  cr_assert_eq(httpresp_client_set_deadline_ms(with_deadline, 10000), 0);
  ts_simple(ts, 0, "/quick", 200, NULL, "quick");
  ts_resp *rr = ts_route(ts, 0, "/slow");
  ts_resp_str(rr, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
  ts_resp_delay(rr, 4000);
  ts_resp_str(rr, "56789");
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 300L);
  char *quick = ts_url(ts, 0, "/quick");
  double secs;
  httpresp_response *r = timed_url(with_deadline, "GET", quick, &secs);
  expect_code(r, 0, "quick request with a deadline");
  httpresp_response_free(r);
  r = timed("/slow", &secs);
  expect_curl(r, CURLE_OPERATION_TIMEDOUT, "caller timeout after a deadline");
  cr_expect_lt(secs, bound_s(1.5), "took %.2f s", secs);
  httpresp_response_free(r);
  httpresp_client_free(with_deadline);
  free(quick);
}

/* ---- a redirect chain across 50 ports ----------------------------------- */

#define CHAIN_SERVERS 4
#define CHAIN_PORTS 50

typedef struct chain {
  ts_server *srv[CHAIN_SERVERS];
} chain;

static ts_server *chain_srv(chain *c, int hop) {
  return c->srv[hop / TS_MAX_PORTS];
}

static int chain_idx(int hop) { return hop % TS_MAX_PORTS; }

/* Hop i answers on port i with an absolute Location to port i + 1. */
static void chain_routes(chain *c) {
  for (int hop = 0; hop < CHAIN_PORTS; hop++) {
    char path[32];
    snprintf(path, sizeof(path), "/hop%d", hop);
    if (hop == CHAIN_PORTS - 1) {
      ts_simple(chain_srv(c, hop), chain_idx(hop), path, 200, NULL, "end");
      continue;
    }
    char next[32];
    snprintf(next, sizeof(next), "/hop%d", hop + 1);
    char *u = ts_url(chain_srv(c, hop + 1), chain_idx(hop + 1), next);
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "Location: %s\r\n", u);
    free(u);
    ts_simple(chain_srv(c, hop), chain_idx(hop), path, 302, hdr, NULL);
  }
}

static void chain_start(chain *c) {
  for (int i = 0; i < CHAIN_SERVERS; i++) {
    c->srv[i] = ts_start(TS_MAX_PORTS);
    cr_assert_not_null(c->srv[i]);
  }
  chain_routes(c);
}

static size_t chain_requests(chain *c) {
  size_t n = 0;
  for (int i = 0; i < CHAIN_SERVERS; i++)
    n += ts_request_count(c->srv[i]);
  return n;
}

/* The recorded request for `hop`, NULL if it never arrived. */
static const ts_request *chain_request(chain *c, int hop) {
  ts_server *s = chain_srv(c, hop);
  char path[32];
  snprintf(path, sizeof(path), "/hop%d", hop);
  for (size_t i = 0; i < ts_request_count(s); i++) {
    const ts_request *q = ts_request_get(s, i);
    if (strcmp(q->target, path) == 0 && q->port_idx == chain_idx(hop))
      return q;
  }
  return NULL;
}

static void chain_reset(chain *c) {
  for (int i = 0; i < CHAIN_SERVERS; i++)
    ts_reset(c->srv[i]);
}

static void chain_stop(chain *c) {
  for (int i = 0; i < CHAIN_SERVERS; i++)
    ts_stop(c->srv[i]);
}

Test(hostile, redirect_chain_across_50_ports) {
  chain c;
  chain_start(&c);
  char *first = ts_url(chain_srv(&c, 0), 0, "/hop0");
  static const char *const secrets[] = {"Authorization: Bearer s3cret",
                                        "Cookie: session=abc",
                                        "X-Visible: yes", NULL};

  /* Allowed to go all the way: every hop is a new origin. */
  cr_assert_eq(httpresp_client_set_max_redirects(client, 60), 0);
  double t0 = mono_s();
  httpresp_response *r = fixture_run(client, easy, "GET", first, NULL, secrets);
  double secs = mono_s() - t0;
  expect_code(r, 0, "50-port chain");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "end");
  cr_expect_eq(httpresp_response_hop_count(r), CHAIN_PORTS);
  cr_expect_eq(chain_requests(&c), CHAIN_PORTS);
  for (int hop = 0; hop < CHAIN_PORTS; hop++) {
    const ts_request *q = chain_request(&c, hop);
    cr_assert_not_null(q, "hop %d never arrived", hop);
    cr_expect_str_eq(ts_req_header(q, "X-Visible"), "yes", "hop %d", hop);
    if (hop == 0) {
      cr_expect_str_eq(ts_req_header(q, "Authorization"), "Bearer s3cret");
      cr_expect_str_eq(ts_req_header(q, "Cookie"), "session=abc");
    } else {
      cr_expect_null(ts_req_header(q, "Authorization"), "hop %d", hop);
      cr_expect_null(ts_req_header(q, "Cookie"), "hop %d", hop);
    }
  }
  expect_fast(secs, "50-port chain");
  httpresp_response_free(r);

  /* The default limit of 20 stops it at the 21st response, a 302. */
  chain_reset(&c);
  chain_routes(&c);
  httpresp_client *dflt = fixture_client(&clk);
  httpresp_request *req;
  cr_assert_eq(httpresp_request_new(&req, "GET", first), 0);
  cr_assert_eq(httpresp_request_set_credentials(req, "alice", "pw", 0), 0);
  t0 = mono_s();
  httpresp_perform(dflt, easy, req, &r);
  secs = mono_s() - t0;
  expect_code(r, HTTPRESP_E_TOO_MANY_REDIRECTS, "50-port chain, limit 20");
  cr_expect_eq(httpresp_response_status(r), 302, "the last 3xx is kept");
  cr_expect_eq(chain_requests(&c), 21);
  const ts_request *q0 = chain_request(&c, 0);
  cr_assert_not_null(q0);
  cr_expect_str_eq(ts_req_header(q0, "Authorization"), "Basic YWxpY2U6cHc=");
  for (int hop = 1; hop <= 20; hop++) {
    const ts_request *q = chain_request(&c, hop);
    cr_assert_not_null(q, "hop %d", hop);
    cr_expect_null(ts_req_header(q, "Authorization"), "hop %d", hop);
  }
  expect_fast(secs, "50-port chain, limit 20");
  httpresp_response_free(r);
  httpresp_request_free(req);
  httpresp_client_free(dflt);
  free(first);
  chain_stop(&c);
}

/* ---- Retry-After ------------------------------------------------------------ */

Test(hostile, retry_after_of_ten_to_the_thirty_seconds) {
  static const int statuses[] = {503, 429};
  for (size_t i = 0; i < 2; i++) {
    httpresp_client *c = fixture_client(&clk);
    ts_reset(ts);
    ts_simple(ts, 0, "/busy", statuses[i],
              "Retry-After: 1000000000000000000000000000000\r\n", "later");
    size_t before = ts_request_count(ts);
    int64_t slept = clk.slept_ms;
    int sleeps = clk.sleeps;
    char *u = ts_url(ts, 0, "/busy");
    double secs;
    httpresp_response *r = timed_url(c, "GET", u, &secs);
    expect_code(r, 0, "Retry-After 10^30");
    cr_expect_eq(httpresp_response_status(r), statuses[i]);
    cr_expect_eq(httpresp_response_retry_after_ms(r), HR_DELAY_MAX_MS,
                 "saturated, got %lld",
                 (long long)httpresp_response_retry_after_ms(r));
    cr_expect_eq(httpresp_response_retry_stop(r),
                 HTTPRESP_RETRY_WAIT_TOO_LONG);
    cr_expect_eq(httpresp_response_attempts(r), 1);
    cr_expect_eq(clk.slept_ms, slept, "no sleep at all");
    cr_expect_eq(clk.sleeps, sleeps);
    cr_expect_eq(ts_request_count(ts), before + 1);
    expect_fast(secs, "Retry-After 10^30");
    httpresp_response_free(r);

    /* The origin asked for quiet: the next request fails fast, for the
     * client's cap (an hour), not for the 10^30 s asked. */
    r = timed_url(c, "GET", u, &secs);
    expect_code(r, HTTPRESP_E_ORIGIN_BACKOFF, "after Retry-After 10^30");
    cr_expect_eq(httpresp_response_retry_after_ms(r), INT64_C(3600000));
    cr_expect_eq(ts_request_count(ts), before + 1, "no request sent");
    cr_expect_eq(clk.sleeps, sleeps);
    expect_fast(secs, "after Retry-After 10^30");
    httpresp_response_free(r);
    httpresp_client_free(c);
    free(u);
  }
}

Test(hostile, retry_after_date_far_in_the_future) {
  ts_simple(ts, 0, "/busy", 503, "Retry-After: Fri, 31 Dec 9999 23:59:59 GMT\r\n",
            NULL);
  double secs;
  httpresp_response *r = timed("/busy", &secs);
  expect_code(r, 0, "Retry-After in year 9999");
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_WAIT_TOO_LONG);
  cr_expect_gt(httpresp_response_retry_after_ms(r), INT64_C(200000000000000));
  cr_expect_eq(clk.sleeps, 0);
  cr_expect_eq(ts_request_count(ts), 1);
  httpresp_response_free(r);
}

Test(hostile, retry_after_garbage_is_not_retried) {
  static const char *const values[] = {
      "Retry-After: -5\r\n",
      "Retry-After: -100000000000000000000000000000\r\n",
      "Retry-After: abc\r\n",
      "Retry-After: 1.5\r\n",
      "Retry-After: 5 s\r\n",
      "Retry-After: 0x10\r\n",
      "Retry-After: +3\r\n",
      "Retry-After: 1e30\r\n",
      "Retry-After: \r\n",
      "Retry-After: Wed, 32 Foo 2026 99:99:99 GMT\r\n",
      "Retry-After: \xff\xfe\xfd\r\n",
      "Retry-After: 5\r\nRetry-After: 6\r\n",
  };
  for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
    ts_reset(ts);
    ts_simple(ts, 0, "/busy", 503, values[i], "busy");
    double secs;
    httpresp_response *r = timed("/busy", &secs);
    expect_code(r, 0, values[i]);
    cr_expect_eq(httpresp_response_status(r), 503, "%s", values[i]);
    cr_expect_eq(ts_request_count(ts), 1, "%s: not repeated", values[i]);
    cr_expect_eq(httpresp_response_retry_after_ms(r), -1, "%s", values[i]);
    cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_NONE, "%s",
                 values[i]);
    expect_fast(secs, values[i]);
    httpresp_response_free(r);
  }
  cr_expect_eq(clk.sleeps, 0);
}

Test(hostile, retry_after_zero_forever_is_bounded) {
  ts_simple(ts, 0, "/busy", 503, "Retry-After: 0\r\n", "busy");
  httpresp_response *r = quick("/busy", "Retry-After 0 forever");
  expect_code(r, 0, "Retry-After 0 forever");
  cr_expect_eq(httpresp_response_status(r), 503);
  cr_expect_eq(ts_request_count(ts), 4, "1 + the default 3 retries");
  cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_EXHAUSTED);
  httpresp_response_free(r);
}

/* ---- 304 without a stored entry --------------------------------------------- */

Test(hostile, not_modified_without_a_cache) {
  ts_simple(ts, 0, "/nm", 304, "ETag: \"x\"\r\n", NULL);
  httpresp_response *r = quick("/nm", "304, no cache");
  expect_code(r, 0, "304, no cache");
  cr_expect_eq(httpresp_response_status(r), 304);
  cr_expect_str_eq(fixture_body(r), "");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_NONE);
  httpresp_response_free(r);
}

Test(hostile, not_modified_with_an_empty_cache) {
  httpresp_cache *cache;
  cr_assert_eq(httpresp_cache_new_memory(&cache, 1 << 20), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
  ts_simple(ts, 0, "/nm", 304, "ETag: \"x\"\r\nCache-Control: max-age=3600\r\n",
            NULL);
  ts_simple(ts, 0, "/nm", 200, "Cache-Control: max-age=3600\r\n", "full");
  double secs;
  httpresp_response *r = timed("/nm", &secs);
  expect_code(r, 0, "304, empty cache");
  cr_expect_eq(httpresp_response_status(r), 304);
  cr_expect_str_eq(fixture_body(r), "");
  cr_expect_neq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED,
                "a 304 to an unconditional request is no representation");
  /* Fetched and not stored, because of its status (lib/cache/rules.c,
   * hr_cache_storable). */
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_MISS, "%s",
               httpresp_cache_status_name(httpresp_response_cache_status(r)));
  cr_expect_str_eq(httpresp_response_cache_reason(r), "status");
  cr_expect_eq(ts_request_count(ts), 1);
  expect_fast(secs, "304, empty cache");
  httpresp_response_free(r);
  /* Nothing was stored: the next request goes to the server. */
  r = timed("/nm", &secs);
  expect_code(r, 0, "after the 304");
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_str_eq(fixture_body(r), "full");
  cr_expect_eq(ts_request_count(ts), 2);
  httpresp_response_free(r);
  httpresp_client_set_cache(client, NULL);
  httpresp_cache_free(cache);
}

Test(hostile, not_modified_to_everything) {
  /* A stale entry is revalidated; the server answers 304 with a validator
   * that selects nothing, and 304 again to the unconditional repeat.  The
   * stored body must not be served, and the exchange must stay short. */
  httpresp_cache *cache;
  cr_assert_eq(httpresp_cache_new_memory(&cache, 1 << 20), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
  ts_simple(ts, 0, "/e", 200, "ETag: \"v1\"\r\nCache-Control: max-age=0\r\n",
            "stored body");
  ts_simple(ts, 0, "/e", 304, "ETag: \"other\"\r\n", NULL);
  double secs;
  httpresp_response *r = timed("/e", &secs);
  expect_code(r, 0, "first fetch");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
  r = timed("/e", &secs);
  expect_code(r, 0, "304 to everything");
  cr_expect_eq(httpresp_response_status(r), 304);
  cr_expect_str_neq(fixture_body(r), "stored body");
  cr_expect_str_eq(fixture_body(r), "", "the last 304's (empty) body");
  cr_expect_eq(ts_request_count(ts), 3, "one revalidation, one repeat");
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "If-None-Match"),
                   "\"v1\"", "the revalidation names the stored ETag");
  cr_expect_null(ts_req_header(ts_request_get(ts, 2), "If-None-Match"));
  expect_fast(secs, "304 to everything");
  httpresp_response_free(r);
  httpresp_client_set_cache(client, NULL);
  httpresp_cache_free(cache);
}

/* ---- a disk cache directory full of garbage ------------------------------- */

/* The disk store's file name for `key` (lib/store/disk.c): FNV-1a 64. */
static void entry_name(const char *key, char out[21]) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (; *key; key++) {
    h ^= (unsigned char)*key;
    h *= UINT64_C(0x100000001b3);
  }
  snprintf(out, 21, "%016llx.hrc", (unsigned long long)h);
}

static char *path_in(const char *dir, const char *name) {
  char *p = malloc(strlen(dir) + strlen(name) + 2);
  cr_assert_not_null(p);
  sprintf(p, "%s/%s", dir, name);
  return p;
}

static void write_file(const char *dir, const char *name, const void *data,
                       size_t len) {
  char *p = path_in(dir, name);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  cr_assert_geq(fd, 0, "%s: %s", p, strerror(errno));
  cr_assert_eq(write(fd, data, len), (ssize_t)len);
  close(fd);
  free(p);
}

static unsigned rnd_state = 12345u;
static unsigned rnd(void) {
  rnd_state = rnd_state * 1103515245u + 12345u;
  return rnd_state >> 8;
}

static void random_bytes(char *buf, size_t len) {
  for (size_t i = 0; i < len; i++)
    buf[i] = (char)rnd();
}

/* A file the disk store would accept as framing (magic, version, sizes,
 * checksum as lib/store/disk.c writes them) whose payload is garbage, so
 * that it is the entry decoder that must refuse it. */
static void write_framed_garbage(const char *dir, const char *key) {
  char name[21];
  entry_name(key, name);
  size_t klen = strlen(key), dlen = 300;
  char data[300];
  random_bytes(data, dlen);
  memcpy(data, "HRCE", 4); /* a plausible magic for an entry, or not */
  unsigned char h[32];
  memcpy(h, "HRDS", 4);
  hr_put_le32(h + 4, 1);
  hr_put_le32(h + 8, (uint32_t)klen);
  hr_put_le32(h + 12, 0);
  hr_put_le64(h + 16, dlen);
  hr_put_le64(h + 24, hr_cache_checksum(key, klen) ^
                          (hr_cache_checksum(data, dlen) *
                           UINT64_C(0x9e3779b97f4a7c15)));
  char *all = malloc(32 + klen + dlen);
  cr_assert_not_null(all);
  memcpy(all, h, 32);
  memcpy(all + 32, key, klen);
  memcpy(all + 32 + klen, data, dlen);
  write_file(dir, name, all, 32 + klen + dlen);
  free(all);
}

#define GARBAGE_URLS 8

Test(hostile, disk_cache_directory_full_of_garbage) {
  char dir[] = "/tmp/httpresp-hostile-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char outside[] = "/tmp/httpresp-outside-XXXXXX";
  int ofd = mkstemp(outside);
  cr_assert_geq(ofd, 0);
  cr_assert_eq(write(ofd, "precious", 8), 8);
  close(ofd);

  char *urls[GARBAGE_URLS];
  char names[GARBAGE_URLS][21];
  for (int i = 0; i < GARBAGE_URLS; i++) {
    char path[16];
    snprintf(path, sizeof(path), "/e%d", i);
    urls[i] = ts_url(ts, 0, path);
    entry_name(urls[i], names[i]);
    char body[32];
    snprintf(body, sizeof(body), "body %d", i);
    ts_simple(ts, 0, path, 200, "Cache-Control: max-age=3600\r\n", body);
  }

  /* Garbage under the names of the very entries the requests will use. */
  char buf[8192];
  random_bytes(buf, sizeof(buf));
  write_file(dir, names[0], buf, sizeof(buf)); /* random bytes */
  write_file(dir, names[1], "", 0);            /* empty */
  {                                            /* magic, absurd sizes */
    unsigned char h[32] = "HRDS";
    hr_put_le32(h + 4, 1);
    hr_put_le32(h + 8, 0xFFFFFFFFu);
    hr_put_le64(h + 16, UINT64_C(0xFFFFFFFFFFFFFFFF));
    write_file(dir, names[2], h, sizeof(h));
  }
  write_framed_garbage(dir, urls[3]);
  { /* a symlink to a file outside: never followed, never written through */
    char *p = path_in(dir, names[4]);
    cr_assert_eq(symlink(outside, p), 0);
    free(p);
  }
  { /* a sparse 1 GiB file: must not be read whole */
    char *p = path_in(dir, names[5]);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "HRDS", 4), 4);
    cr_assert_eq(ftruncate(fd, (off_t)1 << 30), 0);
    close(fd);
    free(p);
  }
  { /* a directory under an entry's name: not ours to remove */
    char *p = path_in(dir, names[6]);
    cr_assert_eq(mkdir(p, 0700), 0);
    free(p);
  }
  /* names[7] is left free: a plain miss. */

  /* And junk everywhere else. */
  for (int i = 0; i < 300; i++) {
    char name[40];
    if (i % 3 == 0)
      snprintf(name, sizeof(name), "%016x%08x.hrc", rnd(), rnd() & 0xffff);
    else if (i % 3 == 1)
      snprintf(name, sizeof(name), "%08x%08x.hrc", rnd(), rnd());
    else
      snprintf(name, sizeof(name), "junk-%d.bin", i);
    size_t len = rnd() % sizeof(buf);
    random_bytes(buf, len);
    write_file(dir, name, buf, len);
  }
  write_file(dir, ".hrtmp-AAAAAA", "half written", 12);
  {
    char *p = path_in(dir, "0000000000000000.hrc");
    cr_assert_eq(symlink("/nonexistent/dangling", p), 0);
    free(p);
    p = path_in(dir, "loop.hrc");
    cr_assert_eq(symlink("loop.hrc", p), 0);
    free(p);
    p = path_in(dir, ".hrtmp-BBBBBB");
    cr_assert_eq(symlink(outside, p), 0);
    /* old enough to look like an orphaned temp file */
    struct timespec old[2] = {{1, 0}, {1, 0}};
    utimensat(AT_FDCWD, p, old, AT_SYMLINK_NOFOLLOW);
    free(p);
    p = path_in(dir, "subdir");
    cr_assert_eq(mkdir(p, 0700), 0);
    free(p);
    write_file(dir, "subdir/ffffffffffffffff.hrc", "x", 1);
  }

  httpresp_cache *cache;
  cr_assert_eq(httpresp_cache_new_disk(&cache, dir, 4u << 20), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);

  /* First round: every request works, and is a miss stored anew (except
   * under the name a directory holds). */
  for (int i = 0; i < GARBAGE_URLS; i++) {
    char want[32];
    snprintf(want, sizeof(want), "body %d", i);
    double secs;
    httpresp_response *r = timed_url(client, "GET", urls[i], &secs);
    expect_code(r, 0, urls[i]);
    cr_expect_eq(httpresp_response_status(r), 200);
    cr_expect_str_eq(fixture_body(r), want, "never garbage served");
    httpresp_cache_status st = httpresp_response_cache_status(r);
    if (i == 6)
      cr_expect(st == HTTPRESP_CACHE_MISS, "entry %d: %s", i,
                httpresp_cache_status_name(st));
    else
      cr_expect_eq(st, HTTPRESP_CACHE_STORED, "entry %d: %s (%s)", i,
                   httpresp_cache_status_name(st),
                   httpresp_response_cache_reason(r));
    expect_fast(secs, urls[i]);
    httpresp_response_free(r);
  }
  cr_expect_eq(ts_request_count(ts), GARBAGE_URLS);

  /* Second round: what was stored is served, without the network. */
  for (int i = 0; i < GARBAGE_URLS; i++) {
    char want[32];
    snprintf(want, sizeof(want), "body %d", i);
    double secs;
    httpresp_response *r = timed_url(client, "GET", urls[i], &secs);
    expect_code(r, 0, urls[i]);
    cr_expect_str_eq(fixture_body(r), want);
    if (i != 6)
      cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT,
                   "entry %d: %s", i,
                   httpresp_cache_status_name(
                       httpresp_response_cache_status(r)));
    httpresp_response_free(r);
  }
  cr_expect_eq(ts_request_count(ts), GARBAGE_URLS + 1, "only /e6 again");

  /* The file outside was neither read into an answer nor changed. */
  char got[16] = "";
  FILE *f = fopen(outside, "r");
  cr_assert_not_null(f);
  cr_expect_eq(fread(got, 1, sizeof(got) - 1, f), 8);
  fclose(f);
  cr_expect_str_eq(got, "precious");

  httpresp_client_set_cache(client, NULL);
  httpresp_cache_free(cache);
  for (int i = 0; i < GARBAGE_URLS; i++)
    free(urls[i]);
  fixture_rm_rf(dir);
  unlink(outside);
}

Test(hostile, disk_cache_entry_damaged_between_requests) {
  char dir[] = "/tmp/httpresp-hostile-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  httpresp_cache *cache;
  cr_assert_eq(httpresp_cache_new_disk(&cache, dir, 4u << 20), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
  ts_simple(ts, 0, "/d", 200, "Cache-Control: max-age=3600\r\n",
            "the true body");
  char *u = ts_url(ts, 0, "/d");
  char name[21];
  entry_name(u, name);
  char *file = path_in(dir, name);
  double secs;
  httpresp_response *r = timed_url(client, "GET", u, &secs);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);

  /* Damage it three ways in turn; each is a miss and a fresh fetch. */
  for (int how = 0; how < 3; how++) {
    struct stat st;
    cr_assert_eq(stat(file, &st), 0, "round %d: the entry exists", how);
    int fd = open(file, O_RDWR);
    cr_assert_geq(fd, 0);
    if (how == 0) { /* flip the last body byte */
      char c;
      cr_assert_eq(pread(fd, &c, 1, st.st_size - 1), 1);
      c ^= 0x20;
      cr_assert_eq(pwrite(fd, &c, 1, st.st_size - 1), 1);
    } else if (how == 1) { /* cut in half */
      cr_assert_eq(ftruncate(fd, st.st_size / 2), 0);
    } else { /* grow with junk */
      cr_assert_eq(pwrite(fd, "junkjunk", 8, st.st_size), 8);
    }
    close(fd);
    size_t before = ts_request_count(ts);
    r = timed_url(client, "GET", u, &secs);
    expect_code(r, 0, "damaged entry");
    cr_expect_str_eq(fixture_body(r), "the true body", "round %d", how);
    cr_expect_eq(ts_request_count(ts), before + 1, "round %d: a miss", how);
    cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED,
                 "round %d", how);
    httpresp_response_free(r);
    r = timed_url(client, "GET", u, &secs);
    cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT,
                 "round %d: stored again", how);
    cr_expect_str_eq(fixture_body(r), "the true body");
    httpresp_response_free(r);
  }
  httpresp_client_set_cache(client, NULL);
  httpresp_cache_free(cache);
  free(file);
  free(u);
  fixture_rm_rf(dir);
}

typedef struct fifo_unblock {
  const char *path;
  int delay_ms;
  atomic_bool done; /* the timed request has returned */
} fifo_unblock;

/* Opens the FIFO for writing after a while, which releases a reader
 * blocked in open(), so that a hang shows as a slow request.  Stops
 * waiting as soon as the request has returned: a store that did not block
 * needs no release, and the test need not sit out the whole delay. */
static void *unblock_fifo(void *arg) {
  fifo_unblock *u = arg;
  double end = mono_s() + u->delay_ms / 1000.0;
  while (!atomic_load(&u->done) && mono_s() < end) {
    struct timespec t = {0, 20 * 1000 * 1000};
    nanosleep(&t, NULL);
  }
  int fd = open(u->path, O_WRONLY | O_NONBLOCK);
  if (fd >= 0)
    close(fd);
  return NULL;
}

Test(hostile, disk_cache_fifo_under_an_entry_name, .timeout = 60) {
  /* Another program (or user) left a FIFO where an entry goes.  Opening it
   * for reading blocks until a writer comes: the store must not wait. */
  char dir[] = "/tmp/httpresp-hostile-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  ts_simple(ts, 0, "/f", 200, "Cache-Control: max-age=3600\r\n", "fifo");
  char *u = ts_url(ts, 0, "/f");
  char name[21];
  entry_name(u, name);
  char *p = path_in(dir, name);
  cr_assert_eq(mkfifo(p, 0600), 0);
  httpresp_cache *cache;
  cr_assert_eq(httpresp_cache_new_disk(&cache, dir, 1u << 20), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
  fifo_unblock ub = {p, (int)(bound_s(3.0) * 1000) + 2000, false};
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, unblock_fifo, &ub), 0);
  double secs;
  httpresp_response *r = timed_url(client, "GET", u, &secs);
  atomic_store(&ub.done, true);
  expect_code(r, 0, "FIFO entry");
  cr_expect_str_eq(fixture_body(r), "fifo");
  expect_fast(secs, "FIFO entry");
  httpresp_response_free(r);
  pthread_join(th, NULL);
  httpresp_client_set_cache(client, NULL);
  httpresp_cache_free(cache);
  free(p);
  free(u);
  fixture_rm_rf(dir);
}

/* A caller's store that answers every get with garbage of some kind. */
typedef struct garbage_store {
  int gets;
} garbage_store;

static int gs_get(void *store, const char *key, void **data, size_t *len) {
  garbage_store *g = store;
  (void)key;
  size_t n;
  switch (g->gets++ % 4) {
  case 0:
    n = 0;
    break;
  case 1:
    n = 3;
    break;
  case 2:
    n = 4096;
    break;
  default:
    n = 100000;
    break;
  }
  char *d = malloc(n ? n : 1);
  if (!d)
    return HTTPRESP_E_NOMEM;
  random_bytes(d, n);
  if (n >= 8)
    memcpy(d, "HRCE\x01\x00\x00\x00", 8);
  *data = d;
  *len = n;
  return 0;
}

static int gs_put(void *store, const char *key, const void *data, size_t len) {
  (void)store;
  (void)key;
  (void)data;
  (void)len;
  return 0;
}

static int gs_del(void *store, const char *key) {
  (void)store;
  (void)key;
  return 0;
}

Test(hostile, caller_store_returning_garbage) {
  garbage_store g = {0};
  static const httpresp_store_ops ops = {HTTPRESP_STORE_VERSION, gs_get, gs_put,
                                         gs_del, NULL};
  httpresp_cache *cache;
  cr_assert_eq(httpresp_cache_new_custom(&cache, &ops, &g), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
  ts_simple(ts, 0, "/g", 200, "Cache-Control: max-age=3600\r\n", "real");
  for (int i = 0; i < 8; i++) {
    double secs;
    httpresp_response *r = timed("/g", &secs);
    expect_code(r, 0, "garbage store");
    cr_expect_str_eq(fixture_body(r), "real");
    expect_fast(secs, "garbage store");
    httpresp_response_free(r);
  }
  cr_expect_eq(ts_request_count(ts), 8, "garbage is never a hit");
  cr_expect_geq(g.gets, 8);
  httpresp_client_set_cache(client, NULL);
  httpresp_cache_free(cache);
}

/* ---- the non-blocking driver ---------------------------------------------- */

typedef struct multi_case {
  const char *path;
  int port;
  int code;
  CURLcode curl; /* libcurl's code, when the transfer failed in it */
  int status;    /* expected final status, -1: not checked */
  CURL *easy;
  httpresp_response *resp;
  int done;
} multi_case;

Test(hostile, multi_driver_meets_them_all_at_once) {
  /* The same state machine behind curl_multi: several hostile answers in
   * flight together, each ending with its own code, none holding up the
   * others, and nothing sleeping. */
  static const char interim[] = "HTTP/1.1 102 Processing\r\n\r\n";
  ts_resp *rr = ts_route(ts, 0, "/flood");
  for (int i = 0; i < 1000; i++)
    ts_resp_raw(rr, interim, sizeof(interim) - 1);
  ts_resp_stall(rr);
  stall_mid_body("/stall");
  ts_simple(ts, 0, "/badloc", 302, "Location: http://[::1\r\n", NULL);
  ts_simple(ts, 0, "/scheme", 302, "Location: file:///etc/passwd\r\n", NULL);
  char *many = many_headers(10000, "X-Flood-", ": v\r\n",
                            "Content-Length: 2\r\n\r\nok");
  raw_route("/many", many, strlen(many));
  static const char shorter[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                                "only twenty bytes...";
  raw_route("/short", shorter, sizeof(shorter) - 1);
  static const char notttp[] = "FOO 200 OK\r\n\r\n";
  raw_route("/nothttp", notttp, sizeof(notttp) - 1);
  /* On its own origin: the quiet it asks for must not touch the others. */
  ts_simple(ts, 1, "/busy", 503,
            "Retry-After: 1000000000000000000000000000000\r\n", NULL);
  ts_simple(ts, 0, "/fine", 200, NULL, "fine");

  multi_case cases[] = {
      {"/flood", 0, HTTPRESP_E_TOO_MANY_INTERIM, CURLE_OK, -1, NULL, NULL, 0},
      {"/stall", 0, HTTPRESP_E_CURL, CURLE_OPERATION_TIMEDOUT, 200, NULL, NULL,
       0},
      {"/badloc", 0, HTTPRESP_E_BAD_LOCATION, CURLE_OK, 302, NULL, NULL, 0},
      {"/scheme", 0, HTTPRESP_E_SCHEME_NOT_ALLOWED, CURLE_OK, 302, NULL, NULL,
       0},
      {"/many", 0, HTTPRESP_E_HEADERS_TOO_LARGE, CURLE_OK, -1, NULL, NULL, 0},
      {"/short", 0, HTTPRESP_E_CURL, CURLE_PARTIAL_FILE, 200, NULL, NULL, 0},
      {"/nothttp", 0, HTTPRESP_E_BAD_RESPONSE, CURLE_UNSUPPORTED_PROTOCOL, -1,
       NULL, NULL, 0},
      {"/busy", 1, 0, CURLE_OK, 503, NULL, NULL, 0},
      {"/fine", 0, 0, CURLE_OK, 200, NULL, NULL, 0},
  };
  size_t n = sizeof(cases) / sizeof(cases[0]);
  CURLM *cm = curl_multi_init();
  cr_assert_not_null(cm);
  httpresp_multi *hm;
  cr_assert_eq(httpresp_multi_new(&hm, client, cm), 0);
  for (size_t i = 0; i < n; i++) {
    cases[i].easy = fixture_easy();
    curl_easy_setopt(cases[i].easy, CURLOPT_TIMEOUT_MS, 500L);
    char *u = ts_url(ts, cases[i].port, cases[i].path);
    httpresp_request *req;
    cr_assert_eq(httpresp_request_new(&req, "GET", u), 0);
    cr_assert_eq(httpresp_multi_add(hm, cases[i].easy, req, &cases[i]), 0);
    httpresp_request_free(req);
    free(u);
  }
  double t0 = mono_s(), end = t0 + bound_s(5.0);
  size_t done = 0;
  while (done < n && mono_s() < end) {
    httpresp_response *r;
    CURL *e;
    void *ud;
    while (httpresp_multi_next_done(hm, &r, &e, &ud)) {
      multi_case *mc = ud;
      cr_assert_not_null(mc);
      cr_expect_eq(mc->done, 0, "%s handed back twice", mc->path);
      cr_expect_eq(e, mc->easy);
      mc->resp = r;
      mc->done = 1;
      done++;
    }
    if (done == n)
      break;
    int running;
    cr_assert_eq(httpresp_multi_perform(hm, &running), 0);
    cr_assert_eq(httpresp_multi_poll(hm, 50), 0);
  }
  double secs = mono_s() - t0;
  cr_expect_eq(done, n, "%zu of %zu handed back in %.2f s", done, n, secs);
  expect_fast(secs, "multi driver");
  for (size_t i = 0; i < n; i++) {
    multi_case *mc = &cases[i];
    if (!mc->done)
      continue;
    if (mc->curl != CURLE_OK)
      expect_failure(mc->resp, mc->code, mc->curl, mc->path);
    else
      expect_code(mc->resp, mc->code, mc->path);
    if (mc->status >= 0)
      cr_expect_eq(httpresp_response_status(mc->resp), mc->status, "%s",
                   mc->path);
    if (strcmp(mc->path, "/busy") == 0)
      cr_expect_eq(httpresp_response_retry_stop(mc->resp),
                   HTTPRESP_RETRY_WAIT_TOO_LONG);
    httpresp_response_free(mc->resp);
  }
  cr_expect_eq(clk.sleeps, 0, "the multi driver never sleeps");
  httpresp_multi_free(hm);
  for (size_t i = 0; i < n; i++)
    curl_easy_cleanup(cases[i].easy);
  curl_multi_cleanup(cm);
  free(many);
}

/* ---- hostile input from the caller's side ---------------------------------- */

Test(hostile, request_urls_that_are_refused) {
  char *huge = repeat("http://127.0.0.1/", 'a', 70 * 1024, "");
  const char *const urls[] = {
      "http://127.0.0.1/a\r\nX-Injected: 1",
      "http://127.0.0.1/\n",
      "http://127.0.0.1/\r",
      "http://127.0.0.1/a b",
      "http://127.0.0.1/\x7f",
      "ftp://127.0.0.1/file",
      "file:///etc/passwd",
      "javascript:alert(1)",
      "data:text/plain,hi",
      "gopher://127.0.0.1/",
      "http://[::1",
      "http://:80/",
      "http:///path",
      "http://exa mple.com/",
      "/relative/only",
      "",
      huge,
  };
  for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
    httpresp_request *req = (httpresp_request *)1;
    cr_expect_eq(httpresp_request_new(&req, "GET", urls[i]), HTTPRESP_E_BAD_URL,
                 "row %zu", i);
    cr_expect_null(req, "row %zu", i);
  }
  httpresp_request *req;
  cr_assert_eq(httpresp_request_new(&req, "GET", "http://127.0.0.1/ok"), 0);
  for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
    cr_expect_eq(httpresp_request_set_url(req, urls[i]), HTTPRESP_E_BAD_URL,
                 "row %zu", i);
    cr_expect_str_eq(httpresp_request_url(req), "http://127.0.0.1/ok");
  }
  httpresp_request_free(req);
  free(huge);
}

Test(hostile, request_headers_and_methods_that_are_refused) {
  httpresp_request *req;
  cr_assert_eq(httpresp_request_new(&req, "GET", "http://127.0.0.1/"), 0);
  static const struct {
    const char *name;
    const char *value;
  } bad[] = {
      {"X-A", "v\r\nX-Injected: 1"},
      {"X-A", "v\n"},
      {"X-A", "v\rw"},
      {"X-A\r\nX-Injected", "v"},
      {"X-A\n", "v"},
      {"Bad Name", "v"},
      {"", "v"},
      {"X-A: v\r\nX-Injected: 1", NULL},
      {"X-A: v\r\n", NULL},
      {"X-A: v\n", NULL},
      {"no colon at all", NULL},
      {": v", NULL},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_expect_eq(httpresp_request_add_header(req, bad[i].name, bad[i].value),
                 HTTPRESP_E_INVALID_ARG, "row %zu (%s)", i, bad[i].name);
  cr_expect_null(httpresp_request_header(req, "X-A"));
  cr_expect_null(httpresp_request_header(req, "X-Injected"));
  static const char *const methods[] = {"GET /x HTTP/1.1\r\nX: y", "GET\r\n",
                                        "G ET", "", "GET\n"};
  for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    httpresp_request *r2 = (httpresp_request *)1;
    cr_expect_eq(httpresp_request_new(&r2, methods[i], "http://127.0.0.1/"),
                 HTTPRESP_E_INVALID_ARG, "method row %zu", i);
    cr_expect_null(r2);
    cr_expect_eq(httpresp_request_set_method(req, methods[i]),
                 HTTPRESP_E_INVALID_ARG, "method row %zu", i);
  }
  cr_expect_str_eq(httpresp_request_method(req), "GET");
  httpresp_request_free(req);
}
