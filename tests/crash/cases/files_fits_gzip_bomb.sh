# a 4 MB .fits.gz that inflates to 1 GB: cfitsio inflates it whole, before any header check
# expect: bomb.fits.gz: inflates to more than
python3 - <<'PY'
import gzip
cards = [("SIMPLE", "T"), ("BITPIX", "-32"), ("NAXIS", "1"), ("NAXIS1", "10")]
h = "".join(("%-8s= %20s" % kv).ljust(80) for kv in cards) + "END".ljust(80)
with gzip.open("bomb.fits.gz", "wb", compresslevel=1) as f:
    f.write(h.ljust(2880).encode())
    for _ in range(16):
        f.write(bytes(64 << 20))
PY
# A memory limit of 1.5 GB makes starc's limit for what it reads 0.7 GB.
( ulimit -v 1500000; $STARC convert bomb.fits.gz -o out.npy )
