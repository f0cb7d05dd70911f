/* httpresp: a curl-like command-line client that shows what libhttpresp
 * does with each response — redirects, interim 1xx, Retry-After and cache
 * revalidation.  Built on the public API alone.
 *
 * This file: the command line, the two drivers (one URL after the other
 * over one easy handle, or --parallel over the multi driver), output and
 * exit codes.  The -v trace is in httpresp_trace.c, --json in
 * httpresp_json.c. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "httpresp_tool.h"

#define TOOL_NAME "httpresp"
#define TOOL_CACHE_BYTES ((size_t)256 * 1024 * 1024)
#define TOOL_MAX_DATA ((size_t)1 << 30)

/* Exit codes besides the per-error ones in the table below. */
enum {
  EXIT_USAGE = 2,
  EXIT_HTTP_ERROR = 22, /* -f and a status >= 400, like curl */
  EXIT_WRITE = 23,      /* like curl */
  EXIT_READ = 26        /* like curl */
};

static const char usage_text[] =
    "Usage: " TOOL_NAME " [options] URL...\n"
    "\n"
    "A curl-like client over libhttpresp: redirects are followed with the\n"
    "right method and body, 1xx are absorbed, 429/503 Retry-After is waited\n"
    "for and repeated, and answers are cached on disk and revalidated (304).\n"
    "\n"
    "Request:\n"
    "  -X, --request METHOD      method (default GET; POST with data; HEAD "
    "with -I)\n"
    "  -d, --data DATA           body; @FILE reads a file without CR/LF, @- "
    "stdin;\n"
    "                            several are joined with '&'\n"
    "      --data-binary DATA    body as is; @FILE or @- read bytes unchanged\n"
    "  -H, --header 'Name: value'  add a request header\n"
    "  -u, --user USER:PASSWORD  credentials, sent to the first origin only\n"
    "  -A, --user-agent NAME     User-Agent (default " TOOL_NAME "/VERSION)\n"
    "Output:\n"
    "  -o, --output FILE         write the body to FILE (one -o per URL, in "
    "order)\n"
    "  -i, --include             print the response headers before the body\n"
    "  -I, --head                HEAD request, print the headers\n"
    "      --json                one JSON summary per URL on stdout (status,\n"
    "                            URLs, headers, hops, attempts, retry, cache,\n"
    "                            error, body); not curl's --json, which "
    "sends JSON\n"
    "  -v, --verbose             trace every hop and decision on stderr\n"
    "  -s, --silent              no error messages;  -S, --show-error: "
    "still show them\n"
    "  -f, --fail                exit 22 on HTTP status >= 400 (body not "
    "written)\n"
    "Policy:\n"
    "      --no-follow           do not follow redirects (following is the "
    "default;\n"
    "                            -L, --location are accepted and do "
    "nothing)\n"
    "      --max-redirs N        redirect limit (default 20; -1: no limit)\n"
    "      --keep-post           keep POST and its body on 301/302\n"
    "      --max-retries N       repeats after 429/503 Retry-After (default "
    "3)\n"
    "      --max-wait SECONDS    longest single wait, fractions allowed "
    "(default 60)\n"
    "      --cache DIR           cache directory (default: "
    "$XDG_CACHE_HOME/httpresp,\n"
    "                            else ~/.cache/httpresp).  Caching is ON by "
    "default\n"
    "      --no-cache            do not use a cache\n"
    "Transfer:\n"
    "      --connect-timeout SECONDS   limit for connecting\n"
    "  -m, --max-time SECONDS    limit per URL, redirects and waits included\n"
    "  -Z, --parallel N          run up to N URLs at once (-Z alone: 50)\n"
    "  -h, --help                this text\n"
    "  -V, --version             tool, library and libcurl versions\n"
    "\n"
    "Several URLs share one client, one cache and one connection pool.\n"
    "\n"
    "Exit codes (with several URLs: the code of the last one that failed):\n"
    "   0  success, whatever the HTTP status (unless -f)\n"
    "   1  internal failure (out of memory)\n"
    "   2  usage error\n"
    "   3  the URL is not a valid http(s) URL\n"
    "   6  could not resolve the host\n"
    "   7  could not connect, or another transfer failure in libcurl\n"
    "   8  malformed or oversized response, or an unexpected 101 upgrade\n"
    "  22  HTTP status >= 400 with -f\n"
    "  23  could not write the output\n"
    "  26  could not read the data file\n"
    "  28  time limit reached (--connect-timeout, -m)\n"
    "  47  too many redirects (--max-redirs)\n"
    "  80  redirect loop\n"
    "  81  redirect with a Location that is not a valid URI\n"
    "  82  redirect to a scheme other than http or https\n"
    "  83  redirect from https to http refused\n"
    "  84  the request body could not be sent again\n"
    "  85  the server asks to wait longer than --max-wait allows, or (with "
    "-f)\n"
    "      still answers 429/503 after the retries\n"
    "  86  cache failure\n"
    "  87  transfer aborted\n";

