# a 2-D FITS image with NAXIS2 = 0 read as a spectrum: its first row (6 pixels) was read from the 0-pixel buffer (out of bounds; wrong numbers, exit 0)
# expect: zero_rows.fits
python3 - <<'PY'
cards = [("SIMPLE", "T"), ("BITPIX", "-64"), ("NAXIS", "2"), ("NAXIS1", "6"), ("NAXIS2", "0"),
         ("CRVAL1", "4000.0"), ("CDELT1", "2.0"), ("CRPIX1", "1.0")]
h = "".join(("%-8s= %20s" % kv).ljust(80) for kv in cards) + "END".ljust(80)
open("zero_rows.fits", "wb").write(h.ljust(2880).encode())
PY
$STARC convert zero_rows.fits --resample-loglam 3.6021,3.6030,3 -o out.npy
