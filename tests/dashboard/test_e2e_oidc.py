"""Sign-in through a real OpenID Connect provider: the browser, st.login, the provider's form, the callback.

oidc-provider-mock is a working OpenID provider (discovery, authorisation code flow, signed ID tokens) meant
for tests: the dashboard's [auth] secrets point at it, Chromium signs in on its form, and the dashboard
maps the e-mail claim to a role and scope through the access file.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from fixtures_demo import AS_OF

from dashboard.format import cny
from queries.filters import Filters
from queries.metrics.registry import compute

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from screenshots import CHROMIUM, browser, free_port, streamlit_server  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}: end-to-end test skipped"),
]
oidc_provider_mock = pytest.importorskip("oidc_provider_mock", reason="the test extra installs oidc-provider-mock")
pytest.importorskip("authlib", reason="st.login needs the auth extra (Authlib), which the test extra installs")

ACCESS = """
[users."lead.t01@bank.example"]
role = "team_lead"
teams = ["T01"]
"""
USERS = {"lead-t01": "Lead.T01@bank.example", "stranger": "stranger@bank.example"}


@pytest.fixture(scope="module")
def signed_in_server(app_source, tmp_path_factory):  # noqa: ANN001, ANN201
    """An OpenID provider and a dashboard whose [auth] secrets point at it."""
    url, store = app_source
    tmp = tmp_path_factory.mktemp("oidc")
    shutil.copytree(store, tmp / "store")
    (tmp / "access.toml").write_text(ACCESS, encoding="utf-8")
    port = free_port()
    users = [oidc_provider_mock.User(sub=sub, claims={"email": email}) for sub, email in USERS.items()]
    with oidc_provider_mock.run_server_in_thread(user_claims=users) as idp:
        secrets = tmp / "secrets.toml"
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
            f'cookie_secret = "{"k" * 32}"\n'
            'client_id = "collections-dashboard"\nclient_secret = "test-secret"\n'
            f'server_metadata_url = "http://localhost:{idp.server_port}/.well-known/openid-configuration"\n',
            encoding="utf-8")
        env = {"CASES_DB_URL": url, "CASES_STORE_DIR": str(tmp / "store"), "CASES_DATA_DIR": str(tmp),
               "CASES_STORE_MAX_AGE_S": "1e12", "CASES_ACCESS_FILE": str(tmp / "access.toml"),
               "CASES_ALLOW_DEMO_MODE": "", "CASES_AUTH_HEADER": ""}
        with streamlit_server(env, port=port, args=("--secrets.files", str(secrets))) as base:
            yield base.replace("127.0.0.1", "localhost")


def _sign_in(page, base: str, sub: str) -> None:  # noqa: ANN001
    page.goto(base)
    page.get_by_role("button", name="登录 · Sign in").click()
    page.locator('input[name="sub"]').wait_for(timeout=60_000)  # the provider's authorisation form
    page.locator('input[name="sub"]').fill(sub)
    page.get_by_role("button", name="Authorize").click()


def test_a_team_lead_signs_in_at_the_provider_and_sees_their_team(signed_in_server, app_store) -> None:  # noqa: ANN001
    mine = compute("collected", app_store, Filters(AS_OF.replace(day=1), AS_OF, teams=("T01",)))["value"][0]
    everyone = compute("collected", app_store, Filters(AS_OF.replace(day=1), AS_OF))["value"][0]
    with browser() as page:
        page.goto(signed_in_server)
        page.get_by_text("请登录后查看看板").first.wait_for(timeout=60_000)
        assert page.locator('[data-testid="stMetricValue"]').count() == 0  # nothing before signing in
        _sign_in(page, signed_in_server, "lead-t01")
        page.get_by_role("heading", name="每日回收").wait_for(timeout=60_000)
        page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=60_000)
        assert page.locator('[data-testid="stMetricValue"]').filter(has_text=cny(mine, "zh")).count() == 1
        assert page.locator('[data-testid="stMetricValue"]').filter(has_text=cny(everyone, "zh")).count() == 0
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert sidebar.get_by_text("lead.t01@bank.example").count() >= 1
        assert page.get_by_text("演示模式").count() == 0
        assert page.locator('[data-testid="stException"]').count() == 0


def test_a_signed_in_stranger_is_refused_politely(signed_in_server) -> None:  # noqa: ANN001
    with browser() as page:
        _sign_in(page, signed_in_server, "stranger")
        page.get_by_text("stranger@bank.example").first.wait_for(timeout=60_000)
        assert page.locator('[data-testid="stMetricValue"]').count() == 0
        assert page.locator('[data-testid="stPlotlyChart"]').count() == 0
        assert page.locator('[data-testid="stException"]').count() == 0
