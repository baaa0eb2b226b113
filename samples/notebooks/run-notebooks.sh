#!/usr/bin/env bash
# Executes every samples/notebooks/NN-*.ipynb headlessly with dotnet-repl, in order (02 uses 01's model),
# and fails on any cell error or on a chart cell without an image output.
# Executed copies go to samples/notebooks/out/executed/. Usage: samples/notebooks/run-notebooks.sh [filter]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
filter="${1:-}"
executed="$here/out/executed"
mkdir -p "$executed"

cd "$root"
dotnet tool restore >/dev/null
# The notebooks reference the library's build output (see their first cell).
dotnet build Microsoft.ML.ResNet -c Release -nologo -v quiet

failed=0
cd "$here"  # relative paths in the notebooks are relative to their folder
for notebook in [0-9][0-9]-*.ipynb; do
    if [[ -n "$filter" && "$notebook" != *"$filter"* ]]; then
        continue
    fi

    out="$executed/$notebook"
    start=$(date +%s)
    set +e
    # dotnet-repl targets an older runtime; roll forward to the installed one.
    DOTNET_ROLL_FORWARD=Major timeout 900 dotnet tool run dotnet-repl --run "$notebook" --exit-after-run \
        --output-format ipynb --output-path "$out" > "$executed/${notebook%.ipynb}.log" 2>&1
    rc=$?
    set -e
    seconds=$(( $(date +%s) - start ))
    if [[ ! -f "$out" ]]; then
        echo "FAIL $notebook: dotnet-repl exit $rc and no executed notebook (${seconds}s); log:"
        tail -n 30 "$executed/${notebook%.ipynb}.log"
        failed=1
        continue
    fi

    if /usr/bin/python3 "$here/check_notebook.py" "$out" && [[ $rc -eq 0 ]]; then
        echo "PASS $notebook (${seconds}s)"
    else
        echo "FAIL $notebook: dotnet-repl exit $rc (${seconds}s)"
        failed=1
    fi
done

exit $failed
