"""A rule, its script and its function share one name (docs/architecture.md, "Names")."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Variant rules that run their base rule's script (and so its function).
VARIANTS = {"evaluate_seed": "evaluate", "release_evaluate": "evaluate", "release_train": "train_trial"}


def _rule_scripts() -> dict[str, str]:
    """``{rule: script stem}`` of every rule with a ``script:`` in workflow/rules/*.smk."""
    out = {}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^(?=(?:rule|checkpoint) )", smk.read_text(), flags=re.M)[1:]:
            name = re.match(r"(?:rule|checkpoint) (\w+):", block).group(1)
            script = re.search(r"^\s+script:\s*\n\s+\"\.\./scripts/(\w+)\.py\"", block, flags=re.M)
            if script:
                out[name] = script.group(1)
    return out


def test_a_rule_its_script_and_its_function_share_one_name():
    scripts = _rule_scripts()
    assert {"features", "pool", "robustness", "crossval_card", "download", "train_fold"} <= set(scripts)
    assert {rule: s for rule, s in scripts.items() if rule != s} == VARIANTS
    for stem in sorted(set(scripts.values())):
        text = (REPO / "workflow" / "scripts" / f"{stem}.py").read_text()
        # the one library call: <module>.<stem>(...) or <stem>(...) imported by name
        assert re.search(rf"(?:^|[\s.]){stem}\(", text, flags=re.M), f"workflow/scripts/{stem}.py calls no {stem}()"
