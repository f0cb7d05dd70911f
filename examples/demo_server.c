/* SPDX-License-Identifier: MIT */
/* httpresp-demo-server: a small HTTP/1.1 server on loopback whose routes
 * each show one thing libhttpresp does (redirects with method changes,
 * Retry-After, interim 1xx, cache revalidation, loops, origin changes).
 *
 *   httpresp-demo-server [--port N] [--port2 N] [--idle SECONDS] [-q]
 *
 * The first line on stdout is "listening on http://127.0.0.1:PORT" (flushed
 * at once, so a script can read the port); the second names the second
 * origin.  One thread, one poll() loop, keep-alive connections.  It stops on
 * SIGTERM or SIGINT, or after --idle seconds without a request (default
 * 600), so a forgotten server never lingers.  GET / lists the routes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define MAX_HEAD ((size_t)64 * 1024)
#define MAX_BODY ((size_t)16 * 1024 * 1024)
#define MAX_HEADERS 100
#define MAX_STATE 10000

static const char routes_text[] =
    "httpresp demo server: each route shows one behaviour.\n"
    "\n"
    "  /echo               the request as received (method, headers, body)\n"
    "  /old                301 -> /moved (302) -> /new: a redirect chain\n"
    "  /form               POST -> 303 See Other -> GET /result\n"
    "  /keep               307 -> /echo: the POST and its body are kept\n"
    "  /perm               308 -> /echo: likewise, permanently\n"
    "  /limited?id=X       429 Retry-After: 1 the first time for X, then 200\n"
    "                      (&after=S: Retry-After: S, 1 to 3600)\n"
    "  /busy?id=X          503 Retry-After: <HTTP-date> the first time, then "
    "200\n"
    "  /slow-down          429 Retry-After: 3600, always\n"
    "  /interim            100, 102 and 103 (Link) before the 200\n"
    "  /cached?id=X        ETag and max-age=2; answers If-None-Match with 304\n"
    "  /loop/a, /loop/b    302 to each other: a redirect loop\n"
    "  /many/N             N redirects in a row, then 200\n"
    "  /cross              302 to /echo on the second origin (other port)\n"
    "  /bad-location       302 with a Location that is not a URI\n"
    "  /ftp                302 to an ftp:// URL\n"
    "  /status/NNN         answers NNN (?retry-after=S adds Retry-After)\n"
    "  /endless            200 with a body that never ends\n"
    "  /download?id=X&cut=N  256 KiB, strong ETag: the first time for X the\n"
    "                      connection drops after N bytes (default half);\n"
    "                      then Range + If-Range get a 206 of the rest\n"
    "  /redirect?status=NNN&to=URL   any redirect\n"
    "  /stats[?path=P]     how many requests each path received\n"
    "  /reset              forgets per-id state and statistics\n";

static volatile sig_atomic_t stop_flag;
static int quiet;
static int ports[2];

typedef struct conn {
  int fd;
  int port_idx;
  char *in;
  size_t in_len, in_cap;
  char *out;
  size_t out_len, out_off, out_cap;
  int close_after; /* close once `out` is written */
  int continue_sent;
  int endless; /* /endless: refill `out` whenever it is written */
} conn;

typedef struct request {
  char method[32];
  char *target; /* points into the connection's input */
  char path[1024];
  char query[1024];
  const char *hname[MAX_HEADERS];
  const char *hvalue[MAX_HEADERS];
  size_t nheaders;
  char *head; /* copy of the request head, for /echo */
  size_t head_len;
  char *fields; /* tokenised copy: target and header names point here */
  char *body;
  size_t body_len;
  int http10;
} request;

/* Per-id state ("limited|abc" -> times seen) and per-path request counts. */
typedef struct counter {
  char *key;
  unsigned long n;
} counter;

static counter *state;
static size_t nstate, state_cap;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static void die(const char *what) {
  fprintf(stderr, "httpresp-demo-server: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    fputs("httpresp-demo-server: out of memory\n", stderr);
    exit(1);
  }
  return q;
}

static void state_reset(void) {
  for (size_t i = 0; i < nstate; i++)
    free(state[i].key);
  nstate = 0;
}

