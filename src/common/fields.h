/*
 * fields.h: checking a request's members against its field table
 * (presence, type, length, enum, time format), shared by every dialect
 * and by the reading of a hook's answer.
 */
#ifndef MKP_FIELDS_H
#define MKP_FIELDS_H

#include <stdint.h>
#include "common/json.h"
#include "common/util.h"

enum field_kind {
	FK_STRING,	/* a string of at most max characters */
	FK_ENUM,	/* one of values */
	FK_TIME,	/* yyyyMMddHHmmss or yyyyMMddHHmmssSSS, UTC */
	FK_OBJECT,	/* a JSON object */
	FK_IDLIST,	/* comma-separated ids, each at most max characters */
};

struct field_rule {
	const char		*name;
	bool			 required;
	enum field_kind		 kind;
	size_t			 max;
	const char *const	*values;	/* FK_ENUM: NULL-terminated */
};

#define FIELDS_MAX	16
#define IDLIST_MAX	100

struct field_values {
	const char		*str[FIELDS_MAX];	/* string members (NULL: absent) */
	const struct json	*val[FIELDS_MAX];	/* the member itself */
	int64_t			 time_ms[FIELDS_MAX];	/* FK_TIME */
};

/*
 * Checks obj's members named in rules (n of them, n <= FIELDS_MAX); other
 * members are ignored. An empty string counts as absent. On failure err
 * holds "name: reason" and false is returned.
 */
bool	 fields_check(const struct json *obj, const struct field_rule *rules, size_t n,
	    struct field_values *out, char *err, size_t errlen) MUSTCHECK;

/*
 * Splits a comma-separated id list into at most IDLIST_MAX ids of at most
 * max characters each (copy kept in store, which the caller frees).
 * Empty items are refused.
 */
bool	 fields_split_ids(const char *list, size_t max, char **store, const char **ids,
	    size_t *n, char *err, size_t errlen) MUSTCHECK;

/*
 * Whether the len bytes of s (a query parameter or header value a
 * verifier reads) are text: no NUL (which would end the value early for
 * every later check, so that "SIG%00anything" passed as SIG) and no
 * control character.
 */
bool	 fields_param_text(const char *s, size_t len);

/*
 * testFlag: absent, "0"/"1" or 0/1 (the Kit dialects send numbers).
 * *is_test is true for 1. False for anything else.
 */
bool	 fields_test_flag(const struct json *obj, bool *is_test) MUSTCHECK;

#endif
