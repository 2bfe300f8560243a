/*
 * response.c: writes FastCGI answers with their Body-Sign header.
 */
#include <stdio.h>
#include <string.h>

#include "api/response.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/seal.h"
#include "crypto/sign.h"

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

void
respond(struct request *r, int status, const char *ctype, const char *body, size_t len,
    const char *sign_key)
{
	buf_reset(&r->answer);
	buf_append(&r->answer, body, len);
	r->status = status;
	r->ctype = ctype;
	r->sign_key = sign_key;
	r->sent = true;
}

void
response_flush(struct request *r)
{
	struct buf	 head = BUF_INIT;

	if (!r->sent)
		return;
	buf_printf(&head, "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
	    r->status, status_text(r->status), r->ctype, r->answer.len);
	if (r->sign_key != NULL && *r->sign_key != '\0') {
		buf_puts(&head, "Body-Sign: ");
		sign_body(r->sign_key, buf_cstr(&r->answer), r->answer.len, &head);
		buf_puts(&head, "\r\n");
	}
	buf_puts(&head, "\r\n");
	if (FCGX_PutStr(head.data, (int)head.len, r->fcgi->out) < 0 ||
	    (r->answer.len > 0 &&
	    FCGX_PutStr(r->answer.data, (int)r->answer.len, r->fcgi->out) < 0))
		log_warn("answer to %s could not be written (client gone)",
		    r->remote_addr ? r->remote_addr : "?");
	buf_free(&head);
}

void
reply_begin(struct reply *rp, struct request *r, const char *code, const char *msg)
{
	buf_init(&rp->body);
	jw_init(&rp->w, &rp->body);
	jw_obj_begin(&rp->w);
	jw_kv_str(&rp->w, "resultCode", code);
	jw_kv_str(&rp->w, "resultMsg", msg);
	if (!str_copy(r->result_code, sizeof(r->result_code), code))
		r->result_code[0] = '\0';
	if (strcmp(code, RC_SUCCESS) != 0 && r->audit_reason[0] == '\0')
		(void)!str_copy(r->audit_reason, sizeof(r->audit_reason), msg);
}

void
reply_send(struct reply *rp, struct request *r, const char *sign_key)
{
	jw_obj_end(&rp->w);
	respond(r, 200, "application/json;charset=UTF-8", rp->body.data, rp->body.len,
	    sign_key);
	wipe_buf(&rp->body);	/* it may have held a password */
	buf_free(&rp->body);
}

void
reply_code(struct request *r, const char *sign_key, const char *code, const char *msg)
{
	struct reply	rp;

	reply_begin(&rp, r, code, msg);
	reply_send(&rp, r, sign_key);
}
