"""The hash of an audit event: SHA-256 over the previous hash and a canonical JSON body.

Written down so an auditor can recompute it with any JSON library:
    hash = sha256_hex(prev_hash + "\n" + json(body, sort_keys, separators=(",", ":"), UTF-8))
where body holds chain, seq, occurred_at (UTC, ISO 8601 with microseconds), actor_type,
actor_id, action, object_type, object_id, request_id and data. The first event of a chain
has prev_hash GENESIS.
"""

import datetime as dt
import hashlib
import json

GENESIS = "0" * 64


def canonical_time(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(prev_hash: str, *, chain: str, seq: int, occurred_at: dt.datetime, actor_type: str,
               actor_id: str, action: str, object_type: str, object_id: str, request_id: str,
               data: dict) -> str:
    body = {
        "chain": chain,
        "seq": seq,
        "occurred_at": canonical_time(occurred_at),
        "actor_type": actor_type,
        "actor_id": actor_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "request_id": request_id,
        "data": data,
    }
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{encoded}".encode("utf-8")).hexdigest()
