/* SPDX-License-Identifier: MIT */
/* The six cases: their sides (each a function running N operations over
 * state that lives as long as the case), their tables and verdicts. */
#include <curl/curl.h>
#include <httpresp/httpresp.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* ---- raw libcurl --------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

/* `n` GETs of `url` over the side's handle, libcurl following redirects
 * itself when `hops` > 0 (and expected to follow exactly that many). */
void raw_gets(side *s, const char *url, long hops, size_t n, meas *m) {
  CURL *e = s->easy;
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, hops ? 1L : 0L);
  meas_begin(m);
  for (size_t i = 0; i < n; i++) {
    curl_easy_setopt(e, CURLOPT_URL, url);
    CURLcode rc = curl_easy_perform(e);
    long code = 0, redirects = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    if (hops)
      curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirects);
    if (rc != CURLE_OK || code != 200 || redirects != hops)
      m->errors++;
  }
  meas_end(m, n);
}

/* ---- libhttpresp --------------------------------------------------------- */

void die_on(int rc, const char *what) {
  if (rc) {
    fprintf(stderr, "%s: %s\n", what, httpresp_strerror(rc));
    exit(2);
  }
}

httpresp_client *new_client(httpresp_cache *cache) {
  httpresp_client *c;
  die_on(httpresp_client_new(&c), "httpresp_client_new");
  if (cache)
    die_on(httpresp_client_set_cache(c, cache), "httpresp_client_set_cache");
  return c;
}

/* Drops the body like raw_gets's write callback, counting its bytes. */
static size_t count_sink(void *ud, const char *data, size_t len) {
  (void)data;
  *(size_t *)ud += len;
  return len;
}

/* One request through the blocking driver; returns its response.  With
 * `sunk`, the body goes to count_sink instead of being collected. */
httpresp_response *hr_get(httpresp_client *c, CURL *e, const char *url,
                          size_t *sunk) {
  httpresp_request *req;
  die_on(httpresp_request_new(&req, "GET", url), "httpresp_request_new");
  if (sunk)
    httpresp_request_set_sink(req, count_sink, sunk);
  httpresp_response *resp = NULL;
  httpresp_perform(c, e, req, &resp);
  httpresp_request_free(req);
  return resp;
}

/* `n` GETs of `url` through `c`; each request is built anew, as a client
 * fetching different URLs would. */
void hr_gets(side *s, httpresp_client *c, const char *url, const expect *want,
             size_t n, meas *m) {
  meas_begin(m);
  for (size_t i = 0; i < n; i++) {
    size_t sunk = 0, blen = 0;
    httpresp_response *r = hr_get(c, s->easy, url, want->sink ? &sunk : NULL);
    if (r)
      httpresp_response_body(r, &blen);
    if (!r || httpresp_response_error(r) ||
        httpresp_response_status(r) != 200 ||
        httpresp_response_hop_count(r) != want->hops ||
        (want->sink ? sunk : blen) != want->body ||
        httpresp_response_cache_status(r) != want->cache)
      m->errors++;
    httpresp_response_free(r);
  }
  meas_end(m, n);
}

/* ---- objects the cases share ----------------------------------------------
 */

static httpresp_client *plain_client; /* no cache */
static httpresp_client *mem_client, *disk_client;
static httpresp_cache *mem_cache, *disk_cache;
static char disk_dir[64];

static void make_disk_dir(void) {
  snprintf(disk_dir, sizeof(disk_dir), "/tmp/hrbench-XXXXXX");
  if (!mkdtemp(disk_dir)) {
    perror("mkdtemp");
    exit(2);
  }
}

/* Removes directory `dir` and the files in it (a disk store's directory:
 * flat, no subdirectories). */
static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  char path[512];
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* Creates the clients and caches a case needs. */
static void make_shared(int with_disk) {
  plain_client = new_client(NULL);
  die_on(httpresp_cache_new_memory(&mem_cache, 64u << 20), "memory cache");
  mem_client = new_client(mem_cache);
  if (with_disk) {
    make_disk_dir();
    die_on(httpresp_cache_new_disk(&disk_cache, disk_dir, 64u << 20),
           "disk cache");
    disk_client = new_client(disk_cache);
  }
}

static void drop_shared(void) {
  httpresp_client_free(plain_client);
  httpresp_client_free(mem_client);
  httpresp_client_free(disk_client);
  httpresp_cache_free(mem_cache);
  httpresp_cache_free(disk_cache);
  if (disk_client)
    remove_dir(disk_dir);
  plain_client = mem_client = disk_client = NULL;
  mem_cache = disk_cache = NULL;
}

/* Stores `url` in the cache of `c` through one request. */
void prime(httpresp_client *c, const char *url, const char *what) {
  CURL *e = bench_easy();
  httpresp_response *r = hr_get(c, e, url, NULL);
  if (!r || httpresp_response_cache_status(r) != HTTPRESP_CACHE_STORED) {
    fprintf(stderr, "priming the %s cache failed: %s\n", what,
            r ? httpresp_cache_status_name(httpresp_response_cache_status(r))
              : "no response");
    exit(2);
  }
  httpresp_response_free(r);
  curl_easy_cleanup(e);
}

/* ---- the sides of cases 1 to 4 --------------------------------------------
 */

static const expect plain_want = {1, HTTPRESP_CACHE_NONE, BENCH_PLAIN_BODY, 1};
static const expect chain_want = {4, HTTPRESP_CACHE_NONE, BENCH_PLAIN_BODY, 1};
static const expect hit_want = {1, HTTPRESP_CACHE_HIT, BENCH_CACHED_BODY, 0};
static const expect reval200_want = {1, HTTPRESP_CACHE_NONE, BENCH_REVAL_BODY,
                                     0};
