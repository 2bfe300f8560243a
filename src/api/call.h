/*
 * call.h: one pipeline for every signed call of the marketplace. A dialect
 * (V2 basic, V1 basic, Kit V2, Kit V1) is data: its key slot, how it
 * authenticates, where its replay key comes from, its activities and
 * their field tables. call_serve runs every call through the same steps,
 * in this order, each answering with its result code when the call stops
 * there:
 *
 *	size		body over max_body ............................ 000002
 *	authenticate	time window, replay key present ............... 000002
 *			signature (current key, then the previous one) 000001
 *	parse		the body (V1: the parameters) as a JSON object  000002
 *	redact		the audit copy of the body, secrets masked
 *	activity	missing or unknown ............................ 000002
 *	testFlag	not 0 or 1 .................................... 000002
 *	fields		the activity's field table, then the dialect's
 *			own checks (Kit: timeStamp, flag) ............. 000002
 *	run		the domain command, which claims the replay key
 *			with its first statement (a replay: 000001)
 *	answer		the command's outcome as a result code, signed
 *			with the key that verified the call.
 *
 * The dialects are api/v2_basic.c, api/v1_basic.c and api/kit.c; each
 * holds its descriptor, its field tables and its run functions, which
 * turn the checked fields into a domain command and its outcome into an
 * answer (call_answer).
 */
#ifndef MKP_API_CALL_H
#define MKP_API_CALL_H

#include "api/adapter.h"
#include "api/response.h"
#include "api/v1_query.h"
#include "api/verify.h"
#include "common/fields.h"
#include "domain/kit.h"

struct call;

struct activity {
	const char		*name;
	const struct field_rule	*rules;
	size_t			 nrules;
	int			 max_flag;	/* Kit: the flag's highest value; -1: none */
	void			(*run)(struct call *);
};

/* Where a V2-style dialect carries its signature, timestamp and nonce. */
struct v2_params {
	bool			 headers;	/* HTTP headers, else the query string */
	const char		*names[3];	/* signature, timestamp, nonce as sent */
	const char		*fcgi[3];	/* headers: their FastCGI parameters */
	enum verify_v2_kind	 kind;
};

struct dialect {
	const char		*name;		/* the audit row's dialect */
	const char		*log;		/* log lines say "LOG call ID from ..." */
	enum key_slot		 slot;		/* [keys]: signs and verifies */
	bool			 post_only;	/* a method other than POST: 000002 */
	/*
	 * Checks the time window and the signature (call_window,
	 * call_verify), sets c->body when it parsed it and the replay key
	 * (call_replay). False when it answered.
	 */
	bool			(*authenticate)(struct call *);
	const struct v2_params	*v2;		/* for call_authenticate_v2 */
	/* Sets c->body when authenticate did not; false when it answered. */
	bool			(*parse)(struct call *);
	/* The activity's name when the body's "activity" does not hold it. */
	const char		*(*activity_name)(struct call *);
	const char		*replay;	/* the replay key's space; NULL: none */
	const char		*replay_param;	/* what carries it, for answers */
	const char		*test_flag_msg;
	/* Checks after the field table; false when it answered. NULL: none. */
	bool			(*prepare)(struct call *);
	bool			 always_encrypt; /* appInfo encrypted whatever [app] says */
	bool			 usage_info;	/* queryInstance lists usageInfo */
	const struct activity	*acts;
	size_t			 nacts;
};

struct call {
	struct app		*app;
	const struct dialect	*d;
	const struct activity	*act;
	struct request		*r;
	const char		*key;		/* the key that verified the call */
	struct json		*body;		/* V1 basic: its parameters as an object */
	struct dom_call		 dc;
	struct field_values	 f;
	struct buf		 replay;	/* the replay key (dc.replay_key) */
	char			 err[200];
	/* What one dialect keeps between its steps. */
	bool			 parsed;	/* V2: the body was parsed */
	const char		*sig, *ts, *nonce;	/* V2: while authenticating */
	char			 perr[128];	/* V2: why the body is not JSON */
	struct v1_params	 ps;		/* V1 basic: the query */
	char			 line[80];	/* V1 basic: the order line key */
	struct kit_scope	 scope;		/* Kit */
	char			 stamp[18];	/* Kit: timeStamp as the store compares it */
};

extern const struct dialect dialect_v2_basic, dialect_v1_basic, dialect_kit_v2,
	    dialect_kit_v1;

/*
 * Serves r in dialect d. name is the activity when the path names it
 * (Kit): an unknown one is answered 404 before anything else.
 */
void	 call_serve(struct app *, struct request *, const struct dialect *d,
	    const char *name);

/* An answer of code with msg, signed with the call's key. */
void	 call_reply(struct call *, const char *code, const char *msg);
/* The domain outcome st as its result code, with the command's reason. */
void	 call_answer(struct call *, enum dom_status st);

/*
 * True when the time ms is within [mkpd] time_window of the request's
 * clock; otherwise 000002 naming param has been answered.
 */
bool	 call_window(struct call *, const char *param, int64_t ms);
/*
 * verify(c, key) with the slot's key, then with its previous key while a
 * rotation's overlap lasts (c->key becomes the one that verified). False
 * when neither did: 000001 "what: does not match" has been answered.
 */
bool	 call_verify(struct call *, const char *what,
	    bool (*verify)(struct call *, const char *key));
/* Sets the replay key the domain command claims (the dialect's space). */
void	 call_replay(struct call *, const char *value);

/* The V2-style authentication (V2 basic, Kit V2), as d->v2 describes it. */
bool	 call_authenticate_v2(struct call *);

/*
 * queryInstance (V1 and V2, reading 5): id_list (comma-separated) answered
 * with the ready instances' appInfo; none ready 000004, none known 000003.
 */
void	 call_answer_query(struct call *, const char *id_list);
/* V1's newInstance answer: instanceId and the created instance's appInfo. */
void	 call_answer_created(struct call *, const char *id);

#endif
