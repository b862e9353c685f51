"""The benefit-day mix under load (Locust, headless): throughput and p50/p95/p99 per step and
per flow, beside /livez through the same front door in the same run (the baseline).

The target is started here and stopped at the end, loopback and namespaces only:

- `--target topology` (default; root, PostgreSQL): scripts/topology, two app servers and two
  workers behind HAProxy (tests/topology/harness.py);
- `--target single`: one `madoguchi serve` on PostgreSQL (tests/server.py), the same mix.

The mix and its steps are in bench/locust_benefit_day.py. Before the timed run (untimed) the
demo resident 窓口 太郎 links his card (`identify`) and his phone app gets a bearer token
(OpenID Connect code + PKCE). One resident makes every application, so the per-resident limit
(MADOGUCHI_APPLICATION_API_RATE) is raised on the target; the per-address limits stay on (each
flow comes from another loopback address). The run stops at --seconds or --max-requests,
whichever comes first.

    .venv/bin/python bench/load.py [--target topology|single] [--users 8] [--seconds 60]
        [--max-requests 20000] [--app-workers 1] [--wait 1]
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import bench_database, trivial_rate  # noqa: E402


def start_target(args, tmp: Path):
    """(port, host environment for the CLI, data directory, stop)."""
    if args.target == "topology":
        # The application's role, as `make test` sets it up; the topology makes its own database.
        admin = os.environ.get("MADOGUCHI_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        os.environ["MADOGUCHI_DATABASE_URL"] = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "pg_setup.py"), admin], capture_output=True, text=True,
            check=True).stdout.strip()
        from tests.topology.harness import Topology

        # Plain http on loopback: the session and CSRF cookies without `Secure`, or Locust's
        # client (requests) would not send them back.
        topology = Topology(tmp, app_workers=args.app_workers, MADOGUCHI_SECURE_COOKIES="false")
        try:
            topology.script("up")
        except BaseException:
            topology.down()
            raise
        return topology.port, topology.env, topology.data_dir, topology.down
    from tests.server import start

    url, drop = bench_database(False, "load")
    server = start(tmp, url, workers=args.app_workers, MADOGUCHI_APPLICATION_API_RATE="100000",
                   MADOGUCHI_SECURE_COOKIES="false")

    def stop():
        server.stop()
        drop()

    return int(server.base_url.rsplit(":", 1)[1]), server.env, tmp, stop


def percentile_table(stats_csv: Path) -> list[dict]:
    with open(stats_csv, newline="") as fh:
        return list(csv.DictReader(fh))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=["topology", "single"], default="topology")
    parser.add_argument("--users", type=int, default=8, help="simulated residents at once")
    parser.add_argument("--spawn-rate", type=float, default=4)
    parser.add_argument("--seconds", type=int, default=60, help="the run's time bound (at most 240)")
    parser.add_argument("--max-requests", type=int, default=20000, help="the run's request bound")
    parser.add_argument("--app-workers", type=int, default=1, help="gunicorn workers per app server")
    parser.add_argument("--wait", type=float, default=1.0, help="a resident's think time, 0..WAIT seconds")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 240:  # the bearer token lives 300 s
        parser.error("--seconds must be between 1 and 240")

    os.environ.setdefault("MADOGUCHI_ENV", "test")
    with tempfile.TemporaryDirectory(prefix="madoguchi-load-") as tmp:
        tmp = Path(tmp)
        port, env, data_dir, stop = start_target(args, tmp / "target")
        try:
            from bench.application_submit import Resident as PhoneApp

            phone = PhoneApp(port, env, str(data_dir))  # links taro's card; his app's client
            token = phone.token()
            locust_env = {**os.environ, "LOAD_CARD_DIR": str(data_dir / "cards" / "taro"), "LOAD_TOKEN": token,
                          "LOAD_MAX_REQUESTS": str(args.max_requests), "LOAD_WAIT": str(args.wait)}
            command = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locust_benefit_day.py"),
                       "--headless", "--only-summary", "--users", str(args.users),
                       "--spawn-rate", str(args.spawn_rate), "--run-time", f"{args.seconds}s",
                       "--stop-timeout", "10", "--host", f"http://127.0.0.1:{port}",
                       "--csv", str(tmp / "load"), "--loglevel", "WARNING", "--exit-code-on-error", "0"]
            started = time.monotonic()
            result = subprocess.run(command, env=locust_env, cwd=ROOT, capture_output=True, text=True,
                                    timeout=args.seconds + 120)
            wall = time.monotonic() - started
            if result.returncode != 0:
                print(result.stderr[-3000:])
                return 1
            rows = percentile_table(tmp / "load_stats.csv")
            baseline = trivial_rate(port, 5, args.users)
        finally:
            stop()

    load = os.getloadavg()[0]
    print(f"benefit-day mix against {'two app servers + two workers behind HAProxy' if args.target == 'topology' else 'one app server'}"
          f" ({args.app_workers} gunicorn worker(s) x 4 threads each), PostgreSQL; {args.users} residents, "
          f"think time 0-{args.wait:g} s; bounds {args.seconds} s / {args.max_requests} requests; "
          f"Locust ran {wall:.0f} s; load average {load:.1f}")
    print(f"{'step':46} {'count':>6} {'fail':>5} {'per s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    failures = 0
    for row in rows:
        if row["Name"] == "Aggregated":
            continue
        failures += int(row["Failure Count"])
        name = (row["Type"] + " " if row["Type"] == "FLOW" else "") + row["Name"]
        print(f"{name[:46]:46} {row['Request Count']:>6} {row['Failure Count']:>5} {float(row['Requests/s']):7.1f} "
              f"{row['50%']:>7} {row['95%']:>7} {row['99%']:>7}")
    total = next(r for r in rows if r["Name"] == "Aggregated")
    flows = sum(int(r["Request Count"]) for r in rows if r["Type"] == "FLOW")
    requests = int(total["Request Count"]) - flows
    print(f"all requests: {requests} in the run, {requests / wall:.1f}/s over Locust's wall time; "
          f"failures {failures}")
    print(f"baseline /livez through the same front door, same run: {baseline:.1f}/s "
          f"(the mix's requests {requests / wall / baseline:.3f}x of it)")
    if failures:
        print(f"failures (first lines of Locust's log):\n{result.stderr[-2000:]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
