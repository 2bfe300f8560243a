/*
 * fuzz_usage_answer: the marketplace's answer to a usage push
 * (net/usage_wire.c usage_wire_answer), and the usage_value writer
 * (common/util.c fmt_decimal).
 *
 * Input: the HTTP status as digits on the first line, the body after it.
 *
 * Properties: delivered only on 200 with MKT.0000; a failure always
 * carries a message; code and message are terminated within their size.
 */
#include "common/util.h"
#include "net/marketplace.h"
#include "net/usage_wire.h"
#include "fuzz.h"

FUZZ_QUIET_LOG()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum usage_verdict	 v;
	char			*line, code[33], msg[64], wire[32];
	int64_t			 status;

	line = fuzz_line(&data, &size);
	if (!parse_i64(line, 0, 999, &status))
		status = 200;
	if (fmt_decimal(line, wire, sizeof(wire)))
		FUZZ_ASSERT(wire[0] != '\0' && strlen(wire) <= strlen(line));
	free(line);

	memset(code, 'x', sizeof(code));
	memset(msg, 'x', sizeof(msg));
	v = usage_wire_answer((long)status, (const char *)data, size, code, sizeof(code), msg,
	    sizeof(msg));
	FUZZ_ASSERT(memchr(code, '\0', sizeof(code)) != NULL);
	FUZZ_ASSERT(memchr(msg, '\0', sizeof(msg)) != NULL);
	if (v == UV_DELIVERED)
		FUZZ_ASSERT(status == 200 && strcmp(code, MKT_SUCCESS) == 0);
	if (v == UV_FAILED)	/* only a refusal the marketplace named fails a batch */
		FUZZ_ASSERT(msg[0] != '\0' && code[0] != '\0');
	return 0;
}
