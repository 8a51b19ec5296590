"""Copy the field corpus out of local git mirrors of public repositories (a maintainer's tool).

    python3 -m tests.field_corpus.collect [--mirrors /work/.mirror]

Each source below is a public repository whose licence permits redistribution. A *model* is what
an administrator would upload at once:

- "folder" sources (SpiffArena): every folder holding a .bpmn file is one process model; its
  .bpmn, .dmn and .json files (forms, process_model.json, BPMN unit tests) are uploaded together;
- "file" sources (Camunda, Flowable, Activiti, bpmn-io): one BPMN file, plus the .dmn files of its
  folder when it has a business rule task, the other BPMN files of its folder when it has a call
  activity, and the Camunda .form files of its folder when it references a form.

Files already in the shared conformance corpus, empty files and huge files are skipped, and a
source with more candidates than its cap is sampled evenly (deterministically, in path order).
The copies go to tests/field_corpus/<source>/<model>/ and MANIFEST.json records, for every file,
its repository, commit, path, licence and sha256. Outcomes already recorded in the manifest for a
model are kept; `tally --update` records them for new ones.
"""

import argparse
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "MANIFEST.json"
SHARED_MANIFEST = HERE.parents[2].parent / "shared" / "conformance" / "MANIFEST.json"

MAX_FILE_BYTES = 120 * 1024
MAX_MODEL_BYTES = 250 * 1024
MAX_MODEL_FILES = 12
BPMN = re.compile(r"\.(bpmn|bpmn20\.xml|bpmn2)$", re.I)

SOURCES = {
    "spiff-arena": {
        "repo": "sartography/spiff-arena", "license": "LGPL-2.1 (LICENSE)", "mode": "folder", "cap": 95,
        "include": r"^spiffworkflow-backend/(tests/data|tests/process_models_example_dir|bin/load_tests)/",
        "tool": "SpiffArena (bpmn-js-spiffworkflow)",
    },
    "sample-process-models": {
        "repo": "sartography/sample-process-models", "license": "LGPL-2.1 (LICENSE)", "mode": "folder", "cap": 45,
        "include": r"^misc/", "tool": "SpiffArena (bpmn-js-spiffworkflow)",
    },
    "spiffworkflow": {
        "repo": "sartography/SpiffWorkflow", "license": "LGPL-3.0-only (COPYING)", "mode": "file", "cap": 30,
        "include": r"^tests/SpiffWorkflow/(bpmn|camunda|spiff|dmn)/data/", "tool": "Camunda Modeler / SpiffArena",
    },
    "bpmn-js-spiffworkflow": {
        "repo": "sartography/bpmn-js-spiffworkflow", "license": "MIT (LICENSE)", "mode": "file", "cap": 20,
        "include": r"^(test/spec/bpmn|resources)/", "tool": "SpiffArena modeler (bpmn-js-spiffworkflow)",
    },
    "camunda-bpm-examples": {
        "repo": "camunda/camunda-bpm-examples", "license": "Apache-2.0 (LICENSE)", "mode": "file", "cap": 60,
        "include": r".", "tool": "Camunda Modeler (Camunda 7)",
    },
    "camunda-7-code-examples": {
        "repo": "camunda-consulting/camunda-7-code-examples", "license": "Apache-2.0 (LICENSE)", "mode": "file",
        "cap": 35, "include": r".", "tool": "Camunda Modeler (Camunda 7)",
    },
    "camunda-modeler": {
        "repo": "camunda/camunda-modeler", "license": "MIT (LICENSE)", "mode": "file", "cap": 20,
        "include": r"^(resources/diagram|test/e2e/fixtures|docs/\.project|app/test/fixtures|client/src/app/tabs/bpmn)/",
        "tool": "Camunda Modeler",
    },
    "bpmn-js-examples": {
        "repo": "bpmn-io/bpmn-js-examples", "license": "MIT (README.md: MIT unless noted otherwise)", "mode": "file",
        "cap": 20, "include": r".", "tool": "bpmn-js",
    },
    "flowable-examples": {
        "repo": "flowable/flowable-examples", "license": "Apache-2.0 (LICENSE)", "mode": "file", "cap": 25,
        "include": r".", "tool": "Flowable Modeler / Designer",
    },
    "activiti": {
        "repo": "Activiti/Activiti", "license": "Apache-2.0 (LICENSE.txt)", "mode": "file", "cap": 30,
        "include": r"^(activiti-examples|activiti-core/activiti-spring-conformance-tests|activiti-core/activiti-engine/src/test/resources/org/activiti/examples)/",
        "tool": "Activiti Modeler / Designer",
    },
}


