"""The facts of a story that make a follow-up worth sending.

A rule alerts once per story. A later article of the story earns one follow-up only if it adds a
fact the earlier notifications did not carry: a new event type, a new amount, a new date or
deadline, a new actor or target. Facts are compared by key (normalised: case, spacing, rounded
amounts), so repeats in other words or by other outlets send nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from newsmon.records import Event, EventType


@dataclass(frozen=True, slots=True)
class Fact:
    key: str  # e.g. "amount:FINE:3000000:RUB", stored per (rule, story)
    kind: str  # event, amount, date, actor, target
    label: str  # what a person reads: "3,000,000 RUB (FINE)"
    sentence: str


def extract_facts(events: Iterable[Event], types: Collection[EventType] = ()) -> dict[str, Fact]:
    """The facts in these events (only events of `types` when given), first sentence per fact."""
    found: dict[str, Fact] = {}
    for event in events:
        if types and event.type not in types:
            continue
        for fact in _event_facts(event):
            found.setdefault(fact.key, fact)
    return found


def _event_facts(event: Event) -> list[Fact]:
    kind = event.type.value
    facts = [Fact(f"event:{kind}", "event", kind, event.sentence)]
    if event.amount is not None:
        amount = round(event.amount)
        currency = (event.currency or "").upper()
        facts.append(Fact(f"amount:{kind}:{amount}:{currency}", "amount",
                          f"{amount:,} {currency}".strip() + f" ({kind})", event.sentence))
    if event.date:
        facts.append(Fact(f"date:{kind}:{event.date}", "date", f"{event.date} ({kind})", event.sentence))
    for role in ("actor", "target"):
        value = getattr(event, role)
        if value and (name := _normal(value)):
            facts.append(Fact(f"{role}:{name}", role, value.strip(), event.sentence))
    return facts


def _normal(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip().casefold()


def new_facts(facts: dict[str, Fact], known: Collection[str]) -> list[Fact]:
    """The facts not among the `known` keys, in the order found."""
    return [fact for key, fact in facts.items() if key not in known]
