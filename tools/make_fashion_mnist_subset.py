"""Make the Fashion-MNIST subset used by Microsoft.ML.ResNet.Tests.

Source: the official Fashion-MNIST idx files (Zalando Research, MIT licence,
https://github.com/zalandoresearch/fashion-mnist) as installed by the Debian
package dataset-fashion-mnist under /usr/share/datasets/fashion-mnist/.

Takes the first 200 images of each class from the training set and the first
100 of each class from the test set (file order, so the selection is
deterministic) and writes them as 28x28 grayscale PNGs to
    <out>/train/<class>/<index>.png and <out>/test/<class>/<index>.png
where <index> is the image's position in the original idx file.

Usage:
    /usr/bin/python3 tools/make_fashion_mnist_subset.py [--src DIR] [--out DIR]
        [--train-per-class 200] [--test-per-class 100]
"""
import argparse
import gzip
import os
import shutil
import struct

from PIL import Image

CLASSES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(src, stem):
    """Read an idx file, gzipped or not; returns (dims, raw bytes)."""
    for name, opener in ((stem, open), (stem + ".gz", gzip.open)):
        path = os.path.join(src, name)
        if os.path.exists(path):
            with opener(path, "rb") as f:
                data = f.read()
            ndim = data[3]
            dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
            return dims, data[4 + 4 * ndim:]
    raise FileNotFoundError(os.path.join(src, stem) + "[.gz]")


def export(src, prefix, out, per_class):
    (n, rows, cols), pixels = read_idx(src, prefix + "-images-idx3-ubyte")
    (n_labels,), labels = read_idx(src, prefix + "-labels-idx1-ubyte")
    assert n == n_labels
    counts = [0] * len(CLASSES)
    for i, label in enumerate(labels):
        if counts[label] >= per_class:
            continue
        counts[label] += 1
        img = Image.frombytes("L", (cols, rows),
                              pixels[i * rows * cols:(i + 1) * rows * cols])
        folder = os.path.join(out, CLASSES[label])
        os.makedirs(folder, exist_ok=True)
        img.save(os.path.join(folder, f"{i:05d}.png"), optimize=True)
        if min(counts) == per_class:
            break
    assert min(counts) == per_class, counts


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", default=os.path.join(
        REPO, "Microsoft.ML.ResNet.Tests", "TestData", "fashion-mnist"))
    p.add_argument("--train-per-class", type=int, default=200)
    p.add_argument("--test-per-class", type=int, default=100)
    a = p.parse_args()
    for split, prefix, per_class in (("train", "train", a.train_per_class),
                                     ("test", "t10k", a.test_per_class)):
        out = os.path.join(a.out, split)
        # start clean so a rerun with other counts leaves no stale files
        shutil.rmtree(out, ignore_errors=True)
        export(a.src, prefix, out, per_class)
    print(a.out)


if __name__ == "__main__":
    main()
