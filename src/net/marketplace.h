/*
 * marketplace.h: mkpd's client of the marketplace open API (outbound.md):
 * every call it makes there is signed and sent by one builder,
 * mkt_sign_call/mkt_send. The order query (查询订单, §3), which V2
 * newInstance and upgradeInstance need since they carry only ids
 * (v2-basic.md §3.9), is built and read here; the usage push (§1) is
 * built by net/usage_wire.c and sent through mkt_send too.
 *
 * Split so that all but the network is a pure function: mkt_order_call
 * and mkt_sign_call build the signed request, mkt_parse_order_answer
 * turns an answer's status and bytes into a struct order_info and a
 * verdict, and mkt_query_order does both around http_request, with the
 * fallback host.
 */
#ifndef MKP_MARKETPLACE_H
#define MKP_MARKETPLACE_H

#include <stdint.h>

#include "common/buf.h"
#include "common/defs.h"
#include "crypto/apig.h"
#include "net/http.h"

struct config;

#define MKT_ORDER_QUERY_PATH	"/api/mkp-openapi-public/global/v1/order/query"
#define MKT_SUCCESS		"MKT.0000"
#define MKT_ID_MAX		64	/* orderId, orderLineId (§3) */

/* What a call came to, for the caller to act on. */
enum mkt_status {
	MKT_OK,			/* an answer with the data asked for */
	MKT_NOT_FOUND,		/* MKT.0000 without orderInfo: no such order */
	MKT_BUSINESS,		/* a marketplace result code other than
				 * MKT.0000 (code/message set): do not retry */
	MKT_RETRYABLE,		/* transport failure, timeout, HTTP 5xx, 429,
				 * MKT.0999, MKT.0250: retry with back-off */
	MKT_PERMANENT,		/* the gateway refused us (signature, AK, 4xx),
				 * MKT.015x, or an answer we cannot read:
				 * retrying unchanged will not help */
};

const char *mkt_status_name(enum mkt_status);

/*
 * Whether an HTTP status says "try again later" whatever the body: 429
 * and 5xx. The order query and the usage push both retry on it.
 */
bool	 mkt_http_retryable(long status);

/* The outcome, beyond the status. Bounded; messages are cut to fit. */
struct mkt_result {
	enum mkt_status	 status;
	long		 http_status;	/* 0: no HTTP answer */
	char		 code[33];	/* resultCode or the gateway's error_code */
	char		 message[512];	/* resultMsg / error_msg, or our reason */
	bool		 used_fallback;	/* the answer came from fallback_url */
};

/* orderType (§3 OrderInfo). */
enum order_type {
	ORDER_TYPE_OTHER,	/* a value this build does not know */
	ORDER_NEW,
	ORDER_TRIAL,
	ORDER_TRIAL_TO_FORMAL,
	ORDER_UNSUBSCRIBE,
	ORDER_RENEW,
	ORDER_CHANGE,
};

/* chargingMode (§3 OrderLine). */
enum charging_mode {
	CHARGING_OTHER,		/* a value this build does not know */
	CHARGING_ON_DEMAND,
	CHARGING_ONE_TIME,
	CHARGING_PERIOD,
	CHARGING_ON_DEMAND_PKG,
};

/* A {name, value} extendParams entry. */
struct order_param {
	char	*name;
	char	*value;		/* "" when the marketplace sent null */
};

/* One productInfo entry of an order line. */
struct order_product {
	char	*product_id;		/* NULL when absent */
	char	*sku_code;
	char	*linear_value;		/* the number's text, e.g. "50" */
	char	*product_name;
};

struct order_line {
	char			*order_line_id;		/* never NULL */
	enum charging_mode	 charging_mode;
	char			*charging_mode_text;	/* as received, never NULL */
	char			*expire_time;		/* yyyyMMddHHmmss or NULL */
	int64_t			 expire_ms;		/* valid when expire_time */
	char			*period_type;		/* e.g. "year", or NULL */
	int64_t			 period_number;		/* -1 when absent */
	char			*currency;		/* amount text, or NULL */
	char			*currency_after_discount;
	struct order_product	*products;
	size_t			 nproducts;
	struct order_param	*params;
	size_t			 nparams;
};

/* buyerInfo. Personal data: never log these fields. */
struct order_buyer {
	bool	 present;
	char	*customer_id;
	char	*customer_name;
	char	*customer_real_name;
	int64_t	 customer_type;		/* -1 when absent */
	char	*user_id;
	char	*user_name;
	char	*mobile_phone;
	char	*email;
};

/*
 * An order as the query returned it. Every string is malloc'd, owned by
 * the struct and freed by order_info_free; optional ones are NULL when
 * absent (or null). Members the spec does not list are not kept.
 */
struct order_info {
	char			*order_id;		/* never NULL */
	enum order_type		 order_type;
	char			*order_type_text;	/* as received, never NULL */
	char			*create_time;		/* yyyyMMddHHmmss */
	int64_t			 create_ms;
	struct order_line	*lines;			/* at least one */
	size_t			 nlines;
	struct order_buyer	 buyer;
	struct order_param	*params;
	size_t			 nparams;
};

