/*
 * usage_push.c: the "usage_push" job (see usage_push.h).
 *
 * Each run: close ended windows; lock one batch of pending records; build
 * the body (usage_wire), sign it with the body signature and the APIG
 * signature, both afresh on every attempt; POST it; then act on the
 * answer: MKT.0000 delivers the batch; transport errors, HTTP 5xx, 429 and
 * MKT.0999 retry the job with back-off (rolling back leaves the records
 * pending); any other code fails the batch with the reason kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/apig.h"
#include "crypto/random.h"
#include "jobs/usage_push.h"
#include "net/http.h"
#include "net/marketplace.h"
#include "net/usage_wire.h"
#include "store/job_store.h"
#include "store/usage_store.h"

bool
usage_push_enqueue(struct db *db)
{
	return job_enqueue(db, "usage_push", NULL, "usage_push", 0, 0, NULL);
}

static enum usage_verdict
usage_classify(bool answered, const struct http_response *resp, char *code, size_t codelen,
    char *msg, size_t msglen)
{
	if (!answered) {
		code[0] = '\0';
		snprintf(msg, msglen, "no answer: %.200s", resp->error_text);
		return UV_RETRY;
	}
	return usage_wire_answer(resp->status, resp->body.data != NULL ? resp->body.data : "",
	    resp->body.len, code, codelen, msg, msglen);
}

/* Signs and sends body once; resp receives the answer. */
static bool
usage_send(const struct config *cfg, const char *body, size_t len, const char *request_id,
    struct http_response *resp, char *why, size_t whylen)
{
	const char	*key = cfg->usage_key[0] != '\0' ? cfg->usage_key : cfg->basic_key;
	struct http_url	 u;
	struct http_header h[8];
	struct apig_request ar;
	struct http_request req;
	struct buf	 url = BUF_INIT, path = BUF_INIT, auth = BUF_INIT;
	char		 date[APIG_DATE_LEN + 1], ts[24], nonce[37], sig[SIGN_B64_LEN + 1];
	int64_t		 now = now_ms();
	size_t		 blen;
	bool		 ok = false;

	if (!http_url_parse(cfg->mkt_url, &u, why, whylen))
		return false;
	blen = strlen(cfg->mkt_url);
	while (blen > 0 && cfg->mkt_url[blen - 1] == '/')
		blen--;
	buf_printf(&url, "%.*s%s", (int)blen, cfg->mkt_url, USAGE_PUSH_PATH);
	buf_printf(&path, "%s%s", u.path, USAGE_PUSH_PATH);
	apig_format_date(now, date);
	snprintf(ts, sizeof(ts), "%lld", (long long)now);
	rand_uuid(nonce);
	usage_wire_sign(key, ts, nonce, body, len, sig);

	h[0] = (struct http_header){ "Content-Type", "application/json" };
	h[1] = (struct http_header){ "Host", u.host };
	h[2] = (struct http_header){ APIG_DATE_HEADER, date };
	memset(&ar, 0, sizeof(ar));
	ar.method = "POST";
	ar.path = buf_cstr(&path);
	ar.query = "";
	ar.headers = (const struct apig_header *)(const void *)h;
	ar.nheaders = 3;
	ar.body = body;
	ar.body_len = len;
	if (!apig_sign(&ar, cfg->mkt_ak, cfg->mkt_sk, &auth, why, whylen))
		goto out;
	h[3] = (struct http_header){ "Authorization", buf_cstr(&auth) };
	h[4] = (struct http_header){ "signature", sig };
	h[5] = (struct http_header){ "ts", ts };
	h[6] = (struct http_header){ "nonce", nonce };
	h[7] = (struct http_header){ "X-Request-Id", request_id };
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = buf_cstr(&url);
	req.headers = h;
	req.nheaders = 8;
	req.body = body;
	req.body_len = len;
	req.connect_timeout_ms = cfg->mkt_connect_timeout;
	req.timeout_ms = cfg->mkt_timeout;
	req.ca_file = cfg->mkt_ca_file;
	ok = true;
	if (!http_request(&req, resp))
		snprintf(why, whylen, "%s", resp->error_text);
out:
	buf_free(&url);
	buf_free(&path);
	buf_free(&auth);
	return ok;
}

