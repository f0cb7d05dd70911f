/* SPDX-License-Identifier: MIT */
/* The non-blocking driver: the shared state machine over the caller's
 * curl_multi handle.  It never sleeps: a transfer that must wait is parked
 * and its wake-up time shortens the caller's poll or timer.
 *
 * Background revalidations (stale-while-revalidate, HTTPRESP_SWR_DEFER):
 * when a caller's request is answered stale, the revalidation it deferred
 * runs here at once as a transfer of our own, on a duplicate of the
 * caller's handle, in the same lists as the caller's transfers but never
 * counted for the caller nor handed back to it. */
#include <stdlib.h>
#include <string.h>

#include "xfer.h"

typedef enum mx_state { MX_RUNNING, MX_PARKED, MX_DONE } mx_state;

typedef struct mxfer {
  hr_xfer x;
  CURL *easy;
  void *userp;
  mx_state state;
  /* A background revalidation: `easy` is our duplicate, `swr_id` the
   * client's id of the deferred revalidation it runs (NULL otherwise). */
  const char *swr_id;
  httpresp_response *resp; /* when done */
  struct mxfer *prev, *next;
} mxfer;

typedef struct mx_list {
  mxfer *head, *tail;
  size_t n;
} mx_list;

/* Transfers handed back are kept for the next httpresp_multi_add, up to
 * this many: one is over a kilobyte, past malloc's per-thread cache, and
 * malloc took near a thousand instructions to find it each time. */
#define MX_SPARE_MAX 8

struct httpresp_multi {
  httpresp_client *client;
  CURLM *multi;
  mx_list running;
  mx_list parked;
  mx_list done;
  mxfer *spare; /* linked through `next` */
  size_t nspare;
  size_t bg_running; /* background revalidations in `running` or `parked` */
  size_t bg_done;    /* background revalidations ended */
  /* Background revalidations taken, to start before the call that took
   * them returns (start_queued): starting one where it was taken would
   * nest transfers' steps in each other. */
  struct bg_start *queue;
  size_t nqueue, queue_cap;
};

struct bg_start {
  CURL *easy; /* the duplicate handle, ours */
  httpresp_request *req;
  const char *id;
};

/* Uninitialised storage for a transfer. */
static mxfer *xfer_get(httpresp_multi *m) {
  mxfer *t = m->spare;
  if (!t)
    return malloc(sizeof(*t));
  m->spare = t->next;
  m->nspare--;
  return t;
}

static void xfer_put(httpresp_multi *m, mxfer *t) {
  if (m->nspare >= MX_SPARE_MAX) {
    free(t);
    return;
  }
  t->next = m->spare;
  m->spare = t;
  m->nspare++;
}

static void list_push(mx_list *l, mxfer *m) {
  m->next = NULL;
  m->prev = l->tail;
  if (l->tail)
    l->tail->next = m;
  else
    l->head = m;
  l->tail = m;
  l->n++;
}

static void list_unlink(mx_list *l, mxfer *m) {
  if (m->prev)
    m->prev->next = m->next;
  else
    l->head = m->next;
  if (m->next)
    m->next->prev = m->prev;
  else
    l->tail = m->prev;
  m->prev = m->next = NULL;
  l->n--;
}

static void take_background(httpresp_multi *m, CURL *easy, const char *id);

/* Ends a background revalidation that is in no list: its handle is
 * cleaned up and the client's deferred revalidation dropped (done:
 * whatever came of it, the next request in the window may start another)
 * or handed back (stopped: pending again). */
static void end_background(httpresp_multi *m, mxfer *t, int done) {
  CURL *easy = t->easy;
  hr_xfer_cleanup(&t->x);
  curl_easy_cleanup(easy);
  hr_client_swr_end(m->client, t->swr_id, done);
  m->bg_running--;
  if (done)
    m->bg_done++;
}

static void finish(httpresp_multi *m, mxfer *t) {
  curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
  t->resp = hr_xfer_take_response(&t->x);
  if (t->swr_id) { /* nobody takes its answer */
    httpresp_response_free(t->resp);
    end_background(m, t, 1);
    xfer_put(m, t);
    return;
  }
  /* Answered stale: its deferred revalidation is taken now, on a duplicate
   * of the handle as the caller set it (the library's options are reset),
   * and started before the call returns. */
  char *swr = t->x.swr_id;
  t->x.swr_id = NULL;
  hr_xfer_cleanup(&t->x);
  t->state = MX_DONE;
  list_push(&m->done, t);
  if (swr)
    take_background(m, t->easy, swr);
  free(swr);
}

