"""minqing on Apache Spark: the per-petition tagging and the search index as maps over the store.

    spark-submit --master spark://HOST:7077 pipelines/spark/minqing_spark.py \
        --minqing /opt/minqing/minqing --out /shared/runs/2026w49 --input /shared/in/export.xlsx

1. import (driver): `minqing ingest` writes OUT/store/petitions.parquet, sorted by id;
2. map (executors): the store's id, title and content, one task per row group (in a run folder
   grouped before, only the petitions its last grouping lacks), go through
   `minqing worker tag` (mapInArrow: each chunk of a partition is written to a temporary
   Parquet file, tagged by minqing's own code, read back as Arrow batches) into OUT/tagged/;
   the store's distinct region values (Spark SQL) go to every task with the function;
3. reduce (driver): `minqing run ... --tagged OUT/tagged --from-store --no-index` (no second
   import) groups from the map's tagging (the grouping's global steps: object names, vectors,
   merge, pair evidence) and renders the brief over the reduced tables; in a full grouping its
   leader and reassignment passes run on the executors, one task per object partition
   (`--object-tasks`: the reduce writes the partitions to OUT/objects/, says so on stdout and
   waits while a Spark job runs `minqing worker leader` on each, then reads their results);
4. index map (executors): one task per row group of the store runs `minqing worker index`,
   which indexes that row group with the reduce's case groups into a tantivy shard
   OUT/shards/NNNNN (its group ids split out of groups/members.csv by `minqing worker
   group-ids` on the driver first) — or, when the run folder's index (the last Spark run's) holds a shard of
   exactly these petitions with these groups, links that shard's files: a weekly run re-indexes
   only the row groups that changed; `minqing worker shards` (driver) checks the shards and
   makes them OUT/index, which `minqing search` and `minqing serve` search by fanning out over
   the shards with the statistics of all of them.
The outputs are those of a `minqing run` of the same input on one machine: the same groups and
brief, and the same hits for every search.

OUT must be a folder every executor and the driver see at the same path (NFS, or one machine),
and the minqing binary must be at --minqing on every worker. Timings of the steps go to
OUT/spark.json (the only output with timings).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

# Rows per `minqing worker tag` call: each call loads jieba's dictionary (about 0.3 s), so a
# call should tag tens of thousands of petitions; it holds one chunk's text in memory.
CHUNK_ROWS = 50_000

TAGGING_SCHEMA = "id string, text_hash string, tagging string, settings string"


def source_args(args):
    """The import's sources: a pipeline file or input files, as minqing's commands take them."""
    return [args.pipeline] if args.pipeline else ["--input", *args.input]


def tag_partitions(minqing, regions, pipeline):
    """The mapInArrow function: Arrow batches of (id, title, content) in, taggings out."""

    def tag_chunk(batches):
        with tempfile.TemporaryDirectory(prefix="minqing-tag-") as d:
            src, dst = os.path.join(d, "in.parquet"), os.path.join(d, "out.parquet")
            regions_file = os.path.join(d, "regions.txt")
            with open(regions_file, "w", encoding="utf-8") as f:
                f.write("\n".join(regions))
            pq.write_table(pa.Table.from_batches(batches), src)
            cmd = [minqing, "-q", "worker", "tag", "--input", src, "--output", dst,
                   "--regions", regions_file]
            if pipeline:
                cmd += ["--pipeline", pipeline]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            # minqing (polars) writes text as Arrow's string_view, which Spark's Arrow does not
            # read: plain strings. The whole table is read before the folder goes.
            table = pq.read_table(dst)
            return table.cast(pa.schema([(n, pa.string()) for n in table.column_names])).to_batches()

    def run(batches):
        chunk, rows = [], 0
        for b in batches:
            chunk.append(b)
            rows += b.num_rows
            if rows >= CHUNK_ROWS:
                yield from tag_chunk(chunk)
                chunk, rows = [], 0
        if rows:
            yield from tag_chunk(chunk)

    return run


def index_row_group(minqing, out, shards, group_ids, pipeline):
    """The index map's function: one row group of the store → its shard in `shards`."""

    def run(row_group):
        cmd = [minqing, "-q", "worker", "index", "--run", out, "--row-group", str(row_group),
               "--shards", shards,
               "--group-ids", os.path.join(group_ids, "%05d.csv" % row_group)]
        if pipeline:
            cmd += ["--pipeline", pipeline]
        t = time.monotonic()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return row_group, time.monotonic() - t

    return run


