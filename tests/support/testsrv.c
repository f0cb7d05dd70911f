/* SPDX-License-Identifier: MIT */
/* Loopback HTTP/1.1 test server: one poll() thread, non-blocking sockets,
 * scripted responses, recorded requests. See testsrv.h for the contract. */
#include "testsrv.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Pipelined bytes buffered while a response is under way; reading pauses
 * beyond this, so a client cannot grow a connection without bound. */
#define TS_IN_MAX (TS_MAX_HEADER_BYTES + 65536)
#define TS_CHUNK_LINE_MAX 4096
#define TS_LINGER_MS 1000
#define TS_ACCEPT_BACKOFF_MS 50

/* ---- small helpers ------------------------------------------------------ */

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    fputs("testsrv: out of memory\n", stderr);
    abort();
  }
  return q;
}

static void *xmalloc(size_t n) { return xrealloc(NULL, n); }

static char *xmemdup(const void *p, size_t n) {
  char *d = xmalloc(n + 1);
  if (n)
    memcpy(d, p, n);
  d[n] = '\0';
  return d;
}

static char *xstrdup(const char *s) { return xmemdup(s, strlen(s)); }

/* Grows an array to hold `need` elements; returns the (maybe moved) array. */
static void *grow(void *arr, size_t *cap, size_t need, size_t elem) {
  size_t nc;
  if (need <= *cap)
    return arr;
  nc = *cap ? *cap : 8;
  while (nc < need)
    nc *= 2;
  *cap = nc;
  return xrealloc(arr, nc * elem);
}

