from django.apps import AppConfig


class MovingConfig(AppConfig):
    """引越しワンストップ: the signed 転出 package and the destination's 転入予定."""

    name = "madoguchi.moving"
    label = "moving"
    verbose_name = "引越しワンストップ"

    def ready(self):
        from madoguchi.applications.transitions import LISTENERS

        from .services import after_transitions

        LISTENERS.register("moving", "a 転出届 accepted by staff becomes a signed package for the destination")(
            after_transitions)
