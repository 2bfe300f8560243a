/*
 * usage_push.c: the "usage_push" job (see usage_push.h).
 *
 * Each run: close ended windows; claim one batch (committed: sending,
 * with an attempt row); build the body (usage_wire), sign it with the
 * body signature and the APIG signature, both afresh on every attempt;
 * POST it; then settle the attempt with the answer: MKT.0000 delivers the
 * batch; transport errors, HTTP 5xx, 429 and MKT.0999 make the records
 * pending again and retry the job with back-off; any other code fails the
 * batch with the reason kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/conf.h"
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

long
usage_push_lease(const struct config *cfg)
{
	/* The call's bound, rounded up, and a margin for settling its answer. */
	long	 http_s = (long)((cfg->mkt_connect_timeout + cfg->mkt_timeout + 999) / 1000) + 5;

	return http_s > (long)cfg->jobs_lease ? http_s : (long)cfg->jobs_lease;
}

/* Settles the batch, noting in out how many records were still ours. */
static enum usage_batch_result
usage_settle(struct db *db, struct usage_batch *out, enum usage_batch_result r,
    const char *outcome, const char *reason, long status, const char *code,
    const char *excerpt)
{
	int	 n = ustore_settle(db, out->ub_push_id, outcome, reason, status, code, excerpt);

	if (n < 0) {
		/* The lease brings the records back: sent again, kept once. */
		snprintf(out->ub_detail, sizeof(out->ub_detail), "push %s (%s) not recorded: %s",
		    out->ub_push_id, outcome, db_errmsg(db));
		return UB_ERROR;
	}
	out->ub_settled = n;
	if (n < out->ub_records)
		log_warn("usage: push %s: %d of %d record(s) were taken by another pusher "
		    "after their lease ran out", out->ub_push_id, out->ub_records - n,
		    out->ub_records);
	return r;
}

enum usage_batch_result
usage_push_batch(struct db *db, const struct config *cfg, const char *by,
    struct usage_batch *out)
{
	struct usage_wire_record *recs = NULL;
	struct http_response	 resp;
	struct buf		 body = BUF_INIT;
	enum usage_verdict	 v;
	enum usage_batch_result	 r = UB_ERROR;
	PGresult		*res;
	char			(*vals)[32] = NULL;
	char			 why[300], code[33], msg[256], request_id[37], excerpt[256];
	int			 n, i;
	bool			 answered;

	memset(out, 0, sizeof(*out));
	http_response_init(&resp);
	rand_uuid(request_id);
	res = ustore_claim(db, (int)cfg->usage_batch_size, usage_push_lease(cfg), by,
	    request_id);
	if (res == NULL) {
		snprintf(out->ub_detail, sizeof(out->ub_detail), "claiming records: %s",
		    db_errmsg(db));
		return UB_ERROR;
	}
	n = PQntuples(res);
	if (n == 0) {
		PQclear(res);
		snprintf(out->ub_detail, sizeof(out->ub_detail), "nothing to push");
		return UB_NONE;
	}
	out->ub_records = n;
	snprintf(out->ub_push_id, sizeof(out->ub_push_id), "%s", PQgetvalue(res, 0, 0));
	recs = xcalloc((size_t)n, sizeof(*recs));
	vals = xcalloc((size_t)n, sizeof(*vals));
	for (i = 0; i < n; i++) {
		recs[i].instance_id = PQgetvalue(res, i, 2);
		recs[i].pkg_instance_id = PQgetvalue(res, i, 3);
		recs[i].begin_time = PQgetvalue(res, i, 4);
		recs[i].end_time = PQgetvalue(res, i, 5);
		recs[i].record_time = PQgetvalue(res, i, 6);
		recs[i].metering_sn = PQgetvalue(res, i, 8);
		if (!usage_wire_value(PQgetvalue(res, i, 7), vals[i], sizeof(vals[i]))) {
			/* numeric(20,4) >= 0 always formats; a record that does not is refused. */
			snprintf(why, sizeof(why), "record %s: value %s cannot be pushed",
			    PQgetvalue(res, i, 1), PQgetvalue(res, i, 7));
			r = usage_settle(db, out, UB_FAILED, "failed", why, 0, NULL, NULL);
			snprintf(out->ub_detail, sizeof(out->ub_detail), "%s", why);
			goto done;
		}
		recs[i].usage_value = vals[i];
		if (PQgetvalue(res, i, 9)[0] == 't')
			log_warn("usage ALERT: record %s (instance %s, %s) is at risk of missing "
			    "the 2-hour reporting target (attempt %s)", PQgetvalue(res, i, 1),
			    recs[i].instance_id, recs[i].begin_time, PQgetvalue(res, i, 10));
	}
	usage_wire_body(recs, (size_t)n, &body);
	if (!usage_send(cfg, body.data, body.len, request_id, &resp, why, sizeof(why))) {
		/* Nothing left: the records wait, pending, for a usable [marketplace]. */
		out->ub_config = true;
		snprintf(out->ub_detail, sizeof(out->ub_detail), "usage push: %s", why);
		(void)usage_settle(db, out, UB_ERROR, "retry", out->ub_detail, 0, NULL, NULL);
		r = UB_ERROR;
		goto done;
	}
	answered = resp.error == HTTP_OK && resp.status > 0;
	v = usage_classify(answered, &resp, code, sizeof(code), msg, sizeof(msg));
	snprintf(excerpt, sizeof(excerpt), "%.*s",
	    (int)(resp.body.len < 200 ? resp.body.len : 200),
	    resp.body.data != NULL ? resp.body.data : "");
	switch (v) {
	case UV_DELIVERED:
		r = usage_settle(db, out, UB_DELIVERED, "delivered", NULL, resp.status, code,
		    excerpt);
		snprintf(out->ub_detail, sizeof(out->ub_detail), "push %s: %d record(s) "
		    "delivered", out->ub_push_id, n);
		if (r == UB_DELIVERED)
			log_info("usage: pushed %d record(s), push %s", n, out->ub_push_id);
		break;
	case UV_RETRY:
		snprintf(why, sizeof(why), "HTTP %ld %s %s", resp.status, code[0] ? code : "-",
		    msg);
		r = usage_settle(db, out, UB_RETRY, "retry", why, answered ? resp.status : 0,
		    code[0] ? code : NULL, excerpt);
		snprintf(out->ub_detail, sizeof(out->ub_detail), "push %s of %d record(s): %.300s",
		    out->ub_push_id, n, why);
		break;
	case UV_FAILED:
		snprintf(why, sizeof(why), "%s: %s", code[0] ? code : "-", msg);
		r = usage_settle(db, out, UB_FAILED, "failed", why, resp.status,
		    code[0] ? code : NULL, excerpt);
		snprintf(out->ub_detail, sizeof(out->ub_detail), "push %s of %d record(s) "
		    "refused: %.300s", out->ub_push_id, n, why);
		if (r == UB_FAILED)
			log_warn("usage: %s", out->ub_detail);
		break;
	}
done:
	http_response_free(&resp);
	buf_free(&body);
	free(recs);
	free(vals);
	PQclear(res);
	return r;
}

