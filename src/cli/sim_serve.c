/*
 * sim_serve.c: `mkp-sim serve`, a stand-in for the marketplace's open API
 * (the API Gateway in front of mkt.myhuaweicloud.com) on loopback.
 *
 * Why: mkpd calls the marketplace (the order query, the usage push), and
 * neither its tests nor a seller's demo can call the real one. This server
 * refuses what the gateway refuses (the APIG verifier of crypto/apig.c,
 * spec/outbound.md §2.10), answers what the marketplace answers
 * (sim_orders.c, §3), breaks on demand (5xx, 429, slow, timeout, garbage)
 * so retry paths can be tested, and records every call it got.
 *
 * Threads: libmicrohttpd with its internal polling thread and one thread
 * per connection (at most SERVE_MAX_CONNS), so an injected delay holds one
 * connection only. The failure state, the call log and the record file
 * are shared and guarded by one mutex; the order book is read-only once
 * serving starts. The main thread waits for SIGTERM/SIGINT (blocked in
 * every thread, taken with sigwait), then raises `stopping` (which ends
 * injected delays early) and stops the daemon, which joins its threads.
 *
 * Bounds: request line and headers SERVE_MEM_LIMIT (MHD answers 431
 * itself beyond), body SERVE_MAX_BODY (413 APIG.0201, as the gateway),
 * SERVE_MAX_CONNS connections, SERVE_CONN_TIMEOUT idle seconds,
 * SERVE_MAX_CALLS calls kept in memory (the oldest dropped and counted).
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>
#include <sodium.h>

#include "cli/sim_call.h"
#include "cli/sim_orders.h"
#include "cli/sim_serve.h"
#include "cli/sim_usage.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "crypto/apig.h"
#include "crypto/random.h"

#define SERVE_MAX_BODY		(1L << 20)	/* request body, bytes */
#define SERVE_MEM_LIMIT		(64 * 1024)	/* per connection: line + headers */
#define SERVE_MAX_CONNS		64
#define SERVE_CONN_TIMEOUT	60		/* idle seconds */
#define SERVE_MAX_CALLS		10000		/* calls kept for GET /-/sim/calls */
#define SERVE_MAX_HEADERS	100		/* headers looked at per request */
#define SERVE_DEFAULT_AK	"mkp-sim-ak"
#define SERVE_DEFAULT_SK	"mkp-sim-sk"
#define SERVE_DEFAULT_LISTEN	"127.0.0.1:0"
#define SERVE_SLOW_MS		2000		/* default delay of "slow" */
#define SERVE_TIMEOUT_MS	30000		/* default hold of "timeout" */
#define SERVE_MAX_DELAY_MS	600000
#define SERVE_REQUEST_ID_BYTES	16
#define SERVE_JSON		"application/json;charset=UTF-8"

#define ORDER_QUERY_PATH	"/api/mkp-openapi-public/global/v1/order/query"
#define CONTROL_PREFIX		"/-/sim/"

enum serve_mode {
	MODE_NONE,
	MODE_5XX,	/* 500 MKT.0999, or 502/503/504 from the gateway */
	MODE_429,	/* 429 APIG.0308 */
	MODE_SLOW,	/* wait delay_ms, then answer normally */
	MODE_TIMEOUT,	/* wait delay_ms, then close without an answer */
	MODE_GARBAGE,	/* 200 with a body that is not JSON */
	MODE_REFUSE,	/* 400 MKT.0101: a refusal no retry will change */
};

static const char *const serve_mode_names[] = {
	[MODE_NONE] = "none",
	[MODE_5XX] = "5xx",
	[MODE_429] = "429",
	[MODE_SLOW] = "slow",
	[MODE_TIMEOUT] = "timeout",
	[MODE_GARBAGE] = "garbage",
	[MODE_REFUSE] = "refuse",
};

/* What the next calls suffer: count calls (-1: until changed) of mode. */
struct serve_fail {
	enum serve_mode	 mode;
	int64_t		 count;
	int64_t		 delay_ms;
	int		 status;	/* MODE_5XX only */
};

struct serve {
	const char		*ak;
	const char		*sk;
	struct sim_orders	*orders;
	atomic_int		 stopping;
	const char		*usage_key;	/* --usage-key: body signature of usage pushes */
	char			*tls_cert;	/* --tls-cert: PEM, NULL = plain HTTP */
	char			*tls_key;	/* --tls-key: PEM */

	pthread_mutex_t		 lock;	/* guards everything below */
	struct serve_fail	 fail;
	struct sim_usage	*usage;		/* usage pushes received */
	FILE			*record;
	char			**calls;	/* JSON text of each call */
	size_t			 ncalls;
	size_t			 dropped;
	uint64_t		 seq;
};

/* One request, from the URI log callback to the completion callback. */
struct serve_req {
	char		*uri;		/* raw request target, as received */
	struct buf	 body;
	bool		 started;
	bool		 too_big;
	int64_t		 start_ms;
};

/* A received header, for the verifier and the record. */
struct serve_headers {
	struct apig_header	 v[SERVE_MAX_HEADERS];
	size_t			 n;
	bool			 truncated;
};

