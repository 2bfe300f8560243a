/*
 * apig.c: the API Gateway's AK/SK signature "SDK-HMAC-SHA256"
 * (spec/outbound.md §2): the signer for mkpd's calls to the marketplace
 * open API (the order query, the usage push), and the verifier the mock
 * marketplace needs to refuse what the real gateway refuses (§2.10).
 *
 * Why one file for both sides: they must build byte-identical canonical
 * requests, so they share apig_canon() and nothing else decides the form.
 *
 * Canonicalisation follows the published signers (Go SDK escape.go and
 * signer.go, the Python and JS signers), checked against the three
 * published vectors of §2.9:
 * - URI: the path is %-decoded, split on '/', each segment re-encoded,
 *   re-joined, and a '/' appended unless it already ends with one.
 * - Query: split on '&' (empty pieces skipped), each piece split at the
 *   first '=' ("k" alone is "k="), both halves %-decoded, pairs sorted by
 *   key then value (byte order), re-encoded, joined with '&'. A '+' is a
 *   literal '+' (RFC 3986, as the Python signer reads it); mkpd itself
 *   never sends one unescaped, so only a foreign client could notice.
 * - Headers: names lower-cased and sorted, values trimmed of blanks at
 *   both ends; each signed header must occur exactly once.
 * - Body: hex SHA-256 of the exact bytes, or the X-Sdk-Content-Sha256
 *   header's value when present (e.g. UNSIGNED-PAYLOAD).
 * A bad %-escape is refused rather than guessed at.
 *
 * Memory: everything is built in struct buf and freed before return;
 * the SK is only ever passed to sign_hmac_hex.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/json.h"
#include "common/util.h"
#include "crypto/apig.h"
#include "crypto/sign.h"

#define APIG_AK_MAX	128	/* longest Access= value the verifier takes */

/* Why apig_canon failed: tells the verifier which verdict applies. */
enum apig_canon_err {
	CANON_OK,
	CANON_BAD_REQUEST,	/* the path or query cannot be decoded */
	CANON_BAD_HEADERS,	/* the signed header list is unusable */
};

