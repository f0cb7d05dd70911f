/* SPDX-License-Identifier: MIT */
/* A real redis-server for the fleet-mode suites: started on a unix socket
 * in a temp dir of its own (no TCP port, no persistence), stopped, paused
 * and killed on demand for fault injection. */
#ifndef HTTPRESP_TEST_REDISSRV_H
#define HTTPRESP_TEST_REDISSRV_H

#include <sys/types.h>

typedef struct rs_server {
  pid_t pid;     /* 0 when not running */
  char dir[64];  /* its temp dir */
  char sock[96]; /* its unix socket */
  char url[128]; /* "unix://<sock>" */
} rs_server;

/* Whether a redis-server binary is on the PATH. */
int rs_available(void);
/* Starts a server in a new temp dir and waits until it answers PING
 * (up to 5 s).  Returns 0 or -1. */
int rs_start(rs_server *s);
/* Starts it again on the same socket (after rs_kill): an empty server. */
int rs_restart(rs_server *s);
/* SIGKILL, reaped: the socket file stays, nobody listens. */
void rs_kill(rs_server *s);
/* SIGSTOP / SIGCONT: a server that accepts connections and answers
 * nothing. */
void rs_pause(rs_server *s);
void rs_resume(rs_server *s);
/* Stops it and removes its dir. */
void rs_stop(rs_server *s);

#endif
