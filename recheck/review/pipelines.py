"""Which pipelines vote, and the comment that re-runs each one that does not.

On OpenDev (openstack/project-config ``zuul.d/pipelines.yaml``) the
``experimental`` and ``check-arm64`` pipelines report with an empty gerrit
reporter (``failure: {gerrit: {}}``: no Verified vote), and so do
``post-review``, ``promote`` and ``deploy``. A failure there never blocks a
merge, so it never justifies a ``recheck``; ``recheck`` does not even re-run
``experimental``, whose trigger is ``check experimental`` (``check-arm64``
answers to ``check arm64``).

The list is data: OpenDev's default, replaced by the
``[non-voting-pipelines]`` section of ``~/.config/ostk/recheck.ini`` (INI like
``.gitreview``: readable with the standard library on every Python we
support)::

    [non-voting-pipelines]
    experimental = check experimental
    check-arm64 = check arm64
    third-party-check =

Resolved once per command (:func:`load_pipeline_rules`).
"""
from __future__ import annotations

import configparser
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
CONFIG_NAME = "recheck.ini"
SECTION = "non-voting-pipelines"


@dataclass(frozen=True)
class PipelineRules:
    """The non-voting pipelines of a deployment and their trigger comments."""

    non_voting: Mapping[str, str | None] = field(default_factory=lambda: OPENDEV_NON_VOTING)

    def votes(self, pipeline: str | None) -> bool:
        return pipeline not in self.non_voting

    def trigger(self, pipeline: str) -> str | None:
        """The comment that re-runs a non-voting ``pipeline`` (None: unknown or voting)."""
        return self.non_voting.get(pipeline)


class _CaseKeepingParser(configparser.ConfigParser):
    def optionxform(self, optionstr: str) -> str:
        return optionstr  # pipeline names keep their case


def load_pipeline_rules(config_dir: Path) -> PipelineRules:
    """OpenDev's default, replaced by ``[non-voting-pipelines]`` of ``<config_dir>/recheck.ini``."""
    path = config_dir / CONFIG_NAME
    parser = _CaseKeepingParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        return PipelineRules()
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ConfigError(f"cannot read {path}: {' '.join(str(exc).split())}") from exc
    if not parser.has_section(SECTION):
        return PipelineRules()
    return PipelineRules(MappingProxyType({name: (value.strip() or None) for name, value in parser.items(SECTION)}))
