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

/* Exit codes besides the per-error ones in the table below: curl's. */
enum {
  EXIT_UNSUPPORTED = 1, /* CURLE_UNSUPPORTED_PROTOCOL */
  EXIT_USAGE = 2,       /* curl's exit code for a bad command line */
  EXIT_BAD_URL = 3,     /* CURLE_URL_MALFORMAT */
  EXIT_HTTP_ERROR = 22, /* -f and a status >= 400: CURLE_HTTP_RETURNED_ERROR */
  EXIT_WRITE = 23,      /* CURLE_WRITE_ERROR */
  EXIT_READ = 26,       /* CURLE_READ_ERROR */
  EXIT_NOMEM = 27       /* CURLE_OUT_OF_MEMORY */
};

static const char usage_text[] =
    "Usage: " TOOL_NAME " [options] URL...\n"
    "\n"
    "A curl-like client over libhttpresp: redirects are followed with the\n"
    "right method and body, 1xx are absorbed, 429/503 Retry-After is waited\n"
    "for and repeated, and with --cache answers are kept on disk and\n"
    "revalidated (304).  A flag curl has means what it means in curl.\n"
    "\n"
    "Request:\n"
    "  -X, --request METHOD      method (default GET; POST with data; HEAD "
    "with -I)\n"
    "  -d, --data DATA           body; @FILE reads a file without CR/LF, @- "
    "stdin;\n"
    "                            several are joined with '&'\n"
    "      --data-binary DATA    body as is; @FILE or @- read bytes unchanged\n"
    "      --data-raw DATA       body as is; '@' is not special\n"
    "      --json DATA           JSON body (as --data-binary), with "
    "Content-Type and\n"
    "                            Accept: application/json (curl's --json)\n"
    "  -H, --header 'Name: value'  add a request header\n"
    "  -u, --user USER:PASSWORD  credentials, sent to the first origin only\n"
    "  -A, --user-agent NAME     User-Agent (default " TOOL_NAME "/VERSION)\n"
    "TLS:\n"
    "  -k, --insecure            do not verify the server's certificate\n"
    "      --cacert FILE         CA certificates to verify the server with\n"
    "      --capath DIR          a directory of CA certificates\n"
    "                            Without them, like curl: $CURL_CA_BUNDLE, "
    "else\n"
    "                            $SSL_CERT_DIR and $SSL_CERT_FILE\n"
    "Output:\n"
    "  -o, --output FILE         write the body to FILE as it arrives (one -o "
    "per\n"
    "                            URL, in order; - is stdout)\n"
    "  -i, --include             print the response head before the body\n"
    "  -I, --head                HEAD request, print the head\n"
    "  -w, --write-out FORMAT    after each URL print FORMAT (@FILE reads it): "
    "text\n"
    "                            with %{http_code} %{url_effective} "
    "%{num_redirects}\n"
    "                            %{time_total} %{size_download} %{exitcode}\n"
    "                            %{errormsg} %{json}, \\n \\t %%, and "
    "%output{FILE}\n"
    "                            (%output{>>FILE} appends) to write the rest "
    "there.\n"
    "                            %{json} also has the hops, attempts, retry "
    "and\n"
    "                            cache, and the body (base64 unless UTF-8)\n"
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
    "      --cache[=DIR]         answer from a disk cache and revalidate (off "
    "by\n"
    "                            default; DIR defaults to "
    "$XDG_CACHE_HOME/httpresp,\n"
    "                            else ~/.cache/httpresp).  $HTTPRESP_CACHE=DIR "
    "turns\n"
    "                            it on too.  A stored answer says so: -v, "
    "%{json},\n"
    "                            and its Age with -i\n"
    "      --no-cache            no cache, whatever came before\n"
    "Transfer:\n"
    "      --connect-timeout SECONDS   limit for connecting\n"
    "  -m, --max-time SECONDS    limit per URL, redirects and waits included\n"
    "  -Z, --parallel N          run up to N URLs at once (-Z alone: 50)\n"
    "  -h, --help                this text\n"
    "  -V, --version             tool, library and libcurl versions\n"
    "\n"
    "Several URLs share one client, one cache and one connection pool.\n";

