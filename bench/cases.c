/* The six cases: their sides (each a function running N operations and
 * measuring them), their tables and their verdicts. */
#include <curl/curl.h>
#include <httpresp/httpresp.h>

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* ---- raw libcurl -----------------------------------------------------------
 */

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

/* ---- libhttpresp ------------------------------------------------------------
 */

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
static httpresp_response *hr_get(httpresp_client *c, CURL *e, const char *url) {
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
    if (!r || httpresp_response_error(r) ||
        httpresp_response_status(r) != 200 ||
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

/* ---- case 1: plain GET
 * --------------------------------------------------------- */

static httpresp_client *plain_client; /* no cache */

static int c1_curl(size_t n, meas *m) { return raw_gets(url_plain, 0, n, m); }
static int c1_hr(size_t n, meas *m) {
  return hr_gets(plain_client, url_plain, 1, HTTPRESP_CACHE_NONE,
                 BENCH_PLAIN_BODY, n, m);
}

void case1(void) {
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
  plain_client = NULL;
}

/* ---- case 2: 3-hop redirect chain
 * ---------------------------------------------- */

static int c2_curl(size_t n, meas *m) { return raw_gets(url_r1, 3, n, m); }
static int c2_hr(size_t n, meas *m) {
  return hr_gets(plain_client, url_r1, 4, HTTPRESP_CACHE_NONE, BENCH_PLAIN_BODY,
                 n, m);
}

void case2(void) {
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
  judge(0, b.reqs == 4 * b.ops,
        "libhttpresp sent 4 requests per chain (%lu for %lu)", b.reqs, b.ops);
  conn_check("libhttpresp redirects", &b, rounds);
  httpresp_client_free(plain_client);
  plain_client = NULL;
}

/* ---- case 3: cache hits
 * ---------------------------------------------------------- */

static httpresp_cache *mem_cache, *disk_cache;
static httpresp_client *mem_client, *disk_client;
static char disk_dir[64];

/* Frees the clients and caches the cases share and forgets them. */
static void drop_shared(void) {
  httpresp_client_free(plain_client);
  httpresp_client_free(mem_client);
  httpresp_client_free(disk_client);
  httpresp_cache_free(mem_cache);
  httpresp_cache_free(disk_cache);
  plain_client = mem_client = disk_client = NULL;
  mem_cache = disk_cache = NULL;
}

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

void case3(void) {
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
  judge(1, mem_x >= 100,
        "case 3 memory hit >= 100x faster than a round trip: %.0fx", mem_x);
  errors_check(v, 3);
  judge(0, v[1].reqs + v[2].reqs == 0,
        "cache hits sent no request to the server (%lu)",
        v[1].reqs + v[2].reqs);
  drop_shared();
  remove_dir(disk_dir);
}

/* ---- case 4: 304 revalidation
 * ---------------------------------------------------- */

static int c4_curl(size_t n, meas *m) { return raw_gets(url_reval, 0, n, m); }
static int c4_plain(size_t n, meas *m) {
  return hr_gets(plain_client, url_reval, 1, HTTPRESP_CACHE_NONE,
                 BENCH_REVAL_BODY, n, m);
}
static int c4_reval(size_t n, meas *m) {
  return hr_gets(mem_client, url_reval, 1, HTTPRESP_CACHE_REVALIDATED,
                 BENCH_REVAL_BODY, n, m);
}

void case4(void) {
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
  judge(0, v[2].n304 == v[2].reqs && v[2].reqs == v[2].ops,
        "every revalidation was one request answered 304 (%lu of %lu)",
        v[2].n304, v[2].ops);
  drop_shared();
}

/* ---- case 5: many transfers over curl_multi (run in child processes)
 * ------------ */

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
int child_main(const char *which, size_t n) {
  meas m;
  long rss0 = status_kb("VmRSS");
  int rc = strcmp(which, "curl") == 0 ? multi_raw(n, &m) : multi_hr(n, &m);
  printf("%zu %.9f %.9f %lu %ld %ld\n", m.ops, m.wall, m.cpu, m.errors, rss0,
         status_kb("VmHWM"));
  return rc;
}

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
    execl(self_exe, self_exe, "--child-multi", which, nbuf, pbuf, (char *)NULL);
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

void case5(void) {
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
  judge(0, b.conns <= (unsigned long)(INFLIGHT * (rounds + 1)),
        "httpresp_multi: at most %d connections per run (%.1f per run)",
        INFLIGHT, (double)b.conns / rounds);
}

/* ---- case 6: memory per cached entry
 * ------------------------------------------- */

static size_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

/* Fills `c` with `n` distinct entries (/cached?i=...) through real
 * requests; adds what was stored (header fields and body bytes) to
 * *payload. */
static void fill(httpresp_client *c, CURL *e, size_t n, const char *tag,
                 httpresp_cache_status want, size_t *payload, size_t *url_bytes,
                 unsigned long *bad) {
  char url[128];
  for (size_t i = 0; i < n; i++) {
    snprintf(url, sizeof(url), "%s?%s=%zu", url_cached, tag, i);
    httpresp_response *r = hr_get(c, e, url);
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
  fill(warm, e, n / 5 + 1, "w", HTTPRESP_CACHE_STORED, &payload, &urls, &bad);
  httpresp_client_free(warm);
  httpresp_cache_free(warm_cache);

  /* Control: the same requests without a cache hold nothing. */
  plain_client = new_client(NULL);
  payload = urls = 0;
  size_t before = heap_in_use();
  fill(plain_client, e, n, "c", HTTPRESP_CACHE_NONE, &payload, &urls, &bad);
  size_t after = heap_in_use();
  double control = ((double)after - (double)before) / (double)n;
  httpresp_client_free(plain_client);
  plain_client = NULL;

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
  printf("    heap per entry %.0f B = stored header fields + body %.0f B + "
         "overhead %.0f B (URL %.0f B, kept twice, included)\n",
         per, stored, over, (double)urls / (double)n);
  printf("    control: the same requests without a cache hold %.1f B per "
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
  printf("    (case 5 above prints the peak RSS of each multi side)\n");
}

/* ---- one side alone, for profilers
 * --------------------------------------------- */

/* `--profile NAME N`: one side, N operations, no warm-up and no rounds, so
 * that `valgrind --tool=callgrind` counts the instructions of exactly that
 * workload (compare two sides, or N and 2N, to take out the setup). */
int profile(const char *name, size_t n) {
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
         name, m.ops, m.wall, (double)m.ops / m.wall,
         m.wall * 1e6 / (double)m.ops, m.cpu * 1e6 / (double)m.ops, m.errors,
         m.conns, m.reqs);
  drop_shared();
  remove_dir(disk_dir);
  return m.errors ? 1 : 0;
}
