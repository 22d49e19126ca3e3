"""Which pipelines vote, and the comment that re-runs each one that does not.

On OpenDev (openstack/project-config ``zuul.d/pipelines.yaml``) the
``experimental`` and ``check-arm64`` pipelines report with an empty gerrit
reporter (``failure: {gerrit: {}}``: no Verified vote), and so do
``post-review``, ``promote`` and ``deploy``. A failure there never blocks a
merge, so it never justifies a ``recheck``; ``recheck`` does not even re-run
``experimental``, whose trigger is ``check experimental`` (``check-arm64``
answers to ``check arm64``).

The list is data: OpenDev's default, overridable in
``~/.config/ostk/recheck.toml``::

    [non-voting-pipelines]
    experimental = "check experimental"
    check-arm64 = "check arm64"
    third-party-check = ""          # non-voting, no trigger comment

Resolved once per command (:func:`load_pipeline_rules`).
"""
from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ostk.errors import ConfigError

#: OpenDev's pipelines without a vote, and the comment that triggers each (None: none).
OPENDEV_NON_VOTING: Mapping[str, str | None] = MappingProxyType(
    {
        "experimental": "check experimental",
        "check-arm64": "check arm64",
        "post-review": None,
        "promote": None,
        "deploy": None,
    }
)
CONFIG_NAME = "recheck.toml"


@dataclass(frozen=True)
class PipelineRules:
    """The non-voting pipelines of a deployment and their trigger comments."""

    non_voting: Mapping[str, str | None] = field(default_factory=lambda: OPENDEV_NON_VOTING)

    def votes(self, pipeline: str | None) -> bool:
        return pipeline not in self.non_voting

    def trigger(self, pipeline: str) -> str | None:
        """The comment that re-runs a non-voting ``pipeline`` (None: unknown or voting)."""
        return self.non_voting.get(pipeline)


def load_pipeline_rules(config_dir: Path) -> PipelineRules:
    """OpenDev's default, replaced by ``[non-voting-pipelines]`` of ``<config_dir>/recheck.toml``."""
    path = config_dir / CONFIG_NAME
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return PipelineRules()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    section = data.get("non-voting-pipelines")
    if section is None:
        return PipelineRules()
    if not isinstance(section, dict) or not all(isinstance(v, str) for v in section.values()):
        raise ConfigError(f"{path}: [non-voting-pipelines] maps pipeline names to trigger comments (strings)")
    return PipelineRules(MappingProxyType({str(k): (v or None) for k, v in section.items()}))
