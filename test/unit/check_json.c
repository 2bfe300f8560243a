/*
 * check_json.c: strict parsing, the V2 canonical payload (vectors from
 * spec/vectors.json and spec/v2-basic.md §7.2) and the forms Huawei's
 * Java sample signs (json_canonical_form, json_number_java), re-emission,
 * escaping and the jw writer.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "unit.h"

#define MAXD	64

/* A string literal and its length, for inputs holding NUL bytes. */
#define LIT(s)	s, sizeof(s) - 1

static struct json *
parse_ok(const char *text, size_t len)
{
	char		 err[128];
	struct json	*v = json_parse(text, len, MAXD, err, sizeof(err));

	ck_assert_msg(v != NULL, "refused %.*s: %s", (int)len, text, err);
	return v;
}

/* --- canonical payload ---------------------------------------------------- */

static const struct {
	const char	*name;
	const char	*body;
	const char	*want;
} canon_cases[] = {
	{ "vectors.json v2_basic_signature[3]",
	  "{\"testFlag\":\"1\",\"activity\":\"queryInstance\",\"instanceId\":\"10e758d0-31ad-4c4b-8f1b-81d03469a10e\",\"extra\":null}",
	  "{\"activity\":\"queryInstance\",\"instanceId\":\"10e758d0-31ad-4c4b-8f1b-81d03469a10e\",\"testFlag\":\"1\"}" },
	{ "vectors.json v2_kit_x_sign[0]",
	  "{\"instanceId\":\"huaiweitest123456\",\"orderId\":\"CS1906666666ABCDE\",\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\",\"tenantCode\":\"huawei\",\"name\":\"huaiweitest\",\"domainName\":\"https://example.tenantaccount.com\",\"flag\":1,\"testFlag\":0,\"timeStamp\":\"20220413093539534\"}",
	  "{\"domainName\":\"https://example.tenantaccount.com\",\"flag\":1,\"instanceId\":\"huaiweitest123456\",\"name\":\"huaiweitest\",\"orderId\":\"CS1906666666ABCDE\",\"tenantCode\":\"huawei\",\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\",\"testFlag\":0,\"timeStamp\":\"20220413093539534\"}" },
	{ "vectors.json v2_kit_x_sign[1]",
	  "{\"instanceId\":\"huaiweitest123456\",\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\",\"appId\":\"KSIDJF1234456\",\"userList\":[{\"userName\":\"zhangsan01\",\"name\":\"张三\",\"orgCode\":\"123456789\",\"role\":\"admin\",\"enable\":\"true\"}],\"currentSyncTime\":\"20220420114117642\",\"flag\":1,\"testFlag\":0,\"timeStamp\":\"20220420114117642\"}",
	  "{\"appId\":\"KSIDJF1234456\",\"currentSyncTime\":\"20220420114117642\",\"flag\":1,\"instanceId\":\"huaiweitest123456\",\"tenantId\":\"68cbc86abc2018ab880d92f36422fa0e\",\"testFlag\":0,\"timeStamp\":\"20220420114117642\",\"userList\":[{\"userName\":\"zhangsan01\",\"name\":\"张三\",\"orgCode\":\"123456789\",\"role\":\"admin\",\"enable\":\"true\"}]}" },
	{ "v2-basic.md 7.2 V-2",
	  "{\"testFlag\":\"1\",\"activity\":\"queryInstance\",\"instanceId\":\"10e758d0-31ad-4c4b-8f1b-81d03469a10e\",\"extra\":null}",
	  "{\"activity\":\"queryInstance\",\"instanceId\":\"10e758d0-31ad-4c4b-8f1b-81d03469a10e\",\"testFlag\":\"1\"}" },
	{ "v2-basic.md 7.2 V-1 (already canonical)",
	  "{\"activity\":\"newInstance\",\"businessId\":\"87b94795-0603-4e24-8ae5-69420d60e3c8\",\"orderId\":\"CS2211181819B4LVS\",\"orderLineId\":\"CS2211181819B4LVS-000001\",\"testFlag\":\"1\"}",
	  "{\"activity\":\"newInstance\",\"businessId\":\"87b94795-0603-4e24-8ae5-69420d60e3c8\",\"orderId\":\"CS2211181819B4LVS\",\"orderLineId\":\"CS2211181819B4LVS-000001\",\"testFlag\":\"1\"}" },
	{ "nested nulls and order kept, escapes Jackson-style",
	  "{\"b\":\"\\u00e9\\/\\u001f\\\"\",\"a\":[1,null,{\"z\":null,\"y\":-0}],\"c\":null}",
	  "{\"a\":[1,null,{\"z\":null,\"y\":-0}],\"b\":\"é/\\u001F\\\"\"}" },
	{ "byte order of keys",
	  "{\"é\":1,\"a\":2,\"_\":3,\"Z\":4,\"B\":5,\"ab\":6,\"\":7}",
	  "{\"\":7,\"B\":5,\"Z\":4,\"_\":3,\"a\":2,\"ab\":6,\"é\":1}" },
	{ "whitespace dropped",
	  " {\n\t\"b\" : 1 ,\r\n \"a\" : [ 1 , 2 ] } ",
	  "{\"a\":[1,2],\"b\":1}" },
	{ "empty object", "{}", "{}" },
	{ "only nulls", "{\"a\":null,\"b\":null}", "{}" },
	{ "array root emitted as received", "[3,null,1]", "[3,null,1]" },
	{ "string root", "\"x\"", "\"x\"" },
};

