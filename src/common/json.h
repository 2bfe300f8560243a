/*
 * json.h: a small JSON tree on top of yajl's parser, the marketplace's
 * canonical form, and a compact writer.
 *
 * Parsing is strict: no comments, no trailing garbage, valid UTF-8 only,
 * no duplicate keys in any object, no U+0000 inside strings, nesting at
 * most max_depth. Object members keep the order they were received in and
 * numbers keep their received text, so a value can be re-emitted exactly.
 */
#ifndef MKP_JSON_H
#define MKP_JSON_H

#include "common/buf.h"
#include "common/defs.h"

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json {
	enum json_type	 type;
	union {
		bool	 b;
		struct {
			char	*s;	/* NUL-terminated, no inner NUL */
			size_t	 len;
		} str;
		char	*num;		/* number as received, e.g. "12.50" */
		struct {
			struct json **items;
			size_t	 n;
		} arr;
		struct {
			char	**keys;	/* NUL-terminated */
			struct json **vals;
			size_t	 n;
		} obj;
	} u;
};

/*
 * Parses len bytes of text (need not be NUL-terminated). Returns the tree,
 * owned by the caller (json_free), or NULL with a one-line reason in err.
 */
struct json *json_parse(const char *text, size_t len, size_t max_depth,
	    char *err, size_t errlen) MUSTCHECK;
void	 json_free(struct json *);

/* Member of an object by key; NULL if v is not an object or has no such key. */
const struct json *json_get(const struct json *v, const char *key);
/* The string value of a member; NULL if absent or not a string. */
const char *json_get_str(const struct json *v, const char *key);

/*
 * The canonical request payload of the V2 signature (spec/README.md
 * reading 1): top-level members sorted by key in byte order, members whose
 * value is null dropped, nested values re-emitted in received order,
 * compact, raw UTF-8, '/' not escaped, strings escaped as Jackson does.
 * Appends to out. A root that is not an object is emitted as json_emit does.
 */
void	 json_canonical(const struct json *root, struct buf *out);
/*
 * The payloads Huawei's Java sample signs when a body holds numbers or
 * booleans (further candidates after the canonical form and the raw
 * bytes, spec/README.md reading 1):
 *
 * JSON_FORM_STRINGS, the V2 basic sample, which binds the body to
 * Map<String,String>: a top-level number or boolean becomes the string
 * of its text ("x":12.50 is signed as "x":"12.50", true as "true").
 *
 * JSON_FORM_DOUBLES, the Kit sample, which binds it to Map<String,Object>
 * and writes it back with Jackson: every number, at any depth, as
 * json_number_java writes it.
 *
 * Otherwise as json_canonical. Appends to out and returns true only when
 * the form differs from json_canonical's (the root is an object holding
 * such a member); false, out untouched, when it would be the same bytes.
 */
enum json_form {
	JSON_FORM_STRINGS,
	JSON_FORM_DOUBLES,
};
bool	 json_canonical_form(const struct json *root, enum json_form, struct buf *out);

/*
 * A number's text (as received, valid JSON) as Jackson writes it back
 * after reading it into an Object: an integer keeps its digits (Integer,
 * Long, BigInteger), but -0 becomes 0; a number with a fraction or an
 * exponent becomes a double and is written as Java's Double.toString
 * does (the fewest correctly rounded digits that read back as the same
 * double, at least one digit after the point, E notation below 1e-3 and
 * from 1e7 on):
 * 1e3 -> 1000.0, 1.50 -> 1.5, 2E-2 -> 0.02, 1e7 -> 1.0E7, -0.0 -> -0.0.
 * A number beyond the range of a double keeps its text. Appends to out.
 */
void	 json_number_java(const char *text, struct buf *out);

/* Compact re-emission in received order. Appends to out. */
void	 json_emit(const struct json *v, struct buf *out);
/*
 * json_emit, except that a member (of an object at any depth) whose key
 * is_secret() says yes and whose value is not null is emitted as "***".
 * A NULL is_secret masks nothing. Once more than max bytes are appended it
 * stops (after the value it was writing): the text is then unfinished and
 * longer than max, for a caller that keeps max bytes of it (the audit
 * log's copy of a body), so a large body is not written whole to be cut.
 * json_emit is json_emit_masked(v, out, NULL, SIZE_MAX).
 */
void	 json_emit_masked(const struct json *v, struct buf *out,
	    bool (*is_secret)(const char *key), size_t max);

/*
 * Appends s (n bytes of UTF-8) as a quoted JSON string: \" \\ \b \t \n \f \r,
 * other bytes below 0x20 as \u00XX (upper-case hex), '/' and non-ASCII raw.
 */
void	 json_put_str(struct buf *out, const char *s, size_t n);

/*
 * Appends n bytes of s with every bare object key quoted ({a:1, b_2:"x"}
 * becomes {"a":1, "b_2":"x"}): the tolerant reading of the Kit lists
 * (spec/README.md reading 7). Strings and valid JSON are copied unchanged;
 * the result still goes through json_parse, which judges it.
 */
void	 json_quote_bare_keys(const char *s, size_t n, struct buf *out);

/*
 * A compact writer with comma bookkeeping. Nesting at most JW_MAX_DEPTH.
 * Example:
 *	struct jw w;
 *	jw_init(&w, &b);
 *	jw_obj_begin(&w);
 *	jw_key(&w, "resultCode"); jw_str(&w, "000000");
 *	jw_obj_end(&w);
 */
#define JW_MAX_DEPTH 32

struct jw {
	struct buf	*b;
	int		 depth;
	bool		 need_comma[JW_MAX_DEPTH];
	bool		 after_key;
};

void	 jw_init(struct jw *, struct buf *);
void	 jw_obj_begin(struct jw *);
void	 jw_obj_end(struct jw *);
void	 jw_arr_begin(struct jw *);
void	 jw_arr_end(struct jw *);
void	 jw_key(struct jw *, const char *);
void	 jw_str(struct jw *, const char *);
void	 jw_strn(struct jw *, const char *, size_t);
void	 jw_int(struct jw *, long long);
void	 jw_bool(struct jw *, bool);
void	 jw_null(struct jw *);
/* Appends text as a value unchanged (a number's text, or JSON made elsewhere). */
void	 jw_raw(struct jw *, const char *);
/* jw_key + jw_str; skipped when v is NULL. */
void	 jw_kv_str(struct jw *, const char *k, const char *v);

#endif
