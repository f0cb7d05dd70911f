/* SPDX-License-Identifier: MIT */
/* A Redis endpoint: per-thread hiredis connections and the back-off that
 * keeps a slow or absent Redis from ever holding a request up. */
#ifdef HTTPRESP_HAVE_REDIS

#include "redis_conn.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000

/* One thread's connection.  Linked into its endpoint so that freeing the
 * endpoint frees the connections of threads still running. */
typedef struct tconn {
  hr_redis *owner;
  redisContext *ctx;
  pid_t pid; /* the process that connected: a fork()ed child reconnects */
  struct tconn *prev, *next;
  /* A PTTL to send with this thread's next command (hr_redis_want_pttl),
   * then its answer, until taken or dropped. */
  char *pf_key;
  size_t pf_klen;
  int pf_state; /* 0: none, 1: wanted, 2: answered (pf_left) */
  int64_t pf_left;
  /* A reply read ahead for this thread's next operation (hr_redis_stash),
   * dropped by any other. */
  char *st_key;
  size_t st_klen;
  redisReply *st_rep;
} tconn;

struct hr_redis {
  char *host; /* NULL for a unix socket */
  char *path;
  int port;
  int db;
  char *prefix;
  struct timeval connect_tv, command_tv;
  pthread_key_t key;
  pthread_mutex_t mu; /* the list, the back-off, the version */
  tconn *conns;
  int64_t backoff_ms; /* 0: in use */
  int64_t aside_until;
  int probing;
  uint64_t rng;
  int version;
  int force_lua;
  const char *scripts[HR_REDIS_SCRIPTS_MAX]; /* under mu; only appended */
  size_t nscripts;
  /* The process's endpoints, shared by the stores on one address: */
  char *url;           /* as given */
  int refs;            /* the stores on it, under endpoints_mu */
  struct hr_redis *nx; /* the next in `endpoints`, under endpoints_mu */
};

/* A cache and an origin memory on the same Redis (same URL, prefix and
 * timeouts) share one endpoint: one connection per thread and one
 * back-off, so a request that meets a stopped Redis waits for one command
 * timeout, not one per store. */
static pthread_mutex_t endpoints_mu = PTHREAD_MUTEX_INITIALIZER;
static hr_redis *endpoints;

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval tv_ms(uint32_t ms) {
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  return tv;
}

static int parse_db(const char *s, int *db) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (!*s || *end || errno || v < 0 || v > 65535)
    return -1;
  *db = (int)v;
  return 0;
}

static int parse_url(hr_redis *r, const char *url) {
  if (strncmp(url, "unix://", 7) == 0) {
    const char *p = url + 7;
    if (*p != '/')
      return HTTPRESP_E_INVALID_ARG;
    const char *q = strchr(p, '?');
    size_t plen = q ? (size_t)(q - p) : strlen(p);
    if (q && (strncmp(q, "?db=", 4) != 0 || parse_db(q + 4, &r->db) != 0))
      return HTTPRESP_E_INVALID_ARG;
    if (plen < 2 || memchr(p, '@', plen))
      return HTTPRESP_E_INVALID_ARG;
    r->path = hr_strndup(p, plen);
    return r->path ? 0 : HTTPRESP_E_NOMEM;
  }
  if (strncmp(url, "redis://", 8) != 0)
    return HTTPRESP_E_INVALID_ARG;
  const char *h = url + 8;
  /* Credentials are not supported: refuse them rather than ignore them. */
  size_t hlen = strcspn(h, ":/?@");
  if (hlen == 0 || h[hlen] == '@' || h[hlen] == '?')
    return HTTPRESP_E_INVALID_ARG;
  const char *rest = h + hlen;
  r->port = 6379;
  if (*rest == ':') {
    char *end;
    errno = 0;
    long port = strtol(rest + 1, &end, 10);
    if (end == rest + 1 || errno || port < 1 || port > 65535 ||
        (*end && *end != '/'))
      return HTTPRESP_E_INVALID_ARG;
    r->port = (int)port;
    rest = end;
  }
  if (*rest == '/' && rest[1] && parse_db(rest + 1, &r->db) != 0)
    return HTTPRESP_E_INVALID_ARG;
  if (*rest && *rest != '/')
    return HTTPRESP_E_INVALID_ARG;
  r->host = hr_strndup(h, hlen);
  return r->host ? 0 : HTTPRESP_E_NOMEM;
}

