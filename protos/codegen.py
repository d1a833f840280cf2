"""Regenerate the committed gRPC stubs from the .proto sources.

Run from anywhere: ``python protos/codegen.py``. Sources are compiled from the
repository root (``-I .``) so the modules import as ``protos.auth_pb2`` while the
wire packages stay ``auth``, ``chat`` and ``auth.service.health.v1``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ("protos/auth.proto", "protos/chat.proto", "protos/health.proto")


def generate(out_dir: Path = ROOT) -> None:
    include = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(ROOT / p) for p in PROTOS),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
