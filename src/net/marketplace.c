/*
 * marketplace.c: the client of the marketplace's open API: every call
 * mkpd makes there is signed and sent here (mkt_sign_call, mkt_send), the
 * order query (spec/outbound.md §3; v2-basic.md §3.9) and the usage push
 * (§1, whose bytes net/usage_wire.c makes). V2 newInstance and
 * upgradeInstance carry only ids; the order's details (charging mode,
 * period, SKU, linear value, expiry, buyer) come from the order query.
 *
 * Why three layers: mkt_order_call and mkt_sign_call (build and sign, no
 * I/O) and mkt_parse_order_answer (bytes in, verdict out) are pure, so
 * every rule is unit-tested without a network; mkt_send only hands the
 * signed request to http_request, and mkt_query_order chooses the host.
 *
 * Classifying an answer (the one place that decides retry or not):
 * - a marketplace result code (resultCode): MKT.0000 is success (with
 *   orderInfo) or "no such order" (without); MKT.0999 (internal error)
 *   and MKT.0250 (frequency limit) are retryable; MKT.0150/0151/0154 say
 *   our credentials may not do this: permanent; any other code is a
 *   business refusal about this order. A result code decides whatever the
 *   HTTP status, since the marketplace sends some with HTTP 500 (§1.7).
 *   One mirror of the error table has "CBC." for "MKT.": both are read.
 * - a gateway error (error_code, no resultCode), or an answer that is not
 *   such JSON: HTTP 429 and 5xx are retryable, anything else permanent.
 * - no HTTP answer at all: retryable, after trying fallback_url.
 *
 * Parsing is strict on the fields the spec lists (type, presence of the
 * mandatory ones, documented lengths, time formats) and ignores members
 * it does not list, since the marketplace adds fields over time. Enum
 * values it does not know are kept as text (ORDER_TYPE_OTHER,
 * CHARGING_OTHER): refusing the whole order would be worse.
 *
 * The buyer's details are personal data: nothing here logs them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/apig.h"
#include "net/marketplace.h"

#define MKT_TEXT_MAX	1024	/* any string the spec gives no length for */
#define MKT_JSON_DEPTH	16

const char *
mkt_status_name(enum mkt_status s)
{
	switch (s) {
	case MKT_OK:		return "ok";
	case MKT_NOT_FOUND:	return "not found";
	case MKT_BUSINESS:	return "refused";
	case MKT_RETRYABLE:	return "retryable";
	case MKT_PERMANENT:	return "permanent";
	}
	return "?";
}

/* --- order_info ------------------------------------------------------------ */

void
order_info_init(struct order_info *info)
{
	memset(info, 0, sizeof(*info));
	info->buyer.customer_type = -1;
}

static void
order_params_free(struct order_param *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
}

void
order_info_free(struct order_info *info)
{
	size_t	i, j;

	free(info->order_id);
	free(info->order_type_text);
	free(info->create_time);
	for (i = 0; i < info->nlines; i++) {
		struct order_line *l = &info->lines[i];

		free(l->order_line_id);
		free(l->charging_mode_text);
		free(l->expire_time);
		free(l->period_type);
		free(l->currency);
		free(l->currency_after_discount);
		for (j = 0; j < l->nproducts; j++) {
			free(l->products[j].product_id);
			free(l->products[j].sku_code);
			free(l->products[j].linear_value);
			free(l->products[j].product_name);
		}
		free(l->products);
		order_params_free(l->params, l->nparams);
	}
	free(info->lines);
	free(info->buyer.customer_id);
	free(info->buyer.customer_name);
	free(info->buyer.customer_real_name);
	free(info->buyer.user_id);
	free(info->buyer.user_name);
	free(info->buyer.mobile_phone);
	free(info->buyer.email);
	order_params_free(info->params, info->nparams);
	order_info_init(info);
}

const struct order_line *
order_info_line(const struct order_info *info, const char *line_id)
{
	size_t	i;

	for (i = 0; i < info->nlines; i++)
		if (strcmp(info->lines[i].order_line_id, line_id) == 0)
			return &info->lines[i];
	return NULL;
}