/* ---- small helpers ------------------------------------------------------ */

int64_t tool_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tool_status_retryable(int status) {
  const httpresp_status_info *info = httpresp_status_lookup(status);
  return info && (info->flags & HTTPRESP_STATUS_RETRYABLE);
}

unsigned tool_redirect_count(const httpresp_response *r) {
  unsigned n = 0;
  for (size_t i = 0; i < httpresp_response_hop_count(r); i++) {
    httpresp_decision d;
    if (httpresp_response_hop(r, i, NULL, NULL, NULL, &d) == 0 &&
        d == HTTPRESP_DECISION_FOLLOW)
      n++;
  }
  return n;
}

static void say(const tool_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* An error line on stderr, unless -s without -S. */
static void say(const tool_opts *o, const char *fmt, ...) {
  if (o && o->silent && !o->show_error)
    return;
  va_list ap;
  va_start(ap, fmt);
  fputs(TOOL_NAME ": ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    fputs(TOOL_NAME ": out of memory\n", stderr);
    exit(1);
  }
  return q;
}

/* ---- error classes and exit codes --------------------------------------- */

static const struct {
  int code;
  int exit;
  const char *label;
} error_table[] = {
    {HTTPRESP_E_NOMEM, 1, "out of memory"},
    {HTTPRESP_E_INVALID_ARG, 1, "invalid argument"},
    {HTTPRESP_E_CURL, 7, "transfer failed"},
    {HTTPRESP_E_BAD_RESPONSE, 8, "malformed response"},
    {HTTPRESP_E_HEADERS_TOO_LARGE, 8, "response headers too large"},
    {HTTPRESP_E_BODY_TOO_LARGE, 8, "response body too large"},
    {HTTPRESP_E_TOO_MANY_INTERIM, 8, "too many interim responses"},
    {HTTPRESP_E_UNEXPECTED_UPGRADE, 8, "unexpected protocol switch"},
    {HTTPRESP_E_TOO_MANY_REDIRECTS, 47, "too many redirects"},
    {HTTPRESP_E_REDIRECT_LOOP, 80, "redirect loop"},
    {HTTPRESP_E_BAD_LOCATION, 81, "bad Location"},
    {HTTPRESP_E_SCHEME_NOT_ALLOWED, 82, "redirect scheme not allowed"},
    {HTTPRESP_E_DOWNGRADE_REFUSED, 83, "https to http redirect refused"},
    {HTTPRESP_E_BODY_NOT_REWINDABLE, 84, "body cannot be sent again"},
    {HTTPRESP_E_ORIGIN_BACKOFF, 85, "server asks to wait too long"},
    {HTTPRESP_E_DEADLINE, 28, "time limit reached"},
    {HTTPRESP_E_NOT_CACHED, 86, "not in the cache"},
    {HTTPRESP_E_CACHE_IO, 86, "cache failure"},
    {HTTPRESP_E_ABORTED, 87, "aborted"},
    {HTTPRESP_E_BAD_URL, 3, "bad URL"},
    {HTTPRESP_E_BUSY, 1, "handle busy"},
};

const char *tool_error_label(int code) {
  for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
    if (error_table[i].code == code)
      return error_table[i].label;
  return httpresp_strerror(code);
}

/* Whether the server's last word was "later" and we stopped listening. */
static int gave_up_waiting(const httpresp_response *r) {
  int st = httpresp_response_status(r);
  httpresp_retry_stop s = httpresp_response_retry_stop(r);
  return tool_status_retryable(st) && s != HTTPRESP_RETRY_NONE &&
         s != HTTPRESP_RETRY_SUCCEEDED;
}

int tool_exit_code(const tool_job *j, const tool_opts *o) {
  if (j->exit_code)
    return j->exit_code;
  if (j->rc == HTTPRESP_E_CURL) {
    switch (httpresp_response_curl_code(j->resp)) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return 6;
    case CURLE_OPERATION_TIMEDOUT:
      return 28;
    default:
      return 7;
    }
  }
  if (j->rc) {
    for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
      if (error_table[i].code == j->rc)
        return error_table[i].exit;
    return 1;
  }
  int st = httpresp_response_status(j->resp);
  if (o->fail && st >= 400)
    return gave_up_waiting(j->resp) ? 85 : EXIT_HTTP_ERROR;
  return 0;
}

