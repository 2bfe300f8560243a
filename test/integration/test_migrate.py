"""mkpctl migrate: idempotent, and the version table (not the highest
number) decides what is applied, so migrations added on two lines of work
both land."""

import re
import subprocess


def mkpctl(build, dsn, *args):
    return subprocess.run([str(build / "mkpctl"), "--dsn", dsn, *args],
                          capture_output=True, text=True, timeout=120)


def test_migrate_is_idempotent_and_fills_gaps(build, pg):
    dsn = pg.create_database()
    db = re.search(r"dbname=(\S+)", dsn).group(1)
    first = mkpctl(build, dsn, "migrate")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "applied 001_base" in first.stdout
    again = mkpctl(build, dsn, "migrate")
    assert again.returncode == 0 and "already current" in again.stdout
    applied = pg.psql("SELECT string_agg(version::text, ',' ORDER BY version) "
                      "FROM schema_migrations", db=db)
    # A migration missing below the newest applied one is applied too.
    pg.psql("DROP FUNCTION mkp_nonce_claim(text, integer, text); "
            "DELETE FROM schema_migrations WHERE version = 2", db=db)
    fill = mkpctl(build, dsn, "migrate")
    assert fill.returncode == 0, fill.stdout + fill.stderr
    assert "applied 002_nonce_claim" in fill.stdout
    assert "older than the newest applied" in fill.stdout
    assert pg.psql("SELECT string_agg(version::text, ',' ORDER BY version) "
                   "FROM schema_migrations", db=db) == applied
    assert pg.psql("SELECT count(*) FROM pg_proc WHERE proname = 'mkp_nonce_claim'",
                   db=db) == "1"
    version = mkpctl(build, dsn, "version")
    assert version.returncode == 0 and "database at" in version.stdout
