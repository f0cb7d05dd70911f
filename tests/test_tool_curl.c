/* SPDX-License-Identifier: MIT */
/* The httpresp tool beside curl: for the same loopback exchange and the
 * same flags, the same exit codes and the same output where curl has the
 * flag (-w, -i, --json, -f, -k, --cacert, --capath, the CA environment).
 * curl must be at /usr/bin/curl; without it these tests are skipped. */
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

/* ---- -w/--write-out
 * ------------------------------------------------------------------------ */

Test(tool, json_summary) {
  ts_simple(tool_ts, 0, "/j1", 301, "Location: /j2", NULL);
  static const char body[] = "q\"b\\s\x01\n\xc3\xa9";
  ts_simple(tool_ts, 0, "/j2", 200, "X-Odd: \"quoted\"", body);
  char *u = url("/j1"), *u2 = url("/j2");
  run r = RUN("--no-cache", "-w", "%{json}", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  /* Like curl: the body on stdout, then the -w output. */
  cr_assert(strncmp(r.out, body, strlen(body)) == 0, "out: %s", r.out);
  const char *js = r.out + strlen(body);
  cr_expect_null(strchr(js, '\n'), "one line: %s", js);
  char want[512];
  /* curl's %{json} variables, as curl names and types them. */
  snprintf(want, sizeof(want),
           "{\"http_code\":200,\"url_effective\":\"%s\",\"num_redirects\":1,"
           "\"time_total\":",
           u2);
  cr_expect(strncmp(js, want, strlen(want)) == 0, "json: %s", js);
  cr_expect(strstr(js, ",\"size_download\":9,\"exitcode\":0,"
                       "\"errormsg\":null,"),
            "json: %s", js);
  snprintf(want, sizeof(want), "\"url\":\"%s\"", u);
  cr_expect(strstr(js, want), "json: %s", js);
  snprintf(want, sizeof(want), "\"final_url\":\"%s\"", u2);
  cr_expect(strstr(js, want), "json: %s", js);
  cr_expect(strstr(js, "\"index\":0,"));
  cr_expect(strstr(js, "\"status\":200,\"reason\":\"OK\""));
  cr_expect(strstr(js, "\"exit_code\":0"));
  cr_expect(strstr(js, "{\"name\":\"X-Odd\",\"value\":\"\\\"quoted\\\"\"}"));
  snprintf(want, sizeof(want),
           "\"hops\":[{\"status\":301,\"reason\":\"Moved Permanently\","
           "\"method\":\"GET\",\"url\":\"%s\",\"decision\":\"follow\"},"
           "{\"status\":200,",
           u);
  cr_expect(strstr(js, want), "json: %s", js);
  cr_expect(strstr(js, "\"redirects\":1"));
  cr_expect(strstr(js, "\"attempts\":1"));
  cr_expect(strstr(js, "\"retry_after_ms\":null"));
  cr_expect(strstr(js, "\"retry_stop\":\"none\""));
  cr_expect(strstr(js, "\"cache\":{\"status\":\"none\",\"reason\":\"\","
                       "\"fetched_now\":true,\"age\":null,"
                       "\"resumed_from\":null}"),
            "json: %s", js);
  cr_expect(strstr(js, "\"error\":null"));
  cr_expect(strstr(js, "\"body_bytes\":9"));
  /* UTF-8 text: quote, backslash, control characters escaped, nothing
   * lost. */
  cr_expect(strstr(js, "\"body_encoding\":\"utf-8\",\"body\":\"q\\\"b\\\\s"
                       "\\u0001\\n\xc3\xa9\",\"body_truncated\":false}"),
            "json: %s", js);
  run_free(&r);

  ts_simple(tool_ts, 0, "/l1", 302, "Location: /l2", NULL);
  ts_simple(tool_ts, 0, "/l2", 302, "Location: /l1", NULL);
  char *l = url("/l1");
  r = RUN("--no-cache", WJSON, l);
  cr_expect_eq(r.code, 110);
  cr_expect(strstr(r.out, "\"exitcode\":110"));
  cr_expect(strstr(r.out, "\"exit_code\":110"));
  cr_expect(strstr(r.out, "\"error\":{\"code\":"));
  cr_expect(strstr(r.out, "\"name\":\"HTTPRESP_E_REDIRECT_LOOP\""));
  cr_expect(strstr(r.out, "\"decision\":\"stop\""));
  run_free(&r);
  free(u);
  free(u2);
  free(l);
}

/* A body that is not UTF-8 goes into %{json} as base64, byte for byte;
 * before, its invalid bytes became U+FFFD and were lost. */
Test(tool, json_summary_binary_body_is_base64) {
  static const char bin[] = "\xff\x00\x01\x80zz";
  ts_resp *b = ts_route(tool_ts, 0, "/bin");
  ts_resp_str(b, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n");
  ts_resp_raw(b, bin, 6);
  char *u = url("/bin");
  const char *out = path_in_tmp("bin.out");
  run r = RUN("-o", out, "-w", "%{json}", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect(strstr(r.out, "\"size_download\":6,"), "json: %s", r.out);
  /* base64("\xff\x00\x01\x80zz") */
  cr_expect(strstr(r.out, "\"body_encoding\":\"base64\",\"body\":\"/wABgHp6\""),
            "json: %s", r.out);
  size_t len = 0;
  char *got = slurp_file(out, &len);
  cr_expect(got && len == 6 && memcmp(got, bin, 6) == 0,
            "-o holds the bytes unchanged");
  free(got);
  run_free(&r);
  free(u);
}

/* -w with curl's variables gives what curl gives for the same exchange. */
Test(tool, write_out_variables_match_curl) {
  ts_simple(tool_ts, 0, "/w1", 302, "Location: /w2", "moved");
  ts_simple(tool_ts, 0, "/w2", 200, NULL, "twelve bytes");
  char *u = url("/w1");
  const char *fmt = "%{http_code} %{num_redirects} %{size_download} "
                    "%{url_effective} %{exitcode}\\n%%";
  run r = RUN("-s", "-o", "/dev/null", "-w", fmt, u);
  run c = run_prog_in(
      "/usr/bin/curl", NULL, 0,
      (const char *const[]){"-s", "-L", "-o", "/dev/null", "-w", fmt, u, NULL});
  cr_expect_eq(r.code, c.code);
  cr_expect_str_eq(r.out, c.out, "curl printed '%s'", c.out);
  run_free(&r);
  run_free(&c);

  /* No answer at all: 000, and the exit code. */
  r = RUN("-s", "-w", "%{http_code} %{exitcode}", "http://127.0.0.1:1/");
  c = run_prog_in("/usr/bin/curl", NULL, 0,
                  (const char *const[]){"-s", "-w", "%{http_code} %{exitcode}",
                                        "http://127.0.0.1:1/", NULL});
  cr_expect_eq(r.code, c.code);
  cr_expect_str_eq(r.out, c.out);
  run_free(&r);
  run_free(&c);

  /* %output{>>FILE} sends the rest there (curl 8.3's syntax). */
  const char *file = path_in_tmp("w.txt");
  char fmt2[256];
  snprintf(fmt2, sizeof(fmt2), "%%output{>>%s}%%{http_code}\\n", file);
  r = RUN("-s", "-w", fmt2, u, u);
  cr_expect_str_eq(r.out, "twelve bytestwelve bytes");
  char *got = slurp_file(file, NULL);
  cr_expect(got && strcmp(got, "200\n200\n") == 0, "file: %s", got);
  free(got);
  run_free(&r);
  free(u);
}

/* ---- curl's flags and exit codes, side by side with curl ------------------
 */

/* --json means what it means in curl: a JSON body with its headers. */
Test(tool, json_option_sends_json_like_curl) {
  ts_simple(tool_ts, 0, "/api", 200, NULL, "{}");
  char *u = url("/api");
  run r = RUN("--json", "{\"a\":1}", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  run c = run_curl((const char *const[]){"-s", "--json", "{\"a\":1}", u, NULL});
  cr_expect_eq(c.code, 0);
  cr_expect_str_eq(r.out, c.out);
  for (size_t i = 0; i < 2; i++) {
    const ts_request *q = ts_request_get(tool_ts, i);
    cr_assert_not_null(q);
    cr_expect_str_eq(q->method, "POST");
    cr_expect_str_eq(q->body, "{\"a\":1}");
    cr_expect_str_eq(ts_req_header(q, "Content-Type"), "application/json");
    cr_expect_str_eq(ts_req_header(q, "Accept"), "application/json");
  }
  run_free(&r);
  run_free(&c);
  free(u);
}

/* One failure, one command line for each: the tool's exit code beside
 * curl's.  Where curl has the same failure the numbers are equal; where the
 * tool has a reason of its own (a loop caught at once), its number is one
 * curl does not assign. */
Test(tool, exit_codes_match_curl) {
  ts_simple(tool_ts, 0, "/loop1", 302, "Location: /loop2", NULL);
  ts_simple(tool_ts, 0, "/loop2", 302, "Location: /loop1", NULL);
  ts_simple(tool_ts, 0, "/badloc", 302, "Location: http://[::1/x", NULL);
  ts_simple(tool_ts, 0, "/ftp", 302, "Location: ftp://127.0.0.1/f", NULL);
  ts_simple(tool_ts, 0, "/r1", 302, "Location: /r2", NULL);
  ts_simple(tool_ts, 0, "/r2", 302, "Location: /r3", NULL);
  ts_simple(tool_ts, 0, "/r3", 200, NULL, "end");
  ts_simple(tool_ts, 0, "/404", 404, NULL, "missing");
  ts_simple(tool_ts, 0, "/ok", 200, NULL, "ok");
  ts_resp *st = ts_route(tool_ts, 0, "/stall");
  ts_resp_stall(st);
  ts_resp *g = ts_route(tool_ts, 0, "/garbage");
  ts_resp_str(g, "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello");
  ts_resp_close(g);
  ts_resp *h9 = ts_route(tool_ts, 0, "/http09");
  ts_resp_str(h9, "garbage\r\n\r\n");
  ts_resp_close(h9);
  char *loop = url("/loop1"), *badloc = url("/badloc"), *ftp = url("/ftp"),
       *r1 = url("/r1"), *nf = url("/404"), *ok = url("/ok"),
       *stall = url("/stall"), *garbage = url("/garbage"),
       *h09 = url("/http09");
  struct {
    const char *what;
    const char *args[6];
    int tool, curl;
  } cases[] = {
      {"connection refused", {"http://127.0.0.1:1/"}, 7, 7},
      {"host not resolved", {"http://no-such-host.invalid/"}, 6, 6},
      {"not http(s)", {"gopher://127.0.0.1:1/"}, 1, 1},
      {"malformed URL", {"http://[::1/x"}, 3, 3},
      {"bad Location", {badloc}, 3, 3},
      {"redirect to ftp", {ftp}, 1, 1},
      {"too many redirects", {"--max-redirs", "1", r1}, 47, 47},
      {"redirect loop", {loop}, 110, 47},
      {"-f and 404", {"-f", nf}, 22, 22},
      {"-m reached", {"-m", "0.3", stall}, 28, 28},
      {"Content-Length: abc", {garbage}, 8, 8},
      /* curl calls it an unsupported protocol (1); the library reports a
       * malformed reply, which the tool exits with 8 like any other. */
      {"HTTP/0.9 reply", {h09}, 8, 1},
      {"unwritable -o", {"-o", "/nonexistent/dir/x", ok}, 23, 23},
      /* curl warns and sends an empty body; the tool refuses. */
      {"unreadable data file", {"--data-binary", "@/nonexistent/f", ok}, 26, 0},
      {"unknown option", {"--no-such-option", ok}, 2, 2},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *targs[10] = {"-s"}, *cargs[12] = {"-s",
                                                  "-L",
                                                  "--proto",
                                                  "=http,https",
                                                  "--proto-redir",
                                                  "=http,https"};
    size_t nt = 1, nc = 6;
    for (size_t k = 0; k < 6 && cases[i].args[k]; k++) {
      targs[nt++] = cases[i].args[k];
      cargs[nc++] = cases[i].args[k];
    }
    run r = run_tool_in(NULL, 0, targs);
    run c = run_curl(cargs);
    cr_log_info("%-24s tool %3d  curl %3d", cases[i].what, r.code, c.code);
    cr_expect_eq(r.code, cases[i].tool, "%s: the tool exits %d", cases[i].what,
                 r.code);
    cr_expect_eq(c.code, cases[i].curl, "%s: curl exits %d", cases[i].what,
                 c.code);
    run_free(&r);
    run_free(&c);
  }
  free(loop);
  free(badloc);
  free(ftp);
  free(r1);
  free(nf);
  free(ok);
  free(stall);
  free(garbage);
  free(h09);
}

/* ---- TLS: curl's flags and environment --------------------------------------
 */

Test(tool, tls_flags_and_ca_environment_match_curl) {
  const char *cert = path_in_tmp("cert.pem"), *key = path_in_tmp("key.pem");
  char cadir[128];
  snprintf(cadir, sizeof(cadir), "%s", path_in_tmp("cadir"));
  if (access("/usr/bin/openssl", X_OK) != 0)
    cr_skip_test("openssl is not installed");
  run g =
      run_prog_in("/usr/bin/openssl", NULL, 0,
                  (const char *const[]){
                      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                      "/CN=127.0.0.1", "-keyout", key, "-out", cert, "-days",
                      "1", "-addext", "subjectAltName=IP:127.0.0.1", NULL});
  cr_assert_eq(g.code, 0, "openssl req: %s", g.err);
  run_free(&g);
  /* A hashed CA directory for --capath and SSL_CERT_DIR. */
  cr_assert(mkdir(cadir, 0700) == 0);
  char incadir[256];
  snprintf(incadir, sizeof(incadir), "%s/ca.pem", cadir);
  char *pem = slurp_file(cert, NULL);
  FILE *f = fopen(incadir, "w");
  cr_assert(pem && f);
  fputs(pem, f);
  fclose(f);
  free(pem);
  g = run_prog_in("/usr/bin/openssl", NULL, 0,
                  (const char *const[]){"rehash", cadir, NULL});
  cr_assert_eq(g.code, 0, "openssl rehash: %s", g.err);
  run_free(&g);

  int port;
  pid_t srv = tls_server(cert, key, &port);
  char u[64];
  snprintf(u, sizeof(u), "https://127.0.0.1:%d/", port);
  struct {
    const char *what;
    const char *env, *env_value;
    const char *args[4];
    int code;
  } cases[] = {
      {"self-signed, no CA", NULL, NULL, {NULL}, 60},
      {"-k", NULL, NULL, {"-k"}, 0},
      {"--insecure", NULL, NULL, {"--insecure"}, 0},
      {"--cacert", NULL, NULL, {"--cacert", cert}, 0},
      {"--capath", NULL, NULL, {"--capath", cadir}, 0},
      {"CURL_CA_BUNDLE", "CURL_CA_BUNDLE", cert, {NULL}, 0},
      {"SSL_CERT_FILE", "SSL_CERT_FILE", cert, {NULL}, 0},
      {"SSL_CERT_DIR", "SSL_CERT_DIR", cadir, {NULL}, 0},
      /* --cacert wins over the environment. */
      {"--cacert over CURL_CA_BUNDLE",
       "CURL_CA_BUNDLE",
       "/nonexistent",
       {"--cacert", cert},
       0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    if (cases[i].env)
      setenv(cases[i].env, cases[i].env_value, 1);
    const char *targs[8] = {"-s", "-o", "/dev/null"};
    const char *cargs[8] = {"-s", "-o", "/dev/null"};
    size_t n = 3;
    for (size_t k = 0; k < 4 && cases[i].args[k]; k++, n++)
      targs[n] = cargs[n] = cases[i].args[k];
    targs[n] = cargs[n] = u;
    run r = run_tool_in(NULL, 0, targs);
    run c = run_curl(cargs);
    cr_log_info("%-30s tool %3d  curl %3d", cases[i].what, r.code, c.code);
    cr_expect_eq(r.code, cases[i].code, "%s: the tool exits %d", cases[i].what,
                 r.code);
    cr_expect_eq(c.code, cases[i].code, "%s: curl exits %d", cases[i].what,
                 c.code);
    run_free(&r);
    run_free(&c);
    if (cases[i].env)
      unsetenv(cases[i].env);
  }
  kill(srv, SIGTERM);
  waitpid(srv, NULL, 0);
}
