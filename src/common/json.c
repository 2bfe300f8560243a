/*
 * json.c: strict JSON parsing into a small tree (yajl's callback parser),
 * the V2 signature's canonical form, Jackson-compatible string escaping,
 * and the compact writer every response goes through.
 *
 * yajl alone is not strict enough for bodies whose bytes are signed: its
 * "UTF-8 validation" accepts overlong forms, encoded surrogates and code
 * points above U+10FFFF; it turns a lone high surrogate escape into '?',
 * pairs a high surrogate with any following \u escape, and takes \v and \f
 * as whitespace. So decoded strings are validated again here, and the raw
 * text gets one more linear scan after yajl has accepted it.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

/* Objects up to this size are checked for duplicate keys pairwise. */
#define JSON_DUP_LINEAR	16

struct json_frame {
	struct json	*node;
	size_t		 cap;		/* allocated items / members */
};

struct json_parser {
	struct json		*root;
	struct json_frame	*stack;
	size_t			 depth;
	size_t			 stack_cap;
	size_t			 max_depth;
	const char		*reason;	/* our own error, NULL: ask yajl */
};

/* --- tree ---------------------------------------------------------------- */

static struct json *
json_new(enum json_type type)
{
	struct json	*v = xcalloc(1, sizeof(*v));

	v->type = type;
	return v;
}

void
json_free(struct json *v)
{
	size_t	i;

	if (v == NULL)
		return;
	switch (v->type) {
	case JSON_STRING:
		free(v->u.str.s);
		break;
	case JSON_NUMBER:
		free(v->u.num);
		break;
	case JSON_ARRAY:
		for (i = 0; i < v->u.arr.n; i++)
			json_free(v->u.arr.items[i]);
		free(v->u.arr.items);
		break;
	case JSON_OBJECT:
		for (i = 0; i < v->u.obj.n; i++) {
			free(v->u.obj.keys[i]);
			json_free(v->u.obj.vals[i]);	/* NULL while parsing */
		}
		free(v->u.obj.keys);
		free(v->u.obj.vals);
		break;
	case JSON_NULL:
	case JSON_BOOL:
		break;
	}
	free(v);
}

const struct json *
json_get(const struct json *v, const char *key)
{
	size_t	i;

	if (v == NULL || v->type != JSON_OBJECT || key == NULL)
		return NULL;
	for (i = 0; i < v->u.obj.n; i++)
		if (strcmp(v->u.obj.keys[i], key) == 0)
			return v->u.obj.vals[i];
	return NULL;
}

const char *
json_get_str(const struct json *v, const char *key)
{
	const struct json	*m = json_get(v, key);

	return m != NULL && m->type == JSON_STRING ? m->u.str.s : NULL;
}

/* --- parsing ------------------------------------------------------------- */

static bool
json_check_text(struct json_parser *p, const unsigned char *s, size_t n)
{
	if (memchr(s, '\0', n) != NULL) {
		p->reason = "string contains U+0000";
		return false;
	}
	if (!utf8_valid((const char *)s, n)) {
		p->reason = "invalid UTF-8 in string";
		return false;
	}
	return true;
}

/* Links a new value into the open container, or makes it the root. */
static void
json_attach(struct json_parser *p, struct json *v)
{
	struct json_frame	*f;
	struct json		*c;

	if (p->depth == 0) {
		p->root = v;
		return;
	}
	f = &p->stack[p->depth - 1];
	c = f->node;
	if (c->type == JSON_ARRAY) {
		if (c->u.arr.n == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 4;
			c->u.arr.items = xrealloc(c->u.arr.items,
			    f->cap * sizeof(*c->u.arr.items));
		}
		c->u.arr.items[c->u.arr.n++] = v;
	} else {
		/* yajl calls map_key first, which left an empty slot. */
		c->u.obj.vals[c->u.obj.n - 1] = v;
	}
}

static int
json_cb_null(void *ctx)
{
	json_attach(ctx, json_new(JSON_NULL));
	return 1;
}

static int
json_cb_bool(void *ctx, int b)
{
	struct json	*v = json_new(JSON_BOOL);

	v->u.b = b != 0;
	json_attach(ctx, v);
	return 1;
}

static int
json_cb_number(void *ctx, const char *s, size_t n)
{
	struct json	*v = json_new(JSON_NUMBER);

	v->u.num = xstrndup(s, n);
	json_attach(ctx, v);
	return 1;
}

