"""The console command as an operator runs it: a real process, real exit codes."""

import os
import subprocess
import sys


def madoguchi(*args, env=None, data_dir=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    environment.update({"MADOGUCHI_ENV": "dev"})
    if data_dir is not None:
        environment["MADOGUCHI_DATA_DIR"] = str(data_dir)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "madoguchi", *args], env=environment,
                          capture_output=True, text=True, timeout=120)


def test_help_lists_the_commands():
    result = madoguchi("--help")
    assert result.returncode == 0
    for command in ("serve", "worker", "demo", "migrate", "audit", "run"):
        assert command in result.stdout


def test_bad_arguments_are_one_line_and_exit_2():
    for args in (["serve", "--port", "nope"], ["audit"], ["no-such-command"], ["serve", "--port", "70000"],
                 ["serve", "--proxy-protocol-from", "balancer.example"], ["serve", "--proxy-protocol-from", "*"]):
        result = madoguchi(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
        assert result.stderr.startswith("madoguchi:")


def test_broken_configuration_is_one_line_and_exit_2(tmp_path):
    result = madoguchi("migrate", env={"MADOGUCHI_ENV": "production"}, data_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "configuration error" in result.stderr
    result = madoguchi("migrate", env={"MADOGUCHI_DATABASE_URL": "oracle://x"}, data_dir=tmp_path)
    assert result.returncode == 2 and "sqlite:// or postgresql://" in result.stderr


def test_scale_out_settings_are_checked(tmp_path):
    result = madoguchi("serve", env={"MADOGUCHI_PROXY_PROTOCOL_FROM": "10.0.0.1,nope"}, data_dir=tmp_path)
    assert result.returncode == 2 and "'nope' is not an IP address or network" in result.stderr
    result = madoguchi("migrate", env={"MADOGUCHI_CACHE_URL": "memcached://127.0.0.1:11211"}, data_dir=tmp_path)
    assert result.returncode == 2 and "MADOGUCHI_CACHE_URL" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_unmigrated_database_is_a_clear_error(tmp_path):
    result = madoguchi("audit", "verify", data_dir=tmp_path)
    assert result.returncode == 2
    assert "madoguchi migrate" in result.stderr


def test_migrate_demo_is_idempotent_and_everything_lives_in_the_data_dir(tmp_path):
    data = tmp_path / "data"
    assert madoguchi("migrate", data_dir=data).returncode == 0
    first = madoguchi("demo", data_dir=data)
    assert first.returncode == 0, first.stderr
    second = madoguchi("demo", data_dir=data)
    assert second.returncode == 0, second.stderr
    uri = [line for line in first.stdout.splitlines() if "otpauth://" in line][0]
    # The TOTP secret survives a second demo load, so a configured authenticator keeps working.
    assert uri in second.stdout
    assert "otpauth://totp/madoguchi%3Ademo-admin?secret=" in uri
    assert (data / "madoguchi.sqlite3").exists()
    verify = madoguchi("audit", "verify", data_dir=data)
    assert verify.returncode == 0 and "OK     139998" in verify.stdout


def test_demo_is_refused_in_production(tmp_path):
    result = madoguchi("demo", data_dir=tmp_path, env={
        "MADOGUCHI_ENV": "production", "MADOGUCHI_SECRET_KEY": "k" * 60, "MADOGUCHI_ALLOWED_HOSTS": "x.example",
        "MADOGUCHI_DATABASE_URL": f"sqlite:///{tmp_path}/p.sqlite3"})
    assert result.returncode == 2 and "production" in result.stderr


def test_staff_add_prints_a_totp_uri(tmp_path):
    assert madoguchi("migrate", data_dir=tmp_path).returncode == 0
    assert madoguchi("demo", data_dir=tmp_path).returncode == 0
    result = madoguchi("staff", "add", "--municipality", "139998", "--username", "new-clerk", "--role", "reviewer",
                       "--department", "shimin", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "otpauth://totp/madoguchi%3Anew-clerk" in result.stdout
    bad = madoguchi("staff", "add", "--municipality", "139998", "--username", "x", "--role", "reviewer",
                    "--department", "nope", data_dir=tmp_path)
    assert bad.returncode == 2 and "no such department" in bad.stderr
