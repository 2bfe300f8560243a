/*
 * usage_in.h: the body of POST /-/usage (api/usage_in.c) as domain
 * events, without the request or the store.
 */
#ifndef MKP_USAGE_IN_H
#define MKP_USAGE_IN_H

#include <stddef.h>

#include "common/defs.h"
#include "common/json.h"
#include "domain/usage.h"

#define USAGE_MAX_DEPTH	8

struct app;		/* api/adapter.h */
struct request;		/* api/request.h */

/* POST /-/usage: the seller reports metered usage. */
void	 usage_in_handle(struct app *, struct request *);

/*
 * Parses body ({"events":[...]}) into *tree and one event per item in
 * *ev (n of them; strings point into *tree; an item of the wrong form
 * carries its reject reason). False with the HTTP status and message of
 * the answer when the body as a whole is refused. The caller frees *tree
 * (json_free) and *ev (free) in every case.
 */
bool	 usage_events_read(const char *body, size_t len, struct json **tree,
	    struct usage_event **ev, size_t *n, int *status, const char **msg) MUSTCHECK;

#endif
