/* SPDX-License-Identifier: MIT */
/* The tool's -v trace: what it says about each hop agrees with what the
 * library did (the hop records the summary shows). */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testsrv.h"
#include "toolrun.h"

TestSuite(tool, .init = tool_setup, .fini = tool_teardown);

/* ---- the -v trace
 * ---------------------------------------------------------------------- */

Test(tool, verbose_trace_explains_each_hop) {
  ts_simple(tool_ts, 0, "/v1", 303, "Location: /v2", NULL);
  ts_resp *v2 = ts_route(tool_ts, 0, "/v2");
  ts_resp_str(v2, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload"
                  "\r\n\r\n");
  ts_resp_simple(v2, 200, NULL, "ok");
  char *u = url("/v1"), *u2 = url("/v2");
  run r = RUN("--no-cache", "-v", "-d", "x=1", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  char want[300];
  snprintf(want, sizeof(want), "> POST %s  (3 body bytes", u);
  cr_expect(strstr(r.err, want), "trace: %s", r.err);
  snprintf(want, sizeof(want),
           "< 303 See Other  -> follow to %s (POST becomes GET, body "
           "dropped)",
           u2);
  cr_expect(strstr(r.err, want), "trace: %s", r.err);
  cr_expect(strstr(r.err, "< 103 Early Hints  (interim, absorbed)"));
  cr_expect(strstr(r.err, "early hint: Link: </s.css>; rel=preload"));
  cr_expect(strstr(r.err, "< 200 OK"));
  cr_expect(strstr(r.err, "= 200 OK from "));
  cr_expect_str_eq(r.out, "ok", "the trace stays on stderr");
  run_free(&r);
  free(u);
  free(u2);
}

/* The trace's "other origin" follows the library's origin rule: userinfo
 * is not part of the origin, so a redirect to the same scheme, host and
 * port with a user name in the URL stays with its credentials. */
Test(tool, verbose_trace_names_other_origins_as_the_library_does) {
  char *land = ts_url(tool_ts, 0, "/land"),
       *other = ts_url(tool_ts, 1, "/land");
  char loc[300];
  /* http://x@127.0.0.1:PORT/land */
  snprintf(loc, sizeof(loc), "Location: http://x@%s", land + 7);
  ts_simple(tool_ts, 0, "/user", 302, loc, NULL);
  snprintf(loc, sizeof(loc), "Location: %s", other);
  ts_simple(tool_ts, 0, "/cross", 302, loc, NULL);
  ts_simple(tool_ts, 0, "/land", 200, NULL, "landed");
  ts_simple(tool_ts, 1, "/land", 200, NULL, "landed");

  char *u = url("/user");
  run r = RUN("--no-cache", "-v", "-u", "a:b", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect(strstr(r.err, "-> follow to "), "trace: %s", r.err);
  cr_expect_null(strstr(r.err, "other origin"),
                 "userinfo does not make another origin: %s", r.err);
  const ts_request *q1 = ts_request_get(tool_ts, 1);
  cr_assert_not_null(q1);
  cr_expect_not_null(ts_req_header(q1, "Authorization"),
                     "the library kept the credentials");
  run_free(&r);
  free(u);

  u = url("/cross");
  r = RUN("--no-cache", "-v", "-u", "a:b", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect(strstr(r.err, ", other origin: credentials not sent)"),
            "another port is another origin: %s", r.err);
  run_free(&r);
  free(u);
  free(land);
  free(other);
}

/* ---- the -v trace agrees with what happened --------------------------------
 */

/* A redirect whose target the cache answers: the trace says the 302 was
 * followed and the answer is a stored one, as the summary does (before, it
 * said "not a redirect the client follows"). */
Test(tool, verbose_trace_follows_into_a_cache_hit) {
  ts_simple(tool_ts, 0, "/t1", 302, "Location: /t2", NULL);
  ts_simple(tool_ts, 0, "/t2", 200, "Cache-Control: max-age=60", "stored");
  char *t1 = url("/t1"), *t2 = url("/t2");
  char opt[200];
  snprintf(opt, sizeof(opt), "--cache=%s", path_in_tmp("tc"));
  run r = RUN(opt, t2);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  run_free(&r);
  r = RUN(opt, "-v", WJSON, t1);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(ts_request_count(tool_ts), 2, "/t2 came from the cache");
  char want[300];
  snprintf(want, sizeof(want), "< 302 Found  -> follow to %s\n", t2);
  cr_expect(strstr(r.err, want), "trace: %s", r.err);
  snprintf(want, sizeof(want),
           "* GET %s: fresh in the cache, no request sent, stored ", t2);
  cr_expect(strstr(r.err, want), "trace: %s", r.err);
  cr_expect_null(strstr(r.err, "not a redirect"), "trace: %s", r.err);
  cr_expect(strstr(r.err, "1 redirect, cache hit: not fetched just now"),
            "trace: %s", r.err);
  cr_expect(strstr(r.out, "\"decision\":\"follow\"},{\"status\":200,"
                          "\"reason\":\"OK\",\"method\":\"GET\""),
            "json: %s", r.out);
  cr_expect(strstr(r.out, "stored\n{\"http_code\":200,"), "out: %s", r.out);
  run_free(&r);
  free(t1);
  free(t2);
}

/* The trace and -i show the server's reason phrase, not the library's
 * name for the status; -i prints the head exactly as curl -i does. */
Test(tool, trace_and_include_show_the_servers_reason_phrase) {
  ts_resp *m = ts_route(tool_ts, 0, "/mt");
  ts_resp_str(m, "HTTP/1.1 302 Moved Temporarily\r\nLocation: /end\r\n"
                 "Content-Length: 0\r\n\r\n");
  ts_resp *e = ts_route(tool_ts, 0, "/end");
  ts_resp_str(e, "HTTP/1.1 200 Fine Thanks\r\nContent-Length: 2\r\n"
                 "X-A: b\r\n\r\nok");
  char *u = url("/mt"), *end = url("/end");
  run r = RUN("-v", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  char want[300];
  snprintf(want, sizeof(want), "< 302 Moved Temporarily  -> follow to %s", end);
  cr_expect(strstr(r.err, want), "trace: %s", r.err);
  cr_expect(strstr(r.err, "< 200 Fine Thanks\n"), "trace: %s", r.err);
  cr_expect(strstr(r.err, "= 200 Fine Thanks from "), "trace: %s", r.err);
  run_free(&r);

  /* -i as curl -i -L: every head as it came, then the body; -I too. */
  const char *const flags[] = {"-i", "-I"};
  for (size_t i = 0; i < 2; i++) {
    r = RUN(flags[i], u);
    run c = run_curl((const char *const[]){"-s", flags[i], "-L", u, NULL});
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(r.out, c.out, "curl %s -L printed: %s", flags[i], c.out);
    run_free(&r);
    run_free(&c);
  }
  r = RUN("-i", "--no-follow", u);
  run c = run_curl((const char *const[]){"-s", "-i", u, NULL});
  cr_expect_str_eq(r.out, c.out, "curl -i printed: %s", c.out);
  run_free(&r);
  run_free(&c);

  /* Interim heads too, as curl -i shows them. */
  ts_resp *h = ts_route(tool_ts, 0, "/hints");
  ts_resp_str(h, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
                 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  char *hu = url("/hints");
  r = RUN("-i", hu);
  c = run_curl((const char *const[]){"-s", "-i", hu, NULL});
  cr_expect(strstr(r.out, "HTTP/1.1 103 Early Hints\r\n"), "out: %s", r.out);
  cr_expect_str_eq(r.out, c.out, "curl -i printed: %s", c.out);
  run_free(&r);
  run_free(&c);
  free(hu);
  free(u);
  free(end);
}

/* A 417, then a 307 back to the same URL: the trace numbers attempts as
 * the library counts them (a followed redirect starts again at 1), so it
 * never says "attempt 3" where the summary says 1 attempt. */
Test(tool, verbose_trace_counts_attempts_like_the_summary) {
  ts_resp *a = ts_route(tool_ts, 0, "/e");
  ts_resp_simple(a, 417, NULL, "no");
  ts_resp_before_body(a);
  /* Set-Cookie makes the revisit legitimate (no loop). */
  ts_simple(tool_ts, 0, "/e", 307, "Location: /e\r\nSet-Cookie: s=1", NULL);
  ts_simple(tool_ts, 0, "/e", 200, NULL, "done");
  char *u = url("/e");
  run r = RUN("-v", WJSON, "-H", "Expect: 100-continue", "-d", "x=1", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(ts_request_count(tool_ts), 3);
  cr_expect(strstr(r.err, "< 417 Expectation Failed  -> repeat without "
                          "Expect: 100-continue"),
            "trace: %s", r.err);
  cr_expect(strstr(r.err, "(attempt 2"), "the repeat is attempt 2: %s", r.err);
  char want[300];
  snprintf(want, sizeof(want),
           "< 307 Temporary Redirect  -> follow to %s (POST", u);
  cr_expect(strstr(r.err, want), "trace: %s", r.err);
  cr_expect_null(strstr(r.err, "attempt 3"), "trace: %s", r.err);
  cr_expect(strstr(r.out, "\"attempts\":1,"), "json: %s", r.out);
  cr_expect(strstr(r.err, "= 200 OK from "), "trace: %s", r.err);
  cr_expect_null(strstr(r.err, "attempts,"), "the summary has 1 attempt: %s",
                 r.err);
  run_free(&r);
  free(u);
}

/* A download cut short is resumed by the next run with --cache: the trace
 * and the summary say from which byte, the server got Range + If-Range,
 * and the output is the whole body. */
Test(tool, verbose_trace_says_resumed_from_byte) {
  static char body[4001];
  for (size_t i = 0; i < 4000; i++)
    body[i] = (char)('A' + i % 23);
  ts_resp *cut = ts_route(tool_ts, 0, "/dl");
  ts_resp_str(cut, "HTTP/1.1 200 OK\r\nETag: \"d1\"\r\n"
                   "Content-Length: 4000\r\nConnection: close\r\n\r\n");
  ts_resp_body(cut, body, 1234);
  ts_resp_close(cut);
  ts_simple(tool_ts, 0, "/dl", 206,
            "ETag: \"d1\"\r\nContent-Range: bytes 1234-3999/4000", body + 1234);
  char *u = url("/dl");
  const char *dir = path_in_tmp("resume-cache");
  char opt[600];
  snprintf(opt, sizeof(opt), "--cache=%s", dir);
  run r = RUN(opt, "-v", u);
  cr_expect_eq(r.code, 18, "err: %s", r.err);
  cr_expect(strstr(r.err, "the part received is kept, to resume"), "trace: %s",
            r.err);
  run_free(&r);
  r = RUN(opt, "-v", "-w", "%{json}", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect(strstr(r.err, "(cache: resumed from byte 1234)"), "trace: %s",
            r.err);
  cr_expect(strstr(r.err, "cache resumed from byte 1234"), "trace: %s", r.err);
  cr_expect(strstr(r.out, "\"resumed_from\":1234"), "out: %s", r.out);
  cr_assert(strlen(r.out) > 4000);
  cr_expect(memcmp(r.out, body, 4000) == 0, "the whole body, byte-exact");
  cr_assert_eq(ts_request_count(tool_ts), 2);
  const ts_request *q = ts_request_get(tool_ts, 1);
  cr_expect_str_eq(ts_req_header(q, "Range"), "bytes=1234-");
  cr_expect_str_eq(ts_req_header(q, "If-Range"), "\"d1\"");
  run_free(&r);
  free(u);
}
