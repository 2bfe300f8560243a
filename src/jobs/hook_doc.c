/*
 * hook_doc.c: building the hook's input document and reading its answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fields.h"
#include "common/json.h"
#include "common/util.h"
#include "crypto/seal.h"
#include "jobs/hook_doc.h"

static void
put_params(struct jw *w, const char *key, const struct order_param *p, size_t n)
{
	size_t	i;

	if (n == 0)
		return;
	jw_key(w, key);
	jw_arr_begin(w);
	for (i = 0; i < n; i++) {
		jw_obj_begin(w);
		jw_kv_str(w, "name", p[i].name);
		jw_kv_str(w, "value", p[i].value);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void
put_line(struct jw *w, const struct order_line *l)
{
	size_t	i;

	jw_obj_begin(w);
	jw_kv_str(w, "orderLineId", l->order_line_id);
	jw_kv_str(w, "chargingMode", l->charging_mode_text);
	jw_kv_str(w, "expireTime", l->expire_time);
	jw_kv_str(w, "periodType", l->period_type);
	if (l->period_number >= 0) {
		jw_key(w, "periodNumber");
		jw_int(w, l->period_number);
	}
	jw_kv_str(w, "currency", l->currency);
	jw_kv_str(w, "currencyAfterDiscount", l->currency_after_discount);
	jw_key(w, "products");
	jw_arr_begin(w);
	for (i = 0; i < l->nproducts; i++) {
		jw_obj_begin(w);
		jw_kv_str(w, "productId", l->products[i].product_id);
		jw_kv_str(w, "skuCode", l->products[i].sku_code);
		jw_kv_str(w, "linearValue", l->products[i].linear_value);
		jw_kv_str(w, "productName", l->products[i].product_name);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	put_params(w, "extendParams", l->params, l->nparams);
	jw_obj_end(w);
}

static void
put_order(struct jw *w, const struct order_info *o)
{
	size_t	i;

	jw_obj_begin(w);
	jw_kv_str(w, "orderId", o->order_id);
	jw_kv_str(w, "orderType", o->order_type_text);
	jw_kv_str(w, "createTime", o->create_time);
	jw_key(w, "orderLine");
	jw_arr_begin(w);
	for (i = 0; i < o->nlines; i++)
		put_line(w, &o->lines[i]);
	jw_arr_end(w);
	put_params(w, "extendParams", o->params, o->nparams);
	jw_obj_end(w);
}

void
hook_doc_order(struct buf *out, const struct order_info *o)
{
	struct jw	w;

	jw_init(&w, out);
	put_order(&w, o);
}

void
hook_doc_build(struct buf *out, const char *event, const struct hook_instance *in,
    const struct order_info *o, const struct hook_change *ch)
{
	struct jw	w;
	char		when[25];

	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_kv_str(&w, "event", event);
	jw_key(&w, "instance");
	jw_obj_begin(&w);
	jw_kv_str(&w, "instanceId", in->instance_id);
	jw_kv_str(&w, "orderId", in->order_id);
	jw_kv_str(&w, "orderLineId", in->order_line_id);
	jw_kv_str(&w, "state", in->state);
	jw_key(&w, "isTest");
	jw_bool(&w, in->is_test);
	jw_kv_str(&w, "productId", in->product_id);
	jw_kv_str(&w, "skuCode", in->sku_code);
	jw_kv_str(&w, "chargingMode", in->charging_mode);
	if (in->expire_ms >= 0) {
		fmt_time_iso(in->expire_ms, when);
		jw_kv_str(&w, "expireTime", when);
	}
	jw_obj_end(&w);
	if (ch != NULL) {
		jw_key(&w, "change");
		jw_obj_begin(&w);
		jw_kv_str(&w, "scene", ch->scene);
		jw_kv_str(&w, "orderId", ch->order_id);
		jw_kv_str(&w, "orderLineId", ch->order_line_id);
		jw_obj_end(&w);
	}
	jw_key(&w, "order");
	if (o == NULL)
		jw_null(&w);
	else
		put_order(&w, o);
	jw_key(&w, "buyer");
	if (o == NULL || !o->buyer.present) {
		jw_null(&w);
	} else {
		jw_obj_begin(&w);
		jw_kv_str(&w, "customerId", o->buyer.customer_id);
		jw_kv_str(&w, "customerName", o->buyer.customer_name);
		jw_kv_str(&w, "customerRealName", o->buyer.customer_real_name);
		if (o->buyer.customer_type >= 0) {
			jw_key(&w, "customerType");
			jw_int(&w, o->buyer.customer_type);
		}
		jw_kv_str(&w, "userId", o->buyer.user_id);
		jw_kv_str(&w, "userName", o->buyer.user_name);
		jw_kv_str(&w, "mobilePhone", o->buyer.mobile_phone);
		jw_kv_str(&w, "email", o->buyer.email);
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
}

static const struct field_rule app_rules[] = {
	{ "frontEndUrl", true, FK_STRING, 512, NULL },
	{ "adminUrl", false, FK_STRING, 512, NULL },
	{ "userName", false, FK_STRING, 128, NULL },
	{ "password", false, FK_STRING, 128, NULL },
	{ "memo", false, FK_STRING, 1024, NULL },
};

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

bool
app_info_parse(const char *text, size_t len, struct app_info *a, char *err, size_t errlen)
{
	struct field_values	 f;
	struct json		*v;
	char			 perr[128], ferr[160];

	memset(a, 0, sizeof(*a));
	v = json_parse(text, len, 8, perr, sizeof(perr));
	if (v == NULL) {
		snprintf(err, errlen, "hook answer is not JSON (%s)", perr);
		return false;
	}
	if (!fields_check(v, app_rules, NELEM(app_rules), &f, ferr, sizeof(ferr))) {
		snprintf(err, errlen, "hook answer: %s", ferr);
		json_free(v);
		return false;
	}
	a->front_end_url = dup_or_null(f.str[0]);
	a->admin_url = dup_or_null(f.str[1]);
	a->user_name = dup_or_null(f.str[2]);
	a->password = dup_or_null(f.str[3]);
	a->memo = dup_or_null(f.str[4]);
	json_free(v);
	return true;
}