static void stash_drop(tconn *t) {
  if (t->st_rep)
    freeReplyObject(t->st_rep);
  t->st_rep = NULL;
  free(t->st_key);
  t->st_key = NULL;
}

static void conn_close(tconn *t) {
  stash_drop(t);
  if (t->ctx)
    redisFree(t->ctx);
  t->ctx = NULL;
}

/* A thread ends: its connection goes with it. */
static void thread_gone(void *p) {
  tconn *t = p;
  hr_redis *r = t->owner;
  pthread_mutex_lock(&r->mu);
  if (t->prev)
    t->prev->next = t->next;
  else
    r->conns = t->next;
  if (t->next)
    t->next->prev = t->prev;
  pthread_mutex_unlock(&r->mu);
  conn_close(t);
  free(t->pf_key);
  free(t);
}

static void endpoint_free(hr_redis *r);

static int same_endpoint(const hr_redis *a, const hr_redis *b) {
  return strcmp(a->url, b->url) == 0 && strcmp(a->prefix, b->prefix) == 0 &&
         a->connect_tv.tv_sec == b->connect_tv.tv_sec &&
         a->connect_tv.tv_usec == b->connect_tv.tv_usec &&
         a->command_tv.tv_sec == b->command_tv.tv_sec &&
         a->command_tv.tv_usec == b->command_tv.tv_usec;
}

static int endpoint_new(hr_redis **out, const char *url,
                        const httpresp_redis_options *opts);

int hr_redis_new(hr_redis **out, const char *url,
                 const httpresp_redis_options *opts) {
  hr_redis *r;
  int rc = endpoint_new(&r, url, opts);
  if (rc)
    return rc;
  pthread_mutex_lock(&endpoints_mu);
  hr_redis *e = endpoints;
  while (e && !same_endpoint(e, r))
    e = e->nx;
  if (e) {
    e->refs++;
  } else {
    r->refs = 1;
    r->nx = endpoints;
    endpoints = r;
  }
  pthread_mutex_unlock(&endpoints_mu);
  if (e)
    endpoint_free(r);
  *out = e ? e : r;
  return 0;
}

static int endpoint_new(hr_redis **out, const char *url,
                        const httpresp_redis_options *opts) {
  *out = NULL;
  if (!url || (opts && opts->version != HTTPRESP_REDIS_OPTIONS_VERSION))
    return HTTPRESP_E_INVALID_ARG;
  hr_redis *r = calloc(1, sizeof(*r));
  if (!r)
    return HTTPRESP_E_NOMEM;
  int rc = parse_url(r, url);
  const char *prefix = opts && opts->key_prefix ? opts->key_prefix : "hr:v1:";
  if (rc == 0 &&
      (!(r->prefix = hr_strdup(prefix)) || !(r->url = hr_strdup(url))))
    rc = HTTPRESP_E_NOMEM;
  if (rc == 0 && pthread_mutex_init(&r->mu, NULL) != 0)
    rc = HTTPRESP_E_NOMEM;
  if (rc == 0 && pthread_key_create(&r->key, thread_gone) != 0) {
    pthread_mutex_destroy(&r->mu);
    rc = HTTPRESP_E_NOMEM;
  }
  if (rc) {
    free(r->host);
    free(r->path);
    free(r->prefix);
    free(r->url);
    free(r);
    return rc;
  }
  uint32_t cms =
      opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : 100;
  uint32_t tms =
      opts && opts->command_timeout_ms ? opts->command_timeout_ms : 200;
  r->connect_tv = tv_ms(cms);
  r->command_tv = tv_ms(tms);
  r->rng =
      (uint64_t)mono_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)r;
  *out = r;
  return 0;
}

void hr_redis_free(hr_redis *r) {
  if (!r)
    return;
  pthread_mutex_lock(&endpoints_mu);
  int last = --r->refs == 0;
  if (last) {
    hr_redis **pp = &endpoints;
    while (*pp != r)
      pp = &(*pp)->nx;
    *pp = r->nx;
  }
  pthread_mutex_unlock(&endpoints_mu);
  if (last)
    endpoint_free(r);
}

static void endpoint_free(hr_redis *r) {
  /* After the key is deleted no thread's destructor runs for it, so every
   * connection can go here. */
  pthread_key_delete(r->key);
  for (tconn *t = r->conns, *n; t; t = n) {
    n = t->next;
    conn_close(t);
    free(t->pf_key);
    free(t);
  }
  pthread_mutex_destroy(&r->mu);
  free(r->host);
  free(r->path);
  free(r->prefix);
  free(r->url);
  free(r);
}

