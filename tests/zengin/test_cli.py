"""`madoguchi zengin write|read` as an operator runs them: a real process, real exit codes."""

import os
import subprocess
import sys

from madoguchi.zengin import read_transfers

ARGS = ["--payer-code", "12345", "--payer-name", "ミナトシ カイケイカンリシャ", "--date", "0415", "--bank", "1",
        "--branch", "1", "--account-type", "1", "--account", "1234567"]


def zengin(*args, cwd=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    return subprocess.run([sys.executable, "-m", "madoguchi", "zengin", *args], env=environment,
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_write_then_read(tmp_path):
    payees = tmp_path / "payees.csv"
    payees.write_text("bank,branch,type,account,name,amount\n"
                      "5,1,1,567,やまだ たろう,100000\n"
                      "9900,018,1,1234567,ｷｭｳﾖ ｲﾁﾛｳ,50000\n"
                      "0001,004,2,7654321,ヤマダ　ハナコ,1\n", encoding="utf-8")
    out = tmp_path / "furikomi.txt"
    result = zengin("write", str(payees), "--out", str(out), *ARGS)
    assert result.returncode == 0, result.stderr
    assert "3 transfers, total 150,001 yen" in result.stdout
    parsed = read_transfers(out.read_bytes())
    assert parsed.header.payer_code == "0000012345" and parsed.header.payer_name == "ﾐﾅﾄｼ ｶｲｹｲｶﾝﾘｼﾔ"
    assert parsed.header.bank_name == "ﾐｽﾞﾎ" and parsed.header.branch_name == "ﾄｳｷﾖｳ"
    first, second, third = parsed.transfers
    assert (first.bank_code, first.branch_code, first.account_number, first.name) == ("0005", "001", "0000567",
                                                                                      "ﾔﾏﾀﾞ ﾀﾛｳ")
    assert first.bank_name == "ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ"
    assert second.name == "ｷﾕｳﾖ ｲﾁﾛｳ" and second.bank_name == "ﾕｳﾁﾖ"
    assert third.account_type == 2 and third.name == "ﾔﾏﾀﾞ ﾊﾅｺ"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left

    shown = zengin("read", str(out))
    assert shown.returncode == 0, shown.stderr
    assert "ﾔﾏﾀﾞ ﾀﾛｳ" in shown.stdout and "3 transfers, total 150,001 yen" in shown.stdout
    assert "newline CR LF" in shown.stdout

    cp932 = tmp_path / "payees-cp932.csv"
    cp932.write_bytes(payees.read_text(encoding="utf-8").encode("cp932"))
    bare = tmp_path / "bare.txt"
    result = zengin("write", str(cp932), "--out", str(bare), "--encoding", "cp932", "--newline", "none", *ARGS)
    assert result.returncode == 0, result.stderr
    assert bare.read_bytes() == out.read_bytes().replace(b"\r\n", b"")


def test_rows_that_cannot_be_carried_are_all_reported_and_nothing_is_written(tmp_path):
    payees = tmp_path / "payees.csv"
    payees.write_text("name,amount,bank,branch,type,account\n"
                      "ヤマダ タロウ,1000,0005,001,1,1234567\n"
                      "山田 花子,1000,0005,001,1,1234567\n"
                      "ジョン・スミス,1000,0002,001,1,1234567\n"
                      "ヤマダ ジロウ,1000,0001,999,3,12345678\n"
                      "ヤマダ サブロウ,0,0001,001,1,1234567\n", encoding="utf-8")
    out = tmp_path / "furikomi.txt"
    result = zengin("write", str(payees), "--out", str(out), *ARGS)
    assert result.returncode == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [payees]
    err = result.stderr
    assert "line 3: name: '山田 花子' cannot be carried" in err and "'山' at character 1" in err
    assert "'花' at character 4" in err
    assert "line 4: bank: unknown bank code 0002" in err and "line 4: name:" in err and "'・' at character 4" in err
    assert "line 5: branch: bank 0001 (みずほ) has no branch 999" in err
    assert "line 5: type:" in err and "line 5: account:" in err
    assert "line 6: amount:" in err
    assert "line 2" not in err
    assert "nothing written" in err


def test_usage_errors_are_one_line_and_exit_2(tmp_path):
    payees = tmp_path / "payees.csv"
    payees.write_text("bank,branch,type,account,name,amount\n5,1,1,567,ヤマダ,1\n", encoding="utf-8")
    out = str(tmp_path / "out.txt")
    cases = [
        ["write", str(payees), "--out", out, *ARGS[:4], "--date", "1332", *ARGS[6:]],
        ["write", str(payees), "--out", out, *[("山田" if a == ARGS[3] else a) for a in ARGS]],
        ["write", str(payees), "--out", out, *[("0002" if a == "1" and i == 7 else a) for i, a in enumerate(ARGS)]],
        ["write", str(tmp_path / "missing.csv"), "--out", out, *ARGS],
        ["write", str(payees), *ARGS],
        ["read"],
        ["read", str(tmp_path / "missing.txt")],
        ["frobnicate"],
    ]
    for args in cases:
        result = zengin(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
        assert result.stderr.startswith("madoguchi zengin:")
    wrong_columns = tmp_path / "wrong.csv"
    wrong_columns.write_text("bank,branch,account,name\n5,1,567,ヤマダ\n", encoding="utf-8")
    result = zengin("write", str(wrong_columns), "--out", out, *ARGS)
    assert result.returncode == 2 and "type, amount" in result.stderr
    assert not os.path.exists(out)


def test_read_refuses_a_malformed_file(tmp_path):
    payees = tmp_path / "payees.csv"
    payees.write_text("bank,branch,type,account,name,amount\n5,1,1,567,ヤマダ,1000\n", encoding="utf-8")
    out = tmp_path / "furikomi.txt"
    assert zengin("write", str(payees), "--out", str(out), *ARGS).returncode == 0
    data = out.read_bytes().split(b"\r\n")
    data[2] = b"8000001000000001001" + b" " * 101  # 合計金額 1,001 instead of 1,000
    out.write_bytes(b"\r\n".join(data))
    result = zengin("read", str(out))
    assert result.returncode == 1
    assert "record 3: trailer 合計金額 1,001 but the data records add up to 1,000" in result.stderr


def test_help_lists_zengin():
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    result = subprocess.run([sys.executable, "-m", "madoguchi", "--help"], env={**environment,
                            "MADOGUCHI_ENV": "dev"}, capture_output=True, text=True, timeout=60)
    assert "zengin" in result.stdout


def test_the_stand_in_bank_answers_a_transfer_file(tmp_path):
    from madoguchi.zengin import read_results

    payees = tmp_path / "payees.csv"
    payees.write_text("bank,branch,type,account,name,amount\n5,1,1,567,やまだ たろう,100000\n"
                      "1,4,1,7654321,やまだ はなこ,200\n", encoding="utf-8")
    out, answer = tmp_path / "furikomi.txt", tmp_path / "kekka.txt"
    assert zengin("write", str(payees), "--out", str(out), *ARGS).returncode == 0
    done = zengin("bank-results", str(out), "--out", str(answer), "--fail", "2")
    assert done.returncode == 0, done.stderr
    assert "stand-in bank: 1 paid, 1 failed (code 1)" in done.stdout
    result = read_results(answer.read_bytes())
    assert [r.transfer.amount for r in result.paid] == [100000]
    assert [(r.transfer.amount, r.code, r.reason) for r in result.failed] == [(200, "1", "取引なし(口座なし)")]
    for bad in (["--fail", "3"], ["--fail", "x"], ["--fail", "0"], ["--code", "0"]):
        refused = zengin("bank-results", str(out), "--out", str(tmp_path / "x.txt"), *bad)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, (bad, refused.stderr)
    assert not (tmp_path / "x.txt").exists()
    broken = tmp_path / "broken.txt"
    broken.write_bytes(out.read_bytes()[:-10])
    assert zengin("bank-results", str(broken), "--out", str(answer)).returncode == 1
