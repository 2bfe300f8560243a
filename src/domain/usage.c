/*
 * usage.c: ingest of metered usage events.
 *
 * The form of each event is checked here so that the one statement that
 * stores the batch cannot fail on a bad cast (which would lose the good
 * events with the bad); everything needing the database is decided by
 * mkp_usage_ingest_batch() in the same statement. Amounts stay decimal
 * text from the wire to numeric(20,4): never a floating-point number.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "domain/package.h"
#include "common/util.h"
#include "domain/usage.h"
#include "store/usage_store.h"

const char *
usage_check_value(const char *v)
{
	size_t	 ints = 0, decs = 0;

	if (v == NULL || *v == '\0')
		return "value missing";
	if (*v == '-')
		return "value is negative";
	while (isdigit((unsigned char)*v)) {
		ints++;
		v++;
	}
	if (*v == '.') {
		v++;
		while (isdigit((unsigned char)*v)) {
			decs++;
			v++;
		}
		if (decs == 0)
			return "value is not a decimal number";
	}
	if (*v != '\0' || ints == 0)
		return "value is not a decimal number";
	if (decs > 4)
		return "value has more than 4 decimals";
	if (ints > USAGE_VALUE_INT_DIGITS)
		return "value is larger than 99999999.9999";
	return NULL;
}

static bool
usage_has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			return true;
	return false;
}

const char *
usage_check_event(const struct usage_event *ev)
{
	const char	*why = ev->reject;

	if (why == NULL && (ev->id == NULL || ev->id[0] == '\0'))
		why = "id missing";
	if (why == NULL && utf8_chars(ev->id) > 128)
		why = "id longer than 128 characters";
	if (why == NULL && usage_has_control(ev->id))
		why = "id holds a control character";
	if (why == NULL && (ev->instance_id == NULL || ev->instance_id[0] == '\0'))
		why = "instanceId missing";
	if (why == NULL && (utf8_chars(ev->instance_id) > 64 ||
	    usage_has_control(ev->instance_id)))
		why = "instanceId longer than 64 characters or holding a control character";
	if (why == NULL && ev->pkg_instance_id != NULL &&
	    (utf8_chars(ev->pkg_instance_id) > 64 || usage_has_control(ev->pkg_instance_id)))
		why = "packageInstanceId longer than 64 characters or holding a control character";
	if (why == NULL)
		why = usage_check_value(ev->value);
	if (why == NULL)
		why = usage_check_time(ev->time);
	return why;
}

const char *
usage_check_time(const char *t)
{
	static const char bad[] = "time is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)";
	struct tm	 tm;
	time_t		 secs;
	const char	*p;
	int64_t		 y, mo, d, h, mi, s;

	if (t == NULL || *t == '\0')
		return "time missing";
	if (strlen(t) < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') ||
	    t[13] != ':' || t[16] != ':')
		return bad;
	if (!parse_i64n(t, 4, 1970, 9999, &y) || !parse_i64n(t + 5, 2, 1, 12, &mo) ||
	    !parse_i64n(t + 8, 2, 1, 31, &d) || !parse_i64n(t + 11, 2, 0, 23, &h) ||
	    !parse_i64n(t + 14, 2, 0, 59, &mi) || !parse_i64n(t + 17, 2, 0, 59, &s))
		return bad;
	p = t + 19;
	if (*p == '.') {
		const char *frac = ++p;

		if (!isdigit((unsigned char)*p))
			return bad;
		while (isdigit((unsigned char)*p))
			p++;
		/* PostgreSQL keeps microseconds and refuses long fractions. */
		if (p - frac > 6)
			return "time has more than 6 fraction digits (microseconds)";
	}
	if ((*p != 'Z' && *p != 'z') || p[1] != '\0')
		return bad;
	/* The day must exist (no 31 April): timegm normalises, compare back. */
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)y - 1900;
	tm.tm_mon = (int)mo - 1;
	tm.tm_mday = (int)d;
	tm.tm_hour = (int)h;
	tm.tm_min = (int)mi;
	tm.tm_sec = (int)s;
	secs = timegm(&tm);
	if (secs == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
		return bad;
	return NULL;
}

#define USAGE_DASHBOARD_MAX	512
#define USAGE_ID_TOKEN		"{instanceId}"

bool
usage_dashboard_url(const char *tmpl, const char *instance_id, struct buf *out)
{
	struct buf	 b = BUF_INIT;
	const char	*p, *hit;
	bool		 ok;

	if (tmpl == NULL || tmpl[0] == '\0')
		return false;
	for (p = tmpl; (hit = strstr(p, USAGE_ID_TOKEN)) != NULL;
	    p = hit + strlen(USAGE_ID_TOKEN)) {
		buf_append(&b, p, (size_t)(hit - p));
		buf_put_pct(&b, instance_id);
	}
	buf_puts(&b, p);
	ok = b.len <= USAGE_DASHBOARD_MAX;
	if (ok)
		buf_append(out, b.data, b.len);
	buf_free(&b);
	return ok;
}

