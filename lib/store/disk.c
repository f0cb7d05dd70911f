/* SPDX-License-Identifier: MIT */
/* Directory store: one file per key, shared safely by threads and
 * processes.
 *
 * Files are never written in place.  A writer fills a mkstemp file in the
 * same directory and rename()s it over the entry's name, which is atomic:
 * a reader that opened the old file keeps reading the old file, one that
 * opens afterwards gets the whole new one.  What a reader gets is still
 * verified (magic, exact size, key, checksum), because disks, crashes and
 * other programs produce garbage too; garbage reads as a miss and is
 * unlinked, but only if the name still points at the file that was read,
 * so a good file renamed in meanwhile survives.
 *
 * The byte bound is the directory's, whatever the number of processes:
 * entry files plus temp files never add up to more than max_bytes (for
 * writers of this version; files others add are counted at the next
 * scan).  The total lives in the directory itself, in ".hrstate", and
 * every change to the directory's contents by a writer happens under an
 * exclusive flock() of that file together with the change to the total:
 *   - a put first reserves its file's full size: under the lock it checks
 *     the total (evicting when the new file would not fit), adds the
 *     reservation, then creates its temp file at full size (ftruncate, so
 *     that a scan counts it exactly as reserved) and flocks it;
 *   - it writes the data without the lock;
 *   - under the lock again it renames and moves the reservation to the
 *     entry bytes, minus the file it replaced.
 * Reads take no lock (only the removal of a damaged file does), so they
 * are never serialised.  A writer SIGKILLed at any point leaves the total
 * too high at worst (a reservation whose temp file is gone, a replaced
 * file still counted), never too low, so the bound still holds; too high
 * makes the next put scan, and a scan recounts everything under the lock.
 * A temp file whose flock is free belongs to a killed writer: a scan
 * removes it once it is a few seconds old (an older version's writer
 * does not lock), and any temp file older than the scan's age threshold.
 *
 * File: "HRDS", u32 version, u32 key length, u32 0, u64 data length,
 *       u64 checksum, key, data (integers little-endian).
 * State: "HRDT", u32 version, u64 entry bytes, u64 temp bytes, u64
 *        checksum of the first 24 bytes; anything else is recounted.
 * Names: 16 hex digits of the key's 64-bit FNV-1a hash, then ".hrc";
 *        temp files ".hrtmp-XXXXXX"; the state ".hrstate".  Nothing else
 *        in the directory is touched. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/codec.h"
#include "store.h"

#define MAGIC "HRDS"
#define FORMAT_VERSION 1u
#define HEADER_LEN 32u
#define KEY_MAX ((size_t)1 << 20)
#define NAME_LEN 20u /* 16 hex digits + ".hrc" */
#define TEMP_PREFIX ".hrtmp-"
#define TEMP_AGE_SEC 60
/* An unlocked temp file this old has no live writer of this version; the
 * delay spares the writers of older versions, which do not lock. */
#define UNLOCKED_TEMP_AGE_SEC 2
#define STATE_NAME ".hrstate"
#define STATE_MAGIC "HRDT"
#define STATE_LEN 32u
/* A scan looks at this many names at most, so that a directory somebody
 * filled with junk cannot make one put take forever. */
#define SCAN_MAX 262144u

typedef struct dstore {
  pthread_mutex_t lock; /* guards total */
  char *dir;
  size_t dirlen;
  size_t max_bytes;
  size_t total; /* entry bytes as last read from or written to the state */
  unsigned flags;
} dstore;

/* The directory's accounting, as kept in STATE_NAME. */
typedef struct dstate {
  uint64_t entries; /* bytes in entry files */
  uint64_t temps;   /* bytes reserved by temp files */
} dstate;

/* Covers key and data; a change in either changes its own term, and the
 * multiplication by an odd constant keeps that visible in the sum. */
static uint64_t file_checksum(const char *key, size_t klen, const void *data,
                              size_t dlen) {
  return hr_cache_checksum(key, klen) ^
         (hr_cache_checksum(data, dlen) * UINT64_C(0x9e3779b97f4a7c15));
}

/* Unkeyed on purpose: every process must derive the same name.  A
 * collision only costs a miss, since the key is checked on read. */
