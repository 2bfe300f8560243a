/*
 * check_fieldcrypt.c: SHA1PRNG key derivation and AES-CBC fields against
 * spec/v2-basic.md §7.2 (V-6, V-7), spec/kit-and-v1.md §5 (TV-1, TV-2)
 * and spec/vectors.json (sha1prng_aes_key, aes_cbc_field); and garbage
 * that field_decrypt must refuse.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "crypto/fieldcrypt.h"
#include "crypto/random.h"
#include "unit.h"

#define K_TEST	"TestAccessKey-0123456789abcdef"
#define K_UUID	"9fa6c870-8bb0-4e9b-b71e-4c223300156f"
#define K_EBF	"ebf72724-bacc-414b-a86b-fda5bcc8153c"

/* --- key derivation ------------------------------------------------------- */

static const struct {
	const char	*src;
	const char	*seed, *aes128, *aes256;
} prng_cases[] = {
	{ "kit-and-v1 TV-1[0]; vectors.json sha1prng_aes_key[0]",
	  "ce791182-e292-4402-b2de-1c38e6b96aba",
	  "5553c7af6419550fbd014fa77070ce79",
	  "5553c7af6419550fbd014fa77070ce798f56f36b5f6fff5312827a351abc9d8d" },
	{ "kit-and-v1 TV-1[1]; vectors.json sha1prng_aes_key[1]", K_UUID,
	  "6de9c7fe5a9cd34b86611483e5124a8f",
	  "6de9c7fe5a9cd34b86611483e5124a8fdd1fc74c4f54543ee7cd43c5195a3198" },
	{ "kit-and-v1 TV-1[2]; vectors.json sha1prng_aes_key[2]",
	  "71d8a0d7-508d-4017-8563-60f9099eea71",
	  "70c04ed74597634b2f90cf66ab1ccf59",
	  "70c04ed74597634b2f90cf66ab1ccf590f5024f787f25b897fca586a86e08e1d" },
	{ "kit-and-v1 TV-1[3]; vectors.json sha1prng_aes_key[3]", "abcde",
	  "8dc54f2e15823c98aea063e339a5d4c5",
	  "8dc54f2e15823c98aea063e339a5d4c53d1a471adbf839311f5083e7778f46fb" },
	{ "v2-basic V-6[0]; vectors.json sha1prng_aes_key[4]", K_TEST,
	  "83fc146d5a76a7b889dcde61e2a98a95",
	  "83fc146d5a76a7b889dcde61e2a98a95fda82f39aa51c943fff883881e22b66b" },
	{ "v2-basic V-6[1]; vectors.json sha1prng_aes_key[5]", K_EBF,
	  "9dae850c6750255efbf285046f83df9f",
	  "9dae850c6750255efbf285046f83df9fbb0733d6cada35a5c9a8918e5213371d" },
};

START_TEST(test_sha1prng)
{
	const char	*seed = prng_cases[_i].seed, *src = prng_cases[_i].src;
	uint8_t		 k16[16], k32[32], k100[100];
	char		 hex[2 * 100 + 1];

	sha1prng_bytes(seed, strlen(seed), k16, sizeof(k16));
	hex_encode(k16, sizeof(k16), hex, false);
	ck_assert_msg(strcmp(hex, prng_cases[_i].aes128) == 0, "%s: 128 %s", src, hex);

	sha1prng_bytes(seed, strlen(seed), k32, sizeof(k32));
	hex_encode(k32, sizeof(k32), hex, false);
	ck_assert_msg(strcmp(hex, prng_cases[_i].aes256) == 0, "%s: 256 %s", src, hex);

	/* One stream: a longer draw starts with the shorter ones. */
	sha1prng_bytes(seed, strlen(seed), k100, sizeof(k100));
	ck_assert(memcmp(k100, k32, sizeof(k32)) == 0);
}
END_TEST

/* --- field encryption ----------------------------------------------------- */

