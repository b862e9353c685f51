"""`madoguchi terminal`: keygen | sync | run | gate. Bad arguments: one line, exit 2."""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import signal
import subprocess
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


def _sync_forever(agent: Agent, interval: float, stop: threading.Event | None = None) -> None:
    shown = None
    while stop is None or not stop.is_set():  # offline is normal: decisions go on against the last lists
        try:
            agent.sync()
        except SyncError as exc:
            print(f"sync failed, working offline: {exc}", file=sys.stderr, flush=True)
        if agent.state.version and agent.state.version != shown:
            shown = agent.state.version
            print(f"lists synced: {shown} (revoked {len(agent.state.revoked)}, "
                  f"allowed {sum(len(v) for v in agent.state.allow.values())})", flush=True)
        if stop is None:
            time.sleep(interval)
        elif stop.wait(interval):
            return


def _gate(agent: Agent, args) -> int:
    """The headless gate: one line per decision on stdout (time, admitted or refused and why),
    the --on-admitted command at each admission; SIGTERM or Ctrl-C stops it."""
    from madoguchi.card.transport import CardPresence, TransportError

    try:
        admit = shlex.split(args.on_admitted) if args.on_admitted else None
    except ValueError as exc:
        die(f"--on-admitted: {exc}")
    try:
        presence = CardPresence(agent.reader, timeout=10)
    except TransportError as exc:
        die(str(exc))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def decided(decision, problem: str) -> None:
        at = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        if decision is None:
            print(f"{at} refused unreadable: {problem}", flush=True)
        elif decision.admitted:
            print(f"{at} admitted", flush=True)
            if admit:
                try:
                    subprocess.run(admit, timeout=10, check=True)
                except (OSError, subprocess.SubprocessError) as exc:
                    print(f"--on-admitted failed: {exc}", file=sys.stderr, flush=True)
        else:
            print(f"{at} refused {decision.reason}", flush=True)

    threading.Thread(target=_sync_forever, args=(agent, args.interval, stop), daemon=True).start()
    print(f"gate ready on reader {presence.reader}", flush=True)
    try:
        while not stop.is_set():  # a reader unplugged or pcscd restarted: say so, wait, try again
            try:
                if presence is None:
                    presence = CardPresence(agent.reader, timeout=0)
                agent.gate(presence, decided, stop)
            except TransportError as exc:
                print(f"reader problem, trying again in 5 s: {exc}", file=sys.stderr, flush=True)
                if presence is not None:
                    presence.close()
                    presence = None
                stop.wait(5)
    except KeyboardInterrupt:
        pass
    finally:
        if presence is not None:
            presence.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="madoguchi terminal", description="the citizen card terminal agent")
    sub = p.add_subparsers(dest="command", required=True)
    k = sub.add_parser("keygen", help="make the terminal's own Ed25519 key; prints the public key to register")
    k.add_argument("--out", required=True)
    helps = {"sync": "fetch the lists once", "run": "the agent of a kiosk page (localhost HTTP) and the sync loop",
             "gate": "a hands-free gate: decide each card put on the reader, print the decision, sync in between"}
    for name in ("sync", "run", "gate"):
        s = sub.add_parser(name, help=helps[name])
        s.add_argument("--server", required=True)
        s.add_argument("--municipality", required=True)
        s.add_argument("--terminal-id", required=True)
        s.add_argument("--key", required=True)
        s.add_argument("--state", required=True, help="directory of the local state (lists, event queue)")
        s.add_argument("--service", default="tickets")
        s.add_argument("--reader", default=None)
        if name in ("run", "gate"):
            s.add_argument("--interval", type=float, default=30.0, help="seconds between syncs")
        if name == "gate":
            s.add_argument("--on-admitted", default=None,
                           help="a command run at each admission (e.g. the one that opens the turnstile)")
        if name == "run":
            s.add_argument("--origin", required=True, help="the kiosk page's origin, e.g. https://city.example")
            s.add_argument("--port", type=int, default=8765)
            s.add_argument("--library", default=None, help="a library's identifier: POST /patron answers its patron number")
            s.add_argument("--library-credential-file", default=None, help="a file holding that library's credential")
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
    if args.command == "gate":
        return _gate(agent, args)
    if args.library:
        try:
            agent.library = (args.library, Path(args.library_credential_file or "").read_text().strip())
        except OSError as exc:
            die(f"cannot read the library credential file: {exc}")
    server = kiosk_server(agent, args.origin, args.port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"terminal listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    _sync_forever(agent, args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
