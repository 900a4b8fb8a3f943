#!/usr/bin/python3
"""The shape of the source tree (CTest: layers): dependencies point one way, and command-line flags stay in cli/.

    /usr/bin/python3 tests/layers_test.py [SOURCE_DIR]

1. Every `#include "FOLDER/..."` of a library folder names a folder it may depend on (DESIGN.md: cli -> study ->
   report -> {sim, kernels} -> models -> core; `v3sim/` is the generated version header, open to all).
2. No string literal of a library folder names a command-line flag (`--name`): library errors name config keys
   (deploy.parallelism.ep), and only cli/ knows which flag set them.
Each finding is printed as FILE:LINE: what; the exit status is the number of findings (0: the tree is in shape).
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))

# What each top-level folder may include, besides itself and the generated v3sim/ headers.
MAY_INCLUDE = {
    "core": set(),
    "models": {"core"},
    "sim": {"core", "models"},
    "kernels": {"core", "models", "sim"},
    "report": {"core", "models", "sim", "kernels"},
    "study": {"core", "models", "sim", "kernels", "report"},
    "cli": {"core", "models", "sim", "kernels", "report", "study"},
    "python": {"core", "models", "sim", "kernels", "report", "study"},
}
LIBRARIES = ("core", "models", "sim", "kernels", "report", "study")
SOURCE = re.compile(r"\.(h|hpp|cpp|cc|cu|cuh)$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z0-9_]+)/')
STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def sources(folder):
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, folder)):
        dirnames.sort()
        for name in sorted(filenames):
            if SOURCE.search(name):
                yield os.path.join(dirpath, name)


def code_of(line):
    """The line without a // comment (one outside a string literal)."""
    in_string = False
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and in_string:
            i += 2
            continue
        if c == '"':
            in_string = not in_string
        elif not in_string and line.startswith("//", i):
            return line[:i]
        i += 1
    return line


def check():
    findings = []
    for folder, allowed in MAY_INCLUDE.items():
        for path in sources(folder):
            rel = os.path.relpath(path, ROOT)
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")
            in_raw = False
            for n, line in enumerate(lines, 1):
                m = INCLUDE.match(line)
                if m and m.group(1) not in allowed | {folder, "v3sim"}:
                    findings.append(f"{rel}:{n}: includes {m.group(1)}/, which {folder}/ may not depend on "
                                    f"(it may include {', '.join(sorted(allowed)) or 'nothing else'})")
                if folder not in LIBRARIES:
                    continue
                if 'R"(' in line:
                    in_raw = True
                if in_raw:  # raw strings (embedded YAML or help) are not messages
                    in_raw = ')"' not in line
                    continue
                for s in STRING.findall(code_of(line)):
                    for flag in FLAG.findall(s):
                        findings.append(f"{rel}:{n}: the string \"{s}\" names the command-line flag {flag}; a "
                                        "library message names the config key (or takes the flag from cli/)")
    return findings


if __name__ == "__main__":
    found = check()
    for f in found:
        print(f)
    print(f"layers: {len(found)} finding(s) in {ROOT}", file=sys.stderr)
    sys.exit(min(len(found), 100))
