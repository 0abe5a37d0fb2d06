# --threads 0 said "Value 0 not in range 0.000000 to 1.79...e308"
# expect: --threads: must be at least 1, got 0
$STARC run $SRC/stdlib/astro/photoz.net --threads 0
