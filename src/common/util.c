/*
 * util.c: small pure helpers shared by every program.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

bool
parse_i64n(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
	uint64_t	 acc = 0, limit;
	bool		 neg = false;
	size_t		 i = 0;

	if (n == 0)
		return false;
	if (s[0] == '-') {
		if (min >= 0)
			return false;
		neg = true;
		i = 1;
	}
	if (i == n)
		return false;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = (unsigned)(s[i] - '0');
		if (acc > (limit - d) / 10)
			return false;
		acc = acc * 10 + d;
	}
	if (neg) {
		int64_t v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
		if (v < min || v > max)
			return false;
		*out = v;
	} else {
		if ((int64_t)acc < min || (int64_t)acc > max)
			return false;
		*out = (int64_t)acc;
	}
	return true;
}

bool
parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	return parse_i64n(s, strlen(s), min, max, out);
}

bool
str_copy(char *dst, size_t dstsz, const char *src)
{
	size_t	n = strlen(src);

	if (dstsz == 0)
		return false;
	if (n >= dstsz) {
		memcpy(dst, src, dstsz - 1);
		dst[dstsz - 1] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

bool
str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
split_ms(int64_t ms, struct tm *tm, int *frac)
{
	time_t	secs = (time_t)(ms / 1000);

	*frac = (int)(ms % 1000);
	if (*frac < 0) {
		*frac += 1000;
		secs--;
	}
	gmtime_r(&secs, tm);
}

void
fmt_time_iso(int64_t ms, char out[25])
{
	struct tm	tm;
	int		frac;

	char		tmp[80];

	split_ms(ms, &tm, &frac);
	/* Fields are in range; tmp is large enough for the compiler to see it. */
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	memcpy(out, tmp, 24);
	out[24] = '\0';
}

void
fmt_mkp_time(int64_t ms, char out[18])
{
	struct tm	tm;
	int		frac;

	char		tmp[80];

	split_ms(ms, &tm, &frac);
	snprintf(tmp, sizeof(tmp), "%04d%02d%02d%02d%02d%02d%03d",
	    (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	memcpy(out, tmp, 17);
	out[17] = '\0';
}

bool
fmt_decimal(const char *num, char *out, size_t outlen)
{
	const char	*dot;
	size_t		 n, i;

	if (num == NULL || num[0] == '\0')
		return false;
	for (i = 0; num[i] != '\0'; i++)
		if ((num[i] < '0' || num[i] > '9') && num[i] != '.')
			return false;
	dot = strchr(num, '.');
	if (dot != NULL && (dot == num || strchr(dot + 1, '.') != NULL ||
	    strlen(dot + 1) > 4))
		return false;
	n = strlen(num);
	if (dot != NULL) {
		while (n > 0 && num[n - 1] == '0')
			n--;
		if (n > 0 && num[n - 1] == '.')
			n--;
	}
	if (n == 0 || n + 1 > outlen)
		return false;
	memcpy(out, num, n);
	out[n] = '\0';
	return true;
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm. */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

bool
parse_mkp_time(const char *s, int64_t *ms)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int64_t	 y, mo, d, h, mi, se, frac = 0;
	size_t	 n = strlen(s);

	if (n != 14 && n != 17)
		return false;
	if (!parse_i64n(s, 4, 1970, 9999, &y) ||
	    !parse_i64n(s + 4, 2, 1, 12, &mo) ||
	    !parse_i64n(s + 6, 2, 1, 31, &d) ||
	    !parse_i64n(s + 8, 2, 0, 23, &h) ||
	    !parse_i64n(s + 10, 2, 0, 59, &mi) ||
	    !parse_i64n(s + 12, 2, 0, 59, &se))
		return false;
	if (n == 17 && !parse_i64n(s + 14, 3, 0, 999, &frac))
		return false;
	if (d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
		return false;
	*ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + se * 1000 + frac;
	return true;
}

bool
parse_rfc3339(const char *s, int64_t *ms)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int64_t	 y, mo, d, h, mi, se, frac = 0, oh = 0, om = 0, scale = 100;
	size_t	 i = 19;
	int	 sign = 0;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
		return false;
	if (!parse_i64n(s, 4, 1970, 9999, &y) ||
	    !parse_i64n(s + 5, 2, 1, 12, &mo) ||
	    !parse_i64n(s + 8, 2, 1, 31, &d) ||
	    !parse_i64n(s + 11, 2, 0, 23, &h) ||
	    !parse_i64n(s + 14, 2, 0, 59, &mi) ||
	    !parse_i64n(s + 17, 2, 0, 60, &se))
		return false;
	if (s[i] == '.') {
		for (i++; s[i] >= '0' && s[i] <= '9'; i++) {
			frac += (s[i] - '0') * scale;
			scale /= 10;
		}
		if (s[i - 1] == '.')
			return false;
	}
	if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0')
		sign = 0;
	else if ((s[i] == '+' || s[i] == '-') && strlen(s + i) == 6 && s[i + 3] == ':' &&
	    parse_i64n(s + i + 1, 2, 0, 23, &oh) && parse_i64n(s + i + 4, 2, 0, 59, &om))
		sign = s[i] == '+' ? 1 : -1;
	else
		return false;
	if (d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
		return false;
	*ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + se * 1000 + frac -
	    sign * (oh * 60 + om) * 60000;
	return true;
}

size_t
utf8_chars(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

size_t
utf8_cut(const char *s, size_t max)
{
	size_t	n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	/* s[max] starts the first byte left out: back off its character. */
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char	 c, lo = 0x80, hi = 0xBF;
	size_t		 k, need;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 1;
	else if (c == 0xE0) {
		need = 2;
		lo = 0xA0;
	} else if (c == 0xED) {
		need = 2;
		hi = 0x9F;
	} else if (c >= 0xE1 && c <= 0xEF)
		need = 2;
	else if (c == 0xF0) {
		need = 3;
		lo = 0x90;
	} else if (c == 0xF4) {
		need = 3;
		hi = 0x8F;
	} else if (c >= 0xF1 && c <= 0xF3)
		need = 3;
	else
		return 0;
	if (n - 1 < need || s[1] < lo || s[1] > hi)
		return 0;
	for (k = 2; k <= need; k++)
		if ((s[k] & 0xC0) != 0x80)
			return 0;
	return need + 1;
}

bool
utf8_valid(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, k;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_len(p + i, n - i)) == 0)
			return false;
		i += k;
	}
	return true;
}

void
hex_encode(const void *p, size_t n, char *out, bool upper)
{
	const char	*digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	const unsigned char *b = p;
	size_t		 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