void
sim_serve_usage(void)
{
	printf(
"usage: mkp-sim serve [--listen [HOST:]PORT] [--ak AK] [--sk-file FILE | --sk SK]\n"
"                     [--orders FILE.json] [--record FILE.jsonl] [--fail SPEC]\n"
"                     [--tls-cert FILE --tls-key FILE]\n"
"\n"
"Serves the marketplace's open API on loopback (HTTP/1.1, plain or HTTPS) until SIGTERM\n"
"or SIGINT: GET " ORDER_QUERY_PATH "\n"
"?orderId=ID[&orderLineId=LINE] (spec/outbound.md 3). Every call must carry a\n"
"valid APIG SDK-HMAC-SHA256 signature (Authorization, X-Sdk-Date signed and\n"
"within 15 minutes, AK known); otherwise the gateway's answer, e.g. 401\n"
"{\"error_msg\":\"...\",\"error_code\":\"APIG.0301\",\"request_id\":\"...\"}. An unknown\n"
"path or method is 404 APIG.0101; a body over 1 MiB 413 APIG.0201.\n"
"Prints \"mkp-sim serve: listening on http://HOST:PORT/\" (https:// with\n"
"--tls-cert) once ready.\n"
"\n"
"  -l, --listen ADDR   HOST:PORT or PORT; HOST must be 127.x.x.x\n"
"                      (default " SERVE_DEFAULT_LISTEN ": any free port)\n"
"      --ak AK         the access key callers sign with (default " SERVE_DEFAULT_AK ")\n"
"      --sk-file FILE  its secret key: the first line of FILE; else the\n"
"                      environment's MKP_SIM_SK; else " SERVE_DEFAULT_SK "\n"
"      --sk SK         the secret key on the command line, which every user\n"
"                      on the host sees in ps: for tests\n"
"  -o, --orders FILE   more orders: {\"orders\":[ORDERINFO,...]}, each ORDERINFO\n"
"                      the object answered under \"orderInfo\": \"orderId\" (1..64\n"
"                      chars), \"orderType\", \"orderLine\" (non-empty array of\n"
"                      objects with \"orderLineId\"), and any other members\n"
"                      (createTime, buyerInfo, extendParams...) returned as given.\n"
"                      A file order replaces a MOCK order of the same id.\n"
"  -r, --record FILE   append every call as one JSON line (as GET /-/sim/calls)\n"
"      --fail SPEC     start failing: MODE[:COUNT[:DELAY_MS]] (see below)\n"
"      --tls-cert FILE serve HTTPS with this certificate (PEM, the chain after\n"
"                      it) and --tls-key FILE, its private key (PEM, unencrypted)\n"
"      --usage-key KEY the seller interface key of usage pushes' body signature\n"
"\n"
"Orders: the MOCK orders Huawei documents (MOCKPERIODYEARNEW, MOCKONETIMENEW,\n"
"MOCKONDEMAND, MOCKONDEMANDPKG, MOCKPERIODDAYTRIAL, MOCKMONTYTRIALTOFORMAL,\n"
"MOCKMONTYUNSUBSCRIBE, MOCKMONTYRENEW, MOCKMONTYCHANGE; line ID-000001) and the\n"
"file's. Answer: 200 {\"resultCode\":\"MKT.0000\",\"resultMsg\":\"Success\",\n"
"\"orderInfo\":{...}}; with orderLineId only that line is in orderLine. An\n"
"unknown order or line, or no orderId: 400 {\"resultCode\":\"MKT.0101\",\n"
"\"resultMsg\":\"Invalid parameter\"}.\n"
"\n"
"Failure modes (the next COUNT API calls, default 1, -1 = until changed;\n"
"control calls never count):\n"
"  5xx       500 {\"resultCode\":\"MKT.0999\",...}; 502, 503 or 504 as MODE (or\n"
"            \"status\" below) give the gateway's APIG.0201 body instead\n"
"  429       429 APIG.0308 (throttled)\n"
"  slow      wait DELAY_MS (default 2000), then answer normally\n"
"  timeout   wait DELAY_MS (default 30000), then close without answering\n"
"  garbage   200 with a body that is not JSON\n"
"  refuse    400 MKT.0101 (Invalid parameter), in the API's own answer format\n"
"  none      stop failing\n"
"\n"
"Control API (unsigned, not recorded):\n"
"  GET    /-/sim/health  {\"status\":\"ok\",\"orders\":N}\n"
"  GET    /-/sim/calls   {\"calls\":[CALL,...],\"dropped\":N}, oldest first\n"
"  DELETE /-/sim/calls   forget them: {\"cleared\":N}\n"
"  GET    /-/sim/usage   usage records kept, first of each (instance, package,\n"
"                        begin, end), and the packages with quota and drawn\n"
"  POST   /-/sim/packages {\"instanceId\":PKG,\"orderId\":ORDER[,\"orderLineId\":L]}\n"
"                        or {\"instanceId\":PKG,\"quota\":Q}: PKG holds the line's\n"
"                        linearValue (or Q; again: more); a push drawing more\n"
"                        from it is refused, 400 MKT.0100\n"
"  GET    /-/sim/fail    {\"mode\":...,\"count\":N,\"delay_ms\":D,\"status\":S}\n"
"  POST   /-/sim/fail    {\"mode\":\"5xx|429|slow|timeout|garbage|refuse|none\",\n"
"                        \"count\":N,\"delay_ms\":D,\"status\":S}: set it\n"
"CALL: {\"seq\",\"time\",\"method\",\"path\",\"query\",\"headers\":{lower-case\n"
"name: value},\"body\" (or \"body_hex\" when not UTF-8),\"route\":\"order_query\"|\n"
"null,\"injected\":MODE|null,\"verdict\":\"ok\"|\"signature mismatch\"|...|\n"
"\"not checked\",\"detail\",\"ak\",\"status\",\"code\",\"duration_ms\"}.\n"
"\n"
"Every usage record of an accepted push is printed on stdout, per instance\n"
"and hour: \"usage-data: push N: instance I hour BEGIN-END usage_value V\n"
"kept\" (or \"duplicate, first kept\").\n"
"\n"
"Exit status: 0 after a clean stop on a signal, 1 on a start-up error,\n"
"2 on bad usage.\n");
}

