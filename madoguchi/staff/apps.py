from django.apps import AppConfig


class StaffConfig(AppConfig):
    """Municipal staff: memberships, sign-in with password + TOTP, the back-office shell."""

    name = "madoguchi.staff"
    label = "staff"
