/* SPDX-License-Identifier: MIT */
/* Tests of the httpresp command-line tool and the demo server, run as the
 * user runs them: as programs (tests/support/toolrun.c runs them).  Most
 * tests point the tool at the in-process loopback server, which records
 * what it received; a few start the demo server.  test_tool_curl.c holds
 * the tests run beside curl, test_tool_trace.c those of the -v trace. */
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

/* ---- the command line
 * -------------------------------------------------------- */

Test(tool, version_help_and_usage_errors) {
  run r = RUN("--version");
  cr_expect_eq(r.code, 0);
  cr_expect(strstr(r.out, "httpresp 0.1.0") && strstr(r.out, "libhttpresp") &&
                strstr(r.out, "libcurl"),
            "--version printed: %s", r.out);
  run_free(&r);

  r = RUN("--help");
  cr_expect_eq(r.code, 0);
  cr_expect(strstr(r.out, "Exit codes") && strstr(r.out, "--max-wait") &&
            strstr(r.out, "47"));
  run_free(&r);

  r = RUN("--no-such-option", "http://127.0.0.1:1/");
  cr_expect_eq(r.code, 2);
  cr_expect(strstr(r.err, "httpresp: unknown option"), "stderr: %s", r.err);
  run_free(&r);

  r = RUN("-v");
  cr_expect_eq(r.code, 2, "no URL is a usage error");
  run_free(&r);

  r = RUN("--max-redirs", "many", "http://127.0.0.1:1/");
  cr_expect_eq(r.code, 2);
  run_free(&r);

  r = RUN("-H", "no colon here", "--no-cache", "http://127.0.0.1:1/");
  cr_expect_eq(r.code, 2, "a bad -H is a usage error: %s", r.err);
  run_free(&r);

  r = RUN("-I", "-d", "x", "http://127.0.0.1:1/");
  cr_expect_eq(r.code, 2, "HEAD with a body is refused");
  run_free(&r);
}

Test(tool, get_prints_body_and_sends_user_agent) {
  ts_simple(tool_ts, 0, "/a", 200, NULL, "hello\n");
  char *u = url("/a");
  run r = RUN("--no-cache", u);
  cr_expect_eq(r.code, 0, "stderr: %s", r.err);
  cr_expect_str_eq(r.out, "hello\n");
  cr_expect_str_eq(r.err, "");
  const ts_request *q = ts_request_get(tool_ts, 0);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "GET");
  cr_expect(strncmp(ts_req_header(q, "User-Agent"), "httpresp/", 9) == 0);
  cr_expect_eq(q->body_len, 0);
  run_free(&r);
  free(u);
}

Test(tool, method_data_and_headers) {
  ts_simple(tool_ts, 0, "/p", 201, NULL, "made");
  char *u = url("/p");
  run r = RUN("--no-cache", "-X", "PUT", "-d", "a=1", "-d", "b=2", "-H",
              "X-Demo: yes", "-H", "Content-Type: text/plain", u);
  cr_expect_eq(r.code, 0, "stderr: %s", r.err);
  const ts_request *q = ts_request_get(tool_ts, 0);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "PUT");
  cr_expect_str_eq(q->body, "a=1&b=2", "-d pieces are joined with '&'");
  cr_expect_str_eq(ts_req_header(q, "X-Demo"), "yes");
  cr_expect_str_eq(ts_req_header(q, "Content-Type"), "text/plain");
  cr_expect_eq(ts_req_header_count(q, "Content-Type"), 1);
  run_free(&r);

  /* -d alone means POST, form-encoded like curl. */
  r = RUN("--no-cache", "-d", "x=y", u);
  q = ts_request_get(tool_ts, 1);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "POST");
  cr_expect_str_eq(ts_req_header(q, "Content-Type"),
                   "application/x-www-form-urlencoded");
  run_free(&r);

  /* A -H Content-Type, in any case, replaces the default; so does an
   * empty one ("Content-Type:"), which goes out empty. */
  static const struct {
    const char *header, *sent;
  } ct[] = {{"content-TYPE: text/x", "text/x"}, {"Content-Type:", ""}};
  for (size_t i = 0; i < sizeof(ct) / sizeof(ct[0]); i++) {
    r = RUN("--no-cache", "-d", "x=y", "-H", ct[i].header, u);
    cr_expect_eq(r.code, 0, "err: %s", r.err);
    q = ts_request_get(tool_ts, 2 + i);
    cr_assert_not_null(q);
    cr_expect_str_eq(ts_req_header(q, "Content-Type"), ct[i].sent, "-H '%s'",
                     ct[i].header);
    cr_expect_eq(ts_req_header_count(q, "Content-Type"), 1);
    cr_expect_str_eq(q->body, "x=y");
    run_free(&r);
  }
  free(u);
}

