"""Produce PyTorch reference outputs for the ResNet parity tests.

Builds a seeded, randomly initialised torchvision ResNet (or, with --arch seed,
the seed project's own ResNet-34 class from seed_resnet.py), gives every
BatchNorm layer non-trivial statistics (so a wrong BN import shows up), runs
the 224x224 PNG photos through it and writes, into --out:
    <arch>.pth              state_dict (torch.save)
    <arch>_reference.json   images, mean/std, logits and softmax per image
    <arch>_input.bin        un-normalised float32 pixels [N,3,224,224], little-endian
    <arch>_torch.onnx       only with --export-onnx (opset 17; the benchmark and the ONNX import tests)

Usage:
    /usr/bin/python3 tools/pytorch_reference.py --arch {resnet18,resnet34,resnet50,seed} --photos DIR --out DIR
        [--seed 1234] [--num-classes 1000] [--export-onnx]

Works with Debian 12's torch 1.13 / torchvision 0.14.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torchvision
from PIL import Image

import seed_resnet

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
ARCHS = ("resnet18", "resnet34", "resnet50", "seed")


def build_model(arch, num_classes, seed, calibration):
    torch.manual_seed(seed)
    if arch == "seed":
        model = seed_resnet.ResNet(num_classes=num_classes)
    else:
        model = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)
    # Default BN is identity-like (mean 0, var 1, weight 1, bias 0), which would hide mistakes
    # in how the .NET side imports or folds BatchNorm. Random statistics alone make eval-mode
    # activations explode through the residual sums (logits in the hundreds, where float32
    # rounding alone exceeds 1e-4), so first measure real statistics on the photos, as training
    # would, then perturb them and the affine weights.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration pass
    model.train()
    with torch.no_grad():
        model(torch.cat([calibration, calibration.flip(3)]))
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.add_(torch.randn(n, generator=g) * 0.05 * m.running_var.sqrt())
                m.running_var.mul_(torch.rand(n, generator=g) * 0.6 + 0.7)
                m.weight.copy_(torch.rand(n, generator=g) * 0.6 + 0.4)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
        # A trained head is sharper than the default init: logits of a few units, not a few tenths,
        # so the softmax comparison is not between near-uniform vectors.
        model.fc.weight.mul_(8)
    return model.eval()


def load_photos(folder):
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith(".png"))
    if not names:
        raise SystemExit(f"no *.png in {folder}")
    arrays = []
    for name in names:
        with Image.open(os.path.join(folder, name)) as img:
            # exactly pixel/255 in float32, HWC -> CHW; no resizing on purpose
            a = np.asarray(img.convert("RGB"), dtype=np.float32) / np.float32(255)
        arrays.append(a.transpose(2, 0, 1))
    return names, torch.from_numpy(np.ascontiguousarray(np.stack(arrays)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", choices=ARCHS, default="resnet34")
    p.add_argument("--photos", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--export-onnx", action="store_true")
    a = p.parse_args()

    start = time.perf_counter()
    torch.set_num_threads(2)
    os.makedirs(a.out, exist_ok=True)
    names, pixels = load_photos(a.photos)
    pixels.numpy().astype("<f4").tofile(os.path.join(a.out, f"{a.arch}_input.bin"))
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    model = build_model(a.arch, a.num_classes, a.seed, (pixels - mean) / std)
    torch.save(model.state_dict(), os.path.join(a.out, f"{a.arch}.pth"))
    with torch.no_grad():
        logits = model((pixels - mean) / std)
        probs = torch.softmax(logits, dim=1)

    result = {
        "arch": a.arch,
        "num_classes": a.num_classes,
        "seed": a.seed,
        "torch_version": torch.__version__,
        "images": names,
        "mean": MEAN,
        "std": STD,
        # float32 -> Python float is exact, and json writes repr (round-trips)
        "logits": logits.tolist(),
        "probabilities": probs.tolist(),
    }
    with open(os.path.join(a.out, f"{a.arch}_reference.json"), "w") as f:
        json.dump(result, f)

    if a.export_onnx:
        torch.onnx.export(
            model, torch.zeros(1, 3, 224, 224), os.path.join(a.out, f"{a.arch}_torch.onnx"),
            opset_version=17, input_names=["pixels"], output_names=["logits"],
            dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}})

    print(f"wrote {a.arch} outputs for {len(names)} images to {a.out} "
          f"in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