static const struct {
	const char		*src;
	const char		*key;
	enum encrypt_type	 type;
	const char		*iv, *plain, *field;
} field_cases[] = {
	{ "v2-basic V-7[0]", K_TEST, ENCRYPT_AES256_CBC, "abcdefghijklmnop", "admin",
	  "abcdefghijklmnopD3ulHOJgqoIbxE/zuztwyQ==" },
	{ "v2-basic V-7[1]", K_TEST, ENCRYPT_AES128_CBC, "abcdefghijklmnop", "admin",
	  "abcdefghijklmnopzt9RC5Ct0JuzeNmkqhhIyQ==" },
	{ "v2-basic V-7[2]; vectors.json aes_cbc_field[3]", K_TEST, ENCRYPT_AES256_CBC,
	  "A1b2C3d4E5f6G7h8", "Huawei@12345",
	  "A1b2C3d4E5f6G7h8MtNdT7t+3jBTH5VYE6aUPA==" },
	{ "v2-basic V-7[3]", K_EBF, ENCRYPT_AES256_CBC, "abcdefghijklmnop", "admin",
	  "abcdefghijklmnopu/XW00tEH11zpaMKJAWV9g==" },
	{ "v2-basic V-7[4]; vectors.json aes_cbc_field[4]", K_EBF, ENCRYPT_AES128_CBC,
	  "abcdefghijklmnop", "admin",
	  "abcdefghijklmnopp8igVCA/L+PoF2cD+jnYEg==" },
	{ "v2-basic V-7[5]", K_EBF, ENCRYPT_AES256_CBC, "A1b2C3d4E5f6G7h8", "Huawei@12345",
	  "A1b2C3d4E5f6G7h8WjC4paCtD+AES9reX6Pymw==" },
	{ "kit-and-v1 TV-2[0]; vectors.json aes_cbc_field[0]", K_UUID, ENCRYPT_AES256_CBC,
	  "abcdefgh12345678", "admin",
	  "abcdefgh12345678N01aTxachO+CIi3U7oR1vQ==" },
	{ "kit-and-v1 TV-2[1]; vectors.json aes_cbc_field[1]", K_UUID, ENCRYPT_AES128_CBC,
	  "abcdefgh12345678", "admin",
	  "abcdefgh12345678BWkGK9uxiJbH90gpxVix4A==" },
	{ "kit-and-v1 TV-2[2]; vectors.json aes_cbc_field[2]", K_UUID, ENCRYPT_AES256_CBC,
	  "Ab3dE5gH7jK9mN1p", "15905222222",
	  "Ab3dE5gH7jK9mN1p/iWS9wcSzrYj2aMMOYB+Lw==" },
};

START_TEST(test_field_vectors)
{
	struct buf	enc = BUF_INIT, dec = BUF_INIT;
	const char	*src = field_cases[_i].src;

	ck_assert(field_encrypt(field_cases[_i].key, field_cases[_i].type,
	    field_cases[_i].iv, field_cases[_i].plain, strlen(field_cases[_i].plain), &enc));
	ck_assert_msg(strcmp(buf_cstr(&enc), field_cases[_i].field) == 0,
	    "%s: got %s", src, buf_cstr(&enc));

	ck_assert_msg(field_decrypt(field_cases[_i].key, field_cases[_i].type,
	    field_cases[_i].field, &dec), "%s: decrypt", src);
	ck_assert_str_eq(buf_cstr(&dec), field_cases[_i].plain);
	ck_assert_uint_eq(dec.len, strlen(field_cases[_i].plain));
	buf_free(&enc);
	buf_free(&dec);
}
END_TEST

/* Random IVs and lengths around the block size survive a round trip. */
static const size_t rt_lens[] = { 0, 1, 15, 16, 17, 31, 32, 33, 100 };

