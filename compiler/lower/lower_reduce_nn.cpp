// Lowerings: Reductions, softmax, normalisation, dropout and random ops.
#include <fmt/format.h>

#include "compiler/lower/emit.h"

namespace starc {

void register_reduce_nn_lowerings(LoweringTable& t) {}

}  // namespace starc