const char *hr_redis_prefix(const hr_redis *r) { return r->prefix; }

/* "redis_version:7.0.15" in INFO server, as major * 100 + minor. */
static int parse_version(const redisReply *rep) {
  int v = 0;
  if (rep->type == REDIS_REPLY_STRING) {
    const char *p = strstr(rep->str, "redis_version:");
    if (p) {
      char *end;
      long major = strtol(p + 14, &end, 10);
      long minor = *end == '.' ? strtol(end + 1, NULL, 10) : 0;
      if (major >= 0 && major < 1000 && minor >= 0 && minor < 100)
        v = (int)(major * 100 + minor);
    }
  }
  return v;
}

void hr_redis_use_scripts(hr_redis *r, const char *const *scripts, size_t n) {
  pthread_mutex_lock(&r->mu);
  for (size_t i = 0; i < n; i++) {
    size_t j = 0;
    while (j < r->nscripts && strcmp(r->scripts[j], scripts[i]) != 0)
      j++;
    if (j == r->nscripts && j < HR_REDIS_SCRIPTS_MAX)
      r->scripts[r->nscripts++] = scripts[i];
  }
  pthread_mutex_unlock(&r->mu);
}

static int conn_open(hr_redis *r, tconn *t) {
  /* A fresh context every time, never redisReconnect: hiredis 0.14 drops
   * the command timeout on reconnect. */
  redisContext *ctx =
      r->host ? redisConnectWithTimeout(r->host, r->port, r->connect_tv)
              : redisConnectUnixWithTimeout(r->path, r->connect_tv);
  if (!ctx)
    return -1;
  t->ctx = ctx;
  t->pid = getpid();
  if (ctx->err || redisSetTimeout(ctx, r->command_tv) != REDIS_OK)
    return -1;
  /* One round trip: SELECT, INFO server (the version), and SCRIPT LOAD of
   * every script the stores run, so that EVALSHA never meets NOSCRIPT on
   * a fresh connection. */
  const char *scripts[HR_REDIS_SCRIPTS_MAX];
  pthread_mutex_lock(&r->mu);
  size_t n = r->nscripts;
  memcpy(scripts, r->scripts, n * sizeof(scripts[0]));
  pthread_mutex_unlock(&r->mu);
  char num[8];
  int numlen = snprintf(num, sizeof(num), "%d", r->db);
  const char *select[2] = {"SELECT", num};
  size_t select_l[2] = {6, (size_t)numlen};
  const char *info[2] = {"INFO", "server"};
  size_t info_l[2] = {4, 6};
  int ok = (!r->db ||
            redisAppendCommandArgv(ctx, 2, select, select_l) == REDIS_OK) &&
           redisAppendCommandArgv(ctx, 2, info, info_l) == REDIS_OK;
  for (size_t i = 0; ok && i < n; i++) {
    const char *load[3] = {"SCRIPT", "LOAD", scripts[i]};
    size_t load_l[3] = {6, 4, strlen(scripts[i])};
    ok = redisAppendCommandArgv(ctx, 3, load, load_l) == REDIS_OK;
  }
  int v = 0;
  size_t replies = n + 1 + (r->db ? 1u : 0u);
  for (size_t i = 0; ok && i < replies; i++) {
    void *p = NULL;
    ok = redisGetReply(ctx, &p) == REDIS_OK && p;
    redisReply *rep = p;
    if (ok && r->db && i == 0)
      ok = rep->type == REDIS_REPLY_STATUS;
    else if (ok && i == (r->db ? 1u : 0u))
      v = parse_version(rep);
    /* A script the server refused to load is run by EVAL on NOSCRIPT. */
    if (p)
      freeReplyObject(p);
  }
  if (!ok)
    return -1;
  pthread_mutex_lock(&r->mu);
  r->version = v;
  pthread_mutex_unlock(&r->mu);
  return 0;
}

/* Whether this thread may use Redis now: always when it is in use; during
 * a back-off, not before its end, and then by one thread only (the
 * probe). */
static int admitted(hr_redis *r) {
  pthread_mutex_lock(&r->mu);
  int ok = 1;
  if (r->backoff_ms) {
    if (r->probing || mono_ms() < r->aside_until)
      ok = 0;
    else
      r->probing = 1;
  }
  pthread_mutex_unlock(&r->mu);
  return ok;
}

