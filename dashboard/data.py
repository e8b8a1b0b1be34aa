"""The only module with st.cache_*: wraps queries.* for the pages."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import make_url

from queries.config import Settings, load_settings
from queries.db import SourceError, describe_error, read_only_engine
from queries.summary import database_summary as _database_summary


@st.cache_resource
def settings() -> Settings:
    """Runtime settings, read once per server process."""
    return load_settings()


@st.cache_resource
def engine() -> sa.Engine:
    """The read-only engine on the case database."""
    return read_only_engine(settings().source_url)


def source_label() -> str:
    """The source URL without its password, for display."""
    return make_url(settings().source_url).render_as_string(hide_password=True)


@st.cache_data(ttl=300, show_spinner=False)
def database_summary() -> tuple[pl.DataFrame | None, str | None]:
    """Table row counts and date spans, or the reason they cannot be read."""
    try:
        return _database_summary(engine()), None
    except (SourceError, sa.exc.SQLAlchemyError, OSError) as exc:
        return None, describe_error(exc)
