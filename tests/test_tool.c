/* Tests of the httpresp command-line tool and the demo server, run as the
 * user runs them: as programs.  The binaries come from HTTPRESP_TOOL and
 * HTTPRESP_DEMO_SERVER (set by tests/tool.cmake); without them the tests
 * are skipped.  Most tests point the tool at the in-process loopback
 * server, which records what it received; a few start the demo server.
 * No test waits more than about a second. */
#define _DEFAULT_SOURCE /* wait4 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "testsrv.h"

#define RUN_LIMIT_MS 15000

static ts_server *ts;
static char tmpdir[64];

/* ---- running programs ---------------------------------------------------- */

typedef struct run {
  int code; /* exit status; 128 + signal if killed */
  char *out;
  size_t out_len;
  char *err;
  size_t err_len;
  int64_t ms;
  long maxrss_kb; /* the program's peak resident set size */
} run;

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void append(char **buf, size_t *len, const char *d, size_t n) {
  char *p = realloc(*buf, *len + n + 1);
  cr_assert_not_null(p);
  memcpy(p + *len, d, n);
  *len += n;
  p[*len] = '\0';
  *buf = p;
}

static const char *tool_path(void) {
  const char *p = getenv("HTTPRESP_TOOL");
  if (!p || !*p)
    cr_skip_test("HTTPRESP_TOOL is not set (include tests/tool.cmake)");
  return p;
}