static tconn *thread_conn(hr_redis *r) {
  tconn *t = pthread_getspecific(r->key);
  if (t)
    return t;
  t = calloc(1, sizeof(*t));
  if (!t)
    return NULL;
  t->owner = r;
  if (pthread_setspecific(r->key, t) != 0) {
    free(t);
    return NULL;
  }
  pthread_mutex_lock(&r->mu);
  t->next = r->conns;
  if (r->conns)
    r->conns->prev = t;
  r->conns = t;
  pthread_mutex_unlock(&r->mu);
  return t;
}

/* hiredis writes with write(): a server gone away would raise SIGPIPE,
 * whose default kills the process.  The signal is blocked in this thread
 * while it talks to Redis, and one it raised is taken back before the mask
 * is restored; the process's dispositions are the caller's and stay
 * untouched. */
static _Thread_local struct {
  int active;
  int was_pending;
  sigset_t old;
} guard;

static void guard_begin(void) {
  sigset_t pipe, pending;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  sigpending(&pending);
  guard.was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe, &guard.old);
  guard.active = 1;
}

void hr_redis_end(void) {
  if (!guard.active)
    return;
  guard.active = 0;
  sigset_t pipe, pending;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  sigpending(&pending);
  if (!guard.was_pending && sigismember(&pending, SIGPIPE) == 1) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR)
      ;
  }
  pthread_sigmask(SIG_SETMASK, &guard.old, NULL);
}

redisContext *hr_redis_ctx(hr_redis *r) {
  if (!admitted(r))
    return NULL;
  guard_begin();
  tconn *t = thread_conn(r);
  if (!t) {
    hr_redis_done(r, 0);
    hr_redis_end();
    return NULL;
  }
  stash_drop(t); /* read ahead for another operation than this one */
  if (t->ctx && (t->pid != getpid() || t->ctx->err))
    conn_close(t); /* a fork()ed child must not share its parent's socket */
  if (!t->ctx && conn_open(r, t) != 0) {
    hr_redis_done(r, 0);
    hr_redis_end();
    return NULL;
  }
  return t->ctx;
}

int hr_redis_done(hr_redis *r, int ok) {
  if (!ok) {
    tconn *t = pthread_getspecific(r->key);
    if (t)
      conn_close(t);
  }
  int back = 0;
  pthread_mutex_lock(&r->mu);
  if (ok) {
    back = r->backoff_ms != 0;
    r->backoff_ms = 0;
  } else {
    int64_t step = r->backoff_ms ? r->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (step > BACKOFF_MAX_MS)
      step = BACKOFF_MAX_MS;
    r->backoff_ms = step;
    /* xorshift64: a jitter of up to a quarter of the step keeps a fleet's
     * probes from arriving together. */
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    r->aside_until =
        mono_ms() + step - (int64_t)(r->rng % (uint64_t)(step / 4));
  }
  r->probing = 0;
  pthread_mutex_unlock(&r->mu);
  return back;
}

void hr_redis_want_pttl(hr_redis *r, const char *key, size_t klen) {
  tconn *t = thread_conn(r);
  if (!t)
    return;
  t->pf_state = 0;
  if (!key)
    return;
  char *k = realloc(t->pf_key, klen + 1);
  if (!k)
    return;
  memcpy(k, key, klen);
  k[klen] = '\0';
  t->pf_key = k;
  t->pf_klen = klen;
  t->pf_state = 1;
}

int hr_redis_take_pttl(hr_redis *r, const char *key, size_t klen,
                       int64_t *left) {
  tconn *t = pthread_getspecific(r->key);
  if (!t || t->pf_state != 2 || t->pf_klen != klen ||
      memcmp(t->pf_key, key, klen) != 0)
    return 0;
  t->pf_state = 0;
  *left = t->pf_left;
  return 1;
}

void hr_redis_stash(hr_redis *r, const char *key, size_t klen,
                    redisReply *rep) {
  tconn *t = pthread_getspecific(r->key);
  char *k = t ? malloc(klen + 1) : NULL;
  if (!k) {
    freeReplyObject(rep);
    return;
  }
  stash_drop(t);
  memcpy(k, key, klen);
  k[klen] = '\0';
  t->st_key = k;
  t->st_klen = klen;
  t->st_rep = rep;
}

