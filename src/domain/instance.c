/*
 * instance.c: create, query, renew, freeze, release and upgrade instances.
 *
 * Every command that changes an instance locks its row (FOR UPDATE) inside
 * a transaction, decides from the current state, records an event and
 * commits; the answer is success only after the commit. Order-driven
 * changes are applied once per order line (the event's unique index), so
 * a retried renewal cannot move an expiry back after a later one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/random.h"
#include "domain/claim.h"
#include "domain/instance.h"
#include "store/instance_store.h"
#include "store/job_store.h"

static const char *const scene_names[] = {
	[SCENE_TRIAL_TO_FORMAL] = "TRIAL_TO_FORMAL",
	[SCENE_RENEWAL] = "RENEWAL",
	[SCENE_UNSUBSCRIBE_RENEWAL_PERIOD] = "UNSUBSCRIBE_RENEWAL_PERIOD",
	[SCENE_RENEWAL_CHANGE] = "RENEWAL_CHANGE",
};

/* Event kinds recorded for each scene. */
static const char *const scene_kinds[] = {
	[SCENE_TRIAL_TO_FORMAL] = "trial_to_formal",
	[SCENE_RENEWAL] = "renewal",
	[SCENE_UNSUBSCRIBE_RENEWAL_PERIOD] = "unsubscribe_renewal_period",
	[SCENE_RENEWAL_CHANGE] = "renewal_change",
};

bool
renew_scene_parse(const char *s, bool only_renewals, enum renew_scene *out)
{
	size_t	i;

	for (i = 0; i < NELEM(scene_names); i++) {
		if (strcmp(s, scene_names[i]) != 0)
			continue;
		if (only_renewals && i != SCENE_RENEWAL && i != SCENE_UNSUBSCRIBE_RENEWAL_PERIOD)
			return false;
		*out = (enum renew_scene)i;
		return true;
	}
	return false;
}

static void
say(struct dom_call *call, const char *fmt, ...) PRINTFLIKE(2, 3);

static void
say(struct dom_call *call, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(call->reason, sizeof(call->reason), fmt, ap);
	va_end(ap);
}

static enum dom_status
store_failed(const struct dom_ctx *ctx, struct dom_call *call)
{
	enum dom_status	st;

	db_rollback(ctx->db);
	if (dom_claim_failed(ctx, call, &st))
		return st;
	if (db_state_is_content(db_sqlstate(ctx->db))) {
		say(call, "the store refused a value of the call (sqlstate %s)",
		    db_sqlstate(ctx->db));
		log_notice("call %s: %s", call->call_id, call->reason);
		return DOM_INVALID;
	}
	say(call, "store unavailable (sqlstate %s)", db_sqlstate(ctx->db));
	return DOM_STORE;
}

/*
 * Expands {instanceId}, {orderId} and {orderLineId} in an URL template,
 * the values percent-encoded. Unknown braces are kept as they are.
 */
static void
expand_template(struct buf *out, const char *tpl, const char *instance_id,
    const char *order_id, const char *order_line_id)
{
	static const char *const names[] = { "{instanceId}", "{orderId}", "{orderLineId}" };
	const char	*vals[3] = { instance_id, order_id, order_line_id };
	const char	*p = tpl;
	size_t		 i;

	while (*p != '\0') {
		for (i = 0; i < NELEM(names); i++) {
			size_t n = strlen(names[i]);

			if (strncmp(p, names[i], n) == 0) {
				buf_put_pct(out, vals[i]);
				p += n;
				break;
			}
		}
		if (i == NELEM(names))
			buf_putc(out, *p++);
	}
}

static bool
state_is_ready(const char *state)
{
	return strcmp(state, "active") == 0 || strcmp(state, "frozen") == 0 ||
	    strcmp(state, "released") == 0;
}

static enum dom_status
create_answer(struct dom_call *call, const char *state, const char *how)
{
	if (state_is_ready(state)) {
		say(call, "%s (%s)", how, state);
		return DOM_OK;
	}
	if (strcmp(state, "provisioning") == 0) {
		say(call, "%s, still provisioning", how);
		return DOM_PENDING;
	}
	say(call, "%s, provisioning failed", how);
	return DOM_REFUSED;
}

bool
instance_provisions_later(const struct config *cfg, bool is_test)
{
	if (cfg->hook != NULL && cfg->hook[0] != '\0')
		return true;
	return !is_test && cfg->mkt_ak != NULL && cfg->mkt_ak[0] != '\0';
}