/* Increments the counter named "kind|id" and returns its new value. */
static unsigned long bump(const char *kind, const char *id) {
  char key[2100];
  snprintf(key, sizeof(key), "%s|%s", kind, id);
  for (size_t i = 0; i < nstate; i++)
    if (strcmp(state[i].key, key) == 0)
      return ++state[i].n;
  if (nstate >= MAX_STATE)
    state_reset(); /* a demo, not a database: forget rather than grow */
  if (nstate == state_cap) {
    state_cap = state_cap ? state_cap * 2 : 64;
    state = xrealloc(state, state_cap * sizeof(*state));
  }
  state[nstate].key = xrealloc(NULL, strlen(key) + 1);
  memcpy(state[nstate].key, key, strlen(key) + 1);
  state[nstate].n = 1;
  return state[nstate++].n;
}

static unsigned long peek(const char *kind, const char *id) {
  char key[2100];
  snprintf(key, sizeof(key), "%s|%s", kind, id);
  for (size_t i = 0; i < nstate; i++)
    if (strcmp(state[i].key, key) == 0)
      return state[i].n;
  return 0;
}

/* ---- output ------------------------------------------------------------- */

static void out_append(conn *c, const void *data, size_t len) {
  if (!len)
    return;
  if (c->out_len + len > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + len)
      cap *= 2;
    c->out = xrealloc(c->out, cap);
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, data, len);
  c->out_len += len;
}

static void out_printf(conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void out_printf(conn *c, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n > 0)
    out_append(c, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void http_date(time_t t, char *buf, size_t len) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static const char *reason(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 102:
    return "Processing";
  case 103:
    return "Early Hints";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 204:
    return "No Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 303:
    return "See Other";
  case 304:
    return "Not Modified";
  case 307:
    return "Temporary Redirect";
  case 308:
    return "Permanent Redirect";
  case 400:
    return "Bad Request";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 413:
    return "Content Too Large";
  case 418:
    return "I'm a teapot";
  case 206:
    return "Partial Content";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  default:
    return "Status";
  }
}

/* Writes a whole response.  `extra` holds header lines, each ending in
 * CRLF.  1xx, 204 and 304 carry no body and no Content-Length. */
static void respond(conn *c, const request *q, int status, const char *extra,
                    const char *body, size_t body_len) {
  char date[64];
  http_date(time(NULL), date, sizeof(date));
  int bodiless = status < 200 || status == 204 || status == 304;
  out_printf(c, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: httpresp-demo\r\n",
             status, reason(status), date);
  if (extra)
    out_append(c, extra, strlen(extra));
  if (!bodiless) {
    if (!extra || !strstr(extra, "Content-Type:"))
      out_printf(c, "Content-Type: text/plain; charset=utf-8\r\n");
    out_printf(c, "Content-Length: %zu\r\n", body_len);
  }
  if (c->close_after)
    out_printf(c, "Connection: close\r\n");
  out_append(c, "\r\n", 2);
  if (!bodiless && body_len && strcmp(q->method, "HEAD") != 0)
    out_append(c, body, body_len);
}

static void respond_text(conn *c, const request *q, int status,
                         const char *extra, const char *text) {
  respond(c, q, status, extra, text, strlen(text));
}

static void redirect(conn *c, const request *q, int status, const char *loc) {
  char extra[2200], body[2200];
  snprintf(extra, sizeof(extra), "Location: %s\r\n", loc);
  snprintf(body, sizeof(body), "%d: see %s\n", status, loc);
  respond_text(c, q, status, extra, body);
}

/* ---- request helpers --------------------------------------------------- */

static const char *req_header(const request *q, const char *name) {
  for (size_t i = 0; i < q->nheaders; i++)
    if (strcasecmp(q->hname[i], name) == 0)
      return q->hvalue[i];
  return NULL;
}

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* Copies query parameter `name`, percent-decoded, into `out`; 0 if absent. */
static int query_param(const request *q, const char *name, char *out,
                       size_t outlen) {
  size_t nlen = strlen(name);
  const char *p = q->query;
  while (*p) {
    const char *end = strchr(p, '&');
    if (!end)
      end = p + strlen(p);
    if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 &&
        p[nlen] == '=') {
      size_t o = 0;
      for (const char *s = p + nlen + 1; s < end && o + 1 < outlen; s++) {
        if (*s == '%' && end - s > 2 && hexval(s[1]) >= 0 &&
            hexval(s[2]) >= 0) {
          out[o++] = (char)(hexval(s[1]) * 16 + hexval(s[2]));
          s += 2;
        } else {
          out[o++] = (char)(*s == '+' ? ' ' : *s);
        }
      }
      out[o] = '\0';
      return 1;
    }
    p = *end ? end + 1 : end;
  }
  return 0;
}

