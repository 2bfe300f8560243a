/*
 * adapter.h: what the request adapters share inside one worker process
 * (filled by api/router.c, which routes each request to its adapter).
 */
#ifndef MKP_API_ADAPTER_H
#define MKP_API_ADAPTER_H

#include "api/request.h"
#include "common/conf.h"
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
 * V1) are served by one pipeline, api/call.h; the usage intake by
 * api/usage_in.h.
 */

#endif
