"""Identity: OIDC (st.user), a trusted proxy header, demo mode and its refusal, unknown users, role-based pages."""

from __future__ import annotations

import pytest
from fixtures_demo import AS_OF
from streamlit.runtime.context import ContextProxy

from dashboard.format import cny
from queries.filters import Filters
from queries.metrics.registry import compute

MTD = (AS_OF.replace(day=1), AS_OF)
ACCESS = """
[users."lead.t01@bank.example"]
role = "team_lead"
teams = ["T01"]

[users."audit@bank.example"]
role = "compliance"

[users."boss@bank.example"]
role = "executive"
"""
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32, "client_id": "c",
        "client_secret": "s", "server_metadata_url": "https://sso.example/.well-known/openid-configuration"}


@pytest.fixture
def access_file(tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    path = tmp_path / "access.toml"
    path.write_text(ACCESS, encoding="utf-8")
    monkeypatch.setenv("CASES_ACCESS_FILE", str(path))
    monkeypatch.delenv("CASES_ALLOW_DEMO_MODE", raising=False)
    return path


def _collected(store, teams: tuple[str, ...] = ()) -> str:  # noqa: ANN001
    df = compute("collected", store, Filters(*MTD, teams=teams))
    return cny(df["value"][0], "zh")


def _no_data(at) -> None:  # noqa: ANN001
    assert not at.exception
    assert not at.metric and not at.dataframe and not at.get("plotly_chart")


def _oidc(run_app, email: str | None, logged_in: bool = True):  # noqa: ANN001, ANN202
    from fixtures_app import APP
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=90)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": logged_in, **({"email": email} if email else {})}
    return at.run()


def test_oidc_user_from_the_access_file_gets_their_scope(run_app, access_file, app_store) -> None:  # noqa: ANN001
    at = _oidc(run_app, "Lead.T01@bank.example")
    assert not at.exception
    assert next(m.value for m in at.metric if m.label == "本月回收") == _collected(app_store, ("T01",))
    assert any("lead.t01@bank.example" in c.value and "组长" in c.value for c in at.sidebar.caption)
    assert not any("演示模式" in c.value for c in at.caption)  # not demo mode
    assert [o.split(" · ")[0] for o in at.sidebar.multiselect(key="f_team").options] == ["T01"]


def test_oidc_signed_out_sees_a_sign_in_button_only(run_app, access_file) -> None:  # noqa: ANN001
    at = _oidc(run_app, None, logged_in=False)
    _no_data(at)
    assert any("登录" in b.label for b in at.button)


def test_unknown_user_gets_a_polite_refusal_and_no_data(run_app, access_file) -> None:  # noqa: ANN001
    at = _oidc(run_app, "stranger@bank.example")
    _no_data(at)
    msg = at.error[0].value
    assert "抱歉" in msg and "Sorry" in msg and "stranger@bank.example" in msg