Test(tool, data_from_file_and_stdin) {
  ts_simple(tool_ts, 0, "/p", 200, NULL, "ok");
  char *u = url("/p");
  const char *file = path_in_tmp("data.bin");
  FILE *f = fopen(file, "wb");
  cr_assert_not_null(f);
  fwrite("line1\r\nline2\n\0end", 1, 17, f);
  fclose(f);
  char arg[200];
  snprintf(arg, sizeof(arg), "@%s", file);

  run r = RUN("--no-cache", "--data-binary", arg, u);
  cr_expect_eq(r.code, 0, "stderr: %s", r.err);
  const ts_request *q = ts_request_get(tool_ts, 0);
  cr_assert_not_null(q);
  cr_expect_eq(q->body_len, 17);
  cr_expect(memcmp(q->body, "line1\r\nline2\n\0end", 17) == 0,
            "--data-binary sends the bytes unchanged");
  run_free(&r);

  r = RUN("--no-cache", "-d", arg, u);
  q = ts_request_get(tool_ts, 1);
  cr_assert_not_null(q);
  cr_expect_eq(q->body_len, 14, "-d @file drops CR and LF");
  run_free(&r);

  r = RUN_IN("from stdin\n", 11, "--no-cache", "--data-binary", "@-", u);
  q = ts_request_get(tool_ts, 2);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->body, "from stdin\n");
  run_free(&r);

  r = RUN("--no-cache", "--data-binary", "@/nonexistent/file", u);
  cr_expect_eq(r.code, 26, "an unreadable data file exits 26");
  cr_expect(strstr(r.err, "/nonexistent/file"));
  run_free(&r);
  free(u);
}

Test(tool, head_and_include) {
  ts_simple(tool_ts, 0, "/h", 200, "X-Thing: 1\r\n", "body!");
  char *u = url("/h");
  run r = RUN("--no-cache", "-I", u);
  cr_expect_eq(r.code, 0, "stderr: %s", r.err);
  cr_expect(strncmp(r.out, "HTTP/1.1 200 OK\r\n", 17) == 0, "out: %s", r.out);
  cr_expect(strstr(r.out, "X-Thing: 1\r\n"));
  cr_expect_null(strstr(r.out, "body!"));
  const ts_request *q = ts_request_get(tool_ts, 0);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "HEAD");
  run_free(&r);

  r = RUN("--no-cache", "-i", u);
  cr_expect_eq(r.code, 0);
  char *head_end = strstr(r.out, "\r\n\r\n");
  cr_assert_not_null(head_end);
  cr_expect_str_eq(head_end + 4, "body!");
  cr_expect(strstr(r.out, "X-Thing: 1\r\n") < head_end);
  run_free(&r);
  free(u);
}

Test(tool, output_file_and_silent) {
  ts_simple(tool_ts, 0, "/o", 200, NULL, "to the file");
  char *u = url("/o");
  const char *out = path_in_tmp("out.txt");
  run r = RUN("--no-cache", "-o", out, u);
  cr_expect_eq(r.code, 0, "stderr: %s", r.err);
  cr_expect_str_eq(r.out, "");
  char *got = slurp_file(out, NULL);
  cr_assert_not_null(got, "-o did not create the file");
  cr_expect_str_eq(got, "to the file");
  free(got);
  run_free(&r);

  r = RUN("--no-cache", "-o", "/nonexistent/dir/x", u);
  cr_expect_eq(r.code, 23, "an unwritable output exits 23");
  run_free(&r);

  r = RUN("--no-cache", "-s", "http://127.0.0.1:1/");
  cr_expect_eq(r.code, 7);
  cr_expect_str_eq(r.err, "", "-s hides the error line");
  run_free(&r);
  r = RUN("--no-cache", "-sS", "http://127.0.0.1:1/");
  cr_expect(strstr(r.err, "httpresp: http://127.0.0.1:1/: "), "err: %s", r.err);
  run_free(&r);
  free(u);
}

/* ---- redirects
 * ----------------------------------------------------------------- */

Test(tool, redirect_limit_and_no_follow) {
  ts_simple(tool_ts, 0, "/r1", 302, "Location: /r2", "hop1");
  ts_simple(tool_ts, 0, "/r2", 301, "Location: /r3", "hop2");
  ts_simple(tool_ts, 0, "/r3", 200, NULL, "end");
  char *u = url("/r1");
  run r = RUN("--no-cache", "--max-redirs", "1", u);
  cr_expect_eq(r.code, 47, "too many redirects exits 47 like curl");
  cr_expect(strstr(r.err, "too many redirects"), "err: %s", r.err);
  cr_expect_eq(ts_request_count(tool_ts), 2);
  run_free(&r);

  ts_reset(tool_ts);
  ts_simple(tool_ts, 0, "/r1", 302, "Location: /r2", "hop1");
  r = RUN("--no-cache", "--no-follow", u);
  cr_expect_eq(r.code, 0);
  cr_expect_str_eq(r.out, "hop1", "the 3xx is the answer");
  cr_expect_eq(ts_request_count(tool_ts), 1);
  run_free(&r);
  free(u);
}

