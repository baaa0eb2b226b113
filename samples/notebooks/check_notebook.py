"""Checks an executed notebook (dotnet-repl --output-format ipynb): no error outputs, and every cell that
draws a chart (a line calling one of NotebookHelpers' chart functions) has an image/png output.

Usage: python3 check_notebook.py executed.ipynb
Exit 0 when the notebook is clean; 1 with a list of problems otherwise.
"""
import json
import re
import sys

CHART_CALL = re.compile(r"^\s*(?:display\()?\s*(LineChart|ConfusionHeatmap|ImageGrid|AgreementChart)\(", re.MULTILINE)


def main(path):
    with open(path, encoding="utf-8") as f:
        notebook = json.load(f)
    problems = []
    images = 0
    for index, cell in enumerate(notebook["cells"]):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", []))
        outputs = cell.get("outputs", [])
        for output in outputs:
            if output.get("output_type") == "error":
                problems.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
        cell_images = sum(1 for o in outputs if "image/png" in o.get("data", {}))
        images += cell_images
        chart = CHART_CALL.search(source)
        if chart and cell_images == 0:
            problems.append(f"cell {index}: calls {chart.group(1)} but has no image/png output")
    if images == 0:
        problems.append("no image output at all (every notebook here draws charts)")
    for problem in problems:
        print(f"{path}: {problem}")
    print(f"{path}: {images} image(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
