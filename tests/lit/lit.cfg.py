# The golden tests of tests/lit (LLVM's lit + FileCheck, both from Debian's llvm-22-tools):
# each file holds its own RUN lines and CHECK lines. Run them with
#   /usr/lib/llvm-22/bin/lit -v tests/lit --param starc=build/starc
# (ctest runs them as the test `Lit`). %starc is the binary under test.
import os
import lit.formats

config.name = "starc"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".graph", ".net"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = lit_config.params.get("exec_root", os.path.join(config.test_source_root, "Output"))

starc = lit_config.params.get("starc")
if not starc:
    lit_config.fatal("run with --param starc=PATH/TO/starc")
llvm_bin = lit_config.params.get("llvm_bin", "/usr/lib/llvm-22/bin")
config.substitutions.append(("%starc", os.path.abspath(starc)))
config.substitutions.append(("FileCheck", os.path.join(llvm_bin, "FileCheck")))
config.substitutions.append(("%not", os.path.join(llvm_bin, "not")))
# Messages and numbers must not depend on the user's environment.
config.environment["STARC_CACHE_DIR"] = "off"
config.environment["LC_ALL"] = "C"
