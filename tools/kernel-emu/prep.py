#!/usr/bin/env python3
"""kernel-emu source preparation: copies CUDA sources into a build folder with the two constructs
a C++ compiler cannot take rewritten for the CPU emulator (shim/cuda_runtime.h):

  extern __shared__ [__align__(A)] T name[];  ->  T* name = ::emu::dyn_smem<T>();
  __shared__ [__align__(A)] T name[d1][d2]..;  ->  T (&name)[d1][d2].. =
                                                     ::emu::static_smem<T[d1][d2]..>(A, __FILE__, __LINE__);
                                                 (any number of dimensions, also none: a scalar)
  kernel<targs><<<cfg>>>(args);                ->  ::emu::launch(kernel<targs>, ::emu::Cfg(cfg), args);
  #include "ptx.cuh"                           ->  #include "emu_ptx.h" (the emulator's models of the
                                                   PTX instructions; ptx.cuh itself is not copied)

Everything else is left as it is. Anything that looks like one of these constructs but does not
match the patterns exactly (alignas, several names in one declaration, initialisers, launches
spanning odd syntax) stops the build with the file and line, rather than being emulated wrongly.

usage: prep.py SRC_DIR OUT_DIR FILE...   (FILE: names inside SRC_DIR)
  .cu files are written as OUT_DIR/NAME.cpp, others as OUT_DIR/NAME; the files they include with
  #include "..." that exist in SRC_DIR are prepared the same way.
"""
import os
import re
import sys

IDENT = r"[A-Za-z_]\w*"
TYPE = r"(?:unsigned\s+|signed\s+)?[A-Za-z_][\w:]*"  # float, int, unsigned int, ns::T, __half

ALIGN = r"(?:__align__\(\s*(\d+)\s*\)\s+)?"
DYN = re.compile(r"extern\s+__shared__\s+" + ALIGN + "(" + TYPE + r")\s+(" + IDENT + r")\s*\[\s*\]\s*;")
STATIC = re.compile(r"(?<!extern )__shared__\s+" + ALIGN + "(" + TYPE + r")\s+(" + IDENT +
                    r")\s*((?:\[[^\[\];]+\]\s*)*);")
# files of kernels/ the emulator replaces with its own (shim/): PTX instructions
REPLACED = {"ptx.cuh": "emu_ptx.h"}
# kernel name, optionally with one level of template arguments (no nested <>), then <<<cfg>>>(
LAUNCH = re.compile(r"(" + r"[A-Za-z_][\w:]*" + r"(?:\s*<[^<>;{}]*>)?)\s*<<<(.*?)>>>\s*\(", re.S)


def die(path, src, pos, msg):
    line = src.count("\n", 0, pos) + 1
    text = src.splitlines()[line - 1].strip() if src else ""
    sys.exit(f"prep.py: {path}:{line}: {msg}\n    {text}")


def strip_comments(src):
    """Same-length copy of src with comments and string literals blanked (for pattern checks)."""
    out = list(src)
    i, n = 0, len(src)
    while i < n:
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        elif src[i] == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            for k in range(i + 1, min(j, n)):
                out[k] = " "
            i = j + 1
        else:
            i += 1
    return "".join(out)


