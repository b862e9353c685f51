from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    """出席・入退館: an organiser's events (members registered with their card, known by a
    pairwise id), recorded at the citizencard terminals of the service `attendance`."""

    name = "madoguchi.attendance"
    label = "attendance"
    verbose_name = "出席・入退館"

    def ready(self):
        from . import services

        services.plug_in()
