/*
 * sim_serve.h: `mkp-sim serve`, the marketplace's open API in a box: an
 * HTTP/1.1 server on loopback that checks the API Gateway signature of
 * every call as the gateway does (spec/outbound.md §2.10), answers the
 * order query (§3), fails on demand, and records every call it got so a
 * test can assert on what mkpd sent.
 *
 * Control API (loopback, unsigned, never recorded):
 *	GET    /-/sim/health	{"status":"ok","orders":N}
 *	GET    /-/sim/calls	{"calls":[CALL...],"dropped":N}
 *	DELETE /-/sim/calls	{"cleared":N}
 *	GET    /-/sim/fail	the failure state
 *	POST   /-/sim/fail	{"mode":M,"count":N,"delay_ms":D,"status":S}
 * The full contract is in the command's --help and test/README.md.
 */
#ifndef MKP_SIM_SERVE_H
#define MKP_SIM_SERVE_H

/* Runs the command; argv[0] is "serve". Returns an enum sim_exit value. */
int	 sim_serve_main(int argc, char **argv);
/* Writes the command's help to stdout. */
void	 sim_serve_usage(void);

#endif