/* --- failure state ---------------------------------------------------------- */

/* Sets f->mode (and f->status for a 5xx) from a name; false if unknown. */
static bool
serve_mode_parse(const char *s, struct serve_fail *f)
{
	int64_t	status;
	size_t	i;

	for (i = 0; i < NELEM(serve_mode_names); i++) {
		if (strcmp(s, serve_mode_names[i]) == 0) {
			f->mode = (enum serve_mode)i;
			if (f->mode == MODE_5XX && f->status == 0)
				f->status = 500;
			return true;
		}
	}
	if (parse_i64(s, 500, 599, &status)) {
		f->mode = MODE_5XX;
		f->status = (int)status;
		return true;
	}
	return false;
}

/* Fills the defaults a mode implies for what the caller did not give. */
static void
serve_fail_defaults(struct serve_fail *f, bool have_count, bool have_delay)
{
	if (f->mode == MODE_NONE) {
		f->count = 0;
		f->delay_ms = 0;
		f->status = 0;
		return;
	}
	if (!have_count)
		f->count = 1;
	if (!have_delay)
		f->delay_ms = f->mode == MODE_SLOW ? SERVE_SLOW_MS :
		    f->mode == MODE_TIMEOUT ? SERVE_TIMEOUT_MS : 0;
	if (f->mode != MODE_5XX)
		f->status = 0;
}

/* --fail MODE[:COUNT[:DELAY_MS]] */
static bool
serve_fail_spec(const char *spec, struct serve_fail *f)
{
	char	*copy = xstrdup(spec), *count, *delay;
	bool	 ok;

	memset(f, 0, sizeof(*f));
	if ((count = strchr(copy, ':')) != NULL)
		*count++ = '\0';
	if (count != NULL && (delay = strchr(count, ':')) != NULL)
		*delay++ = '\0';
	else
		delay = NULL;
	ok = serve_mode_parse(copy, f) &&
	    (count == NULL || parse_i64(count, -1, INT64_MAX, &f->count)) &&
	    (delay == NULL || parse_i64(delay, 0, SERVE_MAX_DELAY_MS, &f->delay_ms));
	if (ok)
		serve_fail_defaults(f, count != NULL, delay != NULL);
	free(copy);
	return ok;
}

static void
serve_fail_json(const struct serve_fail *f, struct buf *out)
{
	struct jw	w;

	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_kv_str(&w, "mode", serve_mode_names[f->mode]);
	jw_key(&w, "count");
	jw_int(&w, f->count);
	jw_key(&w, "delay_ms");
	jw_int(&w, f->delay_ms);
	jw_key(&w, "status");
	jw_int(&w, f->status);
	jw_obj_end(&w);
}

/* The failure this call suffers (MODE_NONE for none); uses one up. */
static struct serve_fail
serve_fail_take(struct serve *s)
{
	struct serve_fail	f = { MODE_NONE, 0, 0, 0 };

	pthread_mutex_lock(&s->lock);
	if (s->fail.mode != MODE_NONE && s->fail.count != 0) {
		f = s->fail;
		if (s->fail.count > 0 && --s->fail.count == 0)
			memset(&s->fail, 0, sizeof(s->fail));
	}
	pthread_mutex_unlock(&s->lock);
	return f;
}

/* Sleeps ms milliseconds, less when the server is stopping. */
static void
serve_sleep(struct serve *s, int64_t ms)
{
	int64_t		 end = mono_ms() + ms, left;
	struct timespec	 ts;

	while (!atomic_load(&s->stopping) && (left = end - mono_ms()) > 0) {
		if (left > 50)
			left = 50;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
}

/* --- the call log ---------------------------------------------------------- */

/* Keeps one call's JSON (taking text) and appends it to the record file. */
static void
serve_log_call(struct serve *s, char *text)
{
	pthread_mutex_lock(&s->lock);
	if (s->record != NULL) {
		fputs(text, s->record);
		fputc('\n', s->record);
		fflush(s->record);
	}
	if (s->ncalls == SERVE_MAX_CALLS) {
		free(s->calls[0]);
		memmove(s->calls, s->calls + 1, (s->ncalls - 1) * sizeof(*s->calls));
		s->ncalls--;
		s->dropped++;
	}
	s->calls[s->ncalls++] = text;
	pthread_mutex_unlock(&s->lock);
}

/* True when s (n bytes) is UTF-8 without NUL: safe as a JSON string. */
static bool
serve_utf8(const unsigned char *p, size_t n)
{
	size_t	i = 0, k, more;
	unsigned cp;

	while (i < n) {
		if (p[i] == 0)
			return false;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf)
			more = 1, cp = p[i] & 0x1f;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			more = 2, cp = p[i] & 0x0f;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			more = 3, cp = p[i] & 0x07;
		else
			return false;
		if (more >= n - i)	/* the sequence runs past the end */
			return false;
		for (k = 1; k <= more; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += more + 1;
	}
	return true;
}

/* --- HTTP plumbing --------------------------------------------------------- */

static enum MHD_Result
serve_collect_header(void *arg, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct serve_headers	*h = arg;

	if (h->n == SERVE_MAX_HEADERS) {
		h->truncated = true;
		return MHD_NO;
	}
	h->v[h->n].name = key;
	h->v[h->n].value = value != NULL ? value : "";
	h->n++;
	return MHD_YES;
}

/* The headers as {"lower-case name": "value"}; repeats joined by ", ". */
static void
serve_headers_json(const struct serve_headers *h, struct jw *w)
{
	struct buf	 name = BUF_INIT, value = BUF_INIT;
	size_t		 i, j;
	const char	*c;
	bool		 seen;

	jw_obj_begin(w);
	for (i = 0; i < h->n; i++) {
		seen = false;
		for (j = 0; j < i && !seen; j++)
			seen = strcasecmp(h->v[j].name, h->v[i].name) == 0;
		if (seen)
			continue;
		buf_reset(&name);
		for (c = h->v[i].name; *c != '\0'; c++)
			buf_putc(&name, (*c >= 'A' && *c <= 'Z') ? (char)(*c + 32) : *c);
		buf_reset(&value);
		for (j = i; j < h->n; j++) {
			if (strcasecmp(h->v[j].name, h->v[i].name) != 0)
				continue;
			if (value.len > 0)
				buf_puts(&value, ", ");
			buf_puts(&value, h->v[j].value);
		}
		jw_key(w, buf_cstr(&name));
		jw_strn(w, buf_cstr(&value), value.len);
	}
	jw_obj_end(w);
	buf_free(&name);
	buf_free(&value);
}

static enum MHD_Result
serve_send(struct MHD_Connection *c, int status, const char *type,
    const char *body, size_t len, const char *request_id)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_SERVER, "mkp-sim");
	if (request_id != NULL)
		MHD_add_response_header(r, "X-Request-Id", request_id);
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
serve_send_buf(struct MHD_Connection *c, int status, const struct buf *b,
    const char *request_id)
{
	return serve_send(c, status, SERVE_JSON, buf_cstr(b), b->len, request_id);
}

