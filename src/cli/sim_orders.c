/*
 * sim_orders.c: the order book of `mkp-sim serve` and its order-query
 * answers (spec/outbound.md §3).
 *
 * Why it exists: mkpd asks the marketplace for an order's details after a
 * V2 newInstance (which carries ids only). Tests and demos need a
 * marketplace that answers as Huawei's does, for the MOCK order ids Huawei
 * publishes for debugging (spec/kit-and-v1.md §3.10) and for orders a
 * test invents (loaded from a file, format in sim_orders.h).
 *
 * The MOCK orders are written here as JSON text in the shape of the
 * documented success sample and parsed once, so loaded and built-in orders
 * are the same kind of thing: a parsed OrderInfo object re-emitted as
 * received (json_emit keeps member order and number text).
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sim_orders.h"
#include "common/json.h"

#define ORDERS_MAX_FILE		(16L << 20)	/* an orders file, bytes */
#define ORDERS_JSON_DEPTH	32

struct sim_order {
	const char	*id;		/* points into tree */
	struct json	*tree;		/* the OrderInfo object */
};

struct sim_orders {
	struct sim_order *v;
	size_t		 n;
	size_t		 cap;
};

/* One documented MOCK order (spec/outbound.md §3, test order table). */
struct mock_order {
	const char	*id;
	const char	*order_type;
	const char	*charging_mode;
	const char	*period_type;	/* NULL: not a periodic line */
	int		 period_number;
	const char	*expire_time;	/* NULL: none */
	const char	*product;	/* NULL: OFFI-MKP-SIM-<chargingMode> */
	int		 linear_value;	/* productInfo[0].linearValue */
};

static const struct mock_order mock_orders[] = {
	{ "MOCKPERIODYEARNEW", "NEW", "PERIOD", "year", 1, "20251121235959", NULL, 50 },
	{ "MOCKONETIMENEW", "NEW", "ONE_TIME", NULL, 0, NULL, NULL, 50 },
	{ "MOCKONDEMAND", "NEW", "ON_DEMAND", NULL, 0, NULL, NULL, 50 },
	/*
	 * A package of 100 units of the MOCKONDEMAND product (a package is a
	 * SKU of the product it prepays), bought by the same buyer, valid
	 * long enough for tests and demos to draw from it.
	 */
	{ "MOCKONDEMANDPKG", "NEW", "ON_DEMAND_PKG", "month", 1, "20991231235959",
	  "OFFI-MKP-SIM-ON_DEMAND", 100 },
	{ "MOCKPERIODDAYTRIAL", "TRIAL", "PERIOD", "day", 1, "20241122235959", NULL, 50 },
	{ "MOCKMONTYTRIALTOFORMAL", "TRIAL_TO_FORMAL", "PERIOD", "month", 1,
	  "20241221235959", NULL, 50 },
	{ "MOCKMONTYUNSUBSCRIBE", "UNSUBSCRIBE", "PERIOD", "month", 1,
	  "20241221235959", NULL, 50 },
	{ "MOCKMONTYRENEW", "RENEW", "PERIOD", "month", 1, "20250121235959", NULL, 50 },
	{ "MOCKMONTYCHANGE", "CHANGE", "PERIOD", "month", 1, "20241221235959", NULL, 50 },
};

static struct sim_order *
orders_find(const struct sim_orders *o, const char *id)
{
	size_t	i;

	for (i = 0; i < o->n; i++)
		if (strcmp(o->v[i].id, id) == 0)
			return &o->v[i];
	return NULL;
}

/* Takes tree (whose orderId was checked); replaces an order of that id. */
static void
orders_put(struct sim_orders *o, struct json *tree)
{
	const char		*id = json_get_str(tree, "orderId");
	struct sim_order	*old = orders_find(o, id);

	if (old != NULL) {
		json_free(old->tree);
		old->tree = tree;
		old->id = id;
		return;
	}
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 16;
		o->v = xrealloc(o->v, o->cap * sizeof(*o->v));
	}
	o->v[o->n].id = id;
	o->v[o->n].tree = tree;
	o->n++;
}

/* NULL when order is a usable OrderInfo, else why not. */
static const char *
order_invalid(const struct json *order)
{
	const struct json	*lines, *line;
	const char		*id;
	size_t			 i;

	if (order->type != JSON_OBJECT)
		return "an order is not an object";
	id = json_get_str(order, "orderId");
	if (id == NULL || id[0] == '\0' || strlen(id) > SIM_ORDER_ID_MAX)
		return "an order has no orderId string of 1..64 characters";
	if (json_get_str(order, "orderType") == NULL)
		return "an order has no orderType string";
	lines = json_get(order, "orderLine");
	if (lines == NULL || lines->type != JSON_ARRAY || lines->u.arr.n == 0)
		return "an order has no non-empty orderLine array";
	for (i = 0; i < lines->u.arr.n; i++) {
		line = lines->u.arr.items[i];
		id = json_get_str(line, "orderLineId");
		if (line->type != JSON_OBJECT || id == NULL || id[0] == '\0' ||
		    strlen(id) > SIM_ORDER_ID_MAX)
			return "an orderLine has no orderLineId string of 1..64 characters";
	}
	return NULL;
}

