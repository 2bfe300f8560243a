/*
 * sim_kitgen.c: `mkp-sim kit-gen orgs|users N`, a department tree or a user
 * list shaped as the Kit calls carry them (spec/kit-and-v1.md §2.4-2.6),
 * printed as one JSON array for `mkp-sim call --kit ... userList:=...`.
 *
 * Deterministic for a seed, so a test or a demo can send the same data
 * twice (a repeat) or a changed copy (another seed). Users belong to the
 * departments of the tree made with the same seed and --orgs; names are
 * Chinese as in the doc examples, with the optional fields filled the way
 * the marketplace fills them (extension holding entryDate, employeeType,
 * workPlace). --string wraps the array in a JSON string (the V1 form);
 * --bare-keys also leaves its keys unquoted (the doc examples' form).
 */
#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sim_call.h"
#include "cli/sim_kitgen.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"

#define KITGEN_MAX	100000

static const char *const surnames[] = {
	"张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙",
};
static const char *const surnames_py[] = {
	"zhang", "wang", "li", "zhao", "liu", "chen", "yang", "huang", "zhou", "wu", "xu", "sun",
};
static const char *const given[] = {
	"伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰",
};
static const char *const given_py[] = {
	"wei", "fang", "na", "min", "jing", "qiang", "lei", "yang", "yan", "yong", "jun", "jie",
};
static const char *const depts[] = {
	"研发部", "产品部", "市场部", "销售部", "财务部", "人力资源部", "运营部", "客服部",
	"法务部", "采购部",
};
static const char *const positions[] = {
	"工程师", "高级工程师", "产品经理", "运营经理", "销售代表", "会计", "系统管理员",
};
static const char *const places[] = { "南京", "深圳", "北京", "上海", "杭州", "成都" };

struct gen {
	uint64_t	 s;
};