/* The gateway's own error body (spec §2.10/§4.4). */
static void
serve_gateway_body(const char *code, const char *msg, const char *request_id,
    struct buf *out)
{
	struct jw	w;

	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_kv_str(&w, "error_msg", msg);
	jw_kv_str(&w, "error_code", code);
	jw_kv_str(&w, "request_id", request_id);
	jw_obj_end(&w);
}

/* --- the control API ------------------------------------------------------- */

static int
serve_control_fail(struct serve *s, const struct buf *body, struct buf *out)
{
	struct json		*req;
	const struct json	*v;
	struct serve_fail	 f;
	const char		*mode;
	char			 err[200];
	bool			 have_count = false, have_delay = false;
	int64_t			 n;

	memset(&f, 0, sizeof(f));
	req = json_parse(buf_cstr(body), body->len, 8, err, sizeof(err));
	if (req == NULL || req->type != JSON_OBJECT) {
		buf_printf(out, "{\"error\":\"the body is not a JSON object\"}");
		json_free(req);
		return 400;
	}
	if ((v = json_get(req, "status")) != NULL) {
		if (v->type != JSON_NUMBER || !parse_i64(v->u.num, 500, 599, &n))
			goto bad;
		f.status = (int)n;
	}
	if ((mode = json_get_str(req, "mode")) == NULL || !serve_mode_parse(mode, &f))
		goto bad;
	if ((v = json_get(req, "count")) != NULL) {
		if (v->type != JSON_NUMBER || !parse_i64(v->u.num, -1, INT64_MAX, &f.count))
			goto bad;
		have_count = true;
	}
	if ((v = json_get(req, "delay_ms")) != NULL) {
		if (v->type != JSON_NUMBER ||
		    !parse_i64(v->u.num, 0, SERVE_MAX_DELAY_MS, &f.delay_ms))
			goto bad;
		have_delay = true;
	}
	json_free(req);
	serve_fail_defaults(&f, have_count, have_delay);
	pthread_mutex_lock(&s->lock);
	s->fail = f;
	pthread_mutex_unlock(&s->lock);
	serve_fail_json(&f, out);
	return 200;
bad:
	json_free(req);
	buf_puts(out, "{\"error\":\"want {\\\"mode\\\":\\\"5xx|429|slow|timeout|"
	    "garbage|refuse|none\\\",\\\"count\\\":N,\\\"delay_ms\\\":D,"
	    "\\\"status\\\":500..599}\"}");
	return 400;
}

/*
 * POST /-/sim/packages {"instanceId":PKG,"orderId":ORDER[,"orderLineId":LINE]}
 * or {"instanceId":PKG,"quota":"100"}: PKG is a package instance holding
 * the order line's linearValue (or the quota given). The marketplace knows
 * which instance it created for which order; the simulator is told.
 */
static int
serve_control_package(struct serve *s, const struct buf *body, struct buf *out)
{
	struct json		*req;
	const struct json	*q;
	const char		*id, *order, *quota = NULL;
	char			 err[200];
	bool			 ok;

	req = json_parse(buf_cstr(body), body->len, 8, err, sizeof(err));
	id = req != NULL ? json_get_str(req, "instanceId") : NULL;
	order = req != NULL ? json_get_str(req, "orderId") : NULL;
	if (req != NULL && (q = json_get(req, "quota")) != NULL)
		quota = q->type == JSON_NUMBER ? q->u.num : q->type == JSON_STRING ?
		    q->u.str.s : NULL;
	if (quota == NULL && order != NULL)
		quota = sim_orders_linear_value(s->orders, order,
		    json_get_str(req, "orderLineId"));
	if (id == NULL || id[0] == '\0' || strlen(id) > 64 || quota == NULL) {
		json_free(req);
		buf_puts(out, "{\"error\":\"want {\\\"instanceId\\\":PKG,\\\"orderId\\\":"
		    "ORDER with a linearValue} or {\\\"instanceId\\\":PKG,\\\"quota\\\":Q}\"}");
		return 400;
	}
	pthread_mutex_lock(&s->lock);
	ok = sim_usage_set_package(s->usage, id, quota);
	if (ok)
		sim_usage_json(s->usage, out);
	pthread_mutex_unlock(&s->lock);
	json_free(req);
	if (!ok) {
		buf_puts(out, "{\"error\":\"quota is not a decimal with at most 4 decimals\"}");
		return 400;
	}
	return 200;
}