/* --- field readers --------------------------------------------------------- */

/* The error of one parse: the first one, with the member's path. */
struct mkt_perr {
	char	why[300];
};

static bool PRINTFLIKE(2, 3)
mkt_fail(struct mkt_perr *e, const char *fmt, ...)
{
	va_list	ap;

	if (e->why[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(e->why, sizeof(e->why), fmt, ap);
		va_end(ap);
	}
	return false;
}

/* A member, NULL when absent or JSON null (the same thing for optional ones). */
static const struct json *
mkt_member(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);

	return v != NULL && v->type != JSON_NULL ? v : NULL;
}

/*
 * A string member into *out (malloc'd; NULL when absent and optional).
 * Mandatory ones must be present and non-empty; all at most max bytes.
 */
static bool
mkt_str(const struct json *obj, const char *ctx, const char *key, bool mandatory,
    size_t max, char **out, struct mkt_perr *e)
{
	const struct json *v = mkt_member(obj, key);

	*out = NULL;
	if (v == NULL)
		return mandatory ? mkt_fail(e, "%s.%s is missing", ctx, key) : true;
	if (v->type != JSON_STRING)
		return mkt_fail(e, "%s.%s is not a string", ctx, key);
	if (mandatory && v->u.str.len == 0)
		return mkt_fail(e, "%s.%s is empty", ctx, key);
	if (v->u.str.len > max)
		return mkt_fail(e, "%s.%s is longer than %zu bytes", ctx, key, max);
	*out = xstrndup(v->u.str.s, v->u.str.len);
	return true;
}

/* A time member (yyyyMMddHHmmss, or with milliseconds) and its value. */
static bool
mkt_time(const struct json *obj, const char *ctx, const char *key, bool mandatory,
    char **out, int64_t *ms, struct mkt_perr *e)
{
	if (!mkt_str(obj, ctx, key, mandatory, 20, out, e))
		return false;
	if (*out != NULL && !parse_mkp_time(*out, ms)) {
		free(*out);
		*out = NULL;
		return mkt_fail(e, "%s.%s is not a yyyyMMddHHmmss time", ctx, key);
	}
	return true;
}

/*
 * A non-negative integer member: a JSON integer, or a string of digits
 * (the marketplace is not consistent about numbers). -1 when absent.
 */
static bool
mkt_int(const struct json *obj, const char *ctx, const char *key, int64_t *out,
    struct mkt_perr *e)
{
	const struct json *v = mkt_member(obj, key);

	*out = -1;
	if (v == NULL)
		return true;
	if ((v->type == JSON_NUMBER && parse_i64(v->u.num, 0, INT32_MAX, out)) ||
	    (v->type == JSON_STRING && parse_i64(v->u.str.s, 0, INT32_MAX, out)))
		return true;
	*out = -1;
	return mkt_fail(e, "%s.%s is not a non-negative integer", ctx, key);
}

/* An amount or quantity: a JSON number or a string holding one, kept as text. */
static bool
mkt_amount(const struct json *obj, const char *ctx, const char *key, char **out,
    struct mkt_perr *e)
{
	const struct json *v = mkt_member(obj, key);
	const char	*s;
	size_t		 i, digits = 0;

	*out = NULL;
	if (v == NULL)
		return true;
	if (v->type == JSON_NUMBER)
		s = v->u.num;
	else if (v->type == JSON_STRING && v->u.str.len <= 32)
		s = v->u.str.s;
	else
		return mkt_fail(e, "%s.%s is not a number", ctx, key);
	/* Digits with at most one '.' (a string could hold anything). */
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digits++;
		else if (s[i] != '.' || strchr(s + i + 1, '.') != NULL || i == 0)
			return mkt_fail(e, "%s.%s is not a non-negative decimal number", ctx, key);
	}
	if (digits == 0 || s[i - 1] == '.')
		return mkt_fail(e, "%s.%s is not a non-negative decimal number", ctx, key);
	*out = xstrdup(s);
	return true;
}

