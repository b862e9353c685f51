from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    """申請: residents' applications, their one state machine, attachments and notices."""

    name = "madoguchi.applications"
    label = "applications"

    def ready(self):
        from . import notices
        from .transitions import LISTENERS

        LISTENERS.register("notices", "the resident's notices of each transition, through the notice channels")(
            notices.notify)
        notices.channels()  # an unknown configured channel stops the start, not a transition
