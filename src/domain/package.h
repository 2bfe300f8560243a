/*
 * package.h: the quota of on-demand packages (issue 15, schema 014).
 *
 * A package order line (ON_DEMAND_PKG) buys a quota that its on-demand
 * instance's usage draws down; the draw itself happens in the store with
 * the ingest (mkp_usage_ingest_packages), so two hosts never over-draw.
 * This module decides what a provisioned or renewed order line grants: the
 * quota (the [packages] skus entry of its SKU, else the line's
 * productInfo[].linearValue), the mode (stop unless the entry says
 * overflow) and the unit; and records the buyer, by which a package finds
 * its on-demand instance (doc/architecture.md, "where the spec is silent").
 */
#ifndef MKP_PACKAGE_H
#define MKP_PACKAGE_H

#include "domain/instance.h"
#include "net/marketplace.h"

/*
 * After order line `line` of `order` was applied to instance id (in the
 * caller's transaction): records the buyer, and for a package line grants
 * its quota once per order line (order_line_id: the line that bought or
 * renewed it). DOM_OK, or DOM_STORE with call->reason.
 */
enum dom_status package_on_order(const struct dom_ctx *, struct dom_call *, const char *id,
	    const struct order_info *order, const struct order_line *line,
	    const char *order_line_id);

/*
 * The quota line grants under cfg into quota (decimal text), mode and
 * unit; *from_config when [packages] skus fixed the amount. False when it
 * grants none: not a package line, or no linearValue and no amount in a
 * [packages] skus entry for its SKU.
 */
bool	 package_quota_of(const struct config *cfg, const struct order_line *line,
	    char quota[24], char mode[9], char unit[33], bool *from_config);

/* [packages] thresholds as a numeric[] literal; "{80,95}" if unreadable. */
void	 package_thresholds(const struct config *cfg, char *arr, size_t len);

#endif
