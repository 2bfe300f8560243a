/*
 * package.c: what an order line grants a package (see package.h).
 *
 * The reading (doc/architecture.md, "where the spec is silent"): the
 * amount a package line buys is its productInfo[].linearValue; a seller
 * whose orders carry no such amount, or who sells fixed quotas per SKU,
 * says so in [packages] skus, which wins. Without an entry the mode is
 * stop: a buyer is never billed past the prepaid quota by mistake.
 */
#include <stdio.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"
#include "domain/package.h"
#include "store/package_store.h"

void
package_thresholds(const struct config *cfg, char *arr, size_t len)
{
	char	why[200];

	if (!config_pkg_thresholds(cfg->packages_thresholds, arr, len, why, sizeof(why)))
		snprintf(arr, len, "{80,95}");	/* config_load refused it already */
}

bool
package_quota_of(const struct config *cfg, const struct order_line *line, char quota[24],
    char mode[9], char unit[33], bool *from_config)
{
	const struct order_product	*p;
	struct pkg_sku			 e;

	*from_config = false;
	if (line->charging_mode != CHARGING_ON_DEMAND_PKG || line->nproducts == 0)
		return false;
	p = &line->products[0];
	snprintf(mode, 9, "stop");
	unit[0] = '\0';
	quota[0] = '\0';
	if (p->sku_code != NULL && config_pkg_sku_find(cfg, p->sku_code, &e)) {
		snprintf(mode, 9, "%s", e.mode);
		snprintf(unit, 33, "%s", e.unit);
		snprintf(quota, 24, "%s", e.quota);
		*from_config = quota[0] != '\0';
	}
	if (quota[0] == '\0' && p->linear_value != NULL)
		snprintf(quota, 24, "%s", p->linear_value);
	return quota[0] != '\0';
}

enum dom_status
package_on_order(const struct dom_ctx *ctx, struct dom_call *call, const char *id,
    const struct order_info *order, const struct order_line *line, const char *order_line_id)
{
	char	quota[24], mode[9], unit[33], thr[256];
	bool	from_config;

	if (order->buyer.present && order->buyer.customer_id != NULL &&
	    order->buyer.customer_id[0] != '\0' &&
	    !package_store_set_buyer(ctx->db, id, order->buyer.customer_id)) {
		snprintf(call->reason, sizeof(call->reason), "store: %s", db_errmsg(ctx->db));
		return DOM_STORE;
	}
	if (line->charging_mode != CHARGING_ON_DEMAND_PKG)
		return DOM_OK;
	if (!package_quota_of(ctx->cfg, line, quota, mode, unit, &from_config)) {
		log_warn("package %s: order %s line %s names no quota (no linearValue, no "
		    "[packages] skus entry): it grants nothing", id, order->order_id,
		    order_line_id);
		return DOM_OK;
	}
	package_thresholds(ctx->cfg, thr, sizeof(thr));
	if (!package_store_grant(ctx->db, id, order->order_id, order_line_id, quota,
	    from_config ? "config" : "order", mode, unit, thr)) {
		snprintf(call->reason, sizeof(call->reason), "store: %s", db_errmsg(ctx->db));
		return DOM_STORE;
	}
	log_info("package %s: order %s line %s grants %s%s%s (%s)", id, order->order_id,
	    order_line_id, quota, unit[0] ? " " : "", unit, mode);
	return DOM_OK;
}
