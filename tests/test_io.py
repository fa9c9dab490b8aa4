import os
import re

import pandas as pd
import pytest

from lstmptq.io import ResultFileError, atomic_path, read_frame, read_json, write_frame, write_json

UMASK = os.umask(0)
os.umask(UMASK)


def test_atomic_path_leaves_nothing_when_writing_fails(tmp_path):
    target = tmp_path / "sub" / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert not target.exists()
    assert list((tmp_path / "sub").iterdir()) == []


def test_atomic_path_replaces_the_old_file_only_on_success(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("{broken")
        raise RuntimeError
    assert read_json(target) == {"a": 1}
    write_json(target, {"a": 2})
    assert read_json(target) == {"a": 2}


def test_results_get_ordinary_file_permissions(tmp_path):
    write_json(tmp_path / "cell.json", {"accuracy": 1.0})
    assert (tmp_path / "cell.json").stat().st_mode & 0o777 == 0o666 & ~UMASK


def test_the_final_file_gets_the_umask_mode_even_if_the_writer_recreates_it(tmp_path):
    """safetensors replaces the temporary file with a new one; it must not stay 0600."""
    with atomic_path(tmp_path / "out.bin") as tmp:
        tmp.unlink()
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600))
    assert (tmp_path / "out.bin").stat().st_mode & 0o777 == 0o666 & ~UMASK


def test_a_quantized_artifact_gets_the_umask_mode(tmp_path):
    import torch

    from lstmptq.quant import artifact

    weight = artifact.QuantizedWeight(torch.zeros(2, 3, dtype=torch.int32), torch.ones(1), 4)
    artifact.write(tmp_path / "quantized.safetensors", {}, {"w": weight}, {}, {})
    assert (tmp_path / "quantized.safetensors").stat().st_mode & 0o777 == 0o666 & ~UMASK


def refused(path, problem: str) -> str:
    """The error for a bad results file, as a regex: the file, `problem` (a regex), the rebuild command."""
    return f"^{re.escape(str(path))}: {problem}; {re.escape(f'rebuild it with: snakemake {path} --force')}$"


