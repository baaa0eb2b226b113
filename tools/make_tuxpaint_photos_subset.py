"""Make the small real-photo data set used by the `transfer` benchmark and tests.

Source: the Debian package tuxpaint-stamps-default (version 2022.06.04-1, "Stamp
files for Tux Paint"), licence GPL-2 (Copyright 2002-2022 Bill Kendrick; see
/usr/share/doc/tuxpaint-stamps-default/copyright). Its stamps under
/usr/share/tuxpaint/stamps/ include real photographs of animals, food and plants,
cut out on a transparent background (RGBA PNG). Drawings live in sub-folders named
"cartoon" (and as .svg files), which are left out, so every image here is a photo.

Selection rule (deterministic, no randomness):
  Label           stamp folders (recursive, *.png only)
  Bird            animals/birds
  Mammal          animals/mammals            (minus bears/toys: a teddy bear)
  FruitVegetable  food/fruit, food/vegetables, food/nuts (not cartoon, not pizza)
  Plant           plants, plants/flowers, plants/trees (not mushrooms, not the plastic flower)
Within a label the photos are sorted by their path below stamps/; every third one
(positions 2, 5, 8, ...) goes to test, the rest to train, so train and test never
share a source photo. Each photo is composited on white, padded to a centred square
and resized to SIZE x SIZE RGB. Training photos are written twice, as is and mirrored
left-right ("<name>_m.png"), because the package has only 35-64 photos per label;
test photos are written once, unmirrored.

Output: <out>/train/<Label>/<name>.png and <out>/test/<Label>/<name>.png, where <name>
is the stamp's path below stamps/ with "/" replaced by "__".

Usage:
    apt-get download tuxpaint-stamps-default && dpkg -x tuxpaint-stamps-default_*.deb x
    /usr/bin/python3 tools/make_tuxpaint_photos_subset.py [--src x/usr/share/tuxpaint/stamps] [--out DIR]
(with the package installed, --src defaults to /usr/share/tuxpaint/stamps and --out to
Microsoft.ML.ResNet.Tests/TestData/tuxpaint-photos).
"""
import argparse
import glob
import os
import shutil

from PIL import Image, ImageOps

SIZE = 96
LABELS = {
    "Bird": ["animals/birds"],
    "Mammal": ["animals/mammals"],
    "FruitVegetable": ["food/fruit", "food/vegetables", "food/nuts"],
    "Plant": ["plants"],
}
EXCLUDED_PARTS = {"cartoon", "toys", "mushrooms", "plastic"}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def photos(src, folders):
    found = set()
    for folder in folders:
        for path in glob.glob(os.path.join(src, folder, "**", "*.png"), recursive=True):
            relative = os.path.relpath(path, src).replace(os.sep, "/")
            if EXCLUDED_PARTS.isdisjoint(relative.split("/")[:-1]):
                found.add(relative)
    return sorted(found)


def square_rgb(path):
    image = Image.open(path).convert("RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    white.alpha_composite(image)
    rgb = white.convert("RGB")
    side = max(rgb.size)
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    canvas.paste(rgb, ((side - rgb.width) // 2, (side - rgb.height) // 2))
    return canvas.resize((SIZE, SIZE), Image.LANCZOS)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", default="/usr/share/tuxpaint/stamps")
    parser.add_argument("--out", default=os.path.join(REPO, "Microsoft.ML.ResNet.Tests", "TestData", "tuxpaint-photos"))
    args = parser.parse_args()
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    for label, folders in LABELS.items():
        selected = photos(args.src, folders)
        assert selected, f"no photos for {label} under {args.src}"
        counts = {"train": 0, "test": 0}
        for position, relative in enumerate(selected):
            split = "test" if position % 3 == 2 else "train"
            folder = os.path.join(args.out, split, label)
            os.makedirs(folder, exist_ok=True)
            name = relative[:-len(".png")].replace("/", "__")
            image = square_rgb(os.path.join(args.src, relative))
            image.save(os.path.join(folder, name + ".png"), optimize=True)
            counts[split] += 1
            if split == "train":
                ImageOps.mirror(image).save(os.path.join(folder, name + "_m.png"), optimize=True)
                counts[split] += 1
        print(f"{label}: {len(selected)} photos -> train {counts['train']} images, test {counts['test']}")


if __name__ == "__main__":
    main()
