"""Makes one C++ file of README.md's ```cpp blocks, so that the build compiles every snippet a
reader copies (and the README's test runs what can run).

  extract_snippets.py README.md OUT.cpp

The blocks of one section (## heading) share a namespace of their own (readme_section_N), in order,
so that a later block may use what an earlier one defined (a handler, then its test); each comes
behind a #line directive that points compiler errors at README.md. A block that defines `int main()` is a program: it is listed in
readme_programs[] for the test to run. Includes inside a block are hoisted to the top of the file.
"""

import re
import sys

PRELUDE = """// Generated from README.md by test/docs/extract_snippets.py. Do not edit.
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include <ringo/ringo.hpp>
"""


def main(readme, out):
    with open(readme, encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks = []  # (section number, first line number, lines)
    section = 0
    i = 0
    while i < len(lines):
        if lines[i].startswith("## "):
            section += 1
        if lines[i].strip() == "```cpp":
            start = i + 2  # 1-based number of the block's first line
            body = []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append((section, start, body))
        i += 1
    includes, parts, programs = [], [], []
    for section, start, body in blocks:
        code = []
        for line in body:
            if line.startswith("#include"):
                if line not in includes:
                    includes.append(line)
                code.append("")  # keep the line numbers
            else:
                code.append(line)
        text = "\n".join(code)
        ns = f"readme_section_{section}"
        parts.append(f"namespace {ns} {{\nusing namespace ringo;\n"
                     f"using namespace std::chrono_literals;\n#line {start} \"README.md\"\n"
                     f"{text}\n}}  // namespace {ns}\n")
        if re.search(r"^int main\(\)", text, re.M):
            programs.append((f"README.md:{start}", f"&{ns}::main"))
    with open(out, "w", encoding="utf-8") as f:
        f.write(PRELUDE)
        f.write("\n".join(includes) + "\n\n")
        f.write("\n".join(parts))
        f.write("\nstruct readme_program {\n  const char* where;\n  int (*main)();\n};\n")
        f.write("extern const readme_program readme_programs[];\n")
        entries = "".join(f"    {{\"{w}\", {m}}},\n" for w, m in programs)
        f.write(f"const readme_program readme_programs[] = {{\n{entries}    {{nullptr, nullptr}},\n}};\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