/* The built-in generator: URLs from the [app] templates, a random password. */
static void
builtin_app(const struct config *cfg, const char *id, const char *order_id,
    const char *order_line_id, struct app_info *a)
{
	struct buf	front = BUF_INIT, admin = BUF_INIT;
	char		password[129];

	expand_template(&front, cfg->front_end_url, id, order_id, order_line_id);
	expand_template(&admin, cfg->admin_url, id, order_id, order_line_id);
	rand_password(password, sizeof(password), (size_t)cfg->password_length);
	a->front_end_url = buf_steal(&front);
	a->admin_url = admin.len > 0 ? buf_steal(&admin) : NULL;
	buf_free(&admin);
	a->user_name = xstrdup(cfg->admin_user);
	a->password = xstrdup(password);
	wipe_str(password);
	a->memo = cfg->memo != NULL && cfg->memo[0] != '\0' ? xstrdup(cfg->memo) : NULL;
}

void
app_info_free(struct app_info *a)
{
	free(a->front_end_url);
	free(a->admin_url);
	free(a->user_name);
	wipe_str(a->password);
	free(a->password);
	free(a->memo);
	memset(a, 0, sizeof(*a));
}

enum dom_status
instance_create(const struct dom_ctx *ctx, struct dom_call *call, const char *order_id,
    const char *order_line_id, const char *business_id, char id_out[ID_SIZE])
{
	const struct config	*cfg = ctx->cfg;
	struct instance_store_new	 n;
	struct app_info		 app;
	struct buf		 sealed = BUF_INIT;
	char			 uuid[37], state[16];
	const char		*id = business_id;
	bool			 later = instance_provisions_later(cfg, call->is_test);
	enum instance_store_create_result r;
	int			 attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		memset(&n, 0, sizeof(n));
		memset(&app, 0, sizeof(app));
		n.instance_id = id;
		n.order_id = order_id;
		n.order_line_id = order_line_id;
		n.business_id = business_id;
		n.is_test = call->is_test;
		n.call_id = call->call_id;
		if (later) {
			/* A job reads the order and runs the hook (jobs/provision.c). */
			n.state = "provisioning";
			n.queue_job = true;
		} else {
			builtin_app(cfg, id, order_id, order_line_id, &app);
			buf_reset(&sealed);
			seal(ctx->seal, app.password, strlen(app.password), &sealed);
			n.state = "active";
			n.front_end_url = app.front_end_url;
			n.admin_url = app.admin_url;
			n.app_user = app.user_name;
			n.app_password = buf_cstr(&sealed);
			n.memo = app.memo;
		}
		dom_claim(ctx, call);
		r = instance_store_create(ctx->db, &n, id_out, state);
		app_info_free(&app);
		if (r != INSTANCE_STORE_ID_TAKEN)
			break;
		/*
		 * The businessId names another order line's instance already
		 * (a reused debug id, or a racing twin of this very call):
		 * take a fresh id; the order line decides which one wins. The
		 * failed insert undid the claim it carried: the retry claims.
		 */
		dom_claim_undone(call);
		rand_uuid(uuid);
		id = uuid;
	}
	buf_free(&sealed);

	switch (r) {
	case INSTANCE_STORE_CREATED:
		log_info("instance %s created for order %s/%s%s%s", id_out, order_id,
		    order_line_id, call->is_test ? " (debug)" : "",
		    later ? ", provisioning in the background" : "");
		return create_answer(call, state, "created");
	case INSTANCE_STORE_EXISTS:
		return create_answer(call, state, "order line already has this instance");
	case INSTANCE_STORE_ID_TAKEN:
	case INSTANCE_STORE_FAILED:
		break;
	}
	return store_failed(ctx, call);
}

enum dom_status
instance_load(const struct dom_ctx *ctx, const char *id, struct instance_row *row)
{
	struct instance_store_loaded	 l;

	memset(row, 0, sizeof(*row));
	row->expire_ms = -1;
	switch (instance_store_load(ctx->db, id, &l)) {
	case DB_FOUND:
		break;
	case DB_NONE:
		return DOM_NOT_FOUND;
	case DB_FAILED:
		return DOM_STORE;
	}
	row->instance_id = xstrdup(id);
	row->state = l.state;
	row->is_test = l.is_test;
	row->order_id = l.order_id;
	row->order_line_id = l.order_line_id;
	row->product_id = l.product_id;
	row->sku_code = l.sku_code;
	row->charging_mode = l.charging_mode;
	row->expire_ms = l.expire_ms;
	return DOM_OK;
}

