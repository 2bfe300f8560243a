"""test_smoke.py: mkpd answers through nginx, and checks its config."""

import re

import pytest

import harness
from conftest import need


def test_ping_through_nginx(stack):
    status, _, body = stack.http("GET", "/-/ping")
    assert status == 200
    assert body.strip() == b"pong"


@pytest.fixture
def offline_mkpd(build, workdir, keys):
    """An mkpd config that is never started (mkpd -t needs no database)."""
    need(build, "mkpd")
    return harness.Mkpd(build, workdir, "host=127.0.0.1 port=1 dbname=mkpd", keys)


def test_config_check_accepts_a_good_config(offline_mkpd):
    r = offline_mkpd.check_config()
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("broken", [
    {"overrides": {"pool.pm": "sometimes"}},
    {"overrides": {"pool.max_children": "many"}},
    {"text": "[mkpd]\nlisten = /tmp/x.sock\n[pool\npm = static\n"},
], ids=["bad-enum", "bad-integer", "syntax"])
def test_config_check_refuses_a_broken_config(offline_mkpd, workdir, broken):
    path = offline_mkpd.write_config(path=workdir / "broken.conf", **broken)
    r = offline_mkpd.check_config(path)
    assert r.returncode != 0
    # config_load's contract: a one-line reason "file:line: ...".
    assert re.search(r"broken\.conf:\d+", r.stdout + r.stderr), r.stdout + r.stderr