static int64_t mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return -1;
  return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static const char *find_bytes(const char *h, size_t hlen, const char *n,
                              size_t nlen) {
  size_t i;
  if (nlen > hlen)
    return NULL;
  for (i = 0; i + nlen <= hlen; i++)
    if (memcmp(h + i, n, nlen) == 0)
      return h + i;
  return NULL;
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* ---- scripts ------------------------------------------------------------ */

enum step_kind {
  STEP_DATA,  /* bytes, always sent */
  STEP_BODY,  /* bytes, left out for HEAD */
  STEP_HEAD,  /* a ts_resp_simple header block: may get Connection: close */
  STEP_DELAY, /* wait ms */
  STEP_PAUSE  /* (plans only) wait until the request body is complete */
};

struct step {
  enum step_kind kind;
  char *data;
  size_t len;
  int ms;
};

struct ts_resp {
  ts_server *srv; /* NULL for the server's built-in 404 */
  struct step *steps;
  size_t n, cap;
  int close, before_body, stall, no_auto_continue;
};

struct route {
  int port_idx;
  char *target;
  ts_resp **resps;
  size_t n, cap, next;
};

/* ---- connections -------------------------------------------------------- */

enum conn_state { CS_HEAD, CS_ACTIVE, CS_STALL, CS_LINGER, CS_DEAD };
enum body_mode { BM_NONE, BM_LENGTH, BM_CHUNKED, BM_DISCARD };
enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

struct conn {
  int fd, port_idx;
  size_t id, nreq;
  enum conn_state st;
  char *in;
  size_t in_off, in_len, in_cap, scan;
  int peer_eof;
  char *out;
  size_t out_off, out_len, out_cap;
  /* the request under way */
  ts_request *req;
  int recorded, body_done;
  enum body_mode bm;
  enum chunk_state ch;
  size_t left, trailer_len;
  char *body;
  size_t body_len, body_cap;
  /* its response plan: a private copy of the script */
  struct step *plan;
  size_t plan_n, plan_cap, plan_i;
  int will_close, stall, delay_armed;
  int64_t wake_at; /* delay end or linger deadline; 0: none */
};

struct ts_server {
  int nports;
  int lfd[TS_MAX_PORTS];
  int port[TS_MAX_PORTS];
  int wake[2];
  pthread_t thr;
  int thr_started;

  pthread_mutex_t mu; /* guards everything down to nconns_total */
  pthread_cond_t cv;
  int stopping;
  struct route **routes;
  size_t nroutes, routes_cap;
  ts_request **reqs;
  size_t nreqs, reqs_cap;
  size_t nconns_total;

  /* server thread only */
  ts_resp *notfound;
  struct conn **conns;
  size_t nconns, conns_cap;
  struct pollfd *pfds;
  size_t pfds_cap;
  int64_t accept_resume;
};

static void srv_lock(ts_server *s) { pthread_mutex_lock(&s->mu); }
static void srv_unlock(ts_server *s) { pthread_mutex_unlock(&s->mu); }

/* ---- script building (test thread) -------------------------------------- */

static ts_resp *resp_new(ts_server *s) {
  ts_resp *r = xmalloc(sizeof *r);
  memset(r, 0, sizeof *r);
  r->srv = s;
  return r;
}

static void resp_free(ts_resp *r) {
  size_t i;
  if (!r)
    return;
  for (i = 0; i < r->n; i++)
    free(r->steps[i].data);
  free(r->steps);
  free(r);
}

static void resp_add(ts_resp *r, enum step_kind kind, const void *data,
                     size_t len, int ms) {
  struct step *st;
  if (r->srv)
    srv_lock(r->srv);
  r->steps = grow(r->steps, &r->cap, r->n + 1, sizeof *r->steps);
  st = &r->steps[r->n++];
  st->kind = kind;
  st->data = data ? xmemdup(data, len) : NULL;
  st->len = data ? len : 0;
  st->ms = ms;
  if (r->srv)
    srv_unlock(r->srv);
}

static void resp_flag(ts_resp *r, int *flag) {
  if (r->srv)
    srv_lock(r->srv);
  *flag = 1;
  if (r->srv)
    srv_unlock(r->srv);
}

void ts_resp_raw(ts_resp *r, const void *bytes, size_t len) {
  if (r && len)
    resp_add(r, STEP_DATA, bytes, len, 0);
}

void ts_resp_str(ts_resp *r, const char *s) {
  if (s)
    ts_resp_raw(r, s, strlen(s));
}

void ts_resp_printf(ts_resp *r, const char *fmt, ...) {
  va_list ap, ap2;
  int n;
  char *buf;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    va_end(ap2);
    return;
  }
  buf = xmalloc((size_t)n + 1);
  vsnprintf(buf, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  ts_resp_raw(r, buf, (size_t)n);
  free(buf);
}

void ts_resp_body(ts_resp *r, const void *bytes, size_t len) {
  if (r && len)
    resp_add(r, STEP_BODY, bytes, len, 0);
}

void ts_resp_delay(ts_resp *r, int ms) {
  if (r && ms > 0)
    resp_add(r, STEP_DELAY, NULL, 0, ms);
}

void ts_resp_close(ts_resp *r) {
  if (r)
    resp_flag(r, &r->close);
}

void ts_resp_before_body(ts_resp *r) {
  if (r)
    resp_flag(r, &r->before_body);
}

void ts_resp_stall(ts_resp *r) {
  if (r)
    resp_flag(r, &r->stall);
}

void ts_resp_no_auto_continue(ts_resp *r) {
  if (r)
    resp_flag(r, &r->no_auto_continue);
}

static const char *reason_phrase(int status) {
  static const struct {
    int code;
    const char *text;
  } tab[] = {
      {100, "Continue"},
      {101, "Switching Protocols"},
      {102, "Processing"},
      {103, "Early Hints"},
      {200, "OK"},
      {201, "Created"},
      {202, "Accepted"},
      {204, "No Content"},
      {206, "Partial Content"},
      {300, "Multiple Choices"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {303, "See Other"},
      {304, "Not Modified"},
      {307, "Temporary Redirect"},
      {308, "Permanent Redirect"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {410, "Gone"},
      {413, "Content Too Large"},
      {417, "Expectation Failed"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
  };
  size_t i;
  for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
    if (tab[i].code == status)
      return tab[i].text;
  return "Status";
}

/* Whether a "Name: v\r\n..." block has a line for header `name`. */
static int block_has_header(const char *block, const char *name) {
  size_t nl = strlen(name);
  const char *p = block;
  while (*p) {
    const char *q = p + nl;
    if (strncasecmp(p, name, nl) == 0) {
      while (is_ows(*q))
        q++;
      if (*q == ':')
        return 1;
    }
    p = strchr(p, '\n');
    if (!p)
      break;
    p++;
  }
  return 0;
}

void ts_resp_simple(ts_resp *r, int status, const char *extra_headers,
                    const char *body) {
  const char *extra = extra_headers ? extra_headers : "";
  size_t elen = strlen(extra), blen = body ? strlen(body) : 0;
  int bodyless =
      (status >= 100 && status < 200) || status == 204 || status == 304;
  int own_framing = block_has_header(extra, "content-length") ||
                    block_has_header(extra, "transfer-encoding");
  int has_conn = block_has_header(extra, "connection");
  int need_crlf =
      elen > 0 && (elen < 2 || strcmp(extra + elen - 2, "\r\n") != 0);
  char clen[64] = "";
  char *head;
  int n;
  if (!r)
    return;
  if (bodyless)
    blen = 0;
  else if (!own_framing)
    snprintf(clen, sizeof clen, "Content-Length: %zu\r\n", blen);
  n = snprintf(NULL, 0, "HTTP/1.1 %d %s\r\n%s%s%s\r\n", status,
               reason_phrase(status), clen, extra, need_crlf ? "\r\n" : "");
  head = xmalloc((size_t)n + 1);
  snprintf(head, (size_t)n + 1, "HTTP/1.1 %d %s\r\n%s%s%s\r\n", status,
           reason_phrase(status), clen, extra, need_crlf ? "\r\n" : "");
  resp_add(r, has_conn ? STEP_DATA : STEP_HEAD, head, (size_t)n, 0);
  free(head);
  if (blen)
    resp_add(r, STEP_BODY, body, blen, 0);
}

ts_resp *ts_route(ts_server *s, int port_idx, const char *target) {
  struct route *rt = NULL;
  ts_resp *r;
  size_t i;
  if (!s || !target)
    return NULL;
  r = resp_new(s);
  srv_lock(s);
  for (i = 0; i < s->nroutes; i++)
    if (s->routes[i]->port_idx == port_idx &&
        strcmp(s->routes[i]->target, target) == 0) {
      rt = s->routes[i];
      break;
    }
  if (!rt) {
    rt = xmalloc(sizeof *rt);
    memset(rt, 0, sizeof *rt);
    rt->port_idx = port_idx;
    rt->target = xstrdup(target);
    s->routes =
        grow(s->routes, &s->routes_cap, s->nroutes + 1, sizeof *s->routes);
    s->routes[s->nroutes++] = rt;
  }
  rt->resps = grow(rt->resps, &rt->cap, rt->n + 1, sizeof *rt->resps);
  rt->resps[rt->n++] = r;
  srv_unlock(s);
  return r;
}

ts_resp *ts_simple(ts_server *s, int port_idx, const char *target, int status,
                   const char *extra_headers, const char *body) {
  ts_resp *r = ts_route(s, port_idx, target);
  ts_resp_simple(r, status, extra_headers, body);
  return r;
}

/* ---- recorded requests -------------------------------------------------- */

static void request_free(ts_request *q) {
  size_t i;
  if (!q)
    return;
  for (i = 0; i < q->nheaders; i++) {
    free(q->headers[i].name);
    free(q->headers[i].value);
  }
  free(q->headers);
  free(q->method);
  free(q->target);
  free(q->version);
  free(q->body);
  free(q);
}

static void routes_clear(ts_server *s) {
  size_t i, j;
  for (i = 0; i < s->nroutes; i++) {
    for (j = 0; j < s->routes[i]->n; j++)
      resp_free(s->routes[i]->resps[j]);
    free(s->routes[i]->resps);
    free(s->routes[i]->target);
    free(s->routes[i]);
  }
  free(s->routes);
  s->routes = NULL;
  s->nroutes = s->routes_cap = 0;
}

static void requests_clear(ts_server *s) {
  size_t i;
  for (i = 0; i < s->nreqs; i++)
    request_free(s->reqs[i]);
  free(s->reqs);
  s->reqs = NULL;
  s->nreqs = s->reqs_cap = 0;
}

size_t ts_request_count(ts_server *s) {
  size_t n;
  srv_lock(s);
  n = s->nreqs;
  srv_unlock(s);
  return n;
}

const ts_request *ts_request_get(ts_server *s, size_t i) {
  const ts_request *q;
  srv_lock(s);
  q = i < s->nreqs ? s->reqs[i] : NULL;
  srv_unlock(s);
  return q;
}

const char *ts_req_header(const ts_request *q, const char *name) {
  size_t i;
  if (!q || !name)
    return NULL;
  for (i = 0; i < q->nheaders; i++)
    if (strcasecmp(q->headers[i].name, name) == 0)
      return q->headers[i].value;
  return NULL;
}

size_t ts_req_header_count(const ts_request *q, const char *name) {
  size_t i, n = 0;
  if (!q || !name)
    return 0;
  for (i = 0; i < q->nheaders; i++)
    if (strcasecmp(q->headers[i].name, name) == 0)
      n++;
  return n;
}

int ts_wait_requests(ts_server *s, size_t n, int timeout_ms) {
  struct timespec dl;
  int ok;
  clock_gettime(CLOCK_MONOTONIC, &dl);
  dl.tv_sec += timeout_ms / 1000;
  dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (dl.tv_nsec >= 1000000000L) {
    dl.tv_sec++;
    dl.tv_nsec -= 1000000000L;
  }
  srv_lock(s);
  while (s->nreqs < n)
    if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT)
      break;
  ok = s->nreqs >= n;
  srv_unlock(s);
  return ok;
}

size_t ts_connection_count(ts_server *s) {
  size_t n;
  srv_lock(s);
  n = s->nconns_total;
  srv_unlock(s);
  return n;
}

void ts_reset(ts_server *s) {
  if (!s)
    return;
  srv_lock(s);
  routes_clear(s);
  requests_clear(s);
  srv_unlock(s);
}

/* ---- per-connection machinery (server thread) ---------------------------- */

static void out_append(struct conn *c, const char *p, size_t n) {
  c->out = grow(c->out, &c->out_cap, c->out_len + n, 1);
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
}

/* 0: all sent or would block; -1: the peer is gone. */
static int out_flush(struct conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t r =
        send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (r > 0) {
      c->out_off += (size_t)r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return 0;
    } else {
      return -1;
    }
  }
  c->out_off = c->out_len = 0;
  return 0;
}

/* 0 or -1 on a hard receive error. Sets peer_eof on orderly shutdown. */
static int conn_read(struct conn *c) {
  while (!c->peer_eof && c->in_len - c->in_off < TS_IN_MAX) {
    ssize_t r;
    size_t room;
    if (c->in_off == c->in_len) {
      c->in_off = c->in_len = c->scan = 0;
    } else if (c->in_off > 0 && c->in_cap - c->in_len < 16384) {
      memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
      c->scan = c->scan > c->in_off ? c->scan - c->in_off : 0;
      c->in_len -= c->in_off;
      c->in_off = 0;
    }
    if (c->in_cap - c->in_len < 16384) {
      size_t nc = c->in_cap ? c->in_cap * 2 : 65536;
      if (nc > TS_IN_MAX + 65536)
        nc = TS_IN_MAX + 65536;
      c->in = xrealloc(c->in, nc);
      c->in_cap = nc;
    }
    room = c->in_cap - c->in_len;
    r = recv(c->fd, c->in + c->in_len, room, 0);
    if (r > 0)
      c->in_len += (size_t)r;
    else if (r == 0)
      c->peer_eof = 1;
    else if (errno == EINTR)
      continue;
    else if (errno == EAGAIN || errno == EWOULDBLOCK)
      break;
    else
      return -1;
  }
  return 0;
}

static void plan_clear(struct conn *c) {
  size_t i;
  for (i = 0; i < c->plan_n; i++)
    free(c->plan[i].data);
  c->plan_n = c->plan_i = 0;
  c->delay_armed = 0;
  c->wake_at = 0;
}

static void plan_insert(struct conn *c, size_t at, enum step_kind kind,
                        char *owned, size_t len, int ms) {
  c->plan = grow(c->plan, &c->plan_cap, c->plan_n + 1, sizeof *c->plan);
  memmove(&c->plan[at + 1], &c->plan[at], (c->plan_n - at) * sizeof *c->plan);
  c->plan[at].kind = kind;
  c->plan[at].data = owned;
  c->plan[at].len = len;
  c->plan[at].ms = ms;
  c->plan_n++;
}

static void plan_push_data(struct conn *c, const char *p, size_t n) {
  plan_insert(c, c->plan_n, STEP_DATA, xmemdup(p, n), n, 0);
}

/* Copies a script into the connection's plan (caller holds the lock). */
static void plan_load(struct conn *c, const ts_resp *r, int is_head) {
  static const char close_hdr[] = "Connection: close\r\n";
  size_t i;
  plan_clear(c);
  c->stall = r->stall;
  for (i = 0; i < r->n; i++) {
    const struct step *st = &r->steps[i];
    switch (st->kind) {
    case STEP_DELAY:
      plan_insert(c, c->plan_n, STEP_DELAY, NULL, 0, st->ms);
      break;
    case STEP_BODY:
      if (!is_head)
        plan_push_data(c, st->data, st->len);
      break;
    case STEP_HEAD:
      if (c->will_close && !c->stall && st->len >= 2) {
        /* insert before the blank line that ends the block */
        size_t cl = sizeof close_hdr - 1, n = st->len + cl;
        char *d = xmalloc(n + 1);
        memcpy(d, st->data, st->len - 2);
        memcpy(d + st->len - 2, close_hdr, cl);
        memcpy(d + st->len - 2 + cl, "\r\n", 3);
        plan_insert(c, c->plan_n, STEP_DATA, d, n, 0);
      } else {
        plan_push_data(c, st->data, st->len);
      }
      break;
    case STEP_DATA:
    case STEP_PAUSE:
      plan_push_data(c, st->data, st->len);
      break;
    }
  }
}

/* Length of the complete 1xx blocks at the start of the plan's bytes. */
static size_t plan_leading_1xx(const struct conn *c) {
  size_t i, n = 0, pos = 0;
  char *flat;
  for (i = 0; i < c->plan_n; i++)
    n += c->plan[i].len;
  flat = xmalloc(n + 1);
  n = 0;
  for (i = 0; i < c->plan_n; i++)
    if (c->plan[i].kind == STEP_DATA && c->plan[i].len) {
      memcpy(flat + n, c->plan[i].data, c->plan[i].len);
      n += c->plan[i].len;
    }
  for (;;) {
    const char *eol, *sp, *end;
    if (n - pos < 5 || memcmp(flat + pos, "HTTP/", 5) != 0)
      break;
    eol = memchr(flat + pos, '\n', n - pos);
    sp = memchr(flat + pos, ' ', n - pos);
    if (!eol || !sp || sp > eol || sp[1] != '1')
      break;
    end = find_bytes(flat + pos, n - pos, "\r\n\r\n", 4);
    if (!end)
      break;
    pos = (size_t)(end - flat) + 4;
  }
  free(flat);
  return pos;
}

/* Inserts a PAUSE step after `off` bytes of plan data. */
static void plan_insert_pause(struct conn *c, size_t off) {
  size_t i = 0, cum = 0;
  if (off > 0) {
    for (i = 0; i < c->plan_n; i++) {
      struct step *st = &c->plan[i];
      if (st->kind != STEP_DATA)
        continue;
      if (cum + st->len == off) {
        i++;
        break;
      }
      if (cum + st->len > off) {
        size_t keep = off - cum;
        char *tail = xmemdup(st->data + keep, st->len - keep);
        size_t tlen = st->len - keep;
        st->len = keep;
        plan_insert(c, i + 1, STEP_DATA, tail, tlen, 0);
        i++;
        break;
      }
      cum += st->len;
    }
  }
  plan_insert(c, i, STEP_PAUSE, NULL, 0, 0);
}

static void record(ts_server *s, struct conn *c, int complete) {
  ts_request *q = c->req;
  c->req = NULL;
  c->recorded = 1;
  if (!q)
    return;
  if (!c->body)
    c->body = xmalloc(1);
  c->body[c->body_len] = '\0';
  q->body = c->body;
  q->body_len = c->body_len;
  q->body_complete = complete;
  c->body = NULL;
  c->body_len = c->body_cap = 0;
  srv_lock(s);
  s->reqs = grow(s->reqs, &s->reqs_cap, s->nreqs + 1, sizeof *s->reqs);
  s->reqs[s->nreqs++] = q;
  pthread_cond_broadcast(&s->cv);
  srv_unlock(s);
}

static void error_plan_append(struct conn *c, int status) {
  char buf[256];
  const char *reason = reason_phrase(status);
  int n = snprintf(buf, sizeof buf,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                   status, reason, strlen(reason) + 1, reason);
  plan_push_data(c, buf, (size_t)n);
  c->will_close = 1;
  c->stall = 0;
  c->bm = BM_DISCARD;
}

/* Malformed or oversized request head: answer and close, record nothing. */
static void head_fail(struct conn *c, int status) {
  request_free(c->req);
  c->req = NULL;
  c->recorded = 1;
  plan_clear(c);
  error_plan_append(c, status);
  c->st = CS_ACTIVE;
}

/* Body error: record what we have, drop the script after the 1xx prefix
 * already under way, answer the error and close. */
static void body_fail(ts_server *s, struct conn *c, int status) {
  size_t i, cut = c->plan_i;
  record(s, c, 0);
  for (i = c->plan_i; i < c->plan_n; i++)
    if (c->plan[i].kind == STEP_PAUSE) {
      cut = i;
      break;
    }
  for (i = cut; i < c->plan_n; i++)
    free(c->plan[i].data);
  c->plan_n = cut;
  error_plan_append(c, status);
  c->in_off = c->in_len;
}

static void body_append(struct conn *c, const char *p, size_t n) {
  c->body = grow(c->body, &c->body_cap, c->body_len + n + 1, 1);
  memcpy(c->body + c->body_len, p, n);
  c->body_len += n;
}

static void body_finish(ts_server *s, struct conn *c) {
  c->body_done = 1;
  c->bm = BM_NONE;
  record(s, c, 1);
}

/* Parses a chunk-size line: hex digits, then nothing or ";ext" / OWS. */
static int chunk_size(const char *p, size_t n, size_t *out) {
  size_t i = 0, v = 0;
  int big = 0;
  for (; i < n; i++) {
    char ch = p[i];
    int d = ch >= '0' && ch <= '9'   ? ch - '0'
            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
            : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                     : -1;
    if (d < 0)
      break;
    if (v > TS_MAX_BODY_BYTES)
      big = 1;
    else
      v = v * 16 + (size_t)d;
  }
  if (i == 0 || (i < n && p[i] != ';' && !is_ows(p[i])))
    return -1;
  *out = big ? SIZE_MAX : v;
  return 0;
}

static void body_consume(ts_server *s, struct conn *c) {
  for (;;) {
    char *p = c->in + c->in_off;
    size_t avail = c->in_len - c->in_off, ll, adv, sz = 0;
    const char *nl;
    switch (c->bm) {
    case BM_DISCARD:
      c->in_off = c->in_len;
      return;
    case BM_NONE:
      if (!c->body_done)
        body_finish(s, c);
      return;
    case BM_LENGTH: {
      size_t n = avail < c->left ? avail : c->left;
      body_append(c, p, n);
      c->in_off += n;
      c->left -= n;
      if (c->left == 0)
        body_finish(s, c);
      return;
    }
    case BM_CHUNKED:
      break;
    }
    if (c->ch == CH_DATA) {
      size_t n = avail < c->left ? avail : c->left;
      body_append(c, p, n);
      c->in_off += n;
      c->left -= n;
      if (c->left)
        return;
      c->ch = CH_DATA_END;
      continue;
    }
    nl = avail ? memchr(p, '\n', avail) : NULL;
    if (!nl) {
      if (c->ch == CH_TRAILER ? c->trailer_len + avail > TS_MAX_HEADER_BYTES
                              : avail > TS_CHUNK_LINE_MAX)
        body_fail(s, c, c->ch == CH_TRAILER ? 431 : 400);
      return;
    }
    ll = (size_t)(nl - p);
    adv = ll + 1;
    if (ll && p[ll - 1] == '\r')
      ll--;
    c->in_off += adv;
    switch (c->ch) {
    case CH_SIZE:
      if (chunk_size(p, ll, &sz) < 0) {
        body_fail(s, c, 400);
        return;
      }
      if (sz > TS_MAX_BODY_BYTES - c->body_len) {
        body_fail(s, c, 413);
        return;
      }
      if (sz == 0) {
        c->ch = CH_TRAILER;
        c->trailer_len = 0;
      } else {
        c->ch = CH_DATA;
        c->left = sz;
      }
      break;
    case CH_DATA_END:
      if (ll != 0) {
        body_fail(s, c, 400);
        return;
      }
      c->ch = CH_SIZE;
      break;
    case CH_TRAILER:
      if (ll == 0) {
        body_finish(s, c);
        return;
      }
      c->trailer_len += adv;
      if (c->trailer_len > TS_MAX_HEADER_BYTES) {
        body_fail(s, c, 431);
        return;
      }
      break;
    case CH_DATA:
      break;
    }
  }
}

/* ---- request head parsing ------------------------------------------------ */

/* Finds the blank line ending the head; sets *end past it. */
static int head_find(struct conn *c, size_t *end) {
  size_t i;
  if (c->scan <= c->in_off) {
    /* RFC 9112 §2.2: ignore empty lines before the request line */
    while (c->in_off < c->in_len &&
           (c->in[c->in_off] == '\r' || c->in[c->in_off] == '\n'))
      c->in_off++;
    c->scan = c->in_off;
  }
  for (i = c->scan; i < c->in_len; i++) {
    size_t j = i;
    if (c->in[i] != '\n')
      continue;
    if (j > c->in_off && c->in[j - 1] == '\r')
      j--;
    if (j > c->in_off && c->in[j - 1] == '\n') {
      *end = i + 1;
      return 1;
    }
  }
  c->scan = c->in_len;
  return 0;
}

static int next_line(const char *buf, size_t end, size_t *pos, const char **ls,
                     size_t *ll) {
  const char *nl;
  size_t e;
  if (*pos >= end)
    return 0;
  nl = memchr(buf + *pos, '\n', end - *pos);
  e = nl ? (size_t)(nl - buf) : end;
  *ls = buf + *pos;
  *ll = e - *pos;
  if (*ll && (*ls)[*ll - 1] == '\r')
    (*ll)--;
  *pos = nl ? e + 1 : end;
  return 1;
}

static int visible(const char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] == 0x7f)
      return 0;
  return n > 0;
}

