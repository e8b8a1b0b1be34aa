"""Compliance pieces shared by pages: which rules judged a check, why a check cannot be made, and the agencies'
whitelisting, evaluation and compliance-weighted scorecard (on the compliance and the agencies pages)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboard import data
from dashboard.components import downloads, empty_state, kpi, scorecard_formula, table
from dashboard.format import md_escape
from dashboard.i18n import t
from dashboard.session import View
from queries.filters import Filters


def rules_label(check: str, start: dt.date, end: dt.date, lang: str) -> str:
    """The rules (title · article (version)) that judged a check in the period, escaped for help tooltips."""
    pack, _ = data.rule_pack()
    labels = "; ".join(r.label(lang) for r in pack.judged_by(check, start, end)) or t("no_rule", lang)
    return md_escape(labels)  # shown in help tooltips (markdown): a rule file's text is data


def missing_note(check: str, lang: str) -> str | None:
    """Why a check cannot be made on this source (the optional contract parts it lacks), or None."""
    parts = data.missing_checks().get(check)
    return t("missing_part", lang, parts=", ".join(parts), check=t(f"chk_{check}", lang)) if parts else None


def agencies_block(view: View, f: Filters) -> None:
    """Agencies not whitelisted or overdue for their yearly evaluation, and the agencies' weighted scorecard."""
    lang = view.lang
    with st.container(border=True):
        st.markdown(f"**{t('c_agencies', lang)}**",
                    help=f"{rules_label('agency_not_allowed', f.start, f.end, lang)}; "
                         f"{rules_label('agency_evaluation', f.start, f.end, lang)}")
        ag = data.agencies(f)
        gap = missing_note("agency_not_allowed", lang)
        if gap:
            st.info(gap, icon=":material/info:")
        if ag.note:
            empty_state(view, ag)
        elif ag.empty:
            st.info(t("no_agencies", lang), icon=":material/info:")
        else:
            d = ag.df
            bad = d.filter(pl.col("not_whitelisted").fill_null(False) | pl.col("evaluation_overdue").fill_null(False))
            kpi(st.columns(3)[0], t("k_agencies_bad", lang), f"{bad.height} / {d.height}", delta_color="inverse")
            if bad.height == 0:
                st.success(t("agencies_ok", lang), icon=":material/task_alt:")
            tb = table(d, lang, pinned=("team_id",))
            # the two flags are ticked boxes of their own; a pandas Styler to shade them too cost 0.2-0.6 s per view
            # at bank scale (and the first view imports jinja2)
            st.dataframe(tb.frame, hide_index=True, width="stretch", key="agency_rows", column_config=tb.config)
            downloads(d, "agency_status", view, "agencies", title=t("c_agencies", lang))
        sc = data.compliance("scorecard", f, level="agency", weights=data.weights(f.end))
        st.markdown(f"**{t('c_scorecard_agency', lang)}**", help=scorecard_formula(f.end, lang))
        if sc.empty:
            empty_state(view, sc)
        else:
            tb = table(sc.df, lang, pinned=("rank", "who_id"))
            st.dataframe(tb.frame, hide_index=True, width="stretch", key="agency_score", column_config=tb.config)
            st.caption(f":material/functions: {scorecard_formula(f.end, lang)}")
            downloads(sc.df, "agency_scorecard", view, "agency_score", title=t("c_scorecard_agency", lang))