static const expect reval304_want = {1, HTTPRESP_CACHE_REVALIDATED,
                                     BENCH_REVAL_BODY, 0};

static void c1_curl(side *s, size_t n, meas *m) {
  raw_gets(s, url_plain, 0, n, m);
}
static void c1_hr(side *s, size_t n, meas *m) {
  hr_gets(s, plain_client, url_plain, &plain_want, n, m);
}
static void c2_curl(side *s, size_t n, meas *m) {
  raw_gets(s, url_r1, 3, n, m);
}
static void c2_hr(side *s, size_t n, meas *m) {
  hr_gets(s, plain_client, url_r1, &chain_want, n, m);
}
static void c3_rt(side *s, size_t n, meas *m) {
  raw_gets(s, url_cached, 0, n, m);
}
static void c3_mem(side *s, size_t n, meas *m) {
  hr_gets(s, mem_client, url_cached, &hit_want, n, m);
}
static void c3_disk(side *s, size_t n, meas *m) {
  hr_gets(s, disk_client, url_cached, &hit_want, n, m);
}
static void c4_curl(side *s, size_t n, meas *m) {
  raw_gets(s, url_reval, 0, n, m);
}
static void c4_plain(side *s, size_t n, meas *m) {
  hr_gets(s, plain_client, url_reval, &reval200_want, n, m);
}
static void c4_reval(side *s, size_t n, meas *m) {
  hr_gets(s, mem_client, url_reval, &reval304_want, n, m);
}

/* ---- cases 1 and 2: throughput next to raw libcurl ------------------------
 */

int rounds_of(int dflt) { return opt.rounds ? opt.rounds : dflt; }

/* Runs and reports the two sides of a throughput case: side 0 is raw
 * libcurl, side 1 libhttpresp. */
static void throughput_case(int ncase, side s[2], int rounds, int slices,
                            const char *unit) {
  run_rounds(s, 2, rounds, slices);
  summary v[2];
  for (int i = 0; i < 2; i++) {
    summarize(&s[i], rounds, &v[i]);
    print_side(s[i].name, &v[i], rounds, unit);
  }
  throughput_target(ncase, unit, &v[0], &v[1], rounds);
  errors_check(v, 2);
  conn_check(s[1].name, &v[1]);
}

void case1(void) {
  int rounds = rounds_of(sz.rounds);
  printf("\n[1] plain GET 200 over keep-alive: %zu requests per side and "
         "round, %d rounds\n",
         sz.plain, rounds);
  make_shared(0);
  side s[2] = {{.name = "libcurl easy", .run = c1_curl, .n = sz.plain},
               {.name = "httpresp_perform", .run = c1_hr, .n = sz.plain}};
  throughput_case(1, s, rounds, 10, "req/s");
  drop_shared();
}

void case2(void) {
  int rounds = rounds_of(sz.rounds);
  printf("\n[2] 3-hop same-origin redirect chain /r1 -> /r2 -> /r3 -> "
         "/final: %zu chains per side and round\n",
         sz.chains);
  make_shared(0);
  side s[2] = {
      {.name = "libcurl FOLLOWLOCATION", .run = c2_curl, .n = sz.chains},
      {.name = "httpresp_perform", .run = c2_hr, .n = sz.chains}};
  run_rounds(s, 2, rounds, 10);
  summary v[2];
  for (int i = 0; i < 2; i++) {
    summarize(&s[i], rounds, &v[i]);
    print_side(s[i].name, &v[i], rounds, "chains/s");
  }
  throughput_target(2, "chains/s", &v[0], &v[1], rounds);
  errors_check(v, 2);
  judge(0, v[1].reqs == 4 * v[1].ops,
        "libhttpresp: 4 requests per chain (%lu for %lu chains)", v[1].reqs,
        v[1].ops);
  conn_check("libhttpresp, redirects", &v[1]);
  drop_shared();
}

/* ---- case 3: cache hits -----------------------------------------------------
 */

void case3(void) {
  int rounds = rounds_of(sz.rounds);
  printf("\n[3] cache hit (fresh /cached, %d-byte body) vs one loopback "
         "round trip (raw libcurl GET /cached)\n",
         BENCH_CACHED_BODY);
  make_shared(1);
  prime(mem_client, url_cached, "memory");
  prime(disk_client, url_cached, "disk");
  side s[3] = {{.name = "libcurl round trip", .run = c3_rt, .n = sz.roundtrip},
               {.name = "memory-store hit", .run = c3_mem, .n = sz.mem_hits},
               {.name = "disk-store hit", .run = c3_disk, .n = sz.disk_hits}};
  run_rounds(s, 3, rounds, 10);
  summary v[3];
  for (int i = 0; i < 3; i++) {
    summarize(&s[i], rounds, &v[i]);
    print_side(s[i].name, &v[i], rounds, "ops/s");
  }
  double mem_x = v[0].us_med / v[1].us_med;
  double disk_x = v[0].us_med / v[2].us_med;
  printf("    memory hit %.2f us: %.1fx faster than the round trip (%.2f "
         "us); disk hit %.2f us: %.1fx\n",
         v[1].us_med, mem_x, v[0].us_med, v[2].us_med, disk_x);
  judge(1, mem_x >= 250,
        "case 3 memory hit >= 250x faster than a round trip: %.1fx", mem_x);
  errors_check(v, 3);
  judge(0, v[1].reqs + v[2].reqs == 0,
        "cache hits sent no request to the server (%lu)",
        v[1].reqs + v[2].reqs);
  drop_shared();
}

/* ---- case 4: 304 revalidation
 * ------------------------------------------------ */

