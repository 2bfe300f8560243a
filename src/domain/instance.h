/*
 * instance.h: the business operations on purchased instances, the same for
 * every wire dialect (V2 basic now; V1 and Kit reuse them).
 *
 * Each command runs in one transaction and is idempotent: the marketplace
 * retries, and a repeat must change nothing and succeed. A command returns
 * DOM_OK only after its changes are committed.
 *
 * The state machine: provisioning -> active <-> frozen -> released, and
 * provisioning -> failed. released is final.
 *
 * Debug calls (testFlag=1) run the same code; they create test instances
 * (is_test), and never change a real one: a debug call naming a real
 * instance succeeds without touching it (as the marketplace's own sample
 * does), and the reason says so.
 */
#ifndef MKP_INSTANCE_H
#define MKP_INSTANCE_H

#include <stdint.h>
#include "common/conf.h"
#include "common/util.h"
#include "crypto/seal.h"
#include "domain/dom.h"
#include "store/db.h"

enum renew_scene {
	SCENE_TRIAL_TO_FORMAL,
	SCENE_RENEWAL,
	SCENE_UNSUBSCRIBE_RENEWAL_PERIOD,
	SCENE_RENEWAL_CHANGE,
};

/* What queryInstance shows of a ready instance. Strings owned by the struct. */
struct instance_info {
	const char	*instance_id;
	const char	*state;
	const char	*front_end_url;
	const char	*admin_url;
	const char	*app_user;	/* NULL when none */
	const char	*password;	/* plaintext, unsealed for this answer only */
	const char	*memo;
	const char	*usage_value;	/* on-demand: cumulative usage, package: amount drawn
					   (numeric text); else NULL */
	const char	*usage_time;	/* when it was summed, yyyyMMddHHmmssSSS UTC */
	const char	*usage_related;	/* package: the on-demand instance drawing on it, or NULL */
};

/* The buyer's access data (owned strings), from a hook or the built-in generator. */
struct app_info {
	char	*front_end_url;
	char	*admin_url;
	char	*user_name;
	char	*password;
	char	*memo;
};

/* Frees the strings, wiping the password. */
void	 app_info_free(struct app_info *);

/* An instance as the provisioning job sees it (owned strings). */
struct instance_row {
	char	*instance_id;
	char	*state;
	bool	 is_test;
	char	*order_id;
	char	*order_line_id;
	char	*product_id;	/* NULL until the order was read */
	char	*sku_code;
	char	*charging_mode;
	int64_t	 expire_ms;	/* -1 when not known */
};

/*
 * Creates the instance of an order line, or finds the one created before.
 * id_out receives the instanceId (the first call's businessId). DOM_OK when
 * it is ready, DOM_PENDING while it provisions.
 */
enum dom_status instance_create(const struct dom_ctx *, struct dom_call *,
	    const char *order_id, const char *order_line_id, const char *business_id,
	    char id_out[ID_SIZE]);

typedef void (*instance_visit_fn)(const struct instance_info *, void *arg);

/*
 * Looks up ids (n of them). visit is called for each ready one (active,
 * frozen or released) in the order given. found counts the ids that exist,
 * ready the ones visited. DOM_STORE on failure (or a password that does
 * not unseal); DOM_REFUSED when every id found failed to provision;
 * otherwise DOM_OK.
 */
enum dom_status instance_query(const struct dom_ctx *, struct dom_call *,
	    const char *const *ids, size_t n, instance_visit_fn visit, void *arg,
	    size_t *found, size_t *ready);

/* Applies a renewal-type change once per order line (scene). */
enum dom_status instance_renew(const struct dom_ctx *, struct dom_call *,
	    const char *instance_id, enum renew_scene, const char *order_id,
	    const char *order_line_id, const char *product_id, int64_t expire_ms);

/* Freezes (true) or unfreezes (false). */
enum dom_status instance_set_frozen(const struct dom_ctx *, struct dom_call *,
	    const char *instance_id, bool freeze);

/* Releases; order ids are those of the unsubscription when there is one. */
enum dom_status instance_release(const struct dom_ctx *, struct dom_call *,
	    const char *instance_id, const char *order_id, const char *order_line_id);

/* Records an upgrade order against the instance (applied once per order line). */
enum dom_status instance_upgrade(const struct dom_ctx *, struct dom_call *,
	    const char *instance_id, const char *order_id, const char *order_line_id);

