/*
 * sim_call.c: `mkp-sim call`, one V2 basic request signed and sent exactly
 * as the marketplace sends it (spec/v2-basic.md §2.2), and its answer
 * checked.
 *
 * The body is a JSON object made of --file's members, "activity", the
 * name=value / name:=json arguments (later ones win) and defaults
 * (testFlag with --test, a random businessId for newInstance), emitted with
 * its members sorted by key, compact. The signature is computed over
 * the canonical payload of that body (sim_canon_v2: mkp-sim's own
 * implementation, not mkpd's) or its raw bytes with --sign-raw, and
 * travels with timestamp and nonce in the query string. --raw sends a
 * file's bytes untouched. Every --no-* / --bad-* option breaks one thing on
 * purpose, so a seller can see their endpoint refuse it.
 *
 * With --kit the call is a V2 Kit sync (spec/kit-and-v1.md §1.5): POST to
 * {url}produceAPI/v2/ACTIVITY, no "activity" member, testFlag as the
 * number 1, a timeStamp (UTC+8, yyyyMMddHHmmssSSS) added when absent, and
 * x-sign (sign_v2_kit, the Kit key), x-timestamp and x-nonce as headers.
 *
 * --kit-v1 is the same call in the V1 Kit dialect (§1.2): POST to
 * {url}produceAPI/ACTIVITY with an authToken header (sign_v1_token over
 * sim_canon_kit_v1, blank values skipped, keyed with $MKPD_V1_KEY + the
 * body's timeStamp); no x-* headers.
 *
 * The answer's body goes to stdout byte for byte, then a newline; stderr
 * gets "http: STATUS" and "body-sign: ok|missing|MISMATCH" (Body-Sign
 * checked over the exact received bytes with the same key).
 */
#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "cli/sim_call.h"
#include "cli/sim_canon.h"
#include "cli/sim_v1.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "crypto/random.h"
#include "crypto/sign.h"

#define CALL_MAX_FILE		(64L << 20)	/* a body file, bytes */
#define CALL_MAX_ANSWER		(64L << 20)	/* an answer, bytes */
#define CALL_JSON_DEPTH		64
#define CALL_NONCE_BYTES	32		/* 64 hex characters, as the marketplace */
#define CALL_DEFAULT_TIMEOUT	25		/* seconds; the marketplace allows 20 */

struct call_member {
	char	*key;
	char	*value;		/* compact JSON text */
};

struct call_members {
	struct call_member *m;
	size_t	 n;
	size_t	 cap;
};

struct call_opts {
	const char	*url;
	const char	*key;
	const char	*file;
	const char	*raw_file;
	const char	*expect;
	const char	*nonce;
	int64_t		 timestamp;
	bool		 have_timestamp;
	int64_t		 skew;
	int64_t		 timeout;
	bool		 test;
	bool		 no_nonce;
	bool		 no_timestamp;
	bool		 no_signature;
	bool		 bad_signature;
	bool		 sign_raw;
	bool		 insecure;
	const char	*cacert;	/* --cacert, else $MKPD_CA_FILE, else the system's */
	bool		 verbose;
	bool		 require_body_sign;
	bool		 v1;		/* --v1: a legacy V1 GET (sim_v1.c) */
	bool		 kit;
	bool		 kit_v1;
};

struct call_answer {
	struct buf	 body;
	struct buf	 body_sign;	/* the Body-Sign header's value */
	bool		 have_body_sign;
	bool		 too_big;
	bool		 verbose;
};

enum call_opt_id {
	OPT_TEST = 256,
	OPT_TIMESTAMP,
	OPT_SKEW,
	OPT_NONCE,
	OPT_NO_NONCE,
	OPT_NO_TIMESTAMP,
	OPT_NO_SIGNATURE,
	OPT_BAD_SIGNATURE,
	OPT_RAW,
	OPT_SIGN_RAW,
	OPT_TIMEOUT,
	OPT_EXPECT,
	OPT_REQUIRE_BODY_SIGN,
	OPT_INSECURE,
	OPT_CACERT,
	OPT_HELP,
	OPT_V1,
	OPT_KIT,
	OPT_KIT_V1,
};

