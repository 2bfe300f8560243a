/*
 * helper.h: a helper child, supervised beside the pool (the jobs child,
 * the status child).
 *
 * A helper holds no scoreboard slot and the pm never counts it. The
 * master forks it when it is due (helper_due), and the helper answers for
 * the rest: after a clean exit (or one we asked for) the next starts at
 * once; after a crash it waits delay_ms, doubling up to delay_cap_ms while
 * the helper keeps dying within healthy_ms of its start, so a store that
 * is down costs a respawn a minute, not a loop. A reload replaces it
 * (helper_replace: it finishes what it holds, the next runs the new
 * config); a stop asks it to finish (helper_quit) and kills it when it
 * takes longer than its stop time (helper_escalate).
 */
#ifndef MKP_POOL_HELPER_H
#define MKP_POOL_HELPER_H

#include <stdint.h>
#include <sys/types.h>

#include "common/defs.h"

struct helper {
	/* set by the master */
	const char	*name;		/* "jobs child", for the log */
	int64_t		 delay_ms;	/* first respawn delay after a crash */
	int64_t		 delay_cap_ms;	/* longest */
	int64_t		 healthy_ms;	/* one that lived this long starts afresh */
	/* the helper's own */
	pid_t		 pid;		/* 0: none running */
	uint32_t	 gen;		/* the generation it was started with */
	int64_t		 spawned;	/* mono ms */
	int64_t		 quit_sent;	/* mono ms of SIGQUIT, 0 = not */
	bool		 killed;	/* we sent SIGKILL: its death is no crash */
	int64_t		 next;		/* mono ms: none is started before */
	int64_t		 delay;		/* the last respawn delay, 0 = none yet */
};

/* Whether one should be started now: none runs and its delay is over. */
bool	 helper_due(const struct helper *, int64_t now);
/* Records the fork's outcome: pid, or -1 (errno set; tried again later). */
void	 helper_started(struct helper *, pid_t pid, uint32_t gen, int64_t now);
/* If pid is the helper's, records its end and when the next starts; true then. */
bool	 helper_reaped(struct helper *, pid_t pid, int status, int64_t now);
/* SIGQUIT (once): finish what you hold and exit. */
void	 helper_quit(struct helper *, int64_t now);
/* SIGKILL. */
void	 helper_kill(struct helper *);
/* Kills it when it was asked to quit stop_ms ago and is still there. */
void	 helper_escalate(struct helper *, int64_t now, int64_t stop_ms);
/* A reload: this one finishes, the next starts now with the new config. */
void	 helper_replace(struct helper *, int64_t now);
/* Forwards sig (SIGUSR1: reopen the log) when one runs. */
void	 helper_signal(const struct helper *, int sig);
/* How long the master may sleep (at most t ms) before one is due. */
int64_t	 helper_wait(const struct helper *, int64_t now, int64_t t);

#endif
