from django.core.management.base import BaseCommand, CommandError

from madoguchi.library import listener


class Command(BaseCommand):
    help = "SIP2 patron status listener for library self-checkout machines (docs/library.md)"

    def add_arguments(self, parser):
        parser.add_argument("--municipality", required=True, metavar="CODE")
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, municipality, port, host, **options):
        if not 0 <= port <= 65535:
            raise CommandError("--port must be 0 to 65535", returncode=2)
        try:
            server = listener.serve(municipality, host, port)
        except LookupError as exc:
            raise CommandError(str(exc), returncode=2) from None
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}", returncode=2) from None
        bound = server.server_address
        self.stdout.write(f"SIP2 listening on {bound[0]}:{bound[1]} for {municipality}")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
