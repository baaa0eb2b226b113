#!/usr/bin/env bash
# Regenerates the committed notebooks IN PLACE: packs the library into the local feed (tools/pack-local.sh), executes
# every samples/notebooks/NN-*.ipynb headlessly with dotnet-repl, in order (02 uses 01's model), tidies the result
# (tidy_notebook.py: no progress noise, no absolute paths) and checks it (check_notebook.py: no cell error, an image in
# every chart cell). A notebook that passes replaces the committed one, outputs and charts included; one that fails
# leaves it as it was. Executed copies and logs stay in samples/notebooks/out/executed/.
# Usage: samples/notebooks/run-notebooks.sh [filter]   (part of a name, e.g. 02)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
filter="${1:-}"
executed="$here/out/executed"
mkdir -p "$executed"

cd "$root"
dotnet tool restore >/dev/null
# The notebooks reference the library as the ResNetMl package, version 0.1.0-*: the newest pack on the local feed.
echo "packed ResNetMl $(tools/pack-local.sh 2>/dev/null | tail -n 1)"

failed=0
cd "$here"  # relative paths in the notebooks are relative to their folder
for notebook in [0-9][0-9]-*.ipynb; do
    if [[ -n "$filter" && "$notebook" != *"$filter"* ]]; then
        continue
    fi

    out="$executed/$notebook"
    rm -f "$out"
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

    /usr/bin/python3 "$here/tidy_notebook.py" "$out" "$root"
    if /usr/bin/python3 "$here/check_notebook.py" "$out" && [[ $rc -eq 0 ]]; then
        cp "$out" "$here/$notebook.tmp" && mv "$here/$notebook.tmp" "$here/$notebook"
        echo "PASS $notebook (${seconds}s): outputs written to samples/notebooks/$notebook"
    else
        echo "FAIL $notebook: dotnet-repl exit $rc (${seconds}s); samples/notebooks/$notebook left as it was"
        failed=1
    fi
done

exit $failed
