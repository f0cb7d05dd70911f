/* SPDX-License-Identifier: MIT */
/* The cache against a server (or a store) that does not play along, end to
 * end through the loopback server, asserting what the server received:
 *  - a HEAD's revalidation refreshes the stored GET response and never
 *    removes it (RFC 9111 §4.3.5);
 *  - one identity's answer never reaches another: credentials, cookies,
 *    Authorization fields and named partitions each key their own entries,
 *    and an identity the library cannot see is never cached. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "httpdate.h"
#include "testsrv.h"

static ts_server *ts;
static httpresp_client *client;
static httpresp_cache *cache;
static CURL *easy;
static fake_clock clk;

static void setup(void) {
  fixture_suite_start(1, &ts, &clk, &client, &easy);
  cr_assert_eq(httpresp_cache_new_memory(&cache, 1 << 20), 0);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
}

static void teardown(void) {
  fixture_suite_stop(ts, client, easy);
  httpresp_cache_free(cache);
}

TestSuite(hostile_cache, .init = setup, .fini = teardown);

/* A response on route `path` dated now (the fake clock). */
static void serve(const char *path, int status, const char *headers,
                  const char *body) {
  char date[64], h[512];
  cr_assert_eq(hr_httpdate_format(clk.now_ms / 1000, date, sizeof(date)), 0);
  snprintf(h, sizeof(h), "Date: %s\r\n%s", date, headers ? headers : "");
  ts_simple(ts, 0, path, status, h, body);
}

static httpresp_response *run(const char *method, const char *path,
                              const char *const *headers) {
  char *u = ts_url(ts, 0, path);
  httpresp_response *r = fixture_run(client, easy, method, u, NULL, headers);
  free(u);
  return r;
}

Test(hostile_cache, head_revalidation_refreshes_the_stored_get) {
  serve("/h", 200, "Cache-Control: max-age=1\r\nETag: \"v1\"\r\n", "the body");
  serve("/h", 304, "Cache-Control: max-age=60\r\nETag: \"v1\"\r\n", NULL);
  httpresp_response *r = run("GET", "/h", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);

  clk.now_ms += 5000; /* stale: the HEAD revalidates */
  r = run("HEAD", "/h", NULL);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_eq(httpresp_response_status(r), 200);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  cr_expect_str_eq(fixture_body(r), "", "a HEAD gets no body");
  httpresp_response_free(r);
  cr_assert_eq(ts_request_count(ts), 2u);
  const ts_request *q = ts_request_get(ts, 1);
  cr_expect_str_eq(q->method, "HEAD");
  cr_expect_str_eq(ts_req_header(q, "If-None-Match"), "\"v1\"");

  /* The GET response is still stored, refreshed by the 304: fresh for 60 s
   * from now, so the next GET never reaches the server. */
  clk.now_ms += 10000;
  r = run("GET", "/h", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT,
               "the HEAD's 304 must not remove the stored GET response");
  cr_expect_str_eq(fixture_body(r), "the body");
  cr_expect_str_eq(httpresp_response_header(r, "Cache-Control"), "max-age=60");
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 2u, "the GET was served from the cache");
}

Test(hostile_cache, head_304_with_no_store_still_removes) {
  /* §5.2.2.5: what the 304 says about storing holds for a HEAD too. */
  serve("/n", 200, "Cache-Control: max-age=1\r\nETag: \"v1\"\r\n", "body");
  serve("/n", 304, "Cache-Control: no-store\r\nETag: \"v1\"\r\n", NULL);
  serve("/n", 200, "Cache-Control: max-age=60\r\n", "new body");
  httpresp_response_free(run("GET", "/n", NULL));
  clk.now_ms += 5000;
  httpresp_response *r = run("HEAD", "/n", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_REVALIDATED);
  httpresp_response_free(r);
  r = run("GET", "/n", NULL);
  cr_expect_str_eq(fixture_body(r), "new body");
  httpresp_response_free(r);
  cr_assert_eq(ts_request_count(ts), 3u);
  cr_expect_str_eq(ts_request_get(ts, 2)->method, "GET");
  cr_expect_null(ts_req_header(ts_request_get(ts, 2), "If-None-Match"));
}