START_TEST(test_canonical)
{
	struct json	*v = parse_ok(canon_cases[_i].body, strlen(canon_cases[_i].body));
	struct buf	 b = BUF_INIT;

	json_canonical(v, &b);
	ck_assert_msg(strcmp(buf_cstr(&b), canon_cases[_i].want) == 0,
	    "%s: got %s", canon_cases[_i].name, buf_cstr(&b));
	ck_assert_uint_eq(b.len, strlen(canon_cases[_i].want));
	buf_free(&b);
	json_free(v);
}
END_TEST

/* --- re-emission ---------------------------------------------------------- */

static const struct {
	const char	*in;
	const char	*want;		/* NULL: same as in */
} emit_cases[] = {
	{ "{\"z\":1,\"a\":{\"y\":[true,false,null],\"x\":\"s\"},\"m\":[]}", NULL },
	{ "[12.50,-0,1e3,1E+3,-0.0e-0,0.1,123456789012345678901234567890,-9223372036854775809]", NULL },
	{ "\"\\u4e2d\\u6587\"", "\"中文\"" },
	{ "\"中文 张三\"", NULL },
	{ "[\"\\ud83d\\ude00\",\"\xF0\x9F\x98\x80\"]", "[\"\xF0\x9F\x98\x80\",\"\xF0\x9F\x98\x80\"]" },
	{ "\"\\/\\b\\f\\n\\r\\t\\\"\\\\\\u0001\\u007f\\u00A0\"",
	  "\"/\\b\\f\\n\\r\\t\\\"\\\\\\u0001\x7F\xC2\xA0\"" },
	{ " [ 1 , { } , [ ] , \"\" ] ", "[1,{},[],\"\"]" },
	{ "{\"a\\\"b\":\"\\u2028\"}", "{\"a\\\"b\":\"\xE2\x80\xA8\"}" },
	{ "\"a\"", NULL },
	{ "true", NULL },
	{ "false", NULL },
	{ "null", NULL },
	{ "0", NULL },
	{ "-1.5E-7", NULL },
	{ "[[[[{\"a\":[[{}]]}]]]]", NULL },
};

START_TEST(test_emit)
{
	const char	*in = emit_cases[_i].in;
	const char	*want = emit_cases[_i].want ? emit_cases[_i].want : in;
	struct json	*v = parse_ok(in, strlen(in));
	struct buf	 b = BUF_INIT;

	json_emit(v, &b);
	ck_assert_msg(strcmp(buf_cstr(&b), want) == 0, "case %d: got %s", _i, buf_cstr(&b));
	buf_free(&b);
	json_free(v);
}
END_TEST

/* Members named "pw" or "k" are secret (case matters: "PW" is not). */
static bool
mask_pw_k(const char *key)
{
	return strcmp(key, "pw") == 0 || strcmp(key, "k") == 0;
}

static const struct {
	const char	*in;
	const char	*want;
} masked_cases[] = {
	{ "{\"pw\":\"x\",\"a\":1}", "{\"pw\":\"***\",\"a\":1}" },
	{ "{\"pw\":null,\"k\":{\"q\":[1]}}", "{\"pw\":null,\"k\":\"***\"}" },
	{ "[{\"o\":{\"k\":false}},\"pw\",{\"PW\":2}]", "[{\"o\":{\"k\":\"***\"}},\"pw\",{\"PW\":2}]" },
	{ "\"pw\"", "\"pw\"" },
};

START_TEST(test_emit_masked)
{
	const char	*in = masked_cases[_i].in;
	struct json	*v = parse_ok(in, strlen(in));
	struct buf	 b = BUF_INIT;

	json_emit_masked(v, &b, mask_pw_k, SIZE_MAX);
	ck_assert_str_eq(buf_cstr(&b), masked_cases[_i].want);
	buf_reset(&b);
	json_emit_masked(v, &b, NULL, SIZE_MAX);
	ck_assert_str_eq(buf_cstr(&b), in);
	buf_free(&b);
	json_free(v);
}
END_TEST

/*
 * With a bound, the first max bytes are those of the whole text, and the
 * text is longer than max exactly when the whole one is (so the caller
 * knows to cut); a text within the bound is whole.
 */