/* Runs program `tool` with `args` (NULL-terminated), `in` on stdin. */
static run run_prog_in(const char *tool, const char *in, size_t in_len,
                       const char *const *args) {
  int pin[2], pout[2], perr[2];
  cr_assert(pipe(pin) == 0 && pipe(pout) == 0 && pipe(perr) == 0);
  size_t n = 0;
  while (args[n])
    n++;
  const char **argv = calloc(n + 2, sizeof(*argv));
  cr_assert_not_null(argv);
  argv[0] = tool;
  memcpy(argv + 1, args, n * sizeof(*argv));
  int64_t start = now_ms();
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    dup2(pin[0], 0);
    dup2(pout[1], 1);
    dup2(perr[1], 2);
    close(pin[1]);
    close(pout[0]);
    close(perr[0]);
    execv(tool, (char *const *)argv);
    _exit(127);
  }
  free(argv);
  close(pin[0]);
  close(pout[1]);
  close(perr[1]);
  fcntl(pin[1], F_SETFL, O_NONBLOCK);
  run r;
  memset(&r, 0, sizeof(r));
  append(&r.out, &r.out_len, "", 0);
  append(&r.err, &r.err_len, "", 0);
  size_t in_off = 0;
  int fin = pin[1], fout = pout[0], ferr = perr[0];
  if (!in || in_len == 0) {
    close(fin);
    fin = -1;
  }
  signal(SIGPIPE, SIG_IGN);
  while (fout >= 0 || ferr >= 0) {
    struct pollfd p[3] = {
        {fout, POLLIN, 0}, {ferr, POLLIN, 0}, {fin, POLLOUT, 0}};
    int64_t left = start + RUN_LIMIT_MS - now_ms();
    if (left <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    if (poll(p, 3, (int)left) < 0 && errno != EINTR)
      break;
    char buf[65536];
    for (int k = 0; k < 2; k++) {
      int *fd = k ? &ferr : &fout;
      if (*fd < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      ssize_t got = read(*fd, buf, sizeof(buf));
      if (got > 0)
        append(k ? &r.err : &r.out, k ? &r.err_len : &r.out_len, buf,
               (size_t)got);
      else if (got == 0 || errno != EINTR) {
        close(*fd);
        *fd = -1;
      }
    }
    if (fin >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(fin, in + in_off, in_len - in_off);
      if (w > 0)
        in_off += (size_t)w;
      if (w < 0 || in_off == in_len) {
        close(fin);
        fin = -1;
      }
    }
  }
  if (fin >= 0)
    close(fin);
  if (fout >= 0)
    close(fout);
  if (ferr >= 0)
    close(ferr);
  int st = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof(ru));
  wait4(pid, &st, 0, &ru);
  r.maxrss_kb = ru.ru_maxrss;
  r.ms = now_ms() - start;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

/* Runs the tool with `args` (NULL-terminated), `in` on stdin. */
static run run_tool_in(const char *in, size_t in_len, const char *const *args) {
  return run_prog_in(tool_path(), in, in_len, args);
}

#define RUN(...) run_tool_in(NULL, 0, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_IN(in, len, ...)                                                   \
  run_tool_in(in, len, (const char *const[]){__VA_ARGS__, NULL})

static void run_free(run *r) {
  free(r->out);
  free(r->err);
}

/* ---- the demo server ------------------------------------------------------
 */

typedef struct demo {
  pid_t pid;
  char base[64];  /* http://127.0.0.1:PORT */
  char base2[64]; /* the second origin */
} demo;

/* Reads one line from `fd` into `line`; 0 on success. */
static int read_line(int fd, char *line, size_t len, int64_t deadline) {
  size_t n = 0;
  while (n + 1 < len) {
    struct pollfd p = {fd, POLLIN, 0};
    int64_t left = deadline - now_ms();
    if (left <= 0 || poll(&p, 1, (int)left) <= 0)
      return -1;
    char c;
    if (read(fd, &c, 1) != 1)
      return -1;
    if (c == '\n')
      break;
    line[n++] = c;
  }
  line[n] = '\0';
  return 0;
}

static demo demo_start(void) {
  const char *path = getenv("HTTPRESP_DEMO_SERVER");
  if (!path || !*path)
    cr_skip_test("HTTPRESP_DEMO_SERVER is not set (include tests/tool.cmake)");
  int p[2];
  cr_assert(pipe(p) == 0);
  demo d;
  memset(&d, 0, sizeof(d));
  d.pid = fork();
  cr_assert(d.pid >= 0);
  if (d.pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    execl(path, path, "-q", "--idle", "60", (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  char l1[128], l2[128];
  int64_t deadline = now_ms() + 5000;
  cr_assert(read_line(p[0], l1, sizeof(l1), deadline) == 0 &&
                read_line(p[0], l2, sizeof(l2), deadline) == 0,
            "the demo server did not print its address");
  close(p[0]);
  cr_assert(sscanf(l1, "listening on %63s", d.base) == 1, "got '%s'", l1);
  cr_assert(sscanf(l2, "second origin on %63s", d.base2) == 1, "got '%s'", l2);
  return d;
}

static void demo_stop(demo *d) {
  int st;
  kill(d->pid, SIGTERM);
  waitpid(d->pid, &st, 0);
  cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "the demo server did not stop cleanly on SIGTERM");
}

/* ---- fixtures ---------------------------------------------------------------
 */

static void setup(void) {
  ts = ts_start(2);
  cr_assert_not_null(ts);
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/httpresp-tool-XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
  /* --cache without a directory: never the user's own cache.  Nothing
   * from the caller's environment turns the cache on or changes TLS. */
  setenv("XDG_CACHE_HOME", tmpdir, 1);
  unsetenv("HTTPRESP_CACHE");
  unsetenv("CURL_CA_BUNDLE");
  unsetenv("SSL_CERT_FILE");
  unsetenv("SSL_CERT_DIR");
}

static void teardown(void) {
  ts_stop(ts);
  ts = NULL;
  fixture_rm_rf(tmpdir);
}

TestSuite(tool, .init = setup, .fini = teardown);

static char *url(const char *path) { return ts_url(ts, 0, path); }

static char *path_in_tmp(const char *name) {
  static char buf[4][128];
  static int k;
  char *p = buf[k++ % 4];
  snprintf(p, 128, "%s/%s", tmpdir, name);
  return p;
}

static char *slurp_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *buf = NULL;
  size_t n = 0;
  char chunk[4096];
  size_t got;
  append(&buf, &n, "", 0);
  while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
    append(&buf, &n, chunk, got);
  fclose(f);
  if (len)
    *len = n;
  return buf;
}

/* The n-th line (0-based) of `s`, malloc'd. */
static char *line_of(const char *s, int n) {
  while (n-- > 0 && s) {
    s = strchr(s, '\n');
    if (s)
      s++;
  }
  if (!s)
    return strdup("");
  size_t l = strcspn(s, "\n");
  char *r = malloc(l + 1);
  memcpy(r, s, l);
  r[l] = '\0';
  return r;
}

/* -w '%{json}' after the body: the summary starts on a line of its own. */
#define WJSON "-w", "\n%{json}\n"

/* The n-th (0-based) -w '%{json}' line of `out`, malloc'd ("" if none). */
static char *json_of(const char *out, int n) {
  const char *p = out;
  while ((p = strstr(p, "{\"http_code\":")) != NULL) {
    if (p == out || p[-1] == '\n') {
      if (n-- == 0) {
        size_t l = strcspn(p, "\n");
        char *r = malloc(l + 1);
        memcpy(r, p, l);
        r[l] = '\0';
        return r;
      }
    }
    p++;
  }
  return strdup("");
}

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
  ts_simple(ts, 0, "/a", 200, NULL, "hello\n");
  char *u = url("/a");
  run r = RUN("--no-cache", u);
  cr_expect_eq(r.code, 0, "stderr: %s", r.err);
  cr_expect_str_eq(r.out, "hello\n");
  cr_expect_str_eq(r.err, "");
  const ts_request *q = ts_request_get(ts, 0);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "GET");
  cr_expect(strncmp(ts_req_header(q, "User-Agent"), "httpresp/", 9) == 0);
  cr_expect_eq(q->body_len, 0);
  run_free(&r);
  free(u);
}

