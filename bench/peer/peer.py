"""The stack an analyst would otherwise use, on the same corpus minqing benchmarks:
pandas to load, jieba to segment, scikit-learn TF-IDF + MiniBatchKMeans to group, whoosh (with
jieba's ChineseAnalyzer) to index. Idiomatic and vectorised where an analyst would vectorise.

usage: python peer.py CORPUS.csv WORK_DIR [DICT]  -> WORK_DIR/peer.json, WORK_DIR/peer_members.csv
(DICT: the domain dictionary to load into jieba; default: the repository's data/dict/petition.dict)
"""
import json
import os
import resource
import shutil
import sys
import time

import jieba
import pandas as pd
from sklearn.cluster import MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfVectorizer


def main(corpus, work, dict_path=None):
    os.makedirs(work, exist_ok=True)
    times = {}
    if dict_path is None:
        dict_path = os.path.join(os.path.dirname(__file__), "..", "..", "data", "dict", "petition.dict")
    if os.path.exists(dict_path):
        jieba.load_userdict(dict_path)  # the same domain dictionary minqing uses
    jieba.initialize()

    # 1. load + clean: read the export, normalise dates, drop rows without text, dedupe ids
    t = time.perf_counter()
    df = pd.read_csv(corpus, dtype=str, keep_default_na=False)
    df = df.rename(columns={"信访件编号": "id", "登记日期": "received_at", "标题": "title", "诉求内容": "content"})
    df["received_at"] = pd.to_datetime(df["received_at"], errors="coerce")
    df["content"] = df["content"].str.strip()
    df = df[(df["content"] != "") & df["received_at"].notna()]
    df = df.drop_duplicates("id")
    df.to_parquet(os.path.join(work, "peer_store.parquet"))
    times["ingest"] = time.perf_counter() - t

    # 2. segment once with jieba (the peer's equivalent of minqing's tokenizer)
    t = time.perf_counter()
    text = (df["title"] + "\n" + df["content"]).tolist()
    tokens = [" ".join(jieba.lcut(s)) for s in text]
    times["tokenize"] = time.perf_counter() - t

    # 3. group: TF-IDF over the segmented words, MiniBatchKMeans with one cluster per ~50
    #    petitions (an analyst's usual first guess), clusters of one = unclustered
    t = time.perf_counter()
    vec = TfidfVectorizer(token_pattern=r"(?u)[^\s]{2,}", min_df=2, max_features=100_000, sublinear_tf=True)
    x = vec.fit_transform(tokens)
    k = max(2, len(df) // 50)
    km = MiniBatchKMeans(n_clusters=k, random_state=0, batch_size=4096, n_init=1)
    labels = km.fit_predict(x)
    sizes = pd.Series(labels).value_counts()
    group = [f"K{l}" if sizes[l] >= 2 else "-" for l in labels]
    pd.DataFrame({"id": df["id"], "group_id": group}).to_csv(
        os.path.join(work, "peer_members.csv"), index=False
    )
    times["cluster"] = time.perf_counter() - t

    # 4. index with whoosh and jieba's analyzer
    t = time.perf_counter()
    from jieba.analyse import ChineseAnalyzer
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.index import create_in

    idx_dir = os.path.join(work, "peer_index")
    shutil.rmtree(idx_dir, ignore_errors=True)
    os.makedirs(idx_dir)
    schema = Schema(id=ID(stored=True, unique=True), title=TEXT(stored=True, analyzer=ChineseAnalyzer()),
                    content=TEXT(stored=True, analyzer=ChineseAnalyzer()))
    ix = create_in(idx_dir, schema)
    w = ix.writer(limitmb=512, procs=1)
    for i, ti, co in zip(df["id"], df["title"], df["content"]):
        w.add_document(id=i, title=ti, content=co)
    w.commit()
    times["index"] = time.perf_counter() - t

    times["total"] = sum(times.values())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    json.dump({"rows": int(len(df)), "clusters": int(k), "seconds": times, "peak_rss_mib": peak_mib},
              open(os.path.join(work, "peer.json"), "w"), indent=2)
    print(json.dumps(times, indent=2))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
