"""Check the ResNetMl package that `dotnet pack Microsoft.ML.ResNet` wrote.

Usage:
    /usr/bin/python3 tools/package_check.py artifacts/packages/ResNetMl.VERSION.nupkg

A publishable id (not under the reserved 'Microsoft.' prefix), the metadata a registry asks for (version, authors,
description, license expression, a packed readme), no repository element, the library with its XML docs, and the
managed dependencies only: the native backends (TorchSharp-cpu/libtorch, ONNX Runtime's native packages) are the
application's choice (README "Install"). Prints "OK <path>" or the problems, and exits 1 on any.
"""
import re
import sys
import xml.etree.ElementTree as ET
import zipfile

ID = "ResNetMl"
REQUIRED = ["Microsoft.ML", "Microsoft.ML.ImageAnalytics", "Microsoft.ML.OnnxTransformer",
            "Microsoft.ML.OnnxRuntime.Managed", "TorchSharp", "TorchSharp.PyBridge", "OnnxSharp"]
NATIVE = re.compile(r"^(TorchSharp-(cpu|cuda.*)|libtorch-.*|Microsoft\.ML\.OnnxRuntime(\.Gpu.*|\.DirectML)?)$", re.I)
FILES = ["lib/net10.0/Microsoft.ML.ResNet.dll", "lib/net10.0/Microsoft.ML.ResNet.xml"]


def main(path):
    problems = []
    with zipfile.ZipFile(path) as package:
        names = package.namelist()
        nuspec = ET.fromstring(package.read(f"{ID}.nuspec"))
    ns = {"n": nuspec.tag[1:].split("}")[0]}
    meta = nuspec.find("n:metadata", ns)

    def text(tag):
        element = meta.find(f"n:{tag}", ns)
        return None if element is None else (element.text or "").strip()

    package_id, version = text("id"), text("version")
    if package_id != ID:
        problems.append(f"id is '{package_id}', expected '{ID}'")
    if (package_id or "").lower().startswith("microsoft."):
        problems.append(f"id '{package_id}' is under the reserved 'Microsoft.' prefix")
    if not path.endswith(f"{ID}.{version}.nupkg"):
        problems.append(f"version '{version}' does not match the file name {path}")
    for tag in ["authors", "description"]:
        if not text(tag):
            problems.append(f"no {tag}")
    license_element = meta.find("n:license", ns)
    if license_element is None or license_element.get("type") != "expression" or not license_element.text:
        problems.append("no license expression")
    readme = text("readme")
    if not readme or readme not in names:
        problems.append(f"readme '{readme}' is not in the package (files: {', '.join(names)})")
    for tag in ["repository", "projectUrl"]:
        if meta.find(f"n:{tag}", ns) is not None:
            problems.append(f"has a {tag} element; the package is repository-less")
    for name in FILES:
        if name not in names:
            problems.append(f"{name} missing (files: {', '.join(names)})")

    dependencies = [d.get("id") for d in meta.iter(f"{{{ns['n']}}}dependency")]
    for missing in sorted(set(REQUIRED) - set(dependencies)):
        problems.append(f"dependency {missing} is not declared (declared: {', '.join(dependencies)})")
    for native in [d for d in dependencies if NATIVE.match(d)]:
        problems.append(f"declares the native package {native}: the application chooses its native backends")

    if problems:
        print(f"{path}:\n  " + "\n  ".join(problems))
        return 1
    print(f"OK {path} ({package_id} {version}; depends on {', '.join(dependencies)})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: package_check.py PACKAGE.nupkg")
    sys.exit(main(sys.argv[1]))
