/* SPDX-License-Identifier: MIT */
/* Hostile servers, message framing and malformed replies: a response whose
 * length cannot be known (RFC 9112 §6.3) is an error of its own, nothing of
 * it is delivered or stored; replies libcurl refuses as malformed or
 * oversized end with the library's codes for those (README's exit 8), each
 * with a message that names the cause. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "testsrv.h"

static ts_server *ts;
static httpresp_client *client;
static CURL *easy;
static fake_clock clk;
static httpresp_cache *cache;

static void setup(void) {
  fixture_suite_start(1, &ts, &clk, &client, &easy);
  cr_assert_eq(httpresp_cache_new_memory(&cache, 1 << 20), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
}

static void teardown(void) {
  fixture_suite_stop(ts, client, easy);
  httpresp_cache_free(cache);
}

TestSuite(hostile_framing, .init = setup, .fini = teardown);

typedef struct sink_count {
  size_t bytes;
  size_t calls;
} sink_count;

static size_t count_sink(void *ud, const char *data, size_t len) {
  (void)data;
  sink_count *s = ud;
  s->bytes += len;
  s->calls++;
  return len;
}

/* GETs `path` with a sink, so that what reached the caller is counted. */
static httpresp_response *get_sunk(const char *path, sink_count *sc) {
  char *u = ts_url(ts, 0, path);
  httpresp_request *req = NULL;
  cr_assert_eq(httpresp_request_new(&req, "GET", u), 0);
  cr_assert_eq(httpresp_request_set_sink(req, count_sink, sc), 0);
  httpresp_response *r = NULL;
  httpresp_perform(client, easy, req, &r);
  cr_assert_not_null(r);
  httpresp_request_free(req);
  free(u);
  return r;
}

static httpresp_response *get(const char *path) {
  char *u = ts_url(ts, 0, path);
  httpresp_response *r = fixture_run(client, easy, "GET", u, NULL, NULL);
  free(u);
  return r;
}

static void raw_route(const char *path, const char *bytes, size_t len) {
  ts_resp *r = ts_route(ts, 0, path);
  ts_resp_raw(r, bytes, len);
  ts_resp_close(r);
}

/* ---- Content-Length (RFC 9112 §6.3, RFC 9110 §8.6) ------------------ */

typedef struct cl_row {
  const char *name;
  const char *fields; /* the Content-Length lines */
  int code;           /* 0: delivered with body "hello" and stored */
  const char *why;    /* a word the message must hold */
} cl_row;

static const cl_row cl_rows[] = {
    {"two lines that disagree", "Content-Length: 5\r\nContent-Length: 10\r\n",
     HTTPRESP_E_BAD_RESPONSE, "different"},
    {"a list that disagrees", "Content-Length: 5, 10\r\n",
     HTTPRESP_E_BAD_RESPONSE, "different"},
    {"a list then a line", "Content-Length: 5, 5\r\nContent-Length: 6\r\n",
     HTTPRESP_E_BAD_RESPONSE, "different"},
    {"digits then garbage", "Content-Length: 5x\r\n", HTTPRESP_E_BAD_RESPONSE,
     "Content-Length"},
    {"a plus sign", "Content-Length: +5\r\n", HTTPRESP_E_BAD_RESPONSE,
     "Content-Length"},
    {"not a number", "Content-Length: abc\r\n", HTTPRESP_E_BAD_RESPONSE,
     "Content-Length"},
    {"negative", "Content-Length: -5\r\n", HTTPRESP_E_BAD_RESPONSE,
     "Content-Length"},
    {"empty", "Content-Length: \r\n", HTTPRESP_E_BAD_RESPONSE,
     "Content-Length"},
    {"only commas", "Content-Length: ,\r\n", HTTPRESP_E_BAD_RESPONSE,
     "Content-Length"},
    {"beyond 2^63", "Content-Length: 99999999999999999999999\r\n",
     HTTPRESP_E_BAD_RESPONSE, "Content-Length"},
    /* RFC 9112 §5.2: obs-fold is replaced by SP before the value is read:
     * "5 5" is no number (the verdict cannot rest on the first line). */
    {"a value continued by obs-fold", "Content-Length: 5\r\n 5\r\n",
     HTTPRESP_E_BAD_RESPONSE, "Content-Length"},
    {"a valid and an invalid line",
     "Content-Length: 5\r\nContent-Length: 5x\r\n", HTTPRESP_E_BAD_RESPONSE,
     "Content-Length"},
    /* RFC 9112 §6.3 item 5: a list of one value repeated is processed as
     * that value. */
    {"the same value twice in a list", "Content-Length: 5, 5\r\n", 0, NULL},
    {"the same value on two lines",
     "Content-Length: 5\r\nContent-Length: 5\r\n", 0, NULL},
    {"leading zeros", "Content-Length: 005\r\n", 0, NULL},
    /* RFC 9110 §5.6.1: empty list elements are ignored. */
    {"an empty list member", "Content-Length: 5,,5\r\n", 0, NULL},
};

