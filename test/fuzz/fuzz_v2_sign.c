/*
 * fuzz_v2_sign: the V2 signature check (api/verify.c) of the basic and
 * the Kit V2 dialects, with what it stands on: the query-string reader
 * (query_get), the JSON parser, the canonical payload (json_canonical)
 * and the field tables (common/fields.c).
 *
 * Input: the query string on the first line ("signature=..&timestamp=..
 * &nonce=.."), the body after it.
 *
 * Properties checked besides "no crash, no leak, no UB":
 *   - the canonical payload and the compact emission parse again, and
 *     are fixed points (canonical(parse(canonical(x))) == canonical(x));
 *   - a signature made over the canonical payload, or over the raw
 *     bytes, or over the form Huawei's sample signs (json_canonical_form)
 *     is accepted;
 *   - that form parses again and is a fixed point too.
 */
#include "api/request.h"
#include "api/verify.h"
#include "common/fields.h"
#include "common/json.h"
#include "crypto/sign.h"
#include "fuzz.h"

#define KEY	"fuzz-basic-key"
#define DEPTH	32	/* V2_MAX_DEPTH of api/v2_basic.c */

FUZZ_QUIET_LOG()

static const char *const scenes[] = { "RENEWAL", "TRIAL_TO_FORMAL", NULL };
static const struct field_rule rules[] = {
	{ "instanceId", true, FK_STRING, 64, NULL },
	{ "scene", false, FK_ENUM, 64, scenes },
	{ "expireTime", false, FK_TIME, 20, NULL },
	{ "productInfo", false, FK_OBJECT, 0, NULL },
	{ "instanceIds", false, FK_IDLIST, 64, NULL },
};

static void
check_fields(const struct json *tree)
{
	struct field_values	 f;
	char			 err[200], *store = NULL;
	const char		*ids[IDLIST_MAX];
	bool			 is_test;
	size_t			 n;

	if (tree->type != JSON_OBJECT)
		return;
	if (fields_check(tree, rules, sizeof(rules) / sizeof(rules[0]), &f, err, sizeof(err)))
		FUZZ_ASSERT(f.str[0] != NULL && utf8_chars(f.str[0]) <= 64);
	else
		FUZZ_ASSERT(err[0] != '\0');
	(void)fields_test_flag(tree, &is_test);
	if (json_get_str(tree, "instanceId") != NULL &&
	    fields_split_ids(json_get_str(tree, "instanceId"), 64, &store, ids, &n, err,
	    sizeof(err)))
		FUZZ_ASSERT(n >= 1 && n <= IDLIST_MAX);
	free(store);
}

/* The canonical payload and the emission are stable under a re-parse. */
static void
check_round_trip(const struct json *tree)
{
	struct buf	 c1 = BUF_INIT, c2 = BUF_INIT, e1 = BUF_INIT, e2 = BUF_INIT;
	struct json	*again;
	char		 perr[128];

	json_canonical(tree, &c1);
	again = json_parse(buf_cstr(&c1), c1.len, DEPTH, perr, sizeof(perr));
	FUZZ_ASSERT(again != NULL);
	json_canonical(again, &c2);
	FUZZ_ASSERT(c1.len == c2.len && memcmp(c1.data, c2.data, c1.len) == 0);
	json_free(again);

	json_emit(tree, &e1);
	again = json_parse(buf_cstr(&e1), e1.len, DEPTH, perr, sizeof(perr));
	FUZZ_ASSERT(again != NULL);
	json_emit(again, &e2);
	FUZZ_ASSERT(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0);
	json_free(again);

	buf_free(&c1);
	buf_free(&c2);
	buf_free(&e1);
	buf_free(&e2);
}

/*
 * The sample's form f parses again and reads the same in that form: the
 * form of its parse, or its canonical payload when nothing is left that
 * the form would change (-0 became 0, numbers became strings).
 */