void
instance_row_free(struct instance_row *row)
{
	free(row->instance_id);
	free(row->state);
	free(row->order_id);
	free(row->order_line_id);
	free(row->product_id);
	free(row->sku_code);
	free(row->charging_mode);
	memset(row, 0, sizeof(*row));
}

static bool	queue_change(const struct dom_ctx *, const char *id, bool is_test,
		    const char *event, const char *scene, const char *order_id,
		    const char *order_line_id);

enum dom_status
instance_mark_provisioned(const struct dom_ctx *ctx, struct dom_call *call, const char *id,
    const struct app_info *given, const char *product_id, const char *sku_code,
    const char *charging_mode, int64_t expire_ms, const char *order_json)
{
	struct instance_row		 row;
	struct instance_store_provisioned	 v;
	struct app_info			 made;
	const struct app_info		*app = given;
	struct buf			 sealed = BUF_INIT;
	enum dom_status			 st;
	bool				 inserted, ok, applied;

	st = instance_load(ctx, id, &row);
	if (st != DOM_OK)
		return st;
	memset(&made, 0, sizeof(made));
	if (app == NULL) {
		builtin_app(ctx->cfg, id, row.order_id, row.order_line_id, &made);
		app = &made;
	}
	if (app->password != NULL)
		seal(ctx->seal, app->password, strlen(app->password), &sealed);
	memset(&v, 0, sizeof(v));
	v.instance_id = id;
	v.front_end_url = app->front_end_url;
	v.admin_url = app->admin_url;
	v.app_user = app->user_name;
	v.app_password = app->password != NULL ? buf_cstr(&sealed) : NULL;
	v.memo = app->memo;
	v.product_id = product_id;
	v.sku_code = sku_code;
	v.charging_mode = charging_mode;
	v.expire_ms = expire_ms;
	v.order_json = order_json;
	ok = instance_store_provisioned(ctx->db, &v, &applied);
	if (ok && !applied) {
		/*
		 * Released (or made active) while the hook ran: leave it be. A
		 * release may have reached the hook (another host's jobs child)
		 * before create ended: the hook hears release again, now, for
		 * what create made.
		 */
		app_info_free(&made);
		buf_free(&sealed);
		instance_row_free(&row);
		if ((st = instance_load(ctx, id, &row)) != DOM_OK)
			return st;
		ok = strcmp(row.state, "released") != 0 ||
		    queue_change(ctx, id, row.is_test, "release", NULL, NULL, NULL);
		instance_row_free(&row);
		if (!ok) {
			say(call, "store failed (sqlstate %s)", db_sqlstate(ctx->db));
			return DOM_STORE;
		}
		say(call, "instance changed meanwhile: not provisioned");
		return DOM_OK;
	}
	ok = ok && instance_store_event(ctx->db, id, "provisioned", row.state, "active", NULL, NULL,
	    NULL, call->call_id, &inserted);
	app_info_free(&made);
	buf_free(&sealed);
	instance_row_free(&row);
	if (!ok) {
		say(call, "store failed (sqlstate %s)", db_sqlstate(ctx->db));
		return DOM_STORE;
	}
	log_info("instance %s provisioned", id);
	say(call, "provisioned");
	return DOM_OK;
}

enum dom_status
instance_apply_order(const struct dom_ctx *ctx, struct dom_call *call, const char *id,
    const char *order_id, const char *order_line_id, const char *product_id,
    const char *sku_code, const char *charging_mode, int64_t expire_ms, bool extend,
    const char *order_json, int64_t order_create_ms, int64_t job_id)
{
	bool	inserted, newer = true;

	if (!instance_store_apply_order(ctx->db, id, product_id, sku_code, charging_mode, expire_ms,
	    extend, order_json, order_create_ms, job_id, &newer) ||
	    !instance_store_event(ctx->db, id, "order_applied", NULL, NULL, order_id, order_line_id,
	    NULL, call->call_id, &inserted)) {
		say(call, "store failed (sqlstate %s)", db_sqlstate(ctx->db));
		return DOM_STORE;
	}
	if (!newer) {
		log_notice("instance %s: order %s/%s is older than the one applied last: "
		    "product and sku kept, expiry at least its own", id, order_id, order_line_id);
		return DOM_OK;
	}
	log_info("instance %s: order %s/%s applied (product %s, sku %s)", id, order_id,
	    order_line_id, product_id ? product_id : "-", sku_code ? sku_code : "-");
	return DOM_OK;
}

