"""Signed documents per second: a receipt rendered by WeasyPrint and signed PAdES B-B with
pyHanko (documents.services.issue without the storage), beside a baseline: the same
rendering without signing.

    .venv/bin/python bench/documents.py [--documents N]
"""

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._django import setup  # noqa: E402
from bench.export import DATA  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=30)
    args = parser.parse_args()
    municipality, person, drop = setup(False, "documents")
    try:
        import datetime as dt

        from madoguchi.applications.models import Application
        from madoguchi.documents import services
        from madoguchi.municipalities.tenancy import tenant
        from madoguchi.pki import lgpki, pades
        from madoguchi.procedures.models import Procedure

        services.ensure_demo(municipality)  # the development LGPKI identity and a seal
        with tenant(municipality):
            procedure = Procedure.objects.get(slug="risai-shoumei")
            application = Application.objects.create(
                person=person, procedure=procedure, version=procedure.current_version(), status="submitted",
                data=DATA, receipt_number="2026-0000001", public_id=uuid.uuid4(),
                submitted_at=dt.datetime.now(dt.timezone.utc))
            services.sign(municipality, services.render_pdf(application, "receipt"), reason="warm-up")
            started = time.perf_counter()
            for _ in range(args.documents):
                services.render_pdf(application, "receipt")
            render = time.perf_counter() - started
            started = time.perf_counter()
            for _ in range(args.documents):
                signed, _ident = services.sign(municipality, services.render_pdf(application, "receipt"),
                                               reason="受付票 2026-0000001")
            both = time.perf_counter() - started
        root = lgpki.DevLGPKI.open().root
        assert pades.verify_pdf(signed, [root]).ok
        print(f"baseline  render only (WeasyPrint): {args.documents / render:.2f} documents/s "
              f"({render / args.documents * 1000:.0f} ms each)")
        print(f"documents render + PAdES sign:      {args.documents / both:.2f} documents/s "
              f"({both / args.documents * 1000:.0f} ms each; signing adds {(both - render) / args.documents * 1000:.0f} ms, "
              f"{both / render:.2f}x the baseline's time)")
    finally:
        drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
