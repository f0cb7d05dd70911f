/* SPDX-License-Identifier: MIT */
/* Running the httpresp tool, the demo server, curl and openssl as
 * programs, for the tool's suites (test_tool*.c).  The tool and the demo
 * server come from HTTPRESP_TOOL and HTTPRESP_DEMO_SERVER (set by
 * tests/tool.cmake); without them the tests are skipped.  The suites'
 * fixture (tool_setup/tool_teardown) starts the in-process loopback server
 * (tool_ts, two ports) and a scratch directory (tool_tmpdir). */
#define _DEFAULT_SOURCE /* wait4 */
#include "toolrun.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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

#define RUN_LIMIT_MS 15000

ts_server *tool_ts;
char tool_tmpdir[64];

/* ---- running programs ---------------------------------------------------- */

int64_t bound_ms(int64_t ms) {
  const char *s = getenv("HTTPRESP_TEST_TIME_SCALE");
  double v = s ? strtod(s, NULL) : 1.0;
  return v > 1.0 ? (int64_t)((double)ms * v) : ms;
}

int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void append(char **buf, size_t *len, const char *d, size_t n) {
  char *p = realloc(*buf, *len + n + 1);
  cr_assert_not_null(p);
  memcpy(p + *len, d, n);
  *len += n;
  p[*len] = '\0';
  *buf = p;
}

const char *tool_path(void) {
  const char *p = getenv("HTTPRESP_TOOL");
  if (!p || !*p)
    cr_skip_test("HTTPRESP_TOOL is not set (include tests/tool.cmake)");
  return p;
}

/* Runs program `tool` with `args` (NULL-terminated), `in` on stdin. */
run run_prog_in(const char *tool, const char *in, size_t in_len,
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
  struct rusage ru;
  memset(&ru, 0, sizeof(ru));
  wait4(pid, &st, 0, &ru);
  r.maxrss_kb = ru.ru_maxrss;
  r.ms = now_ms() - start;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

/* Runs the tool with `args` (NULL-terminated), `in` on stdin. */
run run_tool_in(const char *in, size_t in_len, const char *const *args) {
  return run_prog_in(tool_path(), in, in_len, args);
}

void run_free(run *r) {
  free(r->out);
  free(r->err);
}

/* ---- the demo server ------------------------------------------------------
 */

/* Reads one line from `fd` into `line`; 0 on success. */
int read_line(int fd, char *line, size_t len, int64_t deadline) {
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

demo demo_start(void) {
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

void demo_stop(demo *d) {
  int st;
  kill(d->pid, SIGTERM);
  waitpid(d->pid, &st, 0);
  cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "the demo server did not stop cleanly on SIGTERM");
}

/* ---- fixtures ---------------------------------------------------------------
 */

void tool_setup(void) {
  tool_ts = ts_start(2);
  cr_assert_not_null(tool_ts);
  snprintf(tool_tmpdir, sizeof(tool_tmpdir), "/tmp/httpresp-tool-XXXXXX");
  cr_assert_not_null(mkdtemp(tool_tmpdir));
  /* --cache without a directory: never the user's own cache.  Nothing
   * from the caller's environment turns the cache on or changes TLS. */
  setenv("XDG_CACHE_HOME", tool_tmpdir, 1);
  unsetenv("HTTPRESP_CACHE");
  unsetenv("CURL_CA_BUNDLE");
  unsetenv("SSL_CERT_FILE");
  unsetenv("SSL_CERT_DIR");
}

void tool_teardown(void) {
  ts_stop(tool_ts);
  tool_ts = NULL;
  fixture_rm_rf(tool_tmpdir);
}

char *url(const char *path) { return ts_url(tool_ts, 0, path); }

char *path_in_tmp(const char *name) {
  static char buf[4][128];
  static int k;
  char *p = buf[k++ % 4];
  snprintf(p, 128, "%s/%s", tool_tmpdir, name);
  return p;
}

char *slurp_file(const char *path, size_t *len) {
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
char *line_of(const char *s, int n) {
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

/* The n-th (0-based) -w '%{json}' line of `out`, malloc'd ("" if none). */
char *json_of(const char *out, int n) {
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

/* ---- curl and openssl ------------------------------------------------------
 */

/* Runs curl with `args` (NULL-terminated). */
run run_curl(const char *const *args) {
  if (access("/usr/bin/curl", X_OK) != 0)
    cr_skip_test("curl is not installed");
  return run_prog_in("/usr/bin/curl", NULL, 0, args);
}

/* An `openssl s_server -www` on loopback with a self-signed certificate for
 * 127.0.0.1; its port, or the test is skipped without openssl. */
pid_t tls_server(const char *cert, const char *key, int *port) {
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
  int64_t deadline = now_ms() + bound_ms(5000);
  *port = 0;
  while (!*port && read_line(p[0], line, sizeof(line), deadline) == 0)
    sscanf(line, "ACCEPT 127.0.0.1:%d", port);
  close(p[0]);
  cr_assert(*port > 0, "openssl s_server did not start");
  return pid;
}
