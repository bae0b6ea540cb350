"""What a test of a failing command checks first: it told its cause in one line on stderr, with no traceback."""


def error_line(capsys) -> str:
    """The single line the command printed on stderr (asserting there is one and it is no traceback)."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]