static int field_value_ok(const char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
      return 0;
  }
  return 1;
}

static void add_header(ts_request *q, size_t *cap, const char *name,
                       size_t nlen, const char *val, size_t vlen) {
  while (vlen && is_ows(*val)) {
    val++;
    vlen--;
  }
  while (vlen && is_ows(val[vlen - 1]))
    vlen--;
  q->headers = grow(q->headers, cap, q->nheaders + 1, sizeof *q->headers);
  q->headers[q->nheaders].name = xmemdup(name, nlen);
  q->headers[q->nheaders].value = xmemdup(val, vlen);
  q->nheaders++;
}

/* Builds c->req from [in_off, end). 0 or -1 (malformed). */
static int head_parse(struct conn *c, size_t end) {
  const char *ls, *sp1, *sp2;
  size_t ll, pos = c->in_off, hcap = 0;
  ts_request *q = xmalloc(sizeof *q);
  memset(q, 0, sizeof *q);
  c->req = q;
  q->port_idx = c->port_idx;
  q->conn_id = c->id;
  q->conn_seq = c->nreq++;
  if (!next_line(c->in, end, &pos, &ls, &ll))
    return -1;
  sp1 = memchr(ls, ' ', ll);
  if (!sp1)
    return -1;
  sp2 = memchr(sp1 + 1, ' ', ll - (size_t)(sp1 + 1 - ls));
  if (!sp2)
    return -1;
  if (!visible(ls, (size_t)(sp1 - ls)) ||
      !visible(sp1 + 1, (size_t)(sp2 - sp1 - 1)) ||
      !visible(sp2 + 1, ll - (size_t)(sp2 + 1 - ls)))
    return -1;
  q->method = xmemdup(ls, (size_t)(sp1 - ls));
  q->target = xmemdup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
  q->version = xmemdup(sp2 + 1, ll - (size_t)(sp2 + 1 - ls));
  if (strncmp(q->version, "HTTP/1.", 7) != 0 || strlen(q->version) != 8)
    return -1;
  while (next_line(c->in, end, &pos, &ls, &ll) && ll > 0) {
    const char *colon;
    if (!field_value_ok(ls, ll))
      return -1;
    if (is_ows(ls[0])) {
      /* obsolete line folding: join to the previous value */
      ts_header *h;
      size_t ol, al = ll;
      if (q->nheaders == 0)
        return -1;
      while (al && is_ows(*ls)) {
        ls++;
        al--;
      }
      h = &q->headers[q->nheaders - 1];
      ol = strlen(h->value);
      h->value = xrealloc(h->value, ol + al + 2);
      h->value[ol] = ' ';
      memcpy(h->value + ol + 1, ls, al);
      h->value[ol + 1 + al] = '\0';
      continue;
    }
    colon = memchr(ls, ':', ll);
    if (!colon || !visible(ls, (size_t)(colon - ls)))
      return -1;
    add_header(q, &hcap, ls, (size_t)(colon - ls), colon + 1,
               ll - (size_t)(colon + 1 - ls));
  }
  return 0;
}