enum job_outcome
usage_push_run(const struct job *job, struct job_env *env, char *reason, size_t len)
{
	const struct config	*cfg = env->cfg;
	struct usage_wire_record *recs = NULL;
	struct http_response	 resp;
	struct buf		 body = BUF_INIT, ids = BUF_INIT;
	enum usage_verdict	 v;
	enum job_outcome	 out = JOB_RETRY;
	PGresult		*res = NULL;
	char			(*vals)[32] = NULL;
	char			 why[300], code[33], msg[256], request_id[37], push_id[24];
	char			 excerpt[256];
	int			 n, i, closed, more;
	bool			 answered;

	http_response_init(&resp);
	closed = ustore_close(env->db);
	if (closed < 0) {
		snprintf(reason, len, "closing windows: %s", db_errmsg(env->db));
		goto done;
	}
	if (closed > 0)
		log_info("usage: closed %d window(s)", closed);
	if (cfg->mkt_ak == NULL || cfg->mkt_ak[0] == '\0') {
		/* No marketplace account: records wait, pending, for one. */
		out = JOB_DONE;
		goto done;
	}
	res = ustore_claim(env->db, (int)cfg->usage_batch_size);
	if (res == NULL) {
		snprintf(reason, len, "claiming records: %s", db_errmsg(env->db));
		goto done;
	}
	n = PQntuples(res);
	if (n == 0) {
		out = JOB_DONE;
		goto done;
	}
	recs = xcalloc((size_t)n, sizeof(*recs));
	vals = xcalloc((size_t)n, sizeof(*vals));
	buf_putc(&ids, '{');
	for (i = 0; i < n; i++) {
		recs[i].instance_id = PQgetvalue(res, i, 1);
		recs[i].pkg_instance_id = PQgetvalue(res, i, 2);
		recs[i].begin_time = PQgetvalue(res, i, 3);
		recs[i].end_time = PQgetvalue(res, i, 4);
		recs[i].record_time = PQgetvalue(res, i, 5);
		recs[i].metering_sn = PQgetvalue(res, i, 7);
		if (!usage_wire_value(PQgetvalue(res, i, 6), vals[i], sizeof(vals[i]))) {
			snprintf(reason, len, "record %s: value %s cannot be pushed",
			    PQgetvalue(res, i, 0), PQgetvalue(res, i, 6));
			out = JOB_DEAD;
			goto done;
		}
		recs[i].usage_value = vals[i];
		if (PQgetvalue(res, i, 8)[0] == 't')
			log_warn("usage ALERT: record %s (instance %s, %s) is at risk of missing "
			    "the 2-hour reporting target", PQgetvalue(res, i, 0),
			    recs[i].instance_id, recs[i].begin_time);
		buf_printf(&ids, "%s%s", i > 0 ? "," : "", PQgetvalue(res, i, 0));
	}
	buf_putc(&ids, '}');
	usage_wire_body(recs, (size_t)n, &body);
	rand_uuid(request_id);
	if (!usage_send(cfg, body.data, body.len, request_id, &resp, why, sizeof(why))) {
		snprintf(reason, len, "usage push: %s", why);
		out = JOB_DEAD;
		goto done;
	}
	answered = resp.error == HTTP_OK && resp.status > 0;
	v = usage_classify(answered, &resp, code, sizeof(code), msg, sizeof(msg));
	if (v == UV_RETRY) {
		/* Rolled back with the job: the records stay pending. */
		snprintf(reason, len, "usage push of %d record(s): HTTP %ld %s %s", n,
		    resp.status, code[0] ? code : "-", msg);
		goto done;
	}
	snprintf(excerpt, sizeof(excerpt), "%.*s",
	    (int)(resp.body.len < 200 ? resp.body.len : 200),
	    resp.body.data != NULL ? resp.body.data : "");
	if (!ustore_log_push(env->db, n, request_id, resp.status, code[0] ? code : NULL,
	    excerpt, push_id)) {
		snprintf(reason, len, "logging the push: %s", db_errmsg(env->db));
		goto done;
	}
	if (v == UV_DELIVERED) {
		if (!ustore_mark(env->db, buf_cstr(&ids), "delivered", NULL, push_id))
			goto store;
		log_info("usage: pushed %d record(s), push %s", n, push_id);
	} else {
		snprintf(why, sizeof(why), "%s: %s", code[0] ? code : "-", msg);
		if (!ustore_mark(env->db, buf_cstr(&ids), "failed", why, push_id))
			goto store;
		log_warn("usage: push %s of %d record(s) refused: %s", push_id, n, why);
	}
	more = ustore_more(env->db);
	if (more > 0) {
		char key[48];

		snprintf(key, sizeof(key), "usage_push:after:%lld", (long long)job->id);
		if (!job_enqueue(env->db, "usage_push", NULL, key, 0, 0, NULL))
			goto store;
	}
	out = JOB_DONE;
	goto done;
store:
	snprintf(reason, len, "marking records: %s", db_errmsg(env->db));
done:
	http_response_free(&resp);
	buf_free(&body);
	buf_free(&ids);
	free(recs);
	free(vals);
	if (res != NULL)
		PQclear(res);
	return out;
}
