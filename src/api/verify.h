/*
 * verify.h: the signature checks of the inbound dialects as pure
 * functions (no request, no store, no clock), so that the adapters and
 * the fuzz targets (test/fuzz) run the very same code.
 */
#ifndef MKP_VERIFY_H
#define MKP_VERIFY_H

#include <stddef.h>

#include "api/v1_query.h"
#include "common/buf.h"
#include "common/defs.h"
#include "common/json.h"

/* Which HMAC layout a V2 signature uses (crypto/sign.h). */
enum verify_v2_kind {
	VERIFY_V2_BASIC,	/* signature query parameter, sign_v2_basic */
	VERIFY_V2_KIT,		/* x-sign header, sign_v2_kit */
};

/*
 * A V2 body check (reading 1): parses the len bytes of body (not
 * necessarily NUL-terminated, never NULL) into *tree, NULL when not JSON
 * (perr says why), and compares sig with the signature of the canonical
 * payload, then with the one of the raw bytes, then, for a body with
 * numbers or booleans, with the payload Huawei's sample signs
 * (json_canonical_form: JSON_FORM_STRINGS for the basic dialect,
 * JSON_FORM_DOUBLES for Kit). True when one matches; *tree is set in
 * every case and the caller frees it.
 */
bool	 verify_v2(enum verify_v2_kind, const char *key, const char *body, size_t len,
	    size_t max_depth, const char *nonce, const char *ts, const char *sig,
	    struct json **tree, char *perr, size_t perrlen) MUSTCHECK;

/*
 * The same check of a body already parsed (tree NULL when it is not
 * JSON): for a second key, the previous one during a rotation's overlap.
 */
bool	 verify_v2_tree(enum verify_v2_kind, const char *key, const struct json *tree,
	    const char *body, size_t len, const char *nonce, const char *ts,
	    const char *sig) MUSTCHECK;

/*
 * The V1 basic authToken (spec/kit-and-v1.md §1.1): the parameters'
 * authToken against the one of v1_canonical, keyed with key + timeStamp.
 * False when either parameter is missing or empty.
 */
bool	 verify_v1_query(const char *key, const struct v1_params *) MUSTCHECK;

/*
 * The V1 Kit authToken's signed string (spec/kit-and-v1.md §1.2): the
 * object's top-level members sorted by key (byte order) as "k=v&k=v",
 * strings as their value, numbers as received, booleans as true/false,
 * nested values as compact JSON; null members left out, and with
 * skip_blank also strings that are empty or only whitespace. Appends to out.
 */
void	 kit_v1_payload(const struct json *obj, bool skip_blank, struct buf *out);

/*
 * The V1 Kit authToken (§1.2) of a JSON object: the blank-skipping
 * payload first (Huawei's sample), then the one keeping blanks, keyed
 * with key + ts (the body's timeStamp).
 */
bool	 verify_kit_v1(const char *key, const struct json *obj, const char *ts,
	    const char *token) MUSTCHECK;

#endif