Test(tool, method_data_and_headers) {
  ts_simple(ts, 0, "/p", 201, NULL, "made");
  char *u = url("/p");
  run r = RUN("--no-cache", "-X", "PUT", "-d", "a=1", "-d", "b=2", "-H",
              "X-Demo: yes", "-H", "Content-Type: text/plain", u);
  cr_expect_eq(r.code, 0, "stderr: %s", r.err);
  const ts_request *q = ts_request_get(ts, 0);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "PUT");
  cr_expect_str_eq(q->body, "a=1&b=2", "-d pieces are joined with '&'");
  cr_expect_str_eq(ts_req_header(q, "X-Demo"), "yes");
  cr_expect_str_eq(ts_req_header(q, "Content-Type"), "text/plain");
  cr_expect_eq(ts_req_header_count(q, "Content-Type"), 1);
  run_free(&r);

  /* -d alone means POST, form-encoded like curl. */
  r = RUN("--no-cache", "-d", "x=y", u);
  q = ts_request_get(ts, 1);
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
    q = ts_request_get(ts, 2 + i);
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
  ts_simple(ts, 0, "/p", 200, NULL, "ok");
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
  const ts_request *q = ts_request_get(ts, 0);
  cr_assert_not_null(q);
  cr_expect_eq(q->body_len, 17);
  cr_expect(memcmp(q->body, "line1\r\nline2\n\0end", 17) == 0,
            "--data-binary sends the bytes unchanged");
  run_free(&r);

  r = RUN("--no-cache", "-d", arg, u);
  q = ts_request_get(ts, 1);
  cr_assert_not_null(q);
  cr_expect_eq(q->body_len, 14, "-d @file drops CR and LF");
  run_free(&r);

  r = RUN_IN("from stdin\n", 11, "--no-cache", "--data-binary", "@-", u);
  q = ts_request_get(ts, 2);
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
  ts_simple(ts, 0, "/h", 200, "X-Thing: 1\r\n", "body!");
  char *u = url("/h");
  run r = RUN("--no-cache", "-I", u);
  cr_expect_eq(r.code, 0, "stderr: %s", r.err);
  cr_expect(strncmp(r.out, "HTTP/1.1 200 OK\r\n", 17) == 0, "out: %s", r.out);
  cr_expect(strstr(r.out, "X-Thing: 1\r\n"));
  cr_expect_null(strstr(r.out, "body!"));
  const ts_request *q = ts_request_get(ts, 0);
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
  ts_simple(ts, 0, "/o", 200, NULL, "to the file");
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
  ts_simple(ts, 0, "/r1", 302, "Location: /r2", "hop1");
  ts_simple(ts, 0, "/r2", 301, "Location: /r3", "hop2");
  ts_simple(ts, 0, "/r3", 200, NULL, "end");
  char *u = url("/r1");
  run r = RUN("--no-cache", "--max-redirs", "1", u);
  cr_expect_eq(r.code, 47, "too many redirects exits 47 like curl");
  cr_expect(strstr(r.err, "too many redirects"), "err: %s", r.err);
  cr_expect_eq(ts_request_count(ts), 2);
  run_free(&r);

  ts_reset(ts);
  ts_simple(ts, 0, "/r1", 302, "Location: /r2", "hop1");
  r = RUN("--no-cache", "--no-follow", u);
  cr_expect_eq(r.code, 0);
  cr_expect_str_eq(r.out, "hop1", "the 3xx is the answer");
  cr_expect_eq(ts_request_count(ts), 1);
  run_free(&r);
  free(u);
}

Test(tool, post_redirects_and_keep_post) {
  ts_simple(ts, 0, "/form", 303, "Location: /result", NULL);
  ts_simple(ts, 0, "/result", 200, NULL, "r");
  ts_simple(ts, 0, "/moved", 301, "Location: /result", NULL);
  ts_simple(ts, 0, "/tmp", 307, "Location: /result", NULL);
  char *form = url("/form"), *moved = url("/moved"), *tmp = url("/tmp");

  run r = RUN("--no-cache", "-d", "a=b", form);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  const ts_request *q = ts_request_get(ts, 1);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "GET", "303 turns POST into GET");
  cr_expect_eq(q->body_len, 0);
  cr_expect_null(ts_req_header(q, "Content-Type"));
  run_free(&r);

  r = RUN("--no-cache", "-d", "a=b", moved);
  q = ts_request_get(ts, 3);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "GET", "301 after POST: GET by default");
  run_free(&r);

  r = RUN("--no-cache", "--keep-post", "-d", "a=b", moved);
  q = ts_request_get(ts, 5);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "POST", "--keep-post keeps it");
  cr_expect_str_eq(q->body, "a=b");
  run_free(&r);

  r = RUN("--no-cache", "-d", "a=b", tmp);
  q = ts_request_get(ts, 7);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "POST", "307 keeps the method");
  cr_expect_str_eq(q->body, "a=b", "and the body");
  run_free(&r);
  free(form);
  free(moved);
  free(tmp);
}