void case4(void) {
  int rounds = rounds_of(sz.rounds);
  printf("\n[4] 304 revalidation vs a plain 200 of the same %d-byte body "
         "(/reval: ETag, no-cache): %zu per side and round\n",
         BENCH_REVAL_BODY, sz.reval);
  make_shared(0);
  prime(mem_client, url_reval, "memory");
  side s[3] = {
      {.name = "libcurl 200", .run = c4_curl, .n = sz.reval},
      {.name = "httpresp 200, no cache", .run = c4_plain, .n = sz.reval},
      {.name = "httpresp 304 -> stored", .run = c4_reval, .n = sz.reval}};
  run_rounds(s, 3, rounds, 10);
  summary v[3];
  for (int i = 0; i < 3; i++) {
    summarize(&s[i], rounds, &v[i]);
    print_side(s[i].name, &v[i], rounds, "req/s");
  }
  printf("    a revalidation takes %.2f us against %.2f us for the plain "
         "200 through libhttpresp\n    (rate ratio %.3f, CPU time ratio "
         "%.3f) and %.2f us for raw libcurl's 200\n",
         v[2].us_med, v[1].us_med, round_ratio(&v[1], &v[2], rounds, 0),
         1 / round_ratio(&v[1], &v[2], rounds, 1), v[0].us_med);
  errors_check(v, 3);
  judge(0, v[2].n304 == v[2].reqs && v[2].reqs == v[2].ops,
        "every revalidation was one request answered 304 (%lu of %lu)",
        v[2].n304, v[2].ops);
  drop_shared();
}

/* ---- case 5: many transfers over curl_multi
 * ----------------------------------- */

/* One side of case 5: a multi handle, INFLIGHT easy handles and, for
 * libhttpresp, a client and a context.  Raw libcurl follows the redirect
 * itself.  Both keep INFLIGHT connections in the pool (libcurl's default
 * shrinks it with the number of handles added, which would close
 * connections between slices). */
typedef struct multi_state {
  int hr;
  int many; /* case 9: MANY_INFLIGHT over MANY_ORIGINS, a mix of routes */
  size_t inflight;
  size_t next;        /* requests started so far (case 9 picks by it) */
  unsigned long n429; /* answers that stayed 429 */
  CURLM *mh;
  CURL **easy;
  size_t *sunk;
  struct curl_slist *resolve; /* case 9: every origin's name -> 127.0.0.1 */
  httpresp_client *client;
  httpresp_multi *hm;
} multi_state;

/* Case 9's request number `i`: origin i % MANY_ORIGINS; of every ten, one
 * /busy (429 with Retry-After: 0 every other time), two /redir-once and
 * seven /plain.  *hops: the redirects it takes. */
static const char *many_url(size_t i, char *buf, size_t cap, long *hops) {
  static const char *const path[10] = {"plain", "plain", "redir-once", "plain",
                                       "plain", "busy",  "redir-once", "plain",
                                       "plain", "plain"};
  const char *p = path[(i / MANY_ORIGINS) % 10];
  *hops = strcmp(p, "redir-once") == 0;
  snprintf(buf, cap, "http://o%zu.bench:%d/%s", i % MANY_ORIGINS, srv.port, p);
  return buf;
}

static void multi_open(multi_state *st, int hr, int many) {
  memset(st, 0, sizeof(*st));
  st->hr = hr;
  st->many = many;
  st->inflight = many ? MANY_INFLIGHT : INFLIGHT;
  st->easy = calloc(st->inflight, sizeof(*st->easy));
  st->sunk = calloc(st->inflight, sizeof(*st->sunk));
  st->mh = curl_multi_init();
  if (!st->mh || !st->easy || !st->sunk) {
    fprintf(stderr, "curl_multi_init failed\n");
    exit(2);
  }
  for (int o = 0; many && o < MANY_ORIGINS; o++) {
    char entry[64];
    snprintf(entry, sizeof(entry), "o%d.bench:%d:127.0.0.1", o, srv.port);
    st->resolve = curl_slist_append(st->resolve, entry);
  }
  curl_multi_setopt(st->mh, CURLMOPT_MAXCONNECTS, (long)st->inflight);
  for (size_t k = 0; k < st->inflight; k++) {
    st->easy[k] = bench_easy();
    if (many)
      curl_easy_setopt(st->easy[k], CURLOPT_RESOLVE, st->resolve);
    if (!hr) {
      curl_easy_setopt(st->easy[k], CURLOPT_WRITEFUNCTION, discard);
      curl_easy_setopt(st->easy[k], CURLOPT_FOLLOWLOCATION, 1L);
    }
  }
  if (hr) {
    st->client = new_client(NULL);
    die_on(httpresp_multi_new(&st->hm, st->client, st->mh),
           "httpresp_multi_new");
  }
}

static void multi_close(multi_state *st) {
  httpresp_multi_free(st->hm);
  httpresp_client_free(st->client);
  for (size_t k = 0; k < st->inflight; k++)
    curl_easy_cleanup(st->easy[k]);
  curl_multi_cleanup(st->mh);
  curl_slist_free_all(st->resolve);
  free(st->easy);
  free(st->sunk);
}

/* The URL of the next request and the redirects it takes. */
static const char *next_url(multi_state *st, char *buf, size_t cap,
                            long *hops) {
  size_t i = st->next++;
  if (!st->many) {
    *hops = 1;
    return url_redir_once;
  }
  return many_url(i, buf, cap, hops);
}

/* The redirects each easy handle's request takes (raw side's check). */
static long raw_hops[MANY_INFLIGHT];

static void raw_start(multi_state *st, CURL *e, size_t k) {
  char buf[128];
  curl_easy_setopt(e, CURLOPT_URL,
                   next_url(st, buf, sizeof(buf), &raw_hops[k]));
  curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)k);
  curl_multi_add_handle(st->mh, e);
}

