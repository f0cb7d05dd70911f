/* SPDX-License-Identifier: MIT */
/* The stores behind the cache: the memory LRU and the disk directory on
 * their own, then one conformance suite run against every backend the
 * cache can have (memory, disk, a caller's store through the version 1
 * and the version 2 ops), through the store vtable and the cache's four
 * events. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "cache/codec.h"
#include "fixtures.h"
#include "httpdate.h"
#include "objects.h"
#include "redissrv.h"
#include "store/origin.h"
#include "store/store.h"

/* ---- helpers ---------------------------------------------------------- */

static int get(const httpresp_store_ops *ops, void *s, const char *key,
               char **data, size_t *len) {
  void *d = NULL;
  int rc = ops->get(s, key, &d, len);
  *data = d;
  return rc;
}

/* Expects a hit holding exactly `want`. */
static void expect_hit(const httpresp_store_ops *ops, void *s, const char *key,
                       const char *want) {
  char *d;
  size_t len;
  cr_assert_eq(get(ops, s, key, &d, &len), 0, "miss for %s", key);
  cr_expect_eq(len, strlen(want), "length for %s", key);
  cr_expect(len == strlen(want) && memcmp(d, want, len) == 0, "data for %s",
            key);
  free(d);
}

static void expect_miss(const httpresp_store_ops *ops, void *s,
                        const char *key) {
  char *d = (char *)"sentinel";
  size_t len;
  cr_expect_eq(get(ops, s, key, &d, &len), 1, "hit for %s", key);
  cr_expect_null(d);
}

static char *make_tmpdir(void) {
  char tmpl[] = "/tmp/hrstore-XXXXXX";
  cr_assert_not_null(mkdtemp(tmpl));
  return strdup(tmpl);
}

/* Names of entry files ("*.hrc") in `dir`, up to `max`. */
static size_t entry_files(const char *dir, char names[][64], size_t max) {
  DIR *d = opendir(dir);
  cr_assert_not_null(d);
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (l > 4 && strcmp(de->d_name + l - 4, ".hrc") == 0) {
      if (n < max) {
        size_t c = l < 63 ? l : 63;
        memcpy(names[n], de->d_name, c);
        names[n][c] = '\0';
      }
      n++;
    }
  }
  closedir(d);
  return n;
}

static size_t dir_entry_bytes(const char *dir) {
  char names[512][64];
  size_t n = entry_files(dir, names, 512), total = 0;
  cr_assert_leq(n, 512u);
  for (size_t i = 0; i < n; i++) {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
    if (stat(p, &st) == 0)
      total += (size_t)st.st_size;
  }
  return total;
}

/* The only entry file of `dir`, as a path. */
static void only_entry(const char *dir, char *path, size_t cap) {
  char names[4][64];
  cr_assert_eq(entry_files(dir, names, 4), 1u);
  snprintf(path, cap, "%s/%s", dir, names[0]);
}

static int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

static void write_file(const char *path, const void *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
  cr_assert_eq(write(fd, data, len), (ssize_t)len);
  close(fd);
}

static void set_mtime(const char *path, time_t when) {
  struct timespec ts[2] = {{when, 0}, {when, 0}};
  cr_assert(utimensat(AT_FDCWD, path, ts, 0) == 0);
}

static uint64_t rng_next(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* Self-describing data: "key|seed|len|" then bytes derived from seed, so a
 * reader can tell a whole entry for its key from anything else. */
static char *make_data(const char *key, uint64_t seed, size_t len,
                       size_t *out_len) {
  char head[256];
  int h = snprintf(head, sizeof(head), "%s|%llu|%zu|", key,
                   (unsigned long long)seed, len);
  char *d = malloc((size_t)h + len);
  memcpy(d, head, (size_t)h);
  uint64_t x = seed | 1;
  for (size_t i = 0; i < len; i++)
    d[h + i] = (char)rng_next(&x);
  *out_len = (size_t)h + len;
  return d;
}

/* 1 if `d` is a whole make_data() value for `key`. */
static int check_data(const char *key, const char *d, size_t n) {
  char k[128];
  unsigned long long seed;
  size_t len;
  int consumed = 0;
  char head[256];
  size_t hn = n < sizeof(head) - 1 ? n : sizeof(head) - 1;
  memcpy(head, d, hn);
  head[hn] = '\0';
  if (sscanf(head, "%127[^|]|%llu|%zu|%n", k, &seed, &len, &consumed) != 3 ||
      consumed == 0 || strcmp(k, key) != 0 || (size_t)consumed + len != n)
    return 0;
  uint64_t x = seed | 1;
  for (size_t i = 0; i < len; i++)
    if (d[consumed + i] != (char)rng_next(&x))
      return 0;
  return 1;
}

/* ---- memory store ----------------------------------------------------- */

/* A frozen entry for `url` whose body is `data` (refcount 1). */
static hr_stored *frozen(const char *url, const char *data, size_t len) {
  hr_cache_entry e;
  hr_cache_entry_init(&e);
  e.key = (char *)url;
  e.status = 200;
  e.body = (char *)data;
  e.body_len = len;
  hr_stored *v;
  cr_assert_eq(hr_stored_freeze(&e, &v), 0);
  return v;
}

/* Freezes and stores; returns what put returned. */
static int mput(hr_mstore *s, const char *url, const char *data, size_t len) {
  hr_stored *v = frozen(url, data, len);
  int rc = hr_store_memory_put(s, v, 0);
  hr_stored_unref(v);
  return rc;
}

static void mexpect_hit(hr_mstore *s, const char *key, const char *want,
                        size_t wlen) {
  hr_stored *v = NULL;
  cr_assert_eq(hr_store_memory_get(s, key, strlen(key), &v), 0, "miss for %s",
               key);
  cr_expect_str_eq(v->e.key, key);
  cr_expect(v->e.body_len == wlen && memcmp(v->e.body, want, wlen) == 0,
            "data for %s", key);
  hr_stored_unref(v);
}

static void mexpect_miss(hr_mstore *s, const char *key) {
  hr_stored *v = (hr_stored *)1;
  cr_expect_eq(hr_store_memory_get(s, key, strlen(key), &v), 1, "hit for %s",
               key);
  cr_expect_null(v);
}

/* What an entry of `url` with a body of `len` bytes is charged. */
static size_t charge_of(const char *url, size_t len) {
  static char zeros[1 << 16];
  hr_stored *v = frozen(url, zeros, len);
  size_t c = hr_store_memory_charge(v);
  hr_stored_unref(v);
  return c;
}

Test(store_memory, put_get_replace_delete) {
  hr_mstore *s;
  cr_assert(hr_store_memory_new(&s, 1 << 20) == 0);
  mexpect_miss(s, "http://h/k");
  cr_assert(mput(s, "http://h/k", "one", 3) == 0);
  mexpect_hit(s, "http://h/k", "one", 3);
  cr_assert(mput(s, "http://h/k", "second", 6) == 0);
  mexpect_hit(s, "http://h/k", "second", 6);
  cr_expect_eq(hr_store_memory_count(s), 1u);
  cr_expect_eq(hr_store_memory_bytes(s), charge_of("http://h/k", 6));
  cr_assert(mput(s, "http://h/empty", "", 0) == 0);
  mexpect_hit(s, "http://h/empty", "", 0);
  hr_store_memory_del(s, "http://h/k", 10);
  mexpect_miss(s, "http://h/k");
  hr_store_memory_del(s, "http://h/k", 10);
  cr_expect_eq(hr_store_memory_count(s), 1u);
  cr_assert(mput(s, "http://h/bin", "a\0b\0", 4) == 0);
  mexpect_hit(s, "http://h/bin", "a\0b\0", 4);
  /* The key is matched by length: a prefix or a longer key is a miss. */
  hr_stored *v = NULL;
  cr_expect_eq(hr_store_memory_get(s, "http://h/bin#f", 12, &v), 0);
  hr_stored_unref(v);
  mexpect_miss(s, "http://h/bi");
  mexpect_miss(s, "http://h/binx");
  hr_store_memory_free(s);
}

Test(store_memory, a_reference_outlives_eviction_and_replacement) {
  hr_mstore *s;
  cr_assert(hr_store_memory_new(&s, 2 * charge_of("http://h/a", 100)) == 0);
  static char body[100];
  memset(body, 'a', sizeof(body));
  cr_assert(mput(s, "http://h/a", body, sizeof(body)) == 0);
  hr_stored *held;
  cr_assert_eq(hr_store_memory_get(s, "http://h/a", 10, &held), 0);
  cr_assert(mput(s, "http://h/a", "new", 3) == 0); /* replaced */
  cr_assert(mput(s, "http://h/b", body, sizeof(body)) == 0);
  cr_assert(mput(s, "http://h/c", body, sizeof(body)) == 0); /* evicts */
  hr_store_memory_free(s);
  /* Still whole (ASan would see a use after free). */
  cr_expect_str_eq(held->e.key, "http://h/a");
  cr_expect(held->e.body_len == 100 && memcmp(held->e.body, body, 100) == 0);
  hr_stored_unref(held);
}

Test(store_memory, lru_eviction_order) {
  size_t one = charge_of("http://h/a", 10);
  hr_mstore *s;
  cr_assert(hr_store_memory_new(&s, 3 * one) == 0);
  cr_assert(mput(s, "http://h/a", "0123456789", 10) == 0);
  cr_assert(mput(s, "http://h/b", "0123456789", 10) == 0);
  cr_assert(mput(s, "http://h/c", "0123456789", 10) == 0);
  cr_expect_eq(hr_store_memory_bytes(s), 3 * one);
  mexpect_hit(s, "http://h/a", "0123456789", 10); /* a is now the newest */
  cr_assert(mput(s, "http://h/d", "0123456789", 10) == 0);
  mexpect_miss(s, "http://h/b");
  mexpect_hit(s, "http://h/c", "0123456789", 10);
  cr_assert(mput(s, "http://h/e", "0123456789", 10) == 0);
  mexpect_miss(s, "http://h/a"); /* order now: a (oldest), d, c */
  mexpect_hit(s, "http://h/c", "0123456789", 10);
  mexpect_hit(s, "http://h/d", "0123456789", 10);
  mexpect_hit(s, "http://h/e", "0123456789", 10);
  /* A larger entry pushes out as many as it needs, oldest first. */
  static char big[64];
  cr_assert(mput(s, "http://h/f", big, 10 + one - charge_of("http://h/f", 0)) ==
            0);
  mexpect_miss(s, "http://h/c");
  mexpect_miss(s, "http://h/d");
  mexpect_hit(s, "http://h/e", "0123456789", 10);
  cr_expect_leq(hr_store_memory_bytes(s), 3 * one);
  hr_store_memory_free(s);
}

Test(store_memory, oversize_refused_and_replaces) {
  hr_mstore *s;
  size_t max = charge_of("http://h/k", 100);
  cr_assert(hr_store_memory_new(&s, max) == 0);
  static char buf[200];
  cr_assert(mput(s, "http://h/k", buf, 100) == 0); /* exactly the bound */
  cr_expect_eq(hr_store_memory_bytes(s), max);
  cr_expect_eq(mput(s, "http://h/k", buf, 101), HTTPRESP_E_INVALID_ARG);
  mexpect_miss(s, "http://h/k"); /* the old one is superseded, not kept */
  cr_expect_eq(mput(s, "http://h/j", buf, 200), HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(hr_store_memory_count(s), 0u);
  cr_expect_eq(hr_store_memory_bytes(s), 0u);
  hr_store_memory_free(s);
  cr_expect_eq(hr_store_memory_new(&s, 0), HTTPRESP_E_INVALID_ARG);
}

Test(store_memory, byte_bound_never_exceeded) {
  hr_mstore *s;
  const size_t max = 20000;
  cr_assert(hr_store_memory_new(&s, max) == 0);
  uint64_t x = 42;
  char key[32];
  static char buf[4000];
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof(key), "http://h/%llu",
             (unsigned long long)(rng_next(&x) % 300));
    size_t len = (size_t)(rng_next(&x) % sizeof(buf));
    mput(s, key, buf, len);
    cr_assert_leq(hr_store_memory_bytes(s), max, "after put %d", i);
    if (i % 7 == 0)
      hr_store_memory_del(s, key, strlen(key));
  }
  cr_expect_gt(hr_store_memory_count(s), 0u);
  hr_store_memory_free(s);
}