/* Printed after usage_text (one literal would pass C's 4095-byte limit). */
static const char exit_text[] =
    "\n"
    "Exit codes (with several URLs: the code of the last one that failed).\n"
    "A failure curl also has exits with curl's number (its CURLcode); the\n"
    "tool's own reasons are 110-113:\n"
    "   0  success, whatever the HTTP status (unless -f)\n"
    "   1  the URL or a redirect is not http or https\n"
    "   2  usage error\n"
    "   3  the URL or a redirect's Location is not a valid URL\n"
    "   6  could not resolve the host\n"
    "   7  could not connect\n"
    "   8  malformed or oversized response, or an unexpected 101 upgrade\n"
    "  22  HTTP status >= 400 with -f\n"
    "  23  could not write the output\n"
    "  26  could not read the data file\n"
    "  27  out of memory\n"
    "  28  time limit reached (--connect-timeout, -m)\n"
    "  35  TLS handshake failed\n"
    "  42  transfer aborted\n"
    "  43  internal error\n"
    "  47  too many redirects (--max-redirs)\n"
    "  60  the server's certificate does not verify (see -k, --cacert)\n"
    "  63  response body too large\n"
    "  65  the request body could not be sent again\n"
    " other  any other libcurl failure: its CURLcode, as curl exits\n"
    " 110  redirect loop\n"
    " 111  redirect from https to http refused\n"
    " 112  the server asks to wait longer than --max-wait allows, or (with "
    "-f)\n"
    "      still answers 429/503 after the retries\n"
    " 113  the cache cannot be used\n";

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
    exit(EXIT_NOMEM);
  }
  return q;
}

/* ---- error classes and exit codes --------------------------------------- */

/* The library's errors: a short label and the exit code.  Where curl has
 * the same failure, its CURLcode is the exit code, as curl's. */
