#!/usr/bin/python3
"""scripts/soak: every kind of call at a fixed rate for a long while.

Starts a stack of its own under var/soak (PostgreSQL, mkpd with a static
pool and no worker recycling, nginx, as scripts/bench does), then sends a
fixed-rate mix of calls, each signed here as the marketplace signs it:

  V2 basic   newInstance, queryInstance, refreshInstance,
             updateInstanceStatus (FREEZE then UNFREEZE)
  V1 basic   queryInstance (GET, authToken)
  V2 Kit     tenantSync, authSync (x-sign headers)
  usage      POST /-/usage, 10 events of an on-demand instance

Every answer is checked (HTTP 200, the expected resultCode, or for usage
every event accepted). Worker RSS is sampled every --sample seconds. At
the end it prints calls by kind, unexpected answers, p50/p99 latency, RSS
first/last/max and a verdict: PASS when no answer was unexpected and the
largest worker RSS at the end is within --rss-slack percent of the one
sampled first after the warm-up (the first tenth of the run). Exit 0 on
PASS.

Not run by CI (doc/proof.md). Usage:
  scripts/soak [--minutes N] [--rate R] [--workers W] [--sample S]
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import queue
import random
import secrets
import shutil
import sys
import threading
import time
import urllib.parse
import uuid
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "test" / "integration"))
import harness  # noqa: E402

USAGE_TOKEN = "soak-" + secrets.token_hex(16)


def canonical(obj):
    return json.dumps(dict(sorted(obj.items())), separators=(",", ":"),
                      ensure_ascii=False).encode()


class Client:
    """Signs and sends one call of each kind over a kept-alive connection."""

    def __init__(self, port, keys):
        self.port = port
        self.keys = keys
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (OSError, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        return None

    def v2(self, fields):
        key = self.keys["basic"].encode()
        body = canonical(fields)
        ts = str(int(time.time() * 1000))
        nonce = secrets.token_hex(32).upper()
        digest = hmac.new(key, body, hashlib.sha256).hexdigest()
        sig = hmac.new(key, key + nonce.encode() + ts.encode() + digest.encode(),
                       hashlib.sha256).hexdigest().upper()
        return self.request("POST", "/?signature=%s&timestamp=%s&nonce=%s" % (sig, ts, nonce),
                            body, {"Content-Type": "application/json"})

    _last_ms = [0]
    _ms_lock = threading.Lock()

    def v1(self, fields):
        # The authToken is the replay key: one timeStamp per call.
        with self._ms_lock:
            ms = max(int(time.time() * 1000), self._last_ms[0] + 1)
            self._last_ms[0] = ms
        key = self.keys["v1"]
        params = dict(fields, timeStamp=time.strftime("%Y%m%d%H%M%S", time.gmtime(ms / 1000))
                      + "%03d" % (ms % 1000))
        data = "&".join("%s=%s" % (k, params[k]) for k in sorted(params))
        params["authToken"] = base64.b64encode(hmac.new(
            (key + params["timeStamp"]).encode(), data.encode(),
            hashlib.sha256).digest()).decode()
        q = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"),
                                urllib.parse.quote(v, safe="-_.~")) for k, v in params.items())
        return self.request("GET", "/?" + q)

    def kit(self, name, obj):
        key = self.keys["kit"]
        ts = str(int(time.time() * 1000))
        nonce = uuid.uuid4().hex.upper()
        payload = json.dumps({k: obj[k] for k in sorted(obj) if obj[k] is not None},
                             separators=(",", ":"), ensure_ascii=False)
        sig = hmac.new(key.encode(), (key + nonce + ts + payload).encode(),
                       hashlib.sha256).hexdigest().upper()
        return self.request("POST", "/produceAPI/v2/" + name, payload.encode(),
                            {"Content-Type": "application/json", "x-sign": sig,
                             "x-timestamp": ts, "x-nonce": nonce})

    def usage(self, events):
        return self.request("POST", "/-/usage", json.dumps({"events": events}).encode(),
                            {"Content-Type": "application/json",
                             "Authorization": "Bearer " + USAGE_TOKEN})


class Mix:
    """The calls, in a fixed rotation; each returns (kind, ok, detail)."""

    def __init__(self, ids, metered):
        self.lock = threading.Lock()
        self.ids = list(ids)
        self.metered = metered
        self.frozen = set()
        self.seq = 0
        self.kinds = ["v2 newInstance", "v2 queryInstance", "v1 queryInstance",
                      "v2 refreshInstance", "usage ingest", "v2 updateInstanceStatus",
                      "kit tenantSync", "v2 queryInstance", "kit authSync"]

    def next_kind(self):
        with self.lock:
            k = self.kinds[self.seq % len(self.kinds)]
            self.seq += 1
            return k

    def pick(self):
        with self.lock:
            return random.choice(self.ids)

    @staticmethod
    def code_ok(status, body, want="000000"):
        if status != 200:
            return False, "HTTP %s" % status
        try:
            ans = json.loads(body)
        except ValueError:
            return False, "not JSON: %r" % body[:80]
        if ans.get("resultCode") != want:
            return False, "%s %s" % (ans.get("resultCode"), ans.get("resultMsg"))
        return True, ans

    def run(self, c, kind):
        if kind == "v2 newInstance":
            o = "SOAK" + uuid.uuid4().hex[:16].upper()
            ok, ans = self.code_ok(*c.v2({"activity": "newInstance", "orderId": o,
                                          "orderLineId": o + "-1",
                                          "businessId": str(uuid.uuid4())}))
            if ok:
                with self.lock:
                    self.ids.append(ans["instanceId"])
            return ok, ans
        if kind == "v2 queryInstance":
            return self.code_ok(*c.v2({"activity": "queryInstance", "instanceId": self.pick()}))
        if kind == "v1 queryInstance":
            return self.code_ok(*c.v1({"activity": "queryInstance", "instanceId": self.pick()}))
        if kind == "v2 refreshInstance":
            o = "SOAKR" + uuid.uuid4().hex[:16].upper()
            return self.code_ok(*c.v2({"activity": "refreshInstance", "instanceId": self.pick(),
                                       "scene": "RENEWAL", "orderId": o, "orderLineId": o + "-1",
                                       "expireTime": "20400101000000"}))
        if kind == "v2 updateInstanceStatus":
            iid = self.pick()
            with self.lock:
                status = "UNFREEZE" if iid in self.frozen else "FREEZE"
                self.frozen.symmetric_difference_update({iid})
            return self.code_ok(*c.v2({"activity": "updateInstanceStatus", "instanceId": iid,
                                       "status": status}))
        if kind == "kit tenantSync":
            t = "SOAK" + uuid.uuid4().hex
            return self.code_ok(*c.kit("tenantSync", {
                "instanceId": "", "orderId": "CS1906666666ABCDE", "tenantId": t,
                "tenantCode": "soak", "name": "Soak", "domainName": "https://soak.example",
                "flag": 1, "testFlag": 0,
                "timeStamp": time.strftime("%Y%m%d%H%M%S000", time.gmtime())}))
        if kind == "kit authSync":
            t = "SOAK" + uuid.uuid4().hex
            ts = time.strftime("%Y%m%d%H%M%S000", time.gmtime())
            return self.code_ok(*c.kit("authSync", {
                "instanceId": "", "tenantId": t, "appId": "SOAKAPP", "flag": 1,
                "testFlag": 0, "timeStamp": ts, "currentSyncTime": ts,
                "userList": [{"userName": "u%d" % i, "name": "U %d" % i, "orgCode": "D1",
                              "role": "user", "enable": "true"} for i in range(10)]}))
        if kind == "usage ingest":
            iid = random.choice(self.metered)
            t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
            events = [{"id": uuid.uuid4().hex, "instanceId": iid, "value": "0.5",
                       "time": t} for _ in range(10)]
            status, body = c.usage(events)
            if status != 200:
                return False, "HTTP %s %r" % (status, body[:80])
            ans = json.loads(body)
            return ans.get("accepted") == 10, ans
        raise ValueError(kind)


def rss_kb(pids):
    out = {}
    for pid in pids:
        try:
            for line in open("/proc/%d/status" % pid):
                if line.startswith("VmRSS:"):
                    out[pid] = int(line.split()[1])
        except OSError:
            pass
    return out


def pct(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10, help="how long (default 10)")
    ap.add_argument("--rate", type=float, default=50, help="calls per second (default 50)")
    ap.add_argument("--workers", type=int, default=4, help="mkpd pool size (default 4)")
    ap.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    ap.add_argument("--sample", type=float, default=10, help="RSS sample every S seconds")
    ap.add_argument("--rss-slack", type=float, default=10,
                    help="allowed RSS growth after warm-up, percent (default 10)")
    args = ap.parse_args()

    build = Path(os.environ.get("MKPD_BUILD", ROOT / "build"))
    for prog in ("mkpd", "mkpctl"):
        if not (build / prog).exists():
            sys.exit("soak: %s/%s is missing: build first (scripts/quickstart builds)"
                     % (build, prog))
    work = ROOT / "var" / "soak"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    work.chmod(0o755)
    try:
        return run(args, build, work)
    finally:
        harness.kill_all()


def run(args, build, work):
    pg = harness.Postgres(work / "pg")
    pg.init()
    pg.start()
    keys = harness.new_keys()
    port = harness.free_port()
    mkpd = harness.Mkpd(build, work / "mkpd", pg.dsn, keys, {
        "mkpd": {"listen": "127.0.0.1:%d" % port, "log_level": "notice",
                 "listen_owner": None, "listen_group": None},
        "pool": {"pm": "static", "max_children": args.workers, "max_requests": 0},
        "usage": {"token": USAGE_TOKEN, "push_interval": 60},
    })
    mkpd.migrate()
    metered = ["soak-metered-%d" % i for i in range(5)]
    pg.psql("INSERT INTO instance (instance_id, order_id, order_line_id, business_id,"
            " charging_mode, state) VALUES " + ",".join(
                "('%s', 'SO%d', 'SO%d-1', 'b', 'ON_DEMAND', 'active')" % (m, i, i)
                for i, m in enumerate(metered)))
    mkpd.start()
    front = harness.Nginx(work / "nginx", "127.0.0.1:%d" % port).start()
    port_http = front.port
    mix = Mix(metered, metered)

    duration = args.minutes * 60
    ticks = queue.Queue(maxsize=1000)
    results = []			# (kind, ok, latency ms, detail)
    res_lock = threading.Lock()
    stop = threading.Event()

    def client():
        c = Client(port_http, keys)
        while not stop.is_set():
            try:
                kind = ticks.get(timeout=0.5)
            except queue.Empty:
                continue
            t0 = time.monotonic()
            try:
                ok, detail = mix.run(c, kind)
            except Exception as e:  # noqa: BLE001 (a broken call is an unexpected answer)
                ok, detail = False, "%s: %s" % (type(e).__name__, e)
            ms = (time.monotonic() - t0) * 1000
            with res_lock:
                results.append((kind, ok, ms, None if ok else detail))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    for t in threads:
        t.start()

    workers = mkpd.wait_workers(args.workers)
    samples = []			# (seconds, {pid: kb})
    start = time.monotonic()
    next_tick = start
    next_sample = start
    sent = behind = 0
    print("soak: %.1f min at %.0f calls/s, %d workers, RSS every %.0f s (work dir %s)"
          % (args.minutes, args.rate, args.workers, args.sample, work), flush=True)
    while True:
        now = time.monotonic()
        if now - start >= duration:
            break
        if now >= next_sample:
            samples.append((now - start, rss_kb(workers)))
            with res_lock:
                n, bad = len(results), sum(1 for r in results if not r[1])
            print("  %6.0f s  calls %7d  unexpected %4d  worker RSS KB %s" % (
                now - start, n, bad, sorted(samples[-1][1].values())), flush=True)
            next_sample += args.sample
        if now >= next_tick:
            try:
                ticks.put_nowait(mix.next_kind())
                sent += 1
            except queue.Full:
                behind += 1
            next_tick += 1.0 / args.rate
        else:
            time.sleep(min(next_tick, next_sample) - now)
    stop.set()
    for t in threads:
        t.join(60)
    samples.append((time.monotonic() - start, rss_kb(workers)))
    gone = [p for p in workers if p not in mkpd.worker_pids()]

    print("\nsoak summary: %.1f min, target %.0f calls/s, %d sent, %d dropped (clients "
          "behind)" % (duration / 60, args.rate, sent, behind))
    print("%-26s %8s %10s %9s %9s" % ("kind", "calls", "unexpected", "p50 ms", "p99 ms"))
    kinds = sorted({r[0] for r in results})
    for k in kinds:
        rs = [r for r in results if r[0] == k]
        lat = [r[2] for r in rs]
        print("%-26s %8d %10d %9.1f %9.1f" % (k, len(rs), sum(1 for r in rs if not r[1]),
                                             pct(lat, 50), pct(lat, 99)))
    lat = [r[2] for r in results]
    bad = [r for r in results if not r[1]]
    print("%-26s %8d %10d %9.1f %9.1f" % ("all", len(results), len(bad), pct(lat, 50),
                                         pct(lat, 99)))
    for r in bad[:10]:
        print("  unexpected: %s: %s" % (r[0], r[3]))

    # Per worker, not summed: a worker that takes its first call late grows
    # to the same plateau as the others then (its connection, its caches),
    # which is no leak. A leak shows as the plateau itself rising.
    warm = [s for s in samples if s[0] >= duration / 10] or samples
    first = max(warm[0][1].values() or [0])
    last = max(samples[-1][1].values() or [0])
    peak = max(max(s[1].values() or [0]) for s in samples)
    growth = (last - first) * 100.0 / first if first else 0.0
    flat = growth <= args.rss_slack
    print("worker RSS (largest of %d, KB): first after warm-up %d, last %d, max %d, "
          "growth %+.1f%% (allowed %.0f%%); sum first %d, last %d" % (
              len(workers), first, last, peak, growth, args.rss_slack,
              sum(warm[0][1].values()), sum(samples[-1][1].values())))
    if gone:
        print("workers replaced during the run: %s" % gone)
    ok = not bad and flat and not gone and mkpd.running()
    print("verdict: %s (unexpected answers %d, RSS %s, workers %s)" % (
        "PASS" if ok else "FAIL", len(bad), "flat" if flat else "GREW",
        "kept" if not gone else "replaced"))
    mkpd.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
