"""The production profile refuses unsafe settings and says which; checked in a fresh process."""

import os
import subprocess
import sys

SAFE_KEY = "x" * 64


def load_settings(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    clean.update({"DJANGO_SETTINGS_MODULE": "madoguchi.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"],
        env=clean, capture_output=True, text=True, timeout=60,
    )


def test_production_refuses_debug():
    result = load_settings({"MADOGUCHI_ENV": "production", "MADOGUCHI_DEBUG": "true",
                            "MADOGUCHI_SECRET_KEY": SAFE_KEY, "MADOGUCHI_ALLOWED_HOSTS": "city.example.jp"})
    assert result.returncode != 0
    assert "MADOGUCHI_DEBUG must be off" in result.stderr


def test_production_refuses_the_development_key():
    result = load_settings({"MADOGUCHI_ENV": "production", "MADOGUCHI_ALLOWED_HOSTS": "city.example.jp"})
    assert result.returncode != 0
    assert "MADOGUCHI_SECRET_KEY" in result.stderr


def test_production_refuses_no_allowed_hosts():
    result = load_settings({"MADOGUCHI_ENV": "production", "MADOGUCHI_SECRET_KEY": SAFE_KEY})
    assert result.returncode != 0
    assert "MADOGUCHI_ALLOWED_HOSTS" in result.stderr


def test_production_starts_when_configured():
    result = load_settings({"MADOGUCHI_ENV": "production", "MADOGUCHI_SECRET_KEY": SAFE_KEY,
                            "MADOGUCHI_ALLOWED_HOSTS": "city.example.jp"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_unknown_profile_is_refused():
    result = load_settings({"MADOGUCHI_ENV": "staging"})
    assert result.returncode != 0
    assert "not a profile" in result.stderr


def test_sqlite_uses_wal_and_immediate_transactions(tmp_path):
    from madoguchi.settings.base import database_from_url

    config = database_from_url(f"sqlite:///{tmp_path}/x.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_unsupported_database_is_a_configuration_error():
    import pytest
    from django.core.exceptions import ImproperlyConfigured

    from madoguchi.settings.base import database_from_url

    with pytest.raises(ImproperlyConfigured, match="sqlite:// or postgresql://"):
        database_from_url("mysql://root@localhost/x")
