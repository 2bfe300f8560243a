/*
 * sim_kitgen.h: `mkp-sim kit-gen`, realistic department trees and user
 * lists for the Kit sync calls (tests, demos, benchmarks).
 */
#ifndef MKP_SIM_KITGEN_H
#define MKP_SIM_KITGEN_H

/* Runs the command; argv[0] is "kit-gen". Returns an enum sim_exit value. */
int	 sim_kitgen_main(int argc, char **argv);
/* Writes the command's help to stdout. */
void	 sim_kitgen_usage(void);

#endif