static unsigned
rnd(struct gen *g, unsigned n)
{
	/* splitmix64: small, good enough, the same everywhere. */
	uint64_t z = (g->s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return (unsigned)((z ^ (z >> 31)) % n);
}

/* Department i's code and parent (-1 for the top). */
static int
org_parent(struct gen *g, int i)
{
	if (i == 0)
		return -1;
	/* Shallow and wide, as companies are: parents among the first third. */
	return (int)rnd(g, (unsigned)(i < 3 ? i : (i + 2) / 3));
}

static void
emit_orgs(struct jw *w, uint64_t seed, int n)
{
	struct gen	 g = { seed };
	char		 code[24], parent[24], name[96];
	int		 i, p;

	jw_arr_begin(w);
	for (i = 0; i < n; i++) {
		p = org_parent(&g, i);
		snprintf(code, sizeof(code), "%d", 100000 + i);
		if (i == 0)
			snprintf(name, sizeof(name), "总部");
		else
			snprintf(name, sizeof(name), "%s%d", depts[rnd(&g, NELEM(depts))], i);
		jw_obj_begin(w);
		jw_kv_str(w, "orgCode", code);
		jw_kv_str(w, "orgName", name);
		if (p >= 0)
			snprintf(parent, sizeof(parent), "%d", 100000 + p);
		else
			parent[0] = '\0';
		jw_kv_str(w, "parentCode", parent);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void
emit_users(struct jw *w, uint64_t seed, int n, int norgs)
{
	struct gen	 g = { seed ^ 0x5555AAAA5555AAAAULL };
	char		 user[48], name[64], code[24], s[96];
	unsigned	 a, b;
	int		 i;

	jw_arr_begin(w);
	for (i = 0; i < n; i++) {
		a = rnd(&g, NELEM(surnames));
		b = rnd(&g, NELEM(given));
		snprintf(user, sizeof(user), "%s%s%03d", surnames_py[a], given_py[b], i);
		snprintf(name, sizeof(name), "%s%s", surnames[a], given[b]);
		snprintf(code, sizeof(code), "%d", 100000 + (int)rnd(&g, (unsigned)norgs));
		jw_obj_begin(w);
		jw_kv_str(w, "userName", user);
		jw_kv_str(w, "name", name);
		jw_kv_str(w, "position", positions[rnd(&g, NELEM(positions))]);
		jw_kv_str(w, "orgCode", code);
		jw_kv_str(w, "role", i == 0 ? "admin" : "user");
		jw_kv_str(w, "enable", rnd(&g, 20) == 0 ? "false" : "true");
		snprintf(s, sizeof(s), "E%06d", i + 1);
		jw_kv_str(w, "employeeCode", s);
		snprintf(s, sizeof(s), "139%08u", rnd(&g, 100000000));
		jw_kv_str(w, "mobile", s);
		snprintf(s, sizeof(s), "%s@example.com", user);
		jw_kv_str(w, "email", s);
		jw_key(w, "extension");
		jw_obj_begin(w);
		snprintf(s, sizeof(s), "20%02u-%u-%u", 10 + rnd(&g, 15), 1 + rnd(&g, 12),
		    1 + rnd(&g, 28));
		jw_kv_str(w, "entryDate", s);
		snprintf(s, sizeof(s), "%u", 1 + rnd(&g, 4));
		jw_kv_str(w, "employeeType", s);
		jw_kv_str(w, "workPlace", places[rnd(&g, NELEM(places))]);
		jw_obj_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

/* Drops the quotes around every object key of compact JSON made by jw. */
static void
unquote_keys(const struct buf *in, struct buf *out)
{
	const char	*s = buf_cstr(in);
	size_t		 i = 0, j, n = in->len;
	char		 prev = '\0';

	while (i < n) {
		if (s[i] == '"') {
			for (j = i + 1; j < n && s[j] != '"'; j += s[j] == '\\' ? 2 : 1)
				;
			if ((prev == '{' || prev == ',') && j + 1 < n && s[j + 1] == ':')
				buf_append(out, s + i + 1, j - i - 1);
			else
				buf_append(out, s + i, j + 1 - i);
			i = j + 1;
			prev = '"';
			continue;
		}
		buf_putc(out, s[i]);
		prev = s[i++];
	}
}

void
sim_kitgen_usage(void)
{
	printf(
"usage: mkp-sim kit-gen [options] orgs|users N\n"
"\n"
"Prints N departments (a tree: orgCode, orgName, parentCode, the first one\n"
"the top) or N users (userName, name, position, orgCode, role, enable,\n"
"employeeCode, mobile, email, extension) as one JSON array, for the Kit\n"
"calls: mkp-sim call --kit authSync userList:=\"$(mkp-sim kit-gen users 50)\" ...\n"
"(a long list exceeds what one argument may hold: put the body in --file).\n"
"\n"
"      --seed S      the data for seed S (default 1): the same seed, the same data\n"
"      --orgs M      users belong to the first M departments of the tree of the\n"
"                    same seed (default 20)\n"
"      --string      print the array as a JSON string (the V1 form)\n"
"      --bare-keys   with --string, leave the keys unquoted (the doc examples)\n");
}

int
sim_kitgen_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "orgs", required_argument, NULL, 'o' },
		{ "string", no_argument, NULL, 'S' },
		{ "bare-keys", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct buf	 b = BUF_INIT, bare = BUF_INIT, out = BUF_INIT;
	struct jw	 w;
	int64_t		 seed = 1, norgs = 20, n;
	bool		 as_string = false, bare_keys = false;
	int		 c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!parse_i64(optarg, 0, INT64_MAX, &seed))
				goto usage;
			break;
		case 'o':
			if (!parse_i64(optarg, 1, KITGEN_MAX, &norgs))
				goto usage;
			break;
		case 'S': as_string = true; break;
		case 'b': bare_keys = true; as_string = true; break;
		case 'h':
			sim_kitgen_usage();
			return SIM_OK;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2 || !parse_i64(argv[optind + 1], 0, KITGEN_MAX, &n))
		goto usage;
	jw_init(&w, &b);
	if (strcmp(argv[optind], "orgs") == 0)
		emit_orgs(&w, (uint64_t)seed, (int)n);
	else if (strcmp(argv[optind], "users") == 0)
		emit_users(&w, (uint64_t)seed, (int)n, (int)norgs);
	else
		goto usage;
	if (bare_keys) {
		unquote_keys(&b, &bare);
		json_put_str(&out, bare.data, bare.len);
	} else if (as_string) {
		json_put_str(&out, b.data, b.len);
	} else {
		buf_append(&out, b.data, b.len);
	}
	fwrite(buf_cstr(&out), 1, out.len, stdout);
	fputc('\n', stdout);
	buf_free(&b);
	buf_free(&bare);
	buf_free(&out);
	return SIM_OK;
usage:
	fprintf(stderr, "mkp-sim kit-gen: usage: mkp-sim kit-gen [--seed S] [--orgs M] "
	    "[--string] [--bare-keys] orgs|users N\n");
	buf_free(&b);
	return SIM_USAGE;
}