/* Whether a comma-separated header has token `tok`; with last != NULL,
 * stores whether `tok` is the very last token of all such headers. */
static int has_token(const ts_request *q, const char *name, const char *tok,
                     int *last) {
  size_t i, tl = strlen(tok);
  int found = 0;
  if (last)
    *last = 0;
  for (i = 0; i < q->nheaders; i++) {
    const char *p = q->headers[i].value;
    if (strcasecmp(q->headers[i].name, name) != 0)
      continue;
    while (*p) {
      const char *e = strchr(p, ',');
      size_t n = e ? (size_t)(e - p) : strlen(p);
      const char *t = p;
      size_t tn = n;
      while (tn && is_ows(*t)) {
        t++;
        tn--;
      }
      while (tn && is_ows(t[tn - 1]))
        tn--;
      if (tn) {
        int eq = tn == tl && strncasecmp(t, tok, tl) == 0;
        found |= eq;
        if (last)
          *last = eq;
      }
      p += n;
      if (*p == ',')
        p++;
    }
  }
  return found;
}

/* Content-Length: 0 none, 1 found (*len), -1 invalid or conflicting. */
static int content_length(const ts_request *q, size_t *len) {
  size_t i;
  int found = 0;
  for (i = 0; i < q->nheaders; i++) {
    const char *p = q->headers[i].value;
    size_t v = 0;
    if (strcasecmp(q->headers[i].name, "Content-Length") != 0)
      continue;
    if (!*p)
      return -1;
    for (; *p; p++) {
      if (*p < '0' || *p > '9')
        return -1;
      if (v > SIZE_MAX / 10 - 1)
        v = SIZE_MAX; /* saturate: over the limit anyway */
      else
        v = v * 10 + (size_t)(*p - '0');
    }
    if (found && v != *len)
      return -1;
    *len = v;
    found = 1;
  }
  return found;
}