/* An optional array member; *arr NULL when absent. */
static bool
mkt_array(const struct json *obj, const char *ctx, const char *key,
    const struct json **arr, struct mkt_perr *e)
{
	*arr = mkt_member(obj, key);
	if (*arr != NULL && (*arr)->type != JSON_ARRAY)
		return mkt_fail(e, "%s.%s is not an array", ctx, key);
	return true;
}

/* extendParams: [{"name": "...", "value": "..."}, ...]. */
static bool
mkt_params(const struct json *obj, const char *ctx, struct order_param **out,
    size_t *n, struct mkt_perr *e)
{
	const struct json *arr;
	char		 sub[192];
	size_t		 i;

	*out = NULL;
	*n = 0;
	if (!mkt_array(obj, ctx, "extendParams", &arr, e))
		return false;
	if (arr == NULL || arr->u.arr.n == 0)
		return true;
	*out = xcalloc(arr->u.arr.n, sizeof(**out));
	for (i = 0; i < arr->u.arr.n; i++) {
		const struct json *p = arr->u.arr.items[i];

		snprintf(sub, sizeof(sub), "%s.extendParams[%zu]", ctx, i);
		if (p->type != JSON_OBJECT)
			return mkt_fail(e, "%s is not an object", sub);
		(*n)++;
		if (!mkt_str(p, sub, "name", true, MKT_TEXT_MAX, &(*out)[i].name, e) ||
		    !mkt_str(p, sub, "value", false, MKT_TEXT_MAX, &(*out)[i].value, e))
			return false;
		if ((*out)[i].value == NULL)
			(*out)[i].value = xstrdup("");
	}
	return true;
}

static const char *const order_type_names[] = {
	[ORDER_NEW] = "NEW",
	[ORDER_TRIAL] = "TRIAL",
	[ORDER_TRIAL_TO_FORMAL] = "TRIAL_TO_FORMAL",
	[ORDER_UNSUBSCRIBE] = "UNSUBSCRIBE",
	[ORDER_RENEW] = "RENEW",
	[ORDER_CHANGE] = "CHANGE",
};

static const char *const charging_mode_names[] = {
	[CHARGING_ON_DEMAND] = "ON_DEMAND",
	[CHARGING_ONE_TIME] = "ONE_TIME",
	[CHARGING_PERIOD] = "PERIOD",
	[CHARGING_ON_DEMAND_PKG] = "ON_DEMAND_PKG",
};

/* Index of s in names (entry 0 is the "other" value, NULL), or 0. */
static int
mkt_enum(const char *s, const char *const *names, size_t n)
{
	size_t	i;

	for (i = 1; i < n; i++)
		if (names[i] != NULL && strcmp(s, names[i]) == 0)
			return (int)i;
	return 0;
}

static bool
mkt_line(const struct json *l, size_t idx, struct order_line *out, struct mkt_perr *e)
{
	const struct json *arr;
	char		 ctx[64];
	size_t		 i;

	snprintf(ctx, sizeof(ctx), "orderInfo.orderLine[%zu]", idx);
	out->period_number = -1;
	if (l->type != JSON_OBJECT)
		return mkt_fail(e, "%s is not an object", ctx);
	if (!mkt_str(l, ctx, "orderLineId", true, MKT_ID_MAX, &out->order_line_id, e) ||
	    !mkt_str(l, ctx, "chargingMode", true, 25, &out->charging_mode_text, e) ||
	    !mkt_time(l, ctx, "expireTime", false, &out->expire_time, &out->expire_ms, e) ||
	    !mkt_str(l, ctx, "periodType", false, 32, &out->period_type, e) ||
	    !mkt_int(l, ctx, "periodNumber", &out->period_number, e) ||
	    !mkt_amount(l, ctx, "currency", &out->currency, e) ||
	    !mkt_amount(l, ctx, "currencyAfterDiscount", &out->currency_after_discount, e) ||
	    !mkt_params(l, ctx, &out->params, &out->nparams, e) ||
	    !mkt_array(l, ctx, "productInfo", &arr, e))
		return false;
	out->charging_mode = (enum charging_mode)mkt_enum(out->charging_mode_text,
	    charging_mode_names, NELEM(charging_mode_names));
	if (arr == NULL || arr->u.arr.n == 0)
		return true;
	out->products = xcalloc(arr->u.arr.n, sizeof(*out->products));
	for (i = 0; i < arr->u.arr.n; i++) {
		const struct json *p = arr->u.arr.items[i];
		struct order_product *op = &out->products[i];
		char	sub[192];

		snprintf(sub, sizeof(sub), "%s.productInfo[%zu]", ctx, i);
		if (p->type != JSON_OBJECT)
			return mkt_fail(e, "%s is not an object", sub);
		out->nproducts++;
		if (!mkt_str(p, sub, "productId", false, MKT_ID_MAX, &op->product_id, e) ||
		    !mkt_str(p, sub, "skuCode", false, MKT_ID_MAX, &op->sku_code, e) ||
		    !mkt_amount(p, sub, "linearValue", &op->linear_value, e) ||
		    !mkt_str(p, sub, "productName", false, MKT_TEXT_MAX, &op->product_name, e))
			return false;
	}
	return true;
}

