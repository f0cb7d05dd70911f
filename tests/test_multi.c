/* SPDX-License-Identifier: MIT */
/* The non-blocking driver against the loopback server: hundreds of
 * transfers at once mixing 200s, redirect chains, 429 repeats and cache
 * hits; transfers parked on Retry-After or an origin's quiet time while
 * others run; both the perform/poll loop and a socket-action event loop of
 * our own.  The client runs on a fake clock whose sleep only counts, so a
 * driver that slept would show up in clk.sleeps and in the real time a
 * test takes. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "testsrv.h"

static ts_server *ts;
static fake_clock clk;
static httpresp_client *client;
static httpresp_cache *cache;
static CURLM *cm;
static httpresp_multi *hm;

static void setup(void) {
  ts = ts_start(2);
  cr_assert_not_null(ts);
  memset(&clk, 0, sizeof(clk));
  client = fixture_client(&clk);
  cm = curl_multi_init();
  cr_assert_not_null(cm);
  cr_assert_eq(httpresp_multi_new(&hm, client, cm), 0);
}

static void teardown(void) {
  httpresp_multi_free(hm);
  curl_multi_cleanup(cm);
  httpresp_client_free(client);
  httpresp_cache_free(cache);
  ts_stop(ts);
}

TestSuite(multi, .init = setup, .fini = teardown, .timeout = 60);

static int64_t mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Two descriptors per connection (ours and the server's) in this process. */
static void raise_fd_limit(size_t conns) {
  struct rlimit rl;
  rlim_t want = (rlim_t)(4 * conns + 64);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
    rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* How many requests for `target` the server has recorded. */
static size_t requests_for(const char *target) {
  size_t n = 0, total = ts_request_count(ts);
  for (size_t i = 0; i < total; i++) {
    const ts_request *q = ts_request_get(ts, i);
    if (q && strcmp(q->target, target) == 0)
      n++;
  }
  return n;
}

/* ---- transfers and what each must end with ------------------------------ */

typedef struct job {
  CURL *easy;
  char *url;
  char *want_url; /* final URL */
  int want_error;
  int want_status;
  const char *want_body; /* NULL: not checked */
  char body_buf[64];
  size_t want_hops;    /* 0: not checked */
  unsigned times_done; /* how often next_done handed it back */
  httpresp_response *resp;
} job;

static job *jobs_new(size_t n) {
  job *j = calloc(n, sizeof(*j));
  cr_assert_not_null(j);
  return j;
}

static void jobs_free(job *j, size_t n) {
  for (size_t i = 0; i < n; i++) {
    httpresp_response_free(j[i].resp);
    curl_easy_cleanup(j[i].easy);
    free(j[i].url);
    free(j[i].want_url);
  }
  free(j);
}

/* A GET of `path` on port `port` that ends at `final_path` on `final_port`
 * (NULL: the same URL) with `status` and `body` after `hops` responses. */
static void job_set(job *j, int port, const char *path, int final_port,
                    const char *final_path, int status, const char *body,
                    size_t hops) {
  j->easy = fixture_easy();
  j->url = ts_url(ts, port, path);
  j->want_url = ts_url(ts, final_port, final_path ? final_path : path);
  j->want_status = status;
  if (body) {
    snprintf(j->body_buf, sizeof(j->body_buf), "%s", body);
    j->want_body = j->body_buf;
  }
  j->want_hops = hops;
}

static void job_start(job *j) {
  httpresp_request *req = NULL;
  cr_assert_eq(httpresp_request_new(&req, "GET", j->url), 0, "%s", j->url);
  cr_assert_eq(httpresp_multi_add(hm, j->easy, req, j), 0, "%s", j->url);
  httpresp_request_free(req);
}

/* Takes every completed transfer; returns how many. */
static size_t collect(void) {
  httpresp_response *r;
  CURL *e;
  void *ud;
  size_t n = 0;
  while (httpresp_multi_next_done(hm, &r, &e, &ud)) {
    job *j = ud;
    cr_assert_not_null(j, "next_done without the userp given to add");
    cr_assert_not_null(r, "next_done without a response");
    cr_expect_eq(e, j->easy, "%s: another easy handle came back", j->url);
    j->times_done++;
    httpresp_response_free(j->resp);
    j->resp = r;
    n++;
  }
  return n;
}

static void job_check(const job *j) {
  cr_assert_eq(j->times_done, 1, "%s: handed back %u times", j->url,
               j->times_done);
  const httpresp_response *r = j->resp;
  cr_expect_eq(httpresp_response_error(r), j->want_error, "%s: %s (%s)", j->url,
               httpresp_errname(httpresp_response_error(r)),
               httpresp_response_errmsg(r));
  cr_expect_eq(httpresp_response_status(r), j->want_status, "%s", j->url);
  if (j->want_body)
    cr_expect_str_eq(fixture_body(r), j->want_body, "%s", j->url);
  if (j->want_hops)
    cr_expect_eq(httpresp_response_hop_count(r), j->want_hops, "%s", j->url);
  if (j->want_url && !j->want_error)
    cr_expect_str_eq(httpresp_response_url(r), j->want_url);
}

/* ---- the perform/poll loop ---------------------------------------------- */

/* Drives until `want` more transfers were handed back or `budget_ms` of
 * real time passed; returns how many were. */
static size_t drive(size_t want, int64_t budget_ms) {
  int64_t end = mono_ms() + budget_ms;
  size_t got = collect(); /* some end inside httpresp_multi_add */
  while (got < want && mono_ms() < end) {
    int running = -1;
    cr_assert_eq(httpresp_multi_perform(hm, &running), 0);
    cr_assert_geq(running, 0);
    got += collect();
    if (got < want)
      cr_assert_eq(httpresp_multi_poll(hm, 50), 0);
  }
  return got;
}

/* Drives for `ms` of real time without taking anything: whatever is due
 * gets its chance to complete (or to wrongly complete). */
static void spin(int64_t ms) {
  int64_t end = mono_ms() + ms;
  while (mono_ms() < end) {
    int running;
    cr_assert_eq(httpresp_multi_perform(hm, &running), 0);
    cr_assert_eq(httpresp_multi_poll(hm, 10), 0);
  }
}

static long timeout_now(void) {
  long ms = -2;
  cr_assert_eq(httpresp_multi_timeout(hm, &ms), 0);
  return ms;
}

/* ---- 300 at once -------------------------------------------------------- */

#define MIX 300
#define HOT 5

/* Scripts transfer `i` of a mixed batch on the server and describes its
 * expected outcome, by i % kinds: a plain 200, a 3-hop redirect chain
 * (301, 302, 307 then 200), a 429 with Retry-After: 0 then a 200, or (with
 * kinds 4) a hit on one of the HOT resources already in the cache. */
static void mixed_job(job *j, size_t i, int port, size_t kinds) {
  char path[64], next[64], loc[96], body[64];
  switch (i % kinds) {
  case 0:
    snprintf(path, sizeof(path), "/plain/%zu", i);
    snprintf(body, sizeof(body), "plain body %zu", i);
    ts_simple(ts, port, path, 200, "Content-Type: text/plain\r\n", body);
    job_set(j, port, path, port, NULL, 200, body, 1);
    break;
  case 1: {
    static const int codes[] = {301, 302, 307};
    static const char steps[] = "abcd";
    for (int k = 0; k < 3; k++) {
      snprintf(path, sizeof(path), "/chain/%zu/%c", i, steps[k]);
      snprintf(loc, sizeof(loc), "Location: /chain/%zu/%c\r\n", i,
               steps[k + 1]);
      ts_simple(ts, port, path, codes[k], loc, "a redirect body");
    }
    snprintf(next, sizeof(next), "/chain/%zu/d", i);
    snprintf(body, sizeof(body), "end of chain %zu", i);
    ts_simple(ts, port, next, 200, NULL, body);
    snprintf(path, sizeof(path), "/chain/%zu/a", i);
    job_set(j, port, path, port, next, 200, body, 4);
    break;
  }
  case 2:
    snprintf(path, sizeof(path), "/retry/%zu", i);
    snprintf(body, sizeof(body), "after the retry %zu", i);
    ts_simple(ts, port, path, 429, "Retry-After: 0\r\n", "slow down");
    ts_simple(ts, port, path, 200, NULL, body);
    job_set(j, port, path, port, NULL, 200, body, 2);
    break;
  default:
    snprintf(path, sizeof(path), "/hot/%zu", i % HOT);
    snprintf(body, sizeof(body), "hot body %zu", i % HOT);
    job_set(j, 0, path, 0, NULL, 200, body, 1);
    break;
  }
}

/* Puts the HOT resources in the cache through the multi driver. */
static void warm_cache(void) {
  cr_assert_eq(httpresp_cache_new_memory(&cache, 16 * 1024 * 1024), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
  job *w = jobs_new(HOT);
  for (size_t k = 0; k < HOT; k++) {
    char path[32], body[32];
    snprintf(path, sizeof(path), "/hot/%zu", k);
    snprintf(body, sizeof(body), "hot body %zu", k);
    ts_simple(ts, 0, path, 200, "Cache-Control: max-age=60\r\n", body);
    job_set(&w[k], 0, path, 0, NULL, 200, body, 1);
    job_start(&w[k]);
  }
  cr_assert_eq(drive(HOT, 5000), HOT);
  for (size_t k = 0; k < HOT; k++) {
    job_check(&w[k]);
    cr_assert_eq(httpresp_response_cache_status(w[k].resp),
                 HTTPRESP_CACHE_STORED);
  }
  jobs_free(w, HOT);
}

Test(multi, three_hundred_mixed_transfers_at_once) {
  raise_fd_limit(MIX);
  curl_multi_setopt(cm, CURLMOPT_MAX_TOTAL_CONNECTIONS, 64L);
  warm_cache();
  job *jobs = jobs_new(MIX);
  for (size_t i = 0; i < MIX; i++)
    mixed_job(&jobs[i], i, (int)(i % 2), 4);
  for (size_t i = 0; i < MIX; i++)
    job_start(&jobs[i]);

  size_t got = drive(MIX, 30000);
  cr_assert_eq(got, MIX, "only %zu of %d transfers came back", got, MIX);
  cr_expect_eq(httpresp_multi_pending(hm), 0);
  cr_expect_eq(httpresp_multi_next_done(hm, NULL, NULL, NULL), 0);
  for (size_t i = 0; i < MIX; i++) {
    job_check(&jobs[i]);
    const httpresp_response *r = jobs[i].resp;
    if (i % 4 == 2) {
      cr_expect_eq(httpresp_response_attempts(r), 2);
      cr_expect_eq(httpresp_response_retry_stop(r), HTTPRESP_RETRY_SUCCEEDED);
    }
    if (i % 4 == 3)
      cr_expect_eq(
          httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT, "%s: %s",
          jobs[i].url,
          httpresp_cache_status_name(httpresp_response_cache_status(r)));
  }
  /* the warm-up, 75 plain, 75 chains of 4 requests, 75 pairs, no hits */
  cr_expect_eq(ts_request_count(ts), HOT + 75 + 300 + 150);
  cr_expect_eq(clk.sleeps, 0, "the multi driver slept");
  jobs_free(jobs, MIX);
}

/* ---- a transfer parked on Retry-After while 200 others complete --------- */

#define OTHERS 200

Test(multi, parked_transfer_waits_while_others_complete) {
  int64_t t0 = mono_ms();
  raise_fd_limit(OTHERS);
  ts_simple(ts, 0, "/parked", 429, "Retry-After: 2\r\n", "wait");
  ts_simple(ts, 0, "/parked", 200, NULL, "finally");
  job *p = jobs_new(1);
  job_set(p, 0, "/parked", 0, NULL, 200, "finally", 2);

  /* The others are on the second origin: the first one asked for quiet. */
  job *jobs = jobs_new(OTHERS);
  for (size_t i = 0; i < OTHERS; i++) {
    char path[64], body[64];
    snprintf(path, sizeof(path), "/other/%zu", i);
    snprintf(body, sizeof(body), "other %zu", i);
    if (i % 2) {
      char loc[80];
      snprintf(loc, sizeof(loc), "Location: /other/%zu\r\n", i - 1);
      ts_simple(ts, 1, path, 302, loc, NULL);
      job_set(&jobs[i], 1, path, 1, NULL, 200, NULL, 2);
      free(jobs[i].want_url);
      snprintf(path, sizeof(path), "/other/%zu", i - 1);
      jobs[i].want_url = ts_url(ts, 1, path);
    } else {
      ts_simple(ts, 1, path, 200, NULL, body);
      job_set(&jobs[i], 1, path, 1, NULL, 200, NULL, 1);
    }
  }
  job_start(p);
  for (size_t i = 0; i < OTHERS; i++)
    job_start(&jobs[i]);

  size_t got = drive(OTHERS, 20000);
  cr_assert_eq(got, OTHERS, "%zu of the others came back", got);
  for (size_t i = 0; i < OTHERS; i++) {
    job_check(&jobs[i]);
    char body[64];
    snprintf(body, sizeof(body), "other %zu", i - i % 2);
    cr_expect_str_eq(fixture_body(jobs[i].resp), body);
  }

  /* Let the 429 arrive and be decided if it has not yet been. */
  for (int i = 0;
       i < 100 && (requests_for("/parked") < 1 || timeout_now() < 1000); i++)
    spin(10);
  spin(50);
  cr_assert_eq(p->times_done, 0, "the parked transfer completed early: %d",
               p->resp ? httpresp_response_status(p->resp) : -1);
  cr_expect_eq(requests_for("/parked"), 1);
  cr_expect_eq(httpresp_multi_pending(hm), 1);
  long t = timeout_now();
  cr_expect(t >= 1900 && t <= 2000,
            "with only the parked transfer left the timeout is %ld ms, "
            "want about 2000",
            t);

  clk.now_ms += 2000;
  cr_expect_eq(timeout_now(), 0, "the wake-up time has come");
  cr_assert_eq(drive(1, 5000), 1, "the parked transfer never completed");
  job_check(p);
  cr_expect_eq(httpresp_response_attempts(p->resp), 2);
  cr_expect_eq(httpresp_response_retry_after_ms(p->resp), 2000);
  cr_expect_eq(requests_for("/parked"), 2);
  cr_expect_eq(httpresp_multi_pending(hm), 0);

  cr_expect_eq(clk.sleeps, 0, "the multi driver slept");
  int64_t real = mono_ms() - t0;
  cr_expect_lt(real, 5000, "took %lld ms of real time", (long long)real);
  jobs_free(jobs, OTHERS);
  jobs_free(p, 1);
}

/* ---- socket-action style ------------------------------------------------ */

#define EV_MAX 512

/* The caller's own event loop: the sockets libcurl asked us to watch. */
typedef struct evloop {
  struct pollfd fds[EV_MAX];
  nfds_t n;
  long curl_timer;
  int timer_calls;
  int socket_calls;
  size_t most;
} evloop;

static evloop ev;

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp,
                     void *socketp) {
  (void)e;
  (void)socketp;
  evloop *l = userp;
  l->socket_calls++;
  nfds_t i = 0;
  while (i < l->n && l->fds[i].fd != s)
    i++;
  if (what == CURL_POLL_REMOVE) {
    if (i < l->n)
      l->fds[i] = l->fds[--l->n];
    return 0;
  }
  if (i == l->n) {
    if (l->n == EV_MAX)
      return -1;
    l->fds[l->n++].fd = s;
    if (l->n > l->most)
      l->most = l->n;
  }
  l->fds[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
                             ((what & CURL_POLL_OUT) ? POLLOUT : 0));
  l->fds[i].revents = 0;
  return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp) {
  (void)m;
  evloop *l = userp;
  l->curl_timer = timeout_ms;
  l->timer_calls++;
  return 0;
}

/* The event loop: poll() over libcurl's sockets with the timeout of
 * httpresp_multi_timeout(), CURL_SOCKET_TIMEOUT when it runs out. */
static size_t sa_drive(size_t want, int64_t budget_ms) {
  int64_t end = mono_ms() + budget_ms;
  size_t got = collect();
  int running;
  while (got < want && mono_ms() < end) {
    long t = timeout_now();
    if (t == 0) {
      cr_assert_eq(
          httpresp_multi_socket_action(hm, CURL_SOCKET_TIMEOUT, 0, &running),
          0);
      got += collect();
      continue;
    }
    /* A real loop would wait forever on t == -1; cap it to stay bounded. */
    int wait = (t < 0 || t > 100) ? 100 : (int)t;
    struct pollfd snap[EV_MAX];
    nfds_t n = ev.n;
    memcpy(snap, ev.fds, n * sizeof(snap[0]));
    int r = poll(snap, n, wait);
    cr_assert_geq(r, 0, "poll failed");
    for (nfds_t i = 0; r > 0 && i < n; i++) {
      if (!snap[i].revents)
        continue;
      int flags = 0;
      if (snap[i].revents & (POLLIN | POLLHUP))
        flags |= CURL_CSELECT_IN;
      if (snap[i].revents & POLLOUT)
        flags |= CURL_CSELECT_OUT;
      if (snap[i].revents & (POLLERR | POLLNVAL))
        flags |= CURL_CSELECT_ERR;
      cr_assert_eq(
          httpresp_multi_socket_action(hm, snap[i].fd, flags, &running), 0);
    }
    got += collect();
  }
  return got;
}

/* Hands the multi's sockets and timer to this file's event loop (ev). */
static void event_loop_hooks(void) {
  memset(&ev, 0, sizeof(ev));
  ev.curl_timer = -1;
  curl_multi_setopt(cm, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(cm, CURLMOPT_SOCKETDATA, &ev);
  curl_multi_setopt(cm, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(cm, CURLMOPT_TIMERDATA, &ev);
}

#define SA_JOBS 50

Test(multi, socket_action_event_loop) {
  event_loop_hooks();

  job *jobs = jobs_new(SA_JOBS);
  for (size_t i = 0; i < SA_JOBS; i++)
    mixed_job(&jobs[i], i, 0, 3);
  /* One more waits on the second origin for a Retry-After of 1 s: only
   * the timeout path can wake it, since it has no socket. */
  ts_simple(ts, 1, "/later", 503, "Retry-After: 1\r\n", "busy");
  ts_simple(ts, 1, "/later", 200, NULL, "later");
  job *p = jobs_new(1);
  job_set(p, 1, "/later", 1, NULL, 200, "later", 2);

  job_start(p);
  for (size_t i = 0; i < SA_JOBS; i++)
    job_start(&jobs[i]);

  size_t got = sa_drive(SA_JOBS, 20000);
  cr_assert_eq(got, SA_JOBS, "only %zu of %d came back", got, SA_JOBS);
  for (size_t i = 0; i < SA_JOBS; i++)
    job_check(&jobs[i]);
  cr_expect_gt(ev.timer_calls, 0, "libcurl never set a timer");
  cr_expect_gt(ev.most, 0, "libcurl never handed a socket");

  for (int i = 0;
       i < 100 && (requests_for("/later") < 1 || timeout_now() < 500); i++)
    sa_drive(1, 10);
  cr_assert_eq(p->times_done, 0, "the 503 was repeated too early");
  long t = timeout_now();
  cr_expect(t > 900 && t <= 1000, "timeout %ld ms, want about 1000", t);
  clk.now_ms += 1000;
  cr_assert_eq(sa_drive(1, 5000), 1, "the parked transfer never came back");
  job_check(p);
  cr_expect_eq(requests_for("/later"), 2);
  cr_expect_eq(httpresp_multi_pending(hm), 0);
  cr_expect_eq(clk.sleeps, 0, "the multi driver slept");
  jobs_free(jobs, SA_JOBS);
  jobs_free(p, 1);
}

/* ---- cache hits ---------------------------------------------------------- */

#define HITS 100

Test(multi, cache_hits_complete_without_requests) {
  cr_assert_eq(httpresp_cache_new_memory(&cache, 16 * 1024 * 1024), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
  ts_simple(ts, 0, "/cached", 200,
            "Cache-Control: max-age=60\r\nContent-Type: text/plain\r\n",
            "stored once, served many times");

  job *first = jobs_new(1);
  job_set(first, 0, "/cached", 0, NULL, 200, "stored once, served many times",
          1);
  job_start(first);
  cr_assert_eq(drive(1, 5000), 1);
  job_check(first);
  cr_expect_eq(
      httpresp_response_cache_status(first->resp), HTTPRESP_CACHE_STORED, "%s",
      httpresp_cache_status_name(httpresp_response_cache_status(first->resp)));

  job *jobs = jobs_new(HITS);
  for (size_t i = 0; i < HITS; i++) {
    job_set(&jobs[i], 0, "/cached", 0, NULL, 200,
            "stored once, served many times", 1);
    job_start(&jobs[i]);
  }
  size_t got = drive(HITS, 5000);
  cr_assert_eq(got, HITS, "%zu of %d hits came back", got, HITS);
  cr_expect_eq(httpresp_multi_pending(hm), 0);
  for (size_t i = 0; i < HITS; i++) {
    job_check(&jobs[i]);
    httpresp_cache_status cs = httpresp_response_cache_status(jobs[i].resp);
    cr_expect_eq(cs, HTTPRESP_CACHE_HIT, "hit %zu: %s", i,
                 httpresp_cache_status_name(cs));
    httpresp_decision d = HTTPRESP_DECISION_STOP;
    httpresp_response_hop(jobs[i].resp, 0, NULL, NULL, NULL, &d);
    cr_expect_eq(d, HTTPRESP_DECISION_CACHE_HIT);
  }
  cr_expect_eq(requests_for("/cached"), 1);
  jobs_free(jobs, HITS);
  jobs_free(first, 1);
}

/* ---- connections --------------------------------------------------------- */

/* One transfer that goes from origin 0 to origin 1 and back, then is
 * asked again after a 429, and a second transfer after it: every hop
 * finds its origin's connection in the pool, so the server sees one
 * connection per origin. */
Test(multi, repeats_and_redirects_reuse_pooled_connections) {
  char loc[160];
  char *b = ts_url(ts, 1, "/pool/b");
  char *c = ts_url(ts, 0, "/pool/c");
  snprintf(loc, sizeof(loc), "Location: %s\r\n", b);
  ts_simple(ts, 0, "/pool/a", 302, loc, NULL);
  snprintf(loc, sizeof(loc), "Location: %s\r\n", c);
  ts_simple(ts, 1, "/pool/b", 302, loc, NULL);
  ts_simple(ts, 0, "/pool/c", 429, "Retry-After: 0\r\n", "slow down");
  ts_simple(ts, 0, "/pool/c", 200, NULL, "pooled");
  ts_simple(ts, 1, "/pool/d", 200, NULL, "again");
  free(b);
  free(c);

  job *j = jobs_new(2);
  job_set(&j[0], 0, "/pool/a", 0, "/pool/c", 200, "pooled", 4);
  job_start(&j[0]);
  cr_assert_eq(drive(1, 5000), 1);
  job_check(&j[0]);
  job_set(&j[1], 1, "/pool/d", 1, NULL, 200, "again", 1);
  job_start(&j[1]);
  cr_assert_eq(drive(1, 5000), 1);
  job_check(&j[1]);
  cr_expect_eq(ts_request_count(ts), 5);
  cr_expect_eq(ts_connection_count(ts), 2,
               "%zu connections for 2 origins", ts_connection_count(ts));
  jobs_free(j, 2);
}

/* ---- an origin that asked for quiet -------------------------------------- */

Test(multi, quiet_origin_parks_its_requests_only) {
  cr_assert_eq(httpresp_client_set_max_retries(client, 0), 0);
  ts_simple(ts, 0, "/busy", 429, "Retry-After: 30\r\n", "busy");
  ts_simple(ts, 0, "/after", 200, NULL, "after the quiet");
  ts_simple(ts, 0, "/landing", 200, NULL, "landed after the quiet");
  ts_simple(ts, 1, "/elsewhere", 200, NULL, "elsewhere");
  char *landing = ts_url(ts, 0, "/landing");
  char loc[128];
  snprintf(loc, sizeof(loc), "Location: %s\r\n", landing);
  ts_simple(ts, 1, "/to-quiet", 302, loc, NULL);

  job *a = jobs_new(4);
  job_set(&a[0], 0, "/busy", 0, NULL, 429, "busy", 1);
  job_start(&a[0]);
  cr_assert_eq(drive(1, 5000), 1);
  job_check(&a[0]);
  cr_expect_eq(httpresp_response_retry_stop(a[0].resp),
               HTTPRESP_RETRY_EXHAUSTED);
  cr_expect_eq(httpresp_response_retry_after_ms(a[0].resp), 30000);

  /* a[1] is parked before it is sent, a[3] in the middle of its chain
   * when the redirect leads into the quiet origin. */
  job_set(&a[1], 0, "/after", 0, NULL, 200, "after the quiet", 1);
  job_set(&a[2], 1, "/elsewhere", 1, NULL, 200, "elsewhere", 1);
  job_set(&a[3], 1, "/to-quiet", 0, "/landing", 200, "landed after the quiet",
          2);
  job_start(&a[1]);
  job_start(&a[2]);
  job_start(&a[3]);
  cr_assert_eq(drive(1, 5000), 1, "the other origin was held up");
  job_check(&a[2]);
  for (int i = 0; i < 100 && requests_for("/to-quiet") < 1; i++)
    spin(10);
  spin(100);
  cr_assert_eq(a[1].times_done, 0, "the quiet origin was contacted early");
  cr_assert_eq(a[3].times_done, 0, "the redirect went to the quiet origin");
  cr_expect_eq(requests_for("/to-quiet"), 1);
  cr_expect_eq(requests_for("/after"), 0, "a request went out during quiet");
  cr_expect_eq(requests_for("/landing"), 0, "a redirect went out in quiet");
  long t = timeout_now();
  cr_expect(t > 29000 && t <= 30000, "timeout %ld ms, want about 30000", t);

  clk.now_ms += 30000;
  cr_assert_eq(drive(2, 5000), 2, "the parked transfers never came back");
  job_check(&a[1]);
  job_check(&a[3]);
  cr_expect_eq(requests_for("/after"), 1);
  cr_expect_eq(requests_for("/landing"), 1);
  cr_expect_eq(clk.sleeps, 0, "the multi driver slept");
  jobs_free(a, 4);
  free(landing);
}

/* ---- errors ----------------------------------------------------------------
 */

/* A port nothing listens on: bound once by us, then closed. */
static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(fd, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

Test(multi, errors_come_back_through_next_done) {
  ts_simple(ts, 0, "/loop/a", 302, "Location: /loop/b\r\n", NULL);
  ts_simple(ts, 0, "/loop/b", 302, "Location: /loop/a\r\n", NULL);
  ts_simple(ts, 0, "/fine", 200, NULL, "fine");

  job *j = jobs_new(3);
  job_set(&j[0], 0, "/loop/a", 0, NULL, 302, NULL, 0);
  j[0].want_error = HTTPRESP_E_REDIRECT_LOOP;
  j[1].easy = fixture_easy();
  char refused[64];
  snprintf(refused, sizeof(refused), "http://127.0.0.1:%d/nobody",
           closed_port());
  j[1].url = strdup(refused);
  j[1].want_error = HTTPRESP_E_CURL;
  j[1].want_status = 0;
  job_set(&j[2], 0, "/fine", 0, NULL, 200, "fine", 1);
  for (int i = 0; i < 3; i++)
    job_start(&j[i]);
  cr_assert_eq(drive(3, 10000), 3);
  for (int i = 0; i < 3; i++)
    job_check(&j[i]);
  cr_expect_eq(httpresp_response_curl_code(j[1].resp), CURLE_COULDNT_CONNECT,
               "%s",
               curl_easy_strerror(httpresp_response_curl_code(j[1].resp)));
  cr_expect_lt(requests_for("/loop/a") + requests_for("/loop/b"), 5,
               "the loop was not caught early");
  /* As in test_redirect.c (loops_stop_early): /loop/a and /loop/b once
   * each, the loop seen before /loop/a would be asked again. */
  cr_expect_eq(requests_for("/loop/a") + requests_for("/loop/b"), 2,
               "the loop is seen before /loop/a again");
  cr_expect_eq(httpresp_multi_pending(hm), 0);
  jobs_free(j, 3);
}

/* Freeing the context with transfers running, parked and done but not
 * taken releases everything (the sanitizers check) and leaves the easy
 * handles reusable. */
Test(multi, free_with_transfers_in_flight) {
  ts_resp *stall = ts_route(ts, 0, "/stall");
  ts_resp_stall(stall);
  ts_simple(ts, 1, "/wait", 429, "Retry-After: 30\r\n", "wait");
  ts_simple(ts, 0, "/done", 200, NULL, "done");
  ts_simple(ts, 1, "/quiet", 200, NULL, "never asked");

  enum { N = 8 };
  job *j = jobs_new(N);
  for (int i = 0; i < 5; i++)
    job_set(&j[i], 0, "/stall", 0, NULL, 200, NULL, 1);
  job_set(&j[5], 1, "/wait", 1, NULL, 200, NULL, 2);
  job_set(&j[6], 0, "/done", 0, NULL, 200, "done", 1);
  job_set(&j[7], 1, "/quiet", 1, NULL, 200, NULL, 1);
  for (int i = 0; i < 7; i++)
    job_start(&j[i]);
  for (int i = 0; i < 200 && ts_request_count(ts) < 7; i++)
    spin(10);
  cr_assert_eq(ts_request_count(ts), 7);
  spin(100);        /* the 429 gets decided, the 200 completes */
  job_start(&j[7]); /* parked at once: its origin asked for quiet */
  cr_expect_eq(httpresp_multi_pending(hm), N);

  httpresp_multi_free(hm);
  hm = NULL;
  for (int i = 0; i < N; i++) {
    cr_expect_eq(j[i].times_done, 0);
    void *priv = (void *)1;
    curl_easy_getinfo(j[i].easy, CURLINFO_PRIVATE, &priv);
    cr_expect_null(priv,
                   "handle %d: CURLOPT_PRIVATE still points into the freed "
                   "context",
                   i);
  }
  /* The handles are out of the multi handle and usable again. */
  cr_assert_eq(httpresp_multi_new(&hm, client, cm), 0);
  clk.now_ms += 30000;
  job_start(&j[6]);
  j[6].times_done = 0;
  cr_assert_eq(drive(1, 5000), 1);
  job_check(&j[6]);
  cr_expect_eq(requests_for("/quiet"), 0);
  jobs_free(j, N);
}

/* ---- stale-while-revalidate in the background (RFC 5861 §3) -------------- */

#define SWR_STORED                                                             \
  "Cache-Control: max-age=1, stale-while-revalidate=60\r\n"                    \
  "ETag: \"v1\"\r\nLast-Modified: Tue, 01 Dec 2025 10:00:00 GMT\r\n"           \
  "X-Version: 1\r\n"

static int headers_seen;
static int count_headers(void *ud, void *request_ud, int status,
                         const char *url, const char *const *lines, size_t n) {
  (void)ud, (void)request_ud, (void)status, (void)url, (void)lines, (void)n;
  headers_seen++;
  return 0;
}

/* A memory cache, HTTPRESP_SWR_DEFER, and `path` stored from the server
 * with SWR_STORED and body "old", then 5 s later: stale, in the window.
 * The server then answers `path` with `next` (appended by the caller). */
static void swr_stored(const char *path) {
  cr_assert_eq(httpresp_cache_new_memory(&cache, 1 << 20), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
  cr_assert_eq(
      httpresp_client_set_stale_while_revalidate(client, HTTPRESP_SWR_DEFER),
      0);
  cr_assert_eq(
      httpresp_client_set_headers_callback(client, count_headers, NULL), 0);
  ts_simple(ts, 0, path, 200, SWR_STORED, "old");
  job *j = jobs_new(1);
  job_set(j, 0, path, 0, NULL, 200, "old", 1);
  job_start(j);
  cr_assert_eq(drive(1, 5000), 1);
  job_check(j);
  cr_assert_eq(httpresp_response_cache_status(j->resp), HTTPRESP_CACHE_STORED);
  jobs_free(j, 1);
  clk.now_ms += 5000;
  headers_seen = 0;
}

/* Starts `n` GETs of `path` and expects each to be handed back at once
 * (inside httpresp_multi_add, before any driving) with the stale "old",
 * flagged stale (revalidating). */
static void expect_stale_at_once(job *j, size_t n, const char *path) {
  for (size_t i = 0; i < n; i++) {
    job_set(&j[i], 0, path, 0, NULL, 200, "old", 1);
    job_start(&j[i]);
    cr_assert_eq(collect(), 1, "request %zu waited for the network", i);
    job_check(&j[i]);
    httpresp_cache_status cs = httpresp_response_cache_status(j[i].resp);
    cr_expect_eq(cs, HTTPRESP_CACHE_STALE, "%zu: %s", i,
                 httpresp_cache_status_name(cs));
    cr_expect_str_eq(httpresp_response_cache_reason(j[i].resp), "revalidating");
    cr_expect_str_eq(httpresp_response_header(j[i].resp, "X-Version"), "1");
  }
}

/* Drives until no background revalidation is in flight; returns how many
 * ended since the context was made.  The caller's counts never show it. */
static size_t settle_background(void) {
  int64_t end = mono_ms() + 5000;
  size_t running = 1, done = 0;
  while (mono_ms() < end) {
    int n = -1;
    cr_assert_eq(httpresp_multi_perform(hm, &n), 0);
    cr_assert_eq(n, 0, "a background revalidation counted as running");
    cr_assert_eq(httpresp_multi_pending(hm), 0);
    cr_assert_eq(httpresp_multi_revalidations(hm, &running, &done), 0);
    if (!running)
      break;
    cr_assert_eq(httpresp_multi_poll(hm, 20), 0);
  }
  cr_assert_eq(running, 0, "the background revalidation did not end");
  cr_expect_eq(collect(), 0, "a background revalidation was handed back");
  return done;
}

/* The one request after the background revalidation: from the cache. */
static httpresp_response *next_answer(const char *path, job *j) {
  job_set(j, 0, path, 0, NULL, 200, NULL, 1);
  job_start(j);
  cr_assert_eq(drive(1, 5000), 1);
  return j->resp;
}

/* Twenty requests in the window: all answered at once with the stale body,
 * one conditional request reaches the server, in the background, while the
 * others are answered; its 304 refreshes the entry. */
Test(multi, swr_twenty_requests_one_background_revalidation) {
  swr_stored("/swr");
  ts_resp *r304 = ts_route(ts, 0, "/swr");
  ts_resp_delay(r304, 200); /* still in flight when the others come */
  ts_resp_simple(r304, 304,
                 "Cache-Control: max-age=600\r\nETag: \"v1\"\r\n"
                 "X-Version: 2\r\n",
                 NULL);
  enum { N = 20 };
  job *j = jobs_new(N + 1);
  expect_stale_at_once(j, 1, "/swr");
  size_t running = 0, done = 9;
  cr_assert_eq(httpresp_multi_revalidations(hm, &running, &done), 0);
  cr_expect_eq(running, 1);
  cr_expect_eq(done, 0);
  /* The conditional request reaches the server while the rest come. */
  for (int i = 0; i < 200 && requests_for("/swr") < 2; i++)
    spin(5);
  cr_assert_eq(requests_for("/swr"), 2);
  expect_stale_at_once(j + 1, N - 1, "/swr");
  cr_expect_eq(settle_background(), 1);
  cr_expect_eq(requests_for("/swr"), 2, "one revalidation for %d", N);
  const ts_request *q = ts_request_get(ts, ts_request_count(ts) - 1);
  cr_assert_not_null(q);
  cr_expect_str_eq(q->method, "GET");
  cr_expect_str_eq(ts_req_header(q, "If-None-Match"), "\"v1\"");
  cr_expect_str_eq(ts_req_header(q, "If-Modified-Since"),
                   "Tue, 01 Dec 2025 10:00:00 GMT");
  /* The 304 refreshed the entry: fresh now, its fields updated. */
  httpresp_response *r = next_answer("/swr", &j[N]);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(fixture_body(r), "old");
  cr_expect_str_eq(httpresp_response_header(r, "X-Version"), "2");
  cr_expect_eq(requests_for("/swr"), 2);
  cr_expect_eq(headers_seen, N + 1, "the callback saw the background's");
  jobs_free(j, N + 1);
}

/* A new answer to the background revalidation replaces the entry. */
Test(multi, swr_background_200_replaces_the_entry) {
  swr_stored("/swr200");
  ts_simple(ts, 0, "/swr200", 200,
            "Cache-Control: max-age=600\r\nETag: \"v2\"\r\nX-Version: 2\r\n",
            "new");
  job *j = jobs_new(2);
  expect_stale_at_once(j, 1, "/swr200");
  cr_expect_eq(settle_background(), 1);
  cr_assert_eq(requests_for("/swr200"), 2);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, ts_request_count(ts) - 1),
                                 "If-None-Match"),
                   "\"v1\"");
  httpresp_response *r = next_answer("/swr200", &j[1]);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(fixture_body(r), "new");
  cr_expect_str_eq(httpresp_response_header(r, "ETag"), "\"v2\"");
  cr_expect_eq(requests_for("/swr200"), 2);
  /* The caller's callback saw its two answers, not the background's. */
  cr_expect_eq(headers_seen, 2);
  jobs_free(j, 2);
}

/* The background revalidation fails (a 500, then a connection closed
 * inside the answer's header): the stale entry stays as it was, still served in
 * the window, and the next request starts another revalidation. */
Test(multi, swr_background_failure_keeps_the_stale_entry) {
  swr_stored("/swrfail");
  ts_simple(ts, 0, "/swrfail", 500, "X-Version: 9\r\n", "broken");
  ts_resp *cut = ts_route(ts, 0, "/swrfail");
  ts_resp_str(cut, "HTTP/1.1 200 OK\r\nX-Version: 9\r\nETa");
  ts_resp_close(cut);
  ts_simple(ts, 0, "/swrfail", 304, "ETag: \"v1\"\r\n", NULL);
  job *j = jobs_new(2);
  expect_stale_at_once(j, 1, "/swrfail");
  cr_expect_eq(settle_background(), 1);
  cr_expect_eq(requests_for("/swrfail"), 2);
  expect_stale_at_once(j + 1, 1, "/swrfail");
  cr_expect_eq(settle_background(), 2);
  cr_expect_eq(requests_for("/swrfail"), 3);
  const ts_request *q = ts_request_get(ts, ts_request_count(ts) - 1);
  cr_expect_str_eq(ts_req_header(q, "If-None-Match"), "\"v1\"",
                   "the entry and its validator were kept");
  /* Still stale, as it was: the failures wrote nothing. */
  job *k = jobs_new(1);
  expect_stale_at_once(k, 1, "/swrfail");
  cr_expect_eq(settle_background(), 3);
  jobs_free(k, 1);
  jobs_free(j, 2);
}

/* Freeing the context with a background revalidation in flight: nothing
 * leaks (the sanitizers check), nothing crashes, and the revalidation is
 * deferred again: a later httpresp_client_revalidate() runs it. */
Test(multi, swr_free_with_background_revalidation_in_flight) {
  swr_stored("/swrstall");
  ts_resp *stall = ts_route(ts, 0, "/swrstall");
  ts_resp_stall(stall);
  ts_simple(ts, 0, "/swrstall", 304,
            "Cache-Control: max-age=600\r\nETag: \"v1\"\r\nX-Version: 2\r\n",
            NULL);
  job *j = jobs_new(1);
  expect_stale_at_once(j, 1, "/swrstall");
  for (int i = 0; i < 200 && requests_for("/swrstall") < 2; i++)
    spin(5);
  cr_assert_eq(requests_for("/swrstall"), 2, "the background one went out");
  size_t running = 0;
  cr_assert_eq(httpresp_multi_revalidations(hm, &running, NULL), 0);
  cr_assert_eq(running, 1);
  httpresp_multi_free(hm);
  hm = NULL;
  cr_expect_eq(httpresp_multi_revalidations(NULL, &running, NULL),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(running, 0);
  CURL *easy = fixture_easy();
  size_t done = 0;
  cr_assert_eq(httpresp_client_revalidate(client, easy, &done), 0);
  cr_expect_eq(done, 1, "the stopped revalidation was deferred again");
  cr_expect_eq(requests_for("/swrstall"), 3);
  curl_easy_cleanup(easy);
  cr_assert_eq(httpresp_multi_new(&hm, client, cm), 0);
  job *k = jobs_new(1);
  httpresp_response *r = next_answer("/swrstall", k);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(httpresp_response_header(r, "X-Version"), "2");
  jobs_free(k, 1);
  jobs_free(j, 1);
}

/* Starts a GET of `path` with `Accept: accept`. */
static void job_start_accept(job *j, const char *path, const char *accept,
                             const char *body) {
  job_set(j, 0, path, 0, NULL, 200, body, 1);
  httpresp_request *req = NULL;
  cr_assert_eq(httpresp_request_new(&req, "GET", j->url), 0);
  cr_assert_eq(httpresp_request_add_header(req, "Accept", accept), 0);
  cr_assert_eq(httpresp_multi_add(hm, j->easy, req, j), 0);
  httpresp_request_free(req);
}

/* Two variants of one URL (Vary: Accept), both stale in the window, ten
 * requests for each: each variant is revalidated once, with its own
 * validator, and each one's 304 refreshes that variant only. */
Test(multi, swr_one_background_revalidation_per_variant) {
  cr_assert_eq(httpresp_cache_new_memory(&cache, 1 << 20), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
  cr_assert_eq(
      httpresp_client_set_stale_while_revalidate(client, HTTPRESP_SWR_DEFER),
      0);
  ts_simple(ts, 0, "/var", 200,
            "Cache-Control: max-age=1, stale-while-revalidate=60\r\n"
            "Vary: Accept\r\nETag: \"json\"\r\n",
            "{}");
  ts_simple(ts, 0, "/var", 200,
            "Cache-Control: max-age=1, stale-while-revalidate=60\r\n"
            "Vary: Accept\r\nETag: \"csv\"\r\n",
            "a,b");
  job *w = jobs_new(2);
  job_start_accept(&w[0], "/var", "application/json", "{}");
  cr_assert_eq(drive(1, 5000), 1);
  job_start_accept(&w[1], "/var", "text/csv", "a,b");
  cr_assert_eq(drive(1, 5000), 1);
  for (int i = 0; i < 2; i++)
    cr_assert_eq(httpresp_response_cache_status(w[i].resp),
                 HTTPRESP_CACHE_STORED);
  clk.now_ms += 5000;
  ts_resp *r = ts_route(ts, 0, "/var");
  ts_resp_delay(r, 100);
  ts_resp_simple(r, 304, "Cache-Control: max-age=600\r\nX-Fresh: 1\r\n", NULL);
  enum { N = 10 };
  job *j = jobs_new(2 * N);
  for (int i = 0; i < 2 * N; i++) {
    int csv = i % 2;
    job_start_accept(&j[i], "/var", csv ? "text/csv" : "application/json",
                     csv ? "a,b" : "{}");
    cr_assert_eq(collect(), 1, "request %d waited for the network", i);
    job_check(&j[i]);
    cr_expect_eq(httpresp_response_cache_status(j[i].resp),
                 HTTPRESP_CACHE_STALE);
  }
  cr_expect_eq(settle_background(), 2);
  cr_assert_eq(requests_for("/var"), 4, "one revalidation per variant");
  const char *inm[2] = {ts_req_header(ts_request_get(ts, 2), "If-None-Match"),
                        ts_req_header(ts_request_get(ts, 3), "If-None-Match")};
  cr_assert(inm[0] && inm[1]);
  cr_expect(strcmp(inm[0], inm[1]) != 0, "both sent %s", inm[0]);
  for (int k = 0; k < 2; k++)
    cr_expect(strcmp(inm[k], "\"json\"") == 0 || strcmp(inm[k], "\"csv\"") == 0,
              "%s", inm[k]);
  job *f = jobs_new(2);
  job_start_accept(&f[0], "/var", "application/json", "{}");
  job_start_accept(&f[1], "/var", "text/csv", "a,b");
  cr_assert_eq(drive(2, 5000), 2);
  for (int i = 0; i < 2; i++) {
    job_check(&f[i]);
    cr_expect_eq(httpresp_response_cache_status(f[i].resp), HTTPRESP_CACHE_HIT);
    cr_expect_str_eq(httpresp_response_header(f[i].resp, "X-Fresh"), "1");
  }
  cr_expect_eq(requests_for("/var"), 4);
  jobs_free(f, 2);
  jobs_free(j, 2 * N);
  jobs_free(w, 2);
}

/* The caller's own event loop (socket callbacks, httpresp_multi_timeout):
 * the background revalidation's socket and timer come to it like any
 * transfer's, and it ends without ever being handed back. */
Test(multi, swr_background_revalidation_in_a_socket_action_loop) {
  event_loop_hooks();
  cr_assert_eq(httpresp_cache_new_memory(&cache, 1 << 20), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
  cr_assert_eq(
      httpresp_client_set_stale_while_revalidate(client, HTTPRESP_SWR_DEFER),
      0);
  ts_simple(ts, 0, "/sa", 200, SWR_STORED, "old");
  ts_simple(ts, 0, "/sa", 304,
            "Cache-Control: max-age=600\r\nETag: \"v1\"\r\nX-Version: 2\r\n",
            NULL);
  job *j = jobs_new(3);
  job_set(&j[0], 0, "/sa", 0, NULL, 200, "old", 1);
  job_start(&j[0]);
  cr_assert_eq(sa_drive(1, 5000), 1);
  clk.now_ms += 5000;
  job_set(&j[1], 0, "/sa", 0, NULL, 200, "old", 1);
  job_start(&j[1]);
  cr_assert_eq(collect(), 1, "the stale answer waited for the network");
  cr_expect_eq(httpresp_response_cache_status(j[1].resp), HTTPRESP_CACHE_STALE);
  size_t running = 1, done = 0;
  for (int i = 0; i < 500 && running; i++) {
    cr_assert_eq(sa_drive(1, 10), 0, "a background revalidation came back");
    cr_assert_eq(httpresp_multi_revalidations(hm, &running, &done), 0);
  }
  cr_assert_eq(running, 0);
  cr_expect_eq(done, 1);
  cr_assert_eq(requests_for("/sa"), 2);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "If-None-Match"),
                   "\"v1\"");
  job_set(&j[2], 0, "/sa", 0, NULL, 200, "old", 1);
  job_start(&j[2]);
  cr_assert_eq(collect(), 1);
  cr_expect_eq(httpresp_response_cache_status(j[2].resp), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(httpresp_response_header(j[2].resp, "X-Version"), "2");
  jobs_free(j, 3);
}

static int bg_waits;
static void *bg_wait_ud;
static int64_t record_wait(void *ud, void *request_ud, httpresp_wait_reason why,
                           int64_t ms, const char *url) {
  (void)ud, (void)why, (void)url;
  bg_waits++;
  bg_wait_ud = request_ud;
  return ms;
}

/* The background revalidation waits for a Retry-After like any request,
 * through the caller's wait callback, but without the userdata of the
 * request answered stale: that request is done, and what its userdata
 * points to may be gone. */
Test(multi, swr_background_callbacks_get_no_request_userdata) {
  swr_stored("/swrwait");
  ts_simple(ts, 0, "/swrwait", 429, "Retry-After: 1\r\n", "later");
  ts_simple(ts, 0, "/swrwait", 304,
            "Cache-Control: max-age=600\r\nETag: \"v1\"\r\nX-Version: 2\r\n",
            NULL);
  cr_assert_eq(httpresp_client_set_wait_callback(client, record_wait, NULL), 0);
  bg_wait_ud = &bg_waits;
  job *j = jobs_new(2);
  job_set(&j[0], 0, "/swrwait", 0, NULL, 200, "old", 1);
  httpresp_request *req = NULL;
  cr_assert_eq(httpresp_request_new(&req, "GET", j[0].url), 0);
  cr_assert_eq(httpresp_request_set_userdata(req, &j[0]), 0);
  cr_assert_eq(httpresp_multi_add(hm, j[0].easy, req, &j[0]), 0);
  httpresp_request_free(req);
  cr_assert_eq(collect(), 1);
  cr_expect_eq(httpresp_response_cache_status(j[0].resp), HTTPRESP_CACHE_STALE);
  for (int i = 0; i < 200 && !bg_waits; i++)
    spin(5);
  cr_assert_eq(bg_waits, 1, "the 429 was not waited for");
  cr_expect_null(bg_wait_ud, "the wait callback got the done request's data");
  clk.now_ms += 1000;
  cr_expect_eq(settle_background(), 1);
  cr_expect_eq(requests_for("/swrwait"), 3);
  httpresp_response *r = next_answer("/swrwait", &j[1]);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(httpresp_response_header(r, "X-Version"), "2");
  jobs_free(j, 2);
}

/* A transfer reads its client's settings when it uses them, not when it
 * starts (no copy per transfer): a setter called between the driver's
 * calls while transfers of the client are in flight applies to their next
 * decision, and the settings a request overrides stay its own.  Changing
 * the redirect schemes frees the old list: a transfer that had kept a
 * pointer to it would read freed memory here (AddressSanitizer). */
Test(multi, settings_changed_in_flight_apply_to_the_next_decision) {
  static const char *const paths[] = {"/slow302a", "/slow302b", "/slow302c"};
  for (int i = 0; i < 3; i++) {
    ts_resp *slow = ts_route(ts, 0, paths[i]);
    ts_resp_delay(slow, 300);
    ts_resp_simple(slow, 302, "Location: /end\r\n", "");
  }
  ts_simple(ts, 0, "/end", 200, NULL, "end");

  enum { N = 3 };
  job *j = jobs_new(N);
  for (int i = 0; i < N; i++)
    job_set(&j[i], 0, paths[i], 0, "/end", 200, "end", 2);
  /* j[0] follows the client's redirect limit, j[1] has its own */
  job_start(&j[0]);
  httpresp_request *req = NULL;
  cr_assert_eq(httpresp_request_new(&req, "GET", j[1].url), 0);
  cr_assert_eq(httpresp_request_set_max_redirects(req, 5), 0);
  cr_assert_eq(httpresp_multi_add(hm, j[1].easy, req, &j[1]), 0);
  httpresp_request_free(req);
  for (int i = 0; i < 200 && ts_request_count(ts) < 2; i++)
    spin(5);
  cr_assert_eq(ts_request_count(ts), 2, "both asked before the change");
  cr_assert_eq(collect(), 0, "none answered yet");
  cr_assert_eq(httpresp_client_set_max_redirects(client, 0), 0);
  cr_assert_eq(drive(2, 5000), 2);
  cr_expect_eq(httpresp_response_error(j[0].resp),
               HTTPRESP_E_TOO_MANY_REDIRECTS, "%s",
               httpresp_response_errmsg(j[0].resp));
  job_check(&j[1]);

  /* j[2]: the schemes allowed change under it */
  cr_assert_eq(httpresp_client_set_max_redirects(client, 20), 0);
  job_start(&j[2]);
  for (int i = 0; i < 200 && ts_request_count(ts) < 4; i++)
    spin(5);
  cr_assert_eq(ts_request_count(ts), 4, "asked before the change");
  cr_assert_eq(httpresp_client_set_redirect_schemes(client, "https"), 0);
  cr_assert_eq(drive(1, 5000), 1);
  cr_expect_eq(httpresp_response_error(j[2].resp),
               HTTPRESP_E_SCHEME_NOT_ALLOWED, "%s",
               httpresp_response_errmsg(j[2].resp));
  cr_expect_eq(requests_for("/end"), 1, "only the overriding request followed");
  jobs_free(j, N);
}
