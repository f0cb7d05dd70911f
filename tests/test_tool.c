/* Tests of the httpresp command-line tool and the demo server, run as the
 * user runs them: as programs.  The binaries come from HTTPRESP_TOOL and
 * HTTPRESP_DEMO_SERVER (set by tests/tool.cmake); without them the tests
 * are skipped.  Most tests point the tool at the in-process loopback
 * server, which records what it received; a few start the demo server.
 * No test waits more than about a second. */
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
} run;

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A time bound, stretched by HTTPRESP_TEST_TIME_SCALE when set (the
 * valgrind run sets it: the tool then starts under memcheck). */
static int64_t bound_ms(int64_t ms) {
  const char *s = getenv("HTTPRESP_TEST_TIME_SCALE");
  double v = s ? strtod(s, NULL) : 1.0;
  return v > 1.0 ? (int64_t)((double)ms * v) : ms;
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
    int64_t left = start + bound_ms(RUN_LIMIT_MS) - now_ms();
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
  waitpid(pid, &st, 0);
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
  int64_t deadline = now_ms() + bound_ms(5000);
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
  /* The tool caches by default: never in the user's own cache. */
  setenv("XDG_CACHE_HOME", tmpdir, 1);
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
      {"/loop1", 80, "redirect loop"},
      {"/badloc", 81, "Location"},
      {"/ftp", 82, "scheme"},
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
  cr_expect_eq(r.code, 3, "a URL that is not http(s) exits 3");
  run_free(&r);
}

/* ---- Retry-After
 * ---------------------------------------------------------------- */

Test(tool, max_retries_and_max_wait) {
  ts_simple(ts, 0, "/busy", 429, "Retry-After: 0", "later");
  char *u = url("/busy");
  run r = RUN("--no-cache", "--json", "--max-retries", "2", u);
  cr_expect_eq(r.code, 0, "a 429 is still an HTTP answer: %s", r.err);
  cr_expect_eq(ts_request_count(ts), 3, "one request and two repeats");
  cr_expect(strstr(r.out, "\"attempts\":3"), "json: %s", r.out);
  cr_expect(strstr(r.out, "\"retry_stop\":\"exhausted\""));
  cr_expect(strstr(r.out, "\"retry_after_ms\":0"));
  run_free(&r);

  r = RUN("--no-cache", "-f", "--max-retries", "0", u);
  cr_expect_eq(r.code, 85, "-f and still told to wait: 85");
  run_free(&r);

  ts_reset(ts);
  ts_simple(ts, 0, "/busy", 503, "Retry-After: 1", "later");
  r = RUN("--no-cache", "--json", "--max-wait", "0.5", u);
  cr_expect_eq(r.code, 0);
  cr_expect_eq(ts_request_count(ts), 1, "a 1 s wait is above --max-wait 0.5");
  cr_expect(strstr(r.out, "\"retry_after_ms\":1000"), "json: %s", r.out);
  cr_expect(strstr(r.out, "\"retry_stop\":\"wait-too-long\""));
  cr_expect_lt(r.ms, bound_ms(900), "it must not have waited");
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
  cr_expect_lt(r.ms, bound_ms(3000));
  run_free(&r);
  free(u);
}

/* ---- --json
 * ------------------------------------------------------------------------ */

