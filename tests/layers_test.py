#!/usr/bin/python3
"""The shape of the source tree (CTest: layers): dependencies point one way, and command-line flags stay in cli/.

    /usr/bin/python3 tests/layers_test.py [SOURCE_DIR]

1. Every `#include "FOLDER/..."` of a library folder names a folder it may depend on (DESIGN.md: cli -> study ->
   report -> {sim, kernels} -> models -> core; `v3sim/` is the generated version header, open to all).
2. No string literal of a library folder names a command-line flag (`--name`): library errors name config keys
   (deploy.parallelism.ep), and only cli/ knows which flag set them.
3. Namespaces follow folders: a file in FOLDER/SUB/ declares v3sim::SUB (sim/exec: v3sim::exec, sim/sm: v3sim::sm);
   a file directly in core/, models/ or sim/ declares v3sim; one directly in another folder declares v3sim::FOLDER
   (kernels/: v3sim::kernels). Namespaces nested in that one (v3sim::kernels::wgmma), anonymous ones and a
   library's own (namespace CLI { class App; }) are fine.
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
# Files of the folders above (tests/ aside) whose namespace follows their folder; NAMESPACE_ROOT folders keep
# plain `v3sim` for the files directly in them (core/, models/, and sim/'s hardware description).
NAMESPACE_ROOT = ("core", "models", "sim")
NAMESPACE = re.compile(r"^namespace\s+([A-Za-z_][\w:]*)\s*\{")
FOREIGN = {"CLI", "YAML", "boost", "fmt", "nlohmann", "pybind11", "std"}  # a library's, to forward-declare or specialize
NO_NAMESPACE = {  # files that declare nothing at namespace scope, and why
    "cli/main.cpp": "main() is global",
    "core/hd.h": "macros only",
}


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
    findings += check_namespaces()
    return findings


def expected_namespace(rel):
    """The namespace a source file's folder implies: core/x.h -> v3sim, kernels/x.h -> v3sim::kernels,
    sim/sm/x.h -> v3sim::sm (the innermost folder names it)."""
    folders = rel.split("/")[:-1]
    if len(folders) == 1 and folders[0] in NAMESPACE_ROOT:
        return "v3sim"
    return "v3sim::" + folders[-1]


def check_namespaces():
    findings = []
    for folder in MAY_INCLUDE:
        for path in sources(folder):
            rel = os.path.relpath(path, ROOT).replace(os.sep, "/")
            want = expected_namespace(rel)
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")
            declared = [(n, m.group(1)) for n, line in enumerate(lines, 1) if (m := NAMESPACE.match(line))]
            if not declared and rel not in NO_NAMESPACE:
                findings.append(f"{rel}: declares no namespace; its folder implies {want}")
            for n, name in declared:
                if name != want and not name.startswith(want + "::") and name.split("::")[0] not in FOREIGN:
                    findings.append(f"{rel}:{n}: namespace {name}, but its folder implies {want}")
    return findings


if __name__ == "__main__":
    found = check()
    for f in found:
        print(f)
    print(f"layers: {len(found)} finding(s) in {ROOT}", file=sys.stderr)
    sys.exit(min(len(found), 100))
