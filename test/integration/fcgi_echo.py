"""fcgi_echo.py: a minimal FastCGI responder for testing the harness.

It answers every request with 200 and a JSON object {"params": {...},
"body": "..."} of what nginx passed, so the nginx template can be tested
without mkpd: which CGI variables arrive, that the body arrives whole,
that the unix socket's owner and mode let nginx's workers connect.
"""

import json
import os
import socketserver
import struct
import threading

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def _read_exact(f, n):
    data = f.read(n)
    if len(data) != n:
        raise EOFError
    return data


def _pairs(data):
    out, i = {}, 0

    def length():
        nonlocal i
        if data[i] < 128:
            i += 1
            return data[i - 1]
        n = struct.unpack(">I", data[i:i + 4])[0] & 0x7FFFFFFF
        i += 4
        return n
    while i < len(data):
        nl = length()
        vl = length()
        out[data[i:i + nl].decode()] = data[i + nl:i + nl + vl].decode(errors="replace")
        i += nl + vl
    return out


def _record(rtype, rid, content):
    pad = -len(content) % 8
    return struct.pack(">BBHHBx", 1, rtype, rid, len(content), pad) + content + b"\0" * pad


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        params, body, rid = b"", b"", 1
        try:
            while True:
                _, rtype, rid, clen, plen = struct.unpack(">BBHHBx", _read_exact(self.rfile, 8))
                content = _read_exact(self.rfile, clen)
                _read_exact(self.rfile, plen)
                if rtype == PARAMS:
                    params += content
                elif rtype == STDIN:
                    if not content:
                        break
                    body += content
        except EOFError:
            return
        answer = json.dumps({"params": _pairs(params),
                             "body": body.decode(errors="replace")}).encode()
        out = b"Status: 200 OK\r\nContent-Type: application/json\r\n\r\n" + answer
        for i in range(0, len(out), 32768):
            self.wfile.write(_record(STDOUT, rid, out[i:i + 32768]))
        self.wfile.write(_record(STDOUT, rid, b""))
        self.wfile.write(_record(END_REQUEST, rid, struct.pack(">IB3x", 0, 0)))


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class FcgiEcho:
    """Serves on a unix socket at path in a background thread; close()
    stops it. The socket gets owner and mode as mkpd's would."""

    def __init__(self, path, owner=None, group=None, mode=0o660):
        self.path = str(path)
        self.server = _Server(self.path, _Handler)
        if owner:
            import shutil
            shutil.chown(self.path, owner, group)
        os.chmod(self.path, mode)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        os.unlink(self.path)
