/*
 * usage_wire.c: builds and signs the body of a usage push
 * (spec/outbound.md §1.4-§1.6, spec/README.md reading 9).
 *
 * Written by hand in sorted key order rather than sorted after the fact:
 * the record has a fixed set of members, and their byte order is
 * begin_time < end_time < instance_id < metering_sn < record_time <
 * relate_pkg_instance < usage_value.
 */
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "net/marketplace.h"
#include "net/usage_wire.h"

void
usage_wire_body(const struct usage_wire_record *r, size_t n, struct buf *out)
{
	struct jw	 w;

	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_key(&w, "usage_records");
	jw_arr_begin(&w);
	for (size_t i = 0; i < n; i++) {
		jw_obj_begin(&w);
		jw_kv_str(&w, "begin_time", r[i].begin_time);
		jw_kv_str(&w, "end_time", r[i].end_time);
		jw_kv_str(&w, "instance_id", r[i].instance_id);
		jw_kv_str(&w, "metering_sn", r[i].metering_sn);
		jw_kv_str(&w, "record_time", r[i].record_time);
		if (r[i].pkg_instance_id != NULL && r[i].pkg_instance_id[0] != '\0')
			jw_kv_str(&w, "relate_pkg_instance", r[i].pkg_instance_id);
		jw_kv_str(&w, "usage_value", r[i].usage_value);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
}

void
usage_wire_sign(const char *key, const char *ts, const char *nonce, const char *body,
    size_t len, char out[SIGN_B64_LEN + 1])
{
	struct buf	 msg = BUF_INIT;

	buf_puts(&msg, "ts=");
	buf_puts(&msg, ts);
	buf_puts(&msg, "&nonce=");
	buf_puts(&msg, nonce);
	buf_puts(&msg, "&body=");
	buf_append(&msg, body, len);
	sign_hmac_b64(key, strlen(key), msg.data, msg.len, out);
	buf_free(&msg);
}

void
usage_wire_prepare(const char *key, int64_t now, const char *nonce, const char *request_id,
    const char *body, size_t len, struct usage_wire_call *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->ts, sizeof(out->ts), "%lld", (long long)now);
	usage_wire_sign(key, out->ts, nonce, body, len, out->sig);
	out->headers[0] = (struct http_header){ "signature", out->sig };
	out->headers[1] = (struct http_header){ "ts", out->ts };
	out->headers[2] = (struct http_header){ "nonce", nonce };
	out->headers[3] = (struct http_header){ "X-Request-Id", request_id };
	out->call.method = "POST";
	out->call.path = USAGE_PUSH_PATH;
	out->call.body = body;
	out->call.body_len = len;
	out->call.extra = out->headers;
	out->call.nextra = NELEM(out->headers);
}

enum usage_verdict
usage_wire_answer(long status, const char *body, size_t len, char *code, size_t codelen,
    char *msg, size_t msglen)
{
	struct json	*tree;
	const char	*c, *m;
	char		 perr[64];

	tree = json_parse(body, len, 8, perr, sizeof(perr));
	c = tree != NULL ? json_get_str(tree, "error_code") : NULL;
	m = tree != NULL ? json_get_str(tree, "error_msg") : NULL;
	snprintf(code, codelen, "%s", c != NULL ? c : "");
	snprintf(msg, msglen, "%s", m != NULL ? m : "");
	json_free(tree);
	if (status == 200 && strcmp(code, MKT_SUCCESS) == 0)
		return UV_DELIVERED;
	if (mkt_http_retryable(status) || strcmp(code, "MKT.0999") == 0)
		return UV_RETRY;
	/*
	 * A refusal carries the marketplace's error_code. An answer without
	 * one (a proxy's page, a cut body) says nothing about the batch:
	 * sending it again is safe, the meteringSn makes it count once.
	 */
	if (code[0] == '\0') {
		snprintf(msg, msglen, "HTTP %ld answer without error_code", status);
		return UV_RETRY;
	}
	if (msg[0] == '\0')
		snprintf(msg, msglen, "HTTP %ld", status);
	return UV_FAILED;
}