/* Starts one request over `e`; its body is counted into *sunk. */
static void hr_start(multi_state *st, CURL *e, size_t *sunk) {
  char buf[128];
  long hops;
  const char *url = next_url(st, buf, sizeof(buf), &hops);
  httpresp_request *req;
  die_on(httpresp_request_new(&req, "GET", url), "request");
  httpresp_request_set_sink(req, count_sink, sunk);
  *sunk = 0;
  die_on(httpresp_multi_add(st->hm, e, req, sunk), "httpresp_multi_add");
  httpresp_request_free(req);
}

/* Raw libcurl: `n` requests, at most st->inflight at a time. */
static void multi_raw_run(multi_state *st, size_t n, meas *m) {
  size_t started = 0, completed = 0;
  meas_begin(m);
  for (size_t k = 0; k < st->inflight && started < n; k++, started++)
    raw_start(st, st->easy[k], k);
  while (completed < n) {
    int running = 0;
    curl_multi_perform(st->mh, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(st->mh, &left)) != NULL) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      CURL *e = msg->easy_handle;
      long code = 0, redirects = 0;
      void *k = NULL;
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
      curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirects);
      curl_easy_getinfo(e, CURLINFO_PRIVATE, &k);
      if (st->many && code == 429)
        st->n429++;
      else if (msg->data.result != CURLE_OK || code != 200 ||
               redirects != raw_hops[(size_t)k])
        m->errors++;
      completed++;
      curl_multi_remove_handle(st->mh, e);
      if (started < n) {
        raw_start(st, e, (size_t)k);
        started++;
      }
    }
    if (completed < n)
      curl_multi_poll(st->mh, NULL, 0, 1000, NULL);
  }
  meas_end(m, n);
}

/* libhttpresp: the same through httpresp_multi_add/perform/poll/next_done. */
static void multi_hr_run(multi_state *st, size_t n, meas *m) {
  size_t started = 0, completed = 0;
  meas_begin(m);
  for (size_t k = 0; k < st->inflight && started < n; k++, started++)
    hr_start(st, st->easy[k], &st->sunk[k]);
  while (completed < n) {
    int running = 0;
    httpresp_multi_perform(st->hm, &running);
    httpresp_response *r;
    CURL *e;
    void *ud;
    while (httpresp_multi_next_done(st->hm, &r, &e, &ud)) {
      size_t *got = ud;
      if (st->many && !httpresp_response_error(r) &&
          httpresp_response_status(r) == 429)
        st->n429++; /* still 429 after the repeats the policy allows */
      else if (httpresp_response_error(r) ||
               httpresp_response_status(r) != 200 ||
               (!st->many && httpresp_response_hop_count(r) != 2) ||
               *got != BENCH_PLAIN_BODY)
        m->errors++;
      httpresp_response_free(r);
      completed++;
      if (started < n) {
        hr_start(st, e, got);
        started++;
      }
    }
    if (completed < n)
      httpresp_multi_poll(st->hm, 1000);
  }
  meas_end(m, n);
}

static void multi_run(multi_state *st, size_t n, meas *m) {
  if (st->hr)
    multi_hr_run(st, n, m);
  else
    multi_raw_run(st, n, m);
}