static const ts_resp *route_pick(ts_server *s, int port_idx,
                                 const char *target) {
  size_t plen = strcspn(target, "?"), i;
  int pass;
  for (pass = 0; pass < 4; pass++) {
    int want_port = (pass % 2 == 0) ? port_idx : -1;
    for (i = 0; i < s->nroutes; i++) {
      struct route *rt = s->routes[i];
      size_t idx;
      if (rt->port_idx != want_port)
        continue;
      if (pass < 2 ? strcmp(rt->target, target) != 0
                   : (strlen(rt->target) != plen ||
                      strncmp(rt->target, target, plen) != 0))
        continue;
      idx = rt->next < rt->n ? rt->next : rt->n - 1;
      rt->next = idx + 1;
      return rt->resps[idx];
    }
  }
  return NULL;
}

/* 0: need more input; 1: a request started (state is CS_ACTIVE). */
static int head_try(ts_server *s, struct conn *c) {
  size_t end, clen = 0;
  int chunked_last = 0, has_te, cl, keep, is_head, expect;
  int before, noauto, has_body;
  const ts_resp *r;
  if (!head_find(c, &end)) {
    if (c->in_len - c->in_off > TS_MAX_HEADER_BYTES) {
      head_fail(c, 431);
      return 1;
    }
    return 0;
  }
  if (end - c->in_off > TS_MAX_HEADER_BYTES) {
    head_fail(c, 431);
    return 1;
  }
  if (head_parse(c, end) < 0) {
    head_fail(c, 400);
    return 1;
  }
  c->in_off = end;
  c->scan = end;
  c->st = CS_ACTIVE;
  c->recorded = c->body_done = 0;
  c->body_len = 0;

  has_token(c->req, "Transfer-Encoding", "chunked", &chunked_last);
  has_te = ts_req_header(c->req, "Transfer-Encoding") != NULL;
  cl = content_length(c->req, &clen);
  if ((has_te && !chunked_last) || (!has_te && cl < 0)) {
    head_fail(c, 400);
    return 1;
  }
  if (!has_te && cl > 0 && clen > TS_MAX_BODY_BYTES) {
    record(s, c, 0);
    plan_clear(c);
    error_plan_append(c, 413);
    return 1;
  }
  has_body = has_te || (cl > 0 && clen > 0);
  if (strcmp(c->req->version, "HTTP/1.1") == 0)
    keep = !has_token(c->req, "Connection", "close", NULL);
  else
    keep = has_token(c->req, "Connection", "keep-alive", NULL);
  is_head = strcmp(c->req->method, "HEAD") == 0;
  expect = has_body && has_token(c->req, "Expect", "100-continue", NULL);

  srv_lock(s);
  r = route_pick(s, c->port_idx, c->req->target);
  if (!r)
    r = s->notfound;
  before = r->before_body;
  noauto = r->no_auto_continue;
  c->will_close = !keep || r->close || before;
  plan_load(c, r, is_head);
  srv_unlock(s);

  if (before) {
    c->bm = BM_DISCARD;
    record(s, c, !has_body);
    return 1;
  }
  if (expect) {
    size_t pre = plan_leading_1xx(c);
    if (pre > 0) {
      plan_insert_pause(c, pre);
    } else if (!noauto) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      plan_insert_pause(c, 0);
      plan_insert(c, 0, STEP_DATA, xmemdup(cont, sizeof cont - 1),
                  sizeof cont - 1, 0);
    } else {
      plan_insert_pause(c, 0);
    }
  } else {
    plan_insert_pause(c, 0);
  }
  if (has_te) {
    c->bm = BM_CHUNKED;
    c->ch = CH_SIZE;
  } else if (has_body) {
    c->bm = BM_LENGTH;
    c->left = clen;
  } else {
    c->bm = BM_NONE;
  }
  return 1;
}