def lead_partition(minqing, objects):
    """The object partitions' function: partition p of the reduce's grouping → its result."""

    def run(p):
        name = os.path.join(objects, "%05d" % p)
        t = time.monotonic()
        subprocess.run([minqing, "-q", "worker", "leader", "--part", name + ".part",
                        "--result", name + ".lead"], check=True, stdout=subprocess.DEVNULL)
        return p, time.monotonic() - t

    return run


def reduce(spark, minqing, cmd, tasks):
    """Runs the reduce, and the Spark job its grouping asks for: `minqing run --object-tasks`
    prints `objects<TAB>DIR<TAB>COUNT` when the partitions' files are written and waits for
    `done` on its stdin. Returns the object tasks' Spark job: its wall seconds and each task's
    (None and none when the reduce grouped only the new petitions onto the last grouping,
    which has no leader pass)."""
    proc = subprocess.Popen(cmd + ["--object-tasks", str(tasks)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    seconds, wall = [], None
    try:
        for line in proc.stdout:
            fields = line.rstrip("\n").split("\t")
            if fields[0] != "objects":
                continue  # the run folder, printed last
            objects, n = fields[1], int(fields[2])
            t = time.monotonic()
            try:
                seconds = (
                    spark.sparkContext.parallelize(range(n), n)
                    .map(lead_partition(minqing, objects))
                    .collect()
                )
                answer = "done\n"
                wall = time.monotonic() - t
            except Exception:
                answer = "failed\n"
                raise
            finally:
                proc.stdin.write(answer)
                proc.stdin.flush()
    finally:
        proc.stdin.close()
        rc = proc.wait()
    if rc != 0:
        raise subprocess.CalledProcessError(rc, cmd)
    return wall, [round(s, 2) for _, s in sorted(seconds)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minqing", required=True, help="the minqing binary (same path on every worker)")
    ap.add_argument("--out", required=True, help="run folder, on a filesystem every executor sees")
    ap.add_argument("--pipeline", help="pipeline file (its sources, [tokenize] and [cluster])")
    ap.add_argument("--input", nargs="+", help="input files, instead of a pipeline file")
    ap.add_argument("--partitions", type=int, default=0,
                    help="tasks of the map (default: one per row group of the store, 100,000 "
                         "petitions each; more shuffles the text to spread it)")
    args = ap.parse_args()
    if bool(args.pipeline) == bool(args.input):
        ap.error("give a pipeline file or --input, not both")
    out = os.path.abspath(args.out)
    minqing = os.path.abspath(args.minqing)
    pipeline = os.path.abspath(args.pipeline) if args.pipeline else None
    if pipeline:
        args.pipeline = pipeline
    seconds = {}

    t = time.monotonic()
    subprocess.run([minqing, "-q", "ingest", *source_args(args), "--out", out], check=True,
                   stdout=subprocess.DEVNULL)
    seconds["import"] = time.monotonic() - t

    t = time.monotonic()
    spark = SparkSession.builder.appName("minqing").getOrCreate()
    if not spark.sparkContext.getConf().contains("spark.sql.shuffle.partitions"):
        # the only shuffle is the region names' distinct (a few thousand values): Spark's
        # default of 200 shuffle tasks cost more than the scan (13.8 s of a 53 s job at 200k)
        spark.conf.set("spark.sql.shuffle.partitions", str(spark.sparkContext.defaultParallelism))
    seconds["spark_start"] = time.monotonic() - t
    t = time.monotonic()
    store_file = os.path.join(out, "store", "petitions.parquet")
    # One partition per row group of the store (minqing writes 100,000 petitions to a row
    # group): Spark splits a file into byte ranges and a row group belongs to the range holding
    # its middle, so ranges of a row group's size read the store in place, without a shuffle.
    row_groups = max(1, pq.ParquetFile(store_file).metadata.num_row_groups)
    split = max(1 << 20, os.path.getsize(store_file) // row_groups)
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(split))
    store = spark.read.parquet("file://" + store_file)
    region_values = (
        store.select(F.explode(F.array("region1", "region2", "region3")).alias("r"))
        .where(F.col("r").isNotNull())
        .distinct()
        .collect()
    )
    regions = sorted(r["r"] for r in region_values)
    seconds["regions"] = time.monotonic() - t
    t = time.monotonic()
    texts = store.select("id", "title", "content")
    members = os.path.join(out, "groups", "members.csv")
    if os.path.exists(members):
        # A run folder grouped before (the weekly shape): the reduce groups the petitions the
        # last grouping lacks onto it, so only those are tagged. When a full regroup is due
        # ([cluster] regroup_after) the reduce tags the others itself.
        known = spark.read.csv("file://" + members, header=True,
                               schema="id string, group_id string, similarity string, "
                                      "is_repeat string").select("id")
        texts = texts.join(known, "id", "left_anti")
    parts = texts.rdd.getNumPartitions()
    if args.partitions > parts:
        # more tasks than row groups: a shuffle of the text, worth it only on many workers
        texts, parts = texts.repartition(args.partitions, "id"), args.partitions
    tagged = os.path.join(out, "tagged")
    (
        texts
        .mapInArrow(tag_partitions(minqing, regions, pipeline), TAGGING_SCHEMA)
        .write.mode("overwrite")
        .parquet("file://" + tagged)
    )
    seconds["map"] = time.monotonic() - t

    t = time.monotonic()
    # the sources again only for their settings: --from-store analyses the store the import
    # wrote, with that import's counts, instead of reading the inputs a second time; the index
    # is built next, by the executors
    run = [minqing, "-q", "run", *source_args(args), "--out", out, "--tagged", tagged,
           "--from-store", "--no-index"]
    # as many object partitions as the cluster runs tasks at once: the anchor-free petitions
    # are one run in one of them, the objects are dealt out around it
    objects_wall, object_tasks = reduce(spark, minqing, run,
                                        spark.sparkContext.defaultParallelism)
    seconds["reduce"] = time.monotonic() - t
    if objects_wall is not None:
        # within the reduce: the Spark job of its object partitions
        seconds["reduce_object_tasks"] = objects_wall

    t = time.monotonic()
    # each index task reads its row group's group ids, not all of members.csv (3.5 GB at 100M)
    group_ids = os.path.join(out, "group_ids")
    shutil.rmtree(group_ids, ignore_errors=True)
    subprocess.run([minqing, "-q", "worker", "group-ids", "--run", out, "--into", group_ids],
                   check=True, stdout=subprocess.DEVNULL)
    seconds["group_ids"] = time.monotonic() - t

    t = time.monotonic()
    shards = os.path.join(out, "shards")
    shutil.rmtree(shards, ignore_errors=True)
    os.makedirs(shards)
    indexed = (
        spark.sparkContext.parallelize(range(row_groups), row_groups)
        .map(index_row_group(minqing, out, shards, group_ids, pipeline))
        .collect()
    )
    spark.stop()
    seconds["index_map"] = time.monotonic() - t
    t = time.monotonic()
    install = [minqing, "-q", "worker", "shards", "--run", out, "--shards", shards]
    if pipeline:
        install += ["--pipeline", pipeline]
    subprocess.run(install, check=True, stdout=subprocess.DEVNULL)
    seconds["index_install"] = time.monotonic() - t
    shutil.rmtree(group_ids, ignore_errors=True)
    with open(os.path.join(out, "run.json"), encoding="utf-8") as f:
        index_note = json.load(f)["stages"]["index"]

    report = {
        "partitions": parts,
        "shards": len(indexed),
        # shards the last run's index already held (row groups whose petitions and groups did
        # not change): `minqing worker index` linked them instead of indexing them again
        "shards_kept": index_note.get("kept_shards", 0),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "index_task_seconds": [round(s, 2) for _, s in sorted(indexed)],
        # the reduce's object partitions (leader and reassignment passes), one task each
        "object_task_seconds": object_tasks,
    }
    with open(os.path.join(out, "spark.json.tmp"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    os.replace(os.path.join(out, "spark.json.tmp"), os.path.join(out, "spark.json"))
    print(out)


if __name__ == "__main__":
    sys.exit(main())
