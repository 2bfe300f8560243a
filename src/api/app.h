/*
 * app.h: what the request adapters share inside one worker process.
 */
#ifndef MKP_APP_H
#define MKP_APP_H

#include "api/request.h"
#include "common/conf.h"
#include "common/json.h"
#include "crypto/rsa.h"
#include "crypto/seal.h"
#include "domain/instance.h"
#include "store/db.h"

struct app {
	const struct config	*cfg;
	struct db		*db;
	struct dom_ctx		 dom;
	struct rsa_key		*rsa;	/* [kit] private_key_file, NULL when none */
};

/* The V2 basic dialect: POST at the production URL (api/v2_basic.c). */
void	 v2_basic_handle(struct app *, struct request *);
/* The legacy V1 basic dialect: GET at the production URL (api/v1_basic.c). */
void	 v1_basic_handle(struct app *, struct request *);

/*
 * The Kit dialects (api/kit.c): POST at {base_path}produceAPI/v2/NAME (V2,
 * v1 false) or {base_path}produceAPI/NAME (V1). An unknown NAME is
 * answered 404.
 */
void	 kit_handle(struct app *, struct request *, const char *name, bool v1);

/* POST /-/usage: the seller reports metered usage (api/usage_in.c). */
void	 usage_in_handle(struct app *, struct request *);

/*
 * Replaces the values of secret-bearing members (password, clientSecret,
 * mobilePhone, email, ...) anywhere in the tree by "***" and appends the
 * compact JSON to out, cut at max bytes. (api/redact.c)
 */
void	 redact_json(const struct json *, struct buf *out, size_t max);

#endif