enum dom_status
instance_join_on_demand(const struct dom_ctx *ctx, struct dom_call *call, const char *id,
    const char *order_id, const char *product_id, bool is_test)
{
	char		 owner[ID_SIZE], state[16];
	bool		 inserted;

	/*
	 * One job at a time per product of the order (on any host): the
	 * lock lasts until the job commits, so the owner provisions (and
	 * runs the hook) once, and the others find it afterwards.
	 */
	switch (instance_store_on_demand_lock(ctx->db, order_id, product_id, is_test)) {
	case DB_FOUND:
		break;
	case DB_NONE:
		say(call, "on-demand product %s of order %s: another instance is being "
		    "provisioned", product_id, order_id);
		return DOM_PENDING;
	case DB_FAILED:
		say(call, "store failed (sqlstate %s)", db_sqlstate(ctx->db));
		return DOM_STORE;
	}
	switch (instance_store_on_demand_owner(ctx->db, order_id, product_id, is_test, id, owner,
	    state)) {
	case DB_FOUND:
		break;
	case DB_NONE:
		return DOM_NOT_FOUND;
	case DB_FAILED:
		say(call, "store failed (sqlstate %s)", db_sqlstate(ctx->db));
		return DOM_STORE;
	}
	if (strcmp(state, "provisioning") == 0) {
		say(call, "on-demand product %s of order %s: waiting for instance %s",
		    product_id, order_id, owner);
		return DOM_PENDING;
	}
	if (!instance_store_make_alias(ctx->db, id, owner) ||
	    !instance_store_event(ctx->db, id, "alias", "provisioning", NULL, NULL, NULL, NULL,
	    call->call_id, &inserted)) {
		say(call, "store failed (sqlstate %s)", db_sqlstate(ctx->db));
		return DOM_STORE;
	}
	log_info("instance %s: alias of %s (on-demand product %s of order %s)", id, owner,
	    product_id, order_id);
	say(call, "alias of %s", owner);
	return DOM_OK;
}

enum dom_status
instance_mark_failed(const struct dom_ctx *ctx, struct dom_call *call, const char *id,
    const char *reason)
{
	struct buf	detail = BUF_INIT;
	struct jw	w;
	bool		inserted, ok, applied = false;

	jw_init(&w, &detail);
	jw_obj_begin(&w);
	jw_kv_str(&w, "reason", reason);
	jw_obj_end(&w);
	ok = instance_store_failed(ctx->db, id, reason, &applied) &&
	    (!applied || instance_store_event(ctx->db, id, "provision_failed", "provisioning",
	    "failed", NULL, NULL, buf_cstr(&detail), call->call_id, &inserted));
	buf_free(&detail);
	if (!ok) {
		say(call, "store failed (sqlstate %s)", db_sqlstate(ctx->db));
		return DOM_STORE;
	}
	if (!applied) {
		say(call, "instance changed meanwhile: not failed");
		return DOM_OK;
	}
	log_warn("instance %s: provisioning failed: %s", id, reason);
	say(call, "provisioning failed: %s", reason);
	return DOM_OK;
}