/* ---- the command line --------------------------------------------------- */

/* Reads all of `f` into a malloc'd buffer. */
static char *slurp(FILE *f, size_t *len) {
  size_t cap = 65536, n = 0;
  char *buf = xrealloc(NULL, cap);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n > TOOL_MAX_DATA) {
      free(buf);
      errno = EFBIG;
      return NULL;
    }
    if (n == cap)
      buf = xrealloc(buf, cap *= 2);
  }
  if (ferror(f)) {
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

/* Appends bytes to the body, '&' between pieces like curl. */
static void add_bytes(tool_opts *o, const char *bytes, size_t len) {
  size_t sep = o->data ? 1 : 0;
  o->data = xrealloc(o->data, o->data_len + sep + len + 1);
  if (sep)
    o->data[o->data_len] = '&';
  if (len)
    memcpy(o->data + o->data_len + sep, bytes, len);
  o->data_len += sep + len;
  o->data[o->data_len] = '\0';
}

/* Adds one -d / --data-binary argument: text, or @FILE / @- read. */
static int add_data(tool_opts *o, const char *arg, int binary) {
  if (arg[0] != '@') {
    add_bytes(o, arg, strlen(arg));
    return 0;
  }
  const char *path = arg + 1;
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    say(NULL, "%s: cannot read: %s", path, strerror(errno));
    return EXIT_READ;
  }
  size_t len = 0;
  char *bytes = slurp(f, &len);
  int err = errno;
  if (f != stdin)
    fclose(f);
  if (!bytes) {
    say(NULL, "%s: cannot read: %s", path, strerror(err));
    return EXIT_READ;
  }
  if (!binary) { /* like curl -d @file: line ends are not part of data */
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
      if (bytes[i] != '\r' && bytes[i] != '\n')
        bytes[k++] = bytes[i];
    len = k;
  }
  add_bytes(o, bytes, len);
  free(bytes);
  return 0;
}

static int parse_long(const char *opt, const char *v, long lo, long *out) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < lo) {
    say(NULL, "%s: expected a whole number >= %ld, got '%s'", opt, lo, v);
    return EXIT_USAGE;
  }
  *out = n;
  return 0;
}

static int parse_seconds(const char *opt, const char *v, int64_t *ms) {
  char *end;
  errno = 0;
  double s = strtod(v, &end);
  if (errno || end == v || *end || !(s >= 0) || s > 1e9) {
    say(NULL, "%s: expected seconds (fractions allowed), got '%s'", opt, v);
    return EXIT_USAGE;
  }
  *ms = (int64_t)(s * 1000.0 + 0.5);
  return 0;
}

static void push(const char ***v, size_t *n, const char *s) {
  *v = xrealloc((void *)*v, (*n + 1) * sizeof(**v));
  (*v)[(*n)++] = s;
}

