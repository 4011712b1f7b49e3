"""`newsmon rules check`: every problem of every rule, each naming its file, rule and line.

Unlike loading the configuration (which stops at the first error), this reads each file that
holds rules (the config, its includes, or a separate rules file) and checks every rule on its
own: pydantic shape errors, unknown watch-list entities and event types, query errors with their
position, unknown channels, duplicate names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from newsmon.config import Config, Rule, expand_env, find_config_file
from newsmon.errors import ConfigError


@dataclass(slots=True)
class RuleProblem:
    file: str
    line: int | None  # 1-based line of the rule's entry
    rule: str  # the rule's name, or "#index" when it has none
    message: str  # "key: what is wrong"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: rule {self.rule}: {self.message}"


@dataclass(slots=True)
class RuleEntry:
    file: str
    line: int | None
    data: Any


def check_rules(config_path: str | None, rules_file: str | None = None) -> tuple[int, list[RuleProblem]]:
    """(rules checked, problems) for the configured rules, or those of `rules_file` if given."""
    config = _base_config(config_path)
    entries = read_rule_entries(Path(rules_file)) if rules_file else _config_rule_entries(config_path)
    problems: list[RuleProblem] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        name = entry.data.get("name") if isinstance(entry.data, dict) else None
        label = repr(name) if name else f"#{index + 1}"
        problems += [RuleProblem(entry.file, entry.line, label, message)
                     for message in _entry_problems(entry, config)]
        if not isinstance(name, str) or not name:
            continue  # a missing or non-text name is reported above, and duplicates nothing
        if name in seen:
            problems.append(RuleProblem(entry.file, entry.line, label, "name: duplicate rule name"))
        seen.add(name)
    return len(entries), problems


def _entry_problems(entry: RuleEntry, config: Config) -> list[str]:
    from newsmon.alerts.rules import rule_problems

    try:
        rule = Rule.model_validate(expand_env(entry.data, entry.file))
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc']) or 'rule'}: "
                f"{'unknown key' if e['type'] == 'extra_forbidden' else e['msg']}" for e in exc.errors()]
    return rule_problems(rule, {w.name for w in config.watchlist}, list(config.channels))


def _base_config(config_path: str | None) -> Config:
    """The configuration without its rules, so one bad rule does not hide the others."""
    from newsmon.config import describe_validation_error, read_config_yaml  # the loader's own

    file = find_config_file(config_path)
    if file is None:
        return Config()
    data = read_config_yaml(file, seen=set())
    data.pop("rules", None)
    try:
        return Config.model_validate(expand_env(data, str(file)))
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, str(file))) from None


def _config_rule_entries(config_path: str | None) -> list[RuleEntry]:
    file = find_config_file(config_path)
    return _entries_with_includes(file, set()) if file else []


def _entries_with_includes(file: Path, seen: set[Path]) -> list[RuleEntry]:
    """Rules in the order load_config merges them: included files first, then the file's own."""
    if file.resolve() in seen:
        return []
    seen.add(file.resolve())
    node, data = _compose(file)
    found: list[RuleEntry] = []
    for include in (data.get("include") or []) if isinstance(data, dict) else []:
        found += _entries_with_includes(file.parent / include, seen)
    return found + _rules_in(file, node, data)


def read_rule_entries(file: Path) -> list[RuleEntry]:
    """Rules of a rules file: a list of rules, or a mapping with a `rules` list."""
    node, data = _compose(file)
    if isinstance(data, list):
        return [RuleEntry(str(file), item.start_mark.line + 1, value) for item, value in zip(node.value, data)]
    return _rules_in(file, node, data)


def _compose(file: Path) -> tuple[Any, Any]:
    try:
        text = file.read_text(encoding="utf-8")
        return yaml.compose(text), yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"{file}:{f' line {mark.line + 1}' if mark else ''} invalid YAML") from None


def _rules_in(file: Path, node: Any, data: Any) -> list[RuleEntry]:
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        return []
    [rules_node] = [value for key, value in node.value if key.value == "rules"]
    return [RuleEntry(str(file), item.start_mark.line + 1, value)
            for item, value in zip(rules_node.value, data["rules"])]
