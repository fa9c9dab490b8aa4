"""The shipped profiles (profiles/*/config.yaml) against what Snakemake reads: every key one of its
command-line options, every resource one that a rule, Snakemake or the profile's executor
declares, every rule a rule of the workflow. Snakemake checks none of it well: a misspelt key
gives its whole usage text without the file's name, a mapping under a misspelt key
(`resource-scopes:`) is dropped without a word, and a misspelt resource (`runtim`, `gpus`) is
taken as a new one (docs/cluster.md)."""

import difflib
import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO, snakemake

pytestmark = pytest.mark.workflow

PROFILES = sorted((REPO / "profiles").glob("*/config.yaml"))
RESOURCE_KEYS = ("resources", "default-resources", "set-resource-scopes")  # {resource: value or scope}
PER_RULE_KEYS = ("set-resources", "set-threads")  # {rule: {resource: value}} and {rule: threads}
INTERNAL_RESOURCES = {"_cores", "_nodes"}  # what --cores and --nodes set; scoped in profiles


def snakemake_options() -> set[str]:
    """Every long option of the installed Snakemake, its installed executor plugins' included."""
    from snakemake.cli import get_argument_parser

    return {s[2:] for action in get_argument_parser()._actions for s in action.option_strings if s.startswith("--")}


def executor_package(executor: str) -> str:
    return f"snakemake_executor_plugin_{executor.replace('-', '_')}"


def executor_resources(executor: str | None) -> set[str]:
    """The resources an executor plugin reads, from its source (`job.resources.get("...")`)."""
    spec = importlib.util.find_spec(executor_package(executor)) if executor else None
    if spec is None:
        return set()
    source = "".join(path.read_text() for path in Path(spec.origin).parent.rglob("*.py"))
    return set(re.findall(r"resources\.get\(\s*[\"'](\w+)", source) + re.findall(r"resources,\s*[\"'](\w+)", source))


def workflow_rules() -> set[str]:
    files = [REPO / "Snakefile", *(REPO / "workflow" / "rules").glob("*.smk")]
    return {name for path in files for name in re.findall(r"^rule (\w+):", path.read_text(), re.M)}


@pytest.fixture(scope="module")
def job_resources(tmp_path_factory):
    """Every resource a job of the tiny workflow has (the rules' own and Snakemake's standard ones)."""
    result = snakemake(tmp_path_factory.mktemp("dry"), "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = re.findall(r"^\s+resources: (.*)$", result.stdout, re.M)
    return {item.split("=")[0] for line in lines for item in line.split(", ")}


def unknown(kind: str, name: str, known: set[str], where: str) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"{where}: {kind} {name!r} is unknown" + (f"; did you mean {close[0]!r}?" if close else "")


def profile_problems(path: Path, options: set[str], resources: set[str], rules: set[str]) -> list[str]:
    """What in the profile at `path` Snakemake would misread: keys, resource and rule names."""
    profile = yaml.safe_load(path.read_text()) or {}
    executor = profile.get("executor")
    # an executor plugin that is not installed: its own options cannot be checked here
    unchecked = f"{executor}-" if executor and importlib.util.find_spec(executor_package(executor)) is None else None
    known = resources | INTERNAL_RESOURCES | executor_resources(executor)
    problems = [
        unknown("key", key, options, str(path))
        for key in profile
        if key not in options and not (unchecked and key.startswith(unchecked))
    ]
    named = [(key, name) for key in RESOURCE_KEYS for name in profile.get(key) or {}]
    for key in PER_RULE_KEYS:
        for rule, value in (profile.get(key) or {}).items():
            if rule not in rules:
                problems.append(unknown("rule", rule, rules, f"{path}: {key}"))
            named += [(f"{key}: {rule}", name) for name in value] if isinstance(value, dict) else []
    named += [(key, name) for key, value in profile.items() for name in re.findall(r"{resources\.(\w+)}", str(value))]
    problems += [unknown("resource", name, known, f"{path}: {key}") for key, name in named if name not in known]
    return problems


@pytest.mark.parametrize("profile", PROFILES, ids=lambda path: path.parent.name)
def test_a_shipped_profile_says_only_what_snakemake_reads(profile, job_resources):
    assert profile_problems(profile, snakemake_options(), job_resources, workflow_rules()) == []


def test_the_profile_check_finds_misspelt_keys_resources_and_rules(tmp_path, job_resources):
    bad = tmp_path / "config.yaml"
    bad.write_text(
        "executor: cluster-generic\n"
        "printshellcmd: true\n"
        "resource-scopes: {_cores: local}\n"
        "resources: {gpus: 1}\n"
        "default-resources: {runtim: 30}\n"
        "set-resources: {trian: {mem_mb: 2000}, ptq: {mem_bm: 2000}}\n"
        "cluster-generic-submit-cmd: 'qsub -l walltime={resources.runtme}'\n"
    )
    problems = profile_problems(bad, snakemake_options(), job_resources, workflow_rules())
    assert problems == [
        f"{bad}: key 'printshellcmd' is unknown; did you mean 'printshellcmds'?",
        f"{bad}: key 'resource-scopes' is unknown; did you mean 'set-resource-scopes'?",
        f"{bad}: set-resources: rule 'trian' is unknown; did you mean 'train'?",
        f"{bad}: resources: resource 'gpus' is unknown; did you mean 'gpu'?",
        f"{bad}: default-resources: resource 'runtim' is unknown; did you mean 'runtime'?",
        f"{bad}: set-resources: ptq: resource 'mem_bm' is unknown; did you mean 'mem_mb'?",
        f"{bad}: cluster-generic-submit-cmd: resource 'runtme' is unknown; did you mean 'runtime'?",
    ]