static bool
mkt_buyer(const struct json *oi, struct order_buyer *b, struct mkt_perr *e)
{
	const struct json *v = mkt_member(oi, "buyerInfo");
	const char	*ctx = "orderInfo.buyerInfo";

	if (v == NULL)
		return true;
	if (v->type != JSON_OBJECT)
		return mkt_fail(e, "%s is not an object", ctx);
	b->present = true;
	return mkt_str(v, ctx, "customerId", false, MKT_ID_MAX, &b->customer_id, e) &&
	    mkt_str(v, ctx, "customerName", false, MKT_TEXT_MAX, &b->customer_name, e) &&
	    mkt_str(v, ctx, "customerRealName", false, MKT_TEXT_MAX, &b->customer_real_name, e) &&
	    mkt_int(v, ctx, "customerType", &b->customer_type, e) &&
	    mkt_str(v, ctx, "userId", false, MKT_ID_MAX, &b->user_id, e) &&
	    mkt_str(v, ctx, "userName", false, MKT_TEXT_MAX, &b->user_name, e) &&
	    mkt_str(v, ctx, "mobilePhone", false, MKT_TEXT_MAX, &b->mobile_phone, e) &&
	    mkt_str(v, ctx, "email", false, MKT_TEXT_MAX, &b->email, e);
}

static bool
mkt_order(const struct json *oi, struct order_info *info, struct mkt_perr *e)
{
	const char	*ctx = "orderInfo";
	const struct json *lines;
	size_t		 i;

	if (oi->type != JSON_OBJECT)
		return mkt_fail(e, "orderInfo is not an object");
	if (!mkt_str(oi, ctx, "orderId", true, MKT_ID_MAX, &info->order_id, e) ||
	    !mkt_str(oi, ctx, "orderType", true, 32, &info->order_type_text, e) ||
	    !mkt_time(oi, ctx, "createTime", true, &info->create_time, &info->create_ms, e) ||
	    !mkt_buyer(oi, &info->buyer, e) ||
	    !mkt_params(oi, ctx, &info->params, &info->nparams, e) ||
	    !mkt_array(oi, ctx, "orderLine", &lines, e))
		return false;
	info->order_type = (enum order_type)mkt_enum(info->order_type_text,
	    order_type_names, NELEM(order_type_names));
	if (lines == NULL || lines->u.arr.n == 0)
		return mkt_fail(e, "orderInfo.orderLine is missing or empty");
	info->lines = xcalloc(lines->u.arr.n, sizeof(*info->lines));
	for (i = 0; i < lines->u.arr.n; i++) {
		info->nlines++;
		if (!mkt_line(lines->u.arr.items[i], i, &info->lines[i], e))
			return false;
	}
	return true;
}

/* --- classification ---------------------------------------------------------- */

bool
mkt_http_retryable(long status)
{
	return status == 429 || status >= 500;
}