void
apig_format_date(int64_t ms, char out[APIG_DATE_LEN + 1])
{
	time_t		secs = (time_t)(ms / 1000);
	struct tm	tm;
	char		tmp[64];

	if (ms < 0 && ms % 1000 != 0)
		secs--;
	gmtime_r(&secs, &tm);
	/* tmp is large enough for the compiler to see no truncation. */
	snprintf(tmp, sizeof(tmp), "%04d%02d%02dT%02d%02d%02dZ",
	    (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	memcpy(out, tmp, APIG_DATE_LEN);
	out[APIG_DATE_LEN] = '\0';
}

bool
apig_parse_date(const char *s, int64_t *ms)
{
	char	digits[15];

	if (strnlen(s, APIG_DATE_LEN + 1) != APIG_DATE_LEN ||
	    s[8] != 'T' || s[15] != 'Z')
		return false;
	memcpy(digits, s, 8);
	memcpy(digits + 8, s + 9, 6);
	digits[14] = '\0';
	return parse_mkp_time(digits, ms);
}

static bool
apig_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

void
apig_escape(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t	i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (apig_unreserved(c))
			buf_putc(out, (char)c);
		else {
			buf_putc(out, '%');
			buf_putc(out, hex[c >> 4]);
			buf_putc(out, hex[c & 15]);
		}
	}
}

/* %-decodes n bytes of s into out (reset first). false on a bad escape. */
static bool
apig_unescape(const char *s, size_t n, struct buf *out)
{
	size_t	i;
	int	hi, lo;

	buf_reset(out);
	buf_reserve(out, n);
	for (i = 0; i < n; i++) {
		if (s[i] != '%') {
			buf_putc(out, s[i]);
			continue;
		}
		if (n - i < 3)		/* '%' needs two hex digits after it */
			return false;
		hi = hex_digit((unsigned char)s[i + 1]);
		lo = hex_digit((unsigned char)s[i + 2]);
		if (hi < 0 || lo < 0)
			return false;
		buf_putc(out, (char)(hi << 4 | lo));
		i += 2;
	}
	return true;
}

static bool
apig_canon_uri(const char *path, struct buf *out)
{
	struct buf	dec = BUF_INIT;
	const char	*p, *end, *slash;
	bool		ok;

	if (path == NULL)
		path = "";
	ok = apig_unescape(path, strlen(path), &dec);
	if (ok) {
		/* The decoded bytes may hold a NUL (%00): walk by length. */
		p = dec.data != NULL ? dec.data : "";
		end = p + dec.len;
		for (;;) {
			slash = memchr(p, '/', (size_t)(end - p));
			if (slash == NULL) {
				apig_escape(out, p, (size_t)(end - p));
				break;
			}
			apig_escape(out, p, (size_t)(slash - p));
			buf_putc(out, '/');
			p = slash + 1;
		}
		if (out->len == 0 || out->data[out->len - 1] != '/')
			buf_putc(out, '/');
	}
	buf_free(&dec);
	return ok;
}

struct apig_pair {
	char	*k, *v;		/* decoded; may hold NUL bytes */
	size_t	 klen, vlen;
};

static int
apig_bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int	c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
apig_pair_cmp(const void *x, const void *y)
{
	const struct apig_pair *a = x, *b = y;
	int	c = apig_bytes_cmp(a->k, a->klen, b->k, b->klen);

	return c != 0 ? c : apig_bytes_cmp(a->v, a->vlen, b->v, b->vlen);
}

static bool
apig_canon_query(const char *query, struct buf *out)
{
	struct apig_pair *pairs = NULL;
	struct buf	 tmp = BUF_INIT;
	const char	*p, *end, *amp, *eq;
	size_t		 n = 0, cap = 0, i;
	bool		 ok = true;

	if (query == NULL)
		query = "";
	p = query;
	end = query + strlen(query);
	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp == p) {
			p++;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			pairs = xrealloc(pairs, cap * sizeof(*pairs));
		}
		eq = memchr(p, '=', (size_t)(amp - p));
		if (!apig_unescape(p, (size_t)((eq ? eq : amp) - p), &tmp)) {
			ok = false;
			break;
		}
		pairs[n].klen = tmp.len;
		pairs[n].k = buf_steal(&tmp);	/* "" when empty, never NULL */
		if (!apig_unescape(eq ? eq + 1 : amp, eq ? (size_t)(amp - eq - 1) : 0, &tmp)) {
			free(pairs[n].k);
			ok = false;
			break;
		}
		pairs[n].vlen = tmp.len;
		pairs[n].v = buf_steal(&tmp);
		n++;
		p = amp;
	}
	if (ok && n > 0) {
		qsort(pairs, n, sizeof(*pairs), apig_pair_cmp);
		for (i = 0; i < n; i++) {
			if (i > 0)
				buf_putc(out, '&');
			apig_escape(out, pairs[i].k, pairs[i].klen);
			buf_putc(out, '=');
			apig_escape(out, pairs[i].v, pairs[i].vlen);
		}
	}
	for (i = 0; i < n; i++) {
		free(pairs[i].k);
		free(pairs[i].v);
	}
	free(pairs);
	buf_free(&tmp);
	return ok;
}

static bool
apig_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The header of req named name (case-insensitive), or NULL; *count = how many. */
static const struct apig_header *
apig_find_header(const struct apig_request *req, const char *name, size_t *count)
{
	const struct apig_header *found = NULL;
	size_t	i, c = 0;

	for (i = 0; i < req->nheaders; i++) {
		if (strcasecmp(req->headers[i].name, name) == 0) {
			if (found == NULL)
				found = &req->headers[i];
			c++;
		}
	}
	if (count != NULL)
		*count = c;
	return found;
}

static int
apig_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends value trimmed of blanks at both ends. */
static void
apig_put_trimmed(struct buf *out, const char *v)
{
	const char	*e;

	while (apig_is_blank(*v))
		v++;
	e = v + strlen(v);
	while (e > v && apig_is_blank(e[-1]))
		e--;
	buf_append(out, v, (size_t)(e - v));
}

static bool
apig_header_name_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c >= 0x7f || c == ':' || c == ';')
			return false;
	}
	return true;
}

/*
 * The canonical request of req into out, the SignedHeaders line into
 * signed_out. signed_list NULL = every header of req.
 */
static enum apig_canon_err
apig_canon(const struct apig_request *req, const char *signed_list,
    struct buf *out, struct buf *signed_out, char *why, size_t whylen)
{
	char		*names[APIG_MAX_HEADERS];
	size_t		 n = 0, i, count;
	const char	*m, *p;
	const struct apig_header *h;
	enum apig_canon_err err = CANON_OK;
	char		 hash[SIGN_HEX_LEN + 1];

	for (m = req->method != NULL ? req->method : ""; *m; m++)
		buf_putc(out, (*m >= 'a' && *m <= 'z') ? (char)(*m - 32) : *m);
	buf_putc(out, '\n');
	if (!apig_canon_uri(req->path, out)) {
		snprintf(why, whylen, "bad %%-escape in the path");
		return CANON_BAD_REQUEST;
	}
	buf_putc(out, '\n');
	if (!apig_canon_query(req->query, out)) {
		snprintf(why, whylen, "bad %%-escape in the query");
		return CANON_BAD_REQUEST;
	}
	buf_putc(out, '\n');