Test(store_memory, many_entries_grow_table) {
  hr_mstore *s;
  cr_assert(hr_store_memory_new(&s, 64u << 20) == 0);
  char key[32];
  for (int i = 0; i < 20000; i++) {
    snprintf(key, sizeof(key), "http://h/%d", i);
    cr_assert(mput(s, key, key, strlen(key)) == 0);
  }
  cr_expect_eq(hr_store_memory_count(s), 20000u);
  for (int i = 0; i < 20000; i += 997) {
    snprintf(key, sizeof(key), "http://h/%d", i);
    mexpect_hit(s, key, key, strlen(key));
  }
  hr_store_memory_free(s);
}

typedef struct hammer_arg {
  hr_mstore *s;
  int id;
  int bad;
} hammer_arg;

/* Threads put, get and delete overlapping keys; every entry got must be
 * a whole one for its key, and stay readable while held. */
static void *hammer(void *p) {
  hammer_arg *a = p;
  uint64_t x = (uint64_t)a->id * 7919 + 1;
  char key[48];
  hr_stored *held = NULL;
  char held_key[48] = "";
  for (int i = 0; i < 4000; i++) {
    uint64_t r = rng_next(&x);
    if (r % 3 == 0)
      snprintf(key, sizeof(key), "http://h/shared-%d", (int)(r % 17));
    else
      snprintf(key, sizeof(key), "http://h/t%d-%d", a->id, (int)(r % 50));
    if (r % 5 < 2) {
      size_t len;
      char *d = make_data(key, r, (size_t)(r % 700), &len);
      mput(a->s, key, d, len);
      free(d);
    } else if (r % 5 < 4) {
      hr_stored *v = NULL;
      int rc = hr_store_memory_get(a->s, key, strlen(key), &v);
      if (rc == 0 && (strcmp(v->e.key, key) != 0 ||
                      !check_data(key, v->e.body, v->e.body_len)))
        a->bad++;
      if (rc != 0 && rc != 1)
        a->bad++;
      if (rc == 0) {
        if (held && !check_data(held_key, held->e.body, held->e.body_len))
          a->bad++;
        hr_stored_unref(held);
        held = v; /* keep one across later operations */
        snprintf(held_key, sizeof(held_key), "%s", key);
      }
    } else {
      hr_store_memory_del(a->s, key, strlen(key));
    }
  }
  hr_stored_unref(held);
  return NULL;
}

Test(store_memory, thread_hammering) {
  hr_mstore *s;
  const size_t max = 64 * 1024;
  cr_assert(hr_store_memory_new(&s, max) == 0);
  pthread_t t[8];
  hammer_arg args[8];
  for (int i = 0; i < 8; i++) {
    args[i] = (hammer_arg){s, i, 0};
    cr_assert(pthread_create(&t[i], NULL, hammer, &args[i]) == 0);
  }
  for (int i = 0; i < 8; i++) {
    pthread_join(t[i], NULL);
    cr_expect_eq(args[i].bad, 0, "thread %d read a wrong entry", i);
  }
  cr_expect_leq(hr_store_memory_bytes(s), max);
  hr_store_memory_free(s);
}

Test(store_memory, overhead_is_small) {
  /* Bookkeeping charged beyond the frozen entry: node + bucket. */
  hr_stored *v = frozen("http://h/x", "data", 4);
  cr_expect_leq(hr_store_memory_charge(v) - v->size, 64u);
  hr_stored_unref(v);
}

/* ---- disk store ------------------------------------------------------- */

#define DISK (&hr_store_disk_ops)

Test(store_disk, put_get_del_and_restart) {
  char *dir = make_tmpdir();
  void *s;
  cr_assert(hr_store_disk_new(&s, dir, 1 << 20, 0) == 0);
  expect_miss(DISK, s, "http://a/1");
  cr_assert(DISK->put(s, "http://a/1", "hello\0world", 11) == 0);
  cr_assert(DISK->put(s, "http://a/2", "", 0) == 0);
  char *d;
  size_t len;
  cr_assert(get(DISK, s, "http://a/1", &d, &len) == 0);
  cr_expect(len == 11 && memcmp(d, "hello\0world", 11) == 0);
  free(d);
  expect_hit(DISK, s, "http://a/2", "");
  cr_assert(DISK->put(s, "http://a/1", "v2", 2) == 0);
  expect_hit(DISK, s, "http://a/1", "v2");
  size_t on_disk = dir_entry_bytes(dir);
  cr_expect_eq(hr_store_disk_bytes(s), on_disk);
  DISK->destroy(s);

  /* A new store object (another run of the program) sees the same. */
  cr_assert(hr_store_disk_new(&s, dir, 1 << 20, HR_STORE_DISK_FSYNC) == 0);
  cr_expect_eq(hr_store_disk_bytes(s), on_disk);
  expect_hit(DISK, s, "http://a/1", "v2");
  expect_hit(DISK, s, "http://a/2", "");
  cr_expect_eq(DISK->del(s, "http://a/1"), 0);
  expect_miss(DISK, s, "http://a/1");
  cr_expect_eq(DISK->del(s, "http://a/1"), 0);
  cr_assert(DISK->put(s, "http://a/3", "x", 1) == 0); /* with fsync */
  expect_hit(DISK, s, "http://a/3", "x");
  DISK->destroy(s);
  fixture_rm_rf(dir);
  free(dir);
}

