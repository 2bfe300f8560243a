/*
 * fuzz_v1_query: the V1 basic query string (api/v1_query.c) and its
 * authToken (api/verify.c): decoding, the canonical string, the
 * saasExtendParams decoding (base64 of JSON) and the JSON object the
 * adapter makes of the parameters.
 *
 * Input: a query string, as after '?'.
 *
 * Properties: every parsed name is found again with its value (names are
 * unique); a token made with the canonical string and the call's
 * timeStamp is accepted, and no other.
 */
#include "api/v1_query.h"
#include "api/verify.h"
#include "common/json.h"
#include "common/util.h"
#include "crypto/sign.h"
#include "fuzz.h"

#define KEY	"fuzz-v1-key"

FUZZ_QUIET_LOG()

/* The parameters as a JSON object of strings, as v1_basic.c params_tree does. */
static void
check_tree(const struct v1_params *ps)
{
	struct buf	 text = BUF_INIT;
	struct json	*tree;
	struct jw	 w;
	char		 perr[128];
	size_t		 i;

	jw_init(&w, &text);
	jw_obj_begin(&w);
	for (i = 0; i < ps->n; i++) {
		if (strcmp(ps->p[i].name, "authToken") == 0)
			continue;
		if (strcmp(ps->p[i].name, "saasExtendParams") == 0 && ps->p[i].value[0] != '\0')
			v1_put_extend_params(&w, ps->p[i].value);
		else
			jw_kv_str(&w, ps->p[i].name, ps->p[i].value);
	}
	jw_obj_end(&w);
	tree = json_parse(buf_cstr(&text), text.len, 16, perr, sizeof(perr));
	json_free(tree);
	buf_free(&text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct v1_params ps;
	struct buf	 canon = BUF_INIT, raw = BUF_INIT;
	char		*query = fuzz_cstr(data, size), err[160], good[SIGN_B64_LEN + 1];
	const char	*ts, *token;
	int64_t		 ms;
	size_t		 i;

	if (!v1_params_parse(query, &ps, err, sizeof(err))) {
		FUZZ_ASSERT(err[0] != '\0');
		free(query);
		return 0;
	}
	FUZZ_ASSERT(ps.n <= V1_PARAMS_MAX);
	for (i = 0; i < ps.n; i++) {
		FUZZ_ASSERT(ps.p[i].name[0] != '\0');
		FUZZ_ASSERT(v1_params_get(&ps, ps.p[i].name) == ps.p[i].value);
	}
	v1_canonical(&ps, &canon);

	ts = v1_params_get(&ps, "timeStamp");
	token = v1_params_get(&ps, "authToken");
	if (ts != NULL)
		(void)parse_mkp_time(ts, &ms);
	if (token != NULL && sign_b64_decode(token, &raw))
		FUZZ_ASSERT(raw.len <= strlen(token));
	(void)verify_v1_query(KEY, &ps);
	if (ts != NULL && *ts != '\0' && token != NULL && *token != '\0') {
		sign_v1_token(KEY, ts, buf_cstr(&canon), canon.len, good);
		FUZZ_ASSERT(verify_v1_query(KEY, &ps) == (strcmp(good, token) == 0));
	}
	check_tree(&ps);

	buf_free(&canon);
	buf_free(&raw);
	v1_params_free(&ps);
	free(query);
	return 0;
}