static int
json_cb_string(void *ctx, const unsigned char *s, size_t n)
{
	struct json	*v;

	if (!json_check_text(ctx, s, n))
		return 0;
	v = json_new(JSON_STRING);
	v->u.str.s = xstrndup((const char *)s, n);
	v->u.str.len = n;
	json_attach(ctx, v);
	return 1;
}

static int
json_open(struct json_parser *p, enum json_type type)
{
	struct json	*v;

	if (p->depth >= p->max_depth) {
		p->reason = "nesting too deep";
		return 0;
	}
	if (p->depth == p->stack_cap) {
		p->stack_cap = p->stack_cap ? p->stack_cap * 2 : 16;
		p->stack = xrealloc(p->stack, p->stack_cap * sizeof(*p->stack));
	}
	v = json_new(type);
	json_attach(p, v);
	p->stack[p->depth].node = v;
	p->stack[p->depth].cap = 0;
	p->depth++;
	return 1;
}

static int
json_cb_start_map(void *ctx)
{
	return json_open(ctx, JSON_OBJECT);
}

static int
json_cb_start_array(void *ctx)
{
	return json_open(ctx, JSON_ARRAY);
}

static int
json_cb_map_key(void *ctx, const unsigned char *s, size_t n)
{
	struct json_parser	*p = ctx;
	struct json_frame	*f = &p->stack[p->depth - 1];
	struct json		*o = f->node;

	if (!json_check_text(p, s, n))
		return 0;
	if (o->u.obj.n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 4;
		o->u.obj.keys = xrealloc(o->u.obj.keys, f->cap * sizeof(*o->u.obj.keys));
		o->u.obj.vals = xrealloc(o->u.obj.vals, f->cap * sizeof(*o->u.obj.vals));
	}
	o->u.obj.keys[o->u.obj.n] = xstrndup((const char *)s, n);
	o->u.obj.vals[o->u.obj.n] = NULL;
	o->u.obj.n++;
	return 1;
}

static int
json_cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Pairwise for small objects; sort a copy of the key pointers otherwise. */
static bool
json_has_dup_keys(const struct json *o)
{
	char	**k = o->u.obj.keys, **sorted;
	size_t	  n = o->u.obj.n, i, j;
	bool	  dup = false;

	if (n <= JSON_DUP_LINEAR) {
		for (i = 1; i < n; i++)
			for (j = 0; j < i; j++)
				if (strcmp(k[i], k[j]) == 0)
					return true;
		return false;
	}
	sorted = xmalloc(n * sizeof(*sorted));
	memcpy(sorted, k, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), json_cmp_strp);
	for (i = 1; i < n && !dup; i++)
		dup = strcmp(sorted[i - 1], sorted[i]) == 0;
	free(sorted);
	return dup;
}

static int
json_cb_end_map(void *ctx)
{
	struct json_parser	*p = ctx;

	if (json_has_dup_keys(p->stack[p->depth - 1].node)) {
		p->reason = "duplicate key in object";
		return 0;
	}
	p->depth--;
	return 1;
}

static int
json_cb_end_array(void *ctx)
{
	struct json_parser	*p = ctx;

	p->depth--;
	return 1;
}

static const yajl_callbacks json_callbacks = {
	.yajl_null = json_cb_null,
	.yajl_boolean = json_cb_bool,
	.yajl_number = json_cb_number,	/* integer/double then unused */
	.yajl_string = json_cb_string,
	.yajl_start_map = json_cb_start_map,
	.yajl_map_key = json_cb_map_key,
	.yajl_end_map = json_cb_end_map,
	.yajl_start_array = json_cb_start_array,
	.yajl_end_array = json_cb_end_array,
};

/* The \uXXXX at s (s[0] == '\\'), or -1 if s does not start one. */
static long
json_uescape(const unsigned char *s, size_t n)
{
	long	cp = 0;
	int	d;
	size_t	i;

	if (n < 6 || s[0] != '\\' || s[1] != 'u')
		return -1;
	for (i = 2; i < 6; i++) {
		if ((d = hex_digit(s[i])) < 0)
			return -1;
		cp = cp * 16 + d;
	}
	return cp;
}

