"""A SIP2 listener for library self-checkout machines: Patron Status Request (23) with the
card's key in AA → Patron Status Response (24) with the library's patron number in AA.

The self-checkout reads the card without a PIN, computes its card key (the first 8 bytes of
the authentication certificate's SHA-256, 16 hex digits: madoguchi.terminal.index.card_key)
and asks. AO is the library's identifier, AC (terminal password) its credential. A message
that cannot be read (bad checksum, malformed, another command) is answered 96 (Request SC
Resend); after 5 in a row, or a line over 2 KB, or 60 s of silence, the connection closes."""

from __future__ import annotations

import datetime as dt
import socketserver

from django.db import close_old_connections

from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant

from . import services, sip2

MAX_ERRORS = 5
IDLE_SECONDS = 60


def answer(municipality, request: sip2.PatronStatusRequest, now: dt.datetime | None = None) -> sip2.PatronStatusResponse:
    now = now or dt.datetime.now(dt.timezone.utc)
    common = dict(language=request.language, transaction_date=sip2.transaction_date(now),
                  institution_id=request.institution_id, sequence=request.sequence)
    with tenant(municipality):
        try:
            library = services.authenticate(request.institution_id, request.terminal_password)
            found = services.patron(library, card=request.patron_identifier.strip().lower())
        except services.Refused as exc:
            status = sip2.LOST if exc.code == "revoked" else sip2.DENIED
            return sip2.PatronStatusResponse(patron_status=status, patron_identifier=request.patron_identifier,
                                             valid_patron=False, screen_messages=(exc.message,), **common)
    return sip2.PatronStatusResponse(patron_status=sip2.ALLOWED, patron_identifier=found["patron_number"],
                                     valid_patron=True, **common)


def handle_frame(municipality, frame: bytes) -> bytes:
    """The answer to one message (without its CR): a 24, or 96 when it cannot be read."""
    frame = frame.rstrip(b"\n").lstrip(b"\n")
    try:
        request = sip2.decode_request(frame)
    except sip2.SIP2Error:
        return sip2.RESEND
    try:
        return answer(municipality, request).encode()
    finally:
        close_old_connections()


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.settimeout(IDLE_SECONDS)
        buffer, errors = b"", 0
        while True:
            while b"\r" not in buffer:
                if len(buffer) > sip2.MAX_MESSAGE:
                    return  # no CR within 2 KB: not SIP2, close
                try:
                    chunk = sock.recv(4096)
                except OSError:  # idle timeout or reset
                    return
                if not chunk:
                    return
                buffer += chunk
            frame, buffer = buffer.split(b"\r", 1)
            if len(frame) > sip2.MAX_MESSAGE:
                return
            reply = handle_frame(self.server.municipality, frame)
            errors = errors + 1 if reply == sip2.RESEND else 0
            try:
                sock.sendall(reply)
            except OSError:
                return
            if errors >= MAX_ERRORS:
                return


class SIP2Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, municipality, address: tuple[str, int]):
        self.municipality = municipality
        super().__init__(address, _Handler)


def serve(municipality_code: str, host: str, port: int) -> SIP2Server:
    municipality = Municipality.objects.filter(code=municipality_code).first()
    if municipality is None:
        raise LookupError(f"no municipality {municipality_code!r}")
    return SIP2Server(municipality, (host, port))
