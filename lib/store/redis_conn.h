/* SPDX-License-Identifier: MIT */
/* One Redis endpoint shared by a fleet, as the stores on it see it: an
 * address, a connection per thread (hiredis contexts are not thread-safe)
 * re-made after fork(), timeouts on connect and on every command, and the
 * back-off that sets Redis aside after a failure so that no request waits
 * on it.  Only built with hiredis (HTTPRESP_HAVE_REDIS).
 *
 * hiredis 0.14 (Debian 12) and 1.x: the library uses only calls both have,
 * with the same signatures (redisConnectWithTimeout,
 * redisConnectUnixWithTimeout, redisSetTimeout, redisCommand,
 * redisCommandArgv, redisAppendCommandArgv, redisGetReply, freeReplyObject,
 * redisFree) and RESP2 reply types only (never HELLO 3), so no HIREDIS_MAJOR
 * check is needed; where the two differ it takes the path both agree on: a
 * fresh context instead of redisReconnect (0.14 loses the command timeout),
 * and any NULL reply as the failure (0.14 reports a timeout as REDIS_ERR_IO
 * with EAGAIN, 1.x as REDIS_ERR_TIMEOUT). */
#ifndef HR_STORE_REDIS_CONN_H
#define HR_STORE_REDIS_CONN_H

#ifdef HTTPRESP_HAVE_REDIS

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct hr_redis hr_redis;

/* Parses `url` (redis://host[:port][/db], unix:///path[?db=N]); connects
 * nothing.  An endpoint of the process with the same URL, key prefix and
 * timeouts is shared (counted; hr_redis_free releases one use): the
 * stores on it use one connection per thread and one back-off.  Returns
 * 0, HTTPRESP_E_INVALID_ARG or HTTPRESP_E_NOMEM. */
int hr_redis_new(hr_redis **out, const char *url,
                 const httpresp_redis_options *opts);
void hr_redis_free(hr_redis *r); /* NULL is fine */
const char *hr_redis_prefix(const hr_redis *r);

/* The calling thread's connection, made (or re-made after fork or a
 * failure) within the connect timeout; NULL while Redis is set aside or
 * when connecting failed (which sets it aside).  Every command on it ends
 * with hr_redis_done, and the thread's use of Redis with hr_redis_end
 * (SIGPIPE is held back in between). */
redisContext *hr_redis_ctx(hr_redis *r);
void hr_redis_end(void);
/* After the commands on the thread's connection: `ok` non-zero when they
 * worked.  A failure drops the connection and sets Redis aside (1 s,
 * doubling to 30 s, jittered); success ends a back-off.  Returns 1 when
 * this call ended a back-off (so state kept locally meanwhile should be
 * replayed), else 0. */
int hr_redis_done(hr_redis *r, int ok);

/* One round trip for the cache lookup and the origin's quiet time
 * (DESIGN.md): hr_redis_want_pttl asks for `PTTL key` to go with the
 * calling thread's next command made by hr_redis_command (NULL drops what
 * was asked or answered); hr_redis_take_pttl hands out the answer once,
 * when it is for `key` (1), else 0.  hr_redis_command is redisCommandArgv
 * plus that PTTL when one is wanted, and with `xargc` non-zero an extra
 * command in the same round trip, whose reply goes to `*xrep` (NULL on an
 * I/O error or a timeout, and then no reply is handed out). */
void hr_redis_want_pttl(hr_redis *r, const char *key, size_t klen);
int hr_redis_take_pttl(hr_redis *r, const char *key, size_t klen,
                       int64_t *left);
redisReply *hr_redis_command(hr_redis *r, redisContext *ctx, int argc,
                             const char **argv, const size_t *lens, int xargc,
                             const char **xargv, const size_t *xlens,
                             redisReply **xrep);

/* A reply read ahead (hr_redis_command's extra command) for this thread's
 * next operation, under `key`: hr_redis_stash keeps it (taking it over),
 * hr_redis_unstash hands it over if it is for `key` (else NULL).  Any
 * other operation (hr_redis_ctx) drops it, so it is never older than the
 * operation that read it. */
void hr_redis_stash(hr_redis *r, const char *key, size_t klen, redisReply *rep);
redisReply *hr_redis_unstash(hr_redis *r, const char *key, size_t klen);

/* The server's version as major * 100 + minor, read on connect (0 if
 * unknown); and whether the Lua path is forced (for the tests of servers
 * before 7.0). */
int hr_redis_server_version(hr_redis *r);
void hr_redis_force_lua(hr_redis *r, int on);
int hr_redis_lua_forced(const hr_redis *r);

/* The Lua scripts the endpoint's stores run (static strings, at most
 * HR_REDIS_SCRIPTS_MAX in all): each connection SCRIPT LOADs them as it
 * opens, in the round trip of its other connect-time commands, so that
 * EVALSHA finds them.  A script already known is not added again. */
#define HR_REDIS_SCRIPTS_MAX 8
void hr_redis_use_scripts(hr_redis *r, const char *const *scripts, size_t n);

/* Runs `script` (keys then arguments) by EVALSHA, loading it by EVAL when
 * the server answers NOSCRIPT (loaded on connect, but the script cache
 * empties when the server restarts under a live connection, or on SCRIPT
 * FLUSH).
 * Returns the reply (NULL on an I/O error or a timeout). */
redisReply *hr_redis_eval(redisContext *ctx, const char *script,
                          const char *sha, int nkeys, int argc,
                          const char **argv, const size_t *lens);

/* Whether Redis is set aside right now: in a back-off that is not yet due
 * for its probe (or whose probe another thread is making). */
int hr_redis_aside(hr_redis *r);

/* The current back-off step in ms (0: Redis in use): non-zero while
 * Redis is set aside (or being probed). */
int64_t hr_redis_backoff_ms(hr_redis *r);

#endif
#endif
