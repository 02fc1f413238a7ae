"""Convert the OMA LwM2M registry's DDF XML files into products/lwm2m_registry.json, once.

    git clone https://github.com/OpenMobileAlliance/lwm2m-registry /tmp/lwm2m-registry
    python tools/lwm2m_registry.py /tmp/lwm2m-registry

The data file names the registry's commit and, per object, the licence its XML states (the comment
at the top of each file). Nothing downloads this at run or test time: the committed JSON is what the
platform reads (products.lwm2m_objects). Descriptions are left out to keep the file small; the
registry's files have them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from products.lwm2m_objects import DefinitionError, parse_ddf

TARGET = Path(__file__).resolve().parent.parent / "products" / "lwm2m_registry.json"
SOURCE = "https://github.com/OpenMobileAlliance/lwm2m-registry"


def licence(text: str) -> str:
    """The licence the file's leading comment states, as an SPDX id where one is recognised."""
    match = re.search(r"<!--(.*?)-->", text, re.S)
    comment = match.group(1) if match else ""
    if re.search(r"BSD[- ]3[- ]Clause|Redistribution and use in source and binary forms", comment, re.I):
        return "BSD-3-Clause"
    if "MIT License" in comment or "Permission is hereby granted, free of charge" in comment:
        return "MIT"
    if "Apache License" in comment:
        return "Apache-2.0"
    if comment.strip():
        return "unstated (copyright notice only): see the registry's file"
    return "unstated: see the registry's file"


def main(root: str) -> None:
    base = Path(root)
    commit = subprocess.run(
        ["git", "-C", str(base), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    objects = {}
    skipped = []
    for path in sorted(base.glob("*.xml"), key=lambda p: (len(p.stem), p.stem)):
        if not path.stem.isdigit():
            continue
        text = path.read_text(encoding="utf-8-sig")
        try:
            for definition in parse_ddf(text.encode()):
                definition["licence"] = licence(text)
                definition["file"] = path.name
                objects[str(definition["id"])] = definition
        except DefinitionError as problem:
            skipped.append(f"{path.name}: {problem}")
    data = {"source": SOURCE, "commit": commit, "skipped": skipped, "objects": objects}
    TARGET.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"{len(objects)} objects from {SOURCE}@{commit} into {TARGET}; {len(skipped)} skipped")
    for line in skipped:
        print("  skipped", line)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
