"""An in-process RFC 3161 timestamp authority over HTTP, for tests.

It answers real TimeStampReq messages on 127.0.0.1 with tokens signed by the test PKI's
TSA certificate (pyHanko's DummyTimeStamper does the signing), so the production HTTP
client path is exercised end to end without leaving the machine.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import tsp
from pyhanko.sign.timestamps import DummyTimeStamper

from tests.pki import Pki


@contextmanager
def timestamp_authority(pki: Pki):
    """Serve a TSA; yields its URL and a list of the requests it answered."""
    stamper = DummyTimeStamper(tsa_cert=pki.tsa.asn1_cert, tsa_key=pki.tsa.asn1_key)
    answered: list[tsp.TimeStampReq] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = tsp.TimeStampReq.load(body)
            answered.append(request)
            reply = stamper.request_tsa_response(request).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", answered
    finally:
        server.shutdown()
        server.server_close()
