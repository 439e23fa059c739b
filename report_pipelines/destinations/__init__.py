"""Destinations beyond Slack: signed webhooks, Microsoft Teams Workflows, email over SMTP.

Each is delivered once per (report, window, destination) through the delivery ledger, beside
or instead of the report's Slack message. ``payload.py`` builds what they all send from the
run's exact figures; each module sends one kind.
"""