Test(hostile_framing, content_length_that_frames_nothing) {
  for (size_t i = 0; i < sizeof(cl_rows) / sizeof(cl_rows[0]); i++) {
    const cl_row *row = &cl_rows[i];
    ts_reset(ts);
    char resp[256];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\n"
                     "%s\r\nhello",
                     row->fields);
    char path[16]; /* one URL per row: no row meets another's entry */
    snprintf(path, sizeof(path), "/cl%zu", i);
    raw_route(path, resp, (size_t)n);
    sink_count sc = {0, 0};
    httpresp_response *r = get_sunk(path, &sc);
    int got = httpresp_response_error(r);
    cr_expect_eq(got, row->code, "%s: got %s (%s)", row->name,
                 httpresp_errname(got), httpresp_response_errmsg(r));
    if (row->code) {
      cr_expect_eq(sc.bytes, 0, "%s: %zu body bytes reached the sink",
                   row->name, sc.bytes);
      cr_expect_not_null(strstr(httpresp_response_errmsg(r), row->why),
                         "%s: message \"%s\"", row->name,
                         httpresp_response_errmsg(r));
    } else {
      cr_expect_eq(sc.bytes, 5, "%s", row->name);
      cr_expect_eq(httpresp_response_status(r), 200, "%s", row->name);
    }
    httpresp_response_free(r);

    /* Stored only when delivered: a second GET is a hit exactly then. */
    r = get(path);
    cr_expect_eq(httpresp_response_cache_status(r),
                 row->code ? HTTPRESP_CACHE_MISS : HTTPRESP_CACHE_HIT,
                 "%s: second request %s", row->name,
                 httpresp_cache_status_name(httpresp_response_cache_status(r)));
    cr_expect_eq(ts_request_count(ts), row->code ? 2 : 1, "%s", row->name);
    httpresp_response_free(r);
  }
}

Test(hostile_framing, collected_body_is_not_kept_either) {
  static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                             "Content-Length: 7\r\n\r\nhello..";
  raw_route("/dup", resp, sizeof(resp) - 1);
  httpresp_response *r = get("/dup");
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_BAD_RESPONSE, "%s",
               httpresp_response_errmsg(r));
  size_t len = 99;
  httpresp_response_body(r, &len);
  cr_expect_eq(len, 0, "no body is handed over");
  cr_expect_eq(httpresp_response_hop_count(r), 1);
  fixture_expect_hop(r, 0, 200, HTTPRESP_DECISION_STOP);
  httpresp_response_free(r);
}

Test(hostile_framing, a_redirect_with_bad_framing_is_not_followed) {
  ts_simple(ts, 0, "/next", 200, NULL, "must not be fetched");
  static const char resp[] = "HTTP/1.1 302 Found\r\nLocation: /next\r\n"
                             "Content-Length: 0, 1\r\n\r\n";
  raw_route("/a", resp, sizeof(resp) - 1);
  httpresp_response *r = get("/a");
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_BAD_RESPONSE, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(ts_request_count(ts), 1, "nothing followed");
  httpresp_response_free(r);
}

Test(hostile_framing, transfer_encoding_overrides_content_length) {
  /* RFC 9112 §6.3 item 3: with both, Transfer-Encoding frames the message
   * and Content-Length (even one that is not a number) is ignored, as
   * libcurl does; item 5 is for messages without Transfer-Encoding. */
  static const char resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                             "Content-Length: 3, 4\r\n\r\n"
                             "5\r\nhello\r\n0\r\n\r\n";
  ts_resp *tr = ts_route(ts, 0, "/te");
  ts_resp_raw(tr, resp, sizeof(resp) - 1);
  ts_simple(ts, 0, "/next", 200, NULL, "next");
  httpresp_response *r = get("/te");
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_str_eq(fixture_body(r), "hello");
  httpresp_response_free(r);
  /* The chunked framing ended the message where the server meant it to:
   * the next answer on the connection is read whole. */
  r = get("/next");
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_str_eq(fixture_body(r), "next");
  httpresp_response_free(r);
}

Test(hostile_framing, bodyless_answers_are_framed_without_content_length) {
  /* RFC 9112 §6.3 item 1: a 304 or 204 ends at the empty line whatever its
   * fields say, so its Content-Length frames nothing. */
  static const char resp[] = "HTTP/1.1 204 No Content\r\n"
                             "Content-Length: 0, 1\r\n\r\n";
  raw_route("/nc", resp, sizeof(resp) - 1);
  httpresp_response *r = get("/nc");
  cr_expect_eq(httpresp_response_error(r), 0, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), 204);
  httpresp_response_free(r);
}

/* ---- replies libcurl refuses (README: exit 8, each with its cause) --------
 */

/* "<prefix><n x c><suffix>" (malloc'd). */
static char *repeat(const char *prefix, char c, size_t n, const char *suffix) {
  size_t a = strlen(prefix), b = strlen(suffix);
  char *s = malloc(a + n + b + 1);
  cr_assert_not_null(s);
  memcpy(s, prefix, a);
  memset(s + a, c, n);
  memcpy(s + a + n, suffix, b + 1);
  return s;
}

