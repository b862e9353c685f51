"""The terminal's durable local state: one SQLite file (WAL, synchronous FULL).

- `lists`: the last synced revocation index and allow-lists (per service), as blobs.
- `used`: (service, card key) admitted at this terminal: a ticket admits exactly once here
  even while offline; the server settles admissions across gates when events arrive. A card
  on the service's re-entry list (`service + REENTRY`: a multi-entry ticket, a day pass) is
  admitted every time and never marked used.
- `events`: the queue. An event is written in the same transaction as its decision, with a
  random id; it is deleted only after the server acknowledged that id. The server keeps
  events unique by (terminal, id), so a resend after a crash is never a duplicate.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

from .index import SortedKeys

SCHEMA = """
CREATE TABLE IF NOT EXISTS lists (name TEXT PRIMARY KEY, data BLOB NOT NULL, version TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS used (service TEXT NOT NULL, card INTEGER NOT NULL, PRIMARY KEY (service, card));
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


REENTRY = "+reentry"  # the allow-list of a service's cards that may enter again and again


@dataclass(frozen=True)
class Decision:
    admitted: bool
    reason: str  # "admitted" | "revoked" | "not_allowed" | "already_used" | "no_lists"
    event_id: str | None = None


_EMPTY = SortedKeys.build([])


def _signed(card: int) -> int:  # SQLite integers are signed 64-bit
    return card - (1 << 64) if card >= 1 << 63 else card


class LocalState:
    def __init__(self, path: str | Path, synchronous: str = "FULL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous is FULL or NORMAL")
        # FULL: an event survives a power cut once the gate showed its answer. NORMAL (WAL):
        # survives a crash of the agent, may lose the last ones on a power cut.
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.executescript(SCHEMA)
        self.revoked = SortedKeys.build([])
        self.allow: dict[str, SortedKeys] = {}
        self.version = ""
        self.revoked_version = ""  # the server's version of the revocation index held here
        self._load()

    def _load(self) -> None:
        for name, data, version in self.db.execute("SELECT name, data, version FROM lists"):
            keys = SortedKeys.from_bytes(bytes(data))
            if name == "revoked":
                self.revoked = keys
            else:
                self.allow[name.removeprefix("allow:")] = keys
            self.version = version
        row = self.db.execute("SELECT value FROM meta WHERE key = 'revoked_version'").fetchone()
        self.revoked_version = row[0] if row and "revoked" in self._names() else ""

    def _names(self) -> set[str]:
        return {name for (name,) in self.db.execute("SELECT name FROM lists")}

    def install(self, version: str, revoked: SortedKeys | None, allow: dict[str, SortedKeys],
                revoked_version: str = "") -> None:
        """Replaces the lists in one transaction; lookups in flight finish on the old ones.
        `revoked` None keeps the installed revocation index (the server said it is unchanged):
        a 10M-serial index is neither downloaded nor rewritten at every sync."""
        if revoked is None and (not revoked_version or revoked_version != self.revoked_version):
            raise ValueError("no revocation index to keep")
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if revoked is None:
                self.db.execute("DELETE FROM lists WHERE name != 'revoked'")
                self.db.execute("UPDATE lists SET version = ? WHERE name = 'revoked'", (version,))
            else:
                self.db.execute("DELETE FROM lists")
                self.db.execute("INSERT INTO lists VALUES ('revoked', ?, ?)", (revoked.to_bytes(), version))
            for service, keys in allow.items():
                self.db.execute("INSERT INTO lists VALUES (?, ?, ?)", (f"allow:{service}", keys.to_bytes(), version))
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('revoked_version', ?)", (revoked_version,))
        if revoked is not None:
            self.revoked = revoked
        self.allow, self.version, self.revoked_version = dict(allow), version, revoked_version

    def decide(self, service: str, card: int, serial: int, now: dt.datetime | None = None,
               once: bool = True) -> Decision:
        """Offline decision for a card shown at this terminal; the event is queued with it."""
        if not self.version:
            reason = "no_lists"
        elif serial in self.revoked:
            reason = "revoked"
        elif card in self.allow.get(service, _EMPTY):
            reason = "admitted"
        elif card in self.allow.get(service + REENTRY, _EMPTY):
            reason, once = "admitted", False
        elif self.db.execute("SELECT 1 FROM used WHERE service = ? AND card = ?", (service, _signed(card))).fetchone():
            reason = "already_used"  # admitted here, then left the list at a sync: say why, not "no ticket"
        else:
            reason = "not_allowed"
        event_id = str(uuid.uuid4())
        at = (now or dt.datetime.now(dt.timezone.utc)).isoformat()
        body = {"id": event_id, "service": service, "card": f"{card:016x}", "result": reason, "at": at}
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if reason == "admitted" and once:
                cur = self.db.execute("INSERT OR IGNORE INTO used VALUES (?, ?)", (service, _signed(card)))
                if cur.rowcount == 0:
                    reason = body["result"] = "already_used"
            self.db.execute("INSERT INTO events (id, body) VALUES (?, ?)", (event_id, json.dumps(body)))
        return Decision(reason == "admitted", reason, event_id)

    def pending(self, limit: int = 500) -> list[dict]:
        return [json.loads(b) for (b,) in self.db.execute("SELECT body FROM events ORDER BY seq LIMIT ?", (limit,))]

    def acknowledge(self, ids: list[str]) -> None:
        with self.db:
            self.db.executemany("DELETE FROM events WHERE id = ?", [(i,) for i in ids])

    def close(self) -> None:
        self.db.close()
