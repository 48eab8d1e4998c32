"""The `cap:` section of config.yaml (issue 15, docs/cap.md): who may send us CAP alerts, how
geocodes map to our areas, what the policy does, which upstream feeds are polled.

```yaml
cap:
  language: zh-CN                  # the info block read first (default: zh-CN)
  sender: yaodu-broadcast@example.cn   # our alerts' <sender> on export (default: the name)
  sources:                         # systems that post to POST /api/v1/cap with their own key
    - id: linfen-met
      key_sha256: 5e88...          # SHA-256 (hex) of the key sent as `Authorization: Bearer`
      senders: [linfen-met@example.cn]   # optional: only these <sender> values (else any)
      certificates: [certs/linfen-met.pem]  # optional: then every alert must be signed
  geocodes:                        # "<valueName>:<value>" or "<value>" -> our area ids
    "GB/T 2260:141002": [yaodu]
    "141002001": [tunli]
  rules:                           # first match decides; none: Extreme+Immediate at once
    - {severity: [Extreme, Severe], urgency: [Immediate], action: broadcast_override}
    - {source: [linfen-met], event: [暴雨], action: broadcast}
    - {action: hold}
  feeds:                           # polled with conditional GETs (ETag / Last-Modified)
    - {id: shanxi-feed, url: "https://example.cn/cap/atom.xml", every_s: 60,
       senders: [shanxi-met@example.cn], key_env: SHANXI_FEED_KEY}   # key: optional
```
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from broadcaster.cap.policy import Action, Rule
from broadcaster.yamlload import Node

DEFAULT_LANGUAGE = "zh-CN"
RULE_KEYS = {"action", "source", "event", "severity", "urgency", "certainty"}


@dataclass(frozen=True, slots=True)
class CapSource:
    """A system allowed to post alerts with its own key (never stored: only its SHA-256)."""

    id: str
    key_sha256: str
    senders: tuple[str, ...] = ()  # empty: any <sender>
    certificates: tuple[str, ...] = ()  # PEM texts; any: every alert must be signed by one

    def accepts_key(self, key: str) -> bool:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return hmac.compare_digest(digest, self.key_sha256)


@dataclass(frozen=True, slots=True)
class CapFeed:
    """An upstream feed (a CAP document or an Atom/RSS feed of CAP links) we poll."""

    id: str
    url: str
    every_s: int = 60
    senders: tuple[str, ...] = ()
    key_env: str = ""  # the name of an environment variable holding a bearer key, if any
    certificates: tuple[str, ...] = ()  # PEM texts; any: every alert must be signed by one


@dataclass(frozen=True, slots=True)
class CapSettings:
    language: str = DEFAULT_LANGUAGE
    sender: str = ""
    sources: tuple[CapSource, ...] = ()
    geocodes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    feeds: tuple[CapFeed, ...] = ()

    def source_for_key(self, key: str) -> CapSource | None:
        """The source whose key this is (every key compared, in constant time)."""
        found = None
        for source in self.sources:
            if source.accepts_key(key):
                found = source
        return found


def _strings(node: Node) -> tuple[str, ...]:
    if isinstance(node.value, str):
        return (node.str(),)
    return tuple(n.str() for n in node.items())


def _certificates(fields: Mapping[str, Node]) -> tuple[str, ...]:
    """The PEM texts of `certificates` (paths relative to the configuration file)."""
    if "certificates" not in fields:
        return ()
    found = []
    for item in fields["certificates"].items():
        path = Path(item.str())
        if not path.is_absolute():
            path = item.file.parent / path
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            item.fail(f"a readable PEM certificate file ({exc})")
        if "-----BEGIN CERTIFICATE-----" not in text:
            item.fail("a PEM certificate file (-----BEGIN CERTIFICATE-----)")
        found.append(text)
    return tuple(found)


def load(node: Node) -> CapSettings:
    """The `cap:` section; a ConfigError naming the key for anything wrong."""
    if node.value is None:
        return CapSettings()
    top = node.mapping({"language", "sender", "sources", "geocodes", "rules", "feeds"})
    sources = []
    for item in top["sources"].items() if "sources" in top else ():
        fields = item.mapping({"id", "key_sha256", "senders", "certificates"})
        digest = fields["key_sha256"].str().lower() if "key_sha256" in fields else ""
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            item.fail("key_sha256: the SHA-256 of the key, 64 hexadecimal digits")
        senders = _strings(fields["senders"]) if "senders" in fields else ()
        sources.append(CapSource(item.get("id").str(), digest, senders, _certificates(fields)))
    geocodes: dict[str, tuple[str, ...]] = {}
    if "geocodes" in top:
        for code, areas in top["geocodes"].mapping().items():
            geocodes[code] = _strings(areas)
    rules = []
    for item in top["rules"].items() if "rules" in top else ():
        fields = item.mapping(RULE_KEYS)
        action_text = item.get("action").str()
        try:
            action = Action(action_text)
        except ValueError:
            item.get("action").fail("one of " + ", ".join(a.value for a in Action))
        rules.append(
            Rule(
                action,
                **{k: _strings(v) for k, v in fields.items() if k != "action"},
            )
        )
    feeds = []
    for item in top["feeds"].items() if "feeds" in top else ():
        fields = item.mapping({"id", "url", "every_s", "senders", "key_env", "certificates"})
        url = item.get("url").str()
        if not url.startswith(("http://", "https://")):
            item.get("url").fail("an http:// or https:// address")
        feeds.append(
            CapFeed(
                item.get("id").str(),
                url,
                fields["every_s"].int(10, 86400) if "every_s" in fields else 60,
                _strings(fields["senders"]) if "senders" in fields else (),
                fields["key_env"].str() if "key_env" in fields else "",
                _certificates(fields),
            )
        )
    return CapSettings(
        language=top["language"].str() if "language" in top else DEFAULT_LANGUAGE,
        sender=top["sender"].str() if "sender" in top else "",
        sources=tuple(sources),
        geocodes=geocodes,
        rules=tuple(rules),
        feeds=tuple(feeds),
    )
