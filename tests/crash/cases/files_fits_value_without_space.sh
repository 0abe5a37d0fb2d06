# a binary table whose TTYPE1 card has its value right after the '=' (no space in column 10) and 71 bytes long: the header check skipped cards without "= ", cfitsio read the value anyway, strcpy'd it into a 70-byte field and glibc aborted (SIGABRT; found by fuzz_fits)
# expect: HDU 1, header card 9 (TTYPE1): a value of 71 characters without quotes
python3 - <<'PY'
def header(cards):
    return ("".join(c.ljust(80) for c in cards) + "END".ljust(80)).ljust(2880).encode()
primary = header(["SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    0",
                  "EXTEND  =                    T"])
table = header(["XTENSION= 'BINTABLE'", "BITPIX  =                    8", "NAXIS   =                    2",
                "NAXIS1  =                    8", "NAXIS2  =                    1", "PCOUNT  =                    0",
                "GCOUNT  =                    1", "TFIELDS =                    1", "TTYPE1  =" + "B" * 71,
                "TFORM1  = 'D       '"])
data = bytes(8).ljust(2880, b"\0")
open("t.fits", "wb").write(primary + table + data)
PY
$STARC convert 't.fits[1]#TTYPE1' -o a.npy
