/* SPDX-License-Identifier: MIT */
/* A redis-server of the test's own, driven by signals. */
#include "redissrv.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int rs_available(void) {
  return system("redis-server --version >/dev/null 2>&1") == 0;
}

/* One PING over a raw socket: 1 when +PONG came back. */
static int pong(const char *sock) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0)
    return 0;
  struct sockaddr_un a;
  memset(&a, 0, sizeof(a));
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
  int ok = 0;
  struct timeval tv = {0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      write(fd, "PING\r\n", 6) == 6) {
    char buf[16] = {0};
    ok = read(fd, buf, sizeof(buf) - 1) >= 5 && strncmp(buf, "+PONG", 5) == 0;
  }
  close(fd);
  return ok;
}

static int spawn(rs_server *s) {
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
      dup2(null, 1);
      dup2(null, 2);
    }
    execlp("redis-server", "redis-server", "--port", "0", "--unixsocket",
           s->sock, "--unixsocketperm", "700", "--save", "", "--appendonly",
           "no", "--dir", s->dir, (char *)NULL);
    _exit(127);
  }
  s->pid = pid;
  for (int i = 0; i < 500; i++) {
    if (pong(s->sock))
      return 0;
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      s->pid = 0;
      return -1;
    }
    nanosleep(&(struct timespec){0, 10000000}, NULL);
  }
  rs_kill(s);
  return -1;
}

int rs_start(rs_server *s) {
  memset(s, 0, sizeof(*s));
  snprintf(s->dir, sizeof(s->dir), "/tmp/hr-redis-XXXXXX");
  if (!mkdtemp(s->dir))
    return -1;
  snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
  snprintf(s->url, sizeof(s->url), "unix://%s", s->sock);
  return spawn(s);
}

int rs_restart(rs_server *s) {
  unlink(s->sock);
  return spawn(s);
}

void rs_kill(rs_server *s) {
  if (!s->pid)
    return;
  kill(s->pid, SIGCONT);
  kill(s->pid, SIGKILL);
  while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
    ;
  s->pid = 0;
}

void rs_pause(rs_server *s) {
  if (s->pid)
    kill(s->pid, SIGSTOP);
}

void rs_resume(rs_server *s) {
  if (s->pid)
    kill(s->pid, SIGCONT);
}

void rs_stop(rs_server *s) {
  rs_kill(s);
  if (s->dir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
    if (system(cmd) != 0)
      fprintf(stderr, "redissrv: could not remove %s\n", s->dir);
  }
  s->dir[0] = '\0';
}
