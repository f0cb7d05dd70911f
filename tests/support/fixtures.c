#include "fixtures.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int64_t fake_now(void *ud) { return ((fake_clock *)ud)->now_ms; }

int fake_sleep(void *ud, int64_t ms) {
  fake_clock *c = ud;
  c->now_ms += ms;
  c->slept_ms += ms;
  c->sleeps++;
  return 0;
}

httpresp_client *fixture_client(fake_clock *clock) {
  httpresp_client *c = NULL;
  cr_assert_eq(httpresp_client_new(&c), 0);
  if (clock) {
    if (!clock->now_ms)
      clock->now_ms = INT64_C(1767225600000); /* 2026-01-01T00:00:00Z */
    cr_assert_eq(httpresp_client_set_clock(c, fake_now, fake_sleep, clock), 0);
  }
  return c;
}

CURL *fixture_easy(void) {
  CURL *e = curl_easy_init();
  cr_assert_not_null(e);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
  return e;
}

void fixture_suite_start(int nports, ts_server **ts, fake_clock *clk,
                         httpresp_client **client, CURL **easy) {
  *ts = ts_start(nports);
  cr_assert_not_null(*ts);
  memset(clk, 0, sizeof(*clk));
  *client = fixture_client(clk);
  *easy = fixture_easy();
}

void fixture_suite_stop(ts_server *ts, httpresp_client *client, CURL *easy) {
  curl_easy_cleanup(easy);
  httpresp_client_free(client);
  ts_stop(ts);
}

httpresp_response *fixture_run(httpresp_client *c, CURL *easy,
                               const char *method, const char *url,
                               const char *body, const char *const *headers) {
  httpresp_request *req = NULL;
  cr_assert_eq(httpresp_request_new(&req, method, url), 0, "request %s %s",
               method, url);
  if (body)
    cr_assert_eq(httpresp_request_set_body(req, body, strlen(body)), 0);
  for (size_t i = 0; headers && headers[i]; i++)
    cr_assert_eq(httpresp_request_add_header(req, headers[i], NULL), 0);
  httpresp_response *resp = NULL;
  httpresp_perform(c, easy, req, &resp);
  cr_assert_not_null(resp);
  httpresp_request_free(req);
  return resp;
}

const char *fixture_body(const httpresp_response *r) {
  size_t len;
  const char *b = httpresp_response_body(r, &len);
  return b ? b : "";
}

void fixture_expect_hop(const httpresp_response *r, size_t i, int status,
                        httpresp_decision d) {
  int st;
  httpresp_decision got;
  cr_assert_eq(httpresp_response_hop(r, i, &st, NULL, NULL, &got), 0,
               "no hop %zu (of %zu)", i, httpresp_response_hop_count(r));
  if (status != FIXTURE_ANY_STATUS)
    cr_expect_eq(st, status, "hop %zu: status %d, expected %d", i, st, status);
  cr_expect_eq(got, d, "hop %zu: %s, expected %s", i,
               httpresp_decision_name(got), httpresp_decision_name(d));
}

size_t fixture_stream_read(void *ud, char *buf, size_t len) {
  fixture_stream *s = ud;
  size_t n = s->len - s->pos;
  if (n > len)
    n = len;
  if (s->chunk && n > s->chunk)
    n = s->chunk;
  memcpy(buf, s->data + s->pos, n);
  s->pos += n;
  return n;
}

int fixture_stream_rewind(void *ud) {
  fixture_stream *s = ud;
  s->pos = 0;
  s->rewinds++;
  return 0;
}

void fixture_rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return;
  if (!S_ISDIR(st.st_mode)) {
    unlink(path);
    return;
  }
  DIR *d = opendir(path);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
        continue;
      size_t n = strlen(path) + strlen(de->d_name) + 2;
      char *sub = malloc(n);
      if (!sub)
        continue;
      snprintf(sub, n, "%s/%s", path, de->d_name);
      fixture_rm_rf(sub);
      free(sub);
    }
    closedir(d);
  }
  rmdir(path);
}
