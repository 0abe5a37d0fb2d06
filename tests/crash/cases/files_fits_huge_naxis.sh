# a FITS header of NAXIS1 x NAXIS2 = 4e9 x 4e9 ended in a bare std::bad_alloc
# expect: huge.fits (HDU 0): NAXISn = 4000000000 x 4000000000
python3 - <<'PY'
cards = [("SIMPLE", "T"), ("BITPIX", "-32"), ("NAXIS", "2"), ("NAXIS1", "4000000000"), ("NAXIS2", "4000000000")]
h = "".join(("%-8s= %20s" % kv).ljust(80) for kv in cards) + "END".ljust(80)
h = h.ljust(2880)
open("huge.fits", "wb").write(h.encode() + bytes(2880))
PY
$STARC convert huge.fits -o out.npy