/* ---- connection state machine -------------------------------------------- */

static void conn_close(ts_server *s, struct conn *c, int record_partial) {
  if (c->st == CS_DEAD)
    return;
  if (record_partial && c->st == CS_ACTIVE && !c->recorded && c->req)
    record(s, c, 0);
  close(c->fd);
  c->fd = -1;
  c->st = CS_DEAD;
}

static void conn_free(struct conn *c) {
  if (c->fd >= 0)
    close(c->fd);
  plan_clear(c);
  free(c->plan);
  request_free(c->req);
  free(c->body);
  free(c->in);
  free(c->out);
  free(c);
}

/* Runs the plan as far as possible. -1: connection closed; 0: waiting;
 * 1: the whole plan was sent. */
static int plan_run(ts_server *s, struct conn *c) {
  for (;;) {
    while (c->plan_i < c->plan_n) {
      struct step *st = &c->plan[c->plan_i];
      if (st->kind == STEP_DATA) {
        if (st->len)
          out_append(c, st->data, st->len);
        c->plan_i++;
      } else if (st->kind == STEP_PAUSE) {
        if (!c->body_done)
          break;
        c->plan_i++;
      } else {
        int64_t now;
        if (c->out_off < c->out_len)
          break; /* a delay starts once earlier bytes are out */
        now = mono_ms();
        if (!c->delay_armed) {
          c->delay_armed = 1;
          c->wake_at = now + st->ms;
        }
        if (now < c->wake_at)
          break;
        c->delay_armed = 0;
        c->wake_at = 0;
        c->plan_i++;
      }
    }
    if (c->out_off < c->out_len) {
      if (out_flush(c) < 0) {
        conn_close(s, c, 1);
        return -1;
      }
      if (c->out_off < c->out_len)
        return 0;
      continue;
    }
    return c->plan_i == c->plan_n ? 1 : 0;
  }
}

