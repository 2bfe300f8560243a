/*
 * http.c: mkpd's outbound HTTP client, a thin layer over libcurl's easy
 * interface, for the calls to the marketplace's open API.
 *
 * Why a wrapper: every call must get the same safety settings (TLS peer
 * and host verification always on, http/https only, no redirects, no
 * signals, timeouts, a bounded body), and callers should see one small
 * struct instead of curl's option space.
 *
 * Process model: mkpd forks (master, workers, jobs child). The curl handle
 * lives in a static with the pid that made it. A process that finds a
 * handle made by another pid inherited it through fork: it drops the
 * pointer without curl_easy_cleanup (which could write a TLS close_notify
 * on a socket the parent still uses) and makes its own. The leak is one
 * handle per fork and only when a parent had made one. curl_global_init
 * is called once per process image, lazily, before the first handle;
 * mkpd is single-threaded, as curl_global_init requires.
 *
 * Between calls curl_easy_reset clears the options but keeps the
 * connection cache, so the next call to the same host reuses the
 * connection and the TLS session.
 */
#include <config.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/util.h"
#include "net/http.h"

static CURL	*http_curl;		/* this process's handle, or NULL */
static pid_t	 http_curl_pid;		/* the process that made it */
static bool	 http_global_done;

/* What the callbacks write into. */
struct http_sink {
	struct http_response	*resp;
	size_t			 max_body;
	bool			 too_large;
};

void
http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body);
	r->retry_after = -1;
}

void
http_response_free(struct http_response *r)
{
	buf_free(&r->body);
	http_response_init(r);
}

static void
http_response_reset(struct http_response *r)
{
	struct buf	body = r->body;

	buf_reset(&body);
	memset(r, 0, sizeof(*r));
	r->body = body;
	r->retry_after = -1;
}

static CURL *
http_handle(void)
{
	pid_t	pid = getpid();

	if (http_curl != NULL && http_curl_pid != pid)
		http_curl = NULL;	/* inherited through fork: abandon it */
	if (http_curl != NULL) {
		curl_easy_reset(http_curl);
		return http_curl;
	}
	if (!http_global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return NULL;
		http_global_done = true;
	}
	http_curl = curl_easy_init();
	http_curl_pid = pid;
	return http_curl;
}

void
http_cleanup(void)
{
	if (http_curl != NULL && http_curl_pid == getpid())
		curl_easy_cleanup(http_curl);
	http_curl = NULL;
}

static size_t
http_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_sink *s = arg;
	size_t	len = size * n;

	if (s->resp->body.len + len > s->max_body) {
		s->too_large = true;
		return 0;	/* curl stops with CURLE_WRITE_ERROR */
	}
	buf_append(&s->resp->body, p, len);
	return len;
}

/* Copies the value of a "Name: value\r\n" line into dst when name matches. */
static bool
http_header_value(const char *line, size_t len, const char *name, char *dst, size_t dstsz)
{
	size_t	nlen = strlen(name), vlen;
	const char *v, *e;

	if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
		return false;
	v = line + nlen + 1;
	e = line + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && isspace((unsigned char)e[-1]))
		e--;
	vlen = (size_t)(e - v);
	if (vlen >= dstsz)
		vlen = dstsz - 1;	/* informational headers: a cut is harmless */
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
	return true;
}

static size_t
http_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_sink *s = arg;
	size_t	len = size * n;
	char	tmp[32];
	int64_t	secs;

	/* A new status line (after a 100 Continue, say) starts afresh. */
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		s->resp->content_type[0] = '\0';
		s->resp->date[0] = '\0';
		s->resp->retry_after = -1;
		return len;
	}
	if (http_header_value(p, len, "Content-Type", s->resp->content_type,
	    sizeof(s->resp->content_type)))
		return len;
	if (http_header_value(p, len, "Date", s->resp->date, sizeof(s->resp->date)))
		return len;
	if (http_header_value(p, len, "Retry-After", tmp, sizeof(tmp)) &&
	    parse_i64(tmp, 0, 86400, &secs))
		s->resp->retry_after = secs;
	return len;
}

static enum http_error
http_classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return HTTP_ERR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_ERR_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return HTTP_ERR_TLS;
	default:
		return HTTP_ERR_OTHER;
	}
}

/* Sets an option; a refusal is a programming error in this file. */
#define SETOPT(c, o, v) do {						\
	if (curl_easy_setopt((c), (o), (v)) != CURLE_OK) {		\
		snprintf(resp->error_text, sizeof(resp->error_text),	\
		    "curl refused option %s", #o);			\
		goto fail;						\
	}								\
} while (0)

