/*
 * fields.c: field-table validation.
 *
 * Lengths are counted in characters, as the marketplace's Java side counts
 * them (ids are ASCII, where characters and bytes agree). Control
 * characters are refused in every string field: no id or enum legitimately
 * carries one, and they would corrupt logs.
 */
#include <stdio.h>
#include <string.h>

#include "common/fields.h"
#include "common/util.h"

static bool
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			return true;
	return false;
}

bool
fields_param_text(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
			return false;
	return true;
}

static bool
fail(char *err, size_t errlen, const char *name, const char *why)
{
	snprintf(err, errlen, "%s: %s", name, why);
	return false;
}

static bool
check_string(const struct field_rule *r, const char *s, struct field_values *out,
    size_t i, char *err, size_t errlen)
{
	char	why[96];
	size_t	k;

	if (has_control(s))
		return fail(err, errlen, r->name, "contains control characters");
	switch (r->kind) {
	case FK_STRING:
		if (utf8_chars(s) > r->max) {
			snprintf(why, sizeof(why), "longer than %zu characters", r->max);
			return fail(err, errlen, r->name, why);
		}
		break;
	case FK_ENUM:
		for (k = 0; r->values[k] != NULL; k++)
			if (strcmp(s, r->values[k]) == 0)
				break;
		if (r->values[k] == NULL)
			return fail(err, errlen, r->name, "not one of the allowed values");
		break;
	case FK_TIME:
		if (!parse_mkp_time(s, &out->time_ms[i]))
			return fail(err, errlen, r->name,
			    "not a UTC time as yyyyMMddHHmmss or yyyyMMddHHmmssSSS");
		break;
	case FK_IDLIST:
		/* Split and checked by fields_split_ids; bound the whole here. */
		if (utf8_chars(s) > (r->max + 1) * IDLIST_MAX)
			return fail(err, errlen, r->name, "too long");
		break;
	case FK_OBJECT:
		break;
	}
	return true;
}

bool
fields_check(const struct json *obj, const struct field_rule *rules, size_t n,
    struct field_values *out, char *err, size_t errlen)
{
	size_t	i;

	memset(out, 0, sizeof(*out));
	if (obj == NULL || obj->type != JSON_OBJECT)
		return fail(err, errlen, "body", "not a JSON object");
	for (i = 0; i < n && i < FIELDS_MAX; i++) {
		const struct field_rule	*r = &rules[i];
		const struct json	*v = json_get(obj, r->name);

		if (v != NULL && v->type == JSON_NULL)
			v = NULL;
		if (r->kind == FK_OBJECT) {
			if (v == NULL) {
				if (r->required)
					return fail(err, errlen, r->name, "missing");
				continue;
			}
			if (v->type != JSON_OBJECT)
				return fail(err, errlen, r->name, "must be a JSON object");
			out->val[i] = v;
			continue;
		}
		if (v != NULL && v->type != JSON_STRING)
			return fail(err, errlen, r->name, "must be a string");
		if (v == NULL || v->u.str.len == 0) {
			if (r->required)
				return fail(err, errlen, r->name, "missing");
			continue;
		}
		if (!check_string(r, v->u.str.s, out, i, err, errlen))
			return false;
		out->str[i] = v->u.str.s;
		out->val[i] = v;
	}
	return true;
}

bool
fields_split_ids(const char *list, size_t max, char **store, const char **ids, size_t *n,
    char *err, size_t errlen)
{
	char	*p, *comma;

	*n = 0;
	*store = xstrdup(list);
	p = *store;
	for (;;) {
		comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		if (*p == '\0')
			return fail(err, errlen, "instanceId", "empty id in the list");
		if (utf8_chars(p) > max)
			return fail(err, errlen, "instanceId", "an id is longer than 64 characters");
		if (*n == IDLIST_MAX)
			return fail(err, errlen, "instanceId", "more than 100 ids");
		ids[(*n)++] = p;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return true;
}

bool
fields_test_flag(const struct json *obj, bool *is_test)
{
	const struct json	*v = json_get(obj, "testFlag");

	*is_test = false;
	if (v == NULL || v->type == JSON_NULL)
		return true;
	if (v->type == JSON_STRING) {
		if (v->u.str.len == 0 || strcmp(v->u.str.s, "0") == 0)
			return true;
		if (strcmp(v->u.str.s, "1") == 0) {
			*is_test = true;
			return true;
		}
		return false;
	}
	if (v->type == JSON_NUMBER) {
		if (strcmp(v->u.num, "0") == 0)
			return true;
		if (strcmp(v->u.num, "1") == 0) {
			*is_test = true;
			return true;
		}
	}
	return false;
}