START_TEST(test_emit_masked_bounded)
{
	const char	*in = masked_cases[_i].in;
	struct json	*v = parse_ok(in, strlen(in));
	struct buf	 full = BUF_INIT, b = BUF_INIT;
	size_t		 max;

	json_emit_masked(v, &full, mask_pw_k, SIZE_MAX);
	for (max = 0; max <= full.len + 1; max++) {
		buf_reset(&b);
		buf_puts(&b, "prefix");
		json_emit_masked(v, &b, mask_pw_k, max);
		if (full.len <= max) {
			ck_assert_str_eq(buf_cstr(&b) + 6, buf_cstr(&full));
		} else {
			ck_assert_uint_gt(b.len - 6, max);
			ck_assert_int_eq(memcmp(b.data + 6, full.data, max), 0);
		}
	}
	buf_free(&b);
	buf_free(&full);
	json_free(v);
}
END_TEST

/* A large array is not written whole to keep a few bytes of it. */
START_TEST(test_emit_masked_stops_early)
{
	struct buf	 text = BUF_INIT, b = BUF_INIT;
	struct json	*v;
	int		 i;

	buf_putc(&text, '[');
	for (i = 0; i < 100000; i++)
		buf_printf(&text, "%s{\"pw\":\"s%d\",\"x\":%d}", i > 0 ? "," : "", i, i);
	buf_putc(&text, ']');
	v = parse_ok(text.data, text.len);
	json_emit_masked(v, &b, mask_pw_k, 100);
	ck_assert_uint_gt(b.len, 100);
	ck_assert_uint_lt(b.len, 200);
	ck_assert_int_eq(strncmp(buf_cstr(&b), "[{\"pw\":\"***\",\"x\":0},", 20), 0);
	buf_free(&b);
	buf_free(&text);
	json_free(v);
}
END_TEST

START_TEST(test_tree)
{
	struct json		*v = parse_ok(LIT("{\"s\":\"str\",\"n\":12.50,\"b\":true,\"z\":null,"
	    "\"a\":[1,\"x\"],\"o\":{\"k\":\"v\"},\"e\":\"\"}"));
	const struct json	*m;

	ck_assert_int_eq(v->type, JSON_OBJECT);
	ck_assert_uint_eq(v->u.obj.n, 7);
	ck_assert_str_eq(v->u.obj.keys[0], "s");
	ck_assert_str_eq(v->u.obj.keys[6], "e");
	ck_assert_str_eq(json_get_str(v, "s"), "str");
	ck_assert_str_eq(json_get_str(v, "e"), "");
	ck_assert_ptr_null(json_get_str(v, "n"));
	ck_assert_ptr_null(json_get_str(v, "missing"));
	ck_assert_ptr_null(json_get_str(v, "z"));
	m = json_get(v, "n");
	ck_assert_int_eq(m->type, JSON_NUMBER);
	ck_assert_str_eq(m->u.num, "12.50");
	m = json_get(v, "b");
	ck_assert(m->type == JSON_BOOL && m->u.b);
	m = json_get(v, "z");
	ck_assert(m != NULL && m->type == JSON_NULL);
	m = json_get(v, "a");
	ck_assert(m->type == JSON_ARRAY && m->u.arr.n == 2);
	ck_assert_ptr_null(json_get(m, "0"));
	ck_assert_str_eq(m->u.arr.items[1]->u.str.s, "x");
	ck_assert_str_eq(json_get_str(json_get(v, "o"), "k"), "v");
	ck_assert_ptr_null(json_get(NULL, "k"));
	m = json_get(v, "s");
	ck_assert_uint_eq(m->u.str.len, 3);
	json_free(v);
	json_free(NULL);
}
END_TEST

/* --- rejections ----------------------------------------------------------- */

