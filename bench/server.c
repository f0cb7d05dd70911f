/* SPDX-License-Identifier: MIT */
/* The benchmark's loopback server: one epoll loop, canned responses.
 *
 * Speed matters more than generality here: every response is prebuilt
 * (rebuilt once a second for the Date field), requests are recognised by
 * their request line and one header, and each batch of requests read from a
 * connection is answered with one write.  Anything the benchmark does not
 * send (bodies, chunked uploads) is not supported. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IN_CAP 16384
#define MAX_EVENTS 256
#define RESP_CAP (BENCH_REVAL_BODY + 1024)

typedef struct conn {
  int fd;
  int close_after; /* the client sent Connection: close */
  size_t inlen;
  char *out;
  size_t outlen, outoff, outcap;
  char in[IN_CAP];
} conn;

/* One canned response. */
typedef struct canned {
  char buf[RESP_CAP];
  size_t len;
} canned;

enum route {
  R_PLAIN,
  R_R1,
  R_R2,
  R_R3,
  R_FINAL,
  R_CACHED,
  R_REVAL,
  R_REVAL_304,
  R_REDIR_ONCE,
  R_D1, /* /d1 -> /d2 -> /d3 -> /dfinal: the chain, each answer 1 ms late */
  R_D2,
  R_D3,
  R_DFINAL,
  R_TINY,
  R_BUSY, /* /busy: 429 Retry-After: 0 every other time, else as /plain */
  R_LIMITED,
  R_LIMITED_429,
  R_NOT_FOUND,
  R_TOO_LARGE,
  R_COUNT
};

static canned responses[R_COUNT];
static char plain_body[BENCH_PLAIN_BODY + 1];
static char cached_body[BENCH_CACHED_BODY + 1];
static char reval_body[BENCH_REVAL_BODY + 1];

static void fill_body(char *b, size_t len, char c) {
  for (size_t i = 0; i < len; i++)
    b[i] = (i % 64 == 63) ? '\n' : c;
  b[len] = '\0';
}

static void canned_set(canned *c, const char *date, const char *status,
                       const char *extra, const char *body) {
  int n = snprintf(c->buf, sizeof(c->buf),
                   "HTTP/1.1 %s\r\nDate: %s\r\nServer: hrbench\r\n"
                   "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
                   "%s\r\n%s",
                   status, date, strlen(body), extra, body);
  if (n < 0 || (size_t)n >= sizeof(c->buf))
    abort(); /* a canned response that does not fit is a bug here */
  c->len = (size_t)n;
}

static void build_responses(time_t t) {
  char date[64];
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  canned_set(&responses[R_PLAIN], date, "200 OK", "", plain_body);
  canned_set(&responses[R_R1], date, "302 Found", "Location: /r2\r\n", "");
  canned_set(&responses[R_R2], date, "302 Found", "Location: /r3\r\n", "");
  canned_set(&responses[R_R3], date, "302 Found", "Location: /final\r\n", "");
  canned_set(&responses[R_FINAL], date, "200 OK", "", plain_body);
  canned_set(&responses[R_CACHED], date, "200 OK",
             "Cache-Control: max-age=3600\r\nETag: \"cached-v1\"\r\n",
             cached_body);
  canned_set(&responses[R_REVAL], date, "200 OK",
             "Cache-Control: no-cache\r\nETag: " BENCH_REVAL_ETAG "\r\n",
             reval_body);
  /* A 304 has no body; its Content-Length would describe the 200's. */
  int n = snprintf(responses[R_REVAL_304].buf, RESP_CAP,
                   "HTTP/1.1 304 Not Modified\r\nDate: %s\r\n"
                   "Server: hrbench\r\nCache-Control: no-cache\r\n"
                   "ETag: " BENCH_REVAL_ETAG "\r\n\r\n",
                   date);
  responses[R_REVAL_304].len = (size_t)n;
  canned_set(&responses[R_REDIR_ONCE], date, "302 Found",
             "Location: /plain\r\n", "");
  canned_set(&responses[R_D1], date, "302 Found", "Location: /d2\r\n", "");
  canned_set(&responses[R_D2], date, "302 Found", "Location: /d3\r\n", "");
  canned_set(&responses[R_D3], date, "302 Found", "Location: /dfinal\r\n", "");
  canned_set(&responses[R_DFINAL], date, "200 OK", "", plain_body);
  canned_set(&responses[R_TINY], date, "200 OK",
             "Cache-Control: max-age=3600\r\n", "tiny\n");
  canned_set(&responses[R_BUSY], date, "429 Too Many Requests",
             "Retry-After: 0\r\n", "");
  canned_set(&responses[R_LIMITED], date, "200 OK",
             "Cache-Control: no-store\r\n", "ok\n");
  canned_set(&responses[R_LIMITED_429], date, "429 Too Many Requests",
             "Retry-After: 2\r\nCache-Control: no-store\r\n", "slow down\n");
  canned_set(&responses[R_NOT_FOUND], date, "404 Not Found", "", "");
  canned_set(&responses[R_TOO_LARGE], date,
             "431 Request Header Fields Too Large", "Connection: close\r\n",
             "");
}