/* ---- identities: one identity's answer never reaches another ------------- */

/* GET `path` with `user` as credentials (NULL: none) and a `partition`
 * (NULL: none) and `headers`. */
static httpresp_response *run_as(const char *path, const char *user,
                                 const char *partition,
                                 const char *const *headers) {
  char *u = ts_url(ts, 0, path);
  httpresp_request *q = NULL;
  cr_assert_eq(httpresp_request_new(&q, "GET", u), 0);
  free(u);
  if (user)
    cr_assert_eq(httpresp_request_set_credentials(q, user, "pw", 0), 0);
  if (partition)
    cr_assert_eq(httpresp_request_set_cache_partition(q, partition), 0);
  for (size_t i = 0; headers && headers[i]; i++)
    cr_assert_eq(httpresp_request_add_header(q, headers[i], NULL), 0);
  httpresp_response *r = NULL;
  httpresp_perform(client, easy, q, &r);
  cr_assert_not_null(r);
  httpresp_request_free(q);
  return r;
}

Test(hostile_cache, credentials_are_not_answered_with_the_anonymous_entry) {
  serve("/a", 200, "Cache-Control: max-age=60\r\n", "anonymous");
  serve("/a", 200, "Cache-Control: private, max-age=60\r\n", "for user-a");
  httpresp_response *r = run_as("/a", NULL, NULL, NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
  r = run_as("/a", "user-a", NULL, NULL);
  cr_expect_str_eq(fixture_body(r), "for user-a");
  cr_expect_neq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  httpresp_response_free(r);
  cr_assert_eq(ts_request_count(ts), 2u, "user-a's request reached the server");
  const char *auth = ts_req_header(ts_request_get(ts, 1), "Authorization");
  cr_expect(auth && strncmp(auth, "Basic ", 6) == 0);
  /* The anonymous entry still answers anonymous requests. */
  r = run_as("/a", NULL, NULL, NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(fixture_body(r), "anonymous");
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 2u);
}

Test(hostile_cache, cookies_partition_the_cache) {
  serve("/c", 200, "Cache-Control: max-age=60\r\n", "page of a");
  serve("/c", 200, "Cache-Control: max-age=60\r\n", "page of b");
  static const char *const as_a[] = {"Cookie: sid=a-session", NULL};
  static const char *const as_b[] = {"Cookie: sid=b-session", NULL};
  httpresp_response *r = run_as("/c", NULL, NULL, as_a);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
  r = run_as("/c", NULL, NULL, as_b);
  cr_expect_str_eq(fixture_body(r), "page of b",
                   "b-session got a-session's answer");
  httpresp_response_free(r);
  cr_assert_eq(ts_request_count(ts), 2u);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "Cookie"),
                   "sid=b-session");
  /* Each session is answered from its own entry. */
  r = run_as("/c", NULL, NULL, as_a);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(fixture_body(r), "page of a");
  httpresp_response_free(r);
  r = run_as("/c", NULL, NULL, as_b);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(fixture_body(r), "page of b");
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 2u);
}

Test(hostile_cache, authorization_fields_partition_the_cache) {
  /* Storable despite Authorization (public), yet only for that token. */
  serve("/t", 200, "Cache-Control: public, max-age=60\r\n", "token x");
  serve("/t", 200, "Cache-Control: public, max-age=60\r\n", "token y");
  static const char *const x[] = {"Authorization: Bearer x", NULL};
  static const char *const y[] = {"Authorization: Bearer y", NULL};
  httpresp_response_free(run_as("/t", NULL, NULL, x));
  httpresp_response *r = run_as("/t", NULL, NULL, y);
  cr_expect_str_eq(fixture_body(r), "token y");
  httpresp_response_free(r);
  cr_assert_eq(ts_request_count(ts), 2u);
  cr_expect_str_eq(ts_req_header(ts_request_get(ts, 1), "Authorization"),
                   "Bearer y");
  r = run_as("/t", NULL, NULL, x);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(fixture_body(r), "token x");
  httpresp_response_free(r);
}

