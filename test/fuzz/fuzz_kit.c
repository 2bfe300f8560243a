/*
 * fuzz_kit: the Kit dialects' parsing (api/kit.c): the lists (userList,
 * orgInfoList) given as arrays or as strings holding JSON with bare keys
 * (json_quote_bare_keys, kit_list), and the V1 Kit authToken over the
 * sorted top-level members (kit_v1_payload, verify_kit_v1).
 *
 * Input: a Kit body. It is also read as the text of a list member.
 *
 * Properties: quoting bare keys leaves valid JSON unchanged; a list
 * kit_list accepts is an array of at most max items; a token made over
 * the blank-skipping or the blank-keeping payload is accepted; a
 * timeStamp or currentSyncTime kit_stamp takes is a real instant of 17
 * digits, not beyond now + the window + a day.
 */
#include "api/kit.h"
#include "api/verify.h"
#include "common/json.h"
#include "common/util.h"
#include "crypto/sign.h"
#include "fuzz.h"

#define KEY		"fuzz-v1-key"
#define DEPTH		32	/* KIT_MAX_DEPTH of api/kit.c */
#define LIST_MAX	500	/* KIT_USERS_MAX */

FUZZ_QUIET_LOG()

static void
check_list(const struct json *v, const char *name)
{
	struct json		*owned = NULL;
	const struct json	*list;
	char			 err[200];

	list = kit_list(v, name, LIST_MAX, &owned, err, sizeof(err));
	if (list != NULL)
		FUZZ_ASSERT(list->type == JSON_ARRAY && list->u.arr.n <= LIST_MAX);
	else
		FUZZ_ASSERT(err[0] != '\0');
	json_free(owned);
}

static void
check_v1_token(const struct json *obj)
{
	struct buf	 payload = BUF_INIT;
	const char	*ts = json_get_str(obj, "timeStamp");
	char		 good[SIGN_B64_LEN + 1];
	int		 pass;

	if (ts == NULL)
		ts = "";
	(void)verify_kit_v1(KEY, obj, ts, "not-a-token");
	for (pass = 0; pass < 2; pass++) {
		buf_reset(&payload);
		kit_v1_payload(obj, pass == 0, &payload);
		sign_v1_token(KEY, ts, buf_cstr(&payload), payload.len, good);
		FUZZ_ASSERT(verify_kit_v1(KEY, obj, ts, good));
	}
	buf_free(&payload);
}

/* A fixed clock: 2026-12-03T04:00:00Z, and the default window. */
#define NOW_MS		1796270400000LL
#define WINDOW_S	60

static void
check_stamp(const struct json *v)
{
	char	 out[18];
	int64_t	 ms;

	if (kit_stamp(v, NOW_MS, WINDOW_S, out) != NULL)
		return;
	FUZZ_ASSERT(strlen(out) == 17 && parse_mkp_time(out, &ms));
	FUZZ_ASSERT(ms - KIT_UTC8_MS <= NOW_MS + (WINDOW_S + KIT_STAMP_AHEAD_S) * 1000);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json	*tree, text;
	struct buf	 quoted = BUF_INIT;
	char		*s = fuzz_cstr(data, size), perr[128];
	size_t		 i;

	tree = json_parse(s, size, DEPTH, perr, sizeof(perr));
	json_quote_bare_keys(s, size, &quoted);
	if (tree != NULL)
		FUZZ_ASSERT(quoted.len == size && memcmp(quoted.data, s, size) == 0);
	buf_free(&quoted);

	if (tree != NULL && tree->type == JSON_OBJECT) {
		check_v1_token(tree);
		check_stamp(json_get(tree, "timeStamp"));
		check_stamp(json_get(tree, "currentSyncTime"));
		for (i = 0; i < tree->u.obj.n; i++)
			check_list(tree->u.obj.vals[i], tree->u.obj.keys[i]);
	}
	json_free(tree);

	/* The input as the string value of a list member. */
	memset(&text, 0, sizeof(text));
	text.type = JSON_STRING;
	text.u.str.s = s;
	text.u.str.len = strlen(s);
	check_list(&text, "userList");

	free(s);
	return 0;
}