/* Options that take a value, long name and short letter (0 if none). */
static const struct {
  const char *name;
  char letter;
  int takes_value;
} options[] = {
    {"request", 'X', 1},    {"data", 'd', 1},       {"data-binary", 0, 1},
    {"data-raw", 0, 1},     {"header", 'H', 1},     {"user", 'u', 1},
    {"user-agent", 'A', 1}, {"output", 'o', 1},     {"include", 'i', 0},
    {"head", 'I', 0},       {"json", 0, 0},         {"verbose", 'v', 0},
    {"silent", 's', 0},     {"show-error", 'S', 0}, {"fail", 'f', 0},
    {"no-follow", 0, 0},    {"location", 'L', 0},   {"max-redirs", 0, 1},
    {"keep-post", 0, 0},    {"max-retries", 0, 1},  {"max-wait", 0, 1},
    {"cache", 0, 1},        {"no-cache", 0, 0},     {"connect-timeout", 0, 1},
    {"max-time", 'm', 1},   {"parallel", 'Z', 1},   {"help", 'h', 0},
    {"version", 'V', 0},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* Applies option `name` (long form) with `val`.  Returns 0, an exit code,
 * or -1 for "print help/version and exit 0". */
static int apply(tool_opts *o, const char *name, const char *val) {
  if (!strcmp(name, "request"))
    o->method = val;
  else if (!strcmp(name, "data"))
    return add_data(o, val, 0);
  else if (!strcmp(name, "data-binary"))
    return add_data(o, val, 1);
  else if (!strcmp(name, "data-raw"))
    add_bytes(o, val, strlen(val));
  else if (!strcmp(name, "header"))
    push(&o->headers, &o->nheaders, val);
  else if (!strcmp(name, "user"))
    o->user = val;
  else if (!strcmp(name, "user-agent"))
    o->user_agent = val;
  else if (!strcmp(name, "output"))
    push(&o->outputs, &o->noutputs, val);
  else if (!strcmp(name, "include"))
    o->include = 1;
  else if (!strcmp(name, "head"))
    o->head = 1;
  else if (!strcmp(name, "json"))
    o->json = 1;
  else if (!strcmp(name, "verbose"))
    o->verbose = 1;
  else if (!strcmp(name, "silent"))
    o->silent = 1;
  else if (!strcmp(name, "show-error"))
    o->show_error = 1;
  else if (!strcmp(name, "fail"))
    o->fail = 1;
  else if (!strcmp(name, "no-follow"))
    o->follow = 0;
  else if (!strcmp(name, "location"))
    o->follow = 1;
  else if (!strcmp(name, "max-redirs"))
    return parse_long("--max-redirs", val, -1, &o->max_redirs);
  else if (!strcmp(name, "keep-post"))
    o->keep_post = 1;
  else if (!strcmp(name, "max-retries"))
    return parse_long("--max-retries", val, 0, &o->max_retries);
  else if (!strcmp(name, "max-wait"))
    return parse_seconds("--max-wait", val, &o->max_wait_ms);
  else if (!strcmp(name, "cache"))
    o->cache_dir = val, o->no_cache = 0;
  else if (!strcmp(name, "no-cache"))
    o->no_cache = 1;
  else if (!strcmp(name, "connect-timeout"))
    return parse_seconds("--connect-timeout", val, &o->connect_timeout_ms);
  else if (!strcmp(name, "max-time"))
    return parse_seconds("--max-time", val, &o->max_time_ms);
  else if (!strcmp(name, "parallel"))
    return parse_long("--parallel", val, 1, &o->parallel);
  else if (!strcmp(name, "help")) {
    fputs(usage_text, stdout);
    return -1;
  } else if (!strcmp(name, "version")) {
    printf(TOOL_NAME " %s (libhttpresp %s, libcurl %s)\n",
           HTTPRESP_VERSION_STRING, httpresp_version(),
           curl_version_info(CURLVERSION_NOW)->version);
    return -1;
  }
  return 0;
}

/* "--name [value]" at argv[*i]. */
static int parse_long_opt(tool_opts *o, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  size_t k = 0;
  while (k < NOPTIONS && strcmp(options[k].name, a + 2) != 0)
    k++;
  if (k == NOPTIONS) {
    say(NULL, "unknown option '%s' (try --help)", a);
    return EXIT_USAGE;
  }
  const char *val = "";
  if (options[k].takes_value) {
    if (*i + 1 >= argc) {
      say(NULL, "option '%s' needs a value", a);
      return EXIT_USAGE;
    }
    val = argv[++*i];
  }
  return apply(o, options[k].name, val);
}

/* Short options at argv[*i]: they may be bundled ("-sSf"), and a value may
 * be attached ("-XPOST") or follow ("-X POST"). */
static int parse_short_opts(tool_opts *o, int argc, char **argv, int *i) {
  for (const char *p = argv[*i] + 1; *p; p++) {
    size_t k = 0;
    while (k < NOPTIONS && options[k].letter != *p)
      k++;
    if (k == NOPTIONS) {
      say(NULL, "unknown option '-%c' (try --help)", *p);
      return EXIT_USAGE;
    }
    const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
    if (*p == 'Z' && (p[1] || !next || next[0] < '0' || next[0] > '9')) {
      o->parallel = 50; /* curl's -Z is a switch; a count may follow */
      continue;
    }
    if (!options[k].takes_value) {
      int rc = apply(o, options[k].name, "");
      if (rc)
        return rc;
      continue;
    }
    const char *val = p[1] ? p + 1 : next;
    if (!val) {
      say(NULL, "option '-%c' needs a value", *p);
      return EXIT_USAGE;
    }
    if (!p[1])
      ++*i;
    return apply(o, options[k].name, val); /* the value ends the bundle */
  }
  return 0;
}

static int parse_args(tool_opts *o, int argc, char **argv) {
  int only_urls = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int rc = 0;
    if (only_urls || a[0] != '-' || !a[1])
      push(&o->urls, &o->nurls, a);
    else if (!strcmp(a, "--"))
      only_urls = 1;
    else if (a[1] == '-')
      rc = parse_long_opt(o, argc, argv, &i);
    else
      rc = parse_short_opts(o, argc, argv, &i);
    if (rc)
      return rc;
  }
  if (!o->nurls) {
    say(NULL, "no URL given (try --help)");
    return EXIT_USAGE;
  }
  if (o->head && o->data) {
    say(NULL, "-I (HEAD) and a request body do not go together");
    return EXIT_USAGE;
  }
  return 0;
}