def git(mirror, *args) -> bytes:
    return subprocess.run(["git", "-C", str(mirror), *args], check=True, capture_output=True).stdout


def sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def shared_hashes() -> set:
    """sha256 of every file of the shared conformance corpus (not copied twice)."""
    if not SHARED_MANIFEST.exists():
        return set()
    root = SHARED_MANIFEST.parent
    return {sha256((root / e["file"]).read_bytes()) for e in json.loads(SHARED_MANIFEST.read_text())["entries"]
            if (root / e["file"]).exists()}


def tree(mirror) -> dict:
    """path -> size of every blob of HEAD."""
    sizes = {}
    for line in git(mirror, "ls-tree", "-r", "-l", "HEAD").decode().splitlines():
        meta, path = line.split("\t", 1)
        parts = meta.split()
        if parts[1] == "blob" and parts[3].isdigit():  # a blob the snapshot lacks says "BAD"
            sizes[path] = int(parts[3])
    return sizes


def candidates(name, spec, sizes, read):
    """Lists of paths, one per model, in path order. BPMN files of one folder that define the same
    process id are versions of one process (a test fixture loads one at a time), never one model."""
    include = re.compile(spec["include"])
    paths = sorted(p for p in sizes if include.search(p) and "node_modules" not in p)
    folders = {}
    for p in paths:
        folders.setdefault(str(PurePosixPath(p).parent), []).append(p)
    models = []
    if spec["mode"] == "folder":
        for members in folders.values():
            bpmn = [m for m in members if BPMN.search(m)]
            if not bpmn:
                continue
            others = [m for m in members if re.search(r"\.(dmn|json)$", m, re.I)
                      and PurePosixPath(m).name != "process_group.json"]
            if _clash(bpmn, read):  # the folder's own name plus the file's tells these models apart
                models += [[b, *others] for b in bpmn]
            else:
                models.append(bpmn + others)
        return models
    for p in paths:
        if not BPMN.search(p):
            continue
        text = read(p)
        group = [p]
        siblings = folders[str(PurePosixPath(p).parent)]
        if re.search(rb"businessRuleTask", text):
            group += [s for s in siblings if s.lower().endswith(".dmn")]
        if re.search(rb"callActivity", text):
            for s in siblings:
                if BPMN.search(s) and s != p and not _clash([*filter(BPMN.search, group), s], read):
                    group.append(s)
        if re.search(rb"formRef|formKey", text):
            group += [s for s in siblings if s.lower().endswith(".form")]
        models.append(group)
    return models


PROCESS_ID = re.compile(rb"<(?:[A-Za-z0-9]+:)?process\b[^>]*?\bid=\"([^\"]+)\"")


def _clash(bpmn_paths, read) -> bool:
    """Whether two of these BPMN files define the same process id."""
    ids = [i for p in bpmn_paths for i in set(PROCESS_ID.findall(read(p)))]
    return len(ids) != len(set(ids))


def _tool(blob) -> str:
    """The modelling tool named by the file's exporter/exporterVersion attributes, if any."""
    exporter = re.search(rb'\bexporter="([^"]*)"', blob)
    version = re.search(rb'\bexporterVersion="([^"]*)"', blob)
    if not exporter:
        return ""
    return " ".join(m.group(1).decode("utf-8", "replace") for m in (exporter, version) if m)


def evenly(items, cap):
    if len(items) <= cap:
        return items
    step = len(items) / cap
    return [items[int(i * step)] for i in range(cap)]


