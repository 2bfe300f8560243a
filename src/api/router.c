/*
 * router.c: what a worker does with each request: route it to its dialect,
 * answer, then write the audit row.
 *
 * mkpd_app is the pool's view of this file (src/pool/worker_app.h): prepare runs
 * in the master (as root, before forking, at start and on every reload) and
 * loads what workers cannot read once unprivileged, the master key; init
 * runs in each worker after fork and opens its own store connection; idle
 * runs when the worker is about to wait for a connection and sends the
 * audit rows still queued. Nothing else happens on the request path: the
 * nonce table is purged by the jobs child's "purge" job. After a large
 * request the worker gives the heap it grew back to the kernel.
 */
#include <stdio.h>
#include <string.h>

#include "api/adapter.h"
#include "api/call.h"
#include "api/response.h"
#include "api/usage_in.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/random.h"
#include "crypto/sign.h"
#include "domain/worker.h"
#include "pool/worker_app.h"

/*
 * A body this large makes a call that leaves megabytes of freed heap
 * (its JSON tree, the statement's arrays): given back after it (mem_trim,
 * a quarter of a millisecond after an authSync of 500 users, 2 ms after an
 * allOrgSync of 20 000 departments). The usual call's body is far smaller.
 */
#define TRIM_BODY	(64 << 10)

static struct app	 app;
struct app_observer	 mkpd_observer;
int			 mkpd_worker_slot;
/* Loaded by the master (root) in prepare; workers inherit it. */
static struct rsa_key	*kit_rsa;

static void	app_named(const struct request *);

static bool
app_prepare(const struct config *cfg, char *err, size_t errlen)
{
	struct seal_key	key;

	if (!crypto_init()) {
		snprintf(err, errlen, "libsodium cannot initialise");
		return false;
	}
	if (cfg->basic_key == NULL || cfg->basic_key[0] == '\0') {
		snprintf(err, errlen, "[keys] basic_key is not set");
		return false;
	}
	if (cfg->front_end_url == NULL || cfg->front_end_url[0] == '\0') {
		snprintf(err, errlen, "[app] front_end_url is not set");
		return false;
	}
	if (!seal_key_load(cfg->master_key_file, &key, err, errlen))
		return false;
	if (!cfg->jobs_enabled && ((cfg->hook != NULL && cfg->hook[0] != '\0') ||
	    (cfg->mkt_ak != NULL && cfg->mkt_ak[0] != '\0')))
		log_warn("[jobs] enabled is false here while [app] hook or [marketplace] ak "
		    "makes newInstance provision in the background: another host must run "
		    "jobs, or instances stay provisioning");
	if (cfg->kit_private_key_file[0] != '\0') {
		struct rsa_key *rsa = rsa_key_load(cfg->kit_private_key_file, err, errlen);

		if (rsa == NULL) {
			seal_key_wipe(&key);
			return false;
		}
		rsa_key_free(kit_rsa);
		kit_rsa = rsa;
	} else {
		rsa_key_free(kit_rsa);
		kit_rsa = NULL;
	}
	seal_master_set(&key);
	seal_key_wipe(&key);
	return true;
}

static bool
app_init(const struct config *cfg)
{
	char	path[4096];

	app.cfg = cfg;
	if (cfg->spool_dir[0] != '\0')
		snprintf(path, sizeof(path), "%s/worker-%d.spool", cfg->spool_dir,
		    mkpd_worker_slot);
	dom_open(&app.dom, cfg, seal_master(), cfg->spool_dir[0] != '\0' ? path : NULL);
	app.rsa = kit_rsa;
	request_named_hook = mkpd_observer.named != NULL ? app_named : NULL;
	return true;
}

/* The worker is about to wait for a connection: send what is queued. */
static void
app_idle(void)
{
	dom_flush(&app.dom);
}

/* The audit journal holds a batch's worth: send it before the next request. */
static bool
app_flush_due(void)
{
	return dom_flush_due(&app.dom);
}

static bool
app_idle_pending(void)
{
	return dom_pending(&app.dom);
}

static void
app_fini(void)
{
	dom_close(&app.dom);
}

/* True when path is the production URL's path (with or without a final '/'). */
static bool
is_production_path(const char *path)
{
	const char	*base = app.cfg->base_path;
	size_t		 n = strlen(base);

	while (n > 1 && base[n - 1] == '/')
		n--;
	if (n == 1 && base[0] == '/')
		return strcmp(path, "/") == 0;
	return strncmp(path, base, n) == 0 && (path[n] == '\0' || strcmp(path + n, "/") == 0);
}

/*
 * The Kit activity name when path is {base_path}produceAPI/v2/NAME (*v1
 * false) or {base_path}produceAPI/NAME (*v1 true), else NULL (the
 * marketplace appends the sub-path to the production URL).
 */
