/*
 * verify.c: see verify.h. The pipeline (call.c) keeps the checks around
 * these (time window, nonce, answers).
 */
#include <stdlib.h>
#include <string.h>

#include "api/verify.h"
#include "common/buf.h"
#include "common/util.h"
#include "crypto/seal.h"
#include "crypto/sign.h"

static void
verify_sign(enum verify_v2_kind kind, const char *key, const void *data, size_t len,
    const char *nonce, const char *ts, char out[SIGN_HEX_LEN + 1])
{
	if (kind == VERIFY_V2_KIT)
		sign_v2_kit(key, data, len, nonce, ts, out);
	else
		sign_v2_basic(key, data, len, nonce, ts, out);
}

bool
verify_v2_tree(enum verify_v2_kind kind, const char *key, const struct json *tree,
    const char *body, size_t len, const char *nonce, const char *ts, const char *sig)
{
	struct buf	 canon = BUF_INIT;
	char		 expected[SIGN_HEX_LEN + 1];
	bool		 match = false;

	if (tree != NULL) {
		json_canonical(tree, &canon);
		verify_sign(kind, key, canon.data != NULL ? canon.data : "", canon.len, nonce, ts,
		    expected);
		match = sign_hex_equal(expected, sig);
		buf_free(&canon);
	}
	if (!match) {
		/* Reading 1: a signature over the raw bytes is accepted too. */
		verify_sign(kind, key, body, len, nonce, ts, expected);
		match = sign_hex_equal(expected, sig);
	}
	/*
	 * Then the form Huawei's sample signs, when the body has a member
	 * that sample writes differently (a number, a boolean): one more
	 * HMAC for those bodies only.
	 */
	if (!match && tree != NULL && json_canonical_form(tree, kind == VERIFY_V2_KIT ?
	    JSON_FORM_DOUBLES : JSON_FORM_STRINGS, &canon)) {
		verify_sign(kind, key, canon.data, canon.len, nonce, ts, expected);
		match = sign_hex_equal(expected, sig);
		buf_free(&canon);
	}
	return match;
}

bool
verify_v2(enum verify_v2_kind kind, const char *key, const char *body, size_t len,
    size_t max_depth, const char *nonce, const char *ts, const char *sig,
    struct json **tree, char *perr, size_t perrlen)
{
	*tree = json_parse(body, len, max_depth, perr, perrlen);
	return verify_v2_tree(kind, key, *tree, body, len, nonce, ts, sig);
}

bool
verify_v1_query(const char *key, const struct v1_params *ps)
{
	const char	*token = v1_params_get(ps, "authToken");
	const char	*ts = v1_params_get(ps, "timeStamp");
	struct buf	 canon = BUF_INIT;
	char		 expected[SIGN_B64_LEN + 1];
	bool		 match;

	if (token == NULL || *token == '\0' || ts == NULL || *ts == '\0')
		return false;
	v1_canonical(ps, &canon);
	sign_v1_token(key, ts, buf_cstr(&canon), canon.len, expected);
	buf_free(&canon);
	match = sign_b64_equal(expected, token);
	wipe_str(expected);
	return match;
}

void
kit_v1_payload(const struct json *obj, bool skip_blank, struct buf *out)
{
	const char	**keys;
	const struct json **vals;
	size_t		 i, j, n = obj->u.obj.n, k = 0;

	keys = xcalloc(n + 1, sizeof(*keys));
	vals = xcalloc(n + 1, sizeof(*vals));
	for (i = 0; i < n; i++) {
		const char		*key = obj->u.obj.keys[i];
		const struct json	*v = obj->u.obj.vals[i];

		if (v->type == JSON_NULL)
			continue;
		if (skip_blank && v->type == JSON_STRING &&
		    strspn(v->u.str.s, " \t\r\n\f\v") == v->u.str.len)
			continue;
		/* Insertion sort by key, byte order (the keys are few). */
		for (j = k; j > 0 && strcmp(keys[j - 1], key) > 0; j--) {
			keys[j] = keys[j - 1];
			vals[j] = vals[j - 1];
		}
		keys[j] = key;
		vals[j] = v;
		k++;
	}
	for (i = 0; i < k; i++) {
		if (i > 0)
			buf_putc(out, '&');
		buf_puts(out, keys[i]);
		buf_putc(out, '=');
		switch (vals[i]->type) {
		case JSON_STRING:
			buf_append(out, vals[i]->u.str.s, vals[i]->u.str.len);
			break;
		case JSON_NUMBER:
			buf_puts(out, vals[i]->u.num);
			break;
		case JSON_BOOL:
			buf_puts(out, vals[i]->u.b ? "true" : "false");
			break;
		default:
			json_emit(vals[i], out);
			break;
		}
	}
	free(keys);
	free(vals);
}

bool
verify_kit_v1(const char *key, const struct json *obj, const char *ts, const char *token)
{
	struct buf	 data = BUF_INIT;
	char		 expected[SIGN_B64_LEN + 1];
	bool		 match = false;
	int		 pass;

	for (pass = 0; pass < 2 && !match; pass++) {
		buf_reset(&data);
		kit_v1_payload(obj, pass == 0, &data);
		sign_v1_token(key, ts, buf_cstr(&data), data.len, expected);
		match = sign_b64_equal(expected, token);
	}
	buf_free(&data);
	return match;
}