/* resultCode "MKT.nnnn" (or "CBC.nnnn") → its number part, else NULL. */
static const char *
mkt_code_number(const char *code)
{
	if (str_has_prefix(code, "MKT.") || str_has_prefix(code, "CBC."))
		return code + 4;
	return NULL;
}

static enum mkt_status
mkt_set(struct mkt_result *res, enum mkt_status s)
{
	res->status = s;
	return s;
}

/* Copies a member string of the answer into a bounded field (cut to fit). */
static void
mkt_copy_text(char *dst, size_t dstsz, const char *src)
{
	snprintf(dst, dstsz, "%s", src != NULL ? src : "");
}

enum mkt_status
mkt_parse_order_answer(long http_status, const char *body, size_t len,
    struct order_info *info, struct mkt_result *res)
{
	struct json	*root;
	const struct json *oi;
	const char	*code, *num;
	struct mkt_perr	 e;
	char		 err[200];
	enum mkt_status	 s;

	memset(res, 0, sizeof(*res));
	memset(&e, 0, sizeof(e));
	res->http_status = http_status;
	root = json_parse(body, len, MKT_JSON_DEPTH, err, sizeof(err));
	if (root == NULL || root->type != JSON_OBJECT) {
		snprintf(res->message, sizeof(res->message), "HTTP %ld, answer is not "
		    "a JSON object%s%s", http_status, root == NULL ? ": " : "",
		    root == NULL ? err : "");
		json_free(root);
		return mkt_set(res, mkt_http_retryable(http_status) ?
		    MKT_RETRYABLE : MKT_PERMANENT);
	}

	if ((code = json_get_str(root, "resultCode")) == NULL) {
		/* The gateway's error (APIG.xxxx), or a shape we do not know. */
		if (json_get(root, "resultCode") != NULL)
			snprintf(res->message, sizeof(res->message), "resultCode is not a string");
		else if ((code = json_get_str(root, "error_code")) != NULL) {
			mkt_copy_text(res->code, sizeof(res->code), code);
			mkt_copy_text(res->message, sizeof(res->message),
			    json_get_str(root, "error_msg"));
		} else
			snprintf(res->message, sizeof(res->message), "HTTP %ld, answer "
			    "has neither resultCode nor error_code", http_status);
		json_free(root);
		return mkt_set(res, mkt_http_retryable(http_status) ?
		    MKT_RETRYABLE : MKT_PERMANENT);
	}
	mkt_copy_text(res->code, sizeof(res->code), code);
	mkt_copy_text(res->message, sizeof(res->message), json_get_str(root, "resultMsg"));
	num = mkt_code_number(code);

	if (num == NULL || strcmp(num, "0000") != 0) {
		if (num != NULL && (strcmp(num, "0999") == 0 || strcmp(num, "0250") == 0))
			s = MKT_RETRYABLE;
		else if (num != NULL && (strcmp(num, "0150") == 0 ||
		    strcmp(num, "0151") == 0 || strcmp(num, "0154") == 0))
			s = MKT_PERMANENT;
		else
			s = MKT_BUSINESS;
		json_free(root);
		return mkt_set(res, s);
	}

	if ((oi = mkt_member(root, "orderInfo")) == NULL) {
		json_free(root);
		return mkt_set(res, MKT_NOT_FOUND);
	}
	if (!mkt_order(oi, info, &e)) {
		order_info_free(info);
		snprintf(res->message, sizeof(res->message), "bad answer: %s", e.why);
		json_free(root);
		return mkt_set(res, MKT_PERMANENT);
	}
	json_free(root);
	return mkt_set(res, MKT_OK);
}

/* --- the request ------------------------------------------------------------- */

void
mkt_client_config(const struct config *cfg, struct mkt_client *c)
{
	memset(c, 0, sizeof(*c));
	c->url = cfg->mkt_url;
	c->fallback_url = cfg->mkt_fallback_url;
	c->ak = cfg->mkt_ak;
	c->sk = cfg->mkt_sk;
	c->ca_file = cfg->mkt_ca_file;
	c->connect_timeout_ms = cfg->mkt_connect_timeout;
	c->timeout_ms = cfg->mkt_timeout;
}

