#!/usr/bin/env python3
"""The engine registry for the shell scripts: reads the workspace `members` and each
backend crate's `[[package.metadata.blaspar.engines]]` (the same entries crates/core's
build.rs turns into `blaspar_core::registry::ENGINES`).

    engines.py builds    one line per (package, features): package|features|engine engine...
    engines.py checks    one line per (package, features) for clippy and tests: every member,
                         a backend crate once per feature set of its engines
    engines.py missing   one line per engine that cannot be built here: engine|why
    engines.py names     every engine, one per line

Requirements (`requires`, checked by `missing`) are tables with one check and a `missing`
message: `pkg-config = "lib"` (the library is known to pkg-config), `pkg-config-file =
["lib", "relative/path"]` (a file relative to the library's pkg-config libdir), `file =
"path"` (a glob pattern: some file matches; `$MKLROOT` and `$SCIPY_OPENBLAS_PREFIX` expand
to the environment's, else the workspace's .deps/mkl and .deps/scipy-openblas).
"""
import glob
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def members():
    """(package name, engines) for every workspace member, in members order."""
    for member in load(ROOT / "Cargo.toml")["workspace"]["members"]:
        package = load(ROOT / member / "Cargo.toml")["package"]
        engines = package.get("metadata", {}).get("blaspar", {}).get("engines", [])
        yield package["name"], engines


def features(engine):
    return ",".join(engine.get("features", []))


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args], capture_output=True, text=True)
    except FileNotFoundError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


# The prefixes a `file` requirement may start from, and their defaults (.cargo/config.toml).
PREFIXES = {"MKLROOT": ".deps/mkl", "SCIPY_OPENBLAS_PREFIX": ".deps/scipy-openblas"}


def expand(path):
    for var, default in PREFIXES.items():
        path = path.replace(f"${var}", os.environ.get(var) or str(ROOT / default))
    return path


def unmet(requirement):
    """The requirement's message when it is not met here, else None."""
    if "pkg-config" in requirement:
        ok = pkg_config("--exists", requirement["pkg-config"]) is not None
    elif "pkg-config-file" in requirement:
        lib, rel = requirement["pkg-config-file"]
        libdir = pkg_config("--variable=libdir", lib)
        ok = bool(libdir) and (Path(libdir) / rel).exists()
    elif "file" in requirement:
        ok = bool(glob.glob(expand(requirement["file"])))
    else:
        sys.exit(f"engines.py: unknown requirement {requirement}")
    return None if ok else expand(requirement["missing"])


def main(command):
    if command == "builds":
        for package, engines in members():
            groups = {}
            for e in engines:
                groups.setdefault(features(e), []).append(e["name"])
            for feats, names in groups.items():
                print(f"{package}|{feats}|{' '.join(names)}")
    elif command == "checks":
        for package, engines in members():
            for feats in dict.fromkeys(features(e) for e in engines) or [""]:
                print(f"{package}|{feats}")
    elif command == "missing":
        for _, engines in members():
            for e in engines:
                why = next(filter(None, map(unmet, e.get("requires", []))), None)
                if why:
                    print(f"{e['name']}|{why}")
    elif command == "names":
        for _, engines in members():
            for e in engines:
                print(e["name"])
    else:
        sys.exit(f"usage: {sys.argv[0]} builds|checks|missing|names")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