Test(hostile_cache, a_named_partition_keeps_identities_apart) {
  serve("/p", 200, "Cache-Control: max-age=60\r\n", "tenant 1");
  serve("/p", 200, "Cache-Control: max-age=60\r\n", "tenant 2");
  httpresp_response_free(run_as("/p", NULL, "tenant-1", NULL));
  httpresp_response *r = run_as("/p", NULL, "tenant-2", NULL);
  cr_expect_str_eq(fixture_body(r), "tenant 2");
  httpresp_response_free(r);
  r = run_as("/p", NULL, NULL, NULL); /* anonymous: its own partition too */
  cr_expect_neq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 3u);
  r = run_as("/p", NULL, "tenant-1", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(fixture_body(r), "tenant 1");
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 3u);
  cr_expect_eq(httpresp_request_set_cache_partition(NULL, "x"),
               HTTPRESP_E_INVALID_ARG);
}

Test(hostile_cache, identity_on_the_handle_is_never_cached_unless_named) {
  /* CURLOPT_USERPWD on the handle: invisible to the library, which is told
   * so and then neither serves nor stores for requests without a name. */
  cr_assert_eq(httpresp_client_set_handle_identity(client, 1), 0);
  curl_easy_setopt(easy, CURLOPT_USERPWD, "user-a:pw1");
  serve("/u", 200, "Cache-Control: max-age=60\r\n", "for user-a");
  httpresp_response *r = run_as("/u", NULL, NULL, NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_BYPASS);
  cr_expect_str_eq(httpresp_response_cache_reason(r), "identity-unknown");
  httpresp_response_free(r);
  curl_easy_setopt(easy, CURLOPT_USERPWD, "user-b:pw2");
  r = run_as("/u", NULL, NULL, NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_BYPASS);
  httpresp_response_free(r);
  cr_assert_eq(ts_request_count(ts), 2u, "user-b's request reached the server");
  cr_expect_str_neq(ts_req_header(ts_request_get(ts, 0), "Authorization"),
                    ts_req_header(ts_request_get(ts, 1), "Authorization"));
  /* Named, the identity is the caller's to vouch for: cached under it. */
  r = run_as("/u", NULL, "user-b", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
  r = run_as("/u", NULL, "user-b", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 3u);
  curl_easy_setopt(easy, CURLOPT_USERPWD, NULL);
}

/* ---- a store that cannot write ------------------------------------------- */

/* A caller's store holding a few entries, whose writes (put and del) can be
 * made to fail, as a read-only or full store's do. */
#define RO_MAX 8
typedef struct ro_store {
  char *key[RO_MAX];
  void *data[RO_MAX];
  size_t len[RO_MAX];
  int read_only;
  int failed_writes;
} ro_store;

static int ro_find(ro_store *s, const char *key) {
  for (int i = 0; i < RO_MAX; i++)
    if (s->key[i] && strcmp(s->key[i], key) == 0)
      return i;
  return -1;
}

static int ro_get(void *p, const char *key, void **data, size_t *len) {
  ro_store *s = p;
  int i = ro_find(s, key);
  if (i < 0)
    return 1;
  *data = malloc(s->len[i] ? s->len[i] : 1);
  memcpy(*data, s->data[i], s->len[i]);
  *len = s->len[i];
  return 0;
}

static int ro_del(void *p, const char *key) {
  ro_store *s = p;
  if (s->read_only) {
    s->failed_writes++;
    return -1;
  }
  int i = ro_find(s, key);
  if (i >= 0) {
    free(s->key[i]);
    free(s->data[i]);
    s->key[i] = NULL;
    s->data[i] = NULL;
  }
  return 0;
}

static int ro_put(void *p, const char *key, const void *data, size_t len) {
  ro_store *s = p;
  if (s->read_only) {
    s->failed_writes++;
    return -1;
  }
  ro_del(s, key);
  for (int i = 0; i < RO_MAX; i++) {
    if (!s->key[i]) {
      s->key[i] = strdup(key);
      s->data[i] = malloc(len ? len : 1);
      memcpy(s->data[i], data, len);
      s->len[i] = len;
      return 0;
    }
  }
  return -1;
}

static void ro_destroy(void *p) {
  ro_store *s = p;
  s->read_only = 0;
  for (int i = 0; i < RO_MAX; i++)
    ro_del(s, s->key[i] ? s->key[i] : "");
}

static const httpresp_store_ops ro_ops = {HTTPRESP_STORE_VERSION, ro_get,
                                          ro_put, ro_del, ro_destroy};

/* Issue 18 item 4: the newer answer can be neither stored nor used to
 * remove the older one, which must then never be served again. */
Test(hostile_cache, a_store_that_cannot_write_never_serves_the_older_answer) {
  static ro_store st;
  memset(&st, 0, sizeof(st));
  httpresp_cache *ro;
  cr_assert_eq(httpresp_cache_new_custom(&ro, &ro_ops, &st), 0);
  cr_assert_eq(httpresp_client_set_cache(client, ro), 0);
  serve("/w", 200, "Cache-Control: max-age=600\r\n", "version 1");
  serve("/w", 200, "Cache-Control: max-age=600\r\n", "version 2");
  httpresp_response *r = run("GET", "/w", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);

  /* The store turns read-only; a reload fetches version 2. */
  st.read_only = 1;
  static const char *const reload[] = {"Cache-Control: no-cache", NULL};
  r = run("GET", "/w", reload);
  cr_expect_str_eq(fixture_body(r), "version 2");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_MISS);
  cr_expect_str_eq(httpresp_response_cache_reason(r), "store-failed");
  httpresp_response_free(r);
  cr_expect_geq(st.failed_writes, 2, "both the put and the del failed");

  /* Version 1 is still in the store, but superseded: not served. */
  r = run("GET", "/w", NULL);
  cr_expect_neq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT,
                "the older answer was served after a newer one came");
  cr_expect_str_eq(fixture_body(r), "version 2");
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 3u, "the request reached the server");

  /* Writable again: the next answer is stored and served as usual. */
  st.read_only = 0;
  r = run("GET", "/w", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_STORED);
  httpresp_response_free(r);
  r = run("GET", "/w", NULL);
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_HIT);
  cr_expect_str_eq(fixture_body(r), "version 2");
  httpresp_response_free(r);
  cr_expect_eq(ts_request_count(ts), 4u);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
  httpresp_cache_free(ro);
}

