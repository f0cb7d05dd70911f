/* libhttpresp benchmark: the policy layer next to raw libcurl, on loopback.
 *
 * Every case runs its sides in alternating rounds (A,B then B,A, ...) so
 * that drift of a shared, busy machine falls on both sides alike, and the
 * judged figure is the median over rounds of the per-round ratio.  The
 * server runs in its own process (server.c); the client's CPU time per
 * operation is printed beside the wall-clock rate because it shows the
 * library's own cost without the server's share.  Case 5 runs each side in
 * a freshly exec'd copy of this program, so that its peak RSS is its own.
 *
 * See bench/README.md for what each case means and how to read the output. */
#include <curl/curl.h>
#include <httpresp/httpresp.h>

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define MAX_ROUNDS 64
#define MAX_SIDES 3
#define INFLIGHT 64

/* ---- settings ------------------------------------------------------------ */

typedef struct settings {
  int quick;
  int check;
  int verbose;
  unsigned cases; /* bit n: case n */
  int rounds;     /* 0: the mode's default */
} settings;

static settings opt;

/* Operations per side and round, full / quick. */
typedef struct sizes {
  int rounds, rounds_multi;
  size_t plain, chains, roundtrip, mem_hits, disk_hits, reval, multi, entries;
} sizes;

static const sizes full_sizes = {7, 5, 3000, 1000, 2000, 40000, 10000,
                                 2000, 10000, 5000};
static const sizes quick_sizes = {3, 3, 1000, 300, 500, 10000, 2000,
                                  500, 10000, 1000};
static sizes sz;

/* ---- the server and its URLs --------------------------------------------- */

static bench_server srv;
static char url_plain[80], url_r1[80], url_cached[80], url_reval[80],
    url_redir_once[80], url_base[64];

static void make_urls(int port) {
  snprintf(url_base, sizeof(url_base), "http://127.0.0.1:%d", port);
  snprintf(url_plain, sizeof(url_plain), "%s/plain", url_base);
  snprintf(url_r1, sizeof(url_r1), "%s/r1", url_base);
  snprintf(url_cached, sizeof(url_cached), "%s/cached", url_base);
  snprintf(url_reval, sizeof(url_reval), "%s/reval", url_base);
  snprintf(url_redir_once, sizeof(url_redir_once), "%s/redir-once", url_base);
}

/* ---- measuring ------------------------------------------------------------ */

typedef struct meas {
  size_t ops;
  double wall; /* seconds */
  double cpu;  /* seconds of this process, user + system */
  unsigned long conns, reqs, n304;
  unsigned long errors;
  long rss_start_kb, rss_peak_kb; /* case 5 children only */
  /* private: values at the start */
  double wall0, cpu0;
  unsigned long conns0, reqs0, n3040;
} meas;

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static unsigned long counter(atomic_ulong *c) {
  return atomic_load_explicit(c, memory_order_relaxed);
}

static void server_marks(meas *m) {
  m->conns0 = counter(&srv.counters->conns);
  m->reqs0 = counter(&srv.counters->requests);
  m->n3040 = counter(&srv.counters->not_modified);
}

static void server_deltas(meas *m) {
  m->conns = counter(&srv.counters->conns) - m->conns0;
  m->reqs = counter(&srv.counters->requests) - m->reqs0;
  m->n304 = counter(&srv.counters->not_modified) - m->n3040;
}

static void meas_begin(meas *m) {
  memset(m, 0, sizeof(*m));
  if (srv.counters)
    server_marks(m);
  m->cpu0 = cpu_now();
  m->wall0 = wall_now();
}

