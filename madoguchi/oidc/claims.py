"""What a relying party learns: a pairwise subject, the facts its scopes name, and how the
resident authenticated (acr/amr)."""

import base64
import hashlib
import hmac

from django.conf import settings

from madoguchi.identity import services as identity

ACR = {
    "presence": "urn:madoguchi:acr:presence",  # a card was shown; never signs anyone in
    "login": "urn:madoguchi:acr:login",  # authentication certificate + 4-digit PIN
    "identify": "urn:madoguchi:acr:identify",  # both certificates, PIN + signature password
}
# RFC 8176: sc = smart card, hwk = proof of a hardware key, pin, pwd (the signature password).
AMR = {"presence": ["sc"], "login": ["sc", "hwk", "pin"], "identify": ["sc", "hwk", "pin", "pwd", "mfa"]}
GENDER = {"1": "male", "2": "female", "9": "not applicable"}  # ISO 5218


def pairwise_sub(person, client) -> str:
    """HMAC-SHA256(server secret, sector ‖ person): stable for one sector, unlinkable across."""
    message = f"{client.sector}\x00{person.public_id}".encode()
    digest = hmac.new(settings.OIDC_PAIRWISE_SECRET.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def under_support_measure(person) -> bool:
    """支援措置 (DV, stalking, abuse): any linked resident record that carries it."""
    return identity.under_support_measure(person)


def userinfo(person, client, scope: str) -> dict:
    scopes = set(scope.split())
    out = {"sub": pairwise_sub(person, client)}
    if "name" in scopes:
        out["name"] = person.verified_name
    if "birthdate" in scopes:
        out["birthdate"] = person.verified_birth_date.isoformat()
    if "gender" in scopes and person.verified_sex in GENDER:
        out["gender"] = GENDER[person.verified_sex]
    if "address" in scopes and not under_support_measure(person):
        out["address"] = {"formatted": person.verified_address}
    return out