static long status_kb(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return -1;
  char line[256];
  long v = -1;
  size_t n = strlen(field);
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, field, n) == 0 && line[n] == ':') {
      v = strtol(line + n + 1, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}

/* The child: one side of case 5 for its whole life.  Reads a count per
 * line, answers "ops wall cpu errors" per slice, and at end of input
 * "rss_at_start peak_rss" in KiB. */
int child_main(const char *which) {
  long rss0 = status_kb("VmRSS");
  multi_state st;
  multi_open(&st, strncmp(which, "httpresp", 8) == 0,
             strstr(which, "-many") != NULL);
  char line[64];
  while (fgets(line, sizeof(line), stdin)) {
    meas m;
    multi_run(&st, (size_t)strtoul(line, NULL, 10), &m);
    printf("%zu %.9f %.9f %lu\n", m.ops, m.wall, m.cpu, m.errors);
    fflush(stdout);
  }
  unsigned long n429 = st.n429;
  multi_close(&st);
  printf("%ld %ld %lu\n", rss0, status_kb("VmHWM"), n429);
  return 0;
}

/* Starts the child of a case 5 side (this program, run again). */
static void c5_open(side *s) {
  int in[2], out[2];
  char port[16];
  snprintf(port, sizeof(port), "%d", srv.port);
  if (pipe(in) != 0 || pipe(out) != 0) {
    perror("pipe");
    exit(2);
  }
  /* Our ends must not leak into the other side's child: holding the write
   * end of this child's input there, it would never see end of input. */
  fcntl(in[1], F_SETFD, FD_CLOEXEC);
  fcntl(out[0], F_SETFD, FD_CLOEXEC);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    exit(2);
  }
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execl(self_exe, self_exe, "--child-multi", s->which, port, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  s->child = pid;
  s->to_child = fdopen(in[1], "w");
  s->from_child = fdopen(out[0], "r");
  if (!s->to_child || !s->from_child) {
    perror("fdopen");
    exit(2);
  }
}

static void c5_run(side *s, size_t n, meas *m) {
  char line[256];
  meas_begin(m);
  fprintf(s->to_child, "%zu\n", n);
  fflush(s->to_child);
  meas got;
  if (!fgets(line, sizeof(line), s->from_child) ||
      sscanf(line, "%zu %lf %lf %lu", &got.ops, &got.wall, &got.cpu,
             &got.errors) != 4) {
    fprintf(stderr, "case 5: the %s child failed\n", s->which);
    exit(2);
  }
  meas_end(m, n);
  /* The child's own clock: no pipe or scheduling latency of ours. */
  m->wall = got.wall;
  m->cpu = got.cpu;
  m->errors = got.errors;
}

static void c5_close(side *s) {
  char line[128];
  fclose(s->to_child);
  if (!fgets(line, sizeof(line), s->from_child) ||
      sscanf(line, "%ld %ld %lu", &s->rss_start_kb, &s->rss_peak_kb,
             &s->n429) != 3)
    s->rss_start_kb = s->rss_peak_kb = -1;
  fclose(s->from_child);
  int st;
  while (waitpid(s->child, &st, 0) < 0 && errno == EINTR)
    ;
}

void case5(void) {
  int rounds = rounds_of(sz.rounds_multi);
  printf("\n[5] %zu requests per side and round, %d in flight, one redirect "
         "each (/redir-once -> /plain); each side in a process of its own\n",
         sz.multi, INFLIGHT);
  side s[2] = {{.name = "curl_multi FOLLOWLOCATION",
                .run = c5_run,
                .n = sz.multi,
                .open = c5_open,
                .close = c5_close,
                .which = "curl"},
               {.name = "httpresp_multi",
                .run = c5_run,
                .n = sz.multi,
                .open = c5_open,
                .close = c5_close,
                .which = "httpresp"}};
  throughput_case(5, s, rounds, 5, "req/s");
  printf("    peak RSS: curl_multi %ld KiB (%+ld KiB from its start), "
         "httpresp_multi %ld KiB (%+ld KiB)\n",
         s[0].rss_peak_kb, s[0].rss_peak_kb - s[0].rss_start_kb,
         s[1].rss_peak_kb, s[1].rss_peak_kb - s[1].rss_start_kb);
}

/* ---- case 9: many in flight across many origins
 * -------------------------------------- */

void case9(void) {
  int rounds = rounds_of(sz.rounds_multi);
  printf("\n[9] %zu requests per side and round, %d in flight across %d "
         "origins (names resolved to 127.0.0.1):\n    of every ten, seven "
         "/plain, two /redir-once, one /busy (429 with Retry-After: 0 every "
         "other time); each side in a process of its own\n",
         sz.many, MANY_INFLIGHT, MANY_ORIGINS);
  side s[2] = {{.name = "curl_multi FOLLOWLOCATION",
                .run = c5_run,
                .n = sz.many,
                .open = c5_open,
                .close = c5_close,
                .which = "curl-many"},
               {.name = "httpresp_multi",
                .run = c5_run,
                .n = sz.many,
                .open = c5_open,
                .close = c5_close,
                .which = "httpresp-many"}};
  run_rounds(s, 2, rounds, 5);
  summary v[2];
  for (int i = 0; i < 2; i++) {
    summarize(&s[i], rounds, &v[i]);
    print_side(s[i].name, &v[i], rounds, "req/s");
  }
  printf("    libhttpresp / libcurl: rate %.3f (median of %d round ratios); "
         "libhttpresp repeats each 429 (libcurl takes it as the answer)\n",
         round_ratio(&v[0], &v[1], rounds, 0), rounds);
  errors_check(v, 2);
  printf("    answers left at 429: curl_multi %lu, httpresp_multi %lu\n",
         s[0].n429, s[1].n429);
  long extra = (s[1].rss_peak_kb - s[1].rss_start_kb) -
               (s[0].rss_peak_kb - s[0].rss_start_kb);
  double per = (double)extra * 1024.0 / MANY_INFLIGHT;
  printf("    peak RSS: curl_multi %ld KiB (%+ld KiB from its start), "
         "httpresp_multi %ld KiB (%+ld KiB): %.0f B more per request in "
         "flight\n",
         s[0].rss_peak_kb, s[0].rss_peak_kb - s[0].rss_start_kb,
         s[1].rss_peak_kb, s[1].rss_peak_kb - s[1].rss_start_kb, per);
  judge(1, per <= 2048,
        "case 9 memory per request in flight beyond libcurl <= 2 KiB: %.0f B",
        per);
}

/* ---- case 6: memory per cached entry
 * ------------------------------------------- */

static size_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

/* Sends `n` requests for distinct URLs (/cached?tag=i) through `c`; adds
 * what each response holds (header field names and values, body) to
 * *payload and the URL lengths to *url_bytes. */
static void fill(httpresp_client *c, CURL *e, size_t n, const char *tag,
                 httpresp_cache_status want, size_t *payload, size_t *url_bytes,
                 unsigned long *bad) {
  char url[128];
  for (size_t i = 0; i < n; i++) {
    snprintf(url, sizeof(url), "%s?%s=%zu", url_cached, tag, i);
    httpresp_response *r = hr_get(c, e, url, NULL);
    size_t blen = 0;
    httpresp_response_body(r, &blen);
    if (httpresp_response_error(r) || httpresp_response_cache_status(r) != want)
      (*bad)++;
    size_t fields = 0;
    for (size_t k = 0; k < httpresp_response_header_count(r); k++) {
      const char *name, *value;
      httpresp_response_header_at(r, k, &name, &value);
      fields += strlen(name) + strlen(value);
    }
    *payload += fields + blen;
    *url_bytes += strlen(url);
    httpresp_response_free(r);
  }
}

void case6(void) {
  size_t n = sz.entries;
  printf("\n[6] heap held per cached entry: %zu responses of /cached stored "
         "in a memory cache through httpresp_perform (mallinfo2)\n",
         n);
  CURL *e = bench_easy();
  unsigned long bad = 0;
  size_t payload = 0, urls = 0;
  /* Warm up libcurl, the connection and malloc with a throw-away cache. */
  httpresp_cache *warm_cache;
  die_on(httpresp_cache_new_memory(&warm_cache, 256u << 20), "cache");
  httpresp_client *warm = new_client(warm_cache);
  fill(warm, e, n / 5 + 1, "w", HTTPRESP_CACHE_STORED, &payload, &urls, &bad);
  httpresp_client_free(warm);
  httpresp_cache_free(warm_cache);

  /* Control: the same requests without a cache hold nothing. */
  httpresp_client *plain = new_client(NULL);
  payload = urls = 0;
  size_t before = heap_in_use();
  fill(plain, e, n, "c", HTTPRESP_CACHE_NONE, &payload, &urls, &bad);
  size_t after = heap_in_use();
  double control = ((double)after - (double)before) / (double)n;
  httpresp_client_free(plain);

  httpresp_cache *cache;
  die_on(httpresp_cache_new_memory(&cache, 256u << 20), "cache");
  httpresp_client *c = new_client(cache);
  payload = urls = 0;
  before = heap_in_use();
  fill(c, e, n, "i", HTTPRESP_CACHE_STORED, &payload, &urls, &bad);
  after = heap_in_use();
  double per = ((double)after - (double)before) / (double)n;
  double stored = (double)payload / (double)n;
  double over = per - stored;
  printf("    heap per entry %.0f B = header fields + body %.0f B + overhead "
         "%.0f B (which includes the %.0f-byte URL, the cache key)\n",
         per, stored, over, (double)urls / (double)n);
  printf("    control: the same requests without a cache leave %.1f B per "
         "request\n",
         control);
  judge(1, over <= 512,
        "case 6 per-entry overhead <= 512 B beyond headers and body: %.0f B",
        over);
  judge(0, bad == 0, "every fill request was answered and stored (%lu bad)",
        bad);
  httpresp_client_free(c);
  httpresp_cache_free(cache);
  curl_easy_cleanup(e);
}

/* ---- case 7: the chain of case 2 on a slower path -------------------------
 */

static void c7_curl(side *s, size_t n, meas *m) {
  raw_gets(s, url_d1, 3, n, m);
}
static void c7_hr(side *s, size_t n, meas *m) {
  hr_gets(s, plain_client, url_d1, &chain_want, n, m);
}

void case7(void) {
  int rounds = rounds_of(sz.rounds);
  printf("\n[7] the 3-hop chain of case 2 with every answer 1 ms late (/d1 "
         "-> /d2 -> /d3 -> /dfinal):\n    %zu chains per side and round; "
         "what the loopback ratios mean on a network (no target)\n",
         sz.slow_chains);
  make_shared(0);
  side s[2] = {
      {.name = "libcurl FOLLOWLOCATION", .run = c7_curl, .n = sz.slow_chains},
      {.name = "httpresp_perform", .run = c7_hr, .n = sz.slow_chains}};
  run_rounds(s, 2, rounds, 5);
  summary v[2];
  for (int i = 0; i < 2; i++) {
    summarize(&s[i], rounds, &v[i]);
    print_side(s[i].name, &v[i], rounds, "chains/s");
  }
  printf("    libhttpresp / libcurl: rate %.3f (median of %d round ratios); "
         "libhttpresp %+.1f us per chain\n",
         round_ratio(&v[0], &v[1], rounds, 0), rounds,
         v[1].us_med - v[0].us_med);
  errors_check(v, 2);
  judge(0, v[1].reqs == 4 * v[1].ops,
        "case 7 libhttpresp: 4 requests per chain (%lu for %lu chains)",
        v[1].reqs, v[1].ops);
  drop_shared();
}

/* ---- case 8: a memory cache of a million entries ---------------------------
 */

#define URL_STRIDE 128

/* The URLs of a case 8 cache, /tiny?<tag>=<i>, URL_STRIDE bytes apart. */
typedef struct url_set {
  char *text;
  size_t n;
} url_set;

static void url_set_make(url_set *u, size_t n, const char *tag) {
  u->n = n;
  u->text = malloc(n * URL_STRIDE);
  if (!u->text) {
    fprintf(stderr, "case 8: no memory for %zu URLs\n", n);
    exit(2);
  }
  for (size_t i = 0; i < n; i++)
    snprintf(u->text + i * URL_STRIDE, URL_STRIDE, "%.60s?%.4s=%zu", url_tiny,
             tag, i);
}

static const char *url_at(const url_set *u, size_t i) {
  return u->text + i * URL_STRIDE;
}

/* Stores every URL of `u` through `c`; returns the seconds each tenth of
 * the fill took in tenth[10], adds the header field and body bytes of the
 * responses to *payload and the URL lengths to *url_bytes. */
static void fill_set(httpresp_client *c, CURL *e, const url_set *u,
                     double tenth[10], size_t *payload, size_t *url_bytes,
                     unsigned long *bad) {
  double t = wall_now();
  for (size_t i = 0; i < u->n; i++) {
    httpresp_response *r = hr_get(c, e, url_at(u, i), NULL);
    size_t blen = 0;
    httpresp_response_body(r, &blen);
    if (httpresp_response_error(r) ||
        httpresp_response_cache_status(r) != HTTPRESP_CACHE_STORED)
      (*bad)++;
    size_t fields = 0;
    for (size_t k = 0; k < httpresp_response_header_count(r); k++) {
      const char *name, *value;
      httpresp_response_header_at(r, k, &name, &value);
      fields += strlen(name) + strlen(value);
    }
    *payload += fields + blen;
    *url_bytes += strlen(url_at(u, i));
    httpresp_response_free(r);
    if ((i + 1) % (u->n / 10) == 0 && (i + 1) / (u->n / 10) <= 10) {
      double now = wall_now();
      tenth[(i + 1) / (u->n / 10) - 1] = now - t;
      t = now;
    }
  }
}

static httpresp_client *small_client, *big_client;
static url_set small_urls, big_urls;

/* `n` hits on URLs of `u` picked by a xorshift sequence (the same work
 * for both sides: one multiply-free step and a modulo per hit). */
static void hits(side *s, httpresp_client *c, const url_set *u, size_t n,
                 meas *m) {
  static const expect want = {1, HTTPRESP_CACHE_HIT, 5, 0};
  uint64_t x = 0x9e3779b97f4a7c15u;
  meas_begin(m);
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    httpresp_response *r = hr_get(c, s->easy, url_at(u, x % u->n), NULL);
    size_t blen = 0;
    if (r)
      httpresp_response_body(r, &blen);
    if (!r || httpresp_response_error(r) ||
        httpresp_response_status(r) != 200 || blen != want.body ||
        httpresp_response_cache_status(r) != want.cache)
      m->errors++;
    httpresp_response_free(r);
  }
  meas_end(m, n);
}