/* Whether `s` may go into a header field value: no control bytes, so no
 * CR or LF that would end the field and start another. */
static int field_safe(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return 0;
  return 1;
}

static void id_param(const request *q, char *out, size_t outlen) {
  if (!query_param(q, "id", out, outlen) || !*out)
    snprintf(out, outlen, "default");
}

/* ---- routes ------------------------------------------------------------- */

static void route_echo(conn *c, const request *q) {
  size_t len = q->head_len + q->body_len;
  char *buf = xrealloc(NULL, len + 1);
  memcpy(buf, q->head, q->head_len);
  if (q->body_len)
    memcpy(buf + q->head_len, q->body, q->body_len);
  respond(c, q, 200, "Cache-Control: no-store\r\n", buf, len);
  free(buf);
}

static void route_retry(conn *c, const request *q, int status, int date_form) {
  char id[512], extra[256];
  id_param(q, id, sizeof(id));
  if (bump(date_form ? "busy" : "limited", id) > 1) {
    respond_text(c, q, 200, "Cache-Control: no-store\r\n",
                 "done: the server is ready now\n");
    return;
  }
  if (date_form) {
    char date[64];
    http_date(time(NULL) + 1, date, sizeof(date));
    snprintf(extra, sizeof(extra), "Retry-After: %s\r\n", date);
  } else {
    /* ?after=S asks for S seconds (1 to 3600) instead of 1. */
    char after[16];
    long secs = 1;
    if (query_param(q, "after", after, sizeof(after))) {
      char *end;
      secs = strtol(after, &end, 10);
      if (*end || secs < 1 || secs > 3600)
        secs = 1;
    }
    snprintf(extra, sizeof(extra), "Retry-After: %ld\r\n", secs);
  }
  respond_text(c, q, status, extra, "slow down, come back later\n");
}

static void route_interim(conn *c, const request *q) {
  out_printf(c, "HTTP/1.1 100 Continue\r\n\r\n");
  out_printf(c, "HTTP/1.1 102 Processing\r\n\r\n");
  out_printf(c, "HTTP/1.1 103 Early Hints\r\n"
                "Link: </style.css>; rel=preload; as=style\r\n"
                "Link: </app.js>; rel=preload; as=script\r\n\r\n");
  respond_text(c, q, 200,
               "Link: </style.css>; rel=preload; as=style\r\n"
               "Cache-Control: no-store\r\n",
               "final answer after three interim responses\n");
}

static int etag_matches(const char *inm, const char *etag) {
  if (!inm)
    return 0;
  if (strstr(inm, "*"))
    return 1;
  /* Weak comparison: W/"x" matches "x" (RFC 9110 §8.8.3.2). */
  return strstr(inm, etag) != NULL;
}

static void route_cached(conn *c, const request *q) {
  char id[512];
  id_param(q, id, sizeof(id));
  const char *hdrs = "ETag: \"demo-v1\"\r\n"
                     "Cache-Control: max-age=2\r\n"
                     "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n";
  if (etag_matches(req_header(q, "If-None-Match"), "\"demo-v1\"")) {
    bump("cached-304", id);
    respond(c, q, 304, hdrs, NULL, 0);
    return;
  }
  bump("cached-200", id);
  respond_text(c, q, 200, hdrs,
               "a cacheable resource: fresh for 2 s, then revalidated\n");
}

/* A download that is cut the first time (the connection drops after `cut`
 * bytes of the announced length), then resumable: a Range "bytes=N-"
 * whose If-Range names the current ETag gets a 206 of the rest. */