static const struct option call_longopts[] = {
	{ "url", required_argument, NULL, 'u' },
	{ "key", required_argument, NULL, 'k' },
	{ "file", required_argument, NULL, 'f' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "test", no_argument, NULL, OPT_TEST },
	{ "timestamp", required_argument, NULL, OPT_TIMESTAMP },
	{ "skew", required_argument, NULL, OPT_SKEW },
	{ "nonce", required_argument, NULL, OPT_NONCE },
	{ "no-nonce", no_argument, NULL, OPT_NO_NONCE },
	{ "no-timestamp", no_argument, NULL, OPT_NO_TIMESTAMP },
	{ "no-signature", no_argument, NULL, OPT_NO_SIGNATURE },
	{ "bad-signature", no_argument, NULL, OPT_BAD_SIGNATURE },
	{ "raw", required_argument, NULL, OPT_RAW },
	{ "sign-raw", no_argument, NULL, OPT_SIGN_RAW },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "expect", required_argument, NULL, OPT_EXPECT },
	{ "require-body-sign", no_argument, NULL, OPT_REQUIRE_BODY_SIGN },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "cacert", required_argument, NULL, OPT_CACERT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "v1", no_argument, NULL, OPT_V1 },
	{ "kit", no_argument, NULL, OPT_KIT },
	{ "kit-v1", no_argument, NULL, OPT_KIT_V1 },
	{ NULL, 0, NULL, 0 },
};

void
sim_call_usage(void)
{
	printf(
"usage: mkp-sim call [options] ACTIVITY [name=value ...] [name:=JSON ...]\n"
"       mkp-sim call [options] --raw FILE [ACTIVITY]\n"
"\n"
"Signs and sends one V2 basic request as the marketplace does: a POST of a\n"
"JSON object to the production URL, with ?signature=&timestamp=&nonce= in the\n"
"query (spec/v2-basic.md 2.2). The body holds \"activity\": ACTIVITY and the\n"
"fields: name=value adds a string member, name:=JSON a raw JSON member\n"
"(productInfo:='{\"skuCode\":\"x\"}'). Members are sorted by key, compact. For\n"
"newInstance, businessId defaults to a random UUID.\n"
"\n"
"  -u, --url URL        production URL (default $MKPD_URL, else\n"
"                       http://127.0.0.1:${MKPD_HTTP_PORT:-8080}/)\n"
"  -k, --key KEY        basic-interface access key (default $MKPD_BASIC_KEY)\n"
"  -f, --file FILE      start from this JSON object; arguments add to it or\n"
"                       override its top-level members\n"
"      --test           add \"testFlag\":\"1\"\n"
"      --timestamp MS   send this timestamp (Unix milliseconds)\n"
"      --skew MS        add MS (may be negative) to the current time\n"
"      --nonce N        send this nonce (default: 64 random upper-case hex)\n"
"      --no-nonce       leave nonce out of the query\n"
"      --no-timestamp   leave timestamp out of the query\n"
"      --no-signature   leave signature out of the query\n"
"      --bad-signature  send the signature with one hex digit changed\n"
"      --raw FILE       send FILE's bytes exactly, signed over their canonical\n"
"                       form when they parse as JSON, else over the bytes;\n"
"                       an ACTIVITY given with it is ignored, fields are refused\n"
"      --sign-raw       sign the body's bytes, not its canonical form\n"
"      --timeout SEC    give up after SEC seconds (default %d)\n"
"      --expect CODE    exit 3 unless the answer's resultCode is CODE\n"
"      --require-body-sign\n"
"                       exit 4 unless the answer's Body-Sign header is valid\n"
"      --insecure       do not verify the TLS peer and host name\n"
"      --cacert FILE    verify the TLS peer against the CA certificates in FILE\n"
"                       (PEM; default $MKPD_CA_FILE, else the system's)\n"
"      --kit            a V2 Kit sync call (tenantSync, applicationSync, authSync,\n"
"                       singleOrgSync, allOrgSync): POST to URL produceAPI/v2/\n"
"                       ACTIVITY, signed with x-sign/x-timestamp/x-nonce headers\n"
"                       and the Kit key (default $MKPD_KIT_KEY); testFlag is the\n"
"                       number 1 with --test; timeStamp defaults to now (UTC+8)\n"
"      --kit-v1         the same in the V1 Kit dialect: POST to URL produceAPI/\n"
"                       ACTIVITY with an authToken header (the V1 key,\n"
"                       default $MKPD_V1_KEY, + timeStamp; blank values skipped)\n"
"  -v, --verbose        print the request and the answer's headers to stderr\n"
"\n"
"Output: the answer's body on stdout exactly as received, then a newline;\n"
"on stderr \"http: STATUS\" and \"body-sign: ok|missing|MISMATCH\" (the\n"
"Body-Sign header, sign_type=\"HMAC-SHA256\", signature=\"BASE64\", checked\n"
"over the received bytes with the same key).\n"
"\n"
"Exit status: 0 HTTP 200 with a JSON body holding resultCode; 1 transport\n"
"error, another HTTP status or no resultCode; 2 usage error; 3 --expect\n"
"mismatch; 4 --require-body-sign failed.\n"
"\n"
"--v1: send a legacy V1 basic call instead (spec/kit-and-v1.md 1.1, 3): a GET\n"
"of the production URL whose query holds activity=ACTIVITY, the name=value\n"
"fields, testFlag (--test), businessId (newInstance), timeStamp\n"
"(yyyyMMddHHmmssSSS UTC; --timestamp MS and --skew MS apply) and authToken =\n"
"base64(HMAC-SHA256(KEY + timeStamp, the other parameters sorted, k=v&...)),\n"
"every name and value percent-encoded ('+' '/' '=' ',' too), as the\n"
"marketplace does. -k is the V1 key (default $MKPD_V1_KEY); Body-Sign is\n"
"checked with it. --no-signature leaves authToken out, --bad-signature\n"
"changes one of its characters, --no-timestamp leaves timeStamp out.\n"
"When the answer has encryptType, every appInfo's userName and password\n"
"are decrypted with the key and shown on stderr, one line per appInfo:\n"
"  appinfo: {\"instanceId\":\"..\",\"userName\":\"..\",\"password\":\"..\"}\n"
"(null for a field that does not decrypt, and the exit status is then 1).\n",
	    CALL_DEFAULT_TIMEOUT);
}

