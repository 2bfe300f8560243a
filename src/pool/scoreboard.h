/*
 * scoreboard.h: what every worker is doing, in shared memory.
 *
 * One MAP_SHARED|MAP_ANONYMOUS region, made by the master before the first
 * fork, so every process the master forks sees the same pages. It holds a
 * header with pool-wide counters and SCOREBOARD_SLOTS fixed slots, one per
 * live worker. There are twice as many slots as the largest max_children
 * so a reload can start a full new generation while the old one finishes
 * its requests.
 *
 * Memory model (who writes what):
 * - A slot has exactly one writer at a time. The master writes it while it
 *   is free (scoreboard_slot_claim before fork, scoreboard_slot_release
 *   after it has reaped the worker); the worker writes it from fork until
 *   it dies. The master decides which slots are free from its own table,
 *   never from the shared state.
 * - Each slot carries a sequence counter: the writer makes it odd, stores
 *   the fields, then makes it even again (a seqlock). A reader copies the
 *   fields between two reads of the counter and retries when it was odd or
 *   changed, so readers never block a writer and never see half an update.
 *   A worker killed in the middle of an update leaves the counter odd; the
 *   master's release repairs it.
 * - Header counters are updated with atomic adds (accepted, by workers)
 *   or by the master alone (max_children_reached, generation).
 * - A single field (the state) may be read on its own without the
 *   seqlock; the master does so to count idle workers.
 *
 * - The pool's figures the master alone knows (limits of the running
 *   config, listen queue, slow and terminated requests) are header fields
 *   the master stores one by one: a reader may see a reload's limits half
 *   applied for an instant, never a torn number.
 *
 * Readers: the master (pm decisions) and the status child (status_child.h),
 * which renders the board even while every worker is busy because reading
 * takes no lock and needs no worker.
 */
#ifndef MKP_POOL_SCOREBOARD_H
#define MKP_POOL_SCOREBOARD_H

#include <stdint.h>
#include <sys/types.h>

#include "common/conf.h"
#include "common/defs.h"

#define SCOREBOARD_SLOTS	(2 * CONFIG_MAX_CHILDREN)

enum slot_state {
	SLOT_FREE = 0,		/* no process */
	SLOT_STARTING,		/* forked, app init not done */
	SLOT_IDLE,		/* waiting for a connection */
	SLOT_BUSY,		/* serving a request */
	SLOT_EXITING,		/* leaving (recycled, stopped, idle timeout) */
	SLOT_STORE,		/* between requests, sending deferred work to the store */
};

/* A consistent copy of one slot. Times: wall = epoch ms, mono = monotonic ms. */
struct scoreboard_slot {
	enum slot_state	 state;
	pid_t		 pid;		/* 0 until the worker has written it */
	uint32_t	 generation;
	uint64_t	 requests;	/* completed requests */
	int64_t		 started_wall;	/* when the master forked it */
	int64_t		 req_start_mono; /* BUSY: when the current request began */
	int64_t		 idle_since_mono; /* IDLE: since when */
	int64_t		 last_req_ms;	/* duration of the previous request */
	/* The current (BUSY) or last request, as the app named it; "" = unknown. */
	char		 dialect[8];
	char		 activity[32];
	char		 ids[80];	/* "instance/order/line", as known */
	char		 remote[48];
};

/* What the app says about the request a worker is serving. */
#define SB_NOTE_WORDS	21	/* 8 + 32 + 80 + 48 bytes */


struct scoreboard_totals {
	uint64_t	 accepted;		/* connections accepted, all workers */
	uint64_t	 max_children_reached;	/* ticks with every worker busy at max */
	uint32_t	 generation;		/* the current generation */
	int64_t		 started_wall;		/* when the master started */
	int64_t		 reached_last_wall;	/* last max_children_reached, epoch ms */
	uint32_t	 reached_last_queue;	/* the listen queue then */
	uint32_t	 listen_queue;		/* connections waiting, last sample */
	uint32_t	 listen_queue_max;	/* highest sample since start */
	uint32_t	 listen_queue_len;	/* the backlog the kernel allows */
	uint32_t	 max_active;		/* most workers busy at once, sampled */
	uint64_t	 slow_requests;		/* ran past request_slowlog_timeout */
	uint64_t	 terminated;		/* ended by request_terminate_timeout */
	/* Limits of the running config. */
	uint32_t	 pm;			/* enum pm_mode */
	uint32_t	 max_children, start_servers, min_spare, max_spare;
	uint64_t	 max_requests;
};

struct scoreboard;

/* Maps the region (master, before forking); NULL with errno on failure. */
struct scoreboard *scoreboard_create(void) MUSTCHECK;
void	 scoreboard_destroy(struct scoreboard *);

/* Master, on a slot no process owns. */
void	 scoreboard_slot_claim(struct scoreboard *, int slot, uint32_t generation);
void	 scoreboard_slot_release(struct scoreboard *, int slot);
void	 scoreboard_set_generation(struct scoreboard *, uint32_t);
void	 scoreboard_count_reached(struct scoreboard *, uint32_t queue);
void	 scoreboard_set_limits(struct scoreboard *, const struct config *);
/* The master's sample, once a tick: listen queue and busy workers. */
void	 scoreboard_sample(struct scoreboard *, uint32_t queue, uint32_t len, uint32_t active);
void	 scoreboard_count_slow(struct scoreboard *);
void	 scoreboard_count_terminated(struct scoreboard *);

/*
 * Worker, on its own slot only. set_state stamps the times that go with
 * the state: BUSY starts a request, IDLE after BUSY ends it (requests + 1,
 * last_req_ms).
 */
void	 scoreboard_worker_start(struct scoreboard *, int slot, pid_t);
void	 scoreboard_worker_set_state(struct scoreboard *, int slot, enum slot_state);
void	 scoreboard_count_accept(struct scoreboard *);
/* Names the current request (NULL = keep); strings are cut to fit. */
void	 scoreboard_worker_note(struct scoreboard *, int slot, const char *dialect,
	    const char *activity, const char *ids, const char *remote);

/* Any process. read returns false when no consistent copy could be taken. */
bool	 scoreboard_read(const struct scoreboard *, int slot, struct scoreboard_slot *) MUSTCHECK;
enum slot_state scoreboard_state(const struct scoreboard *, int slot);
void	 scoreboard_totals(const struct scoreboard *, struct scoreboard_totals *);
const char *scoreboard_state_name(enum slot_state);

#endif