static void
mock_order_json(const struct mock_order *m, struct buf *out)
{
	buf_printf(out, "{\"orderId\":\"%s\",\"orderType\":\"%s\","
	    "\"createTime\":\"20241121090846\",\"orderLine\":[{"
	    "\"orderLineId\":\"%s-000001\",\"chargingMode\":\"%s\",",
	    m->id, m->order_type, m->id, m->charging_mode);
	if (m->period_type != NULL)
		buf_printf(out, "\"periodType\":\"%s\",\"periodNumber\":%d,",
		    m->period_type, m->period_number);
	if (m->expire_time != NULL)
		buf_printf(out, "\"expireTime\":\"%s\",", m->expire_time);
	if (m->product != NULL)
		buf_printf(out, "\"productInfo\":[{\"productId\":\"%s\",", m->product);
	else
		buf_printf(out, "\"productInfo\":[{\"productId\":\"OFFI-MKP-SIM-%s\",",
		    m->charging_mode);
	buf_printf(out, "\"skuCode\":\"sku-%s\",\"linearValue\":%d,"
	    "\"productName\":\"mkp-sim demo product\"}],"
	    "\"extendParams\":[{\"name\":\"emailDomainName\","
	    "\"value\":\"test.example.com\"}],"
	    "\"currency\":\"100\",\"currencyAfterDiscount\":\"100\"}],"
	    "\"buyerInfo\":{\"mobilePhone\":\"13800000000\","
	    "\"email\":\"buyer@example.com\",\"customerId\":\"mock-customer-id\","
	    "\"customerName\":\"mock-customer\",\"customerRealName\":\"Mock Buyer\","
	    "\"customerType\":0,\"userId\":\"mock-user-id\",\"userName\":\"mock-user\"},"
	    "\"extendParams\":[]}", m->id, m->linear_value);
}

struct sim_orders *
sim_orders_new(void)
{
	struct sim_orders	*o = xcalloc(1, sizeof(*o));
	struct buf		 text = BUF_INIT;
	struct json		*tree;
	char			 err[200];
	size_t			 i;

	for (i = 0; i < NELEM(mock_orders); i++) {
		buf_reset(&text);
		mock_order_json(&mock_orders[i], &text);
		tree = json_parse(text.data, text.len, ORDERS_JSON_DEPTH, err,
		    sizeof(err));
		if (tree == NULL || order_invalid(tree) != NULL) {
			/* A bug in the table above, not a runtime condition. */
			fprintf(stderr, "mkp-sim: MOCK order %s: %s\n",
			    mock_orders[i].id, tree == NULL ? err : "invalid");
			abort();
		}
		orders_put(o, tree);
	}
	buf_free(&text);
	return o;
}

void
sim_orders_free(struct sim_orders *o)
{
	size_t	i;

	if (o == NULL)
		return;
	for (i = 0; i < o->n; i++)
		json_free(o->v[i].tree);
	free(o->v);
	free(o);
}

size_t
sim_orders_count(const struct sim_orders *o)
{
	return o->n;
}

static bool
read_all(const char *path, struct buf *out, char *err, size_t errlen)
{
	FILE	*f = fopen(path, "rb");
	char	 chunk[8192];
	size_t	 n;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (out->len + n > (size_t)ORDERS_MAX_FILE) {
			snprintf(err, errlen, "%s: larger than %ld bytes", path,
			    ORDERS_MAX_FILE);
			fclose(f);
			return false;
		}
		buf_append(out, chunk, n);
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		fclose(f);
		return false;
	}
	fclose(f);
	return true;
}

