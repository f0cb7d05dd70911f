/* SPDX-License-Identifier: MIT */
/* HTTP-date and Retry-After parsing.
 *
 * The calendar arithmetic is done here rather than with mktime/timegm or
 * strptime: those depend on TZ and the locale, are not all thread-safe, and
 * are not in C11.  The day counting is the proleptic Gregorian
 * days-from-civil algorithm (H. Hinnant), exact for every year we accept.
 *
 * Everything reads [s, s + len) only and never allocates, because values
 * come straight from the network. */
#include "httpdate.h"

#include <string.h>

#include "common.h"

#define SECS_PER_DAY 86400

/* 9999-12-31T23:59:59Z + 1 s: the first instant IMF-fixdate cannot write. */
#define EPOCH_YEAR_10000 INT64_C(253402300800)

static const char *const day_short[7] = {"Sun", "Mon", "Tue", "Wed",
                                         "Thu", "Fri", "Sat"};
static const char *const day_long[7] = {"Sunday",    "Monday",   "Tuesday",
                                        "Wednesday", "Thursday", "Friday",
                                        "Saturday"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr",
                                            "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"};

static int is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m) {
  static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30,
                                        31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of y-m-d (m 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil; `z` must be well inside int64 range (it is a
 * number of days, so |z| < 2^47). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* A cursor over the untrusted input: every read is bounds-checked. */
typedef struct cursor {
  const char *p;
  const char *end;
} cursor;

static int lit(cursor *c, char ch) {
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return 1;
  }
  return 0;
}

/* Exactly n decimal digits. */
static int digits(cursor *c, size_t n, int *out) {
  if ((size_t)(c->end - c->p) < n)
    return 0;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = c->p[i];
    if (ch < '0' || ch > '9')
      return 0;
    v = v * 10 + (ch - '0');
  }
  c->p += n;
  *out = v;
  return 1;
}

/* One of `names` (case-insensitive, whole word: the next byte may not be a
 * letter).  Returns its index or -1. */
static int name_of(cursor *c, const char *const *names, int count) {
  size_t avail = (size_t)(c->end - c->p);
  for (int i = 0; i < count; i++) {
    size_t n = strlen(names[i]);
    if (n > avail || !hr_strncaseeq(c->p, names[i], n))
      continue;
    if (n < avail) {
      char next = hr_tolower(c->p[n]);
      if (next >= 'a' && next <= 'z')
        continue;
    }
    c->p += n;
    return i;
  }
  return -1;
}

/* time-of-day = hour ":" minute ":" second, each 2DIGIT. */
static int time_of_day(cursor *c, int64_t *secs) {
  int h, m, s;
  if (!digits(c, 2, &h) || !lit(c, ':') || !digits(c, 2, &m) || !lit(c, ':') ||
      !digits(c, 2, &s))
    return 0;
  /* Second 60 is a leap second; it lands on the next minute's :00. */
  if (h > 23 || m > 59 || s > 60)
    return 0;
  *secs = (int64_t)h * 3600 + (int64_t)m * 60 + s;
  return 1;
}

static int gmt(cursor *c) {
  static const char *const gmt_name[1] = {"GMT"};
  return name_of(c, gmt_name, 1) == 0;
}

/* RFC 9110 §5.6.7: a two-digit year that appears to be more than 50 years
 * in the future is the most recent past year with those digits.  Compared
 * to the second, not just by year, so the window is exactly 100 years. */
static int64_t expand_year(int yy, int mon, int day, int64_t tod,
                           int64_t now_sec) {
  if (now_sec == 0)
    return yy >= 70 ? 1900 + yy : 2000 + yy;
  int64_t ny;
  int nm, nd;
  int64_t nday = floor_div(now_sec, SECS_PER_DAY);
  int64_t ntod = now_sec % SECS_PER_DAY;
  if (ntod < 0)
    ntod += SECS_PER_DAY;
  civil_from_days(nday, &ny, &nm, &nd);
  /* The first year at or after now's with the right last two digits. */
  int64_t y = ny + ((yy - ny % 100) % 100 + 100) % 100;
  /* Is y-mon-day tod later than (ny + 50)-nm-nd ntod? */
  int64_t a = (y * 100 + mon) * 100 + day;
  int64_t b = ((ny + 50) * 100 + nm) * 100 + nd;
  if (a > b || (a == b && tod > ntod))
    y -= 100;
  return y;
}

static int finish(int64_t y, int mon, int day, int64_t tod, int64_t *out) {
  /* Keeps every result in a range where seconds cannot overflow, and
   * matches what hr_httpdate_format can write back. */
  if (y < 0 || y > 9999)
    return -1;
  if (day < 1 || day > days_in_month(y, mon))
    return -1;
  *out = days_from_civil(y, mon, day) * SECS_PER_DAY + tod;
  return 0;
}

