"""Signed checkpoints of the audit chains, kept outside the database (issue 13).

The hash chain finds an edited or removed event in the middle, and the chain head finds a
cut tail — unless whoever cut the tail also rewinds the head, which anyone who can drop the
append-only triggers can do. A checkpoint records a chain's head (seq, hash, time) in a
sink the database's administrators cannot write (`audit.sinks`); `audit verify` then
checks that the database still holds that event with that hash.

One line per chain and checkpoint, JSON:
    {"checkpoint": {"v": 1, "chain": "5", "municipality": "139998", "seq": 42,
                    "hash": "<64 hex>", "at": "2026-12-04T20:40:00.000000Z"},
     "jws": "<protected header>..<signature>"}
`jws` is a JWS (RFC 7515) compact serialisation with a detached payload (appendix F): the
payload is the checkpoint as canonical JSON (sorted keys, no spaces, UTF-8), signed with
Ed25519 (alg "Ed25519", RFC 9864) by joserfc. So the line stays readable and any JOSE
library can check it against the public key `madoguchi audit checkpoint-key` prints.

Why a JWS with a deployment key rather than CMS with each municipality's document-signing
key: the deployment chain has no municipality, a municipality may have no installed key
yet, and one key is one thing for the operator to pin (MADOGUCHI_AUDIT_CHECKPOINT_KEY_
THUMBPRINT) and keep a copy of elsewhere. The key lives in the data directory (0600),
created on first use.
"""

import datetime as dt
import json
import logging
import os
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from .chain import canonical_time
from .models import DEPLOYMENT_CHAIN, AuditChainHead, AuditCheckpointMark, AuditEvent
from .sinks import SinkError, get_sink

logger = logging.getLogger(__name__)

KEY_FILE = "audit-checkpoint.jwk"
ALG = "Ed25519"
VERSION = 1
WRITER_LOCK = "_writer"  # the mark row every writer locks first, so lines reach the sink in order
_HASH = re.compile(r"^[0-9a-f]{64}$")
_CHAIN = re.compile(r"^(deployment|[0-9]{1,20})$")


class CheckpointKeyError(RuntimeError):
    """The signing key is missing, unreadable or not the pinned one."""


@dataclass(frozen=True)
class Checkpoint:
    chain: str
    municipality: str
    seq: int
    hash: str
    at: str
    where: str  # file:line in the sink
    stamped_at: str = ""  # the TSA's time (RFC 3161), when the line carries a valid token


@dataclass
class CheckpointIndex:
    """What the sink holds: the newest valid checkpoint of each chain, and every problem."""

    latest: dict[str, Checkpoint] = field(default_factory=dict)
    problems: dict[str | None, list[str]] = field(default_factory=dict)  # by claimed chain; None: unattributable
    lines: int = 0

    def problems_for(self, chain: str) -> list[str]:
        return self.problems.get(chain, []) + self.problems.get(None, [])

    def _problem(self, chain: str | None, message: str) -> None:
        self.problems.setdefault(chain, []).append(message)


def _key_path():
    return settings.DATA_DIR / KEY_FILE


def load_key(create: bool = False) -> OKPKey | None:
    """The checkpoint signing key; created (0600) when `create` and there is none."""
    path = _key_path()
    if not path.exists():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        key = OKPKey.generate_key("Ed25519", private=True)
        tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, json.dumps(key.as_dict(private=True)).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic, and refuses to replace: a concurrent first use keeps one key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    try:
        key = OKPKey.import_key(json.loads(path.read_text()))
    except (OSError, ValueError, JoseError) as exc:
        raise CheckpointKeyError(f"{path} is not a readable checkpoint key ({exc})") from None
    if key.curve_name != "Ed25519" or not key.is_private:
        raise CheckpointKeyError(f"{path} is not an Ed25519 private key")
    pinned = settings.AUDIT_CHECKPOINT_KEY_THUMBPRINT
    if pinned and key.thumbprint() != pinned:
        raise CheckpointKeyError(
            f"{path} has thumbprint {key.thumbprint()}, not the pinned MADOGUCHI_AUDIT_CHECKPOINT_KEY_THUMBPRINT")
    return key


