/*
 * router.h: what the request adapters share inside one worker process.
 */
#ifndef MKP_API_ROUTER_H
#define MKP_API_ROUTER_H

#include "api/request.h"
#include "common/conf.h"
#include "common/json.h"
#include "crypto/rsa.h"
#include "crypto/seal.h"
#include "domain/instance.h"

struct app {
	const struct config	*cfg;
	struct dom_ctx		 dom;
	struct rsa_key		*rsa;	/* [kit] private_key_file, NULL when none */
};

/*
 * The signed dialects of the marketplace (V2 basic, V1 basic, Kit V2, Kit
 * V1) are served by one pipeline, api/call.h.
 */

/* POST /-/usage: the seller reports metered usage (api/usage_in.c). */
void	 usage_in_handle(struct app *, struct request *);

/*
 * Replaces the values of secret-bearing members (password, clientSecret,
 * mobilePhone, email, ...) anywhere in the tree by "***" and appends the
 * compact JSON to out, cut at max bytes. (api/redact.c)
 */
void	 redact_json(const struct json *, struct buf *out, size_t max);

#endif
