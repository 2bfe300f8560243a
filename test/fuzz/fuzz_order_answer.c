/*
 * fuzz_order_answer: the marketplace's answer to the order query
 * (net/marketplace.c mkt_parse_order_answer): the gateway's errors, the
 * result codes, and the OrderInfo with its lines, products, buyer and
 * extendParams.
 *
 * Input: the HTTP status as digits on the first line, the body after it.
 *
 * Properties: MKT_OK, and only it, yields an order with an id and at
 * least one line, each with an id, all found by order_info_line; other
 * verdicts leave the order empty.
 */
#include "common/util.h"
#include "net/marketplace.h"
#include "fuzz.h"

FUZZ_QUIET_LOG()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct order_info	 info;
	struct mkt_result	 res;
	enum mkt_status		 st;
	char			*line;
	int64_t			 status;
	size_t			 i;

	line = fuzz_line(&data, &size);
	if (!parse_i64(line, 0, 999, &status))
		status = 200;
	free(line);

	order_info_init(&info);
	memset(&res, 0x5a, sizeof(res));
	st = mkt_parse_order_answer((long)status, (const char *)data, size, &info, &res);
	FUZZ_ASSERT(res.status == st && res.http_status == status);
	FUZZ_ASSERT(memchr(res.code, '\0', sizeof(res.code)) != NULL);
	FUZZ_ASSERT(memchr(res.message, '\0', sizeof(res.message)) != NULL);
	FUZZ_ASSERT(mkt_status_name(st) != NULL);
	if (st == MKT_OK) {
		FUZZ_ASSERT(info.order_id != NULL && info.order_type_text != NULL);
		FUZZ_ASSERT(info.nlines >= 1);
		for (i = 0; i < info.nlines; i++) {
			FUZZ_ASSERT(info.lines[i].order_line_id != NULL);
			FUZZ_ASSERT(info.lines[i].charging_mode_text != NULL);
			FUZZ_ASSERT(order_info_line(&info, info.lines[i].order_line_id) != NULL);
		}
	} else {
		FUZZ_ASSERT(info.order_id == NULL && info.nlines == 0);
	}
	order_info_free(&info);
	return 0;
}
