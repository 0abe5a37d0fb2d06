# a binary table whose TTYPE2 holds 70 unquoted characters: cfitsio 4.2 strcpy'd it into a 70-byte field and glibc aborted (SIGABRT; found by fuzz_fits); also inside a .gz file
# expect: HDU 1, header card 6 (TTYPE2): a value of 70 characters without quotes
python3 - <<'PY'
import gzip
def header(cards):
    return ("".join(c.ljust(80) for c in cards) + "END".ljust(80)).ljust(2880).encode()
primary = header(["SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    0",
                  "EXTEND  =                    T"])
table = header(["XTENSION= 'BINTABLE'", "BITPIX  =                    8", "NAXIS   =                    2",
                "NAXIS1  =                   16", "NAXIS2  =                    1",
                "TTYPE2  = " + "A" * 70, "PCOUNT  =                    0", "GCOUNT  =                    1",
                "TFIELDS =                    2", "TTYPE1  = 'flux    '", "TFORM1  = 'D       '",
                "TFORM2  = 'D       '"])
data = bytes(16).ljust(2880, b"\0")
open("t.fits", "wb").write(primary + table + data)
open("t.fits.gz", "wb").write(gzip.compress(primary + table + data))
PY
$STARC convert 't.fits[1]#flux' -o a.npy
$STARC convert 't.fits.gz[1]#flux' -o b.npy