static void c8_small(side *s, size_t n, meas *m) {
  hits(s, small_client, &small_urls, n, m);
}
static void c8_big(side *s, size_t n, meas *m) {
  hits(s, big_client, &big_urls, n, m);
}

/* Cases 8 and 10: hits on the big store against hits on the 1,000-entry
 * one (c8_big, c8_small), `ops` per side and round, side by side; judges
 * the big store's hit within 1.5x of the small one's, and checks that every
 * hit was right and stayed off the network. */
static void hits_big_against_small(int ncase, size_t n, size_t ops,
                                   int rounds) {
  side s[2] = {{.name = "hit, 1000 entries", .run = c8_small, .n = ops},
               {.name = "hit, big cache", .run = c8_big, .n = ops}};
  run_rounds(s, 2, rounds, 10);
  summary v[2];
  for (int i = 0; i < 2; i++) {
    summarize(&s[i], rounds, &v[i]);
    print_side(s[i].name, &v[i], rounds, "ops/s");
  }
  double slow = 1 / round_ratio(&v[0], &v[1], rounds, 0);
  printf("    a hit among %zu entries takes %.2f us, among 1000 %.2f us: "
         "%.2fx (median of round ratios)\n",
         n, v[1].us_med, v[0].us_med, slow);
  judge(1, slow <= 1.5, "case %d hit in %zu entries within 1.5x of 1000: %.2fx",
        ncase, n, slow);
  errors_check(v, 2);
  judge(0, v[0].reqs + v[1].reqs == 0,
        "case %d hits sent no request to the server (%lu)", ncase,
        v[0].reqs + v[1].reqs);
}

