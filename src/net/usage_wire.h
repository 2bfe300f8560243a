/*
 * usage_wire.h: the bytes of a usage push (spec/outbound.md §1.4-§1.6),
 * pure functions with no I/O, no clock, no globals; net/marketplace.c
 * sends what usage_wire_prepare makes.
 *
 * The body is {"usage_records":[...]} with keys sorted in byte order at
 * every level, compact, usage_value as a string: the same bytes are sent
 * and signed, so nothing between can re-format a number.
 */
#ifndef MKP_USAGE_WIRE_H
#define MKP_USAGE_WIRE_H

#include <stddef.h>
#include "common/buf.h"
#include "common/defs.h"
#include "crypto/sign.h"
#include "net/http.h"
#include "net/marketplace.h"

#define USAGE_PUSH_PATH	"/api/mkp-openapi-public/global/v1/isv/usage-data"

/* One record as pushed; times in the wire form yyyyMMdd'T'HHmmss'Z'. */
struct usage_wire_record {
	const char	*instance_id;
	const char	*pkg_instance_id;	/* NULL or "": no relate_pkg_instance */
	const char	*begin_time;
	const char	*end_time;
	const char	*record_time;
	const char	*usage_value;		/* as fmt_decimal made it */
	const char	*metering_sn;
};

/* Appends the body of the n records to out. */
void	 usage_wire_body(const struct usage_wire_record *, size_t n, struct buf *out);

/*
 * The body signature of §1.6: base64(HMAC-SHA256(key,
 * "ts=" ts "&nonce=" nonce "&body=" body)), written to out.
 */
void	 usage_wire_sign(const char *key, const char *ts, const char *nonce,
	    const char *body, size_t len, char out[SIGN_B64_LEN + 1]);

/*
 * The push of body as a marketplace call (mkt_send signs it with the
 * AK/SK and sends it): POST USAGE_PUSH_PATH with the body signature of
 * §1.6 under key at now_ms (headers signature, ts, nonce) and X-Request-Id,
 * which the APIG signature does not cover. out holds ts and the signature;
 * out->call points into out and at nonce, request_id and body.
 */
struct usage_wire_call {
	char			 ts[24];
	char			 sig[SIGN_B64_LEN + 1];
	struct http_header	 headers[MKT_EXTRA_HEADERS];
	struct mkt_call		 call;
};

void	 usage_wire_prepare(const char *key, int64_t now_ms, const char *nonce,
	    const char *request_id, const char *body, size_t len, struct usage_wire_call *out);

/* What an answer to a push means for its batch. */
enum usage_verdict {
	UV_DELIVERED,
	UV_RETRY,
	UV_FAILED,
};

/*
 * Classifies the marketplace's answer to a push: HTTP status and the len
 * bytes of body (never NULL, need not be NUL-terminated). MKT.0000 with
 * 200 delivers; 5xx, 429 and MKT.0999 retry; anything else fails. code and
 * msg get error_code and error_msg ("" when absent; msg then "HTTP n" on
 * failure), cut to fit.
 */
enum usage_verdict usage_wire_answer(long status, const char *body, size_t len, char *code,
	    size_t codelen, char *msg, size_t msglen);

#endif