static int
usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "mkp-sim call: %s%s%s\n", msg, arg ? ": " : "",
	    arg ? arg : "");
	fprintf(stderr, "Try 'mkp-sim call --help'.\n");
	return SIM_USAGE;
}

/* --- the body's members ------------------------------------------------- */

/* Sets key to value (compact JSON, ownership taken), replacing any earlier. */
static void
members_set(struct call_members *ms, const char *key, char *value)
{
	size_t	i;

	for (i = 0; i < ms->n; i++) {
		if (strcmp(ms->m[i].key, key) == 0) {
			free(ms->m[i].value);
			ms->m[i].value = value;
			return;
		}
	}
	if (ms->n == ms->cap) {
		ms->cap = ms->cap ? 2 * ms->cap : 16;
		ms->m = xrealloc(ms->m, ms->cap * sizeof(*ms->m));
	}
	ms->m[ms->n].key = xstrdup(key);
	ms->m[ms->n].value = value;
	ms->n++;
}

static bool
members_has(const struct call_members *ms, const char *key)
{
	size_t	i;

	for (i = 0; i < ms->n; i++)
		if (strcmp(ms->m[i].key, key) == 0)
			return true;
	return false;
}

static void
members_set_str(struct call_members *ms, const char *key, const char *s)
{
	struct buf	b = BUF_INIT;

	json_put_str(&b, s, strlen(s));
	members_set(ms, key, buf_steal(&b));
}

static void
members_free(struct call_members *ms)
{
	size_t	i;

	for (i = 0; i < ms->n; i++) {
		free(ms->m[i].key);
		free(ms->m[i].value);
	}
	free(ms->m);
	ms->m = NULL;
	ms->n = ms->cap = 0;
}

static int
member_cmp(const void *a, const void *b)
{
	const struct call_member *x = a, *y = b;

	return strcmp(x->key, y->key);	/* byte order, as the signature sorts */
}

/* Appends the object, members sorted by key, compact. */
static void
members_emit(struct call_members *ms, struct buf *out)
{
	struct jw	w;
	size_t		i;

	qsort(ms->m, ms->n, sizeof(*ms->m), member_cmp);
	jw_init(&w, out);
	jw_obj_begin(&w);
	for (i = 0; i < ms->n; i++) {
		jw_key(&w, ms->m[i].key);
		jw_raw(&w, ms->m[i].value);
	}
	jw_obj_end(&w);
}

/* --- reading input ------------------------------------------------------ */

static bool
read_file(const char *path, struct buf *out)
{
	FILE	*f;
	char	 chunk[65536];
	size_t	 n;
	bool	 ok = true;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "mkp-sim call: %s: %m\n", path);
		return false;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (out->len + n > (size_t)CALL_MAX_FILE) {
			fprintf(stderr, "mkp-sim call: %s: larger than %ld bytes\n",
			    path, CALL_MAX_FILE);
			ok = false;
			break;
		}
		buf_append(out, chunk, n);
	}
	if (ok && ferror(f)) {
		fprintf(stderr, "mkp-sim call: %s: read error\n", path);
		ok = false;
	}
	fclose(f);
	return ok;
}

