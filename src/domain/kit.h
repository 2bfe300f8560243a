/*
 * kit.h: the joint-operation (Kit) sync commands, the same for every Kit
 * dialect: tenants, apps, authorised users and departments
 * (spec/kit-and-v1.md §2, readings 7 and 8 of spec/README.md).
 *
 * Each command applies a whole call in one transaction: every object of
 * it, or nothing (DOM_STORE). Objects older than what is stored are
 * ignored, repeats change nothing, deletes are soft and succeed when the
 * object is absent; none requires the instance to exist. call->reason
 * sums up what was done (applied/same/stale counts, departments whose
 * parent is unknown).
 */
#ifndef MKP_KIT_H
#define MKP_KIT_H

#include <stddef.h>
#include "domain/instance.h"

enum kit_flag {
	KIT_FLAG_DELETE = 0,
	KIT_FLAG_ADD = 1,
	KIT_FLAG_MODIFY = 2,
	KIT_FLAG_CANCEL = 3,	/* authSync: authorisation cancelled */
};

/* What every Kit call names. stamp: timeStamp as 17 digits. */
struct kit_scope {
	const char	*tenant_id;
	const char	*instance_id;	/* NULL in seller debug */
	int		 flag;
	const char	*stamp;
};

struct kit_tenant {
	const char	*tenant_code;
	const char	*name;
	const char	*domain_name;
	const char	*order_id;
};

struct kit_app {
	const char	*app_id;
	const char	*client_id;
	const char	*secret;	/* plaintext (sealed here), NULL for deletes */
	size_t		 secret_len;
	bool		 secret_as_received;	/* debug: not decrypted */
};

/* One user; strings may be NULL. extension is JSON text made by the adapter. */
struct kit_user {
	const char	*user_name;
	const char	*name;
	const char	*org_code;
	const char	*role;
	const char	*enable;	/* "true" / "false" */
	const char	*position;
	const char	*employee_code;
	const char	*employee_type;
	const char	*mobile;
	const char	*email;
	const char	*work_place;
	const char	*entry_date;
	const char	*extension;
};

struct kit_org {
	const char	*org_code;
	const char	*name;
	const char	*parent_code;	/* NULL for a top-level department */
};

enum dom_status kit_tenant_sync(const struct dom_ctx *, struct dom_call *,
	    const struct kit_scope *, const struct kit_tenant *);
enum dom_status kit_app_sync(const struct dom_ctx *, struct dom_call *,
	    const struct kit_scope *, const struct kit_app *);
/* n users of app_id with the call's currentSyncTime (17 digits). */
enum dom_status kit_auth_sync(const struct dom_ctx *, struct dom_call *,
	    const struct kit_scope *, const char *app_id, const char *sync_time,
	    const struct kit_user *, size_t n);
/*
 * Incremental (full false: one department, scope's flag) or full (every
 * listed department added or changed; with [kit] prune_full_sync, the
 * tenant's departments not listed are soft-deleted).
 */
enum dom_status kit_org_sync(const struct dom_ctx *, struct dom_call *,
	    const struct kit_scope *, const struct kit_org *, size_t n, bool full);

#endif
