"""The README's copy-paste example, run as a reader would, against the test stack."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_webhook_example_changes_the_campaign_status(stack):
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- example: webhook.*?-->\n```sh\n(.*?)```", readme, re.S).group(1)

    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=ROOT, env={**stack["env"], "BASE": stack["base_url"]},
        capture_output=True, text=True, timeout=60,
    )

    assert run.returncode == 0, run.stderr
    documents = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    before, accepted, after = documents[-3:]
    assert before["data"]["mediaBuyStatus"]["surfacedStatus"] == "PENDING_APPROVAL"
    assert "event_id" in accepted["data"]
    assert after["data"]["mediaBuyStatus"]["surfacedStatus"] == "ACTIVE"
    assert [b["status"] for b in after["data"]["mediaBuys"]] == ["ACTIVE"]
