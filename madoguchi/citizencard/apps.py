from django.apps import AppConfig


class CitizenCardConfig(AppConfig):
    """市民カード: a catalog of card services (plug-ins behind one registry), enabled per
    municipality by staff, listed for residents and exported as JSON."""

    name = "madoguchi.citizencard"
    label = "citizencard"
    verbose_name = "市民カード"
