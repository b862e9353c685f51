"""Seeds a real server for the live attendance test (a separate process with the server's
environment): `python -m tests.attendance.seed_live DATA_DIR CARDS_DIR TERMINAL_PUBLIC_KEY_FILE`.

What tests.citizencard.seed_live seeds (two virtual cards, the second revoked; an
administrator; 窓口 花子 holding the first card), then: attendance offered, a lecture, 花子
registered for it with her card, and an attendance terminal registered with the given key and
assigned to the lecture. Prints JSON: the administrator's credentials, the lecture's pk, 花子's
pairwise id and the terminal's id."""

import json
import sys
from pathlib import Path

from tests.citizencard import seed_live  # noqa: I001  (sets Django up)

from madoguchi.attendance import services  # noqa: E402
from madoguchi.citizencard import services as cards  # noqa: E402
from madoguchi.core.dates import today_in_japan  # noqa: E402
from madoguchi.identity.models import Person  # noqa: E402
from madoguchi.municipalities.models import Municipality  # noqa: E402
from madoguchi.municipalities.tenancy import tenant  # noqa: E402
from madoguchi.staff.models import Membership  # noqa: E402


def main(data_dir: Path, cards_dir: Path, terminal_key: Path) -> dict:
    seed = seed_live.main(data_dir, cards_dir)
    municipality = Municipality.objects.get(code="139998")
    user = Membership.unscoped.get(municipality=municipality).user
    with tenant(municipality):
        cards.set_enabled(user, "attendance", True)
        lecture = services.create_event(user, title="市民大学 第1回", place="中央公民館", starts_on=today_in_japan(),
                                        ends_on=today_in_japan())
        member = services.register(Person.objects.get(), lecture.public_id)
        terminal = cards.register_terminal(user, name="公民館入口", place="中央公民館", service_key="attendance",
                                           public_key=terminal_key.read_text())
        services.assign_terminal(user, lecture, terminal.pk)
    return dict(seed, event=lecture.pk, pairwise_id=member.pairwise_id, terminal=str(terminal.public_id))


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))))