def public_key() -> dict:
    """The public JWK and its RFC 7638 thumbprint, for the operator to keep elsewhere."""
    key = load_key(create=True)
    return {"jwk": key.as_dict(private=False), "thumbprint": key.thumbprint()}


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_line(key: OKPKey, payload: dict, stamp=None) -> bytes:
    """The line of one checkpoint; `stamp(bytes) -> str` adds an RFC 3161 token over its JWS."""
    compact = jws.serialize_compact({"alg": ALG, "kid": key.thumbprint()}, _canonical(payload), key,
                                    algorithms=[ALG])
    line = {"checkpoint": payload, "jws": jws.detach_content(compact)}
    if stamp is not None:
        line["tst"] = stamp(line["jws"].encode("ascii"))
    return json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _parse(data: bytes, key: OKPKey | None) -> tuple[str | None, dict | str]:
    """(claimed chain, payload) of a valid line, or (claimed chain or None, what is wrong)."""
    try:
        line = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "not a JSON line (cut short or overwritten)"
    if not isinstance(line, dict) or not isinstance(line.get("checkpoint"), dict) or not isinstance(line.get("jws"), str):
        return None, "not a checkpoint line"
    payload = line["checkpoint"]
    claimed = payload.get("chain") if isinstance(payload.get("chain"), str) and _CHAIN.match(payload["chain"]) else None
    if key is None:
        return claimed, "there is no checkpoint key in the data directory to check its signature"
    try:
        jws.deserialize_compact(line["jws"], key, algorithms=[ALG], payload=_canonical(payload))
    except (JoseError, ValueError, TypeError):
        return claimed, "the signature does not match the line (edited, or signed by another key)"
    valid = (
        payload.get("v") == VERSION and claimed is not None
        and isinstance(payload.get("seq"), int) and not isinstance(payload.get("seq"), bool) and payload["seq"] >= 0
        and isinstance(payload.get("hash"), str) and _HASH.match(payload["hash"])
        and isinstance(payload.get("at"), str) and isinstance(payload.get("municipality"), str)
    )
    if not valid:
        return claimed, "a signed line this version does not understand"
    if "tst" in line:
        from .timestamps import TimestampError, check

        try:
            if not isinstance(line["tst"], str):
                raise TimestampError("the time-stamp token is not a string")
            payload = {**payload, "_stamped_at": canonical_time(check(line["jws"].encode("ascii"), line["tst"]))}
        except TimestampError as exc:
            return claimed, str(exc)
    return claimed, payload


def load_index(sink=None) -> CheckpointIndex:
    """Reads every line of the sink: the newest checkpoint per chain, and the problems.

    A chain whose checkpoints go backwards (a later line with a lower seq, or the same seq
    with another hash) is a problem: a checkpoint written after a truncation must not hide
    the earlier one that proves it.
    """
    sink = sink or get_sink()
    index = CheckpointIndex()
    try:
        key = load_key(create=False)
    except CheckpointKeyError as exc:
        index._problem(None, str(exc))
        return index
    try:
        for stored in sink.read():
            index.lines += 1
            if not stored.complete:
                index._problem(None, f"{stored.where}: the last line is incomplete (the file was cut short)")
                continue
            claimed, parsed = _parse(stored.data, key)
            if isinstance(parsed, str):
                index._problem(claimed, f"{stored.where}: {parsed}")
                continue
            checkpoint = Checkpoint(parsed["chain"], parsed["municipality"], parsed["seq"], parsed["hash"],
                                    parsed["at"], stored.where, parsed.get("_stamped_at", ""))
            before = index.latest.get(checkpoint.chain)
            if before is not None and (checkpoint.seq < before.seq
                                       or (checkpoint.seq == before.seq and checkpoint.hash != before.hash)):
                index._problem(checkpoint.chain, f"{stored.where}: records seq {checkpoint.seq} after {before.where} "
                                                 f"recorded seq {before.seq}: the chain was rewound between them")
                continue
            index.latest[checkpoint.chain] = checkpoint
    except SinkError as exc:
        index._problem(None, str(exc))
    return index