#define DOWNLOAD_LEN ((size_t)256 * 1024)
static void route_download(conn *c, const request *q) {
  static char body[DOWNLOAD_LEN];
  if (!body[0])
    for (size_t i = 0; i < DOWNLOAD_LEN; i += 32) {
      char line[40]; /* 32 bytes and the NUL */
      snprintf(line, sizeof(line), "download line %06zu of 8192 ..\n",
               i / 32 + 1);
      memcpy(body + i, line, 32);
    }
  char id[512], cutp[32];
  id_param(q, id, sizeof(id));
  size_t cut = DOWNLOAD_LEN / 2;
  if (query_param(q, "cut", cutp, sizeof(cutp)))
    cut = (size_t)strtoul(cutp, NULL, 10) % DOWNLOAD_LEN;
  const char *tag = "\"download-v1\"";
  const char *hdrs = "ETag: \"download-v1\"\r\n"
                     "Cache-Control: max-age=600\r\n"
                     "Content-Type: application/octet-stream\r\n";
  const char *range = req_header(q, "Range");
  const char *if_range = req_header(q, "If-Range");
  unsigned long seen = bump("download", id);
  if (range && strncmp(range, "bytes=", 6) == 0 &&
      (!if_range || strcmp(if_range, tag) == 0)) {
    char *end;
    unsigned long from = strtoul(range + 6, &end, 10);
    if (end != range + 6 && strcmp(end, "-") == 0 && from < DOWNLOAD_LEN) {
      char extra[512];
      snprintf(extra, sizeof(extra), "%sContent-Range: bytes %lu-%zu/%zu\r\n",
               hdrs, from, DOWNLOAD_LEN - 1, DOWNLOAD_LEN);
      respond(c, q, 206, extra, body + from, DOWNLOAD_LEN - from);
      return;
    }
  }
  if (seen > 1 || strcmp(q->method, "HEAD") == 0) {
    respond(c, q, 200, hdrs, body, DOWNLOAD_LEN);
    return;
  }
  /* The first time: the whole length announced, the connection dropped
   * after `cut` bytes. */
  char date[64];
  http_date(time(NULL), date, sizeof(date));
  c->close_after = 1;
  out_printf(c,
             "HTTP/1.1 200 OK\r\nDate: %s\r\nServer: httpresp-demo\r\n%s"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
             date, hdrs, DOWNLOAD_LEN);
  out_append(c, body, cut);
}

static void route_status(conn *c, const request *q, const char *code) {
  char *end;
  long status = strtol(code, &end, 10);
  if (*end || status < 100 || status > 999) {
    respond_text(c, q, 400, NULL, "status must be 100..999\n");
    return;
  }
  char extra[256] = "", ra[64], body[64];
  if (query_param(q, "retry-after", ra, sizeof(ra))) {
    if (!field_safe(ra)) {
      respond_text(c, q, 400, NULL,
                   "retry-after must not hold control characters\n");
      return;
    }
    snprintf(extra, sizeof(extra), "Retry-After: %s\r\n", ra);
  }
  snprintf(body, sizeof(body), "status %ld\n", status);
  if (status < 200) {
    /* A lone 1xx would leave the client waiting: finish with a 200. */
    out_printf(c, "HTTP/1.1 %ld %s\r\n\r\n", status, reason((int)status));
    respond_text(c, q, 200, NULL, body);
    return;
  }
  respond_text(c, q, (int)status, extra, body);
}

static void route_stats(conn *c, const request *q) {
  char path[1024];
  char *buf = NULL;
  size_t len = 0;
  if (query_param(q, "path", path, sizeof(path))) {
    char num[32];
    snprintf(num, sizeof(num), "%lu\n", peek("path", path));
    respond_text(c, q, 200, "Cache-Control: no-store\r\n", num);
    return;
  }
  for (size_t i = 0; i < nstate; i++) {
    if (strncmp(state[i].key, "path|", 5) != 0)
      continue;
    char line[1200];
    int n =
        snprintf(line, sizeof(line), "%lu %s\n", state[i].n, state[i].key + 5);
    if (n < 0)
      continue;
    buf = xrealloc(buf, len + (size_t)n + 1);
    memcpy(buf + len, line, (size_t)n);
    len += (size_t)n;
  }
  respond(c, q, 200, "Cache-Control: no-store\r\n", buf ? buf : "", len);
  free(buf);
}

static void route_index(conn *c, const request *q) {
  respond_text(c, q, 200, NULL, routes_text);
}

static void route_old(conn *c, const request *q) {
  redirect(c, q, 301, "/moved");
}
static void route_moved(conn *c, const request *q) {
  redirect(c, q, 302, "/new");
}
static void route_keep(conn *c, const request *q) {
  redirect(c, q, 307, "/echo");
}
static void route_perm(conn *c, const request *q) {
  redirect(c, q, 308, "/echo");
}
static void route_loop_a(conn *c, const request *q) {
  redirect(c, q, 302, "/loop/b");
}
static void route_loop_b(conn *c, const request *q) {
  redirect(c, q, 302, "/loop/a");
}
static void route_limited(conn *c, const request *q) {
  route_retry(c, q, 429, 0);
}
static void route_busy(conn *c, const request *q) { route_retry(c, q, 503, 1); }