static int path_is(const char *p, size_t len, const char *want) {
  return strlen(want) == len && memcmp(p, want, len) == 0;
}

static enum route route_of(const char *path, size_t len) {
  static const struct {
    const char *path;
    enum route r;
  } table[] = {{"/plain", R_PLAIN},    {"/r1", R_R1},
               {"/r2", R_R2},          {"/r3", R_R3},
               {"/final", R_FINAL},    {"/cached", R_CACHED},
               {"/reval", R_REVAL},    {"/redir-once", R_REDIR_ONCE},
               {"/d1", R_D1},          {"/d2", R_D2},
               {"/d3", R_D3},          {"/dfinal", R_DFINAL},
               {"/tiny", R_TINY},      {"/busy", R_BUSY},
               {"/limited", R_LIMITED}};
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (path_is(path, len, table[i].path))
      return table[i].r;
  return R_NOT_FOUND;
}

/* Case-insensitive prefix test of a header line. */
static int line_starts(const char *line, const char *end, const char *name) {
  size_t n = strlen(name);
  if ((size_t)(end - line) < n)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char a = line[i], b = name[i];
    if (a >= 'A' && a <= 'Z')
      a = (char)(a - 'A' + 'a');
    if (a != b)
      return 0;
  }
  return 1;
}

static int contains(const char *s, const char *end, const char *needle) {
  size_t n = strlen(needle);
  for (; s + n <= end; s++)
    if (memcmp(s, needle, n) == 0)
      return 1;
  return 0;
}

/* Picks the response for one request head [head, end). */
static enum route answer(conn *c, const char *head, const char *end) {
  const char *sp = memchr(head, ' ', (size_t)(end - head));
  if (!sp)
    return R_NOT_FOUND;
  const char *path = sp + 1;
  const char *stop = path;
  while (stop < end && *stop != ' ' && *stop != '?' && *stop != '\r')
    stop++;
  enum route r = route_of(path, (size_t)(stop - path));
  const char *line = memchr(head, '\n', (size_t)(end - head));
  while (line && ++line < end) {
    const char *eol = memchr(line, '\n', (size_t)(end - line));
    if (!eol)
      eol = end;
    if (r == R_REVAL && line_starts(line, eol, "if-none-match:") &&
        contains(line, eol, BENCH_REVAL_ETAG))
      r = R_REVAL_304;
    else if (line_starts(line, eol, "connection:") &&
             contains(line, eol, "close"))
      c->close_after = 1;
    line = eol;
  }
  return r;
}

static unsigned long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long)ts.tv_sec * 1000ul +
         (unsigned long)ts.tv_nsec / 1000000ul;
}

/* /limited: the 429 once when armed; a 200 otherwise, counted as inside
 * the window when it comes within the 2 s the last 429 asked for. */
static enum route limited(bench_counters *k) {
  unsigned long now = mono_ms();
  atomic_fetch_add_explicit(&k->limited_total, 1, memory_order_relaxed);
  if (atomic_exchange(&k->limited_armed, 0)) {
    atomic_store(&k->limited_429_ms, now);
    return R_LIMITED_429;
  }
  unsigned long t = atomic_load(&k->limited_429_ms);
  if (t && now < t + BENCH_LIMITED_WINDOW_MS)
    atomic_fetch_add_explicit(&k->limited_inside, 1, memory_order_relaxed);
  return R_LIMITED;
}

static void out_append(conn *c, const char *data, size_t len) {
  if (c->outlen + len > c->outcap) {
    size_t cap = c->outcap ? c->outcap : 4096;
    while (cap < c->outlen + len)
      cap *= 2;
    char *o = realloc(c->out, cap);
    if (!o)
      abort();
    c->out = o;
    c->outcap = cap;
  }
  memcpy(c->out + c->outlen, data, len);
  c->outlen += len;
}

static void conn_close(int ep, conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->out);
  free(c);
}

/* Writes what is pending; returns -1 when the connection is to be closed. */
static int flush(int ep, conn *c) {
  while (c->outoff < c->outlen) {
    ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
      epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
      return 0;
    }
    if (n <= 0)
      return -1;
    c->outoff += (size_t)n;
  }
  if (c->outlen) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (c->outcap > 65536) { /* a one-off burst: give the memory back */
      free(c->out);
      c->out = NULL;
      c->outcap = 0;
    }
    c->outlen = c->outoff = 0;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  }
  return c->close_after ? -1 : 0;
}

