/*
 * request.h: one inbound FastCGI request as the adapters see it, and the
 * audit record it leaves behind.
 */
#ifndef MKP_REQUEST_H
#define MKP_REQUEST_H

#include <fcgiapp.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/defs.h"
#include "common/util.h"
#include "domain/worker.h"

struct request {
	FCGX_Request	*fcgi;
	const char	*method;	/* "GET", "POST", ... */
	const char	*path;		/* without the query string */
	const char	*query;		/* "" when none */
	const char	*remote_addr;
	struct buf	 body;
	bool		 body_too_large;
	int64_t		 max_body;
	char		 call_id[33];	/* random, names the call in every table */
	int64_t		 wall_ms;	/* when it arrived */
	int64_t		 t0_us;		/* monotonic, for the latency */

	/* Filled by the adapter for callback_log; strings live as long as the request. */
	struct audit	 audit;
	struct buf	 audit_body;
	char		 audit_reason[256];
	char		 result_code[8];
	/* The answer, kept until response_flush so an adapter can still replace it. */
	int		 status;
	const char	*ctype;
	const char	*sign_key;
	struct buf	 answer;
	bool		 sent;		/* an answer is ready */
	char		 path_buf[512];
	char		 audit_ids[3][ID_SIZE];	/* instance, order, order line */
};

/*
 * Reads the request's parameters and, unless it is larger than max_body
 * (then body_too_large is set and the body is left unread), its body.
 * False when the body could not be read whole (the client went away).
 */
bool	 request_init(struct request *, FCGX_Request *, int64_t max_body) MUSTCHECK;
void	 request_free(struct request *);

/* A FastCGI parameter (e.g. "HTTP_X_SIGN"), NULL when absent. */
const char *request_param(const struct request *, const char *name);

/*
 * Finds name in an application/x-www-form-urlencoded string and appends
 * its decoded value to out ('+' is a space, %XX a byte). False when absent
 * or when a %-escape is malformed (*bad set then).
 */
bool	 query_get(const char *query, const char *name, struct buf *out, bool *bad) MUSTCHECK;

/*
 * Names the ids the audit row records (any may be NULL); copied, at most
 * 64 characters each, so they outlive the parsed body.
 */
void	 request_audit_ids(struct request *, const char *instance_id,
	    const char *order_id, const char *order_line_id);

/*
 * Called by request_audit_ids once the ids are named (NULL = nothing):
 * the moment the pool learns what a call is about.
 */
extern void (*request_named_hook)(const struct request *);

/* Microseconds since the request arrived. */
int64_t	 request_elapsed_us(const struct request *);

#endif