enum dom_status
instance_query(const struct dom_ctx *ctx, struct dom_call *call, const char *const *ids,
    size_t n, instance_visit_fn visit, void *arg, size_t *found, size_t *ready)
{
	struct buf		 plain = BUF_INIT;
	struct instance_store_fetch	 f;
	size_t			 i, j, row, provisioning = 0;

	*found = *ready = 0;
	dom_claim(ctx, call);
	if (!instance_store_fetch(ctx->db, ids, n, &f))
		return store_failed(ctx, call);
	for (i = 0; i < n; i++) {
		const struct instance_store_fetched	*r;
		struct instance_info		 info;

		/* A repeated id is answered once. */
		for (j = 0; j < i; j++)
			if (strcmp(ids[i], ids[j]) == 0)
				break;
		if (j < i)
			continue;
		for (row = 0; row < f.n; row++)
			if (strcmp(f.rows[row].instance_id, ids[i]) == 0)
				break;
		if (row == f.n)
			continue;
		r = &f.rows[row];
		(*found)++;
		if (strcmp(r->state, "provisioning") == 0)
			provisioning++;
		if (!state_is_ready(r->state))
			continue;
		memset(&info, 0, sizeof(info));
		info.instance_id = r->instance_id;
		info.state = r->state;
		info.front_end_url = r->front_end_url;
		info.admin_url = r->admin_url;
		info.app_user = r->app_user;
		info.memo = r->memo;
		info.usage_value = r->usage_value;
		info.usage_time = r->usage_time;
		info.usage_related = r->usage_related;
		buf_reset(&plain);
		if (r->app_password != NULL) {
			if (!unseal(ctx->seal, r->app_password, &plain)) {
				/* Access data without its password would mislead the buyer. */
				log_error("instance %s: stored password does not unseal "
				    "(wrong master key?)", info.instance_id);
				say(call, "stored secrets cannot be read");
				buf_free(&plain);
				instance_store_fetch_free(&f);
				return DOM_STORE;
			}
			info.password = buf_cstr(&plain);
		}
		(*ready)++;
		visit(&info, arg);
		wipe_buf(&plain);
	}
	buf_free(&plain);
	instance_store_fetch_free(&f);
	if (*found == 0) {
		say(call, "no such instance");
	} else if (*ready == 0 && provisioning == 0) {
		say(call, "provisioning failed");
		return DOM_REFUSED;
	} else if (*ready == 0) {
		say(call, "instance not ready yet");
	}
	return DOM_OK;
}

bool
instance_change_reads_order(const struct config *cfg, bool is_test, const char *event,
    const char *scene, const char *order_id)
{
	if (order_id == NULL || is_test || cfg->mkt_ak == NULL || cfg->mkt_ak[0] == '\0')
		return false;
	if (strcmp(event, "upgrade") == 0)
		return true;
	return strcmp(event, "renew") == 0 && scene != NULL &&
	    strcmp(scene, "UNSUBSCRIBE_RENEWAL_PERIOD") != 0;
}

/*
 * Queues the "change" job (jobs/change.c) in the caller's transaction when
 * something must follow a change: the seller's hook hears of it, or the
 * change's order is read and applied (upgrades and renewals).
 */
static bool
queue_change(const struct dom_ctx *ctx, const char *id, bool is_test, const char *event,
    const char *scene, const char *order_id, const char *order_line_id)
{
	const struct config	*cfg = ctx->cfg;
	struct buf		 payload = BUF_INIT;
	struct jw		 w;
	bool			 ok;

	if ((cfg->hook == NULL || cfg->hook[0] == '\0') &&
	    !instance_change_reads_order(cfg, is_test, event, scene, order_id))
		return true;
	jw_init(&w, &payload);
	jw_obj_begin(&w);
	jw_kv_str(&w, "instanceId", id);
	jw_kv_str(&w, "event", event);
	jw_kv_str(&w, "scene", scene);
	jw_kv_str(&w, "orderId", order_id);
	jw_kv_str(&w, "orderLineId", order_line_id);
	jw_obj_end(&w);
	ok = job_store_enqueue(ctx->db, "change", buf_cstr(&payload), NULL, 0, 0, NULL);
	buf_free(&payload);
	return ok;
}

/*
 * Opens the transaction and locks the instance. On DOM_OK, *state (16
 * bytes) holds its state and the transaction is open; otherwise it is
 * closed and the status is the command's answer. A debug call on a real
 * instance stops here with DOM_OK and nothing changed (*skip set).
 */
static enum dom_status
lock_instance(const struct dom_ctx *ctx, struct dom_call *call, const char *id,
    char state[16], bool *skip, bool *test_out)
{
	struct instance_store_state	 st;

	*skip = false;
	dom_claim(ctx, call);
	if (!db_begin(ctx->db))
		return store_failed(ctx, call);
	switch (instance_store_lock(ctx->db, id, &st)) {
	case DB_FOUND:
		break;
	case DB_NONE:
		dom_claim_settle(ctx, call);
		say(call, "no such instance");
		return DOM_NOT_FOUND;
	case DB_FAILED:
		return store_failed(ctx, call);
	}
	memcpy(state, st.state, 16);
	*test_out = st.is_test;
	if (call->is_test && !st.is_test) {
		dom_claim_settle(ctx, call);
		say(call, "debug call on a real instance: not changed");
		log_warn("debug call (testFlag=1) named real instance %s: not changed", id);
		*skip = true;
	}
	return DOM_OK;
}

