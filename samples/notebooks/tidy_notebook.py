"""Makes an executed notebook (dotnet-repl --output-format ipynb) fit to commit, so that a rerun differs only where
a result does.

- dotnet-repl saves every update of a displayed value (package restore progress, the training's live status line) as
  an output of its own; a run of such updates keeps only its last state, which is what a notebook front end shows.
- Absolute paths of this machine become relative ones: the repository root is dropped, NuGet's package folder is
  written ~/.nuget/packages.

Usage: python3 tidy_notebook.py executed.ipynb REPOSITORY_ROOT   (rewrites the file in place)
"""
import json
import os
import sys

# Headings of .NET Interactive's package restore display, which is redrawn as the restore goes on.
RESTORE_TITLES = ("Installing Packages", "Installed Packages", "Restore sources")


def is_update(output):
    """A display that a later one replaces: plain-text status lines and package restore progress."""
    if output.get("output_type") != "display_data":
        return False
    data = output.get("data", {})
    if set(data) == {"text/plain"}:
        return True
    html = "".join(data.get("text/html", ""))
    return set(data) == {"text/html"} and any(f"<strong>{title}</strong>" in html for title in RESTORE_TITLES)


def kind(output):
    """Updates of the same kind replace each other: status lines do not replace restore progress."""
    return tuple(sorted(output.get("data", {})))


def collapse_updates(outputs):
    kept = []
    for output in outputs:
        if kept and is_update(output) and is_update(kept[-1]) and kind(output) == kind(kept[-1]):
            kept[-1] = output
        else:
            kept.append(output)
    return kept


def relative_paths(value, replacements):
    if isinstance(value, str):
        for old, new in replacements:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [relative_paths(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: relative_paths(v, replacements) for k, v in value.items()}
    return value


def main(path, root):
    root = os.path.realpath(root)
    nuget = os.environ.get("NUGET_PACKAGES") or os.path.expanduser("~/.nuget/packages")
    replacements = [(nuget.rstrip("/") + "/", "~/.nuget/packages/"), (root + "/", ""), (root, ".")]
    with open(path, encoding="utf-8") as f:
        notebook = json.load(f)
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "code":
            cell["outputs"] = relative_paths(collapse_updates(cell.get("outputs", [])), replacements)
    temp = path + ".tmp"
    with open(temp, "w", encoding="utf-8") as f:
        json.dump(notebook, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(temp, path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