Test(tool, json_summary) {
  ts_simple(ts, 0, "/j1", 301, "Location: /j2", NULL);
  static const char body[] = "q\"b\\s\x01\n\xff\xc3\xa9";
  ts_simple(ts, 0, "/j2", 200, "X-Odd: \"quoted\"", body);
  char *u = url("/j1"), *u2 = url("/j2");
  run r = RUN("--no-cache", "--json", u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(strchr(r.out, '\n'), r.out + strlen(r.out) - 1,
               "one line per URL: %s", r.out);
  char want[512];
  snprintf(want, sizeof(want), "\"url\":\"%s\"", u);
  cr_expect(strstr(r.out, want), "json: %s", r.out);
  snprintf(want, sizeof(want), "\"final_url\":\"%s\"", u2);
  cr_expect(strstr(r.out, want), "json: %s", r.out);
  cr_expect(strstr(r.out, "{\"index\":0,"));
  cr_expect(strstr(r.out, "\"status\":200,\"reason\":\"OK\""));
  cr_expect(strstr(r.out, "\"exit_code\":0"));
  cr_expect(strstr(r.out, "{\"name\":\"X-Odd\",\"value\":\"\\\"quoted\\\"\"}"));
  snprintf(want, sizeof(want),
           "\"hops\":[{\"status\":301,\"reason\":\"Moved Permanently\","
           "\"method\":\"GET\",\"url\":\"%s\",\"decision\":\"follow\"},"
           "{\"status\":200,",
           u);
  cr_expect(strstr(r.out, want), "json: %s", r.out);
  cr_expect(strstr(r.out, "\"redirects\":1"));
  cr_expect(strstr(r.out, "\"attempts\":1"));
  cr_expect(strstr(r.out, "\"retry_after_ms\":null"));
  cr_expect(strstr(r.out, "\"retry_stop\":\"none\""));
  cr_expect(strstr(r.out, "\"cache\":{\"status\":\"none\""));
  cr_expect(strstr(r.out, "\"error\":null"));
  cr_expect(strstr(r.out, "\"body_bytes\":10"));
  /* Quote, backslash, control characters escaped; an invalid byte becomes
   * U+FFFD; valid UTF-8 passes as is. */
  cr_expect(strstr(r.out, "\"body\":\"q\\\"b\\\\s\\u0001\\n\\ufffd\xc3\xa9\""),
            "json: %s", r.out);
  run_free(&r);

  ts_simple(ts, 0, "/l1", 302, "Location: /l2", NULL);
  ts_simple(ts, 0, "/l2", 302, "Location: /l1", NULL);
  char *l = url("/l1");
  r = RUN("--no-cache", "--json", l);
  cr_expect_eq(r.code, 80);
  cr_expect(strstr(r.out, "\"exit_code\":80"));
  cr_expect(strstr(r.out, "\"error\":{\"code\":"));
  cr_expect(strstr(r.out, "\"name\":\"HTTPRESP_E_REDIRECT_LOOP\""));
  cr_expect(strstr(r.out, "\"decision\":\"stop\""));
  run_free(&r);
  free(u);
  free(u2);
  free(l);
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
  run r = RUN("--cache", dir, "--json", u, u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_eq(ts_request_count(ts), 1, "the second URL is a cache hit");
  char *l0 = line_of(r.out, 0), *l1 = line_of(r.out, 1);
  cr_expect(strstr(l0, "\"cache\":{\"status\":\"stored\""), "json: %s", l0);
  cr_expect(strstr(l1, "\"cache\":{\"status\":\"hit\""), "json: %s", l1);
  cr_expect(strstr(l1, "\"body\":\"cached\""));
  free(l0);
  free(l1);
  run_free(&r);

  /* The disk store outlives the run; --no-cache ignores it. */
  r = RUN("--cache", dir, u);
  cr_expect_str_eq(r.out, "cached");
  cr_expect_eq(ts_request_count(ts), 1, "a new run finds the stored answer");
  run_free(&r);
  r = RUN("--no-cache", u);
  cr_expect_eq(ts_request_count(ts), 2);
  run_free(&r);

  /* By default the cache lives in $XDG_CACHE_HOME/httpresp. */
  r = RUN(u);
  cr_expect_eq(r.code, 0);
  struct stat st;
  cr_expect(stat(path_in_tmp("httpresp"), &st) == 0 && S_ISDIR(st.st_mode),
            "no cache directory under XDG_CACHE_HOME");
  run_free(&r);

  /* Missing parents are created too. */
  r = RUN("--cache", path_in_tmp("deep/er/cache"), u);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect(stat(path_in_tmp("deep/er/cache"), &st) == 0 &&
                S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
            "--cache did not create a private directory and its parents");
  run_free(&r);

  r = RUN("--cache", "/proc/no/such/dir", u);
  cr_expect_eq(r.code, 86, "an unusable --cache DIR exits 86");
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
  run r = RUN("--no-cache", "--json", "--parallel", "3", s, f1, f2);
  cr_expect_eq(r.code, 0, "err: %s", r.err);
  cr_expect_lt(r.ms, bound_ms(2000));
  char *l0 = line_of(r.out, 0), *l1 = line_of(r.out, 1),
       *l2 = line_of(r.out, 2);
  cr_expect(strstr(l0, "{\"index\":0,") && strstr(l0, "\"body\":\"slow\""),
            "first line: %s", l0);
  cr_expect(strstr(l1, "{\"index\":1,") && strstr(l1, "\"body\":\"f1\""));
  cr_expect(strstr(l2, "{\"index\":2,") && strstr(l2, "\"redirects\":1"));
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
  r = RUN("--no-cache", "--json", u);
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
  cr_expect_eq(r.code, 80);
  run_free(&r);

  snprintf(u, sizeof(u), "%s/many/3", d.base);
  r = RUN("--no-cache", "--max-redirs", "2", u);
  cr_expect_eq(r.code, 47);
  run_free(&r);

  snprintf(u, sizeof(u), "%s/slow-down", d.base);
  r = RUN("--no-cache", "--json", "--max-wait", "1", u);
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

  run r = RUN("--cache", dir, "--json", u, u);
  char *l0 = line_of(r.out, 0), *l1 = line_of(r.out, 1);
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
  r = RUN("--cache", dir, "--json", "-H", "Cache-Control: no-cache", u);
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
