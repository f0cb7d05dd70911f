/* SPDX-License-Identifier: MIT */
/* The tool's curl flags beyond the basics (-b/-c, -D, -O, -G,
 * --data-urlencode, -T, -e, --fail-with-body, --compressed, -x, --resolve,
 * --http1.1/--http2), each run twice on the same loopback exchange: once
 * by the tool, once by curl (with -L, which the tool does by default).
 * Both must send the server the same request, print the same output and
 * exit with the same code.  Without /usr/bin/curl these tests are
 * skipped. */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testsrv.h"
#include "toolrun.h"

TestSuite(flags, .init = tool_setup, .fini = tool_teardown);

#define MAX_ARGS 24

/* What one program sent and printed. */
typedef struct seen {
  run r;
  size_t nreq;
  char method[4][16];
  char target[4][256];
  char hdr[4][512]; /* the header the test names, "" if absent */
  char body[4][512];
  char ctype[4][128];
} seen;

static void copy(char *dst, size_t cap, const char *s) {
  snprintf(dst, cap, "%s", s ? s : "");
}

/* Standard input for the next runs (NULL: none). */
static const char *stdin_bytes;

/* Sets the routes, runs `prog` (the tool, or curl with -L) with `args`,
 * and records the requests the server received and header `hdr` of each. */
static seen run_one(int curl, void (*routes)(void), const char *hdr,
                    const char *const *args) {
  const char *argv[MAX_ARGS + 2];
  size_t n = 0;
  if (curl)
    argv[n++] = "-L";
  for (size_t i = 0; args[i]; i++) {
    cr_assert(n < MAX_ARGS);
    argv[n++] = args[i];
  }
  argv[n] = NULL;
  ts_reset(tool_ts);
  routes();
  seen s;
  memset(&s, 0, sizeof(s));
  size_t in_len = stdin_bytes ? strlen(stdin_bytes) : 0;
  if (curl && access("/usr/bin/curl", X_OK) != 0)
    cr_skip_test("curl is not installed");
  s.r = curl ? run_prog_in("/usr/bin/curl", stdin_bytes, in_len, argv)
             : run_tool_in(stdin_bytes, in_len, argv);
  s.nreq = ts_request_count(tool_ts);
  for (size_t i = 0; i < s.nreq && i < 4; i++) {
    const ts_request *q = ts_request_get(tool_ts, i);
    copy(s.method[i], sizeof(s.method[i]), q->method);
    copy(s.target[i], sizeof(s.target[i]), q->target);
    copy(s.hdr[i], sizeof(s.hdr[i]), hdr ? ts_req_header(q, hdr) : NULL);
    copy(s.body[i], sizeof(s.body[i]), q->body);
    copy(s.ctype[i], sizeof(s.ctype[i]), ts_req_header(q, "Content-Type"));
  }
  return s;
}

/* The tool and curl on the same exchange: same requests (method, target,
 * body, Content-Type and header `hdr`), same stdout, same exit code.
 * Returns the tool's side for further checks; frees curl's. */
static seen same_as_curl(void (*routes)(void), const char *hdr,
                         const char *const *args) {
  seen c = run_one(1, routes, hdr, args);
  seen t = run_one(0, routes, hdr, args);
  cr_expect_eq(t.r.code, c.r.code, "exit: tool %d, curl %d; tool err: %s",
               t.r.code, c.r.code, t.r.err);
  cr_expect_str_eq(t.r.out, c.r.out, "stdout: tool '%s', curl '%s'", t.r.out,
                   c.r.out);
  cr_expect_eq(t.nreq, c.nreq, "requests: tool %zu, curl %zu", t.nreq, c.nreq);
  for (size_t i = 0; i < t.nreq && i < c.nreq && i < 4; i++) {
    cr_expect_str_eq(t.method[i], c.method[i], "request %zu: tool %s curl %s",
                     i, t.method[i], c.method[i]);
    cr_expect_str_eq(t.target[i], c.target[i], "request %zu: tool %s curl %s",
                     i, t.target[i], c.target[i]);
    cr_expect_str_eq(t.body[i], c.body[i], "request %zu body: tool %s curl %s",
                     i, t.body[i], c.body[i]);
    cr_expect_str_eq(t.ctype[i], c.ctype[i],
                     "request %zu Content-Type: tool %s curl %s", i, t.ctype[i],
                     c.ctype[i]);
    cr_expect_str_eq(t.hdr[i], c.hdr[i], "request %zu %s: tool '%s' curl '%s'",
                     i, hdr ? hdr : "", t.hdr[i], c.hdr[i]);
  }
  run_free(&c.r);
  return t;
}