static void route_new(conn *c, const request *q) {
  char buf[128];
  snprintf(buf, sizeof(buf), "the new place (reached with %s)\n", q->method);
  respond_text(c, q, 200, NULL, buf);
}

static void route_form(conn *c, const request *q) {
  if (strcmp(q->method, "POST") == 0)
    redirect(c, q, 303, "/result");
  else
    respond_text(c, q, 200, NULL, "POST name=value here\n");
}

static void route_result(conn *c, const request *q) {
  char buf[128];
  snprintf(buf, sizeof(buf), "result page (reached with %s, %zu body bytes)\n",
           q->method, q->body_len);
  respond_text(c, q, 200, NULL, buf);
}

static void route_slow_down(conn *c, const request *q) {
  respond_text(c, q, 429, "Retry-After: 3600\r\n", "come back in an hour\n");
}

static void route_many(conn *c, const request *q) {
  char *end;
  long n = strtol(q->path + 6, &end, 10);
  char buf[64];
  if (*end || end == q->path + 6 || n < 0 || n > 1000) {
    respond_text(c, q, 404, NULL, "/many/N takes N in 0..1000\n");
  } else if (n == 0) {
    respond_text(c, q, 200, NULL, "end of the chain\n");
  } else {
    snprintf(buf, sizeof(buf), "/many/%ld", n - 1);
    redirect(c, q, 302, buf);
  }
}

static void route_cross(conn *c, const request *q) {
  char buf[64];
  snprintf(buf, sizeof(buf), "http://127.0.0.1:%d/echo", ports[1]);
  redirect(c, q, 302, buf);
}

static void route_bad_location(conn *c, const request *q) {
  redirect(c, q, 302, "http://[::1/broken");
}

static void route_ftp(conn *c, const request *q) {
  redirect(c, q, 302, "ftp://127.0.0.1/file.txt");
}

static void route_status_nnn(conn *c, const request *q) {
  route_status(c, q, q->path + 8);
}

static void route_redirect(conn *c, const request *q) {
  char status[16], to[1024];
  if (!query_param(q, "to", to, sizeof(to)) || !*to)
    snprintf(to, sizeof(to), "/echo");
  if (!field_safe(to)) { /* it goes into the Location field */
    respond_text(c, q, 400, NULL, "to must not hold control characters\n");
    return;
  }
  long st = query_param(q, "status", status, sizeof(status))
                ? strtol(status, NULL, 10)
                : 302;
  redirect(c, q, st >= 300 && st <= 399 ? (int)st : 302, to);
}

/* A body without end (no Content-Length, never closed by the server):
 * what a client that holds bodies in memory cannot survive. */
static void route_endless(conn *c, const request *q) {
  c->close_after = 1;
  out_printf(c, "HTTP/1.1 200 OK\r\nServer: httpresp-demo\r\n"
                "Content-Type: application/octet-stream\r\n"
                "Connection: close\r\n\r\n");
  c->endless = strcmp(q->method, "HEAD") != 0;
}

static void route_reset(conn *c, const request *q) {
  state_reset();
  respond_text(c, q, 200, "Cache-Control: no-store\r\n", "reset\n");
}

typedef void (*route_fn)(conn *c, const request *q);

/* Exact paths, then prefixes (those ending in '/'). */
static const struct {
  const char *path;
  route_fn fn;
} routes[] = {
    {"/", route_index},          {"/echo", route_echo},
    {"/old", route_old},         {"/moved", route_moved},
    {"/new", route_new},         {"/form", route_form},
    {"/result", route_result},   {"/keep", route_keep},
    {"/perm", route_perm},       {"/limited", route_limited},
    {"/busy", route_busy},       {"/slow-down", route_slow_down},
    {"/interim", route_interim}, {"/cached", route_cached},
    {"/loop/a", route_loop_a},   {"/loop/b", route_loop_b},
    {"/cross", route_cross},     {"/bad-location", route_bad_location},
    {"/ftp", route_ftp},         {"/redirect", route_redirect},
    {"/stats", route_stats},     {"/reset", route_reset},
    {"/many/", route_many},      {"/status/", route_status_nnn},
    {"/endless", route_endless}, {"/download", route_download},
};

static void handle(conn *c, const request *q) {
  const char *p = q->path;
  if (strcmp(p, "/stats") != 0)
    bump("path", p);
  size_t n = sizeof(routes) / sizeof(routes[0]);
  for (size_t i = 0; i < n; i++) {
    const char *r = routes[i].path;
    size_t len = strlen(r);
    int prefix = len > 1 && r[len - 1] == '/';
    if (prefix ? strncmp(p, r, len) == 0 : strcmp(p, r) == 0) {
      routes[i].fn(c, q);
      return;
    }
  }
  respond_text(c, q, 404, NULL, "no such route; GET / lists them\n");
}

