"""Delete the oldest snapshots, keeping the newest --keep of them."""

import argparse
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--keep", type=int, required=True)
keep = parser.parse_args().keep
if keep < 1:
    parser.error(f"--keep must be at least 1, not {keep}")
snapshots = sorted(Path("out/snapshots").glob("snapshot-*.zip"))
for path in snapshots[:-keep]:
    path.unlink()
    print(f"prune: deleted {path}")
print(f"prune: kept {len(snapshots[-keep:])}, deleted {len(snapshots[:-keep])} snapshots")
