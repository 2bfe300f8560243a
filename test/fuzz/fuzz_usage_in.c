/*
 * fuzz_usage_in: the body of POST /-/usage (api/usage_in.c) up to the
 * store: usage_events_read, then the per-event checks of usage_ingest
 * (usage_check_event: id, instanceId, value, time).
 *
 * Input: a request body.
 *
 * Properties: a refused body says why with a 4xx/5xx status; an accepted
 * one gives one event per item; a value usage_check_value accepts is one
 * fmt_decimal can put on the wire, without trailing zeros.
 */
#include "api/usage_in.h"
#include "common/util.h"
#include "domain/usage.h"
#include "fuzz.h"

FUZZ_QUIET_LOG()

static void
check_event(const struct usage_event *ev)
{
	char	 wire[32];
	size_t	 n;

	(void)usage_check_event(ev);
	if (ev->time != NULL)
		(void)usage_check_time(ev->time);
	if (ev->value == NULL || usage_check_value(ev->value) != NULL)
		return;
	FUZZ_ASSERT(fmt_decimal(ev->value, wire, sizeof(wire)));
	n = strlen(wire);
	FUZZ_ASSERT(n > 0 && wire[n - 1] != '.');
	if (strchr(wire, '.') != NULL)
		FUZZ_ASSERT(wire[n - 1] != '0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json		*tree = NULL;
	struct usage_event	*ev = NULL;
	const char		*msg = NULL;
	size_t			 i, n = 0;
	int			 status = 0;

	if (usage_events_read((const char *)data, size, &tree, &ev, &n, &status, &msg)) {
		for (i = 0; i < n; i++)
			check_event(&ev[i]);
	} else {
		FUZZ_ASSERT(status >= 400 && status <= 599 && msg != NULL);
		FUZZ_ASSERT(n == 0);
	}
	free(ev);
	json_free(tree);
	return 0;
}