/* Regular files, subdirectories and file bytes directly in `dir`. */
static void dir_usage(const char *dir, size_t *files, size_t *subdirs,
                      size_t *bytes) {
  *files = *subdirs = *bytes = 0;
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  char path[512];
  struct stat st;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
    if (lstat(path, &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode))
      (*subdirs)++;
    else if (S_ISREG(st.st_mode)) {
      (*files)++;
      *bytes += (size_t)st.st_size;
    }
  }
  closedir(d);
}

void case8(void) {
  int rounds = rounds_of(sz.rounds);
  size_t n = sz.big_entries;
  printf("\n[8] a memory cache of %zu entries (/tiny?b=N: max-age=3600, "
         "5-byte body) against one of 1000\n",
         n);
  CURL *e = bench_easy();
  unsigned long bad = 0;
  size_t payload = 0, urls = 0;
  double tenth[10] = {0};
  httpresp_cache *small_cache, *big_cache;
  die_on(httpresp_cache_new_memory(&small_cache, 64u << 20), "cache");
  die_on(httpresp_cache_new_memory(&big_cache, (size_t)4 << 30), "cache");
  small_client = new_client(small_cache);
  big_client = new_client(big_cache);
  url_set_make(&small_urls, 1000, "s");
  url_set_make(&big_urls, n, "b");
  fill_set(small_client, e, &small_urls, tenth, &payload, &urls, &bad);

  payload = urls = 0;
  size_t before = heap_in_use();
  double t0 = wall_now();
  fill_set(big_client, e, &big_urls, tenth, &payload, &urls, &bad);
  double fill_s = wall_now() - t0;
  size_t after = heap_in_use();
  double per = ((double)after - (double)before) / (double)n;
  double stored = (double)payload / (double)n;
  printf("    filled in %.1f s: %.0f entries/s, each a loopback fetch and a "
         "store (first tenth %.0f/s, last tenth %.0f/s)\n",
         fill_s, (double)n / fill_s, (double)(n / 10) / tenth[0],
         (double)(n / 10) / tenth[9]);
  if (opt.verbose)
    for (int k = 0; k < 10; k++)
      printf("    fill tenth %d: %.0f entries/s\n", k + 1,
             (double)(n / 10) / tenth[k]);
  printf("    heap per entry %.0f B = header fields + body %.0f B + overhead "
         "%.0f B (which includes the %.0f-byte URL)\n",
         per, stored, per - stored, (double)urls / (double)n);

  hits_big_against_small(8, n, sz.mem_hits / 4, rounds);
  judge(1, per - stored <= 512,
        "case 8 per-entry overhead <= 512 B beyond headers and body: %.0f B",
        per - stored);
  judge(0, bad == 0, "case 8 every fill request was stored (%lu bad)", bad);
  httpresp_client_free(small_client);
  httpresp_client_free(big_client);
  httpresp_cache_free(small_cache);
  httpresp_cache_free(big_cache);
  free(small_urls.text);
  free(big_urls.text);
  small_client = big_client = NULL;
  curl_easy_cleanup(e);
}