/* ---- the cache directory ------------------------------------------------ */

/* $XDG_CACHE_HOME/httpresp, else $HOME/.cache/httpresp (malloc'd), or NULL
 * when neither is set. */
static char *default_cache_dir(void) {
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  const char *base, *sub;
  if (xdg && xdg[0] == '/')
    base = xdg, sub = "/httpresp";
  else if (home && home[0] == '/')
    base = home, sub = "/.cache/httpresp";
  else
    return NULL;
  size_t len = strlen(base) + strlen(sub) + 1;
  char *dir = xrealloc(NULL, len);
  snprintf(dir, len, "%s%s", base, sub);
  return dir;
}

/* ---- requests and output ------------------------------------------------ */

static const char *job_method(const tool_opts *o) {
  if (o->method)
    return o->method;
  if (o->head)
    return "HEAD";
  return o->data ? "POST" : "GET";
}

/* Builds the job's request; on failure the job is done with an error.
 * Returns EXIT_USAGE for a bad -H or -u, 0 otherwise. */
static int build_request(tool_job *j, const tool_opts *o) {
  j->method = job_method(o);
  if (!strstr(j->url, "://")) { /* like curl: a bare host means http */
    size_t len = strlen(j->url) + 8;
    j->url_owned = xrealloc(NULL, len);
    snprintf(j->url_owned, len, "http://%s", j->url);
    j->url = j->url_owned;
  }
  int rc = httpresp_request_new(&j->req, j->method, j->url);
  if (rc == HTTPRESP_E_INVALID_ARG && o->method) {
    say(o, "-X %s: not a valid method", o->method);
    return EXIT_USAGE;
  }
  if (rc) { /* this URL fails; the others still run */
    j->rc = rc == HTTPRESP_E_NOMEM ? rc : HTTPRESP_E_BAD_URL;
    return 0;
  }
  for (size_t i = 0; i < o->nheaders; i++) {
    if (httpresp_request_add_header(j->req, o->headers[i], NULL) != 0) {
      say(o, "-H '%s': not a valid header line", o->headers[i]);
      return EXIT_USAGE;
    }
  }
  if (o->data) {
    /* A -H Content-Type, even an empty one, replaces the default. */
    if (!httpresp_request_header(j->req, "Content-Type"))
      rc = httpresp_request_add_header(j->req, "Content-Type",
                                       "application/x-www-form-urlencoded");
    if (!rc)
      rc = httpresp_request_set_body(j->req, o->data, o->data_len);
  }
  if (!rc && o->user) {
    const char *colon = strchr(o->user, ':');
    size_t ulen = colon ? (size_t)(colon - o->user) : strlen(o->user);
    char *user = xrealloc(NULL, ulen + 1);
    memcpy(user, o->user, ulen);
    user[ulen] = '\0';
    rc = httpresp_request_set_credentials(j->req, user, colon ? colon + 1 : "",
                                          0);
    free(user);
  }
  if (rc) {
    say(o, "%s: %s", j->url, httpresp_strerror(rc));
    return rc == HTTPRESP_E_NOMEM ? 1 : EXIT_USAGE;
  }
  return 0;
}