static void meas_end(meas *m, size_t ops) {
  m->wall = wall_now() - m->wall0;
  m->cpu = cpu_now() - m->cpu0;
  m->ops = ops;
  if (srv.counters)
    server_deltas(m);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(const double *v, size_t n) {
  double tmp[MAX_ROUNDS];
  if (n == 0)
    return 0;
  memcpy(tmp, v, n * sizeof(*v));
  qsort(tmp, n, sizeof(*tmp), cmp_double);
  return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static double min_of(const double *v, size_t n) {
  double m = v[0];
  for (size_t i = 1; i < n; i++)
    m = v[i] < m ? v[i] : m;
  return m;
}

static double max_of(const double *v, size_t n) {
  double m = v[0];
  for (size_t i = 1; i < n; i++)
    m = v[i] > m ? v[i] : m;
  return m;
}

/* ---- targets and checks --------------------------------------------------- */

typedef struct verdict {
  char what[96];
  char figure[48];
  int pass;
  int is_target; /* a target of the issue, or a sanity check */
} verdict;

static verdict verdicts[32];
static size_t nverdicts;

static void judge(int is_target, int pass, const char *figure,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void judge(int is_target, int pass, const char *figure,
                  const char *fmt, ...) {
  if (nverdicts == sizeof(verdicts) / sizeof(verdicts[0]))
    return;
  verdict *v = &verdicts[nverdicts++];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->what, sizeof(v->what), fmt, ap);
  va_end(ap);
  snprintf(v->figure, sizeof(v->figure), "%s", figure);
  v->pass = pass;
  v->is_target = is_target;
  printf("    %-7s %-58s %s\n", is_target ? "target" : "check", v->what,
         pass ? "PASS" : "FAIL");
}

/* ---- rounds --------------------------------------------------------------- */

typedef int (*side_fn)(size_t n, meas *m);

typedef struct side {
  const char *name;
  side_fn run;
  size_t n;
  meas res[MAX_ROUNDS];
} side;

/* Runs every side once briefly (warming caches and connections), then
 * `rounds` rounds, the order of the sides reversed every other round. */
static void run_rounds(side *s, size_t nsides, int rounds) {
  for (size_t i = 0; i < nsides; i++) {
    meas warm;
    s[i].run(s[i].n / 10 ? s[i].n / 10 : 1, &warm);
  }
  for (int r = 0; r < rounds; r++) {
    for (size_t k = 0; k < nsides; k++) {
      size_t i = r % 2 ? nsides - 1 - k : k;
      s[i].run(s[i].n, &s[i].res[r]);
    }
    if (opt.verbose) {
      printf("      round %d:", r + 1);
      for (size_t i = 0; i < nsides; i++)
        printf("  %s %.0f/s", s[i].name,
               (double)s[i].res[r].ops / s[i].res[r].wall);
      printf("\n");
    }
  }
}

typedef struct summary {
  double rate[MAX_ROUNDS];   /* ops/s per round */
  double us[MAX_ROUNDS];     /* wall µs per op per round */
  double cpu_us[MAX_ROUNDS]; /* client CPU µs per op per round */
  double rate_med, us_med, cpu_med;
  unsigned long conns, reqs, n304, errors, ops;
} summary;

static void summarize(const side *s, int rounds, summary *out) {
  memset(out, 0, sizeof(*out));
  for (int r = 0; r < rounds; r++) {
    const meas *m = &s->res[r];
    out->rate[r] = (double)m->ops / m->wall;
    out->us[r] = m->wall * 1e6 / (double)m->ops;
    out->cpu_us[r] = m->cpu * 1e6 / (double)m->ops;
    out->conns += m->conns;
    out->reqs += m->reqs;
    out->n304 += m->n304;
    out->errors += m->errors;
    out->ops += m->ops;
  }
  out->rate_med = median(out->rate, (size_t)rounds);
  out->us_med = median(out->us, (size_t)rounds);
  out->cpu_med = median(out->cpu_us, (size_t)rounds);
}

/* The median over rounds of b/a, each round's two figures taken together. */
static double round_ratio(const summary *a, const summary *b, int rounds,
                          int use_cpu) {
  double v[MAX_ROUNDS];
  for (int r = 0; r < rounds; r++)
    v[r] = use_cpu ? a->cpu_us[r] / b->cpu_us[r] : b->rate[r] / a->rate[r];
  return median(v, (size_t)rounds);
}

static void print_side(const char *name, const summary *s, int rounds,
                       const char *unit) {
  printf("    %-24s %9.0f %-9s [%7.0f .. %7.0f]  %7.2f us/op  cpu %6.2f "
         "us/op  conns %4lu  srv reqs %7lu\n",
         name, s->rate_med, unit, min_of(s->rate, (size_t)rounds),
         max_of(s->rate, (size_t)rounds), s->us_med, s->cpu_med, s->conns,
         s->reqs);
}

static void errors_check(const summary *s, size_t n) {
  unsigned long errs = 0;
  for (size_t i = 0; i < n; i++)
    errs += s[i].errors;
  char fig[32];
  snprintf(fig, sizeof(fig), "%lu", errs);
  judge(0, errs == 0, fig, "every operation got the expected answer (%lu bad)",
        errs);
}

/* ---- raw libcurl ----------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

static CURL *raw_easy(void) {
  CURL *e = curl_easy_init();
  if (!e) {
    fprintf(stderr, "curl_easy_init failed\n");
    exit(2);
  }
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  return e;
}

/* `n` GETs of `url` over one easy handle, following redirects when
 * `hops` > 0 (and expecting that many). */
static int raw_gets(const char *url, long hops, size_t n, meas *m) {
  CURL *e = raw_easy();
  if (hops)
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
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
  curl_easy_cleanup(e);
  return 0;
}

/* ---- libhttpresp ------------------------------------------------------------ */

static void die_on(int rc, const char *what) {
  if (rc) {
    fprintf(stderr, "%s: %s\n", what, httpresp_strerror(rc));
    exit(2);
  }
}

static httpresp_client *new_client(httpresp_cache *cache) {
  httpresp_client *c;
  die_on(httpresp_client_new(&c), "httpresp_client_new");
  if (cache)
    die_on(httpresp_client_set_cache(c, cache), "httpresp_client_set_cache");
  return c;
}

/* One request through the blocking driver; returns its response. */
static httpresp_response *hr_get(httpresp_client *c, CURL *e,
                                 const char *url) {
  httpresp_request *req;
  die_on(httpresp_request_new(&req, "GET", url), "httpresp_request_new");
  httpresp_response *resp = NULL;
  httpresp_perform(c, e, req, &resp);
  httpresp_request_free(req);
  return resp;
}

/* `n` GETs of `url` through `c`; each must end 200 with `hops` hops and
 * cache status `want_cache` (-1: any). */
static int hr_gets(httpresp_client *c, const char *url, size_t hops,
                   int want_cache, size_t want_body, size_t n, meas *m) {
  CURL *e = curl_easy_init();
  meas_begin(m);
  for (size_t i = 0; i < n; i++) {
    httpresp_response *r = hr_get(c, e, url);
    size_t blen = 0;
    if (r)
      httpresp_response_body(r, &blen);
    if (!r || httpresp_response_error(r) || httpresp_response_status(r) != 200 ||
        httpresp_response_hop_count(r) != hops || blen != want_body ||
        (want_cache >= 0 &&
         (int)httpresp_response_cache_status(r) != want_cache))
      m->errors++;
    httpresp_response_free(r);
  }
  meas_end(m, n);
  curl_easy_cleanup(e);
  return 0;
}

/* ---- case 1: plain GET --------------------------------------------------------- */

static httpresp_client *plain_client; /* no cache */

static int c1_curl(size_t n, meas *m) { return raw_gets(url_plain, 0, n, m); }
static int c1_hr(size_t n, meas *m) {
  return hr_gets(plain_client, url_plain, 1, HTTPRESP_CACHE_NONE,
                 BENCH_PLAIN_BODY, n, m);
}

/* Conns: one easy handle per side and round (plus the warm-up), so the
 * expected count is rounds + 1 when every request reused the connection. */
static void conn_check(const char *name, const summary *s, int rounds) {
  char fig[32];
  snprintf(fig, sizeof(fig), "%lu", s->conns);
  judge(0, s->conns <= (unsigned long)rounds, fig,
        "%s: one connection per round (%lu for %d rounds)", name, s->conns,
        rounds);
}

static void throughput_target(int ncase, const char *what, const summary *a,
                              const summary *b, int rounds) {
  double ratio = round_ratio(a, b, rounds, 0);
  double cpu = round_ratio(a, b, rounds, 1);
  printf("    ratio libhttpresp/libcurl  %.3f (median of %d round ratios; "
         "CPU per op %.3f)\n",
         ratio, rounds, cpu);
  char fig[32];
  snprintf(fig, sizeof(fig), "%.3f", ratio);
  judge(1, ratio >= 0.97, fig, "case %d %s >= 0.97 of libcurl: %.3f", ncase,
        what, ratio);
}

static void case1(void) {
  int rounds = opt.rounds ? opt.rounds : sz.rounds;
  printf("\n[1] plain GET 200 over keep-alive, %zu requests per side and "
         "round, %d rounds\n",
         sz.plain, rounds);
  plain_client = new_client(NULL);
  side s[2] = {{"libcurl easy", c1_curl, sz.plain, {{0}}},
               {"httpresp_perform", c1_hr, sz.plain, {{0}}}};
  run_rounds(s, 2, rounds);
  summary a, b;
  summarize(&s[0], rounds, &a);
  summarize(&s[1], rounds, &b);
  print_side(s[0].name, &a, rounds, "req/s");
  print_side(s[1].name, &b, rounds, "req/s");
  throughput_target(1, "req/s", &a, &b, rounds);
  summary both[2] = {a, b};
  errors_check(both, 2);
  conn_check(s[1].name, &b, rounds);
  httpresp_client_free(plain_client);
}

/* ---- case 2: 3-hop redirect chain ---------------------------------------------- */

static int c2_curl(size_t n, meas *m) { return raw_gets(url_r1, 3, n, m); }
static int c2_hr(size_t n, meas *m) {
  return hr_gets(plain_client, url_r1, 4, HTTPRESP_CACHE_NONE,
                 BENCH_PLAIN_BODY, n, m);
}

static void case2(void) {
  int rounds = opt.rounds ? opt.rounds : sz.rounds;
  printf("\n[2] 3-hop same-origin redirect chain /r1 -> /r2 -> /r3 -> /final, "
         "%zu chains per side and round\n",
         sz.chains);
  plain_client = new_client(NULL);
  side s[2] = {{"libcurl FOLLOWLOCATION", c2_curl, sz.chains, {{0}}},
               {"httpresp_perform", c2_hr, sz.chains, {{0}}}};
  run_rounds(s, 2, rounds);
  summary a, b;
  summarize(&s[0], rounds, &a);
  summarize(&s[1], rounds, &b);
  print_side(s[0].name, &a, rounds, "chains/s");
  print_side(s[1].name, &b, rounds, "chains/s");
  throughput_target(2, "chains/s", &a, &b, rounds);
  summary both[2] = {a, b};
  errors_check(both, 2);
  char fig[32];
  snprintf(fig, sizeof(fig), "%lu", b.reqs);
  judge(0, b.reqs == 4 * b.ops, fig,
        "libhttpresp sent 4 requests per chain (%lu for %lu)", b.reqs, b.ops);
  conn_check("libhttpresp redirects", &b, rounds);
  httpresp_client_free(plain_client);
}

/* ---- case 3: cache hits ---------------------------------------------------------- */

static httpresp_cache *mem_cache, *disk_cache;
static httpresp_client *mem_client, *disk_client;
static char disk_dir[64];

static int c3_rt(size_t n, meas *m) { return raw_gets(url_cached, 0, n, m); }
static int c3_mem(size_t n, meas *m) {
  return hr_gets(mem_client, url_cached, 1, HTTPRESP_CACHE_HIT,
                 BENCH_CACHED_BODY, n, m);
}
static int c3_disk(size_t n, meas *m) {
  return hr_gets(disk_client, url_cached, 1, HTTPRESP_CACHE_HIT,
                 BENCH_CACHED_BODY, n, m);
}

/* Removes the disk store's directory and what the store put in it. */
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

/* Stores /cached in `c` through one request; it must be stored. */
static void prime(httpresp_client *c, const char *url, const char *what) {
  CURL *e = curl_easy_init();
  httpresp_response *r = hr_get(c, e, url);
  if (!r || httpresp_response_cache_status(r) != HTTPRESP_CACHE_STORED) {
    fprintf(stderr, "priming the %s cache failed: %s\n", what,
            r ? httpresp_cache_status_name(httpresp_response_cache_status(r))
              : "no response");
    exit(2);
  }
  httpresp_response_free(r);
  curl_easy_cleanup(e);
}

static void case3(void) {
  int rounds = opt.rounds ? opt.rounds : sz.rounds;
  printf("\n[3] cache hit (fresh /cached, %d-byte body) vs one loopback "
         "round trip (raw libcurl GET /cached)\n",
         BENCH_CACHED_BODY);
  snprintf(disk_dir, sizeof(disk_dir), "/tmp/hrbench-XXXXXX");
  if (!mkdtemp(disk_dir)) {
    perror("mkdtemp");
    exit(2);
  }
  die_on(httpresp_cache_new_memory(&mem_cache, 64u << 20), "memory cache");
  die_on(httpresp_cache_new_disk(&disk_cache, disk_dir, 64u << 20),
         "disk cache");
  mem_client = new_client(mem_cache);
  disk_client = new_client(disk_cache);
  prime(mem_client, url_cached, "memory");
  prime(disk_client, url_cached, "disk");
  side s[3] = {{"libcurl round trip", c3_rt, sz.roundtrip, {{0}}},
               {"memory-store hit", c3_mem, sz.mem_hits, {{0}}},
               {"disk-store hit", c3_disk, sz.disk_hits, {{0}}}};
  run_rounds(s, 3, rounds);
  summary v[3];
  for (int i = 0; i < 3; i++)
    summarize(&s[i], rounds, &v[i]);
  for (int i = 0; i < 3; i++)
    print_side(s[i].name, &v[i], rounds, "ops/s");
  double mem_x = v[0].us_med / v[1].us_med;
  double disk_x = v[0].us_med / v[2].us_med;
  printf("    memory hit %.2f us = %.0fx faster than the round trip "
         "(%.2f us); disk hit %.2f us = %.1fx\n",
         v[1].us_med, mem_x, v[0].us_med, v[2].us_med, disk_x);
  char fig[32];
  snprintf(fig, sizeof(fig), "%.0fx", mem_x);
  judge(1, mem_x >= 100, fig,
        "case 3 memory hit >= 100x faster than a round trip: %.0fx", mem_x);
  errors_check(v, 3);
  snprintf(fig, sizeof(fig), "%lu", v[1].reqs + v[2].reqs);
  judge(0, v[1].reqs + v[2].reqs == 0, fig,
        "cache hits sent no request to the server (%lu)",
        v[1].reqs + v[2].reqs);
  httpresp_client_free(mem_client);
  httpresp_client_free(disk_client);
  httpresp_cache_free(mem_cache);
  httpresp_cache_free(disk_cache);
  remove_dir(disk_dir);
}

/* ---- case 4: 304 revalidation ---------------------------------------------------- */

static int c4_curl(size_t n, meas *m) { return raw_gets(url_reval, 0, n, m); }
static int c4_plain(size_t n, meas *m) {
  return hr_gets(plain_client, url_reval, 1, HTTPRESP_CACHE_NONE,
                 BENCH_REVAL_BODY, n, m);
}
static int c4_reval(size_t n, meas *m) {
  return hr_gets(mem_client, url_reval, 1, HTTPRESP_CACHE_REVALIDATED,
                 BENCH_REVAL_BODY, n, m);
}

static void case4(void) {
  int rounds = opt.rounds ? opt.rounds : sz.rounds;
  printf("\n[4] 304 revalidation vs a plain 200 of the same %d-byte body "
         "(/reval: ETag + no-cache), %zu per side and round\n",
         BENCH_REVAL_BODY, sz.reval);
  plain_client = new_client(NULL);
  die_on(httpresp_cache_new_memory(&mem_cache, 64u << 20), "memory cache");
  mem_client = new_client(mem_cache);
  prime(mem_client, url_reval, "memory");
  side s[3] = {{"libcurl 200", c4_curl, sz.reval, {{0}}},
               {"httpresp 200, no cache", c4_plain, sz.reval, {{0}}},
               {"httpresp 304 -> stored", c4_reval, sz.reval, {{0}}}};
  run_rounds(s, 3, rounds);
  summary v[3];
  for (int i = 0; i < 3; i++)
    summarize(&s[i], rounds, &v[i]);
  for (int i = 0; i < 3; i++)
    print_side(s[i].name, &v[i], rounds, "req/s");
  printf("    revalidation vs plain 200 through libhttpresp: %.3f (rate "
         "ratio, median of rounds; CPU per op %.3f); vs raw libcurl 200: "
         "%.3f\n",
         round_ratio(&v[1], &v[2], rounds, 0),
         round_ratio(&v[1], &v[2], rounds, 1),
         round_ratio(&v[0], &v[2], rounds, 0));
  errors_check(v, 3);
  char fig[32];
  snprintf(fig, sizeof(fig), "%lu", v[2].n304);
  judge(0, v[2].n304 == v[2].reqs && v[2].reqs == v[2].ops, fig,
        "every revalidation was one request answered 304 (%lu of %lu)",
        v[2].n304, v[2].ops);
  httpresp_client_free(plain_client);
  httpresp_client_free(mem_client);
  httpresp_cache_free(mem_cache);
}

/* ---- case 5: many transfers over curl_multi (run in child processes) ------------ */

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

static int multi_raw(size_t n, meas *m) {
  CURLM *mh = curl_multi_init();
  CURL *easy[INFLIGHT];
  size_t started = 0, completed = 0;
  meas_begin(m);
  for (int k = 0; k < INFLIGHT && started < n; k++, started++) {
    easy[k] = raw_easy();
    curl_easy_setopt(easy[k], CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy[k], CURLOPT_URL, url_redir_once);
    curl_multi_add_handle(mh, easy[k]);
  }
  while (completed < n) {
    int running = 0;
    curl_multi_perform(mh, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(mh, &left)) != NULL) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      CURL *e = msg->easy_handle;
      long code = 0, redirects = 0;
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
      curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirects);
      if (msg->data.result != CURLE_OK || code != 200 || redirects != 1)
        m->errors++;
      completed++;
      curl_multi_remove_handle(mh, e);
      if (started < n) {
        curl_easy_setopt(e, CURLOPT_URL, url_redir_once);
        curl_multi_add_handle(mh, e);
        started++;
      }
    }
    if (completed < n)
      curl_multi_poll(mh, NULL, 0, 1000, NULL);
  }
  meas_end(m, n);
  for (int k = 0; k < INFLIGHT && (size_t)k < n; k++)
    curl_easy_cleanup(easy[k]);
  curl_multi_cleanup(mh);
  return 0;
}