def test_proxy_header_identifies_the_user(run_app, access_file, app_store, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("CASES_AUTH_HEADER", "X-Forwarded-Email")
    monkeypatch.setattr(ContextProxy, "headers", property(lambda self: {"X-Forwarded-Email": "boss@bank.example"}))
    at = run_app()
    assert not at.exception
    assert next(m.value for m in at.metric if m.label == "本月回收") == _collected(app_store)
    assert not any("演示模式" in c.value for c in at.caption)


def test_proxy_header_missing_or_unknown_shows_no_data(run_app, access_file, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("CASES_AUTH_HEADER", "X-Forwarded-Email")
    monkeypatch.setattr(ContextProxy, "headers", property(lambda self: {}))
    at = run_app(role="compliance")  # a demo role picked in the session changes nothing
    _no_data(at)
    assert "身份" in at.error[0].value and "identity" in at.error[0].value
    monkeypatch.setattr(ContextProxy, "headers", property(lambda self: {"X-Forwarded-Email": "x@evil.example"}))
    at = run_app()
    _no_data(at)
    assert "Sorry" in at.error[0].value


def test_demo_mode_is_refused_on_a_real_database_unless_allowed(run_app, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("CASES_ALLOW_DEMO_MODE")
    at = run_app()  # run_app configures CASES_DB_URL: a real database
    _no_data(at)
    assert "CASES_ALLOW_DEMO_MODE" in at.error[0].value


def test_demo_mode_is_labelled_on_every_page(run_app) -> None:  # noqa: ANN001
    at = run_app()
    for page in ("daily", "agents", "complaints", "compliance", "aging", "trends", "cases", "glossary", "data_overview"):
        at.switch_page(f"dashboard/pages/{page}.py").run()
        assert not at.exception
        assert any("演示模式：角色可自由选择，仅用于演示" in c.value for c in at.caption), page
    assert at.sidebar.selectbox(key="demo_role").value == "manager"


def test_the_demo_pickers_speak_the_pages_language_and_keep_the_role_across_a_switch(run_app) -> None:  # noqa: ANN001
    at = run_app(role="team_lead", teams=("T02",))
    role, teams = at.sidebar.selectbox(key="demo_role"), at.sidebar.multiselect(key="demo_teams")
    assert (role.label, teams.label) == ("演示角色", "演示团队（组长）")
    assert role.format_func("team_lead") == "组长" and role.value == "team_lead" and teams.value == ["T02"]
    at.sidebar.segmented_control(key="f_lang").set_value("en").run()
    role, teams = at.sidebar.selectbox(key="demo_role"), at.sidebar.multiselect(key="demo_teams")
    assert (role.label, teams.label) == ("Demo role", "Demo teams (team lead)")
    assert role.format_func("team_lead") == "Team lead" and role.value == "team_lead" and teams.value == ["T02"]
    en = run_app(lang="en")  # a link in English: the pickers are English from the first run
    assert en.sidebar.selectbox(key="demo_role").label == "Demo role"
    mixed = run_app(lang=["en", "zh", "en"])  # repeated: the page's rule (each value once, the last) for both
    assert mixed.sidebar.segmented_control(key="f_lang").value == "zh"
    assert mixed.sidebar.selectbox(key="demo_role").label == "演示角色"


def test_broken_access_file_shows_no_data_and_names_no_one(run_app, access_file, monkeypatch, caplog) -> None:  # noqa: ANN001
    access_file.write_text('[users."boss@bank.example"]\nrole = "superuser"\n', encoding="utf-8")
    monkeypatch.setenv("CASES_AUTH_HEADER", "X-Forwarded-Email")
    monkeypatch.setattr(ContextProxy, "headers", property(lambda self: {"X-Forwarded-Email": "stranger@x.example"}))
    at = run_app()
    _no_data(at)
    shown = " ".join(e.value for e in at.error)
    assert "访问权限文件有误" in shown and "access file has an error" in shown
    assert "boss@bank.example" not in shown and "superuser" not in shown  # the file's contents stay in the server log
    assert any("superuser" in r.getMessage() for r in caplog.records)


def test_an_identity_header_sent_twice_is_refused(run_app, access_file, monkeypatch) -> None:  # noqa: ANN001
    from streamlit.runtime.context import StreamlitHeaders

    monkeypatch.setenv("CASES_AUTH_HEADER", "X-Forwarded-Email")
    twice = StreamlitHeaders([("X-Forwarded-Email", "boss@bank.example"), ("X-Forwarded-Email", "x@evil.example")])
    monkeypatch.setattr(ContextProxy, "headers", property(lambda self: twice))
    at = run_app()
    _no_data(at)
    assert any("身份信息重复" in e.value for e in at.error)
    joined = StreamlitHeaders([("X-Forwarded-Email", "boss@bank.example, x@evil.example")])
    monkeypatch.setattr(ContextProxy, "headers", property(lambda self: joined))
    _no_data(run_app())


def test_audit_page_is_listed_for_compliance_only(run_app) -> None:  # noqa: ANN001
    at = run_app(role="compliance")
    at.switch_page("dashboard/pages/audit_log.py").run()
    assert not at.exception
    assert at.title[0].value == "审计日志"
    at.session_state["demo_role"] = "manager"  # the role changes while the audit page is open
    at.run()
    assert not at.exception
    assert not any(t.value == "审计日志" for t in at.title)
    for role in ("executive", "manager", "team_lead"):
        at = run_app(role=role, teams=["T01"] if role == "team_lead" else ())
        with pytest.raises(ValueError, match="Could not find a navigation page"):  # not registered for them
            at.switch_page("dashboard/pages/audit_log.py")
