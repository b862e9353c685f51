from django.apps import AppConfig


class BenefitsConfig(AppConfig):
    """給付事業: benefit programs defined by staff, with eligibility over the resident register
    counted before anything is sent (the dry run)."""

    name = "madoguchi.benefits"
    label = "benefits"
    verbose_name = "給付事業"