static uint64_t name_hash(const char *key) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (; *key; key++) {
    h ^= (unsigned char)*key;
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

/* dir + "/" + name; malloc'd. */
static char *path_of(const dstore *s, const char *name) {
  size_t n = strlen(name);
  char *p = malloc(s->dirlen + 1 + n + 1);
  if (!p)
    return NULL;
  memcpy(p, s->dir, s->dirlen);
  p[s->dirlen] = '/';
  memcpy(p + s->dirlen + 1, name, n + 1);
  return p;
}

static char *entry_path(const dstore *s, const char *key) {
  char name[NAME_LEN + 1];
  snprintf(name, sizeof(name), "%016llx.hrc",
           (unsigned long long)name_hash(key));
  return path_of(s, name);
}

static int is_entry_name(const char *n) {
  if (strlen(n) != NAME_LEN || strcmp(n + 16, ".hrc") != 0)
    return 0;
  for (int i = 0; i < 16; i++)
    if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
      return 0;
  return 1;
}

static int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *data, size_t len) {
  char *p = data;
  while (len) {
    ssize_t r = read(fd, p, len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    p += r;
    len -= (size_t)r;
  }
  return 0;
}

/* ---- the directory's accounting --------------------------------------- */

/* Takes the directory's lock: the state file, flocked with `op`.  Opened
 * per call rather than kept open, because a flock belongs to the open file
 * description and a fork() would share that with the child.  Read-only
 * (flock needs no write access) when the directory cannot be written.
 * Returns the descriptor, or -1 (errno set): then nothing is written. */
static int lock_dir(const dstore *s, int op) {
  char *path = path_of(s, STATE_NAME);
  if (!path) {
    errno = ENOMEM;
    return -1;
  }
  const int fl = O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  int fd = open(path, O_RDWR | O_CREAT | fl, 0600);
  if (fd < 0 && (errno == EROFS || errno == EACCES))
    fd = open(path, O_RDONLY | fl);
  free(path);
  if (fd < 0)
    return -1;
  struct stat st;
  int r = fstat(fd, &st);
  if (r == 0 && !S_ISREG(st.st_mode)) {
    errno = EINVAL; /* a FIFO or device under our name: not ours */
    r = -1;
  }
  while (r == 0 && (r = flock(fd, op)) != 0 && errno == EINTR)
    r = 0;
  if (r != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static void unlock_dir(int lfd) {
  if (lfd >= 0) {
    int e = errno;
    close(lfd); /* drops the flock */
    errno = e;
  }
}

static void known_total(dstore *s, uint64_t entries) {
  pthread_mutex_lock(&s->lock);
  s->total = (uint64_t)(size_t)entries == entries ? (size_t)entries : SIZE_MAX;
  pthread_mutex_unlock(&s->lock);
}

/* 0 with the state, or -1 when it is missing or damaged (recount). */
static int state_read(dstore *s, int lfd, dstate *st) {
  unsigned char b[STATE_LEN];
  ssize_t r;
  while ((r = pread(lfd, b, STATE_LEN, 0)) < 0 && errno == EINTR)
    ;
  if (r != (ssize_t)STATE_LEN || memcmp(b, STATE_MAGIC, 4) != 0 ||
      hr_get_le32(b + 4) != FORMAT_VERSION ||
      hr_get_le64(b + 24) != hr_cache_checksum(b, 24))
    return -1;
  st->entries = hr_get_le64(b + 8);
  st->temps = hr_get_le64(b + 16);
  known_total(s, st->entries);
  return 0;
}

static int state_write(dstore *s, int lfd, const dstate *st) {
  unsigned char b[STATE_LEN];
  memcpy(b, STATE_MAGIC, 4);
  hr_put_le32(b + 4, FORMAT_VERSION);
  hr_put_le64(b + 8, st->entries);
  hr_put_le64(b + 16, st->temps);
  hr_put_le64(b + 24, hr_cache_checksum(b, 24));
  known_total(s, st->entries);
  ssize_t r;
  while ((r = pwrite(lfd, b, STATE_LEN, 0)) < 0 && errno == EINTR)
    ;
  return r == (ssize_t)STATE_LEN ? 0 : -1;
}

static uint64_t sub_floor0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

/* entries + temps + need <= max, without overflowing on a state another
 * program wrote. */
static int fits(const dstore *s, const dstate *st, uint64_t need) {
  uint64_t max = s->max_bytes;
  return st->entries <= max && st->temps <= max - st->entries &&
         need <= max - st->entries - st->temps;
}

/* Under the lock `lfd` (or none: -1), unlinks the regular file `path` and
 * takes it off the total; with `same`, only if `path` still names that
 * file.  0, or -1 with errno when the file is there and stays. */
static int remove_locked(dstore *s, int lfd, const char *path,
                         const struct stat *same) {
  struct stat b;
  if (lstat(path, &b) != 0)
    return errno == ENOENT ? 0 : -1;
  if (same && (same->st_dev != b.st_dev || same->st_ino != b.st_ino))
    return 0;
  if (unlink(path) != 0)
    return errno == ENOENT ? 0 : -1;
  dstate st;
  /* A damaged state stays damaged: the next put recounts. */
  if (lfd >= 0 && S_ISREG(b.st_mode) && state_read(s, lfd, &st) == 0) {
    st.entries = sub_floor0(st.entries, (uint64_t)b.st_size);
    state_write(s, lfd, &st);
  }
  return 0;
}

/* Unlinks `path` if it still names the file open as `fd`. */
static void unlink_if_same(dstore *s, const char *path, int fd) {
  struct stat a;
  if (fstat(fd, &a) != 0)
    return;
  int lfd = lock_dir(s, LOCK_EX);
  remove_locked(s, lfd, path, &a);
  unlock_dir(lfd);
}

static int scan_locked(dstore *s, int lfd, int64_t temp_age_sec, uint64_t need,
                       dstate *out);

/* ---- get / del -------------------------------------------------------- */

typedef enum { READ_OK, READ_MISS, READ_BAD, READ_NOMEM } read_result;

static read_result read_entry(dstore *s, int fd, const char *key, void **data,
                              size_t *len) {
  struct stat st;
  unsigned char h[HEADER_LEN];
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return READ_BAD;
  if ((uint64_t)st.st_size < HEADER_LEN || read_all(fd, h, HEADER_LEN) != 0 ||
      memcmp(h, MAGIC, 4) != 0 || hr_get_le32(h + 4) != FORMAT_VERSION)
    return READ_BAD;
  uint64_t klen = hr_get_le32(h + 8), dlen = hr_get_le64(h + 16);
  if (klen == 0 || klen > KEY_MAX || hr_get_le32(h + 12) != 0 ||
      dlen > (uint64_t)st.st_size ||
      (uint64_t)st.st_size != HEADER_LEN + klen + dlen)
    return READ_BAD;
  if (dlen > s->max_bytes)
    return READ_MISS; /* another process's larger bound: not ours to judge */
  char *k = malloc((size_t)klen);
  char *d = malloc(dlen ? (size_t)dlen : 1);
  read_result rr = READ_NOMEM;
  if (k && d) {
    rr = READ_BAD;
    if (read_all(fd, k, (size_t)klen) == 0 &&
        read_all(fd, d, (size_t)dlen) == 0 &&
        hr_get_le64(h + 24) == file_checksum(k, (size_t)klen, d, (size_t)dlen)) {
      /* A sound file under our name for another key: a hash collision. */
      rr = (strlen(key) == klen && memcmp(k, key, (size_t)klen) == 0)
               ? READ_OK
               : READ_MISS;
    }
  }
  free(k);
  if (rr == READ_OK) {
    *data = d;
    *len = (size_t)dlen;
  } else {
    free(d);
  }
  return rr;
}

static int d_get(void *store, const char *key, void **data, size_t *len) {
  dstore *s = store;
  if (!s || !key || !data || !len)
    return HTTPRESP_E_INVALID_ARG;
  *data = NULL;
  *len = 0;
  char *path = entry_path(s, key);
  if (!path)
    return HTTPRESP_E_NOMEM;
  /* O_NONBLOCK: a FIFO under an entry name must not block the open; the
   * regular-file check below then refuses it. */
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (e == ELOOP)
      unlink(path); /* a symlink is never ours: foreign, so removed */
    free(path);
    return e == ENOENT || e == ELOOP ? 1 : HTTPRESP_E_CACHE_IO;
  }
  read_result rr = read_entry(s, fd, key, data, len);
  if (rr == READ_BAD)
    unlink_if_same(s, path, fd);
  else if (rr == READ_OK)
    futimens(fd, NULL); /* recently used: last to be evicted */
  close(fd);
  free(path);
  return rr == READ_OK ? 0 : rr == READ_NOMEM ? HTTPRESP_E_NOMEM : 1;
}

static int d_del(void *store, const char *key) {
  dstore *s = store;
  if (!s || !key)
    return HTTPRESP_E_INVALID_ARG;
  char *path = entry_path(s, key);
  if (!path)
    return HTTPRESP_E_NOMEM;
  int lfd = lock_dir(s, LOCK_EX);
  int rc = 0;
  if (remove_locked(s, lfd, path, NULL) != 0)
    rc = errno ? -errno : HTTPRESP_E_CACHE_IO; /* the cause, for the
                                                   response's cache reason */
  unlock_dir(lfd);
  free(path);
  return rc;
}

/* ---- put -------------------------------------------------------------- */

static void sync_dir(const dstore *s) {
  int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

/* Under the lock: 0 with the state when `need` more bytes fit (evicting
 * if they did not), 1 when they cannot (temp files of live writers hold
 * the rest), -1 on failure. */
static int make_room(dstore *s, int lfd, uint64_t need, dstate *st) {
  if (state_read(s, lfd, st) == 0 && fits(s, st, need))
    return 0;
  if (scan_locked(s, lfd, TEMP_AGE_SEC, need, st) != 0)
    return -1;
  return fits(s, st, need) ? 0 : 1;
}

/* Reserve: room for the whole file, counted before the temp file exists (a
 * kill in between leaves the total too high, not too low), and a temp file
 * that a scan counts at that size, locked to say its writer lives.  0 and
 * the temp file's descriptor in *fd, or the put's error. */
static int reserve(dstore *s, char *tmp, const char *path, size_t fsize,
                   int *fd) {
  int lfd = lock_dir(s, LOCK_EX);
  if (lfd < 0)
    return errno ? -errno : HTTPRESP_E_CACHE_IO;
  int rc = HTTPRESP_E_CACHE_IO;
  dstate st;
  int room = make_room(s, lfd, fsize, &st);
  if (room > 0) {
    /* Other writers' temp files hold the rest of the bound: this answer
     * is not kept, and the one it supersedes must go. */
    rc = remove_locked(s, lfd, path, NULL) == 0 ? HTTPRESP_E_INVALID_ARG
                                                : HTTPRESP_E_CACHE_IO;
  } else if (room == 0) {
    st.temps += fsize;
    if (state_write(s, lfd, &st) == 0) {
      *fd = mkstemp(tmp);
      if (*fd >= 0 && ftruncate(*fd, (off_t)fsize) == 0 &&
          flock(*fd, LOCK_EX | LOCK_NB) == 0) {
        rc = 0;
      } else {
        int e = errno;
        if (*fd >= 0) {
          unlink(tmp);
          close(*fd);
          *fd = -1;
        }
        st.temps = sub_floor0(st.temps, fsize);
        state_write(s, lfd, &st);
        rc = e ? -e : rc;
      }
    }
  }
  unlock_dir(lfd);
  return rc;
}

/* Commit: the reservation becomes the entry (when `ok`: the temp file was
 * written whole), minus what it replaces.  Without the lock nothing may
 * change: the temp file goes, and its reservation stays counted until a
 * scan (too high is safe).  0 when renamed, else -errno of the failure
 * (`werr` when the write failed). */
static int commit(dstore *s, const char *tmp, const char *path, size_t fsize,
                  int ok, int werr) {
  int lfd = lock_dir(s, LOCK_EX);
  if (lfd < 0) {
    int e = errno;
    unlink(tmp);
    return e ? -e : HTTPRESP_E_CACHE_IO;
  }
  dstate st;
  int known = state_read(s, lfd, &st) == 0;
  struct stat old;
  int had_old = ok && lstat(path, &old) == 0 && S_ISREG(old.st_mode);
  int renamed = ok && rename(tmp, path) == 0;
  if (ok && !renamed)
    werr = errno;
  /* A temp file a scan removed meanwhile is already off the total. */
  int gone = renamed || unlink(tmp) == 0;
  if (!known) {
    scan_locked(s, lfd, TEMP_AGE_SEC, 0, &st);
  } else {
    if (gone)
      st.temps = sub_floor0(st.temps, fsize);
    if (renamed)
      st.entries =
          sub_floor0(st.entries, had_old ? (uint64_t)old.st_size : 0) + fsize;
    state_write(s, lfd, &st);
  }
  unlock_dir(lfd);
  if (renamed)
    return 0;
  return werr ? -werr : HTTPRESP_E_CACHE_IO;
}

static int d_put(void *store, const char *key, const void *data, size_t len) {
  dstore *s = store;
  if (!s || !key || (len && !data))
    return HTTPRESP_E_INVALID_ARG;
  size_t klen = strlen(key);
  if (klen == 0 || klen > KEY_MAX || len > s->max_bytes ||
      HEADER_LEN + klen > s->max_bytes - len) {
    d_del(s, key); /* replaced by something we will not hold */
    return HTTPRESP_E_INVALID_ARG;
  }
  size_t fsize = HEADER_LEN + klen + len;
  unsigned char h[HEADER_LEN];
  memcpy(h, MAGIC, 4);
  hr_put_le32(h + 4, FORMAT_VERSION);
  hr_put_le32(h + 8, (uint32_t)klen);
  hr_put_le32(h + 12, 0);
  hr_put_le64(h + 16, (uint64_t)len);
  hr_put_le64(h + 24, file_checksum(key, klen, data, len));

  char *tmp = path_of(s, TEMP_PREFIX "XXXXXX");
  char *path = entry_path(s, key);
  int rc = HTTPRESP_E_NOMEM, fd = -1;
  if (tmp && path)
    rc = reserve(s, tmp, path, fsize, &fd);
  if (rc == 0) {
    int ok = write_all(fd, h, HEADER_LEN) == 0 &&
             write_all(fd, key, klen) == 0 && write_all(fd, data, len) == 0 &&
             (!(s->flags & HR_STORE_DISK_FSYNC) || fsync(fd) == 0);
    rc = commit(s, tmp, path, fsize, ok, ok ? 0 : errno);
    if (rc == 0 && (s->flags & HR_STORE_DISK_FSYNC))
      sync_dir(s);
  }
  if (fd >= 0)
    close(fd); /* after the rename: the temp file's flock says "alive" */
  free(tmp);
  free(path);
  return rc;
}

/* ---- scanning and eviction -------------------------------------------- */

typedef struct scanned {
  struct timespec mtime;
  size_t size;
  char name[NAME_LEN + 1];
} scanned;

static int older(const void *a, const void *b) {
  const scanned *x = a, *y = b;
  if (x->mtime.tv_sec != y->mtime.tv_sec)
    return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
  if (x->mtime.tv_nsec != y->mtime.tv_nsec)
    return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* Whether a temp file's writer is alive: it holds the file's flock until
 * its rename.  In doubt (cannot open it), alive. */
static int temp_in_use(int dfd, const char *name) {
  int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return errno != ENOENT;
  int busy = flock(fd, LOCK_SH | LOCK_NB) != 0;
  close(fd);
  return busy;
}

/* A temp file met by a scan: removed when its writer is dead (or it is
 * older than `temp_age_sec`), else the bytes it holds for its writer. */
static uint64_t scan_temp(int dfd, const char *name, time_t now,
                          int64_t temp_age_sec) {
  struct stat fs;
  if (fstatat(dfd, name, &fs, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(fs.st_mode))
    return 0;
  int64_t age = (int64_t)(now - fs.st_mtime);
  if ((age > temp_age_sec ||
       (age > UNLOCKED_TEMP_AGE_SEC && !temp_in_use(dfd, name))) &&
      (unlinkat(dfd, name, 0) == 0 || errno == ENOENT))
    return 0;
  return (uint64_t)fs.st_size;
}

/* The scan proper, under the lock `lfd` (-1: none could be had, so the
 * state is not written).  Recounts entry and temp files, removes temp
 * files of killed writers, and when `need` more bytes would not fit,
 * evicts the oldest entries to 90% of the bound minus `need`, so that the
 * next puts do not each pay for a scan. */
static int scan_locked(dstore *s, int lfd, int64_t temp_age_sec, uint64_t need,
                       dstate *out) {
  DIR *d = opendir(s->dir);
  if (!d)
    return HTTPRESP_E_CACHE_IO;
  int dfd = dirfd(d);
  time_t now = time(NULL);
  scanned *v = NULL;
  size_t n = 0, cap = 0, seen = 0;
  dstate st = {0, 0};
  int rc = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL && seen++ < SCAN_MAX) {
    struct stat fs;
    if (strncmp(de->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0) {
      st.temps += scan_temp(dfd, de->d_name, now, temp_age_sec);
      continue;
    }
    if (!is_entry_name(de->d_name) ||
        fstatat(dfd, de->d_name, &fs, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(fs.st_mode))
      continue;
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 256;
      scanned *nv = realloc(v, nc * sizeof(*nv));
      if (!nv) {
        rc = HTTPRESP_E_NOMEM;
        break;
      }
      v = nv;
      cap = nc;
    }
    v[n].mtime = fs.st_mtim;
    v[n].size = (size_t)fs.st_size;
    memcpy(v[n].name, de->d_name, NAME_LEN + 1);
    st.entries += v[n].size;
    n++;
  }
  if (!rc && !fits(s, &st, need)) {
    uint64_t target = s->max_bytes - s->max_bytes / 10;
    target = sub_floor0(target, need);
    if (n)
      qsort(v, n, sizeof(*v), older);
    for (size_t i = 0; i < n && st.entries + st.temps > target; i++)
      if (unlinkat(dfd, v[i].name, 0) == 0 || errno == ENOENT)
        st.entries -= v[i].size;
  }
  closedir(d);
  free(v);
  if (!rc) {
    if (lfd >= 0)
      state_write(s, lfd, &st);
    else
      known_total(s, st.entries);
    *out = st;
  }
  return rc;
}

int hr_store_disk_scan(void *store, int64_t temp_age_sec) {
  dstore *s = store;
  if (!s)
    return HTTPRESP_E_INVALID_ARG;
  int lfd = lock_dir(s, LOCK_EX);
  dstate st;
  int rc = scan_locked(s, lfd, temp_age_sec, 0, &st);
  unlock_dir(lfd);
  return rc;
}

/* ---- life cycle ------------------------------------------------------- */

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    int r = mkdir(path, 0700);
    int e = errno;
    *p = '/';
    if (r != 0 && e != EEXIST)
      return -1;
  }
  if (mkdir(path, 0700) != 0 && errno != EEXIST)
    return -1;
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static void d_destroy(void *store) {
  dstore *s = store;
  if (!s)
    return;
  pthread_mutex_destroy(&s->lock);
  free(s->dir);
  free(s);
}

const httpresp_store_ops hr_store_disk_ops = {HTTPRESP_STORE_VERSION, d_get,
                                              d_put, d_del, d_destroy};

int hr_store_disk_new(void **out, const char *dir, size_t max_bytes,
                      unsigned flags) {
  if (!out)
    return HTTPRESP_E_INVALID_ARG;
  *out = NULL;
  if (!dir || !*dir || max_bytes == 0)
    return HTTPRESP_E_INVALID_ARG;
  dstore *s = calloc(1, sizeof(*s));
  if (!s)
    return HTTPRESP_E_NOMEM;
  s->dir = hr_strdup(dir);
  if (!s->dir) {
    free(s);
    return HTTPRESP_E_NOMEM;
  }
  /* Trailing slashes would double up in every path. */
  s->dirlen = strlen(s->dir);
  while (s->dirlen > 1 && s->dir[s->dirlen - 1] == '/')
    s->dir[--s->dirlen] = '\0';
  s->max_bytes = max_bytes;
  s->flags = flags;
  if (pthread_mutex_init(&s->lock, NULL) != 0) {
    free(s->dir);
    free(s);
    return HTTPRESP_E_NOMEM;
  }
  int rc = make_dirs(s->dir) == 0 ? hr_store_disk_scan(s, TEMP_AGE_SEC)
                                  : HTTPRESP_E_CACHE_IO;
  if (rc) {
    d_destroy(s);
    return rc;
  }
  *out = s;
  return 0;
}

size_t hr_store_disk_bytes(void *store) {
  dstore *s = store;
  int lfd = lock_dir(s, LOCK_SH);
  dstate st;
  if (lfd >= 0)
    state_read(s, lfd, &st); /* refreshes total when sound */
  unlock_dir(lfd);
  pthread_mutex_lock(&s->lock);
  size_t t = s->total;
  pthread_mutex_unlock(&s->lock);
  return t;
}