void
mkt_signed_free(struct mkt_signed *s)
{
	buf_free(&s->url);
	buf_free(&s->authorization);
	memset(s, 0, sizeof(*s));
}

static bool
mkt_id_ok(const char *id)
{
	size_t	n = strnlen(id, MKT_ID_MAX + 1);

	return n > 0 && n <= MKT_ID_MAX;
}

bool
mkt_order_call(const char *order_id, const char *order_line_id, struct buf *query,
    struct mkt_call *call, char *why, size_t whylen)
{
	memset(call, 0, sizeof(*call));
	if (!mkt_id_ok(order_id) || (order_line_id != NULL && order_line_id[0] != '\0' &&
	    !mkt_id_ok(order_line_id))) {
		snprintf(why, whylen, "orderId and orderLineId must be 1..%d bytes", MKT_ID_MAX);
		return false;
	}
	buf_puts(query, "orderId=");
	apig_escape(query, order_id, strlen(order_id));
	if (order_line_id != NULL && order_line_id[0] != '\0') {
		buf_puts(query, "&orderLineId=");
		apig_escape(query, order_line_id, strlen(order_line_id));
	}
	call->method = "GET";
	call->path = MKT_ORDER_QUERY_PATH;
	call->query = buf_cstr(query);
	return true;
}

bool
mkt_sign_call(const struct mkt_client *c, const char *base_url, const struct mkt_call *call,
    int64_t now, struct mkt_signed *s, char *why, size_t whylen)
{
	const char	*query = call->query != NULL ? call->query : "";
	struct http_url	 u;
	struct apig_request ar;
	struct buf	 path = BUF_INIT;
	size_t		 blen, i;
	bool		 ok;

	memset(s, 0, sizeof(*s));
	if (call->nextra > MKT_EXTRA_HEADERS) {
		snprintf(why, whylen, "more than %d extra headers", MKT_EXTRA_HEADERS);
		return false;
	}
	if (!http_url_parse(base_url, &u, why, whylen))
		return false;

	blen = strlen(base_url);
	while (blen > 0 && base_url[blen - 1] == '/')
		blen--;
	buf_printf(&s->url, "%.*s%s%s%s", (int)blen, base_url, call->path,
	    query[0] != '\0' ? "?" : "", query);
	buf_printf(&path, "%s%s", u.path, call->path);

	snprintf(s->host, sizeof(s->host), "%s", u.host);
	apig_format_date(now, s->date);
	/* The three headers vector E of §2.9 signs. */
	s->headers[0] = (struct http_header){ "Content-Type", "application/json" };
	s->headers[1] = (struct http_header){ "Host", s->host };
	s->headers[2] = (struct http_header){ APIG_DATE_HEADER, s->date };
	_Static_assert(sizeof(struct http_header) == sizeof(struct apig_header),
	    "the header arrays are shared");
	memset(&ar, 0, sizeof(ar));
	ar.method = call->method;
	ar.path = buf_cstr(&path);
	ar.query = query;
	ar.headers = (const struct apig_header *)(const void *)s->headers;
	ar.nheaders = 3;
	ar.body = call->body;
	ar.body_len = call->body_len;
	ok = apig_sign(&ar, c->ak, c->sk, &s->authorization, why, whylen);
	buf_free(&path);
	if (!ok) {
		mkt_signed_free(s);
		return false;
	}
	s->headers[3] = (struct http_header){ "Authorization", buf_cstr(&s->authorization) };
	for (i = 0; i < call->nextra; i++)
		s->headers[4 + i] = call->extra[i];
	s->req.method = call->method;
	s->req.url = buf_cstr(&s->url);
	s->req.headers = s->headers;
	s->req.nheaders = 4 + call->nextra;
	s->req.body = call->body;
	s->req.body_len = call->body_len;
	s->req.connect_timeout_ms = c->connect_timeout_ms;
	s->req.timeout_ms = c->timeout_ms;
	s->req.ca_file = c->ca_file;
	return true;
}

