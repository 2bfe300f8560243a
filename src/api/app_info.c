/*
 * app_info.c: writes an instance's appInfo for the V1 and V2 answers.
 */
#include <string.h>

#include "api/app_info.h"
#include "crypto/fieldcrypt.h"

static void
put_secret(struct app_info_out *o, const char *name, const char *plain)
{
	struct buf	enc = BUF_INIT;

	if (plain == NULL)
		return;
	if (o->encrypt_key == NULL) {
		jw_kv_str(o->w, name, plain);
		return;
	}
	if (!field_encrypt(o->encrypt_key, (enum encrypt_type)o->encrypt_type, NULL,
	    plain, strlen(plain), &enc)) {
		o->ok = false;
		return;
	}
	jw_kv_str(o->w, name, buf_cstr(&enc));
	buf_free(&enc);
}

void
app_info_put(struct app_info_out *o, const struct instance_info *i)
{
	jw_key(o->w, "appInfo");
	jw_obj_begin(o->w);
	jw_kv_str(o->w, "frontEndUrl", i->front_end_url);
	jw_kv_str(o->w, "adminUrl", i->admin_url);
	put_secret(o, "userName", i->app_user);
	put_secret(o, "password", i->password);
	jw_kv_str(o->w, "memo", i->memo);
	jw_obj_end(o->w);
}