static int multi_hr(size_t n, meas *m) {
  CURLM *mh = curl_multi_init();
  httpresp_client *c = new_client(NULL);
  httpresp_multi *hm;
  die_on(httpresp_multi_new(&hm, c, mh), "httpresp_multi_new");
  CURL *easy[INFLIGHT];
  size_t started = 0, completed = 0;
  meas_begin(m);
  for (int k = 0; k < INFLIGHT && started < n; k++, started++) {
    easy[k] = curl_easy_init();
    httpresp_request *req;
    die_on(httpresp_request_new(&req, "GET", url_redir_once), "request");
    die_on(httpresp_multi_add(hm, easy[k], req, NULL), "httpresp_multi_add");
    httpresp_request_free(req);
  }
  while (completed < n) {
    int running = 0;
    httpresp_multi_perform(hm, &running);
    httpresp_response *r;
    CURL *e;
    while (httpresp_multi_next_done(hm, &r, &e, NULL)) {
      size_t blen = 0;
      httpresp_response_body(r, &blen);
      if (httpresp_response_error(r) || httpresp_response_status(r) != 200 ||
          httpresp_response_hop_count(r) != 2 || blen != BENCH_PLAIN_BODY)
        m->errors++;
      httpresp_response_free(r);
      completed++;
      if (started < n) {
        httpresp_request *req;
        die_on(httpresp_request_new(&req, "GET", url_redir_once), "request");
        die_on(httpresp_multi_add(hm, e, req, NULL), "httpresp_multi_add");
        httpresp_request_free(req);
        started++;
      }
    }
    if (completed < n)
      httpresp_multi_poll(hm, 1000);
  }
  meas_end(m, n);
  httpresp_multi_free(hm);
  for (int k = 0; k < INFLIGHT && (size_t)k < n; k++)
    curl_easy_cleanup(easy[k]);
  curl_multi_cleanup(mh);
  httpresp_client_free(c);
  return 0;
}