bool
mkt_send(const struct mkt_client *c, const char *base_url, const struct mkt_call *call,
    int64_t now, struct http_response *resp, char *why, size_t whylen)
{
	struct mkt_signed s;

	if (!mkt_sign_call(c, base_url, call, now, &s, why, whylen))
		return false;
	if (!http_request(&s.req, resp))
		snprintf(why, whylen, "%s", resp->error_text);
	mkt_signed_free(&s);
	return true;
}

/*
 * One attempt against base_url. True when an HTTP answer came back
 * (resp filled); false with the reason in res->message otherwise.
 */
static bool
mkt_attempt(const struct mkt_client *c, const char *base_url, const struct mkt_call *call,
    struct http_response *resp, struct mkt_result *res, bool *too_large)
{
	char		 why[256];

	*too_large = false;
	if (!mkt_send(c, base_url, call, now_ms(), resp, why, sizeof(why))) {
		snprintf(res->message, sizeof(res->message), "%s: %s", base_url, why);
		return false;
	}
	if (resp->error != HTTP_OK) {
		*too_large = resp->error == HTTP_ERR_TOO_LARGE;
		snprintf(res->message, sizeof(res->message), "%s: %s", base_url,
		    resp->error_text);
		return false;
	}
	return true;
}

enum mkt_status
mkt_query_order(const struct mkt_client *c, const char *order_id,
    const char *order_line_id, struct order_info *info, struct mkt_result *res)
{
	struct http_response resp;
	struct mkt_call	 call;
	struct buf	 query = BUF_INIT;
	enum mkt_status	 st;
	bool		 answered, too_large;

	order_info_init(info);
	memset(res, 0, sizeof(*res));
	if (c->ak == NULL || c->ak[0] == '\0' || c->sk == NULL || c->sk[0] == '\0') {
		snprintf(res->message, sizeof(res->message),
		    "no [marketplace] ak and sk configured");
		return mkt_set(res, MKT_PERMANENT);
	}
	if (!mkt_order_call(order_id, order_line_id, &query, &call, res->message,
	    sizeof(res->message))) {
		log_warn("marketplace: order query %.64s: %s", order_id, res->message);
		buf_free(&query);
		return mkt_set(res, MKT_PERMANENT);
	}
	http_response_init(&resp);
	answered = mkt_attempt(c, c->url, &call, &resp, res, &too_large);
	if (!answered && !too_large && c->fallback_url != NULL && c->fallback_url[0] != '\0') {
		log_warn("marketplace: order query: %s; trying %s", res->message,
		    c->fallback_url);
		res->used_fallback = true;
		answered = mkt_attempt(c, c->fallback_url, &call, &resp, res, &too_large);
	}
	if (!answered) {
		res->status = too_large ? MKT_PERMANENT : MKT_RETRYABLE;
		log_warn("marketplace: order query %s: %s", order_id, res->message);
		http_response_free(&resp);
		buf_free(&query);
		return res->status;
	}

	{
		bool	fb = res->used_fallback;

		st = mkt_parse_order_answer(resp.status, resp.body.data != NULL ?
		    resp.body.data : "", resp.body.len, info, res);
		res->used_fallback = fb;
	}
	if (st == MKT_OK && strcmp(info->order_id, order_id) != 0) {
		snprintf(res->message, sizeof(res->message),
		    "answer is about order %.64s, not %.64s", info->order_id, order_id);
		order_info_free(info);
		st = mkt_set(res, MKT_PERMANENT);
	}
	if (st == MKT_OK)
		log_info("marketplace: order %s: %zu line(s)%s", order_id, info->nlines,
		    res->used_fallback ? " (fallback host)" : "");
	else
		log_warn("marketplace: order query %s: %s, HTTP %ld, code %s: %s",
		    order_id, mkt_status_name(st), res->http_status,
		    res->code[0] != '\0' ? res->code : "-", res->message);
	http_response_free(&resp);
	buf_free(&query);
	return st;
}