START_TEST(test_field_roundtrip)
{
	static const enum encrypt_type types[] = { ENCRYPT_AES256_CBC, ENCRYPT_AES128_CBC };
	char		 plain[100];
	size_t		 len = rt_lens[_i], t, j, ctlen;

	for (j = 0; j < len; j++)
		plain[j] = (char)(j * 7 + 1);	/* includes bytes >= 0x80 */
	for (t = 0; t < NELEM(types); t++) {
		struct buf	enc = BUF_INIT, dec = BUF_INIT;

		ck_assert(field_encrypt(K_UUID, types[t], NULL, plain, len, &enc));
		ctlen = (len / 16 + 1) * 16;	/* PKCS#7 always pads */
		ck_assert_uint_eq(enc.len, 16 + 4 * ((ctlen + 2) / 3));
		for (j = 0; j < 16; j++)
			ck_assert(strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz", enc.data[j]) != NULL);
		ck_assert(field_decrypt(K_UUID, types[t], enc.data, &dec));
		ck_assert_uint_eq(dec.len, len);
		ck_assert(memcmp(dec.data, plain, len) == 0);
		buf_free(&enc);
		buf_free(&dec);
	}
}
END_TEST

static const struct {
	const char		*iv;
	enum encrypt_type	 type;
} bad_enc_cases[] = {
	{ "abcdefghijklmno", ENCRYPT_AES256_CBC },	/* 15 chars */
	{ "abcdefghijklmnopq", ENCRYPT_AES256_CBC },	/* 17 chars */
	{ "abcdefgh-jklmnop", ENCRYPT_AES256_CBC },	/* outside [0-9A-Za-z] */
	{ "", ENCRYPT_AES128_CBC },
	{ "abcdefghijklmnop", (enum encrypt_type)0 },
	{ "abcdefghijklmnop", (enum encrypt_type)3 },
};

START_TEST(test_field_encrypt_bad)
{
	struct buf	enc = BUF_INIT;

	ck_assert_msg(!field_encrypt(K_TEST, bad_enc_cases[_i].type, bad_enc_cases[_i].iv,
	    "admin", 5, &enc), "case %d", _i);
	ck_assert_uint_eq(enc.len, 0);
	buf_free(&enc);
}
END_TEST

/* Line-wrapped base64 (sun.misc.BASE64Encoder style) is still read. */
static const char *const wrapped_cases[] = {
	"abcdefghijklmnopD3ulHOJgqoIbxE/zuztwyQ==\n",
	"abcdefghijklmnopD3ulHOJgqoIb\r\nxE/zuztwyQ==",
	"abcdefghijklmnopD3ulHOJgqoIbxE/zuztwyQ==\r\n",
};

START_TEST(test_field_decrypt_wrapped)
{
	struct buf	dec = BUF_INIT;

	ck_assert_msg(field_decrypt(K_TEST, ENCRYPT_AES256_CBC, wrapped_cases[_i], &dec),
	    "case %d", _i);
	ck_assert_str_eq(buf_cstr(&dec), "admin");
	buf_free(&dec);
}
END_TEST

/* Malformed fields: each must be refused and leave out untouched. */
static const struct {
	const char		*why;
	const char		*key;
	enum encrypt_type	 type;
	const char		*field;
} bad_dec_cases[] = {
	{ "empty", K_TEST, ENCRYPT_AES256_CBC, "" },
	{ "short", K_TEST, ENCRYPT_AES256_CBC, "abcdefgh" },
	{ "IV only", K_TEST, ENCRYPT_AES256_CBC, "abcdefghijklmnop" },
	{ "bad IV char", K_TEST, ENCRYPT_AES256_CBC,
	  "abcdefghijklmn-pD3ulHOJgqoIbxE/zuztwyQ==" },
	{ "IV of 15 (shifted)", K_TEST, ENCRYPT_AES256_CBC,
	  "bcdefghijklmnopD3ulHOJgqoIbxE/zuztwyQ==" },
	{ "bad base64 char", K_TEST, ENCRYPT_AES256_CBC,
	  "abcdefghijklmnopD3ulHOJgqoIbxE/zuzt!yQ==" },
	{ "base64 url alphabet", K_TEST, ENCRYPT_AES256_CBC,
	  "abcdefghijklmnopD3ulHOJgqoIbxE_zuztwyQ==" },
	{ "base64 missing padding", K_TEST, ENCRYPT_AES256_CBC,
	  "abcdefghijklmnopD3ulHOJgqoIbxE/zuztwyQ" },
	{ "base64 truncated mid-quantum", K_TEST, ENCRYPT_AES256_CBC,
	  "abcdefghijklmnopD3ulHOJgqoIbxE/zuztwy" },
	{ "not a whole block", K_TEST, ENCRYPT_AES256_CBC, "abcdefghijklmnopAAAA" },
	{ "one block + 1 byte", K_TEST, ENCRYPT_AES256_CBC,
	  "abcdefghijklmnopD3ulHOJgqoIbxE/zuztwyQAA" },
	{ "bad padding (wrong key)", K_UUID, ENCRYPT_AES256_CBC,
	  "abcdefghijklmnopD3ulHOJgqoIbxE/zuztwyQ==" },
	{ "bad padding (wrong key size)", K_TEST, ENCRYPT_AES128_CBC,
	  "abcdefghijklmnopD3ulHOJgqoIbxE/zuztwyQ==" },
	{ "bad padding (all-zero block)", K_TEST, ENCRYPT_AES256_CBC,
	  "abcdefghijklmnopAAAAAAAAAAAAAAAAAAAAAA==" },
	{ "bad type", K_TEST, (enum encrypt_type)7,
	  "abcdefghijklmnopD3ulHOJgqoIbxE/zuztwyQ==" },
	{ "garbage", K_TEST, ENCRYPT_AES256_CBC,
	  "\x01\x02\x03\xff\xfe garbage that is not a field at all ====" },
};

START_TEST(test_field_decrypt_bad)
{
	struct buf	dec = BUF_INIT;

	buf_puts(&dec, "keep");
	ck_assert_msg(!field_decrypt(bad_dec_cases[_i].key, bad_dec_cases[_i].type,
	    bad_dec_cases[_i].field, &dec), "%s accepted", bad_dec_cases[_i].why);
	ck_assert_str_eq(buf_cstr(&dec), "keep");
	buf_free(&dec);
}
END_TEST

int
main(void)
{
	TCase	*tc;
	Suite	*s = unit_suite("fieldcrypt", &tc);

	if (!crypto_init())
		return EXIT_FAILURE;
	tcase_add_loop_test(tc, test_sha1prng, 0, (int)NELEM(prng_cases));
	tcase_add_loop_test(tc, test_field_vectors, 0, (int)NELEM(field_cases));
	tcase_add_loop_test(tc, test_field_roundtrip, 0, (int)NELEM(rt_lens));
	tcase_add_loop_test(tc, test_field_encrypt_bad, 0, (int)NELEM(bad_enc_cases));
	tcase_add_loop_test(tc, test_field_decrypt_wrapped, 0, (int)NELEM(wrapped_cases));
	tcase_add_loop_test(tc, test_field_decrypt_bad, 0, (int)NELEM(bad_dec_cases));
	return unit_run(s);
}
