"""OCSP (RFC 6960): a client that checks nonce, responder signature and responder authorisation,
and a development responder that answers for a CA whose key it holds (tests and demo only).

The responder is authorised when it is the issuing CA itself, or a certificate issued
directly by that CA with extendedKeyUsage id-kp-OCSPSigning (RFC 6960 §4.2.2.2).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from .crlindex import ALLOWED_SIGNATURES
from .errors import MalformedInput, OCSPError
from .signatures import signature_verifies

UTC = dt.timezone.utc
MAX_RESPONSE_BYTES = 64 * 1024
SKEW = dt.timedelta(minutes=5)

Transport = Callable[[str, bytes], bytes]


def http_post(url: str, body: bytes, timeout: float = 5.0) -> bytes:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/ocsp-request"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 — URL from config/cert
        return resp.read(MAX_RESPONSE_BYTES + 1)


@dataclass(frozen=True)
class OCSPAnswer:
    status: str  # good | revoked | unknown
    this_update: dt.datetime
    next_update: dt.datetime | None
    produced_at: dt.datetime
    responder: str
    revoked_at: dt.datetime | None = None
    reason: str | None = None
    response_der: bytes = b""

    def as_dict(self) -> dict:
        return {"status": self.status, "this_update": self.this_update.isoformat(),
                "next_update": self.next_update.isoformat() if self.next_update else None,
                "produced_at": self.produced_at.isoformat(), "responder": self.responder,
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None, "reason": self.reason}


def _responder_matches(resp: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    if resp.responder_name is not None:
        return resp.responder_name == cert.subject
    # byKey: SHA-1 of the subjectPublicKey bits — the RFC 5280 method-1 key identifier.
    return resp.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def build_request(cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes) -> bytes:
    req = (ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256())
           .add_extension(x509.OCSPNonce(nonce), critical=False).build())
    return req.public_bytes(serialization.Encoding.DER)


def parse_response(data: bytes, cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None,
                   at: dt.datetime) -> OCSPAnswer:
    """Checks an OCSP response for `cert` and returns the answer; OCSPError when unusable."""
    if len(data) > MAX_RESPONSE_BYTES:
        raise MalformedInput("OCSP response oversized")
    try:
        resp = ocsp.load_der_ocsp_response(data)
        status = resp.response_status
    except Exception as exc:  # noqa: BLE001
        raise MalformedInput(f"not an OCSP response: {exc}") from None
    if status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OCSPError(f"responder said {status.name}", "ocsp_unsuccessful")
    try:
        sig_oid = resp.signature_algorithm_oid
        tbs = resp.tbs_response_bytes
        signature = resp.signature
        algorithm = resp.signature_hash_algorithm
        extensions = resp.extensions
        produced_at = resp.produced_at_utc
        singles = [(s.serial_number, s.issuer_name_hash, s.issuer_key_hash, s.hash_algorithm, s.this_update_utc,
                    s.next_update_utc, s.certificate_status, s.revocation_time_utc if
                    s.certificate_status is ocsp.OCSPCertStatus.REVOKED else None,
                    s.revocation_reason if s.certificate_status is ocsp.OCSPCertStatus.REVOKED else None)
                   for s in resp.responses]
        included = list(resp.certificates)
        responder_name, responder_key_hash = resp.responder_name, resp.responder_key_hash
    except Exception as exc:  # noqa: BLE001 — ValueError, UnsupportedAlgorithm, InvalidVersion…
        raise MalformedInput(f"OCSP response does not parse: {type(exc).__name__}: {exc}") from None
    if sig_oid not in ALLOWED_SIGNATURES:
        raise OCSPError(f"OCSP signature algorithm {sig_oid.dotted_string} is not accepted", "unsupported_algorithm")
    # Who signed: the CA itself, or a delegated responder certified by the CA for OCSP signing.
    signer = None
    if _responder_matches(resp, issuer):
        signer = issuer
    else:
        for c in included:
            if not _responder_matches(resp, c):
                continue
            try:
                c.verify_directly_issued_by(issuer)
                eku = c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except Exception:  # noqa: BLE001 — not issued by the CA, or no EKU
                continue
            if ExtendedKeyUsageOID.OCSP_SIGNING in eku and c.not_valid_before_utc <= at <= c.not_valid_after_utc:
                signer = c
                break
    if signer is None:
        raise OCSPError("OCSP responder is not authorised by the issuing CA", "ocsp_unauthorised")
    if not signature_verifies(signer.public_key(), signature, tbs, algorithm):
        raise OCSPError("OCSP response signature does not verify", "ocsp_bad_signature")
    if nonce is not None:
        try:
            got = extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            raise OCSPError("OCSP response carries no nonce (replay protection)", "ocsp_nonce") from None
        if got != nonce:
            raise OCSPError("OCSP nonce mismatch (replayed or misrouted response)", "ocsp_nonce")
    for serial, name_hash, key_hash, hash_alg, this_update, next_update, st, revoked_at, reason_flag in singles:
        if serial != cert.serial_number:
            continue
        if name_hash != _hash(hash_alg, issuer.subject.public_bytes()) or key_hash != _hash(hash_alg, _spk(issuer)):
            continue
        if this_update > at + SKEW:
            raise OCSPError("OCSP thisUpdate is in the future", "ocsp_not_yet_valid")
        if next_update is not None and next_update + SKEW < at:
            raise OCSPError("OCSP response is stale (nextUpdate passed)", "ocsp_stale")
        reason = reason_flag.name if reason_flag else None
        return OCSPAnswer(st.name.lower(), this_update, next_update, produced_at,
                          signer.subject.rfc4514_string(), revoked_at, _rfc_reason(reason), data)
    raise OCSPError("OCSP response does not cover this certificate", "ocsp_wrong_certificate")


_REASONS = {"unspecified": "unspecified", "key_compromise": "keyCompromise", "ca_compromise": "cACompromise",
            "affiliation_changed": "affiliationChanged", "superseded": "superseded",
            "cessation_of_operation": "cessationOfOperation", "certificate_hold": "certificateHold",
            "privilege_withdrawn": "privilegeWithdrawn", "aa_compromise": "aACompromise",
            "remove_from_crl": "removeFromCRL"}


def _rfc_reason(name: str | None) -> str | None:
    return _REASONS.get(name, name) if name else None


def _spk(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING contents (what CertID.issuerKeyHash hashes)."""
    from asn1crypto import keys as akeys
    spki = akeys.PublicKeyInfo.load(cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    return spki["public_key"].contents[1:]


def _hash(algorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


class OCSPClient:
    """Asks the responder named in the certificate's AIA (or `url`) and checks the answer."""

    def __init__(self, url: str | None = None, transport: Transport = http_post):
        self.url = url
        self.transport = transport

    def responder_url(self, cert: x509.Certificate) -> str:
        if self.url:
            return self.url
        try:
            aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        except x509.ExtensionNotFound:
            raise OCSPError("no OCSP responder configured or named in the certificate", "ocsp_no_responder") from None
        for d in aia:
            if d.access_method == AuthorityInformationAccessOID.OCSP:
                return d.access_location.value
        raise OCSPError("no OCSP responder configured or named in the certificate", "ocsp_no_responder")

    def check(self, cert: x509.Certificate, issuer: x509.Certificate, at: dt.datetime | None = None) -> OCSPAnswer:
        at = at or dt.datetime.now(UTC)
        nonce = os.urandom(16)
        body = build_request(cert, issuer, nonce)
        try:
            data = self.transport(self.responder_url(cert), body)
        except OCSPError:
            raise
        except Exception as exc:  # noqa: BLE001 — network failures of any kind
            raise OCSPError(f"OCSP responder unreachable: {type(exc).__name__}", "ocsp_unreachable") from None
        return parse_response(data, cert, issuer, nonce, at)


# -- development responder -------------------------------------------------------------

@dataclass
class DevResponder:
    """Answers OCSP requests for one CA. `revoked(serial)` → (date, x509.ReasonFlags) or None.

    With `responder_cert`/`responder_key` it signs as a delegated responder; otherwise as the CA.
    """

    ca_cert: x509.Certificate
    ca_key: object
    revoked: Callable[[int], tuple[dt.datetime, x509.ReasonFlags | None] | None]
    responder_cert: x509.Certificate | None = None
    responder_key: object = None
    echo_nonce: bool = True
    validity: dt.timedelta = dt.timedelta(hours=1)
    known: Callable[[int], bool] | None = None  # when given, serials it rejects are answered "unknown"

    @classmethod
    def for_dev_ca(cls, ca, purpose: str) -> DevResponder:
        """For helper-1's `devca.DevCA`: its key file and its revocation state."""
        key = serialization.load_pem_private_key((ca.directory / f"{purpose}-ca.key.pem").read_bytes(), None)

        def revoked(serial: int):
            info = ca.revoked().get(serial)
            if info is None or info["purpose"] != purpose:
                return None
            return dt.datetime.fromisoformat(info["date"]), x509.ReasonFlags(info["reason"])
        return cls(ca.certificate(purpose), key, revoked)

    def respond(self, request_der: bytes, now: dt.datetime | None = None) -> bytes:
        now = (now or dt.datetime.now(UTC)).replace(microsecond=0)
        try:
            req = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(serialization.Encoding.DER)
        if req.issuer_key_hash != _hash(req.hash_algorithm, _spk(self.ca_cert)):
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(serialization.Encoding.DER)
        hit = self.revoked(req.serial_number)
        # The builder wants the certificate; a stand-in with the right serial and issuer suffices
        # for the CertID, which is all it takes from it.
        stand_in = _stand_in(req.serial_number, self.ca_cert)
        if self.known is not None and not self.known(req.serial_number):
            status, rev_time, reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
        elif hit is None:
            status, rev_time, reason = ocsp.OCSPCertStatus.GOOD, None, None
        else:
            status, (rev_time, reason) = ocsp.OCSPCertStatus.REVOKED, hit
        b = ocsp.OCSPResponseBuilder().add_response(
            cert=stand_in, issuer=self.ca_cert, algorithm=req.hash_algorithm, cert_status=status,
            this_update=now, next_update=now + self.validity, revocation_time=rev_time, revocation_reason=reason)
        if self.responder_cert is not None:
            b = b.responder_id(ocsp.OCSPResponderEncoding.HASH, self.responder_cert).certificates([self.responder_cert])
            key = self.responder_key
        else:
            b = b.responder_id(ocsp.OCSPResponderEncoding.HASH, self.ca_cert)
            key = self.ca_key
        if self.echo_nonce:
            try:
                nonce = req.extensions.get_extension_for_class(x509.OCSPNonce).value
                b = b.add_extension(nonce, critical=False)
            except x509.ExtensionNotFound:
                pass
        return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def transport(self, url: str, body: bytes) -> bytes:
        """Use as an OCSPClient transport, in process."""
        return self.respond(body)


_STAND_IN_KEY: list = []


def _stand_in(serial: int, issuer: x509.Certificate) -> x509.Certificate:
    if not _STAND_IN_KEY:
        _STAND_IN_KEY.append(ec.generate_private_key(ec.SECP256R1()))
    k = _STAND_IN_KEY[0]
    now = dt.datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(issuer.subject).issuer_name(issuer.subject)
            .public_key(k.public_key()).serial_number(serial).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(k, hashes.SHA256()))


def serve(responder: DevResponder, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """An HTTP OCSP responder in a daemon thread; returns (server, url). server.shutdown() stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            n = int(self.headers.get("Content-Length") or 0)
            body = responder.respond(self.rfile.read(min(n, MAX_RESPONSE_BYTES)))
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}/"