static enum MHD_Result
serve_control(struct serve *s, struct MHD_Connection *c, const char *method,
    const char *path, const struct buf *body)
{
	struct buf	 out = BUF_INIT;
	struct serve_fail f;
	const char	*what = path + strlen(CONTROL_PREFIX);
	int		 status = 200;
	size_t		 i, n;
	enum MHD_Result	 ret;

	if (strcmp(what, "health") == 0 && strcmp(method, "GET") == 0) {
		buf_printf(&out, "{\"status\":\"ok\",\"orders\":%zu}",
		    sim_orders_count(s->orders));
	} else if (strcmp(what, "calls") == 0 && strcmp(method, "GET") == 0) {
		pthread_mutex_lock(&s->lock);
		buf_puts(&out, "{\"calls\":[");
		for (i = 0; i < s->ncalls; i++) {
			if (i > 0)
				buf_putc(&out, ',');
			buf_puts(&out, s->calls[i]);
		}
		buf_printf(&out, "],\"dropped\":%zu}", s->dropped);
		pthread_mutex_unlock(&s->lock);
	} else if (strcmp(what, "calls") == 0 && strcmp(method, "DELETE") == 0) {
		pthread_mutex_lock(&s->lock);
		n = s->ncalls;
		for (i = 0; i < s->ncalls; i++)
			free(s->calls[i]);
		s->ncalls = 0;
		s->dropped = 0;
		pthread_mutex_unlock(&s->lock);
		buf_printf(&out, "{\"cleared\":%zu}", n);
	} else if (strcmp(what, "fail") == 0 && strcmp(method, "GET") == 0) {
		pthread_mutex_lock(&s->lock);
		f = s->fail;
		pthread_mutex_unlock(&s->lock);
		serve_fail_json(&f, &out);
	} else if (strcmp(what, "fail") == 0 && strcmp(method, "POST") == 0) {
		status = serve_control_fail(s, body, &out);
	} else if (strcmp(what, "packages") == 0 && strcmp(method, "POST") == 0) {
		status = serve_control_package(s, body, &out);
	} else if (strcmp(what, "usage") == 0 && strcmp(method, "GET") == 0) {
		pthread_mutex_lock(&s->lock);
		sim_usage_json(s->usage, &out);
		pthread_mutex_unlock(&s->lock);
	} else {
		status = 404;
		buf_puts(&out, "{\"error\":\"no such control endpoint\"}");
	}
	ret = serve_send_buf(c, status, &out, NULL);
	buf_free(&out);
	return ret;
}

/* --- the marketplace API --------------------------------------------------- */

static const char *
serve_sk_lookup(const char *ak, void *arg)
{
	const struct serve	*s = arg;

	return strcmp(ak, s->ak) == 0 ? s->sk : NULL;
}

/* What one API call produced, for the answer and the record. */
struct serve_outcome {
	int		 status;	/* 0: no answer (connection closed) */
	struct buf	 body;
	const char	*type;
	const char	*code;
	const char	*verdict;
	struct buf	 detail;
	const char	*injected;
	const char	*route;
	char		 ak[129];
};

static void
serve_record(struct serve *s, const struct serve_req *r, const char *method,
    const char *path, const char *query, const struct serve_headers *h,
    const struct serve_outcome *o)
{
	struct buf	 text = BUF_INIT;
	struct jw	 w;
	char		 when[25], *hex;
	uint64_t	 seq;

	pthread_mutex_lock(&s->lock);
	seq = ++s->seq;
	pthread_mutex_unlock(&s->lock);
	fmt_time_iso(now_ms(), when);

	jw_init(&w, &text);
	jw_obj_begin(&w);
	jw_key(&w, "seq");
	jw_int(&w, (long long)seq);
	jw_kv_str(&w, "time", when);
	jw_kv_str(&w, "method", method);
	jw_kv_str(&w, "path", path);
	jw_kv_str(&w, "query", query);
	jw_key(&w, "headers");
	serve_headers_json(h, &w);
	if (serve_utf8((const unsigned char *)buf_cstr(&r->body), r->body.len)) {
		jw_key(&w, "body");
		jw_strn(&w, buf_cstr(&r->body), r->body.len);
	} else {
		hex = xmalloc(r->body.len * 2 + 1);
		hex_encode(r->body.data, r->body.len, hex, false);
		jw_kv_str(&w, "body_hex", hex);
		free(hex);
	}
	jw_key(&w, "route");
	if (o->route != NULL)
		jw_str(&w, o->route);
	else
		jw_null(&w);
	jw_key(&w, "injected");
	if (o->injected != NULL)
		jw_str(&w, o->injected);
	else
		jw_null(&w);
	jw_kv_str(&w, "verdict", o->verdict);
	jw_kv_str(&w, "detail", buf_cstr(&o->detail));
	jw_kv_str(&w, "ak", o->ak);
	jw_key(&w, "status");
	jw_int(&w, o->status);
	jw_kv_str(&w, "code", o->code != NULL ? o->code : "");
	jw_key(&w, "duration_ms");
	jw_int(&w, (long long)(mono_ms() - r->start_ms));
	jw_obj_end(&w);
	serve_log_call(s, buf_steal(&text));
}

