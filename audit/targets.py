"""What an event's target (and acting app) is called, for the audit log page: each app that
records events about its objects registers how to name them (in its AppConfig.ready), so the
audit app, at the bottom of the layers, names a connected app or a user without importing the
apps above it. One resolver call per target type for the whole page: no query per row."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TargetLabel:
    """How the page shows one target: its name, a link when there is a page, a small note
    (an app's client_id), or that it no longer exists."""

    name: str
    url: str = ""
    note: str = ""
    deleted: bool = False


# A resolver: (the org whose trail is read, the ids of one type) -> {id: label}. The ids are
# strings as stored (target_id is free text): a resolver skips the ones that cannot be its
# keys. An id it leaves out is shown as deleted.
Resolver = Callable[[Any, list[str]], dict[str, TargetLabel]]

# The acting app of an event, by client_id (events keep the client_id, not the row's id).
APP_BY_CLIENT_ID = "app_by_client_id"

_resolvers: dict[str, Resolver] = {}


def target_resolver(*target_types: str) -> Callable[[Resolver], Resolver]:
    """Register the decorated function as the resolver of `target_types`."""

    def register(resolver: Resolver) -> Resolver:
        for target_type in target_types:
            _resolvers[target_type] = resolver
        return resolver

    return register


def targets_resolve(
    *, org: Any, targets: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], TargetLabel]:
    """Labels of the (type, id) pairs: one call per type (types sharing a resolver share the
    call); a pair of a type nobody resolves has no entry, a missing object a deleted label."""
    by_resolver: dict[Resolver, set[tuple[str, str]]] = defaultdict(set)
    for target_type, target_id in targets:
        resolver = _resolvers.get(target_type)
        if resolver is not None and target_id:
            by_resolver[resolver].add((target_type, target_id))
    labels: dict[tuple[str, str], TargetLabel] = {}
    for resolver, pairs in by_resolver.items():
        found = resolver(org, sorted({target_id for _, target_id in pairs}))
        for target_type, target_id in pairs:
            labels[(target_type, target_id)] = found.get(target_id) or TargetLabel(
                name=target_id, deleted=True
            )
    return labels


def event_targets(events: Iterable[Any]) -> list[tuple[str, str]]:
    """The (type, id) pairs a page of events names: targets, acting users and acting apps."""
    pairs: list[tuple[str, str]] = []
    for event in events:
        if event.target_type and event.target_id:
            pairs.append((event.target_type, event.target_id))
        if event.actor_user_id is not None:
            pairs.append(("user", str(event.actor_user_id)))
        if event.actor_client_id:
            pairs.append((APP_BY_CLIENT_ID, event.actor_client_id))
    return pairs


# Keys of the mappings inside an event's detail lists (an app's scopes: `{"scope": …, "org":
# …, "envId": …}`) whose value is the id of a target the page can name.
DETAIL_REFERENCES = {"org": "organization", "envId": "environment"}


def detail_references(events: Iterable[Any]) -> list[tuple[str, str]]:
    """The (type, id) pairs named inside the details of a page of events: the ids under a
    DETAIL_REFERENCES key of a mapping in a list, one level down (where scopes keep them)."""
    pairs: list[tuple[str, str]] = []
    for event in events:
        details = event.details if isinstance(event.details, dict) else {}
        for value in details.values():
            for item in value if isinstance(value, list) else ():
                if isinstance(item, dict):
                    pairs.extend(
                        (target_type, str(item[key]))
                        for key, target_type in DETAIL_REFERENCES.items()
                        if item.get(key)
                    )
    return pairs