/* Whether a renewal change to product_info (JSON text) is acceptable. */
enum dom_status instance_check_change(const struct dom_ctx *, struct dom_call *,
	    const char *instance_id, const char *product_info);

/* Renews (or shortens) a licence code's validity once per order line. */
enum dom_status license_renew(const struct dom_ctx *, struct dom_call *,
	    const char *license, enum renew_scene, const char *order_id,
	    const char *order_line_id, const char *product_id, int64_t expire_ms);

/*
 * Whether newInstance provisions in the background (a job reads the order
 * and runs the hook) rather than at once: when a hook is configured, or
 * for a real call when marketplace credentials are.
 */
bool	 instance_provisions_later(const struct config *, bool is_test);

/*
 * For the jobs, inside the caller's transaction (these never begin,
 * commit or roll back): read an instance (no lock: a job may run a hook
 * for a while and marketplace calls must not wait for it); DOM_NOT_FOUND
 * when there is none.
 */
enum dom_status instance_load(const struct dom_ctx *, const char *instance_id,
	    struct instance_row *);
void	 instance_row_free(struct instance_row *);

/*
 * Marks a provisioning (or failed, when retried) instance active with its
 * access data: app, or the built-in generator's when NULL; the order's
 * product, SKU, charging mode and expiry (NULL, -1: keep) and the order
 * document (JSON text or NULL). Records a "provisioned" event.
 */
enum dom_status instance_mark_provisioned(const struct dom_ctx *, struct dom_call *,
	    const char *instance_id, const struct app_info *app, const char *product_id,
	    const char *sku_code, const char *charging_mode, int64_t expire_ms,
	    const char *order_json);

/*
 * Whether the change job reads the change's order from the marketplace:
 * for upgrades and renewals (not unsubscriptions) of real instances, when
 * marketplace credentials are set.
 */
bool	 instance_change_reads_order(const struct config *, bool is_test, const char *event,
	    const char *scene, const char *order_id);

/*
 * Applies what an upgrade or renewal order says (product, SKU, charging
 * mode, expiry; NULL or -1 keep; extend keeps the later expiry, as for
 * renewals) and the order document, inside the caller's transaction;
 * records an "order_applied" event for the order line. Changes of one
 * instance apply in the order of their orders (createTime order_create_ms,
 * -1 = unknown, then the change job's id, i.e. the call's arrival): an
 * older order than the one applied last moves only the expiry forward,
 * so an older SKU never wins.
 */
enum dom_status instance_apply_order(const struct dom_ctx *, struct dom_call *,
	    const char *instance_id, const char *order_id, const char *order_line_id,
	    const char *product_id, const char *sku_code, const char *charging_mode,
	    int64_t expire_ms, bool extend, const char *order_json, int64_t order_create_ms,
	    int64_t job_id);

/*
 * On-demand orders are keyed on the order and the product (reading 4).
 * For an instance provisioning an ON_DEMAND line of product_id: when
 * another instance owns that product of the order, this one becomes its
 * alias (same access data; an "alias" event) and DOM_OK is answered;
 * DOM_PENDING while the owner still provisions; DOM_NOT_FOUND when there
 * is no owner (this instance provisions and becomes it).
 */
enum dom_status instance_join_on_demand(const struct dom_ctx *, struct dom_call *,
	    const char *instance_id, const char *order_id, const char *product_id,
	    bool is_test);

/* Marks the instance failed with reason (a "provision_failed" event). */
enum dom_status instance_mark_failed(const struct dom_ctx *, struct dom_call *,
	    const char *instance_id, const char *reason);

/*
 * V1 calls carry no order line (api/v1_basic.c): their instances and order
 * events are keyed on "v1:" + productId (a purchase) or "v1:" + orderId (a
 * renewal or upgrade order), which no marketplace order line is named. The
 * jobs then read the whole order and pick the line themselves.
 */
#define INSTANCE_V1_LINE	"v1:"
/* True when order_line_id is such a V1 key (not a marketplace order line). */
bool	 instance_line_is_v1(const char *order_line_id);

/* Parses a scene name; only_renewals limits it to RENEWAL and UNSUBSCRIBE_RENEWAL_PERIOD. */
bool	 renew_scene_parse(const char *, bool only_renewals, enum renew_scene *) MUSTCHECK;

#endif