bool
http_request(const struct http_request *req, struct http_response *resp)
{
	struct curl_slist *hdrs = NULL, *tmp;
	struct http_sink sink;
	struct buf	 line = BUF_INIT;
	char		 errbuf[CURL_ERROR_SIZE];
	CURL		*c;
	CURLcode	 rc;
	size_t		 i;

	http_response_reset(resp);
	resp->error = HTTP_ERR_OTHER;
	if ((c = http_handle()) == NULL) {
		snprintf(resp->error_text, sizeof(resp->error_text),
		    "cannot initialise libcurl");
		return false;
	}
	sink.resp = resp;
	sink.max_body = req->max_body != 0 ? req->max_body : HTTP_MAX_BODY;
	sink.too_large = false;
	errbuf[0] = '\0';

	for (i = 0; i < req->nheaders; i++) {
		buf_reset(&line);
		buf_printf(&line, "%s: %s", req->headers[i].name, req->headers[i].value);
		if ((tmp = curl_slist_append(hdrs, buf_cstr(&line))) == NULL)
			fatalx("out of memory (curl_slist_append)");
		hdrs = tmp;
	}
	/* No "Expect: 100-continue" round trip for a small POST. */
	if ((tmp = curl_slist_append(hdrs, "Expect:")) == NULL)
		fatalx("out of memory (curl_slist_append)");
	hdrs = tmp;

	SETOPT(c, CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500	/* 7.85.0 */
	SETOPT(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SETOPT(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SETOPT(c, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(c, CURLOPT_NOSIGNAL, 1L);
	SETOPT(c, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file != NULL && req->ca_file[0] != '\0')
		SETOPT(c, CURLOPT_CAINFO, req->ca_file);
	SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS, (long)req->connect_timeout_ms);
	SETOPT(c, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	SETOPT(c, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	SETOPT(c, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(c, CURLOPT_HTTPHEADER, hdrs);
	SETOPT(c, CURLOPT_WRITEFUNCTION, http_write_cb);
	SETOPT(c, CURLOPT_WRITEDATA, &sink);
	SETOPT(c, CURLOPT_HEADERFUNCTION, http_header_cb);
	SETOPT(c, CURLOPT_HEADERDATA, &sink);
	/* No Accept-Encoding: the body limit applies to the bytes we parse. */
	if (strcmp(req->method, "GET") == 0)
		SETOPT(c, CURLOPT_HTTPGET, 1L);
	else {
		if (strcmp(req->method, "POST") == 0)
			SETOPT(c, CURLOPT_POST, 1L);
		else
			SETOPT(c, CURLOPT_CUSTOMREQUEST, req->method);
		SETOPT(c, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
		SETOPT(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}

	rc = curl_easy_perform(c);
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	/* The handle keeps pointers to hdrs and errbuf: clear them now. */
	(void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	(void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	buf_free(&line);

	if (sink.too_large) {
		resp->error = HTTP_ERR_TOO_LARGE;
		snprintf(resp->error_text, sizeof(resp->error_text),
		    "response body larger than %zu bytes", sink.max_body);
		return false;
	}
	if (rc != CURLE_OK) {
		resp->error = http_classify(rc);
		resp->status = 0;
		snprintf(resp->error_text, sizeof(resp->error_text), "%s",
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		return false;
	}
	resp->error = HTTP_OK;
	return true;
fail:
	(void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	(void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	buf_free(&line);
	return false;
}

bool
http_url_parse(const char *url, struct http_url *u, char *why, size_t whylen)
{
	const char	*rest, *hend, *port = NULL, *path;
	size_t		 hlen, plen;
	int64_t		 pn;
	bool		 https;

	memset(u, 0, sizeof(*u));
	if (str_has_prefix(url, "https://")) {
		https = true;
		rest = url + 8;
	} else if (str_has_prefix(url, "http://")) {
		https = false;
		rest = url + 7;
	} else {
		snprintf(why, whylen, "not an http or https URL");
		return false;
	}
	if (strpbrk(rest, "?#@ \t\r\n") != NULL) {
		snprintf(why, whylen, "query, fragment, user or blank in a base URL");
		return false;
	}
	path = strchr(rest, '/');
	if (path == NULL)
		path = rest + strlen(rest);
	if (rest[0] == '[') {
		hend = memchr(rest, ']', (size_t)(path - rest));
		if (hend == NULL || hend == rest + 1) {
			snprintf(why, whylen, "bad IPv6 literal");
			return false;
		}
		hend++;
		if (hend < path) {
			if (*hend != ':') {
				snprintf(why, whylen, "bad IPv6 literal");
				return false;
			}
			port = hend + 1;
		}
	} else {
		port = memchr(rest, ':', (size_t)(path - rest));
		hend = port != NULL ? port++ : path;
	}
	hlen = (size_t)(hend - rest);
	if (hlen == 0) {
		snprintf(why, whylen, "no host");
		return false;
	}
	if (port != NULL && !parse_i64n(port, (size_t)(path - port), 1, 65535, &pn)) {
		snprintf(why, whylen, "bad port");
		return false;
	}
	if (port != NULL && pn == (https ? 443 : 80))
		port = NULL;		/* the Host header omits a default port */
	if (hlen + (port != NULL ? 1 + (size_t)(path - port) : 0) >= sizeof(u->host)) {
		snprintf(why, whylen, "host too long");
		return false;
	}
	memcpy(u->host, rest, hlen);
	if (port != NULL) {
		u->host[hlen] = ':';
		memcpy(u->host + hlen + 1, port, (size_t)(path - port));
	}
	plen = strlen(path);
	while (plen > 0 && path[plen - 1] == '/')
		plen--;
	if (plen >= sizeof(u->path)) {
		snprintf(why, whylen, "path too long");
		return false;
	}
	memcpy(u->path, path, plen);
	snprintf(u->scheme, sizeof(u->scheme), "%s", https ? "https" : "http");
	return true;
}
