/*
 * sim_canon.c: see sim_canon.h. Written apart from mkpd's parser on
 * purpose: no yajl, no tree. One recursive descent over the text checks
 * it and re-emits each value compact as it goes (strings decoded, then
 * escaped again); the root object's members are kept as (key, emitted
 * value) pairs and put in order by an insertion sort on memcmp.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/sim_canon.h"
#include "common/util.h"

enum sc_kind {
	SC_NULL,
	SC_BOOL,
	SC_NUMBER,
	SC_STRING,
	SC_NESTED,	/* an object or an array */
};

struct sc {
	const unsigned char	*p, *end;
	int			 depth;
};

/* One member of the root object. */
struct sc_member {
	struct buf	 key;		/* decoded */
	struct buf	 json;		/* the value, emitted compact */
	struct buf	 text;		/* a string's decoded bytes */
	enum sc_kind	 kind;
};

static bool	sc_value(struct sc *, struct buf *out, enum sc_kind *, struct buf *text);

static void
sc_space(struct sc *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' ||
	    *s->p == '\r'))
		s->p++;
}

static bool
sc_eat(struct sc *s, char c)
{
	sc_space(s);
	if (s->p < s->end && *s->p == (unsigned char)c) {
		s->p++;
		return true;
	}
	return false;
}

static int
sc_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits after "\u"; -1 when they are not. */
static long
sc_hex4(struct sc *s)
{
	long	v = 0;
	int	i, d;

	if (s->end - s->p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((d = sc_hexval(s->p[i])) < 0)
			return -1;
		v = v * 16 + d;
	}
	s->p += 4;
	return v;
}