/* Parses len bytes of JSON; NULL (reason printed) when it is not valid. */
static struct json *
parse_json(const char *what, const char *text, size_t len)
{
	struct json	*v;
	char		 err[256];

	v = json_parse(text, len, CALL_JSON_DEPTH, err, sizeof(err));
	if (v == NULL)
		fprintf(stderr, "mkp-sim call: %s: %s\n", what, err);
	return v;
}

/* Adds every member of the JSON object in path. */
static bool
members_from_file(struct call_members *ms, const char *path)
{
	struct buf	 text = BUF_INIT, val = BUF_INIT;
	struct json	*root = NULL;
	size_t		 i;
	bool		 ok = false;

	if (!read_file(path, &text))
		goto out;
	if ((root = parse_json(path, text.data, text.len)) == NULL)
		goto out;
	if (root->type != JSON_OBJECT) {
		fprintf(stderr, "mkp-sim call: %s: not a JSON object\n", path);
		goto out;
	}
	for (i = 0; i < root->u.obj.n; i++) {
		buf_reset(&val);
		json_emit(root->u.obj.vals[i], &val);
		members_set(ms, root->u.obj.keys[i], xstrdup(buf_cstr(&val)));
	}
	ok = true;
out:
	json_free(root);
	buf_free(&val);
	buf_free(&text);
	return ok;
}

/* name=value (a string) or name:=JSON (any JSON value, re-emitted compact). */
static bool
members_from_arg(struct call_members *ms, const char *arg)
{
	const char	*eq = strchr(arg, '=');
	struct json	*v;
	struct buf	 b = BUF_INIT;
	char		*name;
	bool		 raw;

	if (eq == NULL || eq == arg || (eq == arg + 1 && arg[0] == ':')) {
		usage_error("expected name=value or name:=JSON", arg);
		return false;
	}
	raw = eq[-1] == ':';
	name = xstrndup(arg, (size_t)(eq - arg) - (raw ? 1 : 0));
	if (!raw) {
		members_set_str(ms, name, eq + 1);
	} else {
		if ((v = parse_json(name, eq + 1, strlen(eq + 1))) == NULL) {
			free(name);
			return false;
		}
		json_emit(v, &b);
		json_free(v);
		members_set(ms, name, buf_steal(&b));
	}
	free(name);
	return true;
}

/* --- random values -------------------------------------------------------- */

/* A random UUID, version 4, lower case: out holds 37 bytes. */
static void
uuid_v4(char out[37])
{
	static const char variant[] = "89ab";
	char	h[33];

	rand_hex(h, 16);
	h[12] = '4';
	h[16] = variant[(h[16] <= '9' ? h[16] - '0' : h[16] - 'a' + 10) & 3];
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12,
	    h + 16, h + 20);
}

static void
to_upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

/* --- HTTP ----------------------------------------------------------------- */

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct call_answer *a = arg;

	if (a->body.len + n > (size_t)CALL_MAX_ANSWER) {
		a->too_big = true;
		return 0;	/* makes curl fail the transfer */
	}
	buf_append(&a->body, p, n);
	return n;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct call_answer *a = arg;
	size_t	len = n;
	const char *v;

	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	if (a->verbose && len > 0)
		fprintf(stderr, "< %.*s\n", (int)len, p);
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A new response (after a 100 Continue): forget the last one's. */
		buf_reset(&a->body_sign);
		a->have_body_sign = false;
	} else if (len >= 10 && strncasecmp(p, "Body-Sign:", 10) == 0) {
		for (v = p + 10; v < p + len && (*v == ' ' || *v == '\t'); v++)
			;
		buf_reset(&a->body_sign);
		buf_append(&a->body_sign, v, (size_t)(p + len - v));
		a->have_body_sign = true;
	}
	return n;
}

/*
 * The quoted value of name= in a Body-Sign header, spaces allowed after
 * '=' (the V1 example has one). Returns a malloc'd copy, or NULL.
 */
static char *
header_param(const char *h, const char *name)
{
	size_t		 nlen = strlen(name);
	const char	*p = h, *end;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == h || p[-1] == ' ' || p[-1] == ',') && p[nlen] == '=')
			break;
		p += nlen;
	}
	if (p == NULL)
		return NULL;
	for (p += nlen + 1; *p == ' '; p++)
		;
	if (*p++ != '"' || (end = strchr(p, '"')) == NULL)
		return NULL;
	return xstrndup(p, (size_t)(end - p));
}