int hr_httpdate_parse(const char *s, size_t len, int64_t now_sec,
                      int64_t *epoch_sec) {
  if (!s || !epoch_sec)
    return -1;
  hr_trim_ows(&s, &len);
  cursor c = {s, s + len};
  int day, mon, year;
  int64_t tod, y;

  if (name_of(&c, day_short, 7) >= 0) {
    if (lit(&c, ',')) {
      /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
      if (!lit(&c, ' ') || !digits(&c, 2, &day) || !lit(&c, ' ') ||
          (mon = name_of(&c, month_names, 12)) < 0 || !lit(&c, ' ') ||
          !digits(&c, 4, &year) || !lit(&c, ' ') || !time_of_day(&c, &tod) ||
          !lit(&c, ' ') || !gmt(&c))
        return -1;
      y = year;
    } else {
      /* asctime: "Sun Nov  6 08:49:37 1994"; day is 2DIGIT or SP DIGIT. */
      if (!lit(&c, ' ') || (mon = name_of(&c, month_names, 12)) < 0 ||
          !lit(&c, ' '))
        return -1;
      if (lit(&c, ' ')) {
        if (!digits(&c, 1, &day))
          return -1;
      } else if (!digits(&c, 2, &day)) {
        return -1;
      }
      if (!lit(&c, ' ') || !time_of_day(&c, &tod) || !lit(&c, ' ') ||
          !digits(&c, 4, &year))
        return -1;
      y = year;
    }
  } else if (name_of(&c, day_long, 7) >= 0) {
    /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
    int yy;
    if (!lit(&c, ',') || !lit(&c, ' ') || !digits(&c, 2, &day) ||
        !lit(&c, '-') || (mon = name_of(&c, month_names, 12)) < 0 ||
        !lit(&c, '-') || !digits(&c, 2, &yy) || !lit(&c, ' ') ||
        !time_of_day(&c, &tod) || !lit(&c, ' ') || !gmt(&c))
      return -1;
    y = expand_year(yy, mon + 1, day, tod, now_sec);
  } else {
    return -1;
  }
  if (c.p != c.end)
    return -1;
  return finish(y, mon + 1, day, tod, epoch_sec);
}

static void put2(char *p, int v) {
  p[0] = (char)('0' + v / 10);
  p[1] = (char)('0' + v % 10);
}

int hr_httpdate_format(int64_t epoch_sec, char *buf, size_t buflen) {
  if (!buf || buflen < 30 || epoch_sec < 0 || epoch_sec >= EPOCH_YEAR_10000)
    return -1;
  int64_t days = epoch_sec / SECS_PER_DAY;
  int tod = (int)(epoch_sec % SECS_PER_DAY);
  int64_t y;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  int wday = (int)((days + 4) % 7); /* 1970-01-01 was a Thursday */
  /* "Sun, 06 Nov 1994 08:49:37 GMT" */
  memcpy(buf, day_short[wday], 3);
  memcpy(buf + 3, ", ", 2);
  put2(buf + 5, d);
  buf[7] = ' ';
  memcpy(buf + 8, month_names[m - 1], 3);
  buf[11] = ' ';
  put2(buf + 12, (int)(y / 100));
  put2(buf + 14, (int)(y % 100));
  buf[16] = ' ';
  put2(buf + 17, tod / 3600);
  buf[19] = ':';
  put2(buf + 20, tod / 60 % 60);
  buf[22] = ':';
  put2(buf + 23, tod % 60);
  memcpy(buf + 25, " GMT", 5); /* with the NUL */
  return 0;
}

int hr_retry_after_parse(const char *value, const char *date_hdr,
                         int64_t now_ms, int64_t *delay_ms) {
  if (!value || !delay_ms)
    return -1;
  const char *s = value;
  size_t len = strlen(value);
  hr_trim_ows(&s, &len);
  if (len == 0)
    return -1;

  if (s[0] >= '0' && s[0] <= '9') {
    /* delay-seconds = 1*DIGIT: no sign, fraction or inner space. */
    const int64_t max_sec = HR_DELAY_MAX_MS / 1000;
    int64_t sec = 0;
    for (size_t i = 0; i < len; i++) {
      if (s[i] < '0' || s[i] > '9')
        return -1;
      if (sec <= max_sec) /* stop growing once past the cap */
        sec = sec * 10 + (s[i] - '0');
    }
    *delay_ms = sec > max_sec ? HR_DELAY_MAX_MS : sec * 1000;
    return 0;
  }

  /* An HTTP-date.  Measuring against the server's own Date value makes the
   * delay immune to skew between its clock and ours. */
  int64_t now_sec = now_ms / 1000;
  int64_t ref_sec, when;
  int have_ref = date_hdr && hr_httpdate_parse(date_hdr, strlen(date_hdr),
                                               now_sec, &ref_sec) == 0;
  if (hr_httpdate_parse(s, len, have_ref ? ref_sec : now_sec, &when) != 0)
    return -1;
  /* Parsed dates lie in years 0..9999, so these products fit easily. */
  int64_t when_ms = when * 1000;
  int64_t ref_ms = have_ref ? ref_sec * 1000 : now_ms;
  if (ref_ms >= when_ms)
    *delay_ms = 0;
  else if (ref_ms < when_ms - HR_DELAY_MAX_MS) /* avoids overflow below */
    *delay_ms = HR_DELAY_MAX_MS;
  else
    *delay_ms = when_ms - ref_ms;
  return 0;
}