Test(store_disk, creates_directories) {
  char *base = make_tmpdir();
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s/a/b/c/", base);
  void *s;
  cr_assert(hr_store_disk_new(&s, dir, 4096, 0) == 0);
  struct stat st;
  snprintf(dir, sizeof(dir), "%s/a/b/c", base);
  cr_assert(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
  cr_expect_eq(st.st_mode & 0777, 0700);
  cr_assert(DISK->put(s, "k", "v", 1) == 0);
  expect_hit(DISK, s, "k", "v");
  DISK->destroy(s);

  /* A file where the directory should be: an error, not a crash. */
  char file[4096];
  snprintf(file, sizeof(file), "%s/file", base);
  write_file(file, "x", 1);
  cr_expect_eq(hr_store_disk_new(&s, file, 4096, 0), HTTPRESP_E_CACHE_IO);
  cr_expect_null(s);
  cr_expect_eq(hr_store_disk_new(&s, "", 4096, 0), HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(hr_store_disk_new(&s, NULL, 4096, 0), HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(hr_store_disk_new(&s, base, 0, 0), HTTPRESP_E_INVALID_ARG);
  fixture_rm_rf(base);
  free(base);
}

static char *read_whole(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f);
  static char buf[1 << 16];
  *len = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  char *d = malloc(*len);
  memcpy(d, buf, *len);
  return d;
}

Test(store_disk, corrupted_bytes_are_a_miss_and_removed) {
  char *dir = make_tmpdir();
  void *s;
  cr_assert(hr_store_disk_new(&s, dir, 1 << 20, 0) == 0);
  const char *key = "http://a/corrupt";
  char data[300];
  for (size_t i = 0; i < sizeof(data); i++)
    data[i] = (char)i;
  cr_assert(DISK->put(s, key, data, sizeof(data)) == 0);
  char path[4096];
  only_entry(dir, path, sizeof(path));
  size_t flen;
  char *good = read_whole(path, &flen);
  /* Every position: header, key and data. */
  for (size_t pos = 0; pos < flen; pos++) {
    good[pos] ^= 0x10;
    write_file(path, good, flen);
    good[pos] ^= 0x10;
    char *d;
    size_t len;
    int rc = get(DISK, s, key, &d, &len);
    if (rc == 0)
      free(d);
    cr_assert_eq(rc, 1, "flipped byte %zu read as %d", pos, rc);
    cr_assert_not(exists(path), "damaged file kept (byte %zu)", pos);
  }
  /* The store still works afterwards. */
  cr_assert(DISK->put(s, key, data, sizeof(data)) == 0);
  char *d;
  size_t len;
  cr_assert(get(DISK, s, key, &d, &len) == 0);
  cr_expect(len == sizeof(data) && memcmp(d, data, len) == 0);
  free(d);
  free(good);
  DISK->destroy(s);
  fixture_rm_rf(dir);
  free(dir);
}

Test(store_disk, truncated_and_foreign_files_are_a_miss) {
  char *dir = make_tmpdir();
  void *s;
  cr_assert(hr_store_disk_new(&s, dir, 1 << 20, 0) == 0);
  const char *key = "http://a/t";
  cr_assert(DISK->put(s, key, "0123456789abcdef", 16) == 0);
  char path[4096];
  only_entry(dir, path, sizeof(path));
  size_t flen;
  char *good = read_whole(path, &flen);
  for (size_t len = 0; len < flen; len++) {
    write_file(path, good, len);
    expect_miss(DISK, s, key);
    cr_assert_not(exists(path), "truncated file kept (%zu)", len);
  }
  /* Extended by a byte. */
  char *longer = malloc(flen + 1);
  memcpy(longer, good, flen);
  longer[flen] = 'x';
  write_file(path, longer, flen + 1);
  expect_miss(DISK, s, key);
  cr_expect_not(exists(path));
  /* Something else entirely under the entry's name. */
  write_file(path, "GIF89a\0\0\0\0", 10);
  expect_miss(DISK, s, key);
  cr_expect_not(exists(path));
  /* A directory or a symlink under the name: a miss, never followed. */
  cr_assert(symlink("/etc/passwd", path) == 0);
  expect_miss(DISK, s, key);
  unlink(path);
  cr_assert(mkdir(path, 0700) == 0);
  expect_miss(DISK, s, key);
  rmdir(path);
  /* A sound file under this name for another key (a hash collision): a
   * miss, and the other key's entry is left alone. */
  cr_assert(DISK->put(s, "http://other", "zz", 2) == 0);
  char other[4096];
  only_entry(dir, other, sizeof(other));
  cr_assert(rename(other, path) == 0);
  expect_miss(DISK, s, key);
  cr_expect(exists(path));
  free(longer);
  free(good);
  DISK->destroy(s);
  fixture_rm_rf(dir);
  free(dir);
}

Test(store_disk, garbage_files_ignored) {
  char *dir = make_tmpdir();
  char p[4096];
  snprintf(p, sizeof(p), "%s/README", dir);
  write_file(p, "not ours", 8);
  snprintf(p, sizeof(p), "%s/0123456789abcdef.hrc", dir);
  write_file(p, "junk with an entry-like name", 28);
  snprintf(p, sizeof(p), "%s/0123456789ABCDEF.hrc", dir);
  write_file(p, "junk", 4);
  snprintf(p, sizeof(p), "%s/subdir.hrc", dir);
  mkdir(p, 0700);
  void *s;
  cr_assert(hr_store_disk_new(&s, dir, 1 << 20, 0) == 0);
  cr_assert(DISK->put(s, "k", "v", 1) == 0);
  expect_hit(DISK, s, "k", "v");
  expect_miss(DISK, s, "other");
  cr_assert(hr_store_disk_scan(s, 60) == 0);
  snprintf(p, sizeof(p), "%s/README", dir);
  cr_expect(exists(p)); /* not ours: never touched */
  DISK->destroy(s);
  fixture_rm_rf(dir);
  free(dir);
}

Test(store_disk, temp_files_of_killed_writers) {
  char *dir = make_tmpdir();
  void *s;
  cr_assert(hr_store_disk_new(&s, dir, 1 << 20, 0) == 0);
  cr_assert(DISK->put(s, "k", "complete", 8) == 0);
  char path[4096];
  only_entry(dir, path, sizeof(path));
  size_t flen;
  char *good = read_whole(path, &flen);
  /* A half-written temp file beside it, old and new. */
  char old_tmp[4096], new_tmp[4096];
  snprintf(old_tmp, sizeof(old_tmp), "%s/.hrtmp-AAAAAA", dir);
  snprintf(new_tmp, sizeof(new_tmp), "%s/.hrtmp-BBBBBB", dir);
  write_file(old_tmp, good, flen / 2);
  write_file(new_tmp, good, flen / 2);
  set_mtime(old_tmp, time(NULL) - 120);
  expect_hit(DISK, s, "k", "complete");
  DISK->destroy(s);
  /* Reopening cleans the orphan older than a minute, keeps the young one
   * (its writer may still be running). */
  cr_assert(hr_store_disk_new(&s, dir, 1 << 20, 0) == 0);
  cr_expect_not(exists(old_tmp));
  cr_expect(exists(new_tmp));
  expect_hit(DISK, s, "k", "complete");
  cr_expect_eq(hr_store_disk_bytes(s), flen); /* temp files not counted */
  free(good);
  DISK->destroy(s);
  fixture_rm_rf(dir);
  free(dir);
}

/* No .timeout here or below: BoxFort leaks a timeout request in the runner
 * when two tests with timeouts overlap (bxfi_cancel_timeout), which fails
 * the sanitizer build.  ctest's TIMEOUT guards against hangs. */
Test(store_disk, writer_killed_mid_write) {
  char *dir = make_tmpdir();
  const size_t big = 2u << 20;
  for (int round = 0; round < 5; round++) {
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
      void *cs;
      if (hr_store_disk_new(&cs, dir, 64u << 20, 0) != 0)
        _exit(2);
      for (uint64_t i = 1;; i++) {
        size_t len;
        char *d = make_data("k", i, big, &len);
        DISK->put(cs, "k", d, len);
        free(d);
      }
    }
    struct timespec ts = {0, (20 + round * 15) * 1000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFSIGNALED(st));
    void *s;
    cr_assert(hr_store_disk_new(&s, dir, 64u << 20, 0) == 0);
    char *d;
    size_t len;
    int rc = get(DISK, s, "k", &d, &len);
    cr_assert(rc == 0 || rc == 1);
    if (rc == 0) {
      cr_expect(check_data("k", d, len), "round %d read a broken entry", round);
      free(d);
    }
    /* Orphans are cleaned once old enough (here: at once). */
    cr_assert(hr_store_disk_scan(s, -1) == 0);
    DISK->destroy(s);
  }
  DIR *dd = opendir(dir);
  struct dirent *de;
  while ((de = readdir(dd)) != NULL)
    cr_expect(strncmp(de->d_name, ".hrtmp-", 7) != 0, "left: %s", de->d_name);
  closedir(dd);
  fixture_rm_rf(dir);
  free(dir);
}

/* Two processes on one directory: shared and private keys, puts, gets
 * and deletes interleaved; nobody may ever read a wrong or mixed entry. */
static int process_worker(const char *dir, int id, size_t max) {
  void *s;
  if (hr_store_disk_new(&s, dir, max, 0) != 0)
    return 10;
  uint64_t x = (uint64_t)id * 104729 + 17;
  int bad = 0;
  char key[64];
  for (int i = 0; i < 600 && !bad; i++) {
    uint64_t r = rng_next(&x);
    if (r % 2)
      snprintf(key, sizeof(key), "http://shared/%d", (int)(r % 5));
    else
      snprintf(key, sizeof(key), "http://p%d/%d", id, (int)(r % 5));
    int op = (int)((r >> 8) % 10);
    if (op < 4) {
      size_t len;
      char *d = make_data(key, r, (size_t)((r >> 16) % 20000), &len);
      if (DISK->put(s, key, d, len) != 0)
        bad = 11;
      free(d);
    } else if (op < 9) {
      void *d = NULL;
      size_t len;
      int rc = DISK->get(s, key, &d, &len);
      if (rc == 0 && !check_data(key, d, len))
        bad = 12;
      else if (rc != 0 && rc != 1)
        bad = 13;
      free(d);
    } else {
      DISK->del(s, key);
    }
  }
  DISK->destroy(s);
  return bad;
}

Test(store_disk, two_processes_share_a_directory) {
  char *dir = make_tmpdir();
  /* Small enough that eviction runs in both processes too. */
  const size_t max = 120000;
  pid_t pids[2];
  for (int i = 0; i < 2; i++) {
    pids[i] = fork();
    cr_assert(pids[i] >= 0);
    if (pids[i] == 0)
      _exit(process_worker(dir, i, max));
  }
  for (int i = 0; i < 2; i++) {
    int st;
    cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker %d: status %d", i,
              WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  }
  fixture_rm_rf(dir);
  free(dir);
}

Test(store_disk, byte_bound_and_eviction_order) {
  char *dir = make_tmpdir();
  const size_t max = 20000;
  void *s;
  cr_assert(hr_store_disk_new(&s, dir, max, 0) == 0);
  char data[1800];
  memset(data, 'd', sizeof(data));
  time_t base = time(NULL) - 1000;
  char key[32], names[64][64];
  char seen[64][64];
  size_t nseen = 0;
  /* Ten entries (~1.8 KB each), mtimes pinned to a known order. */
  for (int i = 0; i < 10; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    cr_assert(DISK->put(s, key, data, sizeof(data)) == 0);
    size_t n = entry_files(dir, names, 64);
    for (size_t j = 0; j < n; j++) {
      int known = 0;
      for (size_t k = 0; k < nseen; k++)
        known |= strcmp(seen[k], names[j]) == 0;
      if (!known) {
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", dir, names[j]);
        set_mtime(p, base + i);
        snprintf(seen[nseen++], 64, "%s", names[j]);
      }
    }
  }
  cr_assert_eq(nseen, 10u);
  cr_expect_leq(hr_store_disk_bytes(s), max);
  /* k0 is read, so it becomes the most recently used. */
  char *d;
  size_t len;
  cr_assert(get(DISK, s, "k0", &d, &len) == 0);
  free(d);
  /* Going over the bound evicts the oldest: k1, k2... never k0. */
  cr_assert(DISK->put(s, "k10", data, sizeof(data)) == 0);
  cr_assert(DISK->put(s, "k11", data, sizeof(data)) == 0);
  cr_expect_leq(hr_store_disk_bytes(s), max);
  cr_expect_leq(dir_entry_bytes(dir), max);
  expect_miss(DISK, s, "k1");
  cr_assert(get(DISK, s, "k0", &d, &len) == 0);
  free(d);
  cr_assert(get(DISK, s, "k11", &d, &len) == 0);
  free(d);
  /* Many more: the bound holds throughout. */
  for (int i = 0; i < 100; i++) {
    snprintf(key, sizeof(key), "more%d", i);
    cr_assert(DISK->put(s, key, data, (size_t)(i * 37) % sizeof(data)) == 0);
    cr_assert_leq(hr_store_disk_bytes(s), max);
    cr_assert_leq(dir_entry_bytes(dir), max);
  }
  /* Larger than the whole bound: refused, and the old value goes. */
  static char huge[30000];
  cr_assert(DISK->put(s, "more99", "x", 1) == 0);
  cr_expect_neq(DISK->put(s, "more99", huge, sizeof(huge)), 0);
  expect_miss(DISK, s, "more99");
  DISK->destroy(s);
  fixture_rm_rf(dir);
  free(dir);
}

/* ---- a caller's store: version 1 and version 2 ops ----------------------- */

/* A small map of (key, variant) to bytes, refusing values over `max`. */
#define MAP_MAX 64
typedef struct map_store {
  pthread_mutex_t lock;
  struct {
    char *key;
    uint64_t variant;
    void *data;
    size_t len;
  } v[MAP_MAX];
  size_t n;
  size_t max;
  int gets, puts, dels, destroyed, update_puts;
  int corrupt; /* flip a byte of what get returns */
  char last_key[256];
  uint64_t last_variant;
  int64_t last_ttl;
} map_store;

static map_store *map_new(size_t max) {
  map_store *m = calloc(1, sizeof(*m));
  cr_assert_not_null(m);
  pthread_mutex_init(&m->lock, NULL);
  m->max = max;
  return m;
}

static void map_free(map_store *m) {
  for (size_t i = 0; i < m->n; i++) {
    free(m->v[i].key);
    free(m->v[i].data);
  }
  pthread_mutex_destroy(&m->lock);
  free(m);
}

static long map_find(map_store *m, const char *key, uint64_t variant) {
  for (size_t i = 0; i < m->n; i++)
    if (strcmp(m->v[i].key, key) == 0 && m->v[i].variant == variant)
      return (long)i;
  return -1;
}

static void map_remove_at(map_store *m, long i) {
  free(m->v[i].key);
  free(m->v[i].data);
  m->v[i] = m->v[--m->n];
}

static int map_get2(void *p, const char *key, uint64_t variant, void **data,
                    size_t *len) {
  map_store *m = p;
  pthread_mutex_lock(&m->lock);
  m->gets++;
  snprintf(m->last_key, sizeof(m->last_key), "%s", key);
  m->last_variant = variant;
  long i = map_find(m, key, variant);
  if (i >= 0) {
    *len = m->v[i].len;
    *data = malloc(*len ? *len : 1);
    memcpy(*data, m->v[i].data, *len);
    if (m->corrupt && *len)
      ((char *)*data)[*len / 2] ^= 1;
  }
  pthread_mutex_unlock(&m->lock);
  return i >= 0 ? 0 : 1;
}

static int map_del2(void *p, const char *key, uint64_t variant) {
  map_store *m = p;
  pthread_mutex_lock(&m->lock);
  m->dels++;
  long i = map_find(m, key, variant);
  if (i >= 0)
    map_remove_at(m, i);
  pthread_mutex_unlock(&m->lock);
  return 0;
}

static int map_put2(void *p, const char *key, uint64_t variant,
                    const void *data, size_t len, int64_t ttl_sec,
                    unsigned how) {
  map_store *m = p;
  if (len > m->max) {
    map_del2(m, key, variant); /* replaced by what it refuses */
    return HTTPRESP_E_INVALID_ARG;
  }
  pthread_mutex_lock(&m->lock);
  m->puts++;
  m->last_ttl = ttl_sec;
  long i = map_find(m, key, variant);
  int rc = 0;
  if (how & HTTPRESP_STORE_UPDATE_ONLY) {
    m->update_puts++;
    if (i < 0)
      rc = 1;
  }
  if (rc == 0 && i < 0 && m->n == MAP_MAX)
    rc = -1;
  if (rc == 0) {
    if (i < 0) {
      i = (long)m->n++;
      m->v[i].key = strdup(key);
      m->v[i].variant = variant;
    } else {
      free(m->v[i].data);
    }
    m->v[i].data = malloc(len ? len : 1);
    memcpy(m->v[i].data, data, len);
    m->v[i].len = len;
  }
  pthread_mutex_unlock(&m->lock);
  return rc;
}

static void map_destroy(void *p) { ((map_store *)p)->destroyed++; }

static int map_get(void *p, const char *key, void **data, size_t *len) {
  return map_get2(p, key, 0, data, len);
}
static int map_put(void *p, const char *key, const void *data, size_t len) {
  return map_put2(p, key, 0, data, len, 0, 0);
}
static int map_del(void *p, const char *key) { return map_del2(p, key, 0); }

static const httpresp_store_ops map_ops = {HTTPRESP_STORE_VERSION, map_get,
                                           map_put, map_del, map_destroy};
static const httpresp_store_ops_v2 map_ops_v2 = {
    HTTPRESP_STORE_VERSION_2, HTTPRESP_STORE_UPDATE_ONLY, map_get2, map_put2,
    map_del2, map_destroy};

Test(cache, custom_store_version_and_arguments) {
  map_store *f = map_new(1 << 20);
  httpresp_cache *c = (httpresp_cache *)f;
  httpresp_store_ops ops = map_ops;
  ops.version = HTTPRESP_STORE_VERSION + 1;
  cr_expect_eq(httpresp_cache_new_custom(&c, &ops, f), HTTPRESP_E_INVALID_ARG);
  cr_expect_null(c);
  ops.version = 0;
  cr_expect_eq(httpresp_cache_new_custom(&c, &ops, f), HTTPRESP_E_INVALID_ARG);
  ops = map_ops;
  ops.get = NULL;
  cr_expect_eq(httpresp_cache_new_custom(&c, &ops, f), HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_cache_new_custom(&c, NULL, f), HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_cache_new_custom(NULL, &map_ops, f),
               HTTPRESP_E_INVALID_ARG);

  /* Version 2: its own version, all three functions, known flags only. */
  httpresp_store_ops_v2 v2 = map_ops_v2;
  v2.version = HTTPRESP_STORE_VERSION;
  cr_expect_eq(httpresp_cache_new_custom_v2(&c, &v2, f),
               HTTPRESP_E_INVALID_ARG);
  v2 = map_ops_v2;
  v2.del = NULL;
  cr_expect_eq(httpresp_cache_new_custom_v2(&c, &v2, f),
               HTTPRESP_E_INVALID_ARG);
  v2 = map_ops_v2;
  v2.flags = 0x80u;
  cr_expect_eq(httpresp_cache_new_custom_v2(&c, &v2, f),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_cache_new_custom_v2(&c, NULL, f),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_cache_new_custom_v2(NULL, &map_ops_v2, f),
               HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(f->destroyed, 0); /* refused: the store stays the caller's */

  cr_assert(httpresp_cache_new_custom(&c, &map_ops, f) == 0);
  httpresp_cache_free(c);
  cr_expect_eq(f->destroyed, 1);
  cr_assert(httpresp_cache_new_custom_v2(&c, &map_ops_v2, f) == 0);
  httpresp_cache_free(c);
  cr_expect_eq(f->destroyed, 2);
  httpresp_cache_free(NULL);
  map_free(f);
}

/* ---- the conformance suite: every backend behind the cache --------------- */

typedef enum backend {
  B_MEMORY,
  B_DISK,
  B_CUSTOM_V1,
  B_CUSTOM_V2,
  B_REDIS
} backend;
static const char *const backend_names[] = {"memory", "disk", "custom-v1",
                                            "custom-v2", "redis"};

/* A cache over backend `b`, bounded to about `max` bytes an entry. */
typedef struct bcache {
  httpresp_cache *c;
  backend b;
  char *dir;
  map_store *map;
  rs_server rs; /* B_REDIS: a redis-server of the test's own */
} bcache;

static void bcache_open(bcache *bc, backend b, size_t max) {
  memset(bc, 0, sizeof(*bc));
  bc->b = b;
  switch (b) {
  case B_MEMORY:
    cr_assert(httpresp_cache_new_memory(&bc->c, max) == 0);
    break;
  case B_DISK:
    bc->dir = make_tmpdir();
    cr_assert(httpresp_cache_new_disk(&bc->c, bc->dir, max) == 0);
    break;
  case B_CUSTOM_V1:
    bc->map = map_new(max);
    cr_assert(httpresp_cache_new_custom(&bc->c, &map_ops, bc->map) == 0);
    break;
  case B_CUSTOM_V2:
    bc->map = map_new(max);
    cr_assert(httpresp_cache_new_custom_v2(&bc->c, &map_ops_v2, bc->map) == 0);
    break;
  case B_REDIS: {
    if (!rs_available())
      cr_skip_test("redis-server is not installed: the Redis store is not "
                   "tried");
    cr_assert_eq(rs_start(&bc->rs), 0, "redis-server did not start");
    httpresp_redis_options o = {.version = HTTPRESP_REDIS_OPTIONS_VERSION,
                                .max_entry = max};
    int rc = httpresp_cache_new_redis(&bc->c, bc->rs.url, &o);
    if (rc == HTTPRESP_E_UNSUPPORTED) {
      rs_stop(&bc->rs);
      cr_skip_test("built without hiredis: the Redis store is not tried");
    }
    cr_assert_eq(rc, 0);
    break;
  }
  }
}

static void bcache_close(bcache *bc) {
  httpresp_cache_free(bc->c);
  if (bc->rs.pid)
    rs_stop(&bc->rs);
  if (bc->map) {
    cr_expect_eq(bc->map->destroyed, 1);
    map_free(bc->map);
  }
  if (bc->dir) {
    fixture_rm_rf(bc->dir);
    free(bc->dir);
  }
}

static httpresp_request *req(const char *method, const char *url,
                             const char *line) {
  httpresp_request *q;
  cr_assert(httpresp_request_new(&q, method, url) == 0);
  if (line)
    cr_assert(httpresp_request_add_header(q, line, NULL) == 0);
  return q;
}

static void resp(hr_headers *h, const char *line1, const char *line2) {
  hr_headers_init(h);
  if (line1)
    cr_assert(hr_headers_add_line(h, line1, strlen(line1)) == 0);
  if (line2)
    cr_assert(hr_headers_add_line(h, line2, strlen(line2)) == 0);
}

/* An entry for key `k` whose body is `body`. */
static void sample_entry(hr_cache_entry *e, const hr_key *k, const char *body) {
  httpresp_request *q = req("GET", "http://a.example/x", NULL);
  hr_headers h;
  resp(&h, "Cache-Control: max-age=60", NULL);
  cr_assert(hr_cache_entry_from_response(e, k, q, 200, &h, body, strlen(body),
                                         1000, 2000) == 0);
  hr_headers_free(&h);
  httpresp_request_free(q);
}

static void key_of(hr_key *k, const char *method, const char *url,
                   const char *partition) {
  cr_assert(hr_key_init(k, method, url, strcspn(url, "#"), partition) == 0);
}

/* A hit under `k` whose body is `body`, or a miss when `body` is NULL. */
static void expect_entry(const hr_store *st, const hr_key *k,
                         const char *body, backend b) {
  hr_stored *v = NULL;
  int rc = hr_store_get(st, k, &v);
  if (!body) {
    cr_expect_eq(rc, 1, "%s: hit for %.*s", backend_names[b],
                 (int)k->flat_len, k->flat);
    cr_expect_null(v);
    return;
  }
  cr_assert_eq(rc, 0, "%s: miss for %.*s", backend_names[b], (int)k->flat_len,
               k->flat);
  cr_expect(strlen(v->e.key) == k->flat_len &&
                memcmp(v->e.key, k->flat, k->flat_len) == 0,
            "%s: key", backend_names[b]);
  cr_expect_str_eq(v->e.body, body, "%s: body", backend_names[b]);
  cr_expect_not_null(v->e.facts); /* frozen, whatever the backend */
  hr_stored_unref(v);
}

ParameterizedTestParameters(conformance, put_get_replace_del) {
  static backend all[] = {B_MEMORY, B_DISK, B_CUSTOM_V1, B_CUSTOM_V2, B_REDIS};
  return cr_make_param_array(backend, all, sizeof(all) / sizeof(all[0]));
}
ParameterizedTest(backend *b, conformance, put_get_replace_del) {
  bcache bc;
  bcache_open(&bc, *b, 1 << 20);
  const hr_store *st = hr_cache_store(bc.c);
  hr_put_how plain = {0, 60}; /* a TTL: Redis writes none without */
  hr_key k, other;
  key_of(&k, "GET", "http://a.example/x#frag", NULL);
  key_of(&other, "GET", "http://a.example/y", NULL);
  cr_expect_str_eq(k.flat, "http://a.example/x#frag"); /* borrowed... */
  cr_expect_eq(k.flat_len, strlen("http://a.example/x")); /* ...to the '#' */
  expect_entry(st, &k, NULL, *b);

  hr_cache_entry e;
  sample_entry(&e, &k, "one");
  cr_expect_eq(hr_store_put(st, &k, &e, &plain), 0);
  hr_cache_entry_free(&e);
  expect_entry(st, &k, "one", *b);
  expect_entry(st, &other, NULL, *b);

  sample_entry(&e, &k, "two");
  cr_expect_eq(hr_store_put(st, &k, &e, &plain), 0);
  hr_cache_entry_free(&e);
  expect_entry(st, &k, "two", *b);

  cr_expect_eq(hr_store_del(st, &k), 0);
  expect_entry(st, &k, NULL, *b);
  cr_expect_eq(hr_store_del(st, &k), 0); /* absent: still fine */
  hr_key_free(&k);
  hr_key_free(&other);
  bcache_close(&bc);
}

ParameterizedTestParameters(conformance, keys_are_opaque_and_distinct) {
  static backend all[] = {B_MEMORY, B_DISK, B_CUSTOM_V1, B_CUSTOM_V2, B_REDIS};
  return cr_make_param_array(backend, all, sizeof(all) / sizeof(all[0]));
}
ParameterizedTest(backend *b, conformance, keys_are_opaque_and_distinct) {
  /* The same URL under another method or partition is another entry; a
   * partition that looks like a URL cannot collide with a URL key. */
  bcache bc;
  bcache_open(&bc, *b, 1 << 20);
  const hr_store *st = hr_cache_store(bc.c);
  hr_put_how plain = {0, 60}; /* a TTL: Redis writes none without */
  static const struct {
    const char *method, *url, *partition, *body;
  } rows[] = {
      {"GET", "http://a.example/x", NULL, "plain"},
      {"GET", "http://a.example/x", "user-a", "for a"},
      {"GET", "http://a.example/x", "user-b", "for b"},
      {"POST", "http://a.example/x", NULL, "post"},
      {"GET", "http://a.example/x", "1:x GET http://a.example/x", "tricky"},
      {"GET", "http://a.example/x?user-a", NULL, "query"},
  };
  size_t n = sizeof(rows) / sizeof(rows[0]);
  for (size_t i = 0; i < n; i++) {
    hr_key k;
    key_of(&k, rows[i].method, rows[i].url, rows[i].partition);
    hr_cache_entry e;
    sample_entry(&e, &k, rows[i].body);
    cr_expect_eq(hr_store_put(st, &k, &e, &plain), 0, "row %zu", i);
    hr_cache_entry_free(&e);
    hr_key_free(&k);
  }
  for (size_t i = 0; i < n; i++) {
    hr_key k;
    key_of(&k, rows[i].method, rows[i].url, rows[i].partition);
    expect_entry(st, &k, rows[i].body, *b);
    hr_key_free(&k);
  }
  if (bc.map) /* what a caller's store is asked: the flat key, variant 0 */
    cr_expect_eq(bc.map->last_variant, 0u);
  bcache_close(&bc);
}

ParameterizedTestParameters(conformance, update_only_never_resurrects) {
  static backend all[] = {B_MEMORY, B_DISK, B_CUSTOM_V1, B_CUSTOM_V2, B_REDIS};
  return cr_make_param_array(backend, all, sizeof(all) / sizeof(all[0]));
}
ParameterizedTest(backend *b, conformance, update_only_never_resurrects) {
  bcache bc;
  bcache_open(&bc, *b, 1 << 20);
  const hr_store *st = hr_cache_store(bc.c);
  hr_put_how update = {1, 60}, plain = {0, 60};
  hr_key k;
  key_of(&k, "GET", "http://a.example/u", NULL);
  hr_cache_entry e;
  sample_entry(&e, &k, "fresh");
  cr_expect_eq(hr_store_put(st, &k, &e, &update), 1); /* nothing to update */
  expect_entry(st, &k, NULL, *b);
  cr_expect_eq(hr_store_put(st, &k, &e, &plain), 0);
  hr_cache_entry_free(&e);
  sample_entry(&e, &k, "updated");
  cr_expect_eq(hr_store_put(st, &k, &e, &update), 0);
  hr_cache_entry_free(&e);
  expect_entry(st, &k, "updated", *b);
  /* A version 2 store that can do it atomically is asked to. */
  if (*b == B_CUSTOM_V2)
    cr_expect_eq(bc.map->update_puts, 2);
  if (*b == B_CUSTOM_V1)
    cr_expect_eq(bc.map->update_puts, 0);
  hr_key_free(&k);
  bcache_close(&bc);
}

ParameterizedTestParameters(conformance, too_large_is_refused_and_supersedes) {
  static backend all[] = {B_MEMORY, B_DISK, B_CUSTOM_V1, B_CUSTOM_V2, B_REDIS};
  return cr_make_param_array(backend, all, sizeof(all) / sizeof(all[0]));
}
ParameterizedTest(backend *b, conformance,
                  too_large_is_refused_and_supersedes) {
  bcache bc;
  bcache_open(&bc, *b, 4096);
  httpresp_request *q = req("GET", "http://a.example/big", NULL);
  hr_headers h;
  resp(&h, "Cache-Control: max-age=60", NULL);
  static char body[8192];
  const char *why;
  cr_expect_eq(hr_cache_on_response(bc.c, q, 200, &h, "small", 5, 0, 0, &why, NULL),
               1, "%s", backend_names[*b]);
  cr_expect_eq(
      hr_cache_on_response(bc.c, q, 200, &h, body, sizeof(body), 0, 0, &why, NULL),
      0);
  cr_expect_str_eq(why, "too-large", "%s", backend_names[*b]);
  hr_stored *e;
  cr_expect_eq(hr_cache_lookup(bc.c, q, 0, &e, &why), HR_CACHE_USE_NONE,
               "%s: the older answer is superseded", backend_names[*b]);
  cr_expect_null(e);
  hr_headers_free(&h);
  httpresp_request_free(q);
  bcache_close(&bc);
}

/* The whole flow the transfer code runs, through the cache's four events. */
ParameterizedTestParameters(conformance, flow_through_the_events) {
  static backend all[] = {B_MEMORY, B_DISK, B_CUSTOM_V1, B_CUSTOM_V2, B_REDIS};
  return cr_make_param_array(backend, all, sizeof(all) / sizeof(all[0]));
}
ParameterizedTest(backend *b, conformance, flow_through_the_events) {
  bcache bc;
  bcache_open(&bc, *b, 1 << 20);
  httpresp_cache *c = bc.c;
  const int64_t t0 = INT64_C(1700000000000);
  char date[40];
  cr_assert(hr_httpdate_format(t0 / 1000, date, sizeof(date)) == 0);
  char dline[64];
  snprintf(dline, sizeof(dline), "Date: %s", date);
  httpresp_request *q = req("GET", "http://a.example/r#frag", NULL);
  hr_stored *e;
  const char *why;

  cr_expect_eq(hr_cache_lookup(c, q, t0, &e, &why), HR_CACHE_USE_NONE);
  cr_expect_str_eq(why, "miss");
  hr_headers h;
  resp(&h, "Cache-Control: max-age=60", dline);
  cr_expect_eq(hr_cache_on_response(c, q, 200, &h, "hello", 5, t0, t0, &why, NULL),
               1);
  hr_headers_free(&h);

  cr_assert_eq(hr_cache_lookup(c, q, t0 + 10000, &e, &why), HR_CACHE_USE_FRESH);
  cr_expect_str_eq(e->e.body, "hello");
  hr_headers served;
  hr_headers_init(&served);
  cr_assert(hr_cache_served_headers(&e->e, t0 + 10000, &served) == 0);
  cr_expect_str_eq(hr_headers_get(&served, "Age"), "10");
  hr_headers_free(&served);
  hr_stored_unref(e);

  /* HEAD is served from the GET entry; a HEAD answer never stores. */
  httpresp_request *hq = req("HEAD", "http://a.example/r", NULL);
  cr_expect_eq(hr_cache_lookup(c, hq, t0 + 10000, &e, &why),
               HR_CACHE_USE_FRESH);
  hr_stored_unref(e);
  resp(&h, "Cache-Control: no-store", NULL);
  cr_expect_eq(hr_cache_on_response(c, hq, 200, &h, NULL, 0, t0, t0, &why, NULL), 0);
  hr_headers_free(&h);
  httpresp_request_free(hq);
  cr_expect_eq(hr_cache_lookup(c, q, t0 + 10000, &e, &why), HR_CACHE_USE_FRESH);
  hr_stored_unref(e);

  /* A 5xx does not wipe the stored answer; a no-store 200 does. */
  resp(&h, NULL, NULL);
  cr_expect_eq(hr_cache_on_response(c, q, 503, &h, "", 0, t0, t0, &why, NULL), 0);
  cr_expect_eq(hr_cache_lookup(c, q, t0 + 10000, &e, &why), HR_CACHE_USE_FRESH);
  hr_stored_unref(e);
  hr_headers_free(&h);
  resp(&h, "Cache-Control: no-store", NULL);
  cr_expect_eq(hr_cache_on_response(c, q, 200, &h, "x", 1, t0, t0, &why, NULL), 0);
  cr_expect_str_eq(why, "no-store");
  hr_headers_free(&h);
  cr_expect_eq(hr_cache_lookup(c, q, t0 + 10000, &e, &why), HR_CACHE_USE_NONE);

  /* only-if-cached with nothing stored. */
  httpresp_request *oq =
      req("GET", "http://a.example/r", "Cache-Control: only-if-cached");
  cr_expect_eq(hr_cache_lookup(c, oq, t0, &e, &why), HR_CACHE_USE_NOT_CACHED);
  httpresp_request_free(oq);

  /* Stale with a validator: revalidate, then a 304 refreshes it. */
  resp(&h, "Cache-Control: max-age=1", "ETag: \"v1\"");
  cr_expect_eq(hr_cache_on_response(c, q, 200, &h, "etagged", 7, t0, t0, &why, NULL),
               1);
  hr_headers_free(&h);
  cr_assert_eq(hr_cache_lookup(c, q, t0 + 5000, &e, &why),
               HR_CACHE_USE_REVALIDATE);
  hr_headers cq;
  hr_headers_init(&cq);
  cr_assert(hr_cache_conditionals(&e->e, &cq) == 0);
  cr_expect_str_eq(hr_headers_get(&cq, "If-None-Match"), "\"v1\"");
  resp(&h, "ETag: \"v1\"", "Cache-Control: max-age=100");
  cr_assert(hr_cache_304_selects(&e->e, &h));
  hr_cache_entry m;
  cr_assert(hr_cache_on_304(c, q, e, 1, &h, t0 + 5000, t0 + 5000, &m) == 0);
  cr_expect_str_eq(hr_headers_get(&m.headers, "Cache-Control"), "max-age=100");
  hr_cache_entry_free(&m);
  hr_headers_free(&h);
  hr_stored_unref(e);
  hr_headers_free(&cq);
  cr_assert_eq(hr_cache_lookup(c, q, t0 + 50000, &e, &why), HR_CACHE_USE_FRESH);
  cr_expect_str_eq(e->e.body, "etagged");
  hr_stored_unref(e);

  /* Unsafe method invalidation: the request URL and same-origin Location. */
  httpresp_request *pq = req("POST", "http://a.example/post", NULL);
  resp(&h, "Location: /r", NULL);
  hr_cache_on_unsafe(c, pq, 201, &h);
  hr_headers_free(&h);
  httpresp_request_free(pq);
  cr_expect_eq(hr_cache_lookup(c, q, t0 + 50000, &e, &why), HR_CACHE_USE_NONE);
  httpresp_request_free(q);
  bcache_close(&bc);
}

/* RFC 9111 §4.3.4: a 304 refreshes what is stored; it never brings back an
 * entry that was evicted or removed while the request was out. */
ParameterizedTestParameters(conformance, refresh_after_eviction_stays_gone) {
  static backend all[] = {B_MEMORY, B_DISK, B_CUSTOM_V1, B_CUSTOM_V2, B_REDIS};
  return cr_make_param_array(backend, all, sizeof(all) / sizeof(all[0]));
}
ParameterizedTest(backend *b, conformance, refresh_after_eviction_stays_gone) {
  bcache bc;
  bcache_open(&bc, *b, 1 << 20);
  httpresp_cache *c = bc.c;
  httpresp_request *q = req("GET", "http://a.example/e", NULL);
  hr_headers h;
  resp(&h, "Cache-Control: max-age=1", "ETag: \"v1\"");
  const char *why;
  cr_assert_eq(hr_cache_on_response(c, q, 200, &h, "old", 3, 0, 0, &why, NULL), 1);
  hr_headers_free(&h);
  hr_stored *e;
  cr_assert_eq(hr_cache_lookup(c, q, 5000, &e, &why), HR_CACHE_USE_REVALIDATE);
  /* Meanwhile the entry goes (evicted, or removed by another request). */
  hr_key k;
  cr_assert(hr_cache_request_key(q, &k) == 0);
  cr_assert(hr_store_del(hr_cache_store(c), &k) == 0);
  hr_key_free(&k);
  resp(&h, "ETag: \"v1\"", "Cache-Control: max-age=100");
  hr_cache_entry m;
  cr_assert(hr_cache_on_304(c, q, e, 1, &h, 5000, 5000, &m) == 0);
  hr_headers_free(&h);
  cr_expect_str_eq(m.body, "old"); /* the answer is still served once... */
  hr_cache_entry_free(&m);
  hr_stored_unref(e);
  hr_stored *again;
  cr_expect_eq(hr_cache_lookup(c, q, 6000, &again, &why), HR_CACHE_USE_NONE,
               "%s: ...but not stored again", backend_names[*b]);
  cr_expect_null(again);

  /* A 304 that selects nothing removes what was stored. */
  resp(&h, "Cache-Control: max-age=1", "ETag: \"v2\"");
  cr_assert_eq(hr_cache_on_response(c, q, 200, &h, "v2", 2, 0, 0, &why, NULL), 1);
  hr_headers_free(&h);
  cr_assert_eq(hr_cache_lookup(c, q, 5000, &e, &why), HR_CACHE_USE_REVALIDATE);
  resp(&h, "ETag: \"v3\"", NULL);
  cr_assert(hr_cache_on_304(c, q, e, 0, &h, 5000, 5000, NULL) == 0);
  hr_headers_free(&h);
  hr_stored_unref(e);
  cr_expect_eq(hr_cache_lookup(c, q, 5000, &again, &why), HR_CACHE_USE_NONE);
  httpresp_request_free(q);
  bcache_close(&bc);
}

/* Byte stores only: what comes back is verified before it is used. */
ParameterizedTestParameters(conformance, damaged_or_foreign_bytes_are_a_miss) {
  static backend bytes[] = {B_CUSTOM_V1, B_CUSTOM_V2};
  return cr_make_param_array(backend, bytes, sizeof(bytes) / sizeof(bytes[0]));
}
ParameterizedTest(backend *b, conformance,
                  damaged_or_foreign_bytes_are_a_miss) {
  bcache bc;
  bcache_open(&bc, *b, 1 << 20);
  const hr_store *st = hr_cache_store(bc.c);
  map_store *f = bc.map;
  hr_put_how plain = {0, 0};
  hr_key k, y;
  key_of(&k, "GET", "http://a.example/x", NULL);
  key_of(&y, "GET", "http://a.example/y", NULL);
  hr_cache_entry e;
  sample_entry(&e, &k, "body");
  cr_assert(hr_store_put(st, &k, &e, &plain) == 0);
  cr_expect_str_eq(f->last_key, "");
  expect_entry(st, &k, "body", *b);
  cr_expect_str_eq(f->last_key, "http://a.example/x");

  /* Damaged bytes from the store: a miss, and the entry is removed. */
  f->corrupt = 1;
  int dels = f->dels;
  expect_entry(st, &k, NULL, *b);
  cr_expect_eq(f->dels, dels + 1);
  cr_expect_eq(f->n, 0u);
  f->corrupt = 0;

  /* A sound entry stored under another key: a miss too, and removed. */
  cr_assert(hr_store_put(st, &k, &e, &plain) == 0);
  free(f->v[0].key);
  f->v[0].key = strdup("http://a.example/y");
  expect_entry(st, &y, NULL, *b);
  cr_expect_eq(f->n, 0u);
  hr_cache_entry_free(&e);
  hr_key_free(&k);
  hr_key_free(&y);
  bcache_close(&bc);
}

Test(cache, bundled_constructors_refuse_bad_arguments) {
  httpresp_cache *c;
  cr_expect_eq(httpresp_cache_new_memory(&c, 0), HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_cache_new_memory(NULL, 10), HTTPRESP_E_INVALID_ARG);
  cr_expect_eq(httpresp_cache_new_disk(&c, NULL, 10), HTTPRESP_E_INVALID_ARG);
}

/* ---- origin state: the in-process backend behind its vtable -------------- */

Test(origin_state, local_backend_get_and_raise) {
  hr_origins o;
  cr_assert_eq(hr_origins_new_local(&o), 0);
  const int64_t now = 1000000;
  cr_expect_eq(o.vt->any(o.impl), 0);
  cr_expect_eq(o.vt->get(o.impl, "http://a:80", now), 0);
  cr_expect_eq(o.vt->raise(o.impl, "http://a:80", now, 5000, 429), 0);
  cr_expect_neq(o.vt->any(o.impl), 0);
  cr_expect_eq(o.vt->get(o.impl, "http://a:80", now), now + 5000);
  cr_expect_eq(o.vt->get(o.impl, "http://b:80", now), 0, "per origin");
  /* A shorter delay never lowers it; a longer one raises it. */
  cr_expect_eq(o.vt->raise(o.impl, "http://a:80", now, 1000, 429), 0);
  cr_expect_eq(o.vt->get(o.impl, "http://a:80", now), now + 5000);
  cr_expect_eq(o.vt->raise(o.impl, "http://a:80", now + 1000, 9000, 429), 0);
  cr_expect_eq(o.vt->get(o.impl, "http://a:80", now), now + 10000);
  /* Past its time it no longer holds; a delay of 0 or less adds nothing. */
  cr_expect_eq(o.vt->get(o.impl, "http://a:80", now + 10000), 0);
  cr_expect_eq(o.vt->raise(o.impl, "http://c:80", now, 0, 429), 0);
  cr_expect_eq(o.vt->get(o.impl, "http://c:80", now - 1), 0);
  o.vt->destroy(o.impl);
}

/* `any` (read without the lock before every request) follows what is
 * remembered: a raise that adds nothing leaves it off, forgetting the last
 * origin turns it off again. */
Test(origin_state, local_backend_any_follows_raise_and_forget) {
  hr_origins o;
  cr_assert_eq(hr_origins_new_local(&o), 0);
  const int64_t now = 1000000;
  cr_expect_eq(o.vt->raise(o.impl, "http://a:80", now, 0, 429), 0);
  cr_expect_eq(o.vt->any(o.impl), 0, "a delay of 0 remembers nothing");
  cr_expect_eq(o.vt->raise(o.impl, "http://a:80", now, 5000, 429), 0);
  cr_expect_eq(o.vt->raise(o.impl, "http://b:80", now, 5000, 503), 0);
  cr_expect_neq(o.vt->any(o.impl), 0);
  o.vt->forget(o.impl, "http://a:80");
  cr_expect_neq(o.vt->any(o.impl), 0, "b is still remembered");
  o.vt->forget(o.impl, "http://b:80");
  cr_expect_eq(o.vt->any(o.impl), 0);
  cr_expect_eq(o.vt->raise(o.impl, "http://c:80", now, 5000, 429), 0);
  cr_expect_neq(o.vt->any(o.impl), 0);
  o.vt->forget(o.impl, NULL);
  cr_expect_eq(o.vt->any(o.impl), 0, "forgetting every origin");
  o.vt->destroy(o.impl);
}

/* RFC 9111 §4.1 on every backend: the variants of one URL are kept side by
 * side, at most HR_VARIANTS_MAX, the least recently used going first; a 304
 * refreshes the variant it validated; an unsafe method removes them all. */
static void store_lang(httpresp_cache *c, const char *lang, int64_t t0) {
  char line[64];
  snprintf(line, sizeof(line), "Accept-Language: %s", lang);
  httpresp_request *q = req("GET", "http://a.example/v", line);
  hr_headers h;
  resp(&h, "Cache-Control: max-age=60", "Vary: accept-language");
  hr_headers_add(&h, "ETag", 4, lang, strlen(lang));
  const char *why;
  cr_expect_eq(hr_cache_on_response(c, q, 200, &h, lang, strlen(lang), t0, t0,
                                    &why, NULL),
               1, "%s: %s", lang, why);
  hr_headers_free(&h);
  httpresp_request_free(q);
}

/* The body served for `lang` at `now`, or NULL on a miss. */
static char *lookup_lang(httpresp_cache *c, const char *lang, int64_t now,
                         hr_cache_use want_hit) {
  char line[64];
  snprintf(line, sizeof(line), "Accept-Language: %s", lang);
  httpresp_request *q = req("GET", "http://a.example/v", line);
  hr_stored *e = NULL;
  const char *why;
  hr_cache_use use = hr_cache_lookup(c, q, now, &e, &why);
  char *body = NULL;
  if (use == want_hit)
    body = strdup(e->e.body);
  hr_stored_unref(e);
  httpresp_request_free(q);
  return body;
}

static void expect_lang(httpresp_cache *c, const char *lang, int64_t now,
                        const char *want, backend b) {
  char *got = lookup_lang(c, lang, now, HR_CACHE_USE_FRESH);
  if (want)
    cr_expect_str_eq(got ? got : "(miss)", want, "%s: %s", backend_names[b],
                     lang);
  else
    cr_expect_null(got, "%s: %s still stored", backend_names[b], lang);
  free(got);
}

ParameterizedTestParameters(conformance, variants_side_by_side) {
  static backend all[] = {B_MEMORY, B_DISK, B_CUSTOM_V1, B_CUSTOM_V2, B_REDIS};
  return cr_make_param_array(backend, all, sizeof(all) / sizeof(all[0]));
}
ParameterizedTest(backend *b, conformance, variants_side_by_side) {
  bcache bc;
  bcache_open(&bc, *b, 1 << 20);
  httpresp_cache *c = bc.c;
  const int64_t t0 = INT64_C(1700000000000);
  static const char *const langs[] = {"l0", "l1", "l2", "l3", "l4",
                                      "l5", "l6", "l7", "l8"};
  for (int i = 0; i < HR_VARIANTS_MAX; i++)
    store_lang(c, langs[i], t0);
  for (int i = 0; i < HR_VARIANTS_MAX; i++)
    expect_lang(c, langs[i], t0 + 1000, langs[i], *b);
  /* Normalised: case and whitespace of Accept-Language do not count. */
  expect_lang(c, " L3 ", t0 + 1000, "l3", *b);
  expect_lang(c, "l9", t0 + 1000, NULL, *b);
  if (*b == B_CUSTOM_V2)
    cr_expect_neq(bc.map->last_variant, 0u, "a v2 store gets variant ids");
  /* l0 was used again last but for l1..l7 and l3: the ninth variant pushes
   * out the least recently used, l1.  (Redis orders its index by expiry,
   * not by use, and these all expire in the same second.) */
  if (*b != B_REDIS) {
    expect_lang(c, "l0", t0 + 1000, "l0", *b);
    store_lang(c, langs[8], t0);
    expect_lang(c, "l1", t0 + 1000, NULL, *b);
    expect_lang(c, "l0", t0 + 1000, "l0", *b);
    expect_lang(c, "l8", t0 + 1000, "l8", *b);
  }

  /* Stale: a 304 for l2 refreshes l2 only. */
  int64_t later = t0 + 120000;
  char line[64] = "Accept-Language: l2";
  httpresp_request *q = req("GET", "http://a.example/v", line);
  hr_stored *e = NULL;
  const char *why;
  cr_assert_eq(hr_cache_lookup(c, q, later, &e, &why), HR_CACHE_USE_REVALIDATE);
  hr_headers h;
  resp(&h, "ETag: l2", "Cache-Control: max-age=600");
  hr_304_sel sel = hr_cache_304_selects(&e->e, &h);
  cr_expect_eq(sel, HR_304_UPDATE);
  hr_cache_entry m;
  cr_assert(hr_cache_on_304(c, q, e, sel, &h, later, later, &m) == 0);
  hr_cache_entry_free(&m);
  hr_headers_free(&h);
  hr_stored_unref(e);
  httpresp_request_free(q);
  expect_lang(c, "l2", later + 1000, "l2", *b);
  char *l4 = lookup_lang(c, "l4", later + 1000, HR_CACHE_USE_REVALIDATE);
  cr_expect_str_eq(l4 ? l4 : "(not stale)", "l4", "%s: l4 untouched",
                   backend_names[*b]);
  free(l4);

  /* An unsafe method removes every variant. */
  httpresp_request *pq = req("POST", "http://a.example/v", NULL);
  resp(&h, NULL, NULL);
  hr_cache_on_unsafe(c, pq, 200, &h);
  hr_headers_free(&h);
  httpresp_request_free(pq);
  for (int i = 0; i < 9; i++) {
    char *got = lookup_lang(c, langs[i], later + 1000, HR_CACHE_USE_REVALIDATE);
    cr_expect_null(got, "%s: %s survived the POST", backend_names[*b],
                   langs[i]);
    free(got);
  }
  if (bc.map)
    cr_expect_eq(bc.map->n, 0u, "%s: nothing left behind", backend_names[*b]);
  bcache_close(&bc);
}