#define SAME(routes, hdr, ...)                                                 \
  same_as_curl(routes, hdr, (const char *const[]){__VA_ARGS__, NULL})

/* ---- -b/--cookie and -c/--cookie-jar ------------------------------------ */

/* A login dance: /app sends to /login, which sets a cookie and sends back
 * to /app, which now answers.  The second visit of /app is no loop (the
 * library's rule: a response that set a cookie makes a revisit
 * legitimate), and the engine sends the cookie on it. */
static void cookie_routes(void) {
  ts_simple(tool_ts, 0, "/app", 302, "Location: /login", NULL);
  ts_simple(tool_ts, 0, "/app", 200, NULL, "in");
  ts_simple(tool_ts, 0, "/login", 302,
            "Set-Cookie: s=1; Path=/\r\nLocation: /app", NULL);
}

/* Only the lines with cookies (curl's jar starts with comments). */
static char *jar_cookies(const char *path) {
  char *all = slurp_file(path, NULL);
  cr_assert_not_null(all, "%s was not written", path);
  char *out = NULL;
  size_t n = 0;
  append(&out, &n, "", 0);
  for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n"))
    if (line[0] != '#' && line[0])
      append(&out, &n, line, strlen(line)), append(&out, &n, "\n", 1);
  free(all);
  return out;
}

Test(flags, cookie_engine_and_jar) {
  char *u = url("/app");
  char jar_c[128], jar_t[128];
  snprintf(jar_c, sizeof(jar_c), "%s", path_in_tmp("jar.curl"));
  snprintf(jar_t, sizeof(jar_t), "%s", path_in_tmp("jar.tool"));
  seen c = run_one(1, cookie_routes, "Cookie",
                   (const char *const[]){"-s", "-b", "", "-c", jar_c, u, NULL});
  seen t = run_one(0, cookie_routes, "Cookie",
                   (const char *const[]){"-s", "-b", "", "-c", jar_t, u, NULL});
  cr_expect_eq(t.r.code, c.r.code, "tool %d (%s), curl %d", t.r.code, t.r.err,
               c.r.code);
  cr_expect_str_eq(t.r.out, "in");
  cr_expect_str_eq(t.r.out, c.r.out);
  cr_expect_eq(t.nreq, 3);
  cr_expect_eq(c.nreq, 3);
  cr_expect_str_eq(t.hdr[0], "");
  cr_expect_str_eq(t.hdr[2], "s=1", "the engine sends what /login set");
  cr_expect_str_eq(t.hdr[2], c.hdr[2]);
  char *jc = jar_cookies(jar_c), *jt = jar_cookies(jar_t);
  cr_expect(strstr(jt, "\ts\t1\n"), "jar: %s", jt);
  cr_expect_str_eq(jt, jc, "jar: tool '%s', curl '%s'", jt, jc);
  free(jc);
  free(jt);
  run_free(&c.r);
  run_free(&t.r);

  /* The jar read back with -b FILE: the cookie goes on the first request. */
  seen s = SAME(cookie_routes, "Cookie", "-s", "-b", jar_t, u);
  cr_expect_str_eq(s.hdr[0], "s=1");
  run_free(&s.r);
  free(u);
}

static void two_cookie_routes(void) {
  ts_simple(tool_ts, 0, "/c1", 200, "Set-Cookie: one=1; Path=/", "1");
  ts_simple(tool_ts, 0, "/c2", 200, "Set-Cookie: two=2; Path=/", "2");
}

/* --parallel: one cookie store for all handles, so the jar has what every
 * URL set (each handle with its own store would write only its own). */
Test(flags, parallel_shares_the_cookie_store) {
  char *c1 = url("/c1"), *c2 = url("/c2");
  char jar_c[128], jar_t[128];
  snprintf(jar_c, sizeof(jar_c), "%s", path_in_tmp("pjar.curl"));
  snprintf(jar_t, sizeof(jar_t), "%s", path_in_tmp("pjar.tool"));
  seen c =
      run_one(1, two_cookie_routes, NULL,
              (const char *const[]){"-s", "-Z", "-c", jar_c, c1, c2, NULL});
  seen t =
      run_one(0, two_cookie_routes, NULL,
              (const char *const[]){"-s", "-Z", "-c", jar_t, c1, c2, NULL});
  cr_expect_eq(t.r.code, c.r.code);
  cr_expect_str_eq(t.r.out, "12");
  char *jc = jar_cookies(jar_c), *jt = jar_cookies(jar_t);
  cr_expect(strstr(jt, "\tone\t1\n") && strstr(jt, "\ttwo\t2\n"), "jar: %s",
            jt);
  cr_expect(strstr(jc, "\tone\t1\n") && strstr(jc, "\ttwo\t2\n"),
            "curl's jar: %s", jc);
  free(jc);
  free(jt);
  run_free(&c.r);
  run_free(&t.r);
  free(c1);
  free(c2);
}