/*
 * Second pass over text yajl accepted: every surrogate escape must be a
 * high one followed at once by a low one, outside strings the only
 * whitespace is RFC 8259's (yajl also takes \v and \f), and no string is
 * left open at the end (yajl takes `{}"x` for a value and the start of
 * a next one it never sees). Returns a reason, or NULL when the text is
 * clean.
 */
static const char *
json_scan_raw(const unsigned char *s, size_t n)
{
	size_t	i;
	long	cp, lo;
	bool	in_str = false;

	for (i = 0; i < n; i++) {
		if (!in_str) {
			if (s[i] == '"')
				in_str = true;
			else if (s[i] == '\v' || s[i] == '\f')
				return "invalid whitespace";
			continue;
		}
		if (s[i] == '"') {
			in_str = false;
			continue;
		}
		if (s[i] != '\\')
			continue;
		if ((cp = json_uescape(s + i, n - i)) < 0) {
			i++;		/* a one-character escape */
			continue;
		}
		i += 5;
		/* yajl encodes a lone low one as ED Bx xx, which the UTF-8
		 * check already refused; kept in case yajl's decoder changes. */
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return "lone surrogate escape";
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			lo = json_uescape(s + i + 1, n - i - 1);
			if (lo < 0xDC00 || lo > 0xDFFF)
				return "lone surrogate escape";
			i += 6;
		}
	}
	return in_str ? "trailing garbage" : NULL;
}

static void
json_set_err(char *err, size_t errlen, const char *msg)
{
	size_t	n;

	if (err == NULL || errlen == 0)
		return;
	n = strcspn(msg, "\r\n");
	if (n >= errlen)
		n = errlen - 1;
	memcpy(err, msg, n);
	err[n] = '\0';
}

struct json *
json_parse(const char *text, size_t len, size_t max_depth, char *err,
    size_t errlen)
{
	struct json_parser	 p;
	const unsigned char	*u = (const unsigned char *)(text != NULL ? text : "");
	yajl_handle		 h;
	yajl_status		 st;
	unsigned char		*yerr;
	const char		*reason;

	memset(&p, 0, sizeof(p));
	p.max_depth = max_depth;
	json_set_err(err, errlen, "");
	h = yajl_alloc(&json_callbacks, NULL, &p);
	if (h == NULL)
		fatalx("yajl_alloc: out of memory");
	/* All of these are yajl's defaults; set them so nobody wonders. */
	yajl_config(h, yajl_allow_comments, 0);
	yajl_config(h, yajl_dont_validate_strings, 0);
	yajl_config(h, yajl_allow_trailing_garbage, 0);
	yajl_config(h, yajl_allow_multiple_values, 0);
	yajl_config(h, yajl_allow_partial_values, 0);

	st = yajl_parse(h, u, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok) {
		if (p.reason != NULL)
			json_set_err(err, errlen, p.reason);
		else {
			yerr = yajl_get_error(h, 0, u, len);
			json_set_err(err, errlen, yerr != NULL ?
			    (const char *)yerr : "parse error");
			if (yerr != NULL)
				yajl_free_error(h, yerr);
		}
		goto fail;
	}
	if ((reason = json_scan_raw(u, len)) != NULL) {
		json_set_err(err, errlen, reason);
		goto fail;
	}
	yajl_free(h);
	free(p.stack);
	return p.root;

fail:
	yajl_free(h);
	free(p.stack);
	json_free(p.root);
	return NULL;
}

/* --- output -------------------------------------------------------------- */

void
json_put_str(struct buf *out, const char *s, size_t n)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, run = 0;
	char			 esc[6];

	buf_reserve(out, n + 2);
	buf_putc(out, '"');
	for (i = 0; i < n; i++) {
		if (u[i] >= 0x20 && u[i] != '"' && u[i] != '\\')
			continue;
		buf_append(out, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (u[i]) {
		case '"':  esc[1] = '"';  break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b';  break;
		case '\t': esc[1] = 't';  break;
		case '\n': esc[1] = 'n';  break;
		case '\f': esc[1] = 'f';  break;
		case '\r': esc[1] = 'r';  break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[u[i] >> 4];
			esc[5] = hex[u[i] & 0xF];
			buf_append(out, esc, 6);
			continue;
		}
		buf_append(out, esc, 2);
	}
	buf_append(out, s + run, n - run);
	buf_putc(out, '"');
}

