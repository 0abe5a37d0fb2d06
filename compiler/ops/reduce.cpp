// STUB: to be filled in.
#include "compiler/ops/common.h"

namespace starc {
void register_reduce_ops(OpRegistry&) {}
}  // namespace starc
