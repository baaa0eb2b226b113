"""Load a state dict written by ResNetMl into PyTorch's own classes and run it.

torch.load reads the file; torchvision.models.<arch>(num_classes=K) or, with --arch seed, the seed
project's ResNet (seed_resnet.py) takes it with load_state_dict(strict=True), so a missing,
unexpected or misshapen key fails here. The network then runs in eval mode on the float32 NCHW
pixels of --input (0..1, un-normalised), normalised with --mean/--std, and the logits and
probabilities are written as JSON to --out.

Usage:
    /usr/bin/python3 tools/pytorch_load_weights.py --weights F.pth --arch resnet34 --num-classes K
        --input PIXELS.bin --size 224 --out OUT.json [--mean R G B] [--std R G B]
"""
import argparse
import json

import numpy as np
import torch
import torchvision

import seed_resnet


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True)
    p.add_argument("--arch", required=True)
    p.add_argument("--num-classes", type=int, required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--mean", type=float, nargs=3, default=[0.485, 0.456, 0.406])
    p.add_argument("--std", type=float, nargs=3, default=[0.229, 0.224, 0.225])
    a = p.parse_args()

    torch.set_num_threads(2)
    state = torch.load(a.weights, map_location="cpu")
    if a.arch == "seed":
        model = seed_resnet.ResNet(num_classes=a.num_classes)
    else:
        model = getattr(torchvision.models, a.arch)(weights=None, num_classes=a.num_classes)
    model.load_state_dict(state, strict=True)
    model.eval()

    pixels = torch.from_numpy(np.fromfile(a.input, dtype="<f4")).view(-1, 3, a.size, a.size)
    mean = torch.tensor(a.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(a.std, dtype=torch.float32).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = model((pixels - mean) / std)
    result = {
        "keys": len(state),
        "logits": logits.tolist(),
        "probabilities": torch.softmax(logits, dim=1).tolist(),
    }
    with open(a.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
