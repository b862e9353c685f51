from django.apps import AppConfig


class BenefitsConfig(AppConfig):
    """給付事業: benefit programs defined by staff, with eligibility over the resident register
    counted before anything is sent (the dry run)."""

    name = "madoguchi.benefits"
    label = "benefits"
    verbose_name = "給付事業"

    def ready(self):
        from madoguchi.applications.transitions import LISTENERS

        from .payouts import after_transitions

        LISTENERS.register("benefits", "an online 確認書 accepted by staff becomes the payee's account for the benefit")(
            after_transitions)
