"""Writes TestData/pytorch/list-of-tensors.pth: a real torch.save file that is no state dict (a list of two
tensors), for the test that the weights reader rejects it naming the file. Run with Debian's PyTorch:
    /usr/bin/python3 tools/make_list_pth.py
The file is committed, so the test runs without Python."""
import os

import torch


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.path.join(here, "..", "Microsoft.ML.ResNet.Tests", "TestData", "pytorch", "list-of-tensors.pth")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    torch.save([torch.zeros(2), torch.ones(3)], target)


if __name__ == "__main__":
    main()