	/* The names to sign, lower case. */
	if (signed_list == NULL) {
		for (i = 0; i < req->nheaders; i++) {
			if (n == APIG_MAX_HEADERS) {
				snprintf(why, whylen, "more than %d headers", APIG_MAX_HEADERS);
				err = CANON_BAD_HEADERS;
				goto out;
			}
			names[n++] = xstrdup(req->headers[i].name);
		}
	} else {
		for (p = signed_list; ; ) {
			const char *semi = strchr(p, ';');
			size_t len = semi ? (size_t)(semi - p) : strlen(p);

			if (n == APIG_MAX_HEADERS) {
				snprintf(why, whylen, "more than %d signed headers", APIG_MAX_HEADERS);
				err = CANON_BAD_HEADERS;
				goto out;
			}
			names[n++] = xstrndup(p, len);
			if (semi == NULL)
				break;
			p = semi + 1;
		}
	}
	if (n == 0) {
		snprintf(why, whylen, "no header to sign");
		err = CANON_BAD_HEADERS;
		goto out;
	}
	for (i = 0; i < n; i++) {
		char *c;

		if (!apig_header_name_ok(names[i])) {
			snprintf(why, whylen, "bad signed header name \"%.64s\"", names[i]);
			err = CANON_BAD_HEADERS;
			goto out;
		}
		for (c = names[i]; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c + 32);
	}
	qsort(names, n, sizeof(names[0]), apig_str_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(names[i], names[i - 1]) == 0) {
			snprintf(why, whylen, "header %.64s signed twice", names[i]);
			err = CANON_BAD_HEADERS;
			goto out;
		}
		h = apig_find_header(req, names[i], &count);
		if (count != 1) {
			snprintf(why, whylen, count == 0 ? "signed header %.64s is missing" :
			    "signed header %.64s occurs more than once", names[i]);
			err = CANON_BAD_HEADERS;
			goto out;
		}
		buf_puts(out, names[i]);
		buf_putc(out, ':');
		apig_put_trimmed(out, h->value);
		buf_putc(out, '\n');
	}
	buf_putc(out, '\n');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(signed_out, ';');
		buf_puts(signed_out, names[i]);
	}
	buf_append(out, signed_out->data, signed_out->len);
	buf_putc(out, '\n');

	h = apig_find_header(req, "x-sdk-content-sha256", NULL);
	if (h != NULL)
		apig_put_trimmed(out, h->value);
	else {
		sign_sha256_hex(req->body != NULL ? req->body : "", req->body_len, hash);
		buf_puts(out, hash);
	}
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	return err;
}

bool
apig_canonical_request(const struct apig_request *req, const char *signed_headers,
    struct buf *out, char *why, size_t whylen)
{
	struct buf	sh = BUF_INIT;
	bool		ok;

	ok = apig_canon(req, signed_headers, out, &sh, why, whylen) == CANON_OK;
	buf_free(&sh);
	return ok;
}

/* hex(HMAC(sk, "SDK-HMAC-SHA256\n" date "\n" hex(SHA256(canonical)))). */
static void
apig_signature(const struct buf *canonical, const char *date, const char *sk,
    char out[SIGN_HEX_LEN + 1])
{
	struct buf	sts = BUF_INIT;
	char		hash[SIGN_HEX_LEN + 1];

	sign_sha256_hex(canonical->data != NULL ? canonical->data : "", canonical->len, hash);
	buf_printf(&sts, "%s\n%s\n%s", APIG_ALGORITHM, date, hash);
	sign_hmac_hex(sk, strlen(sk), sts.data, sts.len, out);
	buf_free(&sts);
}

bool
apig_sign(const struct apig_request *req, const char *ak, const char *sk,
    struct buf *authorization, char *why, size_t whylen)
{
	struct buf	canonical = BUF_INIT, sh = BUF_INIT;
	struct buf	date = BUF_INIT;
	const struct apig_header *h;
	char		sig[SIGN_HEX_LEN + 1];
	int64_t		ms;
	size_t		count;
	bool		ok = false;

