"""Measure PyTorch ResNet-34 training throughput on CPU, for comparison with
the .NET trainer.

Setup mirrors the .NET benchmark: torchvision resnet34(num_classes=10),
seeded random inputs (64x64 unless --size says), batch 32, SGD(lr=0.01, momentum=0.9,
nesterov=True, weight_decay=5e-4), cross-entropy, 2 threads.
3 untimed warm-up steps, then --steps timed steps.

--channels-last puts the model and the batch in channels-last memory format;
--bf16 runs forward and loss under torch.autocast("cpu", dtype=torch.bfloat16)
(FP32 master weights), PyTorch's own mixed precision, fastest with channels-last
on CPUs with AVX512-BF16 or AMX.

Usage:
    /usr/bin/python3 tools/pytorch_train_benchmark.py [--steps 20] [--size 64] [--channels-last] [--bf16]

Prints one JSON line:
    {"framework":"pytorch","images_per_second":...,"steps":...,"batch":32,"size":64,...}
"""
import argparse
import contextlib
import json
import time

import torch
import torchvision

BATCH, CLASSES, WARMUP = 32, 10, 3


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--bf16", action="store_true")
    a = p.parse_args()
    memory_format = torch.channels_last if a.channels_last else torch.contiguous_format

    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    model = torchvision.models.resnet34(weights=None, num_classes=CLASSES).train()
    model = model.to(memory_format=memory_format)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                          nesterov=True, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    # one fixed batch: we time compute, not data loading
    x = torch.randn(BATCH, 3, a.size, a.size).contiguous(memory_format=memory_format)
    y = torch.randint(0, CLASSES, (BATCH,))

    def step():
        opt.zero_grad(set_to_none=True)
        precision = torch.autocast("cpu", dtype=torch.bfloat16) if a.bf16 else contextlib.nullcontext()
        with precision:
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(WARMUP):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    elapsed = time.perf_counter() - start

    print(json.dumps({"framework": "pytorch",
                      "images_per_second": a.steps * BATCH / elapsed,
                      "steps": a.steps, "batch": BATCH, "size": a.size,
                      "channels_last": a.channels_last, "bf16": a.bf16},
                     separators=(",", ":")))


if __name__ == "__main__":
    main()