static const struct {
  int code;
  int exit;
  const char *label;
} error_table[] = {
    {HTTPRESP_E_NOMEM, EXIT_NOMEM, "out of memory"},
    {HTTPRESP_E_INVALID_ARG, CURLE_BAD_FUNCTION_ARGUMENT, "invalid argument"},
    {HTTPRESP_E_CURL, CURLE_COULDNT_CONNECT, "transfer failed"},
    {HTTPRESP_E_BAD_RESPONSE, CURLE_WEIRD_SERVER_REPLY, "malformed response"},
    {HTTPRESP_E_HEADERS_TOO_LARGE, CURLE_WEIRD_SERVER_REPLY,
     "response headers too large"},
    {HTTPRESP_E_BODY_TOO_LARGE, CURLE_FILESIZE_EXCEEDED,
     "response body too large"},
    {HTTPRESP_E_TOO_MANY_INTERIM, CURLE_WEIRD_SERVER_REPLY,
     "too many interim responses"},
    {HTTPRESP_E_UNEXPECTED_UPGRADE, CURLE_WEIRD_SERVER_REPLY,
     "unexpected protocol switch"},
    {HTTPRESP_E_TOO_MANY_REDIRECTS, CURLE_TOO_MANY_REDIRECTS,
     "too many redirects"},
    {HTTPRESP_E_REDIRECT_LOOP, TOOL_EXIT_LOOP, "redirect loop"},
    {HTTPRESP_E_BAD_LOCATION, EXIT_BAD_URL, "bad Location"},
    {HTTPRESP_E_SCHEME_NOT_ALLOWED, EXIT_UNSUPPORTED,
     "redirect scheme not allowed"},
    {HTTPRESP_E_DOWNGRADE_REFUSED, TOOL_EXIT_DOWNGRADE,
     "https to http redirect refused"},
    {HTTPRESP_E_BODY_NOT_REWINDABLE, CURLE_SEND_FAIL_REWIND,
     "body cannot be sent again"},
    {HTTPRESP_E_ORIGIN_BACKOFF, TOOL_EXIT_WAIT, "server asks to wait too long"},
    {HTTPRESP_E_DEADLINE, CURLE_OPERATION_TIMEDOUT, "time limit reached"},
    {HTTPRESP_E_NOT_CACHED, TOOL_EXIT_CACHE, "not in the cache"},
    {HTTPRESP_E_CACHE_IO, TOOL_EXIT_CACHE, "cache failure"},
    {HTTPRESP_E_ABORTED, CURLE_ABORTED_BY_CALLBACK, "aborted"},
    {HTTPRESP_E_BAD_URL, EXIT_BAD_URL, "bad URL"},
    {HTTPRESP_E_BUSY, CURLE_BAD_FUNCTION_ARGUMENT, "handle busy"},
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
  if (j->write_failed)
    return EXIT_WRITE;
  int st = j->resp ? httpresp_response_status(j->resp) : 0;
  if (j->fail_stopped || (!j->rc && o->fail && st >= 400))
    return gave_up_waiting(j->resp) ? TOOL_EXIT_WAIT : EXIT_HTTP_ERROR;
  if (j->rc == HTTPRESP_E_CURL) {
    /* curl's exit code is the CURLcode: the same failure, the same number. */
    CURLcode cc = httpresp_response_curl_code(j->resp);
    return cc != CURLE_OK ? (int)cc : CURLE_COULDNT_CONNECT;
  }
  if (j->rc) {
    for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
      if (error_table[i].code == j->rc)
        return error_table[i].exit;
    return CURLE_BAD_FUNCTION_ARGUMENT;
  }
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

/* Options, long name and short letter (0 if none); takes_value 2: only as
 * "--name=value" (--cache[=DIR]). */
static const struct {
  const char *name;
  char letter;
  int takes_value;
} options[] = {
    {"request", 'X', 1},    {"data", 'd', 1},       {"data-binary", 0, 1},
    {"data-raw", 0, 1},     {"json", 0, 1},         {"header", 'H', 1},
    {"user", 'u', 1},       {"user-agent", 'A', 1}, {"output", 'o', 1},
    {"include", 'i', 0},    {"head", 'I', 0},       {"write-out", 'w', 1},
    {"verbose", 'v', 0},    {"silent", 's', 0},     {"show-error", 'S', 0},
    {"fail", 'f', 0},       {"no-follow", 0, 0},    {"location", 'L', 0},
    {"max-redirs", 0, 1},   {"keep-post", 0, 0},    {"max-retries", 0, 1},
    {"max-wait", 0, 1},     {"cache", 0, 2},        {"no-cache", 0, 0},
    {"insecure", 'k', 0},   {"cacert", 0, 1},       {"capath", 0, 1},
    {"connect-timeout", 0, 1}, {"max-time", 'm', 1}, {"parallel", 'Z', 1},
    {"help", 'h', 0},       {"version", 'V', 0},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* -w FORMAT, or @FILE / @- to read it. */
static int set_write_out(tool_opts *o, const char *val) {
  free(o->write_out_owned);
  o->write_out_owned = NULL;
  if (val[0] != '@') {
    o->write_out = val;
  } else {
    const char *path = val + 1;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t len = 0;
    char *fmt = f ? slurp(f, &len) : NULL;
    int err = errno;
    if (f && f != stdin)
      fclose(f);
    if (!fmt) {
      say(NULL, "-w %s: cannot read: %s", path, strerror(err));
      return EXIT_READ;
    }
    fmt[len < TOOL_MAX_DATA ? len : TOOL_MAX_DATA - 1] = '\0';
    o->write_out = o->write_out_owned = fmt;
  }
  o->want_body_copy = strstr(o->write_out, "%{json}") != NULL;
  return 0;
}

/* Applies option `name` (long form) with `val` (NULL: none given).
 * Returns 0, an exit code, or -1 for "print help/version and exit 0". */
static int apply(tool_opts *o, const char *name, const char *val) {
  if (!strcmp(name, "request"))
    o->method = val;
  else if (!strcmp(name, "data"))
    return add_data(o, val, 0);
  else if (!strcmp(name, "data-binary"))
    return add_data(o, val, 1);
  else if (!strcmp(name, "data-raw"))
    add_bytes(o, val, strlen(val));
  else if (!strcmp(name, "json")) {
    o->json_data = 1;
    return add_data(o, val, 1);
  } else if (!strcmp(name, "header"))
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
  else if (!strcmp(name, "write-out"))
    return set_write_out(o, val);
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
  else if (!strcmp(name, "cache")) {
    if (val && !*val) {
      say(NULL, "--cache=: the directory is empty");
      return EXIT_USAGE;
    }
    o->cache = 1;
    o->cache_dir = val;
  } else if (!strcmp(name, "no-cache"))
    o->cache = 0, o->cache_dir = NULL;
  else if (!strcmp(name, "insecure"))
    o->insecure = 1;
  else if (!strcmp(name, "cacert"))
    o->cacert = val;
  else if (!strcmp(name, "capath"))
    o->capath = val;
  else if (!strcmp(name, "connect-timeout"))
    return parse_seconds("--connect-timeout", val, &o->connect_timeout_ms);
  else if (!strcmp(name, "max-time"))
    return parse_seconds("--max-time", val, &o->max_time_ms);
  else if (!strcmp(name, "parallel"))
    return parse_long("--parallel", val, 1, &o->parallel);
  else if (!strcmp(name, "help")) {
    fputs(usage_text, stdout);
    fputs(exit_text, stdout);
    return -1;
  } else if (!strcmp(name, "version")) {
    printf(TOOL_NAME " %s (libhttpresp %s, libcurl %s)\n",
           HTTPRESP_VERSION_STRING, httpresp_version(),
           curl_version_info(CURLVERSION_NOW)->version);
    return -1;
  }
  return 0;
}

/* "--name [value]" or "--cache=DIR" at argv[*i]. */
static int parse_long_opt(tool_opts *o, int argc, char **argv, int *i) {
  const char *a = argv[*i] + 2;
  const char *eq = strchr(a, '=');
  size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
  size_t k = 0;
  while (k < NOPTIONS && (strlen(options[k].name) != nlen ||
                          strncmp(options[k].name, a, nlen) != 0))
    k++;
  if (k == NOPTIONS || (eq && options[k].takes_value != 2)) {
    say(NULL, "unknown option '%s' (try --help)", argv[*i]);
    return EXIT_USAGE;
  }
  const char *val = NULL;
  if (options[k].takes_value == 2) {
    val = eq ? eq + 1 : NULL;
  } else if (options[k].takes_value) {
    if (*i + 1 >= argc) {
      say(NULL, "option '%s' needs a value", argv[*i]);
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
      int rc = apply(o, options[k].name, NULL);
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
  if (o->cache < 0) { /* neither --cache nor --no-cache: the environment */
    const char *env = getenv("HTTPRESP_CACHE");
    o->cache = env && *env;
    o->cache_dir = o->cache ? env : NULL;
  }
  /* Like curl: without --cacert/--capath (and unless -k), the CA bundle
   * comes from CURL_CA_BUNDLE, else SSL_CERT_DIR and SSL_CERT_FILE. */
  if (!o->cacert && !o->capath && !o->insecure) {
    const char *bundle = getenv("CURL_CA_BUNDLE");
    if (bundle) {
      o->cacert = bundle;
    } else {
      o->capath = getenv("SSL_CERT_DIR");
      o->cacert = getenv("SSL_CERT_FILE");
    }
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

/* ---- the body as it arrives --------------------------------------------- */

/* Where the job's bytes go: the -o file, stdout, or (--parallel, before
 * its turn) a temporary file, so memory stays bounded either way.  NULL
 * when it cannot be opened (the job then exits 23). */
static FILE *job_output(tool_job *j) {
  if (j->write_failed)
    return NULL;
  if (!j->path && j->to_spool) {
    if (!j->spool && !(j->spool = tmpfile())) {
      j->write_failed = 1;
      j->write_errno = errno;
    }
    return j->spool;
  }
  if (!j->out) {
    errno = 0;
    j->out = j->path ? fopen(j->path, "wb") : stdout;
    if (!j->out) {
      j->write_failed = 1;
      j->write_errno = errno;
    }
  }
  return j->out;
}

static int emit_bytes(tool_job *j, const void *data, size_t len) {
  FILE *f = job_output(j);
  if (!f)
    return -1;
  if (len && fwrite(data, 1, len, f) != len) {
    j->write_failed = 1;
    j->write_errno = errno;
    return -1;
  }
  return 0;
}

/* --parallel: it is `j`'s turn on stdout; what it spooled goes first. */
static void take_turn(tool_job *j) {
  j->to_spool = 0;
  if (!j->spool)
    return;
  char buf[65536];
  size_t got;
  rewind(j->spool);
  while (!j->write_failed && (got = fread(buf, 1, sizeof(buf), j->spool)) > 0)
    emit_bytes(j, buf, got);
  fclose(j->spool);
  j->spool = NULL;
}

/* For %{json}: the first TOOL_KEEP_BODY bytes. */
static void keep_body(tool_job *j, const char *data, size_t len) {
  if (!j->o->want_body_copy)
    return;
  size_t room = TOOL_KEEP_BODY - j->kept_len;
  size_t n = len < room ? len : room;
  if (n < len)
    j->kept_all = 0;
  if (!n)
    return;
  j->kept = xrealloc(j->kept, j->kept_len + n);
  memcpy(j->kept + j->kept_len, data, n);
  j->kept_len += n;
}

/* The head of the final response: the server's own bytes when the answer
 * came from the network (its reason phrase included), else built from the
 * response (a stored answer, with its Age). */
static int write_wire_head(tool_job *j) {
  j->head_written = 1;
  if (emit_bytes(j, j->wire, j->wire_len) != 0)
    return -1;
  return j->wire_done ? 0 : emit_bytes(j, "\r\n", 2);
}

static int write_head(tool_job *j) {
  const httpresp_response *r = j->resp;
  int st = httpresp_response_status(r);
  httpresp_cache_status cs = httpresp_response_cache_status(r);
  if (j->wire && j->wire_status == st && !j->wire_followed &&
      cs != HTTPRESP_CACHE_HIT && cs != HTTPRESP_CACHE_REVALIDATED)
    return write_wire_head(j);
  j->head_written = 1;
  long ver = j->http_version;
  const char *v = ver == CURL_HTTP_VERSION_2_0   ? "HTTP/2"
                  : ver == CURL_HTTP_VERSION_3   ? "HTTP/3"
                  : ver == CURL_HTTP_VERSION_1_0 ? "HTTP/1.0"
                                                 : "HTTP/1.1";
  char line[8192];
  snprintf(line, sizeof(line), "%s %d %s\r\n", v, st,
           httpresp_status_reason(st));
  if (emit_bytes(j, line, strlen(line)) != 0)
    return -1;
  for (size_t i = 0; i < httpresp_response_header_count(r); i++) {
    const char *name, *value;
    if (httpresp_response_header_at(r, i, &name, &value) != 0)
      continue;
    if (emit_bytes(j, name, strlen(name)) || emit_bytes(j, ": ", 2) ||
        emit_bytes(j, value, strlen(value)) || emit_bytes(j, "\r\n", 2))
      return -1;
  }
  return emit_bytes(j, "\r\n", 2);
}

/* The request's sink: the final body, as it arrives.  A body from the
 * network is written at once (after the head, with -i); one the library
 * serves from the cache (bounded by the cache's entry size) is held until
 * the response, whose head it needs, is known. */
static size_t job_sink(void *ud, const char *data, size_t len) {
  tool_job *j = ud;
  const tool_opts *o = j->o;
  if (!j->sink_seen) {
    j->sink_seen = 1;
    /* After a 304 the body is the stored one; after a redirect the library
     * followed, it is that of a target served from the cache. */
    j->from_wire = j->wire_status >= 200 && j->wire_status != 304 &&
                   !j->wire_followed;
  }
  if (!j->from_wire) {
    char *p = realloc(j->stored, j->stored_len + len + 1);
    if (!p)
      return 0;
    memcpy(p + j->stored_len, data, len);
    j->stored = p;
    j->stored_len += len;
    return len;
  }
  if (o->fail && j->wire_status >= 400) {
    j->fail_stopped = 1; /* like curl: the error page is not written */
    return 0;
  }
  if (o->include && !j->head_written && write_wire_head(j) != 0)
    return 0;
  if (emit_bytes(j, data, len) != 0)
    return 0;
  keep_body(j, data, len);
  j->body_bytes += len;
  return len;
}

/* Keeps the last response head the network delivered for the job. */
static void capture_head(tool_job *j, const char *line, size_t len) {
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    const char *sp = memchr(line, ' ', len);
    j->wire_len = 0;
    j->wire_done = 0;
    j->wire_followed = 0;
    j->wire_status = sp ? (int)strtol(sp + 1, NULL, 10) : 0;
  } else if (j->wire_done || !j->wire_status) {
    return; /* trailers, or before any status line */
  }
  if (len <= 2 && (line[0] == '\r' || line[0] == '\n'))
    j->wire_done = 1;
  if (j->wire_len + len > TOOL_KEEP_BODY)
    return; /* the library refuses heads this large anyway */
  if (j->wire_len + len > j->wire_cap) {
    j->wire_cap = (j->wire_len + len) * 2;
    j->wire = xrealloc(j->wire, j->wire_cap);
  }
  memcpy(j->wire + j->wire_len, line, len);
  j->wire_len += len;
}

/* ---- requests and output ------------------------------------------------ */

static const char *job_method(const tool_opts *o) {
  if (o->method)
    return o->method;
  if (o->head)
    return "HEAD";
  return o->data ? "POST" : "GET";
}

/* Adds `name: value` unless a -H of that name is there already. */
static int add_default(httpresp_request *req, const char *name,
                       const char *value) {
  return httpresp_request_header(req, name)
             ? 0
             : httpresp_request_add_header(req, name, value);
}

/* Builds the job's request; on failure the job is done with an error.
 * Returns EXIT_USAGE for a bad -H or -u, 0 otherwise. */
static int build_request(tool_job *j, const tool_opts *o) {
  j->method = job_method(o);
  j->o = o;
  j->kept_all = 1;
  j->path = j->index < o->noutputs && strcmp(o->outputs[j->index], "-") != 0
                ? o->outputs[j->index]
                : NULL;
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
    /* Like curl --proto =http,https: another scheme is unsupported (1),
     * an http(s) URL that does not parse is malformed (3). */
    if (rc != HTTPRESP_E_NOMEM && strncasecmp(j->url, "http://", 7) != 0 &&
        strncasecmp(j->url, "https://", 8) != 0)
      j->exit_code = EXIT_UNSUPPORTED;
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
    rc = add_default(j->req, "Content-Type",
                     o->json_data ? "application/json"
                                  : "application/x-www-form-urlencoded");
    if (!rc && o->json_data)
      rc = add_default(j->req, "Accept", "application/json");
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
  if (!rc)
    rc = httpresp_request_set_sink(j->req, job_sink, j);
  if (rc) {
    say(o, "%s: %s", j->url, httpresp_strerror(rc));
    return rc == HTTPRESP_E_NOMEM ? EXIT_NOMEM : EXIT_USAGE;
  }
  return 0;
}

/* The job's error line on stderr, if it failed. */
static void report_error(const tool_job *j, const tool_opts *o, int code) {
  int st = j->resp ? httpresp_response_status(j->resp) : 0;
  if (!st)
    st = j->wire_status;
  if (j->write_failed) {
    say(o, "%s: cannot write: %s", j->path ? j->path : "stdout",
        strerror(j->write_errno ? j->write_errno : EIO));
  } else if (code == EXIT_HTTP_ERROR || (code == TOOL_EXIT_WAIT && !j->rc) ||
             (code == TOOL_EXIT_WAIT && j->fail_stopped)) {
    if (code == TOOL_EXIT_WAIT)
      say(o, "%s: the server still answers %d %s (retries: %s)", j->url, st,
          httpresp_status_reason(st),
          httpresp_retry_stop_name(httpresp_response_retry_stop(j->resp)));
    else
      say(o, "%s: the server answered %d %s", j->url, st,
          httpresp_status_reason(st));
  } else if (j->rc) {
    const char *label = tool_error_label(j->rc);
    const char *msg =
        j->resp ? httpresp_response_errmsg(j->resp) : httpresp_strerror(j->rc);
    size_t ll = strlen(label);
    if (!strncasecmp(msg, label, ll) && msg[ll] == ':')
      say(o, "%s: %s", j->url, msg); /* the message names it already */
    else
      say(o, "%s: %s: %s", j->url, label, msg);
  }
}

/* Writes what the job has not written yet, closes its output, prints its
 * error and its -w; sets its exit code. */
static void finish_job(tool_job *j, const tool_opts *o) {
  int code = tool_exit_code(j, o);
  if (!code) {
    /* -I, or -i before an empty body; a body served from the cache. */
    if ((o->include || o->head) && !j->head_written)
      write_head(j);
    if (j->stored && !o->head) {
      emit_bytes(j, j->stored, j->stored_len);
      keep_body(j, j->stored, j->stored_len);
      j->body_bytes += j->stored_len;
    }
    job_output(j); /* like curl, -o creates the file for an empty body */
  }
  take_turn(j);
  if (j->out && (j->out == stdout ? fflush(j->out) : fclose(j->out)) != 0 &&
      !j->write_failed) {
    j->write_failed = 1;
    j->write_errno = errno;
  }
  if (j->out != stdout)
    j->out = NULL;
  code = tool_exit_code(j, o);
  report_error(j, o, code);
  if (o->write_out && write_out(o->write_out, j, o) != 0 && !code)
    j->exit_code = EXIT_WRITE;
}

/* ---- the drivers -------------------------------------------------------- */

/* What libcurl's debug callback and the hop callback need: the job on each
 * easy handle. */
typedef struct tool_slot {
  tool_job *job;
  tool_trace *trace;
  size_t index;
  CURL *easy;
} tool_slot;

typedef struct tool_run {
  tool_slot *slots;
  size_t nslots;
  tool_trace *trace;
} tool_run;

static int debug_cb(CURL *easy, curl_infotype type, char *data, size_t size,
                    void *ud) {
  tool_slot *s = ud;
  if (s->job && type == CURLINFO_HEADER_IN)
    capture_head(s->job, data, size);
  if (s->trace)
    trace_debug(s->trace, s->index, easy, type, data, size);
  return 0;
}

/* The library follows a redirect: the head just received is not the
 * answer.  The hop says where it came from; with several transfers at
 * once, that URL tells which job it is. */
static int hop_cb(void *ud, const httpresp_hop_view *hop,
                  httpresp_request *next) {
  (void)next;
  tool_run *run = ud;
  const char *from = httpresp_hop_from(hop);
  for (size_t i = 0; i < run->nslots; i++) {
    tool_slot *s = &run->slots[i];
    char *eff = NULL;
    if (!s->job || s->job->wire_followed ||
        s->job->wire_status != httpresp_hop_status(hop))
      continue;
    if (run->nslots > 1 &&
        (curl_easy_getinfo(s->easy, CURLINFO_EFFECTIVE_URL, &eff) !=
             CURLE_OK ||
         !eff || !from || strcmp(eff, from) != 0))
      continue;
    s->job->wire_followed = 1;
    if (run->trace)
      trace_follow(run->trace, i, hop);
    break;
  }
  return 0;
}

static CURL *new_easy(const tool_opts *o, tool_slot *slot) {
  CURL *e = curl_easy_init();
  if (!e)
    return NULL;
  slot->easy = e;
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
  if (o->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (o->cacert)
    curl_easy_setopt(e, CURLOPT_CAINFO, o->cacert);
  if (o->capath)
    curl_easy_setopt(e, CURLOPT_CAPATH, o->capath);
  /* The heads as they arrive: -i prints the server's own, and the trace
   * reads the exchange from here. */
  curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, debug_cb);
  curl_easy_setopt(e, CURLOPT_DEBUGDATA, slot);
  curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
  return e;
}

static void release(tool_job *j) {
  httpresp_response_free(j->resp);
  j->resp = NULL;
  httpresp_request_free(j->req);
  j->req = NULL;
  free(j->kept);
  j->kept = NULL;
  free(j->stored);
  j->stored = NULL;
  free(j->wire);
  j->wire = NULL;
  if (j->spool)
    fclose(j->spool);
  j->spool = NULL;
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
                      const tool_opts *o, tool_run *run) {
  tool_slot *slot = &run->slots[0];
  CURL *easy = new_easy(o, slot);
  if (!easy) {
    say(o, "cannot create a libcurl handle");
    return EXIT_NOMEM;
  }
  int status = 0;
  for (size_t i = 0; i < n; i++) {
    tool_job *j = &jobs[i];
    slot->job = j;
    if (run->trace)
      trace_begin(run->trace, 0, j);
    j->start_ms = tool_mono_ms();
    if (j->req) {
      j->rc = httpresp_perform(client, easy, j->req, &j->resp);
      curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &j->http_version);
    }
    j->end_ms = tool_mono_ms();
    if (run->trace)
      trace_end(run->trace, 0, j);
    slot->job = NULL;
    settle(j, o, &status);
  }
  curl_easy_cleanup(easy);
  return status;
}

/* The state of a --parallel run. */
typedef struct par {
  httpresp_multi *m;
  tool_run *run;
  tool_job *jobs;
  size_t n, next;
} par;

/* Puts the next jobs on the free slots. */
static void start_jobs(par *p) {
  for (size_t s = 0; s < p->run->nslots && p->next < p->n; s++) {
    tool_slot *slot = &p->run->slots[s];
    if (slot->job)
      continue;
    tool_job *j = &p->jobs[p->next++];
    j->slot = s;
    j->start_ms = tool_mono_ms();
    if (p->run->trace)
      trace_begin(p->run->trace, s, j);
    if (j->req &&
        (j->rc = httpresp_multi_add(p->m, slot->easy, j->req, j)) == 0) {
      slot->job = j;
      continue;
    }
    j->end_ms = tool_mono_ms(); /* never started: a bad URL */
    j->done = 1;
    if (p->run->trace)
      trace_end(p->run->trace, s, j);
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
    p->run->slots[j->slot].job = NULL;
    got++;
    if (p->run->trace)
      trace_end(p->run->trace, j->slot, j);
  }
  return got;
}

/* Up to `nslots` URLs at once over the multi driver; one CURLM, so one
 * connection pool.  Bodies for stdout come out in command-line order: a
 * job writes straight through when it is the first unfinished one, and to
 * a temporary file until then. */
static int run_parallel(httpresp_client *client, tool_job *jobs, size_t n,
                        const tool_opts *o, tool_run *run) {
  par p = {NULL, run, jobs, n, 0};
  CURLM *multi = curl_multi_init();
  int status = 0;
  int rc = multi ? httpresp_multi_new(&p.m, client, multi) : HTTPRESP_E_NOMEM;
  for (size_t s = 0; !rc && s < run->nslots; s++)
    if (!new_easy(o, &run->slots[s]))
      rc = HTTPRESP_E_NOMEM;
  for (size_t i = 1; i < n; i++)
    jobs[i].to_spool = 1;
  size_t written = 0;
  while (!rc && written < n) {
    start_jobs(&p);
    int running = 0;
    rc = httpresp_multi_perform(p.m, &running);
    size_t got = rc ? 0 : collect_done(&p);
    while (written < n && jobs[written].done) {
      settle(&jobs[written++], o, &status);
      if (written < n)
        take_turn(&jobs[written]);
    }
    if (!rc && !got && httpresp_multi_pending(p.m) > 0)
      rc = httpresp_multi_poll(p.m, 1000);
  }
  if (rc) {
    say(o, "the multi driver failed: %s", httpresp_strerror(rc));
    status = CURLE_BAD_FUNCTION_ARGUMENT;
  }
  httpresp_multi_free(p.m);
  for (size_t s = 0; s < run->nslots; s++)
    if (run->slots[s].easy)
      curl_easy_cleanup(run->slots[s].easy);
  if (multi)
    curl_multi_cleanup(multi);
  return status;
}

/* The library's policy as the options say. */
static int configure_client(httpresp_client *c, const tool_opts *o,
                            tool_run *run) {
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
  if (!rc)
    rc = httpresp_client_set_hop_callback(c, hop_cb, run);
  return rc;
}

/* The disk cache (--cache[=DIR] or $HTTPRESP_CACHE).  Returns 0, or
 * TOOL_EXIT_CACHE when it cannot be used. */
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
  if (rc) {
    say(o, "%s: cannot use as a cache: %s", dir ? dir : "--cache", why);
    return TOOL_EXIT_CACHE;
  }
  if (trace)
    trace_note(trace, "cache: %s", dir);
  return 0;
}

static void free_opts(tool_opts *o) {
  free(o->data);
  free(o->urls);
  free(o->headers);
  free(o->outputs);
  free(o->write_out_owned);
}

int main(int argc, char **argv) {
  tool_opts o;
  memset(&o, 0, sizeof(o));
  o.follow = 1;
  o.max_redirs = -2;
  o.max_retries = -1;
  o.max_wait_ms = -1;
  o.cache = -1;
  int rc = parse_args(&o, argc, argv);
  if (rc) {
    free_opts(&o);
    return rc < 0 ? 0 : rc;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    say(&o, "libcurl failed to initialise");
    free_opts(&o);
    return CURLE_FAILED_INIT;
  }

  httpresp_client *client = NULL;
  httpresp_cache *cache = NULL;
  char *cache_dir = NULL;
  size_t nslots = o.parallel > 1 ? (size_t)o.parallel : 1;
  if (nslots > o.nurls)
    nslots = o.nurls;
  tool_run run = {calloc(nslots, sizeof(tool_slot)), nslots, NULL};
  tool_job *jobs = calloc(o.nurls, sizeof(*jobs));
  int status = 0;
  rc = jobs && run.slots ? httpresp_client_new(&client) : HTTPRESP_E_NOMEM;
  if (!rc)
    rc = configure_client(client, &o, &run);
  if (!rc && o.verbose) {
    run.trace = trace_new(stderr, nslots, nslots > 1, &o);
    rc = run.trace ? trace_install(run.trace, client, nslots == 1)
                   : HTTPRESP_E_NOMEM;
  }
  for (size_t s = 0; !rc && s < nslots; s++) {
    run.slots[s].trace = run.trace;
    run.slots[s].index = s;
  }
  if (rc) {
    say(&o, "cannot set up the client: %s", httpresp_strerror(rc));
    status = rc == HTTPRESP_E_NOMEM ? EXIT_NOMEM : CURLE_FAILED_INIT;
  }
  if (!status && o.cache)
    status = open_cache(client, &o, run.trace, &cache, &cache_dir);
  for (size_t i = 0; !status && i < o.nurls; i++) {
    jobs[i].index = i;
    jobs[i].url = o.urls[i];
    status = build_request(&jobs[i], &o);
  }
  if (!status && nslots > 1)
    status = run_parallel(client, jobs, o.nurls, &o, &run);
  else if (!status)
    status = run_serial(client, jobs, o.nurls, &o, &run);

  for (size_t i = 0; jobs && i < o.nurls; i++) {
    release(&jobs[i]);
    free(jobs[i].url_owned);
  }
  free(jobs);
  free(run.slots);
  httpresp_client_free(client);
  httpresp_cache_free(cache); /* after the client that used it */
  free(cache_dir);
  trace_free(run.trace);
  curl_global_cleanup();
  free_opts(&o);
  return status;
}