/* The value of a received header (any case), or NULL. */
static const char *
serve_header(const struct serve_headers *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->v[i].name, name) == 0)
			return h->v[i].value;
	return NULL;
}

/* Builds the answer of one API call into o. */
static void
serve_api(struct serve *s, struct MHD_Connection *c, const struct serve_req *r,
    const char *method, const char *path, const char *query,
    const struct serve_headers *h, const char *request_id,
    struct serve_outcome *o)
{
	struct apig_request	 ar;
	struct serve_fail	 f;
	enum apig_verdict	 v;

	o->type = SERVE_JSON;
	o->verdict = "not checked";
	if (r->too_big) {
		o->status = 413;
		o->code = "APIG.0201";
		serve_gateway_body(o->code, "Request entity too large",
		    request_id, &o->body);
		return;
	}
	if (strcmp(path, ORDER_QUERY_PATH) == 0 && strcmp(method, "GET") == 0) {
		o->route = "order_query";
	} else if (strcmp(path, SIM_USAGE_PATH) == 0 && strcmp(method, "POST") == 0) {
		o->route = "usage_data";
	} else {
		o->status = 404;
		o->code = "APIG.0101";
		serve_gateway_body(o->code, "The API does not exist or has not "
		    "been published in the environment", request_id, &o->body);
		return;
	}

	f = serve_fail_take(s);
	o->injected = f.mode != MODE_NONE ? serve_mode_names[f.mode] : NULL;
	switch (f.mode) {
	case MODE_NONE:
		break;
	case MODE_SLOW:
		serve_sleep(s, f.delay_ms);
		break;
	case MODE_TIMEOUT:
		serve_sleep(s, f.delay_ms);
		o->status = 0;		/* close without an answer */
		return;
	case MODE_5XX:
		o->status = f.status;
		if (f.status == 500) {
			o->code = "MKT.0999";
			buf_puts(&o->body, "{\"resultCode\":\"MKT.0999\","
			    "\"resultMsg\":\"System internal error.\"}");
		} else {
			o->code = "APIG.0201";
			serve_gateway_body(o->code, f.status == 504 ?
			    "Backend timeout" : "Backend unavailable",
			    request_id, &o->body);
		}
		return;
	case MODE_429:
		o->status = 429;
		o->code = "APIG.0308";
		serve_gateway_body(o->code, "The throttling threshold has been "
		    "reached", request_id, &o->body);
		return;
	case MODE_GARBAGE:
		o->status = 200;
		buf_puts(&o->body, "<html><body>mkp-sim garbage</body></html>\n"
		    "{\"resultCode\":\"MKT.0000\",\"orderInfo\":{\"orderId\":");
		return;
	case MODE_REFUSE:
		o->status = 400;
		o->code = "MKT.0101";
		buf_puts(&o->body, strstr(path, "usage-data") != NULL ?
		    "{\"error_code\":\"MKT.0101\",\"error_msg\":\"Invalid parameter\"}" :
		    "{\"resultCode\":\"MKT.0101\",\"resultMsg\":\"Invalid parameter\"}");
		return;
	}

	memset(&ar, 0, sizeof(ar));
	ar.method = method;
	ar.path = path;
	ar.query = query;
	ar.headers = h->v;
	ar.nheaders = h->n;
	ar.body = r->body.len > 0 ? r->body.data : NULL;
	ar.body_len = r->body.len;
	v = apig_verify(&ar, now_ms(), serve_sk_lookup, s, o->ak, sizeof(o->ak),
	    &o->detail);
	o->verdict = apig_verdict_name(v);
	if (v != APIG_OK) {
		o->status = apig_verdict_http_status(v);
		o->code = apig_verdict_code(v);
		apig_error_body(v, buf_cstr(&o->detail), request_id, &o->body);
		return;
	}
	if (strcmp(o->route, "usage_data") == 0) {
		pthread_mutex_lock(&s->lock);
		o->status = sim_usage_answer(s->usage, serve_header(h, "signature"),
		    serve_header(h, "ts"), serve_header(h, "nonce"),
		    r->body.data != NULL ? r->body.data : "", r->body.len, now_ms(),
		    &o->body, &o->code);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	o->status = sim_orders_answer(s->orders,
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "orderId"),
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "orderLineId"),
	    &o->body, &o->code);
}

static enum MHD_Result
serve_dispatch(struct serve *s, struct MHD_Connection *c, struct serve_req *r,
    const char *method)
{
	struct serve_headers	*h;
	struct serve_outcome	 o;
	char			*path, *query, request_id[SERVE_REQUEST_ID_BYTES * 2 + 1];
	enum MHD_Result		 ret;

	path = xstrdup(r->uri != NULL ? r->uri : "/");
	if ((query = strchr(path, '?')) != NULL)
		*query++ = '\0';
	else
		query = "";

	if (str_has_prefix(path, CONTROL_PREFIX)) {
		ret = serve_control(s, c, method, path, &r->body);
		free(path);
		return ret;
	}

	h = xcalloc(1, sizeof(*h));
	MHD_get_connection_values(c, MHD_HEADER_KIND, serve_collect_header, h);
	memset(&o, 0, sizeof(o));
	rand_hex(request_id, SERVE_REQUEST_ID_BYTES);
	serve_api(s, c, r, method, path, query, h, request_id, &o);
	serve_record(s, r, method, path, query, h, &o);
	ret = o.status == 0 ? MHD_NO :
	    serve_send(c, o.status, o.type, buf_cstr(&o.body), o.body.len, request_id);
	buf_free(&o.body);
	buf_free(&o.detail);
	free(h);
	free(path);
	return ret;
}

