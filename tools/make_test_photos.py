"""Make the 224x224 test photographs used by Microsoft.ML.ResNet.Tests.

The source images are real photographs shipped with scikit-image (Debian
package python3-skimage, directory skimage/data). Each is center-cropped to a
square, resized to 224x224 RGB and saved as lossless PNG so that .NET and
Python decode exactly the same pixels.

Usage:
    /usr/bin/python3 tools/make_test_photos.py <skimage-data-dir> [<out-dir>]

<out-dir> defaults to Microsoft.ML.ResNet.Tests/TestData/photos.
"""
import os
import sys

from PIL import Image

SIZE = 224
# output name -> file in skimage/data
SOURCES = {
    "cat.png": "chelsea.png",
    "coffee.png": "coffee.png",
    "astronaut.png": "astronaut.png",
    "rocket.png": "rocket.jpg",
    "motorcycle.png": "motorcycle_left.png",
}


def center_square(img):
    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return img.crop((left, top, left + s, top + s))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    src_dir = sys.argv[1]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_dir = sys.argv[2] if len(sys.argv) == 3 else os.path.join(
        repo, "Microsoft.ML.ResNet.Tests", "TestData", "photos")
    os.makedirs(out_dir, exist_ok=True)
    for out_name, src_name in SOURCES.items():
        with Image.open(os.path.join(src_dir, src_name)) as img:
            # convert first: some sources are RGBA/palette; we want plain 8-bit RGB
            img = center_square(img.convert("RGB"))
            # Pillow's bilinear filter widens its support when downscaling (antialias)
            img = img.resize((SIZE, SIZE), Image.BILINEAR)
            # drop ICC/gamma metadata so every decoder sees the same raw pixels
            img.info = {}
            path = os.path.join(out_dir, out_name)
            img.save(path, format="PNG", optimize=True)
            print(path)


if __name__ == "__main__":
    main()