static int write_all(FILE *f, const void *data, size_t len) {
  return len == 0 || fwrite(data, 1, len, f) == len ? 0 : -1;
}

/* Status line and header fields, as -i and -I print them. */
static int write_head(FILE *f, const tool_job *j) {
  const httpresp_response *r = j->resp;
  long ver = j->http_version;
  const char *v = ver == CURL_HTTP_VERSION_2_0   ? "HTTP/2"
                  : ver == CURL_HTTP_VERSION_3   ? "HTTP/3"
                  : ver == CURL_HTTP_VERSION_1_0 ? "HTTP/1.0"
                                                 : "HTTP/1.1";
  int st = httpresp_response_status(r);
  if (fprintf(f, "%s %d %s\r\n", v, st, httpresp_status_reason(st)) < 0)
    return -1;
  for (size_t i = 0; i < httpresp_response_header_count(r); i++) {
    const char *name, *value;
    if (httpresp_response_header_at(r, i, &name, &value) == 0 &&
        fprintf(f, "%s: %s\r\n", name, value) < 0)
      return -1;
  }
  return fputs("\r\n", f) < 0 ? -1 : 0;
}

/* Writes what the job produced and sets its exit code; prints its error. */
static void finish_job(tool_job *j, const tool_opts *o) {
  const char *path =
      j->index < o->noutputs && strcmp(o->outputs[j->index], "-") != 0
          ? o->outputs[j->index]
          : NULL;
  int code = tool_exit_code(j, o);
  int st = httpresp_response_status(j->resp);
  if (j->rc) {
    const char *label = tool_error_label(j->rc);
    const char *msg =
        j->resp ? httpresp_response_errmsg(j->resp) : httpresp_strerror(j->rc);
    size_t ll = strlen(label);
    if (!strncasecmp(msg, label, ll) && msg[ll] == ':')
      say(o, "%s: %s", j->url, msg); /* the message names it already */
    else
      say(o, "%s: %s: %s", j->url, label, msg);
  } else if (code) {
    if (code == 85)
      say(o, "%s: the server still answers %d %s (retries: %s)", j->url, st,
          httpresp_status_reason(st),
          httpresp_retry_stop_name(httpresp_response_retry_stop(j->resp)));
    else
      say(o, "%s: the server answered %d %s", j->url, st,
          httpresp_status_reason(st));
  }
  size_t blen = 0;
  const char *body = httpresp_response_body(j->resp, &blen);
  if (!code && (path || !o->json)) {
    FILE *f = path ? fopen(path, "wb") : stdout;
    int bad = !f;
    if (!bad && !o->json && (o->include || o->head))
      bad = write_head(f, j) != 0;
    if (!bad && !o->head)
      bad = write_all(f, body, blen) != 0;
    if (f && (f == stdout ? fflush(f) : fclose(f)) != 0)
      bad = 1;
    if (bad) {
      say(o, "%s: cannot write: %s", path ? path : "stdout", strerror(errno));
      j->exit_code = EXIT_WRITE;
    }
  }
  if (o->json) {
    json_job(stdout, j, o, path == NULL);
    fflush(stdout);
  }
}

/* ---- the drivers -------------------------------------------------------- */

static CURL *new_easy(const tool_opts *o, tool_trace *trace, size_t slot) {
  CURL *e = curl_easy_init();
  if (!e)
    return NULL;
  char ua[64];
  snprintf(ua, sizeof(ua), TOOL_NAME "/%s", HTTPRESP_VERSION_STRING);
  curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : ua);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  if (o->connect_timeout_ms > 0)
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(o->connect_timeout_ms < LONG_MAX
                                ? o->connect_timeout_ms
                                : LONG_MAX));
  if (trace)
    trace_attach(trace, slot, e);
  return e;
}

static void release(tool_job *j) {
  httpresp_response_free(j->resp);
  j->resp = NULL;
  httpresp_request_free(j->req);
  j->req = NULL;
}

/* Output, exit code and memory of a finished job. */
static void settle(tool_job *j, const tool_opts *o, int *status) {
  finish_job(j, o);
  int code = tool_exit_code(j, o);
  if (code)
    *status = code;
  release(j);
}

/* One URL after the other over one easy handle: the connection is reused
 * from one URL to the next. */
