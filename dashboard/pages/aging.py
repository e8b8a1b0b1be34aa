"""账龄与迁徙 · Aging & roll rates: balance and count by bucket, roll-rate matrix and trend, cure rate."""

import polars as pl
import streamlit as st

from dashboard import charts, data, links
from dashboard.components import chart_block, metric_help, page_header
from dashboard.i18n import t, value
from dashboard.session import current_view

view = current_view()
lang, f = view.lang, view.filters
page_header(view, "pg_aging")

opts = data.options()
snaps = [s for s in opts.snapshots if s <= f.end]
if not snaps:
    st.info(t("no_snapshots", lang), icon=":material/event_busy:")
    st.stop()
if st.session_state.get("snapshot") not in snaps:  # a link's snapshot after the period's end: the latest instead
    st.session_state.pop("snapshot", None)
c1, c2, _ = st.columns([1, 1, 3])
snap = c1.selectbox(t("snapshot", lang), list(reversed(snaps)), key="snapshot", format_func=lambda d: d.isoformat())
if st.session_state.get("basis") not in links.BASES:
    st.session_state["basis"] = "balance"  # the default, or a link's basis (set before the widget: no clash)
basis = c2.segmented_control(t("basis", lang), links.BASES, key="basis",
                             format_func=lambda b: t(f"b_{b}", lang)) or "balance"
links.keep_in_url("snapshot", snap, snaps[-1])  # a copied link opens the same snapshot and basis
links.keep_in_url("basis", basis, "balance")
st.caption(t("aging_note", lang))
order = list(opts.buckets)
on_snap = {"period": (snap, snap)}

bal = data.metric("bucket_balance", f, ("bucket",), snapshot=snap)
cnt = data.metric("bucket_balance", f, ("bucket",), snapshot=snap, basis="count")
both = bal
if not bal.empty and not cnt.empty:
    both = data.Result(bal.df.select("bucket", pl.col("value").alias("balance")).join(
        cnt.df.select("bucket", pl.col("value").alias("count")), on="bucket", how="full", coalesce=True)
        .sort(pl.col("bucket").replace_strict({b: i for i, b in enumerate(order)}, default=99)))
left, right = st.columns(2)
with left:
    chart_block(t("c_bucket_bal", lang, snap=snap.isoformat()), both, lambda d: charts.bucket_balance(d, lang), view,
                "balance_by_bucket", "bucket_bal", help=metric_help("bucket_balance", lang), export_opts=on_snap,
                drill=lambda p: {"event": "snapshot", "snapshot_on": snap.isoformat(),
                                 "buckets": (p.get("customdata"),), "label": f"{snap} · {p.get('customdata')}"})


def _cell(p: dict) -> dict | None:
    """A roll-matrix cell: the cases in its from-bucket at the previous snapshot found in its to-bucket at this one."""
    fb, _, tb = str(p.get("customdata") or "").partition("|")
    if not fb or not tb:
        return None
    return {"event": "snapshot", "snapshot_on": snap.isoformat(), "from_bucket": fb, "to_bucket": tb,
            "label": f"{snap} · {fb} → {value(tb, lang)}"}


with right:
    roll = data.metric("roll_rate", f, (), snapshot=snap, basis=basis)
    chart_block(t("c_roll_matrix", lang, snap=snap.isoformat(), basis=t(f"b_{basis}", lang)), roll,
                lambda d: charts.roll_matrix(d, lang, order), view, f"roll_rate_{basis}", "roll_matrix",
                help=metric_help("roll_rate", lang), drill=_cell, hint=t("click_cell", lang),
                export_opts=on_snap | {"metric": "roll_rate", "basis": basis})

window = data.snapshot_window(f, snap)
over = {"period": (window.start, window.end), "filters": window}
left, right = st.columns(2)
with left:
    trend = data.compose("roll_trend", window, basis=basis)
    chart_block(t("c_roll_trend", lang), trend,
                lambda d: charts.lines(d, lang, "month", "value", "pair", t("c_roll_trend", lang)), view,
                f"roll_trend_{basis}", "roll_trend", help=metric_help("roll_rate", lang),
                export_opts=over | {"metric": "roll_rate", "basis": basis})
with right:
    cure = data.metric("cure_rate", window, ("month",), basis=basis)
    cure = data.Result(cure.df.filter(pl.col("from_bucket") != order[0]), cure.note) if not cure.empty else cure
    chart_block(t("c_cure", lang), cure,
                lambda d: charts.lines(d, lang, "month", "value", "from_bucket", t("c_cure", lang)), view,
                f"cure_rate_{basis}", "cure", help=metric_help("cure_rate", lang),
                export_opts=over | {"metric": "cure_rate", "basis": basis})
