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
 * File: "HRDS", u32 version, u32 key length, u32 0, u64 data length,
 *       u64 checksum, key, data (integers little-endian).
 * Names: 16 hex digits of the key's 64-bit FNV-1a hash, then ".hrc";
 *        temp files ".hrtmp-XXXXXX".  Nothing else in the directory is
 *        touched. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
/* A scan looks at this many names at most, so that a directory somebody
 * filled with junk cannot make one put take forever. */
#define SCAN_MAX 262144u

typedef struct dstore {
  pthread_mutex_t lock;      /* guards total */
  pthread_mutex_t scan_lock; /* one scan at a time in this process */
  char *dir;
  size_t dirlen;
  size_t max_bytes;
  size_t total; /* estimate of the bytes in entry files */
  unsigned flags;
} dstore;

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

static void total_sub(dstore *s, size_t n) {
  pthread_mutex_lock(&s->lock);
  s->total = s->total > n ? s->total - n : 0;
  pthread_mutex_unlock(&s->lock);
}

/* Unlinks `path` if it still names the file open as `fd`. */
static void unlink_if_same(dstore *s, const char *path, int fd) {
  struct stat a, b;
  if (fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev &&
      a.st_ino == b.st_ino && unlink(path) == 0)
    total_sub(s, (size_t)b.st_size);
}

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
  struct stat st;
  int rc = 0;
  if (lstat(path, &st) == 0) {
    if (unlink(path) == 0)
      total_sub(s, (size_t)st.st_size);
    else if (errno != ENOENT)
      rc = -errno; /* the cause, for the response's cache reason */
  }
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
  int rc = HTTPRESP_E_NOMEM;
  if (!tmp || !path)
    goto out;
  rc = HTTPRESP_E_CACHE_IO;
  int fd = mkstemp(tmp);
  if (fd < 0) {
    rc = errno ? -errno : rc;
    goto out;
  }
  int ok = write_all(fd, h, HEADER_LEN) == 0 && write_all(fd, key, klen) == 0 &&
           write_all(fd, data, len) == 0 &&
           (!(s->flags & HR_STORE_DISK_FSYNC) || fsync(fd) == 0);
  if (close(fd) != 0)
    ok = 0;
  struct stat old;
  int had_old = ok && lstat(path, &old) == 0;
  if (!ok || rename(tmp, path) != 0) {
    rc = errno ? -errno : rc;
    unlink(tmp);
    goto out;
  }
  if (s->flags & HR_STORE_DISK_FSYNC)
    sync_dir(s);
  rc = 0;
  pthread_mutex_lock(&s->lock);
  if (had_old)
    s->total =
        s->total > (size_t)old.st_size ? s->total - (size_t)old.st_size : 0;
  s->total = s->total > SIZE_MAX - fsize ? SIZE_MAX : s->total + fsize;
  int over = s->total > s->max_bytes;
  pthread_mutex_unlock(&s->lock);
  if (over)
    hr_store_disk_scan(s, TEMP_AGE_SEC);
out:
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

int hr_store_disk_scan(void *store, int64_t temp_age_sec) {
  dstore *s = store;
  if (!s)
    return HTTPRESP_E_INVALID_ARG;
  if (pthread_mutex_trylock(&s->scan_lock) != 0)
    return 0; /* another thread of ours is at it */
  DIR *d = opendir(s->dir);
  if (!d) {
    pthread_mutex_unlock(&s->scan_lock);
    return HTTPRESP_E_CACHE_IO;
  }
  int dfd = dirfd(d);
  time_t now = time(NULL);
  scanned *v = NULL;
  size_t n = 0, cap = 0, total = 0, seen = 0;
  int rc = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL && seen++ < SCAN_MAX) {
    struct stat st;
    if (strncmp(de->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0) {
      /* A writer killed mid-way left it; live writers rename within
       * moments, so an old one is an orphan. */
      if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG(st.st_mode) && (int64_t)(now - st.st_mtime) > temp_age_sec)
        unlinkat(dfd, de->d_name, 0);
      continue;
    }
    if (!is_entry_name(de->d_name) ||
        fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode))
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
    v[n].mtime = st.st_mtim;
    v[n].size = (size_t)st.st_size;
    memcpy(v[n].name, de->d_name, NAME_LEN + 1);
    total += v[n].size;
    n++;
  }
  if (!rc && total > s->max_bytes) {
    /* Evict to 90% of the bound so that the next puts do not each pay
     * for a scan. */
    size_t target = s->max_bytes - s->max_bytes / 10;
    qsort(v, n, sizeof(*v), older);
    for (size_t i = 0; i < n && total > target; i++)
      if (unlinkat(dfd, v[i].name, 0) == 0 || errno == ENOENT)
        total -= v[i].size;
  }
  closedir(d);
  free(v);
  if (!rc) {
    pthread_mutex_lock(&s->lock);
    s->total = total;
    pthread_mutex_unlock(&s->lock);
  }
  pthread_mutex_unlock(&s->scan_lock);
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
  pthread_mutex_destroy(&s->scan_lock);
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
  if (pthread_mutex_init(&s->scan_lock, NULL) != 0) {
    pthread_mutex_destroy(&s->lock);
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
  pthread_mutex_lock(&s->lock);
  size_t t = s->total;
  pthread_mutex_unlock(&s->lock);
  return t;
}