typedef struct reply_row {
  const char *name;
  const char *bytes; /* NULL: built by the test */
  size_t len;
  int code;
  const char *why; /* a phrase the message must hold */
} reply_row;

Test(hostile_framing, replies_libcurl_refuses_get_their_own_code) {
  char *big_line = repeat("HTTP/1.1 200 OK\r\nX-Big: ", 'x', (size_t)1 << 20,
                          "\r\nContent-Length: 2\r\n\r\nok");
  char *big_loc = repeat("HTTP/1.1 302 Found\r\nLocation: /", 'a',
                         (size_t)1 << 20, "\r\nContent-Length: 0\r\n\r\n");
  static const char nul_hdr[] = "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n"
                                "Content-Length: 2\r\n\r\nok";
  static const char nul_loc[] = "HTTP/1.1 302 Found\r\nLocation: /a\0/b\r\n"
                                "Content-Length: 0\r\n\r\n";
  const reply_row rows[] = {
      {"a header line of 1 MiB", big_line, strlen(big_line),
       HTTPRESP_E_HEADERS_TOO_LARGE, "header line"},
      {"a Location of 1 MiB", big_loc, strlen(big_loc),
       HTTPRESP_E_HEADERS_TOO_LARGE, "header line"},
      {"a NUL in a header", nul_hdr, sizeof(nul_hdr) - 1,
       HTTPRESP_E_BAD_RESPONSE, "Nul byte"},
      {"a NUL in Location", nul_loc, sizeof(nul_loc) - 1,
       HTTPRESP_E_BAD_RESPONSE, "Nul byte"},
      {"HTTP/0.9", "<html>a body and no status line</html>\n", 0,
       HTTPRESP_E_BAD_RESPONSE, "HTTP/0.9"},
      {"an unknown version", "HTTP/9.9 200 OK\r\nContent-Length: 0\r\n\r\n", 0,
       HTTPRESP_E_BAD_RESPONSE, "malformed"},
      {"a four-digit code", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", 0,
       HTTPRESP_E_BAD_RESPONSE, "malformed"},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    const reply_row *row = &rows[i];
    ts_reset(ts);
    raw_route("/r", row->bytes, row->len ? row->len : strlen(row->bytes));
    ts_simple(ts, 0, "/a", 200, NULL, "must not be fetched");
    sink_count sc = {0, 0};
    httpresp_response *r = get_sunk("/r", &sc);
    int got = httpresp_response_error(r);
    const char *msg = httpresp_response_errmsg(r);
    cr_expect_eq(got, row->code, "%s: got %s (%s)", row->name,
                 httpresp_errname(got), msg);
    cr_expect_not_null(strstr(msg, row->why), "%s: message \"%s\"", row->name,
                       msg);
    cr_expect_null(strstr(msg, "Out of memory"), "%s: \"%s\"", row->name, msg);
    cr_expect_neq(httpresp_response_curl_code(r), CURLE_OK,
                  "%s: libcurl's own code stays available", row->name);
    cr_expect_eq(sc.bytes, 0, "%s: nothing delivered", row->name);
    cr_expect_eq(ts_request_count(ts), 1, "%s: nothing followed", row->name);
    httpresp_response_free(r);
  }
  free(big_line);
  free(big_loc);
}

Test(hostile_framing, a_scheme_libcurl_lacks_stays_a_transfer_failure) {
  /* Not a reply at all: nothing was sent, so libcurl's "unsupported
   * protocol" is no verdict on a server. */
  char hdr[64];
  snprintf(hdr, sizeof(hdr), "Location: nosuchproto://127.0.0.1:%d/\r\n",
           ts_port(ts, 0));
  ts_simple(ts, 0, "/a", 302, hdr, NULL);
  cr_assert_eq(
      httpresp_client_set_redirect_schemes(client, "http,https,nosuchproto"),
      0);
  httpresp_response *r = get("/a");
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_CURL, "%s",
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_curl_code(r), CURLE_UNSUPPORTED_PROTOCOL);
  httpresp_response_free(r);
}

Test(hostile_framing, a_location_over_the_url_cap_says_so) {
  /* 90 KB: within libcurl's line limit, over the library's 64 KiB URL
   * cap: the cap is the cause, not the syntax. */
  char *hdr = repeat("Location: /", 'a', 90 * 1000, "\r\n");
  ts_simple(ts, 0, "/big", 302, hdr, NULL);
  httpresp_response *r = get("/big");
  cr_expect_eq(httpresp_response_error(r), HTTPRESP_E_BAD_LOCATION);
  const char *msg = httpresp_response_errmsg(r);
  cr_expect_not_null(strstr(msg, "65536"), "message \"%s\"", msg);
  cr_expect_null(strstr(msg, "not a valid URI reference"), "\"%s\"", msg);
  cr_expect_leq(strlen(msg), 512, "a bounded message");
  cr_expect_eq(httpresp_response_status(r), 302, "the 3xx stays available");
  httpresp_response_free(r);
  free(hdr);
}