static void request_done(struct conn *c) {
  plan_clear(c);
  request_free(c->req);
  c->req = NULL;
  free(c->body);
  c->body = NULL;
  c->body_len = c->body_cap = 0;
  c->recorded = c->body_done = 0;
  c->bm = BM_NONE;
  c->will_close = c->stall = 0;
  c->st = CS_HEAD;
}

static void conn_process(ts_server *s, struct conn *c) {
  for (;;) {
    int r;
    switch (c->st) {
    case CS_HEAD:
      if (!head_try(s, c)) {
        if (c->peer_eof)
          conn_close(s, c, 0);
        return;
      }
      break;
    case CS_ACTIVE:
      body_consume(s, c);
      if (!c->body_done && c->bm != BM_DISCARD && c->peer_eof) {
        conn_close(s, c, 1);
        return;
      }
      r = plan_run(s, c);
      if (r <= 0)
        return;
      if (c->stall) {
        c->st = CS_STALL;
      } else if (c->will_close || (c->peer_eof && c->in_off == c->in_len)) {
        /* after a client's half-close, still answer what it pipelined */
        shutdown(c->fd, SHUT_WR);
        c->st = CS_LINGER;
        c->wake_at = mono_ms() + TS_LINGER_MS;
      } else {
        request_done(c);
      }
      break;
    case CS_STALL:
    case CS_LINGER:
      c->in_off = c->in_len;
      if (c->peer_eof || (c->st == CS_LINGER && mono_ms() >= c->wake_at))
        conn_close(s, c, 0);
      return;
    case CS_DEAD:
      return;
    }
  }
}

static void conn_event(ts_server *s, struct conn *c, short revents) {
  int hard = 0;
  if (revents & (POLLIN | POLLHUP | POLLERR))
    hard = conn_read(c) < 0;
  conn_process(s, c);
  if (hard || (revents & (POLLHUP | POLLERR)))
    conn_close(s, c, 1);
}

static void accept_all(ts_server *s, int idx) {
  for (;;) {
    struct conn *c;
    int one = 1, fd = accept(s->lfd[idx], NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM)
        s->accept_resume = mono_ms() + TS_ACCEPT_BACKOFF_MS;
      return;
    }
    if (set_nonblock(fd) < 0) {
      close(fd);
      continue;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c = xmalloc(sizeof *c);
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->port_idx = idx;
    c->st = CS_HEAD;
    srv_lock(s);
    c->id = ++s->nconns_total;
    srv_unlock(s);
    s->conns = grow(s->conns, &s->conns_cap, s->nconns + 1, sizeof *s->conns);
    s->conns[s->nconns++] = c;
  }
}