	h = apig_find_header(req, APIG_DATE_HEADER, &count);
	if (h == NULL || count != 1) {
		snprintf(why, whylen, "exactly one X-Sdk-Date header is needed");
		return false;
	}
	apig_put_trimmed(&date, h->value);
	if (!apig_parse_date(buf_cstr(&date), &ms)) {
		snprintf(why, whylen, "X-Sdk-Date is not yyyyMMddTHHmmssZ");
		buf_free(&date);
		return false;
	}
	if (apig_canon(req, NULL, &canonical, &sh, why, whylen) == CANON_OK) {
		apig_signature(&canonical, buf_cstr(&date), sk, sig);
		buf_printf(authorization, "%s Access=%s, SignedHeaders=%s, Signature=%s",
		    APIG_ALGORITHM, ak, buf_cstr(&sh), sig);
		ok = true;
	}
	buf_free(&canonical);
	buf_free(&sh);
	buf_free(&date);
	return ok;
}

/* --- verification -------------------------------------------------------- */

struct apig_auth {
	char	ak[APIG_AK_MAX + 1];
	char	*signed_headers;	/* malloc'd */
	char	signature[SIGN_HEX_LEN + 1];
};

/*
 * Parses "SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...".
 * The parameters are separated by ',' with optional blanks (some clients
 * omit the space), in any order, each exactly once.
 */
static enum apig_verdict
apig_parse_auth(const char *v, struct apig_auth *a, struct buf *msg)
{
	const char	*p, *comma, *eq, *s, *e;
	bool		 have_ak = false, have_sig = false;
	size_t		 alg = strlen(APIG_ALGORITHM), len;

	while (apig_is_blank(*v))
		v++;
	if (strncmp(v, APIG_ALGORITHM, alg) != 0 || (v[alg] != ' ' && v[alg] != '\t')) {
		buf_puts(msg, "Incorrect IAM authentication information: "
		    "Authorization is not " APIG_ALGORITHM);
		return APIG_NO_AUTH;
	}
	for (p = v + alg; ; p = comma + 1) {
		comma = strchr(p, ',');
		e = comma != NULL ? comma : p + strlen(p);
		while (p < e && apig_is_blank(*p))
			p++;
		while (e > p && apig_is_blank(e[-1]))
			e--;
		eq = memchr(p, '=', (size_t)(e - p));
		if (eq == NULL)
			goto bad;
		s = eq + 1;
		len = (size_t)(e - s);
		if ((size_t)(eq - p) == 6 && memcmp(p, "Access", 6) == 0) {
			if (have_ak || len == 0 || len > APIG_AK_MAX)
				goto bad;
			memcpy(a->ak, s, len);
			a->ak[len] = '\0';
			have_ak = true;
		} else if ((size_t)(eq - p) == 13 && memcmp(p, "SignedHeaders", 13) == 0) {
			if (a->signed_headers != NULL || len == 0)
				goto bad;
			a->signed_headers = xstrndup(s, len);
		} else if ((size_t)(eq - p) == 9 && memcmp(p, "Signature", 9) == 0) {
			if (have_sig || len != SIGN_HEX_LEN)
				goto bad;
			memcpy(a->signature, s, len);
			a->signature[len] = '\0';
			have_sig = true;
		} else
			goto bad;
		if (comma == NULL)
			break;
	}
	if (have_ak && have_sig && a->signed_headers != NULL)
		return APIG_OK;
bad:
	buf_puts(msg, "Incorrect IAM authentication information: "
	    "Authorization is malformed");
	return APIG_BAD_AUTH;
}

/* True when the ';'-separated list holds name (case-insensitive). */
static bool
apig_list_has(const char *list, const char *name)
{
	size_t	n = strlen(name);
	const char *p = list, *semi;

	for (;;) {
		semi = strchr(p, ';');
		if ((semi ? (size_t)(semi - p) : strlen(p)) == n &&
		    strncasecmp(p, name, n) == 0)
			return true;
		if (semi == NULL)
			return false;
		p = semi + 1;
	}
}