/* Puts a transfer where its step says it belongs. */
static void apply_step(httpresp_multi *m, mxfer *t, hr_step step) {
  if (step == HR_STEP_PERFORM) {
    CURLMcode mc = curl_multi_add_handle(m->multi, t->easy);
    if (mc == CURLM_OK) {
      t->state = MX_RUNNING;
      list_push(&m->running, t);
      return;
    }
    hr_response_fail(t->x.resp, HTTPRESP_E_CURL, "curl_multi_add_handle: %s",
                     curl_multi_strerror(mc));
    finish(m, t);
  } else if (step == HR_STEP_WAIT) {
    t->state = MX_PARKED;
    list_push(&m->parked, t);
  } else {
    finish(m, t);
  }
}

/* Runs `req` over `easy` as transfer `t` (CURLOPT_PRIVATE points to it
 * until it ends); `copy` as for hr_xfer_init.  0, or an error code (then
 * `t` is the caller's again). */
static int start(httpresp_multi *m, mxfer *t, CURL *easy,
                 const httpresp_request *req, int copy) {
  int rc = hr_xfer_init(&t->x, m->client, easy, req, copy);
  if (rc)
    return rc;
  t->easy = easy;
  t->resp = NULL;
  t->x.background = t->swr_id != NULL;
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)t);
  /* apply_step sets its state and puts it on that state's list. */
  apply_step(m, t, hr_xfer_begin(&t->x));
  return 0;
}

/* Takes the deferred revalidation `id` for the background, on a duplicate
 * of `easy`, unless it runs already (another request, another context or
 * httpresp_client_revalidate() is at it); start_queued starts it.  Out of
 * memory it stays deferred, for the next request in the window. */
static void take_background(httpresp_multi *m, CURL *easy, const char *id) {
  const char *idp = NULL;
  httpresp_request *req = hr_client_swr_take(m->client, id, &idp);
  if (!req)
    return;
  if (m->nqueue == m->queue_cap) {
    size_t cap = m->queue_cap ? m->queue_cap * 2 : 4;
    struct bg_start *q = realloc(m->queue, cap * sizeof(*q));
    if (!q) {
      hr_client_swr_end(m->client, idp, 0);
      return;
    }
    m->queue = q;
    m->queue_cap = cap;
  }
  CURL *dup = curl_easy_duphandle(easy);
  if (!dup) {
    hr_client_swr_end(m->client, idp, 0);
    return;
  }
  m->queue[m->nqueue++] = (struct bg_start){dup, req, idp};
}

/* Starts the background revalidations taken during this call. */
static void start_queued(httpresp_multi *m) {
  while (m->nqueue) {
    struct bg_start b = m->queue[--m->nqueue];
    mxfer *t = xfer_get(m);
    if (t) {
      t->userp = NULL;
      t->swr_id = b.id;
      m->bg_running++;
      /* The request stays the client's list's until it ends. */
      if (start(m, t, b.easy, b.req, 0) == 0)
        continue;
      m->bg_running--;
      xfer_put(m, t);
    }
    curl_easy_cleanup(b.easy);
    hr_client_swr_end(m->client, b.id, 0);
  }
}

int httpresp_multi_new(httpresp_multi **out, httpresp_client *client,
                       CURLM *multi) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  if (!client || !multi)
    return HTTPRESP_E_INVALID_ARG;
  httpresp_multi *m = calloc(1, sizeof(*m));
  if (!m)
    return HTTPRESP_E_NOMEM;
  m->client = client;
  m->multi = multi;
  *out = m;
  return 0;
}

static void drop_list(httpresp_multi *m, mx_list *l) {
  mxfer *t = l->head;
  while (t) {
    mxfer *next = t->next;
    if (t->state == MX_RUNNING)
      curl_multi_remove_handle(m->multi, t->easy);
    if (t->state != MX_DONE)
      curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
    if (t->swr_id) /* stopped: deferred again, for whoever comes next */
      end_background(m, t, 0);
    else if (t->state == MX_DONE)
      httpresp_response_free(t->resp);
    else
      hr_xfer_cleanup(&t->x);
    free(t);
    t = next;
  }
  l->head = l->tail = NULL;
  l->n = 0;
}

void httpresp_multi_free(httpresp_multi *m) {
  if (!m)
    return;
  drop_list(m, &m->running);
  drop_list(m, &m->parked);
  drop_list(m, &m->done);
  free(m->queue); /* empty: start_queued ran before each call returned */
  while (m->spare) {
    mxfer *next = m->spare->next;
    free(m->spare);
    m->spare = next;
  }
  free(m);
}

int httpresp_multi_add(httpresp_multi *m, CURL *easy,
                       const httpresp_request *req, void *userp) {
  if (!m || !easy || !req)
    return HTTPRESP_E_INVALID_ARG;
  /* Not zeroed: hr_xfer_init clears `x`, nearly all of the transfer, and
   * the few other fields are set here. */
  mxfer *t = xfer_get(m);
  if (!t)
    return HTTPRESP_E_NOMEM;
  t->userp = userp;
  t->swr_id = NULL;
  int rc = start(m, t, easy, req, 1);
  if (rc)
    xfer_put(m, t);
  start_queued(m);
  return rc;
}

