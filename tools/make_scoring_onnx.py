"""Export a torchvision ResNet to ONNX under our scoring contract (test fixture only).

Stands in for our own exporter in scoring tests that must not depend on it: the graph is
pixels [N,3,H,W] in 0..1 -> (x-mean)/std -> resnet -> logits, probabilities (softmax)
[, features], with a dynamic batch axis and the contract's metadata_props
(see Microsoft.ML.ResNet/Export/OnnxContract.cs).

Usage:
    /usr/bin/python3 tools/make_scoring_onnx.py --arch resnet18 --out model.onnx
        [--pth state_dict.pth] [--num-classes K] [--labels a,b,c] [--height 224 --width 224]
        [--features] [--seed 7]

Without --pth the network is torchvision's seeded random initialisation, put in eval mode.
"""
import argparse
import json

import onnx
import torch
import torchvision

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


class Wrapper(torch.nn.Module):
    def __init__(self, net, features):
        super().__init__()
        self.net = net
        self.features = features
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, pixels):
        n = self.net
        x = (pixels - self.mean) / self.std
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        x = n.layer4(n.layer3(n.layer2(n.layer1(x))))
        emb = torch.flatten(n.avgpool(x), 1)
        logits = n.fc(emb)
        probs = torch.softmax(logits, dim=1)
        return (logits, probs, emb) if self.features else (logits, probs)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--pth")
    p.add_argument("--num-classes", type=int, default=0)
    p.add_argument("--labels")
    p.add_argument("--height", type=int, default=224)
    p.add_argument("--width", type=int, default=224)
    p.add_argument("--features", action="store_true")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", required=True)
    a = p.parse_args()

    torch.manual_seed(a.seed)
    state = torch.load(a.pth, map_location="cpu") if a.pth else None
    k = a.num_classes or (state["fc.weight"].shape[0] if state else 1000)
    net = getattr(torchvision.models, a.arch)(weights=None, num_classes=k)
    if state:
        net.load_state_dict(state)
    net.eval()
    labels = a.labels.split(",") if a.labels else [f"class{i}" for i in range(k)]
    if len(labels) != k:
        raise SystemExit(f"{len(labels)} labels for {k} classes")

    model = Wrapper(net, a.features).eval()
    outputs = ["logits", "probabilities"] + (["features"] if a.features else [])
    axes = {name: {0: "batch"} for name in ["pixels"] + outputs}
    torch.onnx.export(model, torch.zeros(1, 3, a.height, a.width), a.out, opset_version=17,
                      input_names=["pixels"], output_names=outputs, dynamic_axes=axes)

    m = onnx.load(a.out)
    arch = {"resnet18": "ResNet18", "resnet34": "ResNet34", "resnet50": "ResNet50",
            "resnet101": "ResNet101", "resnet152": "ResNet152"}[a.arch]
    props = {
        "resnet.architecture": arch,
        "resnet.variant": "TorchVision",
        "resnet.labels": json.dumps(labels),
        "resnet.mean": json.dumps(MEAN),
        "resnet.std": json.dumps(STD),
        "resnet.input_size": json.dumps([a.height, a.width]),
    }
    if a.features:
        props["resnet.feature_size"] = str(net.fc.in_features)
    for key, value in props.items():
        entry = m.metadata_props.add()
        entry.key, entry.value = key, value
    m.producer_name = "make_scoring_onnx.py"
    onnx.save(m, a.out)
    print(f"wrote {a.out}: {arch}, {k} classes, {a.height}x{a.width}, outputs {outputs}")


if __name__ == "__main__":
    main()