enum apig_verdict
apig_verify(const struct apig_request *req, int64_t now, apig_sk_lookup lookup,
    void *arg, char *ak, size_t aklen, struct buf *msg)
{
	struct apig_auth a;
	const struct apig_header *h;
	struct buf	 canonical = BUF_INIT, sh = BUF_INIT, date = BUF_INIT;
	enum apig_verdict v;
	enum apig_canon_err ce;
	const char	*sk;
	char		 sig[SIGN_HEX_LEN + 1], why[200];
	int64_t		 t, skew;
	size_t		 count, i;

	memset(&a, 0, sizeof(a));
	if (ak != NULL && aklen > 0)
		ak[0] = '\0';
	h = apig_find_header(req, "authorization", &count);
	if (h == NULL || count != 1) {
		buf_puts(msg, "Incorrect IAM authentication information: "
		    "Authorization not found");
		return h == NULL ? APIG_NO_AUTH : APIG_BAD_AUTH;
	}
	if ((v = apig_parse_auth(h->value, &a, msg)) != APIG_OK)
		goto out;
	if (ak != NULL && aklen > 0)
		snprintf(ak, aklen, "%s", a.ak);

	h = apig_find_header(req, APIG_DATE_HEADER, &count);
	if (!apig_list_has(a.signed_headers, "x-sdk-date") || h == NULL || count != 1) {
		buf_puts(msg, "Incorrect IAM authentication information: "
		    "x-sdk-date missing or not signed");
		v = APIG_BAD_DATE;
		goto out;
	}
	apig_put_trimmed(&date, h->value);
	if (!apig_parse_date(buf_cstr(&date), &t)) {
		buf_puts(msg, "Incorrect IAM authentication information: "
		    "x-sdk-date is not yyyyMMddTHHmmssZ");
		v = APIG_BAD_DATE;
		goto out;
	}
	skew = now - t;
	if (skew > APIG_MAX_SKEW_MS || skew < -APIG_MAX_SKEW_MS) {
		buf_puts(msg, "Incorrect app authentication information: "
		    "signature expired");
		v = APIG_EXPIRED;
		goto out;
	}
	if ((sk = lookup(a.ak, arg)) == NULL) {
		buf_puts(msg, "Incorrect app authentication information: "
		    "access key not found");
		v = APIG_UNKNOWN_AK;
		goto out;
	}
	ce = apig_canon(req, a.signed_headers, &canonical, &sh, why, sizeof(why));
	if (ce != CANON_OK) {
		buf_printf(msg, "%s: %s", ce == CANON_BAD_REQUEST ? "Bad request" :
		    "Incorrect IAM authentication information", why);
		v = ce == CANON_BAD_REQUEST ? APIG_BAD_REQUEST : APIG_BAD_AUTH;
		goto out;
	}
	apig_signature(&canonical, buf_cstr(&date), sk, sig);
	if (!sign_hex_equal(sig, a.signature)) {
		buf_puts(msg, "verify signature fail, canonicalRequest:");
		for (i = 0; i < canonical.len; i++)
			buf_putc(msg, canonical.data[i] == '\n' ? '|' : canonical.data[i]);
		v = APIG_MISMATCH;
		goto out;
	}
	v = APIG_OK;
out:
	free(a.signed_headers);
	buf_free(&canonical);
	buf_free(&sh);
	buf_free(&date);
	return v;
}

/*
 * Which gateway error a refusal is, from the spec's §4.4 table: the
 * expired signature and the unknown key are the 0303 cases it names, every
 * other authentication failure is 0301, a request the gateway cannot
 * decode is 0201. The newer "APIG." prefix is used, as in the §2.10 body.
 */
static const struct {
	int		 status;
	const char	*code;
	const char	*name;
} apig_verdicts[] = {
	[APIG_OK] = { 200, "", "ok" },
	[APIG_NO_AUTH] = { 401, "APIG.0301", "no authorization" },
	[APIG_BAD_AUTH] = { 401, "APIG.0301", "bad authorization" },
	[APIG_BAD_DATE] = { 401, "APIG.0301", "bad x-sdk-date" },
	[APIG_EXPIRED] = { 401, "APIG.0303", "signature expired" },
	[APIG_UNKNOWN_AK] = { 401, "APIG.0303", "unknown access key" },
	[APIG_BAD_REQUEST] = { 400, "APIG.0201", "bad request" },
	[APIG_MISMATCH] = { 401, "APIG.0301", "signature mismatch" },
};

int
apig_verdict_http_status(enum apig_verdict v)
{
	return (size_t)v < NELEM(apig_verdicts) ? apig_verdicts[v].status : 500;
}

const char *
apig_verdict_code(enum apig_verdict v)
{
	return (size_t)v < NELEM(apig_verdicts) ? apig_verdicts[v].code : "APIG.0301";
}

const char *
apig_verdict_name(enum apig_verdict v)
{
	return (size_t)v < NELEM(apig_verdicts) ? apig_verdicts[v].name : "?";
}

void
apig_error_body(enum apig_verdict v, const char *msg, const char *request_id,
    struct buf *out)
{
	struct jw	w;

	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_key(&w, "error_msg");
	jw_str(&w, msg != NULL ? msg : "");
	jw_key(&w, "error_code");
	jw_str(&w, apig_verdict_code(v));
	jw_key(&w, "request_id");
	jw_str(&w, request_id != NULL ? request_id : "");
	jw_obj_end(&w);
}
