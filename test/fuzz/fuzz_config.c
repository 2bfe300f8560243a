/*
 * fuzz_config: mkpd.conf as read by config_load (common/conf.c, inih
 * underneath): sections, options, every option type and check, the
 * cross-option checks; and the listen option's own parser.
 *
 * Input: a config file.
 *
 * Properties: a refused file says why; an accepted one dumps, and differs
 * from itself in no startup option.
 */
#include "common/conf.h"
#include "fuzz.h"

static FILE *null_out;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LL_ERROR);
	null_out = fopen("/dev/null", "w");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct listen_addr	 la;
	struct config		*cfg;
	FILE			*fp;
	char			*copy, err[512], why[256], changes[256];

	copy = fuzz_cstr(data, size);
	(void)config_parse_listen(copy, &la, why, sizeof(why));
	if (size == 0 || (fp = fmemopen(copy, size, "r")) == NULL) {
		free(copy);
		return 0;
	}
	err[0] = '\0';
	cfg = config_load_stream(fp, "fuzz.conf", err, sizeof(err));
	fclose(fp);
	if (cfg == NULL) {
		FUZZ_ASSERT(err[0] != '\0');
	} else {
		config_startup_changes(cfg, cfg, changes, sizeof(changes));
		FUZZ_ASSERT(changes[0] == '\0');
		if (null_out != NULL)
			config_dump(cfg, null_out);
		config_free(cfg);
	}
	free(copy);
	return 0;
}
