/*
 * dom.h: what every domain command takes and answers: the process's
 * context (store, config, seal key), the call (who asks, its replay key,
 * room for the reason) and the outcome. The commands are in instance.c,
 * kit.c, usage.c and package.c; the replay claim in claim.c.
 */
#ifndef MKP_DOMAIN_DOM_H
#define MKP_DOMAIN_DOM_H

#include <stdbool.h>

#include "common/conf.h"
#include "crypto/seal.h"
#include "store/db.h"

enum dom_status {
	DOM_OK,		/* done, committed */
	DOM_PENDING,	/* accepted, continues in the background */
	DOM_NOT_FOUND,	/* no such instance (or released, for changes) */
	DOM_REFUSED,	/* the business refuses (e.g. a change it cannot take) */
	DOM_STORE,	/* the store failed or is unreachable */
	DOM_INVALID,	/* the store refused a value of the call (db_state_is_content) */
	DOM_REPLAY,	/* the call's replay key was claimed before: nothing applied */
};

/* What a command needs from its process. */
struct dom_ctx {
	struct db		*db;
	const struct config	*cfg;
	const struct seal_key	*seal;
};

/* Who is asking, and room for the command to say why (for the audit log). */
struct dom_call {
	const char	*call_id;
	bool		 is_test;
	/*
	 * The replay key, claimed as "space:key" with the command's first
	 * statement (domain/claim.h); NULL for a call without one.
	 */
	const char	*replay_space;
	const char	*replay_key;
	bool		 claimed;	/* the claim has been sent */
	bool		 claim_refused;	/* DOM_INVALID: the store refused the key */
	char		 reason[160];
};

#endif
