# Sourced by examples/*/run.sh (after `cd` to the repository root).
# example_setup NAME "QUICK_TRAIN QUICK_TEST QUICK_EPOCHS" "FULL_TRAIN FULL_TEST FULL_EPOCHS"
# picks the sizes for $STARC_EXAMPLE_SCALE (quick, the default: a smoke run; full: the
# run of docs/results.md) and empties the output folder. It sets scale, threads
# ($STARC_THREADS, default 2), n_train, n_test, epochs, out
# (${TMPDIR:-/tmp}/starc-NAME-example) and start (for the wall time).
example_setup() {
    scale=${STARC_EXAMPLE_SCALE:-quick}
    threads=${STARC_THREADS:-2}
    case $scale in
        quick) read -r n_train n_test epochs <<<"$2" ;;
        full)  read -r n_train n_test epochs <<<"$3" ;;
        *) echo "error: STARC_EXAMPLE_SCALE must be quick or full, not '$scale'" >&2; exit 1 ;;
    esac
    out=${TMPDIR:-/tmp}/starc-$1-example
    rm -rf "$out" && mkdir -p "$out"
    start=$SECONDS
}
