/*
 * response.h: answers. Every answer that carries a result code is HTTP 200,
 * application/json;charset=UTF-8, and signed with Body-Sign over the exact
 * bytes sent (spec/README.md reading 3).
 */
#ifndef MKP_RESPONSE_H
#define MKP_RESPONSE_H

#include "api/request.h"
#include "common/json.h"

#define RC_SUCCESS	"000000"
#define RC_AUTH		"000001"
#define RC_PARAM	"000002"
#define RC_NO_INSTANCE	"000003"
#define RC_PENDING	"000004"
#define RC_INTERNAL	"000005"

/*
 * An answer under construction: {"resultCode":..,"resultMsg":.. then the
 * caller's members through w, closed by reply_send.
 */
struct reply {
	struct buf	 body;
	struct jw	 w;
};

/* Starts {"resultCode":code,"resultMsg":msg. Records code for the audit log. */
void	 reply_begin(struct reply *, struct request *, const char *code, const char *msg);
/* Closes the object, sends it signed with sign_key (NULL: unsigned), frees it. */
void	 reply_send(struct reply *, struct request *, const char *sign_key);

/* A whole answer with just a code and a message; reason goes to the audit log. */
void	 reply_code(struct request *, const char *sign_key, const char *code,
	    const char *msg);

/*
 * Sets the answer (status, content type, body, signed with sign_key unless
 * NULL), replacing any set before. content_type and sign_key must outlive
 * the request. Nothing is written until response_flush.
 */
void	 respond(struct request *, int status, const char *content_type,
	    const char *body, size_t len, const char *sign_key);
/* Writes the answer set last, with its Body-Sign, to the web server. */
void	 response_flush(struct request *);

#endif
