"""Measure PyTorch ResNet inference throughput on CPU, for comparison with the
.NET scorer (TorchSharp / ONNX Runtime).

torchvision <arch>(weights=None), eval() + no_grad(), seeded random 224x224
inputs, 2 threads, batch sizes 1 and 16 (--batches). For each batch size:
3 untimed warm-up runs, then --steps timed runs.

Usage:
    /usr/bin/python3 tools/pytorch_infer_benchmark.py [--arch resnet34]
        [--steps 20] [--batches 1 16]

Prints one JSON line per batch size:
    {"framework":"pytorch","arch":...,"images_per_second":...,"ms_per_batch":...,
     "steps":...,"batch":...,"size":224}
"""
import argparse
import json
import time

import torch
import torchvision

SIZE, WARMUP = 224, 3


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", choices=("resnet18", "resnet34", "resnet50"), default="resnet34")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    p.add_argument("--seed", type=int, default=1234)
    a = p.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    model = getattr(torchvision.models, a.arch)(weights=None).eval()

    with torch.no_grad():
        for batch in a.batches:
            x = torch.randn(batch, 3, SIZE, SIZE)
            for _ in range(WARMUP):
                model(x)
            start = time.perf_counter()
            for _ in range(a.steps):
                model(x)
            elapsed = time.perf_counter() - start
            print(json.dumps({"framework": "pytorch", "arch": a.arch,
                              "images_per_second": a.steps * batch / elapsed,
                              "ms_per_batch": 1000 * elapsed / a.steps,
                              "steps": a.steps, "batch": batch, "size": SIZE},
                             separators=(",", ":")),
                  flush=True)


if __name__ == "__main__":
    main()