/* The child's side of case 5: run, then print one line of figures. */
static int child_main(const char *which, size_t n) {
  meas m;
  long rss0 = status_kb("VmRSS");
  int rc = strcmp(which, "curl") == 0 ? multi_raw(n, &m) : multi_hr(n, &m);
  printf("%zu %.9f %.9f %lu %ld %ld\n", m.ops, m.wall, m.cpu, m.errors, rss0,
         status_kb("VmHWM"));
  return rc;
}

static char self_exe[4096];

/* Runs one side of case 5 in a fresh process (this program re-executed). */
static int spawn_multi(const char *which, size_t n, meas *m) {
  int p[2];
  if (pipe(p) != 0)
    return -1;
  char nbuf[32], pbuf[16];
  snprintf(nbuf, sizeof(nbuf), "%zu", n);
  snprintf(pbuf, sizeof(pbuf), "%d", srv.port);
  meas_begin(m);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    execl(self_exe, self_exe, "--child-multi", which, nbuf, pbuf,
          (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  char out[256];
  size_t got = 0;
  ssize_t k;
  while (got < sizeof(out) - 1 &&
         ((k = read(p[0], out + got, sizeof(out) - 1 - got)) > 0 ||
          (k < 0 && errno == EINTR)))
    if (k > 0)
      got += (size_t)k;
  out[got] = '\0';
  close(p[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  server_deltas(m);
  if (sscanf(out, "%zu %lf %lf %lu %ld %ld", &m->ops, &m->wall, &m->cpu,
             &m->errors, &m->rss_start_kb, &m->rss_peak_kb) != 6 ||
      !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "case 5 child (%s) failed: \"%s\"\n", which, out);
    m->ops = n;
    m->wall = 1e9;
    m->errors = n;
  }
  return 0;
}

static int c5_curl(size_t n, meas *m) { return spawn_multi("curl", n, m); }
static int c5_hr(size_t n, meas *m) { return spawn_multi("httpresp", n, m); }

static void case5(void) {
  int rounds = opt.rounds ? opt.rounds : sz.rounds_multi;
  printf("\n[5] %zu requests, %d in flight, one redirect each "
         "(/redir-once -> /plain); each side in its own process\n",
         sz.multi, INFLIGHT);
  side s[2] = {{"curl_multi FOLLOWLOCATION", c5_curl, sz.multi, {{0}}},
               {"httpresp_multi", c5_hr, sz.multi, {{0}}}};
  run_rounds(s, 2, rounds);
  summary a, b;
  summarize(&s[0], rounds, &a);
  summarize(&s[1], rounds, &b);
  print_side(s[0].name, &a, rounds, "req/s");
  print_side(s[1].name, &b, rounds, "req/s");
  double rss_a[MAX_ROUNDS], rss_b[MAX_ROUNDS], grow_a[MAX_ROUNDS],
      grow_b[MAX_ROUNDS];
  for (int r = 0; r < rounds; r++) {
    rss_a[r] = (double)s[0].res[r].rss_peak_kb;
    rss_b[r] = (double)s[1].res[r].rss_peak_kb;
    grow_a[r] = (double)(s[0].res[r].rss_peak_kb - s[0].res[r].rss_start_kb);
    grow_b[r] = (double)(s[1].res[r].rss_peak_kb - s[1].res[r].rss_start_kb);
  }
  printf("    peak RSS (median): curl_multi %.0f KiB (+%.0f KiB during the "
         "run), httpresp_multi %.0f KiB (+%.0f KiB)\n",
         median(rss_a, (size_t)rounds), median(grow_a, (size_t)rounds),
         median(rss_b, (size_t)rounds), median(grow_b, (size_t)rounds));
  throughput_target(5, "req/s", &a, &b, rounds);
  summary both[2] = {a, b};
  errors_check(both, 2);
  char fig[32];
  snprintf(fig, sizeof(fig), "%lu", b.conns);
  judge(0, b.conns <= (unsigned long)(INFLIGHT * (rounds + 1)), fig,
        "httpresp_multi: at most %d connections per run (%.1f per run)",
        INFLIGHT, (double)b.conns / rounds);
}

/* ---- case 6: memory per cached entry ------------------------------------------- */

static size_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

/* Fills `c` with `n` distinct entries (/cached?i=...) through real
 * requests; adds what was stored (header fields and body bytes) to
 * *payload. */
static void fill(httpresp_client *c, CURL *e, size_t n, const char *tag,
                 size_t *payload, size_t *url_bytes, unsigned long *bad) {
  char url[128];
  for (size_t i = 0; i < n; i++) {
    snprintf(url, sizeof(url), "%s?%s=%zu", url_cached, tag, i);
    httpresp_response *r = hr_get(c, e, url);
    size_t blen = 0;
    httpresp_response_body(r, &blen);
    if (httpresp_response_error(r) ||
        httpresp_response_cache_status(r) !=
            (c == plain_client ? HTTPRESP_CACHE_NONE : HTTPRESP_CACHE_STORED))
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

static void case6(void) {
  size_t n = sz.entries;
  printf("\n[6] memory: heap held per cached entry (memory store, %zu "
         "entries of /cached stored through httpresp_perform; mallinfo2)\n",
         n);
  CURL *e = curl_easy_init();
  unsigned long bad = 0;
  size_t payload = 0, urls = 0;
  /* Warm up libcurl, the connection and malloc with a throw-away cache. */
  httpresp_cache *warm_cache;
  die_on(httpresp_cache_new_memory(&warm_cache, 256u << 20), "cache");
  httpresp_client *warm = new_client(warm_cache);
  fill(warm, e, n / 5 + 1, "w", &payload, &urls, &bad);
  httpresp_client_free(warm);
  httpresp_cache_free(warm_cache);

  /* Control: the same requests without a cache hold nothing. */
  plain_client = new_client(NULL);
  payload = urls = 0;
  size_t before = heap_in_use();
  fill(plain_client, e, n, "c", &payload, &urls, &bad);
  size_t after = heap_in_use();
  double control = ((double)after - (double)before) / (double)n;
  httpresp_client_free(plain_client);
  plain_client = NULL;

  httpresp_cache *cache;
  die_on(httpresp_cache_new_memory(&cache, 256u << 20), "cache");
  httpresp_client *c = new_client(cache);
  payload = urls = 0;
  before = heap_in_use();
  fill(c, e, n, "i", &payload, &urls, &bad);
  after = heap_in_use();
  double per = ((double)after - (double)before) / (double)n;
  double stored = (double)payload / (double)n;
  double over = per - stored;
  printf("    heap per entry %.0f B = stored header fields + body %.0f B + "
         "overhead %.0f B (URL %.0f B, kept twice, included)\n",
         per, stored, over, (double)urls / (double)n);
  printf("    control: the same requests without a cache hold %.1f B per "
         "request\n",
         control);
  char fig[32];
  snprintf(fig, sizeof(fig), "%.0f B", over);
  judge(1, over <= 512, fig,
        "case 6 per-entry overhead <= 512 B beyond headers and body: %.0f B",
        over);
  snprintf(fig, sizeof(fig), "%lu", bad);
  judge(0, bad == 0, fig, "every fill request was answered and stored (%lu bad)",
        bad);
  httpresp_client_free(c);
  httpresp_cache_free(cache);
  curl_easy_cleanup(e);
  printf("    (case 5 above prints the peak RSS of each multi side)\n");
}

/* ---- one side alone, for profilers --------------------------------------------- */

/* `--profile NAME N`: one side, N operations, no warm-up and no rounds, so
 * that `valgrind --tool=callgrind` counts the instructions of exactly that
 * workload (compare two sides, or N and 2N, to take out the setup). */
static int profile(const char *name, size_t n) {
  static const struct {
    const char *name;
    side_fn run;
  } table[] = {{"plain-curl", c1_curl},   {"plain-httpresp", c1_hr},
               {"chain-curl", c2_curl},   {"chain-httpresp", c2_hr},
               {"roundtrip-curl", c3_rt}, {"hit-memory", c3_mem},
               {"hit-disk", c3_disk},     {"reval-curl", c4_curl},
               {"reval-200", c4_plain},   {"reval-304", c4_reval},
               {"multi-curl", multi_raw}, {"multi-httpresp", multi_hr}};
  side_fn run = NULL;
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (strcmp(name, table[i].name) == 0)
      run = table[i].run;
  if (!run) {
    fprintf(stderr, "--profile: unknown side \"%s\"; one of:", name);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
      fprintf(stderr, " %s", table[i].name);
    fprintf(stderr, "\n");
    return 2;
  }
  plain_client = new_client(NULL);
  snprintf(disk_dir, sizeof(disk_dir), "/tmp/hrbench-XXXXXX");
  if (!mkdtemp(disk_dir)) {
    perror("mkdtemp");
    return 2;
  }
  die_on(httpresp_cache_new_memory(&mem_cache, 64u << 20), "memory cache");
  die_on(httpresp_cache_new_disk(&disk_cache, disk_dir, 64u << 20),
         "disk cache");
  mem_client = new_client(mem_cache);
  disk_client = new_client(disk_cache);
  if (run == c3_mem)
    prime(mem_client, url_cached, "memory");
  if (run == c3_disk)
    prime(disk_client, url_cached, "disk");
  if (run == c4_reval)
    prime(mem_client, url_reval, "memory");
  meas m;
  run(n, &m);
  printf("%s: %zu ops in %.3f s = %.0f ops/s, %.2f us/op, cpu %.2f us/op, "
         "%lu bad, %lu conns, %lu server requests\n",
         name, m.ops, m.wall, (double)m.ops / m.wall, m.wall * 1e6 / (double)m.ops,
         m.cpu * 1e6 / (double)m.ops, m.errors, m.conns, m.reqs);
  httpresp_client_free(plain_client);
  httpresp_client_free(mem_client);
  httpresp_client_free(disk_client);
  httpresp_cache_free(mem_cache);
  httpresp_cache_free(disk_cache);
  remove_dir(disk_dir);
  return m.errors ? 1 : 0;
}

/* ---- main -------------------------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f,
          "usage: httpresp-bench [--quick] [--check] [--verbose] "
          "[--rounds N] [--case LIST]\n"
          "       httpresp-bench --profile SIDE N\n"
          "  --quick      fewer rounds and operations (about a third of the "
          "time)\n"
          "  --check      exit 1 when a target or check is missed\n"
          "  --verbose    print every round's figures\n"
          "  --rounds N   rounds per case (default 7, case 5: 5; quick 3)\n"
          "  --case LIST  run only these cases, e.g. 1,2,5 (default all: "
          "1-6)\n"
          "  --profile SIDE N  run one side alone N times (for callgrind); "
          "SIDE is\n"
          "               plain-curl, plain-httpresp, chain-curl, "
          "chain-httpresp,\n"
          "               roundtrip-curl, hit-memory, hit-disk, reval-curl, "
          "reval-200,\n"
          "               reval-304, multi-curl or multi-httpresp\n");
}

static void print_load(const char *when) {
  FILE *f = fopen("/proc/loadavg", "r");
  char buf[128] = "?";
  if (f) {
    if (!fgets(buf, sizeof(buf), f))
      buf[0] = '\0';
    fclose(f);
  }
  buf[strcspn(buf, "\n")] = '\0';
  printf("load average %s: %s\n", when, buf);
}

int main(int argc, char **argv) {
  if (argc >= 5 && strcmp(argv[1], "--child-multi") == 0) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      return 2;
    make_urls(atoi(argv[4]));
    return child_main(argv[2], (size_t)strtoul(argv[3], NULL, 10));
  }
  const char *profile_side = NULL;
  size_t profile_n = 0;
  opt.cases = 0x7e;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      opt.quick = 1;
    else if (strcmp(argv[i], "--check") == 0)
      opt.check = 1;
    else if (strcmp(argv[i], "--verbose") == 0)
      opt.verbose = 1;
    else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
      opt.rounds = atoi(argv[++i]);
      if (opt.rounds < 1 || opt.rounds > MAX_ROUNDS) {
        fprintf(stderr, "--rounds: 1..%d\n", MAX_ROUNDS);
        return 2;
      }
    } else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc) {
      opt.cases = 0;
      for (const char *p = argv[++i]; *p; p++)
        if (*p >= '1' && *p <= '6')
          opt.cases |= 1u << (*p - '0');
    } else if (strcmp(argv[i], "--profile") == 0 && i + 2 < argc) {
      profile_side = argv[++i];
      profile_n = (size_t)strtoul(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  sz = opt.quick ? quick_sizes : full_sizes;
  ssize_t len = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
  if (len <= 0) {
    perror("readlink /proc/self/exe");
    return 2;
  }
  self_exe[len] = '\0';
  setvbuf(stdout, NULL, _IOLBF, 0);

  /* The server forks before libcurl could start any thread. */
  if (bench_server_start(&srv) != 0) {
    perror("bench server");
    return 2;
  }
  make_urls(srv.port);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 2;
  const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
  double t0 = wall_now();
  printf("libhttpresp %s over libcurl %s; %ld CPUs online; %s mode; server "
         "127.0.0.1:%d in its own process\n",
         httpresp_version(), cv->version, sysconf(_SC_NPROCESSORS_ONLN),
         opt.quick ? "quick" : "full", srv.port);
  print_load("at start");
  printf("Figures are medians over rounds [min .. max]; \"cpu\" is this "
         "process's CPU time per operation (the server's is not counted).\n");

  if (profile_side) {
    int rc = profile(profile_side, profile_n);
    curl_global_cleanup();
    bench_server_stop(&srv);
    return rc;
  }
  if (opt.cases & (1u << 1))
    case1();
  if (opt.cases & (1u << 2))
    case2();
  if (opt.cases & (1u << 3))
    case3();
  if (opt.cases & (1u << 4))
    case4();
  if (opt.cases & (1u << 5))
    case5();
  if (opt.cases & (1u << 6))
    case6();

  int missed = 0;
  printf("\nsummary (%.0f s):\n", wall_now() - t0);
  for (size_t i = 0; i < nverdicts; i++) {
    const verdict *v = &verdicts[i];
    if (!v->pass)
      missed++;
    if (v->is_target || !v->pass)
      printf("  %s  %-62s %s\n", v->pass ? "PASS" : "FAIL", v->what,
             v->is_target ? "" : "(check)");
  }
  printf("  %d of %zu targets and checks missed\n", missed, nverdicts);
  print_load("at end");
  curl_global_cleanup();
  bench_server_stop(&srv);
  return opt.check && missed ? 1 : 0;
}