def test_a_truncated_noise_cell_is_refused_with_the_rebuild_command(tmp_path):
    from lstmptq.report.tables import table_from_metrics  # how the study table reads noise cells

    cell = tmp_path / "noise" / "eps0.1.json"
    write_json(cell, {"accuracy": 0.9, "eps": 0.1, "config": {"kind": "generative"}})
    text = cell.read_text()
    cell.write_text(text[: len(text) // 2])
    with pytest.raises(
        ResultFileError, match=refused(cell, r"truncated or not JSON \(.*: line \d+ column \d+ \(char \d+\)\)")
    ):
        table_from_metrics([str(cell)], {"accuracy": "accuracy"})


def test_missing_or_non_utf8_json_is_refused(tmp_path):
    with pytest.raises(ResultFileError, match=refused(tmp_path / "cell.json", "not found")):
        read_json(tmp_path / "cell.json")
    (tmp_path / "cell.json").write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(
        ResultFileError,
        match=refused(tmp_path / "cell.json", r"not UTF-8 text \(invalid continuation byte at byte 13\)"),
    ):
        read_json(tmp_path / "cell.json")


def test_tables_round_trip_with_reader_options(tmp_path):
    frame = pd.DataFrame({"strategy": ["", "random"], "ks": [0.1, 0.2]})
    write_frame(tmp_path / "t.parquet", frame)
    assert read_frame(tmp_path / "t.parquet", columns=["ks"]).columns.tolist() == ["ks"]
    write_frame(tmp_path / "t.csv", frame)
    assert read_frame(tmp_path / "t.csv", keep_default_na=False)["strategy"].tolist() == ["", "random"]


def test_truncated_parquet_is_refused(tmp_path):
    path = tmp_path / "tables" / "study.parquet"
    write_frame(path, pd.DataFrame({"accuracy": [0.5] * 100}))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ResultFileError, match=refused(path, r"truncated or not Parquet \(.*magic bytes not found in footer\)")
    ):
        read_frame(path)


def test_empty_or_broken_csv_is_refused(tmp_path):
    path = tmp_path / "ks.csv"
    path.write_text("")
    with pytest.raises(ResultFileError, match=refused(path, r"truncated or not CSV \(No columns to parse from file\)")):
        read_frame(path)
    path.write_text('a,b\n1,"2\n')
    with pytest.raises(ResultFileError, match=refused(path, r"truncated or not CSV \(Error tokenizing data\)")):
        read_frame(path)


@pytest.mark.parametrize("name", ["ks.csv", "study.parquet"])
def test_a_missing_table_is_refused(tmp_path, name):
    with pytest.raises(ResultFileError, match=refused(tmp_path / name, "not found")):
        read_frame(tmp_path / name)


def test_provenance_records_what_decides_float_results_without_importing_torch():
    import json
    import os
    import subprocess
    import sys

    code = """if True:
        import json, sys
        from lstmptq.io import provenance
        before = provenance()["numerics"]
        assert "torch" not in sys.modules, "provenance imported torch"
        import torch
        torch.set_num_threads(1)
        print(json.dumps({"before": before, "after": provenance()["numerics"],
                          "capability": torch.backends.cpu.get_cpu_capability(),
                          "version": torch.__version__, "mkl": torch.backends.mkl.is_available()}))
    """
    env = {**os.environ, "MKL_CBWR": "COMPATIBLE"}
    env.pop("ATEN_CPU_CAPABILITY", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    before, after = seen["before"], seen["after"]
    assert "torch" not in before and before["cpu"]
    assert (
        before["env"] == after["env"]
        and after["env"]["MKL_CBWR"] == "COMPATIBLE"
        and "ATEN_CPU_CAPABILITY" not in after["env"]
    )
    facts = after["torch"]
    assert facts["cpu_capability"] == seen["capability"] and facts["threads"] == 1
    assert facts["version"] == seen["version"] and facts["mkl"] == seen["mkl"]
    assert facts["deterministic_algorithms"] is False and isinstance(facts["git_version"], str)
    assert set(facts) >= {"cuda", "mkldnn", "mkldnn_enabled"}


# ---- results are checked against what their job wrote (issue: a hand-edited metrics.json) -----


def test_a_hand_edited_result_is_refused_with_the_rebuild_command(tmp_path):
    cell = tmp_path / "metrics.json"
    write_json(cell, {"accuracy": 0.18})
    cell.write_text(cell.read_text().replace("0.18", "0.999"))  # still valid JSON
    with pytest.raises(
        ResultFileError,
        match=refused(
            cell, r"content does not match the checksum its job recorded .*: the file was edited or replaced"
        ),
    ):
        read_json(cell)


def test_a_stale_copy_of_an_older_result_is_refused(tmp_path):
    old, cell = tmp_path / "old" / "metrics.json", tmp_path / "metrics.json"
    write_json(old, {"accuracy": 0.5})
    write_json(cell, {"accuracy": 0.7})
    cell.write_bytes(old.read_bytes())  # cp -p old/metrics.json . (its own checksum file not copied)
    with pytest.raises(ResultFileError, match="edited or replaced"):
        read_json(cell)
    assert read_json(old) == {"accuracy": 0.5}  # the old file is fine where it was written


def test_a_result_without_its_checksum_file_is_refused(tmp_path):
    cell = tmp_path / "ks.csv"
    pd.DataFrame({"a": [1]}).to_csv(cell, index=False)  # not written by a job
    with pytest.raises(ResultFileError, match=r"has no checksum beside it \(\.ks\.csv\.sha256\)"):
        read_frame(cell)


@pytest.mark.parametrize("name", ["table.csv", "table.parquet"])
def test_an_edited_table_is_refused(tmp_path, name):
    table = tmp_path / name
    write_frame(table, pd.DataFrame({"accuracy": [0.18, 0.2]}))
    assert read_frame(table)["accuracy"].tolist() == [0.18, 0.2]
    frame = read_frame(table)
    frame.loc[0, "accuracy"] = 0.999
    (frame.to_parquet if name.endswith("parquet") else frame.to_csv)(table, index=False)
    with pytest.raises(ResultFileError, match="edited or replaced"):
        read_frame(table)


def test_a_rewrite_by_the_job_updates_the_checksum(tmp_path):
    cell = tmp_path / "metrics.json"
    write_json(cell, {"accuracy": 0.1})
    write_json(cell, {"accuracy": 0.2})
    assert read_json(cell) == {"accuracy": 0.2}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".metrics.json.sha256", "metrics.json"]