static void plain_routes(void) {
  ts_simple(tool_ts, 0, "/p", 200, NULL, "plain");
  ts_simple(tool_ts, 0, "/r", 302, "Location: /p", NULL);
}

/* -b NAME=VALUE, several times: joined as curl joins them, on every hop
 * (same origin) and on every URL of the run. */
Test(flags, cookie_text_on_every_hop_and_url) {
  char *r = url("/r"), *p = url("/p");
  seen s = SAME(plain_routes, "Cookie", "-s", "-b", "a=1", "-b", "b=2", r, p);
  cr_expect_eq(s.nreq, 3);
  for (size_t i = 0; i < 3; i++)
    cr_expect_str_eq(s.hdr[i], "a=1;b=2", "request %zu", i);
  run_free(&s.r);
  free(r);
  free(p);
}

/* ---- -D/--dump-header --------------------------------------------------- */

Test(flags, dump_header_writes_every_head) {
  char *r = url("/r");
  char dc[128], dt[128];
  snprintf(dc, sizeof(dc), "%s", path_in_tmp("d.curl"));
  snprintf(dt, sizeof(dt), "%s", path_in_tmp("d.tool"));
  seen c = run_one(1, plain_routes, NULL,
                   (const char *const[]){"-s", "-D", dc, r, NULL});
  seen t = run_one(0, plain_routes, NULL,
                   (const char *const[]){"-s", "-D", dt, r, NULL});
  cr_expect_eq(t.r.code, c.r.code);
  cr_expect_str_eq(t.r.out, c.r.out);
  char *hc = slurp_file(dc, NULL), *ht = slurp_file(dt, NULL);
  cr_assert_not_null(ht);
  cr_expect(strstr(ht, "HTTP/1.1 302 ") && strstr(ht, "HTTP/1.1 200 "),
            "both heads: %s", ht);
  cr_expect_str_eq(ht, hc, "tool:\n%s\ncurl:\n%s", ht, hc);
  free(hc);
  free(ht);
  run_free(&c.r);
  run_free(&t.r);

  /* -D - : the heads on stdout, before the body. */
  seen s = SAME(plain_routes, NULL, "-s", "-D", "-", r);
  cr_expect(strncmp(s.r.out, "HTTP/1.1 302 ", 13) == 0, "out: %s", s.r.out);
  run_free(&s.r);
  free(r);
}

/* ---- -O/--remote-name --------------------------------------------------- */

static void file_routes(void) {
  ts_simple(tool_ts, 0, "/dir/file.txt", 200, NULL, "file body");
  ts_simple(tool_ts, 0, "/", 200, NULL, "root");
}

Test(flags, remote_name_from_url) {
  cr_assert(chdir(tool_tmpdir) == 0);
  char *f = url("/dir/file.txt?x=1");
  seen c = SAME(file_routes, NULL, "-s", "-O", f);
  char *got = slurp_file("file.txt", NULL);
  cr_expect(got && !strcmp(got, "file body"), "file.txt: %s", got);
  free(got);
  run_free(&c.r);
  /* The tool's own file, not curl's. */
  cr_assert(unlink("file.txt") == 0);
  seen t =
      run_one(0, file_routes, NULL, (const char *const[]){"-s", "-O", f, NULL});
  got = slurp_file("file.txt", NULL);
  cr_expect(got && !strcmp(got, "file body"), "file.txt: %s", got);
  free(got);
  run_free(&t.r);

  /* No file name in the URL: curl's exit code, nothing requested. */
  char *root = url("/");
  seen s = SAME(file_routes, NULL, "-s", "-O", root);
  cr_expect_neq(s.r.code, 0);
  run_free(&s.r);
  free(root);
  free(f);
}

/* ---- -G, --data-urlencode ----------------------------------------------- */

Test(flags, get_puts_data_in_query) {
  char *p = url("/p?x=y");
  seen s = SAME(plain_routes, NULL, "-s", "-G", "-d", "a=1", "-d", "b=2", p);
  cr_expect_str_eq(s.method[0], "GET");
  cr_expect_str_eq(s.target[0], "/p?x=y&a=1&b=2");
  cr_expect_str_eq(s.body[0], "");
  run_free(&s.r);
  char *q = url("/p");
  s = SAME(plain_routes, NULL, "-s", "-G", "-I", "--data-urlencode", "a b", q);
  cr_expect_str_eq(s.method[0], "HEAD");
  cr_expect_str_eq(s.target[0], "/p?a+b");
  run_free(&s.r);
  free(p);
  free(q);
}