redisReply *hr_redis_unstash(hr_redis *r, const char *key, size_t klen) {
  tconn *t = pthread_getspecific(r->key);
  if (!t || !t->st_rep)
    return NULL;
  redisReply *rep = NULL;
  if (t->st_klen == klen && memcmp(t->st_key, key, klen) == 0) {
    rep = t->st_rep;
    t->st_rep = NULL;
  }
  stash_drop(t);
  return rep;
}

redisReply *hr_redis_command(hr_redis *r, redisContext *ctx, int argc,
                             const char **argv, const size_t *lens, int xargc,
                             const char **xargv, const size_t *xlens,
                             redisReply **xrep) {
  tconn *t = pthread_getspecific(r->key);
  int pttl = t && t->pf_state == 1;
  if (!pttl && !xargc)
    return redisCommandArgv(ctx, argc, argv, lens);
  const char *pa[2] = {"PTTL", pttl ? t->pf_key : ""};
  size_t pl[2] = {4, pttl ? t->pf_klen : 0};
  if (pttl)
    t->pf_state = 0;
  if (redisAppendCommandArgv(ctx, argc, argv, lens) != REDIS_OK ||
      (xargc && redisAppendCommandArgv(ctx, xargc, xargv, xlens) != REDIS_OK) ||
      (pttl && redisAppendCommandArgv(ctx, 2, pa, pl) != REDIS_OK))
    return NULL;
  /* All the replies are read, whatever happens, or none is used. */
  void *rep[3] = {NULL, NULL, NULL};
  int n = 1 + (xargc ? 1 : 0) + (pttl ? 1 : 0), ok = 1;
  for (int i = 0; ok && i < n; i++)
    ok = redisGetReply(ctx, &rep[i]) == REDIS_OK && rep[i];
  if (!ok) {
    for (int i = 0; i < n; i++)
      if (rep[i])
        freeReplyObject(rep[i]);
    return NULL; /* the caller drops the connection */
  }
  if (pttl) {
    redisReply *p = rep[n - 1];
    if (p->type == REDIS_REPLY_INTEGER) {
      t->pf_left = p->integer > 0 ? (int64_t)p->integer : 0;
      t->pf_state = 2;
    }
    freeReplyObject(p);
  }
  if (xargc)
    *xrep = rep[1];
  return rep[0];
}

int hr_redis_server_version(hr_redis *r) {
  pthread_mutex_lock(&r->mu);
  int v = r->version;
  pthread_mutex_unlock(&r->mu);
  return v;
}

void hr_redis_force_lua(hr_redis *r, int on) { r->force_lua = on; }
int hr_redis_lua_forced(const hr_redis *r) { return r->force_lua; }

int hr_redis_aside(hr_redis *r) {
  pthread_mutex_lock(&r->mu);
  int aside = r->backoff_ms && (r->probing || mono_ms() < r->aside_until);
  pthread_mutex_unlock(&r->mu);
  return aside;
}

int64_t hr_redis_backoff_ms(hr_redis *r) {
  pthread_mutex_lock(&r->mu);
  int64_t v = r->backoff_ms;
  pthread_mutex_unlock(&r->mu);
  return v;
}

redisReply *hr_redis_eval(redisContext *ctx, const char *script,
                          const char *sha, int nkeys, int argc,
                          const char **argv, const size_t *lens) {
  enum { MAXARGS = 8 };
  if (argc + 3 > MAXARGS + 3)
    return NULL;
  char nk[12];
  int nklen = snprintf(nk, sizeof(nk), "%d", nkeys);
  const char *av[MAXARGS + 3];
  size_t al[MAXARGS + 3];
  av[0] = "EVALSHA";
  al[0] = 7;
  av[1] = sha;
  al[1] = strlen(sha);
  av[2] = nk;
  al[2] = (size_t)nklen;
  for (int i = 0; i < argc; i++) {
    av[3 + i] = argv[i];
    al[3 + i] = lens[i];
  }
  redisReply *rep = redisCommandArgv(ctx, argc + 3, av, al);
  if (rep && rep->type == REDIS_REPLY_ERROR &&
      strncmp(rep->str, "NOSCRIPT", 8) == 0) {
    /* The script cache is empty (a restart, SCRIPT FLUSH): EVAL loads it
     * again, and the next EVALSHA finds it. */
    freeReplyObject(rep);
    av[0] = "EVAL";
    al[0] = 4;
    av[1] = script;
    al[1] = strlen(script);
    rep = redisCommandArgv(ctx, argc + 3, av, al);
  }
  return rep;
}

#else
/* ISO C wants something in every translation unit. */
typedef int hr_redis_conn_unused;
#endif
