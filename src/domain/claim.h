/*
 * claim.h: the replay claim of a call (spec/README.md reading 2), part of
 * every command that takes a struct dom_call with a replay key.
 *
 * The claim of "space:key" (mkp_nonce_claim, store/nonce.c) rides with
 * the command's first statement, in its transaction and round trip
 * (db.h's prelude): a call that applies something has claimed its key,
 * exactly once, in the transaction that applied it, and a replay from any
 * host undoes the call whole and is answered DOM_REPLAY.
 */
#ifndef MKP_DOMAIN_CLAIM_H
#define MKP_DOMAIN_CLAIM_H

#include "domain/dom.h"

/* Sends the claim with the next statement, unless it has been sent. */
void	 dom_claim(const struct dom_ctx *, struct dom_call *);

/*
 * The statement that carried the claim failed and its transaction took
 * the claim along: the next statement claims again.
 */
void	 dom_claim_undone(struct dom_call *);

/*
 * After a failed statement: true when the claim is what failed, *st then
 * being DOM_REPLAY (another call claimed the key first), DOM_INVALID with
 * claim_refused set (the store refused the key itself) or DOM_STORE, and
 * the reason said.
 */
bool	 dom_claim_failed(const struct dom_ctx *, struct dom_call *, enum dom_status *st);

/*
 * Ends the command's transaction when it changed nothing: committed when
 * it carries the claim (a no-op answered is claimed too, so its replay is
 * refused like any other), rolled back otherwise.
 */
void	 dom_claim_settle(const struct dom_ctx *, struct dom_call *);

/* The call is answered: a claim not sent is forgotten. */
void	 dom_call_end(const struct dom_ctx *, struct dom_call *);

#endif