/* ---- one side alone, for profilers -----------------------------------------
 */

static void multi_profile(side *s, size_t n, meas *m) {
  multi_state st;
  multi_open(&st, strncmp(s->which, "httpresp", 8) == 0,
             strstr(s->which, "-many") != NULL);
  multi_run(&st, n, m);
  multi_close(&st);
}

/* `--profile NAME N`: one side, N operations, no warm-up and no rounds, so
 * that `valgrind --tool=callgrind` counts the instructions of exactly that
 * workload (compare N with 2N to take out the setup). */
int profile(const char *name, size_t n) {
  static const struct {
    const char *name;
    side_fn run;
    const char *which;
  } table[] = {{"plain-curl", c1_curl, ""},
               {"plain-httpresp", c1_hr, ""},
               {"chain-curl", c2_curl, ""},
               {"chain-httpresp", c2_hr, ""},
               {"roundtrip-curl", c3_rt, ""},
               {"hit-memory", c3_mem, ""},
               {"hit-disk", c3_disk, ""},
               {"reval-curl", c4_curl, ""},
               {"reval-200", c4_plain, ""},
               {"reval-304", c4_reval, ""},
               {"multi-curl", multi_profile, "curl"},
               {"multi-httpresp", multi_profile, "httpresp"},
               {"many-curl", multi_profile, "curl-many"},
               {"many-httpresp", multi_profile, "httpresp-many"}};
  size_t i = 0;
  while (i < sizeof(table) / sizeof(table[0]) &&
         strcmp(name, table[i].name) != 0)
    i++;
  if (i == sizeof(table) / sizeof(table[0])) {
    fprintf(stderr, "--profile: unknown side \"%s\"; one of:", name);
    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
      fprintf(stderr, " %s", table[i].name);
    fprintf(stderr, "\n");
    return 2;
  }
  make_shared(1);
  if (table[i].run == c3_mem)
    prime(mem_client, url_cached, "memory");
  if (table[i].run == c3_disk)
    prime(disk_client, url_cached, "disk");
  if (table[i].run == c4_reval)
    prime(mem_client, url_reval, "memory");
  side s = {.name = name, .which = table[i].which, .easy = bench_easy()};
  meas m;
  table[i].run(&s, n, &m);
  printf("%s: %zu ops in %.3f s = %.0f ops/s, %.2f us/op, cpu %.2f us/op, "
         "%lu bad, %lu new connections, %lu server requests\n",
         name, m.ops, m.wall, (double)m.ops / m.wall,
         m.wall * 1e6 / (double)m.ops, m.cpu * 1e6 / (double)m.ops, m.errors,
         m.conns, m.reqs);
  curl_easy_cleanup(s.easy);
  drop_shared();
  return m.errors ? 1 : 0;
}

/* ---- case 10: a disk cache of a hundred thousand entries ------------------
 */

void case10(void) {
  int rounds = rounds_of(sz.rounds);
  size_t n = sz.big_disk_entries;
  printf("\n[10] a disk cache of %zu entries (/tiny?b=N: max-age=3600, "
         "5-byte body) against one of 1000\n",
         n);
  CURL *e = bench_easy();
  unsigned long bad = 0;
  size_t payload = 0, urls = 0;
  double tenth[10] = {0};
  char small_dir[64], big_dir[64];
  snprintf(small_dir, sizeof(small_dir), "/tmp/hrbench-XXXXXX");
  snprintf(big_dir, sizeof(big_dir), "/tmp/hrbench-XXXXXX");
  if (!mkdtemp(small_dir) || !mkdtemp(big_dir)) {
    perror("mkdtemp");
    exit(2);
  }
  httpresp_cache *small_cache, *big_cache;
  die_on(httpresp_cache_new_disk(&small_cache, small_dir, 64u << 20),
         "disk cache");
  die_on(httpresp_cache_new_disk(&big_cache, big_dir, (size_t)4 << 30),
         "disk cache");
  small_client = new_client(small_cache);
  big_client = new_client(big_cache);
  url_set_make(&small_urls, 1000, "s");
  url_set_make(&big_urls, n, "b");
  fill_set(small_client, e, &small_urls, tenth, &payload, &urls, &bad);

  double t0 = wall_now();
  fill_set(big_client, e, &big_urls, tenth, &payload, &urls, &bad);
  double fill_s = wall_now() - t0;
  size_t files, subdirs, bytes;
  dir_usage(big_dir, &files, &subdirs, &bytes);
  printf("    filled in %.1f s: %.0f entries/s, each a loopback fetch and a "
         "file written and renamed (first tenth %.0f/s, last tenth %.0f/s)\n",
         fill_s, (double)n / fill_s, (double)(n / 10) / tenth[0],
         (double)(n / 10) / tenth[9]);
  printf("    the store's directory holds %zu files in %zu subdirectories, "
         "%.0f B per entry file\n",
         files, subdirs, files ? (double)bytes / (double)files : 0.0);

  hits_big_against_small(10, n, sz.disk_hits / 4, rounds);
  judge(0, bad == 0, "case 10 every fill request was stored (%lu bad)", bad);
  judge(0, files >= n, "case 10 the store holds a file per entry (%zu)", files);
  httpresp_client_free(small_client);
  httpresp_client_free(big_client);
  httpresp_cache_free(small_cache);
  httpresp_cache_free(big_cache);
  remove_dir(small_dir);
  remove_dir(big_dir);
  free(small_urls.text);
  free(big_urls.text);
  small_client = big_client = NULL;
  curl_easy_cleanup(e);
}