Test(flags, data_urlencode_forms) {
  const char *file = path_in_tmp("v.txt");
  FILE *fp = fopen(file, "wb");
  cr_assert_not_null(fp);
  fputs("line 1\nx&y=z\n", fp);
  fclose(fp);
  char arg[160];
  snprintf(arg, sizeof(arg), "f@%s", file);
  char *p = url("/p");
  seen s = SAME(plain_routes, NULL, "-s", "--data-urlencode", "a b&c",
                "--data-urlencode", "n=x y/\xc3\xa9", "--data-urlencode",
                "=k=v", "--data-urlencode", arg, "-d", "raw=1", p);
  cr_expect_str_eq(s.method[0], "POST");
  cr_expect_str_eq(s.body[0], "a+b%26c&n=x+y%2F%C3%A9&k%3Dv&"
                              "f=line+1%0Ax%26y%3Dz%0A&raw=1");
  run_free(&s.r);
  free(p);
}

/* ---- -T/--upload-file --------------------------------------------------- */

static void upload_routes(void) {
  ts_simple(tool_ts, 0, "/up/u.bin", 307, "Location: /stored", NULL);
  ts_simple(tool_ts, 0, "/stored", 201, NULL, "stored");
}

Test(flags, upload_file_puts_and_resends_on_307) {
  const char *file = path_in_tmp("u.bin");
  FILE *fp = fopen(file, "wb");
  cr_assert_not_null(fp);
  fputs("upload bytes", fp);
  fclose(fp);
  char *u = url("/up/");
  seen s = SAME(upload_routes, "Content-Length", "-s", "-T", file, u);
  cr_expect_eq(s.nreq, 2);
  cr_expect_str_eq(s.method[0], "PUT");
  cr_expect_str_eq(s.target[0], "/up/u.bin", "the file's name is added");
  cr_expect_str_eq(s.body[0], "upload bytes");
  cr_expect_str_eq(s.method[1], "PUT");
  cr_expect_str_eq(s.body[1], "upload bytes", "the file is read again");
  cr_expect_str_eq(s.hdr[0], "12");
  cr_expect_str_eq(s.r.out, "stored");
  run_free(&s.r);

  /* A file that cannot be read: curl's exit code. */
  s = SAME(upload_routes, NULL, "-s", "-T", "/nonexistent/x", u);
  cr_expect_eq(s.r.code, 26);
  run_free(&s.r);
  free(u);
}

static void upload_302_routes(void) {
  ts_simple(tool_ts, 0, "/u302", 302, "Location: /stored", NULL);
  ts_simple(tool_ts, 0, "/u303", 303, "Location: /stored", NULL);
  ts_simple(tool_ts, 0, "/stored", 201, NULL, "stored");
}

/* A PUT on 302 stays a PUT with its body, on 303 becomes a GET: curl -L's
 * rules, which are the library's. */
Test(flags, upload_file_on_302_and_303) {
  const char *file = path_in_tmp("v.bin");
  FILE *fp = fopen(file, "wb");
  cr_assert_not_null(fp);
  fputs("again", fp);
  fclose(fp);
  char *u2 = url("/u302"), *u3 = url("/u303");
  seen s = SAME(upload_302_routes, NULL, "-s", "-T", file, u2);
  cr_expect_str_eq(s.method[1], "PUT");
  cr_expect_str_eq(s.body[1], "again");
  run_free(&s.r);
  s = SAME(upload_302_routes, NULL, "-s", "-T", file, u3);
  cr_expect_str_eq(s.method[1], "GET");
  cr_expect_str_eq(s.body[1], "");
  run_free(&s.r);
  free(u2);
  free(u3);
}

/* -T - : standard input, of unknown length, goes chunked. */
Test(flags, upload_stdin_is_chunked) {
  stdin_bytes = "from stdin";
  char *u = url("/stored");
  seen s = SAME(upload_routes, "Transfer-Encoding", "-s", "-T", "-", u);
  cr_expect_str_eq(s.method[0], "PUT");
  cr_expect_str_eq(s.body[0], "from stdin");
  cr_expect_str_eq(s.hdr[0], "chunked");
  run_free(&s.r);
  stdin_bytes = NULL;
  free(u);
}

/* ---- -e/--referer, --fail-with-body ------------------------------------- */