/*
 * The one tree writer: member order and number text as received, the
 * values of keys is_secret names (when set) masked, every number in its
 * Java form when java (JSON_FORM_DOUBLES). It stops at the first member or
 * element that starts once out holds more than end bytes.
 */
static void
json_write(const struct json *v, struct buf *out, bool (*is_secret)(const char *key),
    bool java, size_t end)
{
	size_t	i;

	if (out->len > end)
		return;
	switch (v->type) {
	case JSON_NULL:
		buf_append(out, "null", 4);
		break;
	case JSON_BOOL:
		buf_puts(out, v->u.b ? "true" : "false");
		break;
	case JSON_NUMBER:
		if (java)
			json_number_java(v->u.num, out);
		else
			buf_puts(out, v->u.num);
		break;
	case JSON_STRING:
		json_put_str(out, v->u.str.s, v->u.str.len);
		break;
	case JSON_ARRAY:
		buf_putc(out, '[');
		for (i = 0; i < v->u.arr.n && out->len <= end; i++) {
			if (i > 0)
				buf_putc(out, ',');
			json_write(v->u.arr.items[i], out, is_secret, java, end);
		}
		buf_putc(out, ']');
		break;
	case JSON_OBJECT:
		buf_putc(out, '{');
		for (i = 0; i < v->u.obj.n && out->len <= end; i++) {
			if (i > 0)
				buf_putc(out, ',');
			json_put_str(out, v->u.obj.keys[i], strlen(v->u.obj.keys[i]));
			buf_putc(out, ':');
			if (is_secret != NULL && is_secret(v->u.obj.keys[i]) &&
			    v->u.obj.vals[i]->type != JSON_NULL)
				buf_puts(out, "\"***\"");
			else
				json_write(v->u.obj.vals[i], out, is_secret, java, end);
		}
		buf_putc(out, '}');
		break;
	}
}

void
json_emit_masked(const struct json *v, struct buf *out, bool (*is_secret)(const char *key),
    size_t max)
{
	json_write(v, out, is_secret, false, max > SIZE_MAX - out->len ? SIZE_MAX : out->len + max);
}

void
json_emit(const struct json *v, struct buf *out)
{
	json_emit_masked(v, out, NULL, SIZE_MAX);
}

struct json_member {
	const char		*key;
	const struct json	*val;
};

static int
json_cmp_member(const void *a, const void *b)
{
	return strcmp(((const struct json_member *)a)->key,
	    ((const struct json_member *)b)->key);
}

static void	json_form_value(const struct json *, enum json_form, struct buf *);

/*
 * The members of root but the null ones, sorted by key, each value as
 * json_emit writes it, or json_form_value when form is not NULL.
 */
static void
json_sorted(const struct json *root, const enum json_form *form, struct buf *out)
{
	struct json_member	*m;
	size_t			 i, n = 0;

	m = xmalloc(root->u.obj.n * sizeof(*m));
	for (i = 0; i < root->u.obj.n; i++) {
		if (root->u.obj.vals[i]->type == JSON_NULL)
			continue;
		m[n].key = root->u.obj.keys[i];
		m[n].val = root->u.obj.vals[i];
		n++;
	}
	/* Keys are unique (json_parse refuses duplicates): order is total. */
	qsort(m, n, sizeof(*m), json_cmp_member);
	buf_putc(out, '{');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(out, ',');
		json_put_str(out, m[i].key, strlen(m[i].key));
		buf_putc(out, ':');
		if (form == NULL)
			json_emit(m[i].val, out);
		else
			json_form_value(m[i].val, *form, out);
	}
	buf_putc(out, '}');
	free(m);
}

void
json_canonical(const struct json *root, struct buf *out)
{
	if (root->type != JSON_OBJECT)
		json_emit(root, out);
	else
		json_sorted(root, NULL, out);
}

/* --- the forms of Huawei's Java sample ------------------------------------- */

/* True when text (a number as received) has a fraction or an exponent. */
static bool
json_num_is_float(const char *text)
{
	return strpbrk(text, ".eE") != NULL;
}

/*
 * Java's Double.toString of a finite, non-zero, positive d: the fewest
 * correctly rounded digits that read back as d (two when one would do and
 * two are closer, as 4.9E-324), plain for 1e-3 <= d < 1e7, else d.dddEn.
 */