/* ---- parsing ------------------------------------------------------------ */

static const char *find(const char *h, size_t hlen, const char *n) {
  size_t nlen = strlen(n);
  for (size_t i = 0; i + nlen <= hlen; i++)
    if (memcmp(h + i, n, nlen) == 0)
      return h + i;
  return NULL;
}

/* Decodes a chunked body starting at `p`.  Returns the bytes consumed, 0 if
 * more input is needed, (size_t)-1 if malformed or too large. */
static size_t dechunk(const char *p, size_t len, char **body, size_t *blen) {
  size_t off = 0;
  *body = NULL;
  *blen = 0;
  for (;;) {
    const char *eol = find(p + off, len - off, "\r\n");
    if (!eol)
      goto more;
    size_t size = 0;
    const char *s = p + off;
    if (hexval((unsigned char)*s) < 0)
      goto bad;
    while (s < eol && hexval((unsigned char)*s) >= 0) {
      size = size * 16 + (size_t)hexval((unsigned char)*s++);
      if (size > MAX_BODY)
        goto bad;
    }
    off = (size_t)(eol - p) + 2;
    if (size == 0) {
      /* Trailer fields, then the empty line. */
      for (;;) {
        eol = find(p + off, len - off, "\r\n");
        if (!eol)
          goto more;
        size_t l = (size_t)(eol - (p + off));
        off += l + 2;
        if (l == 0)
          return off;
      }
    }
    if (len - off < size + 2)
      goto more;
    if (*blen + size > MAX_BODY)
      goto bad;
    *body = xrealloc(*body, *blen + size + 1);
    memcpy(*body + *blen, p + off, size);
    *blen += size;
    off += size + 2;
  }
more:
  free(*body);
  *body = NULL;
  *blen = 0;
  return 0;
bad:
  free(*body);
  *body = NULL;
  *blen = 0;
  return (size_t)-1;
}

static void log_request(const conn *c, const request *q) {
  if (quiet)
    return;
  const char *range = req_header(q, "Range");
  const char *if_range = req_header(q, "If-Range");
  fprintf(stderr, "demo[%d]: %s %s%s%s%s%s%s%s\n", ports[c->port_idx],
          q->method, q->path, *q->query ? "?" : "", q->query,
          range ? "  Range: " : "", range ? range : "",
          if_range ? "  If-Range: " : "", if_range ? if_range : "");
}

static void request_free(request *q) {
  free(q->head);
  free(q->fields);
  free(q->body);
}

/* Splits the request line ("GET /p?q HTTP/1.1") into `q`; 0 if sane. */
static int parse_request_line(request *q, char *line) {
  char *sp1 = line ? strchr(line, ' ') : NULL;
  char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
  if (!sp1 || !sp2 || (size_t)(sp1 - line) >= sizeof(q->method))
    return -1;
  memcpy(q->method, line, (size_t)(sp1 - line));
  q->target = sp1 + 1;
  *sp2 = '\0';
  q->http10 = strcmp(sp2 + 1, "HTTP/1.0") == 0;
  char *qm = strchr(q->target, '?');
  size_t plen = qm ? (size_t)(qm - q->target) : strlen(q->target);
  if (plen >= sizeof(q->path) || (qm && strlen(qm + 1) >= sizeof(q->query)))
    return -1;
  memcpy(q->path, q->target, plen);
  if (qm)
    snprintf(q->query, sizeof(q->query), "%s", qm + 1);
  return 0;
}

/* Parses the request head at the start of the input.  Returns its length,
 * 0 if it is not complete yet, or -1 with `*status` the error to answer. */
