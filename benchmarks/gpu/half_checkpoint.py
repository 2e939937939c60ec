"""Store a checkpoint's floating-point weights in half precision (half the file size).

The fold models of a cross-validation are committed with the results they produced
(docs/results/release4-2026-12-01/models/); at 4 MB each in float32 they would crowd the
64 MiB that a GPU run can carry, so they are kept as float16 weights (loading casts them
back to float32: ``load_state_dict`` copies into the float32 parameters). The robustness
tables of those folders are computed by the graph from these very files.

    .venv/bin/python benchmarks/gpu/half_checkpoint.py IN.pt OUT.pt [IN.pt OUT.pt ...]
"""
import sys

import torch

from drumscribe.atomic import atomic_path


def main(src: str, dst: str) -> None:
    ckpt = torch.load(src, map_location="cpu", weights_only=True)
    ckpt["state_dict"] = {k: (v.half() if v.is_floating_point() else v) for k, v in ckpt["state_dict"].items()}
    ckpt["weights_dtype"] = "float16"
    with atomic_path(dst) as tmp:
        torch.save(ckpt, tmp)


if __name__ == "__main__":
    pairs = sys.argv[1:]
    if not pairs or len(pairs) % 2:
        sys.exit("half_checkpoint.py: give IN.pt OUT.pt pairs")
    for i in range(0, len(pairs), 2):  # one process (one torch import) for all of them
        main(pairs[i], pairs[i + 1])