static const struct {
	const char	*name;
	const char	*text;
	size_t		 len;
	size_t		 max_depth;
} reject_cases[] = {
	{ "empty", LIT(""), MAXD },
	{ "whitespace only", LIT(" \n"), MAXD },
	{ "block comment", LIT("{/*c*/\"a\":1}"), MAXD },
	{ "line comment", LIT("[1]//c"), MAXD },
	{ "trailing garbage", LIT("{}x"), MAXD },
	{ "two values", LIT("{} {}"), MAXD },
	{ "an open string after the value", LIT("{\"a\":1}\""), MAXD },
	{ "an open string after an array", LIT("[1] \"x"), MAXD },
	{ "an open string after a number", LIT("1\"\\"), MAXD },
	{ "trailing NUL", LIT("{}\0"), MAXD },
	{ "duplicate key", LIT("{\"a\":1,\"a\":2}"), MAXD },
	{ "duplicate key, other types", LIT("{\"a\":null,\"b\":1,\"a\":[]}"), MAXD },
	{ "duplicate key nested", LIT("{\"o\":{\"k\":1,\"k\":2}}"), MAXD },
	{ "duplicate key in array", LIT("[{\"a\":1},{\"a\":1,\"a\":1}]"), MAXD },
	{ "duplicate via escape", LIT("{\"a\":1,\"\\u0061\":2}"), MAXD },
	{ "bad UTF-8 continuation", LIT("[\"\xC3\x28\"]"), MAXD },
	{ "truncated UTF-8", LIT("[\"\xE4\xB8\"]"), MAXD },
	{ "lone continuation byte", LIT("[\"\x80\"]"), MAXD },
	{ "0xFF byte", LIT("[\"\xFF\"]"), MAXD },
	{ "overlong NUL", LIT("[\"\xC0\x80\"]"), MAXD },
	{ "overlong 3-byte", LIT("[\"\xE0\x80\xAF\"]"), MAXD },
	{ "raw surrogate", LIT("[\"\xED\xA0\x80\"]"), MAXD },
	{ "above U+10FFFF", LIT("[\"\xF4\x90\x80\x80\"]"), MAXD },
	{ "F5 lead byte", LIT("[\"\xF5\x80\x80\x80\"]"), MAXD },
	{ "bad UTF-8 in key", LIT("{\"\xFF\":1}"), MAXD },
	{ "lone high surrogate", LIT("[\"\\uD800\"]"), MAXD },
	{ "high surrogate then char", LIT("[\"\\uD83Dx\"]"), MAXD },
	{ "high surrogate then non-low", LIT("[\"\\uD800\\u0041\"]"), MAXD },
	{ "two high surrogates", LIT("[\"\\uD800\\uD800\"]"), MAXD },
	{ "lone low surrogate", LIT("[\"\\uDC00\"]"), MAXD },
	{ "reversed pair", LIT("[\"\\uDE00\\uD83D\"]"), MAXD },
	{ "lone surrogate in key", LIT("{\"\\udfff\":1}"), MAXD },
	{ "escaped U+0000", LIT("[\"a\\u0000b\"]"), MAXD },
	{ "escaped U+0000 in key", LIT("{\"a\\u0000\":1}"), MAXD },
	{ "raw NUL in string", LIT("[\"a\0b\"]"), MAXD },
	{ "raw control in string", LIT("[\"a\tb\"]"), MAXD },
	{ "truncated object", LIT("{\"a\":"), MAXD },
	{ "truncated object 2", LIT("{\"a\":1"), MAXD },
	{ "truncated array", LIT("[1,2"), MAXD },
	{ "truncated string", LIT("\"abc"), MAXD },
	{ "truncated literal", LIT("tru"), MAXD },
	{ "truncated escape", LIT("[\"\\u00\"]"), MAXD },
	{ "bad escape", LIT("[\"\\x\"]"), MAXD },
	{ "leading zero", LIT("[01]"), MAXD },
	{ "bare fraction", LIT("[.5]"), MAXD },
	{ "dangling point", LIT("[1.]"), MAXD },
	{ "plus sign", LIT("[+1]"), MAXD },
	{ "NaN", LIT("[NaN]"), MAXD },
	{ "single quotes", LIT("{'a':1}"), MAXD },
	{ "unquoted key", LIT("{a:1}"), MAXD },
	{ "trailing comma array", LIT("[1,]"), MAXD },
	{ "trailing comma object", LIT("{\"a\":1,}"), MAXD },
	{ "vertical tab whitespace", LIT("[1,\v2]"), MAXD },
	{ "form feed whitespace", LIT("\f[1]"), MAXD },
	{ "byte order mark", LIT("\xEF\xBB\xBF{}"), MAXD },
	{ "depth 2, max 1", LIT("[[1]]"), 1 },
	{ "container, max 0", LIT("{}"), 0 },
};

START_TEST(test_reject)
{
	char		 err[128];
	struct json	*v;

	memset(err, 'X', sizeof(err));
	v = json_parse(reject_cases[_i].text, reject_cases[_i].len,
	    reject_cases[_i].max_depth, err, sizeof(err));
	ck_assert_msg(v == NULL, "%s: accepted", reject_cases[_i].name);
	ck_assert_msg(memchr(err, '\0', sizeof(err)) != NULL, "%s: err not terminated",
	    reject_cases[_i].name);
	ck_assert_msg(err[0] != '\0', "%s: no reason", reject_cases[_i].name);
	ck_assert_msg(strchr(err, '\n') == NULL, "%s: reason not one line", reject_cases[_i].name);
}
END_TEST

