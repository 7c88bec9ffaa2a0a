"""Write the retry policy into infra/statemachine/fallback.asl.json (or check it, --check).

The Attempt state's Retry is DEFAULT_RETRY_POLICY.to_asl(): one source of truth for the
in-process executor and the state machine. Run after changing the policy.
"""

from __future__ import annotations

import argparse
import json
import sys

from modelyard.resilience.statemachine import DEFINITION_PATH, render, with_retry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args()
    current = DEFINITION_PATH.read_text()
    rendered = render(with_retry(json.loads(current)))
    if args.check:
        if rendered != current:
            print(f"{DEFINITION_PATH} is out of date: run scripts/render_statemachine.py")
            return 1
        return 0
    DEFINITION_PATH.write_text(rendered)
    print(f"wrote {DEFINITION_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
