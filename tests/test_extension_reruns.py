"""What editing an extension's code reruns on a finished run: the jobs that use it (their params
hold its sha256: lstmptq.registry.code_fingerprints) and those after them, and nothing else.

The finished run is the tiny workflow with a calibration kind, a PTQ method and a noise model
registered from copies of tests/extensions/, its files empty, as recorded by `--touch`."""

import shutil

import pytest
from conftest import REPO, TINY_CONFIG, job_counts, rerun_reason, snakemake, touched_run

pytestmark = pytest.mark.workflow
EXTENSIONS = REPO / "tests" / "extensions"
PARAMS_CHANGED = "params have changed since last execution"


def overlay(ext, char_substitution=None) -> str:
    """The extensions, in their own files so that an edit of one touches no other's jobs."""
    own_char_substitution = f"char_substitution: {char_substitution}, " if char_substitution else ""
    return f"""
extensions:
  calibration_kinds: {{first: "{ext / "kind.py"}:first_documents"}}
  ptq_methods: {{halve: "{ext / "method.py"}:halve_head_bias"}}
  noise_models: {{{own_char_substitution}swap: {ext / "swap_noise.py"}}}
calibration: {{strategies: [balanced, first], definitions: {{first: {{kind: first}}}}}}
ptq: {{methods: [gpfq, halve]}}
noise: {{models: [char_substitution, swap], definitions: {{swap: {{kind: swap}}}}}}
"""


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("extension_reruns")
    ext = workdir / "ext"
    ext.mkdir()
    shutil.copy(EXTENSIONS / "first_documents.py", ext / "kind.py")
    shutil.copy(EXTENSIONS / "first_documents.py", ext / "method.py")
    shutil.copy(EXTENSIONS / "swap_noise.py", ext / "swap_noise.py")
    (workdir / "extensions.yaml").write_text(overlay(ext))
    return touched_run(workdir, (TINY_CONFIG, workdir / "extensions.yaml"))


def dry_run(workdir, config=None) -> str:
    result = snakemake(
        workdir, "-n", "--quiet", "rules", configfiles=(TINY_CONFIG, config or workdir / "extensions.yaml")
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.fixture
def edited(finished_run):
    """Append a comment to one extension file of the finished run; restore it afterwards."""
    restore = {}

    def edit(name):
        file = finished_run / "ext" / name
        restore[file] = file.read_text()
        file.write_text(restore[file] + "\n# edited\n")

    yield edit
    for file, text in restore.items():
        file.write_text(text)


def test_an_unchanged_run_has_nothing_to_do(finished_run):
    said = dry_run(finished_run)
    assert "Nothing to be done" in said, said[-3000:]


def test_an_edited_noise_model_reruns_its_noise_curves_only(finished_run, edited):
    edited("swap_noise.py")
    said = dry_run(finished_run)
    assert rerun_reason(said, PARAMS_CHANGED) == ["noisy_test_set"], said[-3000:]
    counts = job_counts(said)
    assert counts.pop("noisy_test_set") == 1  # swap's; char_substitution's stays
    assert set(counts) == {"evaluate_fp32", "evaluate_ptq", "study_table", "plots", "verdicts", "run_cost", "all"}, (
        counts
    )


def test_an_edited_ptq_method_reruns_its_cells_and_retrains_nothing(finished_run, edited):
    edited("method.py")
    said = dry_run(finished_run)
    assert rerun_reason(said, PARAMS_CHANGED) == ["ptq"], said[-3000:]
    counts = job_counts(said)
    assert counts["ptq"] == 2 * 2 * 2  # halve's cells (models x strategies x recipes), not gpfq's
    assert not {"train", "calibration_subset", "noisy_test_set", "tokenize"} & set(counts), counts


def test_an_edited_calibration_kind_reruns_its_subsets_and_their_cells(finished_run, edited):
    edited("kind.py")
    said = dry_run(finished_run)
    assert rerun_reason(said, PARAMS_CHANGED) == ["calibration_subset"], said[-3000:]
    counts = job_counts(said)
    assert counts["calibration_subset"] == 1  # `first`'s subset, then its cells: models x methods x recipes
    assert counts["ptq"] == 2 * 2 * 2
    assert "train" not in counts, counts


def test_a_built_in_name_pointed_at_other_code_reruns_what_used_it(finished_run, tmp_path):
    """Before, `extensions.noise_models.char_substitution: other.py` said "Nothing to be done"."""
    other = finished_run / "ext" / "char_noise.py"
    shutil.copy(REPO / "src" / "lstmptq" / "data" / "noise.py", other)
    config = tmp_path / "other.yaml"
    config.write_text(overlay(finished_run / "ext", char_substitution=other))
    said = dry_run(finished_run, config)
    assert rerun_reason(said, PARAMS_CHANGED) == ["noisy_test_set"], said[-3000:]
    assert job_counts(said)["noisy_test_set"] == 1 and "train" not in job_counts(said)