static void *server_main(void *arg) {
  ts_server *s = arg;
  size_t i;
  for (;;) {
    int64_t now;
    int timeout = -1, stop, accepting, rc;
    size_t base = 1 + (size_t)s->nports, np, nc, k;
    srv_lock(s);
    stop = s->stopping;
    srv_unlock(s);
    if (stop)
      break;
    now = mono_ms();
    nc = s->nconns;
    np = base + nc;
    s->pfds = grow(s->pfds, &s->pfds_cap, np, sizeof *s->pfds);
    s->pfds[0].fd = s->wake[0];
    s->pfds[0].events = POLLIN;
    accepting = now >= s->accept_resume;
    if (!accepting)
      timeout = (int)(s->accept_resume - now);
    for (i = 0; i < (size_t)s->nports; i++) {
      s->pfds[1 + i].fd = s->lfd[i];
      s->pfds[1 + i].events = accepting ? POLLIN : 0;
    }
    for (i = 0; i < nc; i++) {
      struct conn *c = s->conns[i];
      short ev = 0;
      if (!c->peer_eof && c->in_len - c->in_off < TS_IN_MAX)
        ev |= POLLIN;
      if (c->out_off < c->out_len)
        ev |= POLLOUT;
      s->pfds[base + i].fd = c->fd;
      s->pfds[base + i].events = ev;
      if (c->wake_at) {
        int64_t t = c->wake_at - now;
        if (t < 0)
          t = 0;
        if (timeout < 0 || t < timeout)
          timeout = (int)t;
      }
    }
    for (i = 0; i < np; i++)
      s->pfds[i].revents = 0;
    rc = poll(s->pfds, (nfds_t)np, timeout);
    if (rc < 0 && errno != EINTR)
      break;
    if (rc < 0)
      continue;
    if (s->pfds[0].revents) {
      char buf[64];
      while (read(s->wake[0], buf, sizeof buf) > 0) {
      }
    }
    now = mono_ms();
    for (i = 0; i < nc; i++) {
      struct conn *c = s->conns[i];
      short re = s->pfds[base + i].revents;
      if (re || (c->wake_at && now >= c->wake_at))
        conn_event(s, c, re);
    }
    for (i = 0; i < (size_t)s->nports; i++)
      if (s->pfds[1 + i].revents & POLLIN)
        accept_all(s, (int)i);
    for (i = k = 0; i < s->nconns; i++) {
      if (s->conns[i]->st == CS_DEAD)
        conn_free(s->conns[i]);
      else
        s->conns[k++] = s->conns[i];
    }
    s->nconns = k;
  }
  return NULL;
}

/* ---- lifecycle ----------------------------------------------------------- */

static int listen_one(int *port) {
  struct sockaddr_in a;
  socklen_t al = sizeof a;
  int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1024) < 0 ||
      getsockname(fd, (struct sockaddr *)&a, &al) < 0 || set_nonblock(fd) < 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

static void server_free(ts_server *s) {
  size_t i;
  int p;
  for (i = 0; i < s->nconns; i++)
    conn_free(s->conns[i]);
  free(s->conns);
  free(s->pfds);
  for (p = 0; p < s->nports; p++)
    if (s->lfd[p] >= 0)
      close(s->lfd[p]);
  if (s->wake[0] >= 0)
    close(s->wake[0]);
  if (s->wake[1] >= 0)
    close(s->wake[1]);
  routes_clear(s);
  requests_clear(s);
  resp_free(s->notfound);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

ts_server *ts_start(int nports) {
  ts_server *s;
  pthread_condattr_t ca;
  int i;
  if (nports < 1 || nports > TS_MAX_PORTS)
    return NULL;
  s = xmalloc(sizeof *s);
  memset(s, 0, sizeof *s);
  s->nports = nports;
  s->wake[0] = s->wake[1] = -1;
  for (i = 0; i < TS_MAX_PORTS; i++)
    s->lfd[i] = -1;
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_condattr_destroy(&ca);
  s->notfound = resp_new(NULL);
  ts_resp_simple(s->notfound, 404, "Content-Type: text/plain\r\n",
                 "no route for this target\n");
  for (i = 0; i < nports; i++) {
    s->lfd[i] = listen_one(&s->port[i]);
    if (s->lfd[i] < 0)
      goto fail;
  }
  if (pipe(s->wake) < 0) {
    s->wake[0] = s->wake[1] = -1;
    goto fail;
  }
  if (set_nonblock(s->wake[0]) < 0 || set_nonblock(s->wake[1]) < 0)
    goto fail;
  if (pthread_create(&s->thr, NULL, server_main, s) != 0)
    goto fail;
  s->thr_started = 1;
  return s;
fail:
  server_free(s);
  return NULL;
}

void ts_stop(ts_server *s) {
  if (!s)
    return;
  if (s->thr_started) {
    ssize_t w;
    srv_lock(s);
    s->stopping = 1;
    srv_unlock(s);
    do
      w = write(s->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(s->thr, NULL);
  }
  server_free(s);
}

int ts_port(const ts_server *s, int idx) {
  if (!s || idx < 0 || idx >= s->nports)
    return -1;
  return s->port[idx];
}

char *ts_url(const ts_server *s, int idx, const char *path) {
  const char *p = path ? path : "/";
  const char *slash = p[0] == '/' ? "" : "/";
  int n =
      snprintf(NULL, 0, "http://127.0.0.1:%d%s%s", ts_port(s, idx), slash, p);
  char *u = xmalloc((size_t)n + 1);
  snprintf(u, (size_t)n + 1, "http://127.0.0.1:%d%s%s", ts_port(s, idx), slash,
           p);
  return u;
}
