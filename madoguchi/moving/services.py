"""Receiving a 転出 package at the destination: verified against the destination's trust
roots, addressed to a municipality of this deployment, received once (a replay is refused)."""

import base64
import json

from cryptography.hazmat.primitives import hashes
from django.db import IntegrityError, transaction

from madoguchi.audit.services import record
from madoguchi.documents import services as documents
from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant

from . import package
from .models import IncomingMove

REQUIRED = ("origin", "destination", "application", "move_out_on", "persons")


def _addressee(data: bytes) -> Municipality:
    """The municipality the package names (read before verification only to pick the roots;
    the verified payload must name the same one)."""
    try:
        envelope = json.loads(data)
        destination = json.loads(base64.b64decode(envelope["payload"], validate=True))["destination"]
    except Exception:
        package.verify(data, [])  # raises the precise one-line reason
        raise package.PackageError("the package names no destination") from None
    found = Municipality.objects.filter(code=str(destination)).first()
    if found is None:
        raise package.PackageError(f"the destination {destination} is not a municipality of this deployment")
    return found


def receive(data: bytes) -> IncomingMove:
    destination = _addressee(data)
    payload, signer = package.verify(data, documents.trust_roots(destination))
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise package.PackageError(f"the package lacks {', '.join(missing)}")
    if payload["destination"] != destination.code:
        raise package.PackageError("the package's destination does not match")
    if payload["origin"] == destination.code:
        raise package.PackageError("a move within one municipality is not a 転出")
    with tenant(destination):
        try:
            with transaction.atomic():
                move = IncomingMove.objects.create(
                    municipality=destination, origin_code=str(payload["origin"]),
                    application=str(payload["application"]), move_out_on=str(payload["move_out_on"]),
                    payload=payload, signer_sha256=signer.fingerprint(hashes.SHA256()).hex())
                record("moving.received", obj=move,
                       data={"origin": move.origin_code, "application": move.application})
        except IntegrityError:
            raise package.PackageError("this package has already been received") from None
    return move
