#!/usr/bin/env bash
# Packs the library as the ResNetMl package into artifacts/packages (the local feed the repository's nuget.config adds)
# with a fresh prerelease version, so restore can only take the package just packed: never an older copy of the same
# version in NuGet's cache. Prints the version (the last line of output). Used by samples/PackageConsumer/run.sh and
# samples/notebooks/run-notebooks.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
feed=artifacts/packages
version="0.1.0-local.$(date -u +%Y%m%d%H%M%S)"

rm -f "$feed"/ResNetMl.*.nupkg          # earlier local packs: the feed holds the newest only
dotnet pack Microsoft.ML.ResNet -c Release -o "$feed" -p:VersionSuffix="${version#0.1.0-}" >&2
test -s "$feed/ResNetMl.$version.nupkg" || { echo "dotnet pack did not write $feed/ResNetMl.$version.nupkg" >&2; exit 1; }
/usr/bin/python3 tools/package_check.py "$feed/ResNetMl.$version.nupkg" >&2   # id, metadata, managed dependencies only
echo "$version"
