/* SPDX-License-Identifier: MIT */
/* In-process loopback HTTP/1.1 server for the integration tests.
 *
 * One background thread serves every listening port with poll(); sockets are
 * non-blocking, so a slow or stalled connection never holds up another one.
 * Responses are scripted per route as a sequence of steps (raw bytes, delays)
 * plus a few flags (close, stall, answer before the body). Every request the
 * server receives is recorded for the test to inspect.
 *
 * Typical use:
 *
 *   ts_server *ts = ts_start(2);
 *   ts_simple(ts, 0, "/a", 302, "Location: /b\r\n", NULL);
 *   ts_resp *r = ts_route(ts, 1, "/slow");
 *   ts_resp_str(r, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n");
 *   ts_resp_delay(r, 100);
 *   ts_resp_str(r, "done");
 *   char *url = ts_url(ts, 0, "/a");     // "http://127.0.0.1:PORT/a"
 *   ... run libcurl ...
 *   const ts_request *q = ts_request_get(ts, 0);
 *   free(url);
 *   ts_stop(ts);
 *
 * Allocation failure inside the server aborts the process: this is test
 * support, and a silent half-working server would only produce confusing
 * test results.
 */
#ifndef HTTPRESP_TESTSRV_H
#define HTTPRESP_TESTSRV_H

#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define TS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TS_PRINTF(fmt, args)
#endif

/* Limits; beyond them the server answers 431 / 413 and closes. */
#define TS_MAX_PORTS 16
#define TS_MAX_HEADER_BYTES ((size_t)1 << 20) /* request line + headers */
#define TS_MAX_BODY_BYTES ((size_t)64 << 20)  /* decoded request body */

typedef struct ts_server ts_server;
typedef struct ts_resp ts_resp;

/* One request header, as received (name case preserved, value trimmed). */
typedef struct ts_header {
  char *name;
  char *value;
} ts_header;

/* One recorded request. Owned by the server: valid until ts_reset/ts_stop. */
typedef struct ts_request {
  int port_idx;       /* index of the listening port it arrived on */
  size_t conn_id;     /* 1, 2, ...: distinct per accepted TCP connection */
  size_t conn_seq;    /* 0 for the first request on its connection, 1, ... */
  char *method;       /* "GET" */
  char *target;       /* request target as sent: "/path?query" */
  char *version;      /* "HTTP/1.1" */
  ts_header *headers; /* in arrival order; trailers are not included */
  size_t nheaders;
  char *body; /* decoded body, NUL-terminated after body_len bytes */
  size_t body_len;
  int body_complete; /* 1: all of the announced body arrived (or none was
                        announced); 0: connection lost, body over the limit,
                        or the response was sent before the body */
} ts_request;

/* Starts a server listening on `nports` (1..TS_MAX_PORTS) ephemeral ports of
 * 127.0.0.1. Returns NULL on failure. */
ts_server *ts_start(int nports);
/* Stops the thread, closes every socket, frees everything. NULL-safe. */
void ts_stop(ts_server *ts);
/* Port number of listener `idx`, or -1 if idx is out of range. */
int ts_port(const ts_server *ts, int idx);
/* malloc'd "http://127.0.0.1:PORT/path" (free() it). `path` should start
 * with '/'; one is inserted if missing; NULL means "/". */
char *ts_url(const ts_server *ts, int idx, const char *path);

/* ---- scripted responses ------------------------------------------------
 *
 * A route is (port index, target); port_idx -1 matches any port. A request
 * picks, in this order: exact target on its port, exact target on any port,
 * path without "?query" on its port, same on any port. No match: 404 with a
 * short text body.
 *
 * Each ts_route() call appends one response to the route's list. Requests use
 * the list in order; once at the end, the last response repeats forever. A
 * response appended later is used by the next request that reaches the route.
 *
 * A response is a sequence of steps run in order: bytes (raw or simple) and
 * delays. An empty response sends nothing (the client will wait). The ts_resp
 * pointer stays valid until ts_reset/ts_stop; configure it before the request
 * that uses it arrives (the server copies the script when the request's
 * headers are in).
 *
 * Request body and 100-continue, per request:
 * - default: the server reads the whole body, then runs the script;
 * - the request has "Expect: 100-continue" and a body:
 *   - if the script begins with one or more complete 1xx blocks
 *     ("HTTP/1.1 1xx ...\r\n...\r\n\r\n"), those blocks are sent at once, then
 *     the body is read, then the rest runs; note that libcurl only starts the
 *     upload on a 100 (otherwise after CURLOPT_EXPECT_100_TIMEOUT_MS);
 *   - else "HTTP/1.1 100 Continue\r\n\r\n" is sent first, unless
 *     ts_resp_no_auto_continue() was called on the response;
 * - ts_resp_before_body(): the script runs right after the headers, the body
 *   is not read (and not recorded), the connection closes afterwards.
 *
 * The connection stays open for the next request unless the response is
 * marked close/before_body, the request said "Connection: close" (or was
 * HTTP/1.0 without keep-alive), or the client closed its side. Closing is
 * graceful: the server shuts down its sending side and drains what the client
 * still sends for up to a second.
 */

