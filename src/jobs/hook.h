/*
 * hook.h: runs the seller's provisioning hook, an executable named in the
 * config, with a JSON document on its standard input.
 *
 * The hook runs without a shell, in a process group of its own, with a
 * small fixed environment; after timeout_ms the whole group is killed.
 * What it writes to stdout and stderr is kept (bounded) for the caller:
 * stdout carries its answer (for "create", the appInfo JSON), stderr is
 * kept on the job so an administrator sees why a hook failed.
 */
#ifndef MKP_HOOK_H
#define MKP_HOOK_H

#include <stdint.h>
#include "common/buf.h"
#include "common/defs.h"

#define HOOK_OUT_MAX	(1024 * 1024)	/* stdout kept */
#define HOOK_ERR_MAX	(64 * 1024)	/* stderr kept */

struct hook_result {
	int		 exit_status;	/* 0..255 when it exited, -1 otherwise */
	int		 signal;	/* the signal that ended it, 0 if none */
	bool		 timed_out;	/* killed after the timeout */
	bool		 out_cut;	/* stdout was longer than HOOK_OUT_MAX */
	struct buf	 out;
	struct buf	 err;
};

void	 hook_result_init(struct hook_result *);
void	 hook_result_free(struct hook_result *);

/*
 * Runs path with the single argument event, input on stdin, and the
 * environment MKPD_EVENT=event plus PATH and LANG. True when the hook ran
 * and exited 0 in time; false otherwise, with res saying how (and
 * why_out a one-line reason: "exit status 3", "killed after 5000 ms",
 * "cannot execute: ..."). res is filled either way.
 */
bool	 hook_run(const char *path, const char *event, const char *input, size_t len,
	    int64_t timeout_ms, struct hook_result *res, char *why, size_t whylen) MUSTCHECK;

#endif
