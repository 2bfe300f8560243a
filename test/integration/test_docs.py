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