START_TEST(test_reasons)
{
	char		 err[128], tiny[6];
	struct json	*v;

	v = json_parse(LIT("{\"a\":1,\"a\":2}"), MAXD, err, sizeof(err));
	ck_assert_ptr_null(v);
	ck_assert_str_eq(err, "duplicate key in object");
	v = json_parse(LIT("[\"\\u0000\"]"), MAXD, err, sizeof(err));
	ck_assert_ptr_null(v);
	ck_assert_str_eq(err, "string contains U+0000");
	v = json_parse(LIT("[[1]]"), 1, err, sizeof(err));
	ck_assert_ptr_null(v);
	ck_assert_str_eq(err, "nesting too deep");
	v = json_parse(LIT("{}x"), MAXD, err, sizeof(err));
	ck_assert_ptr_null(v);
	ck_assert_str_eq(err, "parse error: trailing garbage");
	v = json_parse(LIT("[\"\\uD800\"]"), MAXD, err, sizeof(err));
	ck_assert_ptr_null(v);
	ck_assert_str_eq(err, "lone surrogate escape");

	/* A short err buffer is truncated, not overrun; NULL is allowed. */
	v = json_parse(LIT("{}x"), MAXD, tiny, sizeof(tiny));
	ck_assert_ptr_null(v);
	ck_assert_str_eq(tiny, "parse");
	v = json_parse(LIT("{}x"), MAXD, NULL, 0);
	ck_assert_ptr_null(v);

	/* Success leaves an empty reason. */
	v = json_parse(LIT("{}"), MAXD, err, sizeof(err));
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(err, "");
	json_free(v);
}
END_TEST

static char *
nest(size_t depth, bool objects)
{
	struct buf	b = BUF_INIT;
	size_t		i;

	for (i = 0; i < depth; i++)
		buf_puts(&b, objects ? "{\"k\":" : "[");
	buf_puts(&b, "1");
	for (i = 0; i < depth; i++)
		buf_putc(&b, objects ? '}' : ']');
	return buf_steal(&b);
}

START_TEST(test_depth)
{
	char		 err[128];
	struct json	*v;
	char		*s;
	int		 objects;

	for (objects = 0; objects <= 1; objects++) {
		s = nest(64, objects);
		v = json_parse(s, strlen(s), 64, err, sizeof(err));
		ck_assert_msg(v != NULL, "depth 64 refused: %s", err);
		json_free(v);
		free(s);

		s = nest(65, objects);
		v = json_parse(s, strlen(s), 64, err, sizeof(err));
		ck_assert_ptr_null(v);
		ck_assert_str_eq(err, "nesting too deep");
		free(s);
	}
}
END_TEST

/* A hostile megabyte of '[' stops at the depth limit. */
START_TEST(test_depth_hostile)
{
	size_t		 n = 1 << 20;
	char		*s = xmalloc(n);
	char		 err[128];
	struct json	*v;

	memset(s, '[', n);
	v = json_parse(s, n, MAXD, err, sizeof(err));
	ck_assert_ptr_null(v);
	ck_assert_str_eq(err, "nesting too deep");
	free(s);
}
END_TEST

/* Objects past the pairwise limit take the sorted path. */
START_TEST(test_dup_large)
{
	struct buf	 b = BUF_INIT;
	char		 err[128];
	struct json	*v;
	size_t		 n, i;
	size_t		 sizes[] = { 16, 17, 33, 1000 };

	for (n = 0; n < NELEM(sizes); n++) {
		buf_reset(&b);
		buf_putc(&b, '{');
		for (i = 0; i < sizes[n]; i++)
			buf_printf(&b, "%s\"k%zu\":%zu", i ? "," : "", i, i);
		buf_putc(&b, '}');
		v = json_parse(b.data, b.len, MAXD, err, sizeof(err));
		ck_assert_msg(v != NULL, "%zu keys refused: %s", sizes[n], err);
		ck_assert_uint_eq(v->u.obj.n, sizes[n]);
		ck_assert_str_eq(json_get(v, "k7")->u.num, "7");
		json_free(v);

		/* Same object with the middle key repeated last. */
		b.len--;
		buf_printf(&b, ",\"k%zu\":0}", sizes[n] / 2);
		v = json_parse(b.data, b.len, MAXD, err, sizeof(err));
		ck_assert_msg(v == NULL, "%zu keys: duplicate accepted", sizes[n]);
		ck_assert_str_eq(err, "duplicate key in object");
	}
	buf_free(&b);
}
END_TEST

/* --- string escaping ------------------------------------------------------ */

