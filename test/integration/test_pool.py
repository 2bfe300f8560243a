"""The pool under trouble: a store that goes away, workers that die,
reloads with broken files, a stop while a call is in flight. Each test has
a stack of its own, since each disturbs it."""

import os
import signal
import subprocess
import threading

from harness import create_instance as create, new_order, wait_for


def result(s, activity, fields):
    code, ans, err = s.call(activity, fields)
    assert ans is not None, err
    return ans["resultCode"]


def test_store_down_answers_000005_and_service_resumes(make_stack):
    s = make_stack()
    iid = create(s)
    s.pg.stop()
    try:
        order = new_order()
        for _ in range(3):	# every worker notices, none answers success
            assert result(s, "newInstance", {"orderId": order[0], "orderLineId": order[1],
                                             "businessId": "b"}) == "000005"
        assert result(s, "queryInstance", {"instanceId": iid}) == "000005"
    finally:
        s.pg.start()
    # Back without restarting mkpd: the workers reconnect (each waits a
    # second after a refused connect before it tries again).
    wait_for(lambda: result(s, "queryInstance", {"instanceId": iid}) == "000000", 20,
             what="service back after PostgreSQL restarted")
    for _ in range(3):
        assert result(s, "queryInstance", {"instanceId": iid}) == "000000"
    assert s.pg.psql("SELECT count(*) FROM instance WHERE order_id = '%s'" % order[0]) == "0"
    s.mkpd.wait_log(r"db: (cannot connect|connection lost)")


def test_killed_worker_is_replaced(make_stack):
    s = make_stack({"pool": {"pm": "static", "max_children": 2}})
    before = s.mkpd.wait_workers(2)
    os.kill(before[0], signal.SIGKILL)
    after = wait_for(lambda: (lambda w: w if len(w) == 2 and before[0] not in w else None)(
        s.mkpd.worker_pids()), 20, what="a replacement worker")
    assert before[0] not in after
    for _ in range(4):
        create(s)


def test_reload_with_broken_file_keeps_serving(make_stack):
    s = make_stack()
    iid = create(s)
    good = s.mkpd.conf_path.read_text()
    mark = s.mkpd.log_mark()
    s.mkpd.conf_path.write_text(good + "\n[pool]\nmax_children = lots\n")
    s.mkpd.signal(signal.SIGHUP)
    s.mkpd.wait_log(r"reload failed: .*max_children", since=mark)
    assert s.mkpd.running()
    assert result(s, "queryInstance", {"instanceId": iid}) == "000000"
    # A good file is taken.
    s.mkpd.conf_path.write_text(good.replace("max_children = 2", "max_children = 3"))
    s.mkpd.signal(signal.SIGHUP)
    s.mkpd.wait_workers(3)
    assert result(s, "queryInstance", {"instanceId": iid}) == "000000"


def test_sigterm_lets_the_call_in_flight_finish(make_stack):
    # The call waits 3 s on a row lock: more than the default statement_timeout.
    s = make_stack({"store": {"statement_timeout": 10000}})
    iid = create(s)
    # Hold the instance's row so the next call waits inside its transaction.
    holder = subprocess.Popen(
        [str(s.pg.bindir / "psql"), "-X", "-q", "-h", s.pg.host, "-p", str(s.pg.port),
         "-U", "postgres", "-d", s.pg.dbname, "-c",
         "BEGIN; SELECT 1 FROM instance WHERE instance_id = '%s' FOR UPDATE; "
         "SELECT pg_sleep(3); COMMIT;" % iid],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: s.pg.psql("SELECT count(*) FROM pg_stat_activity "
                                   "WHERE query LIKE '%%pg_sleep(3)%%' AND pid <> pg_backend_pid()")
                 == "1", 10, what="the lock holder")
        out = {}
        t = threading.Thread(target=lambda: out.update(
            r=result(s, "updateInstanceStatus", {"instanceId": iid, "status": "FREEZE"})))
        t.start()
        wait_for(lambda: s.pg.psql("SELECT count(*) FROM pg_stat_activity "
                                   "WHERE wait_event_type = 'Lock'") == "1",
                 10, what="the call waiting for the row")
        s.mkpd.signal(signal.SIGTERM)
        t.join(30)
        assert out.get("r") == "000000"
        assert s.pg.psql("SELECT state FROM instance WHERE instance_id = '%s'" % iid) == "frozen"
        wait_for(lambda: not s.mkpd.running(), 30, what="mkpd to exit")
        assert s.mkpd.proc.returncode == 0
    finally:
        holder.wait(30)
