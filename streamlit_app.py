"""Entry point of the collections supervisor dashboard (run with `collections-dashboard`)."""

from __future__ import annotations

from pathlib import Path

# Plotly looks numpy and pandas up lazily in sys.modules. When several sessions start at once on a
# fresh server, one of them can find the module another thread is still importing, half
# initialised, and fail with "partially initialized module 'numpy'". Importing both here, the
# first thing every session runs, goes through the import lock, so every session waits for complete modules.
# (Not in the dashboard package: `collections-dashboard run` imports it before its server listens.)
import numpy  # noqa: F401
import pandas  # noqa: F401
import streamlit as st

from dashboard import audit, data, links, session
from dashboard.components import style
from dashboard.format import code_text
from dashboard.i18n import bi, t
from dashboard.overview import database_overview
from dashboard.sidebar import sidebar

ICON = Path(__file__).resolve().parent / "dashboard" / "static" / "icon.png"

# A local icon: a material icon here would make every browser fetch it from fonts.gstatic.com (banks have no internet)
st.set_page_config(page_title="催收监控 · Collections dashboard", page_icon=str(ICON), layout="wide")

state, error = data.store_state()
if state is None:
    st.title("催收监控看板 · Collections supervisor dashboard")
    st.error(bi("db_down").replace("{err}", code_text(error or "", 300)), icon=":material/cloud_off:")
    database_overview("zh", show_errors=False)
    st.stop()

settings = data.settings()
identity = session.identify(  # stops the run with a refusal when there is no viewer
    demo_allowed=data.store_from_demo() or settings.allow_demo_mode, auth_header=settings.auth_header,
    access=data.access, all_teams=data.all_teams, on_denied=audit.denied,
    demo_refusal="demo_store_real" if settings.is_demo else "demo_refused", lang=links.early_lang())
view = sidebar(data.options())  # choices already limited to the viewer's scope
lang = view.lang
style(lang)
session.identity_box(identity, lang)
PAGES = "dashboard/pages"
AGENCY_ROLES = ("manager", "executive", "compliance")  # 委外管理: not for team leads (other teams' agencies)
more = [
    st.Page(f"{PAGES}/cases.py", title=t("pg_cases", lang), icon=":material/folder_open:", url_path="cases"),
    st.Page(f"{PAGES}/glossary.py", title=t("pg_glossary", lang), icon=":material/menu_book:", url_path="glossary"),
    st.Page(f"{PAGES}/data_overview.py", title=t("pg_data", lang), icon=":material/database:", url_path="data"),
]
if identity.role == "compliance":  # the audit log is not even listed (nor reachable by URL) for other roles
    more.append(st.Page(f"{PAGES}/audit_log.py", title=t("pg_audit", lang), icon=":material/policy:",
                        url_path="audit"))
nav = st.navigation({
    t("sec_pages", lang): [
        st.Page(f"{PAGES}/daily.py", title=t("pg_daily", lang), icon=":material/payments:", url_path="home",
                default=True),
        # the default page is served at the root only: this hidden twin serves it at its own path, /daily, too
        st.Page(f"{PAGES}/daily.py", title=t("pg_daily", lang), url_path="daily", visibility="hidden"),
        st.Page(f"{PAGES}/agents.py", title=t("pg_agents", lang), icon=":material/support_agent:", url_path="agents"),
        st.Page(f"{PAGES}/complaints.py", title=t("pg_complaints", lang), icon=":material/report:",
                url_path="complaints"),
        st.Page(f"{PAGES}/compliance.py", title=t("pg_compliance", lang), icon=":material/gavel:",
                url_path="compliance"),
        st.Page(f"{PAGES}/aging.py", title=t("pg_aging", lang), icon=":material/stacked_bar_chart:", url_path="aging"),
        st.Page(f"{PAGES}/trends.py", title=t("pg_trends", lang), icon=":material/trending_up:", url_path="trends"),
        *([st.Page(f"{PAGES}/agencies.py", title=t("pg_agencies", lang), icon=":material/handshake:",
                   url_path="agencies")] if identity.role in AGENCY_ROLES else []),
    ],
    t("sec_more", lang): more,
})
page = nav.url_path or "daily"
links.drop_other_pages_keys(page)
rows = session.begin_run(page)
audit.gate()  # a view that cannot be audited is refused before any data is drawn
view_done = audit.view_recorder(page, view.filters, rows)
try:
    nav.run()
except Exception:  # a bug: an error id for the viewer, the traceback in the server log (never in the browser)
    session.report_bug(lang)
    raise
finally:  # also after st.stop() in a page or a closed tab: every page view is recorded once per page and filters
    view_done()
data.settle(page)
