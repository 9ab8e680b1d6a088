"""The ``prsm`` command: exit codes 0/2/1, a one-line reason on stderr, the report as the last
line with --json."""

from __future__ import annotations

import json

from prsm.cli import main


def test_distill_with_json_prints_the_report_as_the_last_line(tmp_path, digits_onnx_teacher, digits_csv, capsys):
    code = main(["distill", "--teacher", str(digits_onnx_teacher), "--data", str(digits_csv), "--out", str(tmp_path / "run"),
                 "--epochs", "2", "--max-train", "200", "--export", "onnx", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out.strip().splitlines()[-1])
    assert report == json.loads((tmp_path / "run" / "report.json").read_text())
    assert list(report["exports"]) == ["onnx"] and report["exports"]["onnx"]["verified"]
    assert report["teacher"]["kind"] == "onnx" and report["latency_runtime"] == "onnxruntime"
    # both counted from their ONNX graphs, the same way
    assert report["teacher"]["flops_per_example"] > report["student"]["flops_per_example"] > 0
    assert report["teacher"]["peak_memory_bytes"] > report["student"]["peak_memory_bytes"] > 0


def test_bad_data_exits_2_with_one_line_naming_the_problem(tmp_path, digits_teacher, capsys):
    data = tmp_path / "rows.csv"
    data.write_text("a,b\n1,2\n")
    code = main(["distill", "--teacher", str(digits_teacher), "--data", str(data), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "no 'label' column" in err


def test_data_that_does_not_fit_the_teacher_exits_2(tmp_path, digits_teacher, capsys):
    data = tmp_path / "rows.csv"
    data.write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n9,1,x\n2,3,y\n")
    assert main(["distill", "--teacher", str(digits_teacher), "--data", str(data), "--out", str(tmp_path / "run")]) == 2
    assert "features" in capsys.readouterr().err


def test_a_pickled_teacher_is_refused_with_exit_2(tmp_path, digits_csv, capsys):
    teacher = tmp_path / "model.pt"
    teacher.write_bytes(b"\x80\x04not really")
    assert main(["distill", "--teacher", str(teacher), "--data", str(digits_csv), "--out", str(tmp_path / "run")]) == 2
    assert "pickled" in capsys.readouterr().err


def test_an_impossible_latency_constraint_is_refused_before_training(tmp_path, digits_teacher, digits_csv, capsys):
    code = main(["distill", "--teacher", str(digits_teacher), "--data", str(digits_csv), "--out", str(tmp_path / "run"),
                 "--max-latency-ms", "0.000001"])
    assert code == 2
    assert "max_inference_latency" in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoints" / "student.pt").exists()


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "distill" in capsys.readouterr().out


def test_unlabelled_data_that_does_not_fit_exits_2_naming_it(tmp_path, digits_teacher, digits_csv, capsys):
    rows = tmp_path / "pool.csv"
    rows.write_text("p0,p1\n1,2\n")
    code = main(["distill", "--teacher", str(digits_teacher), "--data", str(digits_csv), "--out", str(tmp_path / "run"),
                 "--unlabelled-data", str(rows), "--max-unlabelled", "10"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "pool.csv: no 'p2' column" in err


def test_a_student_base_with_hidden_state_transfer_exits_2_naming_both(tmp_path, digits_csv, capsys):
    code = main(["distill", "--teacher", "t", "--data", str(digits_csv), "--out", str(tmp_path / "run"),
                 "--student-base", "builtin:all-minilm-l6-v2", "--transfer", "logits,hidden"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "student_base" in err and "transfer=hidden" in err


def test_a_vocabulary_cap_on_a_tabular_run_exits_2_naming_it(tmp_path, digits_teacher, digits_csv, capsys):
    code = main(["distill", "--teacher", str(digits_teacher), "--data", str(digits_csv), "--out", str(tmp_path / "run"),
                 "--vocabulary-size", "5000"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "vocabulary_size is for text students" in err


def test_the_search_flags_reach_the_engine_and_the_summary_says_what_it_chose(tmp_path, digits_teacher, digits_csv, capsys):
    code = main(["distill", "--teacher", str(digits_teacher), "--data", str(digits_csv), "--out", str(tmp_path / "run"),
                 "--epochs", "9", "--max-train", "200", "--export", "safetensors", "--search", "quick",
                 "--temperature", "2"])
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert code == 0 and report["config"]["search"] == "quick" and report["training"]["temperature"] == 2.0
    chosen = report["search"]["trials"][report["search"]["chosen"]]
    assert f"chose trial {chosen['number'] + 1}, {chosen['design']}, T=2" in " ".join(out.split())
    assert main(["distill", "--teacher", str(digits_teacher), "--data", str(digits_csv), "--out", str(tmp_path / "off"),
                 "--epochs", "2", "--max-train", "200", "--export", "safetensors", "--search", "off"]) == 0
    assert "search" not in json.loads((tmp_path / "off" / "report.json").read_text())


def test_distill_with_two_teachers_and_a_strategy_fuses_them_and_says_so(tmp_path, digits_teacher, digits_onnx_teacher,
                                                                         digits_csv, capsys):
    code = main(["distill", "--teacher", str(digits_teacher), "--teacher", str(digits_onnx_teacher), "--weights",
                 "0.7,0.3", "--fusion", "confidence", "--strategy", "curriculum", "--data", str(digits_csv),
                 "--out", str(tmp_path / "run"), "--epochs", "3", "--max-train", "200", "--search", "off",
                 "--export", "safetensors", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["teacher"]["ensemble"]["fusion"] == "confidence"
    assert [m["weight"] for m in report["teacher"]["ensemble"]["members"]] == [0.7, 0.3]
    assert report["training"]["strategies"] == ["curriculum"]
    assert "(weight 0.7)" in captured.err  # the summary lists each teacher


def test_ensemble_flags_without_a_second_teacher_exit_2(tmp_path, digits_teacher, digits_csv, capsys):
    code = main(["distill", "--teacher", str(digits_teacher), "--fusion", "confidence", "--data", str(digits_csv),
                 "--out", str(tmp_path / "run")])
    assert code == 2
    assert "--fusion is for an ensemble" in capsys.readouterr().err


def test_an_update_with_a_replay_and_a_specialty_check_from_the_command_line(tmp_path, digits_teacher, digits_csv, capsys):
    base = tmp_path / "base"
    assert main(["distill", "--teacher", str(digits_teacher), "--data", str(digits_csv), "--out", str(base),
                 "--search", "off", "--export", "safetensors", "--max-train", "300"]) == 0
    code = main(["distill", "--base-model", str(base), "--preserve", "--new-domain", "again", "--data", str(digits_csv),
                 "--out", str(tmp_path / "update"), "--search", "off", "--export", "safetensors", "--max-train", "300",
                 "--specialty", "per_class_accuracy=0.2#3", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["config"]["student_from"] == str(base / "model")
    assert report["config"]["replay_data"] == str(digits_csv)
    assert set(report["update"]["by_domain"]) == {"existing", "again"}
    assert report["checks"]["specialty_per_class_accuracy"]["passed"]
    assert main(["distill", "--source-model", str(base), "--teacher", str(digits_teacher), "--data", str(digits_csv),
                 "--out", str(tmp_path / "x")]) == 2
    assert "leave --teacher out" in capsys.readouterr().err
    assert main(["distill", "--teacher", str(digits_teacher), "--specialty", "recall=0.5", "--data", str(digits_csv),
                 "--out", str(tmp_path / "y")]) == 2
    assert "unknown specialty check 'recall'" in capsys.readouterr().err