static int run_serial(httpresp_client *client, tool_job *jobs, size_t n,
                      const tool_opts *o, tool_trace *trace) {
  CURL *easy = new_easy(o, trace, 0);
  if (!easy) {
    say(o, "cannot create a libcurl handle");
    return 1;
  }
  int status = 0;
  for (size_t i = 0; i < n; i++) {
    tool_job *j = &jobs[i];
    if (trace)
      trace_begin(trace, 0, j);
    j->start_ms = tool_mono_ms();
    if (j->req) {
      j->rc = httpresp_perform(client, easy, j->req, &j->resp);
      curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &j->http_version);
    }
    j->end_ms = tool_mono_ms();
    if (trace)
      trace_end(trace, 0, j);
    settle(j, o, &status);
  }
  curl_easy_cleanup(easy);
  return status;
}

/* The state of a --parallel run. */
typedef struct par {
  httpresp_multi *m;
  CURL **easy; /* one per slot */
  int *busy;
  size_t nslots;
  tool_job *jobs;
  size_t n, next;
  tool_trace *trace;
} par;

/* Puts the next jobs on the free slots. */
static void start_jobs(par *p) {
  for (size_t s = 0; s < p->nslots && p->next < p->n; s++) {
    if (p->busy[s])
      continue;
    tool_job *j = &p->jobs[p->next++];
    j->slot = s;
    j->start_ms = tool_mono_ms();
    if (p->trace)
      trace_begin(p->trace, s, j);
    if (j->req &&
        (j->rc = httpresp_multi_add(p->m, p->easy[s], j->req, j)) == 0) {
      p->busy[s] = 1;
      continue;
    }
    j->end_ms = tool_mono_ms(); /* never started: a bad URL */
    j->done = 1;
    if (p->trace)
      trace_end(p->trace, s, j);
  }
}

/* Takes the finished transfers; returns how many. */
static size_t collect_done(par *p) {
  httpresp_response *resp;
  CURL *e;
  void *ud;
  size_t got = 0;
  while (httpresp_multi_next_done(p->m, &resp, &e, &ud)) {
    tool_job *j = ud;
    j->resp = resp;
    j->rc = httpresp_response_error(resp);
    j->end_ms = tool_mono_ms();
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &j->http_version);
    j->done = 1;
    p->busy[j->slot] = 0;
    got++;
    if (p->trace)
      trace_end(p->trace, j->slot, j);
  }
  return got;
}

/* Up to `nslots` URLs at once over the multi driver; one CURLM, so one
 * connection pool.  Results are written in command-line order, each as
 * soon as those before it are done. */
static int run_parallel(httpresp_client *client, tool_job *jobs, size_t n,
                        size_t nslots, const tool_opts *o, tool_trace *trace) {
  par p = {NULL,
           calloc(nslots, sizeof(CURL *)),
           calloc(nslots, sizeof(int)),
           nslots,
           jobs,
           n,
           0,
           trace};
  CURLM *multi = curl_multi_init();
  int status = 0;
  int rc = multi && p.easy && p.busy ? httpresp_multi_new(&p.m, client, multi)
                                     : HTTPRESP_E_NOMEM;
  for (size_t s = 0; !rc && s < nslots; s++)
    if (!(p.easy[s] = new_easy(o, trace, s)))
      rc = HTTPRESP_E_NOMEM;
  size_t written = 0;
  while (!rc && written < n) {
    start_jobs(&p);
    int running = 0;
    rc = httpresp_multi_perform(p.m, &running);
    size_t got = rc ? 0 : collect_done(&p);
    while (written < n && jobs[written].done)
      settle(&jobs[written++], o, &status);
    if (!rc && !got && httpresp_multi_pending(p.m) > 0)
      rc = httpresp_multi_poll(p.m, 1000);
  }
  if (rc) {
    say(o, "the multi driver failed: %s", httpresp_strerror(rc));
    status = 1;
  }
  httpresp_multi_free(p.m);
  for (size_t s = 0; p.easy && s < nslots; s++)
    if (p.easy[s])
      curl_easy_cleanup(p.easy[s]);
  if (multi)
    curl_multi_cleanup(multi);
  free(p.easy);
  free(p.busy);
  return status;
}

