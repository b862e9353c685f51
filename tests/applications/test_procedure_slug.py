"""A procedure named by anything but a slug (NUL, other scripts, too long) is a 404, not a
server error: schemathesis found a NUL reaching PostgreSQL, which refuses it in a query."""

import pytest

from .test_api import error_of, resident


@pytest.mark.parametrize("slug", ["\x00juminhyo-copy", "juminhyo-copy\x00", "住民票", "JUMINHYO-COPY",
                                  "juminhyo-copy\n", "-x"])
def test_a_procedure_that_is_not_a_slug_is_not_found(catalog_a, taro, slug):
    api = resident(catalog_a.code, catalog_a, taro)
    error_of(api("POST", "/drafts", {"procedure": slug, "data": {}}), 404, "not_found")
    error_of(api("POST", "/applications", {"procedure": slug, "data": {}}, headers={"Idempotency-Key": "k" * 20}),
             404, "not_found")
    # The real slug is found: its empty form is checked like the form (drafts are), so the
    # answer is the form's 400 naming a required field, not the 404 above.
    body = error_of(api("POST", "/drafts", {"procedure": "juminhyo-copy", "data": {}}), 400, "invalid")
    assert "/applicant_name" in body["errors"]