static void
sc_put_utf8(struct buf *b, unsigned long cp)
{
	char	u[4];

	if (cp < 0x80) {
		buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		buf_append(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		buf_append(b, u, 3);
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		buf_append(b, u, 4);
	}
}

/*
 * One UTF-8 sequence starting at s->p (its first byte >= 0x80): copied to
 * b when it is a well-formed, shortest encoding of a scalar value.
 */
static bool
sc_utf8(struct sc *s, struct buf *b)
{
	const unsigned char	*q = s->p;
	unsigned long		 cp, min;
	int			 n, i;

	if (q[0] >= 0xF0 && q[0] <= 0xF4) {
		n = 4;
		cp = q[0] & 0x07;
		min = 0x10000;
	} else if (q[0] >= 0xE0 && q[0] <= 0xEF) {
		n = 3;
		cp = q[0] & 0x0F;
		min = 0x800;
	} else if (q[0] >= 0xC2 && q[0] <= 0xDF) {
		n = 2;
		cp = q[0] & 0x1F;
		min = 0x80;
	} else
		return false;
	if (s->end - q < n)
		return false;
	for (i = 1; i < n; i++) {
		if ((q[i] & 0xC0) != 0x80)
			return false;
		cp = cp << 6 | (q[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return false;
	buf_append(b, q, (size_t)n);
	s->p += n;
	return true;
}

/* A string at s->p (the opening quote), its bytes decoded into b. */
static bool
sc_string_decode(struct sc *s, struct buf *b)
{
	long	hi, lo;

	if (s->p >= s->end || *s->p != '"')
		return false;
	s->p++;
	for (;;) {
		if (s->p >= s->end)
			return false;
		if (*s->p == '"') {
			s->p++;
			return true;
		}
		if (*s->p < 0x20)
			return false;
		if (*s->p >= 0x80) {
			if (!sc_utf8(s, b))
				return false;
			continue;
		}
		if (*s->p != '\\') {
			buf_putc(b, (char)*s->p++);
			continue;
		}
		if (++s->p >= s->end)
			return false;
		switch (*s->p++) {
		case '"':  buf_putc(b, '"');  break;
		case '\\': buf_putc(b, '\\'); break;
		case '/':  buf_putc(b, '/');  break;
		case 'b':  buf_putc(b, '\b'); break;
		case 'f':  buf_putc(b, '\f'); break;
		case 'n':  buf_putc(b, '\n'); break;
		case 'r':  buf_putc(b, '\r'); break;
		case 't':  buf_putc(b, '\t'); break;
		case 'u':
			if ((hi = sc_hex4(s)) < 0 || hi == 0)
				return false;
			if (hi >= 0xDC00 && hi <= 0xDFFF)
				return false;
			if (hi >= 0xD800 && hi <= 0xDBFF) {
				if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
					return false;
				s->p += 2;
				if ((lo = sc_hex4(s)) < 0xDC00 || lo > 0xDFFF)
					return false;
				hi = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
			}
			sc_put_utf8(b, (unsigned long)hi);
			break;
		default:
			return false;
		}
	}
}

/* Decoded bytes as a JSON string, escaped as Jackson escapes them. */
static void
sc_string_encode(const struct buf *d, struct buf *out)
{
	const unsigned char	*u = (const unsigned char *)buf_cstr(d);
	size_t			 i;

	buf_putc(out, '"');
	for (i = 0; i < d->len; i++) {
		switch (u[i]) {
		case '"':  buf_puts(out, "\\\""); break;
		case '\\': buf_puts(out, "\\\\"); break;
		case '\b': buf_puts(out, "\\b");  break;
		case '\t': buf_puts(out, "\\t");  break;
		case '\n': buf_puts(out, "\\n");  break;
		case '\f': buf_puts(out, "\\f");  break;
		case '\r': buf_puts(out, "\\r");  break;
		default:
			if (u[i] < 0x20)
				buf_printf(out, "\\u%04X", u[i]);
			else
				buf_putc(out, (char)u[i]);
		}
	}
	buf_putc(out, '"');
}

static bool
sc_digits(struct sc *s)
{
	const unsigned char	*from = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > from;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, copied as it is. */
static bool
sc_number(struct sc *s, struct buf *out)
{
	const unsigned char	*from = s->p;

	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!sc_digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!sc_digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!sc_digits(s))
			return false;
	}
	buf_append(out, from, (size_t)(s->p - from));
	return true;
}

static bool
sc_word(struct sc *s, const char *w, struct buf *out)
{
	size_t	n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return false;
	s->p += n;
	buf_append(out, w, n);
	return true;
}

/* True when key (n bytes) is among the n_seen keys so far. */
static bool
sc_seen(const struct buf *seen, size_t n_seen, const struct buf *key)
{
	size_t	i;

	for (i = 0; i < n_seen; i++)
		if (seen[i].len == key->len && memcmp(buf_cstr(&seen[i]), buf_cstr(key),
		    key->len) == 0)
			return true;
	return false;
}

/* An object or an array below the root, emitted compact in received order. */
static bool
sc_nested(struct sc *s, struct buf *out)
{
	struct buf	*keys = NULL, key = BUF_INIT;
	size_t		 n = 0, cap = 0, i;
	bool		 ok = false, obj = *s->p == '{';
	char		 close = obj ? '}' : ']';

	if (++s->depth > SIM_CANON_DEPTH)
		return false;
	s->p++;
	buf_putc(out, obj ? '{' : '[');
	if (sc_eat(s, close)) {
		buf_putc(out, close);
		s->depth--;
		return true;
	}
	for (;;) {
		if (n > 0)
			buf_putc(out, ',');
		if (obj) {
			sc_space(s);
			buf_reset(&key);
			if (!sc_string_decode(s, &key) || sc_seen(keys, n, &key) ||
			    !sc_eat(s, ':'))
				goto out;
			sc_string_encode(&key, out);
			buf_putc(out, ':');
			if (n == cap) {
				cap = cap ? 2 * cap : 8;
				keys = xrealloc(keys, cap * sizeof(*keys));
			}
			keys[n] = key;
			buf_init(&key);
		}
		n++;
		if (!sc_value(s, out, NULL, NULL))
			goto out;
		if (sc_eat(s, close))
			break;
		if (!sc_eat(s, ','))
			goto out;
	}
	buf_putc(out, close);
	s->depth--;
	ok = true;
out:
	for (i = 0; obj && i < n; i++)
		buf_free(&keys[i]);
	free(keys);
	buf_free(&key);
	return ok;
}

/*
 * Any value at s->p (after white space), emitted compact to out; its
 * kind in *kind and, for a string, its decoded bytes in text (both
 * optional).
 */
static bool
sc_value(struct sc *s, struct buf *out, enum sc_kind *kind, struct buf *text)
{
	struct buf	 d = BUF_INIT;
	enum sc_kind	 k;
	bool		 ok;

	sc_space(s);
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '{':
	case '[':
		k = SC_NESTED;
		ok = sc_nested(s, out);
		break;
	case '"':
		k = SC_STRING;
		if ((ok = sc_string_decode(s, &d))) {
			sc_string_encode(&d, out);
			if (text != NULL)
				buf_append(text, buf_cstr(&d), d.len);
		}
		buf_free(&d);
		break;
	case 't':
		k = SC_BOOL;
		ok = sc_word(s, "true", out);
		break;
	case 'f':
		k = SC_BOOL;
		ok = sc_word(s, "false", out);
		break;
	case 'n':
		k = SC_NULL;
		ok = sc_word(s, "null", out);
		break;
	default:
		k = SC_NUMBER;
		ok = sc_number(s, out);
		break;
	}
	if (kind != NULL)
		*kind = k;
	return ok;
}

static void
sc_members_free(struct sc_member *m, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		buf_free(&m[i].key);
		buf_free(&m[i].json);
		buf_free(&m[i].text);
	}
	free(m);
}

/* Byte order of two decoded keys; a prefix comes first. */
static int
sc_keycmp(const struct buf *a, const struct buf *b)
{
	size_t	n = a->len < b->len ? a->len : b->len;
	int	c = memcmp(buf_cstr(a), buf_cstr(b), n);

	if (c != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/*
 * Reads the whole text: the root object's members into *mp (sorted by
 * key, *np of them) with *is_obj true, or, for another root, its compact
 * emission into other. False when the text is not JSON as mkpd reads it.
 */
static bool
sc_root(const char *text, size_t len, struct sc_member **mp, size_t *np, bool *is_obj,
    struct buf *other)
{
	struct sc		 s;
	struct sc_member	*m = NULL, tmp;
	struct buf		 key = BUF_INIT;
	size_t			 n = 0, cap = 0, i, j;

	*mp = NULL;
	*np = 0;
	*is_obj = false;
	s.p = (const unsigned char *)text;
	s.end = s.p + len;
	s.depth = 0;
	sc_space(&s);
	if (s.p >= s.end || *s.p != '{') {
		if (!sc_value(&s, other, NULL, NULL))
			return false;
		sc_space(&s);
		return s.p == s.end;
	}
	s.p++;
	s.depth = 1;
	if (!sc_eat(&s, '}')) {
		for (;;) {
			sc_space(&s);
			buf_reset(&key);
			if (!sc_string_decode(&s, &key) || !sc_eat(&s, ':'))
				goto fail;
			for (i = 0; i < n; i++)
				if (sc_keycmp(&m[i].key, &key) == 0)
					goto fail;
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				m = xrealloc(m, cap * sizeof(*m));
			}
			memset(&m[n], 0, sizeof(m[n]));
			m[n].key = key;
			buf_init(&key);
			n++;
			if (!sc_value(&s, &m[n - 1].json, &m[n - 1].kind, &m[n - 1].text))
				goto fail;
			if (sc_eat(&s, '}'))
				break;
			if (!sc_eat(&s, ','))
				goto fail;
		}
	}
	sc_space(&s);
	if (s.p != s.end)
		goto fail;
	for (i = 1; i < n; i++) {
		tmp = m[i];
		for (j = i; j > 0 && sc_keycmp(&m[j - 1].key, &tmp.key) > 0; j--)
			m[j] = m[j - 1];
		m[j] = tmp;
	}
	buf_free(&key);
	*mp = m;
	*np = n;
	*is_obj = true;
	return true;
fail:
	buf_free(&key);
	sc_members_free(m, n);
	return false;
}

bool
sim_canon_v2(const char *text, size_t len, struct buf *out)
{
	struct sc_member	*m;
	struct buf		 other = BUF_INIT;
	size_t			 n, i;
	bool			 first = true, is_obj;

	if (!sc_root(text, len, &m, &n, &is_obj, &other)) {
		buf_free(&other);
		return false;
	}
	if (!is_obj) {
		buf_append(out, buf_cstr(&other), other.len);
		buf_free(&other);
		return true;
	}
	buf_putc(out, '{');
	for (i = 0; i < n; i++) {
		if (m[i].kind == SC_NULL)
			continue;
		if (!first)
			buf_putc(out, ',');
		first = false;
		sc_string_encode(&m[i].key, out);
		buf_putc(out, ':');
		buf_append(out, buf_cstr(&m[i].json), m[i].json.len);
	}
	buf_putc(out, '}');
	sc_members_free(m, n);
	return true;
}

/* True when the decoded string is empty or ASCII white space only. */
static bool
sc_blank(const struct buf *t)
{
	static const char	 ws[] = " \t\r\n\f\v";
	size_t			 i;

	for (i = 0; i < t->len; i++)
		if (memchr(ws, buf_cstr(t)[i], sizeof(ws) - 1) == NULL)
			return false;
	return true;
}

bool
sim_canon_kit_v1(const char *text, size_t len, struct buf *out)
{
	struct sc_member	*m;
	struct buf		 other = BUF_INIT;
	size_t			 n, i;
	bool			 first = true, is_obj;

	if (!sc_root(text, len, &m, &n, &is_obj, &other) || !is_obj) {
		buf_free(&other);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (m[i].kind == SC_NULL || (m[i].kind == SC_STRING && sc_blank(&m[i].text)))
			continue;
		if (!first)
			buf_putc(out, '&');
		first = false;
		buf_append(out, buf_cstr(&m[i].key), m[i].key.len);
		buf_putc(out, '=');
		if (m[i].kind == SC_STRING)
			buf_append(out, buf_cstr(&m[i].text), m[i].text.len);
		else
			buf_append(out, buf_cstr(&m[i].json), m[i].json.len);
	}
	sc_members_free(m, n);
	return true;
}
