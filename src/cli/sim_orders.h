/*
 * sim_orders.h: the orders `mkp-sim serve` knows, and its answers to the
 * order query (spec/outbound.md §3): Huawei's documented MOCK orders
 * (spec/kit-and-v1.md §3.10) plus orders loaded from a JSON file.
 *
 * Orders file:
 *	{"orders": [ OrderInfo, ... ]}
 * where each OrderInfo is the object the marketplace puts under
 * "orderInfo": "orderId" (string, 1..64), "orderType" (string),
 * "orderLine" (non-empty array of objects, each with a string
 * "orderLineId"), and whatever else (createTime, buyerInfo,
 * extendParams, ...) — emitted back as given. A loaded order replaces a
 * MOCK order of the same id.
 */
#ifndef MKP_SIM_ORDERS_H
#define MKP_SIM_ORDERS_H

#include "common/buf.h"
#include "common/defs.h"

#define SIM_ORDER_ID_MAX	64	/* orderId / orderLineId, spec §3 */

/*
 * The business error for an order the marketplace does not know. The spec
 * names no code for it; we read it as "invalid parameter" (MKT.0101,
 * HTTP 400), which a client must not retry. [inferred]
 */
#define SIM_ORDER_UNKNOWN_STATUS	400
#define SIM_ORDER_UNKNOWN_CODE		"MKT.0101"
#define SIM_ORDER_UNKNOWN_MSG		"Invalid parameter"

struct sim_orders;

/* A store holding the MOCK orders. Never NULL (allocation aborts). */
struct sim_orders *sim_orders_new(void);
void	 sim_orders_free(struct sim_orders *);

/*
 * Adds the orders of a file in the format above. On false nothing was
 * added and err holds a one-line reason.
 */
bool	 sim_orders_load(struct sim_orders *, const char *path, char *err,
	    size_t errlen) MUSTCHECK;

/* How many orders the store holds (MOCK ones included). */
size_t	 sim_orders_count(const struct sim_orders *);

/*
 * The quota an order line sells: its first productInfo's linearValue as
 * text (the order's first line when order_line_id is NULL); NULL when the
 * order, the line or the value is unknown. Points into the store.
 */
const char *sim_orders_linear_value(const struct sim_orders *, const char *order_id,
	    const char *order_line_id);

/*
 * The order query's answer for orderId (NULL when the query had none)
 * and orderLineId (NULL: every line; else only that line): appends the
 * JSON body {"resultCode","resultMsg"[,"orderInfo"]} to out and returns
 * the HTTP status. *code receives the resultCode (static storage).
 */
int	 sim_orders_answer(const struct sim_orders *, const char *order_id,
	    const char *order_line_id, struct buf *out, const char **code);

#endif