static void
json_java_double(double d, struct buf *out)
{
	char	 e[40], e2[40], digits[24];
	int	 prec, n = 0;
	long	 exp;
	size_t	 i;

	/* %.16e has 17 significant digits: always exact enough. */
	for (prec = 0; prec < 16; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, d);
		if (strtod(e, NULL) == d)
			break;
	}
	if (prec == 16)
		snprintf(e, sizeof(e), "%.16e", d);
	if (prec == 0) {
		snprintf(e2, sizeof(e2), "%.1e", d);
		if (strtod(e2, NULL) == d)
			memcpy(e, e2, sizeof(e));
	}
	for (i = 0; e[i] != 'e'; i++)
		if (e[i] != '.')
			digits[n++] = e[i];
	exp = strtol(e + i + 1, NULL, 10);
	while (n > 1 && digits[n - 1] == '0')
		n--;
	if (exp >= -3 && exp < 7) {
		if (exp < 0) {
			buf_puts(out, "0.");
			for (i = 1; i < (size_t)-exp; i++)
				buf_putc(out, '0');
			buf_append(out, digits, (size_t)n);
			return;
		}
		for (i = 0; i <= (size_t)exp; i++)
			buf_putc(out, i < (size_t)n ? digits[i] : '0');
		buf_putc(out, '.');
		if ((size_t)n > i)
			buf_append(out, digits + i, (size_t)n - i);
		else
			buf_putc(out, '0');
		return;
	}
	buf_putc(out, digits[0]);
	buf_putc(out, '.');
	if (n > 1)
		buf_append(out, digits + 1, (size_t)n - 1);
	else
		buf_putc(out, '0');
	buf_printf(out, "E%ld", exp);
}

void
json_number_java(const char *text, struct buf *out)
{
	double	d;

	if (!json_num_is_float(text)) {
		/* Integer, Long or BigInteger: the digits, but -0 is 0. */
		buf_puts(out, strcmp(text, "-0") == 0 ? "0" : text);
		return;
	}
	d = strtod(text, NULL);
	if (!isfinite(d)) {
		buf_puts(out, text);
		return;
	}
	if (d == 0) {
		buf_puts(out, signbit(d) ? "-0.0" : "0.0");
		return;
	}
	if (d < 0) {
		buf_putc(out, '-');
		d = -d;
	}
	json_java_double(d, out);
}

/* True when the Java form of the number differs from its text. */
static bool
json_num_changes(const char *text)
{
	return json_num_is_float(text) || strcmp(text, "-0") == 0;
}

/* Whether form changes anything of v (a member's value at depth). */
static bool
json_form_changes(const struct json *v, enum json_form form, bool top)
{
	size_t	i;

	switch (v->type) {
	case JSON_BOOL:
		return form == JSON_FORM_STRINGS && top;
	case JSON_NUMBER:
		return form == JSON_FORM_STRINGS ? top : json_num_changes(v->u.num);
	case JSON_ARRAY:
		if (form == JSON_FORM_STRINGS)
			return false;
		for (i = 0; i < v->u.arr.n; i++)
			if (json_form_changes(v->u.arr.items[i], form, false))
				return true;
		return false;
	case JSON_OBJECT:
		if (form == JSON_FORM_STRINGS)
			return false;
		for (i = 0; i < v->u.obj.n; i++)
			if (json_form_changes(v->u.obj.vals[i], form, false))
				return true;
		return false;
	case JSON_NULL:
	case JSON_STRING:
		break;
	}
	return false;
}

/* A top-level member's value in form. */
static void
json_form_value(const struct json *v, enum json_form form, struct buf *out)
{
	if (form == JSON_FORM_DOUBLES)
		json_write(v, out, NULL, true, SIZE_MAX);
	else if (v->type == JSON_NUMBER)
		json_put_str(out, v->u.num, strlen(v->u.num));
	else if (v->type == JSON_BOOL)
		buf_puts(out, v->u.b ? "\"true\"" : "\"false\"");
	else
		json_emit(v, out);
}

bool
json_canonical_form(const struct json *root, enum json_form form, struct buf *out)
{
	size_t	i;

	if (root->type != JSON_OBJECT)
		return false;
	for (i = 0; i < root->u.obj.n; i++)
		if (json_form_changes(root->u.obj.vals[i], form, true))
			break;
	if (i == root->u.obj.n)
		return false;
	json_sorted(root, &form, out);
	return true;
}

/* --- writer -------------------------------------------------------------- */

