#!/usr/bin/env python3
"""The slowest tests of a run, from its TRX report: where the suite's time goes (CI prints it after the tests).

Usage: slowest_tests.py REPORT.trx [COUNT]
"""
import sys
import xml.etree.ElementTree as ElementTree

NAMESPACE = {"trx": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}


def seconds(duration: str) -> float:
    """A TRX duration, hh:mm:ss.fffffff, in seconds."""
    hours, minutes, rest = duration.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def main() -> None:
    report, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 15
    results = ElementTree.parse(report).getroot().findall(".//trx:UnitTestResult", NAMESPACE)
    timed = sorted(((seconds(r.get("duration", "0:0:0")), r.get("testName")) for r in results), reverse=True)
    total = sum(duration for duration, _ in timed)
    print(f"{len(timed)} tests, {total / 60:.1f} min in the tests themselves; the {count} slowest:")
    for duration, name in timed[:count]:
        print(f"  {duration:7.1f} s  {100 * duration / total:4.1f}%  {name}")


if __name__ == "__main__":
    main()