static void
usage_reject(struct usage_outcome *out, const char *id, const char *reason)
{
	struct usage_rejection *r;

	out->rejected = xrealloc(out->rejected, (out->nrejected + 1) * sizeof(*out->rejected));
	r = &out->rejected[out->nrejected++];
	r->id = xstrdup(id != NULL ? id : "");
	r->reason = xstrdup(reason);
}

static void
usage_capped_add(struct usage_outcome *out, const char *id, const char *taken,
    const char *reason)
{
	struct usage_capped *c;

	out->capped = xrealloc(out->capped, (out->ncapped + 1) * sizeof(*out->capped));
	c = &out->capped[out->ncapped++];
	c->id = xstrdup(id);
	c->taken = xstrdup(taken);
	c->reason = xstrdup(reason);
}

static void
usage_quota_add(struct usage_outcome *out, const char *instance, const char *remaining,
    const char *mode)
{
	struct usage_quota *q;

	out->quota = xrealloc(out->quota, (out->nquota + 1) * sizeof(*out->quota));
	q = &out->quota[out->nquota++];
	q->instance_id = xstrdup(instance);
	q->remaining = xstrdup(remaining);
	q->mode = xstrdup(mode);
}

/* A NULL column as the empty string, as the answer's texts have it. */
static const char *
str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* The instance of the event with that id, for the log. */
static const char *
ev_instance(const struct usage_event *ev, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (ev[i].id != NULL && strcmp(ev[i].id, id) == 0)
			return ev[i].instance_id;
	return "?";
}

enum dom_status
usage_ingest(const struct dom_ctx *ctx, const struct usage_event *ev, size_t n,
    struct usage_outcome *out)
{
	struct usage_store_event	*sev;
	struct usage_store_ingest	 in;
	char			 thr[256];
	size_t			 i, m = 0;

	memset(out, 0, sizeof(*out));
	sev = xcalloc(n > 0 ? n : 1, sizeof(*sev));
	for (i = 0; i < n; i++) {
		const char *why = usage_check_event(&ev[i]);

		if (why != NULL) {
			usage_reject(out, ev[i].id, why);
			continue;
		}
		sev[m].id = ev[i].id;
		sev[m].instance_id = ev[i].instance_id;
		sev[m].pkg_instance_id = ev[i].pkg_instance_id != NULL &&
		    ev[i].pkg_instance_id[0] != '\0' ? ev[i].pkg_instance_id : NULL;
		sev[m].value = ev[i].value;
		sev[m].time = ev[i].time;
		m++;
	}
	if (m == 0) {
		free(sev);
		return DOM_OK;
	}
	package_thresholds(ctx->cfg, thr, sizeof(thr));
	if (!usage_store_ingest(ctx->db, sev, m, USAGE_HORIZON_S, thr, &in)) {
		free(sev);
		usage_outcome_free(out);
		/* Each event was checked whole: this should not be its content. */
		if (db_state_is_content(db_sqlstate(ctx->db))) {
			log_warn("usage: the store refused a value of a checked call (sqlstate %s)",
			    db_sqlstate(ctx->db));
			return DOM_INVALID;
		}
		return DOM_STORE;
	}
	free(sev);
	out->accepted = m;
	for (i = 0; i < in.n; i++) {
		const struct usage_store_ingested *r = &in.rows[i];

		switch (r->outcome) {
		case USAGE_STORE_QUOTA:
			usage_quota_add(out, r->id, str_or_empty(r->taken), str_or_empty(r->reason));
			break;
		case USAGE_STORE_CAPPED:
			/* Accepted up to its package's end; the rest refused. */
			log_info("usage: event %s of instance %s: %s", r->id,
			    ev_instance(ev, n, r->id), str_or_empty(r->reason));
			usage_capped_add(out, r->id, str_or_empty(r->taken), str_or_empty(r->reason));
			break;
		case USAGE_STORE_SHIFTED:
			/* Its hour was pushed already: counted in the next one. */
			log_info("usage: late event %s of instance %s %s", r->id,
			    ev_instance(ev, n, r->id), str_or_empty(r->reason));
			out->shifted++;
			break;
		case USAGE_STORE_DUPLICATE:
			out->accepted--;
			out->duplicates++;
			break;
		case USAGE_STORE_REJECTED:
			out->accepted--;
			usage_reject(out, r->id, str_or_empty(r->reason));
			break;
		}
	}
	usage_store_ingest_free(&in);
	return DOM_OK;
}

void
usage_outcome_free(struct usage_outcome *out)
{
	for (size_t i = 0; i < out->nrejected; i++) {
		free(out->rejected[i].id);
		free(out->rejected[i].reason);
	}
	free(out->rejected);
	for (size_t i = 0; i < out->ncapped; i++) {
		free(out->capped[i].id);
		free(out->capped[i].taken);
		free(out->capped[i].reason);
	}
	free(out->capped);
	for (size_t i = 0; i < out->nquota; i++) {
		free(out->quota[i].instance_id);
		free(out->quota[i].remaining);
		free(out->quota[i].mode);
	}
	free(out->quota);
	memset(out, 0, sizeof(*out));
}
