/*
 * util.h: checked integer parsing, bounded copies, time and hex helpers.
 */
#ifndef MKP_UTIL_H
#define MKP_UTIL_H

#include <stdint.h>
#include "common/defs.h"

/*
 * Parses a whole decimal string into [min, max]. Leading/trailing space,
 * signs where min >= 0, empty strings and overflow are refused.
 */
bool	 parse_i64(const char *, int64_t min, int64_t max, int64_t *out) MUSTCHECK;
/* Same, for a string of known length (need not be NUL-terminated). */
bool	 parse_i64n(const char *, size_t, int64_t min, int64_t max, int64_t *out) MUSTCHECK;

/* Copies src into dst; false (dst holds a truncated copy) if it did not fit. */
bool	 str_copy(char *dst, size_t dstsz, const char *src) MUSTCHECK;
bool	 str_has_prefix(const char *, const char *);

/* Wall clock, milliseconds since the epoch. */
int64_t	 now_ms(void);
/* Monotonic clock, milliseconds. */
int64_t	 mono_ms(void);

/* ISO 8601 UTC with milliseconds: out must hold 25 bytes. */
void	 fmt_time_iso(int64_t ms, char out[25]);
/*
 * Parses the marketplace's UTC times: yyyyMMddHHmmss (14 digits) or
 * yyyyMMddHHmmssSSS (17 digits). Fields are range-checked (a 31 February
 * is refused). Result in milliseconds since the epoch.
 */
bool	 parse_mkp_time(const char *, int64_t *ms) MUSTCHECK;
/*
 * Parses an RFC 3339 time: yyyy-mm-ddThh:mm:ss, optional fraction, then Z
 * or +hh:mm / -hh:mm ('t', 'z' and a blank for 'T' accepted). The key
 * rotation's overlap end ([keys] previous_*_until).
 */
bool	 parse_rfc3339(const char *, int64_t *ms) MUSTCHECK;
/* Formats as yyyyMMddHHmmssSSS (UTC): out must hold 18 bytes. */
void	 fmt_mkp_time(int64_t ms, char out[18]);
/*
 * A numeric's text ("12.5000") as the marketplace wants a usage value
 * ("12.5"): trailing zeros of the fraction and a bare point dropped. False
 * when num is not a plain non-negative decimal with at most 4 decimals or
 * does not fit outlen.
 */
bool	 fmt_decimal(const char *num, char *out, size_t outlen) MUSTCHECK;

/* Characters (UTF-8 code points) in s, as the marketplace counts lengths. */
size_t	 utf8_chars(const char *s);
/*
 * The length of the longest prefix of s that is at most max bytes and
 * ends on a character boundary: a copy cut there is still valid UTF-8.
 */
size_t	 utf8_cut(const char *s, size_t max);
/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF. utf8_len gives the bytes of the valid character at s (of n),
 * 0 when there is none.
 */
size_t	 utf8_len(const unsigned char *s, size_t n);
bool	 utf8_valid(const char *s, size_t n);

/* An id of 64 characters of up to 4 bytes each, and its NUL. */
#define ID_SIZE		(64 * 4 + 1)

/* Hex of n bytes into out (2n+1 bytes), lower or upper case. */
void	 hex_encode(const void *, size_t n, char *out, bool upper);
/* The value of the hex digit c (either case), or -1 if c is not one. */
int	 hex_digit(int c);

#endif