/* The library's policy as the options say. */
static int configure_client(httpresp_client *c, const tool_opts *o) {
  int rc = httpresp_client_set_follow(c, o->follow);
  if (!rc)
    rc = httpresp_client_set_keep_post(c, o->keep_post);
  if (!rc && o->max_redirs != -2)
    rc = httpresp_client_set_max_redirects(
        c, o->max_redirs < 0 ? UINT_MAX : (unsigned)o->max_redirs);
  if (!rc && o->max_retries >= 0)
    rc = httpresp_client_set_max_retries(
        c, o->max_retries > UINT_MAX ? UINT_MAX : (unsigned)o->max_retries);
  if (!rc && o->max_wait_ms >= 0)
    rc = httpresp_client_set_max_wait_ms(c, o->max_wait_ms);
  if (!rc && o->max_time_ms > 0)
    rc = httpresp_client_set_deadline_ms(c, o->max_time_ms);
  return rc;
}

/* The disk cache at --cache DIR or the default place.  Returns 0, or 86
 * when an explicit --cache DIR cannot be used; without --cache a failure
 * only means no cache. */
static int open_cache(httpresp_client *client, const tool_opts *o,
                      tool_trace *trace, httpresp_cache **cache, char **owned) {
  const char *dir = o->cache_dir;
  if (!dir)
    dir = *owned = default_cache_dir();
  int rc = HTTPRESP_E_CACHE_IO;
  const char *why = "neither XDG_CACHE_HOME nor HOME is set";
  errno = 0;
  /* The store creates the directory and its parents (mode 0700); when that
   * fails, errno says why better than the error code does. */
  if (dir && (rc = httpresp_cache_new_disk(cache, dir, TOOL_CACHE_BYTES)) != 0)
    why = rc == HTTPRESP_E_CACHE_IO && errno ? strerror(errno)
                                             : httpresp_strerror(rc);
  if (!rc)
    rc = httpresp_client_set_cache(client, *cache);
  if (rc && o->cache_dir) {
    say(o, "%s: cannot use as a cache: %s", dir, why);
    return 86;
  }
  if (trace && rc)
    trace_note(trace, "no cache: %s", why);
  else if (trace)
    trace_note(trace, "cache: %s", dir);
  return 0;
}

static void free_opts(tool_opts *o) {
  free(o->data);
  free(o->urls);
  free(o->headers);
  free(o->outputs);
}

int main(int argc, char **argv) {
  tool_opts o;
  memset(&o, 0, sizeof(o));
  o.follow = 1;
  o.max_redirs = -2;
  o.max_retries = -1;
  o.max_wait_ms = -1;
  int rc = parse_args(&o, argc, argv);
  if (rc) {
    free_opts(&o);
    return rc < 0 ? 0 : rc;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    say(&o, "libcurl failed to initialise");
    free_opts(&o);
    return 1;
  }

  httpresp_client *client = NULL;
  httpresp_cache *cache = NULL;
  char *cache_dir = NULL;
  tool_trace *trace = NULL;
  tool_job *jobs = calloc(o.nurls, sizeof(*jobs));
  int status = 0;
  rc = jobs ? httpresp_client_new(&client) : HTTPRESP_E_NOMEM;
  if (!rc)
    rc = configure_client(client, &o);
  size_t nslots = o.parallel > 1 ? (size_t)o.parallel : 1;
  if (nslots > o.nurls)
    nslots = o.nurls;
  if (!rc && o.verbose) {
    trace = trace_new(stderr, nslots, nslots > 1, &o);
    rc = trace ? trace_install(trace, client, nslots == 1) : HTTPRESP_E_NOMEM;
  }
  if (rc) {
    say(&o, "cannot set up the client: %s", httpresp_strerror(rc));
    status = 1;
  }
  if (!status && !o.no_cache)
    status = open_cache(client, &o, trace, &cache, &cache_dir);
  for (size_t i = 0; !status && i < o.nurls; i++) {
    jobs[i].index = i;
    jobs[i].url = o.urls[i];
    status = build_request(&jobs[i], &o);
  }
  if (!status && nslots > 1)
    status = run_parallel(client, jobs, o.nurls, nslots, &o, trace);
  else if (!status)
    status = run_serial(client, jobs, o.nurls, &o, trace);

  for (size_t i = 0; jobs && i < o.nurls; i++) {
    release(&jobs[i]);
    free(jobs[i].url_owned);
  }
  free(jobs);
  httpresp_client_free(client);
  httpresp_cache_free(cache); /* after the client that used it */
  free(cache_dir);
  trace_free(trace);
  curl_global_cleanup();
  free_opts(&o);
  return status;
}