static const char *
kit_name(const char *path, bool *v1)
{
	static const char sub[] = "produceAPI/";
	const char	*base = app.cfg->base_path;
	size_t		 n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	if (strncmp(path, base, n) != 0 || path[n] != '/')
		return NULL;
	path += n + 1;
	if (strncmp(path, sub, sizeof(sub) - 1) != 0)
		return NULL;
	path += sizeof(sub) - 1;
	*v1 = strncmp(path, "v2/", 3) != 0;
	if (!*v1)
		path += 3;
	return *path != '\0' && strchr(path, '/') == NULL ? path : NULL;
}

static void
route(struct request *r)
{
	static const char pong[] = "pong\n";
	const char	*kit;
	bool		 v1;

	if (strcmp(r->path, "/-/ping") == 0) {
		respond(r, 200, "text/plain", pong, sizeof(pong) - 1, NULL);
		return;
	}
	/* Metered usage from the seller's application; off without a token. */
	if (strcmp(r->path, "/-/usage") == 0 && app.cfg->usage_token[0] != '\0') {
		usage_in_handle(&app, r);
		return;
	}
	if (is_production_path(r->path)) {
		if (strcmp(r->method, "POST") == 0) {
			call_serve(&app, r, &dialect_v2_basic, NULL);
			return;
		}
		if (strcmp(r->method, "GET") == 0) {
			call_serve(&app, r, &dialect_v1_basic, NULL);
			return;
		}
	}
	if ((kit = kit_name(r->path, &v1)) != NULL) {
		call_serve(&app, r, v1 ? &dialect_kit_v1 : &dialect_kit_v2, kit);
		return;
	}
	log_info("no route for %s %s from %s", r->method, r->path,
	    r->remote_addr ? r->remote_addr : "?");
	respond(r, 404, "text/plain", "not found\n", 10, NULL);
}

static void
audit(struct request *r)
{
	struct audit	*a = &r->audit;

	if (a->dialect == NULL)
		return;
	a->call_id = r->call_id;
	a->received_ms = r->wall_ms;
	a->remote_addr = r->remote_addr;
	a->result_code = r->result_code[0] ? r->result_code : NULL;
	a->http_status = r->status;
	a->latency_us = request_elapsed_us(r);
	a->reason = r->audit_reason[0] ? r->audit_reason : NULL;
	dom_record(&app.dom, a);
}

/* "instance/order/line" of the ids known so far. */
static void
app_call_fill(const struct request *r, struct app_call *c, char *ids, size_t idsz)
{
	const struct audit	*a = &r->audit;

	snprintf(ids, idsz, "%s/%s/%s", a->instance_id ? a->instance_id : "",
	    a->order_id ? a->order_id : "", a->order_line_id ? a->order_line_id : "");
	if (strcmp(ids, "//") == 0)
		ids[0] = '\0';
	c->dialect = a->dialect ? a->dialect : "";
	c->activity = a->activity ? a->activity : "";
	c->ids = ids;
	c->remote = r->remote_addr ? r->remote_addr : "";
	c->method = r->method ? r->method : "";
	c->path = r->path ? r->path : "";
	c->result_code = r->result_code;
	c->status = r->status;
}

static void
app_named(const struct request *r)
{
	struct app_call	c;
	char		ids[200];

	app_call_fill(r, &c, ids, sizeof(ids));
	mkpd_observer.named(&c);
}

static void
app_serve(FCGX_Request *fr)
{
	struct request	r;
	struct app_call	c;
	char		ids[200];
	bool		ok, large;

	ok = request_init(&r, fr, app.cfg->max_body);
	if (mkpd_observer.read != NULL)
		mkpd_observer.read();
	if (!ok) {
		respond(&r, 400, "text/plain", "incomplete request\n", 19, NULL);
	} else {
		route(&r);
		if (!r.sent)
			respond(&r, 500, "text/plain", "no answer\n", 10, NULL);
	}
	response_flush(&r);
	/* The caller has its answer; the bookkeeping below adds no latency. */
	FCGX_FFlush(fr->out);
	if (mkpd_observer.done != NULL) {
		app_call_fill(&r, &c, ids, sizeof(ids));
		mkpd_observer.done(&c);
	}
	audit(&r);
	large = r.body.len >= TRIM_BODY;
	request_free(&r);
	/* A large call's heap goes back now, not at the worker's end. */
	if (large)
		mem_trim();
}

static size_t
app_abort_answer(char *out, size_t size)
{
	static const char body[] = "{\"resultCode\":\"" RC_INTERNAL "\","
	    "\"resultMsg\":\"the request took too long and was ended; please retry\"}";
	struct buf	sig = BUF_INIT;
	int		n;

	sign_body(app.cfg->basic_key, body, sizeof(body) - 1, &sig);
	n = snprintf(out, size, "Status: 200 OK\r\nContent-Type: application/json;"
	    "charset=UTF-8\r\nContent-Length: %zu\r\nBody-Sign: %s\r\n\r\n%s",
	    sizeof(body) - 1, buf_cstr(&sig), body);
	buf_free(&sig);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

const struct worker_app mkpd_app = {
	.prepare = app_prepare,
	.init = app_init,
	.serve = app_serve,
	.idle = app_idle,
	.idle_pending = app_idle_pending,
	.flush_due = app_flush_due,
	.fini = app_fini,
	.abort_answer = app_abort_answer,
};