static enum MHD_Result
serve_handle(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **ctx)
{
	struct serve		*s = cls;
	struct serve_req	*r = *ctx;
	const char		*cl;
	int64_t			 len;

	if (r == NULL)		/* the URI log callback always sets one */
		return MHD_NO;
	if (!r->started) {
		r->started = true;
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && (!parse_i64(cl, 0, INT64_MAX, &len) ||
		    len > SERVE_MAX_BODY))
			r->too_big = true;
		if (r->too_big)	/* answer at once: the body is never read */
			return serve_dispatch(s, c, r, method);
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (r->body.len + *upload_size > (size_t)SERVE_MAX_BODY)
			r->too_big = true;
		else
			buf_append(&r->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	return serve_dispatch(s, c, r, method);
}

static void *
serve_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct serve_req	*r = xcalloc(1, sizeof(*r));

	r->uri = xstrdup(uri != NULL ? uri : "/");
	r->start_ms = mono_ms();
	return r;
}

static void
serve_completed(void *cls, struct MHD_Connection *c, void **ctx,
    enum MHD_RequestTerminationCode toe)
{
	struct serve_req	*r = *ctx;

	if (r == NULL)
		return;
	free(r->uri);
	buf_free(&r->body);
	free(r);
	*ctx = NULL;
}

/* --- command line and main loop -------------------------------------------- */

/* HOST:PORT or PORT, HOST a 127.x.x.x address. */
static bool
serve_parse_listen(const char *arg, struct sockaddr_in *sin)
{
	char		 host[64];
	const char	*colon = strrchr(arg, ':');
	int64_t		 port;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (colon == NULL) {
		if (!str_copy(host, sizeof(host), "127.0.0.1"))
			return false;
		colon = arg - 1;
	} else {
		if ((size_t)(colon - arg) >= sizeof(host))
			return false;
		memcpy(host, arg, (size_t)(colon - arg));
		host[colon - arg] = '\0';
		if (host[0] == '\0' && !str_copy(host, sizeof(host), "127.0.0.1"))
			return false;
	}
	if (!parse_i64(colon + 1, 0, 65535, &port) ||
	    inet_pton(AF_INET, host, &sin->sin_addr) != 1 ||
	    (ntohl(sin->sin_addr.s_addr) >> 24) != 127)
		return false;
	sin->sin_port = htons((uint16_t)port);
	return true;
}

enum serve_opt_id {
	OPT_AK = 256,
	OPT_SK,
	OPT_SK_FILE,
	OPT_FAIL,
	OPT_USAGE_KEY,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_HELP,
};

static const struct option serve_longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "ak", required_argument, NULL, OPT_AK },
	{ "sk", required_argument, NULL, OPT_SK },
	{ "sk-file", required_argument, NULL, OPT_SK_FILE },
	{ "orders", required_argument, NULL, 'o' },
	{ "record", required_argument, NULL, 'r' },
	{ "fail", required_argument, NULL, OPT_FAIL },
	{ "usage-key", required_argument, NULL, OPT_USAGE_KEY },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int
serve_usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "mkp-sim serve: %s%s%s\n", msg, arg ? ": " : "",
	    arg ? arg : "");
	fprintf(stderr, "see: mkp-sim serve --help\n");
	return SIM_USAGE;
}

/*
 * The secret key in the first line of path (without its line end) into
 * out; false with err when it cannot be read or the line is empty or too
 * long.
 */
static bool
serve_read_sk(const char *path, char *out, size_t size, char *err, size_t errlen)
{
	FILE	*f = fopen(path, "re");
	size_t	 n;

	if (f == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return false;
	}
	if (fgets(out, (int)size, f) == NULL)
		out[0] = '\0';
	fclose(f);
	n = strlen(out);
	if (n == size - 1 && out[n - 1] != '\n') {
		snprintf(err, errlen, "the key is longer than %zu bytes", size - 2);
		return false;
	}
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	if (n == 0) {
		snprintf(err, errlen, "empty");
		return false;
	}
	return true;
}

/* Runs the daemon until SIGTERM or SIGINT. */
static int
serve_run(struct serve *s, const struct sockaddr_in *sin)
{
	struct MHD_Daemon	*d;
	const union MHD_DaemonInfo *info;
	sigset_t		 set;
	char			 addr[INET_ADDRSTRLEN];
	int			 sig = 0;

	/* Blocked before MHD starts its threads, so they inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* HTTPS (GnuTLS, through libmicrohttpd) when a certificate was given. */
	struct MHD_OptionItem	 tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key },
		{ MHD_OPTION_END, 0, NULL },
	};
	unsigned int		 flags = MHD_USE_THREAD_PER_CONNECTION |
				    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (s->tls_cert != NULL)
		flags |= MHD_USE_TLS;
	else
		tls[0].option = MHD_OPTION_END;
	d = MHD_start_daemon(flags,
	    0, NULL, NULL, serve_handle, s,
	    MHD_OPTION_ARRAY, tls,
	    MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)sin,
	    MHD_OPTION_URI_LOG_CALLBACK, serve_uri_log, s,
	    MHD_OPTION_NOTIFY_COMPLETED, serve_completed, s,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVE_MAX_CONNS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVE_CONN_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVE_MEM_LIMIT,
	    MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "mkp-sim serve: cannot listen on %s:%u\n",
		    inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr)),
		    ntohs(sin->sin_port));
		return SIM_FAIL;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("mkp-sim serve: listening on %s://%s:%u/ (ak %s, %zu orders)\n",
	    s->tls_cert != NULL ? "https" : "http", inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr)),
	    info != NULL ? (unsigned)info->port : ntohs(sin->sin_port),
	    s->ak, sim_orders_count(s->orders));
	fflush(stdout);

	while (sigwait(&set, &sig) != 0)
		;
	atomic_store(&s->stopping, 1);
	MHD_stop_daemon(d);
	printf("mkp-sim serve: stopped (signal %d)\n", sig);
	fflush(stdout);
	return SIM_OK;
}