static enum dom_status
finish(const struct dom_ctx *ctx, struct dom_call *call)
{
	if (!db_commit(ctx->db))
		return store_failed(ctx, call);
	return DOM_OK;
}

/* Records an event and moves to to_state (when it differs), then commits. */
static enum dom_status
transition(const struct dom_ctx *ctx, struct dom_call *call, const char *id,
    bool is_test, const char *kind, const char *from, const char *to,
    const char *order_id, const char *order_line_id)
{
	bool	inserted;

	if (!instance_store_event(ctx->db, id, kind, from, to, order_id, order_line_id, NULL,
	    call->call_id, &inserted))
		return store_failed(ctx, call);
	if (strcmp(from, to) != 0 && !instance_store_set_state(ctx->db, id, to))
		return store_failed(ctx, call);
	if (!queue_change(ctx, id, is_test, kind, NULL, order_id, order_line_id))
		return store_failed(ctx, call);
	if (finish(ctx, call) != DOM_OK)
		return DOM_STORE;
	log_info("instance %s: %s (%s -> %s)%s", id, kind, from, to,
	    call->is_test ? " (debug)" : "");
	say(call, "%s: %s -> %s", kind, from, to);
	return DOM_OK;
}

static enum dom_status
nothing_to_do(const struct dom_ctx *ctx, struct dom_call *call, enum dom_status st,
    const char *why)
{
	dom_claim_settle(ctx, call);
	say(call, "%s", why);
	return st;
}

enum dom_status
instance_renew(const struct dom_ctx *ctx, struct dom_call *call, const char *id,
    enum renew_scene scene, const char *order_id, const char *order_line_id,
    const char *product_id, int64_t expire_ms)
{
	struct buf	 detail = BUF_INIT;
	struct jw	 w;
	char		 state[16], when[25];
	bool		 skip, inserted, ok, is_test;
	enum dom_status	 st;

	st = lock_instance(ctx, call, id, state, &skip, &is_test);
	if (st != DOM_OK || skip)
		return st;
	if (strcmp(state, "released") == 0)
		return nothing_to_do(ctx, call, DOM_NOT_FOUND, "instance released");
	fmt_time_iso(expire_ms, when);
	jw_init(&w, &detail);
	jw_obj_begin(&w);
	jw_kv_str(&w, "scene", scene_names[scene]);
	jw_kv_str(&w, "expireTime", when);
	jw_kv_str(&w, "productId", product_id);
	jw_obj_end(&w);
	ok = instance_store_event(ctx->db, id, scene_kinds[scene], state, state, order_id,
	    order_line_id, buf_cstr(&detail), call->call_id, &inserted);
	buf_free(&detail);
	if (!ok)
		return store_failed(ctx, call);
	if (!inserted)
		return nothing_to_do(ctx, call, DOM_OK, "order line already applied");
	if (!instance_store_renew(ctx->db, id, expire_ms, product_id, scene == SCENE_TRIAL_TO_FORMAL,
	    scene != SCENE_UNSUBSCRIBE_RENEWAL_PERIOD) ||
	    !queue_change(ctx, id, is_test, "renew", scene_names[scene], order_id, order_line_id))
		return store_failed(ctx, call);
	if (finish(ctx, call) != DOM_OK)
		return DOM_STORE;
	log_info("instance %s: %s, expires %s", id, scene_kinds[scene], when);
	say(call, "%s: expires %s", scene_kinds[scene], when);
	return DOM_OK;
}

enum dom_status
instance_set_frozen(const struct dom_ctx *ctx, struct dom_call *call, const char *id,
    bool freeze)
{
	char		 state[16];
	bool		 skip, is_test;
	enum dom_status	 st;

	st = lock_instance(ctx, call, id, state, &skip, &is_test);
	if (st != DOM_OK || skip)
		return st;
	if (freeze) {
		if (strcmp(state, "active") == 0)
			return transition(ctx, call, id, is_test, "freeze", state, "frozen", NULL, NULL);
		if (strcmp(state, "frozen") == 0)
			return nothing_to_do(ctx, call, DOM_OK, "already frozen");
		if (strcmp(state, "released") == 0)
			return nothing_to_do(ctx, call, DOM_OK, "released: nothing to freeze");
		if (strcmp(state, "failed") == 0)
			return nothing_to_do(ctx, call, DOM_OK, "provisioning failed: nothing to freeze");
		return nothing_to_do(ctx, call, DOM_PENDING, "still provisioning: retry later");
	}
	if (strcmp(state, "frozen") == 0)
		return transition(ctx, call, id, is_test, "unfreeze", state, "active", NULL, NULL);
	if (strcmp(state, "active") == 0)
		return nothing_to_do(ctx, call, DOM_OK, "not frozen");
	if (strcmp(state, "released") == 0)
		return nothing_to_do(ctx, call, DOM_NOT_FOUND, "instance released");
	if (strcmp(state, "failed") == 0)
		return nothing_to_do(ctx, call, DOM_REFUSED, "provisioning failed");
	return nothing_to_do(ctx, call, DOM_OK, "not frozen (provisioning)");
}

