from django.apps import AppConfig


class MovingConfig(AppConfig):
    """引越しワンストップ: the signed 転出 package and the destination's 転入予定."""

    name = "madoguchi.moving"
    label = "moving"
    verbose_name = "引越しワンストップ"