/* The whole of a PEM file, NUL-terminated, or NULL (after a message). */
static char *
serve_read_pem(const char *path)
{
	struct buf	 b = BUF_INIT;
	char		 chunk[4096];
	size_t		 n;
	FILE		*f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "mkp-sim serve: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < (1 << 20))
		buf_append(&b, chunk, n);
	if (ferror(f) || b.len == 0 || b.len >= (1 << 20)) {
		fprintf(stderr, "mkp-sim serve: %s: %s\n", path,
		    ferror(f) ? strerror(errno) : "empty or larger than 1 MiB");
		fclose(f);
		buf_free(&b);
		return NULL;
	}
	fclose(f);
	return buf_steal(&b);	/* buf keeps its data NUL-terminated */
}

int
sim_serve_main(int argc, char **argv)
{
	struct serve		 s;
	struct sockaddr_in	 sin;
	const char		*listen = SERVE_DEFAULT_LISTEN, *orders = NULL;
	const char		*record = NULL, *sk_file = NULL, *tls_cert = NULL, *tls_key = NULL;
	char			 err[512], sk_buf[256];
	size_t			 i;
	int			 ch, rc;
	bool			 sk_given = false;

	memset(&s, 0, sizeof(s));
	s.ak = SERVE_DEFAULT_AK;
	s.sk = SERVE_DEFAULT_SK;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "l:o:r:", serve_longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen = optarg;
			break;
		case 'o':
			orders = optarg;
			break;
		case 'r':
			record = optarg;
			break;
		case OPT_AK:
			s.ak = optarg;
			break;
		case OPT_SK:
			s.sk = optarg;
			sk_given = true;
			break;
		case OPT_SK_FILE:
			sk_file = optarg;
			break;
		case OPT_USAGE_KEY:
			s.usage_key = optarg;
			break;
		case OPT_TLS_CERT:
			tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			tls_key = optarg;
			break;
		case OPT_FAIL:
			if (!serve_fail_spec(optarg, &s.fail))
				return serve_usage_error("bad --fail "
				    "(MODE[:COUNT[:DELAY_MS]])", optarg);
			break;
		case OPT_HELP:
			sim_serve_usage();
			return SIM_OK;
		default:
			return serve_usage_error("bad option", NULL);
		}
	}
	if (optind != argc)
		return serve_usage_error("unexpected argument", argv[optind]);
	if (!sk_given) {
		if (sk_file != NULL) {
			if (!serve_read_sk(sk_file, sk_buf, sizeof(sk_buf), err, sizeof(err))) {
				fprintf(stderr, "mkp-sim serve: --sk-file %s: %s\n", sk_file, err);
				return SIM_USAGE;
			}
			s.sk = sk_buf;
		} else if (getenv("MKP_SIM_SK") != NULL && getenv("MKP_SIM_SK")[0] != '\0') {
			s.sk = getenv("MKP_SIM_SK");
		}
	} else if (sk_file != NULL) {
		return serve_usage_error("--sk and --sk-file: one or the other", NULL);
	}
	if (s.ak[0] == '\0' || s.sk[0] == '\0')
		return serve_usage_error("--ak and --sk must not be empty", NULL);
	if (!serve_parse_listen(listen, &sin))
		return serve_usage_error("bad --listen (HOST:PORT, HOST 127.x.x.x)",
		    listen);
	if ((tls_cert == NULL) != (tls_key == NULL))
		return serve_usage_error("--tls-cert and --tls-key go together", NULL);
	if (tls_cert != NULL && ((s.tls_cert = serve_read_pem(tls_cert)) == NULL ||
	    (s.tls_key = serve_read_pem(tls_key)) == NULL)) {
		free(s.tls_cert);
		return SIM_FAIL;
	}

	s.orders = sim_orders_new();
	if (orders != NULL && !sim_orders_load(s.orders, orders, err, sizeof(err))) {
		fprintf(stderr, "mkp-sim serve: %s\n", err);
		sim_orders_free(s.orders);
		return SIM_FAIL;
	}
	if (record != NULL && (s.record = fopen(record, "a")) == NULL) {
		fprintf(stderr, "mkp-sim serve: %s: %s\n", record, strerror(errno));
		sim_orders_free(s.orders);
		return SIM_FAIL;
	}
	s.calls = xcalloc(SERVE_MAX_CALLS, sizeof(*s.calls));
	s.usage = sim_usage_new(s.usage_key);
	sim_usage_set_report(s.usage, stdout);
	pthread_mutex_init(&s.lock, NULL);

	rc = serve_run(&s, &sin);

	pthread_mutex_destroy(&s.lock);
	for (i = 0; i < s.ncalls; i++)
		free(s.calls[i]);
	free(s.calls);
	if (s.record != NULL)
		fclose(s.record);
	sim_usage_free(s.usage);
	sim_orders_free(s.orders);
	if (s.tls_key != NULL)
		sodium_memzero(s.tls_key, strlen(s.tls_key));
	free(s.tls_key);
	free(s.tls_cert);
	return rc;
}