bool
sim_orders_load(struct sim_orders *o, const char *path, char *err, size_t errlen)
{
	struct buf		 text = BUF_INIT;
	struct json		*root, *list;
	const char		*why;
	char			 perr[200];
	size_t			 i;

	if (!read_all(path, &text, err, errlen)) {
		buf_free(&text);
		return false;
	}
	root = json_parse(buf_cstr(&text), text.len, ORDERS_JSON_DEPTH, perr,
	    sizeof(perr));
	buf_free(&text);
	if (root == NULL) {
		snprintf(err, errlen, "%s: %s", path, perr);
		return false;
	}
	/* root is ours: its orders are moved out below, so not const. */
	list = (struct json *)json_get(root, "orders");
	if (list == NULL || list->type != JSON_ARRAY) {
		snprintf(err, errlen, "%s: no \"orders\" array at the top", path);
		json_free(root);
		return false;
	}
	for (i = 0; i < list->u.arr.n; i++) {
		if ((why = order_invalid(list->u.arr.items[i])) != NULL) {
			snprintf(err, errlen, "%s: orders[%zu]: %s", path, i, why);
			json_free(root);
			return false;
		}
	}
	/* All valid: move each order out of the root into the store. */
	for (i = 0; i < list->u.arr.n; i++) {
		orders_put(o, list->u.arr.items[i]);
		list->u.arr.items[i] = NULL;
	}
	list->u.arr.n = 0;
	json_free(root);
	return true;
}

/* OrderInfo with orderLine cut down to the one line given. */
static void
emit_one_line(const struct json *order, const struct json *line, struct buf *out)
{
	size_t	i;

	buf_putc(out, '{');
	for (i = 0; i < order->u.obj.n; i++) {
		if (i > 0)
			buf_putc(out, ',');
		json_put_str(out, order->u.obj.keys[i], strlen(order->u.obj.keys[i]));
		buf_putc(out, ':');
		if (strcmp(order->u.obj.keys[i], "orderLine") == 0) {
			buf_putc(out, '[');
			json_emit(line, out);
			buf_putc(out, ']');
		} else
			json_emit(order->u.obj.vals[i], out);
	}
	buf_putc(out, '}');
}

static int
answer_error(struct buf *out, int status, const char *code, const char *msg,
    const char **codep)
{
	struct jw	w;

	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_kv_str(&w, "resultCode", code);
	jw_kv_str(&w, "resultMsg", msg);
	jw_obj_end(&w);
	*codep = code;
	return status;
}

const char *
sim_orders_linear_value(const struct sim_orders *o, const char *order_id,
    const char *order_line_id)
{
	const struct sim_order	*order = orders_find(o, order_id);
	const struct json	*lines, *line = NULL, *prods, *v;
	size_t			 i;

	if (order == NULL)
		return NULL;
	lines = json_get(order->tree, "orderLine");
	for (i = 0; i < lines->u.arr.n && line == NULL; i++) {
		const char *id = json_get_str(lines->u.arr.items[i], "orderLineId");

		if (order_line_id == NULL || strcmp(id, order_line_id) == 0)
			line = lines->u.arr.items[i];
	}
	if (line == NULL || (prods = json_get(line, "productInfo")) == NULL ||
	    prods->type != JSON_ARRAY || prods->u.arr.n == 0 ||
	    (v = json_get(prods->u.arr.items[0], "linearValue")) == NULL)
		return NULL;
	if (v->type == JSON_NUMBER)
		return v->u.num;
	return v->type == JSON_STRING ? v->u.str.s : NULL;
}

int
sim_orders_answer(const struct sim_orders *o, const char *order_id,
    const char *order_line_id, struct buf *out, const char **code)
{
	const struct sim_order	*order;
	const struct json	*lines, *line = NULL;
	struct buf		 info = BUF_INIT;
	struct jw		 w;
	size_t			 i;

	if (order_id == NULL || order_id[0] == '\0' ||
	    strlen(order_id) > SIM_ORDER_ID_MAX ||
	    (order_line_id != NULL && strlen(order_line_id) > SIM_ORDER_ID_MAX))
		return answer_error(out, 400, "MKT.0101", "Invalid parameter", code);
	if ((order = orders_find(o, order_id)) == NULL)
		return answer_error(out, SIM_ORDER_UNKNOWN_STATUS,
		    SIM_ORDER_UNKNOWN_CODE, SIM_ORDER_UNKNOWN_MSG, code);
	if (order_line_id != NULL && order_line_id[0] != '\0') {
		lines = json_get(order->tree, "orderLine");
		for (i = 0; i < lines->u.arr.n && line == NULL; i++) {
			const char *id = json_get_str(lines->u.arr.items[i],
			    "orderLineId");

			if (strcmp(id, order_line_id) == 0)
				line = lines->u.arr.items[i];
		}
		if (line == NULL)
			return answer_error(out, SIM_ORDER_UNKNOWN_STATUS,
			    SIM_ORDER_UNKNOWN_CODE, SIM_ORDER_UNKNOWN_MSG, code);
		emit_one_line(order->tree, line, &info);
	} else
		json_emit(order->tree, &info);

	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_kv_str(&w, "resultCode", "MKT.0000");
	jw_kv_str(&w, "resultMsg", "Success");
	jw_key(&w, "orderInfo");
	jw_raw(&w, buf_cstr(&info));
	jw_obj_end(&w);
	buf_free(&info);
	*code = "MKT.0000";
	return 200;
}