Test(tool, post_redirects_and_keep_post) {
  ts_simple(tool_ts, 0, "/form", 303, "Location: /result", NULL);
  ts_simple(tool_ts, 0, "/result", 200, NULL, "r");
  ts_simple(tool_ts, 0, "/moved", 301, "Location: /result", NULL);
  ts_simple(tool_ts, 0, "/tmp", 307, "Location: /result", NULL);
  char *form = url("/form"), *moved = url("/moved"), *tmp = url("/tmp");

  run r = RUN("--no-cache", "-d", "a=b", form);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  const ts_request *q = ts_request_get(tool_ts, 1);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "GET", "303 turns POST into GET");
  cr_expect_eq(q->body_len, 0);
  cr_expect_null(ts_req_header(q, "Content-Type"));
  run_free(&r);

  r = RUN("--no-cache", "-d", "a=b", moved);
  q = ts_request_get(tool_ts, 3);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "GET", "301 after POST: GET by default");
  run_free(&r);

  r = RUN("--no-cache", "--keep-post", "-d", "a=b", moved);
  q = ts_request_get(tool_ts, 5);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "POST", "--keep-post keeps it");
  cr_expect_str_eq(q->body, "a=b");
  run_free(&r);

  r = RUN("--no-cache", "-d", "a=b", tmp);
  q = ts_request_get(tool_ts, 7);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "POST", "307 keeps the method");
  cr_expect_str_eq(q->body, "a=b", "and the body");
  run_free(&r);
  free(form);
  free(moved);
  free(tmp);
}