def balanced_args(src, start, path):
    """src[start] follows '(' of the launch's argument list: returns (args, index after ');')."""
    depth, i = 1, start
    while i < len(src):
        c = src[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                break
        elif c == ";":
            die(path, src, start, "';' inside a kernel launch's arguments")
        i += 1
    else:
        die(path, src, start, "unterminated kernel launch")
    j = i + 1
    while j < len(src) and src[j] in " \t\n":
        j += 1
    if j >= len(src) or src[j] != ";":
        die(path, src, start, "a kernel launch must be a statement of its own: kernel<<<...>>>(...);")
    return src[start:i], j + 1


def rewrite(path, src):
    code = strip_comments(src)
    # 1. shared memory declarations (located in the comment-free copy, replaced in the source)
    edits = []
    for m in DYN.finditer(code):
        if m.group(1) and int(m.group(1)) > 16:
            die(path, src, m.start(), "dynamic shared memory is emulated with 16-byte alignment only")
        edits.append((m.start(), m.end(), f"{m.group(2)}* {m.group(3)} = ::emu::dyn_smem<{m.group(2)}>();"))
    for m in STATIC.finditer(code):
        if any(s <= m.start() < e for s, e, _ in edits):
            continue
        t, name = m.group(2), m.group(3)
        dims = "".join("[" + d.strip() + "]" for d in re.findall(r"\[([^\[\]]+)\]", m.group(4)))
        align = m.group(1) or f"alignof({t})"
        ref = f"(&{name}){dims}" if dims else f"&{name}"  # a scalar: T& name
        edits.append((m.start(), m.end(),
                      f"{t} {ref} = ::emu::static_smem<{t}{dims}>({align}, __FILE__, __LINE__);"))
    for m in re.finditer(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"', code, re.M):
        inc = src[m.start(1):m.end(1)]
        if inc in REPLACED:
            edits.append((m.start(), m.end(), f'#include "{REPLACED[inc]}"'))
    covered = [(s, e) for s, e, _ in edits]
    for m in re.finditer(r"__shared__", code):
        if not any(s <= m.start() < e for s, e in covered):
            die(path, src, m.start(), "__shared__ declaration not understood (only `extern __shared__ "
                                      "[__align__(A)] T name[];` and `__shared__ [__align__(A)] T name[d]...;` "
                                      "are emulated)")
    # 2. launches
    for m in LAUNCH.finditer(code):
        if "<<<" in m.group(2) or "\n\n" in m.group(2):
            die(path, src, m.start(), "kernel launch configuration not understood")
        args, end = balanced_args(code, m.end(), path)
        kernel = " ".join(src[m.start(1):m.end(1)].split())
        cfg = " ".join(src[m.start(2):m.end(2)].split())
        real_args = " ".join(src[m.end():m.end() + len(args)].split())
        call = f"::emu::launch({kernel}, ::emu::Cfg({cfg}){', ' + real_args if real_args else ''});"
        edits.append((m.start(), end, call))
    edits.sort()
    for (s1, e1, _), (s2, _e2, _) in zip(edits, edits[1:]):
        if s2 < e1:
            die(path, src, s2, "overlapping rewrites")
    out, last = [], 0
    for s, e, text in edits:
        out.append(src[last:s])
        out.append(text + "\n" * src.count("\n", s, e))  # keep the line numbers
        last = e
    out.append(src[last:])
    result = "".join(out)
    # 3. nothing CUDA-only may be left
    check = strip_comments(result)
    for token in ("<<<", ">>>", "__shared__"):
        k = check.find(token)
        if k >= 0:
            die(path, result, k, f"'{token}' left after the rewrite: construct not understood")
    return result, sum(1 for _ in edits)


def self_test():
    """Rewrites what it should, refuses what it does not understand (run by run.sh)."""
    good = {
        "extern __shared__ float row[];": "float* row = ::emu::dyn_smem<float>();",
        "__shared__ float scratch[33];":
            "float (&scratch)[33] = ::emu::static_smem<float[33]>(alignof(float), __FILE__, __LINE__);",
        "__shared__ unsigned int s[2 * kWarps];": "unsigned int (&s)[2 * kWarps] = ::emu::static_smem<unsigned int[2 * kWarps]>(",
        "__shared__ __align__(16) int8_t t[kS][Tile::kBM][kBK + 16];":
            "int8_t (&t)[kS][Tile::kBM][kBK + 16] = ::emu::static_smem<int8_t[kS][Tile::kBM][kBK + 16]>(16, __FILE__, __LINE__);",
        "__shared__ float tile[32][33];": "float (&tile)[32][33] = ::emu::static_smem<float[32][33]>(alignof(float),",
        "__shared__ int carry;": "int &carry = ::emu::static_smem<int>(alignof(int), __FILE__, __LINE__);",
        "extern __shared__ __align__(16) unsigned char smem[];": "unsigned char* smem = ::emu::dyn_smem<unsigned char>();",
        '#include "ptx.cuh"\n#include "common.cuh"': '#include "emu_ptx.h"\n#include "common.cuh"',
        "k<T, 1><<<row_blocks(n), t, 0, stream>>>(p);": "::emu::launch(k<T, 1>, ::emu::Cfg(row_blocks(n), t, 0, stream), p);",
        "ns::k<<<g, b>>>(a, f(b, c));": "::emu::launch(ns::k, ::emu::Cfg(g, b), a, f(b, c));",
        "k<<<g, b>>>();": "::emu::launch(k, ::emu::Cfg(g, b));",
        "k<T>\n    <<<g, b>>>(p);\nint x;": "::emu::launch(k<T>, ::emu::Cfg(g, b), p);\n\nint x;",
        "// __shared__ and <<<a>>> in a comment\n": "// __shared__ and <<<a>>> in a comment",
    }
    bad = [
        "extern __shared__ __align__(128) unsigned char smem[];",
        "__shared__ alignas(16) float x[4];",
        "k<Foo<int>><<<g, b>>>(p);",
        "__shared__ float x[4], y[4];",
        "__shared__ float x = 0.f;",
    ]
    for src, want in good.items():
        out, _ = rewrite("<self-test>", src)
        assert want in out, f"prep.py self-test: {src!r} -> {out!r}"
    for src in bad:
        try:
            rewrite("<self-test>", src)
        except SystemExit:
            continue
        raise AssertionError(f"prep.py self-test: accepted {src!r}")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    src_dir, out_dir, names = sys.argv[1], sys.argv[2], list(sys.argv[3:])
    os.makedirs(out_dir, exist_ok=True)
    done = set()
    while names:
        name = names.pop(0)
        if name in done:
            continue
        done.add(name)
        path = os.path.join(src_dir, name)
        with open(path) as f:
            src = f.read()
        result, _n = rewrite(path, src)
        # the quoted includes found next to the file are prepared too (the kernels' .cuh)
        for inc in re.findall(r'^\s*#\s*include\s+"([^"]+)"', src, re.M):
            if inc not in REPLACED and os.path.exists(os.path.join(src_dir, inc)):
                names.append(inc)
        # #line keeps compiler messages and crash reports pointing at the real source
        header = f'#line 1 "{os.path.abspath(path)}"\n'
        target = os.path.join(out_dir, name + ".cpp" if name.endswith(".cu") else name)
        tmp = target + ".tmp"
        with open(tmp, "w") as f:
            f.write(header + result)
        os.replace(tmp, target)


if __name__ == "__main__":
    main()
