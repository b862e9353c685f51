"""gunicorn's logger with madoguchi's record filter on its handlers.

gunicorn logs through its own handlers, not settings.LOGGING; its "Invalid request"
warning quotes the raw request line (query string included) and "Error handling request"
the URI. `madoguchi serve` passes `--logger-class` naming this class.
"""

from gunicorn.glogging import Logger as GunicornLogger

from .logging import PersonalDataFilter


class Logger(GunicornLogger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
                    handler.addFilter(PersonalDataFilter())
