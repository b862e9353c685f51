from django.apps import AppConfig


class CounterConfig(AppConfig):
    """書かない窓口: the card face read at the counter with 照合番号B through the staff PC's
    local card agent, verified by the server, several procedures prefilled from one reading,
    checked by the resident on a second screen and filed together (docs/counter.md)."""

    name = "madoguchi.counter"
    label = "counter"
    verbose_name = "書かない窓口"