Test(tool, credentials_stay_with_their_origin) {
  char *other = ts_url(tool_ts, 1, "/land");
  char loc[200];
  snprintf(loc, sizeof(loc), "Location: %s", other);
  ts_simple(tool_ts, 0, "/go", 302, loc, NULL);
  ts_simple(tool_ts, 1, "/land", 200, NULL, "landed");
  char *u = url("/go");
  run r = RUN("--no-cache", "-u", "user:pass", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_str_eq(r.out, "landed");
  const ts_request *q0 = ts_request_get(tool_ts, 0),
                   *q1 = ts_request_get(tool_ts, 1);
  cr_assert(q0 && q1);
  cr_expect_str_eq(ts_req_header(q0, "Authorization"), "Basic dXNlcjpwYXNz");
  cr_expect_null(ts_req_header(q1, "Authorization"),
                 "credentials must not reach another port");
  run_free(&r);
  free(u);
  free(other);
}

Test(tool, exit_codes_of_redirect_errors) {
  ts_simple(tool_ts, 0, "/loop1", 302, "Location: /loop2", NULL);
  ts_simple(tool_ts, 0, "/loop2", 302, "Location: /loop1", NULL);
  ts_simple(tool_ts, 0, "/badloc", 302, "Location: http://[::1/x", NULL);
  ts_simple(tool_ts, 0, "/ftp", 302, "Location: ftp://127.0.0.1/f", NULL);
  ts_simple(tool_ts, 0, "/404", 404, NULL, "missing");
  struct {
    const char *path;
    int code;
    const char *says;
  } cases[] = {
      {"/loop1", 110, "redirect loop"},
      {"/badloc", 3, "Location"},
      {"/ftp", 1, "scheme"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *u = url(cases[i].path);
    run r = RUN("--no-cache", u);
    cr_expect_eq(r.code, cases[i].code, "%s: exit %d", cases[i].path, r.code);
    /* One line naming the URL and what went wrong. */
    cr_expect(strncmp(r.err, "httpresp: ", 10) == 0 && strstr(r.err, u) &&
                  strstr(r.err, cases[i].says) &&
                  strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
              "stderr: %s", r.err);
    run_free(&r);
    free(u);
  }

  char *u = url("/404");
  run r = RUN("--no-cache", u);
  cr_expect_eq(r.code, 0, "without -f any status is success");
  cr_expect_str_eq(r.out, "missing");
  run_free(&r);
  r = RUN("--no-cache", "-f", u);
  cr_expect_eq(r.code, 22, "-f: HTTP >= 400 exits 22");
  cr_expect_str_eq(r.out, "", "-f writes no body");
  run_free(&r);
  free(u);

  r = RUN("--no-cache", "http://127.0.0.1:1/");
  cr_expect_eq(r.code, 7, "connection refused exits 7");
  run_free(&r);
  r = RUN("--no-cache", "gopher://x/");
  cr_expect_eq(r.code, 1,
               "a URL that is not http(s) exits 1, like curl "
               "--proto =http,https");
  run_free(&r);
  r = RUN("--no-cache", "http://[::1/x");
  cr_expect_eq(r.code, 3, "a malformed URL exits 3");
  run_free(&r);
}

/* ---- Retry-After
 * ---------------------------------------------------------------- */

Test(tool, max_retries_and_max_wait) {
  ts_simple(tool_ts, 0, "/busy", 429, "Retry-After: 0", "later");
  char *u = url("/busy");
  run r = RUN("--no-cache", WJSON, "--max-retries", "2", u);
  cr_expect_eq(r.code, 0, "a 429 is still an HTTP answer: %s", r.err);
  cr_expect_eq(ts_request_count(tool_ts), 3, "one request and two repeats");
  cr_expect(strstr(r.out, "\"attempts\":3"), "json: %s", r.out);
  cr_expect(strstr(r.out, "\"retry_stop\":\"exhausted\""));
  cr_expect(strstr(r.out, "\"retry_after_ms\":0"));
  run_free(&r);

  r = RUN("--no-cache", "-f", "--max-retries", "0", u);
  cr_expect_eq(r.code, 112, "-f and still told to wait: 112");
  run_free(&r);

  ts_reset(tool_ts);
  ts_simple(tool_ts, 0, "/busy", 503, "Retry-After: 1", "later");
  r = RUN("--no-cache", WJSON, "--max-wait", "0.5", u);
  cr_expect_eq(r.code, 0);
  cr_expect_eq(ts_request_count(tool_ts), 1,
               "a 1 s wait is above --max-wait 0.5");
  cr_expect(strstr(r.out, "\"retry_after_ms\":1000"), "json: %s", r.out);
  cr_expect(strstr(r.out, "\"retry_stop\":\"wait-too-long\""));
  cr_expect_lt(r.ms, bound_ms(900), "it must not have waited");
  run_free(&r);
  free(u);
}

Test(tool, retry_after_is_waited_for) {
  ts_resp *first = ts_route(tool_ts, 0, "/slow");
  ts_resp_simple(first, 429, "Retry-After: 1", "wait");
  ts_resp_simple(ts_route(tool_ts, 0, "/slow"), 200, NULL, "done");
  char *u = url("/slow");
  run r = RUN("--no-cache", "-v", "--max-wait", "1.5", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_str_eq(r.out, "done");
  cr_expect_eq(ts_request_count(tool_ts), 2);
  cr_expect_geq(r.ms, 950, "the tool waited %lld ms", (long long)r.ms);
  cr_expect(strstr(r.err, "< 429 Too Many Requests  -> wait 1.0 s "
                          "(Retry-After: 1), then repeat"),
            "trace: %s", r.err);
  cr_expect(strstr(r.err, "(attempt 2"), "trace: %s", r.err);
  run_free(&r);
  free(u);
}

Test(tool, max_time_ends_a_stalled_transfer) {
  ts_resp *s = ts_route(tool_ts, 0, "/stall");
  ts_resp_stall(s);
  char *u = url("/stall");
  run r = RUN("--no-cache", "-m", "0.3", u);
  cr_expect_eq(r.code, 28, "a time limit exits 28 like curl: %s", r.err);
  cr_expect_lt(r.ms, bound_ms(3000));
  run_free(&r);
  free(u);
}

/* ---- several URLs
 * --------------------------------------------------------------------- */

Test(tool, several_urls_share_one_connection) {
  ts_simple(tool_ts, 0, "/a", 200, NULL, "A");
  ts_simple(tool_ts, 0, "/b", 200, NULL, "B");
  char *a = url("/a"), *b = url("/b");
  const char *fa = path_in_tmp("a.out"), *fb = path_in_tmp("b.out");
  run r = RUN("--no-cache", a, b, "-o", fa, "-o", fb);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(ts_request_count(tool_ts), 2);
  cr_expect_eq(ts_connection_count(tool_ts), 1, "the connection is reused");
  const ts_request *q0 = ts_request_get(tool_ts, 0),
                   *q1 = ts_request_get(tool_ts, 1);
  cr_assert(q0 && q1);
  cr_expect_eq(q0->conn_id, q1->conn_id);
  char *ga = slurp_file(fa, NULL), *gb = slurp_file(fb, NULL);
  cr_expect(ga && gb && !strcmp(ga, "A") && !strcmp(gb, "B"),
            "the n-th -o is for the n-th URL");
  free(ga);
  free(gb);
  run_free(&r);

  /* The exit code is that of the last URL that failed. */
  r = RUN("--no-cache", "http://127.0.0.1:1/", a);
  cr_expect_eq(r.code, 7);
  cr_expect_str_eq(r.out, "A");
  run_free(&r);
  free(a);
  free(b);
}

Test(tool, several_urls_share_one_cache) {
  ts_simple(tool_ts, 0, "/c", 200, "Cache-Control: max-age=60\r\nETag: \"1\"",
            "cached");
  char *u = url("/c");
  const char *dir = path_in_tmp("cache");
  char opt[200];
  snprintf(opt, sizeof(opt), "--cache=%s", dir);
  run r = RUN(opt, WJSON, u, u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(ts_request_count(tool_ts), 1, "the second URL is a cache hit");
  char *l0 = json_of(r.out, 0), *l1 = json_of(r.out, 1);
  cr_expect(strstr(l0, "\"cache\":{\"status\":\"stored\""), "json: %s", l0);
  cr_expect(strstr(l1, "\"cache\":{\"status\":\"hit\""), "json: %s", l1);
  cr_expect(strstr(l1, "\"body\":\"cached\""));
  free(l0);
  free(l1);
  run_free(&r);

  /* The disk store outlives the run; --no-cache (after it) ignores it. */
  r = RUN(opt, u);
  cr_expect_str_eq(r.out, "cached");
  cr_expect_eq(ts_request_count(tool_ts), 1,
               "a new run finds the stored answer");
  run_free(&r);
  r = RUN(opt, "--no-cache", u);
  cr_expect_eq(ts_request_count(tool_ts), 2);
  run_free(&r);

  /* --cache alone: the cache lives in $XDG_CACHE_HOME/httpresp. */
  r = RUN("--cache", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  struct stat st;
  cr_expect(stat(path_in_tmp("httpresp"), &st) == 0 && S_ISDIR(st.st_mode),
            "no cache directory under XDG_CACHE_HOME");
  run_free(&r);

  /* Missing parents are created too. */
  snprintf(opt, sizeof(opt), "--cache=%s", path_in_tmp("deep/er/cache"));
  r = RUN(opt, u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect(stat(path_in_tmp("deep/er/cache"), &st) == 0 &&
                S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
            "--cache did not create a private directory and its parents");
  run_free(&r);

  r = RUN("--cache=/proc/no/such/dir", u);
  cr_expect_eq(r.code, 113, "an unusable --cache=DIR exits 113");
  cr_expect(strstr(r.err, "/proc/no/such/dir: cannot use as a cache: "),
            "err: %s", r.err);
  run_free(&r);
  free(u);
}

Test(tool, parallel_runs_at_once_and_writes_in_order) {
  ts_resp *slow = ts_route(tool_ts, 0, "/slow");
  ts_resp_str(slow, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n");
  ts_resp_delay(slow, 300);
  ts_resp_str(slow, "slow");
  ts_simple(tool_ts, 0, "/f1", 200, NULL, "f1");
  ts_simple(tool_ts, 0, "/f2", 302, "Location: /f1", NULL);
  char *s = url("/slow"), *f1 = url("/f1"), *f2 = url("/f2");
  run r = RUN("--no-cache", WJSON, "--parallel", "3", s, f1, f2);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_lt(r.ms, bound_ms(2000));
  char *l0 = json_of(r.out, 0), *l1 = json_of(r.out, 1),
       *l2 = json_of(r.out, 2);
  cr_expect(strstr(l0, "\"index\":0,") && strstr(l0, "\"body\":\"slow\""),
            "first line: %s", l0);
  cr_expect(strstr(l1, "\"index\":1,") && strstr(l1, "\"body\":\"f1\""));
  cr_expect(strstr(l2, "\"index\":2,") && strstr(l2, "\"redirects\":1"));
  /* The fast ones did not wait for the slow one: the server saw them
   * while the slow answer was still under way, on other connections. */
  cr_expect_eq(ts_request_count(tool_ts), 4);
  cr_expect_geq(ts_connection_count(tool_ts), 2, "they ran at the same time");
  free(l0);
  free(l1);
  free(l2);
  run_free(&r);

  r = RUN("--no-cache", "-Z", "2", s, f1);
  cr_expect_eq(r.code, 0);
  cr_expect_str_eq(r.out, "slowf1", "bodies in command-line order");
  run_free(&r);
  free(s);
  free(f1);
  free(f2);
}

/* ---- example_fetch
 * --------------------------------------------------------------------- */

/* example_fetch is built beside the tool; the test is skipped if not. */
static const char *fetch_path(void) {
  static char path[4096];
  const char *tool = tool_path();
  const char *slash = strrchr(tool, '/');
  if (!slash)
    cr_skip_test("HTTPRESP_TOOL has no directory part");
  snprintf(path, sizeof(path), "%.*s/example_fetch", (int)(slash - tool), tool);
  if (access(path, X_OK) != 0)
    cr_skip_test("%s is not built", path);
  return path;
}

/* URLs on standard input may be longer than any fixed line buffer. */
Test(tool, example_fetch_reads_long_urls_from_stdin) {
  const char *prog = fetch_path();
  size_t qlen = 20000;
  char *target = malloc(qlen + 16);
  cr_assert_not_null(target);
  strcpy(target, "/long?q=");
  memset(target + 8, 'a', qlen);
  target[8 + qlen] = '\0';
  ts_simple(tool_ts, 0, target, 200, NULL, "long");
  ts_simple(tool_ts, 0, "/short", 200, NULL, "short");
  char *lu = url(target), *su = url("/short");
  /* A comment, a blank line, the long URL and a last line without '\n'. */
  size_t in_len = strlen(lu) + strlen(su) + 32;
  char *in = malloc(in_len);
  cr_assert_not_null(in);
  in_len = (size_t)snprintf(in, in_len, "# urls\n\n  %s \n%s", lu, su);

  run r = run_prog_in(prog, in, in_len, (const char *const[]){"-n", "1", NULL});
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(ts_request_count(tool_ts), 2, "out: %.300s", r.out);
  const ts_request *q = ts_request_get(tool_ts, 0);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->target, target, "the URL arrived whole");
  char *l0 = line_of(r.out, 0), *l1 = line_of(r.out, 1);
  cr_expect(strncmp(l0, "200 1 4 ", 8) == 0 && strstr(l0, lu),
            "first line: %.300s", l0);
  cr_expect(strncmp(l1, "200 1 5 ", 8) == 0 && strstr(l1, su),
            "second line: %s", l1);
  free(l0);
  free(l1);
  run_free(&r);
  free(in);
  free(lu);
  free(su);
  free(target);
}

/* ---- against the demo server
 * ---------------------------------------------------------- */

Test(tool, demo_server_routes) {
  demo d = demo_start();
  char u[160];

  snprintf(u, sizeof(u), "%s/old", d.base);
  run r = RUN("--no-cache", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_str_eq(r.out, "the new place (reached with GET)\n");
  run_free(&r);

  snprintf(u, sizeof(u), "%s/keep", d.base);
  r = RUN("--no-cache", "-d", "name=demo", u);
  cr_expect(strstr(r.out, "POST /echo HTTP/1.1") && strstr(r.out, "name=demo"),
            "307 replays the POST: %s", r.out);
  run_free(&r);

  snprintf(u, sizeof(u), "%s/form", d.base);
  r = RUN("--no-cache", "-d", "name=demo", u);
  cr_expect_str_eq(r.out, "result page (reached with GET, 0 body bytes)\n");
  run_free(&r);

  snprintf(u, sizeof(u), "%s/interim", d.base);
  r = RUN("--no-cache", WJSON, u);
  cr_expect(strstr(r.out, "\"status\":200") &&
                strstr(r.out, "final answer after three interim"),
            "json: %s", r.out);
  run_free(&r);

  snprintf(u, sizeof(u), "%s/cross", d.base);
  r = RUN("--no-cache", "-u", "demo:secret", u);
  cr_expect(strstr(r.out, "GET /echo HTTP/1.1"), "out: %s", r.out);
  cr_expect_null(strstr(r.out, "Authorization"),
                 "credentials leaked to the second origin");
  cr_expect(strstr(r.out, d.base2 + 7), "the echo comes from %s", d.base2);
  run_free(&r);

  snprintf(u, sizeof(u), "%s/loop/a", d.base);
  r = RUN("--no-cache", u);
  cr_expect_eq(r.code, 110);
  run_free(&r);

  snprintf(u, sizeof(u), "%s/many/3", d.base);
  r = RUN("--no-cache", "--max-redirs", "2", u);
  cr_expect_eq(r.code, 47);
  run_free(&r);

  snprintf(u, sizeof(u), "%s/slow-down", d.base);
  r = RUN("--no-cache", WJSON, "--max-wait", "1", u);
  cr_expect(strstr(r.out, "\"status\":429") &&
            strstr(r.out, "\"retry_after_ms\":3600000"));
  run_free(&r);

  demo_stop(&d);
}

/* Query values the demo server puts in a header field must not carry CR or
 * LF (or other control bytes): they would add fields of their own. */
Test(tool, demo_server_refuses_header_injection) {
  demo d = demo_start();
  static const char *const paths[] = {
      "/redirect?to=/echo%0d%0aX-Evil:%201",
      "/redirect?status=301&to=/echo%0aX-Evil:%201",
      "/redirect?to=/echo%7f",
      "/status/200?retry-after=1%0d%0aX-Evil:%201",
  };
  char u[200];
  for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
    snprintf(u, sizeof(u), "%s%s", d.base, paths[i]);
    run r = RUN("--no-cache", "--no-follow", "-i", u);
    cr_expect_eq(r.code, 0, "%s: err: %s", paths[i], r.err);
    cr_expect(strncmp(r.out, "HTTP/1.1 400 ", 13) == 0, "%s: out: %s", paths[i],
              r.out);
    cr_expect_null(strstr(r.out, "X-Evil"), "%s: out: %s", paths[i], r.out);
    run_free(&r);
  }
  /* Harmless values still work. */
  snprintf(u, sizeof(u), "%s/redirect?status=307&to=/new%%3Fa%%3D1", d.base);
  run r = RUN("--no-cache", "--no-follow", "-i", u);
  cr_expect(strncmp(r.out, "HTTP/1.1 307 ", 13) == 0 &&
                strstr(r.out, "\r\nLocation: /new?a=1\r\n"),
            "out: %s", r.out);
  run_free(&r);
  snprintf(u, sizeof(u), "%s/status/429?retry-after=5", d.base);
  r = RUN("--no-cache", "--max-retries", "0", "-i", u);
  cr_expect(strncmp(r.out, "HTTP/1.1 429 ", 13) == 0 &&
                strstr(r.out, "\r\nRetry-After: 5\r\n"),
            "out: %s", r.out);
  run_free(&r);
  demo_stop(&d);
}

Test(tool, demo_server_cache_revalidation) {
  demo d = demo_start();
  char u[160], stats[160];
  snprintf(u, sizeof(u), "%s/cached?id=t", d.base);
  snprintf(stats, sizeof(stats), "%s/stats?path=/cached", d.base);
  const char *dir = path_in_tmp("democache");

  char opt[200];
  snprintf(opt, sizeof(opt), "--cache=%s", dir);
  run r = RUN(opt, WJSON, u, u);
  char *l0 = json_of(r.out, 0), *l1 = json_of(r.out, 1);
  cr_expect(strstr(l0, "\"cache\":{\"status\":\"stored\""), "json: %s", l0);
  cr_expect(strstr(l1, "\"cache\":{\"status\":\"hit\""), "json: %s", l1);
  free(l0);
  free(l1);
  run_free(&r);
  r = RUN("--no-cache", stats);
  cr_expect_str_eq(r.out, "1\n", "the hit did not reach the server");
  run_free(&r);

  /* The request says no-cache: the stored answer must be revalidated, and
   * the demo server answers the If-None-Match with a 304. */
  r = RUN(opt, WJSON, "-H", "Cache-Control: no-cache", u);
  cr_expect(strstr(r.out, "\"cache\":{\"status\":\"revalidated\"") &&
                strstr(r.out, "\"status\":200") &&
                strstr(r.out, "fresh for 2 s"),
            "json: %s", r.out);
  run_free(&r);
  r = RUN("--no-cache", stats);
  cr_expect_str_eq(r.out, "2\n");
  run_free(&r);
  demo_stop(&d);
}

/* ---- bodies stream through ----------------------------------------------- */

/* Bodies go out as they arrive: a transfer cut by -m leaves what came so
 * far in the -o file (before, the body was held in memory and nothing was
 * written), and an endless body does not grow the tool's memory. */
Test(tool, body_is_written_as_it_arrives) {
  ts_resp *p = ts_route(tool_ts, 0, "/part");
  ts_resp_str(p, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nfirst part");
  ts_resp_stall(p);
  char *u = url("/part");
  const char *out = path_in_tmp("part.out");
  run r = RUN("-o", out, "-m", "0.5", u);
  cr_expect_eq(r.code, 28, "err: %s", r.err);
  char *got = slurp_file(out, NULL);
  cr_expect(got && strcmp(got, "first part") == 0,
            "the bytes that came are in the file: '%s'", got ? got : "(none)");
  free(got);
  run_free(&r);

  /* The same on stdout, with the head before it (-i). */
  r = RUN("-i", "-m", "0.5", u);
  cr_expect_eq(r.code, 28);
  cr_expect(strstr(r.out, "HTTP/1.1 200 OK\r\n") == r.out &&
                strstr(r.out, "\r\n\r\nfirst part"),
            "out: %s", r.out);
  run_free(&r);
  free(u);

  demo d = demo_start();
  char e[160];
  snprintf(e, sizeof(e), "%s/endless", d.base);
  r = RUN("-o", "/dev/null", "-m", "1.5", e);
  cr_expect_eq(r.code, 28, "an endless body ends at -m: %s", r.err);
  /* Before: the body was collected until the 1 GiB limit (exit 8). */
  cr_expect_lt(r.maxrss_kb, 200 * 1024, "peak RSS %ld KiB", r.maxrss_kb);
  run_free(&r);
  demo_stop(&d);
}

/* -f stops at the head of an error, like curl: the body is neither read
 * nor written, so an endless error page does not hold the tool. */
Test(tool, fail_stops_at_the_error_head) {
  ts_resp *p = ts_route(tool_ts, 0, "/gone");
  ts_resp_str(p, "HTTP/1.1 404 Not Found\r\nContent-Length: 100000\r\n\r\n"
                 "error page");
  ts_resp_stall(p);
  char *u = url("/gone");
  const char *out = path_in_tmp("gone.out");
  run r = RUN("-s", "-f", "-m", "3", "-o", out, u);
  run c = run_prog_in(
      "/usr/bin/curl", NULL, 0,
      (const char *const[]){"-s", "-f", "-m", "3", "-o", out, u, NULL});
  cr_expect_eq(r.code, 22);
  cr_expect_eq(r.code, c.code, "curl exits %d", c.code);
  cr_expect_lt(r.ms, bound_ms(1500), "it did not wait for the body (%lld ms)",
               (long long)r.ms);
  cr_expect_str_eq(r.out, "");
  run_free(&r);
  run_free(&c);
  free(u);
}

/* ---- the cache is opt-in, and says so ------------------------------------ */

Test(tool, cache_is_opt_in_and_stored_answers_say_so) {
  ts_simple(tool_ts, 0, "/c", 200, "Cache-Control: max-age=60\r\nETag: \"1\"",
            "cached");
  char *u = url("/c");
  /* No cache unless asked: like curl, every run asks the server. */
  run r = RUN(u, u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(ts_request_count(tool_ts), 2, "without --cache both go out");
  struct stat st;
  cr_expect(stat(path_in_tmp("httpresp"), &st) != 0,
            "no cache directory is made without --cache");
  run_free(&r);

  /* $HTTPRESP_CACHE=DIR turns it on; --no-cache turns it off again. */
  setenv("HTTPRESP_CACHE", path_in_tmp("envcache"), 1);
  r = RUN("-v", u, u);
  cr_expect_eq(ts_request_count(tool_ts), 3, "the second is a hit");
  cr_expect(strstr(r.err, "fresh in the cache, no request sent, stored "),
            "trace: %s", r.err);
  cr_expect(strstr(r.err, "cache hit: not fetched just now"), "trace: %s",
            r.err);
  run_free(&r);
  r = RUN("--no-cache", u);
  cr_expect_eq(ts_request_count(tool_ts), 4);
  run_free(&r);

  /* -i shows a stored answer's Age; %{json} says it was not fetched now. */
  r = RUN("-i", WJSON, u);
  cr_expect_eq(ts_request_count(tool_ts), 4);
  cr_expect(strstr(r.out, "\r\nAge: "), "out: %s", r.out);
  cr_expect(strstr(r.out, "\"cache\":{\"status\":\"hit\","), "out: %s", r.out);
  cr_expect(strstr(r.out, "\"fetched_now\":false,\"age\":"), "out: %s", r.out);
  run_free(&r);
  unsetenv("HTTPRESP_CACHE");
  free(u);
}

/* ---- --help and README say the same ---------------------------------------
 */

/* Appends "code\tmeaning\n" rows; meanings with runs of blanks and
 * backticks squeezed out. */
static void add_row(char **rows, size_t *len, const char *code, size_t clen,
                    const char *meaning, size_t mlen) {
  append(rows, len, code, clen);
  append(rows, len, "\t", 1);
  int blank = 0;
  for (size_t i = 0; i < mlen; i++) {
    char ch = meaning[i];
    if (ch == '`')
      continue;
    if (ch == ' ' || ch == '\n') {
      blank = 1;
      continue;
    }
    if (blank && (*rows)[*len - 1] != '\t')
      append(rows, len, " ", 1);
    blank = 0;
    append(rows, len, &ch, 1);
  }
  append(rows, len, "\n", 1);
}

/* The exit-code rows of --help: "  NN  meaning", continued on lines
 * indented by six blanks. */
static char *help_rows(const char *help) {
  char *rows = NULL;
  size_t len = 0;
  append(&rows, &len, "", 0);
  const char *p = strstr(help, "\nExit codes");
  cr_assert_not_null(p);
  p = strstr(p, ":\n");
  cr_assert_not_null(p);
  p += 2;
  while (*p) {
    const char *eol = strchr(p, '\n');
    size_t l = eol ? (size_t)(eol - p) : strlen(p);
    const char *c = p;
    while (*c == ' ')
      c++;
    size_t clen = strcspn(c, " ");
    /* The meaning runs on over lines indented by six blanks. */
    const char *m = c + clen;
    const char *end = p + l;
    while (end[0] == '\n' && strncmp(end + 1, "      ", 6) == 0) {
      const char *next = strchr(end + 1, '\n');
      end = next ? next : end + 1 + strlen(end + 1);
    }
    add_row(&rows, &len, c, clen, m, (size_t)(end - m));
    if (!*end)
      break;
    p = end + 1;
  }
  return rows;
}

/* The rows of README's exit table: "| code | meaning |". */
static char *readme_rows(const char *readme) {
  char *rows = NULL;
  size_t len = 0;
  append(&rows, &len, "", 0);
  const char *p = strstr(readme, "| exit | meaning |\n|---|---|\n");
  cr_assert_not_null(p, "README has no exit-code table");
  p += strlen("| exit | meaning |\n|---|---|\n");
  while (p[0] == '|') {
    const char *eol = strchr(p, '\n');
    cr_assert_not_null(eol);
    const char *c = p + 2;
    size_t clen = strcspn(c, " ");
    const char *m = strstr(c, "| ");
    cr_assert(m && m < eol);
    m += 2;
    add_row(&rows, &len, c, clen, m, (size_t)(eol - 2 - m));
    p = eol + 1;
  }
  return rows;
}

Test(tool, help_and_readme_list_the_same_exit_codes) {
  const char *src = getenv("HTTPRESP_SOURCE_DIR");
  if (!src)
    cr_skip_test("HTTPRESP_SOURCE_DIR is not set");
  char path[4096];
  snprintf(path, sizeof(path), "%s/README.md", src);
  char *readme = slurp_file(path, NULL);
  cr_assert_not_null(readme);
  run r = RUN("--help");
  cr_assert_eq(r.code, 0);
  char *h = help_rows(r.out), *m = readme_rows(readme);
  cr_expect_str_eq(h, m, "--help and README.md differ");
  /* The tool's own codes are numbers curl does not assign (0..101). */
  for (int code = 110; code <= 113; code++) {
    char want[16];
    snprintf(want, sizeof(want), "\n%d\t", code);
    cr_expect(strstr(h, want), "--help lacks %d", code);
  }
  cr_expect(strstr(r.out, "--cache[=DIR]") &&
            strstr(r.out, "-w, --write-out") &&
            strstr(r.out, "-k, --insecure") && strstr(r.out, "--cacert") &&
            strstr(r.out, "--capath") && strstr(r.out, "CURL_CA_BUNDLE"));
  free(h);
  free(m);
  free(readme);
  run_free(&r);
}
