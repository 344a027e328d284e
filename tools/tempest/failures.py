"""One line per failed Tempest test: exception + the failing kumo requests.

Usage (inside the tempest venv):
    python failures.py <svc>.subunit ws-<svc>/logs/tempest.log
Prints counts, then ``test :: exception :: last >=400 requests`` per failure.
"""
import collections
import re
import sys

import subunit
import testtools


def load(path):
    out = {}
    stream = subunit.ByteStreamToStreamResult(open(path, "rb"), non_subunit_name="stdout")
    result = testtools.StreamToDict(lambda t: out.__setitem__(t["id"], t))
    result.startTestRun()
    stream.run(result)
    result.stopTestRun()
    return {k: v for k, v in out.items() if v["status"] in ("success", "fail", "skip")}


def reason(test):
    tb = test["details"].get("traceback")
    lines = [x for x in (tb.as_text() if tb else "").splitlines() if x.strip()]
    for i, line in enumerate(lines):  # first line of the exception
        if re.match(r"^(tempest|testtools|[A-Za-z]+Error)[\w.]*:", line):
            return " | ".join(x.strip() for x in lines[i:i + 3])[:260]
    return " | ".join(lines[-3:])[:260]


def main(sub, log):
    tests = load(sub)
    print(dict(collections.Counter(t["status"] for t in tests.values())))
    reqs = collections.defaultdict(list)
    pat = re.compile(r"Request \((\w+):(\w+)\): (\d{3}) ([A-Z]+) https?://[^/]+(\S*)")
    for line in open(log, errors="replace"):
        m = pat.search(line)
        if m and int(m.group(3)) >= 400:
            path = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "{uuid}", m.group(5))
            path = re.sub(r"[0-9a-f]{32}", "{id}", path).split("?")[0]
            reqs[(m.group(1), m.group(2))].append(f"{m.group(3)} {m.group(4)} {path}")
    for tid, t in sorted(tests.items()):
        if t["status"] != "fail":
            continue
        m = re.match(r"setUpClass \((.*)\.(\w+)\)", tid)
        if m:
            cls, meth, short = m.group(2), "setUpClass", tid
        else:
            base = tid.split("[")[0]
            cls, meth = base.split(".")[-2:]
            short = ".".join(base.split(".")[-3:])
        print(f"{short} :: {reason(t)} :: {reqs.get((cls, meth), [])[-3:]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