Test(flags, referer_fixed_and_auto) {
  char *r = url("/r");
  seen s = SAME(plain_routes, "Referer", "-s", "-e", "http://from.example/", r);
  cr_expect_str_eq(s.hdr[0], "http://from.example/");
  cr_expect_str_eq(s.hdr[1], "http://from.example/");
  run_free(&s.r);
  s = SAME(plain_routes, "Referer", "-s", "-e", ";auto", r);
  cr_expect_str_eq(s.hdr[0], "");
  cr_expect_str_eq(s.hdr[1], r, "the hop names the URL that sent it");
  run_free(&s.r);
  /* A given Referer first, then the hop's; credentials and fragment are
   * not part of it. */
  char *cred = ts_url(tool_ts, 0, "/r#frag");
  char with_user[160];
  snprintf(with_user, sizeof(with_user), "http://u:pw@%s", cred + 7);
  s = SAME(plain_routes, "Referer", "-s", "-e", "http://first.example/;auto",
           with_user);
  cr_expect_str_eq(s.hdr[0], "http://first.example/");
  cr_expect_str_eq(s.hdr[1], r);
  run_free(&s.r);
  free(cred);
  free(r);
}

static void error_routes(void) {
  ts_simple(tool_ts, 0, "/e", 404, NULL, "not here");
}

Test(flags, fail_with_body_writes_and_exits_22) {
  char *e = url("/e");
  seen s = SAME(error_routes, NULL, "-s", "--fail-with-body", e);
  cr_expect_eq(s.r.code, 22);
  cr_expect_str_eq(s.r.out, "not here");
  run_free(&s.r);
  s = SAME(error_routes, NULL, "-s", "--fail-with-body", "-i", e);
  run_free(&s.r);
  s = SAME(error_routes, NULL, "-s", "-f", "--fail-with-body", e);
  cr_expect_eq(s.r.code, 2);
  run_free(&s.r);
  free(e);
}

/* ---- --compressed -------------------------------------------------------- */

static void gzip_routes(void) {
  static const char gz[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xcb\x48"
                           "\xcd\xc9\xc9\x57\x48\xaf\xca\x2c\xe0\x02\x00\x39"
                           "\x7c\x63\x56\x0b\x00\x00\x00";
  ts_resp *r = ts_route(tool_ts, 0, "/gz");
  ts_resp_str(r, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                 "Content-Length: 31\r\n\r\n");
  ts_resp_raw(r, gz, 31);
}

Test(flags, compressed_asks_and_decodes) {
  char *g = url("/gz");
  seen s = SAME(gzip_routes, "Accept-Encoding", "-s", "--compressed", g);
  cr_expect_str_eq(s.r.out, "hello gzip\n");
  cr_expect(s.hdr[0][0], "Accept-Encoding is sent");
  run_free(&s.r);
  free(g);
}

/* ---- -x/--proxy, --resolve, --http1.1/--http2 ---------------------------- */

static void proxy_routes(void) {
  ts_simple(tool_ts, 0, "http://origin.test:4321/via", 200, NULL, "proxied");
  ts_simple(tool_ts, 0, "/named", 200, NULL, "named");
}

Test(flags, proxy_gets_absolute_form) {
  char proxy[64];
  snprintf(proxy, sizeof(proxy), "127.0.0.1:%d", ts_port(tool_ts, 0));
  seen s = SAME(proxy_routes, "Host", "-s", "-x", proxy,
                "http://origin.test:4321/via");
  cr_expect_str_eq(s.target[0], "http://origin.test:4321/via");
  cr_expect_str_eq(s.hdr[0], "origin.test:4321");
  cr_expect_str_eq(s.r.out, "proxied");
  run_free(&s.r);
  /* A proxy that refuses the connection: curl's exit code (7). */
  s = SAME(proxy_routes, NULL, "-s", "-x", "127.0.0.1:1",
           "http://origin.test:4321/via");
  cr_expect_eq(s.r.code, 7);
  cr_expect_eq(s.nreq, 0);
  run_free(&s.r);
}

Test(flags, resolve_pins_the_address) {
  int port = ts_port(tool_ts, 0);
  char pin[64], u[96], host[64];
  snprintf(pin, sizeof(pin), "named.test:%d:127.0.0.1", port);
  snprintf(u, sizeof(u), "http://named.test:%d/named", port);
  snprintf(host, sizeof(host), "named.test:%d", port);
  seen s = SAME(proxy_routes, "Host", "-s", "--resolve", pin, u);
  cr_expect_str_eq(s.hdr[0], host);
  cr_expect_str_eq(s.r.out, "named");
  run_free(&s.r);
}

Test(flags, http_version_flags) {
  char *p = url("/p");
  seen s = SAME(plain_routes, "Upgrade", "-s", "--http2", p);
  cr_expect_str_eq(s.hdr[0], "h2c", "curl asks http:// to upgrade");
  run_free(&s.r);
  s = SAME(plain_routes, "Upgrade", "-s", "--http1.1", p);
  cr_expect_str_eq(s.hdr[0], "");
  run_free(&s.r);
  free(p);
}

/* ---- the progress meter ---------------------------------------------------
 */

/* Runs `prog` with stderr on a pseudo-terminal (stdout on /dev/null) and
 * returns what reached the terminal; the exit code in `*code`. */
static char *run_on_tty(const char *prog, const char *const *args, int *code) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  cr_assert(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
  const char *slave_name = ptsname(master);
  cr_assert_not_null(slave_name);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    int slave = open(slave_name, O_RDWR | O_NOCTTY);
    int null = open("/dev/null", O_RDWR);
    if (slave < 0 || null < 0)
      _exit(127);
    dup2(null, 0);
    dup2(null, 1);
    dup2(slave, 2);
    const char *argv[MAX_ARGS + 2] = {prog};
    for (size_t i = 0; args[i] && i < MAX_ARGS; i++)
      argv[i + 1] = args[i];
    execv(prog, (char *const *)argv);
    _exit(127);
  }
  char *out = NULL;
  size_t n = 0;
  append(&out, &n, "", 0);
  int64_t deadline = now_ms() + 15000;
  for (;;) {
    struct pollfd p = {master, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[4096];
      ssize_t got = read(master, buf, sizeof(buf));
      if (got > 0) {
        append(&out, &n, buf, (size_t)got);
        continue;
      }
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      *code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
      break;
    }
    if (now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      *code = 137;
      break;
    }
  }
  close(master);
  return out;
}

