# convert --resample-loglam with N = 1e12 pixels ended in a bare std::bad_alloc
# expect: --resample-loglam 3.5,4.0,1e12: a grid of 1000000000000 pixels: needs
printf 'not read' > spec.fits
$STARC convert spec.fits --resample-loglam 3.5,4.0,1e12 -o out.npy
