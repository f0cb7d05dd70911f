/* Shared helpers for the integration suites: a fake clock and a one-call
 * way to run a request through the blocking driver. */
#ifndef HTTPRESP_TEST_FIXTURES_H
#define HTTPRESP_TEST_FIXTURES_H

#include <stdint.h>

#include <curl/curl.h>
#include <httpresp/httpresp.h>

#include "testsrv.h"

/* A clock tests move by hand; sleeping advances it instantly. */
typedef struct fake_clock {
  int64_t now_ms;
  int64_t slept_ms; /* total asked to sleep */
  int sleeps;       /* number of sleeps */
} fake_clock;

int64_t fake_now(void *ud);
int fake_sleep(void *ud, int64_t ms);
/* A client on a fake clock starting at a fixed date (2026-01-01). */
httpresp_client *fixture_client(fake_clock *clock);
/* An easy handle with a short timeout, quiet, on loopback only. */
CURL *fixture_easy(void);
/* Runs `method url` with an optional body (NUL-terminated, may be NULL)
 * and NULL-terminated "Name: value" headers (may be NULL). */
httpresp_response *fixture_run(httpresp_client *c, CURL *easy,
                               const char *method, const char *url,
                               const char *body, const char *const *headers);
/* The usual suite set-up: a loopback server on `nports` ports, a client on
 * the fake clock `clk` (reset to its start) and an easy handle. */
void fixture_suite_start(int nports, ts_server **ts, fake_clock *clk,
                         httpresp_client **client, CURL **easy);
/* Releases what fixture_suite_start made. */
void fixture_suite_stop(ts_server *ts, httpresp_client *client, CURL *easy);
/* The body of a response as a NUL-terminated string ("" if none). */
const char *fixture_body(const httpresp_response *r);
/* Asserts that `r` has a hop `i` (httpresp_response_hop returns 0; the test
 * stops if not), then expects its status to be `status` and its decision
 * `d`.  FIXTURE_ANY_STATUS skips the status check, for a test that only
 * knows the decision (0 is a real hop status: the transfer failed). */
#define FIXTURE_ANY_STATUS (-1)
void fixture_expect_hop(const httpresp_response *r, size_t i, int status,
                        httpresp_decision d);

/* A request body streamed from memory for httpresp_request_set_body_stream:
 * reads at most `chunk` bytes at a time (0: as much as asked, else small
 * reads make the body really stream) and counts rewinds. */
typedef struct fixture_stream {
  const char *data;
  size_t len;
  size_t chunk;
  size_t pos;
  int rewinds;
} fixture_stream;
size_t fixture_stream_read(void *ud, char *buf, size_t len);
int fixture_stream_rewind(void *ud);

/* rm -rf `path` (a test's temporary directory); symlinks are removed, not
 * followed. */
void fixture_rm_rf(const char *path);

#endif
