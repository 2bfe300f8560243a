/*
 * hook_doc.h: the JSON a provisioning hook reads, and the appInfo it
 * answers for "create" (the hook's wire format; see etc/hooks/).
 *
 * Document:
 *	{"event":"create",
 *	 "instance":{"instanceId":..,"orderId":..,"orderLineId":..,"state":..,
 *	             "isTest":false,"productId":..,"skuCode":..,"chargingMode":..,
 *	             "expireTime":"2027-11-23T10:15:00.000Z"},
 *	 "order":{"orderId":..,"orderType":..,"createTime":..,"orderLine":[
 *	            {"orderLineId":..,"chargingMode":..,"expireTime":..,"periodType":..,
 *	             "periodNumber":12,"products":[{"productId":..,"skuCode":..,
 *	             "linearValue":"10","productName":..}],"extendParams":[{"name":..,"value":..}]}],
 *	          "extendParams":[..]},
 *	 "buyer":{"customerId":..,"customerName":..,"userId":..,"userName":..,
 *	          "mobilePhone":..,"email":..}}
 * Change events (renew, upgrade, freeze, unfreeze, release) add
 * "change":{"scene":..,"orderId":..,"orderLineId":..} (what the call named).
 * "order" and "buyer" are null for debug instances (testFlag=1), whose
 * orders are never read from the marketplace; absent fields are left out.
 */
#ifndef MKP_HOOK_DOC_H
#define MKP_HOOK_DOC_H

#include <stdint.h>
#include "common/buf.h"
#include "common/defs.h"
#include "domain/instance.h"
#include "net/marketplace.h"

struct hook_instance {
	const char	*instance_id;
	const char	*order_id;
	const char	*order_line_id;
	const char	*state;
	bool		 is_test;
	const char	*product_id;	/* NULL when not known */
	const char	*sku_code;
	const char	*charging_mode;
	int64_t		 expire_ms;	/* -1 when not known */
};

/* What a change event carries besides the instance (any member may be NULL). */
struct hook_change {
	const char	*scene;		/* renew: TRIAL_TO_FORMAL, RENEWAL, ... */
	const char	*order_id;	/* the change's own order */
	const char	*order_line_id;
};

/* Appends the "order" member's JSON (the order as read) to out. */
void	 hook_doc_order(struct buf *out, const struct order_info *);

/*
 * Appends the document for event to out. order may be NULL; change, when
 * not NULL, adds {"change":{"scene":..,"orderId":..,"orderLineId":..}}.
 */
void	 hook_doc_build(struct buf *out, const char *event, const struct hook_instance *,
	    const struct order_info *order, const struct hook_change *change);

/*
 * Parses a create hook's answer: a JSON object with frontEndUrl (required,
 * at most 512 characters), adminUrl (512), userName (128), password (128)
 * and memo (1024), strings; other members are ignored. False with a
 * one-line reason in err otherwise.
 */
bool	 app_info_parse(const char *text, size_t len, struct app_info *, char *err,
	    size_t errlen) MUSTCHECK;

#endif
