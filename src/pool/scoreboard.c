/*
 * scoreboard.c: the shared-memory scoreboard (see scoreboard.h for the
 * memory model).
 *
 * Every shared field is accessed with the GCC __atomic builtins: relaxed
 * for the data, release/acquire on the sequence counter, so the seqlock is
 * correct under the C11 memory model and not only on x86. Slots are 64
 * bytes and 64-byte aligned, so two workers never share a cache line.
 *
 * Invariants: a slot's sequence counter is even whenever no writer is in
 * the middle of an update (or the writer died there, until release); the
 * header's magic is set once at creation and never changes.
 */
#include <config.h>		/* autoconf: _GNU_SOURCE first */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"
#include "pool/scoreboard.h"

#define SB_MAGIC	0x6d6b7064u	/* "mkpd" */
#define SB_READ_TRIES	1000

struct sb_slot {
	uint32_t	seq;		/* odd while being written */
	uint32_t	state;
	int32_t		pid;
	uint32_t	generation;
	uint64_t	requests;
	int64_t		started_wall;
	int64_t		req_start_mono;
	int64_t		idle_since_mono;
	int64_t		last_req_ms;
} __attribute__((aligned(64)));

struct scoreboard {
	uint32_t	magic;
	uint32_t	generation;
	uint64_t	accepted;
	uint64_t	max_children_reached;
	int64_t		started_wall;
	struct sb_slot	slots[SCOREBOARD_SLOTS] __attribute__((aligned(64)));
};

_Static_assert(sizeof(struct sb_slot) == 64, "one cache line per slot");

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

struct scoreboard *
scoreboard_create(void)
{
	struct scoreboard	*sb;

	sb = mmap(NULL, sizeof(*sb), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sb == MAP_FAILED)
		return NULL;
	/* Anonymous pages are zero: every slot FREE, every counter even. */
	sb->magic = SB_MAGIC;
	sb->started_wall = now_ms();
	return sb;
}

void
scoreboard_destroy(struct scoreboard *sb)
{
	if (sb != NULL)
		munmap(sb, sizeof(*sb));
}

/*
 * Starts an update of s by its one writer. A counter left odd by a writer
 * that died stays odd (the update continues it) and is made even by end.
 */
static uint32_t
sb_begin(struct sb_slot *s)
{
	uint32_t	seq = LOAD(&s->seq);

	if ((seq & 1) == 0) {
		seq++;
		STORE(&s->seq, seq);
	}
	/* The odd counter is visible before any field changes. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return seq;
}

static void
sb_end(struct sb_slot *s, uint32_t seq)
{
	/* Every field is visible before the even counter. */
	__atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELEASE);
}

void
scoreboard_slot_claim(struct scoreboard *sb, int slot, uint32_t generation)
{
	struct sb_slot	*s = &sb->slots[slot];
	uint32_t	 seq = sb_begin(s);

	STORE(&s->state, (uint32_t)SLOT_STARTING);
	STORE(&s->pid, 0);
	STORE(&s->generation, generation);
	STORE(&s->requests, 0);
	STORE(&s->started_wall, now_ms());
	STORE(&s->req_start_mono, 0);
	STORE(&s->idle_since_mono, 0);
	STORE(&s->last_req_ms, 0);
	sb_end(s, seq);
}

void
scoreboard_slot_release(struct scoreboard *sb, int slot)
{
	struct sb_slot	*s = &sb->slots[slot];
	uint32_t	 seq = sb_begin(s);

	STORE(&s->state, (uint32_t)SLOT_FREE);
	STORE(&s->pid, 0);
	STORE(&s->req_start_mono, 0);
	sb_end(s, seq);
}

void
scoreboard_set_generation(struct scoreboard *sb, uint32_t generation)
{
	STORE(&sb->generation, generation);
}

void
scoreboard_count_reached(struct scoreboard *sb)
{
	/* The master is the only writer; atomic for concurrent readers. */
	__atomic_fetch_add(&sb->max_children_reached, 1, __ATOMIC_RELAXED);
}

void
scoreboard_count_accept(struct scoreboard *sb)
{
	__atomic_fetch_add(&sb->accepted, 1, __ATOMIC_RELAXED);
}

void
scoreboard_worker_start(struct scoreboard *sb, int slot, pid_t pid)
{
	struct sb_slot	*s = &sb->slots[slot];
	uint32_t	 seq = sb_begin(s);

	STORE(&s->pid, (int32_t)pid);
	sb_end(s, seq);
}

void
scoreboard_worker_set_state(struct scoreboard *sb, int slot, enum slot_state state)
{
	struct sb_slot	*s = &sb->slots[slot];
	int64_t		 now = mono_ms();
	uint32_t	 seq = sb_begin(s);

	if (state == SLOT_BUSY) {
		STORE(&s->req_start_mono, now);
	} else if (LOAD(&s->state) == SLOT_BUSY) {
		/* A request ended (the writer reads its own fields). */
		STORE(&s->last_req_ms, now - LOAD(&s->req_start_mono));
		STORE(&s->requests, LOAD(&s->requests) + 1);
		STORE(&s->req_start_mono, 0);
	}
	if (state == SLOT_IDLE)
		STORE(&s->idle_since_mono, now);
	STORE(&s->state, (uint32_t)state);
	sb_end(s, seq);
}

bool
scoreboard_read(const struct scoreboard *sb, int slot, struct scoreboard_slot *out)
{
	const struct sb_slot	*s = &sb->slots[slot];
	uint32_t		 seq1, seq2;
	int			 tries;

	for (tries = 0; tries < SB_READ_TRIES; tries++) {
		seq1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		if (seq1 & 1)
			continue;
		out->state = (enum slot_state)LOAD(&s->state);
		out->pid = (pid_t)LOAD(&s->pid);
		out->generation = LOAD(&s->generation);
		out->requests = LOAD(&s->requests);
		out->started_wall = LOAD(&s->started_wall);
		out->req_start_mono = LOAD(&s->req_start_mono);
		out->idle_since_mono = LOAD(&s->idle_since_mono);
		out->last_req_ms = LOAD(&s->last_req_ms);
		/* The copies complete before the counter is read again. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		seq2 = LOAD(&s->seq);
		if (seq1 == seq2)
			return true;
	}
	return false;
}

enum slot_state
scoreboard_state(const struct scoreboard *sb, int slot)
{
	return (enum slot_state)LOAD(&sb->slots[slot].state);
}

void
scoreboard_totals(const struct scoreboard *sb, struct scoreboard_totals *out)
{
	out->accepted = LOAD(&sb->accepted);
	out->max_children_reached = LOAD(&sb->max_children_reached);
	out->generation = LOAD(&sb->generation);
	out->started_wall = sb->started_wall;
}

const char *
scoreboard_state_name(enum slot_state s)
{
	static const char *const names[] = {
		[SLOT_FREE] = "free",
		[SLOT_STARTING] = "starting",
		[SLOT_IDLE] = "idle",
		[SLOT_BUSY] = "busy",
		[SLOT_EXITING] = "exiting",
	};

	return (size_t)s < NELEM(names) ? names[s] : "?";
}