def check_marks(index: CheckpointIndex, chains: list[str]) -> None:
    """Adds a problem for each chain whose newest checkpoint the database records but the
    sink no longer holds (lines lost from the end of a file, or a replaced file)."""
    for mark in AuditCheckpointMark.objects.filter(chain__in=chains):
        latest = index.latest.get(mark.chain)
        if latest is None or latest.seq < mark.seq:
            index._problem(mark.chain, f"the checkpoint of seq {mark.seq} written at {canonical_time(mark.written_at)} "
                                       f"is not in the checkpoint sink (it ends at "
                                       f"{'no checkpoint' if latest is None else f'seq {latest.seq}'}): "
                                       "the checkpoint file was cut short or replaced")


@dataclass
class WriteResult:
    written: list[Checkpoint] = field(default_factory=list)
    unchanged: int = 0
    refused: list[str] = field(default_factory=list)  # one line per chain that went backwards
    unstamped: str = ""  # why the TSA gave no time-stamps this run (the checkpoints are written without)


def write_checkpoints(all_chains: bool = False, now: dt.datetime | None = None) -> WriteResult:
    """Writes one checkpoint per chain whose head moved since its last checkpoint (every
    chain with `all_chains`). A chain that is now shorter than its last checkpoint, or
    differs at its seq, gets no new checkpoint: that would bless the truncation."""
    from madoguchi.municipalities.models import Municipality

    from . import timestamps
    from .timestamps import TimestampError

    now = now or timezone.now()
    key = load_key(create=True)
    sink = get_sink()
    stamp = timestamps.stamp if timestamps.enabled() else None
    result = WriteResult()
    with transaction.atomic():
        AuditCheckpointMark.objects.select_for_update().get_or_create(
            chain=WRITER_LOCK, defaults={"seq": 0, "hash": "", "written_at": now})
        marks = {m.chain: m for m in AuditCheckpointMark.objects.exclude(chain=WRITER_LOCK)}
        codes = dict(Municipality.objects.values_list("pk", "code"))
        lines, pending = [], []
        for head in AuditChainHead.objects.order_by("chain"):
            if head.last_seq == 0:
                continue
            label = codes.get(int(head.chain), head.chain) if head.chain != DEPLOYMENT_CHAIN else DEPLOYMENT_CHAIN
            mark = marks.get(head.chain)
            if mark is not None:
                if not all_chains and (mark.seq, mark.hash) == (head.last_seq, head.last_hash):
                    result.unchanged += 1
                    continue
                events = AuditEvent.unscoped.filter(seq=mark.seq)
                events = (events.filter(municipality__isnull=True) if head.chain == DEPLOYMENT_CHAIN
                          else events.filter(municipality_id=int(head.chain)))
                at_mark = events.values_list("hash", flat=True).first()
                if head.last_seq < mark.seq or at_mark != mark.hash:
                    message = (f"{label}: the chain now ends at seq {head.last_seq} but was checkpointed at seq "
                               f"{mark.seq} ({canonical_time(mark.written_at)})"
                               if head.last_seq < mark.seq or at_mark is None else
                               f"{label}: event {mark.seq} differs from its checkpoint of {canonical_time(mark.written_at)}")
                    logger.error("audit checkpoint refused: %s", message)
                    result.refused.append(message)
                    continue
            payload = {"v": VERSION, "chain": head.chain,
                       "municipality": "" if head.chain == DEPLOYMENT_CHAIN else str(label),
                       "seq": head.last_seq, "hash": head.last_hash, "at": canonical_time(now)}
            try:
                lines.append(sign_line(key, payload, stamp if stamp is not None and not result.unstamped else None))
            except TimestampError as exc:
                # The anchor matters more than its time-stamp: written without, said loudly.
                logger.error("audit checkpoint not time-stamped: %s", exc)
                result.unstamped = str(exc)
                lines.append(sign_line(key, payload))
            pending.append((head, payload))
        # The sink first: a mark must never claim a checkpoint the sink did not take.
        sink.append(lines)
        for head, payload in pending:
            AuditCheckpointMark.objects.update_or_create(
                chain=head.chain, defaults={"seq": head.last_seq, "hash": head.last_hash, "written_at": now})
            result.written.append(Checkpoint(head.chain, payload["municipality"], head.last_seq, head.last_hash,
                                             payload["at"], sink.describe()))
    return result
