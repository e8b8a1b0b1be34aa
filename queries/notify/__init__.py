"""Pushed reports: the daily digest per recipient, exception alerts, and the channels that carry them.

digest (one recipient's numbers, through the scoped facade) → render (HTML, markdown, xlsx) and images (charts
as PNG) → outbox (retries, nothing lost, nothing sent twice) → channels (SMTP, WeCom, DingTalk, Feishu).
alerts reads a rules file of conditions on any registered metric. run ties them together for the command line.
"""
