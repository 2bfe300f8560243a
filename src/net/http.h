/*
 * http.h: one outbound HTTP(S) request at a time, over libcurl.
 *
 * For mkpd's calls to the marketplace (order query, usage push): strict
 * TLS (peer and host name always verified), connect and total timeouts,
 * a bounded response body, no redirects, http and https only. One curl
 * handle per process is kept between calls so that connections and TLS
 * sessions are reused; it is created lazily, and a handle inherited
 * through fork() is abandoned, never used or cleaned up, so a child never
 * touches its parent's connections.
 */
#ifndef MKP_HTTP_H
#define MKP_HTTP_H

#include <stdint.h>

#include "common/buf.h"
#include "common/defs.h"

#define HTTP_MAX_BODY	(4u << 20)	/* default response body limit: 4 MiB */

struct http_header {
	const char	*name;
	const char	*value;
};

/* A request. Every pointer is borrowed for the duration of http_request. */
struct http_request {
	const char		*method;	/* "GET", "POST", ... */
	const char		*url;		/* http:// or https:// */
	const struct http_header *headers;	/* sent as given (a Host here wins) */
	size_t			 nheaders;
	const void		*body;		/* NULL with body_len 0: none */
	size_t			 body_len;
	int64_t			 connect_timeout_ms;	/* > 0 */
	int64_t			 timeout_ms;		/* > 0, whole request */
	const char		*ca_file;	/* NULL or "": the system's CAs */
	size_t			 max_body;	/* 0: HTTP_MAX_BODY */
};

/* Why no HTTP answer was had (HTTP_OK: there is one, whatever its status). */
enum http_error {
	HTTP_OK,
	HTTP_ERR_CONNECT,	/* name resolution, connection refused/unreachable */
	HTTP_ERR_TIMEOUT,	/* connect or total timeout */
	HTTP_ERR_TLS,		/* handshake or certificate verification */
	HTTP_ERR_TOO_LARGE,	/* the body passed max_body */
	HTTP_ERR_OTHER,		/* send/receive failure, bad URL, ... */
};

/*
 * The answer. Initialise with http_response_init, release with
 * http_response_free; a response may be reused for another request.
 */
struct http_response {
	long		 status;		/* 0 when no answer */
	struct buf	 body;			/* the body, NUL-terminated */
	char		 content_type[128];	/* "" if absent; cut if longer */
	char		 date[64];		/* Date header, "" if absent */
	int64_t		 retry_after;		/* Retry-After seconds, -1 if absent */
	enum http_error	 error;
	char		 error_text[256];	/* on failure: curl's reason */
};

void	 http_response_init(struct http_response *);
void	 http_response_free(struct http_response *);

/*
 * Performs req and fills resp (reset first). True when an HTTP answer was
 * received, whatever its status; false with resp->error and
 * resp->error_text set otherwise (resp->status may then be set too, e.g.
 * for a body over the limit).
 */
bool	 http_request(const struct http_request *req, struct http_response *resp)
	    MUSTCHECK;

/* Frees this process's curl handle (at exit; the next request makes a new one). */
void	 http_cleanup(void);

/*
 * A base URL split for signing: scheme ("http"/"https"), host as the Host
 * header carries it ("name" or "name:port", the port left out when it is
 * the scheme's default; IPv6 literals keep their brackets), and the path
 * ("" or starting with '/', without a trailing '/').
 */
struct http_url {
	char	scheme[8];
	char	host[262];
	char	path[1024];
};

/* Splits url; false (why says why) for anything but a plain http(s) base URL. */
bool	 http_url_parse(const char *url, struct http_url *out, char *why, size_t whylen)
	    MUSTCHECK;

#endif
