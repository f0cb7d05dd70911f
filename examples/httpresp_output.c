/* SPDX-License-Identifier: MIT */
/* Where the tool's bytes go: bodies written as they arrive (the request's
 * sink), the response head for -i and -I, -w after each URL, and the
 * job's error line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "httpresp_tool.h"

/* Where the job's bytes go: the -o file, stdout, or (--parallel, before
 * its turn) a temporary file, so memory stays bounded either way.  NULL
 * when it cannot be opened (the job then exits 23). */
static FILE *job_output(tool_job *j) {
  if (j->write_failed)
    return NULL;
  if (!j->path && j->to_spool) {
    if (!j->spool && !(j->spool = tmpfile())) {
      j->write_failed = 1;
      j->write_errno = errno;
    }
    return j->spool;
  }
  if (!j->out) {
    errno = 0;
    j->out = j->path ? fopen(j->path, "wb") : stdout;
    if (!j->out) {
      j->write_failed = 1;
      j->write_errno = errno;
    }
  }
  return j->out;
}

static int emit_bytes(tool_job *j, const void *data, size_t len) {
  FILE *f = job_output(j);
  if (!f)
    return -1;
  if (len && fwrite(data, 1, len, f) != len) {
    j->write_failed = 1;
    j->write_errno = errno;
    return -1;
  }
  return 0;
}

/* --parallel: it is `j`'s turn on stdout; what it spooled goes first. */
void tool_take_turn(tool_job *j) {
  j->to_spool = 0;
  if (!j->spool)
    return;
  char buf[65536];
  size_t got;
  rewind(j->spool);
  while (!j->write_failed && (got = fread(buf, 1, sizeof(buf), j->spool)) > 0)
    emit_bytes(j, buf, got);
  fclose(j->spool);
  j->spool = NULL;
}

/* For %{json}: the first TOOL_KEEP_BODY bytes. */
static void keep_body(tool_job *j, const char *data, size_t len) {
  if (!j->o->want_body_copy)
    return;
  size_t room = TOOL_KEEP_BODY - j->kept_len;
  size_t n = len < room ? len : room;
  if (n < len)
    j->kept_all = 0;
  if (!n)
    return;
  j->kept = tool_xrealloc(j->kept, j->kept_len + n);
  memcpy(j->kept + j->kept_len, data, n);
  j->kept_len += n;
}

/* The head just received, as the server sent it. */
static int write_wire_head(tool_job *j) {
  j->head_written = 1;
  if (emit_bytes(j, j->wire, j->wire_len) != 0)
    return -1;
  return j->wire_done ? 0 : emit_bytes(j, "\r\n", 2);
}

/* Whether the final answer's head is the one last received from the
 * network (not a stored answer's, nor a redirect's the library followed). */
static int head_from_wire(const tool_job *j) {
  int st = httpresp_response_status(j->resp);
  httpresp_cache_status cs = httpresp_response_cache_status(j->resp);
  return j->wire && j->wire_status == st && !j->wire_followed &&
         cs != HTTPRESP_CACHE_HIT && cs != HTTPRESP_CACHE_REVALIDATED;
}

/* Bytes of a built head: to the job's output, or to `to` (-D). */
static int head_out(tool_job *j, FILE *to, const char *s, size_t n) {
  if (!to)
    return emit_bytes(j, s, n);
  if (n && fwrite(s, 1, n, to) != n) {
    j->write_failed = 1;
    j->write_errno = errno;
    return -1;
  }
  return 0;
}

/* The final response's head built from the response (a stored answer,
 * with its Age), to the job's output or to `to`. */
static int built_head(tool_job *j, FILE *to) {
  const httpresp_response *r = j->resp;
  int st = httpresp_response_status(r);
  long ver = j->http_version;
  const char *v = ver == CURL_HTTP_VERSION_2_0   ? "HTTP/2"
                  : ver == CURL_HTTP_VERSION_3   ? "HTTP/3"
                  : ver == CURL_HTTP_VERSION_1_0 ? "HTTP/1.0"
                                                 : "HTTP/1.1";
  char line[8192];
  snprintf(line, sizeof(line), "%s %d %s\r\n", v, st,
           httpresp_status_reason(st));
  if (head_out(j, to, line, strlen(line)) != 0)
    return -1;
  for (size_t i = 0; i < httpresp_response_header_count(r); i++) {
    const char *name, *value;
    if (httpresp_response_header_at(r, i, &name, &value) != 0)
      continue;
    if (head_out(j, to, name, strlen(name)) || head_out(j, to, ": ", 2) ||
        head_out(j, to, value, strlen(value)) || head_out(j, to, "\r\n", 2))
      return -1;
  }
  return head_out(j, to, "\r\n", 2);
}

/* The head of the final response: the server's own bytes when the answer
 * came from the network (written already if its head went out as it
 * arrived), else built from the response. */
