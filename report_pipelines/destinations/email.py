"""Email over SMTP: ``SMTP_URL`` = ``smtp://[user:password@]host[:port]`` (STARTTLS when the server
offers it; required before sending a password) or ``smtps://…`` (TLS from the first byte).
Credentials may instead come from ``SMTP_USERNAME`` / ``SMTP_PASSWORD``; the sender is
``SMTP_FROM`` (default ``reports@<host>``). The mail has a plain-text and an HTML part, with the
full CSV (and the chart, when the report asks for one) attached."""

from __future__ import annotations

import html
import os
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from report_pipelines.destinations.payload import ReportContent, cell_text
from report_pipelines.destinations.webhook import DestinationError

SMTP_URL_ENV = "SMTP_URL"
TIMEOUT_SECONDS = 30
HTML_TABLE_ROWS = 50


def smtp_settings() -> dict:
    url = os.environ.get(SMTP_URL_ENV, "").strip()
    if not url:
        raise DestinationError(f"{SMTP_URL_ENV} is not set: give smtp://host:port or smtps://host:port", final=True)
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise DestinationError(f"{SMTP_URL_ENV} must look like smtp://host:587 or smtps://host:465", final=True)
    return {
        "tls": parts.scheme == "smtps", "host": parts.hostname,
        "port": parts.port or (465 if parts.scheme == "smtps" else 25),
        "username": unquote(parts.username) if parts.username else os.environ.get("SMTP_USERNAME") or None,
        "password": unquote(parts.password) if parts.password else os.environ.get("SMTP_PASSWORD") or None,
        "sender": os.environ.get("SMTP_FROM") or f"reports@{parts.hostname}",
    }  # fmt: skip


def build(content: ReportContent, to: list[str], sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = f"📊 {content.title()}"
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail.set_content(_plain(content))
    mail.add_alternative(_html(content), subtype="html")
    stem = f"{content.report.slug}_{content.window.partition_key}".replace(":", "-")
    mail.add_attachment(content.csv, maintype="text", subtype="csv", filename=f"{stem}.csv")
    if content.chart:
        mail.add_attachment(content.chart, maintype="image", subtype="png", filename=f"{stem}.png")
    return mail


def send(to: list[str], content: ReportContent) -> str:
    settings = smtp_settings()
    mail = build(content, to, settings["sender"])
    try:
        if settings["tls"]:
            server = smtplib.SMTP_SSL(settings["host"], settings["port"], timeout=TIMEOUT_SECONDS,
                                      context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(settings["host"], settings["port"], timeout=TIMEOUT_SECONDS)
        with server:
            server.ehlo()
            if not settings["tls"] and server.has_extn("starttls"):
                server.starttls(context=ssl.create_default_context())
                server.ehlo()
            elif not settings["tls"] and settings["username"]:
                raise DestinationError(
                    f"{settings['host']} offers no STARTTLS: refusing to send the SMTP password in clear; use smtps://",
                    final=True,
                )
            if settings["username"]:
                server.login(settings["username"], settings["password"] or "")
            refused = server.send_message(mail)
    except smtplib.SMTPAuthenticationError as err:
        raise DestinationError(f"SMTP login to {settings['host']} failed: {err.smtp_code}", final=True) from err
    except smtplib.SMTPRecipientsRefused as err:
        raise DestinationError(f"every recipient was refused: {', '.join(err.recipients)}", final=True) from err
    except (smtplib.SMTPException, OSError) as err:
        raise DestinationError(f"SMTP to {settings['host']}:{settings['port']} failed: {err}", final=False) from err
    accepted = [address for address in to if address not in refused]
    return f"mailed to {', '.join(accepted)}" + (f"; refused: {', '.join(refused)}" if refused else "")


def _plain(content: ReportContent) -> str:
    analysis = content.analysis
    lines = [content.title(), "", analysis.summary, "", "Key metrics:"]
    lines += [f"  {title}: {value}" for title, value in content.metric_facts()]
    signals = content.signal_lines()
    lines += ["", *signals] if signals else []
    for title, items in (("Insights", analysis.insights), ("Recommendations", analysis.recommendations)):
        if items:
            lines += ["", f"{title}:", *(f"  - {item}" for item in items)]
    lines += ["", f"The full data is attached as CSV. Run: {content.run_url}"]
    return "\n".join(lines)


def _html(content: ReportContent) -> str:
    analysis = content.analysis
    esc = html.escape
    facts = "".join(f"<tr><th align='left'>{esc(t)}</th><td>{esc(v)}</td></tr>" for t, v in content.metric_facts())
    frame = content.frame.iloc[:HTML_TABLE_ROWS]
    head = "".join(f"<th>{esc(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(cell_text(v))}</td>" for v in record) + "</tr>" for record in frame.itertuples(index=False)
    )
    signals = "".join(f"<p>{esc(line)}</p>" for line in content.signal_lines())
    lists = "".join(
        f"<h3>{title}</h3><ul>" + "".join(f"<li>{esc(item)}</li>" for item in items) + "</ul>"
        for title, items in (("Insights", analysis.insights), ("Recommendations", analysis.recommendations)) if items
    )
    return (
        f"<html><body><h2>📊 {esc(content.report.name)}</h2><p>{esc(content.window.describe())}</p>"
        f"<p>{esc(analysis.summary)}</p><table>{facts}</table>{signals}"
        f"<table border='1' cellspacing='0' cellpadding='4'><tr>{head}</tr>{body}</table>{lists}"
        f"<p><a href='{esc(content.run_url, quote=True)}'>Open the run in Dagster</a></p></body></html>"
    )
