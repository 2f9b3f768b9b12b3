"""Make the collection (through .build/collections, see scripts/bootstrap.sh) and tests/support importable."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for path in (os.path.join(ROOT, ".build", "collections"), HERE):
    if path not in sys.path:
        sys.path.insert(0, path)
