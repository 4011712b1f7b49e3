"""Alerting: rules over analysed articles, notification rendering, delivery through apprise.

A pure library: storage (matches, the outbox) is the pipeline's job.
"""

from __future__ import annotations

from newsmon.alerts.deliver import DeliveryError, next_attempt_delay, send
from newsmon.alerts.render import build_match_context, render_notification
from newsmon.alerts.rules import CompiledRule, compile_rule, evaluate, highlight_terms

__all__ = [
    "CompiledRule",
    "DeliveryError",
    "build_match_context",
    "compile_rule",
    "evaluate",
    "highlight_terms",
    "next_attempt_delay",
    "render_notification",
    "send",
]
