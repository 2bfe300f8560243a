/*
 * check_fields.c: length limits count characters (UTF-8 code points), as
 * the spec does, for 1-, 2-, 3- and 4-byte characters at each limit; the
 * UTF-8 helpers the limits and the audit rely on.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fields.h"
#include "common/util.h"
#include "store/audit.h"
#include "unit.h"

/* One character of each width. */
static const char *const chars[] = { "a", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80" };

/* count copies of c, then tail, into out. */
static char *
repeat(char *out, const char *c, size_t count, const char *tail)
{
	size_t	n = strlen(c), i;

	for (i = 0; i < count; i++)
		memcpy(out + i * n, c, n);
	strcpy(out + count * n, tail);
	return out;
}

static const struct field_rule rules[] = {
	{ "businessId", true, FK_STRING, 64, NULL },
	{ "instanceId", false, FK_IDLIST, 64, NULL },
};

static bool
check(const char *name, const char *value, char *err, size_t errlen)
{
	struct field_values	 f;
	struct buf		 b = BUF_INIT;
	struct json		*obj;
	char			 perr[64];
	bool			 ok;

	buf_puts(&b, "{\"businessId\":\"");
	buf_puts(&b, strcmp(name, "businessId") == 0 ? value : "b");
	buf_puts(&b, "\"");
	if (strcmp(name, "instanceId") == 0) {
		buf_puts(&b, ",\"instanceId\":\"");
		buf_puts(&b, value);
		buf_puts(&b, "\"");
	}
	buf_puts(&b, "}");
	obj = json_parse(b.data, b.len, 8, perr, sizeof(perr));
	ck_assert_msg(obj != NULL, "%s", perr);
	ok = fields_check(obj, rules, NELEM(rules), &f, err, errlen);
	json_free(obj);
	buf_free(&b);
	return ok;
}

/* 64 characters of any width pass a 64-character field; 65 do not. */
START_TEST(test_string_limit)
{
	char	 v[4 * 65 + 1], err[128];

	ck_assert_msg(check("businessId", repeat(v, chars[_i], 64, ""), err, sizeof(err)),
	    "64 x %zu-byte: %s", strlen(chars[_i]), err);
	ck_assert(!check("businessId", repeat(v, chars[_i], 65, ""), err, sizeof(err)));
	ck_assert_str_eq(err, "businessId: longer than 64 characters");
}
END_TEST

/* A list of 100 ids of 64 characters of any width; 101 ids are too many. */
START_TEST(test_idlist_limit)
{
	static char	 list[101 * (4 * 65 + 1)];
	char		 one[4 * 65 + 2], err[128], *store;
	const char	*ids[IDLIST_MAX];
	size_t		 i, n;

	repeat(one, chars[_i], 64, ",");
	list[0] = '\0';
	for (i = 0; i < 100; i++)
		strcat(list, one);
	list[strlen(list) - 1] = '\0';
	ck_assert_msg(check("instanceId", list, err, sizeof(err)), "%s", err);
	ck_assert(fields_split_ids(list, 64, &store, ids, &n, err, sizeof(err)));
	ck_assert_uint_eq(n, 100);
	ck_assert_uint_eq(utf8_chars(ids[99]), 64);
	free(store);
	/* An id of 65 characters in the list. */
	repeat(one, chars[_i], 65, "");
	ck_assert(!fields_split_ids(one, 64, &store, ids, &n, err, sizeof(err)));
	free(store);
	/* One character more than 100 full ids and their commas hold. */
	strcat(list, ",x");
	ck_assert(!check("instanceId", list, err, sizeof(err)));
	ck_assert_str_eq(err, "instanceId: too long");
	repeat(one, chars[_i], 1, ",");
	list[0] = '\0';
	for (i = 0; i < 101; i++)
		strcat(list, one);
	list[strlen(list) - 1] = '\0';
	ck_assert(!fields_split_ids(list, 64, &store, ids, &n, err, sizeof(err)));
	ck_assert_str_eq(err, "instanceId: more than 100 ids");
	free(store);
}
END_TEST

static const struct {
	const char	*s;
	size_t		 max, want;
} cuts[] = {
	{ "abc", 2, 2 },
	{ "abc", 3, 3 },
	{ "abc", 9, 3 },
	{ "a\xc3\xa9", 2, 1 },			/* not half of the é */
	{ "a\xc3\xa9", 3, 3 },
	{ "\xe4\xb8\xad\xe4\xb8\xad", 5, 3 },
	{ "\xe4\xb8\xad\xe4\xb8\xad", 4, 3 },
	{ "\xe4\xb8\xad\xe4\xb8\xad", 2, 0 },
	{ "\xf0\x9f\x98\x80!", 3, 0 },
	{ "\xf0\x9f\x98\x80!", 4, 4 },
};

START_TEST(test_cut)
{
	ck_assert_uint_eq(utf8_cut(cuts[_i].s, cuts[_i].max), cuts[_i].want);
}
END_TEST

static const struct {
	const char	*s;
	bool		 ok;
} valid[] = {
	{ "plain", true },
	{ "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", true },
	{ "\xff", false },
	{ "\xff\xfe", false },
	{ "\xe4\xb8", false },			/* cut */
	{ "\xc0\xaf", false },			/* overlong */
	{ "\xed\xa0\x80", false },		/* a surrogate */
	{ "\xf4\x90\x80\x80", false },		/* above U+10FFFF */
};

START_TEST(test_valid)
{
	ck_assert(utf8_valid(valid[_i].s, strlen(valid[_i].s)) == valid[_i].ok);
}
END_TEST

static const struct {
	const char	*in, *want;
} escapes[] = {
	{ "plain \xe4\xb8\xad", "plain \xe4\xb8\xad" },
	{ "\xff\xfe", "\\xFF\\xFE" },
	{ "id-\xe4\xb8", "id-\\xE4\\xB8" },		/* an id cut mid-character */
	{ "a\xc3\xa9\xc3", "a\xc3\xa9\\xC3" },
};

/* The audit row's text: never invalid UTF-8, the bad bytes escaped. */
START_TEST(test_audit_text)
{
	struct buf	 esc = BUF_INIT;
	const char	*out = audit_text(escapes[_i].in, &esc);

	ck_assert_str_eq(out, escapes[_i].want);
	ck_assert(utf8_valid(out, strlen(out)));
	buf_free(&esc);
}
END_TEST

static const struct {
	const char	*s;
	size_t		 len;
	bool		 ok;
} params[] = {
	{ "1700000000000", 13, true },
	{ "AB12cd", 6, true },
	{ "\xe4\xb8\xad nonce", 9, true },
	{ "1700000000000\0junk", 18, false },	/* "timestamp=TS%00junk" */
	{ "AB12\0anything", 14, false },		/* "signature=SIG%00anything" */
	{ "a\tb", 3, false },
	{ "a\r\nb", 4, false },
	{ "a\x7f", 2, false },
	{ "", 0, true },
};

START_TEST(test_param_text)
{
	ck_assert_msg(fields_param_text(params[_i].s, params[_i].len) == params[_i].ok,
	    "case %d", _i);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("fields", &tc);

	tcase_add_loop_test(tc, test_string_limit, 0, (int)NELEM(chars));
	tcase_add_loop_test(tc, test_idlist_limit, 0, (int)NELEM(chars));
	tcase_add_loop_test(tc, test_cut, 0, (int)NELEM(cuts));
	tcase_add_loop_test(tc, test_valid, 0, (int)NELEM(valid));
	tcase_add_loop_test(tc, test_audit_text, 0, (int)NELEM(escapes));
	tcase_add_loop_test(tc, test_param_text, 0, (int)NELEM(params));
	return unit_run(s);
}