static const struct {
	const char	*in;
	size_t		 n;
	const char	*want;
} str_cases[] = {
	{ LIT(""), "\"\"" },
	{ LIT("plain"), "\"plain\"" },
	{ LIT("\0\x01\x1f"), "\"\\u0000\\u0001\\u001F\"" },
	{ LIT("\x0b\x1b\x1a"), "\"\\u000B\\u001B\\u001A\"" },
	{ LIT("\b\t\n\f\r"), "\"\\b\\t\\n\\f\\r\"" },
	{ LIT("a\"b\\c"), "\"a\\\"b\\\\c\"" },
	{ LIT("https://a/b/"), "\"https://a/b/\"" },
	{ LIT("中文张三"), "\"中文张三\"" },
	{ LIT("\x7F \x20~"), "\"\x7F  ~\"" },
	{ LIT("\xE2\x80\xA8"), "\"\xE2\x80\xA8\"" },
	{ LIT("x\"\"y\n"), "\"x\\\"\\\"y\\n\"" },
};

START_TEST(test_put_str)
{
	struct buf	b = BUF_INIT;

	buf_puts(&b, ">");
	json_put_str(&b, str_cases[_i].in, str_cases[_i].n);
	ck_assert_msg(strcmp(buf_cstr(&b) + 1, str_cases[_i].want) == 0,
	    "case %d: got %s", _i, buf_cstr(&b));
	buf_free(&b);
}
END_TEST

/* --- writer --------------------------------------------------------------- */

START_TEST(test_jw_nested)
{
	struct buf	b = BUF_INIT;
	struct jw	w;

	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_key(&w, "resultCode"); jw_str(&w, "000000");
	jw_kv_str(&w, "skipped", NULL);
	jw_kv_str(&w, "resultMsg", "success");
	jw_key(&w, "info");
	jw_arr_begin(&w);
	jw_obj_begin(&w);
	jw_kv_str(&w, "instanceId", "i1");
	jw_key(&w, "appInfo");
	jw_obj_begin(&w);
	jw_kv_str(&w, "frontEndUrl", "https://x/y");
	jw_kv_str(&w, "memo", "中文");
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_obj_begin(&w);
	jw_kv_str(&w, "nothing", NULL);
	jw_obj_end(&w);
	jw_obj_begin(&w);
	jw_kv_str(&w, "instanceId", "i2");
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_key(&w, "n"); jw_int(&w, -42);
	jw_key(&w, "min"); jw_int(&w, -9223372036854775807LL - 1);
	jw_key(&w, "ok"); jw_bool(&w, true);
	jw_key(&w, "no"); jw_bool(&w, false);
	jw_key(&w, "nil"); jw_null(&w);
	jw_key(&w, "raw"); jw_raw(&w, "12.50");
	jw_key(&w, "arr");
	jw_arr_begin(&w);
	jw_arr_begin(&w); jw_arr_end(&w);
	jw_obj_begin(&w); jw_obj_end(&w);
	jw_raw(&w, "{\"pre\":1}");
	jw_arr_end(&w);
	jw_key(&w, "q\"k"); jw_str(&w, "a\"b\\/\x01");
	jw_key(&w, "nul"); jw_strn(&w, "a\0b", 3);
	jw_key(&w, "strnull"); jw_str(&w, NULL);
	jw_obj_end(&w);
	ck_assert_int_eq(w.depth, 0);
	ck_assert_str_eq(buf_cstr(&b),
	    "{\"resultCode\":\"000000\",\"resultMsg\":\"success\",\"info\":["
	    "{\"instanceId\":\"i1\",\"appInfo\":{\"frontEndUrl\":\"https://x/y\",\"memo\":\"中文\"}},"
	    "{},{\"instanceId\":\"i2\"}],"
	    "\"n\":-42,\"min\":-9223372036854775808,\"ok\":true,\"no\":false,\"nil\":null,"
	    "\"raw\":12.50,\"arr\":[[],{},{\"pre\":1}],"
	    "\"q\\\"k\":\"a\\\"b\\\\/\\u0001\",\"nul\":\"a\\u0000b\",\"strnull\":null}");
	buf_free(&b);
}
END_TEST

START_TEST(test_jw_array_root)
{
	struct buf	b = BUF_INIT;
	struct jw	w;
	struct json	*v;

	jw_init(&w, &b);
	jw_arr_begin(&w);
	jw_int(&w, 1);
	jw_str(&w, "a");
	jw_bool(&w, true);
	jw_null(&w);
	jw_arr_begin(&w);
	jw_int(&w, 0);
	jw_arr_end(&w);
	jw_arr_end(&w);
	ck_assert_str_eq(buf_cstr(&b), "[1,\"a\",true,null,[0]]");

	/* Appends after what the buffer held; a lone scalar has no comma. */
	buf_reset(&b);
	buf_puts(&b, "x=");
	jw_init(&w, &b);
	jw_str(&w, "v");
	ck_assert_str_eq(buf_cstr(&b), "x=\"v\"");

	/* The writer's output parses back to the same bytes. */
	buf_reset(&b);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kv_str(&w, "a", "\t/é");
	jw_key(&w, "b"); jw_arr_begin(&w); jw_obj_begin(&w); jw_obj_end(&w); jw_arr_end(&w);
	jw_obj_end(&w);
	v = parse_ok(b.data, b.len);
	{
		struct buf	b2 = BUF_INIT;

		json_emit(v, &b2);
		ck_assert_str_eq(buf_cstr(&b2), buf_cstr(&b));
		buf_free(&b2);
	}
	json_free(v);
	buf_free(&b);
}
END_TEST

