// Lowerings: matmul, convolutions, pooling and the pooling gradient ops.
#include <fmt/format.h>

#include "compiler/lower/emit.h"

namespace starc {

void register_linalg_conv_lowerings(LoweringTable& t) {}

}  // namespace starc
