/*
 * usage_in.c: POST /-/usage, the seller's application reporting metered
 * usage (issue 5).
 *
 * The caller is the seller's own software on this host (the web server
 * exposes /-/ to loopback only), authenticated by a bearer token, [usage]
 * token, compared in constant time; an empty token disables the endpoint
 * (404). The body is {"events":[{"id","instanceId","packageInstanceId"?,
 * "value","time"}]}, at most USAGE_MAX_EVENTS events; the answer is
 * {"accepted":N,"duplicates":N,"rejected":[{"id","reason"}]}: a bad event
 * is refused with its reason and the good ones of the same call are kept.
 * Where packages are drawn (issue 15) the answer adds "capped":[{"id",
 * "taken","reason"}] (accepted only up to the quota) and "quota":
 * [{"instanceId","remaining","mode"}] for each instance with packages.
 * This file only translates JSON to domain events and back.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/adapter.h"
#include "api/response.h"
#include "api/usage_in.h"
#include "common/log.h"
#include "domain/usage.h"


/* True when the Authorization header carries "Bearer <token>"; constant time in both. */
static bool
usage_authorized(const struct request *r, const char *token)
{
	unsigned char	 want[crypto_generichash_BYTES], got[crypto_generichash_BYTES];
	const char	*h = request_param(r, "HTTP_AUTHORIZATION");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	/* Hashing first makes the comparison independent of both lengths. */
	crypto_generichash(want, sizeof(want), (const unsigned char *)token, strlen(token),
	    NULL, 0);
	crypto_generichash(got, sizeof(got), (const unsigned char *)h, strlen(h), NULL, 0);
	return sodium_memcmp(want, got, sizeof(want)) == 0;
}

static void
usage_error(struct request *r, int status, const char *msg)
{
	struct buf	 b = BUF_INIT;
	struct jw	 w;

	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_key(&w, "error");
	jw_str(&w, msg);
	jw_obj_end(&w);
	respond(r, status, "application/json", b.data, b.len, NULL);
	buf_free(&b);
	snprintf(r->audit_reason, sizeof(r->audit_reason), "%s", msg);
}

/* A string member, or a number's text for "value"; NULL otherwise. */
static const char *
usage_member(const struct json *o, const char *key, bool number_ok, const char **why)
{
	const struct json *v = json_get(o, key);

	if (v == NULL || v->type == JSON_NULL)
		return NULL;
	if (v->type == JSON_STRING)
		return v->u.str.s;
	if (number_ok && v->type == JSON_NUMBER)
		return v->u.num;
	if (*why == NULL)
		*why = number_ok ? "value must be a string or a number" : "members must be strings";
	return NULL;
}

bool
usage_events_read(const char *body, size_t len, struct json **tree,
    struct usage_event **evp, size_t *n, int *status, const char **msg)
{
	const struct json	*events;
	struct usage_event	*ev;
	char			 perr[128];
	size_t			 i;

	*evp = NULL;
	*n = 0;
	*tree = json_parse(body, len, USAGE_MAX_DEPTH, perr, sizeof(perr));
	if (*tree == NULL) {
		*status = 400;
		*msg = "body is not JSON";
		return false;
	}
	events = json_get(*tree, "events");
	if (events == NULL || events->type != JSON_ARRAY) {
		*status = 400;
		*msg = "events must be an array";
		return false;
	}
	if (events->u.arr.n > USAGE_MAX_EVENTS) {
		*status = 413;
		*msg = "more than 10000 events in one call";
		return false;
	}
	ev = calloc(events->u.arr.n > 0 ? events->u.arr.n : 1, sizeof(*ev));
	if (ev == NULL) {
		*status = 503;
		*msg = "out of memory";
		return false;
	}
	for (i = 0; i < events->u.arr.n; i++) {
		const struct json *e = events->u.arr.items[i];
		const char *why = NULL;

		if (e->type != JSON_OBJECT) {
			ev[i].reject = "event is not an object";
			continue;
		}
		ev[i].id = usage_member(e, "id", false, &why);
		ev[i].instance_id = usage_member(e, "instanceId", false, &why);
		ev[i].pkg_instance_id = usage_member(e, "packageInstanceId", false, &why);
		ev[i].value = usage_member(e, "value", true, &why);
		ev[i].time = usage_member(e, "time", false, &why);
		ev[i].reject = why;
	}
	*evp = ev;
	*n = events->u.arr.n;
	return true;
}

void
usage_in_handle(struct app *app, struct request *r)
{
	struct json		*tree = NULL;
	struct usage_event	*ev = NULL;
	struct usage_outcome	 out;
	struct buf		 b = BUF_INIT;
	struct jw		 w;
	const char		*msg;
	size_t			 i, n;
	int			 status;

	r->audit.dialect = "local";
	r->audit.activity = "usage";
	if (strcmp(r->method, "POST") != 0) {
		usage_error(r, 405, "POST only");
		return;
	}
	if (!usage_authorized(r, app->cfg->usage_token)) {
		usage_error(r, 401, "missing or wrong bearer token");
		return;
	}
	if (r->body_too_large) {
		usage_error(r, 413, "body larger than [mkpd] max_body");
		return;
	}
	if (!usage_events_read(r->body.data != NULL ? r->body.data : "", r->body.len, &tree,
	    &ev, &n, &status, &msg)) {
		usage_error(r, status, msg);
		goto out;
	}
	switch (usage_ingest(&app->dom, ev, n, &out)) {
	case DOM_OK:
		break;
	case DOM_INVALID:
		/* Sending it again would fail again. */
		usage_error(r, 400, "the store refused a value of the call");
		goto out;
	default:
		usage_error(r, 503, "store unavailable, send the call again");
		goto out;
	}
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_key(&w, "accepted");
	jw_int(&w, (long long)out.accepted);
	jw_key(&w, "duplicates");
	jw_int(&w, (long long)out.duplicates);
	jw_key(&w, "rejected");
	jw_arr_begin(&w);
	for (i = 0; i < out.nrejected; i++) {
		jw_obj_begin(&w);
		jw_kv_str(&w, "id", out.rejected[i].id);
		jw_kv_str(&w, "reason", out.rejected[i].reason);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	/* Package quotas (issue 15): what was taken in part, what remains. */
	if (out.ncapped > 0) {
		jw_key(&w, "capped");
		jw_arr_begin(&w);
		for (i = 0; i < out.ncapped; i++) {
			jw_obj_begin(&w);
			jw_kv_str(&w, "id", out.capped[i].id);
			jw_kv_str(&w, "taken", out.capped[i].taken);
			jw_kv_str(&w, "reason", out.capped[i].reason);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
	}
	if (out.nquota > 0) {
		jw_key(&w, "quota");
		jw_arr_begin(&w);
		for (i = 0; i < out.nquota; i++) {
			jw_obj_begin(&w);
			jw_kv_str(&w, "instanceId", out.quota[i].instance_id);
			jw_kv_str(&w, "remaining", out.quota[i].remaining);
			jw_kv_str(&w, "mode", out.quota[i].mode);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
	}
	jw_obj_end(&w);
	respond(r, 200, "application/json", b.data, b.len, NULL);
	if (out.nrejected > 0)
		snprintf(r->audit_reason, sizeof(r->audit_reason),
		    "%zu accepted, %zu duplicates, %zu rejected (first: %s)", out.accepted,
		    out.duplicates, out.nrejected, out.rejected[0].reason);
	usage_outcome_free(&out);
	buf_free(&b);
out:
	free(ev);
	json_free(tree);
}
