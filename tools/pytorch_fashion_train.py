"""Train torchvision's ResNet-34 from scratch on the committed Fashion-MNIST subset, the recipe the
.NET trainer's accuracy test uses, as a reference point for its accuracy and speed.

Images: Microsoft.ML.ResNet.Tests/TestData/fashion-mnist/{train,test}/<class>/*.png (28x28 gray),
resized to 32x32 (bilinear), replicated to RGB, scaled to 0..1, ImageNet mean/std.
Training: one-cycle SGD (Nesterov 0.9, wd 5e-4), label smoothing 0.1, random crop (pad 4) + flip.

Usage:
    /usr/bin/python3 tools/pytorch_fashion_train.py [--epochs 6] [--lr 0.1] [--batch 64] [--threads 2]

Prints one JSON line: {"framework":"pytorch","test_accuracy":...,"seconds":...,"images_per_second":...}
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO, "Microsoft.ML.ResNet.Tests", "TestData", "fashion-mnist")
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def load(split, size):
    folder = os.path.join(DATA, split)
    classes = sorted(os.listdir(folder))
    xs, ys = [], []
    for label, name in enumerate(classes):
        for file in sorted(os.listdir(os.path.join(folder, name))):
            image = Image.open(os.path.join(folder, name, file)).convert("RGB").resize((size, size), Image.BILINEAR)
            xs.append(np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0)
            ys.append(label)
    return torch.tensor(np.stack(xs)), torch.tensor(ys)


def augment(x, generator, pad=4):
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    out = torch.empty_like(x)
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    for i in range(n):
        dy, dx = offsets[i].tolist()
        crop = padded[i, :, dy:dy + h, dx:dx + w]
        out[i] = crop.flip(-1) if flips[i] else crop
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    generator = torch.Generator().manual_seed(a.seed)
    x_train, y_train = load("train", 32)
    x_test, y_test = load("test", 32)
    model = torchvision.models.resnet34(weights=None, num_classes=10)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = (len(x_train) + a.batch - 1) // a.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, epochs=a.epochs, steps_per_epoch=steps)
    start = time.perf_counter()
    for epoch in range(a.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        total, correct, loss_sum = 0, 0, 0.0
        for s in range(steps):
            idx = order[s * a.batch:(s + 1) * a.batch]
            x = (augment(x_train[idx], generator) - MEAN) / STD
            y = y_train[idx]
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += len(idx)
            correct += (logits.argmax(1) == y).sum().item()
            loss_sum += loss.item() * len(idx)
        print(f"epoch {epoch + 1} loss {loss_sum / total:.4f} acc {correct / total:.3f}", flush=True)
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model((x_test[i:i + 256] - MEAN) / STD).argmax(1) for i in range(0, len(x_test), 256)])
    accuracy = (predictions == y_test).float().mean().item()
    print(json.dumps({"framework": "pytorch", "test_accuracy": accuracy, "seconds": seconds,
                      "images_per_second": a.epochs * len(x_train) / seconds}, separators=(",", ":")))


if __name__ == "__main__":
    main()