static void
check_form_again(const struct buf *f, enum json_form form)
{
	struct buf	 f2 = BUF_INIT;
	struct json	*again;
	char		 perr[128];

	again = json_parse(buf_cstr(f), f->len, DEPTH, perr, sizeof(perr));
	FUZZ_ASSERT(again != NULL);
	if (!json_canonical_form(again, form, &f2))
		json_canonical(again, &f2);
	FUZZ_ASSERT(f->len == f2.len && memcmp(f->data, f2.data, f->len) == 0);
	json_free(again);
	buf_free(&f2);
}

static void
check_kind(enum verify_v2_kind kind, const char *body, size_t len, const char *nonce,
    const char *ts, const char *sig)
{
	enum json_form	 form = kind == VERIFY_V2_KIT ? JSON_FORM_DOUBLES : JSON_FORM_STRINGS;
	struct json	*tree = NULL, *again = NULL;
	struct buf	 canon = BUF_INIT;
	char		 perr[128], good[SIGN_HEX_LEN + 1];
	bool		 ok;

	ok = verify_v2(kind, KEY, body, len, DEPTH, nonce, ts, sig, &tree, perr, sizeof(perr));
	(void)ok;
	json_free(tree);

	/* Over the raw bytes: always accepted. */
	if (kind == VERIFY_V2_KIT)
		sign_v2_kit(KEY, body, len, nonce, ts, good);
	else
		sign_v2_basic(KEY, body, len, nonce, ts, good);
	FUZZ_ASSERT(verify_v2(kind, KEY, body, len, DEPTH, nonce, ts, good, &tree, perr,
	    sizeof(perr)));
	if (tree == NULL) {
		FUZZ_ASSERT(perr[0] != '\0');
		return;
	}
	/* Over the canonical payload: accepted too. */
	json_canonical(tree, &canon);
	if (kind == VERIFY_V2_KIT)
		sign_v2_kit(KEY, canon.data, canon.len, nonce, ts, good);
	else
		sign_v2_basic(KEY, canon.data, canon.len, nonce, ts, good);
	FUZZ_ASSERT(verify_v2(kind, KEY, body, len, DEPTH, nonce, ts, good, &again, perr,
	    sizeof(perr)));
	json_free(again);
	/* Over the sample's form, when the body has one: accepted too. */
	buf_reset(&canon);
	if (json_canonical_form(tree, form, &canon)) {
		if (kind == VERIFY_V2_KIT)
			sign_v2_kit(KEY, canon.data, canon.len, nonce, ts, good);
		else
			sign_v2_basic(KEY, canon.data, canon.len, nonce, ts, good);
		FUZZ_ASSERT(verify_v2_tree(kind, KEY, tree, body, len, nonce, ts, good));
		check_form_again(&canon, form);
	}
	json_free(tree);
	buf_free(&canon);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 sig = BUF_INIT, ts = BUF_INIT, nonce = BUF_INIT;
	struct json	*tree;
	char		*query, *body, perr[128];
	bool		 bad;

	query = fuzz_line(&data, &size);
	body = fuzz_cstr(data, size);
	(void)query_get(query, "signature", &sig, &bad);
	(void)query_get(query, "timestamp", &ts, &bad);
	(void)query_get(query, "nonce", &nonce, &bad);

	check_kind(VERIFY_V2_BASIC, body, size, buf_cstr(&nonce), buf_cstr(&ts),
	    buf_cstr(&sig));
	check_kind(VERIFY_V2_KIT, body, size, buf_cstr(&nonce), buf_cstr(&ts),
	    buf_cstr(&sig));

	tree = json_parse(body, size, DEPTH, perr, sizeof(perr));
	if (tree != NULL) {
		check_round_trip(tree);
		check_fields(tree);
		json_free(tree);
	}
	buf_free(&sig);
	buf_free(&ts);
	buf_free(&nonce);
	free(query);
	free(body);
	return 0;
}
