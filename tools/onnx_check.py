"""Validate ONNX files with the official checker.

Usage:
    /usr/bin/python3 tools/onnx_check.py FILE.onnx [FILE.onnx ...]

Runs onnx.checker.check_model(onnx.load(path), full_check=True) on each file
(full_check also runs shape inference). Prints "OK <path>" per valid file;
exits 1 if any file fails.
"""
import sys

import onnx


def main(paths):
    if not paths:
        sys.exit(__doc__)
    failed = False
    for path in paths:
        try:
            onnx.checker.check_model(onnx.load(path), full_check=True)
            print(f"OK {path}")
        except Exception as e:  # keep checking the other files
            print(f"FAIL {path}: {type(e).__name__}: {e}", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