/* Finished transfers get their decision; parked ones whose time came are
 * armed again.  Handles are re-added only after libcurl reported them done
 * and they were removed: libcurl refuses re-adding from its callbacks. */
static void process(httpresp_multi *m) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL *easy = msg->easy_handle;
    CURLcode result = msg->data.result;
    void *priv = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    mxfer *t = priv;
    if (!t || t->easy != easy || t->state != MX_RUNNING)
      continue; /* not one of ours */
    curl_multi_remove_handle(m->multi, easy);
    list_unlink(&m->running, t);
    apply_step(m, t, hr_xfer_complete(&t->x, result));
  }
  if (m->parked.head) {
    int64_t now = hr_client_now(m->client);
    mxfer *t = m->parked.head;
    while (t) {
      mxfer *next = t->next;
      if (t->x.wake_ms <= now) {
        list_unlink(&m->parked, t);
        apply_step(m, t, hr_xfer_resume(&t->x));
      }
      t = next;
    }
  }
  start_queued(m);
}

/* Milliseconds until the earliest parked transfer wakes, -1 if none. */
static long next_wake(httpresp_multi *m) {
  if (!m->parked.head)
    return -1;
  int64_t now = hr_client_now(m->client);
  int64_t soonest = INT64_MAX;
  for (mxfer *t = m->parked.head; t; t = t->next)
    if (t->x.wake_ms < soonest)
      soonest = t->x.wake_ms;
  int64_t d = soonest - now;
  if (d < 0)
    d = 0;
  return d > 86400000 ? 86400000L : (long)d;
}

static int pending_count(const httpresp_multi *m) {
  size_t n = m->running.n + m->parked.n - m->bg_running;
  return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

int httpresp_multi_perform(httpresp_multi *m, int *running) {
  if (!m)
    return HTTPRESP_E_INVALID_ARG;
  int r = 0;
  CURLMcode mc = curl_multi_perform(m->multi, &r);
  process(m);
  if (running)
    *running = pending_count(m);
  return mc == CURLM_OK ? 0 : HTTPRESP_E_CURL;
}

int httpresp_multi_poll(httpresp_multi *m, int timeout_ms) {
  if (!m || timeout_ms < 0)
    return HTTPRESP_E_INVALID_ARG;
  long wake = next_wake(m);
  if (wake >= 0 && wake < timeout_ms)
    timeout_ms = (int)wake;
  CURLMcode mc = curl_multi_poll(m->multi, NULL, 0, timeout_ms, NULL);
  return mc == CURLM_OK ? 0 : HTTPRESP_E_CURL;
}

int httpresp_multi_socket_action(httpresp_multi *m, curl_socket_t s,
                                 int events, int *running) {
  if (!m)
    return HTTPRESP_E_INVALID_ARG;
  int r = 0;
  CURLMcode mc = curl_multi_socket_action(m->multi, s, events, &r);
  process(m);
  if (running)
    *running = pending_count(m);
  return mc == CURLM_OK ? 0 : HTTPRESP_E_CURL;
}

int httpresp_multi_timeout(httpresp_multi *m, long *ms) {
  if (!m || !ms)
    return HTTPRESP_E_INVALID_ARG;
  long t = -1;
  if (curl_multi_timeout(m->multi, &t) != CURLM_OK)
    return HTTPRESP_E_CURL;
  long wake = next_wake(m);
  if (wake >= 0 && (t < 0 || wake < t))
    t = wake;
  *ms = t;
  return 0;
}

size_t httpresp_multi_pending(const httpresp_multi *m) {
  return m ? m->running.n + m->parked.n + m->done.n - m->bg_running : 0;
}

int httpresp_multi_revalidations(const httpresp_multi *m, size_t *running,
                                 size_t *done) {
  if (running)
    *running = m ? m->bg_running : 0;
  if (done)
    *done = m ? m->bg_done : 0;
  return m ? 0 : HTTPRESP_E_INVALID_ARG;
}

int httpresp_multi_next_done(httpresp_multi *m, httpresp_response **resp,
                             CURL **easy, void **userp) {
  if (!m || !m->done.head)
    return 0;
  mxfer *t = m->done.head;
  list_unlink(&m->done, t);
  if (resp)
    *resp = t->resp;
  else
    httpresp_response_free(t->resp);
  if (easy)
    *easy = t->easy;
  if (userp)
    *userp = t->userp;
  xfer_put(m, t);
  return 1;
}
