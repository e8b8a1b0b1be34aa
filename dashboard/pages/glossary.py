"""指标口径 · Glossary: every registered metric with its definition, numerator and denominator."""

import polars as pl
import streamlit as st

from dashboard import charts, data
from dashboard.components import chart_block, downloads, metric_help, page_header, scorecard_formula, table
from dashboard.exports import columns_for
from dashboard.format import code_text, md_escape_expr, num, pct
from dashboard.i18n import t
from dashboard.session import current_view

view = current_view()
lang = view.lang
page_header(view, "pg_glossary")
st.caption(t("glossary_intro", lang))
g = data.glossary(lang, (view.filters.start, view.filters.end))
g = g.select(*[c for c in g.columns if c != "key"], "key")  # the command line's key last
# A static table: every row shown and every definition wrapped (a grid would cut them at its column width).
# st.table reads markdown in cells: every cell is escaped, so "targets.target_amount" shows as it is.
headers = {c.name: c.header for c in columns_for(g.schema, lang)}
shown = g.select(md_escape_expr(pl.col(c)) for c in g.columns)
st.table(shown.rename(headers), hide_index=True, border="horizontal")
downloads(g, "glossary", view, "glossary", title=t("pg_glossary", lang))

st.subheader(t("g_rulepack", lang))
pack, problem = data.rule_pack()
if problem:
    st.error(t("pack_problem", lang, msg=code_text(problem)), icon=":material/rule:")
st.caption(f"{t('g_rules_intro', lang)} · {t('pack_line', lang, version=pack.version)}")
rules = data.rules_table(lang)
rt = table(rules, lang)
st.dataframe(rt.frame, hide_index=True, width="stretch", column_config=rt.config, key="glossary_rules")
downloads(rules, "rule_pack", view, "rule_pack", title=t("g_rulepack", lang))
st.markdown(f"**{t('c_scorecard_w', lang)}**")
st.text(scorecard_formula(view.as_of, lang))

# The landing forecast's entry: how it did over the last 12 months (within the viewer's scope and filters).
total = data.compose("landing_backtest_total", view.filters)
note = None
if not total.empty and total.df.height:
    row = total.df.row(0, named=True)
    note = t("backtest_total", lang, mape=pct(row["mape"]), naive=pct(row["mape_naive"]),
             coverage=pct(row["coverage"], 0), n=num(row["forecasts"]))
chart_block(t("c_backtest", lang), data.compose("landing_backtest", view.filters), lambda df: charts.backtest(df, lang),
            view, "landing_backtest", "landing_backtest", help=metric_help("landing", lang), note=note,
            empty=t("backtest_none", lang))