/* The disk store's system error reaches the response's cache reason (and
 * so the tool's -v line). */
Test(hostile_cache, a_disk_store_failure_carries_its_system_error) {
  char dir[] = "/tmp/hrhostile-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char sub[64];
  snprintf(sub, sizeof(sub), "%s/cache", dir);
  httpresp_cache *disk;
  cr_assert_eq(httpresp_cache_new_disk(&disk, sub, 1 << 20), 0);
  cr_assert_eq(httpresp_client_set_cache(client, disk), 0);
  /* The directory is replaced by a file: every write fails, ENOTDIR. */
  fixture_rm_rf(sub);
  FILE *f = fopen(sub, "w");
  cr_assert_not_null(f);
  fclose(f);
  serve("/d", 200, "Cache-Control: max-age=600\r\n", "body");
  httpresp_response *r = run("GET", "/d", NULL);
  cr_expect_eq(httpresp_response_error(r), 0);
  cr_expect_str_eq(fixture_body(r), "body");
  cr_expect_eq(httpresp_response_cache_status(r), HTTPRESP_CACHE_MISS);
  cr_expect_str_eq(httpresp_response_cache_reason(r),
                   "store-failed: Not a directory");
  httpresp_response_free(r);
  cr_assert_eq(httpresp_client_set_cache(client, cache), 0);
  httpresp_cache_free(disk);
  fixture_rm_rf(dir);
}
