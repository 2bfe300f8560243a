/*
 * mkp-sim.c: the marketplace in a box, for tests, demos and sellers' CI.
 *
 * A dispatch table of sub-commands; each lives in its own sim_<name>.c.
 * `call` signs and sends one V2 basic request to a production URL and
 * checks the answer (the marketplace calling the seller); `serve` plays
 * the marketplace's open API on loopback (the seller calling the
 * marketplace); `kit-gen` prints department trees and user lists for the
 * Kit calls.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "cli/sim_call.h"
#include "cli/sim_kitgen.h"
#include "cli/sim_serve.h"
#include "common/defs.h"
#include "crypto/random.h"

struct sim_command {
	const char	*name;
	int		(*run)(int, char **);
	void		(*usage)(void);
	const char	*summary;
};

static const struct sim_command sim_commands[] = {
	{ "call", sim_call_main, sim_call_usage,
	  "sign and send one V2 basic request (newInstance, queryInstance, ...)" },
	{ "kit-gen", sim_kitgen_main, sim_kitgen_usage,
	  "print a realistic department tree or user list for the Kit calls" },
	{ "serve", sim_serve_main, sim_serve_usage,
	  "serve the marketplace's open API (order query) on loopback" },
};

static void
usage(FILE *f)
{
	size_t	i;

	fprintf(f, "usage: mkp-sim COMMAND [options] [arguments]\n"
	    "       mkp-sim COMMAND --help\n\ncommands:\n");
	for (i = 0; i < NELEM(sim_commands); i++)
		fprintf(f, "  %-7s %s\n", sim_commands[i].name,
		    sim_commands[i].summary);
}

int
main(int argc, char **argv)
{
	size_t	i;

	if (argc < 2) {
		usage(stderr);
		return SIM_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		for (i = 0; i < NELEM(sim_commands); i++) {
			printf("\n");
			sim_commands[i].usage();
		}
		return SIM_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("mkp-sim %s\n", PACKAGE_VERSION);
		return SIM_OK;
	}
	if (!crypto_init()) {
		fprintf(stderr, "mkp-sim: libsodium cannot be initialised\n");
		return SIM_FAIL;
	}
	for (i = 0; i < NELEM(sim_commands); i++)
		if (strcmp(argv[1], sim_commands[i].name) == 0)
			return sim_commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "mkp-sim: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return SIM_USAGE;
}