static const char *
body_sign_check(const struct call_answer *a, const char *key)
{
	char		 expected[SIGN_B64_LEN + 1];
	char		*type, *sig;
	const char	*verdict = "MISMATCH";

	if (!a->have_body_sign)
		return "missing";
	if (key == NULL)
		return "unchecked (no key)";
	type = header_param(buf_cstr(&a->body_sign), "sign_type");
	sig = header_param(buf_cstr(&a->body_sign), "signature");
	if (type != NULL && sig != NULL && strcmp(type, "HMAC-SHA256") == 0) {
		sign_hmac_b64(key, strlen(key), a->body.data ? a->body.data : "",
		    a->body.len, expected);
		if (sign_b64_equal(expected, sig))
			verdict = "ok";
	}
	free(type);
	free(sig);
	return verdict;
}

/* Appends one query parameter, its value escaped. */
static void
url_param(struct buf *url, CURL *curl, const char *name, const char *value)
{
	char	*esc = curl_easy_escape(curl, value, 0);

	if (esc == NULL) {
		fprintf(stderr, "mkp-sim call: out of memory\n");
		abort();
	}
	buf_printf(url, "%c%s=%s",
	    strchr(buf_cstr(url), '?') ? '&' : '?', name, esc);
	curl_free(esc);
}

/*
 * Sends body to url with the marketplace's headers; fills a. Returns the
 * HTTP status, or -1 after printing the transport error.
 */
static long
post(const struct call_opts *o, const char *url, const struct buf *body,
    struct curl_slist *extra, struct call_answer *a)
{
	CURL			*curl;
	struct curl_slist	*hdrs = NULL;
	char			 errbuf[CURL_ERROR_SIZE] = "";
	CURLcode		 rc;
	long			 status = -1;

	if ((curl = curl_easy_init()) == NULL) {
		fprintf(stderr, "mkp-sim call: curl_easy_init failed\n");
		return -1;
	}
	if (body != NULL)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json;charset=utf8");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");	/* the marketplace sends none */
	for (; extra != NULL; extra = extra->next) {
		hdrs = curl_slist_append(hdrs, extra->data);
		if (o->verbose)
			fprintf(stderr, "> %s\n", extra->data);
	}
	if (o->verbose && body == NULL)
		fprintf(stderr, "> GET %s\n> Accept: application/json\n", url);
	if (o->verbose && body != NULL) {
		fprintf(stderr, "> POST %s\n"
		    "> Content-Type: application/json;charset=utf8\n"
		    "> Accept: application/json\n"
		    "> Content-Length: %zu\n>\n> %s\n",
		    url, body->len, buf_cstr(body));
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	if (body != NULL) {
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data ? body->data : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	}
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(o->timeout * 1000));
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);
	if (o->cacert != NULL && *o->cacert != '\0')
		curl_easy_setopt(curl, CURLOPT_CAINFO, o->cacert);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "mkp-sim/" PACKAGE_VERSION);

	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		fprintf(stderr, "mkp-sim call: %s\n", a->too_big ?
		    "answer larger than 64 MiB" :
		    errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(curl);
	return status;
}

/* --- the command ---------------------------------------------------------- */

static int
parse_opts(int argc, char **argv, struct call_opts *o)
{
	int	c;

	o->timeout = CALL_DEFAULT_TIMEOUT;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":u:k:f:v", call_longopts, NULL)) != -1) {
		switch (c) {
		case 'u': o->url = optarg; break;
		case 'k': o->key = optarg; break;
		case 'f': o->file = optarg; break;
		case 'v': o->verbose = true; break;
		case OPT_TEST: o->test = true; break;
		case OPT_TIMESTAMP:
			if (!parse_i64(optarg, 0, INT64_MAX / 2, &o->timestamp))
				return usage_error("bad --timestamp", optarg);
			o->have_timestamp = true;
			break;
		case OPT_SKEW:
			if (!parse_i64(optarg, -INT64_MAX / 4, INT64_MAX / 4, &o->skew))
				return usage_error("bad --skew", optarg);
			break;
		case OPT_NONCE: o->nonce = optarg; break;
		case OPT_NO_NONCE: o->no_nonce = true; break;
		case OPT_NO_TIMESTAMP: o->no_timestamp = true; break;
		case OPT_NO_SIGNATURE: o->no_signature = true; break;
		case OPT_BAD_SIGNATURE: o->bad_signature = true; break;
		case OPT_RAW: o->raw_file = optarg; break;
		case OPT_SIGN_RAW: o->sign_raw = true; break;
		case OPT_TIMEOUT:
			if (!parse_i64(optarg, 1, 86400, &o->timeout))
				return usage_error("bad --timeout (1 to 86400 seconds)", optarg);
			break;
		case OPT_EXPECT: o->expect = optarg; break;
		case OPT_REQUIRE_BODY_SIGN: o->require_body_sign = true; break;
		case OPT_INSECURE: o->insecure = true; break;
		case OPT_CACERT: o->cacert = optarg; break;
		case OPT_V1: o->v1 = true; break;
		case OPT_KIT: o->kit = true; break;
		case OPT_KIT_V1: o->kit = o->kit_v1 = true; break;
		case OPT_HELP:
			sim_call_usage();
			exit(SIM_OK);
		case ':':
			return usage_error("option needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option", argv[optind - 1]);
		}
	}
	return SIM_OK;
}

