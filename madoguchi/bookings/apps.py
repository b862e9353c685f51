from django.apps import AppConfig


class BookingsConfig(AppConfig):
    """来庁予約: counters with opening hours, holidays and slots; residents book a slot
    (never more than its capacity), change or cancel it; staff see the day's list."""

    name = "madoguchi.bookings"
    label = "bookings"
    verbose_name = "来庁予約"
