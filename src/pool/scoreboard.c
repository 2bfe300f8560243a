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
	/* dialect[8] activity[32] ids[80] remote[48], as words for atomics */
	uint64_t	note[SB_NOTE_WORDS];
} __attribute__((aligned(64)));

struct scoreboard {
	uint32_t	magic;
	uint32_t	generation;
	uint64_t	accepted;
	uint64_t	max_children_reached;
	int64_t		started_wall;
	int64_t		reached_last_wall;
	uint32_t	reached_last_queue;
	uint32_t	listen_queue, listen_queue_max, listen_queue_len, max_active;
	uint64_t	slow_requests, terminated;
	uint32_t	pm, max_children, start_servers, min_spare, max_spare;
	uint64_t	max_requests;
	struct sb_slot	slots[SCOREBOARD_SLOTS] __attribute__((aligned(64)));
};

_Static_assert(sizeof(struct sb_slot) % 64 == 0, "slots on cache lines of their own");

/* Offsets (bytes) of the note's strings in sb_slot.note. */
#define NOTE_DIALECT	0
#define NOTE_ACTIVITY	8
#define NOTE_IDS	40
#define NOTE_REMOTE	120
#define NOTE_END	168
_Static_assert(NOTE_END == SB_NOTE_WORDS * 8, "note layout");

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
scoreboard_count_reached(struct scoreboard *sb, uint32_t queue)
{
	/* The master is the only writer; atomic for concurrent readers. */
	__atomic_fetch_add(&sb->max_children_reached, 1, __ATOMIC_RELAXED);
	STORE(&sb->reached_last_wall, now_ms());
	STORE(&sb->reached_last_queue, queue);
}

void
scoreboard_set_limits(struct scoreboard *sb, const struct config *cfg)
{
	STORE(&sb->pm, (uint32_t)cfg->pm);
	STORE(&sb->max_children, (uint32_t)cfg->max_children);
	STORE(&sb->start_servers, (uint32_t)cfg->start_servers);
	STORE(&sb->min_spare, (uint32_t)cfg->min_spare_servers);
	STORE(&sb->max_spare, (uint32_t)cfg->max_spare_servers);
	STORE(&sb->max_requests, (uint64_t)cfg->max_requests);
}

void
scoreboard_sample(struct scoreboard *sb, uint32_t queue, uint32_t len, uint32_t active)
{
	STORE(&sb->listen_queue, queue);
	STORE(&sb->listen_queue_len, len);
	if (queue > LOAD(&sb->listen_queue_max))
		STORE(&sb->listen_queue_max, queue);
	if (active > LOAD(&sb->max_active))
		STORE(&sb->max_active, active);
}

void
scoreboard_count_slow(struct scoreboard *sb)
{
	__atomic_fetch_add(&sb->slow_requests, 1, __ATOMIC_RELAXED);
}

void
scoreboard_count_terminated(struct scoreboard *sb)
{
	__atomic_fetch_add(&sb->terminated, 1, __ATOMIC_RELAXED);
}

/* Copies s (cut, NUL-padded) into the note at off, len bytes, word by word. */
static void
note_put(struct sb_slot *s, size_t off, size_t len, const char *str)
{
	char		 tmp[NOTE_END];
	uint64_t	 w;
	size_t		 n = utf8_cut(str, len - 1), i;	/* whole characters */

	memset(tmp, 0, len);
	memcpy(tmp, str, n);
	for (i = 0; i < len; i += 8) {
		memcpy(&w, tmp + i, 8);
		STORE(&s->note[(off + i) / 8], w);
	}
}

static void
note_get(const struct sb_slot *s, size_t off, size_t len, char *out)
{
	uint64_t	 w;
	size_t		 i;

	for (i = 0; i < len; i += 8) {
		w = LOAD(&s->note[(off + i) / 8]);
		memcpy(out + i, &w, 8);
	}
	out[len - 1] = '\0';
}

void
scoreboard_worker_note(struct scoreboard *sb, int slot, const char *dialect,
    const char *activity, const char *ids, const char *remote)
{
	struct sb_slot	*s = &sb->slots[slot];
	uint32_t	 seq = sb_begin(s);

	if (dialect != NULL)
		note_put(s, NOTE_DIALECT, NOTE_ACTIVITY - NOTE_DIALECT, dialect);
	if (activity != NULL)
		note_put(s, NOTE_ACTIVITY, NOTE_IDS - NOTE_ACTIVITY, activity);
	if (ids != NULL)
		note_put(s, NOTE_IDS, NOTE_REMOTE - NOTE_IDS, ids);
	if (remote != NULL)
		note_put(s, NOTE_REMOTE, NOTE_END - NOTE_REMOTE, remote);
	sb_end(s, seq);
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
		/* A new request: forget what the last one was. */
		for (size_t i = 0; i < SB_NOTE_WORDS; i++)
			STORE(&s->note[i], (uint64_t)0);
	} else if (LOAD(&s->state) == SLOT_BUSY) {
		/* A request ended (the writer reads its own fields). */
		STORE(&s->last_req_ms, now - LOAD(&s->req_start_mono));
		STORE(&s->requests, LOAD(&s->requests) + 1);
		STORE(&s->req_start_mono, 0);
	}
	/* Idle since the request ended, not since its deferred work was sent. */
	if (state == SLOT_IDLE && LOAD(&s->state) != SLOT_STORE)
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
		note_get(s, NOTE_DIALECT, sizeof(out->dialect), out->dialect);
		note_get(s, NOTE_ACTIVITY, sizeof(out->activity), out->activity);
		note_get(s, NOTE_IDS, sizeof(out->ids), out->ids);
		note_get(s, NOTE_REMOTE, sizeof(out->remote), out->remote);
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
	out->reached_last_wall = LOAD(&sb->reached_last_wall);
	out->reached_last_queue = LOAD(&sb->reached_last_queue);
	out->listen_queue = LOAD(&sb->listen_queue);
	out->listen_queue_max = LOAD(&sb->listen_queue_max);
	out->listen_queue_len = LOAD(&sb->listen_queue_len);
	out->max_active = LOAD(&sb->max_active);
	out->slow_requests = LOAD(&sb->slow_requests);
	out->terminated = LOAD(&sb->terminated);
	out->pm = LOAD(&sb->pm);
	out->max_children = LOAD(&sb->max_children);
	out->start_servers = LOAD(&sb->start_servers);
	out->min_spare = LOAD(&sb->min_spare);
	out->max_spare = LOAD(&sb->max_spare);
	out->max_requests = LOAD(&sb->max_requests);
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
		[SLOT_STORE] = "store",
	};

	return (size_t)s < NELEM(names) ? names[s] : "?";
}
