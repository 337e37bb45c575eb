#!/usr/bin/env python3
"""Prints one closing line for a meson test run: "N passed, N failed, N skipped".

GoogleTest binaries and Python unittest scripts (run verbose) count their cases, from their output
in testlog.json; any other test counts as one case. A binary that failed without reporting a failed case (a crash, a sanitizer report,
a timeout) counts as one failure more.
"""
import json
import re
import sys

passed = failed = skipped = 0
with open(sys.argv[1]) as log:
    for line in log:
        test = json.loads(line)
        out = test.get("stdout") or ""
        text = out + (test.get("stderr") or "")  # unittest reports on stderr
        ok = len(re.findall(r"^\[       OK \] ", out, re.M)) + len(re.findall(r" \.\.\. ok$", text, re.M))
        bad = len(re.findall(r"^\[  FAILED  \] \S+ \(", out, re.M))
        bad += len(re.findall(r" \.\.\. (FAIL|ERROR)$", text, re.M))
        skip = len(re.findall(r"^\[  SKIPPED \] \S+ \(", out, re.M))
        skip += len(re.findall(r" \.\.\. skipped", text, re.M))
        result = test.get("result")
        if ok + bad + skip == 0:  # not a GoogleTest binary
            ok, bad, skip = (result == "OK"), (result not in ("OK", "SKIP")), (result == "SKIP")
        elif result not in ("OK", "SKIP") and bad == 0:
            bad = 1
        passed, failed, skipped = passed + ok, failed + bad, skipped + skip
print(f"{passed} passed, {failed} failed, {skipped} skipped")
