"""A local push service that speaks RFC 8030 to the application server: it checks the
VAPID authorization (RFC 8292: an ES256 JWT for this origin, not expired, signed by the
key in `k`, which must be the municipality's applicationServerKey) and decrypts the
aes128gcm payload (RFC 8291) with the subscription's private key (http_ece), like a
browser vendor's push service and the browser together. Devices registered as gone answer
410, as a push service does for an expired subscription."""

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Device:
    """A browser's subscription: its own key pair and auth secret."""

    id: str
    server_key: str = ""  # the applicationServerKey it subscribed with (RFC 8292 §4: bound to it)
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self, base: str) -> dict:
        public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": f"{base}/push/{self.id}", "keys": {"p256dh": b64(public), "auth": b64(self.auth)}}


class PushService:
    def __init__(self, application_server_key: str):
        self.application_server_key = application_server_key
        self.devices: dict[str, Device] = {}
        self.gone: set[str] = set()
        self.received: list[tuple[str, dict]] = []  # (device id, decrypted JSON payload)
        self.refused: list[tuple[str, str]] = []  # (device id, reason)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def device(self, server_key: str | None = None) -> Device:
        """A subscription made with `server_key` (the service's current one by default): the
        push service accepts pushes to it only signed with that key, as a vendor's does."""
        device = Device(id=b64(os.urandom(9)), server_key=server_key or self.application_server_key)
        self.devices[device.id] = device
        return device

    def stop(self):
        self.server.shutdown()

    def check_vapid(self, header: str, server_key: str | None = None) -> str | None:
        """None if the authorization is good, else why not."""
        if not header.startswith("vapid "):
            return "no vapid scheme"
        params = dict(p.strip().split("=", 1) for p in header[6:].split(","))
        if params.get("k") != (server_key or self.application_server_key):
            return "k is not the application server key"
        head, claims, signature = params["t"].split(".")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(params["k"]))
        raw = unb64(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "bad JWT signature"
        if json.loads(unb64(head)).get("alg") != "ES256":
            return "not ES256"
        body = json.loads(unb64(claims))
        if body.get("aud") != self.base:
            return f"aud {body.get('aud')!r} is not this push service"
        if not time.time() < body.get("exp", 0) <= time.time() + 24 * 3600:
            return "exp out of range"
        if not str(body.get("sub", "")).startswith(("mailto:", "https:")):
            return "no sub contact"
        return None

    def _handler(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                device_id = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if device_id in service.gone or device_id not in service.devices:
                    return self._answer(410)
                problem = service.check_vapid(self.headers.get("Authorization", ""),
                                              service.devices[device_id].server_key)
                if problem is None and self.headers.get("Content-Encoding") != "aes128gcm":
                    problem = "not aes128gcm"
                if problem is None and not self.headers.get("TTL"):
                    problem = "no TTL"
                if problem:
                    service.refused.append((device_id, problem))
                    return self._answer(403)
                device = service.devices[device_id]
                plain = http_ece.decrypt(body, private_key=device.key, auth_secret=device.auth, version="aes128gcm")
                service.received.append((device_id, json.loads(plain)))
                self._answer(201)

            def _answer(self, status):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler
