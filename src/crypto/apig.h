/*
 * apig.h: Huawei API Gateway AK/SK signing, "SDK-HMAC-SHA256"
 * (spec/outbound.md §2), both sides: the signer mkpd uses for its calls to
 * the marketplace's open API, and the verifier the mock marketplace uses
 * to refuse what the real gateway would refuse (§2.10).
 *
 *	CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n
 *	                   CanonicalHeaders \n SignedHeaders \n hex(SHA256(body))
 *	StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(SHA256(CanonicalRequest))
 *	Signature        = hex(HMAC-SHA256(SK, StringToSign))
 *	Authorization    = SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex
 *
 * The SK is the HMAC key as is: no scope, no key derivation.
 */
#ifndef MKP_APIG_H
#define MKP_APIG_H

#include <stdint.h>

#include "common/buf.h"
#include "common/defs.h"

#define APIG_ALGORITHM		"SDK-HMAC-SHA256"
#define APIG_DATE_HEADER	"X-Sdk-Date"
#define APIG_DATE_LEN		16	/* yyyyMMddTHHmmssZ, without NUL */
#define APIG_MAX_SKEW_MS	(15 * 60 * 1000)	/* §2.6: 15 minutes */
#define APIG_MAX_HEADERS	64	/* signed headers per request */

/* One header as sent or received. Names compare case-insensitively. */
struct apig_header {
	const char	*name;
	const char	*value;
};

/*
 * A request as the signer and the verifier see it. Every pointer is
 * borrowed: nothing here is copied or freed by the apig functions.
 *	method	"GET", "POST", ... (upper-cased for the canonical form)
 *	path	the path as on the request line, percent-encoded or not
 *		("/v1/x/vpcs"); "" or NULL is "/"
 *	query	the query string as on the request line, without '?';
 *		"" or NULL for none
 *	headers	the signer signs all of them (it needs X-Sdk-Date among
 *		them, and Host when the gateway should check it); the
 *		verifier reads the ones SignedHeaders names, plus
 *		Authorization
 *	body	the exact body bytes (NULL with body_len 0 for none)
 */
struct apig_request {
	const char		*method;
	const char		*path;
	const char		*query;
	const struct apig_header *headers;
	size_t			 nheaders;
	const void		*body;
	size_t			 body_len;
};

/*
 * Formats a time (milliseconds since the epoch) as X-Sdk-Date wants it,
 * yyyyMMddTHHmmssZ in UTC, e.g. 20191115T033655Z.
 */
void	 apig_format_date(int64_t ms, char out[APIG_DATE_LEN + 1]);
/* The reverse: false unless s is exactly that form with fields in range. */
bool	 apig_parse_date(const char *s, int64_t *ms) MUSTCHECK;

/*
 * Appends s (n bytes) percent-encoded as the signature wants it: A-Z a-z
 * 0-9 - _ . ~ as they are, every other byte %XX in upper-case hex (space
 * is %20, never '+'). Use it for the query mkpd sends, so that the bytes
 * on the wire and the canonical form agree.
 */
void	 apig_escape(struct buf *out, const char *s, size_t n);

/*
 * Appends the canonical request of req to out. signed_headers is the
 * lower-case, ';'-separated list of headers to include (the verifier
 * passes the received SignedHeaders); NULL means every header of req (the
 * signer). Returns false, with a reason in why, when the path or query
 * has a bad %-escape, a header name is empty, appears twice or is not in
 * req, or the list is empty or too long; out then holds a partial text.
 */
bool	 apig_canonical_request(const struct apig_request *req,
	    const char *signed_headers, struct buf *out, char *why, size_t whylen)
	    MUSTCHECK;

/*
 * Signs req with ak/sk: appends the Authorization header value to
 * authorization. req must carry an X-Sdk-Date header (apig_format_date);
 * every header of req is signed. false (why says why) on what
 * apig_canonical_request refuses, or without X-Sdk-Date.
 */
bool	 apig_sign(const struct apig_request *req, const char *ak, const char *sk,
	    struct buf *authorization, char *why, size_t whylen) MUSTCHECK;

/* What the verifier decided, and so which gateway error applies. */
enum apig_verdict {
	APIG_OK,
	APIG_NO_AUTH,		/* no Authorization, or not SDK-HMAC-SHA256 */
	APIG_BAD_AUTH,		/* Authorization unparsable, bad SignedHeaders */
	APIG_BAD_DATE,		/* X-Sdk-Date missing, unsigned or malformed */
	APIG_EXPIRED,		/* X-Sdk-Date more than 15 minutes from now */
	APIG_UNKNOWN_AK,	/* the lookup knows no SK for Access= */
	APIG_BAD_REQUEST,	/* path/query escapes, duplicate signed header */
	APIG_MISMATCH,		/* the signature does not match */
};

/* The SK of an access key, or NULL when unknown. Owned by the lookup. */
typedef const char *(*apig_sk_lookup)(const char *ak, void *arg);

/*
 * Verifies req (whose headers are everything received, Authorization
 * included) at time now_ms. On a refusal appends to msg the gateway's
 * error text (on a mismatch it embeds the canonical request with newlines
 * shown as '|', as APIG does). When ak is not NULL it receives the
 * Access= value (size aklen; "" when not parsed).
 */
enum apig_verdict apig_verify(const struct apig_request *req, int64_t now_ms,
	    apig_sk_lookup lookup, void *arg, char *ak, size_t aklen, struct buf *msg);

/*
 * The gateway's answer to a verdict other than APIG_OK (spec §4.4):
 * HTTP status and error_code. APIG_OK gives 200 and "".
 */
int	 apig_verdict_http_status(enum apig_verdict);
const char *apig_verdict_code(enum apig_verdict);
const char *apig_verdict_name(enum apig_verdict);

/*
 * Appends the gateway's JSON error body:
 *	{"error_msg":"...","error_code":"APIG.0301","request_id":"..."}
 */
void	 apig_error_body(enum apig_verdict, const char *msg, const char *request_id,
	    struct buf *out);

#endif