static int write_head(tool_job *j) {
  if (head_from_wire(j))
    return j->head_written ? 0 : write_wire_head(j);
  return built_head(j, NULL);
}

/* The final response's Content-Length from the head received, -1 if none. */
static int64_t wire_length(const tool_job *j) {
  static const char name[] = "content-length:";
  size_t nl = sizeof(name) - 1;
  for (size_t i = 0; j->wire && i + nl <= j->wire_len; i++) {
    if ((i == 0 || j->wire[i - 1] == '\n') &&
        strncasecmp(j->wire + i, name, nl) == 0) {
      char buf[32];
      size_t k = 0;
      for (i += nl; i < j->wire_len && k + 1 < sizeof(buf) &&
                    j->wire[i] != '\r' && j->wire[i] != '\n';
           i++)
        buf[k++] = j->wire[i];
      buf[k] = '\0';
      char *end;
      long long v = strtoll(buf, &end, 10);
      return end != buf && v >= 0 ? (int64_t)v : -1;
    }
  }
  return -1;
}

/* "512", "1.5k", "12.3M" (curl's meter units). */
static void human(char *buf, size_t cap, double n) {
  static const char units[] = " kMGTP";
  size_t u = 0;
  while (n >= 1024 && u + 1 < sizeof(units) - 1)
    n /= 1024, u++;
  if (!u)
    snprintf(buf, cap, "%.0f", n);
  else
    snprintf(buf, cap, "%.1f%c", n, units[u]);
}

static int terminal_width(void) {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
    return ws.ws_col;
  return 80;
}

void tool_meter(tool_job *j, int final) {
  const tool_opts *o = j->o;
  if (!o || !o->meter || (!j->path && isatty(STDOUT_FILENO)))
    return;
  int64_t now = tool_mono_ms();
  if (final ? !j->meter_last
            : now - j->start_ms < 1000 || now - j->meter_last < 200)
    return;
  j->meter_last = now;
  /* Sending the body (-T) until the answer starts coming. */
  int up = j->upload && !j->body_bytes;
  double done = up ? (double)j->up_bytes : (double)j->body_bytes;
  int64_t total = up ? j->upload_size : wire_length(j);
  double secs = (double)(now - j->start_ms) / 1000.0;
  char d[16], t[16], r[16];
  human(d, sizeof(d), done);
  human(r, sizeof(r), secs > 0 ? done / secs : 0);
  if (o->progress_bar) {
    int width = terminal_width() - 8;
    if (total > 0) {
      double frac = done >= (double)total ? 1.0 : done / (double)total;
      int fill = (int)(frac * width);
      fprintf(stderr, "\r%.*s%*s %5.1f%%", fill,
              "##############################################################"
              "##############################################################"
              "##############################################################"
              "##############################################################",
              width - fill, "", frac * 100.0);
    } else {
      fprintf(stderr, "\r%-*s", width + 7, d);
    }
  } else if (total > 0) {
    human(t, sizeof(t), (double)total);
    fprintf(stderr, "\r%3d%%  %s of %s  %s/s  %02d:%02d:%02d   ",
            (int)(done * 100.0 / (double)total), d, t, r, (int)secs / 3600,
            (int)secs / 60 % 60, (int)secs % 60);
  } else {
    fprintf(stderr, "\r%s  %s/s  %02d:%02d:%02d   ", d, r, (int)secs / 3600,
            (int)secs / 60 % 60, (int)secs % 60);
  }
  if (final)
    fputc('\n', stderr);
  fflush(stderr);
}

/* The request's sink: the final body, as it arrives.  A body from the
 * network is written at once (after the head, with -i); one the library
 * serves from the cache (bounded by the cache's entry size) is held until
 * the response, whose head it needs, is known. */
size_t tool_sink(void *ud, const char *data, size_t len) {
  tool_job *j = ud;
  const tool_opts *o = j->o;
  if (!j->sink_seen) {
    j->sink_seen = 1;
    /* After a 304 the body is the stored one; after a redirect the library
     * followed, it is that of a target served from the cache. */
    j->from_wire =
        j->wire_status >= 200 && j->wire_status != 304 && !j->wire_followed;
  }
  if (!j->from_wire) {
    char *p = realloc(j->stored, j->stored_len + len + 1);
    if (!p)
      return 0;
    memcpy(p + j->stored_len, data, len);
    j->stored = p;
    j->stored_len += len;
    return len;
  }
  if (o->fail && j->wire_status >= 400) {
    j->fail_stopped = 1; /* like curl: the error page is not written */
    return 0;
  }
  if (o->include && !j->head_written && write_wire_head(j) != 0)
    return 0;
  if (emit_bytes(j, data, len) != 0)
    return 0;
  keep_body(j, data, len);
  j->body_bytes += len;
  tool_meter(j, 0);
  return len;
}

