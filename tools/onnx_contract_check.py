"""Check that an ONNX file is a ResNetMl export (ResNetClassifierTransformer.SaveOnnx, ResNetOnnxExporter.Export).

Usage:
    /usr/bin/python3 tools/onnx_contract_check.py FILE.onnx

One input 'pixels' [N, 3, H, W]; outputs 'logits', 'probabilities' and 'features', nothing else (a graph taken
out of a saved model zip would have its input renamed and extra flattened outputs); the metadata keys the
README lists. Prints "OK <path>" or the problems, and exits 1 on any.
"""
import json
import sys

import onnx

OUTPUTS = ["logits", "probabilities", "features"]
METADATA = ["resnet.labels", "resnet.mean", "resnet.std", "resnet.input_size", "resnet.architecture"]


def main(path):
    model = onnx.load(path)
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    outputs = [o.name for o in model.graph.output]
    metadata = {p.key: p.value for p in model.metadata_props}
    problems = []
    if [i.name for i in inputs] != ["pixels"]:
        problems.append(f"inputs {[i.name for i in inputs]}, expected ['pixels']")
    elif [d.dim_value for d in inputs[0].type.tensor_type.shape.dim][1] != 3:
        problems.append("input 'pixels' is not [N, 3, H, W]")
    if outputs != OUTPUTS:
        problems.append(f"outputs {outputs}, expected {OUTPUTS}")
    problems += [f"no metadata '{key}'" for key in METADATA if key not in metadata]
    if model.producer_name != "ResNetMl":
        problems.append(f"producer_name '{model.producer_name}', expected 'ResNetMl'")
    if "resnet.labels" in metadata and len(json.loads(metadata["resnet.labels"])) != model.graph.output[0].type.tensor_type.shape.dim[1].dim_value:
        problems.append("the label count differs from the logits width")
    for problem in problems:
        print(f"FAIL {path}: {problem}", file=sys.stderr)
    if not problems:
        print(f"OK {path}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