void	 order_info_init(struct order_info *);
/* Frees everything info owns and re-initialises it. */
void	 order_info_free(struct order_info *);
/* The line with that orderLineId, or NULL. */
const struct order_line *order_info_line(const struct order_info *, const char *line_id);

/*
 * Classifies an answer: HTTP status and body bytes (need not be
 * NUL-terminated). Pure: no I/O, no clock, no globals. On MKT_OK, info
 * (initialised by the caller) holds the order; otherwise it is left
 * empty. res is always filled (status, http_status, code, message).
 */
enum mkt_status mkt_parse_order_answer(long http_status, const char *body, size_t len,
	    struct order_info *info, struct mkt_result *res);

/* What a call needs; pointers borrowed (e.g. from struct config). */
struct mkt_client {
	const char	*url;		/* base URL, e.g. https://mkt.myhuaweicloud.com */
	const char	*fallback_url;	/* NULL or "": none */
	const char	*ak, *sk;
	const char	*ca_file;	/* NULL or "": the system's CAs */
	int64_t		 connect_timeout_ms;
	int64_t		 timeout_ms;
};

/* The client [marketplace] configures; pointers into cfg. */
void	 mkt_client_config(const struct config *cfg, struct mkt_client *out);

#define MKT_EXTRA_HEADERS	4	/* unsigned headers a call may add */

/*
 * One call to the open API, before signing: what goes below the base URL.
 * Every pointer is borrowed until the call is signed (mkt_sign_call) or
 * sent (mkt_send).
 */
struct mkt_call {
	const char		*method;	/* "GET", "POST" */
	const char		*path;		/* below the base URL's path, e.g.
						 * MKT_ORDER_QUERY_PATH */
	const char		*query;		/* what follows '?', escaped with
						 * apig_escape; NULL or "": none */
	const void		*body;		/* NULL with body_len 0: none */
	size_t			 body_len;
	const struct http_header *extra;	/* sent after Authorization, not
						 * covered by the APIG signature */
	size_t			 nextra;	/* at most MKT_EXTRA_HEADERS */
};

/*
 * The order query as a call: GET MKT_ORDER_QUERY_PATH
 * ?orderId=..[&orderLineId=..], the query written to query (which out
 * points into). order_line_id NULL or "": the whole order. False (why
 * says why) for an id that is empty or longer than MKT_ID_MAX.
 */
bool	 mkt_order_call(const char *order_id, const char *order_line_id, struct buf *query,
	    struct mkt_call *out, char *why, size_t whylen) MUSTCHECK;

/*
 * A signed request, built without I/O. Owns its strings (mkt_signed_free).
 * The http_request it holds points into it, and into the call's body and
 * extra headers, and is valid until then.
 */
struct mkt_signed {
	struct buf		 url;
	struct buf		 authorization;
	char			 host[262];
	char			 date[APIG_DATE_LEN + 1];
	struct http_header	 headers[4 + MKT_EXTRA_HEADERS];	/* Content-Type, Host,
						 * X-Sdk-Date, Authorization, extras */
	struct http_request	 req;
};

/*
 * Builds call against base_url, signed (SDK-HMAC-SHA256 over Content-Type,
 * Host and X-Sdk-Date, the path, query and body) with the client's AK/SK
 * at now_ms, with the client's timeouts and CAs. False (why says why) for
 * a bad base URL, too many extra headers, or a signing failure.
 */
bool	 mkt_sign_call(const struct mkt_client *, const char *base_url,
	    const struct mkt_call *, int64_t now_ms, struct mkt_signed *out, char *why,
	    size_t whylen) MUSTCHECK;
void	 mkt_signed_free(struct mkt_signed *);

/*
 * Signs call at now_ms (mkt_sign_call) and sends it to base_url once;
 * blocks for up to the client's timeouts. False, with nothing sent, when
 * the request could not be built (why says why). True once sent: resp
 * (initialised by the caller) then says how it went, resp->error HTTP_OK
 * for an HTTP answer whatever its status (otherwise why holds
 * resp->error_text too).
 */
bool	 mkt_send(const struct mkt_client *, const char *base_url, const struct mkt_call *,
	    int64_t now_ms, struct http_response *resp, char *why, size_t whylen) MUSTCHECK;

/*
 * Queries an order: the client's url first; its fallback_url only when
 * url gave no HTTP answer at all. Each attempt is signed afresh. Blocks
 * for up to the timeouts of both attempts. info is initialised here and
 * holds the order on MKT_OK (order_info_free it in every case); res says
 * what happened. An answer naming another orderId is MKT_PERMANENT.
 */
enum mkt_status mkt_query_order(const struct mkt_client *, const char *order_id,
	    const char *order_line_id, struct order_info *info, struct mkt_result *res);

#endif