static long parse_head(conn *c, request *q, int *status) {
  memset(q, 0, sizeof(*q));
  const char *end = find(c->in, c->in_len, "\r\n\r\n");
  if (!end || (size_t)(end - c->in) > MAX_HEAD) {
    *status = 431;
    return c->in_len > MAX_HEAD ? -1 : 0;
  }
  size_t len = (size_t)(end - c->in) + 4;
  q->head = xrealloc(NULL, len);
  memcpy(q->head, c->in, len);
  q->head_len = len;
  q->fields = xrealloc(NULL, len + 1);
  memcpy(q->fields, c->in, len);
  q->fields[len] = '\0';
  *status = 400;
  char *save = NULL;
  char *line = strtok_r(q->fields, "\r\n", &save);
  if (parse_request_line(q, line) != 0)
    return -1;
  while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
    char *colon = strchr(line, ':');
    if (!colon || q->nheaders == MAX_HEADERS)
      return -1;
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
      v++;
    size_t vl = strlen(v);
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
      v[--vl] = '\0';
    q->hname[q->nheaders] = line;
    q->hvalue[q->nheaders++] = v;
  }
  return (long)len;
}

/* Reads the body after a head of `head_len` bytes (Content-Length or
 * chunked).  Returns the bytes of the whole request, 0 if the body is not
 * all here yet, or -1 with `*status` the error to answer. */
static long read_body(conn *c, request *q, size_t head_len, int *status) {
  const char *te = req_header(q, "Transfer-Encoding");
  const char *cl = req_header(q, "Content-Length");
  const char *rest = c->in + head_len;
  size_t avail = c->in_len - head_len;
  if (te && strcasecmp(te, "chunked") == 0) {
    size_t n = dechunk(rest, avail, &q->body, &q->body_len);
    *status = 400;
    if (n == (size_t)-1)
      return -1;
    return n ? (long)(head_len + n) : 0;
  }
  char *e = NULL;
  unsigned long long n = cl ? strtoull(cl, &e, 10) : 0;
  if (cl && (e == cl || *e || n > MAX_BODY)) {
    *status = 413;
    return -1;
  }
  if (avail < n)
    return 0;
  q->body = xrealloc(NULL, (size_t)n + 1);
  memcpy(q->body, rest, (size_t)n);
  q->body_len = (size_t)n;
  return (long)(head_len + n);
}

/* Answers a request the server could not read, and closes. */
static void refuse(conn *c, int status) {
  request q = {.method = "GET"};
  c->close_after = 1;
  respond_text(c, &q, status, NULL,
               status == 431   ? "request head too large\n"
               : status == 413 ? "body too large or bad length\n"
                               : "malformed request\n");
}

/* Parses and answers every complete request in the input buffer. */
static void process(conn *c) {
  while (c->in_len > 0 && !c->close_after) {
    request q;
    int status = 0;
    long head = parse_head(c, &q, &status);
    long total = head > 0 ? read_body(c, &q, (size_t)head, &status) : head;
    if (total < 0)
      refuse(c, status);
    if (total == 0 && head > 0) {
      /* The body is still to come: a client that asked waits for this. */
      const char *expect = req_header(&q, "Expect");
      if (expect && strcasecmp(expect, "100-continue") == 0 &&
          !c->continue_sent) {
        out_printf(c, "HTTP/1.1 100 Continue\r\n\r\n");
        c->continue_sent = 1;
      }
    }
    if (total <= 0) {
      request_free(&q);
      return;
    }
    const char *conn_hdr = req_header(&q, "Connection");
    if ((conn_hdr && strcasecmp(conn_hdr, "close") == 0) ||
        (q.http10 && !(conn_hdr && strcasecmp(conn_hdr, "keep-alive") == 0)))
      c->close_after = 1;
    log_request(c, &q);
    handle(c, &q);
    request_free(&q);
    memmove(c->in, c->in + total, c->in_len - (size_t)total);
    c->in_len -= (size_t)total;
    c->continue_sent = 0;
  }
}

/* ---- the loop ----------------------------------------------------------- */

static int listen_on(int port, int *bound) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons((uint16_t)port);
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
    die("bind");
  if (listen(fd, 64) != 0)
    die("listen");
  socklen_t sl = sizeof(sa);
  if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
    die("getsockname");
  *bound = ntohs(sa.sin_port);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

static void conn_free(conn *c) {
  close(c->fd);
  free(c->in);
  free(c->out);
  memset(c, 0, sizeof(*c));
  c->fd = -1;
}

static int64_t mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long parse_num(const char *opt, const char *v, long lo, long hi) {
  char *end;
  errno = 0;
  long n = v ? strtol(v, &end, 10) : 0;
  if (!v || errno || *end || n < lo || n > hi) {
    fprintf(stderr, "httpresp-demo-server: %s needs a number in %ld..%ld\n",
            opt, lo, hi);
    exit(2);
  }
  return n;
}

static conn conns[MAX_CONNS];

