/*
 * sim_call.h: `mkp-sim call`, one V2 basic request signed and sent as the
 * marketplace sends it (spec/v2-basic.md §2.2), its answer checked.
 */
#ifndef MKP_SIM_CALL_H
#define MKP_SIM_CALL_H

/* Exit statuses of `mkp-sim call` (documented in its --help). */
enum sim_exit {
	SIM_OK = 0,		/* HTTP 200 with a JSON body holding resultCode */
	SIM_FAIL = 1,		/* transport error, other HTTP status, no resultCode */
	SIM_USAGE = 2,
	SIM_UNEXPECTED = 3,	/* --expect CODE and resultCode differs */
	SIM_BAD_BODY_SIGN = 4,	/* --require-body-sign and Body-Sign is not ok */
};

/* Runs the command; argv[0] is "call". Returns an enum sim_exit value. */
int	 sim_call_main(int argc, char **argv);
/* Writes the command's help to stdout. */
void	 sim_call_usage(void);

#endif
