/*
 * request.c: reading a FastCGI request's parameters and body.
 *
 * The body is read only when CONTENT_LENGTH is within the configured
 * limit, so a hostile 1 GB upload costs the worker nothing: the answer is
 * sent and the connection closed (nginx does not keep FastCGI connections
 * open to mkpd, so the unread rest is simply dropped).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/request.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/random.h"
#include "crypto/seal.h"

static int64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
request_elapsed_us(const struct request *r)
{
	return mono_us() - r->t0_us;
}

const char *
request_param(const struct request *r, const char *name)
{
	return FCGX_GetParam(name, r->fcgi->envp);
}

static void
request_path(struct request *r)
{
	const char	*p = request_param(r, "DOCUMENT_URI");
	const char	*q;
	size_t		 n;

	if (p == NULL || *p == '\0') {
		p = request_param(r, "REQUEST_URI");
		if (p == NULL)
			p = "/";
		q = strchr(p, '?');
		n = q != NULL ? (size_t)(q - p) : strlen(p);
		if (n >= sizeof(r->path_buf))
			n = sizeof(r->path_buf) - 1;
		memcpy(r->path_buf, p, n);
		r->path_buf[n] = '\0';
		p = r->path_buf;
	}
	r->path = p;
}

static bool
read_body(struct request *r, int64_t want)
{
	char	chunk[16384];
	int	n;

	for (;;) {
		int ask = (int)sizeof(chunk);

		if (want >= 0 && (int64_t)r->body.len + ask > want)
			ask = (int)(want - (int64_t)r->body.len);
		if (ask == 0)
			break;
		n = FCGX_GetStr(chunk, ask, r->fcgi->in);
		if (n <= 0)
			break;
		buf_append(&r->body, chunk, (size_t)n);
		if (want < 0 && (int64_t)r->body.len > r->max_body) {
			r->body_too_large = true;
			return true;
		}
	}
	if (want >= 0 && (int64_t)r->body.len != want) {
		log_warn("request body ended after %zu of %lld bytes", r->body.len, (long long)want);
		return false;
	}
	return true;
}

bool
request_init(struct request *r, FCGX_Request *fcgi, int64_t max_body)
{
	const char	*cl;
	int64_t		 len = -1;

	memset(r, 0, sizeof(*r));
	r->t0_us = mono_us();
	r->wall_ms = now_ms();
	r->fcgi = fcgi;
	r->max_body = max_body;
	buf_init(&r->body);
	buf_init(&r->audit_body);
	buf_init(&r->answer);
	rand_hex(r->call_id, 16);
	r->method = request_param(r, "REQUEST_METHOD");
	if (r->method == NULL)
		r->method = "GET";
	r->query = request_param(r, "QUERY_STRING");
	if (r->query == NULL)
		r->query = "";
	r->remote_addr = request_param(r, "REMOTE_ADDR");
	request_path(r);

	cl = request_param(r, "CONTENT_LENGTH");
	if (cl != NULL && *cl != '\0') {
		if (!parse_i64(cl, 0, INT64_MAX, &len)) {
			log_warn("bad CONTENT_LENGTH from the web server");
			return false;
		}
		if (len > max_body) {
			r->body_too_large = true;
			return true;
		}
	}
	if (len == 0)
		return true;
	return read_body(r, len);
}

void	(*request_named_hook)(const struct request *);

void
request_audit_ids(struct request *r, const char *instance_id, const char *order_id,
    const char *order_line_id)
{
	const char	*in[3] = { instance_id, order_id, order_line_id };
	const char	**out[3] = { &r->audit.instance_id, &r->audit.order_id,
			    &r->audit.order_line_id };
	size_t		 i, n;

	for (i = 0; i < 3; i++) {
		if (in[i] == NULL)
			continue;
		/* Ids are checked before (64 characters); cut whole characters else. */
		n = utf8_cut(in[i], sizeof(r->audit_ids[i]) - 1);
		if (in[i][n] != '\0')
			log_debug("audit id cut to %zu bytes", n);
		memcpy(r->audit_ids[i], in[i], n);
		r->audit_ids[i][n] = '\0';
		*out[i] = r->audit_ids[i];
	}
	if (request_named_hook != NULL)
		request_named_hook(r);
}

void
request_free(struct request *r)
{
	buf_free(&r->body);
	buf_free(&r->audit_body);
	wipe_buf(&r->answer);	/* it may have held a password */
	buf_free(&r->answer);
}

bool
query_get(const char *q, const char *name, struct buf *out, bool *bad)
{
	size_t	nlen = strlen(name);

	*bad = false;
	while (*q != '\0') {
		const char *end = strchr(q, '&');
		const char *p;

		if (end == NULL)
			end = q + strlen(q);
		if ((size_t)(end - q) > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
			for (p = q + nlen + 1; p < end; p++) {
				if (*p == '+') {
					buf_putc(out, ' ');
				} else if (*p == '%') {
					int hi, lo;

					if (end - p < 3 || (hi = hex_digit(p[1])) < 0 || (lo = hex_digit(p[2])) < 0) {
						*bad = true;
						return false;
					}
					buf_putc(out, (char)(hi * 16 + lo));
					p += 2;
				} else {
					buf_putc(out, *p);
				}
			}
			return true;
		}
		if ((size_t)(end - q) == nlen && strncmp(q, name, nlen) == 0)
			return true;	/* "name" with no '=': present, empty */
		q = *end == '&' ? end + 1 : end;
	}
	return false;
}
