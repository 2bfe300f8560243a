/*
 * app_info.h: the appInfo object of an answer (queryInstance, and V1's
 * newInstance), the same for the V1 and V2 dialects: frontEndUrl,
 * adminUrl, userName and password (encrypted with the dialect's key when
 * it asks for it), memo.
 */
#ifndef MKP_APP_INFO_H
#define MKP_APP_INFO_H

#include "common/json.h"
#include "domain/instance.h"

struct app_info_out {
	struct jw	*w;
	const char	*encrypt_key;	/* NULL: userName and password in plain text */
	int		 encrypt_type;	/* with encrypt_key: 1 AES-256, 2 AES-128 */
	bool		 ok;		/* false once an encryption failed */
};

/* Writes "appInfo":{...} for i at w's current position (an object member). */
void	 app_info_put(struct app_info_out *, const struct instance_info *i);

#endif