/* json_quote_bare_keys: the Kit lists of the doc examples (reading 7). */
static const struct {
	const char	*in;
	const char	*out;
} bare_cases[] = {
	{ "[{orgCode:\"00000001\", name:\"产品部\", parentCode:\"265789314\" }]",
	  "[{\"orgCode\":\"00000001\", \"name\":\"产品部\", \"parentCode\":\"265789314\" }]" },
	/* Valid JSON passes unchanged, strings are never touched. */
	{ "[{\"a\":\"b:c, {d:e}\",\"n\":1}]", "[{\"a\":\"b:c, {d:e}\",\"n\":1}]" },
	{ "{a:{b_2:[true, false, null]}, $c : 1}",
	  "{\"a\":{\"b_2\":[true, false, null]}, \"$c\" : 1}" },
	/* Values and array items stay as they are (the parser judges them). */
	{ "[abc, {k:v}]", "[abc, {\"k\":v}]" },
	{ "{\"esc\\\"q\":1,x:2}", "{\"esc\\\"q\":1,\"x\":2}" },
	{ "", "" },
};

START_TEST(test_bare_keys)
{
	struct buf	 b = BUF_INIT;
	struct json	*v;
	char		 err[128];

	json_quote_bare_keys(bare_cases[_i].in, strlen(bare_cases[_i].in), &b);
	ck_assert_str_eq(buf_cstr(&b), bare_cases[_i].out);
	if (_i == 0 || _i == 2) {
		v = json_parse(b.data, b.len, 8, err, sizeof(err));
		ck_assert_msg(v != NULL, "%s", err);
		json_free(v);
	}
	buf_free(&b);
}
END_TEST

/* --- the forms of Huawei's sample ---------------------------------------- */

/*
 * Jackson's re-emission of a number read into an Object. The "want"
 * column is what `Double.toString(Double.parseDouble(text))` prints on
 * OpenJDK 17 for a number with a fraction or an exponent, and
 * `new BigInteger(text).toString()` for an integer (Jackson's Integer,
 * Long or BigInteger writes the same digits), except where noted.
 */
static const struct {
	const char	*text;
	const char	*want;
} java_cases[] = {
	{ "1e3", "1000.0" },
	{ "1.50", "1.5" },
	{ "1.0000", "1.0" },
	{ "2E-2", "0.02" },
	{ "1E+2", "100.0" },
	{ "12.50", "12.5" },
	{ "0.1", "0.1" },
	{ "100.0", "100.0" },
	{ "9999999.0", "9999999.0" },		/* last plain one */
	{ "10000000.0", "1.0E7" },
	{ "1e7", "1.0E7" },
	{ "12345678.9", "1.23456789E7" },
	{ "0.001", "0.001" },			/* smallest plain one */
	{ "0.000999", "9.99E-4" },
	{ "1.0E-4", "1.0E-4" },
	{ "123456.789e3", "1.23456789E8" },
	{ "-1.5E-7", "-1.5E-7" },
	{ "3.14159", "3.14159" },
	{ "0.30000000000000004", "0.30000000000000004" },
	{ "5e-324", "4.9E-324" },		/* two digits, as Java */
	{ "1.7976931348623157e308", "1.7976931348623157E308" },
	{ "1e16", "1.0E16" },
	{ "1e22", "1.0E22" },
	/*
	 * The fewest digits that read back, as Java 19 and later; Java 17
	 * writes 9.999999999999999E22 here. It spends a digit more on some
	 * doubles of 16 or 17 digits (none of 600000 random doubles below
	 * 1e16, but some powers of two: 2^-31 as 4.6566128730773926E-10).
	 */
	{ "1e23", "1.0E23" },
	{ "-0.0", "-0.0" },
	{ "-0e5", "-0.0" },
	{ "0e0", "0.0" },
	{ "1e-400", "0.0" },			/* underflows to 0, as Java */
	{ "1e400", "1e400" },			/* no double: kept (not Java) */
	{ "12", "12" },
	{ "-12", "-12" },
	{ "-0", "0" },				/* Integer 0 */
	{ "9223372036854775807", "9223372036854775807" },
	{ "123456789012345678901234567890", "123456789012345678901234567890" },
};

START_TEST(test_number_java)
{
	struct buf	 b = BUF_INIT;

	json_number_java(java_cases[_i].text, &b);
	ck_assert_msg(strcmp(buf_cstr(&b), java_cases[_i].want) == 0, "%s: got %s, want %s",
	    java_cases[_i].text, buf_cstr(&b), java_cases[_i].want);
	buf_free(&b);
}
END_TEST

