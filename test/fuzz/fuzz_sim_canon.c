/*
 * fuzz_sim_canon: mkp-sim's canonicaliser (src/cli/sim_canon.c) against
 * mkpd's (json_parse and json_canonical; verify_kit_v1 for the V1 Kit
 * payload), over any body.
 *
 * Input: the body.
 *
 * Properties checked besides "no crash, no leak, no UB":
 *   - both accept the same bodies (strict JSON, nesting within
 *     SIM_CANON_DEPTH);
 *   - both make the same canonical bytes of what they accept;
 *   - mkpd's V1 Kit verifier takes a token made over mkp-sim's payload.
 */
#include "api/verify.h"
#include "cli/sim_canon.h"
#include "common/json.h"
#include "crypto/sign.h"
#include "fuzz.h"

#define KEY	"fuzz-v1-key"
#define STAMP	"20220413093539534"

FUZZ_QUIET_LOG()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 mine = BUF_INIT, theirs = BUF_INIT;
	struct json	*tree;
	char		*body, perr[128], tok[SIGN_B64_LEN + 1];
	bool		 ok;

	body = fuzz_cstr(data, size);
	tree = json_parse(body, size, SIM_CANON_DEPTH, perr, sizeof(perr));
	ok = sim_canon_v2(body, size, &mine);
	FUZZ_ASSERT(ok == (tree != NULL));
	if (tree != NULL) {
		json_canonical(tree, &theirs);
		FUZZ_ASSERT(mine.len == theirs.len &&
		    memcmp(buf_cstr(&mine), buf_cstr(&theirs), mine.len) == 0);
		buf_reset(&mine);
		ok = sim_canon_kit_v1(body, size, &mine);
		FUZZ_ASSERT(ok == (tree->type == JSON_OBJECT));
		if (ok) {
			sign_v1_token(KEY, STAMP, buf_cstr(&mine), mine.len, tok);
			FUZZ_ASSERT(verify_kit_v1(KEY, tree, STAMP, tok));
		}
	} else
		FUZZ_ASSERT(!sim_canon_kit_v1(body, size, &mine));
	json_free(tree);
	buf_free(&mine);
	buf_free(&theirs);
	free(body);
	return 0;
}