static void accept_conn(int lfd, int port_idx) {
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0)
    return;
  for (int i = 0; i < MAX_CONNS; i++) {
    if (conns[i].fd >= 0)
      continue;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    memset(&conns[i], 0, sizeof(conn));
    conns[i].fd = fd;
    conns[i].port_idx = port_idx;
    return;
  }
  close(fd); /* full: the client sees a reset */
}

static void on_writable(conn *c) {
  ssize_t w =
      send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
  if (w < 0 && errno != EAGAIN && errno != EINTR) {
    conn_free(c);
    return;
  }
  if (w > 0)
    c->out_off += (size_t)w;
  if (c->out_off < c->out_len)
    return;
  c->out_off = c->out_len = 0;
  if (c->endless) {
    static char chunk[65536];
    memset(chunk, 'x', sizeof(chunk));
    out_append(c, chunk, sizeof(chunk));
    return;
  }
  if (c->close_after)
    conn_free(c);
  else
    process(c); /* requests that arrived while we were writing */
}

/* Returns 1 if bytes arrived. */
static int on_readable(conn *c) {
  if (c->in_cap - c->in_len < 16384) {
    c->in_cap = c->in_cap ? c->in_cap * 2 : 32768;
    c->in = xrealloc(c->in, c->in_cap);
  }
  ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
  if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
    conn_free(c);
    return 0;
  }
  if (r < 0)
    return 0;
  c->in_len += (size_t)r;
  if (c->in_len > MAX_HEAD + MAX_BODY + 65536)
    conn_free(c);
  else
    process(c);
  return 1;
}

static void parse_options(int argc, char **argv, long want[2], long *idle_s) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--port") == 0)
      want[0] = parse_num(a, v, 0, 65535), i++;
    else if (strcmp(a, "--port2") == 0)
      want[1] = parse_num(a, v, 0, 65535), i++;
    else if (strcmp(a, "--idle") == 0)
      *idle_s = parse_num(a, v, 1, 86400), i++;
    else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
      quiet = 1;
    else {
      fprintf(stderr, "usage: httpresp-demo-server [--port N] [--port2 N] "
                      "[--idle SECONDS] [-q]\n");
      exit(strcmp(a, "--help") == 0 ? 0 : 2);
    }
  }
}

int main(int argc, char **argv) {
  long want[2] = {0, 0};
  long idle_s = 600;
  parse_options(argc, argv, want, &idle_s);

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int lfd[2];
  for (int i = 0; i < 2; i++)
    lfd[i] = listen_on((int)want[i], &ports[i]);
  printf("listening on http://127.0.0.1:%d\n", ports[0]);
  printf("second origin on http://127.0.0.1:%d\n", ports[1]);
  fflush(stdout);

  for (int i = 0; i < MAX_CONNS; i++)
    conns[i].fd = -1;
  struct pollfd pfd[MAX_CONNS + 2];
  int map[MAX_CONNS + 2];
  int64_t last_activity = mono_ms();

  while (!stop_flag) {
    if (mono_ms() - last_activity > (int64_t)idle_s * 1000) {
      if (!quiet)
        fprintf(stderr, "httpresp-demo-server: idle for %ld s, stopping\n",
                idle_s);
      break;
    }
    nfds_t n = 0;
    for (int i = 0; i < 2; i++) {
      pfd[n] = (struct pollfd){lfd[i], POLLIN, 0};
      map[n++] = -1 - i;
    }
    for (int i = 0; i < MAX_CONNS; i++) {
      if (conns[i].fd < 0)
        continue;
      short ev = conns[i].out_off < conns[i].out_len ? POLLOUT : POLLIN;
      pfd[n] = (struct pollfd){conns[i].fd, ev, 0};
      map[n++] = i;
    }
    if (poll(pfd, n, 1000) < 0) {
      if (errno == EINTR)
        continue;
      die("poll");
    }
    for (nfds_t k = 0; k < n; k++) {
      if (!pfd[k].revents)
        continue;
      if (map[k] < 0) {
        accept_conn(lfd[-1 - map[k]], -1 - map[k]);
        last_activity = mono_ms();
      } else if (pfd[k].revents & POLLOUT) {
        on_writable(&conns[map[k]]);
      } else if (on_readable(&conns[map[k]])) {
        last_activity = mono_ms();
      }
    }
  }
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i].fd >= 0)
      conn_free(&conns[i]);
  close(lfd[0]);
  close(lfd[1]);
  state_reset();
  free(state);
  return 0;
}