/* 3 KiB in three pieces over about 1.5 s. */
static void slow_routes(void) {
  static char piece[1024];
  memset(piece, 'x', sizeof(piece));
  ts_resp *r = ts_route(tool_ts, 0, "/slow");
  ts_resp_str(r, "HTTP/1.1 200 OK\r\nContent-Length: 3072\r\n\r\n");
  for (int i = 0; i < 3; i++) {
    ts_resp_raw(r, piece, sizeof(piece));
    ts_resp_delay(r, 500);
  }
}

/* On a terminal, a transfer of more than a second shows a meter, as curl's
 * does (-# a bar of '#' ending at 100.0%); -s shows none.  Off a terminal
 * the tool shows none (curl would: the meter is for a person). */
Test(flags, progress_meter_on_a_terminal) {
  if (access("/usr/bin/curl", X_OK) != 0)
    cr_skip_test("curl is not installed");
  char *u = url("/slow");
  const char *bar[] = {"-#", "-o", "/dev/null", u, NULL};
  const char *meter[] = {"-o", "/dev/null", u, NULL};
  const char *quiet[] = {"-s", "-#", "-o", "/dev/null", u, NULL};
  int tc, cc;

  ts_reset(tool_ts);
  slow_routes();
  char *t = run_on_tty(tool_path(), bar, &tc);
  ts_reset(tool_ts);
  slow_routes();
  char *c = run_on_tty("/usr/bin/curl", bar, &cc);
  cr_expect_eq(tc, 0);
  cr_expect_eq(tc, cc);
  cr_expect(strstr(t, "###") && strstr(t, "100.0%"), "tool: %s", t);
  cr_expect(strstr(c, "###") && strstr(c, "100.0%"), "curl: %s", c);
  free(t);
  free(c);

  ts_reset(tool_ts);
  slow_routes();
  t = run_on_tty(tool_path(), meter, &tc);
  cr_expect(strstr(t, "100%") && strstr(t, "3.0k of 3.0k"), "tool: %s", t);
  free(t);

  ts_reset(tool_ts);
  slow_routes();
  t = run_on_tty(tool_path(), quiet, &tc);
  ts_reset(tool_ts);
  slow_routes();
  c = run_on_tty("/usr/bin/curl", quiet, &cc);
  cr_expect_eq(tc, cc);
  cr_expect_str_eq(t, "", "tool: %s", t);
  cr_expect_str_eq(c, "", "curl: %s", c);
  free(t);
  free(c);

  ts_reset(tool_ts);
  slow_routes();
  run r = RUN("-#", "-o", "/dev/null", u);
  cr_expect_eq(r.code, 0);
  cr_expect_str_eq(r.err, "", "no terminal, no meter: %s", r.err);
  run_free(&r);
  free(u);
}