/*
 * Builds the body from the file, ACTIVITY and the field arguments (argv
 * from optind on). Returns SIM_OK or a usage/input error status.
 */
static int
build_body(const struct call_opts *o, int argc, char **argv, struct buf *body)
{
	struct call_members ms = { NULL, 0, 0 };
	const char	*activity = NULL;
	char		 id[37];
	int		 i = optind, rc = SIM_USAGE;

	if (i < argc && strchr(argv[i], '=') == NULL)
		activity = argv[i++];
	if (o->file != NULL && !members_from_file(&ms, o->file))
		goto out;
	if (o->kit) {
		char	stamp[18];

		if (activity == NULL) {
			usage_error("no ACTIVITY given (the Kit interface name)", NULL);
			goto out;
		}
		if (o->test)
			members_set(&ms, "testFlag", xstrdup("1"));
		if (!members_has(&ms, "timeStamp")) {
			/* Kit timeStamps are UTC+8 (spec/kit-and-v1.md §2.1). */
			fmt_mkp_time(now_ms() + 8 * 3600 * 1000LL, stamp);
			members_set_str(&ms, "timeStamp", stamp);
		}
	} else if (activity != NULL)
		members_set_str(&ms, "activity", activity);
	else if (!members_has(&ms, "activity")) {
		usage_error("no ACTIVITY given", NULL);
		goto out;
	}
	if (o->test && !o->kit)
		members_set_str(&ms, "testFlag", "1");
	for (; i < argc; i++)
		if (!members_from_arg(&ms, argv[i]))
			goto out;
	if (activity != NULL && strcmp(activity, "newInstance") == 0 &&
	    !members_has(&ms, "businessId")) {
		uuid_v4(id);
		members_set_str(&ms, "businessId", id);
	}
	members_emit(&ms, body);
	rc = SIM_OK;
out:
	members_free(&ms);
	return rc;
}

/*
 * The bytes the signature covers: the canonical form, or the raw body
 * (--sign-raw, or a --raw file that is not JSON).
 */
static void
signed_payload(const struct call_opts *o, const struct buf *body, struct buf *out)
{
	if (o->sign_raw || !sim_canon_v2(buf_cstr(body), body->len, out))
		buf_append(out, buf_cstr(body), body->len);
}

/* Exit status for an answer, with the reasons on stderr. */
static int
judge(const struct call_opts *o, long status, const struct call_answer *a,
    const char *body_sign)
{
	struct json	*v;
	const char	*code;
	char		 err[256];
	int		 rc = SIM_FAIL;

	if (status != 200)
		return SIM_FAIL;
	v = json_parse(a->body.data ? a->body.data : "", a->body.len,
	    CALL_JSON_DEPTH, err, sizeof(err));
	if (v == NULL || json_get(v, "resultCode") == NULL) {
		fprintf(stderr, "mkp-sim call: the answer is not a JSON object "
		    "with resultCode%s%s\n", v ? "" : ": ", v ? "" : err);
		goto out;
	}
	code = json_get_str(v, "resultCode");
	rc = SIM_OK;
	if (o->expect != NULL && (code == NULL || strcmp(code, o->expect) != 0)) {
		fprintf(stderr, "mkp-sim call: resultCode %s, expected %s\n",
		    code ? code : "(not a string)", o->expect);
		rc = SIM_UNEXPECTED;
	} else if (o->require_body_sign && strcmp(body_sign, "ok") != 0) {
		rc = SIM_BAD_BODY_SIGN;
	}
out:
	json_free(v);
	return rc;
}