/* Keeps the last response head the network delivered for the job. */
void tool_capture_head(tool_job *j, const char *line, size_t len) {
  /* -D: every head line as it arrives, as curl's --dump-header writes. */
  if (j->o->dump_fp && fwrite(line, 1, len, j->o->dump_fp) != len &&
      !j->write_failed) {
    j->write_failed = 1;
    j->write_errno = errno;
  }
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    /* libcurl does not always pass on the blank line that ends a 1xx:
     * the next status line ends it too. */
    if (j->wire_status >= 100 && j->wire_status < 200 && !j->head_written &&
        (j->o->include || j->o->head))
      write_wire_head(j);
    const char *sp = memchr(line, ' ', len);
    j->wire_len = 0;
    j->wire_done = 0;
    j->wire_followed = 0;
    j->head_written = 0;
    j->wire_status = sp ? (int)strtol(sp + 1, NULL, 10) : 0;
  } else if (j->wire_done || !j->wire_status) {
    return; /* trailers, or before any status line */
  }
  if (len <= 2 && (line[0] == '\r' || line[0] == '\n'))
    j->wire_done = 1;
  if (j->wire_len + len > TOOL_KEEP_BODY)
    return; /* the library refuses heads this large anyway */
  if (j->wire_len + len > j->wire_cap) {
    j->wire_cap = (j->wire_len + len) * 2;
    j->wire = tool_xrealloc(j->wire, j->wire_cap);
  }
  memcpy(j->wire + j->wire_len, line, len);
  j->wire_len += len;
  /* Like curl -i (and -I) with -L: every head as it arrives, 1xx and
   * redirects included.  Not an error's with -f (curl stops first), nor a
   * 304 the cache turns into the stored answer (whose head comes at the
   * end). */
  const tool_opts *o = j->o;
  if (j->wire_done && (o->include || o->head) &&
      !(o->fail && j->wire_status >= 400) &&
      !(o->cache && j->wire_status == 304))
    write_wire_head(j);
}

/* The job's error line on stderr, if it failed. */
static void report_error(const tool_job *j, const tool_opts *o, int code) {
  int st = j->resp ? httpresp_response_status(j->resp) : 0;
  if (!st)
    st = j->wire_status;
  if (j->write_failed) {
    tool_say(o, "%s: cannot write: %s", j->path ? j->path : "stdout",
             strerror(j->write_errno ? j->write_errno : EIO));
  } else if (code == EXIT_HTTP_ERROR || (code == TOOL_EXIT_WAIT && !j->rc) ||
             (code == TOOL_EXIT_WAIT && j->fail_stopped)) {
    if (code == TOOL_EXIT_WAIT)
      tool_say(o, "%s: the server still answers %d %s (retries: %s)", j->url,
               st, httpresp_status_reason(st),
               httpresp_retry_stop_name(httpresp_response_retry_stop(j->resp)));
    else
      tool_say(o, "%s: the server answered %d %s", j->url, st,
               httpresp_status_reason(st));
  } else if (j->rc) {
    const char *label = tool_error_label(j->rc);
    const char *msg =
        j->resp ? httpresp_response_errmsg(j->resp) : httpresp_strerror(j->rc);
    size_t ll = strlen(label);
    if (!strncasecmp(msg, label, ll) && msg[ll] == ':')
      tool_say(o, "%s: %s", j->url, msg); /* the message names it already */
    else
      tool_say(o, "%s: %s: %s", j->url, label, msg);
  }
}

/* Writes what the job has not written yet, closes its output, prints its
 * error and its -w; sets its exit code. */
void tool_finish_job(tool_job *j, const tool_opts *o) {
  tool_meter(j, 1);
  int code = tool_exit_code(j, o);
  /* --fail-with-body: an error status still writes what came with it. */
  if (!code || (o->fail_with_body && !j->rc && !j->write_failed)) {
    /* The answer's head unless it went out as it arrived; a body served
     * from the cache. */
    if (o->include || o->head)
      write_head(j);
    /* -D has what was received; an answer from the cache adds its head
     * (with its Age), as -i shows it. */
    if (o->dump_fp && j->resp && !j->rc && !head_from_wire(j))
      built_head(j, o->dump_fp);
    if (j->stored && !o->head) {
      emit_bytes(j, j->stored, j->stored_len);
      keep_body(j, j->stored, j->stored_len);
      j->body_bytes += j->stored_len;
    }
    job_output(j); /* like curl, -o creates the file for an empty body */
  }
  tool_take_turn(j);
  if (j->out && (j->out == stdout ? fflush(j->out) : fclose(j->out)) != 0 &&
      !j->write_failed) {
    j->write_failed = 1;
    j->write_errno = errno;
  }
  if (j->out != stdout)
    j->out = NULL;
  code = tool_exit_code(j, o);
  report_error(j, o, code);
  if (o->write_out && write_out(o->write_out, j, o) != 0 && !code)
    j->exit_code = EXIT_WRITE;
}