enum dom_status
instance_release(const struct dom_ctx *ctx, struct dom_call *call, const char *id,
    const char *order_id, const char *order_line_id)
{
	char		 state[16];
	bool		 skip, is_test;
	enum dom_status	 st;

	st = lock_instance(ctx, call, id, state, &skip, &is_test);
	if (st != DOM_OK || skip)
		return st;
	if (strcmp(state, "released") == 0)
		return nothing_to_do(ctx, call, DOM_OK, "already released");
	return transition(ctx, call, id, is_test, "release", state, "released", order_id, order_line_id);
}

enum dom_status
instance_upgrade(const struct dom_ctx *ctx, struct dom_call *call, const char *id,
    const char *order_id, const char *order_line_id)
{
	char		 state[16];
	bool		 skip, inserted, is_test;
	enum dom_status	 st;

	st = lock_instance(ctx, call, id, state, &skip, &is_test);
	if (st != DOM_OK || skip)
		return st;
	if (strcmp(state, "released") == 0)
		return nothing_to_do(ctx, call, DOM_NOT_FOUND, "instance released");
	if (!instance_store_event(ctx->db, id, "upgrade", state, state, order_id, order_line_id,
	    NULL, call->call_id, &inserted))
		return store_failed(ctx, call);
	if (!inserted)
		return nothing_to_do(ctx, call, DOM_OK, "order line already applied");
	if (!queue_change(ctx, id, is_test, "upgrade", NULL, order_id, order_line_id))
		return store_failed(ctx, call);
	if (finish(ctx, call) != DOM_OK)
		return DOM_STORE;
	log_info("instance %s: upgrade order %s/%s recorded", id, order_id, order_line_id);
	say(call, "upgrade order recorded");
	return DOM_OK;
}

enum dom_status
instance_check_change(const struct dom_ctx *ctx, struct dom_call *call, const char *id,
    const char *product_info)
{
	struct instance_store_state	 st;

	(void)product_info;
	dom_claim(ctx, call);
	switch (instance_store_peek(ctx->db, id, &st)) {
	case DB_FOUND:
		break;
	case DB_NONE:
		say(call, "no such instance");
		return DOM_NOT_FOUND;
	case DB_FAILED:
		return store_failed(ctx, call);
	}
	if (strcmp(st.state, "released") == 0) {
		say(call, "instance released");
		return DOM_NOT_FOUND;
	}
	say(call, "change accepted");
	return DOM_OK;
}

enum dom_status
license_renew(const struct dom_ctx *ctx, struct dom_call *call, const char *code,
    enum renew_scene scene, const char *order_id, const char *order_line_id,
    const char *product_id, int64_t expire_ms)
{
	bool		 applied;

	/* Debug and real licences live in rows of their own: no guard needed. */
	dom_claim(ctx, call);
	if (!db_begin(ctx->db))
		return store_failed(ctx, call);
	if (!instance_store_license_renew(ctx->db, code, scene_names[scene], order_id, order_line_id,
	    product_id, expire_ms, scene != SCENE_UNSUBSCRIBE_RENEWAL_PERIOD, call->is_test,
	    call->call_id, &applied))
		return store_failed(ctx, call);
	if (!applied)
		return nothing_to_do(ctx, call, DOM_OK, "order line already applied");
	if (finish(ctx, call) != DOM_OK)
		return DOM_STORE;
	say(call, "licence %s", scene_kinds[scene]);
	return DOM_OK;
}

bool
instance_line_is_v1(const char *order_line_id)
{
	return order_line_id != NULL && str_has_prefix(order_line_id, INSTANCE_V1_LINE);
}
