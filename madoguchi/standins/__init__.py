"""Stand-ins: local servers that speak an outside service's real protocol for the demo and
the tests, where the real service cannot exist. Each says it is a stand-in on every page
and in every answer it can, and refuses to start under MADOGUCHI_ENV=production.
madoguchi's own code never imports this package (an import-linter contract)."""

import os


class StandInRefused(RuntimeError):
    """A stand-in asked to start in production."""


def refuse_in_production(what: str) -> None:
    if os.environ.get("MADOGUCHI_ENV", "dev") == "production":
        raise StandInRefused(f"{what} is a development stand-in and is refused in production (MADOGUCHI_ENV)")