static const struct {
	const char	*name;
	enum json_form	 form;
	const char	*body;
	const char	*want;		/* NULL: the same as json_canonical */
} form_cases[] = {
	{ "strings: numbers and booleans as the strings of their text", JSON_FORM_STRINGS,
	  "{\"z\":true,\"x\":12.50,\"n\":-0,\"a\":\"s\",\"f\":false,\"e\":1e3,\"k\":null}",
	  "{\"a\":\"s\",\"e\":\"1e3\",\"f\":\"false\",\"n\":\"-0\",\"x\":\"12.50\",\"z\":\"true\"}" },
	{ "strings: nested values stay as received", JSON_FORM_STRINGS,
	  "{\"p\":{\"b\":1.50,\"a\":true},\"q\":[1,true],\"n\":7}",
	  "{\"n\":\"7\",\"p\":{\"b\":1.50,\"a\":true},\"q\":[1,true]}" },
	{ "strings: only strings, nothing to do", JSON_FORM_STRINGS,
	  "{\"b\":\"1\",\"a\":\"x\",\"c\":null}", NULL },
	{ "strings: numbers only nested, nothing to do", JSON_FORM_STRINGS,
	  "{\"p\":{\"b\":1.50},\"q\":[1,true]}", NULL },
	{ "doubles: every number at any depth, booleans kept", JSON_FORM_DOUBLES,
	  "{\"x\":1e3,\"b\":true,\"a\":[1.50,{\"y\":2E-2,\"z\":-0}],\"n\":-0,\"i\":7,\"c\":\"1.50\"}",
	  "{\"a\":[1.5,{\"y\":0.02,\"z\":0}],\"b\":true,\"c\":\"1.50\",\"i\":7,\"n\":0,\"x\":1000.0}" },
	{ "doubles: 1.0000 and 1e7", JSON_FORM_DOUBLES,
	  "{\"v\":1.0000,\"w\":1e7}", "{\"v\":1.0,\"w\":1.0E7}" },
	{ "doubles: integers and booleans only, nothing to do", JSON_FORM_DOUBLES,
	  "{\"flag\":1,\"testFlag\":0,\"ok\":true,\"l\":[1,2,{\"n\":-1}]}", NULL },
	{ "doubles: strings only, nothing to do", JSON_FORM_DOUBLES,
	  "{\"a\":\"1.50\"}", NULL },
	{ "doubles: a root that is not an object", JSON_FORM_DOUBLES, "[1.50]", NULL },
	{ "strings: a root that is not an object", JSON_FORM_STRINGS, "12.50", NULL },
};

START_TEST(test_canonical_form)
{
	struct json	*v = parse_ok(form_cases[_i].body, strlen(form_cases[_i].body));
	struct buf	 b = BUF_INIT;
	bool		 changed;

	changed = json_canonical_form(v, form_cases[_i].form, &b);
	if (form_cases[_i].want == NULL) {
		ck_assert_msg(!changed, "%s: got %s", form_cases[_i].name, buf_cstr(&b));
		ck_assert_uint_eq(b.len, 0);
	} else {
		ck_assert_msg(changed, "%s: no form", form_cases[_i].name);
		ck_assert_msg(strcmp(buf_cstr(&b), form_cases[_i].want) == 0,
		    "%s: got %s", form_cases[_i].name, buf_cstr(&b));
	}
	buf_free(&b);
	json_free(v);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("json", &tc);

	tcase_add_loop_test(tc, test_bare_keys, 0, (int)NELEM(bare_cases));

	tcase_add_loop_test(tc, test_canonical, 0, (int)NELEM(canon_cases));
	tcase_add_loop_test(tc, test_number_java, 0, (int)NELEM(java_cases));
	tcase_add_loop_test(tc, test_canonical_form, 0, (int)NELEM(form_cases));
	tcase_add_loop_test(tc, test_emit, 0, (int)NELEM(emit_cases));
	tcase_add_loop_test(tc, test_emit_masked, 0, (int)NELEM(masked_cases));
	tcase_add_loop_test(tc, test_emit_masked_bounded, 0, (int)NELEM(masked_cases));
	tcase_add_test(tc, test_emit_masked_stops_early);
	tcase_add_test(tc, test_tree);
	tcase_add_loop_test(tc, test_reject, 0, (int)NELEM(reject_cases));
	tcase_add_test(tc, test_reasons);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_depth_hostile);
	tcase_add_test(tc, test_dup_large);
	tcase_add_loop_test(tc, test_put_str, 0, (int)NELEM(str_cases));
	tcase_add_test(tc, test_jw_nested);
	tcase_add_test(tc, test_jw_array_root);
	return unit_run(s);
}
