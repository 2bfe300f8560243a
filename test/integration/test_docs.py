"""The SQL of doc/dba.md runs: every ```sql block, as written, against a
migrated database (read-only queries; a block naming PUT-THE-... gets an id
that matches nothing, so it must still parse and plan)."""
import re
from pathlib import Path

import pytest

DBA = Path(__file__).resolve().parents[2] / "doc" / "dba.md"
BLOCKS = re.findall(r"```sql\n(.*?)```", DBA.read_text(), re.S)


def test_dba_md_has_queries():
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("n", range(len(BLOCKS)))
def test_dba_md_query_runs(pg, database, n):
    sql = BLOCKS[n]
    db = re.search(r"dbname=(\S+)", database).group(1)
    # As mkpd's tables' owner sees them; read-only, so nothing is changed.
    out = pg.psql("BEGIN READ ONLY;\n" + sql + "\nROLLBACK;", db=db, check=False)
    assert "ERROR" not in out, "%s\n-> %s" % (sql, out)


def _db(database):
    return re.search(r"dbname=(\S+)", database).group(1)


def test_dba_md_expiring_soon_lists_no_expired_instance(pg, database):
    """"Instances that expire in the next 7 days": the one that expires in
    3 days, not the one that expired yesterday."""
    text = DBA.read_text()
    sql = re.search(r"expire in the next 7 days:\n\n```sql\n(.*?)```", text, re.S).group(1)
    rows = ("('doc-exp-past', 'o-p', 'l-p', 'b-p', 'active', now() - interval '1 day'),"
            " ('doc-exp-soon', 'o-s', 'l-s', 'b-s', 'active', now() + interval '3 days'),"
            " ('doc-exp-late', 'o-l', 'l-l', 'b-l', 'active', now() + interval '30 days')")
    out = pg.psql("BEGIN;\nINSERT INTO instance (instance_id, order_id, order_line_id,"
                  " business_id, state, expire_at) VALUES %s;\n%s\nROLLBACK;" % (rows, sql),
                  db=_db(database))
    assert "doc-exp-soon" in out and "doc-exp-past" not in out and "doc-exp-late" not in out, out


def test_failed_calls_lists_failures_not_the_usage_intakes_successes(pg, database):
    rows = ",".join("('doc-fc-%s', now(), 'local', 'usage', %s, %d, 1)" % (
        k, "NULL" if code is None else "'%s'" % code, status) for k, code, status in (
        ("usage-ok", None, 200), ("usage-401", None, 401), ("v2-ok", "000000", 200),
        ("v2-busy", "000004", 200), ("v2-sig", "000001", 200)))
    out = pg.psql("BEGIN;\nINSERT INTO callback_log (call_id, received_at, dialect, activity,"
                  " result_code, http_status, latency_us) VALUES %s;\n"
                  "SELECT string_agg(coalesce(result_code, '-') || '/' || latency_us, ',')"
                  " FROM failed_calls WHERE received_at = now();\nROLLBACK;" % rows,
                  db=_db(database))
    assert out.split() == ["-/1,000001/1"] or sorted(out.split()[0].split(",")) == \
        ["-/1", "000001/1"], out


def test_mkp_sim_manual_page_has_every_serve_option_and_failure_mode(build):
    """mkp-sim(1) tells every option and failure mode `mkp-sim serve --help`
    lists (--usage-key and refuse were missing)."""
    import subprocess
    sim = Path(build) / "mkp-sim"
    if not sim.exists():
        pytest.skip("mkp-sim was not built")
    help_ = subprocess.run([str(sim), "serve", "--help"], capture_output=True, text=True,
                           timeout=30).stdout
    options = re.findall(r"^\s+(?:-\w, )?(--[a-z-]+)", help_, re.M)
    modes_text = help_.split("Failure modes", 1)[1].split("\n\n", 1)[0]
    modes = re.findall(r"^  (\w+)\s{2,}", modes_text, re.M)
    assert "--usage-key" in options and "refuse" in modes and len(modes) >= 6
    page = (DBA.parent / "man" / "mkp-sim.1").read_text().replace("\\-", "-")
    missing = [o for o in options if o not in page] + \
        [m for m in modes if m != "none" and not re.search(r"\b%s\b" % m, page)]
    assert not missing, missing
