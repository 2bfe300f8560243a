/*
 * usage_push.c: the "usage_push" job (see usage_push.h).
 *
 * Each run: close ended windows; claim one batch (committed: sending,
 * with an attempt row); build the body (usage_wire), sign it with the
 * body signature and the APIG signature, both afresh on every attempt,
 * and POST it (net/marketplace.c mkt_send); then settle the attempt with
 * the answer: MKT.0000 delivers the batch; transport errors, HTTP 5xx,
 * 429 and MKT.0999 make the records pending again and retry the job with
 * back-off; any other code fails the batch with the reason kept.
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
	return job_store_enqueue(db, "usage_push", NULL, "usage_push", 0, 0, NULL);
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

/*
 * Signs and sends body once, each signature afresh; resp receives the
 * answer. False when nothing could be sent (why says why).
 */
static bool
usage_send(const struct config *cfg, const char *body, size_t len, const char *request_id,
    struct http_response *resp, char *why, size_t whylen)
{
	const char	*key = cfg->usage_key[0] != '\0' ? cfg->usage_key : cfg->basic_key;
	struct mkt_client c;
	struct usage_wire_call push;
	char		 nonce[37];
	int64_t		 now = now_ms();

	mkt_client_config(cfg, &c);
	rand_uuid(nonce);
	usage_wire_prepare(key, now, nonce, request_id, body, len, &push);
	return mkt_send(&c, c.url, &push.call, now, resp, why, whylen);
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
	int64_t	 n;

	if (!usage_store_settle(db, out->ub_push_id, outcome, reason, status, code, excerpt, &n)) {
		/* The lease brings the records back: sent again, kept once. */
		snprintf(out->ub_detail, sizeof(out->ub_detail), "push %s (%s) not recorded: %s",
		    out->ub_push_id, outcome, db_errmsg(db));
		return UB_ERROR;
	}
	out->ub_settled = (int)n;
	if (n < out->ub_records)
		log_warn("usage: push %s: %d of %d record(s) were taken by another pusher "
		    "after their lease ran out", out->ub_push_id, out->ub_records - (int)n,
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
	struct usage_store_claim	 claim;
	char			(*vals)[32] = NULL;
	char			 why[300], code[33], msg[256], request_id[37], excerpt[256];
	int			 n, i;
	bool			 answered;

	memset(out, 0, sizeof(*out));
	http_response_init(&resp);
	rand_uuid(request_id);
	if (!usage_store_claim(db, (int)cfg->usage_batch_size, usage_push_lease(cfg), by,
	    request_id, &claim)) {
		snprintf(out->ub_detail, sizeof(out->ub_detail), "claiming records: %s",
		    db_errmsg(db));
		return UB_ERROR;
	}
	n = (int)claim.n;
	if (n == 0) {
		usage_store_claim_free(&claim);
		snprintf(out->ub_detail, sizeof(out->ub_detail), "nothing to push");
		return UB_NONE;
	}
	out->ub_records = n;
	snprintf(out->ub_push_id, sizeof(out->ub_push_id), "%s", claim.push_id);
	recs = xcalloc((size_t)n, sizeof(*recs));
	vals = xcalloc((size_t)n, sizeof(*vals));
	for (i = 0; i < n; i++) {
		const struct usage_store_claimed *c = &claim.rows[i];

		recs[i].instance_id = c->instance_id;
		recs[i].pkg_instance_id = c->pkg_instance_id;
		recs[i].begin_time = c->begin_time;
		recs[i].end_time = c->end_time;
		recs[i].record_time = c->record_time;
		recs[i].metering_sn = c->metering_sn;
		if (!fmt_decimal(c->value, vals[i], sizeof(vals[i]))) {
			/* numeric(20,4) >= 0 always formats; a record that does not is refused. */
			snprintf(why, sizeof(why), "record %s: value %s cannot be pushed",
			    c->id, c->value);
			r = usage_settle(db, out, UB_FAILED, "failed", why, 0, NULL, NULL);
			snprintf(out->ub_detail, sizeof(out->ub_detail), "%s", why);
			goto done;
		}
		recs[i].usage_value = vals[i];
		if (c->at_risk)
			log_warn("usage ALERT: record %s (instance %s, %s) is at risk of missing "
			    "the 2-hour reporting target (attempt %lld)", c->id,
			    recs[i].instance_id, recs[i].begin_time, (long long)c->attempts);
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
	usage_store_claim_free(&claim);
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
	int64_t	 wait;

	switch (usage_store_lease_wait(env->db, &wait)) {
	case DB_FOUND:
		break;
	case DB_NONE:
		return JOB_DONE;
	case DB_FAILED:
		snprintf(reason, len, "reading the leases: %s", db_errmsg(env->db));
		return JOB_RETRY;
	}
	snprintf(key, sizeof(key), "usage_push:lease:%lld", (long long)job->id);
	if (!job_store_enqueue(env->db, "usage_push", NULL, key, wait + 1000, 0, NULL)) {
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
	int64_t			 closed;

	if (!usage_store_close(env->db, &closed)) {
		snprintf(reason, len, "closing windows: %s", db_errmsg(env->db));
		return JOB_RETRY;
	}
	if (closed > 0)
		log_info("usage: closed %lld window(s)", (long long)closed);
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
	/* A failure to tell leaves the rest to the next scheduled push. */
	if (usage_store_more(env->db) == DB_FOUND) {
		snprintf(key, sizeof(key), "usage_push:after:%lld", (long long)job->id);
		if (!job_store_enqueue(env->db, "usage_push", NULL, key, 0, 0, NULL)) {
			snprintf(reason, len, "queueing the next batch: %s", db_errmsg(env->db));
			return JOB_RETRY;
		}
	}
	return JOB_DONE;
}