def model_id(name, spec, group) -> str:
    main = PurePosixPath(group[0])  # a model's first file is its (first) BPMN file
    alone = spec["mode"] == "file" or sum(bool(BPMN.search(p)) for p in group) < _bpmn_in_folder(group)
    stem = str(main.parent / re.sub(BPMN, "", main.name)) if alone else str(main.parent)
    for prefix in ("spiffworkflow-backend/tests/data/", "spiffworkflow-backend/", "misc/", "tests/SpiffWorkflow/",
                   "activiti-core/activiti-engine/src/test/resources/org/activiti/", "activiti-core/"):
        stem = stem.removeprefix(prefix)
    stem = re.sub(r"/src/(main|test)/resources", "", stem)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("_")[:80]


_FOLDER_BPMN = {}


def _bpmn_in_folder(group) -> int:
    return _FOLDER_BPMN.get(str(PurePosixPath(group[0]).parent), 0)


def collect(mirrors: Path):
    previous = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"models": []}
    old = {e["id"]: e for e in previous["models"]}
    seen = shared_hashes()
    manifest = {"schema": "see tests/field_corpus/README.md", "sources": {}, "known_defects": {}, "models": []}
    for name, spec in SOURCES.items():
        mirror = mirrors / spec["repo"].replace("/", "+") / "repo"
        commit = git(mirror, "rev-parse", "HEAD").decode().strip()
        manifest["sources"][name] = {"repository": spec["repo"], "commit": commit, "license": spec["license"],
                                     "tool": spec["tool"]}
        sizes = tree(mirror)
        cache = {}

        def read(path, mirror=mirror, cache=cache):
            if path not in cache:
                cache[path] = git(mirror, "show", f"HEAD:{path}")
            return cache[path]

        for path in sizes:
            if BPMN.search(path):
                folder = str(PurePosixPath(path).parent)
                _FOLDER_BPMN[folder] = _FOLDER_BPMN.get(folder, 0) + 1
        picked = []
        for group in candidates(name, spec, sizes, read):
            if (len(group) > MAX_MODEL_FILES or any(sizes[p] == 0 or sizes[p] > MAX_FILE_BYTES for p in group)
                    or sum(sizes[p] for p in group) > MAX_MODEL_BYTES):
                continue
            names = [PurePosixPath(p).name for p in group]
            if len(set(names)) != len(names):
                continue
            digest = sha256(b"".join(sha256(read(p)).encode() for p in group))
            main = sha256(read(group[0]))
            if digest in seen or main in seen:
                continue
            seen.update({digest, main})
            picked.append(group)
        shutil.rmtree(HERE / name, ignore_errors=True)
        (HERE / name).mkdir()
        licence_files = []
        for path in sorted(sizes):  # the licence (and NOTICE) travel with the files, as the licences ask
            if "/" not in path and re.match(r"(LICEN[CS]E|COPYING|NOTICE)(\.txt|\.md)?$", path, re.I):
                (HERE / name / path).write_bytes(read(path))
                licence_files.append(f"{name}/{path}")
        manifest["sources"][name]["licence_files"] = licence_files
        ids = set()
        for group in evenly(picked, spec["cap"]):
            ident = model_id(name, spec, group)
            while ident in ids:
                ident += "_"
            ids.add(ident)
            folder = HERE / name / ident
            folder.mkdir(parents=True)
            files = []
            for p in group:
                blob = read(p)
                (folder / PurePosixPath(p).name).write_bytes(blob)
                files.append({"file": f"{name}/{ident}/{PurePosixPath(p).name}", "repository": spec["repo"],
                              "commit": commit, "path": p, "license": spec["license"], "sha256": sha256(blob)})
            key = f"{name}/{ident}"
            entry = {"id": key, "source": name, "tool": _tool(read(group[0])) or f"not stated in the file ({spec['tool']})", "files": files}
            for kept in ("outcome", "detail", "known_defect"):
                if kept in old.get(key, {}):
                    entry[kept] = old[key][kept]
            manifest["models"].append(entry)
        print(f"{name}: {len(picked)} candidates, {len([m for m in manifest['models'] if m['source'] == name])} kept")
    kept = {m["id"] for m in manifest["models"]}
    manifest["known_defects"] = {k: v for k, v in previous.get("known_defects", {}).items() if k in kept}
    MANIFEST.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"),
                        help="folder of git mirrors named owner+name/repo")
    collect(parser.parse_args().mirrors)


if __name__ == "__main__":
    main()