Test(tool, credentials_stay_with_their_origin) {
  char *other = ts_url(ts, 1, "/land");
  char loc[200];
  snprintf(loc, sizeof(loc), "Location: %s", other);
  ts_simple(ts, 0, "/go", 302, loc, NULL);
  ts_simple(ts, 1, "/land", 200, NULL, "landed");
  char *u = url("/go");
  run r = RUN("--no-cache", "-u", "user:pass", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_str_eq(r.out, "landed");
  const ts_request *q0 = ts_request_get(ts, 0), *q1 = ts_request_get(ts, 1);
  cr_assert(q0 && q1);
  cr_expect_str_eq(ts_req_header(q0, "Authorization"), "Basic dXNlcjpwYXNz");
  cr_expect_null(ts_req_header(q1, "Authorization"),
                 "credentials must not reach another port");
  run_free(&r);
  free(u);
  free(other);
}

Test(tool, exit_codes_of_redirect_errors) {
  ts_simple(ts, 0, "/loop1", 302, "Location: /loop2", NULL);
  ts_simple(ts, 0, "/loop2", 302, "Location: /loop1", NULL);
  ts_simple(ts, 0, "/badloc", 302, "Location: http://[::1/x", NULL);
  ts_simple(ts, 0, "/ftp", 302, "Location: ftp://127.0.0.1/f", NULL);
  ts_simple(ts, 0, "/404", 404, NULL, "missing");
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
  cr_expect_eq(r.code, 1, "a URL that is not http(s) exits 1, like curl "
                         "--proto =http,https");
  run_free(&r);
  r = RUN("--no-cache", "http://[::1/x");
  cr_expect_eq(r.code, 3, "a malformed URL exits 3");
  run_free(&r);
}

/* ---- Retry-After
 * ---------------------------------------------------------------- */

Test(tool, max_retries_and_max_wait) {
  ts_simple(ts, 0, "/busy", 429, "Retry-After: 0", "later");
  char *u = url("/busy");
  run r = RUN("--no-cache", WJSON, "--max-retries", "2", u);
  cr_expect_eq(r.code, 0, "a 429 is still an HTTP answer: %s", r.err);
  cr_expect_eq(ts_request_count(ts), 3, "one request and two repeats");
  cr_expect(strstr(r.out, "\"attempts\":3"), "json: %s", r.out);
  cr_expect(strstr(r.out, "\"retry_stop\":\"exhausted\""));
  cr_expect(strstr(r.out, "\"retry_after_ms\":0"));
  run_free(&r);

  r = RUN("--no-cache", "-f", "--max-retries", "0", u);
  cr_expect_eq(r.code, 112, "-f and still told to wait: 112");
  run_free(&r);

  ts_reset(ts);
  ts_simple(ts, 0, "/busy", 503, "Retry-After: 1", "later");
  r = RUN("--no-cache", WJSON, "--max-wait", "0.5", u);
  cr_expect_eq(r.code, 0);
  cr_expect_eq(ts_request_count(ts), 1, "a 1 s wait is above --max-wait 0.5");
  cr_expect(strstr(r.out, "\"retry_after_ms\":1000"), "json: %s", r.out);
  cr_expect(strstr(r.out, "\"retry_stop\":\"wait-too-long\""));
  cr_expect_lt(r.ms, 900, "it must not have waited");
  run_free(&r);
  free(u);
}

Test(tool, retry_after_is_waited_for) {
  ts_resp *first = ts_route(ts, 0, "/slow");
  ts_resp_simple(first, 429, "Retry-After: 1", "wait");
  ts_resp_simple(ts_route(ts, 0, "/slow"), 200, NULL, "done");
  char *u = url("/slow");
  run r = RUN("--no-cache", "-v", "--max-wait", "1.5", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_str_eq(r.out, "done");
  cr_expect_eq(ts_request_count(ts), 2);
  cr_expect_geq(r.ms, 950, "the tool waited %lld ms", (long long)r.ms);
  cr_expect(strstr(r.err, "< 429 Too Many Requests  -> wait 1.0 s "
                          "(Retry-After: 1), then repeat"),
            "trace: %s", r.err);
  cr_expect(strstr(r.err, "(attempt 2"), "trace: %s", r.err);
  run_free(&r);
  free(u);
}

Test(tool, max_time_ends_a_stalled_transfer) {
  ts_resp *s = ts_route(ts, 0, "/stall");
  ts_resp_stall(s);
  char *u = url("/stall");
  run r = RUN("--no-cache", "-m", "0.3", u);
  cr_expect_eq(r.code, 28, "a time limit exits 28 like curl: %s", r.err);
  cr_expect_lt(r.ms, 3000);
  run_free(&r);
  free(u);
}

/* ---- -w/--write-out
 * ------------------------------------------------------------------------ */

Test(tool, json_summary) {
  ts_simple(ts, 0, "/j1", 301, "Location: /j2", NULL);
  static const char body[] = "q\"b\\s\x01\n\xc3\xa9";
  ts_simple(ts, 0, "/j2", 200, "X-Odd: \"quoted\"", body);
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
                       "\"fetched_now\":true,\"age\":null}"),
            "json: %s", js);
  cr_expect(strstr(js, "\"error\":null"));
  cr_expect(strstr(js, "\"body_bytes\":9"));
  /* UTF-8 text: quote, backslash, control characters escaped, nothing
   * lost. */
  cr_expect(strstr(js, "\"body_encoding\":\"utf-8\",\"body\":\"q\\\"b\\\\s"
                       "\\u0001\\n\xc3\xa9\",\"body_truncated\":false}"),
            "json: %s", js);
  run_free(&r);

  ts_simple(ts, 0, "/l1", 302, "Location: /l2", NULL);
  ts_simple(ts, 0, "/l2", 302, "Location: /l1", NULL);
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
  ts_resp *b = ts_route(ts, 0, "/bin");
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
  ts_simple(ts, 0, "/w1", 302, "Location: /w2", "moved");
  ts_simple(ts, 0, "/w2", 200, NULL, "twelve bytes");
  char *u = url("/w1");
  const char *fmt = "%{http_code} %{num_redirects} %{size_download} "
                    "%{url_effective} %{exitcode}\\n%%";
  run r = RUN("-s", "-o", "/dev/null", "-w", fmt, u);
  run c = run_prog_in("/usr/bin/curl", NULL, 0,
                      (const char *const[]){"-s", "-L", "-o", "/dev/null",
                                            "-w", fmt, u, NULL});
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

/* ---- several URLs
 * --------------------------------------------------------------------- */

Test(tool, several_urls_share_one_connection) {
  ts_simple(ts, 0, "/a", 200, NULL, "A");
  ts_simple(ts, 0, "/b", 200, NULL, "B");
  char *a = url("/a"), *b = url("/b");
  const char *fa = path_in_tmp("a.out"), *fb = path_in_tmp("b.out");
  run r = RUN("--no-cache", a, b, "-o", fa, "-o", fb);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(ts_request_count(ts), 2);
  cr_expect_eq(ts_connection_count(ts), 1, "the connection is reused");
  const ts_request *q0 = ts_request_get(ts, 0), *q1 = ts_request_get(ts, 1);
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
  ts_simple(ts, 0, "/c", 200, "Cache-Control: max-age=60\r\nETag: \"1\"",
            "cached");
  char *u = url("/c");
  const char *dir = path_in_tmp("cache");
  char opt[200];
  snprintf(opt, sizeof(opt), "--cache=%s", dir);
  run r = RUN(opt, WJSON, u, u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(ts_request_count(ts), 1, "the second URL is a cache hit");
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
  cr_expect_eq(ts_request_count(ts), 1, "a new run finds the stored answer");
  run_free(&r);
  r = RUN(opt, "--no-cache", u);
  cr_expect_eq(ts_request_count(ts), 2);
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
  ts_resp *slow = ts_route(ts, 0, "/slow");
  ts_resp_str(slow, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n");
  ts_resp_delay(slow, 300);
  ts_resp_str(slow, "slow");
  ts_simple(ts, 0, "/f1", 200, NULL, "f1");
  ts_simple(ts, 0, "/f2", 302, "Location: /f1", NULL);
  char *s = url("/slow"), *f1 = url("/f1"), *f2 = url("/f2");
  run r = RUN("--no-cache", WJSON, "--parallel", "3", s, f1, f2);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_lt(r.ms, 2000);
  char *l0 = json_of(r.out, 0), *l1 = json_of(r.out, 1),
       *l2 = json_of(r.out, 2);
  cr_expect(strstr(l0, "\"index\":0,") && strstr(l0, "\"body\":\"slow\""),
            "first line: %s", l0);
  cr_expect(strstr(l1, "\"index\":1,") && strstr(l1, "\"body\":\"f1\""));
  cr_expect(strstr(l2, "\"index\":2,") && strstr(l2, "\"redirects\":1"));
  /* The fast ones did not wait for the slow one: the server saw them
   * while the slow answer was still under way, on other connections. */
  cr_expect_eq(ts_request_count(ts), 4);
  cr_expect_geq(ts_connection_count(ts), 2, "they ran at the same time");
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

/* ---- the -v trace
 * ---------------------------------------------------------------------- */

Test(tool, verbose_trace_explains_each_hop) {
  ts_simple(ts, 0, "/v1", 303, "Location: /v2", NULL);
  ts_resp *v2 = ts_route(ts, 0, "/v2");
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
  char *land = ts_url(ts, 0, "/land"), *other = ts_url(ts, 1, "/land");
  char loc[300];
  /* http://x@127.0.0.1:PORT/land */
  snprintf(loc, sizeof(loc), "Location: http://x@%s", land + 7);
  ts_simple(ts, 0, "/user", 302, loc, NULL);
  snprintf(loc, sizeof(loc), "Location: %s", other);
  ts_simple(ts, 0, "/cross", 302, loc, NULL);
  ts_simple(ts, 0, "/land", 200, NULL, "landed");
  ts_simple(ts, 1, "/land", 200, NULL, "landed");

  char *u = url("/user");
  run r = RUN("--no-cache", "-v", "-u", "a:b", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect(strstr(r.err, "-> follow to "), "trace: %s", r.err);
  cr_expect_null(strstr(r.err, "other origin"),
                 "userinfo does not make another origin: %s", r.err);
  const ts_request *q1 = ts_request_get(ts, 1);
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
  ts_simple(ts, 0, target, 200, NULL, "long");
  ts_simple(ts, 0, "/short", 200, NULL, "short");
  char *lu = url(target), *su = url("/short");
  /* A comment, a blank line, the long URL and a last line without '\n'. */
  size_t in_len = strlen(lu) + strlen(su) + 32;
  char *in = malloc(in_len);
  cr_assert_not_null(in);
  in_len = (size_t)snprintf(in, in_len, "# urls\n\n  %s \n%s", lu, su);

  run r = run_prog_in(prog, in, in_len, (const char *const[]){"-n", "1", NULL});
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(ts_request_count(ts), 2, "out: %.300s", r.out);
  const ts_request *q = ts_request_get(ts, 0);
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
  ts_resp *p = ts_route(ts, 0, "/part");
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
  ts_resp *p = ts_route(ts, 0, "/gone");
  ts_resp_str(p, "HTTP/1.1 404 Not Found\r\nContent-Length: 100000\r\n\r\n"
                 "error page");
  ts_resp_stall(p);
  char *u = url("/gone");
  const char *out = path_in_tmp("gone.out");
  run r = RUN("-s", "-f", "-m", "3", "-o", out, u);
  run c = run_prog_in("/usr/bin/curl", NULL, 0,
                      (const char *const[]){"-s", "-f", "-m", "3", "-o", out,
                                            u, NULL});
  cr_expect_eq(r.code, 22);
  cr_expect_eq(r.code, c.code, "curl exits %d", c.code);
  cr_expect_lt(r.ms, 1500, "it did not wait for the body (%lld ms)",
               (long long)r.ms);
  cr_expect_str_eq(r.out, "");
  run_free(&r);
  run_free(&c);
  free(u);
}

/* ---- the cache is opt-in, and says so ------------------------------------ */

Test(tool, cache_is_opt_in_and_stored_answers_say_so) {
  ts_simple(ts, 0, "/c", 200, "Cache-Control: max-age=60\r\nETag: \"1\"",
            "cached");
  char *u = url("/c");
  /* No cache unless asked: like curl, every run asks the server. */
  run r = RUN(u, u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(ts_request_count(ts), 2, "without --cache both go out");
  struct stat st;
  cr_expect(stat(path_in_tmp("httpresp"), &st) != 0,
            "no cache directory is made without --cache");
  run_free(&r);

  /* $HTTPRESP_CACHE=DIR turns it on; --no-cache turns it off again. */
  setenv("HTTPRESP_CACHE", path_in_tmp("envcache"), 1);
  r = RUN("-v", u, u);
  cr_expect_eq(ts_request_count(ts), 3, "the second is a hit");
  cr_expect(strstr(r.err, "fresh in the cache, no request sent, stored "),
            "trace: %s", r.err);
  cr_expect(strstr(r.err, "cache hit: not fetched just now"), "trace: %s",
            r.err);
  run_free(&r);
  r = RUN("--no-cache", u);
  cr_expect_eq(ts_request_count(ts), 4);
  run_free(&r);

  /* -i shows a stored answer's Age; %{json} says it was not fetched now. */
  r = RUN("-i", WJSON, u);
  cr_expect_eq(ts_request_count(ts), 4);
  cr_expect(strstr(r.out, "\r\nAge: "), "out: %s", r.out);
  cr_expect(strstr(r.out, "\"cache\":{\"status\":\"hit\","), "out: %s", r.out);
  cr_expect(strstr(r.out, "\"fetched_now\":false,\"age\":"), "out: %s",
            r.out);
  run_free(&r);
  unsetenv("HTTPRESP_CACHE");
  free(u);
}

/* ---- curl's flags and exit codes, side by side with curl ------------------ */

/* Runs curl with `args` (NULL-terminated). */
static run run_curl(const char *const *args) {
  if (access("/usr/bin/curl", X_OK) != 0)
    cr_skip_test("curl is not installed");
  return run_prog_in("/usr/bin/curl", NULL, 0, args);
}

/* --json means what it means in curl: a JSON body with its headers. */
Test(tool, json_option_sends_json_like_curl) {
  ts_simple(ts, 0, "/api", 200, NULL, "{}");
  char *u = url("/api");
  run r = RUN("--json", "{\"a\":1}", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  run c = run_curl((const char *const[]){"-s", "--json", "{\"a\":1}", u, NULL});
  cr_expect_eq(c.code, 0);
  cr_expect_str_eq(r.out, c.out);
  for (size_t i = 0; i < 2; i++) {
    const ts_request *q = ts_request_get(ts, i);
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
  ts_simple(ts, 0, "/loop1", 302, "Location: /loop2", NULL);
  ts_simple(ts, 0, "/loop2", 302, "Location: /loop1", NULL);
  ts_simple(ts, 0, "/badloc", 302, "Location: http://[::1/x", NULL);
  ts_simple(ts, 0, "/ftp", 302, "Location: ftp://127.0.0.1/f", NULL);
  ts_simple(ts, 0, "/r1", 302, "Location: /r2", NULL);
  ts_simple(ts, 0, "/r2", 302, "Location: /r3", NULL);
  ts_simple(ts, 0, "/r3", 200, NULL, "end");
  ts_simple(ts, 0, "/404", 404, NULL, "missing");
  ts_simple(ts, 0, "/ok", 200, NULL, "ok");
  ts_resp *st = ts_route(ts, 0, "/stall");
  ts_resp_stall(st);
  ts_resp *g = ts_route(ts, 0, "/garbage");
  ts_resp_str(g, "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello");
  ts_resp_close(g);
  ts_resp *h9 = ts_route(ts, 0, "/http09");
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
      {"HTTP/0.9 reply", {h09}, 1, 1},
      {"unwritable -o", {"-o", "/nonexistent/dir/x", ok}, 23, 23},
      /* curl warns and sends an empty body; the tool refuses. */
      {"unreadable data file", {"--data-binary", "@/nonexistent/f", ok}, 26,
       0},
      {"unknown option", {"--no-such-option", ok}, 2, 2},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *targs[10] = {"-s"}, *cargs[12] = {"-s", "-L", "--proto",
                                                   "=http,https", "--proto-redir",
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

/* ---- the -v trace agrees with what happened -------------------------------- */

/* A redirect whose target the cache answers: the trace says the 302 was
 * followed and the answer is a stored one, as the summary does (before, it
 * said "not a redirect the client follows"). */
Test(tool, verbose_trace_follows_into_a_cache_hit) {
  ts_simple(ts, 0, "/t1", 302, "Location: /t2", NULL);
  ts_simple(ts, 0, "/t2", 200, "Cache-Control: max-age=60", "stored");
  char *t1 = url("/t1"), *t2 = url("/t2");
  char opt[200];
  snprintf(opt, sizeof(opt), "--cache=%s", path_in_tmp("tc"));
  run r = RUN(opt, t2);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  run_free(&r);
  r = RUN(opt, "-v", WJSON, t1);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(ts_request_count(ts), 2, "/t2 came from the cache");
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
  ts_resp *m = ts_route(ts, 0, "/mt");
  ts_resp_str(m, "HTTP/1.1 302 Moved Temporarily\r\nLocation: /end\r\n"
                 "Content-Length: 0\r\n\r\n");
  ts_resp *e = ts_route(ts, 0, "/end");
  ts_resp_str(e, "HTTP/1.1 200 Fine Thanks\r\nContent-Length: 2\r\n"
                 "X-A: b\r\n\r\nok");
  char *u = url("/mt"), *end = url("/end");
  run r = RUN("-v", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  char want[300];
  snprintf(want, sizeof(want), "< 302 Moved Temporarily  -> follow to %s",
           end);
  cr_expect(strstr(r.err, want), "trace: %s", r.err);
  cr_expect(strstr(r.err, "< 200 Fine Thanks\n"), "trace: %s", r.err);
  cr_expect(strstr(r.err, "= 200 Fine Thanks from "), "trace: %s", r.err);
  run_free(&r);

  const char *const forms[][3] = {{"-i", "--no-follow", NULL},
                                  {"-i", NULL, NULL}};
  for (size_t i = 0; i < 2; i++) {
    r = run_tool_in(NULL, 0,
                    (const char *const[]){forms[i][0], forms[i][1] ? forms[i][1]
                                                                   : u,
                                          forms[i][1] ? u : NULL, NULL});
    /* curl -i -L shows every head; the tool shows the answer's. */
    run c = run_curl(
        (const char *const[]){"-s", "-i", i ? end : u, NULL});
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(r.out, c.out, "curl -i printed: %s", c.out);
    run_free(&r);
    run_free(&c);
  }
  free(u);
  free(end);
}

/* A 417, then a 307 back to the same URL: the trace numbers attempts as
 * the library counts them (a followed redirect starts again at 1), so it
 * never says "attempt 3" where the summary says 1 attempt. */
Test(tool, verbose_trace_counts_attempts_like_the_summary) {
  ts_resp *a = ts_route(ts, 0, "/e");
  ts_resp_simple(a, 417, NULL, "no");
  ts_resp_before_body(a);
  /* Set-Cookie makes the revisit legitimate (no loop). */
  ts_simple(ts, 0, "/e", 307, "Location: /e\r\nSet-Cookie: s=1", NULL);
  ts_simple(ts, 0, "/e", 200, NULL, "done");
  char *u = url("/e");
  run r = RUN("-v", WJSON, "-H", "Expect: 100-continue", "-d", "x=1", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(ts_request_count(ts), 3);
  cr_expect(strstr(r.err, "< 417 Expectation Failed  -> repeat without "
                          "Expect: 100-continue"),
            "trace: %s", r.err);
  cr_expect(strstr(r.err, "(attempt 2"), "the repeat is attempt 2: %s", r.err);
  char want[300];
  snprintf(want, sizeof(want), "< 307 Temporary Redirect  -> follow to %s (POST",
           u);
  cr_expect(strstr(r.err, want), "trace: %s", r.err);
  cr_expect_null(strstr(r.err, "attempt 3"), "trace: %s", r.err);
  cr_expect(strstr(r.out, "\"attempts\":1,"), "json: %s", r.out);
  cr_expect(strstr(r.err, "= 200 OK from "), "trace: %s", r.err);
  cr_expect_null(strstr(r.err, "attempts,"), "the summary has 1 attempt: %s",
                 r.err);
  run_free(&r);
  free(u);
}

/* ---- --help and README say the same --------------------------------------- */

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
  cr_expect(strstr(r.out, "--cache[=DIR]") && strstr(r.out, "-w, --write-out") &&
            strstr(r.out, "-k, --insecure") && strstr(r.out, "--cacert") &&
            strstr(r.out, "--capath") && strstr(r.out, "CURL_CA_BUNDLE"));
  free(h);
  free(m);
  free(readme);
  run_free(&r);
}

/* ---- TLS: curl's flags and environment -------------------------------------- */

/* An `openssl s_server -www` on loopback with a self-signed certificate for
 * 127.0.0.1; its port, or the test is skipped without openssl. */
static pid_t tls_server(const char *cert, const char *key, int *port) {
  if (access("/usr/bin/openssl", X_OK) != 0)
    cr_skip_test("openssl is not installed");
  int p[2];
  cr_assert(pipe(p) == 0);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(p[1], 1);
    dup2(devnull, 2);
    close(p[0]);
    execl("/usr/bin/openssl", "openssl", "s_server", "-accept", "127.0.0.1:0",
          "-cert", cert, "-key", key, "-www", (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  char line[256];
  int64_t deadline = now_ms() + 5000;
  *port = 0;
  while (!*port && read_line(p[0], line, sizeof(line), deadline) == 0)
    sscanf(line, "ACCEPT 127.0.0.1:%d", port);
  close(p[0]);
  cr_assert(*port > 0, "openssl s_server did not start");
  return pid;
}

Test(tool, tls_flags_and_ca_environment_match_curl) {
  const char *cert = path_in_tmp("cert.pem"), *key = path_in_tmp("key.pem");
  char cadir[128];
  snprintf(cadir, sizeof(cadir), "%s", path_in_tmp("cadir"));
  if (access("/usr/bin/openssl", X_OK) != 0)
    cr_skip_test("openssl is not installed");
  run g = run_prog_in("/usr/bin/openssl", NULL, 0,
                      (const char *const[]){
                          "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                          "-subj", "/CN=127.0.0.1", "-keyout", key, "-out",
                          cert, "-days", "1", "-addext",
                          "subjectAltName=IP:127.0.0.1", NULL});
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
      {"--cacert over CURL_CA_BUNDLE", "CURL_CA_BUNDLE", "/nonexistent",
       {"--cacert", cert}, 0},
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