/* Cookies on the handle are an identity the library cannot see: with
 * --cache, an answer made for them is neither stored nor served, so the
 * second fetch asks the server again (with the cookie). */
Test(flags, cookies_bypass_the_cache) {
  ts_simple(tool_ts, 0, "/cc", 200, "Cache-Control: max-age=600", "mine");
  char *u = url("/cc");
  char cache[160];
  snprintf(cache, sizeof(cache), "--cache=%s", path_in_tmp("cache"));
  run r = RUN("-s", cache, "-b", "who=me", u, u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_str_eq(r.out, "minemine");
  cr_expect_eq(ts_request_count(tool_ts), 2, "both fetches reach the server");
  for (size_t i = 0; i < ts_request_count(tool_ts); i++)
    cr_expect_str_eq(ts_req_header(ts_request_get(tool_ts, i), "Cookie"),
                     "who=me");
  run_free(&r);
  /* Without cookies the same run is answered from the cache once. */
  ts_reset(tool_ts);
  ts_simple(tool_ts, 0, "/cc", 200, "Cache-Control: max-age=600", "mine");
  r = RUN("-s", cache, u, u);
  cr_expect_eq(ts_request_count(tool_ts), 1);
  run_free(&r);
  free(u);
}

/* Flags together, as curl combines them. */
Test(flags, combinations_match_curl) {
  char *e = url("/e"), *r = url("/r"), *p = url("/p");
  /* -D - with -f: curl writes the error's head before it stops. */
  seen s = SAME(error_routes, NULL, "-s", "-f", "-D", "-", e);
  cr_expect_eq(s.r.code, 22);
  run_free(&s.r);
  /* -G with -X: the method given, the data in the query. */
  s = SAME(plain_routes, NULL, "-s", "-G", "-X", "DELETE", "-d", "id=7", p);
  cr_expect_str_eq(s.method[0], "DELETE");
  cr_expect_str_eq(s.target[0], "/p?id=7");
  run_free(&s.r);
  /* -T with -X POST: the file as the body of a POST, no form type. */
  const char *file = path_in_tmp("t.txt");
  FILE *fp = fopen(file, "wb");
  cr_assert_not_null(fp);
  fputs("tee", fp);
  fclose(fp);
  s = SAME(plain_routes, NULL, "-s", "-T", file, "-X", "POST", p);
  cr_expect_str_eq(s.method[0], "POST");
  cr_expect_str_eq(s.body[0], "tee");
  run_free(&s.r);
  /* --compressed with -i: the head says gzip, the body is decoded. */
  char *g = url("/gz");
  s = SAME(gzip_routes, NULL, "-s", "-i", "--compressed", g);
  run_free(&s.r);
  free(g);
  free(e);
  free(r);
  free(p);
}

Test(flags, remote_name_per_url) {
  cr_assert(chdir(tool_tmpdir) == 0);
  char *f = url("/dir/file.txt"), *p = url("/p");
  seen s =
      run_one(0, file_routes, NULL,
              (const char *const[]){"-s", "-O", f, "-o", "other", p, NULL});
  cr_expect_eq(s.r.code, 0, "err: %s", s.r.err);
  char *a = slurp_file("file.txt", NULL), *b = slurp_file("other", NULL);
  cr_expect(a && !strcmp(a, "file body"));
  cr_expect(b && b[0], "the second URL's -o");
  free(a);
  free(b);
  run_free(&s.r);
  free(f);
  free(p);
}

/* -D with --cache: an answer served from the cache was not received just
 * now, and its head says so (Age), as -i shows it. */
Test(flags, dump_header_of_a_stored_answer) {
  ts_simple(tool_ts, 0, "/keep", 200, "Cache-Control: max-age=600", "kept");
  char *u = url("/keep");
  char cache[160];
  snprintf(cache, sizeof(cache), "--cache=%s", path_in_tmp("dcache"));
  const char *d1 = path_in_tmp("d1");
  run r = RUN("-s", cache, "-D", d1, u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  run_free(&r);
  char *h1 = slurp_file(d1, NULL);
  cr_assert_not_null(h1);
  cr_expect(strncmp(h1, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", h1);
  cr_expect_null(strstr(h1, "Age:"), "fetched just now: %s", h1);
  const char *d2 = path_in_tmp("d2");
  r = RUN("-s", cache, "-D", d2, u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_str_eq(r.out, "kept");
  cr_expect_eq(ts_request_count(tool_ts), 1, "the second comes from the cache");
  run_free(&r);
  char *h2 = slurp_file(d2, NULL);
  cr_assert_not_null(h2);
  cr_expect(strncmp(h2, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", h2);
  cr_expect(strstr(h2, "\r\nAge: "), "a stored answer shows its Age: %s", h2);
  cr_expect(strstr(h2, "Cache-Control: max-age=600\r\n"), "%s", h2);
  free(h1);
  free(h2);
  free(u);
}

/* ---- -F/--form ----------------------------------------------------------- */

static void form_routes(void) {
  ts_simple(tool_ts, 0, "/form", 307, "Location: /posted", NULL);
  ts_simple(tool_ts, 0, "/posted", 200, NULL, "posted");
}

/* `body` with the boundary of Content-Type `ctype` replaced by "B", so
 * that two programs' forms compare (each draws its own boundary). */
static char *unbound(const char *ctype, const char *body) {
  const char *b = strstr(ctype, "boundary=");
  cr_assert_not_null(b, "no boundary in '%s'", ctype);
  b += 9;
  size_t blen = strlen(b), cap = strlen(body) + 1;
  char *out = malloc(cap);
  cr_assert_not_null(out);
  size_t n = 0;
  for (const char *s = body; *s;) {
    if (blen && strncmp(s, b, blen) == 0) {
      out[n++] = 'B';
      s += blen;
    } else {
      out[n++] = *s++;
    }
  }
  out[n] = '\0';
  return out;
}

Test(flags, form_posts_multipart_and_resends_on_307) {
  char up[256], val[256]; /* path_in_tmp's buffer is reused */
  snprintf(up, sizeof(up), "%s", path_in_tmp("f.txt"));
  snprintf(val, sizeof(val), "%s", path_in_tmp("v.dat"));
  FILE *fp = fopen(up, "wb");
  cr_assert_not_null(fp);
  fputs("file body\n", fp);
  fclose(fp);
  fp = fopen(val, "wb");
  cr_assert_not_null(fp);
  fputs("from a file", fp);
  fclose(fp);
  char up_arg[320], val_arg[320];
  snprintf(up_arg, sizeof(up_arg), "up=@%s;type=text/x-test", up);
  snprintf(val_arg, sizeof(val_arg), "txt=<%s", val);
  char *u = url("/form");
  const char *const args[] = {"-s", "-F", "field=value", "-F", up_arg,
                              "-F", val_arg, u, NULL};
  seen c = run_one(1, form_routes, NULL, args);
  seen t = run_one(0, form_routes, NULL, args);
  cr_expect_eq(t.r.code, c.r.code, "tool %d curl %d: %s", t.r.code, c.r.code,
               t.r.err);
  cr_expect_str_eq(t.r.out, "posted");
  cr_expect_str_eq(t.r.out, c.r.out);
  cr_assert_eq(t.nreq, 2u);
  cr_assert_eq(c.nreq, 2u);
  for (size_t i = 0; i < 2; i++) {
    cr_expect_str_eq(t.method[i], "POST");
    cr_expect_str_eq(t.method[i], c.method[i]);
    cr_expect_str_eq(t.target[i], c.target[i]);
    cr_expect(strncmp(t.ctype[i], "multipart/form-data; boundary=", 30) == 0,
              "%s", t.ctype[i]);
    char *tb = unbound(t.ctype[i], t.body[i]);
    char *cb = unbound(c.ctype[i], c.body[i]);
    cr_expect_str_eq(tb, cb, "request %zu: tool\n%s\ncurl\n%s", i, tb, cb);
    cr_expect(strstr(tb, "name=\"up\"; filename=\"f.txt\"\r\n"
                         "Content-Type: text/x-test\r\n\r\nfile body\n") !=
                  NULL,
              "%s", tb);
    cr_expect(strstr(tb, "name=\"txt\"\r\n\r\nfrom a file\r\n") != NULL, "%s",
              tb);
    free(tb);
    free(cb);
  }
  run_free(&c.r);
  run_free(&t.r);

  /* Refused as curl refuses them: a part without a name, -F with -d. */
  seen s = SAME(form_routes, NULL, "-s", "-F", "novalue", u);
  cr_expect_eq(s.r.code, 2);
  cr_expect_eq(s.nreq, 0u);
  run_free(&s.r);
  s = SAME(form_routes, NULL, "-s", "-F", "a=b", "-d", "x", u);
  cr_expect_eq(s.r.code, 2);
  run_free(&s.r);
  /* A file that cannot be read: curl's 26, nothing sent. */
  s = SAME(form_routes, NULL, "-s", "-F", "a=@/nonexistent/x", u);
  cr_expect_eq(s.r.code, 26);
  cr_expect_eq(s.nreq, 0u);
  run_free(&s.r);
  free(u);
}