/* --v1: the query from sim_v1.c, a GET, Body-Sign and appInfo checked. */
static int
call_v1(const struct call_opts *o, int argc, char **argv, struct buf *url)
{
	struct call_answer	 a = { BUF_INIT, BUF_INIT, false, false, false };
	struct sim_v1_opts	 v;
	struct buf		 query = BUF_INIT;
	const char		*verdict;
	long			 status;
	int			 rc = SIM_FAIL;

	memset(&v, 0, sizeof(v));
	v.key = o->key;
	v.time_ms = o->have_timestamp ? o->timestamp : now_ms() + o->skew;
	v.test = o->test;
	v.no_timestamp = o->no_timestamp;
	v.no_token = o->no_signature;
	v.bad_token = o->bad_signature;
	if (!sim_v1_query(&v, argc - optind, argv + optind, &query)) {
		buf_free(&query);
		return usage_error("cannot build the V1 query", NULL);
	}
	buf_putc(url, strchr(buf_cstr(url), '?') != NULL ? '&' : '?');
	buf_append(url, query.data, query.len);
	a.verbose = o->verbose;
	status = post(o, buf_cstr(url), NULL, NULL, &a);
	if (status >= 0) {
		fwrite(buf_cstr(&a.body), 1, a.body.len, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		verdict = body_sign_check(&a, o->key);
		fprintf(stderr, "http: %ld\nbody-sign: %s\n", status, verdict);
		rc = judge(o, status, &a, verdict);
		if (!sim_v1_show_app_info(o->key, buf_cstr(&a.body), a.body.len) && rc == SIM_OK)
			rc = SIM_FAIL;
	}
	buf_free(&a.body);
	buf_free(&a.body_sign);
	buf_free(&query);
	return rc;
}

int
sim_call_main(int argc, char **argv)
{
	struct call_opts	 o;
	struct call_answer	 a = { BUF_INIT, BUF_INIT, false, false, false };
	struct buf		 body = BUF_INIT, payload = BUF_INIT, url = BUF_INIT;
	char			 nonce[2 * CALL_NONCE_BYTES + 1];
	char			 ts[24], sig[SIGN_HEX_LEN + 1];
	const char		*env, *verdict;
	struct curl_slist	*extra = NULL;
	struct buf		 hdr = BUF_INIT;
	CURL			*esc = NULL;
	long			 status;
	int			 rc;

	memset(&o, 0, sizeof(o));
	if ((rc = parse_opts(argc, argv, &o)) != SIM_OK)
		return rc;
	if (o.key == NULL && (env = getenv(o.v1 || o.kit_v1 ? "MKPD_V1_KEY" :
	    o.kit ? "MKPD_KIT_KEY" : "MKPD_BASIC_KEY")) != NULL &&
	    *env)
		o.key = env;
	if (o.key != NULL && *o.key == '\0')
		o.key = NULL;
	if (o.cacert == NULL)
		o.cacert = getenv("MKPD_CA_FILE");
	if (o.key == NULL && !o.no_signature)
		return usage_error(o.v1 || o.kit_v1 ? "no key: give -k KEY or set MKPD_V1_KEY" :
		    o.kit ? "no key: give -k KEY or set MKPD_KIT_KEY" :
		    "no key: give -k KEY or set MKPD_BASIC_KEY", NULL);
	if (o.v1 && o.kit)
		return usage_error("--v1 (basic) and --kit/--kit-v1 exclude each other", NULL);
	if (o.v1 && (o.raw_file != NULL || o.file != NULL || o.nonce != NULL ||
	    o.no_nonce || o.sign_raw))
		return usage_error("--v1 takes no --raw, --file, --nonce, --no-nonce "
		    "or --sign-raw", NULL);
	if (o.kit && o.raw_file != NULL && optind >= argc)
		return usage_error("--kit --raw FILE needs the ACTIVITY", NULL);
	/* A lone ACTIVITY is allowed, so a raw call reads like any other. */
	if (o.raw_file != NULL && (o.file != NULL || o.test || argc - optind > 1 ||
	    (optind < argc && strchr(argv[optind], '=') != NULL)))
		return usage_error("--raw sends the file as it is: no fields, "
		    "--file or --test with it", NULL);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "mkp-sim call: curl_global_init failed\n");
		return SIM_FAIL;
	}
	if (o.url != NULL)
		buf_puts(&url, o.url);
	else if ((env = getenv("MKPD_URL")) != NULL && *env)
		buf_puts(&url, env);
	else
		buf_printf(&url, "http://127.0.0.1:%s/",
		    (env = getenv("MKPD_HTTP_PORT")) != NULL && *env ? env : "8080");

	if (o.v1) {
		rc = call_v1(&o, argc, argv, &url);
		goto out;
	}
	if (o.raw_file != NULL)
		rc = read_file(o.raw_file, &body) ? SIM_OK : SIM_USAGE;
	else
		rc = build_body(&o, argc, argv, &body);
	if (rc != SIM_OK)
		goto out;

	if (o.nonce != NULL) {
		if (!str_copy(nonce, sizeof(nonce), o.nonce)) {
			rc = usage_error("--nonce longer than 64 characters", NULL);
			goto out;
		}
	} else {
		rand_hex(nonce, CALL_NONCE_BYTES);
		to_upper(nonce);
	}
	snprintf(ts, sizeof(ts), "%lld", (long long)(o.have_timestamp ?
	    o.timestamp : now_ms() + o.skew));
	signed_payload(&o, &body, &payload);
	if (o.key != NULL) {
		if (o.kit_v1) {
			struct json	*v;
			struct buf	 data = BUF_INIT;
			char		 err[128], tok[SIGN_B64_LEN + 1];
			const char	*stamp;

			v = json_parse(body.data ? body.data : "", body.len, CALL_JSON_DEPTH,
			    err, sizeof(err));
			stamp = v != NULL ? json_get_str(v, "timeStamp") : NULL;
			if (!sim_canon_kit_v1(buf_cstr(&body), body.len, &data))
				buf_reset(&data);
			sign_v1_token(o.key, stamp ? stamp : "", buf_cstr(&data), data.len, tok);
			if (o.bad_signature)
				tok[0] = tok[0] == 'A' ? 'B' : 'A';
			(void)!str_copy(sig, sizeof(sig), tok);
			json_free(v);
			buf_free(&data);
		} else if (o.kit)
			sign_v2_kit(o.key, payload.data ? payload.data : "", payload.len,
			    nonce, ts, sig);
		else
			sign_v2_basic(o.key, payload.data ? payload.data : "", payload.len,
			    nonce, ts, sig);
		if (!o.kit_v1)
			to_upper(sig);
		if (o.bad_signature && !o.kit_v1)
			sig[0] = sig[0] == '0' ? '1' : '0';
	}
	if (o.verbose && (payload.len != body.len ||
	    memcmp(buf_cstr(&payload), buf_cstr(&body), body.len) != 0))
		fprintf(stderr, "* signed payload: %s\n", buf_cstr(&payload));

	if ((esc = curl_easy_init()) == NULL) {
		rc = SIM_FAIL;
		goto out;
	}
	if (o.kit) {
		/* The Kit sub-path is appended to the production URL. */
		if (url.len == 0 || buf_cstr(&url)[url.len - 1] != '/')
			buf_putc(&url, '/');
		buf_printf(&url, o.kit_v1 ? "produceAPI/%s" : "produceAPI/v2/%s", argv[optind]);
		if (o.kit_v1) {
			if (!o.no_signature) {
				buf_printf(&hdr, "authToken: %s", sig);
				extra = curl_slist_append(extra, buf_cstr(&hdr));
			}
		} else if (!o.no_signature) {
			buf_printf(&hdr, "x-sign: %s", sig);
			extra = curl_slist_append(extra, buf_cstr(&hdr));
		}
		if (!o.no_timestamp && !o.kit_v1) {
			buf_reset(&hdr);
			buf_printf(&hdr, "x-timestamp: %s", ts);
			extra = curl_slist_append(extra, buf_cstr(&hdr));
		}
		if (!o.no_nonce && !o.kit_v1) {
			buf_reset(&hdr);
			buf_printf(&hdr, "x-nonce: %s", nonce);
			extra = curl_slist_append(extra, buf_cstr(&hdr));
		}
	} else {
		if (!o.no_signature)
			url_param(&url, esc, "signature", sig);
		if (!o.no_timestamp)
			url_param(&url, esc, "timestamp", ts);
		if (!o.no_nonce)
			url_param(&url, esc, "nonce", nonce);
	}

	a.verbose = o.verbose;
	status = post(&o, buf_cstr(&url), &body, extra, &a);
	if (status < 0) {
		rc = SIM_FAIL;
		goto out;
	}
	fwrite(buf_cstr(&a.body), 1, a.body.len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	verdict = body_sign_check(&a, o.key);
	fprintf(stderr, "http: %ld\nbody-sign: %s\n", status, verdict);
	rc = judge(&o, status, &a, verdict);
out:
	if (esc != NULL)
		curl_easy_cleanup(esc);
	buf_free(&a.body);
	buf_free(&a.body_sign);
	buf_free(&body);
	buf_free(&payload);
	buf_free(&url);
	buf_free(&hdr);
	curl_slist_free_all(extra);
	curl_global_cleanup();
	return rc;
}
