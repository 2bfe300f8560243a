/*
 * worker.h: the domain as a process serving calls sees it (api/router.c):
 * one store connection with every statement the commands use prepared,
 * the record of each call (callback_log, struct audit) queued after its
 * answer, and what is still queued sent when the process is about to
 * wait idle or exits.
 */
#ifndef MKP_DOMAIN_WORKER_H
#define MKP_DOMAIN_WORKER_H

#include "domain/instance.h"
#include "store/audit.h"

/*
 * Fills ctx for cfg and the sealing key and opens its store connection;
 * spool_path (NULL: none) takes the records the store cannot. A store
 * that is down is not fatal: the log says so, calls answer 000005.
 */
void	 dom_open(struct dom_ctx *, const struct config *, const struct seal_key *,
	    const char *spool_path);
/* Queues the record of a call, sent ahead of the next round trip. */
void	 dom_record(struct dom_ctx *, const struct audit *);
/* Sends what is queued now. */
void	 dom_flush(struct dom_ctx *);
/* True while records wait (queued, or spooled for a store that is down). */
bool	 dom_pending(const struct dom_ctx *);
/* True when the records waiting make a batch worth sending now. */
bool	 dom_flush_due(const struct dom_ctx *);
void	 dom_close(struct dom_ctx *);

#endif
