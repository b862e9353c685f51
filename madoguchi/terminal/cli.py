"""`madoguchi terminal`: keygen | sync | run. Bad arguments: one line, exit 2."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from . import signing
from .agent import Agent, SyncError, kiosk_server
from .state import LocalState


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"madoguchi terminal: {message}\n")
        sys.exit(2)


def die(message: str) -> None:
    sys.stderr.write(f"madoguchi terminal: {message}\n")
    sys.exit(2)


def _agent(args) -> Agent:
    try:
        key = signing.load_private(Path(args.key).read_bytes())
    except (OSError, ValueError) as exc:
        die(f"cannot read the terminal key {args.key}: {exc}")
    return Agent(args.server, args.municipality, args.terminal_id, key, LocalState(Path(args.state) / "terminal.sqlite3"),
                 service=args.service, reader=args.reader)


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="madoguchi terminal", description="the citizen card terminal agent")
    sub = p.add_subparsers(dest="command", required=True)
    k = sub.add_parser("keygen", help="make the terminal's own Ed25519 key; prints the public key to register")
    k.add_argument("--out", required=True)
    for name in ("sync", "run"):
        s = sub.add_parser(name)
        s.add_argument("--server", required=True)
        s.add_argument("--municipality", required=True)
        s.add_argument("--terminal-id", required=True)
        s.add_argument("--key", required=True)
        s.add_argument("--state", required=True, help="directory of the local state (lists, event queue)")
        s.add_argument("--service", default="tickets")
        s.add_argument("--reader", default=None)
        if name == "run":
            s.add_argument("--origin", required=True, help="the kiosk page's origin, e.g. https://city.example")
            s.add_argument("--port", type=int, default=8765)
            s.add_argument("--interval", type=float, default=30.0)
    args = p.parse_args(argv)
    if args.command == "keygen":
        out = Path(args.out)
        if out.exists():
            die(f"{out} exists; not overwriting a terminal key")
        key = signing.new_key()
        out.write_bytes(signing.private_pem(key))
        out.chmod(0o600)
        print(signing.public_pem(key), end="")
        return 0
    agent = _agent(args)
    if args.command == "sync":
        try:
            agent.sync()
        except SyncError as exc:
            die(str(exc))
        print(f"lists {agent.state.version}, revoked {len(agent.state.revoked)}, "
              f"allowed {sum(len(v) for v in agent.state.allow.values())}")
        return 0
    server = kiosk_server(agent, args.origin, args.port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"terminal listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    while True:  # offline is normal: decisions go on against the last lists
        try:
            agent.sync()
        except SyncError as exc:
            print(f"sync failed, working offline: {exc}", file=sys.stderr, flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
