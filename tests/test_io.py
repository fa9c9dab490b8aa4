import pytest

from lstmptq.io import atomic_path, read_json, write_json


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
    import os

    write_json(tmp_path / "cell.json", {"accuracy": 1.0})
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "cell.json").stat().st_mode & 0o777 == 0o666 & ~umask
