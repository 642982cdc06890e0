from __future__ import annotations


def test_apply_then_reapply_is_noop(cli, tmp_path):
    spec = tmp_path / "a.yaml"
    spec.write_text(
        "teams:\n  - {name: growth, contact: g@example.com}\n"
        "features:\n  - {name: f1, owner: growth, dtype: int}\n"
    )
    first = cli("apply", str(spec))
    assert first.exit_code == 0, first.output
    assert "2 to create" in first.output
    second = cli("apply", str(spec))
    assert "No changes" in second.output