static int on_readable(int ep, conn *c, bench_counters *k) {
  for (;;) {
    ssize_t n = read(c->fd, c->in + c->inlen, IN_CAP - c->inlen);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n <= 0)
      return -1;
    c->inlen += (size_t)n;
    if (c->inlen < IN_CAP)
      break; /* level-triggered: anything left comes with the next event */
  }
  size_t done = 0;
  for (;;) {
    const char *start = c->in + done;
    size_t avail = c->inlen - done;
    const char *end = NULL;
    for (size_t i = 3; i < avail; i++)
      if (start[i] == '\n' && start[i - 1] == '\r' && start[i - 2] == '\n' &&
          start[i - 3] == '\r') {
        end = start + i + 1;
        break;
      }
    if (!end)
      break;
    enum route r = answer(c, start, end);
    static unsigned long busy;
    if (r == R_BUSY && busy++ % 2)
      r = R_PLAIN;
    if (r >= R_D1 && r <= R_DFINAL) {
      /* What a short network path adds: one client waits at a time, so
       * the loop may sleep. */
      struct timespec ms = {0, 1000000};
      while (nanosleep(&ms, &ms) != 0 && errno == EINTR)
        ;
    }
    if (r == R_LIMITED)
      r = limited(k);
    out_append(c, responses[r].buf, responses[r].len);
    atomic_fetch_add_explicit(&k->requests, 1, memory_order_relaxed);
    if (r == R_REVAL_304)
      atomic_fetch_add_explicit(&k->not_modified, 1, memory_order_relaxed);
    done = (size_t)(end - c->in);
    if (c->close_after)
      break;
  }
  if (done) {
    memmove(c->in, c->in + done, c->inlen - done);
    c->inlen -= done;
  } else if (c->inlen == IN_CAP) {
    out_append(c, responses[R_TOO_LARGE].buf, responses[R_TOO_LARGE].len);
    c->close_after = 1;
  }
  return flush(ep, c);
}

static void on_accept(int ep, int lfd, bench_counters *k) {
  for (;;) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR)
        continue;
      return; /* EAGAIN, or out of descriptors: try again on the next event */
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn *c = calloc(1, sizeof(*c));
    if (!c)
      abort();
    c->fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(fd);
      free(c);
      continue;
    }
    atomic_fetch_add_explicit(&k->conns, 1, memory_order_relaxed);
  }
}

static void serve(int lfd, int stop_fd, bench_counters *k) {
  fill_body(plain_body, BENCH_PLAIN_BODY, 'p');
  fill_body(cached_body, BENCH_CACHED_BODY, 'c');
  fill_body(reval_body, BENCH_REVAL_BODY, 'r');
  time_t built = time(NULL);
  build_responses(built);
  int ep = epoll_create1(0);
  if (ep < 0)
    _exit(1);
  /* The two non-connection descriptors are told apart by these tags. */
  static int listen_tag, stop_tag;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listen_tag};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.ptr = &stop_tag;
  epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd, &ev);
  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(ep, evs, MAX_EVENTS, 1000);
    if (n < 0 && errno != EINTR)
      _exit(1);
    time_t t = time(NULL);
    if (t != built) {
      build_responses(t);
      built = t;
    }
    for (int i = 0; i < n; i++) {
      void *p = evs[i].data.ptr;
      if (p == &stop_tag)
        _exit(0); /* the parent closed its end: done */
      if (p == &listen_tag) {
        on_accept(ep, lfd, k);
        continue;
      }
      conn *c = p;
      int rc = 0;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        rc = on_readable(ep, c, k);
      else if (evs[i].events & EPOLLOUT)
        rc = flush(ep, c);
      if (rc < 0)
        conn_close(ep, c);
    }
  }
}

int bench_server_start(bench_server *s) {
  memset(s, 0, sizeof(*s));
  s->pid = -1;
  s->stop_fd = -1;
  void *shared = mmap(NULL, sizeof(bench_counters), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED)
    return -1;
  s->counters = shared;
  atomic_init(&s->counters->conns, 0);
  atomic_init(&s->counters->requests, 0);
  atomic_init(&s->counters->not_modified, 0);

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0)
    return -1;
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t alen = sizeof(a);
  if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      listen(lfd, 1024) != 0 ||
      getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
    close(lfd);
    return -1;
  }
  fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
  s->port = ntohs(a.sin_port);

  int p[2];
  if (pipe(p) != 0) {
    close(lfd);
    return -1;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(lfd);
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (pid == 0) {
    close(p[1]);
    signal(SIGPIPE, SIG_IGN);
    serve(lfd, p[0], s->counters);
    _exit(0);
  }
  close(lfd);
  close(p[0]);
  /* Programs exec'd by the benchmark must not keep the server alive. */
  fcntl(p[1], F_SETFD, FD_CLOEXEC);
  s->pid = pid;
  s->stop_fd = p[1];
  return 0;
}

void bench_server_stop(bench_server *s) {
  if (s->stop_fd >= 0)
    close(s->stop_fd);
  s->stop_fd = -1;
  if (s->pid > 0) {
    int st;
    while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
      ;
  }
  s->pid = -1;
  if (s->counters)
    munmap(s->counters, sizeof(bench_counters));
  s->counters = NULL;
}
