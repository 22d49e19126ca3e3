"""Build ``recheck/data/signatures.json`` from elastic-recheck's queries.

Reproducible: the output depends only on the query files (sorted by bug
number, no timestamps). Run from the repository root::

    python recheck/data/build_signatures.py ../shared/fixtures/recheck/elastic-recheck/queries

Queries we cannot represent offline (no message phrase, too many
alternatives) are left out and listed on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from recheck.lucene import QueryError
from recheck.signatures import SHIPPED, signature_from_query

SOURCE = "openstack-infra/elastic-recheck queries (Apache-2.0), converted by recheck/data/build_signatures.py"


def build(queries: Path) -> tuple[dict[str, Any], list[str]]:
    signatures = []
    skipped = []
    files = sorted(queries.glob("*.yaml"), key=lambda p: (len(p.stem), p.stem))
    for path in files:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            sig = signature_from_query(int(path.stem), doc)
        except (QueryError, ValueError, TypeError, AttributeError, yaml.YAMLError) as exc:
            skipped.append(f"{path.name}: {exc}")
            continue
        signatures.append(sig.to_json())
    return {"version": 1, "source": SOURCE, "signatures": signatures}, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", type=Path, help="elastic-recheck queries/ directory")
    parser.add_argument("-o", "--output", type=Path, default=SHIPPED)
    args = parser.parse_args(argv)
    doc, skipped = build(args.queries)
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    # One signature per line: compact, yet reviewable in a diff.
    lines = [json.dumps(sig, sort_keys=True, ensure_ascii=False) for sig in doc["signatures"]]
    head = json.dumps({"source": doc["source"], "version": doc["version"]})[:-1]
    text = head + ', "signatures": [\n' + ",\n".join(lines) + "\n]}\n"
    args.output.write_text(text, encoding="utf-8")
    print(f"{len(doc['signatures'])} signatures written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