/* Appends a new, empty response to the route (creating the route). */
ts_resp *ts_route(ts_server *ts, int port_idx, const char *target);
/* Appends bytes sent verbatim whatever the request method. Several 1xx
 * blocks, a final response, junk: anything goes. */
void ts_resp_raw(ts_resp *r, const void *bytes, size_t len);
void ts_resp_str(ts_resp *r, const char *s);
void ts_resp_printf(ts_resp *r, const char *fmt, ...) TS_PRINTF(2, 3);
/* Appends body bytes that are left out when the request method is HEAD. */
void ts_resp_body(ts_resp *r, const void *bytes, size_t len);
/* Appends a normal response: "HTTP/1.1 <status> <reason>", Content-Length of
 * `body` (unless extra_headers has its own Content-Length or
 * Transfer-Encoding), `extra_headers` ("A: b\r\nC: d\r\n", the final CRLF may
 * be omitted; NULL for none), the blank line, and `body` (NULL: empty) as a
 * ts_resp_body() step. For 1xx, 204 and 304 neither Content-Length nor body
 * is sent. When the connection is going to close after this response,
 * "Connection: close" is added unless extra_headers has a Connection header.
 */
void ts_resp_simple(ts_resp *r, int status, const char *extra_headers,
                    const char *body);
/* Waits `ms` milliseconds (after the preceding bytes were handed to the
 * kernel) before the next step. raw, delay, raw, delay, ... is fine. */
void ts_resp_delay(ts_resp *r, int ms);
/* Closes the connection once the script is sent (also: truncated answers). */
void ts_resp_close(ts_resp *r);
/* Runs the script as soon as the request headers are in, without reading
 * the body, then closes. No automatic 100 Continue. */
void ts_resp_before_body(ts_resp *r);
/* After the script, keeps the connection open, sending nothing, until the
 * client closes it or the server stops (timeout tests). */
void ts_resp_stall(ts_resp *r);
/* No automatic "100 Continue" for requests with Expect: 100-continue. */
void ts_resp_no_auto_continue(ts_resp *r);
/* ts_route() + ts_resp_simple(). */
ts_resp *ts_simple(ts_server *ts, int port_idx, const char *target, int status,
                   const char *extra_headers, const char *body);

/* ---- recorded requests ---------------------------------------------------
 *
 * A request is recorded (in completion order) when its body is complete, or
 * when it is known not to come (connection lost, limit exceeded,
 * before_body), always before any part of its final response is sent. */

size_t ts_request_count(ts_server *ts);
/* The i-th recorded request, NULL if i >= count. */
const ts_request *ts_request_get(ts_server *ts, size_t i);
/* First value of header `name` (case-insensitive), NULL if absent. */
const char *ts_req_header(const ts_request *q, const char *name);
size_t ts_req_header_count(const ts_request *q, const char *name);
/* Waits until at least n requests are recorded. Returns 1 if so, 0 if
 * timeout_ms passed first. */
int ts_wait_requests(ts_server *ts, size_t n, int timeout_ms);
/* TCP connections accepted since ts_start (not reset by ts_reset). */
size_t ts_connection_count(ts_server *ts);
/* Forgets every route (ts_resp pointers become invalid) and every recorded
 * request (ts_request pointers become invalid). Listeners and open
 * connections stay; responses already under way finish as scripted. */
void ts_reset(ts_server *ts);

#endif