void
jw_init(struct jw *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

/* Comma before a value, unless it follows its key. */
static void
jw_sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (w->need_comma[w->depth - 1])
			buf_putc(w->b, ',');
		w->need_comma[w->depth - 1] = true;
	}
}

/* Unbalanced or too deep nesting is a bug in the caller: fail loudly. */
static void
jw_open(struct jw *w, char c)
{
	jw_sep(w);
	if (w->depth >= JW_MAX_DEPTH)
		fatalx("jw: nesting deeper than %d", JW_MAX_DEPTH);
	buf_putc(w->b, c);
	w->need_comma[w->depth++] = false;
}

static void
jw_close(struct jw *w, char c)
{
	if (w->depth <= 0 || w->after_key)
		fatalx("jw: unbalanced '%c'", c);
	w->depth--;
	buf_putc(w->b, c);
}

void
jw_obj_begin(struct jw *w)
{
	jw_open(w, '{');
}

void
jw_obj_end(struct jw *w)
{
	jw_close(w, '}');
}

void
jw_arr_begin(struct jw *w)
{
	jw_open(w, '[');
}

void
jw_arr_end(struct jw *w)
{
	jw_close(w, ']');
}

void
jw_key(struct jw *w, const char *k)
{
	if (w->depth > 0) {
		if (w->need_comma[w->depth - 1])
			buf_putc(w->b, ',');
		w->need_comma[w->depth - 1] = true;
	}
	json_put_str(w->b, k, strlen(k));
	buf_putc(w->b, ':');
	w->after_key = true;
}

void
jw_strn(struct jw *w, const char *s, size_t n)
{
	jw_sep(w);
	json_put_str(w->b, s, n);
}

void
jw_str(struct jw *w, const char *s)
{
	if (s == NULL)
		jw_null(w);
	else
		jw_strn(w, s, strlen(s));
}

void
jw_int(struct jw *w, long long v)
{
	jw_sep(w);
	buf_printf(w->b, "%lld", v);
}

void
jw_bool(struct jw *w, bool v)
{
	jw_sep(w);
	buf_puts(w->b, v ? "true" : "false");
}

void
jw_null(struct jw *w)
{
	jw_sep(w);
	buf_append(w->b, "null", 4);
}

void
jw_raw(struct jw *w, const char *text)
{
	jw_sep(w);
	buf_puts(w->b, text);
}

void
jw_kv_str(struct jw *w, const char *k, const char *v)
{
	if (v == NULL)
		return;
	jw_key(w, k);
	jw_str(w, v);
}

/*
 * The doc examples of the Kit lists put bare keys in a string
 * ({orgCode:"1", name:"x"}). Outside strings, an identifier that follows
 * '{' or ',' inside an object and is followed by ':' is quoted; everything
 * else is copied unchanged, so valid JSON passes through as it was.
 */
static bool
bare_key_char(unsigned char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '$' ||
	    (!first && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
}

void
json_quote_bare_keys(const char *s, size_t n, struct buf *out)
{
	char	 stack[JW_MAX_DEPTH];
	int	 depth = 0;
	char	 prev = '\0';	/* last significant character outside strings */
	size_t	 i = 0, j, k;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"') {
			/* Copy the string whole, escapes included. */
			j = i + 1;
			while (j < n && s[j] != '"')
				j += s[j] == '\\' && j + 1 < n ? 2 : 1;
			if (j < n)
				j++;
			buf_append(out, s + i, j - i);
			i = j;
			prev = '"';
			continue;
		}
		if (c == '{' || c == '[') {
			if (depth < JW_MAX_DEPTH)
				stack[depth] = (char)c;
			depth++;
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
		if (bare_key_char(c, true) && depth > 0 && depth <= JW_MAX_DEPTH &&
		    stack[depth - 1] == '{' && (prev == '{' || prev == ',')) {
			for (j = i + 1; j < n && bare_key_char((unsigned char)s[j], false); j++)
				;
			for (k = j; k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' ||
			    s[k] == '\r'); k++)
				;
			if (k < n && s[k] == ':') {
				buf_putc(out, '"');
				buf_append(out, s + i, j - i);
				buf_putc(out, '"');
				i = j;
				prev = 'k';
				continue;
			}
		}
		buf_putc(out, (char)c);
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			prev = (char)c;
		i++;
	}
}
