"""A FAKE RFC 3161 time-stamp authority for tests: a real HTTP server on 127.0.0.1 that
answers real TimeStampReq/TimeStampResp messages (pyHanko's in-process DummyTimeStamper
signs them) with a throw-away CA. Its certificates say "FAKE TSA (test only)"."""

import datetime as dt
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps import DummyTimeStamper


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key():
    # pyHanko's DummyTimeStamper signs with RSA only.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeTSA:
    url: str
    root_pem: bytes
    server: ThreadingHTTPServer
    requests: list

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def start_fake_tsa() -> FakeTSA:
    now = dt.datetime.now(dt.timezone.utc)
    root_key, tsa_key = _key(), _key()
    root = (x509.CertificateBuilder().subject_name(_name("FAKE TSA root (test only)"))
            .issuer_name(_name("FAKE TSA root (test only)")).public_key(root_key.public_key()).serial_number(1)
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(root_key, hashes.SHA256()))
    tsa = (x509.CertificateBuilder().subject_name(_name("FAKE TSA (test only)")).issuer_name(root.subject)
           .public_key(tsa_key.public_key()).serial_number(2)
           .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=7))
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
           .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
           .sign(root_key, hashes.SHA256()))
    stamper = DummyTimeStamper(
        asn1_x509.Certificate.load(tsa.public_bytes(serialization.Encoding.DER)),
        asn1_keys.PrivateKeyInfo.load(tsa_key.private_bytes(serialization.Encoding.DER,
                                                            serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption())))
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(415, "FAKE TSA: expects application/timestamp-query")
                return
            request = tsp.TimeStampReq.load(body)
            seen.append(request["message_imprint"]["hashed_message"].native)
            answer = stamper.request_tsa_response(request).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.send_header("Server", "FAKE-TSA-for-tests")
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return FakeTSA(f"http://127.0.0.1:{server.server_address[1]}/", root.public_bytes(serialization.Encoding.PEM),
                   server, seen)