/* "host:pid", the pusher's name in the rows. */
static void
usage_pusher(char *out, size_t len)
{
	char	 host[128];

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	snprintf(out, len, "%s:%d", host, (int)getpid());
}

/*
 * Nothing to claim, but records may still be "sending": claimed by a push
 * under way on another host, or by a pusher that died (a jobs child
 * killed mid-batch). Whoever holds them settles them; if nobody does, they
 * are claimable again once their lease runs out, so a push is queued for
 * that moment. Without it they would wait for the next scheduled push,
 * which may be an hour away (push_interval = 0).
 */
static enum job_outcome
usage_push_after_leases(const struct job *job, struct job_env *env, char *reason,
    size_t len)
{
	char	 key[48];
	int64_t	 wait = ustore_lease_wait(env->db);

	if (wait == -1)
		return JOB_DONE;
	if (wait < -1) {
		snprintf(reason, len, "reading the leases: %s", db_errmsg(env->db));
		return JOB_RETRY;
	}
	snprintf(key, sizeof(key), "usage_push:lease:%lld", (long long)job->id);
	if (!job_enqueue(env->db, "usage_push", NULL, key, wait + 1000, 0, NULL)) {
		snprintf(reason, len, "queueing the push after the leases: %s",
		    db_errmsg(env->db));
		return JOB_RETRY;
	}
	return JOB_DONE;
}

enum job_outcome
usage_push_run(const struct job *job, struct job_env *env, char *reason, size_t len)
{
	const struct config	*cfg = env->cfg;
	struct usage_batch	 b;
	char			 by[160], key[48];
	int			 closed, more;

	closed = ustore_close(env->db);
	if (closed < 0) {
		snprintf(reason, len, "closing windows: %s", db_errmsg(env->db));
		return JOB_RETRY;
	}
	if (closed > 0)
		log_info("usage: closed %d window(s)", closed);
	if (cfg->mkt_ak == NULL || cfg->mkt_ak[0] == '\0')
		return JOB_DONE;	/* no marketplace account: records wait, pending */
	usage_pusher(by, sizeof(by));
	switch (usage_push_batch(env->db, cfg, by, &b)) {
	case UB_NONE:
		return usage_push_after_leases(job, env, reason, len);
	case UB_RETRY:
		snprintf(reason, len, "%s", b.ub_detail);
		return JOB_RETRY;
	case UB_ERROR:
		snprintf(reason, len, "%s", b.ub_detail);
		return b.ub_config ? JOB_DEAD : JOB_RETRY;
	case UB_DELIVERED:
	case UB_FAILED:
		break;
	}
	more = ustore_more(env->db);
	if (more > 0) {
		snprintf(key, sizeof(key), "usage_push:after:%lld", (long long)job->id);
		if (!job_enqueue(env->db, "usage_push", NULL, key, 0, 0, NULL)) {
			snprintf(reason, len, "queueing the next batch: %s", db_errmsg(env->db));
			return JOB_RETRY;
		}
	}
	return JOB_DONE;
}
