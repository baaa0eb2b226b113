#!/usr/bin/env bash
# Packs the library as the ResNetMl package into artifacts/packages (tools/pack-local.sh: a fresh prerelease version
# each time, so restore can only take the package just packed) and runs samples/PackageConsumer against it.
set -euo pipefail
cd "$(dirname "$0")/../.."
version="$(tools/pack-local.sh | tail -n 1)"

dotnet run -c Release --project samples/PackageConsumer -p:ResNetMlVersion="$version" \
    -- Microsoft.ML.ResNet.Tests/TestData/fashion-mnist
